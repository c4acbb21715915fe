// SPDX-License-Identifier: GPL-2.0-or-later
/* Unit tests for the DfuSe memory-layout parser (src/lib/image/dfuse-layout.c). */
#include "config.h"

#include "image.h"
#include "testutil.h"

#define K 1024u
#define NOT_FOUND DFU_E_NOTFOUND

static struct dfuse_layout *lay;
static struct dfuse_sector *secs;
static struct dfu_error err;

static void setup(void)
{
	lay = NULL;
	secs = NULL;
	dfu_error_clear(&err);
}

static void teardown(void)
{
	dfuse_layout_free(lay);
	lay = NULL;
	free(secs);
	secs = NULL;
}

static int parse(const char *s)
{
	return dfuse_layout_parse(s, strlen(s), &lay, &err);
}

/* ------------------------------------------------------------------------ */
/* Real strings: what devices report (public dfu-util -l, lsusb -v output)  */

struct want_seg {
	uint32_t start, count, size;
	char type;
};

struct real_layout {
	const char *str;
	const char *name;
	size_t n;
	struct want_seg seg[6];
};

static const struct real_layout real[] = {
	/* STM32F105/F107 */
	{ "@Internal Flash  /0x08000000/128*002Kg",
	  "Internal Flash",
	  1,
	  { { 0x08000000, 128, 2 * K, 'g' } } },
	{ "@Option Bytes  /0x1FFFF800/01*016 g",
	  "Option Bytes",
	  1,
	  { { 0x1FFFF800, 1, 16, 'g' } } },
	/* STM32F0 / F3 */
	{ "@Internal Flash  /0x08000000/064*0002Kg",
	  "Internal Flash",
	  1,
	  { { 0x08000000, 64, 2 * K, 'g' } } },
	{ "@Option Bytes  /0x1FFFF800/01*016 e",
	  "Option Bytes",
	  1,
	  { { 0x1FFFF800, 1, 16, 'e' } } },
	{ "@Internal Flash  /0x08000000/032*0001Kg",
	  "Internal Flash",
	  1,
	  { { 0x08000000, 32, 1 * K, 'g' } } },
	{ "@Internal Flash  /0x08000000/128*0002Kg",
	  "Internal Flash",
	  1,
	  { { 0x08000000, 128, 2 * K, 'g' } } },
	/* STM32F4, old ROM */
	{ "@Internal Flash  /0x08000000/04*016Kg,01*064Kg,07*128Kg",
	  "Internal Flash",
	  3,
	  { { 0x08000000, 4, 16 * K, 'g' },
	    { 0x08010000, 1, 64 * K, 'g' },
	    { 0x08020000, 7, 128 * K, 'g' } } },
	{ "@Option Bytes  /0x1FFFC000/01*016 g",
	  "Option Bytes",
	  1,
	  { { 0x1FFFC000, 1, 16, 'g' } } },
	{ "@OTP Memory /0x1FFF7800/01*512 g,01*016 g",
	  "OTP Memory",
	  2,
	  { { 0x1FFF7800, 1, 512, 'g' }, { 0x1FFF7A00, 1, 16, 'g' } } },
	{ "@Device Feature/0xFFFF0000/01*004 g",
	  "Device Feature",
	  1,
	  { { 0xFFFF0000, 1, 4, 'g' } } },
	/* STM32F4, newer ROM */
	{ "@Internal Flash  /0x08000000/04*016Kg,01*064Kg,03*128Kg",
	  "Internal Flash",
	  3,
	  { { 0x08000000, 4, 16 * K, 'g' },
	    { 0x08010000, 1, 64 * K, 'g' },
	    { 0x08020000, 3, 128 * K, 'g' } } },
	{ "@Option Bytes  /0x1FFFC000/01*016 e",
	  "Option Bytes",
	  1,
	  { { 0x1FFFC000, 1, 16, 'e' } } },
	{ "@OTP Memory /0x1FFF7800/01*512 e,01*016 e",
	  "OTP Memory",
	  2,
	  { { 0x1FFF7800, 1, 512, 'e' }, { 0x1FFF7A00, 1, 16, 'e' } } },
	{ "@Device Feature/0xFFFF0000/01*004 e",
	  "Device Feature",
	  1,
	  { { 0xFFFF0000, 1, 4, 'e' } } },
	{ "@Internal Flash  /0x08000000/04*016Kg,01*064Kg,07*128Kg,04*016Kg,01*064Kg,07*128Kg",
	  "Internal Flash",
	  6,
	  { { 0x08000000, 4, 16 * K, 'g' },
	    { 0x08010000, 1, 64 * K, 'g' },
	    { 0x08020000, 7, 128 * K, 'g' },
	    { 0x08100000, 4, 16 * K, 'g' },
	    { 0x08110000, 1, 64 * K, 'g' },
	    { 0x08120000, 7, 128 * K, 'g' } } },
	/* STM32F7 */
	{ "@Internal Flash   /0x08000000/04*016Kg,01*64Kg,03*128Kg",
	  "Internal Flash",
	  3,
	  { { 0x08000000, 4, 16 * K, 'g' },
	    { 0x08010000, 1, 64 * K, 'g' },
	    { 0x08020000, 3, 128 * K, 'g' } } },
	{ "@Internal Flash  /0x08000000/04*032Kg,01*128Kg,03*256Kg",
	  "Internal Flash",
	  3,
	  { { 0x08000000, 4, 32 * K, 'g' },
	    { 0x08020000, 1, 128 * K, 'g' },
	    { 0x08040000, 3, 256 * K, 'g' } } },
	{ "@Internal Flash  /0x08000000/04*032Kg,01*128Kg,07*256Kg",
	  "Internal Flash",
	  3,
	  { { 0x08000000, 4, 32 * K, 'g' },
	    { 0x08020000, 1, 128 * K, 'g' },
	    { 0x08040000, 7, 256 * K, 'g' } } },
	/* STM32H7 */
	{ "@Internal Flash   /0x08000000/16*128Kg",
	  "Internal Flash",
	  1,
	  { { 0x08000000, 16, 128 * K, 'g' } } },
	{ "@Option Bytes   /0x5200201C/01*128 e",
	  "Option Bytes",
	  1,
	  { { 0x5200201C, 1, 128, 'e' } } },
	{ "@Internal Flash   /0x08000000/01*128Kg",
	  "Internal Flash",
	  1,
	  { { 0x08000000, 1, 128 * K, 'g' } } },
	{ "@Internal Flash   /0x08000000/8*128Kg",
	  "Internal Flash",
	  1,
	  { { 0x08000000, 8, 128 * K, 'g' } } },
	{ "@Internal Flash   /0x08000000/256*08Kg",
	  "Internal Flash",
	  1,
	  { { 0x08000000, 256, 8 * K, 'g' } } },
	{ "@Option Bytes   /0x5200201C/01*297 e",
	  "Option Bytes",
	  1,
	  { { 0x5200201C, 1, 297, 'e' } } },
	{ "@OTP Memory   /0x08FFF000/01*1024 e",
	  "OTP Memory",
	  1,
	  { { 0x08FFF000, 1, 1024, 'e' } } },
	/* STM32L4 / L4+ */
	{ "@Internal Flash  /0x08000000/0256*0002Kg",
	  "Internal Flash",
	  1,
	  { { 0x08000000, 256, 2 * K, 'g' } } },
	{ "@Option Bytes  /0x1FFF7800/01*040 e",
	  "Option Bytes",
	  1,
	  { { 0x1FFF7800, 1, 40, 'e' } } },
	{ "@OTP Memory /0x1FFF7000/01*0001Ke", "OTP Memory", 1, { { 0x1FFF7000, 1, 1 * K, 'e' } } },
	{ "@Internal Flash  /0x08000000/64*02Kg",
	  "Internal Flash",
	  1,
	  { { 0x08000000, 64, 2 * K, 'g' } } },
	/* STM32G4: option bytes in two address groups */
	{ "@Internal Flash   /0x08000000/256*02Kg",
	  "Internal Flash",
	  1,
	  { { 0x08000000, 256, 2 * K, 'g' } } },
	{ "@Option Bytes   /0x1FFF7800/01*048 e/0x1FFFF800/01*048 e",
	  "Option Bytes",
	  2,
	  { { 0x1FFF7800, 1, 48, 'e' }, { 0x1FFFF800, 1, 48, 'e' } } },
	{ "@OTP Memory   /0x1FFF7000/01*1024 e",
	  "OTP Memory",
	  1,
	  { { 0x1FFF7000, 1, 1024, 'e' } } },
	/* STM32G0 (the same string on all three alts) */
	{ "@Internal Flash /0x08000000/256*02Kg",
	  "Internal Flash",
	  1,
	  { { 0x08000000, 256, 2 * K, 'g' } } },
	/* GigaDevice GD32VF103 (page size wrong on the device, right as parsed) */
	{ "@Internal Flash  /0x08000000/512*002Kg",
	  "Internal Flash",
	  1,
	  { { 0x08000000, 512, 2 * K, 'g' } } },
	/* Particle Photon / Electron: read-only bootloader sectors first */
	{ "@Internal Flash   /0x08000000/03*016Ka,01*016Kg,01*064Kg,07*128Kg",
	  "Internal Flash",
	  4,
	  { { 0x08000000, 3, 16 * K, 'a' },
	    { 0x0800C000, 1, 16 * K, 'g' },
	    { 0x08010000, 1, 64 * K, 'g' },
	    { 0x08020000, 7, 128 * K, 'g' } } },
	{ "@DCT Flash   /0x00000000/01*016Kg", "DCT Flash", 1, { { 0x00000000, 1, 16 * K, 'g' } } },
	/* Spark Core */
	{ "@Internal Flash  /0x08000000/20*001Ka,108*001Kg",
	  "Internal Flash",
	  2,
	  { { 0x08000000, 20, 1 * K, 'a' }, { 0x08005000, 108, 1 * K, 'g' } } },
	{ "@SPI Flash : SST25x/0x00000000/512*04Kg",
	  "SPI Flash : SST25x",
	  1,
	  { { 0x00000000, 512, 4 * K, 'g' } } },
	/* custom bootloaders */
	{ "@Internal Flash/0x08000000/01*128Ka,04*128Kg,11*128Ka",
	  "Internal Flash",
	  3,
	  { { 0x08000000, 1, 128 * K, 'a' },
	    { 0x08020000, 4, 128 * K, 'g' },
	    { 0x080A0000, 11, 128 * K, 'a' } } },
	{ "@Flash /0x90000000/64*4Kg/0x90040000/60*64Kg/0x90400000/60*64Kg",
	  "Flash",
	  3,
	  { { 0x90000000, 64, 4 * K, 'g' },
	    { 0x90040000, 60, 64 * K, 'g' },
	    { 0x90400000, 60, 64 * K, 'g' } } },
};

