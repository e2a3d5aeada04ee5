/*
 * Strict JSON into a positioned cfn_node tree. Recursive descent with a depth
 * cap; columns count characters (UTF-8 continuation bytes do not advance).
 * Duplicate keys are kept; the template checker reports them.
 */
#include "cfn/json.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define JSON_MAX_DEPTH 256

struct jp {
	struct cfn_arena *a;
	const char *buf;
	size_t len, pos;
	int line, col;
	int depth;
	struct cfn_parse_error *err;
	bool failed;
};

static void jp_adv(struct jp *p)
{
	unsigned char c = (unsigned char)p->buf[p->pos++];
	if (c == '\n') {
		p->line++;
		p->col = 1;
	} else if ((c & 0xc0) != 0x80) {
		p->col++;
	}
}

static void jp_ws(struct jp *p)
{
	while (p->pos < p->len) {
		char c = p->buf[p->pos];
		if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
			break;
		jp_adv(p);
	}
}

/* Describes the character at the cursor for "found X". */
static void jp_found(const struct jp *p, char *out, size_t n)
{
	if (p->pos >= p->len) {
		snprintf(out, n, "end of input");
		return;
	}
	unsigned char c = (unsigned char)p->buf[p->pos];
	if (c >= 0x20 && c < 0x7f)
		snprintf(out, n, "'%c'", c);
	else
		snprintf(out, n, "byte 0x%02x", c);
}

static void *jp_fail(struct jp *p, const char *expected)
{
	if (p->failed)
		return NULL;
	char found[32];
	jp_found(p, found, sizeof(found));
	p->failed = true;
	p->err->line = p->line;
	p->err->col = p->col;
	snprintf(p->err->msg, sizeof(p->err->msg), "expected %s, found %s", expected, found);
	return NULL;
}

