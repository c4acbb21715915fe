// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * `dfuflash list`, dfu-util's -l: the matching DFU interfaces, one line each
 * (dfu-util's format) or as a JSON array; -l in dfu-util's order.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "device-run.h"
#include "tool.h"

/* "1-10.2" after "1-9": compare port paths number by number */
static int path_cmp(const char *a, const char *b)
{
	while (*a && *b) {
		if (*a >= '0' && *a <= '9' && *b >= '0' && *b <= '9') {
			unsigned long x = strtoul(a, (char **)&a, 10),
				      y = strtoul(b, (char **)&b, 10);

			if (x != y)
				return x < y ? -1 : 1;
			continue;
		}
		if (*a != *b)
			return (unsigned char)*a < (unsigned char)*b ? -1 : 1;
		a++;
		b++;
	}
	return *a ? 1 : *b ? -1 : 0;
}

/* Listing order: by port (bus, then path), then interface and alt, so the
 * same devices always list the same way whatever libusb's order. */
static int if_info_cmp(const void *pa, const void *pb)
{
	const struct dfu_if_info *a = pa, *b = pb;
	int c = path_cmp(a->path, b->path);

	if (c)
		return c;
	if (a->interface != b->interface)
		return a->interface < b->interface ? -1 : 1;
	return a->alt < b->alt ? -1 : a->alt > b->alt;
}

/* dfu-util 0.11 prepends each alt to its list as it probes, so a device's
 * interfaces and alts come out last first; devices stay in bus order. */
static int if_info_cmp_dfu_util(const void *pa, const void *pb)
{
	const struct dfu_if_info *a = pa, *b = pb;
	int c = path_cmp(a->path, b->path);

	return c ? c : -if_info_cmp(pa, pb);
}

/* The DfuSe memory map of one alt, or null. */
static void json_layout(struct json_out *j, const struct dfuse_layout *l)
{
	if (!l) {
		json_null(j, "dfuse_layout");
		return;
	}
	json_obj_open(j, "dfuse_layout");
	json_str(j, "name", l->name);
	json_arr_open(j, "segments");
	for (size_t s = 0; s < l->n_segments; s++) {
		const struct dfuse_layout_segment *g = &l->segments[s];

		json_obj_open(j, NULL);
		json_uint(j, "start", g->start);
		json_uint(j, "page_size", g->size);
		json_uint(j, "count", g->count);
		json_bool(j, "readable", g->attr & DFUSE_ATTR_READABLE);
		json_bool(j, "erasable", g->attr & DFUSE_ATTR_ERASABLE);
		json_bool(j, "writable", g->attr & DFUSE_ATTR_WRITABLE);
		json_obj_close(j);
	}
	json_arr_close(j);
	json_obj_close(j);
}

/* One interface (alt setting) as a JSON object. */
static void json_interface(struct json_out *j, const struct dfu_if_info *f)
{
	json_obj_open(j, NULL);
	json_uint(j, "vid", f->vid);
	json_uint(j, "pid", f->pid);
	json_uint(j, "bcdDevice", f->bcd_device);
	json_uint(j, "busnum", f->bus);
	json_uint(j, "devnum", f->devnum);
	json_str(j, "path", f->path);
	json_str(j, "serial", f->serial);
	json_str(j, "manufacturer", f->manufacturer);
	json_str(j, "product", f->product);
	json_str(j, "strings", f->strings_state);
	json_str(j, "mode", f->dfu_mode ? "dfu" : "runtime");
	json_uint(j, "configuration", f->config);
	json_uint(j, "interface", f->interface);
	json_uint(j, "alt", f->alt);
	json_str(j, "alt_name", f->name);
	json_uint(j, "dfu_version", f->bcd_dfu);
	json_obj_open(j, "attributes");
	json_bool(j, "can_download", f->attributes & DFU_ATTR_CAN_DNLOAD);
	json_bool(j, "can_upload", f->attributes & DFU_ATTR_CAN_UPLOAD);
	json_bool(j, "manifestation_tolerant", f->attributes & DFU_ATTR_MANIFEST_TOLERANT);
	json_bool(j, "will_detach", f->attributes & DFU_ATTR_WILL_DETACH);
	json_obj_close(j);
	json_uint(j, "detach_timeout_ms", f->detach_timeout_ms);
	json_uint(j, "transfer_size", f->transfer_size);
	json_layout(j, f->layout);
	if (f->open_err)
		json_str(j, "error", f->open_error);
	else
		json_null(j, "error");
	json_obj_close(j);
}

/* --json: one object on stdout, its "interfaces" every alt setting found. */
static void list_json(const struct dfu_if_info *list, size_t n)
{
	struct json_out j;

	json_begin(&j, stdout);
	json_obj_open(&j, NULL);
	json_uint(&j, "schema", TOOL_JSON_SCHEMA);
	json_arr_open(&j, "interfaces");
	for (size_t i = 0; i < n; i++)
		json_interface(&j, &list[i]);
	json_arr_close(&j);
	json_obj_close(&j);
	json_end(&j);
}

/* -v: the memory map under the line of its alt. */
static void print_layout(const struct dfuse_layout *l)
{
	for (size_t s = 0; s < l->n_segments; s++) {
		const struct dfuse_layout_segment *g = &l->segments[s];

		printf("    0x%08x..0x%08llx %4u x %7u bytes %c%c%c\n", g->start,
		       (unsigned long long)g->end - 1, g->count, g->size,
		       g->attr & DFUSE_ATTR_READABLE ? 'r' : '-',
		       g->attr & DFUSE_ATTR_ERASABLE ? 'e' : '-',
		       g->attr & DFUSE_ATTR_WRITABLE ? 'w' : '-');
	}
}

/* dfu-util's lines ("Found DFU: [0483:df11] ..."), with -v the memory map
 * and unreadable strings below each. */
static void list_text(const struct tool_run *r, const struct dfu_if_info *list, size_t n)
{
	char line[1024];

	for (size_t i = 0; i < n; i++) {
		const struct dfu_if_info *f = &list[i];

		dfu_if_info_format_line(f, line, sizeof(line));
		puts(line);
		if (f->open_err)
			fprintf(stderr, "dfuflash: %04x:%04x at %s: %s\n", f->vid, f->pid, f->path,
				f->open_error);
		if (r->o->verbose && f->layout)
			print_layout(f->layout);
		if (r->o->verbose && f->strings_state && strcmp(f->strings_state, "ok") != 0)
			printf("    strings: %s\n", f->strings_state);
	}
}

int cmd_list(struct tool_run *r)
{
	struct dfu_if_info *list = NULL;
	struct dfu_error e = { 0 };
	size_t n = 0;
	int ret;

	if (r->o->wait)
		ret = dfu_wait_for(r->ctx, &r->o->match, NULL, r->o->wait_s * 1000u, &list, &n, &e);
	else
		ret = dfu_list(r->ctx, &r->o->match, &list, &n, &e);
	if (ret < 0 && ret != DFU_E_NODEVICE)
		return tool_run_fail(r, ret, &e);
	/* -l in dfu-util's order: scripts take its first or last line */
	if (n > 1)
		qsort(list, n, sizeof(*list),
		      r->o->compat && !r->o->json ? if_info_cmp_dfu_util : if_info_cmp);
	if (r->o->json)
		list_json(list, n);
	else
		list_text(r, list, n);
	dfu_if_info_free(list, n);
	return 0;
}
