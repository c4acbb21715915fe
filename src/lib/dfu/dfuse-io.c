// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * ST DfuSe (AN3156) commands and reads on top of request.c: a command and its
 * polling, Set Address, ABORT back to dfuIDLE and reading memory with UPLOAD.
 * The download, upload and leave that use them are in dfuse.c.
 */
#include "config.h"

#include <string.h>

#include "macro.h"
#include "protect.h"
#include "proto.h"
#include "util.h"

/*
 * A DfuSe command (DNLOAD wBlockNum 0) and its GET_STATUS polling until
 * dfuDNLOAD-IDLE (AN3156: the device executes the command when it answers the
 * first GET_STATUS with dfuDNBUSY; a later one tells the result).  The first
 * GET_STATUS may already say dfuDNLOAD-IDLE (STM32U5): accepted.
 */
int dfuse_command(struct dfu_dev *dev, const struct dfu_op *op, const uint8_t *cmd, uint16_t len,
		  uint64_t deadline_ms, struct dfu_error *e)
{
	struct dfu_status_reply st;
	uint8_t buf[5];
	int r;

	memcpy(buf, cmd, len);
	r = dfu_request(dev, op, DFU_REQ_DNLOAD, 0, buf, len, 0, e);
	if (r < 0)
		return r;
	r = dfu_poll(dev, op, deadline_ms, &st, e);
	if (r < 0)
		return r;
	if (st.state != DFU_STATE_DFU_DNLOAD_IDLE)
		return dfu_error_wrong_state(op, &st, "dfuDNLOAD-IDLE", e);
	return 0;
}

int dfuse_set_address(struct dfu_dev *dev, const struct dfu_flash_opts *opts, uint32_t address,
		      struct dfu_error *e)
{
	uint8_t cmd[5] = { DFUSE_CMD_SET_ADDRESS };
	struct dfu_op op;
	int r;

	le32_put(cmd + 1, address);
	dfu_op_init_at(&op, 0, address, "DfuSe Set Address 0x%08x", address);
	dfu_log(dev->ctx, DFU_LOG_DEBUG, "Set Address 0x%08x", address);
	r = dfuse_command(dev, &op, cmd, sizeof(cmd),
			  dfu_deadline(dev, opts, DFU_DEADLINE_COMMAND_MS), e);
	if (r < 0)
		return r;
	dev->pointer_known = true;
	dev->pointer = address;
	return 0;
}

/* Back to dfuIDLE after Set Address or a read (AN3156: UPLOAD needs dfuIDLE). */
int dfuse_abort_to_idle(struct dfu_dev *dev, const char *why, struct dfu_error *e)
{
	struct dfu_op op;

	dfu_op_init(&op, -1, "ABORT %s", why);
	return dfu_abort(dev, &op, e);
}

uint16_t dfuse_transfer_size(const struct dfu_dev *dev, const struct dfu_flash_opts *opts)
{
	return opts->transfer_size ? opts->transfer_size : dev->transfer_size;
}

/*
 * The address formula pointer + (wBlockNum - 2) * T uses the descriptor's
 * wTransferSize in ST's DFU class (usbd_dfu.c, USBD_DFU_XFER_SIZE): with
 * another -t the blocks would land elsewhere, so each chunk then gets its own
 * Set Address.
 */
bool dfuse_address_per_chunk(const struct dfu_dev *dev, uint16_t tsize)
{
	return dev->info.transfer_size && tsize != dev->info.transfer_size;
}

/*
 * Whether the next chunk needs a fresh Set Address: the first of a run,
 * a chunk after the block number would wrap, every chunk with a foreign
 * transfer size, and a short chunk after the first (AN2662 defines T as
 * "the length of the requested data buffer": some ROMs compute a short
 * block's address with its own length).
 */
bool dfuse_needs_address(bool per_chunk, unsigned block, uint32_t chunk, uint16_t tsize)
{
	if (block == DFUSE_FIRST_BLOCK || per_chunk || block > 0xffff)
		return true;
	return chunk < tsize;
}

/*
 * The wBlockNum that reaches @address from @pointer, or 0.  An ST ROM
 * computes every block's address as pointer + (wBlockNum - 2) *
 * wTransferSize (AN3156, the ST HAL's usbd_dfu.c), so any full block above
 * the pointer is one request away, in any order.  Other DfuSe devices may
 * count blocks rather than compute: they only continue a sequence (the
 * callers' own numbering), so for them this is 0, as for a device with the
 * quirk sequential-blocks.  Numbered blocks after the first must have the
 * transfer size (dfuse_needs_address).
 */
unsigned dfuse_block_between(const struct dfu_dev *dev, bool per_chunk, uint16_t tsize,
			     uint32_t pointer, uint32_t address, uint32_t chunk)
{
	uint64_t block;

	if (per_chunk || tsize == 0 || (dev->quirks & DFU_QUIRK_SEQUENTIAL_BLOCKS) ||
	    !dfuse_is_st_rom(dev))
		return 0;
	if (address < pointer || (address - pointer) % tsize)
		return 0;
	block = DFUSE_FIRST_BLOCK + (address - pointer) / tsize;
	if (block > 0xffff || (block != DFUSE_FIRST_BLOCK && chunk < tsize))
		return 0;
	return (unsigned)block;
}

