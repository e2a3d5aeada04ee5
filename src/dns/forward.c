/*
 * The forwarder: questions the VPC resolver does not own go to upstream
 * resolvers. Each pending question has its own connected UDP socket (a
 * fresh source port and a random id, so a reply from anyone else is not
 * taken), tries upstreams in turn every DNS_FWD_ATTEMPT_MS, moves to TCP
 * on the same upstream when the reply is truncated, and ends with SERVFAIL
 * at DNS_FWD_DEADLINE_MS. Good replies are cached as received and rewritten
 * for each client (id, case, TTLs aged, EDNS0).
 */
#include "dns/forward.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/addr.h"
#include "core/log.h"

#define CACHE_BUCKETS 1024
#define OUR_UDP_SIZE 1232
#define OPT_LEN 11

struct fwd_upstream {
	uint32_t addr;
	uint16_t port;
};

struct fwd_entry {
	struct fwd_entry *hnext;       /* bucket chain */
	struct fwd_entry *prev, *next; /* LRU, most recent first */
	uint32_t hash;
	uint8_t key[DNS_NAME_MAX + 5]; /* lower-case qname, qtype, qclass, DO */
	size_t keylen;
	uint64_t stored_ms, expire_ms;
	uint8_t *msg;
	size_t len;
};

struct fwd_pending {
	struct dns_forward *f;
	struct fwd_pending *prev, *next;
	struct dns_fwd_client cl;
	struct dns_query q;   /* the client's question */
	struct dns_query ask; /* ours to upstream: q, or our chain's end */
	uint8_t *prefix;      /* our part of a chained answer, or NULL */
	size_t prefix_len;
	uint16_t id;
	size_t first, tries;
	size_t upstream;
	bool tcp;
	struct loop_io io;
	struct loop_timer timer;
	uint64_t deadline;
	uint8_t msg[2 + DNS_NAME_MAX + 4 + DNS_HDR_LEN + OPT_LEN]; /* framed query */
	size_t msglen;	/* without the 2-byte frame */
	size_t sent;	/* TCP: bytes of the frame sent */
	uint8_t *tin;	/* TCP: reply being read */
	size_t tinlen, tincap;
};

struct dns_forward {
	struct loop *loop;
	dns_forward_fn cb;
	void *data;
	struct fwd_upstream up[DNS_FWD_MAX_UPSTREAMS];
	size_t nup;
	size_t rr; /* round-robin start */
	struct fwd_pending *pending;
	size_t npending;
	struct fwd_entry *buckets[CACHE_BUCKETS];
	struct fwd_entry *lru_head, *lru_tail;
	size_t nentries, bytes;
	struct dns_fwd_stats stats;
	uint8_t buf[DNS_MSG_MAX];
	uint8_t reply[DNS_MSG_MAX];
};

/* ---- pure helpers ---- */

