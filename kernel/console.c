// console.c: commands typed on the serial line, from the idle stage on.
//
//   idle spin | idle hlt      every core's idle policy        idle: spin
//   tick <Hz> | tick none     every core's LAPIC timer        tick: 250 Hz, tick: none
//   stats                     each CPU's counters, a line     stats: cpu 0 halts=...
//                             each, then                      stats: end
//   poll spin|toro|wait       how the network thread waits    poll: wait
//                             (net stage; netwait.c)
//   help                      the commands                    help: ...
//
// Each command is answered by lines that start with its name and a
// colon, a bad argument by "<name>: bad ..." (kitlib's VM.command()
// raises on it), a line that is no command by "console: unknown
// command ...", and a line of more than LINEMAX - 1 bytes by "console:
// line too long ...": it is refused whole, never cut and run.
// Nothing is echoed: the host reads the console's lines and matches
// each reply.  A line may start with a tag, "@<digits> ": the command
// after it runs as usual and every line of its answer starts with the
// same tag, so a program that types commands (kitlib's VM.command())
// tells its own answer from any other line; a person typing leaves the
// tag out and reads untagged answers.
// A mistake is answered, never a panic: the host may type anything.
//
// A line's way in: COM1 raises ISA IRQ 4 when a byte arrives (uart.c),
// which the I/O APIC delivers to core 0 as T_UART (ioapic.c).  Interrupts
// are on only inside the idle thread's waits (trap.c), so the handler,
// console_intr(), always interrupts core 0's idle thread.  It reads the
// bytes, and when a line ends hands it to the console thread, of core 0
// too, by unparking it; the idle thread's next schedule() runs it.  The
// commands print with kprintf, which may wait for the console lock
// another CPU holds: a thread may wait, a handler should not.
//
// Invariant: the handler and the console thread both run on core 0 with
// interrupts off, and the handler interrupts only the idle thread, so the
// two never overlap and the line queue needs no lock.

#include "types.h"
#include "defs.h"
#include "acpi.h"
#include "cpu.h"
#include "sched.h"
#include "stats.h"
#include "trap.h"
#if KIT_STAGE_LEVEL >= STAGE_NET
#include "netwait.h"
#endif
#include "x86.h"

#define COM1_IRQ 4              // the PC's ISA IRQ of COM1
#define LINEMAX  64             // bytes of a command, with the NUL; longer is refused
#define TAGMAX   12             // "@<at most 9 digits> ", with the NUL
#define TYPEDMAX (TAGMAX + LINEMAX)     // a typed line: a tag, then a command
#define NLINE    4              // lines typed and not yet run

static struct thread *con;      // the console thread, once it exists
u32 console_gsi;                // the GSI of COM1's IRQ; routed only if machine.ioapic

// A line as typed; long: more bytes came than s holds, and were dropped.
struct typed {
	char s[TYPEDMAX];
	bool long_;
};

// The line queue: lines [nrun, ntyped) are complete and wait for the
// thread, at line[n % NLINE]; the handler writes ntyped and cur, the
// thread nrun.
static struct typed line[NLINE];
static u32 ntyped, nrun;
static struct typed cur;        // the line being typed
static int ncur;
static u32 dropped;             // complete lines lost to a full queue

// The tag of the line the console thread runs ("" if it had none): every
// line of its answer starts with it.  Only the console thread uses it.
static char tag[TAGMAX];

static char idle_help[64];      // the idle command's help: console_init() writes it

// <<console-init
void
console_init(void)
{
	if (machine.ioapic == 0) {
		kprintf("console: no I/O APIC, so no commands\n");
		return;
	}
	char choices[48];
	ksnprintf(idle_help, sizeof idle_help, "idle %s", idle_policy_choices(choices, sizeof choices));
	console_gsi = ioapic_route_isa(COM1_IRQ, T_UART, cpus[0].apicid);
	uart_rx_enable();
	kprintf("console: com1 irq %d at gsi %u, vector 0x%x to cpu 0\n", COM1_IRQ, console_gsi, T_UART);
}
// >>console-init

