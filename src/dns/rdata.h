/*
 * Route53 record values as text -> RDATA in wire form, for every type
 * Route53 serves: A, AAAA, CAA, CNAME, DS, MX, NAPTR, NS, PTR, SOA, SPF,
 * SRV, TXT. The text is Route53's value syntax (zone-file presentation:
 * `10 mail.example.com.`, `"v=spf1 -all"`, `0 issue "ca.example.net"`,
 * `100 10 "U" "E2U+sip" "!^.*$!sip:i@example.com!" .`). Names inside RDATA
 * are written uncompressed. Pure; used by cfn to validate values (so a bad
 * value is an error at its file:line:col) and by the resolver to answer.
 */
#ifndef VPCD_DNS_RDATA_H
#define VPCD_DNS_RDATA_H

#include <stddef.h>
#include <stdint.h>

/* The type code of a Route53 type name (case-insensitive), 0 when unknown. */
uint16_t dns_type_from_str(const char *name);
/* Converts value into out (cap bytes). Returns the RDATA length, or -1 when
 * the value is malformed for the type; then, when why is not NULL, *why
 * says what the value should look like. */
int dns_rdata_from_str(uint16_t type, const char *value, uint8_t *out, size_t cap,
		       const char **why);

#endif
