/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The DFU 1.1 / DfuSe protocol engine, one file per job, each using only the
 * ones listed before it:
 *   ctx.c        context, log, clock, trace of each control request
 *   usb-error.c  failed transfers: messages, "gone", "transient"
 *   discover.c   listing, matching, waiting for a device
 *   dev.c        an open alt: open, close, DETACH, USB reset, reopen
 *   causes.c     the cause table of device errors;  quirks.c  per-device quirks
 *   quirk-rules.c  quirk files: lines parsed into rules for quirks.c
 *   op.c         ops, deadlines, device-error messages, retry notes
 *   facts.c      what a running download did to the flash
 *   request.c    requests with classified retries, GET_STATUS polling
 *   idle.c       bringing a device to dfuIDLE;  recover.c  reset and reopen
 *   plain.c      plain DFU 1.1 download, upload, leave
 *   st-rom.c, otp.c, optbytes.c   ST ROM refusals, OTP rules, option bytes
 *   dfuse-io.c   DfuSe commands, Set Address, ABORT, reading memory
 *   dfuse-diff.c comparing the sectors to write with the chip (re-flash)
 *   dfuse.c      ST DfuSe (AN3156) download, upload, leave, Read Unprotect
 *   ops.c        the public download/upload/leave: checks, then dispatch
 *   protect.c    read unprotect with the wait for the device, reopen
 * Library-internal: not for the CLI.
 */
#pragma once

#include "engine.h"

/* ------------------------------------------------------------------------ */
/* Quirks (quirks.c)                                                        */

/* Room for "FILE:LINE" of a quirk file entry (longer paths are cut). */
#define DFU_QUIRK_SOURCE_MAX 160

/* The ROM uses the Address Pointer as the entry PC at leave, not as the base of
 * a vector table (STM32H7 reports: an H743 leaves with 0x8008ACC or 0x8000123,
 * ST community "STM32H7 is stucked in system bootloader when trying to jump to
 * the application"). */
#define DFU_QUIRK_JUMP_TO_RESET_VECTOR (1u << 0)
/* The device may reset on the leave DNLOAD itself, with or without an answer
 * (GD32VF103; dfu-util QUIRK_DFUSE_LEAVE): every leave error is success. */
#define DFU_QUIRK_LEAVE_IGNORE_ERRORS (1u << 1)
/* DfuSe commands answer the first GET_STATUS with dfuDNLOAD-IDLE, skipping
 * dfuDNBUSY (STM32U5, dfu-util ticket 145).  Always accepted; the bit only
 * documents the device. */
#define DFU_QUIRK_SKIPS_DNBUSY (1u << 2)
/* bwPollTimeout values are meaningless: wait 5 ms instead (Openmoko/u-boot,
 * dfu-util QUIRK_POLLTIMEOUT). */
#define DFU_QUIRK_POLL_TIMEOUT_BOGUS (1u << 3)
/* Announces 100 ms for a mass erase that takes up to 32 s (STM32F405, dfu-util:
 * "STM32F405 lies about mass erase timeout"): the deadline covers the real time. */
#define DFU_QUIRK_MASS_ERASE_SLOW (1u << 4)
/* No Cortex-M vector table: the ROM resets into flash at leave (GD32VF103 is
 * RISC-V); the jump target is the image's lowest address, unchecked. */
#define DFU_QUIRK_NO_VECTOR_TABLE (1u << 5)

/* The leave request does not jump to the Address Pointer: the bootloader
 * resets and starts whatever it deems the application (Particle's DFU
 * bootloader, which also flashes user parts that carry no vector table).  An
 * implausible vector table is then no reason to refuse :leave. */
#define DFU_QUIRK_LEAVE_IGNORES_ADDRESS (1u << 6)
/* The serial number string descriptor is UTF-8, not UTF-16LE (GD32VF103;
 * dfu-util QUIRK_UTF8_SERIAL). */
#define DFU_QUIRK_UTF8_SERIAL (1u << 7)
/* The DfuSe layout announces 2 KiB pages of a chip with 1 KiB ones, whose
 * flash size the serial number codes (GD32VF103; dfu-util QUIRK_DFUSE_LAYOUT):
 * dfu_quirk_fix_layout() rebuilds it. */
