// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The Cortex-M vector table at the start of an image: initial SP (word 0) and
 * reset vector (word 4), with a plausibility verdict.  The leave/jump code
 * relies on it to pick the address a ROM bootloader jumps to.
 */
#include "config.h"

#include <string.h>

#include "image.h"
#include "macro.h"
#include "util.h"

/* ARMv7-M/ARMv8-M memory map (ARM DDI 0403, B3.1): SRAM region plus the
 * CCM/TCM alias at 0x10000000, and the external RAM region where i.MX RT
 * boards put SDRAM. */
static const struct dfu_ram_range default_ram[] = {
	{ 0x10000000u, 0x3fffffffu },
	{ 0x60000000u, 0x9fffffffu },
};

const char *dfu_vt_verdict_str(enum dfu_vt_verdict v)
{
	switch (v) {
	case DFU_VT_PLAUSIBLE:
		return "plausible";
	case DFU_VT_NO_DATA:
		return "no vector table: fewer than 8 bytes at the base address";
	case DFU_VT_ERASED:
		return "erased: SP or reset vector is 0xffffffff";
	case DFU_VT_SP_UNALIGNED:
		return "initial SP is not 4-byte aligned";
	case DFU_VT_SP_NOT_RAM:
		return "initial SP does not point into RAM";
	case DFU_VT_PC_NOT_THUMB:
		return "reset vector is even (no Thumb bit)";
	case DFU_VT_PC_OUTSIDE:
		return "reset vector points outside the image";
	}
	return "unknown";
}

static bool in_ram(uint32_t sp, const struct dfu_ram_range *ram, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (sp >= ram[i].low && sp <= ram[i].high_incl)
			return true;
	return false;
}

/* The alt and address a vector table is read at when the caller gives none. */
static bool default_base(const struct dfu_image *img, int *alt, uint32_t *base)
{
	if (img->n_segments == 0)
		return false;
	if (img->format == DFU_FORMAT_ELF && img->elf.have_section_base) {
		*alt = img->segments[0].alt;
		*base = img->elf.section_base;
		return true;
	}
	/* Segments are sorted by (alt, address): alt 0 (DfuSe) or the only alt
	 * comes first, unless the DfuSe file has no alt 0. */
	for (size_t i = 0; i < img->n_segments; i++) {
		if (img->segments[i].alt == 0) {
			*alt = 0;
			*base = img->segments[i].address;
			return true;
		}
	}
	*alt = img->segments[0].alt;
	*base = img->segments[0].address;
	return true;
}

int dfu_image_vector_table(const struct dfu_image *img, bool have_base, uint32_t base,
			   const struct dfu_ram_range *ram, size_t n_ram,
			   struct dfu_vector_table *vt)
{
	uint8_t words[8];
	int alt;
	uint32_t pc;

	memset(vt, 0, sizeof(*vt));
	if (!default_base(img, &alt, &vt->address))
		return DFU_E_NOTFOUND;
	if (have_base)
		vt->address = base;
	if (!ram || n_ram == 0) {
		ram = default_ram;
		n_ram = ARRAY_SIZE(default_ram);
	}
	if ((uint64_t)vt->address + 8 > (UINT64_C(1) << 32) ||
	    dfu_image_read(img, alt, vt->address, words, sizeof(words), 0xff) < sizeof(words)) {
		vt->verdict = DFU_VT_NO_DATA;
		return 0;
	}
	vt->initial_sp = le32_get(words);
	vt->reset_vector = le32_get(words + 4);
	vt->thumb = vt->reset_vector & 1;
	pc = vt->reset_vector & ~1u;
	vt->reset_in_image = dfu_image_find(img, alt, pc) != NULL;

	if (vt->initial_sp == 0xffffffffu || vt->reset_vector == 0xffffffffu)
		vt->verdict = DFU_VT_ERASED;
	else if (vt->initial_sp & 3)
		vt->verdict = DFU_VT_SP_UNALIGNED;
	else if (!in_ram(vt->initial_sp, ram, n_ram))
		vt->verdict = DFU_VT_SP_NOT_RAM;
	else if (!vt->thumb)
		vt->verdict = DFU_VT_PC_NOT_THUMB;
	else if (!vt->reset_in_image)
		vt->verdict = DFU_VT_PC_OUTSIDE;
	else
		vt->verdict = DFU_VT_PLAUSIBLE;
	return 0;
}
