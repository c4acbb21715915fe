// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The public operations dfu_dev_download, dfu_dev_upload and dfu_dev_leave:
 * checks common to both protocols, then dispatch to DfuSe (dfuse.c) or plain
 * DFU (plain.c).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "proto.h"

/*
 * DfuSe by bcdDFU 0x011a (dev->dfuse), or a DFU 1.0 descriptor without
 * bcdDFU (7 bytes: Particle bootloaders, which dfu-util also needs -s for)
 * whose interface string is a DfuSe layout, or a layout and an explicit
 * address (dfu-util takes -s as "DfuSe").
 */
static bool use_dfuse(const struct dfu_dev *dev, const struct dfu_flash_opts *opts)
{
	if (dev->dfuse)
		return true;
	if (!dev->info.layout)
		return false;
	return dev->info.bcd_dfu < 0x0110 || opts->have_address;
}

static int check_dev(struct dfu_dev *dev, const char *fn, struct dfu_error *e)
{
	if (!dev || !dev->h || !dev->ctx)
		return dfu_error_set(e, DFU_E_INVAL, "dfu.inval", NULL, "%s: no open device", fn);
	return 0;
}

/* A DfuSe command is 5 bytes (0x21 Set Address and 0x41 Erase, UM0424). */
#define DFUSE_COMMAND_LEN 5

/*
 * A DfuSe device announcing a wTransferSize below one command cannot take
 * Set Address or Erase: a protocol error of the device, not the caller's,
 * refused before the first request so nothing is erased.  -t overrides the
 * descriptor (the user knows the device's buffer is larger).
 */
static int check_dfuse_command_fits(struct dfu_dev *dev, const struct dfu_flash_opts *opts,
				    struct dfu_error *e)
{
	if (!use_dfuse(dev, opts) || opts->transfer_size || dev->transfer_size == 0 ||
	    dev->transfer_size >= DFUSE_COMMAND_LEN)
		return 0;
	dfu_error_set(e, DFU_E_PROTOCOL, "dfu.transfer_size", NULL,
		      "the device announces wTransferSize %u, too small for a %d-byte DfuSe "
		      "command (Set Address, Erase): nothing was done",
		      dev->transfer_size, DFUSE_COMMAND_LEN);
	dfu_error_hint(e, "the device's DFU functional descriptor is wrong; if it accepts "
			  "larger transfers, give the size with -t (e.g. -t 2048)");
	return DFU_E_PROTOCOL;
}

/* No wTransferSize, or an absurd one (0xFFFF): refused before anything is erased. */
static int transfer_size_refusal(struct dfu_dev *dev, const struct dfu_flash_opts *opts,
				 struct dfu_error *e)
{
	int r = check_dfuse_command_fits(dev, opts, e);

	if (r < 0)
		return r;
	if (opts && opts->transfer_size)
		return 0;
	if (dev->transfer_size == 0)
		return dfu_error_no_transfer_size(e);
	if (dev->transfer_size <= DFU_TRANSFER_SIZE_MAX)
		return 0;
	dfu_error_set(e, DFU_E_PROTOCOL, "dfu.transfer_size", NULL,
		      "the device announces wTransferSize %u, more than a control transfer "
		      "carries (at most %u): nothing was done",
		      dev->transfer_size, DFU_TRANSFER_SIZE_MAX);
	dfu_error_hint(e, "the device's DFU functional descriptor is wrong; give its real "
			  "transfer size with -t (e.g. -t 2048)");
	return DFU_E_PROTOCOL;
}

/* The device's descriptor cannot be worked with: running the same command
 * again does not help (the hint says what does). */
static int check_transfer_size(struct dfu_dev *dev, const struct dfu_flash_opts *opts,
			       struct dfu_error *e)
{
	int r = transfer_size_refusal(dev, opts, e);

	if (r < 0 && e)
		snprintf(e->detail, sizeof(e->detail),
			 "nothing was erased or written: the flash is unchanged");
	return r;
}

/*
 * What a download and an upload start with: a result to fill (cleared; the
 * caller's, or @dummy), options (NULL: the defaults) and an open device.
 */
static int op_start(struct dfu_dev *dev, const char *fn, struct dfu_flash_result **res,
		    struct dfu_flash_result *dummy, const struct dfu_flash_opts **opts,
		    struct dfu_error *e)
{
	static const struct dfu_flash_opts none = { 0 };

	if (!*res)
		*res = dummy;
	memset(*res, 0, sizeof(**res));
	if (!*opts)
		*opts = &none;
	return check_dev(dev, fn, e);
}

int dfu_dev_download(struct dfu_dev *dev, const struct dfu_image *img,
		     const struct dfu_flash_opts *opts, struct dfu_flash_result *res,
		     struct dfu_error *e)
{
	struct dfu_flash_result dummy;
	struct dfu_run run;
	uint64_t t0;
	int r;

