// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Per-device deviations from DFU 1.1 / AN3156 (one table, one reason per
 * entry, then the entries of quirk files), the polling a device's busy
 * behaviour allows, and the flash timings the protocol derives its deadlines
 * from.  Pure: looks only at the identity and layout of an alt setting.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "macro.h"
#include "proto.h"

struct quirk_entry {
	uint16_t vid;
	uint16_t pid_first, pid_last;
	int32_t bcd_device; /* -1 = any */
	enum dfu_quirk_layout layout;
	uint32_t quirks;
	enum dfu_busy busy; /* DFU_BUSY_UNKNOWN: the entry says nothing about it */
	const char *reason;
};

static const struct quirk_entry quirk_table[] = {
	/* STM32H7 ROM (bcdDevice 0x0200): "jump to application works with addresses
	 * 0x8008ACC or 0x8000123", i.e. the leave pointer is the entry PC, not a
	 * vector table (ST community "STM32H7 is stucked in system bootloader ...";
	 * ST community "Leaving DFU from command line not working": an H753 leaves
	 * with its reset handler's address 0x0800ba65, not with 0x08000000). */
	{ 0x0483, 0xdf11, 0xdf11, 0x0200, DFU_LAYOUT_H7_128K, DFU_QUIRK_JUMP_TO_RESET_VECTOR,
	  DFU_BUSY_UNKNOWN, "STM32H7 ROM jumps to the Address Pointer as code" },
	/* STM32F405 ROM announces 100 ms for a mass erase taking 16-32 s (dfu-util:
	 * "STM32F405 lies about mass erase timeout"); the same sector flash on
	 * F2/F4/F7, so key on the layout rather than on one part. */
	{ 0x0483, 0xdf11, 0xdf11, -1, DFU_LAYOUT_F4_SECTORS, DFU_QUIRK_MASS_ERASE_SLOW,
	  DFU_BUSY_UNKNOWN, "F2/F4/F7 mass erase takes up to 32 s, the ROM announces 100 ms" },
	/* The F2/F4/F7 ROM erases and programs inside the completion of the
	 * GET_STATUS that answered dfuDNBUSY, so the next request waits until the
	 * flash is done; pydfu sends that GET_STATUS at once and works on F4. */
	{ 0x0483, 0xdf11, 0xdf11, -1, DFU_LAYOUT_F4_SECTORS, 0, DFU_BUSY_NAK,
	  "F2/F4/F7 ROM holds GET_STATUS until the flash operation ends" },
	/* The H7 ROM works the same way; erases in bank 2 may answer dfuDNBUSY
	 * again (betaflight-configurator PR 1861), which the poll loop handles. */
	{ 0x0483, 0xdf11, 0xdf11, 0x0200, DFU_LAYOUT_H7_128K, 0, DFU_BUSY_NAK,
	  "STM32H7 ROM holds GET_STATUS until the flash operation ends" },
	/* STM32F072 and L4 ROMs stall a GET_STATUS sent before the erase or write
	 * ends (dfu-util's L4 workaround; openmv issue 1508: pydfu fails with a
	 * pipe error on an F072).  Polled as announced; the entry names why. */
	{ 0x0483, 0xdf11, 0xdf11, 0x2200, DFU_LAYOUT_SMALL_PAGES, 0, DFU_BUSY_STALL,
	  "STM32F072/L4 ROM stalls GET_STATUS polled before the flash is done" },
	/* STM32U5 ROM answers the first GET_STATUS after a DfuSe command with
	 * dfuDNLOAD-IDLE (dfu-util commit "dfuse: Allow direct transition to
	 * DNLOAD_IDLE on special command", SourceForge ticket 145). */
	{ 0x0483, 0xdf11, 0xdf11, 0x0200, DFU_LAYOUT_8K_PAGES, DFU_QUIRK_SKIPS_DNBUSY,
	  DFU_BUSY_UNKNOWN, "STM32U5 ROM skips dfuDNBUSY after DfuSe commands" },
	/* GigaDevice GD32VF103: "The device might leave after this request, with
	 * or without a response" (dfu-util QUIRK_DFUSE_LEAVE); RISC-V, so the
	 * image has no Cortex-M vector table and the ROM resets into flash. */
	{ 0x28e9, 0x0189, 0x0189, -1, DFU_LAYOUT_ANY,
	  DFU_QUIRK_LEAVE_IGNORE_ERRORS | DFU_QUIRK_NO_VECTOR_TABLE, DFU_BUSY_UNKNOWN,
	  "GD32VF103 resets on the leave request; RISC-V image" },
	/* Its serial string is UTF-8 (dfu-util QUIRK_UTF8_SERIAL), and its layout
	 * claims 2 KiB pages where the flash has 1 KiB ones (QUIRK_DFUSE_LAYOUT). */
	{ 0x28e9, 0x0189, 0x0189, -1, DFU_LAYOUT_ANY,
	  DFU_QUIRK_UTF8_SERIAL | DFU_QUIRK_LAYOUT_FROM_SERIAL, DFU_BUSY_UNKNOWN,
	  "GD32VF103: UTF-8 serial, 1 KiB pages sized by the serial number" },
	/* Particle Photon/P1/Electron DFU bootloaders (2b04:d006, d008, d00a) boot
	 * the system and user modules by their own table after leave; user parts
	 * (e.g. tinker.bin at 0x080a0000) have no vector table at their start, and
	 * `dfu-util -d 2b04:d006 -a 0 -s 0x80A0000:leave -D tinker.bin` is how
	 * Particle's docs flash them. */
	{ 0x2b04, 0xd006, 0xd00a, -1, DFU_LAYOUT_ANY, DFU_QUIRK_LEAVE_IGNORES_ADDRESS,
	  DFU_BUSY_UNKNOWN, "Particle bootloader starts the firmware itself after leave" },
	/* dfu-util quirks.c: "Device returns bogus bwPollTimeout values". */
	{ 0x1d50, 0x5117, 0x5126, -1, DFU_LAYOUT_ANY, DFU_QUIRK_POLL_TIMEOUT_BOGUS,
	  DFU_BUSY_UNKNOWN, "Openmoko Freerunner: bogus bwPollTimeout" },
	{ 0x1457, 0x5117, 0x5126, -1, DFU_LAYOUT_ANY, DFU_QUIRK_POLL_TIMEOUT_BOGUS,
	  DFU_BUSY_UNKNOWN, "Openmoko Freerunner (FIC ids): bogus bwPollTimeout" },
	{ 0x16c0, 0x076b, 0x076b, -1, DFU_LAYOUT_ANY, DFU_QUIRK_POLL_TIMEOUT_BOGUS,
	  DFU_BUSY_UNKNOWN, "OpenPCD reader: bogus bwPollTimeout" },
	/* dfu-util: "old devices (bcdDevice == 0) return bogus bwPollTimeout values" */
	{ 0x0908, 0x02c4, 0x02c5, 0x0000, DFU_LAYOUT_ANY, DFU_QUIRK_POLL_TIMEOUT_BOGUS,
	  DFU_BUSY_UNKNOWN, "Siemens PXM 40/50 with bcdDevice 0: bogus bwPollTimeout" },
	{ 0x0763, 0x2806, 0x2806, -1, DFU_LAYOUT_ANY, DFU_QUIRK_POLL_TIMEOUT_BOGUS,
	  DFU_BUSY_UNKNOWN, "M-Audio Transit: bogus bwPollTimeout" },
};

