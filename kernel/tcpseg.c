// tcpseg.c: TCP segments on the wire (RFC 9293 3.1, "Header Format"):
// parsing one that arrived, and writing one to send.
//
// The header: source and destination port, sequence number,
// acknowledgment number, data offset (in 32-bit words, 5 without
// options), the control bits, window, checksum, urgent pointer, then
// options up to the data offset.  The checksum covers a pseudo-header
// (source, destination, zero, protocol, TCP length), the header and
// the data.
//
// Options (RFC 9293 3.2): kind 0 ends the list, kind 1 is one byte of
// padding, every other kind has a length byte counting kind and length
// too.  This kernel reads only MSS (kind 2, length 4); the rest (window
// scale, SACK, timestamps, which Linux sends) are skipped by their
// length, so not offering them in the SYN-ACK turns them off (RFC 7323
// 1.3, RFC 2018 2).
//
// tcp_parse is pure and checks every length against the buffer before it
// reads, for it takes whatever the network sends.  tcp_emit reaches the
// card only through net_tx_buf() and net_tx_send() (net.h).

#include "types.h"
#include "defs.h"
#include "net.h"
#include "tcp.h"
#include "tcpint.h"

// Check the segment of len bytes at p, from src to dst, and fill in *t.
enum tcp_verdict
tcp_parse(const u8 *p, u32 len, u32 src, u32 dst, struct tcphdr *t)
{
	if (len < TCP_HLEN)
		return TCP_SHORT;
	u32 off = (p[12] >> 4) * 4;
	if (off < TCP_HLEN || off > len)
		return TCP_SHORT;
	if (inet_fold(inet_sum(inet_pseudo(src, dst, IPPROTO_TCP, len), p, len)) != 0)
		return TCP_CKSUM;
	t->mss = 0;
	for (u32 i = TCP_HLEN; i < off; ) {
		u8 kind = p[i];
		if (kind == 0)                  // end of option list
			break;
		if (kind == 1) {                // no-operation
			i++;
			continue;
		}
		if (i + 1 >= off)
			return TCP_BADOPT;
		u32 olen = p[i + 1];
		if (olen < 2 || i + olen > off)
			return TCP_BADOPT;
		if (kind == 2) {                // maximum segment size (RFC 9293 3.7.1)
			if (olen != 4 || get16(p + i + 2) == 0)
				return TCP_BADOPT;
			t->mss = get16(p + i + 2);
		}
		i += olen;
	}
	t->sport = get16(p);
	t->dport = get16(p + 2);
	t->seq = get32(p + 4);
	t->ack = get32(p + 8);
	t->flags = p[13] & 0x3f;
	t->wnd = get16(p + 14);
	t->data = p + off;
	t->len = len - off;
	return TCP_OK;
}

// Send one segment from our address and port sport to dst:dport (MAC
// dmac): the flags, seq and ack, our constant window, an MSS option if
// mss is not 0, and len bytes of data.  Returns false if the card had no
// buffer free: the segment is lost, as on a wire, and the retransmission
// timer or the peer recovers it.
bool
tcp_emit(u32 dst, const u8 *dmac, u16 sport, u16 dport, u32 seq, u32 ack, u8 flags,
    u16 mss, const u8 *data, u32 len)
{
	static u16 ipid;
	u8 *f = net_tx_buf();
	u32 hl = mss ? TCP_HLEN + 4 : TCP_HLEN;

	if (f == NULL)
		return false;
	u32 n = eth_build(f, dmac, net_mac(), ETHTYPE_IPV4);
	u8 *p = f + n + IPV4_HLEN;
	put16(p, sport);
	put16(p + 2, dport);
	put32(p + 4, seq);
	put32(p + 8, ack);
	p[12] = hl / 4 << 4;
	p[13] = flags;
	put16(p + 14, TCP_RCVWND);
	put32(p + 16, 0);                       // checksum and urgent pointer
	if (mss) {
		p[20] = 2;
		p[21] = 4;
		put16(p + 22, mss);
	}
	if (len)
		memcpy(p + hl, data, len);
	u32 sum = inet_sum(inet_pseudo(NET_IP, dst, IPPROTO_TCP, hl + len), p, hl + len);
	put16(p + 16, inet_fold(sum));
	n += ipv4_build(f + n, IPPROTO_TCP, NET_IP, dst, ipid++, hl + len);
	net_tx_send(eth_pad(f, n + hl + len));
	return true;
}
