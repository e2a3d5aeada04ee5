/* The ALB end to end, in process: a hand-built model (one LB node on
 * 127.1.0.4, a listener on a high port, rules by host), two forked backends
 * that echo what they received, and a blocking client in the main thread
 * while the loop runs in a second thread. Bounded by socket timeouts and a
 * loop deadline. */
#include "t.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "alb/alb.h"
#include "core/addr.h"
#include "core/loop.h"
#include "http/http1.h"

#define LB_ADDR 0x7f010004u	/* 127.1.0.4 */
#define BACK1 0x7f010105u	/* 127.1.1.5 */
#define BACK2 0x7f010106u	/* 127.1.1.6 */
#define REFUSER 0x7f010107u	/* 127.1.1.7: nothing listens */
#define BACK3 0x7f010108u	/* 127.1.1.8: fails its health checks */
#define CLIENT_ADDR 0x7f000009u /* 127.0.0.9 */

static int base_port;
/* The backends write a byte here when a /hold request arrives, so a test
 * waits for that instead of guessing how long the way there takes. */
static int arrived_pipe[2] = {-1, -1};

/* --- backend: echoes what it got, one process per connection --- */

static const char *hval(const struct http_request *r, const char *name, char *out, size_t n)
{
	const struct http_header *h = http_header_find(r->headers, r->nheaders, name);
	if (!h)
		return "-";
	snprintf(out, n, "%.*s", (int)h->value.n, h->value.p);
	return out;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static void backend_conn(int fd, int id)
{
	static char buf[80000];
	size_t len = 0;
	int nreq = 0;

	for (;;) {
		struct http_header hs[64];
		struct http_request r = {.headers = hs, .maxheaders = 64};
		struct http_framing f;
		char resp[2048], b1[256], b2[64], b3[16], b4[128], b5[128];
		char first[33] = {0};
		size_t nfirst = 0, blen = 0;
		uint32_t sum = 2166136261u;
		long n;
		int bn, hn;

		while ((n = http_parse_request(buf, len, &r)) == HTTP_INCOMPLETE) {
			ssize_t k = read(fd, buf + len, sizeof(buf) - len);
			if (k <= 0)
				return;
			len += (size_t)k;
		}
		if (n < 0 || http_request_framing(&r, &f) < 0)
			return;
		nreq++;
		/* the head slices stay valid: the body goes to a second region */
		{
			size_t off = (size_t)n;
			struct http_chunked ch = {0};
			uint64_t left = f.kind == HTTP_BODY_LENGTH ? f.length : 0;
			bool done = f.kind == HTTP_BODY_NONE || (f.kind == HTTP_BODY_LENGTH && !left);
			static char rest[80000];
			size_t rlen = len - off;
			memcpy(rest, buf + off, rlen);
			/* copy the head values we echo before reusing buf */
			snprintf(resp, sizeof(resp), "%.*s", (int)r.target.n, r.target.p);
			hval(&r, "x-forwarded-for", b1, sizeof(b1));
			hval(&r, "x-forwarded-proto", b2, sizeof(b2));
			hval(&r, "x-forwarded-port", b3, sizeof(b3));
			hval(&r, "x-amzn-trace-id", b4, sizeof(b4));
			hval(&r, "host", b5, sizeof(b5));
			if (!http_header_find(r.headers, r.nheaders, "x-forwarded-for"))
				strcpy(b1, "-");
			if (!http_header_find(r.headers, r.nheaders, "x-amzn-trace-id"))
				strcpy(b4, "-");
			if (!http_header_find(r.headers, r.nheaders, "host"))
				strcpy(b5, "-");
			size_t roff = 0;
			while (!done) {
				if (roff == rlen) {
					ssize_t k = read(fd, rest, sizeof(rest));
					if (k <= 0)
						return;
					rlen = (size_t)k;
					roff = 0;
				}
				struct http_slice d = {rest + roff, 0};
				if (f.kind == HTTP_BODY_CHUNKED) {
					long k = http_chunked_parse(&ch, rest + roff, rlen - roff, &d);
					if (k < 0)
						return;
					roff += (size_t)k;
					done = http_chunked_done(&ch);
				} else {
					size_t take = rlen - roff;
					if (take > left)
						take = (size_t)left;
					d.n = take;
					roff += take;
					left -= take;
					done = left == 0;
				}
				for (size_t i = 0; i < d.n; i++) {
					sum = (sum ^ (uint8_t)d.p[i]) * 16777619u;
					if (nfirst < 32)
						first[nfirst++] = d.p[i];
				}
				blen += d.n;
			}
			memcpy(buf, rest + roff, rlen - roff);
			len = rlen - roff;
		}
		if (strcmp(resp, "/health") == 0 && id == 3) {
			const char *no = "HTTP/1.1 500 Internal Server Error\r\n"
					 "Content-Length: 0\r\n\r\n";
			if (write_all(fd, no, strlen(no)) < 0)
				return;
			continue;
		}
		if (strcmp(resp, "/ws") == 0 && http_header_find(r.headers, r.nheaders, "upgrade")) {
			const char *sw = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
					 "Connection: Upgrade\r\n\r\n";
			if (write_all(fd, sw, strlen(sw)) < 0)
				return;
			if (len > 0 && write_all(fd, buf, len) < 0)
				return;
			for (;;) {
				ssize_t k = read(fd, buf, sizeof(buf));
				if (k <= 0 || write_all(fd, buf, (size_t)k) < 0)
					return;
			}
		}
		if (strcmp(resp, "/bighead") == 0 || strcmp(resp, "/hugehead") == 0) {
			static char hb[50000];
			size_t hl = strcmp(resp, "/bighead") == 0 ? 20000 : 40000;
			int k = snprintf(hb, sizeof(hb), "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Big: ");
			memset(hb + k, 'h', hl);
			memcpy(hb + k + hl, "\r\n\r\nok", 6);
			if (write_all(fd, hb, (size_t)k + hl + 6) < 0)
				return;
			continue;
		}
		if (strcmp(resp, "/sleep") == 0) {
			sleep(4);
			return;
		}
		if (strcmp(resp, "/hold") == 0) {
			/* as /sleep, once the test knows the request is here */
			if (write(arrived_pipe[1], "h", 1) != 1)
				return;
			sleep(4);
			return;
		}
		if (strcmp(resp, "/bye") == 0) {
			/* a keep-alive response, then the target closes: the
			 * ALB must drop the pooled connection, not 502. The
			 * body is the ALB's port of the connection (5 digits),
			 * for the test to see when the ALB has closed it. */
			struct sockaddr_in peer;
			socklen_t pl = sizeof(peer);
			char bye[64];
			int k;
			if (getpeername(fd, (struct sockaddr *)&peer, &pl) < 0)
				return;
			k = snprintf(bye, sizeof(bye),
			             "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\n%05u\n",
			             (unsigned)ntohs(peer.sin_port));
			write_all(fd, bye, (size_t)k);
			return;
		}
		if (strcmp(resp, "/byelater") == 0) {
			/* a keep-alive response, then the target closes while
			 * the ALB already reuses the connection for the next
			 * request: it must send it again on a fresh one */
			const char *bye = "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nbye\n";
			write_all(fd, bye, strlen(bye));
			usleep(150000);
			return;
		}
		if (strcmp(resp, "/big") == 0) {
			static char big[300000];
			memset(big, 'x', sizeof(big));
			hn = snprintf(b1, sizeof(b1),
				      "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n", sizeof(big));
			if (write_all(fd, b1, (size_t)hn) < 0 || write_all(fd, big, sizeof(big)) < 0)
				return;
			continue;
		}
		{
			char body[1024];
			bn = snprintf(body, sizeof(body),
				      "backend=%d path=%s len=%zu sum=%08x first=%s xff=%s proto=%s "
				      "port=%s trace=%s host=%s nreq=%d\n",
				      id, resp, blen, sum, first, b1, b2, b3, b4, b5, nreq);
			hn = snprintf(resp, sizeof(resp),
				      "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
				      "Content-Length: %d\r\n\r\n%s",
				      bn, body);
			if (write_all(fd, resp, (size_t)hn) < 0)
				return;
		}
		if (!f.keep_alive)
			return;
	}
}

static pid_t backend_start(uint32_t addr, uint16_t port, int id)
{
	int lfd = sock_listen4(addr, port, SOCK_STREAM);
	pid_t pid;
	if (lfd < 0)
		return -1;
	pid = fork();
	if (pid != 0) {
		close(lfd);
		return pid;
	}
	signal(SIGCHLD, SIG_IGN);
	/* a backend outlives every run ctest lets finish (TIMEOUT 60; 10 s
	 * idle, more under sanitizers and load), and no crashed one for long */
	alarm(90);
	/* blocking accept */
	fcntl(lfd, F_SETFL, fcntl(lfd, F_GETFL) & ~O_NONBLOCK);
	for (int i = 0; i < 400; i++) {
		int fd = accept(lfd, NULL, NULL);
		if (fd < 0) {
			if (errno == EINTR)
				continue;
			_exit(0);
		}
		if (fork() == 0) {
			close(lfd);
			alarm(20);
			backend_conn(fd, id);
			_exit(0);
		}
		close(fd);
	}
	_exit(0);
}

/* --- the model --- */

static struct model m;
static struct model_lb lb;
static struct model_listener li;
static struct model_rule rules[3];
static struct model_condition conds[3];
static struct model_target_group tgs[4];
static int rule_idx[3] = {0, 1, 2};
static uint32_t node_addrs[1] = {LB_ADDR};
static int subnets[1] = {0};

static void model_build(void)
{
	lb = (struct model_lb){.name = "test-lb",
			       .dns_name = "internal-test-lb-1.us-east-1.elb.amazonaws.com",
			       .subnets = subnets,
			       .nsubnets = 1,
			       .node_addrs = node_addrs,
			       .idle_timeout_s = 2};
	for (int i = 0; i < 4; i++) {
		static const char *names[] = {"tg-empty", "tg-a", "tg-refuse", "tg-sick"};
		tgs[i] = (struct model_target_group){.name = (char *)names[i],
						     .protocol = "HTTP",
						     .port = 80,
						     .deregistration_delay_s = 0};
		tgs[i].hc = (struct model_health_check){.enabled = true,
							.path = "/health",
							.interval_s = 30,
							.timeout_s = 2,
							.healthy_threshold = 5,
							.unhealthy_threshold = 2,
							.matcher = "200"};
	}
	tgs[3].hc.interval_s = 1;
	conds[0] = (struct model_condition){.field = MODEL_COND_HOST_HEADER, .nvalues = 1};
	conds[0].values[0] = "service-a.in.example.com";
	conds[1] = (struct model_condition){.field = MODEL_COND_HOST_HEADER, .nvalues = 1};
	conds[1].values[0] = "refuse.example.com";
	rules[0] = (struct model_rule){.priority = 1, .listener = 0, .conds = &conds[0], .nconds = 1,
				       .action = {.type = MODEL_ACTION_FORWARD, .target_group = 1}};
	rules[1] = (struct model_rule){.priority = 2, .listener = 0, .conds = &conds[1], .nconds = 1,
				       .action = {.type = MODEL_ACTION_FORWARD, .target_group = 2}};
	conds[2] = (struct model_condition){.field = MODEL_COND_HOST_HEADER, .nvalues = 1};
	conds[2].values[0] = "sick.example.com";
	rules[2] = (struct model_rule){.priority = 3, .listener = 0, .conds = &conds[2], .nconds = 1,
				       .action = {.type = MODEL_ACTION_FORWARD, .target_group = 3}};
	li = (struct model_listener){.logical = "Listener", .lb = 0, .port = base_port,
				     .protocol = "HTTP", .rules = rule_idx, .nrules = 3,
				     .default_action = {.type = MODEL_ACTION_FORWARD, .target_group = 0}};
	m = (struct model){.lbs = &lb, .nlbs = 1, .listeners = &li, .nlisteners = 1,
			   .rules = rules, .nrules = 3, .tgs = tgs, .ntgs = 4};
}

/* --- the loop thread --- */

static atomic_int stop_flag;
static struct loop *lp;

static void on_tick(struct loop *loop, struct loop_timer *t)
{
	if (atomic_load(&stop_flag))
		loop_stop(loop);
	else
		loop_timer_start(loop, t, 20);
}

static void *loop_thread(void *arg)
{
	struct loop_timer tick, deadline;
	(void)arg;
	loop_timer_init(&tick, on_tick, NULL);
	loop_timer_init(&deadline, on_tick, NULL);
	loop_timer_start(lp, &tick, 20);
	loop_run(lp);
	loop_timer_stop(lp, &tick);
	return NULL;
}

/* --- the client --- */

static int client_connect(void)
{
	struct sockaddr_in sa;
	struct timeval tv = {.tv_sec = 5};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	sockaddr4_make(&sa, CLIENT_ADDR, 0);
	bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	sockaddr4_make(&sa, LB_ADDR, (uint16_t)base_port);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

struct reply {
	int status;
	char head[4096];
	char *body; /* malloc'd, NUL-terminated */
	size_t blen;
	bool closed; /* the server closed after the response */
};

static char rbuf[1 << 16];
static size_t rlen;

/* Reads one response (Content-Length or until close) from fd. */
static int read_reply(int fd, struct reply *r)
{
	struct http_header hs[64];
	struct http_response rs = {.headers = hs, .maxheaders = 64};
	struct http_framing f;
	long n;
	size_t want, have;

	memset(r, 0, sizeof(*r));
	while ((n = http_parse_response(rbuf, rlen, &rs)) == HTTP_INCOMPLETE) {
		ssize_t k = read(fd, rbuf + rlen, sizeof(rbuf) - rlen);
		if (k <= 0)
			return -1;
		rlen += (size_t)k;
	}
	if (n < 0 || http_response_framing(&rs, false, &f) < 0)
		return -1;
	r->status = rs.status;
	snprintf(r->head, sizeof(r->head), "%.*s", (int)n, rbuf);
	want = f.kind == HTTP_BODY_LENGTH ? (size_t)f.length : f.kind == HTTP_BODY_NONE ? 0 : SIZE_MAX;
	r->body = malloc(want == SIZE_MAX ? (1 << 20) : want + 1);
	memmove(rbuf, rbuf + n, rlen - (size_t)n);
	rlen -= (size_t)n;
	have = rlen < want ? rlen : want;
	memcpy(r->body, rbuf, have);
	memmove(rbuf, rbuf + have, rlen - have);
	rlen -= have;
	while (have < want) {
		size_t cap = want == SIZE_MAX ? (1 << 20) - 1 : want;
		ssize_t k = read(fd, r->body + have, cap - have);
		if (k <= 0) {
			if (want == SIZE_MAX && k == 0)
				break;
			free(r->body);
			r->body = NULL;
			return -1;
		}
		have += (size_t)k;
	}
	r->body[have] = '\0';
	r->blen = have;
	r->closed = strstr(r->head, "Connection: close") != NULL;
	return 0;
}

static int roundtrip(int fd, const char *req, size_t n, struct reply *r)
{
	if (write_all(fd, req, n) < 0)
		return -1;
	return read_reply(fd, r);
}

static int get(const char *host, const char *path, struct reply *r)
{
	char req[512];
	int fd = client_connect(), rc, n;
	if (fd < 0)
		return -1;
	rlen = 0;
	n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n",
		     path, host);
	rc = roundtrip(fd, req, (size_t)n, r);
	close(fd);
	return rc;
}

static void reply_free(struct reply *r)
{
	free(r->body);
	r->body = NULL;
}

/* --- the tests (run in order against one ALB) --- */

static void test_route_and_round_robin(void)
{
	struct reply r;
	int seen[3] = {0};
	for (int i = 0; i < 6; i++) {
		ASSERT_EQ(get("service-a.in.example.com", "/x", &r), 0);
		ASSERT_EQ(r.status, 200);
		if (r.body && strstr(r.body, "backend=1"))
			seen[1]++;
		if (r.body && strstr(r.body, "backend=2"))
			seen[2]++;
		reply_free(&r);
	}
	ASSERT_TRUE(seen[1] >= 2);
	ASSERT_TRUE(seen[2] >= 2);
}

static void test_forwarded_headers(void)
{
	struct reply r;
	const char *req = "GET /h HTTP/1.1\r\nHost: Service-A.in.example.com:80\r\n"
			  "X-Forwarded-For: 10.1.2.3\r\nConnection: close\r\n\r\n";
	int fd = client_connect();
	rlen = 0;
	ASSERT_EQ(roundtrip(fd, req, strlen(req), &r), 0);
	close(fd);
	ASSERT_EQ(r.status, 200);
	ASSERT_STR_CONTAINS(r.body, "xff=10.1.2.3, 127.0.0.9 ");
	ASSERT_STR_CONTAINS(r.body, "proto=http ");
	char want[64];
	snprintf(want, sizeof(want), "port=%d ", base_port);
	ASSERT_STR_CONTAINS(r.body, want);
	ASSERT_STR_CONTAINS(r.body, "trace=Root=1-");
	ASSERT_STR_CONTAINS(r.body, "host=service-a.in.example.com ");
	reply_free(&r);
	/* a trace id the client sent is kept */
	req = "GET /h HTTP/1.1\r\nHost: service-a.in.example.com\r\n"
	      "X-Amzn-Trace-Id: Root=1-67891233-abcdef012345678912345678\r\n\r\n";
	fd = client_connect();
	rlen = 0;
	ASSERT_EQ(roundtrip(fd, req, strlen(req), &r), 0);
	close(fd);
	ASSERT_STR_CONTAINS(r.body, "trace=Root=1-67891233-abcdef012345678912345678 ");
	ASSERT_STR_CONTAINS(r.body, "xff=127.0.0.9 ");
	reply_free(&r);
}

static void test_keep_alive(void)
{
	struct reply r;
	const char *req = "GET /ka HTTP/1.1\r\nHost: service-a.in.example.com\r\n\r\n";
	int fd = client_connect();
	rlen = 0;
	for (int i = 0; i < 3; i++) {
		ASSERT_EQ(roundtrip(fd, req, strlen(req), &r), 0);
		ASSERT_EQ(r.status, 200);
		ASSERT_TRUE(!r.closed);
		ASSERT_STR_CONTAINS(r.body, "path=/ka ");
		reply_free(&r);
	}
	/* pipelined: two requests in one write */
	{
		char two[256];
		int n = snprintf(two, sizeof(two), "%s%s", req, req);
		ASSERT_EQ(write_all(fd, two, (size_t)n), 0);
		ASSERT_EQ(read_reply(fd, &r), 0);
		ASSERT_EQ(r.status, 200);
		reply_free(&r);
		ASSERT_EQ(read_reply(fd, &r), 0);
		ASSERT_EQ(r.status, 200);
		reply_free(&r);
	}
	close(fd);
}

static void test_bodies(void)
{
	struct reply r;
	const char *chunked = "POST /c HTTP/1.1\r\nHost: service-a.in.example.com\r\n"
			      "Transfer-Encoding: chunked\r\n\r\n"
			      "5\r\nhello\r\n6;x=y\r\n world\r\n0\r\nTrailer: t\r\n\r\n";
	int fd = client_connect();
	rlen = 0;
	ASSERT_EQ(roundtrip(fd, chunked, strlen(chunked), &r), 0);
	ASSERT_EQ(r.status, 200);
	ASSERT_STR_CONTAINS(r.body, "len=11 ");
	ASSERT_STR_CONTAINS(r.body, "first=hello world ");
	reply_free(&r);
	/* then a large Content-Length body on the same connection */
	{
		size_t n = 500000;
		char *body = malloc(n), head[256];
		uint32_t sum = 2166136261u;
		char want[64];
		int hn;
		for (size_t i = 0; i < n; i++) {
			body[i] = (char)('a' + i % 26);
			sum = (sum ^ (uint8_t)body[i]) * 16777619u;
		}
		hn = snprintf(head, sizeof(head),
			      "PUT /cl HTTP/1.1\r\nHost: service-a.in.example.com\r\n"
			      "Content-Length: %zu\r\n\r\n",
			      n);
		ASSERT_EQ(write_all(fd, head, (size_t)hn), 0);
		ASSERT_EQ(write_all(fd, body, n), 0);
		ASSERT_EQ(read_reply(fd, &r), 0);
		ASSERT_EQ(r.status, 200);
		snprintf(want, sizeof(want), "len=%zu sum=%08x ", n, sum);
		ASSERT_STR_CONTAINS(r.body, want);
		reply_free(&r);
		free(body);
	}
	/* a large response streams through */
	{
		const char *req = "GET /big HTTP/1.1\r\nHost: service-a.in.example.com\r\n\r\n";
		ASSERT_EQ(roundtrip(fd, req, strlen(req), &r), 0);
		ASSERT_EQ(r.status, 200);
		ASSERT_EQ(r.blen, 300000);
		ASSERT_TRUE(r.body && r.body[0] == 'x' && r.body[299999] == 'x');
		reply_free(&r);
	}
	close(fd);
}

/* Whether a TCP socket with local port lport and remote port rport is
 * open (ESTABLISHED or CLOSE_WAIT) in /proc/net/tcp. */
static bool tcp_open(unsigned lport, unsigned rport)
{
	char line[256];
	bool open = false;
	FILE *f = fopen("/proc/net/tcp", "r");
	if (!f)
		return true;
	while (!open && fgets(line, sizeof(line), f)) {
		unsigned la, lpt, ra, rpt, st;
		if (sscanf(line, " %*u: %x:%x %x:%x %x", &la, &lpt, &ra, &rpt, &st) == 5)
			open = lpt == lport && rpt == rport && (st == 0x01 || st == 0x08);
	}
	fclose(f);
	return open;
}

/* The target closes its connection after /bye; the next request to it must
 * not find it in the pool. The test waits until the ALB has closed its side
 * (the target's FIN seen while pooled): a fixed 20 ms wait raced the
 * target's exit on a loaded machine (under ASan), and the next request to
 * that target then went out on the still-open connection, a different
 * path (up_retry) from the one this test is about. */
static void test_stale_pool(void)
{
	struct reply r;
	for (int i = 0; i < 6; i++) {
		unsigned alb_port = 0, back = (unsigned)base_port + 1;
		int waited = 0;
		ASSERT_EQ(get("service-a.in.example.com", "/bye", &r), 0);
		ASSERT_EQ(r.status, 200);
		ASSERT_TRUE(r.body && sscanf(r.body, "%u", &alb_port) == 1);
		reply_free(&r);
		/* tg-a's two targets listen on base_port + 1 and + 2 */
		if (tcp_open(alb_port, back + 1))
			back++;
		while (tcp_open(alb_port, back) && waited++ < 500)
			usleep(10000);
		ASSERT_TRUE(!tcp_open(alb_port, back));
		ASSERT_EQ(get("service-a.in.example.com", "/next", &r), 0);
		ASSERT_EQ(r.status, 200);
		reply_free(&r);
	}
}

/* The target closes a connection just after the ALB reused it from the
 * pool (the next request is already on it, unanswered): the request is
 * sent again on a fresh connection, not answered 502. tg-sick has one
 * target, so the second request finds the first one's connection pooled. */
static void test_reuse_race(void)
{
	struct reply r;
	for (int i = 0; i < 3; i++) {
		ASSERT_EQ(get("sick.example.com", "/byelater", &r), 0);
		ASSERT_EQ(r.status, 200);
		reply_free(&r);
		ASSERT_EQ(get("sick.example.com", "/after", &r), 0);
		ASSERT_EQ(r.status, 200);
		ASSERT_STR_CONTAINS(r.body, "backend=3");
		reply_free(&r);
	}
}

/* Every target unhealthy: the ALB fails open and still forwards. */
static void test_fail_open(void)
{
	struct reply r;
	ASSERT_EQ(get("sick.example.com", "/", &r), 0);
	ASSERT_EQ(r.status, 200);
	ASSERT_STR_CONTAINS(r.body, "backend=3");
	reply_free(&r);
}

/* LB idle timeout 2 s: a silent target is 504, a silent client is closed. */
static void test_timeouts(void)
{
	struct reply r;
	char ch;
	int fd;
	ASSERT_EQ(get("service-a.in.example.com", "/sleep", &r), 0);
	ASSERT_EQ(r.status, 504);
	ASSERT_STR_CONTAINS(r.body, "504 Gateway Time-out");
	reply_free(&r);
	fd = client_connect();
	ASSERT_EQ(read(fd, &ch, 1), 0);
	close(fd);
}

static void test_expect_and_http10(void)
{
	struct reply r;
	const char *head = "POST /e HTTP/1.1\r\nHost: service-a.in.example.com\r\n"
			   "Expect: 100-continue\r\nContent-Length: 5\r\n\r\n";
	const char *r10 = "GET /old HTTP/1.0\r\nHost: service-a.in.example.com\r\n"
			  "Connection: keep-alive\r\n\r\n";
	int fd = client_connect();
	rlen = 0;
	ASSERT_EQ(roundtrip(fd, head, strlen(head), &r), 0);
	ASSERT_EQ(r.status, 100);
	reply_free(&r);
	ASSERT_EQ(roundtrip(fd, "hello", 5, &r), 0);
	ASSERT_EQ(r.status, 200);
	ASSERT_STR_CONTAINS(r.body, "len=5 ");
	reply_free(&r);
	close(fd);
	fd = client_connect();
	rlen = 0;
	ASSERT_EQ(roundtrip(fd, r10, strlen(r10), &r), 0);
	ASSERT_EQ(r.status, 200);
	ASSERT_STR_CONTAINS(r.head, "Connection: keep-alive");
	reply_free(&r);
	ASSERT_EQ(roundtrip(fd, r10, strlen(r10), &r), 0);
	ASSERT_EQ(r.status, 200);
	reply_free(&r);
	close(fd);
}

static void test_websocket(void)
{
	struct reply r;
	const char *req = "GET /ws HTTP/1.1\r\nHost: service-a.in.example.com\r\n"
			  "Upgrade: websocket\r\nConnection: Upgrade\r\n\r\n";
	char got[16] = {0};
	size_t have = 0;
	int fd = client_connect();
	rlen = 0;
	ASSERT_EQ(roundtrip(fd, req, strlen(req), &r), 0);
	ASSERT_EQ(r.status, 101);
	ASSERT_STR_CONTAINS(r.head, "Upgrade: websocket");
	reply_free(&r);
	ASSERT_EQ(write_all(fd, "ping-pong", 9), 0);
	while (have < 9) {
		ssize_t k = read(fd, got + have, 9 - have);
		if (k <= 0)
			break;
		have += (size_t)k;
	}
	ASSERT_STR_EQ(got, "ping-pong");
	close(fd);
}

static void test_big_heads(void)
{
	struct reply r;
	static char req[80000];
	int fd, n;
	/* a 40 KB request head grows the buffer and goes through */
	n = snprintf(req, sizeof(req), "GET /bh HTTP/1.1\r\nHost: service-a.in.example.com\r\n");
	for (int i = 0; i < 4; i++) {
		n += snprintf(req + n, sizeof(req) - (size_t)n, "X-Pad-%d: ", i);
		memset(req + n, 'p', 10000);
		n += 10000;
		n += snprintf(req + n, sizeof(req) - (size_t)n, "\r\n");
	}
	n += snprintf(req + n, sizeof(req) - (size_t)n, "\r\n");
	fd = client_connect();
	rlen = 0;
	ASSERT_EQ(roundtrip(fd, req, (size_t)n, &r), 0);
	ASSERT_EQ(r.status, 200);
	reply_free(&r);
	close(fd);
	/* over 64 KB of headers: 400 */
	n = snprintf(req, sizeof(req), "GET /bh HTTP/1.1\r\nHost: service-a.in.example.com\r\n");
	for (int i = 0; i < 7; i++) {
		n += snprintf(req + n, sizeof(req) - (size_t)n, "X-Pad-%d: ", i);
		memset(req + n, 'p', 10000);
		n += 10000;
		n += snprintf(req + n, sizeof(req) - (size_t)n, "\r\n");
	}
	n += snprintf(req + n, sizeof(req) - (size_t)n, "\r\n");
	fd = client_connect();
	rlen = 0;
	ASSERT_EQ(roundtrip(fd, req, (size_t)n, &r), 0);
	ASSERT_EQ(r.status, 400);
	reply_free(&r);
	close(fd);
	/* a URI over 16 KB: 414 */
	n = snprintf(req, sizeof(req), "GET /");
	memset(req + n, 'u', 17000);
	n += 17000;
	n += snprintf(req + n, sizeof(req) - (size_t)n,
		      " HTTP/1.1\r\nHost: service-a.in.example.com\r\n\r\n");
	fd = client_connect();
	rlen = 0;
	ASSERT_EQ(roundtrip(fd, req, (size_t)n, &r), 0);
	ASSERT_EQ(r.status, 414);
	reply_free(&r);
	close(fd);
	/* response heads: 20 KB passes, 40 KB (over 32 KB) is 502 */
	ASSERT_EQ(get("service-a.in.example.com", "/bighead", &r), 0);
	ASSERT_EQ(r.status, 200);
	ASSERT_STR_EQ(r.body, "ok");
	reply_free(&r);
	ASSERT_EQ(get("service-a.in.example.com", "/hugehead", &r), 0);
	ASSERT_EQ(r.status, 502);
	reply_free(&r);
}

static void test_alb_errors(void)
{
	struct reply r;
	ASSERT_EQ(get("unknown.example.com", "/", &r), 0);
	ASSERT_EQ(r.status, 503);
	ASSERT_STR_CONTAINS(r.head, "Server: awselb/2.0");
	ASSERT_STR_CONTAINS(r.head, "Content-Type: text/html");
	ASSERT_STR_CONTAINS(r.body, "<title>503 Service Temporarily Unavailable</title>");
	reply_free(&r);
	/* a non-default port stays in Host and defeats the rule */
	ASSERT_EQ(get("service-a.in.example.com:8080", "/", &r), 0);
	ASSERT_EQ(r.status, 503);
	reply_free(&r);
	ASSERT_EQ(get("refuse.example.com", "/", &r), 0);
	ASSERT_EQ(r.status, 502);
	ASSERT_STR_CONTAINS(r.body, "502 Bad Gateway");
	reply_free(&r);
	{
		const char *req = "TRACE / HTTP/1.1\r\nHost: service-a.in.example.com\r\n\r\n";
		int fd = client_connect();
		rlen = 0;
		ASSERT_EQ(roundtrip(fd, req, strlen(req), &r), 0);
		ASSERT_EQ(r.status, 405);
		reply_free(&r);
		close(fd);
	}
	{
		const char *req = "GET / HTTP/1.1\r\nHost : x\r\n\r\n";
		int fd = client_connect();
		rlen = 0;
		ASSERT_EQ(roundtrip(fd, req, strlen(req), &r), 0);
		ASSERT_EQ(r.status, 400);
		ASSERT_TRUE(r.closed);
		reply_free(&r);
		close(fd);
	}
	{
		const char *req = "POST / HTTP/1.1\r\nHost: service-a.in.example.com\r\n"
				  "Transfer-Encoding: gzip\r\n\r\n";
		int fd = client_connect();
		rlen = 0;
		ASSERT_EQ(roundtrip(fd, req, strlen(req), &r), 0);
		ASSERT_EQ(r.status, 501);
		reply_free(&r);
		close(fd);
	}
	{
		char req[1024];
		int n = snprintf(req, sizeof(req),
				 "GET / HTTP/1.1\r\nHost: service-a.in.example.com\r\n"
				 "X-Forwarded-For: 10.0.0.1");
		for (int i = 2; i <= 30; i++)
			n += snprintf(req + n, sizeof(req) - (size_t)n, ", 10.0.0.%d", i);
		n += snprintf(req + n, sizeof(req) - (size_t)n, "\r\n\r\n");
		int fd = client_connect();
		rlen = 0;
		ASSERT_EQ(roundtrip(fd, req, (size_t)n, &r), 0);
		ASSERT_EQ(r.status, 463);
		reply_free(&r);
		close(fd);
	}
	/* many pipelined requests answered by the ALB itself, in order */
	{
		static char req[8192];
		size_t n = 0;
		int fd = client_connect();
		for (int i = 0; i < 40; i++)
			n += (size_t)snprintf(req + n, sizeof(req) - n,
					      "GET /%d HTTP/1.1\r\nHost: %s\r\n\r\n", i,
					      i % 4 == 3 ? "service-a.in.example.com" : "none.example.com");
		ASSERT_EQ(write_all(fd, req, n), 0);
		rlen = 0;
		for (int i = 0; i < 40; i++) {
			if (read_reply(fd, &r) < 0) {
				T_FAIL("pipelined reply %d missing", i);
				break;
			}
			ASSERT_EQ(r.status, i % 4 == 3 ? 200 : 503);
			reply_free(&r);
		}
		close(fd);
	}
	/* keep-alive survives an ALB 503 on a bodiless request */
	{
		const char *a = "GET / HTTP/1.1\r\nHost: nothing.example.com\r\n\r\n";
		const char *b = "GET /after HTTP/1.1\r\nHost: service-a.in.example.com\r\n\r\n";
		int fd = client_connect();
		rlen = 0;
		ASSERT_EQ(roundtrip(fd, a, strlen(a), &r), 0);
		ASSERT_EQ(r.status, 503);
		reply_free(&r);
		ASSERT_EQ(roundtrip(fd, b, strlen(b), &r), 0);
		ASSERT_EQ(r.status, 200);
		reply_free(&r);
		close(fd);
	}
}

static struct alb *alb;

static void test_health_states(void)
{
	struct alb_target_info ti[4];
	size_t n = alb_target_list(alb, 1, ti, 4);
	ASSERT_EQ(n, 2);
	for (size_t i = 0; i < n && i < 4; i++) {
		ASSERT_EQ(ti[i].state, ALB_TARGET_HEALTHY);
		ASSERT_TRUE(ti[i].reason == NULL);
	}
	n = alb_target_list(alb, 2, ti, 4);
	ASSERT_EQ(n, 1);
	ASSERT_EQ(ti[0].state, ALB_TARGET_INITIAL);
	ASSERT_STR_EQ(ti[0].reason, "Elb.InitialHealthChecking");
	ASSERT_EQ(alb_target_list(alb, 0, ti, 4), 0);
	n = alb_target_list(alb, 3, ti, 4);
	ASSERT_EQ(n, 1);
	ASSERT_EQ(ti[0].state, ALB_TARGET_UNHEALTHY);
	ASSERT_STR_EQ(ti[0].reason, "Target.ResponseCodeMismatch");
	ASSERT_STR_EQ(ti[0].description, "Health checks failed with these codes: [500]");
	/* deregistration drains (delay 0 here), then removes */
	ASSERT_EQ(alb_target_deregister(alb, 2, REFUSER, (uint16_t)(base_port + 3)), 0);
	n = alb_target_list(alb, 2, ti, 4);
	ASSERT_EQ(n, 1);
	ASSERT_EQ(ti[0].state, ALB_TARGET_DRAINING);
	ASSERT_STR_EQ(ti[0].reason, "Target.DeregistrationInProgress");
	ASSERT_EQ(alb_target_deregister(alb, 2, 0x01020304, 1), 0);
	ASSERT_EQ(alb_target_register(alb, 1, BACK1, (uint16_t)(base_port + 1)), 0);
	ASSERT_EQ(alb_target_list(alb, 1, ti, 4), 2);
}

/* A request still running when its target's deregistration delay (0 here)
 * ends gets 502, not the 504 of the LB idle timeout (2 s) nor a 503 for a
 * group with no target left. The client is a child process; this thread
 * runs the loop and deregisters once the backend says the request arrived
 * (under load that takes from milliseconds to seconds). */
static pid_t drain_child;
static int drain_status = -1;
static bool drain_deregistered;

static void on_drain_step(struct loop *loop, struct loop_timer *t)
{
	int st;
	char ch;
	static int steps;
	steps++;
	if (!drain_deregistered && read(arrived_pipe[0], &ch, 1) == 1) {
		alb_target_deregister(alb, 1, BACK1, (uint16_t)(base_port + 1));
		alb_target_deregister(alb, 1, BACK2, (uint16_t)(base_port + 2));
		drain_deregistered = true;
	}
	if (waitpid(drain_child, &st, WNOHANG) == drain_child) {
		drain_status = WIFEXITED(st) ? WEXITSTATUS(st) : 99;
		loop_stop(loop);
		return;
	}
	if (steps > 1500) { /* 30 s and more: a bound, not an expectation */
		loop_stop(loop);
		return;
	}
	loop_timer_start(loop, t, 20);
}

static void test_drain_inflight(void)
{
	struct loop_timer step;
	struct alb_target_info ti[2];
	char ch;
	while (read(arrived_pipe[0], &ch, 1) == 1)
		; /* nothing is on its way to /hold before this test */
	drain_child = fork();
	if (drain_child == 0) {
		struct reply r;
		int rc = get("service-a.in.example.com", "/hold", &r);
		_exit(rc == 0 && r.status == 502 ? 0 : 1);
	}
	loop_timer_init(&step, on_drain_step, NULL);
	loop_timer_start(lp, &step, 20);
	loop_run(lp);
	loop_timer_stop(lp, &step);
	if (drain_status < 0) {
		kill(drain_child, SIGKILL);
		waitpid(drain_child, NULL, 0);
	}
	ASSERT_TRUE(drain_deregistered);
	ASSERT_EQ(drain_status, 0);
	ASSERT_EQ(alb_target_list(alb, 1, ti, 2), 0);
}

static int health_events;
static void on_health(void *data, int tg, uint32_t addr, uint16_t port, enum alb_target_state s)
{
	(void)data;
	(void)tg;
	(void)addr;
	(void)port;
	(void)s;
	health_events++;
}

static void run_all(void)
{
	pid_t b1, b2, b3;
	pthread_t th;
	char err[256] = "";
	struct alb_target_info ti[2];

	/* a base port whose neighbours are free (tests may run in parallel) */
	for (int attempt = 0; attempt < 20; attempt++) {
		static const uint32_t addrs[] = {LB_ADDR, BACK1, BACK2, REFUSER, BACK3};
		int fds[5], ok = 1;
		base_port = 20000 + (int)((getpid() * 7 + attempt * 1009) % 20000);
		for (int i = 0; i < 5; i++) {
			fds[i] = sock_listen4(addrs[i], (uint16_t)(base_port + i), SOCK_STREAM);
			ok &= fds[i] >= 0;
		}
		for (int i = 0; i < 5; i++)
			if (fds[i] >= 0)
				close(fds[i]);
		if (ok)
			break;
	}
	model_build();
	ASSERT_EQ(pipe2(arrived_pipe, O_CLOEXEC), 0);
	ASSERT_EQ(fcntl(arrived_pipe[0], F_SETFL, O_NONBLOCK), 0);
	b1 = backend_start(BACK1, (uint16_t)(base_port + 1), 1);
	b2 = backend_start(BACK2, (uint16_t)(base_port + 2), 2);
	b3 = backend_start(BACK3, (uint16_t)(base_port + 4), 3);
	ASSERT_TRUE(b1 > 0 && b2 > 0 && b3 > 0);
	lp = loop_new();
	alb = alb_new(lp, &m);
	alb_on_health(alb, on_health, NULL);
	if (getenv("VPCD_TEST_WORKERS")) {
		/* the same tests with worker threads (ctest test_alb_proxy_workers2,
		 * and under ThreadSanitizer: make unit-tsan) */
		ASSERT_EQ(alb_set_workers(alb, atoi(getenv("VPCD_TEST_WORKERS"))), 0);
		ASSERT_EQ(alb_workers(alb), atoi(getenv("VPCD_TEST_WORKERS")));
	}
	ASSERT_EQ(alb_start(alb, 0, err, sizeof(err)), 0);
	if (err[0])
		fprintf(stderr, "%s\n", err);
	ASSERT_EQ(alb_target_register(alb, 1, BACK1, (uint16_t)(base_port + 1)), 0);
	ASSERT_EQ(alb_target_register(alb, 1, BACK2, (uint16_t)(base_port + 2)), 0);
	ASSERT_EQ(alb_target_register(alb, 2, REFUSER, (uint16_t)(base_port + 3)), 0);
	ASSERT_EQ(alb_target_register(alb, 3, BACK3, (uint16_t)(base_port + 4)), 0);
	ASSERT_EQ(alb_target_list(alb, 1, ti, 2), 2);
	ASSERT_EQ(ti[0].state, ALB_TARGET_INITIAL);
	ASSERT_STR_EQ(ti[0].reason, "Elb.RegistrationInProgress");
	pthread_create(&th, NULL, loop_thread, NULL);
	/* the first health checks run at once; tg-sick checks every second
	 * and turns unhealthy at the second failure */
	usleep(1500000);

	T_RUN(test_route_and_round_robin);
	T_RUN(test_forwarded_headers);
	T_RUN(test_keep_alive);
	T_RUN(test_bodies);
	T_RUN(test_alb_errors);
	T_RUN(test_expect_and_http10);
	T_RUN(test_websocket);
	T_RUN(test_big_heads);
	T_RUN(test_stale_pool);
	T_RUN(test_fail_open);
	T_RUN(test_reuse_race);
	T_RUN(test_timeouts);

	atomic_store(&stop_flag, 1);
	pthread_join(th, NULL);
	T_RUN(test_health_states);
	ASSERT_TRUE(health_events >= 2);
	{
		/* let the drain timer and closes run */
		struct loop_timer tick;
		loop_timer_init(&tick, on_tick, NULL);
		loop_timer_start(lp, &tick, 100);
		loop_run(lp);
		ASSERT_EQ(alb_target_list(alb, 2, ti, 2), 0);
	}
	T_RUN(test_drain_inflight);
	{
		/* a second ALB with worker threads on the same listener: the
		 * address is in use (no silent SO_REUSEPORT share), and freeing
		 * the half-started one joins no thread that never ran */
		struct alb *b = alb_new(lp, &m);
		ASSERT_TRUE(b != NULL);
		ASSERT_EQ(alb_set_workers(b, 2), 0);
		err[0] = '\0';
		ASSERT_EQ(alb_start(b, 0, err, sizeof(err)), -EADDRINUSE);
		ASSERT_STR_CONTAINS(err, "cannot listen on 127.1.0.4:");
		alb_free(b);
	}
	alb_free(alb);
	loop_free(lp);
	kill(b1, SIGKILL);
	kill(b2, SIGKILL);
	kill(b3, SIGKILL);
	waitpid(b3, NULL, 0);
	waitpid(b1, NULL, 0);
	waitpid(b2, NULL, 0);
	close(arrived_pipe[0]);
	close(arrived_pipe[1]);
}

T_MAIN({ run_all(); })
