// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * `dfuflash station FILE`: keep running and flash each matching board once
 * per arrival, in parallel (flash-many.c does the flashing).  Boards are found
 * by listing the bus when libusb reports a device arriving or leaving (and
 * every STATION_REFRESH_MS anyway), or every STATION_POLL_MS where there are
 * no hotplug events; a board is known by its port and serial number and is
 * not flashed again until its port has been seen empty.
 * SIGINT and SIGTERM stop looking for boards: the flashes under way finish,
 * then the summary is printed.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "flash-many.h"
#include "macro.h"
#include "tool.h"

#define STATION_POLL_MS 200
#define STATION_REFRESH_MS 2000
#define STATION_SLICE_MS 250 /* how soon a stop request is seen while waiting */

/* Set by SIGINT/SIGTERM: the only state a signal handler may touch. */
static volatile sig_atomic_t stop_requested;

static void on_stop(int sig)
{
	(void)sig;
	stop_requested = 1;
}

/* A board seen in DFU mode and started; forgotten once its port is empty. */
struct seen {
	char path[64];
	char serial[128];
	struct many_board *board;
};

struct station {
	struct many_job job;
	bool no_hotplug; /* poll every STATION_POLL_MS */
	struct seen *seen;
	size_t n_seen, cap_seen;
	size_t started;
};

static bool path_present(const struct dfu_if_info *all, size_t n, const char *path)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(all[i].path, path) == 0)
			return true;
	return false;
}

/* Forget the boards whose port is empty (in any mode) and whose flash has
 * ended: the next board there is a new arrival. */
static void forget_gone(struct station *s, const struct dfu_if_info *all, size_t n)
{
	for (size_t i = 0; i < s->n_seen;) {
		bool done;

		pthread_mutex_lock(&s->job.lock);
		done = s->seen[i].board->finished;
		pthread_mutex_unlock(&s->job.lock);
		if (done && !path_present(all, n, s->seen[i].path))
			s->seen[i] = s->seen[--s->n_seen];
		else
			i++;
	}
}

/* The entry for the board at @info's port, or NULL.  A different serial on a
 * known port is a different board that arrived between two looks. */
static struct seen *find_seen(struct station *s, const struct dfu_if_info *info)
{
	for (size_t i = 0; i < s->n_seen; i++) {
		if (strcmp(s->seen[i].path, info->path) != 0)
			continue;
		if (strcmp(s->seen[i].serial, info->serial) == 0)
			return &s->seen[i];
		s->seen[i] = s->seen[--s->n_seen];
		return NULL;
	}
	return NULL;
}

static int remember(struct station *s, const struct dfu_if_info *info)
{
	if (s->n_seen == s->cap_seen) {
		size_t cap = s->cap_seen ? 2 * s->cap_seen : 16;
		struct seen *grown = realloc(s->seen, cap * sizeof(*grown));

		if (!grown) {
			tool_err("out of memory");
			return TOOL_EXIT_SOFTWARE;
		}
		s->seen = grown;
		s->cap_seen = cap;
	}
	snprintf(s->seen[s->n_seen].path, sizeof(s->seen[0].path), "%s", info->path);
	snprintf(s->seen[s->n_seen].serial, sizeof(s->seen[0].serial), "%s", info->serial);
	s->seen[s->n_seen].board = s->job.boards[s->job.n_boards - 1];
	s->n_seen++;
	return 0;
}

static bool count_reached(const struct station *s, const struct tool_options *o)
{
	return o->station_count && s->started >= o->station_count;
}

/* Start the DFU-mode boards of @list that are new. */
static int start_new(struct station *s, const struct dfu_if_info *list, size_t n)
{
	const struct tool_options *o = s->job.r->o;

	for (size_t i = 0; i < n && !count_reached(s, o); i++) {
		int ret;

		/* DFU mode only: a board flashed here comes back running its
		 * application, often with a DFU run-time interface; detaching that
		 * would flash it again after every flash */
		if (!list[i].dfu_mode || find_seen(s, &list[i]))
			continue;
		tool_msg(s->job.r->tool, "station: %04x:%04x at %s%s%s arrived", list[i].vid,
			 list[i].pid, list[i].path, list[i].serial[0] ? ", serial " : "",
			 list[i].serial);
		ret = tool_many_start(&s->job, &list[i]);
		if (ret)
			return ret;
		ret = remember(s, &list[i]);
		if (ret)
			return ret;
		s->started++;
	}
	return 0;
}

