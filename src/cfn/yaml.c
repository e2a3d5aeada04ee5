/*
 * YAML into cfn_node via libyaml's event API. Plain scalars that look like
 * numbers, booleans or null become those; everything else is a string.
 * Aliases share the anchored node (trees are immutable once built).
 */
#include "cfn/yaml.h"

#include <stdio.h>
#include <string.h>
#include <yaml.h>

#define YAML_MAX_DEPTH 256

struct yframe {
	struct cfn_node *n;
	const char *tag;
	const char *anchor;
	const char *key; /* pending key of a map, NULL when none */
	int kl, kc;
};

struct yanchor {
	const char *name;
	struct cfn_node *n;
};

struct yp {
	struct cfn_arena *a;
	struct yframe stack[YAML_MAX_DEPTH];
	int depth;
	struct yanchor *anchors;
	size_t nanchors, capanchors;
	struct cfn_node *root;
	struct cfn_parse_error *err;
	bool failed;
};

static const char *const short_fns[] = {
    "GetAtt", "Sub", "Select",    "GetAZs", "Join", "Split",       "If",     "Equals",       "And",
    "Or",     "Not", "FindInMap", "Base64", "Cidr", "ImportValue", "Length", "ToJsonString", NULL,
};

static void yp_fail(struct yp *p, int line, int col, const char *fmt, const char *arg)
{
	if (p->failed)
		return;
	p->failed = true;
	p->err->line = line;
	p->err->col = col;
	snprintf(p->err->msg, sizeof(p->err->msg), fmt, arg);
}

static void yp_anchor(struct yp *p, const char *name, struct cfn_node *n)
{
	if (!name)
		return;
	if (p->nanchors == p->capanchors) {
		size_t cap = p->capanchors ? p->capanchors * 2 : 8;
		struct yanchor *na = cfn_arena_alloc(p->a, cap * sizeof(*na));
		if (p->nanchors)
			memcpy(na, p->anchors, p->nanchors * sizeof(*na));
		p->anchors = na;
		p->capanchors = cap;
	}
	p->anchors[p->nanchors].name = name;
	p->anchors[p->nanchors++].n = n;
}

static struct cfn_node *yp_alias(struct yp *p, const char *name)
{
	/* The latest definition of an anchor wins, as YAML says. */
	for (size_t i = p->nanchors; i-- > 0;)
		if (strcmp(p->anchors[i].name, name) == 0)
			return p->anchors[i].n;
	return NULL;
}

static bool is_number(const char *s)
{
	const char *q = s;
	if (*q == '-' || *q == '+')
		q++;
	if (!(*q >= '0' && *q <= '9'))
		return false;
	while (*q >= '0' && *q <= '9')
		q++;
	if (*q == '.') {
		q++;
		while (*q >= '0' && *q <= '9')
			q++;
	}
	if (*q == 'e' || *q == 'E') {
		q++;
		if (*q == '-' || *q == '+')
			q++;
		if (!(*q >= '0' && *q <= '9'))
			return false;
		while (*q >= '0' && *q <= '9')
			q++;
	}
	return *q == 0;
}

