/*
 * The template as a tree of nodes, each with its 1-based line:col in the
 * source, as the JSON and YAML readers build it and the evaluator rewrites it.
 *
 * Ownership: every node, string and array lives in one struct cfn_arena;
 * cfn_arena_free() releases all of it at once, so evaluated trees may share
 * subtrees with the source tree freely.
 */
#ifndef VPCD_CFN_NODE_H
#define VPCD_CFN_NODE_H

#include <stdbool.h>
#include <stddef.h>

struct cfn_arena {
	struct cfn_block *head;
};

void *cfn_arena_alloc(struct cfn_arena *a, size_t size); /* zeroed; aborts on OOM */
char *cfn_arena_strndup(struct cfn_arena *a, const char *s, size_t n);
char *cfn_arena_strdup(struct cfn_arena *a, const char *s);
char *cfn_arena_printf(struct cfn_arena *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void cfn_arena_free(struct cfn_arena *a);

enum cfn_node_type {
	CFN_NULL,
	CFN_BOOL,
	CFN_NUM, /* str holds the text as written */
	CFN_STR,
	CFN_LIST,
	CFN_MAP,
	CFN_NOVALUE, /* the value of AWS::NoValue: removes the enclosing property */
};

struct cfn_node;

struct cfn_entry {
	const char *key;
	int line, col; /* of the key */
	struct cfn_node *val;
};

struct cfn_node {
	enum cfn_node_type type;
	int line, col;
	bool quoted; /* STR written in quotes: its text starts at col + 1 */
	bool b;
	const char *str; /* STR, NUM; NUL-terminated */
	size_t len;
	struct cfn_node **items;   /* LIST */
	struct cfn_entry *entries; /* MAP, in source order */
	size_t n;                  /* items or entries */
	size_t cap;
};

struct cfn_node *cfn_node_new(struct cfn_arena *a, enum cfn_node_type t, int line, int col);
struct cfn_node *cfn_node_str(struct cfn_arena *a, const char *s, int line, int col);
void cfn_node_push(struct cfn_arena *a, struct cfn_node *list, struct cfn_node *item);
void cfn_node_put(struct cfn_arena *a, struct cfn_node *map, const char *key, int line, int col,
                  struct cfn_node *val);
/* Value of key in a map node, or NULL (also when m is not a map). */
struct cfn_node *cfn_node_get(const struct cfn_node *m, const char *key);
const struct cfn_entry *cfn_node_entry(const struct cfn_node *m, const char *key);
const char *cfn_node_type_name(const struct cfn_node *n); /* "a string", "a list", ... */

/* A syntax error of the JSON or YAML reader: where, and what was expected. */
struct cfn_parse_error {
	int line, col;
	char msg[200];
};

#endif
