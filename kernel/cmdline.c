// cmdline.c: the kernel command line, QEMU's -append string.
//
// The PVH loader passes it as a NUL-terminated string (hvm_start_info's
// cmdline_paddr).  Words are separated by blanks; a word is key=value
// (the value runs to the end of the word and may contain '=') or a bare
// flag, which is a key with the empty value.  When a key appears twice the
// last word wins, so a policy appended to a line overrides an earlier one.
// A key this stage does not read is a panic before "kit: ready", naming
// the keys it does read, so that a misspelt key (idel=spin) cannot leave
// a default in force unnoticed.  The one exception is a key with a dot,
// Linux's form for a module's parameter (module.param=value), which a
// loader may add: QEMU's microvm machine appends virtio_mmio.device=
// for each virtio-mmio device unless auto-kernel-cmdline=off
// (hw/i386/microvm.c, microvm_fix_kernel_cmdline).  No kit key has one.

#include "types.h"
#include "defs.h"

static struct cmdline boot;     // the line this kernel was booted with

// Every key the kernel reads, with the stage from which it reads it, the
// one list of them: cmdline_get() refuses a key that is not here, so a
// file that reads a new key needs its row.  The reader checks the value.
// To add a key: read it with cmdline_get(), cmdline_has() or
// cmdline_num(), and add a row, with the stage that first reads it.
static const struct key {
	const char *name;
	int stage;
	const char *what;
} keys[] = {
	{ "idle",     STAGE_BOOT,      "how an idle core waits (policy.c)" },
	{ "test",     STAGE_BOOT,      "run the self-tests, then exit (selftest.c)" },
	{ "crash",    STAGE_BOOT,      "fail on purpose (crash.c)" },
	{ "app",      STAGE_BOOT,      "the app to run after ready (app.c)" },
	{ "pause",    STAGE_CORES,     "pause in spin loops or not (spinlock.c)" },
	{ "lock",     STAGE_SPINLOCKS, "app=locks: the lock kind (locks.c)" },
	{ "ms",       STAGE_SPINLOCKS, "app=locks: how long to contend" },
	{ "tick",     STAGE_SCHED,     "the timer tick's rate, or none (timer.c)" },
	{ "sleep",    STAGE_SCHED,     "app=sleepers: one sleep for all (sleepers.c)" },
	{ "sleeps",   STAGE_IDLE,      "app=lateness: sleeps per core (lateness.c)" },
	{ "poll",     STAGE_POLL,      "how a thread that polls waits: prodcons's consumer and the network thread (prodcons.c, netwait.c)" },
	{ "period",   STAGE_POLL,      "app=prodcons: microseconds between messages" },
	{ "n",        STAGE_POLL,      "app=prodcons: messages to send" },
	{ "start",    STAGE_POLL,      "app=prodcons: quiet milliseconds first" },
	{ "grace",    STAGE_POLL,      "Toro's API: milliseconds before a poller idles (poll.c)" },
	{ "haltpoll", STAGE_POLL,      "the kit's API: microseconds to spin before halting" },
};
#define NKEY ((int)(sizeof keys / sizeof keys[0]))


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

// The row of key in keys[], or NULL.
static const struct key *
findkey(const char *name)
{
	for (int i = 0; i < NKEY; i++)
		if (strcmp(keys[i].name, name) == 0)
			return &keys[i];
	return NULL;
}

// Whether this stage reads key.
bool
cmdline_known(const char *key)
{
	const struct key *k = findkey(key);

	return k != NULL && k->stage <= KIT_STAGE_LEVEL;
}

// Whether key has the form module.param, a loader's word (see the top).
static bool
dotted(const char *key)
{
	for (; *key != '\0'; key++)
		if (*key == '.')
			return true;
	return false;
}

// The first word of c whose key this stage does not read, or NULL.
const char *
cmdline_unknown(const struct cmdline *c)
{
	for (int i = 0; i < c->nargs; i++)
		if (!cmdline_known(c->key[i]) && !dotted(c->key[i]))
			return c->key[i];
	return NULL;
}

// The keys this stage reads, for a message: "idle, test, crash or app".
char *
cmdline_keys(char *buf, size_t size)
{
	const char *names[NKEY];
	int n = 0;

	for (int i = 0; i < NKEY; i++)
		if (keys[i].stage <= KIT_STAGE_LEVEL)
			names[n++] = keys[i].name;
	return kwords(buf, size, "", names, n);
}

void
cmdline_init(const char *s)
{
	char list[160];

	if (cmdline_parse(&boot, s) < 0)
		panic("command line too long (at most %d bytes and %d words)",
		    CMDLINE_MAX - 1, CMDLINE_ARGS);
	const char *bad = cmdline_unknown(&boot);
	if (bad == NULL)
		return;
	const struct key *k = findkey(bad);
	if (k != NULL)
		panic("key '%s' comes with stage %s, this is stage %s (stage %s reads %s)", bad,
		    stage_name(k->stage), KIT_STAGE_NAME,
		    KIT_STAGE_NAME, cmdline_keys(list, sizeof list));
	panic("unknown key '%s' (stage %s reads %s)", bad, KIT_STAGE_NAME,
	    cmdline_keys(list, sizeof list));
}

// The value of key on the boot command line: "" for a bare flag, NULL if
// the line does not name it.  A key missing from keys[] is the kernel's
// own mistake, a panic wherever the line says.
const char *
cmdline_get(const char *key)
{
	if (!cmdline_known(key))
		panic("cmdline: stage %s reads key '%s', which is not in cmdline.c's keys[]",
		    KIT_STAGE_NAME, key);
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
