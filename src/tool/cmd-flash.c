// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * `dfuflash flash FILE`, dfu-util's -D: write a file to the device, one alt
 * setting per DfuSe target, then show option bytes or OTP and confirm that
 * the application started.
 */
#include "config.h"

#include <string.h>

#include "cmd-protect.h"
#include "device-run.h"
#include "macro.h"
#include "tool.h"

static int check_suffix_ids(struct tool_run *r, const struct dfu_image *img,
			    const struct dfu_if_info *info)
{
	const struct dfu_suffix *s = &img->suffix;

	if (!s->present)
		return 0;
	if ((s->id_vendor == 0xffff || s->id_vendor == info->vid) &&
	    (s->id_product == 0xffff || s->id_product == info->pid))
		return 0;
	if (r->o->flash.force) {
		tool_warn("%s: file is for %04x:%04x, device is %04x:%04x: going on (--force)",
			  r->o->download_path, s->id_vendor, s->id_product, info->vid, info->pid);
		return 0;
	}
	tool_err("%s: the DFU suffix says the file is for %04x:%04x, but the device is %04x:%04x",
		 r->o->download_path, s->id_vendor, s->id_product, info->vid, info->pid);
	tool_hint("use the firmware built for this device, or give --force if you are sure");
	return TOOL_EXIT_DATAERR;
}

/* The distinct alt tags of a DfuSe image, in order; DFU_ALT_NONE: untagged. */
static size_t image_alts(const struct dfu_image *img, int alts[256])
{
	size_t n = 0;

	for (size_t i = 0; i < img->n_segments && n < 256; i++)
		if (n == 0 || alts[n - 1] != img->segments[i].alt)
			alts[n++] = img->segments[i].alt;
	return n;
}

static void add_result(struct dfu_flash_result *sum, const struct dfu_flash_result *one)
{
	sum->bytes_written += one->bytes_written;
	sum->bytes_read += one->bytes_read;
	sum->sectors_erased += one->sectors_erased;
	sum->mass_erased = sum->mass_erased || one->mass_erased;
	sum->sectors_total += one->sectors_total;
	sum->sectors_skipped += one->sectors_skipped;
	if (one->full_flash_reason[0])
		memcpy(sum->full_flash_reason, one->full_flash_reason,
		       sizeof(sum->full_flash_reason));
	sum->verified = one->verified;
	sum->left = one->left;
	sum->app_seen = one->app_seen;
	sum->have_jump = one->have_jump;
	sum->jump_address = one->jump_address;
	sum->retries += one->retries;
	sum->elapsed_ms += one->elapsed_ms;
	if (one->mismatch && !sum->mismatch) {
		sum->mismatch = true;
		sum->mismatch_address = one->mismatch_address;
	}
	sum->mismatch_count += one->mismatch_count;
	for (uint32_t i = 0; i < one->n_retry_log && sum->n_retry_log < DFU_RETRY_LOG_MAX; i++)
		memcpy(sum->retry_log[sum->n_retry_log++], one->retry_log[i],
		       sizeof(sum->retry_log[0]));
}

/*
 * dfu_dev_download, and once per run after a failure that wants a reset (a
 * device that fails every second run until re-plugged, a stuck state, a link
 * that failed also when retried): one USB reset of the same device, then the
 * whole download once more.
 */
static int download_recover(struct tool_run *r, const struct dfu_if_info *info,
			    struct dfu_dev **dev, const struct dfu_image *img,
			    const struct dfu_flash_opts *fo, struct dfu_flash_result *one,
			    struct dfu_error *e)
{
	struct dfu_error re = { 0 };
	int ret;

	ret = dfu_dev_download(*dev, img, fo, one, e);
	if (ret >= 0 || r->recovered || !dfu_error_wants_reset(e))
		return ret;
	r->recovered = true;
	/* the failed attempt counts with its retries, not its bytes */
	r->res.retries += one->retries;
	for (uint32_t i = 0; i < one->n_retry_log && r->res.n_retry_log < DFU_RETRY_LOG_MAX; i++)
		memcpy(r->res.retry_log[r->res.n_retry_log++], one->retry_log[i],
		       sizeof(one->retry_log[0]));
	dfu_flash_result_note_retry(&r->res, "%s: %s, USB reset, download repeated",
				    e->op[0] ? e->op : "download",
				    e->have_state ? dfu_status_name(e->status)
				    : e->usb_name ? e->usb_name
						  : dfu_strerror(e->err));
	tool_msg(r->tool, "%s: %s: resetting the device and trying once more", r->object,
		 e->message);
	if (dfu_dev_recover(dev, &re) != 0) {
		tool_report(r->object, &re);
		return ret;
	}
	memset(one, 0, sizeof(*one));
	dfu_error_clear(e);
	ret = dfu_dev_download(*dev, img, fo, one, e);
	if (ret == 0)
		tool_msg(r->tool,
			 "%s: recovered: the device was reset (USB reset) and opened again at %s; "
			 "the download was repeated",
			 r->object, info->path);
	return ret;
}

/* *k: the alt for the data tagged @alt, checked against the file's DFU
 * suffix, with a raw binary placed in its memory map. */
