/*
 * Forwarding: the VPC resolver sends names it does not own (outside the
 * VPC's private zones and the LB names) to the machine's resolvers, as
 * AmazonProvidedDNS forwards to public DNS. UDP first, TCP again when the
 * upstream sets TC (RFC 7766); upstreams tried in turn; SERVFAIL when none
 * answers within DNS_FWD_DEADLINE_MS. Replies are cached by question for
 * their TTL (the lowest in the answer and authority); negative replies for
 * min(SOA TTL, SOA minimum) (RFC 2308); the cache is bounded in entries and
 * bytes and drops the least recently used entry first. All on the loop,
 * non-blocking.
 *
 * Ownership: the forwarder owns its sockets, pending queries and cache; it
 * borrows the loop. The callback's reply buffer is valid only during the
 * call. A pending query whose client goes away is dropped with
 * dns_forward_cancel(owner) and never calls back.
 */
#ifndef VPCD_DNS_FORWARD_H
#define VPCD_DNS_FORWARD_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/loop.h"
#include "dns/wire.h"

#define DNS_FWD_MAX_UPSTREAMS 8
#define DNS_FWD_ATTEMPT_MS 600
#define DNS_FWD_DEADLINE_MS 2000
#define DNS_FWD_MAX_PENDING 1024
#define DNS_FWD_CACHE_MAX 4096
#define DNS_FWD_CACHE_BYTES (8u << 20)
#define DNS_FWD_TTL_MAX 86400

/* Who asked: a UDP client (owner NULL; fd and addr say where to send) or a
 * TCP connection (owner is the connection). */
struct dns_fwd_client {
	void *owner;
	int fd;
	struct sockaddr_in addr;
	bool tcp;
};

typedef void (*dns_forward_fn)(void *data, const struct dns_fwd_client *cl, const uint8_t *reply,
			       size_t len);

struct dns_fwd_stats {
	uint64_t queries;  /* forwarded questions (cache misses) */
	uint64_t hits;	   /* answered from the cache */
	uint64_t servfail; /* no upstream answered in time */
};

struct dns_forward;

/* cb receives each reply computed later. Returns NULL when out of memory. */
struct dns_forward *dns_forward_new(struct loop *loop, dns_forward_fn cb, void *data);
/* Adds an upstream (host order). Returns 0, -ENOSPC past
 * DNS_FWD_MAX_UPSTREAMS, -EEXIST for a duplicate. */
int dns_forward_add_upstream(struct dns_forward *f, uint32_t addr, uint16_t port);
/* Adds the IPv4 `nameserver` lines of a resolv.conf (port 53), leaving out
 * those in skip (our own listening addresses, which would loop). Returns how
 * many were added, or -errno when the file cannot be read. */
int dns_forward_load_resolv_conf(struct dns_forward *f, const char *path, const uint32_t *skip,
				 size_t nskip);
size_t dns_forward_nupstreams(const struct dns_forward *f);
/* Forwards the parsed query q (over tcp or not, from cl). Returns the reply
 * length when it can answer at once (from the cache, or SERVFAIL with no
 * upstream), writing it to out; 0 when the reply will come through the
 * callback, or the query was dropped (too many pending). */
size_t dns_forward_query(struct dns_forward *f, const struct dns_query *q,
			 const struct dns_fwd_client *cl, uint8_t *out, size_t cap);
/* The same for a question whose answer starts with our own CNAME chain:
 * prefix (prefix_len bytes: header, question, our answer records) is the
 * start of the client's reply; upstream is asked for ask (wire-form name,
 * the chain's end, same type), and its answer and authority records are
 * appended (names decompressed), its rcode taken. */
size_t dns_forward_query_chain(struct dns_forward *f, const struct dns_query *q,
			       const uint8_t *ask, const uint8_t *prefix, size_t prefix_len,
			       const struct dns_fwd_client *cl, uint8_t *out, size_t cap);
/* Drops every pending query of owner, without calling back. */
void dns_forward_cancel(struct dns_forward *f, void *owner);
const struct dns_fwd_stats *dns_forward_stats(const struct dns_forward *f);
void dns_forward_free(struct dns_forward *f);

/* ---- pure helpers (exposed for tests) ---- */

/* How long an upstream reply may be cached, in seconds: 0 when it must not
 * be (SERVFAIL and other errors, a negative reply without SOA, malformed). */
uint32_t dns_forward_cache_ttl(const uint8_t *msg, size_t len);
/* The client's reply from an upstream reply: the client's id and question
 * (its case), RA set, AA cleared, TTLs lowered by age seconds, the
 * upstream's OPT replaced by ours when the client sent EDNS0, kept within
 * the client's UDP size (else TC with the question only). Returns the
 * length, or 0 when up is malformed or answers another question. */
size_t dns_forward_rewrite(const uint8_t *up, size_t uplen, uint32_t age,
			   const struct dns_query *cq, bool tcp, uint8_t *out, size_t cap);
/* A chained reply: prefix (see dns_forward_query_chain) + the records of
 * the upstream reply up (TTLs aged), within the client's size (else TC).
 * Returns the length, or 0 when up is malformed. */
size_t dns_forward_merge(const uint8_t *prefix, size_t plen, const uint8_t *up, size_t uplen,
			 uint32_t age, const struct dns_query *cq, bool tcp, uint8_t *out,
			 size_t cap);
/* A reply with only the header, the question and (with EDNS0) an OPT:
 * SERVFAIL and the like. */
size_t dns_forward_error(const struct dns_query *cq, int rcode, bool tc, uint8_t *out,
			 size_t cap);

#endif
