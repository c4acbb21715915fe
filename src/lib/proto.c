// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * DFU 1.1 on the wire: the one request function every class request goes
 * through, GET_STATUS and the polling rules of DFU 1.1 6.1.2, bringing a
 * device to dfuIDLE, and the plain (non-DfuSe) download, upload and leave.
 * The public dfu_dev_download/upload/leave dispatch here to DfuSe (dfuse.c)
 * or plain DFU.  Talks to USB only through the handle of transport.h.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "proto.h"
#include "util.h"

/* GET_DESCRIPTOR of a string (USB 2.0 9.4.3), for the status iString. */
#define USB_RT_DEVICE_IN 0x80
#define USB_REQ_GET_DESCRIPTOR 0x06
#define USB_DT_STRING 0x03

/* dfu-util's fallback for devices with bogus bwPollTimeout (QUIRK_POLLTIMEOUT). */
#define BOGUS_POLL_MS 5u
/* A busy reply announcing bwPollTimeout 0 (Black Magic Probe, fwupd's
 * allow-zero-polltimeout devices) is polled again after this long, so that a
 * device that never finishes cannot spin the host; the deadline ends it. */
#define ZERO_POLL_FLOOR_MS 1u
/* GET_STATUS may be held (NAKed) by a ROM busy in its flash loop for the whole
 * operation (device-model.md 1.7); pydfu uses 20 s for GET_STATUS.  Give the
 * transfer the remaining deadline, within these bounds. */
#define STATUS_TIMEOUT_MIN_MS 5000u
#define STATUS_TIMEOUT_MAX_MS 120000u
/* Stalled GET_STATUS polls tolerated while a device is busy (dfu-util: 3). */
#define POLL_STALL_RETRIES 20u

static const char *const request_names[] = {
	"DFU_DETACH",    "DFU_DNLOAD",   "DFU_UPLOAD", "DFU_GETSTATUS",
	"DFU_CLRSTATUS", "DFU_GETSTATE", "DFU_ABORT",
};

static const char *request_name(uint8_t req)
{
	return req < ARRAY_SIZE(request_names) ? request_names[req] : "DFU_?";
}

void dfu_op_init(struct dfu_op *op, int block, bool have_address, uint32_t address, const char *fmt,
		 ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(op->name, sizeof(op->name), fmt, ap);
	va_end(ap);
	op->block = block;
	op->have_address = have_address;
	op->address = address;
}

bool dfu_err_is_gone(int err)
{
	return err == DFU_E_USB_NODEV || err == DFU_E_USB_PIPE || err == DFU_E_USB_IO ||
	       err == DFU_E_USB_TIMEOUT || err == DFU_E_USB_OTHER || err == DFU_E_NOTFOUND;
}

uint64_t dfu_deadline(struct dfu_dev *dev, const struct dfu_flash_opts *opts, uint32_t default_ms)
{
	uint32_t ms = opts && opts->timeout_ms ? opts->timeout_ms : default_ms;

	return dfu_now_ms(dev->ctx) + ms;
}

/* Record the device fields of a failure, once (only when @e was empty). */
static void fill_device(struct dfu_error *e, bool was_empty, const struct dfu_op *op)
{
	if (e && was_empty && e->err)
		dfu_error_device(e, op->name, op->block, op->have_address, op->address);
}

/* Read the string @index (LANGID 0x0409) as ASCII into @out; best effort. */
static void read_istring(struct dfu_dev *dev, uint8_t index, char *out, size_t cap)
{
	uint8_t buf[255];
	const char *usb_name = NULL;
	size_t k = 0;
	int r;

	out[0] = '\0';
	r = dev->h->ops->control(dev->h, USB_RT_DEVICE_IN, USB_REQ_GET_DESCRIPTOR,
				 (uint16_t)(USB_DT_STRING << 8 | index), 0x0409, buf, sizeof(buf),
				 1000, &usb_name);
	if (r < 2 || buf[1] != USB_DT_STRING)
		return;
	if (buf[0] < r)
		r = buf[0];
	for (int i = 2; i + 1 < r && k + 1 < cap; i += 2)
		out[k++] = buf[i + 1] || buf[i] < 0x20 || buf[i] > 0x7e ? '?' : (char)buf[i];
	out[k] = '\0';
}

