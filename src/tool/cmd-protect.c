// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Read-out protection, option bytes and OTP for the device commands:
 * --unprotect followed by the download of the same command, `read-options`,
 * and what is shown after an option-byte or OTP write.  The protocol is the
 * library's (protect.c, optbytes.c, dfuse.c); this file waits, re-lists and
 * talks to the user.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "cmd-protect.h"
#include "macro.h"

/* Wait for the device after an option-byte write (it only reloads). */
#define OB_RESET_WAIT_MS 15000u

static void object_of(char *buf, size_t len, const struct dfu_if_info *i)
{
	snprintf(buf, len, "%04x:%04x at %s", i->vid, i->pid, i->path);
}

static bool name_has(const struct dfu_if_info *i, const char *word)
{
	const char *s = i->layout && i->layout->name[0] ? i->layout->name : i->name;
	size_t n = strlen(word);

	for (; *s; s++)
		if (strncasecmp(s, word, n) == 0)
			return true;
	return false;
}

static bool any_dfu(const struct dfu_if_info *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (list[i].dfu_mode)
			return true;
	return false;
}

/* --- Read Unprotect -------------------------------------------------------- */

int cmd_unprotect(struct tool_ctx *tool, struct dfu_ctx *ctx, struct tool_options *o,
		  struct dfu_if_info **list, size_t *n, struct dfu_flash_result *res)
{
	_cleanup_(dfu_dev_closep) struct dfu_dev *dev = NULL;
	struct dfu_if_info same, *back = NULL;
	struct dfu_error e = { 0 };
	struct dfu_match m = o->match;
	char object[96];
	uint32_t wait_ms;
	size_t k, nb = 0;
	int ret;

	for (k = 0; k < *n && !(*list)[k].dfu_mode; k++)
		;
	if (k == *n) {
		tool_err("no DFU-mode interface to send Read Unprotect to");
		return TOOL_EXIT_NODEVICE;
	}
	object_of(object, sizeof(object), &(*list)[k]);
	ret = dfu_dev_open(ctx, &(*list)[k], &dev, &e);
	if (ret < 0) {
		tool_report(object, &e);
		return tool_exit_for(ret);
	}
	wait_ms = dfu_dev_unprotect_wait_ms(dev);
	tool_msg(tool,
		 "%s: removing read protection: the chip mass-erases its whole flash and resets "
		 "(allowing %u s)",
		 object, wait_ms / 1000);
	ret = dfu_dev_unprotect(dev, &e);
	if (ret < 0) {
		tool_report(object, &e);
		return tool_exit_for(ret);
	}
	dfu_dev_identity(dev, &same);
	dfu_dev_close(TAKE_PTR(dev));
	res->left = false;

	/* the same device (path, then serial) in DFU mode, with the user's filters */
	m.runtime.set = false;
	m.serial_runtime = NULL;
	ret = dfu_wait_for(ctx, &m, &same, wait_ms, &back, &nb, &e);
	if (ret < 0 || nb == 0) {
		dfu_if_info_free(back, nb);
		tool_err("%s: the device did not come back within %u s after Read Unprotect",
			 object, wait_ms / 1000);
		tool_hint(
		    "the flash is erased now; with BOOT0 low the chip boots the empty flash and "
		    "never enters the bootloader: set BOOT0 high, reset it and run the command "
		    "again without --unprotect");
		return TOOL_EXIT_NODEVICE;
	}
	if (!any_dfu(back, nb)) {
		dfu_if_info_free(back, nb);
		tool_err("%s: came back after Read Unprotect, but not in DFU mode", object);
		tool_hint("set BOOT0 high and reset the board, then run the command again without "
			  "--unprotect");
		return TOOL_EXIT_PROTOCOL;
	}
	dfu_if_info_free(*list, *n);
	*list = back;
	*n = nb;
	o->flash.unprotect = false;
	tool_msg(tool, "%s: read protection removed (flash erased); the device is back", object);
	return 0;
}

/* --- option bytes ------------------------------------------------------------ */

