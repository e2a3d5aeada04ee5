/*
 * Task metadata v4 JSON from the ECS plane's introspection (see metadata.h).
 */
#include "api/metadata.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/addr.h"
#include "ecs/ecs.h"

#define META_MAX_CONTAINERS 16

static uint64_t fnv(const char *s, uint64_t h)
{
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ull;
	}
	return h;
}

/* The revision: what follows the last ':' of the task definition ARN. */
static const char *td_revision(const char *arn)
{
	const char *c = arn ? strrchr(arn, ':') : NULL;
	return c ? c + 1 : "1";
}

/* The revision the task runs (a deployment's), else the template's. */
static const char *task_revision(const struct ecs_task_info *t, const struct model_task_def *td)
{
	return td_revision(t->task_definition_arn ? t->task_definition_arn
	                                          : td ? td->arn
	                                               : NULL);
}

static json_t *container_json(const struct api_sources *src, const struct ecs_task_info *t,
                              const struct ecs_container_info *c)
{
	const struct model *m = src->model;
	const struct model_service *sv = &m->services[t->service];
	const struct model_task_def *td = sv->task_def >= 0 ? &m->task_defs[sv->task_def] : NULL;
	const struct model_cluster *cl = sv->cluster >= 0 ? &m->clusters[sv->cluster] : NULL;
	uint64_t h = fnv(c->name, fnv(t->id, 0xcbf29ce484222325ull));
	char docker_id[64], docker_name[256], arn[512], addr[16];
	json_t *o, *labels, *nets;

	/* Fargate's form of a container id: the task id and ten digits. */
	snprintf(docker_id, sizeof(docker_id), "%s%010llu", t->id,
	         (unsigned long long)(h % 10000000000ull));
	snprintf(docker_name, sizeof(docker_name), "ecs-%s-%s-%s-%.20s",
	         td && td->family ? td->family : "task", task_revision(t, td), c->name,
	         t->id);
	snprintf(arn, sizeof(arn),
	         "arn:aws:ecs:%s:%s:container/%s/%s/%08llx-%04llx-%04llx-%04llx-%012llx",
	         m->region ? m->region : "", m->account ? m->account : "",
	         cl && cl->name ? cl->name : "default", t->id, (unsigned long long)(h >> 32),
	         (unsigned long long)((h >> 16) & 0xffff), (unsigned long long)(h & 0xffff),
	         (unsigned long long)((h >> 48) & 0xffff),
	         (unsigned long long)(fnv(t->id, h) & 0xffffffffffffull));
	labels = json_pack(
	    "{s:s, s:s, s:s, s:s, s:s}", "com.amazonaws.ecs.cluster",
	    cl && cl->name ? cl->name : "default", "com.amazonaws.ecs.container-name", c->name,
	    "com.amazonaws.ecs.task-arn", t->arn, "com.amazonaws.ecs.task-definition-family",
	    td && td->family ? td->family : "", "com.amazonaws.ecs.task-definition-version",
	    task_revision(t, td));
	nets = json_pack("[{s:s, s:[s], s:i}]", "NetworkMode",
	                 td && td->network_mode ? td->network_mode : "awsvpc", "IPv4Addresses",
	                 addr4_str(t->addr, addr), "AttachmentIndex", 0);
	o = json_pack("{s:s, s:s, s:s, s:s, s:o, s:s, s:s, s:s, s:s, s:o}", "DockerId", docker_id,
	              "Name", c->name, "DockerName", docker_name, "Image", c->image, "Labels",
	              labels, "DesiredStatus", t->desired_status, "KnownStatus", c->known_status,
	              "Type", "NORMAL", "ContainerARN", arn, "Networks", nets);
	if (o && c->exit_code >= 0)
		json_object_set_new(o, "ExitCode", json_integer(c->exit_code));
	if (o && c->health)
		json_object_set_new(o, "Health", json_pack("{s:s}", "status", c->health));
	return o;
}

json_t *api_metadata_json(const struct api_sources *src, const char *tail)
{
	struct ecs_container_info cs[META_MAX_CONTAINERS];
	struct ecs_task_info t;
	char id[33];
	const char *rest;
	const char *cname = NULL;
	size_t clen = 0, n;
	bool task = false;
	json_t *o, *arr;

	if (!src->ecs || strlen(tail) < 32)
		return NULL;
	memcpy(id, tail, 32);
	id[32] = '\0';
	rest = tail + 32;
	if (*rest == '-') {
		const char *slash = strchr(rest + 1, '/');
		cname = rest + 1;
		clen = slash ? (size_t)(slash - cname) : strlen(cname);
		rest = cname + clen;
	}
	if (strcmp(rest, "/task") == 0)
		task = true;
	else if (*rest)
		return NULL;
	n = ecs_task_containers(src->ecs, id, &t, cs, META_MAX_CONTAINERS);
	if (n == 0)
		return NULL;
	if (n > META_MAX_CONTAINERS)
		n = META_MAX_CONTAINERS;
	if (!task) {
		for (size_t i = 0; i < n; i++)
			if (!cname ||
			    (strlen(cs[i].name) == clen && !memcmp(cs[i].name, cname, clen)))
				return container_json(src, &t, &cs[i]);
		return NULL;
	}
	{
		const struct model *m = src->model;
		const struct model_service *sv = &m->services[t.service];
		const struct model_task_def *td =
		    sv->task_def >= 0 ? &m->task_defs[sv->task_def] : NULL;
		const struct model_cluster *cl =
		    sv->cluster >= 0 ? &m->clusters[sv->cluster] : NULL;
		const char *status = t.last_status;
		arr = json_array();
		for (size_t i = 0; i < n; i++)
			json_array_append_new(arr, container_json(src, &t, &cs[i]));
		o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:o}", "Cluster",
		              cl && cl->arn ? cl->arn : "default", "TaskARN", t.arn, "Family",
		              td && td->family ? td->family : "", "Revision",
		              task_revision(&t, td), "ServiceName",
		              sv->name ? sv->name : sv->logical, "DesiredStatus", t.desired_status,
		              "KnownStatus", status, "AvailabilityZone", t.az ? t.az : "",
		              "LaunchType", t.launch_type, "Containers", arr);
		/* ECS gives VPCID for tasks on EC2 container instances only. */
		if (o && strcmp(t.launch_type, "EC2") == 0 && t.subnet >= 0 &&
		    (size_t)t.subnet < m->nsubnets)
			json_object_set_new(o, "VPCID",
			                    json_string(m->vpcs[m->subnets[t.subnet].vpc].id));
	}
	return o;
}
