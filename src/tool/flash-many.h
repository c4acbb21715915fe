/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Several boards at once: `flash FILE --all` and `station FILE`.  Each board
 * is flashed on a thread of its own with its own library context, under the
 * per-port lock the auto-flash wrapper takes, and ends with one result line
 * (or JSON event) and, with --record, one JSON line appended to the record.
 */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "device-run.h"

/* One board: a physical device, flashed once. */
struct many_board {
	struct many_job *job;
	char path[64];
	char serial[128];
	pthread_t thread;
	bool finished;			/* under job->lock */
	int code;			/* exit code: 0 = flashed */
	struct tool_error_record error; /* the first error, when code != 0 */
	struct dfu_flash_result res;
	uint64_t duration_ms;
};

/* What the boards of one command share. */
struct many_job {
	struct tool_run *r; /* the command's run: options, tool context, listing ctx */
	const char *operation;
	uint8_t *data; /* the firmware file, read once */
	size_t len;
	uint32_t crc;
	struct dfu_parse_opts po;
	int record_fd; /* --record, or -1 */
	pthread_mutex_t lock;
	pthread_cond_t changed;
	struct many_board **boards; /* in start order */
	size_t n_boards, cap_boards;
	size_t n_finished, n_failed;
	uint64_t t0_ms;
};

/* --all or station: the commands that print their own results. */
bool tool_many_wanted(const struct tool_options *o);
/* CLOCK_MONOTONIC in milliseconds. */
uint64_t tool_many_now_ms(void);

/* Read and check the firmware file, open the record; 0 or an exit code after
 * printing the error.  tool_many_release() in every case. */
int tool_many_init(struct many_job *j, struct tool_run *r, const char *operation);
void tool_many_release(struct many_job *j);
/* Start flashing the device of @info (one of its alts) on a new thread; 0 or
 * an exit code after printing the error. */
int tool_many_start(struct many_job *j, const struct dfu_if_info *info);
/* Wait until every started board has finished. */
void tool_many_wait(struct many_job *j);
/* Print the summary; the exit code of the command: 0 when every board was
 * flashed, else that of the first board that failed. */
int tool_many_summary(struct many_job *j);

/* flash-many.c: `flash FILE --all`; cmd-station.c: `station FILE` */
int cmd_flash_all(struct tool_run *r);
int cmd_station(struct tool_run *r);
