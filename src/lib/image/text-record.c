// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The pieces the Intel HEX (ihex.c) and S-record (srec.c) parsers and writers
 * share; error codes take the format's prefix ("ihex.overlap").
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "text-record.h"

#define ADDR_SPACE (UINT64_C(1) << 32)

#define D(v) [('0' + v)] = (v | DFU_TEXT_HEX_OK)
#define L(v)                                                                                       \
	[('a' + v - 10)] = (v | DFU_TEXT_HEX_OK | DFU_TEXT_HEX_LOWER),                             \
		    [('A' + v - 10)] = (v | DFU_TEXT_HEX_OK | DFU_TEXT_HEX_UPPER)
const uint8_t dfu_text_hex_tab[256] = {
	D(0), D(1), D(2),  D(3),  D(4),	 D(5),	D(6),  D(7),
	D(8), D(9), L(10), L(11), L(12), L(13), L(14), L(15),
};
#undef D
#undef L

void dfu_text_sink_init(struct dfu_text_sink *s, struct dfu_image *img,
			const struct dfu_limits *limits, const char *prefix, size_t first_hex)
{
	*s = (struct dfu_text_sink){
		.img = img,
		.limits = limits,
		.prefix = prefix,
		.first_hex = first_hex,
	};
}

void dfu_text_sink_release(struct dfu_text_sink *s)
{
	dfu_line_index_release(&s->lines);
}

static int failv(struct dfu_error *e, int err, const char *code, unsigned long lineno,
		 const char *fmt, va_list ap) _printf_format_(5, 0);
static int failv(struct dfu_error *e, int err, const char *code, unsigned long lineno,
		 const char *fmt, va_list ap)
{
	char where[DFU_WHERE_LEN];

	dfu_where_line(where, lineno);
	dfu_error_setv(e, err, code, where, fmt, ap);
	return err;
}

int dfu_text_fail(struct dfu_error *e, int err, const char *code, unsigned long lineno,
		  const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	failv(e, err, code, lineno, fmt, ap);
	va_end(ap);
	return err;
}

/* dfu_text_fail with the code "<prefix>.@what". */
static int fail_as(const struct dfu_text_sink *s, struct dfu_error *e, int err, const char *what,
		   unsigned long lineno, const char *fmt, ...) _printf_format_(6, 7);
static int fail_as(const struct dfu_text_sink *s, struct dfu_error *e, int err, const char *what,
		   unsigned long lineno, const char *fmt, ...)
{
	char code[sizeof(e->code)];
	va_list ap;

	snprintf(code, sizeof(code), "%s.%s", s->prefix, what);
	va_start(ap, fmt);
	failv(e, err, code, lineno, fmt, ap);
	va_end(ap);
	return err;
}

int dfu_text_nomem(const struct dfu_text_sink *s, unsigned long lineno, struct dfu_error *e)
{
	return fail_as(s, e, DFU_E_NOMEM, "nomem", lineno, "out of memory");
}

int dfu_text_bad_hex(const struct dfu_text_sink *s, const char *line, size_t len,
		     unsigned long lineno, struct dfu_error *e)
{
	for (size_t i = s->first_hex; i < len; i++) {
		unsigned char c = (unsigned char)line[i];

		if (dfu_text_hex_tab[c] & DFU_TEXT_HEX_OK)
			continue;
		if (c >= 0x20 && c < 0x7f)
			return fail_as(s, e, DFU_E_FORMAT, "bad_hex", lineno,
				       "invalid character '%c' at column %zu (hex digit expected)",
				       c, i + 1);
		return fail_as(s, e, DFU_E_FORMAT, "bad_hex", lineno,
			       "invalid byte 0x%02x at column %zu (hex digit expected)", c, i + 1);
	}
	return 0;
}

int dfu_text_odd_length(const struct dfu_text_sink *s, const char *line, size_t len,
			unsigned long lineno, struct dfu_error *e)
{
	if (dfu_text_bad_hex(s, line, len, lineno, e) < 0)
		return DFU_E_FORMAT;
	return fail_as(s, e, DFU_E_FORMAT, "odd_length", lineno,
		       "line %lu has an odd number of hex digits", lineno);
}