/* Reads a record's fixed part at the cursor. Returns false when malformed. */
static bool rr_read(struct dns_cursor *c, size_t *start, uint16_t *type, size_t *ttl_at,
		    size_t *end)
{
	uint16_t rdlen;
	*start = c->pos;
	dns_cursor_name(c, NULL);
	*type = dns_cursor_u16(c);
	(void)dns_cursor_u16(c);
	*ttl_at = c->pos;
	(void)dns_cursor_u32(c);
	rdlen = dns_cursor_u16(c);
	dns_cursor_skip(c, rdlen);
	*end = c->pos;
	return !c->err;
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

uint32_t dns_forward_cache_ttl(const uint8_t *msg, size_t len)
{
	struct dns_cursor c;
	struct dns_header h;
	uint32_t ttl = DNS_FWD_TTL_MAX, soa = 0;
	bool have_soa = false;
	int rcode;

	dns_cursor_init(&c, msg, len);
	dns_cursor_header(&c, &h);
	rcode = DNS_RCODE(h.flags);
	if (c.err || h.qdcount != 1 || (h.flags & DNS_F_TC) ||
	    (rcode != DNS_R_NOERROR && rcode != DNS_R_NXDOMAIN))
		return 0;
	dns_cursor_name(&c, NULL);
	dns_cursor_skip(&c, 4);
	for (size_t i = 0; i < (size_t)h.ancount + h.nscount; i++) {
		size_t start, ttl_at, end;
		uint16_t type;
		uint32_t t;
		if (!rr_read(&c, &start, &type, &ttl_at, &end))
			return 0;
		t = rd32(msg + ttl_at);
		if (t > 0x7fffffffu) /* RFC 2181 8: treat as zero */
			t = 0;
		if (t < ttl)
			ttl = t;
		if (i >= h.ancount && type == DNS_T_SOA && end - start >= 20) {
			uint32_t min = rd32(msg + end - 4);
			have_soa = true;
			soa = t < min ? t : min;
		}
	}
	if (c.err)
		return 0;
	/* RFC 2308: a negative answer lives as long as its SOA says. */
	if (rcode == DNS_R_NXDOMAIN || h.ancount == 0)
		return have_soa ? (soa < DNS_FWD_TTL_MAX ? soa : DNS_FWD_TTL_MAX) : 0;
	return ttl;
}

size_t dns_forward_error(const struct dns_query *cq, int rcode, bool tc, uint8_t *out, size_t cap)
{
	struct dns_writer w;
	struct dns_header h = {
		.id = cq->hdr.id,
		.flags = (uint16_t)(DNS_F_QR | DNS_F_RA | (tc ? DNS_F_TC : 0) |
				    (cq->hdr.flags & (DNS_F_RD | DNS_F_CD)) | (rcode & 0xf)),
		.qdcount = 1,
		.arcount = cq->edns.present ? 1 : 0,
	};
	dns_writer_init(&w, out, cap);
	dns_writer_header(&w, &h);
	dns_writer_name(&w, cq->qname);
	dns_writer_u16(&w, cq->qtype);
	dns_writer_u16(&w, cq->qclass);
	if (cq->edns.present)
		dns_writer_opt_do(&w, OUR_UDP_SIZE, (uint8_t)(rcode >> 4), cq->edns.do_bit);
	return w.err ? 0 : w.len;
}

size_t dns_forward_rewrite(const uint8_t *up, size_t uplen, uint32_t age,
			   const struct dns_query *cq, bool tcp, uint8_t *out, size_t cap)
{
	struct dns_cursor c;
	struct dns_header h;
	uint8_t qname[DNS_NAME_MAX];
	size_t qend, limit, n, arcount = 0;
	struct dns_writer w;

	dns_cursor_init(&c, up, uplen);
	dns_cursor_header(&c, &h);
	if (c.err || !(h.flags & DNS_F_QR) || h.qdcount != 1)
		return 0;
	/* The question must be ours, written out at offset 12 (no pointer),
	 * so that the client's spelling can replace it byte for byte. */
	if (!dns_cursor_name(&c, qname) || c.pos - DNS_HDR_LEN != cq->qname_len ||
	    !dns_name_eq(qname, cq->qname))
		return 0;
	if (dns_cursor_u16(&c) != cq->qtype || dns_cursor_u16(&c) != cq->qclass || c.err)
		return 0;
	qend = c.pos;

	limit = tcp ? DNS_MSG_MAX : DNS_UDP_MIN;
	if (!tcp && cq->edns.present && cq->edns.udp_size > limit)
		limit = cq->edns.udp_size;
	if (limit > cap)
		limit = cap;
	if (limit < qend + OPT_LEN)
		return 0;

	dns_writer_init(&w, out, limit - (cq->edns.present ? OPT_LEN : 0));
	dns_writer_bytes(&w, up, qend);
	memcpy(out + DNS_HDR_LEN, cq->qname, cq->qname_len);
	n = (size_t)h.ancount + h.nscount + h.arcount;
	for (size_t i = 0; i < n; i++) {
		size_t start, ttl_at, end, at;
		uint16_t type;
		uint32_t ttl;
		if (!rr_read(&c, &start, &type, &ttl_at, &end))
			return 0;
		if (type == DNS_T_OPT) {
			if (i < (size_t)h.ancount + h.nscount)
				return 0;
			continue; /* ours replaces it */
		}
		if (i >= (size_t)h.ancount + h.nscount)
			arcount++;
		at = w.len;
		dns_writer_bytes(&w, up + start, end - start);
		if (w.err)
			break;
		ttl = rd32(up + ttl_at);
		ttl = ttl > 0x7fffffffu ? 0 : (ttl > age ? ttl - age : 0);
		out[at + (ttl_at - start)] = (uint8_t)(ttl >> 24);
		out[at + (ttl_at - start) + 1] = (uint8_t)(ttl >> 16);
		out[at + (ttl_at - start) + 2] = (uint8_t)(ttl >> 8);
		out[at + (ttl_at - start) + 3] = (uint8_t)ttl;
	}
	if (w.err)
		return dns_forward_error(cq, DNS_RCODE(h.flags), true, out, limit);
	if (cq->edns.present) {
		w.cap = limit;
		dns_writer_opt_do(&w, OUR_UDP_SIZE, 0, cq->edns.do_bit);
		arcount++;
	}
	h.id = cq->hdr.id;
	h.flags = (uint16_t)((h.flags & ~(DNS_F_AA | DNS_F_RD | DNS_F_CD | DNS_F_TC)) | DNS_F_RA |
			     (cq->hdr.flags & (DNS_F_RD | DNS_F_CD)));
	h.arcount = (uint16_t)arcount;
	{
		size_t len = w.len;
		w.len = 0;
		dns_writer_header(&w, &h);
		w.len = len;
	}
	return w.err ? 0 : w.len;
}

/* Copies one record of up at the cursor into w with its names written out
 * (they may point anywhere in up), its TTL lowered by age. OPT is left out.
 * Returns -1 when malformed, 0 when left out, 1 when written. */
static int copy_rr(struct dns_cursor *c, struct dns_writer *w, uint32_t age)
{
	uint8_t owner[DNS_NAME_MAX], n1[DNS_NAME_MAX], n2[DNS_NAME_MAX];
	uint16_t type, cls, rdlen;
	uint32_t ttl;
	size_t start, at;

	if (!dns_cursor_name(c, owner))
		return -1;
	type = dns_cursor_u16(c);
	cls = dns_cursor_u16(c);
	ttl = dns_cursor_u32(c);
	rdlen = dns_cursor_u16(c);
	if (c->err || rdlen > c->len - c->pos)
		return -1;
	start = c->pos;
	if (type == DNS_T_OPT) {
		dns_cursor_skip(c, rdlen);
		return 0;
	}
	ttl = ttl > 0x7fffffffu ? 0 : (ttl > age ? ttl - age : 0);
	dns_writer_name(w, owner);
	dns_writer_u16(w, type);
	dns_writer_u16(w, cls);
	dns_writer_u32(w, ttl);
	at = w->len;
	dns_writer_u16(w, 0);
	switch (type) {
	case DNS_T_CNAME:
	case DNS_T_NS:
	case DNS_T_PTR:
		if (!dns_cursor_name(c, n1))
			return -1;
		dns_writer_name(w, n1);
		break;
	case DNS_T_MX:
		dns_writer_u16(w, dns_cursor_u16(c));
		if (!dns_cursor_name(c, n1))
			return -1;
		dns_writer_name(w, n1);
		break;
	case DNS_T_SRV:
		dns_writer_u16(w, dns_cursor_u16(c));
		dns_writer_u16(w, dns_cursor_u16(c));
		dns_writer_u16(w, dns_cursor_u16(c));
		if (!dns_cursor_name(c, n1))
			return -1;
		dns_writer_name_raw(w, n1);
		break;
	case DNS_T_SOA:
		if (!dns_cursor_name(c, n1) || !dns_cursor_name(c, n2))
			return -1;
		dns_writer_name(w, n1);
		dns_writer_name(w, n2);
		for (int k = 0; k < 5; k++)
			dns_writer_u32(w, dns_cursor_u32(c));
		break;
	default:
		dns_writer_bytes(w, c->buf + c->pos, rdlen);
		dns_cursor_skip(c, rdlen);
	}
	if (c->err || c->pos != start + rdlen)
		return -1;
	dns_writer_put_u16(w, at, (uint16_t)(w->len - at - 2));
	return 1;
}

size_t dns_forward_merge(const uint8_t *prefix, size_t plen, const uint8_t *up, size_t uplen,
			 uint32_t age, const struct dns_query *cq, bool tcp, uint8_t *out,
			 size_t cap)
{
	struct dns_cursor c;
	struct dns_header h, ph;
	struct dns_writer w;
	size_t limit, n[2] = {0, 0};
	int rcode;

	dns_cursor_init(&c, up, uplen);
	dns_cursor_header(&c, &h);
	rcode = DNS_RCODE(h.flags);
	if (c.err || !(h.flags & DNS_F_QR) || h.qdcount != 1)
		return 0;
	if (rcode != DNS_R_NOERROR && rcode != DNS_R_NXDOMAIN)
		return dns_forward_error(cq, DNS_R_SERVFAIL, false, out, cap);
	dns_cursor_name(&c, NULL);
	dns_cursor_skip(&c, 4);

	limit = tcp ? DNS_MSG_MAX : DNS_UDP_MIN;
	if (!tcp && cq->edns.present && cq->edns.udp_size > limit)
		limit = cq->edns.udp_size;
	if (limit > cap)
		limit = cap;
	if (plen < DNS_HDR_LEN || limit < plen + OPT_LEN)
		return dns_forward_error(cq, DNS_R_NOERROR, true, out, cap);
	dns_writer_init(&w, out, limit - (cq->edns.present ? OPT_LEN : 0));
	dns_writer_bytes(&w, prefix, plen);
	/* Answer and authority of upstream follow ours (additional: left). */
	for (int sec = 0; sec < 2; sec++) {
		size_t cnt = sec == 0 ? h.ancount : h.nscount;
		for (size_t i = 0; i < cnt; i++) {
			int rc = copy_rr(&c, &w, age);
			if (rc < 0)
				return 0;
			n[sec] += (size_t)rc;
		}
	}
	if (w.err)
		return dns_forward_error(cq, rcode, true, out, limit);
	if (cq->edns.present) {
		w.cap = limit;
		dns_writer_opt_do(&w, OUR_UDP_SIZE, 0, cq->edns.do_bit);
	}
	{
		struct dns_cursor pc;
		size_t len = w.len;
		dns_cursor_init(&pc, prefix, plen);
		dns_cursor_header(&pc, &ph);
		ph.flags = (uint16_t)((ph.flags & ~(DNS_F_AA | DNS_F_TC | 0xf)) | DNS_F_RA | rcode);
		ph.ancount = (uint16_t)(ph.ancount + n[0]);
		ph.nscount = (uint16_t)n[1];
		ph.arcount = cq->edns.present ? 1 : 0;
		w.len = 0;
		dns_writer_header(&w, &ph);
		w.len = len;
	}
	return w.err ? 0 : w.len;
}

/* ---- the cache ---- */

static size_t cache_key(const struct dns_query *q, uint8_t *key)
{
	size_t n = q->qname_len;
	memcpy(key, q->qname, n);
	/* Lower-case the label bytes, not the length bytes. */
	for (size_t i = 0; i < n && key[i];) {
		size_t l = key[i++];
		for (size_t j = 0; j < l && i < n; j++, i++)
			if (key[i] >= 'A' && key[i] <= 'Z')
				key[i] = (uint8_t)(key[i] | 0x20);
	}
	key[n++] = (uint8_t)(q->qtype >> 8);
	key[n++] = (uint8_t)q->qtype;
	key[n++] = (uint8_t)(q->qclass >> 8);
	key[n++] = (uint8_t)q->qclass;
	key[n++] = q->edns.do_bit;
	return n;
}

static uint32_t key_hash(const uint8_t *k, size_t n)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < n; i++)
		h = (h ^ k[i]) * 16777619u;
	return h;
}

