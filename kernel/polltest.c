// polltest.c: the self-tests of lesson 06 (poll.h), run by selftest.c
// after lesson 04's.  Each body runs in a thread on the boot CPU
// (schedtest.c, inthread), and the threads it tests on core 1, or on
// core 0 too if there is one CPU.

#include "types.h"
#include "defs.h"
#include "cpu.h"
#include "poll.h"
#include "sched.h"
#include "stats.h"
#include "x86.h"

#define HANDOFFS 100000
#define GRACE    20             // ms: the grace period of the Toro test

static u64
sum(size_t off)
{
	u64 n = 0;

	for (int c = 0; c < ncpu; c++)
		n += *(volatile u64 *)((uptr)&kit_stats.cpu[c] + off);
	return n;
}
#define SUM(field) sum(offsetof(struct cpustats, field))

// Ping-pong on one pollvar: player n moves when the value is n modulo 2,
// by setting the value + 1, which the other player waits for.  HANDOFFS
// sets, each one needed: lose a wake-up and both wait for ever (the
// host's timeout reports it).
static struct pollvar ball;

static void
pvplayer(void *arg)
{
	u64 me = (uptr)arg, v = pollvar_read(&ball);

	while (v < HANDOFFS) {
		if (v % 2 == me)
			pollvar_set(&ball, ++v);
		else
			v = pollvar_wait(&ball, v);
	}
}

// A core that runs a thread gets no IPI from pollvar_set(): the waiter on
// it wakes at that thread's next yield.
static struct {
	struct pollvar var;
	volatile bool done;
	volatile u64 got;
} rc;

static void
spinner(void *arg)
{
	(void)arg;
	while (!rc.done)
		thread_yield();
}

static void
waiter(void *arg)
{
	(void)arg;
	rc.got = pollvar_wait(&rc.var, 0);
	rc.done = true;
}

static const char *
pollvar_body(void)
{
	static struct pollvar lonely;
	int other = ncpu > 1 ? 1 : 0;
	volatile struct cpustats *st = mystats();
	u64 hz = kit_stats.tsc_hz;

	// 1. Ping-pong.
	ball = (struct pollvar){ 0 };
	u64 sent = SUM(ipis_sent), skipped = SUM(poll_ipis_skipped), got = SUM(ipis_received);
	u64 t0 = rdtsc();
	struct thread *p0 = thread_create(cpunum(), pvplayer, (void *)0);
	struct thread *p1 = thread_create(other, pvplayer, (void *)1);
	thread_join(p0);
	thread_join(p1);
	u64 us = (rdtsc() - t0) * 1000000 / hz;
	sent = SUM(ipis_sent) - sent;
	skipped = SUM(poll_ipis_skipped) - skipped;
	got = SUM(ipis_received) - got;
	if (pollvar_read(&ball) != HANDOFFS)
		return fail("the ball stopped at %lu", pollvar_read(&ball));
	// One IPI a set at most, and two messages: player 1's start, its exit.
	if (sent > HANDOFFS + 2)
		return fail("%lu IPIs for %d sets", sent, HANDOFFS);
	kprintf("pollvar: cpus 0 and %d, %d hand-offs in %lu ms, %lu ns each, "
	    "%lu IPIs sent, %lu skipped, %lu taken\n",
	    other, HANDOFFS, us / 1000, us * 1000 / HANDOFFS, sent, skipped, got);

	// 2. A set with no waiter sends nothing.
	sent = st->ipis_sent;
	skipped = st->poll_ipis_skipped;
	for (u64 i = 1; i <= 3; i++)
		pollvar_set(&lonely, i);
	if (st->ipis_sent != sent || st->poll_ipis_skipped != skipped || lonely.cpus != 0)
		return fail("a set with no waiter sent %lu IPIs", st->ipis_sent - sent);

	// 3. A waiter on a core that runs: no IPI.
	rc.var = (struct pollvar){ 0 };
	rc.done = false;
	struct thread *s = thread_create(other, spinner, NULL);
	struct thread *w = thread_create(other, waiter, NULL);
	for (int i = 0; __atomic_load_n(&w->state, __ATOMIC_SEQ_CST) != T_WAITING; i++) {
		if (i == 5000)
			return fail("the waiter never waited");
		thread_sleep(1);
	}
	sent = st->ipis_sent;
	skipped = st->poll_ipis_skipped;
	pollvar_set(&rc.var, 7);
	sent = st->ipis_sent - sent;
	skipped = st->poll_ipis_skipped - skipped;
	thread_join(w);
	thread_join(s);
	if (rc.got != 7)
		return fail("the waiter got %lu, want 7", rc.got);
	if (sent != 0)
		return fail("%lu IPIs to a core that runs", sent);
	if (other != cpunum() && skipped != 1)
		return fail("%lu IPIs skipped, want 1", skipped);
	if (rc.var.cpus != 0)
		return fail("cpus 0x%lx after the waiter left", rc.var.cpus);
	return NULL;
}

