// Fixed-width types.  The kernel is LP64 (System V AMD64 ABI): long and
// pointers are 64 bits, so u64 is unsigned long and prints with %lx / %lu.

#ifndef KIT_TYPES_H
#define KIT_TYPES_H

// gcc supplies these headers in freestanding mode (C11 4p6); they hold
// only types and macros, no library code.
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef uint8_t  u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;
typedef int64_t  i64;
typedef uintptr_t uptr;

#endif
