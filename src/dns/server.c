/*
 * The resolver on the event loop. UDP: read datagrams until EAGAIN (bounded
 * per wake-up), answer each, send the reply back. TCP: one connection object
 * per client with bounded input and output buffers; queries are framed by a
 * 2-byte length and answered in order as they arrive, pipelined; a client
 * whose replies it does not read is stopped from sending more (output cap);
 * idle connections close after DNS_TCP_IDLE_MS.
 */
#include "dns/server.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/addr.h"
#include "core/log.h"
#include "dns/answer.h"
#include "dns/forward.h"
#include "dns/index.h"
#include "dns/wire.h"

#define UDP_BURST 256
#define UDP_BATCH 32 /* datagrams per recvmmsg and replies per sendmmsg */
#define READ_BURST 16
#define IN_MAX (2 + DNS_MSG_MAX)
#define IN_INITIAL 1024
#define OUT_MAX (4 * IN_MAX)

struct dns_listener {
	struct dns_server *s;
	struct dns_listener *next;
	uint32_t addr;
	int vpc;
	struct loop_io udp, tcp;
};

struct dns_conn {
	struct dns_server *s;
	struct dns_conn *prev, *next;
	struct dns_listener *l;
	struct loop_io io;
	struct loop_timer idle;
	uint32_t ev; /* events we asked for */
	uint32_t idle_ms;
	bool eof;    /* the client closed its side */
	bool blocked; /* a complete query waits for room in out */
	size_t nfwd;  /* questions forwarded upstream, replies to come */
	uint8_t *in;
	size_t inlen, incap;
	uint8_t *out;
	size_t outoff, outlen, outcap;
};

struct dns_server {
	struct loop *loop;
	const struct model *m;
	struct dns_index *ix; /* of m; NULL (out of memory): built per query */
	struct dns_listener *listeners;
	struct dns_conn *conns;
	size_t nconns;
	uint32_t idle_ms;
	struct dns_forward *fwd;
	struct dns_answer_env env;
	uint32_t rng;
	/* UDP batches: UDP_BATCH datagrams and their replies. The buffers are
	 * allocated apart (touched only as far as messages reach). */
	uint8_t (*rbufs)[DNS_MSG_MAX];
	uint8_t (*replies)[DNS_MSG_MAX];
	struct mmsghdr min[UDP_BATCH], mout[UDP_BATCH];
	struct iovec iin[UDP_BATCH], iout[UDP_BATCH];
	struct sockaddr_in from[UDP_BATCH];
	uint8_t reply[2 + DNS_MSG_MAX]; /* one reply, room for the TCP length */
	uint8_t prefix[DNS_MSG_MAX];	/* our part of a chained answer */
};

static void on_forwarded(void *data, const struct dns_fwd_client *cl, const uint8_t *reply,
			 size_t len);

static int vpc_for_addr(const struct model *m, uint32_t addr)
{
	for (size_t i = 0; i < m->nvpcs; i++)
		if ((addr & 0xffff0000u) == (m->vpcs[i].lo_base & 0xffff0000u))
			return (int)i;
	return m->nvpcs > 0 ? 0 : -1;
}

struct dns_server *dns_server_new(struct loop *loop, const struct model *m)
{
	struct dns_server *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->loop = loop;
	s->m = m;
	s->idle_ms = DNS_TCP_IDLE_MS;
	if (getrandom(&s->rng, sizeof(s->rng), GRND_NONBLOCK) != sizeof(s->rng) || !s->rng)
		s->rng = 0x9e3779b9u;
	s->env.rng = &s->rng;
	s->ix = dns_index_new(m);
	s->rbufs = malloc(UDP_BATCH * sizeof(*s->rbufs));
	s->replies = malloc(UDP_BATCH * sizeof(*s->replies));
	s->fwd = dns_forward_new(loop, on_forwarded, s);
	if (!s->fwd || !s->ix || !s->rbufs || !s->replies) {
		dns_forward_free(s->fwd);
		dns_index_free(s->ix);
		free(s->rbufs);
		free(s->replies);
		free(s);
		return NULL;
	}
	for (int i = 0; i < UDP_BATCH; i++) {
		s->iin[i] = (struct iovec){.iov_base = s->rbufs[i], .iov_len = DNS_MSG_MAX};
		s->min[i].msg_hdr = (struct msghdr){.msg_iov = &s->iin[i], .msg_iovlen = 1};
	}
	return s;
}

