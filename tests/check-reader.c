// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests for the streaming reader (src/lib/image/reader.c): format detection,
 * raw binaries and the DFU suffix, the text line splitter and the reader's
 * state machine.  No corpus needed: every input is built here.  The text
 * cases go through the Intel HEX parser with tiny, valid records.
 */
#include "config.h"

#include <inttypes.h>

#include "dfuflash.h"
#include "testutil.h"

/* --- helpers ----------------------------------------------------------------- */

/* Append one Intel HEX record (with its checksum) to @out, no line ending. */
static void ihex_record(char *out, size_t size, uint8_t type, uint16_t offset, const uint8_t *data,
			size_t n)
{
	size_t used = strlen(out);
	uint8_t sum = (uint8_t)(n + (offset >> 8) + (offset & 0xff) + type);

	used += (size_t)snprintf(out + used, size - used, ":%02zX%04X%02X", n, offset, type);
	for (size_t i = 0; i < n; i++) {
		used += (size_t)snprintf(out + used, size - used, "%02X", data[i]);
		sum = (uint8_t)(sum + data[i]);
	}
	snprintf(out + used, size - used, "%02X", (uint8_t)-sum);
}

static const uint8_t four[] = { 0x01, 0x02, 0x03, 0x04 };

/* ":0400000001020304F2" + @eol1 + ":00000001FF" + @eol2 */
static void tiny_hex(char *out, size_t size, const char *eol1, const char *eol2)
{
	out[0] = '\0';
	ihex_record(out, size, 0x00, 0x0000, four, sizeof(four));
	strncat(out, eol1, size - strlen(out) - 1);
	ihex_record(out, size, 0x01, 0x0000, NULL, 0);
	strncat(out, eol2, size - strlen(out) - 1);
}

static int parse_text(const char *text, struct dfu_image **img, struct dfu_error *e)
{
	return dfu_image_parse((const uint8_t *)text, strlen(text), NULL, img, e);
}

/* Feed @len bytes in chunks of @chunk, then finish. */
static int parse_chunked(const uint8_t *buf, size_t len, size_t chunk,
			 const struct dfu_parse_opts *opts, struct dfu_image **img,
			 struct dfu_error *e)
{
	struct dfu_reader *r = NULL;
	int ret = dfu_reader_new(opts, &r);

	for (size_t off = 0; ret == 0 && off < len; off += chunk)
		ret = dfu_reader_feed(r, buf + off, chunk < len - off ? chunk : len - off, e);
	if (ret == 0)
		ret = dfu_reader_finish(r, img, e);
	dfu_reader_free(r);
	return ret;
}

/* Pseudo-random, non-text bytes (a fixed LCG: reproducible). */
static void fill_bytes(uint8_t *buf, size_t len, uint32_t seed)
{
	test_pattern(buf, len, seed);
	buf[0] = 0x00; /* never ':', 'S', 0x7f or 'D' */
}

/* --- detection ---------------------------------------------------------------- */

START_TEST(test_detect_skips_a_utf8_byte_order_mark_before_ihex)
{
	static const char hex[] = "\xef\xbb\xbf:020000040800F2\n";

	ck_assert_int_eq(dfu_format_detect((const uint8_t *)hex, strlen(hex)), DFU_FORMAT_IHEX);
}
END_TEST

START_TEST(test_detect_recognises_elf_magic)
{
	static const uint8_t elf[16] = { 0x7f, 'E', 'L', 'F', 1, 1, 1, 0 };

	ck_assert_int_eq(dfu_format_detect(elf, sizeof(elf)), DFU_FORMAT_ELF);
}
END_TEST

START_TEST(test_detect_recognises_the_dfuse_prefix)
{
	/* "DfuSe", bVersion 1, DFUImageSize, bTargets 1 */
	static const uint8_t dfuse[11] = { 'D',	 'f',  'u',  'S',  'e', 0x01,
					   0x00, 0x01, 0x00, 0x00, 0x01 };

	ck_assert_int_eq(dfu_format_detect(dfuse, sizeof(dfuse)), DFU_FORMAT_DFUSE);
}
END_TEST

START_TEST(test_detect_recognises_an_ihex_record)
{
	static const char hex[] = ":10000000000102030405060708090A0B0C0D0E0F78\r\n";

	ck_assert_int_eq(dfu_format_detect((const uint8_t *)hex, strlen(hex)), DFU_FORMAT_IHEX);
}
END_TEST

START_TEST(test_detect_skips_leading_blank_lines_before_ihex)
{
	static const char hex[] = "\r\n\n \t\r\n:020000040800F2\n";

	ck_assert_int_eq(dfu_format_detect((const uint8_t *)hex, strlen(hex)), DFU_FORMAT_IHEX);
}
END_TEST

START_TEST(test_detect_recognises_an_srec_data_record)
{
	static const char srec[] = "S1130000000102030405060708090A0B0C0D0E0F74\n";

	ck_assert_int_eq(dfu_format_detect((const uint8_t *)srec, strlen(srec)), DFU_FORMAT_SREC);
}
END_TEST

