/*
 * The Application Load Balancer data plane: one listening socket per (LB
 * node address, listener port), an HTTP/1.1 reverse proxy with ALB routing
 * and status codes, target groups with registration, draining and health
 * checks. Everything runs on the caller's event loop.
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
 * (created when missing). Returns 0 or -errno. */
int alb_set_access_log(struct alb *a, const char *path);
/* The CloudWatch metrics of every load balancer and target group in the
 * Prometheus text format; the caller frees the string. NULL when out of
 * memory. */
char *alb_metrics_text(const struct alb *a);
/* Target group tg's RequestCount so far and its healthy targets now (for
 * ALBRequestCountPerTarget, src/alb/stats.c). 0 or -EINVAL. */
int alb_tg_requests(const struct alb *a, int tg, uint64_t *requests, size_t *healthy);

#endif
