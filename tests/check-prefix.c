// SPDX-License-Identifier: GPL-2.0-or-later
/* Unit tests for the NXP LPC DFU prefix (src/lib/image/prefix.c). */
#include "config.h"

#include "image.h"
#include "macro.h"
#include "testutil.h"
#include "util.h"

/* What dfu-util 0.11's `dfu-prefix -a FILE -L` writes in front of 5000 bytes. */
static const uint8_t lpc_5000[DFU_LPC_PREFIX_LEN] = {
	0x1a, 0x3f, 0x0a, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff,
};

START_TEST(test_build_writes_what_dfu_prefix_writes)
{
	uint8_t p[DFU_LPC_PREFIX_LEN];

	ck_assert_int_eq(dfu_lpc_prefix_build(5000, p, NULL), 0);
	ck_assert_mem_eq(p, lpc_5000, sizeof(p));
}
END_TEST

/* The size counts 512-byte blocks, rounded up (dfu-prefix: 1 -> 1, 1024 -> 2,
 * 1025 -> 3, 300000 -> 586). */
static const struct {
	size_t len;
	uint16_t blocks;
} block_cases[] = {
	{ 1, 1 }, { 512, 1 }, { 1024, 2 }, { 1025, 3 }, { 300000, 586 }, { 65535u * 512, 65535 },
};

START_TEST(test_build_counts_512_byte_blocks_rounded_up)
{
	uint8_t p[DFU_LPC_PREFIX_LEN];
	struct dfu_lpc_prefix got;

	ck_assert_int_eq(dfu_lpc_prefix_build(block_cases[_i].len, p, NULL), 0);
	ck_assert_uint_eq(le16_get(p + 2), block_cases[_i].blocks);
	ck_assert_int_eq(dfu_lpc_prefix_parse(p, sizeof(p), &got, NULL), 0);
	ck_assert_uint_eq(got.blocks, block_cases[_i].blocks);
}
END_TEST

START_TEST(test_build_refuses_more_than_65535_blocks)
{
	uint8_t p[DFU_LPC_PREFIX_LEN];
	struct dfu_error e = { 0 };

	ck_assert_int_eq(dfu_lpc_prefix_build(65535u * 512 + 1, p, &e), DFU_E_RANGE);
	ck_assert_str_eq(e.code, "lpc.too_large");
}
END_TEST

/* dfu-util looks at the low six bits of the first two bytes only. */
START_TEST(test_parse_ignores_the_top_two_bits_of_the_marker)
{
	uint8_t p[DFU_LPC_PREFIX_LEN];
	struct dfu_lpc_prefix got;

	memcpy(p, lpc_5000, sizeof(p));
	p[0] |= 0xc0;
	p[1] |= 0x40;
	ck_assert_int_eq(dfu_lpc_prefix_parse(p, sizeof(p), &got, NULL), 0);
	ck_assert_uint_eq(got.blocks, 10);
}
END_TEST

START_TEST(test_parse_refuses_a_file_without_the_marker)
{
	uint8_t p[DFU_LPC_PREFIX_LEN];
	struct dfu_lpc_prefix got;
	struct dfu_error e = { 0 };

	memcpy(p, lpc_5000, sizeof(p));
	p[1] = 0x3e;
	ck_assert_int_eq(dfu_lpc_prefix_parse(p, sizeof(p), &got, &e), DFU_E_FORMAT);
	ck_assert_str_eq(e.code, "lpc.no_prefix");
	ck_assert_ptr_nonnull(strstr(e.message, "1a 3e"));
}
END_TEST

START_TEST(test_parse_refuses_a_file_shorter_than_the_prefix)
{
	struct dfu_lpc_prefix got;
	struct dfu_error e = { 0 };

	ck_assert_int_eq(dfu_lpc_prefix_parse(lpc_5000, 15, &got, &e), DFU_E_FORMAT);
	ck_assert_str_eq(e.code, "lpc.no_prefix");
}
END_TEST

static Suite *prefix_suite(void)
{
	Suite *s = suite_create("prefix");
	TCase *tc = tcase_create("build");

	tcase_add_test(tc, test_build_writes_what_dfu_prefix_writes);
	tcase_add_loop_test(tc, test_build_counts_512_byte_blocks_rounded_up, 0,
			    (int)ARRAY_SIZE(block_cases));
	tcase_add_test(tc, test_build_refuses_more_than_65535_blocks);
	suite_add_tcase(s, tc);

	tc = tcase_create("parse");
	tcase_add_test(tc, test_parse_ignores_the_top_two_bits_of_the_marker);
	tcase_add_test(tc, test_parse_refuses_a_file_without_the_marker);
	tcase_add_test(tc, test_parse_refuses_a_file_shorter_than_the_prefix);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_run_suite(prefix_suite());
}
