// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Plain DFU 1.1 (not DfuSe): download with manifestation, upload, and
 * leaving DFU mode.
 */
#include "config.h"

#include <stdlib.h>

#include "macro.h"
#include "proto.h"

/* The one run of bytes a plain DFU device gets (it has no addresses). */
static int plain_payload(const struct dfu_dev *dev, const struct dfu_image *img,
			 const struct dfu_segment **out, struct dfu_error *e)
{
	const struct dfu_segment *seg = NULL;
	size_t n = 0;

	for (size_t i = 0; i < img->n_segments; i++) {
		const struct dfu_segment *s = &img->segments[i];

		if (s->alt != DFU_ALT_NONE && s->alt != dev->info.alt)
			continue;
		if (!seg)
			seg = s;
		n++;
	}
	if (n == 0)
		return dfu_error_set(e, DFU_E_INVAL, "dfu.empty_image", NULL,
				     "the image has no data for alt %u", dev->info.alt);
	if (n > 1) {
		dfu_error_set(e, DFU_E_UNSUPPORTED, "dfu.sparse_image", NULL,
			      "a plain DFU device takes one contiguous image; this one has %zu "
			      "segments",
			      n);
		dfu_error_hint(e, "convert it to a flat binary first (dfuflash image convert "
				  "--format bin)");
		return DFU_E_UNSUPPORTED;
	}
	*out = seg;
	return 0;
}

static uint16_t effective_transfer_size(const struct dfu_dev *dev, const struct dfu_flash_opts *o)
{
	return o->transfer_size ? o->transfer_size : dev->transfer_size;
}

int dfu_plain_leave(struct dfu_dev *dev, struct dfu_flash_result *res, struct dfu_error *e)
{
	int r;

	/* DFU 1.1 8: a USB reset ends DFU mode; the device re-enumerating is success */
	dfu_log(dev->ctx, DFU_LOG_VERBOSE, "resetting the device to start the firmware");
	r = dfu_dev_reset(dev, e);
	if (r < 0)
		return r;
	res->left = true;
	return 0;
}

static int plain_upload_to(struct dfu_dev *dev, const struct dfu_flash_opts *opts,
			   struct dfu_buf *out, struct dfu_flash_result *res, struct dfu_error *e);

/* What the device must offer for a download with @opts (nothing is sent). */
static int plain_download_check(const struct dfu_dev *dev, const struct dfu_flash_opts *opts,
				uint16_t tsize, struct dfu_error *e)
{
	if (!(dev->info.attributes & DFU_ATTR_CAN_DNLOAD))
		return dfu_error_set(e, DFU_E_UNSUPPORTED, "dfu.cannot_download", NULL,
				     "the device does not support download (bitCanDnload is 0)");
	if (tsize == 0) {
		return dfu_error_no_transfer_size(e);
	}
	if (opts->verify && (!(dev->info.attributes & DFU_ATTR_CAN_UPLOAD) ||
			     !(dev->info.attributes & DFU_ATTR_MANIFEST_TOLERANT))) {
		/* read-back needs UPLOAD, and a device that is still there after
		 * manifestation (DFU 1.1 A.1: only a tolerant one returns to dfuIDLE) */
		dfu_error_set(e, DFU_E_UNSUPPORTED, "dfu.cannot_verify", NULL,
			      "verify is not possible: the device %s",
			      !(dev->info.attributes & DFU_ATTR_CAN_UPLOAD)
				  ? "cannot upload (bitCanUpload is 0)"
				  : "is not manifestation tolerant: it needs a reset after "
				    "the download");
		return DFU_E_UNSUPPORTED;
	}
	return 0;
}

/* The blocks of @seg; *@block becomes the number after the last one. */
static int plain_write_blocks(struct dfu_dev *dev, const struct dfu_flash_opts *opts,
			      const struct dfu_segment *seg, uint16_t tsize, uint16_t *block,
			      struct dfu_flash_result *res, struct dfu_error *e)
{
	struct dfu_status_reply st;
	struct dfu_op op;
	int r;

