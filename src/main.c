/*
 * vpcd's command line: validate, up, status, exec, demo-app. `up` wires the
 * planes together on one event loop: the template becomes a model (cfn), the
 * ALB and the DNS server serve it, the ECS plane runs its tasks and
 * registers them in the ALB's target groups, the admin API shows it all.
 */
#include <errno.h>
#include <sys/stat.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "alb/alb.h"
#include "api/api.h"
#include "api/status.h"
#include "cfn/cfn.h"
#include "core/addr.h"
#include "core/log.h"
#include "core/loop.h"
#include "demo/demo.h"
#include "dns/server.h"
#include "ecs/autoscale.h"
#include "ecs/ecs.h"
#include "ecs/proc.h"
#include "ecs/images.h"
#include "model/model.h"

#define DEFAULT_API "127.0.0.1:4590"
#define MAX_PARAMS 128
#define MAX_DNS 8

static const char usage[] =
	"usage:\n"
	"  vpcd validate FILE... [--param K=V]... [--params FILE] [--net CIDR] [--region R]\n"
	"               [--stack-name N] [--allow-unknown] [--template-map URL=FILE]...\n"
	"               [--format text|json] [--images FILE]\n"
	"  vpcd up FILE... [--param K=V]... [--params FILE] [--net CIDR] [--dns ADDR:PORT]\n"
	"               [--api ADDR:PORT] [--allow-unknown] [--template-map URL=FILE]...\n"
	"               [--state-dir DIR] [--port-offset N] [--region R] [--stack-name N]\n"
	"               [--dns-upstream ADDR:PORT]... [--images FILE] [--workers N]\n"
	"  vpcd status [--api ADDR:PORT] [--json]\n"
	"  vpcd host stop ID [--api ADDR:PORT]\n"
	"  vpcd apply FILE [--param K=V]... [--api ADDR:PORT]\n"
	"  vpcd exec [--api ADDR:PORT] -- CMD [ARG]...\n"
	"  vpcd demo-app\n";

#define MAX_FILES 32

struct cli {
	const char *file;
	const char *params[MAX_PARAMS];
	size_t nparams;
	const char *net;
	const char *dns[MAX_DNS];
	size_t ndns;
	const char *api;
	const char *state_dir;
	const char *region;
	const char *stack_name;
	int port_offset;
	int workers; /* --workers: ALB worker threads; 0 = online CPUs */
	int json;
	int verbose;
	const char *upstreams[MAX_DNS]; /* --dns-upstream, else resolv.conf */
	size_t nupstreams;
	const char *files[MAX_FILES]; /* FILE arguments: one stack each, in order */
	size_t nfiles;
	const char *params_file;
	const char *template_map[MAX_PARAMS];
	size_t ntemplate_map;
	int allow_unknown;
	int format_json; /* validate --format json */
	const char *images; /* --images FILE: image name or prefix -> process */
};

enum { OPT_PARAM = 256, OPT_NET, OPT_DNS, OPT_API, OPT_STATE_DIR, OPT_PORT_OFFSET, OPT_REGION,
       OPT_STACK_NAME, OPT_JSON, OPT_DNS_UPSTREAM, OPT_PARAMS, OPT_ALLOW_UNKNOWN,
       OPT_TEMPLATE_MAP, OPT_FORMAT, OPT_IMAGES, OPT_WORKERS };

