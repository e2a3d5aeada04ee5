/*
 * Resource types: which properties each accepts and requires, the values of
 * Ref and Fn::GetAtt, and how an evaluated resource becomes part of struct
 * model (AWS defaults, ranges and enums are applied here), with the VPC
 * mapped onto loopback as DESIGN.md says.
 */
#include "cfn/cfn_int.h"
#include "alb/route.h"
#include "dns/rdata.h"
#include "dns/wire.h"
#include "cfn/albrules.h"
#include "http/desync.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---------- Ref and GetAtt values ---------- */

static void put_list(struct cfn_ctx *c, struct cfn_res *r, const char *attr, struct cfn_node *l)
{
	if (!r->attrs)
		r->attrs = cfn_node_new(&c->a, CFN_MAP, r->line, r->col);
	if (!l)
		l = cfn_node_new(&c->a, CFN_LIST, r->line, r->col);
	cfn_node_put(&c->a, r->attrs, attr, r->line, r->col, l);
}

static const char *res_id(struct cfn_ctx *c, struct cfn_res *r, const char *prefix)
{
	char h[18];
	cfn_hex(c, r->logical, prefix, h, 17);
	return cfn_arena_printf(&c->a, "%s-%s", prefix, h);
}

static const char *props_path(struct cfn_ctx *c, struct cfn_res *r)
{
	return cfn__path_key(c, r->path, "Properties");
}

static const char *name_or_gen(struct cfn_ctx *c, struct cfn_res *r, const char *key, size_t max)
{
	const char *s = key ? cfn__prop_str(c, r->props, key, props_path(c, r)) : NULL;
	return s ? s : cfn_gen_name(c, r->logical, max);
}

static void v_vpc(struct cfn_ctx *c, struct cfn_res *r)
{
	const char *id = res_id(c, r, "vpc");
	cfn_attr_set(c, r, NULL, id);
	cfn_attr_set(c, r, "VpcId", id);
	const char *cidr = cfn__prop_str(c, r->props, "CidrBlock", props_path(c, r));
	if (cidr) {
		cfn_attr_set(c, r, "CidrBlock", cidr);
		struct cfn_node *l = cfn_node_new(&c->a, CFN_LIST, r->line, r->col);
		cfn_node_push(&c->a, l,
		              cfn_node_str(&c->a, res_id(c, r, "vpc-cidr-assoc"), r->line, r->col));
		put_list(c, r, "CidrBlockAssociations", l);
	}
	cfn_attr_set(c, r, "DefaultSecurityGroup", res_id(c, r, "sg"));
	cfn_attr_set(c, r, "DefaultNetworkAcl", res_id(c, r, "acl"));
	put_list(c, r, "Ipv6CidrBlocks", NULL);
}

static void v_subnet(struct cfn_ctx *c, struct cfn_res *r)
{
	const char *pp = props_path(c, r);
	const char *id = res_id(c, r, "subnet");
	cfn_attr_set(c, r, NULL, id);
	cfn_attr_set(c, r, "SubnetId", id);
	const char *s;
	if ((s = cfn__prop_str(c, r->props, "AvailabilityZone", pp))) {
		cfn_attr_set(c, r, "AvailabilityZone", s);
		size_t l = strlen(s);
		if (l > 0)
			cfn_attr_set(c, r, "AvailabilityZoneId",
			             cfn_arena_printf(&c->a, "use1-az%d", s[l - 1] - 'a' + 1));
	}
	if ((s = cfn__prop_str(c, r->props, "CidrBlock", pp)))
		cfn_attr_set(c, r, "CidrBlock", s);
	if ((s = cfn__prop_str(c, r->props, "VpcId", pp)))
		cfn_attr_set(c, r, "VpcId", s);
	cfn_attr_set(c, r, "NetworkAclAssociationId", res_id(c, r, "aclassoc"));
	cfn_attr_set(c, r, "OutpostArn", "");
	put_list(c, r, "Ipv6CidrBlocks", NULL);
}

static void v_sg(struct cfn_ctx *c, struct cfn_res *r)
{
	const char *id = res_id(c, r, "sg");
	cfn_attr_set(c, r, NULL, id);
	cfn_attr_set(c, r, "GroupId", id);
	const char *s = cfn__prop_str(c, r->props, "VpcId", props_path(c, r));
	if (s)
		cfn_attr_set(c, r, "VpcId", s);
}

static bool elb_name_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 32 || s[0] == '-' || s[n - 1] == '-' || strncmp(s, "internal-", 9) == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-')
			return false;
	return true;
}

static void v_lb(struct cfn_ctx *c, struct cfn_res *r)
{
	const char *pp = props_path(c, r);
	const char *name = name_or_gen(c, r, "Name", 32);
	if (cfn_node_get(r->props, "Name") && !elb_name_ok(name))
		cfn_error_at(c, cfn_node_get(r->props, "Name"), cfn__path_key(c, pp, "Name"),
		             "a load balancer name has 1..32 letters, digits and hyphens, not "
		             "starting or ending with a hyphen nor starting with \"internal-\"");
	char h[17];
	cfn_hex(c, r->logical, "lb", h, 16);
	const char *scheme = cfn__prop_str(c, r->props, "Scheme", pp);
	bool internal = scheme && strcmp(scheme, "internal") == 0;
	unsigned long long digits = 1000000000ull + cfn_hash(c, r->logical, "dns") % 9000000000ull;
	const char *arn =
	    cfn_arena_printf(&c->a, "arn:aws:elasticloadbalancing:%s:%s:loadbalancer/app/%s/%s",
	                     c->region, c->account, name, h);
	cfn_attr_set(c, r, NULL, arn);
	cfn_attr_set(c, r, "LoadBalancerArn", arn);
	cfn_attr_set(c, r, "LoadBalancerName", name);
	cfn_attr_set(c, r, "LoadBalancerFullName", cfn_arena_printf(&c->a, "app/%s/%s", name, h));
	cfn_attr_set(c, r, "DNSName",
	             cfn_arena_printf(&c->a, "%s%s-%llu.%s.elb.amazonaws.com",
	                              internal ? "internal-" : "", name, digits, c->region));
	/* ALB hosted zone ids per region (AWS general reference, "Elastic
	 * Load Balancing endpoints"); the common ones, us-east-1 otherwise. */
	static const char *const zones[][2] = {
	    {"us-east-1", "Z35SXDOTRQ7X7K"}, {"us-east-2", "Z3AADJGX6KTTL2"},
	    {"us-west-1", "Z368ELLRRE2KJ0"}, {"us-west-2", "Z1H1FL5HABSF5"},
	    {"eu-west-1", "Z32O12XQLNTSW2"}, {"eu-central-1", "Z215JYRZR1TBD5"},
	};
	const char *zid = zones[0][1];
	for (size_t i = 0; i < sizeof(zones) / sizeof(zones[0]); i++)
		if (strcmp(zones[i][0], c->region) == 0)
			zid = zones[i][1];
	cfn_attr_set(c, r, "CanonicalHostedZoneID", zid);
	struct cfn_node *sgs = cfn_node_get(r->props, "SecurityGroups");
	put_list(c, r, "SecurityGroups", sgs && sgs->type == CFN_LIST ? sgs : NULL);
}

/* "arn:...:loadbalancer/app/NAME/ID" -> "arn:...:listener/app/NAME/ID/<hex>" */
static void v_listener(struct cfn_ctx *c, struct cfn_res *r)
{
	char h[17];
	cfn_hex(c, r->logical, "listener", h, 16);
	const char *lb = cfn__prop_str(c, r->props, "LoadBalancerArn", props_path(c, r));
	const char *p = lb ? strstr(lb, ":loadbalancer/") : NULL;
	const char *arn =
	    p ? cfn_arena_printf(&c->a, "%.*s:listener/%s/%s", (int)(p - lb), lb, p + 14, h)
	      : cfn_arena_printf(&c->a,
	                         "arn:aws:elasticloadbalancing:%s:%s:listener/app/unknown/0/%s",
	                         c->region, c->account, h);
	cfn_attr_set(c, r, NULL, arn);
	cfn_attr_set(c, r, "ListenerArn", arn);
}

static void v_rule(struct cfn_ctx *c, struct cfn_res *r)
{
	char h[17];
	cfn_hex(c, r->logical, "rule", h, 16);
	const char *l = cfn__prop_str(c, r->props, "ListenerArn", props_path(c, r));
	const char *p = l ? strstr(l, ":listener/") : NULL;
	const char *arn =
	    p ? cfn_arena_printf(&c->a, "%.*s:listener-rule/%s/%s", (int)(p - l), l, p + 10, h)
	      : cfn_arena_printf(
	            &c->a, "arn:aws:elasticloadbalancing:%s:%s:listener-rule/app/unknown/0/0/%s",
	            c->region, c->account, h);
	cfn_attr_set(c, r, NULL, arn);
	cfn_attr_set(c, r, "RuleArn", arn);
	cfn_attr_set(c, r, "IsDefault", "false");
}

static void v_tg(struct cfn_ctx *c, struct cfn_res *r)
{
	const char *name = name_or_gen(c, r, "Name", 32);
	if (cfn_node_get(r->props, "Name") && !elb_name_ok(name))
		cfn_error_at(c, cfn_node_get(r->props, "Name"),
		             cfn__path_key(c, props_path(c, r), "Name"),
		             "a target group name has 1..32 letters, digits and hyphens, not "
		             "starting or ending with a hyphen");
	char h[17];
	cfn_hex(c, r->logical, "tg", h, 16);
	const char *arn =
	    cfn_arena_printf(&c->a, "arn:aws:elasticloadbalancing:%s:%s:targetgroup/%s/%s",
	                     c->region, c->account, name, h);
	cfn_attr_set(c, r, NULL, arn);
	cfn_attr_set(c, r, "TargetGroupArn", arn);
	cfn_attr_set(c, r, "TargetGroupName", name);
	cfn_attr_set(c, r, "TargetGroupFullName",
	             cfn_arena_printf(&c->a, "targetgroup/%s/%s", name, h));
	put_list(c, r, "LoadBalancerArns", NULL);
}

static void v_cluster(struct cfn_ctx *c, struct cfn_res *r)
{
	const char *name = name_or_gen(c, r, "ClusterName", 255);
	cfn_attr_set(c, r, NULL, name);
	cfn_attr_set(
	    c, r, "Arn",
	    cfn_arena_printf(&c->a, "arn:aws:ecs:%s:%s:cluster/%s", c->region, c->account, name));
}

static void v_taskdef(struct cfn_ctx *c, struct cfn_res *r)
{
	const char *fam = name_or_gen(c, r, "Family", 255);
	const char *arn = cfn_arena_printf(&c->a, "arn:aws:ecs:%s:%s:task-definition/%s:1",
	                                   c->region, c->account, fam);
	cfn_attr_set(c, r, NULL, arn);
	cfn_attr_set(c, r, "TaskDefinitionArn", arn);
}

/* A cluster given by name or ARN -> its name; ECS's "default" when absent. */
static const char *cluster_name(const char *v)
{
	if (!v)
		return "default";
	const char *p = strstr(v, ":cluster/");
	return p ? p + 9 : v;
}

static void v_service(struct cfn_ctx *c, struct cfn_res *r)
{
	const char *pp = props_path(c, r);
	const char *name = cfn__prop_str(c, r->props, "ServiceName", pp);
	if (!name)
		name = cfn_gen_name(c, r->logical, 255);
	const char *cl = cluster_name(cfn__prop_str(c, r->props, "Cluster", pp));
	const char *arn = cfn_arena_printf(&c->a, "arn:aws:ecs:%s:%s:service/%s/%s", c->region,
	                                   c->account, cl, name);
	cfn_attr_set(c, r, NULL, arn);
	cfn_attr_set(c, r, "ServiceArn", arn);
	cfn_attr_set(c, r, "Name", name);
}

static void v_asg(struct cfn_ctx *c, struct cfn_res *r)
{
	const char *name = name_or_gen(c, r, "AutoScalingGroupName", 255);
	cfn_attr_set(c, r, NULL, name);
	char h[37];
	cfn_hex(c, r->logical, "asg", h, 36);
	cfn_attr_set(c, r, "AutoScalingGroupARN",
	             cfn_arena_printf(&c->a,
	                              "arn:aws:autoscaling:%s:%s:autoScalingGroup:%.8s-%.4s-%.4s-%."
	                              "4s-%.12s:autoScalingGroupName/%s",
	                              c->region, c->account, h, h + 8, h + 12, h + 16, h + 20,
	                              name));
}

static void v_zone(struct cfn_ctx *c, struct cfn_res *r)
{
	static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
	char id[15];
	uint64_t h = cfn_hash(c, r->logical, "zone");
	id[0] = 'Z';
	for (int i = 1; i < 14; i++) {
		id[i] = al[h % 36];
		h /= 36;
	}
	id[14] = 0;
	cfn_attr_set(c, r, NULL, id);
	cfn_attr_set(c, r, "Id", id);
	put_list(c, r, "NameServers", NULL); /* "not supported for private hosted zones" */
}

static void v_record(struct cfn_ctx *c, struct cfn_res *r)
{
	const char *n = cfn__prop_str(c, r->props, "Name", props_path(c, r));
	cfn_attr_set(c, r, NULL, n ? n : r->logical);
}

static void v_record_group(struct cfn_ctx *c, struct cfn_res *r)
{
	cfn_attr_set(c, r, NULL, r->logical);
}

static void v_named(struct cfn_ctx *c, struct cfn_res *r, const char *key)
{
	cfn_attr_set(c, r, NULL, name_or_gen(c, r, key, 255));
}

static void v_launchconfig(struct cfn_ctx *c, struct cfn_res *r)
{
	v_named(c, r, "LaunchConfigurationName");
}

static void v_launchtemplate(struct cfn_ctx *c, struct cfn_res *r)
{
	const char *id = res_id(c, r, "lt");
	cfn_attr_set(c, r, NULL, id);
	cfn_attr_set(c, r, "LaunchTemplateId", id);
	cfn_attr_set(c, r, "LatestVersionNumber", "1");
	cfn_attr_set(c, r, "DefaultVersionNumber", "1");
}

static void v_role(struct cfn_ctx *c, struct cfn_res *r)
{
	const char *name = name_or_gen(c, r, "RoleName", 64);
	const char *path = cfn__prop_str(c, r->props, "Path", props_path(c, r));
	cfn_attr_set(c, r, NULL, name);
	cfn_attr_set(c, r, "Arn",
	             cfn_arena_printf(&c->a, "arn:aws:iam::%s:role%s%s", c->account,
	                              path ? path : "/", name));
	char h[18];
	cfn_hex(c, r->logical, "roleid", h, 17);
	for (char *p = h; *p; p++)
		*p = (char)toupper((unsigned char)*p);
	cfn_attr_set(c, r, "RoleId", cfn_arena_printf(&c->a, "AROA%s", h));
}

