/*
 * Health checks (see health.h). The state machine and the matcher are pure;
 * the checker opens a fresh connection per check, sends
 * "GET <path> HTTP/1.1" with Host <ip>:<port> and Connection: close, and
 * judges the status line. Checks start at registration and then repeat
 * every interval from the start of the previous one (AWS: the time a check
 * takes does not move the next one).
 */
#include "alb/health.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "alb/internal.h"
#include "core/addr.h"
#include "core/log.h"
#include "http/http1.h"

enum alb_target_state alb_health_next(enum alb_target_state prev, enum alb_hc_result r,
				      struct alb_hc_count *cnt, int healthy_th, int unhealthy_th)
{
	if (prev != ALB_TARGET_INITIAL && prev != ALB_TARGET_HEALTHY &&
	    prev != ALB_TARGET_UNHEALTHY)
		return prev;
	if (r == ALB_HC_OK) {
		cnt->ok++;
		cnt->fail = 0;
		if (prev == ALB_TARGET_INITIAL)
			return ALB_TARGET_HEALTHY;
		if (prev == ALB_TARGET_UNHEALTHY && cnt->ok >= healthy_th)
			return ALB_TARGET_HEALTHY;
		return prev;
	}
	cnt->fail++;
	cnt->ok = 0;
	if (cnt->fail >= unhealthy_th)
		return ALB_TARGET_UNHEALTHY;
	return prev;
}

static int parse_code(const char **pp)
{
	const char *p = *pp;
	int v = 0, nd = 0;
	while (*p == ' ')
		p++;
	while (*p >= '0' && *p <= '9' && nd < 4) {
		v = v * 10 + (*p - '0');
		p++;
		nd++;
	}
	while (*p == ' ')
		p++;
	*pp = p;
	return nd ? v : -1;
}

bool alb_hc_matcher_match(const char *m, int code)
{
	const char *p = m;
	if (!m || !*m)
		return code == 200;
	while (*p) {
		int lo = parse_code(&p), hi;
		if (lo < 0)
			return false;
		hi = lo;
		if (*p == '-') {
			p++;
			hi = parse_code(&p);
			if (hi < 0)
				return false;
		}
		if (code >= lo && code <= hi)
			return true;
		if (*p == ',')
			p++;
		else if (*p)
			return false;
	}
	return false;
}

const char *alb_hc_reason(enum alb_hc_result r, int code, char *desc, size_t desclen)
{
	switch (r) {
	case ALB_HC_OK:
		desc[0] = '\0';
		return NULL;
	case ALB_HC_MISMATCH:
		snprintf(desc, desclen, "Health checks failed with these codes: [%d]", code);
		return "Target.ResponseCodeMismatch";
	case ALB_HC_TIMEOUT:
		snprintf(desc, desclen, "Request timed out");
		return "Target.Timeout";
	case ALB_HC_FAILED:
		break;
	}
	snprintf(desc, desclen, "Health checks failed");
	return "Target.FailedHealthChecks";
}

static const struct model_health_check *hc_of(struct alb_target *t)
{
	return &t->a->m->tgs[t->tg].hc;
}

static void hc_close(struct alb_target *t)
{
	struct loop *loop = t->a->loop;
	loop_timer_stop(loop, &t->hc_timeout);
	if (t->hc_fd >= 0) {
		loop_io_del(loop, &t->hc_io);
		close(t->hc_fd);
		t->hc_fd = -1;
	}
}

static void hc_done(struct alb_target *t, enum alb_hc_result r, int code)
{
	const struct model_health_check *hc = hc_of(t);
	enum alb_target_state prev = t->state, next;
	char desc[64];
	const char *reason;
	char ab[16];

	hc_close(t);
	next = alb_health_next(prev, r, &t->cnt, hc->healthy_threshold, hc->unhealthy_threshold);
	reason = alb_hc_reason(r, code, desc, sizeof(desc));
	if (next == ALB_TARGET_HEALTHY) {
		alb__target_set(t, next, NULL, NULL);
	} else if (next == ALB_TARGET_UNHEALTHY) {
		/* an unhealthy target keeps its last failure's reason until it
		 * recovers */
		if (r != ALB_HC_OK)
			alb__target_set(t, next, reason, desc);
	} else if (next == ALB_TARGET_INITIAL) {
		alb__target_set(t, next, "Elb.InitialHealthChecking", "Initial health checks in progress");
	}
	if (r != ALB_HC_OK)
		log_debug("health check of %s:%u in tg %s failed: %s", addr4_str(t->addr, ab),
			  t->port, t->a->m->tgs[t->tg].name ? t->a->m->tgs[t->tg].name : "?",
			  reason);
}

static void hc_on_timeout(struct loop *loop, struct loop_timer *tm)
{
	(void)loop;
	hc_done(tm->data, ALB_HC_TIMEOUT, 0);
}

