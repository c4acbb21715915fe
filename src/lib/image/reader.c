// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The streaming image reader: detects the format from the first bytes, splits
 * text formats into lines as the bytes arrive (so a 180 MB hex file never sits
 * in memory), collects binary formats whole, and handles the DFU suffix.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "image.h"
#include "macro.h"
#include "util.h"

#define DETECT_BYTES 64
/* Longest text line accepted: an Intel HEX record is at most 521 characters,
 * an S-record 514; anything far longer is not a text image. */
#define MAX_LINE (64 * 1024)
/* What a file may hold beyond its data (DfuSe prefixes, ELF headers, a DFU
 * suffix, comments) before it is refused while still being read. */
#define INPUT_OVERHEAD (1024 * 1024)
#define TEXT_BYTES_PER_DATA_BYTE 64
/* The UTF-8 byte-order mark that Windows editors put before a text file. */
#define UTF8_BOM "\xef\xbb\xbf"

enum reader_state {
	R_DETECT,
	R_TEXT,
	R_BINARY,
	R_DONE,
	R_FAILED,
};

struct dfu_reader {
	struct dfu_parse_opts opts;
	enum reader_state state;
	enum dfu_format format;
	struct dfu_image *img;
	uint64_t fed; /* bytes fed so far */

	/* R_DETECT and R_BINARY: the bytes so far */
	struct dfu_buf bytes;

	/* R_TEXT */
	struct dfu_ihex *ihex;
	struct dfu_srec *srec;
	struct dfu_buf carry; /* partial line from the previous chunk */
	unsigned long lineno;
	bool saw_lf, saw_crlf, saw_cr;
};

int dfu_reader_new(const struct dfu_parse_opts *opts, struct dfu_reader **out)
{
	struct dfu_reader *r = calloc(1, sizeof(*r));

	if (!r)
		return DFU_E_NOMEM;
	if (opts)
		r->opts = *opts;
	r->state = R_DETECT;
	*out = r;
	return 0;
}

void dfu_reader_free(struct dfu_reader *r)
{
	if (!r)
		return;
	dfu_ihex_free(r->ihex);
	dfu_srec_free(r->srec);
	dfu_buf_release(&r->bytes);
	dfu_buf_release(&r->carry);
	dfu_image_free(r->img);
	free(r);
}

