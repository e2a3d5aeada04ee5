/*
 * Application Auto Scaling of ECS services: target tracking on
 * ALBRequestCountPerTarget and ECSServiceAverageCPUUtilization, from live
 * counters, on the caller's loop.
 *
 * Every AAS_PERIOD_MS the controller takes one datapoint per policy
 * (CloudWatch takes one a minute; vpcd's are 5 s long, a request count is
 * scaled to per minute as CloudWatch's metric is) and decides as target
 * tracking does: desired = ceil(current * metric / target), clamped to
 * [MinCapacity, MaxCapacity]; out after AAS_HIGH_DATAPOINTS datapoints above
 * the target, in after AAS_LOW_DATAPOINTS datapoints low enough to remove a
 * task (scale in is slower, as AAS's); cooldowns, DisableScaleIn, no scale
 * in while a deployment is in progress. The desired count changes through
 * ecs_service_set_desired, as `vpcd apply` changes DesiredCount.
 *
 * Ownership: struct aas keeps pointers to loop, model and ecs, which must
 * outlive it.
 */
#ifndef VPCD_ECS_AUTOSCALE_H
#define VPCD_ECS_AUTOSCALE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/loop.h"
#include "ecs/ecs.h"
#include "model/model.h"

#define AAS_PERIOD_MS 5000u
#define AAS_HIGH_DATAPOINTS 3
#define AAS_LOW_DATAPOINTS 15

/* --- the decision, pure --- */

/* One policy's alarm and cooldown state. Zero-initialised is "nothing yet". */
struct aas_track {
	int high, low;         /* consecutive datapoints above target / low */
	uint64_t out_until_ms; /* the scale-out cooldown ends (0: none) */
	uint64_t in_until_ms;  /* the scale-in cooldown ends (0: none) */
	int out_base;          /* capacity before the scale-out that began the cooldown */
};

struct aas_input {
	int current;   /* the service's desired count now */
	bool has_data; /* false: insufficient data (no healthy target, no task) */
	double metric; /* this datapoint */
	double target; /* TargetValue, > 0 */
	int min, max;
	bool disable_scale_in;
	bool scale_in_blocked; /* a deployment is in progress */
	int out_cooldown_s, in_cooldown_s;
	uint64_t now_ms;
};

/* ceil(current * metric / target) clamped to [min, max]. */
int aas_capacity(int current, double metric, double target, int min, int max);
/* Takes one datapoint into st and returns the desired count the policy
 * asks for (in->current when it asks for nothing). A current count outside
 * [min, max] comes back clamped at once, as RegisterScalableTarget does. */
int aas_decide(const struct aas_input *in, struct aas_track *st);

/* --- the controller --- */

/* What a target group did (main.c wires it to the ALB): its requests so far
 * and its healthy targets now. 0 or -errno. */
typedef int (*aas_tg_fn)(void *data, int tg, uint64_t *requests, size_t *healthy);

struct aas;

/* NULL when out of memory; a model without scalable targets gives a
 * controller that does nothing. */
struct aas *aas_new(struct loop *loop, const struct model *m, struct ecs *e, aas_tg_fn tg_fn,
                    void *tg_data);
/* Starts the periodic evaluation (the first datapoint after one period). */
void aas_start(struct aas *a);
void aas_free(struct aas *a);

#endif
