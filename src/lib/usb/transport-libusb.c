// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The libusb transport and the real clock.  The only file that includes
 * <libusb.h>: LIBUSB_ERROR_* become DFU_E_USB_* here, with the libusb name kept
 * for messages.  It knows USB descriptors, not DFU requests.
 */
#include "config.h"

#include <errno.h>
#include <libusb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "macro.h"
#include "transport.h"
#include "util.h"

/* libusb's own timeout 0 means "forever"; transport.h gives 0 this meaning instead */
#define USB_DEFAULT_TIMEOUT_MS 5000u
/* USB 3 allows a hub depth of 7 (libusb_get_port_numbers' documented maximum) */
#define USB_MAX_PORTS 7

static const char hint_access[] =
    "install the udev rule (60-dfuflash.rules) or run with sufficient permissions";

struct usb_backend {
	libusb_context *ctx; /* ours: never libusb's default context */
	/*
	 * Every libusb_device handed out as a backend_ref, referenced once and
	 * unreferenced in free, so an entry of an older enumerate stays safe to
	 * open.  libusb returns the same pointer for a device as long as it is
	 * referenced, so this grows only with devices that really (re)appear.
	 */
	libusb_device **held;
	size_t n_held, cap_held;
	/* wait_change: the hotplug callback, registered at the first wait */
	bool hotplug_registered;
	bool changed;
	libusb_hotplug_callback_handle hotplug;
};

struct usb_handle {
	struct dfu_handle base; /* first: the protocol code sees only this */
	libusb_device_handle *dh;
	bool claimed[256];
};

/* ---- real clock ----------------------------------------------------------------------- */

