// shim.c: the host's side of kernel/net.h's way out (net_tx_buf,
// net_tx_send, net_mac), and of the other kernel calls the pure network
// files make.  See shim.h.
//
// Every net_tx_buf() is a fresh heap block of exactly ETH_MAXLEN bytes,
// so that AddressSanitizer catches a frame written past its end; a
// net_tx_send() without a buffer, or longer than one, aborts.

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "types.h"
#include "defs.h"
#include "net.h"
#include "shim.h"

static u8 *pending;             // the buffer net_tx_buf() gave, not yet sent
static u8 *kept[SHIM_FRAMES];
static u32 keptlen[SHIM_FRAMES];
static u32 nsent;
static bool full;

static void
die(const char *what)
{
	fprintf(stderr, "shim: %s\n", what);
	abort();
}

void
shim_reset(void)
{
	for (u32 i = 0; i < SHIM_FRAMES; i++) {
		free(kept[i]);
		kept[i] = NULL;
	}
	free(pending);
	pending = NULL;
	nsent = 0;
	full = false;
}

u32
shim_sent(void)
{
	return nsent;
}

const u8 *
shim_frame(u32 i, u32 *len)
{
	if (i >= nsent || nsent - i > SHIM_FRAMES)
		return NULL;
	*len = keptlen[i % SHIM_FRAMES];
	return kept[i % SHIM_FRAMES];
}

void
shim_tx_full(bool f)
{
	full = f;
}

// As the card's: the same buffer until it is sent, NULL when none is free.
u8 *
net_tx_buf(void)
{
	if (full)
		return NULL;
	if (pending == NULL && (pending = malloc(ETH_MAXLEN)) == NULL)
		die("out of memory");
	return pending;
}

void
net_tx_send(u32 len)
{
	if (pending == NULL)
		die("net_tx_send() without a buffer from net_tx_buf()");
	if (len > ETH_MAXLEN)
		die("net_tx_send() of a frame longer than ETH_MAXLEN");
	if (len < ETH_HLEN)
		die("net_tx_send() of a frame shorter than its Ethernet header");
	u32 slot = nsent++ % SHIM_FRAMES;
	free(kept[slot]);
	kept[slot] = pending;
	keptlen[slot] = len;
	pending = NULL;
}

// The guest's MAC on QEMU's user network (52:54:00:12:34:56).
const u8 *
net_mac(void)
{
	static const u8 mac[ETH_ALEN] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };

	return mac;
}

void
kprintf(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
}

_Noreturn void
panic(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "kit: panic ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	abort();
}
