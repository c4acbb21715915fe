// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Motorola S-record (S19/S28/S37, as in srec(5) of SRecord and the
 * M68000 Programmer's Reference Manual, appendix C): a line-by-line parser
 * fed by the reader, and the writer.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "dfuflash-internal.h"
#include "macro.h"

#define ADDR_SPACE (UINT64_C(1) << 32)

/* 'S', type, then 2 * (count + count bytes) digits; count is one byte. */
#define MAX_RECORD_BYTES (1 + 255)

/* Address field size of S0..S9; 0 for the reserved S4. */
static const uint8_t addr_len[10] = { 2, 2, 3, 4, 0, 2, 3, 4, 3, 2 };

/*
 * Hex digit lookup: low nibble the value, HEX_OK for every digit,
 * HEX_LOWER/HEX_UPPER for letters, 0 for anything else (same table as
 * ihex.c: one lookup per digit keeps big files fast).
 */
#define HEX_OK 0x40
#define HEX_LOWER 0x10
#define HEX_UPPER 0x20
#define D(v) [('0' + v)] = (v | HEX_OK)
#define L(v) \
	[('a' + v - 10)] = (v | HEX_OK | HEX_LOWER), [('A' + v - 10)] = (v | HEX_OK | HEX_UPPER)
static const uint8_t hex_tab[256] = {
	D(0), D(1), D(2), D(3), D(4), D(5), D(6), D(7), D(8), D(9),
	L(10), L(11), L(12), L(13), L(14), L(15),
};
#undef D
#undef L

/*
 * Decode 2*@n hex digits at @s into @out and add the bytes to *@sum.
 * Returns the HEX_LOWER/HEX_UPPER bits of the letters seen plus HEX_OK, or 0
 * when a character is not a hex digit.  This is the inner loop of a big
 * file, so on little-endian hosts it takes eight digits per step (SWAR): for
 * bytes below 0x80, c >= k is bit 7 of c + (0x80 - k), which cannot carry
 * into the next byte.
 */
static uint8_t decode_hex(const unsigned char *s, size_t n, uint8_t *out, uint8_t *sum)
{
	uint8_t any = 0, all = HEX_OK, total = 0;
	size_t i = 0;

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	const uint64_t ones = UINT64_C(0x0101010101010101), high = ones * 0x80;
	uint64_t lower = 0, upper = 0;
	uint32_t lanes = 0; /* two 16-bit partial sums; 65 steps cannot overflow */

	for (; i + 4 <= n; i += 4) {
		uint64_t w, lw, digit, letter, v;
		uint32_t b;

		memcpy(&w, s + 2 * i, sizeof(w));
		lw = w | ones * 0x20; /* fold 'A'-'F' onto 'a'-'f' */
		digit = (w + ones * (0x80 - '0')) & ~(w + ones * (0x7f - '9')) & high;
		letter = (lw + ones * (0x80 - 'a')) & ~(lw + ones * (0x7f - 'f')) & high;
		if ((w & high) || (digit | letter) != high)
			return 0;
		lower |= letter & (w << 2); /* bit 5 (0x20) of a letter: lower case */
		upper |= letter & ~(w << 2);
		/* nibble values, then pair them: byte 2k = digit 2k << 4 | digit 2k+1 */
		v = (w & ones * 0x0f) + (letter >> 7) * 9;
		v = ((v << 4) | (v >> 8)) & UINT64_C(0x00ff00ff00ff00ff);
		v = (v | (v >> 8)) & UINT64_C(0x0000ffff0000ffff);
		b = (uint32_t)(v | (v >> 16));
		memcpy(out + i, &b, sizeof(b));
		lanes += (b & 0x00ff00ffu) + ((b >> 8) & 0x00ff00ffu);
	}
	total = (uint8_t)(lanes + (lanes >> 16));
	if (lower)
		any |= HEX_LOWER;
	if (upper)
		any |= HEX_UPPER;
#endif
	for (; i < n; i++) {
		uint8_t hi = hex_tab[s[2 * i]], lo = hex_tab[s[2 * i + 1]];

		any |= hi | lo;
		all &= hi & lo;
		out[i] = (uint8_t)((hi << 4) | (lo & 0x0f));
		total += out[i];
	}
	*sum = total;
	return all & HEX_OK ? (uint8_t)((any & (HEX_LOWER | HEX_UPPER)) | HEX_OK) : 0;
}

struct dfu_srec {
	struct dfu_image *img;
	const struct dfu_limits *limits;
	struct dfu_line_index lines;
	bool seen_term;
	bool warned_after_term;
	struct dfu_error add_err; /* scratch for dfu_image_add() */
};

