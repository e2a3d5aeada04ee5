/*
 * Resource types vpcd accepts and checks but does not run (certificates,
 * Cloud Map, Application Auto Scaling, more IAM and Logs types), and nested
 * stacks (AWS::CloudFormation::Stack, loaded by cfn.c). Each has its
 * properties, required ones, enums and ranges from the resource provider
 * schemas, and the Ref/GetAtt values AWS gives, so templates that build
 * strings from them validate. The plan lists them as "accepted, no effect".
 */
#include "cfn/cfn_int.h"

#include <stdlib.h>
#include <string.h>

static const char *pp_of(struct cfn_ctx *c, struct cfn_res *r)
{
	return cfn__path_key(c, r->path, "Properties");
}

static const char *uuid(struct cfn_ctx *c, struct cfn_res *r, const char *salt)
{
	char h[33];
	cfn_hex(c, r->logical, salt, h, 32);
	return cfn_arena_printf(&c->a, "%.8s-%.4s-%.4s-%.4s-%.12s", h, h + 8, h + 12, h + 16,
	                        h + 20);
}

static const char *hex_id(struct cfn_ctx *c, struct cfn_res *r, const char *prefix, size_t n)
{
	char h[33];
	cfn_hex(c, r->logical, prefix, h, n);
	return cfn_arena_printf(&c->a, "%s-%s", prefix, h);
}

/* ---------- AWS::CertificateManager::Certificate ---------- */

static const char *const p_cert[] = {"CertificateAuthorityArn",
                                     "CertificateExport",
                                     "CertificateTransparencyLoggingPreference",
                                     "DomainName",
                                     "DomainValidationOptions",
                                     "KeyAlgorithm",
                                     "SubjectAlternativeNames",
                                     "Tags",
                                     "ValidationMethod",
                                     NULL};
static const char *const r_cert[] = {"DomainName", NULL};
static const char *const e_validation[] = {"DNS", "EMAIL", NULL};
static const char *const e_ctlog[] = {"ENABLED", "DISABLED", NULL};
static const char *const e_keyalg[] = {"RSA_1024",        "RSA_2048",       "RSA_3072",
                                       "RSA_4096",        "EC_prime256v1", "EC_secp384r1",
                                       "EC_secp521r1",    NULL};

static void v_cert(struct cfn_ctx *c, struct cfn_res *r)
{
	const char *pp = pp_of(c, r);
	const char *dn = cfn__prop_str(c, r->props, "DomainName", pp);
	if (dn && (strlen(dn) < 1 || strlen(dn) > 253))
		cfn_error_at(c, cfn_node_get(r->props, "DomainName"),
		             cfn__path_key(c, pp, "DomainName"),
		             "must be 1 to 253 characters long, found %zu", strlen(dn));
	cfn__prop_enum(c, r->props, "ValidationMethod", pp, "EMAIL", e_validation);
	cfn__prop_enum(c, r->props, "CertificateTransparencyLoggingPreference", pp, "ENABLED",
	               e_ctlog);
	cfn__prop_enum(c, r->props, "KeyAlgorithm", pp, "RSA_2048", e_keyalg);
	cfn__prop_list(c, r->props, "SubjectAlternativeNames", pp);
	cfn__prop_list(c, r->props, "DomainValidationOptions", pp);
	cfn_attr_set(c, r, NULL,
	             cfn_arena_printf(&c->a, "arn:aws:acm:%s:%s:certificate/%s", c->region,
	                              c->account, uuid(c, r, "cert")));
}

/* ---------- AWS::ServiceDiscovery::* ---------- */

static const char *const p_dnsns[] = {"Description", "Name", "Properties", "Tags", "Vpc", NULL};
static const char *const r_privns[] = {"Name", "Vpc", NULL};
static const char *const p_pubns[] = {"Description", "Name", "Properties", "Tags", NULL};
static const char *const r_name[] = {"Name", NULL};
static const char *const p_httpns[] = {"Description", "Name", "Tags", NULL};
static const char *const a_ns[] = {"Arn", "HostedZoneId", "Id", NULL};
static const char *const a_httpns[] = {"Arn", "Id", NULL};
static const char *const p_sdsvc[] = {"Description",
                                      "DnsConfig",
                                      "HealthCheckConfig",
                                      "HealthCheckCustomConfig",
                                      "Name",
                                      "NamespaceId",
                                      "ServiceAttributes",
                                      "Tags",
                                      "Type",
                                      NULL};
