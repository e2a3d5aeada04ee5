/*
 * Admin API server and the JSON view of model + state. One request per
 * connection (the response carries Connection: close): the API serves tools
 * and people, not traffic, so simplicity wins over keep-alive.
 */
#include "api/api.h"
#include "api/metadata.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "alb/alb.h"
#include "core/addr.h"
#include "core/log.h"
#include "ecs/ecs.h"

#define API_REQ_MAX 8192
#define API_TIMEOUT_MS 5000
#define API_MAX_LISTEN 4

struct api {
	struct loop *loop;
	struct api_sources src;
	struct loop_io lis[API_MAX_LISTEN];
	size_t nlis;
};

struct api_conn {
	struct api *api;
	struct loop_io io;
	struct loop_timer timer;
	char req[API_REQ_MAX];
	size_t reqlen;
	char *resp; /* owned; malloc'd */
	size_t resplen, respoff;
};

/* --- JSON view --- */

static json_t *addr_json(uint32_t addr)
{
	char buf[16];
	return json_string(addr4_str(addr, buf));
}

/* An action as ELBv2 describes it, plus "description", one line for status. */
static json_t *action_json(const struct model *m, const struct model_action *a)
{
	char d[512];
	size_t o = 0;
	json_t *j;

	if (a->type == MODEL_ACTION_FIXED_RESPONSE) {
		char code[8];
		snprintf(code, sizeof(code), "%d", a->status);
		snprintf(d, sizeof(d), "fixed-response %d", a->status);
		return json_pack("{s:s, s:{s:s, s:s?, s:s?}, s:s}", "type", "fixed-response",
				 "fixed_response_config", "status_code", code, "content_type",
				 a->content_type, "message_body", a->body, "description", d);
	}
	if (a->type == MODEL_ACTION_REDIRECT) {
		snprintf(d, sizeof(d), "redirect %d to %s://%s:%s%s?%s", a->status,
			 a->rd_protocol ? a->rd_protocol : "#{protocol}",
			 a->rd_host ? a->rd_host : "#{host}", a->rd_port ? a->rd_port : "#{port}",
			 a->rd_path ? a->rd_path : "/#{path}", a->rd_query ? a->rd_query : "#{query}");
		return json_pack("{s:s, s:{s:s, s:s?, s:s?, s:s?, s:s?, s:s?}, s:s}", "type",
				 "redirect", "redirect_config", "status_code",
				 a->status == 301 ? "HTTP_301" : "HTTP_302", "protocol", a->rd_protocol,
				 "port", a->rd_port, "host", a->rd_host, "path", a->rd_path, "query",
				 a->rd_query, "description", d);
	}
	if (a->target_group < 0)
		return json_pack("{s:s}", "type", "forward");
	const struct model_target_group *tg = &m->tgs[a->target_group];
	j = json_pack("{s:s, s:s, s:s}", "type", "forward", "target_group", tg->name,
		      "target_group_arn", tg->arn);
	o = (size_t)snprintf(d, sizeof(d), "forward to %s", tg->name);
	if (j && a->nfwd > 0) {
		json_t *tgs = json_array();
		o = (size_t)snprintf(d, sizeof(d), "forward to ");
		for (size_t i = 0; i < a->nfwd; i++) {
			const struct model_target_group *t = &m->tgs[a->fwd_tgs[i]];
			json_array_append_new(tgs, json_pack("{s:s, s:s, s:i}", "target_group",
							     t->name, "target_group_arn", t->arn,
							     "weight", a->fwd_weights[i]));
			if (o < sizeof(d))
				o += (size_t)snprintf(d + o, sizeof(d) - o, "%s%s:%d", i ? "," : "",
						      t->name, a->fwd_weights[i]);
		}
		json_object_set_new(
		    j, "forward_config",
		    json_pack("{s:o, s:{s:b, s:i}}", "target_groups", tgs,
			      "target_group_stickiness_config", "enabled", a->tg_sticky,
			      "duration_seconds", a->tg_sticky_s));
	}
	if (j && a->tg_sticky && o < sizeof(d))
		snprintf(d + o, sizeof(d) - o, " (sticky %ds)", a->tg_sticky_s);
	if (j)
		json_object_set_new(j, "description", json_string(d));
	return j;
}

