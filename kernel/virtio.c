// virtio.c: the virtio 1.x PCI transport, modern only, and split
// virtqueues (VIRTIO 4.1 Virtio Over PCI Bus; 2.6 Split Virtqueues).
//
// A modern device describes where its configuration structures lie with
// vendor-specific PCI capabilities (VIRTIO 4.1.4): each names a cfg_type,
// a BAR, an offset and a length.  This file maps four of them: common
// (type 1), notify (2), ISR (3) and device-specific (4).  The BARs are
// identity-mapped below 4 GiB (mmu.h) and uncached by the firmware's
// MTRRs, as every PCI memory BAR at the top of the 32-bit space.
//
// Invariants:
//  - Everything here runs on one CPU at a time: set-up on the boot CPU
//    before "kit: ready", a queue's operations on the thread that owns it.
//  - The driver writes desc[] and avail; the device writes used.  A
//    buffer is the device's from its publication (vq_publish) until its
//    used entry, and the driver touches neither it nor its descriptor
//    meanwhile.
//  - Descriptor id and buffer are paired for good by the caller; the
//    driver's free descriptors are the ones not published.

#include "types.h"
#include "defs.h"
#include "pci.h"
#include "virtio.h"

// struct virtio_pci_common_cfg (VIRTIO 4.1.4.3), by offset.
#define CC_DFSELECT   0x00      // u32 device_feature_select
#define CC_DF         0x04      // u32 device_feature
#define CC_GFSELECT   0x08      // u32 driver_feature_select
#define CC_GF         0x0c      // u32 driver_feature
#define CC_MSIX       0x10      // u16 msix_config
#define CC_NUMQ       0x12      // u16 num_queues
#define CC_STATUS     0x14      // u8  device_status
#define CC_GEN        0x15      // u8  config_generation
#define CC_Q_SELECT   0x16      // u16 queue_select
#define CC_Q_SIZE     0x18      // u16 queue_size
#define CC_Q_MSIX     0x1a      // u16 queue_msix_vector
#define CC_Q_ENABLE   0x1c      // u16 queue_enable
#define CC_Q_NOFF     0x1e      // u16 queue_notify_off
#define CC_Q_DESC     0x20      // u64 queue_desc
#define CC_Q_AVAIL    0x28      // u64 queue_driver
#define CC_Q_USED     0x30      // u64 queue_device

// struct virtio_pci_cap (VIRTIO 4.1.4), by offset in the capability.
#define VCAP_TYPE     3
#define VCAP_BAR      4
#define VCAP_OFFSET   8
#define VCAP_LENGTH   12
#define VCAP_NOTIFY_MULT 16     // struct virtio_pci_notify_cap only (4.1.4.4)

enum { CFG_COMMON = 1, CFG_NOTIFY = 2, CFG_ISR = 3, CFG_DEVICE = 4 };

static inline u8  rd8(volatile u8 *b, u32 o)  { return *(volatile u8 *)(b + o); }
static inline u16 rd16(volatile u8 *b, u32 o) { return *(volatile u16 *)(b + o); }
static inline u32 rd32(volatile u8 *b, u32 o) { return *(volatile u32 *)(b + o); }
static inline void wr8(volatile u8 *b, u32 o, u8 v)   { *(volatile u8 *)(b + o) = v; }
static inline void wr16(volatile u8 *b, u32 o, u16 v) { *(volatile u16 *)(b + o) = v; }
static inline void wr32(volatile u8 *b, u32 o, u32 v) { *(volatile u32 *)(b + o) = v; }

// A 64-bit field as two 32-bit writes, low half first: the transport
// lets the driver access 64-bit fields 32 bits at a time (4.1.3.1).
static void
wr64(volatile u8 *b, u32 o, u64 v)
{
	wr32(b, o, (u32)v);
	wr32(b, o + 4, (u32)(v >> 32));
}

