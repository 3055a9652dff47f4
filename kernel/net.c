// net.c: the network thread.  It lives on the core that the card's
// receive interrupts go to (virtionet.c), the last CPU, away from the
// console's thread on cpu 0 when there are two or more.
//
// Its loop: take the received frames in batches and pass each up the
// stack (Ethernet, then ARP, or IPv4 and ICMP or TCP), send what that
// queued with one kick a batch, run the TCP timers that are due; then,
// when nothing is left, wait until a frame comes or the
// earliest TCP deadline.  How it waits is poll='s (net_wait, netwait.c): spin,
// Toro's API, or by default the kit's, blocked on net_rxirq with
// pollvar_wait_until(), its core halted until the receive interrupt's
// handler or the next deadline wakes it.  No packet work happens in the
// handler.
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
#include "tcp.h"

#define RX_BATCH 32             // frames a pass takes before it sends what it queued

static u64 now;                 // net_now_us() at the start of the current pass

// The way out for the protocols (net.h).  While a self-test sets
// net_tap, frames go there instead of to the card.
u8 *net_tap;
u32 net_taplen;

u8 *
net_tx_buf(void)
{
	return net_tap != NULL ? net_tap : vnet_tx_buf();
}

void
net_tx_send(u32 len)
{
	if (net_tap != NULL)
		net_taplen = len;
	else
		vnet_tx_send(len);
}

const u8 *
net_mac(void)
{
	return vnet_mac();
}

// An IPv4 datagram; the verdicts of its parse are counted by cause.
static void
ipv4_input(const u8 *f, u32 len, const struct eth *e)
{
	volatile struct cpustats *st = mystats();
	struct ipv4 ip;

	st->net_rx_ipv4++;
	switch (ipv4_parse(f + ETH_HLEN, len - ETH_HLEN, NET_IP, &ip)) {
	case IPV4_OK:
		break;
	case IPV4_SHORT:
	case IPV4_VERSION:
	case IPV4_CKSUM:
		st->net_ipv4_bad++;
		st->net_rx_drops++;
		return;
	default:
		st->net_ipv4_other++;
		st->net_rx_drops++;
		return;
	}
	if (ip.proto == IPPROTO_TCP) {
		tcp_input(&ip, e->src, now);
		return;
	}
	if (ip.proto == IPPROTO_ICMP) {
		u8 *out = vnet_tx_buf();
		u32 n = out != NULL ? icmp_echo_reply(out, f, len, vnet_mac(), NET_IP) : 0;
		if (n > 0) {
			vnet_tx_send(n);
			st->net_icmp_replies++;
			return;
		}
	} else {
		st->net_ipv4_other++;
	}
	st->net_rx_drops++;
}

// One received frame, on the network thread.
static void
input(const u8 *f, u32 len)
{
	volatile struct cpustats *st = mystats();
	struct eth e;
	struct arp a;

	if (!eth_parse(f, len, &e)) {
		st->net_rx_drops++;
		return;
	}
	if (e.type == ETHTYPE_IPV4) {
		ipv4_input(f, len, &e);
		return;
	}
	if (e.type == ETHTYPE_ARP && arp_parse(f + ETH_HLEN, len - ETH_HLEN, &a)) {
		arp_learn(&a);
		u8 *out = vnet_tx_buf();
		u32 n = out != NULL ? arp_reply(out, f, len, vnet_mac(), NET_IP) : 0;
		if (n > 0) {
			vnet_tx_send(n);
			st->net_arp_replies++;
			return;
		}
	}
	st->net_rx_drops++;
}

static void
netthread(void *arg)
{
	u8 *out = vnet_tx_buf();

	(void)arg;
	tcp_stats = mystats();
	if (out != NULL) {
		vnet_tx_send(arp_announce(out, vnet_mac(), NET_IP));
		vnet_tx_flush();
	}
	for (;;) {
		u64 seen = pollvar_read(&net_rxirq);
		vnet_rx_quiet();
		now = net_now_us();
		while (vnet_rx(input, RX_BATCH) > 0) {
			vnet_tx_flush();
			now = net_now_us();
		}
		tcp_timers(now);
		vnet_tx_flush();
		net_wait(seen, tcp_deadline());     // until a frame, or the deadline (netwait.c)
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
	httpd_init();
}

// After "kit: ready": the network thread on the card's core.
void
net_start(void)
{
	if (vnet_present())
		thread_create(vnet_cpu(), netthread, NULL);
}
