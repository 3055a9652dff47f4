// cmdline.c: the kernel command line, QEMU's -append string.
//
// The PVH loader passes it as a NUL-terminated string (hvm_start_info's
// cmdline_paddr).  Words are separated by blanks; a word is key=value
// (the value runs to the end of the word and may contain '=') or a bare
// flag, which is a key with the empty value.  When a key appears twice the
// last word wins, so a policy appended to a line overrides an earlier one.
// Unknown keys are ignored: the loader may add its own words.

#include "types.h"
#include "defs.h"

static struct cmdline boot;     // the line this kernel was booted with

static bool
blank(char c)
{
	return c == ' ' || c == '\t' || c == '\n';
}

// Split a copy of s into c.  Returns 0, or -1 if s does not fit: more than
// CMDLINE_MAX - 1 bytes or more than CMDLINE_ARGS words.
int
cmdline_parse(struct cmdline *c, const char *s)
{
	size_t n = strlen(s);

	if (n >= sizeof c->buf)
		return -1;
	memcpy(c->buf, s, n + 1);
	c->nargs = 0;
	for (char *p = c->buf;;) {
		while (blank(*p))
			*p++ = '\0';
		if (*p == '\0')
			return 0;
		if (c->nargs == CMDLINE_ARGS)
			return -1;
		char *key = p, *eq = NULL;
		for (; *p != '\0' && !blank(*p); p++)
			if (*p == '=' && eq == NULL)
				eq = p;
		if (eq != NULL)
			*eq = '\0';
		c->key[c->nargs] = key;
		c->val[c->nargs] = eq != NULL ? eq + 1 : "";
		c->nargs++;
	}
}

// The value of key in c: "" for a bare flag, NULL if key is absent.
const char *
cmdline_arg(const struct cmdline *c, const char *key)
{
	for (int i = c->nargs - 1; i >= 0; i--)
		if (strcmp(c->key[i], key) == 0)
			return c->val[i];
	return NULL;
}

void
cmdline_init(const char *s)
{
	if (cmdline_parse(&boot, s) < 0)
		panic("command line too long (at most %d bytes and %d words)",
		    CMDLINE_MAX - 1, CMDLINE_ARGS);
}

const char *
cmdline_get(const char *key)
{
	return cmdline_arg(&boot, key);
}

// Whether flag is on the boot command line, bare or with a value.
bool
cmdline_has(const char *flag)
{
	return cmdline_get(flag) != NULL;
}

// Whether s is a decimal number from lo to hi (hi < 2^63); if so, *n is it.
bool
str_num(const char *s, u64 lo, u64 hi, u64 *n)
{
	u64 v = 0;

	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9' || v > hi)
			return false;
		v = v * 10 + (*s - '0');
	}
	if (v < lo || v > hi)
		return false;
	*n = v;
	return true;
}

// The number key= gives, from lo to hi, or dflt if the line does not
// name key.  A value that is not a decimal number in range is a panic
// before "kit: ready", saying which key and range.
u64
cmdline_num(const char *key, u64 dflt, u64 lo, u64 hi)
{
	const char *v = cmdline_get(key);
	u64 n;

	if (v == NULL)
		return dflt;
	if (!str_num(v, lo, hi, &n))
		panic("bad %s '%s' (%s=<number> from %lu to %lu)", key, v, key, lo, hi);
	return n;
}