static void v_profile(struct cfn_ctx *c, struct cfn_res *r)
{
	const char *name = name_or_gen(c, r, "InstanceProfileName", 128);
	cfn_attr_set(c, r, NULL, name);
	cfn_attr_set(
	    c, r, "Arn",
	    cfn_arena_printf(&c->a, "arn:aws:iam::%s:instance-profile/%s", c->account, name));
}

static void v_policy(struct cfn_ctx *c, struct cfn_res *r)
{
	const char *name = name_or_gen(c, r, NULL, 128);
	cfn_attr_set(c, r, NULL, name);
	cfn_attr_set(c, r, "Id", name);
}

static void v_loggroup(struct cfn_ctx *c, struct cfn_res *r)
{
	const char *name = name_or_gen(c, r, "LogGroupName", 512);
	cfn_attr_set(c, r, NULL, name);
	cfn_attr_set(c, r, "Arn",
	             cfn_arena_printf(&c->a, "arn:aws:logs:%s:%s:log-group:%s:*", c->region,
	                              c->account, name));
}

static void v_sgrule(struct cfn_ctx *c, struct cfn_res *r)
{
	const char *id = res_id(c, r, "sgr");
	cfn_attr_set(c, r, NULL, id);
	cfn_attr_set(c, r, "Id", id);
}

/* ---------- builders ---------- */

static void b_vpc(struct cfn_ctx *c, struct cfn_res *r)
{
	struct model *m = c->m;
	const char *pp = props_path(c, r);
	bool ok;
	struct cidr4 cidr = cfn__prop_cidr(c, r->props, "CidrBlock", pp, &ok);
	if (!cfn_node_get(r->props, "CidrBlock"))
		cfn_error_at(c, r->props, pp,
		             "missing required property CidrBlock (IPAM pools are not supported)");
	if (ok && (cidr.prefix < 16 || cidr.prefix > 28))
		cfn_error_at(
		    c, cfn_node_get(r->props, "CidrBlock"), cfn__path_key(c, pp, "CidrBlock"),
		    "a VPC's CIDR block must be between /16 and /28, found /%u", cidr.prefix);
	struct model_vpc *v = &m->vpcs[m->nvpcs];
	v->logical = cfn__strdup(r->logical);
	v->id = cfn__strdup(cfn_attr_str(r, NULL));
	v->cidr = cidr;
	v->lo_base = (c->net.addr & 0xffff0000u) + ((uint32_t)m->nvpcs << 16);
	r->model_index = (int)m->nvpcs++;
}

static void b_subnet(struct cfn_ctx *c, struct cfn_res *r)
{
	struct model *m = c->m;
	const char *pp = props_path(c, r);
	int vpc = cfn__ref_index(c, cfn_node_get(r->props, "VpcId"), "AWS::EC2::VPC",
	                         cfn__path_key(c, pp, "VpcId"), "a VPC");
	bool ok;
	struct cidr4 cidr = cfn__prop_cidr(c, r->props, "CidrBlock", pp, &ok);
	const char *az = cfn__prop_str(c, r->props, "AvailabilityZone", pp);
	if (!cfn_node_get(r->props, "CidrBlock"))
		cfn_error_at(c, r->props, pp, "missing required property CidrBlock");
	if (!az) {
		if (!cfn_node_get(r->props, "AvailabilityZone"))
			cfn_error_at(c, r->props, pp,
			             "a subnet needs AvailabilityZone here (e.g. !Select [0, "
			             "!GetAZs \"\"])");
	} else {
		size_t rl = strlen(c->region), al = strlen(az);
		if (al != rl + 1 || strncmp(az, c->region, rl) != 0 || az[rl] < 'a' ||
		    az[rl] > (strcmp(c->region, "us-east-1") == 0 ? 'f' : 'c'))
			cfn_error_at(c, cfn_node_get(r->props, "AvailabilityZone"),
			             cfn__path_key(c, pp, "AvailabilityZone"),
			             "\"%s\" is not an Availability Zone of %s", az, c->region);
	}
	if (ok && vpc >= 0) {
		struct model_vpc *v = &m->vpcs[vpc];
		if (cidr.prefix < v->cidr.prefix ||
		    (cidr.addr & cidr4_mask(v->cidr.prefix)) != v->cidr.addr)
			cfn_error_at(
			    c, cfn_node_get(r->props, "CidrBlock"),
			    cfn__path_key(c, pp, "CidrBlock"),
			    "The CIDR '%s' is invalid: it is not inside the VPC's CIDR block",
			    cfn__prop_str(c, r->props, "CidrBlock", pp));
		else if (cidr.prefix > 28)
			cfn_error_at(c, cfn_node_get(r->props, "CidrBlock"),
			             cfn__path_key(c, pp, "CidrBlock"),
			             "a subnet's CIDR block must be between /16 and /28, found /%u",
			             cidr.prefix);
		for (size_t i = 0; i < m->nsubnets; i++) {
			struct model_subnet *o = &m->subnets[i];
			uint8_t p = o->cidr.prefix < cidr.prefix ? o->cidr.prefix : cidr.prefix;
			if (o->vpc == vpc &&
			    (o->cidr.addr & cidr4_mask(p)) == (cidr.addr & cidr4_mask(p)))
				cfn_error_at(c, cfn_node_get(r->props, "CidrBlock"),
				             cfn__path_key(c, pp, "CidrBlock"),
				             "The CIDR '%s' conflicts with another subnet (%s)",
				             cfn__prop_str(c, r->props, "CidrBlock", pp),
				             o->logical);
		}
	}
	struct model_subnet *s = &m->subnets[m->nsubnets];
	s->logical = cfn__strdup(r->logical);
	s->id = cfn__strdup(cfn_attr_str(r, NULL));
	s->az = cfn__strdup(az ? az : "");
	s->vpc = vpc;
	s->cidr = cidr;
	if (vpc >= 0 && ok)
		s->lo_cidr = (struct cidr4){model_vpc_map(m, vpc, cidr.addr), cidr.prefix};
	c->subnet_next[m->nsubnets] = 4; /* AWS reserves .0-.3 and the last address */
	r->model_index = (int)m->nsubnets++;
}

static int ip_proto(struct cfn_ctx *c, const struct cfn_node *n, const char *path)
{
	if (!n)
		return -2;
	const char *s = n->type == CFN_STR || n->type == CFN_NUM ? n->str : NULL;
	if (s) {
		if (strcmp(s, "-1") == 0 || strcmp(s, "all") == 0)
			return -1;
		if (strcmp(s, "tcp") == 0 || strcmp(s, "6") == 0)
			return 6;
		if (strcmp(s, "udp") == 0 || strcmp(s, "17") == 0)
			return 17;
		if (strcmp(s, "icmp") == 0 || strcmp(s, "1") == 0)
			return 1;
		if (strcmp(s, "icmpv6") == 0 || strcmp(s, "58") == 0)
			return 58;
		char *e;
		long v = strtol(s, &e, 10);
		if (*s && !*e && v >= 0 && v <= 255)
			return (int)v;
	}
	cfn_error_at(c, n, path,
	             "IpProtocol must be tcp, udp, icmp, icmpv6, -1 or a protocol number, found %s",
	             cfn__found(c, n));
	return -2;
}

static const char *const sg_rule_props[] = {"CidrIp",
                                            "CidrIpv6",
                                            "Description",
                                            "FromPort",
                                            "IpProtocol",
                                            "ToPort",
                                            "SourceSecurityGroupId",
                                            "SourceSecurityGroupName",
                                            "SourceSecurityGroupOwnerId",
                                            "SourcePrefixListId",
                                            "DestinationSecurityGroupId",
                                            "DestinationPrefixListId",
                                            "CidrIpv6",
                                            NULL};

/* One rule (inline, or a SecurityGroupIngress/Egress resource); false when
 * it is wrong (reported) or cannot apply here (IPv6). */
static bool sg_rule_one(struct cfn_ctx *c, const struct cfn_node *it, const char *ip,
                        const char *const *known, int vpc, struct model_sg_rule *sr)
{
	if (it->type != CFN_MAP) {
		cfn_error_at(c, it, ip, "expected an object, found %s", cfn__found(c, it));
		return false;
	}
	static const char *const req[] = {"IpProtocol", NULL};
	cfn__check_keys(c, it, ip, known, req, "property");
	sr->proto = ip_proto(c, cfn_node_get(it, "IpProtocol"), cfn__path_key(c, ip, "IpProtocol"));
	if (sr->proto == -2)
		return false;
	sr->from_port = cfn__prop_int(c, it, "FromPort", ip, -1, -1, 65535);
	sr->to_port = cfn__prop_int(c, it, "ToPort", ip, -1, -1, 65535);
	if (sr->proto == -1) {
		sr->from_port = sr->to_port = -1;
	} else if ((sr->proto == 6 || sr->proto == 17) &&
	           (sr->from_port < 0 || sr->to_port < sr->from_port)) {
		cfn_error_at(c, it, ip, "a tcp or udp rule needs FromPort <= ToPort, 0..65535");
		return false;
	}
	bool ok = false;
	if (cfn_node_get(it, "CidrIp")) {
		sr->cidr = cfn__prop_cidr(c, it, "CidrIp", ip, &ok);
		return ok;
	}
	if (cfn_node_get(it, "CidrIpv6"))
		return false; /* IPv6 sources never reach a 127/8 listener */
	if (vpc < 0)
		return false;
	/* A source security group or prefix list: vpcd cannot tell members
	 * apart by address, so it stands for the whole VPC. */
	sr->cidr = c->m->vpcs[vpc].cidr;
	return true;
}

static struct model_sg_rule *sg_rules(struct cfn_ctx *c, const struct cfn_node *l, const char *base,
                                      const char *key, int vpc, size_t *count)
{
	*count = 0;
	struct model_sg_rule *out = cfn__calloc(l ? l->n : 1, sizeof(*out));
	for (size_t i = 0; l && i < l->n; i++)
		if (sg_rule_one(c, l->items[i], cfn__item_path(c, base, key, i), sg_rule_props, vpc,
		                &out[*count]))
			(*count)++;
	return out;
}

static const char *const sg_res_props[] = {"GroupId",
                                           "GroupName",
                                           "CidrIp",
                                           "CidrIpv6",
                                           "Description",
                                           "FromPort",
                                           "IpProtocol",
                                           "ToPort",
                                           "SourceSecurityGroupId",
                                           "SourceSecurityGroupName",
                                           "SourceSecurityGroupOwnerId",
                                           "SourcePrefixListId",
                                           "DestinationSecurityGroupId",
                                           "DestinationPrefixListId",
                                           NULL};

/* AWS::EC2::SecurityGroupIngress/Egress: one more rule on a group of the
 * template (the usual way to open a group to another without a cycle). */
static void b_sgrule(struct cfn_ctx *c, struct cfn_res *r)
{
	struct model *m = c->m;
	const char *pp = props_path(c, r);
	bool ingress = strcmp(r->type_name, "AWS::EC2::SecurityGroupIngress") == 0;
	const struct cfn_node *gid = cfn_node_get(r->props, "GroupId");
	if (!gid) {
		cfn_error_at(c, r->props, pp,
		             "missing required property GroupId (GroupName is for EC2-Classic)");
		return;
	}
	int g = cfn__ref_index(c, gid, "AWS::EC2::SecurityGroup", cfn__path_key(c, pp, "GroupId"),
	                       "a security group");
	struct model_sg_rule sr = {0};
	if (!sg_rule_one(c, r->props, pp, sg_res_props, g >= 0 ? m->sgs[g].vpc : -1, &sr) || g < 0)
		return;
	struct model_sg *sg = &m->sgs[g];
	struct model_sg_rule **rules = ingress ? &sg->ingress : &sg->egress;
	size_t *n = ingress ? &sg->ningress : &sg->negress;
	struct model_sg_rule *nr = realloc(*rules, (*n + 1) * sizeof(*nr));
	if (!nr)
		abort();
	nr[(*n)++] = sr;
	*rules = nr;
}

static void b_sg(struct cfn_ctx *c, struct cfn_res *r)
{
	struct model *m = c->m;
	const char *pp = props_path(c, r);
	struct model_sg *g = &m->sgs[m->nsgs];
	g->logical = cfn__strdup(r->logical);
	g->id = cfn__strdup(cfn_attr_str(r, NULL));
	g->vpc = cfn_node_get(r->props, "VpcId")
	             ? cfn__ref_index(c, cfn_node_get(r->props, "VpcId"), "AWS::EC2::VPC",
	                              cfn__path_key(c, pp, "VpcId"), "a VPC")
	             : (m->nvpcs == 1 ? 0 : -1);
	cfn__prop_str(c, r->props, "GroupDescription", pp);
	g->ingress = sg_rules(c, cfn__prop_list(c, r->props, "SecurityGroupIngress", pp), pp,
	                      "SecurityGroupIngress", g->vpc, &g->ningress);
	struct cfn_node *eg = cfn__prop_list(c, r->props, "SecurityGroupEgress", pp);
	if (eg) {
		g->egress = sg_rules(c, eg, pp, "SecurityGroupEgress", g->vpc, &g->negress);
	} else {
		/* AWS's default egress rule: everything, everywhere. */
		g->egress = cfn__calloc(1, sizeof(*g->egress));
		g->egress[0] = (struct model_sg_rule){.proto = -1, .from_port = -1, .to_port = -1};
		g->negress = 1;
	}
	r->model_index = (int)m->nsgs++;
}

static const char *const http_protos[] = {"HTTP", "HTTPS", NULL};

#define APP_COOKIE_NAME_MAX 128 /* vpcd's bound; AWS states none */

/* A cookie name: an RFC 6265 token (RFC 7230 tchar). */
static bool cookie_name_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > APP_COOKIE_NAME_MAX)
		return false;
	for (const char *p = s; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("!#$%&'*+-.^_`|~", *p))
			return false;
	return true;
}

/* A Matcher's codes: "200", "200,202" or "200-299", each in min..max. */
static bool codes_ok(const char *codes, long min, long max)
{
	bool ok = *codes != 0;
	for (const char *p = codes; *p && ok;) {
		char *e;
		long lo = strtol(p, &e, 10), hi = lo;
		ok = e != p && lo >= min && lo <= max;
		if (ok && *e == '-') {
			p = e + 1;
			hi = strtol(p, &e, 10);
			ok = e != p && hi >= lo && hi <= max;
		}
		p = e;
		if (ok && *p == ',')
			p++;
		else if (*p)
			ok = false;
	}
	return ok;
}

