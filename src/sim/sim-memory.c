// SPDX-License-Identifier: GPL-2.0-or-later
/* Memory regions of the simulated device: erase, the per-family programming rules of the
 * reference manuals (F2/F4: bytes AND-ed in, RM0090; F1 and alike: erased half-words only,
 * RM0008; L4/G0/G4, H7, U5: an ECC word is programmed once after erase, RM0351, RM0433),
 * write protection and the datasheet durations.  [inf] marks a value inferred rather
 * than read in a datasheet or a log. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "sim-memory.h"

static enum sim_prog_rule flash_rule(enum sim_family f, unsigned *unit, bool *zero_ok)
{
	*zero_ok = false;
	switch (f) {
	case SIM_FAM_F1:
		*unit = 2;
		return SIM_PROG_HALFWORD;
	case SIM_FAM_L4:
	case SIM_FAM_G0:
		/* RM0351 PROGERR: a double word is programmed once, except with all zeros */
		*unit = 8;
		*zero_ok = true;
		return SIM_PROG_ONCE;
	case SIM_FAM_H7:
		*unit = 32;
		return SIM_PROG_ONCE;
	case SIM_FAM_U5:
		*unit = 16;
		return SIM_PROG_ONCE;
	case SIM_FAM_F4:
	case SIM_FAM_GENERIC:
	default:
		*unit = 1;
		return SIM_PROG_AND;
	}
}

static int region_init(struct sim_region *r, const struct sim_group *g, const struct sim_profile *p)
{
	size_t n = 0;
	uint32_t at = g->address;

	r->kind = g->kind;
	r->base = g->address;
	r->size = sim_group_size(g);
	r->unit = 1;
	switch (g->kind) {
	case SIM_REGION_FLASH:
		r->rule = flash_rule(p->family, &r->unit, &r->zero_overwrite);
		break;
	case SIM_REGION_OTP:
		/* F2/F4 OTP: byte-wise 1->0 (RM0090 §3.8); L4/G4 OTP: double words [inf] */
		if (p->otp_lock_bytes) {
			r->rule = SIM_PROG_AND;
		} else {
			r->rule = SIM_PROG_ONCE;
			r->unit = 8;
		}
		break;
	case SIM_REGION_FEATURE:
		r->rule = SIM_PROG_IGNORE;
		break;
	default:
		r->rule = SIM_PROG_COPY;
		break;
	}
	r->data = malloc(r->size ? r->size : 1);
	if (!r->data)
		return -ENOMEM;
	memset(r->data, g->kind == SIM_REGION_RAM || g->kind == SIM_REGION_SYSTEM ? 0x00 : 0xFF,
	       r->size);
	if (g->kind == SIM_REGION_OPTION && p->ob_default && g->address == p->ob_base)
		memcpy(r->data, p->ob_default, r->size);
	if (r->rule == SIM_PROG_ONCE) {
		r->programmed = calloc(r->size / r->unit / 8 + 1, 1);
		if (!r->programmed)
			return -ENOMEM;
	}
	for (unsigned i = 0; i < g->n_runs; i++)
		n += g->runs[i].count;
	r->sectors = calloc(n, sizeof(*r->sectors));
	if (!r->sectors)
		return -ENOMEM;
	for (unsigned i = 0; i < g->n_runs; i++) {
		const struct sim_run *run = &g->runs[i];

		for (unsigned k = 0; k < run->count; k++) {
			struct sim_sector *s = &r->sectors[r->n_sectors++];

			s->start = at;
			s->size = sim_run_unit(run);
			s->attr = (uint8_t)(run->type - 'a' + 1);
			at += s->size;
		}
	}
	return 0;
}

int sim_memory_init(struct sim_memory *m, const struct sim_profile *p)
{
	m->regions = calloc(p->n_memory, sizeof(*m->regions));
	m->n = 0;
	if (!m->regions)
		return -ENOMEM;
	for (unsigned i = 0; i < p->n_memory; i++) {
		int r = region_init(&m->regions[m->n++], p->memory[i], p);

		if (r < 0)
			return r;
	}
	return 0;
}

void sim_memory_fini(struct sim_memory *m)
{
	for (size_t i = 0; i < m->n; i++) {
		free(m->regions[i].data);
		free(m->regions[i].programmed);
		free(m->regions[i].sectors);
	}
	free(m->regions);
	m->regions = NULL;
	m->n = 0;
}

struct sim_region *sim_memory_find(struct sim_memory *m, uint32_t addr, size_t len)
{
	uint64_t end = (uint64_t)addr + (len ? len : 1);

	for (size_t i = 0; i < m->n; i++) {
		struct sim_region *r = &m->regions[i];

		if (addr >= r->base && end <= (uint64_t)r->base + r->size)
			return r;
	}
	return NULL;
}

struct sim_sector *sim_region_sector(struct sim_region *r, uint32_t addr)
{
	for (size_t i = 0; i < r->n_sectors; i++)
		if (addr >= r->sectors[i].start && addr - r->sectors[i].start < r->sectors[i].size)
			return &r->sectors[i];
	return NULL;
}

bool sim_region_allows(struct sim_region *r, uint32_t addr, size_t len, uint8_t attr)
{
	uint64_t end = (uint64_t)addr + (len ? len : 1);

	for (size_t i = 0; i < r->n_sectors; i++) {
		const struct sim_sector *s = &r->sectors[i];

		if ((uint64_t)s->start + s->size <= addr || s->start >= end)
			continue;
		if ((s->attr & attr) != attr)
			return false;
	}
	return true;
}

