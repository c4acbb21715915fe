// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The download facts: what the running download has done to the device's
 * memory (sectors erased, ranges written, the vector-table sector), gathered as
 * the requests complete, and the message that describes it after an
 * interruption.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "proto.h"
#include "util.h"

/* The download facts: a DNLOAD whose polling ended in dfuDNLOAD-IDLE is done. */
static void facts_add_range(struct dfu_dl_facts *f, uint32_t address, uint32_t len)
{
	for (uint32_t i = 0; i < f->n_ranges; i++) {
		uint64_t end = (uint64_t)f->range_start[i] + f->range_len[i];

		if (end == address) {
			f->range_len[i] += len;
			return;
		}
		if (f->range_start[i] <= address && (uint64_t)address + len <= end)
			return; /* written again (a retry) */
	}
	if (f->n_ranges < DFU_FACTS_MAX) {
		f->range_start[f->n_ranges] = address;
		f->range_len[f->n_ranges] = len;
		f->n_ranges++;
	}
}

void dfu_facts_complete(struct dfu_dev *dev, const struct dfu_op *op)
{
	struct dfu_dl_facts *f = &dev->run->facts;
	const struct dfu_resend *rs = &dev->run->resend;

	if (!f->active || !rs->valid || rs->op != op)
		return;
	if (rs->value == 0 && dfu_dev_dfuse_like(dev)) {
		if (rs->data[0] == DFUSE_CMD_ERASE && rs->len == 5) {
			uint32_t a = le32_get(rs->data + 1);

			for (uint32_t i = 0; i < f->n_erased && i < DFU_FACTS_MAX; i++)
				if (f->erased[i] == a)
					return;
			if (f->n_erased < DFU_FACTS_MAX)
				f->erased[f->n_erased] = a;
			f->n_erased++;
		} else if (rs->data[0] == DFUSE_CMD_ERASE && rs->len == 1) {
			f->mass_erased = true;
		}
		return;
	}
	if (rs->have_pointer && rs->value >= 2) {
		uint32_t bs = rs->block_size ? rs->block_size : rs->len;
		uint32_t a = rs->pointer + (uint32_t)(rs->value - 2) * bs;

		facts_add_range(f, a, rs->len);
		if (f->have_vt && a < f->vt_sector + (uint64_t)f->vt_sector_size &&
		    (uint64_t)a + rs->len > f->vt_sector)
			f->vt_written = true;
	} else if (!rs->have_pointer) {
		/* plain DFU: offsets from the start of the image */
		facts_add_range(f, (uint32_t)f->bytes_done, rs->len);
	}
	f->bytes_done += rs->len;
}

/* Start the facts of a download of @img: the data bytes for this alt and the
 * sector of the vector table, found as dfuse.c's plan finds it. */
void dfu_facts_begin(struct dfu_dev *dev, const struct dfu_image *img, bool dfuse)
{
	struct dfu_dl_facts *f = &dev->run->facts;
	const struct dfuse_layout *l = dev->info.layout;
	struct dfu_vector_table vt;
	struct dfuse_sector sec;
	bool tagged = false;

	memset(f, 0, sizeof(*f));
	dev->run->resend.valid = false;
	dev->run->resend.have_pointer = false;
	f->active = true;
	f->dfuse = dfuse;
	for (size_t i = 0; i < img->n_segments; i++)
		if (img->segments[i].alt != DFU_ALT_NONE)
			tagged = true;
	for (size_t i = 0; i < img->n_segments; i++)
		if (!tagged || img->segments[i].alt == dev->info.alt)
			f->bytes_total += img->segments[i].length;
	if (dfuse && l && dfu_image_vector_table(img, false, 0, NULL, 0, &vt) == 0 &&
	    dfuse_layout_find_sector(l, vt.address, &sec) == 0 &&
	    (sec.attr & DFUSE_ATTR_ERASABLE)) {
		f->have_vt = true;
		f->vt_sector = sec.start;
		f->vt_sector_size = sec.size;
	}
}

static bool facts_erased(const struct dfu_dl_facts *f, uint32_t a)
{
	for (uint32_t i = 0; i < f->n_erased && i < DFU_FACTS_MAX; i++)
		if (f->erased[i] == a)
			return true;
	return false;
}

/* A device that broke the protocol (a short or zero-length GET_STATUS reply, a
 * state DFU 1.1 does not define, a state that cannot follow the request). */
#define PROTOCOL_HINT                                                                              \
	"the device answered against the DFU protocol: a bootloader bug, or a bad cable or "       \
	"hub; replug the device (or power-cycle the board) before the next try"

/* A refusal of dfuflash's own checks, which run before the first request. */
static bool host_refusal(int r)
{
	return r == DFU_E_INVAL || r == DFU_E_RANGE || r == DFU_E_MEMMAP || r == DFU_E_FORMAT ||
	       r == DFU_E_CONFLICT;
}

#define APPEND(...)                                                                                \
	do {                                                                                       \
		size_t used_ = strlen(out);                                                        \
		if (used_ < cap)                                                                   \
			snprintf(out + used_, cap - used_, __VA_ARGS__);                           \
	} while (0)

/*
 * e->detail for a download that failed after the device's memory was
 * touched: which sectors are erased, which ranges written, whether the
 * vector-table sector holds the new table yet; e->resumable when the failure
 * was the link's (running the same command again erases and writes all of
 * it again).
 */
