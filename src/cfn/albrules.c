/*
 * ALB listener rules in a template: the actions of a listener or rule
 * (forward with ForwardConfig, fixed-response, redirect, Order) and the six
 * rule condition types with AWS's limits (ELBv2 API reference and the ALB
 * user guide, spec/aws-facts.md §1). Regex values (RegexValues) are compiled
 * here with PCRE2, so a pattern AWS would refuse is an error at load and the
 * data plane gets ready-to-run code.
 */
#include "cfn/cfn_int.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "cfn/albrules.h"

#define COND_MAX_EVALS 3 /* "up to three match evaluations per condition" */
#define RULE_MAX_EVALS 5 /* condition values per rule */
#define RULE_MAX_WILDCARDS 5
#define COND_VALUE_MAX 128

/* ---------- actions ---------- */

static const char *const action_props[] = {"Type",
                                           "TargetGroupArn",
                                           "ForwardConfig",
                                           "Order",
                                           "RedirectConfig",
                                           "FixedResponseConfig",
                                           "AuthenticateOidcConfig",
                                           "AuthenticateCognitoConfig",
                                           "JwtValidationConfig",
                                           NULL};

static bool forward(struct cfn_ctx *c, const struct cfn_node *a, const char *ap,
                    struct model_action *out)
{
	const struct cfn_node *tg = cfn_node_get(a, "TargetGroupArn");
	const char *tgp = cfn__path_key(c, ap, "TargetGroupArn");
	struct cfn_node *fc = cfn__prop_map(c, a, "ForwardConfig", ap);
	if (!fc) {
		if (!tg) {
			cfn_error_at(c, a, ap,
			             "a forward action needs TargetGroupArn or ForwardConfig");
			return false;
		}
		out->target_group = cfn__ref_index(
		    c, tg, "AWS::ElasticLoadBalancingV2::TargetGroup", tgp, "a target group");
		return out->target_group >= 0;
	}
	const char *fp = cfn__path_key(c, ap, "ForwardConfig");
	static const char *const fprops[] = {"TargetGroups", "TargetGroupStickinessConfig", NULL};
	cfn__check_keys(c, fc, fp, fprops, NULL, "property");
	struct cfn_node *tgs = cfn__prop_list(c, fc, "TargetGroups", fp);
	const char *tsp = cfn__path_key(c, fp, "TargetGroups");
	if (!tgs || tgs->n == 0) {
		cfn_error_at(c, tgs ? tgs : fc, tsp,
		             "ForwardConfig needs at least one target group");
		return false;
	}
	if (tgs->n > MODEL_MAX_FORWARD_TGS) {
		cfn_error_at(c, tgs, tsp,
		             "a forward action can have at most %d target groups, found %zu",
		             MODEL_MAX_FORWARD_TGS, tgs->n);
		return false;
	}
	bool ok = true;
	for (size_t i = 0; i < tgs->n; i++) {
		const struct cfn_node *t = tgs->items[i];
		const char *ip = cfn__item_path(c, fp, "TargetGroups", i);
		if (t->type != CFN_MAP) {
			cfn_error_at(c, t, ip, "expected an object, found %s", cfn__found(c, t));
			ok = false;
			continue;
		}
		static const char *const tprops[] = {"TargetGroupArn", "Weight", NULL};
		static const char *const treq[] = {"TargetGroupArn", NULL};
		cfn__check_keys(c, t, ip, tprops, treq, "property");
		if (tgs->n > 1 && !cfn_node_get(t, "Weight")) {
			cfn_error_at(c, t, ip,
			             "with several target groups each needs a Weight (0..999)");
			ok = false;
		}
		int w = cfn__prop_int(c, t, "Weight", ip, 1, 0, 999);
		const struct cfn_node *arn = cfn_node_get(t, "TargetGroupArn");
		if (!arn)
			continue;
		int g = cfn__ref_index(c, arn, "AWS::ElasticLoadBalancingV2::TargetGroup",
		                       cfn__path_key(c, ip, "TargetGroupArn"), "a target group");
		if (g < 0) {
			ok = false;
			continue;
		}
		for (size_t k = 0; k < out->nfwd; k++)
			if (out->fwd_tgs[k] == g) {
				cfn_error_at(
				    c, arn, cfn__path_key(c, ip, "TargetGroupArn"),
				    "the same target group is named twice in ForwardConfig");
				ok = false;
			}
		out->fwd_tgs[out->nfwd] = g;
		out->fwd_weights[out->nfwd++] = w;
	}
	if (!ok || out->nfwd == 0)
		return false;
	if (tg) {
		/* AWS: with both, ForwardConfig may name only that one group */
		int g = cfn__ref_index(c, tg, "AWS::ElasticLoadBalancingV2::TargetGroup", tgp,
		                       "a target group");
		if (g >= 0 && (out->nfwd != 1 || out->fwd_tgs[0] != g)) {
			cfn_error_at(c, tg, tgp,
			             "with both TargetGroupArn and ForwardConfig, ForwardConfig "
			             "may name only that same target group");
			return false;
		}
	}
	out->target_group = out->fwd_tgs[0];
	struct cfn_node *st = cfn__prop_map(c, fc, "TargetGroupStickinessConfig", fp);
	if (st) {
		const char *sp = cfn__path_key(c, fp, "TargetGroupStickinessConfig");
		static const char *const sprops[] = {"Enabled", "DurationSeconds", NULL};
		cfn__check_keys(c, st, sp, sprops, NULL, "property");
		out->tg_sticky = cfn__prop_bool(c, st, "Enabled", sp, false);
		out->tg_sticky_s = cfn__prop_int(c, st, "DurationSeconds", sp, 0, 1, 604800);
		if (out->tg_sticky && !cfn_node_get(st, "DurationSeconds")) {
			cfn_error_at(c, st, sp,
			             "DurationSeconds (1..604800) is required when target group "
			             "stickiness is enabled");
			return false;
		}
	}
	return true;
}

