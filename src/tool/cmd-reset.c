// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * dfu-util's -R: a USB reset of the device, after any other command, or
 * alone (dfu-util refuses -R alone; here it opens the device, brings it to
 * dfuIDLE and resets it).
 */
#include "config.h"

#include <string.h>

#include "device-run.h"
#include "macro.h"
#include "tool.h"

/* -R alone: open the device; the reset follows as after any command. */
int cmd_reset(struct tool_run *r, struct dfu_if_info *list, size_t n)
{
	_cleanup_(dfu_dev_closep) struct dfu_dev *dev = NULL;
	int k;

	return tool_run_open_command_alt(r, list, n, &dev, &k);
}

/* After a successful operation: -R, on the device whose alts are @list. */
int tool_run_reset(struct tool_run *r, const struct dfu_if_info *list)
{
	_cleanup_(dfu_dev_closep) struct dfu_dev *dev = NULL;
	struct dfu_if_info *fresh = NULL;
	struct dfu_error e = { 0 };
	size_t nf = 0;
	int ret;

	/* the device may have left already (leave, manifestation): fine */
	if (dfu_list(r->ctx, &r->o->match, &fresh, &nf, &e) < 0 || nf == 0) {
		dfu_if_info_free(fresh, nf);
		return 0;
	}
	for (size_t i = 0; i < nf; i++) {
		if (strcmp(fresh[i].path, list[0].path) != 0)
			continue;
		ret = dfu_dev_open(r->ctx, &fresh[i], &dev, &e);
		if (ret == 0)
			ret = dfu_dev_reset(dev, &e);
		dfu_if_info_free(fresh, nf);
		if (ret < 0 && ret != DFU_E_USB_NODEV)
			return tool_run_fail(r, ret, &e);
		tool_msg(r->tool, "%s: reset", r->object);
		return 0;
	}
	dfu_if_info_free(fresh, nf);
	return 0;
}