START_TEST(test_detect_recognises_an_srec_header_record)
{
	static const char srec[] = "S00F000068656C6C6F202020202000003C\n";

	ck_assert_int_eq(dfu_format_detect((const uint8_t *)srec, strlen(srec)), DFU_FORMAT_SREC);
}
END_TEST

START_TEST(test_detect_falls_back_to_bin_for_random_bytes)
{
	uint8_t buf[64];

	fill_bytes(buf, sizeof(buf), 42);
	ck_assert_int_eq(dfu_format_detect(buf, sizeof(buf)), DFU_FORMAT_BIN);
}
END_TEST

START_TEST(test_detect_falls_back_to_bin_for_a_cortex_m_vector_table)
{
	/* initial SP 0x20020000, reset 0x08000081: plain bytes, no magic */
	static const uint8_t vt[8] = { 0x00, 0x00, 0x02, 0x20, 0x81, 0x00, 0x00, 0x08 };

	ck_assert_int_eq(dfu_format_detect(vt, sizeof(vt)), DFU_FORMAT_BIN);
}
END_TEST

/* Buffers too short to hold the evidence of their format. */
static const struct {
	const char *bytes;
	size_t len;
} short_buffers[] = {
	{ "", 0 },
	{ "\x7f"
	  "EL",
	  3 },	       /* ELF magic cut short */
	{ "DfuS", 4 }, /* DfuSe prefix cut short */
	{ ":", 1 },    /* a colon and nothing after it */
	{ "\r\n:", 3 },
	{ "S", 1 },
	{ "S1", 2 },   /* S-record type without a hex digit after it */
	{ ":G0", 3 },  /* not a hex digit after the colon */
	{ "SX13", 4 }, /* not a record type */
};

START_TEST(test_detect_gives_bin_for_buffers_too_short_to_tell)
{
	ck_assert_int_eq(
	    dfu_format_detect((const uint8_t *)short_buffers[_i].bytes, short_buffers[_i].len),
	    DFU_FORMAT_BIN);
}
END_TEST

START_TEST(test_detect_needs_only_the_first_digits_of_a_record)
{
	ck_assert_int_eq(dfu_format_detect((const uint8_t *)":1", 2), DFU_FORMAT_IHEX);
	ck_assert_int_eq(dfu_format_detect((const uint8_t *)"S31", 3), DFU_FORMAT_SREC);
}
END_TEST

/* --- raw binaries and the DFU suffix ----------------------------------------- */

START_TEST(test_raw_bin_sits_at_the_base_address)
{
	struct dfu_parse_opts opts = { .have_base = true, .base = 0x08004000 };
	struct dfu_error e = { 0 };
	struct dfu_image *img = NULL;
	uint8_t buf[100];

	fill_bytes(buf, sizeof(buf), 1);

	ck_assert_int_eq(dfu_image_parse(buf, sizeof(buf), &opts, &img, &e), 0);

	ck_assert_int_eq(img->format, DFU_FORMAT_BIN);
	ck_assert(!img->address_from_file);
	ck_assert(!img->suffix.present);
	ck_assert_uint_eq(img->n_segments, 1);
	ck_assert_int_eq(img->segments[0].alt, DFU_ALT_NONE);
	ck_assert_uint_eq(img->segments[0].address, 0x08004000);
	ck_assert_uint_eq(img->segments[0].length, sizeof(buf));
	ck_assert_mem_eq(img->segments[0].data, buf, sizeof(buf));
	dfu_image_free(img);
}
END_TEST

START_TEST(test_raw_bin_without_a_base_sits_at_zero)
{
	struct dfu_image *img = NULL;
	uint8_t buf[10];

	fill_bytes(buf, sizeof(buf), 2);

	ck_assert_int_eq(dfu_image_parse(buf, sizeof(buf), NULL, &img, NULL), 0);

	ck_assert_uint_eq(img->n_segments, 1);
	ck_assert_uint_eq(img->segments[0].address, 0);
	ck_assert_uint_eq(img->segments[0].length, sizeof(buf));
	dfu_image_free(img);
}
END_TEST

START_TEST(test_empty_file_is_refused_as_bin_empty)
{
	struct dfu_error e = { 0 };
	struct dfu_image *img = NULL;

	ck_assert_int_eq(dfu_image_parse(NULL, 0, NULL, &img, &e), DFU_E_FORMAT);

	ck_assert_int_eq(e.err, DFU_E_FORMAT);
	ck_assert_str_eq(e.code, "bin.empty");
	ck_assert_ptr_null(img);
}
END_TEST

/* 64 payload bytes followed by a suffix for 1209:db42 (bcdDevice 0x0110). */
static size_t build_dfu(uint8_t out[64 + DFU_SUFFIX_LEN])
{
	fill_bytes(out, 64, 3);
	dfu_suffix_build(out, 64, 0x0110, 0xdb42, 0x1209, 0x0100, out + 64);
	return 64 + DFU_SUFFIX_LEN;
}

