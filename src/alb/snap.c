/*
 * Snapshots: what the data plane reads, built by the control thread and
 * handed to the workers by an atomic pointer swap (internal.h has the
 * types).
 *
 * Reclamation is quiescent-state based, not refcounted: a worker uses only
 * the snapshot it holds in w->snap, and changes it only in its wake-up
 * callback (worker_refresh in alb.c), where no request is half-way through
 * a decision; there it stores the new generation in w->seen. A retired
 * snapshot of generation g is freed once every worker's seen is > g. Why
 * not a refcount per request: a request's decision (route, pick) is done
 * within one callback, so the per-request pin would be an atomic
 * increment and decrement on one shared cache line on every request of
 * every worker; QSBR costs the workers one store per swap, and swaps are
 * rare (registrations, health changes, apply).
 *
 * Safety of the order: a worker loads the current pointer first and
 * publishes its generation after; its seen never exceeds the generation it
 * holds, so the control thread never frees a snapshot a worker can reach.
 * Targets are referenced by every snapshot that lists them, so a pointer
 * to a target found in a snapshot stays valid while the snapshot does.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "alb/internal.h"

#define RECLAIM_MS 20u /* while retired snapshots wait for the workers */

static void snap_free(struct alb *a, struct alb_snap *s)
{
	for (size_t i = 0; i < s->ntgs; i++)
		for (size_t k = 0; k < s->tgs[i].n; k++)
			alb__target_unref(s->tgs[i].t[k].t, a->loop);
	free(s);
}

/* One allocation: the header, the groups, then every group's targets and
 * states. */
static struct alb_snap *snap_build(struct alb *a)
{
	size_t total = 0, ntgs = a->ntgs, size;
	struct alb_snap *s;
	struct alb_snap_target *tp;
	enum alb_target_state *sp;

	for (size_t i = 0; i < ntgs; i++)
		total += a->tgs[i].n;
	size = sizeof(*s) + ntgs * sizeof(s->tgs[0]) + total * sizeof(*tp) + total * sizeof(*sp);
	s = calloc(1, size);
	if (!s)
		return NULL;
	s->m = a->m;
	s->ntgs = ntgs;
	s->tgs = (struct alb_snap_tg *)(s + 1);
	tp = (struct alb_snap_target *)(s->tgs + ntgs);
	sp = (enum alb_target_state *)(tp + total);
	for (size_t i = 0; i < ntgs; i++) {
		const struct alb_tg *g = &a->tgs[i];
		s->tgs[i].t = tp;
		s->tgs[i].states = sp;
		s->tgs[i].n = g->n;
		for (size_t k = 0; k < g->n; k++) {
			struct alb_target *t = g->t[k];
			atomic_fetch_add(&t->refs, 1);
			tp[k] = (struct alb_snap_target){.t = t,
			                                 .addr = t->addr,
			                                 .port = t->port,
			                                 .state = t->state,
			                                 .ss = t->ss,
			                                 .ss_t0 = t->ss_t0};
			sp[k] = t->state;
		}
		tp += g->n;
		sp += g->n;
	}
	return s;
}

int alb__publish(struct alb *a)
{
	struct alb_snap *s = snap_build(a), *old;

	if (!s)
		return -ENOMEM;
	s->gen = ++a->gen;
	old = atomic_exchange(&a->snap, s);
	if (old) {
		old->retired_next = a->retired;
		a->retired = old;
	}
	alb__workers_notify(a);
	alb__reclaim(a, false);
	return 0;
}

void alb__reclaim(struct alb *a, bool force)
{
	uint64_t min = UINT64_MAX;
	struct alb_snap **pp = &a->retired;

	for (int i = 0; !force && a->w && i < a->nworkers; i++) {
		uint64_t seen = atomic_load(&a->w[i].seen);
		if (seen < min)
			min = seen;
	}
	/* not started (no workers): nobody holds a retired one */
	while (*pp) {
		struct alb_snap *s = *pp;
		if (force || s->gen < min) {
			*pp = s->retired_next;
			snap_free(a, s);
		} else {
			pp = &s->retired_next;
		}
	}
	if (a->retired && !force)
		loop_timer_start(a->loop, &a->reclaim, RECLAIM_MS);
}
