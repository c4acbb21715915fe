/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The quirk files of dfuflash (quirk-files.c): where they live and how a
 * run reads them.  The format is the library's (dfu_quirk_rules_parse).
 */
#pragma once

#include "dfuflash.h"

/*
 * Read $(sysconfdir)/dfuflash/quirks.d/NAME.conf, then the user's
 * quirks.d/NAME.conf ($XDG_CONFIG_HOME/dfuflash, else ~/.config/dfuflash),
 * and give their rules to @ctx for the devices it opens.  Unreadable files
 * and ignored lines are warnings on stderr naming the file (and line).
 * Returns 0, or TOOL_EXIT_SOFTWARE after an error message (out of memory).
 */
int tool_quirk_files_load(struct dfu_ctx *ctx);
