// Frames for the tests, written out byte by byte as QEMU's user network
// (the gateway 10.0.2.2, MAC 52:55:0a:00:02:02) and the guest (10.0.2.15,
// MAC 52:54:00:12:34:56) exchange them.

#ifndef FRAMES_H
#define FRAMES_H

// The gateway asks who has 10.0.2.15, to the broadcast address, padded to
// the shortest frame (IEEE 802.3 3.1.1, RFC 826 "Packet Generation").
#define ARP_WHOHAS_GUEST \
	"ff ff ff ff ff ff  52 55 0a 00 02 02  08 06" \
	"00 01  08 00  06  04  00 01" \
	"52 55 0a 00 02 02  0a 00 02 02" \
	"00 00 00 00 00 00  0a 00 02 0f" \
	"00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00"

// The guest's answer: the opcode 2, sender and target swapped, its MAC
// filled in, padded likewise.
#define ARP_GUEST_ISAT \
	"52 55 0a 00 02 02  52 54 00 12 34 56  08 06" \
	"00 01  08 00  06  04  00 02" \
	"52 54 00 12 34 56  0a 00 02 0f" \
	"52 55 0a 00 02 02  0a 00 02 02" \
	"00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00"

// The guest announces 10.0.2.15 (RFC 5227 2.3).
#define ARP_GUEST_ANNOUNCE \
	"ff ff ff ff ff ff  52 54 00 12 34 56  08 06" \
	"00 01  08 00  06  04  00 01" \
	"52 54 00 12 34 56  0a 00 02 0f" \
	"00 00 00 00 00 00  0a 00 02 0f" \
	"00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00"

static const u8 guest_mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
static const u8 gateway_mac[6] = { 0x52, 0x55, 0x0a, 0x00, 0x02, 0x02 };
#define GATEWAY_IP 0x0a000202

// RFC 1071's checksum written as its definition reads, 16-bit big-endian
// words one at a time, to check the kernel's faster one against; sum is
// a running sum to start from (a pseudo-header's).
static inline u16
rfc1071(u32 sum, const u8 *p, u32 len)
{
	for (u32 i = 0; i + 1 < len; i += 2)
		sum += (u32)p[i] << 8 | p[i + 1];
	if (len & 1)
		sum += (u32)p[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (u16)~sum;
}

static inline void
put16be(u8 *p, u16 v)
{
	p[0] = v >> 8;
	p[1] = v;
}

#endif
