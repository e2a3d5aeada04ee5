/*
 * Task placement, as pure functions: what an EC2 instance type registers
 * with ECS, task cpu/memory strings as ECS accepts them, the cluster query
 * language of memberOf constraints, and the choice of a host for a task
 * (constraints, then strategies) over a snapshot of the hosts. No I/O, no
 * allocation: ecs.c builds the snapshot and applies the decision.
 *
 * Return conventions: operations return 0 or a negative errno-style code;
 * predicates return bool.
 */
#ifndef VPCD_ECS_PLACEMENT_H
#define VPCD_ECS_PLACEMENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* --- instance types --- */

/* The CPU units (1024 per vCPU) and the memory in MiB a container instance
 * of type name registers: the installed memory less what the kernel keeps
 * (ECS's memory-management guide: an m4.large's 8 GiB register as 7985
 * MiB; vpcd keeps that ratio for every size). Known families: t2 t3 t3a t4g
 * c4 listed by size; m4 m5 m5a m5d m6i m6a m6g m6gd m7i m7a m7g, c5 c5a c5d
 * c6i c6a c6g c6gd c7i c7a c7g, r4 r5 r5a r5d r6i r6a r6g r6gd r7i r7a r7g
 * where any "Nxlarge" size is computed (4 vCPUs per xlarge). Returns 0, -ENOENT for an unknown
 * family, -EINVAL for a size the family does not have. */
int place_instance_type(const char *name, int *cpu_units, int *mem_mib);

/* --- task definition resources --- */

/* Cpu as ECS accepts it: "256" (units) or "0.25 vCPU" / "1 vcpu". Returns 0
 * and *units, or -EINVAL. */
int place_parse_cpu(const char *s, size_t len, int *units);
/* Memory: "512" (MiB) or "1 GB" / "0.5GB" / "2gb". Returns 0 and *mib, or
 * -EINVAL. */
int place_parse_memory(const char *s, size_t len, int *mib);
/* Whether task-level cpu units and memory MiB are one of Fargate's
 * combinations (256 with 512/1024/2048; 512 with 1-4 GB; 1024 with 2-8 GB;
 * 2048 with 4-16 GB and 4096 with 8-30 GB in 1 GB steps; 8192 with 16-60 GB
 * in 4 GB steps; 16384 with 32-120 GB in 8 GB steps). */
bool place_fargate_ok(int cpu, int mem);

/* --- the cluster query language (memberOf) --- */

enum place_subject {
	PLACE_SUBJ_AZ,            /* attribute:ecs.availability-zone */
	PLACE_SUBJ_INSTANCE_TYPE, /* attribute:ecs.instance-type */
	PLACE_SUBJ_OS_TYPE,       /* attribute:ecs.os-type */
	PLACE_SUBJ_INSTANCE_ID,   /* ec2InstanceId */
};

enum place_op {
	PLACE_OP_EQ,        /* ==, equals, =~, matches */
	PLACE_OP_NE,        /* !=, not_equals, !~, not_matches */
	PLACE_OP_IN,        /* in [a, b] */
	PLACE_OP_NOT_IN,    /* not_in, !in, "not in" */
	PLACE_OP_EXISTS,    /* exists */
	PLACE_OP_NOT_EXISTS /* !exists, not_exists */
};

#define PLACE_QUERY_NODES 64
#define PLACE_QUERY_VALUES 16

/* A value: a slice of the parsed text (quotes removed). '*' in it matches
 * any run of characters, as in ECS's wildcard values. */
struct place_slice {
	uint32_t off, len;
};

struct place_qnode {
	enum { PLACE_Q_AND, PLACE_Q_OR, PLACE_Q_CMP } kind;
	int left, right; /* AND/OR: node indexes */
	enum place_subject subject;
	enum place_op op;
	struct place_slice values[PLACE_QUERY_VALUES];
	size_t nvalues;
};

/* A parsed expression. Values point into the text given to the parser,
 * which must outlive the query. */
struct place_query {
	const char *text;
	struct place_qnode nodes[PLACE_QUERY_NODES];
	size_t n;
	int root;
};

