/*
 * Application Auto Scaling into the model: ScalableTargets of an ECS
 * service's DesiredCount (ResourceId service/CLUSTER/SERVICE resolved to the
 * service) and their TargetTrackingScaling policies on the predefined
 * metrics vpcd measures (ALBRequestCountPerTarget, whose ResourceLabel
 * names the target group, and ECSServiceAverageCPUUtilization); and the
 * task definitions' Cpu units the CPU metric divides by. Runs once the
 * whole model is built, so a ResourceId written as a literal finds its
 * service whatever the creation order. The schema checks stay in schema.c.
 */
#include "cfn/cfn_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define TYPE_TARGET "AWS::ApplicationAutoScaling::ScalableTarget"
#define TYPE_POLICY "AWS::ApplicationAutoScaling::ScalingPolicy"
#define AAS_DEFAULT_COOLDOWN_S 300 /* ECS services (AAS API reference) */

static bool num_of(const struct cfn_node *n, double *out)
{
	char *end;
	if (!n || (n->type != CFN_STR && n->type != CFN_NUM) || !n->str || !*n->str)
		return false;
	*out = strtod(n->str, &end);
	return *end == '\0' && isfinite(*out);
}

static int int_of(const struct cfn_node *n, int def)
{
	double v;
	if (!num_of(n, &v) || v < 0 || v > 2147483647.0)
		return def;
	return (int)v;
}

/* "256", "1024", "1 vCPU", "0.25 vcpu" -> units; 0 when absent or odd. */
static int cpu_units(const struct cfn_node *n)
{
	char *end;
	double v;
	if (!n || (n->type != CFN_STR && n->type != CFN_NUM) || !n->str)
		return 0;
	v = strtod(n->str, &end);
	if (end == n->str || v <= 0 || v > 1e6)
		return 0;
	while (*end == ' ')
		end++;
	if (strncasecmp(end, "vcpu", 4) == 0)
		v *= 1024;
	return (int)(v + 0.5);
}

static void taskdef_cpu(struct cfn_ctx *c, const struct cfn_res *r)
{
	struct model_task_def *t;
	const struct cfn_node *cds;
	int sum = 0;
	if (r->model_index < 0 || (size_t)r->model_index >= c->m->ntask_defs)
		return;
	t = &c->m->task_defs[r->model_index];
	t->cpu = cpu_units(cfn_node_get(r->props, "Cpu"));
	if (t->cpu)
		return;
	cds = cfn_node_get(r->props, "ContainerDefinitions");
	for (size_t i = 0; cds && cds->type == CFN_LIST && i < cds->n; i++)
		sum += int_of(cfn_node_get(cds->items[i], "Cpu"), 0);
	t->cpu = sum;
}

/* The model service that "service/CLUSTER/SERVICE" names, or -1. */
static int service_of(const struct model *m, const char *rid)
{
	const char *cl, *sv;
	size_t cl_len;
	if (strncmp(rid, "service/", 8) != 0)
		return -1;
	cl = rid + 8;
	sv = strchr(cl, '/');
	if (!sv)
		return -1;
	cl_len = (size_t)(sv - cl);
	sv++;
	for (size_t i = 0; i < m->nservices; i++) {
		const struct model_service *s = &m->services[i];
		const struct model_cluster *k =
		    s->cluster >= 0 && (size_t)s->cluster < m->nclusters ? &m->clusters[s->cluster]
		                                                          : NULL;
		if (!s->name || strcmp(s->name, sv) != 0 || !k || !k->name)
			continue;
		if (strlen(k->name) == cl_len && strncmp(k->name, cl, cl_len) == 0)
			return (int)i;
	}
	return -1;
}

static void build_target(struct cfn_ctx *c, struct cfn_res *r)
{
	struct model *m = c->m;
	const char *pp = cfn__path_key(c, r->path, "Properties");
	const char *ns = cfn__prop_str(c, r->props, "ServiceNamespace", pp);
	const char *dim = cfn__prop_str(c, r->props, "ScalableDimension", pp);
	const char *rid = cfn__prop_str(c, r->props, "ResourceId", pp);
	struct model_scalable_target *t;
	int s;
	if (!ns || !dim || !rid || strcmp(ns, "ecs") != 0 ||
	    strcmp(dim, "ecs:service:DesiredCount") != 0) {
		cfn_warn_at(c, r->props, pp,
		            "only ECS services' DesiredCount is scaled here; this scalable target "
		            "has no effect");
		return;
	}
	s = service_of(m, rid);
	if (s < 0) {
		/* Perhaps a service of a stack not loaded here: as the other
		 * kinds of target, no effect. */
		cfn_warn_at(c, cfn_node_get(r->props, "ResourceId"),
		            cfn__path_key(c, pp, "ResourceId"),
		            "%s names no ECS service of the template (service/CLUSTER/SERVICE, "
		            "with the cluster's and the service's names); this scalable target has "
		            "no effect",
		            rid);
		return;
	}
	t = &m->scalable_targets[m->nscalable_targets];
	t->logical = cfn__strdup(r->logical);
	t->resource_id = cfn__strdup(rid);
	t->service = s;
	t->min = int_of(cfn_node_get(r->props, "MinCapacity"), 0);
	t->max = int_of(cfn_node_get(r->props, "MaxCapacity"), t->min);
	if (t->max < t->min)
		t->max = t->min;
	r->model_index = (int)m->nscalable_targets++;
}

/* The target group of an ALBRequestCountPerTarget ResourceLabel
 * app/LB/ID/targetgroup/TG/ID, or -1. */
static int label_tg(const struct model *m, const char *label)
{
	const char *tg = strstr(label, "/targetgroup/");
	if (strncmp(label, "app/", 4) != 0 || !tg)
		return -1;
	for (size_t i = 0; i < m->ntgs; i++)
		if (m->tgs[i].full_name && strcmp(m->tgs[i].full_name, tg + 1) == 0)
			return (int)i;
	return -1;
}