static void lru_unlink(struct dns_forward *f, struct fwd_entry *e)
{
	if (e->prev)
		e->prev->next = e->next;
	else
		f->lru_head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		f->lru_tail = e->prev;
	e->prev = e->next = NULL;
}

static void lru_push(struct dns_forward *f, struct fwd_entry *e)
{
	e->prev = NULL;
	e->next = f->lru_head;
	if (f->lru_head)
		f->lru_head->prev = e;
	f->lru_head = e;
	if (!f->lru_tail)
		f->lru_tail = e;
}

static void cache_remove(struct dns_forward *f, struct fwd_entry *e)
{
	struct fwd_entry **pp = &f->buckets[e->hash % CACHE_BUCKETS];
	while (*pp && *pp != e)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = e->hnext;
	lru_unlink(f, e);
	f->nentries--;
	f->bytes -= e->len;
	free(e->msg);
	free(e);
}

static struct fwd_entry *cache_find(struct dns_forward *f, const uint8_t *key, size_t keylen,
				    uint32_t hash)
{
	uint64_t now = loop_now_ms(f->loop);
	for (struct fwd_entry *e = f->buckets[hash % CACHE_BUCKETS]; e; e = e->hnext) {
		if (e->hash != hash || e->keylen != keylen || memcmp(e->key, key, keylen) != 0)
			continue;
		if (now >= e->expire_ms) {
			cache_remove(f, e);
			return NULL;
		}
		lru_unlink(f, e);
		lru_push(f, e);
		return e;
	}
	return NULL;
}

