/*
 * The per-model index of the resolver: an open-addressing hash table of
 * (zone, lower-cased wire name) -> record sets, with every suffix of every
 * owner name present so that empty non-terminals exist. Built in two passes
 * (count, then fill) into a few flat arrays.
 */
#include "dns/index.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/addr.h"
#include "dns/rdata.h"
#include "dns/wire.h"

struct ix_node {
	struct dns_index_node pub; /* first: find returns a pointer to it */
	uint32_t hash;
	int zone;
	uint32_t name_off;
	uint32_t rec_off, fill;
	uint8_t name_len;
};

struct dns_index {
	struct ix_node *nodes;
	size_t nnodes, maxnodes;
	uint32_t *slots; /* node index + 1; 0: empty */
	size_t mask;
	uint8_t *names;
	size_t names_len, names_cap;
	int *recs;
	uint16_t *types;
	size_t ntypes;
	uint32_t *a4;	  /* the values of A record sets, parsed */
	uint32_t *a4_off; /* per record set: where its values start in a4 */
	uint16_t *a4_ok;  /* per record set: bit k set when value k parsed */
	uint8_t *zone_names; /* DNS_NAME_MAX each; first byte 0xff: none */
	size_t nzones;
	uint8_t *lb_names; /* DNS_NAME_MAX each, lower-cased; 0xff: none */
	size_t nlbs;
};

static uint8_t lower(uint8_t c)
{
	return (c >= 'A' && c <= 'Z') ? (uint8_t)(c + 32) : c;
}

/* Copies wire name into out lower-cased; returns its length. */
static size_t lower_name(const uint8_t *name, uint8_t *out)
{
	size_t len = dns_name_len(name);
	for (size_t i = 0; i < len; i++) /* length bytes are <= 63: unchanged */
		out[i] = lower(name[i]);
	return len;
}

static uint32_t hash_name(int zone, const uint8_t *lname, size_t len)
{
	uint32_t h = 2166136261u ^ ((uint32_t)zone * 0x9e3779b1u); /* FNV-1a */
	for (size_t i = 0; i < len; i++)
		h = (h ^ lname[i]) * 16777619u;
	return h;
}

static struct ix_node *lookup(const struct dns_index *ix, int zone, const uint8_t *lname,
			      size_t len, uint32_t h, size_t *slot)
{
	size_t i = h & ix->mask;
	for (;;) {
		uint32_t s = ix->slots[i];
		struct ix_node *n;
		if (s == 0) {
			*slot = i;
			return NULL;
		}
		n = &ix->nodes[s - 1];
		if (n->hash == h && n->zone == zone && n->name_len == len &&
		    memcmp(ix->names + n->name_off, lname, len) == 0)
			return n;
		i = (i + 1) & ix->mask;
	}
}

/* The node of (zone, lname), created when missing; NULL when the bounds
 * computed beforehand are exceeded (cannot happen). */
static struct ix_node *insert(struct dns_index *ix, int zone, const uint8_t *lname, size_t len)
{
	uint32_t h = hash_name(zone, lname, len);
	size_t slot;
	struct ix_node *n = lookup(ix, zone, lname, len, h, &slot);
	if (n)
		return n;
	if (ix->nnodes >= ix->maxnodes || ix->names_len + len > ix->names_cap)
		return NULL;
	n = &ix->nodes[ix->nnodes++];
	n->hash = h;
	n->zone = zone;
	n->name_off = (uint32_t)ix->names_len;
	n->name_len = (uint8_t)len;
	memcpy(ix->names + ix->names_len, lname, len);
	ix->names_len += len;
	ix->slots[slot] = (uint32_t)ix->nnodes;
	return n;
}

/* Record set i's owner in wire form (lower-cased) into out; false when it
 * has none. */
