/*
 * `vpcd status`: fetches GET /v1/stack from the admin API and prints it as
 * tables a person can scan: load balancers, rules, target health, services,
 * tasks, zones.
 */
#include "api/status.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <jansson.h>

#include "core/addr.h"

#define STATUS_MAX_BODY (16u << 20)

json_t *status_api_call(const char *api, const char *method, const char *path,
			const char *body, int timeout_s, int *code)
{
	struct sockaddr_in sa;
	struct timeval tv = {.tv_sec = timeout_s};
	uint32_t addr;
	uint16_t port;
	char req[512], *buf = NULL, *rbody;
	size_t len = 0, cap = 0, blen = body ? strlen(body) : 0;
	json_t *j = NULL;
	int fd = -1;

	*code = 0;
	if (addrport4_parse(api, &addr, &port) < 0)
		return NULL;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return NULL;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	sockaddr4_make(&sa, addr, port);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		goto out;
	snprintf(req, sizeof(req),
		 "%s %s HTTP/1.1\r\nHost: %s\r\n%sContent-Length: %zu\r\n"
		 "Connection: close\r\n\r\n",
		 method, path, api, body ? "Content-Type: application/json\r\n" : "", blen);
	if (write(fd, req, strlen(req)) != (ssize_t)strlen(req) ||
	    (blen && write(fd, body, blen) != (ssize_t)blen))
		goto out;
	for (;;) {
		ssize_t n;
		if (len + 4096 + 1 > cap) {
			char *nb;
			if (cap >= STATUS_MAX_BODY)
				goto out;
			cap = cap ? cap * 2 : 65536;
			nb = realloc(buf, cap);
			if (!nb)
				goto out;
			buf = nb;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			goto out;
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (!buf)
		goto out;
	buf[len] = '\0';
	if (strncmp(buf, "HTTP/1.1 ", 9) != 0)
		goto out;
	*code = atoi(buf + 9);
	rbody = strstr(buf, "\r\n\r\n");
	if (rbody)
		j = json_loads(rbody + 4, 0, NULL);
out:
	free(buf);
	if (fd >= 0)
		close(fd);
	return j;
}

static json_t *api_get(const char *api, const char *path)
{
	int code;
	json_t *j = status_api_call(api, "GET", path, NULL, 5, &code);
	if (code != 200) {
		json_decref(j);
		return NULL;
	}
	return j;
}

int status_host_stop(const char *api, const char *id)
{
	char path[192];
	int code;
	json_t *j;
	const char *msg;

	for (const char *p = id; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-')) {
			fprintf(stderr, "vpcd: '%s' is not an instance id (i-...)\n", id);
			return 1;
		}
	snprintf(path, sizeof(path), "/v1/hosts/%.64s/stop", id);
	j = status_api_call(api, "POST", path, NULL, 5, &code);
	msg = j ? json_string_value(json_object_get(j, code == 200 ? "message" : "error")) : NULL;
	if (code == 0) {
		fprintf(stderr, "vpcd: no answer from the admin API at %s\n", api);
		json_decref(j);
		return 1;
	}
	fprintf(code == 200 ? stdout : stderr, "%s%s\n", code == 200 ? "" : "vpcd: ",
		msg ? msg : "unexpected answer");
	json_decref(j);
	return code == 200 ? 0 : 1;
}

int status_resolver(const char *api, uint32_t *addr)
{
	json_t *j = api_get(api, "/v1/stack");
	const char *r = j ? json_string_value(json_object_get(j, "resolver")) : NULL;
	uint16_t port;
	int rc = r ? addrport4_parse(r, addr, &port) : -1;
	json_decref(j);
	return rc;
}

static const char *str(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s ? s : "-";
}

static long long num(json_t *o, const char *key)
{
	return json_integer_value(json_object_get(o, key));
}

static void print_lbs(json_t *stack)
{
	json_t *lb, *node, *l, *r, *v;
	size_t i, j, k, x;
	printf("LOAD BALANCERS\n");
	json_array_foreach(json_object_get(stack, "load_balancers"), i, lb)
	{
		printf("  %s  %s  %s\n", str(lb, "name"), str(lb, "scheme"), str(lb, "dns_name"));
		json_array_foreach(json_object_get(lb, "nodes"), j, node)
			printf("    node %-15s  %s\n", str(node, "address"), str(node, "az"));
		json_array_foreach(json_object_get(lb, "listeners"), j, l)
		{
			printf("    listener %s:%lld\n", str(l, "protocol"), num(l, "port"));
			printf("      %-8s  %-40s  %s\n", "PRIORITY", "CONDITIONS", "ACTION");
			json_array_foreach(json_object_get(l, "rules"), k, r)
			{
				char cond[256] = "";
				size_t off = 0;
				json_array_foreach(json_object_get(r, "conditions"), x, v)
				{
					int n = snprintf(cond + off, sizeof(cond) - off, "%s%s",
							 off ? " " : "", str(v, "summary"));
					if (n < 0 || (size_t)n >= sizeof(cond) - off)
						break;
					off += (size_t)n;
				}
				printf("      %-8lld  %-40s  %s\n", num(r, "priority"), cond,
				       str(json_array_get(json_object_get(r, "actions"), 0),
					   "description"));
			}
			printf("      %-8s  %-40s  %s\n", "default", "-",
			       str(json_array_get(json_object_get(l, "default_actions"), 0),
				   "description"));
		}
	}
}

static void print_tgs(json_t *stack)
{
	json_t *tg, *t;
	size_t i, j;
	printf("\nTARGET GROUPS\n");
	json_array_foreach(json_object_get(stack, "target_groups"), i, tg)
	{
		json_t *hc = json_object_get(tg, "health_check");
		printf("  %s  %s:%lld  health %s every %llds\n", str(tg, "name"),
		       str(tg, "protocol"), num(tg, "port"), str(hc, "path"),
		       num(hc, "interval_seconds"));
		if (json_array_size(json_object_get(tg, "targets")) == 0) {
			printf("    (no registered targets)\n");
			continue;
		}
		printf("    %-22s  %-10s  %s\n", "TARGET", "STATE", "REASON");
		json_array_foreach(json_object_get(tg, "targets"), j, t)
		{
			char id[64];
			snprintf(id, sizeof(id), "%s:%lld", str(t, "id"), num(t, "port"));
			printf("    %-22s  %-10s  %s\n", id, str(t, "state"), str(t, "reason"));
		}
	}
}

/* The containers of a task that is not simply running: which one waits,
 * which exited with what, and why (a dependency that never held, say). */
static void print_containers(json_t *t)
{
	json_t *c;
	size_t k;
	if (strcmp(str(t, "last_status"), "RUNNING") == 0)
		return;
	json_array_foreach(json_object_get(t, "containers"), k, c)
	{
		printf("      container %-20s  %-8s", str(c, "name"), str(c, "last_status"));
		if (json_is_integer(json_object_get(c, "exit_code")))
			printf("  exit %lld", num(c, "exit_code"));
		if (json_is_string(json_object_get(c, "reason")))
			printf("  %s", str(c, "reason"));
		putchar('\n');
	}
}

/* A service's deployments as `aws ecs describe-services` lists them: the
 * PRIMARY one first, then the ACTIVE ones still being replaced. */
static void print_deployments(json_t *s)
{
	json_t *d;
	size_t k;
	json_t *ds = json_object_get(s, "deployments");
	if (!json_array_size(ds))
		return;
	printf("    %-27s  %-7s  %-11s  %-7s  %-7s  %-7s  %-6s  %s\n", "DEPLOYMENT", "STATUS",
	       "ROLLOUT", "DESIRED", "RUNNING", "PENDING", "FAILED", "TASK DEFINITION");
	json_array_foreach(ds, k, d)
	{
		const char *td = str(d, "taskDefinition"), *slash = strrchr(td, '/');
		printf("    %-27s  %-7s  %-11s  %-7lld  %-7lld  %-7lld  %-6lld  %s\n", str(d, "id"),
		       str(d, "status"), str(d, "rolloutState"), num(d, "desiredCount"),
		       num(d, "runningCount"), num(d, "pendingCount"), num(d, "failedTasks"),
		       slash ? slash + 1 : td);
	}
}

static void print_services(json_t *stack)
{
	json_t *s, *t, *h;
	size_t i, j;
	printf("\nHOSTS\n");
	json_array_foreach(json_object_get(stack, "hosts"), i, h)
	{
		printf("  %s  %s  %-7s  %lld tasks", str(h, "id"), str(h, "az"), str(h, "status"),
		       num(h, "tasks"));
		if (json_is_integer(json_object_get(h, "registered_cpu")))
			printf("  %s  cpu %lld/%lld  memory %lld/%lld MiB free", str(h, "instance_type"),
			       num(h, "remaining_cpu"), num(h, "registered_cpu"),
			       num(h, "remaining_memory"), num(h, "registered_memory"));
		printf("\n");
	}
	printf("\nSERVICES\n");
	json_array_foreach(json_object_get(stack, "services"), i, s)
	{
		printf("  %s  desired %lld  running %lld  pending %lld\n", str(s, "name"),
		       num(s, "desired"), num(s, "running"), num(s, "pending"));
		print_deployments(s);
		printf("    %-32s  %-15s  %-11s  %-8s  %-9s  %-7s  %s\n", "TASK", "ADDRESS", "AZ",
		       "PID", "HEALTH", "LAUNCH", "STATUS");
		json_array_foreach(json_object_get(s, "tasks"), j, t)
		{
			printf("    %-32s  %-15s  %-11s  %-8lld  %-9s  %-7s  %s", str(t, "id"),
			       str(t, "address"), str(t, "az"), num(t, "pid"),
			       str(t, "health_status"), str(t, "launch_type"),
			       str(t, "last_status"));
			if (json_is_string(json_object_get(t, "stopped_reason")))
				printf(" (%s: %s)", str(t, "stop_code"), str(t, "stopped_reason"));
			putchar('\n');
			print_containers(t);
		}
	}
}

static void print_zones(json_t *stack)
{
	json_t *z, *r, *v;
	size_t i, j, k;
	printf("\nZONES (resolver %s)\n", str(stack, "resolver"));
	json_array_foreach(json_object_get(stack, "zones"), i, z)
	{
		printf("  %s  %s  %s\n", str(z, "name"), str(z, "id"),
		       json_is_true(json_object_get(z, "private")) ? "private" : "public");
		json_array_foreach(json_object_get(z, "records"), j, r)
		{
			printf("    %-36s  %-5s  %-5lld ", str(r, "name"), str(r, "type"),
			       num(r, "ttl"));
			json_array_foreach(json_object_get(r, "values"), k, v)
				printf(" %s", json_string_value(v));
			putchar('\n');
		}
	}
}

int status_main(const char *api, int json)
{
	json_t *stack = api_get(api, "/v1/stack");
	if (!stack) {
		fprintf(stderr, "vpcd: status: no vpcd answers at %s (is `vpcd up` running? "
				"name its admin API with --api)\n",
			api);
		return 1;
	}
	if (json) {
		json_dumpf(stack, stdout, JSON_INDENT(2));
		putchar('\n');
	} else {
		printf("STACK %s (%s)\n\n", str(json_object_get(stack, "stack"), "name"),
		       str(json_object_get(stack, "stack"), "region"));
		print_lbs(stack);
		print_tgs(stack);
		print_services(stack);
		print_zones(stack);
	}
	json_decref(stack);
	return 0;
}