static bool fixed_response(struct cfn_ctx *c, const struct cfn_node *a, const char *ap,
                           struct model_action *out)
{
	struct cfn_node *fr = cfn__prop_map(c, a, "FixedResponseConfig", ap);
	if (!fr) {
		cfn_error_at(c, a, ap, "a fixed-response action needs FixedResponseConfig");
		return false;
	}
	const char *fp = cfn__path_key(c, ap, "FixedResponseConfig");
	static const char *const props[] = {"StatusCode", "ContentType", "MessageBody", NULL};
	static const char *const req[] = {"StatusCode", NULL};
	cfn__check_keys(c, fr, fp, props, req, "property");
	const char *sc = cfn__prop_str(c, fr, "StatusCode", fp);
	if (!sc)
		return false;
	if (strlen(sc) != 3 || !strchr("245", sc[0]) || !isdigit((unsigned char)sc[1]) ||
	    !isdigit((unsigned char)sc[2])) {
		cfn_error_at(c, cfn_node_get(fr, "StatusCode"), cfn__path_key(c, fp, "StatusCode"),
		             "StatusCode must match ^(2|4|5)\\d\\d$; found \"%s\"", sc);
		return false;
	}
	out->status = atoi(sc);
	static const char *const types[] = {"text/plain",       "text/css",
	                                    "text/html",        "application/javascript",
	                                    "application/json", NULL};
	out->content_type = cfn__strdup(cfn__prop_enum(c, fr, "ContentType", fp, NULL, types));
	const char *body = cfn__prop_str(c, fr, "MessageBody", fp);
	if (body && strlen(body) > 1024) {
		cfn_error_at(
		    c, cfn_node_get(fr, "MessageBody"), cfn__path_key(c, fp, "MessageBody"),
		    "MessageBody can have at most 1024 characters, found %zu", strlen(body));
		return false;
	}
	out->body = cfn__strdup(body);
	return true;
}

