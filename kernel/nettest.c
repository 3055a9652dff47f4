// nettest.c: the network stage's self-tests (selftest.c runs them).
// They look at the card as vnet_init() left it, reading back from the
// device what the driver wrote; without a card they fail, saying so.

#include "types.h"
#include "defs.h"
#include "cpu.h"
#include "net.h"
#include "pci.h"
#include "trap.h"
#include "virtio.h"
#include "mmu.h"

static const char *
nocard(void)
{
	return fail("no virtio-net device (QEMU: -device virtio-net-pci,disable-legacy=on)");
}

// The card is on bus 0 and was taken: memory decoding and bus mastering on.
const char *
test_pci(void)
{
	const struct pcidev *d = vnet_pci();

	if (npcidev == 0 || pcidevs[0].slot != 0 || pcidevs[0].vendor == 0xffff)
		return fail("no host bridge at 00:00.0: enumeration found %d functions", npcidev);
	if (d == NULL)
		return nocard();
	if (d != pci_find(0x1af4, 0x1041))
		return fail("the driver's card is not the first 1af4:1041");
	u16 cmd = pci_read16(d, PCI_COMMAND);
	if ((cmd & (CMD_MEM | CMD_MASTER)) != (CMD_MEM | CMD_MASTER))
		return fail("command register 0x%x: memory space or bus master off", cmd);
	return NULL;
}

// The card's memory BARs: each a power of 2 in size, aligned to it, below
// the identity map's end, and the 64-bit one's upper half read back.
const char *
test_pcibars(void)
{
	const struct pcidev *d = vnet_pci();
	int nmem = 0;

	if (d == NULL)
		return nocard();
	for (int i = 0; i < NBAR; i++) {
		const struct pcibar *b = &d->bar[i];
		if (b->size == 0)
			continue;
		if (b->size & (b->size - 1))
			return fail("BAR%d size 0x%lx is not a power of 2", i, b->size);
		if (b->base == 0 || b->base & (b->size - 1))
			return fail("BAR%d base 0x%lx is not aligned to its size 0x%lx", i, b->base, b->size);
		if (b->io)
			return fail("BAR%d is I/O space: a modern-only card has none", i);
		if (b->base + b->size > IDMAP_END)
			return fail("BAR%d at 0x%lx is beyond the identity map", i, b->base);
		u64 now = pci_read32(d, PCI_BAR0 + 4 * i) & ~15u;
		if (b->is64)
			now |= (u64)pci_read32(d, PCI_BAR0 + 4 * i + 4) << 32;
		if (now != b->base)
			return fail("BAR%d reads 0x%lx after sizing, was 0x%lx", i, now, b->base);
		nmem++;
		if (b->is64)
			i++;
	}
	if (nmem == 0)
		return fail("the card has no memory BAR");
	return NULL;
}

// MSI-X enabled, the function not masked, the receive entry unmasked and
// aimed at the network core's local APIC with T_NETRX; the queue mapped
// to it and the transmit queue to none, as the device reads them back.
const char *
test_msix(void)
{
	const struct pcidev *d = vnet_pci();
	const char *err;

	if (d == NULL)
		return nocard();
	if ((err = msix_check(vnet_msix(), d, 0, T_NETRX, cpus[vnet_cpu()].apicid)) != NULL)
		return err;
	struct virtio v = *vnet_dev();
	if (virtio_queue_vector(&v, 0) != 0)
		return fail("receive queue on MSI-X vector 0x%x, want 0", virtio_queue_vector(&v, 0));
	if (virtio_queue_vector(&v, 1) != VIRTIO_NO_VECTOR)
		return fail("transmit queue on MSI-X vector 0x%x, want none", virtio_queue_vector(&v, 1));
	return NULL;
}