/* Start of flash sector @index of the "Flash" alt in @list, or false. */
static bool sector_address(const struct dfu_if_info *list, size_t n, unsigned index,
			   uint32_t *address, unsigned *count)
{
	for (size_t i = 0; i < n; i++) {
		const struct dfuse_layout *l = list[i].layout;
		unsigned k = 0;

		if (!list[i].dfu_mode || !l || !name_has(&list[i], "Flash"))
			continue;
		for (size_t s = 0; s < l->n_segments; s++)
			k += l->segments[s].count;
		if (count)
			*count = k;
		k = 0;
		for (size_t s = 0; s < l->n_segments; s++) {
			const struct dfuse_layout_segment *g = &l->segments[s];

			if (index < k + g->count) {
				if (address)
					*address = g->start + (index - k) * g->size;
				return true;
			}
			k += g->count;
		}
		return false;
	}
	return false;
}

static void print_hex(FILE *f, const uint8_t *d, size_t len)
{
	for (size_t i = 0; i < len; i++)
		fprintf(f, "%s%02x", i ? " " : "", d[i]);
}

/* Option bytes as read, to show. */
struct ob_view {
	const char *object;
	const struct dfu_if_info *list; /* for the addresses of the WRP sectors */
	size_t n;
	const struct dfu_option_bytes *ob;
	const uint8_t *raw;
	bool decoded; /* false: ob holds only base, len and family_name */
};

static void json_wrp(struct json_out *j, const struct ob_view *v)
{
	const struct dfu_option_bytes *ob = v->ob;

	json_bool(j, "pcrop_mode", ob->pcrop_mode);
	json_arr_open(j, "wrp_sectors");
	for (unsigned i = 0; i < ob->wrp_bits; i++) {
		uint32_t a;

		if (!(ob->wrp_mask & (1u << i)))
			continue;
		json_obj_open(j, NULL);
		json_uint(j, "index", i);
		if (sector_address(v->list, v->n, i, &a, NULL))
			json_uint(j, "address", a);
		json_obj_close(j);
	}
	json_arr_close(j);
	json_arr_open(j, "wrp_page_ranges");
	for (unsigned i = 0; i < ob->n_wrp_ranges; i++) {
		json_obj_open(j, NULL);
		json_uint(j, "first", ob->wrp_first[i]);
		json_uint(j, "last", ob->wrp_last[i]);
		json_obj_close(j);
	}
	json_arr_close(j);
}

static void json_option_bytes(const struct ob_view *v, const char *hex)
{
	const struct dfu_option_bytes *ob = v->ob;
	struct json_out j;

	json_begin(&j, stdout);
	json_obj_open(&j, NULL);
	json_str(&j, "event", "option_bytes");
	json_uint(&j, "schema", TOOL_JSON_SCHEMA);
	json_str(&j, "device", v->object);
	json_uint(&j, "address", ob->base);
	json_uint(&j, "length", ob->len);
	json_str(&j, "family", ob->family_name);
	json_str(&j, "raw", hex);
	if (v->decoded && ob->have_rdp) {
		json_int(&j, "rdp_level", ob->rdp_level);
		json_uint(&j, "rdp_byte", ob->rdp_raw);
	}
	if (v->decoded && ob->have_wrp)
		json_wrp(&j, v);
	if (v->decoded && ob->have_bor) {
		json_int(&j, "bor_level", ob->bor_level);
		json_str(&j, "bor", ob->bor_text);
	}
	if (v->decoded && ob->have_user) {
		json_str(&j, "watchdog", ob->wdg_sw ? "software" : "hardware");
		json_bool(&j, "reset_on_stop", !ob->nrst_stop);
		json_bool(&j, "reset_on_standby", !ob->nrst_stdby);
	}
	if (v->decoded)
		json_str(&j, "boot", ob->boot);
	if (ob->complement_error)
		json_uint(&j, "complement_mismatch_at", ob->complement_at);
	json_obj_close(&j);
	json_end(&j);
}

/* "write protection: sector 0 (0x08000000), pages 4..7" or "none". */
static void print_wrp(const struct ob_view *v)
{
	const struct dfu_option_bytes *ob = v->ob;
	bool any = false;

	printf("  %s ", ob->pcrop_mode ? "PCROP (SPRMOD):  " : "write protection:");
	for (unsigned i = 0; i < ob->wrp_bits; i++) {
		uint32_t a;

		if (!(ob->wrp_mask & (1u << i)))
			continue;
		if (sector_address(v->list, v->n, i, &a, NULL))
			printf("%ssector %u (0x%08x)", any ? ", " : "", i, a);
		else
			printf("%ssector %u", any ? ", " : "", i);
		any = true;
	}
	for (unsigned i = 0; i < ob->n_wrp_ranges; i++) {
		printf("%spages %u..%u", any ? ", " : "", ob->wrp_first[i], ob->wrp_last[i]);
		any = true;
	}
	printf("%s\n", any ? "" : "none");
}