void dfu_facts_describe(struct dfu_dev *dev, int r, struct dfu_error *e)
{
	const struct dfu_dl_facts *f = &dev->run->facts;
	char *out;
	size_t cap;

	if (!e || !e->err || !f->active)
		return;
	if (r == DFU_E_PROTOCOL && !e->hint)
		dfu_error_hint(e, PROTOCOL_HINT);
	if (e->detail[0])
		return;
	out = e->detail;
	cap = sizeof(e->detail);
	if (!f->dfuse && !f->bytes_done && (dfu_err_is_usb(r) || r == DFU_E_PROTOCOL)) {
		/* a plain DFU device starts replacing its firmware with the first block,
		 * and the host cannot tell whether that one arrived */
		APPEND("no block of the %llu bytes was confirmed, but the first may have "
		       "arrived: the device may hold an incomplete firmware and then stays in "
		       "DFU mode (or reports errFIRMWARE) until a download completes",
		       (unsigned long long)f->bytes_total);
		e->resumable = true;
		APPEND("; running the same command again erases and writes all of it");
		return;
	}
	if (!f->n_erased && !f->mass_erased && !f->n_ranges && host_refusal(r)) {
		/* the host's own checks (memory map, addresses, sizes) come first */
		APPEND("nothing was erased or written: the flash is unchanged");
		return;
	}
	if (!f->n_erased && !f->mass_erased && !f->n_ranges) {
		if (r != DFU_E_PROTOCOL)
			return;
		/* the garbled reply may have been the one to the first erase or write */
		APPEND("its replies broke the DFU protocol, so its DFU state is unknown; it "
		       "confirmed no erase and no write: the flash is unchanged unless the "
		       "request it answered wrongly started one");
		e->resumable = true;
		APPEND("; running the same command again erases and writes all of it");
		return;
	}
	if (!f->dfuse) {
		APPEND("%llu of %llu bytes were sent: the device holds an incomplete firmware and "
		       "stays in DFU mode (or reports errFIRMWARE) until a download completes",
		       (unsigned long long)f->bytes_done, (unsigned long long)f->bytes_total);
	} else {
		if (f->mass_erased)
			APPEND("the whole flash was mass-erased");
		if (f->n_erased) {
			APPEND("%s%u sector%s erased (", f->mass_erased ? "; " : "", f->n_erased,
			       f->n_erased == 1 ? "" : "s");
			for (uint32_t i = 0; i < f->n_erased && i < DFU_FACTS_MAX; i++)
				APPEND("%s0x%08x", i ? ", " : "", f->erased[i]);
			APPEND("%s)", f->n_erased > DFU_FACTS_MAX ? ", ..." : "");
		}
		if (f->n_ranges) {
			APPEND("; written: ");
			for (uint32_t i = 0; i < f->n_ranges; i++)
				APPEND("%s0x%08x..0x%08x", i ? ", " : "", f->range_start[i],
				       f->range_start[i] + f->range_len[i] - 1);
			APPEND(" (%llu of %llu bytes; the sectors after the last written byte are "
			       "erased or partially written)",
			       (unsigned long long)f->bytes_done,
			       (unsigned long long)f->bytes_total);
		} else {
			APPEND("; nothing written yet");
		}
		if (f->have_vt && !f->vt_written &&
		    (f->mass_erased || facts_erased(f, f->vt_sector)))
			APPEND(
			    "; the vector-table sector 0x%08x is erased and not yet written, so no "
			    "application can start: the chip stays in the bootloader",
			    f->vt_sector);
		else if (f->have_vt && f->vt_written)
			APPEND(
			    "; the vector-table sector 0x%08x was written: do not reset the chip "
			    "before the flash is complete",
			    f->vt_sector);
	}
	e->resumable = dfu_err_is_usb(r) || r == DFU_E_PROTOCOL;
	if (e->resumable)
		APPEND("; running the same command again erases and writes all of it");
}

/*
 * e->detail for a failed upload: a read changes nothing, and after a link
 * failure or a protocol violation it can simply be repeated once the device
 * answers again.
 */
void dfu_facts_describe_read(int r, struct dfu_error *e)
{
	bool again = dfu_err_is_usb(r) || r == DFU_E_PROTOCOL;

	if (!e || !e->err || e->detail[0])
		return;
	if (r == DFU_E_PROTOCOL && !e->hint)
		dfu_error_hint(e, PROTOCOL_HINT);
	snprintf(e->detail, sizeof(e->detail),
		 "a read changes nothing: the flash is unchanged%s%s%s",
		 r == DFU_E_PROTOCOL ? ", the DFU state unknown" : "",
		 again ? "; running the same command again reads all of it once the device "
			 "answers again"
		       : "",
		 r == DFU_E_USB_NODEV ? " (it left the bus: replug it)" : "");
}

/*
 * e->detail when nothing was erased or written: bringing the device to
 * dfuIDLE failed (only status, clear, abort and reset requests were sent), or
 * dfuflash refused the operation before its first request.
 */
void dfu_facts_describe_untouched(int r, struct dfu_error *e)
{
	if (!e || !e->err || e->detail[0])
		return;
	if (r == DFU_E_PROTOCOL && !e->hint)
		dfu_error_hint(e, PROTOCOL_HINT);
	snprintf(e->detail, sizeof(e->detail),
		 "nothing was erased or written: the flash is unchanged; running the same "
		 "command again does the whole job once the device answers in DFU mode");
}

#undef APPEND
