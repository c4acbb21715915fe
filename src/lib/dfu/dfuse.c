// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * ST DfuSe (UM0424, AN3156) on top of request.c: the plan of
 * a download checked against the alt's memory map before any request, sector
 * erase, one Set Address per contiguous run with wBlockNum 2, 3, ..., the
 * vector-table sector written last, read-back verify, upload and leave.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "macro.h"
#include "protect.h"
#include "proto.h"
#include "util.h"

/*
 * Runs in erasable flash are widened to this alignment with 0xff: ECC flash
 * is programmed once per unit (L4/G4 8 bytes, U5 16, H7 32: reference manuals
 * RM0351, RM0440, RM0456, RM0433), so a unit must never be split between two
 * writes.  0xff is what the ROM pads a partial unit with anyway, and
 * AND-programming F2/F4 ignore it.
 */
#define DFUSE_WRITE_ALIGN 32u

enum run_kind {
	RUN_FLASH,  /* an erasable layout segment */
	RUN_PLAIN,  /* writable, not erasable (RAM) */
	RUN_FORCED, /* outside the map or read-only, written because of force */
	RUN_RESETS, /* option bytes: the device resets after the write (3.8) */
	RUN_OTP,    /* one-time programmable: never erased, checked against the device */
};

struct run {
	uint32_t address;
	uint32_t length;
	enum run_kind kind;
	bool vt;   /* in the sector holding the vector table: written last */
	int order; /* write order class: 0 normal, 1 vector-table sector, 2 resets */
	/* in a sector the image leaves blank: erased and read back, not written */
	bool no_write;
};

struct plan {
	int img_alt; /* alt of the image segments written (DFU_ALT_NONE or dev alt) */
	struct run *runs;
	size_t n_runs, cap_runs;
	struct dfuse_sector *erase;
	size_t n_erase, cap_erase;
	uint64_t total;	     /* bytes sent, 0xff padding of program units included */
	uint64_t data_total; /* bytes of the image among them: what progress counts */
	bool have_vt;
	bool vt_plausible; /* an application's vector table: read back after writing */
	struct dfuse_sector vt_sector;
	bool have_otp;	/* RUN_OTP runs (the alt is OTP memory) */
	bool otp_known; /* otp: a layout with lock bytes */
	struct dfu_otp_layout otp;
	uint32_t otp_low, otp_end; /* the OTP bytes read before writing */
	/* comparing left sectors out, or a sector kept its data through a mass
	 * erase: every written byte is read back */
	bool differential;
	bool mass_erase;    /* every sector of the flash changed: one mass erase (checked) */
	uint32_t flash_low; /* the lowest flash address written: the Set Address for all */
};

static void plan_release(struct plan *p)
{
	free(p->runs);
	free(p->erase);
	memset(p, 0, sizeof(*p));
}

static int nomem(struct dfu_error *e)
{
	return dfu_error_set(e, DFU_E_NOMEM, "dfu.nomem", NULL, "out of memory");
}

static int plan_add_run(struct plan *p, uint32_t address, uint32_t length, enum run_kind kind,
			struct dfu_error *e)
{
	if (p->n_runs == p->cap_runs) {
		size_t cap = p->cap_runs ? p->cap_runs * 2 : 16;
		struct run *n = realloc(p->runs, cap * sizeof(*n));

		if (!n)
			return nomem(e);
		p->runs = n;
		p->cap_runs = cap;
	}
	p->runs[p->n_runs++] = (struct run){ .address = address, .length = length, .kind = kind };
	return 0;
}

static bool name_has(const char *name, const char *word)
{
	size_t n = strlen(word);

	for (const char *s = name; *s; s++)
		if (strncasecmp(s, word, n) == 0)
			return true;
	return false;
}

static const char *alt_name(const struct dfu_dev *dev)
{
	return dev->info.layout && dev->info.layout->name[0] ? dev->info.layout->name
							     : dev->info.name;
}

/* The image alt written to this device alt: DfuSe files carry alts, the
 * others not.  The CLI loops over the alts of a DfuSe file. */
static int image_alt(const struct dfu_dev *dev, const struct dfu_image *img)
{
	for (size_t i = 0; i < img->n_segments; i++)
		if (img->segments[i].alt != DFU_ALT_NONE)
			return dev->info.alt;
	return DFU_ALT_NONE;
}

static int memmap_error(const struct dfu_dev *dev, uint32_t address, const char *code,
			const char *why, const char *hint, struct dfu_error *e)
{
	bool was_empty = e && !e->err;

	dfu_error_set(e, DFU_E_MEMMAP, code, NULL, "0x%08x %s of alt %u (\"%s\")", address, why,
		      dev->info.alt, alt_name(dev));
	if (was_empty && e) {
		dfu_error_device_at(e, "memory map check", -1, address);
		dfu_error_hint(e, hint);
	}
	return DFU_E_MEMMAP;
}

#define FORCE_HINT "check the address; forcing (--force, or -s ADDRESS:force) writes anyway"

/* The alt's name, which holds its DfuSe layout, could not be read (a timeout, a
 * stall): the device is slow or flaky, the address is not the problem. */
static bool name_unread(const struct dfu_dev *dev)
{
	return dfu_if_name_unread(&dev->info);
}

static int unread_layout_error(const struct dfu_dev *dev, uint32_t address, struct dfu_error *e)
{
	bool was_empty = e && !e->err;

	dfu_error_set(e, DFU_E_MEMMAP, "dfuse.memmap_unread", NULL,
		      "0x%08x cannot be checked: the name of alt %u, which holds its memory map, "
		      "could not be read (%s)",
		      address, dev->info.alt, dev->info.strings_state);
	if (was_empty && e) {
		dfu_error_device_at(e, "memory map check", -1, address);
		dfu_error_hint(e, "the device did not answer the string request in time or at "
				  "all: replug it and run the same command again; forcing "
				  "(--force) writes without the map");
	}
	return DFU_E_MEMMAP;
}

/*
 * Check one image segment against the map and cut it into runs by layout
 * segment.  Nothing is sent to the device.
 */
static int plan_segment(const struct dfu_dev *dev, const struct dfu_flash_opts *opts,
			struct plan *p, uint32_t address, uint64_t end, struct dfu_error *e)
{
	const struct dfuse_layout *l = dev->info.layout;
	uint64_t pos = address;
	int r;

	while (pos < end) {
		size_t idx;
		const struct dfuse_layout_segment *ls;
		uint64_t stop;
		enum run_kind kind;

		if (!l || dfuse_layout_find_segment(l, (uint32_t)pos, &idx) < 0) {
			/* unmapped: with force, written without erase up to the next
			 * mapped byte (dfu-util: "we wouldn't know the correct page size") */
			if (!opts->force && !l && name_unread(dev))
				return unread_layout_error(dev, (uint32_t)pos, e);
			if (!opts->force)
				return memmap_error(dev, (uint32_t)pos, "dfuse.memmap_outside",
						    l ? "is outside the memory map"
						      : "cannot be checked: no memory map",
						    FORCE_HINT, e);
			stop = end;
			for (size_t i = 0; l && i < l->n_segments; i++)
				if (l->segments[i].start > pos && l->segments[i].start < stop)
					stop = l->segments[i].start;
			r = plan_add_run(p, (uint32_t)pos, (uint32_t)(stop - pos), RUN_FORCED, e);
			if (r < 0)
				return r;
			pos = stop;
			continue;
		}
		ls = &l->segments[idx];
		stop = MIN(end, ls->end);
		if (!(ls->attr & DFUSE_ATTR_WRITABLE)) {
			if (!opts->force)
				return memmap_error(
				    dev, (uint32_t)pos, "dfuse.memmap_readonly",
				    "lies in a read-only segment (no writable bit)",
				    "the image overlaps a protected area, such as a "
				    "bootloader; check the base address",
				    e);
			kind = RUN_FORCED;
		} else if (name_has(alt_name(dev), "OTP")) {
			/* one-time programmable: never erased (even where an old ROM
			 * string says 'g'), only with --otp (plan_otp_gate, 3.7) */
			kind = RUN_OTP;
		} else if (name_has(alt_name(dev), "Option")) {
			/* option bytes reset the device and may lock it (RDP, 3.8) */
			if (!opts->force)
				return memmap_error(
				    dev, (uint32_t)pos, "dfuse.memmap_option_bytes",
				    "is in the option bytes",
				    "writing option bytes resets the device and can "
				    "enable read protection; :force writes them",
				    e);
			kind = RUN_RESETS;
		} else {
			kind = ls->attr & DFUSE_ATTR_ERASABLE ? RUN_FLASH : RUN_PLAIN;
		}
		if (kind == RUN_FLASH) {
			/* widen to the ECC unit, inside the layout segment */
			uint64_t a = pos - (pos - ls->start) % DFUSE_WRITE_ALIGN;
			uint64_t b =
			    stop + (DFUSE_WRITE_ALIGN - (stop - ls->start) % DFUSE_WRITE_ALIGN) %
				       DFUSE_WRITE_ALIGN;

			r = plan_add_run(p, (uint32_t)a, (uint32_t)(MIN(b, ls->end) - a), kind, e);
		} else {
			r = plan_add_run(p, (uint32_t)pos, (uint32_t)(stop - pos), kind, e);
		}
		if (r < 0)
			return r;
		pos = stop;
	}
	return 0;
}

static int run_cmp(const void *a, const void *b)
{
	const struct run *x = a, *y = b;

	if (x->order != y->order)
		return x->order < y->order ? -1 : 1;
	return x->address < y->address ? -1 : x->address > y->address;
}

static int plan_add_erase(struct plan *p, const struct dfuse_sector *s, struct dfu_error *e)
{
	for (size_t i = 0; i < p->n_erase; i++)
		if (p->erase[i].start == s->start)
			return 0;
	if (p->n_erase == p->cap_erase) {
		size_t cap = p->cap_erase ? p->cap_erase * 2 : 16;
		struct dfuse_sector *n = realloc(p->erase, cap * sizeof(*n));

		if (!n)
			return nomem(e);
		p->erase = n;
		p->cap_erase = cap;
	}
	p->erase[p->n_erase++] = *s;
	return 0;
}

