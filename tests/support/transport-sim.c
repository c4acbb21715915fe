// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The in-process transport: the virtual devices of src/sim on a virtual clock, shaped
 * as libusb shows a usbfs device (STALL as LIBUSB_ERROR_PIPE, an unanswered
 * request as TIMEOUT, an unplug as NO_DEVICE, a device that re-enumerated
 * under a handle as NOT_FOUND), so that the protocol code runs unchanged in
 * tests.  It never sleeps; it does not own the sim devices.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "sim-api.h"
#include "transport-sim.h"
#include "util.h"

/* libusb's default when a caller passes 0 (transport.h, control) */
#define SIM_DEFAULT_TIMEOUT_MS 5000u

/* USB 2.0 §9.4, table 9-5 and 9-6 */
#define USB_DT_DEVICE 0x01
#define USB_DT_CONFIG 0x02
#define USB_DT_INTERFACE 0x04
#define USB_REQ_SET_INTERFACE 0x0b
#define USB_RT_STD_INTERFACE_OUT 0x01

/* 1 is the root hub; a host controller hands out 2..127 (USB 2.0 §9.4.6). */
#define SIM_FIRST_ADDR 2
#define SIM_LAST_ADDR 127

/*
 * One enumeration of one sim device, as seen by this backend: what
 * dfu_usb_device.backend_ref points to.  A new generation of the device (it
 * re-enumerated) gets a new ref and a new address, as a real bus would give it.
 * Refs live until the backend is freed, so a dfu_usb_device from an old
 * enumerate stays safe to pass to open (which then says the device is gone).
 */
struct sim_ref {
	struct sim_ref *next;
	struct sim_device *dev;
	size_t index; /* position in the backend's device list: the port, "1-<index+1>" */
	uint64_t generation;
	uint8_t devnum;
};

struct sim_backend {
	struct dfu_vclock *vc;
	struct sim_device **devs;
	size_t n_devs;
	struct sim_ref *refs;
	unsigned next_addr;
};

struct sim_handle {
	struct dfu_handle base; /* first: the protocol code sees only this */
	struct sim_backend *be;
	struct sim_device *dev;
	uint64_t generation; /* the enumeration this handle was opened on */
	uint16_t vid, pid;
	char path[DFU_MAX_PATH];
	bool has_interface[256]; /* DFU interfaces of the device, at open */
	bool claimed[256];
};

/* ---- virtual clock ------------------------------------------------------------------ */

uint64_t dfu_vclock_now_us(void *vclock)
{
	return ((struct dfu_vclock *)vclock)->now_us;
}

static uint64_t vclock_now_ms(void *vclock)
{
	return ((struct dfu_vclock *)vclock)->now_us / 1000;
}

/* Virtual time: sleeping is moving the clock, the sim devices see it at once. */
static void vclock_sleep_ms(void *vclock, uint32_t ms)
{
	((struct dfu_vclock *)vclock)->now_us += (uint64_t)ms * 1000;
}

/* ---- helpers ------------------------------------------------------------------------ */

static void set_name(const char **usb_name, const char *name)
{
	if (usb_name)
		*usb_name = name;
}

/* dfu_error_set plus the libusb-level fields, which only the first failure keeps. */
static int usb_error(struct dfu_error *e, int err, const char *usb_name, const char *code,
		     const char *fmt, ...) _printf_format_(5, 6);
static int usb_error(struct dfu_error *e, int err, const char *usb_name, const char *code,
		     const char *fmt, ...)
{
	bool first = e && e->err == 0;
	va_list ap;

	va_start(ap, fmt);
	dfu_error_setv(e, err, code, NULL, fmt, ap);
	va_end(ap);
	if (first && usb_name) {
		e->usb_err = err;
		e->usb_name = usb_name;
	}
	return err;
}

/*
 * Take the device's pending bus events (transport.h: they are applied at each
 * enumerate and transfer).  Connectivity and generation are then read from
 * sim_device_get_state(), which is exact even when the event queue overflowed.
 */
static void drain_events(struct sim_device *d)
{
	struct sim_event ev;

	while (sim_device_next_event(d, &ev) == 1)
		;
}