static const struct option long_opts[] = {
	{"param", required_argument, NULL, OPT_PARAM},
	{"net", required_argument, NULL, OPT_NET},
	{"dns", required_argument, NULL, OPT_DNS},
	{"api", required_argument, NULL, OPT_API},
	{"state-dir", required_argument, NULL, OPT_STATE_DIR},
	{"port-offset", required_argument, NULL, OPT_PORT_OFFSET},
	{"region", required_argument, NULL, OPT_REGION},
	{"stack-name", required_argument, NULL, OPT_STACK_NAME},
	{"json", no_argument, NULL, OPT_JSON},
	{"params", required_argument, NULL, OPT_PARAMS},
	{"allow-unknown", no_argument, NULL, OPT_ALLOW_UNKNOWN},
	{"template-map", required_argument, NULL, OPT_TEMPLATE_MAP},
	{"format", required_argument, NULL, OPT_FORMAT},
	{"dns-upstream", required_argument, NULL, OPT_DNS_UPSTREAM},
	{"images", required_argument, NULL, OPT_IMAGES},
	{"workers", required_argument, NULL, OPT_WORKERS},
	{"verbose", no_argument, NULL, 'v'},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

/* Parses options after the subcommand; positional FILE into cli->file.
 * Returns 0, or 2 (usage error) after printing why. */
static int cli_parse(int argc, char **argv, struct cli *cli, int want_file)
{
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "vh", long_opts, NULL)) != -1) {
		switch (c) {
		case OPT_PARAM:
			if (cli->nparams == MAX_PARAMS || !strchr(optarg, '=')) {
				fprintf(stderr, "vpcd: --param wants KEY=VALUE, got '%s'\n",
					optarg);
				return 2;
			}
			cli->params[cli->nparams++] = optarg;
			break;
		case OPT_NET:
			cli->net = optarg;
			break;
		case OPT_DNS:
			if (cli->ndns == MAX_DNS)
				return 2;
			cli->dns[cli->ndns++] = optarg;
			break;
		case OPT_API:
			cli->api = optarg;
			break;
		case OPT_STATE_DIR:
			cli->state_dir = optarg;
			break;
		case OPT_PORT_OFFSET: {
			char *end;
			long v = strtol(optarg, &end, 10);
			if (*end || v < 0 || v > 60000) {
				fprintf(stderr, "vpcd: --port-offset wants 0..60000, got '%s'\n",
					optarg);
				return 2;
			}
			cli->port_offset = (int)v;
			break;
		}
		case OPT_WORKERS: {
			char *end;
			long v = strtol(optarg, &end, 10);
			if (*end || end == optarg || v < 1 || v > 64) {
				fprintf(stderr, "vpcd: --workers wants 1..64, got '%s'\n", optarg);
				return 2;
			}
			cli->workers = (int)v;
			break;
		}
		case OPT_REGION:
			cli->region = optarg;
			break;
		case OPT_STACK_NAME:
			cli->stack_name = optarg;
			break;
		case OPT_DNS_UPSTREAM:
			if (cli->nupstreams == MAX_DNS) {
				fprintf(stderr, "vpcd: at most %d --dns-upstream\n", MAX_DNS);
				return 2;
			}
			cli->upstreams[cli->nupstreams++] = optarg;
			break;
		case OPT_JSON:
			cli->json = 1;
			break;
		case OPT_IMAGES:
			cli->images = optarg;
			break;
		case OPT_PARAMS:
			cli->params_file = optarg;
			break;
		case OPT_ALLOW_UNKNOWN:
			cli->allow_unknown = 1;
			break;
		case OPT_TEMPLATE_MAP:
			if (cli->ntemplate_map == MAX_PARAMS || !strchr(optarg, '=')) {
				fprintf(stderr, "vpcd: --template-map wants URL=FILE, got '%s'\n",
					optarg);
				return 2;
			}
			cli->template_map[cli->ntemplate_map++] = optarg;
			break;
		case OPT_FORMAT:
			if (strcmp(optarg, "json") && strcmp(optarg, "text")) {
				fprintf(stderr, "vpcd: --format wants text or json, got '%s'\n",
					optarg);
				return 2;
			}
			cli->format_json = !strcmp(optarg, "json");
			break;
		case 'v':
			cli->verbose = 1;
			break;
		case 'h':
			fputs(usage, stdout);
			exit(0);
		default:
			fputs(usage, stderr);
			return 2;
		}
	}
	if (want_file) {
		if (optind >= argc) {
			fprintf(stderr, "vpcd: missing template FILE\n%s", usage);
			return 2;
		}
		cli->file = argv[optind];
		/* Several FILEs: several stacks, loaded in order. */
		while (optind < argc) {
			if (cli->nfiles == MAX_FILES) {
				fprintf(stderr, "vpcd: at most %d template files\n", MAX_FILES);
				return 2;
			}
			cli->files[cli->nfiles++] = argv[optind++];
		}
	}
	return 0;
}

/* validate --format json: errors and warnings collected for one document. */
static void diag_to_json(void *arg, const struct cfn_diag *d)
{
	json_t *o = json_pack("{s:s, s:i, s:i, s:s, s:s, s:s}", "file", d->file, "line", d->line,
			      "column", d->col, "path", d->path, "message", d->message,
			      "severity", d->warning ? "warning" : "error");
	if (o)
		json_array_append_new(json_object_get(arg, d->warning ? "warnings" : "errors"), o);
}

/* diags: with validate --format json, where errors and warnings go. */
/* Completes containers that name only an image from --images; reports the
 * ones that cannot run. Returns 0 or 1. */
static int images_apply(const struct cli *cli, struct model *m, FILE *errf)
{
	struct ecs_images *im = NULL;
	char err[512];
	int n;
	if (cli->images && ecs_images_load(cli->images, &im, err, sizeof(err)) < 0) {
		fprintf(errf, "vpcd: --images %s\n", err);
		return 1;
	}
	n = ecs_images_apply(im, m, cli->nfiles ? cli->files[0] : NULL, errf);
	ecs_images_free(im);
	return n != 0;
}

