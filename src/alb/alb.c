/*
 * The ALB proxy: listening sockets, client connections, target groups and
 * their upstream connection pools (see alb.h for the contract).
 *
 * A client connection moves through phases: HEAD (reading a request head,
 * client idle timeout), CONNECT (waiting for a target connection, 10 s),
 * FORWARD (streaming the request and the response, LB idle timeout) and
 * CLOSING (flushing a last response). Bodies stream through two bounded
 * per-connection buffers (cin: client bytes, uin: target bytes); the only
 * copies are the rewritten heads (uout to the target, cout to the client).
 * Back-pressure falls out of the buffers: a side is read only while its
 * buffer has room. Bodies are tracked, not decoded: a Content-Length count
 * or the chunked state machine says where each message ends.
 *
 * Choices where AWS is silent or vpcd differs (spec/aws-facts.md):
 * - A request the desync mode forwards but the strict parser refuses
 *   (Content-Length with Transfer-Encoding, look-alike or duplicate framing
 *   headers, HTTP/1.2, a space in the target, ...) goes to the target in
 *   the normalized form of desync_normalize (docs/desync.md); where none
 *   is safe (Transfer-Encoding on HTTP/1.0, CR/LF/NUL, conflicting lengths)
 *   it gets 400, a coding other than chunked/identity 501 (AWS's).
 * - An HTTP/1.1 request without Host: 400. An HTTP/1.0 one gets the LB's
 *   DNS name as Host and goes to the target as HTTP/1.0 (so no chunked
 *   answer reaches a client that cannot read it; no back-end reuse).
 * - Targets in "initial" count for fail-open (og-aws; AWS docs say only
 *   "unhealthy").
 * - X-Forwarded-Proto/-Port sent by the client are replaced; an existing
 *   X-Amzn-Trace-Id is kept as is (no Self= field added).
 * - ALB-generated 502/503/504/405 keep the client connection when the
 *   request had no body; 400/408/414/501 and anything mid-body close it.
 * - With --port-offset, ":<80 + offset>" in Host is stripped like ":80".
 * - Security groups: a connection from a source outside the LB's ingress
 *   rules is closed at accept (AWS drops it silently; a closed connection
 *   is the nearest a loopback listener gets). 127.0.0.1 counts as inside.
 * - fixed-response without ContentType is sent as text/plain; a redirect
 *   Location always carries the port (as AWS's does, e.g. ":443").
 * - Weighted forward with every weight 0: 503 (AWS does not say).
 * - AWSALBTG is an opaque hash of the group's ARN, not encrypted; the
 *   cookies are set on every response of a sticky forward action.
 * - Access log: one line per request when its response is complete (or
 *   ALB-generated); response_processing_time is 0.000; sent_bytes counts
 *   what was written or queued for the client at that moment;
 *   classification fields are "-" (no desync classifier yet).
 * - A client that closes (or half-closes) its side before the response
 *   begins abandons the request, as behind ALB (and nginx, whose 499 it
 *   is): both connections close; the access log says 460, or 400 when the
 *   body was not complete. A WebSocket's line is written at close, type ws.
 * - Expect: 100-continue is answered at once, before routing (AWS: "without
 *   testing the content length header"), never to HTTP/1.0; the header is
 *   removed and a target's own 100 is not passed on.
 * - Not done yet: the preserve_host_header and xff_header_processing
 *   attributes.
 *
 * Workers (docs/design.md, "Workers and snapshots"): everything from accept
 * to the access-log line runs on a worker and reads configuration and
 * target state only from the worker's snapshot (w->snap); registration,
 * health and draining run on the control thread (struct alb), which
 * publishes a new snapshot on every change (snap.c).
 */
#include "alb/alb.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "alb/internal.h"
#include "alb/route.h"
#include "core/addr.h"
#include "core/log.h"
#include "http/desync.h"
#include "http/http1.h"

#define CIN_CAP (HTTP_HEAD_MAX + 4096)
#define UIN_CAP (HTTP_RESP_HEAD_MAX + 4096)
#define BUF_START 16384 /* buffers start here and grow only for big heads */
#define LINGER_MS 2000u	/* reading what a closed-on client still sends */
#define LINGER_MAX (1u << 20)
#define MAX_HEADERS 256
#define CONNECT_TIMEOUT_MS 10000u
#define ACCEPT_BATCH 64
#define POOL_MAX 512	     /* idle connections kept per target and worker (nginx keepalive-like) */
#define XFF_MAX_ADDRS 30     /* AWS: more is 463 */
#define ACCEPT_PAUSE_MS 100u
#define COUT_HIGH 16384	     /* stop taking requests while this much waits for the client */
#define LOG_FLUSH_MS 1000u	       /* access-log lines wait in memory at most this long */
#define LOG_BUF (64u * 1024u)	       /* access-log buffer */
#define UP_WAIT (EPOLLIN | EPOLLRDHUP) /* a target connection pooled, or awaiting a response */

struct abuf {
	char *p;
	size_t off, len, cap;
};

/* One direction's body: where it ends, and how many bytes at the buffer's
 * read offset are checked body bytes ready to be written on. */
struct body {
	enum http_body_kind kind;
	uint64_t left;
	struct http_chunked ch;
	bool done;
	size_t ready;
};

enum phase { PH_HEAD, PH_CONNECT, PH_FORWARD, PH_CLOSING };

struct alb_up {
	struct alb_worker *w;
	struct alb_target *t; /* referenced */
	struct alb_conn *c; /* NULL while pooled */
	int fd;
	struct loop_io io;
	bool connected;
	bool eof;
	bool reused;		/* taken from the pool for the request it carries */
	struct alb_up *next;	/* in the target's pool */
	struct loop_timer idle; /* while pooled: the LB idle timeout */
	uint64_t idle_ms;
};

/* The request in progress, for the access log and the metrics. */
struct alb_logrec {
	bool on;
	struct timespec t0, t_disp; /* request received; sent to the target */
	double target_s;	    /* target processing time, -1 when not dispatched */
	int tg;			    /* -1 */
	uint32_t taddr;
	uint16_t tport;
	int target_status; /* 0: none */
	int prio;	   /* -1: no rule evaluated */
	const char *actions;
	const char *error_reason; /* static, or NULL */
	uint64_t rx_base, tx_base;
	char request[600], ua[256], trace[96], redirect[520];
	/* what the rule's transforms sent on ("" when they did not rewrite) */
	char xhost[256], xuri[520];
};

struct alb_conn {
	struct alb_worker *w;
	struct alb_conn *prev, *next;
	const struct alb_lsock *ls;
	uint32_t caddr;
	int fd;
	struct loop_io io;
	struct loop_timer timer;
	enum phase ph, timer_ph;
	bool active; /* bytes moved since the timer was armed */
	bool dead;
	struct abuf cin, cout, uin, uout;
	struct body rq, rs;
	bool client_keep, client_eof, head_req, resp_started, close_after;
	bool resp_keep;	  /* the target keeps its connection after this response */
	bool upgrade;	  /* the request asks for a protocol upgrade (WebSocket) */
	bool continued;	  /* the ALB sent this request's 100 Continue itself */
	bool lingering;	  /* writes shut down; discarding input until EOF */
	size_t lingered;
	int client_minor; /* HTTP/1.<minor> of the client's request */
	struct alb_up *up;
	uint16_t peer_port;
	struct alb_logrec lr;
	uint64_t rx_total, tx_total; /* bytes read from / written to the client */
	char cookie[640];	     /* Set-Cookie lines for the forwarded response */
	/* app_cookie group and no session: AWSALBAPP if the target sets its cookie */
	bool app_pending;
	/* desync mitigation (docs/desync.md): the request's access-log
	 * classification fields ("-" when Compliant or not classified), and
	 * whether both connections close after the response (Ambiguous in
	 * defensive mode) */
	const char *dclass, *dreason;
	bool desync_close;
	/* a request sent on a reused target connection that the target had
	 * closed is sent again, once, on a fresh one (up_retry) */
	bool replayable; /* no body: the head in uout is all there is */
	bool retried;	 /* already sent again */
	bool up_rx;	 /* bytes came back from the target for it */
	size_t uhead_len;
};

static const char *const state_names[] = {"initial",  "healthy",  "unhealthy",
					  "unused",   "draining", "unavailable"};

const char *alb_target_state_str(enum alb_target_state s)
{
	if ((unsigned)s < sizeof(state_names) / sizeof(state_names[0]))
		return state_names[s];
	return "unknown";
}

static void conn_progress(struct alb_conn *c);
static void conn_arm(struct alb_conn *c);
static void conn_reply(struct alb_conn *c, int status);

/* --- buffers --- */

static int abuf_reserve(struct abuf *b, size_t more, size_t max)
{
	size_t need = b->len + more, cap;
	char *p;
	if (need <= b->cap)
		return 0;
	if (b->off > 0 && b->len - b->off + more <= b->cap) {
		memmove(b->p, b->p + b->off, b->len - b->off);
		b->len -= b->off;
		b->off = 0;
		return 0;
	}
	if (need > max)
		return -ENOBUFS;
	cap = b->cap ? b->cap : 1024;
	while (cap < need)
		cap *= 2;
	if (cap > max)
		cap = max;
	p = realloc(b->p, cap);
	if (!p)
		return -ENOMEM;
	b->p = p;
	b->cap = cap;
	return 0;
}

static int abuf_put(struct abuf *b, const char *s, size_t n)
{
	int rc = abuf_reserve(b, n, SIZE_MAX / 2);
	if (rc < 0)
		return rc;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	return 0;
}

static int abuf_puts(struct abuf *b, const char *s)
{
	return abuf_put(b, s, strlen(s));
}

static size_t abuf_avail(const struct abuf *b)
{
	return b->len - b->off;
}

/* Room to read into, compacting first. */
static size_t abuf_room(struct abuf *b)
{
	if (b->off == b->len)
		b->off = b->len = 0;
	if (b->len == b->cap && b->off > 0) {
		memmove(b->p, b->p + b->off, b->len - b->off);
		b->len -= b->off;
		b->off = 0;
	}
	return b->cap - b->len;
}

/* Room to read client bytes into; a released cin (idle) is taken again
 * on the next read. */
static size_t cin_room(struct alb_conn *c)
{
	return c->cin.cap == 0 ? BUF_START : abuf_room(&c->cin);
}

/* An empty BUF_START buffer for b (cap 0), from the plane's free list. */
static int buf_take(struct alb_worker *w, struct abuf *b)
{
	char *p = w->nbufpool > 0 ? w->bufpool[--w->nbufpool] : malloc(BUF_START);
	if (!p)
		return -ENOMEM;
	*b = (struct abuf){.p = p, .cap = BUF_START};
	return 0;
}

/* Releases b's memory (its contents are dropped): a BUF_START buffer goes
 * back to the free list, anything else to free(). */
static void buf_give(struct alb_worker *w, struct abuf *b)
{
	if (b->cap == BUF_START && w->nbufpool < ALB_BUFPOOL_MAX)
		w->bufpool[w->nbufpool++] = b->p;
	else
		free(b->p);
	*b = (struct abuf){0};
}

/* --- targets --- */

static const char *reason_desc(const char *reason)
{
	if (!reason)
		return NULL;
	if (!strcmp(reason, "Elb.RegistrationInProgress"))
		return "Target registration is in progress";
	if (!strcmp(reason, "Elb.InitialHealthChecking"))
		return "Initial health checks in progress";
	if (!strcmp(reason, "Target.DeregistrationInProgress"))
		return "Target deregistration is in progress";
	if (!strcmp(reason, "Target.HealthCheckDisabled"))
		return "Health checks are disabled";
	if (!strcmp(reason, "Target.NotInUse"))
		return "Target group is not configured to receive traffic from the load balancer";
	return NULL;
}

void alb__target_set(struct alb_target *t, enum alb_target_state s, const char *reason,
		     const char *desc)
{
	enum alb_target_state prev = t->state;
	struct alb *a = t->a;
	char ab[16];

	t->state = s;
	t->reason = reason;
	if (!desc)
		desc = reason_desc(reason);
	snprintf(t->desc, sizeof(t->desc), "%s", desc ? desc : "");
	if (!t->removed)
		a->tgs[t->tg].states[t->idx] = s;
	if (prev != s) {
		alb__ss_note(t, prev);
		log_info("target %s:%u in tg %s is %s%s%s", addr4_str(t->addr, ab), t->port,
			 a->m->tgs[t->tg].name ? a->m->tgs[t->tg].name : "?",
			 alb_target_state_str(s), reason ? ": " : "", reason ? reason : "");
		if (!t->removed && alb__publish(a) < 0)
			log_warn("target %s:%u: out of memory for a snapshot; workers see the "
				 "change with the next one",
				 addr4_str(t->addr, ab), t->port);
		if (a->hfn)
			a->hfn(a->hdata, t->tg, t->addr, t->port, s);
	}
}

static void up_close(struct alb_up *u);

/* Closes worker w's idle connections to t. */
static void pool_drain(struct alb_worker *w, struct alb_target *t)
{
	struct alb_wslot *ws = &t->w[w->id];
	while (ws->pool) {
		struct alb_up *u = ws->pool;
		ws->pool = u->next;
		ws->npool--;
		u->next = NULL;
		up_close(u);
	}
}

void alb__target_unref(struct alb_target *t, struct loop *loop)
{
	if (atomic_fetch_sub(&t->refs, 1) == 1)
		loop_defer_free(loop, t);
}

/* Takes t out of its group (control thread); the workers close their idle
 * connections to it and fail the requests still on it with 502 when they
 * move to the next snapshot; it is freed with the last reference. */
