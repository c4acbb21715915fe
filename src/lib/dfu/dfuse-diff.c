// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Differential re-flash for DfuSe: before erasing, compare each sector a
 * download would erase with what a full erase-and-write would leave in it
 * (the image's bytes, 0xff elsewhere) and tell which ones already hold it.
 * Reads only; what to skip is dfuse.c's decision.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "proto.h"

const char *dfuse_diff_unavailable(const struct dfu_dev *dev, const struct dfuse_sector *secs,
				   size_t n)
{
	if (!(dev->info.attributes & DFU_ATTR_CAN_UPLOAD))
		return "the device cannot upload (no bitCanUpload)";
	for (size_t i = 0; i < n; i++)
		if (!(secs[i].attr & DFUSE_ATTR_READABLE))
			return "a sector to write is not readable in the memory map";
	return NULL;
}

/* What a full flash leaves in @s: the image's bytes, the erased value elsewhere;
 * DFUSE_DIFF_ERASE_ONLY when that is all 0xff. */
static enum dfuse_diff_verdict expected(const struct dfu_image *img, int alt,
					const struct dfuse_sector *s, uint8_t *want)
{
	dfu_image_read(img, alt, s->start, want, s->size, 0xff);
	for (uint32_t k = 0; k < s->size; k++)
		if (want[k] != 0xff)
			return DFUSE_DIFF_CHANGED;
	return DFUSE_DIFF_ERASE_ONLY;
}

/*
 * After a difference at @stop in @s: whether reading the rest of @s to stay
 * in the stream is cheaper than a new Set Address for @next (none is needed
 * when the pointer the device holds reaches @next).  A seek costs
 * four transfers and the waits the engine chose for it last time (an ST ROM
 * announces 104 ms for Set Address; a ROM polled at once costs none); an
 * UPLOAD of T bytes about 1 + T/1024 ms at full speed (an F4 ROM reads 256 KiB
 * in 0.42 s).  The waits, not the clock: the same device and options give the
 * same requests however busy the host is.  Reading on needs @next to follow
 * @s directly.
 */
static bool read_on(const struct dfuse_reader *rd, const struct dfuse_sector *s, uint32_t stop,
		    const struct dfuse_sector *next)
{
	uint64_t blocks, upload_ms = 1 + rd->tsize / 1024u;

	if (!next || next->start != (uint64_t)s->start + s->size || stop >= s->size)
		return false;
	/* a block number reaches it from the pointer: seeking is free */
	if (dfuse_block_from_pointer(rd->dev, rd->per_chunk, rd->tsize, next->start,
				     MIN((uint32_t)rd->tsize, next->size)))
		return false;
	blocks = (s->size - stop + rd->tsize - 1) / rd->tsize;
	return blocks * upload_ms < rd->seek_wait_ms + 4;
}

/*
 * Read @s chunk by chunk and compare with @want, stopping at the first
 * difference: a sector of a different image costs one block, or the rest of
 * the sector when that is cheaper than seeking to @next.  The reader
 * continues across sectors, so an unchanged image reads as one stream.
 */
static int compare_sector(struct dfuse_reader *rd, const struct dfuse_sector *s,
			  const struct dfuse_sector *next, const uint8_t *want, uint8_t *got,
			  uint64_t *read, bool *same, struct dfu_error *e)
{
	bool differs = false;

	for (uint32_t off = 0; off < s->size;) {
		uint32_t chunk = MIN((uint32_t)rd->tsize, s->size - off);
		int r;

		if (differs && !read_on(rd, s, off, next))
			break;
		r = dfuse_reader_chunk(rd, s->start + off, got, chunk, e);
		if (r < 0)
			return r;
		*read += (uint64_t)r;
		if ((uint32_t)r < chunk || memcmp(got, want + off, chunk) != 0)
			differs = true;
		if ((uint32_t)r < chunk)
			break;
		off += chunk;
	}
	*same = !differs;
	return 0;
}

/*
 * Whether a failed read means "this device cannot be read" rather than a
 * fault: RDP level 1 answers errVENDOR to the read or, on F4/F7 ROMs, already
 * to Set Address (AN2662; betaflight), and a bootloader without a working
 * upload refuses the UPLOAD itself (a stall with dfuERROR).  Any other
 * failure is an error like a failed erase, for the caller's recovery.
 */
static bool refused_read(const struct dfuse_reader *rd, int r, const struct dfu_error *le)
{
	if (le->have_state && le->status == DFU_STATUS_ERR_VENDOR)
		return true;
	return rd->upload_failed && (r == DFU_E_USB_PIPE || r == DFU_E_DEVSTATUS) &&
	       le->have_state && le->state == DFU_STATE_DFU_ERROR;
}

/* A refused read: the device is brought back to dfuIDLE (failing that is the
 * error) and the caller erases and writes everything, which needs no read. */
static int unreadable(struct dfu_dev *dev, const struct dfu_error *le, char *why, size_t why_size,
		      struct dfu_error *e)
{
	int r;

	if (le->status == DFU_STATUS_ERR_VENDOR)
		snprintf(why, why_size,
			 "the device refused to read (%s: errVENDOR, read-protected)", le->op);
	else
		snprintf(why, why_size, "the device refused to read (%s: %s)", le->op,
			 dfu_status_name(le->status));
	dfu_log(dev->ctx, DFU_LOG_VERBOSE, "compare: %s", le->message);
	r = dfu_dev_ensure_idle(dev, NULL, e);
	return r < 0 ? r : 1;
}

int dfuse_diff_compare(struct dfu_dev *dev, const struct dfu_flash_opts *opts,
		       const struct dfu_image *img, int alt, const struct dfuse_sector *secs,
		       size_t n, enum dfuse_diff_verdict *verdict, uint64_t *bytes_read, char *why,
		       size_t why_size, struct dfu_error *e)
{
	struct dfuse_reader rd;
	struct dfu_error le;
	uint32_t largest = 0;
	uint8_t *want, *got;
	int r = 0;

	for (size_t i = 0; i < n; i++)
		largest = MAX(largest, secs[i].size);
	dfuse_reader_init(&rd, dev, opts);
	want = malloc(largest ? largest : 1);
	got = malloc(rd.tsize ? rd.tsize : 1);
	if (!want || !got) {
		free(want);
		free(got);
		return dfu_error_set(e, DFU_E_NOMEM, "dfu.nomem", NULL, "out of memory");
	}
	dfu_error_clear(&le);
	for (size_t i = 0; i < n && r >= 0; i++) {
		bool same = false;

		verdict[i] = expected(img, alt, &secs[i], want);
		r = compare_sector(&rd, &secs[i], i + 1 < n ? &secs[i + 1] : NULL, want, got,
				   bytes_read, &same, &le);
		if (r >= 0 && same)
			verdict[i] = DFUSE_DIFF_SAME;
		dfu_progress(dev->ctx, "compare", i + 1, n);
	}
	if (r >= 0)
		r = dfuse_reader_end(&rd, &le);
	free(want);
	free(got);
	if (r < 0 && refused_read(&rd, r, &le))
		return unreadable(dev, &le, why, why_size, e);
	if (r < 0 && e && !e->err)
		*e = le;
	return r < 0 ? r : 0;
}

int dfuse_diff_first_blocks_blank(struct dfu_dev *dev, const struct dfu_flash_opts *opts,
				  const struct dfuse_sector *secs, size_t n, bool *blank,
				  uint64_t *bytes_read, struct dfu_error *e)
{
	struct dfuse_reader rd;
	uint8_t *got;
	int r = 0;

	*blank = true;
	dfuse_reader_init(&rd, dev, opts);
	got = malloc(rd.tsize ? rd.tsize : 1);
	if (!got)
		return dfu_error_set(e, DFU_E_NOMEM, "dfu.nomem", NULL, "out of memory");
	for (size_t i = 0; i < n && r >= 0 && *blank; i++) {
		uint32_t chunk = MIN((uint32_t)rd.tsize, secs[i].size);

		r = dfuse_reader_chunk(&rd, secs[i].start, got, chunk, e);
		if (r < 0)
			break;
		*bytes_read += (uint64_t)r;
		for (int k = 0; k < r && *blank; k++)
			*blank = got[k] == 0xff;
		if (*blank && (uint32_t)r < chunk)
			*blank = false; /* a short read proves nothing */
	}
	if (r >= 0)
		r = dfuse_reader_end(&rd, e);
	free(got);
	return r < 0 ? r : 0;
}
