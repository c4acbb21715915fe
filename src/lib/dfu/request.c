// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * DFU 1.1 on the wire: the one request function every class request goes
 * through, with the classified retries of transient failures, GET_STATUS, and
 * the polling rules of DFU 1.1 6.1.2.  Retrying a DNLOAD polls, and polling may
 * send a lost DNLOAD again, so requests and polling are one unit.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "proto.h"
#include "util.h"

/* dfu-util's fallback for devices with bogus bwPollTimeout (QUIRK_POLLTIMEOUT). */
#define BOGUS_POLL_MS 5u
/* No flash operation of a DFU device takes a minute (the slowest, an F2/F4/F7
 * mass erase, up to 32 s).  A longer bwPollTimeout (24 bits: up to 4.7 hours)
 * is a broken or hostile reply that no deadline could honour block after
 * block: the device is polled every ABSURD_POLL_MS instead. */
#define ABSURD_POLL_THRESHOLD_MS 60000u
#define ABSURD_POLL_MS 100u
/* A busy reply announcing bwPollTimeout 0 (Black Magic Probe, fwupd's
 * allow-zero-polltimeout devices) is polled again after this long, so that a
 * device that never finishes cannot spin the host; the deadline ends it. */
#define ZERO_POLL_FLOOR_MS 1u
/* GET_STATUS may be held (NAKed) by a ROM busy in its flash loop for the whole
 * operation (ST's usbd_dfu.c erases and writes in the completion of the
 * GET_STATUS that answered dfuDNBUSY); pydfu uses 20 s for GET_STATUS.  Give
 * the transfer the remaining deadline, within these bounds. */
#define STATUS_TIMEOUT_MIN_MS 5000u
#define STATUS_TIMEOUT_MAX_MS 120000u
/* Stalled GET_STATUS polls tolerated while a device is busy (dfu-util: 3). */
#define POLL_STALL_RETRIES 20u

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
		dev->ctx->trace_attempt = dev->run->attempt;
		r = dfu_control_traced(dev->ctx, dev->h, op->name, in ? DFU_RT_IN : DFU_RT_OUT,
				       request, value, dev->info.interface, data, len, timeout_ms,
				       &name);
		dev->ctx->trace_attempt = 0;
	} else {
		r = dev->h->ops->control(dev->h, in ? DFU_RT_IN : DFU_RT_OUT, request, value,
					 dev->info.interface, data, len, timeout_ms, &name);
	}
	dfu_log(dev->ctx, DFU_LOG_TRACE, "%s wValue=%u wLength=%u (%s) -> %d%s%s%s",
		dfu_request_name(request), value, len, op->name, r, r < 0 ? " " : "",
		r < 0 ? (name ? name : dfu_strerror(r)) : "", dev->run->attempt ? " [retry]" : "");
	if (usb_name)
		*usb_name = name;
	return r;
}

/* A DfuSe command that is safe to send twice (Set Address, erase). */
static bool idempotent_command(const struct dfu_dev *dev, uint16_t value, const uint8_t *data,
			       uint16_t len)
{
	return value == 0 && dfu_dev_dfuse_like(dev) && len >= 1 && data &&
	       ((data[0] == DFUSE_CMD_SET_ADDRESS && len == 5) ||
		(data[0] == DFUSE_CMD_ERASE && (len == 1 || len == 5)));
}

/* Remember a DNLOAD that went out (for a re-send and the download facts). */
static void record_dnload(struct dfu_dev *dev, const struct dfu_op *op, uint16_t value,
			  const uint8_t *data, uint16_t len)
{
	struct dfu_resend *rs = &dev->run->resend;

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
	if (value == 0 && len == 5 && data[0] == DFUSE_CMD_SET_ADDRESS && dfu_dev_dfuse_like(dev)) {
		rs->have_pointer = true;
		rs->pointer = le32_get(data + 1);
		rs->block_size = 0;
	} else if (value == 2 && rs->have_pointer) {
		rs->block_size = len;
	}
}

/*
 * Before a DNLOAD is sent again: a DfuSe data block gets a fresh Set Address
 * of the pointer it was numbered from (or dfuse.c's hook does the job).
 */
static int resend_prepare(struct dfu_dev *dev, const struct dfu_op *op, uint16_t value,
			  struct dfu_error *e)
{
	struct dfu_resend *rs = &dev->run->resend;
	struct dfu_status_reply st;
	uint8_t cmd[5] = { DFUSE_CMD_SET_ADDRESS };
	struct dfu_op sop;
	uint32_t pointer = rs->pointer;
	int r;