/* Whether @address lies in an erasable flash run (not OTP, not option bytes). */
static bool in_flash_run(const struct plan *p, uint32_t address)
{
	for (size_t i = 0; i < p->n_runs; i++)
		if (p->runs[i].kind == RUN_FLASH && address >= p->runs[i].address &&
		    address - p->runs[i].address < p->runs[i].length)
			return true;
	return false;
}

/*
 * OTP and option bytes: what can be refused from the image alone, before any
 * request.  OTP needs --otp (irreversible; the message names the blocks and
 * lock bytes the image would program); option bytes that set RDP level 2
 * are always refused (the device would never enumerate in DFU mode again).
 */
static int plan_special_gates(const struct dfu_dev *dev, const struct dfu_image *img,
			      const struct dfu_flash_opts *opts, struct plan *p,
			      struct dfu_error *e)
{
	for (size_t i = 0; i < p->n_runs; i++) {
		const struct run *ru = &p->runs[i];

		if (ru->kind == RUN_OTP && !p->have_otp) {
			p->have_otp = true;
			p->otp_known = dfu_otp_layout_for(ru->address, &p->otp);
		}
		if (ru->kind == RUN_RESETS) {
			uint8_t ob[512];
			uint32_t n = MIN(ru->length, (uint32_t)sizeof(ob));

			dfu_image_read(img, p->img_alt, ru->address, ob, n, 0xff);
			if (dfu_option_bytes_rdp_of(ru->address, ob, n) == 2) {
				memmap_error(
				    dev, ru->address, "dfuse.ob_rdp_level2",
				    "holds option bytes that would set read-out protection level 2",
				    "RDP level 2 is permanent: the chip would never enter "
				    "the DFU bootloader again; dfuflash does not write it",
				    e);
				return DFU_E_MEMMAP;
			}
		}
	}
	if (p->have_otp && !opts->otp) {
		struct dfu_otp_plan op;
		char what[200];
		uint32_t low = p->runs[0].address;
		uint64_t high = 0;
		uint8_t *ff;
		bool was_empty = e && !e->err;

		/* what the image would program over an erased area */
		for (size_t i = 0; i < p->n_runs; i++) {
			low = MIN(low, p->runs[i].address);
			high = MAX(high, (uint64_t)p->runs[i].address + p->runs[i].length);
		}
		ff = malloc((size_t)(high - low));
		if (!ff)
			return nomem(e);
		memset(ff, 0xff, (size_t)(high - low));
		dfu_otp_check(p->otp_known ? &p->otp : NULL, low, ff, (size_t)(high - low), img,
			      p->img_alt, &op, NULL);
		free(ff);
		dfu_otp_plan_describe(p->otp_known ? &p->otp : NULL, &op, what, sizeof(what));
		dfu_error_set(e, DFU_E_MEMMAP, "dfuse.memmap_otp", NULL,
			      "0x%08x is one-time programmable (OTP) memory of alt %u (\"%s\"): "
			      "the image would program %s, which can never be undone",
			      low, dev->info.alt, alt_name(dev), what);
		if (was_empty && e) {
			dfu_error_device_at(e, "memory map check", -1, low);
			dfu_error_hint(e,
				       "OTP bytes and lock bytes cannot be erased; give --otp to "
				       "write them");
		}
		return DFU_E_MEMMAP;
	}
	return 0;
}

