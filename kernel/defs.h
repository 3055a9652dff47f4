// Kernel-wide declarations, grouped by the file that defines them.
//
// Citations: "SDM" is the Intel 64 and IA-32 Architectures Software
// Developer's Manual, Combined Volumes, June 2025 (order number
// 325462-088US); every section number here is that edition's.  Editions
// before 2023 number its Vol. 3A chapters 5 to 12 one lower (there 8.4,
// not 9.4, is MP initialization), so titles are given where they help
// to find a section in another edition.

#ifndef KIT_DEFS_H
#define KIT_DEFS_H

#include "types.h"
#include "stage.h"

struct cpu;
struct cpustats;
struct hvm_start_info;

#define printflike(f, a) __attribute__((format(printf, f, a)))

// acpi.c: see acpi.h

// app.c: the apps, app=<name>
void app_init(void);
void app_start(void);

// cmdline.c
#define CMDLINE_MAX  1024       // bytes, with the NUL
#define CMDLINE_ARGS 64         // words

struct cmdline {
	int nargs;
	const char *key[CMDLINE_ARGS];
	const char *val[CMDLINE_ARGS];  // "" for a bare flag
	char buf[CMDLINE_MAX];
};

int          cmdline_parse(struct cmdline *c, const char *s);
const char  *cmdline_arg(const struct cmdline *c, const char *key);
bool         cmdline_known(const char *key);
const char  *cmdline_unknown(const struct cmdline *c);
char        *cmdline_keys(char *buf, size_t size);
void         cmdline_init(const char *s);
const char  *cmdline_get(const char *key);
bool         cmdline_has(const char *flag);
u64          cmdline_num(const char *key, u64 dflt, u64 lo, u64 hi);
bool         str_num(const char *s, u64 lo, u64 hi, u64 *n);

// console.c
extern u32  console_gsi;
void        console_init(void);
void        console_start(void);
void        console_intr(void);

// crash.c
_Noreturn void crash(const char *kind);

// halt.c
void halt(volatile struct cpustats *c);

// ioapic.c
bool        ioapic_init(void);
void        ioapic_route(u32 gsi, u32 vector, u32 apicid, u32 flags);
u32         ioapic_route_isa(int irq, u32 vector, u32 apicid);
u32         ioapic_entry(u32 gsi);

// lapic.c
// <<icr-bits
#define ICR_INIT    0x00000500  // delivery mode INIT (SDM Vol. 3A 11.6.1)
#define ICR_STARTUP 0x00000600  // delivery mode start-up; the vector names a page
#define ICR_ASSERT  0x00004000  // level: assert
// >>icr-bits

extern u64 lapic_timer_hz;
void lapic_init(void);
void lapic_enable(void);
u32  lapic_id(void);
void lapic_ipi(u32 apicid, u32 cmd);
void lapic_eoi(void);
void lapic_send(u32 apicid, u32 vector);
void lapic_timer_periodic(u32 vector, u64 hz);
void lapic_timer_oneshot(u32 vector, u64 ticks);
void lapic_timer_stop(void);

// main.c
_Noreturn void kmain(struct hvm_start_info *si);
const char    *stage_name(int level);

// panic.c
#define KIT_EXIT_SUCCESS 0x10   // QEMU exits with status 33
#define KIT_EXIT_FAILURE 0x11   // QEMU exits with status 35

_Noreturn void exit_qemu(u8 code);
_Noreturn void panic(const char *fmt, ...) printflike(1, 2);

// percentile.c
struct percentiles {
	u64 min, p50, p90, p99, max;
};
struct percentiles percentiles(u64 *a, u64 n);
void percentiles_print(const char *head, const struct percentiles *p);

// pic.c
void pic_disable(void);

// policy.c: how an idle core waits, idle=<name> (names in policy.c)
enum idle_policy {
	IDLE_SPIN,
	IDLE_HLT,
};

enum idle_policy idle_policy(const char *name);
const char      *idle_policy_name(enum idle_policy p);
int              idle_policy_find(const char *name);
char            *idle_policy_names(char *buf, size_t size, const char *pre);
char            *idle_policy_choices(char *buf, size_t size);

// idle.c before the sched stage, idlethread.c from it on
_Noreturn void idle(enum idle_policy policy);
void           idle_set(enum idle_policy policy);

// printf.c
char *kwords(char *buf, size_t size, const char *pre, const char *const *w, int n);
void kprintf(const char *fmt, ...) printflike(1, 2);
void kvprintf(const char *fmt, va_list ap);
int  ksnprintf(char *buf, size_t size, const char *fmt, ...) printflike(3, 4);
int  kvsnprintf(char *buf, size_t size, const char *fmt, va_list ap);

// sched.c: see sched.h for the rest
extern enum idle_policy sched_policy;
void sched_init(enum idle_policy policy);
void sched_start(void);

// schedtest.c
const char *inthread(const char *(*fn)(void));

// selftest.c
_Noreturn void selftest(void);
const char    *fail(const char *fmt, ...) printflike(1, 2);

// smp.c
void           cpu0_init(void);
void           smp_init(void);
_Noreturn void apmain(struct cpu *c);
void           onall(void (*fn)(void *), void *arg);
void           onaps(void (*fn)(void *), void *arg);

// spinlock.c: see spinlock.h

// stats.c
void stats_init(void);

// string.c
void  *memcpy(void *dst, const void *src, size_t n);
void  *memmove(void *dst, const void *src, size_t n);
void  *memset(void *dst, int c, size_t n);
int    memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int    strcmp(const char *a, const char *b);

// trap.c
struct trapframe;
extern u64 trap_bp_rip;
void trap_init(void);
void idt_load(void);
void trap(struct trapframe *tf);

// tsc.c
void tsc_init(void);
void udelay(u64 us);
u64  tsc_to_ns(u64 ticks);

// uart.c
void uart_init(void);
void uart_putc(char c);
void uart_rx_enable(void);
int  uart_getc(void);

#endif
