// SPDX-License-Identifier: GPL-2.0-or-later
/* Unit tests for the DFU suffix (src/lib/image/suffix.c, DFU 1.1 appendix B). */
#include "config.h"

#include "image.h"
#include "testutil.h"
#include "util.h"

static const uint8_t payload[] = "firmware bytes";
#define PAYLOAD_LEN (sizeof(payload) - 1)

/* DFU 1.1 B.1: CRC-32 without the final XOR over all bytes before dwCRC. */
static uint32_t dfu_file_crc(const uint8_t *buf, size_t len)
{
	return ~dfu_crc32(0, buf, len);
}

/* Rewrite the CRC of a suffixed file after a test changed its bytes. */
static void fix_crc(uint8_t *buf, size_t len)
{
	le32_put(buf + len - 4, dfu_file_crc(buf, len - 4));
}

/* payload + suffix built by the library; returns the file length. */
static size_t make_file(uint8_t *out)
{
	memcpy(out, payload, PAYLOAD_LEN);
	dfu_suffix_build(payload, PAYLOAD_LEN, 0x2200, 0xdf11, 0x0483, 0x011a, out + PAYLOAD_LEN);
	return PAYLOAD_LEN + DFU_SUFFIX_LEN;
}

START_TEST(test_crc_is_crc32_without_final_xor)
{
	static const uint8_t check[] = "123456789";

	/* CRC-32/ISO-HDLC check value 0xcbf43926, bit-inverted. */
	ck_assert_uint_eq(dfu_file_crc(check, 9), 0x340bc6d9);
}
END_TEST

START_TEST(test_parse_accepts_a_valid_suffix)
{
	uint8_t file[64];
	size_t len = make_file(file);
	struct dfu_suffix s;
	struct dfu_error e = { 0 };

	ck_assert_int_eq(dfu_suffix_parse(file, len, &s, &e), 1);
	ck_assert(s.present);
	ck_assert_uint_eq(s.bcd_device, 0x2200);
	ck_assert_uint_eq(s.id_product, 0xdf11);
	ck_assert_uint_eq(s.id_vendor, 0x0483);
	ck_assert_uint_eq(s.bcd_dfu, 0x011a);
	ck_assert_uint_eq(s.length, 16);
	ck_assert_uint_eq(s.crc, dfu_file_crc(file, len - 4));
	ck_assert_int_eq(e.err, 0);
}
END_TEST

START_TEST(test_build_writes_the_appendix_b_layout)
{
	uint8_t sfx[DFU_SUFFIX_LEN];

	dfu_suffix_build(payload, PAYLOAD_LEN, 0x1234, 0x5678, 0x9abc, 0x0100, sfx);
	ck_assert_uint_eq(le16_get(sfx + 0), 0x1234); /* bcdDevice */
	ck_assert_uint_eq(le16_get(sfx + 2), 0x5678); /* idProduct */
	ck_assert_uint_eq(le16_get(sfx + 4), 0x9abc); /* idVendor */
	ck_assert_uint_eq(le16_get(sfx + 6), 0x0100); /* bcdDFU */
	ck_assert_mem_eq(sfx + 8, "UFD", 3);
	ck_assert_uint_eq(sfx[11], 16); /* bLength */
}
END_TEST

START_TEST(test_build_then_parse_round_trips)
{
	uint8_t file[64];
	struct dfu_suffix s;

	memcpy(file, payload, PAYLOAD_LEN);
	dfu_suffix_build(payload, PAYLOAD_LEN, 0xffff, 0xffff, 0xffff, 0x0100, file + PAYLOAD_LEN);
	ck_assert_int_eq(dfu_suffix_parse(file, PAYLOAD_LEN + DFU_SUFFIX_LEN, &s, NULL), 1);
	ck_assert_uint_eq(s.bcd_device, 0xffff);
	ck_assert_uint_eq(s.id_product, 0xffff);
	ck_assert_uint_eq(s.id_vendor, 0xffff);
	ck_assert_uint_eq(s.bcd_dfu, 0x0100);
}
END_TEST

START_TEST(test_parse_accepts_blength_above_16_as_in_fwupd_metadata)
{
	/* payload, 13 bytes of vendor metadata, then the 16 standard bytes:
	 * bLength 29 covers both, the payload is the file minus bLength. */
	uint8_t file[64] = { 0 };
	size_t len = make_file(file);
	struct dfu_suffix s;

	memmove(file + PAYLOAD_LEN + 13, file + PAYLOAD_LEN, DFU_SUFFIX_LEN);
	memset(file + PAYLOAD_LEN, 'M', 13);
	len += 13;
	file[len - 5] = 29;
	fix_crc(file, len);
	ck_assert_int_eq(dfu_suffix_parse(file, len, &s, NULL), 1);
	ck_assert_uint_eq(s.length, 29);
	ck_assert_uint_eq(len - s.length, PAYLOAD_LEN);
}
END_TEST

