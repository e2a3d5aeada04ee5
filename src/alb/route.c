/*
 * Condition matching, rule evaluation, forward/redirect decisions, security
 * group checks and target selection (see route.h). Pure functions over the
 * model and small arrays; the proxy calls them per request, so nothing here
 * allocates (but one pcre2 match block, made once).
 */
#include "alb/route.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

static int lower(int c)
{
	return (c >= 'A' && c <= 'Z') ? c + 32 : c;
}

void alb_split_target(struct http_slice t, struct http_slice *path, struct http_slice *query)
{
	size_t i = 0, end = t.n;
	/* absolute form: skip "scheme://authority" */
	if (t.n && t.p[0] != '/') {
		const char *ss = memchr(t.p, ':', t.n);
		if (ss && (size_t)(ss - t.p) + 3 <= t.n && ss[1] == '/' && ss[2] == '/') {
			i = (size_t)(ss - t.p) + 3;
			while (i < t.n && t.p[i] != '/' && t.p[i] != '?' && t.p[i] != '#')
				i++;
		}
	}
	for (size_t k = i; k < t.n; k++)
		if (t.p[k] == '#') {
			end = k;
			break;
		}
	const char *q = memchr(t.p + i, '?', end - i);
	path->p = t.p + i;
	path->n = (q ? (size_t)(q - t.p) : end) - i;
	if (q) {
		query->p = q + 1;
		query->n = end - (size_t)(q + 1 - t.p);
	} else {
		query->p = NULL;
		query->n = 0;
	}
}

