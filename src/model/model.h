/*
 * The model: the typed, fully evaluated form of a template, with the VPC
 * mapped onto loopback. Built by cfn (cfn_load), read by every plane, never
 * changed after it is built. References between resources are indexes into
 * the arrays of struct model (-1 when absent).
 *
 * Ownership: a struct model owns every string and array it points to;
 * model_free() releases all of it.
 */
#ifndef VPCD_MODEL_MODEL_H
#define VPCD_MODEL_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/addr.h"

#define MODEL_MAX_VALUES 16

struct model_vpc {
	char *logical;
	char *id;	   /* vpc-<17 hex> */
	struct cidr4 cidr; /* as written in the template, e.g. 10.0.0.0/16 */
	uint32_t lo_base;  /* loopback /16 it maps onto, e.g. 127.77.0.0 */
};

struct model_subnet {
	char *logical;
	char *id; /* subnet-<17 hex> */
	char *az; /* us-east-1a */
	int vpc;
	struct cidr4 cidr;    /* VPC address space */
	struct cidr4 lo_cidr; /* mapped onto loopback */
};

struct model_sg_rule {
	int proto;	  /* 6 tcp, 17 udp, -1 all */
	int from_port;	  /* -1 with proto -1 */
	int to_port;
	struct cidr4 cidr; /* VPC address space (mapped at use) */
};

struct model_sg {
	char *logical;
	char *id; /* sg-<17 hex> */
	int vpc;
	struct model_sg_rule *ingress;
	size_t ningress;
	struct model_sg_rule *egress;
	size_t negress;
};

struct model_health_check {
	bool enabled;		  /* default true */
	char *protocol;		  /* "HTTP" */
	int port;		  /* 0 = traffic-port */
	char *path;		  /* default "/" */
	int interval_s;		  /* default 30 */
	int timeout_s;		  /* default 5 */
	int healthy_threshold;	  /* default 5 */
	int unhealthy_threshold;  /* default 2 */
	char *matcher;		  /* HttpCode, default "200"; GRPC: GrpcCode, default "12" */
};

/* A target listed in the group's Targets (static registration): TargetType
 * ip only, its Id a VPC address, mapped onto loopback here. */
struct model_static_target {
	uint32_t addr; /* loopback-mapped, host order */
	uint16_t port; /* the target's Port, else the group's */
};

enum model_protocol_version { MODEL_PV_HTTP1, MODEL_PV_HTTP2, MODEL_PV_GRPC };

struct model_target_group {
	char *logical;
	char *name;	 /* Name, or generated */
	char *arn;	 /* arn:aws:elasticloadbalancing:R:A:targetgroup/NAME/<16 hex> */
	char *full_name; /* targetgroup/NAME/<16 hex> */
	char *protocol;	 /* HTTP */
	int port;
	int vpc;
	char *target_type;                   /* instance | ip */
	int protocol_version;                /* enum model_protocol_version */
	struct model_static_target *targets; /* Targets, in template order */
	size_t ntargets;
	struct model_health_check hc;
	int deregistration_delay_s; /* default 300 */
	/* load_balancing.algorithm.type: enum model_lb_algo */
	int lb_algo;
	int slow_start_s; /* slow_start.duration_seconds: 0 (off) or 30..900 */
	bool sticky;	  /* stickiness.enabled with stickiness.type lb_cookie (AWSALB) */
	int sticky_s;	  /* stickiness.lb_cookie.duration_seconds, default 86400 */
	/* stickiness.enabled with stickiness.type app_cookie (AWSALBAPP-0..3):
	 * app_cookie is stickiness.app_cookie.cookie_name, app_sticky_s
	 * stickiness.app_cookie.duration_seconds (default 86400) */
	bool app_sticky;
	char *app_cookie;
	int app_sticky_s;
};

enum model_lb_algo {
	MODEL_ALGO_ROUND_ROBIN,
	MODEL_ALGO_LEAST_OUTSTANDING,
	MODEL_ALGO_WEIGHTED_RANDOM
};

enum model_action_type {
	MODEL_ACTION_FORWARD,
	MODEL_ACTION_FIXED_RESPONSE,
	MODEL_ACTION_REDIRECT
};

#define MODEL_MAX_FORWARD_TGS 5 /* AWS: target groups per action */

