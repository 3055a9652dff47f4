// thread.c: threads: create, yield, sleep, park and unpark, exit, join.
//
// Threads come from a static pool of NTHREAD, each with a stack of
// TSTACKSIZE; the pool is shared by every core, under a lock, and a
// thread goes back to it when joined.  sched.h states the invariants.
//
// Blocking and waking use one primitive, a permit per thread, as in
// java.util.concurrent's LockSupport: unpark(t) gives t the permit, and
// park() takes it, waiting for it if t does not hold it yet.  A permit
// given before the park is not lost, so a waker need not know whether
// the thread it wakes has blocked yet.  park() may return with the
// condition its caller waits for still false (another unpark meant for
// an earlier wait); callers test their condition in a loop.

#include "types.h"
#include "defs.h"
#include "cpu.h"
#include "sched.h"
#include "spinlock.h"
#include "stats.h"
#include "x86.h"

static struct thread pool[NTHREAD];
static char stacks[NTHREAD][TSTACKSIZE] __attribute__((aligned(16)));
static struct thread *freelist;
static struct spinlock poollock = { .kind = LOCK_TICKET };

static struct thread *
thread_alloc(void)
{
	static bool filled;
	struct thread *t;

	acquire(&poollock);
	if (!filled) {
		for (int i = NTHREAD - 1; i >= 0; i--) {
			pool[i].stack = (uptr)stacks[i];
			pool[i].next = freelist;
			freelist = &pool[i];
		}
		filled = true;
	}
	t = freelist;
	if (t != NULL)
		freelist = t->next;
	release(&poollock);
	if (t == NULL)
		panic("thread: all %d threads are in use", NTHREAD);
	return t;
}

static void
thread_free(struct thread *t)
{
	t->state = T_FREE;
	acquire(&poollock);
	t->next = freelist;
	freelist = t;
	release(&poollock);
}

struct thread *
thread_self(void)
{
	return mysched()->current;
}

// A new thread that runs fn(arg) on core cpu, this one or another: it is
// made ready there by a message, and runs there only.  It does not wait
// for the other core, so the idle thread may call it too.
struct thread *
thread_create(int cpu, void (*fn)(void *), void *arg)
{
	if (cpu < 0 || cpu >= ncpu)
		panic("thread_create: no cpu %d (%d cpus)", cpu, ncpu);
	struct thread *t = thread_alloc();
	uptr stack = t->stack;

	*t = (struct thread){ .state = T_NEW, .cpu = cpu, .fn = fn, .arg = arg,
	    .stack = stack, .lock = { .kind = LOCK_TAS } };
	// The frame swtch pops: six callee-saved registers (zero) and its
	// return address, thread_start, which then finds RSP at the top of
	// the stack, 16-byte aligned.
	u64 *sp = (u64 *)(stack + TSTACKSIZE) - 7;
	memset(sp, 0, 6 * sizeof *sp);
	sp[6] = (uptr)thread_start;
	t->sp = (uptr)sp;

	if (cpu == cpunum())
		sched_ready(mysched(), t);
	else
		sched_post(t);
	return t;
}

// The first thing a new thread runs, from swtch.S's thread_start.
_Noreturn void thread_entry(struct thread *prev);

_Noreturn void
thread_entry(struct thread *prev)
{
	thread_tail(prev);
	struct thread *t = thread_self();
	t->fn(t->arg);
	thread_exit();
}

static void finish_exit(struct thread *t);

// A message about t, taken from this core's inbox (sched.c).
void
thread_deliver(struct sched *s, struct thread *t)
{
	if (t->state == T_EXITING && t != s->current) {
		finish_exit(t);         // thread_tail left it to this message
		return;
	}
	__atomic_store_n(&t->queued, 0, __ATOMIC_SEQ_CST);     // then read the state
	if (t->state == T_NEW) {
		sched_ready(s, t);
	} else if (t->state == T_PARKED && t->permit) {
		sched_ready(s, t);
		mystats()->wakeups++;
	}
}

// Wait for the permit, and take it.
void
park(void)
{
	struct thread *me = thread_self();

	if (me == mysched()->idle)
		panic("park: the idle thread of cpu %d cannot block", cpunum());
	while (__atomic_exchange_n(&me->permit, 0, __ATOMIC_SEQ_CST) == 0) {
		me->state = T_PARKED;
		schedule();             // back once a permit came: thread_deliver, unpark
	}
}

// Give t the permit; wake t if it is parked.  t must not be joined yet.
// Only the giving of a permit that t did not hold wakes: one message per
// permit at most.
void
unpark(struct thread *t)
{
	if (__atomic_exchange_n(&t->permit, 1, __ATOMIC_SEQ_CST) != 0)
		return;
	if (t->cpu != cpunum()) {
		sched_post(t);
	} else if (t->state == T_PARKED) {
		sched_ready(mysched(), t);
		mystats()->wakeups++;
	}
}

// <<yield-sleep
void
thread_yield(void)
{
	schedule();
}

// Block for at least ms milliseconds: the thread waits on its core's
// timer queue, and the core polls the queue in each schedule() and
// after each wake-up of its idle loop (the timer's interrupt ends a halt).
void
thread_sleep(u64 ms)
{
	thread_sleep_until(rdtsc() + ms_to_tsc(ms));
}

// Block until the TSC reaches deadline (at once if it has).
void
thread_sleep_until(u64 deadline)
{
	struct thread *me = thread_self();

	if (me == mysched()->idle)
		panic("sleep: the idle thread of cpu %d cannot block", cpunum());
	me->timer.when = deadline;
	timer_add(&mysched()->timers, &me->timer);
	me->state = T_SLEEPING;
	schedule();
}
// >>yield-sleep

_Noreturn void
thread_exit(void)
{
#if KIT_STAGE_LEVEL >= STAGE_POLL
	poll_exit(thread_self());
#endif
	thread_self()->state = T_EXITING;
	schedule();
	panic("thread_exit: an exited thread ran");
}

// The end of an exit, on t's core once it is off t's stack: t becomes a
// zombie, and its joiner, if any, learns it.
static void
finish_exit(struct thread *t)
{
	acquire(&t->lock);
	t->state = T_ZOMBIE;
	if (t->joiner != NULL)
		unpark(t->joiner);      // inside the lock: the joiner stays in join until we are done
	release(&t->lock);
}

// After each switch, on the new stack: prev, if it exited, can now be
// finished.  Not while a message about it is in the inbox, though (the
// pool would hand it out while listed): claiming queued stops any new
// post, and a message already in flight finishes it when it arrives.
void
thread_tail(struct thread *prev)
{
	if (prev->state == T_EXITING &&
	    __atomic_exchange_n(&prev->queued, 1, __ATOMIC_SEQ_CST) == 0)
		finish_exit(prev);
}

// Wait until t has exited, then return it to the pool.  One joiner a
// thread.  The joiner registers under t's lock and t's core wakes it
// under the same lock, so neither misses the other.
void
thread_join(struct thread *t)
{
	acquire(&t->lock);
	while (t->state != T_ZOMBIE) {
		t->joiner = thread_self();
		release(&t->lock);
		park();
		acquire(&t->lock);
	}
	release(&t->lock);
	thread_free(t);
}

// Join t if it has exited, without waiting: for the idle thread, which
// cannot block.  Returns whether t was reaped.
bool
thread_reap(struct thread *t)
{
	acquire(&t->lock);
	bool done = t->state == T_ZOMBIE;
	release(&t->lock);
	if (done)
		thread_free(t);
	return done;
}
