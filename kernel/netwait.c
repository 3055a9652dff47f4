// netwait.c: how the network thread (net.c) waits once a pass has found
// nothing more to do: lesson 06's three ways for a thread that polls,
// applied to a thread that polls a card.
//
//   poll=spin   never block: yield and look again.  The core never idles,
//               whatever idle= says.
//   poll=toro   Toro's API (poll.h): poll_worked() after a pass that took
//               frames, poll_nothing() after one that took none.  The
//               core halts once the thread has found nothing for the
//               grace period (grace=, 200 ms), and then sees a frame at
//               the next interrupt: the card's, since receive interrupts
//               are asked for before each poll_nothing(), as Toro left
//               its card's interrupts on.  A frame that comes while it
//               polls leaves its interrupt pending (interrupts are taken
//               in the idle loop only), which ends the next halt at once
//               and starts the grace period again, as any interrupt did
//               in Toro.  TCP deadlines are the caller's to check on each
//               pass, by polling, as Toro did: a halted core sees one
//               only at its next interrupt.
//   poll=wait   the kit's (the default): ask for receive interrupts, look
//               at the queue once more (vnet_rx_arm), and block in
//               pollvar_wait_until() on net_rxirq, which the receive
//               interrupt's handler bumps, until the next TCP deadline.
//               The core halts at once, and wakes for a frame or for the
//               deadline (the tickless one-shot): no periodic tick, and
//               no wake-up at all while nothing arrives and nothing is due.
//
// idle= still says how the idle loop waits: under idle=spin it spins
// whatever poll= says, and the thread, blocked under poll=wait, is woken
// by the spinning loop's looks.  haltpoll= spins before a halt (poll.c).
//
// Time: deadline_us is in microseconds of the TSC, the clock net_now_us()
// reads, which only goes forward.  net_wakeups counts the returns from a
// wait that blocked: poll=wait's blocks, poll=toro's halts.
//
// Invariants: only the network thread calls net_wait().  The policy is
// one word, which the console thread writes and the network thread reads
// on each pass; a change bumps net_rxirq (a wait ends) and sends the
// network core an IPI (a halt ends, which brings Toro's given-up poller
// back), so a blocked thread looks at the new policy at once.

#include "types.h"
#include "defs.h"
#include "cpu.h"
#include "net.h"
#include "netwait.h"
#include "poll.h"
#include "sched.h"
#include "stats.h"
#include "trap.h"
#include "x86.h"

enum way { SPIN, TORO, WAIT };
static const char *const waynames[] = { [SPIN] = "spin", [TORO] = "toro", [WAIT] = "wait" };
#define NWAY ((int)(sizeof waynames / sizeof waynames[0]))

static volatile enum way way = WAIT;
static u64 taken;               // net_rx_packets at the thread's last net_wait()
static bool poller;             // the thread is one of Toro's pollers (poll.c)

static int
findway(const char *name)
{
	for (int i = 0; i < NWAY; i++)
		if (strcmp(name, waynames[i]) == 0)
			return i;
	return -1;
}

// Before "kit: ready", on the boot CPU: poll=, and the line that says it
// if there is a card.
void
netwait_init(void)
{
	const char *p = cmdline_get("poll");
	int w = p != NULL ? findway(p) : WAIT;

	if (w < 0)
		panic("unknown poll '%s' (poll=spin, poll=toro or poll=wait)", p);
	way = w;
	if (vnet_present())
		kprintf("net: thread on cpu %d waits by %s\n", vnet_cpu(), waynames[way]);
}

const char *
netwait_name(void)
{
	return waynames[way];
}

// The console's "poll <way>": returns false, and nothing changes, if name
// is no way.  See the top for how a blocked thread learns it.
bool
netwait_set(const char *name)
{
	int w = findway(name);

	if (w < 0)
		return false;
	__atomic_store_n(&way, w, __ATOMIC_SEQ_CST);
	if (vnet_present()) {
		pollvar_add(&net_rxirq, 1);
		lapic_send(cpus[vnet_cpu()].apicid, T_IPI);     // this core's own too: pending till its halt
		mystats()->ipis_sent++;
	}
	return true;
}

// Microseconds of the TSC.
u64
net_now_us(void)
{
	u64 t = rdtsc(), hz = kit_stats.tsc_hz;

	return t / hz * 1000000 + t % hz * 1000000 / hz;
}

// The TSC at which net_now_us() reaches us: rounded up, so that a
// deadline's wake-up finds it passed.
static u64
us_tsc(u64 us)
{
	u64 hz = kit_stats.tsc_hz;

	return us / 1000000 * hz + (us % 1000000 * hz + 999999) / 1000000;
}

// <<net-wait
static void
wait_toro(volatile struct cpustats *st)
{
	if (st->net_rx_packets != taken) {
		poll_worked();
		return;
	}
	if (!vnet_rx_arm())
		return;                 // a frame came as it asked: the next pass takes it
	u64 halts = st->halts;
	poller = true;
	poll_nothing();
	if (st->halts != halts)
		st->net_wakeups++;      // it had given up, and an interrupt ended the halt
}

static void
wait_kit(volatile struct cpustats *st, u64 seen, u64 deadline_us)
{
	if (!vnet_rx_arm())
		return;                 // a frame came as it asked: the next pass takes it
	u64 switches = st->ctx_switches;
	pollvar_wait_until(&net_rxirq, seen, deadline_us != 0 ? us_tsc(deadline_us) : 0);
	if (st->ctx_switches != switches)
		st->net_wakeups++;      // it blocked, and a frame, a deadline or the console woke it
}

// The network thread, after a pass: seen is net_rxirq as read before the
// pass, deadline_us the next TCP deadline (0: none).
void
net_wait(u64 seen, u64 deadline_us)
{
	volatile struct cpustats *st = mystats();
	enum way w = __atomic_load_n(&way, __ATOMIC_SEQ_CST);

	if (w != TORO && poller) {
		poll_exit(thread_self());       // a poller no more: its core's count of them drops
		poller = false;
	}
	if (w == SPIN)
		thread_yield();
	else if (w == TORO)
		wait_toro(st);
	else
		wait_kit(st, seen, deadline_us);
	taken = st->net_rx_packets;
}
// >>net-wait
