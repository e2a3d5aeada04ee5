/*
 * ContainerDefinitions[].DependsOn into the model, with the checks ECS makes
 * when a task definition is registered: every ContainerName names a
 * container of the same task definition, Condition is START, COMPLETE,
 * SUCCESS or HEALTHY, a COMPLETE or SUCCESS dependency is a non-essential
 * container ("A dependency container with SUCCESS or COMPLETE condition
 * cannot be an essential container"), a HEALTHY dependency has a
 * HealthCheck, and the dependencies form no cycle (a container waiting on
 * itself, directly or not, would never start).
 */
#include "cfn/cfn_int.h"

#include <stdlib.h>
#include <string.h>

static const char *const conditions[] = {"START", "COMPLETE", "SUCCESS", "HEALTHY", NULL};

/* What one dependency was written as, for errors found after parsing. */
struct dep_src {
	const struct cfn_node *item; /* the DependsOn[i] map */
	const char *path;            /* ...DependsOn[i] */
};

enum { WHITE, GREY, BLACK };

/* Depth-first search from container i; on a back edge, reports the cycle
 * at the dependency that closes it. Returns true when one was found (the
 * search stops there: one error per cycle is enough to fix it). */
static bool find_cycle(struct cfn_ctx *c, const struct model_task_def *t,
                       struct dep_src *const *src, unsigned char *color, size_t *stack,
                       size_t depth, size_t i)
{
	const struct model_container *ct = &t->containers[i];
	color[i] = GREY;
	stack[depth] = i;
	for (size_t k = 0; k < ct->ndeps; k++) {
		size_t j = ct->deps[k].container;
		if (color[j] == GREY) {
			char chain[512];
			size_t o = 0, from = depth;
			while (from > 0 && stack[from] != j)
				from--;
			chain[0] = '\0';
			for (size_t d = from; d <= depth && o < sizeof(chain) - 1; d++)
				o += (size_t)snprintf(chain + o, sizeof(chain) - o, "%s -> ",
				                      t->containers[stack[d]].name);
			if (o < sizeof(chain) - 1)
				snprintf(chain + o, sizeof(chain) - o, "%s", t->containers[j].name);
			cfn_error_at(c, src[i][k].item, src[i][k].path,
			             "container dependencies form a cycle (%s): none of these "
			             "containers could ever start",
			             chain);
			return true;
		}
		if (color[j] == WHITE && find_cycle(c, t, src, color, stack, depth + 1, j))
			return true;
	}
	color[i] = BLACK;
	return false;
}

void cfn__container_deps(struct cfn_ctx *c, const struct cfn_node *cds, const char *pp,
                         struct model_task_def *t)
{
	struct dep_src **src = cfn__calloc(t->ncontainers, sizeof(*src));
	unsigned char *color = cfn__calloc(t->ncontainers, 1);
	size_t *stack = cfn__calloc(t->ncontainers, sizeof(*stack));

	for (size_t i = 0, ci = 0; cds && i < cds->n && ci < t->ncontainers; i++) {
		static const char *const keys[] = {"ContainerName", "Condition", NULL};
		const struct cfn_node *d = cds->items[i];
		const char *cp = cfn__item_path(c, pp, "ContainerDefinitions", i);
		struct model_container *ct;
		struct cfn_node *l;

		if (d->type != CFN_MAP)
			continue; /* reported by the container reader, not counted */
		ct = &t->containers[ci++];
		l = cfn__prop_list(c, d, "DependsOn", cp);
		if (!l)
			continue;
		ct->deps = cfn__calloc(l->n, sizeof(*ct->deps));
		src[ci - 1] = cfn__calloc(l->n, sizeof(**src));
		for (size_t k = 0; k < l->n; k++) {
			const struct cfn_node *it = l->items[k];
			const char *ip = cfn__item_path(c, cp, "DependsOn", k);
			const char *name, *cond;
			size_t j;

			if (it->type != CFN_MAP) {
				cfn_error_at(c, it, ip, "expected an object, found %s",
				             cfn__found(c, it));
				continue;
			}
			cfn__check_keys(c, it, ip, keys, keys, "property");
			name = cfn__prop_str(c, it, "ContainerName", ip);
			cond = cfn__prop_enum(c, it, "Condition", ip, NULL, conditions);
			if (!name || !cond)
				continue;
			for (j = 0; j < t->ncontainers; j++)
				if (t->containers[j].name &&
				    strcmp(t->containers[j].name, name) == 0)
					break;
			if (j == t->ncontainers) {
				cfn_error_at(c, cfn_node_get(it, "ContainerName"),
				             cfn__path_key(c, ip, "ContainerName"),
				             "no container named %s in this task definition", name);
				continue;
			}
			for (size_t x = 0; conditions[x]; x++)
				if (strcmp(conditions[x], cond) == 0)
					ct->deps[ct->ndeps].condition = (enum model_dep_condition)x;
			ct->deps[ct->ndeps].container = j;
			src[ci - 1][ct->ndeps] = (struct dep_src){it, ip};
			ct->ndeps++;
		}
	}

	/* Conditions against what the dependency is; all containers are
	 * known now, whatever their order. */
	for (size_t i = 0; i < t->ncontainers; i++) {
		const struct model_container *ct = &t->containers[i];
		for (size_t k = 0; k < ct->ndeps; k++) {
			const struct model_container *dep = &t->containers[ct->deps[k].container];
			enum model_dep_condition cond = ct->deps[k].condition;
			const struct cfn_node *cn = cfn_node_get(src[i][k].item, "Condition");
			const char *cpath = cfn__path_key(c, src[i][k].path, "Condition");
			if ((cond == MODEL_DEP_COMPLETE || cond == MODEL_DEP_SUCCESS) &&
			    dep->essential)
				cfn_error_at(c, cn, cpath,
				             "A dependency container with SUCCESS or COMPLETE "
				             "condition cannot be an essential container (%s is "
				             "essential)",
				             dep->name);
			if (cond == MODEL_DEP_HEALTHY && !dep->hc_argv)
				cfn_error_at(c, cn, cpath,
				             "the HEALTHY condition needs container %s to have a "
				             "HealthCheck",
				             dep->name);
		}
	}

	for (size_t i = 0; i < t->ncontainers; i++)
		if (color[i] == WHITE && find_cycle(c, t, src, color, stack, 0, i))
			break;

	for (size_t i = 0; i < t->ncontainers; i++)
		free(src[i]);
	free(src);
	free(color);
	free(stack);
}
