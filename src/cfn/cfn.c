/*
 * The template reader's driver: reads the text (JSON or YAML by its first
 * character), checks the anatomy, resolves parameters and conditions, orders
 * resources by their references, evaluates every intrinsic function, then
 * hands the evaluated resources to build.c. Errors are collected, not fatal,
 * so one run reports all of them, sorted by position.
 */
#include "cfn/cfn_int.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "cfn/json.h"
#include "cfn/yaml.h"

/* ---------- errors ---------- */

static void cfn_vdiag(struct cfn_ctx *c, bool warning, int line, int col, const char *path,
                      const char *fmt, va_list ap)
{
	char msg[1024];
	vsnprintf(msg, sizeof(msg), fmt, ap);
	char *text = path && *path ? cfn_arena_printf(&c->a, "%s: %s", path, msg)
	                           : cfn_arena_strdup(&c->a, msg);
	for (size_t i = 0; i < c->nerrs; i++)
		if (c->errs[i].line == line && c->errs[i].col == col &&
		    c->errs[i].file == c->file && strcmp(c->errs[i].text, text) == 0)
			return;
	if (c->nerrs == c->caperrs) {
		if (c->caperrs >= 10 * CFN_MAX_ERRORS)
			return;
		size_t cap = c->caperrs ? c->caperrs * 2 : 16;
		struct cfn_err *e = cfn_arena_alloc(&c->a, cap * sizeof(*e));
		if (c->nerrs)
			memcpy(e, c->errs, c->nerrs * sizeof(*e));
		c->errs = e;
		c->caperrs = cap;
	}
	c->errs[c->nerrs] = (struct cfn_err){.line = line,
	                                     .col = col,
	                                     .seq = c->nerrs,
	                                     .text = text,
	                                     .file = c->file,
	                                     .path = cfn_arena_strdup(&c->a, path ? path : ""),
	                                     .msg = cfn_arena_strdup(&c->a, msg),
	                                     .warning = warning};
	c->nerrs++;
	if (!warning)
		c->nfatal++;
}

void cfn_error(struct cfn_ctx *c, int line, int col, const char *path, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	cfn_vdiag(c, false, line, col, path, fmt, ap);
	va_end(ap);
}

void cfn_error_at(struct cfn_ctx *c, const struct cfn_node *n, const char *path, const char *fmt,
                  ...)
{
	va_list ap;
	va_start(ap, fmt);
	cfn_vdiag(c, false, n ? n->line : 1, n ? n->col : 1, path, fmt, ap);
	va_end(ap);
}

void cfn_warn(struct cfn_ctx *c, int line, int col, const char *path, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	cfn_vdiag(c, true, line, col, path, fmt, ap);
	va_end(ap);
}

void cfn_warn_at(struct cfn_ctx *c, const struct cfn_node *n, const char *path, const char *fmt,
                 ...)
{
	va_list ap;
	va_start(ap, fmt);
	cfn_vdiag(c, true, n ? n->line : 1, n ? n->col : 1, path, fmt, ap);
	va_end(ap);
}

/* Errors of several documents: by document (in the order files were
 * named), then position. */
static const char *const *err_files;
static size_t err_nfiles;

static size_t err_file_index(const char *f)
{
	for (size_t i = 0; i < err_nfiles; i++)
		if (err_files[i] == f || (f && err_files[i] && strcmp(err_files[i], f) == 0))
			return i;
	return err_nfiles;
}

static int err_cmp(const void *x, const void *y)
{
	const struct cfn_err *a = x, *b = y;
	size_t fa = err_file_index(a->file), fb = err_file_index(b->file);
	if (fa != fb)
		return fa < fb ? -1 : 1;
	if (a->line != b->line)
		return a->line < b->line ? -1 : 1;
	if (a->col != b->col)
		return a->col < b->col ? -1 : 1;
	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* Prints (or hands to opt->on_diag) errors and warnings; returns the
 * number of errors printed. */
static int errors_print(struct cfn_err *errs, size_t n, const char *const *files, size_t nfiles,
                        const struct cfn_options *opt, FILE *out)
{
	err_files = files;
	err_nfiles = nfiles;
	for (size_t i = 0; i < n; i++)
		errs[i].seq = i;
	qsort(errs, n, sizeof(*errs), err_cmp);
	int nerr = 0, nshown = 0;
	bool over = false;
	for (size_t i = 0; i < n; i++) {
		struct cfn_err *e = &errs[i];
		if (!e->warning) {
			if (nerr == CFN_MAX_ERRORS) {
				over = true;
				continue;
			}
			nerr++;
		} else if (nshown >= CFN_MAX_ERRORS) {
			continue;
		}
		nshown++;
		if (opt && opt->on_diag) {
			struct cfn_diag d = {e->file, e->line, e->col, e->path, e->msg, e->warning};
			opt->on_diag(opt->diag_arg, &d);
		} else if (out) {
			fprintf(out, "%s:%d:%d: %s: %s\n", e->file, e->line, e->col,
			        e->warning ? "warning" : "error", e->text);
		}
	}
	if (over && out && !(opt && opt->on_diag))
		fprintf(out, "%s: error: too many errors, stopped after %d\n",
		        nfiles ? files[0] : "template", CFN_MAX_ERRORS);
	return nerr;
}

/* ---------- small helpers ---------- */

static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la > 64 || lb > 64)
		return 99;
	size_t row[65];
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t prev = row[0];
		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t cur = row[j];
			size_t cost =
			    tolower((unsigned char)a[i - 1]) == tolower((unsigned char)b[j - 1])
			        ? 0
			        : 1;
			size_t best = prev + cost;
			if (row[j] + 1 < best)
				best = row[j] + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			prev = cur;
		}
	}
	return row[lb];
}

const char *cfn_did_you_mean(const char *s, const char *const *names, size_t n)
{
	const char *best = NULL;
	size_t bestd = 3;
	for (size_t i = 0; i < n && names[i]; i++) {
		if (strcmp(s, names[i]) == 0)
			continue; /* itself, e.g. a resource its Condition left out */
		size_t d = edit_distance(s, names[i]);
		if (d < bestd) {
			bestd = d;
			best = names[i];
		}
	}
	return best;
}

uint64_t cfn_hash(const struct cfn_ctx *c, const char *logical, const char *salt)
{
	/* FNV-1a: deterministic, so ids are the same on every run. */
	uint64_t h = 0xcbf29ce484222325ull;
	const char *parts[3] = {c->stack, logical, salt};
	for (int i = 0; i < 3; i++) {
		for (const char *p = parts[i] ? parts[i] : ""; *p; p++) {
			h ^= (unsigned char)*p;
			h *= 0x100000001b3ull;
		}
		h ^= '/';
		h *= 0x100000001b3ull;
	}
	return h;
}

void cfn_hex(const struct cfn_ctx *c, const char *logical, const char *salt, char *out, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	uint64_t h = cfn_hash(c, logical, salt);
	for (size_t i = 0; i < n; i++) {
		if (i && i % 16 == 0)
			h = h * 0x9e3779b97f4a7c15ull + 0x632be59bd9b4e019ull;
		out[i] = hex[(h >> (4 * (i % 16))) & 15];
	}
	out[n] = 0;
}

const char *cfn_gen_name(struct cfn_ctx *c, const char *logical, size_t max)
{
	static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
	char rnd[14];
	uint64_t h = cfn_hash(c, logical, "name");
	for (int i = 0; i < 13; i++) {
		rnd[i] = al[h % 36];
		h /= 36;
		if (i == 11)
			h = cfn_hash(c, logical, "name2");
	}
	rnd[13] = 0;
	size_t ls = strlen(c->stack), ll = strlen(logical);
	if (max <= 32) {
		/* ELB names: at most 6 characters of the stack and 5 of the
		 * logical id, as observed (demo-Targe-1GXHAH9WXSU9V). */
		ls = ls < 6 ? ls : 6;
		ll = ll < 5 ? ll : 5;
	} else if (ls + ll + 15 > max) {
		/* Too long: keep a share of each part. */
		size_t room = max > 16 ? max - 15 : 2;
		size_t ks = ls < room / 2 ? ls : room / 2;
		size_t kl = ll < room - ks ? ll : room - ks;
		if (ks + kl < room && ks < ls)
			ks = ls < room - kl ? ls : room - kl;
		ls = ks;
		ll = kl;
	}
	return cfn_arena_printf(&c->a, "%.*s-%.*s-%s", (int)ls, c->stack, (int)ll, logical, rnd);
}

const char *cfn_attr_str(const struct cfn_res *r, const char *attr)
{
	struct cfn_node *n = attr ? cfn_node_get(r->attrs, attr) : r->ref;
	return n && n->type == CFN_STR ? n->str : NULL;
}

void cfn_attr_set(struct cfn_ctx *c, struct cfn_res *r, const char *attr, const char *value)
{
	struct cfn_node *v = cfn_node_str(&c->a, value, r->line, r->col);
	if (!attr) {
		r->ref = v;
		return;
	}
	if (!r->attrs)
		r->attrs = cfn_node_new(&c->a, CFN_MAP, r->line, r->col);
	cfn_node_put(&c->a, r->attrs, attr, r->line, r->col, v);
}

int cfn_res_find(const struct cfn_ctx *c, const char *logical)
{
	for (size_t i = 0; i < c->nres; i++)
		if (strcmp(c->res[i].logical, logical) == 0)
			return (int)i;
	return -1;
}

int cfn_res_find_value(const struct cfn_ctx *c, const char *type, const char *value)
{
	for (size_t i = 0; i < c->nres; i++) {
		const struct cfn_res *r = &c->res[i];
		if (!r->active || !r->done || (type && strcmp(r->type_name, type) != 0))
			continue;
		if (r->ref && r->ref->type == CFN_STR && strcmp(r->ref->str, value) == 0)
			return (int)i;
		for (size_t k = 0; r->attrs && k < r->attrs->n; k++) {
			const struct cfn_node *v = r->attrs->entries[k].val;
			if (v->type == CFN_STR && strcmp(v->str, value) == 0)
				return (int)i;
		}
	}
	return -1;
}

static const char *path_key(struct cfn_ctx *c, const char *path, const char *key)
{
	return path && *path ? cfn_arena_printf(&c->a, "%s.%s", path, key) : key;
}

static const char *path_idx(struct cfn_ctx *c, const char *path, size_t i)
{
	return cfn_arena_printf(&c->a, "%s[%zu]", path, i);
}

static bool is_scalar(const struct cfn_node *n)
{
	return n && (n->type == CFN_STR || n->type == CFN_NUM || n->type == CFN_BOOL);
}

static const char *found_desc(struct cfn_ctx *c, const struct cfn_node *n)
{
	if (n && n->type == CFN_STR)
		return cfn_arena_printf(&c->a, "\"%s\"", n->str);
	if (n && (n->type == CFN_NUM || n->type == CFN_BOOL))
		return n->str;
	return cfn_node_type_name(n);
}

/* ---------- intrinsic functions ---------- */

static struct cfn_node *eval(struct cfn_ctx *c, struct cfn_node *n, const char *path);
static int cond_eval(struct cfn_ctx *c, struct cfn_node *n, const char *path);
static int cond_named(struct cfn_ctx *c, const char *name, const struct cfn_node *at,
                      const char *path);

static struct cfn_node *azs(struct cfn_ctx *c, const char *region, const struct cfn_node *at)
{
	struct cfn_node *l = cfn_node_new(&c->a, CFN_LIST, at->line, at->col);
	int n = strcmp(region, "us-east-1") == 0 ? 6 : 3;
	for (int i = 0; i < n; i++)
		cfn_node_push(&c->a, l,
		              cfn_node_str(&c->a, cfn_arena_printf(&c->a, "%s%c", region, 'a' + i),
		                           at->line, at->col));
	return l;
}

/* Positions results of functions at the function, so errors about a value
 * point where it was written. */
static struct cfn_node *at_pos(struct cfn_ctx *c, struct cfn_node *v, const struct cfn_node *at)
{
	if (!v || (v->line == at->line && v->col == at->col))
		return v;
	struct cfn_node *n = cfn_arena_alloc(&c->a, sizeof(*n));
	*n = *v;
	n->line = at->line;
	n->col = at->col;
	return n;
}

static struct cfn_node *pseudo(struct cfn_ctx *c, const char *name, const struct cfn_node *at)
{
	const char *v = NULL;
	if (strcmp(name, "AWS::AccountId") == 0)
		v = c->account;
	else if (strcmp(name, "AWS::Region") == 0)
		v = c->region;
	else if (strcmp(name, "AWS::StackName") == 0)
		v = c->stack;
	else if (strcmp(name, "AWS::Partition") == 0)
		v = "aws";
	else if (strcmp(name, "AWS::URLSuffix") == 0)
		v = "amazonaws.com";
	else if (strcmp(name, "AWS::StackId") == 0) {
		char h[33];
		cfn_hex(c, "AWS::StackId", "uuid", h, 32);
		v = cfn_arena_printf(
		    &c->a, "arn:aws:cloudformation:%s:%s:stack/%s/%.8s-%.4s-%.4s-%.4s-%.12s",
		    c->region, c->account, c->stack, h, h + 8, h + 12, h + 16, h + 20);
	} else if (strcmp(name, "AWS::NoValue") == 0)
		return cfn_node_new(&c->a, CFN_NOVALUE, at->line, at->col);
	else if (strcmp(name, "AWS::NotificationARNs") == 0)
		return cfn_node_new(&c->a, CFN_LIST, at->line, at->col);
	if (!v)
		return NULL;
	return cfn_node_str(&c->a, v, at->line, at->col);
}

