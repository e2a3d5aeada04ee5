/* Pure ECS decisions: container health after each check (start period,
 * retries), a task's health from its essential containers, and the image
 * map (parsing, longest-prefix look-up, filling in containers, errors). */
#include "t.h"

#include <errno.h>
#include <stdlib.h>

#include "ecs/health.h"
#include "ecs/images.h"
#include "model/model.h"

static void test_health_step(void)
{
	enum ecs_health h = ECS_HEALTH_UNKNOWN;
	int fails = 0;

	/* Failures inside the start period do not count. */
	h = ecs_health_step(h, &fails, false, true, 1);
	ASSERT_EQ(h, ECS_HEALTH_UNKNOWN);
	ASSERT_EQ(fails, 0);
	/* A success inside it does. */
	h = ecs_health_step(h, &fails, true, true, 3);
	ASSERT_EQ(h, ECS_HEALTH_HEALTHY);
	/* Retries 3: two failures keep it HEALTHY, the third makes it UNHEALTHY. */
	h = ecs_health_step(h, &fails, false, false, 3);
	h = ecs_health_step(h, &fails, false, false, 3);
	ASSERT_EQ(h, ECS_HEALTH_HEALTHY);
	ASSERT_EQ(fails, 2);
	h = ecs_health_step(h, &fails, false, false, 3);
	ASSERT_EQ(h, ECS_HEALTH_UNHEALTHY);
	/* One success brings it back and clears the count. */
	h = ecs_health_step(h, &fails, true, false, 3);
	ASSERT_EQ(h, ECS_HEALTH_HEALTHY);
	ASSERT_EQ(fails, 0);
	ASSERT_STR_EQ(ecs_health_str(ECS_HEALTH_UNHEALTHY), "UNHEALTHY");
	ASSERT_STR_EQ(ecs_health_str(ECS_HEALTH_UNKNOWN), "UNKNOWN");
}

static void test_health_task(void)
{
	enum ecs_health st[3] = {ECS_HEALTH_HEALTHY, ECS_HEALTH_UNHEALTHY, ECS_HEALTH_UNKNOWN};
	bool has[3] = {true, true, false}, ess[3] = {true, false, true};

	/* A non-essential container's UNHEALTHY does not count. */
	ASSERT_EQ(ecs_health_task(st, has, ess, 3), ECS_HEALTH_HEALTHY);
	ess[1] = true;
	ASSERT_EQ(ecs_health_task(st, has, ess, 3), ECS_HEALTH_UNHEALTHY);
	/* An essential container still UNKNOWN keeps the task UNKNOWN. */
	st[1] = ECS_HEALTH_UNKNOWN;
	ASSERT_EQ(ecs_health_task(st, has, ess, 3), ECS_HEALTH_UNKNOWN);
	/* No check at all: UNKNOWN. */
	has[0] = has[1] = false;
	ASSERT_EQ(ecs_health_task(st, has, ess, 3), ECS_HEALTH_UNKNOWN);
}

