/* The demo app: the real server forked on a high 127.0.0.x port (/, health,
 * /echo, 404, keep-alive, pipelining, bodies, SIGTERM -> exit 0), and `vpcd
 * exec` replacing resolv.conf for its command only. Its request parsing is
 * src/http/http1.c, tested in test_http1.c. */
#include "t.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/addr.h"
#include "demo/demo.h"



static uint32_t demo_addr = (127u << 24) | 57u; /* 127.0.0.57 */
static uint16_t demo_port;

static pid_t demo_start(void)
{
	char port[8];
	pid_t pid;
	demo_port = (uint16_t)(42000 + getpid() % 10000);
	snprintf(port, sizeof(port), "%u", demo_port);
	pid = fork();
	if (pid == 0) {
		char *args[] = {"demo-app", NULL};
		setenv("HOST", "127.0.0.57", 1);
		setenv("PORT", port, 1);
		setenv("SERVICE_NAME", "svc-test", 1);
		_exit(demo_app_main(1, args));
	}
	return pid;
}

static int demo_connect(void)
{
	struct timeval tv = {.tv_sec = 3};
	struct sockaddr_in sa;
	sockaddr4_make(&sa, demo_addr, demo_port);
	for (int i = 0; i < 300; i++) {
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -1;
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
			return fd;
		}
		close(fd);
		usleep(10000);
	}
	return -1;
}

static bool send_all(int fd, const char *s)
{
	size_t n = strlen(s), off = 0;
	while (off < n) {
		ssize_t w = send(fd, s + off, n - off, MSG_NOSIGNAL);
		if (w <= 0)
			return false;
		off += (size_t)w;
	}
	return true;
}

/* Length of the first complete response in buf (head + Content-Length
 * body), or 0 when not complete yet. */
static size_t response_len(const char *buf, size_t len)
{
	const char *end = memmem(buf, len, "\r\n\r\n", 4), *cl;
	size_t head, body;
	if (!end)
		return 0;
	head = (size_t)(end - buf) + 4;
	cl = memmem(buf, head, "Content-Length: ", 16);
	body = cl ? (size_t)strtoul(cl + 16, NULL, 10) : 0;
	return len >= head + body ? head + body : 0;
}

/* Reads until k complete responses are in buf (NUL-terminated). Returns
 * the bytes read, or 0 on timeout/close. */
static size_t read_responses(int fd, char *buf, size_t cap, int k)
{
	size_t len = 0;
	for (;;) {
		size_t off = 0;
		int got = 0;
		ssize_t n;
		while (got < k) {
			size_t r = response_len(buf + off, len - off);
			if (!r)
				break;
			off += r;
			got++;
		}
		if (got == k)
			return len;
		if (len + 1 >= cap)
			return 0;
		n = recv(fd, buf + len, cap - 1 - len, 0);
		if (n <= 0)
			return 0;
		len += (size_t)n;
		buf[len] = '\0';
	}
}

