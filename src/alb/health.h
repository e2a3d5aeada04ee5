/*
 * Target health: the pure state machine (state = f(previous, result,
 * thresholds)), the HttpCode matcher, and the active HTTP health checker
 * that drives them on the loop (one fresh connection per check, closed
 * afterwards, as AWS does).
 */
#ifndef VPCD_ALB_HEALTH_H
#define VPCD_ALB_HEALTH_H

#include <stdbool.h>

#include "alb/alb.h"

enum alb_hc_result {
	ALB_HC_OK,	 /* status matched */
	ALB_HC_MISMATCH, /* Target.ResponseCodeMismatch */
	ALB_HC_TIMEOUT,	 /* Target.Timeout */
	ALB_HC_FAILED,	 /* Target.FailedHealthChecks: refused, reset, malformed */
};

/* Consecutive-result counters kept per target. */
struct alb_hc_count {
	int ok;
	int fail;
};

/* The AWS state machine: initial -> healthy after ONE success; initial ->
 * unhealthy after unhealthy_th consecutive failures; healthy -> unhealthy
 * after unhealthy_th consecutive failures; unhealthy -> healthy after
 * healthy_th consecutive successes. Other states do not change. Updates
 * *cnt and returns the new state. */
enum alb_target_state alb_health_next(enum alb_target_state prev, enum alb_hc_result r,
				      struct alb_hc_count *cnt, int healthy_th, int unhealthy_th);

/* True if code matches an HttpCode matcher: "200", "200,202", "200-299"
 * or a comma list of codes and ranges. A NULL or empty matcher is "200". */
bool alb_hc_matcher_match(const char *matcher, int code);

/* The reason code and description an unhealthy result gives. desc gets
 * e.g. "Health checks failed with these codes: [500]". */
const char *alb_hc_reason(enum alb_hc_result r, int code, char *desc, size_t desclen);

struct alb_target;
/* Prepares the checker's fields of a new target (no check runs yet). */
void alb__hc_init(struct alb_target *t);
/* Starts checking t: the first check at once, then every interval. */
void alb__hc_start(struct alb_target *t);
/* Stops the checks of t and closes a check in progress. */
void alb__hc_stop(struct alb_target *t);

#endif
