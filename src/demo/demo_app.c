/*
 * `vpcd demo-app`: the sample service the examples run as their tasks. A
 * small HTTP/1.1 server on the project's loop: keep-alive and pipelining,
 * request bodies (Content-Length or chunked) read and ignored, an idle
 * timeout longer than the ALB's 60 s (as AWS advises for targets), test
 * paths (/echo, /sleep?ms=N, /burn?ms=N of CPU, the /ws WebSocket echo,
 * misbehaving /close, /garbage, /bighead, /session?name=N that sets a
 * cookie), and a clean exit 0 on SIGTERM so that task stops look like real
 * ones.
 */
#include "demo/demo.h"

#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/addr.h"
#include "core/log.h"
#include "core/loop.h"
#include "demo/ws.h"
#include "http/http1.h"

#define DEMO_IN_CAP (64 * 1024) /* one request head must fit */
#define DEMO_MAX_HEADERS 100
#define DEMO_OUT_HIGH (1024 * 1024) /* stop reading while this much is unsent */
#define DEMO_IDLE_MS 75000u
#define DEMO_LINGER_MS 2000u
#define DEMO_MAX_CONNS 20000

/* CONN_WS: after a /ws handshake the connection carries WebSocket frames */
enum conn_state { CONN_HEAD, CONN_BODY_LENGTH, CONN_BODY_CHUNKED, CONN_WS };

/* PORT and every port of PORTS (vpcd: all of the container's
 * PortMappings) are listened on, each with its own socket. */
#define DEMO_MAX_LISTENERS 16

struct demo_listener {
	struct demo_server *srv;
	struct loop_io io;
	int fd;
	int port;
};

struct demo_server {
	struct loop *loop;
	struct demo_listener ls[DEMO_MAX_LISTENERS];
	size_t nls;
	const char *service;
	char host[64];
	size_t nconns;
	/* DEMO_HEALTH_STATUS: the status of the health path (default 200), so
	 * that tests can make a task fail its load balancer checks; or
	 * DEMO_HEALTH_FILE: 200 while that file exists, 503 when it does not. */
	int health_status;
	const char *health_file;
};

struct demo_conn {
	struct demo_server *srv;
	int port; /* the listener's port: answers say which one was reached */
	struct loop_io io;
	struct loop_timer idle;
	int fd;
	enum conn_state state;
	uint64_t body_left;
	struct http_chunked chunk;
	bool close_after; /* close once the current request is answered */
	bool reading;
	bool draining; /* answered and half-closed: discarding input until EOF */
	bool ws;       /* a /ws handshake was answered: frames follow the head */
	bool sink;     /* a /sink body is being discarded: answer at its end */
	uint64_t sink_total;
	char *in;
	size_t nin;
	char *out;
	size_t nout, capout;
};

static void conn_close(struct demo_conn *c)
{
	struct demo_server *s = c->srv;
	loop_io_del(s->loop, &c->io);
	loop_timer_stop(s->loop, &c->idle);
	close(c->fd);
	free(c->in);
	free(c->out);
	c->in = c->out = NULL;
	s->nconns--;
	loop_defer_free(s->loop, c);
}

static int out_append(struct demo_conn *c, const char *p, size_t n)
{
	if (c->nout + n > c->capout) {
		size_t cap = c->capout ? c->capout : 4096;
		char *o;
		while (cap < c->nout + n)
			cap *= 2;
		o = realloc(c->out, cap);
		if (!o)
			return -ENOMEM;
		c->out = o;
		c->capout = cap;
	}
	memcpy(c->out + c->nout, p, n);
	c->nout += n;
	return 0;
}