#define TG_MAX_TARGETS 1000 /* AWS: targets per target group (instance, ip) */

/* The group's Targets: static registration. vpcd has no EC2::Instance, so
 * only ip targets can be named; an Id is a VPC address (mapped onto the
 * VPC's loopback /16), its Port the group's unless given. An address
 * outside the VPC needs AvailabilityZone "all" in AWS; vpcd maps only the
 * VPC, so it has nothing there and says so. */
static void static_targets(struct cfn_ctx *c, struct cfn_res *r, struct model_target_group *t,
                           const char *tt, const char *pp)
{
	struct cfn_node *l = cfn__prop_list(c, r->props, "Targets", pp);
	if (!l || l->n == 0)
		return;
	if (strcmp(tt, "ip") != 0) {
		cfn_error_at(c, l, cfn__path_key(c, pp, "Targets"),
		             "static targets of target type %s are not supported: vpcd models no "
		             "AWS::EC2::Instance to name (its Auto Scaling group hosts get tasks "
		             "through ECS services); use TargetType ip with VPC addresses as Ids",
		             tt);
		return;
	}
	if (l->n > TG_MAX_TARGETS) {
		cfn_error_at(c, l, cfn__path_key(c, pp, "Targets"),
		             "at most %d targets per target group, found %zu", TG_MAX_TARGETS,
		             l->n);
		return;
	}
	t->targets = cfn__calloc(l->n, sizeof(*t->targets));
	for (size_t i = 0; i < l->n; i++) {
		static const char *const keys[] = {"Id", "Port", "AvailabilityZone", NULL};
		static const char *const req[] = {"Id", NULL};
		const struct cfn_node *it = l->items[i];
		const char *ip = cfn__item_path(c, pp, "Targets", i);
		if (it->type != CFN_MAP) {
			cfn_error_at(c, it, ip, "expected an object, found %s", cfn__found(c, it));
			continue;
		}
		cfn__check_keys(c, it, ip, keys, req, "property");
		const char *id = cfn__prop_str(c, it, "Id", ip);
		int port = cfn__prop_int(c, it, "Port", ip, t->port, 1, 65535);
		const char *az = cfn__prop_str(c, it, "AvailabilityZone", ip);
		uint32_t a;
		if (!id)
			continue;
		if (addr4_parse(id, &a) < 0) {
			cfn_error_at(c, cfn_node_get(it, "Id"), cfn__path_key(c, ip, "Id"),
			             "an ip target's Id must be an IPv4 address, found \"%s\"", id);
			continue;
		}
		if (t->vpc < 0)
			continue;
		const struct model_vpc *v = &c->m->vpcs[t->vpc];
		if (!cidr4_contains(v->cidr, a)) {
			char cb[16];
			if (!az || strcmp(az, "all") != 0)
				cfn_error_at(c, cfn_node_get(it, "Id"), cfn__path_key(c, ip, "Id"),
				             "%s is outside the VPC's CIDR %s/%u: AWS requires "
				             "AvailabilityZone \"all\" for such a target",
				             id, addr4_str(v->cidr.addr, cb), v->cidr.prefix);
			else
				cfn_error_at(
				    c, cfn_node_get(it, "Id"), cfn__path_key(c, ip, "Id"),
				    "%s is outside the VPC's CIDR %s/%u: vpcd maps only the "
				    "VPC onto loopback, so a peered or on-premises address has "
				    "nothing to reach",
				    id, addr4_str(v->cidr.addr, cb), v->cidr.prefix);
			continue;
		}
		if (az && strcmp(az, "all") != 0) {
			/* inside the VPC AWS detects the zone; a given one must be
			 * the zone of a subnet holding the address */
			bool found = false;
			for (size_t k = 0; k < c->m->nsubnets; k++) {
				const struct model_subnet *sn = &c->m->subnets[k];
				if (sn->vpc == t->vpc && cidr4_contains(sn->cidr, a) && sn->az &&
				    strcmp(sn->az, az) == 0)
					found = true;
			}
			if (!found)
				cfn_error_at(c, cfn_node_get(it, "AvailabilityZone"),
				             cfn__path_key(c, ip, "AvailabilityZone"),
				             "%s is in no subnet of AvailabilityZone %s", id, az);
		}
		t->targets[t->ntargets++] = (struct model_static_target){
		    .addr = model_vpc_map(c->m, t->vpc, a), .port = (uint16_t)port};
	}
}

static void b_tg(struct cfn_ctx *c, struct cfn_res *r)
{
	struct model *m = c->m;
	const char *pp = props_path(c, r);
	struct model_target_group *t = &m->tgs[m->ntgs];
	t->logical = cfn__strdup(r->logical);
	t->name = cfn__strdup(cfn_attr_str(r, "TargetGroupName"));
	t->arn = cfn__strdup(cfn_attr_str(r, NULL));
	t->full_name = cfn__strdup(cfn_attr_str(r, "TargetGroupFullName"));
	static const char *const ttypes[] = {"instance", "ip", "lambda", "alb", NULL};
	const char *tt = cfn__prop_enum(c, r->props, "TargetType", pp, "instance", ttypes);
	if (strcmp(tt, "lambda") == 0)
		cfn_error_at(c, cfn_node_get(r->props, "TargetType"),
		             cfn__path_key(c, pp, "TargetType"),
		             "target type lambda is not supported: vpcd runs no Lambda functions "
		             "(so the ALB's 413 for a Lambda request body over 1 MB cannot occur); "
		             "use ip or instance");
	else if (strcmp(tt, "alb") == 0)
		cfn_error_at(c, cfn_node_get(r->props, "TargetType"),
		             cfn__path_key(c, pp, "TargetType"),
		             "target type alb is not supported yet (an ALB as the target of a "
		             "Network Load Balancer; vpcd has no NLB)");
	t->target_type = cfn__strdup(tt);
	const char *proto = cfn__prop_enum(c, r->props, "Protocol", pp, NULL, http_protos);
	if (!cfn_node_get(r->props, "Protocol"))
		cfn_error_at(c, r->props, pp,
		             "missing required property Protocol (for target type %s)", tt);
	if (proto && strcmp(proto, "HTTPS") == 0)
		cfn_error_at(c, cfn_node_get(r->props, "Protocol"),
		             cfn__path_key(c, pp, "Protocol"),
		             "protocol HTTPS is not supported: vpcd speaks no TLS to targets; use "
		             "HTTP");
	t->protocol = cfn__strdup(proto ? proto : "HTTP");
	t->port = cfn__prop_int(c, r->props, "Port", pp, 0, 1, 65535);
	if (!cfn_node_get(r->props, "Port"))
		cfn_error_at(c, r->props, pp, "missing required property Port (for target type %s)",
		             tt);
	t->vpc = -1;
	if (cfn_node_get(r->props, "VpcId"))
		t->vpc = cfn__ref_index(c, cfn_node_get(r->props, "VpcId"), "AWS::EC2::VPC",
		                        cfn__path_key(c, pp, "VpcId"), "a VPC");
	else
		cfn_error_at(c, r->props, pp,
		             "missing required property VpcId (for target type %s)", tt);
	static const char *const pversions[] = {"HTTP1", "HTTP2", "GRPC", NULL};
	const char *pv = cfn__prop_enum(c, r->props, "ProtocolVersion", pp, "HTTP1", pversions);
	/* HTTP2 and GRPC groups are accepted; AWS lets only HTTPS listeners
	 * forward to them (check_forward_versions) and answers an HTTP/1.1
	 * request routed to one with 464. */
	t->protocol_version = strcmp(pv, "HTTP2") == 0  ? MODEL_PV_HTTP2
	                      : strcmp(pv, "GRPC") == 0 ? MODEL_PV_GRPC
	                                                : MODEL_PV_HTTP1;
	if (t->protocol_version != MODEL_PV_HTTP1 && strcmp(tt, "instance") != 0 &&
	    strcmp(tt, "ip") != 0)
		cfn_error_at(c, cfn_node_get(r->props, "ProtocolVersion"),
		             cfn__path_key(c, pp, "ProtocolVersion"),
		             "protocol version %s needs target type instance or ip", pv);
	struct model_health_check *hc = &t->hc;
	hc->enabled = cfn__prop_bool(c, r->props, "HealthCheckEnabled", pp, true);
	hc->protocol = cfn__strdup(
	    cfn__prop_enum(c, r->props, "HealthCheckProtocol", pp, t->protocol, http_protos));
	if (hc->protocol && strcmp(hc->protocol, "HTTPS") == 0 &&
	    cfn_node_get(r->props, "HealthCheckProtocol"))
		cfn_error_at(
		    c, cfn_node_get(r->props, "HealthCheckProtocol"),
		    cfn__path_key(c, pp, "HealthCheckProtocol"),
		    "health check protocol HTTPS is not supported: vpcd has no TLS client, "
		    "and checking over plain HTTP would not be the check AWS runs; use "
		    "HTTP");
	const char *hp = cfn__prop_str(c, r->props, "HealthCheckPort", pp);
	hc->port = 0;
	if (hp && strcmp(hp, "traffic-port") != 0) {
		hc->port = cfn__prop_int(c, r->props, "HealthCheckPort", pp, 0, 1, 65535);
	}
	const char *path = cfn__prop_str(c, r->props, "HealthCheckPath", pp);
	if (path && (path[0] != '/' || strlen(path) > 1024))
		cfn_error_at(c, cfn_node_get(r->props, "HealthCheckPath"),
		             cfn__path_key(c, pp, "HealthCheckPath"),
		             "must start with \"/\" and be at most 1024 characters");
	/* AWS's default path: / for HTTP, /AWS.ALB/healthcheck for gRPC */
	hc->path = cfn__strdup(
	    path ? path : (t->protocol_version == MODEL_PV_GRPC ? "/AWS.ALB/healthcheck" : "/"));
	hc->interval_s = cfn__prop_int(c, r->props, "HealthCheckIntervalSeconds", pp, 30, 5, 300);
	hc->timeout_s = cfn__prop_int(c, r->props, "HealthCheckTimeoutSeconds", pp, 5, 2, 120);
	hc->healthy_threshold = cfn__prop_int(c, r->props, "HealthyThresholdCount", pp, 5, 2, 10);
	hc->unhealthy_threshold =
	    cfn__prop_int(c, r->props, "UnhealthyThresholdCount", pp, 2, 2, 10);
	if (hc->timeout_s >= hc->interval_s)
		cfn_error_at(c,
		             cfn_node_get(r->props, "HealthCheckTimeoutSeconds")
		                 ? cfn_node_get(r->props, "HealthCheckTimeoutSeconds")
		                 : r->props,
		             cfn__path_key(c, pp, "HealthCheckTimeoutSeconds"),
		             "Health check interval must be greater than the timeout (timeout %d "
		             "s, interval %d s)",
		             hc->timeout_s, hc->interval_s);
	struct cfn_node *mt = cfn__prop_map(c, r->props, "Matcher", pp);
	const char *codes = NULL;
	if (mt) {
		static const char *const mprops[] = {"HttpCode", "GrpcCode", NULL};
		cfn__check_keys(c, mt, cfn__path_key(c, pp, "Matcher"), mprops, NULL, "property");
		codes = cfn__prop_str(c, mt, "HttpCode", cfn__path_key(c, pp, "Matcher"));
		const char *grpc =
		    cfn__prop_str(c, mt, "GrpcCode", cfn__path_key(c, pp, "Matcher"));
		if (grpc && t->protocol_version != MODEL_PV_GRPC)
			cfn_error_at(
			    c, cfn_node_get(mt, "GrpcCode"),
			    cfn__path_key(c, pp, "Matcher.GrpcCode"),
			    "GrpcCode is for target groups with ProtocolVersion GRPC; this "
			    "one is %s (use HttpCode)",
			    pv);
		if (codes && t->protocol_version == MODEL_PV_GRPC)
			cfn_error_at(
			    c, cfn_node_get(mt, "HttpCode"),
			    cfn__path_key(c, pp, "Matcher.HttpCode"),
			    "a target group with ProtocolVersion GRPC matches GrpcCode, not "
			    "HttpCode");
		if (grpc && t->protocol_version == MODEL_PV_GRPC) {
			if (!codes_ok(grpc, 0, 99))
				cfn_error_at(c, cfn_node_get(mt, "GrpcCode"),
				             cfn__path_key(c, pp, "Matcher.GrpcCode"),
				             "must be gRPC codes 0..99 as \"12\", \"0,12\" or "
				             "\"0-99\", found \"%s\"",
				             grpc);
			codes = grpc;
		} else if (codes && t->protocol_version == MODEL_PV_GRPC) {
			codes = NULL;
		}
		if (codes && t->protocol_version != MODEL_PV_GRPC) {
			if (!codes_ok(codes, 200, 499))
				cfn_error_at(c, cfn_node_get(mt, "HttpCode"),
				             cfn__path_key(c, pp, "Matcher.HttpCode"),
				             "must be codes 200..499 as \"200\", \"200,202\" or "
				             "\"200-299\", found \"%s\"",
				             codes);
		}
	}
	/* AWS's defaults: HTTP 200; gRPC 12 (UNIMPLEMENTED, what a gRPC server
	 * answers to the default path /AWS.ALB/healthcheck). */
	hc->matcher =
	    cfn__strdup(codes ? codes : (t->protocol_version == MODEL_PV_GRPC ? "12" : "200"));
	static_targets(c, r, t, tt, pp);
	t->deregistration_delay_s = 300;
	struct cfn_node *attrs = cfn__prop_list(c, r->props, "TargetGroupAttributes", pp);
	const struct cfn_node *ss_node = NULL, *st_node = NULL, *an_node = NULL;
	const char *ss_path = NULL, *st_path = NULL, *st_type = NULL, *an_path = NULL;
	const char *app_name = NULL;
	t->sticky_s = 86400;
	t->app_sticky_s = 86400;
	for (size_t i = 0; attrs && i < attrs->n; i++) {
		const struct cfn_node *a = attrs->items[i];
		const char *ap = cfn__item_path(c, pp, "TargetGroupAttributes", i);
		if (a->type != CFN_MAP) {
			cfn_error_at(c, a, ap, "expected an object, found %s", cfn__found(c, a));
			continue;
		}
		const char *k = cfn__prop_str(c, a, "Key", ap);
		if (k && strcmp(k, "deregistration_delay.timeout_seconds") == 0)
			t->deregistration_delay_s = cfn__prop_int(c, a, "Value", ap, 300, 0, 3600);
		if (k && strcmp(k, "load_balancing.algorithm.type") == 0) {
			static const char *const algos[] = {"round_robin", "least_outstanding_requests",
							    "weighted_random", NULL};
			const char *v = cfn__prop_enum(c, a, "Value", ap, "round_robin", algos);
			for (int j = 0; algos[j]; j++)
				if (v && strcmp(v, algos[j]) == 0)
					t->lb_algo = j;
		}
		if (k && strcmp(k, "stickiness.enabled") == 0)
			t->sticky = cfn__prop_bool(c, a, "Value", ap, false);
		if (k && strcmp(k, "stickiness.type") == 0) {
			static const char *const sts[] = {"lb_cookie", "app_cookie", "source_ip",
							  NULL};
			st_type = cfn__prop_enum(c, a, "Value", ap, "lb_cookie", sts);
			st_node = a;
			st_path = ap;
		}
		if (k && strcmp(k, "stickiness.lb_cookie.duration_seconds") == 0)
			t->sticky_s = cfn__prop_int(c, a, "Value", ap, 86400, 1, 604800);
		if (k && strcmp(k, "stickiness.app_cookie.duration_seconds") == 0)
			t->app_sticky_s = cfn__prop_int(c, a, "Value", ap, 86400, 1, 604800);
		if (k && strcmp(k, "stickiness.app_cookie.cookie_name") == 0) {
			app_name = cfn__prop_str(c, a, "Value", ap);
			an_node = a;
			an_path = ap;
		}
		if (k && strcmp(k, "slow_start.duration_seconds") == 0) {
			t->slow_start_s = cfn__prop_int(c, a, "Value", ap, 0, 0, 900);
			if (t->slow_start_s > 0 && t->slow_start_s < 30) {
				cfn_error_at(c, a, ap,
					     "slow_start.duration_seconds must be 0 or 30..900, found %d",
					     t->slow_start_s);
				ss_node = NULL;
			} else if (t->slow_start_s > 0) {
				ss_node = a;
				ss_path = ap;
			}
		}
	}
	if (app_name && !cookie_name_ok(app_name))
		cfn_error_at(c, an_node, an_path,
		             "stickiness.app_cookie.cookie_name must be a cookie name (1..%d token "
		             "characters, RFC 6265), found \"%s\"",
		             APP_COOKIE_NAME_MAX, app_name);
	else if (app_name && strncmp(app_name, "AWSALB", 6) == 0)
		cfn_error_at(c, an_node, an_path,
		             "stickiness.app_cookie.cookie_name can't start with AWSALB, AWSALBAPP "
		             "or AWSALBTG (reserved for the load balancer), found \"%s\"",
		             app_name);
	if (st_node && t->sticky && st_type && strcmp(st_type, "app_cookie") == 0) {
		t->sticky = false;
		t->app_sticky = true;
		if (!app_name)
			cfn_error_at(
			    c, st_node, st_path,
			    "stickiness.type app_cookie needs the attribute "
			    "stickiness.app_cookie.cookie_name (the application's cookie)");
		t->app_cookie = cfn__strdup(app_name);
	} else if (st_node && t->sticky && st_type && strcmp(st_type, "lb_cookie") != 0) {
		cfn_error_at(c, st_node, st_path,
		             "stickiness.type %s is for Network Load Balancers; an "
		             "Application Load Balancer's target group takes lb_cookie or "
		             "app_cookie",
		             st_type);
		t->sticky = false;
	}
	if (ss_node && t->lb_algo == MODEL_ALGO_LEAST_OUTSTANDING)
		cfn_error_at(c, ss_node, ss_path,
			     "slow_start.duration_seconds cannot be used with "
			     "load_balancing.algorithm.type least_outstanding_requests (AWS refuses it)");
	r->model_index = (int)m->ntgs++;
}