bool alb_wild_match(const char *pat, const char *s, size_t len, bool icase, bool escapes)
{
	/* greedy match with one backtrack point: enough for '*' and '?' */
	size_t pi = 0, si = 0, star_p = (size_t)-1, star_s = 0;
	size_t plen = strlen(pat);

	while (si < len) {
		bool lit = escapes && pi + 1 < plen && pat[pi] == '\\';
		char pc = pi < plen ? pat[pi + (lit ? 1 : 0)] : 0;
		if (pi < plen && !lit && pc == '*') {
			star_p = pi++;
			star_s = si;
		} else if (pi < plen &&
		           ((!lit && pc == '?') ||
		            (icase ? lower((unsigned char)pc) == lower((unsigned char)s[si])
		                   : pc == s[si]))) {
			pi += lit ? 2 : 1;
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

bool alb_host_match(const char *pat, const char *s, size_t len)
{
	return alb_wild_match(pat, s, len, true, false);
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

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = lower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Percent-decodes s[0..n) into out (cap bytes); a malformed escape stays as
 * it is. Returns the decoded length, or (size_t)-1 when it does not fit. */
static size_t pct_decode(const char *s, size_t n, char *out, size_t cap)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		int c = (unsigned char)s[i];
		if (c == '%' && i + 2 < n + 0 && hexval((unsigned char)s[i + 1]) >= 0 &&
		    hexval((unsigned char)s[i + 2]) >= 0) {
			c = hexval((unsigned char)s[i + 1]) * 16 + hexval((unsigned char)s[i + 2]);
			i += 2;
		}
		if (o == cap)
			return (size_t)-1;
		out[o++] = (char)c;
	}
	return o;
}

bool alb_query_match(const char *key, const char *value, struct http_slice q)
{
	char kb[512], vb[1024];
	size_t i = 0;

	if (!q.p)
		return false;
	while (i <= q.n) {
		size_t e = i;
		while (e < q.n && q.p[e] != '&')
			e++;
		const char *pair = q.p + i;
		size_t plen = e - i;
		const char *eq = memchr(pair, '=', plen);
		size_t klen = eq ? (size_t)(eq - pair) : plen;
		const char *v = eq ? eq + 1 : pair + plen;
		size_t vlen = eq ? plen - klen - 1 : 0;
		if (plen) {
			size_t kd = pct_decode(pair, klen, kb, sizeof(kb));
			size_t vd = pct_decode(v, vlen, vb, sizeof(vb));
			if (kd != (size_t)-1 && vd != (size_t)-1 &&
			    (!key || alb_wild_match(key, kb, kd, true, true)) &&
			    alb_wild_match(value, vb, vd, true, true))
				return true;
		}
		i = e + 1;
	}
	return false;
}

static bool regex_match(void *re, const char *s, size_t len)
{
	/* scratch for pcre2_match, one per thread (ALB workers); freed by
	 * alb_route_thread_end */
	static _Thread_local pcre2_match_data *md;
	if (!re) {
		pcre2_match_data_free(md);
		md = NULL;
		return false;
	}
	if (!md)
		md = pcre2_match_data_create(1, NULL);
	if (!md || !s)
		return false;
	return pcre2_match(re, (PCRE2_SPTR)s, len, 0, 0, md, NULL) >= 0;
}

static bool values_match(const struct model_condition *c, const char *s, size_t len, bool icase)
{
	for (size_t i = 0; i < c->nvalues; i++) {
		if (c->regex ? regex_match(c->re[i], s, len)
		             : alb_wild_match(c->values[i], s, len, icase, false))
			return true;
	}
	return false;
}

bool alb_cond_match(const struct model_condition *c, const struct alb_req_view *rq)
{
	switch (c->field) {
	case MODEL_COND_HOST_HEADER:
		return rq->host && values_match(c, rq->host, rq->hostlen, true);
	case MODEL_COND_PATH_PATTERN:
		return values_match(c, rq->path.p ? rq->path.p : "", rq->path.n, false);
	case MODEL_COND_HTTP_HEADER:
		/* several headers of that name: searched in order */
		for (size_t i = 0; i < rq->nheaders; i++)
			if (c->header_name && http_slice_ieq(rq->headers[i].name, c->header_name) &&
			    values_match(c, rq->headers[i].value.p ? rq->headers[i].value.p : "",
			                 rq->headers[i].value.n, true))
				return true;
		return false;
	case MODEL_COND_HTTP_REQUEST_METHOD:
		for (size_t i = 0; i < c->nvalues; i++)
			if (strlen(c->values[i]) == rq->method.n &&
			    memcmp(c->values[i], rq->method.p, rq->method.n) == 0)
				return true;
		return false;
	case MODEL_COND_QUERY_STRING:
		for (size_t i = 0; i < c->nvalues; i++)
			if (alb_query_match(c->qs_keys[i], c->values[i], rq->query))
				return true;
		return false;
	case MODEL_COND_SOURCE_IP:
		for (size_t i = 0; i < c->ncidrs; i++)
			if (cidr4_contains(c->cidrs[i], rq->src))
				return true;
		return false;
	}
	return false;
}

/*
 * The rule index of a listener. A rule with a host-header condition whose
 * values are all exact (no '*', '?', no regex) can only match a request
 * whose Host is one of those values, ignoring case: such rules sit in a
 * hash keyed by the lower-cased value, every other rule in one list. Both
 * hold ranks (positions in listener.rules, which is sorted by priority) in
 * ascending order, so a request's candidates are its host's bucket merged
 * with the list, tried by rank: the same rules in the same order as a scan
 * of listener.rules, minus rules whose host condition cannot match.
 *
 * A rule found through the hash skips its indexed host condition: the
 * probe has compared it already.
 *
 * One block: the header, the slots (open addressing, linear probing, at
 * most half full), the bucket ranks, the list ranks, the indexed condition
 * per rank, the keys.
 */
struct ix_slot {
	const char *key; /* lower-cased, in the block; NULL: empty slot */
	uint32_t keylen;
	uint32_t hash;
	uint32_t off, n; /* ranks[off..off+n) */
	uint32_t last;   /* while building: the last rank added + 1 */
};

struct alb_rule_index {
	uint32_t mask; /* slots - 1 */
	struct ix_slot *slots;
	uint32_t *ranks;
	uint32_t *rest; /* ranks of the rules not in the hash */
	size_t nrest;
	uint32_t *host_cond; /* per rank: the condition the hash stands for */
};

/* FNV-1a over the lower-cased bytes: keys come from the template. */
static uint32_t host_hash(const char *s, size_t n)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (uint32_t)lower((unsigned char)s[i])) * 16777619u;
	return h;
}

/* The host-header condition of r that puts it in the hash: the first whose
 * values are all exact; NULL when none is. *k is its index. */
static const struct model_condition *exact_host_cond(const struct model_rule *r, uint32_t *k)
{
	for (*k = 0; *k < r->nconds; (*k)++) {
		const struct model_condition *c = &r->conds[*k];
		bool exact = c->field == MODEL_COND_HOST_HEADER && !c->regex && c->nvalues > 0;
		for (size_t i = 0; exact && i < c->nvalues; i++)
			exact = c->values[i] && !strpbrk(c->values[i], "*?");
		if (exact)
			return c;
	}
	return NULL;
}

/* The slot of host[0..n) (hash h): its key's, or the empty one ending
 * its probe sequence. */
static struct ix_slot *ix_probe(const struct alb_rule_index *ix, uint32_t h, const char *host,
                                size_t n)
{
	for (uint32_t i = h & ix->mask;; i = (i + 1) & ix->mask) {
		struct ix_slot *s = &ix->slots[i];
		bool eq = s->key && s->hash == h && s->keylen == n;
		for (size_t k = 0; eq && k < n; k++)
			eq = s->key[k] == lower((unsigned char)host[k]);
		if (!s->key || eq)
			return s;
	}
}

