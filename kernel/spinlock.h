// Spin locks (kernel/spinlock.c): one interface, several kinds.

#ifndef KIT_SPINLOCK_H
#define KIT_SPINLOCK_H

#include "types.h"
#include "stage.h"

struct cpu;

enum lockkind {
	LOCK_TAS,               // test-and-set (lesson 02)
	LOCK_TTAS,              // test-and-test-and-set (lesson 03)
	LOCK_TICKET,            // ticket lock (lesson 03)
	NLOCKKIND               // how many kinds there are
};

// A lock of any kind; each kind uses its own fields.  The kind is fixed
// where the lock is defined, e.g.
//	static struct spinlock conslock = { .kind = LOCK_TAS };
// Invariant: while no CPU holds the lock, locked == 0, next == owner and
// holder == NULL, which is also the all-zero state a static lock starts in.
struct spinlock {
	enum lockkind kind;
	volatile u32 locked;    // tas, ttas: 1 while a CPU holds the lock
	volatile u32 next;      // ticket: the ticket the next CPU to come takes
	volatile u32 owner;     // ticket: the ticket of the CPU allowed in
	struct cpu *holder;     // the CPU that holds the lock, NULL if none
};

extern bool spin_pause;
extern const char *const lock_kinds[NLOCKKIND];  // their names, lock=<name> (locks.c)

void spinlock_init(void);
u64  acquire(struct spinlock *l);       // returns the spins it took
void release(struct spinlock *l);
bool holding(const struct spinlock *l);

// locks.c, lesson 03's app: every CPU increments one counter under l.
u64  locks_contend(struct spinlock *l, u64 ticks, u64 *lost);

#endif