/*
 * Parse the descriptors as sysfs holds them (device descriptor, then the whole
 * configuration descriptor) into @u, the way libusb's descriptor.c and dfu-util
 * read them.  Returns 0, or DFU_E_FORMAT when the device or configuration
 * descriptor header is unusable (libusb would not list such a device either).
 * A descriptor running past the end stops the walk; what came before is kept.
 */
static int parse_descriptors(const uint8_t *buf, size_t len, struct dfu_usb_device *u)
{
	struct dfu_func_desc cfg_func = { .bcd_dfu = 0x0100 };
	const uint8_t *c;
	size_t total, off;
	int cur = -1, last_ifnum = -1, pos = -1;

	/* USB 2.0 §9.6.1 */
	if (len < 18 || buf[0] < 18 || buf[0] > len || buf[1] != USB_DT_DEVICE)
		return DFU_E_FORMAT;
	u->max_packet0 = buf[7];
	u->vid = le16_get(buf + 8);
	u->pid = le16_get(buf + 10);
	u->bcd_device = le16_get(buf + 12);
	u->i_manufacturer = buf[14];
	u->i_product = buf[15];
	u->i_serial = buf[16];

	/* USB 2.0 §9.6.3: wTotalLength covers the interfaces and class descriptors */
	c = buf + buf[0];
	len -= buf[0];
	if (len < 9 || c[0] < 9 || c[0] > len || c[1] != USB_DT_CONFIG)
		return DFU_E_FORMAT;
	total = le16_get(c + 2);
	if (total < c[0])
		return DFU_E_FORMAT;
	total = MIN(total, len); /* libusb: "short config descriptor read", parses the rest */
	u->config_value = c[5];

	for (off = c[0]; off + 2 <= total; off += c[off]) {
		const uint8_t *d = c + off;
		uint8_t dl = d[0];

		if (dl < 2 || off + dl > total)
			break;
		if (d[1] == USB_DT_INTERFACE) {
			struct dfu_usb_alt *a;

			cur = -1;
			if (dl < 9)
				continue;
			/* libusb groups consecutive alts of one bInterfaceNumber into one
			 * interface; its index is dfu-util's -i */
			if (d[2] != last_ifnum) {
				last_ifnum = d[2];
				pos++;
			}
			if (d[5] != 0xfe || d[6] != 0x01 || u->n_alts == DFU_MAX_ALTS)
				continue;
			a = &u->alts[u->n_alts];
			memset(a, 0, sizeof(*a));
			a->interface = d[2];
			a->interface_pos = (uint8_t)pos;
			a->alt = d[3];
			a->protocol = d[7];
			a->i_interface = d[8];
			a->func.bcd_dfu = 0x0100;
			cur = (int)u->n_alts++;
		} else if (d[1] == USB_DT_DFU_FUNCTIONAL) {
			if (cur >= 0 && !u->alts[cur].func.present)
				dfu_func_desc_decode(d, dl, &u->alts[cur].func);
			else if (!cfg_func.present)
				dfu_func_desc_decode(d, dl, &cfg_func);
		}
		/* anything else (endpoints, vendor descriptors): skipped */
	}

	/*
	 * The ST ROM and HAL put the functional descriptor after the last alt only
	 * (ST's usbd_dfu.c configuration descriptor); dfu-util's find_descriptor() then
	 * finds it for
	 * every alt.  Take it from another alt of the same interface, else the
	 * first one anywhere in the configuration.
	 */
	for (size_t i = 0; i < u->n_alts; i++) {
		struct dfu_usb_alt *a = &u->alts[i];

		if (a->func.present)
			continue;
		for (size_t j = 0; j < u->n_alts && !a->func.present; j++)
			if (u->alts[j].interface == a->interface && u->alts[j].func.present)
				a->func = u->alts[j].func;
		if (!a->func.present && cfg_func.present)
			a->func = cfg_func;
	}
	return 0;
}

/* The ref for this enumeration of device @index, created (with the next
 * address) the first time it is seen.  NULL on out of memory. */
static struct sim_ref *ref_get(struct sim_backend *be, size_t index, uint64_t generation)
{
	struct sim_ref *r;

