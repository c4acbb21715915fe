// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Intel HEX (Intel "Hexadecimal Object File Format Specification" rev. A,
 * 1988): a line-by-line parser fed by the reader, and the writer.  Record
 * types 00-05; 16-bit, segmented (02) and linear (04) addressing.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "image.h"
#include "macro.h"
#include "text-record.h"

enum {
	REC_DATA = 0x00,
	REC_EOF = 0x01,
	REC_ESA = 0x02, /* extended segment address: base = SBA * 16 */
	REC_SSA = 0x03, /* start segment address: CS:IP */
	REC_ELA = 0x04, /* extended linear address: base = ULBA << 16 */
	REC_SLA = 0x05, /* start linear address: EIP */
};

/* A record: ':' + 2 * (count + address(2) + type + data + checksum) digits. */
#define MAX_RECORD_BYTES (255 + 5)

struct dfu_ihex {
	struct dfu_text_sink sink; /* sink.ended: the EOF record came */
	uint32_t base;		   /* added to record offsets */
	bool segmented;		   /* base came from a type 02 record: offsets wrap at 64 KiB */
	bool have_start;
};

int dfu_ihex_new(struct dfu_image *img, const struct dfu_limits *limits, struct dfu_ihex **out)
{
	struct dfu_ihex *p = calloc(1, sizeof(*p));

	if (!p)
		return DFU_E_NOMEM;
	dfu_text_sink_init(&p->sink, img, limits, "ihex", 1);
	*out = p;
	return 0;
}

void dfu_ihex_free(struct dfu_ihex *p)
{
	if (!p)
		return;
	dfu_text_sink_release(&p->sink);
	free(p);
}

static int data_record(struct dfu_ihex *p, uint16_t offset, const uint8_t *data, size_t n,
		       unsigned long lineno, struct dfu_error *e)
{
	struct dfu_text_sink *s = &p->sink;
	size_t first;
	int r;

	if (offset + n <= 0x10000)
		return dfu_text_add(s, p->base + offset, data, n, lineno, e);

	if (!p->segmented) {
		/* Linear: address = (LBA + DRLO + DRI) mod 4G, so the bytes
		 * continue past the 64 KiB boundary (Intel spec, type 04).  The
		 * mod 4G wrap is refused: no real file means it. */
		r = dfu_text_check_span(s, p->base + offset, n, lineno, e);
		if (r < 0)
			return r;
		if (dfu_image_warn(s->img,
				   "line %lu: record crosses a 64 KiB boundary (placed linearly)",
				   lineno) < 0)
			return dfu_text_nomem(s, lineno, e);
		return dfu_text_add(s, p->base + offset, data, n, lineno, e);
	}

	/* Segmented: address = SBA*16 + ((DRLO + DRI) mod 64K), the tail wraps
	 * to the start of the segment (Intel spec, type 02). */
	if (dfu_image_warn(s->img, "line %lu: record wraps inside its 64 KiB segment", lineno) < 0)
		return dfu_text_nomem(s, lineno, e);
	first = 0x10000 - offset;
	r = dfu_text_add(s, p->base + offset, data, first, lineno, e);
	if (r < 0)
		return r;
	return dfu_text_add(s, p->base, data + first, n - first, lineno, e);
}

static int set_start(struct dfu_ihex *p, const struct dfu_start *s, unsigned long lineno,
		     struct dfu_error *e)
{
	struct dfu_image *img = p->sink.img;
	const struct dfu_start *old = &img->start;

	if (p->have_start && (old->kind != s->kind || old->linear != s->linear) &&
	    dfu_image_warn(img, "line %lu: second start address record replaces the first",
			   lineno) < 0)
		return dfu_text_nomem(&p->sink, lineno, e);
	img->start = *s;
	p->have_start = true;
	return 0;
}

/* One decoded record. */
struct ihex_record {
	uint8_t count, type;
	uint16_t offset;
	const uint8_t *data; /* count bytes */
};

/* Check the @n bytes decoded into @rec (@sum: their sum) and pick out the fields. */
static int split_record(const uint8_t *rec, size_t n, uint8_t sum, unsigned long lineno,
			struct ihex_record *out, struct dfu_error *e)
{
	size_t ndata;