const char *
test_pollvar(void)
{
	return inthread(pollvar_body);
}

// Toro's API, with a grace period of GRACE ms.  Two pollers on one core:
// one busy (it works, until told to stop), one idle (it finds nothing).
// The idle one gives up after the grace period, no sooner, and keeps
// running, since the busy one has not; poll_worked() starts its grace
// period again.  Once the busy one finds nothing too, both give up and
// the core halts (idle=hlt); an interrupt brings them back.
static struct {
	volatile bool busy, stop, p1done;
	volatile int exited;
	const char *why;
} tp;

static void
tp_busy(void *arg)
{
	(void)arg;
	poll_nothing();                 // registers
	while (!tp.stop) {
		if (tp.busy) {
			poll_worked();
			thread_yield();
		} else {
			poll_nothing();
		}
	}
	__atomic_fetch_add(&tp.exited, 1, __ATOMIC_SEQ_CST);
}

static void
tp_idle(void *arg)
{
	u64 g = ms_to_tsc(GRACE), t0 = rdtsc(), t1, took;

	(void)arg;
	while (rdtsc() - t0 < g / 2)
		poll_nothing();
	if (poll_gaveup()) {
		tp.why = "gave up before the grace period";
		goto out;
	}
	poll_worked();
	t1 = rdtsc();
	while (!poll_gaveup() && rdtsc() - t1 < 50 * g)
		poll_nothing();
	took = rdtsc() - t1;
	if (!poll_gaveup())
		tp.why = "never gave up while the other poller worked";
	else if (took < g)
		tp.why = fail("gave up %lu us after poll_worked(), the grace is %d ms",
		    took * 1000000 / kit_stats.tsc_hz, GRACE);
	poll_worked();
	if (tp.why == NULL && poll_gaveup())
		tp.why = "still given up after poll_worked()";
out:
	tp.p1done = true;
	while (!tp.stop)
		poll_nothing();
	__atomic_fetch_add(&tp.exited, 1, __ATOMIC_SEQ_CST);
}

static void
nothing(void *arg)
{
	(void)arg;
}

