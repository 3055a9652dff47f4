// poll.c: threads that poll a variable: Toro's two calls, the kit's
// pollvar, and the idle loop's spin before it halts.  poll.h says what
// each call does; this file says how, and why no wake-up is lost.
//
//   grace=<ms>        Toro: how long a poller finds nothing before it
//                     gives up (default 200, Toro's WAIT_IDLE_THREAD_MS)
//   haltpoll=<us>     the longest spin before a halt; 0 or absent: none
//
// A core's record here (struct pollcpu) and its threads' (struct
// pollthread) change only on that core, with interrupts off (trap.c), so
// they need no lock.  Other cores read two things only: a pollvar, and a
// core's halting flag.

#include "types.h"
#include "defs.h"
#include "cpu.h"
#include "poll.h"
#include "sched.h"
#include "stats.h"
#include "trap.h"
#include "x86.h"

#define GRACE_MS      200       // Toro's WAIT_IDLE_THREAD_MS
#define GROW_START_US 50        // haltpoll: the first window (guest_halt_poll_grow_start)

static u64 grace_ms, grace_tsc;
static u64 haltpoll_max;        // TSC ticks; 0: no spin
static u64 haltpoll_start;      // TSC ticks

static struct pollcpu {
	volatile u32 halting;   // 1 from the idle loop's last look until its halt ends
	struct thread *waiters; // its threads in pollvar_wait(), last first
	struct thread *pollers; // Toro: its registered pollers
	int npollers;           // Toro's PollingThreadTotal
	int ngaveup;            // Toro's PollingThreadCount: the pollers that gave up
	int nparked;            // Toro: of those, the ones off the run queue (T_POLLIDLE)
	u64 window;             // haltpoll: TSC ticks to spin before the next halt
	u64 idle_since;         // haltpoll: TSC when the idle loop began this wait
} pollcpus[NCPU_MAX] __attribute__((aligned(64)));

static struct pollcpu *
mypollcpu(void)
{
	return &pollcpus[cpunum()];
}

// Read grace= and haltpoll= before "kit: ready".
void
poll_init(void)
{
	u64 us = cmdline_num("haltpoll", 0, 0, 1000000);

	poll_grace(cmdline_num("grace", GRACE_MS, 0, 600000));
	haltpoll_max = us_to_tsc(us);
	haltpoll_start = us_to_tsc(us < GROW_START_US ? us : GROW_START_US);
	if (us != 0)
		kprintf("poll: grace %lu ms, haltpoll up to %lu us\n", grace_ms, us);
	else
		kprintf("poll: grace %lu ms, haltpoll off\n", grace_ms);
}

// Set the grace period; returns the one before (the self-tests shorten it).
u64
poll_grace(u64 ms)
{
	u64 old = grace_ms;

	grace_ms = ms;
	grace_tsc = ms_to_tsc(ms);
	return old;
}

// Make ready the pollers of this core that wait for a halt to end; with
// reset, every poller also starts again as one that has not given up.
static void
ready_pollers(struct pollcpu *pc, bool reset)
{
	struct sched *s = mysched();

	for (struct thread *t = pc->pollers; t != NULL; t = t->poll.next) {
		if (t->state == T_POLLIDLE) {
			sched_ready(s, t);
			mystats()->wakeups++;
		}
		if (reset) {
			t->poll.gaveup = false;
			t->poll.idle_since = 0;
		}
	}
	pc->nparked = 0;
	if (reset)
		pc->ngaveup = 0;
}

