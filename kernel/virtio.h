// The virtio 1.x PCI transport and split virtqueues (kernel/virtio.c).
//
// Citations: "VIRTIO" is Virtual I/O Device (VIRTIO) Version 1.1, OASIS
// Committee Specification 01 (the same sections in 1.2 are one higher
// under chapter 2: 2.6 there is 2.7).

#ifndef KIT_VIRTIO_H
#define KIT_VIRTIO_H

#include "types.h"

struct pcidev;

// device_status bits (VIRTIO 2.1).
#define VIRTIO_ACKNOWLEDGE  1
#define VIRTIO_DRIVER       2
#define VIRTIO_DRIVER_OK    4
#define VIRTIO_FEATURES_OK  8
#define VIRTIO_NEEDS_RESET  64
#define VIRTIO_FAILED       128

#define VIRTIO_F_VERSION_1  32          // feature bit (VIRTIO 6.1)
#define VIRTIO_NO_VECTOR    0xffff      // no MSI-X vector (VIRTIO 4.1.4.3, 4.1.5.1.2)

// A split virtqueue's three parts, as the device reads them (VIRTIO 2.6):
// the descriptor table (16-byte aligned), the available ring (2), the
// used ring (4).
struct vq_desc {
	u64 addr;               // guest-physical address of the buffer
	u32 len;
	u16 flags;              // VQ_DESC_*
	u16 next;
};
#define VQ_DESC_NEXT  1
#define VQ_DESC_WRITE 2                 // the device writes the buffer (receive)

struct vq_avail {
	u16 flags;              // VQ_AVAIL_NO_INTERRUPT
	u16 idx;                // where the driver puts the next entry, mod 2^16
	u16 ring[];
};
#define VQ_AVAIL_NO_INTERRUPT 1         // the driver asks for no used-buffer notification (2.6.7)

struct vq_used_elem {
	u32 id;                 // the head descriptor of the buffer used
	u32 len;                // bytes the device wrote into it
};

struct vq_used {
	u16 flags;              // VQ_USED_NO_NOTIFY
	u16 idx;
	struct vq_used_elem ring[];
};
#define VQ_USED_NO_NOTIFY 1             // the device asks for no kick (2.6.10)

// One virtqueue of a device.  Only the thread that owns it touches it
// after set-up.
struct virtq {
	u16 index;              // its number in the device
	u16 size;               // entries, a power of 2
	struct vq_desc *desc;
	volatile struct vq_avail *avail;
	volatile struct vq_used *used;
	volatile u16 *notify;   // where a kick writes index
	u16 next_avail;         // the avail->idx that vq_publish() writes
	u16 last_used;          // the used->idx up to which the driver took entries
	u16 unkicked;           // entries published since the last kick
	u64 kicks, kicks_skipped;
};

// A virtio device on PCI: its configuration structures, mapped in its
// BARs (VIRTIO 4.1.4).
struct virtio {
	const struct pcidev *pci;
	volatile u8 *common;    // struct virtio_pci_common_cfg (4.1.4.3)
	volatile u8 *isr;       // the ISR status byte (4.1.4.5)
	volatile u8 *device;    // the device-specific configuration (4.1.4.6)
	volatile u8 *notify;    // the notification area (4.1.4.4)
	u32 notify_mult;        // notify_off_multiplier
};

bool virtio_probe(struct virtio *v, const struct pcidev *d);
bool virtio_reset(struct virtio *v);
u8   virtio_status(const struct virtio *v);
void virtio_add_status(struct virtio *v, u8 bits);
u64  virtio_features(const struct virtio *v);
bool virtio_accept(struct virtio *v, u64 features);
bool virtio_config_vector(struct virtio *v, u16 vector);
const char *virtio_queue(struct virtio *v, struct virtq *q, u16 index, u16 size,
    void *mem, u16 vector);
u16  virtio_queue_vector(struct virtio *v, u16 index);

void vq_add(struct virtq *q, u16 id, void *buf, u32 len, u16 flags);
void vq_publish(struct virtq *q);
bool vq_kick(struct virtq *q);
bool vq_used(struct virtq *q, u32 *id, u32 *len);
void vq_notify_off(struct virtq *q);
bool vq_notify_on(struct virtq *q);

// Bytes of memory virtio_queue() takes for a queue of size entries: the
// three parts, each at its alignment, in one block aligned to 16.
#define VQ_BYTES(size) (16 * (size) + ((6 + 2 * (size) + 3) & ~3) + 6 + 8 * (size))

#endif
