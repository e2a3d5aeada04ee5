/*
 * epoll + timer heap + signalfd. See loop.h for the contract.
 */
#include "core/loop.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#define LOOP_MAX_EVENTS 256
#define LOOP_NSIG 65

struct loop {
	int epfd;
	bool stop;
	uint64_t now;
	struct loop_timer **heap;
	size_t nheap, capheap;
	int sigfd;
	sigset_t sigmask;
	struct loop_io sigio;
	loop_signal_fn sigcb[LOOP_NSIG];
	void *sigdata[LOOP_NSIG];
	void **defer;
	size_t ndefer, capdefer;
};

static uint64_t clock_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

struct loop *loop_new(void)
{
	struct loop *loop = calloc(1, sizeof(*loop));
	if (!loop)
		return NULL;
	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (loop->epfd < 0) {
		free(loop);
		return NULL;
	}
	loop->sigfd = -1;
	sigemptyset(&loop->sigmask);
	loop->now = clock_ms();
	return loop;
}

void loop_free(struct loop *loop)
{
	if (!loop)
		return;
	if (loop->sigfd >= 0) {
		close(loop->sigfd);
		sigprocmask(SIG_UNBLOCK, &loop->sigmask, NULL);
	}
	close(loop->epfd);
	for (size_t i = 0; i < loop->ndefer; i++)
		free(loop->defer[i]);
	free(loop->defer);
	free(loop->heap);
	free(loop);
}

uint64_t loop_now_ms(struct loop *loop)
{
	return loop->now;
}

void loop_stop(struct loop *loop)
{
	loop->stop = true;
}

int loop_io_add(struct loop *loop, struct loop_io *io, int fd, uint32_t events, loop_io_fn cb,
		void *data)
{
	struct epoll_event ev = {.events = events, .data.ptr = io};
	io->fd = fd;
	io->events = events;
	io->cb = cb;
	io->data = data;
	if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return -errno;
	io->active = true;
	return 0;
}

int loop_io_mod(struct loop *loop, struct loop_io *io, uint32_t events)
{
	struct epoll_event ev = {.events = events, .data.ptr = io};
	if (io->events == events)
		return 0;
	if (epoll_ctl(loop->epfd, EPOLL_CTL_MOD, io->fd, &ev) < 0)
		return -errno;
	io->events = events;
	return 0;
}

void loop_io_set_owner(struct loop_io *io, loop_io_fn cb, void *data)
{
	io->cb = cb;
	io->data = data;
}

void loop_io_del(struct loop *loop, struct loop_io *io)
{
	if (!io->active)
		return;
	epoll_ctl(loop->epfd, EPOLL_CTL_DEL, io->fd, NULL);
	io->active = false;
}

/* --- timers: binary min-heap keyed on deadline --- */

static void heap_swap(struct loop *loop, size_t a, size_t b)
{
	struct loop_timer *t = loop->heap[a];
	loop->heap[a] = loop->heap[b];
	loop->heap[b] = t;
	loop->heap[a]->heap_idx = a;
	loop->heap[b]->heap_idx = b;
}

static void heap_up(struct loop *loop, size_t i)
{
	while (i > 0) {
		size_t p = (i - 1) / 2;
		if (loop->heap[p]->when <= loop->heap[i]->when)
			break;
		heap_swap(loop, p, i);
		i = p;
	}
}

static void heap_down(struct loop *loop, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < loop->nheap && loop->heap[l]->when < loop->heap[m]->when)
			m = l;
		if (r < loop->nheap && loop->heap[r]->when < loop->heap[m]->when)
			m = r;
		if (m == i)
			return;
		heap_swap(loop, i, m);
		i = m;
	}
}

void loop_timer_init(struct loop_timer *t, loop_timer_fn cb, void *data)
{
	t->when = 0;
	t->heap_idx = SIZE_MAX;
	t->cb = cb;
	t->data = data;
}

bool loop_timer_armed(const struct loop_timer *t)
{
	return t->heap_idx != SIZE_MAX;
}