static struct cfn_param *param_find(struct cfn_ctx *c, const char *name)
{
	for (size_t i = 0; i < c->nparams; i++)
		if (strcmp(c->params[i].name, name) == 0)
			return &c->params[i];
	return NULL;
}

static struct cfn_node *unresolved(struct cfn_ctx *c, const struct cfn_node *at, const char *path,
                                   const char *name)
{
	const char *names[512];
	size_t n = 0;
	for (size_t i = 0; i < c->nparams && n < 512; i++)
		names[n++] = c->params[i].name;
	for (size_t i = 0; i < c->nres && n < 512; i++)
		names[n++] = c->res[i].logical;
	const char *dym = cfn_did_you_mean(name, names, n);
	cfn_error_at(c, at, path,
	             "Template format error: Unresolved resource dependencies [%s] in the "
	             "Resources block of the template%s%s%s",
	             name, dym ? " (did you mean " : "", dym ? dym : "", dym ? "?)" : "");
	return NULL;
}

/* Ref NAME: a parameter, a pseudo parameter or a resource. */
static struct cfn_node *ref_value(struct cfn_ctx *c, const char *name, const struct cfn_node *at,
                                  const char *path)
{
	struct cfn_node *v = pseudo(c, name, at);
	if (v)
		return v;
	struct cfn_param *p = param_find(c, name);
	if (p)
		return p->value ? at_pos(c, p->value, at) : NULL;
	int ri = cfn_res_find(c, name);
	if (ri >= 0 && (c->in_conditions || c->no_res_refs)) {
		cfn_error_at(c, at, path, "%s can refer only to parameters, not to the resource %s",
		             c->no_res_refs ? c->where : "Conditions", name);
		return NULL;
	}
	if (ri < 0 || !c->res[ri].active)
		return unresolved(c, at, path, name);
	struct cfn_res *r = &c->res[ri];
	if (!r->done || r->failed || !r->ref)
		return NULL; /* already reported (cycle or error in r) */
	return at_pos(c, r->ref, at);
}

static struct cfn_node *getatt_value(struct cfn_ctx *c, const char *res, const char *attr,
                                     const struct cfn_node *at, const char *path)
{
	int ri = cfn_res_find(c, res);
	if (ri >= 0 && (c->in_conditions || c->no_res_refs)) {
		cfn_error_at(c, at, path, "%s can refer only to parameters, not to the resource %s",
		             c->no_res_refs ? c->where : "Conditions", res);
		return NULL;
	}
	if (ri < 0 || !c->res[ri].active) {
		const char **names = cfn_arena_alloc(&c->a, (c->nres + 1) * sizeof(*names));
		for (size_t i = 0; i < c->nres; i++)
			names[i] = c->res[i].logical;
		const char *dym = cfn_did_you_mean(res, names, c->nres);
		cfn_error_at(
		    c, at, path,
		    "Template error: instance of Fn::GetAtt references undefined resource %s%s%s%s",
		    res, dym ? " (did you mean " : "", dym ? dym : "", dym ? "?)" : "");
		return NULL;
	}
	struct cfn_res *r = &c->res[ri];
	if (r->type && r->type->attrs) {
		bool ok = false;
		size_t na = 0;
		for (; r->type->attrs[na]; na++)
			ok |= strcmp(r->type->attrs[na], attr) == 0;
		if (!ok) {
			const char *dym = cfn_did_you_mean(attr, r->type->attrs, na);
			cfn_error_at(c, at, path,
			             "Template error: resource %s does not support attribute type "
			             "%s in Fn::GetAtt%s%s%s",
			             res, attr, dym ? " (did you mean " : "", dym ? dym : "",
			             dym ? "?)" : "");
			return NULL;
		}
	}
	if (!r->done || r->failed)
		return NULL;
	struct cfn_node *v = cfn_node_get(r->attrs, attr);
	if (!v && r->type && strcmp(r->type->name, "unknown") == 0)
		/* --allow-unknown: a stand-in value, so strings can be built */
		return cfn_node_str(&c->a, cfn_arena_printf(&c->a, "%s.%s", res, attr), at->line,
		                    at->col);
	if (!v) {
		cfn_error_at(c, at, path, "Fn::GetAtt %s.%s has no value here", res, attr);
		return NULL;
	}
	return at_pos(c, v, at);
}

/* A scalar's text, or NULL with an error. */
static const char *want_str(struct cfn_ctx *c, struct cfn_node *v, const char *path,
                            const char *what)
{
	if (!v)
		return NULL;
	if (is_scalar(v))
		return v->str;
	cfn_error_at(c, v, path, "%s must be a string, found %s", what, cfn_node_type_name(v));
	return NULL;
}

static struct cfn_node *want_list(struct cfn_ctx *c, struct cfn_node *v, const char *path,
                                  const char *what)
{
	if (!v)
		return NULL;
	if (v->type == CFN_LIST)
		return v;
	cfn_error_at(c, v, path, "%s must be a list, found %s", what, found_desc(c, v));
	return NULL;
}

static struct cfn_node *fn_args(struct cfn_ctx *c, struct cfn_node *arg, size_t min, size_t max,
                                const char *fn, const char *path, const char *form)
{
	if (arg->type != CFN_LIST || arg->n < min || arg->n > max) {
		cfn_error_at(c, arg, path, "%s takes %s, found %s", fn, form, found_desc(c, arg));
		return NULL;
	}
	return arg;
}

static struct cfn_node *fn_join(struct cfn_ctx *c, struct cfn_node *fn, struct cfn_node *arg,
                                const char *path)
{
	if (!fn_args(c, arg, 2, 2, "Fn::Join", path, "[delimiter, [values]]"))
		return NULL;
	const char *delim =
	    want_str(c, eval(c, arg->items[0], path), path, "the Fn::Join delimiter");
	struct cfn_node *l =
	    want_list(c, eval(c, arg->items[1], path), path, "the Fn::Join values");
	if (!delim || !l)
		return NULL;
	size_t total = 0;
	for (size_t i = 0; i < l->n; i++) {
		if (l->items[i]->type == CFN_NOVALUE)
			continue;
		if (!want_str(c, l->items[i], path, "each Fn::Join value"))
			return NULL;
		total += l->items[i]->len + strlen(delim);
	}
	char *s = cfn_arena_alloc(&c->a, total + 1);
	size_t o = 0;
	bool first = true;
	for (size_t i = 0; i < l->n; i++) {
		if (l->items[i]->type == CFN_NOVALUE)
			continue;
		if (!first) {
			memcpy(s + o, delim, strlen(delim));
			o += strlen(delim);
		}
		first = false;
		memcpy(s + o, l->items[i]->str, l->items[i]->len);
		o += l->items[i]->len;
	}
	s[o] = 0;
	struct cfn_node *r = cfn_node_new(&c->a, CFN_STR, fn->line, fn->col);
	r->str = s;
	r->len = o;
	return r;
}

static struct cfn_node *fn_select(struct cfn_ctx *c, struct cfn_node *fn, struct cfn_node *arg,
                                  const char *path)
{
	if (!fn_args(c, arg, 2, 2, "Fn::Select", path, "[index, list]"))
		return NULL;
	const char *is = want_str(c, eval(c, arg->items[0], path), path, "the Fn::Select index");
	struct cfn_node *l =
	    want_list(c, eval(c, arg->items[1], path), path, "the Fn::Select list");
	if (!is || !l)
		return NULL;
	char *end;
	errno = 0;
	long idx = strtol(is, &end, 10);
	if (!*is || *end || errno || idx < 0) {
		cfn_error_at(c, arg->items[0], path,
		             "Fn::Select index must be a non-negative integer, found \"%s\"", is);
		return NULL;
	}
	if ((size_t)idx >= l->n) {
		cfn_error_at(
		    c, fn, path,
		    "Template error: Fn::Select cannot select nonexistent value at index %ld", idx);
		return NULL;
	}
	return at_pos(c, l->items[idx], fn);
}

static struct cfn_node *fn_split(struct cfn_ctx *c, struct cfn_node *fn, struct cfn_node *arg,
                                 const char *path)
{
	if (!fn_args(c, arg, 2, 2, "Fn::Split", path, "[delimiter, string]"))
		return NULL;
	const char *d = want_str(c, eval(c, arg->items[0], path), path, "the Fn::Split delimiter");
	const char *s = want_str(c, eval(c, arg->items[1], path), path, "the Fn::Split source");
	if (!d || !s)
		return NULL;
	if (!*d) {
		cfn_error_at(c, arg->items[0], path, "the Fn::Split delimiter must not be empty");
		return NULL;
	}
	struct cfn_node *l = cfn_node_new(&c->a, CFN_LIST, fn->line, fn->col);
	size_t dl = strlen(d);
	for (;;) {
		const char *e = strstr(s, d);
		size_t n = e ? (size_t)(e - s) : strlen(s);
		struct cfn_node *it = cfn_node_new(&c->a, CFN_STR, fn->line, fn->col);
		it->str = cfn_arena_strndup(&c->a, s, n);
		it->len = n;
		cfn_node_push(&c->a, l, it);
		if (!e)
			break;
		s = e + dl;
	}
	return l;
}

static struct cfn_node *fn_getazs(struct cfn_ctx *c, struct cfn_node *fn, struct cfn_node *arg,
                                  const char *path)
{
	const char *r = want_str(c, eval(c, arg, path), path, "the Fn::GetAZs region");
	if (!r)
		return NULL;
	return azs(c, *r ? r : c->region, fn);
}

static struct cfn_node *fn_base64(struct cfn_ctx *c, struct cfn_node *fn, struct cfn_node *arg,
                                  const char *path)
{
	static const char b64[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const char *s = want_str(c, eval(c, arg, path), path, "the Fn::Base64 value");
	if (!s)
		return NULL;
	size_t n = strlen(s);
	char *o = cfn_arena_alloc(&c->a, (n + 2) / 3 * 4 + 1);
	size_t k = 0;
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)(unsigned char)s[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)(unsigned char)s[i + 1] << 8;
		if (i + 2 < n)
			v |= (unsigned char)s[i + 2];
		o[k++] = b64[v >> 18 & 63];
		o[k++] = b64[v >> 12 & 63];
		o[k++] = i + 1 < n ? b64[v >> 6 & 63] : '=';
		o[k++] = i + 2 < n ? b64[v & 63] : '=';
	}
	o[k] = 0;
	struct cfn_node *r = cfn_node_new(&c->a, CFN_STR, fn->line, fn->col);
	r->str = o;
	r->len = k;
	return r;
}

static struct cfn_node *fn_findinmap(struct cfn_ctx *c, struct cfn_node *fn, struct cfn_node *arg,
                                     const char *path)
{
	if (!fn_args(c, arg, 3, 3, "Fn::FindInMap", path, "[MapName, TopLevelKey, SecondLevelKey]"))
		return NULL;
	const char *k[3];
	for (int i = 0; i < 3; i++)
		k[i] = want_str(c, eval(c, arg->items[i], path), path, "each Fn::FindInMap key");
	if (!k[0] || !k[1] || !k[2])
		return NULL;
	struct cfn_node *m = cfn_node_get(c->mappings, k[0]);
	if (!m) {
		cfn_error_at(c, arg->items[0], path,
		             "Fn::FindInMap: the template has no mapping %s", k[0]);
		return NULL;
	}
	struct cfn_node *t = cfn_node_get(m, k[1]);
	if (!t) {
		cfn_error_at(c, arg->items[1], path, "Fn::FindInMap: mapping %s has no key %s",
		             k[0], k[1]);
		return NULL;
	}
	struct cfn_node *v = cfn_node_get(t, k[2]);
	if (!v) {
		cfn_error_at(c, arg->items[2], path, "Fn::FindInMap: mapping %s.%s has no key %s",
		             k[0], k[1], k[2]);
		return NULL;
	}
	return at_pos(c, v, fn);
}

static struct cfn_node *fn_cidr(struct cfn_ctx *c, struct cfn_node *fn, struct cfn_node *arg,
                                const char *path)
{
	if (!fn_args(c, arg, 3, 3, "Fn::Cidr", path, "[ipBlock, count, cidrBits]"))
		return NULL;
	const char *b = want_str(c, eval(c, arg->items[0], path), path, "the Fn::Cidr ipBlock");
	const char *cs = want_str(c, eval(c, arg->items[1], path), path, "the Fn::Cidr count");
	const char *bs = want_str(c, eval(c, arg->items[2], path), path, "the Fn::Cidr cidrBits");
	if (!b || !cs || !bs)
		return NULL;
	struct cidr4 blk;
	char *e1, *e2;
	long count = strtol(cs, &e1, 10), bits = strtol(bs, &e2, 10);
	if (cidr4_parse(b, &blk) < 0) {
		cfn_error_at(c, arg->items[0], path, "Fn::Cidr: \"%s\" is not an IPv4 CIDR block",
		             b);
		return NULL;
	}
	if (!*cs || *e1 || count < 1 || count > 256) {
		cfn_error_at(c, arg->items[1], path, "Fn::Cidr: count must be 1..256, found \"%s\"",
		             cs);
		return NULL;
	}
	if (!*bs || *e2 || bits < 1 || bits > 32 - blk.prefix) {
		cfn_error_at(c, arg->items[2], path,
		             "Fn::Cidr: cidrBits must be 1..%d, found \"%s\"", 32 - blk.prefix, bs);
		return NULL;
	}
	uint8_t pfx = (uint8_t)(32 - bits);
	if ((uint64_t)count > (1ull << (pfx - blk.prefix))) {
		cfn_error_at(c, arg->items[1], path, "Fn::Cidr: %s holds only %llu /%d blocks", b,
		             (unsigned long long)(1ull << (pfx - blk.prefix)), pfx);
		return NULL;
	}
	struct cfn_node *l = cfn_node_new(&c->a, CFN_LIST, fn->line, fn->col);
	for (long i = 0; i < count; i++) {
		char a[16];
		uint32_t addr = blk.addr + (uint32_t)((uint64_t)i << bits);
		cfn_node_push(
		    &c->a, l,
		    cfn_node_str(&c->a, cfn_arena_printf(&c->a, "%s/%d", addr4_str(addr, a), pfx),
		                 fn->line, fn->col));
	}
	return l;
}

