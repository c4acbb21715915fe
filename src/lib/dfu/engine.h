/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * dfu/: the device engine, the top room of libdfuflash.  May use core/,
 * image/ (the images it flashes, the DfuSe layouts) and usb/ (the transport
 * seam); nothing uses it but the public API.  proto.h lists its files.
 *
 * Internal state shared by the engine files: the context (ctx.c), an open
 * device (dev.c opens it; request.c, plain.c and dfuse.c drive it) and the
 * logging helpers.  Not for the CLI.
 */
#pragma once

#include "image.h"
#include "transport.h"

/* DFU class requests (DFU 1.1, section 3, table 3.2). */
enum dfu_request {
	DFU_REQ_DETACH = 0,
	DFU_REQ_DNLOAD = 1,
	DFU_REQ_UPLOAD = 2,
	DFU_REQ_GETSTATUS = 3,
	DFU_REQ_CLRSTATUS = 4,
	DFU_REQ_GETSTATE = 5,
	DFU_REQ_ABORT = 6,
};

/* bmRequestType of the class requests: class, interface recipient. */
#define DFU_RT_OUT 0x21
#define DFU_RT_IN 0xa1

/* DFU 1.1, section 6.1.2 (bState). */
enum dfu_state {
	DFU_STATE_APP_IDLE = 0,
	DFU_STATE_APP_DETACH = 1,
	DFU_STATE_DFU_IDLE = 2,
	DFU_STATE_DFU_DNLOAD_SYNC = 3,
	DFU_STATE_DFU_DNBUSY = 4,
	DFU_STATE_DFU_DNLOAD_IDLE = 5,
	DFU_STATE_DFU_MANIFEST_SYNC = 6,
	DFU_STATE_DFU_MANIFEST = 7,
	DFU_STATE_DFU_MANIFEST_WAIT_RESET = 8,
	DFU_STATE_DFU_UPLOAD_IDLE = 9,
	DFU_STATE_DFU_ERROR = 10,
};

/* DFU 1.1, section 6.1.2 (bStatus). */
enum dfu_status {
	DFU_STATUS_OK = 0x00,
	DFU_STATUS_ERR_TARGET = 0x01,
	DFU_STATUS_ERR_FILE = 0x02,
	DFU_STATUS_ERR_WRITE = 0x03,
	DFU_STATUS_ERR_ERASE = 0x04,
	DFU_STATUS_ERR_CHECK_ERASED = 0x05,
	DFU_STATUS_ERR_PROG = 0x06,
	DFU_STATUS_ERR_VERIFY = 0x07,
	DFU_STATUS_ERR_ADDRESS = 0x08,
	DFU_STATUS_ERR_NOTDONE = 0x09,
	DFU_STATUS_ERR_FIRMWARE = 0x0a,
	DFU_STATUS_ERR_VENDOR = 0x0b,
	DFU_STATUS_ERR_USBR = 0x0c,
	DFU_STATUS_ERR_POR = 0x0d,
	DFU_STATUS_ERR_UNKNOWN = 0x0e,
	DFU_STATUS_ERR_STALLEDPKT = 0x0f,
};

/*
 * The last DNLOAD that carried data of a run (request.c records every one
 * in dfu_request), so that a transient failure of it or of its GET_STATUS can be
 * repaired by sending it again.  @prepare, when a module sets it, runs after
 * the device was brought back (CLRSTATUS/ABORT) and before the DNLOAD is sent
 * again; without it request.c sends a DfuSe Set Address of the recorded Address
 * Pointer before a DfuSe data block (wBlockNum >= 2), so that the block lands
 * where it was meant to and the following blocks keep their numbering.
 */
struct dfu_op;
struct dfu_resend {
	bool valid;
	const struct dfu_op *op; /* the op of the DNLOAD (dfu_poll matches it) */
	uint16_t value;		 /* wBlockNum */
	uint16_t len;
	uint8_t *data; /* copy, owned by the run */
	size_t cap;
	/* DfuSe: the last Set Address sent and the size of its block 2 */
	bool have_pointer;
	uint32_t pointer;
	uint32_t block_size;
	int (*prepare)(struct dfu_dev *dev, const struct dfu_op *op, void *ud, struct dfu_error *e);
	void *prepare_ud;
};

/*
 * What the running download has done to the device's memory, for the
 * message after an interruption.  facts.c fills it by watching the requests
 * that completed (a DfuSe erase or data block counts once its GET_STATUS
 * polling ended in dfuDNLOAD-IDLE) and the vector-table sector from the
 * image and the memory map; dfuse.c may fill vt_* itself (see proto.h).
 */
#define DFU_FACTS_MAX 16
struct dfu_dl_facts {
	bool active;
	bool dfuse;
	uint32_t n_erased;		/* sectors erased (may exceed DFU_FACTS_MAX) */
	uint32_t erased[DFU_FACTS_MAX]; /* their start addresses, in order */
	bool mass_erased;
	uint32_t n_ranges; /* written address ranges (merged) */
	uint32_t range_start[DFU_FACTS_MAX];
	uint32_t range_len[DFU_FACTS_MAX];
	uint64_t bytes_done;  /* data bytes the device confirmed */
	uint64_t bytes_total; /* data bytes of the image for this alt */
	bool have_vt;
	uint32_t vt_sector, vt_sector_size;
	bool vt_written; /* a byte of the vector-table sector was written */
};

/*
 * The state of one run of dfu_dev_download, dfu_dev_upload or dfu_dev_leave
 * (ops.c begins and ends it): what the request engine (request.c) and the
 * download facts (facts.c) keep between the requests of one operation.
 */