static struct alb_rule_index *index_build(const struct model *m, const struct model_listener *l)
{
	size_t nvals = 0, keybytes = 0, nslots = 2, size;
	struct alb_rule_index *ix;
	char *kp;

	if (l->nrules > UINT32_MAX / 2)
		return NULL;
	for (size_t r = 0; r < l->nrules; r++) {
		uint32_t k;
		const struct model_condition *c = exact_host_cond(&m->rules[l->rules[r]], &k);
		for (size_t i = 0; c && i < c->nvalues; i++) {
			nvals++;
			keybytes += strlen(c->values[i]);
		}
	}
	while (nslots < 2 * nvals)
		nslots *= 2;
	size = sizeof(*ix) + nslots * sizeof(ix->slots[0]) +
	       (nvals + 2 * l->nrules) * sizeof(uint32_t) + keybytes;
	ix = calloc(1, size);
	if (!ix)
		return NULL;
	ix->mask = (uint32_t)nslots - 1;
	ix->slots = (struct ix_slot *)(ix + 1);
	ix->ranks = (uint32_t *)(ix->slots + nslots);
	ix->rest = ix->ranks + nvals;
	ix->host_cond = ix->rest + l->nrules;
	kp = (char *)(ix->host_cond + l->nrules);
	/* pass 1: the keys and how many rules each holds (a rule once per key
	 * even when it names the host twice); pass 2: the ranks */
	for (int pass = 1; pass <= 2; pass++) {
		for (size_t r = 0; r < l->nrules; r++) {
			uint32_t hk;
			const struct model_condition *c =
			    exact_host_cond(&m->rules[l->rules[r]], &hk);
			if (!c && pass == 2)
				ix->rest[ix->nrest++] = (uint32_t)r;
			ix->host_cond[r] = hk;
			for (size_t i = 0; c && i < c->nvalues; i++) {
				const char *v = c->values[i];
				size_t n = strlen(v);
				uint32_t h = host_hash(v, n);
				struct ix_slot *s = ix_probe(ix, h, v, n);
				if (!s->key) {
					for (size_t k = 0; k < n; k++)
						kp[k] = (char)lower((unsigned char)v[k]);
					*s = (struct ix_slot){
					    .key = kp, .keylen = (uint32_t)n, .hash = h};
					kp += n;
				}
				if (s->last == r + 1)
					continue;
				s->last = (uint32_t)r + 1;
				if (pass == 1)
					s->n++;
				else
					ix->ranks[s->off + s->n++] = (uint32_t)r;
			}
		}
		if (pass == 1) {
			uint32_t off = 0;
			for (size_t i = 0; i < nslots; i++) {
				ix->slots[i].off = off;
				off += ix->slots[i].n;
				ix->slots[i].n = 0;
				ix->slots[i].last = 0;
			}
		}
	}
	return ix;
}

int alb_route_index_build(struct model *m)
{
	for (size_t i = 0; i < m->nlisteners; i++) {
		struct model_listener *l = &m->listeners[i];
		free(l->rule_index);
		l->rule_index = index_build(m, l);
		if (!l->rule_index)
			return -ENOMEM;
	}
	return 0;
}

/* Whether every condition of r but the skip-th matches. */
static bool rule_matches(const struct model_rule *r, const struct alb_req_view *rq, size_t skip)
{
	for (size_t k = 0; k < r->nconds; k++)
		if (k != skip && !alb_cond_match(&r->conds[k], rq))
			return false;
	return true;
}

const struct model_action *alb_route_req(const struct model *m, int li,
                                         const struct alb_req_view *rq, int *priority)
{
	const struct model_listener *l = &m->listeners[li];
	const struct alb_rule_index *ix = l->rule_index;
	const uint32_t *bucket = NULL, *rest = ix ? ix->rest : NULL;
	size_t nb = 0, nrest = ix ? ix->nrest : l->nrules, b = 0, k = 0;

	if (ix && rq->host) {
		const struct ix_slot *s =
		    ix_probe(ix, host_hash(rq->host, rq->hostlen), rq->host, rq->hostlen);
		if (s->key) {
			bucket = ix->ranks + s->off;
			nb = s->n;
		}
	}
	/* without an index (a model put together by hand) every rule is in
	 * the list */
	while (b < nb || k < nrest) {
		size_t rk = rest ? rest[k] : k;
		size_t r, skip = SIZE_MAX;
		if (b < nb && (k == nrest || bucket[b] < rk)) {
			r = bucket[b++];
			skip = ix->host_cond[r]; /* the probe matched it */
		} else {
			r = rk;
			k++;
		}
		const struct model_rule *ru = &m->rules[l->rules[r]];
		if (rule_matches(ru, rq, skip)) {
			*priority = ru->priority;
			return &ru->action;
		}
	}
	*priority = 0;
	return &l->default_action;
}

