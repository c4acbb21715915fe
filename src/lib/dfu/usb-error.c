// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Transfer errors as the engine sees them: the message and hint of a failed
 * USB operation, and which failures mean "the device left" or "try again".
 */
#include "config.h"

#include <stdarg.h>

#include "proto.h"

#define UDEV_HINT                                                                                  \
	"install the udev rule (60-dfuflash.rules, shipped with dfuflash) and replug "             \
	"the device, or run as root"

/* What to do about an open/claim failure, or NULL. */
const char *dfu_usb_hint(int r)
{
	switch (r) {
	case DFU_E_USB_ACCESS:
		return UDEV_HINT;
	case DFU_E_USB_BUSY:
		return "close the program holding the device (another dfu-util or dfuflash, "
		       "ModemManager, a serial terminal) and retry";
	default:
		return NULL;
	}
}

/* Record a failed USB operation: the class, the operation and the libusb name. */
int dfu_usb_fail(struct dfu_error *e, int r, const char *usb_name, const char *code, const char *op,
		 const char *fmt, ...)
{
	va_list ap;

	if (!e || e->err != 0)
		return r;
	va_start(ap, fmt);
	dfu_error_setv(e, r, code, NULL, fmt, ap);
	va_end(ap);
	dfu_error_device(e, op, -1);
	if (dfu_err_is_usb(r)) {
		e->usb_err = r;
		e->usb_name = usb_name;
	}
	dfu_error_hint(e, dfu_usb_hint(r));
	return r;
}

bool dfu_err_is_gone(int err)
{
	return err == DFU_E_USB_NODEV || err == DFU_E_USB_PIPE || err == DFU_E_USB_IO ||
	       err == DFU_E_USB_TIMEOUT || err == DFU_E_USB_OTHER || err == DFU_E_NOTFOUND;
}

/* The transfer failures worth a retry: a pipe stalled by a device polled too
 * early (STM32L4, dfu-util's L4 workaround), a timeout while a busy ROM NAKs,
 * an I/O error or overflow from a marginal link or a missed SETUP. */
bool dfu_usb_transient(int r)
{
	return r == DFU_E_USB_PIPE || r == DFU_E_USB_TIMEOUT || r == DFU_E_USB_IO ||
	       r == DFU_E_USB_OVERFLOW;
}
