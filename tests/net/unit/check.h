// A small test harness for the host build of the network files.
//
//   TEST(name) { ... }          a group of checks; `unit name` runs it alone
//   BUG(name, "why") { ... }    a group that shows a known bug: it fails until
//                               the bug is fixed (tests/test_net_host.py marks
//                               it xfail with the reason)
//   CHECK(cond)                 fails the group with the file, line and text
//   CHECK_EQ(a, b)              the same, printing both values
//   CHECKF(cond, fmt, ...)      the same, with a message (say which case)
//
// A failed check prints "file:line: ..." on stderr and exits 1, so each
// group runs in a process of its own.

#ifndef CHECK_H
#define CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "types.h"

void test_add(const char *name, void (*fn)(void), const char *file, const char *bug);
_Noreturn void check_fail(const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define TEST_REG(name, bug) \
	static void name(void); \
	__attribute__((constructor)) static void name##_add(void) \
	{ test_add(#name, name, __FILE__, bug); } \
	static void name(void)
#define TEST(name) TEST_REG(name, NULL)
#define BUG(name, why) TEST_REG(name, why)

#define CHECK(cond) do { \
	if (!(cond)) \
		check_fail(__FILE__, __LINE__, "CHECK(%s) failed", #cond); \
} while (0)

#define CHECKF(cond, ...) do { \
	if (!(cond)) { \
		fprintf(stderr, "%s:%d: CHECK(%s) failed: ", __FILE__, __LINE__, #cond); \
		check_fail(NULL, 0, __VA_ARGS__); \
	} \
} while (0)

#define CHECK_EQ(a, b) do { \
	long long a_ = (long long)(a), b_ = (long long)(b); \
	if (a_ != b_) \
		check_fail(__FILE__, __LINE__, "CHECK_EQ(%s, %s) failed: %lld != %lld", #a, #b, a_, b_); \
} while (0)

// A copy of n bytes in a heap block of exactly n bytes (NULL-safe for 0),
// so that a read past the end is AddressSanitizer's to see.  free() it.
u8 *exact(const void *p, u32 n);

// Bytes from hex text ("45 00 00 1c", spaces ignored) at out; returns how many.
u32 unhex(u8 *out, const char *hex);

// Whether two byte runs are equal; on a difference, prints the first
// differing offset and both bytes there.
bool sameframe(const u8 *got, u32 gotlen, const u8 *want, u32 wantlen);

#endif