/* Applies a CloudFormation short-form tag to n; NULL on an unknown tag. */
static struct cfn_node *yp_tag(struct yp *p, const char *tag, struct cfn_node *n)
{
	if (!tag || strcmp(tag, "!") == 0 || strncmp(tag, "tag:yaml.org,2002:", 18) == 0)
		return n;
	if (tag[0] != '!') {
		yp_fail(p, n->line, n->col, "unsupported tag %s", tag);
		return NULL;
	}
	const char *name = tag + 1;
	struct cfn_node *m = cfn_node_new(p->a, CFN_MAP, n->line, n->col);
	if (strcmp(name, "Ref") == 0 || strcmp(name, "Condition") == 0) {
		cfn_node_put(p->a, m, cfn_arena_strdup(p->a, name), n->line, n->col, n);
		return m;
	}
	for (int i = 0; short_fns[i]; i++) {
		if (strcmp(name, short_fns[i]) != 0)
			continue;
		const char *key = cfn_arena_printf(p->a, "Fn::%s", name);
		if (strcmp(name, "GetAtt") == 0 && n->type == CFN_STR) {
			/* !GetAtt A.B splits at the first '.', as cfn-lint does. */
			const char *dot = strchr(n->str, '.');
			if (dot) {
				struct cfn_node *l = cfn_node_new(p->a, CFN_LIST, n->line, n->col);
				struct cfn_node *r = cfn_node_new(p->a, CFN_STR, n->line, n->col);
				r->str = cfn_arena_strndup(p->a, n->str, (size_t)(dot - n->str));
				r->len = strlen(r->str);
				struct cfn_node *at = cfn_node_str(
				    p->a, dot + 1, n->line, n->col + (int)(dot - n->str) + 1);
				cfn_node_push(p->a, l, r);
				cfn_node_push(p->a, l, at);
				n = l;
			}
		}
		cfn_node_put(p->a, m, key, n->line, n->col, n);
		return m;
	}
	yp_fail(p, n->line, n->col,
	        "unknown tag %s (CloudFormation short forms are !Ref, !GetAtt, !Sub, ...)", tag);
	return NULL;
}

static void yp_add(struct yp *p, struct cfn_node *n)
{
	if (p->depth == 0) {
		if (!p->root)
			p->root = n;
		return;
	}
	struct yframe *f = &p->stack[p->depth - 1];
	if (f->n->type == CFN_LIST) {
		cfn_node_push(p->a, f->n, n);
		return;
	}
	if (!f->key) {
		yp_fail(p, n->line, n->col, "%s", "a mapping key must be a plain scalar");
		return;
	}
	cfn_node_put(p->a, f->n, f->key, f->kl, f->kc, n);
	f->key = NULL;
}

static void yp_scalar(struct yp *p, const yaml_event_t *ev)
{
	int line = (int)ev->start_mark.line + 1, col = (int)ev->start_mark.column + 1;
	const char *v = (const char *)ev->data.scalar.value;
	size_t len = ev->data.scalar.length;
	const char *tag = (const char *)ev->data.scalar.tag;
	if (p->depth > 0) {
		struct yframe *f = &p->stack[p->depth - 1];
		if (f->n->type == CFN_MAP && !f->key) {
			if (tag && strncmp(tag, "tag:yaml.org,2002:", 18) != 0 &&
			    strcmp(tag, "!") != 0) {
				yp_fail(p, line, col, "a mapping key can't have the tag %s", tag);
				return;
			}
			f->key = cfn_arena_strndup(p->a, v, len);
			f->kl = line;
			f->kc = col;
			return;
		}
	}
	struct cfn_node *n = cfn_node_new(p->a, CFN_STR, line, col);
	n->str = cfn_arena_strndup(p->a, v, len);
	n->len = len;
	n->quoted = ev->data.scalar.style == YAML_SINGLE_QUOTED_SCALAR_STYLE ||
	            ev->data.scalar.style == YAML_DOUBLE_QUOTED_SCALAR_STYLE;
	if (ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && !tag) {
		const char *s = n->str;
		if (len == 0 || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 ||
		    strcmp(s, "Null") == 0 || strcmp(s, "NULL") == 0) {
			n->type = CFN_NULL;
		} else if (strcmp(s, "true") == 0 || strcmp(s, "True") == 0 ||
		           strcmp(s, "TRUE") == 0) {
			n->type = CFN_BOOL;
			n->b = true;
		} else if (strcmp(s, "false") == 0 || strcmp(s, "False") == 0 ||
		           strcmp(s, "FALSE") == 0) {
			n->type = CFN_BOOL;
		} else if (is_number(s)) {
			n->type = CFN_NUM;
		}
	}
	n = yp_tag(p, tag, n);
	if (!n)
		return;
	if (ev->data.scalar.anchor)
		yp_anchor(p, cfn_arena_strdup(p->a, (const char *)ev->data.scalar.anchor), n);
	yp_add(p, n);
}