static void print_option_bytes(const struct ob_view *v, const char *hex)
{
	const struct dfu_option_bytes *ob = v->ob;

	printf("%s: option bytes at 0x%08x (%zu bytes, %s)\n", v->object, ob->base, ob->len,
	       ob->family_name);
	printf("  raw:              %s\n", hex);
	if (!v->decoded)
		return;
	if (ob->have_rdp)
		printf("  read protection:  level %d (RDP byte 0x%02x)%s\n", ob->rdp_level,
		       ob->rdp_raw,
		       ob->rdp_level == 1 ? ": flash cannot be read; --unprotect mass-erases it"
					  : "");
	if (ob->have_wrp)
		print_wrp(v);
	if (ob->have_bor)
		printf("  brown-out reset:  %s\n", ob->bor_text);
	if (ob->have_user) {
		printf("  watchdog:         %s\n",
		       ob->wdg_sw ? "software (started by firmware)" : "hardware (always on)");
		printf("  reset on Stop:    %s; on Standby: %s\n", ob->nrst_stop ? "no" : "yes",
		       ob->nrst_stdby ? "no" : "yes");
	}
	printf("  boot:             %s\n", ob->boot);
	if (ob->complement_error)
		printf("  note: the complement byte at 0x%08x does not match its value\n",
		       ob->complement_at);
}

static void show_option_bytes(const struct tool_options *o, const struct ob_view *v)
{
	char hex[3 * 256 + 1] = "";

	for (size_t i = 0, used = 0; i < v->ob->len && i < 256; i++)
		used += (size_t)snprintf(hex + used, sizeof(hex) - used, "%s%02x", i ? " " : "",
					 v->raw[i]);
	if (o->json)
		json_option_bytes(v, hex);
	else
		print_option_bytes(v, hex);
}

/* Decode and show option bytes read from the device. */
static void decode_and_show(const struct tool_options *o, const char *object,
			    const struct dfu_if_info *list, size_t n, const struct dfu_image *up)
{
	struct dfu_option_bytes ob;
	const struct dfu_segment *s = up->n_segments ? &up->segments[0] : NULL;
	struct ob_view v = { .object = object, .list = list, .n = n, .ob = &ob };
	unsigned sectors = 0;

	if (!s)
		return;
	sector_address(list, n, 0, NULL, &sectors);
	v.raw = s->data;
	v.decoded =
	    dfu_option_bytes_decode(s->address, s->data, s->length, sectors, &ob, NULL) == 0;
	if (!v.decoded) {
		memset(&ob, 0, sizeof(ob));
		ob.base = s->address;
		ob.len = s->length;
		ob.family_name = "unknown layout: not decoded";
	}
	show_option_bytes(o, &v);
}

int cmd_read_options(struct tool_run *r, struct dfu_if_info *list, size_t n)
{
	_cleanup_(dfu_dev_closep) struct dfu_dev *dev = NULL;
	_cleanup_(dfu_image_freep) struct dfu_image *up = NULL;
	struct dfu_flash_opts fo = { 0 };
	struct dfu_flash_result res = { 0 };
	struct dfu_idle_report rep;
	struct dfu_error e = { 0 };
	char object[96];
	size_t k;
	int ret;

	for (k = 0; k < n; k++)
		if (list[k].dfu_mode && list[k].layout && list[k].layout->n_segments &&
		    name_has(&list[k], "Option"))
			break;
	if (k == n) {
		object_of(object, sizeof(object), &list[0]);
		tool_err("%s: the device shows no \"Option Bytes\" alternate setting", object);
		tool_hint(
		    "STM32G0B1/G0C1 ROMs name every alt \"Internal Flash\" (a ROM bug) and plain "
		    "DFU devices have none; `dfuflash list` shows the alts (-a NAME selects one)");
		return TOOL_EXIT_NODEVICE;
	}
	object_of(object, sizeof(object), &list[k]);
	ret = dfu_dev_open(r->ctx, &list[k], &dev, &e);
	if (ret == 0)
		ret = dfu_dev_ensure_idle(dev, &rep, &e);
	if (ret == 0) {
		fo.have_address = true;
		fo.address = list[k].layout->segments[0].start;
		fo.timeout_ms = r->o->flash.timeout_ms;
		r->tool->progress_off = true;
		ret = dfu_dev_upload(dev, &fo, &up, &res, &e);
		r->tool->progress_off = false;
	}
	if (ret < 0) {
		tool_report(object, &e);
		return tool_exit_for(ret);
	}
	decode_and_show(r->o, object, list, n, up);
	return 0;
}

