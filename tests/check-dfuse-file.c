// SPDX-License-Identifier: GPL-2.0-or-later
/* Unit tests for DfuSe container files (src/lib/image/dfuse-file.c, ST UM0391). */
#include "config.h"

#include "image.h"
#include "macro.h"
#include "testutil.h"
#include "util.h"

/* --- a tiny DfuSe builder ------------------------------------------------ */

#define PREFIX_LEN 11
#define TARGET_PREFIX_LEN 274
#define FIRST_ELEMENT (PREFIX_LEN + TARGET_PREFIX_LEN) /* 285 */

struct t_elem {
	uint32_t address;
	uint32_t size;
	uint8_t seed; /* data bytes are seed, seed+1, ... */
};

struct t_target {
	uint8_t alt;
	uint32_t named;
	const char *name;
	size_t n;
	struct t_elem el[3];
};

/* UM0391 file without suffix into @buf (large enough); returns its length. */
static size_t build_dfuse(uint8_t *buf, const struct t_target *t, size_t nt)
{
	size_t p = PREFIX_LEN;

	memcpy(buf, "DfuSe", 5);
	buf[5] = 1;
	buf[10] = (uint8_t)nt;
	for (size_t i = 0; i < nt; i++) {
		uint8_t *tp = buf + p;
		uint32_t size = 0;

		memset(tp, 0, TARGET_PREFIX_LEN);
		memcpy(tp, "Target", 6);
		tp[6] = t[i].alt;
		le32_put(tp + 7, t[i].named);
		if (t[i].name)
			memcpy(tp + 11, t[i].name, strlen(t[i].name));
		le32_put(tp + 270, (uint32_t)t[i].n);
		p += TARGET_PREFIX_LEN;
		for (size_t k = 0; k < t[i].n; k++) {
			const struct t_elem *el = &t[i].el[k];

			le32_put(buf + p, el->address);
			le32_put(buf + p + 4, el->size);
			for (uint32_t b = 0; b < el->size; b++)
				buf[p + 8 + b] = (uint8_t)(el->seed + b);
			p += 8 + el->size;
			size += 8 + el->size;
		}
		le32_put(tp + 266, size);
	}
	le32_put(buf + 6, (uint32_t)p);
	return p;
}

static const struct t_target two_targets[] = {
	{ .alt = 0,
	  .named = 1,
	  .name = "Internal Flash",
	  .n = 2,
	  .el = { { 0x08000000, 16, 0x10 }, { 0x08000100, 8, 0x80 } } },
	{ .alt = 1, .named = 1, .name = "Option Bytes", .n = 1, .el = { { 0x1fffc000, 4, 0xa0 } } },
};

static struct dfu_image *img;
static uint8_t file[4096];

static void setup(void)
{
	memset(file, 0, sizeof(file));
	ck_assert_int_eq(dfu_image_new(DFU_FORMAT_DFUSE, &img), 0);
}

static void teardown(void)
{
	dfu_image_free(img);
	img = NULL;
}

/* Parse a written DfuSe file (with suffix) into a new image. */
static struct dfu_image *reparse(const struct dfu_buf *b, struct dfu_suffix *s)
{
	struct dfu_image *out = NULL;
	struct dfu_error e = { 0 };

	ck_assert_int_eq(dfu_suffix_parse(b->data, b->len, s, &e), 1);
	ck_assert_int_eq(dfu_image_new(DFU_FORMAT_DFUSE, &out), 0);
	ck_assert_msg(dfuse_file_parse(b->data, b->len - s->length, out, NULL, &e) == 0, "%s: %s",
		      e.code, e.message);
	return out;
}

static void assert_same_segments(const struct dfu_image *a, const struct dfu_image *b)
{
	ck_assert_uint_eq(a->n_segments, b->n_segments);
	for (size_t i = 0; i < a->n_segments; i++) {
		ck_assert_uint_eq(a->segments[i].address, b->segments[i].address);
		ck_assert_uint_eq(a->segments[i].length, b->segments[i].length);
		ck_assert_int_eq(a->segments[i].alt, b->segments[i].alt);
		ck_assert_mem_eq(a->segments[i].data, b->segments[i].data, a->segments[i].length);
	}
}

static void assert_same_targets(const struct dfu_image *a, const struct dfu_image *b)
{
	ck_assert_uint_eq(a->n_targets, b->n_targets);
	for (size_t i = 0; i < a->n_targets; i++) {
		const struct dfuse_target *x = &a->targets[i], *y = &b->targets[i];

		ck_assert_uint_eq(x->alt, y->alt);
		ck_assert_int_eq(x->named, y->named);
		ck_assert_str_eq(x->name, y->name);
		ck_assert_uint_eq(x->n_elements, y->n_elements);
		ck_assert_uint_eq(x->target_size, y->target_size);
		for (size_t k = 0; k < x->n_elements; k++) {
			ck_assert_uint_eq(x->elements[k].address, y->elements[k].address);
			ck_assert_uint_eq(x->elements[k].size, y->elements[k].size);
			ck_assert_uint_eq(x->elements[k].crc32, y->elements[k].crc32);
		}
	}
}

