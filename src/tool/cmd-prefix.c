// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * `dfuflash image prefix add|check|delete FILE`: the NXP LPC DFU prefix, as
 * dfu-util's dfu-prefix -L writes and reads it, so no dfu-util binary is
 * needed.  A DFU suffix at the end of the file stays, its CRC recomputed.
 */
#include "config.h"

#include <string.h>

#include "macro.h"
#include "tool.h"

/* The file split into prefix, payload and suffix. */
struct prefix_file {
	const char *path;
	uint8_t *data;
	size_t len;
	size_t body; /* bytes before the DFU suffix */
	bool have_suffix;
	struct dfu_suffix s;
	bool have_prefix;
	struct dfu_lpc_prefix p;
};

static int load(struct prefix_file *f)
{
	struct dfu_error e = { 0 };
	int r = tool_read_file(f->path, &f->data, &f->len);

	if (r)
		return r;
	r = dfu_suffix_parse(f->data, f->len, &f->s, &e);
	if (r < 0) {
		tool_report(f->path, &e);
		tool_hint("fix or remove the suffix first: `dfuflash image suffix check|delete`");
		return TOOL_EXIT_DATAERR;
	}
	f->have_suffix = r == 1;
	f->body = f->len - (f->have_suffix ? f->s.length : 0);
	f->have_prefix = dfu_lpc_prefix_parse(f->data, f->body, &f->p, NULL) == 0;
	return 0;
}

/* Write @pre (may be empty) + @payload, and the file's suffix again. */
static int store(const struct prefix_file *f, const uint8_t *pre, size_t pre_len,
		 const uint8_t *payload, size_t payload_len)
{
	uint8_t suffix[DFU_SUFFIX_LEN];
	struct dfu_buf b = { 0 };
	int ret;

	if (dfu_buf_append(&b, pre, pre_len) < 0 || dfu_buf_append(&b, payload, payload_len) < 0)
		goto nomem;
	if (f->have_suffix) {
		dfu_suffix_build(b.data, b.len, f->s.bcd_device, f->s.id_product, f->s.id_vendor,
				 f->s.bcd_dfu, suffix);
		if (dfu_buf_append(&b, suffix, sizeof(suffix)) < 0)
			goto nomem;
	}
	ret = tool_replace_file(f->path, b.data, b.len);
	dfu_buf_release(&b);
	return ret;
nomem:
	dfu_buf_release(&b);
	tool_err("out of memory");
	return TOOL_EXIT_SOFTWARE;
}

static int prefix_check(const struct prefix_file *f)
{
	if (!f->have_prefix) {
		tool_err("%s: no NXP LPC DFU prefix", f->path);
		return TOOL_EXIT_FAILURE;
	}
	printf("%s: NXP LPC DFU prefix (unencrypted): %u blocks of 512 bytes (%u KiB); "
	       "%zu bytes follow it%s\n",
	       f->path, f->p.blocks, f->p.blocks / 2u, f->body - DFU_LPC_PREFIX_LEN,
	       f->have_suffix ? ", then a DFU suffix" : "");
	return 0;
}

static int prefix_add(struct tool_ctx *ctx, const struct prefix_file *f)
{
	uint8_t pre[DFU_LPC_PREFIX_LEN];
	struct dfu_error e = { 0 };
	int ret;

	if (f->have_prefix) {
		tool_err("%s: already starts with an NXP LPC DFU prefix", f->path);
		tool_hint("remove it first with `dfuflash image prefix delete %s`", f->path);
		return TOOL_EXIT_DATAERR;
	}
	ret = dfu_lpc_prefix_build(f->body, pre, &e);
	if (ret < 0) {
		tool_report(f->path, &e);
		return tool_exit_for(ret);
	}
	ret = store(f, pre, sizeof(pre), f->data, f->body);
	if (ret == 0)
		tool_msg(ctx, "%s: NXP LPC DFU prefix added (%u blocks of 512 bytes)%s", f->path,
			 (unsigned)(pre[2] | pre[3] << 8),
			 f->have_suffix ? ", DFU suffix rewritten" : "");
	return ret;
}

static int prefix_delete(struct tool_ctx *ctx, const struct prefix_file *f)
{
	int ret;

	if (!f->have_prefix) {
		tool_err("%s: has no NXP LPC DFU prefix to delete", f->path);
		return TOOL_EXIT_DATAERR;
	}
	ret = store(f, NULL, 0, f->data + DFU_LPC_PREFIX_LEN, f->body - DFU_LPC_PREFIX_LEN);
	if (ret == 0)
		tool_msg(ctx, "%s: NXP LPC DFU prefix (16 bytes) removed%s", f->path,
			 f->have_suffix ? ", DFU suffix rewritten" : "");
	return ret;
}

int cmd_image_prefix(struct tool_ctx *ctx, const char *op, const char *path)
{
	_cleanup_free_ uint8_t *data = NULL;
	struct prefix_file f = { .path = path };
	int ret;

	if (strcmp(op, "add") && strcmp(op, "check") && strcmp(op, "delete")) {
		tool_err("image prefix: unknown operation '%s' (add, check or delete)", op);
		return TOOL_EXIT_USAGE;
	}
	ret = load(&f);
	data = f.data;
	if (ret)
		return ret;
	if (strcmp(op, "check") == 0)
		return prefix_check(&f);
	if (strcmp(op, "delete") == 0)
		return prefix_delete(ctx, &f);
	return prefix_add(ctx, &f);
}
