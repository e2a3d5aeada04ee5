/* The ECS plane on a hand-built model: hosts over AZs, task placement and
 * addresses, target registration through hooks, replacement of a killed
 * task, a task that fails to start, and shutdown leaving no child. */
#include "t.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/loop.h"
#include "demo/demo.h"
#include "ecs/ecs.h"
#include "model/model.h"

#define LO(a, b) ((127u << 24) | (79u << 16) | ((uint32_t)(a) << 8) | (uint32_t)(b))

/* --- a small model: one VPC, two subnets in two AZs, one LB, one TG,
 * one ASG of 2, one service of 2 --- */

static struct model_vpc vpc = {.logical = "VPC", .id = "vpc-0123456789abcdef0"};
static struct model_subnet subnets[3] = {
    {.logical = "A", .id = "subnet-a", .az = "us-east-1a", .vpc = 0},
    {.logical = "B", .id = "subnet-b", .az = "us-east-1b", .vpc = 0},
    {.logical = "A2", .id = "subnet-a2", .az = "us-east-1a", .vpc = 0},
};
static int lb_subnets[2] = {0, 1};
static uint32_t lb_nodes[2] = {LO(1, 4), LO(2, 4)};
static struct model_lb lb = {
    .logical = "LB", .name = "lb", .subnets = lb_subnets, .nsubnets = 2, .node_addrs = lb_nodes};
static struct model_target_group tg = {
    .logical = "TG",
    .name = "tg",
    .arn = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/tg/0123456789abcdef"};
static struct model_cluster cluster = {.logical = "C", .name = "Main Cluster"};
static char *argv_sleep[] = {
    "/bin/sh", "-c", "echo \"$HOST:$PORT:$SERVICE_NAME:$(pwd):${PATH%%:*}\"; exec sleep 30", NULL};
static char *argv_missing[] = {"vpcd-test-no-such-program", NULL};
static struct model_kv env[1] = {{.key = "SERVICE_NAME", .value = "svc-a"}};
static struct model_port_mapping ports[1] = {{.container_port = 8080}};
static struct model_container container = {.name = "web",
                                           .argv = argv_sleep,
                                           .argc = 3,
                                           .env = env,
                                           .nenv = 1,
                                           .ports = ports,
                                           .nports = 1,
                                           .essential = true,
                                           .stop_timeout_s = 5,
                                           .working_dir = "/tmp"};
static struct model_task_def taskdef = {
    .logical = "TD", .family = "svc-a", .containers = &container, .ncontainers = 1};
static int asg_subnets[3] = {0, 1, 2};
static struct model_asg asg = {.logical = "ASG",
                               .name = "asg",
                               .subnets = asg_subnets,
                               .nsubnets = 2,
                               .min = 2,
                               .max = 4,
                               .desired = 2};
static struct model_service_lb svc_lb = {
    .container_name = "web", .container_port = 8080, .target_group = 0};
static struct model_service service = {.logical = "S",
                                       .name = "svc-a",
                                       .cluster = 0,
                                       .task_def = 0,
                                       .desired = 2,
                                       .lbs = &svc_lb,
                                       .nlbs = 1};
static struct model model;

static void model_setup(void)
{
	cidr4_parse("10.0.0.0/16", &vpc.cidr);
	vpc.lo_base = LO(0, 0);
	cidr4_parse("10.0.1.0/24", &subnets[0].cidr);
	cidr4_parse("127.79.1.0/24", &subnets[0].lo_cidr);
	cidr4_parse("10.0.2.0/24", &subnets[1].cidr);
	cidr4_parse("127.79.2.0/24", &subnets[1].lo_cidr);
	cidr4_parse("10.0.3.0/24", &subnets[2].cidr);
	cidr4_parse("127.79.3.0/24", &subnets[2].lo_cidr);
	asg_subnets[0] = 0;
	asg_subnets[1] = 1;
	asg.nsubnets = 2;
	asg.desired = 2;
	container.argv = argv_sleep;
	container.hc_argv = NULL;
	service.desired = 2;
	service.grace_s = 0;
	service.fargate = false;
	service.subnets = NULL;
	service.nsubnets = 0;
	tg.deregistration_delay_s = 0;
	model = (struct model){.region = "us-east-1",
	                       .account = "123456789012",
	                       .stack_name = "test",
	                       .vpcs = &vpc,
	                       .nvpcs = 1,
	                       .subnets = subnets,
	                       .nsubnets = 2,
	                       .tgs = &tg,
	                       .ntgs = 1,
	                       .lbs = &lb,
	                       .nlbs = 1,
	                       .clusters = &cluster,
	                       .nclusters = 1,
	                       .task_defs = &taskdef,
	                       .ntask_defs = 1,
	                       .asgs = &asg,
	                       .nasgs = 1,
	                       .services = &service,
	                       .nservices = 1,
	                       .resolver_addr = LO(0, 2)};
}

/* --- fake hooks --- */

struct call {
	bool reg;
	int tg;
	uint32_t addr;
	uint16_t port;
};
static struct call calls[64];
static int ncalls, nreg, ndereg;

static int fake_register(void *data, int tgi, uint32_t addr, uint16_t port)
{
	(void)data;
	if (ncalls < 64)
		calls[ncalls++] = (struct call){true, tgi, addr, port};
	nreg++;
	return 0;
}

static int fake_deregister(void *data, int tgi, uint32_t addr, uint16_t port)
{
	(void)data;
	if (ncalls < 64)
		calls[ncalls++] = (struct call){false, tgi, addr, port};
	ndereg++;
	return 0;
}

static const struct ecs_hooks hooks = {fake_register, fake_deregister, NULL, NULL};

/* --- running the loop until a condition holds, bounded --- */

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
	struct loop *loop = data;
	done_called = true;
	loop_stop(loop);
}