// <<poll-nothing
// Toro's SysThreadSwitch(True).  A poller that gave up keeps being
// scheduled while another poller of its core has not; once all have,
// each leaves the run queue at its next call (T_POLLIDLE), and the core
// halts when nothing else is ready.  Only an interrupt brings them back
// (poll_after_halt): a write to the variable they poll raises none.
// With idle=spin the core never halts, and they stay on the run queue.
void
poll_nothing(void)
{
	struct thread *me = thread_self();
	struct pollthread *p = &me->poll;
	struct pollcpu *pc = mypollcpu();
	u64 now = rdtsc();

	if (me == mysched()->idle)
		panic("poll_nothing: the idle thread of cpu %d cannot poll", cpunum());
	if (!p->poller) {                       // the first call: register
		p->poller = true;
		p->next = pc->pollers;
		pc->pollers = me;
		pc->npollers++;
	}
	if (p->idle_since == 0) {
		p->idle_since = now;
	} else if (!p->gaveup && now - p->idle_since > grace_tsc) {
		p->gaveup = true;
		pc->ngaveup++;
	}
	if (p->gaveup && pc->ngaveup == pc->npollers && sched_policy == IDLE_HLT) {
		me->state = T_POLLIDLE;
		pc->nparked++;
	}
	schedule();                     // a yield, unless it left the run queue
}
// >>poll-nothing

// <<poll-worked
// Toro's SysThreadActive.  Toro reset the idle time only of a thread
// that had given up; "I did work" resets it always.  If the others had
// left the run queue, they are scheduled again: not all have given up.
void
poll_worked(void)
{
	struct pollthread *p = &thread_self()->poll;
	struct pollcpu *pc = mypollcpu();

	p->idle_since = 0;
	if (p->gaveup) {
		p->gaveup = false;
		pc->ngaveup--;
		ready_pollers(pc, false);
	}
}
// >>poll-worked

// Whether the calling thread has given up polling (the self-tests ask).
bool
poll_gaveup(void)
{
	return thread_self()->poll.gaveup;
}

// t, of this core, exits: it is a poller no more (Toro counted it until
// 2019, and a core with a dead poller never halted again).
void
poll_exit(struct thread *t)
{
	struct pollcpu *pc = mypollcpu();

	if (!t->poll.poller)
		return;
	for (struct thread **pp = &pc->pollers; *pp != NULL; pp = &(*pp)->poll.next)
		if (*pp == t) {
			*pp = t->poll.next;
			break;
		}
	pc->npollers--;
	if (t->poll.gaveup)
		pc->ngaveup--;
	t->poll.poller = t->poll.gaveup = false;
}

// <<pollvar-wait
// Block until v's value is not seen, or, given a deadline (a TSC value;
// 0: none), until the TSC reaches it; return the value.  The thread
// first marks its core in v->cpus, then looks at the value: both
// seq_cst, a locked RMW and a load after it, which x86 does not reorder
// (SDM Vol. 3A 9.2.3.9 Loads and Stores Are Not Reordered with Locked
// Instructions).  pollvar_set() stores the value, then reads cpus.  So
// either this look sees the new value, or the writer sees the bit and
// wakes the core (pollvar-set below).
//
// With a deadline the thread is on two lists of its core at once: its
// waiters (poll_check) and its timer queue, by its struct timer, as
// thread_sleep_until() puts it there; the idle loop arms the tickless
// one-shot for the queue's head, so a halted core wakes for it.  Both
// lists are looked at by this core only, in sched_poll(), with
// interrupts off, one after the other; so the two wake-ups never race:
// the first to find the thread makes it ready and takes it off the
// other list (poll_check takes its timer off the queue, poll_timeout
// takes it off the waiters), and the second does not find it.  A value
// set and a deadline passed by the same look wake it once.  An IPI or a
// one-shot that comes for a thread woken already only ends a halt: the
// idle loop finds nothing, and halts again.
//
// A woken thread looks again: the value may have come back to seen; it
// then waits again, unless the deadline has passed.
u64
pollvar_wait_until(struct pollvar *v, u64 seen, u64 deadline)
{
	struct thread *me = thread_self();
	struct pollcpu *pc = mypollcpu();
	u64 bit = 1ULL << cpunum(), now;

	if (me == mysched()->idle)
		panic("pollvar_wait: the idle thread of cpu %d cannot block", cpunum());
	for (;;) {
		__atomic_fetch_or(&v->cpus, bit, __ATOMIC_SEQ_CST);
		now = __atomic_load_n(&v->value, __ATOMIC_SEQ_CST);
		if (now != seen || (deadline != 0 && rdtsc() >= deadline))
			break;
		me->poll.var = v;
		me->poll.seen = seen;
		me->poll.waitnext = pc->waiters;
		pc->waiters = me;
		me->poll.timed = deadline != 0;
		if (me->poll.timed) {
			me->timer.when = deadline;
			timer_add(&mysched()->timers, &me->timer);
		}
		me->state = T_WAITING;
		schedule();             // back once poll_check() saw the value change, or the deadline came
	}
	// The bit goes when no thread of this core waits on v any more: only
	// this core's threads set or clear it, one at a time.  A set after
	// this finds no bit, and wakes nobody here.
	for (struct thread *t = pc->waiters; t != NULL; t = t->poll.waitnext)
		if (t->poll.var == v)
			return now;
	__atomic_fetch_and(&v->cpus, ~bit, __ATOMIC_SEQ_CST);
	return now;
}