static void target_remove(struct alb_target *t)
{
	struct alb_tg *g = &t->a->tgs[t->tg];
	struct alb *a = t->a;

	alb__hc_stop(t);
	loop_timer_stop(a->loop, &t->drain_timer);
	memmove(&g->t[t->idx], &g->t[t->idx + 1], (g->n - t->idx - 1) * sizeof(g->t[0]));
	memmove(&g->states[t->idx], &g->states[t->idx + 1],
		(g->n - t->idx - 1) * sizeof(g->states[0]));
	g->n--;
	for (size_t i = t->idx; i < g->n; i++)
		g->t[i]->idx = i;
	t->removed = true;
	/* AWS: requests still running when the delay expires get 502 */
	atomic_store(&t->closed, true);
	atomic_store(&t->dead, true);
	if (!atomic_load(&a->stopping) && alb__publish(a) < 0)
		log_warn("out of memory for a snapshot: workers see the removal later");
	if (a->hfn)
		a->hfn(a->hdata, t->tg, t->addr, t->port, ALB_TARGET_UNUSED);
	alb__target_unref(t, a->loop); /* the group's */
}

static void on_drained(struct loop *loop, struct loop_timer *tm)
{
	(void)loop;
	target_remove(tm->data);
}

static struct alb_target *target_find(struct alb_tg *g, uint32_t addr, uint16_t port)
{
	for (size_t i = 0; i < g->n; i++)
		if (g->t[i]->addr == addr && g->t[i]->port == port)
			return g->t[i];
	return NULL;
}

/* Puts a target into service the way AWS does for its group. */
static void target_activate(struct alb_target *t)
{
	const struct model_target_group *mtg = &t->a->m->tgs[t->tg];
	if (!t->a->tgs[t->tg].used) {
		alb__target_set(t, ALB_TARGET_UNUSED, "Target.NotInUse", NULL);
	} else if (!mtg->hc.enabled) {
		alb__target_set(t, ALB_TARGET_UNAVAILABLE, "Target.HealthCheckDisabled", NULL);
	} else {
		alb__target_set(t, ALB_TARGET_INITIAL, "Elb.RegistrationInProgress", NULL);
		alb__hc_start(t);
	}
}

int alb_target_register(struct alb *a, int tg, uint32_t addr, uint16_t port)
{
	struct alb_tg *g;
	struct alb_target *t;

	if (tg < 0 || (size_t)tg >= a->ntgs)
		return -EINVAL;
	g = &a->tgs[tg];
	t = target_find(g, addr, port);
	if (t) {
		if (t->state == ALB_TARGET_DRAINING) {
			loop_timer_stop(a->loop, &t->drain_timer);
			atomic_store(&t->closed, false);
			target_activate(t);
		}
		return 0;
	}
	if (g->n == g->cap) {
		size_t cap = g->cap ? g->cap * 2 : 8;
		struct alb_target **nt = realloc(g->t, cap * sizeof(*nt));
		enum alb_target_state *ns;
		if (!nt)
			return -ENOMEM;
		g->t = nt;
		ns = realloc(g->states, cap * sizeof(*ns));
		if (!ns)
			return -ENOMEM;
		g->states = ns;
		g->cap = cap;
	}
	t = calloc(1, sizeof(*t) + (size_t)a->nworkers * sizeof(t->w[0]));
	if (!t)
		return -ENOMEM;
	atomic_init(&t->refs, 1); /* the group's */
	atomic_init(&t->closed, false);
	atomic_init(&t->dead, false);
	atomic_init(&t->inflight, 0);
	t->a = a;
	t->tg = tg;
	t->addr = addr;
	t->port = port;
	t->idx = g->n;
	t->state = ALB_TARGET_INITIAL;
	loop_timer_init(&t->drain_timer, on_drained, t);
	alb__hc_init(t);
	g->t[g->n] = t;
	g->states[g->n] = ALB_TARGET_INITIAL;
	g->n++;
	target_activate(t);
	/* initial is no state change, but the workers must see the target
	 * (initial targets count for fail-open) */
	return alb__publish(a);
}

int alb_target_deregister(struct alb *a, int tg, uint32_t addr, uint16_t port)
{
	struct alb_target *t;
	int delay;

	if (tg < 0 || (size_t)tg >= a->ntgs)
		return -EINVAL;
	t = target_find(&a->tgs[tg], addr, port);
	if (!t || t->state == ALB_TARGET_DRAINING)
		return 0;
	alb__hc_stop(t);
	/* no worker sends it new requests once the snapshot says draining;
	 * idle connections close as each worker moves to it */
	atomic_store(&t->closed, true);
	alb__target_set(t, ALB_TARGET_DRAINING, "Target.DeregistrationInProgress", NULL);
	delay = a->m->tgs[tg].deregistration_delay_s;
	loop_timer_start(a->loop, &t->drain_timer, (uint64_t)(delay > 0 ? delay : 0) * 1000u);
	return 0;
}

size_t alb_target_list(const struct alb *a, int tg, struct alb_target_info *out, size_t cap)
{
	const struct alb_tg *g;
	if (tg < 0 || (size_t)tg >= a->ntgs)
		return 0;
	g = &a->tgs[tg];
	for (size_t i = 0; i < g->n && i < cap; i++) {
		const struct alb_target *t = g->t[i];
		out[i].addr = t->addr;
		out[i].port = t->port;
		out[i].state = t->state;
		out[i].reason = t->reason;
		out[i].description = t->desc[0] ? t->desc : NULL;
	}
	return g->n;
}

void alb_on_health(struct alb *a, alb_health_fn fn, void *data)
{
	a->hfn = fn;
	a->hdata = data;
}

/* --- upstream connections --- */

/* u no longer carries a request of c (LOR's in-flight count). */
static void up_detach(struct alb_up *u)
{
	if (!u->c)
		return;
	u->c->up = NULL;
	u->c = NULL;
	atomic_fetch_sub_explicit(&u->t->inflight, 1, memory_order_relaxed);
}

static void up_attach(struct alb_up *u, struct alb_conn *c)
{
	u->c = c;
	c->up = u;
	atomic_fetch_add_explicit(&u->t->inflight, 1, memory_order_relaxed);
}

static void up_close(struct alb_up *u)
{
	struct alb_worker *w = u->w;
	loop_io_del(w->loop, &u->io);
	loop_timer_stop(w->loop, &u->idle);
	close(u->fd);
	up_detach(u);
	alb__target_unref(u->t, w->loop);
	loop_defer_free(w->loop, u);
}

static void on_up_io(struct loop *loop, struct loop_io *io, uint32_t ev);

/* An idle pooled connection that becomes readable was closed by the target
 * (or sent garbage): either way it can no longer be used. */
static void pool_unlink_close(struct alb_up *u)
{
	struct alb_wslot *ws = &u->t->w[u->w->id];
	struct alb_up **pp;
	for (pp = &ws->pool; *pp; pp = &(*pp)->next) {
		if (*pp == u) {
			*pp = u->next;
			ws->npool--;
			break;
		}
	}
	up_close(u);
}

static void on_pooled_io(struct loop *loop, struct loop_io *io, uint32_t ev)
{
	(void)loop;
	(void)ev;
	pool_unlink_close(io->data);
}

/* AWS closes back-end connections idle for the LB's idle timeout. */
static void on_pooled_idle(struct loop *loop, struct loop_timer *tm)
{
	(void)loop;
	pool_unlink_close(tm->data);
}

/* The most recently pooled connection to t, or NULL. No look at the
 * socket first (that was a MSG_PEEK syscall per reuse): a connection the
 * target closed has had its event delivered and is gone, unless the close
 * races the reuse, and then the request is sent again on a fresh
 * connection (up_retry). */
static struct alb_up *pool_take(struct alb_worker *w, struct alb_target *t)
{
	struct alb_wslot *ws = &t->w[w->id];
	struct alb_up *u = ws->pool;
	if (!u)
		return NULL;
	ws->pool = u->next;
	ws->npool--;
	u->next = NULL;
	loop_timer_stop(w->loop, &u->idle);
	return u;
}

/* The pool takes u over: the socket stays registered with epoll (the pool
 * becomes its owner), watching for the target closing it. UP_WAIT is also
 * the mask while a response is awaited, so a keep-alive request costs no
 * epoll_ctl on the target side. */
static void pool_put(struct alb_up *u)
{
	struct alb_target *t = u->t;
	struct alb_wslot *ws = &t->w[u->w->id];
	up_detach(u);
	loop_io_set_owner(&u->io, on_pooled_io, u);
	if (atomic_load_explicit(&t->closed, memory_order_acquire) || ws->npool >= POOL_MAX ||
	    loop_io_mod(u->w->loop, &u->io, UP_WAIT) < 0) {
		up_close(u);
		return;
	}
	u->next = ws->pool;
	ws->pool = u;
	ws->npool++;
	loop_timer_start(u->w->loop, &u->idle, u->idle_ms);
}

/* --- client connections --- */

static void log_finish(struct alb_conn *c, int elb_status);

/* Closes c. A request still open in the access log ends with it: with the
 * target's status when its response had begun (a WebSocket's 101 too),
 * else 460, ALB's code for a client that went away first. */
static void conn_close(struct alb_conn *c)
{
	struct alb_worker *w = c->w;
	if (c->dead)
		return;
	if (c->lr.on)
		log_finish(c, c->lr.target_status ? c->lr.target_status : 460);
	c->dead = true;
	if (c->up)
		up_close(c->up);
	loop_timer_stop(w->loop, &c->timer);
	loop_io_del(w->loop, &c->io);
	close(c->fd);
	if (c->prev)
		c->prev->next = c->next;
	else
		w->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	buf_give(w, &c->cin);
	buf_give(w, &c->cout);
	buf_give(w, &c->uin);
	buf_give(w, &c->uout);
	loop_defer_free(w->loop, c);
}

static void fmt_date(char *buf, size_t n)
{
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(buf, n, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

/* Writes worker w's buffered access-log lines (whole lines only). */
static void log_write(struct alb_worker *w)
{
	size_t off = 0;
	while (off < w->logn && w->a->log_fd >= 0) {
		ssize_t k = write(w->a->log_fd, w->logb + off, w->logn - off);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break; /* disk full or such: the lines are lost, not the requests */
		off += (size_t)k;
	}
	w->logn = 0;
}

/* Reason phrases for the codes of fixed-response and redirect actions too
 * (RFC 9110); the ALB's own error codes keep http_status_reason's. */
static const char *reply_reason(int status)
{
	static const struct {
		int code;
		const char *reason;
	} more[] = {{201, "Created"},
		    {202, "Accepted"},
		    {203, "Non-Authoritative Information"},
		    {204, "No Content"},
		    {205, "Reset Content"},
		    {206, "Partial Content"},
		    {301, "Moved Permanently"},
		    {302, "Found"},
		    {401, "Unauthorized"},
		    {402, "Payment Required"},
		    {406, "Not Acceptable"},
		    {407, "Proxy Authentication Required"},
		    {409, "Conflict"},
		    {410, "Gone"},
		    {411, "Length Required"},
		    {412, "Precondition Failed"},
		    {415, "Unsupported Media Type"},
		    {416, "Range Not Satisfiable"},
		    {417, "Expectation Failed"},
		    {421, "Misdirected Request"},
		    {422, "Unprocessable Content"},
		    {426, "Upgrade Required"},
		    {428, "Precondition Required"},
		    {429, "Too Many Requests"},
		    {431, "Request Header Fields Too Large"},
		    {451, "Unavailable For Legal Reasons"},
		    {506, "Variant Also Negotiates"},
		    {507, "Insufficient Storage"},
		    {508, "Loop Detected"},
		    {511, "Network Authentication Required"}};
	const char *r = http_status_reason(status);
	if (strcmp(r, "Unknown") != 0)
		return r;
	for (size_t i = 0; i < sizeof(more) / sizeof(more[0]); i++)
		if (more[i].code == status)
			return more[i].reason;
	return "";
}

/* Queues an ALB-generated response: the standard error page, or ctype and
 * body (fixed-response), with extra header lines (a redirect's Location).
 * Afterwards the connection carries on with the next request (keep) or
 * closes once the response is out. */
static void conn_reply_ex(struct alb_conn *c, int status, const char *extra, const char *ctype,
			  const char *fbody)
{
	char body[320], head[1200], date[64];
	const char *reason = reply_reason(status);
	bool keep;
	int bn, hn;

	if (c->resp_started) {
		/* part of a response is already out: no way to signal */
		conn_close(c);
		return;
	}
	if (c->up)
		up_close(c->up);
	keep = c->client_keep && c->rq.done && c->rq.ready == 0 && !c->client_eof &&
	       status != 400 && status != 408 && status != 414 && status != 501;
	if (ctype || fbody) {
		bn = fbody ? (int)strlen(fbody) : 0;
	} else {
		bn = snprintf(body, sizeof(body),
			      "<html>\r\n<head><title>%d %s</title></head>\r\n<body>\r\n"
			      "<center><h1>%d %s</h1></center>\r\n</body>\r\n</html>\r\n",
			      status, reason, status, reason);
		fbody = body;
		ctype = "text/html";
	}
	fmt_date(date, sizeof(date));
	hn = snprintf(head, sizeof(head),
		      "HTTP/1.1 %d %s\r\nServer: awselb/2.0\r\nDate: %s\r\n"
		      "%s%s%sContent-Length: %d\r\n%sConnection: %s\r\n\r\n",
		      status, reason, date, ctype ? "Content-Type: " : "", ctype ? ctype : "",
		      ctype ? "\r\n" : "", bn, extra ? extra : "", keep ? "keep-alive" : "close");
	if (hn < 0 || (size_t)hn >= sizeof(head) || abuf_put(&c->cout, head, (size_t)hn) < 0 ||
	    (!c->head_req && abuf_put(&c->cout, fbody ? fbody : "", (size_t)bn) < 0)) {
		conn_close(c);
		return;
	}
	log_finish(c, status);
	c->uin.off = c->uin.len = 0;
	c->rs = (struct body){0};
	if (keep) {
		c->ph = PH_HEAD;
	} else {
		c->ph = PH_CLOSING;
		c->close_after = true;
	}
}

static void conn_reply(struct alb_conn *c, int status)
{
	conn_reply_ex(c, status, NULL, NULL, NULL);
}

/* Trace id per the AWS format: Root=1-<8 hex epoch>-<24 hex random>. */
static void trace_id(char *out, size_t n)
{
	static _Thread_local uint64_t s; /* per worker thread */
	uint64_t r1, r2;
	if (!s)
		s = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32) ^ 0x9e3779b97f4a7c15ull ^
		    (uint64_t)(uintptr_t)&s;
	/* xorshift: unique enough for tracing, not a secret */
	s ^= s << 13;
	s ^= s >> 7;
	s ^= s << 17;
	r1 = s;
	s ^= s << 13;
	s ^= s >> 7;
	s ^= s << 17;
	r2 = s;
	snprintf(out, n, "Root=1-%08x-%08x%016llx", (unsigned)time(NULL), (unsigned)(r1 >> 32),
		 (unsigned long long)r2);
}

static bool is_hop_header(struct http_slice nm)
{
	return http_slice_ieq(nm, "connection") || http_slice_ieq(nm, "keep-alive") ||
	       http_slice_ieq(nm, "proxy-connection") || http_slice_ieq(nm, "te") ||
	       http_slice_ieq(nm, "upgrade") || http_slice_ieq(nm, "expect");
}

static int lower_put(struct abuf *b, const char *s, size_t n)
{
	int rc = abuf_reserve(b, n, SIZE_MAX / 2);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		b->p[b->len + i] = (ch >= 'A' && ch <= 'Z') ? (char)(ch + 32) : ch;
	}
	b->len += n;
	return 0;
}

