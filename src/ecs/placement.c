/*
 * Task placement decisions (see placement.h): pure functions over their
 * arguments.
 */
#include "ecs/placement.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* --- instance types --- */

/* The t families list every size; the m, c and r families compute a size's
 * memory from its vCPUs (mem_per_vcpu_mib). */
struct itype_size {
	const char *size;
	int vcpus;
	int mem_mib;
};

static const struct itype_size t2_sizes[] = {
    {"nano", 1, 512},   {"micro", 1, 1024},   {"small", 1, 2048},    {"medium", 2, 4096},
    {"large", 2, 8192}, {"xlarge", 4, 16384}, {"2xlarge", 8, 32768}, {NULL, 0, 0}};
/* t3, t3a and t4g: two vCPUs from nano to large. */
static const struct itype_size t3_sizes[] = {
    {"nano", 2, 512},   {"micro", 2, 1024},   {"small", 2, 2048},    {"medium", 2, 4096},
    {"large", 2, 8192}, {"xlarge", 4, 16384}, {"2xlarge", 8, 32768}, {NULL, 0, 0}};

struct itype_family {
	const char *name;
	const struct itype_size *sizes; /* NULL: computed from mem_per_vcpu */
	int mem_per_vcpu_mib;
	bool medium; /* Graviton families have a 1-vCPU medium */
};

/* c4 (previous generation): 1.875 GiB per vCPU, and an 8xlarge of 36. */
static const struct itype_size c4_sizes[] = {{"large", 2, 3840},     {"xlarge", 4, 7680},
                                             {"2xlarge", 8, 15360},  {"4xlarge", 16, 30720},
                                             {"8xlarge", 36, 61440}, {NULL, 0, 0}};

static const struct itype_family families[] = {
    {"t2", t2_sizes, 0, false},  {"t3", t3_sizes, 0, false}, {"t3a", t3_sizes, 0, false},
    {"t4g", t3_sizes, 0, false}, {"c4", c4_sizes, 0, false}, {"m4", NULL, 4096, false},
    {"m5", NULL, 4096, false},   {"m5a", NULL, 4096, false}, {"m5d", NULL, 4096, false},
    {"m6i", NULL, 4096, false},  {"m6a", NULL, 4096, false}, {"m7i", NULL, 4096, false},
    {"m7a", NULL, 4096, true},   {"m6g", NULL, 4096, true},  {"m6gd", NULL, 4096, true},
    {"m7g", NULL, 4096, true},   {"c5", NULL, 2048, false},  {"c5a", NULL, 2048, false},
    {"c5d", NULL, 2048, false},  {"c6i", NULL, 2048, false}, {"c6a", NULL, 2048, false},
    {"c7i", NULL, 2048, false},  {"c7a", NULL, 2048, true},  {"c6g", NULL, 2048, true},
    {"c6gd", NULL, 2048, true},  {"c7g", NULL, 2048, true},  {"r4", NULL, 7808, false},
    {"r5", NULL, 8192, false},   {"r5a", NULL, 8192, false}, {"r5d", NULL, 8192, false},
    {"r6i", NULL, 8192, false},  {"r6a", NULL, 8192, false}, {"r7i", NULL, 8192, false},
    {"r7a", NULL, 8192, true},   {"r6g", NULL, 8192, true},  {"r6gd", NULL, 8192, true},
    {"r7g", NULL, 8192, true},
};

/* What the agent registers out of installed MiB: m4.large's 8192 -> 7985. */
static int registered_mib(int installed)
{
	return installed - (int)(((long long)installed * 207 + 8191) / 8192);
}

