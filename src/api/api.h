/*
 * The admin API: JSON over HTTP/1.1 on a loopback address. GET /v1/stack
 * describes the model and the live state (targets, tasks, services); the
 * same JSON is what `vpcd status` prints as tables.
 *
 * Ownership: the API borrows the model, the ALB and the ECS plane; they
 * must outlive it.
 */
#ifndef VPCD_API_API_H
#define VPCD_API_API_H

#include <stdint.h>

#include <jansson.h>

#include "core/loop.h"
#include "model/model.h"

struct alb;
struct ecs;

struct api_sources {
	const struct model *model;
	const struct alb *alb;
	const struct ecs *ecs;
	uint32_t resolver_addr; /* host order */
	uint16_t resolver_port;
	int port_offset;
	struct ecs *ecs_ctl; /* the same plane, for POST /v1/hosts/ID/stop; may be NULL */
	/* POST /v1/apply (`vpcd apply`): body is the request's JSON body;
	 * returns the response's JSON body (malloc'd, NULL when out of memory)
	 * and its status in *status. NULL: 404. */
	char *(*apply)(void *data, const char *body, size_t len, int *status);
	void *apply_data;
};

struct api;

struct api *api_new(struct loop *loop, const struct api_sources *src);
/* Listens on addr:port (host order). Returns 0 or -errno. */
int api_listen(struct api *api, uint32_t addr, uint16_t port);
void api_free(struct api *api);
/* The model /v1/stack describes from now on (after `vpcd apply`); borrowed. */
void api_set_model(struct api *api, const struct model *m);

/* The body of GET /v1/stack. The caller owns the returned reference. */
json_t *api_stack_json(const struct api_sources *src);

#endif
