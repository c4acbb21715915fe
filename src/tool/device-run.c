// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The device commands' shared plumbing: the context with its log, progress
 * and trace callbacks, device and alt selection, what several commands share
 * (loading the input, reading with recovery, confirming the application),
 * the result and the dispatch by mode.  The commands are cmd-*.c.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "cmd-protect.h"
#include "device-run.h"
#include "flash-many.h"
#include "quirk-files.h"
#include "macro.h"
#include "options.h"
#include "tool.h"

/* --- logs and progress --------------------------------------------------- */

static void on_log(void *ud, enum dfu_log_level level, const char *msg)
{
	struct tool_run *r = ud;

	if (r->o->quiet || (int)level > r->o->verbose)
		return;
	if (r->progress_last >= 0 && r->progress_tty) {
		fputc('\n', stderr);
		r->progress_last = -1;
	}
	/* messages quote device strings: escaped, as every message */
	fputs("dfuflash: ", stderr);
	tool_put_escaped(stderr, msg);
	fputc('\n', stderr);
}

/* What the erase and compare phases count: sectors; the others count bytes. */
static const char *progress_unit(const char *phase)
{
	return strcmp(phase, "erase") == 0 || strcmp(phase, "compare") == 0 ? "sectors" : "bytes";
}

static void on_progress(void *ud, const char *phase, uint64_t done, uint64_t total)
{
	struct tool_run *r = ud;
	int pct;

	if (r->tool->progress_off)
		return;
	/* a plain DFU upload does not know its size; -Z gives the expected one */
	if (total == 0 && strcmp(phase, "upload") == 0)
		total = r->o->upload_size;
	if (total && done > total)
		total = done;
	pct = total ? (int)(done * 100 / total) : -1;
	if (pct < 0) {
		if (r->o->json || r->o->quiet || r->o->progress == TOOL_PROGRESS_NONE)
			return;
		/* size unknown: a line per 64 KiB */
		if (done / 65536 == (uint64_t)r->progress_count && done % 65536)
			return;
		r->progress_count = (int)(done / 65536) + 1;
		fprintf(stderr, "%sdfuflash: %s: %llu bytes%s", r->progress_tty ? "\r" : "", phase,
			(unsigned long long)done, r->progress_tty ? "" : "\n");
		return;
	}

	if (r->o->json) {
		/* NDJSON on stdout: one event per phase start, 10 % step and end */
		if (r->progress_phase == phase && pct / 10 == r->progress_last / 10 && done < total)
			return;
		printf("{\"event\":\"%s\",\"schema\":%d,\"done\":%llu,\"total\":%llu}\n", phase,
		       TOOL_JSON_SCHEMA, (unsigned long long)done, (unsigned long long)total);
		fflush(stdout);
		r->progress_phase = phase;
		r->progress_last = pct;
		return;
	}
	if (r->o->quiet || r->o->progress == TOOL_PROGRESS_NONE)
		return;
	if (r->progress_phase != phase || (r->progress_phase && strcmp(r->progress_phase, phase))) {
		if (r->progress_last >= 0 && r->progress_tty)
			fputc('\n', stderr);
		r->progress_phase = phase;
		r->progress_last = -1;
	}
	if (r->progress_tty) {
		int w = 40, fill = pct * w / 100;

		if (pct == r->progress_last)
			return;
		fprintf(stderr, "\r%-8s [%.*s%*s] %3d%% %llu/%llu %s", phase, fill,
			"========================================", w - fill, "", pct,
			(unsigned long long)done, (unsigned long long)total, progress_unit(phase));
		if (done >= total)
			fputc('\n', stderr);
		r->progress_last = done >= total ? -1 : pct;
		fflush(stderr);
		return;
	}
	/* plain: whole lines at 10 % steps, journald-friendly, never '\r' */
	if (r->progress_last >= 0 && pct / 10 == r->progress_last / 10 && done < total)
		return;
	fprintf(stderr, "dfuflash: %s %d%% (%llu of %llu %s)\n", phase, pct,
		(unsigned long long)done, (unsigned long long)total, progress_unit(phase));
	r->progress_last = done >= total ? -1 : pct;
}

/* --trace FILE: written beside FILE and renamed over it at the end; an
 * existing FILE needs --force. */
static int open_trace(struct tool_run *r)
{
	int ret = tool_outfile_open(&r->trace_file, r->o->trace_path,
				    r->o->flash.force ? TOOL_REPLACE_EXISTING : TOOL_KEEP_EXISTING);

	if (ret)
		return ret;
	r->trace = tool_outfile_stream(&r->trace_file);
	if (!r->trace) {
		tool_err("%s: cannot write: %s", r->o->trace_path, strerror(errno));
		tool_outfile_abort(&r->trace_file);
		return TOOL_EXIT_CANTCREAT;
	}
	return 0;
}

