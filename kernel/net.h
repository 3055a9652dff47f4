// The network stage: Ethernet and ARP as pure functions over byte
// buffers (kernel/eth.c, kernel/arp.c: no device access, no global
// state, so that they build for the host too), the virtio-net driver
// (kernel/virtionet.c) and the network thread (kernel/net.c).
//
// Byte order: frames hold their fields in network order (big-endian);
// the parsed structures below hold them in host order, and IPv4
// addresses as u32 with the first octet in the top byte (10.0.2.15 is
// 0x0a00020f).

#ifndef KIT_NET_H
#define KIT_NET_H

#include "types.h"

#define ETH_ALEN     6
#define ETH_HLEN     14         // destination, source, type (IEEE 802.3 3.1.1)
#define ETH_ZLEN     60         // shortest frame without its FCS; shorter ones are padded
#define ETH_MAXLEN   1514       // longest frame without FCS or VLAN tag
#define ETHTYPE_IPV4 0x0800
#define ETHTYPE_ARP  0x0806

#define NET_IP       0x0a00020f // 10.0.2.15, QEMU user networking's guest address

struct eth {
	u8 dst[ETH_ALEN];
	u8 src[ETH_ALEN];
	u16 type;
};

extern const u8 eth_broadcast[ETH_ALEN];

bool eth_parse(const u8 *f, u32 len, struct eth *e);
u32  eth_build(u8 *f, const u8 *dst, const u8 *src, u16 type);
u32  eth_pad(u8 *f, u32 len);
char *eth_ntoa(char *buf, const u8 *mac);

// An ARP packet for IPv4 over Ethernet (RFC 826).
#define ARP_LEN     28
#define ARP_REQUEST 1
#define ARP_REPLY   2

struct arp {
	u16 op;
	u8 sha[ETH_ALEN];       // sender's hardware and protocol address
	u32 spa;
	u8 tha[ETH_ALEN];       // target's
	u32 tpa;
};

bool arp_parse(const u8 *p, u32 len, struct arp *a);
u32  arp_build(u8 *p, const struct arp *a);
u32  arp_reply(u8 *out, const u8 *frame, u32 len, const u8 *mac, u32 ip);
u32  arp_announce(u8 *out, const u8 *mac, u32 ip);

// virtionet.c: the card.  vnet_init() on the boot CPU before "kit:
// ready"; the rest on the network thread only.
struct pollvar;
extern struct pollvar net_rxirq;         // its MSI-X handler adds 1 to it
bool vnet_init(int cpu);
bool vnet_present(void);
const u8 *vnet_mac(void);
int  vnet_cpu(void);
u32  vnet_rx(void (*fn)(const u8 *frame, u32 len), u32 budget);
u8  *vnet_tx_buf(void);
void vnet_tx_send(u32 len);
void vnet_tx_flush(void);
bool vnet_rx_arm(void);
void vnet_rx_quiet(void);
void net_intr(void);

// What the self-tests (nettest.c) look at.
struct pcidev;
struct virtio;
struct msix;
struct virtq;
const struct pcidev *vnet_pci(void);
const struct virtio *vnet_dev(void);
const struct msix   *vnet_msix(void);
const struct virtq  *vnet_queue(int i);

// net.c
void net_init(void);
void net_start(void);

#endif