// Map d's configuration structures.  A type may appear more than once;
// the driver should use the first it can (4.1.4, "driver requirements"),
// which is the first here.  Returns whether all four are there and fit in
// their memory BARs.
bool
virtio_probe(struct virtio *v, const struct pcidev *d)
{
	*v = (struct virtio){ .pci = d };
	for (u32 c = pci_cap(d, CAP_VENDOR, 0); c != 0; c = pci_cap(d, CAP_VENDOR, c)) {
		u8 type = pci_read8(d, c + VCAP_TYPE), bar = pci_read8(d, c + VCAP_BAR);
		u32 off = pci_read32(d, c + VCAP_OFFSET), len = pci_read32(d, c + VCAP_LENGTH);
		if (bar >= NBAR || d->bar[bar].io || d->bar[bar].size < (u64)off + len)
			continue;
		volatile u8 *p = (volatile u8 *)(uptr)(d->bar[bar].base + off);
		if (type == CFG_COMMON && v->common == NULL)
			v->common = p;
		else if (type == CFG_ISR && v->isr == NULL)
			v->isr = p;
		else if (type == CFG_DEVICE && v->device == NULL)
			v->device = p;
		else if (type == CFG_NOTIFY && v->notify == NULL) {
			v->notify = p;
			v->notify_mult = pci_read32(d, c + VCAP_NOTIFY_MULT);
		}
	}
	return v->common && v->isr && v->device && v->notify;
}

// Reset the device: write 0 to device_status and wait until it reads 0
// (4.1.4.3.2).  Returns whether it did within a second.
bool
virtio_reset(struct virtio *v)
{
	wr8(v->common, CC_STATUS, 0);
	for (int i = 0; i < 100000; i++) {
		if (rd8(v->common, CC_STATUS) == 0)
			return true;
		udelay(10);
	}
	return false;
}

u8
virtio_status(const struct virtio *v)
{
	return rd8(v->common, CC_STATUS);
}

void
virtio_add_status(struct virtio *v, u8 bits)
{
	wr8(v->common, CC_STATUS, rd8(v->common, CC_STATUS) | bits);
}

// The 64 feature bits the device offers, 32 at a time through the select.
u64
virtio_features(const struct virtio *v)
{
	wr32(v->common, CC_DFSELECT, 0);
	u32 lo = rd32(v->common, CC_DF);
	wr32(v->common, CC_DFSELECT, 1);
	u32 hi = rd32(v->common, CC_DF);
	return (u64)hi << 32 | lo;
}

// Steps 4 to 6 of 3.1.1: write the features the driver accepts (a subset
// of those offered), set FEATURES_OK, and re-read the status: the device
// clears FEATURES_OK when it cannot work with that subset.
bool
virtio_accept(struct virtio *v, u64 features)
{
	wr32(v->common, CC_GFSELECT, 0);
	wr32(v->common, CC_GF, (u32)features);
	wr32(v->common, CC_GFSELECT, 1);
	wr32(v->common, CC_GF, (u32)(features >> 32));
	virtio_add_status(v, VIRTIO_FEATURES_OK);
	return virtio_status(v) & VIRTIO_FEATURES_OK;
}

// The MSI-X vector of configuration changes; returns whether the device
// took it (it reads back NO_VECTOR when it could not map it, 4.1.5.1.2).
bool
virtio_config_vector(struct virtio *v, u16 vector)
{
	wr16(v->common, CC_MSIX, vector);
	return rd16(v->common, CC_MSIX) == vector;
}

u16
virtio_queue_vector(struct virtio *v, u16 index)
{
	wr16(v->common, CC_Q_SELECT, index);
	return rd16(v->common, CC_Q_MSIX);
}

