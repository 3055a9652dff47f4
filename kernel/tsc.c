// tsc.c: the rate of the time-stamp counter, measured at boot.
//
// No architectural register states the TSC rate on every CPU QEMU models,
// so the kernel times a known interval with it: 10 ms of the 8254 PIT,
// whose input clock runs at 1.193182 MHz on every PC.
//
// The classic PC method uses channel 2, gated and read through port 0x61.
// QEMU's microvm has a PIT but no port 0x61, so this kernel uses channel
// 0, whose gate is wired high, and reads its count back with the
// counter-latch command (Intel 8254 datasheet, order 231164, "Read
// Operations").  In mode 0 (interrupt on terminal count) the counter loads
// the count on the first clock after it is written, then counts down; its
// IRQ 0 is masked at both interrupt controllers, so reprogramming it
// disturbs nothing.  No later stage uses the PIT.

#include "types.h"
#include "defs.h"
#include "stats.h"
#include "x86.h"

#define PIT_HZ        1193182   // 14.31818 MHz / 12
#define PIT_CH0       0x40      // channel 0 counter
#define PIT_CMD       0x43      // control word
#define PIT_CH0_MODE0 0x30      // channel 0, low then high byte, mode 0, binary
#define PIT_CH0_LATCH 0x00      // channel 0, counter-latch command

#define CAL_TICKS (PIT_HZ / 100)        // 10 ms

// Give up after this many TSC ticks, 134 ms at 2 GHz: 10 ms take fewer
// at any TSC rate below 26 GHz, so only a missing PIT gets here (absent
// ports read 0xff, a count that never moves).
#define CAL_LIMIT (1UL << 28)

static u16
pit_count(void)
{
	outb(PIT_CMD, PIT_CH0_LATCH);
	u16 lo = inb(PIT_CH0);
	return lo | inb(PIT_CH0) << 8;
}

// TSC ticks a second, or 0 if there is no PIT.
static u64
tsc_calibrate(void)
{
	outb(PIT_CMD, PIT_CH0_MODE0);
	outb(PIT_CH0, 0xff);
	outb(PIT_CH0, 0xff);
	u64 t0 = rdtsc();
	for (;;) {
		u16 elapsed = 0xffff - pit_count();
		u64 t = rdtsc();
		if (elapsed >= CAL_TICKS)
			return (t - t0) * PIT_HZ / elapsed;
		if (t - t0 > CAL_LIMIT)
			return 0;
	}
}

void
tsc_init(void)
{
	u64 hz = tsc_calibrate();

	kit_stats.tsc_hz = hz;
	if (hz != 0)
		kprintf("tsc: %lu MHz\n", hz / 1000000);
	else
		kprintf("tsc: unknown (no PIT)\n");
}

#if KIT_STAGE_LEVEL >= STAGE_CORES
// Wait us microseconds by the TSC, which ticks at one constant rate,
// halted or not, on the CPUs QEMU models and on those with an invariant
// TSC (SDM Vol. 3B, Time-Stamp Counter: Invariant TSC).
void
udelay(u64 us)
{
	u64 start = rdtsc(), ticks = us * kit_stats.tsc_hz / 1000000;

	while (rdtsc() - start < ticks)
		pause();
}
#endif

// TSC ticks as nanoseconds, at the rate tsc_init() measured; the whole
// seconds first, so no product overflows for any rate up to 18 GHz.
u64
tsc_to_ns(u64 ticks)
{
	u64 hz = kit_stats.tsc_hz;

	return ticks / hz * 1000000000 + ticks % hz * 1000000000 / hz;
}
