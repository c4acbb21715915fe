/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Internal state shared by the engine modules: the context (device.c),
 * an open device (device.c opens it; proto.c and dfuse.c drive it) and the
 * logging helpers.  Not for the CLI.
 */
#pragma once

#include "dfuflash-internal.h"
#include "transport.h"

struct dfu_ctx {
	struct dfu_backend backend;
	dfu_log_fn log_fn;
	void *log_ud;
	dfu_progress_fn progress_fn;
	void *progress_ud;
	/* the last enumeration, which dfu_if_info.device_index points into */
	struct dfu_usb_device *devs;
	size_t n_devs;
};

struct dfu_dev {
	struct dfu_ctx *ctx;
	struct dfu_handle *h;
	struct dfu_if_info info;     /* copy; info.layout owned by this dev */
	struct dfu_usb_device usb;   /* copy of the enumeration entry */
	const struct dfu_usb_alt *alt; /* points into usb.alts */
	uint16_t transfer_size;      /* effective wTransferSize */
	bool dfuse;                  /* bcdDFU 0x011a */
	uint32_t quirks;             /* DFU_QUIRK_* (quirks.c) */
	struct dfu_status_reply last; /* last GET_STATUS */
};

/* Logging through the context's callback (printf-style). */
void dfu_log(struct dfu_ctx *ctx, enum dfu_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void dfu_progress(struct dfu_ctx *ctx, const char *phase, uint64_t done, uint64_t total);

/* Clock helpers over ctx->backend.clock. */
uint64_t dfu_now_ms(struct dfu_ctx *ctx);
void dfu_sleep_ms(struct dfu_ctx *ctx, uint32_t ms);


