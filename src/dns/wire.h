/*
 * The DNS wire codec (RFC 1035, 6891): a bounds-checked read cursor and a
 * bounded writer, both with a sticky error, names in wire form, name
 * compression, and the resource records the resolver writes. Pure: no I/O,
 * no allocation; every read is checked against the buffer length.
 *
 * Names are handled in uncompressed wire form ("\3www\7example\3com\0",
 * at most DNS_NAME_MAX bytes), keeping the case they were written with;
 * comparisons ignore ASCII case (RFC 4343).
 *
 * Ownership: cursors and writers point into caller-owned buffers and own
 * nothing.
 */
#ifndef VPCD_DNS_WIRE_H
#define VPCD_DNS_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DNS_HDR_LEN 12
#define DNS_NAME_MAX 255
#define DNS_LABEL_MAX 63
#define DNS_UDP_MIN 512
#define DNS_MSG_MAX 65535

enum dns_type {
	DNS_T_A = 1,
	DNS_T_NS = 2,
	DNS_T_CNAME = 5,
	DNS_T_SOA = 6,
	DNS_T_PTR = 12,
	DNS_T_MX = 15,
	DNS_T_TXT = 16,
	DNS_T_AAAA = 28,
	DNS_T_SRV = 33,
	DNS_T_NAPTR = 35,
	DNS_T_OPT = 41,
	DNS_T_DS = 43,
	DNS_T_SPF = 99,
	DNS_T_CAA = 257,
	DNS_T_IXFR = 251,
	DNS_T_AXFR = 252,
	DNS_T_ANY = 255,
};

#define DNS_C_IN 1

enum dns_rcode {
	DNS_R_NOERROR = 0,
	DNS_R_FORMERR = 1,
	DNS_R_SERVFAIL = 2,
	DNS_R_NXDOMAIN = 3,
	DNS_R_NOTIMP = 4,
	DNS_R_REFUSED = 5,
	DNS_R_BADVERS = 16, /* extended: upper bits travel in the OPT record */
};

#define DNS_OP_QUERY 0

/* Header flag bits (the 16-bit flags word). */
#define DNS_F_QR 0x8000
#define DNS_F_AA 0x0400
#define DNS_F_TC 0x0200
#define DNS_F_RD 0x0100
#define DNS_F_RA 0x0080
#define DNS_F_AD 0x0020
#define DNS_F_CD 0x0010
#define DNS_OPCODE(flags) (((flags) >> 11) & 0xf)
#define DNS_RCODE(flags) ((flags) & 0xf)

struct dns_header {
	uint16_t id;
	uint16_t flags;
	uint16_t qdcount, ancount, nscount, arcount;
};

/* A read cursor over a whole message. Once err is set every read returns 0
 * and the position no longer moves. */
struct dns_cursor {
	const uint8_t *buf;
	size_t len;
	size_t pos;
	bool err;
};

void dns_cursor_init(struct dns_cursor *c, const uint8_t *buf, size_t len);
uint8_t dns_cursor_u8(struct dns_cursor *c);
uint16_t dns_cursor_u16(struct dns_cursor *c);
uint32_t dns_cursor_u32(struct dns_cursor *c);
void dns_cursor_skip(struct dns_cursor *c, size_t n);
void dns_cursor_header(struct dns_cursor *c, struct dns_header *h);
/* Reads a possibly compressed name at the cursor into out (uncompressed
 * wire form, DNS_NAME_MAX bytes at most) and returns its length, 0 with
 * c->err set when malformed: labels over 63 bytes, names over 255, reserved
 * label types, and pointers that do not point strictly before the start of
 * the part being read (which refuses forward pointers and loops). out may be
 * NULL to only skip the name. */
size_t dns_cursor_name(struct dns_cursor *c, uint8_t *out);

/* A bounded writer. Writes past cap set err and are dropped; len keeps
 * growing no further. The compression table remembers where names were
 * written so that later names can point at their suffixes. */
#define DNS_COMP_MAX 64
struct dns_writer {
	uint8_t *buf;
	size_t cap;
	size_t len;
	bool err;
	uint16_t comp[DNS_COMP_MAX]; /* offsets of label starts already written */
	size_t ncomp;
};

void dns_writer_init(struct dns_writer *w, uint8_t *buf, size_t cap);
void dns_writer_u8(struct dns_writer *w, uint8_t v);
void dns_writer_u16(struct dns_writer *w, uint16_t v);
void dns_writer_u32(struct dns_writer *w, uint32_t v);
void dns_writer_bytes(struct dns_writer *w, const void *p, size_t n);
void dns_writer_put_u16(struct dns_writer *w, size_t at, uint16_t v);
void dns_writer_header(struct dns_writer *w, const struct dns_header *h);
/* Writes a wire-form name, pointing at an earlier copy of its longest
 * already-written suffix when there is one (compare ignores case). */