// No deadline: until the value changes.
u64
pollvar_wait(struct pollvar *v, u64 seen)
{
	return pollvar_wait_until(v, seen, 0);
}
// >>pollvar-wait

// From sched_poll(), in every schedule() and in the idle loop's looks:
// make ready the waiters whose variable changed.  (And Toro's pollers
// that wait for a halt, should the idle policy have become spin since
// they left the run queue: a core that does not halt cannot keep them.)
void
poll_check(void)
{
	struct pollcpu *pc = mypollcpu();
	struct thread **pp = &pc->waiters, *t;

	if (pc->nparked != 0 && sched_policy != IDLE_HLT)
		ready_pollers(pc, true);

	while ((t = *pp) != NULL) {
		if (__atomic_load_n(&t->poll.var->value, __ATOMIC_SEQ_CST) != t->poll.seen) {
			*pp = t->poll.waitnext;
			t->poll.var = NULL;
			if (t->poll.timed) {            // the value came first: the deadline goes
				timer_remove(&mysched()->timers, &t->timer);
				t->poll.timed = false;
			}
			sched_ready(mysched(), t);
			mystats()->wakeups++;
		} else {
			pp = &t->poll.waitnext;
		}
	}
}

// From sched_poll(): t's deadline in pollvar_wait_until() came before
// its value changed, and sched_poll() took t's timer off the queue; take
// t off the waiters too, before sched_poll() makes it ready.
void
poll_timeout(struct thread *t)
{
	struct thread **pp = &mypollcpu()->waiters;

	while (*pp != NULL && *pp != t)
		pp = &(*pp)->poll.waitnext;
	if (*pp == NULL)
		panic("poll: cpu %d: a timed-out waiter is not on the waiters", cpunum());
	*pp = t->poll.waitnext;
	t->poll.var = NULL;
	t->poll.timed = false;
}

// <<pollvar-set
// Store value, then wake the other cores that have a waiter on v.  This
// core needs no wake-up: it runs, and its next schedule() looks.  A core
// that runs, or spins in its idle loop, looks on its own before it halts;
// only a core whose halting flag is up needs an IPI.  The handshake is
// Dekker's: the writer stores the value then reads the flag, the idle
// loop stores the flag then reads the value (poll_before_halt), all
// seq_cst, so at least one of them sees the other's store.  (A load may
// pass an earlier store to another place, SDM Vol. 3A 9.2.3.4; the
// store here is an XCHG, locked by itself (Vol. 2B XCHG), and a load does
// not pass a locked instruction, 9.2.3.9.)  Either the core sees
// the value in its last look and does not halt, or the writer sees the
// flag and sends the IPI, which stays pending until the core's sti; hlt
// and ends the halt.  At worst the IPI finds the core just awake, and
// ends its next halt early.  A set that does not change the value wakes
// nobody.  From threads only, not from the idle loop.
static void wake(struct pollvar *v);

void
pollvar_set(struct pollvar *v, u64 value)
{
	if (__atomic_exchange_n(&v->value, value, __ATOMIC_SEQ_CST) != value)
		wake(v);
}