int place_instance_type(const char *name, int *cpu_units, int *mem_mib)
{
	const struct itype_family *f = NULL;
	const char *dot = strchr(name, '.'), *size;
	int vcpus = 0, mem = 0;

	if (!dot)
		return -ENOENT;
	for (size_t i = 0; i < sizeof(families) / sizeof(families[0]); i++)
		if (strlen(families[i].name) == (size_t)(dot - name) &&
		    strncmp(families[i].name, name, (size_t)(dot - name)) == 0)
			f = &families[i];
	if (!f)
		return -ENOENT;
	size = dot + 1;
	if (f->sizes) {
		for (const struct itype_size *s = f->sizes; s->size; s++)
			if (strcmp(s->size, size) == 0) {
				vcpus = s->vcpus;
				mem = s->mem_mib;
			}
	} else if (f->medium && strcmp(size, "medium") == 0) {
		vcpus = 1;
	} else if (strcmp(size, "large") == 0) {
		vcpus = 2;
	} else if (strcmp(size, "xlarge") == 0) {
		vcpus = 4;
	} else {
		/* "Nxlarge", N = 2..224 */
		int n = 0;
		const char *p = size;
		while (*p >= '0' && *p <= '9' && n < 1000)
			n = n * 10 + (*p++ - '0');
		if (p != size && size[0] != '0' && n >= 2 && n <= 224 && strcmp(p, "xlarge") == 0)
			vcpus = 4 * n;
	}
	if (!vcpus)
		return -EINVAL;
	if (!mem)
		mem = vcpus * f->mem_per_vcpu_mib;
	*cpu_units = vcpus * 1024;
	*mem_mib = registered_mib(mem);
	return 0;
}

/* --- task definition resources --- */

/* A non-negative decimal ("0.25", ".5", "2") scaled by mult, rounded; the
 * rest of the text after optional spaces goes to *rest. */
static int parse_scaled(const char *s, size_t len, long long mult, long long *out, size_t *rest)
{
	size_t i = 0;
	long long ip = 0, frac = 0, scale = 1;
	bool digits = false;
	while (i < len && s[i] == ' ')
		i++;
	while (i < len && s[i] >= '0' && s[i] <= '9' && ip < 100000000) {
		ip = ip * 10 + (s[i++] - '0');
		digits = true;
	}
	if (i < len && s[i] == '.') {
		i++;
		while (i < len && s[i] >= '0' && s[i] <= '9' && scale < 1000000) {
			frac = frac * 10 + (s[i++] - '0');
			scale *= 10;
			digits = true;
		}
	}
	if (!digits || (i < len && s[i] >= '0' && s[i] <= '9'))
		return -EINVAL;
	while (i < len && s[i] == ' ')
		i++;
	*out = ip * mult + (frac * mult + scale / 2) / scale;
	*rest = i;
	return 0;
}

static bool rest_is(const char *s, size_t len, size_t at, const char *word)
{
	size_t wl = strlen(word), end = len;
	while (end > at && s[end - 1] == ' ')
		end--;
	return end - at == wl && strncasecmp(s + at, word, wl) == 0;
}

/* A task or container size as AWS writes it: whole base units ("256"), or
 * a number of big units, 1024 base units each, followed by unit ("0.25
 * vCPU", "1 GB"); at most max base units. */
static int parse_size(const char *s, size_t len, const char *unit, long long max, int *out)
{
	long long v;
	size_t rest;
	if (parse_scaled(s, len, 1024, &v, &rest) < 0)
		return -EINVAL;
	if (rest_is(s, len, rest, "")) {
		/* Plain base units are whole. */
		if (memchr(s, '.', len) || parse_scaled(s, len, 1, &v, &rest) < 0)
			return -EINVAL;
	} else if (!rest_is(s, len, rest, unit)) {
		return -EINVAL;
	}
	if (v <= 0 || v > max)
		return -EINVAL;
	*out = (int)v;
	return 0;
}

int place_parse_cpu(const char *s, size_t len, int *units)
{
	return parse_size(s, len, "vcpu", 1024 * 1024, units);
}

int place_parse_memory(const char *s, size_t len, int *mib)
{
	return parse_size(s, len, "gb", 64 * 1024 * 1024, mib);
}