START_TEST(test_parse_rejects_blength_below_16)
{
	uint8_t file[64];
	size_t len = make_file(file);
	struct dfu_suffix s;
	struct dfu_error e = { 0 };

	file[len - 5] = 8;
	fix_crc(file, len);
	ck_assert_int_eq(dfu_suffix_parse(file, len, &s, &e), DFU_E_FORMAT);
	ck_assert_str_eq(e.code, "dfu.bad_suffix_length");
	ck_assert_str_eq(e.message, "bLength 8 is invalid (must be >= 16 and <= file size)");
	ck_assert_str_eq(e.where, "offset 25 (0x19)");
	ck_assert(!s.present);
}
END_TEST

START_TEST(test_parse_rejects_blength_beyond_the_file)
{
	uint8_t file[64];
	size_t len = make_file(file);
	struct dfu_error e = { 0 };
	struct dfu_suffix s;

	file[len - 5] = (uint8_t)(len + 1);
	fix_crc(file, len);
	ck_assert_int_eq(dfu_suffix_parse(file, len, &s, &e), DFU_E_FORMAT);
	ck_assert_str_eq(e.code, "dfu.bad_suffix_length");
}
END_TEST

START_TEST(test_parse_rejects_a_crc_mismatch_and_quotes_both_values)
{
	uint8_t file[64];
	size_t len = make_file(file);
	struct dfu_error e = { 0 };
	struct dfu_suffix s;
	char want[256];

	file[0] ^= 0x01;
	ck_assert_int_eq(dfu_suffix_parse(file, len, &s, &e), DFU_E_FORMAT);
	ck_assert_str_eq(e.code, "dfu.crc_mismatch");
	snprintf(want, sizeof(want), "suffix dwCRC is 0x%08x but the file gives 0x%08x",
		 le32_get(file + len - 4), dfu_file_crc(file, len - 4));
	ck_assert_str_eq(e.message, want);
}
END_TEST

START_TEST(test_parse_returns_0_without_a_signature_and_leaves_e_alone)
{
	struct dfu_error e = { 0 };
	struct dfu_suffix s;

	memset(&s, 0x55, sizeof(s));
	ck_assert_int_eq(dfu_suffix_parse(payload, PAYLOAD_LEN, &s, &e), 0);
	ck_assert(!s.present);
	ck_assert_uint_eq(s.crc, 0);
	ck_assert_int_eq(e.err, 0);
	ck_assert_str_eq(e.code, "");
}
END_TEST

START_TEST(test_parse_returns_0_for_files_shorter_than_a_signature)
{
	struct dfu_suffix s;

	ck_assert_int_eq(dfu_suffix_parse((const uint8_t *)"", 0, &s, NULL), 0);
	ck_assert_int_eq(dfu_suffix_parse((const uint8_t *)"UF", 2, &s, NULL), 0);
}
END_TEST

START_TEST(test_parse_reports_a_signature_shifted_toward_the_end_as_truncated)
{
	/* The last 3 bytes of a 16-byte suffix cut off: "UFD" now at len-5. */
	uint8_t file[64];
	size_t len = make_file(file) - 3;
	struct dfu_error e = { 0 };
	struct dfu_suffix s;

	ck_assert_int_eq(dfu_suffix_parse(file, len, &s, &e), DFU_E_FORMAT);
	ck_assert_str_eq(e.code, "dfu.truncated_suffix");
}
END_TEST

START_TEST(test_parse_reports_a_short_file_with_a_signature_as_truncated)
{
	static const uint8_t file[] = { 0x1a, 0x01, 'U', 'F', 'D', 16, 0, 0, 0, 0 };
	struct dfu_error e = { 0 };
	struct dfu_suffix s;

	ck_assert_int_eq(dfu_suffix_parse(file, sizeof(file), &s, &e), DFU_E_FORMAT);
	ck_assert_str_eq(e.code, "dfu.truncated_suffix");
}
END_TEST

START_TEST(test_parse_accepts_an_empty_payload)
{
	uint8_t file[DFU_SUFFIX_LEN];
	struct dfu_suffix s;

	dfu_suffix_build(NULL, 0, 1, 2, 3, 0x0100, file);
	ck_assert_int_eq(dfu_suffix_parse(file, sizeof(file), &s, NULL), 1);
	ck_assert_uint_eq(s.id_vendor, 3);
}
END_TEST

/* --- corpus -------------------------------------------------------------- */

START_TEST(test_corpus_dfuse_file_crc_and_ids)
{
	struct dfu_suffix s;
	uint8_t *buf;
	size_t len;
	uint8_t sfx[DFU_SUFFIX_LEN];

	buf = test_corpus_load("f4_app_0x08004000_dfuse.dfu", &len);
	ck_assert_ptr_nonnull(buf);
	ck_assert_int_eq(dfu_suffix_parse(buf, len, &s, NULL), 1);
	ck_assert_uint_eq(s.crc, 0x423bb92f);
	ck_assert_uint_eq(s.id_vendor, 0x0483);
	ck_assert_uint_eq(s.id_product, 0xdf11);
	ck_assert_uint_eq(s.bcd_device, 0x2200);
	ck_assert_uint_eq(s.bcd_dfu, 0x011a);
	ck_assert_uint_eq(s.length, 16);
	/* Rebuilding the suffix over the payload gives the same 16 bytes. */
	dfu_suffix_build(buf, len - 16, s.bcd_device, s.id_product, s.id_vendor, s.bcd_dfu, sfx);
	ck_assert_mem_eq(sfx, buf + len - 16, DFU_SUFFIX_LEN);
	free(buf);
}
END_TEST