static int load_model_diags(const struct cli *cli, struct model **out, json_t *diags,
			    FILE *errf)
{
	struct cfn_options o;
	char **fkv = NULL;
	size_t nfkv = 0;
	const char **kv = NULL;
	int rc;

	cfn_options_default(&o);
	if (cli->region)
		o.region = cli->region;
	if (cli->stack_name)
		o.stack_name = cli->stack_name;
	if (cli->net && (cidr4_parse(cli->net, &o.net) < 0 || o.net.prefix != 16 ||
			 (o.net.addr >> 24) != 127)) {
		fprintf(errf, "vpcd: --net wants a /16 inside 127.0.0.0/8, got '%s'\n",
			cli->net);
		return 2;
	}
	if (cli->params_file && cfn_params_read(cli->params_file, &fkv, &nfkv, errf) < 0)
		return 2;
	/* The file first, so --param K=V given too wins. */
	kv = calloc(nfkv + cli->nparams + 1, sizeof(*kv));
	if (!kv) {
		cfn_params_free(fkv, nfkv);
		return 1;
	}
	for (size_t i = 0; i < nfkv; i++)
		kv[i] = fkv[i];
	for (size_t i = 0; i < cli->nparams; i++)
		kv[nfkv + i] = cli->params[i];
	o.params = kv;
	o.nparams = nfkv + cli->nparams;
	o.allow_unknown = cli->allow_unknown;
	o.template_map = cli->template_map;
	o.ntemplate_map = cli->ntemplate_map;
	if (diags) {
		o.on_diag = diag_to_json;
		o.diag_arg = diags;
	}
	rc = cfn_load_many(cli->files, cli->nfiles, &o, out, errf) ? 1 : 0;
	if (rc == 0 && images_apply(cli, *out, errf) != 0) {
		model_free(*out);
		*out = NULL;
		rc = 1;
	}
	free(kv);
	cfn_params_free(fkv, nfkv);
	return rc;
}

static int load_model(const struct cli *cli, struct model **out)
{
	return load_model_diags(cli, out, NULL, stderr);
}

static int cmd_validate(int argc, char **argv)
{
	struct cli cli = {0};
	struct model *m = NULL;
	int rc = cli_parse(argc, argv, &cli, 1);
	if (rc)
		return rc;
	if (cli.format_json) {
		json_t *diags = json_pack("{s:[], s:[]}", "errors", "warnings");
		if (!diags)
			return 1;
		rc = load_model_diags(&cli, &m, diags, stderr);
		if (rc != 2) {
			json_dumpf(diags, stdout, JSON_INDENT(2));
			fputc('\n', stdout);
		}
		json_decref(diags);
		model_free(m);
		return rc;
	}
	rc = load_model(&cli, &m);
	if (rc)
		return rc;
	cfn_plan_print(m, stdout);
	model_free(m);
	return 0;
}

/* --- up --- */

struct up {
	struct loop *loop;
	struct model *model;
	struct alb *alb;
	struct dns_server *dns;
	struct ecs *ecs;
	struct api *api;
	int stopping;
	const struct cli *cli;	 /* what it was started with, for apply */
	struct model **applied; /* models of `vpcd apply`, kept until exit */
	size_t napplied;
	struct aas *aas; /* Application Auto Scaling, after the ECS plane started */
};

static bool has_static_target(const struct model_target_group *t, uint32_t addr, uint16_t port)
{
	for (size_t i = 0; i < t->ntargets; i++)
		if (t->targets[i].addr == addr && t->targets[i].port == port)
			return true;
	return false;
}

/* Moves the groups' static registrations (Targets) from model old (NULL at
 * start) to model m: a target only m lists is registered, one only old
 * lists is deregistered (draining for the deregistration delay), as
 * RegisterTargets / DeregisterTargets would. Both models have the same
 * target groups by index. Returns how many targets it registered or
 * deregistered, or the first -errno. */
static int static_targets_sync(struct alb *a, const struct model *old, const struct model *m)
{
	int rc = 0, r, n = 0;
	char ab[16];
	for (size_t g = 0; g < m->ntgs; g++) {
		const struct model_target_group *t = &m->tgs[g];
		const struct model_target_group *o = old ? &old->tgs[g] : NULL;
		for (size_t i = 0; o && i < o->ntargets; i++) {
			if (has_static_target(t, o->targets[i].addr, o->targets[i].port))
				continue;
			r = alb_target_deregister(a, (int)g, o->targets[i].addr,
			                          o->targets[i].port);
			log_info("target group %s: deregistered static target %s:%u%s", t->logical,
			         addr4_str(o->targets[i].addr, ab), (unsigned)o->targets[i].port,
			         r < 0 ? " (failed)" : "");
			if (r < 0 && rc == 0)
				rc = r;
			n++;
		}
		for (size_t i = 0; i < t->ntargets; i++) {
			if (o && has_static_target(o, t->targets[i].addr, t->targets[i].port))
				continue;
			r = alb_target_register(a, (int)g, t->targets[i].addr, t->targets[i].port);
			log_info("target group %s: registered static target %s:%u%s", t->logical,
			         addr4_str(t->targets[i].addr, ab), (unsigned)t->targets[i].port,
			         r < 0 ? " (failed)" : "");
			if (r < 0 && rc == 0)
				rc = r;
			n++;
		}
	}
	return rc < 0 ? rc : n;
}

/* POST /v1/apply {"template": PATH, "params": ["K=V", ...]}: loads PATH
 * with the options vpcd was started with (its --param first, then the
 * apply's), refuses any difference but the services' DesiredCount and
 * DeploymentConfiguration, the task definitions' contents, listener rules'
 * conditions and actions and Route53 record sets (409), hands the rest to
 * the ECS plane, and moves the ALB, the resolver and the API to the new
 * model. The new model is kept until exit: the ECS plane points into its
 * task definitions, the ALB's snapshots into its rules. */
