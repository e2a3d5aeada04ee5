/*
 * Host matching, rule evaluation and target selection (see route.h). Pure
 * functions over the model and small arrays; the proxy calls them per
 * request, so nothing here allocates.
 */
#include "alb/route.h"

#include <string.h>

static int lower(int c)
{
	return (c >= 'A' && c <= 'Z') ? c + 32 : c;
}

bool alb_host_match(const char *pat, const char *s, size_t len)
{
	/* greedy match with one backtrack point: enough for '*' and '?' */
	size_t pi = 0, si = 0, star_p = (size_t)-1, star_s = 0;
	size_t plen = strlen(pat);

	while (si < len) {
		if (pi < plen && pat[pi] == '*') {
			star_p = pi++;
			star_s = si;
		} else if (pi < plen &&
			   (pat[pi] == '?' || lower((unsigned char)pat[pi]) ==
						  lower((unsigned char)s[si]))) {
			pi++;
			si++;
		} else if (star_p != (size_t)-1) {
			pi = star_p + 1;
			si = ++star_s;
		} else {
			return false;
		}
	}
	while (pi < plen && pat[pi] == '*')
		pi++;
	return pi == plen;
}

size_t alb_host_strip_port(const char *host, size_t len, int default_port)
{
	char suf[8];
	size_t n;
	int w = 0;
	int p = default_port;
	char tmp[8];
	/* ":" + decimal port, built without snprintf on the hot path */
	do {
		tmp[w++] = (char)('0' + p % 10);
		p /= 10;
	} while (p && w < 6);
	suf[0] = ':';
	for (int i = 0; i < w; i++)
		suf[1 + i] = tmp[w - 1 - i];
	n = (size_t)w + 1;
	if (len > n && memcmp(host + len - n, suf, n) == 0)
		return len - n;
	return len;
}

static bool cond_match(const struct model_condition *c, const char *host, size_t len)
{
	switch (c->field) {
	case MODEL_COND_HOST_HEADER:
		if (!host)
			return false;
		for (size_t i = 0; i < c->nvalues; i++)
			if (alb_host_match(c->values[i], host, len))
				return true;
		return false;
	}
	return false;
}

int alb_route(const struct model *m, int li, const char *host, size_t len, int *priority)
{
	const struct model_listener *l = &m->listeners[li];

	for (size_t i = 0; i < l->nrules; i++) {
		const struct model_rule *r = &m->rules[l->rules[i]];
		bool all = true;
		for (size_t k = 0; k < r->nconds && all; k++)
			all = cond_match(&r->conds[k], host, len);
		if (all) {
			*priority = r->priority;
			return r->action.target_group;
		}
	}
	*priority = 0;
	return l->default_action.target_group;
}

static bool routable(enum alb_target_state s)
{
	return s == ALB_TARGET_HEALTHY || s == ALB_TARGET_UNAVAILABLE;
}

static bool fail_open_ok(enum alb_target_state s)
{
	return s == ALB_TARGET_INITIAL || s == ALB_TARGET_UNHEALTHY;
}

int alb_select_rr(const enum alb_target_state *st, size_t n, size_t *rr)
{
	size_t start;

	if (n == 0)
		return -1;
	start = *rr % n;
	for (int pass = 0; pass < 2; pass++) {
		for (size_t k = 0; k < n; k++) {
			size_t i = (start + k) % n;
			if (pass == 0 ? routable(st[i]) : fail_open_ok(st[i])) {
				*rr = i + 1;
				return (int)i;
			}
		}
	}
	return -1;
}
