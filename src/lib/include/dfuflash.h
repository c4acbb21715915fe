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
	DFU_E_NOMEM = -1,	/* out of memory */
	DFU_E_INVAL = -2,	/* invalid argument or option value (usage) */
	DFU_E_FORMAT = -3,	/* malformed input data */
	DFU_E_RANGE = -4,	/* a limit or the 32-bit address space is exceeded */
	DFU_E_UNSUPPORTED = -5, /* well-formed but not something we handle */
	DFU_E_CONFLICT = -6,	/* the same address given twice with other bytes */
	DFU_E_IO = -7,		/* reading or writing a file failed (errno kept) */
	DFU_E_NOTFOUND = -8,	/* looked-up object does not exist */
	DFU_E_EXISTS = -9,	/* would overwrite something without force */

	/* USB transfer failures, one per libusb error class (the transport keeps
	 * the original libusb name in dfu_error.usb_name). */
	DFU_E_USB_PIPE = -20,	  /* the device stalled the request */
	DFU_E_USB_TIMEOUT = -21,  /* no answer within the transfer timeout */
	DFU_E_USB_NODEV = -22,	  /* the device is gone (disconnected, re-enumerated) */
	DFU_E_USB_IO = -23,	  /* transfer error on the bus */
	DFU_E_USB_OVERFLOW = -24, /* the device sent more than asked for */
	DFU_E_USB_ACCESS = -25,	  /* no permission to open the device */
	DFU_E_USB_BUSY = -26,	  /* another program holds the interface */
	DFU_E_USB_OTHER = -27,	  /* any other libusb failure */

	/* Device and protocol verdicts */
	DFU_E_NODEVICE = -30,  /* no device matches */
	DFU_E_AMBIGUOUS = -31, /* several devices match; the user must pick one */
	DFU_E_DEVSTATUS = -32, /* the device reported an error bStatus (dfuERROR) */
	DFU_E_PROTOCOL = -33,  /* a reply or state the protocol does not allow */
	DFU_E_DEADLINE = -34,  /* an operation did not finish before its deadline */
	DFU_E_VERIFY = -35,    /* read-back differs from what was written */
	DFU_E_NOAPP = -36,     /* after leave, the application did not come up */
	DFU_E_MEMMAP = -37,    /* the image does not fit the device's memory map */
};

/*
 * Filled once, where a failure happens.  Tests assert on @err and @code, the
 * CLI prints "<file>: <where>: <message>" and "hint: <hint>".
 */
struct dfu_error {
	int err;	   /* enum dfu_err */
	char code[40];	   /* stable class, e.g. "ihex.checksum", "dfu.crc_mismatch" */
	char where[48];	   /* "line 3", "offset 285", "end of file"; may be empty */
	char message[256]; /* what is wrong, quoting the bad value */
	const char *hint;  /* static string or NULL */
	int sys_errno;	   /* errno for DFU_E_IO, else 0 */

	/* Device failures (zero when not about a device) */
	char op[80]; /* "DfuSe erase page 0x08020000", "GET_STATUS after block 7" */
	bool have_address;
	uint32_t address;     /* target address of the failed operation */
	int block;	      /* wBlockNum, or -1 */
	bool have_state;      /* bState/bStatus below come from the device */
	uint8_t state;	      /* bState (DFU 1.1 6.1.2) */
	uint8_t status;	      /* bStatus */
	char istring[128];    /* the device's iString text for the status, if any */
	int usb_err;	      /* DFU_E_USB_* of the failed transfer, or 0 */
	const char *usb_name; /* "LIBUSB_ERROR_PIPE", ... (static), or NULL */

	/* Recovery and diagnostics (dfu/request.c, dfu/causes.c) */
	unsigned attempts;     /* tries of the failed request (> 1: it was retried) */
	uint32_t announced_ms; /* dfu.deadline: the last bwPollTimeout the busy device announced */
	uint32_t busy_ms;      /* dfu.deadline: how long it stayed busy */
	bool zero_poll;	       /* dfu.deadline: every busy reply announced bwPollTimeout 0 */
	/* An interrupted download: what the device's memory holds now (erased
	 * sectors, written ranges, the vector-table sector), "" when nothing was
	 * touched; the CLI prints it after the message. */
	char detail[512];
	bool resumable; /* running the same command again completes the operation */
};

/* Clear @e (NULL allowed). */
void dfu_error_clear(struct dfu_error *e);

/* DFU 1.1 state and status names as the spec writes them ("dfuDNLOAD-IDLE",
 * "errWRITE"); "unknown" for values outside the spec (never NULL). */
const char *dfu_state_name(uint8_t state);
const char *dfu_status_name(uint8_t status);
/* The spec's one-line meaning of a status ("device is unable to write memory"). */
const char *dfu_status_text(uint8_t status);

/* A short English name for an enum dfu_err ("malformed data"). */
const char *dfu_strerror(int err);

/* ------------------------------------------------------------------------ */
/* The image model                                                          */

