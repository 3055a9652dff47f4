// tcp.c: TCP connections, the passive side of RFC 9293 (tcp.h).
//
// States (RFC 9293 3.3.2), without the active opener's: a SYN to the
// listening port makes a connection in SYN-RECEIVED; its ACK makes it
// ESTABLISHED.  The peer's FIN leads to CLOSE-WAIT and, once the server
// closes too, LAST-ACK; the server's own close leads to FIN-WAIT-1,
// FIN-WAIT-2 or CLOSING, and TIME-WAIT.
//
// Send side: a pool of NSEG segments, each with room for one MSS of data,
// shared by every connection.  A connection's segments form a list in
// sequence order, from the oldest unacknowledged (head) to the newest
// (tail); those from `unsent` on wait for the peer's window.  The SYN-ACK
// and the FIN are segments too (no data, one sequence number), so one
// retransmission timer covers all three.  A segment is freed when an ACK
// covers all of it.
//
// Timers: each connection has at most one deadline (when), whose kind
// (timer) follows from its state: a retransmission while it has segments,
// else the idle timeout in ESTABLISHED and CLOSE-WAIT, the FIN-WAIT-2
// limit, or TIME-WAIT's end.  tcp_deadline() is the earliest over the
// connections in use, which are on one list (active) so that neither it
// nor tcp_timers() looks at free slots.
//
// Invariants:
//  - A slot is free (state CLOSED) or on the active list and in the
//    hash chain of its (address, port) pair, never in between.
//  - snd_una <= snd_nxt <= snd_end, where snd_end is the sequence number
//    after the last segment queued.
//  - levels.open, .timewait and .bufs count exactly what they name; every
//    path that frees a connection frees its segments (tcb_free).
//  - The application hears open once, then any recv and eof, then gone
//    once; gone only if it heard open.

#include "types.h"
#include "defs.h"
#include "net.h"
#include "stats.h"
#include "tcp.h"
#include "tcpint.h"

#define NSEG        1024
#define NHASH       256                 // hash chains, a power of 2
#define RTO_INIT    200000              // µs: the first retransmission timeout
#define RTO_MAX     3200000             // µs: the longest, after doubling
#define TRIES       6                   // retransmissions before the connection is reset
#define IDLE_US     10000000            // an established connection with nothing to send
#define FINWAIT2_US 10000000            // FIN-WAIT-2: the peer's FIN may never come
// TIME-WAIT (RFC 9293 3.4.2, 3.6.1) keeps a closed connection's pair out
// of use for 2 MSL so that its stray segments die first.  Here the only
// peer is QEMU's user network on the same host: it neither reorders nor
// delays segments by more than a few milliseconds, and a stray old
// segment that did arrive could only be answered by RST or an ACK, which
// harms no new connection of a server that only answers.  1 s is plenty.
#define TIMEWAIT_US 1000000

#define NIL (-1)

// <<tcp-states
enum state { CLOSED, SYN_RCVD, ESTAB, FIN_WAIT_1, FIN_WAIT_2, CLOSING, TIME_WAIT,
	CLOSE_WAIT, LAST_ACK };
enum timer { T_NONE, T_RTX, T_IDLE, T_FINWAIT2, T_TIMEWAIT };
// >>tcp-states

struct seg {
	u32 seq;
	u16 len;                // bytes of data
	u8 flags;               // TCP_SYN or TCP_FIN for the control segments, TCP_PSH
	i16 next;               // the connection's next segment, or the free list's
};

struct tcb {
	u8 state, timer, tries;
	bool opened;            // the application was told open
	bool eof;               // ... and eof
	bool ackpending;        // an ACK is owed to the peer
	bool finq;              // a FIN is queued: tcp_send takes no more
	u16 rport, lport;
	u32 rip;
	u8 rmac[ETH_ALEN];
	u16 mss;                // the most data a segment we send carries
	u32 iss, snd_una, snd_nxt, snd_end, snd_wnd, snd_wl1, snd_wl2;
	u32 irs, rcv_nxt;
	u64 rto, when;
	i16 head, tail, unsent; // segment list
	i16 prev, next;         // the active list
	i16 hnext;              // the hash chain
};