/* dfuse_block_between() from the pointer the device holds, when this host
 * knows it and it is the one a retry would set again (request.c). */
unsigned dfuse_block_from_pointer(const struct dfu_dev *dev, bool per_chunk, uint16_t tsize,
				  uint32_t address, uint32_t chunk)
{
	const struct dfu_resend *rs = &dev->run->resend;

	if (!dev->pointer_known || !rs->have_pointer || rs->pointer != dev->pointer ||
	    (rs->block_size && rs->block_size != tsize))
		return 0;
	return dfuse_block_between(dev, per_chunk, tsize, dev->pointer, address, chunk);
}

void dfuse_reader_init(struct dfuse_reader *rd, struct dfu_dev *dev,
		       const struct dfu_flash_opts *opts)
{
	*rd = (struct dfuse_reader){ .dev = dev, .opts = opts };
	rd->tsize = dfuse_transfer_size(dev, opts);
	rd->per_chunk = dfuse_address_per_chunk(dev, rd->tsize);
	rd->block = DFUSE_FIRST_BLOCK;
}

/* Point the device at @address for UPLOAD wBlockNum 2 (AN3156: Set Address is a
 * DNLOAD, not allowed in dfuUPLOAD-IDLE; UPLOAD needs dfuIDLE after it). */
static int reader_seek(struct dfuse_reader *rd, uint32_t address, struct dfu_error *e)
{
	uint64_t slept = dfu_slept_ms(rd->dev->ctx);
	int r;

	if (rd->open) {
		r = dfuse_abort_to_idle(rd->dev, "before Set Address", e);
		if (r < 0)
			return r;
	}
	rd->open = false;
	rd->block = DFUSE_FIRST_BLOCK;
	r = dfuse_set_address(rd->dev, rd->opts, address, e);
	if (r < 0)
		return r;
	r = dfuse_abort_to_idle(rd->dev, "after Set Address", e);
	if (r < 0)
		return r;
	rd->open = true;
	rd->next = address;
	rd->seek_wait_ms = dfu_slept_ms(rd->dev->ctx) - slept;
	return 0;
}

int dfuse_reader_chunk(struct dfuse_reader *rd, uint32_t address, uint8_t *buf, uint32_t chunk,
		       struct dfu_error *e)
{
	unsigned at = dfuse_block_from_pointer(rd->dev, rd->per_chunk, rd->tsize, address, chunk);
	struct dfu_op op;
	int r;

	if (at) {
		/* the pointer the device holds reaches it: no Set Address */
		if (!rd->open) {
			r = dfuse_abort_to_idle(rd->dev, "before reading", e);
			if (r < 0)
				return r;
			rd->open = true;
		}
		rd->block = at;
	} else if (!rd->open || address != rd->next ||
		   dfuse_needs_address(rd->per_chunk, rd->block, chunk, rd->tsize)) {
		r = reader_seek(rd, address, e);
		if (r < 0)
			return r;
	}
	dfu_op_init_at(&op, (int)rd->block, address, "DfuSe read block %u at 0x%08x", rd->block,
		       address);
	r = dfu_request(rd->dev, &op, DFU_REQ_UPLOAD, (uint16_t)rd->block, buf, (uint16_t)chunk, 0,
			e);
	rd->upload_failed = r < 0;
	if (r < 0)
		return r;
	rd->next = address + (uint32_t)r;
	rd->block++;
	return r;
}

int dfuse_reader_end(struct dfuse_reader *rd, struct dfu_error *e)
{
	rd->open = false;
	return dfuse_abort_to_idle(rd->dev, "after reading", e);
}

int dfuse_reader_read(struct dfuse_reader *rd, uint32_t address, uint8_t *buf, uint32_t len,
		      const char *phase, uint64_t *progress, uint64_t total, struct dfu_error *e)
{
	uint32_t off = 0;
	int r;

	while (off < len) {
		uint32_t chunk = MIN((uint32_t)rd->tsize, len - off);

		r = dfuse_reader_chunk(rd, address + off, buf + off, chunk, e);
		if (r < 0)
			return r;
		off += (uint32_t)r;
		*progress += (uint64_t)r;
		dfu_progress(rd->dev->ctx, phase, *progress, total);
		if ((uint32_t)r < chunk) {
			dfu_log(rd->dev->ctx, DFU_LOG_VERBOSE,
				"short read at 0x%08x: %d of %u bytes", address + off - (uint32_t)r,
				r, chunk);
			break;
		}
	}
	return (int)off;
}

/*
 * Read @len bytes from @address into @buf: Set Address, ABORT to dfuIDLE,
 * UPLOAD wBlockNum 2, 3, ...  Returns the bytes read (less on a short reply).
 * Leaves the device in dfuIDLE.
 */
int dfuse_read_memory(struct dfu_dev *dev, const struct dfu_flash_opts *opts, uint32_t address,
		      uint8_t *buf, uint32_t len, const char *phase, uint64_t *progress,
		      uint64_t total, struct dfu_error *e)
{
	struct dfuse_reader rd;
	int r, got;

	dfuse_reader_init(&rd, dev, opts);
	got = dfuse_reader_read(&rd, address, buf, len, phase, progress, total, e);
	if (got < 0)
		return got;
	r = dfuse_reader_end(&rd, e);
	if (r < 0)
		return r;
	return got;
}
