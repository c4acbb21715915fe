// SPDX-License-Identifier: GPL-2.0-or-later
/* Unit tests for src/util: strict integer parsing and byte order. */
#include "config.h"

#include <errno.h>

#include "testutil.h"
#include "util.h"

START_TEST(test_parse_accepts_decimal_and_hex)
{
	uint32_t v = 0;

	ck_assert_int_eq(util_parse_u32("1234", &v), 0);
	ck_assert_uint_eq(v, 1234);
	ck_assert_int_eq(util_parse_u32("0x08000000", &v), 0);
	ck_assert_uint_eq(v, 0x08000000);
	ck_assert_int_eq(util_parse_u32("0XFFFFFFFF", &v), 0);
	ck_assert_uint_eq(v, 0xffffffffu);
}
END_TEST

START_TEST(test_parse_leading_zero_is_decimal_not_octal)
{
	uint32_t v = 0;

	ck_assert_int_eq(util_parse_u32("010", &v), 0);
	ck_assert_uint_eq(v, 10);
	ck_assert_int_eq(util_parse_u32("09", &v), 0);
	ck_assert_uint_eq(v, 9);
}
END_TEST

START_TEST(test_parse_rejects_garbage)
{
	static const char *const bad[] = { "", "0x", "-1", "+1", " 1", "1 ", "12a", "0x1g", "1e3" };
	uint32_t v = 77;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(util_parse_u32(bad[i], &v) == -EINVAL, "accepted '%s'", bad[i]);
		ck_assert_uint_eq(v, 77);
	}
}
END_TEST

START_TEST(test_parse_rejects_overflow)
{
	uint32_t v;
	uint16_t w;
	uint64_t q;

	ck_assert_int_eq(util_parse_u32("4294967296", &v), -ERANGE);
	ck_assert_int_eq(util_parse_u32("0x100000000", &v), -ERANGE);
	ck_assert_int_eq(util_parse_u16("65536", &w), -ERANGE);
	ck_assert_int_eq(util_parse_u64("18446744073709551616", UINT64_MAX, &q), -ERANGE);
	ck_assert_int_eq(util_parse_u64("18446744073709551615", UINT64_MAX, &q), 0);
	ck_assert(q == UINT64_MAX);
}
END_TEST

START_TEST(test_byte_order_round_trips)
{
	uint8_t b[8];

	le32_put(b, 0x11223344);
	ck_assert_uint_eq(b[0], 0x44);
	ck_assert_uint_eq(le32_get(b), 0x11223344);
	be32_put(b, 0x11223344);
	ck_assert_uint_eq(b[0], 0x11);
	ck_assert_uint_eq(be32_get(b), 0x11223344);
	le16_put(b, 0xabcd);
	ck_assert_uint_eq(le16_get(b), 0xabcd);
	ck_assert_uint_eq(be16_get(b), 0xcdab);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("util");
	TCase *tc = tcase_create("parse");

	tcase_add_test(tc, test_parse_accepts_decimal_and_hex);
	tcase_add_test(tc, test_parse_leading_zero_is_decimal_not_octal);
	tcase_add_test(tc, test_parse_rejects_garbage);
	tcase_add_test(tc, test_parse_rejects_overflow);
	tcase_add_test(tc, test_byte_order_round_trips);
	suite_add_tcase(s, tc);
	return test_run_suite(s);
}
