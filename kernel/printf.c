// printf.c: formatted output to the console and into buffers.
//
// One formatter, format(), emits characters through a put function:
// kprintf() sends them to the UART, ksnprintf() into a buffer, so the
// self-test checks the very code the console uses.
//
// Conversions: %d %u %x %p %s %c %%, with the length modifiers l and ll
// (both mean 64 bits: LP64).  No flags, width or precision.  An unknown
// conversion is printed as written, so a mistake shows in the output.

#include "types.h"
#include "defs.h"
#include "spinlock.h"

typedef void putfn(void *arg, char c);

static void
putnum(putfn *put, void *arg, u64 v, unsigned base)
{
	char digits[20];        // 2^64 - 1 has 20 decimal digits
	int n = 0;

	do {
		digits[n++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v != 0);
	while (n > 0)
		put(arg, digits[--n]);
}

static void
putstr(putfn *put, void *arg, const char *s)
{
	if (s == NULL)
		s = "(null)";
	while (*s != '\0')
		put(arg, *s++);
}

static void
format(putfn *put, void *arg, const char *fmt, va_list ap)
{
	for (const char *p = fmt; *p != '\0'; p++) {
		if (*p != '%') {
			put(arg, *p);
			continue;
		}
		bool wide = false;
		if (p[1] == 'l') {
			wide = true;
			p += p[2] == 'l' ? 2 : 1;
		}
		switch (*++p) {
		case 'd': {
			i64 v = wide ? va_arg(ap, long) : va_arg(ap, int);
			if (v < 0)
				put(arg, '-');
			putnum(put, arg, v < 0 ? -(u64)v : (u64)v, 10);
			break;
		}
		case 'u':
			putnum(put, arg, wide ? va_arg(ap, unsigned long)
			    : va_arg(ap, unsigned), 10);
			break;
		case 'x':
			putnum(put, arg, wide ? va_arg(ap, unsigned long)
			    : va_arg(ap, unsigned), 16);
			break;
		case 'p':
			putstr(put, arg, "0x");
			putnum(put, arg, (uptr)va_arg(ap, void *), 16);
			break;
		case 's':
			putstr(put, arg, va_arg(ap, const char *));
			break;
		case 'c':
			put(arg, (char)va_arg(ap, int));
			break;
		case '%':
			put(arg, '%');
			break;
		case '\0':              // a '%' that ends the format
			put(arg, '%');
			return;
		default:
			put(arg, '%');
			put(arg, *p);
			break;
		}
	}
}

static void
putuart(void *arg, char c)
{
	(void)arg;
	uart_putc(c);
}

#if KIT_STAGE_LEVEL >= STAGE_CORES
// One CPU at a time prints: a kprintf holds the console lock from its
// first character to its last, so lines from different CPUs never mix as
// long as each line is one kprintf.  A CPU that faults inside format() (a
// bad %s, say) panics, and its panic prints while it still holds the lock:
// so the holder prints on without taking the lock again.
static struct spinlock conslock = { .kind = LOCK_TAS };

void
kvprintf(const char *fmt, va_list ap)
{
	bool mine = holding(&conslock);

	if (!mine)
		acquire(&conslock);
	format(putuart, NULL, fmt, ap);
	if (!mine)
		release(&conslock);
}
#else
void
kvprintf(const char *fmt, va_list ap)
{
	format(putuart, NULL, fmt, ap);
}
#endif

void
kprintf(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	kvprintf(fmt, ap);
	va_end(ap);
}

// A buffer being filled.  Invariant: len counts every character formatted,
// and buf[0 .. min(len, size - 1)) holds the first of them.
struct sbuf {
	char *buf;
	size_t size;
	size_t len;
};

static void
putbuf(void *arg, char c)
{
	struct sbuf *b = arg;

	if (b->len + 1 < b->size)
		b->buf[b->len] = c;
	b->len++;
}

// As C's vsnprintf: write at most size bytes, NUL included, and return
// the length the whole output would have had.
int
kvsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
	struct sbuf b = { buf, size, 0 };

	format(putbuf, &b, fmt, ap);
	if (size > 0)
		buf[b.len < size ? b.len : size - 1] = '\0';
	return b.len;
}

int
ksnprintf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = kvsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return n;
}

// The choices a message offers, "<pre>a, <pre>b or <pre>c", from the
// n words w, into buf (cut to size like ksnprintf).  Returns buf.
char *
kwords(char *buf, size_t size, const char *pre, const char *const *w, int n)
{
	size_t len = 0;

	buf[0] = '\0';
	for (int i = 0; i < n && len < size; i++)
		len += ksnprintf(buf + len, size - len, "%s%s%s",
		    i == 0 ? "" : i == n - 1 ? " or " : ", ", pre, w[i]);
	return buf;
}