static char *up_apply(void *data, const char *body, size_t len, int *status)
{
	struct up *up = data;
	struct cli cli = *up->cli;
	struct model *m = NULL, **v;
	json_error_t jerr;
	json_t *req = json_loadb(body, len, 0, &jerr), *params, *resp = NULL;
	const char *file = req ? json_string_value(json_object_get(req, "template")) : NULL;
	char *errtext = NULL, *out, msg[4096];
	size_t errlen = 0, ndiff;
	FILE *errf;
	int rc;

	*status = 400;
	if (!file || *file != '/') {
		json_decref(req);
		return strdup("{\"error\": \"apply wants {\\\"template\\\": "
			      "ABSOLUTE-PATH, \\\"params\\\": [\\\"K=V\\\", ...]}\"}\n");
	}
	if (up->cli->nfiles != 1) {
		*status = 409;
		json_decref(req);
		return strdup("{\"error\": \"apply needs a vpcd started with one template\"}\n");
	}
	cli.files[0] = file;
	cli.file = file;
	/* The running stack, whatever the new file is called. */
	cli.stack_name = up->model->stack_name;
	params = json_object_get(req, "params");
	for (size_t i = 0; i < json_array_size(params); i++) {
		const char *kv = json_string_value(json_array_get(params, i));
		if (!kv || !strchr(kv, '=') || cli.nparams == MAX_PARAMS) {
			json_decref(req);
			return strdup("{\"error\": \"params wants K=V strings\"}\n");
		}
		cli.params[cli.nparams++] = kv;
	}
	errf = open_memstream(&errtext, &errlen);
	if (!errf) {
		json_decref(req);
		return NULL;
	}
	rc = load_model_diags(&cli, &m, NULL, errf);
	fclose(errf);
	if (rc) {
		resp = json_pack("{s:s, s:s}", "error", "the template does not load", "details",
				 errtext ? errtext : "");
		goto done;
	}
	ndiff = ecs_model_diff(up->model, m, msg, sizeof(msg));
	if (ndiff) {
		*status = 409;
		resp = json_pack("{s:s, s:s}", "error",
				 "vpcd apply changes only ECS services' DesiredCount and "
				 "DeploymentConfiguration, task definitions, listener rules, "
				 "target groups' Targets and Route53 record sets; the template "
				 "differs in:",
				 "details", msg);
		goto done;
	}
	v = realloc(up->applied, (up->napplied + 1) * sizeof(*v));
	if (!v) {
		*status = 500;
		goto done;
	}
	up->applied = v;
	if (up->alb) {
		/* listener rules may differ: the ALB's workers move to the new
		 * model (requests in flight finish on the old one) */
		rc = alb_set_model(up->alb, m, msg, sizeof(msg));
		if (rc < 0) {
			*status = 409;
			resp = json_pack("{s:s}", "error", msg);
			goto done;
		}
	}
	rc = ecs_apply(up->ecs, m, msg, sizeof(msg));
	if (rc < 0) {
		char e2[256];
		if (up->alb) /* back to the model it had: m is freed below */
			alb_set_model(up->alb,
				      up->napplied ? up->applied[up->napplied - 1] : up->model, e2,
				      sizeof(e2));
		*status = 500;
		resp = json_pack("{s:s}", "error", strerror(-rc));
		goto done;
	}
	if (up->alb) {
		int nt = static_targets_sync(
		    up->alb, up->napplied ? up->applied[up->napplied - 1] : up->model, m);
		if (nt < 0) {
			log_warn("apply %s: out of memory registering static targets", file);
		} else if (nt > 0 && rc == 0) {
			rc = nt;
			snprintf(msg, sizeof(msg), "%d static target%s registered or deregistered",
			         nt, nt == 1 ? "" : "s");
		}
	}
	up->applied[up->napplied++] = m; /* the ECS plane points into it now */
	{
		/* state.json names the template of each deployment, so that a
		 * restarted vpcd can resume it */
		const char *pv[MAX_PARAMS];
		size_t np = 0;
		for (size_t i = up->cli->nparams; i < cli.nparams; i++)
			pv[np++] = cli.params[i];
		if (ecs_set_model_source(up->ecs, m, file, pv, np) < 0)
			log_warn(
			    "apply %s: out of memory: a restart will not resume its deployments",
			    file);
	}
	/* Record sets may differ: the resolver and the API move to the new
	 * model (same indexes for everything else, as the diff checked). */
	if (up->dns)
		dns_server_set_model(up->dns, m);
	if (up->api)
		api_set_model(up->api, m);
	m = NULL;
	*status = 200;
	log_info("apply %s: %s", file, rc ? msg : "no change");
	resp = json_pack("{s:i, s:s}", "changed", rc, "message", rc ? msg : "no change");
done:
	model_free(m);
	free(errtext);
	json_decref(req);
	out = resp ? json_dumps(resp, JSON_INDENT(2)) : NULL;
	json_decref(resp);
	return out;
}