bool place_fargate_ok(int cpu, int mem)
{
	int lo, hi, step;
	switch (cpu) {
	case 256:
		return mem == 512 || mem == 1024 || mem == 2048;
	case 512:
		lo = 1024, hi = 4096, step = 1024;
		break;
	case 1024:
		lo = 2048, hi = 8192, step = 1024;
		break;
	case 2048:
		lo = 4096, hi = 16384, step = 1024;
		break;
	case 4096:
		lo = 8192, hi = 30720, step = 1024;
		break;
	case 8192:
		lo = 16384, hi = 61440, step = 4096;
		break;
	case 16384:
		lo = 32768, hi = 122880, step = 8192;
		break;
	default:
		return false;
	}
	return mem >= lo && mem <= hi && (mem - lo) % step == 0;
}

/* --- the cluster query language --- */

struct lexer {
	const char *s;
	size_t len, pos;
	struct place_query *q;
	size_t *err_off;
	char *err;
	size_t errlen;
	bool failed;
	int depth;
};

static void lx_fail(struct lexer *l, size_t at, const char *msg)
{
	if (l->failed)
		return;
	l->failed = true;
	*l->err_off = at;
	snprintf(l->err, l->errlen, "%s", msg);
}

static void lx_space(struct lexer *l)
{
	while (l->pos < l->len && (l->s[l->pos] == ' ' || l->s[l->pos] == '\t' ||
	                           l->s[l->pos] == '\n' || l->s[l->pos] == '\r'))
		l->pos++;
}

static bool word_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '-' || c == '.' || c == ':' || c == '*' || c == '/';
}

/* The next bare word at pos (not consumed): its length. */
static size_t lx_word(const struct lexer *l)
{
	size_t n = 0;
	while (l->pos + n < l->len && word_char(l->s[l->pos + n]))
		n++;
	return n;
}

static bool lx_keyword(struct lexer *l, const char *kw)
{
	size_t n = lx_word(l), kl = strlen(kw);
	if (n == kl && strncasecmp(l->s + l->pos, kw, kl) == 0) {
		l->pos += n;
		lx_space(l);
		return true;
	}
	return false;
}

static bool lx_punct(struct lexer *l, const char *p)
{
	size_t pl = strlen(p);
	if (l->pos + pl <= l->len && strncmp(l->s + l->pos, p, pl) == 0) {
		l->pos += pl;
		lx_space(l);
		return true;
	}
	return false;
}

static int new_node(struct lexer *l)
{
	if (l->q->n >= PLACE_QUERY_NODES) {
		lx_fail(l, l->pos, "expression too long (at most 64 terms)");
		return -1;
	}
	memset(&l->q->nodes[l->q->n], 0, sizeof(l->q->nodes[0]));
	return (int)l->q->n++;
}

/* One argument: bare word or quoted; stored as a slice of the text. */
static bool lx_value(struct lexer *l, struct place_slice *v)
{
	size_t start = l->pos;
	if (l->pos < l->len && (l->s[l->pos] == '\'' || l->s[l->pos] == '"')) {
		char qc = l->s[l->pos++];
		size_t b = l->pos;
		while (l->pos < l->len && l->s[l->pos] != qc)
			l->pos++;
		if (l->pos >= l->len) {
			lx_fail(l, start, "unterminated quoted value");
			return false;
		}
		v->off = (uint32_t)b;
		v->len = (uint32_t)(l->pos - b);
		l->pos++;
		lx_space(l);
		return true;
	}
	size_t n = lx_word(l);
	if (n == 0) {
		lx_fail(l, start, "expected a value");
		return false;
	}
	v->off = (uint32_t)start;
	v->len = (uint32_t)n;
	l->pos += n;
	lx_space(l);
	return true;
}

static const struct {
	const char *name;
	enum place_subject subj;
} subjects[] = {
    {"attribute:ecs.availability-zone", PLACE_SUBJ_AZ},
    {"attribute:ecs.instance-type", PLACE_SUBJ_INSTANCE_TYPE},
    {"attribute:ecs.os-type", PLACE_SUBJ_OS_TYPE},
    {"ec2InstanceId", PLACE_SUBJ_INSTANCE_ID},
};

static int parse_or(struct lexer *l);

