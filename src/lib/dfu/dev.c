// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * An open alt setting (struct dfu_dev): opening and closing it, DETACH, USB
 * reset, and opening it again after a reset made it re-enumerate.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "proto.h"

/* dfu-util sends wTimeout 1000 ms with DFU_DETACH (DFU 1.1 §5.1). */
#define DETACH_TIMEOUT_MAX_MS 1000

/* The enumeration entry of @info: by index when it still fits, else by path. */
static const struct dfu_usb_device *find_usb(struct dfu_ctx *ctx, const struct dfu_if_info *info)
{
	if (info->device_index < ctx->n_devs) {
		const struct dfu_usb_device *d = &ctx->devs[info->device_index];

		if (strcmp(d->path, info->path) == 0 && d->vid == info->vid &&
		    d->pid == info->pid && d->devnum == info->devnum)
			return d;
	}
	for (size_t k = 0; k < ctx->n_devs; k++) {
		const struct dfu_usb_device *d = &ctx->devs[k];

		if (strcmp(d->path, info->path) == 0 && d->vid == info->vid &&
		    d->pid == info->pid && d->devnum == info->devnum)
			return d;
	}
	return NULL;
}

/* Fill the new @dev for @info, entry @d of the enumeration: alt, own layout. */
static int dev_init(struct dfu_dev *dev, struct dfu_ctx *ctx, const struct dfu_if_info *info,
		    const struct dfu_usb_device *d, struct dfu_error *e)
{
	dev->ctx = ctx;
	dev->run = &dev->standing;
	dev->usb = *d;
	for (size_t k = 0; k < dev->usb.n_alts; k++)
		if (dev->usb.alts[k].interface == info->interface &&
		    dev->usb.alts[k].alt == info->alt)
			dev->alt = &dev->usb.alts[k];
	dev->info = *info;
	dev->info.layout = NULL;
	if (!dev->alt)
		return dfu_error_set(e, DFU_E_NOTFOUND, "device.no_alt", NULL,
				     "%04x:%04x at %s has no interface %u alt %u", info->vid,
				     info->pid, info->path, info->interface, info->alt);
	/* the layout is the dev's own: re-parse rather than share the list's */
	if (dfu_info_parse_layout(ctx, &dev->info) < 0)
		return dfu_error_set(e, DFU_E_NOMEM, "device.nomem", NULL, "out of memory");
	return 0;
}

/* Open @d through the backend, claim the interface of @info, select its alt. */
static int dev_claim(struct dfu_dev *dev, const struct dfu_usb_device *d,
		     const struct dfu_if_info *info, struct dfu_error *e)
{
	struct dfu_ctx *ctx = dev->ctx;
	const char *usb_name = NULL;
	int r;

	r = ctx->backend.ops->open(ctx->backend.ctx, d, &dev->h, e);
	if (r < 0) {
		if (e && e->err == r) {
			/* the backend said what failed; add where and what to do */
			if (!e->op[0])
				dfu_error_device(e, "open device", -1);
			if (!e->hint)
				dfu_error_hint(e, dfu_usb_hint(r));
		}
		dfu_usb_fail(e, r, NULL, "device.open", "open device",
			     "cannot open %04x:%04x at %s: %s", info->vid, info->pid, info->path,
			     dfu_strerror(r));
		return r;
	}
	r = dev->h->ops->claim(dev->h, info->interface, &usb_name);
	if (r < 0) {
		dfu_usb_fail(e, r, usb_name, "device.claim", "claim interface",
			     "cannot claim interface %u of %04x:%04x at %s: %s", info->interface,
			     info->vid, info->pid, info->path, dfu_strerror(r));
		return r;
	}
	/* dfu-util always selects the alt, even alt 0 of a run-time interface */
	r = dev->h->ops->set_alt(dev->h, info->interface, info->alt, &usb_name);
	if (r < 0) {
		dfu_usb_fail(e, r, usb_name, "device.set_alt", "SET_INTERFACE",
			     "cannot select alt %u of interface %u: %s", info->alt, info->interface,
			     dfu_strerror(r));
		return r;
	}
	return 0;
}