static const char *
toropoll_body(void)
{
	int c = ncpu > 1 ? 1 : 0;
	u64 old = poll_grace(GRACE), h0, h1;

	tp.busy = true;
	tp.stop = tp.p1done = false;
	tp.exited = 0;
	tp.why = NULL;
	struct thread *p2 = thread_create(c, tp_busy, NULL);
	struct thread *p1 = thread_create(c, tp_idle, NULL);
	for (int i = 0; !tp.p1done && i < 5000; i++)
		thread_sleep(1);
	tp.busy = false;
	h0 = kit_stats.cpu[c].halts;
	thread_sleep(10 * GRACE);
	h1 = kit_stats.cpu[c].halts;

	// Stop them.  A halted core wakes at an interrupt only: a message
	// (its IPI) if it is another core, this one's sleep if not.
	tp.stop = true;
	if (c != cpunum())
		thread_join(thread_create(c, nothing, NULL));
	for (int i = 0; tp.exited < 2 && i < 5000; i++)
		thread_sleep(1);
	if (tp.exited < 2)
		return fail("the pollers did not stop");        // before the joins: they would hang
	thread_join(p1);
	thread_join(p2);
	poll_grace(old);
	if (!tp.p1done)
		return fail("the idle poller never finished its checks");
	if (tp.why != NULL)
		return tp.why;
	if (sched_policy == IDLE_HLT && h1 == h0)
		return fail("cpu %d did not halt once both pollers gave up", c);
	return NULL;
}

const char *
test_toropoll(void)
{
	return inthread(toropoll_body);
}

// pollvar_wait_until(): a thread on core 1 (or 0) waits with a deadline.
//  1. A set wakes it long before its deadline, and its deadline leaves
//     the timer queue with it.
//  2. With nothing set, the deadline wakes it, not before, the value
//     unchanged; its core halted meanwhile (tickless: the one-shot).
//  3. A set after that wake-up does no harm: it finds no waiter, sends
//     no IPI, and does not cut short the sleep the thread is in by then.
//  4. Ping-pong again, each wait with a deadline a few microseconds
//     ahead, so that sets and deadlines cross: every hand-off arrives,
//     and no thread is made ready twice (that would break a run queue).
#define DL_SHORT_MS 20          // the deadline of case 2
#define DL_SLEEP_MS 50          // the sleep of case 3
#define DL_HANDOFFS 20000

static struct {
	struct pollvar var;
	volatile u64 got, woke, deadline;
	volatile bool queued, waiting, slept;
	volatile u64 slept_tsc;
} dl;

// Whether tm is on this core's timer queue.
static bool
queued(struct timer *tm)
{
	for (struct timer *t = mysched()->timers.head; t != NULL; t = t->next)
		if (t == tm)
			return true;
	return false;
}

static void
dl_set_waiter(void *arg)
{
	(void)arg;
	dl.deadline = rdtsc() + ms_to_tsc(5000);
	dl.waiting = true;
	dl.got = pollvar_wait_until(&dl.var, 0, dl.deadline);
	dl.woke = rdtsc();
	dl.queued = queued(&thread_self()->timer);
}

static void
dl_time_waiter(void *arg)
{
	(void)arg;
	dl.deadline = rdtsc() + ms_to_tsc(DL_SHORT_MS);
	dl.got = pollvar_wait_until(&dl.var, 0, dl.deadline);
	dl.woke = rdtsc();
	dl.queued = queued(&thread_self()->timer);
	dl.waiting = true;              // case 3: the set may come now
	u64 t0 = rdtsc();
	thread_sleep(DL_SLEEP_MS);
	dl.slept_tsc = rdtsc() - t0;
	dl.slept = true;
}

static struct pollvar dlball;
static volatile u64 dltimeouts;         // waits of case 4 that their deadline ended

static void
dlplayer(void *arg)
{
	u64 me = (uptr)arg, v = pollvar_read(&dlball), ahead = us_to_tsc(5);

	while (v < DL_HANDOFFS) {
		if (v % 2 == me)
			pollvar_set(&dlball, ++v);
		else if (pollvar_wait_until(&dlball, v, rdtsc() + ahead + rdtsc() % (8 * ahead)) == v)
			__atomic_fetch_add(&dltimeouts, 1, __ATOMIC_SEQ_CST);
		else
			v = pollvar_read(&dlball);
	}
}

// Wait, sleeping 1 ms at a time, until *flag; false after 5 s.
static bool
await(volatile bool *flag)
{
	for (int i = 0; !*flag; i++) {
		if (i == 5000)
			return false;
		thread_sleep(1);
	}
	return true;
}

