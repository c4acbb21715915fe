/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What the device commands (cmd-*.c) share with device-run.c: one run of a
 * device command, the helpers several of them call, and the commands
 * themselves.  Each returns 0 or an exit code after printing the error.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "dfuflash.h"
#include "options.h"
#include "tool.h"

struct run {
	struct tool_ctx *tool;
	struct tool_options *o;
	struct dfu_ctx *ctx;
	FILE *trace;
	bool progress_tty;
	int progress_last; /* percent shown last, -1 = none */
	int progress_count; /* size-unknown progress: 64 KiB steps shown */
	const char *progress_phase;
	struct dfu_flash_result res;
	bool have_res;
	char object[96]; /* "0483:df11 at 1-1" for messages */
	bool dfu_ids_derived; /* native mode copied -d's run-time ids to DFU mode */
	char cmdline[1024];   /* this command, shell-quoted, for "re-run to resume" */
	bool recovered;       /* the device was reset and the download repeated once */
};

/* device-run.c */
int fail(struct run *r, int err, const struct dfu_error *e);
void set_object(struct run *r, const struct dfu_if_info *i);
int pick_alt(struct run *r, const struct dfu_if_info *list, size_t n, int want_alt,
	     bool have_addr, uint32_t addr);
int open_alt(struct run *r, const struct dfu_if_info *info, struct dfu_dev **dev);
int open_command_alt(struct run *r, const struct dfu_if_info *list, size_t n,
		     struct dfu_dev **dev, int *k);
int confirm_app(struct run *r, const struct dfu_if_info *was);
int place_raw(struct run *r, struct dfu_image *img, const struct dfu_if_info *info);
int load_input(struct run *r, struct dfu_image **img);
int upload_recover(struct run *r, const struct dfu_if_info *info, struct dfu_dev **dev,
		   const struct dfu_flash_opts *fo, struct dfu_image **img,
		   struct dfu_flash_result *res, struct dfu_error *e);

/* the commands */
int do_download(struct run *r, struct dfu_if_info *list, size_t n);
int do_upload(struct run *r, struct dfu_if_info *list, size_t n);
int do_verify(struct run *r, struct dfu_if_info *list, size_t n);
int do_list(struct run *r);
int do_erase(struct run *r, struct dfu_if_info *list, size_t n);
int do_leave(struct run *r, struct dfu_if_info *list, size_t n);
int do_detach(struct run *r, struct dfu_if_info *list, size_t n);
int do_reset_alone(struct run *r, struct dfu_if_info *list, size_t n);
/* after a command: -R */
int do_reset(struct run *r, struct dfu_if_info *list, size_t n);