static void hc_on_io(struct loop *loop, struct loop_io *io, uint32_t ev)
{
	struct alb_target *t = io->data;
	(void)loop;

	if (!t->hc_connected) {
		int err = 0;
		socklen_t sl = sizeof(err);
		if (getsockopt(t->hc_fd, SOL_SOCKET, SO_ERROR, &err, &sl) < 0 || err) {
			hc_done(t, ALB_HC_FAILED, 0);
			return;
		}
		if (!(ev & EPOLLOUT))
			return;
		t->hc_connected = true;
	}
	if (t->hc_sent < t->hc_outlen) {
		ssize_t n = send(t->hc_fd, t->hc_out + t->hc_sent, t->hc_outlen - t->hc_sent,
				 MSG_NOSIGNAL);
		if (n < 0 && errno != EAGAIN) {
			hc_done(t, ALB_HC_FAILED, 0);
			return;
		}
		if (n > 0)
			t->hc_sent += (size_t)n;
		if (t->hc_sent == t->hc_outlen && loop_io_mod(t->a->loop, io, EPOLLIN) < 0) {
			hc_done(t, ALB_HC_FAILED, 0);
			return;
		}
		return;
	}
	if (ev & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
		ssize_t n = read(t->hc_fd, t->hc_in + t->hc_len, sizeof(t->hc_in) - t->hc_len);
		int minor, status;
		struct http_slice reason;
		long rc;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n > 0)
			t->hc_len += (size_t)n;
		rc = http_parse_status_line(t->hc_in, t->hc_len, &minor, &status, &reason);
		if (rc > 0) {
			bool ok = alb_hc_matcher_match(hc_of(t)->matcher, status);
			hc_done(t, ok ? ALB_HC_OK : ALB_HC_MISMATCH, status);
		} else if (rc != HTTP_INCOMPLETE || n <= 0 || t->hc_len == sizeof(t->hc_in)) {
			hc_done(t, ALB_HC_FAILED, 0);
		}
	}
}

static void hc_begin(struct alb_target *t)
{
	const struct model_health_check *hc = hc_of(t);
	uint16_t port = hc->port > 0 ? (uint16_t)hc->port : t->port;
	char ab[16];
	int fd, n;

	if (t->hc_fd >= 0)
		return; /* the previous check still runs (timeout >= interval) */
	if (t->state == ALB_TARGET_INITIAL)
		alb__target_set(t, ALB_TARGET_INITIAL, "Elb.InitialHealthChecking",
				"Initial health checks in progress");
	n = snprintf(t->hc_out, sizeof(t->hc_out),
		     "GET %s HTTP/1.1\r\nHost: %s:%u\r\nUser-Agent: ELB-HealthChecker/2.0\r\n"
		     "Connection: close\r\nAccept-Encoding: gzip, compressed\r\n\r\n",
		     hc->path && hc->path[0] ? hc->path : "/", addr4_str(t->addr, ab), port);
	if (n < 0 || (size_t)n >= sizeof(t->hc_out)) {
		hc_done(t, ALB_HC_FAILED, 0);
		return;
	}
	t->hc_outlen = (size_t)n;
	t->hc_sent = 0;
	t->hc_len = 0;
	t->hc_connected = false;
	fd = sock_connect4(t->addr, port);
	if (fd < 0) {
		hc_done(t, ALB_HC_FAILED, 0);
		return;
	}
	t->hc_fd = fd;
	if (loop_io_add(t->a->loop, &t->hc_io, fd, EPOLLOUT, hc_on_io, t) < 0) {
		close(fd);
		t->hc_fd = -1;
		hc_done(t, ALB_HC_FAILED, 0);
		return;
	}
	loop_timer_start(t->a->loop, &t->hc_timeout,
			 (uint64_t)(hc->timeout_s > 0 ? hc->timeout_s : 5) * 1000u);
}

static void hc_on_timer(struct loop *loop, struct loop_timer *tm)
{
	struct alb_target *t = tm->data;
	const struct model_health_check *hc = hc_of(t);
	loop_timer_start(loop, &t->hc_timer,
			 (uint64_t)(hc->interval_s > 0 ? hc->interval_s : 30) * 1000u);
	hc_begin(t);
}

void alb__hc_init(struct alb_target *t)
{
	loop_timer_init(&t->hc_timer, hc_on_timer, t);
	loop_timer_init(&t->hc_timeout, hc_on_timeout, t);
	t->hc_fd = -1;
}

void alb__hc_start(struct alb_target *t)
{
	t->cnt.ok = 0;
	t->cnt.fail = 0;
	/* the first check at once, so a new task turns healthy fast */
	loop_timer_start(t->a->loop, &t->hc_timer, 0);
}

void alb__hc_stop(struct alb_target *t)
{
	loop_timer_stop(t->a->loop, &t->hc_timer);
	hc_close(t);
}
