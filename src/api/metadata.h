/*
 * The ECS task metadata endpoint, version 4, as the admin API serves it:
 * GET /v4/TASK-ID (the container; for a task of several containers
 * /v4/TASK-ID-CONTAINER-NAME) and the same path + "/task" (the task with all
 * its containers), in the JSON shapes ECS documents (DockerId, Name, Image,
 * Labels, DesiredStatus, KnownStatus, Networks, ...; Cluster, TaskARN,
 * Family, Revision, AvailabilityZone, LaunchType, Containers, ...).
 * Timestamps and image digests, which have no local meaning, are left out.
 */
#ifndef VPCD_API_METADATA_H
#define VPCD_API_METADATA_H

#include <jansson.h>

#include "api/api.h"

/* tail: the path after "/v4/". Returns a new reference, or NULL when no
 * such task or container exists (404). */
json_t *api_metadata_json(const struct api_sources *src, const char *tail);

#endif
