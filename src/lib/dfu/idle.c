// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Bringing a device to dfuIDLE before an operation, whatever state an
 * earlier run or another tool left it in.
 */
#include "config.h"

#include "proto.h"

/* How long a dfuIDLE found stands for the next dfu_dev_ensure_idle(), when
 * no request was sent in between (a device may leave DFU mode on a timer). */
#define IDLE_CHECK_VALID_MS 1000u

/* What dfu_dev_ensure_idle() knows while it walks the device to dfuIDLE. */
struct idle_walk {
	struct dfu_dev *dev;
	struct dfu_idle_report rep;
	struct dfu_idle_report *report; /* the caller's, or NULL */
	struct dfu_status_reply st;	/* the last GET_STATUS */
	bool was_reset;			/* dfuMANIFEST-WAIT-RESET got its USB reset */
};

/* What a state's handler leaves to do, when it did not end the walk. */
enum idle_next {
	IDLE_REACHED = 0,   /* dfuIDLE: done */
	IDLE_ASK_AGAIN = 1, /* an action was taken: a fresh GET_STATUS tells its outcome */
	IDLE_POLLED = 2,    /* the polling left a fresh reply in st */
};

static void idle_report(const struct idle_walk *w)
{
	if (w->report)
		*w->report = w->rep;
}

/* The first GET_STATUS failed with @r (after its retries); @le holds why. */
static int first_status_failed(struct idle_walk *w, int r, const struct dfu_error *le,
			       struct dfu_error *e)
{
	if (r == DFU_E_USB_PIPE && w->dev->info.dfu_mode) {
		/* a DFU-mode interface must answer GET_STATUS (DFU 1.1 6.1.2) */
		idle_report(w);
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
		w->rep.stall_as_idle = true;
		w->rep.found.state = DFU_STATE_APP_IDLE;
		idle_report(w);
		dfu_error_set(e, DFU_E_PROTOCOL, "dfu.runtime_mode", NULL,
			      "GET_STATUS stalled: the device is in run-time mode (appIDLE)");
		dfu_error_hint(e, "detach it into DFU mode first");
		return DFU_E_PROTOCOL;
	}
	if (e && !e->err)
		*e = *le;
	return r;
}

/* The first GET_STATUS, with classified retries; rep.found is its reply. */
static int first_status(struct idle_walk *w, struct dfu_error *e)
{
	struct dfu_dev *dev = w->dev;
	struct dfu_op op;
	struct dfu_error le;
	int r;

	dfu_op_init(&op, -1, "GET_STATUS at start");
	dfu_error_clear(&le);
	r = dfu_get_status(dev, &op, 0, &w->st, &le);
	for (unsigned a = 1; r < 0 && dfu_usb_transient(r) && a <= DFU_RETRY_MAX; a++) {
		/* one lost or stalled answer is no verdict: ask again (classified retry) */
		dfu_note_retry(dev, &op, "DFU_GETSTATUS",
			       le.usb_name ? le.usb_name : dfu_strerror(r), a);
		dfu_sleep_ms(dev->ctx, dfu_retry_backoff_ms(a));
		dfu_error_clear(&le);
		dev->run->attempt = a;
		r = dfu_get_status(dev, &op, 0, &w->st, &le);
		dev->run->attempt = 0;
	}
	if (r < 0)
		return first_status_failed(w, r, &le, e);
	w->rep.found = w->st;
	return 0;
}

static int idle_runtime_mode(struct idle_walk *w, struct dfu_error *e)
{
	idle_report(w);
	dfu_error_set(e, DFU_E_PROTOCOL, "dfu.runtime_mode", NULL,
		      "the device is in run-time mode (%s), not in DFU mode",
		      dfu_state_name(w->st.state));
	dfu_error_state(e, w->st.state, w->st.status);
	dfu_error_hint(e, "detach it into DFU mode first");
	return DFU_E_PROTOCOL;
}

static int idle_clear_error(struct idle_walk *w, struct dfu_error *e)
{
	struct dfu_op op;
	int r;

	/* DFU 1.1 6.1.2: CLRSTATUS is the way out of dfuERROR; house style:
	 * once, reporting the original status */
	dfu_op_init(&op, -1, "CLRSTATUS at start");
	r = dfu_clr_status(w->dev, &op, e);
	if (r < 0)
		return r;
	if (!w->rep.cleared)
		dfu_log(w->dev->ctx, DFU_LOG_INFO,
			"device was in dfuERROR, status %u (%s): cleared", w->st.status,
			dfu_status_name(w->st.status));
	w->rep.cleared = true;
	return IDLE_ASK_AGAIN;
}

static int idle_abort_transfer(struct idle_walk *w, struct dfu_error *e)
{
	struct dfu_op op;
	int r;

	/* a previous run ended mid-transfer: ST ROMs keep their state between host
	 * runs (dfu-util: "aborting previous incomplete transfer") */
	dfu_op_init(&op, -1, "ABORT at start");
	r = dfu_abort(w->dev, &op, e);
	if (r < 0)
		return r;
	dfu_log(w->dev->ctx, DFU_LOG_INFO, "device was in %s: aborted",
		dfu_state_name(w->st.state));
	w->rep.aborted = true;
	return IDLE_ASK_AGAIN;
}

