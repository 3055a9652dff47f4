// http.c: the server's subset of HTTP/1.1 messages (RFC 9112, with the
// semantics of RFC 9110): parse a request's head, write a response's.
//
// http_parse() reads the head in one pass from its first byte, copies
// nothing, and looks at no byte past len nor past HTTP_HEAD_MAX.  The
// server calls it again from the start whenever more bytes arrive, so
// its verdicts are consistent: each is decided by the bytes up to the
// point where it is found, the first error met wins, and a prefix of a
// request parses to 0 (more bytes needed) or to the whole request's
// verdict.  Everything past the first HTTP_HEAD_MAX bytes is unseen: a
// head that does not end within them is 431, whatever follows.
//
// What it takes, and the choices where RFC 9112 leaves one:
//   - lines end in CRLF, or in a bare LF (2.2); a CR not followed by LF is
//     400 (2.2); empty lines before the request-line are skipped (2.2);
//   - request-line: method SP request-target SP HTTP-version, one SP
//     each (3); the method a token, matched case-sensitively (RFC 9110
//     9.1); the target in origin-form, a '/' then visible ASCII (3.2.1), or
//     "*" with OPTIONS only (3.2.4); the absolute-form (3.2.2), which only
//     proxies are sent, and the authority-form (3.2.3) are 400 here;
//   - HTTP/1.0 and 1.1; 1.2 to 1.9 are taken as 1.1 (RFC 9110 2.5); a major
//     version other than 1, and a request-line with no version (the
//     HTTP/0.9 form), are 505;
//   - header fields: name ":" OWS value OWS (5); whitespace before the
//     colon (5.1), and a line that starts with whitespace (obs-fold, 5.2,
//     or whitespace after the request-line, 2.2) are 400; a value holds
//     HTAB, SP, visible ASCII and obs-text, any other control byte is 400
//     (RFC 9110 5.5);
//   - an HTTP/1.1 request needs exactly one Host (3.2), else 400; its
//     value is not checked, the server has one host;
//   - Connection: a comma list of tokens (RFC 9110 7.6.1), case-
//     insensitive; "close" ends the connection after the response,
//     "keep-alive" keeps an HTTP/1.0 one (9.3);
//   - Content-Length: digits, or a list of the same digits repeated
//     (RFC 9110 8.6); different values, or anything else, are 400; more
//     than HTTP_BODY_MAX is 413, found without overflow;
//   - Transfer-Encoding is 400: this server takes no chunked bodies, and a
//     message with both it and Content-Length is a smuggling attempt
//     (6.1, 11.2).

#include "types.h"
#include "defs.h"
#include "http.h"

#define MORE (-1)       // the head is not complete in the bytes seen so far

// The classes of a byte, for one table look-up per byte.
#define TCHAR  0x01     // in a token (RFC 9110 5.6.2)
#define VCHAR  0x02     // in a field value: HTAB, SP, VCHAR, obs-text (RFC 9110 5.5)
#define TARGET 0x04     // in a request-target: visible ASCII

static const u8 cls[256] = {
	['\t'] = VCHAR,
	[' '] = VCHAR,
	['!'] = TCHAR | VCHAR | TARGET,
	['"'] = VCHAR | TARGET,
	['#' ... '\''] = TCHAR | VCHAR | TARGET,
	['(' ... ')'] = VCHAR | TARGET,
	['*' ... '+'] = TCHAR | VCHAR | TARGET,
	[','] = VCHAR | TARGET,
	['-' ... '.'] = TCHAR | VCHAR | TARGET,
	['/'] = VCHAR | TARGET,
	['0' ... '9'] = TCHAR | VCHAR | TARGET,
	[':' ... '@'] = VCHAR | TARGET,
	['A' ... 'Z'] = TCHAR | VCHAR | TARGET,
	['[' ... ']'] = VCHAR | TARGET,
	['^' ... '`'] = TCHAR | VCHAR | TARGET,
	['a' ... 'z'] = TCHAR | VCHAR | TARGET,
	['{'] = VCHAR | TARGET,
	['|'] = TCHAR | VCHAR | TARGET,
	['}'] = VCHAR | TARGET,
	['~'] = TCHAR | VCHAR | TARGET,
	[0x80 ... 0xff] = VCHAR,
};

// Whether the n bytes at p are lc (lower case) in any case.  For bytes of
// a token this is exact: OR-ing 0x20 folds 'A'-'Z' onto 'a'-'z' and maps
// no other token byte onto a lower-case letter, a digit or '-', the only
// bytes of the names compared.
static bool
caseeq(const u8 *p, u32 n, const char *lc)
{
	for (u32 i = 0; i < n; i++)
		if ((p[i] | 0x20) != (u8)lc[i])
			return false;
	return lc[n] == '\0';
}

// The end of a line at buf[*i]: CRLF or a bare LF (RFC 9112 2.2).
static int
eol(const u8 *buf, u32 *i, u32 end)
{
	if (buf[*i] == '\n') {
		*i += 1;
		return 200;
	}
	if (buf[*i] != '\r')
		return 400;
	if (*i + 1 >= end)
		return MORE;
	if (buf[*i + 1] != '\n')
		return 400;
	*i += 2;
	return 200;
}