void dns_server_set_tcp_idle(struct dns_server *s, uint32_t ms)
{
	s->idle_ms = ms;
}

void dns_server_set_model(struct dns_server *s, const struct model *m)
{
	s->m = m;
	dns_index_free(s->ix);
	s->ix = dns_index_new(m);
	if (!s->ix)
		log_warn("dns: out of memory for the index of the new model: answers will be slow");
	for (struct dns_listener *l = s->listeners; l; l = l->next)
		l->vpc = vpc_for_addr(m, l->addr);
}

/* ---- UDP ---- */

/* The reply (into reply, DNS_MSG_MAX bytes) to the datagram msg/n, or 0
 * when there is none now (dropped, or forwarded: it then comes through
 * on_forwarded). */
static size_t udp_answer(struct dns_server *s, struct dns_listener *l,
			 const struct sockaddr_in *from, const uint8_t *msg, size_t n,
			 uint8_t *reply)
{
	struct dns_fwd_req fwd = {0};
	size_t r = dns_answer_ex(s->m, s->ix, l->vpc, &s->env, msg, n, reply, DNS_MSG_MAX, false,
				 &fwd);
	struct dns_query q;
	struct dns_fwd_client cl = {.fd = l->udp.fd, .addr = *from};
	if (!fwd.forward)
		return r;
	if (dns_query_parse(msg, n, &q) < 0)
		return 0;
	memcpy(s->prefix, reply, fwd.prefix_len);
	return dns_forward_query_chain(s->fwd, &q, fwd.name, s->prefix, fwd.prefix_len, &cl,
				       reply, DNS_MSG_MAX);
}

/* Sends the nout replies of mout. A reply that cannot be sent now is
 * dropped: the client retries, as it would on a lost datagram. */
static void udp_send(struct dns_server *s, int fd, unsigned nout)
{
	unsigned k = 0;
	while (k < nout) {
		int rc = sendmmsg(fd, s->mout + k, nout - k, MSG_DONTWAIT);
		if (rc < 0) {
			if (errno == EINTR)
				continue;
			k++; /* this one fails: drop it, go on with the next */
			continue;
		}
		if (rc == 0)
			break;
		k += (unsigned)rc;
	}
}

/* Reads datagrams in batches (recvmmsg) until the socket is drained or
 * UDP_BURST were read, and answers each batch with one sendmmsg. */
static void on_udp(struct loop *loop, struct loop_io *io, uint32_t events)
{
	struct dns_listener *l = io->data;
	struct dns_server *s = l->s;
	(void)loop;
	(void)events;

	for (int total = 0; total < UDP_BURST;) {
		unsigned nout = 0;
		int n;
		for (int i = 0; i < UDP_BATCH; i++) {
			s->min[i].msg_hdr.msg_name = &s->from[i];
			s->min[i].msg_hdr.msg_namelen = sizeof(s->from[i]);
		}
		n = recvmmsg(io->fd, s->min, UDP_BATCH, MSG_DONTWAIT, NULL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				log_debug("dns: udp recvmmsg: %s", strerror(errno));
			return;
		}
		for (int i = 0; i < n; i++) {
			size_t r = udp_answer(s, l, &s->from[i], s->rbufs[i], s->min[i].msg_len,
					      s->replies[i]);
			if (r == 0)
				continue;
			s->iout[nout] = (struct iovec){.iov_base = s->replies[i], .iov_len = r};
			s->mout[nout].msg_hdr = (struct msghdr){
				.msg_name = &s->from[i],
				.msg_namelen = s->min[i].msg_hdr.msg_namelen,
				.msg_iov = &s->iout[nout],
				.msg_iovlen = 1,
			};
			nout++;
		}
		if (nout > 0)
			udp_send(s, io->fd, nout);
		total += n;
		if (n < UDP_BATCH) /* drained: epoll (level-triggered) says when more come */
			return;
	}
}