/* The hint for a device verdict, by bStatus (device-model.md 0.3, 1.10). */
static const char *status_hint(const struct dfu_dev *dev, const struct dfu_op *op, uint8_t status)
{
	switch (status) {
	case DFU_STATUS_ERR_VENDOR:
		if (dev->dfuse)
			return "the chip may be read-protected (RDP level 1): ST bootloaders "
			       "refuse "
			       "erase, write and read with errVENDOR; removing the protection "
			       "(:unprotect) mass-erases the flash";
		return "the device reports a vendor-specific error (see its iString)";
	case DFU_STATUS_ERR_TARGET:
		if (dev->dfuse)
			return "the bootloader refused the address: check the base address (-s) "
			       "and "
			       "the memory map (dfuflash list -v)";
		return "the file is not meant for this device";
	case DFU_STATUS_ERR_WRITE:
	case DFU_STATUS_ERR_PROG:
	case DFU_STATUS_ERR_ERASE:
	case DFU_STATUS_ERR_CHECK_ERASED:
	case DFU_STATUS_ERR_VERIFY:
		return "the flash could not be programmed: write protection or a worn sector";
	case DFU_STATUS_ERR_NOTDONE:
		return "the device considers the firmware incomplete";
	case DFU_STATUS_ERR_STALLEDPKT:
		if (dev->dfuse && op->block == 0)
			return "the bootloader does not support this DfuSe command";
		return "the device stalled a request it did not expect (transfer size too large?)";
	default:
		return NULL;
	}
}

int dfu_error_devstatus(struct dfu_dev *dev, const struct dfu_op *op,
			const struct dfu_status_reply *st, struct dfu_error *e)
{
	bool was_empty = e && !e->err;

	dfu_error_set(e, DFU_E_DEVSTATUS, "dfu.device_status", NULL,
		      "%s failed: device reports %s, status %u (%s): %s", op->name,
		      dfu_state_name(st->state), st->status, dfu_status_name(st->status),
		      dfu_status_text(st->status));
	if (was_empty && e) {
		fill_device(e, was_empty, op);
		dfu_error_state(e, st->state, st->status);
		dfu_error_hint(e, status_hint(dev, op, st->status));
		if (st->istring)
			read_istring(dev, st->istring, e->istring, sizeof(e->istring));
	}
	return DFU_E_DEVSTATUS;
}

int dfu_error_wrong_state(const struct dfu_op *op, const struct dfu_status_reply *st,
			  const char *expected, struct dfu_error *e)
{
	bool was_empty = e && !e->err;

	dfu_error_set(e, DFU_E_PROTOCOL, "dfu.wrong_state", NULL,
		      "%s: device went to %s (status %s), expected %s", op->name,
		      dfu_state_name(st->state), dfu_status_name(st->status), expected);
	if (was_empty) {
		fill_device(e, was_empty, op);
		dfu_error_state(e, st->state, st->status);
	}
	return DFU_E_PROTOCOL;
}

int dfu_request(struct dfu_dev *dev, const struct dfu_op *op, uint8_t request, uint16_t value,
		uint8_t *data, uint16_t len, unsigned timeout_ms, struct dfu_error *e)
{
	bool in = request == DFU_REQ_UPLOAD || request == DFU_REQ_GETSTATUS ||
		  request == DFU_REQ_GETSTATE;
	const char *usb_name = NULL;
	bool was_empty = e && !e->err;
	int r;

	r = dev->h->ops->control(dev->h, in ? DFU_RT_IN : DFU_RT_OUT, request, value,
				 dev->info.interface, data, len, timeout_ms, &usb_name);
	dfu_log(dev->ctx, DFU_LOG_TRACE, "%s wValue=%u wLength=%u (%s) -> %d%s%s",
		request_name(request), value, len, op->name, r, r < 0 ? " " : "",
		r < 0 ? (usb_name ? usb_name : dfu_strerror(r)) : "");
	if (r >= 0)
		return r;
	/*
	 * The one place a failed request is classified.  Transient failures
	 * (PIPE/TIMEOUT/IO on GET_STATUS, DNLOAD, Set Address) are where bounded
	 * retries belong; none are made yet: each failure is reported.
	 */
	dfu_error_set(e, r, "dfu.usb", NULL, "%s: %s failed: %s", op->name, request_name(request),
		      usb_name ? usb_name : dfu_strerror(r));
	if (was_empty) {
		fill_device(e, was_empty, op);
		e->usb_err = r;
		e->usb_name = usb_name;
	}
	if (r == DFU_E_USB_PIPE && (request == DFU_REQ_DNLOAD || request == DFU_REQ_UPLOAD)) {
		/* a stalled transfer usually comes with dfuERROR and the reason (UPLOAD
		 * under RDP: errVENDOR, device-model.md 1.9): ask once, best effort */
		uint8_t b[6];
		int s = dev->h->ops->control(dev->h, DFU_RT_IN, DFU_REQ_GETSTATUS, 0,
					     dev->info.interface, b, sizeof(b), 0, NULL);

		dfu_log(dev->ctx, DFU_LOG_TRACE, "DFU_GETSTATUS after the stall -> %d", s);
		if (s == 6 && was_empty && e) {
			dfu_error_state(e, b[4], b[0]);
			if (b[4] == DFU_STATE_DFU_ERROR)
				dfu_error_hint(e, status_hint(dev, op, b[0]));
		}
	}
	return r;
}

