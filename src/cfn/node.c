/*
 * Arena and node tree helpers for the template reader.
 */
#include "cfn/node.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cfn_block {
	struct cfn_block *next;
	size_t used, cap;
	_Alignas(16) unsigned char data[];
};

#define CFN_BLOCK_SIZE (64 * 1024)

void *cfn_arena_alloc(struct cfn_arena *a, size_t size)
{
	size = (size + 15) & ~(size_t)15;
	struct cfn_block *b = a->head;
	if (!b || b->cap - b->used < size) {
		size_t cap = size > CFN_BLOCK_SIZE / 2 ? size : CFN_BLOCK_SIZE;
		struct cfn_block *nb = malloc(sizeof(*nb) + cap);
		if (!nb) {
			/* Loading a template is the one place that may allocate freely;
			 * running out of memory here is not recoverable. */
			fputs("vpcd: out of memory reading template\n", stderr);
			abort();
		}
		nb->used = 0;
		nb->cap = cap;
		if (b && cap != CFN_BLOCK_SIZE) {
			/* A large one-off block goes behind the current one so the
			 * current block's free space stays usable. */
			nb->next = b->next;
			b->next = nb;
		} else {
			nb->next = b;
			a->head = nb;
		}
		b = nb;
	}
	void *p = b->data + b->used;
	b->used += size;
	memset(p, 0, size);
	return p;
}

char *cfn_arena_strndup(struct cfn_arena *a, const char *s, size_t n)
{
	char *p = cfn_arena_alloc(a, n + 1);
	memcpy(p, s, n);
	p[n] = 0;
	return p;
}

char *cfn_arena_strdup(struct cfn_arena *a, const char *s)
{
	return cfn_arena_strndup(a, s, strlen(s));
}

char *cfn_arena_printf(struct cfn_arena *a, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	char *p = cfn_arena_alloc(a, (size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return p;
}

void cfn_arena_free(struct cfn_arena *a)
{
	struct cfn_block *b = a->head;
	while (b) {
		struct cfn_block *next = b->next;
		free(b);
		b = next;
	}
	a->head = NULL;
}

struct cfn_node *cfn_node_new(struct cfn_arena *a, enum cfn_node_type t, int line, int col)
{
	struct cfn_node *n = cfn_arena_alloc(a, sizeof(*n));
	n->type = t;
	n->line = line;
	n->col = col;
	return n;
}

struct cfn_node *cfn_node_str(struct cfn_arena *a, const char *s, int line, int col)
{
	struct cfn_node *n = cfn_node_new(a, CFN_STR, line, col);
	n->len = strlen(s);
	n->str = cfn_arena_strndup(a, s, n->len);
	return n;
}

static void *grow(struct cfn_arena *a, void *old, size_t n, size_t *cap, size_t elem)
{
	if (n < *cap)
		return old;
	size_t ncap = *cap ? *cap * 2 : 4;
	void *p = cfn_arena_alloc(a, ncap * elem);
	if (n)
		memcpy(p, old, n * elem);
	*cap = ncap;
	return p;
}

void cfn_node_push(struct cfn_arena *a, struct cfn_node *list, struct cfn_node *item)
{
	list->items = grow(a, list->items, list->n, &list->cap, sizeof(*list->items));
	list->items[list->n++] = item;
}

void cfn_node_put(struct cfn_arena *a, struct cfn_node *map, const char *key, int line, int col,
                  struct cfn_node *val)
{
	map->entries = grow(a, map->entries, map->n, &map->cap, sizeof(*map->entries));
	struct cfn_entry *e = &map->entries[map->n++];
	e->key = key;
	e->line = line;
	e->col = col;
	e->val = val;
}

const struct cfn_entry *cfn_node_entry(const struct cfn_node *m, const char *key)
{
	if (!m || m->type != CFN_MAP)
		return NULL;
	for (size_t i = 0; i < m->n; i++)
		if (strcmp(m->entries[i].key, key) == 0)
			return &m->entries[i];
	return NULL;
}

struct cfn_node *cfn_node_get(const struct cfn_node *m, const char *key)
{
	const struct cfn_entry *e = cfn_node_entry(m, key);
	return e ? e->val : NULL;
}

const char *cfn_node_type_name(const struct cfn_node *n)
{
	if (!n)
		return "nothing";
	switch (n->type) {
	case CFN_NULL:
		return "null";
	case CFN_BOOL:
		return "a boolean";
	case CFN_NUM:
		return "a number";
	case CFN_STR:
		return "a string";
	case CFN_LIST:
		return "a list";
	case CFN_MAP:
		return "an object";
	case CFN_NOVALUE:
		return "AWS::NoValue";
	}
	return "?";
}
