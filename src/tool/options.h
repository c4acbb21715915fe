/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The device command line of dfuflash, parsed once into a struct before any
 * device is opened.  Two spellings reach the same struct:
 *
 *   dfu-util style   dfuflash -a 0 -s 0x08000000:leave -D fw.bin
 *   native commands  dfuflash flash fw.bin --address 0x08000000 --leave
 *
 * `dfuflash image ...`, `help` and `version` are dispatched by main.c before
 * this parser runs; it never sees them.  Parsing is pure: no device, no file
 * access (whether a file exists is checked when it is opened).
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "dfuflash.h"

enum tool_mode {
	TOOL_MODE_NONE = 0,
	TOOL_MODE_HELP,		/* -h: print tool_usage() on stdout, exit 0 */
	TOOL_MODE_VERSION,	/* -V: print the version, exit 0 */
	TOOL_MODE_LIST,		/* -l, `list` */
	TOOL_MODE_DOWNLOAD,	/* -D FILE, `flash FILE` */
	TOOL_MODE_UPLOAD,	/* -U FILE, `read OUT` */
	TOOL_MODE_VERIFY,	/* `verify FILE`: read back and compare, write nothing */
	TOOL_MODE_ERASE,	/* -s [ADDR]:mass-erase:force or :unprotect:force without
				 * -D/-U (DfuSe command mode), `erase` */
	TOOL_MODE_LEAVE,	/* -s [ADDR]:leave without -D/-U, `leave` */
	TOOL_MODE_DETACH,	/* -e alone, `detach` */
	TOOL_MODE_RESET,	/* -R alone: USB reset (dfu-util refuses it; harmless) */
	TOOL_MODE_READ_OPTIONS, /* `read-options`: decode the option bytes alt */
	TOOL_MODE_STATION,	/* `station FILE`: flash each matching board as it arrives */
	TOOL_MODE_QUIRKS,	/* `quirks`: what applies to each present device */
};

/* --progress: AUTO draws a bar only when stderr is a terminal. */
enum tool_progress {
	TOOL_PROGRESS_AUTO = 0,
	TOOL_PROGRESS_BAR,
	TOOL_PROGRESS_PLAIN, /* whole lines at >= 10 % steps, never '\r' */
	TOOL_PROGRESS_NONE,
};

#define TOOL_DETACH_DELAY_DEFAULT_S 5 /* -E default, as dfu-util */
#define TOOL_SECONDS_MAX 86400	      /* cap of every SECONDS value */

struct tool_options {
	enum tool_mode mode;
	/* No native command word was given: the engine keeps dfu-util 0.11's
	 * message wording and exit codes (74 for "no device") where they differ. */
	bool compat;

	/*
	 * -d -S -p -n -c -i -a, exactly as dfu-util 0.11 reads them:
	 * - -d RT[,DFU]: a half without ',' leaves match.dfu unset, which (as in
	 *   dfu-util) means any DFU-mode device matches; "RT," and "RT,:PID" copy
	 *   the missing DFU parts from RT; ",DFU" makes match.runtime "none".
	 * - -c 0 is "don't care" (config -1), as dfu-util.
	 * Strings point into argv or into this struct (serial): keep argv alive
	 * and do not copy the struct by value.
	 */
	struct dfu_match match;
	/* -s ADDR:modifiers, --address, --length, --leave, --jump, ... */
	struct dfu_flash_opts flash;
	const char *dfuse_arg; /* the -s string as given (for messages), or NULL */

	const char *download_path; /* -D, `flash FILE`, `verify FILE`; "-" = stdin */
	const char *upload_path;   /* -U, `read OUT` */
	enum dfu_format format;	   /* --format: input format override (AUTO = detect) */
	uint32_t upload_size;	   /* -Z: expected upload size, 0 = not given */

	int verbose; /* -v count */
	bool quiet;  /* -q: errors only */
	bool json;   /* --json: machine-readable stdout */
	enum tool_progress progress;

	bool wait;		 /* -w / --wait[=SECONDS]: wait for the device */
	uint32_t wait_s;	 /* 0 = forever (dfu-util's -w) */
	uint32_t detach_delay_s; /* -E, default TOOL_DETACH_DELAY_DEFAULT_S */
	const char *trace_path;	 /* --trace FILE: log every control request */
	enum dfu_poll_mode poll; /* --poll: AUTO (default), ANNOUNCED, INTERVAL */
	uint32_t poll_ms;	 /* --poll=MS */

	bool list;   /* -l / `list` */
	bool detach; /* -e / `detach`: detach a run-time device first (or only) */
	bool reset;  /* -R: USB reset after the operation */
	bool otp;    /* --otp: reserved (OTP writes, a later issue); stored only */

	/* several boards (cmd-station.c, flash-many.c) */
	bool all;		 /* --all: every matching DFU-mode device, in parallel */
	bool dry_run;		 /* --dry-run: open and plan, write nothing */
	uint32_t station_count;	 /* station --count N: stop after N boards, 0 = never */
	const char *record_path; /* --record FILE: one JSON line per board, appended */

	char *owned_serial; /* internal: the run-time half of "-S a,b" */
};

/*
 * Parse the whole device command line (argv[0] is the program name; argv's
 * pointer array may be reordered, its strings are never written).  Returns
 * 0 with *o filled (then tool_options_release(o) when done), or an exit code
 * (TOOL_EXIT_USAGE, TOOL_EXIT_SOFTWARE on out of memory) after printing one
 * "dfuflash: error: ..." line naming the option and the bad value, and
 * usually a "hint: ..." line.  *o is released on failure.
 */
int tool_options_parse(int argc, char **argv, struct tool_options *o);

/* Free what tool_options_parse() allocated; accepts NULL; idempotent. */
void tool_options_release(struct tool_options *o);

/* "download", "upload", ...: for messages and --json. */
const char *tool_mode_name(enum tool_mode m);
