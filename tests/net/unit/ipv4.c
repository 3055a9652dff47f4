// Unit tests of kernel/ipv4.c: the Internet checksum (RFC 1071) and IPv4
// headers (RFC 791 3.1).

#include "check.h"
#include "net.h"
#include "frames.h"

// RFC 1071 3: the bytes 00 01 f2 03 f4 f5 f6 f7 sum to ddf2, so their
// checksum is 220d, whichever way they are split.
TEST(ipv4_checksum_rfc1071_example)
{
	u8 b[8];
	unhex(b, "00 01 f2 03 f4 f5 f6 f7");

	for (u32 k = 0; k <= 8; k += 2) {
		u8 *p = exact(b, 8);
		CHECKF(inet_fold(inet_sum(inet_sum(0, p, k), p + k, 8 - k)) == 0x220d, "split at %u", k);
		free(p);
	}
	// With its checksum appended, the range sums to a fold of 0.
	u8 c[10];
	memcpy(c, b, 8);
	put16be(c + 8, 0x220d);
	CHECK_EQ(inet_fold(inet_sum(0, c, 10)), 0);
}

TEST(ipv4_checksum_matches_the_definition)
{
	u8 b[1500];
	u32 x = 12345;

	for (u32 i = 0; i < sizeof b; i++) {
		x = x * 1103515245 + 12345;
		b[i] = x >> 16;
	}
	for (u32 len = 0; len <= 64; len++)
		for (u32 off = 0; off < 4; off++) {
			u8 *p = exact(b + off, len);
			CHECKF(inet_fold(inet_sum(0, p, len)) == rfc1071(0, p, len), "%u bytes at %u", len, off);
			free(p);
		}
	CHECK_EQ(inet_fold(inet_sum(0, b, sizeof b)), rfc1071(0, b, sizeof b));
	memset(b, 0xff, sizeof b);                      // every carry at once
	CHECK_EQ(inet_fold(inet_sum(0, b, sizeof b)), rfc1071(0, b, sizeof b));
	CHECK_EQ(inet_pseudo(0x0a000202, 0x0a00020f, IPPROTO_TCP, 40), 0x0a00 + 0x0202 + 0x0a00 + 0x020f + 6 + 40);
}

// A UDP datagram's header from 192.168.0.1 to .199, written by hand with
// its checksum b861.
#define UDP_HDR "45 00 00 73 00 00 40 00 40 11 b8 61 c0 a8 00 01 c0 a8 00 c7"

TEST(ipv4_build_known_header)
{
	u8 want[IPV4_HLEN], *p = malloc(IPV4_HLEN);

	unhex(want, UDP_HDR);
	CHECK_EQ(ipv4_build(p, 17, 0xc0a80001, 0xc0a800c7, 0, 0x73 - IPV4_HLEN), IPV4_HLEN);
	CHECK(sameframe(p, IPV4_HLEN, want, IPV4_HLEN));
	free(p);
}

static u32
datagram(u8 *p, const char *hdr, u32 payload)
{
	u32 n = unhex(p, hdr);
	memset(p + n, 0x5a, payload);
	return n + payload;
}

static void
resum(u8 *p)
{
	p[10] = p[11] = 0;
	put16be(p + 10, rfc1071(0, p, (p[0] & 15) * 4));
}

TEST(ipv4_parse_known_and_every_truncation)
{
	u8 d[256];
	u32 n = datagram(d, UDP_HDR, 0x73 - IPV4_HLEN);
	struct ipv4 ip;

	u8 *p = exact(d, n);
	CHECK_EQ(ipv4_parse(p, n, 0xc0a800c7, &ip), IPV4_OK);
	CHECK_EQ(ip.proto, 17);
	CHECK_EQ(ip.ttl, 64);
	CHECK_EQ(ip.id, 0);
	CHECK_EQ(ip.src, 0xc0a80001);
	CHECK_EQ(ip.dst, 0xc0a800c7);
	CHECK(ip.payload == p + IPV4_HLEN);
	CHECK_EQ(ip.len, 0x73 - IPV4_HLEN);
	CHECK_EQ(ipv4_parse(p, n, 0xc0a800c8, &ip), IPV4_NOTUS);
	free(p);
	for (u32 len = 0; len < n; len++) {
		p = exact(d, len);
		CHECKF(ipv4_parse(p, len, 0xc0a800c7, &ip) == IPV4_SHORT, "%u bytes", len);
		free(p);
	}
	// Ethernet's padding after the total length is not payload.
	memset(d + n, 0, 10);
	CHECK_EQ(ipv4_parse(d, n + 10, 0xc0a800c7, &ip), IPV4_OK);
	CHECK_EQ(ip.len, 0x73 - IPV4_HLEN);
}

TEST(ipv4_parse_verdicts)
{
	static const struct { u32 off; u8 val; bool resum; enum ipv4_verdict v; } c[] = {
		{ 0, 0x65, true, IPV4_VERSION },        // version 6
		{ 0, 0x44, true, IPV4_SHORT },          // a header of 16 bytes
		{ 0, 0x46, true, IPV4_OPTIONS },        // 24 bytes: an option
		{ 2, 0x01, true, IPV4_SHORT },          // total length 0x173, past the bytes
		{ 3, 0x13, true, IPV4_SHORT },          // total length 0x13, shorter than the header
		{ 6, 0x60, true, IPV4_FRAGMENT },       // DF and MF
		{ 6, 0x20, true, IPV4_FRAGMENT },       // MF
		{ 7, 0x01, true, IPV4_FRAGMENT },       // an offset
		{ 6, 0x00, true, IPV4_OK },             // no DF: fine
		{ 11, 0x62, false, IPV4_CKSUM },
		{ 12, 0xc1, false, IPV4_CKSUM },
		{ 19, 0xff, true, IPV4_NOTUS },
	};
	struct ipv4 ip;

	for (u32 i = 0; i < sizeof c / sizeof c[0]; i++) {
		u8 d[256];
		u32 n = datagram(d, UDP_HDR, 0x73 - IPV4_HLEN);
		d[c[i].off] = c[i].val;
		if (c[i].resum)
			resum(d);
		u8 *p = exact(d, n);
		CHECKF(ipv4_parse(p, n, 0xc0a800c7, &ip) == c[i].v, "case %u: got %d", i,
		    ipv4_parse(p, n, 0xc0a800c7, &ip));
		free(p);
	}
	u8 d[256];
	u32 n = datagram(d, UDP_HDR, 0x73 - IPV4_HLEN);
	memset(d + 16, 0xff, 4);                        // broadcast
	resum(d);
	CHECK_EQ(ipv4_parse(d, n, 0xc0a800c7, &ip), IPV4_OK);
}