/* --- parsing ------------------------------------------------------------- */

START_TEST(test_parse_reads_two_targets_with_several_elements)
{
	size_t len = build_dfuse(file, two_targets, 2);
	struct dfu_error e = { 0 };
	const struct dfuse_target *t;

	ck_assert_int_eq(dfuse_file_parse(file, len, img, NULL, &e), 0);
	ck_assert_uint_eq(img->dfuse_version, 1);
	ck_assert_uint_eq(img->dfuse_image_size, len);
	ck_assert(img->address_from_file);
	ck_assert_uint_eq(img->n_targets, 2);

	t = &img->targets[0];
	ck_assert_uint_eq(t->alt, 0);
	ck_assert(t->named);
	ck_assert_uint_eq(t->named_raw, 1);
	ck_assert_str_eq(t->name, "Internal Flash");
	ck_assert_uint_eq(t->target_size, 8 + 16 + 8 + 8);
	ck_assert_uint_eq(t->n_elements, 2);
	ck_assert_uint_eq(t->elements[0].address, 0x08000000);
	ck_assert_uint_eq(t->elements[0].size, 16);
	ck_assert_uint_eq(t->elements[0].crc32, dfu_crc32(0, file + FIRST_ELEMENT + 8, 16));
	ck_assert_uint_eq(t->elements[1].address, 0x08000100);

	t = &img->targets[1];
	ck_assert_uint_eq(t->alt, 1);
	ck_assert_str_eq(t->name, "Option Bytes");
	ck_assert_uint_eq(t->n_elements, 1);
	ck_assert_uint_eq(t->elements[0].address, 0x1fffc000);
}
END_TEST

START_TEST(test_parse_adds_every_element_under_its_alt)
{
	size_t len = build_dfuse(file, two_targets, 2);

	ck_assert_int_eq(dfuse_file_parse(file, len, img, NULL, NULL), 0);
	ck_assert_uint_eq(img->n_segments, 3);
	ck_assert_int_eq(img->segments[0].alt, 0);
	ck_assert_uint_eq(img->segments[0].address, 0x08000000);
	ck_assert_uint_eq(img->segments[0].length, 16);
	ck_assert_uint_eq(img->segments[0].data[0], 0x10);
	ck_assert_int_eq(img->segments[1].alt, 0);
	ck_assert_uint_eq(img->segments[1].address, 0x08000100);
	ck_assert_int_eq(img->segments[2].alt, 1);
	ck_assert_uint_eq(img->segments[2].address, 0x1fffc000);
	ck_assert_uint_eq(img->segments[2].data[3], 0xa3);
}
END_TEST

START_TEST(test_parse_keeps_an_unnamed_target_unnamed)
{
	static const struct t_target t[] = { { .alt = 3, .n = 1, .el = { { 0x100, 4, 0 } } } };
	size_t len = build_dfuse(file, t, 1);

	ck_assert_int_eq(dfuse_file_parse(file, len, img, NULL, NULL), 0);
	ck_assert(!img->targets[0].named);
	ck_assert_uint_eq(img->targets[0].named_raw, 0);
	ck_assert_str_eq(img->targets[0].name, "");
	ck_assert_int_eq(img->segments[0].alt, 3);
}
END_TEST

START_TEST(test_parse_accepts_a_name_without_nul)
{
	char name[256];
	struct t_target t[] = { { .alt = 0, .named = 1, .name = name, .n = 0 } };
	size_t len;

	memset(name, 'x', 255);
	name[255] = '\0';
	len = build_dfuse(file, t, 1);
	ck_assert_int_eq(dfuse_file_parse(file, len, img, NULL, NULL), 0);
	ck_assert_uint_eq(strlen(img->targets[0].name), 255);
}
END_TEST

START_TEST(test_parse_accepts_identical_overlap_within_an_alt)
{
	static const struct t_target t[] = {
		{ .alt = 0, .n = 1, .el = { { 0x1000, 16, 0 } } },
		{ .alt = 0, .n = 1, .el = { { 0x1008, 8, 8 } } },
	};
	size_t len = build_dfuse(file, t, 2);

	ck_assert_int_eq(dfuse_file_parse(file, len, img, NULL, NULL), 0);
	ck_assert_uint_eq(img->n_segments, 1);
	ck_assert_uint_eq(img->segments[0].length, 16);
}
END_TEST

START_TEST(test_parse_keeps_alts_apart)
{
	static const struct t_target t[] = {
		{ .alt = 0, .n = 1, .el = { { 0x1000, 16, 0 } } },
		{ .alt = 1, .n = 1, .el = { { 0x1000, 16, 0x40 } } },
	};
	size_t len = build_dfuse(file, t, 2);

	ck_assert_int_eq(dfuse_file_parse(file, len, img, NULL, NULL), 0);
	ck_assert_uint_eq(img->n_segments, 2);
}
END_TEST

START_TEST(test_parse_accepts_zero_targets)
{
	size_t len = build_dfuse(file, NULL, 0);

	ck_assert_int_eq(dfuse_file_parse(file, len, img, NULL, NULL), 0);
	ck_assert_uint_eq(img->n_targets, 0);
	ck_assert_uint_eq(img->n_segments, 0);
}
END_TEST

