/*
 * The Application Load Balancer data plane: one listening socket per (LB
 * node address, listener port), an HTTP/1.1 reverse proxy with ALB routing
 * and status codes, target groups with registration, draining and health
 * checks. The control part (registration, health checks, draining) runs on
 * the caller's event loop; the proxy runs on N workers (alb_set_workers):
 * with one, on the caller's loop too; with more, each on a thread of its own
 * with its own loop and SO_REUSEPORT listening sockets, reading
 * configuration and target state from snapshots the control part publishes.
 * Every function here is for the caller's (control) thread.
 *
 * Ownership: alb_new() keeps pointers to loop and model (both must outlive
 * the alb); alb_free() releases every socket, connection and target.
 * Strings in struct alb_target_info are static or owned by the alb and stay
 * valid until the target's next state change.
 */
#ifndef VPCD_ALB_ALB_H
#define VPCD_ALB_ALB_H

#include <stddef.h>
#include <stdint.h>

#include "core/loop.h"
#include "model/model.h"

enum alb_target_state {
	ALB_TARGET_INITIAL,
	ALB_TARGET_HEALTHY,
	ALB_TARGET_UNHEALTHY,
	ALB_TARGET_UNUSED,
	ALB_TARGET_DRAINING,
	ALB_TARGET_UNAVAILABLE
};
/* "initial", "healthy", "unhealthy", "unused", "draining", "unavailable" */
const char *alb_target_state_str(enum alb_target_state s);

struct alb_target_info {
	uint32_t addr; /* host order */
	uint16_t port; /* host order */
	enum alb_target_state state;
	const char *reason;	 /* "Elb.InitialHealthChecking", ... or NULL when healthy */
	const char *description; /* AWS-like words, or NULL */
};

struct alb;

/* Returns NULL when out of memory. */
struct alb *alb_new(struct loop *loop, const struct model *m);
/* How many data-plane workers alb_start runs (1..64; default 1, which runs
 * the proxy on the caller's loop as vpcd always did). Before alb_start and
 * before any target is registered; 0, -EINVAL or -EALREADY. */
int alb_set_workers(struct alb *a, int n);
int alb_workers(const struct alb *a);
/* Moves the data plane to model m (kept by the caller until alb_free, like
 * the first): its rules, actions and attributes apply to every request
 * routed from now on, requests in flight finish as they are. m must have
 * the same load balancers, listeners (LB, port) and target groups (by
 * index and logical id); else -EINVAL with a message in err. */
int alb_set_model(struct alb *a, const struct model *m, char *err, size_t errlen);
/* Binds every listener of every LB on each of the LB's node addresses, port +
 * port_offset. Returns 0 or -errno, and writes a message naming the
 * address:port that failed into err. */
int alb_start(struct alb *a, int port_offset, char *err, size_t errlen);
/* Closes listeners, connections, health checks; frees a. */
void alb_free(struct alb *a);

/* Target registration, by target group index (model.tgs). Registering an
 * existing target is a no-op (a draining one comes back as initial);
 * deregistering starts draining (deregistration_delay_s; no new requests;
 * then removed). Deregistering an unknown target succeeds, as in AWS.
 * Return 0 or -errno (-EINVAL bad tg, -ENOMEM). */
int alb_target_register(struct alb *a, int tg, uint32_t addr, uint16_t port);
int alb_target_deregister(struct alb *a, int tg, uint32_t addr, uint16_t port);
/* Copies up to cap targets of tg into out; returns how many the group has. */
size_t alb_target_list(const struct alb *a, int tg, struct alb_target_info *out, size_t cap);

/* Optional: called whenever a target changes state (also to "unused" when a
 * drained target is removed). */
typedef void (*alb_health_fn)(void *data, int tg, uint32_t addr, uint16_t port,
			      enum alb_target_state state);
void alb_on_health(struct alb *a, alb_health_fn fn, void *data);

/* Appends one line per request, in the ALB access log format, to path
 * (created when missing). Before alb_start when there are several workers
 * (-EBUSY after). Returns 0 or -errno. */
int alb_set_access_log(struct alb *a, const char *path);
/* The CloudWatch metrics of every load balancer and target group in the
 * Prometheus text format; the caller frees the string. NULL when out of
 * memory. */
char *alb_metrics_text(const struct alb *a);
/* Target group tg's RequestCount so far and its healthy targets now (for
 * ALBRequestCountPerTarget, src/alb/stats.c). 0 or -EINVAL. */
int alb_tg_requests(const struct alb *a, int tg, uint64_t *requests, size_t *healthy);

#endif