static void b_lb(struct cfn_ctx *c, struct cfn_res *r)
{
	struct model *m = c->m;
	const char *pp = props_path(c, r);
	struct model_lb *l = &m->lbs[m->nlbs];
	l->logical = cfn__strdup(r->logical);
	l->name = cfn__strdup(cfn_attr_str(r, "LoadBalancerName"));
	l->arn = cfn__strdup(cfn_attr_str(r, NULL));
	l->full_name = cfn__strdup(cfn_attr_str(r, "LoadBalancerFullName"));
	l->dns_name = cfn__strdup(cfn_attr_str(r, "DNSName"));
	static const char *const schemes[] = {"internal", "internet-facing", NULL};
	l->scheme =
	    cfn__strdup(cfn__prop_enum(c, r->props, "Scheme", pp, "internet-facing", schemes));
	static const char *const types[] = {"application", "network", "gateway", NULL};
	const char *type = cfn__prop_enum(c, r->props, "Type", pp, "application", types);
	if (strcmp(type, "application") != 0)
		cfn_error_at(c, cfn_node_get(r->props, "Type"), cfn__path_key(c, pp, "Type"),
		             "load balancer type %s is not supported yet", type);
	struct cfn_node *subs = cfn__prop_list(c, r->props, "Subnets", pp);
	const char *spath = cfn__path_key(c, pp, "Subnets");
	struct cfn_node *maps = cfn__prop_list(c, r->props, "SubnetMappings", pp);
	if (!subs && maps) {
		/* SubnetMappings: only the SubnetId matters here. */
		subs = cfn_node_new(&c->a, CFN_LIST, maps->line, maps->col);
		for (size_t i = 0; i < maps->n; i++) {
			struct cfn_node *sid = cfn_node_get(maps->items[i], "SubnetId");
			if (sid)
				cfn_node_push(&c->a, subs, sid);
			else
				cfn_error_at(c, maps->items[i],
				             cfn__item_path(c, pp, "SubnetMappings", i),
				             "missing required property SubnetId");
		}
		spath = cfn__path_key(c, pp, "SubnetMappings");
	}
	l->subnets = cfn__ref_indexes(c, subs, "AWS::EC2::Subnet", spath, "a subnet", &l->nsubnets);
	if (!subs) {
		cfn_error_at(c, r->props, pp, "a load balancer needs Subnets (or SubnetMappings)");
	} else if (l->nsubnets == subs->n) {
		bool two_azs = false;
		for (size_t i = 0; i < l->nsubnets; i++)
			for (size_t k = 0; k < i; k++) {
				if (l->subnets[i] == l->subnets[k] ||
				    strcmp(m->subnets[l->subnets[i]].az,
				           m->subnets[l->subnets[k]].az) == 0)
					cfn_error_at(
					    c, subs->items[i],
					    cfn_arena_printf(&c->a, "%s[%zu]", spath, i),
					    "A load balancer cannot be attached to multiple "
					    "subnets in the same Availability Zone");
				else
					two_azs = true;
			}
		if (!two_azs && l->nsubnets < 2)
			cfn_error_at(c, subs, spath,
			             "At least two subnets in two different Availability Zones "
			             "must be specified");
	}
	l->node_addrs = cfn__calloc(l->nsubnets, sizeof(*l->node_addrs));
	for (size_t i = 0; i < l->nsubnets; i++) {
		int s = l->subnets[i];
		struct model_subnet *sn = &m->subnets[s];
		if (sn->lo_cidr.prefix < 16 || sn->lo_cidr.prefix > 32)
			continue; /* the subnet's own error says why */
		uint64_t size = 1ull << (32 - sn->lo_cidr.prefix);
		if (c->subnet_next[s] + 1u >= size) {
			cfn_error_at(c, subs->items[i],
			             cfn_arena_printf(&c->a, "%s[%zu]", spath, i),
			             "subnet %s has no free address left", sn->logical);
			continue;
		}
		l->node_addrs[i] = sn->lo_cidr.addr + c->subnet_next[s]++;
	}
	l->sgs = cfn__ref_indexes(c, cfn__prop_list(c, r->props, "SecurityGroups", pp),
	                          "AWS::EC2::SecurityGroup", cfn__path_key(c, pp, "SecurityGroups"),
	                          "a security group", &l->nsgs);
	l->idle_timeout_s = 60;
	struct cfn_node *attrs = cfn__prop_list(c, r->props, "LoadBalancerAttributes", pp);
	for (size_t i = 0; attrs && i < attrs->n; i++) {
		const struct cfn_node *a = attrs->items[i];
		const char *ap = cfn__item_path(c, pp, "LoadBalancerAttributes", i);
		if (a->type != CFN_MAP) {
			cfn_error_at(c, a, ap, "expected an object, found %s", cfn__found(c, a));
			continue;
		}
		const char *k = cfn__prop_str(c, a, "Key", ap);
		if (k && strcmp(k, "idle_timeout.timeout_seconds") == 0)
			l->idle_timeout_s = cfn__prop_int(c, a, "Value", ap, 60, 1, 4000);
		if (k && strcmp(k, "routing.http.desync_mitigation_mode") == 0) {
			static const char *const dms[] = {"defensive", "strictest", "monitor",
			                                  NULL};
			const char *v = cfn__prop_enum(c, a, "Value", ap, "defensive", dms);
			enum desync_mode dm = DESYNC_MODE_DEFENSIVE;
			(void)desync_mode_parse((struct http_slice){v, strlen(v)}, &dm);
			l->desync_mode = (int)dm;
		}
	}
	r->model_index = (int)m->nlbs++;
}

/* AWS: a target group with ProtocolVersion HTTP2 or GRPC takes requests
 * from HTTPS listeners only (the client's HTTP/2 or gRPC needs TLS's ALPN);
 * forwarding to one from an HTTP listener is refused at creation. */
static void check_forward_versions(struct cfn_ctx *c, const struct cfn_node *n, const char *path,
                                   const char *listener_proto, const struct model_action *a)
{
	if (a->type != MODEL_ACTION_FORWARD || !listener_proto ||
	    strcmp(listener_proto, "HTTPS") == 0)
		return;
	for (size_t i = 0; i < (a->nfwd ? a->nfwd : 1); i++) {
		int tg = a->nfwd ? a->fwd_tgs[i] : a->target_group;
		if (tg < 0 || (size_t)tg >= c->m->ntgs ||
		    c->m->tgs[tg].protocol_version == MODEL_PV_HTTP1)
			continue;
		cfn_error_at(c, n, path,
		             "target group %s has ProtocolVersion %s, which AWS allows only behind "
		             "an HTTPS listener; this listener is %s",
		             c->m->tgs[tg].logical,
		             c->m->tgs[tg].protocol_version == MODEL_PV_GRPC ? "GRPC" : "HTTP2",
		             listener_proto);
	}
}

static void b_listener(struct cfn_ctx *c, struct cfn_res *r)
{
	struct model *m = c->m;
	const char *pp = props_path(c, r);
	struct model_listener *l = &m->listeners[m->nlisteners];
	l->logical = cfn__strdup(r->logical);
	l->arn = cfn__strdup(cfn_attr_str(r, NULL));
	l->lb = cfn__ref_index(c, cfn_node_get(r->props, "LoadBalancerArn"),
	                       "AWS::ElasticLoadBalancingV2::LoadBalancer",
	                       cfn__path_key(c, pp, "LoadBalancerArn"), "a load balancer");
	l->protocol = cfn__strdup(cfn__prop_enum(c, r->props, "Protocol", pp, "HTTP", http_protos));
	l->port = cfn__prop_int(c, r->props, "Port", pp,
	                        strcmp(l->protocol, "HTTPS") == 0 ? 443 : 80, 1, 65535);
	if (!cfn_node_get(r->props, "Port"))
		cfn_error_at(c, r->props, pp,
		             "missing required property Port (for an Application Load Balancer)");
	if (strcmp(l->protocol, "HTTPS") == 0 && !cfn_node_get(r->props, "Certificates"))
		cfn_error_at(c, r->props, pp, "an HTTPS listener needs Certificates");
	cfn__alb_actions(c, cfn__prop_list(c, r->props, "DefaultActions", pp), pp,
	                 "DefaultActions", l->protocol, &l->default_action);
	if (cfn_node_get(r->props, "DefaultActions"))
		check_forward_versions(c, cfn_node_get(r->props, "DefaultActions"),
		                       cfn__path_key(c, pp, "DefaultActions"), l->protocol,
		                       &l->default_action);
	if (cfn_node_get(r->props, "Transforms"))
		cfn_error_at(
		    c, cfn_node_get(r->props, "Transforms"), cfn__path_key(c, pp, "Transforms"),
		    "unknown property: a listener has no Transforms (AWS: \"You can't add a "
		    "transform to a default rule\"); give them to a ListenerRule");
	for (size_t i = 0; i < m->nlisteners; i++)
		if (m->listeners[i].lb == l->lb && l->lb >= 0 && m->listeners[i].port == l->port)
			cfn_error_at(
			    c,
			    cfn_node_get(r->props, "Port") ? cfn_node_get(r->props, "Port")
			                                   : r->props,
			    cfn__path_key(c, pp, "Port"),
			    "A listener already exists on this port for this load balancer (%s)",
			    m->listeners[i].logical);
	r->model_index = (int)m->nlisteners++;
}

static void b_rule(struct cfn_ctx *c, struct cfn_res *r)
{
	struct model *m = c->m;
	const char *pp = props_path(c, r);
	struct model_rule *ru = &m->rules[m->nrules];
	ru->logical = cfn__strdup(r->logical);
	ru->arn = cfn__strdup(cfn_attr_str(r, NULL));
	ru->listener = cfn__ref_index(c, cfn_node_get(r->props, "ListenerArn"),
	                              "AWS::ElasticLoadBalancingV2::Listener",
	                              cfn__path_key(c, pp, "ListenerArn"), "a listener");
	if (!cfn_node_get(r->props, "ListenerArn"))
		cfn_error_at(c, r->props, pp, "missing required property ListenerArn");
	ru->priority = cfn__prop_int(c, r->props, "Priority", pp, 0, 1, 50000);
	for (size_t i = 0; i < m->nrules; i++)
		if (ru->listener >= 0 && m->rules[i].listener == ru->listener && ru->priority &&
		    m->rules[i].priority == ru->priority)
			cfn_error_at(
			    c, cfn_node_get(r->props, "Priority"), cfn__path_key(c, pp, "Priority"),
			    "Priority '%d' is currently in use (by %s on the same listener)",
			    ru->priority, m->rules[i].logical);
	cfn__alb_actions(c, cfn__prop_list(c, r->props, "Actions", pp), pp, "Actions",
	                 ru->listener >= 0 ? m->listeners[ru->listener].protocol : "HTTP",
	                 &ru->action);
	if (cfn_node_get(r->props, "Actions") && ru->listener >= 0)
		check_forward_versions(c, cfn_node_get(r->props, "Actions"),
		                       cfn__path_key(c, pp, "Actions"),
		                       m->listeners[ru->listener].protocol, &ru->action);
	cfn__alb_conditions(c, cfn__prop_list(c, r->props, "Conditions", pp), pp, ru);
	cfn__alb_transforms(c, cfn__prop_list(c, r->props, "Transforms", pp), pp, ru);
	r->model_index = (int)m->nrules++;
}