static void cache_put(struct dns_forward *f, const struct dns_query *q, const uint8_t *msg,
		      size_t len)
{
	uint32_t ttl = dns_forward_cache_ttl(msg, len);
	uint8_t key[DNS_NAME_MAX + 5];
	size_t keylen;
	uint32_t hash;
	struct fwd_entry *e;

	if (ttl == 0 || len > DNS_FWD_CACHE_BYTES / 16)
		return;
	keylen = cache_key(q, key);
	hash = key_hash(key, keylen);
	e = cache_find(f, key, keylen, hash);
	if (e)
		cache_remove(f, e);
	while (f->lru_tail &&
	       (f->nentries >= DNS_FWD_CACHE_MAX || f->bytes + len > DNS_FWD_CACHE_BYTES))
		cache_remove(f, f->lru_tail);
	e = calloc(1, sizeof(*e));
	if (!e)
		return;
	e->msg = malloc(len);
	if (!e->msg) {
		free(e);
		return;
	}
	memcpy(e->msg, msg, len);
	e->len = len;
	memcpy(e->key, key, keylen);
	e->keylen = keylen;
	e->hash = hash;
	e->stored_ms = loop_now_ms(f->loop);
	e->expire_ms = e->stored_ms + (uint64_t)ttl * 1000;
	e->hnext = f->buckets[hash % CACHE_BUCKETS];
	f->buckets[hash % CACHE_BUCKETS] = e;
	lru_push(f, e);
	f->nentries++;
	f->bytes += len;
}