static void yp_start(struct yp *p, const yaml_event_t *ev, enum cfn_node_type t,
                     const yaml_char_t *tag, const yaml_char_t *anchor)
{
	int line = (int)ev->start_mark.line + 1, col = (int)ev->start_mark.column + 1;
	if (p->depth > 0) {
		struct yframe *f = &p->stack[p->depth - 1];
		if (f->n->type == CFN_MAP && !f->key) {
			yp_fail(p, line, col, "%s", "a mapping key must be a plain scalar");
			return;
		}
	}
	if (p->depth == YAML_MAX_DEPTH) {
		yp_fail(p, line, col, "%s", "nesting deeper than 256 levels");
		return;
	}
	struct yframe *f = &p->stack[p->depth++];
	memset(f, 0, sizeof(*f));
	f->n = cfn_node_new(p->a, t, line, col);
	f->tag = tag ? cfn_arena_strdup(p->a, (const char *)tag) : NULL;
	f->anchor = anchor ? cfn_arena_strdup(p->a, (const char *)anchor) : NULL;
}

static void yp_end(struct yp *p)
{
	struct yframe *f = &p->stack[--p->depth];
	struct cfn_node *n = yp_tag(p, f->tag, f->n);
	if (!n)
		return;
	yp_anchor(p, f->anchor, n);
	yp_add(p, n);
}

struct cfn_node *cfn_yaml_parse(struct cfn_arena *a, const char *buf, size_t len,
                                struct cfn_parse_error *err)
{
	yaml_parser_t parser;
	struct yp p = {.a = a, .err = err};
	if (!yaml_parser_initialize(&parser)) {
		yp_fail(&p, 1, 1, "%s", "cannot initialise the YAML parser");
		return NULL;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
	bool done = false;
	while (!done && !p.failed) {
		yaml_event_t ev;
		if (!yaml_parser_parse(&parser, &ev)) {
			char msg[200];
			snprintf(msg, sizeof(msg), "%s%s%s", parser.context ? parser.context : "",
			         parser.context ? ": " : "",
			         parser.problem ? parser.problem : "YAML syntax error");
			yp_fail(&p, (int)parser.problem_mark.line + 1,
			        (int)parser.problem_mark.column + 1, "%s", msg);
			break;
		}
		switch (ev.type) {
		case YAML_SCALAR_EVENT:
			yp_scalar(&p, &ev);
			break;
		case YAML_SEQUENCE_START_EVENT:
			yp_start(&p, &ev, CFN_LIST, ev.data.sequence_start.tag,
			         ev.data.sequence_start.anchor);
			break;
		case YAML_MAPPING_START_EVENT:
			yp_start(&p, &ev, CFN_MAP, ev.data.mapping_start.tag,
			         ev.data.mapping_start.anchor);
			break;
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT:
			yp_end(&p);
			break;
		case YAML_ALIAS_EVENT: {
			struct cfn_node *n = yp_alias(&p, (const char *)ev.data.alias.anchor);
			if (!n)
				yp_fail(&p, (int)ev.start_mark.line + 1,
				        (int)ev.start_mark.column + 1, "unknown alias *%s",
				        (const char *)ev.data.alias.anchor);
			else if (p.depth > 0 && p.stack[p.depth - 1].n->type == CFN_MAP &&
			         !p.stack[p.depth - 1].key)
				yp_fail(&p, (int)ev.start_mark.line + 1,
				        (int)ev.start_mark.column + 1, "%s",
				        "an alias can't be a mapping key");
			else
				yp_add(&p, n);
			break;
		}
		case YAML_DOCUMENT_END_EVENT:
			/* Only the first document is the template. */
			done = true;
			break;
		case YAML_STREAM_END_EVENT:
			done = true;
			break;
		default:
			break;
		}
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&parser);
	if (p.failed)
		return NULL;
	if (!p.root) {
		err->line = 1;
		err->col = 1;
		snprintf(err->msg, sizeof(err->msg), "the template is empty");
		return NULL;
	}
	return p.root;
}
