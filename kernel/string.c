// string.c: the memory and string functions of the C library that the
// kernel uses.  gcc may also call memcpy, memmove, memset and memcmp on its
// own, for struct copies and initialisers, even with -ffreestanding (gcc
// manual, "Language Standards Supported by GCC"), so they must exist.
//
// The copies and fills are string instructions (SDM Vol. 2B MOVS, STOS,
// REP): with DF = 0 they move RCX items upwards from RSI / to RDI.
// memcpy and memset move quadwords, then the last bytes: QEMU's TCG
// runs each iteration of a REP as one pass of a translated block, so
// eight bytes an iteration copy a network frame in an eighth of the
// time.  Loops written in C here could be recognised by gcc as a memset
// or memcpy and compiled into a call to the very function being defined.

#include "types.h"
#include "defs.h"

void *
memcpy(void *dst, const void *src, size_t n)
{
	void *d = dst;
	size_t q = n / 8, r = n % 8;

	asm volatile("rep movsq" : "+D"(d), "+S"(src), "+c"(q) : : "memory");
	asm volatile("rep movsb" : "+D"(d), "+S"(src), "+c"(r) : : "memory");
	return dst;
}

void *
memmove(void *dst, const void *src, size_t n)
{
	// Unless dst starts inside [src, src + n), an upward copy reads each
	// byte before it writes over it.  The unsigned difference is >= n both
	// when dst is below src (it wraps) and when it is past the end.
	if ((uptr)dst - (uptr)src >= n)
		return memcpy(dst, src, n);

	// Otherwise copy downwards from the last byte, with DF = 1 (SDM Vol. 1
	// 3.4.3.1, DF), and restore DF = 0, which the ABI requires.
	char *d = (char *)dst + n - 1;
	const char *s = (const char *)src + n - 1;
	asm volatile("std; rep movsb; cld" : "+D"(d), "+S"(s), "+c"(n) : : "memory");
	return dst;
}

void *
memset(void *dst, int c, size_t n)
{
	void *d = dst;
	size_t q = n / 8, r = n % 8;
	u64 v = (u8)c * 0x0101010101010101ULL;

	asm volatile("rep stosq" : "+D"(d), "+c"(q) : "a"(v) : "memory");
	asm volatile("rep stosb" : "+D"(d), "+c"(r) : "a"(v) : "memory");
	return dst;
}

int
memcmp(const void *a, const void *b, size_t n)
{
	const u8 *p = a, *q = b;

	for (; n > 0; n--, p++, q++)
		if (*p != *q)
			return *p - *q;
	return 0;
}

size_t
strlen(const char *s)
{
	size_t n = 0;

	while (s[n] != '\0')
		n++;
	return n;
}

int
strcmp(const char *a, const char *b)
{
	while (*a != '\0' && *a == *b)
		a++, b++;
	return (u8)*a - (u8)*b;
}