static bool redirect(struct cfn_ctx *c, const struct cfn_node *a, const char *ap,
                     const char *listener_proto, struct model_action *out)
{
	struct cfn_node *rc = cfn__prop_map(c, a, "RedirectConfig", ap);
	if (!rc) {
		cfn_error_at(c, a, ap, "a redirect action needs RedirectConfig");
		return false;
	}
	const char *rp = cfn__path_key(c, ap, "RedirectConfig");
	static const char *const props[] = {"Protocol", "Port",       "Host", "Path",
	                                    "Query",    "StatusCode", NULL};
	static const char *const req[] = {"StatusCode", NULL};
	cfn__check_keys(c, rc, rp, props, req, "property");
	static const char *const codes[] = {"HTTP_301", "HTTP_302", NULL};
	const char *sc = cfn__prop_enum(c, rc, "StatusCode", rp, NULL, codes);
	if (!sc)
		return false;
	out->status = strcmp(sc, "HTTP_301") == 0 ? 301 : 302;
	static const char *const protos[] = {"HTTP", "HTTPS", "#{protocol}", NULL};
	const char *proto = cfn__prop_enum(c, rc, "Protocol", rp, NULL, protos);
	const char *port = cfn__prop_str(c, rc, "Port", rp);
	const char *host = cfn__prop_str(c, rc, "Host", rp);
	const char *path = cfn__prop_str(c, rc, "Path", rp);
	const char *query = cfn__prop_str(c, rc, "Query", rp);
	bool ok = true;
	if (port && strcmp(port, "#{port}") != 0) {
		char *e;
		long v = strtol(port, &e, 10);
		if (!*port || *e || v < 1 || v > 65535) {
			cfn_error_at(c, cfn_node_get(rc, "Port"), cfn__path_key(c, rp, "Port"),
			             "Port must be 1..65535 or #{port}; found \"%s\"", port);
			ok = false;
		}
	}
	if (host && (strlen(host) < 1 || strlen(host) > 128)) {
		cfn_error_at(c, cfn_node_get(rc, "Host"), cfn__path_key(c, rp, "Host"),
		             "Host must have 1..128 characters");
		ok = false;
	}
	if (path && (strlen(path) > 128 || path[0] != '/')) {
		cfn_error_at(c, cfn_node_get(rc, "Path"), cfn__path_key(c, rp, "Path"),
		             "Path must be absolute (start with /) and have up to 128 "
		             "characters; found \"%s\"",
		             path);
		ok = false;
	}
	if (query && (strlen(query) > 128 || query[0] == '?')) {
		cfn_error_at(c, cfn_node_get(rc, "Query"), cfn__path_key(c, rp, "Query"),
		             "Query has up to 128 characters and no leading \"?\" (it is added)");
		ok = false;
	}
	if (proto && strcmp(proto, "HTTP") == 0 && strcmp(listener_proto, "HTTPS") == 0) {
		cfn_error_at(c, cfn_node_get(rc, "Protocol"), cfn__path_key(c, rp, "Protocol"),
		             "You can't redirect HTTPS to HTTP");
		ok = false;
	}
	bool changes = (proto && strcmp(proto, "#{protocol}") != 0 &&
	                strcasecmp(proto, listener_proto) != 0) ||
	               (host && strcmp(host, "#{host}") != 0) ||
	               (port && strcmp(port, "#{port}") != 0) ||
	               (path && strcmp(path, "/#{path}") != 0);
	if (ok && !changes) {
		cfn_error_at(c, rc, rp,
		             "a redirect must change at least one of protocol, host, port or "
		             "path, to avoid a redirect loop");
		ok = false;
	}
	out->rd_protocol = cfn__strdup(proto);
	out->rd_port = cfn__strdup(port);
	out->rd_host = cfn__strdup(host);
	out->rd_path = cfn__strdup(path);
	out->rd_query = cfn__strdup(query);
	return ok;
}

bool cfn__alb_actions(struct cfn_ctx *c, const struct cfn_node *l, const char *base,
                      const char *key, const char *listener_proto, struct model_action *out)
{
	out->type = MODEL_ACTION_FORWARD;
	out->target_group = -1;
	if (!l)
		return false;
	const char *lp = cfn__path_key(c, base, key);
	if (l->n == 0) {
		cfn_error_at(c, l, lp, "at least one action is required");
		return false;
	}
	static const char *const types[] = {"forward",
	                                    "redirect",
	                                    "fixed-response",
	                                    "authenticate-oidc",
	                                    "authenticate-cognito",
	                                    "jwt-validation",
	                                    NULL};
	size_t terminal = (size_t)-1;
	int orders[16] = {0};
	bool ok = true;
	for (size_t i = 0; i < l->n; i++) {
		const struct cfn_node *a = l->items[i];
		const char *ap = cfn__item_path(c, base, key, i);
		if (a->type != CFN_MAP) {
			cfn_error_at(c, a, ap, "expected an object, found %s", cfn__found(c, a));
			ok = false;
			continue;
		}
		static const char *const req[] = {"Type", NULL};
		cfn__check_keys(c, a, ap, action_props, req, "property");
		int order = cfn__prop_int(c, a, "Order", ap, 0, 1, 50000);
		if (l->n > 1 && !cfn_node_get(a, "Order")) {
			cfn_error_at(c, a, ap, "Order (1..50000) is required with several actions");
			ok = false;
		}
		for (size_t k = 0; k < i && k < 16; k++)
			if (order && orders[k] == order) {
				cfn_error_at(c, cfn_node_get(a, "Order"),
				             cfn__path_key(c, ap, "Order"),
				             "two actions have Order %d", order);
				ok = false;
			}
		if (i < 16)
			orders[i] = order;
		const char *t = cfn__prop_enum(c, a, "Type", ap, NULL, types);
		if (!t) {
			ok = false;
			continue;
		}
		if (strncmp(t, "authenticate-", 13) == 0 || strcmp(t, "jwt-validation") == 0) {
			cfn_error_at(c, cfn_node_get(a, "Type"), cfn__path_key(c, ap, "Type"),
			             "action type %s is out of vpcd's scope (it needs an HTTPS "
			             "listener and an identity provider)",
			             t);
			ok = false;
			continue;
		}
		if (terminal != (size_t)-1) {
			cfn_error_at(c, a, ap,
			             "a rule must have exactly one forward, fixed-response or "
			             "redirect action");
			ok = false;
			continue;
		}
		terminal = i;
		out->order = order;
		if (strcmp(t, "forward") == 0) {
			out->type = MODEL_ACTION_FORWARD;
			ok = forward(c, a, ap, out) && ok;
		} else if (strcmp(t, "fixed-response") == 0) {
			out->type = MODEL_ACTION_FIXED_RESPONSE;
			ok = fixed_response(c, a, ap, out) && ok;
		} else {
			out->type = MODEL_ACTION_REDIRECT;
			ok =
			    redirect(c, a, ap, listener_proto ? listener_proto : "HTTP", out) && ok;
		}
	}
	return ok && terminal != (size_t)-1;
}