static void b_cluster(struct cfn_ctx *c, struct cfn_res *r)
{
	struct model *m = c->m;
	struct model_cluster *cl = &m->clusters[m->nclusters];
	cl->logical = cfn__strdup(r->logical);
	cl->name = cfn__strdup(cfn_attr_str(r, NULL));
	cl->arn = cfn__strdup(cfn_attr_str(r, "Arn"));
	r->model_index = (int)m->nclusters++;
}

static const char *const container_props[] = {"Command",
                                              "Cpu",
                                              "CredentialSpecs",
                                              "DependsOn",
                                              "DisableNetworking",
                                              "DnsSearchDomains",
                                              "DnsServers",
                                              "DockerLabels",
                                              "DockerSecurityOptions",
                                              "EntryPoint",
                                              "Environment",
                                              "EnvironmentFiles",
                                              "Essential",
                                              "ExtraHosts",
                                              "FirelensConfiguration",
                                              "HealthCheck",
                                              "Hostname",
                                              "Image",
                                              "Interactive",
                                              "Links",
                                              "LinuxParameters",
                                              "LogConfiguration",
                                              "Memory",
                                              "MemoryReservation",
                                              "MountPoints",
                                              "Name",
                                              "PortMappings",
                                              "Privileged",
                                              "PseudoTerminal",
                                              "ReadonlyRootFilesystem",
                                              "RepositoryCredentials",
                                              "ResourceRequirements",
                                              "RestartPolicy",
                                              "Secrets",
                                              "StartTimeout",
                                              "StopTimeout",
                                              "SystemControls",
                                              "Ulimits",
                                              "User",
                                              "VersionConsistency",
                                              "VolumesFrom",
                                              "WorkingDirectory",
                                              NULL};

static size_t str_list(struct cfn_ctx *c, const struct cfn_node *l, const char *path, char **out,
                       size_t o)
{
	for (size_t i = 0; l && i < l->n; i++) {
		const struct cfn_node *v = l->items[i];
		if (v->type != CFN_STR && v->type != CFN_NUM && v->type != CFN_BOOL) {
			cfn_error_at(c, v, cfn_arena_printf(&c->a, "%s[%zu]", path, i),
			             "expected a string, found %s", cfn__found(c, v));
			continue;
		}
		out[o++] = cfn__strdup(v->str);
	}
	return o;
}

/* HealthCheck: ["CMD-SHELL", "cmd"] runs /bin/sh -c cmd, ["CMD", argv...]
 * runs argv, ["NONE"] disables; ranges and defaults as ECS documents them. */
static void container_health(struct cfn_ctx *c, const struct cfn_node *d, const char *cp,
                             struct model_container *ct)
{
	static const char *const hprops[] = {"Command", "Interval", "Timeout", "Retries",
	                                     "StartPeriod", NULL};
	static const char *const hreq[] = {"Command", NULL};
	const char *hp = cfn__path_key(c, cp, "HealthCheck");
	struct cfn_node *hc = cfn__prop_map(c, d, "HealthCheck", cp);
	struct cfn_node *cmd;
	const char *kind;

	if (!hc)
		return;
	cfn__check_keys(c, hc, hp, hprops, hreq, "property");
	ct->hc_interval_s = cfn__prop_int(c, hc, "Interval", hp, 30, 5, 300);
	ct->hc_timeout_s = cfn__prop_int(c, hc, "Timeout", hp, 5, 2, 60);
	ct->hc_retries = cfn__prop_int(c, hc, "Retries", hp, 3, 1, 10);
	ct->hc_start_period_s = cfn__prop_int(c, hc, "StartPeriod", hp, 0, 0, 300);
	cmd = cfn__prop_list(c, hc, "Command", hp);
	if (!cmd)
		return;
	kind = cmd->n > 0 && cmd->items[0]->type == CFN_STR ? cmd->items[0]->str : "";
	if (strcmp(kind, "NONE") == 0)
		return;
	if ((strcmp(kind, "CMD-SHELL") != 0 && strcmp(kind, "CMD") != 0) || cmd->n < 2) {
		cfn_error_at(c, cmd, cfn__path_key(c, hp, "Command"),
		             "a health check command is [\"CMD-SHELL\", \"command\"] or "
		             "[\"CMD\", \"executable\", args...]");
		return;
	}
	ct->hc_argv = cfn__calloc(cmd->n + 2, sizeof(*ct->hc_argv));
	if (strcmp(kind, "CMD-SHELL") == 0) {
		/* Docker joins the rest with spaces and hands it to the shell. */
		size_t len = 1;
		for (size_t i = 1; i < cmd->n; i++)
			len += strlen(cmd->items[i]->str ? cmd->items[i]->str : "") + 1;
		char *line = cfn__calloc(len, 1);
		size_t o = 0;
		for (size_t i = 1; i < cmd->n; i++) {
			const char *w = cmd->items[i]->str ? cmd->items[i]->str : "";
			size_t wl = strlen(w);
			if (i > 1)
				line[o++] = ' ';
			memcpy(line + o, w, wl);
			o += wl;
		}
		ct->hc_argv[0] = cfn__strdup("/bin/sh");
		ct->hc_argv[1] = cfn__strdup("-c");
		ct->hc_argv[2] = line;
		ct->hc_argc = 3;
	} else {
		ct->hc_argc = str_list(c, cmd, cfn__path_key(c, hp, "Command"), ct->hc_argv, 0);
		/* Drop the "CMD" marker. */
		free(ct->hc_argv[0]);
		memmove(&ct->hc_argv[0], &ct->hc_argv[1], ct->hc_argc * sizeof(*ct->hc_argv));
		ct->hc_argc--;
	}
}

static void container(struct cfn_ctx *c, const struct cfn_node *d, const char *cp,
                      struct model_container *ct)
{
	static const char *const req[] = {"Name", "Image", NULL};
	cfn__check_keys(c, d, cp, container_props, req, "property");
	ct->name = cfn__strdup(cfn__prop_str(c, d, "Name", cp));
	ct->image = cfn__strdup(cfn__prop_str(c, d, "Image", cp));
	struct cfn_node *ep = cfn__prop_list(c, d, "EntryPoint", cp),
	                *cmd = cfn__prop_list(c, d, "Command", cp);
	size_t n = (ep ? ep->n : 0) + (cmd ? cmd->n : 0);
	ct->argv = cfn__calloc(n + 1, sizeof(*ct->argv));
	ct->argc = str_list(c, ep, cfn__path_key(c, cp, "EntryPoint"), ct->argv, 0);
	ct->argc = str_list(c, cmd, cfn__path_key(c, cp, "Command"), ct->argv, ct->argc);
	struct cfn_node *env = cfn__prop_list(c, d, "Environment", cp);
	ct->env = cfn__calloc(env ? env->n : 1, sizeof(*ct->env));
	for (size_t i = 0; env && i < env->n; i++) {
		const struct cfn_node *e = env->items[i];
		const char *ep2 = cfn__item_path(c, cp, "Environment", i);
		if (e->type != CFN_MAP) {
			cfn_error_at(c, e, ep2, "expected an object, found %s", cfn__found(c, e));
			continue;
		}
		static const char *const eprops[] = {"Name", "Value", NULL};
		cfn__check_keys(c, e, ep2, eprops, eprops, "property");
		const char *k = cfn__prop_str(c, e, "Name", ep2),
		           *v = cfn__prop_str(c, e, "Value", ep2);
		if (!k || !v)
			continue;
		ct->env[ct->nenv].key = cfn__strdup(k);
		ct->env[ct->nenv++].value = cfn__strdup(v);
	}
	struct cfn_node *pm = cfn__prop_list(c, d, "PortMappings", cp);
	ct->ports = cfn__calloc(pm ? pm->n : 1, sizeof(*ct->ports));
	for (size_t i = 0; pm && i < pm->n; i++) {
		const struct cfn_node *p = pm->items[i];
		const char *pp = cfn__item_path(c, cp, "PortMappings", i);
		if (p->type != CFN_MAP) {
			cfn_error_at(c, p, pp, "expected an object, found %s", cfn__found(c, p));
			continue;
		}
		static const char *const pprops[] = {
		    "ContainerPort", "HostPort",           "Protocol", "Name",
		    "AppProtocol",   "ContainerPortRange", NULL};
		static const char *const preq[] = {"ContainerPort", NULL};
		cfn__check_keys(c, p, pp, pprops, preq, "property");
		static const char *const protos[] = {"tcp", "udp", NULL};
		cfn__prop_enum(c, p, "Protocol", pp, "tcp", protos);
		struct model_port_mapping *mp = &ct->ports[ct->nports++];
		mp->container_port = cfn__prop_int(c, p, "ContainerPort", pp, 0, 1, 65535);
		mp->host_port = cfn__prop_int(c, p, "HostPort", pp, 0, 0, 65535);
	}
	ct->essential = cfn__prop_bool(c, d, "Essential", cp, true);
	ct->stop_timeout_s = cfn__prop_int(c, d, "StopTimeout", cp, 30, 0, 120);
	ct->start_timeout_s = cfn__prop_int(c, d, "StartTimeout", cp, 0, 2, 120);
	ct->working_dir = cfn__strdup(cfn__prop_str(c, d, "WorkingDirectory", cp));
	ct->cpu = cfn__prop_int(c, d, "Cpu", cp, 0, 0, 10 * 1024 * 1024);
	ct->memory = cfn__prop_int(c, d, "Memory", cp, 0, 6, 64 * 1024 * 1024);
	ct->memory_reservation =
	    cfn__prop_int(c, d, "MemoryReservation", cp, 0, 6, 64 * 1024 * 1024);
	container_health(c, d, cp, ct);
}

static void b_taskdef(struct cfn_ctx *c, struct cfn_res *r)
{
	struct model *m = c->m;
	const char *pp = props_path(c, r);
	struct model_task_def *t = &m->task_defs[m->ntask_defs];
	t->logical = cfn__strdup(r->logical);
	const char *arn = cfn_attr_str(r, NULL);
	t->arn = cfn__strdup(arn);
	const char *fam = strstr(arn, ":task-definition/");
	t->family = cfn__strdup(fam ? fam + 17 : r->logical);
	char *colon = strrchr(t->family, ':');
	if (colon)
		*colon = 0;
	static const char *const modes[] = {"bridge", "host", "awsvpc", "none", NULL};
	t->network_mode =
	    cfn__strdup(cfn__prop_enum(c, r->props, "NetworkMode", pp, "bridge", modes));
	struct cfn_node *cds = cfn__prop_list(c, r->props, "ContainerDefinitions", pp);
	if (!cds || cds->n == 0) {
		if (!cfn_node_get(r->props, "ContainerDefinitions") || cds)
			cfn_error_at(c, cds ? cds : r->props,
			             cfn__path_key(c, pp, "ContainerDefinitions"),
			             "a task definition needs at least one container");
	}
	t->containers = cfn__calloc(cds ? cds->n : 1, sizeof(*t->containers));
	bool essential = false;
	for (size_t i = 0; cds && i < cds->n; i++) {
		const struct cfn_node *d = cds->items[i];
		const char *cp = cfn__item_path(c, pp, "ContainerDefinitions", i);
		if (d->type != CFN_MAP) {
			cfn_error_at(c, d, cp, "expected an object, found %s", cfn__found(c, d));
			continue;
		}
		struct model_container *ct = &t->containers[t->ncontainers++];
		container(c, d, cp, ct);
		essential |= ct->essential;
		for (size_t k = 0; ct->name && k + 1 < t->ncontainers; k++)
			if (t->containers[k].name && strcmp(t->containers[k].name, ct->name) == 0)
				cfn_error_at(c, cfn_node_get(d, "Name"),
				             cfn__path_key(c, cp, "Name"),
				             "duplicate container name %s", ct->name);
	}
	if (t->ncontainers && !essential)
		cfn_error_at(c, cds, cfn__path_key(c, pp, "ContainerDefinitions"),
		             "a task definition must have at least one essential container");
	cfn__container_deps(c, cds, pp, t);
	r->model_index = (int)m->ntask_defs++;
}

/* Without LaunchType, a service whose task definition requires FARGATE and
 * nothing else can only run on Fargate. */
static bool taskdef_fargate_only(struct cfn_ctx *c, struct cfn_res *r, int td)
{
	const struct cfn_res *tr = NULL;
	const struct cfn_node *rc;
	bool fargate = false, other = false;

	if (td < 0 || cfn_node_get(r->props, "CapacityProviderStrategy"))
		return false;
	for (size_t i = 0; i < c->nres && !tr; i++)
		if (c->res[i].active && c->res[i].model_index == td &&
		    strcmp(c->res[i].type_name, "AWS::ECS::TaskDefinition") == 0)
			tr = &c->res[i];
	rc = tr && tr->props ? cfn_node_get(tr->props, "RequiresCompatibilities") : NULL;
	for (size_t i = 0; rc && rc->type == CFN_LIST && i < rc->n; i++) {
		const char *v = rc->items[i]->type == CFN_STR ? rc->items[i]->str : "";
		if (strcmp(v, "FARGATE") == 0)
			fargate = true;
		else
			other = true;
	}
	return fargate && !other;
}