/* A response with extra header lines (each ending in CRLF, "" for none). */
static int respond_hdr(struct demo_conn *c, bool head_only, int code, const char *reason,
                       const char *extra, const char *body, size_t blen)
{
	char h[512];
	int n =
	    snprintf(h, sizeof(h),
	             "HTTP/1.1 %d %s\r\nServer: vpcd-demo-app\r\n"
	             "Content-Type: text/plain; charset=utf-8\r\nContent-Length: %zu\r\n%s%s\r\n",
	             code, reason, blen, extra, c->close_after ? "Connection: close\r\n" : "");
	if (n < 0 || (size_t)n >= sizeof(h))
		return -ENOMEM;
	if (out_append(c, h, (size_t)n) < 0)
		return -ENOMEM;
	if (!head_only && blen && out_append(c, body, blen) < 0)
		return -ENOMEM;
	return 0;
}

static int respond(struct demo_conn *c, bool head_only, int code, const char *reason,
                   const char *body, size_t blen)
{
	return respond_hdr(c, head_only, code, reason, "", body, blen);
}

/* /echo: the request head as received (method, target, version, headers),
 * so tests can see what a proxy added (X-Forwarded-For, ...); then, for a
 * Content-Length body that fits the input buffer, an empty line and the
 * body (what reached the target). */
static int respond_echo(struct demo_conn *c, const struct http_request *r, bool head_only,
                        struct http_slice body)
{
	size_t cap = 64 + r->method.n + r->target.n + body.n, n = 0;
	char *b;
	int rc;
	for (size_t i = 0; i < r->nheaders; i++)
		cap += r->headers[i].name.n + r->headers[i].value.n + 4;
	b = malloc(cap);
	if (!b)
		return -ENOMEM;
	n += (size_t)snprintf(b + n, cap - n, "%.*s %.*s HTTP/1.%d\n", (int)r->method.n,
	                      r->method.p, (int)r->target.n, r->target.p, r->minor);
	for (size_t i = 0; i < r->nheaders; i++)
		n += (size_t)snprintf(b + n, cap - n, "%.*s: %.*s\n", (int)r->headers[i].name.n,
		                      r->headers[i].name.p, (int)r->headers[i].value.n,
		                      r->headers[i].value.p);
	if (body.n) {
		b[n++] = '\n';
		memcpy(b + n, body.p, body.n);
		n += body.n;
	}
	rc = respond(c, head_only, 200, "OK", b, n);
	free(b);
	return rc;
}

static long ts_ms(const struct timespec *ts)
{
	return (long)ts->tv_sec * 1000 + ts->tv_nsec / 1000000;
}

/* Spins until this thread has used ms of CPU time (CPU, not wall clock, so
 * a busy machine does not shorten it), or 20 x ms of wall clock passed.
 * Returns the CPU ms used. */
static long burn_cpu_ms(long ms)
{
	struct timespec c0, c, w0, w;
	volatile unsigned long spin = 0;
	if (ms <= 0 || clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c0) < 0 ||
	    clock_gettime(CLOCK_MONOTONIC, &w0) < 0)
		return 0;
	do {
		for (int i = 0; i < 100000; i++)
			spin += (unsigned long)i;
		clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c);
		clock_gettime(CLOCK_MONOTONIC, &w);
	} while (ts_ms(&c) - ts_ms(&c0) < ms && ts_ms(&w) - ts_ms(&w0) < 20 * ms);
	(void)spin;
	return ts_ms(&c) - ts_ms(&c0);
}

/* /ws: the RFC 6455 opening handshake. A valid one gets 101 with
 * Sec-WebSocket-Accept and the connection turns into an echo of frames
 * (conn_ws); a wrong version gets 426 naming 13, anything else 400. */
