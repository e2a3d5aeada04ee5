/*
 * Robustness of the template reader: every prefix of the reference
 * templates and single-byte mutations must load or fail cleanly (no crash,
 * no leak under ASan), and the error count is positive exactly when there
 * is no model. Also: alias bombs are bounded.
 */
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

static void prefixes_and_mutations(const char *path, size_t step)
{
	size_t len;
	char *buf = slurp(path, &len);
	ASSERT_TRUE(buf != NULL);
	if (!buf)
		return;
	for (size_t i = 0; i <= len; i += step)
		try_load(buf, i);
	static const char subst[] = {'"', '{', ']', ':', '\n', '!', '0', '&', '*', ' '};
	for (size_t i = 0; i < len; i += step * 3) {
		char saved = buf[i];
		buf[i] = subst[i % sizeof(subst)];
		try_load(buf, len);
		buf[i] = saved;
	}
	free(buf);
}

static void test_json_prefixes_mutations(void)
{
	prefixes_and_mutations("examples/service-a.json", 1);
}

static void test_yaml_prefixes_mutations(void)
{
	prefixes_and_mutations("examples/service-a.yaml", 1);
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