static int target_alt(struct tool_run *r, struct dfu_if_info *list, size_t n, struct dfu_image *img,
		      int alt, int *k)
{
	struct tool_alt_want want = { .alt = alt == DFU_ALT_NONE ? -1 : alt,
				      .have_address = img->address_from_file };
	int ret;

	dfu_image_alt_span(img, alt, &want.address, NULL);
	ret = tool_run_check_alt_choice(r, list, n, &want);
	if (ret)
		return ret;
	*k = tool_run_pick_alt(r, list, n, &want);
	if (*k < 0) {
		tool_err("%s: the file has data for alt %d, which the device does not have",
			 r->o->download_path, alt);
		return TOOL_EXIT_DATAERR;
	}
	ret = check_suffix_ids(r, img, &list[*k]);
	if (ret)
		return ret;
	return tool_run_place_raw(r, img, &list[*k]);
}

/*
 * A plain DFU 1.1 device that is not manifestation tolerant ends a download
 * in dfuMANIFEST-WAIT-RESET and runs the new firmware only after the host's
 * USB reset (DFU 1.1 §7.2).  dfu-util gives that reset unasked; so do we, as
 * the leave of a plain DFU device.
 */
static bool waits_for_reset(const struct dfu_if_info *info)
{
	return info->bcd_dfu != 0x011a && !info->layout &&
	       !(info->attributes & DFU_ATTR_MANIFEST_TOLERANT);
}

/*
 * dfu-util's words after the last target, which scripts grep, before the
 * application is looked for.  "File downloaded successfully" comes only
 * from its raw DfuSe path, never for .dfu files or plain DFU.
 */
static void print_dfu_util_done(const struct tool_run *r, const struct dfu_image *img,
				const struct dfu_if_info *info)
{
	if (!r->o->compat || r->o->quiet || r->o->json)
		return;
	printf("Download done.\n");
	if (img->format != DFU_FORMAT_DFUSE && info->layout)
		printf("File downloaded successfully\n");
	if (r->o->flash.leave)
		printf("Submitting leave request...\n");
}

/* Write the data tagged @alt, target @index of @count in the file; leave
 * (when asked) after the last one only. */
static int flash_target(struct tool_run *r, struct dfu_if_info *list, size_t n,
			struct dfu_image *img, int alt, size_t index, size_t count)
{
	_cleanup_(dfu_dev_closep) struct dfu_dev *dev = NULL;
	struct dfu_flash_opts fo;
	struct dfu_flash_result one = { 0 };
	struct dfu_error e = { 0 };
	int k, ret;

	ret = target_alt(r, list, n, img, alt, &k);
	if (ret)
		return ret;
	fo = r->o->flash; /* tool_run_place_raw may have set the address */
	ret = tool_run_open_alt(r, &list[k], &dev);
	if (ret)
		return ret;
	/* several targets: leave only after the last one */
	if (index + 1 < count)
		fo.leave = false;
	else if (waits_for_reset(&list[k]))
		fo.leave = true;
	if (r->o->dry_run)
		return tool_plan_flash(r, dev, &list[k], img, &fo);
	if (count > 1)
		tool_msg(r->tool, "alt %u (\"%s\"):", list[k].alt,
			 list[k].layout ? list[k].layout->name : list[k].name);
	ret = download_recover(r, &list[k], &dev, img, &fo, &one, &e);
	add_result(&r->res, &one);
	r->have_res = true;
	if (ret < 0)
		return tool_run_fail(r, ret, &e);
	/* option bytes: wait for the reset and confirm; OTP: show the result */
	ret = cmd_after_download(r->tool, r->ctx, r->o, &list[k], img, &one, &dev, &r->res);
	if (ret)
		return ret;
	if (index + 1 == count)
		print_dfu_util_done(r, img, &list[k]);
	if (index + 1 == count && fo.leave) {
		dfu_dev_close(TAKE_PTR(dev));
		return tool_run_confirm_app(r, &list[k]);
	}
	return 0;
}

int cmd_flash(struct tool_run *r, struct dfu_if_info *list, size_t n)
{
	_cleanup_(dfu_image_freep) struct dfu_image *img = NULL;
	int ret;

	ret = tool_run_load_input(r, &img);
	if (ret)
		return ret;
	return cmd_flash_image(r, list, n, img);
}

int cmd_flash_image(struct tool_run *r, struct dfu_if_info *list, size_t n, struct dfu_image *img)
{
	int alts[256];
	size_t nalts;
	int ret;

	nalts = image_alts(img, alts);
	for (size_t a = 0; a < nalts; a++) {
		ret = flash_target(r, list, n, img, alts[a], a, nalts);
		if (ret)
			return ret;
	}
	if (r->o->dry_run)
		return 0;
	if (r->res.sectors_total && !r->res.full_flash_reason[0])
		tool_msg(r->tool, "%s: %u of %u sectors unchanged, skipped%s", r->object,
			 r->res.sectors_skipped, r->res.sectors_total,
			 r->res.mass_erased ? "; the flash was mass-erased (the image covers "
					      "all of it)"
					    : "");
	tool_msg(r->tool, "%s: %llu bytes written%s%s", r->object,
		 (unsigned long long)r->res.bytes_written, r->res.verified ? ", verified" : "",
		 r->res.left ? (r->res.app_seen ? ", application started" : ", left DFU mode")
			     : "");
	return 0;
}