/* ---- TCP connections ---- */

static void conn_close(struct dns_conn *c)
{
	struct dns_server *s = c->s;
	dns_forward_cancel(s->fwd, c);
	loop_io_del(s->loop, &c->io);
	close(c->io.fd);
	loop_timer_stop(s->loop, &c->idle);
	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	s->nconns--;
	free(c->in);
	free(c->out);
	c->in = c->out = NULL;
	loop_defer_free(s->loop, c);
}

static void on_idle(struct loop *loop, struct loop_timer *t)
{
	struct dns_conn *c = t->data;
	(void)loop;
	log_debug("dns: tcp connection idle for %u ms, closing", c->idle_ms);
	conn_close(c);
}

/* Reads what is there into in. Returns 0, or -1 when the connection broke
 * (it is then closed). */
static int conn_read(struct dns_conn *c)
{
	for (int i = 0; i < READ_BURST && !c->eof; i++) {
		ssize_t n;
		if (c->inlen == c->incap) {
			size_t want = c->incap * 2;
			uint8_t *p;
			if (c->incap >= IN_MAX)
				return 0; /* a whole message waits: processing frees room */
			if (c->inlen >= 2 && want < 2 + (size_t)(c->in[0] << 8 | c->in[1]))
				want = 2 + (size_t)(c->in[0] << 8 | c->in[1]);
			if (want > IN_MAX)
				want = IN_MAX;
			p = realloc(c->in, want);
			if (!p) {
				log_warn("dns: out of memory for a tcp query, closing");
				conn_close(c);
				return -1;
			}
			c->in = p;
			c->incap = want;
		}
		n = read(c->io.fd, c->in + c->inlen, c->incap - c->inlen);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			conn_close(c);
			return -1;
		}
		if (n == 0) {
			c->eof = true;
			return 0;
		}
		c->inlen += (size_t)n;
		loop_timer_start(c->s->loop, &c->idle, c->idle_ms);
	}
	return 0;
}

/* The reply to one query of c, in s->reply + 2; 0 when none now (dropped,
 * or forwarded: the reply then comes through on_forwarded). */
static size_t tcp_answer(struct dns_conn *c, const uint8_t *msg, size_t len)
{
	struct dns_server *s = c->s;
	struct dns_fwd_req fwd = {0};
	size_t r = dns_answer_ex(s->m, s->ix, c->l->vpc, &s->env, msg, len, s->reply + 2, DNS_MSG_MAX,
				 true, &fwd);
	struct dns_query q;
	struct dns_fwd_client cl = {.owner = c, .fd = -1, .tcp = true};
	if (!fwd.forward)
		return r;
	if (dns_query_parse(msg, len, &q) < 0)
		return 0;
	c->nfwd++;
	memcpy(s->prefix, s->reply + 2, fwd.prefix_len);
	r = dns_forward_query_chain(s->fwd, &q, fwd.name, s->prefix, fwd.prefix_len, &cl,
				    s->reply + 2, DNS_MSG_MAX);
	if (r > 0)
		c->nfwd--;
	return r;
}

/* Appends one framed reply to out. Returns false when it would go past
 * OUT_MAX. Out of memory loses the reply, as a lost datagram would. */
static bool conn_append(struct dns_conn *c, const uint8_t *reply, size_t r)
{
	size_t pending = c->outlen - c->outoff;
	if (pending + 2 + r > OUT_MAX)
		return false;
	if (c->outoff > 0) { /* compact before growing */
		memmove(c->out, c->out + c->outoff, pending);
		c->outoff = 0;
		c->outlen = pending;
	}
	if (c->outlen + 2 + r > c->outcap) {
		size_t want = c->outcap ? c->outcap : 1024;
		uint8_t *p;
		while (want < c->outlen + 2 + r)
			want *= 2;
		if (want > OUT_MAX)
			want = OUT_MAX;
		p = realloc(c->out, want);
		if (p) {
			c->out = p;
			c->outcap = want;
		}
	}
	if (c->outlen + 2 + r <= c->outcap) {
		c->out[c->outlen] = (uint8_t)(r >> 8);
		c->out[c->outlen + 1] = (uint8_t)r;
		memcpy(c->out + c->outlen + 2, reply, r);
		c->outlen += 2 + r;
	}
	return true;
}

