// Unit tests of kernel/http.c: request heads (RFC 9112) and response heads.
//
// Every parse here reads a heap copy of exactly the bytes given, so a
// read past len is AddressSanitizer's to catch.

#include "check.h"
#include "http.h"

static int
parsen(const char *s, u32 n, struct http_request *r)
{
	u8 *p = exact(s, n);
	int v = http_parse(p, n, r);

	free(p);
	return v;
}

static int
parse(const char *s, struct http_request *r)
{
	return parsen(s, strlen(s), r);
}

// The verdict of s, and of each of its prefixes: 0 (more to come) or the
// same verdict, never another.
static int
verdict(const char *s)
{
	struct http_request r;
	u32 n = strlen(s);
	int v = parsen(s, n, &r);

	for (u32 k = 0; k < n; k++) {
		int w = parsen(s, k, &r);
		CHECKF(w == 0 || w == v, "\"%s\": its first %u bytes give %d, all give %d", s, k, w, v);
	}
	return v;
}

#define WRK "GET / HTTP/1.1\r\nHost: x\r\nUser-Agent: wrk\r\n\r\n"

TEST(http_parses_wrks_request)
{
	struct http_request r;

	CHECK_EQ(parse(WRK, &r), 200);
	CHECK_EQ(r.method, HTTP_GET);
	CHECK_EQ(r.minor, 1);
	CHECK(r.keepalive);
	CHECK_EQ(r.target, 4);
	CHECK_EQ(r.target_len, 1);
	CHECK_EQ(r.head_len, strlen(WRK));
	CHECK_EQ(r.body_len, 0);
}

static const char *const valid[] = {
	WRK,
	"GET /stats HTTP/1.0\r\n\r\n",
	"HEAD /stats?x=1&y=%20 HTTP/1.1\r\nhost: h\r\nAccept: */*\r\n\r\n",
	"GET / HTTP/1.1\nHost: bare-lf\n\n",
	"POST /form HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
	"\r\n\nGET / HTTP/1.1\r\nHost: x\r\n\r\n",
	"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: x\r\nX-Empty:\r\nX-Sp:   \t \r\nX-Obs: caf\xc3\xa9\r\n\r\n",
};

// Any split point of a valid request: the first part says "more", the
// whole says 200, with the same fields as in one piece.
TEST(http_every_split_point_gives_0_then_200)
{
	for (u32 i = 0; i < sizeof valid / sizeof valid[0]; i++) {
		struct http_request whole, r;
		u32 n = strlen(valid[i]);
		CHECKF(parse(valid[i], &whole) == 200, "request %u", i);
		for (u32 k = 0; k < whole.head_len; k++)
			CHECKF(parsen(valid[i], k, &r) == 0, "request %u split at %u", i, k);
		for (u32 k = whole.head_len; k <= n; k++) {
			CHECKF(parsen(valid[i], k, &r) == 200, "request %u with %u bytes", i, k);
			CHECKF(memcmp(&r, &whole, sizeof r) == 0, "request %u with %u bytes", i, k);
		}
	}
}

TEST(http_pipelined_requests_follow_each_other)
{
	const char *s =
	    "GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
	    "POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
	    "HEAD /c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
	static const struct { enum http_method m; char t; bool ka; } want[] = {
		{ HTTP_GET, 'a', true }, { HTTP_POST, 'b', true }, { HTTP_HEAD, 'c', false },
	};
	u32 at = 0, n = strlen(s);

	for (u32 i = 0; i < 3; i++) {
		struct http_request r;
		CHECKF(parsen(s + at, n - at, &r) == 200, "request %u", i);
		CHECK_EQ(r.method, want[i].m);
		CHECK_EQ(r.target_len, 2);
		CHECK_EQ(s[at + r.target + 1], want[i].t);
		CHECK_EQ(r.keepalive, want[i].ka);
		at += r.head_len + r.body_len;
	}
	CHECK_EQ(at, n);
}

TEST(http_methods_are_case_sensitive_tokens)
{
	static const struct { const char *m; enum http_method want; } m[] = {
		{ "GET", HTTP_GET }, { "HEAD", HTTP_HEAD }, { "POST", HTTP_POST },
		{ "PUT", HTTP_PUT }, { "DELETE", HTTP_DELETE }, { "get", HTTP_OTHER },
		{ "PATCH", HTTP_OTHER }, { "GETS", HTTP_OTHER }, { "M-SEARCH", HTTP_OTHER },
	};
	char buf[128];
	struct http_request r;

	for (u32 i = 0; i < sizeof m / sizeof m[0]; i++) {
		snprintf(buf, sizeof buf, "%s / HTTP/1.1\r\nHost: x\r\n\r\n", m[i].m);
		CHECKF(parse(buf, &r) == 200 && r.method == m[i].want, "%s", m[i].m);
	}
}