	/* DFU 1.1 7.1: blocks numbered from 0, the number wraps at 65535 */
	for (size_t off = 0; off < seg->length; off += tsize, (*block)++) {
		uint16_t n = (uint16_t)MIN((size_t)tsize, seg->length - off);

		dfu_op_init(&op, *block, "download block %u (offset %zu)", *block, off);
		r = dfu_request(dev, &op, DFU_REQ_DNLOAD, *block, seg->data + off, n, 0, e);
		if (r < 0)
			return r;
		r = dfu_poll(dev, &op, dfu_deadline(dev, opts, dfu_deadline_write_ms(dev, n)), &st,
			     e);
		if (r < 0)
			return r;
		if (st.state != DFU_STATE_DFU_DNLOAD_IDLE)
			return dfu_error_wrong_state(&op, &st, "dfuDNLOAD-IDLE", e);
		res->bytes_written += n;
		dfu_progress(dev->ctx, "download", res->bytes_written, seg->length);
	}
	return 0;
}

/*
 * The zero-length DNLOAD with wBlockNum @block and the manifestation.  *@gone
 * tells that the device left during it (res->left is set then).
 */
static int plain_manifest(struct dfu_dev *dev, const struct dfu_flash_opts *opts, uint16_t block,
			  bool *gone, struct dfu_flash_result *res, struct dfu_error *e)
{
	struct dfu_status_reply st;
	struct dfu_op op;
	struct dfu_error le;
	int r;

	/* the zero-length DNLOAD ends the transfer; manifestation follows (DFU 1.1 7.2) */
	dfu_op_init(&op, block, "zero-length DNLOAD (block %u) to manifest", block);
	r = dfu_request(dev, &op, DFU_REQ_DNLOAD, block, NULL, 0, 0, e);
	if (r < 0)
		return r;
	dfu_op_init(&op, -1, "manifestation");
	op.no_retry = true; /* an intolerant device may reset here */
	dfu_error_clear(&le);
	r = dfu_poll(dev, &op, dfu_deadline(dev, opts, DFU_DEADLINE_MANIFEST_MS), &st, &le);
	if (r < 0 && dfu_err_is_usb(r) && dfu_err_is_gone(r)) {
		/* a manifestation-intolerant device may reset instead of answering
		 * ("unable to read DFU status after completion", dapboot) */
		dfu_log(dev->ctx, DFU_LOG_VERBOSE, "device left during manifestation (%s): done",
			le.usb_name ? le.usb_name : dfu_strerror(r));
		*gone = true;
		res->left = true;
	} else if (r < 0) {
		if (e && !e->err)
			*e = le;
		return r;
	} else if (st.state == DFU_STATE_DFU_MANIFEST_WAIT_RESET) {
		dfu_log(dev->ctx, DFU_LOG_VERBOSE,
			"manifestation done: the device waits for a USB reset");
	} else if (st.state != DFU_STATE_DFU_IDLE) {
		return dfu_error_wrong_state(&op, &st, "dfuIDLE or dfuMANIFEST-WAIT-RESET", e);
	}
	return 0;
}

/* Read @seg back after the download and compare (--verify). */
static int plain_verify(struct dfu_dev *dev, const struct dfu_flash_opts *opts,
			const struct dfu_segment *seg, struct dfu_flash_result *res,
			struct dfu_error *e)
{
	struct dfu_buf back = { 0 };
	struct dfu_flash_opts uo = *opts;
	uint64_t diff = 0;
	bool first = true;
	int r;

	uo.have_length = true;
	uo.length = (uint32_t)MIN((uint64_t)seg->length + 1, (uint64_t)UINT32_MAX);
	r = plain_upload_to(dev, &uo, &back, res, e);
	if (r < 0) {
		dfu_buf_release(&back);
		return r;
	}
	for (size_t i = 0; i < seg->length; i++) {
		uint8_t got = i < back.len ? back.data[i] : 0;

		if (i >= back.len || got != seg->data[i]) {
			if (first) {
				res->mismatch_address = seg->address + (uint32_t)i;
				first = false;
			}
			diff++;
		}
	}
	dfu_progress(dev->ctx, "verify", seg->length, seg->length);
	dfu_buf_release(&back);
	if (diff) {
		res->mismatch = true;
		res->mismatch_count = diff;
		dfu_error_set(e, DFU_E_VERIFY, "dfu.verify_mismatch", NULL,
			      "verify failed: %llu of %zu bytes differ, the first at offset %u",
			      (unsigned long long)diff, seg->length,
			      res->mismatch_address - seg->address);
		if (e)
			dfu_error_device_at(e, "verify (read-back)", -1, res->mismatch_address);
		return DFU_E_VERIFY;
	}
	res->verified = true;
	return 0;
}