/* The head sent to the target: HTTP/1.1 (1.0 for 1.0 clients), hop-by-hop headers dropped, Host
 * as received minus the default port (lower-cased, as AWS does), the
 * X-Forwarded-* set and a trace id. target and host are the request's, or
 * what the rule's transforms made of them. */
static int build_upstream_head(struct alb_conn *c, const struct http_request *r,
                               struct http_slice target, const char *host, size_t hostlen)
{
	struct abuf *b = &c->uout;
	bool have_trace = false;
	char ab[16], line[160];
	int rc = 0, n;

	b->off = b->len = 0;
	rc |= abuf_put(b, r->method.p, r->method.n);
	rc |= abuf_puts(b, " ");
	rc |= abuf_put(b, target.p, target.n);
	/* an HTTP/1.0 client goes out as 1.0, so that the target does not
	 * answer with chunked coding the client cannot read */
	rc |= abuf_puts(b, r->minor == 0 ? " HTTP/1.0\r\nHost: " : " HTTP/1.1\r\nHost: ");
	if (host)
		rc |= lower_put(b, host, hostlen);
	else
		rc |= abuf_puts(b, c->w->snap->m->lbs[c->w->snap->m->listeners[c->ls->listener].lb].dns_name
					   ? c->w->snap->m->lbs[c->w->snap->m->listeners[c->ls->listener].lb].dns_name
					   : "localhost");
	rc |= abuf_puts(b, "\r\n");
	for (size_t i = 0; i < r->nheaders; i++) {
		const struct http_header *h = &r->headers[i];
		if (c->upgrade && http_slice_ieq(h->name, "upgrade")) {
			/* kept: the target must see the upgrade request */
		} else if (http_slice_ieq(h->name, "host") || is_hop_header(h->name) ||
		    http_slice_ieq(h->name, "x-forwarded-proto") ||
		    http_slice_ieq(h->name, "x-forwarded-port"))
			continue;
		if (http_slice_ieq(h->name, "x-forwarded-for"))
			continue; /* all of them, joined below */
		if (http_slice_ieq(h->name, "x-amzn-trace-id")) {
			have_trace = true;
			snprintf(c->lr.trace, sizeof(c->lr.trace), "%.*s",
				 (int)(h->value.n < 90 ? h->value.n : 90), h->value.p);
		}
		rc |= abuf_put(b, h->name.p, h->name.n);
		rc |= abuf_puts(b, ": ");
		rc |= abuf_put(b, h->value.p, h->value.n);
		rc |= abuf_puts(b, "\r\n");
	}
	if (c->upgrade)
		rc |= abuf_puts(b, "Connection: upgrade\r\n");
	rc |= abuf_puts(b, "X-Forwarded-For: ");
	/* several X-Forwarded-For lines are one list (RFC 9110 5.3), in order */
	for (size_t i = 0; i < r->nheaders; i++) {
		const struct http_header *h = &r->headers[i];
		if (h->value.n && http_slice_ieq(h->name, "x-forwarded-for")) {
			rc |= abuf_put(b, h->value.p, h->value.n);
			rc |= abuf_puts(b, ", ");
		}
	}
	rc |= abuf_puts(b, addr4_str(c->caddr, ab));
	n = snprintf(line, sizeof(line), "\r\nX-Forwarded-Proto: http\r\nX-Forwarded-Port: %u\r\n",
		     c->ls->port);
	rc |= abuf_put(b, line, (size_t)n);
	if (!have_trace) {
		char tid[64];
		trace_id(tid, sizeof(tid));
		snprintf(c->lr.trace, sizeof(c->lr.trace), "%s", tid);
		n = snprintf(line, sizeof(line), "X-Amzn-Trace-Id: %s\r\n", tid);
		rc |= abuf_put(b, line, (size_t)n);
	}
	rc |= abuf_puts(b, "\r\n");
	return rc ? -ENOMEM : 0;
}

static void timer_arm(struct alb_conn *c)
{
	const struct model *m = c->w->snap->m;
	const struct model_lb *lb = &m->lbs[m->listeners[c->ls->listener].lb];
	uint64_t idle = (uint64_t)(lb->idle_timeout_s > 0 ? lb->idle_timeout_s : 60) * 1000u;
	loop_timer_start(c->w->loop, &c->timer, c->ph == PH_CONNECT ? CONNECT_TIMEOUT_MS : idle);
	c->timer_ph = c->ph;
	c->active = false;
}

static void on_conn_timer(struct loop *loop, struct loop_timer *tm)
{
	struct alb_conn *c = tm->data;
	(void)loop;
	switch (c->ph) {
	case PH_HEAD:
		if (abuf_avail(&c->cin) > 0)
			conn_reply(c, 408);
		else
			conn_close(c);
		break;
	case PH_CONNECT:
		conn_reply(c, 504);
		break;
	case PH_FORWARD:
		if (!c->resp_started)
			conn_reply(c, 504);
		else
			conn_close(c);
		break;
	case PH_CLOSING:
		conn_close(c);
		break;
	}
	if (!c->dead)
		conn_progress(c);
	if (!c->dead)
		conn_arm(c);
}

/* Sets epoll interest for both sockets from the state, and the timer. */
static void conn_arm(struct alb_conn *c)
{
	uint32_t ce = 0, ue = 0;
	struct loop *loop = c->w->loop;

	if (c->dead)
		return;
	if (c->lingering) {
		if (loop_io_mod(loop, &c->io, EPOLLIN | EPOLLRDHUP) < 0)
			conn_close(c);
		return;
	}
	if (!c->client_eof) {
		/* RDHUP only while the half-close is news: level-triggered,
		 * it would fire on every wait afterwards */
		ce |= EPOLLRDHUP;
		/* while a request runs, bytes after its body (a pipelined
		 * request) are read into cin too, as long as there is room:
		 * so the mask stays EPOLLIN|EPOLLRDHUP over a keep-alive
		 * exchange and costs no epoll_ctl */
		if (c->ph == PH_HEAD && abuf_avail(&c->cout) < COUT_HIGH)
			ce |= EPOLLIN;
		else if ((c->ph == PH_CONNECT || c->ph == PH_FORWARD) && cin_room(c) > 0)
			ce |= EPOLLIN;
	}
	if (abuf_avail(&c->cout) > 0 || c->rs.ready > 0)
		ce |= EPOLLOUT;
	if (loop_io_mod(loop, &c->io, ce) < 0) {
		conn_close(c);
		return;
	}
	if (c->up) {
		struct alb_up *u = c->up;
		if (!u->connected)
			ue = EPOLLOUT;
		else {
			if (abuf_avail(&c->uout) > 0 || c->rq.ready > 0)
				ue |= EPOLLOUT;
			if (c->ph == PH_FORWARD && !u->eof && !c->rs.done &&
			    (abuf_room(&c->uin) > 0 || (!c->resp_started && c->uin.cap < UIN_CAP)))
				ue |= UP_WAIT;
		}
		if (loop_io_mod(loop, &u->io, ue) < 0) {
			conn_reply(c, 502);
			conn_arm(c);
			return;
		}
	}
	if (c->timer_ph != c->ph || !loop_timer_armed(&c->timer) ||
	    (c->active && c->ph != PH_CONNECT))
		timer_arm(c);
	if (c->ph == PH_HEAD && !c->up && abuf_avail(&c->cin) == 0 && abuf_avail(&c->cout) == 0) {
		/* idle between requests: nothing buffered is needed, so an
		 * idle keep-alive connection costs its struct, not 32 KiB */
		if (c->cin.cap)
			buf_give(c->w, &c->cin);
		if (c->uin.cap)
			buf_give(c->w, &c->uin);
		if (c->cout.cap)
			buf_give(c->w, &c->cout);
		if (c->uout.cap)
			buf_give(c->w, &c->uout);
	}
}

/* Advances b over the bytes after the ready ones; 0 or HTTP_MALFORMED. */
static int body_scan(struct body *b, struct abuf *buf)
{
	const char *p = buf->p + buf->off + b->ready;
	size_t n = buf->len - buf->off - b->ready;

	if (b->done || n == 0)
		return 0;
	switch (b->kind) {
	case HTTP_BODY_NONE:
		b->done = true;
		break;
	case HTTP_BODY_LENGTH: {
		size_t take = n;
		if ((uint64_t)take > b->left)
			take = (size_t)b->left;
		b->ready += take;
		b->left -= take;
		if (b->left == 0)
			b->done = true;
		break;
	}
	case HTTP_BODY_CHUNKED:
		while (n > 0 && !http_chunked_done(&b->ch)) {
			long k = http_chunked_parse(&b->ch, p, n, NULL);
			if (k < 0)
				return HTTP_MALFORMED;
			p += k;
			n -= (size_t)k;
			b->ready += (size_t)k;
		}
		if (http_chunked_done(&b->ch))
			b->done = true;
		break;
	case HTTP_BODY_CLOSE:
		b->ready += n;
		break;
	}
	return 0;
}

static void body_start(struct body *b, const struct http_framing *f)
{
	*b = (struct body){0};
	b->kind = f->kind;
	b->left = f->length;
	b->done = f->kind == HTTP_BODY_NONE || (f->kind == HTTP_BODY_LENGTH && f->length == 0);
}

static void on_client_io(struct loop *loop, struct loop_io *io, uint32_t ev);

/* Gives c a connection to t: a pooled one unless fresh. */
static void upstream_attach(struct alb_conn *c, struct alb_target *t, bool fresh)
{
	struct alb_up *u;
	int fd;

	if (c->uin.cap == 0 && buf_take(c->w, &c->uin) < 0) {
		conn_reply(c, 503);
		return;
	}
	u = fresh ? NULL : pool_take(c->w, t);
	if (u) {
		u->reused = true;
		/* still registered: only the owner changes; conn_arm sets
		 * the mask (unchanged from the pool's when the head is sent
		 * at once) */
		up_attach(u, c);
		loop_io_set_owner(&u->io, on_up_io, u);
		c->ph = PH_FORWARD;
		return;
	}
	u = calloc(1, sizeof(*u));
	if (!u) {
		conn_reply(c, 503);
		return;
	}
	fd = sock_connect4(t->addr, t->port);
	if (fd < 0) {
		free(u);
		conn_reply(c, fd == -ETIMEDOUT ? 504 : 502);
		return;
	}
	u->w = c->w;
	u->t = t;
	u->fd = fd;
	loop_timer_init(&u->idle, on_pooled_idle, u);
	{
		const struct model *m = c->w->snap->m;
		const struct model_lb *lb = &m->lbs[m->listeners[c->ls->listener].lb];
		u->idle_ms = (uint64_t)(lb->idle_timeout_s > 0 ? lb->idle_timeout_s : 60) * 1000u;
	}
	atomic_fetch_add(&t->refs, 1);
	up_attach(u, c);
	if (loop_io_add(c->w->loop, &u->io, fd, EPOLLOUT, on_up_io, u) < 0) {
		conn_reply(c, 502);
		return;
	}
	c->ph = PH_CONNECT;
}

/* Addresses in the request's X-Forwarded-For lines (comma separated;
 * several lines are one list). */
static size_t xff_count(const struct http_request *r)
{
	size_t n = 0;
	for (size_t k = 0; k < r->nheaders; k++) {
		struct http_slice v = r->headers[k].value;
		if (!v.n || !http_slice_ieq(r->headers[k].name, "x-forwarded-for"))
			continue;
		n++;
		for (size_t i = 0; i < v.n; i++)
			n += v.p[i] == ',';
	}
	return n;
}

static double secs_since(const struct timespec *t0)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - t0->tv_sec) + (double)(now.tv_nsec - t0->tv_nsec) / 1e9;
}

/* A rewritten value for the access log: cut to fit, '"' as '\'' (as the
 * request field), lower-cased for a host (as it is sent on). */
