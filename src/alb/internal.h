/*
 * Types shared by the files of the alb plane (alb.c: listeners, proxy,
 * target groups; health.c: the checker). Not for other planes.
 *
 * Ownership: struct alb owns its target groups, listening sockets and client
 * connections; a target group owns its targets until they are removed; a
 * removed target lives on while upstream connections still point at it
 * (refs) and is freed with loop_defer_free.
 */
#ifndef VPCD_ALB_INTERNAL_H
#define VPCD_ALB_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "alb/alb.h"
#include "alb/health.h"
#include "core/loop.h"
#include "http/http1.h"
#include "model/model.h"

struct alb_up;
struct alb_conn;

struct alb_target {
	struct alb *a;
	int tg;
	size_t idx; /* position in its group while registered */
	uint32_t addr;
	uint16_t port;
	enum alb_target_state state;
	const char *reason;
	char desc[96];
	struct alb_hc_count cnt;
	bool removed;
	int refs;	     /* upstream connections pointing here */
	struct alb_up *pool; /* idle keep-alive connections */
	size_t npool;
	struct loop_timer drain_timer;
	/* health checking */
	struct loop_timer hc_timer;   /* next check */
	struct loop_timer hc_timeout; /* the check in progress */
	struct loop_io hc_io;
	int hc_fd; /* -1 when no check runs */
	bool hc_connected;
	size_t hc_sent, hc_outlen, hc_len;
	char hc_out[1280];
	char hc_in[512];
	/* slow start (select.c): in it since ss_t0 (CLOCK_MONOTONIC) */
	bool ss;
	struct timespec ss_t0;
};

/* CloudWatch-style counters (metrics.c prints them). */
struct alb_counters {
	uint64_t requests;
	uint64_t target_2xx, target_3xx, target_4xx, target_5xx;
	uint64_t elb_3xx, elb_4xx, elb_5xx, elb_502, elb_503, elb_504;
	uint64_t fixed_response, redirect;
	uint64_t trt_count; /* TargetResponseTime samples */
	double trt_sum;	    /* seconds */
	uint64_t rejected;  /* dropped by security groups (not a CloudWatch metric) */
	uint64_t new_conns;
	uint64_t desync_nc; /* DesyncMitigationMode_NonCompliant_Request_Count */
};

struct alb_tg {
	struct alb_target **t;
	enum alb_target_state *states; /* mirrors t[i]->state, for selection */
	size_t n, cap;
	size_t rr;
	bool used; /* referenced by a listener: else targets are "unused" */
	struct alb_counters cnt;
};

struct alb_lsock {
	struct alb *a;
	int listener;
	uint16_t port; /* the model's listener port (X-Forwarded-Port) */
	uint16_t bound_port; /* port + --port-offset, what clients connect to */
	int fd;
	struct loop_io io;
	struct loop_timer pause; /* accept paused after EMFILE/ENFILE/ENOMEM */
	uint32_t addr; /* the LB node address it is bound to */
};

#define ALB_BUFPOOL_MAX 64 /* free 16 KiB I/O buffers kept for reuse */

struct alb {
	struct loop *loop;
	const struct model *m;
	struct alb_tg *tgs;
	size_t ntgs;
	struct alb_lsock *socks;
	size_t nsocks;
	struct alb_conn *conns; /* doubly linked */
	alb_health_fn hfn;
	void *hdata;
	struct alb_counters *lb_cnt; /* per model LB */
	FILE *access_log;	     /* or NULL; fully buffered, flushed by log_flush */
	char *log_buf;		     /* access_log's stdio buffer (64 KiB) */
	struct loop_timer log_flush; /* armed while access-log lines wait in memory */
	time_t tcache_sec;	     /* access-log time up to the second, */
	char tcache[32];	     /* formatted for tcache_sec */
	size_t tcache_len;	     /* 0: nothing cached */
	char *bufpool[ALB_BUFPOOL_MAX]; /* free I/O buffers of connections */
	size_t nbufpool;
	uint64_t rnd;		     /* weighted forward draws */
};

/* The target for a request to group tgi, by the group's algorithm
 * (select.c); -1 when none can take it. */
int alb__select(struct alb *a, int tgi);
/* alb__select with the stickiness of group tgi: lb_cookie (AWSALB): the
 * target the request's cookie names while it is routable, else a new pick;
 * the AWSALB and AWSALBCORS Set-Cookie lines naming the target are
 * appended to cookie (NUL-terminated, cap bytes). app_cookie (AWSALBAPP):
 * the same for a session (AWSALBAPP-0 and the application's cookie in the
 * request); without one *app_pending is set: the response decides
 * (alb__app_cookie_set when it sets the application's cookie). */
int alb__pick(struct alb *a, int tgi, const struct http_header *h, size_t n, char *cookie,
              size_t cap, bool *app_pending);
/* Appends the AWSALBAPP-0..3 Set-Cookie lines naming target addr:port of
 * app_cookie group tgi (stickiness for app_sticky_s from now) to cookie. */
void alb__app_cookie_set(struct alb *a, int tgi, uint32_t addr, uint16_t port, char *cookie,
                         size_t cap);
/* Slow start bookkeeping on t's state change from prev (select.c). */
void alb__ss_note(struct alb_target *t, enum alb_target_state prev);

/* Moves t to state with reason (static string or NULL) and description,
 * keeps the group's state mirror, and calls the health callback on a change. */
void alb__target_set(struct alb_target *t, enum alb_target_state s, const char *reason,
		     const char *desc);

#endif