static int respond_ws(struct demo_conn *c, const struct http_request *r, bool head_only)
{
	const struct http_header *up = http_header_find(r->headers, r->nheaders, "upgrade");
	const struct http_header *co = http_header_find(r->headers, r->nheaders, "connection");
	const struct http_header *key =
	    http_header_find(r->headers, r->nheaders, "sec-websocket-key");
	const struct http_header *ver =
	    http_header_find(r->headers, r->nheaders, "sec-websocket-version");
	char accept[WS_ACCEPT_LEN + 1], h[256];
	int n;

	if (!http_slice_ieq(r->method, "GET") || r->minor != 1 || !up ||
	    !http_list_has(up->value, "websocket") || !co || !http_list_has(co->value, "upgrade") ||
	    !key || key->value.n == 0) {
		c->close_after = true;
		return respond(c, head_only, 400, "Bad Request", "Bad WebSocket handshake\n", 24);
	}
	if (!ver || ver->value.n != 2 || memcmp(ver->value.p, "13", 2) != 0) {
		n = snprintf(h, sizeof(h),
		             "HTTP/1.1 426 Upgrade Required\r\nServer: vpcd-demo-app\r\n"
		             "Sec-WebSocket-Version: 13\r\nContent-Length: 0\r\n\r\n");
		return out_append(c, h, (size_t)n);
	}
	ws_accept_key(key->value.p, key->value.n, accept);
	n = snprintf(h, sizeof(h),
	             "HTTP/1.1 101 Switching Protocols\r\nServer: vpcd-demo-app\r\n"
	             "Upgrade: websocket\r\nConnection: Upgrade\r\n"
	             "Sec-WebSocket-Accept: %s\r\n\r\n",
	             accept);
	c->ws = true;
	return out_append(c, h, (size_t)n);
}

/* Queues one server frame (unmasked). */
static int ws_send(struct demo_conn *c, bool fin, enum ws_opcode op, const uint8_t *p, size_t n)
{
	uint8_t h[10];
	size_t hn = ws_frame_header(h, fin, op, n);
	if (out_append(c, (const char *)h, hn) < 0)
		return -ENOMEM;
	return n ? out_append(c, (const char *)p, n) : 0;
}

/* Closes the WebSocket with status code (RFC 6455 7.4.1) after what is
 * queued; the TCP connection closes once the close frame is out. */
static int ws_close(struct demo_conn *c, unsigned code)
{
	uint8_t b[2] = {(uint8_t)(code >> 8), (uint8_t)code};
	c->close_after = true;
	c->state = CONN_HEAD;
	return ws_send(c, true, WS_OP_CLOSE, b, code ? 2 : 0);
}

/* One frame from the client, if complete at buf: data frames are echoed
 * as they came (opcode, FIN), pings answered with pongs, a close answered
 * with a close. Returns bytes consumed, 0 when more are needed, -1 on
 * memory failure. */
static long conn_ws(struct demo_conn *c, uint8_t *buf, size_t len)
{
	struct ws_frame f;
	long hn = ws_frame_parse(buf, len, &f);
	size_t total;
	uint8_t *p;

	if (hn == WS_INCOMPLETE)
		return 0;
	if (hn < 0 || !f.masked) /* RFC 6455 5.1: client frames are masked */
		return ws_close(c, 1002) < 0 ? -1 : (long)len;
	if (f.length > DEMO_IN_CAP - (uint64_t)hn)
		return ws_close(c, 1009) < 0 ? -1 : (long)len; /* message too big */
	total = (size_t)hn + (size_t)f.length;
	if (len < total)
		return 0;
	p = buf + hn;
	ws_unmask(p, (size_t)f.length, f.mask, 0);
	switch (f.opcode) {
	case WS_OP_CONT:
	case WS_OP_TEXT:
	case WS_OP_BINARY:
		if (ws_send(c, f.fin, f.opcode, p, (size_t)f.length) < 0)
			return -1;
		break;
	case WS_OP_PING:
		if (ws_send(c, true, WS_OP_PONG, p, (size_t)f.length) < 0)
			return -1;
		break;
	case WS_OP_PONG:
		break;
	case WS_OP_CLOSE:
		if (ws_close(c, f.length >= 2 ? (unsigned)p[0] << 8 | p[1] : 0) < 0)
			return -1;
		break;
	}
	return (long)total;
}