static const char *
deadline_body(void)
{
	int other = ncpu > 1 ? 1 : 0;
	volatile struct cpustats *oc = &kit_stats.cpu[other], *st = mystats();
	u64 hz = kit_stats.tsc_hz;
	struct thread *w;

	// 1. A set wakes it.
	dl = (typeof(dl)){ 0 };
	w = thread_create(other, dl_set_waiter, NULL);
	if (!await(&dl.waiting))
		return fail("the waiter never ran");
	while (__atomic_load_n(&w->state, __ATOMIC_SEQ_CST) != T_WAITING)
		thread_sleep(1);
	pollvar_set(&dl.var, 5);
	thread_join(w);
	if (dl.got != 5)
		return fail("woken by a set, the waiter got %lu, want 5", dl.got);
	if (dl.woke >= dl.deadline)
		return fail("a set 5 s before the deadline did not wake the waiter");
	if (dl.queued)
		return fail("woken by a set, the waiter's deadline stayed on the timer queue");

	// 2. The deadline wakes it.
	dl = (typeof(dl)){ 0 };
	u64 h0 = oc->halts;
	w = thread_create(other, dl_time_waiter, NULL);
	if (!await(&dl.waiting))
		return fail("the deadline never woke the waiter");
	if (dl.got != 0)
		return fail("woken by its deadline, the waiter got %lu, want 0", dl.got);
	if (dl.woke < dl.deadline)
		return fail("the waiter woke %lu us before its deadline",
		    (dl.deadline - dl.woke) * 1000000 / hz);
	if (dl.woke - dl.deadline > hz)
		return fail("the waiter woke %lu ms after its deadline",
		    (dl.woke - dl.deadline) * 1000 / hz);
	if (dl.queued)
		return fail("woken by its deadline, its timer stayed on the queue");
	if (other != cpunum() && sched_policy == IDLE_HLT && oc->halts == h0)
		return fail("cpu %d did not halt while its thread waited for a deadline", other);

	// 3. A set after the deadline woke it.
	u64 sent = st->ipis_sent, skipped = st->poll_ipis_skipped, wk = oc->wakeups;
	pollvar_set(&dl.var, 9);
	if (st->ipis_sent != sent || st->poll_ipis_skipped != skipped || dl.var.cpus != 0)
		return fail("a set after the deadline sent %lu IPIs, skipped %lu, cpus 0x%lx",
		    st->ipis_sent - sent, st->poll_ipis_skipped - skipped, dl.var.cpus);
	thread_join(w);
	if (!dl.slept)
		return fail("the waiter never finished its sleep");
	if (dl.slept_tsc < ms_to_tsc(DL_SLEEP_MS))
		return fail("a set after the deadline cut a sleep of %d ms to %lu us",
		    DL_SLEEP_MS, dl.slept_tsc * 1000000 / hz);
	if (other != cpunum() && oc->wakeups - wk > 2)  // the sleep's end, and its exit's message
		return fail("cpu %d made %lu threads ready for a sleep and an exit",
		    other, oc->wakeups - wk);

	// 4. Sets and deadlines cross.
	dlball = (struct pollvar){ 0 };
	dltimeouts = 0;
	struct thread *p0 = thread_create(cpunum(), dlplayer, (void *)0);
	struct thread *p1 = thread_create(other, dlplayer, (void *)1);
	thread_join(p0);
	thread_join(p1);
	if (pollvar_read(&dlball) != DL_HANDOFFS)
		return fail("the ball stopped at %lu", pollvar_read(&dlball));
	if (dlball.cpus != 0)
		return fail("cpus 0x%lx after the players left", dlball.cpus);
	kprintf("polldeadline: %d hand-offs with deadlines 5-45 us ahead, %lu waits ended by one\n",
	    DL_HANDOFFS, dltimeouts);
	return NULL;
}

const char *
test_polldeadline(void)
{
	return inthread(deadline_body);
}