	r = op_start(dev, "dfu_dev_download", &res, &dummy, &opts, e);
	if (r < 0)
		return r;
	if (!img)
		return dfu_error_set(e, DFU_E_INVAL, "dfu.inval", NULL,
				     "dfu_dev_download: no image");
	r = check_transfer_size(dev, opts, e);
	if (r < 0) {
		dfu_facts_describe_untouched(r, e);
		return r;
	}
	t0 = dfu_now_ms(dev->ctx);
	dfu_run_begin(dev, &run, res);
	dfu_facts_begin(dev, img, use_dfuse(dev, opts));
	r = use_dfuse(dev, opts) ? dfuse_download(dev, img, opts, res, e)
				 : dfu_plain_download(dev, img, opts, res, e);
	res->elapsed_ms = dfu_now_ms(dev->ctx) - t0;
	if (r < 0)
		dfu_facts_describe(dev, r, e);
	dfu_run_end(dev, &run);
	return r;
}

/* Plain DFU 1.1 sends the image from block 0 as one stream: one write, no
 * sectors (the device erases as it sees fit, DFU 1.1 section 7). */
static int plain_plan(const struct dfu_image *img, const struct dfu_flash_opts *opts,
		      struct dfu_plan *out, struct dfu_error *e)
{
	uint64_t bytes = 0;

	for (size_t i = 0; i < img->n_segments; i++)
		bytes += img->segments[i].length;
	out->writes = calloc(1, sizeof(*out->writes));
	if (!out->writes)
		return dfu_error_set(e, DFU_E_NOMEM, "dfu.nomem", NULL, "out of memory");
	out->writes[0].length = (uint32_t)MIN(bytes, (uint64_t)UINT32_MAX);
	out->n_writes = 1;
	out->bytes = bytes;
	out->leave = opts->leave;
	return 0;
}

int dfu_dev_plan(struct dfu_dev *dev, const struct dfu_image *img,
		 const struct dfu_flash_opts *opts, struct dfu_plan **out, struct dfu_error *e)
{
	struct dfu_flash_result dummy, *res = NULL;
	struct dfu_plan *p;
	int r;

	if (!out)
		return dfu_error_set(e, DFU_E_INVAL, "dfu.inval", NULL, "dfu_dev_plan: no output");
	*out = NULL;
	r = op_start(dev, "dfu_dev_plan", &res, &dummy, &opts, e);
	if (r < 0)
		return r;
	if (!img)
		return dfu_error_set(e, DFU_E_INVAL, "dfu.inval", NULL, "dfu_dev_plan: no image");
	r = check_transfer_size(dev, opts, e);
	if (r < 0)
		return r;
	p = calloc(1, sizeof(*p));
	if (!p)
		return dfu_error_set(e, DFU_E_NOMEM, "dfu.nomem", NULL, "out of memory");
	r = use_dfuse(dev, opts) ? dfuse_plan(dev, img, opts, p, e) : plain_plan(img, opts, p, e);
	if (r < 0) {
		dfu_plan_free(p);
		return r;
	}
	*out = p;
	return 0;
}

void dfu_plan_free(struct dfu_plan *p)
{
	if (!p)
		return;
	free(p->sectors);
	free(p->writes);
	free(p);
}

int dfu_dev_upload(struct dfu_dev *dev, const struct dfu_flash_opts *opts, struct dfu_image **out,
		   struct dfu_flash_result *res, struct dfu_error *e)
{
	struct dfu_flash_result dummy;
	struct dfu_run run;
	uint64_t t0;
	int r;

	r = op_start(dev, "dfu_dev_upload", &res, &dummy, &opts, e);
	if (r < 0)
		return r;
	if (!out)
		return dfu_error_set(e, DFU_E_INVAL, "dfu.inval", NULL,
				     "dfu_dev_upload: no output");
	*out = NULL;
	r = check_transfer_size(dev, opts, e);
	if (r < 0) {
		dfu_facts_describe_untouched(r, e);
		return r;
	}
	t0 = dfu_now_ms(dev->ctx);
	dfu_run_begin(dev, &run, res);
	r = use_dfuse(dev, opts) ? dfuse_upload(dev, opts, out, res, e)
				 : dfu_plain_upload(dev, opts, out, res, e);
	if (r < 0)
		dfu_facts_describe_read(r, e);
	dfu_run_end(dev, &run);
	res->elapsed_ms = dfu_now_ms(dev->ctx) - t0;
	return r;
}

int dfu_dev_leave(struct dfu_dev *dev, const struct dfu_image *img,
		  const struct dfu_flash_opts *opts, struct dfu_flash_result *res,
		  struct dfu_error *e)
{
	static const struct dfu_flash_opts none = { 0 };
	struct dfu_flash_result dummy = { 0 };
	struct dfu_run run;
	int r;

	if (!res)
		res = &dummy;
	r = check_dev(dev, "dfu_dev_leave", e);
	if (r < 0)
		return r;
	if (!opts)
		opts = &none;
	r = check_dfuse_command_fits(dev, opts, e);
	if (r < 0) {
		dfu_facts_describe_untouched(r, e);
		return r;
	}
	dfu_run_begin(dev, &run, res);
	r = use_dfuse(dev, opts) ? dfuse_leave(dev, img, opts, res, e)
				 : dfu_plain_leave(dev, res, e);
	dfu_run_end(dev, &run);
	return r;
}