#define DFU_QUIRK_LAYOUT_FROM_SERIAL (1u << 8)
/* A DfuSe device that counts the blocks it gets rather than placing each at
 * pointer + (wBlockNum - 2) * wTransferSize as AN3156 says: no block out of
 * sequence, even on an ST ROM (a quirk file's way back to dfu-util's
 * numbering). */
#define DFU_QUIRK_SEQUENTIAL_BLOCKS (1u << 9)

/* Built-in table entries and quirk-file lines may also require a memory map
 * (the interface strings of the ST ROMs, as `dfu-util -l` lists them), which
 * tells ROMs with the same ids apart. */
enum dfu_quirk_layout {
	DFU_LAYOUT_ANY = 0,
	/* internal flash at 0x08000000 made only of 128 KiB sectors: STM32H743/H753
	 * ("16*128Kg"), H750, H745/H755; no F2/F4/F7 has this */
	DFU_LAYOUT_H7_128K,
	/* internal flash at 0x08000000 starting with 16 or 32 KiB sectors: the
	 * F2/F4/F7 sector flash with 8-32 s mass erase (RM0090, 3.4) */
	DFU_LAYOUT_F4_SECTORS,
	/* internal flash at 0x08000000 made of 8 KiB pages: STM32U5, H7A3/B3 */
	DFU_LAYOUT_8K_PAGES,
	/* internal flash at 0x08000000 made of 1 or 2 KiB pages: F0/F1/F3, L4, G0, G4 */
	DFU_LAYOUT_SMALL_PAGES,
};
/* "f4-sectors", ... and back; -1 for an unknown name. */
const char *dfu_quirk_layout_name(enum dfu_quirk_layout m);
int dfu_quirk_layout_from_name(const char *name);
bool dfu_quirk_layout_matches(const struct dfuse_layout *l, enum dfu_quirk_layout m);
/* The DFU_QUIRK_* bit named @name ("mass-erase-slow"), 0 when unknown. */
uint32_t dfu_quirk_from_name(const char *name);

/*
 * What a device does with a request sent while it is busy (dfuDNBUSY before
 * its operation ended).  ROMs announce a constant bwPollTimeout, not the real
 * duration, so this decides how early the engine may poll.
 */
enum dfu_busy {
	DFU_BUSY_UNKNOWN = 0,
	DFU_BUSY_NAK,	 /* held until the operation ends (ST F2/F4/F7 ROMs) */
	DFU_BUSY_STALL,	 /* STALLed, the operation goes on (STM32F072, some L4) */
	DFU_BUSY_REPEAT, /* answered dfuDNBUSY again (STM32H743 bank 2) */
	DFU_BUSY_STRICT, /* STALLed and dfuERROR (DFU 1.1 state machine, tinyusb) */
};
/* "nak", "stall", "repeat", "strict", "unknown". */
const char *dfu_busy_name(enum dfu_busy b);

/* What the quirk table and the quirk files give one alt setting. */
struct dfu_quirk_set {
	uint32_t bits;	    /* DFU_QUIRK_* */
	enum dfu_busy busy; /* DFU_BUSY_UNKNOWN: nothing said */
	char busy_source[DFU_QUIRK_SOURCE_MAX];
	uint32_t mass_erase_ms; /* a mass-erase deadline, 0 = derived from the layout */
};

/* One line of a quirk file (quirk-rules.c parses them). */
struct dfu_quirk_rule {
	uint16_t vid, pid;
	int32_t bcd_device; /* -1 = any */
	enum dfu_quirk_layout layout;
	uint32_t set, clear; /* DFU_QUIRK_* bits */
	enum dfu_busy busy;  /* DFU_BUSY_UNKNOWN: not set by this line */
	uint32_t mass_erase_ms;
	char source[DFU_QUIRK_SOURCE_MAX]; /* "FILE:LINE" */
	char reason[96];		   /* the line's trailing comment, or "" */
};

/* The rules of the quirk files a context was given, in file order, and the
 * lines they ignored (warnings, "FILE:LINE: reason"). */
