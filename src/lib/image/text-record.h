/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What the Intel HEX and S-record modules share: the hex digit decoder, the
 * per-line prelude and "line N" errors, adding a record's bytes to the image
 * (with an overlap message naming both lines), and the batched record output.
 */
#pragma once

#include <string.h>

#include "image.h"
#include "macro.h"

/*
 * Hex digit lookup: low nibble the value, DFU_TEXT_HEX_OK for every digit,
 * DFU_TEXT_HEX_LOWER/UPPER for letters (to report the case used), 0 for
 * anything else.  A table lookup per digit is what keeps large files within a
 * few times memcpy speed.
 */
#define DFU_TEXT_HEX_OK 0x40
#define DFU_TEXT_HEX_LOWER 0x10
#define DFU_TEXT_HEX_UPPER 0x20
extern const uint8_t dfu_text_hex_tab[256];

/* The two digits at @s as a byte, whatever they are (0 for non-digits). */
static inline uint8_t dfu_text_hex_byte(const char *s)
{
	return (uint8_t)((dfu_text_hex_tab[(unsigned char)s[0]] & 0x0f) << 4 |
			 (dfu_text_hex_tab[(unsigned char)s[1]] & 0x0f));
}

/*
 * Decode 2*@n hex digits at @s into @out and add the bytes to *@sum.
 * Returns the DFU_TEXT_HEX_LOWER/UPPER bits of the letters seen plus
 * DFU_TEXT_HEX_OK, or 0 when a character is not a hex digit.  This is the
 * inner loop of a big file, so on little-endian hosts it takes eight digits
 * per step (SWAR): for bytes below 0x80, c >= k is bit 7 of c + (0x80 - k),
 * which cannot carry into the next byte.
 */
static inline uint8_t dfu_text_decode_hex(const unsigned char *s, size_t n, uint8_t *out,
					  uint8_t *sum)
{
	uint8_t any = 0, all = DFU_TEXT_HEX_OK, total = 0;
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
		any |= DFU_TEXT_HEX_LOWER;
	if (upper)
		any |= DFU_TEXT_HEX_UPPER;
#endif
	for (; i < n; i++) {
		uint8_t hi = dfu_text_hex_tab[s[2 * i]], lo = dfu_text_hex_tab[s[2 * i + 1]];

		any |= hi | lo;
		all &= hi & lo;
		out[i] = (uint8_t)((hi << 4) | (lo & 0x0f));
		total += out[i];
	}
	*sum = total;
	return all & DFU_TEXT_HEX_OK
		   ? (uint8_t)((any & (DFU_TEXT_HEX_LOWER | DFU_TEXT_HEX_UPPER)) | DFU_TEXT_HEX_OK)
		   : 0;
}

/* --- parsing --------------------------------------------------------------- */

/* The state every text parser keeps, embedded in its own struct. */
struct dfu_text_sink {
	struct dfu_image *img;
	const struct dfu_limits *limits;
	struct dfu_line_index lines; /* which line gave which address */
	struct dfu_error add_err;    /* scratch for dfu_image_add() */
	const char *prefix;	     /* error code class: "ihex", "srec" */
	size_t first_hex;	     /* index of the first hex digit of a record */
	bool ended;		     /* the end record came: the rest is ignored */
	bool warned_after_end;
};

void dfu_text_sink_init(struct dfu_text_sink *s, struct dfu_image *img,
			const struct dfu_limits *limits, const char *prefix, size_t first_hex);
void dfu_text_sink_release(struct dfu_text_sink *s);

/* Fill @e with @code at "line @lineno"; returns @err. */
int dfu_text_fail(struct dfu_error *e, int err, const char *code, unsigned long lineno,
		  const char *fmt, ...) _printf_format_(5, 6);
/* <prefix>.nomem at @lineno. */
int dfu_text_nomem(const struct dfu_text_sink *s, unsigned long lineno, struct dfu_error *e);
/* <prefix>.bad_hex for the first non-digit of @line from first_hex on; 0 if none. */
int dfu_text_bad_hex(const struct dfu_text_sink *s, const char *line, size_t len,
		     unsigned long lineno, struct dfu_error *e);
/* <prefix>.bad_hex as above, else <prefix>.odd_length. */
int dfu_text_odd_length(const struct dfu_text_sink *s, const char *line, size_t len,
			unsigned long lineno, struct dfu_error *e);