static int handle_request(struct demo_conn *c, const struct http_request *r, bool keep_alive,
                          struct http_slice req_body)
{
	struct demo_server *s = c->srv;
	size_t plen = r->target.n;
	bool head_only = r->method.n == 4 && memcmp(r->method.p, "HEAD", 4) == 0;
	const char *q = memchr(r->target.p, '?', r->target.n);
	char body[512];
	int n;

	if (q)
		plen = (size_t)(q - r->target.p);
	if (!keep_alive)
		c->close_after = true;
	if (plen == 1 && r->target.p[0] == '/') {
		n = snprintf(body, sizeof(body), "hello from %s task on %s:%d\n", s->service,
		             s->host, c->port);
		return respond(c, head_only, 200, "OK", body, (size_t)n);
	}
	if (plen == 26 && memcmp(r->target.p, "/application-status/health", 26) == 0) {
		if (s->health_file && access(s->health_file, F_OK) < 0)
			return respond(c, head_only, 503, "Service Unavailable", "DOWN", 4);
		if (s->health_status != 200)
			return respond(c, head_only, s->health_status, "Unhealthy", "DOWN", 4);
		return respond(c, head_only, 200, "OK", "OK", 2);
	}
	if (plen == 5 && memcmp(r->target.p, "/echo", 5) == 0)
		return respond_echo(c, r, head_only, req_body);
	if (plen == 5 && memcmp(r->target.p, "/sink", 5) == 0) /* no body */
		return respond(c, head_only, 200, "OK", "sank 0 bytes\n", 13);
	if (plen == 6 && memcmp(r->target.p, "/bytes", 6) == 0) {
		/* /bytes?n=N (at most 256 MiB): a body of N 'x' bytes, for
		 * tests of large responses through the load balancer */
		long long want = 0;
		char *big;
		int rc;
		if (q && (size_t)(r->target.p + r->target.n - q) > 3 && memcmp(q, "?n=", 3) == 0)
			want = strtoll(q + 3, NULL, 10);
		if (want < 0 || want > 256ll * 1024 * 1024)
			return respond(c, head_only, 400, "Bad Request", "n: 0..268435456\n", 17);
		big = malloc(want ? (size_t)want : 1);
		if (!big)
			return -ENOMEM;
		memset(big, 'x', (size_t)want);
		rc = respond(c, head_only, 200, "OK", big, (size_t)want);
		free(big);
		return rc;
	}
	if (plen == 3 && memcmp(r->target.p, "/ws", 3) == 0)
		return respond_ws(c, r, head_only);
	/* misbehaving targets, for the load balancer's 502 */
	if (plen == 6 && memcmp(r->target.p, "/close", 6) == 0) {
		c->close_after = true; /* no answer: FIN with the request outstanding */
		return 0;
	}
	if (plen == 8 && memcmp(r->target.p, "/garbage", 8) == 0) {
		c->close_after = true;
		return out_append(c, "this is not HTTP\r\n\r\n", 20);
	}
	if (plen == 8 && memcmp(r->target.p, "/bighead", 8) == 0) {
		/* a response head over the ALB's 32 KiB limit */
		static const char pre[] = "HTTP/1.1 200 OK\r\nX-Big: ";
		static const char post[] = "\r\nContent-Length: 0\r\n\r\n";
		size_t fill = 40000;
		int rc = out_append(c, pre, sizeof(pre) - 1);
		char *big = rc < 0 ? NULL : malloc(fill);
		if (!big)
			return -ENOMEM;
		memset(big, 'b', fill);
		rc = out_append(c, big, fill);
		free(big);
		if (rc == 0)
			rc = out_append(c, post, sizeof(post) - 1);
		return rc;
	}
	if (plen == 6 && memcmp(r->target.p, "/sleep", 6) == 0) {
		/* /sleep?ms=N (at most 10000): answers after N ms. It blocks the
		 * whole task (one loop): a slow target for load-balancing tests. */
		long ms = 0;
		if (q && (size_t)(r->target.p + r->target.n - q) > 4 && memcmp(q, "?ms=", 4) == 0)
			ms = strtol(q + 4, NULL, 10);
		if (ms > 10000)
			ms = 10000;
		if (ms > 0) {
			struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
			while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
				;
		}
		n = snprintf(body, sizeof(body), "slept %ld ms on %s:%d\n", ms, s->host, c->port);
		return respond(c, head_only, 200, "OK", body, (size_t)n);
	}
	if (plen == 5 && memcmp(r->target.p, "/burn", 5) == 0) {
		/* /burn?ms=N (at most 10000): spins until the task has used N
		 * ms of CPU, then answers: a CPU-bound request for CPU
		 * target-tracking tests. */
		long ms = 0, used;
		if (q && (size_t)(r->target.p + r->target.n - q) > 4 && memcmp(q, "?ms=", 4) == 0)
			ms = strtol(q + 4, NULL, 10);
		if (ms > 10000)
			ms = 10000;
		used = burn_cpu_ms(ms);
		n = snprintf(body, sizeof(body), "burned %ld ms of CPU on %s:%d\n", used, s->host,
		             c->port);
		return respond(c, head_only, 200, "OK", body, (size_t)n);
	}
	if (plen == 8 && memcmp(r->target.p, "/session", 8) == 0) {
		/* /session?name=N: sets cookie N (a token of up to 64
		 * characters) to this task's address, as an application's
		 * session cookie (app_cookie stickiness tests) */
		char name[65], extra[160];
		size_t k = 0;
		const char *v = q ? q + 1 : NULL, *end = r->target.p + r->target.n;
		if (v && end - v > 5 && memcmp(v, "name=", 5) == 0)
			for (v += 5; v < end && *v != '&' && k < sizeof(name) - 1; v++) {
				if (!isalnum((unsigned char)*v) && *v != '-' && *v != '_')
					return respond(c, head_only, 400, "Bad Request",
					               "bad name\n", 9);
				name[k++] = *v;
			}
		name[k] = 0;
		if (k == 0)
			return respond(c, head_only, 400, "Bad Request", "name=N needed\n", 14);
		snprintf(extra, sizeof(extra), "Set-Cookie: %s=%s-%d; Path=/\r\n", name, s->host,
		         c->port);
		n = snprintf(body, sizeof(body), "session on %s:%d\n", s->host, c->port);
		return respond_hdr(c, head_only, 200, "OK", extra, body, (size_t)n);
	}
	return respond(c, head_only, 404, "Not Found", "Not Found\n", 10);
}

