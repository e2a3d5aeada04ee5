/*
 * The template reader: CloudFormation JSON or YAML in, a validated, fully
 * evaluated struct model out (or every error found, with file:line:col and
 * the template path). Reads the file and nothing else.
 *
 * Choices written down here (the rest follows spec/cfn.md and AWS):
 * - JSON when the first non-space character is '{', else YAML.
 * - Template paths use dots for keys and [i] for list items:
 *   Resources.R.Properties.Conditions[0].Values[1].
 * - Errors are sorted by position; at most 100 are printed.
 * - Generated ids, names, ARNs and DNS digits are FNV-1a hashes of stack
 *   name + logical id, so every run gives the same ones.
 * - Subnet/VPC ids the template names but does not define come from a
 *   default VPC 172.31.0.0/16, the n-th distinct subnet id in the n-th AZ.
 * - AWS::EC2::SecurityGroupIngress/Egress resources add their rule to the
 *   group (not "no effect": the ALB enforces groups by source address).
 * - Several stacks (cfn_load_many, nested stacks) become one model; each
 *   document is evaluated on its own, then all are built together (see
 *   docs/design.md). Logical ids are per stack; in the model two stacks may
 *   hold the same logical id.
 * - An unknown resource type is an error, or with allow_unknown a warning
 *   and a resource whose Ref is its logical id and that does nothing.
 * - AWS-specific parameter types check the id shape (prefix-hex) or the
 *   region's AZs; there is no account, so every id of the right shape exists.
 * - Rules: the functions that need the account (Fn::ValueOf, Fn::RefAll)
 *   are reported as not available.
 * - Limits of the model today: listener rules take host-header conditions
 *   and one forward action; other fields and action types are reported as
 *   "not supported yet". Security-group rules with a source group or prefix
 *   list stand for the whole VPC CIDR. A service must name its Cluster.
 */
#ifndef VPCD_CFN_CFN_H
#define VPCD_CFN_CFN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "core/addr.h"
#include "model/model.h"

/* One error or warning, for tools (`vpcd validate --format json`). The
 * strings live only during the callback. */
struct cfn_diag {
	const char *file;
	int line, col;
	const char *path; /* template path, "" for none */
	const char *message;
	bool warning;
};

struct cfn_options {
	const char *region;     /* default "us-east-1" */
	const char *account;    /* default "123456789012" */
	const char *stack_name; /* default: file's base name without extension, e.g. "service-a" */
	const char *const *params; /* "Key=Value" strings from --param, nparams of them */
	size_t nparams;
	struct cidr4 net; /* loopback range for the first VPC, default 127.77.0.0/16; next VPC gets
	                     the next /16 */
	bool allow_unknown; /* an unknown resource type is a warning, not an error */
	/* Nested stacks: "URL=FILE" strings from --template-map, ntemplate_map of them. */
	const char *const *template_map;
	size_t ntemplate_map;
	/* When set, every error and warning goes here (not printed to errs). */
	void (*on_diag)(void *arg, const struct cfn_diag *d);
	void *diag_arg;
};

void cfn_options_default(struct cfn_options *o);

/* Reads, evaluates and validates the template at path. On success returns 0
 * and *out owns a new model (free with model_free). On error prints every
 * error found to errs, one per line, as
 *   FILE:LINE:COL: error: TEMPLATE.PATH: message
 * and returns the (positive) number of errors printed (at most 100); *out is
 * NULL. A file that cannot be read is one error ("FILE: error: ..."). */
int cfn_load(const char *path, const struct cfn_options *opt, struct model **out, FILE *errs);

/* Same over an in-memory buffer (for tests and fuzzing); name is used in
 * messages and, without opt->stack_name, gives the stack name. */
int cfn_load_buf(const char *name, const char *buf, size_t len, const struct cfn_options *opt,
                 struct model **out, FILE *errs);

/* Several stacks, loaded in order into one model: each file is a stack
 * (named after its file unless opt->stack_name, which then names the first),
 * Outputs' Export names of earlier stacks are what Fn::ImportValue of later
 * ones reads, and --param values go to every stack that declares the key.
 * Nested stacks (AWS::CloudFormation::Stack) are loaded where they appear.
 * Errors and the result as cfn_load; warnings are printed to errs (or
 * given to opt->on_diag) on success too. */
int cfn_load_many(const char *const *paths, size_t npaths, const struct cfn_options *opt,
                  struct model **out, FILE *errs);

/* Reads an aws-cli parameters file ([{"ParameterKey": K, "ParameterValue": V}, ...])
 * into "K=V" strings (*kv and each string malloc'd; free with cfn_params_free).
 * Returns 0, or -1 after printing why to errs. */
int cfn_params_read(const char *path, char ***kv, size_t *n, FILE *errs);
void cfn_params_free(char **kv, size_t n);

/* Prints the plan: resources in creation order, one line each with logical
 * id, type and what it becomes here. */
void cfn_plan_print(const struct model *m, FILE *out);

#endif