START_TEST(test_bin_with_a_suffix_becomes_dfu_and_the_payload_drops_the_suffix)
{
	struct dfu_parse_opts opts = { .have_base = true, .base = 0x08000000 };
	struct dfu_error e = { 0 };
	struct dfu_image *img = NULL;
	uint8_t buf[64 + DFU_SUFFIX_LEN];
	size_t len = build_dfu(buf);

	ck_assert_int_eq(dfu_image_parse(buf, len, &opts, &img, &e), 0);

	ck_assert_int_eq(img->format, DFU_FORMAT_DFU);
	ck_assert(!img->address_from_file);
	ck_assert(img->suffix.present);
	ck_assert_uint_eq(img->suffix.length, DFU_SUFFIX_LEN);
	ck_assert_uint_eq(img->suffix.id_vendor, 0x1209);
	ck_assert_uint_eq(img->suffix.id_product, 0xdb42);
	ck_assert_uint_eq(img->suffix.bcd_device, 0x0110);
	ck_assert_uint_eq(img->suffix.bcd_dfu, 0x0100);
	ck_assert_uint_eq(img->suffix.crc, (uint32_t)buf[len - 4] | (uint32_t)buf[len - 3] << 8 |
					       (uint32_t)buf[len - 2] << 16 |
					       (uint32_t)buf[len - 1] << 24);
	ck_assert_uint_eq(img->n_segments, 1);
	ck_assert_uint_eq(img->segments[0].address, 0x08000000);
	ck_assert_uint_eq(img->segments[0].length, 64);
	ck_assert_mem_eq(img->segments[0].data, buf, 64);
	dfu_image_free(img);
}
END_TEST

START_TEST(test_expect_suffix_without_a_suffix_is_refused)
{
	struct dfu_parse_opts opts = { .expect_suffix = true };
	struct dfu_error e = { 0 };
	struct dfu_image *img = NULL;
	uint8_t buf[64];

	fill_bytes(buf, sizeof(buf), 4);

	ck_assert_int_eq(dfu_image_parse(buf, sizeof(buf), &opts, &img, &e), DFU_E_FORMAT);

	ck_assert_str_eq(e.code, "dfu.no_suffix");
	/* where the signature should have been: len - 8 */
	ck_assert_msg(strncmp(e.where, "offset 56", 9) == 0 &&
			  (e.where[9] == '\0' || e.where[9] == ' '),
		      "where is \"%s\"", e.where);
	ck_assert_ptr_nonnull(e.hint);
	ck_assert_ptr_null(img);
}
END_TEST

START_TEST(test_format_dfu_without_a_suffix_is_refused)
{
	struct dfu_parse_opts opts = { .format = DFU_FORMAT_DFU };
	struct dfu_error e = { 0 };
	struct dfu_image *img = NULL;
	uint8_t buf[64];

	fill_bytes(buf, sizeof(buf), 5);

	ck_assert_int_eq(dfu_image_parse(buf, sizeof(buf), &opts, &img, &e), DFU_E_FORMAT);

	ck_assert_str_eq(e.code, "dfu.no_suffix");
}
END_TEST

START_TEST(test_forced_format_bin_keeps_the_suffix_bytes)
{
	struct dfu_parse_opts opts = { .format = DFU_FORMAT_BIN };
	struct dfu_image *img = NULL;
	uint8_t buf[64 + DFU_SUFFIX_LEN];
	size_t len = build_dfu(buf);

	ck_assert_int_eq(dfu_image_parse(buf, len, &opts, &img, NULL), 0);

	ck_assert_int_eq(img->format, DFU_FORMAT_BIN);
	ck_assert(!img->suffix.present);
	ck_assert_uint_eq(img->n_segments, 1);
	ck_assert_uint_eq(img->segments[0].length, len);
	ck_assert_mem_eq(img->segments[0].data, buf, len);
	dfu_image_free(img);
}
END_TEST

START_TEST(test_broken_suffix_crc_is_refused_with_a_raw_bytes_hint)
{
	struct dfu_error e = { 0 };
	struct dfu_image *img = NULL;
	uint8_t buf[64 + DFU_SUFFIX_LEN];
	size_t len = build_dfu(buf);

	buf[10] ^= 0x01; /* payload changed after the CRC was taken */

	ck_assert_int_eq(dfu_image_parse(buf, len, NULL, &img, &e), DFU_E_FORMAT);

	ck_assert_str_eq(e.code, "dfu.crc_mismatch");
	ck_assert_ptr_nonnull(e.hint);
	ck_assert_ptr_nonnull(strstr(e.hint, "--format bin"));
}
END_TEST

START_TEST(test_dfu_file_fed_in_chunks_equals_the_whole_buffer)
{
	struct dfu_parse_opts opts = { .have_base = true, .base = 0x100 };
	struct dfu_image *whole = NULL, *part = NULL;
	uint8_t buf[64 + DFU_SUFFIX_LEN];
	size_t len = build_dfu(buf);

	ck_assert_int_eq(dfu_image_parse(buf, len, &opts, &whole, NULL), 0);

	for (size_t chunk = 1; chunk <= 17; chunk++) {
		ck_assert_int_eq(parse_chunked(buf, len, chunk, &opts, &part, NULL), 0);
		ck_assert_int_eq(part->format, DFU_FORMAT_DFU);
		ck_assert_uint_eq(part->suffix.crc, whole->suffix.crc);
		ck_assert_uint_eq(part->n_segments, 1);
		ck_assert_uint_eq(part->segments[0].address, 0x100);
		ck_assert_uint_eq(part->segments[0].length, 64);
		ck_assert_mem_eq(part->segments[0].data, whole->segments[0].data, 64);
		dfu_image_free(part);
		part = NULL;
	}
	dfu_image_free(whole);
}
END_TEST