/* ---------- conditions ---------- */

static const char *const cond_props[] = {"Field",
                                         "Values",
                                         "HostHeaderConfig",
                                         "HttpHeaderConfig",
                                         "HttpRequestMethodConfig",
                                         "PathPatternConfig",
                                         "QueryStringConfig",
                                         "SourceIpConfig",
                                         "RegexValues",
                                         NULL};

static const char *const fields[] = {
    "host-header",  "path-pattern", "http-header", "http-request-method",
    "query-string", "source-ip",    NULL};
/* the *Config key of each field, in the order of fields[] */
static const char *const config_keys[] = {"HostHeaderConfig",  "PathPatternConfig",
                                          "HttpHeaderConfig",  "HttpRequestMethodConfig",
                                          "QueryStringConfig", "SourceIpConfig"};

static bool host_ok(const char *h)
{
	size_t n = strlen(h);
	if (n == 0 || n > COND_VALUE_MAX)
		return false;
	const char *dot = strrchr(h, '.');
	if (!dot)
		return false;
	for (const char *p = h; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("-.*?_", *p))
			return false;
	for (const char *p = dot + 1; *p; p++)
		if (!isalpha((unsigned char)*p) && *p != '*' && *p != '?')
			return false;
	return true;
}

static bool path_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > COND_VALUE_MAX)
		return false;
	for (const char *p = s; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("_-.$/~\"'@:+&*?", *p))
			return false;
	return true;
}

static bool method_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 40)
		return false;
	for (const char *p = s; *p; p++)
		if (!(*p >= 'A' && *p <= 'Z') && *p != '-' && *p != '_')
			return false;
	return true;
}

static bool token_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 40)
		return false;
	for (const char *p = s; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("!#$%&'*+-.^_`|~", *p))
			return false;
	return true;
}

/* Wildcard characters of a value; in query-string values "\*" and "\?" are
 * literals. */
static size_t wildcards(const char *s, bool escapes)
{
	size_t n = 0;
	for (const char *p = s; *p; p++) {
		if (escapes && *p == '\\' && p[1]) {
			p++;
			continue;
		}
		n += *p == '*' || *p == '?';
	}
	return n;
}

const char *cfn__alb_regex_unsupported(const char *re)
{
	bool in_class = false;
	for (size_t i = 0; re[i]; i++) {
		char ch = re[i];
		if (ch == '\\') {
			char e = re[i + 1];
			if (!e)
				break;
			if (e >= '1' && e <= '9')
				return "backreferences";
			if (e == 'k' || e == 'g')
				return "backreferences and subroutines";
			if (e == 'p' || e == 'P' || e == 'X')
				return "Unicode classes";
			i++;
			continue;
		}
		if (in_class) {
			if (ch == ']')
				in_class = false;
			continue;
		}
		if (ch == '[') {
			in_class = true;
			if (re[i + 1] == '^')
				i++;
			if (re[i + 1] == ']')
				i++; /* a leading ] is a literal */
			continue;
		}
		if (ch == '(' && re[i + 1] == '?') {
			char n1 = re[i + 2], n2 = n1 ? re[i + 3] : 0;
			if (n1 == '=' || n1 == '!')
				return "lookaheads";
			if (n1 == '<' && (n2 == '=' || n2 == '!'))
				return "lookbehinds";
			if (n1 == '>')
				return "atomic groups";
			if (n1 == 'R' || n1 == '&' || isdigit((unsigned char)n1) ||
			    ((n1 == '+' || n1 == '-') && isdigit((unsigned char)n2)))
				return "recursion and subroutines";
			if (n1 == 'P' && (n2 == '=' || n2 == '>'))
				return "backreferences and subroutines";
			continue;
		}
		if (ch == '(' && re[i + 1] == '*')
			return "backtracking control verbs";
		if ((ch == '*' || ch == '+' || ch == '?' || ch == '}') && re[i + 1] == '+' &&
		    i > 0 && !(ch == '?' && re[i - 1] == '('))
			return "possessive quantifiers";
	}
	return NULL;
}