static struct tcb tcbs[TCP_NCONN];
static struct seg segs[NSEG];
static u8 segdata[NSEG][TCP_MSS];
static i16 segfree = NIL;
static i16 tcbfree[TCP_NCONN];
static int ntcbfree;
static i16 active = NIL;
static i16 hash[NHASH];
static struct tcp_levels levels;
static bool ready;
static u16 lport;
static const struct tcp_app *app;
static u64 now_us;              // the time of the current input or timer pass
static u32 secret, isncount;

static volatile struct cpustats nostats;
volatile struct cpustats *tcp_stats = &nostats;

static void
publish(void)
{
	tcp_stats->net_conns_now = levels.open;
	tcp_stats->net_timewait_now = levels.timewait;
	tcp_stats->net_bufs_now = levels.bufs;
}

static void
init(void)
{
	for (int i = NSEG - 1; i >= 0; i--) {
		segs[i].next = segfree;
		segfree = i;
	}
	for (int i = 0; i < TCP_NCONN; i++) {
		tcbs[i].state = CLOSED;
		tcbfree[ntcbfree++] = TCP_NCONN - 1 - i;
	}
	for (int i = 0; i < NHASH; i++)
		hash[i] = NIL;
	ready = true;
}

void
tcp_listen(u16 port, const struct tcp_app *a)
{
	if (!ready)
		init();
	lport = port;
	app = a;
}

int
tcp_index(const struct tcb *c)
{
	return c - tcbs;
}

void
tcp_levels(struct tcp_levels *l)
{
	*l = levels;
}

static u32
hashof(u32 ip, u16 port)
{
	return (ip ^ ip >> 16 ^ port ^ port >> 8) & (NHASH - 1);
}

static u32
mix(u32 x)
{
	x ^= x >> 16;
	x *= 0x7feb352d;
	x ^= x >> 15;
	x *= 0x846ca68b;
	return x ^ x >> 16;
}

// The initial sequence number, after RFC 6528 3: a clock that ticks every
// 4 µs, plus a function of the connection's addresses and ports and a
// value chosen at the first connection, plus a counter.  Not
// cryptographic: this server's peer is QEMU on the same host.
static u32
isn(u32 rip, u16 rport)
{
	if (secret == 0)
		secret = mix((u32)now_us ^ (u32)(now_us >> 32)) | 1;
	return (u32)(now_us / 4) + mix(rip ^ mix(rport ^ (u32)lport << 16) ^ secret) +
	    (isncount++ << 12);
}

static struct tcb *
lookup(u32 rip, u16 rport, u16 port)
{
	for (i16 i = hash[hashof(rip, rport)]; i != NIL; i = tcbs[i].hnext) {
		struct tcb *c = &tcbs[i];
		if (c->rip == rip && c->rport == rport && c->lport == port)
			return c;
	}
	return NULL;
}

static struct seg *
seg_alloc(void)
{
	if (segfree == NIL)
		return NULL;
	struct seg *s = &segs[segfree];
	segfree = s->next;
	s->next = NIL;
	levels.bufs++;
	return s;
}

static void
seg_free(i16 i)
{
	segs[i].next = segfree;
	segfree = i;
	levels.bufs--;
}

static u32
seglen(const struct seg *s)
{
	return s->len + ((s->flags & (TCP_SYN | TCP_FIN)) != 0);
}

static void
setstate(struct tcb *c, enum state st)
{
	if (c->state == TIME_WAIT)
		levels.timewait--;
	if (st == TIME_WAIT)
		levels.timewait++;
	c->state = st;
	c->timer = T_NONE;
}

// A fresh connection from rip:rport to our port, in SYN-RECEIVED; NULL
// if every slot is taken by a connection that is not in TIME-WAIT.  When
// the table is full, the TIME-WAIT connection nearest its end gives way:
// a server that closes first at a high rate would otherwise fill the
// table with them (RFC 6191 lets a new SYN end a TIME-WAIT early).
static void drop(struct tcb *c);

