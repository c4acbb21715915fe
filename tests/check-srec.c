// SPDX-License-Identifier: GPL-2.0-or-later
/* Unit tests for the Motorola S-record parser and writer (src/lib/image/srec.c). */
#include "config.h"

#include "image.h"
#include "macro.h"
#include "imagetest.h"
#include "testutil.h"

static struct dfu_image *img;
static struct dfu_error err;

static void setup(void)
{
	ck_assert_int_eq(dfu_image_new(DFU_FORMAT_SREC, &img), 0);
	dfu_error_clear(&err);
}

static void teardown(void)
{
	dfu_image_free(img);
	img = NULL;
}

/*
 * Parse @len bytes of text with the reader, as `dfuflash` does (lines split at
 * LF, CRLF or CR, numbered from 1); the result replaces the fixture's empty
 * image (NULL after a failure).
 */
static int feed_len(const uint8_t *text, size_t len)
{
	struct dfu_parse_opts opts = { .format = DFU_FORMAT_SREC };

	dfu_image_free(img);
	img = NULL;
	return dfu_image_parse(text, len, &opts, &img, &err);
}

static int feed(const char *text)
{
	return feed_len((const uint8_t *)text, strlen(text));
}

static void assert_segment(size_t i, uint32_t address, size_t length)
{
	ck_assert_uint_gt(img->n_segments, i);
	ck_assert_uint_eq(img->segments[i].address, address);
	ck_assert_uint_eq(img->segments[i].length, length);
}

static void assert_error(int r, int code, const char *cls, const char *where)
{
	ck_assert_int_eq(r, code);
	ck_assert_int_eq(err.err, code);
	ck_assert_str_eq(err.code, cls);
	ck_assert_str_eq(err.where, where);
}

static const uint8_t seq[32] = { 0,  1,	 2,  3,	 4,  5,	 6,  7,	 8,  9,	 10, 11, 12, 13, 14, 15,
				 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31 };

#define HDR "S00600004844521B\n" /* "HDR" */
#define S1_1000 "S1131000000102030405060708090A0B0C0D0E0F64\n"
#define S1_1010 "S1131010101112131415161718191A1B1C1D1E1F54\n"
#define S9_1000 "S9031000EC\n"

/* --- records ---------------------------------------------------------------- */

START_TEST(test_srec_parses_s1_records_with_header_count_and_s9)
{
	ck_assert_int_eq(feed(HDR S1_1000 S1_1010 "S5030002FA\n" S9_1000), 0);

	ck_assert_uint_eq(img->n_segments, 1);
	assert_segment(0, 0x1000, 32);
	ck_assert_mem_eq(img->segments[0].data, seq, 32);
	ck_assert_str_eq(img->text.srec_header, "HDR");
	ck_assert_uint_eq(img->text.records, 5);
	ck_assert_uint_eq(img->text.data_records, 2);
	ck_assert_uint_eq(img->text.types_seen, (1u << 0) | (1u << 1) | (1u << 5) | (1u << 9));
	ck_assert_int_eq(img->start.kind, DFU_START_SREC);
	ck_assert_uint_eq(img->start.srec_type, 9);
	ck_assert_uint_eq(img->start.linear, 0x1000);
	ck_assert_uint_eq(img->n_warnings, 0);
}
END_TEST

START_TEST(test_srec_parses_s2_data_and_an_s8_start)
{
	ck_assert_int_eq(feed("S2081234560001020355\nS8041234565F\n"), 0);

	assert_segment(0, 0x123456, 4);
	ck_assert_mem_eq(img->segments[0].data, seq, 4);
	ck_assert_uint_eq(img->start.srec_type, 8);
	ck_assert_uint_eq(img->start.linear, 0x123456);
}
END_TEST

START_TEST(test_srec_parses_s3_data_and_an_s7_start)
{
	ck_assert_int_eq(feed("S3090800000000010203E8\nS7050800008171\n"), 0);

	assert_segment(0, 0x08000000, 4);
	ck_assert_uint_eq(img->start.srec_type, 7);
	ck_assert_uint_eq(img->start.linear, 0x08000081);
	ck_assert_uint_eq(img->text.types_seen, (1u << 3) | (1u << 7));
}
END_TEST

