// selftest.c: the checks of each stage, run instead of the idle loop when
// the command line has the flag "test".
//
// Each test returns NULL when it passes, or why it failed.  selftest()
// prints "<name>: OK" or "<name>: FAIL <why>" for each, stops at the first
// failure with the failure exit, and otherwise prints "kit: tests passed"
// and exits with success.  The tests live in a file per lesson,
// boottest.c to polltest.c; the table below runs them, after every CPU
// is up.

#include "types.h"
#include "defs.h"

static char why[200];

// Why a test failed, for it to return.
const char *
fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	kvsnprintf(why, sizeof why, fmt, ap);
	va_end(ap);
	return why;
}

// The self-tests, in the order they run, each with the stage from which
// the kernel has it: X(name, stage) runs test_<name>(), defined in the
// stage's *test.c file, and prints "<name>: OK".  To add one: the
// function in its stage's test file, and a row here.  The functions are
// referenced weakly, so a stage that does not link a test's file sees
// it as NULL, and its row is skipped.
#define SELFTESTS(X)                                                    \
	X(string,     STAGE_BOOT)       /* boottest.c */                \
	X(printf,     STAGE_BOOT)                                       \
	X(cmdline,    STAGE_BOOT)                                       \
	X(stats,      STAGE_BOOT)                                       \
	X(tsc,        STAGE_BOOT)                                       \
	X(idt,        STAGE_BOOT)                                       \
	X(breakpoint, STAGE_BOOT)                                       \
	X(smp,        STAGE_CORES)      /* corestest.c */               \
	X(percpu,     STAGE_CORES)                                      \
	X(stacks,     STAGE_CORES)                                      \
	X(spinlock,   STAGE_SPINLOCKS)  /* spinlockstest.c: onall(), so before yield */ \
	X(ticketorder, STAGE_SPINLOCKS)                                 \
	X(yield,      STAGE_SCHED)      /* schedtest.c: starts the schedulers */ \
	X(sleep,      STAGE_SCHED)                                      \
	X(remote,     STAGE_SCHED)                                      \
	X(pingpong,   STAGE_SCHED)                                      \
	X(ioapic,     STAGE_IDLE)       /* idletest.c */                \
	X(console,    STAGE_IDLE)                                       \
	X(percentile, STAGE_IDLE)                                       \
	X(pollvar,    STAGE_POLL)       /* polltest.c */                \
	X(toropoll,   STAGE_POLL)                                       \
	X(arp,        STAGE_NET)        /* nettest.c */                 \
	X(pci,        STAGE_NET)                                        \
	X(pcibars,    STAGE_NET)                                        \
	X(msix,       STAGE_NET)                                        \
	X(virtqueues, STAGE_NET)                                        \
	X(inet,       STAGE_NET)                                        \
	X(tcp,        STAGE_NET)

#define DECLARE(name, stage) const char *test_##name(void) __attribute__((weak));
SELFTESTS(DECLARE)
#undef DECLARE

static const struct {
	const char *name;
	int stage;
	const char *(*run)(void);       // NULL in a stage without its file
} tests[] = {
#define ROW(name, stage) { #name, stage, test_##name },
	SELFTESTS(ROW)
#undef ROW
};

void
selftest(void)
{
	for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++) {
		if (tests[i].stage > KIT_STAGE_LEVEL)
			continue;
		if (tests[i].run == NULL)
			panic("selftest: test_%s is not linked: its file is not in stage %s's list",
			    tests[i].name, KIT_STAGE_NAME);
		const char *err = tests[i].run();
		if (err != NULL) {
			kprintf("%s: FAIL %s\n", tests[i].name, err);
			exit_qemu(KIT_EXIT_FAILURE);
		}
		kprintf("%s: OK\n", tests[i].name);
	}
	kprintf("kit: tests passed\n");
	exit_qemu(KIT_EXIT_SUCCESS);
}
