// idletest.c: the self-tests of lesson 05, run by selftest.c after
// lesson 04's: the I/O APIC (ioapic.c), COM1's route through it to the
// console (console.c), and the percentiles the measuring apps print
// (percentile.c).

#include "types.h"
#include "defs.h"
#include "acpi.h"
#include "ioapic.h"
#include "trap.h"

// The registers read back sane, and each pin is as ioapic.c left it:
// masked, or routed by ioapic_route() and no other way.
const char *
test_ioapic(void)
{
	int npin = ioapic_npin();

	if (npin == 0)
		return NULL;                    // no I/O APIC: nothing to check
	u32 ver = ioapic_read(IOAPICVER), id = ioapic_read(IOAPICID) >> 24 & 0xf;
	if ((ver & 0xff) < 0x10 || (ver & 0xff) > 0x2f)
		return fail("version 0x%x is no I/O APIC's", ver & 0xff);
	if (npin < 16 || npin > NPIN_MAX)
		return fail("%d pins: not one for each ISA IRQ", npin);
	if (id != machine.ioapic_id)
		return fail("id %u, the MADT says %u", id, machine.ioapic_id);
	for (int n = 0; n < npin; n++) {
		u32 lo = ioapic_read(IOREDTBL + 2 * n), hi = ioapic_read(IOREDTBL + 2 * n + 1);
		u32 want, wanthi;
		ioapic_routed(n, &want, &wanthi);
		if ((lo & RED_MASK) != want || (want != RED_MASKED && hi != wanthi))
			return fail("pin %d holds 0x%x%08x, want 0x%x%08x", n, hi, lo,
			    wanthi, want);
	}
	return NULL;
}

// COM1's IRQ reaches the pin the MADT names, unmasked, as T_UART to the
// boot CPU (test_ioapic checks the other pins and the rest of the entry).
const char *
test_console(void)
{
	if (machine.ioapic == 0)
		return NULL;
	u32 e = ioapic_entry(console_gsi);
	if ((e & RED_VECTOR) != T_UART || (e & RED_MASKED) != 0)
		return fail("gsi %u's entry is 0x%x: not vector 0x%x, unmasked",
		    console_gsi, e, T_UART);
	return NULL;
}

// Nearest-rank percentiles (percentile.c) of arrays whose answer is known:
// p-th percentile of n samples is the ceil(p * n / 100)-th smallest.
struct pcase {
	u64 n;
	struct percentiles want;
};

static const char *
checkpct(const char *what, u64 *a, const struct pcase *c)
{
	struct percentiles got = percentiles(a, c->n), w = c->want;

	if (got.min != w.min || got.p50 != w.p50 || got.p90 != w.p90 ||
	    got.p99 != w.p99 || got.max != w.max)
		return fail("%s: min %lu p50 %lu p90 %lu p99 %lu max %lu, want %lu %lu %lu %lu %lu",
		    what, got.min, got.p50, got.p90, got.p99, got.max,
		    w.min, w.p50, w.p90, w.p99, w.max);
	for (u64 i = 1; i < c->n; i++)
		if (a[i - 1] > a[i])
			return fail("%s: not sorted at %lu", what, i);
	return NULL;
}

const char *
test_percentile(void)
{
	static u64 a[1000];
	const char *err;

	// 1 .. 100 shuffled: 37 is prime to 101, so i * 37 mod 101 runs
	// through 1 .. 100 once each as i does.
	for (u64 i = 1; i <= 100; i++)
		a[i - 1] = i * 37 % 101;
	if ((err = checkpct("1..100", a, &(struct pcase){ 100, { 1, 50, 90, 99, 100 } })))
		return err;

	// 1000 .. 1, descending: ranks 500, 900 and 990.
	for (u64 i = 0; i < 1000; i++)
		a[i] = 1000 - i;
	if ((err = checkpct("1000..1", a, &(struct pcase){ 1000, { 1, 500, 900, 990, 1000 } })))
		return err;

	// One sample is every percentile.
	a[0] = 7;
	if ((err = checkpct("n=1", a, &(struct pcase){ 1, { 7, 7, 7, 7, 7 } })))
		return err;

	// Two: p50 is the 1st smallest (ceil(1.0)), p90 and p99 the 2nd.
	a[0] = 9, a[1] = 3;
	if ((err = checkpct("n=2", a, &(struct pcase){ 2, { 3, 3, 9, 9, 9 } })))
		return err;

	// Unsorted, with repeats: sorted 1 1 2 3 4 5 5 5 6 9; ranks 5, 9, 10.
	static const u64 digits[10] = { 5, 1, 4, 1, 5, 9, 2, 6, 5, 3 };
	memcpy(a, digits, sizeof digits);
	if ((err = checkpct("10 digits", a, &(struct pcase){ 10, { 1, 4, 6, 9, 9 } })))
		return err;

	// The extremes of u64 survive the sort's comparisons.
	a[0] = UINT64_MAX, a[1] = 0, a[2] = UINT64_MAX - 1;
	return checkpct("extremes", a,
	    &(struct pcase){ 3, { 0, UINT64_MAX - 1, UINT64_MAX, UINT64_MAX, UINT64_MAX } });
}
