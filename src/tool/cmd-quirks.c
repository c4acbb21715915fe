// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * `dfuflash quirks`: for each present DFU interface alt setting (as -d, -p,
 * -S, -a select them), the quirks that apply and where each came from (the
 * built-in table or FILE:LINE of a quirk file), and the polling a flash
 * would get under --poll.  Opens nothing: the identity and the memory map of
 * the listing decide, as they do when a device is opened.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "device-run.h"

struct quirk_out {
	struct json_out *j; /* --json, else text on stdout */
	unsigned count;
};

static void print_quirk(void *ud, const char *what, const char *source, const char *reason)
{
	struct quirk_out *q = ud;

	q->count++;
	if (q->j) {
		json_obj_open(q->j, NULL);
		json_str(q->j, "quirk", what);
		json_str(q->j, "source", source);
		if (reason)
			json_str(q->j, "reason", reason);
		else
			json_null(q->j, "reason");
		json_obj_close(q->j);
		return;
	}
	printf("  %-24s %s%s%s\n", what, source, reason ? ": " : "", reason ? reason : "");
}

static void quirks_text(struct dfu_ctx *ctx, const struct dfu_if_info *f)
{
	struct quirk_out q = { 0 };
	char poll[400];

	printf("%04x:%04x ver=%04x path=\"%s\" alt=%u name=\"%s\"\n", f->vid, f->pid, f->bcd_device,
	       f->path, f->alt, f->name);
	dfu_quirks_explain(ctx, f, print_quirk, &q, poll, sizeof(poll));
	if (!q.count)
		printf("  (no quirks)\n");
	printf("  poll: %s\n", poll);
}

static void quirks_json(struct dfu_ctx *ctx, struct json_out *j, const struct dfu_if_info *f)
{
	struct quirk_out q = { .j = j };
	char poll[400], id[10];

	json_obj_open(j, NULL);
	snprintf(id, sizeof(id), "%04x:%04x", f->vid, f->pid);
	json_str(j, "id", id);
	json_uint(j, "bcd_device", f->bcd_device);
	json_str(j, "path", f->path);
	json_uint(j, "alt", f->alt);
	json_str(j, "name", f->name);
	json_arr_open(j, "quirks");
	dfu_quirks_explain(ctx, f, print_quirk, &q, poll, sizeof(poll));
	json_arr_close(j);
	json_str(j, "poll", poll);
	json_obj_close(j);
}

int cmd_quirks(struct tool_run *r)
{
	struct dfu_if_info *list = NULL;
	struct dfu_error e = { 0 };
	struct json_out j;
	size_t n = 0;
	int ret;

	ret = dfu_list(r->ctx, &r->o->match, &list, &n, &e);
	if (ret < 0 && ret != DFU_E_NODEVICE)
		return tool_run_fail(r, ret, &e);
	if (r->o->json) {
		json_begin(&j, stdout);
		json_obj_open(&j, NULL);
		json_uint(&j, "schema", TOOL_JSON_SCHEMA);
		json_arr_open(&j, "interfaces");
	}
	for (size_t i = 0; i < n; i++) {
		if (r->o->json)
			quirks_json(r->ctx, &j, &list[i]);
		else
			quirks_text(r->ctx, &list[i]);
	}
	if (r->o->json) {
		json_arr_close(&j);
		json_obj_close(&j);
		json_end(&j);
	} else if (n == 0) {
		tool_msg(r->tool, "no DFU device found");
	}
	dfu_if_info_free(list, n);
	return 0;
}