enum dfu_format {
	DFU_FORMAT_AUTO = 0, /* detect by content (parse option only) */
	DFU_FORMAT_BIN,	     /* raw bytes, no address */
	DFU_FORMAT_DFU,	     /* raw payload followed by a DFU 1.0/1.1 suffix */
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
	uint8_t length;	  /* bLength, >= 16 */
	uint32_t crc;	  /* dwCRC as stored (CRC-32 without the final XOR) */
};

enum dfu_start_kind {
	DFU_START_NONE = 0,
	DFU_START_IHEX_CS_IP,  /* ihex type 03: cs, ip; linear = cs*16 + ip */
	DFU_START_IHEX_LINEAR, /* ihex type 05 (EIP) */
	DFU_START_SREC,	       /* S7/S8/S9 */
	DFU_START_ELF_ENTRY,   /* e_entry */
};

struct dfu_start {
	enum dfu_start_kind kind;
	uint32_t linear;
	uint16_t cs, ip;   /* DFU_START_IHEX_CS_IP only */
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
	unsigned long records;	    /* all records */
	unsigned long data_records; /* ihex type 00 / S1-S3 */
	uint32_t types_seen;	    /* bit n set: ihex type n / S-record Sn seen */
	bool lower_case;	    /* hex digits in lower case seen */
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

	/* False for raw binaries and DFU 1.1 payloads: they carry no address, the
	 * single segment sits at the base given in the parse options (or 0). */
	bool address_from_file;

	struct dfu_start start;
	struct dfu_suffix suffix;

	/* DfuSe container metadata (format == DFU_FORMAT_DFUSE). */
	uint8_t dfuse_version;
	uint32_t dfuse_image_size;
	/* DFUImageSize counts the DFU suffix too, as dfu-util's dfuse-pack writes
	 * it; ST's tools, openmv and fwupd count the file without the suffix. */
	bool dfuse_size_counts_suffix;
	size_t n_targets;
	struct dfuse_target *targets;

	struct dfu_text_info text; /* ihex / srec */
	struct dfu_elf_info elf;   /* elf */

	/* Things a tolerant reader accepted: "line 3: blank line ignored". */
	char **warnings;
	size_t n_warnings;
};

/* Limits applied while building an image. */
struct dfu_limits {
	uint64_t max_bytes; /* total data bytes; 0 = DFU_DEFAULT_MAX_BYTES */
	uint64_t max_span;  /* highest end - lowest address; 0 = no cap (4 GiB) */
};
/* 1 GiB; 256 MiB where size_t has 32 bits (armhf): the buffer that holds a
 * 1 GiB image doubles to 2 GiB on the way, which a 32-bit address space
 * cannot give, so the limit's clear error would become "out of memory". */
#define DFU_DEFAULT_MAX_BYTES (SIZE_MAX > UINT32_MAX ? UINT64_C(1) << 30 : UINT64_C(1) << 28)

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
 * Place an image that carries no address (raw binary, DFU 1.1 payload:
 * address_from_file false) at @base.  DFU_E_INVAL for an image that has its
 * own addresses, DFU_E_RANGE when it would run past 4 GiB.
 */
int dfu_image_rebase(struct dfu_image *img, uint32_t base, struct dfu_error *e);

/* Total data bytes over all segments. */
uint64_t dfu_image_data_bytes(const struct dfu_image *img);
/* Lowest address and highest end (exclusive, up to 2^32) over all segments
 * (dfu_image_span) or those of @alt (dfu_image_alt_span).  Either pointer
 * may be NULL.  Returns false when there is no such segment. */
bool dfu_image_span(const struct dfu_image *img, uint32_t *low, uint64_t *high_excl);
bool dfu_image_alt_span(const struct dfu_image *img, int alt, uint32_t *low, uint64_t *high_excl);

/*
 * Copy @len bytes from @address of @alt into @buf.  Returns the number of
 * bytes that were present in the image; absent bytes are set to @fill.
 */
size_t dfu_image_read(const struct dfu_image *img, int alt, uint32_t address, uint8_t *buf,
		      size_t len, uint8_t fill);

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
 * dfu_image_free()).  An input bigger than a file of the data limit can be
 * (a binary format: the limit plus 1 MiB of headers; text: 64 characters a
 * data byte) fails while it is fed (image.too_large), never after.
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
 * suffix is not visible here (it sits at the end).  A UTF-8 byte-order mark
 * before a text format is skipped, here and by the reader.
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
void dfu_suffix_build(const uint8_t *payload, size_t len, uint16_t bcd_device, uint16_t id_product,
		      uint16_t id_vendor, uint16_t bcd_dfu, uint8_t out[DFU_SUFFIX_LEN]);

/* ------------------------------------------------------------------------ */
/* NXP LPC DFU prefix (prefix.c), as dfu-util's dfu-prefix -L                */

#define DFU_LPC_PREFIX_LEN 16

struct dfu_lpc_prefix {
	uint16_t blocks; /* payload size in 512-byte blocks, rounded up */
};

/*
 * Recognise the unencrypted LPC prefix at the start of @buf (the file
 * without any DFU suffix).  Returns 0 and fills @p, or DFU_E_FORMAT
 * (lpc.no_prefix) when the file does not start with one.
 */
