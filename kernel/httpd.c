// httpd.c: the web server on port 80, an application of tcp.c (struct
// tcp_app), on the network thread.
//
// Routes: GET and HEAD of "/" (a small page that says what this kernel
// is) and "/stats" (the stats block as JSON: every CPU's counters by the
// names in kit_stats.fields, and TCP's levels).  Any other path is 404;
// any other method 405 with "Allow: GET, HEAD" (RFC 9110 15.5.6); a
// request the parser refuses gets its status (400, 413, 414, 431, 505)
// and the connection closes, since where the next request would start
// is unknown (RFC 9112 9.3, 9.6).
//
// Each connection has a buffer of HTTP_HEAD_MAX bytes for a head that
// came in pieces; a segment that holds whole requests is parsed where it
// lies, with no copy.  Requests that follow each other in one segment
// (pipelining, RFC 9112 9.3.2) are answered in order.  A body
// (Content-Length, at most HTTP_BODY_MAX, else the parser says 413) is
// read past.  Connections persist unless the request says otherwise
// (RFC 9112 9.3: the default of 1.1, asked for in 1.0).
//
// Each response is built whole in one buffer and given to tcp_send() in
// one call, so that it leaves in one segment when it fits the MSS.  The
// page's responses are built once, at start: the hot path formats
// nothing.

#include "types.h"
#include "defs.h"
#include "cpu.h"
#include "http.h"
#include "net.h"
#include "stats.h"
#include "tcp.h"

#define HTTP_PORT 80

struct hconn {
	u32 have;               // bytes of a partial head in buf
	u32 skip;               // bytes of a body still to read past
	bool closing;           // the server closed: what else comes is ignored
};

static struct hconn conns[TCP_NCONN];
static u8 heads[TCP_NCONN][HTTP_HEAD_MAX];

static const char page[] =
	"<!doctype html>\n"
	"<html><head><title>idlekit</title></head><body>\n"
	"<h1>idlekit</h1>\n"
	"<p>This page comes from idlekit, a small x86-64 multicore unikernel for teaching: "
	"its own virtio-net driver, IPv4, TCP and HTTP/1.1 server, running in QEMU.</p>\n"
	"<p>Its per-CPU counters, as JSON: <a href=\"/stats\">/stats</a>.</p>\n"
	"</body></html>\n";

// The page's whole responses, built once: [keepalive], and the head's length.
static char pageresp[2][512];
static u32 pagelen[2], pagehead[2];

static char out[32768];         // a response being built

static void
count(int status)
{
	volatile struct cpustats *st = mystats();

	st->net_http_requests++;
	if (status < 300)
		st->net_http_2xx++;
	else if (status < 500)
		st->net_http_4xx++;
	else
		st->net_http_5xx++;
}

// Hand the response of n bytes at p to TCP; false if it took less, and
// then the connection is reset: a response cut short cannot be mended.
static bool
send(struct tcb *c, const void *p, u32 n)
{
	if (tcp_send(c, p, n) == n)
		return true;
	conns[tcp_index(c)].closing = true;
	tcp_abort(c);
	return false;
}

// Append len bytes at p to out[n..] as far as they fit; returns the new length.
static u32
put(u32 n, const char *p, u32 len)
{
	for (u32 i = 0; i < len && n < sizeof out - 1; i++)
		out[n++] = p[i];
	return n;
}

// Write the JSON of the stats block at out[n..]; returns the new length.
static u32
statsjson(u32 n)
{
	char names[sizeof kit_stats.fields], num[48];
	struct tcp_levels l;

	for (u32 i = 0; i < sizeof names; i++)
		names[i] = kit_stats.fields[i];
	names[sizeof names - 1] = 0;
	n = put(n, num, ksnprintf(num, sizeof num, "{\"ncpu\":%u,\"tsc_hz\":%lu,\"cpus\":[",
	    kit_stats.ncpu, kit_stats.tsc_hz));
	for (u32 cpu = 0; cpu < kit_stats.ncpu && cpu < NCPU_MAX; cpu++) {
		const volatile u64 *v = (const volatile u64 *)&kit_stats.cpu[cpu];
		const char *p = names;
		n = put(n, cpu ? ",{" : "{", cpu ? 2 : 1);
		for (u32 f = 0; *p && f < sizeof(struct cpustats) / 8; f++) {
			const char *q = p;
			while (*q && *q != ' ')
				q++;
			n = put(n, ",\"" + !f, 2 - !f);
			n = put(n, p, q - p);
			n = put(n, num, ksnprintf(num, sizeof num, "\":%lu", v[f]));
			p = *q ? q + 1 : q;
		}
		n = put(n, "}", 1);
	}
	tcp_levels(&l);
	n = put(n, num, ksnprintf(num, sizeof num, "],\"tcp\":{\"open\":%u,\"timewait\":%u,",
	    l.open, l.timewait));
	n = put(n, num, ksnprintf(num, sizeof num, "\"bufs\":%u}}\n", l.bufs));
	return n;
}

