// stats.c: the statistics block the host reads from guest RAM (stats.h).

#include "types.h"
#include "defs.h"
#include "stats.h"

volatile struct kitstats kit_stats;

// Every counter is one u64, as the host and stats.h's atomicity argument
// assume.
#define IS_U64(n) _Static_assert(sizeof(((struct cpustats *)0)->n) == 8, \
	"cpustats." #n " is not a u64");
CPUSTATS_FIELDS(IS_U64)
#undef IS_U64

// The field names, " seq idle_passes ...", written by the compiler from
// the X-macro that declares the struct, so the two cannot disagree.  Each
// name has a space before it; fields drops the first one.
#define NAME(n) " " #n
static const char names[] = CPUSTATS_FIELDS(NAME);
#undef NAME
_Static_assert(sizeof names - 1 <= sizeof kit_stats.fields,
    "cpustats names do not fit in kitstats.fields");

void
stats_init(void)
{
	kit_stats.version = KIT_STATS_VERSION;
	kit_stats.ncpu = 1;                     // the boot CPU; smp.c counts in any others
	kit_stats.cpu_offset = offsetof(struct kitstats, cpu);
	kit_stats.cpu_stride = sizeof(struct cpustats);
	for (size_t i = 1; i < sizeof names; i++)       // the NUL too
		kit_stats.fields[i - 1] = names[i];

	// Publish.  The compiler keeps volatile stores in program order, and
	// x86 makes a CPU's stores visible in that order (SDM Vol. 3A 9.2.2
	// Memory Ordering in P6 and More Recent Processor Families), so a host
	// that sees the magic sees the whole header.
	kit_stats.magic = KIT_STATS_MAGIC;
}
