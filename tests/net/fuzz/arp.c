// Fuzz target: arp_parse() and arp_reply() (kernel/arp.c) on any frame.
// A reply, when there is one, fits the shortest frame and parses back as
// the answer to the request.

#include "fuzz.h"
#include "net.h"

static const u8 mac[ETH_ALEN] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };

int
LLVMFuzzerTestOneInput(const u8 *data, size_t size)
{
	struct arp a, q, b;
	struct eth e;
	u32 len = size > ETH_MAXLEN ? ETH_MAXLEN : size;

	if (arp_parse(data, len, &a))
		ENSURE(len >= ARP_LEN && (a.op == ARP_REQUEST || a.op == ARP_REPLY));

	u8 *out = malloc(ETH_ZLEN);             // the room arp_reply() is promised
	u32 n = arp_reply(out, data, len, mac, NET_IP);
	if (n != 0) {
		ENSURE(n == ETH_ZLEN);
		ENSURE(arp_parse(data + ETH_HLEN, len - ETH_HLEN, &q) && q.op == ARP_REQUEST && q.tpa == NET_IP);
		ENSURE(eth_parse(out, n, &e) && e.type == ETHTYPE_ARP);
		ENSURE(memcmp(e.dst, q.sha, ETH_ALEN) == 0 && memcmp(e.src, mac, ETH_ALEN) == 0);
		ENSURE(arp_parse(out + ETH_HLEN, n - ETH_HLEN, &b) && b.op == ARP_REPLY);
		ENSURE(b.spa == NET_IP && b.tpa == q.spa && memcmp(b.tha, q.sha, ETH_ALEN) == 0);
	}
	free(out);
	return 0;
}
