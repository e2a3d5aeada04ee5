/*
 * Typed access to evaluated resource properties: each getter checks the
 * value's type, range or enum and reports a positioned error through the
 * context, returning the AWS default when the property is absent or wrong.
 */
#include "cfn/cfn_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

const char *cfn__path_key(struct cfn_ctx *c, const char *base, const char *key)
{
	return cfn_arena_printf(&c->a, "%s.%s", base, key);
}

const char *cfn__found(struct cfn_ctx *c, const struct cfn_node *n)
{
	if (n->type == CFN_STR)
		return cfn_arena_printf(&c->a, "\"%s\"", n->str);
	if (n->type == CFN_NUM || n->type == CFN_BOOL)
		return n->str;
	return cfn_node_type_name(n);
}

char *cfn__strdup(const char *s)
{
	if (!s)
		return NULL;
	char *p = strdup(s);
	if (!p)
		abort();
	return p;
}

void *cfn__calloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size);
	if (!p)
		abort();
	return p;
}

/* A string property (numbers and booleans are taken as their text). */
const char *cfn__prop_str(struct cfn_ctx *c, const struct cfn_node *m, const char *key,
                          const char *base)
{
	struct cfn_node *n = cfn_node_get(m, key);
	if (!n)
		return NULL;
	if (n->type == CFN_STR || n->type == CFN_NUM || n->type == CFN_BOOL)
		return n->str;
	cfn_error_at(c, n, cfn__path_key(c, base, key), "expected a string, found %s",
	             cfn__found(c, n));
	return NULL;
}

static bool cfn__parse_int(const struct cfn_node *n, long *out)
{
	if (n->type != CFN_NUM && n->type != CFN_STR)
		return false;
	char *e;
	errno = 0;
	long v = strtol(n->str, &e, 10);
	if (!*n->str || *e || errno)
		return false;
	*out = v;
	return true;
}

int cfn__prop_int(struct cfn_ctx *c, const struct cfn_node *m, const char *key, const char *base,
                  int def, long min, long max)
{
	struct cfn_node *n = cfn_node_get(m, key);
	if (!n)
		return def;
	long v;
	if (!cfn__parse_int(n, &v)) {
		cfn_error_at(c, n, cfn__path_key(c, base, key), "expected an integer, found %s",
		             cfn__found(c, n));
		return def;
	}
	if (v < min || v > max) {
		cfn_error_at(c, n, cfn__path_key(c, base, key), "must be %ld..%ld, found %ld", min,
		             max, v);
		return def;
	}
	return (int)v;
}

bool cfn__prop_bool(struct cfn_ctx *c, const struct cfn_node *m, const char *key, const char *base,
                    bool def)
{
	struct cfn_node *n = cfn_node_get(m, key);
	if (!n)
		return def;
	if (n->type == CFN_BOOL)
		return n->b;
	if (n->type == CFN_STR && (strcmp(n->str, "true") == 0 || strcmp(n->str, "false") == 0))
		return n->str[0] == 't';
	cfn_error_at(c, n, cfn__path_key(c, base, key), "expected a boolean, found %s",
	             cfn__found(c, n));
	return def;
}

const char *cfn__prop_enum(struct cfn_ctx *c, const struct cfn_node *m, const char *key,
                           const char *base, const char *def, const char *const *vals)
{
	const char *s = cfn__prop_str(c, m, key, base);
	if (!s)
		return def;
	size_t n = 0;
	for (; vals[n]; n++)
		if (strcmp(vals[n], s) == 0)
			return vals[n];
	char list[512];
	size_t o = 0;
	list[0] = 0;
	for (size_t i = 0; i < n && o < sizeof(list) - 64; i++)
		o += (size_t)snprintf(list + o, sizeof(list) - o, "%s%s", i ? ", " : "", vals[i]);
	const char *dym = cfn_did_you_mean(s, vals, n);
	cfn_error_at(c, cfn_node_get(m, key), cfn__path_key(c, base, key),
	             "must be one of %s; found \"%s\"%s%s%s", list, s, dym ? " (did you mean " : "",
	             dym ? dym : "", dym ? "?)" : "");
	return def;
}

struct cfn_node *cfn__prop_list(struct cfn_ctx *c, const struct cfn_node *m, const char *key,
                                const char *base)
{
	struct cfn_node *n = cfn_node_get(m, key);
	if (!n || n->type == CFN_LIST)
		return n;
	cfn_error_at(c, n, cfn__path_key(c, base, key), "expected a list, found %s",
	             cfn__found(c, n));
	return NULL;
}

