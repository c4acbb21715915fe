/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * core/: the bottom room of libdfuflash.  Errors (struct dfu_error, the
 * "where" helpers), the growable byte buffer and other helpers that every
 * layer above uses.  May use: src/util and the public dfuflash.h.  Knows no
 * file format and no USB.  Library-internal: not for the CLI.
 */
#pragma once

#include "dfuflash.h"

/* "line %lu" into a where buffer. */
#define DFU_WHERE_LEN 48
void dfu_where_line(char buf[DFU_WHERE_LEN], unsigned long line);
void dfu_where_offset(char buf[DFU_WHERE_LEN], uint64_t offset);

/* True for the DFU_E_USB_* range. */
static inline bool dfu_err_is_usb(int err)
{
	return err <= DFU_E_USB_PIPE && err >= DFU_E_USB_OTHER;
}

/* Building errors: the library fills them, the CLI only reads them. */
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

/* Fill the device fields of @e (which must already hold a failure): the
 * operation, the wBlockNum (-1: none) and, with dfu_error_device_at(), the
 * address it was at. */
void dfu_error_device(struct dfu_error *e, const char *op, int block);
void dfu_error_device_at(struct dfu_error *e, const char *op, int block, uint32_t address);
void dfu_error_state(struct dfu_error *e, uint8_t state, uint8_t status);
