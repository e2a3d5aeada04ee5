/*
 * Application Auto Scaling target tracking for ECS services. See
 * autoscale.h for the contract; the decision (aas_decide) is pure, the
 * controller below measures and applies it.
 */
#include "ecs/autoscale.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"

/* --- the decision --- */

int aas_capacity(int current, double metric, double target, int min, int max)
{
	double want = (double)current * metric / target;
	int n;
	/* a hair of slack so 2 * 300 / 300 stays 2 whatever the rounding */
	if (!(want == want) || want > 1e9)
		n = max;
	else
		n = (int)ceil(want - 1e-9);
	if (n < min)
		n = min;
	if (n > max)
		n = max;
	return n;
}

int aas_decide(const struct aas_input *in, struct aas_track *st)
{
	int cur = in->current, want;
	double raw;

	if (cur < in->min || cur > in->max)
		return cur < in->min ? in->min : in->max;
	if (!in->has_data)
		return cur; /* insufficient data: neither out nor in (ECS guide) */
	raw = (double)cur * in->metric / in->target;
	if (in->metric > in->target) {
		st->high++;
		st->low = 0;
	} else if (ceil(raw - 1e-9) < cur) {
		st->low++;
		st->high = 0;
	} else {
		st->high = st->low = 0;
	}
	if (st->high >= AAS_HIGH_DATAPOINTS) {
		/* In the scale-out cooldown the capacity the scale-out added
		 * counts as part of the next one: only a larger one goes. */
		bool cooling = in->now_ms < st->out_until_ms;
		int base = cooling ? st->out_base : cur;
		want = aas_capacity(base, in->metric, in->target, in->min, in->max);
		if (want > cur) {
			if (!cooling)
				st->out_base = cur;
			st->out_until_ms = in->now_ms + (uint64_t)in->out_cooldown_s * 1000u;
			st->in_until_ms = 0; /* a scale-out ends the scale-in cooldown */
			return want;
		}
		return cur;
	}
	if (st->low >= AAS_LOW_DATAPOINTS && !in->disable_scale_in && !in->scale_in_blocked &&
	    in->now_ms >= st->in_until_ms) {
		want = aas_capacity(cur, in->metric, in->target, in->min, in->max);
		if (want < cur) {
			st->in_until_ms = in->now_ms + (uint64_t)in->in_cooldown_s * 1000u;
			st->low = 0; /* the next scale-in needs a low alarm again */
			return want;
		}
	}
	return cur;
}

/* --- the controller --- */

#define AAS_MAX_TASKS 256

struct aas_cpu_sample {
	char id[40];
	uint64_t ticks;
	bool seen;
};

struct aas_pol {
	struct aas_track track;
	uint64_t last_requests;
	bool have_requests;
	double last_metric;
};

/* CPU samples per service (ECSServiceAverageCPUUtilization). */
struct aas_svc_cpu {
	struct aas_cpu_sample s[AAS_MAX_TASKS];
	size_t n;
};

struct aas {
	struct loop *loop;
	const struct model *m;
	struct ecs *e;
	aas_tg_fn tg_fn;
	void *tg_data;
	struct loop_timer timer;
	uint64_t last_ms;
	struct aas_pol *pols;
	struct aas_svc_cpu *cpu; /* per scalable target */
};

static void on_timer(struct loop *loop, struct loop_timer *timer);

struct aas *aas_new(struct loop *loop, const struct model *m, struct ecs *e, aas_tg_fn tg_fn,
                    void *tg_data)
{
	struct aas *a = calloc(1, sizeof(*a));
	if (!a)
		return NULL;
	a->loop = loop;
	a->m = m;
	a->e = e;
	a->tg_fn = tg_fn;
	a->tg_data = tg_data;
	a->pols = calloc(m->nscaling_policies + 1, sizeof(*a->pols));
	a->cpu = calloc(m->nscalable_targets + 1, sizeof(*a->cpu));
	if (!a->pols || !a->cpu) {
		aas_free(a);
		return NULL;
	}
	for (size_t i = 0; i < m->nscaling_policies; i++)
		a->pols[i].last_metric = -1;
	loop_timer_init(&a->timer, on_timer, a);
	return a;
}

void aas_free(struct aas *a)
{
	if (!a)
		return;
	loop_timer_stop(a->loop, &a->timer);
	free(a->pols);
	free(a->cpu);
	free(a);
}

/* utime + stime + cutime + cstime of pid, in clock ticks; false if gone. */
static bool proc_ticks(int pid, uint64_t *out)
{
	char path[64], buf[1024], *p;
	unsigned long long ut, st, cut, cst;
	FILE *f;
	size_t n;
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "r");
	if (!f)
		return false;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')'); /* the command may hold spaces */
	if (!p)
		return false;
	/* after ")": state(3) ... utime(14) stime(15) cutime(16) cstime(17) */
	if (sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %llu %llu", &ut,
	           &st, &cut, &cst) != 4)
		return false;
	*out = ut + st + cut + cst;
	return true;
}