static uint64_t real_now_ms(void *ctx)
{
	struct timespec ts;

	(void)ctx;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void real_sleep_ms(void *ctx, uint32_t ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000 };

	(void)ctx;
	/* a signal must not shorten a bwPollTimeout wait: go on with the remainder */
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* ---- errors --------------------------------------------------------------------------- */

/* One dfu_err per libusb error class (dfuflash.h); NO_MEM is our NOMEM. */
static int map_err(int r)
{
	switch (r) {
	case LIBUSB_ERROR_PIPE:
		return DFU_E_USB_PIPE;
	case LIBUSB_ERROR_TIMEOUT:
		return DFU_E_USB_TIMEOUT;
	case LIBUSB_ERROR_NO_DEVICE:
		return DFU_E_USB_NODEV;
	case LIBUSB_ERROR_IO:
		return DFU_E_USB_IO;
	case LIBUSB_ERROR_OVERFLOW:
		return DFU_E_USB_OVERFLOW;
	case LIBUSB_ERROR_ACCESS:
		return DFU_E_USB_ACCESS;
	case LIBUSB_ERROR_BUSY:
		return DFU_E_USB_BUSY;
	case LIBUSB_ERROR_NO_MEM:
		return DFU_E_NOMEM;
	default:
		return DFU_E_USB_OTHER;
	}
}

/* Map @r and hand its libusb name (a static string) to @usb_name. */
static int fail(int r, const char **usb_name)
{
	if (usb_name)
		*usb_name = libusb_error_name(r);
	return map_err(r);
}

/* dfu_error_set plus the libusb-level fields, which only the first failure
 * keeps.  @err is usually map_err(@r). */
static int usb_error(struct dfu_error *e, int err, int r, const char *code, const char *fmt, ...)
    _printf_format_(5, 6);
static int usb_error(struct dfu_error *e, int err, int r, const char *code, const char *fmt, ...)
{
	bool first = e && e->err == 0;
	va_list ap;

	va_start(ap, fmt);
	dfu_error_setv(e, err, code, NULL, fmt, ap);
	va_end(ap);
	if (first) {
		e->usb_err = err;
		e->usb_name = libusb_error_name(r);
	}
	return err;
}

/* ---- handle ops ----------------------------------------------------------------------- */

static int usb_control(struct dfu_handle *h, uint8_t request_type, uint8_t request, uint16_t value,
		       uint16_t index, uint8_t *data, uint16_t length, unsigned timeout_ms,
		       const char **usb_name)
{
	struct usb_handle *uh = (struct usb_handle *)h;
	int r;

	if (usb_name)
		*usb_name = NULL;
	r = libusb_control_transfer(uh->dh, request_type, request, value, index, data, length,
				    timeout_ms ? timeout_ms : USB_DEFAULT_TIMEOUT_MS);
	return r < 0 ? fail(r, usb_name) : r;
}

static int usb_claim(struct dfu_handle *h, uint8_t interface, const char **usb_name)
{
	struct usb_handle *uh = (struct usb_handle *)h;
	int r;

	if (usb_name)
		*usb_name = NULL;
	/* a run-time DFU interface may be bound to a kernel driver; where detaching
	 * is not supported the claim itself then says BUSY */
	libusb_set_auto_detach_kernel_driver(uh->dh, 1);
	r = libusb_claim_interface(uh->dh, interface);
	if (r < 0)
		return fail(r, usb_name);
	uh->claimed[interface] = true;
	return 0;
}

static int usb_set_alt(struct dfu_handle *h, uint8_t interface, uint8_t alt, const char **usb_name)
{
	struct usb_handle *uh = (struct usb_handle *)h;
	int r;

	if (usb_name)
		*usb_name = NULL;
	r = libusb_set_interface_alt_setting(uh->dh, interface, alt);
	return r < 0 ? fail(r, usb_name) : 0;
}

/* NOT_FOUND is how libusb reports a device that re-enumerated during the reset
 * (the kernel's ENODEV when the descriptors changed, libusb's linux_usbfs.c): the
 * expected outcome after a DETACH, so it is NODEV like a device that left. */
static int usb_reset(struct dfu_handle *h, const char **usb_name)
{
	struct usb_handle *uh = (struct usb_handle *)h;
	int r;

	if (usb_name)
		*usb_name = NULL;
	r = libusb_reset_device(uh->dh);
	if (r == LIBUSB_ERROR_NOT_FOUND) {
		if (usb_name)
			*usb_name = libusb_error_name(r);
		return DFU_E_USB_NODEV;
	}
	return r < 0 ? fail(r, usb_name) : 0;
}

static void usb_close(struct dfu_handle *h)
{
	struct usb_handle *uh = (struct usb_handle *)h;

	if (!uh)
		return;
	/* a device that left cannot be released: nothing to report */
	for (unsigned i = 0; i < ARRAY_SIZE(uh->claimed); i++)
		if (uh->claimed[i])
			libusb_release_interface(uh->dh, (int)i);
	libusb_close(uh->dh);
	free(uh);
}

static const struct dfu_handle_ops usb_handle_ops = {
	.control = usb_control,
	.claim = usb_claim,
	.set_alt = usb_set_alt,
	.reset = usb_reset,
	.close = usb_close,
};

/* ---- enumeration ---------------------------------------------------------------------- */

/* The first usable DFU functional descriptor in @extra. */
static bool find_func(const unsigned char *extra, int len, struct dfu_func_desc *f)
{
	for (int off = 0; off + 2 <= len;) {
		const unsigned char *d = extra + off;

		if (d[0] < 2 || off + d[0] > len)
			break;
		if (d[1] == USB_DT_DFU_FUNCTIONAL && dfu_func_desc_decode(d, d[0], f))
			return true;
		off += d[0];
	}
	return false;
}

/*
 * The DFU alts of one configuration into @u.  The functional descriptor is
 * looked for where dfu-util finds it: the alt's own extra bytes, else another
 * alt of the same interface (the ST ROM and ST's USB device library put it after
 * the last alt only), else the configuration's extra bytes.
 */
static void add_config(const struct libusb_config_descriptor *cfg, struct dfu_usb_device *u)
{
	struct dfu_func_desc cfg_func = { .bcd_dfu = 0x0100 };
	size_t first = u->n_alts;

	find_func(cfg->extra, cfg->extra_length, &cfg_func);
	for (int i = 0; i < cfg->bNumInterfaces; i++) {
		const struct libusb_interface *intf = &cfg->interface[i];

		for (int j = 0; j < intf->num_altsetting; j++) {
			const struct libusb_interface_descriptor *as = &intf->altsetting[j];
			struct dfu_usb_alt *a;

			if (as->bInterfaceClass != 0xfe || as->bInterfaceSubClass != 0x01 ||
			    u->n_alts == DFU_MAX_ALTS)
				continue;
			a = &u->alts[u->n_alts++];
			memset(a, 0, sizeof(*a));
			a->interface = as->bInterfaceNumber;
			a->interface_pos = (uint8_t)i;
			a->alt = as->bAlternateSetting;
			a->protocol = as->bInterfaceProtocol;
			a->i_interface = as->iInterface;
			a->func.bcd_dfu = 0x0100;
			find_func(as->extra, as->extra_length, &a->func);
		}
	}
	for (size_t i = first; i < u->n_alts; i++) {
		struct dfu_usb_alt *a = &u->alts[i];

		for (size_t j = first; j < u->n_alts && !a->func.present; j++)
			if (u->alts[j].interface == a->interface && u->alts[j].func.present)
				a->func = u->alts[j].func;
		if (!a->func.present && cfg_func.present)
			a->func = cfg_func;
	}
	if (u->n_alts > first)
		u->config_value = cfg->bConfigurationValue;
}

/* "B-P.P.P" as dfu-util's -p: the bus, then the port chain (at most 7 ports of
 * at most 3 digits, so DFU_MAX_PATH always suffices; snprintf bounds it anyway). */
static void format_path(libusb_device *dev, char *buf, size_t cap)
{
	uint8_t ports[USB_MAX_PORTS];
	int n = libusb_get_port_numbers(dev, ports, (int)sizeof(ports));
	size_t len;

	snprintf(buf, cap, "%u", (unsigned)libusb_get_bus_number(dev));
	for (int i = 0; i < n; i++) {
		len = strlen(buf);
		snprintf(buf + len, cap - len, "%c%u", i == 0 ? '-' : '.', (unsigned)ports[i]);
	}
}

/* Keep one reference to @dev for the backend's lifetime. */
static int hold(struct usb_backend *be, libusb_device *dev)
{
	for (size_t i = 0; i < be->n_held; i++)
		if (be->held[i] == dev)
			return 0;
	if (be->n_held == be->cap_held) {
		size_t cap = be->cap_held ? be->cap_held * 2 : 16;
		libusb_device **p = realloc(be->held, cap * sizeof(*p));

		if (!p)
			return DFU_E_NOMEM;
		be->held = p;
		be->cap_held = cap;
	}
	be->held[be->n_held++] = libusb_ref_device(dev);
	return 0;
}

/*
 * Every device with a DFU interface.  The alts come from the first
 * configuration that has DFU alts (config_value says which); a configuration
 * libusb cannot read is skipped.  backend_ref is the libusb_device, held until
 * the backend is freed.
 */
static int usb_enumerate(void *ctx, struct dfu_usb_device **out, size_t *n, struct dfu_error *e)
{
	struct usb_backend *be = ctx;
	_cleanup_free_ struct dfu_usb_device *list = NULL;
	libusb_device **devs = NULL;
	ssize_t nd;
	size_t count = 0;
	int r = 0;

	*out = NULL;
	*n = 0;
	nd = libusb_get_device_list(be->ctx, &devs);
	if (nd < 0)
		return usb_error(e, map_err((int)nd), (int)nd, "usb.enumerate",
				 "cannot list USB devices: %s", libusb_strerror((int)nd));
	list = calloc(nd ? (size_t)nd : 1, sizeof(*list));
	if (!list) {
		r = dfu_error_set(e, DFU_E_NOMEM, "usb.nomem", NULL, "out of memory");
		goto out;
	}
	for (ssize_t i = 0; i < nd; i++) {
		libusb_device *dev = devs[i];
		struct dfu_usb_device *u = &list[count];
		struct libusb_device_descriptor dd;

		if (libusb_get_device_descriptor(dev, &dd) != 0)
			continue;
		memset(u, 0, sizeof(*u));
		for (uint8_t c = 0; c < dd.bNumConfigurations && u->n_alts == 0; c++) {
			struct libusb_config_descriptor *cfg;

			if (libusb_get_config_descriptor(dev, c, &cfg) != 0)
				continue;
			add_config(cfg, u);
			libusb_free_config_descriptor(cfg);
		}
		if (u->n_alts == 0)
			continue;
		if (hold(be, dev) != 0) {
			r = dfu_error_set(e, DFU_E_NOMEM, "usb.nomem", NULL, "out of memory");
			goto out;
		}
		u->bus = libusb_get_bus_number(dev);
		u->devnum = libusb_get_device_address(dev);
		format_path(dev, u->path, sizeof(u->path));
		u->vid = dd.idVendor;
		u->pid = dd.idProduct;
		u->bcd_device = dd.bcdDevice;
		u->i_manufacturer = dd.iManufacturer;
		u->i_product = dd.iProduct;
		u->i_serial = dd.iSerialNumber;
		u->max_packet0 = dd.bMaxPacketSize0;
		u->backend_ref = dev;
		count++;
	}
	*out = TAKE_PTR(list);
	*n = count;
out:
	libusb_free_device_list(devs, 1);
	return r;
}

static int usb_open(void *ctx, const struct dfu_usb_device *dev, struct dfu_handle **out,
		    struct dfu_error *e)
{
	struct usb_handle *uh;
	int r;

	(void)ctx;
	*out = NULL;
	uh = calloc(1, sizeof(*uh));
	if (!uh)
		return dfu_error_set(e, DFU_E_NOMEM, "usb.nomem", NULL, "out of memory");
	r = libusb_open(dev->backend_ref, &uh->dh);
	if (r < 0) {
		free(uh);
		switch (r) {
		case LIBUSB_ERROR_ACCESS:
			usb_error(e, DFU_E_USB_ACCESS, r, "usb.access",
				  "cannot open %04x:%04x at %s: permission denied", dev->vid,
				  dev->pid, dev->path);
			dfu_error_hint(e, hint_access);
			return DFU_E_USB_ACCESS;
		case LIBUSB_ERROR_BUSY:
			return usb_error(e, DFU_E_USB_BUSY, r, "usb.busy",
					 "cannot open %04x:%04x at %s: another program holds it",
					 dev->vid, dev->pid, dev->path);
		case LIBUSB_ERROR_NO_DEVICE:
			return usb_error(e, DFU_E_USB_NODEV, r, "usb.nodev",
					 "cannot open %04x:%04x at %s: the device is gone",
					 dev->vid, dev->pid, dev->path);
		default:
			return usb_error(e, map_err(r), r, "usb.open",
					 "cannot open %04x:%04x at %s: %s", dev->vid, dev->pid,
					 dev->path, libusb_strerror(r));
		}
	}
	uh->base.ops = &usb_handle_ops;
	*out = &uh->base;
	return 0;
}

/* ---- hotplug ---------------------------------------------------------------------------- */

static int LIBUSB_CALL on_hotplug(libusb_context *ctx, libusb_device *dev,
				  libusb_hotplug_event event, void *user_data)
{
	struct usb_backend *be = user_data;

	(void)ctx;
	(void)dev;
	(void)event;
	be->changed = true;
	return 0; /* stay registered */
}

static int usb_wait_change(void *ctx, uint32_t timeout_ms)
{
	struct usb_backend *be = ctx;
	struct timeval tv;
	uint64_t end;
	int r;

	/* Linux without udev or netlink events, Windows: no hotplug (libusb's
	 * LIBUSB_CAP_HAS_HOTPLUG); the caller polls instead */
	if (!libusb_has_capability(LIBUSB_CAP_HAS_HOTPLUG))
		return DFU_E_UNSUPPORTED;
	if (!be->hotplug_registered) {
		r = libusb_hotplug_register_callback(
		    be->ctx, LIBUSB_HOTPLUG_EVENT_DEVICE_ARRIVED | LIBUSB_HOTPLUG_EVENT_DEVICE_LEFT,
		    0, LIBUSB_HOTPLUG_MATCH_ANY, LIBUSB_HOTPLUG_MATCH_ANY, LIBUSB_HOTPLUG_MATCH_ANY,
		    on_hotplug, be, &be->hotplug);
		if (r < 0)
			return DFU_E_UNSUPPORTED;
		be->hotplug_registered = true;
	}
	be->changed = false;
	end = real_now_ms(NULL) + timeout_ms;
	for (;;) {
		uint64_t now = real_now_ms(NULL);

		if (be->changed)
			return 1;
		if (now >= end)
			return 0;
		tv.tv_sec = (time_t)((end - now) / 1000);
		tv.tv_usec = (suseconds_t)((end - now) % 1000 * 1000);
		r = libusb_handle_events_timeout_completed(be->ctx, &tv, NULL);
		if (r < 0 && r != LIBUSB_ERROR_INTERRUPTED)
			return map_err(r);
		if (r == LIBUSB_ERROR_INTERRUPTED)
			return 0; /* a signal: let the caller look at it */
	}
}

/* Handles must be closed first: libusb_exit() needs every handle closed. */
static void usb_free(void *ctx)
{
	struct usb_backend *be = ctx;

	if (!be)
		return;
	if (be->hotplug_registered)
		libusb_hotplug_deregister_callback(be->ctx, be->hotplug);
	for (size_t i = 0; i < be->n_held; i++)
		libusb_unref_device(be->held[i]);
	free(be->held);
	libusb_exit(be->ctx);
	free(be);
}

static const struct dfu_backend_ops usb_backend_ops = {
	.enumerate = usb_enumerate,
	.open = usb_open,
	.wait_change = usb_wait_change,
	.free = usb_free,
};

int dfu_backend_libusb_new(struct dfu_backend *out, struct dfu_error *e)
{
	struct usb_backend *be;
	int r;

	memset(out, 0, sizeof(*out));
	be = calloc(1, sizeof(*be));
	if (!be)
		return dfu_error_set(e, DFU_E_NOMEM, "usb.nomem", NULL, "out of memory");
	r = libusb_init(&be->ctx);
	if (r < 0) {
		free(be);
		/* transport.h: an init failure is OTHER, whatever libusb's reason */
		return usb_error(e, DFU_E_USB_OTHER, r, "usb.init", "cannot initialise libusb: %s",
				 libusb_strerror(r));
	}
	out->ops = &usb_backend_ops;
	out->ctx = be;
	out->clock.now_ms = real_now_ms;
	out->clock.sleep_ms = real_sleep_ms;
	out->clock.ctx = NULL;
	return 0;
}
