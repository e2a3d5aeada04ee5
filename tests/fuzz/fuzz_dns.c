/*
 * libFuzzer target: a DNS query, as received over the wire, parsed and
 * answered against the seed's model (built by hand, no template I/O), over
 * UDP limits and over TCP. Nothing may crash or read out of bounds.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "dns/answer.h"
#include "dns/forward.h"
#include "dns/wire.h"
#include "model/model.h"

static char zname[] = "in.example.com.", zid[] = "Z0123456789ABCDEF", zlog[] = "Zone";
static char rname[] = "service-a.in.example.com.", rtype[] = "CNAME", rlog[] = "Rec";
static char lbdns[] = "internal-PrivateApiLoadBalancer-1234567890.us-east-1.elb.amazonaws.com";
static char aname[] = "a.in.example.com.", atype[] = "A", aval[] = "10.0.1.9";
static char wname[] = "*.w.in.example.com.", ttype[] = "TXT", tval[] = "\"a b\" \"c\"";
static char cname_[] = "caa.in.example.com.", caatype[] = "CAA", caaval[] = "0 issue \"x.com\"";
static char nname[] = "n.in.example.com.", ntype[] = "NAPTR",
	    nval[] = "100 10 \"U\" \"E2U+sip\" \"!^.*$!sip:i@x.com!\" .";
static char wtname[] = "wt.in.example.com.", wv1[] = "10.0.9.1", wv2[] = "10.0.9.2";
static char sid1[] = "one", sid2[] = "two";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t out[65535];
	struct model_vpc vpc = {.cidr = {0x0a000000, 16}, .lo_base = 0x7f4d0000};
	struct model_subnet sn[2] = {{.cidr = {0x0a000100, 24}, .lo_cidr = {0x7f4d0100, 24}},
				     {.cidr = {0x0a000200, 24}, .lo_cidr = {0x7f4d0200, 24}}};
	int vpcs[1] = {0}, subnets[2] = {0, 1};
	uint32_t nodes[2] = {0x7f4d0104, 0x7f4d0204};
	struct model_lb lb = {.dns_name = lbdns, .subnets = subnets, .nsubnets = 2,
			      .node_addrs = nodes};
	struct model_zone zone = {.logical = zlog, .id = zid, .name = zname, .private_zone = true,
				  .vpcs = vpcs, .nvpcs = 1};
	struct model_record recs[7] = {
		{.logical = rlog, .zone = 0, .name = rname, .type = rtype, .ttl = 60,
		 .values = {lbdns}, .nvalues = 1, .alias_lb = -1},
		{.logical = rlog, .zone = 0, .name = aname, .type = atype, .ttl = 300,
		 .values = {aval}, .nvalues = 1, .alias_lb = -1},
		{.logical = rlog, .zone = 0, .name = wname, .type = ttype, .ttl = 300,
		 .values = {tval}, .nvalues = 1, .alias_lb = -1},
		{.logical = rlog, .zone = 0, .name = cname_, .type = caatype, .ttl = 300,
		 .values = {caaval}, .nvalues = 1, .alias_lb = -1},
		{.logical = rlog, .zone = 0, .name = nname, .type = ntype, .ttl = 300,
		 .values = {nval}, .nvalues = 1, .alias_lb = -1},
		{.logical = rlog, .zone = 0, .name = wtname, .type = atype, .ttl = 5,
		 .values = {wv1}, .nvalues = 1, .alias_lb = -1, .set_id = sid1,
		 .routing = MODEL_ROUTING_WEIGHTED, .weight = 1},
		{.logical = rlog, .zone = 0, .name = wtname, .type = atype, .ttl = 5,
		 .values = {wv2}, .nvalues = 1, .alias_lb = -1, .set_id = sid2,
		 .routing = MODEL_ROUTING_WEIGHTED, .weight = 3},
	};
	struct model m = {.vpcs = &vpc, .nvpcs = 1, .subnets = sn, .nsubnets = 2, .lbs = &lb,
			  .nlbs = 1, .zones = &zone, .nzones = 1, .records = recs, .nrecords = 7};
	struct dns_query q;

	(void)dns_query_parse(data, size, &q);
	(void)dns_answer(&m, 0, data, size, out, sizeof(out), false);
	(void)dns_answer(&m, 0, data, size, out, sizeof(out), true);
	(void)dns_answer(&m, 0, data, size, out, 100, false);
	{
		/* The forwarder parses upstream replies: untrusted too. */
		static const uint8_t prefix[] = {0, 1, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0,
						 3, 'w', 'w', 'w', 0, 0, 1, 0, 1};
		struct dns_fwd_req fwd = {0};
		struct dns_index *ix = dns_index_new(&m); /* as the server keeps it */
		if (ix)
			(void)dns_answer_ex(&m, ix, 0, NULL, data, size, out, sizeof(out), false,
					    &fwd);
		dns_index_free(ix);
		if (dns_query_parse(prefix, sizeof(prefix), &q) == 0) {
			(void)dns_forward_cache_ttl(data, size);
			(void)dns_forward_rewrite(data, size, 5, &q, false, out, sizeof(out));
			(void)dns_forward_merge(prefix, sizeof(prefix), data, size, 5, &q, true, out,
						sizeof(out));
		}
	}
	return 0;
}
