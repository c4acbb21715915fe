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
#include <time.h>

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
/* Backoff before retry 1, 2, 3 of a transient failure (DFU_RETRY_MAX). */
static const uint32_t retry_backoff_ms[DFU_RETRY_MAX] = {10, 50, 200};
/* DfuSe command bytes proto.c recognises (AN3156 table 3) for retries and the
 * download facts; dfuse.c sends them. */
#define CMD_SET_ADDRESS 0x21
#define CMD_ERASE 0x41

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
	op->no_retry = false;
}

bool dfu_err_is_gone(int err)
{
	return err == DFU_E_USB_NODEV || err == DFU_E_USB_PIPE || err == DFU_E_USB_IO ||
	       err == DFU_E_USB_TIMEOUT || err == DFU_E_USB_OTHER || err == DFU_E_NOTFOUND;
}

uint64_t dfu_deadline(struct dfu_dev *dev, const struct dfu_flash_opts *opts, uint32_t default_ms)
{
	uint32_t ms = opts && opts->timeout_ms ? opts->timeout_ms : default_ms;

	dev->last_deadline_ms = ms;
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
	r = dfu_control_traced(dev->ctx, dev->h, "status iString", USB_RT_DEVICE_IN,
			       USB_REQ_GET_DESCRIPTOR, (uint16_t)(USB_DT_STRING << 8 | index),
			       0x0409, buf, sizeof(buf), 1000, &usb_name);
	if (r < 2 || buf[1] != USB_DT_STRING)
		return;
	if (buf[0] < r)
		r = buf[0];
	for (int i = 2; i + 1 < r && k + 1 < cap; i += 2)
		out[k++] = buf[i + 1] || buf[i] < 0x20 || buf[i] > 0x7e ? '?' : (char)buf[i];
	out[k] = '\0';
}

/* DFU_QUIRK_* of @dev plus the protocol bit, for the cause table. */
static uint32_t cause_quirks(const struct dfu_dev *dev)
{
	return dev->quirks | (dev->dfuse ? DFU_QUIRK_DFUSE_PROTOCOL : 0);
}