/* A quirk that applies, at -v, with where it came from. */
static void log_quirk(void *ud, const char *what, const char *source, const char *reason)
{
	struct dfu_dev *dev = ud;

	dfu_log(dev->ctx, DFU_LOG_VERBOSE, "quirk: %s (%s%s%s)", what, source, reason ? ": " : "",
		reason ? reason : "");
}

/* The quirks of @dev (built-in table, then the context's quirk files) and
 * the polling they and --poll give it, logged at -v. */
static void dev_quirks(struct dfu_dev *dev)
{
	struct dfu_quirk_set q;

	dfu_quirks_resolve(dev->ctx->quirk_rules, &dev->info, &q, log_quirk, dev);
	dev->quirks = q.bits;
	dev->mass_erase_ms = q.mass_erase_ms;
	dfu_poll_plan_choose(dev->ctx->poll_mode, dev->ctx->poll_interval_ms, &q, &dev->poll);
	dfu_log(dev->ctx, DFU_LOG_VERBOSE, "%04x:%04x at %s: poll %s", dev->info.vid, dev->info.pid,
		dev->info.path, dev->poll.why);
}

/* What the descriptor of @info sets in the opened @dev, logged. */
static void dev_settle(struct dfu_dev *dev, const struct dfu_if_info *info)
{
	struct dfu_ctx *ctx = dev->ctx;

	/* 0 (7-byte DFU 1.0 descriptor): kept; the caller's -t or the protocol decides */
	dev->transfer_size = info->transfer_size;
	if (dev->transfer_size > DFU_TRANSFER_SIZE_MAX)
		dfu_log(ctx, DFU_LOG_VERBOSE,
			"device reports wTransferSize %u, more than any control transfer carries: "
			"give one with -t",
			dev->transfer_size);
	if (!dev->transfer_size)
		dfu_log(ctx, DFU_LOG_VERBOSE, "device reports no wTransferSize: give one with -t");
	dev->dfuse = info->bcd_dfu == 0x011a;
	dev_quirks(dev);
	dfu_log(ctx, DFU_LOG_VERBOSE,
		"opened %04x:%04x at %s, interface %u alt %u: bmAttributes 0x%02x, "
		"wDetachTimeOut %u ms, wTransferSize %u, bcdDFU %x.%02x%s",
		info->vid, info->pid, info->path, info->interface, info->alt, info->attributes,
		info->detach_timeout_ms, info->transfer_size, info->bcd_dfu >> 8,
		info->bcd_dfu & 0xff, dev->dfuse ? " (DfuSe)" : "");
}

int dfu_dev_open(struct dfu_ctx *ctx, const struct dfu_if_info *info, struct dfu_dev **out,
		 struct dfu_error *e)
{
	const struct dfu_usb_device *d;
	struct dfu_dev *dev;
	int r;

	if (out)
		*out = NULL;
	if (!ctx || !info || !out)
		return dfu_error_set(e, DFU_E_INVAL, "device.inval", NULL,
				     "dfu_dev_open: missing argument");
	d = find_usb(ctx, info);
	if (!d)
		return dfu_usb_fail(e, DFU_E_USB_NODEV, NULL, "device.gone", "open device",
				    "%04x:%04x at %s is no longer in the device list", info->vid,
				    info->pid, info->path);
	dev = calloc(1, sizeof(*dev));
	if (!dev)
		return dfu_error_set(e, DFU_E_NOMEM, "device.nomem", NULL, "out of memory");
	r = dev_init(dev, ctx, info, d, e);
	if (r >= 0)
		r = dev_claim(dev, d, info, e);
	if (r < 0) {
		dfu_dev_close(dev);
		return r;
	}
	dev_settle(dev, info);
	*out = dev;
	return 0;
}

void dfu_dev_close(struct dfu_dev *dev)
{
	if (!dev)
		return;
	if (dev->h)
		dev->h->ops->close(dev->h);
	free(dev->standing.resend.data);
	dfuse_layout_free(dev->info.layout);
	free(dev);
}