struct cfn_node *cfn__prop_map(struct cfn_ctx *c, const struct cfn_node *m, const char *key,
                               const char *base)
{
	struct cfn_node *n = cfn_node_get(m, key);
	if (!n || n->type == CFN_MAP)
		return n;
	cfn_error_at(c, n, cfn__path_key(c, base, key), "expected an object, found %s",
	             cfn__found(c, n));
	return NULL;
}

const char *cfn__item_path(struct cfn_ctx *c, const char *base, const char *key, size_t i)
{
	return cfn_arena_printf(&c->a, "%s.%s[%zu]", base, key, i);
}

/* Unknown keys (with "did you mean") and missing required ones. */
void cfn__check_keys(struct cfn_ctx *c, const struct cfn_node *m, const char *base,
                     const char *const *known, const char *const *required, const char *what)
{
	if (!m || m->type != CFN_MAP)
		return;
	size_t nk = 0;
	while (known && known[nk])
		nk++;
	for (size_t i = 0; known && i < m->n; i++) {
		bool ok = false;
		for (size_t k = 0; k < nk && !ok; k++)
			ok = strcmp(known[k], m->entries[i].key) == 0;
		if (ok)
			continue;
		const char *dym = cfn_did_you_mean(m->entries[i].key, known, nk);
		cfn_error(c, m->entries[i].line, m->entries[i].col,
		          cfn__path_key(c, base, m->entries[i].key), "unknown %s%s%s%s", what,
		          dym ? " (did you mean " : "", dym ? dym : "", dym ? "?)" : "");
	}
	for (size_t k = 0; required && required[k]; k++)
		if (!cfn_node_get(m, required[k]))
			cfn_error_at(c, m, base, "missing required %s %s", what, required[k]);
}

/* The model index of the resource of type whose Ref/attribute value is n. */
int cfn__ref_index(struct cfn_ctx *c, const struct cfn_node *n, const char *type, const char *path,
                   const char *what)
{
	if (!n)
		return -1;
	if (n->type != CFN_STR) {
		cfn_error_at(c, n, path, "expected a string (%s), found %s", what,
		             cfn__found(c, n));
		return -1;
	}
	int ri = cfn_res_find_value(c, type, n->str);
	if (ri < 0 && strcmp(type, "AWS::EC2::Subnet") == 0 && strncmp(n->str, "subnet-", 7) == 0)
		return cfn__default_subnet(c, n, path);
	if (ri < 0 && strcmp(type, "AWS::EC2::VPC") == 0 && strncmp(n->str, "vpc-", 4) == 0)
		return cfn__default_vpc(c, n->str);
	/* A group made outside the template (a parameter of type
	 * AWS::EC2::SecurityGroup::Id): its rules are not known here. */
	if (ri < 0 && strcmp(type, "AWS::EC2::SecurityGroup") == 0 &&
	    strncmp(n->str, "sg-", 3) == 0) {
		cfn_warn_at(c, n, path,
		            "security group %s is not in the template: vpcd does not know its "
		            "rules, so it leaves it out (nothing is filtered by it)",
		            n->str);
		return -1;
	}
	if (ri < 0 || c->res[ri].model_index < 0) {
		cfn_error_at(c, n, path,
		             "\"%s\" is not %s of this template (use Ref or Fn::GetAtt)", n->str,
		             what);
		return -1;
	}
	return c->res[ri].model_index;
}

int *cfn__ref_indexes(struct cfn_ctx *c, const struct cfn_node *l, const char *type,
                      const char *path, const char *what, size_t *count)
{
	*count = 0;
	if (!l)
		return NULL;
	int *out = cfn__calloc(l->n, sizeof(*out));
	for (size_t i = 0; i < l->n; i++) {
		int v = cfn__ref_index(c, l->items[i], type,
		                       cfn_arena_printf(&c->a, "%s[%zu]", path, i), what);
		if (v >= 0)
			out[(*count)++] = v;
	}
	return out;
}

struct cidr4 cfn__prop_cidr(struct cfn_ctx *c, const struct cfn_node *m, const char *key,
                            const char *base, bool *ok)
{
	struct cidr4 r = {0};
	*ok = false;
	const char *s = cfn__prop_str(c, m, key, base);
	if (!s)
		return r;
	if (cidr4_parse(s, &r) < 0) {
		cfn_error_at(c, cfn_node_get(m, key), cfn__path_key(c, base, key),
		             "expected an IPv4 CIDR block such as 10.0.0.0/16, found \"%s\"", s);
		return r;
	}
	*ok = true;
	return r;
}