static json_t *rule_json(const struct model *m, const struct model_rule *r)
{
	static const char *const fields[] = {"host-header",	    "path-pattern",
					     "http-header",	    "http-request-method",
					     "query-string",	    "source-ip"};
	static const char *const short_names[] = {"host", "path", "header", "method", "query",
						  "source"};
	json_t *conds = json_array();
	for (size_t i = 0; i < r->nconds; i++) {
		const struct model_condition *mc = &r->conds[i];
		json_t *vals = json_array();
		char sum[256];
		size_t o = 0;
		for (size_t j = 0; j < mc->nvalues; j++) {
			if (mc->field == MODEL_COND_QUERY_STRING)
				json_array_append_new(vals, json_pack("{s:s?, s:s}", "key",
								      mc->qs_keys[j], "value",
								      mc->values[j]));
			else
				json_array_append_new(vals, json_string(mc->values[j]));
			if (o < sizeof(sum))
				o += (size_t)snprintf(sum + o, sizeof(sum) - o, "%s%s%s%s%s%s",
						      j ? "," : short_names[mc->field],
						      j ? "" : (mc->regex ? "~" : "="),
						      mc->header_name && !j ? mc->header_name : "",
						      mc->header_name && !j ? ":" : "",
						      mc->qs_keys[j] ? mc->qs_keys[j] : "",
						      mc->qs_keys[j] ? "=" : "");
			if (o < sizeof(sum))
				o += (size_t)snprintf(sum + o, sizeof(sum) - o, "%s", mc->values[j]);
		}
		for (size_t j = 0; j < mc->ncidrs; j++) {
			char ab[16], c[24];
			snprintf(c, sizeof(c), "%s/%u", addr4_str(mc->cidrs[j].addr, ab),
				 mc->cidrs[j].prefix);
			json_array_append_new(vals, json_string(c));
			if (o < sizeof(sum))
				o += (size_t)snprintf(sum + o, sizeof(sum) - o, "%s%s",
						      j ? "," : "source=", c);
		}
		if (o == 0)
			sum[0] = 0;
		json_array_append_new(conds, json_pack("{s:s, s:s?, s:b, s:o, s:s}", "field",
						       fields[mc->field], "http_header_name",
						       mc->header_name, "regex", mc->regex, "values",
						       vals, "summary", sum));
	}
	/* Transforms as DescribeRules gives them (snake_case, as the rest) */
	json_t *transforms = json_array();
	if (r->host_rw.re)
		json_array_append_new(transforms,
		                      json_pack("{s:s, s:{s:[{s:s, s:s}]}}", "type",
		                                "host-header-rewrite", "host_header_rewrite_config",
		                                "rewrites", "regex", r->host_rw.regex, "replace",
		                                r->host_rw.replace));
	if (r->url_rw.re)
		json_array_append_new(transforms,
		                      json_pack("{s:s, s:{s:[{s:s, s:s}]}}", "type", "url-rewrite",
		                                "url_rewrite_config", "rewrites", "regex",
		                                r->url_rw.regex, "replace", r->url_rw.replace));
	return json_pack("{s:s, s:s, s:i, s:o, s:[o], s:o}", "logical_id", r->logical, "arn",
	                 r->arn, "priority", r->priority, "conditions", conds, "actions",
	                 action_json(m, &r->action), "transforms", transforms);
}

