// Fuzz target: TCP connections (kernel/tcp.c) driven through tcp_input()
// and tcp_timers() by a script of steps read from the input.
//
// Four clients (10.0.2.2, ports 40000-40003) talk to the listening port
// 80.  Each step is one byte, then what that step reads:
//   0 SYN           1 ACK of all the server sent     2 data: a length byte and the bytes
//   3 FIN|ACK       4 RST at the next sequence number
//   5 any segment: flags, and a sequence and an acknowledgment number
//     each off by a signed byte from the expected ones
//   6 time passes: a byte of tens of milliseconds, then tcp_timers()
//   7 the application closes (or, for an odd byte, aborts) the client's connection
// and bits 3-4 of the byte pick the client.  The application answers
// each piece of data with 300 bytes and closes on the peer's FIN.
//
// After each step: the levels are sane (never more buffers than segments
// allow, TIME-WAIT within open, nothing in use and no deadline when no
// connection is open), and no deadline is already past after the timers
// ran.  At the end, time runs on until every connection is gone: one
// that never ends, or a buffer that is never freed, is a failure.

#include "fuzz.h"
#include "net.h"
#include "tcp.h"
#include "shim.h"

#define PEER   0x0a000202
#define NCLI   4
#define NSEG   1024             // kernel/tcp.c's pool of segments

static const u8 peermac[ETH_ALEN] = { 0x52, 0x55, 0x0a, 0x00, 0x02, 0x02 };

static struct client {
	u32 seq;                // our next sequence number
	u32 ack;                // the server's next, from what it sent
	struct tcb *c;          // the connection the application was told of
} cli[NCLI];
static struct tcb *opened[TCP_NCONN];
static u64 now = 1;
static u32 seen;                // frames of the shim read so far

static int
who(struct tcb *c)
{
	int i = tcp_index(c);

	ENSURE(i >= 0 && i < TCP_NCONN);
	return i;
}

static void
app_open(struct tcb *c)
{
	int i = who(c);

	ENSURE(opened[i] == NULL);
	opened[i] = c;
}

static void
app_recv(struct tcb *c, const u8 *d, u32 len)
{
	static const u8 reply[300];

	ENSURE(opened[who(c)] == c && len > 0);
	(void)d;
	tcp_send(c, reply, sizeof reply);
}

static void
app_eof(struct tcb *c)
{
	ENSURE(opened[who(c)] == c);
	tcp_close(c);
}

static void
app_gone(struct tcb *c)
{
	int i = who(c);

	ENSURE(opened[i] == c);
	opened[i] = NULL;
	for (int k = 0; k < NCLI; k++)
		if (cli[k].c == c)
			cli[k].c = NULL;
}

static const struct tcp_app app = { app_open, app_recv, app_eof, app_gone };

// The server's frames since the last look: each must be a right IPv4
// and TCP segment to a client; the client learns the server's next
// sequence number, and which connection is its own.
static void
look(void)
{
	u32 len;

	for (; seen < shim_sent(); seen++) {
		const u8 *f = shim_frame(seen, &len);
		struct eth e;
		struct ipv4 ip;
		struct tcphdr t;
		if (f == NULL)
			continue;
		ENSURE(eth_parse(f, len, &e) && e.type == ETHTYPE_IPV4);
		ENSURE(memcmp(e.dst, peermac, ETH_ALEN) == 0);
		ENSURE(ipv4_parse(f + ETH_HLEN, len - ETH_HLEN, PEER, &ip) == IPV4_OK);
		ENSURE(ip.proto == IPPROTO_TCP && ip.src == NET_IP);
		ENSURE(tcp_parse(ip.payload, ip.len, ip.src, ip.dst, &t) == TCP_OK);
		ENSURE(t.sport == 80 && t.len <= 1460);
		if (t.dport < 40000 || t.dport >= 40000 + NCLI || (t.flags & TCP_RST))
			continue;
		struct client *k = &cli[t.dport - 40000];
		k->ack = t.seq + t.len + !!(t.flags & TCP_SYN) + !!(t.flags & TCP_FIN);
	}
}