static int parse_term(struct lexer *l)
{
	size_t at = l->pos, n;
	int id;
	struct place_qnode *nd;
	char msg[160];

	if (lx_punct(l, "(")) {
		if (++l->depth > 16) {
			lx_fail(l, at, "parentheses nested too deeply");
			return -1;
		}
		id = parse_or(l);
		l->depth--;
		if (id < 0)
			return -1;
		if (!lx_punct(l, ")")) {
			lx_fail(l, l->pos, "expected ')'");
			return -1;
		}
		return id;
	}
	n = lx_word(l);
	if (n == 0) {
		lx_fail(l, at,
		        l->pos >= l->len ? "expected a subject, found the end"
		                         : "expected a subject such as "
		                           "attribute:ecs.instance-type");
		return -1;
	}
	id = new_node(l);
	if (id < 0)
		return -1;
	nd = &l->q->nodes[id];
	nd->kind = PLACE_Q_CMP;
	{
		bool found = false;
		for (size_t i = 0; i < sizeof(subjects) / sizeof(subjects[0]); i++)
			if (strlen(subjects[i].name) == n &&
			    strncmp(subjects[i].name, l->s + at, n) == 0) {
				nd->subject = subjects[i].subj;
				found = true;
			}
		if (!found) {
			snprintf(msg, sizeof(msg),
			         "unsupported subject '%.*s' (vpcd knows "
			         "attribute:ecs.availability-zone, attribute:ecs.instance-type, "
			         "attribute:ecs.os-type and ec2InstanceId)",
			         (int)(n > 60 ? 60 : n), l->s + at);
			lx_fail(l, at, msg);
			return -1;
		}
	}
	l->pos += n;
	lx_space(l);
	at = l->pos;
	/* Values match with '*' wildcards, so matches (=~) is equals here. */
	if (lx_punct(l, "==") || lx_keyword(l, "equals") || lx_punct(l, "=~") ||
	    lx_keyword(l, "matches")) {
		nd->op = PLACE_OP_EQ;
	} else if (lx_punct(l, "!=") || lx_keyword(l, "not_equals") || lx_punct(l, "!~") ||
	           lx_keyword(l, "not_matches")) {
		nd->op = PLACE_OP_NE;
	} else if (lx_punct(l, "!in") || lx_keyword(l, "not_in")) {
		nd->op = PLACE_OP_NOT_IN;
	} else if (lx_keyword(l, "not")) {
		if (lx_keyword(l, "in")) {
			nd->op = PLACE_OP_NOT_IN;
		} else {
			lx_fail(l, l->pos, "expected 'in' after 'not'");
			return -1;
		}
	} else if (lx_keyword(l, "in")) {
		nd->op = PLACE_OP_IN;
	} else if (lx_punct(l, "!exists") || lx_keyword(l, "not_exists")) {
		nd->op = PLACE_OP_NOT_EXISTS;
		return id;
	} else if (lx_keyword(l, "exists")) {
		nd->op = PLACE_OP_EXISTS;
		return id;
	} else {
		lx_fail(l, at,
		        "expected an operator (==, !=, =~, !~, in, not_in, exists, !exists)");
		return -1;
	}
	if (nd->op == PLACE_OP_IN || nd->op == PLACE_OP_NOT_IN) {
		if (!lx_punct(l, "[")) {
			lx_fail(l, l->pos, "expected '[' and a list of values");
			return -1;
		}
		do {
			if (nd->nvalues == PLACE_QUERY_VALUES) {
				lx_fail(l, l->pos, "too many values in the list (at most 16)");
				return -1;
			}
			if (!lx_value(l, &nd->values[nd->nvalues++]))
				return -1;
		} while (lx_punct(l, ","));
		if (!lx_punct(l, "]")) {
			lx_fail(l, l->pos, "expected ',' or ']'");
			return -1;
		}
		return id;
	}
	if (!lx_value(l, &nd->values[0]))
		return -1;
	nd->nvalues = 1;
	return id;
}

/* A left-associative chain of operand (OP operand)*, OP spelled as punct or
 * as the keyword; "and" binds tighter than "or" by the callers' nesting. */