/* Compiles one RegexValues entry (JIT when available); NULL after an error
 * (reported). */
static void *regex_compile(struct cfn_ctx *c, const struct cfn_node *v, const char *path,
                           bool caseless)
{
	const char *bad = cfn__alb_regex_unsupported(v->str);
	if (bad) {
		cfn_error_at(c, v, path, "regular expressions here do not support %s; found \"%s\"",
		             bad, v->str);
		return NULL;
	}
	int err;
	PCRE2_SIZE off;
	pcre2_code *re = pcre2_compile((PCRE2_SPTR)v->str, PCRE2_ZERO_TERMINATED,
	                               caseless ? PCRE2_CASELESS : 0, &err, &off, NULL);
	if (!re) {
		PCRE2_UCHAR msg[160];
		pcre2_get_error_message(err, msg, sizeof(msg));
		cfn_error_at(c, v, path, "invalid regular expression at offset %zu: %s",
		             (size_t)off, (const char *)msg);
		return NULL;
	}
	pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* the interpreter is the fallback */
	return re;
}

/* Values of one condition: the legacy top-level Values/RegexValues or those
 * of its *Config; sets *vp to the path of the list used. */
static struct cfn_node *cond_values(struct cfn_ctx *c, const struct cfn_node *cn, const char *cp,
                                    int fi, const char **vp, bool *regex)
{
	struct cfn_node *vals = cfn__prop_list(c, cn, "Values", cp);
	struct cfn_node *rvals = cfn__prop_list(c, cn, "RegexValues", cp);
	const char *ck = config_keys[fi];
	struct cfn_node *cfg = cfn__prop_map(c, cn, ck, cp);
	const char *cfp = cfn__path_key(c, cp, ck);
	bool regex_ok = fi <= 2; /* host-header, path-pattern, http-header */
	*vp = cfn__path_key(c, cp, rvals ? "RegexValues" : "Values");
	*regex = rvals != NULL;
	if (vals && fi >= 2) {
		cfn_error_at(c, vals, cfn__path_key(c, cp, "Values"),
		             "Values is only for host-header and path-pattern; use %s", ck);
		return NULL;
	}
	if (cfg) {
		static const char *const k_vals[] = {"Values", "RegexValues", NULL};
		static const char *const k_hdr[] = {"HttpHeaderName", "Values", "RegexValues",
		                                    NULL};
		static const char *const k_plain[] = {"Values", NULL};
		cfn__check_keys(c, cfg, cfp,
		                fi == 2    ? k_hdr
		                : regex_ok ? k_vals
		                           : k_plain,
		                NULL, "property");
		struct cfn_node *cv = cfn__prop_list(c, cfg, "Values", cfp);
		struct cfn_node *crv = regex_ok ? cfn__prop_list(c, cfg, "RegexValues", cfp) : NULL;
		if ((cv || crv) && (vals || rvals)) {
			cfn_error_at(c, cv ? cv : crv, cfp,
			             "give the values in Values or in %s, not both", ck);
			return NULL;
		}
		if (cv || crv) {
			vals = cv;
			rvals = crv;
			*vp = cfn__path_key(c, cfp, crv ? "RegexValues" : "Values");
			*regex = crv != NULL;
		}
	}
	if (rvals && !regex_ok) {
		cfn_error_at(c, rvals, *vp,
		             "RegexValues are only for host-header, http-header and path-pattern");
		return NULL;
	}
	if (vals && rvals) {
		cfn_error_at(c, rvals, *vp, "give Values or RegexValues, not both");
		return NULL;
	}
	struct cfn_node *l = rvals ? rvals : vals;
	if (!l || l->n == 0) {
		cfn_error_at(c, l ? l : cn, l ? *vp : cp, "a %s condition needs at least one value",
		             fields[fi]);
		return NULL;
	}
	return l;
}

