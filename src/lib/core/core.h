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
