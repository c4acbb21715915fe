// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * `image info FILE --map[=LAYOUT]`: the image's segments drawn against a DfuSe
 * memory layout, one line per sector the image touches (a bar of what it
 * fills) and one per run of untouched sectors; data outside the layout is
 * listed after it.  The layout is a DfuSe string, or that of the DFU device
 * connected (the alt whose map holds the image).
 */
#include "config.h"

#include <inttypes.h>
#include <string.h>

#include "image-map.h"
#include "macro.h"

#define BAR_CELLS 32

/* Bytes of @img within [start, end). */
static uint64_t bytes_in(const struct dfu_image *img, uint64_t start, uint64_t end)
{
	uint64_t n = 0;

	for (size_t i = 0; i < img->n_segments; i++) {
		uint64_t a = img->segments[i].address;
		uint64_t b = a + img->segments[i].length;

		if (b > start && a < end)
			n += MIN(b, end) - MAX(a, start);
	}
	return n;
}

static void size_str(char *buf, size_t cap, uint64_t size)
{
	if (size >= 1024 && size % 1024 == 0)
		snprintf(buf, cap, "%" PRIu64 " KiB", size / 1024);
	else
		snprintf(buf, cap, "%" PRIu64 " B", size);
}

/* '#' where a cell of the sector holds image data, '.' where it holds none. */
static void bar(const struct dfu_image *img, uint64_t start, uint32_t size, char out[BAR_CELLS + 1])
{
	for (unsigned c = 0; c < BAR_CELLS; c++) {
		uint64_t a = start + (uint64_t)size * c / BAR_CELLS;
		uint64_t b = start + (uint64_t)size * (c + 1) / BAR_CELLS;

		out[c] = b > a && bytes_in(img, a, b) ? '#' : '.';
	}
	out[BAR_CELLS] = '\0';
}

static void untouched(uint64_t from, uint64_t to, uint32_t count, uint32_t size)
{
	char sz[32];

	size_str(sz, sizeof(sz), size);
	printf("  0x%08" PRIx64 "-0x%08" PRIx64 "  %4" PRIu32 " x %-8s  untouched\n", from, to - 1,
	       count, sz);
}

static void segment_map(const struct dfu_image *img, const struct dfuse_layout_segment *s,
			size_t *touched)
{
	uint64_t idle_from = 0;
	uint32_t idle = 0;
	char sz[32], cells[BAR_CELLS + 1];

	for (uint32_t k = 0; k < s->count; k++) {
		uint64_t a = s->start + (uint64_t)k * s->size;
		uint64_t n = bytes_in(img, a, a + s->size);

		if (!n) {
			if (!idle++)
				idle_from = a;
			continue;
		}
		if (idle)
			untouched(idle_from, a, idle, s->size);
		idle = 0;
		(*touched)++;
		size_str(sz, sizeof(sz), s->size);
		bar(img, a, s->size, cells);
		printf("* 0x%08" PRIx64 "-0x%08" PRIx64 "  %8s  [%s] %" PRIu64 " bytes\n", a,
		       a + s->size - 1, sz, cells, n);
	}
	if (idle)
		untouched(idle_from, s->end, idle, s->size);
}

/* Image bytes in no segment of @l. */
static size_t outside(const struct dfu_image *img, const struct dfuse_layout *l)
{
	size_t n = 0;

	for (size_t i = 0; i < img->n_segments; i++) {
		const struct dfu_segment *g = &img->segments[i];
		uint64_t end = (uint64_t)g->address + g->length;
		uint64_t in = 0;

		for (size_t k = 0; k < l->n_segments; k++)
			if (l->segments[k].end > g->address && l->segments[k].start < end)
				in += MIN(l->segments[k].end, end) -
				      MAX((uint64_t)l->segments[k].start, (uint64_t)g->address);
		if (in == g->length)
			continue;
		if (!n++)
			printf("outside the memory map:\n");
		printf("! 0x%08" PRIx32 "-0x%08" PRIx64 "  %zu bytes, %" PRIu64
		       " of them in no segment\n",
		       g->address, end - 1, g->length, g->length - in);
	}
	return n;
}

int tool_image_map(const struct dfu_image *img, const struct dfuse_layout *l)
{
	size_t touched = 0;

	printf("memory map of \"%s\" (* = sector the image touches, # = data):\n", l->name);
	for (size_t i = 0; i < l->n_segments; i++)
		segment_map(img, &l->segments[i], &touched);
	printf("  %zu sector(s) touched\n", touched);
	return outside(img, l) ? 1 : 0;
}

/* The DFU-mode alt with a layout, of the one device connected, that holds
 * @low (else the first with a layout); its index, or after the error -1 (no
 * such device) or -2 (several). */
static int device_alt(const struct dfu_if_info *list, size_t n, uint32_t low)
{
	int first = -1;

	for (size_t i = 0; i < n; i++) {
		size_t seg;

		if (!list[i].dfu_mode || !list[i].layout)
			continue;
		if (first >= 0 && list[i].device_index != list[first].device_index) {
			tool_err("image info --map: more than one DFU device is connected");
			tool_hint("give the layout: --map='@Internal Flash /0x08000000/...' (the "
				  "name=\"...\" that `dfuflash list` shows)");
			return -2;
		}
		if (first < 0)
			first = (int)i;
		if (dfuse_layout_find_segment(list[i].layout, low, &seg) == 0)
			return (int)i;
	}
	if (first < 0) {
		tool_err("image info --map: no DFU device with a DfuSe memory layout found");
		tool_hint("connect the board in DFU mode, or give the layout string with --map=");
	}
	return first;
}

static int layout_from_device(const struct dfu_image *img, struct dfuse_layout **out)
{
	_cleanup_(dfu_ctx_freep) struct dfu_ctx *ctx = NULL;
	struct dfu_if_info *list = NULL;
	struct dfu_error e = { 0 };
	uint32_t low = 0;
	uint64_t high;
	size_t n = 0;
	int k, ret;

	ret = dfu_ctx_new_usb(&ctx, &e);
	if (ret < 0) {
		tool_report("libusb", &e);
		return tool_exit_for(ret);
	}
	ret = dfu_list(ctx, NULL, &list, &n, &e);
	if (ret < 0 && ret != DFU_E_NODEVICE) {
		tool_report("image info --map", &e);
		return tool_exit_for(ret);
	}
	(void)dfu_image_span(img, &low, &high);
	k = device_alt(list, n, low);
	ret = k == -2 ? TOOL_EXIT_USAGE : k < 0 ? TOOL_EXIT_NODEVICE : 0;
	if (k >= 0) {
		fprintf(stderr,
			"dfuflash: image info --map: the layout of %04x:%04x at %s, alt %u\n",
			list[k].vid, list[k].pid, list[k].path, list[k].alt);
		ret = dfuse_layout_parse(list[k].name, strlen(list[k].name), out, &e);
		if (ret < 0) {
			tool_report(list[k].path, &e);
			ret = tool_exit_for(ret);
		}
	}
	dfu_if_info_free(list, n);
	return ret;
}

int tool_image_map_layout(const char *str, const struct dfu_image *img, struct dfuse_layout **out)
{
	struct dfu_error e = { 0 };
	int ret;

	if (!str)
		return layout_from_device(img, out);
	ret = dfuse_layout_parse(str, strlen(str), out, &e);
	if (ret < 0) {
		tool_report("--map", &e);
		return tool_exit_for(ret);
	}
	return 0;
}