static void *jp_fail_msg(struct jp *p, int line, int col, const char *msg)
{
	if (p->failed)
		return NULL;
	p->failed = true;
	p->err->line = line;
	p->err->col = col;
	snprintf(p->err->msg, sizeof(p->err->msg), "%s", msg);
	return NULL;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int jp_hex4(struct jp *p, uint32_t *out)
{
	uint32_t v = 0;
	for (int i = 0; i < 4; i++) {
		int h = p->pos < p->len ? hexval(p->buf[p->pos]) : -1;
		if (h < 0) {
			jp_fail(p, "4 hex digits after \\u");
			return -1;
		}
		v = v << 4 | (uint32_t)h;
		jp_adv(p);
	}
	*out = v;
	return 0;
}

static size_t utf8_put(char *o, uint32_t cp)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xc0 | cp >> 6);
		o[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xe0 | cp >> 12);
		o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		o[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | cp >> 18);
	o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	o[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* Length of a valid UTF-8 sequence at s (max n bytes), or 0. */
static size_t utf8_valid(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	size_t len;
	uint32_t cp, min;
	if (c < 0x80)
		return 1;
	if ((c & 0xe0) == 0xc0) {
		len = 2, cp = c & 0x1f, min = 0x80;
	} else if ((c & 0xf0) == 0xe0) {
		len = 3, cp = c & 0x0f, min = 0x800;
	} else if ((c & 0xf8) == 0xf0) {
		len = 4, cp = c & 0x07, min = 0x10000;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

/* The cursor is on the opening quote. The decoded string is never longer
 * than its source, so one allocation of the source length is enough. */
static char *jp_string(struct jp *p, size_t *outlen)
{
	jp_adv(p);
	size_t start = p->pos, end = start;
	while (end < p->len && p->buf[end] != '"') {
		if (p->buf[end] == '\\')
			end++;
		end++;
	}
	char *o = cfn_arena_alloc(p->a, end - start + 1);
	size_t n = 0;
	for (;;) {
		if (p->pos >= p->len)
			return jp_fail(p, "'\"' to end the string");
		unsigned char c = (unsigned char)p->buf[p->pos];
		if (c == '"') {
			jp_adv(p);
			break;
		}
		if (c < 0x20)
			return jp_fail(p,
			               "a string character (control characters must be escaped)");
		if (c == '\\') {
			jp_adv(p);
			if (p->pos >= p->len)
				return jp_fail(p, "an escape character");
			char e = p->buf[p->pos];
			const char *simple = strchr("\"\\/bfnrt", e);
			if (e && simple) {
				static const char map[] = "\"\\/\b\f\n\r\t";
				o[n++] = map[simple - "\"\\/bfnrt"];
				jp_adv(p);
				continue;
			}
			if (e != 'u')
				return jp_fail(
				    p, "one of \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\u after '\\'");
			jp_adv(p);
			uint32_t cp;
			if (jp_hex4(p, &cp) < 0)
				return NULL;
			if (cp >= 0xd800 && cp <= 0xdbff) {
				uint32_t lo;
				if (p->pos + 1 >= p->len || p->buf[p->pos] != '\\' ||
				    p->buf[p->pos + 1] != 'u')
					return jp_fail(p, "a low surrogate \\uDC00-\\uDFFF after a "
					                  "high surrogate");
				jp_adv(p);
				jp_adv(p);
				if (jp_hex4(p, &lo) < 0)
					return NULL;
				if (lo < 0xdc00 || lo > 0xdfff)
					return jp_fail(p, "a low surrogate \\uDC00-\\uDFFF after a "
					                  "high surrogate");
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
			} else if (cp >= 0xdc00 && cp <= 0xdfff) {
				return jp_fail(p, "a high surrogate before a low surrogate");
			}
			if (cp == 0)
				return jp_fail(p, "a character other than \\u0000");
			n += utf8_put(o + n, cp);
			continue;
		}
		size_t l = utf8_valid((const unsigned char *)p->buf + p->pos, p->len - p->pos);
		if (!l)
			return jp_fail(p, "valid UTF-8");
		memcpy(o + n, p->buf + p->pos, l);
		n += l;
		for (size_t i = 0; i < l; i++)
			jp_adv(p);
	}
	o[n] = 0;
	*outlen = n;
	return o;
}

static bool isdig(const struct jp *p)
{
	return p->pos < p->len && p->buf[p->pos] >= '0' && p->buf[p->pos] <= '9';
}

static struct cfn_node *jp_number(struct jp *p)
{
	struct cfn_node *n = cfn_node_new(p->a, CFN_NUM, p->line, p->col);
	size_t start = p->pos;
	if (p->buf[p->pos] == '-')
		jp_adv(p);
	if (!isdig(p))
		return jp_fail(p, "a digit");
	if (p->buf[p->pos] == '0') {
		jp_adv(p);
	} else {
		while (isdig(p))
			jp_adv(p);
	}
	if (p->pos < p->len && p->buf[p->pos] == '.') {
		jp_adv(p);
		if (!isdig(p))
			return jp_fail(p, "a digit after '.'");
		while (isdig(p))
			jp_adv(p);
	}
	if (p->pos < p->len && (p->buf[p->pos] == 'e' || p->buf[p->pos] == 'E')) {
		jp_adv(p);
		if (p->pos < p->len && (p->buf[p->pos] == '+' || p->buf[p->pos] == '-'))
			jp_adv(p);
		if (!isdig(p))
			return jp_fail(p, "a digit in the exponent");
		while (isdig(p))
			jp_adv(p);
	}
	n->len = p->pos - start;
	n->str = cfn_arena_strndup(p->a, p->buf + start, n->len);
	return n;
}

static bool jp_word(struct jp *p, const char *w)
{
	size_t l = strlen(w);
	if (p->len - p->pos < l || memcmp(p->buf + p->pos, w, l) != 0)
		return false;
	for (size_t i = 0; i < l; i++)
		jp_adv(p);
	return true;
}

static struct cfn_node *jp_value(struct jp *p);

static struct cfn_node *jp_object(struct jp *p)
{
	struct cfn_node *m = cfn_node_new(p->a, CFN_MAP, p->line, p->col);
	jp_adv(p);
	jp_ws(p);
	if (p->pos < p->len && p->buf[p->pos] == '}') {
		jp_adv(p);
		return m;
	}
	for (;;) {
		jp_ws(p);
		if (p->pos >= p->len || p->buf[p->pos] != '"')
			return jp_fail(p, m->n ? "'\"' to start the next member name"
			                       : "'\"' to start a member name or '}'");
		int kl = p->line, kc = p->col;
		size_t klen;
		char *key = jp_string(p, &klen);
		if (!key)
			return NULL;
		if (strlen(key) != klen)
			return jp_fail_msg(p, kl, kc, "member name contains a NUL character");
		jp_ws(p);
		if (p->pos >= p->len || p->buf[p->pos] != ':')
			return jp_fail(p, "':' after member name");
		jp_adv(p);
		struct cfn_node *v = jp_value(p);
		if (!v)
			return NULL;
		cfn_node_put(p->a, m, key, kl, kc, v);
		jp_ws(p);
		if (p->pos < p->len && p->buf[p->pos] == ',') {
			jp_adv(p);
			continue;
		}
		if (p->pos < p->len && p->buf[p->pos] == '}') {
			jp_adv(p);
			return m;
		}
		return jp_fail(p, "',' or '}' after object member");
	}
}

static struct cfn_node *jp_array(struct jp *p)
{
	struct cfn_node *l = cfn_node_new(p->a, CFN_LIST, p->line, p->col);
	jp_adv(p);
	jp_ws(p);
	if (p->pos < p->len && p->buf[p->pos] == ']') {
		jp_adv(p);
		return l;
	}
	for (;;) {
		struct cfn_node *v = jp_value(p);
		if (!v)
			return NULL;
		cfn_node_push(p->a, l, v);
		jp_ws(p);
		if (p->pos < p->len && p->buf[p->pos] == ',') {
			jp_adv(p);
			continue;
		}
		if (p->pos < p->len && p->buf[p->pos] == ']') {
			jp_adv(p);
			return l;
		}
		return jp_fail(p, "',' or ']' after array element");
	}
}

static struct cfn_node *jp_value(struct jp *p)
{
	jp_ws(p);
	if (p->pos >= p->len)
		return jp_fail(p, "a value");
	if (++p->depth > JSON_MAX_DEPTH)
		return jp_fail_msg(p, p->line, p->col, "nesting deeper than 256 levels");
	struct cfn_node *n = NULL;
	int line = p->line, col = p->col;
	char c = p->buf[p->pos];
	switch (c) {
	case '{':
		n = jp_object(p);
		break;
	case '[':
		n = jp_array(p);
		break;
	case '"': {
		size_t l;
		char *s = jp_string(p, &l);
		if (s) {
			n = cfn_node_new(p->a, CFN_STR, line, col);
			n->str = s;
			n->len = l;
			n->quoted = true;
		}
		break;
	}
	case 't':
	case 'f':
		if (jp_word(p, c == 't' ? "true" : "false")) {
			n = cfn_node_new(p->a, CFN_BOOL, line, col);
			n->b = c == 't';
			n->str = c == 't' ? "true" : "false";
			n->len = strlen(n->str);
		} else {
			jp_fail(p, "a value");
		}
		break;
	case 'n':
		if (jp_word(p, "null"))
			n = cfn_node_new(p->a, CFN_NULL, line, col);
		else
			jp_fail(p, "a value");
		break;
	default:
		if (c == '-' || (c >= '0' && c <= '9'))
			n = jp_number(p);
		else
			jp_fail(p, "a value");
	}
	p->depth--;
	return n;
}

struct cfn_node *cfn_json_parse(struct cfn_arena *a, const char *buf, size_t len,
                                struct cfn_parse_error *err)
{
	struct jp p = {.a = a, .buf = buf, .len = len, .line = 1, .col = 1, .err = err};
	/* A UTF-8 byte order mark is tolerated, as editors write one. */
	if (len >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0)
		p.pos = 3;
	struct cfn_node *root = jp_value(&p);
	if (!root)
		return NULL;
	jp_ws(&p);
	if (p.pos < p.len)
		return jp_fail(&p, "end of input after the top-level value");
	return root;
}