static char state_dir[64];

static struct ecs *setup(struct loop **loopp)
{
	ncalls = nreg = ndereg = 0;
	done_called = false;
	snprintf(state_dir, sizeof(state_dir), "/tmp/vpcd-test-ecs-XXXXXX");
	if (!mkdtemp(state_dir))
		T_FAIL("mkdtemp: %s", strerror(errno));
	*loopp = loop_new();
	cur = ecs_new(*loopp, &model, state_dir, &hooks);
	return cur;
}

static bool no_live_children(void)
{
	errno = 0;
	return waitpid(-1, NULL, WNOHANG) < 0 && errno == ECHILD;
}

/* Shuts down, checks done was called and no child is left, frees. */
static void teardown(struct loop *loop, struct ecs *e)
{
	char cmd[128];
	ecs_shutdown(e, on_done, loop);
	run_until(loop, NULL, 15000);
	ASSERT_TRUE(done_called);
	ASSERT_TRUE(no_live_children());
	ecs_free(e);
	loop_free(loop);
	cur = NULL;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", state_dir);
	if (system(cmd) != 0)
		T_FAIL("cleanup of %s failed", state_dir);
}

static size_t running_tasks(struct ecs_task_info *out, size_t cap)
{
	struct ecs_task_info all[128];
	size_t n = ecs_tasks(cur, all, 128), k = 0;
	for (size_t i = 0; i < n && i < 128; i++)
		if (strcmp(all[i].last_status, "RUNNING") == 0 && k < cap)
			out[k++] = all[i];
	return k;
}

static bool two_running(void)
{
	struct ecs_service_info si;
	ecs_service_info(cur, 0, &si);
	return si.running == 2;
}

/* --- tests --- */

static void test_hosts_and_placement(void)
{
	struct loop *loop;
	struct ecs *e;
	struct ecs_host_info h[4];
	struct ecs_task_info t[4];
	const char *ev[16];
	size_t nev;

	model_setup();
	e = setup(&loop);
	ASSERT_TRUE(e != NULL);
	if (!e)
		return;
	ASSERT_EQ(ecs_start(e), 0);
	ASSERT_EQ(ecs_hosts(e, h, 4), 2);
	ASSERT_TRUE(strcmp(h[0].az, h[1].az) != 0);
	ASSERT_EQ(strlen(h[0].id), 19);
	ASSERT_TRUE(strncmp(h[0].id, "i-", 2) == 0);
	ASSERT_TRUE(strcmp(h[0].id, h[1].id) != 0);
	ASSERT_TRUE(run_until(loop, two_running, 3000));
	ASSERT_EQ(running_tasks(t, 4), 2);
	ASSERT_EQ(ecs_hosts(e, h, 4), 2);
	ASSERT_EQ(h[0].ntasks, 1);
	ASSERT_EQ(h[1].ntasks, 1);

	/* One task per AZ, each inside its host's subnet, distinct, and not
	 * on a reserved or LB node address. */
	ASSERT_TRUE(strcmp(t[0].az, t[1].az) != 0);
	ASSERT_TRUE(t[0].addr != t[1].addr);
	for (int i = 0; i < 2; i++) {
		int sn = strcmp(t[i].az, "us-east-1a") == 0 ? 0 : 1;
		ASSERT_TRUE(cidr4_contains(subnets[sn].lo_cidr, t[i].addr));
		ASSERT_TRUE(t[i].addr != lb_nodes[0] && t[i].addr != lb_nodes[1]);
		ASSERT_TRUE((t[i].addr & 0xff) >= 4 && (t[i].addr & 0xff) != 255);
		ASSERT_EQ(strlen(t[i].id), 32);
		ASSERT_STR_CONTAINS(t[i].arn,
		                    "arn:aws:ecs:us-east-1:123456789012:task/Main Cluster/");
		ASSERT_STR_CONTAINS(t[i].arn, t[i].id);
		ASSERT_TRUE(t[i].pid > 0);
		ASSERT_STR_EQ(t[i].desired_status, "RUNNING");
		ASSERT_TRUE(t[i].host_id != NULL);
	}

	/* Both registered in tg 0 with the container port. */
	ASSERT_EQ(nreg, 2);
	ASSERT_EQ(ndereg, 0);
	for (int i = 0; i < ncalls; i++) {
		ASSERT_TRUE(calls[i].reg);
		ASSERT_EQ(calls[i].tg, 0);
		ASSERT_EQ(calls[i].port, 8080);
		ASSERT_TRUE(calls[i].addr == t[0].addr || calls[i].addr == t[1].addr);
	}

	/* The container got HOST, PORT and its Environment; its output is in
	 * <state_dir>/tasks/<id>/web.log. */
	{
		char path[256], want[4200], buf[4200] = "", exe[4096];
		FILE *f;
		char a[16];
		ssize_t len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
		exe[len > 0 ? len : 0] = '\0';
		if (strrchr(exe, '/'))
			*strrchr(exe, '/') = '\0';
		snprintf(path, sizeof(path), "%s/tasks/%s/web.log", state_dir, t[0].id);
		/* HOST, PORT, Environment, WorkingDirectory, and the vpcd
		 * binary's directory first on PATH. */
		snprintf(want, sizeof(want), "%s:8080:svc-a:/tmp:%s\n", addr4_str(t[0].addr, a),
		         exe);
		for (int i = 0; i < 200 && !strstr(buf, "svc-a"); i++) {
			f = fopen(path, "r");
			if (f) {
				size_t n = fread(buf, 1, sizeof(buf) - 1, f);
				buf[n] = '\0';
				fclose(f);
			}
			if (!strstr(buf, "svc-a"))
				usleep(10000);
		}
		ASSERT_STR_CONTAINS(buf, want);
	}

	nev = ecs_service_events(e, 0, ev, 16);
	ASSERT_TRUE(nev >= 4);
	if (nev >= 4) {
		ASSERT_STR_CONTAINS(ev[0], "(service svc-a) has reached a steady state.");
		ASSERT_STR_CONTAINS(ev[nev - 1], "(service svc-a) has started 2 tasks: (task ");
		ASSERT_STR_CONTAINS(ev[1], "(service svc-a) registered 1 targets in (target-group "
		                           "arn:aws:elasticloadbalancing:");
	}
	teardown(loop, e);
	ASSERT_EQ(ndereg, 2);
}

