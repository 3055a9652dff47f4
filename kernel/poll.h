// Threads that poll a variable (lesson 06; case 4 of the Toro kernel
// blog's post "Reducing CPU usage on VMs that run Toro", 8 December
// 2017): kernel/poll.c.  Two APIs, and an optional spin before the idle
// loop halts.
//
// 1. Toro's (Dec 2017: SysThreadSwitch and SysThreadActive in the
//    torokernel source's rtl/Process.pas), faithfully, under our names.
//    The thread keeps polling and tells the scheduler how it went:
//
//	poll_nothing()  "I looked and found nothing": the first call registers
//	                the thread as a poller of its core.  Once it has found
//	                nothing for longer than the grace period (grace=<ms>,
//	                200 as in Toro), it has given up (Toro's tsIdle).
//	                Then it yields.
//	poll_worked()   "I did work": its idle time starts again, and it has
//	                not given up any more.
//
//    When every poller of a core has given up and nothing else is ready,
//    the core halts; the next interrupt, any interrupt, makes every poller
//    ready again with its idle time reset.  While some poller has not
//    given up, those that have keep being scheduled.  The flaw, kept on
//    purpose: a write to a variable raises no interrupt, so a halted core
//    sees it only at its next interrupt, and every interrupt restarts the
//    grace period.  With tick=100 and grace=200 the core never stays
//    halted; with tick=none it may never see the write.
//
// 2. The kit's: the thread says what it waits for, and blocks.
//
//	pollvar_wait(v, seen)   blocks until v's value is not seen, and
//	                        returns the value.
//	pollvar_wait_until(v, seen, deadline)
//	                        the same, but also returns once the TSC
//	                        reaches deadline (0: no deadline), the value
//	                        then maybe still seen.
//	pollvar_set(v, value)   stores, and wakes the cores that have a
//	                        waiter on v; an IPI only to those that halt.
//	pollvar_add(v, n)       adds n, and wakes as pollvar_set() does: for a
//	                        variable that more than one core writes.
//
//    A waiting thread is off the run queue (T_WAITING), on its core's list
//    of waiters, which the core looks at in every sched_poll(); so a core
//    whose threads all wait halts at once, with no grace period, and the
//    writer wakes exactly the cores that wait, no others.  A deadline puts
//    the thread on its core's timer queue too, as a sleep does: the
//    tickless one-shot (timer.c) wakes a halted core for it, and no
//    periodic tick is needed.
//
// 3. haltpoll=<max us>: before it halts, the idle loop spins up to a
//    window, looking for work (waiters, inbox, deadlines) with pause, as
//    Linux's cpuidle-haltpoll governor does (Documentation/virt/
//    guest-halt-polling.rst).  The window adapts, from 0 up to max.  0 or
//    absent: no spin.

#ifndef KIT_POLL_H
#define KIT_POLL_H

#include "types.h"
#include "stage.h"
#include "stats.h"

struct thread;

// A variable that threads wait on.  Zero-initialised it holds 0 and has
// no waiter.  value is written by pollvar_set() only.
struct pollvar {
	volatile u64 value;
	volatile u64 cpus;      // bit c: core c has, or may have, a thread waiting on it
};

// A thread's part in both APIs (sched.h's struct thread holds one).  Only
// its core reads or writes it, with interrupts off.
struct pollthread {
	struct thread *next;            // toro: its core's next poller
	u64 idle_since;                 // toro: TSC of its first fruitless poll since it worked; 0: none
	bool poller;                    // toro: registered, by its first poll_nothing()
	bool gaveup;                    // toro: found nothing for longer than the grace period
	struct pollvar *var;            // wait: what it waits on, while T_WAITING
	u64 seen;                       // wait: the value it waits to change
	bool timed;                     // wait: its timer is on its core's timer queue too
	struct thread *waitnext;        // wait: its core's next waiter
};

// Toro's API.
void poll_nothing(void);
void poll_worked(void);
bool poll_gaveup(void);
u64  poll_grace(u64 ms);

// The kit's API.
u64  pollvar_wait(struct pollvar *v, u64 seen);
u64  pollvar_wait_until(struct pollvar *v, u64 seen, u64 deadline);
void pollvar_set(struct pollvar *v, u64 value);
u64  pollvar_add(struct pollvar *v, u64 n);

// The value now, without waiting.
static inline u64
pollvar_read(struct pollvar *v)
{
	return __atomic_load_n(&v->value, __ATOMIC_SEQ_CST);
}

// The scheduler's and the idle loop's side (sched.c, thread.c, idlethread.c).
void poll_init(void);
void poll_check(void);
void poll_timeout(struct thread *t);
void poll_exit(struct thread *t);
bool poll_before_halt(volatile struct cpustats *c);
void poll_after_halt(void);

#endif