struct model_action {
	enum model_action_type type;
	int target_group; /* forward: the first group (the only one without ForwardConfig) */
	/* forward with ForwardConfig; nfwd 0 means target_group alone */
	int fwd_tgs[MODEL_MAX_FORWARD_TGS];
	int fwd_weights[MODEL_MAX_FORWARD_TGS]; /* 0..999 */
	size_t nfwd;
	bool tg_sticky;	  /* TargetGroupStickinessConfig.Enabled (AWSALBTG cookie) */
	int tg_sticky_s;  /* DurationSeconds */
	int order;	  /* Order, 0 when not given */
	/* fixed-response: status, content_type (NULL: none), body (NULL: empty);
	 * redirect: status 301 or 302 */
	int status;
	char *content_type;
	char *body;
	/* redirect parts as written (keywords unexpanded); NULL keeps the
	 * request's value ("#{protocol}" and so on) */
	char *rd_protocol;
	char *rd_port;
	char *rd_host;
	char *rd_path;
	char *rd_query;
};

enum model_cond_field {
	MODEL_COND_HOST_HEADER,
	MODEL_COND_PATH_PATTERN,
	MODEL_COND_HTTP_HEADER,
	MODEL_COND_HTTP_REQUEST_METHOD,
	MODEL_COND_QUERY_STRING,
	MODEL_COND_SOURCE_IP
};

struct model_condition {
	enum model_cond_field field;
	char *values[MODEL_MAX_VALUES]; /* lower-cased for host-header; query-string: Value */
	size_t nvalues;
	char *header_name;		   /* http-header: HttpHeaderName, lower-cased */
	char *qs_keys[MODEL_MAX_VALUES];   /* query-string: Key per value, NULL = any key */
	struct cidr4 cidrs[MODEL_MAX_VALUES]; /* source-ip, VPC address space */
	size_t ncidrs;
	bool regex;			/* values are RegexValues */
	void *re[MODEL_MAX_VALUES];	/* pcre2_code * per value when regex */
};

/* A listener-rule transform (host-header-rewrite or url-rewrite) with its
 * one Rewrites entry: the first match of regex in the Host header (or the
 * request target) is replaced by replace, where $N / ${N} name groups. re
 * NULL: the rule has no transform of this type. */
struct model_rewrite {
	char *regex;
	char *replace;
	void *re;    /* pcre2_code * (host-header-rewrite: caseless) */
	int ngroups; /* capture groups of re */
};

struct model_rule {
	char *logical;
	char *arn;
	int priority;
	int listener;
	struct model_condition *conds;
	size_t nconds;
	struct model_action action;
	/* Transforms, applied after routing to what a forward sends on */
	struct model_rewrite host_rw;
	struct model_rewrite url_rw;
};

struct alb_rule_index; /* opaque here: src/alb/route.c */

struct model_listener {
	char *logical;
	char *arn;
	int lb;
	int port;
	char *protocol; /* HTTP */
	struct model_action default_action;
	int *rules; /* indexes into model.rules, sorted by priority */
	size_t nrules;
	/* The rules compiled for routing (alb_route_index_build, src/alb/route.c):
	 * one allocation, read-only once built, freed with the model. NULL:
	 * alb_route_req tries the rules in order. */
	struct alb_rule_index *rule_index;
};

struct model_lb {
	char *logical;
	char *name;
	char *arn;
	char *full_name; /* app/NAME/<16 hex> */
	char *dns_name;	 /* internal-NAME-<digits>.REGION.elb.amazonaws.com */
	char *scheme;	 /* internal | internet-facing */
	int *subnets;
	size_t nsubnets;
	uint32_t *node_addrs; /* one per subnet, loopback, host order */
	int *sgs;
	size_t nsgs;
	int idle_timeout_s; /* default 60 */
	/* routing.http.desync_mitigation_mode: an enum desync_mode
	 * (http/desync.h); 0 is defensive, the default */
	int desync_mode;
};

struct model_zone {
	char *logical;
	char *id;   /* Z + 13..21 upper-case alphanumerics */
	char *name; /* fully qualified, lower-case, trailing dot: "in.example.com." */
	bool private_zone;
	int *vpcs;
	size_t nvpcs;
	uint8_t *wire_name; /* name in DNS wire form (added by cfn; NULL: convert) */
};

enum model_routing {
	MODEL_ROUTING_SIMPLE,
	MODEL_ROUTING_WEIGHTED,
	MODEL_ROUTING_FAILOVER,
	MODEL_ROUTING_MULTIVALUE,
	MODEL_ROUTING_OTHER, /* latency, geolocation, ...: answered as simple */
};

struct model_record {
	char *logical;
	int zone;
	char *name; /* fully qualified, lower-case, trailing dot */
	char *type; /* A, CNAME, ... */
	uint32_t ttl;
	char *values[MODEL_MAX_VALUES]; /* as in ResourceRecords */
	size_t nvalues;
	int alias_lb; /* AliasTarget pointing at a load balancer, else -1 */
	/* Routing policy (added by cfn for the resolver). Simple when set_id
	 * is NULL; latency and geolocation sets answer as simple ones here
	 * (one region). */
	char *set_id;	      /* SetIdentifier */
	enum model_routing routing;
	int weight;	      /* Weighted: 0..255 */
	bool primary;	      /* Failover: PRIMARY, else SECONDARY */
	bool eval_health;     /* AliasTarget.EvaluateTargetHealth */
	uint8_t *wire_name;   /* name in DNS wire form (added by cfn; NULL: convert) */
};