static bool is_space(uint8_t c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

enum dfu_format dfu_format_detect(const uint8_t *buf, size_t len)
{
	size_t i = 0;

	if (len >= 3 && memcmp(buf, UTF8_BOM, 3) == 0)
		i = 3;

	if (len >= 4 && memcmp(buf,
			       "\x7f"
			       "ELF",
			       4) == 0)
		return DFU_FORMAT_ELF;
	if (len >= 5 && memcmp(buf, "DfuSe", 5) == 0)
		return DFU_FORMAT_DFUSE;
	while (i < len && is_space(buf[i]))
		i++;
	if (i + 1 < len && buf[i] == ':' && hexval(buf[i + 1]) >= 0)
		return DFU_FORMAT_IHEX;
	if (i + 2 < len && buf[i] == 'S' && buf[i + 1] >= '0' && buf[i + 1] <= '9' &&
	    hexval(buf[i + 2]) >= 0)
		return DFU_FORMAT_SREC;
	return DFU_FORMAT_BIN;
}

static int fail(struct dfu_reader *r, int err)
{
	r->state = R_FAILED;
	return err;
}

static int start_text(struct dfu_reader *r, struct dfu_error *e)
{
	int ret;

	if (r->format == DFU_FORMAT_IHEX)
		ret = dfu_ihex_new(r->img, &r->opts.limits, &r->ihex);
	else
		ret = dfu_srec_new(r->img, &r->opts.limits, &r->srec);
	if (ret < 0)
		return dfu_error_set(e, ret, "reader.nomem", NULL, "out of memory");
	r->img->address_from_file = true;
	r->state = R_TEXT;
	return 0;
}

/* Decide the format and set up for it.  @final: no more bytes will come. */
static int choose_format(struct dfu_reader *r, struct dfu_error *e)
{
	int ret;

	r->format = r->opts.format;
	if (r->format == DFU_FORMAT_AUTO)
		r->format = dfu_format_detect(r->bytes.data, r->bytes.len);
	ret = dfu_image_new(r->format, &r->img);
	if (ret < 0)
		return dfu_error_set(e, ret, "reader.nomem", NULL, "out of memory");
	if (r->format == DFU_FORMAT_IHEX || r->format == DFU_FORMAT_SREC)
		return start_text(r, e);
	r->state = R_BINARY;
	return 0;
}

static int text_line(struct dfu_reader *r, const char *line, size_t len, struct dfu_error *e)
{
	r->lineno++;
	if (r->lineno == 1 && len >= 3 && memcmp(line, UTF8_BOM, 3) == 0) {
		line += 3;
		len -= 3;
	}
	if (r->ihex)
		return dfu_ihex_line(r->ihex, line, len, r->lineno, e);
	return dfu_srec_line(r->srec, line, len, r->lineno, e);
}

/*
 * One LF-terminated piece (without the LF).  A CR right before the LF makes it
 * a CRLF line; a CR anywhere else is a lone-CR terminator (classic Mac files).
 */
/* How a piece of text handed to text_piece() ends. */
enum piece_end {
	PIECE_AT_LF,  /* at a line feed (not part of the piece) */
	PIECE_AT_EOF, /* at the end of the input */
};

static int text_piece(struct dfu_reader *r, const char *p, size_t len, enum piece_end end,
		      struct dfu_error *e)
{
	const char *cr;
	int ret;

	while ((cr = memchr(p, '\r', len)) != NULL) {
		size_t n = (size_t)(cr - p);

		if (n + 1 == len && end == PIECE_AT_LF) {
			r->saw_crlf = true;
			return text_line(r, p, n, e);
		}
		r->saw_cr = true;
		ret = text_line(r, p, n, e);
		if (ret < 0)
			return ret;
		p += n + 1;
		len -= n + 1;
	}
	if (end == PIECE_AT_LF)
		r->saw_lf = true;
	else if (len == 0)
		return 0; /* the file ended with a terminator */
	return text_line(r, p, len, e);
}

static int line_too_long(struct dfu_reader *r, struct dfu_error *e)
{
	char where[DFU_WHERE_LEN];

	dfu_where_line(where, r->lineno + 1);
	return dfu_error_set(e, DFU_E_FORMAT, "text.line_too_long", where,
			     "line %lu is longer than %d characters: not a %s file", r->lineno + 1,
			     MAX_LINE, dfu_format_name(r->format));
}

static int text_feed(struct dfu_reader *r, const uint8_t *buf, size_t len, struct dfu_error *e)
{
	const char *p = (const char *)buf, *end;
	int ret;

	if (len == 0)
		return 0;
	end = p + len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);

		if (!nl) {
			if (r->carry.len + n > MAX_LINE)
				return line_too_long(r, e);
			if (dfu_buf_append(&r->carry, p, n) < 0)
				return dfu_error_set(e, DFU_E_NOMEM, "reader.nomem", NULL,
						     "out of memory");
			return 0;
		}
		if (r->carry.len) {
			if (r->carry.len + n > MAX_LINE)
				return line_too_long(r, e);
			if (dfu_buf_append(&r->carry, p, n) < 0)
				return dfu_error_set(e, DFU_E_NOMEM, "reader.nomem", NULL,
						     "out of memory");
			ret = text_piece(r, (const char *)r->carry.data, r->carry.len, PIECE_AT_LF,
					 e);
			r->carry.len = 0;
		} else {
			if (n > MAX_LINE)
				return line_too_long(r, e);
			ret = text_piece(r, p, n, PIECE_AT_LF, e);
		}
		if (ret < 0)
			return ret;
		p = nl + 1;
	}
	return 0;
}