/* The layout segment at 0x08000000 (ST internal flash), or NULL. */
static const struct dfuse_layout_segment *flash_at_base(const struct dfuse_layout *l)
{
	size_t i;

	if (!l || dfuse_layout_find_segment(l, 0x08000000u, &i) < 0)
		return NULL;
	return l->segments[i].start == 0x08000000u ? &l->segments[i] : NULL;
}

bool dfu_quirk_layout_matches(const struct dfuse_layout *l, enum dfu_quirk_layout m)
{
	const struct dfuse_layout_segment *s = flash_at_base(l);

	switch (m) {
	case DFU_LAYOUT_ANY:
		return true;
	case DFU_LAYOUT_H7_128K:
		if (!s)
			return false;
		for (size_t i = 0; i < l->n_segments; i++)
			if (l->segments[i].start >= 0x08000000u &&
			    l->segments[i].start < 0x09000000u && l->segments[i].size != 128 * 1024)
				return false;
		return s->size == 128 * 1024;
	case DFU_LAYOUT_F4_SECTORS:
		return s && (s->size == 16 * 1024 || s->size == 32 * 1024);
	case DFU_LAYOUT_8K_PAGES:
		return s && s->size == 8 * 1024;
	case DFU_LAYOUT_SMALL_PAGES:
		return s && (s->size == 1024 || s->size == 2 * 1024);
	}
	return false;
}

static const char *const layout_names[] = {
	[DFU_LAYOUT_ANY] = "any",
	[DFU_LAYOUT_H7_128K] = "h7-128k",
	[DFU_LAYOUT_F4_SECTORS] = "f4-sectors",
	[DFU_LAYOUT_8K_PAGES] = "8k-pages",
	[DFU_LAYOUT_SMALL_PAGES] = "small-pages",
};