static void test_demo_app_serves(void)
{
	char buf[8192], want[128];
	pid_t pid = demo_start();
	int fd, status = 0;
	size_t n;

	ASSERT_TRUE(pid > 0);
	fd = demo_connect();
	ASSERT_TRUE(fd >= 0);
	if (fd < 0)
		goto stop;

	/* GET / */
	ASSERT_TRUE(send_all(fd, "GET / HTTP/1.1\r\nHost: svc\r\n\r\n"));
	n = read_responses(fd, buf, sizeof(buf), 1);
	ASSERT_TRUE(n > 0);
	ASSERT_TRUE(strncmp(buf, "HTTP/1.1 200 OK\r\n", 17) == 0);
	snprintf(want, sizeof(want), "\r\n\r\nhello from svc-test task on 127.0.0.57:%u\n",
	         demo_port);
	ASSERT_STR_CONTAINS(buf, want);

	/* Same connection: the health path. */
	ASSERT_TRUE(send_all(fd, "GET /application-status/health HTTP/1.1\r\nHost: svc\r\n\r\n"));
	n = read_responses(fd, buf, sizeof(buf), 1);
	ASSERT_TRUE(n > 0);
	ASSERT_TRUE(strncmp(buf, "HTTP/1.1 200 OK\r\n", 17) == 0);
	ASSERT_TRUE(n >= 2 && strcmp(buf + n - 2, "OK") == 0);
	ASSERT_STR_CONTAINS(buf, "Content-Length: 2\r\n");

	/* Pipelined: a chunked POST, a Content-Length POST, /echo, a 404. */
	ASSERT_TRUE(send_all(fd,
	                     "POST /x HTTP/1.1\r\nHost: svc\r\nTransfer-Encoding: chunked\r\n\r\n"
	                     "3\r\nabc\r\n0\r\n\r\n"
	                     "POST / HTTP/1.1\r\nHost: svc\r\nContent-Length: 5\r\n\r\nhello"
	                     "GET /echo HTTP/1.1\r\nHost: svc\r\nX-Forwarded-For: 10.0.1.9\r\n\r\n"
	                     "GET /nope HTTP/1.1\r\nHost: svc\r\n\r\n"));
	n = read_responses(fd, buf, sizeof(buf), 4);
	ASSERT_TRUE(n > 0);
	ASSERT_TRUE(strncmp(buf, "HTTP/1.1 404 Not Found\r\n", 24) == 0); /* POST /x */
	ASSERT_STR_CONTAINS(buf, "hello from svc-test");
	ASSERT_STR_CONTAINS(buf, "GET /echo HTTP/1.1\nHost: svc\nX-Forwarded-For: 10.0.1.9\n");
	{
		const char *last = NULL, *p = buf;
		while ((p = strstr(p, "HTTP/1.1 ")) != NULL)
			last = p++;
		ASSERT_TRUE(last && strncmp(last, "HTTP/1.1 404", 12) == 0);
	}

	/* /burn?ms=N uses N ms of CPU before it answers. */
	{
		struct timespec c0, c1;
		clock_gettime(CLOCK_MONOTONIC, &c0);
		ASSERT_TRUE(send_all(fd, "GET /burn?ms=30 HTTP/1.1\r\nHost: svc\r\n\r\n"));
		n = read_responses(fd, buf, sizeof(buf), 1);
		clock_gettime(CLOCK_MONOTONIC, &c1);
		ASSERT_TRUE(n > 0);
		ASSERT_TRUE(strncmp(buf, "HTTP/1.1 200 OK\r\n", 17) == 0);
		ASSERT_STR_CONTAINS(buf, " ms of CPU on 127.0.0.57:");
		{
			const char *b = strstr(buf, "\r\n\r\nburned ");
			long used = b ? strtol(b + 11, NULL, 10) : -1;
			long wall = (c1.tv_sec - c0.tv_sec) * 1000 +
			            (c1.tv_nsec - c0.tv_nsec) / 1000000;
			/* It stops at 30 ms of CPU, or at the 20 x 30 ms wall-clock
			 * cap when a loaded machine gives it less; CPU time cannot
			 * pass faster than the wall clock. */
			ASSERT_TRUE(used >= 0);
			ASSERT_TRUE(used >= 30 || wall >= 600);
			ASSERT_TRUE(wall >= used - 1);
		}
	}

	/* /session?name=N sets cookie N to the task's address; a bad name is a 400 */
	ASSERT_TRUE(send_all(fd, "GET /session?name=SESS HTTP/1.1\r\nHost: svc\r\n\r\n"
	                         "GET /session?name=a;b HTTP/1.1\r\nHost: svc\r\n\r\n"));
	n = read_responses(fd, buf, sizeof(buf), 2);
	ASSERT_TRUE(n > 0 && strncmp(buf, "HTTP/1.1 200 OK\r\n", 17) == 0);
	snprintf(want, sizeof(want), "\r\nSet-Cookie: SESS=127.0.0.57-%u; Path=/\r\n", demo_port);
	ASSERT_STR_CONTAINS(buf, want);
	ASSERT_STR_CONTAINS(buf, "HTTP/1.1 400 Bad Request\r\n");

	/* Connection: close is answered and closed. */
	ASSERT_TRUE(send_all(fd, "GET / HTTP/1.1\r\nHost: svc\r\nConnection: close\r\n\r\n"));
	n = read_responses(fd, buf, sizeof(buf), 1);
	ASSERT_TRUE(n > 0);
	ASSERT_STR_CONTAINS(buf, "Connection: close\r\n");
	ASSERT_EQ(recv(fd, buf, sizeof(buf), 0), 0);
	close(fd);

	/* A malformed request gets a 400. */
	fd = demo_connect();
	ASSERT_TRUE(fd >= 0);
	if (fd >= 0) {
		ASSERT_TRUE(send_all(fd, "GET / HTTP/1.1\r\nBad Header: x\r\n\r\n"));
		n = read_responses(fd, buf, sizeof(buf), 1);
		ASSERT_TRUE(n > 0 && strncmp(buf, "HTTP/1.1 400 ", 13) == 0);
		close(fd);
	}

	/* A head over 64 KiB: 431 and close. */
	fd = demo_connect();
	ASSERT_TRUE(fd >= 0);
	if (fd >= 0) {
		static char big[70 * 1024];
		memset(big, 'a', sizeof(big) - 1);
		memcpy(big, "GET / HTTP/1.1\r\nX: ", 19);
		send_all(fd, big);
		n = read_responses(fd, buf, sizeof(buf), 1);
		ASSERT_TRUE(n > 0 && strncmp(buf, "HTTP/1.1 431 ", 13) == 0);
		close(fd);
	}

	/* Many connections at once. */
	{
		int fds[64], ok = 0;
		for (int i = 0; i < 64; i++) {
			fds[i] = demo_connect();
			if (fds[i] >= 0)
				send_all(fds[i], "GET /application-status/health HTTP/1.1\r\n\r\n");
		}
		for (int i = 0; i < 64; i++) {
			if (fds[i] < 0)
				continue;
			if (read_responses(fds[i], buf, sizeof(buf), 1) > 0 &&
			    strncmp(buf, "HTTP/1.1 200", 12) == 0)
				ok++;
			close(fds[i]);
		}
		ASSERT_EQ(ok, 64);
	}
stop:
	ASSERT_EQ(kill(pid, SIGTERM), 0);
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(WEXITSTATUS(status), 0);
}