static json_t *lbs_json(const struct api_sources *src)
{
	const struct model *m = src->model;
	json_t *lbs = json_array();
	for (size_t i = 0; i < m->nlbs; i++) {
		const struct model_lb *lb = &m->lbs[i];
		json_t *nodes = json_array(), *listeners = json_array();
		for (size_t j = 0; j < lb->nsubnets; j++) {
			const struct model_subnet *sn = &m->subnets[lb->subnets[j]];
			json_array_append_new(nodes, json_pack("{s:o, s:s, s:s}", "address",
							       addr_json(lb->node_addrs[j]), "az",
							       sn->az, "subnet", sn->id));
		}
		for (size_t j = 0; j < m->nlisteners; j++) {
			const struct model_listener *l = &m->listeners[j];
			json_t *rules;
			if (l->lb != (int)i)
				continue; /* before allocating: nothing to leak */
			rules = json_array();
			for (size_t k = 0; k < l->nrules; k++)
				json_array_append_new(rules, rule_json(m, &m->rules[l->rules[k]]));
			json_array_append_new(
				listeners,
				json_pack("{s:s, s:i, s:i, s:s, s:o, s:[o]}", "arn", l->arn, "port",
					  l->port, "bound_port", l->port + src->port_offset,
					  "protocol", l->protocol, "rules", rules, "default_actions",
					  action_json(m, &l->default_action)));
		}
		json_array_append_new(lbs, json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:o}",
						     "logical_id", lb->logical, "name", lb->name,
						     "arn", lb->arn, "dns_name", lb->dns_name,
						     "scheme", lb->scheme, "nodes", nodes,
						     "listeners", listeners));
	}
	return lbs;
}

static json_t *tgs_json(const struct api_sources *src)
{
	const struct model *m = src->model;
	json_t *tgs = json_array();
	for (size_t i = 0; i < m->ntgs; i++) {
		const struct model_target_group *tg = &m->tgs[i];
		const struct model_health_check *hc = &tg->hc;
		struct alb_target_info ti[256];
		size_t n = src->alb ? alb_target_list(src->alb, (int)i, ti, 256) : 0;
		json_t *targets = json_array();
		if (n > 256)
			n = 256;
		for (size_t j = 0; j < n; j++) {
			json_t *t = json_pack("{s:o, s:i, s:s}", "id", addr_json(ti[j].addr),
					      "port", ti[j].port, "state",
					      alb_target_state_str(ti[j].state));
			json_object_set_new(t, "reason",
					    ti[j].reason ? json_string(ti[j].reason) : json_null());
			json_object_set_new(t, "description", ti[j].description
								      ? json_string(ti[j].description)
								      : json_null());
			json_array_append_new(targets, t);
		}
		json_array_append_new(
			tgs,
			json_pack("{s:s, s:s, s:s, s:s, s:i, s:{s:b, s:s, s:s, s:i, s:i, s:i, s:i, "
				  "s:s}, s:o}",
				  "logical_id", tg->logical, "name", tg->name, "arn", tg->arn,
				  "protocol", tg->protocol, "port", tg->port, "health_check",
				  "enabled", hc->enabled, "path", hc->path, "port",
				  hc->port ? "" : "traffic-port", "interval_seconds", hc->interval_s,
				  "timeout_seconds", hc->timeout_s, "healthy_threshold",
				  hc->healthy_threshold, "unhealthy_threshold",
				  hc->unhealthy_threshold, "matcher", hc->matcher, "targets",
				  targets));
		if (hc->port) {
			json_t *h = json_object_get(json_array_get(tgs, i), "health_check");
			json_object_set_new(h, "port", json_integer(hc->port));
		}
		json_object_set_new(json_array_get(tgs, i), "protocol_version",
				    json_string(tg->protocol_version == MODEL_PV_GRPC    ? "GRPC"
						: tg->protocol_version == MODEL_PV_HTTP2 ? "HTTP2"
											 : "HTTP1"));
	}
	return tgs;
}

/* An ECS timestamp as the AWS CLI prints it (ISO 8601, UTC, with ms), or
 * null when the task has not got there. */
