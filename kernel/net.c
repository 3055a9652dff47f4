// net.c: the network thread.  It lives on the core that the card's
// receive interrupts go to (virtionet.c), the last CPU, away from the
// console's thread on cpu 0 when there are two or more.
//
// Its loop: take the received frames in batches, answer ARP requests for
// our address, count the rest, give the buffers back, send what it
// queued; then, when nothing is left, wait.  How it waits is poll='s
// (netwait.c): spin, Toro's API, or by default the kit's, blocked on
// net_rxirq with pollvar_wait_until(), its core halted until the receive
// interrupt's handler or the next deadline wakes it.  No packet work
// happens in the handler.
//
// Invariant: receive interrupts are asked for only while the thread
// waits; before it blocks, vnet_rx_arm() re-checks the queue after
// asking, so no frame arrives unseen while it sleeps.

#include "types.h"
#include "defs.h"
#include "cpu.h"
#include "net.h"
#include "netwait.h"
#include "pci.h"
#include "poll.h"
#include "sched.h"
#include "stats.h"

#define RX_BATCH 32             // frames a pass takes before it sends what it queued

// One received frame, on the network thread.
static void
input(const u8 *f, u32 len)
{
	volatile struct cpustats *st = mystats();
	struct eth e;

	if (!eth_parse(f, len, &e)) {
		st->net_rx_drops++;
		return;
	}
	if (e.type == ETHTYPE_ARP) {
		u8 *out = vnet_tx_buf();
		u32 n = out != NULL ? arp_reply(out, f, len, vnet_mac(), NET_IP) : 0;
		if (n > 0) {
			vnet_tx_send(n);
			st->net_arp_replies++;
			return;
		}
	} else if (e.type == ETHTYPE_IPV4) {
		st->net_rx_ipv4++;
	}
	st->net_rx_drops++;     // nothing in this kernel takes it yet
}

// Wait once a pass has found nothing more: until a frame may have come
// (net_rxirq is no longer seen, read before the pass) or net_now_us()
// passes deadline_us (0: none), by the policy poll= (netwait.c).
static void
netwait(u64 seen, u64 deadline_us)
{
	net_wait(seen, deadline_us);
}

static void
netthread(void *arg)
{
	u8 *out = vnet_tx_buf();

	(void)arg;
	if (out != NULL) {
		vnet_tx_send(arp_announce(out, vnet_mac(), NET_IP));
		vnet_tx_flush();
	}
	for (;;) {
		u64 seen = pollvar_read(&net_rxirq);
		vnet_rx_quiet();
		while (vnet_rx(input, RX_BATCH) > 0)
			vnet_tx_flush();
		netwait(seen, 0);
	}
}

// Before "kit: ready", on the boot CPU: list the PCI functions and bring
// up the card, if there is one.
void
net_init(void)
{
	pci_init();
	vnet_init(ncpu - 1);
	netwait_init();                 // poll=, and the line that says it
}

// After "kit: ready": the network thread on the card's core.
void
net_start(void)
{
	if (vnet_present())
		thread_create(vnet_cpu(), netthread, NULL);
}
