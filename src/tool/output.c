// SPDX-License-Identifier: GPL-2.0-or-later
/* Messages, the error report format, exit codes and a small JSON writer.
 * Human text goes to stderr; data and JSON to stdout. */
#include "config.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "output.h"
#include "util.h"

void tool_put_escaped(FILE *f, const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '\n')
			fputs("\\n", f);
		else if (*p == '\r')
			fputs("\\r", f);
		else if (*p == '\t')
			fputs("\\t", f);
		else if (*p < 0x20 || *p == 0x7f)
			fprintf(f, "\\x%02x", *p);
		else
			fputc(*p, f);
	}
}

/*
 * One line of text on stderr: @prefix, then the message with its control
 * characters escaped, so a file name or a device string holding a newline
 * or an escape sequence cannot forge a line or move the cursor.
 */
static void line_escaped(const char *prefix, const char *fmt, va_list ap)
{
	char stack[1024];
	char *heap = NULL;
	const char *text = stack;
	va_list copy;
	int n;

	va_copy(copy, ap);
	n = vsnprintf(stack, sizeof(stack), fmt, copy);
	va_end(copy);
	if (n >= (int)sizeof(stack) && vasprintf(&heap, fmt, ap) >= 0)
		text = heap;
	/* whole lines: several boards may be flashed by as many threads */
	flockfile(stderr);
	fputs(prefix, stderr);
	tool_put_escaped(stderr, n < 0 ? fmt : text);
	fputc('\n', stderr);
	funlockfile(stderr);
	free(heap);
}

void tool_msg(struct tool_ctx *ctx, const char *fmt, ...)
{
	va_list ap;

	if (ctx && ctx->quiet)
		return;
	va_start(ap, fmt);
	line_escaped("", fmt, ap);
	va_end(ap);
}

/*
 * The first error this thread printed since tool_error_capture_begin(), the
 * hint printed after it and its cause code: what a board's result carries
 * when several boards run at once, and the --json result's "error".
 */
static _Thread_local struct tool_error_record captured;

void tool_error_capture_begin(void)
{
	memset(&captured, 0, sizeof(captured));
}

const char *tool_error_captured(void)
{
	return captured.message;
}

void tool_error_captured_copy(struct tool_error_record *out)
{
	*out = captured;
}

static void prefixed(const char *prefix, const char *fmt, va_list ap)
{
	char p[32];
	va_list copy;

	va_copy(copy, ap);
	if (!captured.message[0] && strcmp(prefix, "error: ") == 0)
		vsnprintf(captured.message, sizeof(captured.message), fmt, copy);
	va_end(copy);
	snprintf(p, sizeof(p), "dfuflash: %s", prefix);
	line_escaped(p, fmt, ap);
}

void tool_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	prefixed("warning: ", fmt, ap);
	va_end(ap);
}

void tool_err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	prefixed("error: ", fmt, ap);
	va_end(ap);
}

void tool_hint(const char *fmt, ...)
{
	va_list ap;

	if (captured.message[0] && !captured.hint[0]) {
		va_start(ap, fmt);
		vsnprintf(captured.hint, sizeof(captured.hint), fmt, ap);
		va_end(ap);
	}
	va_start(ap, fmt);
	line_escaped("hint: ", fmt, ap);
	va_end(ap);
}

void tool_report(const char *object, const struct dfu_error *e)
{
	const char *msg = e->message[0] ? e->message : dfu_strerror(e->err);
	char ctx[512] = "", dev[512] = "";
	size_t n = 0;

	if (!captured.message[0] && e->code[0])
		snprintf(captured.cause, sizeof(captured.cause), "%s", e->code);

	/* "<op>: <where>: " unless the message already starts with the op */
	if (e->op[0] && strncmp(msg, e->op, strlen(e->op)) != 0)
		n += (size_t)snprintf(ctx + n, sizeof(ctx) - n, "%s: ", e->op);
	if (e->where[0] && n < sizeof(ctx))
		snprintf(ctx + n, sizeof(ctx) - n, "%s: ", e->where);
	/* " (state dfuERROR, status errVENDOR: ..., LIBUSB_ERROR_PIPE)" unless
	 * the message already names the status */
	if (e->have_state && !strstr(msg, dfu_status_name(e->status)))
		snprintf(dev, sizeof(dev), " (state %s, status %s: %s%s%s)",
			 dfu_state_name(e->state), dfu_status_name(e->status),
			 e->istring[0] ? e->istring : dfu_status_text(e->status),
			 e->usb_name ? ", " : "", e->usb_name ? e->usb_name : "");
	else if (e->usb_name && !strstr(msg, e->usb_name))
		snprintf(dev, sizeof(dev), " (%s)", e->usb_name);
	flockfile(stderr); /* the error, its detail and hint together */
	tool_err("%s: %s%s%s", object, ctx, msg, dev);
	/* an interrupted download: what the device's memory holds now */
	if (e->detail[0]) {
		fputs("dfuflash: state of the device: ", stderr);
		tool_put_escaped(stderr, e->detail);
		fputc('\n', stderr);
	}
	if (e->hint)
		tool_hint("%s", e->hint);
	funlockfile(stderr);
}