static json_t *time_json(uint64_t unix_ms)
{
	char buf[96];
	struct tm tm;
	time_t sec = (time_t)(unix_ms / 1000u);
	if (!unix_ms || !gmtime_r(&sec, &tm))
		return json_null();
	snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ", tm.tm_year + 1900,
	         tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
	         (unsigned)(unix_ms % 1000u));
	return json_string(buf);
}

/* A task's lifecycle and containers as DescribeTasks has them (createdAt,
 * startedAt, stoppingAt, stoppedAt; containers[] with lastStatus, exitCode,
 * reason, healthStatus), plus status_history: each lifecycle status the
 * task went through and when (vpcd's). */
static void task_lifecycle_json(const struct api_sources *src, const struct ecs_task_info *t,
                                json_t *o)
{
	struct ecs_task_info ti;
	struct ecs_container_info ci[16];
	size_t nc = ecs_task_containers(src->ecs, t->id, &ti, ci, 16);
	json_t *jh = json_array(), *jc = json_array();

	json_object_set_new(o, "created_at", time_json(t->created_unix_ms));
	json_object_set_new(o, "started_at", time_json(t->started_unix_ms));
	json_object_set_new(o, "stopping_at", time_json(t->stopping_unix_ms));
	json_object_set_new(o, "stopped_at", time_json(t->stopped_unix_ms));
	for (size_t k = 0; k < t->nhistory; k++)
		json_array_append_new(jh,
		                      json_pack("{s:s, s:o, s:I}", "status", t->history[k].status,
		                                "at", time_json(t->history[k].unix_ms), "at_ms",
		                                (json_int_t)t->history[k].unix_ms));
	json_object_set_new(o, "status_history", jh);
	for (size_t k = 0; k < nc && k < 16; k++) {
		json_t *c =
		    json_pack("{s:s, s:s, s:b, s:i}", "name", ci[k].name, "last_status",
		              ci[k].known_status, "essential", ci[k].essential, "pid", ci[k].pid);
		json_object_set_new(c, "exit_code",
		                    ci[k].exit_code >= 0 ? json_integer(ci[k].exit_code)
		                                         : json_null());
		json_object_set_new(c, "reason",
		                    ci[k].reason ? json_string(ci[k].reason) : json_null());
		json_object_set_new(c, "health_status",
		                    json_string(ci[k].health ? ci[k].health : "UNKNOWN"));
		json_array_append_new(jc, c);
	}
	json_object_set_new(o, "containers", jc);
}

