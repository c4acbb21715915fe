// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * `dfuflash detach`, dfu-util's -e alone: send DFU_DETACH (DFU 1.1 §5.1) to
 * a run-time device and leave the re-enumeration to the user.
 */
#include "config.h"

#include "device-run.h"
#include "macro.h"
#include "tool.h"

int cmd_detach(struct tool_run *r, struct dfu_if_info *list, size_t n)
{
	_cleanup_(dfu_dev_closep) struct dfu_dev *dev = NULL;
	struct dfu_error e = { 0 };
	const struct tool_alt_want want = { .alt = -1,
					    .have_address = r->o->flash.have_jump,
					    .address = r->o->flash.jump };
	int k, ret;

	k = tool_run_pick_alt(r, list, n, &want);
	/* a run-time device has no DFU-mode alt: its first interface */
	if (k < 0)
		k = 0;
	tool_run_set_object(r, &list[k]);
	ret = dfu_dev_open(r->ctx, &list[k], &dev, &e);
	if (ret == 0)
		ret = dfu_dev_detach(dev, &e);
	if (ret < 0)
		return tool_run_fail(r, ret, &e);
	tool_msg(r->tool, "%s: detached", r->object);
	return 0;
}