static struct cfn_node *fn_if(struct cfn_ctx *c, struct cfn_node *fn, struct cfn_node *arg,
                              const char *path)
{
	if (!fn_args(c, arg, 3, 3, "Fn::If", path,
	             "[condition_name, value_if_true, value_if_false]"))
		return NULL;
	if (arg->items[0]->type != CFN_STR) {
		cfn_error_at(c, arg->items[0], path, "Fn::If needs a condition name, found %s",
		             cfn_node_type_name(arg->items[0]));
		return NULL;
	}
	int v = cond_named(c, arg->items[0]->str, arg->items[0], path);
	if (v < 0)
		return NULL;
	(void)fn;
	return eval(c, arg->items[v ? 1 : 2], path);
}

/* Fn::Sub: "${Name}" Ref, "${Res.Attr}" GetAtt, "${!Lit}" literal "${Lit}". */
static struct cfn_node *fn_sub(struct cfn_ctx *c, struct cfn_node *fn, struct cfn_node *arg,
                               const char *path)
{
	struct cfn_node *tmpl = arg, *vars = NULL;
	if (arg->type == CFN_LIST) {
		if (!fn_args(c, arg, 2, 2, "Fn::Sub", path, "a string or [string, {variables}]"))
			return NULL;
		tmpl = arg->items[0];
		vars = arg->items[1];
		if (vars->type != CFN_MAP) {
			cfn_error_at(c, vars, path, "Fn::Sub variables must be an object, found %s",
			             found_desc(c, vars));
			return NULL;
		}
	}
	if (tmpl->type != CFN_STR) {
		cfn_error_at(c, tmpl, path,
		             "Fn::Sub takes a string or [string, {variables}], found %s",
		             found_desc(c, tmpl));
		return NULL;
	}
	size_t cap = tmpl->len + 64, o = 0;
	char *out = malloc(cap);
	if (!out)
		abort();
	bool ok = true;
	const char *s = tmpl->str;
	while (*s) {
		const char *piece = NULL;
		size_t plen = 0;
		char lit[2] = {*s, 0};
		if (s[0] == '$' && s[1] == '{') {
			const char *e = strchr(s + 2, '}');
			if (!e) {
				cfn_error_at(c, tmpl, path,
				             "Fn::Sub: \"${\" without a closing \"}\"");
				ok = false;
				break;
			}
			if (s[2] == '!') {
				piece = cfn_arena_printf(&c->a, "${%.*s}", (int)(e - s - 3), s + 3);
			} else {
				char *name = cfn_arena_strndup(&c->a, s + 2, (size_t)(e - s - 2));
				struct cfn_node *v = NULL;
				struct cfn_node *var = vars ? cfn_node_get(vars, name) : NULL;
				const char *dot = strchr(name, '.');
				if (var)
					v = eval(c, var, path);
				else if (dot && strncmp(name, "AWS::", 5) != 0) {
					char *res =
					    cfn_arena_strndup(&c->a, name, (size_t)(dot - name));
					v = getatt_value(c, res, dot + 1, fn, path);
				} else
					v = ref_value(c, name, fn, path);
				if (!v) {
					ok = false;
				} else if (!is_scalar(v)) {
					cfn_error_at(c, fn, path,
					             "Fn::Sub: ${%s} is %s, not a string", name,
					             cfn_node_type_name(v));
					ok = false;
				} else {
					piece = v->str;
				}
			}
			s = e + 1;
		} else {
			piece = lit;
			s++;
		}
		if (!piece)
			continue;
		plen = strlen(piece);
		if (o + plen + 1 > cap) {
			cap = (o + plen + 1) * 2;
			char *nb = realloc(out, cap);
			if (!nb)
				abort();
			out = nb;
		}
		memcpy(out + o, piece, plen);
		o += plen;
	}
	struct cfn_node *r = NULL;
	if (ok) {
		r = cfn_node_new(&c->a, CFN_STR, fn->line, fn->col);
		r->str = cfn_arena_strndup(&c->a, out, o);
		r->len = o;
	}
	free(out);
	return r;
}

static struct cfn_node *fn_getatt(struct cfn_ctx *c, struct cfn_node *fn, struct cfn_node *arg,
                                  const char *path)
{
	const char *res = NULL, *attr = NULL;
	if (arg->type == CFN_STR) {
		const char *dot = strchr(arg->str, '.');
		if (dot && dot != arg->str && dot[1]) {
			res = cfn_arena_strndup(&c->a, arg->str, (size_t)(dot - arg->str));
			attr = dot + 1;
		}
	} else if (arg->type == CFN_LIST && arg->n == 2 && arg->items[0]->type == CFN_STR &&
	           arg->items[0]->len) {
		res = arg->items[0]->str;
		struct cfn_node *a =
		    arg->items[1]->type == CFN_STR ? arg->items[1] : eval(c, arg->items[1], path);
		if (!a)
			return NULL;
		if (a->type == CFN_STR && a->len)
			attr = a->str;
	}
	if (!res || !attr) {
		cfn_error_at(c, fn, path,
		             "Template error: every Fn::GetAtt object requires two non-empty "
		             "parameters, the resource name and the resource attribute");
		return NULL;
	}
	return getatt_value(c, res, attr, fn, path);
}

/* Fn::ImportValue: an Export.Name of a stack loaded before this one. */
static struct cfn_node *fn_importvalue(struct cfn_ctx *c, struct cfn_node *fn, struct cfn_node *arg,
                                       const char *path)
{
	if (c->in_conditions || c->no_res_refs) {
		cfn_error_at(c, fn, path, "Fn::ImportValue cannot be used in %s",
		             c->no_res_refs ? c->where : "Conditions");
		return NULL;
	}
	bool saved = c->no_res_refs;
	const char *saved_where = c->where;
	c->no_res_refs = true; /* "may not depend on resources" */
	c->where = "Fn::ImportValue";
	const char *name = want_str(c, eval(c, arg, path), path, "the Fn::ImportValue name");
	c->no_res_refs = saved;
	c->where = saved_where;
	if (!name)
		return NULL;
	struct cfn_multi *mu = c->multi;
	for (size_t i = 0; mu && i < mu->nexports; i++)
		if (strcmp(mu->exports[i].name, name) == 0)
			return cfn_node_str(&c->a, mu->exports[i].value, fn->line, fn->col);
	const char **names = cfn_arena_alloc(&c->a, (mu ? mu->nexports : 0) * sizeof(*names) + 1);
	for (size_t i = 0; mu && i < mu->nexports; i++)
		names[i] = mu->exports[i].name;
	const char *dym = cfn_did_you_mean(name, names, mu ? mu->nexports : 0);
	cfn_error_at(c, fn, path,
	             "No export named %s found (exports come from the Outputs of stacks named "
	             "before this one: vpcd up network.yaml %s)%s%s%s",
	             name, c->file, dym ? " (did you mean " : "", dym ? dym : "", dym ? "?)" : "");
	return NULL;
}

static struct cfn_node *intrinsic(struct cfn_ctx *c, struct cfn_node *n, const char *path)
{
	const char *fn = n->entries[0].key;
	struct cfn_node *arg = n->entries[0].val;
	if (strcmp(fn, "Ref") == 0) {
		if (arg->type != CFN_STR) {
			cfn_error_at(c, n, path,
			             "Template format error: Every Ref object must have a single "
			             "String value.");
			return NULL;
		}
		return ref_value(c, arg->str, n, path);
	}
	if (strcmp(fn, "Fn::GetAtt") == 0)
		return fn_getatt(c, n, arg, path);
	if (strcmp(fn, "Fn::Join") == 0)
		return fn_join(c, n, arg, path);
	if (strcmp(fn, "Fn::Sub") == 0)
		return fn_sub(c, n, arg, path);
	if (strcmp(fn, "Fn::Select") == 0)
		return fn_select(c, n, arg, path);
	if (strcmp(fn, "Fn::Split") == 0)
		return fn_split(c, n, arg, path);
	if (strcmp(fn, "Fn::GetAZs") == 0)
		return fn_getazs(c, n, arg, path);
	if (strcmp(fn, "Fn::Base64") == 0)
		return fn_base64(c, n, arg, path);
	if (strcmp(fn, "Fn::FindInMap") == 0)
		return fn_findinmap(c, n, arg, path);
	if (strcmp(fn, "Fn::Cidr") == 0)
		return fn_cidr(c, n, arg, path);
	if (strcmp(fn, "Fn::If") == 0) {
		if (c->in_conditions) {
			cfn_error_at(c, n, path,
			             "Fn::If can be used only in Resources Properties, Metadata, "
			             "UpdatePolicy and Outputs, not in Conditions (use Fn::And, "
			             "Fn::Or, Fn::Not there)");
			return NULL;
		}
		return fn_if(c, n, arg, path);
	}
	if (strcmp(fn, "Fn::ImportValue") == 0)
		return fn_importvalue(c, n, arg, path);
	if (strcmp(fn, "Fn::Equals") == 0 || strcmp(fn, "Fn::And") == 0 ||
	    strcmp(fn, "Fn::Or") == 0 || strcmp(fn, "Fn::Not") == 0) {
		if (c->in_conditions) {
			int v = cond_eval(c, n, path);
			if (v < 0)
				return NULL;
			struct cfn_node *b = cfn_node_new(&c->a, CFN_BOOL, n->line, n->col);
			b->b = v;
			b->str = v ? "true" : "false";
			b->len = strlen(b->str);
			return b;
		}
		cfn_error_at(
		    c, n, path,
		    "%s can be used only in Conditions (use Fn::If with a condition name here)",
		    fn);
		return NULL;
	}
	if (strcmp(fn, "Fn::Length") == 0 || strcmp(fn, "Fn::ToJsonString") == 0 ||
	    strncmp(fn, "Fn::ForEach", 11) == 0) {
		cfn_error_at(
		    c, n, path,
		    "%s needs the AWS::LanguageExtensions transform, which vpcd does not support",
		    fn);
		return NULL;
	}
	static const char *const fns[] = {
	    "Ref",           "Fn::GetAtt", "Fn::Join",   "Fn::Sub",
	    "Fn::Select",    "Fn::Split",  "Fn::GetAZs", "Fn::Base64",
	    "Fn::FindInMap", "Fn::Cidr",   "Fn::If",     "Fn::ImportValue",
	    "Fn::Equals",    "Fn::And",    "Fn::Or",     "Fn::Not"};
	const char *dym = cfn_did_you_mean(fn, fns, sizeof(fns) / sizeof(fns[0]));
	cfn_error_at(c, n, path, "unknown intrinsic function %s%s%s%s", fn,
	             dym ? " (did you mean " : "", dym ? dym : "", dym ? "?)" : "");
	return NULL;
}

static bool is_intrinsic(const struct cfn_node *n)
{
	return n->type == CFN_MAP && n->n == 1 &&
	       (strcmp(n->entries[0].key, "Ref") == 0 ||
	        strncmp(n->entries[0].key, "Fn::", 4) == 0);
}

/* Evaluates n: every intrinsic replaced by its value, AWS::NoValue members
 * dropped. NULL when an error was found (and reported) inside. */
static bool budget(struct cfn_ctx *c, const struct cfn_node *n)
{
	if (++c->work <= CFN_MAX_WORK)
		return true;
	if (!c->over_budget)
		cfn_error_at(c, n, "", "the template expands to more than %d nodes (YAML aliases?)",
		             CFN_MAX_WORK);
	c->over_budget = true;
	return false;
}

static struct cfn_node *eval(struct cfn_ctx *c, struct cfn_node *n, const char *path)
{
	if (!n || !budget(c, n))
		return NULL;
	if (n->type == CFN_MAP) {
		if (is_intrinsic(n))
			return intrinsic(c, n, path);
		struct cfn_node *m = cfn_node_new(&c->a, CFN_MAP, n->line, n->col);
		bool ok = true;
		for (size_t i = 0; i < n->n; i++) {
			struct cfn_entry *e = &n->entries[i];
			for (size_t k = 0; k < i; k++)
				if (strcmp(n->entries[k].key, e->key) == 0)
					cfn_error(c, e->line, e->col, path_key(c, path, e->key),
					          "duplicate key %s", e->key);
			struct cfn_node *v = eval(c, e->val, path_key(c, path, e->key));
			if (!v)
				ok = false;
			else if (v->type != CFN_NOVALUE)
				cfn_node_put(&c->a, m, e->key, e->line, e->col, v);
		}
		return ok ? m : NULL;
	}
	if (n->type == CFN_LIST) {
		struct cfn_node *l = cfn_node_new(&c->a, CFN_LIST, n->line, n->col);
		bool ok = true;
		for (size_t i = 0; i < n->n; i++) {
			struct cfn_node *v = eval(c, n->items[i], path_idx(c, path, i));
			if (!v)
				ok = false;
			else if (v->type != CFN_NOVALUE)
				cfn_node_push(&c->a, l, v);
		}
		return ok ? l : NULL;
	}
	return n;
}

/* ---------- conditions ---------- */