const char *dfu_quirk_layout_name(enum dfu_quirk_layout m)
{
	return (size_t)m < ARRAY_SIZE(layout_names) ? layout_names[m] : "unknown";
}

int dfu_quirk_layout_from_name(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(layout_names); i++)
		if (strcmp(name, layout_names[i]) == 0)
			return (int)i;
	return -1;
}

const char *dfu_busy_name(enum dfu_busy b)
{
	switch (b) {
	case DFU_BUSY_NAK:
		return "nak";
	case DFU_BUSY_STALL:
		return "stall";
	case DFU_BUSY_REPEAT:
		return "repeat";
	case DFU_BUSY_STRICT:
		return "strict";
	case DFU_BUSY_UNKNOWN:
		break;
	}
	return "unknown";
}

static bool entry_matches(const struct quirk_entry *t, const struct dfu_if_info *info)
{
	if (info->vid != t->vid || info->pid < t->pid_first || info->pid > t->pid_last)
		return false;
	if (t->bcd_device >= 0 && info->bcd_device != (uint16_t)t->bcd_device)
		return false;
	return dfu_quirk_layout_matches(info->layout, t->layout);
}

static bool rule_matches(const struct dfu_quirk_rule *r, const struct dfu_if_info *info)
{
	if (info->vid != r->vid || info->pid != r->pid)
		return false;
	if (r->bcd_device >= 0 && info->bcd_device != (uint16_t)r->bcd_device)
		return false;
	return dfu_quirk_layout_matches(info->layout, r->layout);
}

/* Each bit of @bits through @fn, with @prefix ("" or "no-") before its name. */
static void visit_bits(uint32_t bits, const char *prefix, const char *source, const char *reason,
		       dfu_quirk_visit_fn fn, void *ud)
{
	char what[64];

	for (uint32_t bit = 1; bit && fn; bit <<= 1) {
		if (!(bits & bit))
			continue;
		snprintf(what, sizeof(what), "%s%s", prefix, dfu_quirk_name(bit));
		fn(ud, what, source, reason);
	}
}

static void set_busy(struct dfu_quirk_set *out, enum dfu_busy busy, const char *source,
		     const char *reason, dfu_quirk_visit_fn fn, void *ud)
{
	char what[32];

	out->busy = busy;
	snprintf(out->busy_source, sizeof(out->busy_source), "%s", source);
	if (fn) {
		snprintf(what, sizeof(what), "busy=%s", dfu_busy_name(busy));
		fn(ud, what, source, reason);
	}
}

/* One quirk-file line that matched. */
static void apply_rule(const struct dfu_quirk_rule *r, struct dfu_quirk_set *out,
		       dfu_quirk_visit_fn fn, void *ud)
{
	const char *reason = r->reason[0] ? r->reason : NULL;

	out->bits = (out->bits | r->set) & ~r->clear;
	visit_bits(r->set, "", r->source, reason, fn, ud);
	visit_bits(r->clear, "no-", r->source, reason, fn, ud);
	if (r->busy != DFU_BUSY_UNKNOWN)
		set_busy(out, r->busy, r->source, reason, fn, ud);
	if (r->mass_erase_ms) {
		char what[40];

		out->mass_erase_ms = r->mass_erase_ms;
		snprintf(what, sizeof(what), "mass-erase-ms=%u", r->mass_erase_ms);
		if (fn)
			fn(ud, what, r->source, reason);
	}
}

void dfu_quirks_resolve(const struct dfu_quirk_rules *rules, const struct dfu_if_info *info,
			struct dfu_quirk_set *out, dfu_quirk_visit_fn fn, void *ud)
{
	memset(out, 0, sizeof(*out));
	if (!info)
		return;
	for (size_t i = 0; i < ARRAY_SIZE(quirk_table); i++) {
		const struct quirk_entry *t = &quirk_table[i];

		if (!entry_matches(t, info))
			continue;
		out->bits |= t->quirks;
		visit_bits(t->quirks, "", "built-in", t->reason, fn, ud);
		if (t->busy != DFU_BUSY_UNKNOWN)
			set_busy(out, t->busy, "built-in", t->reason, fn, ud);
	}
	for (size_t i = 0; rules && i < rules->n_rules; i++)
		if (rule_matches(&rules->rules[i], info))
			apply_rule(&rules->rules[i], out, fn, ud);
}

uint32_t dfu_quirks_for(const struct dfu_if_info *info)
{
	struct dfu_quirk_set q;

	dfu_quirks_resolve(NULL, info, &q, NULL, NULL);
	return q.bits;
}