/* Plan the runs of every image segment of this alt. */
static int plan_segments(const struct dfu_dev *dev, const struct dfu_image *img,
			 const struct dfu_flash_opts *opts, struct plan *p, struct dfu_error *e)
{
	int r;

	for (size_t i = 0; i < img->n_segments; i++) {
		const struct dfu_segment *s = &img->segments[i];

		if (s->alt != p->img_alt || s->length == 0)
			continue;
		r = plan_segment(dev, opts, p, s->address, (uint64_t)s->address + s->length, e);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Merge runs that touch or overlap after widening (same kind). */
static void plan_merge_runs(struct plan *p)
{
	size_t n = 0;

	for (size_t i = 0; i < p->n_runs; i++) {
		struct run *last = n ? &p->runs[n - 1] : NULL;

		if (last && last->kind == p->runs[i].kind &&
		    (uint64_t)last->address + last->length >= p->runs[i].address) {
			uint64_t end = MAX((uint64_t)last->address + last->length,
					   (uint64_t)p->runs[i].address + p->runs[i].length);

			last->length = (uint32_t)(end - last->address);
			continue;
		}
		p->runs[n++] = p->runs[i];
	}
	p->n_runs = n;
}

/* The vector table of the image, when it lies in an erasable flash run. */
static void plan_find_vt(const struct dfu_dev *dev, const struct dfu_image *img, struct plan *p)
{
	const struct dfuse_layout *l = dev->info.layout;
	struct dfu_vector_table vt;

	if (l && dfu_image_vector_table(img, false, 0, NULL, 0, &vt) == 0 &&
	    dfu_image_find(img, p->img_alt, vt.address) &&
	    dfuse_layout_find_sector(l, vt.address, &p->vt_sector) == 0 &&
	    (p->vt_sector.attr & DFUSE_ATTR_ERASABLE) && in_flash_run(p, vt.address)) {
		p->have_vt = true;
		p->vt_plausible = vt.verdict == DFU_VT_PLAUSIBLE;
	}
}

/* Split the flash runs at the vector-table sector: the part inside gets vt. */
static int plan_split_vt(struct plan *p, struct dfu_error *e)
{
	uint64_t vs = p->vt_sector.start, ve = vs + p->vt_sector.size;
	size_t count = p->n_runs;
	int r;

	for (size_t i = 0; i < count; i++) {
		struct run *ru = &p->runs[i];
		uint64_t a = ru->address, b = a + ru->length;
		enum run_kind kind = ru->kind;

		if (kind != RUN_FLASH || b <= vs || a >= ve)
			continue;
		/* split into before / inside / after */
		if (a < vs) {
			ru->length = (uint32_t)(vs - a);
			r = plan_add_run(p, (uint32_t)vs, (uint32_t)(MIN(b, ve) - vs), kind, e);
			if (r < 0)
				return r;
			p->runs[p->n_runs - 1].vt = true;
		} else {
			ru->length = (uint32_t)(MIN(b, ve) - a);
			ru->vt = true;
		}
		if (b > ve) {
			r = plan_add_run(p, (uint32_t)ve, (uint32_t)(b - ve), kind, e);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

/* Order the runs (normal, vector-table sector, resets) and count the bytes. */
static void plan_order(const struct dfu_image *img, struct plan *p)
{
	for (size_t i = 0; i < p->n_runs; i++) {
		p->runs[i].order = p->runs[i].kind == RUN_RESETS ? 2 : p->runs[i].vt ? 1 : 0;
		p->total += p->runs[i].length;
	}
	for (size_t i = 0; i < img->n_segments; i++)
		if (img->segments[i].alt == p->img_alt)
			p->data_total += img->segments[i].length;
	if (p->n_runs > 1)
		qsort(p->runs, p->n_runs, sizeof(*p->runs), run_cmp);
}

/* The erase list of the plan: the sectors of its flash runs, each once. */
static int plan_erase_list(const struct dfuse_layout *l, struct plan *p, struct dfu_error *e)
{
	int r;

	if (p->have_vt) {
		r = plan_add_erase(p, &p->vt_sector, e);
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < p->n_runs; i++) {
		struct dfuse_sector *secs = NULL;
		size_t ns = 0;

		if (p->runs[i].kind != RUN_FLASH)
			continue;
		r = dfuse_layout_sectors(l, p->runs[i].address, p->runs[i].length, &secs, &ns, e);
		if (r < 0)
			return r;
		for (size_t k = 0; k < ns && r == 0; k++)
			if (secs[k].attr & DFUSE_ATTR_ERASABLE)
				r = plan_add_erase(p, &secs[k], e);
		free(secs);
		if (r < 0)
			return r;
	}
	return 0;
}

/*
 * Build the whole plan: runs (merged, split at the vector-table sector,
 * ordered) and the sectors to erase.  Every refusal happens here.
 */
static int plan_build(const struct dfu_dev *dev, const struct dfu_image *img,
		      const struct dfu_flash_opts *opts, struct plan *p, struct dfu_error *e)
{
	int r;

	p->img_alt = image_alt(dev, img);
	r = plan_segments(dev, img, opts, p, e);
	if (r < 0)
		return r;
	/* a mass erase on its own (dfu-util's -s :mass-erase:force) has no runs */
	if (p->n_runs == 0 && !opts->mass_erase)
		return dfu_error_set(e, DFU_E_INVAL, "dfu.empty_image", NULL,
				     "the image has no data for alt %u", dev->info.alt);

	plan_merge_runs(p);
	r = plan_special_gates(dev, img, opts, p, e);
	if (r < 0)
		return r;

	/* the sector holding the vector table goes last (and is erased first), so
	 * that an interrupted download leaves no bootable half-image */
	plan_find_vt(dev, img, p);
	if (p->have_vt) {
		r = plan_split_vt(p, e);
		if (r < 0)
			return r;
	}
	plan_order(img, p);

	/* sectors to erase: the vector-table sector first, then by address */
	if (opts->mass_erase)
		return 0;
	return plan_erase_list(dev->info.layout, p, e);
}

/* ------------------------------------------------------------------------ */
/* Commands                                                                 */

static int erase_sector(struct dfu_dev *dev, const struct dfu_flash_opts *opts,
			const struct dfuse_sector *s, struct dfu_error *e)
{
	uint8_t cmd[5] = { DFUSE_CMD_ERASE };
	struct dfu_op op;

	le32_put(cmd + 1, s->start);
	dfu_op_init_at(&op, 0, s->start, "DfuSe erase page 0x%08x", s->start);
	dfu_log(dev->ctx, DFU_LOG_VERBOSE, "erasing sector 0x%08x (%u KiB)", s->start,
		s->size / 1024);
	return dfuse_command(dev, &op, cmd, sizeof(cmd),
			     dfu_deadline(dev, opts, dfu_deadline_erase_ms(dev, s->size)), e);
}

static int mass_erase(struct dfu_dev *dev, const struct dfu_flash_opts *opts, struct dfu_error *e)
{
	const uint8_t cmd[1] = { DFUSE_CMD_ERASE };
	struct dfu_op op;

	dfu_op_init(&op, 0, "DfuSe mass erase");
	dfu_log(dev->ctx, DFU_LOG_VERBOSE, "mass erase (deadline %u ms)",
		opts->timeout_ms ? opts->timeout_ms : dfu_deadline_mass_erase_ms(dev));
	return dfuse_command(dev, &op, cmd, sizeof(cmd),
			     dfu_deadline(dev, opts, dfu_deadline_mass_erase_ms(dev)), e);
}

/* ------------------------------------------------------------------------ */
/* Writing                                                                  */

/*
 * The Set Address before the chunk at @addr: for flash, the lowest flash
 * address the plan writes when a block number reaches @addr from there (an
 * ST ROM then writes every flash run, the vector-table sector last included,
 * after one Set Address), else @addr itself (option bytes and OTP want
 * their own start, AN2662).
 */
static uint32_t pointer_for(const struct dfu_dev *dev, const struct plan *p, const struct run *ru,
			    bool per_chunk, uint16_t tsize, uint32_t addr, uint32_t chunk)
{
	if (ru->kind != RUN_FLASH || p->flash_low >= addr ||
	    !dfuse_block_between(dev, per_chunk, tsize, p->flash_low, addr, chunk))
		return addr;
	return p->flash_low;
}

static int write_run(struct dfu_dev *dev, const struct dfu_image *img,
		     const struct dfu_flash_opts *opts, const struct plan *p, const struct run *ru,
		     bool last_run, uint8_t *buf, struct dfu_flash_result *res, struct dfu_error *e)
{
	uint16_t tsize = dfuse_transfer_size(dev, opts);
	bool per_chunk = dfuse_address_per_chunk(dev, tsize);
	unsigned block = 0; /* the next block's wBlockNum; 0: a Set Address first */
	int r;

	for (uint32_t off = 0; off < ru->length;) {
		uint32_t chunk = MIN((uint32_t)tsize, ru->length - off);
		uint32_t addr = ru->address + off;
		bool resets = ru->kind == RUN_RESETS ||
			      (opts->will_reset && last_run && off + chunk == ru->length);
		struct dfu_status_reply st;
		struct dfu_op op;
		size_t present;

		unsigned at = ru->kind == RUN_FLASH
				  ? dfuse_block_from_pointer(dev, per_chunk, tsize, addr, chunk)
				  : 0;

		if (at) {
			block = at;
		} else if (block == 0 || dfuse_needs_address(per_chunk, block, chunk, tsize)) {
			uint32_t ptr = pointer_for(dev, p, ru, per_chunk, tsize, addr, chunk);

			r = dfuse_set_address(dev, opts, ptr, e);
			if (r < 0)
				return r;
			block = DFUSE_FIRST_BLOCK + (addr - ptr) / tsize;
		}
		/* bytes_written counts the image's bytes, not the padding */
		present = dfu_image_read(img, p->img_alt, addr, buf, chunk, 0xff);
		dfu_op_init_at(&op, (int)block, addr, "DfuSe write block %u at 0x%08x", block,
			       addr);
		r = dfu_request(dev, &op, DFU_REQ_DNLOAD, (uint16_t)block, buf, (uint16_t)chunk, 0,
				e);
		if (r < 0)
			return r;
		if (resets) {
			/* option bytes (3.8) / :will-reset: the device answers dfuDNBUSY
			 * and resets; no second GET_STATUS is answered */
			struct dfu_error le;

			dfu_error_clear(&le);
			r = dfu_get_status(dev, &op, 0, &st, e);
			if (r < 0)
				return r;
			if (st.state == DFU_STATE_DFU_ERROR)
				return dfu_error_devstatus(dev, &op, &st, e);
			if (st.state == DFU_STATE_DFU_DNBUSY) {
				uint64_t deadline =
				    dfu_deadline(dev, opts, DFU_DEADLINE_COMMAND_MS);

				dfu_wait_announced(dev, &op, st.poll_timeout_ms, deadline);
				r = dfu_poll(dev, &op, deadline, &st, &le);
				if (r < 0 && dfu_err_is_usb(r) && dfu_err_is_gone(r)) {
					dfu_log(dev->ctx, DFU_LOG_INFO,
						"device reset after writing 0x%08x, as expected",
						addr);
					res->bytes_written += present;
					res->left = true;
					return 0;
				}
				if (r < 0) {
					if (e && !e->err)
						*e = le;
					return r;
				}
			}
		} else {
			r = dfu_poll(dev, &op,
				     dfu_deadline(dev, opts, dfu_deadline_write_ms(dev, chunk)),
				     &st, e);
			if (r < 0)
				return r;
		}
		if (st.state != DFU_STATE_DFU_DNLOAD_IDLE)
			return dfu_error_wrong_state(&op, &st, "dfuDNLOAD-IDLE", e);
		res->bytes_written += present;
		dfu_progress(dev->ctx, "download", res->bytes_written, p->data_total);
		off += chunk;
		block++;
	}
	return 0;
}

/*
 * A written flash sector that reads back wrong: ST ROMs answer OK for writes
 * to write-protected sectors and change nothing (AN2662; G0B1 report), so on
 * an ST ROM this is write protection, named by the sector.
 */
/* What a read-back compares: every written byte (--verify), or only those of
 * the vector-table sector [start, end) (always, against silent write
 * protection). */
struct check_window {
	enum { CHECK_ALL, CHECK_VT_SECTOR } scope;
	uint64_t start, end;
};

static int mismatch_error(struct dfu_dev *dev, const struct plan *p, const struct check_window *w,
			  struct dfu_flash_result *res, struct dfu_error *e)
{
	bool vt_only = w->scope == CHECK_VT_SECTOR;
	const struct dfuse_layout *l = dev->info.layout;
	struct dfuse_sector sec;
	bool was_empty = e && !e->err;

	if (l && (dfuse_is_st_rom(dev) || vt_only) && in_flash_run(p, res->mismatch_address) &&
	    dfuse_layout_find_sector(l, res->mismatch_address, &sec) == 0) {
		bool st = dfuse_is_st_rom(dev);

		res->write_protected = true;
		res->wrp_sector = sec.start;
		dfu_error_set(e, DFU_E_VERIFY, "dfuse.write_protected", NULL,
			      "sector 0x%08x (%u KiB) did not take the write: %llu bytes read "
			      "back different, the first at 0x%08x, although the bootloader "
			      "reported success: the sector is %swrite-protected (WRP)",
			      sec.start, sec.size / 1024, (unsigned long long)res->mismatch_count,
			      res->mismatch_address, st ? "" : "probably ");
		if (was_empty && e) {
			dfu_error_device_at(e,
					    vt_only ? "read-back of the vector-table sector"
						    : "verify (read-back)",
					    -1, res->mismatch_address);
			dfu_error_hint(e,
				       "ST bootloaders skip write-protected sectors without an "
				       "error; `dfuflash read-options` shows the WRP bits, and "
				       "writing the option bytes (alt \"Option Bytes\", --force) "
				       "clears them");
		}
		return DFU_E_VERIFY;
	}
	dfu_error_set(e, DFU_E_VERIFY, "dfu.verify_mismatch", NULL,
		      "verify failed: %llu bytes differ, the first at 0x%08x",
		      (unsigned long long)res->mismatch_count, res->mismatch_address);
	if (was_empty && e) {
		dfu_error_device_at(e, "verify (read-back)", -1, res->mismatch_address);
		dfu_error_hint(e, "ST bootloaders skip write-protected sectors without an "
				  "error (WRP): check the option bytes");
	}
	return DFU_E_VERIFY;
}

/*
 * Read back every written image byte of the runs (not option bytes: the
 * device reset; not OTP: read back on its own) and compare
 * (--verify: all; always: the vector-table sector, clipped to [ws, we)).
 */
static bool clip_run(const struct run *in, const struct check_window *w, struct run *out)
{
	uint64_t a = in->address, b = a + in->length;

	*out = *in;
	if (in->kind == RUN_RESETS || in->kind == RUN_OTP)
		return false;
	if (w->scope == CHECK_ALL)
		return true;
	if (in->kind != RUN_FLASH || b <= w->start || a >= w->end)
		return false;
	a = MAX(a, w->start);
	b = MIN(b, w->end);
	out->address = (uint32_t)a;
	out->length = (uint32_t)(b - a);
	return out->length > 0;
}

static int verify(struct dfu_dev *dev, const struct dfu_image *img,
		  const struct dfu_flash_opts *opts, const struct plan *p,
		  const struct check_window *w, struct dfu_flash_result *res, struct dfu_error *e)
{
	bool vt_only = w->scope == CHECK_VT_SECTOR;
	uint64_t done = 0, total = 0;
	struct dfuse_reader rd;
	int r;

	for (size_t i = 0; i < p->n_runs; i++) {
		struct run c;

		if (clip_run(&p->runs[i], w, &c))
			total += c.length;
	}
	/* one stream of reads: on an ST ROM every run is reached by block
	 * number from the pointer of the download */
	dfuse_reader_init(&rd, dev, opts);
	for (size_t i = 0; i < p->n_runs; i++) {
		struct run clipped;
		const struct run *ru = &clipped;
		uint8_t *back, *want;

		if (!clip_run(&p->runs[i], w, &clipped))
			continue;
		back = malloc(ru->length);
		want = malloc(ru->length);
		if (!back || !want) {
			free(back);
			free(want);
			return nomem(e);
		}
		r = dfuse_reader_read(&rd, ru->address, back, ru->length,
				      vt_only ? "read-back" : "verify", &done, total, e);
		if (r >= 0) {
			uint32_t got = (uint32_t)r;

			/* compare only the bytes the image holds, not the 0xff padding */
			dfu_image_read(img, p->img_alt, ru->address, want, ru->length, 0xff);
			for (uint32_t k = 0; k < ru->length; k++) {
				uint32_t a = ru->address + k;
				const struct dfu_segment *s = dfu_image_find(img, p->img_alt, a);

				if (!s)
					continue;
				if (k >= got || back[k] != want[k]) {
					if (!res->mismatch)
						res->mismatch_address = a;
					res->mismatch = true;
					res->mismatch_count++;
				}
			}
		}
		free(back);
		free(want);
		if (r < 0)
			return r;
	}
	if (rd.open) {
		r = dfuse_reader_end(&rd, e);
		if (r < 0)
			return r;
	}
	res->bytes_read += done;
	if (res->mismatch)
		return mismatch_error(dev, p, w, res, e);
	if (!vt_only)
		res->verified = true;
	return 0;
}

/* ------------------------------------------------------------------------ */
/* OTP                                                                      */

/* The OTP bytes to read before writing: the image's OTP runs, or the whole
 * area with its lock bytes when the layout is known. */
static void otp_range(const struct plan *p, const struct dfu_otp_layout *l, uint64_t *low,
		      uint64_t *end)
{
	for (size_t i = 0; i < p->n_runs; i++) {
		if (p->runs[i].kind != RUN_OTP)
			continue;
		*low = MIN(*low, (uint64_t)p->runs[i].address);
		*end = MAX(*end, (uint64_t)p->runs[i].address + p->runs[i].length);
	}
	if (l) {
		*low = l->base;
		*end = (uint64_t)l->base + dfu_otp_area_size(l);
	}
}

/*
 * Replace the OTP runs by runs of the bytes of [@low, @end) that change from
 * @cur (what the device holds).
 */
static int otp_runs_of_changes(const struct dfu_image *img, struct plan *p, const uint8_t *cur,
			       uint64_t low, uint64_t end, struct dfu_error *e)
{
	size_t n;
	int r;

	/* the OTP runs become the runs of changed bytes (unchanged ones, also in
	 * locked blocks, are not sent: the ROM refuses any write there) */
	n = 0;
	for (size_t i = 0; i < p->n_runs; i++)
		if (p->runs[i].kind != RUN_OTP)
			p->runs[n++] = p->runs[i];
	p->n_runs = n;
	p->total = 0;
	for (size_t i = 0; i < p->n_runs; i++)
		p->total += p->runs[i].length;
	r = 0;
	for (uint64_t a = low; a < end && r == 0;) {
		uint8_t w;
		uint64_t b;

		if (dfu_image_read(img, p->img_alt, (uint32_t)a, &w, 1, 0xff) != 1 ||
		    w == cur[a - low]) {
			a++;
			continue;
		}
		for (b = a + 1; b < end; b++)
			if (dfu_image_read(img, p->img_alt, (uint32_t)b, &w, 1, 0xff) != 1 ||
			    w == cur[b - low])
				break;
		r = plan_add_run(p, (uint32_t)a, (uint32_t)(b - a), RUN_OTP, e);
		p->total += b - a;
		a = b;
	}
	if (r < 0)
		return r;
	if (p->n_runs > 1)
		qsort(p->runs, p->n_runs, sizeof(*p->runs), run_cmp);
	return 0;
}

/*
 * Read the OTP bytes the image covers (the whole area with its lock bytes
 * when the layout is known), check the write against them (dfu_otp_check:
 * no 0 -> 1 bit, nothing into a locked block) and replace the OTP runs by
 * runs of the bytes that change.  Only reads: a refusal writes nothing.
 */
static int otp_prepare(struct dfu_dev *dev, const struct dfu_image *img,
		       const struct dfu_flash_opts *opts, struct plan *p,
		       struct dfu_flash_result *res, struct dfu_error *e)
{
	const struct dfu_otp_layout *l = p->otp_known ? &p->otp : NULL;
	struct dfu_otp_plan op;
	uint64_t low = UINT64_MAX, end = 0, progress = 0;
	uint8_t *cur;
	char what[256];
	int r;

	otp_range(p, l, &low, &end);
	cur = malloc((size_t)(end - low));
	if (!cur)
		return nomem(e);
	dfu_log(dev->ctx, DFU_LOG_VERBOSE, "reading OTP 0x%08x..0x%08x before writing",
		(uint32_t)low, (uint32_t)(end - 1));
	r = dfuse_read_memory(dev, opts, (uint32_t)low, cur, (uint32_t)(end - low), "read OTP",
			      &progress, end - low, e);
	if (r >= 0 && (uint64_t)r < end - low)
		r = dfu_error_set(e, DFU_E_PROTOCOL, "dfuse.otp_short_read", NULL,
				  "reading OTP at 0x%08x returned %d of %u bytes", (uint32_t)low, r,
				  (uint32_t)(end - low));
	if (r >= 0) {
		res->bytes_read += (uint64_t)r;
		r = dfu_otp_check(l, (uint32_t)low, cur, (size_t)(end - low), img, p->img_alt, &op,
				  e);
	}
	if (r < 0) {
		free(cur);
		return r;
	}
	p->otp_low = (uint32_t)low;
	p->otp_end = (uint32_t)(end - 1);
	res->otp = true;
	res->otp_blocks_written = op.blocks_written;
	res->otp_locks_written = op.locks_written;
	res->otp_bytes_changed = op.bytes_changed;
	dfu_otp_plan_describe(l, &op, what, sizeof(what));
	dfu_log(dev->ctx, DFU_LOG_INFO, "OTP: %u bytes to program: %s", op.bytes_changed, what);
	r = otp_runs_of_changes(img, p, cur, low, end, e);
	free(cur);
	return r;
}

/* After an OTP write: read the area back (always), compare and report the
 * lock state. */
static int otp_readback(struct dfu_dev *dev, const struct dfu_image *img,
			const struct dfu_flash_opts *opts, const struct plan *p,
			struct dfu_flash_result *res, struct dfu_error *e)
{
	uint32_t len = p->otp_end - p->otp_low + 1;
	uint64_t progress = 0;
	uint8_t *back = malloc(len);
	int r;

	if (!back)
		return nomem(e);
	r = dfuse_read_memory(dev, opts, p->otp_low, back, len, "read OTP", &progress, len, e);
	if (r < 0) {
		free(back);
		return r;
	}
	res->bytes_read += (uint64_t)r;
	if (p->otp_known)
		for (uint32_t i = 0; i < p->otp.n_blocks; i++) {
			uint32_t a = p->otp.lock_base + i;

			if (a >= p->otp_low && a - p->otp_low < (uint32_t)r &&
			    back[a - p->otp_low] == 0x00)
				res->otp_blocks_locked |= 1u << i;
		}
	for (uint32_t k = 0; k < len; k++) {
		uint32_t a = p->otp_low + k;
		uint8_t w;

		if (dfu_image_read(img, p->img_alt, a, &w, 1, 0xff) != 1)
			continue;
		if (k >= (uint32_t)r || back[k] != w) {
			bool was_empty = e && !e->err;

			res->mismatch = true;
			res->mismatch_address = a;
			dfu_error_set(e, DFU_E_VERIFY, "dfuse.otp_verify", NULL,
				      "OTP byte 0x%08x reads 0x%02x after writing 0x%02x", a,
				      k < (uint32_t)r ? back[k] : 0, w);
			if (was_empty && e) {
				dfu_error_device_at(e, "OTP read-back", -1, a);
				dfu_error_hint(e, "the block may have been locked already, or the "
						  "bootloader refused the write");
			}
			free(back);
			return DFU_E_VERIFY;
		}
	}
	free(back);
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Download                                                                 */

/*
 * The sector read back after every download: the vector-table sector of an
 * application image, or on a bootloader without a Cortex-M vector table
 * (GD32VF103: the ROM resets into the image start) the image's first sector.
 */
static bool readback_sector(const struct dfu_dev *dev, const struct plan *p,
			    struct dfuse_sector *out)
{
	const struct dfuse_layout *l = dev->info.layout;
	uint32_t low = UINT32_MAX;
	bool any = false;

	if (p->have_vt && p->vt_plausible) {
		*out = p->vt_sector;
		return true;
	}
	if (!l || !(dev->quirks & DFU_QUIRK_NO_VECTOR_TABLE))
		return false;
	for (size_t i = 0; i < p->n_runs; i++)
		if (p->runs[i].kind == RUN_FLASH && p->runs[i].address < low) {
			low = p->runs[i].address;
			any = true;
		}
	return any && dfuse_layout_find_sector(l, low, out) == 0 &&
	       (out->attr & DFUSE_ATTR_ERASABLE);
}

/* e->detail: what this run erased before the erase that failed. */
static void describe_erased_before(const struct dfu_dl_facts *f, struct dfu_error *e)
{
	size_t used;

	e->detail[0] = '\0';
	if (f->mass_erased)
		snprintf(e->detail, sizeof(e->detail), "the whole flash was mass-erased; ");
	used = strlen(e->detail);
	if (f->n_erased) {
		snprintf(e->detail + used, sizeof(e->detail) - used, "%u sector%s erased (",
			 f->n_erased, f->n_erased == 1 ? "" : "s");
		for (uint32_t k = 0; k < f->n_erased && k < DFU_FACTS_MAX; k++) {
			used = strlen(e->detail);
			snprintf(e->detail + used, sizeof(e->detail) - used, "%s0x%08x",
				 k ? ", " : "", f->erased[k]);
		}
		used = strlen(e->detail);
		snprintf(e->detail + used, sizeof(e->detail) - used, "%s); ",
			 f->n_erased > DFU_FACTS_MAX ? ", ..." : "");
	} else if (!f->mass_erased) {
		snprintf(e->detail + used, sizeof(e->detail) - used, "no sector erased before; ");
	}
}

/*
 * Append to e->detail, which names what was being erased, what an erase cut
 * short by @r (a deadline, a broken protocol, a lost device) left there, and
 * whether that leaves the vector-table sector (@vt_hit) without a table.
 */
static void erase_cut_short(int r, bool vt_hit, struct dfu_error *e)
{
	size_t used = strlen(e->detail);

	snprintf(e->detail + used, sizeof(e->detail) - used,
		 " was being erased: %s; nothing written yet%s",
		 r == DFU_E_DEADLINE ? "the erase did not finish, its content is undefined "
				       "(partly erased)"
		 : r == DFU_E_PROTOCOL
		     ? "the device's replies during the erase broke the DFU protocol, so its "
		       "content is undefined (erased, partly erased or unchanged)"
		     : "the device stopped answering during the erase, so its content is "
		       "undefined (erased, partly erased or unchanged)",
		 vt_hit ? "; the vector-table sector is not intact, so no application can "
			  "start: the chip stays in the bootloader"
			: "");
	if (dfu_err_is_usb(r) || r == DFU_E_PROTOCOL) {
		/* as dfu_facts_describe() for a link failure */
		e->resumable = true;
		used = strlen(e->detail);
		snprintf(e->detail + used, sizeof(e->detail) - used,
			 "; running the same command again erases and writes all of it");
	}
}

/*
 * An erase of @s (the @i-th of the plan) failed.  errVENDOR after another
 * sector of the same run was erased (or the flash was read) is not read-out
 * protection (an RDP-1 ROM refuses every erase): it is this page, named with
 * the address.  A deadline (the device stayed busy) or a link failure (the
 * device stopped answering during the erase) leaves the page in an unknown
 * state: e->detail says so, with the sectors erased before it.
 * Returns true when @e was classified here (no RDP classification after).
 */
static bool erase_failure(struct dfu_dev *dev, const struct plan *p, size_t i, int r,
			  bool others_ok, struct dfu_error *e)
{
	const struct dfuse_sector *s = &p->erase[i];

	if (!e || !e->err)
		return false;
	if (r == DFU_E_DEVSTATUS && e->have_state && e->state == DFU_STATE_DFU_ERROR &&
	    e->status == DFU_STATUS_ERR_VENDOR && others_ok) {
		snprintf(e->code, sizeof(e->code), "dfuse.erase_page_failed");
		snprintf(e->message, sizeof(e->message),
			 "the erase of page 0x%08x (%u KiB) failed with dfuERROR, status 11 "
			 "(errVENDOR) while %s: the page at 0x%08x is damaged or worn (an "
			 "RDP-1 chip refuses every erase and every read)",
			 s->start, s->size / 1024,
			 dev->run->facts.n_erased
			     ? "the erase of other sectors in this run succeeded"
			     : "the flash could be read",
			 s->start);
		e->hint = "a damaged or worn flash page; this sector may be write-protected at "
			  "erase level on some ROMs (check the option bytes with `dfuflash "
			  "read-options`); try a mass erase (--mass-erase), and avoid this page "
			  "if it keeps failing";
		if (!e->detail[0]) {
			size_t used;

			describe_erased_before(&dev->run->facts, e);
			used = strlen(e->detail);
			snprintf(e->detail + used, sizeof(e->detail) - used,
				 "the erase of sector 0x%08x was refused (it may be unchanged or "
				 "partly erased); nothing written yet",
				 s->start);
		}
		return true;
	}
	if ((r == DFU_E_DEADLINE || r == DFU_E_PROTOCOL || dfu_err_is_usb(r)) && !e->detail[0]) {
		const struct dfu_dl_facts *f = &dev->run->facts;
		size_t used;

		describe_erased_before(f, e);
		used = strlen(e->detail);
		snprintf(e->detail + used, sizeof(e->detail) - used, "sector 0x%08x (%u KiB)",
			 s->start, s->size / 1024);
		erase_cut_short(r, p->have_vt && (s->start == p->vt_sector.start || f->n_erased),
				e);
		(void)i;
		return false;
	}
	return false;
}

/* The refusals that need neither the plan nor the device. */
static int download_refusals(const struct dfu_dev *dev, const struct dfu_image *img,
			     const struct dfu_flash_opts *opts, struct dfu_error *e)
{
	bool have_jump = false;
	uint32_t jump = 0;
	int r;

	if (!img->address_from_file && !opts->have_address) {
		dfu_error_set(e, DFU_E_INVAL, "dfuse.no_address", NULL,
			      "a raw image carries no address: a DfuSe device needs one");
		dfu_error_hint(e, "give the start address with -s ADDR (e.g. -s 0x08000000)");
		return DFU_E_INVAL;
	}
	if (opts->unprotect) {
		dfu_error_set(
		    e, DFU_E_INVAL, "dfuse.unprotect_with_download", NULL,
		    "Read Unprotect mass-erases the flash and resets the device: it cannot "
		    "be combined with a download");
		dfu_error_hint(e, "run the unprotect on its own, then download after the device "
				  "re-enumerates");
		return DFU_E_INVAL;
	}
	if (opts->leave) {
		r = dfuse_jump_target(dev, img, opts, &have_jump, &jump, e);
		if (r < 0)
			return r;
	}
	return 0;
}

/* The plan and a buffer of one transfer (*@buf, the caller frees it). */
static int download_plan(const struct dfu_dev *dev, const struct dfu_image *img,
			 const struct dfu_flash_opts *opts, struct plan *p, uint8_t **buf,
			 struct dfu_error *e)
{
	uint16_t tsize = dfuse_transfer_size(dev, opts);
	int r;

	r = plan_build(dev, img, opts, p, e);
	if (r < 0)
		return r;
	if (tsize == 0) {
		return dfu_error_no_transfer_size(e);
	}
	*buf = malloc(tsize);
	if (!*buf)
		return nomem(e);
	dfu_log(dev->ctx, DFU_LOG_VERBOSE,
		"download plan: %zu runs, %llu bytes, %zu sectors to erase%s", p->n_runs,
		(unsigned long long)p->total, p->n_erase,
		p->have_vt ? ", vector-table sector last" : "");
	return 0;
}

static int sector_start_cmp(const void *a, const void *b)
{
	const struct dfuse_sector *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

/*
 * The mass erase of a plan that erases every sector of the flash
 * (plan_whole_flash), checked: the first block of each sector must read
 * blank after it, since a chip with a protected sector refuses a mass erase
 * and a ROM may not say so.  Returns 0 when the flash is erased, 1 when the
 * sectors are to be erased one by one after all (the mass erase failed and
 * the device is in dfuIDLE again, or a sector still holds data), or a
 * negative dfu_err.
 */
static int erase_whole_flash(struct dfu_dev *dev, const struct dfu_flash_opts *opts, struct plan *p,
			     struct dfu_flash_result *res, struct dfu_error *e)
{
	struct dfuse_sector *asc;
	struct dfu_error le, re;
	bool blank = false;
	int r;

	dfu_log(dev->ctx, DFU_LOG_VERBOSE,
		"the image covers all %zu sectors of the flash: one mass erase instead of %zu "
		"sector erases",
		p->n_erase, p->n_erase);
	dfu_error_clear(&le);
	r = mass_erase(dev, opts, &le);
	if (r < 0) {
		/* the sector erases do it all again: fine once the device is
		 * back in dfuIDLE, else the mass erase's failure is the error */
		dfu_error_clear(&re);
		if (dfu_dev_ensure_idle(dev, NULL, &re) < 0) {
			if (e && !e->err) {
				*e = le;
				if (!e->detail[0]) {
					snprintf(e->detail, sizeof(e->detail),
						 "the whole flash (a mass erase)");
					erase_cut_short(r, p->have_vt, e);
				}
			}
			return r;
		}
		dfu_log(dev->ctx, DFU_LOG_INFO,
			"the mass erase failed (%s); erasing the %zu sectors one by one",
			le.message, p->n_erase);
		return 1;
	}
	asc = malloc(p->n_erase * sizeof(*asc));
	if (!asc)
		return nomem(e);
	memcpy(asc, p->erase, p->n_erase * sizeof(*asc));
	qsort(asc, p->n_erase, sizeof(*asc), sector_start_cmp);
	r = dfuse_diff_first_blocks_blank(dev, opts, asc, p->n_erase, &blank, &res->bytes_read, e);
	free(asc);
	if (r < 0)
		return r;
	if (!blank) {
		/* a protected sector takes erases and writes without an error
		 * (AN2662): the read-back of every written byte names it */
		dfu_log(dev->ctx, DFU_LOG_INFO,
			"a sector still holds data after the mass erase (is a sector write- or "
			"PCROP-protected?); erasing the %zu sectors one by one, and reading "
			"everything back after writing",
			p->n_erase);
		p->differential = true;
		/* the messages of a later failure: the chip refused it, the sector
		 * erases that follow say what was erased */
		dev->run->facts.mass_erased = false;
		return 1;
	}
	res->sectors_erased += (uint32_t)p->n_erase;
	res->mass_erased = true;
	dfu_progress(dev->ctx, "erase", p->n_erase, p->n_erase);
	return 0;
}

/*
 * The mass erase and the sector erases of the plan.  *@not_rdp tells that
 * erase_failure() classified a failed erase (no RDP classification after).
 */
static int erase_all(struct dfu_dev *dev, const struct dfu_flash_opts *opts, struct plan *p,
		     struct dfu_flash_result *res, bool *not_rdp, struct dfu_error *e)
{
	int r;

	if (opts->mass_erase) {
		r = mass_erase(dev, opts, e);
		if (r < 0)
			return r;
		res->mass_erased = true;
	}
	if (p->mass_erase) {
		r = erase_whole_flash(dev, opts, p, res, e);
		if (r <= 0)
			return r;
	}
	for (size_t i = 0; i < p->n_erase; i++) {
		r = erase_sector(dev, opts, &p->erase[i], e);
		if (r < 0) {
			*not_rdp = erase_failure(dev, p, i, r,
						 res->sectors_erased > 0 || res->bytes_read > 0, e);
			return r;
		}
		res->sectors_erased++;
		dfu_progress(dev->ctx, "erase", i + 1, p->n_erase);
	}
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Differential re-flash                                                    */

/* A copy of @ru over [@a, @b), added to the runs. */
static int plan_add_piece(struct plan *p, size_t i, uint64_t a, uint64_t b, bool no_write,
			  struct dfu_error *e)
{
	struct run piece = p->runs[i];
	int r;

	piece.address = (uint32_t)a;
	piece.length = (uint32_t)(b - a);
	piece.no_write = no_write;
	r = plan_add_run(p, piece.address, piece.length, piece.kind, e);
	if (r < 0)
		return r;
	p->runs[p->n_runs - 1] = piece;
	return 0;
}

/* Split the flash runs at sector @s: the part inside is dropped (the chip
 * holds it) or, for a sector the image leaves blank, kept for the read-back
 * only. */
static int plan_cut_sector(struct plan *p, const struct dfuse_sector *s, enum dfuse_diff_verdict v,
			   struct dfu_error *e)
{
	uint64_t ss = s->start, se = ss + s->size;
	size_t count = p->n_runs;
	int r = 0;

	for (size_t i = 0; i < count && r == 0; i++) {
		uint64_t a = p->runs[i].address, b = a + p->runs[i].length;

		if (p->runs[i].kind != RUN_FLASH || b <= ss || a >= se)
			continue;
		if (b > se)
			r = plan_add_piece(p, i, se, b, p->runs[i].no_write, e);
		if (r == 0 && v == DFUSE_DIFF_ERASE_ONLY)
			r = plan_add_piece(p, i, MAX(a, ss), MIN(b, se), true, e);
		p->runs[i].length = a < ss ? (uint32_t)(ss - a) : 0;
	}
	return r;
}

/* The byte counts of the runs left: sent (with padding) and of the image. */
static void plan_recount(const struct dfu_image *img, struct plan *p)
{
	size_t n = 0;

	p->total = 0;
	p->data_total = 0;
	for (size_t i = 0; i < p->n_runs; i++) {
		const struct run *ru = &p->runs[i];

		if (ru->length == 0)
			continue;
		p->runs[n++] = *ru;
		if (ru->no_write)
			continue;
		p->total += ru->length;
		for (size_t k = 0; k < img->n_segments; k++) {
			const struct dfu_segment *sg = &img->segments[k];
			uint64_t a = MAX((uint64_t)ru->address, (uint64_t)sg->address);
			uint64_t b = MIN((uint64_t)ru->address + ru->length,
					 (uint64_t)sg->address + sg->length);

			if (sg->alt == p->img_alt && b > a)
				p->data_total += b - a;
		}
	}
	p->n_runs = n;
	if (p->n_runs > 1)
		qsort(p->runs, p->n_runs, sizeof(*p->runs), run_cmp);
}

/* Drop what the chip holds already: unchanged sectors leave the erase list
 * and the runs, sectors the image leaves blank are erased but not written. */
static int plan_apply_verdicts(const struct dfu_image *img, struct plan *p,
			       const enum dfuse_diff_verdict *v, struct dfu_flash_result *res,
			       struct dfu_error *e)
{
	size_t n = 0;
	int r;

	for (size_t i = 0; i < p->n_erase; i++) {
		if (v[i] != DFUSE_DIFF_CHANGED) {
			/* a plan a sector left: its writes are read back
			 * (download_read_back); when every sector changed it is the
			 * full flash, read back as such */
			p->differential = true;
			r = plan_cut_sector(p, &p->erase[i], v[i], e);
			if (r < 0)
				return r;
		}
		if (v[i] == DFUSE_DIFF_SAME)
			res->sectors_skipped++;
		else
			p->erase[n++] = p->erase[i];
	}
	p->n_erase = n;
	plan_recount(img, p);
	return 0;
}

/* Whether the plan only writes erasable flash (no OTP, option bytes, RAM or
 * forced runs: those are written as they always were). */
static bool plan_only_flash(const struct plan *p)
{
	for (size_t i = 0; i < p->n_runs; i++)
		if (p->runs[i].kind != RUN_FLASH)
			return false;
	return p->n_erase > 0;
}

/*
 * Whether the plan erases every sector of the flash, after a compare that
 * found each of them changed: on an ST ROM one mass erase (AN3156) then does
 * the work of all the sector erases in one command, and no slower (F2/F4:
 * 8 s for 1 MiB against 8.55 s sector by sector; L4, F0: the time of one
 * page).  --full keeps the sector erases.
 */
static bool plan_whole_flash(const struct dfu_dev *dev, const struct plan *p)
{
	const struct dfuse_layout *l = dev->info.layout;
	uint64_t sectors = 0;

	if (!l || !dfuse_is_st_rom(dev) || p->differential || p->n_erase < 2)
		return false;
	/* the plan's sectors are distinct sectors of @l: as many as @l has
	 * (overlapping segments count twice) means all of them */
	for (size_t i = 0; i < l->n_segments; i++)
		if (l->segments[i].attr & DFUSE_ATTR_ERASABLE)
			sectors += l->segments[i].count;
	return sectors == p->n_erase;
}

/* No compare after all: say why, and erase and write every sector. */
static void full_flash_because(struct dfu_dev *dev, const struct plan *p, const char *why,
			       struct dfu_flash_result *res)
{
	if (why != res->full_flash_reason)
		snprintf(res->full_flash_reason, sizeof(res->full_flash_reason), "%s", why);
	dfu_log(dev->ctx, DFU_LOG_INFO,
		"cannot compare the flash with the image: %s; erasing and writing all %zu "
		"sectors",
		res->full_flash_reason, p->n_erase);
}

/*
 * The differential re-flash (unless --full): compare the sectors to erase
 * with the chip and take those that already hold the image out of the plan.
 * Not with a mass erase, nor with :will-reset (the device resets on the last
 * write, which must happen).
 */
static int download_compare(struct dfu_dev *dev, const struct dfu_image *img,
			    const struct dfu_flash_opts *opts, struct plan *p,
			    struct dfu_flash_result *res, struct dfu_error *e)
{
	enum dfuse_diff_verdict *v;
	const char *why;
	int r;

	if (opts->full || opts->mass_erase || opts->will_reset || !plan_only_flash(p))
		return 0;
	res->sectors_total = (uint32_t)p->n_erase;
	why = dfuse_diff_unavailable(dev, p->erase, p->n_erase);
	if (why) {
		full_flash_because(dev, p, why, res);
		return 0;
	}
	v = calloc(p->n_erase, sizeof(*v));
	if (!v)
		return nomem(e);
	r = dfuse_diff_compare(dev, opts, img, p->img_alt, p->erase, p->n_erase, v,
			       &res->bytes_read, res->full_flash_reason,
			       sizeof(res->full_flash_reason), e);
	if (r == 1)
		full_flash_because(dev, p, res->full_flash_reason, res);
	else if (r == 0)
		r = plan_apply_verdicts(img, p, v, res, e);
	free(v);
	if (r == 0)
		p->mass_erase = plan_whole_flash(dev, p);
	if (r == 0)
		dfu_log(dev->ctx, DFU_LOG_VERBOSE,
			"compare: %u of %u sectors unchanged, skipped; %zu to erase, %llu bytes "
			"to write",
			res->sectors_skipped, res->sectors_total, p->n_erase,
			(unsigned long long)p->total);
	return r < 0 ? r : 0;
}

/* After the runs before the option bytes: OTP read-back, verify or the
 * read-back of the sector an application starts from. */
static int download_read_back(struct dfu_dev *dev, const struct dfu_image *img,
			      const struct dfu_flash_opts *opts, const struct plan *p,
			      struct dfu_flash_result *res, struct dfu_error *e)
{
	struct dfuse_sector rb;
	int r;

	if (p->have_otp) {
		r = otp_readback(dev, img, opts, p, res, e);
		if (r < 0)
			return r;
	}
	/* differential: what was written is read back, as --verify does, so that
	 * a sector skipped after comparing never hides a bad write elsewhere */
	if (opts->verify || p->differential)
		return verify(dev, img, opts, p, &(struct check_window){ .scope = CHECK_ALL }, res,
			      e);
	if (readback_sector(dev, p, &rb) && (dev->info.attributes & DFU_ATTR_CAN_UPLOAD) &&
	    (rb.attr & DFUSE_ATTR_READABLE)) {
		/* always: a write-protected vector-table sector (wherever the table
		 * is; on GD32VF103 the image's first sector) would leave the old (or
		 * no) application in place while the bootloader reports success */
		const struct check_window w = { CHECK_VT_SECTOR, rb.start,
						(uint64_t)rb.start + rb.size };

		return verify(dev, img, opts, p, &w, res, e);
	}
	return 0;
}

int dfuse_download(struct dfu_dev *dev, const struct dfu_image *img,
		   const struct dfu_flash_opts *opts, struct dfu_flash_result *res,
		   struct dfu_error *e)
{
	struct plan p = { 0 };
	struct dfu_idle_report rep = { 0 };
	uint8_t *buf = NULL;
	size_t last_normal = 0;
	bool not_rdp = false;
	int r;

	/* everything that can be refused is refused before the first request */
	r = download_refusals(dev, img, opts, e);
	if (r < 0)
		return r;
	r = download_plan(dev, img, opts, &p, &buf, e);
	if (r < 0)
		goto out;

	r = dfu_dev_ensure_idle(dev, &rep, e);
	if (r < 0)
		goto out;
	if (p.have_otp) {
		r = otp_prepare(dev, img, opts, &p, res, e);
		if (r < 0)
			goto out;
	}
	r = download_compare(dev, img, opts, &p, res, e);
	if (r < 0)
		goto out;
	r = erase_all(dev, opts, &p, res, &not_rdp, e);
	if (r < 0)
		goto out;

	p.flash_low = UINT32_MAX;
	for (size_t i = 0; i < p.n_runs; i++) {
		if (p.runs[i].kind != RUN_RESETS)
			last_normal = i + 1;
		if (p.runs[i].kind == RUN_FLASH && !p.runs[i].no_write)
			p.flash_low = MIN(p.flash_low, p.runs[i].address);
	}
	for (size_t i = 0; i < last_normal; i++) {
		if (p.runs[i].no_write)
			continue;
		r = write_run(dev, img, opts, &p, &p.runs[i], i + 1 == p.n_runs, buf, res, e);
		if (r < 0 || res->left)
			goto out;
	}
	if (last_normal) {
		r = dfuse_abort_to_idle(dev, "after writing", e);
		if (r < 0)
			goto out;
	}
	r = download_read_back(dev, img, opts, &p, res, e);
	if (r < 0)
		goto out;
	for (size_t i = last_normal; i < p.n_runs; i++) {
		r = write_run(dev, img, opts, &p, &p.runs[i], i + 1 == p.n_runs, buf, res, e);
		if (r < 0 || res->left)
			goto out;
	}
	if (opts->leave) {
		r = dfuse_leave(dev, img, opts, res, e);
		goto out;
	}
	r = 0;
out:
	if (r < 0 && !not_rdp)
		dfuse_classify_rdp(dev,
				   rep.found.state == DFU_STATE_DFU_ERROR &&
				       rep.found.status == DFU_STATUS_ERR_VENDOR,
				   e, res);
	free(buf);
	plan_release(&p);
	return r;
}

/* The public copy of a plan: the sectors to erase and the writes in order. */
static int plan_export(const struct plan *p, struct dfu_plan *out, struct dfu_error *e)
{
	out->sectors = calloc(p->n_erase ? p->n_erase : 1, sizeof(*out->sectors));
	out->writes = calloc(p->n_runs ? p->n_runs : 1, sizeof(*out->writes));
	if (!out->sectors || !out->writes)
		return nomem(e);
	for (size_t i = 0; i < p->n_erase; i++)
		out->sectors[i] = (struct dfu_plan_sector){ .start = p->erase[i].start,
							    .size = p->erase[i].size,
							    .action = DFU_PLAN_ERASE };
	out->n_sectors = p->n_erase;
	for (size_t i = 0; i < p->n_runs; i++)
		out->writes[i] = (struct dfu_plan_write){ .address = p->runs[i].address,
							  .length = p->runs[i].length,
							  .vector_table = p->runs[i].vt };
	out->n_writes = p->n_runs;
	out->bytes = p->total;
	return 0;
}

/*
 * The sectors of @out after the compare took those the chip already holds
 * out of the plan: every sector of @all, those no longer in @out marked
 * DFU_PLAN_SKIP.
 */
static int plan_mark_skipped(const struct dfuse_sector *all, size_t n_all, struct dfu_plan *out,
			     struct dfu_error *e)
{
	struct dfu_plan_sector *s = calloc(n_all ? n_all : 1, sizeof(*s));
	size_t k = 0;

	if (!s)
		return nomem(e);
	for (size_t i = 0; i < n_all; i++) {
		bool kept = k < out->n_sectors && out->sectors[k].start == all[i].start;

		s[i] = (struct dfu_plan_sector){ .start = all[i].start,
						 .size = all[i].size,
						 .action = kept ? DFU_PLAN_ERASE : DFU_PLAN_SKIP };
		k += kept;
	}
	free(out->sectors);
	out->sectors = s;
	out->n_sectors = n_all;
	return 0;
}

/* The plan's compare, as dfuse_download runs it (unless --full): the
 * sectors it would skip are marked, their writes left out. */
static int plan_compare(struct dfu_dev *dev, const struct dfu_image *img,
			const struct dfu_flash_opts *opts, struct plan *p, struct dfu_plan *out,
			struct dfu_error *e)
{
	struct dfu_flash_result res = { 0 };
	struct dfuse_sector *all;
	size_t n_all = p->n_erase;
	struct dfu_run run;
	int r;

	all = malloc((n_all ? n_all : 1) * sizeof(*all));
	if (!all)
		return nomem(e);
	if (n_all)
		memcpy(all, p->erase, n_all * sizeof(*all));
	dfu_run_begin(dev, &run, &res);
	r = download_compare(dev, img, opts, p, &res, e);
	dfu_run_end(dev, &run);
	if (r == 0)
		r = plan_export(p, out, e);
	if (r == 0)
		r = plan_mark_skipped(all, n_all, out, e);
	free(all);
	return r;
}

int dfuse_plan(struct dfu_dev *dev, const struct dfu_image *img, const struct dfu_flash_opts *opts,
	       struct dfu_plan *out, struct dfu_error *e)
{
	struct plan p = { 0 };
	int r;

	/* the same refusals and the same plan as dfuse_download, in the same order */
	r = download_refusals(dev, img, opts, e);
	if (r < 0)
		return r;
	r = plan_build(dev, img, opts, &p, e);
	if (r == 0)
		r = plan_compare(dev, img, opts, &p, out, e);
	if (r == 0 && opts->leave)
		r = dfuse_jump_target(dev, img, opts, &out->have_jump, &out->jump, e);
	out->dfuse = true;
	out->mass_erase = opts->mass_erase || p.mass_erase;
	out->mass_erase_checked = p.mass_erase;
	out->leave = opts->leave;
	plan_release(&p);
	return r;
}

/* ------------------------------------------------------------------------ */
/* Upload                                                                   */

/*
 * The range of an upload: -s ADDR[:LENGTH], else the first segment of the
 * memory map; readable by the map over its whole length unless forced.
 */
static int upload_range(const struct dfu_dev *dev, const struct dfu_flash_opts *opts,
			uint32_t *address, uint32_t *length, struct dfu_error *e)
{
	const struct dfuse_layout *l = dev->info.layout;
	uint64_t end;
	size_t idx;

	if (opts->have_address)
		*address = opts->address;
	else if (l && l->n_segments)
		*address = l->segments[0].start;
	else
		return dfu_error_set(e, DFU_E_INVAL, "dfuse.no_address", NULL,
				     "no upload address and no memory map to take one from");
	if (opts->have_length) {
		end = (uint64_t)*address + opts->length;
	} else if (l && dfuse_layout_find_segment(l, *address, &idx) == 0) {
		end = l->segments[idx].end;
	} else {
		dfu_error_set(e, DFU_E_INVAL, "dfuse.unbound_upload", NULL,
			      "0x%08x is outside the memory map: the upload length is unknown",
			      *address);
		dfu_error_hint(e, "give the length (-s ADDR:LENGTH)");
		return DFU_E_INVAL;
	}
	/* only a length the caller gave can run past 4 GiB: its mistake */
	if (end > UINT64_C(0x100000000)) {
		dfu_error_set(e, DFU_E_INVAL, "dfuse.upload_range", NULL,
			      "0x%08x + %llu passes the end of the 32-bit address space", *address,
			      (unsigned long long)(end - *address));
		dfu_error_hint(e, "the read must end at or below 0xffffffff: give a smaller "
				  "length or a lower address");
		return DFU_E_INVAL;
	}
	*length = (uint32_t)(end - *address);
	/* readable check over the whole range (dfu-util checks only the start) */
	for (uint64_t pos = *address; !opts->force && pos < end;) {
		if (!l || dfuse_layout_find_segment(l, (uint32_t)pos, &idx) < 0)
			return memmap_error(dev, (uint32_t)pos, "dfuse.memmap_outside",
					    "is outside the memory map", FORCE_HINT, e);
		if (!(l->segments[idx].attr & DFUSE_ATTR_READABLE))
			return memmap_error(dev, (uint32_t)pos, "dfuse.memmap_unreadable",
					    "is not readable", FORCE_HINT, e);
		pos = l->segments[idx].end;
	}
	if (*length == 0)
		return dfu_error_set(e, DFU_E_INVAL, "dfuse.empty_upload", NULL,
				     "nothing to upload");
	return 0;
}

/* The image of @length bytes read from @address (*@out, the caller's). */
static int upload_image(uint32_t address, const uint8_t *buf, uint32_t length,
			struct dfu_image **out, struct dfu_error *e)
{
	struct dfu_image *img = NULL;
	int r;

	r = dfu_image_new(DFU_FORMAT_BIN, &img);
	if (r < 0)
		return nomem(e);
	img->address_from_file = true;
	if (length) {
		r = dfu_image_add(img, DFU_ALT_NONE, address, buf, length, NULL, NULL, e);
		if (r < 0) {
			dfu_image_free(img);
			return r;
		}
	}
	*out = img;
	return 0;
}

int dfuse_upload(struct dfu_dev *dev, const struct dfu_flash_opts *opts, struct dfu_image **out,
		 struct dfu_flash_result *res, struct dfu_error *e)
{
	struct dfu_idle_report rep = { 0 };
	uint8_t *buf = NULL;
	uint64_t progress = 0;
	uint32_t address = 0, length = 0;
	int r;

	if (dfuse_transfer_size(dev, opts) == 0) {
		return dfu_error_no_transfer_size(e);
	}
	r = upload_range(dev, opts, &address, &length, e);
	if (r < 0)
		return r;
	buf = malloc(length);
	if (!buf)
		return nomem(e);
	r = dfu_dev_ensure_idle(dev, &rep, e);
	if (r < 0)
		goto out;
	r = dfuse_read_memory(dev, opts, address, buf, length, "upload", &progress, length, e);
	if (r < 0)
		goto out;
	res->bytes_read = (uint64_t)r;
	length = (uint32_t)r;
	r = upload_image(address, buf, length, out, e);
out:
	r = dfu_upload_refused(r, e);
	if (r < 0 && progress > 0 && e && e->have_state && e->state == DFU_STATE_DFU_ERROR &&
	    e->status == DFU_STATUS_ERR_VENDOR) {
		/* part of the range was read: not read-out protection */
	} else if (r < 0)
		dfuse_classify_rdp(dev,
				   rep.found.state == DFU_STATE_DFU_ERROR &&
				       rep.found.status == DFU_STATUS_ERR_VENDOR,
				   e, res);
	free(buf);
	return r;
}

/* ------------------------------------------------------------------------ */
/* Leave                                                                    */

int dfuse_jump_target(const struct dfu_dev *dev, const struct dfu_image *img,
		      const struct dfu_flash_opts *opts, bool *have, uint32_t *target,
		      struct dfu_error *e)
{
	struct dfu_vector_table vt;

	*have = false;
	*target = 0;
	if (opts->have_jump) {
		*have = true;
		*target = opts->jump;
		return 0;
	}
	if (!img || img->n_segments == 0)
		return 0;
	if (dev->quirks & DFU_QUIRK_NO_VECTOR_TABLE) {
		/* GD32VF103: the ROM resets into flash; point it at the image start */
		int alt = image_alt(dev, img);

		for (size_t i = 0; i < img->n_segments; i++)
			if (img->segments[i].alt == alt) {
				*have = true;
				*target = img->segments[i].address;
				return 0;
			}
		return 0;
	}
	if (dfu_image_vector_table(img, false, 0, NULL, 0, &vt) < 0)
		return 0;
	if (vt.verdict != DFU_VT_PLAUSIBLE && (dev->quirks & DFU_QUIRK_LEAVE_IGNORES_ADDRESS)) {
		/* the bootloader starts the firmware itself: no address to derive */
		dfu_log(dev->ctx, DFU_LOG_VERBOSE,
			"leave: no vector table at 0x%08x (%s); this bootloader starts the "
			"firmware itself, so no Set Address is sent",
			vt.address, dfu_vt_verdict_str(vt.verdict));
		return 0;
	}
	if (vt.verdict != DFU_VT_PLAUSIBLE) {
		bool was_empty = e && !e->err;

		dfu_error_set(e, DFU_E_INVAL, "dfuse.jump_implausible", NULL,
			      "cannot derive the jump address: the vector table at 0x%08x is not "
			      "plausible (%s)",
			      vt.address, dfu_vt_verdict_str(vt.verdict));
		if (was_empty && e) {
			dfu_error_device_at(e, "leave: jump address", -1, vt.address);
			dfu_error_hint(e, "give the application's start address with --jump ADDR");
		}
		return DFU_E_INVAL;
	}
	*have = true;
	/* H7: the ROM jumps to the pointer as code (entry point, see
	 * DFU_QUIRK_JUMP_TO_RESET_VECTOR); the others load SP and PC from a vector
	 * table there (AN2662: the jump needs the application's vector table) */
	*target = dev->quirks & DFU_QUIRK_JUMP_TO_RESET_VECTOR ? vt.reset_vector : vt.address;
	return 0;
}

/* What dfuse_leave() knows once the jump target is resolved. */
struct leave {
	struct dfu_dev *dev;
	struct dfu_flash_result *res;
	bool ignore; /* DFU_QUIRK_LEAVE_IGNORE_ERRORS */
	bool have;   /* a jump target: Set Address was sent */
	uint32_t target;
};

/* Set Address of the jump target before the leave request. */
static int leave_set_address(const struct leave *lv, const struct dfu_flash_opts *opts,
			     struct dfu_error *e)
{
	struct dfu_dev *dev = lv->dev;
	int r;

	/* always Set Address when a target is known, also for .dfu files
	 * (dfu-util 0.10/0.11 sends none there since its commit 87df198) */
	r = dfuse_set_address(dev, opts, lv->target, e);
	if (r < 0)
		return r;
	lv->res->have_jump = true;
	lv->res->jump_address = lv->target;
	dfu_log(dev->ctx, DFU_LOG_VERBOSE, "leaving DFU: jump to 0x%08x%s", lv->target,
		dev->quirks & DFU_QUIRK_JUMP_TO_RESET_VECTOR ? " (reset vector)" : "");
	return 0;
}

/* The state @st the device answered the leave with (@op: its GET_STATUS). */
static int leave_outcome(const struct leave *lv, const struct dfu_op *op,
			 const struct dfu_status_reply *st, struct dfu_error *e)
{
	int r;

	switch (st->state) {
	case DFU_STATE_DFU_MANIFEST_SYNC:
	case DFU_STATE_DFU_MANIFEST:
	case DFU_STATE_DFU_MANIFEST_WAIT_RESET:
		/* AN3156: dfuMANIFEST, then the device disconnects and jumps */
		lv->res->left = true;
		return 0;
	case DFU_STATE_DFU_ERROR:
		r = dfu_error_devstatus(lv->dev, op, st, e);
		if (!lv->have && e)
			dfu_error_hint(e, "some ROMs need a Set Address before leaving (STM32C0): "
					  "give --jump ADDR");
		return r;
	default:
		if (lv->ignore) {
			lv->res->left = true;
			return 0;
		}
		return dfu_error_wrong_state(op, st, "dfuMANIFEST", e);
	}
}

/* The GET_STATUS after the leave request, and what its answer means. */
static int leave_status(const struct leave *lv, struct dfu_error *e)
{
	struct dfu_status_reply st;
	struct dfu_error le;
	struct dfu_op op;
	int r;

	dfu_op_init(&op, -1, "GET_STATUS after leave");
	if (lv->have)
		dfu_op_set_address(&op, lv->target);
	dfu_error_clear(&le);
	r = dfu_get_status(lv->dev, &op, 0, &st, &le);
	if (r < 0) {
		if (dfu_err_is_usb(r) && (lv->ignore || dfu_err_is_gone(r))) {
			/* the ROM resets while answering: the normal outcome (Klipper PR
			 * 5596; ST's usbd_dfu.c resets in the completion of this GET_STATUS,
			 * stm32-mw-usb-device issue 23) */
			dfu_log(lv->dev->ctx, DFU_LOG_VERBOSE,
				"device left during the status request (%s): leave done",
				le.usb_name ? le.usb_name : dfu_strerror(r));
			lv->res->left = true;
			return 0;
		}
		if (e && !e->err)
			*e = le;
		return r;
	}
	return leave_outcome(lv, &op, &st, e);
}

int dfuse_leave(struct dfu_dev *dev, const struct dfu_image *img, const struct dfu_flash_opts *opts,
		struct dfu_flash_result *res, struct dfu_error *e)
{
	struct leave lv = { .dev = dev, .res = res };
	struct dfu_error le;
	struct dfu_op op;
	int r;

	lv.ignore = dev->quirks & DFU_QUIRK_LEAVE_IGNORE_ERRORS;
	r = dfuse_jump_target(dev, img, opts, &lv.have, &lv.target, e);
	if (r < 0)
		return r;
	/* a zero-length DNLOAD is accepted in dfuIDLE and dfuDNLOAD-IDLE only */
	if (dev->last.state != DFU_STATE_DFU_IDLE && dev->last.state != DFU_STATE_DFU_DNLOAD_IDLE) {
		r = dfu_dev_ensure_idle(dev, NULL, e);
		if (r < 0)
			return r;
	}
	if (lv.have) {
		r = leave_set_address(&lv, opts, e);
		if (r < 0)
			return r;
	} else {
		dfu_log(dev->ctx, DFU_LOG_VERBOSE,
			"leaving DFU without Set Address: the device jumps to its current Address "
			"Pointer (the flash start unless a command moved it)");
	}

	/* Leave = zero-length DNLOAD, then GET_STATUS (AN3156 "DFU Leave"); the ST
	 * HAL ignores wValue; 0 as AN3156, pydfu and webdfu (dfu-util sends 2) */
	dfu_op_init(&op, 0, "DfuSe leave (zero-length DNLOAD)");
	if (lv.have)
		dfu_op_set_address(&op, lv.target);
	dfu_error_clear(&le);
	r = dfu_request(dev, &op, DFU_REQ_DNLOAD, 0, NULL, 0, 0, &le);
	if (r < 0) {
		if (r == DFU_E_USB_NODEV || (lv.ignore && dfu_err_is_usb(r))) {
			dfu_log(dev->ctx, DFU_LOG_VERBOSE, "device left on the leave request (%s)",
				le.usb_name ? le.usb_name : dfu_strerror(r));
			res->left = true;
			return 0;
		}
		if (e && !e->err)
			*e = le;
		return r;
	}
	return leave_status(&lv, e);
}

int dfuse_read_unprotect(struct dfu_dev *dev, struct dfu_flash_result *res, struct dfu_error *e)
{
	const uint8_t cmd[1] = { DFUSE_CMD_READ_UNPROTECT };
	struct dfu_status_reply st;
	struct dfu_error le;
	struct dfu_op op;
	int r;

	r = dfu_dev_ensure_idle(dev, NULL, e);
	if (r < 0)
		return r;
	dfu_op_init(&op, 0, "DfuSe Read Unprotect");
	r = dfu_request(dev, &op, DFU_REQ_DNLOAD, 0, (uint8_t *)cmd, sizeof(cmd), 0, e);
	if (r < 0)
		return r;
	/* AN2662 Fig. 60: dfuDNBUSY, then the device erases, disconnects and resets
	 * without answering a second GET_STATUS */
	r = dfu_get_status(dev, &op, 0, &st, e);
	if (r < 0)
		return r;
	if (st.state == DFU_STATE_DFU_ERROR)
		return dfu_error_devstatus(dev, &op, &st, e);
	if (st.state != DFU_STATE_DFU_DNBUSY)
		return dfu_error_wrong_state(&op, &st, "dfuDNBUSY", e);
	dfu_log(dev->ctx, DFU_LOG_VERBOSE, "Read Unprotect accepted (dfuDNBUSY)");
	/*
	 * "If the operation fails the second GET_STATUS (if the device is still
	 * connected) returns dfuERROR/errUNKNOWN": ask once more after the
	 * announced time.  A device that is gone (or does not answer while it
	 * erases) is the success case, as for betaflight's unprotect.
	 */
	dfu_wait_announced(dev, &op, st.poll_timeout_ms,
			   dfu_now_ms(dev->ctx) + DFU_DEADLINE_COMMAND_MS);
	dfu_op_init(&op, 0, "GET_STATUS after Read Unprotect");
	dfu_error_clear(&le);
	r = dfu_get_status(dev, &op, 5000, &st, &le);
	if (r < 0) {
		if (!dfu_err_is_usb(r)) {
			if (e && !e->err)
				*e = le;
			return r;
		}
		dfu_log(dev->ctx, DFU_LOG_VERBOSE, "device left after Read Unprotect (%s)",
			le.usb_name ? le.usb_name : dfu_strerror(r));
	} else if (st.state == DFU_STATE_DFU_ERROR) {
		return dfu_error_devstatus(dev, &op, &st, e);
	} else {
		dfu_log(dev->ctx, DFU_LOG_VERBOSE,
			"device still answers after Read Unprotect (%s): it resets when done",
			dfu_state_name(st.state));
	}
	dfu_log(dev->ctx, DFU_LOG_INFO,
		"device erases its flash, removes read protection and resets now");
	if (res)
		res->left = true;
	return 0;
}
