// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Motorola S-record (S19/S28/S37, as in srec(5) of SRecord and the
 * M68000 Programmer's Reference Manual, appendix C): a line-by-line parser
 * fed by the reader, and the writer.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "image.h"
#include "macro.h"
#include "text-record.h"

/* 'S', type, then 2 * (count + count bytes) digits; count is one byte. */
#define MAX_RECORD_BYTES (1 + 255)

/* Address field size of S0..S9; 0 for the reserved S4. */
static const uint8_t addr_len[10] = { 2, 2, 3, 4, 0, 2, 3, 4, 3, 2 };

struct dfu_srec {
	struct dfu_text_sink sink; /* sink.ended: the termination record came */
};

int dfu_srec_new(struct dfu_image *img, const struct dfu_limits *limits, struct dfu_srec **out)
{
	struct dfu_srec *p = calloc(1, sizeof(*p));

	if (!p)
		return DFU_E_NOMEM;
	dfu_text_sink_init(&p->sink, img, limits, "srec", 2);
	*out = p;
	return 0;
}

void dfu_srec_free(struct dfu_srec *p)
{
	if (!p)
		return;
	dfu_text_sink_release(&p->sink);
	free(p);
}

/* S0: the header, kept as text with non-printables shown as '.'. */
static int set_header(struct dfu_srec *p, const uint8_t *data, size_t n, unsigned long lineno,
		      struct dfu_error *e)
{
	char *h = malloc(n + 1);

	if (!h)
		return dfu_text_nomem(&p->sink, lineno, e);
	for (size_t i = 0; i < n; i++)
		h[i] = (data[i] >= 0x20 && data[i] < 0x7f) ? (char)data[i] : '.';
	h[n] = '\0';
	free(p->sink.img->text.srec_header);
	p->sink.img->text.srec_header = h;
	return 0;
}

/* One decoded record. */
struct srec_record {
	int type; /* 0..9, not 4 */
	uint8_t count;
	uint32_t address;
	const uint8_t *data;
	size_t ndata;
};

/* 'S' and the type digit; the type in *@type. */
static int record_type(const char *line, size_t len, unsigned long lineno, int *type,
		       struct dfu_error *e)
{
	if (line[0] != 'S')
		return dfu_text_fail(e, DFU_E_FORMAT, "srec.bad_start", lineno,
				     "line %lu does not start with 'S'", lineno);
	if (len < 2)
		return dfu_text_fail(e, DFU_E_FORMAT, "srec.bad_record", lineno,
				     "record has no type digit after 'S'");
	if (line[1] < '0' || line[1] > '9') {
		unsigned char c = (unsigned char)line[1];

		if (c >= 0x20 && c < 0x7f)
			return dfu_text_fail(e, DFU_E_FORMAT, "srec.bad_record_type", lineno,
					     "unknown record type 'S%c'", c);
		return dfu_text_fail(e, DFU_E_FORMAT, "srec.bad_record_type", lineno,
				     "unknown record type 'S' followed by byte 0x%02x", c);
	}
	*type = line[1] - '0';
	if (*type == 4)
		return dfu_text_fail(e, DFU_E_FORMAT, "srec.bad_record_type", lineno,
				     "record type S4 is reserved");
	return 0;
}

/* Check the @n bytes decoded into @rec (@sum: their sum) and pick out the fields. */
static int split_record(const uint8_t *rec, size_t n, uint8_t sum, unsigned long lineno,
			struct srec_record *out, struct dfu_error *e)
{
	uint8_t alen;

