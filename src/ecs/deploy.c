/*
 * What `vpcd apply` refuses (and which DesiredCount it sets): every
 * difference between the running model and a new one except
 * AWS::ECS::Service DesiredCount / DeploymentConfiguration, the contents
 * of AWS::ECS::TaskDefinition and of existing
 * AWS::ElasticLoadBalancingV2::ListenerRule. Each resource of the model
 * is reduced to a fingerprint (its settings, references by logical id), and
 * the fingerprints of equal logical ids are compared. Resources accepted
 * with no effect (IAM, logs, ...) only have to be present in both.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ecs/ecs.h"

struct fp {
	char *p;
	size_t n, cap;
	bool oom;
};

static void fp_add(struct fp *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void fp_add(struct fp *f, const char *fmt, ...)
{
	va_list ap;
	int k;
	va_start(ap, fmt);
	k = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (k < 0 || f->oom)
		return;
	if (f->n + (size_t)k + 2 > f->cap) {
		size_t cap = (f->n + (size_t)k + 2) * 2;
		char *np = realloc(f->p, cap);
		if (!np) {
			f->oom = true;
			return;
		}
		f->p = np;
		f->cap = cap;
	}
	va_start(ap, fmt);
	vsnprintf(f->p + f->n, f->cap - f->n, fmt, ap);
	va_end(ap);
	f->n += (size_t)k;
	f->p[f->n++] = '|';
	f->p[f->n] = '\0';
}

#define S(x) ((x) ? (x) : "-")

static const char *lg(const char *logical)
{
	return logical ? logical : "-";
}

static bool str_same(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static void fp_cidr(struct fp *f, struct cidr4 c)
{
	fp_add(f, "%u/%u", c.addr, (unsigned)c.prefix);
}

static void fp_idx(struct fp *f, const char *what, int i, size_t n,
                   const char *(*name)(const struct model *, int), const struct model *m)
{
	fp_add(f, "%s=%s", what, i >= 0 && (size_t)i < n ? name(m, i) : "-");
}

static const char *tg_name(const struct model *m, int i)
{
	return lg(m->tgs[i].logical);
}
static const char *subnet_name(const struct model *m, int i)
{
	return lg(m->subnets[i].logical);
}
static const char *sg_name(const struct model *m, int i)
{
	return lg(m->sgs[i].logical);
}
static const char *vpc_name(const struct model *m, int i)
{
	return lg(m->vpcs[i].logical);
}
static const char *lb_name(const struct model *m, int i)
{
	return lg(m->lbs[i].logical);
}
static const char *listener_name(const struct model *m, int i)
{
	return lg(m->listeners[i].logical);
}
static const char *zone_name(const struct model *m, int i)
{
	return lg(m->zones[i].logical);
}
static const char *cluster_name(const struct model *m, int i)
{
	return lg(m->clusters[i].logical);
}
static const char *td_name(const struct model *m, int i)
{
	return lg(m->task_defs[i].logical);
}

static void fp_action(struct fp *f, const struct model *m, const struct model_action *a)
{
	fp_add(f, "action=%d", (int)a->type);
	fp_idx(f, "tg", a->target_group, m->ntgs, tg_name, m);
	for (size_t i = 0; i < a->nfwd; i++) {
		fp_idx(f, "fwd", a->fwd_tgs[i], m->ntgs, tg_name, m);
		fp_add(f, "w=%d", a->fwd_weights[i]);
	}
	fp_add(f, "%d/%d/%d/%d/%s/%s/%s/%s/%s/%s/%s", a->tg_sticky, a->tg_sticky_s, a->order,
	       a->status, S(a->content_type), S(a->body), S(a->rd_protocol), S(a->rd_port),
	       S(a->rd_host), S(a->rd_path), S(a->rd_query));
}

/* The fingerprint of the resource named logical, of model m. */
static void fp_resource(struct fp *f, const struct model *m, const char *logical)
{
#define MATCH(arr) (m->arr[i].logical && strcmp(m->arr[i].logical, logical) == 0)
	for (size_t i = 0; i < m->nvpcs; i++)
		if (MATCH(vpcs))
			fp_cidr(f, m->vpcs[i].cidr);
	for (size_t i = 0; i < m->nsubnets; i++)
		if (MATCH(subnets)) {
			fp_cidr(f, m->subnets[i].cidr);
			fp_add(f, "%s", S(m->subnets[i].az));
			fp_idx(f, "vpc", m->subnets[i].vpc, m->nvpcs, vpc_name, m);
		}
	for (size_t i = 0; i < m->nsgs; i++)
		if (MATCH(sgs)) {
			const struct model_sg *g = &m->sgs[i];
			fp_idx(f, "vpc", g->vpc, m->nvpcs, vpc_name, m);
			for (size_t k = 0; k < g->ningress; k++) {
				fp_add(f, "in %d %d %d", g->ingress[k].proto,
				       g->ingress[k].from_port, g->ingress[k].to_port);
				fp_cidr(f, g->ingress[k].cidr);
			}
			for (size_t k = 0; k < g->negress; k++) {
				fp_add(f, "out %d %d %d", g->egress[k].proto,
				       g->egress[k].from_port, g->egress[k].to_port);
				fp_cidr(f, g->egress[k].cidr);
			}
		}
	for (size_t i = 0; i < m->ntgs; i++)
		if (MATCH(tgs)) {
			const struct model_target_group *t = &m->tgs[i];
			const struct model_health_check *h = &t->hc;
			fp_add(f, "%s %s %d %s %d", S(t->name), S(t->protocol), t->port,
			       S(t->target_type), t->deregistration_delay_s);
			fp_idx(f, "vpc", t->vpc, m->nvpcs, vpc_name, m);
			fp_add(f, "pv %d", t->protocol_version); /* Targets may change */
			fp_add(f, "hc %d %s %d %s %d %d %d %d %s", h->enabled, S(h->protocol),
			       h->port, S(h->path), h->interval_s, h->timeout_s,
			       h->healthy_threshold, h->unhealthy_threshold, S(h->matcher));
		}
	for (size_t i = 0; i < m->nrules; i++)
		if (MATCH(rules)) {
			const struct model_rule *r = &m->rules[i];
			fp_add(f, "prio %d", r->priority);
			fp_idx(f, "listener", r->listener, m->nlisteners, listener_name, m);
			for (size_t k = 0; k < r->nconds; k++) {
				const struct model_condition *c = &r->conds[k];
				fp_add(f, "cond %d %d %s", (int)c->field, c->regex,
				       S(c->header_name));
				for (size_t v = 0; v < c->nvalues; v++)
					fp_add(f, "%s=%s", S(c->qs_keys[v]), S(c->values[v]));
				for (size_t v = 0; v < c->ncidrs; v++)
					fp_cidr(f, c->cidrs[v]);
			}
			fp_action(f, m, &r->action);
		}
	for (size_t i = 0; i < m->nlisteners; i++)
		if (MATCH(listeners)) {
			const struct model_listener *l = &m->listeners[i];
			fp_idx(f, "lb", l->lb, m->nlbs, lb_name, m);
			fp_add(f, "%d %s", l->port, S(l->protocol));
			fp_action(f, m, &l->default_action);
		}
	for (size_t i = 0; i < m->nlbs; i++)
		if (MATCH(lbs)) {
			const struct model_lb *b = &m->lbs[i];
			fp_add(f, "%s %s %d", S(b->name), S(b->scheme), b->idle_timeout_s);
			for (size_t k = 0; k < b->nsubnets; k++)
				fp_idx(f, "subnet", b->subnets[k], m->nsubnets, subnet_name, m);
			for (size_t k = 0; k < b->nsgs; k++)
				fp_idx(f, "sg", b->sgs[k], m->nsgs, sg_name, m);
		}
	for (size_t i = 0; i < m->nzones; i++)
		if (MATCH(zones)) {
			fp_add(f, "%s %d", S(m->zones[i].name), m->zones[i].private_zone);
			for (size_t k = 0; k < m->zones[i].nvpcs; k++)
				fp_idx(f, "vpc", m->zones[i].vpcs[k], m->nvpcs, vpc_name, m);
		}
	for (size_t i = 0; i < m->nrecords; i++)
		if (MATCH(records)) {
			const struct model_record *r = &m->records[i];
			fp_idx(f, "zone", r->zone, m->nzones, zone_name, m);
			fp_add(f, "%s %s %u %s %d %d %d %d", S(r->name), S(r->type), r->ttl,
			       S(r->set_id), (int)r->routing, r->weight, r->primary,
			       r->eval_health);
			fp_idx(f, "alias", r->alias_lb, m->nlbs, lb_name, m);
			for (size_t k = 0; k < r->nvalues; k++)
				fp_add(f, "%s", S(r->values[k]));
		}
	for (size_t i = 0; i < m->nclusters; i++)
		if (MATCH(clusters))
			fp_add(f, "%s", S(m->clusters[i].name));
	for (size_t i = 0; i < m->nasgs; i++)
		if (MATCH(asgs)) {
			const struct model_asg *g = &m->asgs[i];
			fp_add(f, "%s %d %d %d %s", S(g->name), g->min, g->max, g->desired,
			       S(g->instance_type));
			for (size_t k = 0; k < g->nsubnets; k++)
				fp_idx(f, "subnet", g->subnets[k], m->nsubnets, subnet_name, m);
		}
	for (size_t i = 0; i < m->nservices; i++)
		if (MATCH(services)) {
			/* DesiredCount, DeploymentConfiguration and the task
			 * definition's contents may change; which task
			 * definition resource it names may not. */
			const struct model_service *s = &m->services[i];
			fp_add(f, "%s %d %d", S(s->name), s->grace_s, s->fargate);
			fp_idx(f, "cluster", s->cluster, m->nclusters, cluster_name, m);
			fp_idx(f, "taskdef", s->task_def, m->ntask_defs, td_name, m);
			for (size_t k = 0; k < s->nlbs; k++) {
				fp_add(f, "lb %s %d", S(s->lbs[k].container_name),
				       s->lbs[k].container_port);
				fp_idx(f, "tg", s->lbs[k].target_group, m->ntgs, tg_name, m);
			}
			for (size_t k = 0; k < s->nsubnets; k++)
				fp_idx(f, "subnet", s->subnets[k], m->nsubnets, subnet_name, m);
			for (size_t k = 0; k < s->nsgs; k++)
				fp_idx(f, "sg", s->sgs[k], m->nsgs, sg_name, m);
			/* Placement runs on the model vpcd started with. */
			for (size_t k = 0; k < s->nstrategies; k++)
				fp_add(f, "strategy %d %d", (int)s->strategies[k].type,
				       (int)s->strategies[k].field);
			fp_add(f, "distinct %d", s->distinct_instance);
			for (size_t k = 0; k < s->nmember_of; k++)
				fp_add(f, "memberOf %s", S(s->member_of[k]));
		}
	/* Application Auto Scaling runs on the model vpcd started with: a
	 * change to it is refused, not ignored. */
	for (size_t i = 0; i < m->nscalable_targets; i++)
		if (MATCH(scalable_targets)) {
			const struct model_scalable_target *t = &m->scalable_targets[i];
			fp_add(f, "%s %d %d %s", S(t->resource_id), t->min, t->max,
			       t->service >= 0 && (size_t)t->service < m->nservices
			           ? lg(m->services[t->service].logical)
			           : "-");
		}
	for (size_t i = 0; i < m->nscaling_policies; i++)
		if (MATCH(scaling_policies)) {
			const struct model_scaling_policy *p = &m->scaling_policies[i];
			fp_add(f, "%s %d %.17g %d %d %d", S(p->name), (int)p->metric,
			       p->target_value, p->scale_out_cooldown_s, p->scale_in_cooldown_s,
			       p->disable_scale_in);
			fp_idx(f, "tg", p->tg, m->ntgs, tg_name, m);
			fp_add(f, "target=%s",
			       p->target >= 0 && (size_t)p->target < m->nscalable_targets
			           ? lg(m->scalable_targets[p->target].logical)
			           : "-");
		}
#undef MATCH
}