static struct tcb *
tcb_alloc(u32 rip, u16 rport, u16 port)
{
	if (ntcbfree == 0) {
		struct tcb *old = NULL;
		for (i16 i = active; i != NIL; i = tcbs[i].next)
			if (tcbs[i].state == TIME_WAIT && (old == NULL || tcbs[i].when < old->when))
				old = &tcbs[i];
		if (old == NULL)
			return NULL;
		drop(old);
	}
	struct tcb *c = &tcbs[tcbfree[--ntcbfree]];
	i16 i = c - tcbs;
	u32 h = hashof(rip, rport);

	memset(c, 0, sizeof *c);
	c->rip = rip;
	c->rport = rport;
	c->lport = port;
	c->head = c->tail = c->unsent = NIL;
	c->rto = RTO_INIT;
	c->hnext = hash[h];
	hash[h] = i;
	c->prev = NIL;
	c->next = active;
	if (active != NIL)
		tcbs[active].prev = i;
	active = i;
	levels.open++;
	return c;
}

// Free c and everything it holds.  The application is not told: see drop.
static void
tcb_free(struct tcb *c)
{
	i16 i = c - tcbs;

	while (c->head != NIL) {
		i16 next = segs[c->head].next;
		seg_free(c->head);
		c->head = next;
	}
	for (i16 *p = &hash[hashof(c->rip, c->rport)]; *p != NIL; p = &tcbs[*p].hnext)
		if (*p == i) {
			*p = c->hnext;
			break;
		}
	if (c->prev != NIL)
		tcbs[c->prev].next = c->next;
	else
		active = c->next;
	if (c->next != NIL)
		tcbs[c->next].prev = c->prev;
	setstate(c, CLOSED);
	levels.open--;
	tcbfree[ntcbfree++] = i;
}

// Free c, and tell the application if it knew of c.
static void
drop(struct tcb *c)
{
	bool opened = c->opened;

	tcb_free(c);
	if (opened && app->gone)
		app->gone(c);
}

// Send segment s of c, with an ACK of what we have received.
static void
xmit(struct tcb *c, struct seg *s)
{
	u32 i = s - segs;

	tcp_emit(c->rip, c->rmac, c->lport, c->rport, s->seq, c->rcv_nxt, s->flags | TCP_ACK,
	    s->flags & TCP_SYN ? c->mss : 0, segdata[i], s->len);
	if (SEQ_GT(s->seq + seglen(s), c->snd_nxt))
		c->snd_nxt = s->seq + seglen(s);
	c->ackpending = false;
}

// A segment with no data: an ACK, or RST.
static void
control(struct tcb *c, u32 seq, u8 flags)
{
	tcp_emit(c->rip, c->rmac, c->lport, c->rport, seq, c->rcv_nxt, flags, 0, NULL, 0);
	if (flags & TCP_ACK)
		c->ackpending = false;
}

// Send the queued segments that fit in the peer's window.  A control
// segment always goes: it carries no data.
static void
output(struct tcb *c)
{
	while (c->unsent != NIL) {
		struct seg *s = &segs[c->unsent];
		if (s->len > 0 && SEQ_GT(s->seq + s->len, c->snd_una + c->snd_wnd))
			break;
		xmit(c, s);
		c->unsent = s->next;
	}
}

static void
enqueue(struct tcb *c, struct seg *s)
{
	i16 i = s - segs;

	s->seq = c->snd_end;
	c->snd_end += seglen(s);
	if (c->tail != NIL)
		segs[c->tail].next = i;
	else
		c->head = i;
	c->tail = i;
	if (c->unsent == NIL)
		c->unsent = i;
}

// <<tcp-timer
// Arm c's one timer for what it waits for now.  A retransmission timer
// already running keeps its deadline; the idle timeout starts again.
static void
settimer(struct tcb *c)
{
	enum timer t;
	u64 after;

	if (c->head != NIL) {
		t = T_RTX;
		after = c->rto;
	} else if (c->state == ESTAB || c->state == CLOSE_WAIT) {
		c->timer = T_IDLE;
		c->when = now_us + IDLE_US;
		return;
	} else if (c->state == FIN_WAIT_2) {
		t = T_FINWAIT2;
		after = FINWAIT2_US;
	} else if (c->state == TIME_WAIT) {
		t = T_TIMEWAIT;
		after = TIMEWAIT_US;
	} else {
		c->timer = T_NONE;
		return;
	}
	if (c->timer != t) {
		c->timer = t;
		c->when = now_us + after;
	}
}
// >>tcp-timer

