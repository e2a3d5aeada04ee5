/*
 * Routing decisions, apart from I/O: the six rule condition types with ALB
 * semantics (wildcards, case rules, regex values), rule evaluation for a
 * listener, weighted target groups with the AWSALBTG stickiness cookie,
 * redirect URLs with AWS's keywords, security group checks on a source
 * address, and round-robin target selection with fail-open.
 */
#ifndef VPCD_ALB_ROUTE_H
#define VPCD_ALB_ROUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alb/alb.h"
#include "http/http1.h"
#include "model/model.h"

/* What rules look at in a request. */
struct alb_req_view {
	struct http_slice method;
	struct http_slice path;  /* the request target up to '?' or '#' */
	struct http_slice query; /* after the first '?', up to '#'; p NULL when none */
	const char *host;        /* Host without its default port, or NULL */
	size_t hostlen;
	const struct http_header *headers;
	size_t nheaders;
	uint32_t src; /* connection source, VPC address space (alb_src_vpc) */
};

/* Splits a request target into path and query (origin or absolute form). */
void alb_split_target(struct http_slice target, struct http_slice *path, struct http_slice *query);

/* ALB wildcard match of s[0..len) against the NUL-terminated pattern: '*' 0
 * or more characters, '?' exactly one; icase folds ASCII case; with escapes
 * "\*" "\?" "\\" are literals (query-string values). */
bool alb_wild_match(const char *pat, const char *s, size_t len, bool icase, bool escapes);
/* Case-insensitive alb_wild_match, for host names. */
bool alb_host_match(const char *pattern, const char *host, size_t len);
/* Length of host without a trailing ":<default_port>" (":80" for HTTP); any
 * other port stays (so it defeats plain host-header values, as on AWS). */
size_t alb_host_strip_port(const char *host, size_t len, int default_port);
/* True if some key=value pair of query (percent-decoded, case-insensitive)
 * matches: key NULL matches any key. */
bool alb_query_match(const char *key, const char *value, struct http_slice query);
/* Frees the calling thread's regex scratch (a worker thread ending). */
void alb_route_thread_end(void);
/* One condition against a request. */
bool alb_cond_match(const struct model_condition *c, const struct alb_req_view *rq);

/* Compiles the rules of every listener of m into its rule_index (exact
 * Host values in a hash, the other rules in a list; see route.c), replacing
 * one already there. Done once when the model is built, before any worker
 * reads it; the index is then read-only and model_free frees it. Returns 0,
 * or -ENOMEM (listeners without an index route by trying every rule). */
int alb_route_index_build(struct model *m);

/* The action for a request on listener li: the first rule by priority whose
 * conditions all match, else the default action. *priority is the rule's
 * priority, or 0 for the default action (access-log convention). Only the
 * rules that can match rq's Host are tried (the listener's rule_index): a
 * cost that stays flat with the number of exact-host rules. */
const struct model_action *alb_route_req(const struct model *m, int li,
                                         const struct alb_req_view *rq, int *priority);
/* Host-only shorthand of alb_route_req; returns the forward target group
 * or -1 when the action does not forward. */
int alb_route(const struct model *m, int li, const char *host, size_t len, int *priority);

/* The rule of listener li whose action act is (as alb_route_req returned
 * it), or NULL for the listener's default action. */
const struct model_rule *alb_action_rule(const struct model *m, int li,
                                         const struct model_action *act);

/* Rule transforms. A rewritten value is at most this long (the request line
 * limit); longer is a failed rewrite. */
#define ALB_REWRITE_MAX HTTP_LINE_MAX
struct alb_rewritten {
	bool host_set; /* host[0..hostlen) replaces the Host header */
	bool url_set;  /* url[0..urllen) replaces the request target */
	size_t hostlen, urllen;
	char host[256];
	char url[ALB_REWRITE_MAX];
};
/* One rewrite: the first match of rw's regex in in[0..len) is replaced by
 * rw->replace ($N and ${N} name groups, an unset group is empty, "$$" is a
 * "$"; any other "$" is itself). Returns 1 with out[0..*outlen) the result,
 * 0 when the regex does not match (the value is unchanged), -1 when the
 * rewrite fails: a group the regex does not have, a result longer than cap,
 * or (host true) not a host[:port] or (host false) not an origin-form
 * request target ("/" then RFC 3986 characters, valid %XX escapes). */
int alb_rewrite(const struct model_rewrite *rw, bool host, const char *in, size_t len, char *out,
                size_t cap, size_t *outlen);
/* Rule ru's transforms on a request with Host host[0..hostlen) (NULL: none)
 * and request target target: host-header-rewrite on the host,
 * url-rewrite on the path and query (a target in absolute form is taken
 * from its path on). Fills *out; returns 0, or -1 when a transform matched
 * but failed (the ALB answers 500). A rule without transforms costs two
 * NULL tests. */
int alb_transform(const struct model_rule *ru, const char *host, size_t hostlen,
                  struct http_slice target, struct alb_rewritten *out);

/* The target group a forward action sends to: sticky (a group of the action
 * named by its AWSALBTG cookie, when stickiness is on and its weight is not
 * 0), else by weight with rnd as the random draw. -1 when every weight is 0. */