static int parse_chain(struct lexer *l, int (*operand)(struct lexer *), const char *punct,
                       const char *keyword, int kind)
{
	int left = operand(l);
	while (left >= 0 && (lx_punct(l, punct) || lx_keyword(l, keyword))) {
		int right = operand(l), id;
		if (right < 0)
			return -1;
		id = new_node(l);
		if (id < 0)
			return -1;
		l->q->nodes[id].kind = kind;
		l->q->nodes[id].left = left;
		l->q->nodes[id].right = right;
		left = id;
	}
	return left;
}

static int parse_and(struct lexer *l)
{
	return parse_chain(l, parse_term, "&&", "and", PLACE_Q_AND);
}

static int parse_or(struct lexer *l)
{
	return parse_chain(l, parse_and, "||", "or", PLACE_Q_OR);
}

int place_query_parse(const char *buf, size_t len, struct place_query *q, size_t *err_off,
                      char *err, size_t errlen)
{
	struct lexer l = {
	    .s = buf, .len = len, .q = q, .err_off = err_off, .err = err, .errlen = errlen};
	q->text = buf;
	q->n = 0;
	q->root = -1;
	lx_space(&l);
	q->root = parse_or(&l);
	if (!l.failed && l.pos < l.len)
		lx_fail(&l, l.pos,
		        "unexpected text after the expression (expected 'and', 'or' "
		        "or the end)");
	if (l.failed) {
		q->root = -1;
		return -1;
	}
	return 0;
}

/* Glob match where '*' matches any run; case-sensitive, as ECS attributes. */
static bool glob(const char *p, size_t pl, const char *s)
{
	size_t sl = strlen(s), pi = 0, si = 0, star = SIZE_MAX, mark = 0;
	while (si < sl) {
		if (pi < pl && p[pi] == '*') {
			star = pi++;
			mark = si;
		} else if (pi < pl && p[pi] == s[si]) {
			pi++;
			si++;
		} else if (star != SIZE_MAX) {
			pi = star + 1;
			si = ++mark;
		} else {
			return false;
		}
	}
	while (pi < pl && p[pi] == '*')
		pi++;
	return pi == pl;
}

static const char *attr_of(const struct place_attrs *a, enum place_subject s)
{
	switch (s) {
	case PLACE_SUBJ_AZ:
		return a->az;
	case PLACE_SUBJ_INSTANCE_TYPE:
		return a->instance_type;
	case PLACE_SUBJ_OS_TYPE:
		return a->os_type;
	case PLACE_SUBJ_INSTANCE_ID:
		return a->instance_id;
	}
	return NULL;
}

static bool eval(const struct place_query *q, int id, const struct place_attrs *a, int depth)
{
	const struct place_qnode *nd;
	const char *v;
	bool any = false;
	if (id < 0 || (size_t)id >= q->n || depth > PLACE_QUERY_NODES)
		return false;
	nd = &q->nodes[id];
	if (nd->kind == PLACE_Q_AND)
		return eval(q, nd->left, a, depth + 1) && eval(q, nd->right, a, depth + 1);
	if (nd->kind == PLACE_Q_OR)
		return eval(q, nd->left, a, depth + 1) || eval(q, nd->right, a, depth + 1);
	v = attr_of(a, nd->subject);
	if (nd->op == PLACE_OP_EXISTS)
		return v != NULL;
	if (nd->op == PLACE_OP_NOT_EXISTS)
		return v == NULL;
	for (size_t i = 0; v && i < nd->nvalues; i++)
		any |= glob(q->text + nd->values[i].off, nd->values[i].len, v);
	/* An instance without the attribute matches no value. */
	if (nd->op == PLACE_OP_EQ || nd->op == PLACE_OP_IN)
		return any;
	return v != NULL && !any;
}

bool place_query_match(const struct place_query *q, const struct place_attrs *a)
{
	return q->root >= 0 && eval(q, q->root, a, 0);
}

/* --- choosing a host --- */

