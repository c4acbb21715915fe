// SPDX-License-Identifier: GPL-2.0-or-later
/* Unit tests for the image model (src/lib/image/image.c). */
#include "config.h"

#include "image.h"
#include "testutil.h"

static struct dfu_image *img;

static void setup(void)
{
	ck_assert_int_eq(dfu_image_new(DFU_FORMAT_IHEX, &img), 0);
}

static void teardown(void)
{
	dfu_image_free(img);
	img = NULL;
}

static const uint8_t seq[] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 };

START_TEST(test_add_appends_adjacent_bytes_into_one_segment)
{
	ck_assert_int_eq(dfu_image_add(img, DFU_ALT_NONE, 0x1000, seq, 8, NULL, NULL, NULL), 0);
	ck_assert_int_eq(dfu_image_add(img, DFU_ALT_NONE, 0x1008, seq + 8, 8, NULL, NULL, NULL), 0);
	ck_assert_uint_eq(img->n_segments, 1);
	ck_assert_uint_eq(img->segments[0].address, 0x1000);
	ck_assert_uint_eq(img->segments[0].length, 16);
	ck_assert_mem_eq(img->segments[0].data, seq, 16);
	ck_assert_uint_eq(dfu_image_data_bytes(img), 16);
}
END_TEST

START_TEST(test_add_keeps_segments_sorted_and_merges_gaps_filled_later)
{
	ck_assert_int_eq(dfu_image_add(img, DFU_ALT_NONE, 0x2008, seq + 8, 8, NULL, NULL, NULL), 0);
	ck_assert_int_eq(dfu_image_add(img, DFU_ALT_NONE, 0x2000, seq, 4, NULL, NULL, NULL), 0);
	ck_assert_uint_eq(img->n_segments, 2);
	ck_assert_uint_eq(img->segments[0].address, 0x2000);
	ck_assert_uint_eq(img->segments[1].address, 0x2008);
	/* the hole 0x2004..0x2007 joins both */
	ck_assert_int_eq(dfu_image_add(img, DFU_ALT_NONE, 0x2004, seq + 4, 4, NULL, NULL, NULL), 0);
	ck_assert_uint_eq(img->n_segments, 1);
	ck_assert_uint_eq(img->segments[0].length, 16);
	ck_assert_mem_eq(img->segments[0].data, seq, 16);
	ck_assert_uint_eq(dfu_image_data_bytes(img), 16);
}
END_TEST

START_TEST(test_add_prepends_before_a_segment)
{
	ck_assert_int_eq(dfu_image_add(img, DFU_ALT_NONE, 0x3008, seq + 8, 8, NULL, NULL, NULL), 0);
	ck_assert_int_eq(dfu_image_add(img, DFU_ALT_NONE, 0x3000, seq, 8, NULL, NULL, NULL), 0);
	ck_assert_uint_eq(img->n_segments, 1);
	ck_assert_uint_eq(img->segments[0].address, 0x3000);
	ck_assert_mem_eq(img->segments[0].data, seq, 16);
}
END_TEST

START_TEST(test_add_accepts_identical_overlap)
{
	ck_assert_int_eq(dfu_image_add(img, DFU_ALT_NONE, 0x100, seq, 16, NULL, NULL, NULL), 0);
	ck_assert_int_eq(dfu_image_add(img, DFU_ALT_NONE, 0x104, seq + 4, 8, NULL, NULL, NULL), 0);
	ck_assert_uint_eq(img->n_segments, 1);
	ck_assert_uint_eq(img->segments[0].length, 16);
	ck_assert_uint_eq(dfu_image_data_bytes(img), 16);
}
END_TEST

START_TEST(test_add_refuses_conflicting_overlap_and_names_the_address)
{
	uint8_t other[4] = { 4, 5, 0x66, 7 };
	uint32_t at = 0;
	struct dfu_error e = { 0 };

	ck_assert_int_eq(dfu_image_add(img, DFU_ALT_NONE, 0x100, seq, 16, NULL, NULL, NULL), 0);
	ck_assert_int_eq(dfu_image_add(img, DFU_ALT_NONE, 0x104, other, 4, NULL, &at, &e),
			 DFU_E_CONFLICT);
	ck_assert_uint_eq(at, 0x106);
	ck_assert_str_eq(e.code, "image.overlap");
	/* nothing changed */
	ck_assert_mem_eq(img->segments[0].data, seq, 16);
}
END_TEST

