/*
 * Resources and placement into the model, once the rest is built: each
 * Auto Scaling group's instance type (its LaunchConfiguration or
 * LaunchTemplate) and what such a host registers; task definitions' Cpu and
 * Memory as ECS reads them (strings like "0.25 vCPU", "1 GB"), checked
 * against the containers and, for FARGATE, against Fargate's combinations;
 * services' PlacementStrategies and PlacementConstraints (with the task
 * definition's), memberOf expressions parsed here so that a bad one is an
 * error at its line and column.
 */
#include "cfn/cfn_int.h"
#include "ecs/placement.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define TYPE_LC "AWS::AutoScaling::LaunchConfiguration"
#define TYPE_LT "AWS::EC2::LaunchTemplate"

static const char *prop_path(struct cfn_ctx *c, const struct cfn_res *r)
{
	return cfn__path_key(c, r->path, "Properties");
}

/* The InstanceType node of r (a LaunchConfiguration or LaunchTemplate). */
static const struct cfn_node *instance_type_node(const struct cfn_res *r)
{
	const struct cfn_node *d;
	if (strcmp(r->type_name, TYPE_LC) == 0)
		return cfn_node_get(r->props, "InstanceType");
	d = cfn_node_get(r->props, "LaunchTemplateData");
	return d ? cfn_node_get(d, "InstanceType") : NULL;
}

static const char *instance_type_path(struct cfn_ctx *c, const struct cfn_res *r)
{
	return cfn__path_key(c, prop_path(c, r),
	                     strcmp(r->type_name, TYPE_LC) == 0
	                         ? "InstanceType"
	                         : "LaunchTemplateData.InstanceType");
}

/* The LaunchTemplate resource a LaunchTemplateSpecification names (by
 * LaunchTemplateId or LaunchTemplateName), checking its Version: a template
 * here has one version, 1 ($Latest and $Default are it). */
static struct cfn_res *lt_of_spec(struct cfn_ctx *c, const struct cfn_node *spec, const char *sp)
{
	const struct cfn_node *id = cfn_node_get(spec, "LaunchTemplateId");
	const struct cfn_node *name = cfn_node_get(spec, "LaunchTemplateName");
	const struct cfn_node *ver = cfn_node_get(spec, "Version");
	struct cfn_res *lt = NULL;

	if (spec->type != CFN_MAP) {
		cfn_error_at(c, spec, sp, "expected an object, found %s", cfn__found(c, spec));
		return NULL;
	}
	if (id && id->type == CFN_STR) {
		int k = cfn_res_find_value(c, TYPE_LT, id->str);
		if (k < 0) {
			cfn_error_at(c, id, cfn__path_key(c, sp, "LaunchTemplateId"),
			             "%s is no launch template of the template", id->str);
			return NULL;
		}
		lt = &c->res[k];
	} else if (name && name->type == CFN_STR) {
		for (size_t i = 0; i < c->nres && !lt; i++) {
			const struct cfn_node *n;
			if (!c->res[i].active || strcmp(c->res[i].type_name, TYPE_LT) != 0 ||
			    !c->res[i].props)
				continue;
			n = cfn_node_get(c->res[i].props, "LaunchTemplateName");
			if (n && n->type == CFN_STR && strcmp(n->str, name->str) == 0)
				lt = &c->res[i];
		}
		if (!lt) {
			cfn_error_at(c, name, cfn__path_key(c, sp, "LaunchTemplateName"),
			             "no launch template of the template is named %s", name->str);
			return NULL;
		}
	} else {
		cfn_error_at(c, spec, sp,
		             "a launch template specification needs LaunchTemplateId "
		             "or LaunchTemplateName");
		return NULL;
	}
	if (!ver) {
		cfn_error_at(c, spec, sp, "missing required property Version");
	} else if (ver->type != CFN_STR && ver->type != CFN_NUM) {
		cfn_error_at(c, ver, cfn__path_key(c, sp, "Version"), "expected a string, found %s",
		             cfn__found(c, ver));
	} else if (strcmp(ver->str, "1") != 0 && strcmp(ver->str, "$Latest") != 0 &&
	           strcmp(ver->str, "$Default") != 0) {
		cfn_error_at(c, ver, cfn__path_key(c, sp, "Version"),
		             "launch template %s has one version (1, $Latest, $Default), not %s",
		             lt->logical, ver->str);
	}
	return lt;
}