/* --- text: line endings and the line splitter -------------------------------- */

static void assert_tiny_image(const struct dfu_image *img)
{
	ck_assert_int_eq(img->format, DFU_FORMAT_IHEX);
	ck_assert(img->address_from_file);
	ck_assert_uint_eq(img->n_segments, 1);
	ck_assert_uint_eq(img->segments[0].address, 0);
	ck_assert_uint_eq(img->segments[0].length, sizeof(four));
	ck_assert_mem_eq(img->segments[0].data, four, sizeof(four));
}

START_TEST(test_lf_line_endings_are_recorded)
{
	struct dfu_error e = { 0 };
	struct dfu_image *img = NULL;
	char text[128];

	tiny_hex(text, sizeof(text), "\n", "\n");

	ck_assert_int_eq(parse_text(text, &img, &e), 0);

	assert_tiny_image(img);
	ck_assert_int_eq(img->text.eol, DFU_EOL_LF);
	ck_assert_uint_eq(img->text.records, 2);
	dfu_image_free(img);
}
END_TEST

START_TEST(test_crlf_line_endings_are_recorded)
{
	struct dfu_error e = { 0 };
	struct dfu_image *img = NULL;
	char text[128];

	tiny_hex(text, sizeof(text), "\r\n", "\r\n");

	ck_assert_int_eq(parse_text(text, &img, &e), 0);

	assert_tiny_image(img);
	ck_assert_int_eq(img->text.eol, DFU_EOL_CRLF);
	ck_assert_uint_eq(img->text.records, 2);
	dfu_image_free(img);
}
END_TEST

START_TEST(test_lf_and_crlf_together_are_recorded_as_mixed)
{
	struct dfu_error e = { 0 };
	struct dfu_image *img = NULL;
	char text[128];

	tiny_hex(text, sizeof(text), "\r\n", "\n");

	ck_assert_int_eq(parse_text(text, &img, &e), 0);

	assert_tiny_image(img);
	ck_assert_int_eq(img->text.eol, DFU_EOL_MIXED);
	dfu_image_free(img);
}
END_TEST

START_TEST(test_lone_cr_terminates_lines_and_is_recorded_as_mixed)
{
	struct dfu_error e = { 0 };
	struct dfu_image *img = NULL;
	char text[128];

	tiny_hex(text, sizeof(text), "\r", "\r");

	ck_assert_int_eq(parse_text(text, &img, &e), 0);

	assert_tiny_image(img);
	ck_assert_uint_eq(img->text.records, 2);
	ck_assert_int_eq(img->text.eol, DFU_EOL_MIXED);
	dfu_image_free(img);
}
END_TEST

START_TEST(test_last_line_without_a_terminator_is_still_read)
{
	struct dfu_error e = { 0 };
	struct dfu_image *img = NULL;
	char text[128];

	tiny_hex(text, sizeof(text), "\n", "");

	ck_assert_int_eq(parse_text(text, &img, &e), 0);

	assert_tiny_image(img);
	ck_assert_uint_eq(img->text.records, 2);
	ck_assert_int_eq(img->text.eol, DFU_EOL_LF);
	dfu_image_free(img);
}
END_TEST

START_TEST(test_errors_name_the_line_counted_across_terminators)
{
	struct dfu_error e = { 0 };
	struct dfu_image *img = NULL;
	char text[256] = "";

	/* line 1 LF, line 2 CRLF, line 3 lone CR, line 4 broken */
	ihex_record(text, sizeof(text), 0x00, 0x0000, four, sizeof(four));
	strcat(text, "\n");
	ihex_record(text, sizeof(text), 0x00, 0x0004, four, sizeof(four));
	strcat(text, "\r\n");
	ihex_record(text, sizeof(text), 0x00, 0x0008, four, sizeof(four));
	strcat(text, "\r:0400000C01020304E5\n:00000001FF\n"); /* checksum wrong */

	ck_assert_int_eq(parse_text(text, &img, &e), DFU_E_FORMAT);

	ck_assert_str_eq(e.code, "ihex.checksum");
	ck_assert_str_eq(e.where, "line 4");
}
END_TEST

/* A record, then a "line" of @n hex digits, then EOF. */
static char *long_line_text(size_t n, size_t *len)
{
	char head[64] = "";
	char *text;
	size_t h;

	ihex_record(head, sizeof(head), 0x00, 0x0000, four, sizeof(four));
	strcat(head, "\n:");
	h = strlen(head);
	text = malloc(h + n + 32);
	ck_assert_ptr_nonnull(text);
	memcpy(text, head, h);
	memset(text + h, '0', n);
	strcpy(text + h + n, "\n:00000001FF\n");
	*len = strlen(text);
	return text;
}