START_TEST(test_srec_shows_non_printable_header_bytes_as_dots)
{
	ck_assert_int_eq(feed("S00700006869000126\n" S9_1000), 0);

	ck_assert_str_eq(img->text.srec_header, "hi..");
}
END_TEST

START_TEST(test_srec_accepts_lower_case_and_crlf)
{
	ck_assert_int_eq(feed("S1131000000102030405060708090a0b0c0d0e0f64\r\nS9031000EC\r\n"), 0);

	assert_segment(0, 0x1000, 16);
	ck_assert(img->text.lower_case);
	ck_assert(img->text.upper_case);
}
END_TEST

START_TEST(test_srec_warns_when_the_termination_record_is_missing)
{
	ck_assert_int_eq(feed(HDR S1_1000), 0);

	assert_segment(0, 0x1000, 16);
	ck_assert_int_eq(img->start.kind, DFU_START_NONE);
	ck_assert_uint_eq(img->n_warnings, 1);
	ck_assert_str_eq(img->warnings[0], "no S7/S8/S9 termination record");
}
END_TEST

START_TEST(test_srec_ignores_blank_lines_with_a_warning)
{
	ck_assert_int_eq(feed(S1_1000 "\t\n" S9_1000), 0);

	ck_assert_uint_eq(img->n_warnings, 1);
	ck_assert_str_eq(img->warnings[0], "line 2: blank line ignored");
}
END_TEST

START_TEST(test_srec_ignores_text_after_the_termination_record_with_one_warning)
{
	ck_assert_int_eq(feed(S1_1000 S9_1000 "junk\n" S1_1010), 0);

	assert_segment(0, 0x1000, 16);
	ck_assert_uint_eq(img->n_warnings, 1);
	ck_assert_str_eq(img->warnings[0], "line 3: text after the termination record ignored");
}
END_TEST

START_TEST(test_srec_accepts_records_out_of_address_order)
{
	ck_assert_int_eq(feed(S1_1010 S1_1000 S9_1000), 0);

	ck_assert_uint_eq(img->n_segments, 1);
	assert_segment(0, 0x1000, 32);
	ck_assert_mem_eq(img->segments[0].data, seq, 32);
}
END_TEST

START_TEST(test_srec_accepts_a_record_ending_at_the_top_of_the_address_space)
{
	ck_assert_int_eq(feed("S315FFFFFFF0000102030405060708090A0B0C0D0E0F85\n"), 0);

	assert_segment(0, 0xfffffff0, 16);
}
END_TEST

START_TEST(test_srec_rejects_a_record_running_past_4_gib)
{
	int r = feed("S315FFFFFFF8000102030405060708090A0B0C0D0E0F7D\n");

	assert_error(r, DFU_E_RANGE, "srec.address_overflow", "line 1");
}
END_TEST

START_TEST(test_srec_checks_an_s6_count)
{
	ck_assert_int_eq(feed(S1_1000 S1_1010 "S604000002F9\n" S9_1000), 0);
}
END_TEST

START_TEST(test_srec_rejects_a_wrong_s5_count)
{
	int r = feed(S1_1000 S1_1010 "S5030003F9\n" S9_1000);

	assert_error(r, DFU_E_FORMAT, "srec.bad_count", "line 3");
}
END_TEST

START_TEST(test_srec_accepts_an_identical_overlap)
{
	ck_assert_int_eq(feed(S1_1000 "S10B10040405060708090A0BA4\n" S9_1000), 0);

	ck_assert_uint_eq(img->n_segments, 1);
	assert_segment(0, 0x1000, 16);
}
END_TEST

START_TEST(test_srec_rejects_a_conflicting_overlap_naming_both_lines)
{
	int r = feed(HDR S1_1000 S1_1010 "S10B1004A0A1A2A3A4A5A6A7C4\n" S9_1000);

	assert_error(r, DFU_E_CONFLICT, "srec.overlap", "line 4");
	ck_assert_str_eq(err.message, "data at 0x00001004..0x0000100b given twice with "
				      "different values (line 2, line 4)");
}
END_TEST

/* --- malformed records ------------------------------------------------------ */

START_TEST(test_srec_rejects_a_line_not_starting_with_s)
{
	assert_error(feed(S1_1000 ":00000001FF\n"), DFU_E_FORMAT, "srec.bad_start", "line 2");
}
END_TEST