int dfu_srec_new(struct dfu_image *img, const struct dfu_limits *limits, struct dfu_srec **out)
{
	struct dfu_srec *p = calloc(1, sizeof(*p));

	if (!p)
		return DFU_E_NOMEM;
	p->img = img;
	p->limits = limits;
	*out = p;
	return 0;
}

void dfu_srec_free(struct dfu_srec *p)
{
	if (!p)
		return;
	dfu_line_index_release(&p->lines);
	free(p);
}

static int fail(struct dfu_error *e, int err, const char *code, unsigned long lineno,
		const char *fmt, ...) _printf_format_(5, 6);
static int fail(struct dfu_error *e, int err, const char *code, unsigned long lineno,
		const char *fmt, ...)
{
	char where[DFU_WHERE_LEN];
	va_list ap;

	dfu_where_line(where, lineno);
	va_start(ap, fmt);
	dfu_error_setv(e, err, code, where, fmt, ap);
	va_end(ap);
	return err;
}

/* Report the first character after "Sn" that is not a hex digit. */
static int fail_bad_hex(struct dfu_error *e, const char *s, size_t len, unsigned long lineno)
{
	for (size_t i = 2; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (hex_tab[c] & HEX_OK)
			continue;
		if (c >= 0x20 && c < 0x7f)
			return fail(e, DFU_E_FORMAT, "srec.bad_hex", lineno,
				    "invalid character '%c' at column %zu (hex digit expected)", c,
				    i + 1);
		return fail(e, DFU_E_FORMAT, "srec.bad_hex", lineno,
			    "invalid byte 0x%02x at column %zu (hex digit expected)", c, i + 1);
	}
	return 0;
}

/*
 * Narrow [@lo, @hi), the new record's bytes, to those that the record on line
 * @earlier (which holds @at) also gave: the range the overlap message quotes.
 */
static void earlier_range(const struct dfu_line_index *ix, unsigned long earlier,
			  uint32_t at, uint64_t *lo, uint64_t *hi)
{
	for (size_t k = ix->n; k-- > 0;) {
		const struct dfu_line_run *run = &ix->runs[k];
		uint64_t a, b;

		if (earlier < run->first_line || earlier > run->last_line || at < run->address ||
		    at >= run->end)
			continue;
		a = run->address + (uint64_t)(earlier - run->first_line) * run->rec_len;
		b = MIN(a + run->rec_len, run->end);
		*lo = MAX(*lo, a);
		*hi = MIN(*hi, b);
		return;
	}
}

static int add_data(struct dfu_srec *p, uint32_t address, const uint8_t *data, size_t len,
		    unsigned long lineno, struct dfu_error *e)
{
	uint32_t at = address;
	int r;

	if ((uint64_t)address + len > ADDR_SPACE)
		return fail(e, DFU_E_RANGE, "srec.address_overflow", lineno,
			    "%zu bytes at 0x%08x run past the end of the 32-bit address space", len,
			    address);
	p->add_err.err = 0;
	r = dfu_image_add(p->img, DFU_ALT_NONE, address, data, len, p->limits, &at, &p->add_err);
	if (r == DFU_E_CONFLICT) {
		unsigned long earlier = dfu_line_index_find(&p->lines, at, lineno);
		uint64_t lo = address, hi = (uint64_t)address + len;

		if (!earlier)
			return fail(e, r, "srec.overlap", lineno,
				    "data at 0x%08x given twice with different values (line %lu)",
				    at, lineno);
		earlier_range(&p->lines, earlier, at, &lo, &hi);
		return fail(e, r, "srec.overlap", lineno,
			    "data at 0x%08llx..0x%08llx given twice with different values "
			    "(line %lu, line %lu)",
			    (unsigned long long)lo, (unsigned long long)hi - 1, earlier, lineno);
	}
	if (r < 0)
		return fail(e, r, p->add_err.code, lineno, "%s", p->add_err.message);
	if (dfu_line_index_add(&p->lines, address, len, lineno) < 0)
		return fail(e, DFU_E_NOMEM, "srec.nomem", lineno, "out of memory");
	return 0;
}

/* S0: the header, kept as text with non-printables shown as '.'. */
static int set_header(struct dfu_srec *p, const uint8_t *data, size_t n, unsigned long lineno,
		      struct dfu_error *e)
{
	char *h = malloc(n + 1);