/* --- errors -------------------------------------------------------------- */

START_TEST(test_shorter_than_the_prefix_is_truncated)
{
	struct dfu_error e = { 0 };

	build_dfuse(file, two_targets, 2);
	ck_assert_int_eq(dfuse_file_parse(file, 10, img, NULL, &e), DFU_E_FORMAT);
	ck_assert_str_eq(e.code, "dfuse.truncated");
}
END_TEST

START_TEST(test_bad_prefix_signature_is_refused)
{
	size_t len = build_dfuse(file, two_targets, 2);
	struct dfu_error e = { 0 };

	file[4] = 'X';
	ck_assert_int_eq(dfuse_file_parse(file, len, img, NULL, &e), DFU_E_FORMAT);
	ck_assert_str_eq(e.code, "dfuse.bad_signature");
	ck_assert_str_eq(e.message, "signature 'DfuSX', expected 'DfuSe'");
}
END_TEST

START_TEST(test_version_other_than_1_is_refused)
{
	size_t len = build_dfuse(file, two_targets, 2);
	struct dfu_error e = { 0 };

	file[5] = 2;
	ck_assert_int_eq(dfuse_file_parse(file, len, img, NULL, &e), DFU_E_UNSUPPORTED);
	ck_assert_str_eq(e.code, "dfuse.bad_version");
	ck_assert_str_eq(e.where, "offset 5 (0x5)");
}
END_TEST

START_TEST(test_image_size_must_match_the_file)
{
	size_t len = build_dfuse(file, two_targets, 2);
	struct dfu_error e = { 0 };

	le32_put(file + 6, (uint32_t)len + 1);
	ck_assert_int_eq(dfuse_file_parse(file, len, img, NULL, &e), DFU_E_FORMAT);
	ck_assert_str_eq(e.code, "dfuse.image_size_mismatch");
}
END_TEST

/* dfu-util's dfuse-pack counts the 16-byte suffix in DFUImageSize. */
START_TEST(test_image_size_counting_the_suffix_is_accepted)
{
	size_t len = build_dfuse(file, two_targets, 2);
	struct dfu_error e = { 0 };

	le32_put(file + 6, (uint32_t)len + DFU_SUFFIX_LEN);
	ck_assert_int_eq(dfuse_file_parse(file, len, img, NULL, &e), 0);
	ck_assert_uint_eq(img->dfuse_image_size, len + DFU_SUFFIX_LEN);
	ck_assert(img->dfuse_size_counts_suffix);
	ck_assert_uint_eq(img->n_targets, 2);
}
END_TEST

START_TEST(test_image_size_without_the_suffix_is_the_st_convention)
{
	size_t len = build_dfuse(file, two_targets, 2);

	ck_assert_int_eq(dfuse_file_parse(file, len, img, NULL, NULL), 0);
	ck_assert(!img->dfuse_size_counts_suffix);
}
END_TEST

/* Any other count stays an error: one byte off either convention. */
START_TEST(test_image_size_off_by_one_from_either_convention_is_refused)
{
	size_t len = build_dfuse(file, two_targets, 2);
	const uint32_t bad[] = { (uint32_t)len - 1, (uint32_t)len + DFU_SUFFIX_LEN - 1,
				 (uint32_t)len + DFU_SUFFIX_LEN + 1 };

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct dfu_error e = { 0 };

		build_dfuse(file, two_targets, 2);
		le32_put(file + 6, bad[i]);
		ck_assert_int_eq(dfuse_file_parse(file, len, img, NULL, &e), DFU_E_FORMAT);
		ck_assert_str_eq(e.code, "dfuse.image_size_mismatch");
	}
}
END_TEST

START_TEST(test_bad_target_signature_is_refused_at_its_offset)
{
	size_t len = build_dfuse(file, two_targets, 2);
	struct dfu_error e = { 0 };

	file[PREFIX_LEN + 3] = 'q';
	ck_assert_int_eq(dfuse_file_parse(file, len, img, NULL, &e), DFU_E_FORMAT);
	ck_assert_str_eq(e.code, "dfuse.bad_target_signature");
	ck_assert_str_eq(e.message, "target 0 signature 'Tarqet', expected 'Target'");
	ck_assert_str_eq(e.where, "offset 11 (0xb)");
}
END_TEST

START_TEST(test_non_printable_target_signature_is_escaped)
{
	size_t len = build_dfuse(file, two_targets, 2);
	struct dfu_error e = { 0 };

	file[PREFIX_LEN] = 0;
	ck_assert_int_eq(dfuse_file_parse(file, len, img, NULL, &e), DFU_E_FORMAT);
	ck_assert_str_eq(e.message, "target 0 signature '\\x00arget', expected 'Target'");
}
END_TEST

START_TEST(test_missing_target_is_truncated)
{
	size_t len = build_dfuse(file, two_targets, 2);
	struct dfu_error e = { 0 };

	file[10] = 3;
	ck_assert_int_eq(dfuse_file_parse(file, len, img, NULL, &e), DFU_E_FORMAT);
	ck_assert_str_eq(e.code, "dfuse.truncated");
	ck_assert_uint_eq(img->n_targets, 3); /* freed with the image */
}
END_TEST

