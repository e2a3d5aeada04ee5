/*
 * The ECS plane: hosts, placement, the task supervisor and the service
 * scheduler. See ecs.h for the contract.
 *
 * A task moves PROVISIONING (address taken) -> PENDING (containers being
 * started, each once its DependsOn conditions hold: taskdeps.c) ->
 * ACTIVATING (every container started or done; targets being registered)
 * -> RUNNING -> DEACTIVATING (targets deregistered, draining for up to the
 * target groups' deregistration delay) -> STOPPING (SIGTERM to each
 * container once no running container depends on it, SIGKILL after its
 * StopTimeout) -> DEPROVISIONING (every container reaped; targets and
 * address released) -> STOPPED. Each step is recorded with its wall-clock
 * time (the task's status history). The scheduler runs from a zero-delay
 * timer, never from inside a reap, so replacement is "at once" but not
 * re-entrant.
 */
#include "ecs/ecs.h"
#include "ecs/cgroup.h"
#include "ecs/placement.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "ecs/health.h"
#include "ecs/proc.h"
#include "ecs/state.h"
#include "ecs/taskdeps.h"

/* Stopped tasks stay listed for an hour, as ECS keeps them, and at most
 * this many per service. */
#define ECS_STOPPED_KEEP_PER_SVC 100
#define ECS_STOPPED_KEEP_MS 3600000u
/* The exit code the ECS agent gives a container stopped because its
 * dependencies can never hold (that of SIGTERM). */
#define ECS_DEP_FAILED_EXIT 143
#define ECS_EVENTS_KEEP 100
#define ECS_BACKOFF_MIN_MS 1000u
#define ECS_BACKOFF_MAX_MS 30000u
/* A task that dies sooner than this after RUNNING counts as a failed start
 * for the back-off, so a crash-looping command cannot spin the scheduler. */
#define ECS_EARLY_EXIT_MS 1000u
/* A task that ran this long resets the back-off. */
#define ECS_HEALTHY_RUN_MS 10000u
#define ECS_SHUTDOWN_STOP_MAX_S 10
#define ECS_DEFAULT_STOP_S 30
#define ECS_POOL_MAX 65536u

enum task_status {
	TS_PROVISIONING,
	TS_PENDING,
	TS_ACTIVATING,
	TS_RUNNING,
	TS_DEACTIVATING,
	TS_STOPPING,
	TS_DEPROVISIONING,
	TS_STOPPED
};
#define TS_COUNT 8

static const char *task_status_str(enum task_status s)
{
	switch (s) {
	case TS_PROVISIONING:
		return "PROVISIONING";
	case TS_PENDING:
		return "PENDING";
	case TS_ACTIVATING:
		return "ACTIVATING";
	case TS_RUNNING:
		return "RUNNING";
	case TS_DEACTIVATING:
		return "DEACTIVATING";
	case TS_STOPPING:
		return "STOPPING";
	case TS_DEPROVISIONING:
		return "DEPROVISIONING";
	case TS_STOPPED:
		return "STOPPED";
	}
	return "UNKNOWN";
}

struct ecs_host {
	char id[20]; /* i- + 17 hex */
	int subnet;
	int asg;
	size_t ntasks;
	bool stopped;
	/* Registered by its instance type (0: unknown, no limit) and what
	 * its live tasks reserve (src/ecs/placement.c decides with them). */
	int cpu_total, mem_total;
	int cpu_used, mem_used;
};

struct ecs_proc {
	pid_t pid; /* process group leader; 0 when never started */
	bool alive;
	bool started;         /* exec'd (or adopted) */
	bool stopped;         /* exited, or will never start */
	bool signalled;       /* SIGTERM sent while the task stops */
	bool start_timed_out; /* its StartTimeout passed while others waited */
	int exit_code;        /* once stopped: exit code, -1 when killed or unknown */
	uint64_t start_ms;    /* loop clock when started */
	uint64_t kill_ms;     /* once signalled: when SIGKILL follows */
	char reason[320];     /* why it stopped, when not a plain exit */
	struct ecs_pidw *w;   /* pidfd watch of an adopted (not child) process */
};

/* An adopted container is no child of ours: its exit is seen through a
 * pidfd on the loop instead of SIGCHLD. */
struct ecs_pidw {
	struct loop_io io;
	struct ecs *e;
	pid_t pid;
	int fd;
};

/* One container's health check: a timer that alternates between "run the
 * next check" (pid 0) and "this check timed out" (pid running). */
struct ecs_hc {
	struct ecs_task *t;
	size_t ci;
	pid_t pid;
	bool timed_out;
	int fails;
	enum ecs_health status;
	struct loop_timer timer;
};

struct ecs_task {
	char id[33];
	char *arn;
	int service;
	int host; /* -1 without hosts */
	int subnet;
	uint32_t addr;
	enum task_status last;
	bool desired_running;
	bool registered;
	const char *stop_code;
	char reason[320];
	uint64_t started_ms;
	struct ecs_proc *procs;
	size_t nprocs, nalive;
	struct loop_timer kill_timer;
	struct ecs *e;
	struct ecs_hc *hcs;            /* one per container */
	size_t draining;               /* targets not yet reported unused */
	struct loop_timer drain_timer; /* deregistration delay fallback */
	uint32_t elb_unhealthy;        /* bit i: service lb i reports unhealthy */
	char elb_tg_arn[256];          /* the first unhealthy target group */
	struct loop_timer grace_timer; /* re-checks health when the grace ends */
	const struct model_task_def *td; /* what it was launched with */
	size_t rev;                      /* index into its service's deployments */
	uint32_t elb_healthy;            /* bit i: service lb i reports healthy */
	int res_cpu, res_mem;            /* reserved on its host while it lives */
	struct ecs_ctr_state *cst;       /* per container, for taskdeps */
	struct loop_timer dep_timer;     /* the next StartTimeout to expire */
	uint64_t stop_cap_ms;            /* while stopping: SIGKILL at the latest (0: none) */
	/* Wall-clock times (ms since the epoch; 0: not yet) and the status
	 * history, as DescribeTasks' createdAt, startedAt, stoppingAt,
	 * stoppedAt. */
	uint64_t created_unix_ms, started_unix_ms, stopping_unix_ms, stopped_unix_ms;
	uint64_t stopped_ms; /* loop clock when STOPPED, for retention */
	struct ecs_task_status_change hist[TS_COUNT];
	size_t nhist;
};

/* Addresses in use in one subnet; allocation is next-fit so that a
 * replacement task gets a new address, as in a VPC. */
struct ecs_pool {
	uint32_t base, size, next;
	uint8_t *used;
};

/* One deployment of a service: a task definition revision. The last one of
 * a service is PRIMARY; older ones with live tasks are ACTIVE. */
struct ecs_dep {
	char id[40]; /* ecs-svc/ + 19 digits */
	const struct model_task_def *td;
	char *td_arn; /* ...:task-definition/FAMILY:REV */
	uint64_t created_ms, updated_ms;
	bool completed;
	bool failed;           /* the circuit breaker tripped */
	unsigned failed_tasks; /* tasks of it that failed, for the breaker */
	bool announce; /* "deployment completed." (not for the first one) */
	const struct model *from; /* the model td belongs to (for state.json) */
	uint64_t fp;              /* td_fp(td) */
};

struct ecs_svc {
	int desired, min_pct, max_pct; /* from the model, then from applies */
	int tmpl_desired;              /* DesiredCount of the last applied template */
	unsigned max_rev;              /* the family's highest revision so far */
	bool tmpl_desired_set;         /* ... when it had one */
	bool cb_enable, cb_rollback;   /* DeploymentCircuitBreaker */
	struct ecs_dep *deps;           /* last = PRIMARY */
	size_t ndeps;
	bool stuck_reported;
	unsigned failures; /* consecutive failed starts, for the back-off */
	uint64_t next_start_ms;
	bool steady;
	struct place_query *member_of; /* the service's memberOf constraints */
	char place_failed[512];        /* last placement failure event, not repeated */
	char *events[ECS_EVENTS_KEEP]; /* ring; head = next slot */
	size_t nevents, head;
};

/* The template (and `vpcd apply` params) a model was loaded from: what
 * state.json names for a deployment so that a restarted vpcd can load its
 * task definition again. */
struct ecs_source {
	const struct model *m;
	char *file;
	char **params;
	size_t nparams;
};

struct ecs {
	struct loop *loop;
	const struct model *m;
	char *state_dir;
	struct ecs_hooks hooks;
	char exe_dir[PATH_MAX];
	struct ecs_host *hosts;
	size_t nhosts;
	int *asg_launched;       /* hosts ever launched per ASG, for new ids */
	char metadata_base[128]; /* admin API URL for ECS_CONTAINER_METADATA_URI_V4 */
	struct ecs_pool *pools;  /* one per model subnet */
	struct ecs_svc *svcs;    /* one per model service */
	struct ecs_task **live;  /* oldest first */
	size_t nlive, caplive;
	struct ecs_task **stopped; /* oldest first */
	size_t nstopped, capstopped;
	struct loop_timer sched_timer;
	struct loop_timer done_timer;
	bool started, shutting_down, sigchld;
	struct ecs_source *sources; /* where models came from (ecs_set_model_source) */
	size_t nsources;
	int lock_fd; /* <state-dir>/vpcd.pid, flock'd; -1 before ecs_start */
	struct ecs_cgroup cg; /* task memory limits, set up at the first one */
	int cg_state;         /* 0 not yet, 1 enforced, -1 not enforced */
	void (*done)(void *data);
	void *done_data;
};

static void sched_soon(struct ecs *e);
static void ecs_state_save(struct ecs *e);
static void ecs_adopt(struct ecs *e);
static int svc_add_dep(struct ecs *e, int s, const struct model_task_def *td, const char *arn,
                       bool announce, const struct model *from);
static void task_hc_stop(struct ecs *e, struct ecs_task *t);
static void task_progress(struct ecs *e, struct ecs_task *t, bool activate);
static bool td_equal(const struct model_task_def *a, const struct model_task_def *b);
static void task_begin_stop(struct ecs *e, struct ecs_task *t, const char *code, const char *reason,
                            int max_timeout_s);

/* --- small helpers --- */

static uint64_t fnv1a(const char *s, uint64_t h)
{
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ull;
	}
	return h;
}

/* splitmix64's finalizer: FNV alone leaves similar seeds with similar ids. */
static uint64_t mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	x ^= x >> 31;
	return x;
}