// Set up queue index with at most size entries (a power of 2) in mem,
// VQ_BYTES(size) bytes aligned to 16, and vector as its MSI-X vector
// (4.1.5.1.3): select it, read the size the device offers (0: no such
// queue) and take the smaller, write the three parts' addresses and the
// vector, read the vector back, and enable the queue.  The rings start
// empty: avail->idx and used->idx are 0, and used->idx is the device's.
// Returns NULL, or what went wrong.
const char *
virtio_queue(struct virtio *v, struct virtq *q, u16 index, u16 size, void *mem, u16 vector)
{
	wr16(v->common, CC_Q_SELECT, index);
	u16 max = rd16(v->common, CC_Q_SIZE);
	if (max == 0)
		return fail("virtio: queue %u does not exist", index);
	if (rd16(v->common, CC_Q_ENABLE))
		return fail("virtio: queue %u is enabled before set-up", index);
	while (size > max)
		size /= 2;
	memset(mem, 0, VQ_BYTES(size));
	*q = (struct virtq){ .index = index, .size = size };
	q->desc = mem;
	q->avail = (void *)((uptr)mem + 16 * size);
	q->used = (void *)((uptr)q->avail + ((6 + 2 * size + 3) & ~3));
	wr16(v->common, CC_Q_SIZE, size);
	wr64(v->common, CC_Q_DESC, (uptr)q->desc);          // identity map: virtual = physical
	wr64(v->common, CC_Q_AVAIL, (uptr)q->avail);
	wr64(v->common, CC_Q_USED, (uptr)q->used);
	wr16(v->common, CC_Q_MSIX, vector);
	if (rd16(v->common, CC_Q_MSIX) != vector)
		return fail("virtio: queue %u refused MSI-X vector 0x%x", index, vector);
	q->notify = (volatile u16 *)(v->notify + rd16(v->common, CC_Q_NOFF) * v->notify_mult);
	wr16(v->common, CC_Q_ENABLE, 1);
	return NULL;
}

// <<virtq
// Put buffer id (its descriptor's number) in the next available slot,
// unpublished (2.6.13.1, 2.6.13.2): one descriptor, no chain.
void
vq_add(struct virtq *q, u16 id, void *buf, u32 len, u16 flags)
{
	q->desc[id] = (struct vq_desc){ .addr = (uptr)buf, .len = len, .flags = flags };
	q->avail->ring[q->next_avail & (q->size - 1)] = id;
	q->next_avail++;
}

// Publish what vq_add() put: the descriptors and ring entries must be
// visible before the new idx (2.6.13.3).  x86 keeps stores in order (SDM
// Vol. 3A 9.2.2), so a compiler barrier is the write barrier.
void
vq_publish(struct virtq *q)
{
	u16 n = q->next_avail - q->avail->idx;

	__atomic_signal_fence(__ATOMIC_RELEASE);
	q->avail->idx = q->next_avail;
	q->unkicked += n;
}

// Notify the device of what was published since the last kick, unless it
// said it needs none (2.6.13.4): the full fence orders the idx store
// before the flags load (a store then a load may otherwise pass each
// other, SDM Vol. 3A 9.2.3.4), or the device could set NO_NOTIFY, miss
// the new idx and sleep.  Returns whether it wrote the notification.
bool
vq_kick(struct virtq *q)
{
	if (q->unkicked == 0)
		return false;
	q->unkicked = 0;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (q->used->flags & VQ_USED_NO_NOTIFY) {
		q->kicks_skipped++;
		return false;
	}
	*q->notify = q->index;          // without NOTIFICATION_DATA: the queue's number (4.1.5.2)
	q->kicks++;
	return true;
}
// >>virtq

// Take the next used buffer, if any (2.6.14): its id and the bytes the
// device wrote.  The entry is read only after idx says it is there.
bool
vq_used(struct virtq *q, u32 *id, u32 *len)
{
	if (q->used->idx == q->last_used)
		return false;
	__atomic_signal_fence(__ATOMIC_ACQUIRE);        // x86: loads are not reordered with loads
	volatile struct vq_used_elem *e = &q->used->ring[q->last_used & (q->size - 1)];
	*id = e->id;
	*len = e->len;
	q->last_used++;
	return true;
}

// Ask the device not to interrupt for used buffers (2.6.7): a hint, so a
// notification may still come.
void
vq_notify_off(struct virtq *q)
{
	q->avail->flags = VQ_AVAIL_NO_INTERRUPT;
}

// Before the driver waits: ask for notifications again, then fence and
// look at used->idx once more (2.6.14).  A buffer used between the last
// look and the flags store raised no notification; the fence makes the
// store visible before the load, so either this look sees the buffer or
// the device sees the flag and notifies.  Returns whether the queue is
// still empty, so that waiting is safe.
bool
vq_notify_on(struct virtq *q)
{
	q->avail->flags = 0;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return q->used->idx == q->last_used;
}
