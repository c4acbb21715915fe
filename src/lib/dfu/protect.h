/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Read-out and write protection, OTP and option bytes as seen by the DfuSe
 * engine (st-rom.c): the classification of device refusals shared with
 * dfuse.c.  Library-internal: not for the CLI.
 */
#pragma once

#include "proto.h"

/* An STM32 system-memory (ROM) bootloader, where errVENDOR means read-out
 * protection (device-model.md 0.3, 2.1), not the ST HAL's "any media error". */
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