// A segment to no connection: RST, unless it is one (RFC 9293 3.10.7.1).
static void
reset_reply(const struct ipv4 *ip, const u8 *srcmac, const struct tcphdr *t)
{
	if (t->flags & TCP_RST)
		return;
	if (t->flags & TCP_ACK)
		tcp_emit(ip->src, srcmac, t->dport, t->sport, t->ack, 0, TCP_RST, 0, NULL, 0);
	else
		tcp_emit(ip->src, srcmac, t->dport, t->sport, 0,
		    t->seq + t->len + !!(t->flags & TCP_SYN) + !!(t->flags & TCP_FIN),
		    TCP_RST | TCP_ACK, 0, NULL, 0);
	tcp_stats->net_tcp_rst_sent++;
}

// A segment for the listening port and no connection (RFC 9293 3.10.7.2).
static void
listen_input(const struct ipv4 *ip, const u8 *srcmac, const struct tcphdr *t)
{
	if (t->flags & TCP_RST)
		return;
	if (app == NULL || t->dport != lport || t->flags & TCP_ACK) {
		reset_reply(ip, srcmac, t);
		return;
	}
	if (!(t->flags & TCP_SYN))
		return;
	struct tcb *c = tcb_alloc(ip->src, t->sport, t->dport);
	struct seg *s = c != NULL ? seg_alloc() : NULL;
	if (s == NULL) {
		if (c != NULL)
			tcb_free(c);
		tcp_stats->net_tcp_refused++;
		reset_reply(ip, srcmac, t);
		return;
	}
	memcpy(c->rmac, srcmac, ETH_ALEN);
	c->irs = t->seq;
	c->rcv_nxt = t->seq + 1;
	// Without the option the peer takes 536 (RFC 9293 3.7.1).
	c->mss = t->mss == 0 ? 536 : t->mss < TCP_MSS ? t->mss : TCP_MSS;
	c->iss = isn(ip->src, t->sport);
	c->snd_una = c->snd_nxt = c->snd_end = c->iss;
	c->snd_wnd = t->wnd;
	c->snd_wl1 = t->seq;
	c->snd_wl2 = c->iss;
	setstate(c, SYN_RCVD);
	s->len = 0;
	s->flags = TCP_SYN;
	enqueue(c, s);
	output(c);
	settimer(c);
}

// Is a segment of slen sequence numbers at seq acceptable (RFC 9293
// 3.10.7.4, the table for a receive window above 0)?
static bool
acceptable(const struct tcb *c, u32 seq, u32 slen)
{
	u32 end = c->rcv_nxt + TCP_RCVWND;

	if (SEQ_GE(seq, c->rcv_nxt) && SEQ_LT(seq, end))
		return true;
	return slen > 0 && SEQ_GE(seq + slen - 1, c->rcv_nxt) && SEQ_LT(seq + slen - 1, end);
}

// An ACK that covers new data: free what it covers, restart the
// retransmission timer, and send what the window now lets out.
static void
acked(struct tcb *c, u32 ack)
{
	while (c->head != NIL && c->head != c->unsent) {
		struct seg *s = &segs[c->head];
		if (SEQ_GT(s->seq + seglen(s), ack))
			break;
		i16 next = s->next;
		seg_free(c->head);
		c->head = next;
	}
	if (c->head == NIL)
		c->tail = c->unsent = NIL;
	c->snd_una = ack;
	c->timer = T_NONE;
	c->tries = 0;
	c->rto = RTO_INIT;
}

// The segment's text and FIN, in ESTABLISHED, FIN-WAIT-1 and FIN-WAIT-2
// (RFC 9293 3.10.7.4, seventh and eighth).  In order only: a segment that
// starts past rcv_nxt is answered with a duplicate ACK and dropped.
static void
text(struct tcb *c, const struct tcphdr *t)
{
	u32 skip = 0;

	if (SEQ_GT(t->seq, c->rcv_nxt)) {
		c->ackpending = true;
		return;
	}
	skip = c->rcv_nxt - t->seq;
	if (skip < t->len) {
		c->rcv_nxt += t->len - skip;
		c->ackpending = true;
		if (c->state == ESTAB || c->state == FIN_WAIT_1 || c->state == FIN_WAIT_2)
			if (app->recv)
				app->recv(c, t->data + skip, t->len - skip);
		if (c->state == CLOSED)
			return;
	}
	if (!(t->flags & TCP_FIN) || t->seq + t->len != c->rcv_nxt)
		return;
	c->rcv_nxt++;
	c->ackpending = true;
	if (c->state == ESTAB)
		setstate(c, CLOSE_WAIT);
	else if (c->state == FIN_WAIT_1)
		setstate(c, c->snd_una == c->snd_end ? TIME_WAIT : CLOSING);
	else if (c->state == FIN_WAIT_2)
		setstate(c, TIME_WAIT);
	if (!c->eof) {
		c->eof = true;
		if (app->eof)
			app->eof(c);
	}
}