int alb_route(const struct model *m, int li, const char *host, size_t len, int *priority)
{
	struct alb_req_view rq = {.host = host, .hostlen = len};
	const struct model_action *a = alb_route_req(m, li, &rq, priority);
	return a->type == MODEL_ACTION_FORWARD ? a->target_group : -1;
}

const struct model_rule *alb_action_rule(const struct model *m, int li,
                                         const struct model_action *act)
{
	if (act == &m->listeners[li].default_action)
		return NULL;
	/* every other action alb_route_req returns is a rule's */
	return (const struct model_rule *)((const char *)act - offsetof(struct model_rule, action));
}

static bool is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* host[:port], or [IPv6][:port]: what a Host header may carry. */
static bool rewritten_host_ok(const char *s, size_t n)
{
	size_t i = 0;
	if (n && s[0] == '[') {
		for (i = 1; i < n && s[i] != ']'; i++)
			if (!is_hex(s[i]) && s[i] != ':' && s[i] != '.')
				return false;
		if (i == n || i == 1)
			return false;
		i++;
	} else {
		for (; i < n && s[i] != ':'; i++)
			if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
			      (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '.' ||
			      s[i] == '_'))
				return false;
		if (i == 0)
			return false;
	}
	if (i == n)
		return true;
	if (s[i] != ':' || n - i < 2 || n - i > 6)
		return false;
	for (i++; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

/* An origin-form request target: "/", then visible ASCII (what the HTTP
 * parser takes) without "#", and every "%" starting a %XX escape. */
static bool rewritten_url_ok(const char *s, size_t n)
{
	if (n == 0 || s[0] != '/')
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch <= 0x20 || ch >= 0x7f || ch == '#')
			return false;
		if (ch == '%' && (i + 2 >= n || !is_hex(s[i + 1]) || !is_hex(s[i + 2])))
			return false;
	}
	return true;
}

#define RW_MAX_GROUPS 32 /* groups a Replace can name; more fail the rewrite */

/* Appends p[0..k) to out[0..*o) within cap; false when it does not fit. */
static bool rw_put(char *out, size_t cap, size_t *o, const char *p, size_t k)
{
	if (k > cap - *o)
		return false;
	memcpy(out + *o, p, k);
	*o += k;
	return true;
}

/* alb_rewrite's scratch per thread, made once: no allocation per request;
 * freed by alb_route_thread_end */
static _Thread_local pcre2_match_data *rw_md;

int alb_rewrite(const struct model_rewrite *rw, bool host, const char *in, size_t len, char *out,
                size_t cap, size_t *outlen)
{
	pcre2_match_data *md;
	const char *rp = rw->replace;
	size_t o = 0;
	PCRE2_SIZE *ov;
	int rc;

	if (!rw_md)
		rw_md = pcre2_match_data_create(RW_MAX_GROUPS + 1, NULL);
	md = rw_md;
	if (!md)
		return -1;
	rc = pcre2_match(rw->re, (PCRE2_SPTR)in, len, 0, 0, md, NULL);
	if (rc == PCRE2_ERROR_NOMATCH)
		return 0;
	if (rc < 0)
		return -1; /* match limits and the like: the rewrite failed */
	if (rc == 0)
		rc = RW_MAX_GROUPS + 1; /* more groups than the scratch holds */
	ov = pcre2_get_ovector_pointer(md);
	if (ov[1] < ov[0])
		return -1; /* \K in a lookaround: no sane replacement */
	if (!rw_put(out, cap, &o, in, ov[0]))
		return -1;
	while (*rp) {
		bool brace = rp[0] == '$' && rp[1] == '{';
		const char *d = rp + 1 + brace;
		long g = 0;
		if (rp[0] == '$' && rp[1] == '$') {
			if (!rw_put(out, cap, &o, "$", 1))
				return -1;
			rp += 2;
			continue;
		}
		if (rp[0] != '$' || *d < '0' || *d > '9') {
			if (!rw_put(out, cap, &o, rp, 1))
				return -1;
			rp++;
			continue;
		}
		while (*d >= '0' && *d <= '9' && g <= RW_MAX_GROUPS)
			g = g * 10 + (*d++ - '0');
		if (brace && *d != '}') {
			if (!rw_put(out, cap, &o, rp, 1)) /* "${" not closed: literal */
				return -1;
			rp++;
			continue;
		}
		d += brace;
		if (g > rw->ngroups || g > RW_MAX_GROUPS)
			return -1; /* a group the regex does not have */
		/* a group that did not take part is empty */
		if (g < rc && ov[2 * g] != PCRE2_UNSET &&
		    !rw_put(out, cap, &o, in + ov[2 * g], ov[2 * g + 1] - ov[2 * g]))
			return -1;
		rp = d;
	}
	if (!rw_put(out, cap, &o, in + ov[1], len - ov[1]))
		return -1;
	*outlen = o;
	if (host ? !rewritten_host_ok(out, o) : !rewritten_url_ok(out, o))
		return -1;
	return 1;
}