static const char *const a_sdsvc[] = {"Arn", "Id", "Name", NULL};
static const char *const e_sdtype[] = {"HTTP", NULL};
static const char *const p_sdinst[] = {"InstanceAttributes", "InstanceId", "ServiceId", NULL};
static const char *const r_sdinst[] = {"InstanceAttributes", "ServiceId", NULL};
static const char *const e_routing[] = {"MULTIVALUE", "WEIGHTED", NULL};
static const char *const e_dnsrr[] = {"A", "AAAA", "CNAME", "SRV", NULL};
static const char *const p_dnsconfig[] = {"DnsRecords", "NamespaceId", "RoutingPolicy", NULL};
static const char *const p_dnsrecord[] = {"TTL", "Type", NULL};

static void v_namespace(struct cfn_ctx *c, struct cfn_res *r)
{
	const char *id = hex_id(c, r, "ns", 16);
	cfn_attr_set(c, r, NULL, id);
	cfn_attr_set(c, r, "Id", id);
	cfn_attr_set(c, r, "Arn",
	             cfn_arena_printf(&c->a, "arn:aws:servicediscovery:%s:%s:namespace/%s",
	                              c->region, c->account, id));
	char h[14];
	cfn_hex(c, r->logical, "nszone", h, 13);
	for (char *p = h; *p; p++)
		if (*p >= 'a' && *p <= 'f')
			*p = (char)(*p - 'a' + 'A');
	cfn_attr_set(c, r, "HostedZoneId", cfn_arena_printf(&c->a, "Z%s", h));
}

static void v_sdsvc(struct cfn_ctx *c, struct cfn_res *r)
{
	const char *pp = pp_of(c, r);
	cfn__prop_enum(c, r->props, "Type", pp, NULL, e_sdtype);
	struct cfn_node *dc = cfn__prop_map(c, r->props, "DnsConfig", pp);
	if (dc) {
		const char *dp = cfn__path_key(c, pp, "DnsConfig");
		cfn__check_keys(c, dc, dp, p_dnsconfig, (const char *const[]){"DnsRecords", NULL},
		                "property");
		cfn__prop_enum(c, dc, "RoutingPolicy", dp, "MULTIVALUE", e_routing);
		struct cfn_node *rr = cfn__prop_list(c, dc, "DnsRecords", dp);
		for (size_t i = 0; rr && i < rr->n; i++) {
			const char *ip = cfn__item_path(c, dp, "DnsRecords", i);
			if (rr->items[i]->type != CFN_MAP) {
				cfn_error_at(c, rr->items[i], ip, "expected an object, found %s",
				             cfn__found(c, rr->items[i]));
				continue;
			}
			cfn__check_keys(c, rr->items[i], ip, p_dnsrecord, p_dnsrecord, "property");
			cfn__prop_enum(c, rr->items[i], "Type", ip, NULL, e_dnsrr);
			cfn__prop_int(c, rr->items[i], "TTL", ip, 60, 0, 2147483647);
		}
	}
	const char *name = cfn__prop_str(c, r->props, "Name", pp);
	if (!name)
		name = cfn_gen_name(c, r->logical, 127);
	const char *id = hex_id(c, r, "srv", 16);
	cfn_attr_set(c, r, NULL, id);
	cfn_attr_set(c, r, "Id", id);
	cfn_attr_set(c, r, "Name", name);
	cfn_attr_set(c, r, "Arn",
	             cfn_arena_printf(&c->a, "arn:aws:servicediscovery:%s:%s:service/%s",
	                              c->region, c->account, id));
}

static void v_sdinst(struct cfn_ctx *c, struct cfn_res *r)
{
	const char *pp = pp_of(c, r);
	cfn__prop_map(c, r->props, "InstanceAttributes", pp);
	const char *id = cfn__prop_str(c, r->props, "InstanceId", pp);
	cfn_attr_set(c, r, NULL, id ? id : r->logical);
}

/* ---------- AWS::ApplicationAutoScaling::* ---------- */

static const char *const p_target[] = {"MaxCapacity",       "MinCapacity",
                                       "ResourceId",        "RoleARN",
                                       "ScalableDimension", "ScheduledActions",
                                       "ServiceNamespace",  "SuspendedState",
                                       NULL};
static const char *const r_target[] = {"MaxCapacity", "MinCapacity", "ResourceId",
                                       "ScalableDimension", "ServiceNamespace", NULL};
static const char *const e_namespace[] = {
    "appstream", "cassandra", "comprehend", "custom-resource", "dynamodb",   "ec2",
    "ecs",       "elasticache", "elasticmapreduce", "kafka",   "lambda",     "neptune",
    "rds",       "sagemaker", "workspaces", NULL};
