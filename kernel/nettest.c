// nettest.c: the network stage's self-tests (selftest.c runs them).
// They look at the card as vnet_init() left it, reading back from the
// device what the driver wrote; without a card they fail, saying so.

#include "types.h"
#include "defs.h"
#include "cpu.h"
#include "net.h"
#include "pci.h"
#include "trap.h"
#include "virtio.h"
#include "mmu.h"
#include "tcp.h"

static const char *
nocard(void)
{
	return fail("no virtio-net device (QEMU: -device virtio-net-pci,disable-legacy=on)");
}

// The card is on bus 0 and was taken: memory decoding and bus mastering on.
const char *
test_pci(void)
{
	const struct pcidev *d = vnet_pci();

	if (npcidev == 0 || pcidevs[0].slot != 0 || pcidevs[0].vendor == 0xffff)
		return fail("no host bridge at 00:00.0: enumeration found %d functions", npcidev);
	if (d == NULL)
		return nocard();
	if (d != pci_find(0x1af4, 0x1041))
		return fail("the driver's card is not the first 1af4:1041");
	u16 cmd = pci_read16(d, PCI_COMMAND);
	if ((cmd & (CMD_MEM | CMD_MASTER)) != (CMD_MEM | CMD_MASTER))
		return fail("command register 0x%x: memory space or bus master off", cmd);
	return NULL;
}

// The card's memory BARs: each a power of 2 in size, aligned to it, below
// the identity map's end, and the 64-bit one's upper half read back.
const char *
test_pcibars(void)
{
	const struct pcidev *d = vnet_pci();
	int nmem = 0;

	if (d == NULL)
		return nocard();
	for (int i = 0; i < NBAR; i++) {
		const struct pcibar *b = &d->bar[i];
		if (b->size == 0)
			continue;
		if (b->size & (b->size - 1))
			return fail("BAR%d size 0x%lx is not a power of 2", i, b->size);
		if (b->base == 0 || b->base & (b->size - 1))
			return fail("BAR%d base 0x%lx is not aligned to its size 0x%lx", i, b->base, b->size);
		if (b->io)
			return fail("BAR%d is I/O space: a modern-only card has none", i);
		if (b->base + b->size > IDMAP_END)
			return fail("BAR%d at 0x%lx is beyond the identity map", i, b->base);
		u64 now = pci_read32(d, PCI_BAR0 + 4 * i) & ~15u;
		if (b->is64)
			now |= (u64)pci_read32(d, PCI_BAR0 + 4 * i + 4) << 32;
		if (now != b->base)
			return fail("BAR%d reads 0x%lx after sizing, was 0x%lx", i, now, b->base);
		nmem++;
		if (b->is64)
			i++;
	}
	if (nmem == 0)
		return fail("the card has no memory BAR");
	return NULL;
}

// MSI-X enabled, the function not masked, the receive entry unmasked and
// aimed at the network core's local APIC with T_NETRX; the queue mapped
// to it and the transmit queue to none, as the device reads them back.
const char *
test_msix(void)
{
	const struct pcidev *d = vnet_pci();
	const char *err;

	if (d == NULL)
		return nocard();
	if ((err = msix_check(vnet_msix(), d, 0, T_NETRX, cpus[vnet_cpu()].apicid)) != NULL)
		return err;
	struct virtio v = *vnet_dev();
	if (virtio_queue_vector(&v, 0) != 0)
		return fail("receive queue on MSI-X vector 0x%x, want 0", virtio_queue_vector(&v, 0));
	if (virtio_queue_vector(&v, 1) != VIRTIO_NO_VECTOR)
		return fail("transmit queue on MSI-X vector 0x%x, want none", virtio_queue_vector(&v, 1));
	return NULL;
}