/* --trace FILE: one JSON object per control request (JSON lines). */
#define TRACE_DATA_MAX 64

static void on_trace(void *ud, const struct dfu_trace_rec *t)
{
	struct tool_run *r = ud;
	char hex[2 * TRACE_DATA_MAX + 1];
	size_t n = MIN(t->data_len, (size_t)TRACE_DATA_MAX);
	struct timespec ts;
	struct json_out j;

	clock_gettime(CLOCK_REALTIME, &ts);
	for (size_t i = 0; i < n; i++)
		snprintf(hex + 2 * i, 3, "%02x", t->data[i]);
	hex[2 * n] = '\0';
	json_begin(&j, r->trace);
	json_obj_open(&j, NULL);
	json_uint(&j, "schema", TOOL_JSON_SCHEMA);
	json_uint(&j, "time_us", (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u);
	json_uint(&j, "t_us", t->t_us);
	json_uint(&j, "duration_us", t->duration_us);
	json_str(&j, "op", t->op);
	json_str(&j, "request", t->request);
	json_uint(&j, "bmRequestType", t->bm_request_type);
	json_uint(&j, "bRequest", t->b_request);
	json_uint(&j, "wValue", t->w_value);
	json_uint(&j, "wIndex", t->w_index);
	json_uint(&j, "wLength", t->w_length);
	json_uint(&j, "data_len", t->data_len);
	json_str(&j, "data", hex);
	json_bool(&j, "data_cut", t->data_len > n);
	json_int(&j, "result", t->result);
	json_str(&j, "error", t->usb_error);
	json_uint(&j, "attempt", t->attempt);
	if (t->have_state) {
		json_str(&j, "state", dfu_state_name(t->state));
		json_str(&j, "status", dfu_status_name(t->status));
		json_uint(&j, "poll_timeout_ms", t->poll_timeout_ms);
	}
	json_obj_close(&j);
	json_end(&j);
}

/* argv as one shell-quoted line ("dfuflash flash -s 0x08000000 'my fw.bin'"). */
static void format_cmdline(char *out, size_t cap, int argc, char **argv)
{
	size_t len = 0;

	out[0] = '\0';
	for (int i = 0; i < argc && len + 1 < cap; i++) {
		const char *a = i == 0 ? "dfuflash" : argv[i];
		bool plain = *a != '\0';

		for (const char *p = a; *p; p++)
			if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
				    "-_./:=,@+%",
				    *p))
				plain = false;
		if (i)
			out[len++] = ' ';
		if (plain) {
			len += (size_t)snprintf(out + len, cap - len, "%s", a);
		} else {
			out[len++] = '\'';
			for (const char *p = a; *p && len + 5 < cap; p++) {
				if (*p == '\'') {
					memcpy(out + len, "'\\''", 4);
					len += 4;
				} else {
					out[len++] = *p;
				}
			}
			if (len + 1 < cap)
				out[len++] = '\'';
		}
		if (len >= cap)
			len = cap - 1;
		out[len] = '\0';
	}
}

/* --- errors ---------------------------------------------------------------- */

int tool_run_fail(struct tool_run *r, int err, const struct dfu_error *e)
{
	tool_report(r->object[0] ? r->object : "dfuflash", e);
	if (e->resumable && r->cmdline[0])
		tool_hint("when the device is back in DFU mode (replug it, or reset it with BOOT0 "
			  "high), this completes the flash: %s",
			  r->cmdline);
	return tool_exit_for(err);
}

void tool_run_set_object(struct tool_run *r, const struct dfu_if_info *i)
{
	snprintf(r->object, sizeof(r->object), "%04x:%04x at %s", i->vid, i->pid, i->path);
}

/* --- device selection ---------------------------------------------------- */

static void print_candidates(const struct dfu_if_info *list, size_t n)
{
	char line[1024];

	for (size_t i = 0; i < n; i++) {
		dfu_if_info_format_line(&list[i], line, sizeof(line));
		fputs("  ", stderr);
		tool_put_escaped(stderr, line);
		fputc('\n', stderr);
	}
}

/* Do two of the devices in @list share a serial number (or have none)?
 * Then -S cannot tell them apart: only the port path can. */
static bool serials_collide(const struct dfu_if_info *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		for (size_t k = i + 1; k < n; k++)
			if (list[i].device_index != list[k].device_index &&
			    strcmp(list[i].serial, list[k].serial) == 0)
				return true;
	return false;
}