	if (!h)
		return fail(e, DFU_E_NOMEM, "srec.nomem", lineno, "out of memory");
	for (size_t i = 0; i < n; i++)
		h[i] = (data[i] >= 0x20 && data[i] < 0x7f) ? (char)data[i] : '.';
	h[n] = '\0';
	free(p->img->text.srec_header);
	p->img->text.srec_header = h;
	return 0;
}

int dfu_srec_line(struct dfu_srec *p, const char *line, size_t len, unsigned long lineno,
		  struct dfu_error *e)
{
	struct dfu_text_info *t = &p->img->text;
	uint8_t rec[MAX_RECORD_BYTES];
	uint8_t any, sum, count, alen;
	uint32_t address = 0;
	size_t n, ndata;
	const uint8_t *data;
	int type;

	/* Trailing spaces and tabs are editor noise, not part of the record. */
	while (len > 0 && (line[len - 1] == ' ' || line[len - 1] == '\t'))
		len--;
	if (len == 0) {
		if (dfu_image_warn(p->img, "line %lu: blank line ignored", lineno) < 0)
			return fail(e, DFU_E_NOMEM, "srec.nomem", lineno, "out of memory");
		return 0;
	}
	if (p->seen_term) {
		/* The termination record ends the file; whatever follows is not
		 * ours to interpret.  Say so once. */
		if (!p->warned_after_term) {
			p->warned_after_term = true;
			if (dfu_image_warn(p->img,
					   "line %lu: text after the termination record ignored",
					   lineno) < 0)
				return fail(e, DFU_E_NOMEM, "srec.nomem", lineno, "out of memory");
		}
		return 0;
	}
	if (line[0] != 'S')
		return fail(e, DFU_E_FORMAT, "srec.bad_start", lineno,
			    "line %lu does not start with 'S'", lineno);
	if (len < 2)
		return fail(e, DFU_E_FORMAT, "srec.bad_record", lineno,
			    "record has no type digit after 'S'");
	if (line[1] < '0' || line[1] > '9') {
		unsigned char c = (unsigned char)line[1];

		if (c >= 0x20 && c < 0x7f)
			return fail(e, DFU_E_FORMAT, "srec.bad_record_type", lineno,
				    "unknown record type 'S%c'", c);
		return fail(e, DFU_E_FORMAT, "srec.bad_record_type", lineno,
			    "unknown record type 'S' followed by byte 0x%02x", c);
	}
	type = line[1] - '0';
	if (type == 4)
		return fail(e, DFU_E_FORMAT, "srec.bad_record_type", lineno,
			    "record type S4 is reserved");
	if ((len - 2) % 2 != 0) {
		if (fail_bad_hex(e, line, len, lineno) < 0)
			return DFU_E_FORMAT;
		return fail(e, DFU_E_FORMAT, "srec.odd_length", lineno,
			    "line %lu has an odd number of hex digits", lineno);
	}
	n = (len - 2) / 2;
	if (n > MAX_RECORD_BYTES) {
		/* No byte count can describe this many bytes. */
		if (fail_bad_hex(e, line, len, lineno) < 0)
			return DFU_E_FORMAT;
		count = (uint8_t)((hex_tab[(unsigned char)line[2]] & 0x0f) << 4 |
				  (hex_tab[(unsigned char)line[3]] & 0x0f));
		return fail(e, DFU_E_FORMAT, "srec.length_mismatch", lineno,
			    "byte count says %u bytes follow, record has %zu", count, n - 1);
	}

	any = decode_hex((const unsigned char *)line + 2, n, rec, &sum);
	if (!any)
		return fail_bad_hex(e, line, len, lineno);
	if (any & HEX_LOWER)
		t->lower_case = true;
	if (any & HEX_UPPER)
		t->upper_case = true;

	if (n == 0)
		return fail(e, DFU_E_FORMAT, "srec.bad_record", lineno,
			    "S%d record has no byte count", type);
	count = rec[0];
	if (count != n - 1)
		return fail(e, DFU_E_FORMAT, "srec.length_mismatch", lineno,
			    "byte count says %u bytes follow, record has %zu", count, n - 1);
	/* The checksum is the ones' complement of the sum of count, address
	 * and data bytes. */
	sum = (uint8_t)~(sum - rec[n - 1]);
	if (rec[n - 1] != sum)
		return fail(e, DFU_E_FORMAT, "srec.checksum", lineno,
			    "checksum 0x%02x wrong, expected 0x%02x", rec[n - 1], sum);
	alen = addr_len[type];
	if (count < alen + 1)
		return fail(e, DFU_E_FORMAT, "srec.bad_record", lineno,
			    "S%d record of %u bytes is too short for its %u-byte address", type,
			    count, alen);
	for (unsigned i = 0; i < alen; i++)
		address = address << 8 | rec[1 + i];
	data = rec + 1 + alen;
	ndata = count - alen - 1u;
	t->records++;
	t->types_seen |= UINT32_C(1) << type;

