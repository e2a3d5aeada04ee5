/*
 * `--params FILE`: the parameters file the aws cli takes
 * (aws cloudformation create-stack --parameters file://FILE), a JSON list of
 * {"ParameterKey": K, "ParameterValue": V}, turned into the "K=V" strings
 * --param gives. UsePreviousValue has no meaning without a previous stack.
 */
#include "cfn/cfn.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

void cfn_params_free(char **kv, size_t n)
{
	for (size_t i = 0; kv && i < n; i++)
		free(kv[i]);
	free(kv);
}

int cfn_params_read(const char *path, char ***kv, size_t *n, FILE *errs)
{
	*kv = NULL;
	*n = 0;
	json_error_t je;
	json_t *root = json_load_file(path, 0, &je);
	if (!root) {
		if (errs)
			fprintf(errs, "%s:%d:%d: error: %s\n", path, je.line, je.column, je.text);
		return -1;
	}
	int rc = -1;
	char **out = NULL;
	if (!json_is_array(root)) {
		if (errs)
			fprintf(errs,
			        "%s: error: expected a list of {\"ParameterKey\": ..., "
			        "\"ParameterValue\": ...} (the aws cli format)\n",
			        path);
		goto out;
	}
	size_t cnt = json_array_size(root);
	out = calloc(cnt ? cnt : 1, sizeof(*out));
	if (!out)
		abort();
	for (size_t i = 0; i < cnt; i++) {
		json_t *it = json_array_get(root, i);
		json_t *k = json_object_get(it, "ParameterKey");
		json_t *v = json_object_get(it, "ParameterValue");
		if (json_is_true(json_object_get(it, "UsePreviousValue"))) {
			if (errs)
				fprintf(errs,
				        "%s: error: [%zu]: UsePreviousValue needs a previous stack; "
				        "give a ParameterValue\n",
				        path, i);
			goto out;
		}
		if (!json_is_string(k) || !(json_is_string(v) || json_is_number(v))) {
			if (errs)
				fprintf(errs,
				        "%s: error: [%zu]: each entry needs \"ParameterKey\" and "
				        "\"ParameterValue\" strings\n",
				        path, i);
			goto out;
		}
		char num[64];
		const char *vs = json_string_value(v);
		if (!vs) {
			if (json_is_integer(v))
				snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(v));
			else
				snprintf(num, sizeof(num), "%.17g", json_real_value(v));
			vs = num;
		}
		const char *ks = json_string_value(k);
		size_t kl = strlen(ks), vl = strlen(vs);
		char *s = malloc(kl + vl + 2);
		if (!s)
			abort();
		memcpy(s, ks, kl);
		s[kl] = '=';
		memcpy(s + kl + 1, vs, vl + 1);
		out[(*n)++] = s;
	}
	*kv = out;
	out = NULL;
	rc = 0;
out:
	if (out)
		cfn_params_free(out, *n);
	if (rc < 0)
		*n = 0;
	json_decref(root);
	return rc;
}