static const char *const e_dimension[] = {"appstream:fleet:DesiredCapacity",
                                          "cassandra:table:ReadCapacityUnits",
                                          "cassandra:table:WriteCapacityUnits",
                                          "comprehend:document-classifier-endpoint:"
                                          "DesiredInferenceUnits",
                                          "comprehend:entity-recognizer-endpoint:"
                                          "DesiredInferenceUnits",
                                          "custom-resource:ResourceType:Property",
                                          "dynamodb:index:ReadCapacityUnits",
                                          "dynamodb:index:WriteCapacityUnits",
                                          "dynamodb:table:ReadCapacityUnits",
                                          "dynamodb:table:WriteCapacityUnits",
                                          "ec2:spot-fleet-request:TargetCapacity",
                                          "ecs:service:DesiredCount",
                                          "elasticache:replication-group:NodeGroups",
                                          "elasticache:replication-group:Replicas",
                                          "elasticmapreduce:instancegroup:InstanceCount",
                                          "kafka:broker-storage:VolumeSize",
                                          "lambda:function:ProvisionedConcurrency",
                                          "neptune:cluster:ReadReplicaCount",
                                          "rds:cluster:ReadReplicaCount",
                                          "sagemaker:variant:DesiredInstanceCount",
                                          "sagemaker:variant:DesiredProvisionedConcurrency",
                                          "workspaces:workspacespool:DesiredUserSessions",
                                          NULL};
static const char *const a_target[] = {"Id", NULL};
static const char *const p_policy[] = {"PolicyName",
                                       "PolicyType",
                                       "ResourceId",
                                       "ScalableDimension",
                                       "ScalingTargetId",
                                       "ServiceNamespace",
                                       "StepScalingPolicyConfiguration",
                                       "TargetTrackingScalingPolicyConfiguration",
                                       NULL};
static const char *const r_policy[] = {"PolicyName", "PolicyType", NULL};
static const char *const e_policytype[] = {"PredictiveScaling", "StepScaling",
                                           "TargetTrackingScaling", NULL};
static const char *const a_policy[] = {"Arn", NULL};
static const char *const e_metric[] = {"ALBRequestCountPerTarget",
                                       "AppStreamAverageCapacityUtilization",
                                       "CassandraReadCapacityUtilization",
                                       "CassandraWriteCapacityUtilization",
                                       "ComprehendInferenceUtilization",
                                       "DynamoDBReadCapacityUtilization",
                                       "DynamoDBWriteCapacityUtilization",
                                       "EC2SpotFleetRequestAverageCPUUtilization",
                                       "EC2SpotFleetRequestAverageNetworkIn",
                                       "EC2SpotFleetRequestAverageNetworkOut",
                                       "ECSServiceAverageCPUUtilization",
                                       "ECSServiceAverageMemoryUtilization",
                                       "ElastiCacheDatabaseCapacityUsageCountedForEvictPercentage",
                                       "ElastiCacheDatabaseMemoryUsageCountedForEvictPercentage",
                                       "ElastiCacheEngineCPUUtilization",
                                       "ElastiCachePrimaryEngineCPUUtilization",
                                       "ElastiCacheReplicaEngineCPUUtilization",
                                       "KafkaBrokerStorageUtilization",
                                       "LambdaProvisionedConcurrencyUtilization",
                                       "NeptuneReaderAverageCPUUtilization",
                                       "RDSReaderAverageCPUUtilization",
                                       "RDSReaderAverageDatabaseConnections",
                                       "SageMakerInferenceComponentInvocationsPerCopy",
                                       "SageMakerVariantInvocationsPerInstance",
                                       "SageMakerVariantProvisionedConcurrencyUtilization",
                                       "WorkSpacesAverageUserSessionsCapacityUtilization",
                                       NULL};