START_TEST(test_corpus_fwupd_metadata_suffix_is_29_bytes)
{
	struct dfu_suffix s;
	uint8_t *buf;
	size_t len;

	buf = test_corpus_load("fwupd_metadata.dfu", &len);
	ck_assert_ptr_nonnull(buf);
	ck_assert_int_eq(dfu_suffix_parse(buf, len, &s, NULL), 1);
	ck_assert_uint_eq(s.length, 29);
	ck_assert_uint_eq(s.crc, 0x12dec458);
	ck_assert_uint_eq(len - s.length, 6);
	free(buf);
}
END_TEST

START_TEST(test_corpus_fwupd_metadata_multiple_suffix_is_71_bytes)
{
	struct dfu_suffix s;
	uint8_t *buf;
	size_t len;

	buf = test_corpus_load("fwupd_metadata-multiple.dfu", &len);
	ck_assert_ptr_nonnull(buf);
	ck_assert_int_eq(dfu_suffix_parse(buf, len, &s, NULL), 1);
	ck_assert_uint_eq(s.length, 71);
	ck_assert_uint_eq(s.crc, 0x40d82b5a);
	ck_assert_uint_eq(len - s.length, 6);
	free(buf);
}
END_TEST

START_TEST(test_corpus_bad_suffix_length_is_refused)
{
	struct dfu_error e = { 0 };
	struct dfu_suffix s;
	uint8_t *buf;
	size_t len;

	buf = test_corpus_load("bad_dfu_suffix_length.dfu", &len);
	ck_assert_ptr_nonnull(buf);
	ck_assert_int_eq(dfu_suffix_parse(buf, len, &s, &e), DFU_E_FORMAT);
	ck_assert_str_eq(e.code, "dfu.bad_suffix_length");
	ck_assert_str_eq(e.message, "bLength 8 is invalid (must be >= 16 and <= file size)");
	free(buf);
}
END_TEST

START_TEST(test_corpus_suffix_cut_inside_the_signature_is_no_suffix)
{
	/* 6 bytes cut: only "UF" is left at the end, no full signature; the
	 * reader turns this into dfu.no_suffix for a .dfu file. */
	struct dfu_error e = { 0 };
	struct dfu_suffix s;
	uint8_t *buf;
	size_t len;

	buf = test_corpus_load("bad_dfu_truncated_suffix.dfu", &len);
	ck_assert_ptr_nonnull(buf);
	ck_assert_int_eq(dfu_suffix_parse(buf, len, &s, &e), 0);
	ck_assert_int_eq(e.err, 0);
	free(buf);
}
END_TEST

static Suite *suffix_suite(void)
{
	Suite *s = suite_create("suffix");
	TCase *tc;

	tc = tcase_create("parse");
	tcase_add_test(tc, test_crc_is_crc32_without_final_xor);
	tcase_add_test(tc, test_parse_accepts_a_valid_suffix);
	tcase_add_test(tc, test_parse_accepts_blength_above_16_as_in_fwupd_metadata);
	tcase_add_test(tc, test_parse_accepts_an_empty_payload);
	tcase_add_test(tc, test_parse_returns_0_without_a_signature_and_leaves_e_alone);
	tcase_add_test(tc, test_parse_returns_0_for_files_shorter_than_a_signature);
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_add_test(tc, test_parse_rejects_blength_below_16);
	tcase_add_test(tc, test_parse_rejects_blength_beyond_the_file);
	tcase_add_test(tc, test_parse_rejects_a_crc_mismatch_and_quotes_both_values);
	tcase_add_test(tc, test_parse_reports_a_signature_shifted_toward_the_end_as_truncated);
	tcase_add_test(tc, test_parse_reports_a_short_file_with_a_signature_as_truncated);
	suite_add_tcase(s, tc);

	tc = tcase_create("build");
	tcase_add_test(tc, test_build_writes_the_appendix_b_layout);
	tcase_add_test(tc, test_build_then_parse_round_trips);
	suite_add_tcase(s, tc);

	/* the cases that read the shared corpus: left out without it */
	tc = test_corpus_tcase(s, NULL, NULL, 30);
	if (tc) {
		tcase_add_test(tc, test_corpus_dfuse_file_crc_and_ids);
		tcase_add_test(tc, test_corpus_fwupd_metadata_suffix_is_29_bytes);
		tcase_add_test(tc, test_corpus_fwupd_metadata_multiple_suffix_is_71_bytes);
		tcase_add_test(tc, test_corpus_bad_suffix_length_is_refused);
		tcase_add_test(tc, test_corpus_suffix_cut_inside_the_signature_is_no_suffix);
	}
	return s;
}

int main(void)
{
	return test_run_suite(suffix_suite());
}