static const uint32_t quirk_bits[] = {
	DFU_QUIRK_JUMP_TO_RESET_VECTOR, DFU_QUIRK_LEAVE_IGNORE_ERRORS,
	DFU_QUIRK_SKIPS_DNBUSY,		DFU_QUIRK_POLL_TIMEOUT_BOGUS,
	DFU_QUIRK_MASS_ERASE_SLOW,	DFU_QUIRK_LEAVE_IGNORES_ADDRESS,
	DFU_QUIRK_NO_VECTOR_TABLE,	DFU_QUIRK_UTF8_SERIAL,
	DFU_QUIRK_LAYOUT_FROM_SERIAL,	DFU_QUIRK_SEQUENTIAL_BLOCKS,
};

uint32_t dfu_quirk_from_name(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(quirk_bits); i++)
		if (strcmp(name, dfu_quirk_name(quirk_bits[i])) == 0)
			return quirk_bits[i];
	return 0;
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
	case DFU_QUIRK_UTF8_SERIAL:
		return "utf8-serial";
	case DFU_QUIRK_LAYOUT_FROM_SERIAL:
		return "layout-from-serial";
	case DFU_QUIRK_SEQUENTIAL_BLOCKS:
		return "sequential-blocks";
	}
	return "unknown";
}

/* A device answering dfuDNBUSY again to early polls is asked this often. */
#define REPEAT_POLL_MS 20u

void dfu_poll_plan_choose(enum dfu_poll_mode mode, uint32_t interval_ms,
			  const struct dfu_quirk_set *q, struct dfu_poll_plan *out)
{
	enum dfu_busy busy = q ? q->busy : DFU_BUSY_UNKNOWN;
	const char *src = q && busy != DFU_BUSY_UNKNOWN ? q->busy_source : "";

	memset(out, 0, sizeof(*out));
	out->at_least_announced = busy == DFU_BUSY_STRICT;
	if (mode == DFU_POLL_ANNOUNCED) {
		snprintf(out->why, sizeof(out->why),
			 "bwPollTimeout as announced: --poll=announced");
	} else if (mode == DFU_POLL_INTERVAL) {
		out->how = DFU_POLL_HOW_INTERVAL;
		out->interval_ms = interval_ms;
		snprintf(out->why, sizeof(out->why), "every %u ms: --poll=%u%s", interval_ms,
			 interval_ms,
			 out->at_least_announced ? ", never before bwPollTimeout (busy=strict)"
						 : "");
	} else if (busy == DFU_BUSY_NAK) {
		out->how = DFU_POLL_HOW_AT_ONCE;
		snprintf(out->why, sizeof(out->why),
			 "at once after the first busy reply: busy=nak (%s)", src);
	} else if (busy == DFU_BUSY_REPEAT) {
		out->how = DFU_POLL_HOW_INTERVAL;
		out->interval_ms = REPEAT_POLL_MS;
		snprintf(out->why, sizeof(out->why), "every %u ms at most: busy=repeat (%s)",
			 REPEAT_POLL_MS, src);
	} else if (busy == DFU_BUSY_UNKNOWN) {
		snprintf(out->why, sizeof(out->why),
			 "bwPollTimeout as announced: busy behaviour unknown (no quirk entry)");
	} else {
		snprintf(out->why, sizeof(out->why),
			 "bwPollTimeout as announced: busy=%s (%s), early polls %s",
			 dfu_busy_name(busy), src,
			 busy == DFU_BUSY_STALL ? "stall" : "stall and end in dfuERROR");
	}
}

void dfu_quirks_explain(struct dfu_ctx *ctx, const struct dfu_if_info *info, dfu_quirk_fn fn,
			void *userdata, char *poll, size_t cap)
{
	struct dfu_quirk_set q;
	struct dfu_poll_plan plan;

	if (!ctx || !info)
		return;
	dfu_quirks_resolve(ctx->quirk_rules, info, &q, fn, userdata);
	dfu_poll_plan_choose(ctx->poll_mode, ctx->poll_interval_ms, &q, &plan);
	if (poll && cap)
		snprintf(poll, cap, "%s", plan.why);
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
	if (dev && dev->mass_erase_ms)
		return dev->mass_erase_ms; /* a quirk file knows this part */
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

bool dfu_quirk_fix_layout(const struct dfu_quirk_rules *rules, const struct dfu_if_info *info,
			  struct dfuse_layout *l)
{
	struct dfuse_layout_segment *s;
	struct dfu_quirk_set q;
	uint32_t kib;

	if (!l || l->n_segments == 0 || strlen(info->serial) < 3)
		return false;
	dfu_quirks_resolve(rules, info, &q, NULL, NULL);
	if (!(q.bits & DFU_QUIRK_LAYOUT_FROM_SERIAL))
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