static void v_target(struct cfn_ctx *c, struct cfn_res *r)
{
	const char *pp = pp_of(c, r);
	int max = cfn__prop_int(c, r->props, "MaxCapacity", pp, -1, 0, 2147483647);
	int min = cfn__prop_int(c, r->props, "MinCapacity", pp, -1, 0, 2147483647);
	if (min >= 0 && max >= 0 && min > max)
		cfn_error_at(c, cfn_node_get(r->props, "MinCapacity"),
		             cfn__path_key(c, pp, "MinCapacity"),
		             "Minimum capacity cannot be greater than maximum capacity (%d > %d)",
		             min, max);
	const char *ns = cfn__prop_enum(c, r->props, "ServiceNamespace", pp, NULL, e_namespace);
	const char *dim =
	    cfn__prop_enum(c, r->props, "ScalableDimension", pp, NULL, e_dimension);
	const char *rid = cfn__prop_str(c, r->props, "ResourceId", pp);
	if (ns && dim && strncmp(dim, ns, strlen(ns)) != 0)
		cfn_error_at(c, cfn_node_get(r->props, "ScalableDimension"),
		             cfn__path_key(c, pp, "ScalableDimension"),
		             "%s is not a dimension of the service namespace %s", dim, ns);
	if (ns && rid && strcmp(ns, "ecs") == 0 && strncmp(rid, "service/", 8) != 0)
		cfn_error_at(c, cfn_node_get(r->props, "ResourceId"),
		             cfn__path_key(c, pp, "ResourceId"),
		             "an ecs ResourceId is service/CLUSTER/SERVICE, found \"%s\"", rid);
	/* The resource's Ref is its resource id, dimension and namespace. */
	const char *ref = cfn_arena_printf(&c->a, "%s|%s|%s", rid ? rid : "", dim ? dim : "",
	                                   ns ? ns : "");
	cfn_attr_set(c, r, NULL, ref);
	cfn_attr_set(c, r, "Id", ref);
}

static void v_policy(struct cfn_ctx *c, struct cfn_res *r)
{
	const char *pp = pp_of(c, r);
	const char *type = cfn__prop_enum(c, r->props, "PolicyType", pp, NULL, e_policytype);
	const char *name = cfn__prop_str(c, r->props, "PolicyName", pp);
	bool has_target = cfn_node_get(r->props, "ScalingTargetId") != NULL;
	bool has_triple = cfn_node_get(r->props, "ResourceId") &&
	                  cfn_node_get(r->props, "ScalableDimension") &&
	                  cfn_node_get(r->props, "ServiceNamespace");
	if (!has_target && !has_triple)
		cfn_error_at(c, r->props, pp,
		             "give ScalingTargetId, or ResourceId, ScalableDimension and "
		             "ServiceNamespace");
	if (cfn_node_get(r->props, "ServiceNamespace"))
		cfn__prop_enum(c, r->props, "ServiceNamespace", pp, NULL, e_namespace);
	if (cfn_node_get(r->props, "ScalableDimension"))
		cfn__prop_enum(c, r->props, "ScalableDimension", pp, NULL, e_dimension);
	struct cfn_node *tt =
	    cfn__prop_map(c, r->props, "TargetTrackingScalingPolicyConfiguration", pp);
	if (type && strcmp(type, "TargetTrackingScaling") == 0 && !tt)
		cfn_error_at(c, r->props, pp,
		             "a TargetTrackingScaling policy needs "
		             "TargetTrackingScalingPolicyConfiguration");
	if (tt) {
		const char *tp = cfn__path_key(c, pp, "TargetTrackingScalingPolicyConfiguration");
		if (!cfn_node_get(tt, "TargetValue"))
			cfn_error_at(c, tt, tp, "missing required property TargetValue");
		struct cfn_node *pm =
		    cfn__prop_map(c, tt, "PredefinedMetricSpecification", tp);
		if (pm)
			cfn__prop_enum(c, pm, "PredefinedMetricType",
			               cfn__path_key(c, tp, "PredefinedMetricSpecification"), NULL,
			               e_metric);
		cfn__prop_int(c, tt, "ScaleInCooldown", tp, 0, 0, 2147483647);
		cfn__prop_int(c, tt, "ScaleOutCooldown", tp, 0, 0, 2147483647);
		cfn__prop_bool(c, tt, "DisableScaleIn", tp, false);
	}
	if (type && strcmp(type, "StepScaling") == 0 &&
	    !cfn_node_get(r->props, "StepScalingPolicyConfiguration"))
		cfn_error_at(c, r->props, pp,
		             "a StepScaling policy needs StepScalingPolicyConfiguration");
	const char *arn = cfn_arena_printf(
	    &c->a, "arn:aws:autoscaling:%s:%s:scalingPolicy:%s:resource/%s:policyName/%s",
	    c->region, c->account, uuid(c, r, "policy"), "ecs", name ? name : r->logical);
	cfn_attr_set(c, r, NULL, arn);
	cfn_attr_set(c, r, "Arn", arn);
}

/* ---------- more IAM and Logs ---------- */

