// httpd: the Linux peer's web server, a single-process epoll HTTP/1.1 server.
//
// It serves what the kit's kernel serves on port 80 (kernel/httpd.c), so the
// two can be loaded alike: GET and HEAD of "/" give a small page of about the
// same size, other paths 404, other methods 405, a request it cannot read
// 400, 413, 431 or 505.  Every response carries Content-Length and
// "Connection: keep-alive" or "Connection: close" in that spelling (ab's -k
// looks for exactly these).  Connections stay open by default under HTTP/1.1
// and close on "Connection: close"; under HTTP/1.0 they close unless the
// client asked for keep-alive (RFC 9112 9.3).
//
// One thread, non-blocking sockets, level-triggered epoll (epoll(7)).  Level
// triggering is chosen because a connection is not always drained: when its
// output buffer is full, the server stops reading it and waits for EPOLLOUT
// only, leaving pipelined requests in the socket; edge triggering would then
// need its own list of connections with unread input, or it would lose them.
// With level triggering the kernel keeps that list: whatever is left is
// reported again.
//
// Invariants:
//  - a connection listens for EPOLLIN while its output buffer is empty and
//    for EPOLLOUT only while it is not (so input never outruns output, and
//    no event repeats without progress);
//  - requests are answered in order: bytes of the next request (pipelined,
//    RFC 9112 9.3.2) stay in the input buffer until the responses before
//    them are queued;
//  - a request split across reads waits in the input buffer for its end
//    (the empty line, RFC 9112 2.1), whatever the split;
//  - a connection marked to close takes no further request; it closes once
//    its output is written.
//
// Usage: httpd [-f] [-p port].  Without -f it forks once it listens and the
// parent exits 0, so a script that runs it knows the port is open.

#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define INMAX   8192            // a request's head must fit: else 431
#define OUTMAX  16384           // responses queued on one connection
#define RESPMAX 1024            // the largest response this server writes
#define MAXFD   4096            // connections are indexed by descriptor
#define NEVENTS 64

static const char page[] =
	"<!doctype html>\n"
	"<html><head><title>Linux peer</title></head><body>\n"
	"<h1>Linux peer</h1>\n"
	"<p>This page comes from a Linux guest: Debian's cloud kernel, busybox and a small "
	"epoll HTTP/1.1 server, running in QEMU on the same network as idlekit.</p>\n"
	"<p>It is here to be measured beside the kit's own kernel.</p>\n"
	"</body></html>\n";

struct conn {
	int fd;                 // -1: the slot is free
	int closing;            // answer what is queued, then close
	unsigned events;        // what epoll watches for now
	size_t inlen;
	size_t skip;            // body bytes of the last request still to come (and be dropped)
	size_t outoff, outlen;
	char in[INMAX];
	char out[OUTMAX];
};

static struct conn *conns[MAXFD];
static int ep;

static void
die(const char *what)
{
	perror(what);
	exit(1);
}

static const char *
reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 413: return "Content Too Large";
	case 431: return "Request Header Fields Too Large";
	case 505: return "HTTP Version Not Supported";
	}
	return "Error";
}

// Queue one response.  The caller made sure RESPMAX bytes are free.
static void
respond(struct conn *c, int status, int head_only)
{
	const char *body = status == 200 ? page : reason(status);
	size_t blen = status == 200 ? sizeof page - 1 : strlen(body);
	char *p = c->out + c->outlen;
	int n;

	n = snprintf(p, RESPMAX,
	    "HTTP/1.1 %d %s\r\n%sContent-Type: %s\r\nContent-Length: %zu\r\nConnection: %s\r\n\r\n",
	    status, reason(status), status == 405 ? "Allow: GET, HEAD\r\n" : "",
	    status == 200 ? "text/html" : "text/plain", blen,
	    c->closing ? "close" : "keep-alive");
	if (n < 0 || (size_t)n + blen > RESPMAX)
		abort();        // the page and the heads are fixed: cannot happen
	if (!head_only)
		memcpy(p + n, body, blen);
	c->outlen += n + (head_only ? 0 : blen);
}

// The value of header `name` in the head [h, end), or NULL; *len is its length.
// Field names are case-insensitive; surrounding blanks are not part of the
// value (RFC 9110 5.1, 5.5).
static const char *
header(const char *h, const char *end, const char *name, size_t *len)
{
	size_t nl = strlen(name);

	for (const char *line = h; line < end; ) {
		const char *eol = memmem(line, end - line, "\r\n", 2);
		if (eol == NULL)
			eol = end;
		if ((size_t)(eol - line) > nl && line[nl] == ':' && strncasecmp(line, name, nl) == 0) {
			const char *v = line + nl + 1, *e = eol;
			while (v < e && (*v == ' ' || *v == '\t'))
				v++;
			while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
				e--;
			*len = e - v;
			return v;
		}
		line = eol + 2;
	}
	return NULL;
}

