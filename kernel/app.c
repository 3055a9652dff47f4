// app.c: the lessons' apps, app=<name> on the command line, one table.
//
// An app is what a lesson measures: its own file defines <name>_init(),
// run before "kit: ready" to read its options (a mistake is a panic
// before the host starts to measure), and <name>_start(), run on the boot
// CPU after "kit: ready".  kmain drives both (app_init, app_start); only
// the chosen app's run, and no core file names an app.
//
// A start that needs threads calls sched_start() first (it is idempotent).
// The locks app does not: its onall() must run before the schedulers
// start, since an AP never leaves its idle thread again.
//
// To add an app: its file with <name>_init() and <name>_start(), in the
// Makefile's list of the stage that brings it, and one row below with
// that stage.  The functions are referenced weakly, so a stage that does
// not link the file sees them as NULL.

#include "types.h"
#include "defs.h"

#define APPS(X)                                                         \
	X(locks,    STAGE_SPINLOCKS)  /* 03: every CPU against one lock */ \
	X(sleepers, STAGE_SCHED)      /* 04: threads that sleep */         \
	X(lateness, STAGE_IDLE)       /* 05: how late a sleeper wakes */   \
	X(prodcons, STAGE_POLL)       /* 06: a consumer polls a variable */

#define DECLARE(name, stage)                                            \
	void name##_init(void) __attribute__((weak));                   \
	void name##_start(void) __attribute__((weak));
APPS(DECLARE)
#undef DECLARE

struct app {
	const char *name;
	int stage;              // the stage from which the kernel has it
	void (*init)(void);     // NULL in a stage without its file
	void (*start)(void);
};

static const struct app apps[] = {
#define ROW(name, stage) { #name, stage, name##_init, name##_start },
	APPS(ROW)
#undef ROW
};
#define NAPP ((int)(sizeof apps / sizeof apps[0]))


static const struct app *chosen;        // app=, once app_init() took it

// The apps this stage has, for a message: "app=locks or app=sleepers".
static const char *
ours(char *buf, size_t size)
{
	const char *names[NAPP];
	int n = 0;

	for (int i = 0; i < NAPP; i++)
		if (apps[i].stage <= KIT_STAGE_LEVEL)
			names[n++] = apps[i].name;
	if (n == 0)
		return "this stage has no app";
	return kwords(buf, size, "app=", names, n);
}

// Before "kit: ready", on the boot CPU: find app= in the table, and run
// that app's init, which reads its own options.
void
app_init(void)
{
	const char *name = cmdline_get("app");
	char list[128];

	if (name == NULL)
		return;
	for (int i = 0; i < NAPP; i++) {
		const struct app *a = &apps[i];
		if (strcmp(name, a->name) != 0)
			continue;
		if (a->stage > KIT_STAGE_LEVEL)
			panic("app %s comes with stage %s, this is stage %s (%s)", name,
			    stage_name(a->stage), KIT_STAGE_NAME,
			    ours(list, sizeof list));
		if (a->init == NULL || a->start == NULL)
			panic("app %s: its file is not in stage %s's list (kernel/Makefile)",
			    name, KIT_STAGE_NAME);
		chosen = a;
		a->init();
		return;
	}
	panic("unknown app '%s' (%s)", name, ours(list, sizeof list));
}

// After "kit: ready", on the boot CPU: start the chosen app, if any.
void
app_start(void)
{
	if (chosen != NULL)
		chosen->start();
}
