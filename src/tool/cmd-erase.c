// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * `dfuflash erase`, dfu-util's -s :mass-erase:force without a file: the
 * DfuSe mass erase.  `erase --unprotect` never comes here: Read Unprotect
 * (cmd-protect.c) erases the whole flash by itself.
 */
#include "config.h"

#include "device-run.h"
#include "macro.h"
#include "tool.h"

int cmd_erase(struct tool_run *r, struct dfu_if_info *list, size_t n)
{
	_cleanup_(dfu_dev_closep) struct dfu_dev *dev = NULL;
	_cleanup_(dfu_image_freep) struct dfu_image *none = NULL;
	struct dfu_flash_opts fo = r->o->flash;
	struct dfu_error e = { 0 };
	int k, ret;

	ret = tool_run_open_command_alt(r, list, n, &dev, &k);
	if (ret)
		return ret;
	if (dfu_image_new(DFU_FORMAT_BIN, &none) < 0)
		return TOOL_EXIT_SOFTWARE;
	none->address_from_file = true;
	fo.mass_erase = true;
	if (r->o->dry_run)
		return tool_plan_flash(r, dev, &list[k], none, &fo);
	ret = dfu_dev_download(dev, none, &fo, &r->res, &e);
	r->have_res = true;
	if (ret < 0)
		return tool_run_fail(r, ret, &e);
	tool_msg(r->tool, "%s: mass erase done", r->object);
	return 0;
}
