/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A small, strict JSON reader for the test suites (RFC 8259): the whole
 * buffer becomes a tree of nodes, looked up by key or index.  Header-only
 * (static inline functions), no globals.  Strict: one value, nothing but
 * whitespace around it, no trailing commas, no comments, no leading zeros,
 * no control characters or invalid UTF-8 in strings, no lone surrogates, no
 * duplicate keys, nesting at most JSON_MAX_DEPTH deep.
 */
#pragma once

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JSON_MAX_DEPTH 64

enum json_type {
	JSON_NULL,
	JSON_BOOL,
	JSON_NUMBER,
	JSON_STRING,
	JSON_ARRAY,
	JSON_OBJECT,
};

struct json_node {
	enum json_type type;
	bool boolean;
	double number;
	bool is_int;	 /* the number is integral and fits in int64_t */
	int64_t integer; /* valid when is_int */
	char *string;	 /* NUL-terminated; may hold NULs from \u0000 */
	size_t string_len;
	/* JSON_ARRAY: n items; JSON_OBJECT: n keys with n values, file order */
	size_t n, cap;
	struct json_node *items;
	char **keys;
};

struct json_parser {
	const char *start, *p, *end;
	char *err;
	size_t err_len;
	bool failed;
};

static inline bool json_fail(struct json_parser *jp, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static inline bool json_fail(struct json_parser *jp, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (jp->failed || !jp->err || jp->err_len == 0) {
		jp->failed = true;
		return false;
	}
	jp->failed = true;
	n = snprintf(jp->err, jp->err_len, "offset %zu: ", (size_t)(jp->p - jp->start));
	if (n >= 0 && (size_t)n < jp->err_len) {
		va_start(ap, fmt);
		vsnprintf(jp->err + n, jp->err_len - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return false;
}

static inline void json_node_release(struct json_node *n)
{
	if (!n)
		return;
	for (size_t i = 0; i < n->n; i++) {
		json_node_release(&n->items[i]);
		if (n->keys)
			free(n->keys[i]);
	}
	free(n->items);
	free(n->keys);
	free(n->string);
	memset(n, 0, sizeof(*n));
}

static inline void json_free(struct json_node *root)
{
	json_node_release(root);
	free(root);
}

static inline void json_skip_ws(struct json_parser *jp)
{
	while (jp->p < jp->end &&
	       (*jp->p == ' ' || *jp->p == '\t' || *jp->p == '\n' || *jp->p == '\r'))
		jp->p++;
}

static inline bool json_literal(struct json_parser *jp, const char *word)
{
	size_t n = strlen(word);

	if ((size_t)(jp->end - jp->p) < n || memcmp(jp->p, word, n) != 0)
		return json_fail(jp, "invalid literal");
	jp->p += n;
	return true;
}

static inline int json_hex4(const char *p)
{
	int v = 0;

	for (int i = 0; i < 4; i++) {
		char c = p[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if (c >= 'a' && c <= 'f')
			v |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v |= c - 'A' + 10;
		else
			return -1;
	}
	return v;
}

/* Length of the well-formed UTF-8 sequence at @p (RFC 3629), 0 if invalid. */
static inline size_t json_utf8_len(const unsigned char *p, size_t avail)
{
	size_t n;
	uint32_t cp;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		n = 2, cp = p[0] & 0x1fu;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		n = 3, cp = p[0] & 0x0fu;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		n = 4, cp = p[0] & 0x07u;
	else
		return 0;
	if (avail < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3fu);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

static inline size_t json_put_utf8(char *out, uint32_t cp)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | cp >> 6);
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | cp >> 12);
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | cp >> 18);
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* At the opening quote.  The decoded text is never longer than the source. */
static inline bool json_string(struct json_parser *jp, char **out, size_t *out_len)
{
	const char *q = ++jp->p;
	char *s, *w;

	while (q < jp->end && *q != '"')
		q += (*q == '\\' && q + 1 < jp->end) ? 2 : 1;
	if (q >= jp->end)
		return json_fail(jp, "unterminated string");
	s = w = malloc((size_t)(q - jp->p) + 1);
	if (!s)
		return json_fail(jp, "out of memory");
	while (*jp->p != '"') {
		unsigned char c = (unsigned char)*jp->p;
		size_t n;

		if (c < 0x20) {
			free(s);
			return json_fail(jp, "control character 0x%02x in string", c);
		}
		if (c != '\\') {
			n = json_utf8_len((const unsigned char *)jp->p, (size_t)(q - jp->p));
			if (n == 0) {
				free(s);
				return json_fail(jp, "invalid UTF-8 in string");
			}
			memcpy(w, jp->p, n);
			w += n;
			jp->p += n;
			continue;
		}
		c = (unsigned char)jp->p[1];
		jp->p += 2;
		switch (c) {
		case '"':
			*w++ = '"';
			break;
		case '\\':
			*w++ = '\\';
			break;
		case '/':
			*w++ = '/';
			break;
		case 'b':
			*w++ = '\b';
			break;
		case 'f':
			*w++ = '\f';
			break;
		case 'n':
			*w++ = '\n';
			break;
		case 'r':
			*w++ = '\r';
			break;
		case 't':
			*w++ = '\t';
			break;
		case 'u': {
			int hi = q - jp->p >= 4 ? json_hex4(jp->p) : -1, lo;
			uint32_t cp;

			if (hi < 0) {
				free(s);
				return json_fail(jp, "bad \\u escape");
			}
			jp->p += 4;
			cp = (uint32_t)hi;
			if (hi >= 0xdc00 && hi <= 0xdfff) {
				free(s);
				return json_fail(jp, "lone low surrogate \\u%04x", hi);
			}
			if (hi >= 0xd800 && hi <= 0xdbff) {
				lo = q - jp->p >= 6 && jp->p[0] == '\\' && jp->p[1] == 'u'
					 ? json_hex4(jp->p + 2)
					 : -1;
				if (lo < 0xdc00 || lo > 0xdfff) {
					free(s);
					return json_fail(jp, "high surrogate \\u%04x alone", hi);
				}
				jp->p += 6;
				cp = 0x10000 + (((uint32_t)hi - 0xd800) << 10) +
				     ((uint32_t)lo - 0xdc00);
			}
			w += json_put_utf8(w, cp);
			break;
		}
		default:
			free(s);
			jp->p -= 2;
			return json_fail(jp, "bad escape '\\%c'", c);
		}
	}
	jp->p++; /* closing quote */
	*w = '\0';
	*out = s;
	*out_len = (size_t)(w - s);
	return true;
}

static inline bool json_number(struct json_parser *jp, struct json_node *n)
{
	const char *s = jp->p, *p = s;
	bool integral = true;
	char buf[128], *end;

	if (p < jp->end && *p == '-')
		p++;
	if (p < jp->end && *p == '0')
		p++;
	else if (p < jp->end && *p >= '1' && *p <= '9')
		while (p < jp->end && *p >= '0' && *p <= '9')
			p++;
	else
		return json_fail(jp, "invalid number");
	if (p < jp->end && *p == '.') {
		integral = false;
		if (++p >= jp->end || *p < '0' || *p > '9')
			return json_fail(jp, "digit expected after '.'");
		while (p < jp->end && *p >= '0' && *p <= '9')
			p++;
	}
	if (p < jp->end && (*p == 'e' || *p == 'E')) {
		integral = false;
		if (++p < jp->end && (*p == '+' || *p == '-'))
			p++;
		if (p >= jp->end || *p < '0' || *p > '9')
			return json_fail(jp, "digit expected in exponent");
		while (p < jp->end && *p >= '0' && *p <= '9')
			p++;
	}
	if ((size_t)(p - s) >= sizeof(buf))
		return json_fail(jp, "number too long");
	memcpy(buf, s, (size_t)(p - s));
	buf[p - s] = '\0';
	n->type = JSON_NUMBER;
	n->number = strtod(buf, NULL);
	if (integral) {
		errno = 0;
		n->integer = strtoll(buf, &end, 10);
		n->is_int = errno == 0 && *end == '\0';
	} else if (n->number >= -9.2e18 && n->number <= 9.2e18 &&
		   (double)(int64_t)n->number == n->number) {
		n->integer = (int64_t)n->number;
		n->is_int = true;
	}
	jp->p = p;
	return true;
}

static inline bool json_append(struct json_parser *jp, struct json_node *parent,
			       struct json_node *child, char *key)
{
	if (parent->n == parent->cap) {
		size_t cap = parent->cap ? parent->cap * 2 : 8;
		struct json_node *items = realloc(parent->items, cap * sizeof(*items));

		if (!items)
			return json_fail(jp, "out of memory");
		parent->items = items;
		if (parent->type == JSON_OBJECT) {
			char **keys = realloc(parent->keys, cap * sizeof(*keys));

			if (!keys)
				return json_fail(jp, "out of memory");
			parent->keys = keys;
		}
		parent->cap = cap;
	}
	if (parent->type == JSON_OBJECT)
		parent->keys[parent->n] = key;
	parent->items[parent->n++] = *child;
	return true;
}

static inline bool json_value(struct json_parser *jp, struct json_node *n, int depth);

/* Array or object, at the opening bracket. */
static inline bool json_container(struct json_parser *jp, struct json_node *n, int depth)
{
	bool is_obj = *jp->p == '{';
	char close = is_obj ? '}' : ']';

	if (depth >= JSON_MAX_DEPTH)
		return json_fail(jp, "nested deeper than %d", JSON_MAX_DEPTH);
	n->type = is_obj ? JSON_OBJECT : JSON_ARRAY;
	jp->p++;
	json_skip_ws(jp);
	if (jp->p < jp->end && *jp->p == close) {
		jp->p++;
		return true;
	}
	for (;;) {
		struct json_node child = { 0 };
		char *key = NULL;
		size_t key_len;

		json_skip_ws(jp);
		if (is_obj) {
			if (jp->p >= jp->end || *jp->p != '"')
				return json_fail(jp, "object key expected");
			if (!json_string(jp, &key, &key_len))
				return false;
			for (size_t i = 0; i < n->n; i++) {
				if (strcmp(n->keys[i], key) == 0) {
					free(key);
					return json_fail(jp, "duplicate key \"%s\"", n->keys[i]);
				}
			}
			json_skip_ws(jp);
			if (jp->p >= jp->end || *jp->p != ':') {
				free(key);
				return json_fail(jp, "':' expected");
			}
			jp->p++;
		}
		if (!json_value(jp, &child, depth + 1) || !json_append(jp, n, &child, key)) {
			json_node_release(&child);
			free(key);
			return false;
		}
		json_skip_ws(jp);
		if (jp->p < jp->end && *jp->p == ',') {
			jp->p++;
			continue;
		}
		if (jp->p < jp->end && *jp->p == close) {
			jp->p++;
			return true;
		}
		return json_fail(jp, "',' or '%c' expected", close);
	}
}

static inline bool json_value(struct json_parser *jp, struct json_node *n, int depth)
{
	json_skip_ws(jp);
	if (jp->p >= jp->end)
		return json_fail(jp, "value expected");
	switch (*jp->p) {
	case '{':
	case '[':
		return json_container(jp, n, depth);
	case '"':
		n->type = JSON_STRING;
		return json_string(jp, &n->string, &n->string_len);
	case 't':
		n->type = JSON_BOOL;
		n->boolean = true;
		return json_literal(jp, "true");
	case 'f':
		n->type = JSON_BOOL;
		return json_literal(jp, "false");
	case 'n':
		n->type = JSON_NULL;
		return json_literal(jp, "null");
	default:
		if (*jp->p != '-' && (*jp->p < '0' || *jp->p > '9'))
			return json_fail(jp, "unexpected character 0x%02x", (unsigned char)*jp->p);
		return json_number(jp, n);
	}
}

/*
 * Parse @len bytes at @buf.  Returns the root (free with json_free()), or
 * NULL with "offset N: what" in @err (@err may be NULL).
 */
static inline struct json_node *json_parse(const char *buf, size_t len, char *err, size_t err_len)
{
	struct json_parser jp = {
		.start = buf, .p = buf, .end = buf + len, .err = err, .err_len = err_len
	};
	struct json_node *root = calloc(1, sizeof(*root));

	if (err && err_len)
		err[0] = '\0';
	if (!root) {
		json_fail(&jp, "out of memory");
		return NULL;
	}
	if (json_value(&jp, root, 0)) {
		json_skip_ws(&jp);
		if (jp.p == jp.end)
			return root;
		json_fail(&jp, "trailing characters after the value");
	}
	json_free(root);
	return NULL;
}

/* --- lookups: all accept NULL and answer NULL / 0 / false --------------- */

static inline const char *json_type_name(enum json_type t)
{
	static const char *const names[] = {
		"null", "bool", "number", "string", "array", "object"
	};

	return (unsigned)t < sizeof(names) / sizeof(names[0]) ? names[t] : "?";
}

/* Value of @key in object @obj, or NULL (not an object, no such key). */
static inline const struct json_node *json_obj_get(const struct json_node *obj, const char *key)
{
	if (!obj || obj->type != JSON_OBJECT)
		return NULL;
	for (size_t i = 0; i < obj->n; i++)
		if (strcmp(obj->keys[i], key) == 0)
			return &obj->items[i];
	return NULL;
}

/* Number of items of an array or members of an object, else 0. */
static inline size_t json_len(const struct json_node *n)
{
	return n && (n->type == JSON_ARRAY || n->type == JSON_OBJECT) ? n->n : 0;
}

/* Item @i of an array, or value @i of an object (file order); NULL past the end. */
static inline const struct json_node *json_at(const struct json_node *n, size_t i)
{
	return i < json_len(n) ? &n->items[i] : NULL;
}

/* Key @i of an object, or NULL. */
static inline const char *json_key_at(const struct json_node *n, size_t i)
{
	return n && n->type == JSON_OBJECT && i < n->n ? n->keys[i] : NULL;
}

static inline bool json_is_null(const struct json_node *n)
{
	return n && n->type == JSON_NULL;
}

/* The string, or NULL when @n is not a string. */
static inline const char *json_str(const struct json_node *n)
{
	return n && n->type == JSON_STRING ? n->string : NULL;
}

/* True and *out set when @n is an integral number within int64_t. */
static inline bool json_int(const struct json_node *n, int64_t *out)
{
	if (!n || n->type != JSON_NUMBER || !n->is_int)
		return false;
	*out = n->integer;
	return true;
}

static inline bool json_double(const struct json_node *n, double *out)
{
	if (!n || n->type != JSON_NUMBER)
		return false;
	*out = n->number;
	return true;
}

static inline bool json_bool(const struct json_node *n, bool *out)
{
	if (!n || n->type != JSON_BOOL)
		return false;
	*out = n->boolean;
	return true;
}