/* Record sets hang off their zone and nothing points at them, so the
 * resolver can take a new model's records at once (dns_server_set_model);
 * task definitions change through deployments. */
static bool apply_may_add(const char *type)
{
	return type && (strcmp(type, "AWS::Route53::RecordSet") == 0 ||
	                strcmp(type, "AWS::Route53::RecordSetGroup") == 0);
}

static bool apply_may_change(const char *type)
{
	/* a listener rule's conditions, actions and priority: the ALB moves to
	 * the new model (alb_set_model); adding or removing one is refused */
	return apply_may_add(type) ||
	       (type && (strcmp(type, "AWS::ECS::TaskDefinition") == 0 ||
	                 strcmp(type, "AWS::ElasticLoadBalancingV2::ListenerRule") == 0));
}

void ecs_rolling_bounds(int desired, int min_pct, int max_pct, int *max_tasks, int *min_healthy)
{
	long long n = desired > 0 ? desired : 0;
	long long hi = n * (max_pct > 0 ? max_pct : 0) / 100;
	long long lo = (n * (min_pct > 0 ? min_pct : 0) + 99) / 100;
	*max_tasks = (int)(hi < n ? n : hi);
	*min_healthy = (int)lo;
}

int ecs_apply_desired(int live, bool prev_set, int prev, bool new_set, int nw)
{
	/* CloudFormation diffs the template against the last applied one,
	 * not against the service: an unchanged DesiredCount is not sent,
	 * so a count set by auto scaling stays. */
	if (!new_set || (prev_set && prev == nw))
		return live;
	return nw;
}

