/*
 * libFuzzer target: a cluster query language expression (memberOf) parsed
 * from an exact-size heap buffer, so that ASan catches a one-byte
 * over-read, then matched against fixed attributes. Invariants: a parse
 * error's offset is within the input; a parsed query's values lie inside
 * it and its node indexes are in range.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ecs/placement.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	static struct place_query q;
	struct place_attrs a = {.az = "us-east-1a",
	                        .instance_type = "t3.small",
	                        .os_type = "linux",
	                        .instance_id = "i-0123456789abcdef0"};
	char *p = malloc(n ? n : 1), err[200];
	size_t off = 0;

	if (!p)
		return 0;
	memcpy(p, d, n);
	if (place_query_parse(p, n, &q, &off, err, sizeof(err)) < 0) {
		if (off > n)
			abort();
	} else {
		if (q.root < 0 || (size_t)q.root >= q.n)
			abort();
		for (size_t i = 0; i < q.n; i++) {
			const struct place_qnode *nd = &q.nodes[i];
			if (nd->kind != PLACE_Q_CMP && (nd->left < 0 || (size_t)nd->left >= q.n ||
			                                nd->right < 0 || (size_t)nd->right >= q.n))
				abort();
			for (size_t k = 0; nd->kind == PLACE_Q_CMP && k < nd->nvalues; k++)
				if ((size_t)nd->values[k].off + nd->values[k].len > n)
					abort();
		}
		(void)place_query_match(&q, &a);
	}
	free(p);
	{
		int v;
		(void)place_parse_cpu((const char *)d, n, &v);
		(void)place_parse_memory((const char *)d, n, &v);
	}
	return 0;
}
