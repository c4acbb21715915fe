/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * image/: firmware images in memory and every format they are read from and
 * written to (raw binary, DFU suffix, DfuSe, Intel HEX, S-record, ELF), the
 * Cortex-M vector table, and DfuSe memory-layout strings.  Pure: never
 * touches USB or a device.  May use core/ and src/util only.
 *
 * This header: the library-internal interfaces between the reader/writer
 * dispatch (reader.c, writer.c) and the per-format modules.  Not for the CLI.
 */
#pragma once

#include "core.h"

/* Building images: the parsers and the engine's uploads. */
/*
 * Add @len bytes at @address for @alt.  Overlap with existing bytes of the
 * same alt is accepted when the bytes are identical and refused with
 * DFU_E_CONFLICT otherwise (*conflict_at, when non-NULL, receives the first
 * differing address).  Bytes are copied.  address + len may reach 2^32 but
 * not pass it (DFU_E_RANGE).  @limits may be NULL (defaults).
 * The fast path, appending right after the last byte added, is O(1).
 * Errors: DFU_E_NOMEM, DFU_E_RANGE, DFU_E_CONFLICT.  @e is filled with a
 * generic message; format parsers normally overwrite it with their own.
 */
int dfu_image_add(struct dfu_image *img, int alt, uint32_t address, const uint8_t *data, size_t len,
		  const struct dfu_limits *limits, uint32_t *conflict_at, struct dfu_error *e);

/* Record a warning (the image owns a copy).  Returns 0 or DFU_E_NOMEM. */
int dfu_image_warn(struct dfu_image *img, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Segment of @alt containing @address, or NULL. */
const struct dfu_segment *dfu_image_find(const struct dfu_image *img, int alt, uint32_t address);

/* Sector containing @address: 0, or DFU_E_NOTFOUND. */
int dfuse_layout_find_sector(const struct dfuse_layout *l, uint32_t address,
			     struct dfuse_sector *out);
/*
 * Sectors covering [address, address+len).  Caller owns *out (free()).
 * DFU_E_NOTFOUND (with @e naming the first uncovered address) when part of
 * the range lies outside every segment.
 */
int dfuse_layout_sectors(const struct dfuse_layout *l, uint32_t address, uint64_t len,
			 struct dfuse_sector **out, size_t *n, struct dfu_error *e);

/* Effective limits (defaults filled in). */
uint64_t dfu_limits_max_bytes(const struct dfu_limits *l);
uint64_t dfu_limits_max_span(const struct dfu_limits *l);

/*
 * Maps an address back to the text line that gave it, for "given twice"
 * messages, without storing one entry per record: consecutive records of
 * equal length on consecutive lines at consecutive addresses share one run.
 */
struct dfu_line_run {
	uint32_t address; /* first address of the run */
	uint32_t rec_len; /* bytes per record (the last may be shorter) */
	uint64_t end;	  /* exclusive */
	unsigned long first_line;
	unsigned long last_line;
};
struct dfu_line_index {
	struct dfu_line_run *runs;
	size_t n, cap;
};
/* Note that @line put @len bytes at @address.  0 or DFU_E_NOMEM. */
int dfu_line_index_add(struct dfu_line_index *ix, uint32_t address, size_t len, unsigned long line);
/* The last line (before @before_line) that put a byte at @address, 0 if none. */
unsigned long dfu_line_index_find(const struct dfu_line_index *ix, uint32_t address,
				  unsigned long before_line);
void dfu_line_index_release(struct dfu_line_index *ix);

/*
 * Line-oriented parsers.  The reader splits the input into lines (LF, CRLF or
 * a lone CR as terminator), strips the terminator, counts lines from 1 and
 * hands each line over; it records the line endings in img->text.eol itself.
 * Blank lines (only spaces/tabs) are passed too: the parser decides.
 * *_line returns 0, or a negative dfu_err with @e filled (where = "line N").
 * *_finish is called once after the last line (@lines = number of lines).
 */
struct dfu_ihex;
int dfu_ihex_new(struct dfu_image *img, const struct dfu_limits *limits, struct dfu_ihex **out);
int dfu_ihex_line(struct dfu_ihex *p, const char *line, size_t len, unsigned long lineno,
		  struct dfu_error *e);
int dfu_ihex_finish(struct dfu_ihex *p, unsigned long lines, struct dfu_error *e);
void dfu_ihex_free(struct dfu_ihex *p);

struct dfu_srec;
int dfu_srec_new(struct dfu_image *img, const struct dfu_limits *limits, struct dfu_srec **out);
int dfu_srec_line(struct dfu_srec *p, const char *line, size_t len, unsigned long lineno,
		  struct dfu_error *e);
int dfu_srec_finish(struct dfu_srec *p, unsigned long lines, struct dfu_error *e);
void dfu_srec_free(struct dfu_srec *p);

/*
 * Whole-buffer parsers.  @buf is the file without any DFU suffix.  They add
 * segments and metadata to @img (already of the right format).
 */
int dfu_elf_parse(const uint8_t *buf, size_t len, struct dfu_image *img,
		  const struct dfu_limits *limits, struct dfu_error *e);
int dfuse_file_parse(const uint8_t *buf, size_t len, struct dfu_image *img,
		     const struct dfu_limits *limits, struct dfu_error *e);

/* Writers, called by dfu_image_write(). */
int dfu_ihex_write(const struct dfu_image *img, const struct dfu_write_opts *opts,
		   struct dfu_buf *out, struct dfu_error *e);
int dfu_srec_write(const struct dfu_image *img, const struct dfu_write_opts *opts,
		   struct dfu_buf *out, struct dfu_error *e);
/* Writes prefix, targets and elements, and the 16-byte suffix. */
int dfuse_file_write(const struct dfu_image *img, const struct dfu_write_opts *opts,
		     struct dfu_buf *out, struct dfu_error *e);