/* A template state.json names as the source of a deployment to resume,
 * loaded as POST /v1/apply loads one (the options vpcd was started with,
 * then params); kept until exit, as the ECS plane may point into it. */
static const struct model *hook_load_template(void *data, const char *file,
                                              const char *const *params, size_t nparams)
{
	struct up *up = data;
	struct cli cli = *up->cli;
	struct model *m = NULL, **v;
	char *errtext = NULL;
	size_t errlen = 0;
	FILE *errf;
	int rc;

	cli.files[0] = file;
	cli.file = file;
	cli.stack_name = up->model->stack_name;
	for (size_t i = 0; i < nparams && cli.nparams < MAX_PARAMS; i++)
		cli.params[cli.nparams++] = params[i];
	v = realloc(up->applied, (up->napplied + 1) * sizeof(*v));
	if (!v)
		return NULL;
	up->applied = v;
	errf = open_memstream(&errtext, &errlen);
	if (!errf)
		return NULL;
	rc = load_model_diags(&cli, &m, NULL, errf);
	fclose(errf);
	if (rc) {
		log_warn("ecs: cannot load %s again to resume its deployments:\n%s", file,
		         errtext ? errtext : "");
		free(errtext);
		model_free(m);
		return NULL;
	}
	free(errtext);
	up->applied[up->napplied++] = m;
	return m;
}

/* ALBRequestCountPerTarget's inputs, for Application Auto Scaling. */
static int hook_tg_requests(void *data, int tg, uint64_t *requests, size_t *healthy)
{
	struct up *up = data;
	return up->alb ? alb_tg_requests(up->alb, tg, requests, healthy) : -ENODEV;
}

static int hook_register(void *data, int tg, uint32_t addr, uint16_t port)
{
	struct up *up = data;
	return up->alb ? alb_target_register(up->alb, tg, addr, port) : 0;
}

static int hook_deregister(void *data, int tg, uint32_t addr, uint16_t port)
{
	struct up *up = data;
	return up->alb ? alb_target_deregister(up->alb, tg, addr, port) : 0;
}

/* The balancer's view of a target, for ECS's health-driven replacement and
 * for the end of draining. */
static void hook_health(void *data, int tg, uint32_t addr, uint16_t port,
			enum alb_target_state state)
{
	struct up *up = data;
	struct alb_target_info ti[64];
	const char *reason = NULL;
	enum ecs_target_health h = state == ALB_TARGET_HEALTHY	   ? ECS_TARGET_HEALTHY
				   : state == ALB_TARGET_UNHEALTHY ? ECS_TARGET_UNHEALTHY
				   : state == ALB_TARGET_UNUSED	   ? ECS_TARGET_UNUSED
								   : ECS_TARGET_OTHER;
	if (!up->ecs || !up->alb)
		return;
	if (h == ECS_TARGET_UNHEALTHY) {
		size_t n = alb_target_list(up->alb, tg, ti, 64);
		for (size_t i = 0; i < n && i < 64; i++)
			if (ti[i].addr == addr && ti[i].port == port)
				reason = ti[i].description;
	}
	ecs_target_health(up->ecs, tg, addr, port, h, reason);
}

/* An alias's target health, as Route53 evaluates a load balancer: every
 * target group it forwards to that has targets must have a healthy one;
 * with no target anywhere it is unhealthy. (Groups without targets, such
 * as an empty default action's, are left out, or no seed LB would ever be
 * healthy.) */
static bool tg_state(const struct up *up, int tg, bool *has)
{
	struct alb_target_info ti[64];
	size_t n = alb_target_list(up->alb, tg, ti, 64);
	bool healthy = false;
	*has = false;
	for (size_t i = 0; i < n && i < 64; i++) {
		if (ti[i].state == ALB_TARGET_DRAINING || ti[i].state == ALB_TARGET_UNUSED)
			continue;
		*has = true;
		healthy |= ti[i].state == ALB_TARGET_HEALTHY;
	}
	return healthy;
}

static bool dns_lb_healthy(void *data, int lb)
{
	struct up *up = data;
	const struct model *m = up->model;
	bool any = false;
	if (!up->alb)
		return true;
	for (size_t i = 0; i < m->nlisteners; i++) {
		const struct model_listener *l = &m->listeners[i];
		if (l->lb != lb)
			continue;
		for (size_t k = 0; k <= l->nrules; k++) {
			int tg = k == 0 ? l->default_action.target_group
					: m->rules[l->rules[k - 1]].action.target_group;
			bool has;
			if (tg < 0)
				continue;
			if (!tg_state(up, tg, &has) && has)
				return false;
			any |= has;
		}
	}
	return any;
}

static void on_ecs_stopped(void *data)
{
	struct up *up = data;
	log_info("all tasks stopped; exiting");
	loop_stop(up->loop);
}

