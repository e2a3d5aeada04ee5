/*
 * The task lifecycle of the ECS plane with real processes: a container
 * started only once its DependsOn conditions hold (SUCCESS, HEALTHY), the
 * task PENDING meanwhile and ACTIVATING before RUNNING, a dependency that
 * can never hold stopping the task with ECS's codes and reasons, the
 * status history through STOPPING and DEPROVISIONING to STOPPED, and
 * containers stopped in reverse dependency order.
 */
#include "t.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/loop.h"
#include "ecs/ecs.h"
#include "model/model.h"

#define LO(a, b) ((127u << 24) | (81u << 16) | ((uint32_t)(a) << 8) | (uint32_t)(b))

static struct model_vpc vpc = {.logical = "VPC", .id = "vpc-0123456789abcdef0"};
static struct model_subnet subnets[1] = {
    {.logical = "A", .id = "subnet-a", .az = "us-east-1a", .vpc = 0}};
static struct model_target_group tg = {
    .logical = "TG",
    .name = "tg",
    .arn = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/tg/0123456789abcdef"};
static struct model_cluster cluster = {.logical = "C", .name = "c"};
static struct model_port_mapping ports[1] = {{.container_port = 8080}};
static char *argv_init[] = {"/bin/sh", "-c", "sleep 0.3; exit 0", NULL};
static char *argv_app[] = {"/bin/sh", "-c", "exec sleep 30", NULL};
static char *argv_hc[] = {"/bin/sh", "-c", "test -f \"$FLAG\"", NULL};
static struct model_kv env[1] = {{.key = "FLAG", .value = ""}};
static struct model_container_dep app_deps[1];
static struct model_container ctrs[2];
static struct model_task_def taskdef = {.logical = "TD", .family = "f", .containers = ctrs};
static struct model_service_lb svc_lb = {
    .container_name = "app", .container_port = 8080, .target_group = 0};
static struct model_service service = {.logical = "S",
                                       .name = "svc",
                                       .cluster = 0,
                                       .task_def = 0,
                                       .desired = 1,
                                       .lbs = &svc_lb,
                                       .nlbs = 1};
static struct model model;
static char flag_path[128];

/* Two containers: ctrs[0] ("side") and ctrs[1] ("app", essential, with the
 * LB port) that depends on side with cond. */
static void model_setup(enum model_dep_condition cond, char **side_argv, bool side_essential)
{
	cidr4_parse("10.0.1.0/24", &subnets[0].cidr);
	cidr4_parse("127.81.1.0/24", &subnets[0].lo_cidr);
	vpc.lo_base = LO(0, 0);
	ctrs[0] = (struct model_container){.name = "side",
	                                   .argv = side_argv,
	                                   .argc = 3,
	                                   .env = env,
	                                   .nenv = 1,
	                                   .essential = side_essential,
	                                   .stop_timeout_s = 5};
	app_deps[0] = (struct model_container_dep){0, cond};
	ctrs[1] = (struct model_container){.name = "app",
	                                   .argv = argv_app,
	                                   .argc = 3,
	                                   .ports = ports,
	                                   .nports = 1,
	                                   .essential = true,
	                                   .stop_timeout_s = 5,
	                                   .deps = app_deps,
	                                   .ndeps = 1};
	taskdef.ncontainers = 2;
	model = (struct model){.region = "us-east-1",
	                       .account = "123456789012",
	                       .stack_name = "life",
	                       .vpcs = &vpc,
	                       .nvpcs = 1,
	                       .subnets = subnets,
	                       .nsubnets = 1,
	                       .tgs = &tg,
	                       .ntgs = 1,
	                       .clusters = &cluster,
	                       .nclusters = 1,
	                       .task_defs = &taskdef,
	                       .ntask_defs = 1,
	                       .services = &service,
	                       .nservices = 1,
	                       .resolver_addr = LO(0, 2)};
}

static int nreg;
static int fake_register(void *data, int tgi, uint32_t addr, uint16_t port)
{
	(void)data;
	(void)tgi;
	(void)addr;
	(void)port;
	nreg++;
	return 0;
}
static int fake_deregister(void *data, int tgi, uint32_t addr, uint16_t port)
{
	(void)data;
	(void)tgi;
	(void)addr;
	(void)port;
	return 0;
}
static const struct ecs_hooks hooks = {fake_register, fake_deregister, NULL, NULL};

static struct ecs *cur;
static bool (*cond_fn)(void);
static uint64_t deadline;

static void on_tick(struct loop *loop, struct loop_timer *t)
{
	if ((cond_fn && cond_fn()) || loop_now_ms(loop) >= deadline) {
		loop_stop(loop);
		return;
	}
	loop_timer_start(loop, t, 10);
}

static bool run_until(struct loop *loop, bool (*fn)(void), uint64_t ms)
{
	struct loop_timer tick;
	loop_timer_init(&tick, on_tick, NULL);
	cond_fn = fn;
	deadline = loop_now_ms(loop) + ms;
	loop_timer_start(loop, &tick, 0);
	loop_run(loop);
	loop_timer_stop(loop, &tick);
	return fn ? fn() : true;
}

static bool done_called;
static void on_done(void *data)
{
	done_called = true;
	loop_stop(data);
}

static char state_dir[64];

static struct ecs *setup(struct loop **loopp)
{
	nreg = 0;
	done_called = false;
	snprintf(state_dir, sizeof(state_dir), "/tmp/vpcd-test-life-XXXXXX");
	if (!mkdtemp(state_dir))
		T_FAIL("mkdtemp: %s", strerror(errno));
	snprintf(flag_path, sizeof(flag_path), "%s/flag", state_dir);
	env[0].value = flag_path;
	*loopp = loop_new();
	cur = ecs_new(*loopp, &model, state_dir, &hooks);
	return cur;
}

static void teardown(struct loop *loop, struct ecs *e)
{
	char cmd[128];
	ecs_shutdown(e, on_done, loop);
	run_until(loop, NULL, 15000);
	ASSERT_TRUE(done_called);
	errno = 0;
	ASSERT_TRUE(waitpid(-1, NULL, WNOHANG) < 0 && errno == ECHILD);
	ecs_free(e);
	loop_free(loop);
	cur = NULL;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", state_dir);
	if (system(cmd) != 0)
		T_FAIL("cleanup of %s failed", state_dir);
}

/* The first task listed (live ones come first). */
static bool first_task(struct ecs_task_info *out)
{
	struct ecs_task_info all[16];
	size_t n = ecs_tasks(cur, all, 16);
	if (n == 0)
		return false;
	*out = all[0];
	return true;
}

static bool first_is(const char *status)
{
	struct ecs_task_info t;
	return first_task(&t) && strcmp(t.last_status, status) == 0;
}
static bool first_running(void)
{
	return first_is("RUNNING");
}
static bool first_stopped(void)
{
	return first_is("STOPPED");
}

/* "PROVISIONING,PENDING,..." */
static void history(const struct ecs_task_info *t, char *out, size_t len)
{
	size_t o = 0;
	out[0] = '\0';
	for (size_t i = 0; i < t->nhistory && o < len; i++)
		o += (size_t)snprintf(out + o, len - o, "%s%s", i ? "," : "", t->history[i].status);
}

static void test_success_dependency_starts_after_it(void)
{
	struct loop *loop;
	struct ecs *e;
	struct ecs_task_info t, ti;
	struct ecs_container_info c[2];
	char h[256], id[33];

	model_setup(MODEL_DEP_SUCCESS, argv_init, false);
	e = setup(&loop);
	if (!e)
		return;
	ASSERT_EQ(ecs_start(e), 0);
	/* init runs, app waits for it to succeed: PENDING, nothing registered. */
	ASSERT_TRUE(first_task(&t));
	ASSERT_STR_EQ(t.last_status, "PENDING");
	ASSERT_STR_EQ(t.desired_status, "RUNNING");
	ASSERT_EQ(ecs_task_containers(e, t.id, &ti, c, 2), 2);
	ASSERT_STR_EQ(c[0].known_status, "RUNNING");
	ASSERT_STR_EQ(c[1].known_status, "PENDING");
	ASSERT_EQ(c[1].pid, 0);
	ASSERT_EQ(nreg, 0);
	snprintf(id, sizeof(id), "%s", t.id);

	ASSERT_TRUE(run_until(loop, first_running, 20000));
	ASSERT_TRUE(first_task(&t));
	ASSERT_STR_EQ(t.id, id);
	history(&t, h, sizeof(h));
	ASSERT_STR_EQ(h, "PROVISIONING,PENDING,ACTIVATING,RUNNING");
	ASSERT_TRUE(t.created_unix_ms > 0 && t.started_unix_ms >= t.created_unix_ms);
	/* init ran for ~300 ms before app could start. */
	ASSERT_TRUE(t.started_unix_ms - t.created_unix_ms >= 250);
	ASSERT_EQ(t.stopped_unix_ms, 0);
	ASSERT_EQ(ecs_task_containers(e, t.id, &ti, c, 2), 2);
	ASSERT_STR_EQ(c[0].known_status, "STOPPED");
	ASSERT_EQ(c[0].exit_code, 0);
	ASSERT_STR_EQ(c[1].known_status, "RUNNING");
	ASSERT_TRUE(c[1].pid > 0);
	ASSERT_EQ(nreg, 1);

	/* Stopped by the shutdown: STOPPING, DEPROVISIONING, STOPPED. */
	ecs_shutdown(e, on_done, loop);
	run_until(loop, NULL, 15000);
	ASSERT_TRUE(done_called);
	ASSERT_TRUE(first_task(&t));
	ASSERT_STR_EQ(t.id, id);
	history(&t, h, sizeof(h));
	/* No drain on the way out of vpcd: no DEACTIVATING. */
	ASSERT_STR_EQ(h, "PROVISIONING,PENDING,ACTIVATING,RUNNING,STOPPING,DEPROVISIONING,"
	                 "STOPPED");
	ASSERT_STR_EQ(t.stop_code, "UserInitiated");
	ASSERT_TRUE(t.stopping_unix_ms > 0 && t.stopped_unix_ms >= t.stopping_unix_ms);
	teardown(loop, e);
}

static void test_failed_success_dependency_stops_the_task(void)
{
	static char *argv_fail[] = {"/bin/sh", "-c", "exit 3", NULL};
	struct loop *loop;
	struct ecs *e;
	struct ecs_task_info t, ti;
	struct ecs_container_info c[2];
	char h[256];

	model_setup(MODEL_DEP_SUCCESS, argv_fail, false);
	e = setup(&loop);
	if (!e)
		return;
	ASSERT_EQ(ecs_start(e), 0);
	ASSERT_TRUE(run_until(loop, first_stopped, 20000));
	/* The stopped one is listed after any replacement: find it. */
	{
		struct ecs_task_info all[16];
		size_t n = ecs_tasks(e, all, 16);
		bool found = false;
		for (size_t i = 0; i < n && i < 16 && !found; i++)
			if (strcmp(all[i].last_status, "STOPPED") == 0) {
				t = all[i];
				found = true;
			}
		ASSERT_TRUE(found);
	}
	ASSERT_STR_EQ(t.stop_code, "EssentialContainerExited");
	ASSERT_STR_EQ(t.stopped_reason, "Essential container in task exited");
	ASSERT_STR_EQ(t.desired_status, "STOPPED");
	history(&t, h, sizeof(h));
	ASSERT_STR_EQ(h, "PROVISIONING,PENDING,STOPPING,DEPROVISIONING,STOPPED");
	ASSERT_EQ(t.started_unix_ms, 0);
	ASSERT_EQ(ecs_task_containers(e, t.id, &ti, c, 2), 2);
	ASSERT_STR_EQ(c[0].known_status, "STOPPED");
	ASSERT_EQ(c[0].exit_code, 3);
	ASSERT_TRUE(c[0].reason == NULL);
	ASSERT_STR_EQ(c[1].known_status, "STOPPED");
	ASSERT_EQ(c[1].exit_code, 143);
	ASSERT_STR_CONTAINS(c[1].reason, "[side SUCCESS (Exit: 3)] for target [app] as "
	                                 "dependency did not exit successfully.");
	ASSERT_EQ(nreg, 0); /* never RUNNING, never registered */
	teardown(loop, e);
}

static bool first_pending_app(void)
{
	struct ecs_task_info t, ti;
	struct ecs_container_info c[2];
	return first_task(&t) && ecs_task_containers(cur, t.id, &ti, c, 2) == 2 &&
	       strcmp(t.last_status, "PENDING") == 0 && strcmp(c[0].known_status, "RUNNING") == 0;
}

static void test_healthy_dependency_keeps_the_task_pending(void)
{
	static char *argv_side[] = {"/bin/sh", "-c", "exec sleep 30", NULL};
	struct loop *loop;
	struct ecs *e;
	struct ecs_task_info t, ti;
	struct ecs_container_info c[2];
	FILE *f;

	model_setup(MODEL_DEP_HEALTHY, argv_side, true);
	ctrs[0].hc_argv = argv_hc;
	ctrs[0].hc_argc = 3;
	ctrs[0].hc_interval_s = 1;
	ctrs[0].hc_timeout_s = 2;
	ctrs[0].hc_retries = 10;
	e = setup(&loop);
	if (!e)
		return;
	ASSERT_EQ(ecs_start(e), 0);
	ASSERT_TRUE(first_pending_app());
	/* Two failing checks later the sidecar is still not healthy: the
	 * task waits, PENDING, its app not started. */
	run_until(loop, NULL, 2300);
	ASSERT_TRUE(first_task(&t));
	ASSERT_STR_EQ(t.last_status, "PENDING");
	ASSERT_EQ(ecs_task_containers(e, t.id, &ti, c, 2), 2);
	ASSERT_STR_EQ(c[0].health, "UNKNOWN");
	ASSERT_STR_EQ(c[1].known_status, "PENDING");
	ASSERT_EQ(nreg, 0);
	f = fopen(flag_path, "w");
	ASSERT_TRUE(f != NULL);
	if (f)
		fclose(f);
	ASSERT_TRUE(run_until(loop, first_running, 20000));
	ASSERT_EQ(ecs_task_containers(e, t.id, &ti, c, 2), 2);
	ASSERT_STR_EQ(c[0].health, "HEALTHY");
	ASSERT_STR_EQ(c[1].known_status, "RUNNING");
	ASSERT_EQ(nreg, 1);
	teardown(loop, e);
	ctrs[0].hc_argv = NULL;
}

static char ready_path[128];

static bool both_traps_set(void)
{
	struct stat st;
	return stat(ready_path, &st) == 0 && st.st_size >= 2;
}

static void test_stop_in_reverse_dependency_order(void)
{
	/* app, on SIGTERM, takes 300 ms to finish; side notes when it got
	 * its SIGTERM. In reverse order side hears of it only once app is
	 * gone. */
	static char side_cmd[512], app_cmd[512];
	static char *argv_side[] = {"/bin/sh", "-c", side_cmd, NULL};
	static char *argv_slow_app[] = {"/bin/sh", "-c", app_cmd, NULL};
	struct loop *loop;
	struct ecs *e;
	char order_path[128], buf[64] = "";
	FILE *f;
	size_t n;

	model_setup(MODEL_DEP_START, argv_side, true);
	ctrs[1].argv = argv_slow_app;
	e = setup(&loop);
	if (!e)
		return;
	snprintf(order_path, sizeof(order_path), "%s/order", state_dir);
	snprintf(ready_path, sizeof(ready_path), "%s/ready", state_dir);
	/* each shell says when its trap is set: a SIGTERM before that would
	 * kill it without a line, however long the test waited */
	snprintf(side_cmd, sizeof(side_cmd),
	         "trap 'echo side >> %s; exit 0' TERM; echo >> %s; while :; do sleep 0.05; done",
	         order_path, ready_path);
	snprintf(app_cmd, sizeof(app_cmd),
	         "trap 'sleep 0.3; echo app >> %s; exit 0' TERM; echo >> %s; "
	         "while :; do sleep 0.05; done",
	         order_path, ready_path);
	ASSERT_EQ(ecs_start(e), 0);
	ASSERT_TRUE(run_until(loop, first_running, 20000));
	ASSERT_TRUE(run_until(loop, both_traps_set, 20000));
	ecs_shutdown(e, on_done, loop);
	run_until(loop, NULL, 15000);
	ASSERT_TRUE(done_called);
	f = fopen(order_path, "r");
	ASSERT_TRUE(f != NULL);
	if (f) {
		n = fread(buf, 1, sizeof(buf) - 1, f);
		buf[n] = '\0';
		fclose(f);
	}
	ASSERT_STR_EQ(buf, "app\nside\n");
	teardown(loop, e);
}

/* side never completes; its StartTimeout (1 s) gives app up. */
static void test_start_timeout_gives_up(void)
{
	static char *argv_side[] = {"/bin/sh", "-c", "exec sleep 30", NULL};
	struct loop *loop;
	struct ecs *e;
	struct ecs_task_info all[16], ti;
	struct ecs_container_info c[2];
	size_t n;
	int k = -1;

	model_setup(MODEL_DEP_COMPLETE, argv_side, false);
	ctrs[0].start_timeout_s = 1;
	e = setup(&loop);
	if (!e)
		return;
	ASSERT_EQ(ecs_start(e), 0);
	/* well inside the 1 s StartTimeout, even when the machine is slow */
	run_until(loop, NULL, 200);
	ASSERT_TRUE(first_is("PENDING"));
	ASSERT_TRUE(run_until(loop, first_stopped, 20000) || ecs_tasks(e, all, 16) > 1);
	n = ecs_tasks(e, all, 16);
	for (size_t i = 0; i < n && i < 16 && k < 0; i++)
		if (strcmp(all[i].last_status, "STOPPED") == 0)
			k = (int)i;
	ASSERT_TRUE(k >= 0);
	if (k >= 0) {
		ASSERT_STR_EQ(all[k].stop_code, "EssentialContainerExited");
		ASSERT_EQ(ecs_task_containers(e, all[k].id, &ti, c, 2), 2);
		ASSERT_STR_CONTAINS(c[1].reason, "[side COMPLETE] for target [app] as dependency "
		                                 "did not reach the condition within its "
		                                 "StartTimeout.");
		/* side was stopped with the task (SIGTERM: no exit code). */
		ASSERT_STR_EQ(c[0].known_status, "STOPPED");
	}
	teardown(loop, e);
	ctrs[0].start_timeout_s = 0;
}

T_MAIN({
	T_RUN(test_success_dependency_starts_after_it);
	T_RUN(test_failed_success_dependency_stops_the_task);
	T_RUN(test_healthy_dependency_keeps_the_task_pending);
	T_RUN(test_stop_in_reverse_dependency_order);
	T_RUN(test_start_timeout_gives_up);
})