/* --- vpcd exec --- */

static size_t read_file(const char *path, char *buf, size_t cap)
{
	FILE *f = fopen(path, "r");
	size_t n = 0;
	if (f) {
		n = fread(buf, 1, cap - 1, f);
		fclose(f);
	}
	buf[n] = '\0';
	return n;
}

static void test_vpc_exec_resolv_conf(void)
{
	char before[4096], after[4096], out[4096];
	int p[2], status = 0;
	size_t n = 0;
	pid_t pid;

	read_file("/etc/resolv.conf", before, sizeof(before));
	ASSERT_EQ(pipe(p), 0);
	pid = fork();
	if (pid == 0) {
		char *args[] = {"cat", "/etc/resolv.conf", NULL};
		dup2(p[1], 1);
		close(p[0]);
		close(p[1]);
		_exit(vpc_exec_main((127u << 24) | (77u << 16) | 2u, args));
	}
	close(p[1]);
	for (;;) {
		ssize_t r = read(p[0], out + n, sizeof(out) - 1 - n);
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	out[n] = '\0';
	close(p[0]);
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	ASSERT_TRUE(WIFEXITED(status));
	if (WIFEXITED(status) && WEXITSTATUS(status) == 1) {
		fprintf(stderr, "skip: no mount namespace available here\n");
		return;
	}
	ASSERT_EQ(WEXITSTATUS(status), 0);
	ASSERT_STR_EQ(out, "nameserver 127.77.0.2\noptions attempts:2 timeout:1\n");
	/* The host's file is untouched. */
	read_file("/etc/resolv.conf", after, sizeof(after));
	ASSERT_STR_EQ(after, before);

	/* A command that does not exist: 127. */
	pid = fork();
	if (pid == 0) {
		char *args[] = {"vpcd-test-no-such-program", NULL};
		int nul = open("/dev/null", O_WRONLY);
		dup2(nul, 2);
		_exit(vpc_exec_main((127u << 24) | (77u << 16) | 2u, args));
	}
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 127);
}

T_MAIN({
	T_RUN(test_demo_app_serves);
	T_RUN(test_vpc_exec_resolv_conf);
})
