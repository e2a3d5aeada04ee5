/*
 * The image map: parsing (jansson), longest-prefix look-up, and filling in
 * the containers of a model that name only an image. See images.h.
 */
#include "ecs/images.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

static void image_free(struct ecs_image *e)
{
	free(e->key);
	for (size_t i = 0; e->argv && i < e->argc; i++)
		free(e->argv[i]);
	free(e->argv);
	for (size_t i = 0; i < e->nenv; i++) {
		free(e->env[i].key);
		free(e->env[i].value);
	}
	free(e->env);
	free(e->workdir);
}

void ecs_images_free(struct ecs_images *im)
{
	if (!im)
		return;
	for (size_t i = 0; i < im->n; i++)
		image_free(&im->v[i]);
	free(im->v);
	free(im);
}

static int image_parse(const char *key, json_t *o, struct ecs_image *e, char *err, size_t errlen)
{
	json_t *argv = json_object_get(o, "argv"), *env = json_object_get(o, "env"),
	       *wd = json_object_get(o, "workdir"), *v;
	const char *k;
	size_t i;

	if (!json_is_object(o)) {
		snprintf(err, errlen, "image \"%s\": expected an object with argv, env, workdir",
		         key);
		return -EINVAL;
	}
	json_object_foreach(o, k, v)
	{
		if (strcmp(k, "argv") && strcmp(k, "env") && strcmp(k, "workdir")) {
			snprintf(err, errlen,
			         "image \"%s\": unknown key \"%s\" (argv, env, workdir)", key, k);
			return -EINVAL;
		}
	}
	if (!json_is_array(argv) || json_array_size(argv) == 0) {
		snprintf(err, errlen, "image \"%s\": argv must be a non-empty list of strings",
		         key);
		return -EINVAL;
	}
	e->key = strdup(key);
	e->argv = calloc(json_array_size(argv) + 1, sizeof(*e->argv));
	if (!e->key || !e->argv)
		return -ENOMEM;
	json_array_foreach(argv, i, v)
	{
		if (!json_is_string(v)) {
			snprintf(err, errlen, "image \"%s\": argv[%zu] must be a string", key, i);
			return -EINVAL;
		}
		e->argv[e->argc] = strdup(json_string_value(v));
		if (!e->argv[e->argc])
			return -ENOMEM;
		e->argc++;
	}
	if (env && !json_is_object(env)) {
		snprintf(err, errlen, "image \"%s\": env must be an object of strings", key);
		return -EINVAL;
	}
	if (env) {
		e->env = calloc(json_object_size(env) + 1, sizeof(*e->env));
		if (!e->env)
			return -ENOMEM;
		json_object_foreach(env, k, v)
		{
			if (!json_is_string(v)) {
				snprintf(err, errlen, "image \"%s\": env.%s must be a string", key,
				         k);
				return -EINVAL;
			}
			e->env[e->nenv].key = strdup(k);
			e->env[e->nenv].value = strdup(json_string_value(v));
			if (!e->env[e->nenv].key || !e->env[e->nenv].value) {
				e->nenv++;
				return -ENOMEM;
			}
			e->nenv++;
		}
	}
	if (wd && !json_is_string(wd)) {
		snprintf(err, errlen, "image \"%s\": workdir must be a string", key);
		return -EINVAL;
	}
	if (wd && !(e->workdir = strdup(json_string_value(wd))))
		return -ENOMEM;
	return 0;
}

int ecs_images_parse(const char *text, struct ecs_images **out, char *err, size_t errlen)
{
	json_error_t je;
	json_t *root = json_loads(text, 0, &je), *v;
	struct ecs_images *im = NULL;
	const char *k;
	int rc = 0;

	*out = NULL;
	if (!root) {
		snprintf(err, errlen, "line %d: %s", je.line, je.text);
		return -EINVAL;
	}
	if (!json_is_object(root)) {
		snprintf(err, errlen,
		         "expected an object: image name or prefix -> {argv, env, "
		         "workdir}");
		rc = -EINVAL;
		goto out;
	}
	im = calloc(1, sizeof(*im));
	if (!im || !(im->v = calloc(json_object_size(root) + 1, sizeof(*im->v)))) {
		rc = -ENOMEM;
		goto out;
	}
	json_object_foreach(root, k, v)
	{
		rc = image_parse(k, v, &im->v[im->n++], err, errlen);
		if (rc < 0)
			goto out;
	}
	*out = im;
	im = NULL;
out:
	if (rc == -ENOMEM)
		snprintf(err, errlen, "out of memory");
	ecs_images_free(im);
	json_decref(root);
	return rc;
}