static void log_copy(char *dst, size_t cap, const char *s, size_t n, bool lower)
{
	if (n >= cap)
		n = cap - 1;
	for (size_t i = 0; i < n; i++)
		dst[i] = s[i] == '"'                           ? '\''
		         : lower && s[i] >= 'A' && s[i] <= 'Z' ? (char)(s[i] + 32)
		                                               : s[i];
	dst[n] = 0;
}

/* Starts the access-log record of request r (head of n bytes). */
static void log_begin(struct alb_conn *c, const struct http_request *r, long n)
{
	struct alb_logrec *lr = &c->lr;
	const struct http_header *h;
	const struct http_header *hh = http_header_find(r->headers, r->nheaders, "host");
	char ab[16];

	memset(lr, 0, offsetof(struct alb_logrec, request));
	lr->on = true;
	lr->tg = -1;
	lr->prio = -1;
	lr->target_s = -1;
	lr->actions = NULL;
	lr->trace[0] = lr->redirect[0] = lr->xhost[0] = lr->xuri[0] = 0;
	lr->rx_base = c->rx_total - abuf_avail(&c->cin);
	lr->tx_base = c->tx_total + abuf_avail(&c->cout);
	(void)n;
	clock_gettime(CLOCK_MONOTONIC, &lr->t0);
	/* "GET http://host:port/path HTTP/1.1", the URL as the client sent it */
	if (r->target.n && r->target.p[0] != '/' && r->target.p[0] != '*') {
		/* absolute form: the URL as sent */
		snprintf(lr->request, sizeof(lr->request), "%.*s %.*s HTTP/1.%d", (int)r->method.n,
			 r->method.p, (int)(r->target.n < 500 ? r->target.n : 500), r->target.p,
			 r->minor);
	} else if (hh) {
		size_t hn = hh->value.n;
		const char *colon = memchr(hh->value.p, ':', hn);
		snprintf(lr->request, sizeof(lr->request), "%.*s http://%.*s:%u%.*s HTTP/1.%d",
			 (int)r->method.n, r->method.p, (int)(colon ? (size_t)(colon - hh->value.p) : hn),
			 hh->value.p, c->ls->port, (int)(r->target.n < 400 ? r->target.n : 400),
			 r->target.p, r->minor);
	} else {
		snprintf(lr->request, sizeof(lr->request), "%.*s http://%s:%u%.*s HTTP/1.%d",
			 (int)r->method.n, r->method.p, addr4_str(c->ls->addr, ab), c->ls->port,
			 (int)(r->target.n < 400 ? r->target.n : 400), r->target.p, r->minor);
	}
	h = http_header_find(r->headers, r->nheaders, "user-agent");
	snprintf(lr->ua, sizeof(lr->ua), "%.*s", h ? (int)(h->value.n < 250 ? h->value.n : 250) : 1,
		 h ? h->value.p : "-");
	for (char *p = lr->request; *p; p++)
		if (*p == '"')
			*p = '\'';
	for (char *p = lr->ua; *p; p++)
		if (*p == '"')
			*p = '\'';
}

/* ISO 8601 with microseconds; the part up to the second is formatted once
 * per second (cache in a: most lines of a second share it). */
static void fmt_time_us(struct alb_worker *a, char *out, size_t n, const struct timespec *rt)
{
	if (!a->tcache_len || a->tcache_sec != rt->tv_sec) {
		struct tm tm;
		gmtime_r(&rt->tv_sec, &tm);
		a->tcache_len = strftime(a->tcache, sizeof(a->tcache), "%Y-%m-%dT%H:%M:%S", &tm);
		a->tcache_sec = rt->tv_sec;
	}
	snprintf(out, n, "%.*s.%06ldZ", (int)a->tcache_len, a->tcache, rt->tv_nsec / 1000);
}

static void count_status(struct alb_counters *k, int elb_status, int target_status)
{
	alb__cnt_add(&k->requests, 1);
	if (target_status) {
		uint64_t *f = target_status / 100 == 2   ? &k->target_2xx
			      : target_status / 100 == 3 ? &k->target_3xx
			      : target_status / 100 == 4 ? &k->target_4xx
			      : target_status / 100 == 5 ? &k->target_5xx
							 : NULL;
		if (f)
			alb__cnt_add(f, 1);
		return;
	}
	if (elb_status / 100 == 3)
		alb__cnt_add(&k->elb_3xx, 1);
	if (elb_status / 100 == 4)
		alb__cnt_add(&k->elb_4xx, 1);
	if (elb_status / 100 == 5)
		alb__cnt_add(&k->elb_5xx, 1);
	if (elb_status == 502)
		alb__cnt_add(&k->elb_502, 1);
	if (elb_status == 503)
		alb__cnt_add(&k->elb_503, 1);
	if (elb_status == 504)
		alb__cnt_add(&k->elb_504, 1);
}

/* Ends the record: counts it and writes the access-log line. A response
 * the ALB generated has no target status. */
static void log_finish(struct alb_conn *c, int elb_status)
{
	struct alb_worker *a = c->w;
	struct alb_logrec *lr = &c->lr;
	const struct model *m = a->snap->m;
	const struct model_lb *lb = &m->lbs[m->listeners[c->ls->listener].lb];
	struct alb_counters *lk = &a->lb_cnt[m->listeners[c->ls->listener].lb];
	char now_s[40], t0_s[40], ca[16], ta[16], target[32], tstatus[8], prio[12], line[4096];
	int len;
	struct timespec rt, mono;
	double req_s, resp_s;
	const char *dclass, *dreason;

	if (!lr->on) {
		/* a request that could not be parsed */
		memset(lr, 0, offsetof(struct alb_logrec, request));
		lr->tg = lr->prio = -1;
		lr->target_s = -1;
		snprintf(lr->request, sizeof(lr->request), "- - - ");
		snprintf(lr->ua, sizeof(lr->ua), "-");
		lr->trace[0] = lr->redirect[0] = lr->xhost[0] = lr->xuri[0] = 0;
		lr->rx_base = 0;
		lr->tx_base = c->tx_total;
		clock_gettime(CLOCK_MONOTONIC, &lr->t0);
	}
	lr->on = false;
	count_status(lk, elb_status, lr->target_status);
	if (lr->tg >= 0 && (size_t)lr->tg < a->snap->ntgs) {
		struct alb_counters *gk = &a->tg_cnt[lr->tg];
		count_status(gk, elb_status, lr->target_status);
		if (lr->target_status) {
			alb__cnt_add(&gk->trt_count, 1);
			alb__cnt_add(&gk->trt_us, (uint64_t)(lr->target_s * 1e6 + 0.5));
		}
	}
	if (lr->actions && strcmp(lr->actions, "fixed-response") == 0)
		alb__cnt_add(&lk->fixed_response, 1);
	if (lr->actions && strcmp(lr->actions, "redirect") == 0)
		alb__cnt_add(&lk->redirect, 1);
	dclass = c->dclass ? c->dclass : "-";
	dreason = c->dreason ? c->dreason : "-";
	c->dclass = c->dreason = NULL; /* the next record is classified anew */
	if (a->a->log_fd < 0)
		return;
	clock_gettime(CLOCK_REALTIME, &rt);
	clock_gettime(CLOCK_MONOTONIC, &mono);
	{
		/* request_creation_time: when the request head was complete */
		double age = (double)(mono.tv_sec - lr->t0.tv_sec) +
			     (double)(mono.tv_nsec - lr->t0.tv_nsec) / 1e9;
		struct timespec ct = rt;
		long long ns = (long long)(age * 1e9);
		ct.tv_sec -= (time_t)(ns / 1000000000ll);
		ct.tv_nsec -= (long)(ns % 1000000000ll);
		if (ct.tv_nsec < 0) {
			ct.tv_nsec += 1000000000l;
			ct.tv_sec--;
		}
		fmt_time_us(a, t0_s, sizeof(t0_s), &ct);
	}
	fmt_time_us(a, now_s, sizeof(now_s), &rt);
	if (lr->target_s >= 0) {
		req_s = (double)(lr->t_disp.tv_sec - lr->t0.tv_sec) +
			(double)(lr->t_disp.tv_nsec - lr->t0.tv_nsec) / 1e9;
		resp_s = 0.0;
	} else {
		req_s = resp_s = -1;
	}
	if (lr->taddr)
		snprintf(target, sizeof(target), "%s:%u", addr4_str(lr->taddr, ta), lr->tport);
	else
		snprintf(target, sizeof(target), "-");
	if (lr->target_status)
		snprintf(tstatus, sizeof(tstatus), "%d", lr->target_status);
	else
		snprintf(tstatus, sizeof(tstatus), "-");
	if (lr->prio >= 0)
		snprintf(prio, sizeof(prio), "%d", lr->prio);
	else
		snprintf(prio, sizeof(prio), "-");
	len =
	    snprintf(line, sizeof(line),
	             "%s %s %s %s:%u %s %.3f %.3f %.3f %d %s %llu %llu \"%s\" \"%s\" - - %s \"%s\" "
	             "\"%s\" \"-\" %s %s \"%s\" \"%s\" \"%s\" \"%s\" \"%s\" \"%s\" \"%s\" - \"%s\" "
	             "\"%s\" \"-\"\n",
	             c->upgrade && lr->target_status == 101 ? "ws" : "http", now_s,
	             lb->full_name ? lb->full_name : "-", addr4_str(c->caddr, ca), c->peer_port,
	             target, req_s, lr->target_s, resp_s, elb_status, tstatus,
	             (unsigned long long)(c->rx_total - abuf_avail(&c->cin) - lr->rx_base),
	             (unsigned long long)(c->tx_total + abuf_avail(&c->cout) - lr->tx_base),
	             lr->request, lr->ua, lr->tg >= 0 ? m->tgs[lr->tg].arn : "-",
	             lr->trace[0] ? lr->trace : "-", lr->request[0] == '-' ? "-" : "-", prio, t0_s,
	             lr->actions ? lr->actions : "-", lr->redirect[0] ? lr->redirect : "-",
	             lr->error_reason ? lr->error_reason : "-", lr->taddr ? target : "-", tstatus,
	             dclass, dreason, lr->xhost[0] ? lr->xhost : "-", lr->xuri[0] ? lr->xuri : "-");
	if (len < 0)
		return;
	if ((size_t)len >= sizeof(line)) {
		/* cut, but still one line */
		len = (int)sizeof(line) - 1;
		line[len - 1] = '\n';
	}
	/* lines wait in the worker's buffer, written whole (one write() per
	 * flush on the O_APPEND fd, so workers' lines never interleave) when
	 * it fills, or by the timer within a second (ALB itself delivers
	 * every 5 minutes) */
	if (a->logn + (size_t)len > LOG_BUF)
		log_write(a);
	memcpy(a->logb + a->logn, line, (size_t)len);
	a->logn += (size_t)len;
	if (!loop_timer_armed(&a->log_flush))
		loop_timer_start(a->loop, &a->log_flush, LOG_FLUSH_MS);
}

/* Sets the AWSALBTG cookies for target group tg on the coming response. */
static void sticky_cookie(struct alb_conn *c, const struct model_action *act, int tg)
{
	char v[17], exp[64];
	time_t t = time(NULL) + act->tg_sticky_s;
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(exp, sizeof(exp), "%a, %d %b %Y %H:%M:%S GMT", &tm);
	alb_tg_cookie_value(c->w->snap->m, tg, v);
	snprintf(c->cookie, sizeof(c->cookie),
		 "Set-Cookie: AWSALBTG=%s; Expires=%s; Path=/\r\n"
		 "Set-Cookie: AWSALBTGCORS=%s; Expires=%s; Path=/; SameSite=None; Secure\r\n",
		 v, exp, v, exp);
}

/* fixed-response and redirect: the ALB answers itself. */
static void answer_action(struct alb_conn *c, const struct model_action *act,
			  const struct alb_req_view *rv)
{
	const struct model_listener *l = &c->w->snap->m->listeners[c->ls->listener];
	char extra[560];

	if (act->type == MODEL_ACTION_FIXED_RESPONSE) {
		c->lr.actions = "fixed-response";
		conn_reply_ex(c, act->status, NULL, act->content_type ? act->content_type : "text/plain",
			      act->body ? act->body : "");
		return;
	}
	struct alb_redirect_in in = {
	    .protocol = l->protocol,
	    .host = {rv->host ? rv->host : "", rv->host ? rv->hostlen : 0},
	    .port = l->port,
	    .path = rv->path,
	    .query = rv->query,
	};
	if (!rv->host) {
		/* HTTP/1.0 without Host: the LB's name, as the target would get */
		const char *dn = c->w->snap->m->lbs[l->lb].dns_name;
		in.host = (struct http_slice){dn ? dn : "", dn ? strlen(dn) : 0};
	}
	/* the Host value without any port */
	const char *colon = in.host.n ? memchr(in.host.p, ':', in.host.n) : NULL;
	if (colon)
		in.host.n = (size_t)(colon - in.host.p);
	c->lr.actions = "redirect";
	if (alb_redirect_url(act, &in, c->lr.redirect, sizeof(c->lr.redirect)) < 0) {
		c->lr.redirect[0] = 0;
		conn_reply(c, 500);
		return;
	}
	snprintf(extra, sizeof(extra), "Location: %s\r\n", c->lr.redirect);
	conn_reply_ex(c, act->status, extra, NULL, NULL);
}

