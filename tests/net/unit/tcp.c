// Unit tests of kernel/tcpseg.c and kernel/tcp.c: TCP headers (RFC 9293
// 3.1) and the passive side of a connection, frames captured by the shim.

#include "check.h"
#include "net.h"
#include "tcp.h"
#include "shim.h"
#include "frames.h"

// A segment from 10.0.2.2:40000 to 10.0.2.15:80 with hex options, its
// data offset and checksum filled in; returns its length.
static u32
seg(u8 *p, u8 flags, u32 seq, u32 ack, const char *opts, const char *data)
{
	u32 n = unhex(p, "9c 40 00 50  00 00 00 00  00 00 00 00  00 00 ff ff  00 00 00 00");
	n += unhex(p + n, opts);
	u32 off = n;
	n += strlen(data);
	memcpy(p + off, data, strlen(data));
	p[4] = seq >> 24; p[5] = seq >> 16; p[6] = seq >> 8; p[7] = seq;
	p[8] = ack >> 24; p[9] = ack >> 16; p[10] = ack >> 8; p[11] = ack;
	p[12] = off / 4 << 4;
	p[13] = flags;
	put16be(p + 16, rfc1071(0x0a00 + 0x0202 + 0x0a00 + 0x020f + IPPROTO_TCP + n, p, n));
	return n;
}

static enum tcp_verdict
parse(const u8 *s, u32 n, struct tcphdr *t)
{
	u8 *p = exact(s, n);
	enum tcp_verdict v = tcp_parse(p, n, GATEWAY_IP, NET_IP, t);

	free(p);
	return v;
}

TEST(tcp_parse_linux_syn)
{
	u8 s[128];
	// MSS 1460, SACK permitted, timestamps, NOP, window scale 7.
	u32 n = seg(s, TCP_SYN, 0x11223344, 0, "02 04 05 b4 04 02 08 0a 00 00 00 01 00 00 00 00 01 03 03 07", "");
	struct tcphdr t;

	CHECK_EQ(parse(s, n, &t), TCP_OK);
	CHECK_EQ(t.sport, 40000);
	CHECK_EQ(t.dport, 80);
	CHECK_EQ(t.seq, 0x11223344);
	CHECK_EQ(t.flags, TCP_SYN);
	CHECK_EQ(t.wnd, 0xffff);
	CHECK_EQ(t.mss, 1460);
	CHECK_EQ(t.len, 0);
	for (u32 len = 0; len < n; len++)
		CHECKF(parse(s, len, &t) != TCP_OK, "%u bytes", len);
	for (u32 len = 0; len < TCP_HLEN; len++)
		CHECKF(parse(s, len, &t) == TCP_SHORT, "%u bytes", len);
}

TEST(tcp_parse_data_and_checksum)
{
	u8 s[128];
	u32 n = seg(s, TCP_ACK | TCP_PSH, 7, 9, "", "GET / HTTP/1.1\r\n");
	struct tcphdr t;

	CHECK_EQ(parse(s, n, &t), TCP_OK);
	CHECK_EQ(t.len, 16);
	CHECK_EQ(t.mss, 0);
	CHECK_EQ(t.ack, 9);
	for (u32 i = 0; i < n; i++) {
		if (i == 12)
			continue;               // the data offset: a different verdict
		s[i] ^= 0x01;
		CHECKF(parse(s, n, &t) == TCP_CKSUM, "byte %u flipped", i);
		s[i] ^= 0x01;
	}
	s[12] = 0x40;                           // an offset under 20 bytes
	CHECK_EQ(parse(s, n, &t), TCP_SHORT);
	s[12] = 0xf0;                           // 60 bytes, past the segment
	CHECK_EQ(parse(s, 40, &t), TCP_SHORT);
}

TEST(tcp_parse_options)
{
	static const struct { const char *opts; enum tcp_verdict v; u16 mss; } o[] = {
		{ "02 04 02 18", TCP_OK, 536 },
		{ "01 01 01 01", TCP_OK, 0 },
		{ "00 02 04 00", TCP_OK, 0 },           // after the end of the list: not read
		{ "fe 04 aa bb", TCP_OK, 0 },           // unknown, skipped by its length
		{ "01 01 02 04 05 b4 00 00", TCP_OK, 1460 },
		{ "02 04 00 00", TCP_BADOPT, 0 },       // an MSS of 0
		{ "02 03 05 00", TCP_BADOPT, 0 },       // an MSS option of 3 bytes
		{ "02 06 05 b4 00 00", TCP_BADOPT, 0 },
		{ "fe 00 00 00", TCP_BADOPT, 0 },       // length 0
		{ "fe 01 00 00", TCP_BADOPT, 0 },       // length 1
		{ "fe 05 00 00", TCP_BADOPT, 0 },       // past the header
		{ "01 01 01 fe", TCP_BADOPT, 0 },       // no room for the length
	};
	struct tcphdr t;

	for (u32 i = 0; i < sizeof o / sizeof o[0]; i++) {
		u8 s[128];
		u32 n = seg(s, TCP_SYN, 1, 0, o[i].opts, "");
		enum tcp_verdict v = parse(s, n, &t);
		CHECKF(v == o[i].v, "options %s: got %d", o[i].opts, v);
		if (v == TCP_OK)
			CHECKF(t.mss == o[i].mss, "options %s: mss %u", o[i].opts, t.mss);
	}
}

// -- connections

static struct tcb *conn;
static u32 opens, gones, recvd, eofs;