static json_t *services_json(const struct api_sources *src)
{
	const struct model *m = src->model;
	json_t *svcs = json_array();
	struct ecs_task_info *tasks = NULL;
	size_t ntasks = 0;

	if (src->ecs) {
		ntasks = ecs_tasks(src->ecs, NULL, 0);
		tasks = calloc(ntasks ? ntasks : 1, sizeof(*tasks));
		if (tasks)
			ntasks = ecs_tasks(src->ecs, tasks, ntasks);
		else
			ntasks = 0;
	}
	for (size_t i = 0; i < m->nservices; i++) {
		const struct model_service *s = &m->services[i];
		struct ecs_service_info si = {.service = (int)i, .desired = s->desired};
		json_t *jt = json_array(), *je = json_array();
		const char *ev[50];
		size_t nev = 0;
		if (src->ecs) {
			ecs_service_info(src->ecs, (int)i, &si);
			nev = ecs_service_events(src->ecs, (int)i, ev, 50);
			if (nev > 50)
				nev = 50;
		}
		for (size_t j = 0; j < nev; j++)
			json_array_append_new(je, json_string(ev[j]));
		for (size_t j = 0; j < ntasks; j++) {
			const struct ecs_task_info *t = &tasks[j];
			json_t *o;
			if (t->service != (int)i)
				continue;
			o = json_pack("{s:s, s:s, s:s, s:s, s:o, s:i, s:s, s:s}", "id", t->id,
				      "arn", t->arn, "host", t->host_id ? t->host_id : "", "az",
				      t->az ? t->az : "", "address", addr_json(t->addr), "pid",
				      t->pid, "last_status", t->last_status, "desired_status",
				      t->desired_status);
			json_object_set_new(o, "stop_code",
					    t->stop_code ? json_string(t->stop_code) : json_null());
			json_object_set_new(o, "stopped_reason", t->stopped_reason
									 ? json_string(t->stopped_reason)
									 : json_null());
			json_object_set_new(o, "health_status", json_string(t->health_status));
			json_object_set_new(o, "launch_type", json_string(t->launch_type));
			json_object_set_new(o, "task_definition_arn",
					    t->task_definition_arn
						    ? json_string(t->task_definition_arn)
						    : json_null());
			task_lifecycle_json(src, t, o);
			json_array_append_new(jt, o);
		}
		json_array_append_new(
			svcs, json_pack("{s:s, s:s, s:s, s:s, s:i, s:i, s:i, s:o, s:o}", "logical_id",
					s->logical, "name", s->name, "arn", s->arn, "cluster",
					s->cluster >= 0 ? m->clusters[s->cluster].name : "",
					"desired", si.desired, "running", si.running, "pending",
					si.pending, "tasks", jt, "events", je));
		if (src->ecs) {
			/* Deployments as DescribeServices lists them. */
			struct ecs_deployment_info di[16];
			size_t nd = ecs_service_deployments(src->ecs, (int)i, di, 16);
			json_t *jd = json_array();
			for (size_t k = 0; k < nd && k < 16; k++)
				json_array_append_new(
					jd, json_pack("{s:s, s:s, s:s, s:i, s:i, s:i, s:i, s:s, s:I, s:I}",
						      "id", di[k].id, "status", di[k].status,
						      "taskDefinition", di[k].task_definition_arn,
						      "desiredCount", di[k].desired, "runningCount",
						      di[k].running, "pendingCount", di[k].pending,
						      "failedTasks", di[k].failed_tasks,
						      "rolloutState", di[k].rollout_state,
						      "createdAtMs", (json_int_t)di[k].created_ms,
						      "updatedAtMs", (json_int_t)di[k].updated_ms));
			json_object_set_new(json_array_get(svcs, json_array_size(svcs) - 1),
					    "deployments", jd);
		}
	}
	free(tasks);
	return svcs;
}

static json_t *hosts_json(const struct api_sources *src)
{
	json_t *hosts = json_array();
	struct ecs_host_info hi[256];
	size_t n;
	if (!src->ecs)
		return hosts;
	n = ecs_hosts(src->ecs, hi, 256);
	if (n > 256)
		n = 256;
	for (size_t i = 0; i < n; i++) {
		/* Resources as ECS's DescribeContainerInstances counts them;
		 * null without an instance type (no limit). */
		bool known = hi[i].instance_type != NULL;
		json_array_append_new(
		    hosts,
		    json_pack("{s:s, s:s, s:s, s:i, s:s, s:s?, s:o, s:o, s:o, s:o}", "id", hi[i].id,
		              "az", hi[i].az, "subnet", src->model->subnets[hi[i].subnet].id, "tasks",
		              (int)hi[i].ntasks, "status", hi[i].status, "instance_type",
		              hi[i].instance_type, "registered_cpu",
		              known ? json_integer(hi[i].cpu_registered) : json_null(),
		              "registered_memory",
		              known ? json_integer(hi[i].mem_registered) : json_null(),
		              "remaining_cpu", known ? json_integer(hi[i].cpu_remaining) : json_null(),
		              "remaining_memory",
		              known ? json_integer(hi[i].mem_remaining) : json_null()));
	}
	return hosts;
}

