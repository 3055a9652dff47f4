// virtionet.c: the virtio network card (VIRTIO 5.1 Network Device) over
// the modern PCI transport (virtio.c), PCI id 1af4:1041 (VIRTIO 4.1.2.1:
// 0x1040 + device id 1).
//
// Two queues: receive (0) and transmit (1) (VIRTIO 5.1.2).  Receive
// interrupts come by MSI-X entry 0 to the network core (T_NETRX);
// transmit completions and configuration changes raise none
// (NO_VECTOR), since the driver reclaims sent buffers lazily.
//
// Every buffer starts with the 12-byte struct virtio_net_hdr, as it is
// with VERSION_1 negotiated (5.1.6); the driver sends it zeroed (no
// checksum offload, no segmentation) and skips it on receipt.  Receive
// buffers are 2 KiB, more than the 1526 bytes that a device without
// GUEST_* offloads or MRG_RXBUF may fill (5.1.6.3.1).
//
// Features (VIRTIO 6.1, 5.1.3): the driver accepts VERSION_1, without
// which the header would be 10 bytes, and MAC, and nothing else, so no
// offload, EVENT_IDX, packed ring or merged buffer turns on unasked.
//
// Invariants:
//  - Receive buffer i and transmit buffer i always go with descriptor i of
//    their queue.
//  - After vnet_init(), only the network thread touches the queues.

#include "types.h"
#include "defs.h"
#include "cpu.h"
#include "net.h"
#include "pci.h"
#include "poll.h"
#include "stats.h"
#include "trap.h"
#include "virtio.h"

#define VNET_F_MAC   5          // the device has a MAC address in its configuration (5.1.3)
#define VNET_HDRLEN  12         // struct virtio_net_hdr with VERSION_1 (5.1.6)
#define QSIZE        128
#define BUFSIZE      2048
#define RXQ          0
#define TXQ          1
#define RXENTRY      0          // the MSI-X table entry of the receive queue

static struct pcidev *pci;
static struct virtio dev;
static struct msix msix;
static struct virtq rxq, txq;
static int netcpu = -1;
static u8 mac[ETH_ALEN];
static u16 txfree[QSIZE];       // transmit descriptors not in the device's hands
static u32 ntxfree;

static u8 rxmem[VQ_BYTES(QSIZE)] __attribute__((aligned(4096)));
static u8 txmem[VQ_BYTES(QSIZE)] __attribute__((aligned(4096)));
static u8 rxbuf[QSIZE][BUFSIZE] __attribute__((aligned(4096)));
static u8 txbuf[QSIZE][BUFSIZE] __attribute__((aligned(4096)));

struct pollvar net_rxirq;

// The receive queue's MSI-X handler, on the network core in its idle
// loop: wake the network thread, nothing more.  The console bumps
// net_rxirq too, from core 0, when the way the thread waits changes
// (netwait.c); a locked add loses neither.
void
net_intr(void)
{
	pollvar_add(&net_rxirq, 1);
}

static bool
failed(const char *why)
{
	kprintf("net: virtio-net %s\n", why);
	virtio_add_status(&dev, VIRTIO_FAILED);
	pci = NULL;
	return false;
}

