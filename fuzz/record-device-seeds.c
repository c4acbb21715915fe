// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Writes the seed corpus of fuzz-device: each seed replays what a virtual
 * device of src/sim answered while the engine ran one operation on it, in the
 * input format of fuzz/fuzz-device.h, so that fuzzing starts from complete,
 * well-behaved runs (and a few faulty ones) instead of from noise.
 *
 *   record-device-seeds DIR
 *
 * Upload data is recorded as its first bytes plus a fill byte (the format's
 * limit), so a replayed read or verify sees other data than the device held;
 * that is fine for a seed.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz-device.h"
#include "sim-api.h"
#include "transport-sim.h"

struct recorder {
	uint8_t buf[1 << 20];
	size_t len;
	struct dfu_backend sim; /* the in-process sim backend being recorded */
	unsigned enumerations;
	const struct dfu_handle_ops *real; /* the sim handle's own operations */
};

static struct recorder rec;

static void put(uint8_t b)
{
	if (rec.len < sizeof(rec.buf))
		rec.buf[rec.len++] = b;
}

static void put_word(uint16_t w)
{
	put((uint8_t)w);
	put((uint8_t)(w >> 8));
}

static uint8_t outcome_of(int r)
{
	switch (r) {
	case DFU_E_USB_PIPE:
		return FUZZ_PIPE;
	case DFU_E_USB_TIMEOUT:
		return FUZZ_TIMEOUT;
	case DFU_E_USB_IO:
		return FUZZ_IO;
	case DFU_E_USB_OVERFLOW:
		return FUZZ_OVERFLOW;
	default:
		return r < 0 ? FUZZ_NODEV : FUZZ_OK;
	}
}

static void put_string(const uint8_t *d, int n)
{
	if (n < FUZZ_STRING_TEXT) {
		put((uint8_t)n);
		for (int i = 0; i < n; i++)
			put(d[i]);
		return;
	}
	/* too long for raw bytes: its text (the low byte of each UTF-16 unit) */
	int chars = (n - 2) / 2 < 127 ? (n - 2) / 2 : 127;

	put((uint8_t)(FUZZ_STRING_TEXT | chars));
	for (int i = 0; i < chars; i++)
		put(d[2 + 2 * i]);
}

static void put_in_reply(uint8_t request, const uint8_t *d, int n)
{
	if (request == DFU_REQ_GETSTATUS || request == DFU_REQ_GETSTATE) {
		put((uint8_t)n);
		for (int i = 0; i < n; i++)
			put(d[i]);
		return;
	}
	put_word((uint16_t)n);
	if (!n)
		return;
	put(d[n - 1]); /* the fill */
	for (int i = 0; i < n && i < FUZZ_UPLOAD_HEAD; i++)
		put(d[i]);
}

static int rec_control(struct dfu_handle *h, uint8_t rt, uint8_t req, uint16_t value,
		       uint16_t index, uint8_t *data, uint16_t length, unsigned timeout_ms,
		       const char **usb_name)
{
	int r = rec.real->control(h, rt, req, value, index, data, length, timeout_ms, usb_name);

	put(outcome_of(r));
	if (r < 0 || !(rt & 0x80))
		return r;
	if ((rt & 0x60) == 0 && req == USB_REQ_GET_DESCRIPTOR && value >> 8 == USB_DT_STRING)
		put_string(data, r);
	else
		put_in_reply(req, data, r);
	return r;
}

static int rec_claim(struct dfu_handle *h, uint8_t interface, const char **usb_name)
{
	int r = rec.real->claim(h, interface, usb_name);

	put(outcome_of(r));
	return r;
}

static int rec_set_alt(struct dfu_handle *h, uint8_t interface, uint8_t alt, const char **usb_name)
{
	/* one outcome byte: the sim sends the request without its control op */
	int r = rec.real->set_alt(h, interface, alt, usb_name);

	put(outcome_of(r));
	return r;
}

static int rec_reset(struct dfu_handle *h, const char **usb_name)
{
	int r = rec.real->reset(h, usb_name);

	put(outcome_of(r));
	return r;
}

static void rec_close(struct dfu_handle *h)
{
	h->ops = rec.real;
	rec.real->close(h);
}

static const struct dfu_handle_ops rec_ops = {
	.control = rec_control,
	.claim = rec_claim,
	.set_alt = rec_set_alt,
	.reset = rec_reset,
	.close = rec_close,
};

static int rec_enumerate(void *ctx, struct dfu_usb_device **out, size_t *n, struct dfu_error *e)
{
	int r = rec.sim.ops->enumerate(ctx, out, n, e);

	if (++rec.enumerations > 1)
		put(r == 0 && *n > 0);
	return r;
}

static int rec_open(void *ctx, const struct dfu_usb_device *dev, struct dfu_handle **out,
		    struct dfu_error *e)
{
	int r = rec.sim.ops->open(ctx, dev, out, e);

	if (r == 0) {
		rec.real = (*out)->ops;
		(*out)->ops = &rec_ops;
	}
	return r;
}

static void rec_free(void *ctx)
{
	rec.sim.ops->free(ctx);
}

static const struct dfu_backend_ops rec_backend_ops = {
	.enumerate = rec_enumerate,
	.open = rec_open,
	.free = rec_free,
};

