// Fuzz target: ipv4_parse() and the Internet checksum (kernel/ipv4.c).
//
// The first byte is the harness's: bit 0 makes it write a right header
// checksum into the rest before parsing, so that the checks after the
// checksum are reached too.  inet_sum() is compared with RFC 1071's
// definition, 16-bit big-endian words added one at a time, on the
// whole input and in two pieces.

#include "fuzz.h"
#include "net.h"

static u16
rfc1071(const u8 *p, u32 len)
{
	u32 sum = 0;

	for (u32 i = 0; i + 1 < len; i += 2)
		sum += (u32)p[i] << 8 | p[i + 1];
	if (len & 1)
		sum += (u32)p[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (u16)~sum;
}

int
LLVMFuzzerTestOneInput(const u8 *data, size_t size)
{
	if (size < 1 || size > 65535 + 1)
		return 0;
	u32 len = size - 1;
	u8 *p = malloc(len);
	memcpy(p, data + 1, len);

	ENSURE(inet_fold(inet_sum(0, p, len)) == rfc1071(p, len));
	u32 half = len / 2 & ~1u;
	ENSURE(inet_fold(inet_sum(inet_sum(0, p, half), p + half, len - half)) == rfc1071(p, len));

	if ((data[0] & 1) && len >= IPV4_HLEN) {
		u32 hlen = (p[0] & 15) * 4;
		if (hlen >= IPV4_HLEN && hlen <= len) {
			p[10] = p[11] = 0;
			u16 c = rfc1071(p, hlen);
			p[10] = c >> 8;
			p[11] = c;
		}
	}
	struct ipv4 ip;
	enum ipv4_verdict v = ipv4_parse(p, len, NET_IP, &ip);
	ENSURE(v <= IPV4_NOTUS);
	if (v == IPV4_OK) {
		ENSURE(len >= IPV4_HLEN && (p[0] >> 4) == 4 && (p[0] & 15) == 5);
		ENSURE(ip.payload == p + IPV4_HLEN && ip.len + IPV4_HLEN <= len);
		ENSURE(ip.len + IPV4_HLEN == ((u32)p[2] << 8 | p[3]));
		ENSURE(ip.dst == NET_IP || ip.dst == 0xffffffff);
		ENSURE(rfc1071(p, IPV4_HLEN) == 0);
	}

	// A header built parses back.
	u8 h[IPV4_HLEN];
	u32 plen = len % 1480;
	ipv4_build(h, data[0], 0x0a000202, NET_IP, (u16)len, plen);
	if (plen == 0) {
		ENSURE(ipv4_parse(h, IPV4_HLEN, NET_IP, &ip) == IPV4_OK);
		ENSURE(ip.proto == data[0] && ip.src == 0x0a000202 && ip.len == 0 && ip.id == (u16)len);
	}
	ENSURE(rfc1071(h, IPV4_HLEN) == 0);
	free(p);
	return 0;
}
