/* The ECS runtime state file (state.json): round trip of tasks, atomic
 * replacement, a missing or foreign file, /proc start times, and the state
 * directory's lock. */
#include "t.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ecs/state.h"

static char dir[] = "/tmp/vpcd-state-XXXXXX";

static void path_in(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", dir, name);
}

static void test_round_trip(void)
{
	struct ecs_state_task in[2], *out = NULL;
	char path[256], tmp[300];
	size_t n = 99;

	memset(in, 0, sizeof(in));
	snprintf(in[0].id, sizeof(in[0].id), "%s", "0123456789abcdef0123456789abcdef");
	snprintf(in[0].arn, sizeof(in[0].arn), "arn:aws:ecs:us-east-1:123456789012:task/c/%s",
	         in[0].id);
	in[0].service = 1;
	snprintf(in[0].service_logical, sizeof(in[0].service_logical), "ServiceA");
	snprintf(in[0].host_id, sizeof(in[0].host_id), "i-0123456789abcdef0");
	in[0].subnet = 1;
	in[0].addr = 0x7f4d0205u;
	snprintf(in[0].td_arn, sizeof(in[0].td_arn),
	         "arn:aws:ecs:us-east-1:123456789012:task-definition/svc:1");
	in[0].started_unix_ms = 1764115200123ull;
	in[0].nprocs = 2;
	in[0].procs[0] = (struct ecs_state_proc){.pid = 4242, .pgid = 4242, .starttime = 987654321ull};
	snprintf(in[0].procs[0].name, sizeof(in[0].procs[0].name), "app \"quoted\"");
	in[0].procs[1] = (struct ecs_state_proc){.pid = 0, .pgid = 0, .starttime = 0};
	snprintf(in[0].procs[1].name, sizeof(in[0].procs[1].name), "sidecar");
	snprintf(in[1].id, sizeof(in[1].id), "ffff");
	in[1].nprocs = 1;
	in[1].procs[0].pid = 7;

	path_in(path, sizeof(path), "state.json");
	ASSERT_EQ(ecs_state_write(path, in, 2), 0);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	ASSERT_TRUE(access(tmp, F_OK) < 0); /* renamed away */
	ASSERT_EQ(ecs_state_read(path, &out, &n), 0);
	ASSERT_EQ(n, 2);
	if (n == 2 && out) {
		ASSERT_STR_EQ(out[0].id, in[0].id);
		ASSERT_STR_EQ(out[0].arn, in[0].arn);
		ASSERT_EQ(out[0].service, 1);
		ASSERT_STR_EQ(out[0].service_logical, "ServiceA");
		ASSERT_STR_EQ(out[0].host_id, "i-0123456789abcdef0");
		ASSERT_EQ(out[0].subnet, 1);
		ASSERT_EQ(out[0].addr, 0x7f4d0205u);
		ASSERT_STR_EQ(out[0].td_arn, in[0].td_arn);
		ASSERT_EQ(out[0].started_unix_ms, 1764115200123ull);
		ASSERT_EQ(out[0].nprocs, 2);
		ASSERT_EQ(out[0].procs[0].pid, 4242);
		ASSERT_EQ(out[0].procs[0].pgid, 4242);
		ASSERT_EQ(out[0].procs[0].starttime, 987654321ull);
		ASSERT_STR_EQ(out[0].procs[0].name, "app \"quoted\"");
		ASSERT_STR_EQ(out[0].procs[1].name, "sidecar");
		ASSERT_EQ(out[0].procs[1].pid, 0);
		ASSERT_STR_EQ(out[1].id, "ffff");
		ASSERT_STR_EQ(out[1].host_id, "");
		ASSERT_EQ(out[1].procs[0].pid, 7);
	}
	free(out);

	/* Rewritten with none: an empty list, not a stale one. */
	ASSERT_EQ(ecs_state_write(path, NULL, 0), 0);
	ASSERT_EQ(ecs_state_read(path, &out, &n), 0);
	ASSERT_EQ(n, 0);
	free(out);
	unlink(path);
}

static void test_missing_and_foreign(void)
{
	struct ecs_state_task *out = (void *)1;
	char path[256];
	size_t n = 5;
	FILE *f;

	path_in(path, sizeof(path), "nope.json");
	ASSERT_EQ(ecs_state_read(path, &out, &n), -ENOENT);
	ASSERT_TRUE(out == NULL);
	ASSERT_EQ(n, 0);
	path_in(path, sizeof(path), "foreign.json");
	f = fopen(path, "w");
	ASSERT_TRUE(f != NULL);
	if (f) {
		fputs("{\"tasks\": 3}", f);
		fclose(f);
	}
	ASSERT_EQ(ecs_state_read(path, &out, &n), -EINVAL);
	f = fopen(path, "w");
	if (f) {
		fputs("{\"version\": 1, \"tasks\": [", f); /* cut short */
		fclose(f);
	}
	ASSERT_EQ(ecs_state_read(path, &out, &n), -EINVAL);
	unlink(path);
}

static void test_starttime(void)
{
	uint64_t self = ecs_state_proc_starttime((int)getpid());
	pid_t child;
	ASSERT_TRUE(self > 0);
	ASSERT_EQ(ecs_state_proc_starttime((int)getpid()), self);
	ASSERT_EQ(ecs_state_proc_starttime(0), 0);
	/* A zombie does not count as running. */
	child = fork();
	if (child == 0)
		_exit(0);
	ASSERT_TRUE(child > 0);
	usleep(100 * 1000);
	ASSERT_EQ(ecs_state_proc_starttime((int)child), 0);
	waitpid(child, NULL, 0);
	ASSERT_EQ(ecs_state_proc_starttime((int)child), 0);
}

static void test_lock(void)
{
	int holder = -1, fd, fd2;
	char path[256];

	fd = ecs_state_lock(dir, &holder);
	ASSERT_TRUE(fd >= 0);
	/* flock is per open file description: a second open is refused even in
	 * the same process, and names the holder. */
	fd2 = ecs_state_lock(dir, &holder);
	ASSERT_EQ(fd2, -EWOULDBLOCK);
	ASSERT_EQ(holder, (int)getpid());
	if (fd >= 0)
		close(fd);
	fd2 = ecs_state_lock(dir, &holder);
	ASSERT_TRUE(fd2 >= 0);
	if (fd2 >= 0)
		close(fd2);
	path_in(path, sizeof(path), "vpcd.pid");
	unlink(path);
}

T_MAIN({
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	T_RUN(test_round_trip);
	T_RUN(test_missing_and_foreign);
	T_RUN(test_starttime);
	T_RUN(test_lock);
	rmdir(dir);
})