/* A full request head is in cin: decide and dispatch. */
static void start_request(struct alb_conn *c, struct http_request *r, long n)
{
	struct alb_worker *w = c->w;
	const struct alb_snap *snap = w->snap; /* one snapshot per request */
	const struct model *m = snap->m;
	struct http_framing f;
	const struct http_header *h;
	const char *host = NULL;
	size_t hostlen = 0;
	int rc, tgi, prio, ti;
	const struct alb_snap_target *st;
	struct alb_req_view rv = {0};
	const struct model_action *act;
	const struct model_rule *rule;
	struct alb_rewritten rw; /* what the rule's transforms made (16 KiB, not touched
	                          * for a rule without them) */
	struct http_slice target = r->target;

	log_begin(c, r, n);
	c->cookie[0] = 0;
	c->app_pending = false;
	c->resp_started = false;
	c->close_after = false;
	c->rs = (struct body){0};
	c->rq = (struct body){.done = true};
	c->client_keep = false;
	rc = http_request_framing(r, &f);
	if (rc < 0) {
		conn_reply(c, rc == HTTP_TE_UNSUPPORTED ? 501 : 400);
		return;
	}
	c->client_keep = f.keep_alive;
	if (c->desync_close) {
		/* Ambiguous in defensive mode: forwarded, then both connections
		 * close (the response says Connection: close) */
		c->client_keep = false;
		c->close_after = true;
	}
	c->client_minor = r->minor;
	c->upgrade = f.upgrade && r->minor == 1;
	c->head_req = r->method.n == 4 && memcmp(r->method.p, "HEAD", 4) == 0;
	if (r->method.n == 5 && memcmp(r->method.p, "TRACE", 5) == 0) {
		c->cin.off += (size_t)n;
		body_start(&c->rq, &f);
		conn_reply(c, 405);
		return;
	}
	h = http_header_find(r->headers, r->nheaders, "host");
	if (h) {
		host = h->value.p;
		hostlen = alb_host_strip_port(host, h->value.n, 80);
		/* with --port-offset the client's Host carries the shifted
		 * port of a port-80 listener: treat it as the default port,
		 * so routing is the same as without the offset */
		if (hostlen == h->value.n && c->ls->port == 80 && c->ls->bound_port != 80)
			hostlen = alb_host_strip_port(host, h->value.n, c->ls->bound_port);
	} else if (r->minor == 1) {
		conn_reply(c, 400); /* RFC 9112: a 1.1 request must carry Host */
		return;
	}
	/* AWS: an Expect header is answered at once with 100 Continue,
	 * "without testing the content length header", removed, and the
	 * request routed; the target's own 100 (if any) is not passed on, so
	 * the client sees exactly one. Never to an HTTP/1.0 client (RFC 9110). */
	c->continued = false;
	if (f.expect_continue && r->minor == 1) {
		if (abuf_puts(&c->cout, "HTTP/1.1 100 Continue\r\n\r\n") < 0) {
			conn_close(c);
			return;
		}
		c->continued = true;
	}
	rv.method = r->method;
	alb_split_target(r->target, &rv.path, &rv.query);
	rv.host = host;
	rv.hostlen = hostlen;
	rv.headers = r->headers;
	rv.nheaders = r->nheaders;
	rv.src = alb_src_vpc(m, c->caddr);
	act = alb_route_req(m, c->ls->listener, &rv, &prio);
	c->lr.prio = prio;
	if (act->type != MODEL_ACTION_FORWARD) {
		c->cin.off += (size_t)n;
		body_start(&c->rq, &f);
		answer_action(c, act, &rv);
		return;
	}
	c->lr.actions = "forward";
	/* transforms: after routing, before the target is picked; the access
	 * log keeps the request as received */
	rule = alb_action_rule(m, c->ls->listener, act);
	if (rule && (rule->host_rw.re || rule->url_rw.re)) {
		if (alb_transform(rule, host, hostlen, r->target, &rw) < 0) {
			c->cin.off += (size_t)n;
			body_start(&c->rq, &f);
			conn_reply(c, 500);
			return;
		}
		if (rw.host_set) {
			host = rw.host;
			hostlen = rw.hostlen;
			log_copy(c->lr.xhost, sizeof(c->lr.xhost), rw.host, rw.hostlen, true);
		}
		if (rw.url_set) {
			target = (struct http_slice){rw.url, rw.urllen};
			log_copy(c->lr.xuri, sizeof(c->lr.xuri), rw.url, rw.urllen, false);
		}
	}
	tgi = act->target_group;
	if (act->nfwd) {
		int sticky = act->tg_sticky
				 ? alb_tg_cookie_find(m, act, r->headers, r->nheaders)
				 : -1;
		w->rnd = w->rnd * 6364136223846793005ull + 1442695040888963407ull;
		tgi = alb_forward_pick(act, sticky, (uint32_t)(w->rnd >> 33));
		if (act->tg_sticky && tgi >= 0)
			sticky_cookie(c, act, tgi);
		if (sticky == -2)
			c->lr.error_reason = "AWSALBTGCookieInvalid";
	}
	c->lr.tg = tgi;
	if (tgi < 0 || (size_t)tgi >= snap->ntgs) {
		c->cin.off += (size_t)n;
		body_start(&c->rq, &f);
		conn_reply(c, 503);
		return;
	}
	if (m->tgs[tgi].protocol_version != MODEL_PV_HTTP1) {
		/* AWS's 464: an HTTP/1.1 request for a group whose targets
		 * speak HTTP/2 or gRPC; vpcd's listeners speak HTTP/1.1 only */
		c->cin.off += (size_t)n;
		body_start(&c->rq, &f);
		conn_reply(c, 464);
		return;
	}
	ti = alb__pick(w, tgi, r->headers, r->nheaders, c->cookie, sizeof(c->cookie),
		       &c->app_pending);
	if (xff_count(r) >= XFF_MAX_ADDRS) {
		c->cin.off += (size_t)n;
		body_start(&c->rq, &f);
		conn_reply(c, 463);
		return;
	}
	if (ti < 0 || build_upstream_head(c, r, target, host, hostlen) < 0) {
		c->cin.off += (size_t)n;
		body_start(&c->rq, &f);
		conn_reply(c, 503);
		return;
	}
	/* the head is copied into uout: from here on cin holds body bytes */
	c->cin.off += (size_t)n;
	body_start(&c->rq, &f);
	st = &snap->tgs[tgi].t[ti];
	c->lr.taddr = st->addr;
	c->lr.tport = st->port;
	clock_gettime(CLOCK_MONOTONIC, &c->lr.t_disp);
	c->uhead_len = c->uout.len;
	c->replayable = c->rq.done && c->rq.kind != HTTP_BODY_CLOSE && !c->upgrade;
	c->retried = c->up_rx = false;
	upstream_attach(c, st->t, false);
}

/* The request's reused target connection failed (write error, EOF or reset)
 * before anything came back: the target closed it while it sat in the pool
 * and the close raced the reuse. A request without a body is sent again,
 * once, on a fresh connection to the same target (its head is still in
 * uout); true when that is under way. */
static bool up_retry(struct alb_conn *c)
{
	struct alb_up *u = c->up;
	struct alb_target *t;

	if (!u || !u->reused || c->retried || !c->replayable || c->resp_started || c->up_rx ||
	    atomic_load(&u->t->dead))
		return false;
	t = u->t;
	atomic_fetch_add(&t->refs, 1); /* across up_close */
	up_close(u);
	c->retried = true;
	c->uin.off = c->uin.len = 0;
	c->uout.off = 0;
	c->uout.len = c->uhead_len;
	upstream_attach(c, t, true);
	alb__target_unref(t, c->w->loop);
	return true;
}

/* The response head is in uin: pass it on to the client, rewritten. */
static int start_response(struct alb_conn *c, struct http_response *r, long n)
{
	struct abuf *b = &c->cout;
	struct http_framing f;
	char line[64];
	int rc = 0, k;
	bool interim = r->status >= 100 && r->status < 200;

	if (http_response_framing(r, c->head_req, &f) < 0)
		return -1;
	if (r->status == 100 && c->continued) {
		c->uin.off += (size_t)n; /* the client had its 100 from us */
		return 0;
	}
	if (r->status == 101) {
		if (!c->upgrade)
			return -1; /* switching protocols nobody asked for */
		/* a tunnel from here on: raw bytes both ways until one side
		 * closes (AWS: rules no longer apply after the upgrade) */
		interim = false;
		f.kind = HTTP_BODY_CLOSE;
		f.keep_alive = false;
		c->rq = (struct body){.kind = HTTP_BODY_CLOSE};
	}
	if (!interim) {
		c->lr.target_status = r->status;
		if (c->lr.target_s < 0 || c->lr.taddr)
			c->lr.target_s = secs_since(&c->lr.t_disp);
		body_start(&c->rs, &f);
		if (f.kind == HTTP_BODY_CLOSE || !c->client_keep || !c->rq.done)
			c->close_after = true;
		c->resp_started = true;
		c->resp_keep = f.keep_alive && c->client_minor == 1;
	}
	k = snprintf(line, sizeof(line), "HTTP/1.1 %d ", r->status);
	rc |= abuf_put(b, line, (size_t)k);
	rc |= abuf_put(b, r->reason.p, r->reason.n);
	rc |= abuf_puts(b, "\r\n");
	for (size_t i = 0; i < r->nheaders; i++) {
		const struct http_header *h = &r->headers[i];
		if (http_slice_ieq(h->name, "connection") || http_slice_ieq(h->name, "keep-alive"))
			continue;
		rc |= abuf_put(b, h->name.p, h->name.n);
		rc |= abuf_puts(b, ": ");
		rc |= abuf_put(b, h->value.p, h->value.n);
		rc |= abuf_puts(b, "\r\n");
	}
	if (!interim && c->app_pending && c->lr.tg >= 0 &&
	    alb_sets_cookie(r->headers, r->nheaders, c->w->snap->m->tgs[c->lr.tg].app_cookie))
		alb__app_cookie_set(c->w, c->lr.tg, c->lr.taddr, c->lr.tport, c->cookie,
		                    sizeof(c->cookie));
	if (!interim && c->cookie[0])
		rc |= abuf_puts(b, c->cookie);
	if (r->status == 101)
		rc |= abuf_puts(b, "Connection: upgrade\r\n");
	else if (!interim && c->close_after)
		rc |= abuf_puts(b, "Connection: close\r\n");
	else if (!interim && c->client_minor == 0)
		rc |= abuf_puts(b, "Connection: keep-alive\r\n");
	rc |= abuf_puts(b, "\r\n");
	c->uin.off += (size_t)n;
	return rc ? -2 : 0;
}

static void finish_request(struct alb_conn *c)
{
	struct alb_up *u = c->up;
	bool reuse = u && !u->eof && c->resp_keep && c->rq.done && c->rq.ready == 0 &&
		     abuf_avail(&c->uin) == 0 && c->rs.kind != HTTP_BODY_CLOSE && !c->desync_close;

	if (c->lr.on && c->lr.target_status)
		log_finish(c, c->lr.target_status);
	if (u) {
		c->up = NULL;
		if (reuse)
			pool_put(u);
		else
			up_close(u);
	}
	c->uin.off = c->uin.len = 0;
	c->resp_started = false;
	c->rs = (struct body){0};
	if (c->close_after || !c->client_keep || c->client_eof) {
		c->ph = PH_CLOSING;
		c->close_after = true;
	} else {
		c->ph = PH_HEAD;
	}
}

/* Sends what waits in head (a rewritten head, or ALB-generated bytes) and
 * then the first body_ready bytes of body, in one sendmsg while both have
 * bytes (the head and the body bytes already read go out together), and
 * advances both. Returns bytes sent (0 on EAGAIN) or -1 on an error;
 * *body_sent says how many of them were body bytes. */
