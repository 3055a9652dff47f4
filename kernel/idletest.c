// idletest.c: the self-tests of lesson 05's devices, run by selftest.c
// after lesson 04's: the I/O APIC (ioapic.c), and COM1's route through
// it to the console (console.c).

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
