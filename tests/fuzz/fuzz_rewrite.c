/*
 * libFuzzer target: a rule transform's rewrite (alb_rewrite, route.c). The
 * input is "K\nREGEX\nREPLACE\nSUBJECT": K '0' rewrites a host, anything
 * else a URL; a regex PCRE2 does not compile is skipped. The subject sits
 * in an exact-size heap buffer (ASan catches a one-byte over-read) and the
 * output in a small one (ASan catches an overflow). Invariants: the result
 * is -1, 0 or 1; a rewritten value fits the room given and is a host
 * (no space, "/" or control) or starts with "/".
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "alb/route.h"

#define OUT_CAP 300

/* The next '\n'-terminated field of d[*at..n), as a NUL-terminated copy. */
static char *field(const uint8_t *d, size_t n, size_t *at)
{
	size_t s = *at, e = s;
	char *f;
	while (e < n && d[e] != '\n')
		e++;
	f = malloc(e - s + 1);
	if (!f)
		return NULL;
	memcpy(f, d + s, e - s);
	f[e - s] = 0;
	*at = e < n ? e + 1 : e;
	return f;
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	struct model_rewrite rw = {0};
	size_t at = 1, outlen = 0, slen;
	char *regex = NULL, *subj = NULL, *out = NULL;
	bool host;
	int err, rc;
	PCRE2_SIZE eoff;
	uint32_t groups = 0;

	if (n < 1)
		return 0;
	host = d[0] == '0';
	regex = field(d, n, &at);
	rw.replace = field(d, n, &at);
	slen = n - at;
	subj = malloc(slen ? slen : 1);
	out = malloc(OUT_CAP);
	if (!regex || !rw.replace || !subj || !out)
		goto out;
	memcpy(subj, d + at, slen);
	rw.re = pcre2_compile((PCRE2_SPTR)regex, PCRE2_ZERO_TERMINATED, host ? PCRE2_CASELESS : 0,
	                      &err, &eoff, NULL);
	if (!rw.re)
		goto out;
	pcre2_pattern_info(rw.re, PCRE2_INFO_CAPTURECOUNT, &groups);
	rw.ngroups = (int)groups;
	rc = alb_rewrite(&rw, host, subj, slen, out, OUT_CAP, &outlen);
	if (rc < -1 || rc > 1)
		abort();
	if (rc == 1) {
		if (outlen > OUT_CAP || outlen == 0)
			abort();
		for (size_t i = 0; i < outlen; i++)
			if ((unsigned char)out[i] <= ' ' || (unsigned char)out[i] >= 0x7f ||
			    out[i] == '#' || (host && out[i] == '/'))
				abort();
		if (!host && out[0] != '/')
			abort();
	}
out:
	pcre2_code_free(rw.re);
	free(regex);
	free(rw.replace);
	free(subj);
	free(out);
	return 0;
}
