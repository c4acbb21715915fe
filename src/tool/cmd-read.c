// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * `dfuflash read OUT`, dfu-util's -U: read the device into a file whose
 * format follows its name.
 */
#include "config.h"

#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "device-run.h"
#include "macro.h"
#include "tool.h"

static enum dfu_format output_format(const char *path)
{
	const char *dot = strrchr(path, '.');
	enum dfu_format f;

	if (dot && !strchr(dot, '/') && dfu_format_from_name(dot + 1, &f) == 0 &&
	    f != DFU_FORMAT_AUTO && f != DFU_FORMAT_ELF)
		return f;
	return DFU_FORMAT_BIN;
}

/* `read -`: the bytes go to standard output (raw unless --format says). */
static bool to_stdout(const struct tool_options *o)
{
	return strcmp(o->upload_path, "-") == 0;
}

static int check_output(const struct tool_run *r)
{
	struct stat st;

	if (to_stdout(r->o)) {
		if (r->o->json) {
			tool_err("read -: --json and the read data would share standard output");
			tool_hint("give a file name to read into, or drop --json");
			return TOOL_EXIT_USAGE;
		}
		return tool_check_stdout_for_data();
	}
	if (!r->o->flash.force && lstat(r->o->upload_path, &st) == 0) {
		tool_err("%s: file exists; not overwriting it", r->o->upload_path);
		tool_hint("give --force to replace it, or another name");
		return TOOL_EXIT_CANTCREAT;
	}
	return 0;
}

static int write_output(const struct tool_options *o, const struct dfu_buf *out)
{
	if (to_stdout(o))
		return tool_write_stdout(out->data, out->len);
	if (o->flash.force)
		return tool_replace_file(o->upload_path, out->data, out->len);
	return tool_write_file(o->upload_path, out->data, out->len);
}

/*
 * -s ADDRESS:LENGTH:leave -U: leave DFU mode once the file is written, as
 * dfu-util does; like its leave, the jump goes to ADDRESS when one was
 * given (the start of what was read), else to the device's default.
 */
static int leave_after_read(struct tool_run *r, const struct dfu_if_info *info,
			    struct dfu_dev **dev)
{
	struct dfu_flash_opts fo = r->o->flash;
	struct dfu_flash_result res = { 0 };
	struct dfu_error e = { 0 };
	int ret;

	if (fo.have_address && !fo.have_jump) {
		fo.have_jump = true;
		fo.jump = fo.address;
	}
	if (r->o->compat && !r->o->quiet && !r->o->json && !to_stdout(r->o))
		printf("Submitting leave request...\n");
	ret = dfu_dev_leave(*dev, NULL, &fo, &res, &e);
	if (ret < 0)
		return tool_run_fail(r, ret, &e);
	r->res.left = res.left;
	r->res.have_jump = res.have_jump;
	r->res.jump_address = res.jump_address;
	dfu_dev_close(TAKE_PTR(*dev));
	ret = tool_run_confirm_app(r, info);
	if (ret == 0)
		tool_msg(r->tool, "%s: %s", r->object,
			 r->res.app_seen ? "left DFU mode: application started" : "left DFU mode");
	return ret;
}

int cmd_read(struct tool_run *r, struct dfu_if_info *list, size_t n)
{
	_cleanup_(dfu_dev_closep) struct dfu_dev *dev = NULL;
	_cleanup_(dfu_image_freep) struct dfu_image *img = NULL;
	struct dfu_write_opts w = { .format = output_format(r->o->upload_path) };
	struct dfu_buf out = { 0 };
	struct dfu_error e = { 0 };
	const struct tool_alt_want want = { .alt = -1,
					    .have_address = r->o->flash.have_address,
					    .address = r->o->flash.address };
	int k, ret;

	/* refuse before touching the device, as dfu-util's O_EXCL does */
	ret = check_output(r);
	if (ret)
		return ret;
	ret = tool_run_check_alt_choice(r, list, n, &want);
	if (ret)
		return ret;
	k = tool_run_pick_alt(r, list, n, &want);
	if (k < 0) {
		tool_err("no DFU-mode interface to read from");
		return TOOL_EXIT_NODEVICE;
	}
	ret = tool_run_open_alt(r, &list[k], &dev);
	if (ret)
		return ret;
	ret = tool_run_upload(r, &list[k], &dev, &r->o->flash, &img, &r->res, &e);
	r->have_res = true;
	if (ret < 0)
		return tool_run_fail(r, ret, &e);
	w.vid = list[k].vid;
	w.pid = list[k].pid;
	w.bcd_device = list[k].bcd_device;
	w.bcd_dfu = w.format == DFU_FORMAT_DFUSE ? 0x011a : 0x0100;
	w.alt = list[k].alt;
	w.target_name = list[k].layout ? list[k].layout->name : NULL;
	ret = dfu_image_write(img, &w, &out, &e);
	if (ret < 0) {
		dfu_buf_release(&out);
		tool_report(r->o->upload_path, &e);
		return tool_exit_for(ret);
	}
	ret = write_output(r->o, &out);
	dfu_buf_release(&out);
	if (ret == 0 && r->o->compat && !r->o->quiet && !r->o->json && !to_stdout(r->o))
		printf("Upload done.\n"); /* dfu-util's words: scripts grep them */
	if (ret == 0)
		tool_msg(r->tool, "%s: %llu bytes read into %s", r->object,
			 (unsigned long long)r->res.bytes_read,
			 to_stdout(r->o) ? "standard output" : r->o->upload_path);
	if (ret == 0 && r->o->upload_size && r->res.bytes_read < r->o->upload_size)
		tool_warn("%s: the device ended the read after %llu bytes, fewer than the %u "
			  "expected (-Z): the device had no more to send (a plain DFU device "
			  "ends the read where its firmware ends)",
			  r->object, (unsigned long long)r->res.bytes_read, r->o->upload_size);
	if (ret == 0 && r->o->flash.leave)
		ret = leave_after_read(r, &list[k], &dev);
	return ret;
}
