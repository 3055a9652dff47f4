// Fuzz target: eth_parse() and eth_pad() (kernel/eth.c) on any bytes.

#include "fuzz.h"
#include "net.h"

int
LLVMFuzzerTestOneInput(const u8 *data, size_t size)
{
	struct eth e;
	u32 len = size > ETH_MAXLEN ? ETH_MAXLEN : size;

	bool ok = eth_parse(data, len, &e);
	ENSURE(ok == (len >= ETH_HLEN));
	if (ok) {
		ENSURE(memcmp(e.dst, data, ETH_ALEN) == 0 && memcmp(e.src, data + ETH_ALEN, ETH_ALEN) == 0);
		ENSURE(e.type == ((u16)data[12] << 8 | data[13]));
	}

	// Padding writes only up to the shortest frame, and zeros.
	u32 room = len < ETH_ZLEN ? ETH_ZLEN : len;
	u8 *f = malloc(room);
	memcpy(f, data, len);
	u32 n = eth_pad(f, len);
	ENSURE(n == room && memcmp(f, data, len) == 0);
	for (u32 i = len; i < n; i++)
		ENSURE(f[i] == 0);
	free(f);
	return 0;
}