static ssize_t send2(int fd, struct abuf *head, struct abuf *body, size_t body_ready,
		     size_t *body_sent)
{
	struct iovec iov[2];
	struct msghdr mh = {.msg_iov = iov};
	size_t hn = abuf_avail(head);
	ssize_t w;

	if (hn > 0)
		iov[mh.msg_iovlen++] = (struct iovec){head->p + head->off, hn};
	if (body_ready > 0)
		iov[mh.msg_iovlen++] = (struct iovec){body->p + body->off, body_ready};
	*body_sent = 0;
	if (mh.msg_iovlen == 0)
		return 0;
	w = sendmsg(fd, &mh, MSG_NOSIGNAL);
	if (w < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
	if ((size_t)w <= hn) {
		head->off += (size_t)w;
	} else {
		head->off += hn;
		*body_sent = (size_t)w - hn;
		body->off += *body_sent;
	}
	if (head->off == head->len)
		head->off = head->len = 0;
	return w;
}

static int client_write(struct alb_conn *c)
{
	for (;;) {
		size_t want = abuf_avail(&c->cout) + c->rs.ready, body_sent;
		ssize_t w;
		if (want == 0)
			return 0;
		w = send2(c->fd, &c->cout, &c->uin, c->rs.ready, &body_sent);
		if (w < 0)
			return -1;
		if (w == 0)
			return 0;
		c->active = true;
		c->tx_total += (uint64_t)w;
		c->rs.ready -= body_sent;
		if ((size_t)w < want)
			return 0;
	}
}

static int up_write(struct alb_conn *c)
{
	struct alb_up *u = c->up;
	if (!u || !u->connected)
		return 0;
	for (;;) {
		size_t want = abuf_avail(&c->uout) + c->rq.ready, body_sent;
		ssize_t w;
		if (want == 0)
			return 0;
		w = send2(u->fd, &c->uout, &c->cin, c->rq.ready, &body_sent);
		if (w < 0)
			return -1;
		if (w == 0)
			return 0;
		c->active = true;
		c->rq.ready -= body_sent;
		if ((size_t)w < want)
			return 0;
	}
}

/* A complete head the strict parser refuses (strict: its answer), or whose
 * framing it refuses, while the desync mode forwards it: forwarded in the
 * normalized form (desync_normalize, docs/desync.md) that the strict parser
 * reads as the target will; refused with 400/414/501 when no safe form
 * exists. The raw head is dn bytes of cin. */
static void forward_normalized(struct alb_conn *c, const struct desync_request *parts, long dn,
			       long strict)
{
	struct http_header hs[MAX_HEADERS];
	struct http_request r = {.headers = hs, .maxheaders = MAX_HEADERS};
	size_t cap = 3 * (size_t)dn + 64;
	char *nb =
	    strict == HTTP_URI_TOO_LONG || strict == HTTP_HEAD_TOO_LARGE ? NULL : malloc(cap);
	long k = nb ? desync_normalize(parts, nb, cap) : strict;
	int status = k == HTTP_TE_UNSUPPORTED ? 501 : k == HTTP_URI_TOO_LONG ? 414 : 400;

	if (k > 0) {
		long m = http_parse_request(nb, (size_t)k, &r);
		if (m == k) {
			start_request(c, &r, dn); /* copies what it keeps of nb */
			goto out;
		}
		status = m == HTTP_URI_TOO_LONG ? 414 : 400;
	}
	c->rq = (struct body){.done = true};
	c->client_keep = false;
	conn_reply(c, status);
out:
	free(nb);
}

static void parse_head(struct alb_conn *c)
{
	struct http_header hs[MAX_HEADERS];
	struct http_request r = {.headers = hs, .maxheaders = MAX_HEADERS};
	struct desync_field dfs[MAX_HEADERS];
	struct desync_request parts;
	struct http_framing f;
	long n, dn = 0;
	bool complete = false;

	if (abuf_avail(&c->cin) == 0) {
		if (c->client_eof)
			conn_close(c);
		return;
	}
	{
		const struct model *m = c->w->snap->m;
		int lbi = m->listeners[c->ls->listener].lb;
		struct desync_verdict dv;
		dn = desync_classify_head(c->cin.p + c->cin.off, abuf_avail(&c->cin), dfs,
					  MAX_HEADERS, &parts, &dv);
		c->dclass = c->dreason = NULL;
		c->desync_close = false;
		if (dn > 0) {
			complete = true;
			c->dclass = desync_log_classification(&dv);
			c->dreason = desync_log_reason(&dv);
			if (dv.tier != DESYNC_COMPLIANT)
				alb__cnt_add(&c->w->lb_cnt[lbi].desync_nc, 1);
			switch (desync_decide((enum desync_mode)m->lbs[lbi].desync_mode, dv.tier)) {
			case DESYNC_REJECT:
				c->rq = (struct body){.done = true};
				c->client_keep = false;
				conn_reply(c, 400);
				return;
			case DESYNC_FORWARD_THEN_CLOSE:
				c->desync_close = true;
				break;
			case DESYNC_FORWARD:
				break;
			}
		}
	}
	n = http_parse_request(c->cin.p + c->cin.off, abuf_avail(&c->cin), &r);
	if (n == HTTP_INCOMPLETE && complete) {
		/* the classifier saw a complete head, the strict parser reads
		 * it as unfinished (a line ending they split differently):
		 * waiting could only hang, so it is malformed */
		n = HTTP_MALFORMED;
	}
	if (n == HTTP_INCOMPLETE) {
		if (c->client_eof)
			conn_close(c);
		else if (abuf_avail(&c->cin) >= CIN_CAP - 1)
			conn_reply(c, 400);
		return;
	}
	if (complete && (n < 0 || http_request_framing(&r, &f) < 0)) {
		/* the mode forwards it (a rejected one was answered above) */
		forward_normalized(c, &parts, dn, n);
		return;
	}
	if (n < 0) {
		c->rq = (struct body){.done = true};
		c->client_keep = false;
		conn_reply(c, n == HTTP_URI_TOO_LONG ? 414 : 400);
		return;
	}
	start_request(c, &r, n);
}

/* The client closed its side before the response began. As ALB (and
 * nginx, whose 499 it is) does, the request is abandoned and both
 * connections close: 460 in the access log, or 400 when the body was not
 * complete (AWS: "The client closed the connection before sending the full
 * request body"). A half-closed client that still waits for its answer
 * loses it, as it does behind an ALB. */
static void client_gone(struct alb_conn *c)
{
	if (c->lr.on && !c->resp_started && body_scan(&c->rq, &c->cin) == 0 && !c->rq.done)
		log_finish(c, 400);
	conn_close(c);
}

static void forward(struct alb_conn *c)
{
	struct alb_up *u = c->up;

	if (body_scan(&c->rq, &c->cin) < 0) {
		c->client_keep = false;
		conn_reply(c, 400);
		return;
	}
	if (c->client_eof && (!c->rq.done || !c->resp_started)) {
		client_gone(c);
		return;
	}
	if (up_write(c) < 0) {
		if (!c->resp_started) {
			if (!up_retry(c))
				conn_reply(c, 502);
			return;
		}
		u->eof = true;
	}
	if (!c->resp_started && abuf_avail(&c->uin) > 0) {
		struct http_header hs[MAX_HEADERS];
		struct http_response r = {.headers = hs, .maxheaders = MAX_HEADERS};
		long n;
		while (!c->resp_started && abuf_avail(&c->uin) > 0) {
			n = http_parse_response(c->uin.p + c->uin.off, abuf_avail(&c->uin), &r);
			if (n == HTTP_INCOMPLETE) {
				if (abuf_avail(&c->uin) >= UIN_CAP - 1 ||
				    (c->up && c->up->eof)) {
					conn_reply(c, 502);
					return;
				}
				break;
			}
			if (n < 0 || start_response(c, &r, n) < 0) {
				c->uin.off = c->uin.len = 0;
				conn_reply(c, 502);
				return;
			}
		}
	}
	if (c->resp_started && body_scan(&c->rs, &c->uin) < 0) {
		conn_close(c);
		return;
	}
	if (client_write(c) < 0) {
		conn_close(c);
		return;
	}
	if (c->up && c->up->eof && !c->resp_started) {
		/* closed or reset with the request outstanding */
		if (up_retry(c))
			return;
		c->uin.off = c->uin.len = 0;
		conn_reply(c, 502);
		return;
	}
	if (c->up && c->up->eof && !c->rs.done && abuf_avail(&c->uin) == c->rs.ready) {
		if (c->rs.kind == HTTP_BODY_CLOSE) {
			c->rs.done = true;
		} else if (c->rs.ready == 0) {
			/* truncated response: the client learns by the close */
			conn_close(c);
			return;
		}
	}
	if (c->resp_started && c->rs.done && c->rs.ready == 0 && abuf_avail(&c->cout) == 0 &&
	    (c->rq.done || c->close_after))
		finish_request(c);
}

static void conn_progress(struct alb_conn *c)
{
	/* bounded: each pass changes phase or consumes a request, or stops */
	for (int i = 0; i < 64 && !c->dead; i++) {
		enum phase before = c->ph;
		size_t off_before = c->cin.off;
		switch (c->ph) {
		case PH_HEAD:
			if (client_write(c) < 0) {
				conn_close(c);
				return;
			}
			/* pipelined requests wait while the client does not
			 * read its responses */
			if (abuf_avail(&c->cout) < COUT_HIGH)
				parse_head(c);
			break;
		case PH_CONNECT:
			if (c->client_eof || client_write(c) < 0)
				client_gone(c);
			return;
		case PH_FORWARD:
			forward(c);
			break;
		case PH_CLOSING:
			if (client_write(c) < 0 ||
			    (abuf_avail(&c->cout) == 0 && c->client_eof)) {
				conn_close(c);
			} else if (abuf_avail(&c->cout) == 0 && !c->lingering) {
				/* the last byte is out: shut down writes, then
				 * read and drop what the client still sends, so
				 * that closing with unread input (an RST) cannot
				 * destroy the response before the client reads it */
				shutdown(c->fd, SHUT_WR);
				c->lingering = true;
				loop_timer_start(c->w->loop, &c->timer, LINGER_MS);
			}
			return;
		}
		if (c->dead || (c->ph == before && c->cin.off == off_before))
			return;
	}
}

static void on_up_io(struct loop *loop, struct loop_io *io, uint32_t ev)
{
	struct alb_up *u = io->data;
	struct alb_conn *c = u->c;
	(void)loop;

	if (!c) {
		up_close(u);
		return;
	}
	if (!u->connected) {
		int err = 0;
		socklen_t sl = sizeof(err);
		if (getsockopt(u->fd, SOL_SOCKET, SO_ERROR, &err, &sl) < 0 || err) {
			conn_reply(c, 502);
			goto out;
		}
		if (!(ev & (EPOLLOUT | EPOLLIN)))
			return;
		u->connected = true;
		c->ph = PH_FORWARD;
	}
	if (ev & (EPOLLIN | EPOLLHUP | EPOLLERR | EPOLLRDHUP)) {
		size_t room = abuf_room(&c->uin);
		if (room == 0 && !c->resp_started && c->uin.cap < UIN_CAP) {
			/* a response head bigger than the buffer: grow, up
			 * to the 32 KiB limit */
			if (abuf_reserve(&c->uin, UIN_CAP - c->uin.len, UIN_CAP) < 0) {
				conn_reply(c, 502);
				goto out;
			}
			room = abuf_room(&c->uin);
		}
		if (room == 0 && (ev & (EPOLLHUP | EPOLLERR))) {
			/* reset while our buffer is full: level-triggered HUP
			 * would spin; the kernel drops the data anyway */
			u->eof = true;
		} else if (room > 0) {
			ssize_t n = read(u->fd, c->uin.p + c->uin.len, room);
			if (n > 0) {
				c->uin.len += (size_t)n;
				c->up_rx = true;
				c->active = true;
			} else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
				u->eof = true;
			}
		}
	}
out:
	if (!c->dead)
		conn_progress(c);
	if (!c->dead)
		conn_arm(c);
}

static void on_client_io(struct loop *loop, struct loop_io *io, uint32_t ev)
{
	struct alb_conn *c = io->data;
	(void)loop;

	if (c->lingering) {
		char junk[4096];
		for (;;) {
			ssize_t n = read(c->fd, junk, sizeof(junk));
			if (n > 0 && (c->lingered += (size_t)n) < LINGER_MAX)
				continue;
			if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
				return;
			conn_close(c);
			return;
		}
	}
	if (ev & (EPOLLIN | EPOLLHUP | EPOLLERR | EPOLLRDHUP)) {
		size_t room;
		/* after a complete request, bytes that follow (a pipelined
		 * request) are read too, so the mask need not change; a
		 * hang-up there closes as before (level-triggered, it would
		 * fire again and again after the EOF) */
		bool want = c->ph == PH_HEAD || !c->rq.done ||
			    ((c->ph == PH_CONNECT || c->ph == PH_FORWARD) &&
			     !(ev & (EPOLLHUP | EPOLLERR)));
		if (c->cin.cap == 0 && buf_take(c->w, &c->cin) < 0) {
			conn_close(c); /* out of memory */
			return;
		}
		room = abuf_room(&c->cin);
		if (room == 0 && c->ph == PH_HEAD && c->cin.cap < CIN_CAP) {
			/* a request head bigger than the buffer: grow, up to
			 * the 64 KiB limit */
			if (abuf_reserve(&c->cin, CIN_CAP - c->cin.len, CIN_CAP) < 0) {
				conn_reply(c, 500);
				conn_progress(c);
				conn_arm(c);
				return;
			}
			room = abuf_room(&c->cin);
		}
		if (want && room > 0) {
			ssize_t n = read(c->fd, c->cin.p + c->cin.len, room);
			if (n > 0) {
				c->cin.len += (size_t)n;
				c->rx_total += (uint64_t)n;
				c->active = true;
			} else if (n == 0) {
				c->client_eof = true;
			} else if (errno != EAGAIN && errno != EWOULDBLOCK) {
				conn_close(c);
				return;
			}
		} else if (ev & (EPOLLHUP | EPOLLERR)) {
			conn_close(c);
			return;
		} else if (ev & EPOLLRDHUP) {
			/* half-closed while a request runs: answer it, then close */
			c->client_eof = true;
		}
	}
	conn_progress(c);
	conn_arm(c);
}

static void on_accept(struct loop *loop, struct loop_io *io, uint32_t ev)
{
	struct alb_lsock *ls = io->data;
	struct alb_worker *a = ls->w;
	const struct model *m = a->snap->m;
	(void)ev;

	for (int i = 0; i < ACCEPT_BATCH; i++) {
		struct sockaddr_in sa;
		socklen_t sl = sizeof(sa);
		struct alb_conn *c;
		int one = 1;
		int fd = accept4(ls->fd, (struct sockaddr *)&sa, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOMEM ||
			    errno == ENOBUFS) {
				/* level-triggered: would spin; pause accepting */
				log_warn("accept: %s; pausing the listener", strerror(errno));
				if (loop_io_mod(loop, io, 0) == 0)
					loop_timer_start(loop, &ls->pause, ACCEPT_PAUSE_MS);
			}
			return;
		}
		{
			/* security groups: a source outside the LB's ingress
			 * rules is refused (closed at once; AWS drops it) */
			int lb = m->listeners[ls->listener].lb;
			if (!alb_sg_allows(m, lb, ntohl(sa.sin_addr.s_addr), ls->port)) {
				/* kept apart: AWS never sees these */
				alb__cnt_add(&a->lb_cnt[lb].rejected, 1);
				close(fd);
				continue;
			}
			alb__cnt_add(&a->lb_cnt[lb].new_conns, 1);
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		c = calloc(1, sizeof(*c)); /* cin is taken on the first read */
		if (!c) {
			/* out of memory: refuse this one, keep serving */
			close(fd);
			continue;
		}
		c->w = a;
		c->ls = ls;
		c->fd = fd;
		c->caddr = ntohl(sa.sin_addr.s_addr);
		c->peer_port = ntohs(sa.sin_port);
		c->ph = PH_HEAD;
		c->rq.done = true;
		loop_timer_init(&c->timer, on_conn_timer, c);
		if (loop_io_add(loop, &c->io, fd, EPOLLIN | EPOLLRDHUP, on_client_io, c) < 0) {
			close(fd);
			free(c);
			continue;
		}
		c->next = a->conns;
		if (a->conns)
			a->conns->prev = c;
		a->conns = c;
		timer_arm(c);
	}
}