// Whether the comma-separated list [v, v+len) holds `token`, any case.
static int
has_token(const char *v, size_t len, const char *token)
{
	size_t tl = strlen(token);

	while (len > 0) {
		const char *comma = memchr(v, ',', len);
		size_t n = comma ? (size_t)(comma - v) : len;
		const char *s = v, *e = v + n;
		while (s < e && (*s == ' ' || *s == '\t'))
			s++;
		while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		if ((size_t)(e - s) == tl && strncasecmp(s, token, tl) == 0)
			return 1;
		if (comma == NULL)
			break;
		len -= n + 1;
		v = comma + 1;
	}
	return 0;
}

// Answer the request whose head is [h, h+hlen) (the empty line excluded).
// Returns the bytes of body that follow the head and belong to it (they are
// skipped), or -1 if the connection must close without reading more.
static long
handle(struct conn *c, const char *h, size_t hlen)
{
	const char *end = h + hlen;
	const char *eol = memmem(h, hlen, "\r\n", 2);
	const char *sp1, *sp2, *v;
	size_t vlen, target_len;
	int minor, head_only, get;
	long body = 0;

	if (eol == NULL)
		eol = end;
	// request-line = method SP request-target SP HTTP-version (RFC 9112 3)
	sp1 = memchr(h, ' ', eol - h);
	sp2 = sp1 ? memchr(sp1 + 1, ' ', eol - sp1 - 1) : NULL;
	if (sp1 == NULL || sp2 == NULL || sp1 == h || sp2 == sp1 + 1) {
		c->closing = 1;
		respond(c, 400, 0);
		return -1;
	}
	if (eol - sp2 - 1 != 8 || memcmp(sp2 + 1, "HTTP/", 5) != 0 || sp2[6] < '0' || sp2[6] > '9'
	    || sp2[7] != '.' || sp2[8] < '0' || sp2[8] > '9') {
		c->closing = 1;
		respond(c, 400, 0);
		return -1;
	}
	if (sp2[6] != '1') {
		c->closing = 1;
		respond(c, 505, 0);
		return -1;
	}
	minor = sp2[8] - '0';
	get = sp1 - h == 3 && memcmp(h, "GET", 3) == 0;
	head_only = sp1 - h == 4 && memcmp(h, "HEAD", 4) == 0;
	target_len = sp2 - sp1 - 1;

	// Persistence (RFC 9112 9.3): 1.1 keeps the connection unless "close";
	// 1.0 closes it unless "keep-alive".
	v = header(eol + 2, end, "Connection", &vlen);
	if (minor >= 1)
		c->closing = v != NULL && has_token(v, vlen, "close");
	else
		c->closing = v == NULL || !has_token(v, vlen, "keep-alive");

	if (header(eol + 2, end, "Transfer-Encoding", &vlen) != NULL) {
		c->closing = 1;         // no chunked bodies here: the framing is unknown
		respond(c, 400, head_only);
		return -1;
	}
	v = header(eol + 2, end, "Content-Length", &vlen);
	if (v != NULL) {
		char num[24];
		char *stop;
		if (vlen == 0 || vlen >= sizeof num) {
			c->closing = 1;
			respond(c, vlen == 0 ? 400 : 413, head_only);
			return -1;
		}
		memcpy(num, v, vlen);
		num[vlen] = 0;
		body = strtol(num, &stop, 10);
		if (*stop != 0 || body < 0 || num[0] == '-' || num[0] == '+') {
			c->closing = 1;
			respond(c, 400, head_only);
			return -1;
		}
		if (body > INMAX) {
			c->closing = 1;
			respond(c, 413, head_only);
			return -1;
		}
	}
	if (!get && !head_only)
		respond(c, 405, 0);
	else if (target_len == 1 && sp1[1] == '/')
		respond(c, 200, head_only);
	else
		respond(c, 404, head_only);
	return c->closing ? -1 : body;
}

static void
watch(struct conn *c, unsigned events)
{
	struct epoll_event ev = { .events = events, .data.fd = c->fd };

	if (c->events == events)
		return;
	if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) < 0)
		die("epoll_ctl mod");
	c->events = events;
}

static void
drop(struct conn *c)
{
	close(c->fd);           // also removes it from the epoll set
	conns[c->fd] = NULL;
	free(c);
}