static int cond_named(struct cfn_ctx *c, const char *name, const struct cfn_node *at,
                      const char *path)
{
	for (size_t i = 0; i < c->nconds; i++) {
		struct cfn_cond *k = &c->conds[i];
		if (strcmp(k->name, name) != 0)
			continue;
		if (k->state == 2)
			return k->value;
		if (k->state == 3)
			return -1;
		if (k->state == 1) {
			cfn_error_at(c, at, path,
			             "Circular dependency between conditions: %s refers to itself",
			             name);
			return -1;
		}
		k->state = 1;
		bool saved = c->in_conditions;
		c->in_conditions = true;
		int v = cond_eval(c, k->def, cfn_arena_printf(&c->a, "Conditions.%s", name));
		c->in_conditions = saved;
		k->state = v < 0 ? 3 : 2;
		k->value = v > 0;
		return v;
	}
	const char *names[256];
	size_t n = 0;
	for (size_t i = 0; i < c->nconds && n < 256; i++)
		names[n++] = c->conds[i].name;
	const char *dym = cfn_did_you_mean(name, names, n);
	cfn_error_at(c, at, path, "Template format error: Unresolved condition dependency %s%s%s%s",
	             name, dym ? " (did you mean " : "", dym ? dym : "", dym ? "?)" : "");
	return -1;
}

static int cond_eval(struct cfn_ctx *c, struct cfn_node *n, const char *path)
{
	if (n->type != CFN_MAP || n->n != 1) {
		cfn_error_at(c, n, path,
		             "a condition must be Fn::Equals, Fn::And, Fn::Or, Fn::Not or "
		             "{\"Condition\": name}, found %s",
		             found_desc(c, n));
		return -1;
	}
	const char *fn = n->entries[0].key;
	struct cfn_node *arg = n->entries[0].val;
	if (strcmp(fn, "Condition") == 0) {
		if (arg->type != CFN_STR) {
			cfn_error_at(c, arg, path, "Condition takes a condition name, found %s",
			             found_desc(c, arg));
			return -1;
		}
		return cond_named(c, arg->str, arg, path);
	}
	if (strcmp(fn, "Fn::Equals") == 0) {
		if (!fn_args(c, arg, 2, 2, "Fn::Equals", path, "[value_1, value_2]"))
			return -1;
		bool saved = c->in_conditions;
		c->in_conditions = true;
		struct cfn_node *a = eval(c, arg->items[0], path),
		                *b = eval(c, arg->items[1], path);
		c->in_conditions = saved;
		if (!a || !b)
			return -1;
		if (is_scalar(a) && is_scalar(b))
			return strcmp(a->str, b->str) == 0;
		if (a->type == CFN_LIST && b->type == CFN_LIST && a->n == b->n) {
			for (size_t i = 0; i < a->n; i++)
				if (!is_scalar(a->items[i]) || !is_scalar(b->items[i]) ||
				    strcmp(a->items[i]->str, b->items[i]->str))
					return 0;
			return 1;
		}
		return 0;
	}
	if (strcmp(fn, "Fn::And") == 0 || strcmp(fn, "Fn::Or") == 0) {
		bool is_and = fn[4] == 'A';
		if (!fn_args(c, arg, 2, 10, fn, path, "a list of 2 to 10 conditions"))
			return -1;
		int acc = is_and;
		for (size_t i = 0; i < arg->n; i++) {
			int v = cond_eval(c, arg->items[i], path);
			if (v < 0)
				return -1;
			acc = is_and ? (acc && v) : (acc || v);
		}
		return acc;
	}
	if (strcmp(fn, "Fn::Not") == 0) {
		if (!fn_args(c, arg, 1, 1, "Fn::Not", path, "[condition]"))
			return -1;
		int v = cond_eval(c, arg->items[0], path);
		return v < 0 ? -1 : !v;
	}
	cfn_error_at(c, n, path,
	             "%s is not a condition function (use Fn::Equals, Fn::And, Fn::Or, Fn::Not)",
	             fn);
	return -1;
}

/* ---------- parameters ---------- */

static bool param_is_list(const char *type)
{
	return strcmp(type, "CommaDelimitedList") == 0 || strncmp(type, "List<", 5) == 0;
}

/* AWS-specific parameter types: the id prefix their values carry ("" = any
 * text; AZ names are checked against the region). */
static const struct {
	const char *type, *prefix;
} aws_param_types[] = {
    {"AWS::EC2::AvailabilityZone::Name", NULL},
    {"AWS::EC2::Image::Id", "ami-"},
    {"AWS::EC2::Instance::Id", "i-"},
    {"AWS::EC2::KeyPair::KeyName", ""},
    {"AWS::EC2::SecurityGroup::GroupName", ""},
    {"AWS::EC2::SecurityGroup::Id", "sg-"},
    {"AWS::EC2::Subnet::Id", "subnet-"},
    {"AWS::EC2::Volume::Id", "vol-"},
    {"AWS::EC2::VPC::Id", "vpc-"},
    {"AWS::Route53::HostedZone::Id", "Z"},
    {"AWS::SSM::Parameter::Name", ""},
};

/* The element type of a parameter type: "List<X>" -> "X", a
 * CommaDelimitedList -> "String", others themselves. */
static const char *param_elem_type(struct cfn_ctx *c, const char *type)
{
	if (strcmp(type, "CommaDelimitedList") == 0)
		return "String";
	size_t n = strlen(type);
	if (strncmp(type, "List<", 5) == 0 && n > 6 && type[n - 1] == '>')
		return cfn_arena_strndup(&c->a, type + 5, n - 6);
	return type;
}

static bool param_type_ok(struct cfn_ctx *c, const char *type)
{
	if (strcmp(type, "String") == 0 || strcmp(type, "Number") == 0 ||
	    strcmp(type, "CommaDelimitedList") == 0)
		return true;
	size_t n = strlen(type);
	/* SSM parameter types hold any of the others (or a String). */
	if (strncmp(type, "AWS::SSM::Parameter::Value<", 27) == 0 && type[n - 1] == '>')
		return true;
	const char *e = type;
	if (strncmp(type, "List<", 5) == 0) {
		e = param_elem_type(c, type);
		if (strcmp(e, "Number") == 0)
			return true;
		if (strcmp(e, "AWS::EC2::KeyPair::KeyName") == 0 ||
		    strcmp(e, "AWS::SSM::Parameter::Name") == 0)
			return false; /* not list types AWS has */
	}
	for (size_t i = 0; i < sizeof(aws_param_types) / sizeof(aws_param_types[0]); i++)
		if (strcmp(e, aws_param_types[i].type) == 0)
			return true;
	return false;
}

/* An AWS-specific value: the id shape of its type (prefix and 8 or 17 hex
 * digits), an AZ of the region. AWS checks the account; vpcd has none, so
 * anything of the right shape exists. */
