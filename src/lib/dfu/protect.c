// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * What follows a request that makes an STM32 reset itself: Read Unprotect
 * (the ROM mass-erases flash, clears RDP and resets, AN2606), finding the
 * device again afterwards (dfu_reopen), and reading the option bytes back
 * after a write of them made the device reset.  Above dfuse.c and ops.c,
 * whose requests it sends.
 */
#include "config.h"

#include <stdio.h>

#include "protect.h"

int dfu_dev_unprotect(struct dfu_dev *dev, struct dfu_error *e)
{
	int r;

	if (!dev || !dev->h)
		return dfu_error_set(e, DFU_E_INVAL, "dfu.inval", NULL,
				     "dfu_dev_unprotect: no open device");
	if (!dev->dfuse && !dev->info.layout) {
		dfu_error_set(e, DFU_E_UNSUPPORTED, "dfuse.unprotect_unsupported", NULL,
			      "Read Unprotect is an ST DfuSe command; %04x:%04x is a plain DFU "
			      "device",
			      dev->info.vid, dev->info.pid);
		return DFU_E_UNSUPPORTED;
	}
	r = dfuse_read_unprotect(dev, NULL, e);
	if (r == DFU_E_DEVSTATUS && e && e->have_state && e->status == DFU_STATUS_ERR_UNKNOWN) {
		snprintf(e->code, sizeof(e->code), "dfuse.unprotect_failed");
		snprintf(e->op, sizeof(e->op), "DfuSe Read Unprotect");
		snprintf(e->message, sizeof(e->message),
			 "DfuSe Read Unprotect failed: the bootloader answered dfuERROR, status 14 "
			 "(errUNKNOWN) instead of resetting; the read protection is still active "
			 "and nothing was erased");
		e->hint = "power-cycle the board with BOOT0 high and try again; RDP level 2 "
			  "cannot be removed, and some boards need the option bytes reset "
			  "through SWD (STM32CubeProgrammer)";
	}
	return r;
}

uint32_t dfu_dev_unprotect_wait_ms(const struct dfu_dev *dev)
{
	return 30000u + dfu_deadline_mass_erase_ms(dev);
}

void dfu_dev_identity(const struct dfu_dev *dev, struct dfu_if_info *out)
{
	*out = dev->info;
	out->layout = NULL;
}

int dfu_reopen(struct dfu_ctx *ctx, const struct dfu_if_info *was, int alt, uint32_t timeout_ms,
	       struct dfu_dev **out, struct dfu_error *e)
{
	struct dfu_if_info same = *was;
	struct dfu_if_info *list = NULL;
	struct dfu_match m;
	size_t n = 0;
	int r, k = -1;
	bool dfu_seen = false;

	*out = NULL;
	if (alt < 0)
		alt = was->alt;
	same.layout = NULL;
	dfu_match_init(&m);
	r = dfu_wait_for(ctx, &m, &same, timeout_ms, &list, &n, e);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		dfu_seen |= list[i].dfu_mode;
		if (list[i].dfu_mode && list[i].alt == alt && k < 0)
			k = (int)i;
	}
	if (k < 0) {
		if (!dfu_seen) {
			dfu_error_set(e, DFU_E_PROTOCOL, "dfuse.came_back_runtime", NULL,
				      "%04x:%04x at %s came back, but in run-time mode, not as "
				      "the DFU bootloader",
				      was->vid, was->pid, was->path);
			dfu_error_hint(e, "the application started (BOOT0 low?): keep BOOT0 high "
					  "while the device resets");
			r = DFU_E_PROTOCOL;
		} else {
			r = dfu_error_set(e, DFU_E_NOTFOUND, "dfuse.alt_missing", NULL,
					  "%04x:%04x at %s came back without alt %d", was->vid,
					  was->pid, was->path, alt);
		}
		dfu_if_info_free(list, n);
		return r;
	}
	r = dfu_dev_open(ctx, &list[k], out, e);
	dfu_if_info_free(list, n);
	return r;
}

int dfu_option_bytes_confirm(struct dfu_ctx *ctx, const struct dfu_if_info *was,
			     const struct dfu_image *img, uint32_t timeout_ms,
			     struct dfu_image **back, struct dfu_error *e)
{
	struct dfu_flash_opts uo = { 0 };
	struct dfu_flash_result res = { 0 };
	struct dfu_image *up = NULL;
	struct dfu_dev *dev = NULL;
	int alt = DFU_ALT_NONE;
	uint32_t low = 0;
	uint64_t high = 0;
	int r;

	if (back)
		*back = NULL;
	for (size_t i = 0; i < img->n_segments; i++)
		if (img->segments[i].alt != DFU_ALT_NONE)
			alt = was->alt;
	if (!(alt == DFU_ALT_NONE ? dfu_image_span(img, &low, &high)
				  : dfu_image_alt_span(img, alt, &low, &high)))
		return dfu_error_set(e, DFU_E_INVAL, "optbytes.empty", NULL,
				     "no option bytes to confirm");
	r = dfu_reopen(ctx, was, -1, timeout_ms, &dev, e);
	if (r < 0)
		return r;
	uo.have_address = true;
	uo.address = low;
	uo.have_length = true;
	uo.length = (uint32_t)(high - low);
	r = dfu_dev_upload(dev, &uo, &up, &res, e);
	dfu_dev_close(dev);
	if (r < 0) {
		if (res.read_protected && e)
			e->hint = "the new option bytes enabled read-out protection (RDP level 1): "
				  "the device now refuses to show them; `--unprotect` removes it "
				  "by mass-erasing the flash";
		return r;
	}
	for (uint64_t a = low; a < high; a++) {
		uint8_t want, got;

		if (dfu_image_read(img, alt, (uint32_t)a, &want, 1, 0xff) != 1)
			continue;
		if (dfu_image_read(up, DFU_ALT_NONE, (uint32_t)a, &got, 1, 0) != 1 || got != want) {
			bool was_empty = e && !e->err;

			dfu_error_set(e, DFU_E_VERIFY, "optbytes.differ", NULL,
				      "after the reset the option byte at 0x%08x reads 0x%02x; "
				      "0x%02x was written",
				      (uint32_t)a, got, want);
			if (was_empty && e) {
				dfu_error_device_at(e, "option bytes read-back", -1, (uint32_t)a);
				dfu_error_hint(
				    e, "the chip rejected or adjusted the value (an invalid "
				       "combination, or a complement byte that does not "
				       "match)");
			}
			dfu_image_free(up);
			return DFU_E_VERIFY;
		}
	}
	if (back)
		*back = up;
	else
		dfu_image_free(up);
	return 0;
}