/* ---- pending questions ---- */

static void pending_close_io(struct dns_forward *f, struct fwd_pending *p)
{
	if (p->io.active)
		loop_io_del(f->loop, &p->io);
	if (p->io.fd >= 0)
		close(p->io.fd);
	p->io.fd = -1;
	free(p->tin);
	p->tin = NULL;
	p->tinlen = p->tincap = 0;
}

static void pending_free(struct fwd_pending *p)
{
	struct dns_forward *f = p->f;
	pending_close_io(f, p);
	loop_timer_stop(f->loop, &p->timer);
	if (p->prev)
		p->prev->next = p->next;
	else
		f->pending = p->next;
	if (p->next)
		p->next->prev = p->prev;
	f->npending--;
	free(p->prefix);
	p->prefix = NULL;
	loop_defer_free(f->loop, p);
}

static void pending_reply(struct fwd_pending *p, const uint8_t *msg, size_t len)
{
	struct dns_forward *f = p->f;
	struct dns_fwd_client cl = p->cl;
	if (len > 0)
		f->cb(f->data, &cl, msg, len);
	pending_free(p);
}

static void pending_servfail(struct fwd_pending *p)
{
	struct dns_forward *f = p->f;
	char a[16];
	char name[DNS_NAME_MAX * 4 + 2];
	if (dns_name_to_str(p->q.qname, name, sizeof(name)) < 0)
		snprintf(name, sizeof(name), "?");
	log_debug("dns: no upstream answered %s (last %s:%u): SERVFAIL", name,
		  addr4_str(f->up[p->upstream].addr, a), f->up[p->upstream].port);
	f->stats.servfail++;
	pending_reply(p, f->reply,
		      dns_forward_error(&p->q, DNS_R_SERVFAIL, false, f->reply, sizeof(f->reply)));
}

static void pending_try(struct fwd_pending *p);

/* An upstream's reply to p: checked, cached, rewritten for the client. An
 * upstream that fails (SERVFAIL, REFUSED, NOTIMP) lets the next one try,
 * as a stub resolver does, until each was asked once. */
