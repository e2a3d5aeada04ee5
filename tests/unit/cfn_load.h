/* The unit tests' way to turn a template text into a model: cfn_load_buf
 * over "t.yaml" with the given stack name, the diagnostics into *errs
 * (malloc'd, the caller frees it). NULL when the template has errors. */
#ifndef VPCD_TEST_CFN_LOAD_H
#define VPCD_TEST_CFN_LOAD_H

#include <stdio.h>
#include <string.h>

#include "cfn/cfn.h"

static inline struct model *t_cfn_load(const char *stack, const char *text, char **errs)
{
	struct cfn_options o;
	size_t len;
	FILE *f = open_memstream(errs, &len);
	struct model *m = NULL;

	cfn_options_default(&o);
	o.stack_name = stack;
	cfn_load_buf("t.yaml", text, strlen(text), &o, &m, f);
	fclose(f);
	return m;
}

#endif