int alb_transform(const struct model_rule *ru, const char *host, size_t hostlen,
                  struct http_slice target, struct alb_rewritten *out)
{
	out->host_set = out->url_set = false;
	if (ru->host_rw.re && host) {
		int rc = alb_rewrite(&ru->host_rw, true, host, hostlen, out->host,
		                     sizeof(out->host), &out->hostlen);
		if (rc < 0)
			return -1;
		out->host_set = rc > 0;
	}
	if (ru->url_rw.re) {
		struct http_slice path, query;
		alb_split_target(target, &path, &query);
		/* path and query, without a fragment or an absolute form's
		 * scheme and authority */
		const char *end = query.p ? query.p + query.n : path.p + path.n;
		int rc = alb_rewrite(&ru->url_rw, false, path.p, (size_t)(end - path.p), out->url,
		                     sizeof(out->url), &out->urllen);
		if (rc < 0)
			return -1;
		out->url_set = rc > 0;
	}
	return 0;
}

int alb_forward_pick(const struct model_action *a, int sticky_tg, uint32_t rnd)
{
	uint32_t sum = 0;

	if (a->nfwd == 0)
		return a->target_group;
	for (size_t i = 0; i < a->nfwd; i++) {
		if (a->tg_sticky && sticky_tg >= 0 && a->fwd_tgs[i] == sticky_tg &&
		    a->fwd_weights[i] > 0)
			return sticky_tg;
		sum += (uint32_t)a->fwd_weights[i];
	}
	if (sum == 0)
		return -1;
	rnd %= sum;
	for (size_t i = 0; i < a->nfwd; i++) {
		if (rnd < (uint32_t)a->fwd_weights[i])
			return a->fwd_tgs[i];
		rnd -= (uint32_t)a->fwd_weights[i];
	}
	return -1;
}

void alb_tg_cookie_value(const struct model *m, int tg, char out[17])
{
	/* AWS's value is encrypted; an opaque hash of the group's ARN serves */
	uint64_t h = 0xcbf29ce484222325ull;
	for (const char *p = m->tgs[tg].arn; p && *p; p++)
		h = (h ^ (unsigned char)*p) * 0x100000001b3ull;
	for (int i = 15; i >= 0; i--) {
		out[i] = "0123456789ABCDEF"[h & 15];
		h >>= 4;
	}
	out[16] = 0;
}

int alb_tg_cookie_find(const struct model *m, const struct model_action *a,
                       const struct http_header *h, size_t n)
{
	bool invalid = false;
	for (size_t i = 0; i < n; i++) {
		if (!http_slice_ieq(h[i].name, "cookie"))
			continue;
		const char *p = h[i].value.p, *end = p + h[i].value.n;
		while (p < end) {
			while (p < end && (*p == ' ' || *p == ';'))
				p++;
			const char *e = p;
			while (e < end && *e != ';')
				e++;
			if ((size_t)(e - p) >= 9 && memcmp(p, "AWSALBTG=", 9) == 0) {
				for (size_t k = 0; (size_t)(e - p) == 9 + 16 && k < a->nfwd; k++) {
					char v[17];
					alb_tg_cookie_value(m, a->fwd_tgs[k], v);
					if (memcmp(p + 9, v, 16) == 0)
						return a->fwd_tgs[k];
				}
				invalid = true;
			}
			p = e;
		}
	}
	return invalid ? -2 : -1;
}

struct ubuf {
	char *p;
	size_t n, cap;
	bool over;
};

static void uput(struct ubuf *b, const char *s, size_t n)
{
	if (b->n + n >= b->cap) {
		b->over = true;
		return;
	}
	memcpy(b->p + b->n, s, n);
	b->n += n;
}

static void uput_lower(struct ubuf *b, const char *s)
{
	for (; *s; s++) {
		char ch = (char)lower((unsigned char)*s);
		uput(b, &ch, 1);
	}
}

