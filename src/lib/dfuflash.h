/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libdfuflash: the API the dfuflash CLI may use.  The library knows DFU, DfuSe
 * and firmware image formats; it never prints, never exits and keeps no global
 * state.  Failures come back as a negative enum dfu_err plus, when the caller
 * passes one, a filled struct dfu_error.
 */
#pragma once

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ------------------------------------------------------------------------ */
/* Errors                                                                   */

enum dfu_err {
	DFU_OK = 0,
	DFU_E_NOMEM = -1,       /* out of memory */
	DFU_E_INVAL = -2,       /* invalid argument or option value (usage) */
	DFU_E_FORMAT = -3,      /* malformed input data */
	DFU_E_RANGE = -4,       /* a limit or the 32-bit address space is exceeded */
	DFU_E_UNSUPPORTED = -5, /* well-formed but not something we handle */
	DFU_E_CONFLICT = -6,    /* the same address given twice with other bytes */
	DFU_E_IO = -7,          /* reading or writing a file failed (errno kept) */
	DFU_E_NOTFOUND = -8,    /* looked-up object does not exist */
	DFU_E_EXISTS = -9,      /* would overwrite something without force */
};

/*
 * Filled once, where a failure happens.  Tests assert on @err and @code, the
 * CLI prints "<file>: <where>: <message>" and "hint: <hint>".
 */
struct dfu_error {
	int err;           /* enum dfu_err */
	char code[40];     /* stable class, e.g. "ihex.checksum", "dfu.crc_mismatch" */
	char where[48];    /* "line 3", "offset 285", "end of file"; may be empty */
	char message[256]; /* what is wrong, quoting the bad value */
	const char *hint;  /* static string or NULL */
	int sys_errno;     /* errno for DFU_E_IO, else 0 */
};

/* Clear @e (NULL allowed). */
void dfu_error_clear(struct dfu_error *e);

/*
 * Record a failure in @e (NULL allowed: then only the code is returned).
 * @code is the stable class; @where may be NULL.  Returns @err, so that
 * `return dfu_error_set(...)` reads naturally.  Only the first failure is
 * kept: a later call on an @e that already holds one changes nothing.
 */
int dfu_error_set(struct dfu_error *e, int err, const char *code, const char *where,
		  const char *fmt, ...) __attribute__((format(printf, 5, 6)));
int dfu_error_setv(struct dfu_error *e, int err, const char *code, const char *where,
		   const char *fmt, va_list ap);
/* Set the hint of an already filled @e (static string). */
void dfu_error_hint(struct dfu_error *e, const char *hint);

/* A short English name for an enum dfu_err ("malformed data"). */
const char *dfu_strerror(int err);

/* ------------------------------------------------------------------------ */
/* The image model                                                          */

enum dfu_format {
	DFU_FORMAT_AUTO = 0, /* detect by content (parse option only) */
	DFU_FORMAT_BIN,      /* raw bytes, no address */
	DFU_FORMAT_DFU,      /* raw payload followed by a DFU 1.0/1.1 suffix */
	DFU_FORMAT_DFUSE,    /* ST UM0391 container (always with a suffix) */
	DFU_FORMAT_IHEX,
	DFU_FORMAT_SREC,
	DFU_FORMAT_ELF,
};

/* "bin", "dfu", "dfuse", "ihex", "srec", "elf" ("auto" for AUTO). */
const char *dfu_format_name(enum dfu_format f);
/* Inverse of dfu_format_name; also accepts "hex", "s19", "s28", "s37", "mot".
 * Returns DFU_E_INVAL for an unknown name. */
int dfu_format_from_name(const char *name, enum dfu_format *out);

#define DFU_ALT_NONE (-1)

/*
 * One run of bytes at consecutive addresses.  address + length never exceeds
 * 2^32 (a segment may end exactly at the top of the address space).
 */
struct dfu_segment {
	uint32_t address;
	size_t length;
	uint8_t *data; /* owned by the image */
	int alt;       /* DfuSe alt setting, or DFU_ALT_NONE */
	size_t cap;    /* allocated bytes at data (internal) */
};