int dfu_lpc_prefix_parse(const uint8_t *buf, size_t len, struct dfu_lpc_prefix *p,
			 struct dfu_error *e);

/* The 16-byte prefix for a payload of @payload_len bytes.  Returns 0, or
 * DFU_E_RANGE (lpc.too_large) past 65535 blocks of 512 bytes. */
int dfu_lpc_prefix_build(size_t payload_len, uint8_t out[DFU_LPC_PREFIX_LEN], struct dfu_error *e);

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
	DFU_VT_NO_DATA,	     /* fewer than 8 bytes at the base */
	DFU_VT_ERASED,	     /* SP or PC is 0xffffffff */
	DFU_VT_SP_UNALIGNED, /* SP not 4-aligned */
	DFU_VT_SP_NOT_RAM,   /* SP outside the RAM range */
	DFU_VT_PC_NOT_THUMB, /* reset vector even */
	DFU_VT_PC_OUTSIDE,   /* reset vector outside the image */
};

struct dfu_vector_table {
	uint32_t address; /* where it was read */
	uint32_t initial_sp;
	uint32_t reset_vector;
	bool thumb; /* reset_vector bit 0 */
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
	uint32_t start; /* address of the first sector */
	uint32_t count; /* number of sectors */
	uint32_t size;	/* bytes per sector, > 0 */
	uint64_t end;	/* start + count*size, exclusive, <= 2^32 */
	uint8_t attr;	/* DFUSE_ATTR_* bits */
	char type;	/* the letter as written ('a'..'g') */
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
int dfuse_layout_parse(const char *str, size_t len, struct dfuse_layout **out, struct dfu_error *e);
void dfuse_layout_free(struct dfuse_layout *l);
static inline void dfuse_layout_freep(struct dfuse_layout **l)
{
	dfuse_layout_free(*l);
}

/* Segment containing @address: 0, or DFU_E_NOTFOUND. */
int dfuse_layout_find_segment(const struct dfuse_layout *l, uint32_t address, size_t *index);

/* ------------------------------------------------------------------------ */
/* Devices: context, discovery, the DFU / DfuSe engine                      */

struct dfu_ctx;
struct dfu_dev;

enum dfu_log_level {
	DFU_LOG_INFO = 0, /* what a user sees by default ("device was in dfuERROR ...: cleared") */
	DFU_LOG_VERBOSE = 1, /* -v: attributes, memory map, each erase */
	DFU_LOG_DEBUG = 2,   /* -vv: poll timeouts, Set Address */
	DFU_LOG_TRACE = 3,   /* -vvv: every control request */
};
typedef void (*dfu_log_fn)(void *userdata, enum dfu_log_level level, const char *msg);
/* Progress of a long phase ("erase", "download", "upload", "verify"). */
typedef void (*dfu_progress_fn)(void *userdata, const char *phase, uint64_t done, uint64_t total);

/*
 * A context on the system's USB devices (libusb) and the real clock, with
 * the callbacks.  Caller owns *out; free with dfu_ctx_free().  Errors:
 * DFU_E_NOMEM, DFU_E_USB_OTHER (libusb could not start), with @e filled.
 */
int dfu_ctx_new_usb(struct dfu_ctx **out, struct dfu_error *e);
void dfu_ctx_free(struct dfu_ctx *ctx);
static inline void dfu_ctx_freep(struct dfu_ctx **c)
{
	dfu_ctx_free(*c);
}
void dfu_ctx_set_log_fn(struct dfu_ctx *ctx, dfu_log_fn fn, void *userdata);
void dfu_ctx_set_progress_fn(struct dfu_ctx *ctx, dfu_progress_fn fn, void *userdata);

/*
 * How the engine waits between the GET_STATUS requests of a busy device
 * (--poll).  AUTO polls as early as the device's busy behaviour allows (a
 * quirk entry: at once for a device that holds GET_STATUS until it is done)
 * and honours bwPollTimeout for unknown and strict devices; ANNOUNCED always
 * waits bwPollTimeout; INTERVAL waits @interval_ms instead (strict devices
 * still wait at least bwPollTimeout).  A device that STALLs a poll sent before
 * bwPollTimeout is recovered and polled as announced from then on.  Applies to
 * the devices opened after the call.
 */
enum dfu_poll_mode {
	DFU_POLL_AUTO = 0,
	DFU_POLL_ANNOUNCED,
	DFU_POLL_INTERVAL,
};
void dfu_ctx_set_poll(struct dfu_ctx *ctx, enum dfu_poll_mode mode, uint32_t interval_ms);

/* One vid:pid pattern of -d (each part may be a wildcard). */
struct dfu_id_match {
	bool set;     /* this half of -d was given */
	bool none;    /* "-": no device of this mode matches */
	bool any_vid; /* "*" or empty */
	bool any_pid;
	uint16_t vid, pid;
};

/* Device selection, as dfu-util's -d -S -p -n -c -i -a.  Zeroed = any. */
struct dfu_match {
	struct dfu_id_match runtime; /* -d vid:pid      (run-time mode) */
	struct dfu_id_match dfu;     /* -d ...,vid:pid  (DFU mode) */
	const char *serial_runtime;  /* -S serial (NULL = any) */
	const char *serial_dfu;	     /* -S ...,serial_dfu */
	const char *path;	     /* -p bus-port.port */
	int devnum;		     /* -n, -1 = any */
	int config;		     /* -c, -1 = any */
	int interface;		     /* -i (interface position, as dfu-util), -1 = any */
	int alt;		     /* -a NUMBER, -1 = any */
	const char *alt_name;	     /* -a NAME: the region name ("Internal Flash") or the
				      * whole interface string */
};
/* A dfu_match that matches everything (devnum/config/interface/alt = -1). */
void dfu_match_init(struct dfu_match *m);

/* bmAttributes of the DFU functional descriptor (DFU 1.1, section 4.1.3). */
#define DFU_ATTR_CAN_DNLOAD 0x01
#define DFU_ATTR_CAN_UPLOAD 0x02
#define DFU_ATTR_MANIFEST_TOLERANT 0x04
#define DFU_ATTR_WILL_DETACH 0x08

/* Everything listing shows about one alt setting of one device. */
struct dfu_if_info {
	/* USB identity */
	uint8_t bus, devnum;
	char path[64];
	uint16_t vid, pid, bcd_device;
	uint8_t config, interface, interface_pos, alt;
	bool dfu_mode; /* bInterfaceProtocol 2 (or a DfuSe/quirk equivalent) */
	/* functional descriptor */
	uint8_t attributes; /* DFU_ATTR_* */
	uint16_t detach_timeout_ms, transfer_size, bcd_dfu;
	/* strings: "" when absent; *_state says why ("ok", "none", "no LANGID",
	 * "unreadable: LIBUSB_ERROR_PIPE", "no permission to read") */
	char name[256]; /* iInterface (the DfuSe layout string on ST ROMs) */
	char serial[128];
	char product[128];
	char manufacturer[128];
	const char *strings_state;
	/* when the device could not be opened: why, and a hint */
	int open_err; /* 0 or a negative dfu_err */
	char open_error[160];
	/* DfuSe layout parsed from name, or NULL; why not, when name looked like one */
	struct dfuse_layout *layout;
	char layout_error[320];
	/* the backend's device this alt belongs to (internal) */
	size_t device_index;
};

/*
 * List every DFU interface alt setting that matches @m (NULL: all), in
 * enumeration order.  Devices that cannot be opened are listed with
 * open_err set, never dropped (they pass the string filters, which cannot be
 * checked).  As in dfu-util: a half of -d that is not given matches any id,
 * -a and the DFU half of -S filter DFU-mode interfaces only, -c 0 means any.
 * Caller owns *out: dfu_if_info_free(*out, *n).
 */
int dfu_list(struct dfu_ctx *ctx, const struct dfu_match *m, struct dfu_if_info **out, size_t *n,
	     struct dfu_error *e);
void dfu_if_info_free(struct dfu_if_info *list, size_t n);
/* Whether @info's name (on a DfuSe device, its memory map) exists but could
 * not be read: a timeout, a stall (strings_state says which). */
bool dfu_if_name_unread(const struct dfu_if_info *info);

/*
 * dfu-util's `-l` line for @i, byte for byte (scripts parse it):
 * Found DFU: [0483:df11] ver=2200, devnum=2, cfg=1, intf=0, path="1-1", alt=0,
 * name="@Internal Flash  /0x08000000/...", serial="3574364C3034"
 * Returns the length (snprintf semantics).
 */
int dfu_if_info_format_line(const struct dfu_if_info *i, char *buf, size_t len);

/*
 * Quirk files: lines of "VID:PID[:bcdDevice] [layout=NAME] ITEM..." that add
 * to (or take back from) the built-in quirk table; dfuflash(1), QUIRK FILES,
 * has the format.  Parsing is pure: the caller reads the files.
 */
struct dfu_quirk_rules;
/* Caller owns *out; free with dfu_quirk_rules_free().  Errors: DFU_E_NOMEM. */
int dfu_quirk_rules_new(struct dfu_quirk_rules **out);
void dfu_quirk_rules_free(struct dfu_quirk_rules *q);
static inline void dfu_quirk_rules_freep(struct dfu_quirk_rules **q)
{
	dfu_quirk_rules_free(*q);
}
/*
 * Add the entries of @text (@len bytes, the contents of the file @source,
 * which messages name) to @q.  A bad line is ignored and leaves a warning
 * "SOURCE:LINE: reason" (dfu_quirk_rules_warning()); the good lines still
 * count.  Returns the number of entries added, or DFU_E_NOMEM.
 */
int dfu_quirk_rules_parse(struct dfu_quirk_rules *q, const char *source, const char *text,
			  size_t len);
size_t dfu_quirk_rules_n_warnings(const struct dfu_quirk_rules *q);
/* Warning @i (0-based) of @q, owned by @q; NULL past the end. */
const char *dfu_quirk_rules_warning(const struct dfu_quirk_rules *q, size_t i);
/* @ctx applies @q (ownership moves to @ctx; NULL drops the rules it had) to
 * every device opened after the call. */
void dfu_ctx_set_quirk_rules(struct dfu_ctx *ctx, struct dfu_quirk_rules *q);

/* Called for each quirk that applies to a device: @what ("busy=nak",
 * "mass-erase-slow", "no-leave-ignore-errors"), @source ("built-in" or
 * "FILE:LINE"), @reason (may be NULL). */
typedef void (*dfu_quirk_fn)(void *userdata, const char *what, const char *source,
			     const char *reason);
/*
 * What @ctx applies to the alt @info: each quirk through @fn (may be NULL),
 * in the order they apply (a later one overrides), and in @poll (@cap bytes)
 * the polling a device opened now would get and why ("at once after the
 * first busy reply: busy=nak (built-in)").
 */
void dfu_quirks_explain(struct dfu_ctx *ctx, const struct dfu_if_info *info, dfu_quirk_fn fn,
			void *userdata, char *poll, size_t cap);

/*
 * Open the device of @info (from dfu_list of the same ctx), claim its
 * interface and select the alt.  Caller owns *out; dfu_dev_close().
 * Errors: DFU_E_USB_ACCESS (with a hint naming the udev rule), DFU_E_USB_BUSY,
 * DFU_E_USB_NODEV, DFU_E_NOMEM.
 */
int dfu_dev_open(struct dfu_ctx *ctx, const struct dfu_if_info *info, struct dfu_dev **out,
		 struct dfu_error *e);
void dfu_dev_close(struct dfu_dev *dev);
static inline void dfu_dev_closep(struct dfu_dev **d)
{
	dfu_dev_close(*d);
}

/* GET_STATUS reply (DFU 1.1, section 6.1.2). */
struct dfu_status_reply {
	uint8_t status;
	uint32_t poll_timeout_ms; /* bwPollTimeout, 24 bits */
	uint8_t state;
	uint8_t istring;
};

/* What dfu_dev_ensure_idle() found and did, for the CLI to report. */
struct dfu_idle_report {
	struct dfu_status_reply found; /* the first GET_STATUS */
	bool cleared;		       /* CLRSTATUS was sent (found dfuERROR) */
	bool aborted;		       /* ABORT was sent (found DNLOAD/UPLOAD-IDLE) */
	bool stall_as_idle;	       /* GET_STATUS stalled: taken as appIDLE (run-time) */
};

/*
 * Bring the device to dfuIDLE from wherever it is (DFU 1.1, section 6.1):
 * dfuERROR -> CLRSTATUS; dfuDNLOAD-IDLE / dfuUPLOAD-IDLE -> ABORT; then
 * GET_STATUS must say dfuIDLE.  Logs what was found at DFU_LOG_INFO when
 * it was not dfuIDLE/OK ("device was in dfuERROR, status 11 (errVENDOR): cleared").
 * Errors: DFU_E_PROTOCOL (still in run-time mode, or a state that does not
 * clear), DFU_E_USB_*.
 */
int dfu_dev_ensure_idle(struct dfu_dev *dev, struct dfu_idle_report *report, struct dfu_error *e);

/* -s modifiers and friends, as a struct (parsed by the CLI). */
struct dfu_flash_opts {
	bool have_address; /* -s ADDR / --address: where a raw binary goes */
	uint32_t address;
	bool have_length; /* upload length */
	uint32_t length;
	bool leave;	/* :leave / --leave */
	bool have_jump; /* --jump ADDR: overrides the vector-table address */
	uint32_t jump;
	bool mass_erase; /* :mass-erase */
	bool unprotect;	 /* :unprotect */
	bool will_reset; /* :will-reset */
	bool force;	 /* :force / --force (memory-map checks, suffix ids) */
	bool verify;	 /* --verify */
	bool wait_app;	 /* --wait-app: confirm the application came up */
	uint32_t wait_app_ms;
	uint32_t timeout_ms;	/* --timeout: per-operation deadline override, 0 = default */
	uint16_t transfer_size; /* -t, 0 = the device's */
	bool otp;		/* --otp: writing OTP data and lock bytes is allowed */
	/* --full: DfuSe erases and writes every sector of the image, without first
	 * comparing them with the chip (the differential re-flash, the default) */
	bool full;
};

/* What a download / upload / leave did, for the CLI and --json. */
struct dfu_flash_result {
	uint64_t bytes_written;
	uint64_t bytes_read;
	uint32_t sectors_erased;
	bool mass_erased; /* DfuSe: a mass erase did it (--mass-erase, or the image covers the
			   * whole flash and differs in every sector) */
	/* differential re-flash (DfuSe): the sectors of the image, those found
	 * holding it already (neither erased nor written), and why none was
	 * compared ("" when they were, or when --full asked for none) */
	uint32_t sectors_total;
	uint32_t sectors_skipped;
	char full_flash_reason[128];
	bool verified;
	bool left;     /* leave/reset requested and the device went away */
	bool app_seen; /* the application's run-time interface came up */
	bool have_jump;
	uint32_t jump_address; /* where the leave request pointed */
	uint32_t retries;
	uint64_t elapsed_ms;
	/* verify: first mismatch */
	bool mismatch;
	uint32_t mismatch_address;
	uint64_t mismatch_count;
	/* protection (protect.c) */
	bool read_protected;	     /* the device refused with errVENDOR: RDP level 1 */
	bool write_protected;	     /* a written sector read back unchanged (WRP) */
	uint32_t wrp_sector;	     /* its start address */
	bool otp;		     /* the download wrote OTP memory */
	uint32_t otp_blocks_written; /* bit i: OTP data block i received new bytes */
	uint32_t otp_locks_written;  /* bit i: lock byte i was programmed */
	uint32_t otp_blocks_locked;  /* bit i: block i is locked now (read back) */
	uint32_t otp_bytes_changed;
	/* recovery (dfu/request.c): why each retry was made, the first DFU_RETRY_LOG_MAX */
	char retry_log[8][96];
	uint32_t n_retry_log;
};

/*
 * Download @img to the device: DfuSe (bcdDFU 0x011a) per UM0424/AN3156 with
 * the memory map checked before anything is touched, only the touched sectors
 * erased and the sector holding the vector table written last; plain DFU 1.1
 * otherwise (blocks from 0, manifestation).  Then verify and leave if asked.
 * DfuSe flash that can be read is first compared sector by sector with the
 * image (unless opts->full): sectors already holding it are neither erased
 * nor written (res->sectors_skipped of res->sectors_total), the written ones
 * are read back and compared; a device that refuses the reads gets a full
 * flash, with the reason in res->full_flash_reason and an INFO log line.
 * Errors: DFU_E_MEMMAP (names the address and why), DFU_E_DEVSTATUS,
 * DFU_E_PROTOCOL, DFU_E_DEADLINE, DFU_E_VERIFY, DFU_E_USB_*, DFU_E_INVAL.
 */
int dfu_dev_download(struct dfu_dev *dev, const struct dfu_image *img,
		     const struct dfu_flash_opts *opts, struct dfu_flash_result *res,
		     struct dfu_error *e);

/* What a download would do, sector by sector (dfu_dev_plan). */
enum dfu_plan_action {
	DFU_PLAN_ERASE = 0, /* erased, then written */
	DFU_PLAN_SKIP,	    /* already holds the image's bytes: neither erased nor written */
};

struct dfu_plan_sector {
	uint32_t start;
	uint32_t size;
	enum dfu_plan_action action;
};

/* One contiguous write, in the order the download sends them. */
struct dfu_plan_write {
	uint32_t address;
	uint32_t length;
	bool vector_table; /* the sector holding the vector table: written last */
};

struct dfu_plan {
	bool dfuse;	 /* DfuSe addressing; plain DFU 1.1 writes blocks from 0 */
	bool mass_erase; /* the whole flash is erased first (--mass-erase: no sector list) */
	/* the mass erase replaces the erases of the sectors listed: the image
	 * covers every sector and all differ; should one not read blank after
	 * it, they are erased one by one */
	bool mass_erase_checked;
	struct dfu_plan_sector *sectors; /* the sectors the image touches */
	size_t n_sectors;
	struct dfu_plan_write *writes;
	size_t n_writes;
	uint64_t bytes; /* bytes sent, padding included */
	bool leave;	/* the device is told to leave DFU mode afterwards */
	bool have_jump; /* DfuSe: where the leave request points */
	uint32_t jump;
};

/*
 * Plan the download of @img with @opts as dfu_dev_download() would, with
 * every refusal it would make, and erase and write nothing (a dry run).  On a
 * DfuSe device without opts->full the plan compares the sectors with the
 * chip as the download does (reads: UPLOAD and Set Address), and marks those
 * the chip holds already DFU_PLAN_SKIP.  The device must be in dfuIDLE.
 * Caller owns *out: dfu_plan_free().  Errors: those of dfu_dev_download()
 * that come before the first erase (DFU_E_MEMMAP, DFU_E_INVAL, DFU_E_NOMEM),
 * and those of a failed read.
 */
int dfu_dev_plan(struct dfu_dev *dev, const struct dfu_image *img,
		 const struct dfu_flash_opts *opts, struct dfu_plan **out, struct dfu_error *e);
void dfu_plan_free(struct dfu_plan *p);
static inline void dfu_plan_freep(struct dfu_plan **p)
{
	dfu_plan_free(*p);
}

/*
 * Read device memory into a new image (caller owns *out).  DfuSe: from
 * opts->address, opts->length bytes or to the end of its layout segment;
 * plain DFU: until a short block (opts->length caps it).
 */
int dfu_dev_upload(struct dfu_dev *dev, const struct dfu_flash_opts *opts, struct dfu_image **out,
		   struct dfu_flash_result *res, struct dfu_error *e);

/*
 * Leave DFU mode and start the application (DfuSe: Set Address to the jump
 * target, zero-length DNLOAD, GET_STATUS; the device vanishing is success).
 * @img may be NULL (then opts->jump or the device's default).
 */
int dfu_dev_leave(struct dfu_dev *dev, const struct dfu_image *img,
		  const struct dfu_flash_opts *opts, struct dfu_flash_result *res,
		  struct dfu_error *e);

/* DFU_DETACH (run-time) with a USB reset unless bitWillDetach; a stall in
 * DFU mode is not an error. */
int dfu_dev_detach(struct dfu_dev *dev, struct dfu_error *e);
/* USB reset; the device going away is not an error. */
int dfu_dev_reset(struct dfu_dev *dev, struct dfu_error *e);

/*
 * Wait up to @timeout_ms for a device matching @m to appear (dfu-util -w,
 * fixed), or, with @same non-NULL, for that same device to come back after a
 * re-enumeration (matched by path, then serial; never "any DFU device"; it
 * counts as back once it was seen gone or changed mode or address).
 * @timeout_ms 0: forever without @same, 5000 ms with it.
 * On success *out and *n hold the matching alts (dfu_if_info_free).
 * Errors: DFU_E_NODEVICE after the timeout.
 */
int dfu_wait_for(struct dfu_ctx *ctx, const struct dfu_match *m, const struct dfu_if_info *same,
		 uint32_t timeout_ms, struct dfu_if_info **out, size_t *n, struct dfu_error *e);

/*
 * Wait up to @timeout_ms for any USB device to arrive on or leave the bus
 * (libusb hotplug), for callers that list again on every change.  Returns 1
 * after a change, 0 after the timeout (or a signal), DFU_E_UNSUPPORTED when
 * the platform or backend reports no such events: then poll with dfu_list().
 */
int dfu_wait_bus_change(struct dfu_ctx *ctx, uint32_t timeout_ms, struct dfu_error *e);

/* ------------------------------------------------------------------------ */
/* Protection, option bytes, OTP (protect.c, optbytes.c)                    */

/* The hint of a read-protected chip (code "dfuse.read_protected"). */
#define DFU_HINT_READ_PROTECTED                                                                    \
	"the chip is read-protected (RDP level 1); `--unprotect` removes the protection by "       \
	"mass-erasing the whole flash"

/*
 * DfuSe Read Unprotect (0x92, AN2662 Fig. 60): the device mass-erases its
 * flash and RAM, clears RDP and resets.  The first GET_STATUS must say
 * dfuDNBUSY; a second one, sent after bwPollTimeout, either fails (the device
 * is gone: success) or reports dfuERROR/errUNKNOWN (refused: DFU_E_DEVSTATUS,
 * code "dfuse.unprotect_failed").  @dev is unusable afterwards: close it and
 * wait for the device to re-enumerate (dfu_dev_unprotect_wait_ms()).
 * Errors: DFU_E_UNSUPPORTED (not a DfuSe device), DFU_E_DEVSTATUS,
 * DFU_E_PROTOCOL, DFU_E_USB_*.
 */
int dfu_dev_unprotect(struct dfu_dev *dev, struct dfu_error *e);
/* How long to wait for the device to come back after a Read Unprotect: 30 s
 * plus the family's mass-erase deadline. */
uint32_t dfu_dev_unprotect_wait_ms(const struct dfu_dev *dev);
/* A copy of what the device was opened from (layout = NULL), so that it can be
 * found again after a reset with dfu_wait_for(). */
void dfu_dev_identity(const struct dfu_dev *dev, struct dfu_if_info *out);

/* OTP areas with lock bytes (RM0090 3.8: 16 data blocks of 32 bytes at
 * 0x1FFF7800, a lock byte each at 0x1FFF7A00; the F7 has 64-byte blocks at
 * 0x1FF0F000).  Never erased; a block is locked by programming 0x00. */
struct dfu_otp_layout {
	const char *family;  /* "STM32F2/F4", "STM32F7" */
	uint32_t base;	     /* first data byte */
	uint32_t block_size; /* 32 (F2/F4) or 64 (F7) */
	uint32_t n_blocks;   /* 16 */
	uint32_t lock_base;  /* lock byte of block i at lock_base + i */
};
/* The OTP layout holding @address (data or lock bytes), or false. */
bool dfu_otp_layout_for(uint32_t address, struct dfu_otp_layout *out);
/* Bytes of the whole area: data blocks and lock bytes. */
static inline uint32_t dfu_otp_area_size(const struct dfu_otp_layout *l)
{
	return l->n_blocks * l->block_size + l->n_blocks;
}

/* Option bytes (optbytes.c) ------------------------------------------------ */

enum dfu_ob_family {
	DFU_OB_UNKNOWN = 0,
	DFU_OB_F2F4, /* 0x1FFFC000, 16 bytes: USER, RDP, complements, nWRP (RM0090) */
	DFU_OB_L4G4, /* 0x1FFF7800, 40/48 bytes: FLASH_OPTR, PCROP, WRP areas (RM0351/RM0440) */
	DFU_OB_F0F1, /* 0x1FFFF800, 16 bytes: RDP, USER, data, WRP0..3 with complements */
};

struct dfu_option_bytes {
	enum dfu_ob_family family;
	const char *family_name; /* "STM32F2/F4", ... or "unknown" */
	uint32_t base;
	size_t len;
	/* read-out protection */
	bool have_rdp;
	uint8_t rdp_raw;
	int rdp_level; /* 0, 1, 2 */
	/* write protection: bit i set = sector / page group i protected (F2/F4, F0/F1);
	 * L4/G4: up to two page ranges */
	bool have_wrp;
	unsigned wrp_bits; /* number of valid bits in wrp_mask */
	uint32_t wrp_mask;
	unsigned n_wrp_ranges;
	uint32_t wrp_first[2], wrp_last[2]; /* L4/G4: pages */
	bool pcrop_mode;		    /* F4 SPRMOD: nWRP bits select PCROP instead */
	/* brown-out reset */
	bool have_bor;
	int bor_level;	      /* F2/F4: 0 = off, 1..3; L4/G4: 0..4 */
	const char *bor_text; /* "off (1.8-2.1 V)", ... */
	/* user configuration */
	bool have_user;
	bool wdg_sw;	 /* true: software watchdog; false: hardware (always on) */
	bool nrst_stop;	 /* true: no reset when entering Stop */
	bool nrst_stdby; /* true: no reset when entering Standby */
	char boot[128];	 /* boot configuration in words */
	/* consistency: a complement byte that does not match */
	bool complement_error;
	uint32_t complement_at;
};

/*
 * Decode @len option bytes read at @base.  The family is identified by the
 * base and length; an unknown layout gives family DFU_OB_UNKNOWN and
 * DFU_E_UNSUPPORTED (code "optbytes.unknown_layout").  @flash_sectors: the
 * number of flash sectors (0 = unknown) to size the WRP mask.  Pure.
 */
int dfu_option_bytes_decode(uint32_t base, const uint8_t *data, size_t len, unsigned flash_sectors,
			    struct dfu_option_bytes *out, struct dfu_error *e);
/*
 * After an option-byte write made the device reset: wait up to @timeout_ms
 * for it (dfu_reopen of the same alt), read the option bytes again and
 * compare them with @img.  0 when they hold what was written (*back, when
 * non-NULL, gets the read bytes: caller frees).  DFU_E_VERIFY ("optbytes.differ")
 * when not, the read-protected classification when the new values enabled
 * RDP (the device refuses the read), DFU_E_NODEVICE when it does not return.
 */
int dfu_option_bytes_confirm(struct dfu_ctx *ctx, const struct dfu_if_info *was,
			     const struct dfu_image *img, uint32_t timeout_ms,
			     struct dfu_image **back, struct dfu_error *e);

/* ------------------------------------------------------------------------ */
/* Recovery and diagnostics (dfu/request.c, recover.c, causes.c)            */

#define DFU_RETRY_LOG_MAX 8

/* Add a line to res->retry_log and count it in res->retries (printf-style). */
void dfu_flash_result_note_retry(struct dfu_flash_result *res, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * Whether a failed download may succeed after a USB reset of the device:
 * transfer errors that outlived the retries (PIPE, TIMEOUT, IO, OVERFLOW),
 * a device verdict that is no verdict (errUNKNOWN, errUSBR, errPOR,
 * errSTALLEDPKT) and a device stuck in a state only a reset leaves.  Never
 * for a device that is gone, a deadline, or a real verdict (errTARGET,
 * errWRITE, errVENDOR, ...): those need the user.
 */
bool dfu_error_wants_reset(const struct dfu_error *e);

/*
 * Reset the device of *dev (USB reset) and bring the same interface and alt
 * back to dfuIDLE.  A device that stays on the bus through the reset (ST
 * ROMs) keeps its handle: the alt is selected again.  One that re-enumerates
 * is closed, waited for up to 5 s at the same path (never another device)
 * and opened again: *dev is then replaced (NULL after a failure); if it comes
 * back in run-time mode (its firmware started), it is detached into DFU mode
 * once more and waited for again.  Logs what it did at DFU_LOG_INFO ("reset
 * the device at 1-1 ...").
 * Errors: DFU_E_NODEVICE (did not come back, code "device.did_not_return"),
 * open and dfu_dev_ensure_idle() errors.
 */
int dfu_dev_recover(struct dfu_dev **dev, struct dfu_error *e);

/* One control request, for --trace (emitted after it completed). */
struct dfu_trace_rec {
	uint64_t t_us; /* start, microseconds on the context's clock */
	uint64_t duration_us;
	uint8_t bm_request_type, b_request;
	uint16_t w_value, w_index, w_length;
	const char *request; /* "DFU_GETSTATUS", "GET_DESCRIPTOR", ... */
	const char *op;	     /* what the engine was doing ("DfuSe erase page 0x08000000"), or "" */
	const uint8_t *data; /* data stage: OUT as sent, IN as received (valid during the call) */
	size_t data_len;
	int result;	       /* bytes transferred, or a negative dfu_err */
	const char *usb_error; /* libusb name of the failure, or NULL */
	unsigned attempt;      /* 0, or the retry number */
	bool have_state;       /* a complete GET_STATUS reply: */
	uint8_t state, status;
	uint32_t poll_timeout_ms;
};
typedef void (*dfu_trace_fn)(void *userdata, const struct dfu_trace_rec *rec);
void dfu_ctx_set_trace_fn(struct dfu_ctx *ctx, dfu_trace_fn fn, void *userdata);
