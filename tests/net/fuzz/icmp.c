// Fuzz target: icmp_echo_reply() (kernel/icmp.c) on any frame.
//
// The first byte is the harness's: bit 0 writes a right IPv4 header
// checksum, bit 1 a right ICMP checksum, so that a request can get
// through.  A reply must fit ETH_MAXLEN, parse as IPv4 from us back to
// the sender, and carry the request's identifier, sequence and data
// under a right checksum (RFC 792, "Echo or Echo Reply Message").

#include "fuzz.h"
#include "net.h"

static const u8 mac[ETH_ALEN] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };

static void
fixsum(u8 *p, u32 len, u32 at)
{
	p[at] = p[at + 1] = 0;
	u16 c = inet_fold(inet_sum(0, p, len));
	p[at] = c >> 8;
	p[at + 1] = c;
}

int
LLVMFuzzerTestOneInput(const u8 *data, size_t size)
{
	if (size < 1 || size > ETH_MAXLEN + 1)
		return 0;
	u32 len = size - 1;
	u8 *f = malloc(len);
	memcpy(f, data + 1, len);
	u8 *ip = f + ETH_HLEN;
	if (len >= ETH_HLEN + IPV4_HLEN) {
		u32 hlen = (ip[0] & 15) * 4;
		u32 total = (u32)ip[2] << 8 | ip[3];
		if ((data[0] & 1) && hlen >= IPV4_HLEN && ETH_HLEN + hlen <= len)
			fixsum(ip, hlen, 10);
		if ((data[0] & 2) && hlen >= IPV4_HLEN && total >= hlen + 4 && ETH_HLEN + total <= len)
			fixsum(ip + hlen, total - hlen, 2);
	}

	u8 *out = malloc(ETH_MAXLEN);
	u32 n = icmp_echo_reply(out, f, len, mac, NET_IP);
	ENSURE(n <= ETH_MAXLEN);
	if (n != 0) {
		struct eth e, q;
		struct ipv4 req, rep;
		ENSURE(n >= ETH_ZLEN && eth_parse(out, n, &e) && eth_parse(f, len, &q));
		ENSURE(e.type == ETHTYPE_IPV4 && memcmp(e.dst, q.src, ETH_ALEN) == 0 && memcmp(e.src, mac, ETH_ALEN) == 0);
		ENSURE(ipv4_parse(f + ETH_HLEN, len - ETH_HLEN, NET_IP, &req) == IPV4_OK);
		ENSURE(ipv4_parse(out + ETH_HLEN, n - ETH_HLEN, req.src, &rep) == IPV4_OK);
		ENSURE(rep.src == NET_IP && rep.proto == IPPROTO_ICMP && rep.len == req.len);
		ENSURE(rep.payload[0] == ICMP_ECHO_REPLY && rep.payload[1] == 0);
		ENSURE(inet_fold(inet_sum(0, rep.payload, rep.len)) == 0);
		ENSURE(memcmp(rep.payload + 4, req.payload + 4, req.len - 4) == 0);
	}
	free(out);
	free(f);
	return 0;
}
