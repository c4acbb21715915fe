/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * src/tool/: the dfuflash command line, one file per command behind the
 * command tables, the only code that prints or exits.  May use libdfuflash
 * through its public header dfuflash.h and src/util; never a header inside
 * src/lib (the build does not let it see one).
 *
 * This header: exit codes, the command table, file I/O helpers.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "dfuflash.h"

/* Exit codes: sysexits(3) where dfu-util already uses them, plus our own.
 * Documented in `dfuflash --help` and man/dfuflash.1. */
enum tool_exit {
	TOOL_EXIT_OK = 0,
	TOOL_EXIT_FAILURE = 1,	  /* `image suffix check`: file has no valid suffix */
	TOOL_EXIT_USAGE = 64,	  /* EX_USAGE: bad command line */
	TOOL_EXIT_DATAERR = 65,	  /* EX_DATAERR: bad firmware data */
	TOOL_EXIT_NOINPUT = 66,	  /* EX_NOINPUT: input file missing or unreadable */
	TOOL_EXIT_NODEVICE = 69,  /* EX_UNAVAILABLE: no matching device */
	TOOL_EXIT_SOFTWARE = 70,  /* EX_SOFTWARE: internal error, out of memory */
	TOOL_EXIT_CANTCREAT = 73, /* EX_CANTCREAT: output exists or cannot be written */
	TOOL_EXIT_IOERR = 74,	  /* EX_IOERR: USB or file I/O error */
	TOOL_EXIT_TEMPFAIL = 75,  /* EX_TEMPFAIL: device busy, try again */
	TOOL_EXIT_PROTOCOL = 76,  /* EX_PROTOCOL: DFU protocol error / device error status */
	TOOL_EXIT_NOPERM = 77,	  /* EX_NOPERM: no permission to open the device */
	TOOL_EXIT_VERIFY = 80,	  /* verify mismatch */
	TOOL_EXIT_NOAPP = 81,	  /* flashed, but the application did not start */
};

struct tool_ctx {
	const char *prog;
	int verbose;
	bool quiet;
	bool as_dfu_util; /* installed or linked under the name dfu-util */
	/* reads of a few bytes (option bytes, OTP read-back): no progress lines */
	bool progress_off;
};

struct tool_cmd {
	const char *name;
	int (*run)(struct tool_ctx *ctx, int argc, char **argv);
	const char *help;
};