static void pending_answer(struct fwd_pending *p, const uint8_t *msg, size_t len)
{
	struct dns_forward *f = p->f;
	int rcode = len >= 4 ? msg[3] & 0xf : DNS_R_SERVFAIL;
	size_t r;
	if ((rcode == DNS_R_SERVFAIL || rcode == DNS_R_REFUSED || rcode == DNS_R_NOTIMP) &&
	    p->tries < f->nup) {
		pending_try(p);
		return;
	}
	cache_put(f, &p->ask, msg, len);
	if (p->prefix)
		r = dns_forward_merge(p->prefix, p->prefix_len, msg, len, 0, &p->q, p->cl.tcp,
				      f->reply, sizeof(f->reply));
	else
		r = dns_forward_rewrite(msg, len, 0, &p->q, p->cl.tcp, f->reply, sizeof(f->reply));
	if (r == 0)
		r = dns_forward_error(&p->q, DNS_R_SERVFAIL, false, f->reply, sizeof(f->reply));
	pending_reply(p, f->reply, r);
}

/* Is msg a reply to p's question? */
static bool reply_matches(const struct fwd_pending *p, const uint8_t *msg, size_t len)
{
	struct dns_cursor c;
	struct dns_header h;
	uint8_t name[DNS_NAME_MAX];
	dns_cursor_init(&c, msg, len);
	dns_cursor_header(&c, &h);
	if (c.err || h.id != p->id || !(h.flags & DNS_F_QR) || h.qdcount != 1)
		return false;
	if (!dns_cursor_name(&c, name) || !dns_name_eq(name, p->ask.qname))
		return false;
	return dns_cursor_u16(&c) == p->ask.qtype && dns_cursor_u16(&c) == p->ask.qclass && !c.err;
}

static void on_tcp(struct loop *loop, struct loop_io *io, uint32_t events);

static void on_udp(struct loop *loop, struct loop_io *io, uint32_t events)
{
	struct fwd_pending *p = io->data;
	struct dns_forward *f = p->f;
	(void)loop;
	(void)events;
	for (int i = 0; i < 8; i++) {
		ssize_t n = recv(io->fd, f->buf, sizeof(f->buf), 0);
		struct dns_header h;
		struct dns_cursor c;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == ECONNREFUSED) { /* nothing listens there: next one */
				pending_try(p);
				return;
			}
			return;
		}
		if (!reply_matches(p, f->buf, (size_t)n))
			continue; /* not ours; keep waiting */
		dns_cursor_init(&c, f->buf, (size_t)n);
		dns_cursor_header(&c, &h);
		if (h.flags & DNS_F_TC) {
			/* RFC 7766: the whole answer over TCP, same upstream. */
			int fd;
			struct sockaddr_in sa = {.sin_family = AF_INET,
						 .sin_port = htons(f->up[p->upstream].port),
						 .sin_addr.s_addr = htonl(f->up[p->upstream].addr)};
			pending_close_io(f, p);
			fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
			if (fd < 0 || (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 &&
				       errno != EINPROGRESS)) {
				if (fd >= 0)
					close(fd);
				pending_try(p);
				return;
			}
			p->tcp = true;
			p->sent = 0;
			if (loop_io_add(f->loop, &p->io, fd, EPOLLOUT, on_tcp, p) < 0) {
				close(fd);
				p->io.fd = -1;
				pending_try(p);
			}
			return;
		}
		pending_answer(p, f->buf, (size_t)n);
		return;
	}
}

static void on_tcp(struct loop *loop, struct loop_io *io, uint32_t events)
{
	struct fwd_pending *p = io->data;
	size_t flen = 2 + p->msglen;
	(void)events;

	while (p->sent < flen) {
		ssize_t n = send(io->fd, p->msg + p->sent, flen - p->sent,
				 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			pending_try(p);
			return;
		}
		p->sent += (size_t)n;
		if (p->sent == flen && loop_io_mod(loop, io, EPOLLIN) < 0) {
			pending_try(p);
			return;
		}
	}
	for (;;) {
		ssize_t n;
		if (p->tinlen == p->tincap) {
			size_t want = p->tincap ? p->tincap * 2 : 1024;
			uint8_t *b;
			if (want > 2 + DNS_MSG_MAX)
				want = 2 + DNS_MSG_MAX;
			if (want == p->tincap) {
				pending_try(p);
				return;
			}
			b = realloc(p->tin, want);
			if (!b) {
				pending_try(p);
				return;
			}
			p->tin = b;
			p->tincap = want;
		}
		n = recv(io->fd, p->tin + p->tinlen, p->tincap - p->tinlen, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			pending_try(p);
			return;
		}
		if (n == 0) {
			pending_try(p);
			return;
		}
		p->tinlen += (size_t)n;
		if (p->tinlen >= 2) {
			size_t mlen = (size_t)(p->tin[0] << 8 | p->tin[1]);
			if (p->tinlen >= 2 + mlen) {
				if (!reply_matches(p, p->tin + 2, mlen)) {
					pending_try(p);
					return;
				}
				/* f->buf: p->tin goes away with p. */
				memcpy(p->f->buf, p->tin + 2, mlen);
				pending_answer(p, p->f->buf, mlen);
				return;
			}
		}
	}
}