static int idle_wait_busy(struct idle_walk *w, struct dfu_error *e)
{
	struct dfu_dev *dev = w->dev;
	struct dfu_op op;
	struct dfu_error le;
	int r;

	/* a host was killed mid-operation: let the device finish */
	dfu_log(dev->ctx, DFU_LOG_INFO, "device was in %s: waiting for it to finish",
		dfu_state_name(w->st.state));
	dfu_op_init(&op, -1, "waiting for a previous operation");
	dfu_error_clear(&le);
	r = dfu_poll(dev, &op, dfu_now_ms(dev->ctx) + dfu_deadline_mass_erase_ms(dev), &w->st, &le);
	if (r == DFU_E_DEVSTATUS)
		return IDLE_POLLED; /* st holds dfuERROR: clear it */
	if (r < 0) {
		if (e && !e->err)
			*e = le;
		return r;
	}
	return IDLE_POLLED;
}

static int idle_wrong_state(struct idle_walk *w, struct dfu_error *e)
{
	idle_report(w);
	dfu_error_set(e, DFU_E_PROTOCOL, "dfu.wrong_state", NULL,
		      "the device is in %s and needs a USB reset", dfu_state_name(w->st.state));
	dfu_error_state(e, w->st.state, w->st.status);
	return DFU_E_PROTOCOL;
}

static int idle_reset_manifested(struct idle_walk *w, struct dfu_error *e)
{
	int r;

	/* DFU 1.1 8.1.1: a manifestation-intolerant device waits for a USB
	 * reset after a previous download: give it one, once */
	if (w->was_reset)
		return idle_wrong_state(w, e);
	dfu_log(w->dev->ctx, DFU_LOG_INFO, "device was in %s: resetting it (USB reset)",
		dfu_state_name(w->st.state));
	r = dfu_dev_reset_rebind(w->dev, e);
	if (r < 0)
		return r;
	w->was_reset = true;
	return IDLE_ASK_AGAIN;
}

/* One step from the state in st: a negative dfu_err or an enum idle_next. */
static int idle_step(struct idle_walk *w, struct dfu_error *e)
{
	switch (w->st.state) {
	case DFU_STATE_DFU_IDLE:
		idle_report(w);
		return IDLE_REACHED;
	case DFU_STATE_APP_IDLE:
	case DFU_STATE_APP_DETACH:
		return idle_runtime_mode(w, e);
	case DFU_STATE_DFU_ERROR:
		return idle_clear_error(w, e);
	case DFU_STATE_DFU_DNLOAD_IDLE:
	case DFU_STATE_DFU_UPLOAD_IDLE:
		return idle_abort_transfer(w, e);
	case DFU_STATE_DFU_DNLOAD_SYNC:
	case DFU_STATE_DFU_DNBUSY:
	case DFU_STATE_DFU_MANIFEST_SYNC:
	case DFU_STATE_DFU_MANIFEST:
		return idle_wait_busy(w, e);
	case DFU_STATE_DFU_MANIFEST_WAIT_RESET:
		return idle_reset_manifested(w, e);
	default:
		return idle_wrong_state(w, e);
	}
}

static int ensure_idle(struct dfu_dev *dev, struct dfu_idle_report *report, struct dfu_error *e)
{
	struct idle_walk w = { .dev = dev, .report = report };
	struct dfu_op op;
	int r;

	if (!dev || !dev->h)
		return dfu_error_set(e, DFU_E_INVAL, "dfu.inval", NULL,
				     "dfu_dev_ensure_idle: no open device");
	/* found in dfuIDLE a moment ago, and nothing sent since (the CLI's open,
	 * then the download's own check): asking again tells nothing new */
	if (dev->idle_checked && dfu_now_ms(dev->ctx) - dev->idle_at_ms <= IDLE_CHECK_VALID_MS) {
		w.rep.found = (struct dfu_status_reply){ .status = DFU_STATUS_OK,
							 .state = DFU_STATE_DFU_IDLE };
		idle_report(&w);
		return 0;
	}
	r = first_status(&w, e);
	if (r < 0)
		return r;

	/* at most a few rounds: each action is followed by a fresh GET_STATUS */
	for (int round = 0; round < 4; round++) {
		r = idle_step(&w, e);
		if (r == IDLE_REACHED) {
			dev->idle_checked = true;
			dev->idle_at_ms = dfu_now_ms(dev->ctx);
		}
		if (r <= 0)
			return r; /* dfuIDLE, or an error */
		if (r == IDLE_POLLED)
			continue;
		dfu_op_init(&op, -1, "GET_STATUS after recovery");
		r = dfu_get_status(dev, &op, 0, &w.st, e);
		if (r < 0)
			return r;
	}
	idle_report(&w);
	dfu_error_set(e, DFU_E_PROTOCOL, "dfu.not_idle", NULL,
		      "the device does not return to dfuIDLE: it stays in %s, status %s",
		      dfu_state_name(w.st.state), dfu_status_name(w.st.status));
	dfu_error_state(e, w.st.state, w.st.status);
	return DFU_E_PROTOCOL;
}

int dfu_dev_ensure_idle(struct dfu_dev *dev, struct dfu_idle_report *report, struct dfu_error *e)
{
	int r = ensure_idle(dev, report, e);

	if (r < 0)
		dfu_facts_describe_untouched(r, e);
	return r;
}