/* A blank line, or one after the end record (@end_name: "the EOF record"). */
int dfu_text_skip_line(struct dfu_text_sink *s, size_t len, unsigned long lineno,
		       const char *end_name, struct dfu_error *e);

/*
 * The start of every line: trailing spaces and tabs are editor noise, not part
 * of the record, so they come off *@len.  Returns 1 when the line is consumed
 * here (blank, or after the end record: warned about), a negative dfu_err on
 * failure, 0 when the caller should parse it.
 */
static inline int dfu_text_begin_line(struct dfu_text_sink *s, const char *line, size_t *len,
				      unsigned long lineno, const char *end_name,
				      struct dfu_error *e)
{
	size_t n = *len;

	while (n > 0 && (line[n - 1] == ' ' || line[n - 1] == '\t'))
		n--;
	*len = n;
	if (n == 0 || s->ended)
		return dfu_text_skip_line(s, n, lineno, end_name, e);
	return 0;
}

/*
 * Decode the hex digits of @line (from first_hex on) into @rec, which holds
 * @max bytes: their number in *@n, their sum in *@sum; the letter case seen
 * goes into img->text.  A line of more than @max bytes sets *@n but decodes
 * only rec[0], the byte count: no count matches it, so the caller's byte
 * count check reports it.
 * Errors: <prefix>.bad_hex, <prefix>.odd_length.
 */
static inline int dfu_text_decode_line(struct dfu_text_sink *s, const char *line, size_t len,
				       uint8_t *rec, size_t max, size_t *n, uint8_t *sum,
				       unsigned long lineno, struct dfu_error *e)
{
	size_t digits = len - s->first_hex;
	uint8_t any;

	*n = digits / 2;
	*sum = 0;
	if (digits % 2 != 0)
		return dfu_text_odd_length(s, line, len, lineno, e);
	if (*n > max) {
		/* No byte count can describe this many bytes. */
		if (dfu_text_bad_hex(s, line, len, lineno, e) < 0)
			return DFU_E_FORMAT;
		rec[0] = dfu_text_hex_byte(line + s->first_hex);
		return 0;
	}
	any = dfu_text_decode_hex((const unsigned char *)line + s->first_hex, *n, rec, sum);
	if (!any)
		return dfu_text_bad_hex(s, line, len, lineno, e);
	if (any & DFU_TEXT_HEX_LOWER)
		s->img->text.lower_case = true;
	if (any & DFU_TEXT_HEX_UPPER)
		s->img->text.upper_case = true;
	return 0;
}

/* <prefix>.address_overflow unless @len bytes at @address stay below 4 GiB. */
int dfu_text_check_span(const struct dfu_text_sink *s, uint32_t address, size_t len,
			unsigned long lineno, struct dfu_error *e);
/*
 * Add one run of record bytes from line @lineno; turns image errors into
 * <prefix> ones (<prefix>.overlap names the earlier line).
 */
int dfu_text_add(struct dfu_text_sink *s, uint32_t address, const uint8_t *data, size_t len,
		 unsigned long lineno, struct dfu_error *e);

/* --- writing --------------------------------------------------------------- */

#define DFU_TEXT_OUT_CHUNK 16384

/* Output batched into a local buffer: one dfu_buf_append per chunk. */
struct dfu_text_out {
	struct dfu_buf *buf;
	size_t len;
	int err;
	char data[DFU_TEXT_OUT_CHUNK];
};

/* NULL when out of memory; free() when done. */
struct dfu_text_out *dfu_text_out_new(struct dfu_buf *buf);
void dfu_text_out_flush(struct dfu_text_out *o);

/* Room for @n more characters at the returned position. */
static inline char *dfu_text_out_reserve(struct dfu_text_out *o, size_t n)
{
	if (o->len + n > sizeof(o->data))
		dfu_text_out_flush(o);
	return o->data + o->len;
}

/* @b as two upper-case hex digits at @c; returns the position after them. */
static inline char *dfu_text_put_hex(char *c, uint8_t b)
{
	static const char hexd[] = "0123456789ABCDEF";

	c[0] = hexd[b >> 4];
	c[1] = hexd[b & 0x0f];
	return c + 2;
}