void loop_timer_stop(struct loop *loop, struct loop_timer *t)
{
	size_t i = t->heap_idx;
	if (i == SIZE_MAX)
		return;
	t->heap_idx = SIZE_MAX;
	loop->nheap--;
	if (i == loop->nheap)
		return;
	loop->heap[i] = loop->heap[loop->nheap];
	loop->heap[i]->heap_idx = i;
	heap_up(loop, i);
	heap_down(loop, loop->heap[i]->heap_idx);
}

void loop_timer_start(struct loop *loop, struct loop_timer *t, uint64_t after_ms)
{
	loop_timer_stop(loop, t);
	if (loop->nheap == loop->capheap) {
		/* Out of memory for the heap cannot be reported to a void caller;
		 * abort rather than silently lose a timer. */
		size_t cap = loop->capheap ? loop->capheap * 2 : 64;
		struct loop_timer **h = realloc(loop->heap, cap * sizeof(*h));
		if (!h)
			abort();
		loop->heap = h;
		loop->capheap = cap;
	}
	t->when = loop->now + after_ms;
	t->heap_idx = loop->nheap;
	loop->heap[loop->nheap++] = t;
	heap_up(loop, t->heap_idx);
}

static void run_timers(struct loop *loop)
{
	while (loop->nheap > 0 && loop->heap[0]->when <= loop->now) {
		struct loop_timer *t = loop->heap[0];
		loop_timer_stop(loop, t);
		t->cb(loop, t);
	}
}

/* --- signals --- */

static void on_signal(struct loop *loop, struct loop_io *io, uint32_t events)
{
	struct signalfd_siginfo si;
	(void)events;
	while (read(io->fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		int s = (int)si.ssi_signo;
		if (s > 0 && s < LOOP_NSIG && loop->sigcb[s])
			loop->sigcb[s](loop, s, loop->sigdata[s]);
	}
}

int loop_signal_add(struct loop *loop, int signo, loop_signal_fn cb, void *data)
{
	int fd;
	if (signo <= 0 || signo >= LOOP_NSIG)
		return -EINVAL;
	sigaddset(&loop->sigmask, signo);
	if (sigprocmask(SIG_BLOCK, &loop->sigmask, NULL) < 0)
		return -errno;
	fd = signalfd(loop->sigfd, &loop->sigmask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	loop->sigcb[signo] = cb;
	loop->sigdata[signo] = data;
	if (loop->sigfd < 0) {
		loop->sigfd = fd;
		return loop_io_add(loop, &loop->sigio, fd, EPOLLIN, on_signal, NULL);
	}
	return 0;
}

void loop_defer_free(struct loop *loop, void *ptr)
{
	if (loop->ndefer == loop->capdefer) {
		size_t cap = loop->capdefer ? loop->capdefer * 2 : 64;
		void **d = realloc(loop->defer, cap * sizeof(*d));
		if (!d)
			abort();
		loop->defer = d;
		loop->capdefer = cap;
	}
	loop->defer[loop->ndefer++] = ptr;
}

static void run_deferred(struct loop *loop)
{
	for (size_t i = 0; i < loop->ndefer; i++)
		free(loop->defer[i]);
	loop->ndefer = 0;
}

int loop_run(struct loop *loop)
{
	struct epoll_event evs[LOOP_MAX_EVENTS];
	loop->stop = false;
	while (!loop->stop) {
		int timeout = -1, n;
		loop->now = clock_ms();
		run_timers(loop);
		run_deferred(loop);
		if (loop->stop)
			break;
		if (loop->nheap > 0) {
			uint64_t d = loop->heap[0]->when - loop->now;
			timeout = d > 60000 ? 60000 : (int)d;
		}
		n = epoll_wait(loop->epfd, evs, LOOP_MAX_EVENTS, timeout);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		loop->now = clock_ms();
		for (int i = 0; i < n; i++) {
			struct loop_io *io = evs[i].data.ptr;
			/* An earlier callback of this batch may have deleted io;
			 * owners that free ios in callbacks defer the free
			 * (see loop_defer_free). */
			if (io->active)
				io->cb(loop, io, evs[i].events);
		}
		run_deferred(loop);
	}
	return 0;
}