// The same for a variable that several cores write: a locked add
// (SDM Vol. 2A XADD with LOCK) loses no other core's change, and orders
// the read of cpus after it as the XCHG above does.  Returns the value
// before.
u64
pollvar_add(struct pollvar *v, u64 n)
{
	u64 old = __atomic_fetch_add(&v->value, n, __ATOMIC_SEQ_CST);

	if (n != 0)
		wake(v);
	return old;
}

// After a store that changed v's value: an IPI to each other core that
// has a waiter on v and whose halting flag is up.
static void
wake(struct pollvar *v)
{
	volatile struct cpustats *st = mystats();
	u64 mask = __atomic_load_n(&v->cpus, __ATOMIC_SEQ_CST) & ~(1ULL << cpunum());
	while (mask != 0) {
		int c = __builtin_ctzll(mask);
		mask &= mask - 1;
		if (__atomic_load_n(&pollcpus[c].halting, __ATOMIC_SEQ_CST)) {
			lapic_send(cpus[c].apicid, T_IPI);
			st->ipis_sent++;
		} else {
			st->poll_ipis_skipped++;
		}
	}
}
// >>pollvar-set

// <<haltpoll
// Spin up to this core's window before a halt, looking for work with
// pause (SDM Vol. 2B PAUSE).  The wake-ups of threads are in memory (the
// inbox, the timer queue by the TSC, the waiters), so a look catches them
// without an interrupt; a device's come as an interrupt (the network
// card's MSI-X, whose handler bumps the variable its thread waits on), so
// each turn also opens a window for interrupts, as Linux's polling idle
// state spins with interrupts on.  Returns whether one caught work.
static bool
haltpoll(struct pollcpu *pc)
{
	u64 end = pc->idle_since + pc->window;

	if (pc->window == 0)
		return false;
	while (rdtsc() < end) {
		if (sched_poll())
			return true;
		pause();
		intr_window();
	}
	return false;
}

// After a halt that ended block TSC ticks after the wait began, adapt
// the window as Linux's haltpoll governor does (adjust_poll_limit): a
// wake-up after the window but within the max grows it (doubles it, to
// at least grow_start, at most the max); a halt longer than the max
// shrinks it (halves it, to 0 below grow_start).
static void
adapt(struct pollcpu *pc, u64 block)
{
	if (haltpoll_max == 0)
		return;
	if (block > pc->window && block <= haltpoll_max) {
		u64 w = pc->window * 2;
		pc->window = w < haltpoll_start ? haltpoll_start : w > haltpoll_max ? haltpoll_max : w;
	} else if (block > haltpoll_max) {
		u64 w = pc->window / 2;
		pc->window = w < haltpoll_start ? 0 : w;
	}
}
// >>haltpoll

// <<halting
// The idle loop, interrupts off, before it halts: spin a while if
// haltpoll= asks, then raise the halting flag (seq_cst), and only then
// take the last look, at the waiters too (sched_poll, poll_check): a
// pollvar_set() after that look sees the flag and sends an IPI.  Returns
// whether work came, and the core must not halt.
bool
poll_before_halt(volatile struct cpustats *c)
{
	struct pollcpu *pc = mypollcpu();

	pc->idle_since = rdtsc();
	if (haltpoll(pc)) {
		c->haltpoll_hits++;
		return true;
	}
	__atomic_store_n(&pc->halting, 1, __ATOMIC_SEQ_CST);
	if (sched_poll()) {
		pc->halting = 0;
		return true;
	}
	return false;
}

// The idle loop, interrupts off, after a halt.  Toro: if every poller had
// given up, the interrupt that ended the halt, whichever it was, makes
// them all ready, their idle time reset.  Here interrupts are taken in
// the idle loop only (trap.c), so a tick that came while the pollers spun
// waits in the APIC and ends their next halt at once: with a periodic
// tick shorter than the grace period the core is all but never halted.
void
poll_after_halt(void)
{
	struct pollcpu *pc = mypollcpu();

	pc->halting = 0;
	adapt(pc, rdtsc() - pc->idle_since);
	if (pc->npollers != 0 && pc->ngaveup == pc->npollers)
		ready_pollers(pc, true);
}
// >>halting