START_TEST(test_line_longer_than_64_kib_is_refused)
{
	struct dfu_error e = { 0 };
	struct dfu_image *img = NULL;
	size_t len;
	char *text = long_line_text(70000, &len);

	ck_assert_int_eq(dfu_image_parse((const uint8_t *)text, len, NULL, &img, &e), DFU_E_FORMAT);

	ck_assert_str_eq(e.code, "text.line_too_long");
	ck_assert_str_eq(e.where, "line 2");
	ck_assert_ptr_null(img);
	free(text);
}
END_TEST

START_TEST(test_line_longer_than_64_kib_is_refused_when_fed_in_chunks)
{
	struct dfu_error e = { 0 };
	struct dfu_image *img = NULL;
	size_t len;
	char *text = long_line_text(70000, &len);

	ck_assert_int_eq(parse_chunked((const uint8_t *)text, len, 4096, NULL, &img, &e),
			 DFU_E_FORMAT);

	ck_assert_str_eq(e.code, "text.line_too_long");
	ck_assert_str_eq(e.where, "line 2");
	free(text);
}
END_TEST

START_TEST(test_unterminated_last_line_longer_than_64_kib_is_refused)
{
	struct dfu_error e = { 0 };
	struct dfu_image *img = NULL;
	size_t len;
	char *text = long_line_text(70000, &len);

	len -= strlen("\n:00000001FF\n"); /* the long line ends the file */

	ck_assert_int_eq(dfu_image_parse((const uint8_t *)text, len, NULL, &img, &e), DFU_E_FORMAT);

	ck_assert_str_eq(e.code, "text.line_too_long");
	free(text);
}
END_TEST

/* A multi-record file with every kind of terminator, fed in every chunk size. */
START_TEST(test_text_fed_in_chunks_equals_the_whole_buffer)
{
	static const char *const eols[] = { "\n", "\r\n", "\r", "\r\n", "\n" };
	static const uint8_t ela[2] = { 0x08, 0x00 };
	static const uint8_t sla[4] = { 0x08, 0x00, 0x01, 0x01 };
	struct dfu_image *whole = NULL, *part = NULL;
	uint8_t data[16];
	char text[4096] = "";
	size_t len;
	int ret;

	ihex_record(text, sizeof(text), 0x04, 0, ela, sizeof(ela));
	strcat(text, "\r\n");
	for (unsigned i = 0; i < 40; i++) {
		fill_bytes(data, sizeof(data), i);
		/* a hole after record 19: two segments */
		ihex_record(text, sizeof(text), 0x00, (uint16_t)(i * 16 + (i >= 20 ? 0x100 : 0)),
			    data, sizeof(data));
		strcat(text, eols[i % 5]);
	}
	ihex_record(text, sizeof(text), 0x05, 0, sla, sizeof(sla));
	strcat(text, "\n");
	ihex_record(text, sizeof(text), 0x01, 0, NULL, 0);
	strcat(text, "\r\n");
	len = strlen(text);

	ck_assert_int_eq(parse_text(text, &whole, NULL), 0);
	ck_assert_uint_eq(whole->n_segments, 2);
	ck_assert_uint_eq(whole->segments[0].address, 0x08000000);
	ck_assert_uint_eq(whole->segments[0].length, 20 * 16);
	ck_assert_uint_eq(whole->segments[1].address, 0x08000000 + 20 * 16 + 0x100);
	ck_assert_uint_eq(whole->text.records, 43);
	ck_assert_int_eq(whole->text.eol, DFU_EOL_MIXED);

	for (size_t chunk = 1; chunk <= 70; chunk++) {
		ret = parse_chunked((const uint8_t *)text, len, chunk, NULL, &part, NULL);
		ck_assert_int_eq(ret, 0);
		ck_assert_uint_eq(part->n_segments, whole->n_segments);
		for (size_t i = 0; i < whole->n_segments; i++) {
			ck_assert_uint_eq(part->segments[i].address, whole->segments[i].address);
			ck_assert_uint_eq(part->segments[i].length, whole->segments[i].length);
			ck_assert_mem_eq(part->segments[i].data, whole->segments[i].data,
					 whole->segments[i].length);
		}
		ck_assert_uint_eq(part->text.records, whole->text.records);
		ck_assert_int_eq(part->text.eol, whole->text.eol);
		ck_assert_int_eq(part->start.kind, DFU_START_IHEX_LINEAR);
		ck_assert_uint_eq(part->start.linear, 0x08000101);
		ck_assert_uint_eq(part->n_warnings, whole->n_warnings);
		dfu_image_free(part);
		part = NULL;
	}
	dfu_image_free(whole);
}
END_TEST