void cfn__alb_conditions(struct cfn_ctx *c, struct cfn_node *conds, const char *pp,
                         struct model_rule *ru)
{
	ru->conds = cfn__calloc(conds ? conds->n : 1, sizeof(*ru->conds));
	size_t total = 0, wild = 0;
	for (size_t i = 0; conds && i < conds->n; i++) {
		const struct cfn_node *cn = conds->items[i];
		const char *cp = cfn__item_path(c, pp, "Conditions", i);
		if (cn->type != CFN_MAP) {
			cfn_error_at(c, cn, cp, "expected an object, found %s", cfn__found(c, cn));
			continue;
		}
		cfn__check_keys(c, cn, cp, cond_props, NULL, "property");
		const char *field = cfn__prop_enum(c, cn, "Field", cp, NULL, fields);
		if (!field) {
			if (!cfn_node_get(cn, "Field"))
				cfn_error_at(c, cn, cp, "missing required property Field");
			continue;
		}
		int fi = 0;
		while (strcmp(fields[fi], field) != 0)
			fi++;
		enum model_cond_field mf =
		    (enum model_cond_field)(fi == 0   ? MODEL_COND_HOST_HEADER
		                            : fi == 1 ? MODEL_COND_PATH_PATTERN
		                            : fi == 2 ? MODEL_COND_HTTP_HEADER
		                            : fi == 3 ? MODEL_COND_HTTP_REQUEST_METHOD
		                            : fi == 4 ? MODEL_COND_QUERY_STRING
		                                      : MODEL_COND_SOURCE_IP);
		for (size_t k = 0; k < 6; k++)
			if ((int)k != fi && cfn_node_get(cn, config_keys[k]))
				cfn_error_at(c, cfn_node_get(cn, config_keys[k]),
				             cfn__path_key(c, cp, config_keys[k]),
				             "%s does not go with Field %s", config_keys[k], field);
		if (mf != MODEL_COND_HTTP_HEADER && mf != MODEL_COND_QUERY_STRING)
			for (size_t k = 0; k < ru->nconds; k++)
				if (ru->conds[k].field == mf)
					cfn_error_at(c, cn, cp,
					             "a rule can have only one %s condition",
					             field);
		const char *vp;
		bool regex;
		struct cfn_node *vals = cond_values(c, cn, cp, fi, &vp, &regex);
		if (!vals)
			continue;
		struct model_condition *mc = &ru->conds[ru->nconds++];
		mc->field = mf;
		mc->regex = regex;
		if (mf == MODEL_COND_HTTP_HEADER) {
			const struct cfn_node *cfg = cfn_node_get(cn, "HttpHeaderConfig");
			const char *hp = cfn__path_key(c, cp, "HttpHeaderConfig");
			const char *name = cfn__prop_str(c, cfg, "HttpHeaderName", hp);
			if (!name)
				cfn_error_at(c, cfg ? cfg : cn, hp,
				             "missing required property HttpHeaderName");
			else if (!token_ok(name))
				cfn_error_at(c, cfn_node_get(cfg, "HttpHeaderName"),
				             cfn__path_key(c, hp, "HttpHeaderName"),
				             "a header name has 1..40 token characters (RFC 7230); "
				             "found \"%s\"",
				             name);
			else if (strcasecmp(name, "host") == 0)
				cfn_error_at(
				    c, cfn_node_get(cfg, "HttpHeaderName"),
				    cfn__path_key(c, hp, "HttpHeaderName"),
				    "You can't use an HTTP header condition to specify the "
				    "host header; use a host-header condition");
			if (name) {
				mc->header_name = cfn__strdup(name);
				for (char *p = mc->header_name; *p; p++)
					*p = (char)tolower((unsigned char)*p);
			}
		}
		if (vals->n > COND_MAX_EVALS)
			cfn_error_at(c, vals, vp,
			             "a condition can have at most %d match evaluations, found %zu",
			             COND_MAX_EVALS, vals->n);
		for (size_t k = 0; k < vals->n && mc->nvalues < MODEL_MAX_VALUES; k++) {
			const struct cfn_node *v = vals->items[k];
			const char *ip = cfn_arena_printf(&c->a, "%s[%zu]", vp, k);
			total++;
			if (mf == MODEL_COND_QUERY_STRING) {
				if (v->type != CFN_MAP) {
					cfn_error_at(c, v, ip,
					             "expected an object with Key and Value, "
					             "found %s",
					             cfn__found(c, v));
					continue;
				}
				static const char *const qp[] = {"Key", "Value", NULL};
				static const char *const qr[] = {"Value", NULL};
				cfn__check_keys(c, v, ip, qp, qr, "property");
				const char *key = cfn__prop_str(c, v, "Key", ip);
				const char *val = cfn__prop_str(c, v, "Value", ip);
				if (!val)
					continue;
				if (strlen(val) > COND_VALUE_MAX ||
				    (key && strlen(key) > COND_VALUE_MAX))
					cfn_error_at(c, v, ip,
					             "a query-string Key or Value has at most "
					             "128 characters");
				if (!*val || (key && !*key))
					cfn_error_at(c, v, ip,
					             "a query-string Key or Value can't be "
					             "empty");
				wild += wildcards(val, true) + (key ? wildcards(key, true) : 0);
				mc->qs_keys[mc->nvalues] = cfn__strdup(key);
				mc->values[mc->nvalues++] = cfn__strdup(val);
				continue;
			}
			if (v->type != CFN_STR) {
				cfn_error_at(c, v, ip, "expected a string, found %s",
				             cfn__found(c, v));
				continue;
			}
			if (mf == MODEL_COND_SOURCE_IP) {
				struct cidr4 cidr;
				if (strchr(v->str, ':')) {
					continue; /* IPv6: never the source of a 127/8 connection */
				} else if (!strchr(v->str, '/') || cidr4_parse(v->str, &cidr) < 0) {
					cfn_error_at(c, v, ip,
					             "expected an IPv4 or IPv6 CIDR, found "
					             "\"%s\"",
					             v->str);
				} else if (cidr.addr == 0xffffffffu && cidr.prefix == 32) {
					cfn_error_at(c, v, ip, "255.255.255.255/32 is not allowed");
				} else {
					mc->cidrs[mc->ncidrs++] = cidr;
				}
				continue;
			}
			if (regex) {
				if (strlen(v->str) > COND_VALUE_MAX || !*v->str) {
					cfn_error_at(c, v, ip,
					             "a regex value has 1..128 characters");
					continue;
				}
				void *re = regex_compile(c, v, ip, mf != MODEL_COND_PATH_PATTERN);
				if (!re)
					continue;
				mc->re[mc->nvalues] = re;
				mc->values[mc->nvalues++] = cfn__strdup(v->str);
				continue;
			}
			bool good = true;
			const char *what = NULL;
			switch (mf) {
			case MODEL_COND_HOST_HEADER:
				good = host_ok(v->str);
				what =
				    "a host name has up to 128 characters A-Z a-z 0-9 - . * ? _, "
				    "at least one \".\" and only letters after the last \".\"";
				break;
			case MODEL_COND_PATH_PATTERN:
				good = path_ok(v->str);
				what =
				    "a path pattern has 1..128 characters A-Z a-z 0-9 _ - . $ / ~ "
				    "\" ' @ : + & * ?";
				break;
			case MODEL_COND_HTTP_REQUEST_METHOD:
				good = method_ok(v->str);
				what =
				    "a method name has 1..40 characters A-Z - _ and no wildcards "
				    "(the match is case-sensitive)";
				break;
			default:
				good = *v->str && strlen(v->str) <= COND_VALUE_MAX;
				what = "a header value has 1..128 characters";
				break;
			}
			if (!good) {
				cfn_error_at(c, v, ip, "%s; found \"%s\"", what, v->str);
				continue;
			}
			if (mf != MODEL_COND_HTTP_REQUEST_METHOD)
				wild += wildcards(v->str, false);
			char *s = cfn__strdup(v->str);
			if (mf == MODEL_COND_HOST_HEADER)
				for (char *p = s; *p; p++)
					*p = (char)tolower((unsigned char)*p);
			mc->values[mc->nvalues++] = s;
		}
	}
	if (total > RULE_MAX_EVALS && conds)
		cfn_error_at(c, conds, cfn__path_key(c, pp, "Conditions"),
		             "a rule can have at most %d condition values, found %zu",
		             RULE_MAX_EVALS, total);
	if (wild > RULE_MAX_WILDCARDS && conds)
		cfn_error_at(c, conds, cfn__path_key(c, pp, "Conditions"),
		             "a rule can have at most %d wildcard characters, found %zu",
		             RULE_MAX_WILDCARDS, wild);
}