/* The format is known: set up for it; a text format gets the bytes held
 * back for detection as its first lines. */
static int leave_detect(struct dfu_reader *r, struct dfu_error *e)
{
	struct dfu_buf head;
	int ret;

	ret = choose_format(r, e);
	if (ret < 0 || r->state != R_TEXT)
		return ret;
	head = r->bytes;
	memset(&r->bytes, 0, sizeof(r->bytes));
	ret = text_feed(r, head.data, head.len, e);
	dfu_buf_release(&head);
	return ret;
}

/*
 * How much input a format may take before it is refused while still being
 * read, so that an endless input (stdin from /dev/zero, a stream of blank
 * lines) ends.  A binary format is collected whole: the data limit plus room
 * for headers.  Text needs at most ~35 characters per data byte (one-byte
 * records, each after an address record), so 64 per byte never refuses a
 * real file.
 */
static uint64_t input_cap(const struct dfu_reader *r)
{
	uint64_t max = dfu_limits_max_bytes(&r->opts.limits);

	return (r->state == R_TEXT ? max * TEXT_BYTES_PER_DATA_BYTE : max) + INPUT_OVERHEAD;
}

static int check_input_size(const struct dfu_reader *r, struct dfu_error *e)
{
	uint64_t cap = input_cap(r);
	char where[DFU_WHERE_LEN];

	if (r->fed <= cap)
		return 0;
	dfu_where_offset(where, cap);
	return dfu_error_set(e, DFU_E_RANGE, "image.too_large", where,
			     "the file is larger than %llu bytes (the most %s input for %llu "
			     "bytes of data): stopped reading",
			     (unsigned long long)cap, dfu_format_name(r->format),
			     (unsigned long long)dfu_limits_max_bytes(&r->opts.limits));
}

int dfu_reader_feed(struct dfu_reader *r, const uint8_t *buf, size_t len, struct dfu_error *e)
{
	int ret;

	if (r->state == R_FAILED || r->state == R_DONE)
		return dfu_error_set(e, DFU_E_INVAL, "reader.state", NULL,
				     "reader already finished");
	/* Nothing to do; also keeps NULL + 0 (undefined) out of the pointer math. */
	if (len == 0)
		return 0;
	r->fed += len;
	if (r->state == R_DETECT) {
		size_t need = DETECT_BYTES - MIN(r->bytes.len, (size_t)DETECT_BYTES);
		size_t take = r->opts.format == DFU_FORMAT_AUTO ? MIN(need, len) : 0;

		if (dfu_buf_append(&r->bytes, buf, take) < 0)
			return fail(r, dfu_error_set(e, DFU_E_NOMEM, "reader.nomem", NULL,
						     "out of memory"));
		buf += take;
		len -= take;
		if (r->opts.format == DFU_FORMAT_AUTO && r->bytes.len < DETECT_BYTES)
			return 0;
		ret = leave_detect(r, e);
		if (ret < 0)
			return fail(r, ret);
	}
	ret = check_input_size(r, e);
	if (ret < 0)
		return fail(r, ret);
	if (r->state == R_TEXT)
		ret = text_feed(r, buf, len, e);
	else
		ret = dfu_buf_append(&r->bytes, buf, len) < 0
			  ? dfu_error_set(e, DFU_E_NOMEM, "reader.nomem", NULL, "out of memory")
			  : 0;
	return ret < 0 ? fail(r, ret) : 0;
}

static int finish_text(struct dfu_reader *r, struct dfu_error *e)
{
	int ret = 0;

	if (r->carry.len) {
		ret = text_piece(r, (const char *)r->carry.data, r->carry.len, PIECE_AT_EOF, e);
		r->carry.len = 0;
	}
	if (ret < 0)
		return ret;
	if (r->ihex)
		ret = dfu_ihex_finish(r->ihex, r->lineno, e);
	else
		ret = dfu_srec_finish(r->srec, r->lineno, e);
	if (ret < 0)
		return ret;
	r->img->text.eol = (r->saw_lf ? DFU_EOL_LF : 0) | (r->saw_crlf ? DFU_EOL_CRLF : 0);
	if (r->saw_cr)
		r->img->text.eol = DFU_EOL_MIXED;
	return 0;
}