/* A CRLF split between two chunks is still one CRLF terminator. */
START_TEST(test_crlf_split_across_chunks_is_one_terminator)
{
	/* an explicit format: detection would hold back the first 64 bytes */
	struct dfu_parse_opts opts = { .format = DFU_FORMAT_IHEX };
	struct dfu_reader *r = NULL;
	struct dfu_error e = { 0 };
	struct dfu_image *img = NULL;
	char text[128];
	size_t len, cr;

	tiny_hex(text, sizeof(text), "\r\n", "\r\n");
	len = strlen(text);
	cr = (size_t)(strchr(text, '\r') - text);
	ck_assert_int_eq(dfu_reader_new(&opts, &r), 0);

	/* the first chunk ends right after the first CR */
	ck_assert_int_eq(dfu_reader_feed(r, (const uint8_t *)text, cr + 1, &e), 0);
	ck_assert_int_eq(dfu_reader_feed(r, (const uint8_t *)text + cr + 1, len - cr - 1, &e), 0);
	ck_assert_int_eq(dfu_reader_finish(r, &img, &e), 0);
	dfu_reader_free(r);

	assert_tiny_image(img);
	ck_assert_int_eq(img->text.eol, DFU_EOL_CRLF);
	ck_assert_uint_eq(img->n_warnings, 0);
	dfu_image_free(img);
}
END_TEST

/* --- the reader's state machine ---------------------------------------------- */

/* More than the 64 detection bytes, with a bad checksum on line 3. */
static size_t bad_hex(char *text, size_t size)
{
	char *d;

	text[0] = '\0';
	for (uint16_t off = 0; off < 12; off += 4) {
		ihex_record(text, size, 0x00, off, four, sizeof(four));
		strncat(text, "\n", size - strlen(text) - 1);
	}
	d = &text[strlen(text) - 3]; /* first digit of line 3's checksum */
	*d = *d == '0' ? '1' : '0';
	strncat(text, ":00000001FF\n", size - strlen(text) - 1);
	return strlen(text);
}

START_TEST(test_feed_reports_a_bad_line_as_it_arrives)
{
	struct dfu_reader *r = NULL;
	struct dfu_error e = { 0 };
	char text[256];
	size_t len = bad_hex(text, sizeof(text));

	ck_assert_int_eq(dfu_reader_new(NULL, &r), 0);

	ck_assert_int_eq(dfu_reader_feed(r, (const uint8_t *)text, len, &e), DFU_E_FORMAT);

	ck_assert_str_eq(e.code, "ihex.checksum");
	ck_assert_str_eq(e.where, "line 3");
	dfu_reader_free(r);
}
END_TEST

START_TEST(test_feeding_after_a_failure_is_refused)
{
	struct dfu_reader *r = NULL;
	struct dfu_error e = { 0 }, again = { 0 };
	struct dfu_image *img = NULL;
	char text[256];
	size_t len = bad_hex(text, sizeof(text));

	ck_assert_int_eq(dfu_reader_new(NULL, &r), 0);
	ck_assert_int_eq(dfu_reader_feed(r, (const uint8_t *)text, len, &e), DFU_E_FORMAT);

	ck_assert_int_eq(dfu_reader_feed(r, (const uint8_t *)":", 1, &again), DFU_E_INVAL);
	ck_assert_str_eq(again.code, "reader.state");
	dfu_error_clear(&again);
	ck_assert_int_eq(dfu_reader_finish(r, &img, &again), DFU_E_INVAL);
	ck_assert_str_eq(again.code, "reader.state");
	ck_assert_ptr_null(img);
	dfu_reader_free(r);
}
END_TEST

START_TEST(test_feeding_after_a_failed_finish_is_refused)
{
	struct dfu_reader *r = NULL;
	struct dfu_error e = { 0 }, again = { 0 };
	struct dfu_image *img = NULL;
	char text[128];

	tiny_hex(text, sizeof(text), "\n", "");
	text[strlen(text) - strlen(":00000001FF")] = '\0'; /* no EOF record */

	ck_assert_int_eq(dfu_reader_new(NULL, &r), 0);
	ck_assert_int_eq(dfu_reader_feed(r, (const uint8_t *)text, strlen(text), &e), 0);
	ck_assert_int_eq(dfu_reader_finish(r, &img, &e), DFU_E_FORMAT);
	ck_assert_str_eq(e.code, "ihex.missing_eof");

	ck_assert_int_eq(dfu_reader_feed(r, (const uint8_t *)"\n", 1, &again), DFU_E_INVAL);
	ck_assert_str_eq(again.code, "reader.state");
	ck_assert_ptr_null(img);
	dfu_reader_free(r);
}
END_TEST

START_TEST(test_feeding_after_a_successful_finish_is_refused)
{
	struct dfu_reader *r = NULL;
	struct dfu_error e = { 0 };
	struct dfu_image *img = NULL, *img2 = NULL;
	uint8_t buf[32];

	fill_bytes(buf, sizeof(buf), 6);
	ck_assert_int_eq(dfu_reader_new(NULL, &r), 0);
	ck_assert_int_eq(dfu_reader_feed(r, buf, sizeof(buf), &e), 0);
	ck_assert_int_eq(dfu_reader_finish(r, &img, &e), 0);

	ck_assert_int_eq(dfu_reader_feed(r, buf, sizeof(buf), &e), DFU_E_INVAL);
	ck_assert_str_eq(e.code, "reader.state");
	ck_assert_int_eq(dfu_reader_finish(r, &img2, NULL), DFU_E_INVAL);
	ck_assert_ptr_null(img2);

	/* the image handed out survives the reader */
	dfu_reader_free(r);
	ck_assert_uint_eq(img->segments[0].length, sizeof(buf));
	ck_assert_mem_eq(img->segments[0].data, buf, sizeof(buf));
	dfu_image_free(img);
}
END_TEST

