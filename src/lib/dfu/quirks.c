// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Per-device deviations from DFU 1.1 / AN3156 (one table, one reason per
 * entry) and the flash timings the protocol derives its deadlines from.
 * Pure: looks only at the identity and layout of an alt setting.
 */
#include "config.h"

#include <string.h>

#include "macro.h"
#include "proto.h"

/* Layout predicates keyed on the memory map of the alt (the interface strings
 * of the ST ROMs, as `dfu-util -l` lists them). */
enum layout_match {
	LAYOUT_ANY = 0,
	/* Internal flash at 0x08000000 made only of 128 KiB sectors: STM32H743/H753
	 * ("16*128Kg"), H750 ("01*128Kg" / "8*128Kg"), H745/H755.  No F2/F4/F7 has
	 * this (their first sectors are 16 or 32 KiB). */
	LAYOUT_H7_128K,
	/* Internal flash at 0x08000000 starting with 16 or 32 KiB sectors: the
	 * F2/F4/F7 sector flash with 8-32 s mass erase (RM0090, 3.4). */
	LAYOUT_F4_SECTORS,
	/* Internal flash at 0x08000000 made of 8 KiB pages: STM32U5 (and H7A3/B3,
	 * which nobody reported skipping dfuDNBUSY; the bit is informational). */
	LAYOUT_8K_PAGES,
};

struct quirk_entry {
	uint16_t vid;
	uint16_t pid_first, pid_last;
	int32_t bcd_device; /* -1 = any */
	enum layout_match layout;
	uint32_t quirks;
	const char *reason;
};

static const struct quirk_entry quirk_table[] = {
	/* STM32H7 ROM (bcdDevice 0x0200): "jump to application works with addresses
	 * 0x8008ACC or 0x8000123", i.e. the leave pointer is the entry PC, not a
	 * vector table (ST community "STM32H7 is stucked in system bootloader ...";
	 * ST community "Leaving DFU from command line not working": an H753 leaves
	 * with its reset handler's address 0x0800ba65, not with 0x08000000). */
	{ 0x0483, 0xdf11, 0xdf11, 0x0200, LAYOUT_H7_128K, DFU_QUIRK_JUMP_TO_RESET_VECTOR,
	  "STM32H7 ROM jumps to the Address Pointer as code" },
	/* STM32F405 ROM announces 100 ms for a mass erase taking 16-32 s (dfu-util:
	 * "STM32F405 lies about mass erase timeout"); the same sector flash on
	 * F2/F4/F7, so key on the layout rather than on one part. */
	{ 0x0483, 0xdf11, 0xdf11, -1, LAYOUT_F4_SECTORS, DFU_QUIRK_MASS_ERASE_SLOW,
	  "F2/F4/F7 mass erase takes up to 32 s, the ROM announces 100 ms" },
	/* STM32U5 ROM answers the first GET_STATUS after a DfuSe command with
	 * dfuDNLOAD-IDLE (dfu-util commit "dfuse: Allow direct transition to
	 * DNLOAD_IDLE on special command", SourceForge ticket 145). */
	{ 0x0483, 0xdf11, 0xdf11, 0x0200, LAYOUT_8K_PAGES, DFU_QUIRK_SKIPS_DNBUSY,
	  "STM32U5 ROM skips dfuDNBUSY after DfuSe commands" },
	/* GigaDevice GD32VF103: "The device might leave after this request, with
	 * or without a response" (dfu-util QUIRK_DFUSE_LEAVE); RISC-V, so the
	 * image has no Cortex-M vector table and the ROM resets into flash. */
	{ 0x28e9, 0x0189, 0x0189, -1, LAYOUT_ANY,
	  DFU_QUIRK_LEAVE_IGNORE_ERRORS | DFU_QUIRK_NO_VECTOR_TABLE,
	  "GD32VF103 resets on the leave request; RISC-V image" },
	/* Particle Photon/P1/Electron DFU bootloaders (2b04:d006, d008, d00a) boot
	 * the system and user modules by their own table after leave; user parts
	 * (e.g. tinker.bin at 0x080a0000) have no vector table at their start, and
	 * `dfu-util -d 2b04:d006 -a 0 -s 0x80A0000:leave -D tinker.bin` is how
	 * Particle's docs flash them. */
	{ 0x2b04, 0xd006, 0xd00a, -1, LAYOUT_ANY, DFU_QUIRK_LEAVE_IGNORES_ADDRESS,
	  "Particle bootloader starts the firmware itself after leave" },
	/* dfu-util quirks.c: "Device returns bogus bwPollTimeout values". */
	{ 0x1d50, 0x5117, 0x5126, -1, LAYOUT_ANY, DFU_QUIRK_POLL_TIMEOUT_BOGUS,
	  "Openmoko Freerunner: bogus bwPollTimeout" },
	{ 0x1457, 0x5117, 0x5126, -1, LAYOUT_ANY, DFU_QUIRK_POLL_TIMEOUT_BOGUS,
	  "Openmoko Freerunner (FIC ids): bogus bwPollTimeout" },
	{ 0x16c0, 0x076b, 0x076b, -1, LAYOUT_ANY, DFU_QUIRK_POLL_TIMEOUT_BOGUS,
	  "OpenPCD reader: bogus bwPollTimeout" },
	/* dfu-util: "old devices (bcdDevice == 0) return bogus bwPollTimeout values" */
	{ 0x0908, 0x02c4, 0x02c5, 0x0000, LAYOUT_ANY, DFU_QUIRK_POLL_TIMEOUT_BOGUS,
	  "Siemens PXM 40/50 with bcdDevice 0: bogus bwPollTimeout" },
	{ 0x0763, 0x2806, 0x2806, -1, LAYOUT_ANY, DFU_QUIRK_POLL_TIMEOUT_BOGUS,
	  "M-Audio Transit: bogus bwPollTimeout" },
};

