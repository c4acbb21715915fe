// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * dfu_image_write(): dispatches to the writer of each format.  The raw
 * binary and DFU-suffix writers live here; Intel HEX, S-record and DfuSe have
 * their own modules.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "image.h"

#define DEFAULT_MAX_BIN_SPAN (UINT64_C(256) << 20)

/* A raw binary holds one address space: all segments must share one alt. */
static int write_bin(const struct dfu_image *img, const struct dfu_write_opts *opts,
		     struct dfu_buf *out, struct dfu_error *e)
{
	uint64_t max = opts->max_span ? opts->max_span : DEFAULT_MAX_BIN_SPAN;
	uint8_t fill = opts->have_fill ? opts->fill : 0xff;
	uint32_t low;
	uint64_t high, span;
	size_t start;
	int r;

	if (img->n_segments == 0)
		return 0;
	for (size_t i = 1; i < img->n_segments; i++)
		if (img->segments[i].alt != img->segments[0].alt)
			return dfu_error_set(e, DFU_E_UNSUPPORTED, "bin.several_alts", NULL,
					     "the image has data for several alt settings (%d and "
					     "%d); a raw binary holds one",
					     img->segments[0].alt, img->segments[i].alt);
	dfu_image_span(img, &low, &high);
	span = high - low;
	if (span > max) {
		dfu_error_set(e, DFU_E_RANGE, "bin.span_too_large", NULL,
			      "the image spans %llu bytes (0x%08x..0x%08llx); a raw binary would "
			      "be that large (limit %llu)",
			      (unsigned long long)span, low, (unsigned long long)(high - 1),
			      (unsigned long long)max);
		dfu_error_hint(
		    e, "write Intel HEX or S-record instead (--to hex), which keep the gaps empty");
		return DFU_E_RANGE;
	}
	start = out->len;
	/* Grow once, fill the gaps, then copy the segments in. */
	r = 0;
	if (span > out->cap - out->len) {
		uint8_t *d = realloc(out->data, out->len + (size_t)span);

		if (!d)
			r = DFU_E_NOMEM;
		else {
			out->data = d;
			out->cap = out->len + (size_t)span;
		}
	}
	if (r < 0)
		return dfu_error_set(e, r, "write.nomem", NULL, "out of memory");
	memset(out->data + start, fill, (size_t)span);
	for (size_t i = 0; i < img->n_segments; i++) {
		const struct dfu_segment *s = &img->segments[i];

		memcpy(out->data + start + (s->address - low), s->data, s->length);
	}
	out->len += (size_t)span;
	return 0;
}

int dfu_image_write(const struct dfu_image *img, const struct dfu_write_opts *opts,
		    struct dfu_buf *out, struct dfu_error *e)
{
	size_t start = out->len;
	uint8_t suffix[DFU_SUFFIX_LEN];
	int r;

	switch (opts->format) {
	case DFU_FORMAT_BIN:
		return write_bin(img, opts, out, e);
	case DFU_FORMAT_DFU:
		r = write_bin(img, opts, out, e);
		if (r < 0)
			return r;
		dfu_suffix_build(out->data + start, out->len - start, opts->bcd_device, opts->pid,
				 opts->vid, opts->bcd_dfu ? opts->bcd_dfu : 0x0100, suffix);
		r = dfu_buf_append(out, suffix, sizeof(suffix));
		if (r < 0)
			return dfu_error_set(e, r, "write.nomem", NULL, "out of memory");
		return 0;
	case DFU_FORMAT_DFUSE:
		return dfuse_file_write(img, opts, out, e);
	case DFU_FORMAT_IHEX:
		return dfu_ihex_write(img, opts, out, e);
	case DFU_FORMAT_SREC:
		return dfu_srec_write(img, opts, out, e);
	case DFU_FORMAT_ELF:
	case DFU_FORMAT_AUTO:
		break;
	}
	return dfu_error_set(e, DFU_E_UNSUPPORTED, "write.unsupported_format", NULL,
			     "cannot write %s files", dfu_format_name(opts->format));
}