/* USB reset; the device leaving (it re-enumerates) is the expected outcome. */
static int do_reset(struct dfu_dev *dev, const char *op, struct dfu_error *e)
{
	const char *usb_name = NULL;
	int r;

	dfu_dev_forget_state(dev);
	r = dev->h->ops->reset(dev->h, &usb_name);
	if (r == DFU_E_USB_NODEV || r == DFU_E_NOTFOUND) {
		/* dfu-util 0.11 exits 251 here; the device re-enumerated */
		dfu_log(dev->ctx, DFU_LOG_DEBUG, "%s: device re-enumerated (%s)", op,
			usb_name ? usb_name : dfu_strerror(r));
		return 0;
	}
	if (r < 0)
		return dfu_usb_fail(e, r, usb_name, "device.reset", op, "USB reset failed: %s",
				    dfu_strerror(r));
	return 0;
}

int dfu_dev_detach(struct dfu_dev *dev, struct dfu_error *e)
{
	const char *usb_name = NULL;
	uint16_t timeout;
	int r;

	if (!dev || !dev->h)
		return dfu_error_set(e, DFU_E_INVAL, "device.inval", NULL,
				     "dfu_dev_detach: no open device");
	/* wTimeout: how long the device waits for the reset (DFU 1.1 §5.1); dfu-util
	 * sends 1000 ms; a descriptor asking for less gets its own value */
	timeout = dev->info.detach_timeout_ms;
	if (timeout == 0 || timeout > DETACH_TIMEOUT_MAX_MS)
		timeout = DETACH_TIMEOUT_MAX_MS;
	r = dfu_control_traced(dev->ctx, dev->h, "DFU_DETACH", DFU_RT_OUT, DFU_REQ_DETACH, timeout,
			       dev->info.interface, NULL, 0, 0, &usb_name);
	if ((r == DFU_E_USB_PIPE || r == DFU_E_USB_TIMEOUT || r == DFU_E_USB_IO) &&
	    !dev->info.dfu_mode) {
		/* classified retry: one stalled or lost DETACH is no verdict */
		dfu_log(dev->ctx, DFU_LOG_VERBOSE, "DFU_DETACH failed (%s): retry 1 of 1 in 10 ms",
			usb_name ? usb_name : dfu_strerror(r));
		dfu_flash_result_note_retry(dev->run->res, "DFU_DETACH %s, retry 1",
					    usb_name ? usb_name : dfu_strerror(r));
		dfu_sleep_ms(dev->ctx, 10);
		usb_name = NULL;
		r = dfu_control_traced(dev->ctx, dev->h, "DFU_DETACH (retry)", DFU_RT_OUT,
				       DFU_REQ_DETACH, timeout, dev->info.interface, NULL, 0, 0,
				       &usb_name);
	}
	if (r == DFU_E_USB_PIPE) {
		if (dev->info.dfu_mode) {
			/* DETACH is not a DFU-mode request: ST ROMs stall it (dfu-util "can't
			 * detach") */
			dfu_log(dev->ctx, DFU_LOG_VERBOSE,
				"DETACH stalled: the device is already in DFU mode");
		} else {
			/* some run-time firmware reboots and stalls (fwupd ignores it) */
			dfu_log(
			    dev->ctx, DFU_LOG_INFO,
			    "the DETACH request was stalled by the run-time firmware (also when "
			    "retried); resetting anyway");
		}
	} else if (r == DFU_E_USB_NODEV) {
		dfu_log(dev->ctx, DFU_LOG_DEBUG, "device left the bus on DETACH");
		return 0;
	} else if (r < 0) {
		return dfu_usb_fail(e, r, usb_name, "device.detach", "DFU_DETACH",
				    "DFU_DETACH failed: %s", dfu_strerror(r));
	}
	if (dev->info.attributes & DFU_ATTR_WILL_DETACH) {
		/* bitWillDetach: the device re-enumerates by itself; a reset would race it */
		dfu_log(dev->ctx, DFU_LOG_VERBOSE, "device will detach and re-attach by itself");
		return 0;
	}
	dfu_log(dev->ctx, DFU_LOG_VERBOSE, "resetting USB to enter DFU mode");
	return do_reset(dev, "USB reset after DETACH", e);
}