START_TEST(test_alts_are_separate_address_spaces)
{
	uint8_t other[4] = { 9, 9, 9, 9 };

	ck_assert_int_eq(dfu_image_add(img, 1, 0x100, seq, 4, NULL, NULL, NULL), 0);
	ck_assert_int_eq(dfu_image_add(img, 0, 0x100, other, 4, NULL, NULL, NULL), 0);
	ck_assert_uint_eq(img->n_segments, 2);
	ck_assert_int_eq(img->segments[0].alt, 0);
	ck_assert_int_eq(img->segments[1].alt, 1);
	ck_assert_ptr_nonnull(dfu_image_find(img, 1, 0x103));
	ck_assert_ptr_null(dfu_image_find(img, 1, 0x104));
	ck_assert_ptr_null(dfu_image_find(img, 2, 0x100));
}
END_TEST

START_TEST(test_add_reaches_but_never_passes_the_top_of_the_address_space)
{
	struct dfu_error e = { 0 };

	ck_assert_int_eq(dfu_image_add(img, DFU_ALT_NONE, 0xfffffff0u, seq, 16, NULL, NULL, NULL),
			 0);
	ck_assert_int_eq(dfu_image_add(img, DFU_ALT_NONE, 0xfffffff8u, seq, 16, NULL, NULL, &e),
			 DFU_E_RANGE);
	ck_assert_str_eq(e.code, "image.address_overflow");
}
END_TEST

START_TEST(test_limits_cap_bytes_and_span)
{
	struct dfu_limits lim = { .max_bytes = 20, .max_span = 0x1000 };
	struct dfu_error e = { 0 };

	ck_assert_int_eq(dfu_image_add(img, DFU_ALT_NONE, 0, seq, 16, &lim, NULL, NULL), 0);
	ck_assert_int_eq(dfu_image_add(img, DFU_ALT_NONE, 0x100, seq, 8, &lim, NULL, &e),
			 DFU_E_RANGE);
	ck_assert_str_eq(e.code, "image.too_large");
	dfu_error_clear(&e);
	ck_assert_int_eq(dfu_image_add(img, DFU_ALT_NONE, 0x1000, seq, 1, &lim, NULL, &e),
			 DFU_E_RANGE);
	ck_assert_str_eq(e.code, "image.span");
}
END_TEST

/* The default limit must be reachable: the doubling buffer that holds an
 * image at the limit can grow to twice its size, and that must fit in a
 * quarter of the address space (a 32-bit host has 3 GiB at most). */
START_TEST(test_default_limit_fits_the_address_space)
{
	ck_assert_uint_le(dfu_limits_max_bytes(NULL), SIZE_MAX / 4);
	ck_assert_uint_ge(dfu_limits_max_bytes(NULL), UINT64_C(256) << 20);
}
END_TEST

START_TEST(test_read_fills_gaps)
{
	uint8_t buf[8];

	ck_assert_int_eq(dfu_image_add(img, DFU_ALT_NONE, 0x10, seq, 2, NULL, NULL, NULL), 0);
	ck_assert_int_eq(dfu_image_add(img, DFU_ALT_NONE, 0x14, seq + 4, 2, NULL, NULL, NULL), 0);
	ck_assert_uint_eq(dfu_image_read(img, DFU_ALT_NONE, 0x10, buf, 8, 0xff), 4);
	ck_assert_uint_eq(buf[0], 0);
	ck_assert_uint_eq(buf[1], 1);
	ck_assert_uint_eq(buf[2], 0xff);
	ck_assert_uint_eq(buf[4], 4);
	ck_assert_uint_eq(buf[7], 0xff);
}
END_TEST

START_TEST(test_many_out_of_order_records_end_sorted)
{
	uint8_t b;

	for (int k = 99; k >= 0; k--) {
		b = (uint8_t)k;
		ck_assert_int_eq(
		    dfu_image_add(img, DFU_ALT_NONE, (uint32_t)(k * 2), &b, 1, NULL, NULL, NULL),
		    0);
	}
	ck_assert_uint_eq(img->n_segments, 100);
	for (size_t k = 1; k < img->n_segments; k++)
		ck_assert_uint_lt(img->segments[k - 1].address, img->segments[k].address);
}
END_TEST