static void asg_instance_type(struct cfn_ctx *c, struct cfn_res *r)
{
	struct model_asg *a;
	const char *pp = prop_path(c, r);
	const struct cfn_node *lc = cfn_node_get(r->props, "LaunchConfigurationName");
	const struct cfn_node *lts = cfn_node_get(r->props, "LaunchTemplate");
	const struct cfn_node *mip = cfn_node_get(r->props, "MixedInstancesPolicy");
	const struct cfn_node *it;
	struct cfn_res *src = NULL;
	int cpu, mem, rc;

	if (r->model_index < 0 || (size_t)r->model_index >= c->m->nasgs)
		return;
	a = &c->m->asgs[r->model_index];
	if (lc && lc->type == CFN_STR) {
		int k = cfn_res_find_value(c, TYPE_LC, lc->str);
		if (k >= 0)
			src = &c->res[k];
	} else if (lts) {
		src = lt_of_spec(c, lts, cfn__path_key(c, pp, "LaunchTemplate"));
	} else if (mip && mip->type == CFN_MAP) {
		const struct cfn_node *l = cfn_node_get(mip, "LaunchTemplate");
		const struct cfn_node *s =
		    l ? cfn_node_get(l, "LaunchTemplateSpecification") : NULL;
		if (s)
			src = lt_of_spec(c, s,
			                 cfn__path_key(c, pp,
			                               "MixedInstancesPolicy.LaunchTemplate."
			                               "LaunchTemplateSpecification"));
	}
	if (!src || !src->props)
		return;
	it = instance_type_node(src);
	if (!it)
		return;
	if (it->type != CFN_STR) {
		cfn_error_at(c, it, instance_type_path(c, src), "expected a string, found %s",
		             cfn__found(c, it));
		return;
	}
	rc = place_instance_type(it->str, &cpu, &mem);
	if (rc < 0) {
		cfn_error_at(
		    c, it, instance_type_path(c, src),
		    rc == -ENOENT
		        ? "unknown instance type %s: vpcd knows the t2, t3, t3a, t4g, c4, "
		          "m4, r4 families and m5, c5, r5, m6, c6, r6, m7, c7, r7 (i, a, g, "
		          "d, gd)"
		        : "unknown instance type %s: its family has no such size",
		    it->str);
		return;
	}
	a->instance_type = cfn__strdup(it->str);
	a->cpu_units = cpu;
	a->memory_mib = mem;
}

static bool requires_fargate(const struct cfn_res *r)
{
	const struct cfn_node *rc = cfn_node_get(r->props, "RequiresCompatibilities");
	for (size_t i = 0; rc && rc->type == CFN_LIST && i < rc->n; i++)
		if (rc->items[i]->type == CFN_STR && strcmp(rc->items[i]->str, "FARGATE") == 0)
			return true;
	return false;
}

static void taskdef_resources(struct cfn_ctx *c, struct cfn_res *r)
{
	struct model_task_def *t;
	const char *pp = prop_path(c, r);
	const struct cfn_node *cpu = cfn_node_get(r->props, "Cpu");
	const struct cfn_node *mem = cfn_node_get(r->props, "Memory");
	int tcpu = 0, tmem = 0, sum = 0;

	if (r->model_index < 0 || (size_t)r->model_index >= c->m->ntask_defs)
		return;
	t = &c->m->task_defs[r->model_index];
	if (cpu) {
		if ((cpu->type != CFN_STR && cpu->type != CFN_NUM) ||
		    place_parse_cpu(cpu->str, strlen(cpu->str), &tcpu) < 0)
			cfn_error_at(c, cpu, cfn__path_key(c, pp, "Cpu"),
			             "invalid Cpu %s: CPU units such as \"256\" or vCPUs such as "
			             "\"0.25 vCPU\"",
			             cfn__found(c, cpu));
		else
			t->cpu = tcpu;
	}
	if (mem) {
		if ((mem->type != CFN_STR && mem->type != CFN_NUM) ||
		    place_parse_memory(mem->str, strlen(mem->str), &tmem) < 0)
			cfn_error_at(
			    c, mem, cfn__path_key(c, pp, "Memory"),
			    "invalid Memory %s: MiB such as \"512\" or GB such as \"1 GB\"",
			    cfn__found(c, mem));
		else
			t->task_memory = tmem;
	}
	for (size_t i = 0; i < t->ncontainers; i++) {
		const struct model_container *ct = &t->containers[i];
		const char *cp = cfn__item_path(c, pp, "ContainerDefinitions", i);
		const struct cfn_node *cds = cfn_node_get(r->props, "ContainerDefinitions");
		const struct cfn_node *d =
		    cds && cds->type == CFN_LIST && i < cds->n ? cds->items[i] : r->props;
		if (ct->memory && ct->memory_reservation && ct->memory < ct->memory_reservation)
			cfn_error_at(c, cfn_node_get(d, "Memory"), cfn__path_key(c, cp, "Memory"),
			             "Invalid setting for container '%s'. 'memory' must be greater "
			             "than or equal to 'memoryReservation'.",
			             ct->name ? ct->name : "?");
		if (tmem && ct->memory > tmem)
			cfn_error_at(c, cfn_node_get(d, "Memory"), cfn__path_key(c, cp, "Memory"),
			             "The 'memory' setting for container '%s' is greater than for "
			             "the task (%d MiB > %d MiB).",
			             ct->name ? ct->name : "?", ct->memory, tmem);
		sum += ct->memory_reservation ? ct->memory_reservation : ct->memory;
	}
	t->memory = tmem ? tmem : sum;
	if (!requires_fargate(r))
		return;
	if (!cpu)
		cfn_error_at(c, r->props, pp,
		             "Fargate requires that 'cpu' be defined at the task "
		             "level.");
	else if (!mem)
		cfn_error_at(c, r->props, pp,
		             "Fargate requires that 'memory' be defined at the "
		             "task level.");
	else if (tcpu && tmem && !place_fargate_ok(tcpu, tmem))
		cfn_error_at(c, mem, cfn__path_key(c, pp, "Memory"),
		             "No Fargate configuration exists for given values: %d CPU, %d memory. "
		             "See the Amazon ECS documentation for the valid values.",
		             tcpu, tmem);
}

