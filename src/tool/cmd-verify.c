// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * `dfuflash verify FILE`: read back every segment of a file and compare it
 * with the device; writes nothing.
 */
#include "config.h"

#include "device-run.h"
#include "macro.h"
#include "tool.h"

/*
 * *k: the alt to read segment @s of @img from.  The first segment of each
 * alt tag picks by the file's addresses (and places a raw binary, which has
 * none, in the memory map); the segments after it by their address.
 */
static int segment_alt(struct tool_run *r, struct dfu_if_info *list, size_t n,
		       struct dfu_image *img, size_t s, int *k)
{
	const struct dfu_segment *seg = &img->segments[s];
	struct tool_alt_want want = { .alt = seg->alt == DFU_ALT_NONE ? -1 : seg->alt,
				      .have_address = img->address_from_file,
				      .address = seg->address };

	if (s > 0 && seg->alt == img->segments[s - 1].alt) {
		want.have_address = true;
		*k = tool_run_pick_alt(r, list, n, &want);
		return 0;
	}
	*k = tool_run_pick_alt(r, list, n, &want);
	if (*k < 0) {
		tool_err("%s: no DFU-mode alt %d to verify against", r->o->download_path, seg->alt);
		return TOOL_EXIT_DATAERR;
	}
	if (s == 0)
		return tool_run_place_raw(r, img, &list[*k]);
	return 0;
}

/* Count the bytes of @seg that @back does not hold in r->res. */
static void compare_segment(struct tool_run *r, const struct dfu_segment *seg,
			    const struct dfu_image *back)
{
	for (size_t i = 0; i < seg->length; i++) {
		uint8_t b;

		if (dfu_image_read(back, DFU_ALT_NONE, seg->address + (uint32_t)i, &b, 1, 0) == 1 &&
		    b == seg->data[i])
			continue;
		if (!r->res.mismatch) {
			r->res.mismatch = true;
			r->res.mismatch_address = seg->address + (uint32_t)i;
		}
		r->res.mismatch_count++;
	}
}

/* Read segment @s of @img back from the device and compare. */
static int verify_segment(struct tool_run *r, struct dfu_if_info *list, size_t n,
			  struct dfu_image *img, size_t s)
{
	_cleanup_(dfu_dev_closep) struct dfu_dev *dev = NULL;
	_cleanup_(dfu_image_freep) struct dfu_image *back = NULL;
	const struct dfu_segment *seg = &img->segments[s];
	struct dfu_flash_opts fo = r->o->flash;
	struct dfu_flash_result one = { 0 };
	struct dfu_error e = { 0 };
	int k, ret;

	ret = segment_alt(r, list, n, img, s, &k);
	if (ret)
		return ret;
	ret = tool_run_open_alt(r, &list[k], &dev);
	if (ret)
		return ret;
	fo.have_address = true;
	fo.address = seg->address;
	fo.have_length = true;
	fo.length = (uint32_t)seg->length;
	ret = tool_run_upload(r, &list[k], &dev, &fo, &back, &one, &e);
	r->res.bytes_read += one.bytes_read;
	r->have_res = true;
	if (ret < 0)
		return tool_run_fail(r, ret, &e);
	compare_segment(r, seg, back);
	return 0;
}

/* Read back every segment of the file and compare; writes nothing. */
int cmd_verify(struct tool_run *r, struct dfu_if_info *list, size_t n)
{
	_cleanup_(dfu_image_freep) struct dfu_image *img = NULL;
	int ret;

	ret = tool_run_load_input(r, &img);
	if (ret)
		return ret;
	for (size_t s = 0; s < img->n_segments; s++) {
		ret = verify_segment(r, list, n, img, s);
		if (ret)
			return ret;
	}
	if (r->res.mismatch) {
		tool_err("%s: verify failed: %llu byte%s differ, the first at 0x%08x", r->object,
			 (unsigned long long)r->res.mismatch_count,
			 r->res.mismatch_count == 1 ? "" : "s", r->res.mismatch_address);
		return TOOL_EXIT_VERIFY;
	}
	r->res.verified = true;
	tool_msg(r->tool, "%s: %llu bytes verified: the device holds %s", r->object,
		 (unsigned long long)r->res.bytes_read, r->o->download_path);
	return 0;
}
