// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * STM32 option bytes as the DfuSe "Option Bytes" alt shows them: a pure
 * decoder per family, identified by the alt's base address and length.
 * (Reading them back after a write: protect.c.)
 *
 *   F2/F4  RM0090 3.6: 0x1FFFC000 USER, 0x1FFFC001 RDP, +2/+3 their
 *          complements, 0x1FFFC008/9 nWRP[11:0] (bit 7 of +9: SPRMOD on
 *          F401/F411/F42x/F446), +10/+11 complements.
 *   L4/G4  RM0351 / RM0440: 0x1FFF7800 FLASH_OPTR (64-bit pairs: value,
 *          complement), +0x18 WRP1AR, +0x20 WRP1BR (page ranges).
 *   F0/F1  RM0008 / RM0091: 0x1FFFF800 RDP, nRDP, USER, nUSER, DATA0/1,
 *          WRP0..3, each followed by its complement.
 */

#include "config.h"

#include <stdio.h>
#include <string.h>

#include "macro.h"
#include "protect.h"
#include "util.h"

#define OB_F2F4_BASE 0x1FFFC000u
#define OB_L4G4_BASE 0x1FFF7800u
#define OB_F0F1_BASE 0x1FFFF800u

static int rdp_level(uint8_t v, uint8_t level0)
{
	if (v == level0)
		return 0;
	return v == 0xCC ? 2 : 1;
}

static void check_complement(struct dfu_option_bytes *ob, const uint8_t *d, size_t a, size_t b)
{
	unsigned sum = (unsigned)d[a] + (unsigned)d[b];

	if (!ob->complement_error && sum != 0xffu) {
		ob->complement_error = true;
		ob->complement_at = ob->base + (uint32_t)b;
	}
}

static void decode_f2f4(struct dfu_option_bytes *ob, const uint8_t *d, unsigned flash_sectors)
{
	static const char *const bor[] = {
		"level 3 (reset below 2.70-3.60 V)",
		"level 2 (reset below 2.40-2.70 V)",
		"level 1 (reset below 2.10-2.40 V)",
		"off (reset below 1.80-2.10 V)",
	};
	uint8_t user = d[0];
	uint16_t nwrp = (uint16_t)(d[8] | (d[9] & 0x0f) << 8);

	ob->family_name = "STM32F2/F4";
	ob->have_rdp = true;
	ob->rdp_raw = d[1];
	ob->rdp_level = rdp_level(d[1], 0xAA);
	ob->have_bor = true;
	/* BOR_LEV bits 3:2: 11 = off, 10 = level 1, 01 = level 2, 00 = level 3 */
	ob->bor_level = 3 - ((user >> 2) & 3);
	ob->bor_text = bor[(user >> 2) & 3];
	ob->have_user = true;
	ob->wdg_sw = user & 0x20;
	ob->nrst_stop = user & 0x40;
	ob->nrst_stdby = user & 0x80;
	ob->have_wrp = true;
	ob->pcrop_mode = d[9] & 0x80;
	ob->wrp_bits = flash_sectors && flash_sectors < 12 ? flash_sectors : 12;
	/* nWRP: 0 = write-protected; with SPRMOD a 1 selects PCROP instead */
	ob->wrp_mask = (ob->pcrop_mode ? nwrp : (uint16_t)~nwrp) & ((1u << ob->wrp_bits) - 1);
	if (flash_sectors > 12)
		snprintf(ob->boot, sizeof(ob->boot), "BOOT0/BOOT1 pins; BFB2 (boot from bank 2) %s",
			 user & 0x10 ? "on" : "off");
	else
		snprintf(ob->boot, sizeof(ob->boot),
			 "BOOT0/BOOT1 pins (no boot option bytes on this family)");
	check_complement(ob, d, 0, 2);
	check_complement(ob, d, 1, 3);
	check_complement(ob, d, 8, 10);
	check_complement(ob, d, 9, 11);
}

static void wrp_range(struct dfu_option_bytes *ob, const uint8_t *d)
{
	/* WRPxAR: STRT in bits 7:0, END in bits 23:16; STRT > END: no area */
	uint32_t first = d[0], last = d[2];

	if (first <= last && ob->n_wrp_ranges < 2) {
		ob->wrp_first[ob->n_wrp_ranges] = first;
		ob->wrp_last[ob->n_wrp_ranges] = last;
		ob->n_wrp_ranges++;
	}
}