/* ---------- transforms ---------- */

#define REWRITE_MAX 1024 /* Regex and Replace: "at most 1,024 characters" */

/* The highest group that a Replace string names ($N or ${N}), 0 for none. */
static long replace_max_group(const char *s)
{
	long max = 0;
	for (const char *p = s; *p; p++) {
		if (*p != '$')
			continue;
		const char *d = p + 1 + (p[1] == '{');
		if (!isdigit((unsigned char)*d))
			continue;
		long n = 0;
		while (isdigit((unsigned char)*d) && n < 100000)
			n = n * 10 + (*d++ - '0');
		if (n > max)
			max = n;
	}
	return max;
}

/* One RewriteConfig object (the config's only Rewrites entry) into rw. */
static void rewrite_config(struct cfn_ctx *c, const struct cfn_node *cfg, const char *cp, bool host,
                           struct model_rewrite *rw)
{
	static const char *const props[] = {"Rewrites", NULL};
	static const char *const req[] = {"Rewrites", NULL};
	static const char *const rprops[] = {"Regex", "Replace", NULL};
	cfn__check_keys(c, cfg, cp, props, req, "property");
	const struct cfn_node *l = cfn__prop_list(c, cfg, "Rewrites", cp);
	const char *lp = cfn__path_key(c, cp, "Rewrites");
	if (!l)
		return;
	/* AWS takes exactly one rewrite per transform */
	if (l->n != 1) {
		cfn_error_at(c, l, lp,
		             "a transform has exactly one rewrite (Regex and Replace), "
		             "found %zu",
		             l->n);
		return;
	}
	const struct cfn_node *r = l->items[0];
	const char *rp = cfn__item_path(c, cp, "Rewrites", 0);
	if (r->type != CFN_MAP) {
		cfn_error_at(c, r, rp, "expected an object with Regex and Replace, found %s",
		             cfn__found(c, r));
		return;
	}
	cfn__check_keys(c, r, rp, rprops, rprops, "property");
	const char *regex = cfn__prop_str(c, r, "Regex", rp);
	const char *replace = cfn__prop_str(c, r, "Replace", rp);
	if (!regex || !replace)
		return;
	const struct cfn_node *rn = cfn_node_get(r, "Regex");
	const char *rxp = cfn__path_key(c, rp, "Regex");
	if (!*regex || strlen(regex) > REWRITE_MAX) {
		cfn_error_at(c, rn, rxp, "a rewrite Regex has 1..%d characters, found %zu",
		             REWRITE_MAX, strlen(regex));
		return;
	}
	if (strlen(replace) > REWRITE_MAX) {
		cfn_error_at(c, cfn_node_get(r, "Replace"), cfn__path_key(c, rp, "Replace"),
		             "a rewrite Replace has at most %d characters, found %zu", REWRITE_MAX,
		             strlen(replace));
		return;
	}
	/* host names match without regard to case, as host-header conditions do */
	pcre2_code *re = regex_compile(c, rn, rxp, host);
	if (!re)
		return;
	uint32_t groups = 0;
	pcre2_pattern_info(re, PCRE2_INFO_CAPTURECOUNT, &groups);
	long ref = replace_max_group(replace);
	if (ref > (long)groups)
		/* AWS documents no load-time check; the rewrite fails on a
		 * match (500), so say so now */
		cfn_warn_at(c, cfn_node_get(r, "Replace"), cfn__path_key(c, rp, "Replace"),
		            "Replace names group $%ld but the Regex has %u capture group%s; a "
		            "request it matches gets a 500",
		            ref, groups, groups == 1 ? "" : "s");
	rw->regex = cfn__strdup(regex);
	rw->replace = cfn__strdup(replace);
	rw->re = re;
	rw->ngroups = (int)groups;
}