// Once, on the boot CPU: find the card and bring it up for the network
// thread on core cpu, in the order of VIRTIO 3.1.1.  Prints the card's
// line, or why there is none.  Returns whether the card is up.
bool
vnet_init(int cpu)
{
	const char *err;

	pci = pci_find(0x1af4, 0x1041);
	if (pci == NULL) {
		kprintf("net: no virtio-net device\n");
		return false;
	}
	pci_enable(pci);
	if (!virtio_probe(&dev, pci)) {
		kprintf("net: virtio-net without the modern capabilities\n");
		pci = NULL;
		return false;
	}
	if (!virtio_reset(&dev))                                // 1
		return failed("does not reset");
	virtio_add_status(&dev, VIRTIO_ACKNOWLEDGE);            // 2
	virtio_add_status(&dev, VIRTIO_DRIVER);                 // 3
	u64 offered = virtio_features(&dev);                    // 4
	if (!(offered & 1ULL << VIRTIO_F_VERSION_1))
		return failed("does not offer VERSION_1");
	if (!(offered & 1ULL << VNET_F_MAC))
		return failed("does not offer MAC");
	if (!virtio_accept(&dev, 1ULL << VIRTIO_F_VERSION_1 | 1ULL << VNET_F_MAC))  // 5, 6
		return failed("refused FEATURES_OK");

	// MSI-X before the queues: a queue's vector is an entry of the table.
	netcpu = cpu;
	if (!msix_init(&msix, pci) || !msix_route(&msix, RXENTRY, T_NETRX, cpus[cpu].apicid) ||
	    !msix_enable(&msix, pci))
		return failed("MSI-X is missing or does not enable");
	if (!virtio_config_vector(&dev, VIRTIO_NO_VECTOR))
		return failed("refused NO_VECTOR for configuration changes");
	if ((err = virtio_queue(&dev, &rxq, RXQ, QSIZE, rxmem, RXENTRY)) != NULL ||   // 7
	    (err = virtio_queue(&dev, &txq, TXQ, QSIZE, txmem, VIRTIO_NO_VECTOR)) != NULL)
		return failed(err);
	for (int i = 0; i < ETH_ALEN; i++)
		mac[i] = *(volatile u8 *)(dev.device + i);       // struct virtio_net_config (5.1.4)

	for (u16 i = 0; i < rxq.size; i++)
		vq_add(&rxq, i, rxbuf[i], BUFSIZE, VQ_DESC_WRITE);
	vq_publish(&rxq);
	for (u16 i = 0; i < txq.size; i++)
		txfree[ntxfree++] = i;
	vq_notify_off(&txq);                                    // sent buffers come back unannounced
	virtio_add_status(&dev, VIRTIO_DRIVER_OK);              // 8
	if (virtio_status(&dev) & VIRTIO_NEEDS_RESET)
		return failed("needs a reset after DRIVER_OK");
	vq_kick(&rxq);          // the device may hold frames until it is told of buffers
	char text[18];
	kprintf("net: virtio-net mac %s, %u+%u buffers, rx on cpu %d by MSI-X\n",
	    eth_ntoa(text, mac), rxq.size, txq.size, cpu);
	return true;
}

bool
vnet_present(void)
{
	return pci != NULL;
}

const u8 *
vnet_mac(void)
{
	return mac;
}

int
vnet_cpu(void)
{
	return netcpu;
}

// Hand up to budget received frames to fn, give their buffers back and
// kick once for all.  Returns how many it took.  fn must not keep the
// frame: its buffer goes back to the device right after.
u32
vnet_rx(void (*fn)(const u8 *frame, u32 len), u32 budget)
{
	u32 id, len, n = 0;
	volatile struct cpustats *st = mystats();

	while (n < budget && vq_used(&rxq, &id, &len)) {
		n++;
		if (id >= rxq.size || len < VNET_HDRLEN || len > BUFSIZE)
			panic("net: receive queue used id %u len %u", id, len);
		st->net_rx_packets++;
		fn(rxbuf[id] + VNET_HDRLEN, len - VNET_HDRLEN);
		vq_add(&rxq, id, rxbuf[id], BUFSIZE, VQ_DESC_WRITE);
	}
	if (n > 0) {
		vq_publish(&rxq);
		vq_kick(&rxq);
	}
	return n;
}

// Take back the transmit buffers the device has sent.
static void
tx_reclaim(void)
{
	u32 id, len;

	while (vq_used(&txq, &id, &len))
		if (id < txq.size && ntxfree < QSIZE)
			txfree[ntxfree++] = id;
}

// A transmit buffer to write a frame in, up to ETH_MAXLEN bytes, or NULL
// if all are with the device.  vnet_tx_send() sends it.
u8 *
vnet_tx_buf(void)
{
	if (ntxfree == 0)
		tx_reclaim();
	if (ntxfree == 0) {
		mystats()->net_tx_drops++;
		return NULL;
	}
	return txbuf[txfree[ntxfree - 1]] + VNET_HDRLEN;
}

// Queue the frame of len bytes in the buffer vnet_tx_buf() gave, with a
// zeroed header.  It goes at the next vnet_tx_flush().
void
vnet_tx_send(u32 len)
{
	u16 id = txfree[--ntxfree];

	memset(txbuf[id], 0, VNET_HDRLEN);
	vq_add(&txq, id, txbuf[id], VNET_HDRLEN + len, 0);
	mystats()->net_tx_packets++;
}

// Publish the frames queued since the last flush, with one kick.
void
vnet_tx_flush(void)
{
	vq_publish(&txq);
	vq_kick(&txq);
}

// While the thread works: no receive interrupts.
void
vnet_rx_quiet(void)
{
	vq_notify_off(&rxq);
}

// Before the thread waits: receive interrupts on, and whether the queue
// is still empty (virtio.c, vq_notify_on).
bool
vnet_rx_arm(void)
{
	return vq_notify_on(&rxq);
}

// For the self-tests.
const struct pcidev *vnet_pci(void) { return pci; }
const struct virtio *vnet_dev(void) { return &dev; }
const struct msix *vnet_msix(void) { return &msix; }
const struct virtq *vnet_queue(int i) { return i == RXQ ? &rxq : &txq; }