// <<console-intr
// COM1's interrupt, on core 0's idle thread (trap.c): take every byte
// waiting.  All of them: the pin is edge-triggered (ISA's way), so the
// next interrupt needs the UART's line to fall first, which it does once
// the receiver is empty (uart.c).  '\r' or '\n' ends a line (a terminal
// sends either); an empty line is dropped, so "\r\n" is one end.
// Backspace and DEL erase, other control bytes become '?'.  A line
// longer than cur holds keeps its start (the tag) and is marked long.
void
console_intr(void)
{
	int c;
	bool woke = false;

	while ((c = uart_getc()) >= 0) {
		if (c == '\r' || c == '\n') {
			if (ncur == 0)
				continue;
			cur.s[ncur] = '\0';
			ncur = 0;
			if (ntyped - nrun == NLINE) {
				dropped++;
			} else {
				line[ntyped % NLINE] = cur;
				ntyped++;
				woke = true;
			}
			cur.long_ = false;
		} else if (c == '\b' || c == 0x7f) {
			if (ncur > 0 && !cur.long_)
				ncur--;
		} else if (ncur < TYPEDMAX - 1) {
			cur.s[ncur++] = c >= ' ' && c < 0x7f ? c : '?';
		} else {
			cur.long_ = true;
		}
	}
	if (woke && con != NULL)
		unpark(con);            // a thread of this core: made ready here (thread.c)
}
// >>console-intr

// Every line of an answer: one kprintf (lines of CPUs never mix), the
// running command's tag first.
static void
reply(const char *fmt, ...) printflike(1, 2);

static void
reply(const char *fmt, ...)
{
	char s[256];
	va_list ap;

	va_start(ap, fmt);
	kvsnprintf(s, sizeof s, fmt, ap);
	va_end(ap);
	kprintf("%s%s\n", tag, s);
}

// CPU c's record, its halt groups read whole (stats.h: retry while seq
// is odd or moved), and an ongoing halt counted up to now.
static void
stats_line(int c)
{
	volatile struct cpustats *s = &kit_stats.cpu[c];
	u64 seq, halts, halted, since;

	do {
		while ((seq = s->seq) & 1)
			pause();
		halts = s->halts;
		halted = s->halted_tsc;
		since = s->halt_since;
	} while (s->seq != seq);
	u64 now = rdtsc();
	if (since != 0 && now > since)
		halted += now - since;
	reply("stats: cpu %d halts=%lu halted_ms=%lu ctx_switches=%lu timer_irqs=%lu "
	    "ipis_sent=%lu ipis_received=%lu wakeups=%lu",
	    c, halts, halted * 1000 / kit_stats.tsc_hz, s->ctx_switches, s->timer_irqs,
	    s->ipis_sent, s->ipis_received, s->wakeups);
}

// The commands, each answered by lines that start with its name.
static void
cmd_idle(const char *arg)
{
	char list[64];
	int p = *arg != '\0' ? idle_policy_find(arg) : -1;

	if (*arg != '\0' && p < 0) {
		reply("idle: bad policy '%s' (%s)", arg,
		    idle_policy_names(list, sizeof list, "idle "));
		return;
	}
	if (p >= 0)
		idle_set(p);
	reply("idle: %s", idle_policy_name(sched_policy));
}

static void
cmd_tick(const char *arg)
{
	if (*arg != '\0' && timer_set(arg) < 0) {
		reply("tick: bad rate '%s' (tick <Hz> from 1 to %d, or tick none)",
		    arg, TICK_MAX_HZ);
		return;
	}
	u64 hz = timer_hz();
	if (hz != 0)
		reply("tick: %lu Hz", hz);
	else
		reply("tick: none");
}

static void
cmd_stats(const char *arg)
{
	(void)arg;
	for (int c = 0; c < ncpu; c++)
		stats_line(c);
	reply("stats: end");
}

#if KIT_STAGE_LEVEL >= STAGE_NET
// The network thread's way of waiting (netwait.c): it reads it on each
// pass, and a blocked thread is woken to read it.
static void
cmd_poll(const char *arg)
{
	if (*arg != '\0' && !netwait_set(arg)) {
		reply("poll: bad way '%s' (poll spin, poll toro or poll wait)", arg);
		return;
	}
	reply("poll: %s", netwait_name());
}
#endif

