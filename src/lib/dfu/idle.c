// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Bringing a device to dfuIDLE before an operation, whatever state an
 * earlier run or another tool left it in.
 */
#include "config.h"

#include "proto.h"

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
	dfu_op_init(&op, -1, "GET_STATUS at start");
	dfu_error_clear(&le);
	r = dfu_get_status(dev, &op, 0, &st, &le);
	for (unsigned a = 1; r < 0 && dfu_usb_transient(r) && a <= DFU_RETRY_MAX; a++) {
		/* one lost or stalled answer is no verdict: ask again (classified retry) */
		dfu_note_retry(dev, &op, "DFU_GETSTATUS", le.usb_name ? le.usb_name : dfu_strerror(r),
			   a);
		dfu_sleep_ms(dev->ctx, dfu_retry_backoff_ms(a));
		dfu_error_clear(&le);
		dev->run->attempt = a;
		r = dfu_get_status(dev, &op, 0, &st, &le);
		dev->run->attempt = 0;
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
			dfu_op_init(&op, -1, "CLRSTATUS at start");
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
			dfu_op_init(&op, -1, "ABORT at start");
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
			dfu_op_init(&op, -1, "waiting for a previous operation");
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
		dfu_op_init(&op, -1, "GET_STATUS after recovery");
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
