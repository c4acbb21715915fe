// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * OTP areas: their layout per family, the rules that refuse a write before
 * anything is sent (a 0->1 change, a locked block), and the plan's description.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "macro.h"
#include "protect.h"

static const struct dfu_otp_layout otp_layouts[] = {
	/* RM0090 3.8: 16 x 32 bytes, lock bytes at 0x1FFF7A00 */
	{ "STM32F2/F4", 0x1FFF7800, 32, 16, 0x1FFF7A00 },
	/* RM0385: 16 x 64 bytes, lock bytes at 0x1FF0F400 */
	{ "STM32F7", 0x1FF0F000, 64, 16, 0x1FF0F400 },
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
		dfu_error_device_at(e, "OTP check (nothing written)", -1, address);
		dfu_error_hint(e, hint);
	}
	return DFU_E_MEMMAP;
}

int dfu_otp_check(const struct dfu_otp_layout *l, uint32_t address, const uint8_t *cur, size_t len,
		  const struct dfu_image *img, int alt, struct dfu_otp_plan *plan,
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