int dfu_get_status(struct dfu_dev *dev, const struct dfu_op *op, unsigned timeout_ms,
		   struct dfu_status_reply *st, struct dfu_error *e)
{
	uint8_t b[6] = {0};
	bool was_empty = e && !e->err;
	int r;

	r = dfu_request(dev, op, DFU_REQ_GETSTATUS, 0, b, sizeof(b), timeout_ms, e);
	if (r < 0)
		return r;
	if (r < (int)sizeof(b)) {
		/* dfu-util takes this for success with made-up contents (dfu-util.md 4.1) */
		dfu_error_set(e, DFU_E_PROTOCOL, "dfu.short_status", NULL,
			      "%s: short GET_STATUS reply: %d of 6 bytes", op->name, r);
		fill_device(e, was_empty, op);
		return DFU_E_PROTOCOL;
	}
	st->status = b[0];
	st->poll_timeout_ms = (uint32_t)b[1] | (uint32_t)b[2] << 8 | (uint32_t)b[3] << 16;
	st->state = b[4];
	st->istring = b[5];
	if (dev->quirks & DFU_QUIRK_POLL_TIMEOUT_BOGUS)
		st->poll_timeout_ms = BOGUS_POLL_MS;
	dev->last = *st;
	dfu_log(dev->ctx, DFU_LOG_TRACE, "  status %s, state %s, bwPollTimeout %u ms",
		dfu_status_name(st->status), dfu_state_name(st->state), st->poll_timeout_ms);
	return 0;
}

int dfu_clr_status(struct dfu_dev *dev, const struct dfu_op *op, struct dfu_error *e)
{
	int r = dfu_request(dev, op, DFU_REQ_CLRSTATUS, 0, NULL, 0, 0, e);

	return r < 0 ? r : 0;
}

int dfu_abort(struct dfu_dev *dev, const struct dfu_op *op, struct dfu_error *e)
{
	int r = dfu_request(dev, op, DFU_REQ_ABORT, 0, NULL, 0, 0, e);

	return r < 0 ? r : 0;
}

static bool state_busy(uint8_t state)
{
	return state == DFU_STATE_DFU_DNLOAD_SYNC || state == DFU_STATE_DFU_DNBUSY ||
	       state == DFU_STATE_DFU_MANIFEST_SYNC || state == DFU_STATE_DFU_MANIFEST;
}

static unsigned status_timeout(struct dfu_dev *dev, uint64_t deadline_ms)
{
	uint64_t now = dfu_now_ms(dev->ctx);
	uint64_t left = deadline_ms > now ? deadline_ms - now : 0;

	left += 1000;
	if (left < STATUS_TIMEOUT_MIN_MS)
		left = STATUS_TIMEOUT_MIN_MS;
	if (left > STATUS_TIMEOUT_MAX_MS)
		left = STATUS_TIMEOUT_MAX_MS;
	return (unsigned)left;
}

/*
 * The device is still busy at the deadline.  STM32CubeProgrammer's unstick
 * for the STM32H743 bank-2 erase (device-model.md 1.7): CLRSTATUS gives
 * dfuERROR/errUNKNOWN, a second one dfuIDLE.  Best effort: the deadline is
 * the error reported either way.
 */
