/*
 * The YAML reader: libyaml events into the same positioned cfn_node tree as
 * the JSON reader, with CloudFormation's short forms (!Ref, !GetAtt A.B,
 * !Sub, ...) turned into their long forms ({"Fn::Sub": ...}).
 */
#ifndef VPCD_CFN_YAML_H
#define VPCD_CFN_YAML_H

#include "cfn/node.h"

/* Parses the first document of buf. Returns the root, or NULL with *err set. */
struct cfn_node *cfn_yaml_parse(struct cfn_arena *a, const char *buf, size_t len,
                                struct cfn_parse_error *err);

#endif