static void b_service(struct cfn_ctx *c, struct cfn_res *r)
{
	struct model *m = c->m;
	const char *pp = props_path(c, r);
	struct model_service *s = &m->services[m->nservices];
	s->logical = cfn__strdup(r->logical);
	s->name = cfn__strdup(cfn_attr_str(r, "Name"));
	s->arn = cfn__strdup(cfn_attr_str(r, NULL));
	s->cluster = -1;
	if (cfn_node_get(r->props, "Cluster"))
		s->cluster =
		    cfn__ref_index(c, cfn_node_get(r->props, "Cluster"), "AWS::ECS::Cluster",
		                   cfn__path_key(c, pp, "Cluster"), "a cluster");
	else
		cfn_error_at(c, r->props, pp,
		             "a service needs Cluster here (ECS's \"default\" cluster does not "
		             "exist in vpcd)");
	s->task_def =
	    cfn__ref_index(c, cfn_node_get(r->props, "TaskDefinition"), "AWS::ECS::TaskDefinition",
	                   cfn__path_key(c, pp, "TaskDefinition"), "a task definition");
	if (!cfn_node_get(r->props, "TaskDefinition"))
		cfn_error_at(c, r->props, pp, "missing required property TaskDefinition");
	s->desired = cfn__prop_int(c, r->props, "DesiredCount", pp, 1, 0, 1000000);
	s->desired_set = cfn_node_get(r->props, "DesiredCount") != NULL;
	static const char *const lts[] = {"EC2", "FARGATE", "EXTERNAL", NULL};
	cfn__prop_enum(c, r->props, "LaunchType", pp, "EC2", lts);
	static const char *const strat[] = {"REPLICA", "DAEMON", NULL};
	const char *st = cfn__prop_enum(c, r->props, "SchedulingStrategy", pp, "REPLICA", strat);
	if (strcmp(st, "DAEMON") == 0)
		cfn_error_at(c, cfn_node_get(r->props, "SchedulingStrategy"),
		             cfn__path_key(c, pp, "SchedulingStrategy"),
		             "the DAEMON scheduling strategy is not supported yet");
	struct cfn_node *dc = cfn__prop_map(c, r->props, "DeploymentConfiguration", pp);
	const char *dp = cfn__path_key(c, pp, "DeploymentConfiguration");
	static const char *const dprops[] = {"MinimumHealthyPercent",
	                                     "MaximumPercent",
	                                     "DeploymentCircuitBreaker",
	                                     "Alarms",
	                                     "BakeTimeInMinutes",
	                                     "LifecycleHooks",
	                                     "Strategy",
	                                     "CanaryConfiguration",
	                                     "LinearConfiguration",
	                                     NULL};
	cfn__check_keys(c, dc, dp, dprops, NULL, "property");
	s->min_healthy_pct = cfn__prop_int(c, dc, "MinimumHealthyPercent", dp, 100, 0, 100);
	s->max_pct = cfn__prop_int(c, dc, "MaximumPercent", dp, 200, 100, 200);
	{
		struct cfn_node *cb = cfn__prop_map(c, dc, "DeploymentCircuitBreaker", dp);
		const char *cbp = cfn__path_key(c, dp, "DeploymentCircuitBreaker");
		static const char *const cbprops[] = {"Enable", "Rollback", NULL};
		cfn__check_keys(c, cb, cbp, cbprops, NULL, "property");
		s->cb_enable = cfn__prop_bool(c, cb, "Enable", cbp, false);
		s->cb_rollback = cfn__prop_bool(c, cb, "Rollback", cbp, false);
	}
	s->grace_s =
	    cfn__prop_int(c, r->props, "HealthCheckGracePeriodSeconds", pp, 0, 0, 2147483647);
	struct cfn_node *lbs = cfn__prop_list(c, r->props, "LoadBalancers", pp);
	s->lbs = cfn__calloc(lbs ? lbs->n : 1, sizeof(*s->lbs));
	const struct model_task_def *td = s->task_def >= 0 ? &m->task_defs[s->task_def] : NULL;
	for (size_t i = 0; lbs && i < lbs->n; i++) {
		const struct cfn_node *l = lbs->items[i];
		const char *lp = cfn__item_path(c, pp, "LoadBalancers", i);
		if (l->type != CFN_MAP) {
			cfn_error_at(c, l, lp, "expected an object, found %s", cfn__found(c, l));
			continue;
		}
		static const char *const lprops[] = {"ContainerName",         "ContainerPort",
		                                     "TargetGroupArn",        "LoadBalancerName",
		                                     "AdvancedConfiguration", NULL};
		static const char *const lreq[] = {"ContainerName", "ContainerPort",
		                                   "TargetGroupArn", NULL};
		cfn__check_keys(c, l, lp, lprops, lreq, "property");
		struct model_service_lb *sl = &s->lbs[s->nlbs++];
		const char *cn = cfn__prop_str(c, l, "ContainerName", lp);
		sl->container_name = cfn__strdup(cn);
		sl->container_port = cfn__prop_int(c, l, "ContainerPort", lp, 0, 1, 65535);
		sl->target_group =
		    cfn__ref_index(c, cfn_node_get(l, "TargetGroupArn"),
		                   "AWS::ElasticLoadBalancingV2::TargetGroup",
		                   cfn__path_key(c, lp, "TargetGroupArn"), "a target group");
		if (td && cn) {
			const struct model_container *ct = NULL;
			for (size_t k = 0; k < td->ncontainers; k++)
				if (td->containers[k].name &&
				    strcmp(td->containers[k].name, cn) == 0)
					ct = &td->containers[k];
			if (!ct) {
				cfn_error_at(c, cfn_node_get(l, "ContainerName"),
				             cfn__path_key(c, lp, "ContainerName"),
				             "the task definition %s has no container named %s",
				             td->logical, cn);
			} else {
				bool port = false;
				for (size_t k = 0; k < ct->nports; k++)
					port |= ct->ports[k].container_port == sl->container_port;
				if (!port && sl->container_port)
					cfn_error_at(c, cfn_node_get(l, "ContainerPort"),
					             cfn__path_key(c, lp, "ContainerPort"),
					             "container %s has no port mapping for "
					             "container port %d",
					             cn, sl->container_port);
			}
		}
	}
	struct cfn_node *nc = cfn__prop_map(c, r->props, "NetworkConfiguration", pp);
	struct cfn_node *av = nc ? cfn__prop_map(c, nc, "AwsvpcConfiguration",
	                                         cfn__path_key(c, pp, "NetworkConfiguration"))
	                         : NULL;
	if (av) {
		const char *ap = cfn__path_key(c, pp, "NetworkConfiguration.AwsvpcConfiguration");
		static const char *const aprops[] = {"Subnets", "SecurityGroups", "AssignPublicIp",
		                                     NULL};
		static const char *const areq[] = {"Subnets", NULL};
		cfn__check_keys(c, av, ap, aprops, areq, "property");
		s->subnets =
		    cfn__ref_indexes(c, cfn__prop_list(c, av, "Subnets", ap), "AWS::EC2::Subnet",
		                     cfn__path_key(c, ap, "Subnets"), "a subnet", &s->nsubnets);
		s->sgs = cfn__ref_indexes(
		    c, cfn__prop_list(c, av, "SecurityGroups", ap), "AWS::EC2::SecurityGroup",
		    cfn__path_key(c, ap, "SecurityGroups"), "a security group", &s->nsgs);
		static const char *const pubs[] = {"ENABLED", "DISABLED", NULL};
		cfn__prop_enum(c, av, "AssignPublicIp", ap, "DISABLED", pubs);
	}
	const char *lt = cfn_node_get(r->props, "LaunchType")
	                     ? cfn__prop_enum(c, r->props, "LaunchType", pp, "EC2", lts)
	                     : NULL;
	s->fargate = lt ? strcmp(lt, "FARGATE") == 0 : taskdef_fargate_only(c, r, s->task_def);
	if (s->fargate && td && strcmp(td->network_mode, "awsvpc") != 0)
		cfn_error_at(c, r->props, pp,
		             "Fargate only supports network mode 'awsvpc' (task definition %s has "
		             "%s)",
		             td->logical, td->network_mode);
	if (td && strcmp(td->network_mode, "awsvpc") == 0 && !av)
		cfn_error_at(c, r->props, pp,
		             "a task definition with NetworkMode awsvpc needs "
		             "NetworkConfiguration.AwsvpcConfiguration");
	r->model_index = (int)m->nservices++;
}

static void b_asg(struct cfn_ctx *c, struct cfn_res *r)
{
	struct model *m = c->m;
	const char *pp = props_path(c, r);
	struct model_asg *a = &m->asgs[m->nasgs];
	a->logical = cfn__strdup(r->logical);
	a->name = cfn__strdup(cfn_attr_str(r, NULL));
	a->min = cfn__prop_int(c, r->props, "MinSize", pp, 0, 0, 100000);
	a->max = cfn__prop_int(c, r->props, "MaxSize", pp, 0, 0, 100000);
	a->desired = cfn__prop_int(c, r->props, "DesiredCapacity", pp, a->min, 0, 100000);
	if (a->max < a->min)
		cfn_error_at(c, cfn_node_get(r->props, "MaxSize"), cfn__path_key(c, pp, "MaxSize"),
		             "MaxSize (%d) must not be less than MinSize (%d)", a->max, a->min);
	else if (a->desired < a->min || a->desired > a->max)
		cfn_error_at(c, cfn_node_get(r->props, "DesiredCapacity"),
		             cfn__path_key(c, pp, "DesiredCapacity"),
		             "DesiredCapacity (%d) must be between MinSize (%d) and MaxSize (%d)",
		             a->desired, a->min, a->max);
	struct cfn_node *z = cfn__prop_list(c, r->props, "VPCZoneIdentifier", pp);
	if (!z)
		cfn_error_at(c, r->props, pp,
		             "an Auto Scaling group needs VPCZoneIdentifier here (vpcd has no "
		             "default VPC yet)");
	a->subnets =
	    cfn__ref_indexes(c, z, "AWS::EC2::Subnet", cfn__path_key(c, pp, "VPCZoneIdentifier"),
	                     "a subnet", &a->nsubnets);
	r->model_index = (int)m->nasgs++;
}

/* "In.Example.com" -> "in.example.com." */
static char *fqdn(const char *s)
{
	size_t n = strlen(s);
	char *o = cfn__calloc(n + 2, 1);
	for (size_t i = 0; i < n; i++)
		o[i] = (char)tolower((unsigned char)s[i]);
	if (n == 0 || o[n - 1] != '.')
		o[n] = '.';
	return o;
}

static bool dns_name_ok(const char *s)
{
	size_t n = strlen(s), label = 0;
	if (n == 0 || n > 255)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '.') {
			if (label == 0 && !(i == n - 1 && n == 1))
				return false;
			label = 0;
		} else if (++label > 63 || (unsigned char)s[i] <= ' ') {
			return false;
		}
	}
	return true;
}

static void b_zone(struct cfn_ctx *c, struct cfn_res *r)
{
	struct model *m = c->m;
	const char *pp = props_path(c, r);
	struct model_zone *z = &m->zones[m->nzones];
	z->logical = cfn__strdup(r->logical);
	z->id = cfn__strdup(cfn_attr_str(r, NULL));
	const char *name = cfn__prop_str(c, r->props, "Name", pp);
	if (!name)
		cfn_error_at(c, r->props, pp, "missing required property Name");
	else if (!dns_name_ok(name))
		cfn_error_at(c, cfn_node_get(r->props, "Name"), cfn__path_key(c, pp, "Name"),
		             "\"%s\" is not a valid domain name", name);
	z->name = fqdn(name ? name : "");
	struct cfn_node *vpcs = cfn__prop_list(c, r->props, "VPCs", pp);
	z->vpcs = cfn__calloc(vpcs ? vpcs->n : 1, sizeof(*z->vpcs));
	for (size_t i = 0; vpcs && i < vpcs->n; i++) {
		const struct cfn_node *v = vpcs->items[i];
		const char *vp = cfn__item_path(c, pp, "VPCs", i);
		if (v->type != CFN_MAP) {
			cfn_error_at(c, v, vp, "expected an object, found %s", cfn__found(c, v));
			continue;
		}
		static const char *const vprops[] = {"VPCId", "VPCRegion", NULL};
		cfn__check_keys(c, v, vp, vprops, vprops, "property");
		const char *reg = cfn__prop_str(c, v, "VPCRegion", vp);
		if (reg && strcmp(reg, c->region) != 0)
			cfn_error_at(c, cfn_node_get(v, "VPCRegion"),
			             cfn__path_key(c, vp, "VPCRegion"),
			             "the stack runs in %s, not %s", c->region, reg);
		int vi = cfn__ref_index(c, cfn_node_get(v, "VPCId"), "AWS::EC2::VPC",
		                        cfn__path_key(c, vp, "VPCId"), "a VPC");
		if (vi >= 0)
			z->vpcs[z->nvpcs++] = vi;
	}
	z->private_zone = z->nvpcs > 0;
	r->model_index = (int)m->nzones++;
}

static bool name_in_zone(const char *name, const char *zone)
{
	size_t n = strlen(name), z = strlen(zone);
	if (n < z || strcmp(name + n - z, zone) != 0)
		return false;
	return n == z || name[n - z - 1] == '.';
}

static const char *const rr_types[] = {"A",   "AAAA",  "CAA",  "CNAME", "DS",  "HTTPS",
                                       "MX",  "NAPTR", "NS",   "PTR",   "SOA", "SPF",
                                       "SRV", "SSHFP", "SVCB", "TLSA",  "TXT", NULL};

static const char *const failover_vals[] = {"PRIMARY", "SECONDARY", NULL};

/* One record set, from a RecordSet's Properties or one item of a
 * RecordSetGroup's RecordSets (zsrc: where HostedZoneId/Name may be given
 * instead, the group's Properties). */
