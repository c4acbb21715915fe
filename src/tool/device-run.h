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

struct tool_run {
	struct tool_ctx *tool;
	struct tool_options *o;
	struct dfu_ctx *ctx;
	FILE *trace; /* --trace: the stream of trace_file */
	struct tool_outfile trace_file;
	bool progress_tty;
	int progress_last;  /* percent shown last, -1 = none */
	int progress_count; /* size-unknown progress: 64 KiB steps shown */
	const char *progress_phase;
	struct dfu_flash_result res;
	bool have_res;
	char object[96];      /* "0483:df11 at 1-1" for messages */
	bool dfu_ids_derived; /* native mode copied -d's run-time ids to DFU mode */
	char cmdline[1024];   /* this command, shell-quoted, for "re-run to resume" */
	bool recovered;	      /* the device was reset and the download repeated once */
};

/* --- device-run.c ------------------------------------------------------- */

/* Print the library error against r->object (and, when the download can be
 * resumed, the command line that completes it); return the exit code. */
int tool_run_fail(struct tool_run *r, int err, const struct dfu_error *e);
/* Name @i in r->object ("0483:df11 at 1-1") for later messages. */
void tool_run_set_object(struct tool_run *r, const struct dfu_if_info *i);
/* The alt a command asks tool_run_pick_alt() for. */
struct tool_alt_want {
	int alt;	   /* bAlternateSetting, or -1: -a's, else by address, else the first */
	bool have_address; /* the data starts at @address: prefer the alt that holds it */
	uint32_t address;
};
/* Index into @list of the DFU-mode alt @want names; -1 if none. */
int tool_run_pick_alt(struct tool_run *r, const struct dfu_if_info *list, size_t n,
		      const struct tool_alt_want *want);
/* 0, or an exit status after saying that @want leaves the choice open among
 * several plain DFU alts (no -a, no address). */
int tool_run_check_alt_choice(struct tool_run *r, const struct dfu_if_info *list, size_t n,
			      const struct tool_alt_want *want);
/* @list is one run-time device: DETACH it, wait for the same device (by path,
 * then serial) to come back in DFU mode and list it again with the filters
 * into @list/@n.  0, or an exit status after saying why. */
int tool_run_detach_to_dfu(struct tool_run *r, struct dfu_if_info **list, size_t *n);
/* Open @info into *dev (caller closes it) and bring it to dfuIDLE. */
int tool_run_open_alt(struct tool_run *r, const struct dfu_if_info *info, struct dfu_dev **dev);
/* erase, leave, -R alone: pick the alt (--jump's address decides), open it;
 * *k is its index in @list. */
int tool_run_open_command_alt(struct tool_run *r, const struct dfu_if_info *list, size_t n,
			      struct dfu_dev **dev, int *k);
/* After a leave: did the application come back on the port of @was? */
int tool_run_confirm_app(struct tool_run *r, const struct dfu_if_info *was);
/* A raw binary without an address: rebase @img to the first writable
 * segment of @info's memory map (and record it in r->o->flash). */
int tool_run_place_raw(struct tool_run *r, struct dfu_image *img, const struct dfu_if_info *info);
/* Load the -D / FILE argument into *img (caller frees it). */
int tool_run_load_input(struct tool_run *r, struct dfu_image **img);
/* dfu_dev_upload(), with one USB reset and retry per run after a failure
 * that wants it; returns the library's result (>= 0 or a dfu_err). */
int tool_run_upload(struct tool_run *r, const struct dfu_if_info *info, struct dfu_dev **dev,
		    const struct dfu_flash_opts *fo, struct dfu_image **img,
		    struct dfu_flash_result *res, struct dfu_error *e);

/* --- cmd-plan.c: --dry-run ------------------------------------------------- */

/* Plan the download of @img (or @fo's mass erase) on the open @dev and print
 * it; nothing is written. */
int tool_plan_flash(struct tool_run *r, struct dfu_dev *dev, const struct dfu_if_info *info,
		    const struct dfu_image *img, const struct dfu_flash_opts *fo);
/* Print where `leave` would jump; nothing is sent. */
int tool_plan_leave(struct tool_run *r, const struct dfu_if_info *info);

/* --- the commands, one file each ------------------------------------------ */

int cmd_list(struct tool_run *r);				       /* cmd-list.c */
int cmd_quirks(struct tool_run *r);				       /* cmd-quirks.c */
int cmd_flash(struct tool_run *r, struct dfu_if_info *list, size_t n); /* cmd-flash.c */
/* cmd-flash.c: the same with the image already loaded (flash-many.c); @img may
 * be rebased (a raw binary placed at the start of flash) */
int cmd_flash_image(struct tool_run *r, struct dfu_if_info *list, size_t n, struct dfu_image *img);
int cmd_read(struct tool_run *r, struct dfu_if_info *list, size_t n);	/* cmd-read.c */
int cmd_verify(struct tool_run *r, struct dfu_if_info *list, size_t n); /* cmd-verify.c */
int cmd_erase(struct tool_run *r, struct dfu_if_info *list, size_t n);	/* cmd-erase.c */
int cmd_leave(struct tool_run *r, struct dfu_if_info *list, size_t n);	/* cmd-leave.c */
int cmd_detach(struct tool_run *r, struct dfu_if_info *list, size_t n); /* cmd-detach.c */
/* cmd-reset.c: -R alone, and -R after another command */
int cmd_reset(struct tool_run *r, struct dfu_if_info *list, size_t n);
int tool_run_reset(struct tool_run *r, const struct dfu_if_info *list);