// The device took DRIVER_OK and asks for no reset; every receive buffer
// is published; and a frame sent comes back used from the transmit queue.
const char *
test_virtqueues(void)
{
	const struct virtio *v = vnet_dev();
	const struct virtq *rx = vnet_queue(0), *tx = vnet_queue(1);

	if (vnet_pci() == NULL)
		return nocard();
	u8 s = virtio_status(v);
	if ((s & (VIRTIO_ACKNOWLEDGE | VIRTIO_DRIVER | VIRTIO_FEATURES_OK | VIRTIO_DRIVER_OK)) !=
	    (VIRTIO_ACKNOWLEDGE | VIRTIO_DRIVER | VIRTIO_FEATURES_OK | VIRTIO_DRIVER_OK))
		return fail("device status 0x%x lacks a step of the initialisation", s);
	if (s & (VIRTIO_NEEDS_RESET | VIRTIO_FAILED))
		return fail("device status 0x%x: needs reset or failed", s);
	if ((u16)(rx->avail->idx - rx->used->idx) != rx->size)
		return fail("receive queue: %u buffers published, want %u",
		    (u16)(rx->avail->idx - rx->used->idx), rx->size);

	u16 before = tx->used->idx;
	u8 *out = vnet_tx_buf();
	if (out == NULL)
		return fail("no transmit buffer free");
	vnet_tx_send(arp_announce(out, vnet_mac(), NET_IP));
	vnet_tx_flush();
	for (int i = 0; i < 100000 && tx->used->idx == before; i++)
		udelay(10);
	if (tx->used->idx == before)
		return fail("the device did not use the frame sent within a second");
	return NULL;
}

// The ARP code on a known request: who has 10.0.2.15, tell 10.0.2.2, as
// QEMU's user networking asks (its gateway's MAC 52:55:0a:00:02:02).
const char *
test_arp(void)
{
	static const u8 req[42] = {
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x52, 0x55, 0x0a, 0x00, 0x02, 0x02, 0x08, 0x06,
		0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01,
		0x52, 0x55, 0x0a, 0x00, 0x02, 0x02, 10, 0, 2, 2,
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 10, 0, 2, 15,
	};
	static const u8 want[42] = {
		0x52, 0x55, 0x0a, 0x00, 0x02, 0x02, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0x08, 0x06,
		0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x02,
		0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 10, 0, 2, 15,
		0x52, 0x55, 0x0a, 0x00, 0x02, 0x02, 10, 0, 2, 2,
	};
	static const u8 mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
	u8 out[ETH_ZLEN + 4], other[42];
	struct arp a;
	u32 n;

	memset(out, 0xaa, sizeof out);
	if ((n = arp_reply(out, req, sizeof req, mac, NET_IP)) != ETH_ZLEN)
		return fail("reply of %u bytes, want %u", n, ETH_ZLEN);
	if (memcmp(out, want, sizeof want) != 0)
		return fail("reply differs from the expected frame");
	for (u32 i = sizeof want; i < ETH_ZLEN; i++)
		if (out[i] != 0)
			return fail("padding byte %u is 0x%x, want 0", i, out[i]);
	if (out[ETH_ZLEN] != 0xaa)
		return fail("reply wrote past its frame");
	if (!arp_parse(out + ETH_HLEN, n - ETH_HLEN, &a) || a.op != ARP_REPLY ||
	    a.spa != NET_IP || a.tpa != 0x0a000202)
		return fail("the reply does not parse back");
	if (arp_reply(out, req, sizeof req, mac, 0x0a000210) != 0)
		return fail("answered a request for another address");
	if (arp_reply(out, want, sizeof want, mac, NET_IP) != 0)
		return fail("answered a reply");
	if (arp_reply(out, req, 41, mac, NET_IP) != 0)
		return fail("answered a truncated request");
	memcpy(other, req, sizeof req);
	other[19] = 16;                         // protocol length 16: not IPv4
	if (arp_reply(out, other, sizeof other, mac, NET_IP) != 0)
		return fail("answered a request that is not for IPv4");
	n = arp_announce(out, mac, NET_IP);
	if (n != ETH_ZLEN || memcmp(out, eth_broadcast, ETH_ALEN) != 0 ||
	    !arp_parse(out + ETH_HLEN, n - ETH_HLEN, &a) || a.op != ARP_REQUEST ||
	    a.spa != NET_IP || a.tpa != NET_IP)
		return fail("the announcement is not a broadcast request for our own address");
	return NULL;
}