	if (n < 5)
		return dfu_text_fail(e, DFU_E_FORMAT, "ihex.bad_record", lineno,
				     "record of %zu bytes is too short (at least 5 needed)", n);
	out->count = rec[0];
	ndata = n - 5;
	/* also a line longer than any count can say */
	if (out->count != ndata)
		return dfu_text_fail(e, DFU_E_FORMAT, "ihex.length_mismatch", lineno,
				     "byte count says %u data bytes, record has %zu", out->count,
				     ndata);
	if (sum != 0)
		return dfu_text_fail(e, DFU_E_FORMAT, "ihex.checksum", lineno,
				     "checksum 0x%02x wrong, expected 0x%02x", rec[n - 1],
				     (uint8_t)(rec[n - 1] - sum));
	out->offset = (uint16_t)(rec[1] << 8 | rec[2]);
	out->type = rec[3];
	out->data = rec + 4;
	if (out->type > REC_SLA)
		return dfu_text_fail(e, DFU_E_FORMAT, "ihex.bad_record_type", lineno,
				     "unknown record type 0x%02x", out->type);
	return 0;
}

static int eof_record(struct dfu_ihex *p, const struct ihex_record *r, unsigned long lineno,
		      struct dfu_error *e)
{
	if (r->count != 0)
		return dfu_text_fail(e, DFU_E_FORMAT, "ihex.bad_record", lineno,
				     "EOF record carries %u data bytes (must be 0)", r->count);
	/* Intel's 8-bit format let the EOF record's address field hold a
	 * start address; it is meaningless here, so no error. */
	p->sink.ended = true;
	return 0;
}

/* Types 02-05 carry exactly @count data bytes and 0 in the address field. */
static int check_fixed_record(const struct ihex_record *r, unsigned count, unsigned long lineno,
			      struct dfu_error *e)
{
	if (r->count != count)
		return dfu_text_fail(e, DFU_E_FORMAT, "ihex.bad_record", lineno,
				     "type %02x record has %u data bytes (must be %u)", r->type,
				     r->count, count);
	if (r->offset != 0)
		return dfu_text_fail(e, DFU_E_FORMAT, "ihex.bad_record", lineno,
				     "type %02x record has address field 0x%04x (must be 0)",
				     r->type, r->offset);
	return 0;
}

/* 02 (segment base: SBA * 16) and 04 (linear base: ULBA << 16). */
static int address_record(struct dfu_ihex *p, const struct ihex_record *r, unsigned long lineno,
			  struct dfu_error *e)
{
	uint32_t v;
	int err = check_fixed_record(r, 2, lineno, e);

	if (err < 0)
		return err;
	v = (uint32_t)(r->data[0] << 8 | r->data[1]);
	p->segmented = r->type == REC_ESA;
	p->base = p->segmented ? v << 4 : v << 16;
	return 0;
}

/* 03 (CS:IP) and 05 (EIP). */
static int start_record(struct dfu_ihex *p, const struct ihex_record *r, unsigned long lineno,
			struct dfu_error *e)
{
	const uint8_t *d = r->data;
	struct dfu_start st = { 0 };
	int err = check_fixed_record(r, 4, lineno, e);

	if (err < 0)
		return err;
	if (r->type == REC_SSA) {
		st.kind = DFU_START_IHEX_CS_IP;
		st.cs = (uint16_t)(d[0] << 8 | d[1]);
		st.ip = (uint16_t)(d[2] << 8 | d[3]);
		/* 8086 real mode: CS*16 + IP, at most 0x10ffef. */
		st.linear = (uint32_t)st.cs * 16 + st.ip;
	} else {
		st.kind = DFU_START_IHEX_LINEAR;
		st.linear =
		    (uint32_t)d[0] << 24 | (uint32_t)d[1] << 16 | (uint32_t)d[2] << 8 | d[3];
	}
	return set_start(p, &st, lineno, e);
}

int dfu_ihex_line(struct dfu_ihex *p, const char *line, size_t len, unsigned long lineno,
		  struct dfu_error *e)
{
	struct dfu_text_info *t = &p->sink.img->text;
	uint8_t rec[MAX_RECORD_BYTES];
	struct ihex_record ir = { 0 };
	uint8_t sum;
	size_t n;
	int r;

	r = dfu_text_begin_line(&p->sink, line, &len, lineno, "the EOF record", e);
	if (r != 0)
		return r < 0 ? r : 0;
	if (line[0] != ':')
		return dfu_text_fail(e, DFU_E_FORMAT, "ihex.bad_start", lineno,
				     "line %lu does not start with ':'", lineno);
	r = dfu_text_decode_line(&p->sink, line, len, rec, sizeof(rec), &n, &sum, lineno, e);
	if (r < 0)
		return r;
	r = split_record(rec, n, sum, lineno, &ir, e);
	if (r < 0)
		return r;
	t->records++;
	t->types_seen |= UINT32_C(1) << ir.type;