/* The layout segment at 0x08000000 (ST internal flash), or NULL. */
static const struct dfuse_layout_segment *flash_at_base(const struct dfuse_layout *l)
{
	size_t i;

	if (!l || dfuse_layout_find_segment(l, 0x08000000u, &i) < 0)
		return NULL;
	return l->segments[i].start == 0x08000000u ? &l->segments[i] : NULL;
}

static bool layout_matches(const struct dfuse_layout *l, enum layout_match m)
{
	const struct dfuse_layout_segment *s = flash_at_base(l);

	switch (m) {
	case LAYOUT_ANY:
		return true;
	case LAYOUT_H7_128K:
		if (!s)
			return false;
		for (size_t i = 0; i < l->n_segments; i++)
			if (l->segments[i].start >= 0x08000000u &&
			    l->segments[i].start < 0x09000000u && l->segments[i].size != 128 * 1024)
				return false;
		return s->size == 128 * 1024;
	case LAYOUT_F4_SECTORS:
		return s && (s->size == 16 * 1024 || s->size == 32 * 1024);
	case LAYOUT_8K_PAGES:
		return s && s->size == 8 * 1024;
	}
	return false;
}

uint32_t dfu_quirks_for(const struct dfu_if_info *info)
{
	uint32_t q = 0;

	if (!info)
		return 0;
	for (size_t i = 0; i < ARRAY_SIZE(quirk_table); i++) {
		const struct quirk_entry *t = &quirk_table[i];

		if (info->vid != t->vid || info->pid < t->pid_first || info->pid > t->pid_last)
			continue;
		if (t->bcd_device >= 0 && info->bcd_device != (uint16_t)t->bcd_device)
			continue;
		if (!layout_matches(info->layout, t->layout))
			continue;
		q |= t->quirks;
	}
	return q;
}

const char *dfu_quirk_name(uint32_t bit)
{
	switch (bit) {
	case DFU_QUIRK_JUMP_TO_RESET_VECTOR:
		return "jump-to-reset-vector";
	case DFU_QUIRK_LEAVE_IGNORE_ERRORS:
		return "leave-ignore-errors";
	case DFU_QUIRK_SKIPS_DNBUSY:
		return "skips-dnbusy";
	case DFU_QUIRK_POLL_TIMEOUT_BOGUS:
		return "poll-timeout-bogus";
	case DFU_QUIRK_MASS_ERASE_SLOW:
		return "mass-erase-slow";
	case DFU_QUIRK_LEAVE_IGNORES_ADDRESS:
		return "leave-ignores-address";
	case DFU_QUIRK_NO_VECTOR_TABLE:
		return "no-vector-table";
	}
	return "unknown";
}