START_TEST(test_line_index_names_the_earlier_line)
{
	struct dfu_line_index ix = { 0 };

	/* lines 2..5: 16-byte records from 0x08000000 */
	for (unsigned long l = 2; l <= 5; l++)
		ck_assert_int_eq(
		    dfu_line_index_add(&ix, 0x08000000 + (uint32_t)(l - 2) * 16, 16, l), 0);
	ck_assert_uint_eq(ix.n, 1);
	ck_assert_uint_eq(dfu_line_index_find(&ix, 0x08000014, 9), 3);
	ck_assert_uint_eq(dfu_line_index_find(&ix, 0x0800003f, 9), 5);
	ck_assert_uint_eq(dfu_line_index_find(&ix, 0x08000040, 9), 0);
	ck_assert_uint_eq(dfu_line_index_find(&ix, 0x08000014, 3), 0);
	dfu_line_index_release(&ix);
}
END_TEST

START_TEST(test_rebase_moves_a_raw_image_and_refuses_addressed_ones)
{
	struct dfu_error e = { 0 };

	ck_assert_int_eq(dfu_image_add(img, DFU_ALT_NONE, 0, seq, 16, NULL, NULL, NULL), 0);
	img->address_from_file = false;
	ck_assert_int_eq(dfu_image_rebase(img, 0x08004000, &e), 0);
	ck_assert_uint_eq(img->segments[0].address, 0x08004000);
	ck_assert_ptr_nonnull(dfu_image_find(img, DFU_ALT_NONE, 0x0800400f));
	ck_assert_int_eq(dfu_image_rebase(img, 0xfffffff8u, &e), DFU_E_RANGE);
	ck_assert_uint_eq(img->segments[0].address, 0x08004000);
	dfu_error_clear(&e);
	img->address_from_file = true;
	ck_assert_int_eq(dfu_image_rebase(img, 0, &e), DFU_E_INVAL);
	ck_assert_str_eq(e.code, "image.has_addresses");
}
END_TEST

START_TEST(test_crc32_matches_zlib_check_value)
{
	ck_assert_uint_eq(dfu_crc32(0, (const uint8_t *)"123456789", 9), 0xcbf43926u);
}
END_TEST

START_TEST(test_format_names_round_trip)
{
	enum dfu_format f;

	ck_assert_int_eq(dfu_format_from_name("hex", &f), 0);
	ck_assert_int_eq(f, DFU_FORMAT_IHEX);
	ck_assert_int_eq(dfu_format_from_name("s37", &f), 0);
	ck_assert_int_eq(f, DFU_FORMAT_SREC);
	ck_assert_int_eq(dfu_format_from_name("zip", &f), DFU_E_INVAL);
	ck_assert_str_eq(dfu_format_name(DFU_FORMAT_DFUSE), "dfuse");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("image");
	TCase *tc = tcase_create("model");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_add_appends_adjacent_bytes_into_one_segment);
	tcase_add_test(tc, test_add_keeps_segments_sorted_and_merges_gaps_filled_later);
	tcase_add_test(tc, test_add_prepends_before_a_segment);
	tcase_add_test(tc, test_add_accepts_identical_overlap);
	tcase_add_test(tc, test_add_refuses_conflicting_overlap_and_names_the_address);
	tcase_add_test(tc, test_alts_are_separate_address_spaces);
	tcase_add_test(tc, test_add_reaches_but_never_passes_the_top_of_the_address_space);
	tcase_add_test(tc, test_limits_cap_bytes_and_span);
	tcase_add_test(tc, test_default_limit_fits_the_address_space);
	tcase_add_test(tc, test_read_fills_gaps);
	tcase_add_test(tc, test_many_out_of_order_records_end_sorted);
	tcase_add_test(tc, test_line_index_names_the_earlier_line);
	tcase_add_test(tc, test_rebase_moves_a_raw_image_and_refuses_addressed_ones);
	tcase_add_test(tc, test_crc32_matches_zlib_check_value);
	tcase_add_test(tc, test_format_names_round_trip);
	suite_add_tcase(s, tc);
	return test_run_suite(s);
}
