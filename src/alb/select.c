/*
 * Target selection glue: builds the candidates of a target group (state,
 * requests in flight, slow-start share) for alb_select (route.c, pure), and
 * keeps the slow-start windows of targets.
 *
 * Requests in flight on a target are its upstream connections that carry a
 * request, over all workers: an atomic counter on the target (inflight),
 * added to when a connection is given a request and taken from when it
 * goes back to a pool or closes. Shared, not per worker, because least
 * outstanding requests is about the target's load, and each worker only
 * sees its own part of it; the cost is one relaxed atomic add per request.
 * Round-robin cursors and the random draws are per worker (w->rr, w->rnd):
 * N workers cycling independently still give each target 1/n of the
 * requests, as AWS's independent LB nodes do. Slow start windows and target
 * states come from the snapshot (the control thread owns them).
 */
#include "alb/internal.h"
#include "alb/route.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#define SELECT_STACK 64

static double since(const struct timespec *t0, const struct timespec *now)
{
	return (double)(now->tv_sec - t0->tv_sec) + (double)(now->tv_nsec - t0->tv_nsec) / 1e9;
}

int alb__select(struct alb_worker *w, int tgi)
{
	const struct alb_snap_tg *g = &w->snap->tgs[tgi];
	const struct model_target_group *mtg = &w->snap->m->tgs[tgi];
	size_t *rr = &w->rr[tgi];
	struct alb_cand stack[SELECT_STACK], *c = stack;
	struct timespec now = {0};
	int r;

	if (mtg->lb_algo == MODEL_ALGO_ROUND_ROBIN && mtg->slow_start_s <= 0)
		return alb_select_rr(g->states, g->n, rr);
	if (g->n > SELECT_STACK) {
		c = malloc(g->n * sizeof(*c));
		if (!c)
			return alb_select_rr(g->states, g->n, rr);
	}
	if (mtg->slow_start_s > 0)
		clock_gettime(CLOCK_MONOTONIC, &now);
	for (size_t i = 0; i < g->n; i++) {
		const struct alb_snap_target *t = &g->t[i];
		c[i].state = g->states[i];
		c[i].outstanding = atomic_load_explicit(&t->t->inflight, memory_order_relaxed);
		c[i].share = 1;
		if (t->ss && mtg->slow_start_s > 0)
			c[i].share = alb_slow_start_share(since(&t->ss_t0, &now), mtg->slow_start_s);
	}
	w->rnd = w->rnd * 6364136223846793005ull + 1442695040888963407ull;
	r = alb_select(mtg->lb_algo, c, g->n, rr, (uint32_t)(w->rnd >> 32));
	if (c != stack)
		free(c);
	return r;
}

void alb__ss_note(struct alb_target *t, enum alb_target_state prev)
{
	const struct model_target_group *mtg = &t->a->m->tgs[t->tg];
	struct alb_tg *g = &t->a->tgs[t->tg];
	struct timespec now;

	if (t->state != ALB_TARGET_HEALTHY) {
		t->ss = false; /* AWS: an unhealthy target leaves slow start */
		return;
	}
	if (prev == ALB_TARGET_HEALTHY || mtg->slow_start_s <= 0 || t->removed)
		return;
	/* AWS: only when some healthy target is not in slow start */
	clock_gettime(CLOCK_MONOTONIC, &now);
	for (size_t i = 0; i < g->n; i++) {
		const struct alb_target *o = g->t[i];
		if (o == t || o->state != ALB_TARGET_HEALTHY)
			continue;
		if (!o->ss || since(&o->ss_t0, &now) >= mtg->slow_start_s) {
			t->ss = true;
			t->ss_t0 = now;
			return;
		}
	}
}

static uint64_t cookie_keyv[2];

static void cookie_key_draw(void)
{
	uint64_t *key = cookie_keyv;
	{
		if (getrandom(key, sizeof(key), 0) != (ssize_t)sizeof(key)) {
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			key[0] = (uint64_t)ts.tv_nsec * 0x9E3779B97F4A7C15ull ^ (uint64_t)getpid();
			key[1] = (uint64_t)ts.tv_sec * 0xC2B2AE3D27D4EB4Full ^ (uint64_t)(uintptr_t)key;
		}
	}
}

const uint64_t *alb__cookie_key(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, cookie_key_draw);
	return cookie_keyv;
}

#define APP_COOKIE_EXPIRY_S (7 * 86400) /* AWS: the AWSALBAPP cookies' own expiry, fixed */