	for (r = be->refs; r; r = r->next)
		if (r->index == index && r->generation == generation)
			return r;
	r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->dev = be->devs[index];
	r->index = index;
	r->generation = generation;
	r->devnum = (uint8_t)be->next_addr;
	be->next_addr = be->next_addr == SIM_LAST_ADDR ? SIM_FIRST_ADDR : be->next_addr + 1;
	r->next = be->refs;
	be->refs = r;
	return r;
}

static bool ref_known(const struct sim_backend *be, const struct sim_ref *ref)
{
	for (const struct sim_ref *r = be->refs; r; r = r->next)
		if (r == ref)
			return true;
	return false;
}

/* Whether the enumeration of @h is still the one on the bus. */
static bool handle_current(struct sim_handle *h)
{
	struct sim_state st;

	drain_events(h->dev);
	if (sim_device_get_state(h->dev, &st) != 0)
		return false;
	return st.connected && st.generation == h->generation;
}

/* ---- handle ops ----------------------------------------------------------------------- */

/*
 * One control transfer through the device model.  Outcomes as libusb reports
 * them for a usbfs device (the URB status -EPIPE, -ENOENT after libusb cancels a
 * timed-out URB, -ESHUTDOWN after an unplug):
 *   SIM_STALL → PIPE;  SIM_GONE (also a stale generation) → NO_DEVICE;
 *   SIM_TIMEOUT → TIMEOUT, after the virtual clock moved by the whole timeout,
 *   as a real host waits that long before cancelling;
 *   SIM_GONE_AFTER_DATA → IO: the IN data left the device but the status stage
 *   never completed, and libusb then returns an error, not the data.
 * A request the device held (delay_us, dfuDNBUSY NAKing) moves the clock by
 * that delay; held longer than the timeout it is TIMEOUT, though the device
 * did process it (as a real one finishing its flash loop would).
 */
static int sim_control(struct dfu_handle *dh, uint8_t request_type, uint8_t request, uint16_t value,
		       uint16_t index, uint8_t *data, uint16_t length, unsigned timeout_ms,
		       const char **usb_name)
{
	struct sim_handle *h = (struct sim_handle *)dh;
	struct dfu_vclock *vc = h->be->vc;
	struct sim_transfer t = {
	    .setup =
		{
		    .bmRequestType = request_type,
		    .bRequest = request,
		    .wValue = value,
		    .wIndex = index,
		    .wLength = length,
		},
	    .generation = h->generation,
	};
	uint64_t timeout_us = (uint64_t)(timeout_ms ? timeout_ms : SIM_DEFAULT_TIMEOUT_MS) * 1000;
	int r;

	set_name(usb_name, NULL);
	if (request_type & 0x80) {
		t.in_buf = data;
		t.in_cap = length;
	} else {
		t.out_data = data;
	}
	drain_events(h->dev);
	r = sim_device_submit(h->dev, &t);
	if (r < 0) {
		/* the caller's mistake (no buffer for wLength bytes), as libusb's EINVAL */
		set_name(usb_name, "LIBUSB_ERROR_INVALID_PARAM");
		return DFU_E_INVAL;
	}
	if (r != SIM_TIMEOUT && t.delay_us > timeout_us)
		r = SIM_TIMEOUT;
	if (r == SIM_TIMEOUT) {
		vc->now_us += timeout_us;
		set_name(usb_name, "LIBUSB_ERROR_TIMEOUT");
		return DFU_E_USB_TIMEOUT;
	}
	vc->now_us += t.delay_us;
	switch (r) {
	case SIM_OK:
		return (request_type & 0x80) ? (int)t.in_len : (int)length;
	case SIM_STALL:
		set_name(usb_name, "LIBUSB_ERROR_PIPE");
		return DFU_E_USB_PIPE;
	case SIM_GONE:
		set_name(usb_name, "LIBUSB_ERROR_NO_DEVICE");
		return DFU_E_USB_NODEV;
	case SIM_GONE_AFTER_DATA:
	default:
		set_name(usb_name, "LIBUSB_ERROR_IO");
		return DFU_E_USB_IO;
	}
}

