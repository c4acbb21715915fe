/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Helpers shared by the text-format tests (check-ihex, check-srec): write an
 * image in one format, read it back, compare; parse a corpus file and check it
 * against its expected segments or its expected error. */
#pragma once

#include <stdlib.h>

#include "dfuflash.h"
#include "testutil.h"

/* Write @src as @format with @record_len and parse the text back into *back;
 * the text must parse without warnings. */
static inline void test_write_and_reparse(const struct dfu_image *src, enum dfu_format format,
					  unsigned record_len, struct dfu_buf *out,
					  struct dfu_image **back, struct dfu_error *e)
{
	struct dfu_write_opts opts = { .format = format, .record_len = record_len };
	struct dfu_parse_opts parse = { .format = format };
	struct dfu_error e2 = { 0 };

	ck_assert_int_eq(dfu_image_write(src, &opts, out, e), 0);
	ck_assert_int_eq(dfu_image_parse(out->data, out->len, &parse, back, &e2), 0);
	ck_assert_uint_eq((*back)->n_warnings, 0);
}

/* Same segments, byte for byte. */
static inline void test_assert_same_segments(const struct dfu_image *a, const struct dfu_image *b)
{
	ck_assert_uint_eq(a->n_segments, b->n_segments);
	for (size_t i = 0; i < a->n_segments; i++) {
		ck_assert_uint_eq(a->segments[i].address, b->segments[i].address);
		ck_assert_uint_eq(a->segments[i].length, b->segments[i].length);
		ck_assert_mem_eq(a->segments[i].data, b->segments[i].data, a->segments[i].length);
	}
}

/* One corpus file of a text format and what parsing it must give. */
struct text_corpus_seg {
	uint32_t address;
	size_t length; /* 0: not listed (the segments after the listed ones go unchecked) */
	uint32_t crc32;
};

struct text_corpus_case {
	const char *name;
	/* valid files */
	size_t n_segments;
	struct text_corpus_seg seg[4];
	enum dfu_start_kind start;
	uint32_t linear;
	size_t n_warnings;
	const char *header; /* S-records: the S0 text */
	/* malformed files */
	int err;
	const char *code;
	const char *where;
};

/* Parse the corpus file of @c as @format and check the result against @c. */
static inline void test_text_corpus_case(const struct text_corpus_case *c, enum dfu_format format)
{
	struct dfu_parse_opts opts = { .format = format };
	struct dfu_image *img = NULL;
	struct dfu_error err = { 0 };
	uint8_t *buf;
	size_t len = 0;
	int r;

	buf = test_corpus_load(c->name, &len);
	ck_assert_msg(buf != NULL, "cannot read %s", c->name);
	r = dfu_image_parse(buf, len, &opts, &img, &err);
	free(buf);
	if (c->code) {
		ck_assert_int_eq(r, c->err);
		ck_assert_int_eq(err.err, c->err);
		ck_assert_str_eq(err.code, c->code);
		ck_assert_str_eq(err.where, c->where);
		dfu_image_free(img);
		return;
	}
	ck_assert_msg(r == 0, "%s: %s: %s: %s", c->name, err.code, err.where, err.message);
	ck_assert_uint_eq(img->n_segments, c->n_segments);
	for (size_t i = 0; i < c->n_segments && i < 4 && c->seg[i].length; i++) {
		const struct dfu_segment *s = &img->segments[i];

		ck_assert_uint_eq(s->address, c->seg[i].address);
		ck_assert_uint_eq(s->length, c->seg[i].length);
		ck_assert_uint_eq(dfu_crc32(0, s->data, s->length), c->seg[i].crc32);
	}
	ck_assert_int_eq(img->start.kind, c->start);
	ck_assert_uint_eq(img->start.linear, c->linear);
	ck_assert_uint_eq(img->n_warnings, c->n_warnings);
	if (format == DFU_FORMAT_SREC)
		ck_assert_str_eq(img->text.srec_header, c->header);
	dfu_image_free(img);
}
