// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libFuzzer harness: a hostile USB device.  The input is everything the device
 * says: its DFU interfaces and functional descriptors, its string descriptors
 * (DfuSe layouts among them), and the outcome and reply of every control
 * transfer (GET_STATUS, UPLOAD, GETSTATE, the rest).  The engine, through the
 * transport seam (src/lib/usb/transport.h), lists it, opens it and runs a
 * download, an upload or a leave on it.  Time is virtual: a sleep moves the
 * clock and returns at once, a timeout costs its length in virtual time, so a
 * run never waits.  When the input runs out the device is gone (every request
 * fails with NO_DEVICE), which any correct engine survives.
 *
 * Crashes, sanitizer reports and runs that do not end (libFuzzer's -timeout)
 * are engine bugs.
 */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz-device.h"
#include "transport.h"

/* A run that sends this many requests is a hang in virtual time. */
#define MAX_REQUESTS 20000u
/* Virtual time after which the device is gone: no loop may outlive it. */
#define MAX_VIRTUAL_MS (24ull * 3600 * 1000)

struct hostile {
	const uint8_t *p;
	size_t n, at;
	uint64_t now_ms;
	unsigned requests;
	unsigned enumerations;
	struct dfu_usb_device dev; /* what enumeration shows, taken from the input once */
};

struct hostile_handle {
	struct dfu_handle base;
	struct hostile *h;
};

static bool exhausted(const struct hostile *h)
{
	return h->at >= h->n || h->requests >= MAX_REQUESTS || h->now_ms >= MAX_VIRTUAL_MS;
}

static uint8_t byte(struct hostile *h)
{
	return h->at < h->n ? h->p[h->at++] : 0;
}

static uint16_t word(struct hostile *h)
{
	uint16_t lo = byte(h);

	return (uint16_t)(lo | byte(h) << 8);
}

/* ---- clock ------------------------------------------------------------------------------- */

static uint64_t clock_now_ms(void *ctx)
{
	return ((struct hostile *)ctx)->now_ms;
}

static void clock_sleep_ms(void *ctx, uint32_t ms)
{
	((struct hostile *)ctx)->now_ms += ms;
}

/* ---- the device's answers ------------------------------------------------------------------ */

static void set_name(const char **usb_name, const char *name)
{
	if (usb_name)
		*usb_name = name;
}

/* A failure chosen by the input (outcome byte 1..5), as libusb names it. */
static int failure(struct hostile *h, uint8_t outcome, unsigned timeout_ms, const char **usb_name)
{
	switch (outcome) {
	case FUZZ_PIPE:
		set_name(usb_name, "LIBUSB_ERROR_PIPE");
		return DFU_E_USB_PIPE;
	case FUZZ_TIMEOUT:
		h->now_ms += timeout_ms ? timeout_ms : 5000;
		set_name(usb_name, "LIBUSB_ERROR_TIMEOUT");
		return DFU_E_USB_TIMEOUT;
	case FUZZ_IO:
		set_name(usb_name, "LIBUSB_ERROR_IO");
		return DFU_E_USB_IO;
	case FUZZ_OVERFLOW:
		set_name(usb_name, "LIBUSB_ERROR_OVERFLOW");
		return DFU_E_USB_OVERFLOW;
	default:
		set_name(usb_name, "LIBUSB_ERROR_NO_DEVICE");
		return DFU_E_USB_NODEV;
	}
}

/* A string descriptor: raw bytes, or (high bit of the length byte) text that is
 * wrapped into a well-formed UTF-16LE descriptor, so that layouts are reachable. */
static int string_reply(struct hostile *h, uint8_t *data, uint16_t length)
{
	uint8_t len = byte(h);
	size_t k = 0;

	if (len & FUZZ_STRING_TEXT) {
		uint8_t chars = len & 0x7F;
		uint8_t b[2 + 2 * 127];

		b[k++] = (uint8_t)(2 + 2 * chars);
		b[k++] = USB_DT_STRING;
		for (uint8_t i = 0; i < chars; i++) {
			b[k++] = byte(h);
			b[k++] = 0;
		}
		k = k < length ? k : length;
		memcpy(data, b, k);
		return (int)k;
	}
	for (; k < len && k < length; k++)
		data[k] = byte(h);
	return (int)k;
}

/* An IN reply of the class requests: a length, then that many bytes; long
 * UPLOAD replies repeat the input's bytes instead of consuming a byte each. */
static int in_reply(struct hostile *h, uint8_t request, uint8_t *data, uint16_t length)
{
	size_t want;

	if (request == DFU_REQ_GETSTATUS || request == DFU_REQ_GETSTATE) {
		want = byte(h) % 8; /* 0..7: short, exact, or more than asked */
		want = want < length ? want : length;
		for (size_t i = 0; i < want; i++)
			data[i] = byte(h);
		return (int)want;
	}
	want = word(h);
	want = want < length ? want : length;
	if (want) {
		uint8_t fill = byte(h);

		memset(data, fill, want);
		for (size_t i = 0; i < want && i < FUZZ_UPLOAD_HEAD; i++)
			data[i] = byte(h);
	}
	return (int)want;
}

static int hostile_control(struct dfu_handle *dh, uint8_t request_type, uint8_t request,
			   uint16_t value, uint16_t index, uint8_t *data, uint16_t length,
			   unsigned timeout_ms, const char **usb_name)
{
	struct hostile *h = ((struct hostile_handle *)dh)->h;
	uint8_t outcome;

	(void)index;
	set_name(usb_name, NULL);
	h->requests++;
	if (exhausted(h))
		return failure(h, FUZZ_NODEV, timeout_ms, usb_name);
	outcome = byte(h);
	/* mostly answer: outcomes 1..5 fail, the rest succeed */
	if (outcome % 16 >= FUZZ_PIPE && outcome % 16 <= FUZZ_NODEV)
		return failure(h, outcome % 16, timeout_ms, usb_name);
	h->now_ms += outcome >> 4; /* a device that takes its time */
	if (!(request_type & 0x80))
		return length;
	if ((request_type & 0x60) == 0 && request == USB_REQ_GET_DESCRIPTOR &&
	    value >> 8 == USB_DT_STRING)
		return string_reply(h, data, length);
	return in_reply(h, request, data, length);
}

static int hostile_simple(struct dfu_handle *dh, const char **usb_name)
{
	struct hostile *h = ((struct hostile_handle *)dh)->h;
	uint8_t outcome;

	set_name(usb_name, NULL);
	h->requests++;
	if (exhausted(h))
		return failure(h, FUZZ_NODEV, 0, usb_name);
	outcome = byte(h) % 16;
	return outcome >= FUZZ_PIPE && outcome <= FUZZ_NODEV ? failure(h, outcome, 0, usb_name) : 0;
}

static int hostile_claim(struct dfu_handle *dh, uint8_t interface, const char **usb_name)
{
	(void)interface;
	return hostile_simple(dh, usb_name);
}

static int hostile_set_alt(struct dfu_handle *dh, uint8_t interface, uint8_t alt,
			   const char **usb_name)
{
	(void)interface;
	(void)alt;
	return hostile_simple(dh, usb_name);
}

static int hostile_reset(struct dfu_handle *dh, const char **usb_name)
{
	return hostile_simple(dh, usb_name);
}

static void hostile_close(struct dfu_handle *dh)
{
	free(dh);
}

static const struct dfu_handle_ops hostile_handle_ops = {
	.control = hostile_control,
	.claim = hostile_claim,
	.set_alt = hostile_set_alt,
	.reset = hostile_reset,
	.close = hostile_close,
};

/* ---- enumeration ------------------------------------------------------------------------- */

/* The device as the input describes it: up to 4 alts, each with its own
 * functional descriptor of 0 to 9 bytes (shorter than 7 is none). */
static void describe_device(struct hostile *h)
{
	struct dfu_usb_device *u = &h->dev;
	uint8_t shape = byte(h);

	memset(u, 0, sizeof(*u));
	u->bus = 1;
	u->devnum = 2;
	snprintf(u->path, sizeof(u->path), "1-1");
	u->vid = word(h);
	u->pid = word(h);
	u->bcd_device = word(h);
	u->i_manufacturer = 1;
	u->i_product = 2;
	u->i_serial = shape & FUZZ_SHAPE_SERIAL ? 3 : 0;
	u->config_value = 1;
	u->max_packet0 = 64;
	u->n_alts = 1 + (shape & FUZZ_SHAPE_ALTS);
	for (size_t i = 0; i < u->n_alts; i++) {
		struct dfu_usb_alt *a = &u->alts[i];
		uint8_t fd[9], fd_len = byte(h) % 10;

		a->interface = shape & FUZZ_SHAPE_INTERFACES ? (uint8_t)i : 0;
		a->interface_pos = a->interface;
		a->alt = shape & FUZZ_SHAPE_ALT_NUMBERS ? byte(h) : (uint8_t)i;
		a->protocol = shape & FUZZ_SHAPE_RUNTIME ? 1 : 2;
		a->i_interface = (uint8_t)(4 + i);
		a->func.bcd_dfu = 0x0100;
		for (uint8_t k = 0; k < fd_len; k++)
			fd[k] = byte(h);
		dfu_func_desc_decode(fd, fd_len, &a->func);
	}
}

static int hostile_enumerate(void *ctx, struct dfu_usb_device **out, size_t *n, struct dfu_error *e)
{
	struct hostile *h = ctx;
	uint8_t present;

	(void)e;
	*out = NULL;
	*n = 0;
	h->enumerations++;
	/* the first listing always shows it; later ones (after a leave or a reset)
	 * as the input says */
	present = h->enumerations == 1 ? 1 : (uint8_t)(!exhausted(h) && (byte(h) & 1));
	if (!present)
		return 0;
	*out = malloc(sizeof(**out));
	if (!*out)
		return DFU_E_NOMEM;
	**out = h->dev;
	(*out)->devnum = (uint8_t)(1 + h->enumerations);
	(*out)->backend_ref = h;
	*n = 1;
	return 0;
}

static int hostile_open(void *ctx, const struct dfu_usb_device *dev, struct dfu_handle **out,
			struct dfu_error *e)
{
	struct hostile_handle *hh;

	(void)dev;
	*out = NULL;
	hh = calloc(1, sizeof(*hh));
	if (!hh)
		return dfu_error_set(e, DFU_E_NOMEM, "usb.nomem", NULL, "out of memory");
	hh->base.ops = &hostile_handle_ops;
	hh->h = ctx;
	*out = &hh->base;
	return 0;
}

static void hostile_free(void *ctx)
{
	(void)ctx;
}

static const struct dfu_backend_ops hostile_backend_ops = {
	.enumerate = hostile_enumerate,
	.open = hostile_open,
	.free = hostile_free,
};

/* The product's libusb backend is not linked in: dfu_ctx_new_usb() is never used here. */
int dfu_backend_libusb_new(struct dfu_backend *out, struct dfu_error *e)
{
	(void)out;
	return dfu_error_set(e, DFU_E_USB_OTHER, "usb.init", NULL, "no libusb in the fuzzer");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hostile h = { .p = data, .n = size, .now_ms = 1000 };
	struct dfu_backend be = {
		.ops = &hostile_backend_ops,
		.ctx = &h,
		.clock = { clock_now_ms, clock_sleep_ms, &h },
	};
	struct dfu_ctx *ctx = NULL;
	uint8_t what, size_code;

	if (size < 4)
		return 0;
	what = byte(&h);
	size_code = byte(&h);
	describe_device(&h);
	if (dfu_ctx_new(&be, &ctx) < 0)
		return 0;
	fuzz_run_first_dfu_alt(ctx, what, size_code);
	dfu_ctx_free(ctx);
	return 0;
}