// RFC 9112 9.3: 1.1 persists unless "close"; 1.0 only with "keep-alive".
TEST(http_keepalive_defaults_for_1_0_and_1_1)
{
	static const struct { const char *s; bool ka; } k[] = {
		{ "GET / HTTP/1.1\r\nHost: x\r\n\r\n", true },
		{ "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", false },
		{ "GET / HTTP/1.1\r\nHost: x\r\nConnection: CLOSE\r\n\r\n", false },
		{ "GET / HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n", true },
		{ "GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, close\r\n\r\n", false },
		{ "GET / HTTP/1.1\r\nHost: x\r\nConnection: closed\r\n\r\n", true },
		{ "GET / HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n", false },
		{ "GET / HTTP/1.0\r\n\r\n", false },
		{ "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", true },
		{ "GET / HTTP/1.0\r\nconnection: ,, keep-alive ,\r\n\r\n", true },
		{ "GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n", false },
		{ "GET / HTTP/1.0\r\nConnection: keep-alivee\r\n\r\n", false },
		{ "GET / HTTP/1.0\r\nX-Connection: keep-alive\r\n\r\n", false },
	};
	struct http_request r;

	for (u32 i = 0; i < sizeof k / sizeof k[0]; i++)
		CHECKF(parse(k[i].s, &r) == 200 && r.keepalive == k[i].ka, "%s", k[i].s);
}

TEST(http_header_names_are_case_insensitive)
{
	struct http_request r;

	CHECK_EQ(parse("PUT / HTTP/1.1\r\nHOST: x\r\nCONTENT-LENGTH: 12\r\n\r\n", &r), 200);
	CHECK_EQ(r.body_len, 12);
	CHECK_EQ(parse("PUT / HTTP/1.1\r\nhOsT: x\r\ncontent-length:7\r\nCoNnEcTiOn:cLoSe\r\n\r\n", &r), 200);
	CHECK_EQ(r.body_len, 7);
	CHECK(!r.keepalive);
	CHECK_EQ(parse("GET / HTTP/1.1\r\nHost: x\r\nTRANSFER-ENCODING: chunked\r\n\r\n", &r), 400);
}