static uint32_t killed_addr;
static bool replaced(void)
{
	struct ecs_service_info si;
	ecs_service_info(cur, 0, &si);
	return si.running == 2 && ndereg == 1 && nreg == 3;
}

static void test_killed_task_is_replaced(void)
{
	struct loop *loop;
	struct ecs *e;
	struct ecs_task_info t[4], all[8];
	size_t n;
	const char *ev[16];
	size_t nev;
	bool saw_stopped = false;

	model_setup();
	e = setup(&loop);
	if (!e)
		return;
	ASSERT_EQ(ecs_start(e), 0);
	ASSERT_TRUE(run_until(loop, two_running, 3000));
	ASSERT_EQ(running_tasks(t, 4), 2);
	killed_addr = t[0].addr;
	ASSERT_EQ(kill(t[0].pid, SIGKILL), 0);
	ASSERT_TRUE(run_until(loop, replaced, 5000));
	ASSERT_EQ(ndereg, 1);
	ASSERT_EQ(nreg, 3);
	if (ncalls >= 3) {
		ASSERT_TRUE(!calls[2].reg);
		ASSERT_TRUE(calls[2].addr == killed_addr);
		ASSERT_TRUE(calls[3].reg);
		ASSERT_TRUE(calls[3].addr != killed_addr); /* a new task, a new address */
		ASSERT_EQ(calls[3].port, 8080);
	}
	n = ecs_tasks(e, all, 8);
	ASSERT_EQ(n, 3);
	for (size_t i = 0; i < n && i < 8; i++) {
		if (strcmp(all[i].last_status, "STOPPED") != 0)
			continue;
		saw_stopped = true;
		ASSERT_TRUE(all[i].addr == killed_addr);
		ASSERT_STR_EQ(all[i].stop_code, "EssentialContainerExited");
		ASSERT_STR_EQ(all[i].stopped_reason, "Essential container in task exited");
		ASSERT_STR_EQ(all[i].desired_status, "STOPPED");
		ASSERT_EQ(all[i].pid, 0);
	}
	ASSERT_TRUE(saw_stopped);
	/* The replacement went to the AZ that lost its task. */
	ASSERT_EQ(running_tasks(t, 4), 2);
	ASSERT_TRUE(strcmp(t[0].az, t[1].az) != 0);

	nev = ecs_service_events(e, 0, ev, 16);
	{
		bool dereg = false, stopped = false;
		for (size_t i = 0; i < nev; i++) {
			if (strstr(ev[i],
			           "(service svc-a) deregistered 1 targets in (target-group "))
				dereg = true;
			if (strstr(ev[i], "(service svc-a) has stopped 1 running tasks: (task "))
				stopped = true;
		}
		ASSERT_TRUE(dereg);
		ASSERT_TRUE(stopped);
	}
	teardown(loop, e);
}

