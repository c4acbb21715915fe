// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Intel HEX (Intel "Hexadecimal Object File Format Specification" rev. A,
 * 1988): a line-by-line parser fed by the reader, and the writer.  Record
 * types 00-05; 16-bit, segmented (02) and linear (04) addressing.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "dfuflash-internal.h"
#include "macro.h"

#define ADDR_SPACE (UINT64_C(1) << 32)

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

/*
 * Hex digit lookup: low nibble the value, HEX_OK for every digit,
 * HEX_LOWER/HEX_UPPER for letters (to report the case used), 0 for anything
 * else.  A table lookup per digit is what keeps large files within a few
 * times memcpy speed.
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

struct dfu_ihex {
	struct dfu_image *img;
	const struct dfu_limits *limits;
	struct dfu_line_index lines;
	uint32_t base;     /* added to record offsets */
	bool segmented;    /* base came from a type 02 record: offsets wrap at 64 KiB */
	bool seen_eof;
	bool warned_after_eof;
	bool have_start;
	struct dfu_error add_err; /* scratch for dfu_image_add() */
};

int dfu_ihex_new(struct dfu_image *img, const struct dfu_limits *limits, struct dfu_ihex **out)
{
	struct dfu_ihex *p = calloc(1, sizeof(*p));

	if (!p)
		return DFU_E_NOMEM;
	p->img = img;
	p->limits = limits;
	*out = p;
	return 0;
}

void dfu_ihex_free(struct dfu_ihex *p)
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