static const char *const strat_types[] = {"spread", "binpack", "random", NULL};

static void service_strategies(struct cfn_ctx *c, struct cfn_res *r, struct model_service *s)
{
	const char *pp = prop_path(c, r);
	const char *sp = cfn__path_key(c, pp, "PlacementStrategies");
	struct cfn_node *l = cfn__prop_list(c, r->props, "PlacementStrategies", pp);

	if (!l)
		return;
	if (l->n > MODEL_MAX_PLACE_STRATEGIES)
		cfn_error_at(c, l, sp, "at most %d placement strategy rules per service, found %zu",
		             MODEL_MAX_PLACE_STRATEGIES, l->n);
	if (s->fargate && l->n)
		cfn_error_at(c, l, sp,
		             "Placement strategies are not supported with FARGATE launch type.");
	for (size_t i = 0; i < l->n && s->nstrategies < MODEL_MAX_PLACE_STRATEGIES; i++) {
		const struct cfn_node *it = l->items[i];
		const char *ip = cfn__item_path(c, pp, "PlacementStrategies", i);
		static const char *const props[] = {"Type", "Field", NULL};
		static const char *const req[] = {"Type", NULL};
		struct model_place_strategy st = {0};
		const char *type, *field;
		if (it->type != CFN_MAP) {
			cfn_error_at(c, it, ip, "expected an object, found %s", cfn__found(c, it));
			continue;
		}
		cfn__check_keys(c, it, ip, props, req, "property");
		type = cfn__prop_enum(c, it, "Type", ip, NULL, strat_types);
		field = cfn__prop_str(c, it, "Field", ip);
		if (!type)
			continue;
		if (strcmp(type, "random") == 0) {
			st.type = MODEL_PLACE_RANDOM;
			if (field)
				cfn_error_at(c, cfn_node_get(it, "Field"),
				             cfn__path_key(c, ip, "Field"),
				             "the random strategy takes no Field");
		} else if (strcmp(type, "binpack") == 0) {
			st.type = MODEL_PLACE_BINPACK;
			if (field && strcasecmp(field, "cpu") == 0)
				st.field = MODEL_PLACE_FIELD_CPU;
			else if (field && strcasecmp(field, "memory") == 0)
				st.field = MODEL_PLACE_FIELD_MEMORY;
			else
				cfn_error_at(c, field ? cfn_node_get(it, "Field") : it,
				             cfn__path_key(c, ip, "Field"),
				             "the binpack strategy needs Field cpu or memory");
		} else {
			st.type = MODEL_PLACE_SPREAD;
			if (!field)
				cfn_error_at(
				    c, it, cfn__path_key(c, ip, "Field"),
				    "the spread strategy needs a Field (instanceId, host or "
				    "attribute:...)");
			else if (strcmp(field, "instanceId") == 0 || strcmp(field, "host") == 0)
				st.field = MODEL_PLACE_FIELD_INSTANCE;
			else if (strcmp(field, "attribute:ecs.availability-zone") == 0)
				st.field = MODEL_PLACE_FIELD_AZ;
			else if (strcmp(field, "attribute:ecs.instance-type") == 0)
				st.field = MODEL_PLACE_FIELD_INSTANCE_TYPE;
			else if (strcmp(field, "attribute:ecs.os-type") == 0)
				st.field = MODEL_PLACE_FIELD_OS_TYPE;
			else
				cfn_error_at(
				    c, cfn_node_get(it, "Field"), cfn__path_key(c, ip, "Field"),
				    "unsupported spread field %s (vpcd knows instanceId, host, "
				    "attribute:ecs.availability-zone, attribute:ecs.instance-type "
				    "and attribute:ecs.os-type)",
				    field);
		}
		s->strategies[s->nstrategies++] = st;
	}
}

static const char *const constraint_types[] = {"distinctInstance", "memberOf", NULL};