uint32_t dfu_dev_quirks(const struct dfu_dev *dev)
{
	return dev ? cause_quirks(dev) : 0;
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
		dfu_error_hint(e, dfu_cause_hint(e, cause_quirks(dev)));
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

/* ------------------------------------------------------------------------ */
/* The one request path: trace, classified retries                         */

/* Microseconds for trace records: the real monotonic clock when the backend
 * uses it (clock.ctx NULL, libusb), else the backend's (virtual) clock. */
static uint64_t trace_now_us(struct dfu_ctx *ctx)
{
	struct timespec ts;

	if (ctx && ctx->backend.clock.now_ms && ctx->backend.clock.ctx)
		return ctx->backend.clock.now_ms(ctx->backend.clock.ctx) * 1000u;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static const char *any_request_name(uint8_t rt, uint8_t req)
{
	if ((rt & 0x60) == 0x20)
		return request_name(req);
	if ((rt & 0x60) == 0x00) {
		switch (req) {
		case 0x00:
			return "GET_STATUS(std)";
		case USB_REQ_GET_DESCRIPTOR:
			return "GET_DESCRIPTOR";
		case 0x09:
			return "SET_CONFIGURATION";
		case 0x0b:
			return "SET_INTERFACE";
		default:
			break;
		}
	}
	return "REQUEST";
}

int dfu_control_traced(struct dfu_ctx *ctx, struct dfu_handle *h, const char *op,
		       uint8_t request_type, uint8_t request, uint16_t value, uint16_t index,
		       uint8_t *data, uint16_t length, unsigned timeout_ms, const char **usb_name)
{
	bool tracing = ctx && ctx->trace_fn;
	uint64_t t0 = tracing ? trace_now_us(ctx) : 0;
	const char *name = NULL;
	int r;

	r = h->ops->control(h, request_type, request, value, index, data, length, timeout_ms,
			    &name);
	if (usb_name)
		*usb_name = name;
	if (tracing) {
		bool in = request_type & 0x80;
		struct dfu_trace_rec rec = {
		    .t_us = t0,
		    .bm_request_type = request_type,
		    .b_request = request,
		    .w_value = value,
		    .w_index = index,
		    .w_length = length,
		    .request = any_request_name(request_type, request),
		    .op = op ? op : "",
		    .data = data,
		    .data_len = in ? (r > 0 ? (size_t)r : 0) : (data ? length : 0),
		    .result = r,
		    .usb_error = r < 0 ? (name ? name : dfu_strerror(r)) : NULL,
		    .attempt = ctx->trace_attempt,
		};
		uint64_t t1 = trace_now_us(ctx);

		rec.duration_us = t1 > t0 ? t1 - t0 : 0;
		if ((request_type & 0x60) == 0x20 && request == DFU_REQ_GETSTATUS && r >= 6 && data) {
			rec.have_state = true;
			rec.status = data[0];
			rec.poll_timeout_ms =
			    (uint32_t)data[1] | (uint32_t)data[2] << 8 | (uint32_t)data[3] << 16;
			rec.state = data[4];
		}
		ctx->trace_fn(ctx->trace_ud, &rec);
	}
	return r;
}

void dfu_ctx_set_trace_fn(struct dfu_ctx *ctx, dfu_trace_fn fn, void *userdata)
{
	if (!ctx)
		return;
	ctx->trace_fn = fn;
	ctx->trace_ud = userdata;
}

/* One class request on the wire, logged at TRACE and traced. */
static int send_once(struct dfu_dev *dev, const struct dfu_op *op, uint8_t request, uint16_t value,
		     uint8_t *data, uint16_t len, unsigned timeout_ms, const char **usb_name)
{
	bool in = request == DFU_REQ_UPLOAD || request == DFU_REQ_GETSTATUS ||
		  request == DFU_REQ_GETSTATE;
	const char *name = NULL;
	int r;

	if (dev->ctx->trace_fn) {
		/* the record carries the retry number */
		dev->ctx->trace_attempt = dev->attempt;
		r = dfu_control_traced(dev->ctx, dev->h, op->name, in ? DFU_RT_IN : DFU_RT_OUT,
				       request, value, dev->info.interface, data, len, timeout_ms,
				       &name);
		dev->ctx->trace_attempt = 0;
	} else {
		r = dev->h->ops->control(dev->h, in ? DFU_RT_IN : DFU_RT_OUT, request, value,
					 dev->info.interface, data, len, timeout_ms, &name);
	}
	dfu_log(dev->ctx, DFU_LOG_TRACE, "%s wValue=%u wLength=%u (%s) -> %d%s%s%s",
		request_name(request), value, len, op->name, r, r < 0 ? " " : "",
		r < 0 ? (name ? name : dfu_strerror(r)) : "",
		dev->attempt ? " [retry]" : "");
	if (usb_name)
		*usb_name = name;
	return r;
}

void dfu_flash_result_note_retry(struct dfu_flash_result *res, const char *fmt, ...)
{
	va_list ap;

	if (!res)
		return;
	res->retries++;
	if (res->n_retry_log >= DFU_RETRY_LOG_MAX)
		return;
	va_start(ap, fmt);
	vsnprintf(res->retry_log[res->n_retry_log], sizeof(res->retry_log[0]), fmt, ap);
	va_end(ap);
	res->n_retry_log++;
}

/* Count and explain one retry. */
static void note_retry(struct dfu_dev *dev, const struct dfu_op *op, const char *what,
		       const char *why, unsigned attempt)
{
	dfu_log(dev->ctx, DFU_LOG_VERBOSE, "%s: %s failed (%s): retry %u of %u in %u ms", op->name,
		what, why, attempt, DFU_RETRY_MAX, retry_backoff_ms[attempt - 1]);
	dfu_flash_result_note_retry(dev->res, "%s: %s %s, retry %u", op->name, what, why, attempt);
}

/* The transfer failures worth a retry (device-model.md 5 items 4, 5, 18). */
static bool usb_transient(int r)
{
	return r == DFU_E_USB_PIPE || r == DFU_E_USB_TIMEOUT || r == DFU_E_USB_IO ||
	       r == DFU_E_USB_OVERFLOW;
}

static bool dfuse_like(const struct dfu_dev *dev)
{
	return dev->dfuse || dev->info.layout || dev->resend.have_pointer;
}

/* A DfuSe command that is safe to send twice (Set Address, erase). */
static bool idempotent_command(const struct dfu_dev *dev, uint16_t value, const uint8_t *data,
			       uint16_t len)
{
	return value == 0 && dfuse_like(dev) && len >= 1 && data &&
	       ((data[0] == CMD_SET_ADDRESS && len == 5) ||
		(data[0] == CMD_ERASE && (len == 1 || len == 5)));
}

/* Remember a DNLOAD that went out (for a re-send and the download facts). */
static void record_dnload(struct dfu_dev *dev, const struct dfu_op *op, uint16_t value,
			  const uint8_t *data, uint16_t len)
{
	struct dfu_resend *rs = &dev->resend;

	if (len == 0 || !data) {
		rs->valid = false;
		return;
	}
	if (rs->cap < len) {
		uint8_t *n = realloc(rs->data, len);

		if (!n) {
			rs->valid = false;
			return;
		}
		rs->data = n;
		rs->cap = len;
	}
	memcpy(rs->data, data, len);
	rs->op = op;
	rs->value = value;
	rs->len = len;
	rs->valid = true;
	if (value == 0 && len == 5 && data[0] == CMD_SET_ADDRESS && dfuse_like(dev)) {
		rs->have_pointer = true;
		rs->pointer = le32_get(data + 1);
		rs->block_size = 0;
	} else if (value == 2 && rs->have_pointer) {
		rs->block_size = len;
	}
}

void dfu_resend_release(struct dfu_dev *dev)
{
	if (!dev)
		return;
	free(dev->resend.data);
	memset(&dev->resend, 0, sizeof(dev->resend));
}

/*
 * Before a DNLOAD is sent again: a DfuSe data block gets a fresh Set Address
 * of the pointer it was numbered from (or dfuse.c's hook does the job).
 */
static int resend_prepare(struct dfu_dev *dev, const struct dfu_op *op, uint16_t value,
			  struct dfu_error *e)
{
	struct dfu_resend *rs = &dev->resend;
	struct dfu_status_reply st;
	uint8_t cmd[5] = {CMD_SET_ADDRESS};
	struct dfu_op sop;
	uint32_t pointer = rs->pointer;
	int r;

	if (rs->prepare)
		return rs->prepare(dev, op, rs->prepare_ud, e);
	if (value < 2 || !rs->have_pointer)
		return 0;
	le32_put(cmd + 1, pointer);
	dfu_op_init(&sop, 0, true, pointer, "DfuSe Set Address 0x%08x again (before block %u)",
		    pointer, value);
	dfu_log(dev->ctx, DFU_LOG_VERBOSE, "%s", sop.name);
	r = dfu_request(dev, &sop, DFU_REQ_DNLOAD, 0, cmd, sizeof(cmd), 0, e);
	if (r < 0)
		return r;
	r = dfu_poll(dev, &sop, dfu_now_ms(dev->ctx) + DFU_DEADLINE_COMMAND_MS, &st, e);
	if (r < 0)
		return r;
	if (st.state != DFU_STATE_DFU_DNLOAD_IDLE)
		return dfu_error_wrong_state(&sop, &st, "dfuDNLOAD-IDLE", e);
	return 0;
}

enum back_verdict {
	BACK_ARRIVED = 1, /* the DNLOAD reached the device: do not send it again */
	BACK_RESEND = 0,  /* the device is ready for it again */
};

/*
 * After a failed DNLOAD (or its GET_STATUS): ask the device where it is and
 * make it ready for the same DNLOAD again.  Returns BACK_ARRIVED, BACK_RESEND
 * or a negative dfu_err (a device verdict is DFU_E_DEVSTATUS in @e).
 */
static int bring_back(struct dfu_dev *dev, const struct dfu_op *op, uint16_t value,
		      bool command, struct dfu_error *e)
{
	struct dfu_status_reply st;
	struct dfu_op bop;
	bool plain_block = !command && !dev->resend.have_pointer;
	int r;

	dfu_op_init(&bop, op->block, op->have_address, op->address, "GET_STATUS before retry of %s",
		    op->name);
	r = dfu_get_status(dev, &bop, 0, &st, e);
	if (r < 0)
		return r;
	switch (st.state) {
	case DFU_STATE_DFU_DNLOAD_SYNC:
	case DFU_STATE_DFU_DNBUSY:
		/* it arrived and now runs: honour the announced wait (6.1.2) */
		dfu_sleep_ms(dev->ctx, st.poll_timeout_ms ? st.poll_timeout_ms : ZERO_POLL_FLOOR_MS);
		return BACK_ARRIVED;
	case DFU_STATE_DFU_DNLOAD_IDLE:
		return BACK_RESEND;
	case DFU_STATE_DFU_IDLE:
		/* a plain device would take block N in dfuIDLE as a new download */
		if (plain_block && value != 0)
			break;
		return BACK_RESEND;
	case DFU_STATE_DFU_ERROR:
		if (st.status != DFU_STATUS_ERR_STALLEDPKT && st.status != DFU_STATUS_ERR_UNKNOWN)
			return dfu_error_devstatus(dev, op, &st, e); /* a verdict: no retry */
		if (plain_block)
			break;
		dfu_op_init(&bop, -1, false, 0, "CLRSTATUS before retry of %s", op->name);
		r = dfu_clr_status(dev, &bop, e);
		return r < 0 ? r : BACK_RESEND;
	case DFU_STATE_DFU_UPLOAD_IDLE:
		if (plain_block)
			break;
		dfu_op_init(&bop, -1, false, 0, "ABORT before retry of %s", op->name);
		r = dfu_abort(dev, &bop, e);
		return r < 0 ? r : BACK_RESEND;
	default:
		break;
	}
	return dfu_error_wrong_state(op, &st, "a state to send it again from", e);
}

/* Whether a failed DNLOAD with data may be sent again. */
static bool dnload_retryable(const struct dfu_dev *dev, const struct dfu_op *op, uint16_t value,
			     const uint8_t *data, uint16_t len, int r)
{
	if (!usb_transient(r) || op->no_retry || dev->retry_depth || len == 0 || !data)
		return false;
	if (value == 0 && dfuse_like(dev))
		return idempotent_command(dev, value, data, len); /* never Read Unprotect */
	return true;
}

/*
 * The time a retried DNLOAD lost (failed transfer, pauses, bringing the device
 * back) is not the device's: dfu_poll() of the same op adds it to the
 * deadline its caller computed before the DNLOAD went out.
 */
static void note_lost(struct dfu_dev *dev, const struct dfu_op *op, uint64_t lost_ms)
{
	if (dev->lost_op != op) {
		dev->lost_op = op;
		dev->lost_ms = 0;
	}
	dev->lost_ms += lost_ms;
}

static uint64_t take_lost(struct dfu_dev *dev, const struct dfu_op *op)
{
	uint64_t ms = dev->lost_op == op ? dev->lost_ms : 0;

	dev->lost_op = NULL;
	dev->lost_ms = 0;
	return ms;
}

/*
 * Retry a DNLOAD that failed with @r: bring the device back, prepare, send
 * again; bounded and with backoff.  Returns the bytes sent or a negative
 * dfu_err; @le holds a failure of the recovery requests.
 */
static int retry_dnload(struct dfu_dev *dev, const struct dfu_op *op, uint16_t value,
			uint8_t *data, uint16_t len, unsigned timeout_ms, int r,
			const char **usb_name, unsigned *attempts, struct dfu_error *le)
{
	bool command = value == 0 && dfuse_like(dev);

	for (unsigned a = 1; a <= DFU_RETRY_MAX && usb_transient(r); a++) {
		note_retry(dev, op, "DFU_DNLOAD", *usb_name ? *usb_name : dfu_strerror(r), a);
		dfu_sleep_ms(dev->ctx, retry_backoff_ms[a - 1]);
		*attempts = a + 1;
		dev->retry_depth++;
		dev->attempt = a;
		dfu_error_clear(le);
		r = bring_back(dev, op, value, command, le);
		if (r == BACK_RESEND)
			r = resend_prepare(dev, op, value, le);
		if (r == 0)
			r = send_once(dev, op, DFU_REQ_DNLOAD, value, data, len, timeout_ms, usb_name);
		else if (r == BACK_ARRIVED)
			r = len;
		else if (le->usb_name)
			*usb_name = le->usb_name;
		dev->retry_depth--;
		dev->attempt = 0;
		if (r >= 0)
			return r;
	}
	return r;
}

/* CLRSTATUS and ABORT: safe to send again (each leads to dfuIDLE). */
static bool simple_retryable(const struct dfu_dev *dev, const struct dfu_op *op, int r)
{
	return usb_transient(r) && !op->no_retry && !dev->retry_depth;
}

/*
 * Retry a CLRSTATUS or ABORT that failed with @r: a GET_STATUS first (dfuIDLE:
 * it arrived, done), then the same request again; bounded, with backoff.
 */
static int retry_simple(struct dfu_dev *dev, const struct dfu_op *op, uint8_t request,
			unsigned timeout_ms, int r, const char **usb_name, unsigned *attempts,
			struct dfu_error *le)
{
	for (unsigned a = 1; a <= DFU_RETRY_MAX && usb_transient(r); a++) {
		struct dfu_status_reply st;
		struct dfu_op bop;

		note_retry(dev, op, request_name(request), *usb_name ? *usb_name : dfu_strerror(r),
			   a);
		dfu_sleep_ms(dev->ctx, retry_backoff_ms[a - 1]);
		*attempts = a + 1;
		dev->retry_depth++;
		dev->attempt = a;
		dfu_error_clear(le);
		dfu_op_init(&bop, -1, false, 0, "GET_STATUS before retry of %s", op->name);
		r = dfu_get_status(dev, &bop, 0, &st, le);
		if (r == 0 && st.state == DFU_STATE_DFU_IDLE)
			r = 0; /* it arrived (or was not needed any more) */
		else if (r == 0 || usb_transient(r))
			r = send_once(dev, op, request, 0, NULL, 0, timeout_ms, usb_name);
		dev->retry_depth--;
		dev->attempt = 0;
		if (r >= 0) {
			dfu_log(dev->ctx, DFU_LOG_VERBOSE, "%s: %s done after %u retr%s", op->name,
				request_name(request), a, a == 1 ? "y" : "ies");
			return 0;
		}
	}
	return r;
}

/* A DfuSe UPLOAD of a data block (numbered from the last Set Address). */
static bool upload_retryable(const struct dfu_dev *dev, const struct dfu_op *op, uint16_t value,
			     int r)
{
	if (!usb_transient(r) || op->no_retry || dev->retry_depth)
		return false;
	if (dfuse_like(dev))
		return value >= 2 && dev->resend.have_pointer;
	/* plain DFU: a stalled UPLOAD delivered nothing; sent again from
	 * dfuUPLOAD-IDLE only (retry_upload checks) */
	return r == DFU_E_USB_PIPE;
}

/*
 * Retry a DfuSe UPLOAD that failed with @r: bring the device to dfuIDLE
 * (CLRSTATUS / ABORT), Set Address of the block's pointer again, ABORT to
 * dfuIDLE and UPLOAD the same block number.
 */
static int retry_upload(struct dfu_dev *dev, const struct dfu_op *op, uint16_t value,
			uint8_t *data, uint16_t len, unsigned timeout_ms, int r,
			const char **usb_name, unsigned *attempts, struct dfu_error *le)
{
	uint32_t pointer = dev->resend.pointer;
	int first = r;

	for (unsigned a = 1; a <= DFU_RETRY_MAX && usb_transient(r); a++) {
		struct dfu_status_reply st;
		struct dfu_op bop;
		uint8_t cmd[5] = {CMD_SET_ADDRESS};

		note_retry(dev, op, "DFU_UPLOAD", *usb_name ? *usb_name : dfu_strerror(r), a);
		dfu_sleep_ms(dev->ctx, retry_backoff_ms[a - 1]);
		*attempts = a + 1;
		dev->retry_depth++;
		dev->attempt = a;
		dfu_error_clear(le);
		dfu_op_init(&bop, op->block, op->have_address, op->address,
			    "GET_STATUS before retry of %s", op->name);
		r = dfu_get_status(dev, &bop, 0, &st, le);
		if (r < 0)
			goto next;
		if (!dfuse_like(dev)) {
			/* plain DFU: the device's offset did not move; anything but
			 * dfuUPLOAD-IDLE ends the upload */
			if (st.state != DFU_STATE_DFU_UPLOAD_IDLE) {
				dev->retry_depth--;
				dev->attempt = 0;
				dfu_error_clear(le);
				*attempts = 1;
				return first;
			}
			r = send_once(dev, op, DFU_REQ_UPLOAD, value, data, len, timeout_ms, usb_name);
			goto next;
		}
		if (st.state == DFU_STATE_DFU_ERROR) {
			if (st.status != DFU_STATUS_ERR_STALLEDPKT &&
			    st.status != DFU_STATUS_ERR_UNKNOWN) {
				/* a verdict (errVENDOR under RDP): no retry; the caller
				 * reports the transfer error with this state */
				dev->retry_depth--;
				dev->attempt = 0;
				dfu_error_clear(le);
				*attempts = 1;
				return first;
			}
			dfu_op_init(&bop, -1, false, 0, "CLRSTATUS before retry of %s", op->name);
			r = dfu_clr_status(dev, &bop, le);
		} else if (st.state != DFU_STATE_DFU_IDLE) {
			dfu_op_init(&bop, -1, false, 0, "ABORT before retry of %s", op->name);
			r = dfu_abort(dev, &bop, le);
		}
		if (r < 0)
			goto next;
		/* the Address Pointer again, then back to dfuIDLE for the UPLOAD */
		le32_put(cmd + 1, pointer);
		dfu_op_init(&bop, 0, true, pointer, "DfuSe Set Address 0x%08x again (before block %u)",
			    pointer, value);
		r = dfu_request(dev, &bop, DFU_REQ_DNLOAD, 0, cmd, sizeof(cmd), 0, le);
		if (r >= 0)
			r = dfu_poll(dev, &bop, dfu_now_ms(dev->ctx) + DFU_DEADLINE_COMMAND_MS, &st,
				     le);
		if (r >= 0 && st.state != DFU_STATE_DFU_DNLOAD_IDLE)
			r = dfu_error_wrong_state(&bop, &st, "dfuDNLOAD-IDLE", le);
		if (r >= 0) {
			dfu_op_init(&bop, -1, false, 0, "ABORT after Set Address (retry of %s)",
				    op->name);
			r = dfu_abort(dev, &bop, le);
		}
		if (r >= 0)
			r = send_once(dev, op, DFU_REQ_UPLOAD, value, data, len, timeout_ms, usb_name);
		else if (le->usb_name)
			*usb_name = le->usb_name;
	next:
		dev->retry_depth--;
		dev->attempt = 0;
		if (r >= 0) {
			dfu_log(dev->ctx, DFU_LOG_VERBOSE, "%s: DFU_UPLOAD done after %u retr%s",
				op->name, a, a == 1 ? "y" : "ies");
			return r;
		}
		if (le->err == DFU_E_DEVSTATUS || le->err == DFU_E_PROTOCOL)
			return r;
	}
	return r;
}

int dfu_request(struct dfu_dev *dev, const struct dfu_op *op, uint8_t request, uint16_t value,
		uint8_t *data, uint16_t len, unsigned timeout_ms, struct dfu_error *e)
{
	const char *usb_name = NULL;
	bool was_empty = e && !e->err;
	unsigned attempts = 1;
	struct dfu_error le;
	int r;

	uint64_t t0 = dfu_now_ms(dev->ctx);

	if (request == DFU_REQ_DNLOAD && !dev->retry_depth)
		take_lost(dev, NULL); /* a new DNLOAD: forget an older op's lost time */
	r = send_once(dev, op, request, value, data, len, timeout_ms, &usb_name);
	if (r < 0 && (request == DFU_REQ_CLRSTATUS || request == DFU_REQ_ABORT) &&
	    simple_retryable(dev, op, r)) {
		dfu_error_clear(&le);
		r = retry_simple(dev, op, request, timeout_ms, r, &usb_name, &attempts, &le);
	} else if (r < 0 && request == DFU_REQ_UPLOAD && upload_retryable(dev, op, value, r)) {
		dfu_error_clear(&le);
		r = retry_upload(dev, op, value, data, len, timeout_ms, r, &usb_name, &attempts,
				 &le);
		if (r < 0 && (le.err == DFU_E_DEVSTATUS || le.err == DFU_E_PROTOCOL)) {
			if (e && !e->err) {
				*e = le;
				e->attempts = attempts;
			}
			return r;
		}
	} else if (r < 0 && request == DFU_REQ_DNLOAD &&
		   dnload_retryable(dev, op, value, data, len, r)) {
		int first = r;
		const char *first_name = usb_name;

		dfu_error_clear(&le);
		r = retry_dnload(dev, op, value, data, len, timeout_ms, r, &usb_name, &attempts,
				 &le);
		if (r >= 0) {
			dfu_log(dev->ctx, DFU_LOG_VERBOSE, "%s: DFU_DNLOAD done after %u retr%s",
				op->name, attempts - 1, attempts == 2 ? "y" : "ies");
			/* restart the deadline: the time lost is not the device's */
			note_lost(dev, op, dfu_now_ms(dev->ctx) - t0);
		} else if (le.err == DFU_E_DEVSTATUS || le.err == DFU_E_PROTOCOL) {
			/* the device's own verdict or state is the better report */
			if (e && !e->err) {
				*e = le;
				e->attempts = attempts;
			}
			return r;
		} else if (!dfu_err_is_usb(r)) {
			r = first;
			usb_name = first_name;
		}
	}
	if (request == DFU_REQ_DNLOAD && r >= 0)
		record_dnload(dev, op, value, data, len);
	if (r >= 0)
		return r;
	/* the one place a failed request is classified and reported */
	dfu_error_set(e, r, "dfu.usb", NULL, "%s: %s failed: %s%s", op->name, request_name(request),
		      usb_name ? usb_name : dfu_strerror(r),
		      attempts > 1 ? " (also when retried)" : "");
	if (was_empty) {
		fill_device(e, was_empty, op);
		e->usb_err = r;
		e->usb_name = usb_name;
		e->attempts = attempts;
	}
	if (r == DFU_E_USB_PIPE && (request == DFU_REQ_DNLOAD || request == DFU_REQ_UPLOAD)) {
		/* a stalled transfer usually comes with dfuERROR and the reason (UPLOAD
		 * under RDP: errVENDOR, device-model.md 1.9): ask once, best effort */
		uint8_t b[6];
		int s = dfu_control_traced(dev->ctx, dev->h, "GET_STATUS after the stall", DFU_RT_IN,
					   DFU_REQ_GETSTATUS, 0, dev->info.interface, b,
					   sizeof(b), 0, NULL);

		dfu_log(dev->ctx, DFU_LOG_TRACE, "DFU_GETSTATUS after the stall -> %d", s);
		if (s == 6 && was_empty && e)
			dfu_error_state(e, b[4], b[0]);
	}
	if (was_empty && e)
		dfu_error_hint(e, dfu_cause_hint(e, cause_quirks(dev)));
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

static void facts_complete(struct dfu_dev *dev, const struct dfu_op *op)
{
	struct dfu_dl_facts *f = &dev->facts;
	const struct dfu_resend *rs = &dev->resend;

	if (!f->active || !rs->valid || rs->op != op)
		return;
	if (rs->value == 0 && dfuse_like(dev)) {
		if (rs->data[0] == CMD_ERASE && rs->len == 5) {
			uint32_t a = le32_get(rs->data + 1);

			for (uint32_t i = 0; i < f->n_erased && i < DFU_FACTS_MAX; i++)
				if (f->erased[i] == a)
					return;
			if (f->n_erased < DFU_FACTS_MAX)
				f->erased[f->n_erased] = a;
			f->n_erased++;
		} else if (rs->data[0] == CMD_ERASE && rs->len == 1) {
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

/*
 * The GET_STATUS polling lost the device's answer and the device no longer
 * knows the DNLOAD (dfuIDLE, or dfuERROR with errSTALLEDPKT/errUNKNOWN after
 * our failure): send the recorded DNLOAD again.
 */
static int resend_lost(struct dfu_dev *dev, const struct dfu_op *op,
		       const struct dfu_status_reply *st, struct dfu_error *e)
{
	struct dfu_resend *rs = &dev->resend;
	struct dfu_op cop;
	uint16_t value = rs->value, len = rs->len;
	uint8_t *copy;
	int r;

	if (!rs->valid || rs->op != op)
		return 1; /* nothing to send again */
	if (value != 0 && !rs->have_pointer && st->state != DFU_STATE_DFU_DNLOAD_IDLE)
		return 1; /* a plain DFU block is only re-sent from dfuDNLOAD-IDLE */
	if (value == 0 && dfuse_like(dev) && !idempotent_command(dev, value, rs->data, len))
		return 1;
	copy = malloc(len);
	if (!copy)
		return dfu_error_set(e, DFU_E_NOMEM, "dfu.nomem", NULL, "out of memory");
	memcpy(copy, rs->data, len);
	dev->retry_depth++;
	if (st->state == DFU_STATE_DFU_ERROR) {
		dfu_op_init(&cop, -1, false, 0, "CLRSTATUS before re-sending %s", op->name);
		r = dfu_clr_status(dev, &cop, e);
		if (r < 0)
			goto out;
	}
	r = resend_prepare(dev, op, value, e);
	if (r < 0)
		goto out;
	r = dfu_request(dev, op, DFU_REQ_DNLOAD, value, copy, len, 0, e);
out:
	dev->retry_depth--;
	free(copy);
	return r < 0 ? r : 0;
}

int dfu_poll(struct dfu_dev *dev, const struct dfu_op *op, uint64_t deadline_ms,
	     struct dfu_status_reply *st, struct dfu_error *e)
{
	uint64_t start = dfu_now_ms(dev->ctx);
	uint32_t last_wait = 0, announced = 0;
	bool nonzero_poll = false, busy_seen = false, lost = false;
	unsigned stalls = 0, retries = 0;
	const char *lost_why = NULL;
	int r;

	/* a retried DNLOAD: the deadline restarts when it was sent again */
	deadline_ms += take_lost(dev, op);
	for (;;) {
		struct dfu_error le;
		uint64_t now, t_req = dfu_now_ms(dev->ctx);
		uint32_t wait;

		dfu_error_clear(&le);
		dev->attempt = lost ? retries : 0;
		r = dfu_get_status(dev, op, status_timeout(dev, deadline_ms), st, &le);
		dev->attempt = 0;
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
		if (r < 0 && usb_transient(r) && !op->no_retry && !dev->retry_depth &&
		    retries < DFU_RETRY_MAX) {
			/* a lost answer: ask again after a pause (the request changes
			 * nothing the device would not do anyway) */
			retries++;
			lost = true;
			lost_why = le.usb_name ? le.usb_name : dfu_strerror(r);
			note_retry(dev, op, "DFU_GETSTATUS", lost_why, retries);
			dfu_sleep_ms(dev->ctx, retry_backoff_ms[retries - 1]);
			/* the lost transfer and the pause are not the device's time */
			deadline_ms += dfu_now_ms(dev->ctx) - t_req;
			continue;
		}
		if (r < 0) {
			if (e && !e->err) {
				*e = le;
				if (retries) {
					const char *h;

					e->attempts = retries + 1;
					snprintf(e->message + strlen(e->message),
						 sizeof(e->message) - strlen(e->message),
						 " (also when retried)");
					h = dfu_cause_hint(e, cause_quirks(dev));
					if (h)
						dfu_error_hint(e, h);
				}
			}
			return r;
		}
		if (lost && (st->state == DFU_STATE_DFU_IDLE ||
			     (st->state == DFU_STATE_DFU_ERROR &&
			      (st->status == DFU_STATUS_ERR_STALLEDPKT ||
			       st->status == DFU_STATUS_ERR_UNKNOWN)))) {
			/* the device lost the DNLOAD with our failed request */
			dfu_log(dev->ctx, DFU_LOG_VERBOSE,
				"%s: device in %s after the failed GET_STATUS: sending it again",
				op->name, dfu_state_name(st->state));
			lost = false;
			r = resend_lost(dev, op, st, e);
			if (r < 0)
				return r;
			if (r == 0)
				continue;
		}
		if (lost && retries)
			dfu_log(dev->ctx, DFU_LOG_VERBOSE, "%s: GET_STATUS answered after %u retr%s",
				op->name, retries, retries == 1 ? "y" : "ies");
		lost = false;
		if (st->state == DFU_STATE_DFU_ERROR)
			return dfu_error_devstatus(dev, op, st, e);
		if (!state_busy(st->state)) {
			if (st->state == DFU_STATE_DFU_DNLOAD_IDLE)
				facts_complete(dev, op);
			return 0; /* idle or final: no waiting (DFU 1.1 6.1.2) */
		}
		busy_seen = true;
		announced = st->poll_timeout_ms;
		if (st->poll_timeout_ms)
			nonzero_poll = true;
		now = dfu_now_ms(dev->ctx);
		if (now >= deadline_ms) {
			struct dfu_status_reply busy = *st;
			bool was_empty = e && !e->err;

			unstick(dev);
			dfu_error_set(e, DFU_E_DEADLINE, "dfu.deadline", NULL,
				      "%s did not finish within %u ms: the device still reports "
				      "%s, %s %u ms",
				      op->name,
				      dev->last_deadline_ms ? dev->last_deadline_ms
							    : (uint32_t)(now - start),
				      dfu_state_name(busy.state),
				      nonzero_poll ? "after announcing" : "announcing bwPollTimeout",
				      announced);
			if (was_empty) {
				fill_device(e, was_empty, op);
				dfu_error_state(e, busy.state, busy.status);
				e->announced_ms = announced;
				e->busy_ms = (uint32_t)MIN(now - start, (uint64_t)UINT32_MAX);
				e->zero_poll = busy_seen && !nonzero_poll;
				dfu_error_hint(e, dfu_cause_hint(e, cause_quirks(dev)));
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
	bool was_reset = false;
	int r;

	if (!dev || !dev->h)
		return dfu_error_set(e, DFU_E_INVAL, "dfu.inval", NULL,
				     "dfu_dev_ensure_idle: no open device");
	dfu_op_init(&op, -1, false, 0, "GET_STATUS at start");
	dfu_error_clear(&le);
	r = dfu_get_status(dev, &op, 0, &st, &le);
	for (unsigned a = 1; r < 0 && usb_transient(r) && a <= DFU_RETRY_MAX; a++) {
		/* one lost or stalled answer is no verdict: ask again (classified retry) */
		note_retry(dev, &op, "DFU_GETSTATUS", le.usb_name ? le.usb_name : dfu_strerror(r),
			   a);
		dfu_sleep_ms(dev->ctx, retry_backoff_ms[a - 1]);
		dfu_error_clear(&le);
		dev->attempt = a;
		r = dfu_get_status(dev, &op, 0, &st, &le);
		dev->attempt = 0;
	}
	if (r == DFU_E_USB_PIPE && dev->info.dfu_mode) {
		/* a DFU-mode interface must answer GET_STATUS (DFU 1.1 6.1.2) */
		if (report)
			*report = rep;
		dfu_error_set(e, DFU_E_PROTOCOL, "dfu.status_stalled", NULL,
			      "GET_STATUS at start stalled %u times: the DFU-mode interface does "
			      "not answer GET_STATUS",
			      DFU_RETRY_MAX + 1);
		dfu_error_hint(e, "replug the device (or reset it into its bootloader again) and "
				  "retry");
		return DFU_E_PROTOCOL;
	}
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
			/* DFU 1.1 8.1.1: a manifestation-intolerant device waits for a USB
			 * reset after a previous download: give it one, once */
			if (was_reset)
				goto wrong_state;
			dfu_log(dev->ctx, DFU_LOG_INFO,
				"device was in %s: resetting it (USB reset)",
				dfu_state_name(st.state));
			r = dfu_dev_reset_rebind(dev, e);
			if (r < 0)
				return r;
			was_reset = true;
			break;
		default:
		wrong_state:
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
	op.no_retry = true; /* an intolerant device may reset here */
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
	/* a stalled UPLOAD whose GET_STATUS said dfuERROR with a status: the
	 * device refused, the link is fine */
	if (r < 0 && dfu_err_is_usb(r) && e && e->err == r && e->have_state &&
	    e->state == DFU_STATE_DFU_ERROR && e->status != DFU_STATUS_OK) {
		r = DFU_E_DEVSTATUS;
		e->err = r;
	}
	dfu_image_free(img);
	dfu_buf_release(&data);
	return r;
}

/* ------------------------------------------------------------------------ */
/* What an interrupted download left behind                                 */

/* Start the facts of a download of @img: the data bytes for this alt and the
 * sector of the vector table, found as dfuse.c's plan finds it. */
static void facts_begin(struct dfu_dev *dev, const struct dfu_image *img, bool dfuse)
{
	struct dfu_dl_facts *f = &dev->facts;
	const struct dfuse_layout *l = dev->info.layout;
	struct dfu_vector_table vt;
	struct dfuse_sector sec;
	bool tagged = false;

	memset(f, 0, sizeof(*f));
	dev->resend.valid = false;
	dev->resend.have_pointer = false;
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

#define APPEND(...)                                                                         \
	do {                                                                                \
		size_t used_ = strlen(out);                                                 \
		if (used_ < cap)                                                            \
			snprintf(out + used_, cap - used_, __VA_ARGS__);                    \
	} while (0)

/*
 * e->detail for a download that failed after the device's memory was
 * touched: which sectors are erased, which ranges written, whether the
 * vector-table sector holds the new table yet; e->resumable when the failure
 * was the link's (running the same command again erases and writes all of
 * it again).
 */
static void facts_describe(struct dfu_dev *dev, int r, struct dfu_error *e)
{
	const struct dfu_dl_facts *f = &dev->facts;
	char *out;
	size_t cap;

	if (!e || !e->err || e->detail[0] || !f->active)
		return;
	if (!f->n_erased && !f->mass_erased && !f->n_ranges)
		return;
	out = e->detail;
	cap = sizeof(e->detail);
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
			       (unsigned long long)f->bytes_done, (unsigned long long)f->bytes_total);
		} else {
			APPEND("; nothing written yet");
		}
		if (f->have_vt && !f->vt_written &&
		    (f->mass_erased || facts_erased(f, f->vt_sector)))
			APPEND("; the vector-table sector 0x%08x is erased and not yet written, so no "
			       "application can start: the chip stays in the bootloader",
			       f->vt_sector);
		else if (f->have_vt && f->vt_written)
			APPEND("; the vector-table sector 0x%08x was written: do not reset the chip "
			       "before the flash is complete",
			       f->vt_sector);
	}
	e->resumable = dfu_err_is_usb(r);
	if (e->resumable)
		APPEND("; running the same command again erases and writes all of it");
}

#undef APPEND

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

/* An absurd wTransferSize (0xFFFF): refused before anything is erased. */
static int check_transfer_size(struct dfu_dev *dev, const struct dfu_flash_opts *opts,
			       struct dfu_error *e)
{
	if ((opts && opts->transfer_size) || dev->transfer_size <= DFU_TRANSFER_SIZE_MAX)
		return 0;
	dfu_error_set(e, DFU_E_INVAL, "dfu.transfer_size", NULL,
		      "the device announces wTransferSize %u, more than a control transfer "
		      "carries (at most %u): nothing was done",
		      dev->transfer_size, DFU_TRANSFER_SIZE_MAX);
	dfu_error_hint(e, "give the device's real transfer size with -t (e.g. -t 2048)");
	return DFU_E_INVAL;
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
	r = check_transfer_size(dev, opts, e);
	if (r < 0)
		return r;
	t0 = dfu_now_ms(dev->ctx);
	facts_begin(dev, img, use_dfuse(dev, opts));
	dev->res = res;
	r = use_dfuse(dev, opts) ? dfuse_download(dev, img, opts, res, e)
				 : plain_download(dev, img, opts, res, e);
	dev->res = NULL;
	res->elapsed_ms = dfu_now_ms(dev->ctx) - t0;
	if (r < 0)
		facts_describe(dev, r, e);
	dev->facts.active = false;
	dev->resend.valid = false;
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
	r = check_transfer_size(dev, opts, e);
	if (r < 0)
		return r;
	t0 = dfu_now_ms(dev->ctx);
	dev->res = res;
	r = use_dfuse(dev, opts) ? dfuse_upload(dev, opts, out, res, e)
				 : plain_upload(dev, opts, out, res, e);
	dev->res = NULL;
	dev->resend.valid = false;
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
	dev->res = res;
	r = use_dfuse(dev, opts) ? dfuse_leave(dev, img, opts, res, e) : plain_leave(dev, res, e);
	dev->res = NULL;
	dev->resend.valid = false;
	return r;
}
