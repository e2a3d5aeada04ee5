/*
 * Robustness of the template reader: every prefix of the reference
 * templates and single-byte mutations must load or fail cleanly (no crash,
 * no leak under ASan), and the error count is positive exactly when there
 * is no model. Also: alias bombs are bounded.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfn/cfn.h"
#include "t.h"

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	char *buf = malloc(1 << 20);
	*len = fread(buf, 1, (1 << 20) - 1, f);
	fclose(f);
	buf[*len] = 0;
	return buf;
}

static FILE *devnull;

static void try_load(const char *buf, size_t len)
{
	struct cfn_options o;
	cfn_options_default(&o);
	o.stack_name = "fuzz";
	struct model *m = NULL;
	/* A copy of exactly len bytes, so an over-read is caught by ASan. */
	char *copy = malloc(len ? len : 1);
	memcpy(copy, buf, len);
	int rc = cfn_load_buf("x", copy, len, &o, &m, devnull);
	free(copy);
	if ((rc == 0) != (m != NULL))
		T_FAIL("rc %d with model %p (len %zu)", rc, (void *)m, len);
	if (rc < 0 || rc > 100)
		T_FAIL("rc %d out of range", rc);
	if (m) {
		cfn_plan_print(m, devnull);
		model_free(m);
	}
}

/* Word bytes (names, numbers, plain scalars) and blanks come in runs; every
 * other byte is a token of its own. */
static int byte_class(unsigned char c)
{
	if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    c == '_' || c == '-' || c == '.')
		return 'w';
	if (c == ' ' || c == '\t')
		return 's';
	return c;
}

static bool token_start(const char *buf, size_t len, size_t i)
{
	int c;
	if (i == 0 || i >= len)
		return true;
	c = byte_class((unsigned char)buf[i]);
	return (c != 'w' && c != 's') || c != byte_class((unsigned char)buf[i - 1]);
}

/* Cuts and mutations at every token start and one byte into every token:
 * a cut further inside a run of word bytes or blanks takes the reader down
 * the same path as these (a shorter name, number or indent), and the
 * fuzzer (tests/fuzz/fuzz_cfn.c) explores beyond. Every byte was 17.7k
 * loads over both templates, 21 s under ASan on an idle machine and past
 * ctest's 60 s at load 11; these are about 8k (1.18 s to 0.44 s in
 * the release build). */
static bool cut_here(const char *buf, size_t len, size_t i)
{
	return token_start(buf, len, i) || (i > 0 && token_start(buf, len, i - 1));
}

static void prefixes_and_mutations(const char *path)
{
	size_t len, n = 0;
	char *buf = slurp(path, &len);
	ASSERT_TRUE(buf != NULL);
	if (!buf)
		return;
	for (size_t i = 0; i <= len; i++)
		if (cut_here(buf, len, i)) {
			try_load(buf, i);
			n++;
		}
	static const char subst[] = {'"', '{', ']', ':', '\n', '!', '0', '&', '*', ' '};
	/* every other cut point, cycling through the substitutes */
	for (size_t i = 0, k = 0; i < len; i++) {
		char saved = buf[i];
		if (!cut_here(buf, len, i) || k++ % 2)
			continue;
		buf[i] = subst[(k / 2) % sizeof(subst)];
		try_load(buf, len);
		buf[i] = saved;
		n++;
	}
	/* the selection is no accident of an empty file */
	ASSERT_TRUE(n > len / 2);
	free(buf);
}

static void test_json_prefixes_mutations(void)
{
	prefixes_and_mutations("examples/service-a.json");
}

static void test_yaml_prefixes_mutations(void)
{
	prefixes_and_mutations("examples/service-a.yaml");
}

static void test_alias_bomb(void)
{
	const char *bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
	                   "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
	                   "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
	                   "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
	                   "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
	                   "f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
	                   "g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]\n"
	                   "Resources:\n"
	                   "  L:\n"
	                   "    Type: AWS::IAM::Role\n"
	                   "    Properties: {P: *g}\n";
	char *errs;
	size_t elen;
	FILE *f = open_memstream(&errs, &elen);
	struct cfn_options o;
	cfn_options_default(&o);
	struct model *m = NULL;
	int rc = cfn_load_buf("bomb.yaml", bomb, strlen(bomb), &o, &m, f);
	fclose(f);
	ASSERT_TRUE(rc > 0 && m == NULL);
	ASSERT_STR_CONTAINS(errs, "the template expands to more than");
	free(errs);
	model_free(m);
}

T_MAIN({
	devnull = fopen("/dev/null", "w");
	T_RUN(test_json_prefixes_mutations);
	T_RUN(test_yaml_prefixes_mutations);
	T_RUN(test_alias_bomb);
	fclose(devnull);
})