// The Internet checksum on RFC 1071's example (section 3: the bytes 00 01
// f2 03 f4 f5 f6 f7 sum to 0xddf2), at even and odd lengths and
// alignments; an IPv4 header built, parsed back, and refused when wrong.
const char *
test_inet(void)
{
	static const u8 rfc[9] = { 0x00, 0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7 };
	u8 h[IPV4_HLEN + 8];
	struct ipv4 ip;

	if (inet_fold(inet_sum(0, rfc + 1, 8)) != 0x220d)
		return fail("RFC 1071's example: checksum 0x%x, want 0x220d",
		    inet_fold(inet_sum(0, rfc + 1, 8)));
	if (inet_fold(inet_sum(0, rfc + 1, 7)) != (u16)~(0xddf2 - 0xf7))
		return fail("an odd length: checksum 0x%x", inet_fold(inet_sum(0, rfc + 1, 7)));
	if (inet_fold(inet_sum(inet_sum(0, rfc + 1, 4), rfc + 5, 4)) != 0x220d)
		return fail("a sum in two pieces differs from one in one");
	if (inet_pseudo(0x0a00020f, 0x0a000202, IPPROTO_TCP, 20) != 0x0a00 + 0x020f + 0x0a00 + 0x0202 + 6 + 20)
		return fail("the pseudo-header sums wrong");

	if (ipv4_build(h, IPPROTO_TCP, 0x0a000202, NET_IP, 7, 8) != IPV4_HLEN)
		return fail("ipv4_build: a header of the wrong length");
	if (ipv4_parse(h, sizeof h, NET_IP, &ip) != IPV4_OK || ip.src != 0x0a000202 ||
	    ip.dst != NET_IP || ip.proto != IPPROTO_TCP || ip.len != 8 || ip.payload != h + IPV4_HLEN)
		return fail("a header built does not parse back");
	if (ipv4_parse(h, sizeof h - 1, NET_IP, &ip) != IPV4_SHORT)
		return fail("a datagram shorter than its total length was taken");
	if (ipv4_parse(h, sizeof h, 0x0a000210, &ip) != IPV4_NOTUS)
		return fail("a datagram for another address was taken");
	h[8]--;                                 // the TTL, under the checksum
	if (ipv4_parse(h, sizeof h, NET_IP, &ip) != IPV4_CKSUM)
		return fail("a header with a wrong checksum was taken");
	ipv4_build(h, IPPROTO_TCP, 0x0a000202, NET_IP, 7, 8);
	h[6] |= 0x20;                           // MF
	h[10] = h[11] = 0;
	u16 c = inet_fold(inet_sum(0, h, IPV4_HLEN));
	h[10] = c >> 8;
	h[11] = c;
	if (ipv4_parse(h, sizeof h, NET_IP, &ip) != IPV4_FRAGMENT)
		return fail("a fragment was taken");
	return NULL;
}

// ICMP echo: a request from the gateway is answered from us to it, type
// 0, the same identifier, sequence and data, and a right checksum; a
// request with a wrong checksum, or a reply, is not answered.
const char *
test_icmp(void)
{
	static const u8 gw[6] = { 0x52, 0x55, 0x0a, 0x00, 0x02, 0x02 };
	static const u8 mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
	static u8 f[ETH_MAXLEN], out[ETH_MAXLEN];
	const char *data = "idlekit ping";
	u32 dlen = strlen(data), ilen = 8 + dlen;
	struct ipv4 ip;
	struct eth e;

	u32 n = eth_build(f, mac, gw, ETHTYPE_IPV4);
	n += ipv4_build(f + n, IPPROTO_ICMP, 0x0a000202, NET_IP, 9, ilen);
	u8 *q = f + n;
	memset(q, 0, 8);
	q[0] = ICMP_ECHO_REQUEST;
	q[4] = 0x12;                            // identifier 0x1234, sequence 7
	q[5] = 0x34;
	q[7] = 7;
	memcpy(q + 8, data, dlen);
	u16 c = inet_fold(inet_sum(0, q, ilen));
	q[2] = c >> 8;
	q[3] = c;
	n += ilen;

	u32 m = icmp_echo_reply(out, f, n, mac, NET_IP);
	if (m != eth_pad(f, n) || !eth_parse(out, m, &e) || memcmp(e.dst, gw, 6) != 0 ||
	    memcmp(e.src, mac, 6) != 0)
		return fail("echo reply of %u bytes, or not from us to the asker", m);
	if (ipv4_parse(out + ETH_HLEN, m - ETH_HLEN, 0x0a000202, &ip) != IPV4_OK ||
	    ip.src != NET_IP || ip.proto != IPPROTO_ICMP || ip.len != ilen)
		return fail("the echo reply's IPv4 header is wrong");
	const u8 *r = ip.payload;
	if (r[0] != ICMP_ECHO_REPLY || r[1] != 0 || inet_fold(inet_sum(0, r, ilen)) != 0 ||
	    memcmp(r + 4, q + 4, 4 + dlen) != 0)
		return fail("the echo reply: type %u, or its checksum, identifier or data wrong", r[0]);
	q[8] ^= 1;                              // the data no longer matches the checksum
	if (icmp_echo_reply(out, f, n, mac, NET_IP) != 0)
		return fail("answered a request with a wrong checksum");
	q[8] ^= 1;
	q[0] = ICMP_ECHO_REPLY;                 // a reply, to us, with its checksum right
	q[2] = q[3] = 0;
	c = inet_fold(inet_sum(0, q, ilen));
	q[2] = c >> 8;
	q[3] = c;
	if (icmp_echo_reply(out, f, n, mac, NET_IP) != 0)
		return fail("answered a reply");
	return NULL;
}