START_TEST(test_srec_rejects_the_reserved_s4)
{
	assert_error(feed("S4030000FC\n"), DFU_E_FORMAT, "srec.bad_record_type", "line 1");
}
END_TEST

START_TEST(test_srec_rejects_a_non_digit_type)
{
	assert_error(feed("SX030000FC\n"), DFU_E_FORMAT, "srec.bad_record_type", "line 1");
}
END_TEST

START_TEST(test_srec_rejects_an_odd_number_of_digits)
{
	assert_error(feed("S1131000000102030405060708090A0B0C0D0E0F6\n"), DFU_E_FORMAT,
		     "srec.odd_length", "line 1");
}
END_TEST

START_TEST(test_srec_rejects_a_non_hex_character)
{
	assert_error(feed("S1131000000102030405060708090A0B0C0D0E0Z64\n"), DFU_E_FORMAT,
		     "srec.bad_hex", "line 1");
}
END_TEST

START_TEST(test_srec_rejects_a_byte_count_mismatch)
{
	int r = feed("S1141000000102030405060708090A0B0C0D0E0F63\n");

	assert_error(r, DFU_E_FORMAT, "srec.length_mismatch", "line 1");
}
END_TEST

START_TEST(test_srec_rejects_a_bad_checksum)
{
	int r = feed(S1_1000 "S1131010101112131415161718191A1B1C1D1E1F55\n");

	assert_error(r, DFU_E_FORMAT, "srec.checksum", "line 2");
	ck_assert_str_eq(err.message, "checksum 0x55 wrong, expected 0x54");
}
END_TEST

/* Records whose fields contradict their type: srec.bad_record on line 1. */
static const char *const bad_records[] = {
	"S10200FD",	/* S1 too short for its 2-byte address */
	"S904000001FA", /* S9 with data */
	"S504000001FA", /* S5 with data */
	"S1",		/* no byte count */
	"S",		/* no type */
};

START_TEST(test_srec_rejects_records_that_contradict_their_type)
{
	char text[64];

	snprintf(text, sizeof(text), "%s\n", bad_records[_i]);
	assert_error(feed(text), DFU_E_FORMAT, "srec.bad_record", "line 1");
}
END_TEST

/* --- writer ----------------------------------------------------------------- */

static void write_and_reparse(const struct dfu_image *src, unsigned record_len, struct dfu_buf *out,
			      struct dfu_image **back)
{
	test_write_and_reparse(src, DFU_FORMAT_SREC, record_len, out, back, &err);
}

static void assert_same_image(const struct dfu_image *a, const struct dfu_image *b)
{
	test_assert_same_segments(a, b);
	ck_assert_uint_eq(a->start.linear, b->start.linear);
}

static void add_pattern(uint32_t address, size_t len)
{
	uint8_t *d = malloc(len);

	for (size_t i = 0; i < len; i++)
		d[i] = (uint8_t)(i * 7 + (address >> 8));
	ck_assert_int_eq(dfu_image_add(img, DFU_ALT_NONE, address, d, len, NULL, NULL, NULL), 0);
	free(d);
}

START_TEST(test_srec_write_emits_header_s1_count_and_s9)
{
	static const char want[] = "S00B0000646675666C617368A7\n"
				   "S10B10000001020304050607C8\n"
				   "S5030001FB\n"
				   "S9030000FC\n";
	struct dfu_buf out = { 0 };

	ck_assert_int_eq(dfu_image_add(img, DFU_ALT_NONE, 0x1000, seq, 8, NULL, NULL, NULL), 0);

	ck_assert_int_eq(dfu_srec_write(img, NULL, &out, &err), 0);

	ck_assert_uint_eq(out.len, strlen(want));
	ck_assert_mem_eq(out.data, want, out.len);
	dfu_buf_release(&out);
}
END_TEST

START_TEST(test_srec_write_picks_s2_and_s8_above_64k)
{
	static const char want[] = "S00B0000646675666C617368A7\n"
				   "S20801000000010203F0\n"
				   "S5030001FB\n"
				   "S804010000FA\n";
	struct dfu_buf out = { 0 };

	ck_assert_int_eq(dfu_image_add(img, DFU_ALT_NONE, 0x10000, seq, 4, NULL, NULL, NULL), 0);
	img->start = (struct dfu_start){ .kind = DFU_START_SREC, .linear = 0x10000 };

	ck_assert_int_eq(dfu_srec_write(img, NULL, &out, &err), 0);

	ck_assert_uint_eq(out.len, strlen(want));
	ck_assert_mem_eq(out.data, want, out.len);
	dfu_buf_release(&out);
}
END_TEST

