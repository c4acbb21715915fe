// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Read-out protection (RDP), Read Unprotect and the wait for the device to
 * come back, and the OTP rules (device-model.md 1.5, 2, 3.7): what an STM32
 * ROM's errVENDOR means, how a device is found again after it reset itself,
 * and which OTP writes are refused before anything is sent.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "macro.h"
#include "protect.h"
#include "util.h"

/* ------------------------------------------------------------------------ */
/* Read-out protection                                                      */

static bool has_word(const char *s, const char *word)
{
	size_t n = strlen(word);

	for (; *s; s++)
		if (strncasecmp(s, word, n) == 0)
			return true;
	return false;
}

bool dfuse_is_st_rom(const struct dfu_dev *dev)
{
	const struct dfu_if_info *i = &dev->info;

	if (i->vid != 0x0483 || i->pid != 0xdf11)
		return false;
	/* "STM32  BOOTLOADER" (F4/F7), "STM32 0x418 DFU Bootloader" (F107),
	 * "DFU in FS Mode" (G0); the ST HAL IAP says "... FIRMWARE UPDATE" */
	if (has_word(i->product, "bootloader") || strcmp(i->product, "DFU in FS Mode") == 0)
		return true;
	/* strings unreadable: the ROM bcdDevice values (device-model.md 3.2) */
	return !i->product[0] && (i->bcd_device == 0x2000 || i->bcd_device == 0x2100 ||
				  i->bcd_device == 0x2200);
}