int dfu_plain_download(struct dfu_dev *dev, const struct dfu_image *img,
		       const struct dfu_flash_opts *opts, struct dfu_flash_result *res,
		       struct dfu_error *e)
{
	const struct dfu_segment *seg = NULL;
	uint16_t tsize = effective_transfer_size(dev, opts);
	uint16_t block = 0;
	bool gone = false;
	int r;

	r = plain_payload(dev, img, &seg, e);
	if (r < 0)
		return r;
	r = plain_download_check(dev, opts, tsize, e);
	if (r < 0)
		return r;
	r = dfu_dev_ensure_idle(dev, NULL, e);
	if (r < 0)
		return r;
	r = plain_write_blocks(dev, opts, seg, tsize, &block, res, e);
	if (r < 0)
		return r;
	r = plain_manifest(dev, opts, block, &gone, res, e);
	if (r < 0)
		return r;
	if (opts->verify && !gone) {
		r = plain_verify(dev, opts, seg, res, e);
		if (r < 0)
			return r;
	}
	if (opts->leave && !gone)
		return dfu_plain_leave(dev, res, e);
	return 0;
}

/* Plain DFU 1.1 upload (6.2): blocks from 0 until a short one, capped by
 * opts->length; appends to @out. */
static int plain_upload_to(struct dfu_dev *dev, const struct dfu_flash_opts *opts,
			   struct dfu_buf *out, struct dfu_flash_result *res, struct dfu_error *e)
{
	uint16_t tsize = effective_transfer_size(dev, opts);
	uint8_t *buf;
	uint16_t block = 0;
	struct dfu_op op;
	bool ended = false;
	int r;

	if (!(dev->info.attributes & DFU_ATTR_CAN_UPLOAD))
		return dfu_error_set(e, DFU_E_UNSUPPORTED, "dfu.cannot_upload", NULL,
				     "the device does not support upload (bitCanUpload is 0)");
	if (tsize == 0) {
		return dfu_error_no_transfer_size(e);
	}
	r = dfu_dev_ensure_idle(dev, NULL, e);
	if (r < 0)
		return r;
	buf = malloc(tsize);
	if (!buf)
		return dfu_error_set(e, DFU_E_NOMEM, "dfu.nomem", NULL, "out of memory");
	while (!opts->have_length || out->len < opts->length) {
		uint16_t want = tsize;

		if (opts->have_length && opts->length - out->len < want)
			want = (uint16_t)(opts->length - out->len);
		dfu_op_init(&op, block, "upload block %u (offset %zu)", block, out->len);
		r = dfu_request(dev, &op, DFU_REQ_UPLOAD, block, buf, want, 0, e);
		if (r < 0)
			goto out;
		if (dfu_buf_append(out, buf, (size_t)r) < 0) {
			r = dfu_error_set(e, DFU_E_NOMEM, "dfu.nomem", NULL, "out of memory");
			goto out;
		}
		res->bytes_read += (uint64_t)r;
		dfu_progress(dev->ctx, "upload", out->len, opts->have_length ? opts->length : 0);
		block++;
		if (r < want) {
			/* a short frame ends the upload; the device is back in dfuIDLE */
			ended = true;
			break;
		}
	}
	if (!ended) {
		/* stopped by the length cap: the device still sits in dfuUPLOAD-IDLE */
		dfu_op_init(&op, -1, "ABORT after upload");
		r = dfu_abort(dev, &op, e);
		if (r < 0)
			goto out;
	}
	r = 0;
out:
	free(buf);
	return r;
}

int dfu_plain_upload(struct dfu_dev *dev, const struct dfu_flash_opts *opts, struct dfu_image **out,
		     struct dfu_flash_result *res, struct dfu_error *e)
{
	struct dfu_buf data = { 0 };
	struct dfu_image *img = NULL;
	uint32_t base = opts->have_address ? opts->address : 0;
	int r;

	r = plain_upload_to(dev, opts, &data, res, e);
	if (r < 0)
		goto out;
	r = dfu_image_new(DFU_FORMAT_BIN, &img);
	if (r < 0) {
		dfu_error_set(e, r, "dfu.nomem", NULL, "out of memory");
		goto out;
	}
	if (data.len) {
		r = dfu_image_add(img, DFU_ALT_NONE, base, data.data, data.len, NULL, NULL, e);
		if (r < 0)
			goto out;
	}
	*out = img;
	img = NULL;
	r = 0;
out:
	r = dfu_upload_refused(r, e);
	dfu_image_free(img);
	dfu_buf_release(&data);
	return r;
}