static bool param_aws_value_ok(struct cfn_ctx *c, const char *type, const char *v)
{
	for (size_t i = 0; i < sizeof(aws_param_types) / sizeof(aws_param_types[0]); i++) {
		if (strcmp(type, aws_param_types[i].type) != 0)
			continue;
		const char *pre = aws_param_types[i].prefix;
		if (!pre) {
			struct cfn_node at = {.line = 1, .col = 1};
			struct cfn_node *l = azs(c, c->region, &at);
			for (size_t k = 0; k < l->n; k++)
				if (strcmp(l->items[k]->str, v) == 0)
					return true;
			return false;
		}
		if (!*pre)
			return *v != 0;
		if (strncmp(v, pre, strlen(pre)) != 0)
			return false;
		const char *h = v + strlen(pre);
		if (*pre == 'Z') /* hosted zone ids: upper-case alphanumerics */
			return strlen(h) >= 1 && strlen(h) <= 31 &&
			       strspn(h, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") == strlen(h);
		/* AWS makes 8 or 17 hex digits; templates and docs use shorter
		 * made-up ones (subnet-1), which are taken. */
		size_t hl = strlen(h);
		return hl >= 1 && hl <= 17 && strspn(h, "0123456789abcdefghijklmnopqrstuvwxyz") == hl;
	}
	return true;
}

static bool is_numeric(const char *s)
{
	char *e;
	if (!*s)
		return false;
	errno = 0;
	strtod(s, &e);
	return *e == 0 && errno == 0;
}

static struct cfn_node *param_split(struct cfn_ctx *c, const char *v, const struct cfn_node *at)
{
	struct cfn_node *l = cfn_node_new(&c->a, CFN_LIST, at->line, at->col);
	if (!*v)
		return l;
	for (;;) {
		const char *e = strchr(v, ',');
		size_t n = e ? (size_t)(e - v) : strlen(v);
		const char *b = v;
		while (n && isspace((unsigned char)*b))
			b++, n--;
		while (n && isspace((unsigned char)b[n - 1]))
			n--;
		struct cfn_node *it = cfn_node_new(&c->a, CFN_STR, at->line, at->col);
		it->str = cfn_arena_strndup(&c->a, b, n);
		it->len = n;
		cfn_node_push(&c->a, l, it);
		if (!e)
			break;
		v = e + 1;
	}
	return l;
}

static void param_check_one(struct cfn_ctx *c, struct cfn_param *p, const char *v, const char *type,
                            const struct cfn_node *at, const char *path)
{
	struct cfn_node *def = p->def;
	const char *cd = NULL;
	struct cfn_node *cdn = cfn_node_get(def, "ConstraintDescription");
	if (cdn && is_scalar(cdn))
		cd = cdn->str;
	if ((strcmp(type, "Number") == 0 || strcmp(type, "List<Number>") == 0) && !is_numeric(v)) {
		cfn_error_at(c, at, path, "Parameter '%s' must be a number, found \"%s\"", p->name,
		             v);
		return;
	}
	if (!param_aws_value_ok(c, type, v)) {
		cfn_error_at(c, at, path,
		             "Parameter validation failed: parameter value %s for parameter name "
		             "%s does not exist (%s%s)",
		             v, p->name,
		             strcmp(type, "AWS::EC2::AvailabilityZone::Name") == 0
		                 ? "not an availability zone of "
		                 : "not the id shape of ",
		             strcmp(type, "AWS::EC2::AvailabilityZone::Name") == 0 ? c->region : type);
		return;
	}
	struct cfn_node *av = cfn_node_get(def, "AllowedValues");
	if (av && av->type == CFN_LIST) {
		bool found = false;
		for (size_t i = 0; i < av->n; i++)
			found |= is_scalar(av->items[i]) && strcmp(av->items[i]->str, v) == 0;
		if (!found)
			cfn_error_at(
			    c, at, path,
			    "Parameter '%s' must be one of AllowedValues, found \"%s\"%s%s",
			    p->name, v, cd ? ": " : "", cd ? cd : "");
	}
	struct cfn_node *ap = cfn_node_get(def, "AllowedPattern");
	if (ap && ap->type == CFN_STR) {
		/* Java-like regular expression, matched against the whole value. */
		int perr;
		PCRE2_SIZE eoff;
		pcre2_code *re = pcre2_compile((PCRE2_SPTR)ap->str, PCRE2_ZERO_TERMINATED,
		                               PCRE2_ANCHORED | PCRE2_ENDANCHORED, &perr, &eoff,
		                               NULL);
		if (!re) {
			PCRE2_UCHAR buf[160];
			pcre2_get_error_message(perr, buf, sizeof(buf));
			cfn_error_at(c, ap, path_key(c, path, "AllowedPattern"),
			             "invalid regular expression at offset %zu: %s", (size_t)eoff,
			             (const char *)buf);
		} else {
			pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
			if (!md)
				abort();
			if (pcre2_match(re, (PCRE2_SPTR)v, strlen(v), 0, 0, md, NULL) < 0) {
				if (cd)
					cfn_error_at(c, at, path, "Malformed input-Parameter %s %s",
					             p->name, cd);
				else
					cfn_error_at(
					    c, at, path,
					    "Malformed input-Parameter %s must match pattern %s",
					    p->name, ap->str);
			}
			pcre2_match_data_free(md);
			pcre2_code_free(re);
		}
	}
	struct cfn_node *lim;
	if ((lim = cfn_node_get(def, "MinLength")) && is_scalar(lim) &&
	    strlen(v) < (size_t)atol(lim->str))
		cfn_error_at(c, at, path, "Parameter '%s' must contain at least %s characters",
		             p->name, lim->str);
	if ((lim = cfn_node_get(def, "MaxLength")) && is_scalar(lim) &&
	    strlen(v) > (size_t)atol(lim->str))
		cfn_error_at(c, at, path, "Parameter '%s' must contain at most %s characters",
		             p->name, lim->str);
	if ((lim = cfn_node_get(def, "MinValue")) && is_scalar(lim) && is_numeric(v) &&
	    strtod(v, NULL) < strtod(lim->str, NULL))
		cfn_error_at(c, at, path, "Parameter '%s' must be a number not less than %s",
		             p->name, lim->str);
	if ((lim = cfn_node_get(def, "MaxValue")) && is_scalar(lim) && is_numeric(v) &&
	    strtod(v, NULL) > strtod(lim->str, NULL))
		cfn_error_at(c, at, path, "Parameter '%s' must be a number not greater than %s",
		             p->name, lim->str);
}

static const char *const param_props[] = {
    "Type",        "Default",   "AllowedValues", "AllowedPattern", "ConstraintDescription",
    "Description", "MaxLength", "MinLength",     "MaxValue",       "MinValue",
    "NoEcho",      NULL};

/* kv: "Key=Value" strings; strict: a key the template lacks is an error. */
static void params_load(struct cfn_ctx *c, const char *const *kv_in, size_t nkv, bool strict)
{
	struct cfn_node *ps = cfn_node_get(c->root, "Parameters");
	if (ps && ps->type != CFN_MAP) {
		cfn_error_at(c, ps, "Parameters", "expected an object, found %s",
		             found_desc(c, ps));
		ps = NULL;
	}
	c->nparams = ps ? ps->n : 0;
	if (c->nparams > 200)
		cfn_error_at(c, ps, "Parameters",
		             "Template format error: Number of parameters, %zu, is greater than "
		             "maximum allowed, 200",
		             c->nparams);
	c->params = cfn_arena_alloc(&c->a, (c->nparams + 1) * sizeof(*c->params));
	for (size_t i = 0; i < c->nparams; i++) {
		struct cfn_param *p = &c->params[i];
		p->name = ps->entries[i].key;
		p->line = ps->entries[i].line;
		p->col = ps->entries[i].col;
		p->def = ps->entries[i].val;
	}
	/* --param overrides, checked against the template's names. */
	const char **given = cfn_arena_alloc(&c->a, (c->nparams + 1) * sizeof(*given));
	for (size_t k = 0; k < nkv; k++) {
		const char *kv = kv_in[k];
		const char *eq = strchr(kv, '=');
		if (!eq) {
			cfn_error(c, 1, 1, "", "--param %s: expected KEY=VALUE", kv);
			continue;
		}
		char *key = cfn_arena_strndup(&c->a, kv, (size_t)(eq - kv));
		struct cfn_param *p = param_find(c, key);
		if (!p && !strict)
			continue; /* another stack's parameter */
		if (!p && c->nested) {
			cfn_error(c, ps ? ps->line : 1, ps ? ps->col : 1, "",
			          "Parameters: [%s] do not exist in the template", key);
			continue;
		}
		if (!p) {
			const char **names =
			    cfn_arena_alloc(&c->a, (c->nparams + 1) * sizeof(*names));
			for (size_t i = 0; i < c->nparams; i++)
				names[i] = c->params[i].name;
			const char *dym = cfn_did_you_mean(key, names, c->nparams);
			cfn_error(c, ps ? ps->line : 1, ps ? ps->col : 1, "",
			          "--param %s: the template has no parameter %s%s%s%s", key, key,
			          dym ? " (did you mean " : "", dym ? dym : "", dym ? "?)" : "");
			continue;
		}
		given[p - c->params] = eq + 1;
	}
	char missing[2048];
	size_t mo = 0;
	bool truncated = false, ssm = false;
	struct cfn_param *first_missing = NULL;
	missing[0] = 0;
	for (size_t i = 0; i < c->nparams; i++) {
		struct cfn_param *p = &c->params[i];
		const char *path = cfn_arena_printf(&c->a, "Parameters.%s", p->name);
		if (p->def->type != CFN_MAP) {
			cfn_error_at(c, p->def, path, "expected an object, found %s",
			             found_desc(c, p->def));
			continue;
		}
		for (size_t k = 0; k < p->def->n; k++) {
			bool known = false;
			for (int j = 0; param_props[j]; j++)
				known |= strcmp(param_props[j], p->def->entries[k].key) == 0;
			if (!known) {
				const char *dym =
				    cfn_did_you_mean(p->def->entries[k].key, param_props, 11);
				cfn_error(c, p->def->entries[k].line, p->def->entries[k].col,
				          path_key(c, path, p->def->entries[k].key),
				          "unknown parameter property%s%s%s",
				          dym ? " (did you mean " : "", dym ? dym : "",
				          dym ? "?)" : "");
			}
		}
		struct cfn_node *tn = cfn_node_get(p->def, "Type");
		if (!tn || tn->type != CFN_STR) {
			cfn_error_at(c, tn ? tn : p->def, path_key(c, path, "Type"),
			             "every parameter needs a Type (a string)");
			continue;
		}
		const char *type = tn->str;
		if (!param_type_ok(c, type)) {
			cfn_error_at(c, tn, path_key(c, path, "Type"), "unknown parameter type %s",
			             type);
			continue;
		}
		const char *v = given[i];
		const struct cfn_node *at = p->def;
		struct cfn_node *dn = cfn_node_get(p->def, "Default");
		if (!v && dn) {
			at = dn;
			if (is_scalar(dn)) {
				v = dn->str;
			} else if (dn->type == CFN_LIST) {
				/* A list default is taken as its comma-joined form. */
				struct cfn_node *args =
				    cfn_node_new(&c->a, CFN_LIST, dn->line, dn->col);
				cfn_node_push(&c->a, args,
				              cfn_node_str(&c->a, ",", dn->line, dn->col));
				cfn_node_push(&c->a, args, dn);
				struct cfn_node *j =
				    fn_join(c, dn, args, path_key(c, path, "Default"));
				v = j ? j->str : NULL;
			} else if (is_intrinsic(dn)) {
				cfn_error_at(c, dn, path_key(c, path, "Default"),
				             "Template format error: a parameter's Default is a "
				             "literal; %s cannot be used in Parameters",
				             dn->entries[0].key);
				continue;
			} else {
				cfn_error_at(c, dn, path_key(c, path, "Default"),
				             "expected a string, found %s", found_desc(c, dn));
				continue;
			}
		}
		if (!v) {
			/* AWS names every missing one in a single message. */
			size_t l = strlen(p->name);
			if (mo + l + 3 > sizeof(missing)) {
				truncated = true;
			} else {
				if (mo) {
					memcpy(missing + mo, ", ", 2);
					mo += 2;
				}
				memcpy(missing + mo, p->name, l + 1);
				mo += l;
			}
			if (!first_missing)
				first_missing = p;
			ssm |= strncmp(type, "AWS::SSM::Parameter::", 21) == 0;
			continue;
		}
		if (param_is_list(type)) {
			struct cfn_node *l = param_split(c, v, at);
			const char *et = param_elem_type(c, type);
			for (size_t k = 0; k < l->n; k++)
				param_check_one(c, p, l->items[k]->str, et, at, path);
			p->value = l;
		} else {
			param_check_one(c, p, v,
			                strncmp(type, "AWS::SSM::", 10) == 0 ? "String" : type, at,
			                path);
			p->value = cfn_node_str(&c->a, v, at->line, at->col);
		}
	}
	if (first_missing)
		cfn_error(c, first_missing->line, first_missing->col, "",
		          "Parameters: [%s%s] must have values (give them with --param KEY=VALUE "
		          "or --params FILE%s)",
		          missing, truncated ? ", ..." : "",
		          ssm ? "; an SSM parameter type always needs a value here" : "");
}

/* ---------- dependencies ---------- */

static void dep_add(struct cfn_ctx *c, struct cfn_res *r, const char *name)
{
	int d = cfn_res_find(c, name);
	if (d < 0 || !c->res[d].active)
		return;
	for (size_t i = 0; i < r->ndeps; i++)
		if (r->deps[i] == d)
			return;
	int *nd = cfn_arena_alloc(&c->a, (r->ndeps + 1) * sizeof(*nd));
	if (r->ndeps)
		memcpy(nd, r->deps, r->ndeps * sizeof(*nd));
	nd[r->ndeps++] = d;
	r->deps = nd;
}

static void deps_scan(struct cfn_ctx *c, struct cfn_res *r, const struct cfn_node *n)
{
	if (!n || !budget(c, n))
		return;
	if (n->type == CFN_LIST) {
		for (size_t i = 0; i < n->n; i++)
			deps_scan(c, r, n->items[i]);
		return;
	}
	if (n->type != CFN_MAP)
		return;
	if (n->n == 1) {
		const char *k = n->entries[0].key;
		const struct cfn_node *v = n->entries[0].val;
		if (strcmp(k, "Ref") == 0 && v->type == CFN_STR) {
			dep_add(c, r, v->str);
			return;
		}
		if (strcmp(k, "Fn::GetAtt") == 0) {
			if (v->type == CFN_LIST && v->n >= 1 && v->items[0]->type == CFN_STR)
				dep_add(c, r, v->items[0]->str);
			else if (v->type == CFN_STR) {
				const char *dot = strchr(v->str, '.');
				if (dot)
					dep_add(c, r,
					        cfn_arena_strndup(&c->a, v->str,
					                          (size_t)(dot - v->str)));
			}
			return;
		}
		if (strcmp(k, "Fn::Sub") == 0) {
			const struct cfn_node *t = v, *vars = NULL;
			if (v->type == CFN_LIST && v->n == 2) {
				t = v->items[0];
				vars = v->items[1];
				deps_scan(c, r, vars);
			}
			if (t->type == CFN_STR) {
				for (const char *s = strstr(t->str, "${"); s;
				     s = strstr(s + 2, "${")) {
					const char *e = strchr(s, '}');
					if (!e)
						break;
					if (s[2] == '!')
						continue;
					char *name =
					    cfn_arena_strndup(&c->a, s + 2, (size_t)(e - s - 2));
					if (vars && cfn_node_get(vars, name))
						continue;
					char *dot = strchr(name, '.');
					if (dot)
						*dot = 0;
					dep_add(c, r, name);
				}
			}
			return;
		}
	}
	for (size_t i = 0; i < n->n; i++)
		deps_scan(c, r, n->entries[i].val);
}

static const char *const res_keys[] = {"Type",      "Properties",     "DependsOn",
                                       "Condition", "DeletionPolicy", "UpdateReplacePolicy",
                                       "Metadata",  "CreationPolicy", "UpdatePolicy",
                                       NULL};

static void resources_load(struct cfn_ctx *c)
{
	struct cfn_node *rs = cfn_node_get(c->root, "Resources");
	if (!rs) {
		cfn_error_at(
		    c, c->root, "",
		    "Template format error: At least one Resources member must be defined.");
		return;
	}
	if (rs->type != CFN_MAP || rs->n == 0) {
		cfn_error_at(
		    c, rs, "Resources",
		    "Template format error: At least one Resources member must be defined.");
		return;
	}
	if (rs->n > 500)
		cfn_error_at(c, rs, "Resources",
		             "Template format error: Number of resources, %zu, is greater than "
		             "maximum allowed, 500",
		             rs->n);
	c->nres = rs->n;
	c->res = cfn_arena_alloc(&c->a, rs->n * sizeof(*c->res));
	for (size_t i = 0; i < rs->n; i++) {
		struct cfn_res *r = &c->res[i];
		struct cfn_entry *e = &rs->entries[i];
		r->logical = e->key;
		r->line = e->line;
		r->col = e->col;
		r->def = e->val;
		r->model_index = -1;
		r->file = c->file;
		r->path = cfn_arena_printf(&c->a, "Resources.%s", r->logical);
		for (size_t j = 0; j < i; j++)
			if (strcmp(c->res[j].logical, r->logical) == 0)
				cfn_error(c, e->line, e->col, r->path, "duplicate logical id %s",
				          r->logical);
		bool alnum = *r->logical != 0;
		for (const char *p = r->logical; *p; p++)
			alnum &= isalnum((unsigned char)*p) != 0;
		if (!alnum)
			cfn_error(c, e->line, e->col, r->path,
			          "a logical id must be alphanumeric (A-Za-z0-9)");
		if (r->def->type != CFN_MAP) {
			cfn_error_at(c, r->def, r->path, "expected an object, found %s",
			             found_desc(c, r->def));
			r->failed = true;
			continue;
		}
		for (size_t k = 0; k < r->def->n; k++) {
			const char *key = r->def->entries[k].key;
			bool known = false;
			for (int j = 0; res_keys[j]; j++)
				known |= strcmp(res_keys[j], key) == 0;
			if (!known) {
				const char *dym = cfn_did_you_mean(key, res_keys, 9);
				cfn_error(
				    c, r->def->entries[k].line, r->def->entries[k].col,
				    path_key(c, r->path, key), "unknown resource attribute%s%s%s",
				    dym ? " (did you mean " : "", dym ? dym : "", dym ? "?)" : "");
			}
		}
		struct cfn_node *dp = cfn_node_get(r->def, "DeletionPolicy");
		static const char *const policies[] = {"Delete", "Retain", "Snapshot",
		                                       "RetainExceptOnCreate", NULL};
		for (int pass = 0; pass < 2; pass++) {
			if (pass)
				dp = cfn_node_get(r->def, "UpdateReplacePolicy");
			if (!dp)
				continue;
			bool ok = false;
			for (int j = 0; policies[j] && dp->type == CFN_STR; j++)
				ok |= strcmp(policies[j], dp->str) == 0;
			if (!ok)
				cfn_error_at(
				    c, dp,
				    path_key(c, r->path,
				             pass ? "UpdateReplacePolicy" : "DeletionPolicy"),
				    "must be one of Delete, Retain, Snapshot, "
				    "RetainExceptOnCreate; found %s",
				    found_desc(c, dp));
		}
		struct cfn_node *t = cfn_node_get(r->def, "Type");
		if (!t || t->type != CFN_STR) {
			cfn_error_at(c, t ? t : r->def, path_key(c, r->path, "Type"),
			             "every resource needs a Type (a string)");
			r->failed = true;
			continue;
		}
		r->type_name = t->str;
		r->type = cfn_type_find(t->str);
		if (!r->type)
			r->type = cfn_type_find_extra(t->str);
		if (!r->type && c->multi && c->multi->opt->allow_unknown) {
			/* Kept, with no schema and no effect, so the plan lists it. */
			static const struct cfn_type unknown = {"unknown", true, NULL, NULL,
			                                        NULL,      NULL, NULL};
			r->type = &unknown;
			cfn_warn_at(c, t, path_key(c, r->path, "Type"),
			            "unknown resource type %s: accepted with no effect "
			            "(--allow-unknown); its Ref is its logical id",
			            t->str);
		} else if (!r->type) {
			cfn_error_at(c, t, path_key(c, r->path, "Type"),
			             "unknown resource type %s (vpcd cannot run it; --allow-unknown "
			             "accepts it with no effect)",
			             t->str);
			r->failed = true;
		}
	}
	/* Conditions of resources. */
	for (size_t i = 0; i < c->nres; i++) {
		struct cfn_res *r = &c->res[i];
		r->active = true;
		struct cfn_node *cn =
		    r->def->type == CFN_MAP ? cfn_node_get(r->def, "Condition") : NULL;
		if (!cn)
			continue;
		if (cn->type != CFN_STR) {
			cfn_error_at(c, cn, path_key(c, r->path, "Condition"),
			             "expected a condition name, found %s", found_desc(c, cn));
			continue;
		}
		int v = cond_named(c, cn->str, cn, path_key(c, r->path, "Condition"));
		r->active = v != 0;
	}
	/* References and DependsOn. */
	for (size_t i = 0; i < c->nres; i++) {
		struct cfn_res *r = &c->res[i];
		if (!r->active || r->def->type != CFN_MAP)
			continue;
		deps_scan(c, r, cfn_node_get(r->def, "Properties"));
		struct cfn_node *d = cfn_node_get(r->def, "DependsOn");
		if (!d)
			continue;
		const char *dpath = path_key(c, r->path, "DependsOn");
		struct cfn_node one = {.type = CFN_LIST, .n = 1, .items = &d};
		struct cfn_node *list = d->type == CFN_LIST ? d : &one;
		for (size_t k = 0; k < list->n; k++) {
			struct cfn_node *it = list->items[k];
			if (it->type != CFN_STR) {
				cfn_error_at(
				    c, it, dpath,
				    "DependsOn takes a logical id or a list of them, found %s",
				    found_desc(c, it));
				continue;
			}
			int di = cfn_res_find(c, it->str);
			if (di < 0) {
				const char **names =
				    cfn_arena_alloc(&c->a, c->nres * sizeof(*names));
				for (size_t j = 0; j < c->nres; j++)
					names[j] = c->res[j].logical;
				const char *dym = cfn_did_you_mean(it->str, names, c->nres);
				cfn_error_at(
				    c, it, dpath,
				    "Template format error: Unresolved resource dependencies [%s] "
				    "in the Resources block of the template%s%s%s",
				    it->str, dym ? " (did you mean " : "", dym ? dym : "",
				    dym ? "?)" : "");
				continue;
			}
			if (!c->res[di].active) {
				cfn_error_at(c, it, dpath,
				             "DependsOn %s, which its Condition leaves out",
				             it->str);
				continue;
			}
			dep_add(c, r, it->str);
		}
	}
}

/* Creation order: a topological order, ties broken by template order. */
static void resources_order(struct cfn_ctx *c)
{
	c->order = cfn_arena_alloc(&c->a, (c->nres + 1) * sizeof(*c->order));
	bool *placed = cfn_arena_alloc(&c->a, c->nres + 1);
	size_t nactive = 0;
	for (size_t i = 0; i < c->nres; i++)
		nactive += c->res[i].active;
	for (;;) {
		bool progress = false;
		for (size_t i = 0; i < c->nres; i++) {
			struct cfn_res *r = &c->res[i];
			if (!r->active || placed[i])
				continue;
			bool ready = true;
			for (size_t k = 0; k < r->ndeps && ready; k++)
				ready = placed[r->deps[k]];
			if (!ready)
				continue;
			placed[i] = true;
			c->order[c->norder++] = (int)i;
			progress = true;
			break; /* restart from the top: ties go to template order */
		}
		if (!progress)
			break;
	}
	if (c->norder == nactive)
		return;
	/* Left: the cycles and what hangs on them. Peel off resources that no
	 * other left resource depends on, so the message names the cycle. */
	bool *left = cfn_arena_alloc(&c->a, c->nres + 1);
	for (size_t i = 0; i < c->nres; i++)
		left[i] = c->res[i].active && !placed[i];
	for (bool changed = true; changed;) {
		changed = false;
		for (size_t i = 0; i < c->nres; i++) {
			if (!left[i])
				continue;
			bool needed = false;
			for (size_t j = 0; j < c->nres && !needed; j++)
				for (size_t k = 0; left[j] && k < c->res[j].ndeps; k++)
					needed |= c->res[j].deps[k] == (int)i;
			if (!needed) {
				left[i] = false;
				changed = true;
			}
		}
	}
	size_t cap = 64, o = 0;
	char *names = cfn_arena_alloc(&c->a, cap);
	int first = -1;
	for (size_t i = 0; i < c->nres; i++) {
		if (!left[i])
			continue;
		if (first < 0)
			first = (int)i;
		size_t l = strlen(c->res[i].logical);
		if (o + l + 3 > cap) {
			char *nn = cfn_arena_alloc(&c->a, (o + l + 3) * 2);
			memcpy(nn, names, o);
			names = nn;
			cap = (o + l + 3) * 2;
		}
		if (o) {
			memcpy(names + o, ", ", 2);
			o += 2;
		}
		memcpy(names + o, c->res[i].logical, l);
		o += l;
	}
	names[o] = 0;
	if (first >= 0)
		cfn_error(c, c->res[first].line, c->res[first].col, "Resources",
		          "Circular dependency between resources: [%s]", names);
	for (size_t i = 0; i < c->nres; i++)
		if (c->res[i].active && !placed[i])
			c->res[i].failed = true;
}

static void resources_eval(struct cfn_ctx *c)
{
	for (size_t k = 0; k < c->norder; k++) {
		struct cfn_res *r = &c->res[c->order[k]];
		if (r->failed)
			continue;
		struct cfn_node *p = cfn_node_get(r->def, "Properties");
		const char *pp = path_key(c, r->path, "Properties");
		if (p && p->type != CFN_MAP && !is_intrinsic(p)) {
			cfn_error_at(c, p, pp, "expected an object, found %s", found_desc(c, p));
			r->failed = true;
			continue;
		}
		r->props = p ? eval(c, p, pp) : NULL;
		if (!p || (r->props && r->props->type == CFN_NOVALUE))
			r->props = cfn_node_new(&c->a, CFN_MAP, r->line, r->col);
		if (!r->props || r->props->type != CFN_MAP) {
			if (r->props)
				cfn_error_at(c, r->props, pp, "expected an object, found %s",
				             found_desc(c, r->props));
			r->failed = true;
			continue;
		}
		r->done = true;
		if (r->type && r->type->values)
			r->type->values(c, r);
		if (!r->ref)
			cfn_attr_set(c, r, NULL, r->logical);
	}
}

static void outputs_eval(struct cfn_ctx *c)
{
	struct cfn_node *os = cfn_node_get(c->root, "Outputs");
	if (!os)
		return;
	if (os->type != CFN_MAP) {
		cfn_error_at(c, os, "Outputs", "expected an object, found %s", found_desc(c, os));
		return;
	}
	struct model *m = c->m;
	if (os->n > 200)
		cfn_error_at(c, os, "Outputs",
		             "Template format error: Number of outputs, %zu, is greater than "
		             "maximum allowed, 200",
		             os->n);
	m->outputs = calloc(os->n ? os->n : 1, sizeof(*m->outputs));
	if (!m->outputs)
		abort();
	for (size_t i = 0; i < os->n; i++) {
		const char *path = cfn_arena_printf(&c->a, "Outputs.%s", os->entries[i].key);
		struct cfn_node *o = os->entries[i].val;
		if (o->type != CFN_MAP) {
			cfn_error_at(c, o, path, "expected an object, found %s", found_desc(c, o));
			continue;
		}
		struct cfn_node *cn = cfn_node_get(o, "Condition");
		if (cn) {
			if (cn->type != CFN_STR) {
				cfn_error_at(c, cn, path_key(c, path, "Condition"),
				             "expected a condition name, found %s",
				             found_desc(c, cn));
				continue;
			}
			if (cond_named(c, cn->str, cn, path_key(c, path, "Condition")) != 1)
				continue;
		}
		struct cfn_node *vn = cfn_node_get(o, "Value");
		if (!vn) {
			cfn_error_at(c, o, path,
			             "Template format error: Every Outputs member must contain a "
			             "Value object");
			continue;
		}
		struct cfn_node *v = eval(c, vn, path_key(c, path, "Value"));
		struct cfn_node *en = cfn_node_get(cfn_node_get(o, "Export"), "Name");
		c->no_res_refs = true;
		c->where = "an Export Name";
		struct cfn_node *ev = en ? eval(c, en, path_key(c, path, "Export.Name")) : NULL;
		c->no_res_refs = false;
		if (ev && !is_scalar(ev)) {
			cfn_error_at(c, ev, path_key(c, path, "Export.Name"),
			             "an Export Name must be a string, found %s", found_desc(c, ev));
			ev = NULL;
		}
		if (!v || v->type == CFN_NOVALUE)
			continue;
		const char *s = NULL;
		if (is_scalar(v)) {
			s = v->str;
		} else if (v->type == CFN_LIST) {
			struct cfn_node *args = cfn_node_new(&c->a, CFN_LIST, v->line, v->col);
			cfn_node_push(&c->a, args, cfn_node_str(&c->a, ",", v->line, v->col));
			cfn_node_push(&c->a, args, v);
			struct cfn_node *j = fn_join(c, v, args, path_key(c, path, "Value"));
			s = j ? j->str : NULL;
		} else {
			cfn_error_at(c, v, path_key(c, path, "Value"),
			             "an output value must be a string, found %s",
			             found_desc(c, v));
		}
		if (!s)
			continue;
		struct model_output *mo = &m->outputs[m->noutputs++];
		mo->logical = strdup(os->entries[i].key);
		mo->value = strdup(s);
		mo->export_name = ev && is_scalar(ev) ? strdup(ev->str) : NULL;
		struct cfn_multi *mu = c->multi;
		if (!ev || !mu)
			continue;
		bool dup = false;
		for (size_t k = 0; k < mu->nexports && !dup; k++) {
			if (strcmp(mu->exports[k].name, ev->str) != 0)
				continue;
			cfn_error_at(c, ev, path_key(c, path, "Export.Name"),
			             "Export with name %s is already exported by stack %s", ev->str,
			             mu->exports[k].stack);
			dup = true;
		}
		if (dup)
			continue;
		if (mu->nexports == mu->capexports) {
			mu->capexports = mu->capexports ? 2 * mu->capexports : 16;
			mu->exports = realloc(mu->exports, mu->capexports * sizeof(*mu->exports));
			if (!mu->exports)
				abort();
		}
		mu->exports[mu->nexports++] = (struct cfn_export){
		    cfn_arena_strdup(&c->a, ev->str), cfn_arena_strdup(&c->a, s), c->stack};
	}
}

static void conditions_load(struct cfn_ctx *c)
{
	struct cfn_node *cs = cfn_node_get(c->root, "Conditions");
	if (!cs)
		return;
	if (cs->type != CFN_MAP) {
		cfn_error_at(c, cs, "Conditions", "expected an object, found %s",
		             found_desc(c, cs));
		return;
	}
	c->nconds = cs->n;
	c->conds = cfn_arena_alloc(&c->a, (cs->n + 1) * sizeof(*c->conds));
	for (size_t i = 0; i < cs->n; i++) {
		c->conds[i].name = cs->entries[i].key;
		c->conds[i].line = cs->entries[i].line;
		c->conds[i].col = cs->entries[i].col;
		c->conds[i].def = cs->entries[i].val;
	}
}

/* Every condition is checked, used or not (after the resource list is known,
 * so a Ref to a resource gets the right message). */
/* ---------- Rules ---------- */

/* A scalar or list value of a rule function's argument, as strings. */
static struct cfn_node *rule_value(struct cfn_ctx *c, struct cfn_node *n, const char *path)
{
	struct cfn_node *v = eval(c, n, path);
	if (v && is_scalar(v)) {
		struct cfn_node *l = cfn_node_new(&c->a, CFN_LIST, v->line, v->col);
		cfn_node_push(&c->a, l, v);
		return l;
	}
	if (v && v->type == CFN_LIST) {
		for (size_t i = 0; i < v->n; i++)
			if (!is_scalar(v->items[i])) {
				cfn_error_at(c, v, path, "expected a list of strings, found %s",
				             found_desc(c, v->items[i]));
				return NULL;
			}
		return v;
	}
	if (v)
		cfn_error_at(c, v, path, "expected a string or a list of strings, found %s",
		             found_desc(c, v));
	return NULL;
}

static bool in_list(const struct cfn_node *l, const char *s)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->items[i]->str, s) == 0)
			return true;
	return false;
}