static void on_timer(struct loop *loop, struct loop_timer *t)
{
	(void)loop;
	pending_try(t->data);
}

/* Sends p's question to the next upstream over UDP, or ends it with
 * SERVFAIL when the deadline has come. */
static void pending_try(struct fwd_pending *p)
{
	struct dns_forward *f = p->f;
	uint64_t now = loop_now_ms(f->loop), left;
	const struct fwd_upstream *u;
	struct sockaddr_in sa;
	int fd;

	pending_close_io(f, p);
	p->tcp = false;
	for (;;) {
		if (now >= p->deadline || p->tries >= 4 * f->nup) {
			pending_servfail(p);
			return;
		}
		p->upstream = (p->first + p->tries++) % f->nup;
		u = &f->up[p->upstream];
		sa = (struct sockaddr_in){.sin_family = AF_INET,
					  .sin_port = htons(u->port),
					  .sin_addr.s_addr = htonl(u->addr)};
		fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0)
			continue;
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
		    send(fd, p->msg + 2, p->msglen, 0) < 0 ||
		    loop_io_add(f->loop, &p->io, fd, EPOLLIN, on_udp, p) < 0) {
			close(fd);
			continue;
		}
		break;
	}
	f->stats.queries++;
	left = p->deadline - now;
	loop_timer_start(f->loop, &p->timer, left < DNS_FWD_ATTEMPT_MS ? left : DNS_FWD_ATTEMPT_MS);
}

/* Our question to upstreams: recursion desired, CD as the client, EDNS0
 * with our size and the client's DO bit. */
static void build_upstream_query(struct fwd_pending *p)
{
	struct dns_writer w;
	struct dns_header h = {.id = p->id,
			       .flags = (uint16_t)(DNS_F_RD | (p->q.hdr.flags & DNS_F_CD)),
			       .qdcount = 1,
			       .arcount = 1};
	dns_writer_init(&w, p->msg + 2, sizeof(p->msg) - 2);
	dns_writer_header(&w, &h);
	dns_writer_name_raw(&w, p->ask.qname);
	dns_writer_u16(&w, p->q.qtype);
	dns_writer_u16(&w, p->q.qclass);
	dns_writer_u8(&w, 0);
	dns_writer_u16(&w, DNS_T_OPT);
	dns_writer_u16(&w, OUR_UDP_SIZE);
	dns_writer_u32(&w, p->q.edns.do_bit ? 0x8000u : 0);
	dns_writer_u16(&w, 0);
	p->msglen = w.len;
	p->msg[0] = (uint8_t)(w.len >> 8);
	p->msg[1] = (uint8_t)w.len;
}

size_t dns_forward_query(struct dns_forward *f, const struct dns_query *q,
			 const struct dns_fwd_client *cl, uint8_t *out, size_t cap)
{
	return dns_forward_query_chain(f, q, NULL, NULL, 0, cl, out, cap);
}

