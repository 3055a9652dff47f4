// schedtest.c: the self-tests of lesson 04, run by selftest.c after the
// others: the first starts every core's scheduler, after which no
// onall() can run.
//
// Each test's body runs in a thread on the boot CPU, which meanwhile
// idles by the policy (idle_until): the body may block, the boot CPU's
// idle thread may not.

#include "types.h"
#include "defs.h"
#include "cpu.h"
#include "sched.h"
#include "stats.h"
#include "x86.h"

static const char *(*body)(void);
static const char *result;

static void
runbody(void *arg)
{
	(void)arg;
	result = body();
}

// fn's verdict, fn run in a thread on this core.
const char *
inthread(const char *(*fn)(void))
{
	sched_start();
	body = fn;
	result = NULL;
	idle_until(thread_create(cpunum(), runbody, NULL));
	return result;
}

// Yield ordering: three threads of one core, each yielding after it
// writes its letter, take turns in the order they were created.
static char order[16];
static int norder;

static void
yielder(void *arg)
{
	for (int i = 0; i < 3; i++) {
		order[norder++] = *(const char *)arg;
		thread_yield();
	}
}

static const char *
yield_body(void)
{
	static const char names[] = "ABC";
	struct thread *t[3];
	u64 sw = mystats()->ctx_switches;

	norder = 0;
	for (int i = 0; i < 3; i++)
		t[i] = thread_create(cpunum(), yielder, (void *)&names[i]);
	for (int i = 0; i < 3; i++)
		thread_join(t[i]);
	order[norder] = '\0';
	if (strcmp(order, "ABCABCABC") != 0)
		return fail("order '%s', want 'ABCABCABC'", order);
	if (mystats()->ctx_switches - sw < 9)
		return fail("%lu switches, want 9 at least", mystats()->ctx_switches - sw);
	return NULL;
}

const char *
test_yield(void)
{
	return inthread(yield_body);
}

// Sleep: a sleeper wakes no earlier than its deadline (how much later is
// printed, not judged: it depends on the idle policy and the tick), and
// sleepers of one core wake in the order of their deadlines.
static const u64 naps[] = { 30, 10, 20 };
static u64 woke[3];
static int nwoke;

static void
napper(void *arg)
{
	thread_sleep(*(const u64 *)arg);
	woke[nwoke++] = *(const u64 *)arg;
}

static const char *
sleep_body(void)
{
	static const u64 ms[] = { 1, 5, 20 };
	struct thread *t[3];
	u64 hz = kit_stats.tsc_hz;

	for (size_t i = 0; i < sizeof ms / sizeof ms[0]; i++) {
		u64 t0 = rdtsc(), want = ms_to_tsc(ms[i]);
		thread_sleep(ms[i]);
		u64 took = rdtsc() - t0;
		if (took < want)
			return fail("sleep(%lu) woke after %lu us", ms[i], took * 1000000 / hz);
		kprintf("sleep: %lu ms, woke %lu us late\n", ms[i], (took - want) * 1000000 / hz);
	}
	nwoke = 0;
	for (int i = 0; i < 3; i++)
		t[i] = thread_create(cpunum(), napper, (void *)&naps[i]);
	for (int i = 0; i < 3; i++)
		thread_join(t[i]);
	if (nwoke != 3 || woke[0] != 10 || woke[1] != 20 || woke[2] != 30)
		return fail("%d woke, in the order %lu %lu %lu", nwoke, woke[0], woke[1], woke[2]);
	return NULL;
}

const char *
test_sleep(void)
{
	return inthread(sleep_body);
}

// Cross-core create and join: a thread created for core c runs on core c
// only, also after it has slept and yielded.
static volatile int ran[NCPU_MAX];

static void
where(void *arg)
{
	int want = (int)(uptr)arg, before = cpunum();

	thread_sleep(2);
	thread_yield();
	ran[want] = before == want && cpunum() == want ? want + 1 : -1 - before;
}

static const char *
remote_body(void)
{
	struct thread *t[NCPU_MAX];

	for (int c = 0; c < ncpu; c++) {
		ran[c] = 0;
		t[c] = thread_create(c, where, (void *)(uptr)c);
	}
	for (int c = 0; c < ncpu; c++)
		thread_join(t[c]);
	for (int c = 0; c < ncpu; c++)
		if (ran[c] != c + 1)
			return fail("the thread for cpu %d ran on cpu %d", c, ran[c] > 0 ? ran[c] - 1 : -ran[c] - 1);
	return NULL;
}

const char *
test_remote(void)
{
	return inthread(remote_body);
}

// Ping-pong: two threads, on two cores if there are two, pass a ball
// back and forth; each waits parked for its turn and wakes the other.
// The ball moves MOVES times, and each move but the last wakes the other
// player: WAKES wake-ups, each needed.  Lose one, and both players wait
// for ever (the host's timeout reports it).
#define WAKES 100000
#define MOVES (WAKES + 1)

static struct {
	volatile u64 ball;              // player n moves it when ball % 2 == n
	struct thread *player[2];
	volatile bool go;
} pp;

static void
player(void *arg)
{
	u64 me = (uptr)arg, moves = (MOVES - me + 1) / 2;

	while (!pp.go)
		park();
	for (u64 k = 0; k < moves; k++) {
		while (pp.ball % 2 != me)
			park();
		pp.ball++;
		if (pp.ball < MOVES)
			unpark(pp.player[!me]);         // it has a move left: not exited
	}
}

static const char *
pingpong_body(void)
{
	int other = ncpu > 1 ? 1 : 0;
	u64 sent = 0, got = 0, hz = kit_stats.tsc_hz;

	pp.ball = 0;
	pp.go = false;
	pp.player[0] = thread_create(cpunum(), player, (void *)0);
	pp.player[1] = thread_create(other, player, (void *)1);
	for (int c = 0; c < ncpu; c++) {
		sent -= kit_stats.cpu[c].ipis_sent;
		got -= kit_stats.cpu[c].ipis_received;
	}
	u64 t0 = rdtsc();
	pp.go = true;
	unpark(pp.player[0]);
	unpark(pp.player[1]);
	thread_join(pp.player[0]);
	thread_join(pp.player[1]);
	u64 us = (rdtsc() - t0) * 1000000 / hz;
	for (int c = 0; c < ncpu; c++) {
		sent += kit_stats.cpu[c].ipis_sent;
		got += kit_stats.cpu[c].ipis_received;
	}
	if (pp.ball != MOVES)
		return fail("the ball stopped at %lu", pp.ball);
	kprintf("pingpong: cpus 0 and %d, %d wake-ups in %lu ms, %lu ns each, %lu IPIs sent, %lu taken\n",
	    other, WAKES, us / 1000, us * 1000 / WAKES, sent, got);
	return NULL;
}

const char *
test_pingpong(void)
{
	return inthread(pingpong_body);
}