static void on_stop_signal(struct loop *loop, int signo, void *data)
{
	struct up *up = data;
	if (up->stopping) {
		log_warn("second %s: stopping now", strsignal(signo));
		loop_stop(loop);
		return;
	}
	up->stopping = 1;
	log_info("%s: stopping listeners and tasks", strsignal(signo));
	/* No more scaling; listeners go first so no new request reaches a
	 * task being stopped. */
	aas_free(up->aas);
	up->aas = NULL;
	api_free(up->api);
	up->api = NULL;
	dns_server_free(up->dns);
	up->dns = NULL;
	alb_free(up->alb);
	up->alb = NULL;
	ecs_shutdown(up->ecs, on_ecs_stopped, up);
}

static const char *bind_hint(int err)
{
	if (err == -EACCES)
		return " (ports below 1024 need root or CAP_NET_BIND_SERVICE: run as root, "
		       "use --port-offset N, or sysctl net.ipv4.ip_unprivileged_port_start=0)";
	if (err == -EADDRINUSE)
		return " (address in use: is another vpcd running? try another --net)";
	return "";
}

static int up_start(struct up *up, const struct cli *cli)
{
	char err[256], buf[16];
	uint32_t addr;
	uint16_t port;
	struct ecs_hooks hooks = {hook_register, hook_deregister, up, hook_load_template};
	struct api_sources src = {0};
	int rc;

	up->alb = alb_new(up->loop, up->model);
	if (!up->alb)
		return -ENOMEM;
	{
		/* one ALB worker per online CPU unless --workers says */
		long n = cli->workers;
		if (n <= 0) {
			n = sysconf(_SC_NPROCESSORS_ONLN);
			if (n < 1)
				n = 1;
			if (n > 64)
				n = 64;
		}
		rc = alb_set_workers(up->alb, (int)n);
		if (rc < 0)
			return rc;
		log_info("load balancer: %ld worker%s", n, n == 1 ? "" : "s");
	}
	{
		/* the ALB access log goes to a file of the state directory */
		const char *sd = cli->state_dir ? cli->state_dir : "state";
		char lp[4096];
		mkdir(sd, 0755);
		snprintf(lp, sizeof(lp), "%s/access.log", sd);
		if (alb_set_access_log(up->alb, lp) < 0)
			log_warn("cannot open the access log %s: %s", lp, strerror(errno));
	}
	err[0] = '\0';
	rc = alb_start(up->alb, cli->port_offset, err, sizeof(err));
	if (rc < 0) {
		log_error("load balancer: %s: %s%s", err, strerror(-rc), bind_hint(rc));
		return rc;
	}
	up->dns = dns_server_new(up->loop, up->model);
	if (!up->dns)
		return -ENOMEM;
	rc = dns_server_listen(up->dns, up->model->resolver_addr, (uint16_t)(53 + cli->port_offset));
	if (rc < 0) {
		log_error("dns: cannot listen on %s:%d: %s%s", addr4_str(up->model->resolver_addr, buf),
			  53 + cli->port_offset, strerror(-rc), bind_hint(rc));
		return rc;
	}
	for (size_t i = 0; i < cli->ndns; i++) {
		if (addrport4_parse(cli->dns[i], &addr, &port) < 0) {
			log_error("--dns wants ADDR:PORT, got '%s'", cli->dns[i]);
			return -EINVAL;
		}
		rc = dns_server_listen(up->dns, addr, port);
		if (rc < 0) {
			log_error("dns: cannot listen on %s: %s%s", cli->dns[i], strerror(-rc),
				  bind_hint(rc));
			return rc;
		}
	}
	/* Every other VPC has its resolver at its own base + 2. */
	for (size_t i = 1; i < up->model->nvpcs; i++) {
		uint32_t ra = up->model->vpcs[i].lo_base + 2;
		rc = dns_server_listen(up->dns, ra, (uint16_t)(53 + cli->port_offset));
		if (rc < 0)
			log_warn("dns: no resolver for VPC %s at %s:%d: %s",
				 up->model->vpcs[i].logical, addr4_str(ra, buf),
				 53 + cli->port_offset, strerror(-rc));
	}
	for (size_t i = 0; i < cli->nupstreams; i++) {
		if (addrport4_parse(cli->upstreams[i], &addr, &port) < 0) {
			log_error("--dns-upstream wants ADDR:PORT, got '%s'", cli->upstreams[i]);
			return -EINVAL;
		}
		dns_server_add_upstream(up->dns, addr, port);
	}
	dns_server_set_lb_health(up->dns, dns_lb_healthy, up);
	if (cli->nupstreams == 0 && dns_server_load_resolv_conf(up->dns, "/etc/resolv.conf") <= 0)
		log_warn("dns: no usable nameserver in /etc/resolv.conf: names outside the "
			 "private zones get SERVFAIL");
	/* Tasks resolve like hosts of the VPC when resolv.conf can name the
	 * resolver (port 53). */
	if (cli->port_offset == 0)
		ecs_proc_set_resolver(up->model->resolver_addr);
	else
		log_info("ecs: tasks use the machine's resolver: with --port-offset the VPC "
			 "resolver is not on port 53, which resolv.conf cannot name otherwise");
	up->ecs = ecs_new(up->loop, up->model, cli->state_dir ? cli->state_dir : "state", &hooks);
	if (!up->ecs)
		return -ENOMEM;
	alb_on_health(up->alb, hook_health, up);
	src.model = up->model;
	src.alb = up->alb;
	src.ecs = up->ecs;
	src.ecs_ctl = up->ecs;
	src.resolver_addr = up->model->resolver_addr;
	src.resolver_port = (uint16_t)(53 + cli->port_offset);
	src.port_offset = cli->port_offset;
	src.apply = up_apply;
	src.apply_data = up;
	up->cli = cli;
	up->api = api_new(up->loop, &src);
	if (!up->api)
		return -ENOMEM;
	if (addrport4_parse(cli->api ? cli->api : DEFAULT_API, &addr, &port) < 0) {
		log_error("--api wants ADDR:PORT, got '%s'", cli->api);
		return -EINVAL;
	}
	rc = api_listen(up->api, addr, port);
	if (rc < 0) {
		log_error("admin api: cannot listen on %s: %s%s", cli->api ? cli->api : DEFAULT_API,
			  strerror(-rc), bind_hint(rc));
		return rc;
	}
	{
		char base[128];
		snprintf(base, sizeof(base), "http://%s", cli->api ? cli->api : DEFAULT_API);
		ecs_set_metadata_base(up->ecs, base);
	}
	if (cli->nfiles == 1) {
		/* the template of the first deployments, for state.json */
		char abs[PATH_MAX];
		if (!realpath(cli->files[0], abs) ||
		    ecs_set_model_source(up->ecs, up->model, abs, NULL, 0) < 0)
			log_warn("ecs: %s: %s: a restart will not find this template's task "
			         "definitions by name",
			         cli->files[0], strerror(errno ? errno : ENOMEM));
	}
	/* the target groups' Targets, before the tasks' */
	rc = static_targets_sync(up->alb, NULL, up->model);
	if (rc < 0) {
		log_error("load balancer: cannot register static targets: %s", strerror(-rc));
		return rc;
	}
	rc = ecs_start(up->ecs);
	if (rc < 0) {
		log_error("ecs: cannot start tasks: %s", strerror(-rc));
		return rc;
	}
	/* Application Auto Scaling of the services' DesiredCount. */
	up->aas = aas_new(up->loop, up->model, up->ecs, hook_tg_requests, up);
	if (!up->aas)
		return -ENOMEM;
	aas_start(up->aas);
	return 0;
}