static void on_accept_resume(struct loop *loop, struct loop_timer *tm)
{
	struct alb_lsock *ls = tm->data;
	loop_io_mod(loop, &ls->io, EPOLLIN);
}

/* --- workers --- */

static void on_log_flush(struct loop *loop, struct loop_timer *tm)
{
	(void)loop;
	log_write(tm->data);
}

/* Moves w to the current snapshot (worker thread, or the control thread for
 * an inline worker). This callback is the worker's quiescent point: no
 * request is half-way through a decision here, so once w->seen says the new
 * generation, w holds no pointer into an older snapshot. Connections keep
 * only indexes into the model (listener, target group), which every
 * snapshot's model shares (alb_set_model checks), and references on their
 * targets, so requests in flight carry on across the swap. */
static void worker_refresh(struct alb_worker *w)
{
	const struct alb_snap *old = w->snap;
	const struct alb_snap *s = atomic_load(&w->a->snap);

	if (s == old || !s)
		return;
	w->snap = s;
	/* idle connections to targets that are draining or gone: the old
	 * snapshot lists every target this worker can have pooled on */
	for (size_t i = 0; old && i < old->ntgs; i++)
		for (size_t k = 0; k < old->tgs[i].n; k++) {
			struct alb_target *t = old->tgs[i].t[k].t;
			if (atomic_load(&t->closed))
				pool_drain(w, t);
		}
	atomic_store(&w->seen, s->gen); /* old may be freed from here on */
	/* AWS: requests still running when the deregistration delay expires
	 * get 502 */
	for (struct alb_conn *c = w->conns, *next; c; c = next) {
		next = c->next;
		if (c->dead || !c->up || !atomic_load(&c->up->t->dead))
			continue;
		conn_reply(c, 502);
		conn_progress(c);
		conn_arm(c);
	}
}