START_TEST(test_byte_order_mark_before_the_first_record_is_skipped)
{
	struct dfu_parse_opts opts = { .format = _i ? DFU_FORMAT_IHEX : DFU_FORMAT_AUTO };
	struct dfu_error e = { 0 };
	struct dfu_image *img = NULL;
	char text[128] = "\xef\xbb\xbf";

	tiny_hex(text + 3, sizeof(text) - 3, "\r\n", "\r\n");

	ck_assert_int_eq(parse_chunked((const uint8_t *)text, strlen(text), 2, &opts, &img, &e), 0);
	ck_assert_int_eq(img->format, DFU_FORMAT_IHEX);
	assert_tiny_image(img);
	dfu_image_free(img);
}
END_TEST

START_TEST(test_byte_order_mark_on_a_later_line_is_an_error)
{
	struct dfu_error e = { 0 };
	struct dfu_image *img = NULL;
	char text[128] = "";

	ihex_record(text, sizeof(text), 0x00, 0x0000, four, sizeof(four));
	strcat(text, "\n\xef\xbb\xbf");
	ihex_record(text, sizeof(text), 0x01, 0x0000, NULL, 0);
	strcat(text, "\n");

	ck_assert_int_lt(parse_text(text, &img, &e), 0);
	ck_assert_str_eq(e.where, "line 2");
	ck_assert_ptr_null(img);
}
END_TEST

START_TEST(test_binary_input_is_refused_as_soon_as_it_passes_the_limit)
{
	/* a 4 KiB data limit: the reader may hold 4 KiB + 1 MiB of file */
	struct dfu_parse_opts opts = { .format = _i ? DFU_FORMAT_BIN : DFU_FORMAT_AUTO,
				       .limits.max_bytes = 4096 };
	struct dfu_reader *r = NULL;
	struct dfu_error e = { 0 };
	static uint8_t chunk[64 * 1024];
	size_t fed = 0;
	int ret = 0;

	fill_bytes(chunk, sizeof(chunk), 7);
	ck_assert_int_eq(dfu_reader_new(&opts, &r), 0);
	/* an endless input: feeding must fail by itself, not at finish */
	while (ret == 0 && fed < 4 * 1024 * 1024) {
		ret = dfu_reader_feed(r, chunk, sizeof(chunk), &e);
		fed += sizeof(chunk);
	}
	ck_assert_int_eq(ret, DFU_E_RANGE);
	ck_assert_str_eq(e.code, "image.too_large");
	ck_assert_uint_le(fed, 4096 + 1024 * 1024 + sizeof(chunk));
	dfu_reader_free(r);
}
END_TEST

START_TEST(test_endless_blank_text_lines_are_refused_at_the_text_limit)
{
	/* a 16-byte data limit: text may run to 16 * 64 bytes + 1 MiB */
	struct dfu_parse_opts opts = { .format = DFU_FORMAT_IHEX, .limits.max_bytes = 16 };
	struct dfu_reader *r = NULL;
	struct dfu_error e = { 0 };
	static uint8_t lines[64 * 1024];
	size_t fed = 0;
	int ret = 0;

	memset(lines, '\n', sizeof(lines));
	ck_assert_int_eq(dfu_reader_new(&opts, &r), 0);
	while (ret == 0 && fed < 4 * 1024 * 1024) {
		ret = dfu_reader_feed(r, lines, sizeof(lines), &e);
		fed += sizeof(lines);
	}
	ck_assert_int_eq(ret, DFU_E_RANGE);
	ck_assert_str_eq(e.code, "image.too_large");
	ck_assert_uint_le(fed, 16 * 64 + 1024 * 1024 + sizeof(lines));
	dfu_reader_free(r);
}
END_TEST

START_TEST(test_a_million_blank_lines_keep_a_hundred_warnings)
{
	/* a warning per blank line, but not a million of them in memory */
	struct dfu_parse_opts opts = { .format = DFU_FORMAT_IHEX };
	struct dfu_reader *r = NULL;
	struct dfu_image *img = NULL;
	struct dfu_error e = { 0 };
	static const char rec[] = ":0400000001020304F2\n:00000001FF\n";
	static uint8_t lines[1000 * 1000];

	memset(lines, '\n', sizeof(lines));
	ck_assert_int_eq(dfu_reader_new(&opts, &r), 0);
	ck_assert_int_eq(dfu_reader_feed(r, lines, sizeof(lines), &e), 0);
	ck_assert_int_eq(dfu_reader_feed(r, (const uint8_t *)rec, strlen(rec), &e), 0);
	ck_assert_int_eq(dfu_reader_finish(r, &img, &e), 0);
	ck_assert_uint_eq(img->n_warnings, 101);
	ck_assert_str_eq(img->warnings[0], "line 1: blank line ignored");
	ck_assert_str_eq(img->warnings[100], "more warnings, not shown");
	dfu_image_free(img);
	dfu_reader_free(r);
}
END_TEST

