// Guest statistics block: per-CPU counters that the host reads from guest
// RAM without waking the guest.
//
// kitlib maps the VM's RAM (a shared file under /dev/shm) and reads
// `kit_stats` at its ELF symbol's address; the kernel is identity-mapped, so
// the symbol's virtual address is its physical address and its offset in
// that file.  The block describes itself: `fields` names the u64 counters of
// struct cpustats in order, so a stage can add a counter here and kitlib
// picks it up with no change on the Python side.
//
// Invariants:
//  - Only CPU n writes cpu[n].  Every field is a naturally aligned u64, so
//    the host never sees half of a store (Intel SDM Vol. 3A, 9.1.1
//    Guaranteed Atomic Operations: aligned quadword accesses are atomic),
//    provided it reads each field with one aligned 8-byte load.
//  - Fields that change together (halts, halted_tsc, halt_since) are
//    written inside a sequence count: seq is odd while they change.  A
//    reader retries while seq is odd or differs before and after its copy.
//  - halt_since is the TSC at which the CPU last halted, and 0 while it runs.
//    halted_tsc counts the cycles of completed halts only; the host adds the
//    ongoing one (now - halt_since) itself, because a halted CPU cannot.

#ifndef KIT_STATS_H
#define KIT_STATS_H

#include "types.h"

#define NCPU_MAX 16

// The per-CPU counters, in memory order.  Add new ones at the end.  Every
// stage has all of them; a counter a stage does not use stays 0.  Names
// tell the host what a field is: *_tsc and *_since hold TSC stamps, seq is
// the sequence count, *_now are levels (how many of something there are
// now, going up and down), and every other field counts events, which the
// host turns into a rate a second (kitlib/guest.py, is_counter).
#define CPUSTATS_FIELDS(X) \
	X(seq)            /* sequence count, odd while a group changes */ \
	X(idle_passes)    /* passes through the idle loop */ \
	X(halts)          /* hlt instructions executed by the idle loop */ \
	X(halted_tsc)     /* TSC cycles spent in completed halts */ \
	X(halt_since)     /* TSC at the start of the current halt, 0 if running */ \
	X(last_tsc)       /* TSC at the last update of this record */ \
	X(up_tsc)         /* cores: TSC when this CPU reached C */ \
	X(sipi_tsc)       /* cores, boot CPU: TSC just before the first INIT IPI */ \
	X(lock_acquires)  /* spinlocks: the locks app's increments by this CPU */ \
	X(lock_spins)     /* spinlocks: its spin iterations waiting for the lock */ \
	X(ctx_switches)   /* sched: switches from one thread to another, idle included */ \
	X(timer_irqs)     /* sched: LAPIC timer interrupts taken */ \
	X(ipis_sent)      /* sched: wake-up IPIs this CPU sent */ \
	X(ipis_received)  /* sched: wake-up IPIs this CPU took */ \
	X(wakeups)        /* sched: blocked threads this CPU made ready */ \
	X(uart_irqs)      /* idle: COM1 receive interrupts taken */ \
	X(poll_ipis_skipped) /* poll: wakes pollvar_set() sent no IPI for: the core ran */ \
	X(haltpoll_hits)  /* poll: idle spins (haltpoll=) that found work and did not halt */ \
	X(spurious_irqs)  /* sched: spurious interrupts from the local APIC */ \
	X(net_irqs)       /* net: MSI-X interrupts of the card's receive queue */ \
	X(net_rx_packets) /* net: frames the network thread took from the card */ \
	X(net_rx_ipv4)    /* net: of those, IPv4 frames */ \
	X(net_rx_drops)   /* net: frames dropped: too short, or nothing to do with them */ \
	X(net_tx_packets) /* net: frames given to the card to send */ \
	X(net_tx_drops)   /* net: frames not sent: the transmit ring was full */ \
	X(net_arp_replies) /* net: ARP requests for our address answered */ \
	X(net_wakeups)    /* net: times the network thread woke from its wait */ \
	X(net_ipv4_bad)   /* net: IPv4 frames dropped: short, not version 4, bad header checksum */ \
	X(net_ipv4_other) /* net: IPv4 frames dropped: options, fragments, not to us, not ICMP or TCP */ \
	X(net_icmp_replies) /* net: ICMP echo requests answered */ \
	X(net_tcp_bad)    /* net: TCP segments dropped: short, bad checksum, bad options */ \
	X(net_tcp_rst_sent) /* net: RSTs sent for segments of no connection (a closed port) */ \
	X(net_tcp_accepts) /* net: TCP connections established */ \
	X(net_tcp_refused) /* net: SYNs refused with RST: no free connection or buffer */ \
	X(net_tcp_resets) /* net: connections the peer reset */ \
	X(net_tcp_aborts) /* net: connections this side reset: retransmissions, FIN-WAIT-2, the server */ \
	X(net_tcp_retransmits) /* net: segments sent again when their timer ran out */ \
	X(net_tcp_idle_closes) /* net: connections closed by the server after the idle timeout */ \
	X(net_http_requests) /* net: HTTP requests answered, errors included */ \
	X(net_http_2xx)   /* net: of those, answered 200 */ \
	X(net_http_4xx)   /* net: answered 4xx: 400, 404, 405, 413, 414, 431 */ \
	X(net_http_5xx)   /* net: answered 5xx: 505 */ \
	X(net_conns_now)  /* net, a level: TCP connections open, in any state */ \
	X(net_timewait_now) /* net, a level: of those, in TIME-WAIT */ \
	X(net_bufs_now)   /* net, a level: TCP send buffers in use */

struct cpustats {
#define X(name) u64 name;
	CPUSTATS_FIELDS(X)
#undef X
} __attribute__((aligned(64)));     // one cache line a CPU: no false sharing

#define KIT_STATS_MAGIC 0x535441545354494bULL   // "KITSTATS" in memory
#define KIT_STATS_VERSION 1

struct kitstats {
	u64 magic;          // KIT_STATS_MAGIC once the block is valid
	u32 version;        // KIT_STATS_VERSION
	u32 ncpu;           // CPUs whose record is in use
	u32 cpu_offset;     // offset of cpu[0] from the start of the block
	u32 cpu_stride;     // sizeof(struct cpustats)
	u64 tsc_hz;         // TSC ticks a second, measured at boot; 0 if unknown
	u64 ready_tsc;      // TSC when "kit: ready" was printed
	char fields[984];       // names of the u64 fields of cpustats, space-separated
	struct cpustats cpu[NCPU_MAX];
} __attribute__((aligned(64)));

extern volatile struct kitstats kit_stats;

#endif