struct model_cluster {
	char *logical;
	char *name;
	char *arn;
};

struct model_kv {
	char *key;
	char *value;
};

struct model_port_mapping {
	int container_port;
	int host_port;
};

/* ContainerDefinitions[].DependsOn[].Condition (ECS ContainerCondition). */
enum model_dep_condition {
	MODEL_DEP_START,    /* the dependency has started */
	MODEL_DEP_COMPLETE, /* it exited, whatever the code */
	MODEL_DEP_SUCCESS,  /* it exited with code 0 */
	MODEL_DEP_HEALTHY   /* its HealthCheck reported HEALTHY */
};

struct model_container_dep {
	size_t container; /* index in the task definition's containers */
	enum model_dep_condition condition;
};

struct model_container {
	char *name;
	char *image;
	char **argv; /* EntryPoint + Command, NULL-terminated */
	size_t argc;
	struct model_kv *env;
	size_t nenv;
	struct model_port_mapping *ports;
	size_t nports;
	bool essential;	     /* default true */
	int stop_timeout_s;  /* default 30 */
	char *working_dir;   /* or NULL */
	/* HealthCheck: the argv to run ("CMD-SHELL" becomes /bin/sh -c), NULL
	 * when the container has none; Docker/ECS defaults otherwise. */
	char **hc_argv;
	size_t hc_argc;
	int hc_interval_s;      /* default 30, 5..300 */
	int hc_timeout_s;       /* default 5, 2..60 */
	int hc_retries;         /* default 3, 1..10 */
	int hc_start_period_s;  /* default 0, 0..300 */
	int cpu;                /* Cpu units, 0 when not given */
	int memory;             /* Memory (hard limit, MiB), 0 when not given */
	int memory_reservation; /* MemoryReservation (soft, MiB), 0 when not given */
	/* DependsOn (added by cfn; checked: known names, no cycle, COMPLETE and
	 * SUCCESS only on non-essential containers, HEALTHY only on containers
	 * with a HealthCheck). */
	struct model_container_dep *deps;
	size_t ndeps;
	/* StartTimeout: how long containers that depend on this one wait for it
	 * to reach their condition once it started; 0 = no limit. */
	int start_timeout_s;
};

struct model_task_def {
	char *logical;
	char *family;
	char *arn; /* arn:aws:ecs:R:A:task-definition/FAMILY:1 */
	char *network_mode;
	struct model_container *containers;
	size_t ncontainers;
	/* Cpu units (1024 = one vCPU): the task's Cpu, else the sum of its
	 * containers' Cpu, 0 when neither is given (added by cfn) */
	int cpu;
	int task_memory; /* task-level Memory in MiB, 0 when not given */
	/* What a task reserves from its host's memory: task_memory, else the
	 * sum of the containers' MemoryReservation (else Memory); 0 = none */
	int memory;
};

struct model_asg {
	char *logical;
	char *name;
	int *subnets;
	size_t nsubnets;
	int min, max, desired;
	/* From its LaunchConfiguration or LaunchTemplate: NULL without one;
	 * then cpu_units and memory_mib are 0 (no limit on reservations). */
	char *instance_type;
	int cpu_units;  /* vCPUs x 1024 */
	int memory_mib; /* as the ECS agent registers it */
};

/* PlacementStrategies item (ECS): spread / binpack / random. */
enum model_place_type { MODEL_PLACE_SPREAD, MODEL_PLACE_BINPACK, MODEL_PLACE_RANDOM };
enum model_place_field {
	MODEL_PLACE_FIELD_NONE,
	MODEL_PLACE_FIELD_INSTANCE, /* instanceId, host */
	MODEL_PLACE_FIELD_AZ,       /* attribute:ecs.availability-zone */
	MODEL_PLACE_FIELD_INSTANCE_TYPE,
	MODEL_PLACE_FIELD_OS_TYPE,
	MODEL_PLACE_FIELD_CPU,
	MODEL_PLACE_FIELD_MEMORY
};
struct model_place_strategy {
	enum model_place_type type;
	enum model_place_field field;
};
#define MODEL_MAX_PLACE_STRATEGIES 5   /* ECS: strategy rules per service */
#define MODEL_MAX_PLACE_CONSTRAINTS 10 /* ECS: constraints per task */

