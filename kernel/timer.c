// timer.c: each core's timer queue, and its LAPIC timer.
//
//   tick=<Hz>     a periodic interrupt, <Hz> times a second (tick=periodic
//                 is 100 Hz, the default in the sched stage)
//   tick=none     tickless (also tick=tickless): a one-shot interrupt at
//                 the earliest deadline, armed by the idle loop before it
//                 waits, and nothing armed when no deadline waits; the
//                 default from the idle stage on
//
// From the idle stage on the console changes the tick at run time
// (timer_set): each core reprograms its own LAPIC timer, on its next
// idle pass (timer_sync).
//
// Deadlines are TSC values, on the core of the thread that waits.  The
// queue is a list sorted by deadline, earliest first: a core has a few
// sleepers, so an insertion's walk costs less than a heap's bookkeeping,
// and a poll looks at the head only.
//
// Who looks: the core itself, in every schedule() and after every wake of
// its idle loop (sched.c, sched_poll).  The timer's interrupt only ends a
// halt; its handler notes that a one-shot is spent (trap.c).  So a thread
// sleeps no shorter than asked, and oversleeps by at most the time its
// core takes to look: next to nothing while the core runs or spins, up to
// a tick while it halts with a periodic tick, and the interrupt's latency
// while it halts tickless.

#include "types.h"
#include "defs.h"
#include "cpu.h"
#include "sched.h"
#include "stats.h"
#include "trap.h"
#include "x86.h"

#define PERIODIC_HZ 100          // tick=periodic

// The default: tickless, but in the scheduler's first stage a 100 Hz tick.
#if KIT_STAGE_LEVEL >= STAGE_IDLE
#define DEFAULT_HZ 0
#else
#define DEFAULT_HZ PERIODIC_HZ
#endif

static volatile u64 tick_hz = DEFAULT_HZ;       // 0: tickless

u64
ms_to_tsc(u64 ms)
{
	return ms * kit_stats.tsc_hz / 1000;
}

u64
us_to_tsc(u64 us)
{
	return us * kit_stats.tsc_hz / 1000000;
}

// A tick setting: "periodic", "none" or "tickless", or a rate in Hz from
// 1 to TICK_MAX_HZ.  Returns the rate, 0 for tickless, or -1 if v is none of
// these.
static long
tick_parse(const char *v)
{
	u64 hz;

	if (strcmp(v, "periodic") == 0)
		return PERIODIC_HZ;
	if (strcmp(v, "none") == 0 || strcmp(v, "tickless") == 0)
		return 0;
	return str_num(v, 1, TICK_MAX_HZ, &hz) ? (long)hz : -1;
}

// Read tick= before "kit: ready", so a mistake is a panic before the host
// starts to measure.
void
timer_init(void)
{
	const char *v = cmdline_get("tick");

	if (lapic_timer_hz == 0 || kit_stats.tsc_hz == 0)
		panic("timer: the TSC or LAPIC timer rate is unknown");
	if (v == NULL) {
		tick_hz = DEFAULT_HZ;
	} else {
		long hz = tick_parse(v);
		if (hz < 0)
			panic("bad tick '%s' (tick=<Hz> from 1 to %d, or tick=none)", v, TICK_MAX_HZ);
		tick_hz = hz;
	}
	if (tick_hz != 0)
		kprintf("timer: tick %lu Hz\n", tick_hz);
	else
		kprintf("timer: tickless\n");
}

// <<timer-start
// Each core's LAPIC timer, once, as its scheduler starts: the periodic
// tick, or nothing until the idle loop has a deadline to arm.
void
timer_start(void)
{
	if (tick_hz != 0)
		lapic_timer_periodic(T_TIMER, tick_hz);
	else
		lapic_timer_stop();
}
// >>timer-start