static void test_images_parse_and_find(void)
{
	struct ecs_images *im = NULL;
	char err[256];
	const struct ecs_image *e;

	ASSERT_EQ(
	    ecs_images_parse("{\"example/a\": {\"argv\": [\"vpcd\", \"demo-app\"]},"
	                     " \"example/a:v2\": {\"argv\": [\"v2\"], \"env\": {\"K\": \"V\"},"
	                     " \"workdir\": \"/tmp\"}}",
	                     &im, err, sizeof(err)),
	    0);
	if (!im)
		return;
	e = ecs_images_find(im, "example/a:latest");
	ASSERT_TRUE(e && e->argc == 2 && strcmp(e->argv[1], "demo-app") == 0);
	e = ecs_images_find(im, "example/a:v2");
	ASSERT_TRUE(e && strcmp(e->argv[0], "v2") == 0 && e->nenv == 1);
	ASSERT_TRUE(e && e->workdir && strcmp(e->workdir, "/tmp") == 0);
	ASSERT_TRUE(ecs_images_find(im, "example/b") == NULL);
	ASSERT_TRUE(ecs_images_find(im, "example/") == NULL);
	ecs_images_free(im);

	ASSERT_EQ(ecs_images_parse("[1]", &im, err, sizeof(err)), -EINVAL);
	ASSERT_STR_CONTAINS(err, "expected an object");
	ASSERT_EQ(ecs_images_parse("{\"x\": {\"argv\": []}}", &im, err, sizeof(err)), -EINVAL);
	ASSERT_STR_CONTAINS(err, "image \"x\": argv must be a non-empty list of strings");
	ASSERT_EQ(
	    ecs_images_parse("{\"x\": {\"argv\": [\"a\"], \"cmd\": 1}}", &im, err, sizeof(err)),
	    -EINVAL);
	ASSERT_STR_CONTAINS(err, "unknown key \"cmd\"");
	ASSERT_EQ(ecs_images_parse("{\"x\": ", &im, err, sizeof(err)), -EINVAL);
	ASSERT_STR_CONTAINS(err, "line 1");
}

static void test_images_apply(void)
{
	struct ecs_images *im = NULL;
	char err[256], *buf = NULL;
	size_t blen = 0;
	FILE *f;
	struct model *m = calloc(1, sizeof(*m));
	struct model_container *c;

	if (!m)
		return;
	m->task_defs = calloc(1, sizeof(*m->task_defs));
	m->ntask_defs = 1;
	m->task_defs[0].logical = strdup("TD");
	m->task_defs[0].containers = c = calloc(2, sizeof(*c));
	m->task_defs[0].ncontainers = 2;
	c[0].name = strdup("web");
	c[0].image = strdup("example/a:latest");
	c[0].argv = calloc(1, sizeof(char *));
	c[0].env = calloc(1, sizeof(*c[0].env));
	c[0].env[0].key = strdup("K");
	c[0].env[0].value = strdup("from-container");
	c[0].nenv = 1;
	c[1].name = strdup("side");
	c[1].image = strdup("nginx:1.25");
	c[1].argv = calloc(1, sizeof(char *));

	ASSERT_EQ(ecs_images_parse("{\"example/a\": {\"argv\": [\"prog\", \"x\"], "
	                           "\"env\": {\"K\": \"image\", \"J\": \"image\"}, "
	                           "\"workdir\": \"/srv\"}}",
	                           &im, err, sizeof(err)),
	          0);
	f = open_memstream(&buf, &blen);
	ASSERT_EQ(ecs_images_apply(im, m, "t.json", f), 1);
	fclose(f);
	/* The unmapped image is named, with the line to add. */
	ASSERT_STR_CONTAINS(buf, "t.json: error: Resources.TD.Properties.ContainerDefinitions[1]: "
	                         "container side has no Command or EntryPoint and its image "
	                         "\"nginx:1.25\" is not in the image map");
	ASSERT_STR_CONTAINS(buf, "\"nginx:1.25\": {\"argv\": [");
	/* The mapped one runs the image's argv, with the container's env winning. */
	ASSERT_EQ(c[0].argc, 2);
	ASSERT_STR_EQ(c[0].argv[0], "prog");
	ASSERT_TRUE(c[0].argv[2] == NULL);
	ASSERT_EQ(c[0].nenv, 2);
	for (size_t i = 0; i < c[0].nenv; i++)
		ASSERT_STR_EQ(c[0].env[i].value,
		              strcmp(c[0].env[i].key, "K") == 0 ? "from-container" : "image");
	ASSERT_STR_EQ(c[0].working_dir, "/srv");
	free(buf);
	ecs_images_free(im);
	model_free(m);
}

T_MAIN({
	T_RUN(test_health_step);
	T_RUN(test_health_task);
	T_RUN(test_images_parse_and_find);
	T_RUN(test_images_apply);
})
