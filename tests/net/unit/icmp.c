// Unit tests of kernel/icmp.c: answering echo requests (RFC 792).

#include "check.h"
#include "net.h"
#include "frames.h"

// A ping from the gateway to the guest: identifier 0x42, sequence 1, and
// 11 bytes of data (an odd length, for the checksum's last byte).
static u32
ping(u8 *f)
{
	u32 n = unhex(f, "52 54 00 12 34 56  52 55 0a 00 02 02  08 00"
	    "45 00 00 27  12 34 40 00  40 01 00 00  0a 00 02 02  0a 00 02 0f"
	    "08 00 00 00  00 42 00 01  68 65 6c 6c 6f 20 77 6f 72 6c 64");
	put16be(f + ETH_HLEN + 10, rfc1071(0, f + ETH_HLEN, IPV4_HLEN));
	put16be(f + ETH_HLEN + IPV4_HLEN + 2, rfc1071(0, f + ETH_HLEN + IPV4_HLEN, 19));
	return n;
}

TEST(icmp_echo_reply_known_answer)
{
	u8 f[ETH_MAXLEN], want[ETH_MAXLEN];
	u32 n = ping(f);
	u32 wn = unhex(want, "52 55 0a 00 02 02  52 54 00 12 34 56  08 00"
	    "45 00 00 27  12 34 40 00  40 01 00 00  0a 00 02 0f  0a 00 02 02"
	    "00 00 00 00  00 42 00 01  68 65 6c 6c 6f 20 77 6f 72 6c 64"
	    "00 00 00 00 00 00 00");                    // padded to 60
	put16be(want + ETH_HLEN + 10, rfc1071(0, want + ETH_HLEN, IPV4_HLEN));
	put16be(want + ETH_HLEN + IPV4_HLEN + 2, rfc1071(0, want + ETH_HLEN + IPV4_HLEN, 19));
	u8 *out = malloc(ETH_MAXLEN);

	CHECK(sameframe(out, icmp_echo_reply(out, f, n, guest_mac, NET_IP), want, wn));
	free(out);
}

TEST(icmp_echo_reply_every_truncation_and_bad_field)
{
	u8 f[ETH_MAXLEN], out[ETH_MAXLEN];
	u32 n = ping(f);

	for (u32 len = 0; len < n; len++) {
		u8 *p = exact(f, len);
		CHECKF(icmp_echo_reply(out, p, len, guest_mac, NET_IP) == 0, "%u bytes", len);
		free(p);
	}
	// Each with the checksums made right again (fix), so that only the
	// field named is wrong, or left as they are.
	static const struct { u32 off; u8 val; bool fix; } bad[] = {
		{ 12, 0x86, true },                             // not IPv4
		{ ETH_HLEN + 9, 17, true },                     // UDP
		{ ETH_HLEN + 19, 0x10, true },                  // to another address
		{ ETH_HLEN + 19, 0xff, true },                  // to the broadcast address
		{ ETH_HLEN + 6, 0x20, true },                   // a fragment
		{ ETH_HLEN + IPV4_HLEN, 0, true },              // an echo reply
		{ ETH_HLEN + IPV4_HLEN, 13, true },             // a timestamp request
		{ ETH_HLEN + IPV4_HLEN + 1, 1, true },          // code 1
		{ ETH_HLEN + IPV4_HLEN + 4, 0x43, false },      // the ICMP checksum wrong
		{ ETH_HLEN + 12, 0x0b, false },                 // the IPv4 checksum wrong
	};
	for (u32 i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		ping(f);
		f[bad[i].off] = bad[i].val;
		if (bad[i].fix) {
			put16be(f + ETH_HLEN + 10, 0);
			put16be(f + ETH_HLEN + 10, rfc1071(0, f + ETH_HLEN, IPV4_HLEN));
			put16be(f + ETH_HLEN + IPV4_HLEN + 2, 0);
			put16be(f + ETH_HLEN + IPV4_HLEN + 2, rfc1071(0, f + ETH_HLEN + IPV4_HLEN, 19));
		}
		CHECKF(icmp_echo_reply(out, f, n, guest_mac, NET_IP) == 0, "case %u", i);
	}
	ping(f);
	CHECK(icmp_echo_reply(out, f, n, guest_mac, NET_IP) != 0);
}