/* dfu-util 0.11's words, which scripts grep for. */
static const char more_than_one[] = "More than one DFU capable USB device found! Try `--list' and "
				    "specify the serial number or disconnect all but one device\n";

/* Exactly one physical device must match; its alts stay in *list. */
static int one_device(struct tool_run *r, struct dfu_if_info **list, size_t *n)
{
	size_t dev = (*list)[0].device_index;

	for (size_t i = 1; i < *n; i++) {
		if ((*list)[i].device_index != dev) {
			if (r->o->compat)
				fputs(more_than_one, stderr);
			tool_err("more than one DFU device matches:");
			print_candidates(*list, *n);
			if (serials_collide(*list, *n))
				tool_hint("they share a serial number, so -S cannot tell them "
					  "apart: pick one with -p PATH (the path=\"...\" shown)");
			else
				tool_hint("pick one with -p PATH (the path=\"...\" shown) or -S "
					  "SERIAL");
			/* dfu-util exits 74 here, and its spelling keeps that */
			return r->o->compat ? TOOL_EXIT_IOERR : TOOL_EXIT_USAGE;
		}
	}
	if ((*list)[0].open_err) {
		const struct dfu_if_info *i = &(*list)[0];

		tool_run_set_object(r, i);
		if (r->o->compat)
			fprintf(stderr, "Cannot open DFU device %04x:%04x found on devnum %u\n",
				i->vid, i->pid, i->devnum);
		tool_err("%s: cannot open the device: %s", r->object, i->open_error);
		return tool_exit_for(i->open_err);
	}
	return 0;
}

/*
 * -a matched nothing: if the device is there with other alts, say which it
 * has (dfu-util only says there is no device).  True when it printed them.
 */
static bool explain_alt(const struct tool_run *r, const struct dfu_match *m)
{
	struct dfu_match any_alt = *m;
	struct dfu_if_info *all = NULL;
	size_t n = 0, shown = 0;

	if (!m->alt_name && m->alt < 0)
		return false;
	any_alt.alt_name = NULL;
	any_alt.alt = -1;
	if (dfu_list(r->ctx, &any_alt, &all, &n, NULL) < 0 || n == 0)
		return false;
	if (m->alt_name)
		tool_err("no alt setting named \"%s\"; the device has:", m->alt_name);
	else
		tool_err("no alt setting %d; the device has:", m->alt);
	for (size_t i = 0; i < n; i++) {
		if (!all[i].dfu_mode)
			continue;
		fprintf(stderr, "  -a %u  (or -a \"%s\")  %04x:%04x at %s\n", all[i].alt,
			all[i].layout ? all[i].layout->name : all[i].name, all[i].vid, all[i].pid,
			all[i].path);
		shown++;
	}
	dfu_if_info_free(all, n);
	if (shown)
		tool_hint("-a takes the number or the name (the region name before the first '/' "
			  "of a DfuSe memory map, or the whole string)");
	return shown > 0;
}

static int find_devices(struct tool_run *r, const struct dfu_match *m, struct dfu_if_info **list,
			size_t *n)
{
	struct dfu_error e = { 0 };
	int ret;

	if (r->o->wait)
		ret = dfu_wait_for(r->ctx, m, NULL, r->o->wait_s * 1000u, list, n, &e);
	else
		ret = dfu_list(r->ctx, m, list, n, &e);
	if (ret == DFU_E_NODEVICE || (ret == 0 && *n == 0)) {
		/* dfu-util 0.11's words: scripts grep for them */
		if (r->o->compat)
			fputs("No DFU capable USB device available\n", stderr);
		if (explain_alt(r, m))
			return r->o->compat ? TOOL_EXIT_IOERR : TOOL_EXIT_NODEVICE;
		tool_err("no DFU device found%s", r->o->wait ? " before the --wait timeout" : "");
		tool_hint("`dfuflash list` shows what is connected; check -d/-p/-S/-a, the cable "
			  "and, for a run-time device, that its firmware offers DFU");
		return r->o->compat ? TOOL_EXIT_IOERR : TOOL_EXIT_NODEVICE;
	}
	if (ret < 0)
		return tool_run_fail(r, ret, &e);
	return 0;
}

static bool any_dfu_mode(const struct dfu_if_info *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (list[i].dfu_mode)
			return true;
	return false;
}

