// policy.c: the idle policies by name, the one place that maps a name
// to an enum idle_policy and back: idle=<name> on the command line,
// "idle <name>" on the console (console.c) and the "sched: idle=" line.
//
// To add a policy: a value in defs.h's enum idle_policy, its name in
// names[] below, and its way of waiting in the idle loops (idle.c before
// the scheduler, idlethread.c from sched on).

#include "types.h"
#include "defs.h"

static const char *const names[] = {
	[IDLE_SPIN] = "spin",           // look for work again at once
	[IDLE_HLT]  = "hlt",            // halt until an interrupt (halt.c)
};
#define NPOLICY ((int)(sizeof names / sizeof names[0]))

// The default: halt, but in the scheduler's first stage spin, as Toro did.
#if KIT_STAGE_LEVEL >= STAGE_SCHED && KIT_STAGE_LEVEL < STAGE_IDLE
#define IDLE_DEFAULT IDLE_SPIN
#else
#define IDLE_DEFAULT IDLE_HLT
#endif

const char *
idle_policy_name(enum idle_policy p)
{
	return names[p];
}

// The policy called name, or -1 if there is none.
int
idle_policy_find(const char *name)
{
	for (int p = 0; p < NPOLICY; p++)
		if (strcmp(name, names[p]) == 0)
			return p;
	return -1;
}

// The names, for a message that offers them: "<pre>spin or <pre>hlt".
char *
idle_policy_names(char *buf, size_t size, const char *pre)
{
	return kwords(buf, size, pre, names, NPOLICY);
}

// The names as a command's choices: "spin|hlt".
char *
idle_policy_choices(char *buf, size_t size)
{
	size_t len = 0;

	buf[0] = '\0';
	for (int p = 0; p < NPOLICY && len < size; p++)
		len += ksnprintf(buf + len, size - len, "%s%s", p == 0 ? "" : "|", names[p]);
	return buf;
}

// idle=<name>, or the stage's default if name is NULL; an unknown name
// is a panic before "kit: ready".
enum idle_policy
idle_policy(const char *name)
{
	char list[64];

	if (name == NULL)
		return IDLE_DEFAULT;
	int p = idle_policy_find(name);
	if (p < 0)
		panic("unknown idle policy '%s' (%s)", name, idle_policy_names(list, sizeof list, "idle="));
	return p;
}