static void conn_update_events(struct demo_conn *c)
{
	uint32_t ev = 0;
	c->reading = c->nout < DEMO_OUT_HIGH && !(c->close_after && c->state == CONN_HEAD);
	if (c->reading)
		ev |= EPOLLIN;
	if (c->nout)
		ev |= EPOLLOUT;
	loop_io_mod(c->srv->loop, &c->io, ev);
}

/* Writes what it can. Returns -1 when the connection is to be closed. */
static int conn_flush(struct demo_conn *c)
{
	size_t off = 0;
	while (off < c->nout) {
		ssize_t n = send(c->fd, c->out + off, c->nout - off, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			return -1;
		}
		off += (size_t)n;
	}
	memmove(c->out, c->out + off, c->nout - off);
	c->nout -= off;
	if (c->nout == 0 && c->close_after && c->state == CONN_HEAD) {
		/* Lingering close: closing with unread input would send a
		 * reset that can destroy the response before the peer reads
		 * it, so half-close and discard input for a while. */
		if (shutdown(c->fd, SHUT_WR) < 0)
			return -1;
		c->draining = true;
		loop_io_mod(c->srv->loop, &c->io, EPOLLIN);
		loop_timer_start(c->srv->loop, &c->idle, DEMO_LINGER_MS);
	}
	return 0;
}

