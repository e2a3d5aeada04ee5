/*
 * The VPC resolver's decision: one query message in, one reply message out,
 * computed from the model alone (private zones, record sets, load balancer
 * names). No I/O; the sockets live in dns/server.
 */
#ifndef VPCD_DNS_ANSWER_H
#define VPCD_DNS_ANSWER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dns/index.h"
#include "dns/wire.h"
#include "model/model.h"

/* Builds the reply to one query message against the model (indexing it
 * for this one call: servers use dns_answer_ex with a kept index). q/qlen is the
 * query as received; out/cap the reply buffer. Over UDP the reply is kept
 * within 512 bytes, or the query's EDNS0 size when larger; when tcp, only
 * within cap (and 65535). vpc is the index of the VPC whose resolver got the
 * query: private zones answer only to their VPCs (-1: none of them).
 *
 * Returns the reply length, or 0 when the query must be dropped (it is a
 * response, it is too short to hold a header, or cap cannot hold even a
 * truncated reply). A reply that does not fit has TC set and carries only
 * the header, the question and (when the query had one) an OPT record.
 *
 * Answers: AA for names in our zones; RA always; RD, CD and the id copied;
 * the question echoed with the client's case. Like AmazonProvidedDNS, the
 * asking VPC's addresses have names: PTR for its loopback addresses
 * (d.c.b.a.in-addr.arpa -> ip-10-0-1-5.ec2.internal, or
 * <region>.compute.internal outside us-east-1) and A for those names.
 * Other names outside every zone visible to vpc and not a load balancer's
 * name are REFUSED (dns_answer_ex lets the caller forward them instead). */
size_t dns_answer(const struct model *m, int vpc, const uint8_t *q, size_t qlen, uint8_t *out,
		  size_t cap, bool tcp);

/* What the answer may depend on besides the model: the health of load
 * balancers (for aliases with EvaluateTargetHealth; NULL: all healthy) and
 * a random state for weighted and multivalue choices (NULL: a fixed
 * sequence). */
struct dns_answer_env {
	bool (*lb_healthy)(void *data, int lb);
	void *data;
	uint32_t *rng; /* xorshift32 state, updated */
};

/* What the caller must ask upstream resolvers. */
struct dns_fwd_req {
	bool forward;
	uint8_t name[DNS_NAME_MAX]; /* wire form: the question's, or our chain's end */
	size_t prefix_len; /* >0: out holds our part (header, question, CNAMEs) */
};

/* dns_answer with ix, the index of m (dns/index.h; NULL: built for this
 * call, and 0 returned when that runs out of memory), with env, and when
 * fwd is not NULL: for a well-formed question that is none of ours (the
 * case dns_answer REFUSES), or whose CNAME chain leaves the zones we know,
 * fills *fwd and returns 0, so that the caller asks upstream resolvers
 * (dns/forward.h). */
size_t dns_answer_ex(const struct model *m, const struct dns_index *ix, int vpc,
		     const struct dns_answer_env *env, const uint8_t *q, size_t qlen, uint8_t *out,
		     size_t cap, bool tcp, struct dns_fwd_req *fwd);

/* The UDP payload size we advertise in our OPT records. */
#define DNS_EDNS_OUR_SIZE 1232

#endif