int tool_run_detach_to_dfu(struct tool_run *r, struct dfu_if_info **list, size_t *n)
{
	_cleanup_(dfu_dev_closep) struct dfu_dev *dev = NULL;
	struct dfu_if_info same = (*list)[0];
	struct dfu_if_info *back = NULL;
	struct dfu_error e = { 0 };
	struct dfu_match m = r->o->match;
	size_t nb = 0;
	int ret;

	tool_run_set_object(r, &same);
	tool_msg(r->tool, "%s: run-time mode: detaching to DFU mode", r->object);
	ret = dfu_dev_open(r->ctx, &(*list)[0], &dev, &e);
	if (ret < 0)
		return tool_run_fail(r, ret, &e);
	ret = dfu_dev_detach(dev, &e);
	if (ret < 0)
		return tool_run_fail(r, ret, &e);
	dfu_dev_close(TAKE_PTR(dev));
	/* the DFU-mode personality: the run-time half of -d/-S no longer applies,
	 * and the device number changes with the re-enumeration (we follow the
	 * device by its path) */
	m.runtime.set = false;
	m.serial_runtime = NULL;
	m.devnum = -1;
	if (r->dfu_ids_derived)
		m.dfu.set = false;
	same.layout = NULL;
	ret = dfu_wait_for(r->ctx, &m, &same, r->o->detach_delay_s * 1000u, &back, &nb, &e);
	if (ret < 0) {
		tool_err("%s: the device did not come back in DFU mode within %u s after DETACH",
			 r->object, r->o->detach_delay_s);
		tool_hint("raise the wait with -E SECONDS; some boards need a button or BOOT0 pin; "
			  "if -v shows the DETACH request stalled, the firmware does not offer DFU "
			  "detach");
		return tool_exit_for(ret == DFU_E_NODEVICE ? DFU_E_NODEVICE : ret);
	}
	dfu_if_info_free(*list, *n);
	*list = back;
	*n = nb;
	if (!any_dfu_mode(*list, *n)) {
		tool_err("%s: came back, but not in DFU mode", r->object);
		return TOOL_EXIT_PROTOCOL;
	}
	return 0;
}

/* The alt whose DfuSe layout holds @address, else -1. */
static int alt_for_address(const struct dfu_if_info *list, size_t n, uint32_t address)
{
	for (size_t i = 0; i < n; i++) {
		size_t seg;

		if (list[i].dfu_mode && list[i].layout &&
		    dfuse_layout_find_segment(list[i].layout, address, &seg) == 0)
			return (int)i;
	}
	return -1;
}

/* Index into @list of the alt to use for @want (alt -1: choose). */
int tool_run_pick_alt(struct tool_run *r, const struct dfu_if_info *list, size_t n,
		      const struct tool_alt_want *want)
{
	int first = -1, k;

	for (size_t i = 0; i < n; i++) {
		if (!list[i].dfu_mode)
			continue;
		if (want->alt >= 0 && list[i].alt != want->alt)
			continue;
		if (first < 0)
			first = (int)i;
	}
	if (first < 0)
		return -1;
	if (want->alt >= 0 || r->o->match.alt >= 0 || r->o->match.alt_name)
		return first;
	/* no -a: the alt whose memory map holds the data, else the first */
	if (want->have_address && (k = alt_for_address(list, n, want->address)) >= 0) {
		if (k != first)
			tool_msg(r->tool, "using alt %u (\"%s\"), whose memory map holds 0x%08x",
				 list[k].alt, list[k].layout->name, want->address);
		return k;
	}
	return first;
}

/*
 * No -a and nothing to choose by (no address, no alt in the file): a plain
 * DFU device with several DFU-mode alts gives no clue which one is meant.
 * The STM32duino bootloader is one: its alt 0 refuses every download, alts
 * 1 and 2 write sketches linked for different addresses.  Taking the first
 * would write the wrong place or fail with a misleading device error, so
 * refuse before anything is sent, naming the alts (dfu-util refuses too, as
 * "more than one device").  Returns 0 when the choice is clear.
 */
int tool_run_check_alt_choice(struct tool_run *r, const struct dfu_if_info *list, size_t n,
			      const struct tool_alt_want *want)
{
	size_t plain = 0;

	if (want->alt >= 0 || want->have_address || r->o->match.alt >= 0 || r->o->match.alt_name)
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (!list[i].dfu_mode)
			continue;
		/* DfuSe: the memory map decides; a name that could not be read may
		 * be one, and the download names that cause */
		if (list[i].layout || dfu_if_name_unread(&list[i]))
			return 0;
		plain++;
	}
	if (plain < 2)
		return 0;
	tool_run_set_object(r, &list[0]);
	if (r->o->compat)
		fputs(more_than_one, stderr);
	tool_err("%s: the device has %zu alt settings and nothing tells which one is meant:",
		 r->object, plain);
	for (size_t i = 0; i < n; i++) {
		if (!list[i].dfu_mode)
			continue;
		fprintf(stderr, "  -a %u  ", list[i].alt);
		tool_put_escaped(stderr, list[i].name);
		fputc('\n', stderr);
	}
	if (list[0].vid == 0x1eaf && list[0].pid == 0x0003)
		tool_hint(
		    "pick one with -a NUMBER: for the STM32duino bootloader 2.0, -a 2 takes a "
		    "sketch linked for 0x08002000, -a 1 one linked for 0x08005000");
	else
		tool_hint("pick one with -a NUMBER; the names say what each one is for");
	return r->o->compat ? TOOL_EXIT_IOERR : TOOL_EXIT_USAGE;
}