static void conn_drain(struct demo_conn *c)
{
	char buf[4096];
	for (;;) {
		ssize_t n = recv(c->fd, buf, sizeof(buf), 0);
		if (n > 0)
			continue;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		conn_close(c);
		return;
	}
}

/* Consumes what the input buffer holds: heads, then bodies. Returns -1 to
 * close (after a 400 is queued, or on memory failure). */
static int conn_process(struct demo_conn *c)
{
	size_t off = 0;
	int rc = 0;
	/* After a request that closes the connection, its body is still
	 * consumed (so the peer sees no reset) but no further head is read. */
	while (off < c->nin && !(c->close_after && c->state == CONN_HEAD) &&
	       c->nout < DEMO_OUT_HIGH) {
		if (c->state == CONN_HEAD) {
			struct http_header hs[DEMO_MAX_HEADERS];
			struct http_request r = {.headers = hs, .maxheaders = DEMO_MAX_HEADERS};
			struct http_framing f;
			long n = http_parse_request(c->in + off, c->nin - off, &r);
			if (n == HTTP_INCOMPLETE) {
				if (c->nin - off >= DEMO_IN_CAP) {
					c->close_after = true;
					rc = respond(c, false, 431,
					             "Request Header Fields Too Large", "", 0);
				}
				break;
			}
			if (n == HTTP_HEAD_TOO_LARGE || n == HTTP_URI_TOO_LONG) {
				c->close_after = true;
				rc = respond(c, false, 431, "Request Header Fields Too Large", "",
				             0);
				break;
			}
			if (n < 0 || http_request_framing(&r, &f) < 0) {
				c->close_after = true;
				rc = respond(c, false, 400, "Bad Request", "Bad Request\n", 12);
				break;
			}
			struct http_slice body = {0};
			if (f.kind == HTTP_BODY_LENGTH && f.length > 0 && r.target.n == 5 &&
			    memcmp(r.target.p, "/sink", 5) == 0) {
				/* /sink: the body is read and dropped as it comes
				 * (any size, constant memory); the answer, its
				 * length, follows its last byte */
				if (!f.keep_alive)
					c->close_after = true;
				c->sink = true;
				c->sink_total = f.length;
				c->state = CONN_BODY_LENGTH;
				c->body_left = f.length;
				off += (size_t)n;
				continue;
			}
			if (f.kind == HTTP_BODY_LENGTH && f.length > 0 &&
			    f.length <= DEMO_IN_CAP - (uint64_t)n && r.target.n >= 5 &&
			    memcmp(r.target.p, "/echo", 5) == 0 &&
			    (r.target.n == 5 || r.target.p[5] == '?')) {
				/* /echo answers with the body: wait for all of it */
				if (c->nin - off - (size_t)n < f.length)
					break;
				body = (struct http_slice){c->in + off + n, (size_t)f.length};
			}
			if (handle_request(c, &r, f.keep_alive, body) < 0) {
				rc = -1;
				break;
			}
			off += (size_t)n;
			if (c->ws) {
				c->state = CONN_WS;
			} else if (f.kind == HTTP_BODY_CHUNKED) {
				c->state = CONN_BODY_CHUNKED;
				memset(&c->chunk, 0, sizeof(c->chunk));
			} else if (f.kind == HTTP_BODY_LENGTH && f.length > 0) {
				c->state = CONN_BODY_LENGTH;
				c->body_left = f.length;
			}
		} else if (c->state == CONN_WS) {
			long n = conn_ws(c, (uint8_t *)c->in + off, c->nin - off);
			if (n < 0) {
				rc = -1;
				break;
			}
			if (n == 0)
				break;
			off += (size_t)n;
		} else if (c->state == CONN_BODY_LENGTH) {
			size_t n = c->nin - off;
			if (n > c->body_left)
				n = (size_t)c->body_left;
			c->body_left -= n;
			off += n;
			if (c->body_left == 0) {
				c->state = CONN_HEAD;
				if (c->sink) {
					char msg[64];
					int k = snprintf(msg, sizeof(msg), "sank %llu bytes\n",
					                 (unsigned long long)c->sink_total);
					c->sink = false;
					if (respond(c, false, 200, "OK", msg, (size_t)k) < 0) {
						rc = -1;
						break;
					}
				}
			}
		} else {
			long n = http_chunked_parse(&c->chunk, c->in + off, c->nin - off, NULL);
			if (n < 0) {
				c->close_after = true;
				c->state = CONN_HEAD;
				break;
			}
			off += (size_t)n;
			if (http_chunked_done(&c->chunk))
				c->state = CONN_HEAD;
			else if (n == 0)
				break;
		}
	}
	memmove(c->in, c->in + off, c->nin - off);
	c->nin -= off;
	return rc;
}