static const char *const p_mpolicy[] = {"Description", "Groups",         "ManagedPolicyName",
                                        "Path",        "PolicyDocument", "Roles",
                                        "Users",       NULL};
static const char *const r_mpolicy[] = {"PolicyDocument", NULL};
static const char *const a_mpolicy[] = {"AttachmentCount", "CreateDate", "DefaultVersionId",
                                        "IsAttachable",    "PermissionsBoundaryUsageCount",
                                        "PolicyArn",       "PolicyId",
                                        "UpdateDate",      NULL};
static const char *const a_user[] = {"Arn", NULL};
static const char *const p_slr[] = {"AWSServiceName", "CustomSuffix", "Description", NULL};
static const char *const r_slr[] = {"AWSServiceName", NULL};
static const char *const a_slr[] = {"RoleName", NULL};
static const char *const p_stream[] = {"LogGroupName", "LogStreamName", NULL};
static const char *const r_stream[] = {"LogGroupName", NULL};
static const char *const a_none[] = {NULL};

static void v_mpolicy(struct cfn_ctx *c, struct cfn_res *r)
{
	const char *pp = pp_of(c, r);
	const char *name = cfn__prop_str(c, r->props, "ManagedPolicyName", pp);
	const char *path = cfn__prop_str(c, r->props, "Path", pp);
	if (!name)
		name = cfn_gen_name(c, r->logical, 128);
	cfn__prop_map(c, r->props, "PolicyDocument", pp);
	const char *arn = cfn_arena_printf(&c->a, "arn:aws:iam::%s:policy%s%s", c->account,
	                                   path ? path : "/", name);
	cfn_attr_set(c, r, NULL, arn);
	cfn_attr_set(c, r, "PolicyArn", arn);
	cfn_attr_set(c, r, "PolicyId", hex_id(c, r, "ANPA", 17));
	cfn_attr_set(c, r, "DefaultVersionId", "v1");
	cfn_attr_set(c, r, "AttachmentCount", "0");
	cfn_attr_set(c, r, "IsAttachable", "true");
	cfn_attr_set(c, r, "PermissionsBoundaryUsageCount", "0");
	cfn_attr_set(c, r, "CreateDate", "2010-09-09T00:00:00Z");
	cfn_attr_set(c, r, "UpdateDate", "2010-09-09T00:00:00Z");
}

static void v_user(struct cfn_ctx *c, struct cfn_res *r)
{
	const char *pp = pp_of(c, r);
	const char *name = cfn__prop_str(c, r->props, "UserName", pp);
	if (!name)
		name = cfn__prop_str(c, r->props, "GroupName", pp);
	if (!name)
		name = cfn_gen_name(c, r->logical, 64);
	bool group = strstr(r->type_name, "Group") != NULL;
	cfn_attr_set(c, r, NULL, name);
	cfn_attr_set(c, r, "Arn",
	             cfn_arena_printf(&c->a, "arn:aws:iam::%s:%s/%s", c->account,
	                              group ? "group" : "user", name));
}

static void v_slr(struct cfn_ctx *c, struct cfn_res *r)
{
	const char *svc = cfn__prop_str(c, r->props, "AWSServiceName", pp_of(c, r));
	const char *name = cfn_arena_printf(&c->a, "AWSServiceRoleFor%s", svc ? svc : "Service");
	cfn_attr_set(c, r, NULL, name);
	cfn_attr_set(c, r, "RoleName", name);
}

static void v_logicalname(struct cfn_ctx *c, struct cfn_res *r)
{
	cfn_attr_set(c, r, NULL, cfn_gen_name(c, r->logical, 128));
}

/* ---------- EC2 network plumbing ----------
 * Gateways, route tables, routes, Elastic IPs and endpoints: on one machine every
 * subnet reaches every other and the outside through the host, so they change
 * nothing here; their Refs are the ids AWS gives. */

static const char *const p_igw[] = {"Tags", NULL};
static const char *const a_igw[] = {"InternetGatewayId", NULL};
static const char *const p_gwatt[] = {"InternetGatewayId", "VpcId", "VpnGatewayId", NULL};
static const char *const r_vpcid[] = {"VpcId", NULL};
static const char *const p_eip[] = {"Address",           "Domain",
                                    "InstanceId",        "IpamPoolId",
                                    "NetworkBorderGroup", "PublicIpv4Pool",
                                    "Tags",              "TransferAddress",
                                    NULL};