	if (n == 0)
		return dfu_text_fail(e, DFU_E_FORMAT, "srec.bad_record", lineno,
				     "S%d record has no byte count", out->type);
	out->count = rec[0];
	/* also a line longer than any count can say */
	if (out->count != n - 1)
		return dfu_text_fail(e, DFU_E_FORMAT, "srec.length_mismatch", lineno,
				     "byte count says %u bytes follow, record has %zu", out->count,
				     n - 1);
	/* The checksum is the ones' complement of the sum of count, address
	 * and data bytes. */
	sum = (uint8_t) ~(sum - rec[n - 1]);
	if (rec[n - 1] != sum)
		return dfu_text_fail(e, DFU_E_FORMAT, "srec.checksum", lineno,
				     "checksum 0x%02x wrong, expected 0x%02x", rec[n - 1], sum);
	alen = addr_len[out->type];
	if (out->count < alen + 1)
		return dfu_text_fail(e, DFU_E_FORMAT, "srec.bad_record", lineno,
				     "S%d record of %u bytes is too short for its %u-byte address",
				     out->type, out->count, alen);
	out->address = 0;
	for (unsigned i = 0; i < alen; i++)
		out->address = out->address << 8 | rec[1 + i];
	out->data = rec + 1 + alen;
	out->ndata = out->count - alen - 1u;
	return 0;
}

/* Types 5..9 carry no data. */
static int check_no_data(const struct srec_record *r, unsigned long lineno, struct dfu_error *e)
{
	if (r->ndata != 0)
		return dfu_text_fail(e, DFU_E_FORMAT, "srec.bad_record", lineno,
				     "S%d record carries %zu data bytes (must be 0)", r->type,
				     r->ndata);
	return 0;
}

/* S5/S6: the count of S1/S2/S3 records so far (S6: 24-bit). */
static int count_record(const struct dfu_srec *p, const struct srec_record *r, unsigned long lineno,
			struct dfu_error *e)
{
	const struct dfu_text_info *t = &p->sink.img->text;
	int err = check_no_data(r, lineno, e);

	if (err < 0)
		return err;
	if (r->address != t->data_records)
		return dfu_text_fail(e, DFU_E_FORMAT, "srec.bad_count", lineno,
				     "S%d record counts %u data records, %lu came before it",
				     r->type, r->address, t->data_records);
	return 0;
}

/* S7/S8/S9: the start address, and the end of the records. */
static int termination_record(struct dfu_srec *p, const struct srec_record *r, unsigned long lineno,
			      struct dfu_error *e)
{
	int err = check_no_data(r, lineno, e);

	if (err < 0)
		return err;
	p->sink.img->start = (struct dfu_start){
		.kind = DFU_START_SREC,
		.linear = r->address,
		.srec_type = (uint8_t)r->type,
	};
	p->sink.ended = true;
	return 0;
}

int dfu_srec_line(struct dfu_srec *p, const char *line, size_t len, unsigned long lineno,
		  struct dfu_error *e)
{
	struct dfu_text_info *t = &p->sink.img->text;
	uint8_t rec[MAX_RECORD_BYTES];
	struct srec_record sr = { 0 };
	uint8_t sum;
	size_t n;
	int r;

	r = dfu_text_begin_line(&p->sink, line, &len, lineno, "the termination record", e);
	if (r != 0)
		return r < 0 ? r : 0;
	r = record_type(line, len, lineno, &sr.type, e);
	if (r < 0)
		return r;
	r = dfu_text_decode_line(&p->sink, line, len, rec, sizeof(rec), &n, &sum, lineno, e);
	if (r < 0)
		return r;
	r = split_record(rec, n, sum, lineno, &sr, e);
	if (r < 0)
		return r;
	t->records++;
	t->types_seen |= UINT32_C(1) << sr.type;

	switch (sr.type) {
	case 0:
		return set_header(p, sr.data, sr.ndata, lineno, e);
	case 1:
	case 2:
	case 3:
		t->data_records++;
		return dfu_text_add(&p->sink, sr.address, sr.data, sr.ndata, lineno, e);
	case 5:
	case 6:
		return count_record(p, &sr, lineno, e);
	default: /* 7, 8, 9 */
		return termination_record(p, &sr, lineno, e);
	}
}

int dfu_srec_finish(struct dfu_srec *p, unsigned long lines, struct dfu_error *e)
{
	/* srec_cat writes no termination record when given no start address
	 * (f4_app_0x08004000_srec_cat.mot): accept, but say so. */
	if (!p->sink.ended && dfu_image_warn(p->sink.img, "no S7/S8/S9 termination record") < 0)
		return dfu_error_set(e, DFU_E_NOMEM, "srec.nomem", "end of file", "out of memory");
	return 0;
}