int tool_exit_for(int err)
{
	switch (err) {
	case DFU_OK:
		return TOOL_EXIT_OK;
	case DFU_E_INVAL:
		return TOOL_EXIT_USAGE;
	case DFU_E_FORMAT:
	case DFU_E_RANGE:
	case DFU_E_UNSUPPORTED:
	case DFU_E_CONFLICT:
	case DFU_E_NOTFOUND:
		return TOOL_EXIT_DATAERR;
	case DFU_E_MEMMAP:
		return TOOL_EXIT_DATAERR;
	case DFU_E_IO:
	case DFU_E_USB_PIPE:
	case DFU_E_USB_TIMEOUT:
	case DFU_E_USB_NODEV:
	case DFU_E_USB_IO:
	case DFU_E_USB_OVERFLOW:
	case DFU_E_USB_OTHER:
		return TOOL_EXIT_IOERR;
	case DFU_E_USB_ACCESS:
		return TOOL_EXIT_NOPERM;
	case DFU_E_USB_BUSY:
		return TOOL_EXIT_TEMPFAIL;
	case DFU_E_NODEVICE:
		return TOOL_EXIT_NODEVICE;
	case DFU_E_AMBIGUOUS:
		return TOOL_EXIT_USAGE;
	case DFU_E_DEVSTATUS:
	case DFU_E_PROTOCOL:
	case DFU_E_DEADLINE:
		return TOOL_EXIT_PROTOCOL;
	case DFU_E_VERIFY:
		return TOOL_EXIT_VERIFY;
	case DFU_E_NOAPP:
		return TOOL_EXIT_NOAPP;
	case DFU_E_EXISTS:
		return TOOL_EXIT_CANTCREAT;
	case DFU_E_NOMEM:
	default:
		return TOOL_EXIT_SOFTWARE;
	}
}

/* The cause code of an error the library did not classify: its exit code's. */
static const char *exit_cause(int code)
{
	switch (code) {
	case TOOL_EXIT_FAILURE:
		return "tool.no_suffix";
	case TOOL_EXIT_USAGE:
		return "tool.usage";
	case TOOL_EXIT_DATAERR:
		return "tool.bad_data";
	case TOOL_EXIT_NOINPUT:
		return "tool.no_input";
	case TOOL_EXIT_NODEVICE:
		return "tool.no_device";
	case TOOL_EXIT_CANTCREAT:
		return "tool.cannot_create";
	case TOOL_EXIT_IOERR:
		return "tool.io";
	case TOOL_EXIT_TEMPFAIL:
		return "tool.busy";
	case TOOL_EXIT_PROTOCOL:
		return "tool.protocol";
	case TOOL_EXIT_NOPERM:
		return "tool.permission";
	case TOOL_EXIT_VERIFY:
		return "tool.verify_mismatch";
	case TOOL_EXIT_NOAPP:
		return "tool.no_application";
	default:
		return "tool.internal";
	}
}

const char *tool_error_cause(const struct tool_error_record *rec, int code)
{
	return rec->cause[0] ? rec->cause : exit_cause(code);
}

void tool_json_error_record(struct json_out *j, int code, const struct tool_error_record *rec)
{
	if (code == 0) {
		json_null(j, "error");
		return;
	}
	json_obj_open(j, "error");
	json_str(j, "message", rec->message[0] ? rec->message : "failed (see the exit code)");
	json_str(j, "hint", rec->hint[0] ? rec->hint : NULL);
	json_str(j, "cause", tool_error_cause(rec, code));
	json_obj_close(j);
}