/* DFU 1.0/1.1 suffix (DFU 1.1 spec, appendix B). */
struct dfu_suffix {
	bool present;
	uint16_t bcd_device; /* 0xffff = any */
	uint16_t id_product;
	uint16_t id_vendor;
	uint16_t bcd_dfu; /* 0x0100 or 0x011a (DfuSe) */
	uint8_t length;   /* bLength, >= 16 */
	uint32_t crc;     /* dwCRC as stored (CRC-32 without the final XOR) */
};

enum dfu_start_kind {
	DFU_START_NONE = 0,
	DFU_START_IHEX_CS_IP,  /* ihex type 03: cs, ip; linear = cs*16 + ip */
	DFU_START_IHEX_LINEAR, /* ihex type 05 (EIP) */
	DFU_START_SREC,        /* S7/S8/S9 */
	DFU_START_ELF_ENTRY,   /* e_entry */
};

struct dfu_start {
	enum dfu_start_kind kind;
	uint32_t linear;
	uint16_t cs, ip;  /* DFU_START_IHEX_CS_IP only */
	uint8_t srec_type; /* 7, 8 or 9 for DFU_START_SREC */
};

/* One DfuSe element as it stands in the file (UM0391). */
struct dfuse_element {
	uint32_t address;
	uint32_t size;
	uint32_t crc32; /* zlib crc32 of the element data */
};

/* One DfuSe target (UM0391 "Target" prefix plus its elements). */
struct dfuse_target {
	uint8_t alt;
	bool named; /* bTargetNamed != 0 */
	uint32_t named_raw;
	char name[256]; /* up to the first NUL */
	uint32_t target_size;
	size_t n_elements;
	struct dfuse_element *elements; /* owned by the image */
};

enum dfu_line_endings {
	DFU_EOL_NONE = 0,
	DFU_EOL_LF = 1,
	DFU_EOL_CRLF = 2,
	DFU_EOL_MIXED = 3,
};

/* Text-format facts kept for `image info`. */
struct dfu_text_info {
	enum dfu_line_endings eol;
	unsigned long records;      /* all records */
	unsigned long data_records; /* ihex type 00 / S1-S3 */
	uint32_t types_seen;        /* bit n set: ihex type n / S-record Sn seen */
	bool lower_case;            /* hex digits in lower case seen */
	bool upper_case;
	char *srec_header; /* S0 payload as text (non-printables as '.'), or NULL */
};

/* ELF facts kept for `image info` and the vector table. */
struct dfu_elf_info {
	uint8_t elf_class; /* 32 or 64 */
	bool big_endian;
	uint16_t machine;
	uint16_t type;
	uint32_t flags;
	size_t n_load; /* PT_LOAD headers seen (p_filesz may be 0) */
	/* Lowest load address of the SHF_ALLOC, non-NOBITS sections, i.e. where
	 * objcopy -O binary would start; the vector table is read there. */
	bool have_section_base;
	uint32_t section_base;
};

/* The one in-memory model for every format. */
struct dfu_image {
	enum dfu_format format; /* the source format */
	/* Segments ordered by (alt, address); within one alt they neither overlap
	 * nor touch (adjacent runs are merged). */
	struct dfu_segment *segments;
	size_t n_segments;
	size_t seg_cap;

	/* False for raw binaries and DFU 1.1 payloads: they carry no address, the
	 * single segment sits at the base given in the parse options (or 0). */
	bool address_from_file;

	struct dfu_start start;
	struct dfu_suffix suffix;

	/* DfuSe container metadata (format == DFU_FORMAT_DFUSE). */
	uint8_t dfuse_version;
	uint32_t dfuse_image_size;
	size_t n_targets;
	struct dfuse_target *targets;

	struct dfu_text_info text; /* ihex / srec */
	struct dfu_elf_info elf;   /* elf */

	/* Things a tolerant reader accepted: "line 3: blank line ignored". */
	char **warnings;
	size_t n_warnings;

	/* internal bookkeeping of dfu_image_add() */
	uint64_t total_bytes;
	size_t last_seg;
};

