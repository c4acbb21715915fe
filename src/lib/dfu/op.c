// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * What every request of an operation shares: the op that names it in
 * errors, deadlines, the errors for a dfuERROR reply or an unexpected state, the
 * device's quirk bits, and the retry notes.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>

#include "proto.h"

static void op_vinit(struct dfu_op *op, int block, const char *fmt, va_list ap)
{
	vsnprintf(op->name, sizeof(op->name), fmt, ap);
	op->block = block;
	op->have_address = false;
	op->address = 0;
	op->no_retry = false;
}

void dfu_op_init(struct dfu_op *op, int block, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	op_vinit(op, block, fmt, ap);
	va_end(ap);
}

void dfu_op_init_at(struct dfu_op *op, int block, uint32_t address, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	op_vinit(op, block, fmt, ap);
	va_end(ap);
	dfu_op_set_address(op, address);
}

void dfu_op_init_like(struct dfu_op *op, const struct dfu_op *like, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	op_vinit(op, like->block, fmt, ap);
	va_end(ap);
	op->have_address = like->have_address;
	op->address = like->address;
}

uint64_t dfu_deadline(struct dfu_dev *dev, const struct dfu_flash_opts *opts, uint32_t default_ms)
{
	uint32_t ms = opts && opts->timeout_ms ? opts->timeout_ms : default_ms;

	dev->last_deadline_ms = ms;
	return dfu_now_ms(dev->ctx) + ms;
}

/* Record the device fields of a failure, once (only when @e was empty). */
void dfu_op_fill_device(struct dfu_error *e, bool was_empty, const struct dfu_op *op)
{
	if (!e || !was_empty || !e->err)
		return;
	if (op->have_address)
		dfu_error_device_at(e, op->name, op->block, op->address);
	else
		dfu_error_device(e, op->name, op->block);
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
		dfu_op_fill_device(e, was_empty, op);
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
		dfu_op_fill_device(e, was_empty, op);
		dfu_error_state(e, st->state, st->status);
	}
	return DFU_E_PROTOCOL;
}

/* Backoff before retry 1, 2, 3 of a transient failure (DFU_RETRY_MAX). */
static const uint32_t retry_backoff_ms[DFU_RETRY_MAX] = { 10, 50, 200 };

uint32_t dfu_retry_backoff_ms(unsigned attempt)
{
	return retry_backoff_ms[attempt - 1];
}

int dfu_upload_refused(int r, struct dfu_error *e)
{
	if (r < 0 && dfu_err_is_usb(r) && e && e->err == r && e->have_state &&
	    e->state == DFU_STATE_DFU_ERROR && e->status != DFU_STATUS_OK) {
		r = DFU_E_DEVSTATUS;
		e->err = r;
	}
	return r;
}

int dfu_error_no_transfer_size(struct dfu_error *e)
{
	dfu_error_set(e, DFU_E_PROTOCOL, "dfu.transfer_size", NULL,
		      "the device reports no wTransferSize: nothing was done");
	dfu_error_hint(e, "the device's DFU functional descriptor is wrong; give its transfer "
			  "size with -t (e.g. -t 2048)");
	return DFU_E_PROTOCOL;
}

/* Count and explain one retry. */
void dfu_note_retry(struct dfu_dev *dev, const struct dfu_op *op, const char *what, const char *why,
		    unsigned attempt)
{
	dfu_log(dev->ctx, DFU_LOG_VERBOSE, "%s: %s failed (%s): retry %u of %u in %u ms", op->name,
		what, why, attempt, DFU_RETRY_MAX, dfu_retry_backoff_ms(attempt));
	dfu_flash_result_note_retry(dev->run->res, "%s: %s %s, retry %u", op->name, what, why,
				    attempt);
}

bool dfu_dev_dfuse_like(const struct dfu_dev *dev)
{
	return dev->dfuse || dev->info.layout || dev->run->resend.have_pointer;
}
