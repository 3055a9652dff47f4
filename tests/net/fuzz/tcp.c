// Fuzz target: tcp_parse() (kernel/tcpseg.c) on any segment.
//
// The first byte is the harness's: bit 0 writes a right checksum (over
// the pseudo-header of 10.0.2.2 to 10.0.2.15) so that the options are
// reached.  On TCP_OK the data lies within the segment, after a header
// of 20 bytes or more, and an MSS read is not 0.

#include "fuzz.h"
#include "net.h"

#define PEER 0x0a000202

int
LLVMFuzzerTestOneInput(const u8 *data, size_t size)
{
	if (size < 1 || size > 65535)
		return 0;
	u32 len = size - 1;
	u8 *p = malloc(len);
	memcpy(p, data + 1, len);
	if ((data[0] & 1) && len >= TCP_HLEN) {
		p[16] = p[17] = 0;
		u16 c = inet_fold(inet_sum(inet_pseudo(PEER, NET_IP, IPPROTO_TCP, len), p, len));
		p[16] = c >> 8;
		p[17] = c;
	}
	struct tcphdr t;
	enum tcp_verdict v = tcp_parse(p, len, PEER, NET_IP, &t);
	ENSURE(v <= TCP_BADOPT);
	if (v == TCP_OK) {
		u32 off = (p[12] >> 4) * 4;
		ENSURE(off >= TCP_HLEN && t.data == p + off && t.len == len - off);
		ENSURE(t.sport == ((u16)p[0] << 8 | p[1]) && t.dport == ((u16)p[2] << 8 | p[3]));
		ENSURE((t.flags & ~0x3f) == 0);
		ENSURE(off > TCP_HLEN || t.mss == 0);
	}
	free(p);
	return 0;
}