static enum http_method
method(const u8 *m, u32 n)
{
	switch (n) {
	case 3:
		if (memcmp(m, "GET", 3) == 0)
			return HTTP_GET;
		if (memcmp(m, "PUT", 3) == 0)
			return HTTP_PUT;
		break;
	case 4:
		if (memcmp(m, "HEAD", 4) == 0)
			return HTTP_HEAD;
		if (memcmp(m, "POST", 4) == 0)
			return HTTP_POST;
		break;
	case 6:
		if (memcmp(m, "DELETE", 6) == 0)
			return HTTP_DELETE;
		break;
	}
	return HTTP_OTHER;
}

// The request-line (RFC 9112 3), from buf[*i]; leaves *i past its end.
static int
reqline(const u8 *buf, u32 *i, u32 end, struct http_request *r, bool *options)
{
	u32 p = *i, m, t;
	int v;

	m = p;
	while (p < end && (cls[buf[p]] & TCHAR))
		p++;
	if (p == end)
		return MORE;
	if (p == m || buf[p] != ' ')
		return 400;
	r->method = method(buf + m, p - m);
	*options = p - m == 7 && memcmp(buf + m, "OPTIONS", 7) == 0;

	t = ++p;
	if (p == end)
		return MORE;
	if (buf[p] != '/' && buf[p] != '*')
		return 400;
	for (; p < end && buf[p] != ' '; p++) {
		if (buf[p] == '\r' || buf[p] == '\n')
			return 505;             // no version: HTTP/0.9's simple request
		if (!(cls[buf[p]] & TARGET))
			return 400;
		if (p - t >= HTTP_TARGET_MAX)
			return 414;
	}
	if (p == end)
		return MORE;
	r->target = t;
	r->target_len = p - t;

	// HTTP-version = "HTTP" "/" DIGIT "." DIGIT, case-sensitive (2.3).
	p++;
	for (int k = 0; k < 5; k++, p++) {
		if (p == end)
			return MORE;
		if (buf[p] != (u8)"HTTP/"[k])
			return 400;
	}
	if (p == end)
		return MORE;
	if (buf[p] < '0' || buf[p] > '9')
		return 400;
	if (buf[p] != '1')
		return 505;
	if (++p == end)
		return MORE;
	if (buf[p] != '.')
		return 400;
	if (++p == end)
		return MORE;
	if (buf[p] < '0' || buf[p] > '9')
		return 400;
	r->minor = buf[p] == '0' ? 0 : 1;
	if (++p == end)
		return MORE;
	if ((v = eol(buf, &p, end)) != 200)
		return v;

	// The asterisk-form is OPTIONS's alone; a '*' elsewhere in a target
	// that starts with it is no origin-form either.
	if (buf[t] == '*' && (r->target_len != 1 || !*options))
		return 400;
	*i = p;
	return 200;
}

// What the fields seen so far said.
struct fields {
	u32 hosts;
	bool close, keepalive;
	bool haslen;
	u32 len;
};

// Connection's value: a comma list of tokens, with OWS around each and
// empty elements allowed (RFC 9110 5.6.1).
static void
connection(const u8 *v, u32 n, struct fields *f)
{
	u32 i = 0;

	while (i < n) {
		while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
			i++;
		u32 s = i;
		while (i < n && (cls[v[i]] & TCHAR))
			i++;
		if (caseeq(v + s, i - s, "close"))
			f->close = true;
		else if (caseeq(v + s, i - s, "keep-alive"))
			f->keepalive = true;
		while (i < n && v[i] != ',')    // the rest of an element that is no token
			i++;
	}
}

// Content-Length's value: 1*DIGIT, or a list of one value repeated
// (RFC 9110 8.6).  Values are kept at most HTTP_BODY_MAX + 1 so that no
// number of digits overflows.
static int
length(const u8 *v, u32 n, struct fields *f)
{
	u32 i = 0;

	for (;;) {
		u32 s = i, x = 0;
		while (i < n && v[i] >= '0' && v[i] <= '9') {
			x = x * 10 + (v[i] - '0');
			if (x > HTTP_BODY_MAX)
				x = HTTP_BODY_MAX + 1;
			i++;
		}
		if (i == s)
			return 400;
		if (f->haslen && x != f->len)
			return 400;
		f->haslen = true;
		f->len = x;
		while (i < n && (v[i] == ' ' || v[i] == '\t'))
			i++;
		if (i == n)
			break;
		if (v[i++] != ',')
			return 400;
		while (i < n && (v[i] == ' ' || v[i] == '\t'))
			i++;
	}
	return f->len > HTTP_BODY_MAX ? 413 : 200;
}