static bool has_failed_task(void)
{
	struct ecs_task_info all[16];
	size_t n = ecs_tasks(cur, all, 16);
	for (size_t i = 0; i < n && i < 16; i++)
		if (all[i].stop_code && strcmp(all[i].stop_code, "TaskFailedToStart") == 0)
			return true;
	return false;
}

static void test_failed_start(void)
{
	struct loop *loop;
	struct ecs *e;
	struct ecs_task_info all[16];
	size_t n, nfailed = 0;

	model_setup();
	container.argv = argv_missing;
	service.desired = 1;
	e = setup(&loop);
	if (!e)
		return;
	ASSERT_EQ(ecs_start(e), 0);
	ASSERT_TRUE(has_failed_task());
	/* The first failure is retried at once, the second waits 1 s: half a
	 * second later there are exactly two. */
	run_until(loop, NULL, 500);
	n = ecs_tasks(e, all, 16);
	for (size_t i = 0; i < n && i < 16; i++) {
		if (!all[i].stop_code)
			continue;
		nfailed++;
		ASSERT_STR_EQ(all[i].stop_code, "TaskFailedToStart");
		ASSERT_STR_EQ(all[i].last_status, "STOPPED");
		ASSERT_STR_CONTAINS(all[i].stopped_reason, "CannotStartContainerError");
		ASSERT_STR_CONTAINS(all[i].stopped_reason, "vpcd-test-no-such-program");
		ASSERT_STR_CONTAINS(all[i].stopped_reason, "executable file not found in $PATH");
	}
	ASSERT_EQ(nfailed, 2);
	ASSERT_EQ(nreg, 0);
	/* After the back-off it tries again. */
	run_until(loop, NULL, 900);
	n = ecs_tasks(e, all, 16);
	ASSERT_EQ(n, 3);
	teardown(loop, e);
	ASSERT_EQ(ndereg, 0);
}

static bool one_running(void)
{
	struct ecs_service_info si;
	ecs_service_info(cur, 0, &si);
	return si.running == 1;
}

static void test_no_asg_goes_into_subnets(void)
{
	struct loop *loop;
	struct ecs *e;
	struct ecs_task_info t[4];
	struct ecs_host_info h[2];

	model_setup();
	model.nasgs = 0;
	service.desired = 1;
	e = setup(&loop);
	if (!e)
		return;
	ASSERT_EQ(ecs_start(e), 0);
	ASSERT_EQ(ecs_hosts(e, h, 2), 0);
	ASSERT_TRUE(run_until(loop, one_running, 3000));
	ASSERT_EQ(running_tasks(t, 4), 1);
	ASSERT_TRUE(t[0].host_id == NULL);
	ASSERT_TRUE(cidr4_contains(subnets[0].lo_cidr, t[0].addr) ||
	            cidr4_contains(subnets[1].lo_cidr, t[0].addr));
	teardown(loop, e);
}

static void test_shutdown_without_tasks(void)
{
	struct loop *loop;
	struct ecs *e;

	model_setup();
	service.desired = 0;
	e = setup(&loop);
	if (!e)
		return;
	ASSERT_EQ(ecs_start(e), 0);
	teardown(loop, e);
}

/* An ASG over two subnets in AZ a and one in AZ b still alternates AZs. */
static void test_hosts_balance_azs(void)
{
	struct loop *loop;
	struct ecs *e;
	struct ecs_host_info h[8];

	model_setup();
	model.nsubnets = 3;
	asg_subnets[0] = 0;
	asg_subnets[1] = 2; /* a, a, b */
	asg_subnets[2] = 1;
	asg.nsubnets = 3;
	asg.desired = 4;
	service.desired = 0;
	e = setup(&loop);
	if (!e)
		return;
	ASSERT_EQ(ecs_hosts(e, h, 8), 4);
	ASSERT_EQ(h[0].subnet, 0);
	ASSERT_EQ(h[1].subnet, 1);
	ASSERT_EQ(h[2].subnet, 2);
	ASSERT_EQ(h[3].subnet, 1);
	ASSERT_STR_EQ(h[0].az, "us-east-1a");
	ASSERT_STR_EQ(h[1].az, "us-east-1b");
	ASSERT_STR_EQ(h[2].az, "us-east-1a");
	ASSERT_STR_EQ(h[3].az, "us-east-1b");
	ASSERT_EQ(ecs_start(e), 0);
	teardown(loop, e);
}

/* A container that ignores SIGTERM is killed after its StopTimeout. */
static char *argv_stubborn[] = {"/bin/sh", "-c", "trap '' TERM; echo ready; sleep 30", NULL};

