// icmp.c: ICMP echo (RFC 792, "Echo or Echo Reply Message"): answer a
// ping to our address.
//
// The message, after the IPv4 header: type (8 request, 0 reply), code 0,
// checksum over the whole ICMP message, identifier, sequence number, and
// data that the reply returns unchanged.  The reply swaps the addresses
// and changes the type; nothing else (RFC 792 p. 14).
//
// Pure functions over a buffer: no device, no global state.

#include "types.h"
#include "defs.h"
#include "net.h"

#define ICMP_HLEN 8

u32
icmp_echo_reply(u8 *out, const u8 *frame, u32 len, const u8 *mac, u32 ip)
{
	struct eth e;
	struct ipv4 in;

	if (!eth_parse(frame, len, &e) || e.type != ETHTYPE_IPV4)
		return 0;
	if (ipv4_parse(frame + ETH_HLEN, len - ETH_HLEN, ip, &in) != IPV4_OK ||
	    in.proto != IPPROTO_ICMP || in.dst != ip || in.len < ICMP_HLEN ||
	    ETH_HLEN + IPV4_HLEN + in.len > ETH_MAXLEN)
		return 0;
	const u8 *q = in.payload;
	if (q[0] != ICMP_ECHO_REQUEST || q[1] != 0 || inet_fold(inet_sum(0, q, in.len)) != 0)
		return 0;

	u32 n = eth_build(out, e.src, mac, ETHTYPE_IPV4);
	n += ipv4_build(out + n, IPPROTO_ICMP, ip, in.src, in.id, in.len);
	u8 *r = out + n;
	memcpy(r, q, in.len);
	r[0] = ICMP_ECHO_REPLY;
	r[2] = r[3] = 0;
	u16 sum = inet_fold(inet_sum(0, r, in.len));
	r[2] = sum >> 8;
	r[3] = sum;
	return eth_pad(out, n + in.len);
}
