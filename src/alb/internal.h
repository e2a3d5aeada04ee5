/*
 * Types shared by the files of the alb plane (alb.c: listeners, proxy,
 * workers, target groups; snap.c: snapshots; health.c: the checker;
 * select.c: target selection). Not for other planes.
 *
 * Threads: the control thread (the loop alb_new was given) owns struct alb,
 * its target groups, the targets' health and draining, and builds snapshots.
 * Each worker (struct alb_worker) owns its loop, listening sockets, client
 * and upstream connections, counters and access-log buffer; it reads the
 * data plane's configuration only from its current snapshot (w->snap). With
 * one worker it runs on the control loop, in the control thread.
 *
 * Ownership: struct alb owns its workers and target groups; a target group
 * holds a reference on each registered target, each snapshot on each target
 * it lists, each upstream connection on its target; the last reference
 * frees the target (loop_defer_free on the loop of whoever drops it).
 */
#ifndef VPCD_ALB_INTERNAL_H
#define VPCD_ALB_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
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
struct alb_worker;

/* A target's per-worker part: touched only by that worker. */
struct alb_wslot {
	struct alb_up *pool; /* idle keep-alive connections */
	size_t npool;
};

struct alb_target {
	struct alb *a;
	int tg;		/* immutable: tg, addr, port */
	uint32_t addr;
	uint16_t port;
	/* control thread only (workers see copies in snapshots) */
	size_t idx; /* position in its group while registered */
	enum alb_target_state state;
	const char *reason;
	char desc[96];
	struct alb_hc_count cnt;
	bool removed;
	/* shared between threads */
	atomic_int refs;	/* group + snapshots + upstream connections */
	atomic_bool closed;	/* draining or removed: nothing goes back to a pool */
	atomic_bool dead;	/* removed: requests still on it get 502 */
	atomic_uint inflight;	/* requests on it, over all workers (LOR) */
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
	struct alb_wslot w[]; /* one per worker */
};

/* CloudWatch-style counters (alb_metrics_text prints them). Each worker has
 * its own and is their only writer; readers on the control thread sum them.
 * Fields are read and written with relaxed atomic loads and stores
 * (alb__cnt_add), plain moves on x86, so no lock and no torn value. */
struct alb_counters {
	uint64_t requests;
	uint64_t target_2xx, target_3xx, target_4xx, target_5xx;
	uint64_t elb_3xx, elb_4xx, elb_5xx, elb_502, elb_503, elb_504;
	uint64_t fixed_response, redirect;
	uint64_t trt_count; /* TargetResponseTime samples */
	uint64_t trt_us;    /* their sum, microseconds */
	uint64_t rejected;  /* dropped by security groups (not a CloudWatch metric) */
	uint64_t new_conns;
	uint64_t desync_nc; /* DesyncMitigationMode_NonCompliant_Request_Count */
};

static inline void alb__cnt_add(uint64_t *p, uint64_t v)
{
	__atomic_store_n(p, __atomic_load_n(p, __ATOMIC_RELAXED) + v, __ATOMIC_RELAXED);
}