static void unstick(struct dfu_dev *dev)
{
	struct dfu_status_reply st;
	struct dfu_op op;

	dfu_op_init(&op, -1, false, 0, "CLRSTATUS to unstick a busy device");
	for (int i = 0; i < 2; i++) {
		if (dfu_clr_status(dev, &op, NULL) < 0)
			return;
		if (dfu_get_status(dev, &op, 0, &st, NULL) < 0)
			return;
		if (st.state == DFU_STATE_DFU_IDLE)
			break;
	}
	dfu_log(dev->ctx, DFU_LOG_VERBOSE, "unstick with CLRSTATUS: device now %s, status %s",
		dfu_state_name(dev->last.state), dfu_status_name(dev->last.status));
}

int dfu_poll(struct dfu_dev *dev, const struct dfu_op *op, uint64_t deadline_ms,
	     struct dfu_status_reply *st, struct dfu_error *e)
{
	uint64_t start = dfu_now_ms(dev->ctx);
	uint32_t last_wait = 0;
	unsigned stalls = 0;
	int r;

	for (;;) {
		struct dfu_error le;
		uint64_t now;
		uint32_t wait;

		dfu_error_clear(&le);
		r = dfu_get_status(dev, op, status_timeout(dev, deadline_ms), st, &le);
		if (r == DFU_E_USB_PIPE && last_wait && stalls < POLL_STALL_RETRIES &&
		    dfu_now_ms(dev->ctx) < deadline_ms) {
			/* STM32L4/F072 stall a GET_STATUS sent while the flash is still
			 * busy when they announced too short a bwPollTimeout (dfu-util's
			 * L4 workaround, openmv 1508): wait that long again and ask again */
			stalls++;
			dfu_log(dev->ctx, DFU_LOG_DEBUG,
				"%s: GET_STATUS stalled while busy (%u), waiting %u ms again",
				op->name, stalls, last_wait);
			dfu_sleep_ms(dev->ctx, last_wait);
			continue;
		}
		if (r < 0) {
			if (e && !e->err)
				*e = le;
			return r;
		}
		if (st->state == DFU_STATE_DFU_ERROR)
			return dfu_error_devstatus(dev, op, st, e);
		if (!state_busy(st->state))
			return 0; /* idle or final: no waiting (DFU 1.1 6.1.2) */
		now = dfu_now_ms(dev->ctx);
		if (now >= deadline_ms) {
			struct dfu_status_reply busy = *st;
			bool was_empty = e && !e->err;

			unstick(dev);
			dfu_error_set(
			    e, DFU_E_DEADLINE, "dfu.deadline", NULL,
			    "%s did not finish within %llu ms: the device still reports %s",
			    op->name, (unsigned long long)(now - start),
			    dfu_state_name(busy.state));
			if (was_empty) {
				fill_device(e, was_empty, op);
				dfu_error_state(e, busy.state, busy.status);
				dfu_error_hint(
				    e, "the device stayed busy past the deadline and was reset "
				       "to dfuIDLE with CLRSTATUS; a longer --timeout helps "
				       "only if it is merely slow");
			}
			return DFU_E_DEADLINE;
		}
		/* DFU 1.1 6.1.2: bwPollTimeout is the minimum time before the next
		 * GET_STATUS, and it applies to the busy states only */
		wait = st->poll_timeout_ms ? st->poll_timeout_ms : ZERO_POLL_FLOOR_MS;
		if (wait > deadline_ms - now)
			wait = (uint32_t)(deadline_ms - now);
		dfu_log(dev->ctx, DFU_LOG_DEBUG, "%s: %s, waiting %u ms", op->name,
			dfu_state_name(st->state), wait);
		dfu_sleep_ms(dev->ctx, wait);
		last_wait = wait;
	}
}

/* ------------------------------------------------------------------------ */
/* Known state                                                              */

