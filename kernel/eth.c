// eth.c: Ethernet II frames (IEEE 802.3 3.1.1, with a type of 0x0600 and
// up in the length/type field): 6 bytes of destination, 6 of source, 2 of
// type, then the payload.  The card strips and adds the FCS.
//
// Pure functions over a buffer: no device, no global state.

#include "types.h"
#include "defs.h"
#include "net.h"

const u8 eth_broadcast[ETH_ALEN] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

// Split the header of a frame of len bytes; false if it is too short to
// have one.
bool
eth_parse(const u8 *f, u32 len, struct eth *e)
{
	if (len < ETH_HLEN)
		return false;
	memcpy(e->dst, f, ETH_ALEN);
	memcpy(e->src, f + ETH_ALEN, ETH_ALEN);
	e->type = get16(f + 12);
	return true;
}

// Write a header at f; returns its length, where the payload starts.
u32
eth_build(u8 *f, const u8 *dst, const u8 *src, u16 type)
{
	memcpy(f, dst, ETH_ALEN);
	memcpy(f + ETH_ALEN, src, ETH_ALEN);
	put16(f + 12, type);
	return ETH_HLEN;
}

// Pad a frame of len bytes with zeros to the minimum length; returns the
// length to send.  f must have room for ETH_ZLEN bytes.
u32
eth_pad(u8 *f, u32 len)
{
	if (len < ETH_ZLEN) {
		memset(f + len, 0, ETH_ZLEN - len);
		len = ETH_ZLEN;
	}
	return len;
}

// mac as text, "52:54:00:12:34:56", in buf (18 bytes); returns buf.
char *
eth_ntoa(char *buf, const u8 *mac)
{
	char *p = buf;

	for (int i = 0; i < ETH_ALEN; i++) {
		*p++ = "0123456789abcdef"[mac[i] >> 4];
		*p++ = "0123456789abcdef"[mac[i] & 15];
		*p++ = i < ETH_ALEN - 1 ? ':' : 0;
	}
	return buf;
}