/* One look at the bus: every DFU interface for the ports, the matching ones
 * for the boards to flash. */
static int look(struct station *s)
{
	struct tool_run *r = s->job.r;
	struct dfu_if_info *all = NULL, *match = NULL;
	size_t n_all = 0, n_match = 0;
	struct dfu_error e = { 0 };
	int ret;

	ret = dfu_list(r->ctx, NULL, &all, &n_all, &e);
	if (ret >= 0)
		ret = dfu_list(r->ctx, &r->o->match, &match, &n_match, &e);
	if (ret < 0 && ret != DFU_E_NODEVICE) {
		ret = tool_run_fail(r, ret, &e);
		goto out;
	}
	forget_gone(s, all, n_all);
	ret = start_new(s, match, n_match);
out:
	dfu_if_info_free(all, n_all);
	dfu_if_info_free(match, n_match);
	return ret;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

	/* a signal ends the sleep early; the loop then sees stop_requested */
	(void)nanosleep(&ts, NULL);
}

/* Every board of --count has finished. */
static bool all_counted(struct station *s, const struct tool_options *o)
{
	bool done;

	if (!count_reached(s, o))
		return false;
	pthread_mutex_lock(&s->job.lock);
	done = s->job.n_finished == s->job.n_boards;
	pthread_mutex_unlock(&s->job.lock);
	return done;
}

/*
 * Until the next look: a device arrived or left, STATION_REFRESH_MS passed
 * (a flash that ended after its board left), a stop was asked for, or the
 * last board of --count finished.
 * Listing opens every DFU device to read its strings, also those being
 * flashed, so with hotplug events the station lists only when they say so.
 */
static void wait_for_change(struct station *s)
{
	struct dfu_error e = { 0 };

	for (unsigned waited = 0;
	     !stop_requested && !all_counted(s, s->job.r->o) && waited < STATION_REFRESH_MS;
	     waited += STATION_SLICE_MS) {
		int r;

		if (s->no_hotplug) {
			sleep_ms(STATION_POLL_MS);
			return;
		}
		r = dfu_wait_bus_change(s->job.r->ctx, STATION_SLICE_MS, &e);
		if (r == 1)
			return;
		if (r < 0) {
			tool_msg(s->job.r->tool,
				 "station: no USB hotplug events here (%s): "
				 "looking every %d ms",
				 r == DFU_E_UNSUPPORTED ? "not supported" : e.message,
				 STATION_POLL_MS);
			s->no_hotplug = true;
		}
	}
}

/* SIGINT/SIGTERM on the main thread only: the boards' threads start with them
 * blocked (they inherit the mask of the thread that creates them). */
static void catch_stop(sigset_t *old)
{
	struct sigaction sa = { .sa_handler = on_stop };
	sigset_t stops;

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigemptyset(&stops);
	sigaddset(&stops, SIGINT);
	sigaddset(&stops, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &stops, old);
}

static int station_loop(struct station *s)
{
	const struct tool_options *o = s->job.r->o;
	sigset_t old;
	int ret = 0;

	catch_stop(&old);
	while (!stop_requested && !all_counted(s, o)) {
		ret = look(s);
		if (ret)
			break;
		/* the signals are let through only while waiting */
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		wait_for_change(s);
		catch_stop(&old);
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (stop_requested)
		tool_msg(s->job.r->tool, "station: stopping; waiting for the flashes under way");
	return ret;
}

int cmd_station(struct tool_run *r)
{
	struct station s = { 0 };
	int ret;

	ret = tool_many_init(&s.job, r, "station");
	if (ret)
		goto out;
	tool_msg(r->tool, "station: flashing %s on every matching board that arrives%s",
		 r->o->download_path, r->o->station_count ? "" : "; stop with Ctrl-C");
	ret = station_loop(&s);
	tool_many_wait(&s.job);
	if (!ret)
		ret = tool_many_summary(&s.job);
out:
	free(s.seen);
	tool_many_release(&s.job);
	return ret;
}