START_TEST(test_element_running_past_the_end_is_truncated)
{
	size_t len = build_dfuse(file, two_targets, 1);
	struct dfu_error e = { 0 };

	le32_put(file + FIRST_ELEMENT + 4, 52472);
	ck_assert_int_eq(dfuse_file_parse(file, len, img, NULL, &e), DFU_E_FORMAT);
	ck_assert_str_eq(e.code, "dfuse.truncated");
	ck_assert_str_eq(e.message, "target 0 element 0 (52472 bytes) runs past end");
	ck_assert_str_eq(e.where, "offset 285 (0x11d)");
}
END_TEST

START_TEST(test_element_count_beyond_the_file_is_truncated)
{
	size_t len = build_dfuse(file, two_targets, 1);
	struct dfu_error e = { 0 };

	le32_put(file + PREFIX_LEN + 270, 0x40000000);
	ck_assert_int_eq(dfuse_file_parse(file, len, img, NULL, &e), DFU_E_FORMAT);
	ck_assert_str_eq(e.code, "dfuse.truncated");
}
END_TEST

START_TEST(test_target_size_must_match_its_elements)
{
	size_t len = build_dfuse(file, two_targets, 2);
	struct dfu_error e = { 0 };

	le32_put(file + PREFIX_LEN + 266, 41);
	ck_assert_int_eq(dfuse_file_parse(file, len, img, NULL, &e), DFU_E_FORMAT);
	ck_assert_str_eq(e.code, "dfuse.target_size_mismatch");
	ck_assert_str_eq(e.message, "target 0 dwTargetSize is 41 but its 2 elements take 40 bytes");
}
END_TEST

START_TEST(test_bytes_after_the_last_target_are_trailing_data)
{
	size_t len = build_dfuse(file, two_targets, 2);
	struct dfu_error e = { 0 };

	file[10] = 1;
	ck_assert_int_eq(dfuse_file_parse(file, len, img, NULL, &e), DFU_E_FORMAT);
	ck_assert_str_eq(e.code, "dfuse.trailing_data");
}
END_TEST

START_TEST(test_element_past_4gib_is_out_of_range)
{
	static const struct t_target t[] = {
		{ .alt = 0, .n = 1, .el = { { 0xfffffff8, 16, 0 } } },
	};
	size_t len = build_dfuse(file, t, 1);
	struct dfu_error e = { 0 };

	ck_assert_int_eq(dfuse_file_parse(file, len, img, NULL, &e), DFU_E_RANGE);
	ck_assert_str_eq(e.code, "dfuse.address_overflow");
}
END_TEST

START_TEST(test_conflicting_elements_of_one_alt_name_both)
{
	static const struct t_target t[] = {
		{ .alt = 0, .n = 2, .el = { { 0x0100, 4, 0 }, { 0x1000, 16, 0 } } },
		{ .alt = 0, .n = 1, .el = { { 0x1008, 8, 0x50 } } },
	};
	size_t len = build_dfuse(file, t, 2);
	struct dfu_error e = { 0 };

	ck_assert_int_eq(dfuse_file_parse(file, len, img, NULL, &e), DFU_E_CONFLICT);
	ck_assert_str_eq(e.code, "dfuse.overlap");
	ck_assert_str_eq(e.message, "target 1 element 0 and target 0 element 1 both hold "
				    "0x00001008 (alt 0) with different bytes");
}
END_TEST

/* --- writing ------------------------------------------------------------- */

START_TEST(test_write_then_parse_is_the_identity)
{
	size_t len = build_dfuse(file, two_targets, 2);
	struct dfu_write_opts o = {
		.format = DFU_FORMAT_DFUSE, .vid = 0x0483, .pid = 0xdf11, .bcd_device = 0x2200
	};
	_cleanup_(dfu_image_freep) struct dfu_image *again = NULL;
	struct dfu_buf out = { 0 };
	struct dfu_suffix s;

	ck_assert_int_eq(dfuse_file_parse(file, len, img, NULL, NULL), 0);
	ck_assert_int_eq(dfuse_file_write(img, &o, &out, NULL), 0);
	again = reparse(&out, &s);
	assert_same_segments(img, again);
	assert_same_targets(img, again);
	/* Same content, same layout: the bytes come out unchanged. */
	ck_assert_uint_eq(out.len, len + DFU_SUFFIX_LEN);
	ck_assert_mem_eq(out.data, file, len);
	dfu_buf_release(&out);
}
END_TEST

START_TEST(test_write_appends_a_suffix_with_the_given_ids)
{
	size_t len = build_dfuse(file, two_targets, 1);
	struct dfu_write_opts o = {
		.format = DFU_FORMAT_DFUSE, .vid = 0x1209, .pid = 0xdb42, .bcd_device = 0x0110
	};
	struct dfu_buf out = { 0 };
	struct dfu_suffix s;

	ck_assert_int_eq(dfuse_file_parse(file, len, img, NULL, NULL), 0);
	ck_assert_int_eq(dfuse_file_write(img, &o, &out, NULL), 0);
	ck_assert_int_eq(dfu_suffix_parse(out.data, out.len, &s, NULL), 1);
	ck_assert_uint_eq(s.id_vendor, 0x1209);
	ck_assert_uint_eq(s.id_product, 0xdb42);
	ck_assert_uint_eq(s.bcd_device, 0x0110);
	ck_assert_uint_eq(s.bcd_dfu, 0x011a); /* 0 means the DfuSe value */
	dfu_buf_release(&out);
}
END_TEST