static const char *const a_eip[] = {"AllocationId", "PublicIp", NULL};
static const char *const e_eipdomain[] = {"standard", "vpc", NULL};
static const char *const p_nat[] = {"AllocationId",
                                    "ConnectivityType",
                                    "MaxDrainDurationSeconds",
                                    "PrivateIpAddress",
                                    "SecondaryAllocationIds",
                                    "SecondaryPrivateIpAddressCount",
                                    "SecondaryPrivateIpAddresses",
                                    "SubnetId",
                                    "Tags",
                                    NULL};
static const char *const r_nat[] = {"SubnetId", NULL};
static const char *const a_nat[] = {"NatGatewayId", NULL};
static const char *const e_connectivity[] = {"private", "public", NULL};
static const char *const p_rtb[] = {"Tags", "VpcId", NULL};
static const char *const a_rtb[] = {"RouteTableId", NULL};
static const char *const p_route[] = {"CarrierGatewayId",
                                      "CoreNetworkArn",
                                      "DestinationCidrBlock",
                                      "DestinationIpv6CidrBlock",
                                      "DestinationPrefixListId",
                                      "EgressOnlyInternetGatewayId",
                                      "GatewayId",
                                      "InstanceId",
                                      "LocalGatewayId",
                                      "NatGatewayId",
                                      "NetworkInterfaceId",
                                      "RouteTableId",
                                      "TransitGatewayId",
                                      "VpcEndpointId",
                                      "VpcPeeringConnectionId",
                                      NULL};
static const char *const r_route[] = {"RouteTableId", NULL};
static const char *const a_route[] = {"CidrBlock", NULL};
static const char *const p_rtbassoc[] = {"RouteTableId", "SubnetId", NULL};
static const char *const a_id[] = {"Id", NULL};
static const char *const p_vpce[] = {"DnsOptions",
                                     "IpAddressType",
                                     "PolicyDocument",
                                     "PrivateDnsEnabled",
                                     "ResourceConfigurationArn",
                                     "RouteTableIds",
                                     "SecurityGroupIds",
                                     "ServiceName",
                                     "ServiceNetworkArn",
                                     "SubnetIds",
                                     "Tags",
                                     "VpcEndpointType",
                                     "VpcId",
                                     NULL};
static const char *const a_vpce[] = {"CreationTimestamp", "Id", NULL};
static const char *const e_vpcetype[] = {"Interface",        "Gateway",
                                         "GatewayLoadBalancer", "ServiceNetwork",
                                         "Resource",         NULL};

static void v_igw(struct cfn_ctx *c, struct cfn_res *r)
{
	const char *id = hex_id(c, r, "igw", 17);
	cfn_attr_set(c, r, NULL, id);
	cfn_attr_set(c, r, "InternetGatewayId", id);
}

static void v_gwatt(struct cfn_ctx *c, struct cfn_res *r)
{
	const char *pp = pp_of(c, r);
	if (!cfn_node_get(r->props, "InternetGatewayId") && !cfn_node_get(r->props, "VpnGatewayId"))
		cfn_error_at(c, r->props, pp, "needs InternetGatewayId or VpnGatewayId");
	cfn_attr_set(c, r, NULL, cfn_gen_name(c, r->logical, 128));
}

static void v_eip(struct cfn_ctx *c, struct cfn_res *r)
{
	char h[9];
	cfn_hex(c, r->logical, "eip", h, 8);
	unsigned long v = strtoul(h, NULL, 16);
	/* An address of TEST-NET-3 (RFC 5737): it never leaves the machine. */
	const char *ip = cfn_arena_printf(&c->a, "203.0.113.%lu", 1 + v % 254);
	cfn__prop_enum(c, r->props, "Domain", pp_of(c, r), "standard", e_eipdomain);
	cfn_attr_set(c, r, NULL, ip);
	cfn_attr_set(c, r, "PublicIp", ip);
	cfn_attr_set(c, r, "AllocationId", hex_id(c, r, "eipalloc", 17));
}

static void v_nat(struct cfn_ctx *c, struct cfn_res *r)
{
	const char *pp = pp_of(c, r);
	cfn__prop_enum(c, r->props, "ConnectivityType", pp, "public", e_connectivity);
	cfn__prop_int(c, r->props, "MaxDrainDurationSeconds", pp, 350, 1, 4000);
	const char *id = hex_id(c, r, "nat", 17);
	cfn_attr_set(c, r, NULL, id);
	cfn_attr_set(c, r, "NatGatewayId", id);
}

static void v_rtb(struct cfn_ctx *c, struct cfn_res *r)
{
	const char *id = hex_id(c, r, "rtb", 17);
	cfn_attr_set(c, r, NULL, id);
	cfn_attr_set(c, r, "RouteTableId", id);
}

