/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The input format of fuzz-device and the host's side of a run, shared with
 * record-device-seeds (which writes inputs that replay a real device).
 *
 * Input: byte WHAT (bits 0-1: download, upload, leave, download then leave;
 * bit 2 --verify, bit 3 mass erase, bit 4 -t 64), byte SIZE (image or read
 * length), then the device: byte SHAPE (bits 0-1: alts - 1, bit 4: one
 * interface per alt, bit 5: alt numbers from the input, bit 6: run-time
 * protocol, bit 7: has a serial), words VID PID BCD, per alt: byte FD_LEN
 * (0-9, functional descriptor length), [byte ALT], FD_LEN bytes.
 * Then, in the order the engine asks, per control transfer: byte OUTCOME (low
 * nibble 1 PIPE, 2 TIMEOUT, 3 IO, 4 OVERFLOW, 5 NO_DEVICE, else success; high
 * nibble: milliseconds it takes) and for a successful IN transfer its reply:
 * string descriptor: byte LEN (< 128: LEN raw bytes; else LEN & 127
 * characters of text made into a UTF-16LE descriptor); GET_STATUS, GET_STATE:
 * byte N (% 8) and N bytes; UPLOAD: word N, byte FILL, up to 16 bytes (the
 * rest is FILL).  Claim, SET_INTERFACE and reset: byte OUTCOME.  Every
 * listing after the first: byte PRESENT (bit 0).
 */
#pragma once

#include "engine.h"

#define FUZZ_WHAT_OP 0x03
#define FUZZ_WHAT_VERIFY 0x04
#define FUZZ_WHAT_MASS_ERASE 0x08
#define FUZZ_WHAT_TSIZE_64 0x10

#define FUZZ_SHAPE_ALTS 0x03
#define FUZZ_SHAPE_INTERFACES 0x10
#define FUZZ_SHAPE_ALT_NUMBERS 0x20
#define FUZZ_SHAPE_RUNTIME 0x40
#define FUZZ_SHAPE_SERIAL 0x80

enum fuzz_outcome {
	FUZZ_OK = 0,
	FUZZ_PIPE = 1,
	FUZZ_TIMEOUT = 2,
	FUZZ_IO = 3,
	FUZZ_OVERFLOW = 4,
	FUZZ_NODEV = 5,
};

#define FUZZ_STRING_TEXT 0x80
#define FUZZ_UPLOAD_HEAD 16

/* ---- the host's side ---------------------------------------------------------------------- */

static inline struct dfu_image *fuzz_test_image(uint8_t size_code)
{
	static uint8_t data[9000];
	struct dfu_image *img = NULL;
	size_t len = 1 + (size_t)size_code * 35; /* 1 .. 8926 bytes */

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 7 + 1);
	/* a plausible vector table: stack in RAM, Thumb reset handler */
	memcpy(data, "\x00\x40\x00\x20\x01\x02\x00\x08", 8);
	if (dfu_image_new(DFU_FORMAT_IHEX, &img) < 0)
		return NULL;
	img->address_from_file = true;
	if (dfu_image_add(img, DFU_ALT_NONE, 0x08000000, data, len, NULL, NULL, NULL) < 0) {
		dfu_image_free(img);
		return NULL;
	}
	return img;
}

/* The operation WHAT selects on @dev, with the image or length SIZE selects. */
static inline void fuzz_run(struct dfu_dev *dev, uint8_t what, uint8_t size_code)
{
	struct dfu_flash_opts opts = { 0 };
	struct dfu_flash_result res;
	struct dfu_image *img = fuzz_test_image(size_code), *up = NULL;
	struct dfu_error e;

	dfu_error_clear(&e);
	opts.have_address = true;
	opts.address = 0x08000000;
	opts.verify = what & FUZZ_WHAT_VERIFY;
	opts.mass_erase = what & FUZZ_WHAT_MASS_ERASE;
	opts.force = true;
	opts.transfer_size = what & FUZZ_WHAT_TSIZE_64 ? 64 : 0;
	switch (what & FUZZ_WHAT_OP) {
	case 0:
		if (img)
			dfu_dev_download(dev, img, &opts, &res, &e);
		break;
	case 1:
		opts.have_length = true;
		opts.length = 1 + (uint32_t)size_code * 40;
		dfu_dev_upload(dev, &opts, &up, &res, &e);
		dfu_image_free(up);
		break;
	case 2:
		dfu_dev_leave(dev, img, &opts, &res, &e);
		break;
	default:
		opts.leave = true;
		if (img && dfu_dev_download(dev, img, &opts, &res, &e) == 0)
			dfu_dev_leave(dev, img, &opts, &res, &e);
		break;
	}
	dfu_image_free(img);
}

/* List the devices and run the operation on the first DFU-mode alt. */
static inline void fuzz_run_first_dfu_alt(struct dfu_ctx *ctx, uint8_t what, uint8_t size_code)
{
	struct dfu_if_info *list = NULL;
	struct dfu_match m;
	size_t n = 0;

	dfu_match_init(&m);
	if (dfu_list(ctx, &m, &list, &n, NULL) == 0) {
		for (size_t i = 0; i < n; i++) {
			struct dfu_dev *dev = NULL;

			if (!list[i].dfu_mode || dfu_dev_open(ctx, &list[i], &dev, NULL) < 0)
				continue;
			fuzz_run(dev, what, size_code);
			dfu_dev_close(dev);
			break;
		}
	}
	dfu_if_info_free(list, n);
}
