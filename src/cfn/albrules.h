/*
 * ALB listener rules of a template (albrules.c): actions and conditions,
 * validated with AWS's limits and written into the model. Internal to cfn.
 *
 * Ownership: strings and compiled regexes written into the model belong to
 * it (model_free releases them).
 */
#ifndef VPCD_CFN_ALBRULES_H
#define VPCD_CFN_ALBRULES_H

#include <stdbool.h>

#include "cfn/cfn_int.h"
#include "model/model.h"

/* The actions list l (at base.key) of a listener or rule into out: the one
 * terminal action (forward, fixed-response or redirect). listener_proto is
 * "HTTP" or "HTTPS" (redirect checks). Returns false after an error
 * (reported). */
bool cfn__alb_actions(struct cfn_ctx *c, const struct cfn_node *l, const char *base,
                      const char *key, const char *listener_proto, struct model_action *out);
/* The Conditions list (may be NULL) of rule ru, whose properties are at pp. */
void cfn__alb_conditions(struct cfn_ctx *c, struct cfn_node *conds, const char *pp,
                         struct model_rule *ru);
/* The Transforms list l (may be NULL) of rule ru, whose properties are at
 * pp: at most one host-header-rewrite and one url-rewrite, each with one
 * rewrite whose Regex is compiled here (AWS's unsupported features
 * refused). */
void cfn__alb_transforms(struct cfn_ctx *c, const struct cfn_node *l, const char *pp,
                         struct model_rule *ru);
/* The name of the regex feature AWS does not support that re uses, or NULL. */
const char *cfn__alb_regex_unsupported(const char *re);

#endif
