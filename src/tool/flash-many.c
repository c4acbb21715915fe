// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Several boards at once: the shared job (the firmware read once, the
 * record), one thread per board with its own library context (the library
 * keeps no globals, so contexts never share state), the per-port lock of the
 * auto-flash wrapper, one result per board and the summary; and
 * `flash FILE --all` on top of it.  `station` is cmd-station.c.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "flash-many.h"
#include "macro.h"
#include "tool.h"

bool tool_many_wanted(const struct tool_options *o)
{
	return o->all || o->mode == TOOL_MODE_STATION;
}

uint64_t tool_many_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* --- the job --------------------------------------------------------------- */

/* The firmware, read once: every board gets the same bytes, and the record
 * names their CRC-32 even if the file changes meanwhile. */
static int load_firmware(struct many_job *j)
{
	_cleanup_(dfu_image_freep) struct dfu_image *img = NULL;
	const struct tool_options *o = j->r->o;
	const char *path = o->download_path;
	int ret;

	ret = tool_read_file(path, &j->data, &j->len);
	if (ret)
		return ret;
	j->crc = dfu_crc32(0, j->data, j->len);
	j->po.format = o->format;
	j->po.have_base = o->flash.have_address;
	j->po.base = o->flash.address;
	ret = tool_parse_image(path, j->data, j->len, &j->po, &img);
	if (ret)
		return ret;
	for (size_t i = 0; i < img->n_warnings; i++)
		tool_warn("%s: %s", path, img->warnings[i]);
	if (img->n_segments == 0) {
		tool_err("%s: the file holds no data to write", path);
		return TOOL_EXIT_DATAERR;
	}
	return 0;
}