static json_t *zones_json(const struct api_sources *src)
{
	const struct model *m = src->model;
	json_t *zones = json_array();
	for (size_t i = 0; i < m->nzones; i++) {
		const struct model_zone *z = &m->zones[i];
		json_t *recs = json_array();
		for (size_t j = 0; j < m->nrecords; j++) {
			const struct model_record *r = &m->records[j];
			static const char *const pol[] = {"simple", "weighted", "failover",
							  "multivalue", "other"};
			json_t *vals, *jr;
			if (r->zone != (int)i)
				continue;
			vals = json_array();
			for (size_t k = 0; k < r->nvalues; k++)
				json_array_append_new(vals, json_string(r->values[k]));
			if (r->alias_lb >= 0)
				json_array_append_new(
					vals, json_string(m->lbs[r->alias_lb].dns_name));
			jr = json_pack("{s:s, s:s, s:i, s:o, s:b}", "name", r->name, "type",
				       r->type, "ttl", (int)r->ttl, "values", vals, "alias",
				       r->alias_lb >= 0);
			/* Routing policy, as Route53's ResourceRecordSet names it. */
			if (jr && r->set_id) {
				json_object_set_new(jr, "set_identifier", json_string(r->set_id));
				json_object_set_new(jr, "routing_policy",
						    json_string(pol[r->routing <= 4 ? r->routing : 4]));
				if (r->routing == MODEL_ROUTING_WEIGHTED)
					json_object_set_new(jr, "weight", json_integer(r->weight));
				if (r->routing == MODEL_ROUTING_FAILOVER)
					json_object_set_new(jr, "failover",
							    json_string(r->primary ? "PRIMARY"
										   : "SECONDARY"));
			}
			json_array_append_new(recs, jr);
		}
		json_array_append_new(zones, json_pack("{s:s, s:s, s:b, s:o}", "name", z->name,
						       "id", z->id, "private", z->private_zone,
						       "records", recs));
	}
	return zones;
}

/* The stacks' Outputs, as describe-stacks has them (export_name null
 * when the output has no Export). */
static json_t *outputs_json(const struct model *m)
{
	json_t *outs = json_array();
	for (size_t i = 0; outs && i < m->noutputs; i++)
		json_array_append_new(outs, json_pack("{s:s, s:s, s:s?}", "key",
						      m->outputs[i].logical, "value",
						      m->outputs[i].value, "export_name",
						      m->outputs[i].export_name));
	return outs;
}

json_t *api_stack_json(const struct api_sources *src)
{
	const struct model *m = src->model;
	char buf[16], res[32];
	json_t *o;
	snprintf(res, sizeof(res), "%s:%u", addr4_str(src->resolver_addr, buf),
		 src->resolver_port);
	o = json_pack("{s:{s:s, s:s, s:s}, s:s, s:o, s:o, s:o, s:o, s:o}", "stack", "name",
		      m->stack_name, "region", m->region, "account", m->account, "resolver", res,
		      "load_balancers", lbs_json(src), "target_groups", tgs_json(src), "services",
		      services_json(src), "hosts", hosts_json(src), "zones", zones_json(src));
	if (o)
		json_object_set_new(o, "outputs", outputs_json(m));
	return o;
}

/* --- HTTP --- */

static void conn_close(struct api_conn *c)
{
	loop_io_del(c->api->loop, &c->io);
	loop_timer_stop(c->api->loop, &c->timer);
	close(c->io.fd);
	free(c->resp);
	c->resp = NULL;
	loop_defer_free(c->api->loop, c);
}

static int conn_set_response(struct api_conn *c, int status, const char *reason,
			     const char *ctype, const char *body)
{
	size_t blen = strlen(body);
	int n;
	c->resp = malloc(blen + 256);
	if (!c->resp)
		return -ENOMEM;
	n = snprintf(c->resp, 256,
		     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
		     "Connection: close\r\nServer: vpcd\r\n\r\n",
		     status, reason, ctype, blen);
	memcpy(c->resp + n, body, blen);
	c->resplen = (size_t)n + blen;
	c->respoff = 0;
	return 0;
}