static void svc_event(struct ecs *e, int s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void svc_event(struct ecs *e, int s, const char *fmt, ...)
{
	struct ecs_svc *sv = &e->svcs[s];
	char buf[1024];
	va_list ap;
	char *copy;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	log_info("ecs: %s", buf);
	copy = strdup(buf);
	if (!copy)
		return; /* events are informative; losing one is acceptable */
	free(sv->events[sv->head]);
	sv->events[sv->head] = copy;
	sv->head = (sv->head + 1) % ECS_EVENTS_KEEP;
	if (sv->nevents < ECS_EVENTS_KEEP)
		sv->nevents++;
}

static const char *svc_name(const struct ecs *e, int s)
{
	return e->m->services[s].name ? e->m->services[s].name : e->m->services[s].logical;
}

/* The PRIMARY deployment's task definition: what new tasks run. */
static const struct model_task_def *svc_taskdef(const struct ecs *e, int s)
{
	const struct ecs_svc *sv = &e->svcs[s];
	return sv->ndeps ? sv->deps[sv->ndeps - 1].td : NULL;
}

static const char *subnet_az(const struct ecs *e, int subnet)
{
	return subnet >= 0 && e->m->subnets[subnet].az ? e->m->subnets[subnet].az : "";
}

static int stop_timeout_s(const struct model_container *c)
{
	return c->stop_timeout_s > 0 ? c->stop_timeout_s : ECS_DEFAULT_STOP_S;
}

static uint64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Moves t to status st and records it (each status once: the lifecycle
 * only goes forward), with the timestamps DescribeTasks shows. */
static void task_set_status(struct ecs_task *t, enum task_status st)
{
	uint64_t now = wall_ms();
	t->last = st;
	if (t->nhist < TS_COUNT)
		t->hist[t->nhist++] = (struct ecs_task_status_change){task_status_str(st), now};
	if (st == TS_PROVISIONING && !t->created_unix_ms)
		t->created_unix_ms = now;
	if (st == TS_RUNNING)
		t->started_unix_ms = now;
	if (st == TS_STOPPED)
		t->stopped_unix_ms = now;
}

/* --- address pools --- */

static int pools_init(struct ecs *e)
{
	e->pools = calloc(e->m->nsubnets ? e->m->nsubnets : 1, sizeof(*e->pools));
	if (!e->pools)
		return -ENOMEM;
	for (size_t i = 0; i < e->m->nsubnets; i++) {
		struct cidr4 c = e->m->subnets[i].lo_cidr;
		uint64_t size = 1ull << (32 - c.prefix);
		struct ecs_pool *p = &e->pools[i];
		p->base = c.addr;
		p->size = size > ECS_POOL_MAX ? ECS_POOL_MAX : (uint32_t)size;
		p->next = 4;
		p->used = calloc(p->size, 1);
		if (!p->used)
			return -ENOMEM;
	}
	return 0;
}

static bool addr_taken_by_model(const struct ecs *e, uint32_t a)
{
	if (a == e->m->resolver_addr)
		return true;
	for (size_t i = 0; i < e->m->nlbs; i++)
		for (size_t k = 0; k < e->m->lbs[i].nsubnets; k++)
			if (e->m->lbs[i].node_addrs && e->m->lbs[i].node_addrs[k] == a)
				return true;
	return false;
}

/* AWS reserves the first four addresses and the last of a subnet. Returns
 * 0 and the address, or -EADDRNOTAVAIL when the subnet is full. */
static int pool_alloc(struct ecs *e, int subnet, uint32_t *out)
{
	struct ecs_pool *p = &e->pools[subnet];
	for (uint32_t i = 0; i < p->size; i++) {
		uint32_t off = (p->next + i) % p->size;
		if (off < 4 || off == p->size - 1 || p->used[off])
			continue;
		if (addr_taken_by_model(e, p->base + off))
			continue;
		p->used[off] = 1;
		p->next = off + 1;
		*out = p->base + off;
		return 0;
	}
	return -EADDRNOTAVAIL;
}

static void pool_free(struct ecs *e, int subnet, uint32_t addr)
{
	struct ecs_pool *p = &e->pools[subnet];
	uint32_t off = addr - p->base;
	if (off < p->size)
		p->used[off] = 0;
}

/* --- hosts --- */

/* EC2-style instance id, deterministic from stack + ASG + ordinal so that
 * ids are stable across runs of the same template. */
static void host_make_id(const struct ecs *e, int asg, int ord, char *out, size_t len)
{
	char seed[512];
	uint64_t h1, h2;
	snprintf(seed, sizeof(seed), "%s/%s/%d", e->m->stack_name ? e->m->stack_name : "",
	         e->m->asgs[asg].logical ? e->m->asgs[asg].logical : "", ord);
	h1 = mix64(fnv1a(seed, 0xcbf29ce484222325ull));
	h2 = mix64(h1);
	snprintf(out, len, "i-%016llx%x", (unsigned long long)h1, (unsigned)(h2 & 0xf));
}

/* The subnet of the ord-th host of ASG g: round robin over the group's AZs
 * (in order of first appearance), then over the AZ's subnets, so that the
 * group is balanced over AZs even when an AZ has several subnets. */
static int asg_host_subnet(const struct ecs *e, const struct model_asg *g, int ord)
{
	size_t naz = 0, az_idx, k, seen = 0;
	const char *az = NULL;

	for (size_t i = 0; i < g->nsubnets; i++) {
		bool first = true;
		for (size_t j = 0; j < i; j++)
			if (strcmp(subnet_az(e, g->subnets[j]), subnet_az(e, g->subnets[i])) == 0)
				first = false;
		naz += first;
	}
	az_idx = (size_t)ord % naz;
	k = (size_t)ord / naz;
	/* The az_idx-th distinct AZ. */
	for (size_t i = 0, d = 0; i < g->nsubnets && !az; i++) {
		bool first = true;
		for (size_t j = 0; j < i; j++)
			if (strcmp(subnet_az(e, g->subnets[j]), subnet_az(e, g->subnets[i])) == 0)
				first = false;
		if (first && d++ == az_idx)
			az = subnet_az(e, g->subnets[i]);
	}
	/* Its subnets, round robin. */
	for (size_t i = 0; i < g->nsubnets; i++)
		if (strcmp(subnet_az(e, g->subnets[i]), az) == 0)
			seen++;
	k %= seen;
	for (size_t i = 0; i < g->nsubnets; i++)
		if (strcmp(subnet_az(e, g->subnets[i]), az) == 0 && k-- == 0)
			return g->subnets[i];
	return g->subnets[0];
}

static int hosts_init(struct ecs *e)
{
	size_t n = 0, k = 0;
	for (size_t a = 0; a < e->m->nasgs; a++)
		if (e->m->asgs[a].nsubnets > 0 && e->m->asgs[a].desired > 0)
			n += (size_t)e->m->asgs[a].desired;
	e->asg_launched = calloc(e->m->nasgs ? e->m->nasgs : 1, sizeof(*e->asg_launched));
	if (!e->asg_launched)
		return -ENOMEM;
	if (n == 0)
		return 0;
	e->hosts = calloc(n, sizeof(*e->hosts));
	if (!e->hosts)
		return -ENOMEM;
	for (size_t a = 0; a < e->m->nasgs; a++) {
		const struct model_asg *g = &e->m->asgs[a];
		if (g->nsubnets == 0)
			continue;
		for (int i = 0; i < g->desired; i++) {
			struct ecs_host *h = &e->hosts[k++];
			host_make_id(e, (int)a, i, h->id, sizeof(h->id));
			h->subnet = asg_host_subnet(e, g, i);
			h->asg = (int)a;
			h->cpu_total = g->cpu_units;
			h->mem_total = g->memory_mib;
		}
		e->asg_launched[a] = g->desired;
	}
	e->nhosts = k;
	return 0;
}

/* --- placement --- */

struct place {
	int host;
	int subnet;
};

static size_t count_svc_tasks(const struct ecs *e, int s, const char *az, int host, int subnet)
{
	size_t n = 0;
	for (size_t i = 0; i < e->nlive; i++) {
		const struct ecs_task *t = e->live[i];
		if (t->service != s || !t->desired_running)
			continue;
		if (az && strcmp(subnet_az(e, t->subnet), az) != 0)
			continue;
		if (host >= 0 && t->host != host)
			continue;
		if (subnet >= 0 && t->subnet != subnet)
			continue;
		n++;
	}
	return n;
}

/* Where a task of service s goes. On hosts: src/ecs/placement.c chooses
 * over a snapshot of them (reservations, constraints, strategies; ECS's
 * default spread over AZs, then instances); the failure text for the
 * service event goes to why. Without hosts (Fargate, or no Auto Scaling
 * group): the subnet (of the service's, else the first VPC's) whose AZ has
 * the fewest tasks of the service, then the subnet with the fewest. Returns
 * 0, or -ENOSPC. */
static int place_task(const struct ecs *e, int s, struct place *out, char *why, size_t whylen)
{
	const struct model_service *ms = &e->m->services[s];
	const struct model_task_def *td = svc_taskdef(e, s);
	size_t best_az = SIZE_MAX, best_local = SIZE_MAX;
	bool svc_subnets = ms->nsubnets > 0;
	size_t n = svc_subnets ? ms->nsubnets : e->m->nsubnets;

	why[0] = '\0';
	if (!ms->fargate && e->nhosts > 0) {
		struct place_host *hs = calloc(e->nhosts, sizeof(*hs));
		const struct place_query *mo[MODEL_MAX_PLACE_CONSTRAINTS];
		struct place_strategy st[MODEL_MAX_PLACE_STRATEGIES];
		struct place_req req = {0};
		struct place_result res;
		uint64_t rnd = 0;
		int rc;
		if (!hs)
			return -ENOMEM;
		for (size_t i = 0; i < e->nhosts; i++) {
			const struct ecs_host *h = &e->hosts[i];
			const struct model_asg *g = &e->m->asgs[h->asg];
			hs[i] = (struct place_host){.attrs = {.az = subnet_az(e, h->subnet),
			                                      .instance_type = g->instance_type,
			                                      .os_type = "linux",
			                                      .instance_id = h->id},
			                            .cpu_total = h->cpu_total,
			                            .mem_total = h->mem_total,
			                            .cpu_free = h->cpu_total - h->cpu_used,
			                            .mem_free = h->mem_total - h->mem_used,
			                            .svc_tasks =
			                                count_svc_tasks(e, s, NULL, (int)i, -1),
			                            .total_tasks = h->ntasks,
			                            .usable = !h->stopped};
		}
		for (size_t k = 0; k < ms->nstrategies; k++)
			st[k] = (struct place_strategy){
			    .type = (enum place_strategy_type)ms->strategies[k].type,
			    .field = (enum place_field)ms->strategies[k].field};
		for (size_t k = 0; k < ms->nmember_of; k++)
			mo[k] = &e->svcs[s].member_of[k];
		if (getrandom(&rnd, sizeof(rnd), GRND_NONBLOCK) != sizeof(rnd))
			rnd = loop_now_ms(e->loop);
		req.cpu = td ? td->cpu : 0;
		req.mem = td ? td->memory : 0;
		req.strategies = st;
		req.nstrategies = ms->nstrategies;
		req.distinct_instance = ms->distinct_instance;
		req.member_of = mo;
		req.nmember_of = e->svcs[s].member_of ? ms->nmember_of : 0;
		req.random = rnd;
		rc = place_choose(hs, e->nhosts, &req, &res);
		free(hs);
		if (rc < 0) {
			place_why_text(res.why, res.closest >= 0 ? e->hosts[res.closest].id : NULL,
			               why, whylen);
			return rc;
		}
		out->host = res.host;
		out->subnet = e->hosts[res.host].subnet;
		return 0;
	}
	/* Fargate (or awsvpc without hosts): straight into the service's
	 * AwsvpcConfiguration subnets; else the first VPC's subnets. */
	for (size_t i = 0; i < n; i++) {
		int subnet = svc_subnets ? ms->subnets[i] : (int)i;
		size_t naz, nlocal;
		if (subnet < 0 || (size_t)subnet >= e->m->nsubnets)
			continue;
		if (!svc_subnets && e->m->subnets[i].vpc != 0)
			continue;
		naz = count_svc_tasks(e, s, subnet_az(e, subnet), -1, -1);
		nlocal = count_svc_tasks(e, s, NULL, -1, subnet);
		if (naz < best_az || (naz == best_az && nlocal < best_local)) {
			best_az = naz;
			best_local = nlocal;
			out->host = -1;
			out->subnet = subnet;
		}
	}
	if (best_az == SIZE_MAX) {
		snprintf(why, whylen,
		         " Reason: No Container Instances were found in your cluster.");
		return -ENOSPC;
	}
	return 0;
}

/* A task takes its host's slot and reservation while it lives. */
static void host_take(struct ecs *e, struct ecs_task *t)
{
	struct ecs_host *h;
	if (t->host < 0)
		return;
	h = &e->hosts[t->host];
	h->ntasks++;
	t->res_cpu = t->td ? t->td->cpu : 0;
	t->res_mem = t->td ? t->td->memory : 0;
	h->cpu_used += t->res_cpu;
	h->mem_used += t->res_mem;
}

static void host_give(struct ecs *e, struct ecs_task *t)
{
	struct ecs_host *h;
	if (t->host < 0)
		return;
	h = &e->hosts[t->host];
	if (h->ntasks > 0)
		h->ntasks--;
	h->cpu_used -= t->res_cpu;
	h->mem_used -= t->res_mem;
	t->res_cpu = t->res_mem = 0;
}

/* --- tasks --- */

static void task_free(struct ecs *e, struct ecs_task *t)
{
	if (!t)
		return;
	loop_timer_stop(e->loop, &t->kill_timer);
	loop_timer_stop(e->loop, &t->drain_timer);
	loop_timer_stop(e->loop, &t->grace_timer);
	loop_timer_stop(e->loop, &t->dep_timer);
	for (size_t i = 0; t->hcs && i < t->nprocs; i++)
		loop_timer_stop(e->loop, &t->hcs[i].timer);
	for (size_t i = 0; t->procs && i < t->nprocs; i++)
		if (t->procs[i].w) {
			loop_io_del(e->loop, &t->procs[i].w->io);
			close(t->procs[i].w->fd);
			free(t->procs[i].w);
			t->procs[i].w = NULL;
		}
	free(t->hcs);
	free(t->procs);
	free(t->cst);
	free(t->arn);
	free(t);
}

/* Keeps t in the stopped list: an hour at most, and the last
 * ECS_STOPPED_KEEP_PER_SVC of its service. */
static void stopped_push(struct ecs *e, struct ecs_task *t)
{
	uint64_t now = loop_now_ms(e->loop);
	size_t same = 0, k = 0;

	for (size_t i = 0; i < e->nstopped; i++)
		same += e->stopped[i]->service == t->service;
	for (size_t i = 0; i < e->nstopped; i++) {
		struct ecs_task *o = e->stopped[i];
		bool expired = now - o->stopped_ms > ECS_STOPPED_KEEP_MS;
		if (expired || (o->service == t->service && same >= ECS_STOPPED_KEEP_PER_SVC)) {
			if (o->service == t->service)
				same--;
			task_free(e, o);
			continue;
		}
		e->stopped[k++] = o;
	}
	e->nstopped = k;
	if (e->nstopped == e->capstopped) {
		size_t cap = e->capstopped ? e->capstopped * 2 : 16;
		struct ecs_task **v = realloc(e->stopped, cap * sizeof(*v));
		if (v) {
			e->stopped = v;
			e->capstopped = cap;
		} else {
			/* Only the record of the oldest stopped task is lost (t
			 * itself may still be used by the caller). ecs_new made
			 * room for some, so there is one. */
			task_free(e, e->stopped[0]);
			memmove(&e->stopped[0], &e->stopped[1],
			        (e->nstopped - 1) * sizeof(e->stopped[0]));
			e->nstopped--;
		}
	}
	t->stopped_ms = now;
	e->stopped[e->nstopped++] = t;
}

/* Registers (reg) or deregisters the task's targets. On deregistration
 * t->draining counts the targets the load balancer still has to report
 * unused; it is raised before each call, as the ALB may report at once. */
static void task_targets(struct ecs *e, struct ecs_task *t, bool reg)
{
	const struct model_service *sv = &e->m->services[t->service];
	const struct model_task_def *td = t->td;
	/* Set first: a synchronous report from the balancer must not lead
	 * back here. */
	t->registered = reg;
	for (size_t i = 0; i < sv->nlbs; i++) {
		const struct model_service_lb *lb = &sv->lbs[i];
		const char *tg_arn;
		bool has = false;
		int rc;
		for (size_t c = 0; td && c < td->ncontainers; c++)
			if (lb->container_name && td->containers[c].name &&
			    strcmp(lb->container_name, td->containers[c].name) == 0)
				has = true;
		if (!has || lb->target_group < 0 || (size_t)lb->target_group >= e->m->ntgs)
			continue;
		tg_arn = e->m->tgs[lb->target_group].arn;
		if (reg) {
			rc = e->hooks.target_register
			         ? e->hooks.target_register(e->hooks.data, lb->target_group,
			                                    t->addr, (uint16_t)lb->container_port)
			         : 0;
			if (rc < 0) {
				log_warn("ecs: task %s: registering in %s failed: %s", t->id,
				         tg_arn, strerror(-rc));
				continue;
			}
			svc_event(e, t->service,
			          "(service %s) registered 1 targets in (target-group %s)",
			          svc_name(e, t->service), tg_arn);
		} else {
			if (e->hooks.target_deregister)
				t->draining++;
			rc = e->hooks.target_deregister
			         ? e->hooks.target_deregister(e->hooks.data, lb->target_group,
			                                      t->addr, (uint16_t)lb->container_port)
			         : 0;
			if (rc < 0) {
				log_warn("ecs: task %s: deregistering from %s failed: %s", t->id,
				         tg_arn, strerror(-rc));
				t->draining--;
			}
			svc_event(e, t->service,
			          "(service %s) deregistered 1 targets in (target-group %s)",
			          svc_name(e, t->service), tg_arn);
		}
	}
}

static void live_remove(struct ecs *e, struct ecs_task *t)
{
	for (size_t i = 0; i < e->nlive; i++) {
		if (e->live[i] != t)
			continue;
		memmove(&e->live[i], &e->live[i + 1], (e->nlive - i - 1) * sizeof(*e->live));
		e->nlive--;
		return;
	}
}

static void done_soon(struct ecs *e)
{
	if (e->shutting_down && e->nlive == 0 && e->done)
		loop_timer_start(e->loop, &e->done_timer, 0);
}

/* The deployment circuit breaker: a task of the PRIMARY deployment (one
 * started by an apply, not yet completed) that failed to start, exited, or
 * failed its health checks counts; at clamp(ceil(N / 2), 10, 200) failures
 * the deployment is FAILED and, with Rollback, a new deployment of the
 * last completed one's task definition takes over (its tasks still running
 * join it). */
static void cb_task_failed(struct ecs *e, struct ecs_task *t)
{
	struct ecs_svc *sv = &e->svcs[t->service];
	struct ecs_dep *d;
	unsigned threshold = ((unsigned)(sv->desired > 0 ? sv->desired : 0) + 1) / 2;
	char failed_id[40], *arn;
	const struct model_task_def *td;
	size_t k, prim;

	if (e->shutting_down || !sv->cb_enable || t->rev + 1 != sv->ndeps || !t->stop_code)
		return;
	d = &sv->deps[t->rev];
	if (!d->announce || d->completed || d->failed)
		return;
	if (strcmp(t->stop_code, "TaskFailedToStart") != 0 &&
	    strcmp(t->stop_code, "EssentialContainerExited") != 0 &&
	    strncmp(t->reason, "Task failed", 11) != 0)
		return;
	if (threshold < 10)
		threshold = 10;
	if (threshold > 200)
		threshold = 200;
	if (++d->failed_tasks < threshold)
		return;
	d->failed = true;
	d->updated_ms = loop_now_ms(e->loop);
	snprintf(failed_id, sizeof(failed_id), "%s", d->id);
	svc_event(e, t->service, "(service %s) (deployment %s) deployment failed: tasks failed to start.",
	          svc_name(e, t->service), failed_id);
	sched_soon(e);
	if (!sv->cb_rollback)
		return;
	for (k = t->rev; k-- > 0;)
		if (sv->deps[k].completed)
			break;
	if (k == SIZE_MAX)
		return; /* nothing completed to go back to */
	td = sv->deps[k].td;
	arn = strdup(sv->deps[k].td_arn);
	if (!arn || svc_add_dep(e, t->service, td, arn, true, sv->deps[k].from) < 0) {
		free(arn);
		return;
	}
	free(arn);
	prim = sv->ndeps - 1;
	for (size_t i = 0; i < e->nlive; i++)
		if (e->live[i]->service == t->service && e->live[i]->rev == k)
			e->live[i]->rev = prim;
	sv->steady = false;
	sv->stuck_reported = false;
	sv->failures = 0;
	sv->next_start_ms = 0;
	svc_event(e, t->service, "(service %s) (deployment %s) rolling back to (deployment %s).",
	          svc_name(e, t->service), failed_id, sv->deps[prim].id);
}

/* Every container is gone: STOPPED. The task moves to the stopped list. */
static void task_finish(struct ecs *e, struct ecs_task *t)
{
	char abuf[16];
	uint64_t now = loop_now_ms(e->loop);
	struct ecs_svc *sv = &e->svcs[t->service];
	bool was_running =
	    t->last == TS_STOPPING || t->last == TS_RUNNING || t->last == TS_DEACTIVATING;

	loop_timer_stop(e->loop, &t->kill_timer);
	loop_timer_stop(e->loop, &t->drain_timer);
	loop_timer_stop(e->loop, &t->grace_timer);
	loop_timer_stop(e->loop, &t->dep_timer);
	task_hc_stop(e, t);
	/* Every container is gone; what the task held goes back. */
	task_set_status(t, TS_DEPROVISIONING);
	if (t->registered)
		task_targets(e, t, false);
	cb_task_failed(e, t);
	if (was_running) {
		if (t->started_ms)
			svc_event(e, t->service,
			          "(service %s) has stopped 1 running tasks: (task %s).",
			          svc_name(e, t->service), t->id);
	}
	/* Back-off bookkeeping: a task that never ran or died at once is a
	 * failed start; one that ran a while clears the count. */
	if (!e->shutting_down) {
		if (!t->started_ms || now - t->started_ms < ECS_EARLY_EXIT_MS) {
			/* The first failure is retried at once (a task killed
			 * early is simply replaced); then 1 s, 2 s, ... 30 s. */
			unsigned shift = sv->failures < 6 ? sv->failures : 6;
			uint64_t d = shift ? (uint64_t)ECS_BACKOFF_MIN_MS << (shift - 1) : 0;
			sv->failures++;
			sv->next_start_ms = now + (d > ECS_BACKOFF_MAX_MS ? ECS_BACKOFF_MAX_MS : d);
		} else if (now - t->started_ms >= ECS_HEALTHY_RUN_MS) {
			sv->failures = 0;
			sv->next_start_ms = 0;
		}
	}
	t->desired_running = false;
	pool_free(e, t->subnet, t->addr);
	if (e->cg_state > 0)
		ecs_cgroup_task_done(&e->cg, t->id);
	host_give(e, t);
	task_set_status(t, TS_STOPPED);
	log_info("ecs: task %s (%s) stopped: %s: %s", t->id, addr4_str(t->addr, abuf),
	         t->stop_code ? t->stop_code : "-", t->reason);
	live_remove(e, t);
	stopped_push(e, t);
	sv->steady = false;
	ecs_state_save(e);
	sched_soon(e);
	done_soon(e);
}

static void task_stop_step(struct ecs *e, struct ecs_task *t);

/* SIGKILL for the containers whose StopTimeout (or the shutdown's cap)
 * has passed since their SIGTERM. */
static void on_kill_timer(struct loop *loop, struct loop_timer *timer)
{
	struct ecs_task *t = timer->data;
	uint64_t now = loop_now_ms(loop);
	for (size_t i = 0; i < t->nprocs; i++) {
		struct ecs_proc *p = &t->procs[i];
		if (!p->alive || !p->signalled || p->kill_ms > now)
			continue;
		log_warn("ecs: task %s: container did not stop in time, SIGKILL", t->id);
		kill(-p->pid, SIGKILL);
		p->kill_ms = UINT64_MAX; /* sent; the reap follows */
	}
	task_stop_step(t->e, t);
}

/* What taskdeps needs to know of each container, into t->cst. */
static void task_ctr_states(struct ecs_task *t)
{
	for (size_t i = 0; i < t->nprocs; i++) {
		const struct ecs_proc *p = &t->procs[i];
		t->cst[i] = (struct ecs_ctr_state){
		    .started = p->started,
		    .stopped = p->stopped,
		    .exit_code = p->exit_code,
		    .health = t->hcs ? t->hcs[i].status : ECS_HEALTH_UNKNOWN,
		    .start_timed_out = p->start_timed_out,
		};
	}
}

/* --- container health checks --- */

static const struct model_container *task_container(const struct ecs *e, const struct ecs_task *t,
                                                    size_t ci)
{
	const struct model_task_def *td = t->td;
	(void)e;
	return td && ci < td->ncontainers ? &td->containers[ci] : NULL;
}

static enum ecs_health task_health(const struct ecs *e, const struct ecs_task *t)
{
	enum ecs_health st[16];
	bool has[16], ess[16];
	size_t n = t->nprocs < 16 ? t->nprocs : 16;
	for (size_t i = 0; i < n; i++) {
		const struct model_container *c = task_container(e, t, i);
		st[i] = t->hcs ? t->hcs[i].status : ECS_HEALTH_UNKNOWN;
		has[i] = c && c->hc_argv;
		ess[i] = c && c->essential;
	}
	return ecs_health_task(st, has, ess, n);
}

static void task_hc_stop(struct ecs *e, struct ecs_task *t)
{
	for (size_t i = 0; t->hcs && i < t->nprocs; i++) {
		loop_timer_stop(e->loop, &t->hcs[i].timer);
		if (t->hcs[i].pid > 0) {
			/* Reaped here, not later by the loop: a check must not
			 * outlive its task, nor be left a zombie at shutdown.
			 * SIGKILL makes the wait short. */
			kill(-t->hcs[i].pid, SIGKILL);
			while (waitpid(t->hcs[i].pid, NULL, 0) < 0 && errno == EINTR)
				;
		}
		t->hcs[i].pid = 0;
	}
}

/* The service replaces a RUNNING task whose essential container is
 * UNHEALTHY or whose target is unhealthy in its target group, once the
 * grace period since it started is over. */
static void task_check_health(struct ecs *e, struct ecs_task *t)
{
	uint64_t now = loop_now_ms(e->loop);
	uint64_t grace_end = t->started_ms + (uint64_t)e->m->services[t->service].grace_s * 1000u;
	bool bad_ctr = task_health(e, t) == ECS_HEALTH_UNHEALTHY;
	char reason[320];

	if (t->last != TS_RUNNING || !t->desired_running || e->shutting_down)
		return;
	if (!bad_ctr && !t->elb_unhealthy)
		return;
	if (now < grace_end) {
		if (!loop_timer_armed(&t->grace_timer))
			loop_timer_start(e->loop, &t->grace_timer, grace_end - now);
		return;
	}
	if (bad_ctr)
		snprintf(reason, sizeof(reason), "Task failed container health checks");
	else
		snprintf(reason, sizeof(reason),
		         "Task failed ELB health checks in (target-group %s)", t->elb_tg_arn);
	log_warn("ecs: task %s of service %s: %s", t->id, svc_name(e, t->service), reason);
	task_begin_stop(e, t, "ServiceSchedulerInitiated", reason, 0);
}

static void on_grace_timer(struct loop *loop, struct loop_timer *timer)
{
	struct ecs_task *t = timer->data;
	(void)loop;
	task_check_health(t->e, t);
}

static void task_dir(const struct ecs *e, const struct ecs_task *t, char *buf, size_t len)
{
	snprintf(buf, len, "%s/tasks/%s", e->state_dir, t->id);
}

static void container_file(const struct model_container *c, char *buf, size_t len)
{
	snprintf(buf, len, "%s", c && c->name ? c->name : "container");
	for (char *p = buf; *p; p++)
		if (*p == '/')
			*p = '_';
}

/* Runs the check command in the container's environment (HOST, PORT(S), its
 * Environment and working directory), output to <container>.health.log. */
static void hc_run(struct ecs *e, struct ecs_hc *h)
{
	struct ecs_task *t = h->t;
	const struct model_container *c = task_container(e, t, h->ci);
	char dir[PATH_MAX], cname[128], logp[PATH_MAX + 256], host[16], reason[320];
	char **env;
	pid_t pid;

	if (!c || !c->hc_argv)
		return;
	task_dir(e, t, dir, sizeof(dir));
	container_file(c, cname, sizeof(cname));
	snprintf(logp, sizeof(logp), "%s/%s.health.log", dir, cname);
	addr4_str(t->addr, host);
	env = ecs_proc_env(c, host, e->exe_dir);
	if (!env) {
		loop_timer_start(e->loop, &h->timer, (uint64_t)c->hc_interval_s * 1000u);
		return;
	}
	pid = ecs_proc_spawn(c->hc_argv, env, c->working_dir, logp, reason, sizeof(reason));
	ecs_proc_env_free(env);
	if (pid < 0) {
		/* A check that cannot run is a failed check, as in Docker. */
		bool start = loop_now_ms(e->loop) <
		             t->procs[h->ci].start_ms + (uint64_t)c->hc_start_period_s * 1000u;
		log_warn("ecs: task %s container %s: health check: %s", t->id, cname, reason);
		h->status = ecs_health_step(h->status, &h->fails, false, start, c->hc_retries);
		loop_timer_start(e->loop, &h->timer, (uint64_t)c->hc_interval_s * 1000u);
		task_check_health(e, t);
		return;
	}
	h->pid = pid;
	h->timed_out = false;
	loop_timer_start(e->loop, &h->timer, (uint64_t)c->hc_timeout_s * 1000u);
}

static void on_hc_timer(struct loop *loop, struct loop_timer *timer)
{
	struct ecs_hc *h = timer->data;
	(void)loop;
	if (h->pid > 0) {
		/* Timed out: the reap counts it as a failure. */
		h->timed_out = true;
		kill(-h->pid, SIGKILL);
		return;
	}
	hc_run(h->t->e, h);
}

/* A check process ended with wait status st. */
static void hc_reaped(struct ecs *e, struct ecs_hc *h, int st)
{
	struct ecs_task *t = h->t;
	const struct model_container *c = task_container(e, t, h->ci);
	bool ok = !h->timed_out && WIFEXITED(st) && WEXITSTATUS(st) == 0;
	bool start;
	enum ecs_health before = h->status;

	h->pid = 0;
	if (!c)
		return;
	start = loop_now_ms(e->loop) <
	        t->procs[h->ci].start_ms + (uint64_t)c->hc_start_period_s * 1000u;
	h->status = ecs_health_step(h->status, &h->fails, ok, start, c->hc_retries);
	loop_timer_stop(e->loop, &h->timer);
	loop_timer_start(e->loop, &h->timer, (uint64_t)c->hc_interval_s * 1000u);
	if (h->status != before) {
		log_info("ecs: task %s container %s is %s", t->id, c->name ? c->name : "?",
		         ecs_health_str(h->status));
		sched_soon(e); /* a deployment may wait for it */
		if (t->last == TS_PENDING) {
			task_progress(e, t, true); /* a container may wait for it */
			return;
		}
	}
	task_check_health(e, t);
}

/* Arms the first check of container ci, if it has one, an Interval after
 * its start, as Docker does. */
static void task_hc_start_one(struct ecs *e, struct ecs_task *t, size_t ci)
{
	const struct model_container *c = task_container(e, t, ci);
	if (t->hcs && c && c->hc_argv)
		loop_timer_start(e->loop, &t->hcs[ci].timer, (uint64_t)c->hc_interval_s * 1000u);
}

static void task_hc_start(struct ecs *e, struct ecs_task *t)
{
	for (size_t i = 0; i < t->nprocs; i++)
		if (t->procs[i].alive)
			task_hc_start_one(e, t, i);
}

/* One step of stopping: SIGTERM to each running container that no running
 * container depends on (so dependents go first: reverse dependency order),
 * its SIGKILL armed StopTimeout later (no later than t->stop_cap_ms when
 * set); STOPPED through task_finish once nothing runs. Called again on
 * every reap. */
static void task_stop_step(struct ecs *e, struct ecs_task *t)
{
	const struct model_task_def *td = t->td;
	uint64_t now = loop_now_ms(e->loop), next = UINT64_MAX;

	if (t->nalive == 0) {
		task_finish(e, t);
		return;
	}
	task_ctr_states(t);
	for (size_t i = 0; i < t->nprocs; i++) {
		struct ecs_proc *p = &t->procs[i];
		int to;
		if (!p->alive || p->signalled)
			continue;
		if (td && i < td->ncontainers && !ecs_deps_may_stop(td, i, t->cst))
			continue;
		to = td && i < td->ncontainers ? stop_timeout_s(&td->containers[i])
		                               : ECS_DEFAULT_STOP_S;
		kill(-p->pid, SIGTERM);
		p->signalled = true;
		p->kill_ms = now + (uint64_t)to * 1000u;
		if (t->stop_cap_ms && p->kill_ms > t->stop_cap_ms)
			p->kill_ms = t->stop_cap_ms;
	}
	for (size_t i = 0; i < t->nprocs; i++)
		if (t->procs[i].alive && t->procs[i].signalled && t->procs[i].kill_ms < next)
			next = t->procs[i].kill_ms;
	loop_timer_stop(e->loop, &t->kill_timer);
	if (next != UINT64_MAX)
		loop_timer_start(e->loop, &t->kill_timer, next > now ? next - now : 0);
}

/* STOPPING: containers still waiting for their dependencies never start;
 * the others are signalled in reverse dependency order, each killed after
 * its StopTimeout (capped at max_timeout_s from now when > 0). */
static void task_signal_stop(struct ecs *e, struct ecs_task *t, int max_timeout_s)
{
	loop_timer_stop(e->loop, &t->drain_timer);
	loop_timer_stop(e->loop, &t->dep_timer);
	task_set_status(t, TS_STOPPING);
	t->stopping_unix_ms = wall_ms();
	if (max_timeout_s > 0) {
		uint64_t cap = loop_now_ms(e->loop) + (uint64_t)max_timeout_s * 1000u;
		if (!t->stop_cap_ms || cap < t->stop_cap_ms)
			t->stop_cap_ms = cap;
	}
	for (size_t i = 0; i < t->nprocs; i++)
		if (!t->procs[i].started && !t->procs[i].stopped) {
			t->procs[i].stopped = true;
			t->procs[i].exit_code = -1;
		}
	task_stop_step(e, t);
}

static void on_drain_timer(struct loop *loop, struct loop_timer *timer)
{
	struct ecs_task *t = timer->data;
	(void)loop;
	if (t->last != TS_DEACTIVATING)
		return;
	log_info("ecs: task %s: deregistration delay over, stopping", t->id);
	t->draining = 0;
	task_signal_stop(t->e, t, 0);
}

/* The longest deregistration delay of the task's target groups, in ms. */
static uint64_t task_drain_ms(const struct ecs *e, const struct ecs_task *t)
{
	const struct model_service *sv = &e->m->services[t->service];
	int d = 0;
	for (size_t i = 0; i < sv->nlbs; i++) {
		int g = sv->lbs[i].target_group;
		if (g >= 0 && (size_t)g < e->m->ntgs && e->m->tgs[g].deregistration_delay_s > d)
			d = e->m->tgs[g].deregistration_delay_s;
	}
	return (uint64_t)d * 1000u;
}

/* Stops t: deregisters its targets and, while vpcd runs and every container
 * is up, waits for them to drain (DEACTIVATING) before SIGTERM; otherwise
 * signals at once, with SIGKILL after min(StopTimeout, max_timeout_s when
 * > 0). The caller's reason wins only if none was set before. */
static void task_begin_stop(struct ecs *e, struct ecs_task *t, const char *code, const char *reason,
                            int max_timeout_s)
{
	bool drain;

	if (t->last == TS_DEACTIVATING || t->last == TS_STOPPING || t->last == TS_STOPPED)
		return;
	t->desired_running = false;
	if (!t->stop_code) {
		t->stop_code = code;
		snprintf(t->reason, sizeof(t->reason), "%s", reason);
	}
	loop_timer_stop(e->loop, &t->grace_timer);
	task_hc_stop(e, t);
	/* Draining is for a task still serving: every essential container
	 * up. */
	drain = t->registered && !e->shutting_down && max_timeout_s == 0 && t->nalive > 0;
	for (size_t i = 0; drain && t->td && i < t->nprocs && i < t->td->ncontainers; i++)
		if (t->td->containers[i].essential && !t->procs[i].alive)
			drain = false;
	t->draining = 0;
	if (drain) /* before deregistering: UNUSED may come at once */
		task_set_status(t, TS_DEACTIVATING);
	if (t->registered)
		task_targets(e, t, false);
	sched_soon(e); /* the replacement starts now, not when this one is gone */
	if (drain && t->draining > 0 && t->last == TS_DEACTIVATING) {
		const struct ecs_svc *sv = &e->svcs[t->service];
		/* During a deployment ECS names the task set (the deployment)
		 * whose tasks drain. */
		if (t->rev < sv->ndeps && (t->rev + 1 != sv->ndeps || !sv->deps[t->rev].completed))
			svc_event(
			    e, t->service,
			    "(service %s, taskSet %s) has begun draining connections on 1 tasks.",
			    svc_name(e, t->service), sv->deps[t->rev].id);
		else
			svc_event(e, t->service,
			          "(service %s) has begun draining connections on 1 tasks.",
			          svc_name(e, t->service));
		/* The ALB removes the target after the delay itself; the timer
		 * is the fallback should that report never come. */
		loop_timer_start(e->loop, &t->drain_timer, task_drain_ms(e, t) + 2000u);
		return;
	}
	if (t->last == TS_DEACTIVATING || t->last == TS_RUNNING || t->last == TS_ACTIVATING ||
	    t->last == TS_PENDING || t->last == TS_PROVISIONING)
		task_signal_stop(e, t, max_timeout_s);
}

static void task_make_id(char *out)
{
	unsigned char r[16];
	size_t got = 0;
	while (got < sizeof(r)) {
		ssize_t n = getrandom(r + got, sizeof(r) - got, 0);
		if (n <= 0) {
			/* No entropy source: fall back to something unique enough. */
			for (; got < sizeof(r); got++)
				r[got] = (unsigned char)(rand() & 0xff);
			break;
		}
		got += (size_t)n;
	}
	for (size_t i = 0; i < sizeof(r); i++)
		snprintf(out + 2 * i, 3, "%02x", r[i]);
}

/* Adds kv to a NULL-terminated malloc'd env (ecs_proc_env's). Returns the
 * new array, or NULL (env released) when out of memory. */
static char **env_append(char **env, const char *kv)
{
	size_t n = 0;
	char **v, *copy = strdup(kv);
	while (env[n])
		n++;
	v = copy ? realloc(env, (n + 2) * sizeof(*v)) : NULL;
	if (!v) {
		free(copy);
		ecs_proc_env_free(env);
		return NULL;
	}
	v[n] = copy;
	v[n + 1] = NULL;
	return v;
}

/* The cgroup.procs descriptor (the caller closes it) a container enters
 * for its memory limit (container Memory, the task's Memory above it), or
 * -1: no limit, or limits not enforced here. */
static bool td_has_limit(const struct model_task_def *td)
{
	for (size_t i = 0; i < td->ncontainers; i++)
		if (td->containers[i].memory)
			return true;
	return td->task_memory > 0;
}

static int task_cgroup(struct ecs *e, const struct ecs_task *t, const struct model_task_def *td,
                       const struct model_container *c, const char *cname)
{
	int fd;
	if (!td->task_memory && !c->memory)
		return -1;
	if (e->cg_state == 0)
		e->cg_state = ecs_cgroup_init(&e->cg, e->state_dir) == 0 ? 1 : -1;
	if (e->cg_state < 0)
		return -1;
	fd = ecs_cgroup_container(&e->cg, t->id, td->task_memory, cname, c->memory);
	if (fd < 0) {
		log_warn("ecs: task %s container %s: no memory cgroup (%s): its limit is not "
		         "enforced",
		         t->id, cname, strerror(-fd));
		fd = -1;
	}
	return fd;
}

/* Creates the task's log directory; on failure t->reason says why. */
static int task_make_dir(struct ecs *e, struct ecs_task *t)
{
	char dir[PATH_MAX];
	int rc;

	if ((size_t)snprintf(dir, sizeof(dir), "%s/tasks/%s", e->state_dir, t->id) >= sizeof(dir)) {
		snprintf(t->reason, sizeof(t->reason),
		         "CannotStartContainerError: state dir too long");
		return -ENAMETOOLONG;
	}
	rc = ecs_proc_mkdirs(dir);
	if (rc < 0)
		snprintf(t->reason, sizeof(t->reason),
		         "CannotStartContainerError: creating %.200s: %s", dir, strerror(-rc));
	return rc;
}

/* Starts container ci of t (its health check armed). Returns 0, or -errno
 * with t->reason and the container's reason set. */
static int task_spawn(struct ecs *e, struct ecs_task *t, size_t ci)
{
	const struct model_task_def *td = t->td;
	const struct model_container *c = &td->containers[ci];
	struct ecs_proc *p = &t->procs[ci];
	char dir[PATH_MAX], logp[PATH_MAX + 256], host[16], cname[128];
	char **env;
	pid_t pid;
	int cgfd;

	task_dir(e, t, dir, sizeof(dir));
	container_file(c, cname, sizeof(cname));
	snprintf(logp, sizeof(logp), "%s/%s.log", dir, cname);
	addr4_str(t->addr, host);
	if (!c->argv || !c->argv[0]) {
		snprintf(t->reason, sizeof(t->reason),
		         "CannotStartContainerError: container %s has no command (image %s)", cname,
		         c->image ? c->image : "-");
		snprintf(p->reason, sizeof(p->reason), "%s", t->reason);
		return -EINVAL;
	}
	env = ecs_proc_env(c, host, e->exe_dir);
	if (env && e->metadata_base[0]) {
		char uri[400];
		if (td->ncontainers > 1)
			snprintf(uri, sizeof(uri), "ECS_CONTAINER_METADATA_URI_V4=%s/v4/%s-%s",
			         e->metadata_base, t->id, cname);
		else
			snprintf(uri, sizeof(uri), "ECS_CONTAINER_METADATA_URI_V4=%s/v4/%s",
			         e->metadata_base, t->id);
		env = env_append(env, uri);
	}
	if (!env) {
		snprintf(t->reason, sizeof(t->reason), "CannotStartContainerError: out of memory");
		snprintf(p->reason, sizeof(p->reason), "%s", t->reason);
		return -ENOMEM;
	}
	cgfd = task_cgroup(e, t, td, c, cname);
	pid = ecs_proc_spawn_in(c->argv, env, c->working_dir, logp, cgfd, t->reason,
	                        sizeof(t->reason));
	if (cgfd >= 0)
		close(cgfd);
	ecs_proc_env_free(env);
	if (pid < 0) {
		snprintf(p->reason, sizeof(p->reason), "%s", t->reason);
		return (int)pid;
	}
	p->pid = pid;
	p->alive = true;
	p->started = true;
	p->start_ms = loop_now_ms(e->loop);
	t->nalive++;
	log_info("ecs: task %s container %s: pid %d on %s, log %s", t->id, cname, (int)pid, host,
	         logp);
	task_hc_start_one(e, t, ci);
	return 0;
}

/* Registers an ACTIVATING task's targets: RUNNING. */
static void task_activate(struct ecs *e, struct ecs_task *t)
{
	if (t->last != TS_ACTIVATING)
		return;
	task_targets(e, t, true);
	task_set_status(t, TS_RUNNING);
	t->started_ms = loop_now_ms(e->loop);
	if (t->started_ms == 0)
		t->started_ms = 1;
	sched_soon(e); /* the service's counts changed */
	ecs_state_save(e);
}

/* Arms t->dep_timer for the earliest StartTimeout of a started container
 * that a waiting container depends on. */
static void task_arm_dep_timer(struct ecs *e, struct ecs_task *t)
{
	const struct model_task_def *td = t->td;
	uint64_t now = loop_now_ms(e->loop), next = UINT64_MAX;

	for (size_t w = 0; w < t->nprocs; w++) {
		const struct model_container *c = &td->containers[w];
		if (t->procs[w].started || t->procs[w].stopped)
			continue;
		for (size_t k = 0; k < c->ndeps; k++) {
			size_t j = c->deps[k].container;
			const struct ecs_proc *p = &t->procs[j];
			uint64_t at;
			if (j >= t->nprocs || !td->containers[j].start_timeout_s || !p->started ||
			    p->start_timed_out)
				continue;
			at = p->start_ms + (uint64_t)td->containers[j].start_timeout_s * 1000u;
			if (at < next)
				next = at;
		}
	}
	loop_timer_stop(e->loop, &t->dep_timer);
	if (next != UINT64_MAX)
		loop_timer_start(e->loop, &t->dep_timer, next > now ? next - now : 0);
}

/* A PENDING task moves on: every container whose dependencies hold is
 * started; one whose dependencies never can is marked stopped (exit code
 * 143 and the agent's reason, as ECS does), which stops the task when it is
 * essential ("Essential container in task exited"). Once no container
 * waits, ACTIVATING, and with activate its targets are registered at once
 * (the scheduler does it for tasks it just launched, after its event). */
static void task_progress(struct ecs *e, struct ecs_task *t, bool activate)
{
	const struct model_task_def *td = t->td;
	bool changed = true, waiting = false;

	while (changed && t->last == TS_PENDING) {
		changed = false;
		waiting = false;
		task_ctr_states(t);
		for (size_t i = 0; i < t->nprocs; i++) {
			struct ecs_proc *p = &t->procs[i];
			const struct model_container *c = &td->containers[i];
			size_t bad = 0;
			enum ecs_dep_verdict v;
			if (p->started || p->stopped)
				continue;
			v = ecs_deps_ready(td, i, t->cst, &bad);
			if (v == ECS_DEP_WAIT) {
				waiting = true;
				continue;
			}
			changed = true;
			if (v == ECS_DEP_NEVER) {
				ecs_deps_reason(td, i, bad, t->cst, p->reason, sizeof(p->reason));
				p->stopped = true;
				p->exit_code = ECS_DEP_FAILED_EXIT;
				log_warn("ecs: task %s container %s will not start: %s", t->id,
				         c->name ? c->name : "?", p->reason);
				if (c->essential && t->desired_running) {
					task_begin_stop(e, t, "EssentialContainerExited",
					                "Essential container in task exited", 0);
					return;
				}
				break; /* its dependents see it now */
			}
			if (task_spawn(e, t, i) < 0) {
				t->stop_code = "TaskFailedToStart";
				log_warn("ecs: task %s of service %s failed to start: %s", t->id,
				         svc_name(e, t->service), t->reason);
				/* Containers already started are stopped like any others. */
				task_begin_stop(e, t, t->stop_code, t->reason, 0);
				return;
			}
			break; /* re-evaluate: a START dependency holds now */
		}
	}
	if (t->last != TS_PENDING)
		return;
	if (waiting) {
		task_arm_dep_timer(e, t);
		return;
	}
	loop_timer_stop(e->loop, &t->dep_timer);
	task_set_status(t, TS_ACTIVATING);
	if (activate)
		task_activate(e, t);
}

/* A StartTimeout passed: the containers past theirs meet nothing more. */
static void on_dep_timer(struct loop *loop, struct loop_timer *timer)
{
	struct ecs_task *t = timer->data;
	const struct model_task_def *td = t->td;
	uint64_t now = loop_now_ms(loop);

	if (t->last != TS_PENDING)
		return;
	for (size_t i = 0; i < t->nprocs; i++) {
		struct ecs_proc *p = &t->procs[i];
		int to = td->containers[i].start_timeout_s;
		if (to && p->started && !p->start_timed_out &&
		    p->start_ms + (uint64_t)to * 1000u <= now) {
			p->start_timed_out = true;
			log_info("ecs: task %s container %s: StartTimeout (%d s) passed", t->id,
			         td->containers[i].name ? td->containers[i].name : "?", to);
		}
	}
	task_progress(t->e, t, true);
}

/* Places and starts one task of service s. Returns the task (which may
 * already be STOPPED with TaskFailedToStart, or PENDING while containers
 * wait for their dependencies; ACTIVATING when the caller is to register
 * it), or NULL if it could not be placed. */
static struct ecs_task *task_launch(struct ecs *e, int s)
{
	const struct model *m = e->m;
	const struct model_task_def *td = svc_taskdef(e, s);
	const struct model_cluster *cl;
	struct ecs_task *t = NULL;
	struct place pl = {.host = -1, .subnet = 0};
	struct ecs_svc *sv = &e->svcs[s];
	char why[320], ev[sizeof(sv->place_failed)];
	size_t arnlen;

	if (!td || place_task(e, s, &pl, why, sizeof(why)) < 0) {
		/* As ECS, the same event is not repeated until placement works. */
		snprintf(ev, sizeof(ev),
		         "service %s was unable to place a task because no container instance met "
		         "all of its requirements.%s",
		         svc_name(e, s), why);
		if (strcmp(ev, sv->place_failed) != 0) {
			snprintf(sv->place_failed, sizeof(sv->place_failed), "%s", ev);
			svc_event(e, s, "%s", ev);
		}
		return NULL;
	}
	sv->place_failed[0] = '\0';
	if (e->nlive == e->caplive) {
		size_t cap = e->caplive ? e->caplive * 2 : 16;
		struct ecs_task **v = realloc(e->live, cap * sizeof(*v));
		if (!v)
			return NULL;
		e->live = v;
		e->caplive = cap;
	}
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->procs = calloc(td->ncontainers ? td->ncontainers : 1, sizeof(*t->procs));
	t->cst = calloc(td->ncontainers ? td->ncontainers : 1, sizeof(*t->cst));
	if (!t->procs || !t->cst)
		goto fail;
	t->nprocs = td->ncontainers;
	t->hcs = calloc(t->nprocs ? t->nprocs : 1, sizeof(*t->hcs));
	if (!t->hcs)
		goto fail;
	for (size_t i = 0; i < t->nprocs; i++) {
		t->hcs[i].t = t;
		t->hcs[i].ci = i;
		loop_timer_init(&t->hcs[i].timer, on_hc_timer, &t->hcs[i]);
		t->procs[i].exit_code = -1;
	}
	loop_timer_init(&t->drain_timer, on_drain_timer, t);
	loop_timer_init(&t->grace_timer, on_grace_timer, t);
	loop_timer_init(&t->dep_timer, on_dep_timer, t);
	t->e = e;
	t->service = s;
	t->td = td;
	t->rev = e->svcs[s].ndeps - 1;
	t->host = pl.host;
	t->subnet = pl.subnet;
	task_set_status(t, TS_PROVISIONING);
	t->desired_running = true;
	loop_timer_init(&t->kill_timer, on_kill_timer, t);
	task_make_id(t->id);
	cl = (m->services[s].cluster >= 0 && (size_t)m->services[s].cluster < m->nclusters)
	         ? &m->clusters[m->services[s].cluster]
	         : NULL;
	arnlen = strlen(t->id) + 128 + (cl && cl->name ? strlen(cl->name) : 7) +
	         (m->region ? strlen(m->region) : 0) + (m->account ? strlen(m->account) : 0);
	t->arn = malloc(arnlen);
	if (!t->arn)
		goto fail;
	snprintf(t->arn, arnlen, "arn:aws:ecs:%s:%s:task/%s/%s", m->region ? m->region : "",
	         m->account ? m->account : "", cl && cl->name ? cl->name : "default", t->id);
	if (pool_alloc(e, pl.subnet, &t->addr) < 0) {
		svc_event(e, s,
		          "service %s was unable to place a task because no container instance "
		          "met all of its requirements. The subnet %s has no free address.",
		          svc_name(e, s), m->subnets[pl.subnet].id);
		goto fail;
	}
	e->live[e->nlive++] = t;
	host_take(e, t);

	task_set_status(t, TS_PENDING);
	if (task_make_dir(e, t) < 0) {
		t->stop_code = "TaskFailedToStart";
		log_warn("ecs: task %s of service %s failed to start: %s", t->id, svc_name(e, s),
		         t->reason);
		task_begin_stop(e, t, t->stop_code, t->reason, 0);
		return t;
	}
	task_progress(e, t, false);
	return t; /* the caller registers it, after its "has started" event */
fail:
	task_free(e, t);
	return NULL;
}

/* --- the container reaper --- */

static void on_reaped(struct ecs *e, pid_t pid, int status)
{
	const struct model_task_def *td;
	struct ecs_task *t = NULL;
	const char *cname;
	size_t ci = 0;

	for (size_t i = 0; i < e->nlive; i++)
		for (size_t k = 0; e->live[i]->hcs && k < e->live[i]->nprocs; k++)
			if (e->live[i]->hcs[k].pid == pid) {
				hc_reaped(e, &e->live[i]->hcs[k], status);
				return;
			}

	for (size_t i = 0; i < e->nlive && !t; i++)
		for (size_t k = 0; k < e->live[i]->nprocs; k++)
			if (e->live[i]->procs[k].alive && e->live[i]->procs[k].pid == pid) {
				t = e->live[i];
				ci = k;
				break;
			}
	if (!t) {
		log_debug("ecs: reaped pid %d which is no container", (int)pid);
		return;
	}
	t->procs[ci].alive = false;
	t->procs[ci].stopped = true;
	t->procs[ci].exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	t->nalive--;
	/* A container is its whole process group, as with a PID namespace:
	 * whatever the leader left behind goes with it. */
	kill(-pid, SIGKILL);
	td = t->td;
	cname =
	    td && ci < td->ncontainers && td->containers[ci].name ? td->containers[ci].name : "?";
	if (WIFEXITED(status))
		log_info("ecs: task %s container %s (pid %d) exited with code %d", t->id, cname,
		         (int)pid, WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		log_info("ecs: task %s container %s (pid %d) killed by signal %d", t->id, cname,
		         (int)pid, WTERMSIG(status));
	if (t->last == TS_STOPPING) {
		task_stop_step(e, t); /* the containers it depended on go next */
		return;
	}
	if (t->desired_running && td && ci < td->ncontainers && td->containers[ci].essential) {
		/* Killed by the kernel for its memory limit: ECS's words. */
		bool oom = e->cg_state > 0 && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL &&
		           ecs_cgroup_oom_killed(&e->cg, t->id, cname);
		task_begin_stop(e, t, "EssentialContainerExited",
		                oom ? "OutOfMemoryError: Container killed due to memory usage"
		                    : "Essential container in task exited",
		                0);
		return; /* begin_stop finishes the task if nothing is left */
	}
	if (t->last == TS_PENDING) {
		task_progress(e, t, true); /* a COMPLETE or SUCCESS dependency */
		return;
	}
	if (t->nalive == 0)
		task_finish(e, t);
}

/* Installed by ecs_free in place of on_sigchld: the loop has no way to drop
 * a signal callback, and it may outlive the plane. Still reaps, so that no
 * zombie is left behind. */
static void on_sigchld_orphan(struct loop *loop, int signo, void *data)
{
	(void)loop;
	(void)signo;
	(void)data;
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
}

static void on_sigchld(struct loop *loop, int signo, void *data)
{
	struct ecs *e = data;
	int status;
	pid_t pid;
	(void)loop;
	(void)signo;
	/* Signals coalesce: reap until nothing is left to reap. */
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
		on_reaped(e, pid, status);
}

/* --- the scheduler --- */

static void sched_soon(struct ecs *e)
{
	if (e->started && !e->shutting_down)
		loop_timer_start(e->loop, &e->sched_timer, 0);
}

/* --- deployments --- */

/* A deployment id as ECS prints it: ecs-svc/ and 19 digits. */
static void dep_make_id(char *out, size_t len)
{
	char hex[33];
	unsigned long long v = 0;
	task_make_id(hex);
	for (int i = 0; i < 16; i++)
		v = v * 16 + (unsigned long long)(hex[i] <= '9' ? hex[i] - '0' : hex[i] - 'a' + 10);
	snprintf(out, len, "ecs-svc/%019llu", v % 10000000000000000000ull);
}

static uint64_t fp_int(uint64_t h, long long v)
{
	char b[24];
	snprintf(b, sizeof(b), "%lld;", v);
	return fnv1a(b, h);
}

static uint64_t fp_str(uint64_t h, const char *v)
{
	/* NULL and "" differ; a separator keeps "ab","c" apart from "a","bc" */
	return fnv1a(v ? "s" : "n", fnv1a(";", v ? fnv1a(v, h) : h));
}

static uint64_t fp_argv(uint64_t h, char **v, size_t n)
{
	/* argv is NULL-terminated too: stop there whatever n says */
	size_t i = 0;
	for (; v && i < n && v[i]; i++)
		h = fp_str(h, v[i]);
	return fp_int(h, v ? (long long)i : -1);
}

/* A fingerprint of what td_equal compares: equal task definitions have
 * equal ones. state.json keeps it to find a deployment's task definition
 * again after a restart. */
static uint64_t td_fp(const struct model_task_def *td)
{
	uint64_t h = 1469598103934665603ull;
	if (!td)
		return 0;
	h = fp_str(h, td->family);
	h = fp_str(h, td->network_mode);
	h = fp_int(h, (long long)td->ncontainers);
	h = fp_int(fp_int(fp_int(h, td->cpu), td->memory), td->task_memory);
	for (size_t i = 0; i < td->ncontainers; i++) {
		const struct model_container *c = &td->containers[i];
		h = fp_str(fp_str(h, c->name), c->image);
		h = fp_argv(h, c->argv, c->argc);
		h = fp_int(h, (long long)c->nenv);
		for (size_t k = 0; k < c->nenv; k++)
			h = fp_str(fp_str(h, c->env[k].key), c->env[k].value);
		h = fp_int(h, (long long)c->nports);
		for (size_t k = 0; k < c->nports; k++)
			h = fp_int(fp_int(h, c->ports[k].container_port), c->ports[k].host_port);
		h = fp_int(fp_int(h, c->essential), c->stop_timeout_s);
		h = fp_str(h, c->working_dir);
		h = fp_argv(h, c->hc_argv, c->hc_argc);
		h = fp_int(fp_int(h, c->hc_interval_s), c->hc_timeout_s);
		h = fp_int(fp_int(h, c->hc_retries), c->hc_start_period_s);
		h = fp_int(fp_int(h, c->start_timeout_s), (long long)c->ndeps);
		h = fp_int(fp_int(fp_int(h, c->cpu), c->memory), c->memory_reservation);
		for (size_t k = 0; k < c->ndeps; k++)
			h = fp_int(fp_int(h, c->deps[k].container),
			           (long long)c->deps[k].condition);
	}
	return mix64(h);
}

/* Adds a deployment of task definition td (arn copied; td belongs to model
 * from) to service s; it becomes the PRIMARY one. Returns 0 or -ENOMEM. */
static int svc_add_dep(struct ecs *e, int s, const struct model_task_def *td, const char *arn,
                       bool announce, const struct model *from)
{
	struct ecs_svc *sv = &e->svcs[s];
	struct ecs_dep *v = realloc(sv->deps, (sv->ndeps + 1) * sizeof(*v));
	struct ecs_dep *d;
	if (!v)
		return -ENOMEM;
	sv->deps = v;
	d = &sv->deps[sv->ndeps];
	memset(d, 0, sizeof(*d));
	d->td = td;
	d->td_arn = strdup(arn ? arn : "");
	if (!d->td_arn)
		return -ENOMEM;
	dep_make_id(d->id, sizeof(d->id));
	d->created_ms = d->updated_ms = e->loop ? loop_now_ms(e->loop) : 0;
	d->announce = announce;
	d->from = from;
	d->fp = td_fp(td);
	sv->ndeps++;
	return 0;
}

/* The service's target groups this task's definition has a container for,
 * as bits of the service's LoadBalancers. */
static uint32_t task_lb_mask(const struct ecs *e, const struct ecs_task *t)
{
	const struct model_service *ms = &e->m->services[t->service];
	uint32_t mask = 0;
	for (size_t i = 0; i < ms->nlbs && i < 32; i++)
		for (size_t c = 0; t->td && c < t->td->ncontainers; c++)
			if (ms->lbs[i].container_name && t->td->containers[c].name &&
			    strcmp(ms->lbs[i].container_name, t->td->containers[c].name) == 0 &&
			    ms->lbs[i].target_group >= 0)
				mask |= 1u << i;
	return mask;
}

/* Healthy as the deployment counts it (minimumHealthyPercent): RUNNING,
 * healthy in every target group of the service, and HEALTHY when a
 * container has a health check. Without either, RUNNING is enough. */
static bool task_healthy(const struct ecs *e, const struct ecs_task *t)
{
	uint32_t mask;
	bool has_check = false;
	if (t->last != TS_RUNNING || !t->desired_running)
		return false;
	mask = task_lb_mask(e, t);
	if ((t->elb_healthy & mask) != mask || (t->elb_unhealthy & mask))
		return false;
	for (size_t i = 0; t->td && i < t->td->ncontainers; i++)
		has_check |= t->td->containers[i].hc_argv != NULL;
	return !has_check || task_health(e, t) == ECS_HEALTH_HEALTHY;
}

/* The task of service s (PRIMARY deployment prim, health want_healthy,
 * healthy ones only if allow_healthy) to stop for a scale-in: on the host
 * place_scale_in chooses under the service's strategies, the newest there;
 * without hosts, the newest. NULL when none qualifies. */
static struct ecs_task *scale_in_pick(struct ecs *e, int s, size_t prim, bool want_healthy,
                                      bool allow_healthy)
{
	const struct model_service *ms = &e->m->services[s];
	struct place_strategy st[MODEL_MAX_PLACE_STRATEGIES];
	struct place_host *hs = e->nhosts ? calloc(e->nhosts, sizeof(*hs)) : NULL;
	struct ecs_task *pick = NULL;
	uint64_t rnd = 0;
	int host = -1;

	if (want_healthy && !allow_healthy) {
		free(hs);
		return NULL;
	}
	for (size_t i = 0; i < e->nlive; i++) {
		struct ecs_task *t = e->live[i];
		if (t->service != s || !t->desired_running || t->rev != prim ||
		    task_healthy(e, t) != want_healthy)
			continue;
		if (hs && t->host >= 0)
			hs[t->host].victims++;
		pick = t; /* newest so far */
	}
	if (!pick || !hs) {
		free(hs);
		return pick;
	}
	for (size_t i = 0; i < e->nhosts; i++) {
		const struct ecs_host *h = &e->hosts[i];
		hs[i].attrs =
		    (struct place_attrs){.az = subnet_az(e, h->subnet),
		                         .instance_type = e->m->asgs[h->asg].instance_type,
		                         .os_type = "linux",
		                         .instance_id = h->id};
		hs[i].cpu_total = h->cpu_total;
		hs[i].mem_total = h->mem_total;
		hs[i].cpu_free = h->cpu_total - h->cpu_used;
		hs[i].mem_free = h->mem_total - h->mem_used;
		hs[i].svc_tasks = count_svc_tasks(e, s, NULL, (int)i, -1);
		hs[i].total_tasks = h->ntasks;
		hs[i].usable = !h->stopped;
	}
	for (size_t k = 0; k < ms->nstrategies; k++)
		st[k] = (struct place_strategy){
		    .type = (enum place_strategy_type)ms->strategies[k].type,
		    .field = (enum place_field)ms->strategies[k].field};
	if (getrandom(&rnd, sizeof(rnd), GRND_NONBLOCK) != sizeof(rnd))
		rnd = loop_now_ms(e->loop);
	host = place_scale_in(hs, e->nhosts, st, ms->nstrategies, rnd);
	free(hs);
	if (host < 0)
		return pick;
	pick = NULL;
	for (size_t i = 0; i < e->nlive; i++) {
		struct ecs_task *t = e->live[i];
		if (t->service == s && t->desired_running && t->rev == prim && t->host == host &&
		    task_healthy(e, t) == want_healthy)
			pick = t;
	}
	return pick;
}

/* The rolling update as ECS computes it: at most floor(N * max% / 100)
 * tasks RUNNING or PENDING, at least ceil(N * min% / 100) RUNNING and
 * healthy; new tasks run the PRIMARY deployment's task definition. Old
 * tasks (and tasks beyond N) are stopped, unhealthy ones first, healthy
 * ones only while enough others are healthy. */
static void sched_service(struct ecs *e, int s, uint64_t now, uint64_t *next_wake)
{
	struct ecs_svc *sv = &e->svcs[s];
	size_t prim = sv->ndeps ? sv->ndeps - 1 : 0;
	struct ecs_dep *pd = sv->ndeps ? &sv->deps[prim] : NULL;
	char ids[1024];
	struct ecs_task *batch[64];
	size_t len = 0, nstarted = 0, nstopped = 0;
	int n = sv->desired > 0 ? sv->desired : 0;
	int max_tasks, min_healthy;
	int total = 0, nnew = 0, healthy = 0, nold = 0, nbusy = 0, can_stop, excess;
	bool all_new_running = true;

	ecs_rolling_bounds(n, sv->min_pct, sv->max_pct, &max_tasks, &min_healthy);
	for (size_t i = 0; i < e->nlive; i++) {
		const struct ecs_task *t = e->live[i];
		if (t->service != s)
			continue;
		if (!t->desired_running) {
			nbusy++; /* draining or stopping */
			if (t->rev != prim)
				nold++;
			continue;
		}
		total++;
		if (t->rev == prim) {
			nnew++;
			if (t->last != TS_RUNNING)
				all_new_running = false;
		} else {
			nold++;
		}
		healthy += task_healthy(e, t);
	}

	ids[0] = '\0';
	/* A failed deployment launches no new tasks (and keeps the old ones). */
	while (pd && !pd->failed && nnew < n && total < max_tasks &&
	       nstarted < sizeof(batch) / sizeof(batch[0])) {
		struct ecs_task *t;
		if (now < sv->next_start_ms) {
			if (sv->next_start_ms < *next_wake)
				*next_wake = sv->next_start_ms;
			break;
		}
		t = task_launch(e, s);
		if (!t) {
			/* Could not place: try again later rather than spin. */
			if (now + ECS_BACKOFF_MAX_MS < *next_wake)
				*next_wake = now + ECS_BACKOFF_MAX_MS;
			break;
		}
		batch[nstarted++] = t;
		if (len + 45 < sizeof(ids))
			len += (size_t)snprintf(ids + len, sizeof(ids) - len, " (task %s)", t->id);
		if (t->last == TS_STOPPING || t->last == TS_STOPPED)
			break; /* failed to start: task_finish armed the back-off */
		nnew++;
		total++;
		if (t->last != TS_RUNNING)
			all_new_running = false;
	}
	if (nstarted)
		svc_event(e, s, "(service %s) has started %zu tasks:%s.", svc_name(e, s), nstarted,
		          ids);
	/* Nothing is reaped inside this function, so the batch is intact. */
	for (size_t i = 0; i < nstarted; i++)
		task_activate(e, batch[i]);
	if (nnew < n && nstarted == sizeof(batch) / sizeof(batch[0]))
		sched_soon(e);

	/* Stops: tasks of older deployments, then tasks beyond N. Unhealthy
	 * ones do not count for the minimum and go first. */
	can_stop = healthy - min_healthy;
	excess = nnew - n;
	for (int pass = 0; pass < 4; pass++) {
		bool old_pass = pass < 2, want_healthy = pass == 1 || pass == 3;
		struct ecs_task *v;
		/* Tasks beyond N: where the placement strategies say. */
		while (!old_pass && excess > 0 &&
		       (v = scale_in_pick(e, s, prim, want_healthy, can_stop > 0))) {
			char reason[128];
			if (want_healthy)
				can_stop--;
			excess--;
			snprintf(reason, sizeof(reason), "Scaling activity initiated by (deployment %s)",
			         pd ? pd->id : "");
			nstopped++;
			task_begin_stop(e, v, "ServiceSchedulerInitiated", reason, 0);
		}
		/* Backwards: newest first; begin_stop may finish (and remove)
		 * the current task. */
		for (size_t i = e->nlive; old_pass && i-- > 0;) {
			struct ecs_task *t = e->live[i];
			char reason[128];
			bool h;
			if (t->service != s || !t->desired_running || (t->rev != prim) != old_pass)
				continue;
			if (old_pass && pd && pd->failed)
				continue;
			if (!old_pass && excess <= 0)
				break;
			h = task_healthy(e, t);
			if (h != want_healthy || (h && can_stop <= 0))
				continue;
			if (h)
				can_stop--;
			if (!old_pass)
				excess--;
			snprintf(reason, sizeof(reason), "Scaling activity initiated by (deployment %s)",
			         pd ? pd->id : "");
			nstopped++;
			task_begin_stop(e, t, "ServiceSchedulerInitiated", reason, 0);
		}
	}

	if (pd && !pd->failed && (nnew < n || nold > 0) && !nstarted && !nstopped && total >= max_tasks &&
	    healthy == total && can_stop <= 0) {
		if (!sv->stuck_reported)
			svc_event(e, s,
			          "service %s was unable to stop or start tasks during a deployment "
			          "because of the service deployment configuration. Update the "
			          "minimumHealthyPercent or maximumPercent value and try again.",
			          svc_name(e, s));
		sv->stuck_reported = true;
	}

	/* Steady: N tasks of the PRIMARY deployment RUNNING, nothing else. */
	if (pd && nnew == n && nold == 0 && nbusy == 0 && nstopped == 0 && all_new_running) {
		if (!pd->completed) {
			pd->completed = true;
			pd->updated_ms = now;
			if (pd->announce)
				svc_event(e, s, "(service %s) (deployment %s) deployment completed.",
				          svc_name(e, s), pd->id);
		}
		if (!sv->steady) {
			sv->steady = true;
			svc_event(e, s, "(service %s) has reached a steady state.", svc_name(e, s));
		}
	}
}

static void on_sched(struct loop *loop, struct loop_timer *timer)
{
	struct ecs *e = timer->data;
	uint64_t now = loop_now_ms(loop), next_wake = UINT64_MAX;
	if (e->shutting_down)
		return;
	for (size_t s = 0; s < e->m->nservices; s++)
		sched_service(e, (int)s, now, &next_wake);
	if (next_wake != UINT64_MAX && !loop_timer_armed(&e->sched_timer))
		loop_timer_start(loop, &e->sched_timer, next_wake > now ? next_wake - now : 0);
	ecs_state_save(e);
}

static void on_done(struct loop *loop, struct loop_timer *timer)
{
	struct ecs *e = timer->data;
	void (*done)(void *) = e->done;
	(void)loop;
	e->done = NULL;
	if (done)
		done(e->done_data);
}

/* --- runtime state on disk, adoption after a restart --- */

/* Wall clock of a loop-clock time (0 stays 0). */
static uint64_t loop_to_wall(const struct ecs *e, uint64_t t_ms)
{
	uint64_t now = loop_now_ms(e->loop), wnow = wall_ms();
	if (!t_ms)
		return 0;
	return now >= t_ms ? wnow - (now - t_ms) : wnow;
}

static uint64_t wall_to_loop(const struct ecs *e, uint64_t w_ms)
{
	uint64_t now = loop_now_ms(e->loop), wnow = wall_ms();
	uint64_t age = w_ms && wnow > w_ms ? wnow - w_ms : 0;
	if (!w_ms)
		return 0;
	return now > age ? now - age : 1;
}

static const struct ecs_source *source_of(const struct ecs *e, const struct model *m)
{
	for (size_t i = e->nsources; i-- > 0;)
		if (e->sources[i].m == m)
			return &e->sources[i];
	return NULL;
}

static bool dep_has_tasks(const struct ecs *e, int s, size_t k)
{
	for (size_t i = 0; i < e->nlive; i++)
		if (e->live[i]->service == s && e->live[i]->rev == k)
			return true;
	return false;
}

/* The deployments of service s worth resuming: the PRIMARY one, those with
 * tasks, and the last completed one before the PRIMARY (what a rollback
 * returns to); oldest first, the newest ECS_STATE_MAX_DEPS. */
static void svc_state(const struct ecs *e, int s, struct ecs_state_svc *o)
{
	const struct ecs_svc *sv = &e->svcs[s];
	size_t keep[ECS_STATE_MAX_DEPS], n = 0;
	bool rollback_kept = false;

	snprintf(o->logical, sizeof(o->logical), "%s",
	         e->m->services[s].logical ? e->m->services[s].logical : "");
	o->desired = sv->desired;
	o->tmpl_desired = sv->tmpl_desired;
	o->tmpl_desired_set = sv->tmpl_desired_set;
	o->min_pct = sv->min_pct;
	o->max_pct = sv->max_pct;
	o->cb_enable = sv->cb_enable;
	o->cb_rollback = sv->cb_rollback;
	o->steady = sv->steady;
	o->max_rev = sv->max_rev;
	/* newest first into keep[], then reversed */
	for (size_t k = sv->ndeps; k-- > 0 && n < ECS_STATE_MAX_DEPS;) {
		bool want = k + 1 == sv->ndeps || dep_has_tasks(e, s, k);
		if (!want && !rollback_kept && sv->deps[k].completed) {
			want = true;
			rollback_kept = true;
		}
		if (want)
			keep[n++] = k;
	}
	for (size_t i = 0; i < n; i++) {
		const struct ecs_dep *d = &sv->deps[keep[n - 1 - i]];
		struct ecs_state_dep *od = &o->deps[i];
		const struct ecs_source *src = source_of(e, d->from);
		snprintf(od->id, sizeof(od->id), "%s", d->id);
		snprintf(od->td_arn, sizeof(od->td_arn), "%s", d->td_arn ? d->td_arn : "");
		od->td_fp = d->fp;
		if (src) {
			snprintf(od->source, sizeof(od->source), "%s", src->file);
			for (size_t p = 0; p < src->nparams && p < ECS_STATE_MAX_PARAMS; p++) {
				snprintf(od->params[p], sizeof(od->params[p]), "%s",
				         src->params[p]);
				od->nparams = p + 1;
			}
		}
		od->created_unix_ms = loop_to_wall(e, d->created_ms);
		od->updated_unix_ms = loop_to_wall(e, d->updated_ms);
		od->completed = d->completed;
		od->failed = d->failed;
		od->announce = d->announce;
		od->failed_tasks = d->failed_tasks;
	}
	o->ndeps = n;
}

/* Writes <state-dir>/state.json: every live task that has a process, and
 * every service's deployments. Only the vpcd holding the state dir's lock
 * writes. */
static void ecs_state_save(struct ecs *e)
{
	struct ecs_state st = {0};
	char path[PATH_MAX];
	int rc;

	if (e->lock_fd < 0)
		return;
	st.tasks = calloc(e->nlive ? e->nlive : 1, sizeof(*st.tasks));
	st.svcs = calloc(e->m->nservices ? e->m->nservices : 1, sizeof(*st.svcs));
	if (!st.tasks || !st.svcs) {
		log_warn("ecs: out of memory writing state.json");
		goto out;
	}
	for (size_t i = 0; i < e->nlive; i++) {
		const struct ecs_task *t = e->live[i];
		struct ecs_state_task *o = &st.tasks[st.ntasks];
		const struct ecs_svc *sv = &e->svcs[t->service];
		if (t->nalive == 0)
			continue;
		snprintf(o->id, sizeof(o->id), "%s", t->id);
		snprintf(o->arn, sizeof(o->arn), "%s", t->arn ? t->arn : "");
		o->service = t->service;
		snprintf(o->service_logical, sizeof(o->service_logical), "%s",
		         e->m->services[t->service].logical ? e->m->services[t->service].logical
		                                            : "");
		snprintf(o->host_id, sizeof(o->host_id), "%s",
		         t->host >= 0 ? e->hosts[t->host].id : "");
		o->subnet = t->subnet;
		o->addr = t->addr;
		snprintf(o->td_arn, sizeof(o->td_arn), "%s",
		         t->rev < sv->ndeps ? sv->deps[t->rev].td_arn : "");
		snprintf(o->deployment, sizeof(o->deployment), "%s",
		         t->rev < sv->ndeps ? sv->deps[t->rev].id : "");
		o->started_unix_ms =
		    t->started_unix_ms ? t->started_unix_ms : loop_to_wall(e, t->started_ms);
		o->stopping = !t->desired_running;
		o->healthy = task_healthy(e, t);
		snprintf(o->stop_code, sizeof(o->stop_code), "%s",
		         t->stop_code ? t->stop_code : "");
		snprintf(o->reason, sizeof(o->reason), "%s", t->stop_code ? t->reason : "");
		for (size_t k = 0; k < t->nprocs && k < ECS_STATE_MAX_PROCS; k++) {
			const struct model_container *c = task_container(e, t, k);
			struct ecs_state_proc *p = &o->procs[k];
			snprintf(p->name, sizeof(p->name), "%s", c && c->name ? c->name : "");
			if (t->procs[k].alive) {
				p->pid = p->pgid = (int)t->procs[k].pid;
				p->starttime = ecs_state_proc_starttime(p->pid);
			}
			o->nprocs = k + 1;
		}
		st.ntasks++;
	}
	for (size_t s = 0; s < e->m->nservices; s++)
		svc_state(e, (int)s, &st.svcs[st.nsvcs++]);
	snprintf(path, sizeof(path), "%s/state.json", e->state_dir);
	rc = ecs_state_write(path, &st);
	if (rc < 0)
		log_warn("ecs: cannot write %s: %s", path, strerror(-rc));
out:
	free(st.tasks);
	free(st.svcs);
}

static void on_pidfd(struct loop *loop, struct loop_io *io, uint32_t events)
{
	struct ecs_pidw *w = io->data;
	struct ecs *e = w->e;
	pid_t pid = w->pid;
	(void)events;
	loop_io_del(loop, io);
	close(w->fd);
	for (size_t i = 0; i < e->nlive; i++)
		for (size_t k = 0; k < e->live[i]->nprocs; k++)
			if (e->live[i]->procs[k].w == w)
				e->live[i]->procs[k].w = NULL;
	loop_defer_free(loop, w);
	/* Not our child: its exit status is not ours to read. */
	log_info("ecs: adopted process %d is gone (exit status unknown: not a child of "
	         "this vpcd)",
	         (int)pid);
	on_reaped(e, pid, 0);
}

/* A pidfd for pid, checked to be the process started at starttime. */
static int pidfd_for(int pid, uint64_t starttime)
{
	int fd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (fd < 0)
		return -errno;
	if (ecs_state_proc_starttime(pid) != starttime) {
		close(fd);
		return -ESRCH;
	}
	return fd;
}

static int svc_by_logical(const struct ecs *e, const char *logical)
{
	for (size_t i = 0; i < e->m->nservices; i++)
		if (e->m->services[i].logical && strcmp(e->m->services[i].logical, logical) == 0)
			return (int)i;
	return -1;
}

/* The static stop code named code (state.json keeps it as text). */
static const char *stop_code_named(const char *code)
{
	static const char *const codes[] = {"TaskFailedToStart", "EssentialContainerExited",
	                                    "UserInitiated",     "ServiceSchedulerInitiated",
	                                    "SpotInterruption",  "TerminationNotice"};
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		if (strcmp(codes[i], code) == 0)
			return codes[i];
	return "ServiceSchedulerInitiated";
}

/* The task definition of service s (matched by logical id) in model m
 * whose fingerprint is fp, or NULL. */
static const struct model_task_def *td_in(const struct ecs *e, int s, const struct model *m,
                                          uint64_t fp)
{
	const char *logical = e->m->services[s].logical;
	for (size_t i = 0; m && logical && i < m->nservices; i++) {
		const struct model_service *ms = &m->services[i];
		if (!ms->logical || strcmp(ms->logical, logical) != 0 || ms->task_def < 0 ||
		    (size_t)ms->task_def >= m->ntask_defs)
			continue;
		if (td_fp(&m->task_defs[ms->task_def]) == fp)
			return &m->task_defs[ms->task_def];
	}
	return NULL;
}

static bool source_is(const struct ecs_source *src, const struct ecs_state_dep *d)
{
	if (strcmp(src->file, d->source) != 0 || src->nparams != d->nparams)
		return false;
	for (size_t i = 0; i < d->nparams; i++)
		if (strcmp(src->params[i], d->params[i]) != 0)
			return false;
	return true;
}

/* The task definition a saved deployment ran: in the running template, in
 * a template already loaded, or in the one it came from (loaded through
 * the load_template hook). *from gets its model. */
static const struct model_task_def *dep_td(struct ecs *e, int s, const struct ecs_state_dep *d,
                                           const struct model **from)
{
	const struct model_task_def *td = td_in(e, s, e->m, d->td_fp);
	const char *params[ECS_STATE_MAX_PARAMS];
	const struct model *m;
	bool loaded = false;

	*from = e->m;
	for (size_t i = 0; !td && i < e->nsources; i++) {
		td = td_in(e, s, e->sources[i].m, d->td_fp);
		*from = e->sources[i].m;
		loaded |= source_is(&e->sources[i], d);
	}
	if (td || loaded || !d->source[0] || !e->hooks.load_template)
		return td;
	for (size_t i = 0; i < d->nparams; i++)
		params[i] = d->params[i];
	m = e->hooks.load_template(e->hooks.data, d->source, params, d->nparams);
	if (!m || ecs_set_model_source(e, m, d->source, params, d->nparams) < 0)
		return NULL;
	*from = m;
	return td_in(e, s, m, d->td_fp);
}

/* Service ss of state.json: its deployments (those whose task definition
 * is found again) replace the one ecs_new made, with their ids, states and
 * the circuit breaker's count; the live DesiredCount and deployment
 * configuration come back too. The tasks are adopted afterwards. */
static void restore_svc(struct ecs *e, const struct ecs_state_svc *ss)
{
	int s = svc_by_logical(e, ss->logical);
	struct ecs_svc *sv;
	struct ecs_dep *v;
	const struct model_task_def *tmpl;
	size_t n = 0;

	if (s < 0 || ss->ndeps == 0)
		return;
	sv = &e->svcs[s];
	tmpl = svc_taskdef(e, s);
	v = calloc(ss->ndeps, sizeof(*v));
	if (!v) {
		log_error("ecs: out of memory resuming the deployments of service %s", ss->logical);
		return;
	}
	for (size_t k = 0; k < ss->ndeps; k++) {
		const struct ecs_state_dep *d = &ss->deps[k];
		const struct model *from = NULL;
		const struct model_task_def *td = dep_td(e, s, d, &from);
		struct ecs_dep *nd = &v[n];
		if (!td) {
			log_warn(
			    "ecs: service %s: deployment %s (%s) not resumed: its task definition "
			    "is neither in the template nor in %s",
			    svc_name(e, s), d->id, d->td_arn, d->source[0] ? d->source : "-");
			continue;
		}
		nd->td_arn = strdup(d->td_arn);
		if (!nd->td_arn)
			continue;
		snprintf(nd->id, sizeof(nd->id), "%s", d->id);
		nd->td = td;
		nd->from = from;
		nd->fp = d->td_fp;
		nd->created_ms = wall_to_loop(e, d->created_unix_ms);
		nd->updated_ms = wall_to_loop(e, d->updated_unix_ms);
		nd->completed = d->completed;
		nd->failed = d->failed;
		nd->announce = d->announce;
		nd->failed_tasks = d->failed_tasks;
		n++;
	}
	if (n == 0) {
		free(v);
		return;
	}
	for (size_t k = 0; k < sv->ndeps; k++)
		free(sv->deps[k].td_arn);
	free(sv->deps);
	sv->deps = v;
	sv->ndeps = n;
	sv->desired = ss->desired;
	sv->tmpl_desired = ss->tmpl_desired;
	sv->tmpl_desired_set = ss->tmpl_desired_set;
	sv->min_pct = ss->min_pct;
	sv->max_pct = ss->max_pct;
	sv->cb_enable = ss->cb_enable;
	sv->cb_rollback = ss->cb_rollback;
	sv->steady = ss->steady;
	if (ss->max_rev > sv->max_rev)
		sv->max_rev = ss->max_rev;
	log_info("ecs: service %s: %zu deployments resumed; PRIMARY %s (%s) %s, desired %d",
	         svc_name(e, s), n, v[n - 1].id, v[n - 1].td_arn,
	         v[n - 1].failed      ? "FAILED"
	         : v[n - 1].completed ? "COMPLETED"
	                              : "IN_PROGRESS",
	         sv->desired);
	if (!td_equal(v[n - 1].td, tmpl))
		log_warn(
		    "ecs: service %s: the template's task definition is not the resumed PRIMARY "
		    "deployment's (%s): `vpcd apply` the template to deploy it",
		    svc_name(e, s), v[n - 1].td_arn);
}

/* One task of state.json: adopted when its service and task definition
 * still match and every container still runs (same pid, same start time);
 * recorded STOPPED and left to the scheduler to replace otherwise. */
static void adopt_one(struct ecs *e, const struct ecs_state_task *st)
{
	struct ecs_task *t;
	const struct ecs_svc *sv;
	const struct model_task_def *td = NULL;
	int s = svc_by_logical(e, st->service_logical), fds[ECS_STATE_MAX_PROCS];
	size_t nok = 0, nwant = 0, rev = SIZE_MAX;
	char abuf[16];
	bool ok;

	sv = s >= 0 ? &e->svcs[s] : NULL;
	/* Its deployment by id; a version 1 file names none: the PRIMARY
	 * one if the task definition is the same. */
	for (size_t k = 0; sv && k < sv->ndeps && rev == SIZE_MAX; k++)
		if (st->deployment[0]
		        ? strcmp(sv->deps[k].id, st->deployment) == 0
		        : k + 1 == sv->ndeps && strcmp(sv->deps[k].td_arn, st->td_arn) == 0)
			rev = k;
	if (rev != SIZE_MAX)
		td = sv->deps[rev].td;
	ok = td && td->ncontainers == st->nprocs && st->nprocs > 0;
	for (size_t k = 0; k < st->nprocs; k++) {
		fds[k] = -1;
		if (st->procs[k].pid <= 0 || !st->procs[k].starttime) {
			/* Not running when the state was saved: a container
			 * that had done its work (a COMPLETE or SUCCESS
			 * dependency) may be; an essential one may not. */
			if (ok && td->containers[k].essential)
				nwant++;
			continue;
		}
		nwant++;
		fds[k] = pidfd_for(st->procs[k].pid, st->procs[k].starttime);
		nok += fds[k] >= 0;
	}
	if (!ok) {
		/* Not the template's any more: its processes go. */
		for (size_t k = 0; k < st->nprocs; k++)
			if (fds[k] >= 0) {
				kill(-st->procs[k].pgid, SIGTERM);
				close(fds[k]);
			}
		log_warn("ecs: task %s of state.json (service %s, %s) is not in the template any "
		         "more: %zu processes sent SIGTERM",
		         st->id, st->service_logical, st->td_arn, nok);
		return;
	}
	t = calloc(1, sizeof(*t));
	if (t)
		t->procs = calloc(st->nprocs, sizeof(*t->procs));
	if (t)
		t->hcs = calloc(st->nprocs, sizeof(*t->hcs));
	if (t)
		t->cst = calloc(st->nprocs, sizeof(*t->cst));
	if (t)
		t->arn = strdup(st->arn);
	if (!t || !t->procs || !t->hcs || !t->cst || !t->arn ||
	    (e->nlive == e->caplive && nok == nwant)) {
		size_t cap = e->caplive ? e->caplive * 2 : 16;
		struct ecs_task **v = t && t->procs && t->hcs && t->cst && t->arn
		                          ? realloc(e->live, cap * sizeof(*v))
		                          : NULL;
		if (!v) {
			for (size_t k = 0; k < st->nprocs; k++)
				if (fds[k] >= 0)
					close(fds[k]);
			if (t)
				task_free(e, t);
			log_error("ecs: out of memory adopting task %s", st->id);
			return;
		}
		e->live = v;
		e->caplive = cap;
	}
	snprintf(t->id, sizeof(t->id), "%s", st->id);
	t->e = e;
	t->service = s;
	t->td = td;
	t->rev = rev;
	t->nprocs = st->nprocs;
	t->host = -1;
	for (size_t h = 0; h < e->nhosts; h++)
		if (strcmp(e->hosts[h].id, st->host_id) == 0)
			t->host = (int)h;
	t->subnet = st->subnet >= 0 && (size_t)st->subnet < e->m->nsubnets ? st->subnet : 0;
	t->addr = st->addr;
	for (size_t i = 0; i < t->nprocs; i++) {
		t->hcs[i].t = t;
		t->hcs[i].ci = i;
		loop_timer_init(&t->hcs[i].timer, on_hc_timer, &t->hcs[i]);
		t->procs[i].pid = st->procs[i].pid > 0 ? st->procs[i].pid : 0;
		t->procs[i].exit_code = -1;
		/* Every container had started: the task was saved running. */
		t->procs[i].started = true;
		t->procs[i].stopped = fds[i] < 0;
	}
	loop_timer_init(&t->drain_timer, on_drain_timer, t);
	loop_timer_init(&t->grace_timer, on_grace_timer, t);
	loop_timer_init(&t->kill_timer, on_kill_timer, t);
	loop_timer_init(&t->dep_timer, on_dep_timer, t);

	if (nok < nwant) {
		/* Something died while vpcd was down: the rest goes too. */
		for (size_t k = 0; k < st->nprocs; k++)
			if (fds[k] >= 0) {
				kill(-st->procs[k].pgid, SIGKILL);
				close(fds[k]);
			}
		task_set_status(t, TS_STOPPED);
		t->desired_running = false;
		t->stop_code = "EssentialContainerExited";
		snprintf(t->reason, sizeof(t->reason), "Task stopped while vpcd was down");
		t->started_ms = 0;
		log_info("ecs: task %s (%s) stopped: %s: %s", t->id, addr4_str(t->addr, abuf),
		         t->stop_code, t->reason);
		svc_event(e, s, "(service %s) has stopped 1 running tasks: (task %s).",
		          svc_name(e, s), t->id);
		stopped_push(e, t);
		return;
	}
	/* Adopted. Its address and host slot are taken again. */
	if (t->subnet < (int)e->m->nsubnets) {
		struct ecs_pool *p = &e->pools[t->subnet];
		if (t->addr - p->base < p->size)
			p->used[t->addr - p->base] = 1;
	}
	host_take(e, t);
	for (size_t k = 0; k < st->nprocs; k++) {
		struct ecs_pidw *w;
		int rc;
		if (fds[k] < 0)
			continue; /* done before the restart */
		w = calloc(1, sizeof(*w));
		rc = w ? loop_io_add(e->loop, &w->io, fds[k], EPOLLIN, on_pidfd, w) : -ENOMEM;
		if (rc < 0) {
			/* Without a watch the exit would go unseen: stop it. */
			free(w);
			kill(-st->procs[k].pgid, SIGKILL);
			close(fds[k]);
			continue;
		}
		w->e = e;
		w->pid = st->procs[k].pid;
		w->fd = fds[k];
		t->procs[k].w = w;
		t->procs[k].alive = true;
		t->nalive++;
	}
	task_set_status(t, TS_RUNNING);
	t->desired_running = true;
	{
		uint64_t now = loop_now_ms(e->loop), wnow = wall_ms();
		uint64_t age = st->started_unix_ms && wnow > st->started_unix_ms
		                   ? wnow - st->started_unix_ms
		                   : 0;
		t->started_ms = now > age ? now - age : 1;
		/* As far as this vpcd knows, it was created and started then
		 * (the status history starts at RUNNING), and so were its
		 * containers (health-check start periods count from there). */
		if (st->started_unix_ms)
			t->created_unix_ms = t->started_unix_ms = t->hist[0].unix_ms =
			    st->started_unix_ms;
		for (size_t k = 0; k < t->nprocs; k++)
			t->procs[k].start_ms = t->started_ms;
	}
	e->live[e->nlive++] = t;
	log_info("ecs: task %s (%s) adopted: container pid %d still runs", t->id,
	         addr4_str(t->addr, abuf), (int)t->procs[0].pid);
	svc_event(e, s, "(service %s) adopted 1 running tasks after a restart: (task %s).",
	          svc_name(e, s), t->id);
	if (t->nalive < nwant) {
		task_begin_stop(e, t, "EssentialContainerExited", "Task stopped while vpcd was down",
		                0);
		return;
	}
	if (st->stopping) {
		/* Its drain went with the load balancer that was killed: it
		 * is not registered again, and stops now. */
		log_info("ecs: task %s (%s) was stopping: stopped now (%s)", t->id,
		         addr4_str(t->addr, abuf), st->reason);
		task_begin_stop(e, t, stop_code_named(st->stop_code), st->reason, 0);
		return;
	}
	/* Healthy as its deployment counted it before the restart, until
	 * the load balancer says otherwise: a deployment in progress neither
	 * stops it as unhealthy nor waits for it again. */
	if (st->healthy)
		t->elb_healthy = task_lb_mask(e, t);
	task_hc_start(e, t);
	task_targets(e, t, true);
}

/* Reads <state-dir>/state.json left by a vpcd that is gone (we hold the
 * lock): resumes the services' deployments, then adopts or records its
 * tasks; extra ones are stopped by the scheduler as beyond DesiredCount. */
static void ecs_adopt(struct ecs *e)
{
	char path[PATH_MAX];
	struct ecs_state st;
	int rc;

	snprintf(path, sizeof(path), "%s/state.json", e->state_dir);
	rc = ecs_state_read(path, &st);
	if (rc == -ENOENT)
		return;
	if (rc < 0) {
		log_warn("ecs: %s unreadable (%s): no task adopted", path, strerror(-rc));
		return;
	}
	if (st.ntasks)
		log_info("ecs: %s lists %zu tasks of a vpcd that is gone", path, st.ntasks);
	for (size_t i = 0; i < st.nsvcs; i++)
		restore_svc(e, &st.svcs[i]);
	for (size_t i = 0; i < st.ntasks; i++)
		adopt_one(e, &st.tasks[i]);
	ecs_state_free(&st);
}

/* --- public API --- */

struct ecs *ecs_new(struct loop *loop, const struct model *m, const char *state_dir,
                    const struct ecs_hooks *hooks)
{
	struct ecs *e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	e->loop = loop;
	e->m = m;
	if (hooks)
		e->hooks = *hooks;
	e->state_dir = strdup(state_dir && *state_dir ? state_dir : ".");
	e->svcs = calloc(m->nservices ? m->nservices : 1, sizeof(*e->svcs));
	e->capstopped = 16;
	e->stopped = calloc(e->capstopped, sizeof(*e->stopped));
	if (!e->state_dir || !e->svcs || !e->stopped || pools_init(e) < 0 || hosts_init(e) < 0)
		goto fail;
	for (size_t s = 0; s < m->nservices; s++) {
		const struct model_service *ms = &m->services[s];
		const struct model_task_def *td =
		    ms->task_def >= 0 && (size_t)ms->task_def < m->ntask_defs
		        ? &m->task_defs[ms->task_def]
		        : NULL;
		e->svcs[s].desired = ms->desired;
		e->svcs[s].tmpl_desired = ms->desired;
		e->svcs[s].tmpl_desired_set = ms->desired_set;
		e->svcs[s].min_pct = ms->min_healthy_pct;
		e->svcs[s].max_pct = ms->max_pct;
		e->svcs[s].cb_enable = ms->cb_enable;
		e->svcs[s].cb_rollback = ms->cb_rollback;
		if (svc_add_dep(e, (int)s, td, td ? td->arn : NULL, false, m) < 0)
			goto fail;
		{
			const char *rev = td && td->arn ? strrchr(td->arn, ':') : NULL;
			e->svcs[s].max_rev = rev && atoi(rev + 1) > 0 ? (unsigned)atoi(rev + 1) : 1;
		}
		/* memberOf expressions were checked at load; compiled here,
		 * pointing into the model's strings. */
		if (ms->nmember_of) {
			e->svcs[s].member_of = calloc(ms->nmember_of, sizeof(struct place_query));
			if (!e->svcs[s].member_of)
				goto fail;
		}
		for (size_t k = 0; k < ms->nmember_of; k++) {
			char err[160];
			size_t off;
			if (place_query_parse(ms->member_of[k], strlen(ms->member_of[k]),
			                      &e->svcs[s].member_of[k], &off, err, sizeof(err)) < 0)
				goto fail;
		}
	}
	if (ecs_proc_exe_dir(e->exe_dir, sizeof(e->exe_dir)) < 0)
		e->exe_dir[0] = '\0';
	loop_timer_init(&e->sched_timer, on_sched, e);
	loop_timer_init(&e->done_timer, on_done, e);
	e->lock_fd = -1;
	return e;
fail:
	ecs_free(e);
	return NULL;
}

int ecs_start(struct ecs *e)
{
	int rc, holder = 0;
	if (e->started)
		return -EALREADY;
	if (!e->sigchld) {
		rc = loop_signal_add(e->loop, SIGCHLD, on_sigchld, e);
		if (rc < 0)
			return rc;
		e->sigchld = true;
	}
	rc = ecs_proc_mkdirs(e->state_dir);
	if (rc < 0) {
		log_error("ecs: cannot create state directory %s: %s", e->state_dir, strerror(-rc));
		return rc;
	}
	for (size_t i = 0; i < e->nhosts; i++)
		log_info("ecs: host %s in %s (%s)", e->hosts[i].id,
		         e->m->subnets[e->hosts[i].subnet].az,
		         e->m->subnets[e->hosts[i].subnet].id);
	rc = ecs_state_lock(e->state_dir, &holder);
	if (rc < 0) {
		if (rc == -EWOULDBLOCK)
			log_error("ecs: state directory %s is in use by another vpcd (pid %d); "
			          "stop it or give another --state-dir",
			          e->state_dir, holder);
		else
			log_error("ecs: cannot lock %s/vpcd.pid: %s", e->state_dir, strerror(-rc));
		return rc;
	}
	e->lock_fd = rc;
	e->started = true;
	ecs_adopt(e);
	/* Adopted tasks with memory limits are in vpcd's groups already (same
	 * state dir, same groups): take them over, so that they are seen and
	 * removed as the others. */
	for (size_t i = 0; i < e->nlive && e->cg_state == 0; i++)
		if (e->live[i]->td && td_has_limit(e->live[i]->td))
			e->cg_state = ecs_cgroup_init(&e->cg, e->state_dir) == 0 ? 1 : -1;
	/* Launch synchronously so that ecs_start's caller sees the tasks. */
	on_sched(e->loop, &e->sched_timer);
	return 0;
}

void ecs_shutdown(struct ecs *e, void (*done)(void *data), void *data)
{
	e->shutting_down = true;
	e->done = done;
	e->done_data = data;
	loop_timer_stop(e->loop, &e->sched_timer);
	/* Backwards: begin_stop may finish (and remove) the current task. */
	for (size_t i = e->nlive; i-- > 0;) {
		struct ecs_task *t = e->live[i];
		if (t->last == TS_DEACTIVATING) {
			/* No 300 s drain on the way out. */
			task_signal_stop(e, t, ECS_SHUTDOWN_STOP_MAX_S);
			continue;
		}
		if (t->last == TS_STOPPING) {
			/* Already stopping with its own timeouts: cap them. */
			uint64_t cap = loop_now_ms(e->loop) + ECS_SHUTDOWN_STOP_MAX_S * 1000u;
			if (!t->stop_cap_ms || cap < t->stop_cap_ms)
				t->stop_cap_ms = cap;
			for (size_t k = 0; k < t->nprocs; k++)
				if (t->procs[k].signalled && t->procs[k].kill_ms > cap &&
				    t->procs[k].kill_ms != UINT64_MAX)
					t->procs[k].kill_ms = cap;
			task_stop_step(e, t);
			continue;
		}
		task_begin_stop(e, t, "UserInitiated", "Task stopped: vpcd is shutting down",
		                ECS_SHUTDOWN_STOP_MAX_S);
	}
	if (e->nlive == 0 && done)
		loop_timer_start(e->loop, &e->done_timer, 0);
}

void ecs_free(struct ecs *e)
{
	if (!e)
		return;
	loop_timer_stop(e->loop, &e->sched_timer);
	loop_timer_stop(e->loop, &e->done_timer);
	if (e->sigchld)
		loop_signal_add(e->loop, SIGCHLD, on_sigchld_orphan, NULL);
	for (size_t i = 0; i < e->nlive; i++) {
		struct ecs_task *t = e->live[i];
		for (size_t k = 0; k < t->nprocs; k++)
			if (t->procs[k].alive)
				kill(-t->procs[k].pid, SIGKILL);
		task_hc_stop(e, t);
		if (t->addr)
			pool_free(e, t->subnet, t->addr);
		task_free(e, t);
	}
	free(e->live);
	for (size_t i = 0; i < e->nstopped; i++)
		task_free(e, e->stopped[i]);
	free(e->stopped);
	for (size_t i = 0; e->pools && i < e->m->nsubnets; i++)
		free(e->pools[i].used);
	free(e->pools);
	for (size_t s = 0; e->svcs && s < e->m->nservices; s++) {
		for (size_t k = 0; k < ECS_EVENTS_KEEP; k++)
			free(e->svcs[s].events[k]);
		for (size_t k = 0; k < e->svcs[s].ndeps; k++)
			free(e->svcs[s].deps[k].td_arn);
		free(e->svcs[s].deps);
		free(e->svcs[s].member_of);
	}
	free(e->svcs);
	for (size_t i = 0; i < e->nsources; i++) {
		free(e->sources[i].file);
		for (size_t k = 0; k < e->sources[i].nparams; k++)
			free(e->sources[i].params[k]);
		free(e->sources[i].params);
	}
	free(e->sources);
	free(e->hosts);
	free(e->asg_launched);
	if (e->cg_state > 0)
		ecs_cgroup_fini(&e->cg);
	if (e->lock_fd >= 0)
		close(e->lock_fd);
	free(e->state_dir);
	free(e);
}

size_t ecs_hosts(const struct ecs *e, struct ecs_host_info *out, size_t cap)
{
	for (size_t i = 0; i < e->nhosts && i < cap; i++) {
		const struct ecs_host *h = &e->hosts[i];
		out[i] = (struct ecs_host_info){.id = h->id,
		                                .az = subnet_az(e, h->subnet),
		                                .subnet = h->subnet,
		                                .asg = h->asg,
		                                .ntasks = h->ntasks,
		                                .status = h->stopped ? "STOPPED" : "ACTIVE",
		                                .instance_type = e->m->asgs[h->asg].instance_type,
		                                .cpu_registered = h->cpu_total,
		                                .mem_registered = h->mem_total,
		                                .cpu_remaining = h->cpu_total - h->cpu_used,
		                                .mem_remaining = h->mem_total - h->mem_used};
	}
	return e->nhosts;
}

static void task_info(const struct ecs *e, const struct ecs_task *t, struct ecs_task_info *o)
{
	int pid = 0;
	for (size_t k = 0; k < t->nprocs && !pid; k++)
		if (t->procs[k].alive)
			pid = (int)t->procs[k].pid;
	*o = (struct ecs_task_info){
	    .id = t->id,
	    .arn = t->arn,
	    .service = t->service,
	    .host_id = t->host >= 0 ? e->hosts[t->host].id : NULL,
	    .az = subnet_az(e, t->subnet),
	    .addr = t->addr,
	    .pid = pid,
	    .last_status = task_status_str(t->last),
	    .desired_status = t->desired_running ? "RUNNING" : "STOPPED",
	    .stop_code = t->stop_code,
	    .stopped_reason = t->stop_code ? t->reason : NULL,
	    .started_ms = t->started_ms,
	    .health_status = ecs_health_str(task_health(e, t)),
	    .launch_type = e->m->services[t->service].fargate ? "FARGATE" : "EC2",
	    .subnet = t->subnet,
	    .cpu = t->td ? t->td->cpu : 0,
	    .task_definition_arn =
	        t->rev < e->svcs[t->service].ndeps ? e->svcs[t->service].deps[t->rev].td_arn : NULL,
	    .created_unix_ms = t->created_unix_ms,
	    .started_unix_ms = t->started_unix_ms,
	    .stopping_unix_ms = t->stopping_unix_ms,
	    .stopped_unix_ms = t->stopped_unix_ms,
	    .history = t->hist,
	    .nhistory = t->nhist,
	};
}

/* Stopped tasks are listed for ECS_STOPPED_KEEP_MS (also pruned when one
 * more stops). */
static bool stopped_listed(const struct ecs *e, const struct ecs_task *t)
{
	return loop_now_ms(e->loop) - t->stopped_ms <= ECS_STOPPED_KEEP_MS;
}

size_t ecs_tasks(const struct ecs *e, struct ecs_task_info *out, size_t cap)
{
	size_t n = 0;
	for (size_t i = 0; i < e->nlive; i++, n++)
		if (n < cap)
			task_info(e, e->live[i], &out[n]);
	for (size_t i = e->nstopped; i-- > 0;) {
		if (!stopped_listed(e, e->stopped[i]))
			continue;
		if (n < cap)
			task_info(e, e->stopped[i], &out[n]);
		n++;
	}
	return n;
}

void ecs_service_info(const struct ecs *e, int service, struct ecs_service_info *out)
{
	*out = (struct ecs_service_info){.service = service};
	if (service < 0 || (size_t)service >= e->m->nservices)
		return;
	out->desired = e->svcs[service].desired;
	for (size_t i = 0; i < e->nlive; i++) {
		const struct ecs_task *t = e->live[i];
		if (t->service != service || !t->desired_running)
			continue;
		if (t->last == TS_RUNNING)
			out->running++;
		else if (t->last == TS_PROVISIONING || t->last == TS_PENDING ||
		         t->last == TS_ACTIVATING)
			out->pending++;
	}
}

size_t ecs_service_events(const struct ecs *e, int service, const char **out, size_t cap)
{
	const struct ecs_svc *sv;
	size_t n = 0;
	if (service < 0 || (size_t)service >= e->m->nservices)
		return 0;
	sv = &e->svcs[service];
	for (size_t k = 0; k < sv->nevents && n < cap; k++) {
		size_t idx = (sv->head + ECS_EVENTS_KEEP - 1 - k) % ECS_EVENTS_KEEP;
		out[n++] = sv->events[idx];
	}
	return n;
}

/* --- load balancer reports, host stop --- */

void ecs_target_health(struct ecs *e, int tg, uint32_t addr, uint16_t port,
                       enum ecs_target_health h, const char *reason)
{
	for (size_t i = 0; i < e->nlive; i++) {
		struct ecs_task *t = e->live[i];
		const struct model_service *sv = &e->m->services[t->service];
		if (t->addr != addr)
			continue;
		for (size_t k = 0; k < sv->nlbs && k < 32; k++) {
			const struct model_service_lb *lb = &sv->lbs[k];
			if (lb->target_group != tg || lb->container_port != port)
				continue;
			switch (h) {
			case ECS_TARGET_UNUSED:
				if (t->last == TS_DEACTIVATING && t->draining > 0 &&
				    --t->draining == 0)
					/* From the loop, not from inside the ALB. */
					loop_timer_start(e->loop, &t->drain_timer, 0);
				break;
			case ECS_TARGET_UNHEALTHY:
				if (t->last != TS_RUNNING || !t->desired_running)
					break;
				if (!t->elb_unhealthy)
					snprintf(t->elb_tg_arn, sizeof(t->elb_tg_arn), "%s",
					         e->m->tgs[tg].arn ? e->m->tgs[tg].arn : "");
				t->elb_unhealthy |= 1u << k;
				t->elb_healthy &= ~(1u << k);
				svc_event(e, t->service,
				          "(service %s) (task %s) (port %u) is unhealthy in "
				          "(target-group %s) due to (reason %s).",
				          svc_name(e, t->service), t->id, (unsigned)port,
				          e->m->tgs[tg].arn ? e->m->tgs[tg].arn : "",
				          reason && *reason ? reason : "Health checks failed");
				task_check_health(e, t);
				break;
			case ECS_TARGET_HEALTHY:
				t->elb_unhealthy &= ~(1u << k);
				if (!(t->elb_healthy & (1u << k))) {
					t->elb_healthy |= 1u << k;
					sched_soon(e); /* a deployment may wait for it */
				}
				break;
			case ECS_TARGET_OTHER:
				break;
			}
			return;
		}
	}
}

/* The AZ of ASG g with the fewest active hosts, then its subnet with the
 * fewest, in the group's order. */
static int asg_replacement_subnet(const struct ecs *e, int g)
{
	const struct model_asg *a = &e->m->asgs[g];
	int best = -1;
	size_t best_az = SIZE_MAX, best_sub = SIZE_MAX;
	for (size_t i = 0; i < a->nsubnets; i++) {
		size_t naz = 0, nsub = 0;
		for (size_t h = 0; h < e->nhosts; h++) {
			if (e->hosts[h].stopped || e->hosts[h].asg != g)
				continue;
			naz += strcmp(subnet_az(e, e->hosts[h].subnet),
			              subnet_az(e, a->subnets[i])) == 0;
			nsub += e->hosts[h].subnet == a->subnets[i];
		}
		if (naz < best_az || (naz == best_az && nsub < best_sub)) {
			best_az = naz;
			best_sub = nsub;
			best = a->subnets[i];
		}
	}
	return best;
}

int ecs_host_stop(struct ecs *e, const char *id)
{
	char reason[128];
	struct ecs_host *h = NULL, *v;
	int g, subnet;

	for (size_t i = 0; i < e->nhosts && !h; i++)
		if (strcmp(e->hosts[i].id, id) == 0)
			h = &e->hosts[i];
	if (!h)
		return -ENOENT;
	if (h->stopped)
		return -EALREADY;
	h->stopped = true;
	g = h->asg;
	log_info("ecs: host %s stopped", h->id);
	snprintf(reason, sizeof(reason), "Host EC2 (instance %s) stopped.", h->id);
	/* Backwards: begin_stop may finish (and remove) the current task. */
	for (size_t i = e->nlive; i-- > 0;) {
		struct ecs_task *t = e->live[i];
		if (t->host == (int)(h - e->hosts) && t->desired_running)
			task_begin_stop(e, t, "TerminationNotice", reason, 0);
	}
	/* The group is below its desired capacity: launch a replacement. */
	if (e->shutting_down || g < 0 || (size_t)g >= e->m->nasgs || e->m->asgs[g].nsubnets == 0)
		return 0;
	subnet = asg_replacement_subnet(e, g);
	if (subnet < 0)
		return 0;
	v = realloc(e->hosts, (e->nhosts + 1) * sizeof(*v));
	if (!v) {
		log_warn("ecs: auto scaling group %s: no memory for a replacement host",
		         e->m->asgs[g].name ? e->m->asgs[g].name : e->m->asgs[g].logical);
		return 0;
	}
	e->hosts = v;
	h = &e->hosts[e->nhosts];
	memset(h, 0, sizeof(*h));
	host_make_id(e, g, e->asg_launched[g]++, h->id, sizeof(h->id));
	h->subnet = subnet;
	h->asg = g;
	h->cpu_total = e->m->asgs[g].cpu_units;
	h->mem_total = e->m->asgs[g].memory_mib;
	e->nhosts++;
	log_info("ecs: auto scaling group %s launched host %s in %s (%s) to replace a stopped "
	         "instance",
	         e->m->asgs[g].name ? e->m->asgs[g].name : e->m->asgs[g].logical, h->id,
	         subnet_az(e, subnet), e->m->subnets[subnet].id);
	sched_soon(e);
	return 0;
}

/* --- task metadata --- */

int ecs_set_model_source(struct ecs *e, const struct model *m, const char *file,
                         const char *const *params, size_t nparams)
{
	struct ecs_source *v, *src;
	if (!file)
		return -EINVAL;
	v = realloc(e->sources, (e->nsources + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	e->sources = v;
	src = &v[e->nsources];
	memset(src, 0, sizeof(*src));
	src->m = m;
	src->file = strdup(file);
	src->params = calloc(nparams ? nparams : 1, sizeof(*src->params));
	for (size_t i = 0; src->params && i < nparams; i++) {
		src->params[i] = strdup(params[i]);
		if (src->params[i])
			src->nparams++;
	}
	if (!src->file || !src->params || src->nparams != nparams) {
		for (size_t i = 0; i < src->nparams; i++)
			free(src->params[i]);
		free(src->params);
		free(src->file);
		return -ENOMEM;
	}
	e->nsources++;
	return 0;
}

void ecs_set_metadata_base(struct ecs *e, const char *base)
{
	snprintf(e->metadata_base, sizeof(e->metadata_base), "%s", base ? base : "");
}

static const struct ecs_task *task_by_id(const struct ecs *e, const char *id)
{
	for (size_t i = 0; i < e->nlive; i++)
		if (strcmp(e->live[i]->id, id) == 0)
			return e->live[i];
	for (size_t i = 0; i < e->nstopped; i++)
		if (strcmp(e->stopped[i]->id, id) == 0)
			return e->stopped[i];
	return NULL;
}

size_t ecs_task_containers(const struct ecs *e, const char *id, struct ecs_task_info *task,
                           struct ecs_container_info *out, size_t cap)
{
	const struct ecs_task *t = task_by_id(e, id);
	if (!t)
		return 0;
	task_info(e, t, task);
	for (size_t i = 0; i < t->nprocs && i < cap; i++) {
		const struct model_container *c = task_container(e, t, i);
		const struct ecs_proc *p = &t->procs[i];
		out[i] = (struct ecs_container_info){
		    .name = c && c->name ? c->name : "",
		    .image = c && c->image ? c->image : "",
		    .index = (int)i,
		    .pid = p->alive ? (int)p->pid : 0,
		    .known_status = p->alive     ? "RUNNING"
		                    : p->stopped ? "STOPPED"
		                                 : "PENDING",
		    .exit_code = p->stopped ? p->exit_code : -1,
		    .health = c && c->hc_argv && t->hcs ? ecs_health_str(t->hcs[i].status) : NULL,
		    .reason = p->reason[0] ? p->reason : NULL,
		    .essential = c && c->essential,
		};
	}
	return t->nprocs;
}

/* --- deployments: apply, introspection --- */

static bool str_eq(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static bool argv_eq(char **a, size_t na, char **b, size_t nb)
{
	if (na != nb || (!a) != (!b))
		return false;
	for (size_t i = 0; i < na; i++)
		if (!str_eq(a[i], b[i]))
			return false;
	return true;
}

/* Whether two task definitions would run the same tasks. */
static bool td_equal(const struct model_task_def *a, const struct model_task_def *b)
{
	if (!a || !b)
		return a == b;
	if (!str_eq(a->family, b->family) || !str_eq(a->network_mode, b->network_mode) ||
	    a->ncontainers != b->ncontainers || a->cpu != b->cpu || a->memory != b->memory ||
	    a->task_memory != b->task_memory)
		return false;
	for (size_t i = 0; i < a->ncontainers; i++) {
		const struct model_container *x = &a->containers[i], *y = &b->containers[i];
		if (!str_eq(x->name, y->name) || !str_eq(x->image, y->image) ||
		    !argv_eq(x->argv, x->argc, y->argv, y->argc) || x->nenv != y->nenv ||
		    x->nports != y->nports || x->essential != y->essential ||
		    x->stop_timeout_s != y->stop_timeout_s || !str_eq(x->working_dir, y->working_dir) ||
		    !argv_eq(x->hc_argv, x->hc_argc, y->hc_argv, y->hc_argc) ||
		    x->hc_interval_s != y->hc_interval_s || x->hc_timeout_s != y->hc_timeout_s ||
		    x->hc_retries != y->hc_retries || x->hc_start_period_s != y->hc_start_period_s ||
		    x->start_timeout_s != y->start_timeout_s || x->ndeps != y->ndeps ||
		    x->cpu != y->cpu || x->memory != y->memory ||
		    x->memory_reservation != y->memory_reservation)
			return false;
		for (size_t k = 0; k < x->ndeps; k++)
			if (x->deps[k].container != y->deps[k].container ||
			    x->deps[k].condition != y->deps[k].condition)
				return false;
		for (size_t k = 0; k < x->nenv; k++)
			if (!str_eq(x->env[k].key, y->env[k].key) ||
			    !str_eq(x->env[k].value, y->env[k].value))
				return false;
		for (size_t k = 0; k < x->nports; k++)
			if (x->ports[k].container_port != y->ports[k].container_port ||
			    x->ports[k].host_port != y->ports[k].host_port)
				return false;
	}
	return true;
}

int ecs_apply(struct ecs *e, const struct model *nm, char *msg, size_t len)
{
	size_t o = 0;
	int changed = 0;
	if (len)
		msg[0] = '\0';
	if (nm->nservices != e->m->nservices)
		return -EINVAL;
	for (size_t s = 0; s < nm->nservices; s++) {
		const struct model_service *ns = &nm->services[s];
		struct ecs_svc *sv = &e->svcs[s];
		const struct model_task_def *td =
		    ns->task_def >= 0 && (size_t)ns->task_def < nm->ntask_defs
		        ? &nm->task_defs[ns->task_def]
		        : NULL;
		bool new_td = !td_equal(svc_taskdef(e, (int)s), td);
		int desired = ecs_apply_desired(sv->desired, sv->tmpl_desired_set, sv->tmpl_desired,
		                                ns->desired_set, ns->desired);
		bool scale = desired != sv->desired || ns->min_healthy_pct != sv->min_pct ||
		             ns->max_pct != sv->max_pct || ns->cb_enable != sv->cb_enable ||
		             ns->cb_rollback != sv->cb_rollback;
		sv->tmpl_desired = ns->desired;
		sv->tmpl_desired_set = ns->desired_set;
		if (!new_td && !scale)
			continue;
		changed++;
		if (new_td) {
			/* The next revision of the family: ...:FAMILY:REV. */
			const char *base = td && td->arn ? td->arn : "";
			const char *colon = strrchr(base, ':');
			size_t blen = colon ? (size_t)(colon - base) : strlen(base);
			char *arn = malloc(blen + 24);
			int rc;
			if (!arn)
				return -ENOMEM;
			/* (a rollback registers no revision) */
			snprintf(arn, blen + 24, "%.*s:%u", (int)blen, base, ++sv->max_rev);
			rc = svc_add_dep(e, (int)s, td, arn, true, nm);
			free(arn);
			if (rc < 0)
				return rc;
			/* A new task definition starts afresh (ECS resets the
			 * throttle). */
			sv->failures = 0;
			sv->next_start_ms = 0;
		}
		sv->desired = desired;
		sv->min_pct = ns->min_healthy_pct;
		sv->max_pct = ns->max_pct;
		sv->cb_enable = ns->cb_enable;
		sv->cb_rollback = ns->cb_rollback;
		sv->steady = false;
		sv->stuck_reported = false;
		if (o < len)
			o += (size_t)snprintf(msg + o, len - o, "%s%s: %s%s%sdesired %d, min %d%%, max %d%%",
			                      o ? "; " : "", svc_name(e, (int)s),
			                      new_td ? "new deployment " : "",
			                      new_td ? sv->deps[sv->ndeps - 1].id : "",
			                      new_td ? ", " : "", sv->desired,
			                      sv->min_pct, sv->max_pct);
		if (new_td && o < len)
			o += (size_t)snprintf(msg + o, len - o, " (%s)", sv->deps[sv->ndeps - 1].td_arn);
	}
	if (changed)
		sched_soon(e);
	return changed;
}

size_t ecs_service_deployments(const struct ecs *e, int service, struct ecs_deployment_info *out,
                               size_t cap)
{
	const struct ecs_svc *sv;
	size_t n = 0;
	if (service < 0 || (size_t)service >= e->m->nservices)
		return 0;
	sv = &e->svcs[service];
	for (size_t k = sv->ndeps; k-- > 0;) {
		const struct ecs_dep *d = &sv->deps[k];
		struct ecs_deployment_info di = {.id = d->id,
		                                 .task_definition_arn = d->td_arn,
		                                 .status =
		                                     k + 1 == sv->ndeps ? "PRIMARY" : "ACTIVE",
		                                 .rollout_state = d->failed      ? "FAILED"
		                                                  : d->completed ? "COMPLETED"
		                                                                 : "IN_PROGRESS",
		                                 .desired = k + 1 == sv->ndeps ? sv->desired : 0,
		                                 .failed_tasks = (int)d->failed_tasks,
		                                 .created_ms = d->created_ms,
		                                 .updated_ms = d->updated_ms};
		bool any = false;
		for (size_t i = 0; i < e->nlive; i++) {
			const struct ecs_task *t = e->live[i];
			if (t->service != service || t->rev != k)
				continue;
			any = true;
			if (!t->desired_running)
				continue;
			if (t->last == TS_RUNNING)
				di.running++;
			else if (t->last == TS_PROVISIONING || t->last == TS_PENDING ||
			         t->last == TS_ACTIVATING)
				di.pending++;
		}
		if (k + 1 != sv->ndeps && !any)
			continue; /* INACTIVE: no longer listed */
		if (n < cap)
			out[n] = di;
		n++;
	}
	return n;
}

int ecs_service_set_desired(struct ecs *e, int service, int desired, const char *event)
{
	struct ecs_svc *sv;
	if (service < 0 || (size_t)service >= e->m->nservices || desired < 0)
		return -EINVAL;
	sv = &e->svcs[service];
	if (event)
		svc_event(e, service, "%s", event);
	if (sv->desired == desired)
		return 0;
	/* As ecs_apply changes DesiredCount: no new deployment. */
	sv->desired = desired;
	sv->steady = false;
	sv->stuck_reported = false;
	sched_soon(e);
	return 1;
}
