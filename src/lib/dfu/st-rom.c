// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * STM32 system-memory (ROM) bootloaders: recognising one, and reading its
 * errVENDOR refusals as read-out protection.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "protect.h"

static bool has_word(const char *s, const char *word)
{
	size_t n = strlen(word);

	for (; *s; s++)
		if (strncasecmp(s, word, n) == 0)
			return true;
	return false;
}

bool dfuse_is_st_rom(const struct dfu_dev *dev)
{
	const struct dfu_if_info *i = &dev->info;

	if (i->vid != 0x0483 || i->pid != 0xdf11)
		return false;
	/* "STM32  BOOTLOADER" (F4/F7), "STM32 0x418 DFU Bootloader" (F107),
	 * "DFU in FS Mode" (G0); the ST HAL IAP says "... FIRMWARE UPDATE" */
	if (has_word(i->product, "bootloader") || strcmp(i->product, "DFU in FS Mode") == 0)
		return true;
	/* strings unreadable: the ROM bcdDevice values (0x2000 F105/F107, 0x2100
	 * early F4, 0x2200 most F0/F3/F4/L4; dfu-util's device-logs) */
	return !i->product[0] &&
	       (i->bcd_device == 0x2000 || i->bcd_device == 0x2100 || i->bcd_device == 0x2200);
}

void dfuse_classify_rdp(const struct dfu_dev *dev, bool vendor_at_start, struct dfu_error *e,
			struct dfu_flash_result *res)
{
	if (!e || !e->err || !e->have_state || e->state != DFU_STATE_DFU_ERROR ||
	    e->status != DFU_STATUS_ERR_VENDOR || !dfuse_is_st_rom(dev))
		return;
	snprintf(e->code, sizeof(e->code), "dfuse.read_protected");
	snprintf(e->message, sizeof(e->message),
		 "%.79s%srefused with dfuERROR, status 11 (errVENDOR): read-out protection is "
		 "active%s",
		 e->op, e->op[0] ? " " : "",
		 vendor_at_start ? " (it was in dfuERROR/errVENDOR already at the start)" : "");
	e->hint = DFU_HINT_READ_PROTECTED;
	if (res)
		res->read_protected = true;
}
