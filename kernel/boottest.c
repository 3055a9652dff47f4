// boottest.c: the self-tests of lesson 01, run by selftest.c first, on
// the boot CPU: the library, the command line, the statistics block the
// host reads, the TSC, and the IDT with a round trip through it.

#include "types.h"
#include "defs.h"
#include "cpu.h"
#include "mmu.h"
#include "stats.h"
#include "trap.h"
#include "x86.h"

// Equal strings, where NULL equals only NULL.
static bool
same(const char *a, const char *b)
{
	return a == b || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

const char *
test_string(void)
{
	char b[8];

	memset(b, 'x', sizeof b);
	if (memcmp(b, "xxxxxxxx", 8) != 0)
		return fail("memset");
	memcpy(b, "abcdef", 7);
	if (strlen(b) != 6 || strcmp(b, "abcdef") != 0)
		return fail("memcpy or strlen: '%s'", b);
	memmove(b + 2, b, 4);                   // overlapping, upwards
	if (strcmp(b, "ababcd") != 0)
		return fail("memmove up: '%s'", b);
	memmove(b, b + 2, 4);                   // overlapping, downwards
	if (strcmp(b, "abcdcd") != 0)
		return fail("memmove down: '%s'", b);
	if (strcmp("a", "b") >= 0 || strcmp("b", "a") <= 0 || strcmp("", "") != 0)
		return fail("strcmp order");
	if (memcmp("ab", "ac", 2) >= 0 || memcmp("ab", "ac", 1) != 0)
		return fail("memcmp order");
	return NULL;
}

// Check one format: the buffer must hold want.
#define FMT(want, ...) do {                                             \
	ksnprintf(buf, sizeof buf, __VA_ARGS__);                        \
	if (strcmp(buf, want) != 0)                                     \
		return fail("%s gave '%s', want '%s'",                  \
		    #__VA_ARGS__, buf, want);                           \
} while (0)

const char *
test_printf(void)
{
	char buf[64];

	FMT("0 -42 2147483647 -2147483648", "%d %d %d %d", 0, -42, INT32_MAX, INT32_MIN);
	FMT("4000000000 beef", "%u %x", 4000000000u, 0xbeefu);
	FMT("123456789abcdef0", "%lx", 0x123456789abcdef0UL);
	FMT("18446744073709551615", "%lu", UINT64_MAX);
	FMT("-9223372036854775808", "%ld", INT64_MIN);
	FMT("-1 ffffffffffffffff", "%lld %llx", -1LL, ~0ULL);
	FMT("0x1000", "%p", (void *)0x1000);
	FMT("kit: x 100%", "%s: %c %d%%", "kit", 'x', 100);

	int n = ksnprintf(buf, 4, "%d", 123456);
	if (n != 6 || strcmp(buf, "123") != 0)
		return fail("truncation gave '%s' and %d, want '123' and 6", buf, n);
	return NULL;
}

const char *
test_cmdline(void)
{
	static struct cmdline c;        // 2 KiB: not on the stack
	static char big[CMDLINE_MAX + 1];

	if (cmdline_parse(&c, "  idle=spin test\tcrash= a=b=c idle=hlt ") != 0)
		return fail("parse failed");
	if (c.nargs != 5)
		return fail("%d words, want 5", c.nargs);
	if (!same(cmdline_arg(&c, "idle"), "hlt"))
		return fail("idle is '%s', want the last one, 'hlt'", cmdline_arg(&c, "idle"));
	if (!same(cmdline_arg(&c, "test"), "") || !same(cmdline_arg(&c, "crash"), ""))
		return fail("a bare flag or an empty value is not ''");
	if (!same(cmdline_arg(&c, "a"), "b=c"))
		return fail("a is '%s', want 'b=c'", cmdline_arg(&c, "a"));
	if (cmdline_arg(&c, "missing") != NULL || cmdline_arg(&c, "b") != NULL)
		return fail("found a key that is not there");

	// Which keys this stage reads (cmdline.c's keys[]); a loader's
	// module.param word is let pass.
	if (cmdline_parse(&c, "virtio_mmio.device=512@0xfeb00e00:12 idle=hlt idel=spin") != 0 ||
	    !same(cmdline_unknown(&c), "idel"))
		return fail("the unknown key is '%s', want 'idel'", cmdline_unknown(&c));
	if (!cmdline_known("app") || cmdline_known("idel") || cmdline_known(""))
		return fail("app unknown, or idel or the empty key known");
	if (cmdline_known("haltpoll") != (KIT_STAGE_LEVEL >= STAGE_POLL))
		return fail("haltpoll known in stage %s: %d", KIT_STAGE_NAME, cmdline_known("haltpoll"));

	if (cmdline_parse(&c, "") != 0 || c.nargs != 0)
		return fail("empty line");
	if (cmdline_unknown(&c) != NULL)
		return fail("an empty line has an unknown key");
	memset(big, 'x', CMDLINE_MAX);
	if (cmdline_parse(&c, big) != -1)
		return fail("accepted %d bytes", CMDLINE_MAX);
	for (int i = 0; i <= CMDLINE_ARGS; i++)
		memcpy(big + 2 * i, "x ", 2);
	big[2 * (CMDLINE_ARGS + 1)] = '\0';
	if (cmdline_parse(&c, big) != -1)
		return fail("accepted %d words", CMDLINE_ARGS + 1);
	return NULL;
}

// The header of kit_stats is what the host relies on to find and name the
// counters: check it as the host would read it.
const char *
test_stats(void)
{
#define FIELD(n) { #n, offsetof(struct cpustats, n) },
	static const struct {
		const char *name;
		size_t off;
	} field[] = { CPUSTATS_FIELDS(FIELD) };
#undef FIELD
	const int nfield = sizeof field / sizeof field[0];
	volatile struct kitstats *k = &kit_stats;
	char names[sizeof k->fields];

	if (k->magic != KIT_STATS_MAGIC || k->version != KIT_STATS_VERSION)
		return fail("magic 0x%lx version %u", k->magic, k->version);
#if KIT_STAGE_LEVEL >= STAGE_CORES
	u32 want = ncpu;
#else
	u32 want = 1;
#endif
	if (k->ncpu != want)
		return fail("ncpu %u, want %u", k->ncpu, want);
	if ((uptr)&k->cpu[1] - (uptr)&k->cpu[0] != k->cpu_stride ||
	    k->cpu_stride != sizeof(struct cpustats))
		return fail("cpu_stride %u, want %lu", k->cpu_stride, sizeof(struct cpustats));
	if ((uptr)&k->cpu[0] - (uptr)k != k->cpu_offset)
		return fail("cpu_offset %u is wrong", k->cpu_offset);

	// fields: the counters' names, one space apart, in memory order; the
	// host reads counter i at offset 8 * i.
	for (size_t i = 0; i < sizeof names; i++)
		names[i] = k->fields[i];
	if (names[sizeof names - 1] != '\0')
		return fail("fields is not NUL-terminated");
	int i = 0;
	for (char *w = names, *end; *w != '\0'; w = end + (*end == ' '), i++) {
		for (end = w; *end != ' ' && *end != '\0'; end++)
			;
		if (end == w)
			return fail("fields has an empty name: '%s'", names);
		char save = *end;
		*end = '\0';
		if (i >= nfield || strcmp(w, field[i].name) != 0)
			return fail("field %d is '%s'", i, w);
		if (field[i].off != 8 * (size_t)i)
			return fail("%s is at offset %lu, not %d", w, field[i].off, 8 * i);
		*end = save;
	}
	if (i != nfield)
		return fail("fields names %d counters, struct cpustats has %d", i, nfield);
	return NULL;
}

const char *
test_tsc(void)
{
	u64 hz = kit_stats.tsc_hz;

	if (hz == 0)
		return fail("rate unknown");
	if (hz < 100000000UL || hz > 10000000000UL)
		return fail("rate %lu Hz is not between 100 MHz and 10 GHz", hz);
	u64 first = rdtsc(), prev = first;
	for (int i = 0; i < 1000; i++) {
		u64 t = rdtsc();
		if (t < prev)
			return fail("went back from %lu to %lu", prev, t);
		prev = t;
	}
	if (prev == first)
		return fail("stands still at %lu", prev);
	return NULL;
}

// The IDT the CPU uses, read back through sidt: interrupt gates to the
// stubs of vectors 0-31 and of the interrupt vectors trap.h's table gives
// this stage, and no gate elsewhere.
const char *
test_idt(void)
{
	u64 want[NIDT] = { 0 };
	struct dtr d;
	int i = 0;

	for (int v = 0; v < NEXC; v++)
		want[v] = vectors[v];
#define WANT(vector, stage, handler, counter, name) \
	if ((stage) <= KIT_STAGE_LEVEL) { \
		if (want[vector] != 0 || irqvectors[i] == 0) \
			return fail("vector %d (%s): taken twice, or no stub", vector, name); \
		want[vector] = irqvectors[i]; \
	} \
	i++;
	IRQS(WANT)
#undef WANT
	sidt(&d);
	if (d.limit != NIDT * sizeof(struct gate) - 1)
		return fail("limit 0x%x", d.limit);
	const struct gate *g = (const struct gate *)d.base;
	for (int v = 0; v < NIDT; v++) {
		u64 off = g[v].off_lo | (u64)g[v].off_mid << 16 | (u64)g[v].off_hi << 32;
		if (want[v] == 0) {
			if (g[v].attr != 0)
				return fail("vector %d has a gate", v);
		} else if (g[v].attr != GATE_INTR || g[v].sel != SEG_KCODE ||
		    g[v].ist != 0 || off != want[v]) {
			return fail("gate %d: attr 0x%x sel 0x%x handler 0x%lx",
			    v, g[v].attr, g[v].sel, off);
		}
	}
	return NULL;
}

// int3 through the IDT, vectors.S and trap() and back: the handler must
// see the RIP after the int3 and iretq must restore the registers.
const char *
test_breakpoint(void)
{
	u64 a = 0xaaaa, b = 0xbbbb, c = 0xcccc, d = 0xdddd, si = 0x5151, di = 0xd1d1;
	u64 after;

	trap_bp_rip = 0;
	asm volatile("int3\n"
	    "1:\tleaq 1b(%%rip), %6"
	    : "+a"(a), "+b"(b), "+c"(c), "+d"(d), "+S"(si), "+D"(di), "=r"(after)
	    : : "memory");
	if (trap_bp_rip != after)
		return fail("handler saw rip 0x%lx, want 0x%lx", trap_bp_rip, after);
	if (a != 0xaaaa || b != 0xbbbb || c != 0xcccc || d != 0xdddd ||
	    si != 0x5151 || di != 0xd1d1)
		return fail("registers changed across the trap");
	return NULL;
}