START_TEST(test_srec_write_picks_s3_and_s7_for_a_start_above_16m)
{
	_cleanup_(dfu_image_freep) struct dfu_image *back = NULL;
	struct dfu_buf out = { 0 };

	add_pattern(0x100, 40);
	img->start = (struct dfu_start){ .kind = DFU_START_ELF_ENTRY, .linear = 0x08000081 };

	write_and_reparse(img, 0, &out, &back);

	ck_assert_uint_eq(back->text.types_seen, (1u << 0) | (1u << 3) | (1u << 5) | (1u << 7));
	ck_assert_uint_eq(back->start.srec_type, 7);
	assert_same_image(img, back);
	dfu_buf_release(&out);
}
END_TEST

START_TEST(test_srec_write_keeps_the_image_header)
{
	_cleanup_(dfu_image_freep) struct dfu_image *back = NULL;
	struct dfu_buf out = { 0 };

	add_pattern(0x100, 4);
	img->text.srec_header = strdup("my firmware");

	write_and_reparse(img, 0, &out, &back);

	ck_assert_str_eq(back->text.srec_header, "my firmware");
	dfu_buf_release(&out);
}
END_TEST

START_TEST(test_srec_write_splits_records_by_record_length)
{
	_cleanup_(dfu_image_freep) struct dfu_image *back = NULL;
	struct dfu_buf out = { 0 };

	add_pattern(0x2000, 100);

	write_and_reparse(img, 7, &out, &back);

	/* ceil(100 / 7) = 15 records */
	ck_assert_uint_eq(back->text.data_records, 15);
	assert_same_image(img, back);
	dfu_buf_release(&out);
}
END_TEST

START_TEST(test_srec_write_rejects_a_record_length_too_long_for_the_type)
{
	struct dfu_write_opts opts = { .format = DFU_FORMAT_SREC, .record_len = 251 };
	struct dfu_buf out = { 0 };

	add_pattern(0x08000000, 4);

	/* S3: count 255 = 4 address + 250 data + checksum */
	ck_assert_int_eq(dfu_srec_write(img, &opts, &out, &err), DFU_E_INVAL);
	ck_assert_str_eq(err.code, "srec.record_len");
	ck_assert_uint_eq(out.len, 0);
}
END_TEST

START_TEST(test_srec_write_round_trips_several_segments_up_to_4_gib)
{
	_cleanup_(dfu_image_freep) struct dfu_image *back = NULL;
	struct dfu_buf out = { 0 };

	add_pattern(0x08000000, 1172);
	add_pattern(0x0800fff0, 0x20000);
	add_pattern(0x90000000, 256);
	add_pattern(0xfffffff0, 16);
	img->start =
	    (struct dfu_start){ .kind = DFU_START_SREC, .linear = 0x08000081, .srec_type = 7 };

	write_and_reparse(img, 250, &out, &back);

	assert_same_image(img, back);
	ck_assert_int_eq(back->start.kind, DFU_START_SREC);
	dfu_buf_release(&out);
}
END_TEST

/* --- corpus ----------------------------------------------------------------- */

static const struct text_corpus_case corpus[] = {
	{ .name = "bincopy_non_sorted_segments.s19",
	  .n_segments = 4,
	  .seg = { { 0x1000, 13772, 0xd70c9587 },
		   { 0xffbe, 2, 0x8bc56c22 },
		   { 0xffe4, 2, 0x5fae3cd6 },
		   { 0xfffc, 4, 0x598b52cb } },
	  .start = DFU_START_SREC,
	  .header = "SS86" },
	{ .name = "srec_huge_gap.s37",
	  .n_segments = 3,
	  .seg = { { 0x08000000, 1172, 0x99dda8ec },
		   { 0x90000000, 256, 0x78825239 },
		   { 0xfffffff0, 16, 0xe2a9b237 } },
	  .n_warnings = 1,
	  .header = "http://srecord.sourceforge.net/" },
	{ .name = "atmegaboot_1280.s28",
	  .n_segments = 1,
	  .seg = { { 0x1f000, 2198, 0x34bc23e2 } },
	  .start = DFU_START_SREC,
	  .linear = 0x1f000,
	  .header = "http://srecord.sourceforge.net/" },
	{ .name = "fwupd_srec-addr32.srec",
	  .n_segments = 1,
	  .seg = { { 0x01000000, 11, 0x0d4a1185 } },
	  .start = DFU_START_SREC,
	  .header = "HDR" },
	{ .name = "bincopy_in.s19",
	  .n_segments = 1,
	  .seg = { { 0, 70, 0xe927c9e2 } },
	  .start = DFU_START_SREC,
	  .header = "hello     .." },
	{ .name = "bad_srec_checksum.s37",
	  .err = DFU_E_FORMAT,
	  .code = "srec.checksum",
	  .where = "line 3" },
	{ .name = "bincopy_bad_crc.s19",
	  .err = DFU_E_FORMAT,
	  .code = "srec.checksum",
	  .where = "line 1" },
};