START_TEST(test_write_keeps_an_explicit_bcd_dfu)
{
	size_t len = build_dfuse(file, two_targets, 1);
	struct dfu_write_opts o = { .format = DFU_FORMAT_DFUSE, .bcd_dfu = 0x0100 };
	struct dfu_buf out = { 0 };
	struct dfu_suffix s;

	ck_assert_int_eq(dfuse_file_parse(file, len, img, NULL, NULL), 0);
	ck_assert_int_eq(dfuse_file_write(img, &o, &out, NULL), 0);
	ck_assert_int_eq(dfu_suffix_parse(out.data, out.len, &s, NULL), 1);
	ck_assert_uint_eq(s.bcd_dfu, 0x0100);
	dfu_buf_release(&out);
}
END_TEST

START_TEST(test_write_puts_segments_without_alt_into_the_default_target)
{
	static const uint8_t bytes[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	struct dfu_write_opts o = { .format = DFU_FORMAT_DFUSE };
	_cleanup_(dfu_image_freep) struct dfu_image *again = NULL;
	struct dfu_buf out = { 0 };
	struct dfu_suffix s;

	ck_assert_int_eq(dfu_image_add(img, DFU_ALT_NONE, 0x08000000, bytes, 8, NULL, NULL, NULL),
			 0);
	ck_assert_int_eq(dfu_image_add(img, DFU_ALT_NONE, 0x08001000, bytes, 4, NULL, NULL, NULL),
			 0);
	ck_assert_int_eq(dfuse_file_write(img, &o, &out, NULL), 0);
	again = reparse(&out, &s);
	ck_assert_uint_eq(again->n_targets, 1);
	ck_assert_uint_eq(again->targets[0].alt, 0);
	ck_assert(again->targets[0].named);
	ck_assert_str_eq(again->targets[0].name, "ST...");
	ck_assert_uint_eq(again->targets[0].n_elements, 2);
	ck_assert_uint_eq(again->segments[1].address, 0x08001000);
	ck_assert_int_eq(again->segments[1].alt, 0);
	dfu_buf_release(&out);
}
END_TEST

START_TEST(test_write_uses_the_requested_alt_and_name)
{
	static const uint8_t bytes[4] = { 1, 2, 3, 4 };
	struct dfu_write_opts o = { .format = DFU_FORMAT_DFUSE,
				    .alt = 2,
				    .target_name = "SPI Flash" };
	_cleanup_(dfu_image_freep) struct dfu_image *again = NULL;
	struct dfu_buf out = { 0 };
	struct dfu_suffix s;

	ck_assert_int_eq(dfu_image_add(img, DFU_ALT_NONE, 0x90000000, bytes, 4, NULL, NULL, NULL),
			 0);
	ck_assert_int_eq(dfuse_file_write(img, &o, &out, NULL), 0);
	again = reparse(&out, &s);
	ck_assert_uint_eq(again->targets[0].alt, 2);
	ck_assert_str_eq(again->targets[0].name, "SPI Flash");
	ck_assert_int_eq(again->segments[0].alt, 2);
	dfu_buf_release(&out);
}
END_TEST

START_TEST(test_write_keeps_two_targets_of_one_alt_apart)
{
	static const struct t_target t[] = {
		{ .alt = 0,
		  .named = 1,
		  .name = "one",
		  .n = 2,
		  .el = { { 0x08001234, 11, 0 }, { 0x08005678, 11, 0 } } },
		{ .alt = 0, .named = 1, .name = "two", .n = 1, .el = { { 0x08000000, 11, 0 } } },
	};
	size_t len = build_dfuse(file, t, 2);
	struct dfu_write_opts o = { .format = DFU_FORMAT_DFUSE };
	_cleanup_(dfu_image_freep) struct dfu_image *again = NULL;
	struct dfu_buf out = { 0 };
	struct dfu_suffix s;

	ck_assert_int_eq(dfuse_file_parse(file, len, img, NULL, NULL), 0);
	ck_assert_int_eq(dfuse_file_write(img, &o, &out, NULL), 0);
	again = reparse(&out, &s);
	assert_same_segments(img, again);
	assert_same_targets(img, again);
	dfu_buf_release(&out);
}
END_TEST

START_TEST(test_write_keeps_an_unnamed_target_unnamed)
{
	static const struct t_target t[] = { { .alt = 0, .n = 1, .el = { { 0x100, 4, 0 } } } };
	size_t len = build_dfuse(file, t, 1);
	struct dfu_write_opts o = { .format = DFU_FORMAT_DFUSE, .target_name = "ignored" };
	_cleanup_(dfu_image_freep) struct dfu_image *again = NULL;
	struct dfu_buf out = { 0 };
	struct dfu_suffix s;

	ck_assert_int_eq(dfuse_file_parse(file, len, img, NULL, NULL), 0);
	ck_assert_int_eq(dfuse_file_write(img, &o, &out, NULL), 0);
	again = reparse(&out, &s);
	ck_assert(!again->targets[0].named);
	ck_assert_str_eq(again->targets[0].name, "");
	dfu_buf_release(&out);
}
END_TEST

START_TEST(test_write_refuses_an_alt_above_255)
{
	static const uint8_t bytes[4] = { 1, 2, 3, 4 };
	struct dfu_write_opts o = { .format = DFU_FORMAT_DFUSE };
	struct dfu_buf out = { 0 };
	struct dfu_error e = { 0 };

	ck_assert_int_eq(dfu_image_add(img, 300, 0, bytes, 4, NULL, NULL, NULL), 0);
	ck_assert_int_eq(dfuse_file_write(img, &o, &out, &e), DFU_E_RANGE);
	ck_assert_str_eq(e.code, "dfuse.bad_alt");
	dfu_buf_release(&out);
}
END_TEST

/* --- corpus -------------------------------------------------------------- */

/* Load a corpus DfuSe file and parse it without its suffix. */
static int load_corpus(const char *name, struct dfu_suffix *s, struct dfu_error *e)
{
	_cleanup_free_ uint8_t *buf = NULL;
	size_t len = 0;
	int r;

	buf = test_corpus_load(name, &len);
	ck_assert_msg(buf != NULL, "cannot load %s", name);
	r = dfu_suffix_parse(buf, len, s, e);
	ck_assert_msg(r == 1, "%s: no valid suffix (%d)", name, r);
	return dfuse_file_parse(buf, len - s->length, img, NULL, e);
}

START_TEST(test_corpus_fwupd_firmware_has_two_targets_of_alt_0)
{
	struct dfu_error e = { 0 };
	struct dfu_suffix s;

	ck_assert_int_eq(load_corpus("fwupd_firmware.dfuse", &s, &e), 0);
	ck_assert_uint_eq(img->n_targets, 2);
	ck_assert_str_eq(img->targets[0].name, "one");
	ck_assert_uint_eq(img->targets[0].target_size, 38);
	ck_assert_uint_eq(img->targets[0].n_elements, 2);
	ck_assert_uint_eq(img->targets[0].elements[0].address, 0x08001234);
	ck_assert_uint_eq(img->targets[0].elements[1].address, 0x08005678);
	ck_assert_str_eq(img->targets[1].name, "two");
	ck_assert_uint_eq(img->targets[1].elements[0].address, 0x08000000);
	ck_assert_uint_eq(img->targets[1].elements[0].crc32, 0x0d4a1185);
	/* three elements, sorted by address in the image */
	ck_assert_uint_eq(img->n_segments, 3);
	ck_assert_uint_eq(img->segments[0].address, 0x08000000);
	ck_assert_uint_eq(img->segments[1].address, 0x08001234);
	ck_assert_uint_eq(img->segments[2].address, 0x08005678);
	for (size_t i = 0; i < 3; i++) {
		ck_assert_int_eq(img->segments[i].alt, 0);
		ck_assert_uint_eq(img->segments[i].length, 11);
		ck_assert_uint_eq(dfu_crc32(0, img->segments[i].data, 11), 0x0d4a1185);
	}
}
END_TEST

START_TEST(test_corpus_fwupd_example_uses_alt_2)
{
	struct dfu_error e = { 0 };
	struct dfu_suffix s;

	ck_assert_int_eq(load_corpus("fwupd_example_dfuse.dfu", &s, &e), 0);
	ck_assert_uint_eq(img->n_targets, 1);
	ck_assert_uint_eq(img->targets[0].alt, 2);
	ck_assert_str_eq(img->targets[0].name, "ST");
	ck_assert_uint_eq(img->n_segments, 1);
	ck_assert_int_eq(img->segments[0].alt, 2);
	ck_assert_uint_eq(img->segments[0].address, 0);
	ck_assert_uint_eq(img->segments[0].length, 12);
	ck_assert_uint_eq(dfu_crc32(0, img->segments[0].data, 12), 0xaf083b2d);
}
END_TEST

static const struct corpus_dfuse {
	const char *name;
	const char *target_name;
	bool named;
	uint32_t image_size;
	uint32_t address;
	size_t length;
	uint32_t crc32;
} corpus_single[] = {
	{ "openmv2_bootloader.dfu", "ST...", true, 14533, 0x08000000, 14240, 0x33247f83 },
	{ "openmv2_uvc.dfu", "ST...", true, 68317, 0x08010000, 68024, 0x98fa19cd },
	{ "openmv3_bootloader.dfu", "ST...", true, 14629, 0x08000000, 14336, 0x380678c8 },
	{ "openmv4_bootloader.dfu", "ST...", true, 19693, 0x08000000, 19400, 0xaf7fa659 },
	{ "openmv4_uvc.dfu", "ST...", true, 276009, 0x08040000, 275716, 0x760bcceb },
	{ "openmv7_bootloader.dfu", "ST...", true, 14813, 0x08000000, 14520, 0xeac02b2e },
	{ "f4_app_0x08004000_dfuse.dfu", "Internal Flash", true, 1465, 0x08004000, 1172,
	  0x77e52721 },
	{ "h7_app_far_reset_dfuse_unnamed.dfu", "", false, 48669, 0x08000000, 48376, 0xc5fe5bea },
};

START_TEST(test_corpus_single_element_files)
{
	const struct corpus_dfuse *c = &corpus_single[_i];
	struct dfu_error e = { 0 };
	struct dfu_suffix s;

	ck_assert_msg(load_corpus(c->name, &s, &e) == 0, "%s: %s: %s", c->name, e.code, e.message);
	ck_assert_uint_eq(img->dfuse_image_size, c->image_size);
	ck_assert_uint_eq(img->n_targets, 1);
	ck_assert_uint_eq(img->targets[0].alt, 0);
	ck_assert_int_eq(img->targets[0].named, c->named);
	ck_assert_str_eq(img->targets[0].name, c->target_name);
	ck_assert_uint_eq(img->targets[0].target_size, c->length + 8);
	ck_assert_uint_eq(img->n_segments, 1);
	ck_assert_uint_eq(img->segments[0].address, c->address);
	ck_assert_uint_eq(img->segments[0].length, c->length);
	ck_assert_uint_eq(img->targets[0].elements[0].crc32, c->crc32);
	ck_assert_uint_eq(dfu_crc32(0, img->segments[0].data, c->length), c->crc32);
}
END_TEST

START_TEST(test_corpus_vrbrain_has_two_elements)
{
	struct dfu_error e = { 0 };
	struct dfu_suffix s;

	ck_assert_int_eq(load_corpus("fwupd_dev_VRBRAIN.dfu", &s, &e), 0);
	ck_assert_uint_eq(img->targets[0].n_elements, 2);
	ck_assert_uint_eq(img->targets[0].target_size, 92389);
	ck_assert_uint_eq(img->n_segments, 2);
	ck_assert_uint_eq(img->segments[1].address, 0x080166d4);
	ck_assert_uint_eq(dfu_crc32(0, img->segments[1].data, 516), 0x684d8900);
}
END_TEST

static const char *const corpus_dfuse_files[] = {
	"fwupd_firmware.dfuse",
	"fwupd_example_dfuse.dfu",
	"fwupd_dev_VRBRAIN.dfu",
	"openmv2_bootloader.dfu",
	"openmv4_uvc.dfu",
	"f4_app_0x08004000_dfuse.dfu",
	"h7_app_far_reset_dfuse_unnamed.dfu",
};

START_TEST(test_corpus_write_then_parse_is_the_identity)
{
	const char *name = corpus_dfuse_files[_i];
	_cleanup_(dfu_image_freep) struct dfu_image *again = NULL;
	struct dfu_write_opts o = { .format = DFU_FORMAT_DFUSE };
	struct dfu_error e = { 0 };
	struct dfu_buf out = { 0 };
	struct dfu_suffix s, s2;

	ck_assert_msg(load_corpus(name, &s, &e) == 0, "%s: %s", name, e.message);
	o.vid = s.id_vendor;
	o.pid = s.id_product;
	o.bcd_device = s.bcd_device;
	o.bcd_dfu = s.bcd_dfu;
	ck_assert_int_eq(dfuse_file_write(img, &o, &out, &e), 0);
	again = reparse(&out, &s2);
	assert_same_segments(img, again);
	assert_same_targets(img, again);
	ck_assert_uint_eq(s2.id_vendor, s.id_vendor);
	ck_assert_uint_eq(s2.bcd_device, s.bcd_device);
	dfu_buf_release(&out);
}
END_TEST

START_TEST(test_corpus_write_reproduces_a_packed_file_byte_for_byte)
{
	_cleanup_free_ uint8_t *orig = NULL;
	struct dfu_write_opts o = { .format = DFU_FORMAT_DFUSE };
	struct dfu_buf out = { 0 };
	struct dfu_suffix s;
	size_t len = 0;

	orig = test_corpus_load("f4_app_0x08004000_dfuse.dfu", &len);
	ck_assert_ptr_nonnull(orig);
	ck_assert_int_eq(load_corpus("f4_app_0x08004000_dfuse.dfu", &s, NULL), 0);
	o.vid = s.id_vendor;
	o.pid = s.id_product;
	o.bcd_device = s.bcd_device;
	ck_assert_int_eq(dfuse_file_write(img, &o, &out, NULL), 0);
	ck_assert_uint_eq(out.len, len);
	ck_assert_mem_eq(out.data, orig, len);
	dfu_buf_release(&out);
}
END_TEST

START_TEST(test_corpus_element_overrun_is_truncated)
{
	struct dfu_error e = { 0 };
	struct dfu_suffix s;

	ck_assert_int_eq(load_corpus("bad_dfuse_element_overrun.dfu", &s, &e), DFU_E_FORMAT);
	ck_assert_str_eq(e.code, "dfuse.truncated");
	ck_assert_str_eq(e.message, "target 0 element 0 (52472 bytes) runs past end");
	ck_assert_str_eq(e.where, "offset 285 (0x11d)");
}
END_TEST

START_TEST(test_corpus_bad_target_signature_is_refused)
{
	struct dfu_error e = { 0 };
	struct dfu_suffix s;

	ck_assert_int_eq(load_corpus("bad_dfuse_target_signature.dfu", &s, &e), DFU_E_FORMAT);
	ck_assert_str_eq(e.code, "dfuse.bad_target_signature");
	ck_assert_str_eq(e.message, "target 0 signature 'Tarqet', expected 'Target'");
	ck_assert_str_eq(e.where, "offset 11 (0xb)");
}
END_TEST

START_TEST(test_corpus_bad_suffix_length_is_refused)
{
	_cleanup_free_ uint8_t *buf = NULL;
	struct dfu_error e = { 0 };
	struct dfu_suffix s;
	size_t len = 0;

	buf = test_corpus_load("bad_dfu_suffix_length.dfu", &len);
	ck_assert_ptr_nonnull(buf);
	ck_assert_int_eq(dfu_suffix_parse(buf, len, &s, &e), DFU_E_FORMAT);
	ck_assert_str_eq(e.code, "dfu.bad_suffix_length");
}
END_TEST

static Suite *dfuse_file_suite(void)
{
	Suite *s = suite_create("dfuse-file");
	TCase *tc;

	tc = tcase_create("parse");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_parse_reads_two_targets_with_several_elements);
	tcase_add_test(tc, test_parse_adds_every_element_under_its_alt);
	tcase_add_test(tc, test_parse_keeps_an_unnamed_target_unnamed);
	tcase_add_test(tc, test_parse_accepts_a_name_without_nul);
	tcase_add_test(tc, test_parse_accepts_identical_overlap_within_an_alt);
	tcase_add_test(tc, test_parse_keeps_alts_apart);
	tcase_add_test(tc, test_parse_accepts_zero_targets);
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_shorter_than_the_prefix_is_truncated);
	tcase_add_test(tc, test_bad_prefix_signature_is_refused);
	tcase_add_test(tc, test_version_other_than_1_is_refused);
	tcase_add_test(tc, test_image_size_must_match_the_file);
	tcase_add_test(tc, test_image_size_counting_the_suffix_is_accepted);
	tcase_add_test(tc, test_image_size_without_the_suffix_is_the_st_convention);
	tcase_add_test(tc, test_image_size_off_by_one_from_either_convention_is_refused);
	tcase_add_test(tc, test_bad_target_signature_is_refused_at_its_offset);
	tcase_add_test(tc, test_non_printable_target_signature_is_escaped);
	tcase_add_test(tc, test_missing_target_is_truncated);
	tcase_add_test(tc, test_element_running_past_the_end_is_truncated);
	tcase_add_test(tc, test_element_count_beyond_the_file_is_truncated);
	tcase_add_test(tc, test_target_size_must_match_its_elements);
	tcase_add_test(tc, test_bytes_after_the_last_target_are_trailing_data);
	tcase_add_test(tc, test_element_past_4gib_is_out_of_range);
	tcase_add_test(tc, test_conflicting_elements_of_one_alt_name_both);
	suite_add_tcase(s, tc);

	tc = tcase_create("write");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_write_then_parse_is_the_identity);
	tcase_add_test(tc, test_write_appends_a_suffix_with_the_given_ids);
	tcase_add_test(tc, test_write_keeps_an_explicit_bcd_dfu);
	tcase_add_test(tc, test_write_puts_segments_without_alt_into_the_default_target);
	tcase_add_test(tc, test_write_uses_the_requested_alt_and_name);
	tcase_add_test(tc, test_write_keeps_two_targets_of_one_alt_apart);
	tcase_add_test(tc, test_write_keeps_an_unnamed_target_unnamed);
	tcase_add_test(tc, test_write_refuses_an_alt_above_255);
	suite_add_tcase(s, tc);

	/* the cases that read the shared corpus: left out without it */
	tc = test_corpus_tcase(s, setup, teardown, 30);
	if (tc) {
		tcase_add_test(tc, test_corpus_fwupd_firmware_has_two_targets_of_alt_0);
		tcase_add_test(tc, test_corpus_fwupd_example_uses_alt_2);
		tcase_add_loop_test(tc, test_corpus_single_element_files, 0,
				    (int)ARRAY_SIZE(corpus_single));
		tcase_add_test(tc, test_corpus_vrbrain_has_two_elements);
		tcase_add_loop_test(tc, test_corpus_write_then_parse_is_the_identity, 0,
				    (int)ARRAY_SIZE(corpus_dfuse_files));
		tcase_add_test(tc, test_corpus_write_reproduces_a_packed_file_byte_for_byte);
		tcase_add_test(tc, test_corpus_element_overrun_is_truncated);
		tcase_add_test(tc, test_corpus_bad_target_signature_is_refused);
		tcase_add_test(tc, test_corpus_bad_suffix_length_is_refused);
	}
	return s;
}

int main(void)
{
	return test_run_suite(dfuse_file_suite());
}