	if (rs->prepare)
		return rs->prepare(dev, op, rs->prepare_ud, e);
	if (value < 2 || !rs->have_pointer)
		return 0;
	le32_put(cmd + 1, pointer);
	dfu_op_init_at(&sop, 0, pointer, "DfuSe Set Address 0x%08x again (before block %u)",
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
static int bring_back(struct dfu_dev *dev, const struct dfu_op *op, uint16_t value, bool command,
		      struct dfu_error *e)
{
	struct dfu_status_reply st;
	struct dfu_op bop;
	bool plain_block = !command && !dev->run->resend.have_pointer;
	int r;

	dfu_op_init_like(&bop, op, "GET_STATUS before retry of %s", op->name);
	r = dfu_get_status(dev, &bop, 0, &st, e);
	if (r < 0)
		return r;
	switch (st.state) {
	case DFU_STATE_DFU_DNLOAD_SYNC:
	case DFU_STATE_DFU_DNBUSY:
		/* it arrived and now runs: honour the announced wait (6.1.2), within
		 * the budget of the operation */
		dfu_wait_announced(
		    dev, op, st.poll_timeout_ms ? st.poll_timeout_ms : ZERO_POLL_FLOOR_MS,
		    dfu_now_ms(dev->ctx) +
			(dev->last_deadline_ms ? dev->last_deadline_ms : DFU_DEADLINE_COMMAND_MS));
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
		dfu_op_init(&bop, -1, "CLRSTATUS before retry of %s", op->name);
		r = dfu_clr_status(dev, &bop, e);
		return r < 0 ? r : BACK_RESEND;
	case DFU_STATE_DFU_UPLOAD_IDLE:
		if (plain_block)
			break;
		dfu_op_init(&bop, -1, "ABORT before retry of %s", op->name);
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
	if (!dfu_usb_transient(r) || op->no_retry || dev->run->retry_depth || len == 0 || !data)
		return false;
	if (value == 0 && dfu_dev_dfuse_like(dev))
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
	if (dev->run->lost_op != op) {
		dev->run->lost_op = op;
		dev->run->lost_ms = 0;
	}
	dev->run->lost_ms += lost_ms;
}

static uint64_t take_lost(struct dfu_dev *dev, const struct dfu_op *op)
{
	uint64_t ms = dev->run->lost_op == op ? dev->run->lost_ms : 0;

	dev->run->lost_op = NULL;
	dev->run->lost_ms = 0;
	return ms;
}

/*
 * One request of dfu_request(): what goes on the wire, and what its retries
 * learn (the libusb name of the last failure, the transfers tried, a
 * failure of the recovery requests).
 */
struct req {
	struct dfu_dev *dev;
	const struct dfu_op *op;
	uint8_t request;
	uint16_t value;
	uint8_t *data;
	uint16_t len;
	unsigned timeout_ms;
	const char *usb_name;
	unsigned attempts;
	struct dfu_error le;
};

/* The request of @rq on the wire once more. */
static int send_req(struct req *rq)
{
	return send_once(rq->dev, rq->op, rq->request, rq->value, rq->data, rq->len, rq->timeout_ms,
			 &rq->usb_name);
}

/* The retries ended on the device's own verdict or state (in rq->le). */
static bool retry_verdict(const struct req *rq)
{
	return rq->le.err == DFU_E_DEVSTATUS || rq->le.err == DFU_E_PROTOCOL;
}

/*
 * Start retry @a of the failed request @what (@r its failure): the log line
 * and the retry note, the backoff, and the counters of the run (the depth
 * that keeps retries from nesting, the attempt the trace shows).  The caller
 * ends it with dev->run->retry_depth--.
 */
static void retry_attempt(struct req *rq, const char *what, int r, unsigned a)
{
	struct dfu_dev *dev = rq->dev;

	dfu_note_retry(dev, rq->op, what, rq->usb_name ? rq->usb_name : dfu_strerror(r), a);
	dfu_sleep_ms(dev->ctx, dfu_retry_backoff_ms(a));
	rq->attempts = a + 1;
	dev->run->retry_depth++;
	dev->run->attempt = a;
	dfu_error_clear(&rq->le);
}

/*
 * Retry a DNLOAD that failed with @r: bring the device back, prepare, send
 * again; bounded and with backoff.  Returns the bytes sent or a negative
 * dfu_err; rq->le holds a failure of the recovery requests.
 */
static int retry_dnload(struct req *rq, int r)
{
	struct dfu_dev *dev = rq->dev;
	const struct dfu_op *op = rq->op;
	bool command = rq->value == 0 && dfu_dev_dfuse_like(dev);

	for (unsigned a = 1; a <= DFU_RETRY_MAX && dfu_usb_transient(r); a++) {
		retry_attempt(rq, "DFU_DNLOAD", r, a);
		r = bring_back(dev, op, rq->value, command, &rq->le);
		if (r == BACK_RESEND)
			r = resend_prepare(dev, op, rq->value, &rq->le);
		if (r == 0)
			r = send_req(rq);
		else if (r == BACK_ARRIVED)
			r = rq->len;
		else if (rq->le.usb_name)
			rq->usb_name = rq->le.usb_name;
		dev->run->retry_depth--;
		dev->run->attempt = 0;
		if (r >= 0)
			return r;
	}
	return r;
}

/* CLRSTATUS and ABORT: safe to send again (each leads to dfuIDLE). */
static bool simple_retryable(const struct dfu_dev *dev, const struct dfu_op *op, int r)
{
	return dfu_usb_transient(r) && !op->no_retry && !dev->run->retry_depth;
}

/*
 * Retry a CLRSTATUS or ABORT that failed with @r: a GET_STATUS first (dfuIDLE:
 * it arrived, done), then the same request again; bounded, with backoff.
 */
static int retry_simple(struct req *rq, int r)
{
	struct dfu_dev *dev = rq->dev;
	const struct dfu_op *op = rq->op;

	for (unsigned a = 1; a <= DFU_RETRY_MAX && dfu_usb_transient(r); a++) {
		struct dfu_status_reply st;
		struct dfu_op bop;

		retry_attempt(rq, dfu_request_name(rq->request), r, a);
		dfu_op_init(&bop, -1, "GET_STATUS before retry of %s", op->name);
		r = dfu_get_status(dev, &bop, 0, &st, &rq->le);
		if (r == 0 && st.state == DFU_STATE_DFU_IDLE)
			r = 0; /* it arrived (or was not needed any more) */
		else if (r == 0 || dfu_usb_transient(r))
			r = send_once(dev, op, rq->request, 0, NULL, 0, rq->timeout_ms,
				      &rq->usb_name);
		dev->run->retry_depth--;
		dev->run->attempt = 0;
		if (r >= 0) {
			dfu_log(dev->ctx, DFU_LOG_VERBOSE, "%s: %s done after %u retr%s", op->name,
				dfu_request_name(rq->request), a, a == 1 ? "y" : "ies");
			return 0;
		}
	}
	return r;
}

/* A DfuSe UPLOAD of a data block (numbered from the last Set Address). */
static bool upload_retryable(const struct dfu_dev *dev, const struct dfu_op *op, uint16_t value,
			     int r)
{
	if (!dfu_usb_transient(r) || op->no_retry || dev->run->retry_depth)
		return false;
	if (dfu_dev_dfuse_like(dev))
		return value >= 2 && dev->run->resend.have_pointer;
	/* plain DFU: a stalled UPLOAD delivered nothing; sent again from
	 * dfuUPLOAD-IDLE only (retry_upload checks) */
	return r == DFU_E_USB_PIPE;
}

/* The state found before a retry of a failed UPLOAD rules the retry out. */
static bool upload_hopeless(const struct dfu_dev *dev, const struct dfu_status_reply *st)
{
	if (!dfu_dev_dfuse_like(dev)) {
		/* plain DFU: the device's offset did not move; anything but
		 * dfuUPLOAD-IDLE ends the upload */
		return st->state != DFU_STATE_DFU_UPLOAD_IDLE;
	}
	/* a verdict (errVENDOR under RDP): no retry; the caller reports the
	 * transfer error with this state */
	return st->state == DFU_STATE_DFU_ERROR && st->status != DFU_STATUS_ERR_STALLEDPKT &&
	       st->status != DFU_STATUS_ERR_UNKNOWN;
}

/*
 * A DfuSe UPLOAD again, from the state @found before the retry: to dfuIDLE
 * (CLRSTATUS / ABORT), Set Address of the block's pointer again, ABORT to
 * dfuIDLE and UPLOAD the same block number.
 */
static int upload_again_dfuse(struct req *rq, const struct dfu_status_reply *found,
			      uint32_t pointer)
{
	struct dfu_dev *dev = rq->dev;
	const struct dfu_op *op = rq->op;
	uint8_t cmd[5] = { DFUSE_CMD_SET_ADDRESS };
	struct dfu_status_reply st;
	struct dfu_op bop;
	int r = 0;

	if (found->state == DFU_STATE_DFU_ERROR) {
		dfu_op_init(&bop, -1, "CLRSTATUS before retry of %s", op->name);
		r = dfu_clr_status(dev, &bop, &rq->le);
	} else if (found->state != DFU_STATE_DFU_IDLE) {
		dfu_op_init(&bop, -1, "ABORT before retry of %s", op->name);
		r = dfu_abort(dev, &bop, &rq->le);
	}
	if (r < 0)
		return r;
	/* the Address Pointer again, then back to dfuIDLE for the UPLOAD */
	le32_put(cmd + 1, pointer);
	dfu_op_init_at(&bop, 0, pointer, "DfuSe Set Address 0x%08x again (before block %u)",
		       pointer, rq->value);
	r = dfu_request(dev, &bop, DFU_REQ_DNLOAD, 0, cmd, sizeof(cmd), 0, &rq->le);
	if (r >= 0)
		r = dfu_poll(dev, &bop, dfu_now_ms(dev->ctx) + DFU_DEADLINE_COMMAND_MS, &st,
			     &rq->le);
	if (r >= 0 && st.state != DFU_STATE_DFU_DNLOAD_IDLE)
		r = dfu_error_wrong_state(&bop, &st, "dfuDNLOAD-IDLE", &rq->le);
	if (r >= 0) {
		dfu_op_init(&bop, -1, "ABORT after Set Address (retry of %s)", op->name);
		r = dfu_abort(dev, &bop, &rq->le);
	}
	if (r >= 0)
		r = send_req(rq);
	else if (rq->le.usb_name)
		rq->usb_name = rq->le.usb_name;
	return r;
}

/*
 * Retry an UPLOAD that failed with @r: GET_STATUS, then for DfuSe the way
 * back to the block (upload_again_dfuse), for plain DFU the same UPLOAD
 * from dfuUPLOAD-IDLE; bounded, with backoff.
 */
static int retry_upload(struct req *rq, int r)
{
	struct dfu_dev *dev = rq->dev;
	const struct dfu_op *op = rq->op;
	uint32_t pointer = dev->run->resend.pointer;
	int first = r;

	for (unsigned a = 1; a <= DFU_RETRY_MAX && dfu_usb_transient(r); a++) {
		struct dfu_status_reply st;
		struct dfu_op bop;

		retry_attempt(rq, "DFU_UPLOAD", r, a);
		dfu_op_init_like(&bop, op, "GET_STATUS before retry of %s", op->name);
		r = dfu_get_status(dev, &bop, 0, &st, &rq->le);
		if (r == 0 && upload_hopeless(dev, &st)) {
			dev->run->retry_depth--;
			dev->run->attempt = 0;
			dfu_error_clear(&rq->le);
			rq->attempts = 1;
			return first;
		}
		if (r == 0)
			r = dfu_dev_dfuse_like(dev) ? upload_again_dfuse(rq, &st, pointer)
						    : send_req(rq);
		dev->run->retry_depth--;
		dev->run->attempt = 0;
		if (r >= 0) {
			dfu_log(dev->ctx, DFU_LOG_VERBOSE, "%s: DFU_UPLOAD done after %u retr%s",
				op->name, a, a == 1 ? "y" : "ies");
			return r;
		}
		if (retry_verdict(rq))
			return r;
	}
	return r;
}

/*
 * retry_dnload for dfu_request(): a success restarts the op's deadline; a
 * failure that is neither a device verdict nor a transfer error is reported
 * as the first transfer failure.
 */
static int retry_dnload_request(struct req *rq, int r, uint64_t t0)
{
	struct dfu_dev *dev = rq->dev;
	int first = r;
	const char *first_name = rq->usb_name;

	dfu_error_clear(&rq->le);
	r = retry_dnload(rq, r);
	if (r >= 0) {
		dfu_log(dev->ctx, DFU_LOG_VERBOSE, "%s: DFU_DNLOAD done after %u retr%s",
			rq->op->name, rq->attempts - 1, rq->attempts == 2 ? "y" : "ies");
		/* restart the deadline: the time lost is not the device's */
		note_lost(dev, rq->op, dfu_now_ms(dev->ctx) - t0);
	} else if (!retry_verdict(rq) && !dfu_err_is_usb(r)) {
		r = first;
		rq->usb_name = first_name;
	}
	return r;
}

/* Report that verdict: the better report than the transfer failure. */
static int report_verdict(const struct req *rq, int r, struct dfu_error *e)
{
	if (e && !e->err) {
		*e = rq->le;
		e->attempts = rq->attempts;
	}
	return r;
}

/* The one place a failed request is classified and reported. */
static int report_failure(const struct req *rq, int r, struct dfu_error *e)
{
	struct dfu_dev *dev = rq->dev;
	bool was_empty = e && !e->err;

	dfu_error_set(e, r, "dfu.usb", NULL, "%s: %s failed: %s%s", rq->op->name,
		      dfu_request_name(rq->request), rq->usb_name ? rq->usb_name : dfu_strerror(r),
		      rq->attempts > 1 ? " (also when retried)" : "");
	if (was_empty) {
		dfu_op_fill_device(e, was_empty, rq->op);
		e->usb_err = r;
		e->usb_name = rq->usb_name;
		e->attempts = rq->attempts;
	}
	if (r == DFU_E_USB_PIPE &&
	    (rq->request == DFU_REQ_DNLOAD || rq->request == DFU_REQ_UPLOAD)) {
		/* a stalled transfer usually comes with dfuERROR and the reason (UPLOAD
		 * under RDP: dfuERROR/errVENDOR, AN2662): ask once, best effort */
		uint8_t b[6];
		int s = dfu_control_traced(dev->ctx, dev->h, "GET_STATUS after the stall",
					   DFU_RT_IN, DFU_REQ_GETSTATUS, 0, dev->info.interface, b,
					   sizeof(b), 0, NULL);

		dfu_log(dev->ctx, DFU_LOG_TRACE, "DFU_GETSTATUS after the stall -> %d", s);
		if (s == 6 && was_empty && e)
			dfu_error_state(e, b[4], b[0]);
	}
	if (was_empty && e)
		dfu_error_hint(e, dfu_cause_hint(e, dfu_dev_quirks(dev)));
	return r;
}

int dfu_request(struct dfu_dev *dev, const struct dfu_op *op, uint8_t request, uint16_t value,
		uint8_t *data, uint16_t len, unsigned timeout_ms, struct dfu_error *e)
{
	struct req rq = { .dev = dev,
			  .op = op,
			  .request = request,
			  .value = value,
			  .data = data,
			  .len = len,
			  .timeout_ms = timeout_ms,
			  .attempts = 1 };
	int r;

	uint64_t t0 = dfu_now_ms(dev->ctx);

	if (request == DFU_REQ_DNLOAD && !dev->run->retry_depth)
		take_lost(dev, NULL); /* a new DNLOAD: forget an older op's lost time */
	/* a command may move the Address Pointer (the ST HAL's erase does);
	 * dfuse_set_address() knows it again once Set Address succeeded */
	if ((request == DFU_REQ_DNLOAD && value == 0) || request == DFU_REQ_CLRSTATUS ||
	    request == DFU_REQ_DETACH)
		dev->pointer_known = false;
	dev->idle_checked = false;
	r = send_req(&rq);
	if (r < 0 && (request == DFU_REQ_CLRSTATUS || request == DFU_REQ_ABORT) &&
	    simple_retryable(dev, op, r)) {
		dfu_error_clear(&rq.le);
		r = retry_simple(&rq, r);
	} else if (r < 0 && request == DFU_REQ_UPLOAD && upload_retryable(dev, op, value, r)) {
		dfu_error_clear(&rq.le);
		r = retry_upload(&rq, r);
		if (r < 0 && retry_verdict(&rq))
			return report_verdict(&rq, r, e);
	} else if (r < 0 && request == DFU_REQ_DNLOAD &&
		   dnload_retryable(dev, op, value, data, len, r)) {
		r = retry_dnload_request(&rq, r, t0);
		/* the device's own verdict or state is the better report */
		if (r < 0 && retry_verdict(&rq))
			return report_verdict(&rq, r, e);
	}
	if (request == DFU_REQ_DNLOAD && r >= 0)
		record_dnload(dev, op, value, data, len);
	if (r >= 0)
		return r;
	dev->pointer_known = false;
	return report_failure(&rq, r, e);
}

/* The wait that replaces an absurd bwPollTimeout @announced; said once a device. */
static uint32_t absurd_poll_timeout(struct dfu_dev *dev, const struct dfu_op *op,
				    uint32_t announced)
{
	if (!dev->absurd_poll_said)
		dfu_log(dev->ctx, DFU_LOG_VERBOSE,
			"%s: device announced bwPollTimeout %u ms (%.1f hours), longer than any "
			"flash operation takes: polling it every %u ms instead",
			op->name, announced, announced / 3600000.0, ABSURD_POLL_MS);
	dev->absurd_poll_said = true;
	return ABSURD_POLL_MS;
}

int dfu_get_status(struct dfu_dev *dev, const struct dfu_op *op, unsigned timeout_ms,
		   struct dfu_status_reply *st, struct dfu_error *e)
{
	uint8_t b[6] = { 0 };
	bool was_empty = e && !e->err;
	int r;

	r = dfu_request(dev, op, DFU_REQ_GETSTATUS, 0, b, sizeof(b), timeout_ms, e);
	if (r < 0)
		return r;
	if (r < (int)sizeof(b)) {
		/* dfu-util takes this for success with made-up contents (its
		 * dfu_get_status presets dfuERROR/errUNKNOWN) */
		dfu_error_set(e, DFU_E_PROTOCOL, "dfu.short_status", NULL,
			      "%s: short GET_STATUS reply: %d of 6 bytes", op->name, r);
		dfu_op_fill_device(e, was_empty, op);
		return DFU_E_PROTOCOL;
	}
	st->status = b[0];
	st->poll_timeout_ms = (uint32_t)b[1] | (uint32_t)b[2] << 8 | (uint32_t)b[3] << 16;
	st->state = b[4];
	st->istring = b[5];
	if (dev->quirks & DFU_QUIRK_POLL_TIMEOUT_BOGUS)
		st->poll_timeout_ms = BOGUS_POLL_MS;
	else if (st->poll_timeout_ms > ABSURD_POLL_THRESHOLD_MS)
		st->poll_timeout_ms = absurd_poll_timeout(dev, op, st->poll_timeout_ms);
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
 * for the STM32H743 bank-2 erase (betaflight-configurator PR 1861):
 * CLRSTATUS gives dfuERROR/errUNKNOWN, a second one dfuIDLE.  Best effort:
 * the deadline is the error reported either way.
 */
static void unstick(struct dfu_dev *dev)
{
	struct dfu_status_reply st;
	struct dfu_op op;

	dfu_op_init(&op, -1, "CLRSTATUS to unstick a busy device");
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

/*
 * The GET_STATUS polling lost the device's answer and the device no longer
 * knows the DNLOAD (dfuIDLE, or dfuERROR with errSTALLEDPKT/errUNKNOWN after
 * our failure): send the recorded DNLOAD again.
 */
static int resend_lost(struct dfu_dev *dev, const struct dfu_op *op,
		       const struct dfu_status_reply *st, struct dfu_error *e)
{
	struct dfu_resend *rs = &dev->run->resend;
	struct dfu_op cop;
	uint16_t value = rs->value, len = rs->len;
	uint8_t *copy;
	int r;

	if (!rs->valid || rs->op != op)
		return 1; /* nothing to send again */
	if (value != 0 && !rs->have_pointer && st->state != DFU_STATE_DFU_DNLOAD_IDLE)
		return 1; /* a plain DFU block is only re-sent from dfuDNLOAD-IDLE */
	if (value == 0 && dfu_dev_dfuse_like(dev) && !idempotent_command(dev, value, rs->data, len))
		return 1;
	copy = malloc(len);
	if (!copy)
		return dfu_error_set(e, DFU_E_NOMEM, "dfu.nomem", NULL, "out of memory");
	memcpy(copy, rs->data, len);
	dev->run->retry_depth++;
	if (st->state == DFU_STATE_DFU_ERROR) {
		dfu_op_init(&cop, -1, "CLRSTATUS before re-sending %s", op->name);
		r = dfu_clr_status(dev, &cop, e);
		if (r < 0)
			goto out;
	}
	r = resend_prepare(dev, op, value, e);
	if (r < 0)
		goto out;
	r = dfu_request(dev, op, DFU_REQ_DNLOAD, value, copy, len, 0, e);
out:
	dev->run->retry_depth--;
	free(copy);
	return r < 0 ? r : 0;
}

void dfu_wait_announced(struct dfu_dev *dev, const struct dfu_op *op, uint32_t announced_ms,
			uint64_t deadline_ms)
{
	uint64_t now = dfu_now_ms(dev->ctx);
	uint32_t wait = announced_ms;

	/* a hostile or broken bwPollTimeout (24 bits: up to 4.6 hours) must not
	 * hold the host past the operation's deadline */
	if (deadline_ms <= now)
		wait = 0;
	else if (wait > deadline_ms - now)
		wait = (uint32_t)(deadline_ms - now);
	if (wait < announced_ms)
		dfu_log(dev->ctx, DFU_LOG_VERBOSE,
			"%s: device announced bwPollTimeout %u ms; waiting %u ms (the deadline)",
			op->name, announced_ms, wait);
	dfu_sleep_ms(dev->ctx, wait);
}

/* The GET_STATUS polling of one op (dfu_poll). */
struct poll_state {
	struct dfu_dev *dev;
	const struct dfu_op *op;
	uint64_t deadline_ms;
	uint64_t start;
	uint64_t busy_at;      /* when the last busy reply came */
	unsigned busy_replies; /* busy replies so far */
	uint32_t last_wait;    /* the wait after the last busy reply */
	uint32_t announced;    /* bwPollTimeout of the last busy reply */
	bool nonzero_poll;     /* a busy reply announced a bwPollTimeout */
	bool busy_seen;	       /* a busy reply came */
	bool lost;	       /* a GET_STATUS failed: its answer was lost */
	bool early_stall;      /* an early GET_STATUS stalled (poll_demote) */
	unsigned stalls, retries;
};

/* A GET_STATUS stalled while the device is busy: wait as long again. */
static void poll_wait_stalled(struct poll_state *p)
{
	uint64_t now = dfu_now_ms(p->dev->ctx);
	uint32_t wait = p->last_wait;

	/* STM32L4/F072 stall a GET_STATUS sent while the flash is still
	 * busy when they announced too short a bwPollTimeout (dfu-util's
	 * L4 workaround, openmv 1508): wait that long again, within the
	 * deadline (the caller checked it is ahead), and ask again */
	if (wait > p->deadline_ms - now)
		wait = (uint32_t)(p->deadline_ms - now);
	p->stalls++;
	dfu_log(p->dev->ctx, DFU_LOG_DEBUG,
		"%s: GET_STATUS stalled while busy (%u), waiting %u ms again", p->op->name,
		p->stalls, wait);
	dfu_sleep_ms(p->dev->ctx, wait);
}

/* A GET_STATUS asked at @t_req failed with @r (@le): pause before the next. */
static void poll_note_lost(struct poll_state *p, int r, const struct dfu_error *le, uint64_t t_req)
{
	const char *lost_why;

	/* a lost answer: ask again after a pause (the request changes
	 * nothing the device would not do anyway) */
	p->retries++;
	p->lost = true;
	lost_why = le->usb_name ? le->usb_name : dfu_strerror(r);
	dfu_note_retry(p->dev, p->op, "DFU_GETSTATUS", lost_why, p->retries);
	dfu_sleep_ms(p->dev->ctx, dfu_retry_backoff_ms(p->retries));
	/* the lost transfer and the pause are not the device's time */
	p->deadline_ms += dfu_now_ms(p->dev->ctx) - t_req;
}

/* The polling ends on a GET_STATUS that failed with @r (@le). */
static int poll_failed(const struct poll_state *p, int r, const struct dfu_error *le,
		       struct dfu_error *e)
{
	if (e && !e->err) {
		*e = *le;
		if (p->retries) {
			const char *h;

			e->attempts = p->retries + 1;
			snprintf(e->message + strlen(e->message),
				 sizeof(e->message) - strlen(e->message), " (also when retried)");
			h = dfu_cause_hint(e, dfu_dev_quirks(p->dev));
			if (h)
				dfu_error_hint(e, h);
		}
	}
	return r;
}

/* A state in which the device no longer knows a DNLOAD it got. */
static bool dnload_forgotten(const struct dfu_status_reply *st)
{
	return st->state == DFU_STATE_DFU_IDLE ||
	       (st->state == DFU_STATE_DFU_ERROR &&
		(st->status == DFU_STATUS_ERR_STALLEDPKT || st->status == DFU_STATUS_ERR_UNKNOWN));
}

/* A strict device took the early GET_STATUS for a protocol error: dfuERROR
 * with the status unchanged (DFU 1.1 state table; tinyusb), the DNLOAD in
 * doubt. */
static bool strict_stalled(const struct poll_state *p, const struct dfu_status_reply *st)
{
	return p->early_stall && st->state == DFU_STATE_DFU_ERROR && st->status == DFU_STATUS_OK;
}

/* The device still reports the busy @st at @now, past the deadline. */
static int poll_deadline(const struct poll_state *p, const struct dfu_status_reply *st,
			 uint64_t now, struct dfu_error *e)
{
	struct dfu_dev *dev = p->dev;
	struct dfu_status_reply busy = *st;
	bool was_empty = e && !e->err;

	unstick(dev);
	dfu_error_set(
	    e, DFU_E_DEADLINE, "dfu.deadline", NULL,
	    "%s did not finish within %u ms: the device still reports "
	    "%s, %s %u ms",
	    p->op->name, dev->last_deadline_ms ? dev->last_deadline_ms : (uint32_t)(now - p->start),
	    dfu_state_name(busy.state),
	    p->nonzero_poll ? "after announcing" : "announcing bwPollTimeout", p->announced);
	if (was_empty) {
		dfu_op_fill_device(e, was_empty, p->op);
		dfu_error_state(e, busy.state, busy.status);
		e->announced_ms = p->announced;
		e->busy_ms = (uint32_t)MIN(now - p->start, (uint64_t)UINT32_MAX);
		e->zero_poll = p->busy_seen && !p->nonzero_poll;
		dfu_error_hint(e, dfu_cause_hint(e, dfu_dev_quirks(dev)));
	}
	return DFU_E_DEADLINE;
}

/*
 * The wait after the busy reply @st under the device's poll plan.  DFU 1.1
 * 6.1.2 makes bwPollTimeout the least wait; ROMs announce a constant instead
 * of the real duration, and one that holds GET_STATUS until its flash is done
 * (busy=nak) is asked again at once after the first busy reply of an
 * operation, so that the held request returns when the flash operation ends.
 */
static uint32_t poll_wait_for(const struct poll_state *p, const struct dfu_status_reply *st)
{
	const struct dfu_poll_plan *plan = &p->dev->poll;
	uint32_t announced = st->poll_timeout_ms ? st->poll_timeout_ms : ZERO_POLL_FLOOR_MS;
	uint32_t every = MAX(plan->interval_ms, ZERO_POLL_FLOOR_MS);

	switch (plan->how) {
	case DFU_POLL_HOW_AT_ONCE:
		/* a second busy reply: the device did not hold the request (a
		 * bank-2 erase of an H743 repeats dfuDNBUSY): as announced */
		return p->busy_replies == 1 ? 0 : announced;
	case DFU_POLL_HOW_INTERVAL:
		return plan->at_least_announced ? MAX(every, announced) : every;
	case DFU_POLL_HOW_ANNOUNCED:
		break;
	}
	return announced;
}

/*
 * A GET_STATUS sent before the last busy reply's bwPollTimeout stalled: this
 * device may not be polled early (its quirk entry is wrong, or --poll asked
 * too much).  Poll it as announced for the rest of the run, wait out the
 * announced time, and have the next reply checked for a DNLOAD the device
 * lost with the stall (a strict device goes to dfuERROR).
 */
static void poll_demote(struct poll_state *p)
{
	struct dfu_dev *dev = p->dev;
	uint64_t until = MIN(p->busy_at + MAX(p->announced, ZERO_POLL_FLOOR_MS), p->deadline_ms);
	uint64_t now = dfu_now_ms(dev->ctx);

	dfu_log(dev->ctx, DFU_LOG_VERBOSE,
		"%s: GET_STATUS sent before bwPollTimeout stalled: polling %04x:%04x as "
		"announced from now on",
		p->op->name, dev->info.vid, dev->info.pid);
	dev->poll.how = DFU_POLL_HOW_ANNOUNCED;
	snprintf(dev->poll.why, sizeof(dev->poll.why),
		 "bwPollTimeout as announced: a GET_STATUS sent earlier stalled");
	p->lost = true;
	p->early_stall = true;
	p->stalls++;
	p->last_wait = MAX(p->announced, ZERO_POLL_FLOOR_MS);
	if (until > now)
		dfu_sleep_ms(dev->ctx, (uint32_t)(until - now));
}

/* Whether the GET_STATUS sent at @t_req went out before the device's
 * announced time was up, under a plan that allows that. */
static bool poll_was_early(const struct poll_state *p, uint64_t t_req)
{
	return p->dev->poll.how != DFU_POLL_HOW_ANNOUNCED && p->busy_replies &&
	       t_req < p->busy_at + p->announced;
}

/* A busy reply @st: wait before the next GET_STATUS, or end at the deadline. */
static int poll_busy(struct poll_state *p, const struct dfu_status_reply *st, struct dfu_error *e)
{
	uint64_t now;
	uint32_t wait;

	p->busy_seen = true;
	p->busy_replies++;
	p->announced = st->poll_timeout_ms;
	if (st->poll_timeout_ms)
		p->nonzero_poll = true;
	now = dfu_now_ms(p->dev->ctx);
	p->busy_at = now;
	if (now >= p->deadline_ms)
		return poll_deadline(p, st, now, e);
	wait = poll_wait_for(p, st);
	if (wait > p->deadline_ms - now)
		wait = (uint32_t)(p->deadline_ms - now);
	dfu_log(p->dev->ctx, DFU_LOG_DEBUG, "%s: %s, waiting %u ms", p->op->name,
		dfu_state_name(st->state), wait);
	dfu_sleep_ms(p->dev->ctx, wait);
	p->last_wait = wait;
	return 0;
}

int dfu_poll(struct dfu_dev *dev, const struct dfu_op *op, uint64_t deadline_ms,
	     struct dfu_status_reply *st, struct dfu_error *e)
{
	struct poll_state p = { .dev = dev, .op = op, .deadline_ms = deadline_ms };
	int r;

	p.start = dfu_now_ms(dev->ctx);
	/* a retried DNLOAD: the deadline restarts when it was sent again */
	p.deadline_ms += take_lost(dev, op);
	for (;;) {
		struct dfu_error le;
		uint64_t t_req = dfu_now_ms(dev->ctx);

		dfu_error_clear(&le);
		dev->run->attempt = p.lost ? p.retries : 0;
		r = dfu_get_status(dev, op, status_timeout(dev, p.deadline_ms), st, &le);
		dev->run->attempt = 0;
		if (r == DFU_E_USB_PIPE && poll_was_early(&p, t_req)) {
			poll_demote(&p);
			continue;
		}
		if (r == DFU_E_USB_PIPE && p.last_wait && p.stalls < POLL_STALL_RETRIES &&
		    dfu_now_ms(dev->ctx) < p.deadline_ms) {
			poll_wait_stalled(&p);
			continue;
		}
		if (r < 0 && dfu_usb_transient(r) && !op->no_retry && !dev->run->retry_depth &&
		    p.retries < DFU_RETRY_MAX) {
			poll_note_lost(&p, r, &le, t_req);
			continue;
		}
		if (r < 0)
			return poll_failed(&p, r, &le, e);
		if (p.lost && (dnload_forgotten(st) || strict_stalled(&p, st))) {
			/* the device lost the DNLOAD with our failed request */
			dfu_log(dev->ctx, DFU_LOG_VERBOSE,
				"%s: device in %s after the failed GET_STATUS: sending it again",
				op->name, dfu_state_name(st->state));
			p.lost = false;
			r = resend_lost(dev, op, st, e);
			if (r < 0)
				return r;
			if (r == 0)
				continue;
		}
		if (p.lost && p.retries)
			dfu_log(dev->ctx, DFU_LOG_VERBOSE,
				"%s: GET_STATUS answered after %u retr%s", op->name, p.retries,
				p.retries == 1 ? "y" : "ies");
		p.lost = false;
		if (st->state == DFU_STATE_DFU_ERROR)
			return dfu_error_devstatus(dev, op, st, e);
		if (!state_busy(st->state)) {
			if (st->state == DFU_STATE_DFU_DNLOAD_IDLE)
				dfu_facts_complete(dev, op);
			return 0; /* idle or final: no waiting (DFU 1.1 6.1.2) */
		}
		r = poll_busy(&p, st, e);
		if (r < 0)
			return r;
	}
}