/*
 * Datasheet maximum erase time of one sector, by size, taking the slowest
 * family that uses that size: F2/F4 at x8 (16 KiB 800 ms, 64 KiB 2.4 s,
 * 128 KiB 4 s; RM0090, DS8626), F7 256 KiB 4 s at x32 (x8 assumed 8 s), H743
 * 128 KiB 2.2 s (ST's answer in "STM32H743 Flash EraseSector Reset Problem"),
 * L4/G4/G0 2 KiB 40 ms, F0/F1 1-2 KiB 40 ms.
 */
static uint32_t erase_max_ms(uint32_t size)
{
	if (size <= 2 * 1024)
		return 40;
	if (size <= 8 * 1024)
		return 200; /* U5 / H7A3 8 KiB pages [no datasheet value: guess] */
	if (size <= 16 * 1024)
		return 800;
	if (size <= 32 * 1024)
		return 1600;
	if (size <= 64 * 1024)
		return 2400;
	if (size <= 128 * 1024)
		return 4000;
	return 8000 * (uint32_t)((size + 256 * 1024 - 1) / (256 * 1024));
}

/* Margin over the datasheet maximum: busy USB stacks, a ROM that announces a
 * too short bwPollTimeout and is polled once more, slow hubs. */
#define DEADLINE_FACTOR 2u
#define DEADLINE_BASE_MS 2000u

uint32_t dfu_deadline_erase_ms(const struct dfu_dev *dev, uint32_t sector_size)
{
	(void)dev;
	return DEADLINE_BASE_MS + DEADLINE_FACTOR * erase_max_ms(sector_size);
}

uint32_t dfu_deadline_mass_erase_ms(const struct dfu_dev *dev)
{
	const struct dfuse_layout *l = dev ? dev->info.layout : NULL;
	uint64_t sum = 0;

	/* a mass erase takes about as long as erasing every sector (F4 x32: 8 s
	 * for 1 MiB, 16-32 s at x8); dfu-util assumes 35 s for the F405 */
	if (l)
		for (size_t i = 0; i < l->n_segments; i++)
			if (l->segments[i].attr & DFUSE_ATTR_ERASABLE)
				sum += (uint64_t)l->segments[i].count *
				       erase_max_ms(l->segments[i].size);
	if (dev && (dev->quirks & DFU_QUIRK_MASS_ERASE_SLOW) && sum < 35000)
		sum = 35000;
	if (sum < 10000)
		sum = 10000;
	if (sum > 600000)
		sum = 600000;
	return DEADLINE_BASE_MS + (uint32_t)sum;
}

uint32_t dfu_deadline_write_ms(const struct dfu_dev *dev, uint32_t len)
{
	(void)dev;
	/* F4 worst case 100 us per word; ECC families are faster per byte */
	return DFU_DEADLINE_COMMAND_MS + DEADLINE_FACTOR * ((len + 3) / 4 / 10);
}

bool dfu_quirk_fix_layout(const struct dfu_if_info *info, struct dfuse_layout *l)
{
	struct dfuse_layout_segment *s;
	uint32_t kib;

	if (!l || info->vid != 0x28e9 || info->pid != 0x0189 || l->n_segments == 0 ||
	    strlen(info->serial) < 3)
		return false;
	s = &l->segments[0];
	if (s->start != 0x08000000 || strcmp(l->name, "Internal Flash") != 0)
		return false;
	switch (info->serial[2]) {
	case '4':
		kib = 16;
		break;
	case '6':
		kib = 32;
		break;
	case '8':
		kib = 64;
		break;
	case 'B':
		kib = 128;
		break;
	default:
		return false;
	}
	s->size = 1024;
	s->count = kib;
	s->end = (uint64_t)s->start + kib * 1024u;
	return true;
}