/* --- after a download: option bytes and OTP ------------------------------------ */

static int after_option_bytes(struct tool_ctx *tool, struct dfu_ctx *ctx,
			      const struct tool_options *o, const struct dfu_if_info *info,
			      const struct dfu_image *img, struct dfu_dev **dev,
			      struct dfu_flash_result *sum)
{
	_cleanup_(dfu_image_freep) struct dfu_image *back = NULL;
	struct dfu_if_info same = *info;
	struct dfu_if_info one = *info;
	struct dfu_error e = { 0 };
	char object[96];
	uint32_t ms = o->flash.timeout_ms ? o->flash.timeout_ms : OB_RESET_WAIT_MS;
	int ret;

	object_of(object, sizeof(object), info);
	dfu_dev_close(*dev);
	*dev = NULL;
	same.layout = NULL;
	tool_msg(tool, "%s: option bytes written; the device resets to load them: waiting for it",
		 object);
	tool->progress_off = true;
	ret = dfu_option_bytes_confirm(ctx, &same, img, ms, &back, &e);
	tool->progress_off = false;
	if (ret < 0) {
		tool_report(object, &e);
		return tool_exit_for(ret);
	}
	sum->left = false; /* back in DFU mode: it did not leave for an application */
	tool_msg(tool, "%s: the device is back and its option bytes hold what was written", object);
	one.layout = NULL;
	decode_and_show(o, object, &one, 1, back);
	return 0;
}

static int after_otp(struct tool_ctx *tool, const struct tool_options *o,
		     const struct dfu_if_info *info, const struct dfu_flash_result *one,
		     struct dfu_dev *dev)
{
	_cleanup_(dfu_image_freep) struct dfu_image *up = NULL;
	struct dfu_otp_layout l;
	struct dfu_flash_opts fo = { 0 };
	struct dfu_flash_result res = { 0 };
	struct dfu_error e = { 0 };
	char object[96];
	uint8_t buf[64];
	int ret;

	object_of(object, sizeof(object), info);
	if (!one->otp_bytes_changed) {
		tool_msg(tool, "%s: OTP already held these bytes: nothing was programmed", object);
		return 0;
	}
	tool_msg(tool, "%s: OTP: %u bytes programmed and read back", object,
		 one->otp_bytes_changed);
	if (!dev || !info->layout || !info->layout->n_segments ||
	    !dfu_otp_layout_for(info->layout->segments[0].start, &l))
		return 0;
	fo.have_address = true;
	fo.address = l.base;
	fo.have_length = true;
	fo.length = dfu_otp_area_size(&l);
	tool->progress_off = true;
	ret = dfu_dev_upload(dev, &fo, &up, &res, &e);
	tool->progress_off = false;
	if (ret < 0) {
		tool_report(object, &e);
		return tool_exit_for(ret);
	}
	for (uint32_t i = 0; i < l.n_blocks; i++) {
		bool data = one->otp_blocks_written & (1u << i);
		bool lock = one->otp_locks_written & (1u << i);
		bool locked = one->otp_blocks_locked & (1u << i);

		if (!data && !lock)
			continue;
		if (o->quiet)
			continue;
		dfu_image_read(up, DFU_ALT_NONE, l.base + i * l.block_size, buf, l.block_size,
			       0xff);
		fprintf(stderr, "  block %2u 0x%08x: ", i, l.base + i * l.block_size);
		print_hex(stderr, buf, l.block_size);
		fprintf(stderr, "\n           %s%s\n",
			locked ? "locked (lock byte 0x00)" : "unlocked",
			lock ? ": lock byte written now" : "");
	}
	return 0;
}

int cmd_after_download(struct tool_ctx *tool, struct dfu_ctx *ctx, const struct tool_options *o,
		       const struct dfu_if_info *info, const struct dfu_image *img,
		       const struct dfu_flash_result *one, struct dfu_dev **dev,
		       struct dfu_flash_result *sum)
{
	if (one->otp)
		return after_otp(tool, o, info, one, dev ? *dev : NULL);
	if (one->left && info->layout && name_has(info, "Option") && dev)
		return after_option_bytes(tool, ctx, o, info, img, dev, sum);
	return 0;
}
