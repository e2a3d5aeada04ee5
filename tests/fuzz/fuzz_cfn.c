/*
 * libFuzzer target: a template (JSON or YAML, chosen by content as vpcd
 * does) read, evaluated, validated and built into a model. Errors go to
 * /dev/null; nothing may crash, leak or read out of bounds.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfn/cfn.h"
#include "model/model.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	static FILE *devnull;
	struct cfn_options o;
	struct model *m = NULL;
	char *p = malloc(n ? n : 1);

	if (!p)
		return 0;
	if (!devnull)
		devnull = fopen("/dev/null", "w");
	memcpy(p, d, n);
	cfn_options_default(&o);
	o.stack_name = "fuzz";
	if (cfn_load_buf("fuzz.json", p, n, &o, &m, devnull) == 0)
		model_free(m);
	free(p);
	return 0;
}