struct dfu_quirk_rules {
	struct dfu_quirk_rule *rules;
	size_t n_rules, cap_rules;
	char **warnings;
	size_t n_warnings, cap_warnings;
};

/* Called for each quirk that applies: @what ("busy=nak", "mass-erase-slow",
 * "no-mass-erase-slow", "mass-erase-ms=40000"), where it came from ("built-in"
 * or "FILE:LINE") and why (may be NULL). */
typedef void (*dfu_quirk_visit_fn)(void *ud, const char *what, const char *source,
				   const char *reason);

/*
 * The quirks of @info: the built-in table first, then @rules (may be NULL) in
 * file order, a later entry overriding an earlier one.  @fn (may be NULL)
 * sees each entry that applies.
 */
void dfu_quirks_resolve(const struct dfu_quirk_rules *rules, const struct dfu_if_info *info,
			struct dfu_quirk_set *out, dfu_quirk_visit_fn fn, void *ud);
/* DFU_QUIRK_* bits for an alt setting from the built-in table alone. */
uint32_t dfu_quirks_for(const struct dfu_if_info *info);

/*
 * The polling of a device with the quirks @q under --poll @mode (@interval_ms
 * for DFU_POLL_INTERVAL), with the reason in out->why.  Pure.
 */
void dfu_poll_plan_choose(enum dfu_poll_mode mode, uint32_t interval_ms,
			  const struct dfu_quirk_set *q, struct dfu_poll_plan *out);
/* Name of one DFU_QUIRK_* bit ("jump-to-reset-vector"), "unknown" otherwise. */
const char *dfu_quirk_name(uint32_t bit);

/*
 * Correct a layout the device gets wrong, on devices with
 * DFU_QUIRK_LAYOUT_FROM_SERIAL (the built-in table, then @rules).  The
 * GD32VF103 (28e9:0189) announces 512 pages of 2 KiB; the chip has 1 KiB
 * pages and its flash size is coded in the serial string's third character
 * (4: 16 KiB, 6: 32 KiB, 8: 64 KiB, B: 128 KiB), as dfu-util's
 * QUIRK_DFUSE_LAYOUT reads it.  Erasing by the announced 2 KiB pages leaves
 * every other KiB unerased.  Returns true when @l was changed.
 */
bool dfu_quirk_fix_layout(const struct dfu_quirk_rules *rules, const struct dfu_if_info *info,
			  struct dfuse_layout *l);

/*
 * Default deadlines in ms (the datasheet maxima in quirks.c with a margin).
 * The caller's opts->timeout_ms overrides them when non-zero.
 */
uint32_t dfu_deadline_erase_ms(const struct dfu_dev *dev, uint32_t sector_size);
uint32_t dfu_deadline_mass_erase_ms(const struct dfu_dev *dev);
uint32_t dfu_deadline_write_ms(const struct dfu_dev *dev, uint32_t len);
/* Set Address, ABORT-like commands, leave, manifestation. */
#define DFU_DEADLINE_COMMAND_MS 5000u
#define DFU_DEADLINE_MANIFEST_MS 30000u

/* DfuSe command bytes (AN3156 table 3). */
#define DFUSE_CMD_SET_ADDRESS 0x21
#define DFUSE_CMD_ERASE 0x41
#define DFUSE_CMD_READ_UNPROTECT 0x92

/* ------------------------------------------------------------------------ */
/* Failed transfers (usb-error.c)                                            */

/* What to do about an open/claim failure (udev rule, busy), or NULL. */
const char *dfu_usb_hint(int r);
/* Record a failed USB operation: the class, the operation and the libusb name. */
int dfu_usb_fail(struct dfu_error *e, int r, const char *usb_name, const char *code, const char *op,
		 const char *fmt, ...) __attribute__((format(printf, 6, 7)));
/* The transfer failures worth a retry (PIPE, TIMEOUT, IO, OVERFLOW). */
bool dfu_usb_transient(int r);

/* ------------------------------------------------------------------------ */
/* Discovery and open devices (discover.c, dev.c)                            */

/* Waiting for a device re-enumerates this often (dfu-util -w polls every 20 ms,
 * which on libusb costs an open per candidate; 50 ms keeps the latency
 * invisible). */