/* POST /v1/hosts/ID/stop: the host's instance stops (ecs_host_stop). */
static int conn_host_stop(struct api_conn *c, const char *rest)
{
	char id[64], body[256];
	const char *slash = strchr(rest, '/');
	size_t n = slash ? (size_t)(slash - rest) : 0;
	int rc;

	if (!slash || strcmp(slash, "/stop") != 0 || n == 0 || n >= sizeof(id))
		return conn_set_response(c, 404, "Not Found", "application/json",
					 "{\"error\": \"not found\"}\n");
	memcpy(id, rest, n);
	id[n] = '\0';
	for (size_t i = 0; i < n; i++)
		if (!((id[i] >= 'a' && id[i] <= 'z') || (id[i] >= '0' && id[i] <= '9') ||
		      id[i] == '-'))
			return conn_set_response(c, 400, "Bad Request", "application/json",
						 "{\"error\": \"bad instance id\"}\n");
	rc = c->api->src.ecs_ctl ? ecs_host_stop(c->api->src.ecs_ctl, id) : -ENOENT;
	if (rc == -ENOENT) {
		snprintf(body, sizeof(body), "{\"error\": \"no host %s\"}\n", id);
		return conn_set_response(c, 404, "Not Found", "application/json", body);
	}
	if (rc == -EALREADY) {
		snprintf(body, sizeof(body), "{\"error\": \"host %s is already stopped\"}\n", id);
		return conn_set_response(c, 409, "Conflict", "application/json", body);
	}
	snprintf(body, sizeof(body),
		 "{\"host\": \"%s\", \"status\": \"STOPPED\", \"message\": \"host %s stopped; "
		 "its tasks are being rescheduled\"}\n",
		 id, id);
	return conn_set_response(c, 200, "OK", "application/json", body);
}

static int conn_route(struct api_conn *c)
{
	char method[8], path[256];
	if (sscanf(c->req, "%7s %255s HTTP/1.%*c", method, path) != 2)
		return conn_set_response(c, 400, "Bad Request", "text/plain", "bad request\n");
	if (strcmp(method, "POST") == 0 && strncmp(path, "/v1/hosts/", 10) == 0)
		return conn_host_stop(c, path + 10);
	if (strcmp(method, "POST") == 0 && strcmp(path, "/v1/apply") == 0 && c->api->src.apply) {
		const char *body = strstr(c->req, "\r\n\r\n") + 4;
		int status = 500, rc;
		char *r = c->api->src.apply(c->api->src.apply_data, body,
					    c->reqlen - (size_t)(body - c->req), &status);
		if (!r)
			return conn_set_response(c, 500, "Internal Server Error", "text/plain",
						 "out of memory\n");
		rc = conn_set_response(c, status,
				       status == 200   ? "OK"
				       : status == 409 ? "Conflict"
				       : status == 400 ? "Bad Request"
						       : "Error",
				       "application/json", r);
		free(r);
		return rc;
	}
	if (strcmp(method, "GET") != 0)
		return conn_set_response(c, 405, "Method Not Allowed", "text/plain",
					 "only GET\n");
	if (strcmp(path, "/v1/stack") == 0) {
		json_t *j = api_stack_json(&c->api->src);
		char *s = j ? json_dumps(j, JSON_INDENT(2)) : NULL;
		int rc;
		json_decref(j);
		if (!s)
			return conn_set_response(c, 500, "Internal Server Error", "text/plain",
						 "out of memory\n");
		rc = conn_set_response(c, 200, "OK", "application/json", s);
		free(s);
		return rc;
	}
	if (strcmp(path, "/metrics") == 0) {
		char *t = c->api->src.alb ? alb_metrics_text(c->api->src.alb) : strdup("");
		int rc;
		if (!t)
			return conn_set_response(c, 500, "Internal Server Error", "text/plain",
						 "out of memory\n");
		rc = conn_set_response(c, 200, "OK", "text/plain; version=0.0.4", t);
		free(t);
		return rc;
	}
	if (strncmp(path, "/v4/", 4) == 0) {
		json_t *j = api_metadata_json(&c->api->src, path + 4);
		char *s = j ? json_dumps(j, JSON_INDENT(4)) : NULL;
		int rc;
		json_decref(j);
		if (!s)
			return conn_set_response(c, 404, "Not Found", "text/plain",
						 "no such task or container\n");
		rc = conn_set_response(c, 200, "OK", "application/json", s);
		free(s);
		return rc;
	}
	if (strcmp(path, "/healthz") == 0)
		return conn_set_response(c, 200, "OK", "text/plain", "ok\n");
	return conn_set_response(c, 404, "Not Found", "text/plain", "not found\n");
}