// A frame from QEMU's gateway 10.0.2.2, port 40000, to our port, with a
// TCP segment of the given flags, numbers, MSS option (0: none) and data.
static u32
segment(u8 *f, u16 port, u8 flags, u32 seq, u32 ack, u16 mss, const char *data)
{
	static const u8 gw[6] = { 0x52, 0x55, 0x0a, 0x00, 0x02, 0x02 };
	u32 dlen = data ? strlen(data) : 0, hl = mss ? 24 : 20;
	u8 *t = f + ETH_HLEN + IPV4_HLEN;

	eth_build(f, vnet_mac(), gw, ETHTYPE_IPV4);
	ipv4_build(f + ETH_HLEN, IPPROTO_TCP, 0x0a000202, NET_IP, 1, hl + dlen);
	memset(t, 0, hl);
	t[0] = 40000 >> 8;
	t[1] = 40000 & 0xff;
	t[2] = port >> 8;
	t[3] = port;
	for (int i = 0; i < 4; i++) {
		t[4 + i] = seq >> (24 - 8 * i);
		t[8 + i] = ack >> (24 - 8 * i);
	}
	t[12] = hl / 4 << 4;
	t[13] = flags;
	t[14] = t[15] = 0xff;
	if (mss) {
		t[20] = 2;
		t[21] = 4;
		t[22] = mss >> 8;
		t[23] = mss;
	}
	memcpy(t + hl, data, dlen);
	u16 c = inet_fold(inet_sum(inet_pseudo(0x0a000202, NET_IP, IPPROTO_TCP, hl + dlen), t, hl + dlen));
	t[16] = c >> 8;
	t[17] = c;
	return ETH_HLEN + IPV4_HLEN + hl + dlen;
}

// Feed frame f to TCP at time now; what it sent last is in tap, parsed
// into *out.  Returns false if it sent nothing or what it sent does not
// parse.
static bool
feed(u8 *f, u32 len, u64 now, u8 *tap, struct tcphdr *out)
{
	struct ipv4 ip;
	struct eth e;

	net_taplen = 0;
	if (len > 0) {
		if (!eth_parse(f, len, &e) || ipv4_parse(f + ETH_HLEN, len - ETH_HLEN, NET_IP, &ip) != IPV4_OK)
			return false;
		tcp_input(&ip, e.src, now);
	} else {
		tcp_timers(now);
	}
	return net_taplen > 0 && eth_parse(tap, net_taplen, &e) &&
	    ipv4_parse(tap + ETH_HLEN, net_taplen - ETH_HLEN, 0x0a000202, &ip) == IPV4_OK &&
	    ip.proto == IPPROTO_TCP &&
	    tcp_parse(ip.payload, ip.len, ip.src, ip.dst, out) == TCP_OK;
}