// Whether the target (up to a query) is path.
static bool
is(const u8 *t, u32 len, const char *path)
{
	u32 n = strlen(path);

	for (u32 i = 0; i < len; i++)
		if (t[i] == '?') {
			len = i;
			break;
		}
	return len == n && memcmp(t, path, n) == 0;
}

// An error response: a head and a one-line body naming the status.
static bool
error(struct tcb *c, int status, bool keepalive)
{
	char body[64];
	u32 blen = ksnprintf(body, sizeof body, "%d %s\n", status, http_reason(status));
	u32 n = http_head(out, sizeof out, status, "text/plain", blen, keepalive);

	memcpy(out + n, body, blen);
	count(status);
	return send(c, out, n + blen);
}

// Answer one request whose head is at h; false if the connection ends.
static bool
answer(struct tcb *c, int status, const struct http_request *r, const u8 *h)
{
	if (status != 200) {
		error(c, status, false);
		return false;
	}
	bool ka = r->keepalive;
	const u8 *t = h + r->target;
	bool ok;

	if (r->method != HTTP_GET && r->method != HTTP_HEAD) {
		ok = error(c, 405, ka);
	} else if (is(t, r->target_len, "/")) {
		count(200);
		ok = send(c, pageresp[ka], r->method == HTTP_HEAD ? pagehead[ka] : pagelen[ka]);
	} else if (is(t, r->target_len, "/stats")) {
		// The body first, after room for the head, which needs its length.
		char head[256];
		u32 blen = statsjson(sizeof head) - sizeof head;
		u32 hl = http_head(head, sizeof head, 200, "application/json", blen, ka);
		char *resp = out + sizeof head - hl;
		memcpy(resp, head, hl);
		count(200);
		ok = send(c, resp, r->method == HTTP_HEAD ? hl : hl + blen);
	} else {
		ok = error(c, 404, ka);
	}
	return ok && ka;
}

// Parse and answer the requests in v[0..len); returns the bytes taken
// (the rest is the start of a head still incomplete).
static u32
process(struct tcb *c, struct hconn *hc, const u8 *v, u32 len)
{
	u32 off = 0;
	struct http_request r;

	for (;;) {
		if (hc->skip > 0) {
			u32 n = len - off < hc->skip ? len - off : hc->skip;
			off += n;
			hc->skip -= n;
			if (hc->skip > 0)
				return off;
		}
		if (off == len)
			return off;
		int status = http_parse(v + off, len - off, &r);
		if (status == 0)
			return off;
		if (!answer(c, status, &r, v + off)) {
			if (!hc->closing) {
				hc->closing = true;
				tcp_close(c);
			}
			return len;
		}
		off += r.head_len;
		hc->skip = r.body_len;
	}
}

static void
hopen(struct tcb *c)
{
	struct hconn *hc = &conns[tcp_index(c)];

	hc->have = hc->skip = 0;
	hc->closing = false;
}

static void
hrecv(struct tcb *c, const u8 *data, u32 len)
{
	struct hconn *hc = &conns[tcp_index(c)];
	u8 *buf = heads[tcp_index(c)];

	while (len > 0 && !hc->closing) {
		if (hc->have == 0) {
			u32 used = process(c, hc, data, len);
			data += used;
			len -= used;
			if (len == 0 || hc->closing)
				break;
			u32 n = len < HTTP_HEAD_MAX ? len : HTTP_HEAD_MAX;
			memcpy(buf, data, n);
			hc->have = n;
			data += n;
			len -= n;
			continue;       // process() found the head incomplete already
		} else {
			u32 n = HTTP_HEAD_MAX - hc->have;
			if (n > len)
				n = len;
			memcpy(buf + hc->have, data, n);
			hc->have += n;
			data += n;
			len -= n;
		}
		u32 used = process(c, hc, buf, hc->have);
		if (hc->closing)
			break;
		if (used == 0 && hc->have == HTTP_HEAD_MAX)
			break;                  // cannot happen: a full buffer parses to a verdict
		memmove(buf, buf + used, hc->have - used);
		hc->have -= used;
	}
}

// The peer sent all it will: close our side too, after what is queued.
static void
heof(struct tcb *c)
{
	struct hconn *hc = &conns[tcp_index(c)];

	if (!hc->closing) {
		hc->closing = true;
		tcp_close(c);
	}
}

static void
hgone(struct tcb *c)
{
	struct hconn *hc = &conns[tcp_index(c)];

	hc->have = hc->skip = 0;
	hc->closing = true;
}

static const struct tcp_app httpd = {
	.open = hopen,
	.recv = hrecv,
	.eof = heof,
	.gone = hgone,
};

// Build the page's responses and listen on port 80.
void
httpd_init(void)
{
	for (int ka = 0; ka < 2; ka++) {
		u32 n = http_head(pageresp[ka], sizeof pageresp[ka], 200, "text/html", sizeof page - 1, ka);
		if (n == 0 || n + sizeof page - 1 > sizeof pageresp[ka])
			panic("httpd: the page does not fit its buffer");
		memcpy(pageresp[ka] + n, page, sizeof page - 1);
		pagehead[ka] = n;
		pagelen[ka] = n + sizeof page - 1;
	}
	tcp_listen(HTTP_PORT, &httpd);
}