int dfu_dev_ensure_idle(struct dfu_dev *dev, struct dfu_idle_report *report, struct dfu_error *e)
{
	struct dfu_idle_report rep = {0};
	struct dfu_status_reply st;
	struct dfu_op op;
	struct dfu_error le;
	int r;

	if (!dev || !dev->h)
		return dfu_error_set(e, DFU_E_INVAL, "dfu.inval", NULL,
				     "dfu_dev_ensure_idle: no open device");
	dfu_op_init(&op, -1, false, 0, "GET_STATUS at start");
	dfu_error_clear(&le);
	r = dfu_get_status(dev, &op, 0, &st, &le);
	if (r == DFU_E_USB_PIPE) {
		/* dfu-util: "Device does not implement get_status, assuming appIDLE" */
		rep.stall_as_idle = true;
		rep.found.state = DFU_STATE_APP_IDLE;
		if (report)
			*report = rep;
		dfu_error_set(e, DFU_E_PROTOCOL, "dfu.runtime_mode", NULL,
			      "GET_STATUS stalled: the device is in run-time mode (appIDLE)");
		dfu_error_hint(e, "detach it into DFU mode first");
		return DFU_E_PROTOCOL;
	}
	if (r < 0) {
		if (e && !e->err)
			*e = le;
		return r;
	}
	rep.found = st;

	/* at most a few rounds: each action is followed by a fresh GET_STATUS */
	for (int round = 0; round < 4; round++) {
		switch (st.state) {
		case DFU_STATE_DFU_IDLE:
			if (report)
				*report = rep;
			return 0;
		case DFU_STATE_APP_IDLE:
		case DFU_STATE_APP_DETACH:
			if (report)
				*report = rep;
			dfu_error_set(e, DFU_E_PROTOCOL, "dfu.runtime_mode", NULL,
				      "the device is in run-time mode (%s), not in DFU mode",
				      dfu_state_name(st.state));
			dfu_error_state(e, st.state, st.status);
			dfu_error_hint(e, "detach it into DFU mode first");
			return DFU_E_PROTOCOL;
		case DFU_STATE_DFU_ERROR:
			/* DFU 1.1 6.1.2: CLRSTATUS is the way out of dfuERROR; house style:
			 * once, reporting the original status */
			dfu_op_init(&op, -1, false, 0, "CLRSTATUS at start");
			r = dfu_clr_status(dev, &op, e);
			if (r < 0)
				return r;
			if (!rep.cleared)
				dfu_log(dev->ctx, DFU_LOG_INFO,
					"device was in dfuERROR, status %u (%s): cleared",
					st.status, dfu_status_name(st.status));
			rep.cleared = true;
			break;
		case DFU_STATE_DFU_DNLOAD_IDLE:
		case DFU_STATE_DFU_UPLOAD_IDLE:
			/* a previous run ended mid-transfer (device-model.md 4.6) */
			dfu_op_init(&op, -1, false, 0, "ABORT at start");
			r = dfu_abort(dev, &op, e);
			if (r < 0)
				return r;
			dfu_log(dev->ctx, DFU_LOG_INFO, "device was in %s: aborted",
				dfu_state_name(st.state));
			rep.aborted = true;
			break;
		case DFU_STATE_DFU_DNLOAD_SYNC:
		case DFU_STATE_DFU_DNBUSY:
		case DFU_STATE_DFU_MANIFEST_SYNC:
		case DFU_STATE_DFU_MANIFEST:
			/* a host was killed mid-operation: let the device finish */
			dfu_log(dev->ctx, DFU_LOG_INFO,
				"device was in %s: waiting for it to finish",
				dfu_state_name(st.state));
			dfu_op_init(&op, -1, false, 0, "waiting for a previous operation");
			r = dfu_poll(dev, &op,
				     dfu_now_ms(dev->ctx) + dfu_deadline_mass_erase_ms(dev), &st,
				     &le);
			if (r == DFU_E_DEVSTATUS) {
				dfu_error_clear(&le);
				continue; /* st holds dfuERROR: clear it */
			}
			if (r < 0) {
				if (e && !e->err)
					*e = le;
				return r;
			}
			continue;
		case DFU_STATE_DFU_MANIFEST_WAIT_RESET:
		default:
			if (report)
				*report = rep;
			dfu_error_set(e, DFU_E_PROTOCOL, "dfu.wrong_state", NULL,
				      "the device is in %s and needs a USB reset",
				      dfu_state_name(st.state));
			dfu_error_state(e, st.state, st.status);
			return DFU_E_PROTOCOL;
		}
		dfu_op_init(&op, -1, false, 0, "GET_STATUS after recovery");
		r = dfu_get_status(dev, &op, 0, &st, e);
		if (r < 0)
			return r;
	}
	if (report)
		*report = rep;
	dfu_error_set(e, DFU_E_PROTOCOL, "dfu.not_idle", NULL,
		      "the device does not return to dfuIDLE: it stays in %s, status %s",
		      dfu_state_name(st.state), dfu_status_name(st.status));
	dfu_error_state(e, st.state, st.status);
	return DFU_E_PROTOCOL;
}