int dfu_text_skip_line(struct dfu_text_sink *s, size_t len, unsigned long lineno,
		       const char *end_name, struct dfu_error *e)
{
	if (len == 0) {
		if (dfu_image_warn(s->img, "line %lu: blank line ignored", lineno) < 0)
			return dfu_text_nomem(s, lineno, e);
		return 1;
	}
	/* Nothing after the end record is part of the file (a DOS ^Z, a
	 * signature...): say so once and ignore it. */
	if (!s->warned_after_end) {
		s->warned_after_end = true;
		if (dfu_image_warn(s->img, "line %lu: text after %s ignored", lineno, end_name) < 0)
			return dfu_text_nomem(s, lineno, e);
	}
	return 1;
}

int dfu_text_check_span(const struct dfu_text_sink *s, uint32_t address, size_t len,
			unsigned long lineno, struct dfu_error *e)
{
	if ((uint64_t)address + len > ADDR_SPACE)
		return fail_as(s, e, DFU_E_RANGE, "address_overflow", lineno,
			       "%zu bytes at 0x%08x run past the end of the 32-bit address space",
			       len, address);
	return 0;
}

/*
 * Narrow [@lo, @hi), the new record's bytes, to those that the record on line
 * @earlier (which holds @at) also gave: the range the overlap message quotes.
 */
static void earlier_range(const struct dfu_line_index *ix, unsigned long earlier, uint32_t at,
			  uint64_t *lo, uint64_t *hi)
{
	for (size_t k = ix->n; k-- > 0;) {
		const struct dfu_line_run *run = &ix->runs[k];
		uint64_t a, b;

		if (earlier < run->first_line || earlier > run->last_line || at < run->address ||
		    at >= run->end)
			continue;
		a = run->address + (uint64_t)(earlier - run->first_line) * run->rec_len;
		b = MIN(a + run->rec_len, run->end);
		*lo = MAX(*lo, a);
		*hi = MIN(*hi, b);
		return;
	}
}

int dfu_text_add(struct dfu_text_sink *s, uint32_t address, const uint8_t *data, size_t len,
		 unsigned long lineno, struct dfu_error *e)
{
	uint32_t at = address;
	int r;

	r = dfu_text_check_span(s, address, len, lineno, e);
	if (r < 0)
		return r;
	s->add_err.err = 0;
	r = dfu_image_add(s->img, DFU_ALT_NONE, address, data, len, s->limits, &at, &s->add_err);
	if (r == DFU_E_CONFLICT) {
		unsigned long earlier = dfu_line_index_find(&s->lines, at, lineno);
		uint64_t lo = address, hi = (uint64_t)address + len;

		if (!earlier)
			return fail_as(
			    s, e, r, "overlap", lineno,
			    "data at 0x%08x given twice with different values (line %lu)", at,
			    lineno);
		earlier_range(&s->lines, earlier, at, &lo, &hi);
		return fail_as(s, e, r, "overlap", lineno,
			       "data at 0x%08llx..0x%08llx given twice with different values "
			       "(line %lu, line %lu)",
			       (unsigned long long)lo, (unsigned long long)hi - 1, earlier, lineno);
	}
	if (r < 0)
		return dfu_text_fail(e, r, s->add_err.code, lineno, "%s", s->add_err.message);
	if (dfu_line_index_add(&s->lines, address, len, lineno) < 0)
		return dfu_text_nomem(s, lineno, e);
	return 0;
}

struct dfu_text_out *dfu_text_out_new(struct dfu_buf *buf)
{
	struct dfu_text_out *o = malloc(sizeof(*o));

	if (!o)
		return NULL;
	o->buf = buf;
	o->len = 0;
	o->err = 0;
	return o;
}

void dfu_text_out_flush(struct dfu_text_out *o)
{
	if (o->len && !o->err)
		o->err = dfu_buf_append(o->buf, o->data, o->len);
	o->len = 0;
}