void tool_json_error(struct json_out *j, int code)
{
	tool_json_error_record(j, code, &captured);
}

void tool_print_exit_codes(FILE *f)
{
	fputs("Exit status:\n"
	      "   0  success\n"
	      "   1  `image suffix check`: the file has no valid DFU suffix\n"
	      "  64  usage error (bad option or argument), more than one matching device\n"
	      "  65  bad firmware data (format, checksum, CRC, sizes, conflicting bytes)\n"
	      "  66  input file missing or unreadable\n"
	      "  69  no matching device (with dfu-util's options: 74, and 74 for more\n"
	      "      than one matching device, as dfu-util)\n"
	      "  70  internal error (out of memory)\n"
	      "  73  output file exists (use --force) or cannot be created\n"
	      "  74  USB or file I/O error\n"
	      "  75  device busy, try again\n"
	      "  76  DFU protocol error or error status reported by the device\n"
	      "  77  permission denied opening the device\n"
	      "  80  verify mismatch\n"
	      "  81  flashed, but the application did not start\n",
	      f);
}

/* --- JSON -------------------------------------------------------------- */

void json_begin(struct json_out *j, FILE *f)
{
	memset(j, 0, sizeof(*j));
	j->f = f;
	j->first[0] = true;
}

/*
 * A JSON string that is valid UTF-8 whatever @s holds (RFC 8259 section 8.1):
 * well-formed sequences are copied, every other byte (a Latin-1 file name,
 * a damaged device string) becomes U+FFFD, never a raw byte.
 */
static void json_escape(FILE *f, const char *s)
{
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p >= 0x80) {
			size_t n = util_utf8_len(p, strnlen((const char *)p, 4));

			if (n == 0) {
				fputs("\\ufffd", f);
				continue;
			}
			fwrite(p, 1, n, f);
			p += n - 1;
			continue;
		}
		switch (*p) {
		case '"':
			fputs("\\\"", f);
			break;
		case '\\':
			fputs("\\\\", f);
			break;
		case '\n':
			fputs("\\n", f);
			break;
		case '\r':
			fputs("\\r", f);
			break;
		case '\t':
			fputs("\\t", f);
			break;
		default:
			if (*p < 0x20 || *p == 0x7f)
				fprintf(f, "\\u%04x", *p);
			else
				fputc(*p, f);
		}
	}
	fputc('"', f);
}

static void json_value_prefix(struct json_out *j, const char *key)
{
	if (!j->first[j->depth])
		fputc(',', j->f);
	j->first[j->depth] = false;
	if (key) {
		json_escape(j->f, key);
		fputc(':', j->f);
	}
}

void json_str(struct json_out *j, const char *key, const char *v)
{
	json_value_prefix(j, key);
	if (v)
		json_escape(j->f, v);
	else
		fputs("null", j->f);
}

void json_obj_open(struct json_out *j, const char *key)
{
	json_value_prefix(j, key);
	fputc('{', j->f);
	j->depth++;
	j->first[j->depth] = true;
}

void json_obj_close(struct json_out *j)
{
	j->depth--;
	fputc('}', j->f);
}

void json_arr_open(struct json_out *j, const char *key)
{
	json_value_prefix(j, key);
	fputc('[', j->f);
	j->depth++;
	j->first[j->depth] = true;
}

void json_arr_close(struct json_out *j)
{
	j->depth--;
	fputc(']', j->f);
}

void json_uint(struct json_out *j, const char *key, uint64_t v)
{
	json_value_prefix(j, key);
	fprintf(j->f, "%" PRIu64, v);
}

void json_int(struct json_out *j, const char *key, int64_t v)
{
	json_value_prefix(j, key);
	fprintf(j->f, "%" PRId64, v);
}

void json_bool(struct json_out *j, const char *key, bool v)
{
	json_value_prefix(j, key);
	fputs(v ? "true" : "false", j->f);
}

void json_null(struct json_out *j, const char *key)
{
	json_value_prefix(j, key);
	fputs("null", j->f);
}

void json_hex32(struct json_out *j, const char *key, uint32_t v)
{
	json_value_prefix(j, key);
	fprintf(j->f, "\"%08" PRIx32 "\"", v);
}

void json_end(struct json_out *j)
{
	fputc('\n', j->f);
	fflush(j->f);
}