int tool_run_open_alt(struct tool_run *r, const struct dfu_if_info *info, struct dfu_dev **dev)
{
	struct dfu_idle_report rep = { 0 };
	struct dfu_error e = { 0 };
	int ret;

	tool_run_set_object(r, info);
	ret = dfu_dev_open(r->ctx, info, dev, &e);
	if (ret < 0)
		return tool_run_fail(r, ret, &e);
	ret = dfu_dev_ensure_idle(*dev, &rep, &e);
	if (ret < 0)
		return tool_run_fail(r, ret, &e);
	return 0;
}

/*
 * For the commands without data (erase, leave, -R alone): the alt of -a,
 * else the one whose memory map holds --jump's address, else the first
 * DFU-mode alt; opened and brought to dfuIDLE.  *k is its index in @list.
 */
int tool_run_open_command_alt(struct tool_run *r, const struct dfu_if_info *list, size_t n,
			      struct dfu_dev **dev, int *k)
{
	const struct tool_alt_want want = { .alt = -1,
					    .have_address = r->o->flash.have_jump,
					    .address = r->o->flash.jump };

	*k = tool_run_pick_alt(r, list, n, &want);
	if (*k < 0) {
		tool_err("no DFU-mode interface");
		return TOOL_EXIT_NODEVICE;
	}
	return tool_run_open_alt(r, &list[*k], dev);
}

/* --- shared by several commands ------------------------------------------- */

/* Without --wait-app, look this long for the application after a leave: long
 * enough for a ROM jump and a fresh enumeration, short enough to go unnoticed. */
#define APP_WINDOW_DEFAULT_MS 1500
#define APP_WINDOW_ASKED_MS 10000

/*
 * After the device left DFU mode: what comes back on the same port?  The
 * application's run-time interface means it started; the ROM bootloader
 * means the jump went wrong, which is an error whether or not --wait-app
 * was given.  Nothing at all is only an error with --wait-app.
 */
int tool_run_confirm_app(struct tool_run *r, const struct dfu_if_info *was)
{
	struct dfu_if_info *back = NULL;
	struct dfu_error e = { 0 };
	struct dfu_if_info same = *was;
	struct dfu_match any;
	bool asked = r->o->flash.wait_app;
	uint32_t ms =
	    asked ? (r->o->flash.wait_app_ms ? r->o->flash.wait_app_ms : APP_WINDOW_ASKED_MS)
		  : APP_WINDOW_DEFAULT_MS;
	size_t n = 0;
	int ret;

	if (!r->res.left)
		return 0;
	dfu_match_init(&any);
	same.layout = NULL;
	ret = dfu_wait_for(r->ctx, &any, &same, ms, &back, &n, &e);
	if (ret < 0 || n == 0) {
		dfu_if_info_free(back, n);
		if (!asked)
			return 0;
		tool_err("%s: left DFU mode, but no USB device came back on port %s within %u ms",
			 r->object, was->path, ms);
		tool_hint("the application may have no USB interface (then drop --wait-app), or it "
			  "did not start");
		return TOOL_EXIT_NOAPP;
	}
	if (any_dfu_mode(back, n)) {
		dfu_if_info_free(back, n);
		tool_err("%s: the device came back as the DFU bootloader, not as the application",
			 r->object);
		if (r->res.have_jump)
			tool_hint("the ROM jumped to 0x%08x and reset: check the address with "
				  "`dfuflash image info`, that BOOT0 is low, and that the image "
				  "starts with its vector table; --jump ADDR overrides",
				  r->res.jump_address);
		else
			tool_hint("check that BOOT0 is low and that the image starts with its "
				  "vector table");
		return TOOL_EXIT_NOAPP;
	}
	r->res.app_seen = true;
	dfu_if_info_free(back, n);
	return 0;
}

/* A raw binary on a DfuSe device without -s: the start of the alt's first
 * writable segment (said out loud). */