void alb__app_cookie_set(struct alb_worker *w, int tgi, uint32_t addr, uint16_t port,
			 char *cookie, size_t cap)
{
	char v[49], exp[64], lines[400];
	time_t now = time(NULL), t = now + APP_COOKIE_EXPIRY_S;
	struct tm tm;
	size_t len = strlen(cookie);
	int k;

	alb_app_cookie_value(alb__cookie_key(), tgi, addr, port,
	                     (uint32_t)now + (uint32_t)w->snap->m->tgs[tgi].app_sticky_s, v);
	gmtime_r(&t, &tm);
	strftime(exp, sizeof(exp), "%a, %d %b %Y %H:%M:%S GMT", &tm);
	/* one shard holds the value; the other three are cleared as AWS does */
	k = snprintf(lines, sizeof(lines),
	             "Set-Cookie: AWSALBAPP-0=%s; Expires=%s; Path=/\r\n"
	             "Set-Cookie: AWSALBAPP-1=_remove_; Expires=%s; Path=/\r\n"
	             "Set-Cookie: AWSALBAPP-2=_remove_; Expires=%s; Path=/\r\n"
	             "Set-Cookie: AWSALBAPP-3=_remove_; Expires=%s; Path=/\r\n",
	             v, exp, exp, exp, exp);
	/* whole lines or nothing: a cut one would break the response head */
	if (k > 0 && (size_t)k < sizeof(lines) && len + (size_t)k < cap)
		memcpy(cookie + len, lines, (size_t)k + 1);
}

/* alb__pick for an app_cookie group: the target of a live session (the
 * request's AWSALBAPP-0 with the application's cookie) while it is
 * routable; a session whose target is not moves to a new pick and stays
 * there (AWS). A request with a session gets the cookies re-set (expiry and
 * stickiness reset); without one, *app_pending says the response decides
 * (it sets the application's cookie: a new session). */
static int pick_app(struct alb_worker *w, int tgi, const struct http_header *h, size_t n,
		    char *cookie, size_t cap, bool *app_pending)
{
	const struct model_target_group *mtg = &w->snap->m->tgs[tgi];
	const struct alb_snap_tg *g = &w->snap->tgs[tgi];
	uint32_t addr;
	uint16_t port;
	int ti = -1, rc;

	rc = alb_app_cookie_find(alb__cookie_key(), tgi, mtg->app_cookie, h, n, (uint32_t)time(NULL),
	                         &addr, &port);
	for (size_t i = 0; rc == 1 && i < g->n; i++) {
		if (g->t[i].addr == addr && g->t[i].port == port &&
		    (g->states[i] == ALB_TARGET_HEALTHY ||
		     g->states[i] == ALB_TARGET_UNAVAILABLE)) {
			ti = (int)i;
			break;
		}
	}
	if (ti < 0)
		ti = alb__select(w, tgi);
	if (ti < 0)
		return ti;
	if (rc == 1)
		alb__app_cookie_set(w, tgi, g->t[ti].addr, g->t[ti].port, cookie, cap);
	else
		*app_pending = true;
	return ti;
}

int alb__pick(struct alb_worker *w, int tgi, const struct http_header *h, size_t n, char *cookie,
	      size_t cap, bool *app_pending)
{
	const struct model_target_group *mtg = &w->snap->m->tgs[tgi];
	const struct alb_snap_tg *g = &w->snap->tgs[tgi];
	const uint64_t *key;
	uint32_t addr;
	uint16_t port;
	int ti = -1;
	char v[33], exp[64];
	size_t len;
	time_t t;
	struct tm tm;

	*app_pending = false;
	if (mtg->app_sticky)
		return pick_app(w, tgi, h, n, cookie, cap, app_pending);
	if (!mtg->sticky)
		return alb__select(w, tgi);
	key = alb__cookie_key();
	if (alb_lb_cookie_find(key, tgi, h, n, &addr, &port) == 1) {
		for (size_t i = 0; i < g->n; i++) {
			if (g->t[i].addr == addr && g->t[i].port == port &&
			    (g->states[i] == ALB_TARGET_HEALTHY ||
			     g->states[i] == ALB_TARGET_UNAVAILABLE)) {
				ti = (int)i;
				break;
			}
		}
	}
	if (ti < 0)
		ti = alb__select(w, tgi);
	if (ti < 0)
		return ti;
	alb_lb_cookie_value(key, tgi, g->t[ti].addr, g->t[ti].port, v);
	t = time(NULL) + mtg->sticky_s;
	gmtime_r(&t, &tm);
	strftime(exp, sizeof(exp), "%a, %d %b %Y %H:%M:%S GMT", &tm);
	len = strlen(cookie);
	if (len < cap)
		snprintf(cookie + len, cap - len,
			 "Set-Cookie: AWSALB=%s; Expires=%s; Path=/\r\n"
			 "Set-Cookie: AWSALBCORS=%s; Expires=%s; Path=/; SameSite=None; Secure\r\n",
			 v, exp, v, exp);
	return ti;
}