/* ------------------------------------------------------------------------ */
/* Plain DFU 1.1                                                            */

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

static int plain_leave(struct dfu_dev *dev, struct dfu_flash_result *res, struct dfu_error *e)
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

static int plain_download(struct dfu_dev *dev, const struct dfu_image *img,
			  const struct dfu_flash_opts *opts, struct dfu_flash_result *res,
			  struct dfu_error *e)
{
	const struct dfu_segment *seg = NULL;
	uint16_t tsize = effective_transfer_size(dev, opts);
	struct dfu_status_reply st;
	struct dfu_op op;
	struct dfu_error le;
	uint16_t block = 0;
	bool gone = false;
	int r;

	r = plain_payload(dev, img, &seg, e);
	if (r < 0)
		return r;
	if (!(dev->info.attributes & DFU_ATTR_CAN_DNLOAD))
		return dfu_error_set(e, DFU_E_UNSUPPORTED, "dfu.cannot_download", NULL,
				     "the device does not support download (bitCanDnload is 0)");
	if (tsize == 0) {
		dfu_error_set(e, DFU_E_INVAL, "dfu.transfer_size", NULL,
			      "the device reports no wTransferSize");
		dfu_error_hint(e, "give one with -t");
		return DFU_E_INVAL;
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
	r = dfu_dev_ensure_idle(dev, NULL, e);
	if (r < 0)
		return r;

	/* DFU 1.1 7.1: blocks numbered from 0, the number wraps at 65535 */
	for (size_t off = 0; off < seg->length; off += tsize, block++) {
		uint16_t n = (uint16_t)MIN((size_t)tsize, seg->length - off);

		dfu_op_init(&op, block, false, 0, "download block %u (offset %zu)", block, off);
		r = dfu_request(dev, &op, DFU_REQ_DNLOAD, block, seg->data + off, n, 0, e);
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

	/* the zero-length DNLOAD ends the transfer; manifestation follows (DFU 1.1 7.2) */
	dfu_op_init(&op, block, false, 0, "zero-length DNLOAD (block %u) to manifest", block);
	r = dfu_request(dev, &op, DFU_REQ_DNLOAD, block, NULL, 0, 0, e);
	if (r < 0)
		return r;
	dfu_op_init(&op, -1, false, 0, "manifestation");
	dfu_error_clear(&le);
	r = dfu_poll(dev, &op, dfu_deadline(dev, opts, DFU_DEADLINE_MANIFEST_MS), &st, &le);
	if (r < 0 && dfu_err_is_usb(r) && dfu_err_is_gone(r)) {
		/* a manifestation-intolerant device may reset instead of answering
		 * ("unable to read DFU status after completion", dapboot) */
		dfu_log(dev->ctx, DFU_LOG_VERBOSE, "device left during manifestation (%s): done",
			le.usb_name ? le.usb_name : dfu_strerror(r));
		gone = true;
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

	if (opts->verify && !gone) {
		struct dfu_buf back = {0};
		struct dfu_flash_opts uo = *opts;
		uint64_t diff = 0;
		bool first = true;

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
			dfu_error_set(
			    e, DFU_E_VERIFY, "dfu.verify_mismatch", NULL,
			    "verify failed: %llu of %zu bytes differ, the first at offset %u",
			    (unsigned long long)diff, seg->length,
			    res->mismatch_address - seg->address);
			if (e)
				dfu_error_device(e, "verify (read-back)", -1, true,
						 res->mismatch_address);
			return DFU_E_VERIFY;
		}
		res->verified = true;
	}
	if (opts->leave && !gone)
		return plain_leave(dev, res, e);
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
		dfu_error_set(e, DFU_E_INVAL, "dfu.transfer_size", NULL,
			      "the device reports no wTransferSize");
		dfu_error_hint(e, "give one with -t");
		return DFU_E_INVAL;
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
		dfu_op_init(&op, block, false, 0, "upload block %u (offset %zu)", block, out->len);
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
		dfu_op_init(&op, -1, false, 0, "ABORT after upload");
		r = dfu_abort(dev, &op, e);
		if (r < 0)
			goto out;
	}
	r = 0;
out:
	free(buf);
	return r;
}

static int plain_upload(struct dfu_dev *dev, const struct dfu_flash_opts *opts,
			struct dfu_image **out, struct dfu_flash_result *res, struct dfu_error *e)
{
	struct dfu_buf data = {0};
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
	dfu_image_free(img);
	dfu_buf_release(&data);
	return r;
}

/* ------------------------------------------------------------------------ */
/* Public entry points                                                      */

/*
 * DfuSe by bcdDFU 0x011a (dev->dfuse), or a DFU 1.0 descriptor without
 * bcdDFU (7 bytes: Particle bootloaders, device-model.md 3.3) whose interface
 * string is a DfuSe layout, or a layout and an explicit address (dfu-util
 * takes -s as "DfuSe").
 */
static bool use_dfuse(const struct dfu_dev *dev, const struct dfu_flash_opts *opts)
{
	if (dev->dfuse)
		return true;
	if (!dev->info.layout)
		return false;
	return dev->info.bcd_dfu < 0x0110 || opts->have_address;
}

static int check_dev(struct dfu_dev *dev, const char *fn, struct dfu_error *e)
{
	if (!dev || !dev->h || !dev->ctx)
		return dfu_error_set(e, DFU_E_INVAL, "dfu.inval", NULL, "%s: no open device", fn);
	return 0;
}

int dfu_dev_download(struct dfu_dev *dev, const struct dfu_image *img,
		     const struct dfu_flash_opts *opts, struct dfu_flash_result *res,
		     struct dfu_error *e)
{
	static const struct dfu_flash_opts none = {0};
	struct dfu_flash_result dummy;
	uint64_t t0;
	int r;