/* Answers the complete queries in in, in order, appending framed replies to
 * out. Stops (blocked) when out has no room for the next reply. */
static void conn_process(struct dns_conn *c)
{
	struct dns_server *s = c->s;
	size_t off = 0;

	c->blocked = false;
	while (c->inlen - off >= 2) {
		size_t mlen = (size_t)(c->in[off] << 8 | c->in[off + 1]), r;
		if (c->inlen - off < 2 + mlen)
			break;
		/* Room for the largest reply first: a forwarded query must not
		 * be asked twice because its reply found no room. */
		if (c->outlen - c->outoff + 2 + DNS_MSG_MAX > OUT_MAX) {
			c->blocked = true;
			break;
		}
		r = tcp_answer(c, c->in + off + 2, mlen);
		if (r > 0)
			conn_append(c, s->reply + 2, r);
		off += 2 + mlen;
	}
	if (off > 0) {
		memmove(c->in, c->in + off, c->inlen - off);
		c->inlen -= off;
	}
}

/* Sends what out holds. Returns 0, or -1 when the connection broke. */
static int conn_flush(struct dns_conn *c)
{
	while (c->outoff < c->outlen) {
		ssize_t n = send(c->io.fd, c->out + c->outoff, c->outlen - c->outoff,
				 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			conn_close(c);
			return -1;
		}
		c->outoff += (size_t)n;
		loop_timer_start(c->s->loop, &c->idle, c->idle_ms);
	}
	c->outoff = c->outlen = 0;
	return 0;
}

/* Asks the loop for what the connection now waits for, or closes it when
 * it waits for nothing (the client is done and every reply is sent). */
static void conn_update(struct dns_conn *c)
{
	uint32_t ev = 0;
	if (!c->eof && !c->blocked && c->inlen < IN_MAX)
		ev |= EPOLLIN;
	if (c->outlen > c->outoff)
		ev |= EPOLLOUT;
	if (ev == 0 && c->nfwd == 0) {
		conn_close(c);
		return;
	}
	if (ev != c->ev) {
		if (loop_io_mod(c->s->loop, &c->io, ev) < 0) {
			conn_close(c);
			return;
		}
		c->ev = ev;
	}
}

static void on_conn(struct loop *loop, struct loop_io *io, uint32_t events)
{
	struct dns_conn *c = io->data;
	(void)loop;

	if ((events & EPOLLOUT) && conn_flush(c) < 0)
		return;
	if ((events & (EPOLLIN | EPOLLHUP | EPOLLERR)) && conn_read(c) < 0)
		return;
	/* Gone while forwarded replies were due: nobody to send them to. */
	if ((events & (EPOLLHUP | EPOLLERR)) && c->eof && c->nfwd > 0) {
		conn_close(c);
		return;
	}
	/* Blocked means replies are pending past OUT_MAX; once they are all
	 * sent the next query fits, so this ends. */
	for (;;) {
		conn_process(c);
		if (conn_flush(c) < 0)
			return;
		if (!c->blocked || c->outlen > c->outoff)
			break;
	}
	conn_update(c);
}

static void on_accept(struct loop *loop, struct loop_io *io, uint32_t events)
{
	struct dns_listener *l = io->data;
	struct dns_server *s = l->s;
	(void)events;

	for (int i = 0; i < UDP_BURST; i++) {
		struct dns_conn *c;
		int fd = accept4(io->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				log_warn("dns: tcp accept: %s", strerror(errno));
			return;
		}
		if (s->nconns >= DNS_TCP_MAX_CONNS) {
			log_debug("dns: %d tcp connections open, refusing one", DNS_TCP_MAX_CONNS);
			close(fd);
			continue;
		}
		c = calloc(1, sizeof(*c));
		if (c)
			c->in = malloc(IN_INITIAL);
		if (!c || !c->in) {
			if (c)
				free(c);
			close(fd);
			continue;
		}
		c->s = s;
		c->l = l;
		c->incap = IN_INITIAL;
		c->ev = EPOLLIN;
		if (loop_io_add(loop, &c->io, fd, EPOLLIN, on_conn, c) < 0) {
			free(c->in);
			free(c);
			close(fd);
			continue;
		}
		loop_timer_init(&c->idle, on_idle, c);
		c->idle_ms = s->idle_ms;
		loop_timer_start(loop, &c->idle, c->idle_ms);
		c->next = s->conns;
		if (s->conns)
			s->conns->prev = c;
		s->conns = c;
		s->nconns++;
	}
}

