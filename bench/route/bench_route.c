/*
 * Microbenchmark of listener routing (alb_route_req): a fixed mix of
 * requests against listeners of 1, 10, 100, 1,000 and 10,000 rules, with the
 * rule index (alb_route_index_build) and without it (the same function then
 * tries every rule in priority order: the linear scan). Prints ns/request
 * (best of 5 runs of at least 0.1 s each) as a Markdown table. Not a test:
 * nothing here passes or fails on time.
 *
 * The listener: rule i has priority i + 1 and a host-header condition on
 * svc<i>.example.com; every fourth also a path-pattern on /api/ and a star;
 * the last three are a wildcard host (*.example.com), a path rule and a
 * host-less method rule, which stay outside the hash. The mix: hosts of
 * rules spread over the listener (some in capitals, some with the path that
 * the fourth rules need), plus hosts no exact rule names.
 *
 * Run: make bench-route (builds build/bench_route and runs it).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alb/route.h"

#define MIX 256

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

struct listener_set {
	struct model m;
	struct model_listener l;
	struct model_rule *rules;
	struct model_condition *conds;
	int *order;
	char (*names)[48];
};

static int build(struct listener_set *s, size_t n)
{
	size_t nr = n + 3;
	memset(s, 0, sizeof(*s));
	s->rules = calloc(nr, sizeof(*s->rules));
	s->conds = calloc(2 * nr, sizeof(*s->conds));
	s->order = calloc(nr, sizeof(*s->order));
	s->names = calloc(nr, sizeof(*s->names));
	if (!s->rules || !s->conds || !s->order || !s->names)
		return -1;
	for (size_t i = 0; i < nr; i++) {
		struct model_rule *r = &s->rules[i];
		struct model_condition *c = &s->conds[2 * i];
		r->priority = (int)i + 1;
		r->conds = c;
		r->action =
		    (struct model_action){.type = MODEL_ACTION_FORWARD, .target_group = (int)i};
		s->order[i] = (int)i;
		if (i < n) {
			snprintf(s->names[i], sizeof(s->names[i]), "svc%zu.example.com", i);
			c[0] =
			    (struct model_condition){.field = MODEL_COND_HOST_HEADER, .nvalues = 1};
			c[0].values[0] = s->names[i];
			r->nconds = 1;
			if (i % 4 == 3) {
				c[1] = (struct model_condition){.field = MODEL_COND_PATH_PATTERN,
				                                .nvalues = 1};
				c[1].values[0] = "/api/*";
				r->nconds = 2;
			}
		} else if (i == n) {
			c[0] =
			    (struct model_condition){.field = MODEL_COND_HOST_HEADER, .nvalues = 1};
			c[0].values[0] = "*.example.com";
			c[1] = (struct model_condition){.field = MODEL_COND_PATH_PATTERN,
			                                .nvalues = 1};
			c[1].values[0] = "/static/*";
			r->nconds = 2;
		} else if (i == n + 1) {
			c[0] = (struct model_condition){.field = MODEL_COND_PATH_PATTERN,
			                                .nvalues = 1};
			c[0].values[0] = "/health";
			r->nconds = 1;
		} else {
			c[0] = (struct model_condition){.field = MODEL_COND_HTTP_REQUEST_METHOD,
			                                .nvalues = 1};
			c[0].values[0] = "DELETE";
			r->nconds = 1;
		}
	}
	s->l = (struct model_listener){.port = 80, .rules = s->order, .nrules = nr};
	s->m = (struct model){.rules = s->rules, .nrules = nr, .listeners = &s->l, .nlisteners = 1};
	return 0;
}

static void release(struct listener_set *s)
{
	free(s->l.rule_index);
	free(s->rules);
	free(s->conds);
	free(s->order);
	free(s->names);
}

struct req {
	char host[48];
	const char *path;
	const char *method;
};

static void mix_make(struct req *q, size_t n)
{
	uint64_t x = 0x243f6a8885a308d3ull;
	for (size_t i = 0; i < MIX; i++) {
		x = x * 6364136223846793005ull + 1442695040888963407ull;
		size_t k = (size_t)(x >> 33) % n;
		unsigned kind = (unsigned)(x >> 20) % 8;
		q[i].method = "GET";
		q[i].path = kind == 1 ? "/api/v1/items" : "/index.html";
		if (kind == 7) /* no exact rule: the wildcard, path and method rules */
			snprintf(q[i].host, sizeof(q[i].host), "other%zu.example.com", k);
		else
			snprintf(q[i].host, sizeof(q[i].host),
			         kind == 2 ? "SVC%zu.Example.COM" : "svc%zu.example.com", k);
	}
}

/* ns per request over the mix, running for at least 0.1 s; *sum is a
 * checksum of the chosen priorities so both variants can be compared. */
static double run_once(const struct listener_set *s, const struct req *q, long *sum)
{
	long iters = 0, total = 0;
	double t0 = now_ns(), t = t0;
	while (t - t0 < 1e8 || iters < 2) {
		total = 0;
		for (size_t i = 0; i < MIX; i++) {
			struct alb_req_view rq = {0};
			int prio;
			rq.host = q[i].host;
			rq.hostlen = strlen(q[i].host);
			rq.path = (struct http_slice){q[i].path, strlen(q[i].path)};
			rq.method = (struct http_slice){q[i].method, strlen(q[i].method)};
			alb_route_req(&s->m, 0, &rq, &prio);
			total += prio;
		}
		iters++;
		t = now_ns();
	}
	*sum = total;
	return (t - t0) / (double)(iters * MIX);
}

/* The best of ROUNDS runs: the machine is shared, and the fastest run is
 * the one least disturbed by others. */
#define ROUNDS 5
static double run(const struct listener_set *s, const struct req *q, long *sum)
{
	double best = run_once(s, q, sum);
	for (int i = 1; i < ROUNDS; i++) {
		double t = run_once(s, q, sum);
		best = t < best ? t : best;
	}
	return best;
}

int main(void)
{
	static const size_t sizes[] = {1, 10, 100, 1000, 10000};
	static struct req q[MIX];
	int rc = 0;

	printf(
	    "| exact-host rules (+3 others) | index ns/req | linear ns/req | linear / index |\n");
	printf("|---:|---:|---:|---:|\n");
	for (size_t z = 0; z < sizeof(sizes) / sizeof(sizes[0]); z++) {
		struct listener_set s;
		long sum_ix, sum_lin;
		double ix, lin;
		if (build(&s, sizes[z]) < 0 || alb_route_index_build(&s.m) < 0) {
			fprintf(stderr, "bench_route: out of memory\n");
			release(&s);
			return 1;
		}
		mix_make(q, sizes[z]);
		ix = run(&s, q, &sum_ix);
		free(s.l.rule_index);
		s.l.rule_index = NULL; /* alb_route_req now tries every rule */
		lin = run(&s, q, &sum_lin);
		if (sum_ix != sum_lin) {
			fprintf(stderr, "bench_route: %zu rules: index and scan disagree\n",
			        sizes[z]);
			rc = 1;
		}
		printf("| %zu | %.0f | %.0f | %.1f |\n", sizes[z], ix, lin, lin / ix);
		release(&s);
	}
	alb_route_thread_end();
	return rc;
}
