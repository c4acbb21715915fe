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

START_TEST(test_utf8_len_accepts_well_formed_sequences)
{
	ck_assert_uint_eq(util_utf8_len((const uint8_t *)"a", 1), 1);
	ck_assert_uint_eq(util_utf8_len((const uint8_t *)"\xc3\xa9", 2), 2);	     /* é */
	ck_assert_uint_eq(util_utf8_len((const uint8_t *)"\xe2\x82\xac", 3), 3);     /* € */
	ck_assert_uint_eq(util_utf8_len((const uint8_t *)"\xf0\x9f\x94\xa5", 4), 4); /* U+1F525 */
	ck_assert_uint_eq(util_utf8_len((const uint8_t *)"\xf4\x8f\xbf\xbf", 4), 4); /* U+10FFFF */
}
END_TEST

START_TEST(test_utf8_len_refuses_ill_formed_sequences)
{
	static const char *const bad[] = {
		"\x80",		    /* a continuation byte alone */
		"\xff",		    /* never in UTF-8 */
		"\xc0\xaf",	    /* overlong '/' */
		"\xe0\x80\xaf",	    /* overlong '/' */
		"\xed\xa0\x80",	    /* surrogate U+D800 */
		"\xf4\x90\x80\x80", /* U+110000 */
		"\xc3",		    /* truncated */
		"\xe2\x82",	    /* truncated */
		"\xe2\x28\xa1",	    /* bad continuation */
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(util_utf8_len((const uint8_t *)bad[i], strlen(bad[i])) == 0,
			      "case %zu accepted", i);
	ck_assert_uint_eq(util_utf8_len((const uint8_t *)"\xc3\xa9", 1), 0);
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
	tcase_add_test(tc, test_utf8_len_accepts_well_formed_sequences);
	tcase_add_test(tc, test_utf8_len_refuses_ill_formed_sequences);
	suite_add_tcase(s, tc);
	return test_run_suite(s);
}