/* usbfs CLAIMINTERFACE: nothing to detach here; an unknown interface is ENOENT,
 * which libusb reports as NOT_FOUND. */
static int sim_claim(struct dfu_handle *dh, uint8_t interface, const char **usb_name)
{
	struct sim_handle *h = (struct sim_handle *)dh;

	set_name(usb_name, NULL);
	if (!handle_current(h)) {
		set_name(usb_name, "LIBUSB_ERROR_NO_DEVICE");
		return DFU_E_USB_NODEV;
	}
	if (!h->has_interface[interface]) {
		set_name(usb_name, "LIBUSB_ERROR_NOT_FOUND");
		return DFU_E_USB_OTHER;
	}
	/* A host run that is going to work with the device claims it (listing
	 * only opens it to read strings): fail-every-second-run counts these. */
	if (!h->claimed[interface])
		sim_device_session_begin(h->dev);
	h->claimed[interface] = true;
	return 0;
}

/* SET_INTERFACE goes to the device model as the standard request it is, so the
 * sim selects the alt.  libusb refuses it on an unclaimed interface. */
static int sim_set_alt(struct dfu_handle *dh, uint8_t interface, uint8_t alt, const char **usb_name)
{
	struct sim_handle *h = (struct sim_handle *)dh;

	set_name(usb_name, NULL);
	if (!h->claimed[interface]) {
		set_name(usb_name, "LIBUSB_ERROR_NOT_FOUND");
		return DFU_E_USB_OTHER;
	}
	return sim_control(dh, USB_RT_STD_INTERFACE_OUT, USB_REQ_SET_INTERFACE, alt, interface,
			   NULL, 0, 0, usb_name);
}

/* USBDEVFS_RESET: a device that re-enumerates as something else answers ENODEV,
 * which libusb reports as NOT_FOUND (libusb's op_reset_device() in
 * os/linux_usbfs.c). */
static int sim_reset(struct dfu_handle *dh, const char **usb_name)
{
	struct sim_handle *h = (struct sim_handle *)dh;
	int r;

	set_name(usb_name, NULL);
	if (!handle_current(h)) {
		set_name(usb_name, "LIBUSB_ERROR_NO_DEVICE");
		return DFU_E_USB_NODEV;
	}
	r = sim_device_usb_reset(h->dev);
	if (r == 0)
		return 0;
	if (r == 1) {
		set_name(usb_name, "LIBUSB_ERROR_NOT_FOUND");
		return DFU_E_USB_NODEV;
	}
	set_name(usb_name, "LIBUSB_ERROR_NO_DEVICE");
	return DFU_E_USB_NODEV;
}

static void sim_close(struct dfu_handle *dh)
{
	free(dh);
}

static const struct dfu_handle_ops sim_handle_ops = {
	.control = sim_control,
	.claim = sim_claim,
	.set_alt = sim_set_alt,
	.reset = sim_reset,
	.close = sim_close,
};

/* ---- backend ops ---------------------------------------------------------------------- */

/*
 * Every connected sim device with a DFU interface.  Bus 1; path "1-N" for
 * device N of the list (a fixed port, so it survives re-enumeration); devnum
 * handed out from 2 upwards, wrapping after 127, the first time this backend
 * sees an enumeration (generation) of a device, so it changes at every
 * re-enumeration as on a real bus.
 */
static int sim_enumerate(void *ctx, struct dfu_usb_device **out, size_t *n, struct dfu_error *e)
{
	struct sim_backend *be = ctx;
	_cleanup_free_ struct dfu_usb_device *list = NULL;
	uint8_t buf[4096];
	size_t count = 0;

	*out = NULL;
	*n = 0;
	list = calloc(be->n_devs ? be->n_devs : 1, sizeof(*list));
	if (!list)
		return usb_error(e, DFU_E_NOMEM, NULL, "usb.nomem", "out of memory");
	for (size_t i = 0; i < be->n_devs; i++) {
		struct sim_device *d = be->devs[i];
		struct dfu_usb_device *u = &list[count];
		struct sim_state st;
		struct sim_ref *ref;
		int len;

		drain_events(d);
		if (sim_device_get_state(d, &st) != 0 || !st.connected)
			continue;
		len = sim_device_descriptors(d, buf, sizeof(buf));
		if (len < 0)
			continue;
		memset(u, 0, sizeof(*u));
		if (parse_descriptors(buf, MIN((size_t)len, sizeof(buf)), u) != 0 || u->n_alts == 0)
			continue;
		ref = ref_get(be, i, st.generation);
		if (!ref)
			return usb_error(e, DFU_E_NOMEM, NULL, "usb.nomem", "out of memory");
		u->bus = 1;
		u->devnum = ref->devnum;
		snprintf(u->path, sizeof(u->path), "1-%zu", i + 1);
		u->backend_ref = ref;
		count++;
	}
	*out = TAKE_PTR(list);
	*n = count;
	return 0;
}