START_TEST(test_real_layout_strings_parse_to_expected_segments)
{
	const struct real_layout *t = &real[_i];

	ck_assert_int_eq(parse(t->str), 0);
	ck_assert_str_eq(lay->name, t->name);
	ck_assert_uint_eq(lay->n_segments, t->n);
	ck_assert_uint_eq(lay->n_warnings, 0);
	for (size_t i = 0; i < t->n; i++) {
		const struct dfuse_layout_segment *s = &lay->segments[i];

		ck_assert_uint_eq(s->start, t->seg[i].start);
		ck_assert_uint_eq(s->count, t->seg[i].count);
		ck_assert_uint_eq(s->size, t->seg[i].size);
		ck_assert_uint_eq(s->end, (uint64_t)t->seg[i].start +
					      (uint64_t)t->seg[i].count * t->seg[i].size);
		ck_assert_int_eq(s->type, t->seg[i].type);
		ck_assert_uint_eq(s->attr, (unsigned)(t->seg[i].type - 'a' + 1));
	}
}
END_TEST

START_TEST(test_ro_and_rw_types_map_to_attribute_bits)
{
	ck_assert_int_eq(parse("@OTP Memory /0x1FFF7800/01*512 e,01*016 e"), 0);
	ck_assert_uint_eq(lay->segments[0].attr, DFUSE_ATTR_READABLE | DFUSE_ATTR_WRITABLE);
	teardown();
	setup();
	ck_assert_int_eq(parse("@Internal Flash  /0x08000000/20*001Ka,108*001Kg"), 0);
	ck_assert_uint_eq(lay->segments[0].attr, DFUSE_ATTR_READABLE);
	ck_assert_uint_eq(lay->segments[1].attr,
			  DFUSE_ATTR_READABLE | DFUSE_ATTR_ERASABLE | DFUSE_ATTR_WRITABLE);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Syntax details                                                           */

START_TEST(test_every_type_letter_a_to_g_gives_its_bits)
{
	char s[] = "@X/0x0/1*1Ka";

	s[sizeof(s) - 2] = (char)('a' + _i);
	ck_assert_int_eq(parse(s), 0);
	ck_assert_uint_eq(lay->segments[0].attr, (unsigned)_i + 1);
	ck_assert_int_eq(lay->segments[0].type, 'a' + _i);
}
END_TEST

static const struct {
	const char *str;
	uint32_t size;
} mult_cases[] = {
	{ "@X/0x0/1*3Bg", 3 },
	{ "@X/0x0/1*3Kg", 3 * 1024 },
	{ "@X/0x0/1*3Mg", 3 * 1024 * 1024 },
	{ "@X/0x0/1*3 g", 3 },
};

START_TEST(test_multipliers_scale_the_sector_size)
{
	ck_assert_int_eq(parse(mult_cases[_i].str), 0);
	ck_assert_uint_eq(lay->segments[0].size, mult_cases[_i].size);
	ck_assert_uint_eq(lay->n_warnings, 0);
}
END_TEST

START_TEST(test_leading_zeros_are_decimal_not_octal)
{
	ck_assert_int_eq(parse("@X/0x0/010*0010Bg,0256*08Kg"), 0);
	ck_assert_uint_eq(lay->segments[0].count, 10);
	ck_assert_uint_eq(lay->segments[0].size, 10);
	ck_assert_uint_eq(lay->segments[1].count, 256);
	ck_assert_uint_eq(lay->segments[1].size, 8 * K);
	ck_assert_uint_eq(lay->segments[1].start, 100);
}
END_TEST

START_TEST(test_absent_multiplier_means_bytes_with_a_warning)
{
	ck_assert_int_eq(parse("@OTP Memory /0x1FFF7800/01*016e"), 0);
	ck_assert_uint_eq(lay->n_segments, 1);
	ck_assert_uint_eq(lay->segments[0].size, 16);
	ck_assert_int_eq(lay->segments[0].type, 'e');
	ck_assert_uint_eq(lay->n_warnings, 1);
	ck_assert_str_eq(lay->warnings[0],
			 "no multiplier in '01*016e' at offset 30, assuming bytes");
}
END_TEST

START_TEST(test_several_regions_each_start_at_their_address)
{
	ck_assert_int_eq(parse("@Q/0x90000000/2*4Kg,1*8Kb/0x08000000/3*1Ka/0x20000000/1*1Mg"), 0);
	ck_assert_uint_eq(lay->n_segments, 4);
	ck_assert_uint_eq(lay->segments[0].start, 0x90000000);
	ck_assert_uint_eq(lay->segments[1].start, 0x90002000);
	ck_assert_uint_eq(lay->segments[1].end, 0x90004000);
	ck_assert_uint_eq(lay->segments[2].start, 0x08000000);
	ck_assert_uint_eq(lay->segments[2].end, 0x08000C00);
	ck_assert_uint_eq(lay->segments[3].start, 0x20000000);
	ck_assert_uint_eq(lay->segments[3].end, 0x20100000);
}
END_TEST

START_TEST(test_adjacent_regions_do_not_overlap)
{
	ck_assert_int_eq(parse("@X/0x0/1*1Kg/0x400/1*1Kg"), 0);
	ck_assert_uint_eq(lay->n_segments, 2);
}
END_TEST

START_TEST(test_trailing_garbage_is_ignored_with_a_warning)
{
	ck_assert_int_eq(parse("@Internal Flash  /0x08000000/04*016Kg,01*064Kg,07*128Kg  junk"), 0);
	ck_assert_uint_eq(lay->n_segments, 3);
	ck_assert_uint_eq(lay->segments[2].end, 0x08100000);
	ck_assert_uint_eq(lay->n_warnings, 1);
	ck_assert_str_eq(lay->warnings[0], "ignored trailing text 'junk' at offset 57");
}
END_TEST

START_TEST(test_trailing_blanks_and_nul_are_silently_accepted)
{
	static const char s[] =
	    "@Internal Flash  /0x08000000/04*016Kg,01*064Kg,07*128Kg  \r\n\0junk";

	ck_assert_int_eq(dfuse_layout_parse(s, sizeof(s) - 1, &lay, &err), 0);
	ck_assert_uint_eq(lay->n_segments, 3);
	ck_assert_uint_eq(lay->n_warnings, 0);
}
END_TEST

START_TEST(test_a_dangling_slash_is_trailing_text)
{
	ck_assert_int_eq(parse("@X/0x0/1*1Kg/ "), 0);
	ck_assert_uint_eq(lay->n_segments, 1);
	ck_assert_uint_eq(lay->n_warnings, 1);
	ck_assert_str_eq(lay->warnings[0], "ignored trailing text '/' at offset 12");
}
END_TEST

START_TEST(test_blanks_around_separators_are_accepted)
{
	ck_assert_int_eq(parse("@X/0x0/1*1Kg , 2*1Kg / 0x1000/1*1Kg"), 0);
	ck_assert_uint_eq(lay->n_segments, 3);
	ck_assert_uint_eq(lay->segments[1].start, 0x400);
	ck_assert_uint_eq(lay->segments[2].start, 0x1000);
	ck_assert_uint_eq(lay->n_warnings, 0);
}
END_TEST

START_TEST(test_parse_stops_at_len_without_needing_a_nul)
{
	static const char buf[] = { '@', 'X', '/', '0', 'x', '0', '/',
				    '2', '*', '1', 'K', 'g', '9', '9' };

	ck_assert_int_eq(dfuse_layout_parse(buf, 12, &lay, &err), 0);
	ck_assert_uint_eq(lay->n_segments, 1);
	ck_assert_uint_eq(lay->segments[0].count, 2);
	ck_assert_uint_eq(lay->n_warnings, 0);
}
END_TEST

START_TEST(test_a_segment_may_end_exactly_at_the_top_of_the_address_space)
{
	ck_assert_int_eq(parse("@X/0x0/65536*65536Bg"), 0);
	ck_assert_uint_eq(lay->segments[0].end, UINT64_C(1) << 32);
	teardown();
	setup();
	ck_assert_int_eq(parse("@Device Feature/0xFFFF0000/01*004 e,01*65532Bg"), 0);
	ck_assert_uint_eq(lay->segments[1].end, UINT64_C(1) << 32);
}
END_TEST

START_TEST(test_overlong_name_is_cut_with_a_warning)
{
	char s[400];

	memset(s, 'N', sizeof(s));
	s[0] = '@';
	memcpy(s + 300, "/0x0/1*1Kg", 11);
	ck_assert_int_eq(parse(s), 0);
	ck_assert_uint_eq(strlen(lay->name), 255);
	ck_assert_uint_eq(lay->n_warnings, 1);
}
END_TEST

START_TEST(test_free_accepts_null)
{
	dfuse_layout_free(NULL);
	dfuse_layout_freep(&lay);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Errors                                                                   */

static const struct {
	const char *str;
	int err;
	const char *code;
	size_t offset;
} bad[] = {
	{ "Internal Flash", DFU_E_FORMAT, "dfuse_layout.not_dfuse", 0 },
	{ "", DFU_E_FORMAT, "dfuse_layout.not_dfuse", 0 },
	{ " @X/0x0/1*1Kg", DFU_E_FORMAT, "dfuse_layout.not_dfuse", 0 },
	{ "@Internal Flash", DFU_E_FORMAT, "dfuse_layout.no_region", 15 },
	{ "@Internal Flash  / ", DFU_E_FORMAT, "dfuse_layout.no_region", 19 },
	{ "@X/08000000/4*1Kg", DFU_E_FORMAT, "dfuse_layout.bad_address", 3 },
	{ "@X/0x/4*1Kg", DFU_E_FORMAT, "dfuse_layout.bad_address", 3 },
	{ "@X/0x08000000/4*1Kg/junk", DFU_E_FORMAT, "dfuse_layout.bad_address", 20 },
	{ "@X/0x0800000g/4*1Kg", DFU_E_FORMAT, "dfuse_layout.expected_slash", 12 },
	{ "@X/0x08000000", DFU_E_FORMAT, "dfuse_layout.expected_slash", 13 },
	{ "@X/0x08000000/", DFU_E_FORMAT, "dfuse_layout.bad_count", 14 },
	{ "@X/0x08000000/x*1Kg", DFU_E_FORMAT, "dfuse_layout.bad_count", 14 },
	{ "@X/0x08000000/4*1Kg,", DFU_E_FORMAT, "dfuse_layout.bad_count", 20 },
	{ "@X/0x08000000/4*1Kg, junk", DFU_E_FORMAT, "dfuse_layout.bad_count", 21 },
	{ "@X/0x08000000/4x1Kg", DFU_E_FORMAT, "dfuse_layout.expected_star", 15 },
	{ "@X/0x08000000/4*Kg", DFU_E_FORMAT, "dfuse_layout.bad_size", 16 },
	{ "@X/0x08000000/4*1kg", DFU_E_FORMAT, "dfuse_layout.bad_multiplier", 17 },
	{ "@X/0x08000000/4*1", DFU_E_FORMAT, "dfuse_layout.bad_multiplier", 17 },
	{ "@X/0x08000000/4*1KG", DFU_E_FORMAT, "dfuse_layout.bad_type", 18 },
	{ "@X/0x08000000/4*1Kh", DFU_E_FORMAT, "dfuse_layout.bad_type", 18 },
	{ "@X/0x08000000/4*1K", DFU_E_FORMAT, "dfuse_layout.bad_type", 18 },
	{ "@X/0x08000000/4*1  e", DFU_E_FORMAT, "dfuse_layout.bad_type", 18 },
	{ "@X/0x08000000/4*1Kgx", DFU_E_FORMAT, "dfuse_layout.expected_comma", 19 },
	{ "@X/0x08000000/4*1Kg;2*1Kg", DFU_E_FORMAT, "dfuse_layout.expected_comma", 19 },
	{ "@X/0x08000000/0*1Kg", DFU_E_FORMAT, "dfuse_layout.empty_segment", 14 },
	{ "@X/0x08000000/4*0Kg", DFU_E_FORMAT, "dfuse_layout.empty_segment", 14 },
	{ "@X/0x08000000/4*1Kg/0x08000800/1*1Kg", DFU_E_FORMAT, "dfuse_layout.overlap", 20 },
	{ "@X/0x08000800/1*1Kg/0x08000000/4*1Kg", DFU_E_FORMAT, "dfuse_layout.overlap", 20 },
	{ "@X/0x0/1*1Kg/0x1000/1*1Kg/0x0/1*1Bg", DFU_E_FORMAT, "dfuse_layout.overlap", 26 },
	{ "@X/0xFFFF0000/02*64Kg", DFU_E_RANGE, "dfuse_layout.overflow", 14 },
	{ "@X/0xFFFF0000/01*64Kg,1*1Bg", DFU_E_RANGE, "dfuse_layout.overflow", 22 },
	{ "@X/0x100000000/1*1Kg", DFU_E_RANGE, "dfuse_layout.overflow", 3 },
	{ "@X/0x0/65537*65536Bg", DFU_E_RANGE, "dfuse_layout.overflow", 7 },
	{ "@X/0x0/4294967296*1Bg", DFU_E_RANGE, "dfuse_layout.overflow", 7 },
	{ "@X/0x0/1*4096Mg", DFU_E_RANGE, "dfuse_layout.overflow", 9 },
	{ "@X/0x0/1*99999999999999999999999Kg", DFU_E_RANGE, "dfuse_layout.overflow", 9 },
};

START_TEST(test_malformed_layouts_are_refused_with_code_and_offset)
{
	char where[32];

	snprintf(where, sizeof(where), "offset %zu", bad[_i].offset);
	ck_assert_int_eq(parse(bad[_i].str), bad[_i].err);
	ck_assert_ptr_null(lay);
	ck_assert_int_eq(err.err, bad[_i].err);
	ck_assert_str_eq(err.code, bad[_i].code);
	ck_assert_str_eq(err.where, where);
	ck_assert_str_ne(err.message, "");
}
END_TEST

START_TEST(test_error_message_quotes_the_offending_text)
{
	ck_assert_int_eq(parse("@X/0x08000000/4*1Kg,2x3Kg"), DFU_E_FORMAT);
	ck_assert_str_eq(err.code, "dfuse_layout.expected_star");
	ck_assert_ptr_nonnull(strstr(err.message, "'x3Kg'"));
	dfu_error_clear(&err);
	ck_assert_int_eq(parse("@X/0x0/1*1KZ"), DFU_E_FORMAT);
	ck_assert_ptr_nonnull(strstr(err.message, "'Z'"));
	dfu_error_clear(&err);
	ck_assert_int_eq(parse("@X/0xFFFF0000/02*64Kg"), DFU_E_RANGE);
	ck_assert_ptr_nonnull(strstr(err.message, "'02*64Kg'"));
}
END_TEST

START_TEST(test_non_printable_bytes_are_escaped_in_messages)
{
	ck_assert_int_eq(parse("@X/0x0/1*1K\x01"), DFU_E_FORMAT);
	ck_assert_ptr_nonnull(strstr(err.message, "'\\x01'"));
}
END_TEST

START_TEST(test_a_plain_interface_name_is_not_a_layout_and_gets_a_hint)
{
	ck_assert_int_eq(parse("DFU FLASH"), DFU_E_FORMAT);
	ck_assert_str_eq(err.code, "dfuse_layout.not_dfuse");
	ck_assert_ptr_nonnull(strstr(err.message, "'DFU FLASH'"));
	ck_assert_ptr_nonnull(err.hint);
}
END_TEST

START_TEST(test_errors_without_an_error_struct_still_return_the_code)
{
	ck_assert_int_eq(dfuse_layout_parse("@X/0x0/1*1Kh", 12, &lay, NULL), DFU_E_FORMAT);
	ck_assert_ptr_null(lay);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Lookups                                                                  */

#define F4 "@Internal Flash  /0x08000000/04*016Kg,01*064Kg,07*128Kg"
/* 3 x 24 KiB then 2 x 3000 bytes: nothing here is a power of two. */
#define ODD "@Odd/0x08000000/3*24Kg,2*3000Bg"

static const struct {
	uint32_t address;
	uint32_t start, size;
	size_t segment;
} odd_cases[] = {
	{ 0x08000000, 0x08000000, 24 * K, 0 }, { 0x08005FFF, 0x08000000, 24 * K, 0 },
	{ 0x08006000, 0x08006000, 24 * K, 0 }, { 0x08006005, 0x08006000, 24 * K, 0 },
	{ 0x08011FFF, 0x0800C000, 24 * K, 0 }, { 0x08012000, 0x08012000, 3000, 1 },
	{ 0x08012BB7, 0x08012000, 3000, 1 },   { 0x08012BB8, 0x08012BB8, 3000, 1 },
	{ 0x0801376F, 0x08012BB8, 3000, 1 },
};

START_TEST(test_sector_lookup_needs_no_power_of_two)
{
	struct dfuse_sector s;

	ck_assert_int_eq(parse(ODD), 0);
	ck_assert_int_eq(dfuse_layout_find_sector(lay, odd_cases[_i].address, &s), 0);
	ck_assert_uint_eq(s.start, odd_cases[_i].start);
	ck_assert_uint_eq(s.size, odd_cases[_i].size);
	ck_assert_uint_eq(s.segment, odd_cases[_i].segment);
	ck_assert_uint_eq(s.attr, 7);
}
END_TEST

START_TEST(test_lookups_outside_every_segment_are_not_found)
{
	struct dfuse_sector s;
	size_t i = 99;

	ck_assert_int_eq(parse(ODD), 0);
	ck_assert_int_eq(dfuse_layout_find_segment(lay, 0x07FFFFFF, &i), NOT_FOUND);
	ck_assert_int_eq(dfuse_layout_find_segment(lay, 0x08013770, &i), NOT_FOUND);
	ck_assert_uint_eq(i, 99);
	ck_assert_int_eq(dfuse_layout_find_sector(lay, 0x08013770, &s), NOT_FOUND);
	ck_assert_int_eq(dfuse_layout_find_segment(lay, 0x08012000, &i), 0);
	ck_assert_uint_eq(i, 1);
}
END_TEST

START_TEST(test_lookups_work_whatever_the_order_of_regions)
{
	struct dfuse_sector s;
	size_t i;

	ck_assert_int_eq(parse("@X/0x20000000/2*1Kg/0x08000000/4*2Ka/0x10000000/1*1Be"), 0);
	ck_assert_int_eq(dfuse_layout_find_segment(lay, 0x08001FFF, &i), 0);
	ck_assert_uint_eq(i, 1);
	ck_assert_int_eq(dfuse_layout_find_sector(lay, 0x08001FFF, &s), 0);
	ck_assert_uint_eq(s.start, 0x08001800);
	ck_assert_uint_eq(s.attr, DFUSE_ATTR_READABLE);
	ck_assert_int_eq(dfuse_layout_find_segment(lay, 0x10000000, &i), 0);
	ck_assert_uint_eq(i, 2);
	ck_assert_int_eq(dfuse_layout_find_segment(lay, 0x10000001, &i), NOT_FOUND);
	ck_assert_int_eq(dfuse_layout_find_segment(lay, 0x200007FF, &i), 0);
	ck_assert_uint_eq(i, 0);
}
END_TEST

START_TEST(test_lookup_reaches_the_last_byte_below_four_gib)
{
	struct dfuse_sector s;

	ck_assert_int_eq(parse("@Device Feature/0xFFFF0000/01*004 e,01*65532Bg"), 0);
	ck_assert_int_eq(dfuse_layout_find_sector(lay, 0xFFFFFFFF, &s), 0);
	ck_assert_uint_eq(s.start, 0xFFFF0004);
	ck_assert_uint_eq(s.size, 65532);
}
END_TEST

START_TEST(test_sectors_spanning_segments_come_in_address_order)
{
	size_t n = 0;

	ck_assert_int_eq(parse(F4), 0);
	/* from inside sector 3 (16 KiB) to inside sector 5 (128 KiB) */
	ck_assert_int_eq(dfuse_layout_sectors(lay, 0x0800C100, 0x20000, &secs, &n, &err), 0);
	ck_assert_uint_eq(n, 3);
	ck_assert_uint_eq(secs[0].start, 0x0800C000);
	ck_assert_uint_eq(secs[0].size, 16 * K);
	ck_assert_uint_eq(secs[0].segment, 0);
	ck_assert_uint_eq(secs[1].start, 0x08010000);
	ck_assert_uint_eq(secs[1].size, 64 * K);
	ck_assert_uint_eq(secs[2].start, 0x08020000);
	ck_assert_uint_eq(secs[2].size, 128 * K);
	ck_assert_uint_eq(secs[2].segment, 2);
}
END_TEST

START_TEST(test_sectors_of_the_whole_flash_list_every_sector)
{
	size_t n = 0;

	ck_assert_int_eq(parse(F4), 0);
	ck_assert_int_eq(dfuse_layout_sectors(lay, 0x08000000, 0x100000, &secs, &n, &err), 0);
	ck_assert_uint_eq(n, 12);
	ck_assert_uint_eq(secs[11].start, 0x080E0000);
	for (size_t i = 1; i < n; i++)
		ck_assert_uint_eq(secs[i].start, secs[i - 1].start + secs[i - 1].size);
}
END_TEST

START_TEST(test_sectors_of_one_byte_is_its_sector)
{
	size_t n = 0;

	ck_assert_int_eq(parse(ODD), 0);
	ck_assert_int_eq(dfuse_layout_sectors(lay, 0x08012BB9, 1, &secs, &n, &err), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(secs[0].start, 0x08012BB8);
}
END_TEST

START_TEST(test_sectors_of_an_empty_range_are_none)
{
	size_t n = 7;

	ck_assert_int_eq(parse(F4), 0);
	ck_assert_int_eq(dfuse_layout_sectors(lay, 0x01234567, 0, &secs, &n, &err), 0);
	ck_assert_uint_eq(n, 0);
	ck_assert_ptr_null(secs);
	ck_assert_int_eq(err.err, 0);
}
END_TEST

START_TEST(test_sectors_leaving_the_map_name_the_first_uncovered_address)
{
	size_t n = 7;

	ck_assert_int_eq(parse(F4), 0);
	ck_assert_int_eq(dfuse_layout_sectors(lay, 0x080E0000, 0x40000, &secs, &n, &err),
			 NOT_FOUND);
	ck_assert_ptr_null(secs);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(err.err, DFU_E_NOTFOUND);
	ck_assert_str_eq(err.code, "dfuse_layout.outside");
	ck_assert_ptr_nonnull(strstr(err.message, "0x08100000"));
}
END_TEST

START_TEST(test_sectors_across_a_hole_between_regions_are_refused)
{
	size_t n;

	ck_assert_int_eq(parse("@X/0x0/1*1Kg/0x800/1*1Kg"), 0);
	ck_assert_int_eq(dfuse_layout_sectors(lay, 0x100, 0x800, &secs, &n, &err), NOT_FOUND);
	ck_assert_ptr_nonnull(strstr(err.message, "0x00000400"));
}
END_TEST

START_TEST(test_sectors_starting_before_the_map_are_refused)
{
	size_t n;

	ck_assert_int_eq(parse(F4), 0);
	ck_assert_int_eq(dfuse_layout_sectors(lay, 0x07FFFFFF, 2, &secs, &n, &err), NOT_FOUND);
	ck_assert_ptr_nonnull(strstr(err.message, "0x07ffffff"));
}
END_TEST

START_TEST(test_sectors_past_four_gib_are_refused)
{
	size_t n;

	ck_assert_int_eq(parse("@Top/0xFFFF0000/01*64Kg"), 0);
	ck_assert_int_eq(dfuse_layout_sectors(lay, 0xFFFF0000, 0x10000, &secs, &n, &err), 0);
	ck_assert_uint_eq(n, 1);
	free(secs);
	secs = NULL;
	ck_assert_int_eq(dfuse_layout_sectors(lay, 0xFFFF0000, 0x10001, &secs, &n, &err),
			 NOT_FOUND);
	ck_assert_str_eq(err.code, "dfuse_layout.outside");
	dfu_error_clear(&err);
	ck_assert_int_eq(dfuse_layout_sectors(lay, 0xFFFF0000, UINT64_MAX, &secs, &n, &err),
			 NOT_FOUND);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Property: lookups agree with a naive scan over every sector              */

static const char *const prop_layouts[] = {
	F4 ",04*016Kg,01*064Kg,07*128Kg",
	"@Internal Flash   /0x08000000/03*016Ka,01*016Kg,01*064Kg,07*128Kg",
	"@Flash /0x90400000/60*64Kg/0x90000000/64*4Kg/0x90040000/60*64Kg",
	"@Odd/0x1000/3*24Kg,5*1000Bg,1*7 e/0x0/2*100Ba/0xFFFFF000/7*585Bc",
	"@Option Bytes   /0x1FFF7800/01*048 e/0x1FFFF800/01*048 e",
};

/* Reference: try every sector of every segment. */
static bool naive_sector(const struct dfuse_layout *l, uint32_t a, struct dfuse_sector *out)
{
	for (size_t i = 0; i < l->n_segments; i++) {
		const struct dfuse_layout_segment *s = &l->segments[i];

		for (uint32_t k = 0; k < s->count; k++) {
			uint64_t st = (uint64_t)s->start + (uint64_t)k * s->size;

			if (a >= st && a < st + s->size) {
				*out = (struct dfuse_sector){ (uint32_t)st, s->size, s->attr, i };
				return true;
			}
		}
	}
	return false;
}

static uint32_t xorshift(uint32_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 17;
	*x ^= *x << 5;
	return *x;
}

/* An address near something interesting: a segment edge or a random offset. */
static uint32_t probe(const struct dfuse_layout *l, uint32_t *rng)
{
	uint32_t r = xorshift(rng);
	const struct dfuse_layout_segment *s = &l->segments[r % l->n_segments];
	int64_t delta = (int64_t)(xorshift(rng) % 2048) - 1024;

	switch (r >> 30) {
	case 0:
		return (uint32_t)(s->start + delta);
	case 1:
		return (uint32_t)(s->end + delta);
	case 2:
		return s->start + (uint32_t)(xorshift(rng) % (s->end - s->start));
	default:
		return xorshift(rng);
	}
}

START_TEST(test_find_sector_agrees_with_a_naive_scan)
{
	uint32_t rng = 0x2545F491u + (uint32_t)_i;

	ck_assert_int_eq(parse(prop_layouts[_i]), 0);
	for (int k = 0; k < 20000; k++) {
		uint32_t a = probe(lay, &rng);
		struct dfuse_sector got, want;
		bool found = naive_sector(lay, a, &want);

		ck_assert_int_eq(dfuse_layout_find_sector(lay, a, &got), found ? 0 : NOT_FOUND);
		if (!found)
			continue;
		ck_assert_uint_eq(got.start, want.start);
		ck_assert_uint_eq(got.size, want.size);
		ck_assert_uint_eq(got.attr, want.attr);
		ck_assert_uint_eq(got.segment, want.segment);
	}
}
END_TEST

START_TEST(test_sectors_agree_with_a_naive_scan)
{
	uint32_t rng = 0x9E3779B9u + (uint32_t)_i;

	ck_assert_int_eq(parse(prop_layouts[_i]), 0);
	for (int k = 0; k < 300; k++) {
		uint32_t a = probe(lay, &rng);
		uint64_t len = xorshift(&rng) % 0x30000;
		uint64_t end = (uint64_t)a + len, cur = a;
		struct dfuse_sector want;
		size_t n = 0, m = 0;
		bool covered = true;
		int r;

		/* naive: step sector by sector */
		while (cur < end) {
			if (cur >= (UINT64_C(1) << 32) ||
			    !naive_sector(lay, (uint32_t)cur, &want)) {
				covered = false;
				break;
			}
			cur = (uint64_t)want.start + want.size;
			m++;
		}
		dfu_error_clear(&err);
		r = dfuse_layout_sectors(lay, a, len, &secs, &n, &err);
		ck_assert_int_eq(r, covered ? 0 : NOT_FOUND);
		if (covered) {
			ck_assert_uint_eq(n, m);
			cur = a;
			for (size_t i = 0; i < n; i++) {
				ck_assert(naive_sector(lay, (uint32_t)cur, &want));
				ck_assert_uint_eq(secs[i].start, want.start);
				ck_assert_uint_eq(secs[i].size, want.size);
				cur = (uint64_t)want.start + want.size;
			}
		}
		free(secs);
		secs = NULL;
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("layout");
	TCase *tc;

	tc = tcase_create("real");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, test_real_layout_strings_parse_to_expected_segments, 0,
			    (int)(sizeof(real) / sizeof(real[0])));
	tcase_add_test(tc, test_ro_and_rw_types_map_to_attribute_bits);
	suite_add_tcase(s, tc);

	tc = tcase_create("syntax");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, test_every_type_letter_a_to_g_gives_its_bits, 0, 7);
	tcase_add_loop_test(tc, test_multipliers_scale_the_sector_size, 0,
			    (int)(sizeof(mult_cases) / sizeof(mult_cases[0])));
	tcase_add_test(tc, test_leading_zeros_are_decimal_not_octal);
	tcase_add_test(tc, test_absent_multiplier_means_bytes_with_a_warning);
	tcase_add_test(tc, test_several_regions_each_start_at_their_address);
	tcase_add_test(tc, test_adjacent_regions_do_not_overlap);
	tcase_add_test(tc, test_trailing_garbage_is_ignored_with_a_warning);
	tcase_add_test(tc, test_trailing_blanks_and_nul_are_silently_accepted);
	tcase_add_test(tc, test_a_dangling_slash_is_trailing_text);
	tcase_add_test(tc, test_blanks_around_separators_are_accepted);
	tcase_add_test(tc, test_parse_stops_at_len_without_needing_a_nul);
	tcase_add_test(tc, test_a_segment_may_end_exactly_at_the_top_of_the_address_space);
	tcase_add_test(tc, test_overlong_name_is_cut_with_a_warning);
	tcase_add_test(tc, test_free_accepts_null);
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, test_malformed_layouts_are_refused_with_code_and_offset, 0,
			    (int)(sizeof(bad) / sizeof(bad[0])));
	tcase_add_test(tc, test_error_message_quotes_the_offending_text);
	tcase_add_test(tc, test_non_printable_bytes_are_escaped_in_messages);
	tcase_add_test(tc, test_a_plain_interface_name_is_not_a_layout_and_gets_a_hint);
	tcase_add_test(tc, test_errors_without_an_error_struct_still_return_the_code);
	suite_add_tcase(s, tc);

	tc = tcase_create("lookup");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, test_sector_lookup_needs_no_power_of_two, 0,
			    (int)(sizeof(odd_cases) / sizeof(odd_cases[0])));
	tcase_add_test(tc, test_lookups_outside_every_segment_are_not_found);
	tcase_add_test(tc, test_lookups_work_whatever_the_order_of_regions);
	tcase_add_test(tc, test_lookup_reaches_the_last_byte_below_four_gib);
	tcase_add_test(tc, test_sectors_spanning_segments_come_in_address_order);
	tcase_add_test(tc, test_sectors_of_the_whole_flash_list_every_sector);
	tcase_add_test(tc, test_sectors_of_one_byte_is_its_sector);
	tcase_add_test(tc, test_sectors_of_an_empty_range_are_none);
	tcase_add_test(tc, test_sectors_leaving_the_map_name_the_first_uncovered_address);
	tcase_add_test(tc, test_sectors_across_a_hole_between_regions_are_refused);
	tcase_add_test(tc, test_sectors_starting_before_the_map_are_refused);
	tcase_add_test(tc, test_sectors_past_four_gib_are_refused);
	suite_add_tcase(s, tc);

	tc = tcase_create("property");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_loop_test(tc, test_find_sector_agrees_with_a_naive_scan, 0,
			    (int)(sizeof(prop_layouts) / sizeof(prop_layouts[0])));
	tcase_add_loop_test(tc, test_sectors_agree_with_a_naive_scan, 0,
			    (int)(sizeof(prop_layouts) / sizeof(prop_layouts[0])));
	suite_add_tcase(s, tc);

	return test_run_suite(s);
}