START_TEST(test_free_without_finish_releases_a_reader_mid_line)
{
	struct dfu_parse_opts opts = { .format = DFU_FORMAT_IHEX };
	struct dfu_reader *r = NULL;
	char text[128];

	tiny_hex(text, sizeof(text), "\n", "\n");
	ck_assert_int_eq(dfu_reader_new(&opts, &r), 0);
	ck_assert_int_eq(dfu_reader_feed(r, (const uint8_t *)text, 10, NULL), 0);

	/* a partial line is pending: ASan's leak check proves it is released */
	dfu_reader_free(r);
	dfu_reader_free(NULL);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("reader");
	TCase *tc;

	tc = tcase_create("detect");
	tcase_add_test(tc, test_detect_recognises_elf_magic);
	tcase_add_test(tc, test_detect_skips_a_utf8_byte_order_mark_before_ihex);
	tcase_add_test(tc, test_detect_recognises_the_dfuse_prefix);
	tcase_add_test(tc, test_detect_recognises_an_ihex_record);
	tcase_add_test(tc, test_detect_skips_leading_blank_lines_before_ihex);
	tcase_add_test(tc, test_detect_recognises_an_srec_data_record);
	tcase_add_test(tc, test_detect_recognises_an_srec_header_record);
	tcase_add_test(tc, test_detect_falls_back_to_bin_for_random_bytes);
	tcase_add_test(tc, test_detect_falls_back_to_bin_for_a_cortex_m_vector_table);
	tcase_add_loop_test(tc, test_detect_gives_bin_for_buffers_too_short_to_tell, 0,
			    (int)(sizeof(short_buffers) / sizeof(short_buffers[0])));
	tcase_add_test(tc, test_detect_needs_only_the_first_digits_of_a_record);
	suite_add_tcase(s, tc);

	tc = tcase_create("binary");
	tcase_add_test(tc, test_raw_bin_sits_at_the_base_address);
	tcase_add_test(tc, test_raw_bin_without_a_base_sits_at_zero);
	tcase_add_test(tc, test_empty_file_is_refused_as_bin_empty);
	tcase_add_test(tc, test_bin_with_a_suffix_becomes_dfu_and_the_payload_drops_the_suffix);
	tcase_add_test(tc, test_expect_suffix_without_a_suffix_is_refused);
	tcase_add_test(tc, test_format_dfu_without_a_suffix_is_refused);
	tcase_add_test(tc, test_forced_format_bin_keeps_the_suffix_bytes);
	tcase_add_test(tc, test_broken_suffix_crc_is_refused_with_a_raw_bytes_hint);
	tcase_add_test(tc, test_dfu_file_fed_in_chunks_equals_the_whole_buffer);
	suite_add_tcase(s, tc);

	tc = tcase_create("text");
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, test_lf_line_endings_are_recorded);
	tcase_add_test(tc, test_crlf_line_endings_are_recorded);
	tcase_add_test(tc, test_lf_and_crlf_together_are_recorded_as_mixed);
	tcase_add_test(tc, test_lone_cr_terminates_lines_and_is_recorded_as_mixed);
	tcase_add_test(tc, test_last_line_without_a_terminator_is_still_read);
	tcase_add_test(tc, test_errors_name_the_line_counted_across_terminators);
	tcase_add_test(tc, test_line_longer_than_64_kib_is_refused);
	tcase_add_test(tc, test_line_longer_than_64_kib_is_refused_when_fed_in_chunks);
	tcase_add_test(tc, test_unterminated_last_line_longer_than_64_kib_is_refused);
	tcase_add_test(tc, test_text_fed_in_chunks_equals_the_whole_buffer);
	tcase_add_test(tc, test_crlf_split_across_chunks_is_one_terminator);
	tcase_add_loop_test(tc, test_byte_order_mark_before_the_first_record_is_skipped, 0, 2);
	tcase_add_test(tc, test_byte_order_mark_on_a_later_line_is_an_error);
	tcase_add_loop_test(tc, test_binary_input_is_refused_as_soon_as_it_passes_the_limit, 0, 2);
	tcase_add_test(tc, test_endless_blank_text_lines_are_refused_at_the_text_limit);
	tcase_add_test(tc, test_a_million_blank_lines_keep_a_hundred_warnings);
	suite_add_tcase(s, tc);

	tc = tcase_create("state");
	tcase_add_test(tc, test_feed_reports_a_bad_line_as_it_arrives);
	tcase_add_test(tc, test_feeding_after_a_failure_is_refused);
	tcase_add_test(tc, test_feeding_after_a_failed_finish_is_refused);
	tcase_add_test(tc, test_feeding_after_a_successful_finish_is_refused);
	tcase_add_test(tc, test_free_without_finish_releases_a_reader_mid_line);
	suite_add_tcase(s, tc);

	return test_run_suite(s);
}
