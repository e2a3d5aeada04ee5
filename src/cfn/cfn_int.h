/*
 * Internals shared by the template reader's files (cfn.c: load, parameters,
 * conditions, intrinsics, dependency order; build.c: resource types,
 * validation, model building). Not for other planes.
 */
#ifndef VPCD_CFN_CFN_INT_H
#define VPCD_CFN_CFN_INT_H

#include <stdint.h>

#include "cfn/cfn.h"
#include "cfn/node.h"

struct cfn_ctx;
struct cfn_res;

/* One supported resource type: its properties, attributes and builder. */
struct cfn_type {
	const char *name;
	bool no_effect;
	const char *const *props;    /* known property names; NULL = accept any */
	const char *const *required; /* required property names */
	const char *const *attrs;    /* Fn::GetAtt attribute names */
	/* Computes r->ref and r->attrs from r->props. */
	void (*values)(struct cfn_ctx *c, struct cfn_res *r);
	/* Adds the resource to the model; reports errors through c. */
	void (*build)(struct cfn_ctx *c, struct cfn_res *r);
};

struct cfn_res {
	const char *logical;
	int line, col; /* of the logical id */
	struct cfn_node *def;
	const char *type_name;
	const struct cfn_type *type;
	const char *path; /* "Resources.X" */
	bool active;      /* its Condition holds */
	bool done;        /* properties evaluated */
	bool failed;
	struct cfn_node *props; /* evaluated Properties (a map, maybe empty) */
	int *deps;
	size_t ndeps;
	struct cfn_node *ref;   /* value of Ref */
	struct cfn_node *attrs; /* map: attribute -> value */
	int model_index;        /* index in its model array, -1 */
	const char *file;       /* the template it comes from (several stacks) */
	struct cfn_ctx *stack;  /* a nested stack's loaded document, NULL */
};

struct cfn_param {
	const char *name;
	int line, col;
	struct cfn_node *def;
	struct cfn_node *value; /* string or list of strings */
};

struct cfn_cond {
	const char *name;
	int line, col;
	struct cfn_node *def;
	int state; /* 0 not yet, 1 evaluating, 2 done, 3 failed */
	bool value;
};

struct cfn_err {
	int line, col;
	size_t seq;
	char *text; /* "PATH: message" */
	const char *file;
	const char *path, *msg;
	bool warning;
};

/* Loading several documents (stacks given on the command line, nested
 * stacks) into one model: each is read and evaluated in its own context,
 * then one build context takes the resources of all of them in order. */
struct cfn_export {
	const char *name, *value, *stack;
};

struct cfn_multi {
	const struct cfn_options *opt;
	struct cfn_ctx **docs; /* in completion order: a nested stack before its parent */
	size_t ndocs, capdocs;
	struct cfn_export *exports;
	size_t nexports, capexports;
	int depth; /* nesting depth of the document being loaded */
	bool strict_params; /* one top-level stack: --param keys must exist in it */
	bool no_files;      /* loaded from memory: nested stacks are not read */
};

struct cfn_ctx {
	struct cfn_arena a;
	const char *file;
	const char *region, *account, *stack;
	struct cidr4 net;
	struct cfn_node *root;
	struct cfn_node *mappings;
	struct cfn_param *params;
	size_t nparams;
	struct cfn_cond *conds;
	size_t nconds;
	struct cfn_res *res;
	size_t nres;
	int *order;
	size_t norder;
	bool in_conditions;
	size_t work; /* nodes visited; bounds alias expansion ("billion laughs") */
	bool over_budget;
	struct cfn_err *errs;
	size_t nerrs, caperrs;
	size_t nfatal; /* errors among errs (the rest are warnings) */
	struct model *m;
	/* build state */
	uint32_t *subnet_next; /* next free host number per model subnet */
	int default_vpc;       /* model index of the default VPC, -1 */
	int ndefault_subnets;
	struct cfn_multi *multi;
	bool nested;        /* a nested stack's document */
	bool no_res_refs;   /* evaluating where resources may not be named */
	const char *where;  /* ... and what that place is, for the message */
};

#define CFN_MAX_ERRORS 100
#define CFN_MAX_WORK 4000000

