// sched.c: each core's run queue, its inbox, and schedule().
//
// See sched.h for the model and its invariants.  In short: a core runs
// its ready threads first come first served, each until it calls
// schedule(); when none is ready it runs its idle thread, which waits by
// the idle policy (idlethread.c).  Before each choice the core polls (sched_poll)
// its inbox, for messages from other cores, and its timer queue, for
// deadlines passed, and makes the threads they name ready.
//
// Cross-core wake-ups: a core posts a thread to its core's inbox, a
// lock-free stack, and sends that core an IPI if the inbox was empty.
// Nothing is lost: the receiver empties the whole inbox at once, with
// interrupts off, before it waits; a post after that finds it empty and
// sends an IPI, which stays pending in the receiver's APIC until its
// wait turns interrupts on (idlethread.c), and ends the wait.

#include "types.h"
#include "defs.h"
#include "cpu.h"
#include "sched.h"
#include "stats.h"
#include "trap.h"
#include "x86.h"

struct sched scheds[NCPU_MAX];
static struct thread idlethreads[NCPU_MAX];

struct sched *
mysched(void)
{
	return &scheds[cpunum()];
}

// This core's scheduler, with the context it runs on (its boot stack) as
// its idle thread.  Each core calls it once, on itself.
void
sched_cpu_init(void)
{
	struct sched *s = mysched();
	struct thread *t = &idlethreads[cpunum()];

	t->state = T_RUNNING;
	t->cpu = cpunum();
	s->idle = s->current = t;
}

// Whether this core runs its idle thread: interrupts come only there.
bool
sched_idling(void)
{
	struct sched *s = mysched();

	return s->current == s->idle;
}

// t, of this core, goes to the end of the run queue.
void
sched_ready(struct sched *s, struct thread *t)
{
	t->state = T_READY;
	t->next = NULL;
	if (s->tail != NULL)
		s->tail->next = t;
	else
		s->head = t;
	s->tail = t;
}

static struct thread *
dequeue(struct sched *s)
{
	struct thread *t = s->head;

	if (t != NULL) {
		s->head = t->next;
		if (s->head == NULL)
			s->tail = NULL;
	}
	return t;
}

// <<post
// Ask t's core, another one, to look at t.  If t is in that inbox
// already, its core will look at t after this, which is enough: it reads
// t's state and permit when it looks (thread_deliver), not when posted.
// The push is a compare-and-swap loop (SDM Vol. 2A CMPXCHG with LOCK),
// safe with any number of senders; the one receiver takes the whole
// stack with one xchg, so no node leaves while another sender reads it.
void
sched_post(struct thread *t)
{
	if (__atomic_exchange_n(&t->queued, 1, __ATOMIC_SEQ_CST) != 0)
		return;
	struct sched *dst = &scheds[t->cpu];
	struct thread *old = dst->inbox;
	do
		t->msgnext = old;
	while (!__atomic_compare_exchange_n(&dst->inbox, &old, t, false,
	    __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST));
	if (old == NULL) {                      // the receiver may be waiting
		lapic_send(cpus[t->cpu].apicid, T_IPI);
		mystats()->ipis_sent++;
	}
}
// >>post

#if KIT_STAGE_LEVEL >= STAGE_IDLE
// A setting every core reads changed (idle_set, timer_set): send each
// other core the wake-up IPI, which ends a halt so that the core goes
// round its idle loop and reads the setting anew.
void
sched_kick_others(void)
{
	for (int c = 0; c < ncpu; c++)
		if (c != cpunum()) {
			lapic_send(cpus[c].apicid, T_IPI);
			mystats()->ipis_sent++;
		}
}
#endif

// Take this core's messages and passed deadlines (from stage poll on, its
// waiters' variables too), and make ready the threads they wake.
// Returns whether the run queue has a thread.
bool
sched_poll(void)
{
	struct sched *s = mysched();

	if (s->inbox != NULL) {
		struct thread *t = __atomic_exchange_n(&s->inbox, NULL, __ATOMIC_SEQ_CST);
		struct thread *fifo = NULL;
		while (t != NULL) {             // the inbox is last first: reverse it
			struct thread *n = t->msgnext;
			t->msgnext = fifo;
			fifo = t;
			t = n;
		}
		while (fifo != NULL) {
			struct thread *n = fifo->msgnext;       // before t may be posted again
			thread_deliver(s, fifo);
			fifo = n;
		}
	}
	if (s->timers.head != NULL) {
		u64 now = rdtsc();
		struct timer *tm;
		while ((tm = timer_expired(&s->timers, now)) != NULL) {
			struct thread *t = (struct thread *)((char *)tm - offsetof(struct thread, timer));
#if KIT_STAGE_LEVEL >= STAGE_POLL
			if (t->state == T_WAITING)
				poll_timeout(t);        // a pollvar wait's deadline came first
#endif
			sched_ready(s, t);
			mystats()->wakeups++;
		}
	}
#if KIT_STAGE_LEVEL >= STAGE_POLL
	poll_check();                   // and threads whose variable changed
#endif
	return s->head != NULL;
}

// <<schedule
// Give this core to the next ready thread.  The caller, the current
// thread, has set its state: still T_RUNNING to yield (it goes to the end
// of the run queue), or why it blocks.  Returns when the caller is chosen
// again; at once if it yields and nothing else is ready.
void
schedule(void)
{
	struct sched *s = mysched();
	struct thread *prev = s->current, *next;

	sched_poll();
	if (prev != s->idle && prev->state == T_RUNNING)
		sched_ready(s, prev);
	next = dequeue(s);
	if (next == NULL)
		next = s->idle;
	next->state = T_RUNNING;
	if (next == prev)
		return;
	s->current = next;
	mystats()->ctx_switches++;
	prev = swtch(prev, next);
	thread_tail(prev);              // now on the stack of the caller, chosen again
}
// >>schedule

enum idle_policy sched_policy;          // how idle threads wait: idle=

// Before "kit: ready", on the boot CPU: the policies, and this core's
// scheduler, so that the self-tests can create threads.
void
sched_init(enum idle_policy policy)
{
	sched_policy = policy;
	sched_cpu_init();
	timer_init();
	kprintf("sched: idle=%s\n", idle_policy_name(policy));
#if KIT_STAGE_LEVEL >= STAGE_POLL
	poll_init();                    // grace=, haltpoll=
#endif
}

// An AP's last work: its scheduler, for good.
static void
sched_ap(void *arg)
{
	(void)arg;
	sched_cpu_init();
	timer_start();
	mysched()->started = true;
	idle_until(NULL);
	panic("sched: cpu %d: the idle thread returned", cpunum());
}

// Start every core's scheduler, once: the timer here, and each AP's
// idle thread.  The APs never come back, so no onall() may follow.
void
sched_start(void)
{
	struct sched *s = mysched();

	if (s->started)
		return;
	timer_start();
	s->started = true;
#if KIT_STAGE_LEVEL >= STAGE_CORES
	if (ncpu > 1)
		onaps(sched_ap, NULL);
#endif
}