/* ECSServiceAverageCPUUtilization over the last period: CPU time of the
 * service's RUNNING tasks / (elapsed x their Cpu units / 1024), in percent.
 * A task without a previous sample is left out; false when none had one. */
static bool service_cpu(struct aas *a, size_t ti, int service, double elapsed_s, double *pct)
{
	static struct ecs_task_info tasks[AAS_MAX_TASKS];
	struct ecs_container_info cs[16];
	struct ecs_task_info one;
	struct aas_svc_cpu *sc = &a->cpu[ti];
	size_t n = ecs_tasks(a->e, tasks, AAS_MAX_TASKS);
	double used = 0, cap = 0;
	long hz = sysconf(_SC_CLK_TCK);
	bool any = false;

	if (n > AAS_MAX_TASKS)
		n = AAS_MAX_TASKS;
	for (size_t k = 0; k < sc->n; k++)
		sc->s[k].seen = false;
	for (size_t i = 0; i < n; i++) {
		const struct ecs_task_info *t = &tasks[i];
		uint64_t ticks = 0;
		size_t nc;
		struct aas_cpu_sample *smp = NULL;
		int units;
		if (t->service != service || strcmp(t->last_status, "RUNNING") != 0)
			continue;
		nc = ecs_task_containers(a->e, t->id, &one, cs, 16);
		for (size_t c = 0; c < nc && c < 16; c++) {
			uint64_t v;
			if (cs[c].pid > 0 && proc_ticks(cs[c].pid, &v))
				ticks += v;
		}
		for (size_t k = 0; k < sc->n && !smp; k++)
			if (strcmp(sc->s[k].id, t->id) == 0)
				smp = &sc->s[k];
		if (smp && ticks >= smp->ticks) {
			/* the revision the task runs (an apply may have
			 * changed Cpu); no Cpu: one core */
			units = t->cpu > 0 ? t->cpu : 1024;
			used += (double)(ticks - smp->ticks) / (double)(hz > 0 ? hz : 100);
			cap += elapsed_s * units / 1024.0;
			any = true;
		}
		if (!smp && sc->n < AAS_MAX_TASKS) {
			smp = &sc->s[sc->n++];
			snprintf(smp->id, sizeof(smp->id), "%s", t->id);
		}
		if (smp) {
			smp->ticks = ticks;
			smp->seen = true;
		}
	}
	/* forget stopped tasks */
	for (size_t k = 0; k < sc->n;) {
		if (!sc->s[k].seen)
			sc->s[k] = sc->s[--sc->n];
		else
			k++;
	}
	if (!any || cap <= 0)
		return false;
	*pct = 100.0 * used / cap;
	return true;
}

static const char *metric_name(enum model_scaling_metric mt)
{
	return mt == MODEL_METRIC_ECS_CPU ? "ECSServiceAverageCPUUtilization"
	                                  : "ALBRequestCountPerTarget";
}

static bool deployment_in_progress(const struct aas *a, int service)
{
	struct ecs_deployment_info d[4];
	size_t n = ecs_service_deployments(a->e, service, d, 4);
	return n > 0 && strcmp(d[0].rollout_state, "IN_PROGRESS") == 0;
}

static void set_desired(struct aas *a, size_t ti, int want, const char *why)
{
	const struct model_scalable_target *t = &a->m->scalable_targets[ti];
	char ev[768];
	snprintf(ev, sizeof(ev),
	         "(Application Auto Scaling) Setting desired count to %d: %s. Successfully set "
	         "desired count to %d. Change successfully fulfilled by ecs.",
	         want, why, want);
	log_info("aas: %s: desired count %d (%s)", t->resource_id, want, why);
	ecs_service_set_desired(a->e, t->service, want, ev);
}

