/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Round-trip helpers shared by the text-format writer tests (check-ihex,
 * check-srec): write an image in one format, read it back, compare. */
#pragma once

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