static int policy_target(struct cfn_ctx *c, struct cfn_res *r)
{
	const struct model *m = c->m;
	const char *pp = cfn__path_key(c, r->path, "Properties");
	const char *id = cfn__prop_str(c, r->props, "ScalingTargetId", pp);
	if (id) {
		int k = cfn_res_find_value(c, TYPE_TARGET, id);
		return k >= 0 ? c->res[k].model_index : -1;
	}
	id = cfn__prop_str(c, r->props, "ResourceId", pp);
	for (size_t i = 0; id && i < m->nscalable_targets; i++)
		if (strcmp(m->scalable_targets[i].resource_id, id) == 0)
			return (int)i;
	return -1;
}

static void build_policy(struct cfn_ctx *c, struct cfn_res *r)
{
	struct model *m = c->m;
	const char *pp = cfn__path_key(c, r->path, "Properties");
	const char *type = cfn__prop_str(c, r->props, "PolicyType", pp);
	const struct cfn_node *tt = cfn_node_get(r->props, "TargetTrackingScalingPolicyConfiguration");
	const struct cfn_node *pm = cfn_node_get(tt, "PredefinedMetricSpecification");
	const char *tp = cfn__path_key(c, pp, "TargetTrackingScalingPolicyConfiguration");
	const char *mt = pm ? cfn__prop_str(c, pm, "PredefinedMetricType", tp) : NULL;
	struct model_scaling_policy *p;
	int target = policy_target(c, r);
	double tv;

	if (!type || strcmp(type, "TargetTrackingScaling") != 0 || !tt) {
		cfn_warn_at(c, r->props, pp,
		            "only TargetTrackingScaling policies are run here; this policy has no "
		            "effect");
		return;
	}
	if (target < 0)
		return; /* its scalable target has no effect (warned) or failed */
	if (!mt || (strcmp(mt, "ALBRequestCountPerTarget") != 0 &&
	            strcmp(mt, "ECSServiceAverageCPUUtilization") != 0)) {
		cfn_warn_at(c, pm ? (const struct cfn_node *)pm : tt, tp,
		            "vpcd measures ALBRequestCountPerTarget and "
		            "ECSServiceAverageCPUUtilization only; this policy has no effect");
		return;
	}
	if (!num_of(cfn_node_get(tt, "TargetValue"), &tv) || tv <= 0) {
		cfn_error_at(c, cfn_node_get(tt, "TargetValue") ? cfn_node_get(tt, "TargetValue") : tt,
		             cfn__path_key(c, tp, "TargetValue"), "must be a number above 0");
		return;
	}
	p = &m->scaling_policies[m->nscaling_policies];
	p->tg = -1;
	if (strcmp(mt, "ALBRequestCountPerTarget") == 0) {
		const char *lp = cfn__path_key(c, tp, "PredefinedMetricSpecification");
		const char *label = cfn__prop_str(c, pm, "ResourceLabel", lp);
		p->metric = MODEL_METRIC_ALB_REQUESTS_PER_TARGET;
		p->tg = label ? label_tg(m, label) : -1;
		if (p->tg < 0) {
			cfn_error_at(c, cfn_node_get(pm, "ResourceLabel") ? cfn_node_get(pm, "ResourceLabel")
			                                                  : pm,
			             cfn__path_key(c, lp, "ResourceLabel"),
			             "ALBRequestCountPerTarget needs ResourceLabel "
			             "app/LB/ID/targetgroup/TG/ID naming a target group of the "
			             "template, found %s",
			             label ? label : "none");
			return;
		}
	} else {
		p->metric = MODEL_METRIC_ECS_CPU;
	}
	p->logical = cfn__strdup(r->logical);
	p->name = cfn__strdup(cfn__prop_str(c, r->props, "PolicyName", pp));
	p->arn = cfn__strdup(cfn_attr_str(r, NULL));
	p->target = target;
	p->target_value = tv;
	p->scale_out_cooldown_s =
	    int_of(cfn_node_get(tt, "ScaleOutCooldown"), AAS_DEFAULT_COOLDOWN_S);
	p->scale_in_cooldown_s = int_of(cfn_node_get(tt, "ScaleInCooldown"), AAS_DEFAULT_COOLDOWN_S);
	{
		const struct cfn_node *d = cfn_node_get(tt, "DisableScaleIn");
		p->disable_scale_in = d && ((d->type == CFN_BOOL && d->b) ||
		                            (d->type == CFN_STR && strcmp(d->str, "true") == 0));
	}
	r->model_index = (int)m->nscaling_policies++;
}

void cfn__build_scaling(struct cfn_ctx *c)
{
	struct model *m = c->m;
	const char *file = c->file;
	m->scalable_targets = cfn__calloc(c->nres, sizeof(*m->scalable_targets));
	m->scaling_policies = cfn__calloc(c->nres, sizeof(*m->scaling_policies));
	/* Targets first: policies point at them. */
	for (int pass = 0; pass < 3; pass++)
		for (size_t k = 0; k < c->norder; k++) {
			struct cfn_res *r = &c->res[c->order[k]];
			if (r->failed || !r->type || !r->active || !r->props)
				continue;
			if (r->file)
				c->file = r->file;
			if (pass == 0 && strcmp(r->type_name, "AWS::ECS::TaskDefinition") == 0)
				taskdef_cpu(c, r);
			else if (pass == 1 && strcmp(r->type_name, TYPE_TARGET) == 0)
				build_target(c, r);
			else if (pass == 2 && strcmp(r->type_name, TYPE_POLICY) == 0)
				build_policy(c, r);
		}
	c->file = file;
}
