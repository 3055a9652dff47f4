// arp.c: ARP for IPv4 over Ethernet (RFC 826, "An Ethernet Address
// Resolution Protocol"): answer who-has for our address, announce it, and
// remember what neighbours' packets say of theirs.
//
// The packet, after the Ethernet header, 28 bytes: hardware type (1:
// Ethernet), protocol type (0x0800: IPv4), hardware length (6), protocol
// length (4), opcode (1 request, 2 reply), then sender hardware and
// protocol address, target hardware and protocol address.
//
// Pure functions over a buffer, but for the cache at the end: a small
// table that only the network thread touches, so it takes no lock.

#include "types.h"
#include "defs.h"
#include "net.h"

// Parse len bytes at p as an ARP packet for IPv4 over Ethernet; false if
// it is too short, of another kind, or neither a request nor a reply.
bool
arp_parse(const u8 *p, u32 len, struct arp *a)
{
	if (len < ARP_LEN || get16(p) != 1 || get16(p + 2) != ETHTYPE_IPV4 ||
	    p[4] != ETH_ALEN || p[5] != 4)
		return false;
	a->op = get16(p + 6);
	if (a->op != ARP_REQUEST && a->op != ARP_REPLY)
		return false;
	memcpy(a->sha, p + 8, ETH_ALEN);
	a->spa = get32(p + 14);
	memcpy(a->tha, p + 18, ETH_ALEN);
	a->tpa = get32(p + 24);
	return true;
}

// Write a at p; returns ARP_LEN.
u32
arp_build(u8 *p, const struct arp *a)
{
	put16(p, 1);
	put16(p + 2, ETHTYPE_IPV4);
	p[4] = ETH_ALEN;
	p[5] = 4;
	put16(p + 6, a->op);
	memcpy(p + 8, a->sha, ETH_ALEN);
	put32(p + 14, a->spa);
	memcpy(p + 18, a->tha, ETH_ALEN);
	put32(p + 24, a->tpa);
	return ARP_LEN;
}

// If the frame of len bytes is an ARP request for ip, write the whole
// reply frame at out (ETH_ZLEN bytes of room at least), sent from mac to
// the asker, and return its length; otherwise return 0.  The reply swaps
// sender and target and fills in our hardware address (RFC 826, "Packet
// Reception").
u32
arp_reply(u8 *out, const u8 *frame, u32 len, const u8 *mac, u32 ip)
{
	struct eth e;
	struct arp q, r;

	if (!eth_parse(frame, len, &e) || e.type != ETHTYPE_ARP ||
	    !arp_parse(frame + ETH_HLEN, len - ETH_HLEN, &q) ||
	    q.op != ARP_REQUEST || q.tpa != ip)
		return 0;
	r.op = ARP_REPLY;
	memcpy(r.sha, mac, ETH_ALEN);
	r.spa = ip;
	memcpy(r.tha, q.sha, ETH_ALEN);
	r.tpa = q.spa;
	u32 n = eth_build(out, q.sha, mac, ETHTYPE_ARP);
	n += arp_build(out + n, &r);
	return eth_pad(out, n);
}

// A gratuitous ARP, the announcement of RFC 5227 2.3: a broadcast request
// whose sender and target protocol addresses are both ip, and whose
// target hardware address is zero.  Writes the frame at out and returns
// its length.
u32
arp_announce(u8 *out, const u8 *mac, u32 ip)
{
	struct arp a = { .op = ARP_REQUEST, .spa = ip, .tpa = ip };

	memcpy(a.sha, mac, ETH_ALEN);
	u32 n = eth_build(out, eth_broadcast, mac, ETHTYPE_ARP);
	n += arp_build(out + n, &a);
	return eth_pad(out, n);
}

// The cache (RFC 826, "Packet Reception": the merge step).  Each ARP
// packet's sender pair is learnt: an entry for its address is updated,
// or a new one replaces the oldest.  QEMU's user network has one
// neighbour, its gateway; the table is for what a LAN may add.
static struct {
	u32 ip;                 // 0: unused
	u8 mac[ETH_ALEN];
	u32 stamp;              // when it was last learnt, in packets
} cache[ARP_CACHE];
static u32 clock;

void
arp_learn(const struct arp *a)
{
	int slot = 0;

	if (a->spa == 0)                        // a probe (RFC 5227 2.1.1) says no address
		return;
	for (int i = 0; i < ARP_CACHE; i++) {
		if (cache[i].ip == a->spa) {
			slot = i;
			break;
		}
		if (cache[i].stamp < cache[slot].stamp)
			slot = i;
	}
	cache[slot].ip = a->spa;
	memcpy(cache[slot].mac, a->sha, ETH_ALEN);
	cache[slot].stamp = ++clock;
}

const u8 *
arp_lookup(u32 ip)
{
	for (int i = 0; i < ARP_CACHE; i++)
		if (cache[i].ip == ip && ip != 0)
			return cache[i].mac;
	return NULL;
}