/* A rule-specific condition: Fn::Equals, Fn::And, Fn::Or, Fn::Not,
 * Fn::Contains, Fn::EachMemberEquals, Fn::EachMemberIn over parameter
 * values; 1, 0, or -1 after an error. */
static int rule_eval(struct cfn_ctx *c, struct cfn_node *n, const char *path)
{
	if (n->type != CFN_MAP || n->n != 1) {
		cfn_error_at(c, n, path, "a rule condition must be a rule function, found %s",
		             found_desc(c, n));
		return -1;
	}
	const char *fn = n->entries[0].key;
	struct cfn_node *arg = n->entries[0].val;
	if (strcmp(fn, "Fn::And") == 0 || strcmp(fn, "Fn::Or") == 0) {
		bool is_and = fn[4] == 'A';
		if (!fn_args(c, arg, 2, 10, fn, path, "a list of 2 to 10 conditions"))
			return -1;
		int acc = is_and;
		for (size_t i = 0; i < arg->n; i++) {
			int v = rule_eval(c, arg->items[i], path);
			if (v < 0)
				return -1;
			acc = is_and ? (acc && v) : (acc || v);
		}
		return acc;
	}
	if (strcmp(fn, "Fn::Not") == 0) {
		if (!fn_args(c, arg, 1, 1, fn, path, "[condition]"))
			return -1;
		int v = rule_eval(c, arg->items[0], path);
		return v < 0 ? -1 : !v;
	}
	if (strcmp(fn, "Fn::Equals") == 0)
		return cond_eval(c, n, path);
	if (strcmp(fn, "Fn::Contains") == 0 || strcmp(fn, "Fn::EachMemberEquals") == 0 ||
	    strcmp(fn, "Fn::EachMemberIn") == 0) {
		if (!fn_args(c, arg, 2, 2, fn, path, "two arguments"))
			return -1;
		struct cfn_node *a = rule_value(c, arg->items[0], path);
		struct cfn_node *b = rule_value(c, arg->items[1], path);
		if (!a || !b)
			return -1;
		if (strcmp(fn, "Fn::Contains") == 0) /* [list, string] */
			return b->n == 1 && in_list(a, b->items[0]->str);
		if (strcmp(fn, "Fn::EachMemberEquals") == 0) { /* [list, string] */
			for (size_t i = 0; i < a->n; i++)
				if (b->n != 1 || strcmp(a->items[i]->str, b->items[0]->str) != 0)
					return 0;
			return 1;
		}
		for (size_t i = 0; i < a->n; i++) /* EachMemberIn [list, list] */
			if (!in_list(b, a->items[i]->str))
				return 0;
		return 1;
	}
	if (strcmp(fn, "Fn::ValueOf") == 0 || strcmp(fn, "Fn::ValueOfAll") == 0 ||
	    strcmp(fn, "Fn::RefAll") == 0) {
		cfn_error_at(c, n, path,
		             "%s looks up resources of the account, which vpcd does not have", fn);
		return -1;
	}
	static const char *const fns[] = {"Fn::And",      "Fn::Or",
	                                  "Fn::Not",      "Fn::Equals",
	                                  "Fn::Contains", "Fn::EachMemberEquals",
	                                  "Fn::EachMemberIn"};
	const char *dym = cfn_did_you_mean(fn, fns, sizeof(fns) / sizeof(fns[0]));
	cfn_error_at(c, n, path, "%s is not a rule function%s%s%s", fn,
	             dym ? " (did you mean " : "", dym ? dym : "", dym ? "?)" : "");
	return -1;
}