	switch (type) {
	case 0:
		return set_header(p, data, ndata, lineno, e);

	case 1:
	case 2:
	case 3:
		t->data_records++;
		return add_data(p, address, data, ndata, lineno, e);

	case 5:
	case 6:
		/* The count of S1/S2/S3 records so far (S6: 24-bit). */
		if (ndata != 0)
			return fail(e, DFU_E_FORMAT, "srec.bad_record", lineno,
				    "S%d record carries %zu data bytes (must be 0)", type, ndata);
		if (address != t->data_records)
			return fail(e, DFU_E_FORMAT, "srec.bad_count", lineno,
				    "S%d record counts %u data records, %lu came before it", type,
				    address, t->data_records);
		return 0;

	default: /* 7, 8, 9 */
		if (ndata != 0)
			return fail(e, DFU_E_FORMAT, "srec.bad_record", lineno,
				    "S%d record carries %zu data bytes (must be 0)", type, ndata);
		p->img->start = (struct dfu_start){
			.kind = DFU_START_SREC,
			.linear = address,
			.srec_type = (uint8_t)type,
		};
		p->seen_term = true;
		return 0;
	}
}

int dfu_srec_finish(struct dfu_srec *p, unsigned long lines, struct dfu_error *e)
{
	/* srec_cat writes no termination record when given no start address
	 * (f4_app_0x08004000_srec_cat.mot): accept, but say so. */
	if (!p->seen_term && dfu_image_warn(p->img, "no S7/S8/S9 termination record") < 0)
		return dfu_error_set(e, DFU_E_NOMEM, "srec.nomem", "end of file", "out of memory");
	return 0;
}

/* --- writer -------------------------------------------------------------- */

#define DEFAULT_RECORD_LEN 16
#define DEFAULT_HEADER "dfuflash"
#define OUT_CHUNK 16384

/* Output batched into a local buffer: one dfu_buf_append per OUT_CHUNK. */
struct out {
	struct dfu_buf *buf;
	size_t len;
	int err;
	char data[OUT_CHUNK];
};

static void out_flush(struct out *o)
{
	if (o->len && !o->err)
		o->err = dfu_buf_append(o->buf, o->data, o->len);
	o->len = 0;
}

/* Emit "Sn" count address data checksum '\n' (upper case); @alen 2..4. */
static void out_record(struct out *o, int type, uint32_t address, unsigned alen,
		       const uint8_t *data, size_t n)
{
	static const char hexd[] = "0123456789ABCDEF";
	uint8_t count = (uint8_t)(alen + n + 1), sum = 0;
	char *c;

	if (o->len + 2 + 2 * (size_t)(count + 1) + 1 > sizeof(o->data))
		out_flush(o);
	c = o->data + o->len;
	*c++ = 'S';
	*c++ = (char)('0' + type);
#define PUT(b)                          \
	do {                            \
		uint8_t b_ = (b);       \
		*c++ = hexd[b_ >> 4];   \
		*c++ = hexd[b_ & 0x0f]; \
		sum += b_;              \
	} while (0)
	PUT(count);
	for (unsigned i = alen; i-- > 0;)
		PUT((uint8_t)(address >> (8 * i)));
	for (size_t i = 0; i < n; i++)
		PUT(data[i]);
	PUT((uint8_t)~sum);
#undef PUT
	*c++ = '\n';
	o->len = (size_t)(c - o->data);
}

int dfu_srec_write(const struct dfu_image *img, const struct dfu_write_opts *opts,
		   struct dfu_buf *out, struct dfu_error *e)
{
	_cleanup_free_ struct out *o = NULL;
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

	o = malloc(sizeof(*o));
	if (!o)
		return dfu_error_set(e, DFU_E_NOMEM, "srec.nomem", NULL, "out of memory");
	o->buf = out;
	o->len = 0;
	o->err = 0;

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
	out_record(o, 10 - dtype, img->start.kind != DFU_START_NONE ? img->start.linear : 0,
		   alen, NULL, 0);
	out_flush(o);
	if (o->err < 0)
		return dfu_error_set(e, o->err, "srec.nomem", NULL, "out of memory");
	return 0;
}
