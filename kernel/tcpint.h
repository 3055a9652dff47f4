// What tcp.c and tcpseg.c share, and nothing outside them uses.

#ifndef KIT_TCPINT_H
#define KIT_TCPINT_H

#include "types.h"

typedef int16_t i16;            // an index into a table, or -1

#define TCP_MSS    1460         // the most data a segment carries: Ethernet's 1500 less 40
#define TCP_RCVWND 65535        // the window advertised, always: data is taken at once

// Sequence numbers compare modulo 2^32 (RFC 9293 3.4).
#define SEQ_LT(a, b) ((int32_t)((a) - (b)) < 0)
#define SEQ_LE(a, b) ((int32_t)((a) - (b)) <= 0)
#define SEQ_GT(a, b) SEQ_LT(b, a)
#define SEQ_GE(a, b) SEQ_LE(b, a)

bool tcp_emit(u32 dst, const u8 *dmac, u16 sport, u16 dport, u32 seq, u32 ack, u8 flags,
    u16 mss, const u8 *data, u32 len);

#endif