static const char *field_value(const struct place_host *h, enum place_field f)
{
	switch (f) {
	case PLACE_FIELD_INSTANCE:
		return h->attrs.instance_id;
	case PLACE_FIELD_AZ:
		return h->attrs.az;
	case PLACE_FIELD_INSTANCE_TYPE:
		return h->attrs.instance_type;
	case PLACE_FIELD_OS_TYPE:
		return h->attrs.os_type;
	default:
		return NULL;
	}
}

static bool str_same(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

/* The score of host i under strategy st (lower is better). */
static long long score(const struct place_host *hosts, size_t n, size_t i,
                       const struct place_strategy *st)
{
	const struct place_host *h = &hosts[i];
	long long s = 0;
	if (st->type == PLACE_BINPACK) {
		if (st->field == PLACE_FIELD_CPU)
			return h->cpu_total ? h->cpu_free - 0LL : (long long)1 << 40;
		return h->mem_total ? h->mem_free - 0LL : (long long)1 << 40;
	}
	/* spread: tasks of the service on hosts sharing the field's value,
	 * usable or not (ECS counts the service's tasks where they run). */
	if (st->field == PLACE_FIELD_INSTANCE)
		return (long long)h->svc_tasks;
	for (size_t k = 0; k < n; k++)
		if (str_same(field_value(&hosts[k], st->field), field_value(h, st->field)))
			s += (long long)hosts[k].svc_tasks;
	return s;
}

int place_choose(const struct place_host *hosts, size_t n, const struct place_req *req,
                 struct place_result *out)
{
	static const struct place_strategy defaults[] = {{PLACE_SPREAD, PLACE_FIELD_AZ},
	                                                 {PLACE_SPREAD, PLACE_FIELD_INSTANCE}};
	const struct place_strategy *strats = req->nstrategies ? req->strategies : defaults;
	size_t nstrats = req->nstrategies ? req->nstrategies : 2;
	/* cand[i]: passes every filter and is still among the best. */
	bool cand[256];
	size_t ncand = 0, limit = n < 256 ? n : 256;
	int best_stage = -1;
	uint64_t rnd = req->random;

	out->host = -1;
	out->closest = -1;
	out->why = PLACE_NO_HOSTS;
	for (size_t i = 0; i < limit; i++) {
		const struct place_host *h = &hosts[i];
		int stage = 0;
		cand[i] = false;
		if (!h->usable)
			continue;
		/* Stages in ECS's order: cpu, memory, then constraints. */
		if (!h->cpu_total || h->cpu_free >= req->cpu)
			stage = 1;
		if (stage == 1 && (!h->mem_total || h->mem_free >= req->mem))
			stage = 2;
		if (stage == 2 && (!req->distinct_instance || h->svc_tasks == 0))
			stage = 3;
		if (stage == 3) {
			bool ok = true;
			for (size_t k = 0; k < req->nmember_of && ok; k++)
				ok = place_query_match(req->member_of[k], &h->attrs);
			if (ok)
				stage = 4;
		}
		if (stage == 4) {
			cand[i] = true;
			ncand++;
		} else if (stage > best_stage) {
			best_stage = stage;
			out->closest = (int)i;
		}
	}
	if (ncand == 0) {
		static const enum place_why whys[] = {PLACE_NO_CPU, PLACE_NO_MEMORY,
		                                      PLACE_NO_DISTINCT, PLACE_NO_MEMBER_OF};
		out->why = best_stage < 0 ? PLACE_NO_HOSTS : whys[best_stage];
		return -ENOSPC;
	}
	for (size_t k = 0; k < nstrats && ncand > 1; k++) {
		const struct place_strategy *st = &strats[k];
		long long best = 0;
		bool first = true;
		if (st->type == PLACE_RANDOM) {
			size_t pick;
			rnd = rnd * 6364136223846793005ull + 1442695040888963407ull;
			pick = (size_t)((rnd >> 33) % ncand);
			for (size_t i = 0; i < limit; i++) {
				if (!cand[i])
					continue;
				cand[i] = pick-- == 0;
			}
			ncand = 1;
			break;
		}
		for (size_t i = 0; i < limit; i++) {
			long long s;
			if (!cand[i])
				continue;
			s = score(hosts, n, i, st);
			if (first || s < best)
				best = s;
			first = false;
		}
		ncand = 0;
		for (size_t i = 0; i < limit; i++) {
			if (cand[i] && score(hosts, n, i, st) != best)
				cand[i] = false;
			ncand += cand[i];
		}
	}
	/* Ties: the host with the fewest tasks, then the first. */
	for (size_t i = 0; i < limit; i++) {
		if (!cand[i])
			continue;
		if (out->host < 0 || hosts[i].total_tasks < hosts[out->host].total_tasks)
			out->host = (int)i;
	}
	out->why = PLACE_OK;
	return 0;
}

int place_scale_in(const struct place_host *hosts, size_t n, const struct place_strategy *st,
                   size_t nst, uint64_t random)
{
	static const struct place_strategy defaults[] = {{PLACE_SPREAD, PLACE_FIELD_AZ},
	                                                 {PLACE_SPREAD, PLACE_FIELD_INSTANCE}};
	const struct place_strategy *strats = nst ? st : defaults;
	size_t nstrats = nst ? nst : 2, limit = n < 256 ? n : 256, ncand = 0;
	bool cand[256];
	int out = -1;

	for (size_t i = 0; i < limit; i++) {
		cand[i] = hosts[i].victims > 0;
		ncand += cand[i];
	}
	if (!ncand)
		return -1;
	for (size_t k = 0; k < nstrats && ncand > 1; k++) {
		const struct place_strategy *s = &strats[k];
		long long best = 0;
		bool first = true;
		if (s->type == PLACE_RANDOM) {
			size_t pick;
			random = random * 6364136223846793005ull + 1442695040888963407ull;
			pick = (size_t)((random >> 33) % ncand);
			for (size_t i = 0; i < limit; i++)
				if (cand[i])
					cand[i] = pick-- == 0;
			ncand = 1;
			break;
		}
		/* score() is "lower is better" for placing; here the highest
		 * (most tasks sharing the value, most resource left) goes. */
		for (size_t i = 0; i < limit; i++) {
			long long v;
			if (!cand[i])
				continue;
			v = score(hosts, n, i, s);
			if (first || v > best)
				best = v;
			first = false;
		}
		ncand = 0;
		for (size_t i = 0; i < limit; i++) {
			if (cand[i] && score(hosts, n, i, s) != best)
				cand[i] = false;
			ncand += cand[i];
		}
	}
	for (size_t i = 0; i < limit; i++)
		if (cand[i] && (out < 0 || hosts[i].svc_tasks >= hosts[out].svc_tasks))
			out = (int)i;
	return out;
}

void place_why_text(enum place_why why, const char *closest_id, char *out, size_t len)
{
	const char *id = closest_id ? closest_id : "-";
	switch (why) {
	case PLACE_OK:
		snprintf(out, len, "%s", "");
		break;
	case PLACE_NO_HOSTS:
		snprintf(out, len, " Reason: No Container Instances were found in your cluster.");
		break;
	case PLACE_NO_CPU:
		snprintf(out, len,
		         " The closest matching container-instance %s has insufficient CPU units "
		         "available. For more information, see the Troubleshooting section.",
		         id);
		break;
	case PLACE_NO_MEMORY:
		snprintf(out, len,
		         " The closest matching container-instance %s has insufficient memory "
		         "available. For more information, see the Troubleshooting section.",
		         id);
		break;
	case PLACE_NO_DISTINCT:
		snprintf(out, len,
		         " The closest matching container-instance %s encountered error "
		         "\"DistinctInstance placement constraint unsatisfied.\". For more "
		         "information, see the Troubleshooting section.",
		         id);
		break;
	case PLACE_NO_MEMBER_OF:
		snprintf(out, len,
		         " The closest matching container-instance %s encountered error "
		         "\"MemberOf placement constraint unsatisfied.\". For more information, "
		         "see the Troubleshooting section.",
		         id);
		break;
	}
}
