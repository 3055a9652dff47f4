// The host's stand-ins for what the kernel gives the pure network files
// (kernel/eth.c, arp.c, ipv4.c, icmp.c, tcp.c, http.c): the way out
// (net_tx_buf, net_tx_send) captures the frames sent, net_mac() is the
// guest's MAC, 52:54:00:12:34:56, and panic() and
// kprintf() print to stderr.  Used by the unit tests and the fuzzers.

#ifndef SHIM_H
#define SHIM_H

#include "types.h"

#define SHIM_FRAMES 64          // the last frames sent, kept for a look

void shim_reset(void);                          // forget what was sent
u32  shim_sent(void);                           // frames sent since the reset
const u8 *shim_frame(u32 i, u32 *len);          // the i-th of them, NULL if no longer kept
void shim_tx_full(bool full);                   // net_tx_buf() returns NULL while full

#endif
