// Fuzz target: http_parse() and http_head() (kernel/http.c).
//
// Invariants of a parse: a verdict http.h names; on 200 the head, its
// target and its body limits hold as http.h says; a prefix of the input
// parses to 0 or to the same verdict (the server parses again from the
// start as bytes arrive); and the head alone parses to the same request.
// Of a response head: 0 or a head that ends in its blank line.

#include "fuzz.h"
#include "http.h"

static void
check_request(const u8 *data, u32 size)
{
	struct http_request r, s;
	int v = http_parse(data, size, &r);

	ENSURE(v == 0 || v == 200 || v == 400 || v == 413 || v == 414 || v == 431 || v == 505);
	if (v == 0)
		ENSURE(size < HTTP_HEAD_MAX);
	if (v != 200) {
		ENSURE(!r.keepalive);
	} else {
		ENSURE(r.head_len <= size && r.head_len <= HTTP_HEAD_MAX && r.head_len >= 14);
		ENSURE(data[r.head_len - 1] == '\n');
		ENSURE(r.target_len >= 1 && r.target_len <= HTTP_TARGET_MAX);
		ENSURE(r.target + r.target_len < r.head_len);
		ENSURE(data[r.target] == '/' || (data[r.target] == '*' && r.target_len == 1));
		for (u32 i = r.target; i < r.target + r.target_len; i++)
			ENSURE(data[i] > ' ' && data[i] < 0x7f);
		ENSURE(data[r.target - 1] == ' ' && data[r.target + r.target_len] == ' ');
		ENSURE(r.minor <= 1 && r.body_len <= HTTP_BODY_MAX);
		ENSURE(r.method <= HTTP_OTHER);

		// The head alone is the same request; one byte less is not yet one.
		ENSURE(http_parse(data, r.head_len, &s) == 200 && memcmp(&r, &s, sizeof r) == 0);
		ENSURE(http_parse(data, r.head_len - 1, &s) == 0);
	}
	// Prefixes: 0 or the same verdict.
	u32 cut[] = { size / 2, size - 1, size / 3 };
	for (u32 i = 0; i < 3 && size > 0; i++) {
		int w = http_parse(data, cut[i], &s);
		ENSURE(w == 0 || w == v);
	}
}

static void
check_head(const u8 *data, u32 size)
{
	if (size < 8)
		return;
	int status = (data[0] | data[1] << 8) % 700;
	u32 len = (u32)data[2] << 24 | (u32)data[3] << 16 | (u32)data[4] << 8 | data[5];
	u32 room = data[6] % 200;
	bool ka = data[7] & 1;
	char *out = malloc(room);

	u32 n = http_head(out, room, status, (data[7] & 2) ? "text/html" : NULL, len, ka);
	ENSURE(n <= room);
	if (status < 100 || status > 599)
		ENSURE(n == 0);
	if (n != 0) {
		ENSURE(n >= 4 && memcmp(out, "HTTP/1.1 ", 9) == 0 && memcmp(out + n - 4, "\r\n\r\n", 4) == 0);
		const char *c = ka ? "\r\nConnection: keep-alive\r\n\r\n" : "\r\nConnection: close\r\n\r\n";
		ENSURE(n > strlen(c) && memcmp(out + n - strlen(c), c, strlen(c)) == 0);
	}
	free(out);
}

int
LLVMFuzzerTestOneInput(const u8 *data, size_t size)
{
	u32 len = size > 2 * HTTP_HEAD_MAX ? 2 * HTTP_HEAD_MAX : size;

	check_request(data, len);
	check_head(data, len);
	return 0;
}