/* Raw bytes (bin, or the payload of a DFU 1.1 file) at the base address. */
static int finish_raw(struct dfu_reader *r, size_t len, struct dfu_error *e)
{
	uint32_t base = r->opts.have_base ? r->opts.base : 0;

	r->img->address_from_file = false;
	if (len == 0)
		return dfu_error_set(e, DFU_E_FORMAT, "bin.empty", NULL, "the file holds no data");
	return dfu_image_add(r->img, DFU_ALT_NONE, base, r->bytes.data, len, &r->opts.limits, NULL,
			     e);
}

static int finish_binary(struct dfu_reader *r, struct dfu_error *e)
{
	const uint8_t *buf = r->bytes.data;
	size_t len = r->bytes.len;
	struct dfu_suffix s;
	int ret;

	/* --format bin: the bytes exactly as they are, suffix or not. */
	if (r->opts.format == DFU_FORMAT_BIN)
		return finish_raw(r, len, e);

	ret = dfu_suffix_parse(buf, len, &s, e);
	if (ret < 0) {
		if (r->format == DFU_FORMAT_BIN && !r->opts.expect_suffix)
			dfu_error_hint(e,
				       "to flash the file as raw bytes anyway, give --format bin");
		return ret;
	}
	if (ret > 0) {
		r->img->suffix = s;
		len -= s.length;
		if (r->format == DFU_FORMAT_BIN)
			r->format = r->img->format = DFU_FORMAT_DFU;
	} else if (r->opts.expect_suffix || r->format == DFU_FORMAT_DFU) {
		char where[DFU_WHERE_LEN];

		dfu_where_offset(where, len >= 8 ? len - 8 : 0);
		dfu_error_set(e, DFU_E_FORMAT, "dfu.no_suffix", where,
			      "no DFU suffix: the file does not end in a 'UFD' signature");
		dfu_error_hint(e, "add one with `dfuflash image suffix add`, or give --format bin "
				  "to use the file as raw bytes");
		return DFU_E_FORMAT;
	} else if (r->format == DFU_FORMAT_DFUSE) {
		dfu_image_warn(r->img, "DfuSe file without a DFU suffix (UM0391 requires one)");
	}

	switch (r->format) {
	case DFU_FORMAT_ELF:
		return dfu_elf_parse(buf, len, r->img, &r->opts.limits, e);
	case DFU_FORMAT_DFUSE:
		return dfuse_file_parse(buf, len, r->img, &r->opts.limits, e);
	default:
		return finish_raw(r, len, e);
	}
}

int dfu_reader_finish(struct dfu_reader *r, struct dfu_image **out, struct dfu_error *e)
{
	int ret;

	if (r->state == R_FAILED || r->state == R_DONE)
		return dfu_error_set(e, DFU_E_INVAL, "reader.state", NULL,
				     "reader already finished");
	if (r->state == R_DETECT) {
		ret = leave_detect(r, e);
		if (ret < 0)
			return fail(r, ret);
	}
	ret = r->state == R_TEXT ? finish_text(r, e) : finish_binary(r, e);
	if (ret < 0)
		return fail(r, ret);
	r->state = R_DONE;
	*out = TAKE_PTR(r->img);
	return 0;
}

int dfu_image_parse(const uint8_t *buf, size_t len, const struct dfu_parse_opts *opts,
		    struct dfu_image **out, struct dfu_error *e)
{
	_cleanup_(dfu_reader_freep) struct dfu_reader *r = NULL;
	int ret;

	ret = dfu_reader_new(opts, &r);
	if (ret < 0)
		return dfu_error_set(e, ret, "reader.nomem", NULL, "out of memory");
	ret = dfu_reader_feed(r, buf, len, e);
	if (ret < 0)
		return ret;
	return dfu_reader_finish(r, out, e);
}