size_t ecs_model_diff(const struct model *old, const struct model *nm, char *out, size_t len)
{
	size_t n = 0, o = 0;
#define SAY(...)                                                                                   \
	do {                                                                                       \
		n++;                                                                               \
		if (o < len)                                                                       \
			o += (size_t)snprintf(out + o, len - o, __VA_ARGS__);                      \
	} while (0)
	if (len)
		out[0] = '\0';
	for (size_t i = 0; i < old->nresources; i++) {
		const struct model_resource *r = &old->resources[i], *q = NULL;
		for (size_t k = 0; k < nm->nresources && !q; k++)
			if (str_same(nm->resources[k].logical, r->logical))
				q = &nm->resources[k];
		if (!q) {
			if (!apply_may_add(r->type))
				SAY("%s (%s): removed\n", lg(r->logical), S(r->type));
			continue;
		}
		if (!str_same(q->type, r->type)) {
			SAY("%s: type %s changed to %s\n", lg(r->logical), S(r->type), S(q->type));
			continue;
		}
		if (r->no_effect || apply_may_change(r->type))
			continue;
		{
			struct fp a = {0}, b = {0};
			fp_resource(&a, old, r->logical);
			fp_resource(&b, nm, r->logical);
			if (a.oom || b.oom || !str_same(a.p, b.p))
				SAY("%s (%s): properties changed\n", lg(r->logical), S(r->type));
			free(a.p);
			free(b.p);
		}
	}
	for (size_t k = 0; k < nm->nresources; k++) {
		bool found = false;
		for (size_t i = 0; i < old->nresources && !found; i++)
			found = str_same(nm->resources[k].logical, old->resources[i].logical);
		if (!found && !apply_may_add(nm->resources[k].type))
			SAY("%s (%s): added\n", lg(nm->resources[k].logical),
			    S(nm->resources[k].type));
	}
	/* Services are matched by position by the ECS plane. */
	for (size_t i = 0; i < old->nservices && i < nm->nservices; i++)
		if (!str_same(old->services[i].logical, nm->services[i].logical))
			SAY("%s (AWS::ECS::Service): moved in the template\n",
			    lg(nm->services[i].logical));
	if (old->nservices != nm->nservices && n == 0)
		SAY("the number of services changed\n");
	{
		struct fp a = {0}, b = {0};
		for (size_t i = 0; i < old->noutputs; i++)
			fp_add(&a, "%s=%s %s", lg(old->outputs[i].logical),
			       S(old->outputs[i].value), S(old->outputs[i].export_name));
		for (size_t i = 0; i < nm->noutputs; i++)
			fp_add(&b, "%s=%s %s", lg(nm->outputs[i].logical), S(nm->outputs[i].value),
			       S(nm->outputs[i].export_name));
		if (a.oom || b.oom || !str_same(a.p, b.p))
			SAY("Outputs: changed\n");
		free(a.p);
		free(b.p);
	}
	if (!str_same(old->stack_name, nm->stack_name) || !str_same(old->region, nm->region))
		SAY("stack name or region changed\n");
#undef SAY
	return n;
}
