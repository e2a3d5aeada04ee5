/*
 * The unit-test harness: each tests/unit/test_*.c is one program that ctest
 * runs. A test is a function; T_RUN runs it; assertions print both sides
 * and the place, and count failures. main() returns non-zero on any failure.
 * A test can run alone: ./test_x NAME.
 */
#ifndef VPCD_TESTS_T_H
#define VPCD_TESTS_T_H

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static int t_failures;
static int t_argc;
static char **t_argv;

#define T_FAIL(...)                                                                                \
	do {                                                                                       \
		fprintf(stderr, "%s:%d: ", __FILE__, __LINE__);                                    \
		fprintf(stderr, __VA_ARGS__);                                                      \
		fputc('\n', stderr);                                                               \
		t_failures++;                                                                      \
	} while (0)

#define ASSERT_TRUE(c)                                                                             \
	do {                                                                                       \
		if (!(c))                                                                          \
			T_FAIL("expected true: %s", #c);                                           \
	} while (0)

#define ASSERT_EQ(a, b)                                                                            \
	do {                                                                                       \
		long long t_a_ = (long long)(a), t_b_ = (long long)(b);                            \
		if (t_a_ != t_b_)                                                                  \
			T_FAIL("%s == %s: %lld != %lld", #a, #b, t_a_, t_b_);                      \
	} while (0)

#define ASSERT_STR_EQ(a, b)                                                                        \
	do {                                                                                       \
		const char *t_a_ = (a), *t_b_ = (b);                                               \
		if (!t_a_ || !t_b_ || strcmp(t_a_, t_b_) != 0)                                     \
			T_FAIL("%s == %s: \"%s\" != \"%s\"", #a, #b, t_a_ ? t_a_ : "(null)",       \
			       t_b_ ? t_b_ : "(null)");                                            \
	} while (0)

#define ASSERT_STR_CONTAINS(hay, needle)                                                           \
	do {                                                                                       \
		const char *t_h_ = (hay), *t_n_ = (needle);                                        \
		if (!t_h_ || !strstr(t_h_, t_n_))                                                  \
			T_FAIL("\"%s\" does not contain \"%s\"", t_h_ ? t_h_ : "(null)", t_n_);    \
	} while (0)

static inline int t_selected(const char *name)
{
	if (t_argc < 2)
		return 1;
	for (int i = 1; i < t_argc; i++)
		if (strcmp(t_argv[i], name) == 0)
			return 1;
	return 0;
}

#define T_RUN(fn)                                                                                  \
	do {                                                                                       \
		if (t_selected(#fn)) {                                                             \
			int t_before_ = t_failures;                                                \
			fn();                                                                      \
			fprintf(stderr, "%s %s\n", t_failures == t_before_ ? "ok  " : "FAIL", #fn); \
		}                                                                                  \
	} while (0)

#define T_MAIN(body)                                                                               \
	int main(int argc, char **argv)                                                            \
	{                                                                                          \
		t_argc = argc;                                                                     \
		t_argv = argv;                                                                     \
		body;                                                                              \
		return t_failures ? 1 : 0;                                                         \
	}

#endif