/* Copies template t, replacing the #{...} keywords with the request's. */
static void expand(struct ubuf *b, const char *t, const struct alb_redirect_in *in)
{
	char port[12];
	snprintf(port, sizeof(port), "%d", in->port);
	while (*t) {
		if (strncmp(t, "#{protocol}", 11) == 0) {
			uput_lower(b, in->protocol);
			t += 11;
		} else if (strncmp(t, "#{host}", 7) == 0) {
			uput(b, in->host.p, in->host.n);
			t += 7;
		} else if (strncmp(t, "#{port}", 7) == 0) {
			uput(b, port, strlen(port));
			t += 7;
		} else if (strncmp(t, "#{path}", 7) == 0) {
			/* the path without its leading "/" */
			size_t skip = in->path.n && in->path.p[0] == '/';
			uput(b, in->path.p + skip, in->path.n - skip);
			t += 7;
		} else if (strncmp(t, "#{query}", 8) == 0) {
			if (in->query.p)
				uput(b, in->query.p, in->query.n);
			t += 8;
		} else {
			uput(b, t, 1);
			t++;
		}
	}
}

int alb_redirect_url(const struct model_action *a, const struct alb_redirect_in *in, char *out,
                     size_t cap)
{
	struct ubuf b = {out, 0, cap, false};
	size_t qstart;

	if (cap == 0)
		return -1;
	expand(&b, a->rd_protocol ? a->rd_protocol : "#{protocol}", in);
	for (size_t i = 0; i < b.n; i++)
		out[i] = (char)lower((unsigned char)out[i]);
	uput(&b, "://", 3);
	expand(&b, a->rd_host ? a->rd_host : "#{host}", in);
	uput(&b, ":", 1);
	expand(&b, a->rd_port ? a->rd_port : "#{port}", in);
	expand(&b, a->rd_path ? a->rd_path : "/#{path}", in);
	uput(&b, "?", 1);
	qstart = b.n;
	expand(&b, a->rd_query ? a->rd_query : "#{query}", in);
	if (b.n == qstart)
		b.n--; /* empty query: no "?" */
	if (b.over)
		return -1;
	out[b.n] = 0;
	return (int)b.n;
}

uint32_t alb_src_vpc(const struct model *m, uint32_t src)
{
	for (size_t v = 0; v < m->nvpcs; v++)
		if ((src & 0xffff0000u) == m->vpcs[v].lo_base)
			return (m->vpcs[v].cidr.addr & 0xffff0000u) | (src & 0xffffu);
	return src;
}

static bool cidr_overlap(struct cidr4 a, struct cidr4 b)
{
	uint8_t p = a.prefix < b.prefix ? a.prefix : b.prefix;
	return (a.addr & cidr4_mask(p)) == (b.addr & cidr4_mask(p));
}