TEST(http_versions)
{
	struct http_request r;

	CHECK_EQ(parse("GET / HTTP/1.0\r\n\r\n", &r), 200);
	CHECK_EQ(r.minor, 0);
	CHECK_EQ(parse("GET / HTTP/1.1\r\nHost: x\r\n\r\n", &r), 200);
	CHECK_EQ(r.minor, 1);
	CHECK_EQ(parse("GET / HTTP/1.7\r\nHost: x\r\n\r\n", &r), 200);   // RFC 9110 2.5: as 1.1
	CHECK_EQ(r.minor, 1);
	CHECK_EQ(verdict("GET / HTTP/2.0\r\n\r\n"), 505);
	CHECK_EQ(verdict("GET / HTTP/0.9\r\n\r\n"), 505);
	CHECK_EQ(verdict("GET / HTTP/3\r\n\r\n"), 505);
	CHECK_EQ(verdict("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), 505);     // HTTP/2's preface
	CHECK_EQ(verdict("GET /\r\n"), 505);                            // HTTP/0.9's request
	CHECK_EQ(verdict("GET /index.html\n"), 505);
}

// Each malformed head, with its exact verdict, and its prefixes too.
TEST(http_malformed_heads_are_400)
{
	static const char *const bad[] = {
		" GET / HTTP/1.1\r\nHost: x\r\n\r\n",           // space before the method
		"GET  / HTTP/1.1\r\nHost: x\r\n\r\n",           // two spaces
		"GET / HTTP/1.1 \r\nHost: x\r\n\r\n",           // space after the version
		"GET\t/ HTTP/1.1\r\nHost: x\r\n\r\n",           // a tab for SP
		"G(T / HTTP/1.1\r\nHost: x\r\n\r\n",            // not a token
		"GET x HTTP/1.1\r\nHost: x\r\n\r\n",            // not origin-form
		"GET http://x/ HTTP/1.1\r\nHost: x\r\n\r\n",    // absolute-form
		"CONNECT x:80 HTTP/1.1\r\nHost: x\r\n\r\n",     // authority-form
		"GET * HTTP/1.1\r\nHost: x\r\n\r\n",            // '*' is OPTIONS's only
		"OPTIONS *x HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /a\x7f HTTP/1.1\r\nHost: x\r\n\r\n",       // DEL in the target
		"GET /\xc3\xa9 HTTP/1.1\r\nHost: x\r\n\r\n",    // non-ASCII in the target
		"GET / http/1.1\r\nHost: x\r\n\r\n",            // the version is case-sensitive
		"GET / HTTP/1.10\r\nHost: x\r\n\r\n",
		"GET / HTTP/1\r\nHost: x\r\n\r\n",
		"GET / HTTP/1.x\r\nHost: x\r\n\r\n",
		"GET / HTTP/x.1\r\nHost: x\r\n\r\n",
		"GET / HTTP/1.1\rHost: x\r\n\r\n",              // a bare CR
		"GET / HTTP/1.1\r\nHost: x\r\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\n\r\r\n",
		"\rGET / HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET / HTTP/1.1\r\nHost : x\r\n\r\n",           // space before the colon (5.1)
		"GET / HTTP/1.1\r\nHost\t: x\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", // obs-fold (5.2)
		"GET / HTTP/1.1\r\n\tHost: x\r\n\r\n",
		"GET / HTTP/1.1\r\n Host: x\r\n\r\n",           // space after the request-line (2.2)
		"GET / HTTP/1.1\r\n: x\r\nHost: x\r\n\r\n",     // no field name
		"GET / HTTP/1.1\r\nHost x\r\n\r\n",             // no colon
		"GET / HTTP/1.1\r\nHo(st: x\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\0y\r\n\r\n",         // NUL in a value (RFC 9110 5.5)
		"GET / HTTP/1.1\r\nHost: x\x01\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\x7f\r\n\r\n",
		"GET / HTTP/1.1\r\n\r\n",                       // 1.1 without Host (3.2)
		"GET / HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n", // two Hosts
		"GET / HTTP/1.0\r\nHost: x\r\nhost: x\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1, 2\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: \r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: +1\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 0x10\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1 2\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 3,\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
	};
	struct http_request r;

	for (u32 i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		u32 n = strlen(bad[i]);
		if (i == 29)
			n += strlen(bad[i] + n + 1) + 1;        // the NUL and what follows it
		CHECKF(parsen(bad[i], n, &r) == 400, "case %u: %s", i, bad[i]);
		CHECKF(!r.keepalive, "case %u", i);
		if (i != 29)
			CHECKF(verdict(bad[i]) == 400, "case %u", i);
	}
}

TEST(http_content_length_forms)
{
	struct http_request r;

	CHECK_EQ(parse("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", &r), 200);
	CHECK_EQ(r.body_len, 0);
	CHECK_EQ(parse("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 000000000000000000000042\r\n\r\n", &r), 200);
	CHECK_EQ(r.body_len, 42);
	CHECK_EQ(parse("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 42 , 42\r\n\r\n", &r), 200);
	CHECK_EQ(r.body_len, 42);
	CHECK_EQ(parse("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 42\r\ncontent-length:42\r\n\r\n", &r), 200);
	CHECK_EQ(r.body_len, 42);
	CHECK_EQ(parse("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 65536\r\n\r\n", &r), 200);
	CHECK_EQ(r.body_len, HTTP_BODY_MAX);
	CHECK_EQ(verdict("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 65537\r\n\r\n"), 413);
	// Digits without end: no overflow wraps them back under the limit.
	CHECK_EQ(verdict("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 18446744073709551617\r\n\r\n"), 413);
	CHECK_EQ(verdict("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 4294967296\r\n\r\n"), 413);
}

static char big[2 * HTTP_HEAD_MAX + 64];

// A request whose target has tlen bytes, and whose head, with a filler
// field, has hlen bytes (if hlen is larger than the head without it).
static const char *
sized(u32 tlen, u32 hlen)
{
	char *p = big;

	p += sprintf(p, "GET /");
	memset(p, 'a', tlen - 1);
	p += tlen - 1;
	p += sprintf(p, " HTTP/1.1\r\nHost: x\r\n");
	u32 n = p - big + 2;
	if (hlen > n + 5) {
		p += sprintf(p, "X: ");
		memset(p, 'b', hlen - n - 5);
		p += hlen - n - 5;
		p += sprintf(p, "\r\n");
	}
	sprintf(p, "\r\n");
	return big;
}

TEST(http_limits_414_431)
{
	struct http_request r;

	CHECK_EQ(parse(sized(HTTP_TARGET_MAX, 0), &r), 200);
	CHECK_EQ(r.target_len, HTTP_TARGET_MAX);
	CHECK_EQ(verdict(sized(HTTP_TARGET_MAX + 1, 0)), 414);
	CHECK_EQ(verdict(sized(HTTP_HEAD_MAX, 0)), 414);
	CHECK_EQ(parse(sized(1, HTTP_HEAD_MAX), &r), 200);
	CHECK_EQ(r.head_len, HTTP_HEAD_MAX);
	CHECK_EQ(strlen(big), HTTP_HEAD_MAX);
	CHECK_EQ(verdict(sized(1, HTTP_HEAD_MAX + 1)), 431);
	CHECK_EQ(verdict(sized(1, 2 * HTTP_HEAD_MAX)), 431);
	// A head with no end: more while under the limit, 431 from it on.
	memset(big, 'a', sizeof big);
	memcpy(big, "GET / HTTP/1.1\r\nX: ", 19);
	CHECK_EQ(parsen(big, HTTP_HEAD_MAX - 1, &r), 0);
	CHECK_EQ(parsen(big, HTTP_HEAD_MAX, &r), 431);
	CHECK_EQ(parsen(big, sizeof big, &r), 431);
	// An error past the first HTTP_HEAD_MAX bytes is not seen.
	sized(1, HTTP_HEAD_MAX + 100);
	big[HTTP_HEAD_MAX + 10] = '\0';
	CHECK_EQ(parsen(big, HTTP_HEAD_MAX + 50, &r), 431);
}

TEST(http_head_writes_exact_heads)
{
	static const struct {
		int status; const char *ctype; u32 len; bool ka; const char *want;
	} h[] = {
		{ 200, "text/html", 321, true, "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n"
		    "Content-Length: 321\r\nConnection: keep-alive\r\n\r\n" },
		{ 404, "text/plain", 0, false, "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\n"
		    "Content-Length: 0\r\nConnection: close\r\n\r\n" },
		{ 405, NULL, 4294967295u, true, "HTTP/1.1 405 Method Not Allowed\r\nAllow: GET, HEAD\r\n"
		    "Content-Length: 4294967295\r\nConnection: keep-alive\r\n\r\n" },
		{ 299, NULL, 7, false, "HTTP/1.1 299 \r\nContent-Length: 7\r\nConnection: close\r\n\r\n" },
	};

	for (u32 i = 0; i < sizeof h / sizeof h[0]; i++) {
		u32 n = strlen(h[i].want);
		// Every size: too small writes nothing past it and returns 0.
		for (u32 size = 0; size <= n; size++) {
			char *out = malloc(size);
			u32 got = http_head(out, size, h[i].status, h[i].ctype, h[i].len, h[i].ka);
			if (size < n)
				CHECKF(got == 0, "status %d in %u bytes", h[i].status, size);
			else
				CHECKF(got == n && memcmp(out, h[i].want, n) == 0, "status %d: %.*s",
				    h[i].status, (int)got, out);
			free(out);
		}
	}
	char out[256];
	CHECK_EQ(http_head(out, sizeof out, 99, NULL, 0, true), 0);
	CHECK_EQ(http_head(out, sizeof out, 600, NULL, 0, true), 0);
}

TEST(http_reasons)
{
	static const struct { int s; const char *r; } r[] = {
		{ 200, "OK" }, { 400, "Bad Request" }, { 404, "Not Found" },
		{ 405, "Method Not Allowed" }, { 413, "Content Too Large" }, { 414, "URI Too Long" },
		{ 431, "Request Header Fields Too Large" }, { 500, "Internal Server Error" },
		{ 501, "Not Implemented" }, { 505, "HTTP Version Not Supported" }, { 302, "" },
	};

	for (u32 i = 0; i < sizeof r / sizeof r[0]; i++)
		CHECKF(strcmp(http_reason(r[i].s), r[i].r) == 0, "%d", r[i].s);
}