/* The column of byte off of a string node's text (escapes aside): a quoted
 * scalar's text starts one column after the node (the quote). */
static int text_col(const struct cfn_node *n, size_t off)
{
	return n->col + (n->quoted ? 1 : 0) + (int)off;
}

static void constraints_of(struct cfn_ctx *c, const struct cfn_node *owner, const char *base,
                           const char *key, struct model_service *s, bool task_level)
{
	struct cfn_node *l = cfn__prop_list(c, owner, key, base);
	const char *lp = cfn__path_key(c, base, key);

	if (!l)
		return;
	if (s->fargate && l->n && !task_level)
		cfn_error_at(c, l, lp,
		             "Placement constraints are not supported with FARGATE launch type.");
	for (size_t i = 0; i < l->n; i++) {
		const struct cfn_node *it = l->items[i];
		const char *ip = cfn__item_path(c, base, key, i);
		static const char *const props[] = {"Type", "Expression", NULL};
		static const char *const req[] = {"Type", NULL};
		const struct cfn_node *ex;
		const char *type;
		struct place_query q;
		size_t off = 0;
		char err[200];

		if (it->type != CFN_MAP) {
			cfn_error_at(c, it, ip, "expected an object, found %s", cfn__found(c, it));
			continue;
		}
		cfn__check_keys(c, it, ip, props, req, "property");
		/* A task definition's constraints are memberOf only (ECS). */
		type = cfn__prop_enum(c, it, "Type", ip, NULL,
		                      task_level ? constraint_types + 1 : constraint_types);
		ex = cfn_node_get(it, "Expression");
		if (!type)
			continue;
		if (strcmp(type, "distinctInstance") == 0) {
			if (ex)
				cfn_error_at(c, ex, cfn__path_key(c, ip, "Expression"),
				             "a distinctInstance constraint takes no Expression");
			s->distinct_instance = true;
			continue;
		}
		if (!ex) {
			cfn_error_at(c, it, ip, "a memberOf constraint needs an Expression");
			continue;
		}
		if (ex->type != CFN_STR) {
			cfn_error_at(c, ex, cfn__path_key(c, ip, "Expression"),
			             "expected a string, found %s", cfn__found(c, ex));
			continue;
		}
		if (strlen(ex->str) > 2000) {
			cfn_error_at(c, ex, cfn__path_key(c, ip, "Expression"),
			             "an expression has at most 2000 characters");
			continue;
		}
		if (place_query_parse(ex->str, strlen(ex->str), &q, &off, err, sizeof(err)) < 0) {
			cfn_error(c, ex->line, text_col(ex, off),
			          cfn__path_key(c, ip, "Expression"), "%s (at \"%.20s\")", err,
			          ex->str + off);
			continue;
		}
		if (s->nmember_of == MODEL_MAX_PLACE_CONSTRAINTS) {
			cfn_error_at(c, it, ip, "at most %d placement constraints per task",
			             MODEL_MAX_PLACE_CONSTRAINTS);
			continue;
		}
		s->member_of[s->nmember_of++] = cfn__strdup(ex->str);
	}
}

static void service_placement(struct cfn_ctx *c, struct cfn_res *r)
{
	struct model_service *s;
	if (r->model_index < 0 || (size_t)r->model_index >= c->m->nservices)
		return;
	s = &c->m->services[r->model_index];
	service_strategies(c, r, s);
	constraints_of(c, r->props, prop_path(c, r), "PlacementConstraints", s, false);
	/* The task definition's memberOf constraints bind its tasks too. */
	for (size_t i = 0; i < c->nres && s->task_def >= 0; i++) {
		struct cfn_res *t = &c->res[i];
		if (t->active && t->props && t->model_index == s->task_def &&
		    strcmp(t->type_name, "AWS::ECS::TaskDefinition") == 0) {
			constraints_of(c, t->props, prop_path(c, t), "PlacementConstraints", s,
			               true);
			break;
		}
	}
}

void cfn__build_placement(struct cfn_ctx *c)
{
	const char *file = c->file;
	for (int pass = 0; pass < 2; pass++)
		for (size_t k = 0; k < c->norder; k++) {
			struct cfn_res *r = &c->res[c->order[k]];
			if (r->failed || !r->type || !r->active || !r->props)
				continue;
			if (r->file)
				c->file = r->file;
			if (pass == 0 &&
			    strcmp(r->type_name, "AWS::AutoScaling::AutoScalingGroup") == 0)
				asg_instance_type(c, r);
			else if (pass == 0 && strcmp(r->type_name, "AWS::ECS::TaskDefinition") == 0)
				taskdef_resources(c, r);
			else if (pass == 1 && strcmp(r->type_name, "AWS::ECS::Service") == 0)
				service_placement(c, r);
		}
	c->file = file;
}
