// Unit tests of kernel/eth.c: Ethernet II headers (IEEE 802.3 3.1.1).

#include "check.h"
#include "net.h"
#include "frames.h"

TEST(eth_parse_known_frame)
{
	u8 f[ETH_MAXLEN];
	u32 n = unhex(f, ARP_WHOHAS_GUEST);
	struct eth e;

	CHECK_EQ(n, ETH_ZLEN);
	CHECK(eth_parse(f, n, &e));
	CHECK(memcmp(e.dst, eth_broadcast, ETH_ALEN) == 0);
	CHECK(memcmp(e.src, gateway_mac, ETH_ALEN) == 0);
	CHECK_EQ(e.type, ETHTYPE_ARP);
}

TEST(eth_parse_every_truncation)
{
	u8 f[ETH_MAXLEN];
	u32 n = unhex(f, ARP_WHOHAS_GUEST);
	struct eth e;

	for (u32 len = 0; len <= n; len++) {
		u8 *p = exact(f, len);
		CHECKF(eth_parse(p, len, &e) == (len >= ETH_HLEN), "%u bytes", len);
		free(p);
	}
}

TEST(eth_build_writes_the_header)
{
	u8 f[ETH_HLEN], want[ETH_HLEN];

	unhex(want, "52 55 0a 00 02 02  52 54 00 12 34 56  08 00");
	CHECK_EQ(eth_build(f, gateway_mac, guest_mac, ETHTYPE_IPV4), ETH_HLEN);
	CHECK(sameframe(f, ETH_HLEN, want, ETH_HLEN));
}

TEST(eth_pad_fills_short_frames_with_zeros)
{
	u8 f[ETH_MAXLEN];

	for (u32 len = 0; len <= ETH_ZLEN + 2; len++) {
		memset(f, 0xaa, sizeof f);
		u32 n = eth_pad(f, len);
		CHECKF(n == (len < ETH_ZLEN ? ETH_ZLEN : len), "%u bytes", len);
		for (u32 i = 0; i < len; i++)
			CHECKF(f[i] == 0xaa, "%u bytes: byte %u changed", len, i);
		for (u32 i = len; i < ETH_ZLEN; i++)
			CHECKF(f[i] == 0, "%u bytes: pad byte %u", len, i);
		CHECKF(f[n] == 0xaa, "%u bytes: wrote past the frame", len);
	}
}

TEST(eth_ntoa_spells_a_mac)
{
	char buf[18];
	const u8 all[6] = { 0x00, 0x0f, 0xf0, 0xff, 0xa5, 0x5a };

	CHECK(strcmp(eth_ntoa(buf, guest_mac), "52:54:00:12:34:56") == 0);
	CHECK(strcmp(eth_ntoa(buf, all), "00:0f:f0:ff:a5:5a") == 0);
}