static inline uint64_t alb__cnt_get(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

/* Control thread: a target group's registered targets. */
struct alb_tg {
	struct alb_target **t;
	enum alb_target_state *states; /* mirrors t[i]->state */
	size_t n, cap;
	bool used; /* referenced by a listener: else targets are "unused" */
};

/* What a worker knows of a target: a copy taken when the snapshot was
 * built, and the target itself for its identity, its per-worker pool slot
 * and its in-flight count. */
struct alb_snap_target {
	struct alb_target *t; /* referenced by the snapshot */
	uint32_t addr;
	uint16_t port;
	enum alb_target_state state;
	bool ss; /* slow start since ss_t0 */
	struct timespec ss_t0;
};

struct alb_snap_tg {
	struct alb_snap_target *t;
	enum alb_target_state *states; /* t[i].state, for alb_select_rr */
	size_t n;
};

/* An immutable view of everything the data plane reads: the model (its
 * listeners, compiled rules, actions, target group attributes, LB
 * attributes) and every target group's targets with their state and slow
 * start. Built by the control thread (snap.c), published by an atomic
 * pointer swap, freed once no worker can use it. */
struct alb_snap {
	const struct model *m;
	uint64_t gen; /* 1, 2, ... in publication order */
	size_t ntgs;
	struct alb_snap_tg *tgs;
	struct alb_snap *retired_next; /* control: waiting to be freed */
};

struct alb_lsock {
	struct alb_worker *w;
	int listener;
	uint16_t port; /* the model's listener port (X-Forwarded-Port) */
	uint16_t bound_port; /* port + --port-offset, what clients connect to */
	int fd;
	struct loop_io io;
	struct loop_timer pause; /* accept paused after EMFILE/ENFILE/ENOMEM */
	uint32_t addr; /* the LB node address it is bound to */
};

#define ALB_BUFPOOL_MAX 64 /* free 16 KiB I/O buffers kept for reuse */
#define ALB_WORKERS_MAX 64

/* One data-plane worker: a loop (its own thread's, or the control loop when
 * there is one worker), a listening socket per listener address
 * (SO_REUSEPORT with several workers), its connections and pools. */
struct alb_worker {
	struct alb *a;
	int id;
	struct loop *loop;
	bool threaded;	/* own loop and thread (several workers) */
	bool joinable;	/* thread started: alb_free joins it */
	pthread_t thread;
	const struct alb_snap *snap; /* the snapshot this worker uses */
	atomic_uint_fast64_t seen;   /* snap->gen, published for reclamation */
	int wakefd;		     /* eventfd: a new snapshot, or stop */
	struct loop_io wake_io;
	struct alb_lsock *socks;
	size_t nsocks;
	struct alb_conn *conns; /* doubly linked */
	size_t *rr;		/* per target group: round-robin cursor */
	uint64_t rnd;		/* weighted forward and algorithm draws */
	struct alb_counters *lb_cnt; /* per model LB */
	struct alb_counters *tg_cnt; /* per model target group */
	char *logb;		     /* access-log lines not yet written */
	size_t logn;
	struct loop_timer log_flush; /* armed while access-log lines wait */
	time_t tcache_sec;	     /* access-log time up to the second, */
	char tcache[32];	     /* formatted for tcache_sec */
	size_t tcache_len;	     /* 0: nothing cached */
	char *bufpool[ALB_BUFPOOL_MAX]; /* free I/O buffers of connections */
	size_t nbufpool;
};

struct alb {
	struct loop *loop; /* the control loop */
	const struct model *m; /* the model of the current snapshot */
	struct alb_tg *tgs;
	size_t ntgs;
	alb_health_fn hfn;
	void *hdata;
	int log_fd; /* access log (O_APPEND), or -1 */
	int nworkers;
	struct alb_worker *w;	  /* [nworkers] */
	bool started;
	atomic_bool stopping; /* workers: leave your loop */
	_Atomic(struct alb_snap *) snap; /* the current snapshot */
	uint64_t gen;			 /* the last published generation */
	struct alb_snap *retired;	 /* replaced, not yet freed (newest first) */
	struct loop_timer reclaim;	 /* armed while some are retired */
};

/* --- snap.c (control thread) --- */
/* Builds a snapshot of a's model and target groups and makes it current;
 * wakes every worker to move to it. Returns 0 or -ENOMEM (the previous
 * snapshot then stays current: targets' states lag until the next one). */
int alb__publish(struct alb *a);
/* Frees the retired snapshots no worker can still use; all of them with
 * force (the workers are stopped). */
void alb__reclaim(struct alb *a, bool force);
/* Drops one reference on t, freeing it (deferred on loop) at the last. */
void alb__target_unref(struct alb_target *t, struct loop *loop);

/* --- alb.c --- */
/* Every worker moves to the current snapshot: an inline one (one worker, on
 * the control loop) at once, a threaded one when it reads its eventfd. */
void alb__workers_notify(struct alb *a);
/* Target group tg's counters summed over the workers. 0, -EINVAL, -ENOMEM. */
int alb__tg_counters(const struct alb *a, int tg, struct alb_counters *out);

/* The target (index into w->snap's group tgi) for a request, by the
 * group's algorithm (select.c); -1 when none can take it. */
int alb__select(struct alb_worker *w, int tgi);
/* alb__select with the stickiness of group tgi: lb_cookie (AWSALB): the
 * target the request's cookie names while it is routable, else a new pick;
 * the AWSALB and AWSALBCORS Set-Cookie lines naming the target are
 * appended to cookie (NUL-terminated, cap bytes). app_cookie (AWSALBAPP):
 * the same for a session (AWSALBAPP-0 and the application's cookie in the
 * request); without one *app_pending is set: the response decides
 * (alb__app_cookie_set when it sets the application's cookie). */
int alb__pick(struct alb_worker *w, int tgi, const struct http_header *h, size_t n, char *cookie,
	      size_t cap, bool *app_pending);
/* Appends the AWSALBAPP-0..3 Set-Cookie lines naming target addr:port of
 * app_cookie group tgi (stickiness for app_sticky_s from now) to cookie. */
void alb__app_cookie_set(struct alb_worker *w, int tgi, uint32_t addr, uint16_t port,
			 char *cookie, size_t cap);
/* The lb_cookie key, drawn once per process (call before workers start). */
const uint64_t *alb__cookie_key(void);
/* Slow start bookkeeping on t's state change from prev (select.c). */
void alb__ss_note(struct alb_target *t, enum alb_target_state prev);

/* Moves t to state with reason (static string or NULL) and description,
 * keeps the group's state mirror, calls the health callback on a change and
 * publishes a snapshot (control thread). */
void alb__target_set(struct alb_target *t, enum alb_target_state s, const char *reason,
		     const char *desc);

#endif