struct dfu_run {
	struct dfu_flash_result *res; /* of the operation, or NULL */
	struct dfu_resend resend;     /* the last DNLOAD with data, to re-send it */
	struct dfu_dl_facts facts;    /* what the running download did to the flash */
	/* time a retried DNLOAD of @lost_op lost, which its poll adds to the
	 * deadline (request.c: note_lost/take_lost) */
	const void *lost_op;
	uint64_t lost_ms;
	unsigned retry_depth;  /* > 0 while a retry runs: no nested retries */
	unsigned attempt;      /* retry number of the request being sent (trace) */
	struct dfu_run *outer; /* the run this one interrupted (dfu_run_end restores it) */
};

/* Start a run of @dev with the result @res: *@run becomes dev->run until
 * dfu_run_end(), which frees what it owns. */
void dfu_run_begin(struct dfu_dev *dev, struct dfu_run *run, struct dfu_flash_result *res);
void dfu_run_end(struct dfu_dev *dev, struct dfu_run *run);

/*
 * How dfu_poll() waits after a busy GET_STATUS reply on one device: chosen at
 * open from --poll and the device's busy behaviour (quirks.c), demoted to
 * ANNOUNCED when an early poll stalls (request.c).
 */
enum dfu_poll_how {
	DFU_POLL_HOW_ANNOUNCED = 0, /* bwPollTimeout (DFU 1.1 6.1.2) */
	DFU_POLL_HOW_AT_ONCE,	    /* no wait after the first busy reply of an operation */
	DFU_POLL_HOW_INTERVAL,	    /* interval_ms instead of bwPollTimeout */
};
struct dfu_poll_plan {
	enum dfu_poll_how how;
	uint32_t interval_ms;
	bool at_least_announced; /* a strict device: never before bwPollTimeout */
	char why[320];		 /* for -v and `dfuflash quirks` */
};

struct dfu_ctx {
	struct dfu_backend backend;
	/* quirk files (owned) and --poll, for the devices opened from here */
	struct dfu_quirk_rules *quirk_rules;
	enum dfu_poll_mode poll_mode;
	uint32_t poll_interval_ms;
	dfu_log_fn log_fn;
	void *log_ud;
	dfu_progress_fn progress_fn;
	void *progress_ud;
	/* the last enumeration, which dfu_if_info.device_index points into */
	struct dfu_usb_device *devs;
	size_t n_devs;
	/* --trace: every control request as a record (ctx.c emits them) */
	dfu_trace_fn trace_fn;
	void *trace_ud;
	unsigned trace_attempt; /* retry number of the request being traced */
	uint64_t slept_ms;	/* every dfu_sleep_ms() so far */
};

struct dfu_dev {
	struct dfu_ctx *ctx;
	struct dfu_handle *h;
	struct dfu_if_info info;       /* copy; info.layout owned by this dev */
	struct dfu_usb_device usb;     /* copy of the enumeration entry */
	const struct dfu_usb_alt *alt; /* points into usb.alts */
	uint16_t transfer_size;	       /* effective wTransferSize */
	bool dfuse;		       /* bcdDFU 0x011a */
	uint32_t quirks;	       /* DFU_QUIRK_* (quirks.c) */
	uint32_t mass_erase_ms;	       /* from a quirk file, 0 = derived */
	struct dfu_poll_plan poll;     /* how busy replies are waited for */
	bool absurd_poll_said;	       /* an absurd bwPollTimeout was logged */
	struct dfu_status_reply last;  /* last GET_STATUS */
	/* the DfuSe Address Pointer as far as this host knows it: set by a Set
	 * Address that succeeded, forgotten by any other command, a failed
	 * request, CLRSTATUS, DETACH and a USB reset (dfuse-io.c) */
	bool pointer_known;
	uint32_t pointer;
	/* dfu_dev_ensure_idle() found dfuIDLE at idle_at_ms and no request
	 * followed (idle.c; forgotten like the pointer) */
	bool idle_checked;
	uint64_t idle_at_ms;
	uint32_t last_deadline_ms; /* the budget dfu_deadline() gave last (for messages) */
	/* the run in progress: a dfu_dev_download/upload/leave's own (ops.c),
	 * else @standing, the run of the requests made outside one (bringing the
	 * device to dfuIDLE, DETACH, Read Unprotect) */
	struct dfu_run *run;
	struct dfu_run standing;
};

/* A USB reset or a new alt setting: what this host knew of the device's
 * DfuSe pointer and state no longer holds. */
static inline void dfu_dev_forget_state(struct dfu_dev *dev)
{
	dev->pointer_known = false;
	dev->idle_checked = false;
}

/*
 * A context that owns @backend (moved in: the caller's struct is cleared),
 * e.g. the tests' virtual devices.  Caller owns *out; free with dfu_ctx_free().
 */
int dfu_ctx_new(struct dfu_backend *backend, struct dfu_ctx **out);

/* Logging through the context's callback (printf-style). */
void dfu_log(struct dfu_ctx *ctx, enum dfu_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void dfu_progress(struct dfu_ctx *ctx, const char *phase, uint64_t done, uint64_t total);

/* Clock helpers over ctx->backend.clock. */
uint64_t dfu_now_ms(struct dfu_ctx *ctx);
void dfu_sleep_ms(struct dfu_ctx *ctx, uint32_t ms);
/* The sum of the waits dfu_sleep_ms() asked for: how long the engine chose
 * to wait, independent of how loaded the host is. */
uint64_t dfu_slept_ms(const struct dfu_ctx *ctx);