struct model_service_lb {
	char *container_name;
	int container_port;
	int target_group;
};

struct model_service {
	char *logical;
	char *name;
	char *arn;
	int cluster;
	int task_def;
	int desired;
	/* DesiredCount is in the template; without it a new service runs 1
	 * task and an update keeps the live count (CloudFormation). */
	bool desired_set;
	struct model_service_lb *lbs;
	size_t nlbs;
	int min_healthy_pct; /* default 100 */
	int max_pct;	     /* default 200 */
	int grace_s;	     /* HealthCheckGracePeriodSeconds */
	/* NetworkConfiguration.AwsvpcConfiguration (added by cfn; empty when absent) */
	int *subnets;
	size_t nsubnets;
	int *sgs;
	size_t nsgs;
	/* LaunchType FARGATE (or, without LaunchType, a task definition that
	 * requires FARGATE only): tasks go into subnets, no hosts needed. */
	bool fargate;
	/* DeploymentConfiguration.DeploymentCircuitBreaker (added by cfn) */
	bool cb_enable;
	bool cb_rollback;
	/* PlacementStrategies (none: ECS's default, spread over AZs then
	 * instances) and PlacementConstraints of the service and its task
	 * definition (added by cfn; expressions checked at load) */
	struct model_place_strategy strategies[MODEL_MAX_PLACE_STRATEGIES];
	size_t nstrategies;
	bool distinct_instance;
	char *member_of[MODEL_MAX_PLACE_CONSTRAINTS]; /* memberOf expressions */
	size_t nmember_of;
};

/* An entry of the template's Outputs whose Condition holds (added by cfn). */
struct model_output {
	char *logical;
	char *value;	   /* evaluated; a list is joined with "," */
	char *export_name; /* Export.Name, or NULL */
};

/* AWS::ApplicationAutoScaling::ScalableTarget of an ECS service's
 * DesiredCount (other namespaces are not kept). */
struct model_scalable_target {
	char *logical;
	char *resource_id; /* service/CLUSTER/SERVICE */
	int service;	   /* model service index */
	int min, max;	   /* MinCapacity, MaxCapacity */
};

enum model_scaling_metric {
	MODEL_METRIC_ALB_REQUESTS_PER_TARGET, /* ALBRequestCountPerTarget */
	MODEL_METRIC_ECS_CPU,		      /* ECSServiceAverageCPUUtilization */
};

/* AWS::ApplicationAutoScaling::ScalingPolicy of type TargetTrackingScaling
 * with a predefined metric vpcd measures. */
struct model_scaling_policy {
	char *logical;
	char *name; /* PolicyName */
	char *arn;
	int target; /* model scalable target index */
	enum model_scaling_metric metric;
	int tg;		       /* ALBRequestCountPerTarget: ResourceLabel's target group, else -1 */
	double target_value;   /* TargetValue */
	int scale_out_cooldown_s; /* default 300 (ECS) */
	int scale_in_cooldown_s;  /* default 300 (ECS) */
	bool disable_scale_in;
};

/* One entry per resource of the template, in creation order. */
struct model_resource {
	char *logical;
	char *type;
	bool no_effect; /* accepted, does nothing here (IAM, ...) */
};

struct model {
	char *region;
	char *account;
	char *stack_name;
	struct model_resource *resources;
	size_t nresources;
	struct model_vpc *vpcs;
	size_t nvpcs;
	struct model_subnet *subnets;
	size_t nsubnets;
	struct model_sg *sgs;
	size_t nsgs;
	struct model_target_group *tgs;
	size_t ntgs;
	struct model_rule *rules;
	size_t nrules;
	struct model_listener *listeners;
	size_t nlisteners;
	struct model_lb *lbs;
	size_t nlbs;
	struct model_zone *zones;
	size_t nzones;
	struct model_record *records;
	size_t nrecords;
	struct model_cluster *clusters;
	size_t nclusters;
	struct model_task_def *task_defs;
	size_t ntask_defs;
	struct model_asg *asgs;
	size_t nasgs;
	struct model_service *services;
	size_t nservices;
	uint32_t resolver_addr; /* VPC base + 2 of the first VPC, loopback */
	struct model_output *outputs; /* added by cfn */
	size_t noutputs;
	/* Application Auto Scaling (added by cfn, src/cfn/scaling.c) */
	struct model_scalable_target *scalable_targets;
	size_t nscalable_targets;
	struct model_scaling_policy *scaling_policies;
	size_t nscaling_policies;
};

/* Maps a VPC-space address onto loopback for vpc v. */
uint32_t model_vpc_map(const struct model *m, int v, uint32_t vpc_addr);
/* Releases m and everything it owns; NULL is fine. */
void model_free(struct model *m);

#endif