static bool record_name(const struct model *m, size_t i, uint8_t *out)
{
	const struct model_record *r = &m->records[i];
	uint8_t w[DNS_NAME_MAX];
	if (!r->name)
		return false;
	if (r->wire_name) {
		lower_name(r->wire_name, out);
		return true;
	}
	if (dns_name_from_str(r->name, w) < 0)
		return false;
	lower_name(w, out);
	return true;
}

void dns_index_free(struct dns_index *ix)
{
	if (!ix)
		return;
	free(ix->nodes);
	free(ix->slots);
	free(ix->names);
	free(ix->recs);
	free(ix->types);
	free(ix->a4);
	free(ix->a4_off);
	free(ix->a4_ok);
	free(ix->zone_names);
	free(ix->lb_names);
	free(ix);
}

struct dns_index *dns_index_new(const struct model *m)
{
	struct dns_index *ix = calloc(1, sizeof(*ix));
	size_t maxnodes = 0, names = 0, nslots = 8, nrecs = 0;
	uint8_t w[DNS_NAME_MAX];

	if (!ix)
		return NULL;
	/* Bounds: every suffix of every owner may be a node of its own. */
	for (size_t i = 0; i < m->nrecords; i++) {
		const uint8_t *p = w;
		if (!record_name(m, i, w))
			continue;
		for (;;) {
			maxnodes++;
			names += dns_name_len(p);
			if (*p == 0)
				break;
			p += 1 + *p;
		}
	}
	while (nslots < 2 * maxnodes)
		nslots *= 2;
	ix->maxnodes = maxnodes;
	ix->names_cap = names;
	ix->mask = nslots - 1;
	ix->ntypes = m->nrecords;
	ix->nzones = m->nzones;
	ix->nlbs = m->nlbs;
	ix->nodes = calloc(maxnodes ? maxnodes : 1, sizeof(*ix->nodes));
	ix->slots = calloc(nslots, sizeof(*ix->slots));
	ix->names = malloc(names ? names : 1);
	ix->types = calloc(m->nrecords ? m->nrecords : 1, sizeof(*ix->types));
	ix->zone_names = malloc((m->nzones ? m->nzones : 1) * DNS_NAME_MAX);
	ix->lb_names = malloc((m->nlbs ? m->nlbs : 1) * DNS_NAME_MAX);
	if (!ix->nodes || !ix->slots || !ix->names || !ix->types || !ix->zone_names ||
	    !ix->lb_names)
		goto fail;

	/* Pass 1: the nodes, and how many record sets each owns. */
	for (size_t i = 0; i < m->nrecords; i++) {
		const struct model_record *r = &m->records[i];
		const uint8_t *p = w;
		struct ix_node *n;
		ix->types[i] = r->type ? dns_type_from_str(r->type) : 0;
		if (!record_name(m, i, w))
			continue;
		n = insert(ix, r->zone, w, dns_name_len(w));
		if (!n)
			goto fail;
		n->pub.nrec++;
		nrecs++;
		while (*p) { /* the names above it exist too */
			p += 1 + *p;
			if (!insert(ix, r->zone, p, dns_name_len(p)))
				goto fail;
		}
	}
	ix->recs = malloc((nrecs ? nrecs : 1) * sizeof(*ix->recs));
	if (!ix->recs)
		goto fail;
	nrecs = 0;
	for (size_t k = 0; k < ix->nnodes; k++) {
		ix->nodes[k].rec_off = (uint32_t)nrecs;
		nrecs += ix->nodes[k].pub.nrec;
		ix->nodes[k].pub.recs = ix->recs + ix->nodes[k].rec_off;
	}
	/* Pass 2: the record sets of each node, in model order. */
	for (size_t i = 0; i < m->nrecords; i++) {
		struct ix_node *n;
		size_t slot, len;
		if (!record_name(m, i, w))
			continue;
		len = dns_name_len(w);
		n = lookup(ix, m->records[i].zone, w, len, hash_name(m->records[i].zone, w, len),
			   &slot);
		if (!n)
			goto fail;
		ix->recs[n->rec_off + n->fill++] = (int)i;
	}