int dfu_dev_reset(struct dfu_dev *dev, struct dfu_error *e)
{
	if (!dev || !dev->h)
		return dfu_error_set(e, DFU_E_INVAL, "device.inval", NULL,
				     "dfu_dev_reset: no open device");
	return do_reset(dev, "USB reset", e);
}

/* dfu_dev_recover: how long the same device may take to be listed again. */
#define RECOVER_WAIT_MS 5000

/*
 * After a USB reset that made the device leave the bus: wait (up to
 * RECOVER_WAIT_MS) for the alt @was (same port path, interface, alt, ids) to
 * be listed in DFU mode again and open it into *@nd.  A device that comes back
 * in run-time mode instead (its firmware started: a manifestation-intolerant
 * device, or a plain DFU device reset in the middle of a transfer) is detached
 * once and waited for again.
 */
int dfu_reopen_after_reset(struct dfu_ctx *ctx, const struct dfu_if_info *was, struct dfu_dev **nd,
			   struct dfu_error *e)
{
	uint64_t start = dfu_now_ms(ctx);
	bool detached = false;
	int r;

	for (;;) {
		struct dfu_if_info *list = NULL;
		struct dfu_match m;
		size_t n = 0;
		long dfu_k = -1, rt_k = -1;

		dfu_match_init(&m);
		m.path = was->path;
		r = dfu_list(ctx, &m, &list, &n, NULL);
		if (r == DFU_E_NOMEM)
			return dfu_error_set(e, r, "device.nomem", NULL, "out of memory");
		for (size_t k = 0; r == 0 && k < n; k++) {
			const struct dfu_if_info *i = &list[k];

			if (i->open_err)
				continue;
			if (i->dfu_mode && i->interface == was->interface && i->alt == was->alt &&
			    i->vid == was->vid && i->pid == was->pid && dfu_k < 0)
				dfu_k = (long)k;
			else if (!i->dfu_mode && rt_k < 0)
				rt_k = (long)k;
		}
		if (dfu_k >= 0) {
			struct dfu_error oe = { 0 };

			r = dfu_dev_open(ctx, &list[dfu_k], nd, &oe);
			dfu_if_info_free(list, n);
			if (r == 0)
				return 0;
			if (!dfu_err_is_gone(r) || dfu_now_ms(ctx) - start >= RECOVER_WAIT_MS) {
				if (e && !e->err)
					*e = oe;
				return r;
			}
			/* listed a moment before it left the bus (re-enumerating) */
			dfu_sleep_ms(ctx, DFU_WAIT_POLL_MS);
			continue;
		}
		if (rt_k >= 0 && !detached) {
			struct dfu_error oe = { 0 };
			struct dfu_dev *rt = NULL;

			dfu_log(ctx, DFU_LOG_INFO,
				"the device started its firmware after the USB reset: detaching it "
				"into DFU mode again");
			r = dfu_dev_open(ctx, &list[rt_k], &rt, &oe);
			if (r == 0)
				r = dfu_dev_detach(rt, &oe);
			dfu_dev_close(rt);
			dfu_if_info_free(list, n);
			if (r < 0 && !dfu_err_is_gone(r)) {
				if (e && !e->err)
					*e = oe;
				return r;
			}
			if (r < 0) {
				dfu_sleep_ms(ctx, DFU_WAIT_POLL_MS);
				continue;
			}
			detached = true;
			start = dfu_now_ms(ctx);
			continue;
		}
		dfu_if_info_free(list, n);
		if (dfu_now_ms(ctx) - start >= RECOVER_WAIT_MS)
			return dfu_error_set(e, DFU_E_NODEVICE, "device.did_not_return", NULL,
					     "%04x:%04x at %s did not come back in DFU mode within "
					     "%u ms after a USB reset",
					     was->vid, was->pid, was->path, RECOVER_WAIT_MS);
		dfu_sleep_ms(ctx, DFU_WAIT_POLL_MS);
	}
}