static void record_build(struct cfn_ctx *c, struct cfn_res *r, const struct cfn_node *props,
                         const char *pp, const struct cfn_node *zsrc, const char *zpp)
{
	struct model *m = c->m;
	struct model_record *rec = &m->records[m->nrecords];
	rec->logical = cfn__strdup(r->logical);
	rec->alias_lb = -1;
	rec->zone = -1;
	const char *name = cfn__prop_str(c, props, "Name", pp);
	if (name && !dns_name_ok(name))
		cfn_error_at(c, cfn_node_get(props, "Name"), cfn__path_key(c, pp, "Name"),
		             "\"%s\" is not a valid domain name", name);
	rec->name = fqdn(name ? name : "");
	const char *type = cfn__prop_enum(c, props, "Type", pp, NULL, rr_types);
	rec->type = cfn__strdup(type ? type : "");
	const struct cfn_node *zp = props; /* where the zone is named */
	const char *zpath = pp;
	if (!cfn_node_get(props, "HostedZoneId") && !cfn_node_get(props, "HostedZoneName") &&
	    zsrc) {
		zp = zsrc;
		zpath = zpp;
	}
	if (cfn_node_get(zp, "HostedZoneId")) {
		rec->zone = cfn__ref_index(c, cfn_node_get(zp, "HostedZoneId"),
		                           "AWS::Route53::HostedZone",
		                           cfn__path_key(c, zpath, "HostedZoneId"), "a hosted zone");
	} else if (cfn_node_get(zp, "HostedZoneName")) {
		const char *zn = cfn__prop_str(c, zp, "HostedZoneName", zpath);
		char *f = zn ? fqdn(zn) : NULL;
		for (size_t i = 0; f && i < m->nzones; i++)
			if (strcmp(m->zones[i].name, f) == 0)
				rec->zone = (int)i;
		if (f && rec->zone < 0)
			cfn_error_at(c, cfn_node_get(zp, "HostedZoneName"),
			             cfn__path_key(c, zpath, "HostedZoneName"),
			             "no hosted zone named %s in this template", f);
		free(f);
	} else if (!zsrc) {
		cfn_error_at(c, props, pp, "a record set needs HostedZoneId or HostedZoneName");
	}
	if (rec->zone >= 0 && name && !name_in_zone(rec->name, m->zones[rec->zone].name))
		cfn_error_at(c, cfn_node_get(props, "Name"), cfn__path_key(c, pp, "Name"),
		             "RRSet with DNS name %s is not permitted in zone %s", rec->name,
		             m->zones[rec->zone].name);
	struct cfn_node *alias = cfn__prop_map(c, props, "AliasTarget", pp);
	struct cfn_node *rrs = cfn__prop_list(c, props, "ResourceRecords", pp);
	if (alias && rrs)
		cfn_error_at(c, rrs, cfn__path_key(c, pp, "ResourceRecords"),
		             "give ResourceRecords or AliasTarget, not both");
	if (alias) {
		const char *ap = cfn__path_key(c, pp, "AliasTarget");
		static const char *const aprops[] = {"DNSName", "HostedZoneId",
		                                     "EvaluateTargetHealth", NULL};
		static const char *const areq[] = {"DNSName", "HostedZoneId", NULL};
		cfn__check_keys(c, alias, ap, aprops, areq, "property");
		rec->eval_health = cfn__prop_bool(c, alias, "EvaluateTargetHealth", ap, false);
		const char *dn = cfn__prop_str(c, alias, "DNSName", ap);
		if (dn) {
			char *f = fqdn(strncmp(dn, "dualstack.", 10) == 0 ? dn + 10 : dn);
			for (size_t i = 0; i < m->nlbs; i++) {
				char *lf = fqdn(m->lbs[i].dns_name);
				if (strcasecmp(lf, f) == 0)
					rec->alias_lb = (int)i;
				free(lf);
			}
			if (rec->alias_lb < 0)
				cfn_error_at(c, cfn_node_get(alias, "DNSName"),
				             cfn__path_key(c, ap, "DNSName"),
				             "an alias target must be a load balancer of this "
				             "template (use Fn::GetAtt LB.DNSName)");
			free(f);
		}
		if (cfn_node_get(props, "TTL"))
			cfn_error_at(c, cfn_node_get(props, "TTL"), cfn__path_key(c, pp, "TTL"),
			             "an alias record has no TTL");
		rec->ttl = 60;
	} else {
		if (!rrs)
			cfn_error_at(c, props, pp,
			             "a record set needs ResourceRecords (or AliasTarget)");
		if (!cfn_node_get(props, "TTL"))
			cfn_error_at(c, props, pp,
			             "a record set with ResourceRecords needs TTL");
		rec->ttl = (uint32_t)cfn__prop_int(c, props, "TTL", pp, 300, 0, 2147483647);
		for (size_t i = 0; rrs && i < rrs->n; i++) {
			const struct cfn_node *v = rrs->items[i];
			const char *vp = cfn__item_path(c, pp, "ResourceRecords", i);
			if (v->type != CFN_STR && v->type != CFN_NUM) {
				cfn_error_at(c, v, vp, "expected a string, found %s",
				             cfn__found(c, v));
				continue;
			}
			if (rec->nvalues == MODEL_MAX_VALUES) {
				cfn_error_at(c, v, vp, "more than %d values in one record set",
				             MODEL_MAX_VALUES);
				break;
			}
			uint8_t rd[1024];
			const char *why = NULL;
			uint16_t tc = dns_type_from_str(type);
			if (type && strcmp(type, "A") == 0) {
				uint32_t a;
				if (addr4_parse(v->str, &a) < 0)
					cfn_error_at(c, v, vp,
					             "an A record's value must be an IPv4 address, "
					             "found \"%s\"",
					             v->str);
			} else if (tc && dns_rdata_from_str(tc, v->str, rd, sizeof(rd), &why) < 0) {
				cfn_error_at(c, v, vp, "a %s record's value must be %s, found \"%s\"",
				             type, why, v->str);
			}
			rec->values[rec->nvalues++] = cfn__strdup(v->str);
		}
		if (rrs && rrs->n == 0)
			cfn_error_at(c, rrs, cfn__path_key(c, pp, "ResourceRecords"),
			             "at least one value is required");
		if (type && strcmp(type, "CNAME") == 0 && rec->nvalues > 1)
			cfn_error_at(c, rrs, cfn__path_key(c, pp, "ResourceRecords"),
			             "a CNAME record set has exactly one value");
	}
	if (type && strcmp(type, "CNAME") == 0 && rec->zone >= 0 &&
	    strcmp(rec->name, m->zones[rec->zone].name) == 0)
		cfn_error_at(
		    c, cfn_node_get(props, "Name"), cfn__path_key(c, pp, "Name"),
		    "RRSet of type CNAME with DNS name %s is not permitted at apex in zone %s",
		    rec->name, m->zones[rec->zone].name);

	/* Routing policy: which of Weight, Failover, MultiValueAnswer, Region,
	 * GeoLocation, ... is given; each needs a SetIdentifier. */
	const char *sid = cfn__prop_str(c, props, "SetIdentifier", pp);
	int npol = 0;
	if (cfn_node_get(props, "Weight")) {
		rec->routing = MODEL_ROUTING_WEIGHTED;
		rec->weight = cfn__prop_int(c, props, "Weight", pp, 0, 0, 255);
		npol++;
	}
	if (cfn_node_get(props, "Failover")) {
		const char *fo = cfn__prop_enum(c, props, "Failover", pp, NULL, failover_vals);
		rec->routing = MODEL_ROUTING_FAILOVER;
		rec->primary = fo && strcmp(fo, "PRIMARY") == 0;
		npol++;
	}
	if (cfn_node_get(props, "MultiValueAnswer") &&
	    cfn__prop_bool(c, props, "MultiValueAnswer", pp, false)) {
		rec->routing = MODEL_ROUTING_MULTIVALUE;
		npol++;
		if (alias)
			cfn_error_at(c, cfn_node_get(props, "MultiValueAnswer"),
			             cfn__path_key(c, pp, "MultiValueAnswer"),
			             "a multivalue answer record set cannot be an alias");
	}
	static const char *const other_pol[] = {"Region", "GeoLocation", "GeoProximityLocation",
	                                        "CidrRoutingConfig", NULL};
	for (size_t i = 0; other_pol[i]; i++)
		if (cfn_node_get(props, other_pol[i])) {
			rec->routing = MODEL_ROUTING_OTHER;
			npol++;
		}
	if (npol > 1)
		cfn_error_at(c, props, pp, "a record set has one routing policy (Weight, Failover, "
		                           "MultiValueAnswer, Region or GeoLocation), found %d",
		             npol);
	if (npol && !sid)
		cfn_error_at(c, props, pp,
		             "a record set with a routing policy needs SetIdentifier");
	if (sid && !npol)
		cfn_error_at(c, cfn_node_get(props, "SetIdentifier"),
		             cfn__path_key(c, pp, "SetIdentifier"),
		             "SetIdentifier needs a routing policy (Weight, Failover, "
		             "MultiValueAnswer, Region or GeoLocation)");
	if (sid && npol)
		rec->set_id = cfn__strdup(sid);

	for (size_t i = 0; type && i < m->nrecords; i++) {
		struct model_record *o = &m->records[i];
		if (strcmp(o->name, rec->name) != 0 || o->zone != rec->zone)
			continue;
		/* Record sets with a SetIdentifier (weighted, failover, ...) may
		 * share a name and type; the DNS plane answers them together. */
		if (rec->set_id && o->set_id && strcmp(o->type, type) == 0) {
			if (strcmp(o->set_id, rec->set_id) == 0)
				cfn_error_at(c, cfn_node_get(props, "SetIdentifier"),
				             cfn__path_key(c, pp, "SetIdentifier"),
				             "the record set %s %s with SetIdentifier %s already "
				             "exists (%s)",
				             rec->name, type, rec->set_id, o->logical);
			else if (o->routing != rec->routing)
				cfn_error_at(c, props, pp,
				             "record sets %s %s mix routing policies (%s)",
				             rec->name, type, o->logical);
			continue;
		}
		if (rec->set_id && o->set_id)
			continue;
		if (strcmp(o->type, "CNAME") == 0 || strcmp(type, "CNAME") == 0)
			cfn_error_at(c, props, pp,
			             "RRSet of type %s with DNS name %s is not permitted because a "
			             "conflicting RRSet of type %s with the same DNS name already "
			             "exists (%s)",
			             type, rec->name, o->type, o->logical);
		else if (strcmp(o->type, type) == 0)
			cfn_error_at(c, props, pp, "the record set %s %s already exists (%s)",
			             rec->name, type, o->logical);
	}
	m->nrecords++;
}

static void b_record(struct cfn_ctx *c, struct cfn_res *r)
{
	r->model_index = (int)c->m->nrecords;
	record_build(c, r, r->props, props_path(c, r), NULL, NULL);
}

static const char *const p_record_item[] = {
    "AliasTarget",  "CidrRoutingConfig", "Failover",	  "GeoLocation",	"GeoProximityLocation",
    "HealthCheckId", "HostedZoneId",	 "HostedZoneName", "MultiValueAnswer", "Name",
    "Region",	     "ResourceRecords",	 "SetIdentifier",  "TTL",		"Type",
    "Weight",	     NULL};
static const char *const r_record_item[] = {"Type", "Name", NULL};

/* AWS::Route53::RecordSetGroup: several record sets in one zone. */
static void b_record_group(struct cfn_ctx *c, struct cfn_res *r)
{
	const char *pp = props_path(c, r);
	struct cfn_node *sets = cfn__prop_list(c, r->props, "RecordSets", pp);
	r->model_index = (int)c->m->nrecords;
	if (!cfn_node_get(r->props, "HostedZoneId") && !cfn_node_get(r->props, "HostedZoneName"))
		cfn_error_at(c, r->props, pp,
		             "a record set group needs HostedZoneId or HostedZoneName");
	for (size_t i = 0; sets && i < sets->n; i++) {
		const struct cfn_node *s = sets->items[i];
		const char *sp = cfn__item_path(c, pp, "RecordSets", i);
		if (s->type != CFN_MAP) {
			cfn_error_at(c, s, sp, "expected an object, found %s", cfn__found(c, s));
			continue;
		}
		cfn__check_keys(c, s, sp, p_record_item, r_record_item, "property");
		record_build(c, r, s, sp, r->props, pp);
	}
}

int cfn__default_vpc(struct cfn_ctx *c, const char *id)
{
	struct model *m = c->m;
	if (c->default_vpc >= 0) {
		/* Subnets may have made it before the template named its id. */
		struct model_vpc *v = &m->vpcs[c->default_vpc];
		if (id && strcmp(v->id, "vpc-default") == 0) {
			free(v->id);
			v->id = cfn__strdup(id);
		}
		return c->default_vpc;
	}
	struct model_vpc *v = &m->vpcs[m->nvpcs];
	v->logical = cfn__strdup("DefaultVPC");
	v->id = cfn__strdup(id ? id : "vpc-default");
	v->cidr = (struct cidr4){172u << 24 | 31u << 16, 16};
	v->lo_base = (c->net.addr & 0xffff0000u) + ((uint32_t)m->nvpcs << 16);
	c->default_vpc = (int)m->nvpcs++;
	return c->default_vpc;
}

int cfn__default_subnet(struct cfn_ctx *c, const struct cfn_node *id, const char *path)
{
	struct model *m = c->m;
	for (size_t i = 0; i < m->nsubnets; i++)
		if (m->subnets[i].vpc == c->default_vpc && c->default_vpc >= 0 &&
		    strcmp(m->subnets[i].id, id->str) == 0)
			return (int)i;
	int naz = strcmp(c->region, "us-east-1") == 0 ? 6 : 3;
	if (c->ndefault_subnets >= naz) {
		cfn_error_at(c, id, path,
		             "\"%s\" would be default subnet number %d, but %s has only %d "
		             "Availability Zones (one default subnet each)",
		             id->str, c->ndefault_subnets + 1, c->region, naz);
		return -1;
	}
	int vpc = cfn__default_vpc(c, NULL);
	int k = c->ndefault_subnets++;
	struct model_subnet *s = &m->subnets[m->nsubnets];
	s->logical = cfn__strdup(id->str);
	s->id = cfn__strdup(id->str);
	s->az = cfn__strdup(cfn_arena_printf(&c->a, "%s%c", c->region, 'a' + k));
	s->vpc = vpc;
	s->cidr = (struct cidr4){(172u << 24 | 31u << 16) + ((uint32_t)k << 12), 20};
	s->lo_cidr = (struct cidr4){model_vpc_map(m, vpc, s->cidr.addr), 20};
	c->subnet_next[m->nsubnets] = 4;
	return (int)m->nsubnets++;
}

/* ---------- the type table ---------- */

static const char *const p_vpc[] = {"CidrBlock",
                                    "EnableDnsHostnames",
                                    "EnableDnsSupport",
                                    "InstanceTenancy",
                                    "Ipv4IpamPoolId",
                                    "Ipv4NetmaskLength",
                                    "Tags",
                                    NULL};
static const char *const a_vpc[] = {"CidrBlock",
                                    "CidrBlockAssociations",
                                    "DefaultNetworkAcl",
                                    "DefaultSecurityGroup",
                                    "Ipv6CidrBlocks",
                                    "VpcId",
                                    NULL};
static const char *const p_subnet[] = {"AssignIpv6AddressOnCreation",
                                       "AvailabilityZone",
                                       "AvailabilityZoneId",
                                       "CidrBlock",
                                       "EnableDns64",
                                       "EnableLniAtDeviceIndex",
                                       "Ipv4IpamPoolId",
                                       "Ipv4NetmaskLength",
                                       "Ipv6CidrBlock",
                                       "Ipv6CidrBlocks",
                                       "Ipv6IpamPoolId",
                                       "Ipv6Native",
                                       "Ipv6NetmaskLength",
                                       "MapPublicIpOnLaunch",
                                       "OutpostArn",
                                       "PrivateDnsNameOptionsOnLaunch",
                                       "Tags",
                                       "VpcId",
                                       NULL};
static const char *const r_subnet[] = {"VpcId", NULL};
static const char *const a_subnet[] = {"AvailabilityZone",
                                       "AvailabilityZoneId",
                                       "CidrBlock",
                                       "Ipv6CidrBlocks",
                                       "NetworkAclAssociationId",
                                       "OutpostArn",
                                       "SubnetId",
                                       "VpcId",
                                       NULL};
static const char *const p_sg[] = {"GroupDescription",
                                   "GroupName",
                                   "SecurityGroupEgress",
                                   "SecurityGroupIngress",
                                   "Tags",
                                   "VpcId",
                                   NULL};
