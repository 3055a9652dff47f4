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

// Fields in network order (big-endian), read and written a byte at a
// time: a field in a frame may sit at any address.
static inline u16
get16(const u8 *p)
{
	return (u16)p[0] << 8 | p[1];
}

static inline u32
get32(const u8 *p)
{
	return (u32)p[0] << 24 | (u32)p[1] << 16 | (u32)p[2] << 8 | p[3];
}

static inline void
put16(u8 *p, u16 v)
{
	p[0] = v >> 8;
	p[1] = v;
}

static inline void
put32(u8 *p, u32 v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

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

// The ARP cache (arp.c): what each neighbour's IPv4 address maps to,
// learnt from the ARP packets it sends.  A fixed table, the oldest entry
// replaced when full.
#define ARP_CACHE 16
void arp_learn(const struct arp *a);
const u8 *arp_lookup(u32 ip);           // NULL if not known

// The Internet checksum (RFC 1071): the ones' complement of the ones'
// complement sum of 16-bit words.  inet_sum() adds len bytes to a running
// sum, inet_fold() folds and complements it; a packet whose checksum field
// is right sums, checksum included, to a fold of 0.
u32  inet_sum(u32 sum, const u8 *p, u32 len);
u16  inet_fold(u32 sum);
u32  inet_pseudo(u32 src, u32 dst, u8 proto, u32 len);  // TCP's pseudo-header (RFC 9293 3.1)

// An IPv4 header (RFC 791 3.1), parsed.  ipv4_parse() checks version,
// header length, total length and checksum, and refuses fragments and
// options; it returns IPV4_OK or why it refused, which the caller counts.
#define IPV4_HLEN   20
#define IPPROTO_ICMP 1
#define IPPROTO_TCP  6
enum ipv4_verdict {
	IPV4_OK,
	IPV4_SHORT,             // shorter than its header or its total length
	IPV4_VERSION,           // not version 4
	IPV4_CKSUM,             // header checksum wrong
	IPV4_OPTIONS,           // header longer than 20 bytes
	IPV4_FRAGMENT,          // MF set or a fragment offset
	IPV4_NOTUS,             // to an address that is not ours nor broadcast
};
struct ipv4 {
	u8 proto;
	u8 ttl;
	u16 id;
	u32 src, dst;
	const u8 *payload;      // within the frame
	u32 len;                // payload bytes, from the total length (padding excluded)
};
enum ipv4_verdict ipv4_parse(const u8 *p, u32 len, u32 us, struct ipv4 *ip);
u32  ipv4_build(u8 *p, u8 proto, u32 src, u32 dst, u16 id, u32 payload_len);

// ICMP echo (RFC 792): icmp_echo_reply() writes at out the whole frame
// that answers the echo request in frame (Ethernet header onwards), and
// returns its length, or 0 if frame holds no valid echo request for us
// (wrong type, bad checksum, too short).  out has room for ETH_MAXLEN.
#define ICMP_ECHO_REPLY   0
#define ICMP_ECHO_REQUEST 8
u32  icmp_echo_reply(u8 *out, const u8 *frame, u32 len, const u8 *mac, u32 ip);

// A TCP header (RFC 9293 3.1), parsed by tcp_parse(), which checks the
// data offset and the checksum (over the pseudo-header too) and reads the
// MSS option; other options are skipped by their length.
#define TCP_HLEN  20
#define TCP_FIN   0x01
#define TCP_SYN   0x02
#define TCP_RST   0x04
#define TCP_PSH   0x08
#define TCP_ACK   0x10
#define TCP_URG   0x20
enum tcp_verdict {
	TCP_OK,
	TCP_SHORT,              // shorter than 20 bytes or than its data offset
	TCP_CKSUM,              // checksum wrong
	TCP_BADOPT,             // an option runs past the header, or a bad MSS
};
struct tcphdr {
	u16 sport, dport;
	u32 seq, ack;
	u8 flags;
	u16 wnd;
	u16 mss;                // from the MSS option; 0 if absent
	const u8 *data;         // the segment's data, within the packet
	u32 len;                // its bytes
};
enum tcp_verdict tcp_parse(const u8 *p, u32 len, u32 src, u32 dst, struct tcphdr *t);

// The way out, for the protocols above Ethernet: a buffer for one frame
// (ETH_MAXLEN bytes, NULL if none is free), sending it, and our MAC to
// send from.  The kernel's are the card's (net.c over virtionet.c); the
// host build of the parsers brings its own.
u8  *net_tx_buf(void);
void net_tx_send(u32 len);
const u8 *net_mac(void);

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

// What the self-tests (nettest.c) look at.  While net_tap is not NULL,
// net_tx_buf() returns it and net_tx_send() only sets net_taplen.
extern u8 *net_tap;
extern u32 net_taplen;
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

// httpd.c: the web server on port 80.
void httpd_init(void);

#endif
