/*
 * The image map (`--images FILE`): what local process stands for a
 * container image. The file is JSON, one entry per image name or prefix:
 *
 *   {"example/service-a": {"argv": ["vpcd", "demo-app"],
 *                          "env": {"SERVICE_NAME": "a"}, "workdir": "/tmp"}}
 *
 * An image matches the longest key that equals it or is a prefix of it
 * ("example/service-a" matches "example/service-a:latest"). As with Docker,
 * a container's EntryPoint/Command replace the image's argv, its Environment
 * overrides the image's env, its WorkingDirectory the image's workdir.
 *
 * Ownership: struct ecs_images owns everything it points to.
 */
#ifndef VPCD_ECS_IMAGES_H
#define VPCD_ECS_IMAGES_H

#include <stddef.h>
#include <stdio.h>

#include "model/model.h"

struct ecs_image {
	char *key;
	char **argv; /* NULL-terminated */
	size_t argc;
	struct model_kv *env;
	size_t nenv;
	char *workdir; /* or NULL */
};

struct ecs_images {
	struct ecs_image *v;
	size_t n;
};

/* Parses the JSON text of an image map. Returns 0, or -EINVAL with a
 * message in err, or -ENOMEM. */
int ecs_images_parse(const char *text, struct ecs_images **out, char *err, size_t errlen);
/* Reads and parses path. Returns 0 or -errno with a message in err. */
int ecs_images_load(const char *path, struct ecs_images **out, char *err, size_t errlen);
void ecs_images_free(struct ecs_images *im);
/* The entry for image (longest key equal to or prefix of it), or NULL. */
const struct ecs_image *ecs_images_find(const struct ecs_images *im, const char *image);

/* Completes the task definitions of m before any plane starts: a container
 * without EntryPoint/Command takes its image's argv, env and workdir from
 * im (may be NULL). Each container with neither a command nor a mapped
 * image is reported to errs as "FILE: error: PATH: ..." naming the image
 * and showing the line to add. Returns the number of errors, or -ENOMEM. */
int ecs_images_apply(const struct ecs_images *im, struct model *m, const char *file, FILE *errs);

#endif