/* Parses an expression (and/&&, or/||, parentheses; subjects and operators
 * as above; arguments bare, 'single-quoted' or "double-quoted", lists in
 * [ ]). Returns 0, or -1 with *err_off the byte offset of the offending
 * text and err (errlen bytes) saying what is wrong. */
int place_query_parse(const char *buf, size_t len, struct place_query *q, size_t *err_off,
                      char *err, size_t errlen);

/* The attributes of a container instance; NULL = the instance lacks it. */
struct place_attrs {
	const char *az;
	const char *instance_type;
	const char *os_type; /* "linux" */
	const char *instance_id;
};
bool place_query_match(const struct place_query *q, const struct place_attrs *a);

/* --- choosing a host --- */

enum place_strategy_type { PLACE_SPREAD, PLACE_BINPACK, PLACE_RANDOM };
enum place_field {
	PLACE_FIELD_NONE,
	PLACE_FIELD_INSTANCE, /* instanceId, host */
	PLACE_FIELD_AZ,       /* attribute:ecs.availability-zone */
	PLACE_FIELD_INSTANCE_TYPE,
	PLACE_FIELD_OS_TYPE,
	PLACE_FIELD_CPU,
	PLACE_FIELD_MEMORY
};
struct place_strategy {
	enum place_strategy_type type;
	enum place_field field;
};

/* One candidate host. cpu_total/mem_total 0 mean "no instance type known":
 * any reservation fits and binpack sees no difference. */
struct place_host {
	struct place_attrs attrs;
	int cpu_total, mem_total;
	int cpu_free, mem_free;
	size_t svc_tasks;   /* tasks of the service being placed */
	size_t total_tasks; /* all tasks */
	size_t victims;     /* scale-in: tasks of the service it may stop there */
	bool usable;        /* ACTIVE */
};

struct place_req {
	int cpu, mem;                            /* the task's reservation */
	const struct place_strategy *strategies; /* none: spread AZ, then instance */
	size_t nstrategies;
	bool distinct_instance;
	const struct place_query *const *member_of; /* all must hold */
	size_t nmember_of;
	uint64_t random; /* caller's random bits, for the random strategy */
};

enum place_why {
	PLACE_OK,
	PLACE_NO_HOSTS,    /* no usable container instance */
	PLACE_NO_CPU,      /* closest host lacks CPU units */
	PLACE_NO_MEMORY,   /* closest host lacks memory */
	PLACE_NO_DISTINCT, /* distinctInstance unsatisfied */
	PLACE_NO_MEMBER_OF /* memberOf unsatisfied */
};

struct place_result {
	int host;    /* chosen index, -1 when none */
	int closest; /* with host -1: the host that passed the most checks, or -1 */
	enum place_why why;
};

/* Chooses a host for one task: hosts that are usable, have the cpu and
 * memory, and satisfy the constraints; then each strategy in order keeps
 * the best candidates (spread: fewest service tasks sharing the field's
 * value; binpack: least of the resource left; random: one of them at
 * random); remaining ties go to the host with the fewest tasks, then the
 * first. The first 256 hosts are considered (the decision keeps its state
 * on the stack). Returns 0 with out->host, or -ENOSPC with out->why/closest. */
int place_choose(const struct place_host *hosts, size_t n, const struct place_req *req,
                 struct place_result *out);

/* Scale-in: the host to stop one task of the service on, among those with
 * victims, as ECS chooses under the strategies (none: spread AZ, then
 * instance): spread keeps the balance (the hosts whose field value has the
 * most tasks of the service), binpack frees where most of the resource is
 * left, random picks one; ties go to the host with the most tasks of the
 * service, then the last. Returns its index, or -1 without victims. */
int place_scale_in(const struct place_host *hosts, size_t n, const struct place_strategy *st,
                   size_t nst, uint64_t random);

/* The ECS service event text for a failed placement, after "service NAME
 * was unable to place a task because no container instance met all of its
 * requirements." (e.g. " The closest matching container-instance ID has
 * insufficient memory available. For more information, see the
 * Troubleshooting section."). closest_id may be NULL. */
void place_why_text(enum place_why why, const char *closest_id, char *out, size_t len);

#endif