/* Rules: each whose RuleCondition holds (or that has none) must have every
 * Assert true; a false one is reported with its AssertDescription. They see
 * parameters only. */
static void rules_check(struct cfn_ctx *c)
{
	struct cfn_node *rs = cfn_node_get(c->root, "Rules");
	if (!rs)
		return;
	if (rs->type != CFN_MAP) {
		cfn_error_at(c, rs, "Rules", "expected an object, found %s", found_desc(c, rs));
		return;
	}
	static const char *const rkeys[] = {"RuleCondition", "Assertions", NULL};
	static const char *const akeys[] = {"Assert", "AssertDescription", NULL};
	static const char *const areq[] = {"Assert", NULL};
	bool saved = c->in_conditions, saved_nr = c->no_res_refs;
	const char *saved_where = c->where;
	c->in_conditions = true;
	c->no_res_refs = true;
	c->where = "Rules";
	for (size_t i = 0; i < rs->n; i++) {
		const char *rp = cfn_arena_printf(&c->a, "Rules.%s", rs->entries[i].key);
		struct cfn_node *r = rs->entries[i].val;
		if (r->type != CFN_MAP) {
			cfn_error_at(c, r, rp, "expected an object, found %s", found_desc(c, r));
			continue;
		}
		cfn__check_keys(c, r, rp, rkeys, rkeys + 1, "rule property");
		struct cfn_node *rc = cfn_node_get(r, "RuleCondition");
		if (rc) {
			int v = rule_eval(c, rc, path_key(c, rp, "RuleCondition"));
			if (v <= 0)
				continue;
		}
		struct cfn_node *as = cfn_node_get(r, "Assertions");
		if (!as)
			continue;
		if (as->type != CFN_LIST) {
			cfn_error_at(c, as, path_key(c, rp, "Assertions"), "expected a list, found %s",
			             found_desc(c, as));
			continue;
		}
		for (size_t k = 0; k < as->n; k++) {
			const char *ap = path_idx(c, path_key(c, rp, "Assertions"), k);
			struct cfn_node *a = as->items[k];
			if (a->type != CFN_MAP || !cfn_node_get(a, "Assert")) {
				cfn_error_at(c, a, ap, "an assertion is {Assert: ..., AssertDescription: "
				                       "...}");
				continue;
			}
			cfn__check_keys(c, a, ap, akeys, areq, "assertion property");
			if (rule_eval(c, cfn_node_get(a, "Assert"), path_key(c, ap, "Assert")) != 0)
				continue;
			struct cfn_node *d = cfn_node_get(a, "AssertDescription");
			cfn_error_at(c, cfn_node_get(a, "Assert"), path_key(c, ap, "Assert"),
			             "Template error: rule %s failed: %s", rs->entries[i].key,
			             d && is_scalar(d) ? d->str : "an assertion is false");
		}
	}
	c->in_conditions = saved;
	c->no_res_refs = saved_nr;
	c->where = saved_where;
}

static void conditions_check(struct cfn_ctx *c)
{
	for (size_t i = 0; i < c->nconds; i++)
		cond_named(c, c->conds[i].name, c->conds[i].def,
		           cfn_arena_printf(&c->a, "Conditions.%s", c->conds[i].name));
}

static const char *const sections[] = {"AWSTemplateFormatVersion",
                                       "Description",
                                       "Metadata",
                                       "Parameters",
                                       "Rules",
                                       "Mappings",
                                       "Conditions",
                                       "Transform",
                                       "Resources",
                                       "Outputs",
                                       NULL};

static void anatomy_check(struct cfn_ctx *c)
{
	if (c->root->type != CFN_MAP) {
		cfn_error_at(c, c->root, "",
		             "Template format error: the template must be an object, found %s",
		             found_desc(c, c->root));
		return;
	}
	for (size_t i = 0; i < c->root->n; i++) {
		struct cfn_entry *e = &c->root->entries[i];
		bool known = false;
		for (int j = 0; sections[j]; j++)
			known |= strcmp(sections[j], e->key) == 0;
		if (!known) {
			const char *dym = cfn_did_you_mean(e->key, sections, 10);
			cfn_error(c, e->line, e->col, e->key,
			          "Template format error: unknown top-level section%s%s%s",
			          dym ? " (did you mean " : "", dym ? dym : "", dym ? "?)" : "");
		}
		for (size_t j = 0; j < i; j++)
			if (strcmp(c->root->entries[j].key, e->key) == 0)
				cfn_error(c, e->line, e->col, e->key, "duplicate section");
	}
	struct cfn_node *v = cfn_node_get(c->root, "AWSTemplateFormatVersion");
	if (v && !(v->type == CFN_STR && strcmp(v->str, "2010-09-09") == 0))
		cfn_error_at(c, v, "AWSTemplateFormatVersion",
		             "Template format error: the only version is \"2010-09-09\"");
	struct cfn_node *t = cfn_node_get(c->root, "Transform");
	if (t)
		cfn_error_at(c, t, "Transform",
		             "transforms (SAM, LanguageExtensions, macros) are not supported");
	c->mappings = cfn_node_get(c->root, "Mappings");
	if (c->mappings && c->mappings->type != CFN_MAP) {
		cfn_error_at(c, c->mappings, "Mappings", "expected an object, found %s",
		             found_desc(c, c->mappings));
		c->mappings = NULL;
	}
	/* Mappings hold literals: map -> top-level key -> second-level key ->
	 * string or list of strings; no functions. */
	for (size_t i = 0; c->mappings && i < c->mappings->n; i++) {
		struct cfn_entry *e = &c->mappings->entries[i];
		const char *mp = cfn_arena_printf(&c->a, "Mappings.%s", e->key);
		if (e->val->type != CFN_MAP) {
			cfn_error_at(c, e->val, mp, "a mapping must be an object, found %s",
			             found_desc(c, e->val));
			continue;
		}
		for (size_t j = 0; j < e->val->n; j++) {
			struct cfn_entry *te = &e->val->entries[j];
			const char *tp = path_key(c, mp, te->key);
			if (te->val->type != CFN_MAP || is_intrinsic(te->val)) {
				cfn_error_at(c, te->val, tp,
				             "a top-level key of a mapping must hold an object of "
				             "second-level keys, found %s",
				             is_intrinsic(te->val) ? "a function" : found_desc(c, te->val));
				continue;
			}
			for (size_t k = 0; k < te->val->n; k++) {
				struct cfn_node *mv = te->val->entries[k].val;
				bool ok = is_scalar(mv);
				if (mv->type == CFN_LIST) {
					ok = true;
					for (size_t q = 0; q < mv->n; q++)
						ok &= is_scalar(mv->items[q]);
				}
				if (!ok)
					cfn_error_at(c, mv, path_key(c, tp, te->val->entries[k].key),
					             "Template format error: Every Mappings attribute "
					             "must be a String or a List (no functions), found %s",
					             is_intrinsic(mv) ? "a function" : found_desc(c, mv));
			}
		}
	}
}

/* ---------- public API ---------- */

void cfn_options_default(struct cfn_options *o)
{
	memset(o, 0, sizeof(*o));
	o->region = "us-east-1";
	o->account = "123456789012";
	o->net.addr = 127u << 24 | 77u << 16;
	o->net.prefix = 16;
}

static char *stack_from_name(const char *name)
{
	const char *b = strrchr(name, '/');
	b = b ? b + 1 : name;
	const char *dot = strrchr(b, '.');
	size_t n = dot && dot != b ? (size_t)(dot - b) : strlen(b);
	char *s = strndup(b, n);
	/* A stack name is [A-Za-z][-A-Za-z0-9]*; file names may hold more. */
	for (char *p = s; p && *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '-')
			*p = '-';
	return s;
}

static void multi_add_doc(struct cfn_multi *mu, struct cfn_ctx *c)
{
	if (mu->ndocs == mu->capdocs) {
		mu->capdocs = mu->capdocs ? 2 * mu->capdocs : 8;
		mu->docs = realloc(mu->docs, mu->capdocs * sizeof(*mu->docs));
		if (!mu->docs)
			abort();
	}
	mu->docs[mu->ndocs++] = c;
}

/* Reads and evaluates one document in a context of its own, added to
 * mu->docs (even when it failed, so its errors are printed). */
static struct cfn_ctx *doc_load(struct cfn_multi *mu, const char *name, const char *buf,
                                size_t len, const char *stack, const char *const *kv, size_t nkv,
                                bool nested)
{
	const struct cfn_options *opt = mu->opt;
	struct cfn_ctx *c = cfn__calloc(1, sizeof(*c));
	c->multi = mu;
	c->nested = nested;
	c->file = cfn_arena_strdup(&c->a, name);
	c->region = opt->region ? opt->region : "us-east-1";
	c->account = opt->account ? opt->account : "123456789012";
	c->stack = cfn_arena_strdup(&c->a, stack);
	c->net = opt->net.prefix ? opt->net : (struct cidr4){127u << 24 | 77u << 16, 16};
	c->m = cfn__calloc(1, sizeof(*c->m)); /* holds this document's outputs */

	struct cfn_parse_error perr = {0};
	size_t i = 0;
	while (i < len && isspace((unsigned char)buf[i]))
		i++;
	if (i + 3 <= len && memcmp(buf + i, "\xef\xbb\xbf", 3) == 0)
		i += 3;
	while (i < len && isspace((unsigned char)buf[i]))
		i++;
	bool json = i < len && buf[i] == '{';
	c->root =
	    json ? cfn_json_parse(&c->a, buf, len, &perr) : cfn_yaml_parse(&c->a, buf, len, &perr);
	if (!c->root) {
		cfn_error(c, perr.line, perr.col, "", "%s%s",
		          json ? "JSON not well-formed: " : "YAML not well-formed: ", perr.msg);
		goto out;
	}
	anatomy_check(c);
	if (c->root->type != CFN_MAP)
		goto out;
	params_load(c, kv, nkv, nested || mu->strict_params);
	conditions_load(c);
	resources_load(c);
	conditions_check(c);
	rules_check(c);
	resources_order(c);
	resources_eval(c);
	outputs_eval(c);
out:
	multi_add_doc(mu, c);
	return c;
}

static int read_file(const char *path, char **out, size_t *outlen, char *why, size_t whylen)
{
	*out = NULL;
	*outlen = 0;
	FILE *f = fopen(path, "rb");
	if (!f) {
		snprintf(why, whylen, "cannot open: %s", strerror(errno));
		return -1;
	}
	struct stat st;
	if (fstat(fileno(f), &st) == 0 && !S_ISREG(st.st_mode)) {
		/* a FIFO or a device (/dev/stdin) could block or never end */
		snprintf(why, whylen, "not a regular file");
		fclose(f);
		return -1;
	}
	char *buf = NULL;
	size_t len = 0, cap = 0;
	for (;;) {
		if (len == cap) {
			cap = cap ? cap * 2 : 65536;
			if (cap > (64u << 20)) {
				snprintf(why, whylen, "template larger than 64 MiB");
				free(buf);
				fclose(f);
				return -1;
			}
			char *nb = realloc(buf, cap);
			if (!nb)
				abort();
			buf = nb;
		}
		size_t r = fread(buf + len, 1, cap - len, f);
		if (r == 0)
			break;
		len += r;
	}
	bool bad = ferror(f);
	fclose(f);
	if (bad) {
		snprintf(why, whylen, "read failed");
		free(buf);
		return -1;
	}
	*out = buf;
	*outlen = len;
	return 0;
}

/* A nested stack (AWS::CloudFormation::Stack): its TemplateURL mapped to a
 * local file (--template-map URL=FILE, or a relative path next to the
 * parent), loaded as a stack of its own with the Parameters given; its
 * Outputs become the attributes Outputs.NAME. */