static void test_shutdown_kills_after_stop_timeout(void)
{
	struct loop *loop;
	struct ecs *e;
	struct ecs_task_info all[4];
	uint64_t t0;

	model_setup();
	container.argv = argv_stubborn;
	container.stop_timeout_s = 1;
	service.desired = 1;
	e = setup(&loop);
	if (!e)
		return;
	ASSERT_EQ(ecs_start(e), 0);
	ASSERT_TRUE(run_until(loop, one_running, 3000));
	/* Let the shell install its trap before the stop. */
	{
		char path[256], buf[64] = "";
		ASSERT_EQ(ecs_tasks(e, all, 4), 1);
		snprintf(path, sizeof(path), "%s/tasks/%s/web.log", state_dir, all[0].id);
		for (int i = 0; i < 300 && !strstr(buf, "ready"); i++) {
			FILE *f = fopen(path, "r");
			if (f) {
				size_t n = fread(buf, 1, sizeof(buf) - 1, f);
				buf[n] = '\0';
				fclose(f);
			}
			usleep(10000);
		}
		ASSERT_STR_CONTAINS(buf, "ready");
	}
	t0 = loop_now_ms(loop);
	ecs_shutdown(e, on_done, loop);
	run_until(loop, NULL, 8000);
	ASSERT_TRUE(done_called);
	ASSERT_TRUE(loop_now_ms(loop) - t0 >= 900);
	ASSERT_TRUE(loop_now_ms(loop) - t0 < 5000);
	ASSERT_TRUE(no_live_children());
	ASSERT_EQ(ecs_tasks(e, all, 4), 1);
	ASSERT_STR_EQ(all[0].last_status, "STOPPED");
	ASSERT_STR_EQ(all[0].stop_code, "UserInitiated");
	container.stop_timeout_s = 5;
	teardown(loop, e);
}

/* The real thing: tasks that run this very test binary as "demo-app"
 * (found through the binary's directory put first on PATH), serving HTTP
 * on their own task address and PORT. */
static char *argv_demo[] = {"test_ecs", "demo-app", NULL};

