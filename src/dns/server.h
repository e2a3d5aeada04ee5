/*
 * The resolver's sockets: UDP and TCP (RFC 7766: 2-byte length framing,
 * several and pipelined queries per connection, idle timeout) on one event
 * loop, each reply computed by dns_answer().
 *
 * Ownership: the server owns its sockets and connections; it borrows the
 * loop and the model, which must outlive it (or, for the model, until
 * dns_server_set_model() replaces it).
 */
#ifndef VPCD_DNS_SERVER_H
#define VPCD_DNS_SERVER_H

#include <stdbool.h>
#include <stdint.h>

#include "core/loop.h"
#include "model/model.h"

#define DNS_TCP_IDLE_MS 10000
#define DNS_TCP_MAX_CONNS 512

struct dns_server;

/* Returns NULL when out of memory. */
struct dns_server *dns_server_new(struct loop *loop, const struct model *m);
/* Listens on UDP and TCP addr:port (host order). Returns 0 or -errno
 * (-EACCES for port 53 without privilege, -EADDRINUSE, ...); on failure
 * nothing stays open. Can be called several times (the VPC resolver's
 * address, --dns). An address serves the VPC whose loopback /16 (lo_base)
 * holds it, else VPC 0. */
int dns_server_listen(struct dns_server *s, uint32_t addr, uint16_t port);
/* Answers from m from now on (vpcd apply). The old model may be freed once
 * this returns: nothing keeps pointers into it. */
void dns_server_set_model(struct dns_server *s, const struct model *m);
/* Sets how long a TCP connection may stay idle (default DNS_TCP_IDLE_MS);
 * applies to connections accepted from now on. */
void dns_server_set_tcp_idle(struct dns_server *s, uint32_t ms);
/* How healthy load balancer lb (model index) is, for alias record sets
 * with EvaluateTargetHealth (failover, weighted, multivalue). */
void dns_server_set_lb_health(struct dns_server *s, bool (*fn)(void *data, int lb), void *data);
/* Names outside what the model answers go to upstream resolvers
 * (dns/forward.h); with none, they get SERVFAIL. add_upstream: one
 * ADDR:PORT (--dns-upstream), 0 or -errno. load_resolv_conf: the IPv4
 * nameservers of a resolv.conf, except our own listening addresses (call
 * after dns_server_listen); returns how many, or -errno. */
int dns_server_add_upstream(struct dns_server *s, uint32_t addr, uint16_t port);
int dns_server_load_resolv_conf(struct dns_server *s, const char *path);
struct dns_fwd_stats;
const struct dns_fwd_stats *dns_server_forward_stats(const struct dns_server *s);
/* Closes the sockets and connections and frees s. Safe from inside a loop
 * callback. NULL is fine. */
void dns_server_free(struct dns_server *s);

#endif
