/*
 * The event loop: epoll for file descriptors, a binary min-heap for timers,
 * signalfd for signals. One loop per thread; nothing here is thread-safe.
 *
 * Iteration order: expired timers run first (in deadline order), then the
 * ready file descriptors. loop_now_ms() is cached once per iteration.
 *
 * Ownership: the loop never owns a struct loop_io or struct loop_timer; they
 * are embedded in their owner, which must loop_io_del()/loop_timer_stop()
 * them before freeing. Deleting an io from inside any callback is safe.
 */
#ifndef VPCD_CORE_LOOP_H
#define VPCD_CORE_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/epoll.h>

struct loop;
struct loop_io;
struct loop_timer;

/* events is a mask of EPOLLIN, EPOLLOUT, EPOLLERR, EPOLLHUP. */
typedef void (*loop_io_fn)(struct loop *loop, struct loop_io *io, uint32_t events);
typedef void (*loop_timer_fn)(struct loop *loop, struct loop_timer *t);
typedef void (*loop_signal_fn)(struct loop *loop, int signo, void *data);

struct loop_io {
	int fd;
	uint32_t events;
	loop_io_fn cb;
	void *data;
	bool active;
};

struct loop_timer {
	uint64_t when;	 /* absolute deadline, ms on the loop's clock */
	size_t heap_idx; /* SIZE_MAX when not armed */
	loop_timer_fn cb;
	void *data;
};

struct loop *loop_new(void);
void loop_free(struct loop *loop);

/* Runs until loop_stop(). Returns 0, or a negative errno if epoll fails. */
int loop_run(struct loop *loop);
void loop_stop(struct loop *loop);
uint64_t loop_now_ms(struct loop *loop);

/* Registers fd for events; cb is called with the io. Returns 0 or -errno. */
int loop_io_add(struct loop *loop, struct loop_io *io, int fd, uint32_t events, loop_io_fn cb,
		void *data);
/* Changes the interest mask; no syscall when it is unchanged. */
int loop_io_mod(struct loop *loop, struct loop_io *io, uint32_t events);
/* Hands a registered io to another owner: its callback and data change, its
 * epoll registration stays (no syscall). A socket is registered once for its
 * whole life and changes owners this way (e.g. a pooled connection). */
void loop_io_set_owner(struct loop_io *io, loop_io_fn cb, void *data);
/* Unregisters (does not close) the fd. Safe on an io that is not active. */
void loop_io_del(struct loop *loop, struct loop_io *io);

void loop_timer_init(struct loop_timer *t, loop_timer_fn cb, void *data);
/* Arms (or re-arms) t to fire once, after_ms from now. */
void loop_timer_start(struct loop *loop, struct loop_timer *t, uint64_t after_ms);
void loop_timer_stop(struct loop *loop, struct loop_timer *t);
bool loop_timer_armed(const struct loop_timer *t);

/* Blocks signo and delivers it through the loop (signalfd). One callback per
 * signal. SIGCHLD is delivered this way too. Returns 0 or -errno. */
int loop_signal_add(struct loop *loop, int signo, loop_signal_fn cb, void *data);

/* Frees ptr (with free()) once the current batch of events is done, so that
 * an object holding a loop_io can be released from inside any callback even
 * though a later event of the same batch may still point at it. The owner
 * must have called loop_io_del() first. Takes ownership of ptr. */
void loop_defer_free(struct loop *loop, void *ptr);

#endif