static void on_idle(struct loop *loop, struct loop_timer *t)
{
	(void)loop;
	conn_close(t->data);
}

static void on_conn(struct loop *loop, struct loop_io *io, uint32_t events)
{
	struct demo_conn *c = io->data;
	bool eof = false;

	if (c->draining) {
		conn_drain(c);
		return;
	}
	loop_timer_start(loop, &c->idle, DEMO_IDLE_MS);
	if (c->reading && (events & (EPOLLIN | EPOLLHUP | EPOLLERR))) {
		/* Read while there is room; a full buffer with no complete head
		 * is answered 431 by conn_process. */
		while (c->nin < DEMO_IN_CAP) {
			ssize_t n = recv(c->fd, c->in + c->nin, DEMO_IN_CAP - c->nin, 0);
			if (n > 0) {
				c->nin += (size_t)n;
				continue;
			}
			if (n == 0)
				eof = true;
			else if (errno == EINTR)
				continue;
			else if (errno != EAGAIN && errno != EWOULDBLOCK)
				eof = true;
			break;
		}
	}
	if (conn_process(c) < 0 || conn_flush(c) < 0) {
		conn_close(c);
		return;
	}
	if (c->draining)
		return;
	if (eof && c->nout == 0) {
		conn_close(c);
		return;
	}
	if (eof) {
		/* Peer half-closed: finish sending, then close. */
		c->close_after = true;
		c->state = CONN_HEAD;
	}
	conn_update_events(c);
}

static void on_accept(struct loop *loop, struct loop_io *io, uint32_t events)
{
	struct demo_listener *l = io->data;
	struct demo_server *s = l->srv;
	(void)events;
	for (int i = 0; i < 256; i++) {
		struct demo_conn *c;
		int fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			return; /* EAGAIN, or out of descriptors: try on the next event */
		}
		if (s->nconns >= DEMO_MAX_CONNS) {
			close(fd);
			continue;
		}
		c = calloc(1, sizeof(*c));
		if (c)
			c->in = malloc(DEMO_IN_CAP);
		if (!c || !c->in) {
			if (c)
				free(c);
			close(fd);
			continue;
		}
		c->srv = s;
		c->port = l->port;
		c->fd = fd;
		c->reading = true;
		loop_timer_init(&c->idle, on_idle, c);
		if (loop_io_add(loop, &c->io, fd, EPOLLIN, on_conn, c) < 0) {
			free(c->in);
			free(c);
			close(fd);
			continue;
		}
		s->nconns++;
		loop_timer_start(loop, &c->idle, DEMO_IDLE_MS);
	}
}

static void on_stop_signal(struct loop *loop, int signo, void *data)
{
	(void)signo;
	(void)data;
	loop_stop(loop);
}

/* Adds port text (1..65535) to s's listeners unless it is there already.
 * Returns 0, or -1 for a bad port or too many. */