static void conn_on_io(struct loop *loop, struct loop_io *io, uint32_t events)
{
	struct api_conn *c = io->data;
	(void)events;
	if (!c->resp) {
		ssize_t n = read(io->fd, c->req + c->reqlen, API_REQ_MAX - 1 - c->reqlen);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
			conn_close(c);
			return;
		}
		if (n < 0)
			return;
		c->reqlen += (size_t)n;
		c->req[c->reqlen] = '\0';
		if (!strstr(c->req, "\r\n\r\n")) {
			if (c->reqlen == API_REQ_MAX - 1)
				conn_close(c);
			return;
		}
		{
			/* A body (POST /v1/apply): wait for Content-Length bytes. */
			char *hend = strstr(c->req, "\r\n\r\n") + 4;
			const char *cl = strcasestr(c->req, "\r\nContent-Length:");
			size_t want = cl && cl < hend ? strtoul(cl + 17, NULL, 10) : 0;
			if (want > API_REQ_MAX - 1 - (size_t)(hend - c->req)) {
				conn_close(c);
				return;
			}
			if (c->reqlen - (size_t)(hend - c->req) < want)
				return;
		}
		if (conn_route(c) < 0) {
			conn_close(c);
			return;
		}
		loop_io_mod(loop, io, EPOLLOUT);
	}
	while (c->respoff < c->resplen) {
		ssize_t n = write(io->fd, c->resp + c->respoff, c->resplen - c->respoff);
		if (n < 0) {
			if (errno == EAGAIN)
				return;
			break;
		}
		c->respoff += (size_t)n;
	}
	conn_close(c);
}

static void conn_on_timeout(struct loop *loop, struct loop_timer *t)
{
	(void)loop;
	conn_close(t->data);
}

static void api_on_accept(struct loop *loop, struct loop_io *io, uint32_t events)
{
	struct api *api = io->data;
	(void)events;
	for (;;) {
		struct api_conn *c;
		int fd = accept4(io->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		c = calloc(1, sizeof(*c));
		if (!c) {
			close(fd);
			continue;
		}
		c->api = api;
		loop_timer_init(&c->timer, conn_on_timeout, c);
		if (loop_io_add(loop, &c->io, fd, EPOLLIN, conn_on_io, c) < 0) {
			close(fd);
			free(c);
			continue;
		}
		loop_timer_start(loop, &c->timer, API_TIMEOUT_MS);
	}
}

struct api *api_new(struct loop *loop, const struct api_sources *src)
{
	struct api *api = calloc(1, sizeof(*api));
	if (!api)
		return NULL;
	api->loop = loop;
	api->src = *src;
	return api;
}

int api_listen(struct api *api, uint32_t addr, uint16_t port)
{
	int fd, rc;
	if (api->nlis == API_MAX_LISTEN)
		return -ENOSPC;
	fd = sock_listen4(addr, port, SOCK_STREAM);
	if (fd < 0)
		return fd;
	rc = loop_io_add(api->loop, &api->lis[api->nlis], fd, EPOLLIN, api_on_accept, api);
	if (rc < 0) {
		close(fd);
		return rc;
	}
	api->nlis++;
	return 0;
}

void api_set_model(struct api *api, const struct model *m)
{
	api->src.model = m;
}

void api_free(struct api *api)
{
	if (!api)
		return;
	for (size_t i = 0; i < api->nlis; i++) {
		loop_io_del(api->loop, &api->lis[i]);
		close(api->lis[i].fd);
	}
	free(api);
}