START_TEST(test_srec_parses_corpus_files_as_expected)
{
	test_text_corpus_case(&corpus[_i], DFU_FORMAT_SREC);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("srec");
	TCase *tc;

	tc = tcase_create("records");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_srec_parses_s1_records_with_header_count_and_s9);
	tcase_add_test(tc, test_srec_parses_s2_data_and_an_s8_start);
	tcase_add_test(tc, test_srec_parses_s3_data_and_an_s7_start);
	tcase_add_test(tc, test_srec_shows_non_printable_header_bytes_as_dots);
	tcase_add_test(tc, test_srec_accepts_lower_case_and_crlf);
	tcase_add_test(tc, test_srec_warns_when_the_termination_record_is_missing);
	tcase_add_test(tc, test_srec_ignores_blank_lines_with_a_warning);
	tcase_add_test(tc, test_srec_ignores_text_after_the_termination_record_with_one_warning);
	tcase_add_test(tc, test_srec_accepts_records_out_of_address_order);
	tcase_add_test(tc, test_srec_accepts_a_record_ending_at_the_top_of_the_address_space);
	tcase_add_test(tc, test_srec_rejects_a_record_running_past_4_gib);
	tcase_add_test(tc, test_srec_checks_an_s6_count);
	tcase_add_test(tc, test_srec_rejects_a_wrong_s5_count);
	tcase_add_test(tc, test_srec_accepts_an_identical_overlap);
	tcase_add_test(tc, test_srec_rejects_a_conflicting_overlap_naming_both_lines);
	suite_add_tcase(s, tc);

	tc = tcase_create("malformed");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_srec_rejects_a_line_not_starting_with_s);
	tcase_add_test(tc, test_srec_rejects_the_reserved_s4);
	tcase_add_test(tc, test_srec_rejects_a_non_digit_type);
	tcase_add_test(tc, test_srec_rejects_an_odd_number_of_digits);
	tcase_add_test(tc, test_srec_rejects_a_non_hex_character);
	tcase_add_test(tc, test_srec_rejects_a_byte_count_mismatch);
	tcase_add_test(tc, test_srec_rejects_a_bad_checksum);
	tcase_add_loop_test(tc, test_srec_rejects_records_that_contradict_their_type, 0,
			    (int)ARRAY_SIZE(bad_records));
	suite_add_tcase(s, tc);

	tc = tcase_create("writer");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_srec_write_emits_header_s1_count_and_s9);
	tcase_add_test(tc, test_srec_write_picks_s2_and_s8_above_64k);
	tcase_add_test(tc, test_srec_write_picks_s3_and_s7_for_a_start_above_16m);
	tcase_add_test(tc, test_srec_write_keeps_the_image_header);
	tcase_add_test(tc, test_srec_write_splits_records_by_record_length);
	tcase_add_test(tc, test_srec_write_rejects_a_record_length_too_long_for_the_type);
	tcase_add_test(tc, test_srec_write_round_trips_several_segments_up_to_4_gib);
	suite_add_tcase(s, tc);

	/* the cases that read the shared corpus: left out without it */
	tc = test_corpus_tcase(s, setup, teardown, 30);
	if (tc) {
		tcase_add_loop_test(tc, test_srec_parses_corpus_files_as_expected, 0,
				    (int)ARRAY_SIZE(corpus));
	}

	return test_run_suite(s);
}