void dns_writer_name(struct dns_writer *w, const uint8_t *name);
/* Same without compression (for RDATA of types that forbid it). */
void dns_writer_name_raw(struct dns_writer *w, const uint8_t *name);

/* Resource records: owner name, type, class IN, ttl, RDATA. The RDATA
 * length is back-patched. */
void dns_writer_rr_a(struct dns_writer *w, const uint8_t *owner, uint32_t ttl, uint32_t addr);
void dns_writer_rr_aaaa(struct dns_writer *w, const uint8_t *owner, uint32_t ttl,
			const uint8_t addr[16]);
/* CNAME, NS, PTR: one name as RDATA. */
void dns_writer_rr_name(struct dns_writer *w, const uint8_t *owner, uint16_t type, uint32_t ttl,
			const uint8_t *target);
void dns_writer_rr_soa(struct dns_writer *w, const uint8_t *owner, uint32_t ttl,
		       const uint8_t *mname, const uint8_t *rname, uint32_t serial,
		       uint32_t refresh, uint32_t retry, uint32_t expire, uint32_t minimum);
void dns_writer_rr_mx(struct dns_writer *w, const uint8_t *owner, uint32_t ttl, uint16_t pref,
		      const uint8_t *exchange);
void dns_writer_rr_srv(struct dns_writer *w, const uint8_t *owner, uint32_t ttl, uint16_t prio,
		       uint16_t weight, uint16_t port, const uint8_t *target);
/* TXT from a Route53 value: one or more quoted strings ("a b" "c"), or a
 * bare word. Backslash escapes \" and \\ and \ddd are honoured. Returns -1
 * (writing nothing) when the value is malformed. */
int dns_writer_rr_txt(struct dns_writer *w, const uint8_t *owner, uint32_t ttl, const char *value);
/* The character-strings of a Route53 TXT value as RDATA (<len><bytes>...)
 * into out. Returns the length, or -1 when malformed or past cap. */
int dns_txt_encode(const char *value, uint8_t *out, size_t cap);
/* A record whose RDATA is already in wire form (no compression inside). */
void dns_writer_rr_raw(struct dns_writer *w, const uint8_t *owner, uint16_t type, uint32_t ttl,
		       const uint8_t *rdata, size_t len);
/* An EDNS0 OPT pseudo-record: root owner, class = our UDP size, TTL carries
 * the extended rcode bits and version 0. */
void dns_writer_opt(struct dns_writer *w, uint16_t udp_size, uint8_t ext_rcode);
/* The same with the DO bit (RFC 3225: echoed from the query). */
void dns_writer_opt_do(struct dns_writer *w, uint16_t udp_size, uint8_t ext_rcode, bool do_bit);

/* Text -> wire-form name. Accepts a trailing dot or none (names are always
 * taken as fully qualified), "." or "" for the root, \. and \ddd escapes.
 * Returns the wire length, or -1 when malformed (empty label, label > 63,
 * name > 255). */
int dns_name_from_str(const char *s, uint8_t *out);
/* Wire-form name -> text with a trailing dot ("." for the root), escaping
 * dots, backslashes and non-printable bytes. Returns 0, or -1 when cap is too
 * small. */
int dns_name_to_str(const uint8_t *name, char *out, size_t cap);
/* Length of a wire-form name (including the final zero). */
size_t dns_name_len(const uint8_t *name);
/* Case-insensitive equality of two wire-form names. */
bool dns_name_eq(const uint8_t *a, const uint8_t *b);
/* True when name equals zone or lies below it (label-aligned). */
bool dns_name_is_sub(const uint8_t *name, const uint8_t *zone);
size_t dns_name_labels(const uint8_t *name);
/* Pointer to the suffix of name that drops its first n labels. */
const uint8_t *dns_name_skip(const uint8_t *name, size_t n);

/* What an EDNS0 OPT record in a query said. */
struct dns_edns {
	bool present;
	uint16_t udp_size; /* as sent; callers clamp */
	uint8_t version;
	bool do_bit;
};

/* A parsed query: header, the one question (name as sent, case kept) and
 * EDNS. qname_off is where the question starts in the message. */
struct dns_query {
	struct dns_header hdr;
	uint8_t qname[DNS_NAME_MAX];
	size_t qname_len;
	uint16_t qtype, qclass;
	struct dns_edns edns;
};

/* Parses a query message. Returns 0 when the header, exactly one question
 * and the rest of the message parse; -1 when the message is too short for a
 * header (q->hdr is then unset); -2 when the header is readable but the rest
 * is malformed (FORMERR: bad question, qdcount != 1, bad records, a second
 * OPT, an OPT not at the root). On -2 q->qname_len is non-zero when the
 * question itself could be read. */
int dns_query_parse(const uint8_t *buf, size_t len, struct dns_query *q);

#endif