int tool_run_place_raw(struct tool_run *r, struct dfu_image *img, const struct dfu_if_info *info)
{
	struct dfu_error e = { 0 };
	int ret;

	if (img->address_from_file || r->o->flash.have_address)
		return 0;
	if (!info->layout) {
		if (info->bcd_dfu == 0x011a) {
			tool_err("%s: a raw binary needs an address and the device's memory "
				 "map is unknown",
				 r->o->download_path);
			tool_hint("give one with -s ADDRESS (e.g. -s 0x08000000) or --address");
			return TOOL_EXIT_USAGE;
		}
		return 0; /* plain DFU: no addresses at all */
	}
	for (size_t i = 0; i < info->layout->n_segments; i++) {
		const struct dfuse_layout_segment *s = &info->layout->segments[i];

		if (s->attr & DFUSE_ATTR_WRITABLE) {
			ret = dfu_image_rebase(img, s->start, &e);
			if (ret < 0) {
				tool_report(r->o->download_path, &e);
				return tool_exit_for(ret);
			}
			r->o->flash.have_address = true;
			r->o->flash.address = s->start;
			tool_msg(r->tool,
				 "%s: raw binary, no address given: writing it at 0x%08x, the "
				 "start of \"%s\"",
				 r->o->download_path, s->start, info->layout->name);
			return 0;
		}
	}
	tool_err("%s: alt %u (\"%s\") has no writable memory", r->object, info->alt, info->name);
	return TOOL_EXIT_DATAERR;
}

int tool_run_load_input(struct tool_run *r, struct dfu_image **img)
{
	struct dfu_parse_opts po = { .format = r->o->format };
	int ret;

	if (r->o->flash.have_address) {
		po.have_base = true;
		po.base = r->o->flash.address;
	}
	ret = tool_load_image(r->o->download_path, &po, img);
	if (ret)
		return ret;
	for (size_t i = 0; i < (*img)->n_warnings; i++)
		tool_warn("%s: %s", r->o->download_path, (*img)->warnings[i]);
	if ((*img)->n_segments == 0) {
		tool_err("%s: the file holds no data to write", r->o->download_path);
		return TOOL_EXIT_DATAERR;
	}
	return 0;
}

/*
 * dfu_dev_upload, and once per run (as cmd_flash): after a failure that
 * wants a reset (a device that fails every second run until re-plugged, a
 * stuck state), one USB reset of the same device and the read once more.
 */
int tool_run_upload(struct tool_run *r, const struct dfu_if_info *info, struct dfu_dev **dev,
		    const struct dfu_flash_opts *fo, struct dfu_image **img,
		    struct dfu_flash_result *res, struct dfu_error *e)
{
	struct dfu_error re = { 0 };
	char why[200];
	unsigned retries;
	int ret;

	ret = dfu_dev_upload(*dev, fo, img, res, e);
	if (ret >= 0 || r->recovered || !dfu_error_wants_reset(e))
		return ret;
	r->recovered = true;
	retries = res->retries;
	snprintf(why, sizeof(why), "%s: %s, USB reset, read repeated", e->op[0] ? e->op : "upload",
		 e->have_state ? dfu_status_name(e->status)
		 : e->usb_name ? e->usb_name
			       : dfu_strerror(e->err));
	tool_msg(r->tool, "%s: %s: resetting the device and trying once more", r->object,
		 e->message);
	if (dfu_dev_recover(dev, &re) < 0) {
		tool_report(r->object, &re);
		return ret;
	}
	dfu_image_free(*img);
	*img = NULL;
	dfu_error_clear(e);
	ret = dfu_dev_upload(*dev, fo, img, res, e);
	/* after the upload: it clears its result */
	res->retries += retries;
	dfu_flash_result_note_retry(&r->res, "%s", why);
	if (ret >= 0)
		tool_msg(r->tool,
			 "%s: recovered: the device was reset (USB reset) and opened again at "
			 "%s; the read was repeated",
			 r->object, info->path);
	return ret;
}

/* --- the result, the command table and the run ------------------------------ */

