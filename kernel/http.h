// HTTP/1.1 messages (RFC 9112), the server's subset: kernel/http.c parses
// a request's head and writes a response's; kernel/httpd.c is the server.
// http.c is pure (no device, no state) and builds for the host too.

#ifndef KIT_HTTP_H
#define KIT_HTTP_H

#include "types.h"

#define HTTP_HEAD_MAX   4096    // longest head, request line to blank line: longer is 431
#define HTTP_TARGET_MAX 1024    // longest request-target: longer is 414
#define HTTP_BODY_MAX   65536   // longest body the server reads past: longer is 413

enum http_method { HTTP_GET, HTTP_HEAD, HTTP_POST, HTTP_PUT, HTTP_DELETE, HTTP_OTHER };

struct http_request {
	enum http_method method;
	u8 minor;               // HTTP/1.<minor>: 0 or 1
	bool keepalive;         // 1.1 unless "Connection: close"; 1.0 only with "Connection: keep-alive"
	u32 target;             // the request-target: its offset in the head
	u32 target_len;         // and its bytes
	u32 head_len;           // bytes of the head, its blank line included
	u32 body_len;           // bytes of body that follow (Content-Length; 0 if none)
};

// Parse the request head at the start of buf.  Returns 0 while the head
// is incomplete and shorter than HTTP_HEAD_MAX (read more and call again),
// 200 when *r describes a whole valid head, or the status of the error
// response: 400 (malformed; also a bad Content-Length or two that
// differ, an HTTP/1.1 request without exactly one Host, or a
// Transfer-Encoding, which this server does not take), 413, 414, 431 or
// 505.  After an error the server answers and closes, since it cannot
// know where the next request starts.  kernel/http.c says which parts of
// RFC 9112 it takes and how it decides where the RFC leaves a choice.
int http_parse(const u8 *buf, u32 len, struct http_request *r);

// Write a response head at out (size bytes): status line, Content-Type
// (if ctype is not NULL), Content-Length always, and "Connection:
// keep-alive" or "Connection: close", spelt so, and for a 405 "Allow:
// GET, HEAD" (RFC 9110 15.5.6); returns its length, or 0 if it does not
// fit.  It writes no NUL.
u32 http_head(char *out, u32 size, int status, const char *ctype, u32 body_len, bool keepalive);
const char *http_reason(int status);

#endif