static void v_route(struct cfn_ctx *c, struct cfn_res *r)
{
	const char *pp = pp_of(c, r);
	const char *cidr = cfn__prop_str(c, r->props, "DestinationCidrBlock", pp);
	if (!cidr && !cfn_node_get(r->props, "DestinationIpv6CidrBlock") &&
	    !cfn_node_get(r->props, "DestinationPrefixListId"))
		cfn_error_at(c, r->props, pp,
		             "needs DestinationCidrBlock, DestinationIpv6CidrBlock or "
		             "DestinationPrefixListId");
	cfn_attr_set(c, r, NULL, cfn_gen_name(c, r->logical, 128));
	cfn_attr_set(c, r, "CidrBlock", cidr ? cidr : "");
}

static void v_rtbassoc(struct cfn_ctx *c, struct cfn_res *r)
{
	const char *id = hex_id(c, r, "rtbassoc", 17);
	cfn_attr_set(c, r, NULL, id);
	cfn_attr_set(c, r, "Id", id);
}

static void v_vpce(struct cfn_ctx *c, struct cfn_res *r)
{
	const char *pp = pp_of(c, r);
	cfn__prop_enum(c, r->props, "VpcEndpointType", pp, "Gateway", e_vpcetype);
	cfn__prop_list(c, r->props, "RouteTableIds", pp);
	cfn__prop_list(c, r->props, "SubnetIds", pp);
	cfn__prop_list(c, r->props, "SecurityGroupIds", pp);
	cfn__prop_bool(c, r->props, "PrivateDnsEnabled", pp, false);
	const char *id = hex_id(c, r, "vpce", 17);
	cfn_attr_set(c, r, NULL, id);
	cfn_attr_set(c, r, "Id", id);
	cfn_attr_set(c, r, "CreationTimestamp", "2010-09-09T00:00:00Z");
}

/* ---------- AWS::CloudWatch::Alarm (no metrics are sent to CloudWatch) ---------- */

static const char *const p_alarm[] = {"ActionsEnabled",
                                      "AlarmActions",
                                      "AlarmDescription",
                                      "AlarmName",
                                      "ComparisonOperator",
                                      "DatapointsToAlarm",
                                      "Dimensions",
                                      "EvaluateLowSampleCountPercentile",
                                      "EvaluationPeriods",
                                      "ExtendedStatistic",
                                      "InsufficientDataActions",
                                      "MetricName",
                                      "Metrics",
                                      "Namespace",
                                      "OKActions",
                                      "Period",
                                      "Statistic",
                                      "Tags",
                                      "Threshold",
                                      "ThresholdMetricId",
                                      "TreatMissingData",
                                      "Unit",
                                      NULL};
static const char *const r_alarm[] = {"ComparisonOperator", "EvaluationPeriods", NULL};
static const char *const a_alarm[] = {"Arn", NULL};
static const char *const e_cmp[] = {"GreaterThanOrEqualToThreshold",
                                    "GreaterThanThreshold",
                                    "LessThanThreshold",
                                    "LessThanOrEqualToThreshold",
                                    "LessThanLowerOrGreaterThanUpperThreshold",
                                    "LessThanLowerThreshold",
                                    "GreaterThanUpperThreshold",
                                    NULL};
static const char *const e_stat[] = {"SampleCount", "Average", "Sum", "Minimum", "Maximum",
                                     NULL};

static void v_alarm(struct cfn_ctx *c, struct cfn_res *r)
{
	const char *pp = pp_of(c, r);
	const char *name = cfn__prop_str(c, r->props, "AlarmName", pp);
	if (!name)
		name = cfn_gen_name(c, r->logical, 255);
	cfn__prop_enum(c, r->props, "ComparisonOperator", pp, NULL, e_cmp);
	cfn__prop_enum(c, r->props, "Statistic", pp, NULL, e_stat);
	cfn__prop_int(c, r->props, "EvaluationPeriods", pp, 1, 1, 2147483647);
	cfn__prop_int(c, r->props, "Period", pp, 60, 1, 2147483647);
	cfn__prop_list(c, r->props, "AlarmActions", pp);
	cfn__prop_list(c, r->props, "Dimensions", pp);
	cfn_attr_set(c, r, NULL, name);
	cfn_attr_set(c, r, "Arn",
	             cfn_arena_printf(&c->a, "arn:aws:cloudwatch:%s:%s:alarm:%s", c->region,
	                              c->account, name));
}

