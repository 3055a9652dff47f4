// TCP connections (kernel/tcp.c): the passive side of RFC 9293, for a
// server.  One listening port; up to TCP_NCONN connections at once, each
// a struct tcb in a fixed table, never allocated.
//
// Time is the caller's: every entry takes now, in microseconds of a clock
// that only goes forward, and tcp_deadline() says when tcp_timers() must
// next be called.  There is no periodic tick: a connection that waits for
// nothing has no deadline, and an idle server none at all.
//
// Everything here runs on one thread, the network thread (net.c), so
// nothing is locked.  tcp.c builds for the host too: it reaches the card
// only through net_tx_buf() and net_tx_send() (net.h).

#ifndef KIT_TCP_H
#define KIT_TCP_H

#include "types.h"

#define TCP_NCONN 160           // connections at once; a SYN beyond them is refused (RST)

struct tcb;

// What the application on the listening port (httpd.c) is told.  Each
// callback may call tcp_send() and tcp_close() on the connection.
struct tcp_app {
	void (*open)(struct tcb *c);                            // established
	void (*recv)(struct tcb *c, const u8 *data, u32 len);   // in-order bytes
	void (*eof)(struct tcb *c);                             // the peer sent FIN: no more bytes
	void (*gone)(struct tcb *c);                            // c is freed: closed, reset or timed out
};

void tcp_listen(u16 port, const struct tcp_app *app);

// The network thread's side: a segment for us (ip->proto is IPPROTO_TCP),
// with the source MAC of its frame for the answer; and the timers.
struct ipv4;
void tcp_input(const struct ipv4 *ip, const u8 *srcmac, u64 now);
void tcp_timers(u64 now);
u64  tcp_deadline(void);        // the earliest deadline, 0 if none

// The application's side.  tcp_send() queues len bytes and sends at once
// what the peer's window allows, in segments of at most the MSS (no
// Nagle: RFC 9293 3.7.4 lets a server send small segments at once);
// it returns the bytes it took, fewer than len if the buffers ran out.
// tcp_close() sends FIN after what is queued.  tcp_abort() sends RST and
// frees c at once (gone is called).
u32  tcp_send(struct tcb *c, const void *data, u32 len);
void tcp_close(struct tcb *c);
void tcp_abort(struct tcb *c);
int  tcp_index(const struct tcb *c);    // 0 .. TCP_NCONN-1: a slot for the application's own state

// Levels, for the stats block and the tests.
struct tcp_levels {
	u32 open;               // connections in any state but closed
	u32 timewait;           // of those, in TIME-WAIT
	u32 bufs;               // send buffers in use
};
void tcp_levels(struct tcp_levels *l);

// Where tcp.c counts its events and levels (stats.h's net_tcp_* and
// net_*_now fields): a record of its own until net.c points it at the
// network core's, which only that core writes.
struct cpustats;
extern volatile struct cpustats *tcp_stats;

#endif
