// Unit tests of kernel/arp.c: ARP for IPv4 over Ethernet (RFC 826, with
// the announcement of RFC 5227 2.3).

#include "check.h"
#include "net.h"
#include "frames.h"

TEST(arp_parse_known_request)
{
	u8 f[ETH_MAXLEN];
	u32 n = unhex(f, ARP_WHOHAS_GUEST);
	struct arp a;

	CHECK(arp_parse(f + ETH_HLEN, n - ETH_HLEN, &a));
	CHECK_EQ(a.op, ARP_REQUEST);
	CHECK(memcmp(a.sha, gateway_mac, ETH_ALEN) == 0);
	CHECK_EQ(a.spa, GATEWAY_IP);
	CHECK_EQ(a.tpa, NET_IP);
	CHECK(memcmp(a.tha, "\0\0\0\0\0\0", ETH_ALEN) == 0);
}

TEST(arp_parse_every_truncation)
{
	u8 f[ETH_MAXLEN];
	unhex(f, ARP_WHOHAS_GUEST);
	struct arp a;

	for (u32 len = 0; len <= ARP_LEN; len++) {
		u8 *p = exact(f + ETH_HLEN, len);
		CHECKF(arp_parse(p, len, &a) == (len == ARP_LEN), "%u bytes", len);
		free(p);
	}
}

// Each field that says "not IPv4 over Ethernet", and each opcode but 1
// and 2, is refused.
TEST(arp_parse_refuses_other_kinds)
{
	static const struct { u32 off; u8 val; } bad[] = {
		{ 0, 0x01 },            // hardware type 0x0101
		{ 1, 0x06 },            // hardware type 6 (IEEE 802)
		{ 2, 0x86 },            // protocol 0x86dd (IPv6)
		{ 3, 0x06 },            // protocol 0x0806
		{ 4, 8 },               // hardware length
		{ 5, 16 },              // protocol length
		{ 6, 0x01 },            // opcode 0x0101
		{ 7, 0 },               // opcode 0
		{ 7, 3 },               // opcode 3 (RARP request)
	};
	u8 f[ETH_MAXLEN];
	unhex(f, ARP_WHOHAS_GUEST);
	struct arp a;

	for (u32 i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		u8 p[ARP_LEN];
		memcpy(p, f + ETH_HLEN, ARP_LEN);
		p[bad[i].off] = bad[i].val;
		CHECKF(!arp_parse(p, ARP_LEN, &a), "byte %u = %u", bad[i].off, bad[i].val);
	}
	u8 p[ARP_LEN];
	memcpy(p, f + ETH_HLEN, ARP_LEN);
	p[7] = ARP_REPLY;
	CHECK(arp_parse(p, ARP_LEN, &a) && a.op == ARP_REPLY);
}

TEST(arp_build_parse_round_trip)
{
	struct arp a = { .op = ARP_REPLY, .spa = 0x01020304, .tpa = 0xfffefdfc }, b;
	u8 p[ARP_LEN];

	memcpy(a.sha, guest_mac, ETH_ALEN);
	memcpy(a.tha, gateway_mac, ETH_ALEN);
	CHECK_EQ(arp_build(p, &a), ARP_LEN);
	CHECK(arp_parse(p, ARP_LEN, &b));
	CHECK_EQ(b.op, a.op);
	CHECK_EQ(b.spa, a.spa);
	CHECK_EQ(b.tpa, a.tpa);
	CHECK(memcmp(a.sha, b.sha, ETH_ALEN) == 0 && memcmp(a.tha, b.tha, ETH_ALEN) == 0);
}

TEST(arp_reply_answers_who_has_us)
{
	u8 f[ETH_MAXLEN], want[ETH_MAXLEN];
	u32 n = unhex(f, ARP_WHOHAS_GUEST), wn = unhex(want, ARP_GUEST_ISAT);
	u8 *out = exact(f, ETH_ZLEN);          // room for the shortest frame, no more

	// The request as it arrives padded, and without its padding.
	CHECK(sameframe(out, arp_reply(out, f, n, guest_mac, NET_IP), want, wn));
	memset(out, 0xee, ETH_ZLEN);
	CHECK(sameframe(out, arp_reply(out, f, ETH_HLEN + ARP_LEN, guest_mac, NET_IP), want, wn));
	free(out);
}

TEST(arp_reply_ignores_the_rest)
{
	u8 f[ETH_MAXLEN], out[ETH_MAXLEN];
	u32 n = unhex(f, ARP_WHOHAS_GUEST);

	CHECK_EQ(arp_reply(out, f, n, guest_mac, NET_IP + 1), 0);   // for another address
	for (u32 len = 0; len < ETH_HLEN + ARP_LEN; len++) {
		u8 *p = exact(f, len);
		CHECKF(arp_reply(out, p, len, guest_mac, NET_IP) == 0, "%u bytes", len);
		free(p);
	}
	f[13] = 0x00;                                   // type 0x0800: not ARP
	CHECK_EQ(arp_reply(out, f, n, guest_mac, NET_IP), 0);
	unhex(f, ARP_WHOHAS_GUEST);
	f[ETH_HLEN + 7] = ARP_REPLY;                    // a reply is not answered
	CHECK_EQ(arp_reply(out, f, n, guest_mac, NET_IP), 0);
}

TEST(arp_announce_is_a_gratuitous_request)
{
	u8 want[ETH_MAXLEN];
	u32 wn = unhex(want, ARP_GUEST_ANNOUNCE);
	u8 *out = malloc(ETH_ZLEN);

	CHECK(sameframe(out, arp_announce(out, guest_mac, NET_IP), want, wn));
	free(out);
}
