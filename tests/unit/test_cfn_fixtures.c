/*
 * Data-driven error tests: each template tests/cfn/NAME.{json,yaml} comes
 * with tests/cfn/NAME.err, the exact error output `vpcd validate` prints for
 * it (a reviewer can read both without knowing C). Run from the source root.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfn/cfn.h"
#include "t.h"

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	char *buf = NULL;
	size_t len = 0;
	FILE *o = open_memstream(&buf, &len);
	char chunk[4096];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		fwrite(chunk, 1, n, o);
	fclose(o);
	fclose(f);
	return buf;
}

static void test_fixtures(void)
{
	DIR *d = opendir("tests/cfn");
	ASSERT_TRUE(d != NULL);
	if (!d)
		return;
	int count = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		const char *dot = strrchr(e->d_name, '.');
		if (!dot || (strcmp(dot, ".json") != 0 && strcmp(dot, ".yaml") != 0))
			continue;
		char path[512], errpath[512];
		snprintf(path, sizeof(path), "tests/cfn/%s", e->d_name);
		snprintf(errpath, sizeof(errpath), "tests/cfn/%.*s.err", (int)(dot - e->d_name),
		         e->d_name);
		char *want = slurp(errpath);
		if (!want)
			continue; /* a template without .err must load cleanly */
		struct cfn_options o;
		cfn_options_default(&o);
		char *got = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&got, &len);
		struct model *m = NULL;
		int rc = cfn_load(path, &o, &m, f);
		fclose(f);
		if (strcmp(got, want) != 0)
			T_FAIL("%s: errors differ\n--- want\n%s--- got\n%s", path, want, got);
		if (*want && (rc <= 0 || m))
			T_FAIL("%s: expected failure, rc %d", path, rc);
		model_free(m);
		free(got);
		free(want);
		count++;
	}
	closedir(d);
	ASSERT_TRUE(count >= 7);
}

T_MAIN({ T_RUN(test_fixtures); })