static void on_open(struct tcb *c) { conn = c; opens++; }
static void on_recv(struct tcb *c, const u8 *d, u32 len) { (void)c; (void)d; recvd += len; }
static void on_eof(struct tcb *c) { eofs++; tcp_close(c); }
static void on_gone(struct tcb *c) { (void)c; conn = NULL; gones++; }
static const struct tcp_app app = { on_open, on_recv, on_eof, on_gone };

static u64 now = 1000000;

static void
input(const u8 *s, u32 n)
{
	struct ipv4 ip = { .proto = IPPROTO_TCP, .ttl = 64, .src = GATEWAY_IP, .dst = NET_IP,
	    .payload = s, .len = n };

	tcp_input(&ip, gateway_mac, now);
}

// The last frame the server sent, as TCP.
static struct tcphdr
sent(void)
{
	u32 len;
	const u8 *f = shim_frame(shim_sent() - 1, &len);
	struct ipv4 ip;
	struct tcphdr t;

	CHECK(f != NULL);
	CHECK_EQ(ipv4_parse(f + ETH_HLEN, len - ETH_HLEN, GATEWAY_IP, &ip), IPV4_OK);
	CHECK_EQ(ip.src, NET_IP);
	CHECK(memcmp(f, gateway_mac, ETH_ALEN) == 0);
	CHECK_EQ(tcp_parse(ip.payload, ip.len, NET_IP, GATEWAY_IP, &t), TCP_OK);
	return t;
}

static void
levels_are(u32 open, u32 timewait, u32 bufs)
{
	struct tcp_levels l;

	tcp_levels(&l);
	CHECK_EQ(l.open, open);
	CHECK_EQ(l.timewait, timewait);
	CHECK_EQ(l.bufs, bufs);
}

// SYN, SYN-ACK with the MSS, ACK: established; returns the server's next seq.
static u32
handshake(u32 cseq)
{
	u8 s[128];

	tcp_listen(80, &app);
	shim_reset();
	input(s, seg(s, TCP_SYN, cseq, 0, "02 04 05 b4", ""));
	CHECK_EQ(shim_sent(), 1);
	struct tcphdr t = sent();
	CHECK_EQ(t.flags, TCP_SYN | TCP_ACK);
	CHECK_EQ(t.ack, cseq + 1);
	CHECK_EQ(t.mss, 1460);
	CHECK_EQ(t.sport, 80);
	CHECK_EQ(t.dport, 40000);
	levels_are(1, 0, 1);
	input(s, seg(s, TCP_ACK, cseq + 1, t.seq + 1, "", ""));
	CHECK_EQ(opens, 1);
	levels_are(1, 0, 0);
	return t.seq + 1;
}

TEST(tcp_handshake_data_and_passive_close)
{
	u8 s[128];
	u32 sseq = handshake(5000);

	input(s, seg(s, TCP_ACK | TCP_PSH, 5001, sseq, "", "hello"));
	CHECK_EQ(recvd, 5);
	CHECK_EQ(tcp_send(conn, "world", 5), 5);
	struct tcphdr t = sent();
	CHECK_EQ(t.seq, sseq);
	CHECK_EQ(t.ack, 5006);
	CHECK_EQ(t.len, 5);
	CHECK(memcmp(t.data, "world", 5) == 0);
	levels_are(1, 0, 1);
	// The peer acks and closes; the server closes too (on_eof): LAST-ACK.
	input(s, seg(s, TCP_ACK | TCP_FIN, 5006, sseq + 5, "", ""));
	CHECK_EQ(eofs, 1);
	t = sent();
	CHECK(t.flags & TCP_FIN);
	input(s, seg(s, TCP_ACK, 5007, t.seq + 1, "", ""));
	CHECK_EQ(gones, 1);
	levels_are(0, 0, 0);
	CHECK_EQ(tcp_deadline(), 0);
}

TEST(tcp_unknown_port_gets_rst)
{
	u8 s[128];

	tcp_listen(80, &app);
	shim_reset();
	u32 n = seg(s, TCP_SYN, 77, 0, "", "");
	s[3] = 81;                              // port 81
	put16be(s + 16, 0);
	put16be(s + 16, rfc1071(0x0a00 + 0x0202 + 0x0a00 + 0x020f + IPPROTO_TCP + n, s, n));
	input(s, n);
	CHECK_EQ(shim_sent(), 1);
	struct tcphdr t = sent();
	CHECK_EQ(t.flags, TCP_RST | TCP_ACK);   // RFC 9293 3.10.7.1: ack the SYN
	CHECK_EQ(t.ack, 78);
	levels_are(0, 0, 0);
}

// A TIME-WAIT connection that a new SYN reopens is freed with the
// application told (found by the tcpconn fuzz target).
TEST(tcp_timewait_reopen_tells_gone)
{
	u8 s[128];
	u32 sseq = handshake(9000);

	tcp_close(conn);                        // FIN-WAIT-1
	struct tcphdr t = sent();
	CHECK(t.flags & TCP_FIN);
	input(s, seg(s, TCP_ACK | TCP_FIN, 9001, sseq + 1, "", ""));   // TIME-WAIT
	levels_are(1, 1, 0);
	input(s, seg(s, TCP_SYN, 9100, 0, "", ""));                     // beyond rcv_nxt: reopens
	CHECK_EQ(opens, 1);
	CHECK_EQ(gones, 1);                     // tcp.h: gone when c is freed
}