/*
 * USB reset of @dev in place (ensure_idle, dfuMANIFEST-WAIT-RESET): a device
 * that stays on the bus gets its alt selected again; one that re-enumerates is
 * waited for on the same port and opened again into *@dev.  A device that
 * comes back in run-time mode (a manifestation-intolerant one starts its new
 * firmware) is detached and waited for once more.
 */
int dfu_dev_reselect_alt(struct dfu_dev *dev, struct dfu_error *e)
{
	const char *usb_name = NULL;
	int r;

	dfu_dev_forget_state(dev);
	r = dev->h->ops->set_alt(dev->h, dev->info.interface, dev->info.alt, &usb_name);
	if (r < 0)
		return dfu_usb_fail(e, r, usb_name, "device.set_alt", "SET_INTERFACE",
				    "cannot select alt %u of interface %u again after the "
				    "reset: %s",
				    dev->info.alt, dev->info.interface, dfu_strerror(r));
	dev->run->resend.valid = false;
	return 0;
}

int dfu_dev_reset_rebind(struct dfu_dev *dev, struct dfu_error *e)
{
	struct dfu_if_info was;
	const char *usb_name = NULL;
	struct dfu_dev *nd = NULL;
	int r;

	if (!dev || !dev->h)
		return dfu_error_set(e, DFU_E_INVAL, "device.inval", NULL,
				     "dfu_dev_reset_rebind: no open device");
	was = dev->info;
	was.layout = NULL;
	dfu_dev_forget_state(dev);
	r = dev->h->ops->reset(dev->h, &usb_name);
	if (r == 0) {
		return dfu_dev_reselect_alt(dev, e);
	}
	if (r != DFU_E_USB_NODEV && r != DFU_E_NOTFOUND)
		return dfu_usb_fail(e, r, usb_name, "device.reset", "USB reset",
				    "USB reset failed: %s", dfu_strerror(r));
	if (!was.path[0])
		return dfu_error_set(e, DFU_E_NODEVICE, "device.no_identity", NULL,
				     "the device re-enumerated after a USB reset and cannot be "
				     "recognised again: it has no port path");
	dfu_log(dev->ctx, DFU_LOG_VERBOSE,
		"device re-enumerated after the USB reset: waiting for it");
	dev->h->ops->close(dev->h);
	dev->h = NULL;
	r = dfu_reopen_after_reset(dev->ctx, &was, &nd, e);
	if (r < 0)
		return r;
	/* move the new open device into *dev; nd takes what the old one owned */
	{
		struct dfu_if_info old_info = dev->info;

		dev->h = nd->h;
		dev->info = nd->info;
		dev->usb = nd->usb;
		dev->alt = nd->alt ? &dev->usb.alts[nd->alt - nd->usb.alts] : NULL;
		dev->transfer_size = nd->transfer_size;
		dev->dfuse = nd->dfuse;
		dev->quirks = nd->quirks;
		dev->mass_erase_ms = nd->mass_erase_ms;
		/* dev->poll stays: a demotion holds for the rest of the run */
		dev->run->resend.valid = false;
		nd->h = NULL;
		nd->info = old_info;
		dfu_dev_close(nd);
	}
	dfu_log(dev->ctx, DFU_LOG_VERBOSE, "opened again at %s, alt %u", was.path, was.alt);
	return 0;
}

void dfu_run_begin(struct dfu_dev *dev, struct dfu_run *run, struct dfu_flash_result *res)
{
	memset(run, 0, sizeof(*run));
	run->res = res;
	run->outer = dev->run;
	dev->run = run;
}

void dfu_run_end(struct dfu_dev *dev, struct dfu_run *run)
{
	free(run->resend.data);
	dev->run = run->outer;
	memset(run, 0, sizeof(*run));
}
