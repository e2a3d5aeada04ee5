/*
 * A strict JSON reader (RFC 8259) that keeps line:col on every node, which
 * jansson does not. Pure over (buf, len): no I/O; nodes go to the arena.
 */
#ifndef VPCD_CFN_JSON_H
#define VPCD_CFN_JSON_H

#include "cfn/node.h"

/* Parses buf as one JSON value (surrounding white space allowed). Returns
 * the root, or NULL with *err set to the position and "expected X, found Y". */
struct cfn_node *cfn_json_parse(struct cfn_arena *a, const char *buf, size_t len,
                                struct cfn_parse_error *err);

#endif
