/* The event loop: timers fire in deadline order, stop() and signals work. */
#include "t.h"

#include <signal.h>
#include <unistd.h>

#include "core/addr.h"
#include "core/loop.h"

static int order[8], norder;

static void on_timer(struct loop *loop, struct loop_timer *t)
{
	order[norder++] = (int)(intptr_t)t->data;
	if (norder == 3)
		loop_stop(loop);
}

static void test_timers_fire_in_order(void)
{
	struct loop *loop = loop_new();
	struct loop_timer a, b, c, d;
	norder = 0;
	loop_timer_init(&a, on_timer, (void *)1);
	loop_timer_init(&b, on_timer, (void *)2);
	loop_timer_init(&c, on_timer, (void *)3);
	loop_timer_init(&d, on_timer, (void *)4);
	loop_timer_start(loop, &c, 30);
	loop_timer_start(loop, &a, 10);
	loop_timer_start(loop, &d, 5);
	loop_timer_start(loop, &b, 20);
	loop_timer_stop(loop, &d);
	ASSERT_TRUE(!loop_timer_armed(&d));
	ASSERT_EQ(loop_run(loop), 0);
	ASSERT_EQ(norder, 3);
	ASSERT_EQ(order[0], 1);
	ASSERT_EQ(order[1], 2);
	ASSERT_EQ(order[2], 3);
	loop_free(loop);
}

static int got_sig;
static void on_sig(struct loop *loop, int signo, void *data)
{
	(void)data;
	got_sig = signo;
	loop_stop(loop);
}

static void test_signal_delivered(void)
{
	struct loop *loop = loop_new();
	got_sig = 0;
	ASSERT_EQ(loop_signal_add(loop, SIGUSR1, on_sig, NULL), 0);
	kill(getpid(), SIGUSR1);
	ASSERT_EQ(loop_run(loop), 0);
	ASSERT_EQ(got_sig, SIGUSR1);
	loop_free(loop);
}

static void test_cidr_parse(void)
{
	struct cidr4 c;
	char buf[16];
	ASSERT_EQ(cidr4_parse("10.0.1.7/24", &c), 0);
	ASSERT_STR_EQ(addr4_str(c.addr, buf), "10.0.1.0");
	ASSERT_EQ(c.prefix, 24);
	ASSERT_TRUE(cidr4_contains(c, 0x0a000105));
	ASSERT_TRUE(!cidr4_contains(c, 0x0a000205));
	ASSERT_EQ(cidr4_parse("10.0.1.0/33", &c), -1);
	ASSERT_EQ(cidr4_parse("10.0.1.0", &c), -1);
}

T_MAIN({
	T_RUN(test_timers_fire_in_order);
	T_RUN(test_signal_delivered);
	T_RUN(test_cidr_parse);
})