static void mark_units(struct sim_region *r, uint32_t off, uint32_t len, bool set)
{
	if (!r->programmed)
		return;
	for (uint32_t u = off / r->unit; u < (off + len) / r->unit; u++) {
		if (set)
			r->programmed[u / 8] |= (uint8_t)(1u << (u % 8));
		else
			r->programmed[u / 8] &= (uint8_t) ~(1u << (u % 8));
	}
}

static bool unit_programmed(const struct sim_region *r, uint32_t u)
{
	return r->programmed[u / 8] & (1u << (u % 8));
}

void sim_region_erase(struct sim_region *r, struct sim_sector *s)
{
	if (s->wrp)
		return;
	memset(r->data + (s->start - r->base), 0xFF, s->size);
	mark_units(r, s->start - r->base, s->size, false);
}

bool sim_region_is_erased(const struct sim_region *r, uint32_t addr, size_t len)
{
	const uint8_t *p = r->data + (addr - r->base);

	for (size_t i = 0; i < len; i++)
		if (p[i] != 0xFF)
			return false;
	return true;
}

/* Program one unit at region offset @uoff; @img holds the unit's new bytes with 0xFF
 * where the write does not reach (the ROM pads partial words with 0xFF). */
static int program_unit(struct sim_region *r, uint32_t uoff, const uint8_t *img)
{
	uint8_t *cell = r->data + uoff;
	bool all_ff = true, all_zero = true;

	for (unsigned i = 0; i < r->unit; i++) {
		all_ff &= img[i] == 0xFF;
		all_zero &= img[i] == 0x00;
	}
	switch (r->rule) {
	case SIM_PROG_HALFWORD: {
		/* RM0008 PGERR: the target half-word must read 0xFFFF unless writing 0x0000 */
		bool erased = cell[0] == 0xFF && cell[1] == 0xFF;

		if (all_ff)
			return 0;
		if (!erased && !all_zero)
			return -EPERM;
		cell[0] &= img[0];
		cell[1] &= img[1];
		return 0;
	}
	case SIM_PROG_ONCE:
		/* ECC word: once after erase, padded with 0xFF by the writer (RM0351, RM0433) */
		if (unit_programmed(r, uoff / r->unit) && !(r->zero_overwrite && all_zero))
			return -EPERM;
		for (unsigned i = 0; i < r->unit; i++)
			cell[i] &= img[i];
		mark_units(r, uoff, r->unit, true);
		return 0;
	default:
		for (unsigned i = 0; i < r->unit; i++)
			cell[i] &= img[i];
		return 0;
	}
}

int sim_region_program(struct sim_region *r, uint32_t addr, const uint8_t *data, size_t len)
{
	uint32_t off = addr - r->base;

	if (r->rule == SIM_PROG_IGNORE)
		return 0;
	if (r->rule == SIM_PROG_COPY) {
		memcpy(r->data + off, data, len);
		return 0;
	}
	for (uint32_t u = off - off % r->unit; u < off + len; u += r->unit) {
		uint8_t img[32];
		const struct sim_sector *s = sim_region_sector(r, r->base + u);

		if (s && s->wrp)
			continue; /* AN2662: write-protected sectors are left unchanged, no error */
		for (unsigned i = 0; i < r->unit; i++) {
			uint32_t at = u + i;

			img[i] = at >= off && at < off + len ? data[at - off] : 0xFF;
		}
		if (program_unit(r, u, img) < 0)
			return -EPERM;
	}
	return 0;
}

/* Typical datasheet values: F2/F4 at x32 and 2.7-3.6 V (DS8626: 16 KB 250 ms, 64 KB
 * 550 ms, 128 KB 1 s), H743 about 1.1 s per 128 KB sector (an ST reply on the ST community
 * forum), L4 about 22 ms per page (24.5 ms max in the STM32L496 datasheet), F1 20-40 ms
 * per page; G0 and U5 reuse L4's value [inf]. */
uint64_t sim_family_erase_us(enum sim_family f, uint32_t sector_size)
{
	switch (f) {
	case SIM_FAM_F4:
		if (sector_size <= 16 * 1024)
			return 250000;
		if (sector_size <= 64 * 1024)
			return 550000;
		return 1000000ull * (sector_size / (128 * 1024));
	case SIM_FAM_H7:
		return 1100000;
	case SIM_FAM_L4:
	case SIM_FAM_G0:
	case SIM_FAM_U5:
		return 22000;
	case SIM_FAM_F1:
	case SIM_FAM_GENERIC:
	default:
		return 20000;
	}
}

uint64_t sim_family_mass_erase_us(enum sim_family f)
{
	switch (f) {
	case SIM_FAM_F4:
		return 8000000; /* 8 s typical, 16 s max at x32 */
	case SIM_FAM_H7:
		return 4400000; /* two banks, "several seconds per bank" [inf] */
	case SIM_FAM_L4:
	case SIM_FAM_G0:
	case SIM_FAM_U5:
		return 22000;
	default:
		return 20000;
	}
}

uint64_t sim_family_program_us(enum sim_family f, size_t bytes)
{
	switch (f) {
	case SIM_FAM_F4:
	case SIM_FAM_GENERIC:
		return (bytes + 3) / 4 * 16; /* 16 µs per word */
	case SIM_FAM_F1:
		return (bytes + 1) / 2 * 52; /* 40-70 µs per half-word */
	case SIM_FAM_L4:
		return (bytes + 7) / 8 * 85;
	case SIM_FAM_G0:
		return (bytes + 7) / 8 * 100;
	case SIM_FAM_H7:
		return (bytes + 31) / 32 * 40; /* "tens of µs" per flash word [inf] */
	case SIM_FAM_U5:
	default:
		return (bytes + 15) / 16 * 100;
	}
}