/* The device header of the input, from the first listing of the sim. */
static int put_device(struct dfu_backend *sim)
{
	struct dfu_usb_device *list = NULL;
	size_t n = 0;
	const struct dfu_usb_device *u;
	uint8_t shape;

	if (sim->ops->enumerate(sim->ctx, &list, &n, NULL) < 0 || n == 0) {
		free(list);
		return -1;
	}
	u = &list[0];
	shape = (uint8_t)((u->n_alts > 4 ? 4 : u->n_alts) - 1);
	if (u->alts[0].protocol == 1)
		shape |= FUZZ_SHAPE_RUNTIME;
	if (u->i_serial)
		shape |= FUZZ_SHAPE_SERIAL;
	put(shape);
	put_word(u->vid);
	put_word(u->pid);
	put_word(u->bcd_device);
	for (size_t i = 0; i < (size_t)(shape & FUZZ_SHAPE_ALTS) + 1; i++) {
		const struct dfu_func_desc *f = &u->alts[i].func;

		put(9);
		put(9);
		put(USB_DT_DFU_FUNCTIONAL);
		put(f->attributes);
		put_word(f->detach_timeout_ms);
		put_word(f->transfer_size);
		put_word(f->bcd_dfu);
	}
	free(list);
	return 0;
}

/* Bring a run-time device into DFU mode without recording it. */
static void detach_first(struct dfu_ctx *ctx)
{
	struct dfu_if_info *list = NULL;
	struct dfu_dev *rt = NULL;
	struct dfu_match m;
	size_t n = 0;

	dfu_match_init(&m);
	if (dfu_list(ctx, &m, &list, &n, NULL) == 0 && n && !list[0].dfu_mode &&
	    dfu_dev_open(ctx, &list[0], &rt, NULL) == 0) {
		dfu_dev_detach(rt, NULL);
		dfu_dev_close(rt);
	}
	dfu_if_info_free(list, n);
}

static int record(const char *dir, const char *name, const char *profile, const char *faults,
		  uint8_t what, uint8_t size_code)
{
	struct dfu_vclock vc = { .now_us = 1000000 };
	struct sim_options so = { .time_scale = 1.0,
				  .faults = faults,
				  .clock = { dfu_vclock_now_us, &vc } };
	struct sim_device *sim = NULL;
	struct dfu_backend be;
	struct dfu_ctx *ctx = NULL;
	char path[4096];
	FILE *f;

	if (sim_device_new(profile, &so, &sim) < 0 ||
	    dfu_backend_sim_new(&vc, &sim, 1, &rec.sim, NULL) < 0)
		return -1;
	be = (struct dfu_backend){ &rec_backend_ops, rec.sim.ctx, rec.sim.clock };
	if (dfu_ctx_new(&be, &ctx) < 0)
		return -1;
	detach_first(ctx);
	vc.now_us += 5000000; /* let a detached device enumerate in DFU mode */
	rec.len = 0;
	rec.enumerations = 0;
	put(what);
	put(size_code);
	if (put_device(&rec.sim) < 0)
		return -1;
	fuzz_run_first_dfu_alt(ctx, what, size_code);
	dfu_ctx_free(ctx);
	sim_device_free(sim);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(rec.buf, 1, rec.len, f) != rec.len || fclose(f) != 0) {
		fprintf(stderr, "record-device-seeds: %s: %s\n", path, strerror(errno));
		return -1;
	}
	printf("%s: %zu bytes\n", path, rec.len);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name, *profile, *faults;
		uint8_t what, size_code;
	} seeds[] = {
		{ "f405-download", "stm32f405", "zero-poll-timeout", 0, 60 },
		{ "f405-download-leave", "stm32f405", "zero-poll-timeout", 3, 20 },
		{ "f405-upload", "stm32f405", "zero-poll-timeout", 1, 100 },
		{ "f405-verify-mass-erase", "stm32f405", "zero-poll-timeout",
		  FUZZ_WHAT_VERIFY | FUZZ_WHAT_MASS_ERASE, 30 },
		{ "f405-start-in-error", "stm32f405", "zero-poll-timeout,start-in-error=10", 0,
		  10 },
		{ "f405-stalls", "stm32f405", "zero-poll-timeout,stall-on-request=GETSTATUS:3", 0,
		  10 },
		{ "u5-download", "stm32u5", "zero-poll-timeout", 0, 40 },
		{ "gd32-leave", "gd32vf103", "zero-poll-timeout", 2, 10 },
		{ "photon-download", "particle-photon", "zero-poll-timeout", 0, 40 },
		{ "generic-download", "generic", "zero-poll-timeout", 0, 100 },
		{ "generic-upload", "generic", "zero-poll-timeout", 1, 100 },
		{ "generic-leave", "generic-intolerant", "zero-poll-timeout", 3, 10 },
	};
	int fails = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: record-device-seeds DIR\n");
		return 64;
	}
	for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++)
		if (record(argv[1], seeds[i].name, seeds[i].profile, seeds[i].faults, seeds[i].what,
			   seeds[i].size_code) < 0) {
			fprintf(stderr, "record-device-seeds: %s failed\n", seeds[i].name);
			fails++;
		}
	return fails ? 1 : 0;
}
