// SPDX-License-Identifier: GPL-2.0-or-later
/* Unit tests for the Intel HEX parser and writer (src/lib/image/ihex.c). */
#include "config.h"

#include "image.h"
#include "macro.h"
#include "imagetest.h"
#include "testutil.h"

static struct dfu_image *img;
static struct dfu_error err;

static void setup(void)
{
	ck_assert_int_eq(dfu_image_new(DFU_FORMAT_IHEX, &img), 0);
	dfu_error_clear(&err);
}

static void teardown(void)
{
	dfu_image_free(img);
	img = NULL;
}

/*
 * Parse @len bytes of text with the reader, as `dfuflash` does (lines split at
 * LF, CRLF or CR, numbered from 1, then the EOF check); the result replaces
 * the fixture's empty image (NULL after a failure).
 */
static int feed_len(const uint8_t *text, size_t len, const struct dfu_limits *limits)
{
	struct dfu_parse_opts opts = { .format = DFU_FORMAT_IHEX };

	if (limits)
		opts.limits = *limits;
	dfu_image_free(img);
	img = NULL;
	return dfu_image_parse(text, len, &opts, &img, &err);
}

static int feed(const char *text)
{
	return feed_len((const uint8_t *)text, strlen(text), NULL);
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

#define DATA_0100 ":10010000000102030405060708090A0B0C0D0E0F77\n"
#define DATA_0110 ":10011000101112131415161718191A1B1C1D1E1F67\n"
#define EOF_REC ":00000001FF\n"

/* --- records and addressing ------------------------------------------------ */

START_TEST(test_ihex_parses_consecutive_records_into_one_segment)
{
	ck_assert_int_eq(feed(DATA_0100 DATA_0110 EOF_REC), 0);

	ck_assert_uint_eq(img->n_segments, 1);
	assert_segment(0, 0x100, 32);
	ck_assert_mem_eq(img->segments[0].data, seq, 32);
	ck_assert_uint_eq(img->text.records, 3);
	ck_assert_uint_eq(img->text.data_records, 2);
	ck_assert_uint_eq(img->text.types_seen, 0x3);
	ck_assert(img->text.upper_case);
	ck_assert(!img->text.lower_case);
	ck_assert_int_eq(img->start.kind, DFU_START_NONE);
	ck_assert_uint_eq(img->n_warnings, 0);
}
END_TEST

START_TEST(test_ihex_accepts_lower_case_digits_and_notes_the_case)
{
	static const uint8_t want[] = { 0xab, 0xcd, 0xef, 0x12 };

	ck_assert_int_eq(feed(":04010000abcdef1282\n:00000001ff\n"), 0);

	assert_segment(0, 0x100, 4);
	ck_assert_mem_eq(img->segments[0].data, want, 4);
	ck_assert(img->text.lower_case);
	ck_assert(!img->text.upper_case);
}
END_TEST

START_TEST(test_ihex_parses_crlf_text_like_lf)
{
	ck_assert_int_eq(feed(":10010000000102030405060708090A0B0C0D0E0F77\r\n:00000001FF\r\n"), 0);

	assert_segment(0, 0x100, 16);
	ck_assert_mem_eq(img->segments[0].data, seq, 16);
	ck_assert_uint_eq(img->n_warnings, 0);
}
END_TEST

START_TEST(test_ihex_ignores_blank_lines_with_a_warning)
{
	ck_assert_int_eq(feed("\n" DATA_0100 " \t\n" EOF_REC), 0);

	assert_segment(0, 0x100, 16);
	ck_assert_uint_eq(img->n_warnings, 2);
	ck_assert_str_eq(img->warnings[0], "line 1: blank line ignored");
	ck_assert_str_eq(img->warnings[1], "line 3: blank line ignored");
	ck_assert_uint_eq(img->text.records, 2);
}
END_TEST

START_TEST(test_ihex_tolerates_trailing_spaces_and_tabs)
{
	ck_assert_int_eq(feed(":10010000000102030405060708090A0B0C0D0E0F77 \t \n" EOF_REC), 0);

	assert_segment(0, 0x100, 16);
	ck_assert_uint_eq(img->n_warnings, 0);
}
END_TEST

START_TEST(test_ihex_ignores_text_after_eof_with_one_warning)
{
	ck_assert_int_eq(feed(DATA_0100 EOF_REC "\x1a\ngarbage\n" DATA_0110), 0);

	ck_assert_uint_eq(img->n_segments, 1);
	assert_segment(0, 0x100, 16);
	ck_assert_uint_eq(img->n_warnings, 1);
	ck_assert_str_eq(img->warnings[0], "line 3: text after the EOF record ignored");
	ck_assert_uint_eq(img->text.records, 2);
}
END_TEST

START_TEST(test_ihex_accepts_a_zero_length_data_record)
{
	ck_assert_int_eq(feed(":00010000FF\n" EOF_REC), 0);

	ck_assert_uint_eq(img->n_segments, 0);
	ck_assert_uint_eq(img->text.data_records, 1);
}
END_TEST

START_TEST(test_ihex_places_data_after_an_extended_linear_address)
{
	ck_assert_int_eq(feed(":020000040800F2\n" DATA_0100 EOF_REC), 0);

	assert_segment(0, 0x08000100, 16);
	ck_assert_uint_eq(img->text.types_seen, (1u << 0) | (1u << 1) | (1u << 4));
}
END_TEST

START_TEST(test_ihex_places_data_after_an_extended_segment_address)
{
	/* SBA 0x1000: base 0x10000 */
	ck_assert_int_eq(feed(":020000021000EC\n" DATA_0100 EOF_REC), 0);

	assert_segment(0, 0x00010100, 16);
	ck_assert_uint_eq(img->text.types_seen, (1u << 0) | (1u << 1) | (1u << 2));
}
END_TEST

START_TEST(test_ihex_places_a_record_crossing_64k_linearly_with_a_warning)
{
	ck_assert_int_eq(feed(":020000040800F2\n"
			      ":10FFF800000102030405060708090A0B0C0D0E0F81\n" EOF_REC),
			 0);

	ck_assert_uint_eq(img->n_segments, 1);
	assert_segment(0, 0x0800fff8, 16);
	ck_assert_mem_eq(img->segments[0].data, seq, 16);
	ck_assert_uint_eq(img->n_warnings, 1);
	ck_assert_str_eq(img->warnings[0],
			 "line 2: record crosses a 64 KiB boundary (placed linearly)");
}
END_TEST

START_TEST(test_ihex_wraps_a_segmented_record_inside_its_segment)
{
	ck_assert_int_eq(feed(":020000021000EC\n"
			      ":10FFF800000102030405060708090A0B0C0D0E0F81\n" EOF_REC),
			 0);

	/* 8 bytes at 0x1fff8, the other 8 wrap to 0x10000 */
	ck_assert_uint_eq(img->n_segments, 2);
	assert_segment(0, 0x00010000, 8);
	ck_assert_mem_eq(img->segments[0].data, seq + 8, 8);
	assert_segment(1, 0x0001fff8, 8);
	ck_assert_mem_eq(img->segments[1].data, seq, 8);
	ck_assert_uint_eq(img->n_warnings, 1);
	ck_assert_str_eq(img->warnings[0], "line 2: record wraps inside its 64 KiB segment");
}
END_TEST

START_TEST(test_ihex_accepts_a_record_ending_at_the_top_of_the_address_space)
{
	ck_assert_int_eq(feed(":02000004FFFFFC\n"
			      ":10FFF000000102030405060708090A0B0C0D0E0F89\n" EOF_REC),
			 0);

	assert_segment(0, 0xfffffff0, 16);
}
END_TEST

START_TEST(test_ihex_rejects_a_record_running_past_4_gib)
{
	int r = feed(":02000004FFFFFC\n:10FFF800000102030405060708090A0B0C0D0E0F81\n" EOF_REC);

	assert_error(r, DFU_E_RANGE, "ihex.address_overflow", "line 2");
}
END_TEST

START_TEST(test_ihex_reads_a_cs_ip_start_address)
{
	ck_assert_int_eq(feed(DATA_0100 ":0400000312345678E5\n" EOF_REC), 0);

	ck_assert_int_eq(img->start.kind, DFU_START_IHEX_CS_IP);
	ck_assert_uint_eq(img->start.cs, 0x1234);
	ck_assert_uint_eq(img->start.ip, 0x5678);
	ck_assert_uint_eq(img->start.linear, 0x12340 + 0x5678);
	ck_assert_uint_eq(img->text.types_seen & (1u << 3), 1u << 3);
}
END_TEST

START_TEST(test_ihex_reads_a_linear_start_address)
{
	ck_assert_int_eq(feed(DATA_0100 ":04000005080001816D\n" EOF_REC), 0);

	ck_assert_int_eq(img->start.kind, DFU_START_IHEX_LINEAR);
	ck_assert_uint_eq(img->start.linear, 0x08000181);
}
END_TEST

START_TEST(test_ihex_accepts_an_identical_overlap)
{
	ck_assert_int_eq(feed(":10000000000102030405060708090A0B0C0D0E0F78\n"
			      ":080004000405060708090A0BB8\n" EOF_REC),
			 0);

	ck_assert_uint_eq(img->n_segments, 1);
	assert_segment(0, 0, 16);
}
END_TEST

START_TEST(test_ihex_rejects_a_conflicting_overlap_naming_both_lines)
{
	int r = feed(":020000040800F2\n"
		     ":10000000000102030405060708090A0B0C0D0E0F78\n"
		     ":10001000101112131415161718191A1B1C1D1E1F68\n"
		     ":08001400A0A1A2A3A4A5A6A7C8\n" EOF_REC);

	assert_error(r, DFU_E_CONFLICT, "ihex.overlap", "line 4");
	ck_assert_str_eq(err.message, "data at 0x08000014..0x0800001b given twice with "
				      "different values (line 3, line 4)");
}
END_TEST

START_TEST(test_ihex_reports_a_limit_error_at_its_line)
{
	struct dfu_limits lim = { .max_bytes = 20 };
	const char *t = DATA_0100 DATA_0110 EOF_REC;
	int r = feed_len((const uint8_t *)t, strlen(t), &lim);

	assert_error(r, DFU_E_RANGE, "image.too_large", "line 2");
}
END_TEST

/* --- malformed records ------------------------------------------------------ */

START_TEST(test_ihex_rejects_a_line_without_colon)
{
	int r = feed(DATA_0100 "# comment\n" EOF_REC);

	assert_error(r, DFU_E_FORMAT, "ihex.bad_start", "line 2");
}
END_TEST

START_TEST(test_ihex_rejects_an_odd_number_of_digits)
{
	int r = feed(":10010000000102030405060708090A0B0C0D0E0F7\n" EOF_REC);

	assert_error(r, DFU_E_FORMAT, "ihex.odd_length", "line 1");
}
END_TEST

START_TEST(test_ihex_rejects_a_non_hex_character)
{
	int r = feed(DATA_0100 ":10011000101112131415161718191A1B1C1D1E1G67\n" EOF_REC);

	assert_error(r, DFU_E_FORMAT, "ihex.bad_hex", "line 2");
	ck_assert_ptr_nonnull(strstr(err.message, "'G'"));
}
END_TEST

START_TEST(test_ihex_rejects_a_byte_count_mismatch)
{
	/* count 0x11, 16 data bytes, checksum fixed up */
	int r = feed(":11010000000102030405060708090A0B0C0D0E0F76\n" EOF_REC);

	assert_error(r, DFU_E_FORMAT, "ihex.length_mismatch", "line 1");
	ck_assert_str_eq(err.message, "byte count says 17 data bytes, record has 16");
}
END_TEST

START_TEST(test_ihex_rejects_a_bad_checksum)
{
	int r = feed(DATA_0100 ":10011000101112131415161718191A1B1C1D1E1F68\n" EOF_REC);

	assert_error(r, DFU_E_FORMAT, "ihex.checksum", "line 2");
	ck_assert_str_eq(err.message, "checksum 0x68 wrong, expected 0x67");
}
END_TEST

START_TEST(test_ihex_rejects_an_unknown_record_type)
{
	int r = feed(DATA_0100 ":00000006FA\n" EOF_REC);

	assert_error(r, DFU_E_FORMAT, "ihex.bad_record_type", "line 2");
	ck_assert_str_eq(err.message, "unknown record type 0x06");
}
END_TEST

START_TEST(test_ihex_rejects_a_missing_eof_record)
{
	int r = feed(DATA_0100);

	assert_error(r, DFU_E_FORMAT, "ihex.missing_eof", "end of file");
}
END_TEST

/* Records whose fields contradict their type: ihex.bad_record on line 1. */
static const char *const bad_records[] = {
	":03000002100000EB",	 /* type 02 with 3 data bytes */
	":0100000410EB",	 /* type 04 with 1 data byte */
	":020010040800E2",	 /* type 04 with a nonzero address field */
	":020000031000EB",	 /* type 03 with 2 data bytes */
	":050000051000000000E6", /* type 05 with 5 data bytes */
	":0400040510000000E3",	 /* type 05 with a nonzero address field */
	":0100000110EE",	 /* EOF with data */
	":000000",		 /* shorter than any record */
};

START_TEST(test_ihex_rejects_records_that_contradict_their_type)
{
	char text[64];

	snprintf(text, sizeof(text), "%s\n" EOF_REC, bad_records[_i]);
	assert_error(feed(text), DFU_E_FORMAT, "ihex.bad_record", "line 1");
}
END_TEST

/* --- writer ----------------------------------------------------------------- */

static void write_and_reparse(const struct dfu_image *src, unsigned record_len, struct dfu_buf *out,
			      struct dfu_image **back)
{
	test_write_and_reparse(src, DFU_FORMAT_IHEX, record_len, out, back, &err);
}

static void assert_same_image(const struct dfu_image *a, const struct dfu_image *b)
{
	test_assert_same_segments(a, b);
	ck_assert_int_eq(a->start.kind, b->start.kind);
	ck_assert_uint_eq(a->start.linear, b->start.linear);
	ck_assert_uint_eq(a->start.cs, b->start.cs);
	ck_assert_uint_eq(a->start.ip, b->start.ip);
}

/* Fill @img with a pattern at @address. */
static void add_pattern(uint32_t address, size_t len)
{
	uint8_t *d = malloc(len);

	for (size_t i = 0; i < len; i++)
		d[i] = (uint8_t)(i * 7 + (address >> 8));
	ck_assert_int_eq(dfu_image_add(img, DFU_ALT_NONE, address, d, len, NULL, NULL, NULL), 0);
	free(d);
}

START_TEST(test_ihex_write_emits_upper_case_lf_records_and_eof)
{
	static const char want[] = ":10010000000102030405060708090A0B0C0D0E0F77\n"
				   ":0400000508000181"
				   "6D\n"
				   ":00000001FF\n";
	struct dfu_buf out = { 0 };

	ck_assert_int_eq(dfu_image_add(img, DFU_ALT_NONE, 0x100, seq, 16, NULL, NULL, NULL), 0);
	img->start = (struct dfu_start){ .kind = DFU_START_IHEX_LINEAR, .linear = 0x08000181 };

	ck_assert_int_eq(dfu_ihex_write(img, NULL, &out, &err), 0);

	ck_assert_uint_eq(out.len, strlen(want));
	ck_assert_mem_eq(out.data, want, out.len);
	dfu_buf_release(&out);
}
END_TEST

START_TEST(test_ihex_write_splits_records_at_64k_boundaries)
{
	static const char want[] = ":020000040800F2\n"
				   ":08FFF8000001020304050607E5\n"
				   ":020000040801F1\n"
				   ":0400000008090A0BD6\n"
				   ":00000001FF\n";
	struct dfu_buf out = { 0 };

	ck_assert_int_eq(dfu_image_add(img, DFU_ALT_NONE, 0x0800fff8, seq, 12, NULL, NULL, NULL),
			 0);

	ck_assert_int_eq(dfu_ihex_write(img, NULL, &out, &err), 0);

	ck_assert_uint_eq(out.len, strlen(want));
	ck_assert_mem_eq(out.data, want, out.len);
	dfu_buf_release(&out);
}
END_TEST

START_TEST(test_ihex_write_honours_the_record_length)
{
	struct dfu_write_opts opts = { .format = DFU_FORMAT_IHEX, .record_len = 32 };
	struct dfu_buf out = { 0 };

	ck_assert_int_eq(dfu_image_add(img, DFU_ALT_NONE, 0x100, seq, 32, NULL, NULL, NULL), 0);

	ck_assert_int_eq(dfu_ihex_write(img, &opts, &out, &err), 0);

	/* one data record: ':' + 2*(5+32) digits + LF, then EOF */
	ck_assert_uint_eq(out.len, 1 + 2 * 37 + 1 + strlen(EOF_REC));
	ck_assert_mem_eq(out.data, ":20010000", 9);
	dfu_buf_release(&out);
}
END_TEST

START_TEST(test_ihex_write_rejects_a_record_length_over_255)
{
	struct dfu_write_opts opts = { .format = DFU_FORMAT_IHEX, .record_len = 256 };
	struct dfu_buf out = { 0 };

	ck_assert_int_eq(dfu_ihex_write(img, &opts, &out, &err), DFU_E_INVAL);
	ck_assert_str_eq(err.code, "ihex.record_len");
	ck_assert_uint_eq(out.len, 0);
}
END_TEST

START_TEST(test_ihex_write_round_trips_segments_across_64k_and_a_linear_start)
{
	_cleanup_(dfu_image_freep) struct dfu_image *back = NULL;
	struct dfu_buf out = { 0 };

	add_pattern(0x0800ffe8, 0x20000 + 5);
	add_pattern(0x20000000, 3);
	add_pattern(0xffffff00, 256);
	img->start = (struct dfu_start){ .kind = DFU_START_IHEX_LINEAR, .linear = 0x08000181 };

	write_and_reparse(img, 0, &out, &back);

	assert_same_image(img, back);
	dfu_buf_release(&out);
}
END_TEST

START_TEST(test_ihex_write_round_trips_several_segments_and_a_cs_ip_start)
{
	_cleanup_(dfu_image_freep) struct dfu_image *back = NULL;
	struct dfu_buf out = { 0 };

	add_pattern(0x0, 100);
	add_pattern(0x1000, 1);
	add_pattern(0x1f000, 2198);
	img->start = (struct dfu_start){
		.kind = DFU_START_IHEX_CS_IP, .cs = 0x1000, .ip = 0xf000, .linear = 0x1f000
	};

	write_and_reparse(img, 255, &out, &back);

	assert_same_image(img, back);
	dfu_buf_release(&out);
}
END_TEST

START_TEST(test_ihex_write_of_an_empty_image_is_just_eof)
{
	struct dfu_buf out = { 0 };

	ck_assert_int_eq(dfu_ihex_write(img, NULL, &out, &err), 0);

	ck_assert_uint_eq(out.len, strlen(EOF_REC));
	ck_assert_mem_eq(out.data, EOF_REC, out.len);
	dfu_buf_release(&out);
}
END_TEST

/* --- corpus ----------------------------------------------------------------- */

static const struct text_corpus_case corpus[] = {
	{ .name = "ATmegaBOOT_168_atmega1280.hex",
	  .n_segments = 1,
	  .seg = { { 0x1f000, 2198, 0x34bc23e2 } },
	  .start = DFU_START_IHEX_CS_IP,
	  .linear = 0x1f000 },
	{ .name = "ihex_record_crosses_64k.hex",
	  .n_segments = 1,
	  .seg = { { 0x0800ffe8, 64, 0x758d6336 } },
	  .n_warnings = 1 },
	{ .name = "ihex_segment_wrap.hex",
	  .n_segments = 2,
	  .seg = { { 0x10000, 8, 0x6522df69 }, { 0x1fff8, 8, 0x6522df69 } },
	  .n_warnings = 1 },
	{ .name = "f4_app_with_config.hex",
	  .n_segments = 2,
	  .seg = { { 0x08000000, 1172, 0xb0108431 }, { 0x080e0000, 20, 0xbb4b4be5 } },
	  .start = DFU_START_IHEX_LINEAR,
	  .linear = 0x08000081 },
	/* srec_cat's CS = addr >> 16 encoding: by the Intel spec CS*16+IP */
	{ .name = "microbit_flash_i16hex.hex",
	  .n_segments = 1,
	  .seg = { { 0, 243852, 0x694be78b } },
	  .start = DFU_START_IHEX_CS_IP,
	  .linear = 0xcce9 },
	{ .name = "bincopy_in_blank_lines.hex",
	  .n_segments = 1,
	  .seg = { { 0x100, 64, 0x506e38f1 } },
	  .n_warnings = 4 },
	{ .name = "qmk_bootloader_atmega32u4_1_0_0.hex",
	  .n_segments = 5,
	  .seg = { { 0x7000, 4, 0xdec48b25 },
		   { 0x7028, 4, 0x626404e6 },
		   { 0x702f, 98, 0x1b71e39c } },
	  .start = DFU_START_IHEX_CS_IP,
	  .linear = 0x7000 },
	{ .name = "bad_ihex_checksum.hex",
	  .err = DFU_E_FORMAT,
	  .code = "ihex.checksum",
	  .where = "line 3" },
	{ .name = "bad_ihex_length_mismatch.hex",
	  .err = DFU_E_FORMAT,
	  .code = "ihex.length_mismatch",
	  .where = "line 3" },
	{ .name = "bad_ihex_missing_eof.hex",
	  .err = DFU_E_FORMAT,
	  .code = "ihex.missing_eof",
	  .where = "end of file" },
	{ .name = "bad_ihex_no_colon.hex",
	  .err = DFU_E_FORMAT,
	  .code = "ihex.bad_start",
	  .where = "line 4" },
	{ .name = "bad_ihex_odd_length.hex",
	  .err = DFU_E_FORMAT,
	  .code = "ihex.odd_length",
	  .where = "line 4" },
	{ .name = "bad_ihex_overlap.hex",
	  .err = DFU_E_CONFLICT,
	  .code = "ihex.overlap",
	  .where = "line 6" },
	{ .name = "bad_ihex_record_type.hex",
	  .err = DFU_E_FORMAT,
	  .code = "ihex.bad_record_type",
	  .where = "line 5" },
	{ .name = "fwupd_ihex_signed.hex",
	  .err = DFU_E_FORMAT,
	  .code = "ihex.bad_record_type",
	  .where = "line 7" },
};

START_TEST(test_ihex_parses_corpus_files_as_expected)
{
	test_text_corpus_case(&corpus[_i], DFU_FORMAT_IHEX);
}
END_TEST

START_TEST(test_ihex_names_both_lines_of_the_corpus_overlap)
{
	uint8_t *buf;
	size_t len = 0;

	buf = test_corpus_load("bad_ihex_overlap.hex", &len);
	ck_assert_ptr_nonnull(buf);

	ck_assert_int_eq(feed_len(buf, len, NULL), DFU_E_CONFLICT);
	free(buf);

	ck_assert_str_eq(err.message, "data at 0x08000014..0x0800001b given twice with "
				      "different values (line 3, line 6)");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("ihex");
	TCase *tc;

	tc = tcase_create("records");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_ihex_parses_consecutive_records_into_one_segment);
	tcase_add_test(tc, test_ihex_accepts_lower_case_digits_and_notes_the_case);
	tcase_add_test(tc, test_ihex_parses_crlf_text_like_lf);
	tcase_add_test(tc, test_ihex_ignores_blank_lines_with_a_warning);
	tcase_add_test(tc, test_ihex_tolerates_trailing_spaces_and_tabs);
	tcase_add_test(tc, test_ihex_ignores_text_after_eof_with_one_warning);
	tcase_add_test(tc, test_ihex_accepts_a_zero_length_data_record);
	tcase_add_test(tc, test_ihex_reads_a_cs_ip_start_address);
	tcase_add_test(tc, test_ihex_reads_a_linear_start_address);
	suite_add_tcase(s, tc);

	tc = tcase_create("addressing");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_ihex_places_data_after_an_extended_linear_address);
	tcase_add_test(tc, test_ihex_places_data_after_an_extended_segment_address);
	tcase_add_test(tc, test_ihex_places_a_record_crossing_64k_linearly_with_a_warning);
	tcase_add_test(tc, test_ihex_wraps_a_segmented_record_inside_its_segment);
	tcase_add_test(tc, test_ihex_accepts_a_record_ending_at_the_top_of_the_address_space);
	tcase_add_test(tc, test_ihex_rejects_a_record_running_past_4_gib);
	tcase_add_test(tc, test_ihex_accepts_an_identical_overlap);
	tcase_add_test(tc, test_ihex_rejects_a_conflicting_overlap_naming_both_lines);
	tcase_add_test(tc, test_ihex_reports_a_limit_error_at_its_line);
	suite_add_tcase(s, tc);

	tc = tcase_create("malformed");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_ihex_rejects_a_line_without_colon);
	tcase_add_test(tc, test_ihex_rejects_an_odd_number_of_digits);
	tcase_add_test(tc, test_ihex_rejects_a_non_hex_character);
	tcase_add_test(tc, test_ihex_rejects_a_byte_count_mismatch);
	tcase_add_test(tc, test_ihex_rejects_a_bad_checksum);
	tcase_add_test(tc, test_ihex_rejects_an_unknown_record_type);
	tcase_add_test(tc, test_ihex_rejects_a_missing_eof_record);
	tcase_add_loop_test(tc, test_ihex_rejects_records_that_contradict_their_type, 0,
			    (int)(sizeof(bad_records) / sizeof(bad_records[0])));
	suite_add_tcase(s, tc);

	tc = tcase_create("writer");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_ihex_write_emits_upper_case_lf_records_and_eof);
	tcase_add_test(tc, test_ihex_write_splits_records_at_64k_boundaries);
	tcase_add_test(tc, test_ihex_write_honours_the_record_length);
	tcase_add_test(tc, test_ihex_write_rejects_a_record_length_over_255);
	tcase_add_test(tc, test_ihex_write_round_trips_segments_across_64k_and_a_linear_start);
	tcase_add_test(tc, test_ihex_write_round_trips_several_segments_and_a_cs_ip_start);
	tcase_add_test(tc, test_ihex_write_of_an_empty_image_is_just_eof);
	suite_add_tcase(s, tc);

	/* the cases that read the shared corpus: left out without it */
	tc = test_corpus_tcase(s, setup, teardown, 30);
	if (tc) {
		tcase_add_loop_test(tc, test_ihex_parses_corpus_files_as_expected, 0,
				    (int)(sizeof(corpus) / sizeof(corpus[0])));
		tcase_add_test(tc, test_ihex_names_both_lines_of_the_corpus_overlap);
	}

	return test_run_suite(s);
}