void cfn_error(struct cfn_ctx *c, int line, int col, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
void cfn_error_at(struct cfn_ctx *c, const struct cfn_node *n, const char *path, const char *fmt,
                  ...) __attribute__((format(printf, 4, 5)));

void cfn_warn_at(struct cfn_ctx *c, const struct cfn_node *n, const char *path, const char *fmt,
                 ...) __attribute__((format(printf, 4, 5)));
void cfn_warn(struct cfn_ctx *c, int line, int col, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

const struct cfn_type *cfn_type_find(const char *name);
/* Types that are accepted with no effect here, with their schemas (schema.c). */
const struct cfn_type *cfn_type_find_extra(const char *name);
/* Loads a nested stack's template for r (schema.c calls it; cfn.c does it). */
void cfn_nested_load(struct cfn_ctx *c, struct cfn_res *r);
/* Checks over the whole built model that cfn-lint lacks (lint.c). */
void cfn_lint_model(struct cfn_ctx *c);
/* The closest of names to s within edit distance 2, or NULL. */
const char *cfn_did_you_mean(const char *s, const char *const *names, size_t n);

/* Deterministic ids from the stack name, a logical id and a salt. */
uint64_t cfn_hash(const struct cfn_ctx *c, const char *logical, const char *salt);
/* n lower-case hex digits into out (n+1 bytes). */
void cfn_hex(const struct cfn_ctx *c, const char *logical, const char *salt, char *out, size_t n);
/* A CloudFormation-style generated name: <stack>-<Logical>-<13 random>, at most max chars. */
const char *cfn_gen_name(struct cfn_ctx *c, const char *logical, size_t max);

/* The value of a resource attribute or its Ref as a string (NULL if absent). */
const char *cfn_attr_str(const struct cfn_res *r, const char *attr);
void cfn_attr_set(struct cfn_ctx *c, struct cfn_res *r, const char *attr, const char *value);
/* Index of the resource whose Ref or any string attribute equals value and
 * whose type is type (NULL = any), or -1. */
int cfn_res_find_value(const struct cfn_ctx *c, const char *type, const char *value);
int cfn_res_find(const struct cfn_ctx *c, const char *logical);

/* Typed property access (props.c). Each getter returns the value, or def
 * when the key is absent; a value of the wrong type, range or enum is
 * reported at its position under base.key and def is returned. Numbers and
 * booleans written as strings ("2", "true") are accepted. */
const char *cfn__path_key(struct cfn_ctx *c, const char *base, const char *key); /* "base.key" */
const char *cfn__item_path(struct cfn_ctx *c, const char *base, const char *key,
                           size_t i);                                /* "base.key[i]" */
const char *cfn__found(struct cfn_ctx *c, const struct cfn_node *n); /* "\"two\"", "a list" */
char *cfn__strdup(const char *s);         /* NULL stays NULL; aborts on OOM */
void *cfn__calloc(size_t n, size_t size); /* at least one element; aborts on OOM */
const char *cfn__prop_str(struct cfn_ctx *c, const struct cfn_node *m, const char *key,
                          const char *base);
int cfn__prop_int(struct cfn_ctx *c, const struct cfn_node *m, const char *key, const char *base,
                  int def, long min, long max);
bool cfn__prop_bool(struct cfn_ctx *c, const struct cfn_node *m, const char *key, const char *base,
                    bool def);
const char *cfn__prop_enum(struct cfn_ctx *c, const struct cfn_node *m, const char *key,
                           const char *base, const char *def, const char *const *vals);
struct cfn_node *cfn__prop_list(struct cfn_ctx *c, const struct cfn_node *m, const char *key,
                                const char *base);
struct cfn_node *cfn__prop_map(struct cfn_ctx *c, const struct cfn_node *m, const char *key,
                               const char *base);
struct cidr4 cfn__prop_cidr(struct cfn_ctx *c, const struct cfn_node *m, const char *key,
                            const char *base, bool *ok);
/* Reports unknown keys of m (with "did you mean") and missing required ones. */
void cfn__check_keys(struct cfn_ctx *c, const struct cfn_node *m, const char *base,
                     const char *const *known, const char *const *required, const char *what);
/* The model index of the resource of type whose Ref or attribute value is n
 * (-1, reported, when there is none); the list form returns a malloc'd
 * array of the indexes found. */
int cfn__ref_index(struct cfn_ctx *c, const struct cfn_node *n, const char *type, const char *path,
                   const char *what);
int *cfn__ref_indexes(struct cfn_ctx *c, const struct cfn_node *l, const char *type,
                      const char *path, const char *what, size_t *count);

/* A subnet or VPC the template names but does not define (a parameter of
 * type AWS::EC2::Subnet::Id, say) comes from the default VPC, 172.31.0.0/16
 * with one /20 per AZ as AWS has it: the n-th distinct subnet id gets the
 * n-th AZ. Returns the model index, or -1 (reported). */
int cfn__default_subnet(struct cfn_ctx *c, const struct cfn_node *id, const char *path);
int cfn__default_vpc(struct cfn_ctx *c, const char *id);
#define CFN_MAX_DEFAULT_SUBNETS 6

/* Builds c->m from the evaluated resources in creation order. */
void cfn_build_model(struct cfn_ctx *c);
/* Application Auto Scaling targets and policies, and the task definitions'
 * Cpu, once the rest of the model is built (scaling.c). */
void cfn__build_scaling(struct cfn_ctx *c);
/* Hosts' instance types, task definitions' Cpu/Memory and services'
 * placement, after cfn__build_scaling (ecsplace.c). */
void cfn__build_placement(struct cfn_ctx *c);
/* ContainerDefinitions[].DependsOn of task definition t, once all its
 * containers are read (cds: the ContainerDefinitions list, pp: the
 * properties' path): names resolved, conditions checked as ECS does,
 * cycles refused; t->containers[].deps filled (containerdeps.c). */
void cfn__container_deps(struct cfn_ctx *c, const struct cfn_node *cds, const char *pp,
                         struct model_task_def *t);

#endif
