/*
 * Counters of a target group for other planes (Application Auto Scaling's
 * ALBRequestCountPerTarget): the same numbers GET /metrics prints.
 */
#include <errno.h>

#include "alb/alb.h"
#include "alb/internal.h"

int alb_tg_requests(const struct alb *a, int tg, uint64_t *requests, size_t *healthy)
{
	struct alb_counters k;
	size_t h = 0;
	int rc;
	if (!a || tg < 0 || (size_t)tg >= a->ntgs)
		return -EINVAL;
	rc = alb__tg_counters(a, tg, &k); /* summed over the workers */
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < a->tgs[tg].n; i++)
		h += a->tgs[tg].states[i] == ALB_TARGET_HEALTHY;
	*requests = k.requests;
	*healthy = h;
	return 0;
}
