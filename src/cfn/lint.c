/*
 * Checks over the whole built model that cfn-lint does not make (it looks
 * at one resource at a time; these need the links between them):
 * - a target group a service registers into but no listener forwards to
 *   (ECS refuses it: "does not have an associated load balancer");
 * - a listener rule host-header no record of any private zone can match
 *   (a warning: clients here resolve names only through those zones).
 * Two rules of one listener with one priority, and a service naming a
 * container or port its task definition lacks, are checked where those
 * resources are built (build.c).
 */
#include "cfn/cfn_int.h"

#include <ctype.h>
#include <string.h>

/* The evaluated resource behind a model entry, or NULL. */
static struct cfn_res *res_of(struct cfn_ctx *c, const char *type, int model_index)
{
	for (size_t i = 0; i < c->nres; i++)
		if (c->res[i].model_index == model_index && c->res[i].type_name &&
		    strcmp(c->res[i].type_name, type) == 0)
			return &c->res[i];
	return NULL;
}

static bool action_uses(const struct model_action *a, int tg)
{
	if (a->type != MODEL_ACTION_FORWARD)
		return false;
	if (a->target_group == tg)
		return true;
#ifdef MODEL_MAX_FORWARD_TGS /* forward actions with ForwardConfig groups */
	for (size_t i = 0; i < a->nfwd; i++)
		if (a->fwd_tgs[i] == tg)
			return true;
#endif
	return false;
}

static bool tg_attached(const struct model *m, int tg)
{
	for (size_t i = 0; i < m->nlisteners; i++)
		if (action_uses(&m->listeners[i].default_action, tg))
			return true;
	for (size_t i = 0; i < m->nrules; i++)
		if (m->rules[i].listener >= 0 && action_uses(&m->rules[i].action, tg))
			return true;
	return false;
}

static void check_service_tgs(struct cfn_ctx *c)
{
	const struct model *m = c->m;
	for (size_t s = 0; s < m->nservices; s++) {
		const struct model_service *sv = &m->services[s];
		struct cfn_res *r = res_of(c, "AWS::ECS::Service", (int)s);
		for (size_t k = 0; k < sv->nlbs; k++) {
			int tg = sv->lbs[k].target_group;
			if (tg < 0 || (size_t)tg >= m->ntgs || tg_attached(m, tg))
				continue;
			struct cfn_node *lbs = r ? cfn_node_get(r->props, "LoadBalancers") : NULL;
			struct cfn_node *it =
			    lbs && lbs->type == CFN_LIST && k < lbs->n ? lbs->items[k] : NULL;
			struct cfn_node *at = it ? cfn_node_get(it, "TargetGroupArn") : NULL;
			if (r)
				c->file = r->file;
			cfn_error(c, at ? at->line : r ? r->line : 1, at ? at->col : r ? r->col : 1,
			          r ? cfn_arena_printf(&c->a,
			                               "%s.Properties.LoadBalancers[%zu].TargetGroupArn",
			                               r->path, k)
			            : "",
			          "The target group with targetGroupArn %s does not have an "
			          "associated load balancer (%s is the target group of no listener "
			          "or listener rule; add a Listener DefaultActions or a ListenerRule "
			          "that forwards to it)",
			          m->tgs[tg].arn, m->tgs[tg].logical);
		}
	}
}

/* Glob match of a host-header value (* and ?) against a name, ignoring case. */
static bool glob(const char *p, const char *s)
{
	if (!*p)
		return !*s;
	if (*p == '*') {
		for (;; s++) {
			if (glob(p + 1, s))
				return true;
			if (!*s)
				return false;
		}
	}
	if (!*s)
		return false;
	if (*p != '?' && tolower((unsigned char)*p) != tolower((unsigned char)*s))
		return false;
	return glob(p + 1, s + 1);
}

/* Whether the host pattern matches the record name (trailing dot dropped);
 * a wildcard record "*.zone" answers every name under it. */
static bool host_matches(const char *host, const char *rec)
{
	size_t rl = strlen(rec);
	char name[512];
	if (rl >= sizeof(name))
		return false;
	memcpy(name, rec, rl + 1);
	if (rl && name[rl - 1] == '.')
		name[--rl] = 0;
	if (glob(host, name))
		return true;
	const char *wild = strncmp(name, "*.", 2) == 0     ? name + 1
	                   : strncmp(name, "\\052.", 5) == 0 ? name + 4
	                                                      : NULL;
	if (!wild)
		return false;
	size_t hl = strlen(host), wl = strlen(wild);
	return hl > wl && strcasecmp(host + hl - wl, wild) == 0;
}

static void check_host_headers(struct cfn_ctx *c)
{
	const struct model *m = c->m;
	bool any_private = false;
	for (size_t z = 0; z < m->nzones; z++)
		any_private |= m->zones[z].private_zone;
	if (!any_private)
		return; /* names come from elsewhere: nothing to compare with */
	for (size_t i = 0; i < m->nrules; i++) {
		const struct model_rule *ru = &m->rules[i];
		for (size_t k = 0; k < ru->nconds; k++) {
			const struct model_condition *cd = &ru->conds[k];
			if (cd->field != MODEL_COND_HOST_HEADER)
				continue;
			for (size_t v = 0; v < cd->nvalues; v++) {
				bool hit = false;
				for (size_t q = 0; q < m->nrecords && !hit; q++)
					hit = m->records[q].zone >= 0 &&
					      (size_t)m->records[q].zone < m->nzones &&
					      m->zones[m->records[q].zone].private_zone &&
					      host_matches(cd->values[v], m->records[q].name);
				if (hit)
					continue;
				struct cfn_res *r =
				    res_of(c, "AWS::ElasticLoadBalancingV2::ListenerRule", (int)i);
				struct cfn_node *at = r ? cfn_node_get(r->props, "Conditions") : NULL;
				if (r)
					c->file = r->file;
				cfn_warn(c, at ? at->line : r ? r->line : 1,
				         at ? at->col : r ? r->col : 1,
				         r ? cfn_arena_printf(&c->a, "%s.Properties.Conditions", r->path)
				           : "",
				         "host-header %s can never match: no record in any private "
				         "hosted zone has that name, so no client here resolves it to "
				         "the load balancer",
				         cd->values[v]);
			}
		}
	}
}

void cfn_lint_model(struct cfn_ctx *c)
{
	const char *file = c->file;
	check_service_tgs(c);
	check_host_headers(c);
	c->file = file;
}