void dfuse_classify_rdp(const struct dfu_dev *dev, bool vendor_at_start, struct dfu_error *e,
			struct dfu_flash_result *res)
{
	if (!e || !e->err || !e->have_state || e->state != DFU_STATE_DFU_ERROR ||
	    e->status != DFU_STATUS_ERR_VENDOR || !dfuse_is_st_rom(dev))
		return;
	snprintf(e->code, sizeof(e->code), "dfuse.read_protected");
	snprintf(e->message, sizeof(e->message),
		 "%.79s%srefused with dfuERROR, status 11 (errVENDOR): read-out protection is "
		 "active%s",
		 e->op, e->op[0] ? " " : "",
		 vendor_at_start ? " (it was in dfuERROR/errVENDOR already at the start)" : "");
	e->hint = DFU_HINT_READ_PROTECTED;
	if (res)
		res->read_protected = true;
}

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
	if (r == DFU_E_DEVSTATUS && e && e->have_state &&
	    e->status == DFU_STATUS_ERR_UNKNOWN) {
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

/* ------------------------------------------------------------------------ */
/* OTP                                                                      */

static const struct dfu_otp_layout otp_layouts[] = {
	/* RM0090 3.8: 16 x 32 bytes, lock bytes at 0x1FFF7A00 */
	{"STM32F2/F4", 0x1FFF7800, 32, 16, 0x1FFF7A00},
	/* RM0385: 16 x 64 bytes, lock bytes at 0x1FF0F400 (device-model.md 3.3) */
	{"STM32F7", 0x1FF0F000, 64, 16, 0x1FF0F400},
};

bool dfu_otp_layout_for(uint32_t address, struct dfu_otp_layout *out)
{
	for (size_t i = 0; i < ARRAY_SIZE(otp_layouts); i++) {
		const struct dfu_otp_layout *l = &otp_layouts[i];

		if (address >= l->base && address - l->base < dfu_otp_area_size(l)) {
			if (out)
				*out = *l;
			return true;
		}
	}
	return false;
}

static int otp_refuse(struct dfu_error *e, uint32_t address, const char *code, const char *hint,
		      const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static int otp_refuse(struct dfu_error *e, uint32_t address, const char *code, const char *hint,
		      const char *fmt, ...)
{
	bool was_empty = e && !e->err;
	va_list ap;

	va_start(ap, fmt);
	dfu_error_setv(e, DFU_E_MEMMAP, code, NULL, fmt, ap);
	va_end(ap);
	if (was_empty && e) {
		dfu_error_device(e, "OTP check (nothing written)", -1, true, address);
		dfu_error_hint(e, hint);
	}
	return DFU_E_MEMMAP;
}

int dfu_otp_check(const struct dfu_otp_layout *l, uint32_t address, const uint8_t *cur,
		  size_t len, const struct dfu_image *img, int alt, struct dfu_otp_plan *plan,
		  struct dfu_error *e)
{
	uint32_t data_end = l ? l->base + l->n_blocks * l->block_size : 0;
	int r = 0;

	memset(plan, 0, sizeof(*plan));
	if (l) {
		for (uint32_t i = 0; i < l->n_blocks; i++) {
			uint32_t a = l->lock_base + i;

			if (a >= address && a - address < len && cur[a - address] == 0x00)
				plan->blocks_locked_before |= 1u << i;
		}
	}
	for (size_t k = 0; k < len; k++) {
		uint32_t a = address + (uint32_t)k;
		uint8_t w, c = cur[k];

		if (dfu_image_read(img, alt, a, &w, 1, 0xff) != 1 || w == c)
			continue;
		if (!plan->bytes_changed)
			plan->first_change = a;
		plan->bytes_changed++;
		if (l && a >= l->lock_base && a - l->lock_base < l->n_blocks) {
			uint32_t i = a - l->lock_base;

			plan->locks_written |= 1u << i;
			if (w != 0x00 && w != 0xff && r == 0)
				r = otp_refuse(e, a, "dfuse.otp_lock_value",
					       "a lock byte takes 0x00 (lock) or 0xFF (leave "
					       "unlocked), nothing else",
					       "OTP lock byte %u at 0x%08x would get 0x%02x: lock "
					       "bytes must only hold 0x00 or 0xFF (RM0090 3.8)",
					       i, a, w);
		} else if (l && a >= l->base && a < data_end) {
			uint32_t i = (a - l->base) / l->block_size;

			plan->blocks_written |= 1u << i;
			if ((plan->blocks_locked_before & (1u << i)) && r == 0)
				r = otp_refuse(
				    e, a, "dfuse.otp_locked",
				    "a locked OTP block can never change; use another block",
				    "OTP block %u is locked (lock byte 0x%08x holds 0x00): 0x%08x "
				    "holds 0x%02x and cannot become 0x%02x",
				    i, l->lock_base + i, a, c, w);
		}
		if ((w & (uint8_t)~c) && r == 0)
			r = otp_refuse(e, a, "dfuse.otp_zero_to_one",
				       "OTP bits can only go from 1 to 0; the image does not "
				       "match what the device holds",
				       "0x%08x holds 0x%02x: writing 0x%02x would need bits to go "
				       "from 0 to 1, and OTP memory is never erased",
				       a, c, w);
	}
	return r;
}

static int append(char *buf, size_t len, size_t *used, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int append(char *buf, size_t len, size_t *used, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(*used < len ? buf + *used : NULL, *used < len ? len - *used : 0, fmt, ap);
	va_end(ap);
	if (n > 0)
		*used += (size_t)n;
	return n;
}

int dfu_otp_plan_describe(const struct dfu_otp_layout *l, const struct dfu_otp_plan *plan,
			  char *buf, size_t len)
{
	size_t used = 0;
	const char *sep = "";

	if (len)
		buf[0] = '\0';
	if (!l) {
		append(buf, len, &used, "%u OTP bytes from 0x%08x", plan->bytes_changed,
		       plan->first_change);
		return (int)used;
	}
	for (uint32_t i = 0; i < l->n_blocks; i++) {
		if (!(plan->blocks_written & (1u << i)))
			continue;
		append(buf, len, &used, "%sblock %u (0x%08x..0x%08x)", sep, i,
		       l->base + i * l->block_size, l->base + (i + 1) * l->block_size - 1);
		sep = ", ";
	}
	for (uint32_t i = 0; i < l->n_blocks; i++) {
		if (!(plan->locks_written & (1u << i)))
			continue;
		append(buf, len, &used, "%slock byte %u (0x%08x: locks block %u for good)", sep, i,
		       l->lock_base + i, i);
		sep = ", ";
	}
	if (!used)
		append(buf, len, &used, "nothing (the device already holds these bytes)");
	return (int)used;
}