/* Report the first character of @s that is not a hex digit. */
static int fail_bad_hex(struct dfu_error *e, const char *s, size_t len, unsigned long lineno)
{
	for (size_t i = 1; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (hex_tab[c] & HEX_OK)
			continue;
		if (c >= 0x20 && c < 0x7f)
			return fail(e, DFU_E_FORMAT, "ihex.bad_hex", lineno,
				    "invalid character '%c' at column %zu (hex digit expected)", c,
				    i + 1);
		return fail(e, DFU_E_FORMAT, "ihex.bad_hex", lineno,
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

/* Add one run of record bytes; turns image errors into ihex ones. */
static int add_data(struct dfu_ihex *p, uint32_t address, const uint8_t *data, size_t len,
		    unsigned long lineno, struct dfu_error *e)
{
	uint32_t at = address;
	int r;

	p->add_err.err = 0;
	r = dfu_image_add(p->img, DFU_ALT_NONE, address, data, len, p->limits, &at, &p->add_err);
	if (r == DFU_E_CONFLICT) {
		unsigned long earlier = dfu_line_index_find(&p->lines, at, lineno);
		uint64_t lo = address, hi = (uint64_t)address + len;

		if (!earlier)
			return fail(e, r, "ihex.overlap", lineno,
				    "data at 0x%08x given twice with different values (line %lu)",
				    at, lineno);
		earlier_range(&p->lines, earlier, at, &lo, &hi);
		return fail(e, r, "ihex.overlap", lineno,
			    "data at 0x%08llx..0x%08llx given twice with different values "
			    "(line %lu, line %lu)",
			    (unsigned long long)lo, (unsigned long long)hi - 1, earlier, lineno);
	}
	if (r < 0)
		return fail(e, r, p->add_err.code, lineno, "%s", p->add_err.message);
	if (dfu_line_index_add(&p->lines, address, len, lineno) < 0)
		return fail(e, DFU_E_NOMEM, "ihex.nomem", lineno, "out of memory");
	return 0;
}

static int data_record(struct dfu_ihex *p, uint16_t offset, const uint8_t *data, size_t n,
		       unsigned long lineno, struct dfu_error *e)
{
	size_t first;
	int r;

	if (offset + n <= 0x10000)
		return add_data(p, p->base + offset, data, n, lineno, e);

	if (!p->segmented) {
		/* Linear: address = (LBA + DRLO + DRI) mod 4G, so the bytes
		 * continue past the 64 KiB boundary (Intel spec, type 04).  The
		 * mod 4G wrap is refused: no real file means it. */
		if ((uint64_t)p->base + offset + n > ADDR_SPACE)
			return fail(e, DFU_E_RANGE, "ihex.address_overflow", lineno,
				    "%zu bytes at 0x%08x run past the end of the 32-bit "
				    "address space",
				    n, p->base + offset);
		if (dfu_image_warn(p->img,
				   "line %lu: record crosses a 64 KiB boundary (placed linearly)",
				   lineno) < 0)
			return fail(e, DFU_E_NOMEM, "ihex.nomem", lineno, "out of memory");
		return add_data(p, p->base + offset, data, n, lineno, e);
	}

	/* Segmented: address = SBA*16 + ((DRLO + DRI) mod 64K), the tail wraps
	 * to the start of the segment (Intel spec, type 02). */
	if (dfu_image_warn(p->img, "line %lu: record wraps inside its 64 KiB segment", lineno) < 0)
		return fail(e, DFU_E_NOMEM, "ihex.nomem", lineno, "out of memory");
	first = 0x10000 - offset;
	r = add_data(p, p->base + offset, data, first, lineno, e);
	if (r < 0)
		return r;
	return add_data(p, p->base, data + first, n - first, lineno, e);
}

static int set_start(struct dfu_ihex *p, const struct dfu_start *s, unsigned long lineno,
		     struct dfu_error *e)
{
	const struct dfu_start *old = &p->img->start;

	if (p->have_start && (old->kind != s->kind || old->linear != s->linear) &&
	    dfu_image_warn(p->img, "line %lu: second start address record replaces the first",
			   lineno) < 0)
		return fail(e, DFU_E_NOMEM, "ihex.nomem", lineno, "out of memory");
	p->img->start = *s;
	p->have_start = true;
	return 0;
}

int dfu_ihex_line(struct dfu_ihex *p, const char *line, size_t len, unsigned long lineno,
		  struct dfu_error *e)
{
	struct dfu_text_info *t = &p->img->text;
	uint8_t rec[MAX_RECORD_BYTES];
	uint8_t any, sum, type, count;
	uint16_t offset;
	size_t n, ndata;

	/* Trailing spaces and tabs are editor noise, not part of the record. */
	while (len > 0 && (line[len - 1] == ' ' || line[len - 1] == '\t'))
		len--;
	if (len == 0) {
		if (dfu_image_warn(p->img, "line %lu: blank line ignored", lineno) < 0)
			return fail(e, DFU_E_NOMEM, "ihex.nomem", lineno, "out of memory");
		return 0;
	}
	if (p->seen_eof) {
		/* Nothing after the EOF record is part of the file (a DOS ^Z, a
		 * signature...): say so once and ignore it. */
		if (!p->warned_after_eof) {
			p->warned_after_eof = true;
			if (dfu_image_warn(p->img, "line %lu: text after the EOF record ignored",
					   lineno) < 0)
				return fail(e, DFU_E_NOMEM, "ihex.nomem", lineno, "out of memory");
		}
		return 0;
	}
	if (line[0] != ':')
		return fail(e, DFU_E_FORMAT, "ihex.bad_start", lineno,
			    "line %lu does not start with ':'", lineno);
	if ((len - 1) % 2 != 0) {
		if (fail_bad_hex(e, line, len, lineno) < 0)
			return DFU_E_FORMAT;
		return fail(e, DFU_E_FORMAT, "ihex.odd_length", lineno,
			    "line %lu has an odd number of hex digits", lineno);
	}
	n = (len - 1) / 2;
	if (n > MAX_RECORD_BYTES) {
		/* No byte count can describe this many bytes. */
		if (fail_bad_hex(e, line, len, lineno) < 0)
			return DFU_E_FORMAT;
		count = (uint8_t)((hex_tab[(unsigned char)line[1]] & 0x0f) << 4 |
				  (hex_tab[(unsigned char)line[2]] & 0x0f));
		return fail(e, DFU_E_FORMAT, "ihex.length_mismatch", lineno,
			    "byte count says %u data bytes, record has %zu", count, n - 5);
	}

	any = decode_hex((const unsigned char *)line + 1, n, rec, &sum);
	if (!any)
		return fail_bad_hex(e, line, len, lineno);
	if (any & HEX_LOWER)
		t->lower_case = true;
	if (any & HEX_UPPER)
		t->upper_case = true;

	if (n < 5)
		return fail(e, DFU_E_FORMAT, "ihex.bad_record", lineno,
			    "record of %zu bytes is too short (at least 5 needed)", n);
	count = rec[0];
	ndata = n - 5;
	if (count != ndata)
		return fail(e, DFU_E_FORMAT, "ihex.length_mismatch", lineno,
			    "byte count says %u data bytes, record has %zu", count, ndata);
	if (sum != 0)
		return fail(e, DFU_E_FORMAT, "ihex.checksum", lineno,
			    "checksum 0x%02x wrong, expected 0x%02x", rec[n - 1],
			    (uint8_t)(rec[n - 1] - sum));

	offset = (uint16_t)(rec[1] << 8 | rec[2]);
	type = rec[3];
	if (type > REC_SLA)
		return fail(e, DFU_E_FORMAT, "ihex.bad_record_type", lineno,
			    "unknown record type 0x%02x", type);
	t->records++;
	t->types_seen |= UINT32_C(1) << type;

	switch (type) {
	case REC_DATA:
		t->data_records++;
		if (count == 0)
			return 0;
		return data_record(p, offset, rec + 4, count, lineno, e);

	case REC_EOF:
		if (count != 0)
			return fail(e, DFU_E_FORMAT, "ihex.bad_record", lineno,
				    "EOF record carries %u data bytes (must be 0)", count);
		/* Intel's 8-bit format let the EOF record's address field hold a
		 * start address; it is meaningless here, so no error. */
		p->seen_eof = true;
		return 0;

	case REC_ESA:
	case REC_ELA:
		if (count != 2)
			return fail(e, DFU_E_FORMAT, "ihex.bad_record", lineno,
				    "type %02x record has %u data bytes (must be 2)", type, count);
		if (offset != 0)
			return fail(e, DFU_E_FORMAT, "ihex.bad_record", lineno,
				    "type %02x record has address field 0x%04x (must be 0)", type,
				    offset);
		if (type == REC_ESA) {
			p->base = (uint32_t)(rec[4] << 8 | rec[5]) << 4;
			p->segmented = true;
		} else {
			p->base = (uint32_t)(rec[4] << 8 | rec[5]) << 16;
			p->segmented = false;
		}
		return 0;

	case REC_SSA:
	case REC_SLA: {
		struct dfu_start st = { 0 };

		if (count != 4)
			return fail(e, DFU_E_FORMAT, "ihex.bad_record", lineno,
				    "type %02x record has %u data bytes (must be 4)", type, count);
		if (offset != 0)
			return fail(e, DFU_E_FORMAT, "ihex.bad_record", lineno,
				    "type %02x record has address field 0x%04x (must be 0)", type,
				    offset);
		if (type == REC_SSA) {
			st.kind = DFU_START_IHEX_CS_IP;
			st.cs = (uint16_t)(rec[4] << 8 | rec[5]);
			st.ip = (uint16_t)(rec[6] << 8 | rec[7]);
			/* 8086 real mode: CS*16 + IP, at most 0x10ffef. */
			st.linear = (uint32_t)st.cs * 16 + st.ip;
		} else {
			st.kind = DFU_START_IHEX_LINEAR;
			st.linear = (uint32_t)rec[4] << 24 | (uint32_t)rec[5] << 16 |
				    (uint32_t)rec[6] << 8 | rec[7];
		}
		return set_start(p, &st, lineno, e);
	}
	}
	return 0;
}

int dfu_ihex_finish(struct dfu_ihex *p, unsigned long lines, struct dfu_error *e)
{
	/* A file cut short still parses record by record; only the missing EOF
	 * record tells, so it is an error rather than a warning. */
	if (!p->seen_eof)
		return dfu_error_set(e, DFU_E_FORMAT, "ihex.missing_eof", "end of file",
				     "no EOF (type 01) record");
	return 0;
}

/* --- writer -------------------------------------------------------------- */

#define DEFAULT_RECORD_LEN 16
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

/* Emit one record: ':' count address type data checksum '\n' (upper case). */
static void out_record(struct out *o, uint8_t type, uint16_t offset, const uint8_t *data,
		       size_t n)
{
	static const char hexd[] = "0123456789ABCDEF";
	uint8_t sum = (uint8_t)(n + (offset >> 8) + (offset & 0xff) + type);
	char *c;

	if (o->len + 1 + 2 * (n + 5) + 1 > sizeof(o->data))
		out_flush(o);
	c = o->data + o->len;
	*c++ = ':';
#define PUT(b)                             \
	do {                               \
		uint8_t b_ = (b);          \
		*c++ = hexd[b_ >> 4];      \
		*c++ = hexd[b_ & 0x0f];    \
	} while (0)
	PUT((uint8_t)n);
	PUT((uint8_t)(offset >> 8));
	PUT((uint8_t)offset);
	PUT(type);
	for (size_t i = 0; i < n; i++) {
		PUT(data[i]);
		sum += data[i];
	}
	PUT((uint8_t)-sum);
#undef PUT
	*c++ = '\n';
	o->len = (size_t)(c - o->data);
}

int dfu_ihex_write(const struct dfu_image *img, const struct dfu_write_opts *opts,
		   struct dfu_buf *out, struct dfu_error *e)
{
	_cleanup_free_ struct out *o = NULL;
	unsigned rec_len = opts && opts->record_len ? opts->record_len : DEFAULT_RECORD_LEN;
	uint32_t upper = 0; /* ULBA in effect: 0 until a type 04 record says otherwise */

	if (rec_len > 255)
		return dfu_error_set(e, DFU_E_INVAL, "ihex.record_len", NULL,
				     "record length %u out of range (1..255)", rec_len);
	o = malloc(sizeof(*o));
	if (!o)
		return dfu_error_set(e, DFU_E_NOMEM, "ihex.nomem", NULL, "out of memory");
	o->buf = out;
	o->len = 0;
	o->err = 0;

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
	out_flush(o);
	if (o->err < 0)
		return dfu_error_set(e, o->err, "ihex.nomem", NULL, "out of memory");
	return 0;
}