size_t dns_forward_query_chain(struct dns_forward *f, const struct dns_query *q,
			       const uint8_t *ask, const uint8_t *prefix, size_t prefix_len,
			       const struct dns_fwd_client *cl, uint8_t *out, size_t cap)
{
	uint8_t key[DNS_NAME_MAX + 5];
	struct dns_query aq = *q;
	size_t keylen;
	struct fwd_entry *e;
	struct fwd_pending *p;

	if (ask) {
		aq.qname_len = dns_name_len(ask);
		memcpy(aq.qname, ask, aq.qname_len);
	}
	if (!prefix)
		prefix_len = 0;
	keylen = cache_key(&aq, key);
	e = cache_find(f, key, keylen, key_hash(key, keylen));
	if (e) {
		uint32_t age = (uint32_t)((loop_now_ms(f->loop) - e->stored_ms) / 1000);
		size_t r = prefix_len ? dns_forward_merge(prefix, prefix_len, e->msg, e->len, age, q,
							  cl->tcp, out, cap)
				      : dns_forward_rewrite(e->msg, e->len, age, q, cl->tcp, out, cap);
		if (r > 0) {
			f->stats.hits++;
			return r;
		}
	}
	if (f->nup == 0)
		return dns_forward_error(q, DNS_R_SERVFAIL, false, out, cap);
	if (f->npending >= DNS_FWD_MAX_PENDING) {
		log_debug("dns: %d questions already forwarded, dropping one", DNS_FWD_MAX_PENDING);
		return 0;
	}
	p = calloc(1, sizeof(*p));
	if (p && prefix_len) {
		p->prefix = malloc(prefix_len);
		if (!p->prefix) {
			free(p);
			p = NULL;
		}
	}
	if (!p)
		return dns_forward_error(q, DNS_R_SERVFAIL, false, out, cap);
	if (prefix_len) {
		memcpy(p->prefix, prefix, prefix_len);
		p->prefix_len = prefix_len;
	}
	p->f = f;
	p->cl = *cl;
	p->q = *q;
	p->ask = aq;
	p->io.fd = -1;
	if (getrandom(&p->id, sizeof(p->id), GRND_NONBLOCK) != sizeof(p->id))
		p->id = (uint16_t)(rand() & 0xffff);
	p->first = f->rr++ % f->nup;
	p->deadline = loop_now_ms(f->loop) + DNS_FWD_DEADLINE_MS;
	loop_timer_init(&p->timer, on_timer, p);
	build_upstream_query(p);
	p->next = f->pending;
	if (f->pending)
		f->pending->prev = p;
	f->pending = p;
	f->npending++;
	pending_try(p); /* may end p at once (SERVFAIL); it then calls back */
	return 0;
}

void dns_forward_cancel(struct dns_forward *f, void *owner)
{
	struct fwd_pending *p = f ? f->pending : NULL;
	while (p) {
		struct fwd_pending *next = p->next;
		if (p->cl.owner == owner)
			pending_free(p);
		p = next;
	}
}

/* ---- set-up ---- */

struct dns_forward *dns_forward_new(struct loop *loop, dns_forward_fn cb, void *data)
{
	struct dns_forward *f = calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	f->loop = loop;
	f->cb = cb;
	f->data = data;
	return f;
}

int dns_forward_add_upstream(struct dns_forward *f, uint32_t addr, uint16_t port)
{
	char a[16];
	for (size_t i = 0; i < f->nup; i++)
		if (f->up[i].addr == addr && f->up[i].port == port)
			return -EEXIST;
	if (f->nup == DNS_FWD_MAX_UPSTREAMS)
		return -ENOSPC;
	f->up[f->nup++] = (struct fwd_upstream){addr, port};
	log_info("dns: forwarding other names to %s:%u", addr4_str(addr, a), port);
	return 0;
}

int dns_forward_load_resolv_conf(struct dns_forward *f, const char *path, const uint32_t *skip,
				 size_t nskip)
{
	FILE *fp = fopen(path, "r");
	char line[512];
	int added = 0;

	if (!fp)
		return -errno;
	while (fgets(line, sizeof(line), fp)) {
		char word[32], val[128];
		uint32_t addr;
		bool ours = false;
		if (sscanf(line, "%31s %127s", word, val) != 2 || strcmp(word, "nameserver") != 0)
			continue;
		if (addr4_parse(val, &addr) < 0) {
			log_debug("dns: %s: nameserver %s is not IPv4, not used", path, val);
			continue;
		}
		for (size_t i = 0; i < nskip; i++)
			ours |= skip[i] == addr;
		if (ours) {
			log_info("dns: %s names our own address %s, not forwarding there", path,
				 val);
			continue;
		}
		if (dns_forward_add_upstream(f, addr, 53) == 0)
			added++;
	}
	fclose(fp);
	return added;
}

size_t dns_forward_nupstreams(const struct dns_forward *f)
{
	return f->nup;
}

const struct dns_fwd_stats *dns_forward_stats(const struct dns_forward *f)
{
	return &f->stats;
}

void dns_forward_free(struct dns_forward *f)
{
	if (!f)
		return;
	while (f->pending)
		pending_free(f->pending);
	while (f->lru_head)
		cache_remove(f, f->lru_head);
	free(f);
}