	switch (ir.type) {
	case REC_DATA:
		t->data_records++;
		if (ir.count == 0)
			return 0;
		return data_record(p, ir.offset, ir.data, ir.count, lineno, e);
	case REC_EOF:
		return eof_record(p, &ir, lineno, e);
	case REC_ESA:
	case REC_ELA:
		return address_record(p, &ir, lineno, e);
	case REC_SSA:
	case REC_SLA:
		return start_record(p, &ir, lineno, e);
	}
	return 0;
}

int dfu_ihex_finish(struct dfu_ihex *p, unsigned long lines, struct dfu_error *e)
{
	/* A file cut short still parses record by record; only the missing EOF
	 * record tells, so it is an error rather than a warning. */
	if (!p->sink.ended)
		return dfu_error_set(e, DFU_E_FORMAT, "ihex.missing_eof", "end of file",
				     "no EOF (type 01) record");
	return 0;
}

/* --- writer -------------------------------------------------------------- */

#define DEFAULT_RECORD_LEN 16

/* Emit one record: ':' count address type data checksum '\n' (upper case). */
static void out_record(struct dfu_text_out *o, uint8_t type, uint16_t offset, const uint8_t *data,
		       size_t n)
{
	uint8_t sum = (uint8_t)(n + (offset >> 8) + (offset & 0xff) + type);
	char *c = dfu_text_out_reserve(o, 1 + 2 * (n + 5) + 1);

	*c++ = ':';
	c = dfu_text_put_hex(c, (uint8_t)n);
	c = dfu_text_put_hex(c, (uint8_t)(offset >> 8));
	c = dfu_text_put_hex(c, (uint8_t)offset);
	c = dfu_text_put_hex(c, type);
	for (size_t i = 0; i < n; i++) {
		c = dfu_text_put_hex(c, data[i]);
		sum += data[i];
	}
	c = dfu_text_put_hex(c, (uint8_t)-sum);
	*c++ = '\n';
	o->len = (size_t)(c - o->data);
}

int dfu_ihex_write(const struct dfu_image *img, const struct dfu_write_opts *opts,
		   struct dfu_buf *out, struct dfu_error *e)
{
	_cleanup_free_ struct dfu_text_out *o = NULL;
	unsigned rec_len = opts && opts->record_len ? opts->record_len : DEFAULT_RECORD_LEN;
	uint32_t upper = 0; /* ULBA in effect: 0 until a type 04 record says otherwise */

	if (rec_len > 255)
		return dfu_error_set(e, DFU_E_INVAL, "ihex.record_len", NULL,
				     "record length %u out of range (1..255)", rec_len);
	o = dfu_text_out_new(out);
	if (!o)
		return dfu_error_set(e, DFU_E_NOMEM, "ihex.nomem", NULL, "out of memory");

	for (size_t k = 0; k < img->n_segments; k++) {
		const struct dfu_segment *s = &img->segments[k];
		uint64_t addr = s->address, end = addr + s->length;

		while (addr < end) {
			/* Never let a record cross a 64 KiB boundary: readers
			 * disagree on what that means (see ihex_record_crosses_64k). */
			uint64_t room = 0x10000 - (addr & 0xffff);
			size_t n = (size_t)MIN(MIN(room, end - addr), (uint64_t)rec_len);

			if ((uint32_t)(addr >> 16) != upper) {
				uint8_t ula[2] = { (uint8_t)(addr >> 24), (uint8_t)(addr >> 16) };

				upper = (uint32_t)(addr >> 16);
				out_record(o, REC_ELA, 0, ula, 2);
			}
			out_record(o, REC_DATA, (uint16_t)addr, s->data + (addr - s->address), n);
			addr += n;
		}
	}

	switch (img->start.kind) {
	case DFU_START_NONE:
		break;
	case DFU_START_IHEX_CS_IP: {
		uint8_t b[4] = { (uint8_t)(img->start.cs >> 8), (uint8_t)img->start.cs,
				 (uint8_t)(img->start.ip >> 8), (uint8_t)img->start.ip };

		out_record(o, REC_SSA, 0, b, 4);
		break;
	}
	default: {
		uint32_t v = img->start.linear;
		uint8_t b[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8),
				 (uint8_t)v };

		out_record(o, REC_SLA, 0, b, 4);
		break;
	}
	}
	out_record(o, REC_EOF, 0, NULL, 0);
	dfu_text_out_flush(o);
	if (o->err < 0)
		return dfu_error_set(e, o->err, "ihex.nomem", NULL, "out of memory");
	return 0;
}