/* output.c */
void tool_msg(struct tool_ctx *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void tool_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void tool_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void tool_hint(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Write @s with control characters escaped (\n, \t, \r, \xHH): for names
 * and strings from files or devices in text output.  tool_msg, tool_warn,
 * tool_err and tool_hint escape their whole message this way. */
void tool_put_escaped(FILE *f, const char *s);
/* Print "dfuflash: error: <object>: <where>: <message>" and the hint. */
void tool_report(const char *object, const struct dfu_error *e);
/* Per thread: forget, then read, the first error line printed since. */
void tool_error_capture_begin(void);
const char *tool_error_captured(void);
/* This thread's first error since tool_error_capture_begin(): its message,
 * the hint printed after it and its cause code ("" when none). */
struct tool_error_record {
	char message[512];
	char hint[512];
	char cause[40];
};
void tool_error_captured_copy(struct tool_error_record *out);
/* The exit code for a library error. */
int tool_exit_for(int err);
void tool_print_exit_codes(FILE *f);

/* The "schema" number of every top-level --json object; documented, with
 * every field, in man/dfuflash-json.5.  Raised when a field changes meaning
 * or goes away (new fields do not raise it). */
#define TOOL_JSON_SCHEMA 1

/* A tiny streaming JSON writer for --json output on stdout. */
struct json_out {
	FILE *f;
	int depth;
	bool first[32];
};
void json_begin(struct json_out *j, FILE *f);
void json_obj_open(struct json_out *j, const char *key);
void json_obj_close(struct json_out *j);
void json_arr_open(struct json_out *j, const char *key);
void json_arr_close(struct json_out *j);
void json_str(struct json_out *j, const char *key, const char *v);
void json_uint(struct json_out *j, const char *key, uint64_t v);
void json_int(struct json_out *j, const char *key, int64_t v);
void json_bool(struct json_out *j, const char *key, bool v);
void json_null(struct json_out *j, const char *key);
void json_hex32(struct json_out *j, const char *key, uint32_t v); /* "0a1b2c3d" */
void json_end(struct json_out *j);
/* "error": null for @code 0, else this thread's first captured error: message, hint (or
 * null) and its cause code: the library's (e.g. "dfu.crc_mismatch"), else
 * one for the exit code ("tool.no_device"). */
void tool_json_error(struct json_out *j, int code);
/* The same for a @rec copied from another thread (a board of flash --all). */
void tool_json_error_record(struct json_out *j, int code, const struct tool_error_record *rec);
/* The cause code of @rec, else the one for the exit status @code. */
const char *tool_error_cause(const struct tool_error_record *rec, int code);

/* image-io.c */
/*
 * Read and parse a firmware file.  Returns 0, or an exit code after printing
 * the error (naming @path).  With opts->format AUTO a ".dfu"/".dfuse" name
 * makes a missing DFU suffix an error.
 */
int tool_load_image(const char *path, const struct dfu_parse_opts *opts, struct dfu_image **out);
/* The same from @len bytes of @path already read (several boards, one read). */
int tool_parse_image(const char *path, const uint8_t *data, size_t len,
		     const struct dfu_parse_opts *opts, struct dfu_image **out);
/* What tool_load_image() makes of @opts for @path (a ".dfu" name expects a
 * suffix; a ".hex", ".srec" or ".elf" name sets the format, returned). */
enum dfu_format tool_input_opts(const char *path, struct dfu_parse_opts *o);
/* Whether @path (a firmware file, or "-") can be opened; returns 0, or
 * TOOL_EXIT_NOINPUT after printing the error.  Run before any device search
 * so that a typo is reported at once, not after --wait. */
int tool_check_input(const char *path);
/* Read a whole file; returns 0 or an exit code after printing the error. */
int tool_read_file(const char *path, uint8_t **data, size_t *len);
/*
 * Write @len bytes to @path through a temporary file in the same directory
 * and rename(2), so a reader never sees half a file and a failure leaves the
 * old file untouched.  tool_write_file() refuses an existing @path (the
 * hint names --force); tool_replace_file() replaces it, keeping its mode.
 * Both return 0 or an exit code after printing the error.
 */
int tool_write_file(const char *path, const uint8_t *data, size_t len);
int tool_replace_file(const char *path, const uint8_t *data, size_t len);

/* Whether an existing output file may be replaced (--force). */
enum tool_clobber {
	TOOL_KEEP_EXISTING,    /* an existing name: exit 73, hint --force */
	TOOL_REPLACE_EXISTING, /* a regular file is replaced, keeping its mode */
};

/*
 * An output file written as it goes (--trace): created as a temporary file
 * in the same directory, renamed over @path by tool_outfile_commit().  A
 * symbolic link at @path is never followed: it counts as existing, and is
 * not replaced.  open and commit return 0 or an exit code after printing
 * the error (73: exists or cannot be created; 74: writing failed, as ENOSPC).
 * @path is borrowed until commit or abort.
 */
struct tool_outfile {
	const char *path;
	char tmp[4096];
	int fd;
	FILE *fp;
	mode_t mode;
	bool replacing;
};
int tool_outfile_open(struct tool_outfile *f, const char *path, enum tool_clobber clobber);
/* A stdio stream on the temporary file, owned by @f; NULL on failure. */
FILE *tool_outfile_stream(struct tool_outfile *f);
int tool_outfile_commit(struct tool_outfile *f);
/* Remove the temporary file; @path is untouched. */
void tool_outfile_abort(struct tool_outfile *f);

/* `read -`: exit 64 after a message when stdout is a terminal, else 0. */
int tool_check_stdout_for_data(void);
/* Write @len bytes to standard output; 0, or 74 after a message. */
int tool_write_stdout(const uint8_t *data, size_t len);

/* Strict number options: print an error naming the option and return false. */
bool tool_parse_u32(const char *opt, const char *s, uint32_t *out);
bool tool_parse_hex16(const char *opt, const char *s, uint16_t *out);
bool tool_parse_u8(const char *opt, const char *s, uint8_t *out);

/* cmd-image.c */
int cmd_image(struct tool_ctx *ctx, int argc, char **argv);
/* cmd-prefix.c: `image prefix add|check|delete FILE` (NXP LPC DFU prefix) */
int cmd_image_prefix(struct tool_ctx *ctx, const char *op, const char *path);
/* device-run.c: everything that is not `image`, in both spellings */
int cmd_device(struct tool_ctx *ctx, int argc, char **argv);
/* cmd-help.c: `help` and `version`; the whole help text, and the part on
 * the device commands and options (both spellings) */
int cmd_help(struct tool_ctx *ctx, int argc, char **argv);
int cmd_version(struct tool_ctx *ctx, int argc, char **argv);
void tool_usage(FILE *f);
/* The seven-line banner dfu-util prints first on stdout (dfu-util spelling). */
void tool_print_banner(const struct tool_ctx *ctx, FILE *f);
void tool_options_usage(FILE *f);