int ecs_images_load(const char *path, struct ecs_images **out, char *err, size_t errlen)
{
	char msg[256];
	char *text = NULL;
	size_t len = 0, cap = 0;
	FILE *f = fopen(path, "r");
	int rc;

	*out = NULL;
	if (!f) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return rc;
	}
	for (;;) {
		size_t n;
		if (len + 4097 > cap) {
			char *nt;
			cap = cap ? cap * 2 : 8192;
			if (cap > (16u << 20) || !(nt = realloc(text, cap))) {
				free(text);
				fclose(f);
				snprintf(err, errlen, "%s: too big or out of memory", path);
				return -ENOMEM;
			}
			text = nt;
		}
		n = fread(text + len, 1, cap - len - 1, f);
		len += n;
		if (n == 0)
			break;
	}
	fclose(f);
	text[len] = '\0';
	rc = ecs_images_parse(text, out, msg, sizeof(msg));
	free(text);
	if (rc < 0)
		snprintf(err, errlen, "%s: %s", path, msg);
	return rc;
}

const struct ecs_image *ecs_images_find(const struct ecs_images *im, const char *image)
{
	const struct ecs_image *best = NULL;
	size_t best_len = 0;
	if (!im || !image)
		return NULL;
	for (size_t i = 0; i < im->n; i++) {
		size_t kl = strlen(im->v[i].key);
		if (strncmp(image, im->v[i].key, kl) != 0)
			continue;
		if (!best || kl > best_len) {
			best = &im->v[i];
			best_len = kl;
		}
	}
	return best;
}

static char *dup_or_null(const char *s, int *oom)
{
	char *d = s ? strdup(s) : NULL;
	if (s && !d)
		*oom = 1;
	return d;
}

/* Gives c the image's argv, its env under the container's, and its workdir
 * unless the container has one. */
static int container_from_image(struct model_container *c, const struct ecs_image *img)
{
	struct model_kv *env;
	size_t n = 0;
	int oom = 0;
	char **argv = calloc(img->argc + 1, sizeof(*argv));

	env = calloc(img->nenv + c->nenv + 1, sizeof(*env));
	if (!argv || !env)
		goto fail;
	for (size_t i = 0; i < img->argc; i++)
		argv[i] = dup_or_null(img->argv[i], &oom);
	for (size_t i = 0; i < img->nenv; i++) {
		bool overridden = false;
		for (size_t k = 0; k < c->nenv; k++)
			overridden |= strcmp(c->env[k].key, img->env[i].key) == 0;
		if (overridden)
			continue;
		env[n].key = dup_or_null(img->env[i].key, &oom);
		env[n++].value = dup_or_null(img->env[i].value, &oom);
	}
	if (oom)
		goto fail;
	/* The container's own entries move over as they are. */
	for (size_t k = 0; k < c->nenv; k++)
		env[n++] = c->env[k];
	free(c->env);
	c->env = env;
	c->nenv = n;
	free(c->argv);
	c->argv = argv;
	c->argc = img->argc;
	if (!c->working_dir && img->workdir)
		c->working_dir = strdup(img->workdir); /* NULL on OOM: inherited dir */
	return 0;
fail:
	for (size_t i = 0; argv && i < img->argc; i++)
		free(argv[i]);
	free(argv);
	for (size_t i = 0; env && i < n; i++) {
		free(env[i].key);
		free(env[i].value);
	}
	free(env);
	return -ENOMEM;
}

int ecs_images_apply(const struct ecs_images *im, struct model *m, const char *file, FILE *errs)
{
	int nerr = 0;
	for (size_t t = 0; t < m->ntask_defs; t++) {
		struct model_task_def *td = &m->task_defs[t];
		for (size_t i = 0; i < td->ncontainers; i++) {
			struct model_container *c = &td->containers[i];
			const struct ecs_image *img;
			if (c->argv && c->argv[0])
				continue;
			img = ecs_images_find(im, c->image);
			if (img) {
				if (container_from_image(c, img) < 0)
					return -ENOMEM;
				continue;
			}
			nerr++;
			fprintf(errs,
			        "%s: error: Resources.%s.Properties.ContainerDefinitions[%zu]: "
			        "container %s has no Command or EntryPoint and its image \"%s\" is "
			        "not in the image map; %s:\n"
			        "    \"%s\": {\"argv\": [\"/path/to/program\", \"arg\"]}\n",
			        file ? file : "template", td->logical ? td->logical : "?", i,
			        c->name ? c->name : "?", c->image ? c->image : "",
			        im ? "add this line to the --images file"
			           : "give vpcd an image map with --images FILE holding",
			        c->image ? c->image : "");
		}
	}
	return nerr;
}
