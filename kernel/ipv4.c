// ipv4.c: the Internet checksum (RFC 1071) and IPv4 headers (RFC 791).
//
// The header (RFC 791 3.1), 20 bytes without options: version and header
// length in 32-bit words, type of service, total length, identification,
// flags and fragment offset, time to live, protocol, header checksum,
// source and destination address.
//
// This kernel takes only whole datagrams without options: a fragment or a
// header with options is refused (ipv4_parse says which, the caller
// counts), since QEMU's user network sends neither to a guest whose MTU is
// Ethernet's.
//
// Pure functions over a buffer: no device, no global state, so that they
// build for the host too.

#include "types.h"
#include "defs.h"
#include "net.h"

// Unaligned loads: x86 allows them (SDM Vol. 1 4.1.1), and these types
// tell the compiler that a u32 or u16 may sit at any address and alias
// any byte.
typedef u32 __attribute__((aligned(1), may_alias)) u32_un;
typedef u16 __attribute__((aligned(1), may_alias)) u16_un;

// Add len bytes at p to sum, as 16-bit words in network order.  The sum
// is independent of byte order (RFC 1071 2(B)): the words are added in
// the CPU's order, 32 bits at a time into 64 (a carry out of 16 bits is
// only deferred, 2(C)), folded to 16 bits and swapped once at the end.
// Only the last piece of a checksummed range may have an odd length.
u32
inet_sum(u32 sum, const u8 *p, u32 len)
{
	u64 s = 0;

	while (len >= 4) {
		s += *(const u32_un *)p;
		p += 4;
		len -= 4;
	}
	if (len >= 2) {
		s += *(const u16_un *)p;
		p += 2;
		len -= 2;
	}
	if (len)
		s += *p;                // the odd byte, padded with a zero after it (RFC 1071 1)
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	s = (s >> 8 | s << 8) & 0xffff;        // to network order's value
	return sum + (u32)s;
}

// Fold a running sum to 16 bits and complement it: the checksum field's
// value, or 0 when a range that includes its checksum is right.
u16
inet_fold(u32 sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (u16)~sum;
}

// The sum of TCP's pseudo-header (RFC 9293 3.1, "Checksum"): source and
// destination address, a zero byte, the protocol and the TCP length.
u32
inet_pseudo(u32 src, u32 dst, u8 proto, u32 len)
{
	return (src >> 16) + (src & 0xffff) + (dst >> 16) + (dst & 0xffff) + proto + len;
}

// Check the header of the datagram of len bytes at p, addressed to us
// (or broadcast), and fill in *ip.  The payload ends where the total
// length says; bytes past it are Ethernet's padding.
enum ipv4_verdict
ipv4_parse(const u8 *p, u32 len, u32 us, struct ipv4 *ip)
{
	if (len < IPV4_HLEN)
		return IPV4_SHORT;
	if (p[0] >> 4 != 4)
		return IPV4_VERSION;
	u32 hlen = (p[0] & 15) * 4;
	u32 total = get16(p + 2);
	if (hlen < IPV4_HLEN || total < hlen || total > len)
		return IPV4_SHORT;
	if (inet_fold(inet_sum(0, p, hlen)) != 0)
		return IPV4_CKSUM;
	if (hlen != IPV4_HLEN)
		return IPV4_OPTIONS;
	if (get16(p + 6) & 0x3fff)              // MF, or a fragment offset (RFC 791 3.1)
		return IPV4_FRAGMENT;
	ip->dst = get32(p + 16);
	if (ip->dst != us && ip->dst != 0xffffffff)
		return IPV4_NOTUS;
	ip->src = get32(p + 12);
	ip->proto = p[9];
	ip->ttl = p[8];
	ip->id = get16(p + 4);
	ip->payload = p + hlen;
	ip->len = total - hlen;
	return IPV4_OK;
}

// Write a 20-byte header at p for payload_len bytes of proto, with its
// checksum and DF set (RFC 791 3.1: this kernel's datagrams are never
// larger than the link's); returns IPV4_HLEN.
u32
ipv4_build(u8 *p, u8 proto, u32 src, u32 dst, u16 id, u32 payload_len)
{
	p[0] = 0x45;                            // version 4, 5 words
	p[1] = 0;
	put16(p + 2, IPV4_HLEN + payload_len);
	put16(p + 4, id);
	put16(p + 6, 0x4000);                   // DF
	p[8] = 64;                              // time to live (RFC 1700's default)
	p[9] = proto;
	put16(p + 10, 0);
	put32(p + 12, src);
	put32(p + 16, dst);
	put16(p + 10, inet_fold(inet_sum(0, p, IPV4_HLEN)));
	return IPV4_HLEN;
}
