// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * --dry-run of the commands that write (flash, erase, leave): the device is
 * opened and the engine plans the operation with every check it would make,
 * then the plan is printed (text, or one "plan" event with --json) and
 * nothing is sent that changes the device.
 */
#include "config.h"

#include <inttypes.h>
#include <string.h>

#include "device-run.h"
#include "macro.h"
#include "tool.h"

static const char *action_name(enum dfu_plan_action a)
{
	return a == DFU_PLAN_SKIP ? "skip" : "erase";
}

static size_t count_action(const struct dfu_plan *p, enum dfu_plan_action a)
{
	size_t n = 0;

	for (size_t i = 0; i < p->n_sectors; i++)
		n += p->sectors[i].action == a;
	return n;
}

static void plan_json(struct tool_run *r, const struct dfu_if_info *info, const struct dfu_plan *p)
{
	struct json_out j;

	json_begin(&j, stdout);
	json_obj_open(&j, NULL);
	json_str(&j, "event", "plan");
	json_uint(&j, "schema", 1);
	json_str(&j, "device", r->object);
	json_str(&j, "path", info->path);
	json_str(&j, "serial", info->serial);
	json_uint(&j, "alt", info->alt);
	json_bool(&j, "mass_erase", p->mass_erase);
	json_bool(&j, "mass_erase_checked", p->mass_erase_checked);
	json_arr_open(&j, "sectors");
	for (size_t i = 0; i < p->n_sectors; i++) {
		json_obj_open(&j, NULL);
		json_uint(&j, "start", p->sectors[i].start);
		json_uint(&j, "size", p->sectors[i].size);
		json_str(&j, "action", action_name(p->sectors[i].action));
		json_obj_close(&j);
	}
	json_arr_close(&j);
	json_arr_open(&j, "writes");
	for (size_t i = 0; i < p->n_writes; i++) {
		json_obj_open(&j, NULL);
		json_uint(&j, "address", p->writes[i].address);
		json_uint(&j, "length", p->writes[i].length);
		json_bool(&j, "vector_table", p->writes[i].vector_table);
		json_obj_close(&j);
	}
	json_arr_close(&j);
	json_uint(&j, "bytes", p->bytes);
	json_bool(&j, "leave", p->leave);
	if (p->have_jump)
		json_uint(&j, "jump_address", p->jump);
	json_obj_close(&j);
	json_end(&j);
}

static void print_size(char *buf, size_t cap, uint32_t size)
{
	if (size % 1024 == 0)
		snprintf(buf, cap, "%" PRIu32 " KiB", size / 1024);
	else
		snprintf(buf, cap, "%" PRIu32 " bytes", size);
}

static void plan_text(struct tool_run *r, const struct dfu_if_info *info, const struct dfu_plan *p)
{
	char sz[32];

	printf("%s: dry run of alt %u (\"%s\"): nothing is written\n", r->object, info->alt,
	       info->layout ? info->layout->name : info->name);
	if (p->mass_erase_checked)
		printf("  mass-erase  the whole flash, for the %zu sector erases below (the image "
		       "covers and changes every sector); should a sector not read blank "
		       "then, they are erased one by one\n",
		       count_action(p, DFU_PLAN_ERASE));
	else if (p->mass_erase)
		printf("  mass-erase  the whole flash\n");
	for (size_t i = 0; i < p->n_sectors; i++) {
		const struct dfu_plan_sector *s = &p->sectors[i];

		print_size(sz, sizeof(sz), s->size);
		printf("  %-10s  0x%08" PRIx32 "-0x%08" PRIx32 "  %s\n", action_name(s->action),
		       s->start, (uint32_t)(s->start + s->size - 1), sz);
	}
	for (size_t i = 0; i < p->n_writes; i++) {
		const struct dfu_plan_write *w = &p->writes[i];

		if (!p->dfuse)
			printf("  write       %" PRIu32 " bytes from block 0 (plain DFU 1.1)\n",
			       w->length);
		else
			printf("  write       0x%08" PRIx32 "-0x%08" PRIx32 "  %" PRIu32
			       " bytes%s\n",
			       w->address, (uint32_t)(w->address + w->length - 1), w->length,
			       w->vector_table ? ", vector-table sector: written last" : "");
	}
	if (p->leave && p->have_jump)
		printf("  leave       jump to 0x%08" PRIx32 "\n", p->jump);
	else if (p->leave)
		printf("  leave       the device starts the firmware itself\n");
	printf("  total       %zu sector(s) to erase, %zu skipped, %" PRIu64 " bytes to write\n",
	       count_action(p, DFU_PLAN_ERASE), count_action(p, DFU_PLAN_SKIP), p->bytes);
}

int tool_plan_flash(struct tool_run *r, struct dfu_dev *dev, const struct dfu_if_info *info,
		    const struct dfu_image *img, const struct dfu_flash_opts *fo)
{
	_cleanup_(dfu_plan_freep) struct dfu_plan *p = NULL;
	struct dfu_error e = { 0 };
	int ret;

	ret = dfu_dev_plan(dev, img, fo, &p, &e);
	if (ret < 0)
		return tool_run_fail(r, ret, &e);
	/* one plan at a time when several boards are planned at once */
	flockfile(stdout);
	if (r->o->json)
		plan_json(r, info, p);
	else
		plan_text(r, info, p);
	fflush(stdout);
	funlockfile(stdout);
	return 0;
}

int tool_plan_leave(struct tool_run *r, const struct dfu_if_info *info)
{
	struct dfu_plan p = { .dfuse = true,
			      .leave = true,
			      .have_jump = r->o->flash.have_jump,
			      .jump = r->o->flash.jump };

	flockfile(stdout);
	if (r->o->json)
		plan_json(r, info, &p);
	else
		plan_text(r, info, &p);
	fflush(stdout);
	funlockfile(stdout);
	return 0;
}