static int http_get(uint32_t addr, uint16_t port, char *buf, size_t cap)
{
	struct timeval tv = {.tv_sec = 3};
	struct sockaddr_in sa;
	const char *req = "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
	size_t len = 0;
	int fd = -1;

	sockaddr4_make(&sa, addr, port);
	for (int i = 0; i < 300; i++) {
		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			break;
		if (fd >= 0)
			close(fd);
		fd = -1;
		usleep(10000);
	}
	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (send(fd, req, strlen(req), MSG_NOSIGNAL) < 0) {
		close(fd);
		return -1;
	}
	for (;;) {
		ssize_t n = recv(fd, buf + len, cap - 1 - len, 0);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	close(fd);
	return (int)len;
}

static void test_demo_app_as_task(void)
{
	struct loop *loop;
	struct ecs *e;
	struct ecs_task_info t[4], all[8];
	size_t n;

	model_setup();
	container.argv = argv_demo;
	container.working_dir = NULL;
	ports[0].container_port = 18080;
	svc_lb.container_port = 18080;
	e = setup(&loop);
	if (!e)
		return;
	ASSERT_EQ(ecs_start(e), 0);
	ASSERT_TRUE(run_until(loop, two_running, 3000));
	ASSERT_EQ(running_tasks(t, 4), 2);
	for (int i = 0; i < 2; i++) {
		char buf[1024], want[128], a[16];
		ASSERT_TRUE(http_get(t[i].addr, 18080, buf, sizeof(buf)) > 0);
		snprintf(want, sizeof(want), "\r\n\r\nhello from svc-a task on %s:18080\n",
		         addr4_str(t[i].addr, a));
		ASSERT_STR_CONTAINS(buf, want);
	}
	ASSERT_EQ(nreg, 2);
	ASSERT_EQ(calls[0].port, 18080);
	{
		uint64_t t0 = loop_now_ms(loop);
		ecs_shutdown(e, on_done, loop);
		run_until(loop, NULL, 8000);
		ASSERT_TRUE(done_called);
		/* demo-app exits on SIGTERM, well before the SIGKILL at 10 s. */
		ASSERT_TRUE(loop_now_ms(loop) - t0 < 3000);
	}
	n = ecs_tasks(e, all, 8);
	ASSERT_EQ(n, 2);
	for (size_t i = 0; i < n && i < 8; i++)
		ASSERT_STR_EQ(all[i].last_status, "STOPPED");
	ports[0].container_port = 8080;
	svc_lb.container_port = 8080;
	container.working_dir = "/tmp";
	teardown(loop, e);
}

/* --- draining, host stop, health-driven replacement, Fargate --- */

static const char *watch_id;
static const char *want_status;

static bool watched_has_status(void)
{
	struct ecs_task_info all[32];
	size_t n = ecs_tasks(cur, all, 32);
	for (size_t i = 0; i < n && i < 32; i++)
		if (strcmp(all[i].id, watch_id) == 0)
			return strcmp(all[i].last_status, want_status) == 0;
	return false;
}

static bool find_task(const char *id, struct ecs_task_info *out)
{
	struct ecs_task_info all[32];
	size_t n = ecs_tasks(cur, all, 32);
	for (size_t i = 0; i < n && i < 32; i++)
		if (strcmp(all[i].id, id) == 0) {
			*out = all[i];
			return true;
		}
	return false;
}

static bool has_event(const char *needle)
{
	const char *ev[100];
	size_t n = ecs_service_events(cur, 0, ev, 100);
	for (size_t i = 0; i < n; i++)
		if (strstr(ev[i], needle))
			return true;
	return false;
}

static void test_host_stop_drains_until_unused(void)
{
	struct loop *loop;
	struct ecs *e;
	struct ecs_task_info t[4], x;
	struct ecs_host_info h[4];
	char id[33], host[20], reason[64];
	int pid;

	model_setup();
	tg.deregistration_delay_s = 300; /* only the UNUSED report can end this drain */
	e = setup(&loop);
	if (!e)
		return;
	ASSERT_EQ(ecs_start(e), 0);
	ASSERT_TRUE(run_until(loop, two_running, 3000));
	ASSERT_EQ(running_tasks(t, 4), 2);
	snprintf(id, sizeof(id), "%s", t[0].id);
	snprintf(host, sizeof(host), "%s", t[0].host_id);
	pid = t[0].pid;
	ASSERT_EQ(ecs_host_stop(e, host), 0);
	ASSERT_EQ(ecs_host_stop(e, host), -EALREADY);
	ASSERT_EQ(ecs_host_stop(e, "i-00000000000000000"), -ENOENT);
	ASSERT_TRUE(find_task(id, &x));
	ASSERT_STR_EQ(x.last_status, "DEACTIVATING");
	ASSERT_STR_EQ(x.desired_status, "STOPPED");
	ASSERT_EQ(ndereg, 1);
	ASSERT_TRUE(has_event("(service svc-a) has begun draining connections on 1 tasks."));
	/* Draining: the container has not been signalled. */
	run_until(loop, NULL, 300);
	ASSERT_EQ(kill(pid, 0), 0);
	ASSERT_TRUE(find_task(id, &x));
	ASSERT_STR_EQ(x.last_status, "DEACTIVATING");
	/* A report about another target changes nothing. */
	ecs_target_health(e, 0, x.addr, 9999, ECS_TARGET_UNUSED, NULL);
	run_until(loop, NULL, 50);
	ASSERT_TRUE(find_task(id, &x));
	ASSERT_STR_EQ(x.last_status, "DEACTIVATING");
	/* The balancer reports the target gone: SIGTERM, then STOPPED. */
	ecs_target_health(e, 0, x.addr, 8080, ECS_TARGET_UNUSED, NULL);
	watch_id = id;
	want_status = "STOPPED";
	ASSERT_TRUE(run_until(loop, watched_has_status, 5000));
	ASSERT_TRUE(find_task(id, &x));
	ASSERT_STR_EQ(x.stop_code, "TerminationNotice");
	snprintf(reason, sizeof(reason), "Host EC2 (instance %s) stopped.", host);
	ASSERT_STR_EQ(x.stopped_reason, reason);
	/* The group launched a replacement host in the AZ that lost one, and
	 * the service is whole again, off the stopped host. */
	ASSERT_EQ(ecs_hosts(e, h, 4), 3);
	ASSERT_STR_EQ(h[0].id[0] == host[0] && strcmp(h[0].id, host) == 0 ? h[0].status
	                                                                  : h[1].status,
	              "STOPPED");
	ASSERT_STR_EQ(h[2].status, "ACTIVE");
	ASSERT_STR_EQ(h[2].az, strcmp(h[0].id, host) == 0 ? h[0].az : h[1].az);
	ASSERT_TRUE(strcmp(h[2].id, h[0].id) != 0 && strcmp(h[2].id, h[1].id) != 0);
	ASSERT_TRUE(run_until(loop, two_running, 3000));
	ASSERT_EQ(running_tasks(t, 4), 2);
	ASSERT_TRUE(strcmp(t[0].host_id, host) != 0 && strcmp(t[1].host_id, host) != 0);
	teardown(loop, e);
}

static void test_drain_ends_after_the_delay(void)
{
	struct loop *loop;
	struct ecs *e;
	struct ecs_task_info t[4];
	char id[33];

	model_setup();
	tg.deregistration_delay_s = 0; /* the fallback timer: delay + 2 s */
	e = setup(&loop);
	if (!e)
		return;
	ASSERT_EQ(ecs_start(e), 0);
	ASSERT_TRUE(run_until(loop, two_running, 3000));
	ASSERT_EQ(running_tasks(t, 4), 2);
	snprintf(id, sizeof(id), "%s", t[0].id);
	ASSERT_EQ(ecs_host_stop(e, t[0].host_id), 0);
	watch_id = id;
	want_status = "STOPPED";
	/* No report from a balancer at all: the delay passes and it stops. */
	ASSERT_TRUE(run_until(loop, watched_has_status, 8000));
	teardown(loop, e);
}

static void test_elb_unhealthy_is_replaced_after_grace(void)
{
	struct loop *loop;
	struct ecs *e;
	struct ecs_task_info t[4], x;
	char id[33], want[256];

	model_setup();
	service.grace_s = 3600;
	e = setup(&loop);
	if (!e)
		return;
	ASSERT_EQ(ecs_start(e), 0);
	ASSERT_TRUE(run_until(loop, two_running, 3000));
	ASSERT_EQ(running_tasks(t, 4), 2);
	snprintf(id, sizeof(id), "%s", t[0].id);
	/* Inside the grace period an unhealthy target is tolerated. */
	ecs_target_health(e, 0, t[0].addr, 8080, ECS_TARGET_UNHEALTHY,
	                  "Health checks failed with these codes: [500]");
	run_until(loop, NULL, 50);
	ASSERT_TRUE(find_task(id, &x));
	ASSERT_STR_EQ(x.last_status, "RUNNING");
	snprintf(want, sizeof(want),
	         "(service svc-a) (task %s) (port 8080) is unhealthy in (target-group %s) due to "
	         "(reason Health checks failed with these codes: [500]).",
	         id, tg.arn);
	ASSERT_TRUE(has_event(want));
	teardown(loop, e);

	/* Without a grace period the service replaces it at once. */
	model_setup();
	e = setup(&loop);
	if (!e)
		return;
	ASSERT_EQ(ecs_start(e), 0);
	ASSERT_TRUE(run_until(loop, two_running, 3000));
	ASSERT_EQ(running_tasks(t, 4), 2);
	snprintf(id, sizeof(id), "%s", t[0].id);
	ecs_target_health(e, 0, t[0].addr, 8080, ECS_TARGET_UNHEALTHY, NULL);
	ASSERT_TRUE(find_task(id, &x));
	ASSERT_STR_EQ(x.stop_code, "ServiceSchedulerInitiated");
	snprintf(want, sizeof(want), "Task failed ELB health checks in (target-group %s)", tg.arn);
	ASSERT_STR_EQ(x.stopped_reason, want);
	ASSERT_TRUE(has_event("due to (reason Health checks failed)."));
	teardown(loop, e);
}

static char *argv_hc_fail[] = {"/bin/sh", "-c", "exit 1", NULL};
static char *argv_hc_ok[] = {"/bin/sh", "-c", "test -n \"$HOST\" && test \"$PORT\" = 8080", NULL};

static bool watched_stopped_by_health(void)
{
	struct ecs_task_info x;
	return find_task(watch_id, &x) && x.stop_code &&
	       strcmp(x.stop_code, "ServiceSchedulerInitiated") == 0;
}

static bool first_task_healthy(void)
{
	struct ecs_task_info t[4];
	return running_tasks(t, 4) > 0 && strcmp(t[0].health_status, "HEALTHY") == 0;
}

static void test_container_health_check(void)
{
	struct loop *loop;
	struct ecs *e;
	struct ecs_task_info t[4], x;
	char id[33];

	model_setup();
	service.desired = 1;
	container.hc_argv = argv_hc_ok;
	container.hc_interval_s = 1;
	container.hc_timeout_s = 2;
	container.hc_retries = 2;
	container.hc_start_period_s = 0;
	e = setup(&loop);
	if (!e)
		return;
	ASSERT_EQ(ecs_start(e), 0);
	ASSERT_TRUE(run_until(loop, one_running, 3000));
	ASSERT_EQ(running_tasks(t, 4), 1);
	ASSERT_STR_EQ(t[0].health_status, "UNKNOWN"); /* the first check is an Interval away */
	/* The check sees the container's HOST and PORT. */
	ASSERT_TRUE(run_until(loop, first_task_healthy, 5000));
	teardown(loop, e);

	model_setup();
	service.desired = 1;
	container.hc_argv = argv_hc_fail;
	container.hc_interval_s = 1;
	container.hc_timeout_s = 2;
	container.hc_retries = 2;
	e = setup(&loop);
	if (!e)
		return;
	ASSERT_EQ(ecs_start(e), 0);
	ASSERT_TRUE(run_until(loop, one_running, 3000));
	ASSERT_EQ(running_tasks(t, 4), 1);
	snprintf(id, sizeof(id), "%s", t[0].id);
	watch_id = id;
	ASSERT_TRUE(run_until(loop, watched_stopped_by_health, 8000));
	ASSERT_TRUE(find_task(id, &x));
	ASSERT_STR_EQ(x.stopped_reason, "Task failed container health checks");
	ASSERT_STR_EQ(x.health_status, "UNHEALTHY");
	teardown(loop, e);
	container.hc_argv = NULL;
}

static void test_fargate_goes_into_service_subnets(void)
{
	struct loop *loop;
	struct ecs *e;
	struct ecs_task_info t[4];
	static int svc_subnets[1] = {1};

	model_setup();
	service.fargate = true;
	service.subnets = svc_subnets;
	service.nsubnets = 1;
	e = setup(&loop);
	if (!e)
		return;
	ASSERT_EQ(ecs_start(e), 0);
	ASSERT_TRUE(run_until(loop, two_running, 3000));
	ASSERT_EQ(running_tasks(t, 4), 2);
	for (size_t i = 0; i < 2; i++) {
		ASSERT_TRUE(t[i].host_id == NULL);
		ASSERT_STR_EQ(t[i].launch_type, "FARGATE");
		ASSERT_TRUE(cidr4_contains(subnets[1].lo_cidr, t[i].addr));
	}
	teardown(loop, e);
	service.fargate = false;
	service.subnets = NULL;
	service.nsubnets = 0;
}

/* ECS's rounding of the rolling update's bounds: maximumPercent rounds
 * down (but never below the desired count), minimumHealthyPercent rounds
 * up. Expected values worked out by hand, row by row. */
static void test_rolling_bounds(void)
{
	static const int ns[] = {1, 2, 3, 4, 5, 10};
	static const int pcts[] = {0, 50, 75, 100, 150, 200};
	/* floor(N * p / 100), raised to N */
	static const int max_tasks[6][6] = {{1, 1, 1, 1, 1, 2},        /* 1: 0 0 0 1 1.5 2 */
	                                    {2, 2, 2, 2, 3, 4},        /* 2: 0 1 1.5 2 3 4 */
	                                    {3, 3, 3, 3, 4, 6},        /* 3: 0 1.5 2.25 3 4.5 6 */
	                                    {4, 4, 4, 4, 6, 8},        /* 4: 0 2 3 4 6 8 */
	                                    {5, 5, 5, 5, 7, 10},       /* 5: 0 2.5 3.75 5 7.5 10 */
	                                    {10, 10, 10, 10, 15, 20}}; /* 10: 0 5 7.5 10 15 20 */
	/* ceil(N * p / 100) */
	static const int min_healthy[6][6] = {{0, 1, 1, 1, 2, 2},  {0, 1, 2, 2, 3, 4},
	                                      {0, 2, 3, 3, 5, 6},  {0, 2, 3, 4, 6, 8},
	                                      {0, 3, 4, 5, 8, 10}, {0, 5, 8, 10, 15, 20}};
	int hi, lo;

	for (size_t i = 0; i < 6; i++)
		for (size_t k = 0; k < 6; k++) {
			ecs_rolling_bounds(ns[i], pcts[k], pcts[k], &hi, &lo);
			ASSERT_EQ(hi, max_tasks[i][k]);
			ASSERT_EQ(lo, min_healthy[i][k]);
		}
	/* The e2e test's odd values: 3 tasks, min 67 %, max 134 %. */
	ecs_rolling_bounds(3, 67, 134, &hi, &lo);
	ASSERT_EQ(hi, 4); /* floor(4.02) */
	ASSERT_EQ(lo, 3); /* ceil(2.01) */
	/* 100 % / 100 %: no room above N, none to stop below it, so a
	 * deployment cannot progress (ECS: "unable to stop or start tasks
	 * during a deployment because of the service deployment
	 * configuration"); 1 task under 150 % is the same case. */
	ecs_rolling_bounds(4, 100, 100, &hi, &lo);
	ASSERT_EQ(hi, 4);
	ASSERT_EQ(lo, 4);
	ecs_rolling_bounds(1, 100, 150, &hi, &lo);
	ASSERT_EQ(hi, 1);
	ASSERT_EQ(lo, 1);
	/* 0 % minimum: everything old may go at once. */
	ecs_rolling_bounds(5, 0, 100, &hi, &lo);
	ASSERT_EQ(hi, 5);
	ASSERT_EQ(lo, 0);
	/* No tasks, or a negative count: nothing either way. */
	ecs_rolling_bounds(0, 100, 200, &hi, &lo);
	ASSERT_EQ(hi, 0);
	ASSERT_EQ(lo, 0);
	ecs_rolling_bounds(-3, 100, 200, &hi, &lo);
	ASSERT_EQ(hi, 0);
	ASSERT_EQ(lo, 0);
}

T_MAIN({
	if (argc > 1 && strcmp(argv[1], "demo-app") == 0)
		return demo_app_main(argc - 1, argv + 1);
	T_RUN(test_rolling_bounds);
	T_RUN(test_hosts_and_placement);
	T_RUN(test_killed_task_is_replaced);
	T_RUN(test_failed_start);
	T_RUN(test_no_asg_goes_into_subnets);
	T_RUN(test_shutdown_without_tasks);
	T_RUN(test_hosts_balance_azs);
	T_RUN(test_shutdown_kills_after_stop_timeout);
	T_RUN(test_demo_app_as_task);
	T_RUN(test_host_stop_drains_until_unused);
	T_RUN(test_drain_ends_after_the_delay);
	T_RUN(test_elb_unhealthy_is_replaced_after_grace);
	T_RUN(test_container_health_check);
	T_RUN(test_fargate_goes_into_service_subnets);
})
