// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * `dfuflash leave`, dfu-util's -s [ADDRESS]:leave without a file: leave DFU
 * mode (jumping to ADDRESS when given), then look for the application.
 */
#include "config.h"

#include "device-run.h"
#include "macro.h"
#include "tool.h"

int cmd_leave(struct tool_run *r, struct dfu_if_info *list, size_t n)
{
	_cleanup_(dfu_dev_closep) struct dfu_dev *dev = NULL;
	struct dfu_error e = { 0 };
	int k, ret;

	ret = tool_run_open_command_alt(r, list, n, &dev, &k);
	if (ret)
		return ret;
	if (r->o->dry_run)
		return tool_plan_leave(r, &list[k]);
	if (r->o->compat && !r->o->quiet && !r->o->json)
		printf("Submitting leave request...\n"); /* dfu-util's words */
	ret = dfu_dev_leave(dev, NULL, &r->o->flash, &r->res, &e);
	r->have_res = true;
	if (ret < 0)
		return tool_run_fail(r, ret, &e);
	dfu_dev_close(TAKE_PTR(dev));
	ret = tool_run_confirm_app(r, &list[k]);
	if (ret)
		return ret;
	tool_msg(r->tool, "%s: %s", r->object,
		 r->res.app_seen ? "left DFU mode: application started" : "left DFU mode");
	return 0;
}