void cfn_nested_load(struct cfn_ctx *c, struct cfn_res *r)
{
	struct cfn_multi *mu = c->multi;
	const char *pp = path_key(c, r->path, "Properties");
	struct cfn_node *un = cfn_node_get(r->props, "TemplateURL");
	if (!mu || !un || !is_scalar(un)) {
		if (un)
			cfn_error_at(c, un, path_key(c, pp, "TemplateURL"),
			             "expected a string, found %s", found_desc(c, un));
		return;
	}
	const char *url = un->str, *file = NULL;
	for (size_t i = 0; i < mu->opt->ntemplate_map; i++) {
		const char *m = mu->opt->template_map[i];
		const char *eq = strrchr(m, '=');
		if (eq && strlen(url) == (size_t)(eq - m) && strncmp(m, url, strlen(url)) == 0)
			file = eq + 1;
	}
	if (mu->no_files) {
		cfn_error_at(c, un, path_key(c, pp, "TemplateURL"),
		             "nested stacks are read from files: load the parent template from a "
		             "file");
		r->failed = true;
		return;
	}
	if (!file && !strstr(url, "://")) {
		const char *slash = strrchr(c->file, '/');
		file = url[0] == '/' || !slash
		           ? url
		           : cfn_arena_printf(&c->a, "%.*s/%s", (int)(slash - c->file), c->file, url);
	}
	if (!file) {
		cfn_error_at(c, un, path_key(c, pp, "TemplateURL"),
		             "nested stack template %s: vpcd does not fetch templates; map it to "
		             "a local file with --template-map %s=FILE (or give a relative path)",
		             url, url);
		r->failed = true;
		return;
	}
	if (mu->depth >= 8) {
		cfn_error_at(c, un, path_key(c, pp, "TemplateURL"),
		             "nested stacks deeper than 8 levels (does %s nest itself?)", file);
		r->failed = true;
		return;
	}
	char *buf;
	size_t len;
	char why[256];
	if (read_file(file, &buf, &len, why, sizeof(why)) < 0) {
		cfn_error_at(c, un, path_key(c, pp, "TemplateURL"), "nested stack template %s: %s",
		             file, why);
		r->failed = true;
		return;
	}
	/* Parameters: strings, lists given comma-joined as AWS does. */
	struct cfn_node *ps = cfn_node_get(r->props, "Parameters");
	size_t nkv = 0;
	const char **kv = cfn_arena_alloc(&c->a, ((ps ? ps->n : 0) + 1) * sizeof(*kv));
	for (size_t i = 0; ps && ps->type == CFN_MAP && i < ps->n; i++) {
		struct cfn_node *v = ps->entries[i].val;
		const char *vs = NULL;
		if (is_scalar(v)) {
			vs = v->str;
		} else if (v->type == CFN_LIST) {
			struct cfn_node *args = cfn_node_new(&c->a, CFN_LIST, v->line, v->col);
			cfn_node_push(&c->a, args, cfn_node_str(&c->a, ",", v->line, v->col));
			cfn_node_push(&c->a, args, v);
			struct cfn_node *j = fn_join(c, v, args, path_key(c, pp, "Parameters"));
			vs = j ? j->str : NULL;
		} else {
			cfn_error_at(c, v, path_key(c, path_key(c, pp, "Parameters"), ps->entries[i].key),
			             "a nested stack parameter must be a string, found %s",
			             found_desc(c, v));
		}
		if (vs)
			kv[nkv++] = cfn_arena_printf(&c->a, "%s=%s", ps->entries[i].key, vs);
	}
	mu->depth++;
	struct cfn_ctx *child = doc_load(mu, file, buf, len, cfn_gen_name(c, r->logical, 128), kv,
	                                 nkv, true);
	mu->depth--;
	free(buf);
	r->stack = child;
	if (child->nfatal) {
		cfn_error_at(c, un, path_key(c, pp, "TemplateURL"),
		             "nested stack %s has errors (listed under %s)", r->logical, file);
		r->failed = true;
		return;
	}
	struct cfn_node at = {.line = r->line, .col = r->col};
	struct cfn_node *id = pseudo(child, "AWS::StackId", &at);
	cfn_attr_set(c, r, NULL, id->str);
	for (size_t i = 0; i < child->m->noutputs; i++)
		cfn_attr_set(c, r,
		             cfn_arena_printf(&c->a, "Outputs.%s", child->m->outputs[i].logical),
		             child->m->outputs[i].value);
}

static void order_doc(struct cfn_multi *mu, size_t d, const size_t *off, bool *seen,
                      struct cfn_ctx *b)
{
	if (seen[d])
		return;
	seen[d] = true;
	const struct cfn_ctx *doc = mu->docs[d];
	for (size_t k = 0; k < doc->norder; k++) {
		const struct cfn_res *r = &doc->res[doc->order[k]];
		for (size_t e = 0; r->stack && e < mu->ndocs; e++)
			if (mu->docs[e] == r->stack)
				order_doc(mu, e, off, seen, b);
		b->order[b->norder++] = (int)off[d] + doc->order[k];
	}
}

/* One build context over the resources of every document, in order, so
 * the model has one set of indexes and a stack can use what another made. */
static struct cfn_ctx *build_all(struct cfn_multi *mu)
{
	const struct cfn_options *opt = mu->opt;
	struct cfn_ctx *b = cfn__calloc(1, sizeof(*b));
	struct cfn_ctx *first = NULL;
	size_t n = 0;
	for (size_t d = 0; d < mu->ndocs; d++) {
		n += mu->docs[d]->nres;
		if (!first && !mu->docs[d]->nested)
			first = mu->docs[d];
	}
	b->multi = mu;
	b->file = first ? first->file : "";
	b->region = opt->region ? opt->region : "us-east-1";
	b->account = opt->account ? opt->account : "123456789012";
	b->stack = first ? first->stack : "stack";
	b->net = opt->net.prefix ? opt->net : (struct cidr4){127u << 24 | 77u << 16, 16};
	b->res = cfn_arena_alloc(&b->a, (n + 1) * sizeof(*b->res));
	b->order = cfn_arena_alloc(&b->a, (n + 1) * sizeof(*b->order));
	size_t *off = cfn__calloc(mu->ndocs + 1, sizeof(*off));
	bool *seen = cfn__calloc(mu->ndocs + 1, sizeof(*seen));
	for (size_t d = 0; d < mu->ndocs; d++) {
		struct cfn_ctx *doc = mu->docs[d];
		for (size_t i = 0; i < doc->nres; i++)
			b->res[b->nres + i] = doc->res[i];
		off[d] = b->nres;
		b->nres += doc->nres;
	}
	/* Creation order: each stack named in turn, a nested stack's resources
	 * where its AWS::CloudFormation::Stack resource comes in its parent's
	 * order, so they come after what its Parameters use from the parent. */
	for (size_t d = 0; d < mu->ndocs; d++)
		if (!mu->docs[d]->nested)
			order_doc(mu, d, off, seen, b);
	for (size_t d = 0; d < mu->ndocs; d++)
		order_doc(mu, d, off, seen, b);
	free(off);
	free(seen);
	b->m = cfn__calloc(1, sizeof(*b->m));
	b->m->region = cfn__strdup(b->region);
	b->m->account = cfn__strdup(b->account);
	b->m->stack_name = cfn__strdup(b->stack);
	/* Build even after errors (failed resources are skipped), so one run
	 * reports the validation errors of every resource too. */
	cfn_build_model(b);
	cfn__build_scaling(b);
	cfn__build_placement(b);
	b->file = first ? first->file : "";
	/* The outputs of the stacks named (a nested stack's are its parent's
	 * attributes). */
	size_t no = 0;
	for (size_t d = 0; d < mu->ndocs; d++)
		no += mu->docs[d]->nested ? 0 : mu->docs[d]->m->noutputs;
	b->m->outputs = cfn__calloc(no, sizeof(*b->m->outputs));
	for (size_t d = 0; d < mu->ndocs; d++) {
		struct model *dm = mu->docs[d]->m;
		if (mu->docs[d]->nested)
			continue;
		if (dm->noutputs)
			memcpy(b->m->outputs + b->m->noutputs, dm->outputs,
			       dm->noutputs * sizeof(*dm->outputs));
		b->m->noutputs += dm->noutputs;
		dm->noutputs = 0;
	}
	cfn_lint_model(b);
	return b;
}

/* Prints every document's errors and warnings, hands over the model when
 * there was no error, frees the rest. */
static int multi_finish(struct cfn_multi *mu, struct cfn_ctx *misc, const char *const *paths,
                        size_t npaths, struct model **out, FILE *errs)
{
	struct cfn_ctx *b = build_all(mu);
	size_t n = misc->nerrs + b->nerrs, nfatal = misc->nfatal + b->nfatal;
	for (size_t d = 0; d < mu->ndocs; d++) {
		n += mu->docs[d]->nerrs;
		nfatal += mu->docs[d]->nfatal;
	}
	struct cfn_err *all = cfn__calloc(n, sizeof(*all));
	/* Files in the order named, then nested ones. */
	const char **files = cfn__calloc(npaths + mu->ndocs + 1, sizeof(*files));
	size_t k = 0;
	for (size_t i = 0; i < npaths; i++)
		files[i] = paths[i];
	for (size_t d = 0; d < mu->ndocs; d++) {
		files[npaths + d] = mu->docs[d]->file;
		if (mu->docs[d]->nerrs)
			memcpy(all + k, mu->docs[d]->errs, mu->docs[d]->nerrs * sizeof(*all));
		k += mu->docs[d]->nerrs;
	}
	if (misc->nerrs)
		memcpy(all + k, misc->errs, misc->nerrs * sizeof(*all));
	k += misc->nerrs;
	if (b->nerrs)
		memcpy(all + k, b->errs, b->nerrs * sizeof(*all));
	int rc = errors_print(all, n, files, npaths + mu->ndocs, mu->opt, errs);
	if (nfatal) {
		model_free(b->m);
		rc = rc ? rc : 1;
	} else {
		*out = b->m;
		rc = 0;
	}
	free(all);
	free(files);
	cfn_arena_free(&b->a);
	free(b);
	for (size_t d = 0; d < mu->ndocs; d++) {
		model_free(mu->docs[d]->m);
		cfn_arena_free(&mu->docs[d]->a);
		free(mu->docs[d]);
	}
	free(mu->docs);
	free(mu->exports);
	cfn_arena_free(&misc->a);
	return rc;
}

int cfn_load_buf(const char *name, const char *buf, size_t len, const struct cfn_options *opt,
                 struct model **out, FILE *errs)
{
	struct cfn_options def;
	if (!opt) {
		cfn_options_default(&def);
		opt = &def;
	}
	*out = NULL;
	/* From memory (tests, the fuzzer): no file is read for nested stacks. */
	struct cfn_multi mu = {.opt = opt, .strict_params = true, .no_files = true};
	struct cfn_ctx misc = {.file = name};
	char *stack = opt->stack_name ? strdup(opt->stack_name) : stack_from_name(name);
	if (!stack)
		abort();
	doc_load(&mu, name, buf, len, stack, opt->params, opt->nparams, false);
	free(stack);
	return multi_finish(&mu, &misc, &name, 1, out, errs);
}

int cfn_load_many(const char *const *paths, size_t npaths, const struct cfn_options *opt,
                  struct model **out, FILE *errs)
{
	struct cfn_options def;
	if (!opt) {
		cfn_options_default(&def);
		opt = &def;
	}
	*out = NULL;
	struct cfn_multi mu = {.opt = opt, .strict_params = npaths == 1};
	struct cfn_ctx misc = {0};
	const char **stacks = cfn__calloc(npaths, sizeof(*stacks));
	for (size_t i = 0; i < npaths; i++) {
		misc.file = paths[i];
		char *stack = i == 0 && opt->stack_name ? strdup(opt->stack_name)
		                                        : stack_from_name(paths[i]);
		if (!stack)
			abort();
		stacks[i] = cfn_arena_strdup(&misc.a, stack);
		free(stack);
		for (size_t j = 0; j < i; j++)
			if (strcmp(stacks[j], stacks[i]) == 0)
				cfn_error(&misc, 1, 1, "",
				          "Stack [%s] already exists (from %s; stacks are named after "
				          "their files)",
				          stacks[i], paths[j]);
		char *buf;
		size_t len;
		char why[256];
		if (read_file(paths[i], &buf, &len, why, sizeof(why)) < 0) {
			cfn_error(&misc, 1, 1, "", "%s", why);
			continue;
		}
		doc_load(&mu, paths[i], buf, len, stacks[i], opt->params, opt->nparams, false);
		free(buf);
	}
	/* With several stacks a --param goes to each that declares it; one
	 * that none declares is an error. */
	for (size_t k = 0; !mu.strict_params && k < opt->nparams; k++) {
		const char *eq = strchr(opt->params[k], '=');
		size_t kl = eq ? (size_t)(eq - opt->params[k]) : strlen(opt->params[k]);
		bool found = false;
		for (size_t d = 0; d < mu.ndocs && !found; d++)
			for (size_t i = 0; i < mu.docs[d]->nparams && !found; i++)
				found = !mu.docs[d]->nested &&
				        strlen(mu.docs[d]->params[i].name) == kl &&
				        strncmp(mu.docs[d]->params[i].name, opt->params[k], kl) == 0;
		if (!found) {
			misc.file = npaths ? paths[0] : "";
			cfn_error(&misc, 1, 1, "", "--param %.*s: no stack has a parameter %.*s",
			          (int)kl, opt->params[k], (int)kl, opt->params[k]);
		}
	}
	free(stacks);
	return multi_finish(&mu, &misc, paths, npaths, out, errs);
}

int cfn_load(const char *path, const struct cfn_options *opt, struct model **out, FILE *errs)
{
	return cfn_load_many(&path, 1, opt, out, errs);
}
