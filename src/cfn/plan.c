/*
 * The plan: what each resource of a model becomes on this machine, one line
 * per resource in creation order (vpcd validate prints it).
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cfn/cfn.h"

/* The nth (from 0) entry of arr with logical id lg: nested stacks may use
 * one logical id each, and the model holds them in creation order too. */
#define FIND(arr, cnt, lg)                                                                         \
	for (size_t i_ = 0, n_ = 0; i_ < (cnt); i_++)                                              \
		if (strcmp((arr)[i_].logical, (lg)) == 0 && n_++ == nth)

/* " forward to NAME", " forward to A:1,B:3 (sticky 300s)", " fixed-response
 * 404", " redirect 301" */
static void plan_action(FILE *out, const struct model *m, const struct model_action *a)
{
	if (a->type == MODEL_ACTION_FIXED_RESPONSE) {
		fprintf(out, " fixed-response %d", a->status);
		return;
	}
	if (a->type == MODEL_ACTION_REDIRECT) {
		fprintf(out, " redirect %d", a->status);
		return;
	}
	if (a->nfwd > 1) {
		fprintf(out, " forward to");
		for (size_t i = 0; i < a->nfwd; i++)
			fprintf(out, "%s%s:%d", i ? "," : " ", m->tgs[a->fwd_tgs[i]].name,
			        a->fwd_weights[i]);
		if (a->tg_sticky)
			fprintf(out, " (sticky %ds)", a->tg_sticky_s);
		return;
	}
	fprintf(out, " forward to %s", a->target_group >= 0 ? m->tgs[a->target_group].name : "?");
}

