// Threads, the per-core scheduler and the timer queue (kernel/thread.c,
// sched.c, timer.c), in the Toro unikernel's model (its scheduler, in the
// torokernel source's rtl/Process.pas): each core schedules its own
// threads, cooperatively, and cores talk by messages, never by sharing a
// run queue.
//
// Invariants:
//  - A thread lives on the core it was created for (t->cpu) and runs
//    nowhere else.  Its state, run-queue link and timer change only on
//    that core, with interrupts off (trap.c), so the per-core lists need
//    no lock.  What other cores touch is atomic: permit, queued, the
//    inbox, and joiner under lock.
//  - A thread switches only when it calls schedule(): to yield, block
//    (park, sleep, join) or exit.  Nothing preempts it.
//  - Each core has an idle thread, the context it booted on (its boot
//    stack): never on the run queue, always runnable, it runs the idle
//    loop (idlethread.c) whenever no other thread is ready.
//  - The one message a core receives is a thread: "look at this thread
//    of yours" (new: adopt it; parked with a permit: wake it).  Its link
//    lives in the thread, and queued says it is in an inbox, so a thread
//    is in at most one inbox, its own core's, at a time.

#ifndef KIT_SCHED_H
#define KIT_SCHED_H

#include "types.h"
#include "stage.h"
#include "spinlock.h"
#include "stats.h"
#if KIT_STAGE_LEVEL >= STAGE_POLL
#include "poll.h"
#endif

#define NTHREAD    128          // threads in the pool, all cores together
#define TSTACKSIZE 16384        // bytes of stack a thread

enum tstate {
	T_FREE,         // in the pool
	T_NEW,          // created; on its way to its core's run queue
	T_READY,        // on its core's run queue
	T_RUNNING,      // its core runs it (each idle thread always is)
	T_PARKED,       // blocked until it holds a permit (park, unpark)
	T_SLEEPING,     // blocked until its deadline, on its core's timer queue
	T_EXITING,      // done, but its core may still be on its stack
	T_ZOMBIE,       // done and off every list: join returns it to the pool
#if KIT_STAGE_LEVEL >= STAGE_POLL
	T_POLLIDLE,     // a poller that gave up, as did all of its core's: until an interrupt (poll.c)
	T_WAITING,      // blocked until a pollvar changes, on its core's waiters (poll.c),
	                // and, with a deadline, on its timer queue too
#endif
};

// A deadline on a core's timer queue, in TSC ticks.
struct timer {
	u64 when;
	struct timer *next;     // the next deadline, not earlier
};

// One core's timer queue: deadlines sorted, earliest first.
struct timerq {
	struct timer *head;
	u64 armed;              // tick=none: the deadline the one-shot is set for, 0 if none
};

// <<struct-thread
struct thread {
	u64 sp;                         // its saved RSP while it does not run: offset 0 (swtch.S)
	enum tstate state;
	int cpu;                        // its core, for good
	void (*fn)(void *);
	void *arg;
	struct thread *next;            // its core's run queue, or the pool's free list
	struct thread *msgnext;         // its core's inbox
	volatile u32 queued;            // 1 while in the inbox, or claimed by exit
	volatile u32 permit;            // 1: the next park() returns at once
	struct timer timer;             // its sleep deadline, or its wait's (poll.c)
	struct spinlock lock;           // guards joiner and the move to T_ZOMBIE
	struct thread *joiner;          // the thread waiting in join, if any
	uptr stack;                     // its stack's lowest byte; 0: a boot stack
#if KIT_STAGE_LEVEL >= STAGE_POLL
	struct pollthread poll;         // its part in the polling APIs (poll.h)
#endif
};
// >>struct-thread

struct sched {
	struct thread *current;         // the thread this core runs
	struct thread *idle;            // its idle thread
	struct thread *head, *tail;     // the run queue, first come first served
	struct thread *volatile inbox;  // messages from other cores, last first
	struct timerq timers;
	bool started;                   // its timer is set up and it schedules
} __attribute__((aligned(64)));        // one cache line at least a core

extern struct sched scheds[NCPU_MAX];

// sched.c
struct sched  *mysched(void);
void           sched_cpu_init(void);
void           schedule(void);
bool           sched_poll(void);
void           sched_post(struct thread *t);
void           sched_kick_others(void);
void           sched_ready(struct sched *s, struct thread *t);
bool           sched_idling(void);

// swtch.S
struct thread *swtch(struct thread *prev, struct thread *next);
void           thread_start(void);

// thread.c
struct thread *thread_create(int cpu, void (*fn)(void *), void *arg);
struct thread *thread_self(void);
_Noreturn void thread_exit(void);
void           thread_join(struct thread *t);
bool           thread_reap(struct thread *t);
void           thread_yield(void);
void           thread_sleep(u64 ms);
void           thread_sleep_until(u64 deadline);
void           park(void);
void           unpark(struct thread *t);
void           thread_tail(struct thread *prev);
void           thread_deliver(struct sched *s, struct thread *t);

// timer.c
#define TICK_MAX_HZ    10000    // tick=<Hz>: from 1 to this
void           timer_init(void);
void           timer_start(void);
void           timer_add(struct timerq *q, struct timer *tm);
struct timer  *timer_expired(struct timerq *q, u64 now);
void           timer_remove(struct timerq *q, struct timer *tm);
void           timer_arm(struct timerq *q);
void           timer_irq(void);
u64            ms_to_tsc(u64 ms);
u64            us_to_tsc(u64 us);
#if KIT_STAGE_LEVEL >= STAGE_IDLE
long           timer_set(const char *v);
u64            timer_hz(void);
void           timer_sync(void);
#endif

// idlethread.c
void           idle_until(struct thread *t);

#endif