static void on_wake(struct loop *loop, struct loop_io *io, uint32_t ev)
{
	struct alb_worker *w = io->data;
	uint64_t v;
	(void)ev;
	if (read(w->wakefd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		log_warn("worker %d: eventfd: %s", w->id, strerror(errno));
	if (atomic_load(&w->a->stopping)) {
		loop_stop(loop);
		return;
	}
	worker_refresh(w);
}

static void worker_wake(struct alb_worker *w)
{
	uint64_t one = 1;
	if (w->wakefd < 0)
		return;
	if (write(w->wakefd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_warn("worker %d: eventfd: %s", w->id, strerror(errno));
}

/* Called by alb__publish: every worker moves to the new snapshot, an inline
 * one at once. */
void alb__workers_notify(struct alb *a)
{
	for (int i = 0; a->w && i < a->nworkers; i++) {
		if (a->w[i].threaded)
			worker_wake(&a->w[i]);
		else
			worker_refresh(&a->w[i]);
	}
}

static void *worker_main(void *arg)
{
	struct alb_worker *w = arg;
	int rc = loop_run(w->loop);
	if (rc < 0)
		log_error("alb worker %d: %s", w->id, strerror(-rc));
	alb_route_thread_end();
	return NULL;
}

static int worker_init(struct alb *a, struct alb_worker *w, int id)
{
	const struct model *m = a->m;
	w->a = a;
	w->id = id;
	w->wakefd = -1;
	w->threaded = a->nworkers > 1;
	w->loop = w->threaded ? loop_new() : a->loop;
	w->rr = calloc(m->ntgs ? m->ntgs : 1, sizeof(*w->rr));
	w->lb_cnt = calloc(m->nlbs ? m->nlbs : 1, sizeof(*w->lb_cnt));
	w->tg_cnt = calloc(m->ntgs ? m->ntgs : 1, sizeof(*w->tg_cnt));
	w->logb = malloc(LOG_BUF);
	w->rnd = 0x9e3779b97f4a7c15ull * (uint64_t)(id + 1);
	loop_timer_init(&w->log_flush, on_log_flush, w);
	if (!w->loop || !w->rr || !w->lb_cnt || !w->tg_cnt || !w->logb)
		return -ENOMEM;
	if (w->threaded) {
		int rc;
		w->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (w->wakefd < 0)
			return -errno;
		rc = loop_io_add(w->loop, &w->wake_io, w->wakefd, EPOLLIN, on_wake, w);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* Frees what worker_init and alb_start gave w (its thread has ended). */
static void worker_free(struct alb_worker *w)
{
	if (!w->a)
		return;
	for (size_t i = 0; i < w->nsocks; i++) {
		loop_io_del(w->loop, &w->socks[i].io);
		loop_timer_stop(w->loop, &w->socks[i].pause);
		close(w->socks[i].fd);
	}
	free(w->socks);
	while (w->conns) {
		w->conns->lr.on = false; /* shutting down: no access-log line */
		conn_close(w->conns);
	}
	if (w->snap)
		for (size_t i = 0; i < w->snap->ntgs; i++)
			for (size_t k = 0; k < w->snap->tgs[i].n; k++)
				pool_drain(w, w->snap->tgs[i].t[k].t);
	while (w->nbufpool > 0)
		free(w->bufpool[--w->nbufpool]);
	if (w->loop) {
		loop_timer_stop(w->loop, &w->log_flush);
		if (w->wakefd >= 0)
			loop_io_del(w->loop, &w->wake_io);
	}
	if (w->logb)
		log_write(w);
	if (w->wakefd >= 0)
		close(w->wakefd);
	if (w->threaded)
		loop_free(w->loop); /* runs the deferred frees */
	free(w->rr);
	free(w->lb_cnt);
	free(w->tg_cnt);
	free(w->logb);
	*w = (struct alb_worker){0};
}

/* --- the plane --- */

static void tgs_mark_used(struct alb *a, const struct model *m)
{
	for (size_t i = 0; i < a->ntgs; i++)
		a->tgs[i].used = false;
	for (size_t i = 0; i < m->nlisteners; i++) {
		const struct model_listener *l = &m->listeners[i];
		int tg = l->default_action.target_group;
		if (tg >= 0 && (size_t)tg < m->ntgs)
			a->tgs[tg].used = true;
		for (size_t k = 0; k < l->default_action.nfwd; k++)
			a->tgs[l->default_action.fwd_tgs[k]].used = true;
		for (size_t k = 0; k < l->nrules; k++) {
			const struct model_action *ra = &m->rules[l->rules[k]].action;
			tg = ra->target_group;
			if (ra->type == MODEL_ACTION_FORWARD && tg >= 0 && (size_t)tg < m->ntgs)
				a->tgs[tg].used = true;
			for (size_t j = 0; j < ra->nfwd; j++)
				a->tgs[ra->fwd_tgs[j]].used = true;
		}
	}
}

static void on_reclaim(struct loop *loop, struct loop_timer *tm)
{
	(void)loop;
	alb__reclaim(tm->data, false);
}

struct alb *alb_new(struct loop *loop, const struct model *m)
{
	struct alb *a = calloc(1, sizeof(*a));
	if (!a)
		return NULL;
	a->loop = loop;
	a->m = m;
	a->ntgs = m->ntgs;
	a->log_fd = -1;
	a->nworkers = 1;
	atomic_init(&a->snap, NULL);
	atomic_init(&a->stopping, false);
	loop_timer_init(&a->reclaim, on_reclaim, a);
	alb__cookie_key(); /* drawn here, before any worker thread reads it */
	a->tgs = calloc(m->ntgs ? m->ntgs : 1, sizeof(*a->tgs));
	if (!a->tgs) {
		free(a);
		return NULL;
	}
	tgs_mark_used(a, m);
	if (alb__publish(a) < 0) {
		free(a->tgs);
		free(a);
		return NULL;
	}
	return a;
}

int alb_set_workers(struct alb *a, int n)
{
	if (n < 1 || n > ALB_WORKERS_MAX)
		return -EINVAL;
	if (a->started)
		return -EALREADY;
	for (size_t i = 0; i < a->ntgs; i++)
		if (a->tgs[i].n)
			return -EALREADY; /* targets have one pool slot per worker */
	a->nworkers = n;
	return 0;
}

int alb_workers(const struct alb *a)
{
	return a->nworkers;
}

/* Listens on addr:port for worker w: with several workers each has its own
 * socket (SO_REUSEPORT: the kernel spreads connections over them). */
static int listen_one(struct alb *a, uint32_t addr, uint16_t port)
{
	return sock_listen4_opt(addr, port, SOCK_STREAM, a->nworkers > 1);
}

int alb_start(struct alb *a, int port_offset, char *err, size_t errlen)
{
	const struct model *m = a->m;
	size_t n = 0;
	sigset_t all, old;
	int rc = 0;

	if (a->started)
		return -EALREADY;
	a->started = true;
	a->w = calloc((size_t)a->nworkers, sizeof(*a->w));
	if (!a->w) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	for (size_t i = 0; i < m->nlisteners; i++)
		n += m->lbs[m->listeners[i].lb].nsubnets;
	for (int wi = 0; wi < a->nworkers; wi++) {
		struct alb_worker *w = &a->w[wi];
		rc = worker_init(a, w, wi);
		if (rc == 0) {
			w->socks = calloc(n ? n : 1, sizeof(*w->socks));
			rc = w->socks ? 0 : -ENOMEM;
		}
		if (rc < 0) {
			snprintf(err, errlen, "worker %d: %s", wi, strerror(-rc));
			return rc;
		}
		w->snap = atomic_load(&a->snap);
		atomic_init(&w->seen, w->snap->gen);
	}
	for (size_t i = 0; i < m->nlisteners; i++) {
		const struct model_listener *l = &m->listeners[i];
		const struct model_lb *lb = &m->lbs[l->lb];
		for (size_t k = 0; k < lb->nsubnets; k++) {
			int port = l->port + port_offset, fd;
			char ab[16];
			if (port <= 0 || port > 65535) {
				snprintf(err, errlen, "listener %s: port %d + offset %d is out of range",
					 l->logical ? l->logical : "?", l->port, port_offset);
				return -EINVAL;
			}
			if (a->nworkers > 1) {
				/* a probe without SO_REUSEPORT: another process on
				 * the address is an error, not a silent share */
				fd = sock_listen4(lb->node_addrs[k], (uint16_t)port, SOCK_STREAM);
				if (fd >= 0)
					close(fd);
			} else {
				fd = 0;
			}
			for (int wi = 0; wi < a->nworkers && fd >= 0; wi++) {
				struct alb_worker *w = &a->w[wi];
				struct alb_lsock *ls = &w->socks[w->nsocks];
				fd = listen_one(a, lb->node_addrs[k], (uint16_t)port);
				if (fd < 0)
					break;
				ls->w = w;
				ls->listener = (int)i;
				ls->port = (uint16_t)l->port;
				ls->bound_port = (uint16_t)port;
				ls->addr = lb->node_addrs[k];
				ls->fd = fd;
				loop_timer_init(&ls->pause, on_accept_resume, ls);
				rc = loop_io_add(w->loop, &ls->io, fd, EPOLLIN, on_accept, ls);
				if (rc < 0) {
					close(fd);
					snprintf(err, errlen, "epoll on %s:%d: %s",
						 addr4_str(lb->node_addrs[k], ab), port, strerror(-rc));
					return rc;
				}
				w->nsocks++;
			}
			if (fd < 0) {
				snprintf(err, errlen, "cannot listen on %s:%d for %s: %s%s",
					 addr4_str(lb->node_addrs[k], ab), port,
					 l->logical ? l->logical : "listener", strerror(-fd),
					 fd == -EACCES ? " (ports below 1024 need root or "
							 "CAP_NET_BIND_SERVICE; try --port-offset)"
						       : "");
				return fd;
			}
		}
	}
	if (a->nworkers == 1)
		return 0;
	/* workers take no signal: the control loop's signalfd gets them */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	for (int wi = 0; wi < a->nworkers; wi++) {
		rc = -pthread_create(&a->w[wi].thread, NULL, worker_main, &a->w[wi]);
		if (rc < 0) {
			snprintf(err, errlen, "worker %d: %s", wi, strerror(-rc));
			break;
		}
		a->w[wi].joinable = true;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return rc;
}

int alb_set_model(struct alb *a, const struct model *m, char *err, size_t errlen)
{
	const struct model *o = a->m;

	if (m->ntgs != o->ntgs || m->nlbs != o->nlbs || m->nlisteners != o->nlisteners) {
		snprintf(err, errlen, "load balancers, listeners and target groups must stay");
		return -EINVAL;
	}
	for (size_t i = 0; i < m->ntgs; i++)
		if (!m->tgs[i].logical != !o->tgs[i].logical ||
		    (m->tgs[i].logical && strcmp(m->tgs[i].logical, o->tgs[i].logical))) {
			snprintf(err, errlen, "target group %s moved", o->tgs[i].logical);
			return -EINVAL;
		}
	for (size_t i = 0; i < m->nlisteners; i++)
		if (m->listeners[i].lb != o->listeners[i].lb ||
		    m->listeners[i].port != o->listeners[i].port) {
			snprintf(err, errlen, "listener %s changed", o->listeners[i].logical);
			return -EINVAL;
		}
	for (size_t i = 0; i < m->nlbs; i++)
		if (m->lbs[i].nsubnets != o->lbs[i].nsubnets) {
			snprintf(err, errlen, "load balancer %s changed", o->lbs[i].logical);
			return -EINVAL;
		}
	a->m = m;
	{
		/* a group that a rule starts or stops forwarding to: its
		 * targets come into use (health checks start) or leave it */
		bool *used = calloc(a->ntgs ? a->ntgs : 1, sizeof(*used));
		if (!used) {
			a->m = o;
			snprintf(err, errlen, "out of memory");
			return -ENOMEM;
		}
		for (size_t i = 0; i < a->ntgs; i++)
			used[i] = a->tgs[i].used;
		tgs_mark_used(a, m);
		for (size_t i = 0; i < a->ntgs; i++) {
			struct alb_tg *g = &a->tgs[i];
			if (g->used == used[i])
				continue;
			for (size_t k = 0; k < g->n; k++) {
				struct alb_target *t = g->t[k];
				if (t->state == ALB_TARGET_DRAINING)
					continue;
				alb__hc_stop(t);
				target_activate(t);
			}
		}
		free(used);
	}
	return alb__publish(a) < 0 ? -ENOMEM : 0;
}

void alb_free(struct alb *a)
{
	if (!a)
		return;
	atomic_store(&a->stopping, true);
	for (int i = 0; a->w && i < a->nworkers; i++)
		if (a->w[i].joinable)
			worker_wake(&a->w[i]);
	for (int i = 0; a->w && i < a->nworkers; i++)
		if (a->w[i].joinable)
			pthread_join(a->w[i].thread, NULL);
	/* every worker has stopped: its connections, pools and sockets are
	 * the control thread's to free now */
	for (int i = 0; a->w && i < a->nworkers; i++)
		worker_free(&a->w[i]);
	free(a->w);
	a->w = NULL;
	for (size_t i = 0; i < a->ntgs; i++) {
		struct alb_tg *g = &a->tgs[i];
		while (g->n > 0) {
			struct alb_target *t = g->t[g->n - 1];
			alb_health_fn fn = a->hfn;
			a->hfn = NULL; /* no callbacks while tearing down */
			target_remove(t);
			a->hfn = fn;
		}
		free(g->t);
		free(g->states);
	}
	{
		struct alb_snap *s = atomic_exchange(&a->snap, NULL);
		if (s) {
			s->retired_next = a->retired;
			a->retired = s;
		}
	}
	alb__reclaim(a, true);
	loop_timer_stop(a->loop, &a->reclaim);
	free(a->tgs);
	if (a->log_fd >= 0)
		close(a->log_fd);
	free(a);
}

int alb_set_access_log(struct alb *a, const char *path)
{
	int fd;
	if (a->started && a->nworkers > 1)
		return -EBUSY; /* worker threads write to the fd */
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	if (a->log_fd >= 0) {
		for (int i = 0; a->w && i < a->nworkers; i++)
			if (!a->w[i].threaded)
				log_write(&a->w[i]);
		close(a->log_fd);
	}
	a->log_fd = fd;
	return 0;
}

/* --- metrics --- */

struct mbuf {
	char *p;
	size_t n, cap;
	bool oom;
};

static void mprintf(struct mbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void mprintf(struct mbuf *b, const char *fmt, ...)
{
	va_list ap;
	for (;;) {
		va_start(ap, fmt);
		int k = vsnprintf(b->p ? b->p + b->n : NULL, b->p ? b->cap - b->n : 0, fmt, ap);
		va_end(ap);
		if (k < 0) {
			b->oom = true;
			return;
		}
		if (b->p && b->n + (size_t)k < b->cap) {
			b->n += (size_t)k;
			return;
		}
		size_t nc = (b->cap ? b->cap * 2 : 4096) + (size_t)k;
		char *np = realloc(b->p, nc);
		if (!np) {
			b->oom = true;
			return;
		}
		b->p = np;
		b->cap = nc;
	}
}

/* The load balancer whose listener forwards to group tg ("" if none). */
static const char *tg_lb_name(const struct model *m, int tg)
{
	for (size_t l = 0; l < m->nlisteners; l++) {
		const struct model_listener *li = &m->listeners[l];
		bool uses = li->default_action.type == MODEL_ACTION_FORWARD &&
			    li->default_action.target_group == tg;
		for (size_t k = 0; k < li->default_action.nfwd; k++)
			uses |= li->default_action.fwd_tgs[k] == tg;
		for (size_t r = 0; r < li->nrules && !uses; r++) {
			const struct model_action *ra = &m->rules[li->rules[r]].action;
			uses |= ra->type == MODEL_ACTION_FORWARD && ra->target_group == tg;
			for (size_t k = 0; k < ra->nfwd; k++)
				uses |= ra->fwd_tgs[k] == tg;
		}
		if (uses && li->lb >= 0 && m->lbs[li->lb].full_name)
			return m->lbs[li->lb].full_name;
	}
	return "";
}

#define CNT_WORDS (sizeof(struct alb_counters) / sizeof(uint64_t))
_Static_assert(sizeof(struct alb_counters) % sizeof(uint64_t) == 0,
	       "struct alb_counters holds only uint64_t counters");

/* out[0..n) = the sum over the workers of each one's counters; the
 * counters are all uint64_t, so they are summed word by word. */
static void counters_sum(const struct alb *a, bool per_tg, struct alb_counters *out, size_t n)
{
	memset(out, 0, n * sizeof(*out));
	for (int wi = 0; a->w && wi < a->nworkers; wi++) {
		const struct alb_counters *src = per_tg ? a->w[wi].tg_cnt : a->w[wi].lb_cnt;
		if (!src)
			continue;
		for (size_t i = 0; i < n; i++) {
			const uint64_t *from = (const uint64_t *)&src[i];
			uint64_t *to = (uint64_t *)&out[i];
			for (size_t k = 0; k < CNT_WORDS; k++)
				to[k] += alb__cnt_get(&from[k]);
		}
	}
}

int alb__tg_counters(const struct alb *a, int tg, struct alb_counters *out)
{
	struct alb_counters *all;
	if (tg < 0 || (size_t)tg >= a->ntgs)
		return -EINVAL;
	all = calloc(a->ntgs, sizeof(*all));
	if (!all)
		return -ENOMEM;
	counters_sum(a, true, all, a->ntgs);
	*out = all[tg];
	free(all);
	return 0;
}

/* One metric family: HELP/TYPE once, then a sample per LB or target group
 * (counters summed over the workers in lbc, tgc). */
static void metric_family(struct mbuf *b, const struct alb *a, const struct alb_counters *lbc,
			  const struct alb_counters *tgc, const char *name, const char *type,
			  const char *help, bool per_tg, size_t off)
{
	const struct model *m = a->m;
	mprintf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
	if (!per_tg) {
		for (size_t i = 0; i < m->nlbs; i++)
			mprintf(b, "%s{load_balancer=\"%s\"} %llu\n", name,
				m->lbs[i].full_name ? m->lbs[i].full_name : "",
				(unsigned long long)*(const uint64_t *)((const char *)&lbc[i] + off));
		return;
	}
	for (size_t i = 0; i < m->ntgs; i++) {
		const char *lbn = tg_lb_name(m, (int)i);
		mprintf(b, "%s{load_balancer=\"%s\",target_group=\"%s\"} ", name, lbn,
			m->tgs[i].full_name ? m->tgs[i].full_name : "");
		if (off == (size_t)-1 || off == (size_t)-2) {
			size_t healthy = 0, unhealthy = 0;
			for (size_t k = 0; k < a->tgs[i].n; k++) {
				healthy += a->tgs[i].states[k] == ALB_TARGET_HEALTHY;
				unhealthy += a->tgs[i].states[k] == ALB_TARGET_UNHEALTHY;
			}
			mprintf(b, "%zu\n", off == (size_t)-1 ? healthy : unhealthy);
		} else {
			mprintf(b, "%llu\n",
				(unsigned long long)*(const uint64_t *)((const char *)&tgc[i] + off));
		}
	}
}

char *alb_metrics_text(const struct alb *a)
{
	struct mbuf b = {0};
	const struct model *m = a->m;
	struct alb_counters *lbc = calloc(m->nlbs ? m->nlbs : 1, sizeof(*lbc));
	struct alb_counters *tgc = calloc(m->ntgs ? m->ntgs : 1, sizeof(*tgc));
	static const struct {
		const char *name, *help;
		size_t off;
		bool lb, tg;
	} fam[] = {
	    {"RequestCount", "Requests processed", offsetof(struct alb_counters, requests), 1, 1},
	    {"HTTPCode_Target_2XX_Count", "2XX responses from targets",
	     offsetof(struct alb_counters, target_2xx), 1, 1},
	    {"HTTPCode_Target_3XX_Count", "3XX responses from targets",
	     offsetof(struct alb_counters, target_3xx), 1, 1},
	    {"HTTPCode_Target_4XX_Count", "4XX responses from targets",
	     offsetof(struct alb_counters, target_4xx), 1, 1},
	    {"HTTPCode_Target_5XX_Count", "5XX responses from targets",
	     offsetof(struct alb_counters, target_5xx), 1, 1},
	    {"HTTPCode_ELB_3XX_Count", "3XX responses from the load balancer",
	     offsetof(struct alb_counters, elb_3xx), 1, 0},
	    {"HTTPCode_ELB_4XX_Count", "4XX responses from the load balancer",
	     offsetof(struct alb_counters, elb_4xx), 1, 1},
	    {"HTTPCode_ELB_5XX_Count", "5XX responses from the load balancer",
	     offsetof(struct alb_counters, elb_5xx), 1, 1},
	    {"HTTPCode_ELB_502_Count", "502 responses from the load balancer",
	     offsetof(struct alb_counters, elb_502), 1, 1},
	    {"HTTPCode_ELB_503_Count", "503 responses from the load balancer",
	     offsetof(struct alb_counters, elb_503), 1, 1},
	    {"HTTPCode_ELB_504_Count", "504 responses from the load balancer",
	     offsetof(struct alb_counters, elb_504), 1, 1},
	    {"HTTP_Fixed_Response_Count", "Fixed-response actions",
	     offsetof(struct alb_counters, fixed_response), 1, 0},
	    {"DesyncMitigationMode_NonCompliant_Request_Count",
	     "Requests not Compliant per the desync classifier",
	     offsetof(struct alb_counters, desync_nc), 1, 0},
	    {"HTTP_Redirect_Count", "Redirect actions", offsetof(struct alb_counters, redirect), 1,
	     0},
	    {"NewConnectionCount", "TCP connections accepted",
	     offsetof(struct alb_counters, new_conns), 1, 0},
	};

	if (!lbc || !tgc) {
		free(lbc);
		free(tgc);
		return NULL;
	}
	counters_sum(a, false, lbc, m->nlbs);
	counters_sum(a, true, tgc, m->ntgs);
	for (size_t f = 0; f < sizeof(fam) / sizeof(fam[0]); f++) {
		metric_family(&b, a, lbc, tgc, fam[f].name, "counter", fam[f].help, false,
			      fam[f].off);
		if (fam[f].tg) {
			/* the same family, per target group (no second HELP) */
			struct mbuf t = {0};
			metric_family(&t, a, lbc, tgc, fam[f].name, "counter", fam[f].help, true,
				      fam[f].off);
			if (t.p) {
				char *nl = strchr(t.p, '\n');
				nl = nl ? strchr(nl + 1, '\n') : NULL;
				if (nl)
					mprintf(&b, "%s", nl + 1);
				free(t.p);
			}
			b.oom |= t.oom;
		}
	}
	mprintf(&b, "# HELP TargetResponseTime Seconds from sending a request to the target "
		    "until its response head\n# TYPE TargetResponseTime summary\n");
	for (size_t i = 0; i < m->ntgs; i++) {
		const struct alb_counters *k = &tgc[i];
		const char *tn = m->tgs[i].full_name ? m->tgs[i].full_name : "";
		const char *ln = tg_lb_name(m, (int)i);
		mprintf(&b, "TargetResponseTime_sum{load_balancer=\"%s\",target_group=\"%s\"} %.6f\n",
			ln, tn, (double)k->trt_us / 1e6);
		mprintf(&b, "TargetResponseTime_count{load_balancer=\"%s\",target_group=\"%s\"} %llu\n",
			ln, tn, (unsigned long long)k->trt_count);
	}
	metric_family(&b, a, lbc, tgc, "HealthyHostCount", "gauge", "Targets in state healthy",
		      true, (size_t)-1);
	metric_family(&b, a, lbc, tgc, "UnHealthyHostCount", "gauge",
		      "Targets in state unhealthy", true, (size_t)-2);
	/* vpcd's own: how the kernel spread connections over the workers
	 * (SO_REUSEPORT) and what each served */
	mprintf(&b, "# HELP WorkerNewConnectionCount TCP connections accepted by each ALB worker "
		    "(vpcd)\n# TYPE WorkerNewConnectionCount counter\n");
	for (int wi = 0; a->w && wi < a->nworkers; wi++) {
		uint64_t sum = 0;
		for (size_t i = 0; i < m->nlbs; i++)
			sum += alb__cnt_get(&a->w[wi].lb_cnt[i].new_conns);
		mprintf(&b, "WorkerNewConnectionCount{worker=\"%d\"} %llu\n", wi,
			(unsigned long long)sum);
	}
	mprintf(&b, "# HELP WorkerRequestCount Requests processed by each ALB worker (vpcd)\n"
		    "# TYPE WorkerRequestCount counter\n");
	for (int wi = 0; a->w && wi < a->nworkers; wi++) {
		uint64_t sum = 0;
		for (size_t i = 0; i < m->nlbs; i++)
			sum += alb__cnt_get(&a->w[wi].lb_cnt[i].requests);
		mprintf(&b, "WorkerRequestCount{worker=\"%d\"} %llu\n", wi,
			(unsigned long long)sum);
	}
	free(lbc);
	free(tgc);
	if (b.oom) {
		free(b.p);
		return NULL;
	}
	return b.p ? b.p : strdup("");
}
