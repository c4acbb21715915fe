// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Recovery of a device that stopped answering: USB reset, reopen on the
 * same port, and back to dfuIDLE.
 */
#include "config.h"

#include "proto.h"

int dfu_dev_recover(struct dfu_dev **devp, struct dfu_error *e)
{
	struct dfu_if_info was;
	const char *usb_name = NULL;
	struct dfu_dev *dev;
	struct dfu_ctx *ctx;
	int r;

	if (!devp || !*devp || !(*devp)->h)
		return dfu_error_set(e, DFU_E_INVAL, "device.inval", NULL,
				     "dfu_dev_recover: no open device");
	dev = *devp;
	ctx = dev->ctx;
	was = dev->info;
	was.layout = NULL;
	if (!was.path[0])
		return dfu_error_set(e, DFU_E_INVAL, "device.no_identity", NULL,
				     "cannot recognise the device again: it has no port path");
	dfu_log(ctx, DFU_LOG_INFO, "resetting %04x:%04x at %s (USB reset) to recover it", was.vid,
		was.pid, was.path);
	dfu_dev_forget_state(dev);
	r = dev->h->ops->reset(dev->h, &usb_name);
	if (r == 0) {
		/* it stayed on the bus with the same descriptors (ST ROMs): the handle
		 * stays valid and its interface claimed (libusb re-claims it); the
		 * reset only dropped the alt setting */
		r = dfu_dev_reselect_alt(dev, e);
		if (r < 0)
			return r;
		r = dfu_dev_ensure_idle(dev, NULL, e);
		if (r < 0)
			return r;
		dfu_log(ctx, DFU_LOG_INFO,
			"reset the device at %s (it stayed on the bus), alt %u selected again: in "
			"dfuIDLE",
			was.path, was.alt);
		return 0;
	}
	if (r != DFU_E_USB_NODEV && r != DFU_E_NOTFOUND)
		return dfu_usb_fail(e, r, usb_name, "device.reset", "USB reset to recover",
				    "USB reset failed: %s", dfu_strerror(r));
	/* it re-enumerates: find the same port again and open the same alt */
	dfu_dev_close(dev);
	*devp = NULL;
	r = dfu_reopen_after_reset(ctx, &was, devp, e);
	if (r < 0)
		return r;
	r = dfu_dev_ensure_idle(*devp, NULL, e);
	if (r < 0) {
		dfu_dev_close(*devp);
		*devp = NULL;
		return r;
	}
	dfu_log(ctx, DFU_LOG_INFO,
		"reset the device, it re-enumerated and was opened again at %s, alt %u: in dfuIDLE",
		was.path, was.alt);
	return 0;
}