#define DFU_WAIT_POLL_MS 50

/* After a USB reset that left @dev on the bus (ST ROMs): select its alt again
 * (the reset dropped it; the handle and the claim stay valid). */
int dfu_dev_reselect_alt(struct dfu_dev *dev, struct dfu_error *e);
/* Parse the DfuSe layout of @i; failure is noted in the log, not fatal. */
int dfu_info_parse_layout(struct dfu_ctx *ctx, struct dfu_if_info *i);
/*
 * Wait for the alt @was to be listed in DFU mode again after a USB reset and
 * open it into *@nd; one that comes back in run-time mode is detached once
 * and waited for again.
 */
int dfu_reopen_after_reset(struct dfu_ctx *ctx, const struct dfu_if_info *was, struct dfu_dev **nd,
			   struct dfu_error *e);

/* ------------------------------------------------------------------------ */
/* Requests and polling (op.c, request.c)                                    */

/* What an error names: "DfuSe erase page 0x08020000", block, address. */
struct dfu_op {
	char name[80];
	int block; /* wBlockNum, or -1 */
	bool have_address;
	uint32_t address;
	/* No retries for this op: the device may legitimately vanish here (leave,
	 * :will-reset, manifestation).  dfu_op_init() clears it. */
	bool no_retry;
};
/* An op named by @fmt at wBlockNum @block (-1: none), with no address. */
void dfu_op_init(struct dfu_op *op, int block, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The same, at @address (errors name it; the cause table reads it). */
void dfu_op_init_at(struct dfu_op *op, int block, uint32_t address, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* The same, at the block and address of @like (a request made for it). */
void dfu_op_init_like(struct dfu_op *op, const struct dfu_op *like, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static inline void dfu_op_set_address(struct dfu_op *op, uint32_t address)
{
	op->have_address = true;
	op->address = address;
}

/*
 * The one function every class request goes through (logged at TRACE), so
 * that classified retries can be added in one place.  @data holds @len bytes
 * (OUT) or has room for them (IN).  Returns the bytes transferred, or a
 * negative dfu_err with @e naming @op, the request and the libusb error.
 * A stalled DNLOAD/UPLOAD is followed by one GET_STATUS so that @e carries
 * the device's bState/bStatus when it went to dfuERROR.
 */
int dfu_request(struct dfu_dev *dev, const struct dfu_op *op, uint8_t request, uint16_t value,
		uint8_t *data, uint16_t len, unsigned timeout_ms, struct dfu_error *e);

/* GET_STATUS; a reply shorter than 6 bytes is DFU_E_PROTOCOL.  Updates dev->last. */
int dfu_get_status(struct dfu_dev *dev, const struct dfu_op *op, unsigned timeout_ms,
		   struct dfu_status_reply *st, struct dfu_error *e);
int dfu_clr_status(struct dfu_dev *dev, const struct dfu_op *op, struct dfu_error *e);
int dfu_abort(struct dfu_dev *dev, const struct dfu_op *op, struct dfu_error *e);

/*
 * Poll GET_STATUS after a DNLOAD until the device leaves the busy states
 * (dfuDNLOAD-SYNC, dfuDNBUSY, dfuMANIFEST-SYNC, dfuMANIFEST), waiting only
 * after a busy reply and never after an idle one: bwPollTimeout (DFU 1.1
 * 6.1.2), or what dev->poll allows (at once on a device that holds the
 * request until it is done); an early GET_STATUS that stalls demotes the
 * device to bwPollTimeout.  Every wait ends at @deadline_ms, absolute
 * (dfu_now_ms scale).  A device still
 * busy at the deadline gets the CLRSTATUS pair (STM32H743 bank 2,
 * betaflight-configurator PR 1861) and the result is DFU_E_DEADLINE.  A
 * final dfuERROR is DFU_E_DEVSTATUS with state/status/iString in @e.  *st is
 * the last reply.
 */
int dfu_poll(struct dfu_dev *dev, const struct dfu_op *op, uint64_t deadline_ms,
	     struct dfu_status_reply *st, struct dfu_error *e);

/* Sleep the @announced_ms a busy reply asked for, but not past @deadline_ms
 * (absolute); a shortened wait is logged at -v. */
void dfu_wait_announced(struct dfu_dev *dev, const struct dfu_op *op, uint32_t announced_ms,
			uint64_t deadline_ms);

/* Fill @e for a final dfuERROR reply (state, status, iString, hint). */
int dfu_error_devstatus(struct dfu_dev *dev, const struct dfu_op *op,
			const struct dfu_status_reply *st, struct dfu_error *e);
/* Fill @e for an unexpected state. */
int dfu_error_wrong_state(const struct dfu_op *op, const struct dfu_status_reply *st,
			  const char *expected, struct dfu_error *e);

/* The deadline for an operation: now + (opts->timeout_ms or @default_ms). */
uint64_t dfu_deadline(struct dfu_dev *dev, const struct dfu_flash_opts *opts, uint32_t default_ms);

/* True for the transfer errors a device that just reset or left produces. */
bool dfu_err_is_gone(int err);

/* Record the device fields of @op in a failure, once (only when @e was empty). */
void dfu_op_fill_device(struct dfu_error *e, bool was_empty, const struct dfu_op *op);
/*
 * @r from an upload: a stalled UPLOAD whose GET_STATUS said dfuERROR with a
 * status is the device refusing, the link is fine (DFU_E_DEVSTATUS, exit 76,
 * not a USB error, 74): returns DFU_E_DEVSTATUS and sets e->err; any other
 * @r is returned as it is.
 */
int dfu_upload_refused(int r, struct dfu_error *e);
/*
 * The device's functional descriptor gives no wTransferSize (0) and -t gave
 * none: a fault of the device (DFU_E_PROTOCOL, not the caller's), refused
 * before the first request.
 */
int dfu_error_no_transfer_size(struct dfu_error *e);
/* Wait before retry @attempt (1..DFU_RETRY_MAX) of a transient failure. */
uint32_t dfu_retry_backoff_ms(unsigned attempt);
/* Count and explain one retry (log line and dev->res's retry log). */
void dfu_note_retry(struct dfu_dev *dev, const struct dfu_op *op, const char *what, const char *why,
		    unsigned attempt);
/* The device speaks DfuSe, or has a layout or a Set Address on record. */
bool dfu_dev_dfuse_like(const struct dfu_dev *dev);
/* DFU_REQ_* name ("DFU_DNLOAD"), "DFU_?" for others. */
const char *dfu_request_name(uint8_t req);

/* ------------------------------------------------------------------------ */
/* Download facts (facts.c)                                                 */

/* Start the facts of a download of @img: the data bytes for this alt and the
 * sector of the vector table, found as dfuse.c's plan finds it. */
void dfu_facts_begin(struct dfu_dev *dev, const struct dfu_image *img, bool dfuse);
/* The DNLOAD recorded in dev->resend completed (its poll ended in dfuDNLOAD-IDLE). */
void dfu_facts_complete(struct dfu_dev *dev, const struct dfu_op *op);
/* e->detail for a download that failed after the device's memory was touched. */
void dfu_facts_describe(struct dfu_dev *dev, int r, struct dfu_error *e);
/* e->detail for a failed upload (a link failure or a protocol violation). */
void dfu_facts_describe_read(int r, struct dfu_error *e);
/* e->detail for a failure before anything was erased or written: while bringing the
 * device to dfuIDLE, or a refusal before the first request of an operation. */
void dfu_facts_describe_untouched(int r, struct dfu_error *e);

/* ------------------------------------------------------------------------ */
/* Plain DFU 1.1 (plain.c)                                                   */

int dfu_plain_download(struct dfu_dev *dev, const struct dfu_image *img,
		       const struct dfu_flash_opts *opts, struct dfu_flash_result *res,
		       struct dfu_error *e);
int dfu_plain_upload(struct dfu_dev *dev, const struct dfu_flash_opts *opts, struct dfu_image **out,
		     struct dfu_flash_result *res, struct dfu_error *e);
int dfu_plain_leave(struct dfu_dev *dev, struct dfu_flash_result *res, struct dfu_error *e);

/* ------------------------------------------------------------------------ */
/* DfuSe commands and reads (dfuse-io.c)                                    */

/* wBlockNum of the first data block after Set Address (AN3156 "wBlockNum >= 2"). */
#define DFUSE_FIRST_BLOCK 2u

/*
 * A DfuSe command (DNLOAD wBlockNum 0, @len <= 5 bytes) and its GET_STATUS
 * polling until dfuDNLOAD-IDLE, within @deadline_ms (absolute).
 */
int dfuse_command(struct dfu_dev *dev, const struct dfu_op *op, const uint8_t *cmd, uint16_t len,
		  uint64_t deadline_ms, struct dfu_error *e);
/* Set Address (0x21) to @address. */
int dfuse_set_address(struct dfu_dev *dev, const struct dfu_flash_opts *opts, uint32_t address,
		      struct dfu_error *e);
/* ABORT back to dfuIDLE; @why completes the op name ("ABORT after writing"). */
int dfuse_abort_to_idle(struct dfu_dev *dev, const char *why, struct dfu_error *e);
/* The transfer size of this run: -t, else the device's. */
uint16_t dfuse_transfer_size(const struct dfu_dev *dev, const struct dfu_flash_opts *opts);
/* With a -t other than the descriptor's, every chunk gets its own Set Address. */
bool dfuse_address_per_chunk(const struct dfu_dev *dev, uint16_t tsize);
/* Whether the chunk at wBlockNum @block needs a fresh Set Address first. */
bool dfuse_needs_address(bool per_chunk, unsigned block, uint32_t chunk, uint16_t tsize);
/* The wBlockNum that reaches @address from @pointer (ST ROMs: any full
 * block above it), 0 when a Set Address is needed. */
unsigned dfuse_block_between(const struct dfu_dev *dev, bool per_chunk, uint16_t tsize,
			     uint32_t pointer, uint32_t address, uint32_t chunk);
/* The same from the pointer the device holds, as far as this host knows it. */
unsigned dfuse_block_from_pointer(const struct dfu_dev *dev, bool per_chunk, uint16_t tsize,
				  uint32_t address, uint32_t chunk);
/*
 * A stream of UPLOADs: consecutive chunks continue the block numbers, any
 * other address (or a chunk that needs one, as for writing) starts with
 * ABORT, Set Address and ABORT.  The device must be in dfuIDLE at the first
 * chunk; dfuse_reader_end() brings it back there.
 */
struct dfuse_reader {
	struct dfu_dev *dev;
	const struct dfu_flash_opts *opts;
	uint16_t tsize;
	bool per_chunk;
	bool open;     /* in dfuUPLOAD-IDLE or after Set Address: the stream can continue */
	uint32_t next; /* address of the next block of the stream */
	unsigned block;
	/* the waits (bwPollTimeout, as the polling mode chose them) of the last
	 * ABORT + Set Address + ABORT: what a new Set Address costs beyond its
	 * transfers, for choosing between reading on and seeking */
	uint64_t seek_wait_ms;
	bool upload_failed; /* the last failure was an UPLOAD (not Set Address, ABORT) */
};
void dfuse_reader_init(struct dfuse_reader *rd, struct dfu_dev *dev,
		       const struct dfu_flash_opts *opts);
/* Read @chunk (<= rd->tsize) bytes at @address; returns the bytes read
 * (fewer on a short reply). */
int dfuse_reader_chunk(struct dfuse_reader *rd, uint32_t address, uint8_t *buf, uint32_t chunk,
		       struct dfu_error *e);
/* ABORT back to dfuIDLE. */
int dfuse_reader_end(struct dfuse_reader *rd, struct dfu_error *e);
/* Read @len bytes at @address through @rd (progress as @phase, *@progress
 * of @total); returns the bytes read, fewer after a short reply. */
int dfuse_reader_read(struct dfuse_reader *rd, uint32_t address, uint8_t *buf, uint32_t len,
		      const char *phase, uint64_t *progress, uint64_t total, struct dfu_error *e);
/*
 * Read @len bytes from @address into @buf (Set Address, ABORT, UPLOAD
 * wBlockNum 2, 3, ..., ABORT), counting into *@progress of @total for the
 * progress callback under @phase.  Returns the bytes read (less on a short
 * reply); leaves the device in dfuIDLE.
 */
int dfuse_read_memory(struct dfu_dev *dev, const struct dfu_flash_opts *opts, uint32_t address,
		      uint8_t *buf, uint32_t len, const char *phase, uint64_t *progress,
		      uint64_t total, struct dfu_error *e);

/* ------------------------------------------------------------------------ */
/* Differential re-flash (dfuse-diff.c)                                     */

enum dfuse_diff_verdict {
	DFUSE_DIFF_CHANGED,    /* erase and write */
	DFUSE_DIFF_ERASE_ONLY, /* the image leaves the sector blank, the chip is not */
	DFUSE_DIFF_SAME,       /* the chip holds what a full flash would leave: skip */
};
/* Why the @n sectors cannot be compared without a request (no upload, an
 * unreadable sector), or NULL. */
const char *dfuse_diff_unavailable(const struct dfu_dev *dev, const struct dfuse_sector *secs,
				   size_t n);
/*
 * Compare each of the @n sectors @secs with what erasing it and writing
 * @img's data of @alt would leave in it, into verdict[i]; *@bytes_read
 * counts the bytes read.  The device must be in dfuIDLE and is left there.
 * Returns 0, or 1 when the device refused to be read (errVENDOR of read
 * protection, a refused UPLOAD): @why says so, the verdicts are void and the
 * device is in dfuIDLE again; any other failure is a negative dfu_err with
 * @e filled, the flash untouched.
 */
int dfuse_diff_compare(struct dfu_dev *dev, const struct dfu_flash_opts *opts,
		       const struct dfu_image *img, int alt, const struct dfuse_sector *secs,
		       size_t n, enum dfuse_diff_verdict *verdict, uint64_t *bytes_read, char *why,
		       size_t why_size, struct dfu_error *e);
/*
 * After a mass erase: whether the first block of every one of the @n sectors
 * @secs (in ascending order) reads blank (0xff), into *@blank; reading stops
 * at the first that does not.  A chip with a write- or PCROP-protected
 * sector refuses a mass erase (STM32CubeProgrammer: "Mass erase operation
 * failed! Please verify flash protection"), and a DfuSe ROM may not say so.
 * The device must be in dfuIDLE and is left there; *@bytes_read counts.
 */
int dfuse_diff_first_blocks_blank(struct dfu_dev *dev, const struct dfu_flash_opts *opts,
				  const struct dfuse_sector *secs, size_t n, bool *blank,
				  uint64_t *bytes_read, struct dfu_error *e);

/* ------------------------------------------------------------------------ */
/* ST DfuSe (dfuse.c)                                                       */

int dfuse_download(struct dfu_dev *dev, const struct dfu_image *img,
		   const struct dfu_flash_opts *opts, struct dfu_flash_result *res,
		   struct dfu_error *e);
int dfuse_upload(struct dfu_dev *dev, const struct dfu_flash_opts *opts, struct dfu_image **out,
		 struct dfu_flash_result *res, struct dfu_error *e);
/* The plan of dfuse_download() (refusals included) into @out, which the caller
 * zeroed; nothing is sent.  dfu_plan_free() releases what it holds. */
/* The plan of dfuse_download, its differential compare included (the
 * compare reads the flash; nothing is erased or written). */
int dfuse_plan(struct dfu_dev *dev, const struct dfu_image *img, const struct dfu_flash_opts *opts,
	       struct dfu_plan *out, struct dfu_error *e);
int dfuse_leave(struct dfu_dev *dev, const struct dfu_image *img, const struct dfu_flash_opts *opts,
		struct dfu_flash_result *res, struct dfu_error *e);
/*
 * Resolve the leave jump target without touching the device: opts->jump,
 * else from @img's vector table (per DFU_QUIRK_JUMP_TO_RESET_VECTOR), else
 * none (*have = false).  DFU_E_INVAL when the vector table is not plausible.
 */
int dfuse_jump_target(const struct dfu_dev *dev, const struct dfu_image *img,
		      const struct dfu_flash_opts *opts, bool *have, uint32_t *target,
		      struct dfu_error *e);
/*
 * Read Unprotect (0x92): the device mass-erases flash, clears RDP and resets
 * (AN2662 Fig. 60); only the first GET_STATUS is read.  res->left is set.
 */
int dfuse_read_unprotect(struct dfu_dev *dev, struct dfu_flash_result *res, struct dfu_error *e);

/* ------------------------------------------------------------------------ */
/* Recovery and diagnostics (request.c, causes.c)                           */

/*
 * Classified retries (request.c).  A transfer failure that may be transient
 * (LIBUSB_ERROR_PIPE, TIMEOUT, IO, OVERFLOW) of
 *   - a GET_STATUS while dfu_poll() polls, or
 *   - a DNLOAD with data (DfuSe Set Address and Erase, data blocks of both
 *     protocols; not Read Unprotect, not the zero-length leave/manifest one)
 * is retried up to DFU_RETRY_MAX times after 10, 50 and 200 ms.  Before a
 * DNLOAD is sent again the device is brought back: GET_STATUS, then
 * dfuERROR (errSTALLEDPKT/errUNKNOWN only) -> CLRSTATUS, dfuUPLOAD-IDLE ->
 * ABORT, dfuDNBUSY -> the DNLOAD did arrive and is not sent again.  A DfuSe
 * data block is preceded by a fresh Set Address of the recorded Address
 * Pointer (dev->resend), so that it and the following blocks land where
 * they were meant to.  A plain DFU block is re-sent only from
 * dfuDNLOAD-IDLE.  Device verdicts (any other bStatus) are never retried.
 * Each retry adds a line to dev->res (dfu_flash_result.retry_log) and a
 * DFU_LOG_VERBOSE line.
 *
 * Hook for dfuse.c: dev->resend.prepare, when set, replaces the built-in
 * Set Address before a re-sent data block: it is called with the op of the
 * failed DNLOAD after the device was brought to dfuIDLE or dfuDNLOAD-IDLE,
 * may send requests (they are not retried themselves) and returns 0 or a
 * negative dfu_err.  Ops that must not be retried set op->no_retry.
 */
#define DFU_RETRY_MAX 3

/* Internal quirk bit for the cause table: the device speaks DfuSe. */
#define DFU_QUIRK_DFUSE_PROTOCOL (1u << 31)

/* The id of the cause-table entry that matches @e ("rdp", "h7-bank2-erase"), or
 * NULL; for tests. */
const char *dfu_cause_id(const struct dfu_error *e, uint32_t quirks);

/* A control request through @h with a trace record to ctx's trace callback
 * (ctx.c; discover.c and dev.c use it for string descriptors and DETACH).
 * @op may be NULL. */
int dfu_control_traced(struct dfu_ctx *ctx, struct dfu_handle *h, const char *op,
		       uint8_t request_type, uint8_t request, uint16_t value, uint16_t index,
		       uint8_t *data, uint16_t length, unsigned timeout_ms, const char **usb_name);

/* USB reset of @dev in place: the alt is selected again, or a device that
 * re-enumerated (run-time mode: detached again) is opened again into @dev
 * (dev.c; dfu_dev_ensure_idle for dfuMANIFEST-WAIT-RESET). */
int dfu_dev_reset_rebind(struct dfu_dev *dev, struct dfu_error *e);

/* The largest usable wTransferSize (dfu-util's cap on Linux): a device that
 * announces more (0xFFFF) needs -t; refused before anything is erased. */
#define DFU_TRANSFER_SIZE_MAX 4096u

/* DFU_QUIRK_* bits of an open device (for dfu_cause_hint). */
uint32_t dfu_dev_quirks(const struct dfu_dev *dev);

/*
 * The likely cause of a failure and what to do, from the cause table
 * (causes.c): the operation (from e->op), bState/bStatus, the libusb error,
 * the deadline facts and the device quirks.  NULL when the table has nothing.
 * The engine puts it into e->hint itself; this is for callers that build
 * their own errors.
 */
const char *dfu_cause_hint(const struct dfu_error *e, uint32_t quirks);
