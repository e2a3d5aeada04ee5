/*
 * Counters of a target group for other planes (Application Auto Scaling's
 * ALBRequestCountPerTarget): the same numbers GET /metrics prints.
 */
#include <errno.h>

#include "alb/alb.h"
#include "alb/internal.h"

int alb_tg_requests(const struct alb *a, int tg, uint64_t *requests, size_t *healthy)
{
	size_t h = 0;
	if (!a || tg < 0 || (size_t)tg >= a->ntgs)
		return -EINVAL;
	for (size_t k = 0; k < a->tgs[tg].n; k++)
		h += a->tgs[tg].states[k] == ALB_TARGET_HEALTHY;
	*requests = a->tgs[tg].cnt.requests;
	*healthy = h;
	return 0;
}