static const char *const r_sg[] = {"GroupDescription", NULL};
static const char *const a_sg[] = {"GroupId", "VpcId", NULL};
static const char *const p_lb[] = {"EnableCapacityReservationProvisionStabilize",
                                   "EnablePrefixForIpv6SourceNat",
                                   "EnforceSecurityGroupInboundRulesOnPrivateLinkTraffic",
                                   "IpAddressType",
                                   "Ipv4IpamPoolId",
                                   "LoadBalancerAttributes",
                                   "MinimumLoadBalancerCapacity",
                                   "Name",
                                   "Scheme",
                                   "SecurityGroups",
                                   "SubnetMappings",
                                   "Subnets",
                                   "Tags",
                                   "Type",
                                   NULL};
static const char *const a_lb[] = {"CanonicalHostedZoneID",
                                   "DNSName",
                                   "LoadBalancerArn",
                                   "LoadBalancerFullName",
                                   "LoadBalancerName",
                                   "SecurityGroups",
                                   NULL};
static const char *const p_listener[] = {"AlpnPolicy",
                                         "Certificates",
                                         "DefaultActions",
                                         "ListenerAttributes",
                                         "LoadBalancerArn",
                                         "MutualAuthentication",
                                         "Port",
                                         "Protocol",
                                         "SslPolicy",
                                         "Transforms", /* refused in b_listener */
                                         NULL};
static const char *const r_listener[] = {"LoadBalancerArn", "DefaultActions", NULL};
static const char *const a_listener[] = {"ListenerArn", NULL};
static const char *const p_rule[] = {"Actions",  "Conditions", "ListenerArn",
                                     "Priority", "Transforms", NULL};
static const char *const r_rule[] = {"Actions", "Priority", "Conditions", NULL};
static const char *const a_rule[] = {"IsDefault", "RuleArn", NULL};
static const char *const p_tg[] = {"HealthCheckEnabled",
                                   "HealthCheckIntervalSeconds",
                                   "HealthCheckPath",
                                   "HealthCheckPort",
                                   "HealthCheckProtocol",
                                   "HealthCheckTimeoutSeconds",
                                   "HealthyThresholdCount",
                                   "IpAddressType",
                                   "Matcher",
                                   "Name",
                                   "Port",
                                   "Protocol",
                                   "ProtocolVersion",
                                   "Tags",
                                   "TargetControlPort",
                                   "TargetGroupAttributes",
                                   "TargetType",
                                   "Targets",
                                   "UnhealthyThresholdCount",
                                   "VpcId",
                                   NULL};
static const char *const a_tg[] = {"LoadBalancerArns", "TargetGroupArn", "TargetGroupFullName",
                                   "TargetGroupName", NULL};
static const char *const p_cluster[] = {"CapacityProviders",
                                        "ClusterName",
                                        "ClusterSettings",
                                        "Configuration",
                                        "DefaultCapacityProviderStrategy",
                                        "ServiceConnectDefaults",
                                        "Tags",
                                        NULL};
static const char *const a_cluster[] = {"Arn", NULL};
static const char *const p_taskdef[] = {"ContainerDefinitions",
                                        "Cpu",
                                        "EnableFaultInjection",
                                        "EphemeralStorage",
                                        "ExecutionRoleArn",
                                        "Family",
                                        "InferenceAccelerators",
                                        "IpcMode",
                                        "Memory",
                                        "NetworkMode",
                                        "PidMode",
                                        "PlacementConstraints",
                                        "ProxyConfiguration",
                                        "RequiresCompatibilities",
                                        "RuntimePlatform",
                                        "Tags",
                                        "TaskRoleArn",
                                        "Volumes",
                                        NULL};
static const char *const a_taskdef[] = {"TaskDefinitionArn", NULL};
static const char *const p_service[] = {"AvailabilityZoneRebalancing",
                                        "CapacityProviderStrategy",
                                        "Cluster",
                                        "DeploymentConfiguration",
                                        "DeploymentController",
                                        "DesiredCount",
                                        "EnableECSManagedTags",
                                        "EnableExecuteCommand",
                                        "ForceNewDeployment",
                                        "HealthCheckGracePeriodSeconds",
                                        "LaunchType",
                                        "LoadBalancers",
                                        "NetworkConfiguration",
                                        "PlacementConstraints",
                                        "PlacementStrategies",
                                        "PlatformVersion",
                                        "PropagateTags",
                                        "Role",
                                        "SchedulingStrategy",
                                        "ServiceConnectConfiguration",
                                        "ServiceName",
                                        "ServiceRegistries",
                                        "Tags",
                                        "TaskDefinition",
                                        "VolumeConfigurations",
                                        "VpcLatticeConfigurations",
                                        NULL};
static const char *const a_service[] = {"Name", "ServiceArn", NULL};
static const char *const p_asg[] = {"AutoScalingGroupName",
                                    "AvailabilityZoneDistribution",
                                    "AvailabilityZoneIds",
                                    "AvailabilityZoneImpairmentPolicy",
                                    "AvailabilityZones",
                                    "CapacityRebalance",
                                    "CapacityReservationSpecification",
                                    "Context",
                                    "Cooldown",
                                    "DefaultInstanceWarmup",
                                    "DeletionProtection",
                                    "DesiredCapacity",
                                    "DesiredCapacityType",
                                    "HealthCheckGracePeriod",
                                    "HealthCheckType",
                                    "InstanceId",
                                    "InstanceLifecyclePolicy",
                                    "InstanceMaintenancePolicy",
                                    "LaunchConfigurationName",
                                    "LaunchTemplate",
                                    "LifecycleHookSpecificationList",
                                    "LoadBalancerNames",
                                    "MaxInstanceLifetime",
                                    "MaxSize",
                                    "MetricsCollection",
                                    "MinSize",
                                    "MixedInstancesPolicy",
                                    "NewInstancesProtectedFromScaleIn",
                                    "NotificationConfiguration",
                                    "NotificationConfigurations",
                                    "PlacementGroup",
                                    "ServiceLinkedRoleARN",
                                    "SkipZonalShiftValidation",
                                    "Tags",
                                    "TargetGroupARNs",
                                    "TerminationPolicies",
                                    "TrafficSources",
                                    "VPCZoneIdentifier",
                                    NULL};
static const char *const r_asg[] = {"MinSize", "MaxSize", NULL};
static const char *const a_asg[] = {"AutoScalingGroupARN", NULL};
static const char *const p_zone[] = {"HostedZoneConfig",
                                     "HostedZoneFeatures",
                                     "HostedZoneTags",
                                     "Name",
                                     "QueryLoggingConfig",
                                     "VPCs",
                                     NULL};
static const char *const a_zone[] = {"Id", "NameServers", NULL};
static const char *const p_record[] = {"AliasTarget",
                                       "CidrRoutingConfig",
                                       "Comment",
                                       "Failover",
                                       "GeoLocation",
                                       "GeoProximityLocation",
                                       "HealthCheckId",
                                       "HostedZoneId",
                                       "HostedZoneName",
                                       "MultiValueAnswer",
                                       "Name",
                                       "Region",
                                       "ResourceRecords",
                                       "SetIdentifier",
                                       "TTL",
                                       "Type",
                                       "Weight",
                                       NULL};
static const char *const r_record[] = {"Type", "Name", NULL};
static const char *const p_record_group[] = {"Comment", "HostedZoneId", "HostedZoneName",
                                             "RecordSets", NULL};
static const char *const a_none[] = {NULL};
static const char *const a_role[] = {"Arn", "RoleId", NULL};
static const char *const a_arn[] = {"Arn", NULL};
static const char *const a_lt[] = {"DefaultVersionNumber", "LatestVersionNumber",
                                   "LaunchTemplateId", NULL};
static const char *const a_id[] = {"Id", NULL};

static const struct cfn_type types[] = {
    {"AWS::EC2::VPC", false, p_vpc, NULL, a_vpc, v_vpc, b_vpc},
    {"AWS::EC2::Subnet", false, p_subnet, r_subnet, a_subnet, v_subnet, b_subnet},
    {"AWS::EC2::SecurityGroup", false, p_sg, r_sg, a_sg, v_sg, b_sg},
    {"AWS::ElasticLoadBalancingV2::LoadBalancer", false, p_lb, NULL, a_lb, v_lb, b_lb},
    {"AWS::ElasticLoadBalancingV2::Listener", false, p_listener, r_listener, a_listener, v_listener,
     b_listener},
    {"AWS::ElasticLoadBalancingV2::ListenerRule", false, p_rule, r_rule, a_rule, v_rule, b_rule},
    {"AWS::ElasticLoadBalancingV2::TargetGroup", false, p_tg, NULL, a_tg, v_tg, b_tg},
    {"AWS::ECS::Cluster", false, p_cluster, NULL, a_cluster, v_cluster, b_cluster},
    {"AWS::ECS::TaskDefinition", false, p_taskdef, NULL, a_taskdef, v_taskdef, b_taskdef},
    {"AWS::ECS::Service", false, p_service, NULL, a_service, v_service, b_service},
    {"AWS::AutoScaling::AutoScalingGroup", false, p_asg, r_asg, a_asg, v_asg, b_asg},
    {"AWS::Route53::HostedZone", false, p_zone, NULL, a_zone, v_zone, b_zone},
    {"AWS::Route53::RecordSet", false, p_record, r_record, a_none, v_record, b_record},
    {"AWS::Route53::RecordSetGroup", false, p_record_group, NULL, a_none, v_record_group,
     b_record_group},
    {"AWS::AutoScaling::LaunchConfiguration", false, NULL, NULL, a_none, v_launchconfig, NULL},
    {"AWS::EC2::LaunchTemplate", false, NULL, NULL, a_lt, v_launchtemplate, NULL},
    {"AWS::IAM::Role", true, NULL, NULL, a_role, v_role, NULL},
    {"AWS::IAM::Policy", true, NULL, NULL, a_id, v_policy, NULL},
    {"AWS::IAM::InstanceProfile", true, NULL, NULL, a_arn, v_profile, NULL},
    {"AWS::Logs::LogGroup", true, NULL, NULL, a_arn, v_loggroup, NULL},
    {"AWS::EC2::SecurityGroupIngress", false, sg_res_props, NULL, a_id, v_sgrule, b_sgrule},
    {"AWS::EC2::SecurityGroupEgress", false, sg_res_props, NULL, a_id, v_sgrule, b_sgrule},
};

const struct cfn_type *cfn_type_find(const char *name)
{
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (strcmp(types[i].name, name) == 0)
			return &types[i];
	return NULL;
}

static int rule_cmp(const void *x, const void *y, void *arg)
{
	const struct model *m = arg;
	const struct model_rule *a = &m->rules[*(const int *)x], *b = &m->rules[*(const int *)y];
	return (a->priority > b->priority) - (a->priority < b->priority);
}

void cfn_build_model(struct cfn_ctx *c)
{
	struct model *m = c->m;
	size_t n = c->nres;
	m->resources = cfn__calloc(n, sizeof(*m->resources));
	/* Room for the default VPC and its subnets besides the template's. */
	m->vpcs = cfn__calloc(n + 1, sizeof(*m->vpcs));
	m->subnets = cfn__calloc(n + CFN_MAX_DEFAULT_SUBNETS, sizeof(*m->subnets));
	c->default_vpc = -1;
	m->sgs = cfn__calloc(n, sizeof(*m->sgs));
	m->tgs = cfn__calloc(n, sizeof(*m->tgs));
	m->rules = cfn__calloc(n, sizeof(*m->rules));
	m->listeners = cfn__calloc(n, sizeof(*m->listeners));
	m->lbs = cfn__calloc(n, sizeof(*m->lbs));
	m->zones = cfn__calloc(n, sizeof(*m->zones));
	/* A RecordSetGroup makes one record set per item. */
	size_t nrec = n;
	for (size_t k = 0; k < c->nres; k++) {
		const struct cfn_node *rs = c->res[k].props ? cfn_node_get(c->res[k].props,
		                                                           "RecordSets")
		                                            : NULL;
		if (rs && rs->type == CFN_LIST)
			nrec += rs->n;
	}
	m->records = cfn__calloc(nrec, sizeof(*m->records));
	m->clusters = cfn__calloc(n, sizeof(*m->clusters));
	m->task_defs = cfn__calloc(n, sizeof(*m->task_defs));
	m->asgs = cfn__calloc(n, sizeof(*m->asgs));
	m->services = cfn__calloc(n, sizeof(*m->services));
	c->subnet_next =
	    cfn_arena_alloc(&c->a, (n + CFN_MAX_DEFAULT_SUBNETS) * sizeof(*c->subnet_next));
	for (size_t k = 0; k < c->norder; k++) {
		struct cfn_res *r = &c->res[c->order[k]];
		if (r->failed || !r->type)
			continue;
		if (r->file)
			c->file = r->file; /* several stacks: errors name their file */
		struct model_resource *mr = &m->resources[m->nresources++];
		mr->logical = cfn__strdup(r->logical);
		mr->type = cfn__strdup(r->type_name);
		mr->no_effect = r->type->no_effect;
		const char *pp = props_path(c, r);
		cfn__check_keys(c, r->props, pp, r->type->props, r->type->required, "property");
		if (r->type->build)
			r->type->build(c, r);
	}
	for (size_t i = 0; i < m->nlisteners; i++) {
		struct model_listener *l = &m->listeners[i];
		l->rules = cfn__calloc(m->nrules, sizeof(*l->rules));
		for (size_t k = 0; k < m->nrules; k++)
			if (m->rules[k].listener == (int)i)
				l->rules[l->nrules++] = (int)k;
		qsort_r(l->rules, l->nrules, sizeof(*l->rules), rule_cmp, m);
	}
	/* the routing index, compiled once here so the model stays read-only
	 * for the ALB workers; out of memory while loading aborts, as
	 * cfn__calloc does */
	if (alb_route_index_build(m) < 0)
		abort();
	uint32_t base = m->nvpcs ? m->vpcs[0].lo_base : (c->net.addr & 0xffff0000u);
	m->resolver_addr = base + 2;
	/* The resolver compares names in wire form on every query: once here. */
	for (size_t i = 0; i < m->nzones + m->nrecords; i++) {
		const char *s = i < m->nzones ? m->zones[i].name : m->records[i - m->nzones].name;
		uint8_t w[255];
		int wl = s ? dns_name_from_str(s, w) : -1;
		uint8_t *p = wl > 0 ? malloc((size_t)wl) : NULL;
		if (p)
			memcpy(p, w, (size_t)wl);
		if (i < m->nzones)
			m->zones[i].wire_name = p;
		else
			m->records[i - m->nzones].wire_name = p;
	}
}