#if KIT_STAGE_LEVEL >= STAGE_IDLE
// The tick at run time (console.c).  Only a core can program its own
// LAPIC timer (every CPU's APIC answers at the same address, lapic.c), so
// the setting is a value and a generation: the caller stores the value,
// bumps the generation and sends each other core an IPI, which ends a
// halt; each core, on its next idle pass, sees a generation it has not
// run by and restarts its timer (timer_sync).  The value is stored before
// the generation, and read after it, so a core that sees the new
// generation reads the new value or a newer one, whose own generation
// makes it look once more.
static volatile u32 tick_gen;           // bumped at each change
static u32 tick_seen[NCPU_MAX];         // the generation core n's timer runs by; only n writes it

// Set the tick from v (as tick=); returns the new rate, 0 for tickless,
// or -1, and nothing changes, if v is no setting.
long
timer_set(const char *v)
{
	long hz = tick_parse(v);

	if (hz < 0)
		return -1;
	tick_hz = hz;
	__atomic_add_fetch(&tick_gen, 1, __ATOMIC_SEQ_CST);
	sched_kick_others();
	return hz;
}

// The rate now, 0 for tickless.
u64
timer_hz(void)
{
	return tick_hz;
}

// On each pass of the idle loop, with interrupts off: restart this core's
// timer if the setting changed.  The one-shot armed before, if any, is
// stopped with a periodic tick (timer_start) and forgotten either way, so
// that tickless re-arms from scratch (timer_arm).
void
timer_sync(void)
{
	u32 g = __atomic_load_n(&tick_gen, __ATOMIC_SEQ_CST);

	if (tick_seen[cpunum()] == g)
		return;
	tick_seen[cpunum()] = g;
	timer_start();
	mysched()->timers.armed = 0;
}
#endif

// Insert tm after every deadline not later than its own: equal deadlines
// expire in the order they were set.
void
timer_add(struct timerq *q, struct timer *tm)
{
	struct timer **p = &q->head;

	while (*p != NULL && (*p)->when <= tm->when)
		p = &(*p)->next;
	tm->next = *p;
	*p = tm;
}

// Take tm off the queue, where it is (a wait with a deadline that ended
// another way: poll.c).  A one-shot armed for it stays armed; the idle
// loop's next timer_arm() sets it for the new head, or stops it.
void
timer_remove(struct timerq *q, struct timer *tm)
{
	for (struct timer **p = &q->head; *p != NULL; p = &(*p)->next)
		if (*p == tm) {
			*p = tm->next;
			tm->next = NULL;
			return;
		}
	panic("timer: cpu %d: a deadline to remove is not on the queue", cpunum());
}

// The earliest deadline if it is not later than now, off the queue; NULL
// if none has passed.
struct timer *
timer_expired(struct timerq *q, u64 now)
{
	struct timer *tm = q->head;

	if (tm == NULL || tm->when > now)
		return NULL;
	q->head = tm->next;
	tm->next = NULL;
	return tm;
}

// <<timer-arm
// Tickless: before the idle loop waits, set the one-shot for the earliest
// deadline, or stop the timer if no deadline waits.  The LAPIC timer
// counts at its own rate; the TSC delta converts to its ticks rounded up,
// so the interrupt does not come before the deadline by the rates as
// measured.  A delta over a second is cut to one: the 32-bit count would
// not hold it at every rate, and the early interrupt re-arms.
void
timer_arm(struct timerq *q)
{
	if (tick_hz != 0)
		return;
	if (q->head == NULL) {
		if (q->armed != 0)
			lapic_timer_stop();
		q->armed = 0;
		return;
	}
	u64 when = q->head->when, now = rdtsc(), hz = kit_stats.tsc_hz;
	if (q->armed == when)
		return;
	u64 delta = when > now ? when - now : 0;
	if (delta > hz)
		delta = hz;
	lapic_timer_oneshot(T_TIMER, (delta * lapic_timer_hz + hz - 1) / hz);
	q->armed = when;
}

// From the timer's interrupt: a one-shot is spent (a tick changes nothing).
void
timer_irq(void)
{
	mysched()->timers.armed = 0;
}
// >>timer-arm