/* ---------- AWS::CloudFormation::Stack ---------- */

static const char *const p_stack[] = {"NotificationARNs", "Parameters", "Tags", "TemplateURL",
                                      "TimeoutInMinutes", NULL};
static const char *const r_stack[] = {"TemplateURL", NULL};

static void v_stack(struct cfn_ctx *c, struct cfn_res *r)
{
	cfn__prop_map(c, r->props, "Parameters", pp_of(c, r));
	cfn__prop_int(c, r->props, "TimeoutInMinutes", pp_of(c, r), 0, 1, 2147483647);
	cfn_nested_load(c, r);
}

static const struct cfn_type extra[] = {
    {"AWS::CertificateManager::Certificate", true, p_cert, r_cert, a_none, v_cert, NULL},
    {"AWS::ServiceDiscovery::PrivateDnsNamespace", true, p_dnsns, r_privns, a_ns, v_namespace,
     NULL},
    {"AWS::ServiceDiscovery::PublicDnsNamespace", true, p_pubns, r_name, a_ns, v_namespace,
     NULL},
    {"AWS::ServiceDiscovery::HttpNamespace", true, p_httpns, r_name, a_httpns, v_namespace,
     NULL},
    {"AWS::ServiceDiscovery::Service", true, p_sdsvc, NULL, a_sdsvc, v_sdsvc, NULL},
    {"AWS::ServiceDiscovery::Instance", true, p_sdinst, r_sdinst, a_none, v_sdinst, NULL},
    /* Built into the model by scaling.c once the services are. */
    {"AWS::ApplicationAutoScaling::ScalableTarget", false, p_target, r_target, a_target,
     v_target, NULL},
    {"AWS::ApplicationAutoScaling::ScalingPolicy", false, p_policy, r_policy, a_policy,
     v_policy, NULL},
    {"AWS::IAM::ManagedPolicy", true, p_mpolicy, r_mpolicy, a_mpolicy, v_mpolicy, NULL},
    {"AWS::IAM::User", true, NULL, NULL, a_user, v_user, NULL},
    {"AWS::IAM::Group", true, NULL, NULL, a_user, v_user, NULL},
    {"AWS::IAM::ServiceLinkedRole", true, p_slr, r_slr, a_slr, v_slr, NULL},
    {"AWS::IAM::UserToGroupAddition", true, NULL, NULL, a_none, v_logicalname, NULL},
    {"AWS::IAM::AccessKey", true, NULL, NULL, NULL, v_logicalname, NULL},
    {"AWS::Logs::LogStream", true, p_stream, r_stream, a_none, v_logicalname, NULL},
    {"AWS::Logs::MetricFilter", true, NULL, NULL, a_none, v_logicalname, NULL},
    {"AWS::Logs::SubscriptionFilter", true, NULL, NULL, a_none, v_logicalname, NULL},
    {"AWS::CloudFormation::WaitConditionHandle", true, p_stack + 5, NULL, a_none,
     v_logicalname, NULL},
    {"AWS::EC2::InternetGateway", true, p_igw, NULL, a_igw, v_igw, NULL},
    {"AWS::EC2::VPCGatewayAttachment", true, p_gwatt, r_vpcid, a_none, v_gwatt, NULL},
    {"AWS::EC2::EIP", true, p_eip, NULL, a_eip, v_eip, NULL},
    {"AWS::EC2::NatGateway", true, p_nat, r_nat, a_nat, v_nat, NULL},
    {"AWS::EC2::RouteTable", true, p_rtb, r_vpcid, a_rtb, v_rtb, NULL},
    {"AWS::EC2::Route", true, p_route, r_route, a_route, v_route, NULL},
    {"AWS::EC2::SubnetRouteTableAssociation", true, p_rtbassoc, p_rtbassoc, a_id, v_rtbassoc,
     NULL},
    {"AWS::EC2::VPCEndpoint", true, p_vpce, r_vpcid, a_vpce, v_vpce, NULL},
    {"AWS::CloudWatch::Alarm", true, p_alarm, r_alarm, a_alarm, v_alarm, NULL},
    /* Nested stacks: their resources are built as part of the model. */
    {"AWS::CloudFormation::Stack", true, p_stack, r_stack, NULL, v_stack, NULL},
};

const struct cfn_type *cfn_type_find_extra(const char *name)
{
	for (size_t i = 0; i < sizeof(extra) / sizeof(extra[0]); i++)
		if (strcmp(extra[i].name, name) == 0)
			return &extra[i];
	return NULL;
}