bool alb_sg_allows(const struct model *m, int lb, uint32_t src, int port)
{
	const struct model_lb *l = &m->lbs[lb];
	int vpc = -1;
	uint32_t vsrc = alb_src_vpc(m, src);

	if (l->nsgs == 0)
		return true;
	if (l->nsubnets && l->subnets[0] >= 0)
		vpc = m->subnets[l->subnets[0]].vpc;
	for (size_t i = 0; i < l->nsgs; i++) {
		const struct model_sg *g = &m->sgs[l->sgs[i]];
		for (size_t k = 0; k < g->ningress; k++) {
			const struct model_sg_rule *r = &g->ingress[k];
			if (r->proto != -1 &&
			    !(r->proto == 6 && r->from_port <= port && port <= r->to_port))
				continue;
			if (cidr4_contains(r->cidr, vsrc))
				return true;
			if (src == 0x7f000001u && vpc >= 0 &&
			    cidr_overlap(r->cidr, m->vpcs[vpc].cidr))
				return true;
		}
	}
	return false;
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

static bool cand_ok(const struct alb_cand *c, int pass)
{
	return pass == 0 ? routable(c->state) : fail_open_ok(c->state);
}

/* A draw weighted by share over the candidates of the pass; -1 when every
 * share is 0 (then the caller picks without weights). */
static int pick_weighted(const struct alb_cand *c, size_t n, int pass, uint32_t rnd)
{
	double sum = 0, x;

	for (size_t i = 0; i < n; i++)
		if (cand_ok(&c[i], pass) && c[i].share > 0)
			sum += c[i].share;
	if (sum <= 0)
		return -1;
	x = (double)rnd / 4294967296.0 * sum;
	for (size_t i = 0; i < n; i++) {
		if (!cand_ok(&c[i], pass) || c[i].share <= 0)
			continue;
		if (x < c[i].share)
			return (int)i;
		x -= c[i].share;
	}
	for (size_t i = n; i-- > 0;) /* rounding: the last one */
		if (cand_ok(&c[i], pass) && c[i].share > 0)
			return (int)i;
	return -1;
}

int alb_select(int algo, const struct alb_cand *c, size_t n, size_t *rr, uint32_t rnd)
{
	size_t start;

	if (n == 0)
		return -1;
	start = *rr % n;
	for (int pass = 0; pass < 2; pass++) {
		int best = -1;
		bool any = false, ramp = false;
		for (size_t i = 0; i < n; i++) {
			if (cand_ok(&c[i], pass)) {
				any = true;
				if (c[i].share < 1)
					ramp = true;
			}
		}
		if (!any)
			continue;
		if (algo == MODEL_ALGO_WEIGHTED_RANDOM ||
		    (algo == MODEL_ALGO_ROUND_ROBIN && ramp)) {
			best = pick_weighted(c, n, pass, rnd);
			if (best >= 0) {
				*rr = (size_t)best + 1;
				return best;
			}
		}
		for (size_t k = 0; k < n; k++) {
			size_t i = (start + k) % n;
			if (!cand_ok(&c[i], pass))
				continue;
			if (algo != MODEL_ALGO_LEAST_OUTSTANDING) {
				best = (int)i;
				break;
			}
			if (best < 0 || c[i].outstanding < c[best].outstanding)
				best = (int)i;
		}
		if (best >= 0) {
			*rr = (size_t)best + 1;
			return best;
		}
	}
	return -1;
}

double alb_slow_start_share(double elapsed_s, int dur_s)
{
	double f;

	if (dur_s <= 0 || elapsed_s >= dur_s)
		return 1;
	if (elapsed_s < 0)
		elapsed_s = 0;
	f = elapsed_s / dur_s;
	return f < 0.01 ? 0.01 : f;
}

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                                                                                   \
	do {                                                                                       \
		v0 += v1;                                                                          \
		v1 = ROTL(v1, 13);                                                                 \
		v1 ^= v0;                                                                          \
		v0 = ROTL(v0, 32);                                                                 \
		v2 += v3;                                                                          \
		v3 = ROTL(v3, 16);                                                                 \
		v3 ^= v2;                                                                          \
		v0 += v3;                                                                          \
		v3 = ROTL(v3, 21);                                                                 \
		v3 ^= v0;                                                                          \
		v2 += v1;                                                                          \
		v1 = ROTL(v1, 17);                                                                 \
		v1 ^= v2;                                                                          \
		v2 = ROTL(v2, 32);                                                                 \
	} while (0)

uint64_t alb_siphash64(const uint64_t key[2], uint64_t m)
{
	uint64_t v0 = 0x736f6d6570736575ull ^ key[0], v1 = 0x646f72616e646f6dull ^ key[1];
	uint64_t v2 = 0x6c7967656e657261ull ^ key[0], v3 = 0x7465646279746573ull ^ key[1];
	uint64_t b = (uint64_t)8 << 56;

	v3 ^= m;
	SIPROUND;
	SIPROUND;
	v0 ^= m;
	v3 ^= b;
	SIPROUND;
	SIPROUND;
	v0 ^= b;
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

static uint64_t lb_cookie_payload(int tg, uint32_t addr, uint16_t port)
{
	return (uint64_t)((uint32_t)tg & 0xffffu) << 48 | (uint64_t)addr << 16 | port;
}

void alb_lb_cookie_value(const uint64_t key[2], int tg, uint32_t addr, uint16_t port, char out[33])
{
	uint64_t p = lb_cookie_payload(tg, addr, port);
	uint64_t pad = alb_siphash64(key, UINT64_MAX);
	snprintf(out, 33, "%016llX%016llX", (unsigned long long)(p ^ pad),
	         (unsigned long long)alb_siphash64(key, p));
}

static bool hex64(const char *p, uint64_t *v)
{
	*v = 0;
	for (int i = 0; i < 16; i++) {
		int d;
		if (p[i] >= '0' && p[i] <= '9')
			d = p[i] - '0';
		else if (p[i] >= 'A' && p[i] <= 'F')
			d = p[i] - 'A' + 10;
		else
			return false;
		*v = *v << 4 | (uint64_t)d;
	}
	return true;
}

static int lb_cookie_decode(const uint64_t key[2], int tg, const char *p, size_t n, uint32_t *addr,
                            uint16_t *port)
{
	uint64_t a, mac, pl;
	if (n != 32 || !hex64(p, &a) || !hex64(p + 16, &mac))
		return -1;
	pl = a ^ alb_siphash64(key, UINT64_MAX);
	if (alb_siphash64(key, pl) != mac || (pl >> 48) != ((uint32_t)tg & 0xffffu))
		return -1;
	*addr = (uint32_t)(pl >> 16);
	*port = (uint16_t)pl;
	return 1;
}

/* The value of the first cookie called name in the Cookie headers. */
static bool cookie_get(const struct http_header *h, size_t n, const char *name, const char **v,
                       size_t *vlen)
{
	size_t nl = strlen(name);
	for (size_t i = 0; i < n; i++) {
		if (!http_slice_ieq(h[i].name, "cookie"))
			continue;
		const char *p = h[i].value.p, *end = p + h[i].value.n;
		while (p < end) {
			while (p < end && (*p == ' ' || *p == ';'))
				p++;
			const char *e = p;
			while (e < end && *e != ';')
				e++;
			size_t len = (size_t)(e - p);
			while (len && p[len - 1] == ' ')
				len--;
			if (len > nl && p[nl] == '=' && memcmp(p, name, nl) == 0) {
				*v = p + nl + 1;
				*vlen = len - nl - 1;
				return true;
			}
			p = e;
		}
	}
	return false;
}

int alb_lb_cookie_find(const uint64_t key[2], int tg, const struct http_header *h, size_t n,
                       uint32_t *addr, uint16_t *port)
{
	const char *v;
	size_t vlen;

	if (cookie_get(h, n, "AWSALB", &v, &vlen))
		return lb_cookie_decode(key, tg, v, vlen, addr, port);
	if (cookie_get(h, n, "AWSALBCORS", &v, &vlen))
		return lb_cookie_decode(key, tg, v, vlen, addr, port);
	return 0;
}

/* The key of AWSALBAPP values: derived from the process key, apart from
 * the AWSALB one. */
static void app_key(const uint64_t key[2], uint64_t out[2])
{
	out[0] = alb_siphash64(key, 0x4157534c42415030ull); /* "AWSLBAP0" */
	out[1] = alb_siphash64(key, 0x4157534c42415031ull);
}

void alb_app_cookie_value(const uint64_t key[2], int tg, uint32_t addr, uint16_t port,
                          uint32_t until, char out[49])
{
	uint64_t k[2], p = lb_cookie_payload(tg, addr, port);
	app_key(key, k);
	snprintf(out, 49, "%016llX%08X%016llX%08X",
	         (unsigned long long)(p ^ alb_siphash64(k, UINT64_MAX)),
	         until ^ (uint32_t)alb_siphash64(k, UINT64_MAX - 1),
	         (unsigned long long)alb_siphash64(k, p ^ alb_siphash64(k, until)),
	         (uint32_t)alb_siphash64(k, p + until));
}

static bool hex32(const char *p, uint32_t *v)
{
	uint64_t w;
	char b[16] = "00000000";
	memcpy(b + 8, p, 8);
	if (!hex64(b, &w))
		return false;
	*v = (uint32_t)w;
	return true;
}

int alb_app_cookie_find(const uint64_t key[2], int tg, const char *app_name,
                        const struct http_header *h, size_t n, uint32_t now, uint32_t *addr,
                        uint16_t *port)
{
	const char *v, *av;
	size_t vlen, alen;
	uint64_t k[2], a, mac, pl;
	uint32_t u, mac2;

	if (!cookie_get(h, n, "AWSALBAPP-0", &v, &vlen) || !cookie_get(h, n, app_name, &av, &alen))
		return 0;
	app_key(key, k);
	if (vlen != 48 || !hex64(v, &a) || !hex32(v + 16, &u) || !hex64(v + 24, &mac) ||
	    !hex32(v + 40, &mac2))
		return -1;
	pl = a ^ alb_siphash64(k, UINT64_MAX);
	u ^= (uint32_t)alb_siphash64(k, UINT64_MAX - 1);
	if (alb_siphash64(k, pl ^ alb_siphash64(k, u)) != mac ||
	    (uint32_t)alb_siphash64(k, pl + u) != mac2 || (pl >> 48) != ((uint32_t)tg & 0xffffu))
		return -1;
	if (now > u)
		return -1; /* the stickiness duration is over */
	*addr = (uint32_t)(pl >> 16);
	*port = (uint16_t)pl;
	return 1;
}

bool alb_sets_cookie(const struct http_header *h, size_t n, const char *name)
{
	size_t nl;
	if (!name)
		return false; /* not an app_cookie group (any more: a newer snapshot) */
	nl = strlen(name);
	for (size_t i = 0; i < n; i++) {
		const struct http_slice v = h[i].value;
		size_t j = 0;
		if (!http_slice_ieq(h[i].name, "set-cookie"))
			continue;
		while (j < v.n && (v.p[j] == ' ' || v.p[j] == '\t'))
			j++;
		if (v.n - j > nl && memcmp(v.p + j, name, nl) == 0) {
			size_t e = j + nl;
			while (e < v.n && (v.p[e] == ' ' || v.p[e] == '\t'))
				e++;
			if (e < v.n && v.p[e] == '=')
				return true;
		}
	}
	return false;
}

void alb_route_thread_end(void)
{
	regex_match(NULL, NULL, 0);
	pcre2_match_data_free(rw_md);
	rw_md = NULL;
}