int alb_forward_pick(const struct model_action *a, int sticky_tg, uint32_t rnd);
/* The AWSALBTG cookie value for target group tg (16 hex digits + NUL). */
void alb_tg_cookie_value(const struct model *m, int tg, char out[17]);
/* The target group of action a that the request's AWSALBTG cookie names;
 * -1 without the cookie, -2 when it names no group of a (the access log's
 * AWSALBTGCookieInvalid). */
int alb_tg_cookie_find(const struct model *m, const struct model_action *a,
                       const struct http_header *h, size_t n);

/* Inputs of a redirect: the request as the listener saw it. */
struct alb_redirect_in {
	const char *protocol;   /* "HTTP" or "HTTPS" (listener) */
	struct http_slice host; /* without port */
	int port;               /* listener port */
	struct http_slice path;
	struct http_slice query; /* p NULL when none */
};
/* Writes the Location URL of redirect action a into out; returns its length,
 * or -1 when it does not fit. */
int alb_redirect_url(const struct model_action *a, const struct alb_redirect_in *in, char *out,
                     size_t cap);

/* The VPC-space address of a loopback source: inside a VPC's mapped /16 it
 * is mapped back; other addresses stay as they are. */
uint32_t alb_src_vpc(const struct model *m, uint32_t src);
/* Whether load balancer lb's security groups let src (loopback, host order)
 * connect to listener port port over TCP. 127.0.0.1, the machine itself,
 * counts as a host inside the VPC: allowed by a rule whose CIDR covers any
 * part of the LB's VPC. An LB without security groups allows everything. */
bool alb_sg_allows(const struct model *m, int lb, uint32_t src, int port);

/* Round robin over states[0..n): the next index after *rr whose target is
 * routable (healthy, or unavailable = health checks disabled); if none is,
 * fail open over every registered target that is not draining or unused.
 * Returns the index and advances *rr, or -1 if nothing can take traffic. */
int alb_select_rr(const enum alb_target_state *states, size_t n, size_t *rr);

/* One candidate of a target group for the algorithms below. */
struct alb_cand {
	enum alb_target_state state;
	uint32_t outstanding; /* requests in flight on the target */
	double share;         /* slow start: 0..1 of a full share; 1 when not ramping */
};

/* Selects a target of c[0..n) with algorithm algo (enum model_lb_algo):
 * among routable targets (else fail open as alb_select_rr does),
 * - round robin: the next after *rr; while some candidate ramps up (share
 *   < 1, slow start) a pick is weighted by share instead (share / sum of
 *   shares, rnd the draw), so a new target's share grows linearly;
 * - least outstanding requests: fewest in flight, ties in round robin order
 *   from *rr;
 * - weighted random: uniform over the candidates weighted by share (rnd the
 *   draw); AWS's anomaly mitigation is not done.
 * Returns the index (advancing *rr) or -1 when nothing can take traffic. */
int alb_select(int algo, const struct alb_cand *c, size_t n, size_t *rr, uint32_t rnd);
/* The slow-start share of a target elapsed_s seconds into a window of
 * dur_s seconds: linear from a small floor (so a new target is not starved
 * to nothing) to 1. */
double alb_slow_start_share(double elapsed_s, int dur_s);

/* lb_cookie stickiness: the AWSALB cookie value naming target addr:port of
 * group tg (32 hex digits + NUL). The first 16 digits are tg, addr and port
 * XORed with a keyed pad, the last 16 a SipHash-2-4 under key of those
 * three: opaque to clients and not forgeable without the key (per process,
 * so cookies do not outlive a restart). */
void alb_lb_cookie_value(const uint64_t key[2], int tg, uint32_t addr, uint16_t port, char out[33]);
/* The target that the request's AWSALB cookie (else AWSALBCORS) names in
 * group tg: 1 with *addr and *port set; 0 without the cookie; -1 when the
 * cookie is invalid, forged or for another group. */
int alb_lb_cookie_find(const uint64_t key[2], int tg, const struct http_header *h, size_t n,
                       uint32_t *addr, uint16_t *port);
/* app_cookie stickiness: the AWSALBAPP-0 value naming target addr:port of
 * group tg until unix time until (48 hex digits + NUL): (tg, addr, port)
 * and until XORed with keyed pads, then a SipHash-2-4 of both, under a key
 * derived from key (so an AWSALB value is never a valid AWSALBAPP one). */
void alb_app_cookie_value(const uint64_t key[2], int tg, uint32_t addr, uint16_t port,
                          uint32_t until, char out[49]);
/* The target that the request's AWSALBAPP-0 cookie names in group tg, when
 * the request also carries the application's cookie app_name (AWS: clients
 * send both back): 1 with *addr and *port set; 0 when either cookie is
 * missing; -1 when the AWSALBAPP-0 value is invalid, forged, for another
 * group, or stale (its stickiness ended before now, unix seconds). */
int alb_app_cookie_find(const uint64_t key[2], int tg, const char *app_name,
                        const struct http_header *h, size_t n, uint32_t now, uint32_t *addr,
                        uint16_t *port);
/* Whether response headers h[0..n) set the cookie name (a Set-Cookie whose
 * name is name, case-sensitive as cookie names are); false for name NULL. */
bool alb_sets_cookie(const struct http_header *h, size_t n, const char *name);
/* SipHash-2-4 of the 8 bytes of m (little-endian) under key. */
uint64_t alb_siphash64(const uint64_t key[2], uint64_t m);

#endif