static int add_port(struct demo_server *s, const char *text, size_t n)
{
	char buf[8], *end;
	long p;
	if (n == 0 || n >= sizeof(buf))
		return -1;
	memcpy(buf, text, n);
	buf[n] = '\0';
	errno = 0;
	p = strtol(buf, &end, 10);
	if (errno || *end || p < 1 || p > 65535)
		return -1;
	for (size_t i = 0; i < s->nls; i++)
		if (s->ls[i].port == (int)p)
			return 0;
	if (s->nls == DEMO_MAX_LISTENERS)
		return -1;
	s->ls[s->nls++] = (struct demo_listener){.srv = s, .fd = -1, .port = (int)p};
	return 0;
}

int demo_app_main(int argc, char **argv)
{
	struct demo_server s = {0};
	const char *host = getenv("HOST"), *port = getenv("PORT"), *svc = getenv("SERVICE_NAME");
	const char *ports = getenv("PORTS");
	uint32_t addr;
	char *end;
	int rc = 1;

	(void)argc;
	(void)argv;
	if (!host || !*host)
		host = "127.0.0.1";
	if (!port || !*port)
		port = "8080";
	if (addr4_parse(host, &addr) < 0 || add_port(&s, port, strlen(port)) < 0) {
		fprintf(stderr, "demo-app: bad HOST/PORT: %s:%s\n", host, port);
		return 1;
	}
	for (const char *p = ports; p && *p;) {
		const char *comma = strchr(p, ',');
		size_t n = comma ? (size_t)(comma - p) : strlen(p);
		if (add_port(&s, p, n) < 0) {
			fprintf(stderr, "demo-app: bad PORTS: %s\n", ports);
			return 1;
		}
		p += n + (comma != NULL);
	}
	snprintf(s.host, sizeof(s.host), "%s", host);
	s.service = svc && *svc ? svc : "demo-app";
	s.health_status = 200;
	if (getenv("DEMO_HEALTH_STATUS")) {
		long hs = strtol(getenv("DEMO_HEALTH_STATUS"), &end, 10);
		if (hs >= 100 && hs <= 599 && !*end)
			s.health_status = (int)hs;
	}
	s.health_file = getenv("DEMO_HEALTH_FILE");
	if (s.health_file && !*s.health_file)
		s.health_file = NULL;
	signal(SIGPIPE, SIG_IGN);
	s.loop = loop_new();
	if (!s.loop) {
		fprintf(stderr, "demo-app: out of memory\n");
		return 1;
	}
	if (loop_signal_add(s.loop, SIGTERM, on_stop_signal, NULL) < 0 ||
	    loop_signal_add(s.loop, SIGINT, on_stop_signal, NULL) < 0) {
		fprintf(stderr, "demo-app: event loop set-up failed\n");
		goto out;
	}
	for (size_t i = 0; i < s.nls; i++) {
		struct demo_listener *l = &s.ls[i];
		l->fd = sock_listen4(addr, (uint16_t)l->port, SOCK_STREAM);
		if (l->fd < 0) {
			fprintf(stderr, "demo-app: cannot listen on %s:%d: %s\n", host, l->port,
			        strerror(-l->fd));
			goto out;
		}
		if (loop_io_add(s.loop, &l->io, l->fd, EPOLLIN, on_accept, l) < 0) {
			fprintf(stderr, "demo-app: event loop set-up failed\n");
			goto out;
		}
		printf("demo-app: %s listening on %s:%d\n", s.service, host, l->port);
	}
	fflush(stdout);
	if (loop_run(s.loop) < 0) {
		fprintf(stderr, "demo-app: event loop failed\n");
		goto out;
	}
	printf("demo-app: stopping\n");
	fflush(stdout);
	rc = 0;
out:
	/* Open connections die with the process; their memory with it. */
	for (size_t i = 0; i < s.nls; i++)
		if (s.ls[i].fd >= 0)
			close(s.ls[i].fd);
	loop_free(s.loop);
	return rc;
}