static void decode_l4g4(struct dfu_option_bytes *ob, const uint8_t *d, size_t len)
{
	static const char *const bor[] = {
		"level 0 (reset below 1.7 V)", "level 1 (reset below 2.0 V)",
		"level 2 (reset below 2.2 V)", "level 3 (reset below 2.5 V)",
		"level 4 (reset below 2.8 V)",
	};
	uint32_t optr = le32_get(d);
	unsigned lev = (optr >> 8) & 7;

	ob->family_name = len >= 48 ? "STM32G4" : "STM32L4";
	ob->have_rdp = true;
	ob->rdp_raw = (uint8_t)optr;
	ob->rdp_level = rdp_level((uint8_t)optr, 0xAA);
	ob->have_bor = true;
	ob->bor_level = (int)lev;
	ob->bor_text = lev < ARRAY_SIZE(bor) ? bor[lev] : "reserved value";
	ob->have_user = true;
	ob->nrst_stop = optr & (1u << 12);
	ob->nrst_stdby = optr & (1u << 13);
	ob->wdg_sw = optr & (1u << 16); /* IWDG_SW */
	if (optr & (1u << 26))
		snprintf(ob->boot, sizeof(ob->boot), "BOOT0 pin; nBOOT1 = %u", (optr >> 23) & 1);
	else
		snprintf(ob->boot, sizeof(ob->boot),
			 "BOOT0 from the option bit nBOOT0 = %u (pin ignored); nBOOT1 = %u",
			 (optr >> 27) & 1, (optr >> 23) & 1);
	ob->have_wrp = true;
	wrp_range(ob, d + 0x18);
	wrp_range(ob, d + 0x20);
}

static void decode_f0f1(struct dfu_option_bytes *ob, const uint8_t *d)
{
	uint8_t user = d[2];

	ob->family_name = "STM32F0/F1/F3";
	ob->have_rdp = true;
	ob->rdp_raw = d[0];
	/* F1: 0xA5 = level 0; F0/F3: 0xAA = level 0, 0xCC = level 2 */
	ob->rdp_level = d[0] == 0xA5 ? 0 : rdp_level(d[0], 0xAA);
	ob->have_user = true;
	ob->wdg_sw = user & 0x01;
	ob->nrst_stop = user & 0x02;
	ob->nrst_stdby = user & 0x04;
	ob->have_wrp = true;
	ob->wrp_bits = 32;
	ob->wrp_mask = ~(uint32_t)(d[8] | d[10] << 8 | d[12] << 16 | (uint32_t)d[14] << 24);
	snprintf(ob->boot, sizeof(ob->boot), "BOOT0 pin; nBOOT1 = %u (F0/F3; BOOT1 pin on F1)",
		 (user >> 4) & 1);
	for (size_t i = 0; i < 16; i += 2)
		check_complement(ob, d, i, i + 1);
}

int dfu_option_bytes_decode(uint32_t base, const uint8_t *data, size_t len, unsigned flash_sectors,
			    struct dfu_option_bytes *out, struct dfu_error *e)
{
	memset(out, 0, sizeof(*out));
	out->base = base;
	out->len = len;
	out->family_name = "unknown";
	out->rdp_level = -1;
	out->bor_level = -1;
	if (base == OB_F2F4_BASE && len >= 16) {
		out->family = DFU_OB_F2F4;
		decode_f2f4(out, data, flash_sectors);
	} else if (base == OB_L4G4_BASE && len >= 40) {
		out->family = DFU_OB_L4G4;
		decode_l4g4(out, data, len);
	} else if (base == OB_F0F1_BASE && len >= 16) {
		out->family = DFU_OB_F0F1;
		decode_f0f1(out, data);
	} else {
		dfu_error_set(e, DFU_E_UNSUPPORTED, "optbytes.unknown_layout", NULL,
			      "no decoder for %zu option bytes at 0x%08x", len, base);
		dfu_error_hint(e, "known layouts: STM32F2/F4 (0x1FFFC000), L4/G4 (0x1FFF7800), "
				  "F0/F1/F3 (0x1FFFF800); the raw bytes are still shown");
		return DFU_E_UNSUPPORTED;
	}
	return 0;
}

int dfu_option_bytes_rdp_of(uint32_t base, const uint8_t *data, size_t len)
{
	struct dfu_option_bytes ob;

	if (dfu_option_bytes_decode(base, data, len, 0, &ob, NULL) < 0 || !ob.have_rdp)
		return -1;
	return ob.rdp_level;
}