static void up_print_ready(const struct up *up, const struct cli *cli)
{
	const struct model *m = up->model;
	char buf[16];
	for (size_t i = 0; i < m->nlbs; i++) {
		fprintf(stderr, "vpcd: load balancer %s at", m->lbs[i].dns_name);
		for (size_t j = 0; j < m->lbs[i].nsubnets; j++)
			fprintf(stderr, " %s", addr4_str(m->lbs[i].node_addrs[j], buf));
		fputc('\n', stderr);
	}
	fprintf(stderr, "vpcd: resolver at %s:%d", addr4_str(m->resolver_addr, buf),
		53 + cli->port_offset);
	for (size_t i = 0; i < cli->ndns; i++)
		fprintf(stderr, " and %s", cli->dns[i]);
	fprintf(stderr, "; admin api at http://%s/v1/stack\n", cli->api ? cli->api : DEFAULT_API);
	/* The stacks' Outputs, after the ready lines. */
	for (size_t i = 0; i < m->noutputs; i++)
		fprintf(stderr, "vpcd: output %s = %s%s%s%s\n", m->outputs[i].logical,
			m->outputs[i].value, m->outputs[i].export_name ? " (export " : "",
			m->outputs[i].export_name ? m->outputs[i].export_name : "",
			m->outputs[i].export_name ? ")" : "");
}

static int cmd_up(int argc, char **argv)
{
	struct cli cli = {0};
	struct up up = {0};
	int rc = cli_parse(argc, argv, &cli, 1);
	if (rc)
		return rc;
	if (cli.verbose)
		log_threshold = LOG_DEBUG;
	rc = load_model(&cli, &up.model);
	if (rc)
		return rc;
	/* A client closing early must not kill the balancer. */
	signal(SIGPIPE, SIG_IGN);
	up.loop = loop_new();
	if (!up.loop) {
		rc = 1;
		goto out;
	}
	if (loop_signal_add(up.loop, SIGINT, on_stop_signal, &up) < 0 ||
	    loop_signal_add(up.loop, SIGTERM, on_stop_signal, &up) < 0) {
		log_error("cannot set up signal handling");
		rc = 1;
		goto out;
	}
	if (up_start(&up, &cli) < 0) {
		rc = 1;
		if (up.ecs) {
			/* Tasks may have started: stop them before leaving. */
			alb_free(up.alb);
			up.alb = NULL;
			ecs_shutdown(up.ecs, on_ecs_stopped, &up);
			loop_run(up.loop);
		}
		goto out;
	}
	up_print_ready(&up, &cli);
	rc = loop_run(up.loop) < 0 ? 1 : 0;
out:
	api_free(up.api);
	dns_server_free(up.dns);
	aas_free(up.aas);
	alb_free(up.alb);
	ecs_free(up.ecs);
	ecs_proc_set_resolver(0); /* removes the tasks' resolv.conf */
	loop_free(up.loop);
	model_free(up.model);
	for (size_t i = 0; i < up.napplied; i++)
		model_free(up.applied[i]);
	free(up.applied);
	return rc;
}