void cfn_plan_print(const struct model *m, FILE *out)
{
	char a[16], b[16];
	fprintf(out, "stack %s in %s (account %s): %zu resources, resolver %s:53\n", m->stack_name,
	        m->region, m->account, m->nresources, addr4_str(m->resolver_addr, a));
	for (size_t k = 0; k < m->nresources; k++) {
		const struct model_resource *r = &m->resources[k];
		size_t nth = 0; /* resources before this one of its logical id and type */
		for (size_t j = 0; j < k; j++)
			nth += strcmp(m->resources[j].logical, r->logical) == 0 &&
			       strcmp(m->resources[j].type, r->type) == 0;
		fprintf(out, "  %-40s %-42s ", r->logical, r->type);
		if (r->no_effect) {
			fprintf(out, "accepted, no effect\n");
			continue;
		}
		if (strcmp(r->type, "AWS::AutoScaling::LaunchConfiguration") == 0 ||
		    strcmp(r->type, "AWS::EC2::LaunchTemplate") == 0) {
			fprintf(out, "the instance type of its Auto Scaling groups' hosts\n");
			continue;
		}
		if (strncmp(r->type, "AWS::EC2::SecurityGroupIngress", 30) == 0 ||
		    strncmp(r->type, "AWS::EC2::SecurityGroupEgress", 29) == 0) {
			fprintf(out, "one more rule on its security group\n");
			continue;
		}
		FIND(m->vpcs, m->nvpcs, r->logical)
		{
			const struct model_vpc *v = &m->vpcs[i_];
			fprintf(out, "%s/16 (VPC %s/%u) %s", addr4_str(v->lo_base, a),
			        addr4_str(v->cidr.addr, b), v->cidr.prefix, v->id);
		}
		FIND(m->subnets, m->nsubnets, r->logical)
		{
			const struct model_subnet *s = &m->subnets[i_];
			fprintf(out, "%s/%u %s (VPC %s/%u)", addr4_str(s->lo_cidr.addr, a),
			        s->lo_cidr.prefix, s->az, addr4_str(s->cidr.addr, b),
			        s->cidr.prefix);
		}
		FIND(m->sgs, m->nsgs, r->logical)
		{
			fprintf(out, "%s: %zu ingress, %zu egress rules", m->sgs[i_].id,
			        m->sgs[i_].ningress, m->sgs[i_].negress);
		}
		FIND(m->lbs, m->nlbs, r->logical)
		{
			const struct model_lb *l = &m->lbs[i_];
			fprintf(out, "%s (%s) nodes", l->dns_name, l->scheme);
			for (size_t j = 0; j < l->nsubnets; j++)
				fprintf(out, " %s", addr4_str(l->node_addrs[j], a));
		}
		FIND(m->tgs, m->ntgs, r->logical)
		{
			const struct model_target_group *t = &m->tgs[i_];
			fprintf(out,
			        "%s %s:%d %s, health %s %s every %ds timeout %ds healthy %d "
			        "unhealthy %d matcher %s",
			        t->name, t->protocol, t->port, t->target_type, t->hc.protocol,
			        t->hc.path, t->hc.interval_s, t->hc.timeout_s,
			        t->hc.healthy_threshold, t->hc.unhealthy_threshold, t->hc.matcher);
		}
		FIND(m->listeners, m->nlisteners, r->logical)
		{
			const struct model_listener *l = &m->listeners[i_];
			fprintf(out, "%s port %d, default", l->protocol, l->port);
			plan_action(out, m, &l->default_action);
		}
		FIND(m->rules, m->nrules, r->logical)
		{
			const struct model_rule *ru = &m->rules[i_];
			fprintf(out, "priority %d", ru->priority);
			static const char *const fields[] = {"host",   "path",  "header",
			                                     "method", "query", "source-ip"};
			for (size_t j = 0; j < ru->nconds; j++) {
				const struct model_condition *mc = &ru->conds[j];
				fprintf(out, " %s%s", fields[mc->field], mc->regex ? "~" : "");
				if (mc->header_name)
					fprintf(out, " %s:", mc->header_name);
				for (size_t v = 0; v < mc->nvalues; v++)
					fprintf(out, "%s%s%s%s", v ? "," : " ",
					        mc->qs_keys[v] ? mc->qs_keys[v] : "",
					        mc->qs_keys[v] ? "=" : "", mc->values[v]);
				for (size_t v = 0; v < mc->ncidrs; v++) {
					char ab[16];
					fprintf(out, "%s%s/%u", v ? "," : " ",
					        addr4_str(mc->cidrs[v].addr, ab),
					        mc->cidrs[v].prefix);
				}
			}
			fprintf(out, " ->");
			plan_action(out, m, &ru->action);
			if (ru->host_rw.re)
				fprintf(out, ", host %s => %s", ru->host_rw.regex,
				        ru->host_rw.replace);
			if (ru->url_rw.re)
				fprintf(out, ", url %s => %s", ru->url_rw.regex,
				        ru->url_rw.replace);
		}
		FIND(m->clusters, m->nclusters, r->logical)
		{
			fprintf(out, "cluster \"%s\"", m->clusters[i_].name);
		}
		FIND(m->task_defs, m->ntask_defs, r->logical)
		{
			const struct model_task_def *t = &m->task_defs[i_];
			fprintf(out, "%s:1, %zu container%s", t->family, t->ncontainers,
			        t->ncontainers == 1 ? "" : "s");
			for (size_t j = 0; j < t->ncontainers; j++) {
				fprintf(out, " %s [", t->containers[j].name);
				for (size_t v = 0; v < t->containers[j].argc; v++)
					fprintf(out, "%s%s", v ? " " : "",
					        t->containers[j].argv[v]);
				fprintf(out, "]");
			}
		}
		FIND(m->services, m->nservices, r->logical)
		{
			const struct model_service *s = &m->services[i_];
			fprintf(out, "%s: %d desired task%s (min %d%%, max %d%%)", s->name,
			        s->desired, s->desired == 1 ? "" : "s", s->min_healthy_pct,
			        s->max_pct);
		}
		FIND(m->scalable_targets, m->nscalable_targets, r->logical)
		{
			const struct model_scalable_target *t = &m->scalable_targets[i_];
			fprintf(out, "%s DesiredCount %d..%d (%s)", m->services[t->service].name,
			        t->min, t->max, t->resource_id);
		}
		FIND(m->scaling_policies, m->nscaling_policies, r->logical)
		{
			const struct model_scaling_policy *p = &m->scaling_policies[i_];
			fprintf(out, "target tracking %s %g",
			        p->metric == MODEL_METRIC_ECS_CPU ? "ECSServiceAverageCPUUtilization"
			                                          : "ALBRequestCountPerTarget",
			        p->target_value);
			if (p->tg >= 0)
				fprintf(out, " on %s", m->tgs[p->tg].name);
			fprintf(out, " for %s, cooldown out %ds in %ds%s",
			        m->scalable_targets[p->target].resource_id, p->scale_out_cooldown_s,
			        p->scale_in_cooldown_s, p->disable_scale_in ? ", scale-in disabled" : "");
		}
		FIND(m->asgs, m->nasgs, r->logical)
		{
			const struct model_asg *g = &m->asgs[i_];
			fprintf(out, "%d host%s (min %d, max %d) in", g->desired,
			        g->desired == 1 ? "" : "s", g->min, g->max);
			for (size_t j = 0; j < g->nsubnets; j++)
				fprintf(out, " %s", m->subnets[g->subnets[j]].az);
			if (g->instance_type)
				fprintf(out, ", %s (cpu %d, memory %d MiB each)", g->instance_type,
				        g->cpu_units, g->memory_mib);
		}
		FIND(m->zones, m->nzones, r->logical)
		{
			fprintf(out, "%s zone %s (%s)",
			        m->zones[i_].private_zone ? "private" : "public", m->zones[i_].name,
			        m->zones[i_].id);
		}
		/* A RecordSetGroup has several records, one after the other: the
		 * nth run of them, "; " between them. */
		for (size_t i_ = 0, run = 0; i_ < m->nrecords; i_++) {
			const struct model_record *rec = &m->records[i_];
			bool cont = i_ > 0 && strcmp(m->records[i_ - 1].logical, rec->logical) == 0;
			if (strcmp(rec->logical, r->logical) != 0)
				continue;
			if (!cont)
				run++;
			if (run != nth + 1)
				continue;
			if (cont)
				fputs("; ", out);
			fprintf(out, "%s %s", rec->name, rec->type);
			if (rec->set_id && rec->routing == MODEL_ROUTING_WEIGHTED)
				fprintf(out, " [%s weight %d]", rec->set_id, rec->weight);
			else if (rec->set_id)
				fprintf(out, " [%s%s]", rec->set_id,
				        rec->routing == MODEL_ROUTING_FAILOVER
				            ? (rec->primary ? " PRIMARY" : " SECONDARY")
				        : rec->routing == MODEL_ROUTING_MULTIVALUE ? " multivalue"
				                                                   : "");
			if (rec->alias_lb >= 0)
				fprintf(out, " alias %s", m->lbs[rec->alias_lb].dns_name);
			else
				fprintf(out, " %u", rec->ttl);
			for (size_t v = 0; v < rec->nvalues; v++)
				fprintf(out, " %s", rec->values[v]);
		}
		fputc('\n', out);
	}
	for (size_t i = 0; i < m->noutputs; i++)
		fprintf(out, "  output %s = %s%s%s%s\n", m->outputs[i].logical, m->outputs[i].value,
		        m->outputs[i].export_name ? " (export " : "",
		        m->outputs[i].export_name ? m->outputs[i].export_name : "",
		        m->outputs[i].export_name ? ")" : "");
}