// Answer every whole request in the input buffer while responses fit;
// return how many were answered.  A request's body (Content-Length) is read
// and dropped.  A head larger than the buffer is 431.
static int
parse(struct conn *c)
{
	size_t at = 0;
	int answered = 0;

	while (!c->closing && OUTMAX - c->outlen >= RESPMAX) {
		char *end;
		long body;

		if (c->skip > 0) {
			size_t n = c->skip < c->inlen - at ? c->skip : c->inlen - at;
			at += n;
			c->skip -= n;
			if (c->skip > 0)
				break;  // more of the body to come
		}
		end = memmem(c->in + at, c->inlen - at, "\r\n\r\n", 4);
		if (end == NULL) {
			if (c->inlen - at == INMAX) {
				c->closing = 1;
				respond(c, 431, 0);
				answered++;
			}
			break;
		}
		body = handle(c, c->in + at, end - (c->in + at));
		answered++;
		if (body < 0)
			break;          // answered; the connection closes
		at = end + 4 - c->in;
		c->skip = body;
	}
	memmove(c->in, c->in + at, c->inlen - at);
	c->inlen -= at;
	return answered;
}

// Write what is queued.  Returns -1 if the connection is gone.
static int
flush(struct conn *c)
{
	while (c->outoff < c->outlen) {
		ssize_t n = send(c->fd, c->out + c->outoff, c->outlen - c->outoff, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			if (errno == EINTR)
				continue;
			return -1;
		}
		c->outoff += n;
	}
	c->outoff = c->outlen = 0;
	return 0;
}

// One readiness report for a connection: read once, then answer and write
// until the socket takes no more or no whole request is left in the buffer
// (epoll reports the socket, not this buffer: a request left in it would wait
// for the next segment, which a pipelining client does not send).
static void
serve(struct conn *c, unsigned revents)
{
	if ((revents & EPOLLIN) && c->inlen < INMAX) {
		ssize_t n = recv(c->fd, c->in + c->inlen, INMAX - c->inlen, 0);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
			drop(c);
			return;
		}
		if (n > 0)
			c->inlen += n;
	} else if ((revents & (EPOLLERR | EPOLLHUP)) && !(revents & EPOLLOUT)) {
		drop(c);
		return;
	}
	for (;;) {
		int answered = parse(c);
		if (flush(c) < 0) {
			drop(c);
			return;
		}
		if (c->outlen > 0)
			break;          // the socket is full: wait for EPOLLOUT
		if (c->closing) {
			drop(c);
			return;
		}
		if (answered == 0)
			break;          // no whole request left: wait for input
	}
	watch(c, c->outlen > 0 ? EPOLLOUT : EPOLLIN);
}

static void
accept_all(int lfd)
{
	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		int one = 1;
		struct epoll_event ev = { .events = EPOLLIN };
		struct conn *c;

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			return;         // EAGAIN: the queue is empty; EMFILE and such: try later
		}
		if (fd >= MAXFD || (c = malloc(sizeof *c)) == NULL) {
			close(fd);
			continue;
		}
		// Responses go out whole, at once: no Nagle wait behind a delayed ACK.
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		c->fd = fd;
		c->closing = 0;
		c->events = EPOLLIN;
		c->inlen = c->skip = c->outoff = c->outlen = 0;
		ev.data.fd = fd;
		if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
			close(fd);
			free(c);
			continue;
		}
		conns[fd] = c;
	}
}

static int
listen_on(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
	    .sin_addr.s_addr = htonl(INADDR_ANY) };
	int one = 1;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		die("socket");
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0)
		die("bind");
	if (listen(fd, SOMAXCONN) < 0)
		die("listen");
	return fd;
}

int
main(int argc, char **argv)
{
	int port = 80, foreground = 0, lfd, opt;
	struct epoll_event ev = { .events = EPOLLIN }, evs[NEVENTS];

	while ((opt = getopt(argc, argv, "fp:")) != -1) {
		if (opt == 'f')
			foreground = 1;
		else if (opt == 'p')
			port = atoi(optarg);
		else {
			fprintf(stderr, "usage: httpd [-f] [-p port]\n");
			return 2;
		}
	}
	signal(SIGPIPE, SIG_IGN);
	lfd = listen_on(port);
	if ((ep = epoll_create1(EPOLL_CLOEXEC)) < 0)
		die("epoll_create1");
	ev.data.fd = lfd;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev) < 0)
		die("epoll_ctl add");
	if (!foreground) {
		pid_t pid = fork();
		if (pid < 0)
			die("fork");
		if (pid > 0)
			return 0;       // listening: the child serves
		setsid();
	}
	for (;;) {
		int n = epoll_wait(ep, evs, NEVENTS, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			die("epoll_wait");
		}
		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd;
			if (fd == lfd)
				accept_all(lfd);
			else if (fd < MAXFD && conns[fd] != NULL)
				serve(conns[fd], evs[i].events);
		}
	}
}