// A segment for connection c (RFC 9293 3.10.7.4, in its order).
static void
segment(struct tcb *c, const struct tcphdr *t)
{
	u32 slen = t->len + !!(t->flags & TCP_SYN) + !!(t->flags & TCP_FIN);

	// A SYN again while our SYN-ACK is unanswered: it was lost; send it now.
	if (c->state == SYN_RCVD && (t->flags & (TCP_SYN | TCP_ACK | TCP_RST)) == TCP_SYN &&
	    t->seq == c->irs) {
		xmit(c, &segs[c->head]);
		return;
	}
	// First: the sequence number.
	if (!acceptable(c, t->seq, slen)) {
		if (!(t->flags & TCP_RST)) {
			c->ackpending = true;
			if (c->state == TIME_WAIT && t->flags & TCP_FIN)
				c->timer = T_NONE;              // its FIN again: TIME-WAIT restarts
		}
		return;
	}
	// Second: RST.  Only an exact match resets; one elsewhere in the
	// window gets a challenge ACK (RFC 5961 3.2).
	if (t->flags & TCP_RST) {
		if (t->seq == c->rcv_nxt) {
			if (c->state != TIME_WAIT)
				tcp_stats->net_tcp_resets++;
			drop(c);
		} else {
			c->ackpending = true;
		}
		return;
	}
	// Fourth: a SYN in the window gets a challenge ACK (RFC 5961 4.2).
	if (t->flags & TCP_SYN) {
		c->ackpending = true;
		return;
	}
	// Fifth: the ACK.
	if (!(t->flags & TCP_ACK))
		return;
	if (c->state == SYN_RCVD) {
		if (!SEQ_LT(c->snd_una, t->ack) || !SEQ_LE(t->ack, c->snd_nxt)) {
			control(c, t->ack, TCP_RST);
			return;
		}
		setstate(c, ESTAB);
		tcp_stats->net_tcp_accepts++;
		c->opened = true;
		acked(c, t->ack);
		c->snd_wnd = t->wnd;
		c->snd_wl1 = t->seq;
		c->snd_wl2 = t->ack;
		if (app->open)
			app->open(c);
		if (c->state == CLOSED)
			return;
	} else if (SEQ_GT(t->ack, c->snd_nxt)) {
		c->ackpending = true;                   // it acknowledges what was never sent
		return;
	} else {
		if (SEQ_GT(t->ack, c->snd_una))
			acked(c, t->ack);
		if (SEQ_LE(c->snd_una, t->ack) && (SEQ_LT(c->snd_wl1, t->seq) ||
		    (c->snd_wl1 == t->seq && SEQ_LE(c->snd_wl2, t->ack)))) {
			c->snd_wnd = t->wnd;
			c->snd_wl1 = t->seq;
			c->snd_wl2 = t->ack;
		}
	}
	bool finacked = c->finq && c->snd_una == c->snd_end;
	switch (c->state) {
	case FIN_WAIT_1:
		if (finacked)
			setstate(c, FIN_WAIT_2);
		break;
	case CLOSING:
		if (finacked)
			setstate(c, TIME_WAIT);
		return;
	case LAST_ACK:
		if (finacked)
			drop(c);
		return;
	case TIME_WAIT:
		if (t->flags & TCP_FIN) {
			c->ackpending = true;
			c->timer = T_NONE;
		}
		return;
	case CLOSE_WAIT:
		output(c);
		return;
	}
	// Seventh and eighth: the text and FIN.
	text(c, t);
	if (c->state != CLOSED)
		output(c);
}