/* --json: the result object closing every device command but list. */
static void print_result(struct tool_run *r, int code)
{
	struct json_out j;

	/* several boards print their own results and summary (flash-many.c) */
	if (!r->o->json || r->o->mode == TOOL_MODE_LIST || r->o->mode == TOOL_MODE_QUIRKS ||
	    tool_many_wanted(r->o))
		return;
	json_begin(&j, stdout);
	json_obj_open(&j, NULL);
	json_str(&j, "event", "result");
	json_uint(&j, "schema", TOOL_JSON_SCHEMA);
	json_str(&j, "status", code == 0 ? "ok" : "error");
	json_int(&j, "exit_code", code);
	tool_json_error(&j, code);
	json_str(&j, "operation", tool_mode_name(r->o->mode));
	if (r->object[0])
		json_str(&j, "device", r->object);
	json_uint(&j, "bytes_written", r->res.bytes_written);
	json_uint(&j, "bytes_read", r->res.bytes_read);
	json_uint(&j, "sectors_erased", r->res.sectors_erased);
	if (r->o->mode == TOOL_MODE_DOWNLOAD || r->o->mode == TOOL_MODE_ERASE)
		json_bool(&j, "mass_erased", r->res.mass_erased);
	if (r->o->mode == TOOL_MODE_DOWNLOAD) {
		json_uint(&j, "sectors_total", r->res.sectors_total);
		json_uint(&j, "sectors_skipped", r->res.sectors_skipped);
		if (r->res.full_flash_reason[0])
			json_str(&j, "full_flash_reason", r->res.full_flash_reason);
	}
	json_bool(&j, "verified", r->res.verified);
	json_bool(&j, "left", r->res.left);
	json_bool(&j, "app_seen", r->res.app_seen);
	if (r->res.have_jump)
		json_uint(&j, "jump_address", r->res.jump_address);
	if (r->res.mismatch) {
		json_uint(&j, "mismatch_address", r->res.mismatch_address);
		json_uint(&j, "mismatch_count", r->res.mismatch_count);
	}
	json_uint(&j, "retries", r->res.retries);
	json_arr_open(&j, "retry_log");
	for (uint32_t i = 0; i < r->res.n_retry_log; i++)
		json_str(&j, NULL, r->res.retry_log[i]);
	json_arr_close(&j);
	json_bool(&j, "recovered_by_reset", r->recovered && code == 0);
	if (r->o->dry_run)
		json_bool(&j, "dry_run", true);
	json_uint(&j, "elapsed_ms", r->res.elapsed_ms);
	json_obj_close(&j);
	json_end(&j);
}

/*
 * The device commands, by the mode options.c made of either spelling.  A
 * command runs on the alts of the one device selected, after a run-time
 * device was detached to DFU mode and after --unprotect.
 */
struct device_cmd {
	enum tool_mode mode;
	int (*run)(struct tool_run *r, struct dfu_if_info *list, size_t n);
	/* instead of run: runs without selecting a device */
	int (*run_unselected)(struct tool_run *r);
	/* a run-time device is not detached first (the command does that) */
	bool keeps_runtime;
	/* with --unprotect, Read Unprotect did it all (it mass-erases) */
	bool done_by_unprotect;
};

static const struct device_cmd device_cmds[] = {
	{ .mode = TOOL_MODE_LIST, .run_unselected = cmd_list },
	{ .mode = TOOL_MODE_QUIRKS, .run_unselected = cmd_quirks },
	{ .mode = TOOL_MODE_DOWNLOAD, .run = cmd_flash },
	{ .mode = TOOL_MODE_UPLOAD, .run = cmd_read },
	{ .mode = TOOL_MODE_VERIFY, .run = cmd_verify },
	{ .mode = TOOL_MODE_ERASE, .run = cmd_erase, .done_by_unprotect = true },
	{ .mode = TOOL_MODE_LEAVE, .run = cmd_leave },
	{ .mode = TOOL_MODE_DETACH, .run = cmd_detach, .keeps_runtime = true },
	{ .mode = TOOL_MODE_RESET, .run = cmd_reset },
	{ .mode = TOOL_MODE_READ_OPTIONS, .run = cmd_read_options },
	{ .mode = TOOL_MODE_STATION, .run_unselected = cmd_station },
};

static const struct device_cmd *device_cmd_for(enum tool_mode mode)
{
	for (size_t i = 0; i < ARRAY_SIZE(device_cmds); i++)
		if (device_cmds[i].mode == mode)
			return &device_cmds[i];
	return NULL;
}

static int run_device(struct tool_run *r)
{
	const struct device_cmd *cmd = device_cmd_for(r->o->mode);
	struct dfu_if_info *list = NULL;
	size_t n = 0;
	int ret;

	if (!cmd)
		return TOOL_EXIT_SOFTWARE;
	if (cmd->run_unselected)
		return cmd->run_unselected(r);
	if (r->o->all)
		return cmd_flash_all(r);
	ret = find_devices(r, &r->o->match, &list, &n);
	if (ret)
		goto out;
	ret = one_device(r, &list, &n);
	if (ret)
		goto out;
	tool_run_set_object(r, &list[0]);
	if (!any_dfu_mode(list, n) && !cmd->keeps_runtime) {
		ret = tool_run_detach_to_dfu(r, &list, &n);
		if (ret)
			goto out;
	}
	/* --unprotect: Read Unprotect, wait for the device, then the same command's
	 * download (or nothing more for `erase --unprotect`) */
	if (r->o->flash.unprotect) {
		ret = cmd_unprotect(r->tool, r->ctx, r->o, &list, &n, &r->res);
		r->have_res = true;
		if (ret || cmd->done_by_unprotect)
			goto out;
	}
	ret = cmd->run(r, list, n);
	if (ret == 0 && r->o->reset && !r->res.left && !r->o->dry_run)
		ret = tool_run_reset(r, list);
out:
	dfu_if_info_free(list, n);
	return ret;
}