	/* The A values, parsed once (MODEL_MAX_VALUES <= 16 bits of a4_ok). */
	nrecs = 0;
	for (size_t i = 0; i < m->nrecords; i++)
		if (ix->types[i] == DNS_T_A)
			nrecs += m->records[i].nvalues < MODEL_MAX_VALUES ? m->records[i].nvalues
									 : MODEL_MAX_VALUES;
	ix->a4 = malloc((nrecs ? nrecs : 1) * sizeof(*ix->a4));
	ix->a4_off = calloc(m->nrecords ? m->nrecords : 1, sizeof(*ix->a4_off));
	ix->a4_ok = calloc(m->nrecords ? m->nrecords : 1, sizeof(*ix->a4_ok));
	if (!ix->a4 || !ix->a4_off || !ix->a4_ok)
		goto fail;
	nrecs = 0;
	for (size_t i = 0; i < m->nrecords; i++) {
		const struct model_record *r = &m->records[i];
		ix->a4_off[i] = (uint32_t)nrecs;
		if (ix->types[i] != DNS_T_A)
			continue;
		for (size_t k = 0; k < r->nvalues && k < MODEL_MAX_VALUES; k++, nrecs++)
			if (r->values[k] && addr4_parse(r->values[k], &ix->a4[nrecs]) == 0)
				ix->a4_ok[i] |= (uint16_t)(1u << k);
	}

	for (size_t z = 0; z < m->nzones; z++) {
		uint8_t *out = ix->zone_names + z * DNS_NAME_MAX;
		const struct model_zone *zo = &m->zones[z];
		out[0] = 0xff;
		if (!zo->name)
			continue;
		if (zo->wire_name)
			memcpy(out, zo->wire_name, dns_name_len(zo->wire_name));
		else if (dns_name_from_str(zo->name, out) < 0)
			out[0] = 0xff;
	}
	for (size_t l = 0; l < m->nlbs; l++) {
		uint8_t *out = ix->lb_names + l * DNS_NAME_MAX;
		out[0] = 0xff;
		if (m->lbs[l].dns_name && dns_name_from_str(m->lbs[l].dns_name, w) > 0)
			lower_name(w, out);
	}
	return ix;
fail:
	dns_index_free(ix);
	return NULL;
}

const struct dns_index_node *dns_index_find(const struct dns_index *ix, int z,
					    const uint8_t *name)
{
	uint8_t l[DNS_NAME_MAX];
	size_t len = lower_name(name, l), slot;
	struct ix_node *n;
	if (ix->nnodes == 0)
		return NULL;
	n = lookup(ix, z, l, len, hash_name(z, l, len), &slot);
	return n ? &n->pub : NULL;
}

bool dns_index_a(const struct dns_index *ix, size_t i, size_t k, uint32_t *addr)
{
	if (i >= ix->ntypes || k >= MODEL_MAX_VALUES || !(ix->a4_ok[i] >> k & 1))
		return false;
	*addr = ix->a4[ix->a4_off[i] + k];
	return true;
}

uint16_t dns_index_type(const struct dns_index *ix, size_t i)
{
	return i < ix->ntypes ? ix->types[i] : 0;
}

const uint8_t *dns_index_zone_name(const struct dns_index *ix, size_t z)
{
	if (z >= ix->nzones || ix->zone_names[z * DNS_NAME_MAX] == 0xff)
		return NULL;
	return ix->zone_names + z * DNS_NAME_MAX;
}

int dns_index_find_lb(const struct dns_index *ix, const uint8_t *name)
{
	size_t len = dns_name_len(name);
	for (size_t i = 0; i < ix->nlbs; i++) {
		const uint8_t *l = ix->lb_names + i * DNS_NAME_MAX;
		size_t k;
		if (l[0] == 0xff || dns_name_len(l) != len)
			continue;
		for (k = 0; k < len && lower(name[k]) == l[k]; k++)
			;
		if (k == len)
			return (int)i;
	}
	return -1;
}
