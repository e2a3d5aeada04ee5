/*
 * Routing decisions, apart from I/O: host-header matching with ALB wildcards,
 * the Host value as ALB compares it, rule evaluation for a listener, and
 * round-robin target selection with fail-open.
 */
#ifndef VPCD_ALB_ROUTE_H
#define VPCD_ALB_ROUTE_H

#include <stdbool.h>
#include <stddef.h>

#include "alb/alb.h"
#include "model/model.h"

/* Case-insensitive match of host[0..len) against pattern, '*' = 0 or more
 * characters, '?' = exactly one. */
bool alb_host_match(const char *pattern, const char *host, size_t len);
/* Length of host without a trailing ":<default_port>" (":80" for HTTP); any
 * other port stays (so it defeats plain host-header values, as on AWS). */
size_t alb_host_strip_port(const char *host, size_t len, int default_port);
/* The target group for a request with this (stripped) Host on listener li:
 * the first rule by priority whose conditions all match, else the default
 * action. host may be NULL (no Host header). *priority is set to the rule's
 * priority, or 0 for the default action (access-log convention). Returns
 * the target group index, or -1 when the action forwards nowhere. */
int alb_route(const struct model *m, int li, const char *host, size_t len, int *priority);
/* Round robin over states[0..n): the next index after *rr whose target is
 * routable (healthy, or unavailable = health checks disabled); if none is,
 * fail open over every registered target that is not draining or unused.
 * Returns the index and advances *rr, or -1 if nothing can take traffic. */
int alb_select_rr(const enum alb_target_state *states, size_t n, size_t *rr);

#endif