int tool_many_init(struct many_job *j, struct tool_run *r, const char *operation)
{
	int ret;

	memset(j, 0, sizeof(*j));
	j->r = r;
	j->operation = operation;
	j->record_fd = -1;
	j->t0_ms = tool_many_now_ms();
	pthread_mutex_init(&j->lock, NULL);
	pthread_cond_init(&j->changed, NULL);
	/* the file first: a missing firmware is 66 before any board is looked for */
	ret = load_firmware(j);
	if (ret)
		return ret;
	if (r->o->record_path) {
		j->record_fd =
		    open(r->o->record_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		if (j->record_fd < 0) {
			tool_err("--record %s: cannot open for appending: %s", r->o->record_path,
				 strerror(errno));
			return TOOL_EXIT_CANTCREAT;
		}
	}
	return 0;
}

void tool_many_release(struct many_job *j)
{
	for (size_t i = 0; i < j->n_boards; i++)
		free(j->boards[i]);
	free(j->boards);
	free(j->data);
	if (j->record_fd >= 0)
		close(j->record_fd);
	pthread_cond_destroy(&j->changed);
	pthread_mutex_destroy(&j->lock);
}

/* --- one board ------------------------------------------------------------------ */

/* The wrapper's lock (scripts/dfuflash-autoflash): one flasher per port, so a
 * station and the systemd unit never flash the same board at once.  Returns
 * the locked descriptor (closing it unlocks), or -(exit code). */
static int lock_port(const char *path)
{
	const char *dir = getenv("DFUFLASH_LOCKDIR");
	char name[4096];
	int fd;

	if (!dir || !*dir)
		dir = getenv("RUNTIME_DIRECTORY");
	if (!dir || !*dir)
		dir = "/run/lock";
	snprintf(name, sizeof(name), "%s/dfuflash-%s.lock", dir, path);
	fd = open(name, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOCTTY, 0644);
	if (fd < 0) {
		tool_err("%s: cannot create the lock %s: %s", path, name, strerror(errno));
		tool_hint("set DFUFLASH_LOCKDIR to a writable directory");
		return -TOOL_EXIT_CANTCREAT;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int err = errno;

		close(fd);
		if (err == EWOULDBLOCK) {
			tool_err("%s: another flash of this port is running (lock %s)", path, name);
			return -TOOL_EXIT_TEMPFAIL;
		}
		tool_err("%s: cannot lock %s: %s", path, name, strerror(err));
		return -TOOL_EXIT_CANTCREAT;
	}
	return fd;
}

/* The library's log lines of one board, named by its port. */
static void board_log(void *ud, enum dfu_log_level level, const char *msg)
{
	struct tool_run *r = ud;

	if (r->o->quiet || (int)level > r->o->verbose)
		return;
	fprintf(stderr, "dfuflash: %s: %s\n", r->o->match.path, msg);
}

/* The board's alts, listed again in this thread's own context. */
static int board_list(struct many_board *b, struct tool_run *r, struct dfu_if_info **list,
		      size_t *n)
{
	struct dfu_error e = { 0 };
	int ret;

	ret = dfu_list(r->ctx, &r->o->match, list, n, &e);
	if (ret < 0)
		return tool_run_fail(r, ret, &e);
	if (*n == 0) {
		tool_err("%s: the board left before it was flashed", b->path);
		return TOOL_EXIT_NODEVICE;
	}
	tool_run_set_object(r, &(*list)[0]);
	if ((*list)[0].open_err) {
		tool_err("%s: cannot open the device: %s", r->object, (*list)[0].open_error);
		return tool_exit_for((*list)[0].open_err);
	}
	return 0;
}

/* Flash one board in this thread: its own context, options and image. */
static int board_flash(struct many_board *b)
{
	struct many_job *j = b->job;
	struct tool_options o = *j->r->o; /* strings stay in the command's argv */
	struct tool_run r = { .tool = j->r->tool, .o = &o, .progress_last = -1 };
	_cleanup_(dfu_image_freep) struct dfu_image *img = NULL;
	struct dfu_if_info *list = NULL;
	struct dfu_error e = { 0 };
	size_t n = 0;
	int ret;

	o.match.path = b->path;
	o.match.devnum = -1;
	ret = dfu_ctx_new_usb(&r.ctx, &e);
	if (ret < 0) {
		tool_report("libusb", &e);
		return tool_exit_for(ret);
	}
	dfu_ctx_set_log_fn(r.ctx, board_log, &r);
	ret = board_list(b, &r, &list, &n);
	if (ret)
		goto out;
	/* flash --all: a board running its application with a DFU run-time
	 * interface is detached first, as the single-board flash does (a station
	 * takes DFU-mode boards only: see start_new() in cmd-station.c) */
	if (!list[0].dfu_mode) {
		r.dfu_ids_derived = j->r->dfu_ids_derived;
		ret = tool_run_detach_to_dfu(&r, &list, &n);
		if (ret)
			goto out;
	}
	ret = tool_parse_image(o.download_path, j->data, j->len, &j->po, &img);
	if (ret)
		goto out;
	ret = cmd_flash_image(&r, list, n, img);
	b->res = r.res;
out:
	dfu_if_info_free(list, n);
	dfu_ctx_free(r.ctx);
	return ret;
}

static const char *outcome(const struct many_job *j, int code)
{
	if (code == 0)
		return j->r->o->dry_run ? "planned" : "ok";
	return code == TOOL_EXIT_TEMPFAIL ? "busy" : "failed";
}

/* What the board event and the record line share. */
static void json_board(struct json_out *j, const struct many_board *b)
{
	json_str(j, "path", b->path);
	json_str(j, "serial", b->serial);
	json_str(j, "outcome", outcome(b->job, b->code));
	json_int(j, "exit_code", b->code);
	json_str(j, "cause", b->code ? tool_error_cause(&b->error, b->code) : NULL);
}

static void print_board(struct many_board *b)
{
	const struct tool_options *o = b->job->r->o;
	struct json_out j;

	if (!o->json) {
		printf("%s%s%s: %s", b->path, b->serial[0] ? " " : "", b->serial,
		       outcome(b->job, b->code));
		if (b->code == 0)
			printf(", %" PRIu64 " bytes written, %" PRIu32 " sectors erased, %" PRIu32
			       " skipped%s, %" PRIu64 ".%02" PRIu64 " s\n",
			       b->res.bytes_written, b->res.sectors_erased, b->res.sectors_skipped,
			       b->res.verified ? ", verified" : "", b->duration_ms / 1000,
			       b->duration_ms % 1000 / 10);
		else
			printf(" (exit %d): %s\n", b->code,
			       b->error.message[0] ? b->error.message
						   : "failed (see the exit code)");
		fflush(stdout);
		return;
	}
	json_begin(&j, stdout);
	json_obj_open(&j, NULL);
	json_str(&j, "event", "board");
	json_uint(&j, "schema", 1);
	json_board(&j, b);
	json_uint(&j, "bytes", b->res.bytes_written);
	json_uint(&j, "sectors_erased", b->res.sectors_erased);
	json_uint(&j, "sectors_skipped", b->res.sectors_skipped);
	json_bool(&j, "verified", b->res.verified);
	json_bool(&j, "app_seen", b->res.app_seen);
	json_uint(&j, "duration_ms", b->duration_ms);
	tool_json_error_record(&j, b->code, &b->error);
	json_obj_close(&j);
	json_end(&j);
}

/* --record: one line per board, written with one write(2) to a file opened
 * with O_APPEND, so that several stations can share one record. */
static void record_board(struct many_board *b)
{
	struct many_job *j = b->job;
	char *line = NULL, stamp[32];
	size_t len = 0;
	time_t now = time(NULL);
	struct tm tm;
	struct json_out jo;
	FILE *f;

	if (j->record_fd < 0)
		return;
	f = open_memstream(&line, &len);
	if (!f)
		return;
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
	json_begin(&jo, f);
	json_obj_open(&jo, NULL);
	json_str(&jo, "time", stamp);
	json_uint(&jo, "schema", TOOL_JSON_SCHEMA);
	json_board(&jo, b);
	json_str(&jo, "image", j->r->o->download_path);
	json_hex32(&jo, "image_crc32", j->crc);
	json_obj_close(&jo);
	json_end(&jo);
	fclose(f);
	if (write(j->record_fd, line, len) != (ssize_t)len)
		tool_warn("--record %s: cannot append: %s", j->r->o->record_path, strerror(errno));
	free(line);
}

static void *board_main(void *arg)
{
	struct many_board *b = arg;
	struct many_job *j = b->job;
	uint64_t t0 = tool_many_now_ms();
	int fd;

	tool_error_capture_begin();
	fd = lock_port(b->path);
	b->code = fd < 0 ? -fd : board_flash(b);
	if (fd >= 0)
		close(fd);
	b->duration_ms = tool_many_now_ms() - t0;
	if (b->code)
		tool_error_captured_copy(&b->error);
	pthread_mutex_lock(&j->lock);
	flockfile(stdout); /* a plan being printed by another board ends first */
	print_board(b);
	funlockfile(stdout);
	record_board(b);
	b->finished = true;
	j->n_finished++;
	j->n_failed += b->code != 0;
	pthread_cond_broadcast(&j->changed);
	pthread_mutex_unlock(&j->lock);
	return NULL;
}

int tool_many_start(struct many_job *j, const struct dfu_if_info *info)
{
	struct many_board *b;
	int err;

	if (j->n_boards == j->cap_boards) {
		size_t cap = j->cap_boards ? 2 * j->cap_boards : 8;
		struct many_board **grown = realloc(j->boards, cap * sizeof(*grown));

		if (!grown) {
			tool_err("out of memory");
			return TOOL_EXIT_SOFTWARE;
		}
		j->boards = grown;
		j->cap_boards = cap;
	}
	b = calloc(1, sizeof(*b));
	if (!b) {
		tool_err("out of memory");
		return TOOL_EXIT_SOFTWARE;
	}
	b->job = j;
	snprintf(b->path, sizeof(b->path), "%s", info->path);
	snprintf(b->serial, sizeof(b->serial), "%s", info->serial);
	err = pthread_create(&b->thread, NULL, board_main, b);
	if (err) {
		tool_err("%s: cannot start a thread: %s", b->path, strerror(err));
		free(b);
		return TOOL_EXIT_SOFTWARE;
	}
	pthread_mutex_lock(&j->lock);
	j->boards[j->n_boards++] = b;
	pthread_mutex_unlock(&j->lock);
	return 0;
}

void tool_many_wait(struct many_job *j)
{
	for (size_t i = 0; i < j->n_boards; i++)
		pthread_join(j->boards[i]->thread, NULL);
}

int tool_many_summary(struct many_job *j)
{
	const struct tool_options *o = j->r->o;
	uint64_t elapsed = tool_many_now_ms() - j->t0_ms;
	int code = 0;
	struct json_out jo;

	for (size_t i = 0; i < j->n_boards && !code; i++)
		code = j->boards[i]->code;
	if (!o->json) {
		printf("%zu board(s): %zu %s, %zu failed, %" PRIu64 ".%02" PRIu64 " s\n",
		       j->n_boards, j->n_boards - j->n_failed, o->dry_run ? "planned" : "flashed",
		       j->n_failed, elapsed / 1000, elapsed % 1000 / 10);
		fflush(stdout);
		return code;
	}
	json_begin(&jo, stdout);
	json_obj_open(&jo, NULL);
	json_str(&jo, "event", "result");
	json_uint(&jo, "schema", 1);
	json_str(&jo, "status", code == 0 ? "ok" : "error");
	json_int(&jo, "exit_code", code);
	json_str(&jo, "operation", j->operation);
	json_uint(&jo, "boards", j->n_boards);
	json_uint(&jo, "flashed", j->n_boards - j->n_failed);
	json_uint(&jo, "failed", j->n_failed);
	json_uint(&jo, "elapsed_ms", elapsed);
	json_obj_close(&jo);
	json_end(&jo);
	return code;
}

/* --- flash FILE --all --------------------------------------------------------------- */

static int list_all(struct tool_run *r, struct dfu_if_info **list, size_t *n)
{
	struct dfu_error e = { 0 };
	int ret;

	if (r->o->wait)
		ret = dfu_wait_for(r->ctx, &r->o->match, NULL, r->o->wait_s * 1000u, list, n, &e);
	else
		ret = dfu_list(r->ctx, &r->o->match, list, n, &e);
	if (ret < 0 && ret != DFU_E_NODEVICE)
		return tool_run_fail(r, ret, &e);
	return 0;
}

/* One thread per device, in DFU or run-time mode (the first of its alts starts it). */
static int start_each(struct many_job *j, const struct dfu_if_info *list, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		bool first = true;
		int ret;

		for (size_t k = 0; k < i; k++)
			if (list[k].device_index == list[i].device_index)
				first = false;
		if (!first)
			continue;
		ret = tool_many_start(j, &list[i]);
		if (ret)
			return ret;
	}
	return 0;
}

int cmd_flash_all(struct tool_run *r)
{
	struct many_job j;
	struct dfu_if_info *list = NULL;
	size_t n = 0;
	int ret;

	ret = tool_many_init(&j, r, "flash-all");
	if (ret)
		goto out;
	ret = list_all(r, &list, &n);
	if (ret)
		goto out;
	ret = start_each(&j, list, n);
	tool_many_wait(&j);
	if (ret)
		goto out;
	if (j.n_boards == 0) {
		tool_err("no DFU device found%s", r->o->wait ? " before the --wait timeout" : "");
		tool_hint("`dfuflash list` shows what is connected; check -d/-p/-S and the cables");
		ret = TOOL_EXIT_NODEVICE;
		goto out;
	}
	ret = tool_many_summary(&j);
out:
	dfu_if_info_free(list, n);
	tool_many_release(&j);
	return ret;
}