static void
segment(int k, u8 flags, u32 seq, u32 ack, const u8 *data, u32 len)
{
	u8 *p = malloc(TCP_HLEN + len);
	struct ipv4 ip = { .proto = IPPROTO_TCP, .ttl = 64, .src = PEER, .dst = NET_IP,
	    .payload = p, .len = TCP_HLEN + len };
	u16 port = 40000 + k;

	p[0] = port >> 8; p[1] = port;
	p[2] = 0; p[3] = 80;
	p[4] = seq >> 24; p[5] = seq >> 16; p[6] = seq >> 8; p[7] = seq;
	p[8] = ack >> 24; p[9] = ack >> 16; p[10] = ack >> 8; p[11] = ack;
	p[12] = 5 << 4;
	p[13] = flags;
	p[14] = 0xff; p[15] = 0xff;
	p[16] = p[17] = p[18] = p[19] = 0;
	if (len)
		memcpy(p + TCP_HLEN, data, len);
	u16 c = inet_fold(inet_sum(inet_pseudo(PEER, NET_IP, IPPROTO_TCP, TCP_HLEN + len), p, TCP_HLEN + len));
	p[16] = c >> 8;
	p[17] = c;
	tcp_input(&ip, peermac, now);
	free(p);
	look();
}

static void
sane(void)
{
	struct tcp_levels l;

	tcp_levels(&l);
	ENSURE(l.open <= TCP_NCONN && l.timewait <= l.open && l.bufs <= NSEG);
	if (l.open == 0)
		ENSURE(l.bufs == 0 && tcp_deadline() == 0);
	for (int i = 0; i < TCP_NCONN; i++)
		if (opened[i] != NULL)
			ENSURE(l.open > 0);
}

static void
timers(u64 dt)
{
	now += dt;
	u64 d = tcp_deadline();
	if (d != 0 && d <= now)
		tcp_timers(now);
	look();
	d = tcp_deadline();
	ENSURE(d == 0 || d > now);
}

int
LLVMFuzzerTestOneInput(const u8 *data, size_t size)
{
	static bool listening;
	u32 i = 0;

	if (!listening) {
		tcp_listen(80, &app);
		listening = true;
	}
	for (int k = 0; k < NCLI; k++)
		cli[k] = (struct client){ .seq = 1000 + k * 7919 + (u32)now };
	while (i < size) {
		u8 op = data[i++];
		int k = op >> 3 & 3;
		struct client *c = &cli[k];
		u8 b = i < size ? data[i] : 0;
		switch (op & 7) {
		case 0:
			segment(k, TCP_SYN, c->seq, 0, NULL, 0);
			c->seq++;
			break;
		case 1:
			segment(k, TCP_ACK, c->seq, c->ack, NULL, 0);
			break;
		case 2: {
			u32 n = b;
			i++;
			if (n > size - i)
				n = size - i;
			segment(k, TCP_ACK | TCP_PSH, c->seq, c->ack, data + i, n);
			c->seq += n;
			i += n;
			break;
		}
		case 3:
			segment(k, TCP_FIN | TCP_ACK, c->seq, c->ack, NULL, 0);
			c->seq++;
			break;
		case 4:
			segment(k, TCP_RST, c->seq, 0, NULL, 0);
			break;
		case 5: {
			u8 fl = b, ds = i + 1 < size ? data[i + 1] : 0, da = i + 2 < size ? data[i + 2] : 0;
			i += 3;
			segment(k, fl, c->seq + (int8_t)ds, c->ack + (int8_t)da, NULL, 0);
			break;
		}
		case 6:
			i++;
			timers((u64)b * 10000);
			break;
		case 7:
			i++;
			for (int s = 0; s < TCP_NCONN; s++) {
				if (opened[s] == NULL)
					continue;
				if (b & 1)
					tcp_abort(opened[s]);
				else
					tcp_close(opened[s]);
				break;
			}
			look();
			break;
		}
		sane();
	}

	// Run time on until every connection is gone.
	for (int n = 0; n < 200 && tcp_deadline() != 0; n++) {
		u64 d = tcp_deadline();
		timers(d > now ? d - now : 1);
		sane();
	}
	struct tcp_levels l;
	tcp_levels(&l);
	ENSURE(tcp_deadline() == 0 && l.open == 0 && l.bufs == 0);
	for (int s = 0; s < TCP_NCONN; s++)
		ENSURE(opened[s] == NULL);
	return 0;
}