/* vpcd host stop ID [--api ADDR:PORT] */
static int cmd_host(int argc, char **argv)
{
	struct cli cli = {0};
	int rc;
	if (argc < 2 || strcmp(argv[1], "stop") != 0) {
		fprintf(stderr, "vpcd: host wants 'stop ID'\n%s", usage);
		return 2;
	}
	/* From "stop" on, the instance id takes the place of a FILE. */
	rc = cli_parse(argc - 1, argv + 1, &cli, 1);
	if (rc)
		return rc;
	return status_host_stop(cli.api ? cli.api : DEFAULT_API, cli.file);
}

/* vpcd apply FILE [--param K=V]... [--api ADDR:PORT]: POST /v1/apply with
 * the template's absolute path and the params. */
static int cmd_apply(int argc, char **argv)
{
	struct cli cli = {0};
	const char *api, *msg;
	char abs[4096], *body = NULL;
	json_t *req, *params, *resp;
	uint32_t addr;
	uint16_t port;
	int rc = cli_parse(argc, argv, &cli, 1), code;

	if (rc)
		return rc;
	if (cli.nfiles != 1) {
		fprintf(stderr, "vpcd: apply wants one template FILE\n");
		return 2;
	}
	api = cli.api ? cli.api : DEFAULT_API;
	if (!realpath(cli.file, abs)) {
		fprintf(stderr, "vpcd: %s: %s\n", cli.file, strerror(errno));
		return 1;
	}
	params = json_array();
	for (size_t i = 0; i < cli.nparams; i++)
		json_array_append_new(params, json_string(cli.params[i]));
	req = json_pack("{s:s, s:o}", "template", abs, "params", params);
	body = req ? json_dumps(req, JSON_COMPACT) : NULL;
	json_decref(req);
	if (!body || addrport4_parse(api, &addr, &port) < 0) {
		fprintf(stderr, "vpcd: --api wants ADDR:PORT, got '%s'\n", api);
		free(body);
		return 2;
	}
	/* A deployment's load of the template can take a while: 60 s. */
	resp = status_api_call(api, "POST", "/v1/apply", body, 60, &code);
	free(body);
	msg = json_string_value(json_object_get(resp, code == 200 ? "message" : "error"));
	if (code == 0) {
		fprintf(stderr, "vpcd: apply: no answer from the admin API at %s\n", api);
		rc = 1;
	} else if (code == 200) {
		printf("%s\n", msg ? msg : "applied");
		rc = 0;
	} else {
		const char *details = json_string_value(json_object_get(resp, "details"));
		fprintf(stderr, "vpcd: apply: %s\n%s", msg ? msg : "refused",
			details ? details : "");
		rc = 1;
	}
	json_decref(resp);
	return rc;
}

static int cmd_status(int argc, char **argv)
{
	struct cli cli = {0};
	int rc = cli_parse(argc, argv, &cli, 0);
	if (rc)
		return rc;
	return status_main(cli.api ? cli.api : DEFAULT_API, cli.json);
}

static int cmd_exec(int argc, char **argv)
{
	struct cli cli = {0};
	uint32_t resolver;
	int rc = cli_parse(argc, argv, &cli, 0);
	if (rc)
		return rc;
	if (optind >= argc) {
		fprintf(stderr, "vpcd: exec wants a command: vpcd exec -- CMD [ARG]...\n");
		return 2;
	}
	if (status_resolver(cli.api ? cli.api : DEFAULT_API, &resolver) < 0) {
		fprintf(stderr,
			"vpcd: exec: no vpcd answers at %s (start one with `vpcd up FILE`, or "
			"name its admin API with --api)\n",
			cli.api ? cli.api : DEFAULT_API);
		return 1;
	}
	return vpc_exec_main(resolver, argv + optind);
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : NULL;
	if (!cmd || !strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
		fputs(usage, cmd ? stdout : stderr);
		return cmd ? 0 : 2;
	}
	if (!strcmp(cmd, "validate"))
		return cmd_validate(argc - 1, argv + 1);
	if (!strcmp(cmd, "up"))
		return cmd_up(argc - 1, argv + 1);
	if (!strcmp(cmd, "status"))
		return cmd_status(argc - 1, argv + 1);
	if (!strcmp(cmd, "host"))
		return cmd_host(argc - 1, argv + 1);
	if (!strcmp(cmd, "exec"))
		return cmd_exec(argc - 1, argv + 1);
	if (!strcmp(cmd, "apply"))
		return cmd_apply(argc - 1, argv + 1);
	if (!strcmp(cmd, "demo-app"))
		return demo_app_main(argc - 1, argv + 1);
	fprintf(stderr, "vpcd: unknown command '%s'\n%s", cmd, usage);
	return 2;
}