void cfn__alb_transforms(struct cfn_ctx *c, const struct cfn_node *l, const char *pp,
                         struct model_rule *ru)
{
	static const char *const props[] = {"Type", "HostHeaderRewriteConfig", "UrlRewriteConfig",
	                                    NULL};
	static const char *const req[] = {"Type", NULL};
	static const char *const types[] = {"host-header-rewrite", "url-rewrite", NULL};
	bool seen[2] = {false, false};
	for (size_t i = 0; l && i < l->n; i++) {
		const struct cfn_node *t = l->items[i];
		const char *tp = cfn__item_path(c, pp, "Transforms", i);
		if (t->type != CFN_MAP) {
			cfn_error_at(c, t, tp, "expected an object, found %s", cfn__found(c, t));
			continue;
		}
		cfn__check_keys(c, t, tp, props, req, "property");
		const char *type = cfn__prop_enum(c, t, "Type", tp, NULL, types);
		if (!type)
			continue;
		bool host = strcmp(type, "host-header-rewrite") == 0;
		const char *key = host ? "HostHeaderRewriteConfig" : "UrlRewriteConfig";
		const char *other = host ? "UrlRewriteConfig" : "HostHeaderRewriteConfig";
		if (cfn_node_get(t, other))
			cfn_error_at(c, cfn_node_get(t, other), cfn__path_key(c, tp, other),
			             "%s does not go with Type %s", other, type);
		if (seen[!host]) {
			cfn_error_at(c, t, tp, "a rule can have only one %s transform", type);
			continue;
		}
		seen[!host] = true;
		const struct cfn_node *cfg = cfn__prop_map(c, t, key, tp);
		if (!cfg) {
			if (!cfn_node_get(t, key))
				cfn_error_at(c, t, tp, "a %s transform needs %s", type, key);
			continue;
		}
		rewrite_config(c, cfg, cfn__path_key(c, tp, key), host,
		               host ? &ru->host_rw : &ru->url_rw);
	}
}