/* Limits applied while building an image. */
struct dfu_limits {
	uint64_t max_bytes; /* total data bytes; 0 = DFU_DEFAULT_MAX_BYTES */
	uint64_t max_span;  /* highest end - lowest address; 0 = no cap (4 GiB) */
};
#define DFU_DEFAULT_MAX_BYTES (UINT64_C(1) << 30)

/*
 * New empty image of @format.  Caller owns *out; free with dfu_image_free().
 * Returns 0 or DFU_E_NOMEM.
 */
int dfu_image_new(enum dfu_format format, struct dfu_image **out);
void dfu_image_free(struct dfu_image *img);
static inline void dfu_image_freep(struct dfu_image **img)
{
	dfu_image_free(*img);
}

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
int dfu_image_add(struct dfu_image *img, int alt, uint32_t address, const uint8_t *data,
		  size_t len, const struct dfu_limits *limits, uint32_t *conflict_at,
		  struct dfu_error *e);

/* Record a warning (the image owns a copy).  Returns 0 or DFU_E_NOMEM. */
int dfu_image_warn(struct dfu_image *img, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Total data bytes over all segments. */
uint64_t dfu_image_data_bytes(const struct dfu_image *img);
/* Lowest address and highest end (exclusive, up to 2^32) over segments of
 * @alt (DFU_ALT_NONE with any_alt=true: all).  Returns false for an empty image. */
bool dfu_image_span(const struct dfu_image *img, bool any_alt, int alt, uint32_t *low,
		    uint64_t *high_excl);

/*
 * Copy @len bytes from @address of @alt into @buf.  Returns the number of
 * bytes that were present in the image; absent bytes are set to @fill.
 */
size_t dfu_image_read(const struct dfu_image *img, int alt, uint32_t address, uint8_t *buf,
		      size_t len, uint8_t fill);

/* Segment of @alt containing @address, or NULL. */
const struct dfu_segment *dfu_image_find(const struct dfu_image *img, int alt, uint32_t address);

/* zlib-compatible CRC-32 (ISO-HDLC) of @len bytes, continuing from @crc
 * (start with 0). */
uint32_t dfu_crc32(uint32_t crc, const uint8_t *buf, size_t len);

/* ------------------------------------------------------------------------ */
/* Reading images                                                           */

struct dfu_parse_opts {
	enum dfu_format format; /* DFU_FORMAT_AUTO: detect by content */
	/* The caller expects a DFU suffix (a ".dfu" name, `--format dfu`): its
	 * absence is then an error (dfu.no_suffix) instead of a raw binary. */
	bool expect_suffix;
	/* Base address for formats that carry none (bin, DFU 1.1 payload). */
	bool have_base;
	uint32_t base;
	struct dfu_limits limits;
};

/*
 * Streaming reader: feed the file in chunks of any size, then finish.
 * Text formats (Intel HEX, S-record) are parsed line by line as bytes arrive
 * and never hold the whole file; binary formats are collected and parsed at
 * finish.  The format is detected from the first bytes (and, for a DFU
 * suffix, the last ones) unless @opts says otherwise.
 *
 * dfu_reader_new: caller owns *out; free with dfu_reader_free().  @opts is
 * copied; NULL means defaults.
 * dfu_reader_feed / dfu_reader_finish: on failure the reader is spent (only
 * dfu_reader_free may follow) and @e says what and where.
 * dfu_reader_finish: on success the caller owns *out (free with
 * dfu_image_free()).
 * Errors: DFU_E_NOMEM, DFU_E_FORMAT, DFU_E_RANGE, DFU_E_CONFLICT,
 * DFU_E_UNSUPPORTED.
 */
struct dfu_reader;
int dfu_reader_new(const struct dfu_parse_opts *opts, struct dfu_reader **out);
int dfu_reader_feed(struct dfu_reader *r, const uint8_t *buf, size_t len, struct dfu_error *e);
int dfu_reader_finish(struct dfu_reader *r, struct dfu_image **out, struct dfu_error *e);
void dfu_reader_free(struct dfu_reader *r);
static inline void dfu_reader_freep(struct dfu_reader **r)
{
	dfu_reader_free(*r);
}

/* Whole-buffer convenience over the reader.  Same contract. */
int dfu_image_parse(const uint8_t *buf, size_t len, const struct dfu_parse_opts *opts,
		    struct dfu_image **out, struct dfu_error *e);

/*
 * Guess the format from the first @len bytes of a file (at least 64 bytes
 * when the file has them).  Never fails: BIN when nothing else fits.  A DFU
 * suffix is not visible here (it sits at the end).
 */
enum dfu_format dfu_format_detect(const uint8_t *buf, size_t len);

/* ------------------------------------------------------------------------ */
/* DFU suffix (suffix.c)                                                    */

#define DFU_SUFFIX_LEN 16

/*
 * Look for a DFU suffix at the end of @buf.
 * Returns 1 and fills @s when a valid suffix is present; 0 when there is no
 * "UFD" signature at len-8 (*s zeroed, @e untouched); a negative dfu_err when
 * a suffix is present but broken: dfu.bad_suffix_length (bLength < 16 or past
 * the file start), dfu.crc_mismatch, dfu.truncated_suffix (file shorter than
 * a suffix, or the signature found shifted toward the end).
 */
int dfu_suffix_parse(const uint8_t *buf, size_t len, struct dfu_suffix *s, struct dfu_error *e);

/* Serialise a 16-byte suffix for @payload (crc computed over payload and the
 * first 12 suffix bytes).  bLength is forced to 16. */
void dfu_suffix_build(const uint8_t *payload, size_t len, uint16_t bcd_device,
		      uint16_t id_product, uint16_t id_vendor, uint16_t bcd_dfu,
		      uint8_t out[DFU_SUFFIX_LEN]);

/* ------------------------------------------------------------------------ */
/* Writing images                                                           */

/* A growable output buffer; the writers append to it. */
struct dfu_buf {
	uint8_t *data;
	size_t len;
	size_t cap;
};
int dfu_buf_append(struct dfu_buf *b, const void *data, size_t len);
void dfu_buf_release(struct dfu_buf *b); /* frees data, zeroes the struct */

struct dfu_write_opts {
	enum dfu_format format;
	/* bin: gap fill byte (default 0xff); the span must not exceed max_span
	 * (0 = 256 MiB) or DFU_E_RANGE is returned with a hint to use hex. */
	uint8_t fill;
	bool have_fill;
	uint64_t max_span;
	/* dfu / dfuse suffix ids (0xffff = any).  bcd_dfu: 0 = 0x0100 for dfu,
	 * 0x011a for dfuse. */
	uint16_t vid, pid, bcd_device, bcd_dfu;
	/* dfuse: segments without an alt go to target @alt named @target_name
	 * (default 0 / "ST..." when NULL). */
	uint8_t alt;
	const char *target_name;
	/* ihex: bytes per data record (default 16, 1..255); srec likewise (1..252). */
	unsigned record_len;
};

/*
 * Serialise @img in @opts->format and append to @out.  Start addresses,
 * DfuSe targets and alts are kept where the format can carry them.
 * Errors: DFU_E_NOMEM, DFU_E_RANGE (bin span too large, address above what
 * the format can hold), DFU_E_UNSUPPORTED (e.g. ELF output).
 */
int dfu_image_write(const struct dfu_image *img, const struct dfu_write_opts *opts,
		    struct dfu_buf *out, struct dfu_error *e);

/* ------------------------------------------------------------------------ */
/* Vector table (vector.c)                                                  */

enum dfu_vt_verdict {
	DFU_VT_PLAUSIBLE = 0,
	DFU_VT_NO_DATA,      /* fewer than 8 bytes at the base */
	DFU_VT_ERASED,       /* SP or PC is 0xffffffff */
	DFU_VT_SP_UNALIGNED, /* SP not 4-aligned */
	DFU_VT_SP_NOT_RAM,   /* SP outside the RAM range */
	DFU_VT_PC_NOT_THUMB, /* reset vector even */
	DFU_VT_PC_OUTSIDE,   /* reset vector outside the image */
};

struct dfu_vector_table {
	uint32_t address; /* where it was read */
	uint32_t initial_sp;
	uint32_t reset_vector;
	bool thumb;        /* reset_vector bit 0 */
	bool reset_in_image;
	enum dfu_vt_verdict verdict;
};

/* RAM range an initial stack pointer may point into (end inclusive, since
 * the initial SP usually equals the top of RAM). */
struct dfu_ram_range {
	uint32_t low;
	uint32_t high_incl;
};

/*
 * Read the vector table at @base (or, with have_base=false, at the image's
 * section base for ELF, else the lowest address of alt 0 for DfuSe, else the
 * lowest segment) and judge it.  @ram/@n_ram: where SP may point; NULL/0
 * means the ARMv7-M SRAM regions 0x10000000..0x3fffffff (CCM, SRAM, DTCM,
 * AXI SRAM) and external RAM 0x60000000..0x9fffffff (i.MX RT SDRAM).
 * Returns 0, or DFU_E_NOTFOUND for an empty image.
 */
int dfu_image_vector_table(const struct dfu_image *img, bool have_base, uint32_t base,
			   const struct dfu_ram_range *ram, size_t n_ram,
			   struct dfu_vector_table *vt);
/* "plausible", "erased (0xffffffff)", ... */
const char *dfu_vt_verdict_str(enum dfu_vt_verdict v);

/* ------------------------------------------------------------------------ */
/* DfuSe memory layout strings (dfuse-layout.c)                             */

#define DFUSE_ATTR_READABLE 0x1
#define DFUSE_ATTR_ERASABLE 0x2
#define DFUSE_ATTR_WRITABLE 0x4

/* A run of equal sectors: count x size bytes from start. */
struct dfuse_layout_segment {
	uint32_t start;     /* address of the first sector */
	uint32_t count;     /* number of sectors */
	uint32_t size;      /* bytes per sector, > 0 */
	uint64_t end;       /* start + count*size, exclusive, <= 2^32 */
	uint8_t attr;       /* DFUSE_ATTR_* bits */
	char type;          /* the letter as written ('a'..'g') */
};

struct dfuse_layout {
	char name[256]; /* e.g. "Internal Flash", trimmed */
	size_t n_segments;
	struct dfuse_layout_segment *segments; /* in string order */
	char **warnings;
	size_t n_warnings;
};

/* One sector, as returned by the lookups. */
struct dfuse_sector {
	uint32_t start;
	uint32_t size;
	uint8_t attr;
	size_t segment; /* index into layout->segments */
};

/*
 * Parse a DfuSe interface string ("@Name/0xADDR/NN*SSSKg,..."), @len bytes
 * (no NUL needed).  Trailing garbage after a complete layout is accepted with
 * a warning in the layout; anything else malformed is refused with
 * DFU_E_FORMAT, dfuse_layout.* codes and the character offset in @e->where.
 * Caller owns *out; free with dfuse_layout_free().
 */
int dfuse_layout_parse(const char *str, size_t len, struct dfuse_layout **out,
		       struct dfu_error *e);
void dfuse_layout_free(struct dfuse_layout *l);
static inline void dfuse_layout_freep(struct dfuse_layout **l)
{
	dfuse_layout_free(*l);
}

/* Segment / sector containing @address: 0, or DFU_E_NOTFOUND. */
int dfuse_layout_find_segment(const struct dfuse_layout *l, uint32_t address, size_t *index);
int dfuse_layout_find_sector(const struct dfuse_layout *l, uint32_t address,
			     struct dfuse_sector *out);
/*
 * Sectors covering [address, address+len).  Caller owns *out (free()).
 * DFU_E_NOTFOUND (with @e naming the first uncovered address) when part of
 * the range lies outside every segment.
 */
int dfuse_layout_sectors(const struct dfuse_layout *l, uint32_t address, uint64_t len,
			 struct dfuse_sector **out, size_t *n, struct dfu_error *e);
