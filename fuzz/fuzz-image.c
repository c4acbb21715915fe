// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libFuzzer harness for the image readers and writers: the input is parsed
 * with format detection and then forced through every reader; whatever
 * parses is written back as bin, ihex, srec and DfuSe, and the text and bin
 * outputs are read again and must hold the same bytes.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dfuflash.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)                                                                                   \
	do {                                                                                       \
		if (!(x))                                                                          \
			abort();                                                                   \
	} while (0)

/* Small caps keep one run fast: inputs are a few KiB, images stay below. */
#define FUZZ_MAX_BYTES (UINT64_C(1) << 20)
#define FUZZ_MAX_SPAN (UINT64_C(1) << 20)

static const enum dfu_format parse_formats[] = {
	DFU_FORMAT_AUTO,  DFU_FORMAT_IHEX, DFU_FORMAT_SREC, DFU_FORMAT_ELF,
	DFU_FORMAT_DFUSE, DFU_FORMAT_DFU,  DFU_FORMAT_BIN,
};

static const enum dfu_format write_formats[] = {
	DFU_FORMAT_BIN,
	DFU_FORMAT_IHEX,
	DFU_FORMAT_SREC,
	DFU_FORMAT_DFUSE,
};

/* The model's promises: sorted by (alt, address), no overlap or touching
 * within an alt, nothing past 2^32. */
static void check_image(const struct dfu_image *img)
{
	for (size_t i = 0; i < img->n_segments; i++) {
		const struct dfu_segment *s = &img->segments[i];

		CHECK(s->length > 0);
		CHECK((uint64_t)s->address + s->length <= (UINT64_C(1) << 32));
		if (i > 0) {
			const struct dfu_segment *p = &img->segments[i - 1];

			CHECK(p->alt <= s->alt);
			if (p->alt == s->alt)
				CHECK((uint64_t)p->address + p->length < s->address);
		}
	}
}

static bool single_alt(const struct dfu_image *img)
{
	for (size_t i = 1; i < img->n_segments; i++)
		if (img->segments[i].alt != img->segments[0].alt)
			return false;
	return true;
}

/* Every byte of @a is in @b at the same address (alts ignored: only used
 * for images with a single alt). */
static void check_same_bytes(const struct dfu_image *a, const struct dfu_image *b)
{
	int alt = b->n_segments ? b->segments[0].alt : DFU_ALT_NONE;

	CHECK(dfu_image_data_bytes(a) == dfu_image_data_bytes(b));
	for (size_t i = 0; i < a->n_segments; i++) {
		const struct dfu_segment *s = &a->segments[i];
		uint8_t *buf = malloc(s->length);

		CHECK(buf != NULL);
		CHECK(dfu_image_read(b, alt, s->address, buf, s->length, 0) == s->length);
		CHECK(memcmp(buf, s->data, s->length) == 0);
		free(buf);
	}
}

static void write_back(const struct dfu_image *img, uint8_t knob)
{
	bool roundtrip = single_alt(img);
	uint32_t low = 0;
	uint64_t high = 0;

	dfu_image_span(img, &low, &high);
	for (size_t k = 0; k < sizeof(write_formats) / sizeof(write_formats[0]); k++) {
		struct dfu_write_opts wo = {
			.format = write_formats[k],
			.max_span = FUZZ_MAX_SPAN,
			.fill = 0xff,
			.have_fill = (knob & 0x10) != 0,
			.vid = 0x0483,
			.pid = 0xdf11,
			.bcd_device = 0xffff,
			.record_len = (knob & 0x20) ? (unsigned)(knob >> 6) * 8 + 1 : 0,
			.target_name = (knob & 0x40) ? "fuzz" : NULL,
		};
		struct dfu_parse_opts po = { .format = write_formats[k] };
		struct dfu_buf out = { 0 };
		struct dfu_image *again = NULL;
		struct dfu_error e = { 0 };
		int r;

		r = dfu_image_write(img, &wo, &out, &e);
		if (r < 0) {
			CHECK(e.err == r);
			dfu_buf_release(&out);
			continue;
		}
		/* Read our own output back: the reader must take what the writer
		 * makes.  A bin carries no address: give it the lowest one.  An
		 * empty bin is an empty file, which a reader may well refuse. */
		if (write_formats[k] == DFU_FORMAT_BIN) {
			if (img->n_segments == 0) {
				dfu_buf_release(&out);
				continue;
			}
			po.have_base = true;
			po.base = low;
		}
		dfu_error_clear(&e);
		r = dfu_image_parse(out.data, out.len, &po, &again, &e);
		CHECK(r == 0);
		check_image(again);
		if (write_formats[k] == DFU_FORMAT_BIN) {
			/* gaps come back filled: the whole span is there */
			if (roundtrip)
				CHECK(dfu_image_data_bytes(again) == high - low);
		} else if (roundtrip) {
			check_same_bytes(img, again);
		} else {
			CHECK(dfu_image_data_bytes(again) == dfu_image_data_bytes(img) ||
			      write_formats[k] != DFU_FORMAT_DFUSE);
		}
		dfu_image_free(again);
		dfu_buf_release(&out);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* The last byte picks the options, so the rest of the input stays a
	 * well-formed file and seeds keep working; formats are all tried. */
	uint8_t knob = size ? data[size - 1] : 0;

	for (size_t k = 0; k < sizeof(parse_formats) / sizeof(parse_formats[0]); k++) {
		struct dfu_parse_opts po = {
			.format = parse_formats[k],
			.expect_suffix = (knob & 0x01) != 0,
			.have_base = (knob & 0x02) != 0,
			.base = (knob & 0x04) ? 0xfffffff0u : 0x08000000u,
			.limits = { .max_bytes = FUZZ_MAX_BYTES,
				    .max_span = (knob & 0x08) ? 0x10000 : 0 },
		};
		struct dfu_image *img = NULL;
		struct dfu_error e = { 0 };
		int r;

		r = dfu_image_parse(data, size, &po, &img, &e);
		if (r < 0) {
			CHECK(img == NULL);
			CHECK(e.err == r && e.code[0] != '\0');
			continue;
		}
		CHECK(img != NULL);
		check_image(img);
		CHECK(dfu_image_data_bytes(img) <= FUZZ_MAX_BYTES);
		write_back(img, knob);
		dfu_image_free(img);
	}
	return 0;
}