/* --- writer -------------------------------------------------------------- */

#define DEFAULT_RECORD_LEN 16
#define DEFAULT_HEADER "dfuflash"

/* Emit "Sn" count address data checksum '\n' (upper case); @alen 2..4. */
static void out_record(struct dfu_text_out *o, int type, uint32_t address, unsigned alen,
		       const uint8_t *data, size_t n)
{
	uint8_t count = (uint8_t)(alen + n + 1), sum = count;
	char *c = dfu_text_out_reserve(o, 2 + 2 * (size_t)(count + 1) + 1);

	*c++ = 'S';
	*c++ = (char)('0' + type);
	c = dfu_text_put_hex(c, count);
	for (unsigned i = alen; i-- > 0;) {
		c = dfu_text_put_hex(c, (uint8_t)(address >> (8 * i)));
		sum += (uint8_t)(address >> (8 * i));
	}
	for (size_t i = 0; i < n; i++) {
		c = dfu_text_put_hex(c, data[i]);
		sum += data[i];
	}
	c = dfu_text_put_hex(c, (uint8_t)~sum);
	*c++ = '\n';
	o->len = (size_t)(c - o->data);
}

int dfu_srec_write(const struct dfu_image *img, const struct dfu_write_opts *opts,
		   struct dfu_buf *out, struct dfu_error *e)
{
	_cleanup_free_ struct dfu_text_out *o = NULL;
	unsigned rec_len = opts && opts->record_len ? opts->record_len : DEFAULT_RECORD_LEN;
	uint32_t top = 0; /* highest address to encode */
	unsigned alen, max_len;
	int dtype;
	unsigned long n_data = 0;
	const char *hdr = img->text.srec_header ? img->text.srec_header : DEFAULT_HEADER;

	/* The narrowest type that holds every data address and the start. */
	for (size_t k = 0; k < img->n_segments; k++) {
		const struct dfu_segment *s = &img->segments[k];

		if (s->length && s->address + (uint32_t)(s->length - 1) > top)
			top = s->address + (uint32_t)(s->length - 1);
	}
	if (img->start.kind != DFU_START_NONE && img->start.linear > top)
		top = img->start.linear;
	dtype = top >= 0x1000000 ? 3 : top >= 0x10000 ? 2 : 1;
	alen = addr_len[dtype];
	/* count (one byte) = address + data + checksum */
	max_len = 255 - alen - 1;
	if (rec_len > max_len)
		return dfu_error_set(e, DFU_E_INVAL, "srec.record_len", NULL,
				     "record length %u out of range for S%d records (1..%u)",
				     rec_len, dtype, max_len);

	o = dfu_text_out_new(out);
	if (!o)
		return dfu_error_set(e, DFU_E_NOMEM, "srec.nomem", NULL, "out of memory");

	out_record(o, 0, 0, 2, (const uint8_t *)hdr, MIN(strlen(hdr), (size_t)252));
	for (size_t k = 0; k < img->n_segments; k++) {
		const struct dfu_segment *s = &img->segments[k];

		for (size_t off = 0; off < s->length; off += rec_len) {
			size_t n = MIN(s->length - off, (size_t)rec_len);

			out_record(o, dtype, s->address + (uint32_t)off, alen, s->data + off, n);
			n_data++;
		}
	}
	/* S5 holds a 16-bit count, S6 a 24-bit one; beyond that none is written
	 * (the record is optional). */
	if (n_data <= 0xffff)
		out_record(o, 5, (uint32_t)n_data, 2, NULL, 0);
	else if (n_data <= 0xffffff)
		out_record(o, 6, (uint32_t)n_data, 3, NULL, 0);
	/* S1 data ends with S9, S2 with S8, S3 with S7. */
	out_record(o, 10 - dtype, img->start.kind != DFU_START_NONE ? img->start.linear : 0, alen,
		   NULL, 0);
	dfu_text_out_flush(o);
	if (o->err < 0)
		return dfu_error_set(e, o->err, "srec.nomem", NULL, "out of memory");
	return 0;
}
