/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Read-out and write protection, OTP and option bytes as seen by the DfuSe
 * engine (st-rom.c): the classification of device refusals shared with
 * dfuse.c.  Library-internal: not for the CLI.
 */
#pragma once

#include "proto.h"

/* An STM32 system-memory (ROM) bootloader, where errVENDOR means read-out
 * protection (AN2662: erase, write and read under RDP level 1 end in
 * dfuERROR/errVENDOR), not the ST HAL's "any media error". */
bool dfuse_is_st_rom(const struct dfu_dev *dev);

/*
 * @e holds a failure of a DfuSe operation.  When it is the read-protection
 * pattern (dfuERROR/errVENDOR on an ST ROM: erase, write, read or Set Address
 * refused), reclassify it as "dfuse.read_protected" with DFU_HINT_READ_PROTECTED
 * and set res->read_protected.  @vendor_at_start: the device was found in
 * dfuERROR/errVENDOR before the operation (a previous command was refused).
 * The error value (DFU_E_DEVSTATUS, DFU_E_USB_PIPE, ...) is kept.
 */
void dfuse_classify_rdp(const struct dfu_dev *dev, bool vendor_at_start, struct dfu_error *e,
			struct dfu_flash_result *res);

/*
 * Wait up to @timeout_ms for the device @was (same path, else serial) to
 * re-enumerate, then open its DFU-mode alt @alt (-1: was->alt).  Caller owns
 * *out.  Errors: DFU_E_NODEVICE (did not come back; code
 * "device.did_not_return"), DFU_E_PROTOCOL (came back in run-time mode, code
 * "dfuse.came_back_runtime"), DFU_E_NOTFOUND (no such alt), open errors.
 */
int dfu_reopen(struct dfu_ctx *ctx, const struct dfu_if_info *was, int alt, uint32_t timeout_ms,
	       struct dfu_dev **out, struct dfu_error *e);

/* What an OTP write would do (dfu_otp_check). */
struct dfu_otp_plan {
	uint32_t blocks_written;       /* bit i: data block i gets new bytes */
	uint32_t locks_written;	       /* bit i: lock byte i gets programmed */
	uint32_t blocks_locked_before; /* bit i: block i is locked already */
	uint32_t bytes_changed;	       /* bytes that differ from @cur */
	uint32_t first_change;	       /* address of the first of them */
};

/*
 * Check an OTP write before anything is sent: @cur holds @len bytes of the
 * device from @address (the whole area of @l when @l is non-NULL), the image
 * bytes of @alt over them are what would be written.  Refused with
 * DFU_E_MEMMAP: a bit going from 0 to 1 (OTP is never erased; code
 * "dfuse.otp_zero_to_one"), a new byte in a block whose lock byte is 0x00
 * ("dfuse.otp_locked"), a lock byte value other than 0x00 or 0xFF
 * ("dfuse.otp_lock_value").  Unchanged bytes are fine, also in locked blocks.
 * @l NULL: an OTP area without lock bytes (only the 0 -> 1 rule).
 */
int dfu_otp_check(const struct dfu_otp_layout *l, uint32_t address, const uint8_t *cur, size_t len,
		  const struct dfu_image *img, int alt, struct dfu_otp_plan *plan,
		  struct dfu_error *e);
/* "block 3 (0x1FFF7860..0x1FFF787F), lock byte 3 (0x1FFF7A03: locks block 3)"
 * for the blocks and locks of @plan; returns the length (snprintf). */
int dfu_otp_plan_describe(const struct dfu_otp_layout *l, const struct dfu_otp_plan *plan,
			  char *buf, size_t len);

/* The RDP level the image's option bytes would set, or -1 when unknown. */
int dfu_option_bytes_rdp_of(uint32_t base, const uint8_t *data, size_t len);