// The device took DRIVER_OK and asks for no reset; every receive buffer
// is published; and a frame sent comes back used from the transmit queue.
const char *
test_virtqueues(void)
{
	const struct virtio *v = vnet_dev();
	const struct virtq *rx = vnet_queue(0), *tx = vnet_queue(1);

	if (vnet_pci() == NULL)
		return nocard();
	u8 s = virtio_status(v);
	if ((s & (VIRTIO_ACKNOWLEDGE | VIRTIO_DRIVER | VIRTIO_FEATURES_OK | VIRTIO_DRIVER_OK)) !=
	    (VIRTIO_ACKNOWLEDGE | VIRTIO_DRIVER | VIRTIO_FEATURES_OK | VIRTIO_DRIVER_OK))
		return fail("device status 0x%x lacks a step of the initialisation", s);
	if (s & (VIRTIO_NEEDS_RESET | VIRTIO_FAILED))
		return fail("device status 0x%x: needs reset or failed", s);
	if ((u16)(rx->avail->idx - rx->used->idx) != rx->size)
		return fail("receive queue: %u buffers published, want %u",
		    (u16)(rx->avail->idx - rx->used->idx), rx->size);

	u16 before = tx->used->idx;
	u8 *out = vnet_tx_buf();
	if (out == NULL)
		return fail("no transmit buffer free");
	vnet_tx_send(arp_announce(out, vnet_mac(), NET_IP));
	vnet_tx_flush();
	for (int i = 0; i < 100000 && tx->used->idx == before; i++)
		udelay(10);
	if (tx->used->idx == before)
		return fail("the device did not use the frame sent within a second");
	return NULL;
}

// The ARP code on a known request: who has 10.0.2.15, tell 10.0.2.2, as
// QEMU's user networking asks (its gateway's MAC 52:55:0a:00:02:02).
const char *
test_arp(void)
{
	static const u8 req[42] = {
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x52, 0x55, 0x0a, 0x00, 0x02, 0x02, 0x08, 0x06,
		0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01,
		0x52, 0x55, 0x0a, 0x00, 0x02, 0x02, 10, 0, 2, 2,
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 10, 0, 2, 15,
	};
	static const u8 want[42] = {
		0x52, 0x55, 0x0a, 0x00, 0x02, 0x02, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0x08, 0x06,
		0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x02,
		0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 10, 0, 2, 15,
		0x52, 0x55, 0x0a, 0x00, 0x02, 0x02, 10, 0, 2, 2,
	};
	static const u8 mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
	u8 out[ETH_ZLEN + 4], other[42];
	struct arp a;
	u32 n;

	memset(out, 0xaa, sizeof out);
	if ((n = arp_reply(out, req, sizeof req, mac, NET_IP)) != ETH_ZLEN)
		return fail("reply of %u bytes, want %u", n, ETH_ZLEN);
	if (memcmp(out, want, sizeof want) != 0)
		return fail("reply differs from the expected frame");
	for (u32 i = sizeof want; i < ETH_ZLEN; i++)
		if (out[i] != 0)
			return fail("padding byte %u is 0x%x, want 0", i, out[i]);
	if (out[ETH_ZLEN] != 0xaa)
		return fail("reply wrote past its frame");
	if (!arp_parse(out + ETH_HLEN, n - ETH_HLEN, &a) || a.op != ARP_REPLY ||
	    a.spa != NET_IP || a.tpa != 0x0a000202)
		return fail("the reply does not parse back");
	if (arp_reply(out, req, sizeof req, mac, 0x0a000210) != 0)
		return fail("answered a request for another address");
	if (arp_reply(out, want, sizeof want, mac, NET_IP) != 0)
		return fail("answered a reply");
	if (arp_reply(out, req, 41, mac, NET_IP) != 0)
		return fail("answered a truncated request");
	memcpy(other, req, sizeof req);
	other[19] = 16;                         // protocol length 16: not IPv4
	if (arp_reply(out, other, sizeof other, mac, NET_IP) != 0)
		return fail("answered a request that is not for IPv4");
	n = arp_announce(out, mac, NET_IP);
	if (n != ETH_ZLEN || memcmp(out, eth_broadcast, ETH_ALEN) != 0 ||
	    !arp_parse(out + ETH_HLEN, n - ETH_HLEN, &a) || a.op != ARP_REQUEST ||
	    a.spa != NET_IP || a.tpa != NET_IP)
		return fail("the announcement is not a broadcast request for our own address");
	return NULL;
}