void
tcp_input(const struct ipv4 *ip, const u8 *srcmac, u64 now)
{
	struct tcphdr t;

	if (!ready)
		init();
	now_us = now;
	if (tcp_parse(ip->payload, ip->len, ip->src, ip->dst, &t) != TCP_OK || ip->dst != NET_IP) {
		tcp_stats->net_tcp_bad++;
		return;
	}
	struct tcb *c = lookup(ip->src, t.sport, t.dport);
	// A new SYN for the pair of a connection in TIME-WAIT, beyond what it
	// received, reopens it (RFC 9293 3.10.7.4, fourth, TIME-WAIT note).
	if (c != NULL && c->state == TIME_WAIT && (t.flags & (TCP_SYN | TCP_ACK | TCP_RST)) == TCP_SYN &&
	    SEQ_GT(t.seq, c->rcv_nxt)) {
		drop(c);
		c = NULL;
	}
	if (c == NULL)
		listen_input(ip, srcmac, &t);
	else {
		segment(c, &t);
		if (c->state != CLOSED) {
			if (c->ackpending)
				control(c, c->snd_nxt, TCP_ACK);
			settimer(c);
		}
	}
	publish();
}

// The application's side.

u32
tcp_send(struct tcb *c, const void *data, u32 len)
{
	const u8 *p = data;
	u32 done = 0;
	struct seg *s = NULL;

	if ((c->state != ESTAB && c->state != CLOSE_WAIT) || c->finq)
		return 0;
	while (done < len && (s = seg_alloc()) != NULL) {
		u32 n = len - done < c->mss ? len - done : c->mss;
		memcpy(segdata[s - segs], p + done, n);
		s->len = n;
		s->flags = 0;
		enqueue(c, s);
		done += n;
	}
	if (done > 0) {
		segs[c->tail].flags |= TCP_PSH;
		output(c);
		settimer(c);
	}
	publish();
	return done;
}

void
tcp_close(struct tcb *c)
{
	if (c->finq || (c->state != ESTAB && c->state != CLOSE_WAIT && c->state != SYN_RCVD))
		return;
	struct seg *s = seg_alloc();
	if (s == NULL) {
		tcp_abort(c);
		return;
	}
	s->len = 0;
	s->flags = TCP_FIN;
	c->finq = true;
	enqueue(c, s);
	setstate(c, c->state == CLOSE_WAIT ? LAST_ACK : FIN_WAIT_1);
	output(c);
	settimer(c);
	publish();
}

void
tcp_abort(struct tcb *c)
{
	if (c->state == CLOSED)
		return;
	control(c, c->snd_nxt, TCP_RST);
	tcp_stats->net_tcp_aborts++;
	drop(c);
	publish();
}

// The timers.

u64
tcp_deadline(void)
{
	u64 d = 0;

	for (i16 i = active; i != NIL; i = tcbs[i].next)
		if (tcbs[i].timer != T_NONE && (d == 0 || tcbs[i].when < d))
			d = tcbs[i].when;
	return d;
}

// c's timer ran out.
static void
expire(struct tcb *c)
{
	switch (c->timer) {
	case T_RTX:
		if (++c->tries > TRIES) {
			tcp_abort(c);
			return;
		}
		c->rto = c->rto * 2 < RTO_MAX ? c->rto * 2 : RTO_MAX;
		c->when = now_us + c->rto;
		tcp_stats->net_tcp_retransmits++;
		if (c->head == c->unsent) {             // nothing out: the window is shut; probe it
			xmit(c, &segs[c->unsent]);
			c->unsent = segs[c->unsent].next;
		} else {
			xmit(c, &segs[c->head]);
		}
		return;
	case T_IDLE:
		c->timer = T_NONE;
		tcp_stats->net_tcp_idle_closes++;
		tcp_close(c);
		return;
	case T_FINWAIT2:
		tcp_abort(c);
		return;
	case T_TIMEWAIT:
		drop(c);
		return;
	}
}

void
tcp_timers(u64 now)
{
	if (!ready)
		return;
	now_us = now;
	for (i16 i = active, next; i != NIL; i = next) {
		struct tcb *c = &tcbs[i];
		next = c->next;
		if (c->timer != T_NONE && c->when <= now) {
			expire(c);
			if (c->state != CLOSED)
				settimer(c);
		}
	}
	publish();
}