static const char *
tcptest(u8 *f, u8 *tap)
{
	struct tcphdr t;
	struct tcp_levels l;
	u64 now = 1000000;
	u32 seq = 1000;

	// The handshake: a SYN with MSS 1000 gets SYN-ACK, MSS 1000, ack seq + 1.
	if (!feed(f, segment(f, 80, TCP_SYN, seq, 0, 1000, NULL), now, tap, &t))
		return fail("a SYN to port 80 got no answer");
	if (t.flags != (TCP_SYN | TCP_ACK) || t.ack != seq + 1 || t.mss != 1000 || t.sport != 80 ||
	    t.dport != 40000)
		return fail("SYN-ACK: flags 0x%x ack %u mss %u", t.flags, t.ack, t.mss);
	u32 iss = t.seq;
	if (tcp_deadline() != now + 200000)
		return fail("SYN-RECEIVED: deadline %lu, want the retransmission's at %lu",
		    tcp_deadline(), now + 200000);
	seq++;
	if (feed(f, segment(f, 80, TCP_ACK, seq, iss + 1, 0, NULL), now, tap, &t))
		return fail("the handshake's ACK was answered (flags 0x%x)", t.flags);
	tcp_levels(&l);
	if (l.open != 1 || l.bufs != 0)
		return fail("established: %u open, %u buffers, want 1 and 0", l.open, l.bufs);

	// A request: its answer carries the ACK of it, in one segment.
	const char *req = "GET / HTTP/1.1\r\nHost: kit\r\n\r\n";
	if (!feed(f, segment(f, 80, TCP_ACK | TCP_PSH, seq, iss + 1, 0, req), now, tap, &t))
		return fail("a request got no answer");
	if (t.ack != seq + strlen(req) || t.len < 17 || memcmp(t.data, "HTTP/1.1 200 OK\r\n", 17) != 0)
		return fail("the answer to GET / does not start with 200 OK (ack %u, %u bytes)", t.ack, t.len);
	seq += strlen(req);
	u32 got = t.len;
	tcp_levels(&l);
	if (l.bufs != 1)
		return fail("%u buffers in flight, want 1", l.bufs);
	// A duplicate of the request: a duplicate ACK, no second answer.
	if (!feed(f, segment(f, 80, TCP_ACK | TCP_PSH, seq - strlen(req), iss + 1, 0, req), now, tap, &t) ||
	    t.len != 0 || t.ack != seq)
		return fail("a duplicate segment: no duplicate ACK");
	// Its retransmission when the ACK does not come, then the ACK.
	if (!feed(f, 0, now + 200000, tap, &t) || t.len != got)
		return fail("the answer was not sent again when its timer ran out");
	feed(f, segment(f, 80, TCP_ACK, seq, iss + 1 + got, 0, NULL), now, tap, &t);
	tcp_levels(&l);
	if (l.bufs != 0 || tcp_deadline() != now + 10000000)
		return fail("acknowledged: %u buffers, deadline %lu: want 0 and the idle timeout",
		    l.bufs, tcp_deadline());

	// RST in the window but not at rcv_nxt: a challenge ACK; at it: gone.
	if (!feed(f, segment(f, 80, TCP_RST, seq + 1, 0, 0, NULL), now, tap, &t) || t.flags != TCP_ACK)
		return fail("an RST off rcv_nxt got no challenge ACK");
	feed(f, segment(f, 80, TCP_RST, seq, 0, 0, NULL), now, tap, &t);
	tcp_levels(&l);
	if (l.open != 0 || l.bufs != 0 || tcp_deadline() != 0)
		return fail("after RST: %u open, %u buffers, deadline %lu", l.open, l.bufs, tcp_deadline());

	// A closed port: RST, ack = seq + 1.
	if (!feed(f, segment(f, 81, TCP_SYN, 5000, 0, 0, NULL), now, tap, &t) ||
	    t.flags != (TCP_RST | TCP_ACK) || t.ack != 5001)
		return fail("a SYN to a closed port got no RST");

	// A SYN whose checksum is wrong: dropped and counted, not answered.
	u64 bad = tcp_stats->net_tcp_bad;
	u32 n = segment(f, 80, TCP_SYN, 9000, 0, 0, NULL);
	f[ETH_HLEN + IPV4_HLEN + 16] ^= 0x5a;   // the TCP header's checksum field
	if (feed(f, n, now, tap, &t) || tcp_stats->net_tcp_bad != bad + 1 || tcp_deadline() != 0)
		return fail("a segment with a wrong checksum was answered or not counted");

	// A SYN-ACK never acknowledged: sent 6 more times, then RST, and freed.
	feed(f, segment(f, 80, TCP_SYN, 7000, 0, 0, NULL), now, tap, &t);
	int sent = 0;
	while (tcp_deadline() != 0 && sent < 20) {
		if (!feed(f, 0, tcp_deadline(), tap, &t))
			return fail("a timer ran out and nothing was sent");
		sent++;
	}
	tcp_levels(&l);
	if (sent != 7 || t.flags != TCP_RST || l.open != 0 || l.bufs != 0)
		return fail("unanswered SYN-ACK: %d sends, last flags 0x%x, %u open, %u buffers",
		    sent, t.flags, l.open, l.bufs);
	return NULL;
}

// TCP and the server, fed frames by hand, its frames caught before the
// card: handshake, a request answered, a duplicate, a retransmission,
// RST both ways, a wrong checksum dropped and counted, and every buffer
// back in the pool.
const char *
test_tcp(void)
{
	static u8 f[ETH_MAXLEN], tap[ETH_MAXLEN];

	net_tap = tap;
	const char *err = tcptest(f, tap);
	net_tap = NULL;
	return err;
}