/* ---- forwarding ---- */

static void on_forwarded(void *data, const struct dns_fwd_client *cl, const uint8_t *reply,
			 size_t len)
{
	struct dns_conn *c = cl->owner;
	(void)data;
	if (!c) {
		(void)sendto(cl->fd, reply, len, MSG_DONTWAIT, (const struct sockaddr *)&cl->addr,
			     sizeof(cl->addr));
		return;
	}
	c->nfwd--;
	conn_append(c, reply, len);
	for (;;) { /* as on_conn: queries held back for room go on now */
		if (conn_flush(c) < 0)
			return;
		if (!c->blocked || c->outlen > c->outoff)
			break;
		conn_process(c);
	}
	conn_update(c);
}

void dns_server_set_lb_health(struct dns_server *s, bool (*fn)(void *data, int lb), void *data)
{
	s->env.lb_healthy = fn;
	s->env.data = data;
}

int dns_server_add_upstream(struct dns_server *s, uint32_t addr, uint16_t port)
{
	return dns_forward_add_upstream(s->fwd, addr, port);
}

int dns_server_load_resolv_conf(struct dns_server *s, const char *path)
{
	uint32_t skip[16];
	size_t n = 0;
	for (struct dns_listener *l = s->listeners; l && n < 16; l = l->next)
		skip[n++] = l->addr;
	return dns_forward_load_resolv_conf(s->fwd, path, skip, n);
}

const struct dns_fwd_stats *dns_server_forward_stats(const struct dns_server *s)
{
	return dns_forward_stats(s->fwd);
}

/* ---- listeners ---- */

int dns_server_listen(struct dns_server *s, uint32_t addr, uint16_t port)
{
	struct dns_listener *l = calloc(1, sizeof(*l));
	int ufd = -1, tfd = -1, err;
	char buf[16];

	if (!l)
		return -ENOMEM;
	ufd = sock_listen4(addr, port, SOCK_DGRAM);
	if (ufd < 0) {
		err = ufd;
		goto fail;
	}
	tfd = sock_listen4(addr, port, SOCK_STREAM);
	if (tfd < 0) {
		err = tfd;
		goto fail;
	}
	l->s = s;
	l->addr = addr;
	l->vpc = vpc_for_addr(s->m, addr);
	err = loop_io_add(s->loop, &l->udp, ufd, EPOLLIN, on_udp, l);
	if (err < 0)
		goto fail;
	err = loop_io_add(s->loop, &l->tcp, tfd, EPOLLIN, on_accept, l);
	if (err < 0) {
		loop_io_del(s->loop, &l->udp);
		goto fail;
	}
	l->next = s->listeners;
	s->listeners = l;
	log_info("dns: listening on %s:%u (udp, tcp) for vpc %d", addr4_str(addr, buf), port,
		 l->vpc);
	return 0;
fail:
	if (ufd >= 0)
		close(ufd);
	if (tfd >= 0)
		close(tfd);
	free(l);
	return err;
}

void dns_server_free(struct dns_server *s)
{
	if (!s)
		return;
	while (s->conns)
		conn_close(s->conns);
	dns_forward_free(s->fwd);
	dns_index_free(s->ix);
	free(s->rbufs);
	free(s->replies);
	while (s->listeners) {
		struct dns_listener *l = s->listeners;
		s->listeners = l->next;
		loop_io_del(s->loop, &l->udp);
		loop_io_del(s->loop, &l->tcp);
		close(l->udp.fd);
		close(l->tcp.fd);
		/* A later event of the current batch may still name its ios. */
		loop_defer_free(s->loop, l);
	}
	free(s);
}
