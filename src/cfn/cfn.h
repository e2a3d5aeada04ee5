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
 * - Limits of the model today: listener rules take host-header conditions
 *   and one forward action; other fields and action types are reported as
 *   "not supported yet". Security-group rules with a source group or prefix
 *   list stand for the whole VPC CIDR. A service must name its Cluster.
 */
#ifndef VPCD_CFN_CFN_H
#define VPCD_CFN_CFN_H

#include <stddef.h>
#include <stdio.h>

#include "core/addr.h"
#include "model/model.h"

struct cfn_options {
	const char *region;     /* default "us-east-1" */
	const char *account;    /* default "123456789012" */
	const char *stack_name; /* default: file's base name without extension, e.g. "service-a" */
	const char *const *params; /* "Key=Value" strings from --param, nparams of them */
	size_t nparams;
	struct cidr4 net; /* loopback range for the first VPC, default 127.77.0.0/16; next VPC gets
	                     the next /16 */
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

/* Prints the plan: resources in creation order, one line each with logical
 * id, type and what it becomes here. */
void cfn_plan_print(const struct model *m, FILE *out);

#endif
