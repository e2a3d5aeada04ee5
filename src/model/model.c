/*
 * Model helpers: address mapping and release.
 */
#include "model/model.h"

#include <stdlib.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

uint32_t model_vpc_map(const struct model *m, int v, uint32_t vpc_addr)
{
	return m->vpcs[v].lo_base | (vpc_addr & 0xffffu);
}

static void free_values(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
}

static void free_action(struct model_action *a)
{
	free(a->content_type);
	free(a->body);
	free(a->rd_protocol);
	free(a->rd_port);
	free(a->rd_host);
	free(a->rd_path);
	free(a->rd_query);
}

static void free_rewrite(struct model_rewrite *rw)
{
	free(rw->regex);
	free(rw->replace);
	pcre2_code_free(rw->re);
}

static void free_hc(struct model_health_check *hc)
{
	free(hc->protocol);
	free(hc->path);
	free(hc->matcher);
}

void model_free(struct model *m)
{
	if (!m)
		return;
	free(m->region);
	free(m->account);
	free(m->stack_name);
	for (size_t i = 0; i < m->nresources; i++) {
		free(m->resources[i].logical);
		free(m->resources[i].type);
	}
	free(m->resources);
	for (size_t i = 0; i < m->nvpcs; i++) {
		free(m->vpcs[i].logical);
		free(m->vpcs[i].id);
	}
	free(m->vpcs);
	for (size_t i = 0; i < m->nsubnets; i++) {
		free(m->subnets[i].logical);
		free(m->subnets[i].id);
		free(m->subnets[i].az);
	}
	free(m->subnets);
	for (size_t i = 0; i < m->nsgs; i++) {
		free(m->sgs[i].logical);
		free(m->sgs[i].id);
		free(m->sgs[i].ingress);
		free(m->sgs[i].egress);
	}
	free(m->sgs);
	for (size_t i = 0; i < m->ntgs; i++) {
		struct model_target_group *t = &m->tgs[i];
		free(t->logical);
		free(t->name);
		free(t->arn);
		free(t->full_name);
		free(t->protocol);
		free(t->target_type);
		free(t->app_cookie);
		free(t->targets);
		free_hc(&t->hc);
	}
	free(m->tgs);
	for (size_t i = 0; i < m->nrules; i++) {
		struct model_rule *r = &m->rules[i];
		free(r->logical);
		free(r->arn);
		for (size_t k = 0; k < r->nconds; k++) {
			struct model_condition *mc = &r->conds[k];
			free_values(mc->values, mc->nvalues);
			free_values(mc->qs_keys, mc->nvalues);
			free(mc->header_name);
			for (size_t j = 0; j < mc->nvalues; j++)
				pcre2_code_free(mc->re[j]);
		}
		free(r->conds);
		free_action(&r->action);
		free_rewrite(&r->host_rw);
		free_rewrite(&r->url_rw);
	}
	free(m->rules);
	for (size_t i = 0; i < m->nlisteners; i++) {
		free(m->listeners[i].logical);
		free(m->listeners[i].arn);
		free(m->listeners[i].protocol);
		free(m->listeners[i].rules);
		free(m->listeners[i].rule_index);
		free_action(&m->listeners[i].default_action);
	}
	free(m->listeners);
	for (size_t i = 0; i < m->nlbs; i++) {
		struct model_lb *l = &m->lbs[i];
		free(l->logical);
		free(l->name);
		free(l->arn);
		free(l->full_name);
		free(l->dns_name);
		free(l->scheme);
		free(l->subnets);
		free(l->node_addrs);
		free(l->sgs);
	}
	free(m->lbs);
	for (size_t i = 0; i < m->nzones; i++) {
		free(m->zones[i].logical);
		free(m->zones[i].id);
		free(m->zones[i].name);
		free(m->zones[i].wire_name);
		free(m->zones[i].vpcs);
	}
	free(m->zones);
	for (size_t i = 0; i < m->nrecords; i++) {
		free(m->records[i].logical);
		free(m->records[i].name);
		free(m->records[i].type);
		free(m->records[i].set_id);
		free(m->records[i].wire_name);
		free_values(m->records[i].values, m->records[i].nvalues);
	}
	free(m->records);
	for (size_t i = 0; i < m->nclusters; i++) {
		free(m->clusters[i].logical);
		free(m->clusters[i].name);
		free(m->clusters[i].arn);
	}
	free(m->clusters);
	for (size_t i = 0; i < m->ntask_defs; i++) {
		struct model_task_def *t = &m->task_defs[i];
		free(t->logical);
		free(t->family);
		free(t->arn);
		free(t->network_mode);
		for (size_t k = 0; k < t->ncontainers; k++) {
			struct model_container *ct = &t->containers[k];
			free(ct->name);
			free(ct->image);
			if (ct->argv)
				free_values(ct->argv, ct->argc);
			free(ct->argv);
			for (size_t e = 0; e < ct->nenv; e++) {
				free(ct->env[e].key);
				free(ct->env[e].value);
			}
			free(ct->env);
			free(ct->ports);
			free(ct->working_dir);
			if (ct->hc_argv)
				free_values(ct->hc_argv, ct->hc_argc);
			free(ct->hc_argv);
			free(ct->deps);
		}
		free(t->containers);
	}
	free(m->task_defs);
	for (size_t i = 0; i < m->nasgs; i++) {
		free(m->asgs[i].logical);
		free(m->asgs[i].name);
		free(m->asgs[i].subnets);
		free(m->asgs[i].instance_type);
	}
	free(m->asgs);
	for (size_t i = 0; i < m->nservices; i++) {
		struct model_service *s = &m->services[i];
		free(s->logical);
		free(s->name);
		free(s->arn);
		for (size_t k = 0; k < s->nlbs; k++)
			free(s->lbs[k].container_name);
		free(s->lbs);
		free(s->subnets);
		free(s->sgs);
		for (size_t k = 0; k < s->nmember_of; k++)
			free(s->member_of[k]);
	}
	free(m->services);
	for (size_t i = 0; i < m->noutputs; i++) {
		free(m->outputs[i].logical);
		free(m->outputs[i].value);
		free(m->outputs[i].export_name);
	}
	free(m->outputs);
	for (size_t i = 0; i < m->nscalable_targets; i++) {
		free(m->scalable_targets[i].logical);
		free(m->scalable_targets[i].resource_id);
	}
	free(m->scalable_targets);
	for (size_t i = 0; i < m->nscaling_policies; i++) {
		free(m->scaling_policies[i].logical);
		free(m->scaling_policies[i].name);
		free(m->scaling_policies[i].arn);
	}
	free(m->scaling_policies);
	free(m);
}
