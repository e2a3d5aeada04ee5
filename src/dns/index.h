/*
 * The resolver's index of one model, built once per model (dns_server_new,
 * dns_server_set_model) so that answering a query costs a few hash lookups
 * instead of scans over every record set.
 *
 * Per zone, a hash table keyed on the lower-cased wire-form name: every
 * owner of a record set (with the indexes of its record sets, in model
 * order) and every name above an owner (empty non-terminals, no record
 * sets), so that "does this name exist" (NXDOMAIN vs NODATA, RFC 4592's
 * closest encloser) is one lookup. Also the record-set types as numbers and
 * the wire forms of zone apexes and load balancer names.
 *
 * Ownership: the index points into nothing of the model; it is valid for
 * the model it was built from (indexes into m->records, m->zones, m->lbs)
 * and must be rebuilt when the model changes.
 */
#ifndef VPCD_DNS_INDEX_H
#define VPCD_DNS_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/model.h"

struct dns_index;

/* The record sets at one name of one zone (nrec 0: an empty non-terminal). */
struct dns_index_node {
	const int *recs; /* indexes into model.records, ascending */
	size_t nrec;
};

/* Builds the index of m. Returns NULL when out of memory. */
struct dns_index *dns_index_new(const struct model *m);
/* NULL is fine. */
void dns_index_free(struct dns_index *ix);

/* The node for name (wire form, any case) in zone z, or NULL when no record
 * set of z is at or below name. */
const struct dns_index_node *dns_index_find(const struct dns_index *ix, int z,
					    const uint8_t *name);
/* Value k of record set i, an A record set, parsed: false when it does
 * not parse as an IPv4 address (or i is not an A record set). */
bool dns_index_a(const struct dns_index *ix, size_t i, size_t k, uint32_t *addr);
/* The type of record set i as a number (0: unknown). */
uint16_t dns_index_type(const struct dns_index *ix, size_t i);
/* The wire form of zone z's apex, NULL when it has none (no or bad name). */
const uint8_t *dns_index_zone_name(const struct dns_index *ix, size_t z);
/* The load balancer whose DNS name is name (any case), or -1. */
int dns_index_find_lb(const struct dns_index *ix, const uint8_t *name);

#endif