int cmd_device(struct tool_ctx *tctx, int argc, char **argv)
{
	struct tool_options o;
	struct dfu_error e = { 0 };
	struct tool_run r = { .tool = tctx, .o = &o, .progress_last = -1 };
	int ret;

	ret = tool_options_parse(argc, argv, &o);
	if (ret)
		return ret;
	format_cmdline(r.cmdline, sizeof(r.cmdline), argc, argv);
	switch (o.mode) {
	case TOOL_MODE_HELP:
		tool_usage(stdout);
		goto done;
	case TOOL_MODE_VERSION:
		/* scripts branch on `dfu-util -V`'s first line (one drops :will-reset
		 * when it reads 0.9): as dfu-util, name the level we accept first */
		if (tctx->as_dfu_util)
			tool_print_banner(tctx, stdout);
		else
			printf("dfuflash %s\n", DFUFLASH_VERSION);
		goto done;
	case TOOL_MODE_NONE:
		tool_err("nothing to do");
		tool_hint("give a command (list, flash FILE, read OUT, ...) or dfu-util's -l, -D, "
			  "-U; see --help");
		ret = TOOL_EXIT_USAGE;
		goto done;
	default:
		break;
	}
	tctx->quiet = tctx->quiet || o.quiet;
	o.quiet = tctx->quiet;
	if (o.compat) {
		/* dfu-util's stdout is unbuffered: its lines and stderr's keep
		 * their order in a pipe ("Submitting leave request..." before
		 * the summary); whole lines are enough for that. */
		setvbuf(stdout, NULL, _IOLBF, 0);
		/* not when the upload itself goes to stdout (-U -) */
		if (!o.quiet && !o.json &&
		    !(o.mode == TOOL_MODE_UPLOAD && strcmp(o.upload_path, "-") == 0))
			tool_print_banner(tctx, stdout);
	}
	/* the file first (after dfu-util's banner): a missing one is the user's to
	 * fix, whatever is plugged in */
	if (o.download_path) {
		ret = tool_check_input(o.download_path);
		if (ret) {
			print_result(&r, ret);
			goto done;
		}
	}
	if (tctx->verbose > o.verbose)
		o.verbose = tctx->verbose;
	r.progress_tty = o.progress == TOOL_PROGRESS_BAR ||
			 (o.progress == TOOL_PROGRESS_AUTO && isatty(STDERR_FILENO));
	if (o.trace_path) {
		ret = open_trace(&r);
		if (ret)
			goto done;
	}
	/* dfu-util lets run-time ids alone match any DFU-mode device, so
	 * `-d 1234:5678` can flash a 0483:df11.  The native commands hold -d to
	 * both modes; a run-time device found by it is followed by its path. */
	if (!o.compat && o.match.runtime.set && !o.match.dfu.set) {
		o.match.dfu = o.match.runtime;
		r.dfu_ids_derived = true;
	}
	ret = dfu_ctx_new_usb(&r.ctx, &e);
	if (ret < 0) {
		tool_report("libusb", &e);
		ret = tool_exit_for(ret);
		goto done;
	}
	dfu_ctx_set_log_fn(r.ctx, on_log, &r);
	dfu_ctx_set_progress_fn(r.ctx, on_progress, &r);
	dfu_ctx_set_poll(r.ctx, o.poll, o.poll_ms);
	ret = tool_quirk_files_load(r.ctx);
	if (ret) {
		dfu_ctx_free(r.ctx);
		goto done;
	}
	if (r.trace)
		dfu_ctx_set_trace_fn(r.ctx, on_trace, &r);
	ret = run_device(&r);
	print_result(&r, ret);
	dfu_ctx_free(r.ctx);
done:
	/* the trace is kept whatever the outcome: it is what explains a failure */
	if (r.trace) {
		int t = tool_outfile_commit(&r.trace_file);

		ret = ret ? ret : t;
	}
	tool_options_release(&o);
	return ret;
}