static void evaluate_target(struct aas *a, size_t ti, uint64_t now, double elapsed_s)
{
	const struct model *m = a->m;
	const struct model_scalable_target *t = &m->scalable_targets[ti];
	struct ecs_service_info si;
	int best = -1;
	char why[512] = "";
	double cpu = 0;
	bool cpu_done = false, cpu_ok = false, blocked, all_in = true;

	ecs_service_info(a->e, t->service, &si);
	blocked = deployment_in_progress(a, t->service);
	for (size_t i = 0; i < m->nscaling_policies; i++) {
		const struct model_scaling_policy *p = &m->scaling_policies[i];
		struct aas_pol *pp = &a->pols[i];
		struct aas_input in = {.current = si.desired,
		                       .target = p->target_value,
		                       .min = t->min,
		                       .max = t->max,
		                       .disable_scale_in = p->disable_scale_in,
		                       .scale_in_blocked = blocked,
		                       .out_cooldown_s = p->scale_out_cooldown_s,
		                       .in_cooldown_s = p->scale_in_cooldown_s,
		                       .now_ms = now};
		int want;
		if (p->target != (int)ti)
			continue;
		if (p->metric == MODEL_METRIC_ALB_REQUESTS_PER_TARGET) {
			uint64_t req = 0;
			size_t healthy = 0;
			if (a->tg_fn && a->tg_fn(a->tg_data, p->tg, &req, &healthy) == 0) {
				if (pp->have_requests && healthy > 0 && elapsed_s > 0 &&
				    req >= pp->last_requests) {
					/* CloudWatch's datapoint is a minute's Sum */
					in.metric = (double)(req - pp->last_requests) * 60.0 /
					            elapsed_s / (double)healthy;
					in.has_data = true;
				}
				pp->last_requests = req;
				pp->have_requests = true;
			}
		} else {
			if (!cpu_done) {
				cpu_ok = service_cpu(a, ti, t->service, elapsed_s, &cpu);
				cpu_done = true;
			}
			in.metric = cpu;
			in.has_data = cpu_ok;
		}
		if (in.has_data)
			pp->last_metric = in.metric;
		want = aas_decide(&in, &pp->track);
		log_debug("aas: %s %s %s=%.1f target %g: %d -> %d (high %d, low %d)",
		          t->resource_id, p->name ? p->name : p->logical, metric_name(p->metric),
		          in.has_data ? in.metric : -1.0, p->target_value, si.desired, want,
		          pp->track.high, pp->track.low);
		if (want >= si.desired)
			all_in = false;
		/* the largest capacity wins (AAS) */
		if (want != si.desired && want > best) {
			best = want;
			if (si.desired < t->min || si.desired > t->max)
				snprintf(why, sizeof(why),
				         "the count is brought into the scalable target's range "
				         "%d..%d",
				         t->min, t->max);
			else
				snprintf(why, sizeof(why),
				         "monitor alarm TargetTracking-%s-Alarm%s-%s in state ALARM "
				         "triggered policy %s (%s %.1f, target %g)",
				         t->resource_id, want > si.desired ? "High" : "Low",
				         p->logical, p->name ? p->name : p->logical,
				         metric_name(p->metric), in.metric, p->target_value);
		}
	}
	if (best >= 0 && best < si.desired && !all_in)
		best = -1; /* several policies: a scale in only when every one asks for it */
	if (best < 0 && (si.desired < t->min || si.desired > t->max)) {
		best = si.desired < t->min ? t->min : t->max;
		snprintf(why, sizeof(why), "the count is brought into the scalable target's range %d..%d",
		         t->min, t->max);
	}
	if (best >= 0 && best != si.desired)
		set_desired(a, ti, best, why);
}

static void on_timer(struct loop *loop, struct loop_timer *timer)
{
	struct aas *a = timer->data;
	uint64_t now = loop_now_ms(loop);
	double elapsed_s = a->last_ms ? (double)(now - a->last_ms) / 1000.0 : 0;
	a->last_ms = now;
	for (size_t ti = 0; ti < a->m->nscalable_targets; ti++)
		evaluate_target(a, ti, now, elapsed_s);
	loop_timer_start(loop, &a->timer, AAS_PERIOD_MS);
}

void aas_start(struct aas *a)
{
	if (!a->m->nscalable_targets)
		return;
	a->last_ms = loop_now_ms(a->loop);
	/* The range is taken at once (RegisterScalableTarget), the first
	 * datapoint after a period. */
	for (size_t ti = 0; ti < a->m->nscalable_targets; ti++) {
		const struct model_scalable_target *t = &a->m->scalable_targets[ti];
		struct ecs_service_info si;
		ecs_service_info(a->e, t->service, &si);
		if (si.desired < t->min || si.desired > t->max)
			set_desired(a, ti, si.desired < t->min ? t->min : t->max,
			            "the scalable target was registered with this range");
	}
	for (size_t i = 0; i < a->m->nscaling_policies; i++) {
		uint64_t req;
		size_t healthy;
		const struct model_scaling_policy *p = &a->m->scaling_policies[i];
		if (p->metric == MODEL_METRIC_ALB_REQUESTS_PER_TARGET && a->tg_fn &&
		    a->tg_fn(a->tg_data, p->tg, &req, &healthy) == 0) {
			a->pols[i].last_requests = req;
			a->pols[i].have_requests = true;
		}
	}
	loop_timer_start(a->loop, &a->timer, AAS_PERIOD_MS);
}