static void cmd_help(const char *arg);

// <<console-command
// The command table: a line's first word picks the row.  To add a
// command: its function, and a row here; help lists it.
static const struct command {
	const char *name;
	void (*run)(const char *arg);   // arg: the rest of the line, "" if none
	bool bare;                      // takes no argument: a line with one is no command
	const char *help;               // for help; NULL: not listed
} commands[] = {
	{ "idle",  cmd_idle,  false, idle_help },     // "idle spin|hlt", from policy.c
	{ "tick",  cmd_tick,  false, "tick <Hz>|none" },
	{ "stats", cmd_stats, true,  "stats" },
#if KIT_STAGE_LEVEL >= STAGE_NET
	{ "poll",  cmd_poll,  false, "poll spin|toro|wait" },
#endif
	{ "help",  cmd_help,  false, NULL },
};
#define NCOMMAND (sizeof commands / sizeof commands[0])

// Take the tag "@<digits> " off the front of s into tag; return the
// rest.  A line with no tag, or with more digits than a tag holds, is
// all command (and an unknown one if it starts with '@').
static char *
untag(char *s)
{
	int n = 1;

	tag[0] = '\0';
	if (s[0] != '@')
		return s;
	while (s[n] >= '0' && s[n] <= '9')
		n++;
	if (n == 1 || s[n] != ' ' || n + 2 > TAGMAX)
		return s;
	memcpy(tag, s, n + 1);
	tag[n + 1] = '\0';
	return s + n + 1;
}

// Run one line: its tag aside, its first word names the command, the
// rest (arg, "" if none) is its argument.  A command with no argument
// says its setting.  A line too long for LINEMAX is refused whole.
static void
command(struct typed *t)
{
	char *s = untag(t->s);

	if (t->long_ || strlen(s) > LINEMAX - 1) {
		reply("console: line too long (at most %d bytes), not run", LINEMAX - 1);
		return;
	}
	while (*s == ' ' || *s == '\t')
		s++;
	char *arg = s, *end = s + strlen(s), *cut = NULL;
	while (*arg != '\0' && *arg != ' ' && *arg != '\t')
		arg++;
	if (*arg != '\0') {
		cut = arg;
		*arg++ = '\0';
	}
	while (*arg == ' ' || *arg == '\t')
		arg++;
	while (end > arg && (end[-1] == ' ' || end[-1] == '\t'))
		*--end = '\0';

	for (size_t i = 0; i < NCOMMAND; i++)
		if (strcmp(s, commands[i].name) == 0 && !(commands[i].bare && *arg != '\0')) {
			commands[i].run(arg);
			return;
		}
	if (cut != NULL && *arg != '\0')
		*cut = ' ';                     // the line as typed, for the reply
	reply("console: unknown command '%s' (try help)", s);
}
// >>console-command

static void
cmd_help(const char *arg)
{
	char line[128] = "";
	size_t n = 0;

	(void)arg;
	for (size_t i = 0; i < NCOMMAND && n < sizeof line; i++)
		if (commands[i].help != NULL)
			n += ksnprintf(line + n, sizeof line - n, "%s%s", n == 0 ? "" : ", ",
			    commands[i].help);
	reply("help: %s", line);
}

// The console thread: run each line typed, then park until the handler
// has queued another.  The handler cannot run between the loop's test
// and park() (the invariant above); if it could, its unpark would leave
// a permit and park() would return at once (thread.c), so no line waits
// unseen either way.
static void
console(void *arg)
{
	(void)arg;
	for (;;) {
		while (nrun != ntyped) {
			struct typed t = line[nrun % NLINE];
			nrun++;
			command(&t);
		}
		if (dropped != 0) {
			kprintf("console: %u lines dropped (type one at a time)\n", dropped);
			dropped = 0;
		}
		park();
	}
}

// After "kit: ready", on core 0, the core the UART interrupts: lines
// typed before now wait in the queue, and the thread's first pass runs
// them.
void
console_start(void)
{
	if (machine.ioapic != 0)
		con = thread_create(0, console, NULL);
}