static int sim_open(void *ctx, const struct dfu_usb_device *dev, struct dfu_handle **out,
		    struct dfu_error *e)
{
	struct sim_backend *be = ctx;
	struct sim_ref *ref = dev->backend_ref;
	struct sim_handle *h;

	*out = NULL;
	if (!ref || !ref_known(be, ref))
		return usb_error(e, DFU_E_INVAL, NULL, "usb.open",
				 "device %04x:%04x at %s was not listed by this backend", dev->vid,
				 dev->pid, dev->path);
	h = calloc(1, sizeof(*h));
	if (!h)
		return usb_error(e, DFU_E_NOMEM, NULL, "usb.nomem", "out of memory");
	h->base.ops = &sim_handle_ops;
	h->be = be;
	h->dev = ref->dev;
	h->generation = ref->generation;
	h->vid = dev->vid;
	h->pid = dev->pid;
	snprintf(h->path, sizeof(h->path), "%s", dev->path);
	for (size_t i = 0; i < dev->n_alts && i < DFU_MAX_ALTS; i++)
		h->has_interface[dev->alts[i].interface] = true;
	if (!handle_current(h)) {
		free(h);
		/* libusb_open on a device that left: NO_DEVICE */
		return usb_error(e, DFU_E_USB_NODEV, "LIBUSB_ERROR_NO_DEVICE", "usb.nodev",
				 "cannot open %04x:%04x at %s: the device is gone (disconnected or "
				 "re-enumerated since it was listed)",
				 dev->vid, dev->pid, dev->path);
	}
	*out = &h->base;
	return 0;
}

/* Handles must be closed first (they point at the backend, as libusb's handles
 * point at their context).  The sim devices stay the caller's. */
static void sim_free(void *ctx)
{
	struct sim_backend *be = ctx;
	struct sim_ref *r, *next;

	if (!be)
		return;
	for (r = be->refs; r; r = next) {
		next = r->next;
		free(r);
	}
	free(be->devs);
	free(be);
}

static const struct dfu_backend_ops sim_backend_ops = {
	.enumerate = sim_enumerate,
	.open = sim_open,
	.free = sim_free,
};

int dfu_backend_sim_new(struct dfu_vclock *vc, struct sim_device *const *devs, size_t n,
			struct dfu_backend *out, struct dfu_error *e)
{
	struct sim_backend *be;

	if (!vc || !out || (n && !devs))
		return dfu_error_set(e, DFU_E_INVAL, "usb.init", NULL,
				     "sim backend needs a virtual clock and its devices");
	memset(out, 0, sizeof(*out));
	be = calloc(1, sizeof(*be));
	if (!be)
		return dfu_error_set(e, DFU_E_NOMEM, "usb.nomem", NULL, "out of memory");
	be->devs = calloc(n ? n : 1, sizeof(*be->devs));
	if (!be->devs) {
		free(be);
		return dfu_error_set(e, DFU_E_NOMEM, "usb.nomem", NULL, "out of memory");
	}
	if (n)
		memcpy(be->devs, devs, n * sizeof(*devs));
	be->n_devs = n;
	be->vc = vc;
	be->next_addr = SIM_FIRST_ADDR;
	out->ops = &sim_backend_ops;
	out->ctx = be;
	out->clock.now_ms = vclock_now_ms;
	out->clock.sleep_ms = vclock_sleep_ms;
	out->clock.ctx = vc;
	return 0;
}
