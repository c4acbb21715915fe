/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Read-out protection, option bytes and OTP in the CLI (cmd-protect.c),
 * called from device-run.c and cmd-flash.c.  Each returns 0 or an exit code
 * after printing the error.
 */
#pragma once

#include <stddef.h>

#include "device-run.h"
#include "dfuflash.h"
#include "options.h"
#include "tool.h"

/*
 * --unprotect / -s :unprotect:force: Read Unprotect on the device of @list
 * (its first DFU-mode alt), then wait (30 s + the mass-erase time) for the
 * same device (path, then serial) to come back, and replace *list / *n by
 * its fresh alts.  On success o->flash.unprotect is cleared, so that the
 * download of the same command follows (dfu-util drops it).
 */
int cmd_unprotect(struct tool_ctx *tool, struct dfu_ctx *ctx, struct tool_options *o,
		  struct dfu_if_info **list, size_t *n, struct dfu_flash_result *res);

/* `dfuflash read-options [--json]`: read the "Option Bytes" alt and decode it
 * (RDP level, WRP sectors, BOR, user bits, boot configuration). */
int cmd_read_options(struct tool_run *r, struct dfu_if_info *list, size_t n);

/*
 * After a successful dfu_dev_download() to alt @info (device *dev, still
 * open):
 * - option bytes (the device reset by itself): close *dev, wait for the
 *   device to come back, read the option bytes again, compare and show them;
 *   sum->left is cleared (the device is back in DFU mode, not gone);
 * - OTP: show the blocks written, read back, and the lock state.
 * Anything else: nothing.
 */
int cmd_after_download(struct tool_ctx *tool, struct dfu_ctx *ctx, const struct tool_options *o,
		       const struct dfu_if_info *info, const struct dfu_image *img,
		       const struct dfu_flash_result *one, struct dfu_dev **dev,
		       struct dfu_flash_result *sum);