	if (!res)
		res = &dummy;
	memset(res, 0, sizeof(*res));
	r = check_dev(dev, "dfu_dev_download", e);
	if (r < 0)
		return r;
	if (!img)
		return dfu_error_set(e, DFU_E_INVAL, "dfu.inval", NULL,
				     "dfu_dev_download: no image");
	if (!opts)
		opts = &none;
	t0 = dfu_now_ms(dev->ctx);
	r = use_dfuse(dev, opts) ? dfuse_download(dev, img, opts, res, e)
				 : plain_download(dev, img, opts, res, e);
	res->elapsed_ms = dfu_now_ms(dev->ctx) - t0;
	return r;
}

int dfu_dev_upload(struct dfu_dev *dev, const struct dfu_flash_opts *opts, struct dfu_image **out,
		   struct dfu_flash_result *res, struct dfu_error *e)
{
	static const struct dfu_flash_opts none = {0};
	struct dfu_flash_result dummy;
	uint64_t t0;
	int r;

	if (!res)
		res = &dummy;
	memset(res, 0, sizeof(*res));
	r = check_dev(dev, "dfu_dev_upload", e);
	if (r < 0)
		return r;
	if (!out)
		return dfu_error_set(e, DFU_E_INVAL, "dfu.inval", NULL,
				     "dfu_dev_upload: no output");
	*out = NULL;
	if (!opts)
		opts = &none;
	t0 = dfu_now_ms(dev->ctx);
	r = use_dfuse(dev, opts) ? dfuse_upload(dev, opts, out, res, e)
				 : plain_upload(dev, opts, out, res, e);
	res->elapsed_ms = dfu_now_ms(dev->ctx) - t0;
	return r;
}

int dfu_dev_leave(struct dfu_dev *dev, const struct dfu_image *img,
		  const struct dfu_flash_opts *opts, struct dfu_flash_result *res,
		  struct dfu_error *e)
{
	static const struct dfu_flash_opts none = {0};
	struct dfu_flash_result dummy = {0};
	int r;

	if (!res)
		res = &dummy;
	r = check_dev(dev, "dfu_dev_leave", e);
	if (r < 0)
		return r;
	if (!opts)
		opts = &none;
	if (use_dfuse(dev, opts))
		return dfuse_leave(dev, img, opts, res, e);
	return plain_leave(dev, res, e);
}