// One header field line (RFC 9112 5), from buf[*i], which is neither CR
// nor LF; leaves *i past its end.
static int
field(const u8 *buf, u32 *i, u32 end, struct fields *f)
{
	u32 p = *i, n, v, last;
	int x;

	if (buf[p] == ' ' || buf[p] == '\t')
		return 400;                     // obs-fold (5.2), or space after the request-line (2.2)
	n = p;
	while (p < end && (cls[buf[p]] & TCHAR))
		p++;
	if (p == end)
		return MORE;
	if (p == n || buf[p] != ':')
		return 400;                     // no name, a bad byte, or space before the colon (5.1)
	u32 nlen = p - n;
	p++;
	while (p < end && (buf[p] == ' ' || buf[p] == '\t'))
		p++;
	v = last = p;
	for (; p < end && buf[p] != '\r' && buf[p] != '\n'; p++) {
		if (!(cls[buf[p]] & VCHAR))
			return 400;
		if (buf[p] != ' ' && buf[p] != '\t')
			last = p + 1;
	}
	if (p == end)
		return MORE;
	if ((x = eol(buf, &p, end)) != 200)
		return x;
	*i = p;

	const u8 *name = buf + n, *val = buf + v;
	u32 vlen = last - v;
	switch (nlen) {
	case 4:
		if (caseeq(name, nlen, "host") && ++f->hosts > 1)
			return 400;
		break;
	case 10:
		if (caseeq(name, nlen, "connection"))
			connection(val, vlen, f);
		break;
	case 14:
		if (caseeq(name, nlen, "content-length"))
			return length(val, vlen, f);
		break;
	case 17:
		if (caseeq(name, nlen, "transfer-encoding"))
			return 400;
		break;
	}
	return 200;
}

// <<http-parse
static int
parse(const u8 *buf, u32 end, struct http_request *r)
{
	struct fields f = { 0 };
	bool options;
	u32 i = 0;
	int v;

	// Empty lines before the request-line are skipped (RFC 9112 2.2).
	while (i < end && (buf[i] == '\r' || buf[i] == '\n'))
		if ((v = eol(buf, &i, end)) != 200)
			return v;
	if (i == end)
		return MORE;
	if ((v = reqline(buf, &i, end, r, &options)) != 200)
		return v;
	for (;;) {
		if (i == end)
			return MORE;
		if (buf[i] == '\r' || buf[i] == '\n')
			break;
		if ((v = field(buf, &i, end, &f)) != 200)
			return v;
	}
	if ((v = eol(buf, &i, end)) != 200)
		return v;
	if (r->minor == 1 && f.hosts != 1)
		return 400;                     // RFC 9112 3.2: Host is required in 1.1
	r->head_len = i;
	r->body_len = f.haslen ? f.len : 0;
	r->keepalive = !f.close && (r->minor == 1 || f.keepalive);  // RFC 9112 9.3
	return 200;
}
// >>http-parse

// Parse the request head at the start of buf: see http.h.  *r is filled
// in full when the verdict is 200; on an error, r->keepalive is false.
int
http_parse(const u8 *buf, u32 len, struct http_request *r)
{
	u32 end = len < HTTP_HEAD_MAX ? len : HTTP_HEAD_MAX;

	*r = (struct http_request){ .method = HTTP_OTHER, .minor = 1 };
	int v = parse(buf, end, r);
	if (v == MORE)
		v = len >= HTTP_HEAD_MAX ? 431 : 0;
	if (v != 200)
		r->keepalive = false;
	return v;
}

// The reason-phrase of a status (RFC 9110 15); "" for one not used here,
// which RFC 9112 4 allows.
const char *
http_reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 505: return "HTTP Version Not Supported";
	}
	return "";
}

// A bounded writer: once something does not fit, nothing more is written
// and the result is 0.
struct out {
	char *p;
	u32 n, size;
	bool full;
};

static void
put(struct out *o, const char *s)
{
	u32 n = strlen(s);

	if (o->full || o->size - o->n < n) {
		o->full = true;
		return;
	}
	memcpy(o->p + o->n, s, n);
	o->n += n;
}

static void
putnum(struct out *o, u32 x)
{
	char d[11];
	int i = sizeof d - 1;

	d[i] = '\0';
	do {
		d[--i] = '0' + x % 10;
		x /= 10;
	} while (x > 0);
	put(o, d + i);
}

// Write a response head at out: see http.h.  The status line says
// HTTP/1.1, the highest version this server speaks (RFC 9110 2.5); a 405
// names the methods the server takes, in Allow (RFC 9110 15.5.6).  A
// status outside 100-599 writes nothing.
u32
http_head(char *out, u32 size, int status, const char *ctype, u32 body_len, bool keepalive)
{
	struct out o = { .p = out, .size = size };

	if (status < 100 || status > 599)
		return 0;
	put(&o, "HTTP/1.1 ");
	putnum(&o, status);
	put(&o, " ");
	put(&o, http_reason(status));
	put(&o, "\r\n");
	if (status == 405)
		put(&o, "Allow: GET, HEAD\r\n");
	if (ctype != NULL) {
		put(&o, "Content-Type: ");
		put(&o, ctype);
		put(&o, "\r\n");
	}
	put(&o, "Content-Length: ");
	putnum(&o, body_len);
	put(&o, keepalive ? "\r\nConnection: keep-alive\r\n\r\n" : "\r\nConnection: close\r\n\r\n");
	return o.full ? 0 : o.n;
}
