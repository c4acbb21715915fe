// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The device command line: dfu-util 0.11's options and dfuflash's native
 * commands, parsed and cross-checked into struct tool_options before any
 * device is opened.  dfu-util's parsing bugs (--wait eating the next option,
 * prefix-matched -s modifiers, octal addresses, atoi) are deliberately absent.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "options.h"
#include "tool.h"
#include "util.h"

enum {
	OPT_ADDRESS = 256,
	OPT_LENGTH,
	OPT_LEAVE,
	OPT_JUMP,
	OPT_MASS_ERASE,
	OPT_UNPROTECT,
	OPT_WILL_RESET,
	OPT_FORCE,
	OPT_VERIFY,
	OPT_FULL,
	OPT_WAIT_APP,
	OPT_TIMEOUT,
	OPT_JSON,
	OPT_PROGRESS,
	OPT_FORMAT,
	OPT_TRACE,
	OPT_OTP,
	OPT_ALL,
	OPT_DRY_RUN,
	OPT_STATION_COUNT,
	OPT_RECORD,
	OPT_POLL,
	OPT_COUNT,
};

/*
 * '-' first: words that are not options come back in order as option 1, so
 * `flash fw.bin --leave` works whatever POSIXLY_CORRECT says; ':' next: a
 * missing value is reported as ':' and we print the message ourselves.
 */
static const char short_opts[] = "-:hVvleE:d:p:c:i:a:S:t:U:D:Rs:Z:wn:q";

static const struct option long_opts[] = {
	/* dfu-util 0.11, every name and alias */
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "list", no_argument, NULL, 'l' },
	{ "detach", no_argument, NULL, 'e' },
	{ "detach-delay", required_argument, NULL, 'E' },
	{ "device", required_argument, NULL, 'd' },
	{ "path", required_argument, NULL, 'p' },
	{ "devnum", required_argument, NULL, 'n' },
	{ "cfg", required_argument, NULL, 'c' },
	{ "configuration", required_argument, NULL, 'c' },
	{ "intf", required_argument, NULL, 'i' },
	{ "interface", required_argument, NULL, 'i' },
	{ "alt", required_argument, NULL, 'a' },
	{ "altsetting", required_argument, NULL, 'a' },
	{ "serial", required_argument, NULL, 'S' },
	{ "transfer-size", required_argument, NULL, 't' },
	{ "upload", required_argument, NULL, 'U' },
	{ "upload-size", required_argument, NULL, 'Z' },
	{ "download", required_argument, NULL, 'D' },
	{ "reset", no_argument, NULL, 'R' },
	{ "dfuse-address", required_argument, NULL, 's' },
	/* dfu-util declares a required value and so swallows the next word
	 * (`--wait -l`); here the value exists only as --wait=SECONDS. */
	{ "wait", optional_argument, NULL, 'w' },
	/* native */
	{ "quiet", no_argument, NULL, 'q' },
	{ "address", required_argument, NULL, OPT_ADDRESS },
	{ "length", required_argument, NULL, OPT_LENGTH },
	{ "leave", no_argument, NULL, OPT_LEAVE },
	{ "jump", required_argument, NULL, OPT_JUMP },
	{ "mass-erase", no_argument, NULL, OPT_MASS_ERASE },
	{ "unprotect", no_argument, NULL, OPT_UNPROTECT },
	{ "will-reset", no_argument, NULL, OPT_WILL_RESET },
	{ "force", no_argument, NULL, OPT_FORCE },
	{ "verify", no_argument, NULL, OPT_VERIFY },
	{ "full", no_argument, NULL, OPT_FULL },
	{ "wait-app", optional_argument, NULL, OPT_WAIT_APP },
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "progress", required_argument, NULL, OPT_PROGRESS },
	{ "format", required_argument, NULL, OPT_FORMAT },
	{ "trace", required_argument, NULL, OPT_TRACE },
	{ "otp", no_argument, NULL, OPT_OTP },
	{ "all", no_argument, NULL, OPT_ALL },
	{ "dry-run", no_argument, NULL, OPT_DRY_RUN },
	{ "count", required_argument, NULL, OPT_STATION_COUNT },
	{ "record", required_argument, NULL, OPT_RECORD },
	{ "poll", required_argument, NULL, OPT_POLL },
	{ 0 },
};

struct native_cmd {
	const char *name;
	enum tool_mode mode;
	const char *arg; /* the one positional argument, or NULL */
};

static const struct native_cmd native_cmds[] = {
	{ "list", TOOL_MODE_LIST, NULL },	  { "flash", TOOL_MODE_DOWNLOAD, "FILE" },
	{ "read", TOOL_MODE_UPLOAD, "OUT" },	  { "verify", TOOL_MODE_VERIFY, "FILE" },
	{ "erase", TOOL_MODE_ERASE, NULL },	  { "leave", TOOL_MODE_LEAVE, NULL },
	{ "detach", TOOL_MODE_DETACH, NULL },	  { "read-options", TOOL_MODE_READ_OPTIONS, NULL },
	{ "station", TOOL_MODE_STATION, "FILE" }, { "quirks", TOOL_MODE_QUIRKS, NULL },
};

/* -s modifiers, matched whole: dfu-util's prefix matching let "l" mean leave
 * and then read past the end of the string. */
enum dfuse_mod { MOD_LEAVE, MOD_MASS_ERASE, MOD_UNPROTECT, MOD_WILL_RESET, MOD_FORCE, MOD_FAST };
static const char *const dfuse_mods[] = {
	[MOD_LEAVE] = "leave",	       [MOD_MASS_ERASE] = "mass-erase",
	[MOD_UNPROTECT] = "unprotect", [MOD_WILL_RESET] = "will-reset",
	[MOD_FORCE] = "force",	       [MOD_FAST] = "fast",
};
#define DFUSE_MODS_HINT                                                                            \
	"valid modifiers: leave, mass-erase, unprotect, will-reset, force, or a length"

/* dfu-util's -d values: -1 = any ("*" or empty), 0x10000 = none ("-"). */
#define ID_ANY (-1)
#define ID_NONE 0x10000

/* Where each setting came from, for messages about combinations. */
struct source {
	const char *address, *length, *leave, *jump, *mass_erase, *unprotect, *will_reset, *force,
	    *verify, *full, *wait_app, *timeout, *format, *upload_size, *otp, *reset, *poll;
	const char *all, *dry_run, *count, *record; /* flash-many.c, cmd-station.c */
};

struct parse_state {
	char label[40];		      /* the current option as typed: "-s", "--dfuse-address" */
	const char *given[OPT_COUNT]; /* value of each option that takes one: given once */
	char given_label[OPT_COUNT][40];
	const struct native_cmd *cmd;
	const char *cmd_arg;
	bool opt_l, opt_e, opt_D, opt_U, opt_s;
	bool s_mass_erase, s_unprotect; /* need :force */
	bool version;
	struct source src;
};

#define MODE_BIT(m) (1u << (m))
#define XFER_MODES                                                                                 \
	(MODE_BIT(TOOL_MODE_DOWNLOAD) | MODE_BIT(TOOL_MODE_UPLOAD) | MODE_BIT(TOOL_MODE_VERIFY) |  \
	 MODE_BIT(TOOL_MODE_ERASE) | MODE_BIT(TOOL_MODE_LEAVE))
#define DEVICE_MODES                                                                               \
	(XFER_MODES | MODE_BIT(TOOL_MODE_DETACH) | MODE_BIT(TOOL_MODE_RESET) |                     \
	 MODE_BIT(TOOL_MODE_READ_OPTIONS))

#define NUMBER_HINT "numbers are decimal, or hexadecimal with 0x; a leading 0 does not mean octal"
#define DEVICE_HINT                                                                                \
	"-d VID:PID[,VID:PID]: hexadecimal ids (0483, 0x0483, DF11), * = any, - = none; "          \
	"a leading ',' means DFU mode only"
#define COMMANDS_HINT "commands: list, flash FILE, read OUT, verify FILE, erase, leave, detach"

const char *tool_mode_name(enum tool_mode m)
{
	static const char *const names[] = {
		[TOOL_MODE_NONE] = "none",	   [TOOL_MODE_HELP] = "help",
		[TOOL_MODE_VERSION] = "version",   [TOOL_MODE_LIST] = "list",
		[TOOL_MODE_DOWNLOAD] = "download", [TOOL_MODE_UPLOAD] = "upload",
		[TOOL_MODE_VERIFY] = "verify",	   [TOOL_MODE_ERASE] = "erase",
		[TOOL_MODE_LEAVE] = "leave",	   [TOOL_MODE_DETACH] = "detach",
		[TOOL_MODE_RESET] = "reset",	   [TOOL_MODE_READ_OPTIONS] = "read-options",
		[TOOL_MODE_STATION] = "station",   [TOOL_MODE_QUIRKS] = "quirks",
	};

	if ((size_t)m < ARRAY_SIZE(names) && names[m])
		return names[m];
	return "unknown";
}

/* How a mode reads in "X does not apply to ..." messages. */
static const char *mode_phrase(enum tool_mode m)
{
	switch (m) {
	case TOOL_MODE_LIST:
		return "listing (-l, list)";
	case TOOL_MODE_DOWNLOAD:
		return "a download (-D, flash)";
	case TOOL_MODE_UPLOAD:
		return "an upload (-U, read)";
	case TOOL_MODE_VERIFY:
		return "verify";
	case TOOL_MODE_ERASE:
		return "an erase (:mass-erase, :unprotect, erase)";
	case TOOL_MODE_LEAVE:
		return "leave";
	case TOOL_MODE_DETACH:
		return "a detach (-e, detach)";
	case TOOL_MODE_RESET:
		return "a reset (-R alone)";
	default:
		return tool_mode_name(m);
	}
}

void tool_options_release(struct tool_options *o)
{
	if (!o)
		return;
	free(o->owned_serial);
	o->owned_serial = NULL;
	o->match.serial_runtime = NULL;
}

static void set_label(struct parse_state *st, int c, int longindex)
{
	if (longindex >= 0)
		snprintf(st->label, sizeof(st->label), "--%s", long_opts[longindex].name);
	else
		snprintf(st->label, sizeof(st->label), "-%c", c);
}

/* Options with a value are given once: dfu-util silently took the last. */
static bool once(struct parse_state *st, int c, const char *value)
{
	if (st->given[c]) {
		if (strcmp(st->given_label[c], st->label) == 0)
			tool_err("%s given twice ('%s' and '%s')", st->label, st->given[c], value);
		else
			tool_err("%s '%s' and %s '%s': the same option twice", st->given_label[c],
				 st->given[c], st->label, value);
		tool_hint("give each option once");
		return false;
	}
	st->given[c] = value;
	memcpy(st->given_label[c], st->label, sizeof(st->label));
	return true;
}

/* A strict number in [min, max], or an error naming the option and value. */
static bool number(const struct parse_state *st, const char *s, uint64_t min, uint64_t max,
		   uint64_t *out)
{
	int r = util_parse_u64(s, max, out);

	if (r == -EINVAL) {
		tool_err("%s '%s': not a number", st->label, s);
		tool_hint(NUMBER_HINT);
		return false;
	}
	if (r < 0 || *out < min) {
		tool_err("%s '%s': out of range (%" PRIu64 "..%" PRIu64 ")", st->label, s, min,
			 max);
		return false;
	}
	return true;
}

static bool number_u32(const struct parse_state *st, const char *s, uint32_t min, uint32_t max,
		       uint32_t *out)
{
	uint64_t v;

	if (!number(st, s, min, max, &v))
		return false;
	*out = (uint32_t)v;
	return true;
}

/* --- -d ------------------------------------------------------------------ */

/* One id of -d: empty = @dflt, "*" = any, "-" = none, else hexadecimal. */
static bool id_part(const struct parse_state *st, const char *arg, const char *what, const char *p,
		    size_t n, int dflt, int *out)
{
	char buf[16];
	uint64_t v;

	if (n == 0) {
		*out = dflt;
		return true;
	}
	if (n == 1 && (p[0] == '*' || p[0] == '-')) {
		*out = p[0] == '*' ? ID_ANY : ID_NONE;
		return true;
	}
	if (n < sizeof(buf)) {
		memcpy(buf, p, n);
		buf[n] = '\0';
		if (util_parse_u64_radix(buf, 16, 0xffff, &v) == 0) {
			*out = (int)v;
			return true;
		}
	}
	tool_err("%s '%s': %s '%.*s' is not a hexadecimal USB id (0000..ffff)", st->label, arg,
		 what, (int)n, p);
	tool_hint(DEVICE_HINT);
	return false;
}

/* What the ids of one half of -d are called in messages. */
struct id_names {
	const char *vendor, *product;
};
static const struct id_names runtime_ids = { "vendor id", "product id" };
static const struct id_names dfu_ids = { "DFU-mode vendor id", "DFU-mode product id" };

/* "VID[:PID]" of @n bytes at @p; missing parts take the defaults. */
static bool id_half(const struct parse_state *st, const char *arg, const struct id_names *names,
		    const char *p, size_t n, int *vid, int *pid)
{
	const char *colon = memchr(p, ':', n);

	if (colon && memchr(colon + 1, ':', n - (size_t)(colon + 1 - p))) {
		tool_err("%s '%s': more than one ':' in '%.*s'", st->label, arg, (int)n, p);
		tool_hint(DEVICE_HINT);
		return false;
	}
	if (!colon)
		return id_part(st, arg, names->vendor, p, n, *vid, vid);
	return id_part(st, arg, names->vendor, p, (size_t)(colon - p), *vid, vid) &&
	       id_part(st, arg, names->product, colon + 1, n - (size_t)(colon + 1 - p), *pid, pid);
}

static void id_fill(struct dfu_id_match *h, int vid, int pid)
{
	h->set = true;
	h->none = vid == ID_NONE || pid == ID_NONE;
	h->any_vid = vid == ID_ANY;
	h->any_pid = pid == ID_ANY;
	h->vid = vid >= 0 && vid <= 0xffff ? (uint16_t)vid : 0;
	h->pid = pid >= 0 && pid <= 0xffff ? (uint16_t)pid : 0;
}

/*
 * dfu-util's parse_vendprod(), strictly: ",DFU" matches no run-time device;
 * "RT,DFU" takes missing DFU parts from RT ("1d50:6018,:6017" is DFU-mode
 * 1d50:6017); "RT" alone leaves the DFU half unset (any DFU-mode device).
 */
static bool parse_device(const struct parse_state *st, const char *arg, struct dfu_match *m)
{
	const char *comma = strchr(arg, ',');
	int rt_vid = ID_ANY, rt_pid = ID_ANY, dfu_vid = ID_ANY, dfu_pid = ID_ANY;

	if (!*arg) {
		tool_err("%s '': empty device id", st->label);
		tool_hint(DEVICE_HINT);
		return false;
	}
	if (comma && strchr(comma + 1, ',')) {
		tool_err("%s '%s': more than one ','", st->label, arg);
		tool_hint(DEVICE_HINT);
		return false;
	}
	if (comma == arg) {
		rt_vid = rt_pid = ID_NONE;
	} else {
		if (!id_half(st, arg, &runtime_ids, arg,
			     comma ? (size_t)(comma - arg) : strlen(arg), &rt_vid, &rt_pid))
			return false;
		dfu_vid = rt_vid;
		dfu_pid = rt_pid;
	}
	if (comma && !id_half(st, arg, &dfu_ids, comma + 1, strlen(comma + 1), &dfu_vid, &dfu_pid))
		return false;
	id_fill(&m->runtime, rt_vid, rt_pid);
	if (comma)
		id_fill(&m->dfu, dfu_vid, dfu_pid);
	return true;
}

/* --- -S -p -a -------------------------------------------------------------- */

/* "serial[,serial_dfu]": without ',' both halves; an empty half is any. */
static int parse_serial(const char *arg, struct tool_options *o)
{
	const char *comma = strchr(arg, ',');
	const char *rt = arg, *dfu = arg;

	if (comma) {
		o->owned_serial = strndup(arg, (size_t)(comma - arg));
		if (!o->owned_serial) {
			tool_err("out of memory");
			return TOOL_EXIT_SOFTWARE;
		}
		rt = o->owned_serial;
		dfu = comma + 1;
	}
	o->match.serial_runtime = *rt ? rt : NULL;
	o->match.serial_dfu = *dfu ? dfu : NULL;
	return 0;
}

/* One decimal number 1..255 without a leading zero (as libusb paths print). */
static const char *path_number(const char *p, const char **why)
{
	unsigned v = 0;
	const char *start = p;

	if (*p == '0') {
		*why = "numbers start at 1 and have no leading zero";
		return NULL;
	}
	for (; *p >= '0' && *p <= '9'; p++) {
		v = v * 10 + (unsigned)(*p - '0');
		if (v > 255) {
			*why = "numbers are at most 255";
			return NULL;
		}
	}
	if (p == start) {
		*why = "expected a number";
		return NULL;
	}
	return p;
}

/* "BUS-PORT[.PORT]...", at most 7 ports (USB's tier limit). */
static bool parse_path(const struct parse_state *st, const char *arg)
{
	const char *why = NULL, *p = path_number(arg, &why);
	int ports = 0;

	if (p && *p != '-') {
		why = "expected '-' after the bus number";
		p = NULL;
	}
	while (p) {
		p = path_number(p + 1, &why);
		if (!p)
			break;
		if (++ports > 7) {
			why = "more than 7 port numbers";
			p = NULL;
		} else if (*p == '\0') {
			return true;
		} else if (*p != '.') {
			why = "expected '.' between port numbers";
			p = NULL;
		}
	}
	tool_err("%s '%s': not a USB port path: %s", st->label, arg, why);
	tool_hint("a path is BUS-PORT[.PORT...], e.g. 1-2 or 3-1.4, as `dfuflash list` shows it");
	return false;
}

/* dfu-util: a number is bAlternateSetting, anything else the iInterface name. */
static bool parse_alt(const struct parse_state *st, const char *arg, struct dfu_match *m)
{
	uint64_t v;
	int r = util_parse_u64(arg, 255, &v);

	if (r == -ERANGE) {
		tool_err("%s '%s': alternate setting out of range (0..255)", st->label, arg);
		return false;
	}
	if (r == 0) {
		m->alt = (int)v;
		return true;
	}
	if (!*arg) {
		tool_err("%s '': empty alternate setting name", st->label);
		tool_hint("-a takes a number (0) or the name (\"Internal Flash\") shown by "
			  "`dfuflash list`");
		return false;
	}
	m->alt_name = arg;
	return true;
}

/* --- -s -------------------------------------------------------------------- */

static void unknown_modifier(const char *label, const char *arg, const char *p, size_t n)
{
	const char *guess = NULL;

	for (size_t k = 0; k < ARRAY_SIZE(dfuse_mods); k++)
		if (strlen(dfuse_mods[k]) > n && strncmp(dfuse_mods[k], p, n) == 0)
			guess = guess ? "" : dfuse_mods[k];
	tool_err("%s '%s': unknown modifier '%.*s'", label, arg, (int)n, p);
	if (guess && *guess)
		tool_hint("modifiers are never abbreviated: did you mean ':%s'? " DFUSE_MODS_HINT,
			  guess);
	else
		tool_hint(DFUSE_MODS_HINT);
}

/* util_parse_u64() of the @n bytes at @p: -EINVAL when too long for a number. */
static int token_u32(const char *p, size_t n, uint64_t *v)
{
	char buf[64];

	if (n >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, p, n);
	buf[n] = '\0';
	return util_parse_u64(buf, UINT32_MAX, v);
}

/* The first token of -s: the address (strict, decimal or 0x). */
static bool dfuse_address(struct parse_state *st, const char *arg, const char *p, size_t n,
			  struct dfu_flash_opts *f)
{
	uint64_t v;
	int r = token_u32(p, n, &v);

	if (r < 0) {
		tool_err("%s '%s': address '%.*s' %s", st->label, arg, (int)n, p,
			 r == -ERANGE ? "is above 0xffffffff" : "is not a number");
		tool_hint(NUMBER_HINT "; e.g. -s 0x08000000:leave");
		return false;
	}
	if (st->src.address) {
		tool_err("%s '%s': address given twice (also by %s)", st->label, arg,
			 st->src.address);
		return false;
	}
	f->have_address = true;
	f->address = (uint32_t)v;
	st->src.address = "the -s address";
	return true;
}

/* dfu-util: any numeric token after the address is the upload length. */
static bool dfuse_length(struct parse_state *st, const char *arg, const char *p, size_t n,
			 struct dfu_flash_opts *f)
{
	uint64_t v;
	int r = token_u32(p, n, &v);

	if (r < 0 || v == 0) {
		tool_err("%s '%s': length '%.*s' %s", st->label, arg, (int)n, p,
			 r == -ERANGE ? "is above 0xffffffff"
			 : r < 0      ? "is not a number"
				      : "is zero");
		if (r == -EINVAL)
			tool_hint(NUMBER_HINT);
		return false;
	}
	if (st->src.length) {
		tool_err("%s '%s': length given twice (also by %s)", st->label, arg,
			 st->src.length);
		return false;
	}
	f->have_length = true;
	f->length = (uint32_t)v;
	st->src.length = "the -s length";
	return true;
}

/* A modifier of -s, matched whole. */
static bool dfuse_modifier(struct parse_state *st, const char *arg, const char *p, size_t n,
			   struct dfu_flash_opts *f)
{
	size_t k;

	for (k = 0; k < ARRAY_SIZE(dfuse_mods); k++)
		if (strlen(dfuse_mods[k]) == n && strncmp(dfuse_mods[k], p, n) == 0)
			break;
	switch (k) {
	case MOD_LEAVE:
		f->leave = true;
		st->src.leave = st->src.leave ? st->src.leave : "-s :leave";
		break;
	case MOD_MASS_ERASE:
		f->mass_erase = st->s_mass_erase = true;
		st->src.mass_erase = "-s :mass-erase";
		break;
	case MOD_UNPROTECT:
		f->unprotect = st->s_unprotect = true;
		st->src.unprotect = "-s :unprotect";
		break;
	case MOD_WILL_RESET:
		f->will_reset = true;
		st->src.will_reset = "-s :will-reset";
		break;
	case MOD_FORCE:
		f->force = true;
		st->src.force = st->src.force ? st->src.force : "-s :force";
		break;
	case MOD_FAST:
		/* dfu-util 0.12's "skip needless poll waits": always so here */
		break;
	default:
		unknown_modifier(st->label, arg, p, n);
		return false;
	}
	return true;
}

/*
 * "[ADDRESS][:token]...": the address (strict, decimal or 0x) comes first,
 * tokens are whole words or a length; empty tokens are skipped.
 */
static bool parse_dfuse(struct parse_state *st, const char *arg, struct tool_options *o)
{
	const char *p = arg;
	bool first = true;

	st->opt_s = true;
	o->dfuse_arg = arg;
	for (;; first = false) {
		const char *end = strchr(p, ':');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		bool ok;

		if (n == 0)
			ok = true; /* "-s :leave", "-s 0x08000000::leave" */
		else if (first)
			ok = dfuse_address(st, arg, p, n, &o->flash);
		else if (*p >= '0' && *p <= '9')
			ok = dfuse_length(st, arg, p, n, &o->flash);
		else
			ok = dfuse_modifier(st, arg, p, n, &o->flash);
		if (!ok)
			return false;
		if (!end)
			return true;
		p = end + 1;
	}
}

/* --- words and option errors ---------------------------------------------- */

static bool word(struct parse_state *st, const char *w)
{
	if (!st->cmd) {
		for (size_t k = 0; k < ARRAY_SIZE(native_cmds); k++) {
			if (strcmp(w, native_cmds[k].name) == 0) {
				st->cmd = &native_cmds[k];
				return true;
			}
		}
		if (!strcmp(w, "image") || !strcmp(w, "help") || !strcmp(w, "version")) {
			tool_err("'%s' must be the first word: dfuflash %s ...", w, w);
			return false;
		}
		if (st->opt_l || st->opt_D || st->opt_U || st->opt_e || st->opt_s) {
			tool_err("unexpected argument '%s'", w);
			tool_hint(
			    "dfu-util style takes no plain arguments; a file goes after -D or -U");
		} else {
			tool_err("unknown command '%s'", w);
			tool_hint(COMMANDS_HINT "; or dfu-util's options (-l, -D FILE, ...)");
		}
		return false;
	}
	if (st->cmd->arg && !st->cmd_arg) {
		st->cmd_arg = w;
		return true;
	}
	tool_err("%s: unexpected argument '%s'", st->cmd->name, w);
	if (st->cmd->arg)
		tool_hint("dfuflash %s %s [options]: one %s only", st->cmd->name, st->cmd->arg,
			  st->cmd->arg);
	else
		tool_hint("dfuflash %s takes no arguments", st->cmd->name);
	return false;
}

/* glibc: optopt is 0 for an unknown long option, the option for "--x=v". */
static void bad_option(int c, char **argv)
{
	const char *text = optind > 0 ? argv[optind - 1] : "";
	bool is_long = strncmp(text, "--", 2) == 0;
	int len = (int)strcspn(text, "=");

	if (c == ':') {
		if (is_long)
			tool_err("option '%.*s' needs a value", len, text);
		else
			tool_err("option '-%c' needs a value", optopt);
	} else if (optopt == 0) {
		tool_err("unknown or ambiguous option '%.*s'", len, text);
	} else if (is_long) {
		tool_err("option '%.*s' takes no value", len, text);
	} else {
		tool_err("unknown option '-%c'", optopt);
	}
	tool_hint("see `dfuflash --help`");
}

/* --- one option ------------------------------------------------------------ */

/* -d -p -n -c -i -a -S: which device and interface. */
static int selection_option(struct parse_state *st, int c, const char *arg, struct tool_options *o)
{
	uint32_t v;

	switch (c) {
	case 'd':
		if (!parse_device(st, arg, &o->match))
			return TOOL_EXIT_USAGE;
		break;
	case 'p':
		if (!parse_path(st, arg))
			return TOOL_EXIT_USAGE;
		o->match.path = arg;
		break;
	case 'n':
		/* dfu-util: atoi ("3x" was 3) */
		if (!number_u32(st, arg, 1, 127, &v))
			return TOOL_EXIT_USAGE;
		o->match.devnum = (int)v;
		break;
	case 'c':
		if (!number_u32(st, arg, 0, 255, &v))
			return TOOL_EXIT_USAGE;
		o->match.config = v ? (int)v : -1; /* dfu-util: -c 0 = don't care */
		break;
	case 'i':
		if (!number_u32(st, arg, 0, 255, &v))
			return TOOL_EXIT_USAGE;
		o->match.interface = (int)v;
		break;
	case 'a':
		if (!parse_alt(st, arg, &o->match))
			return TOOL_EXIT_USAGE;
		break;
	case 'S':
		return parse_serial(arg, o);
	}
	return 0;
}

/* dfu-util's other options: -l -e -E -U -Z -D -R -s -w -t. */
static int dfu_util_option(struct parse_state *st, int c, const char *arg, struct tool_options *o)
{
	uint32_t v;

	switch (c) {
	case 'l':
		st->opt_l = o->list = true;
		break;
	case 'e':
		st->opt_e = o->detach = true;
		break;
	case 'E':
		if (!number_u32(st, arg, 0, TOOL_SECONDS_MAX, &o->detach_delay_s))
			return TOOL_EXIT_USAGE;
		break;
	case 't':
		if (!number_u32(st, arg, 0, 0xffff, &v))
			return TOOL_EXIT_USAGE;
		o->flash.transfer_size = (uint16_t)v;
		break;
	case 'U':
		st->opt_U = true;
		o->upload_path = arg;
		break;
	case 'Z':
		if (!number_u32(st, arg, 0, UINT32_MAX, &o->upload_size))
			return TOOL_EXIT_USAGE;
		st->src.upload_size = "-Z";
		break;
	case 'D':
		st->opt_D = true;
		o->download_path = arg;
		break;
	case 'R':
		o->reset = true;
		st->src.reset = "-R";
		break;
	case 's':
		if (!parse_dfuse(st, arg, o))
			return TOOL_EXIT_USAGE;
		break;
	case 'w':
		o->wait = true;
		if (arg && !number_u32(st, arg, 0, TOOL_SECONDS_MAX, &o->wait_s))
			return TOOL_EXIT_USAGE;
		break;
	default:
		tool_err("internal error: option %d not handled", c);
		return TOOL_EXIT_SOFTWARE;
	}
	return 0;
}

/* --address --length --jump --wait-app --timeout: the native options with a value. */
static int native_value_option(struct parse_state *st, int c, const char *arg,
			       struct dfu_flash_opts *f)
{
	uint32_t v;

	switch (c) {
	case OPT_ADDRESS:
		if (!number_u32(st, arg, 0, UINT32_MAX, &f->address))
			return TOOL_EXIT_USAGE;
		if (st->src.address) {
			tool_err("--address '%s': address given twice (also by %s)", arg,
				 st->src.address);
			return TOOL_EXIT_USAGE;
		}
		f->have_address = true;
		st->src.address = "--address";
		break;
	case OPT_LENGTH:
		if (!number_u32(st, arg, 1, UINT32_MAX, &f->length))
			return TOOL_EXIT_USAGE;
		if (st->src.length) {
			tool_err("--length '%s': length given twice (also by %s)", arg,
				 st->src.length);
			return TOOL_EXIT_USAGE;
		}
		f->have_length = true;
		st->src.length = "--length";
		break;
	case OPT_JUMP:
		if (!number_u32(st, arg, 0, UINT32_MAX, &f->jump))
			return TOOL_EXIT_USAGE;
		f->have_jump = true;
		st->src.jump = "--jump";
		break;
	case OPT_WAIT_APP:
		f->wait_app = true;
		st->src.wait_app = "--wait-app";
		if (arg) {
			if (!number_u32(st, arg, 1, TOOL_SECONDS_MAX, &v))
				return TOOL_EXIT_USAGE;
			f->wait_app_ms = v * 1000;
		}
		break;
	case OPT_TIMEOUT:
		if (!number_u32(st, arg, 1, TOOL_SECONDS_MAX * 1000u, &f->timeout_ms))
			return TOOL_EXIT_USAGE;
		st->src.timeout = "--timeout";
		break;
	}
	return 0;
}

/* --leave --mass-erase --unprotect --will-reset --force --verify --full: as the
 * -s modifiers, and --verify and --full. */
static void native_flag_option(struct parse_state *st, int c, struct dfu_flash_opts *f)
{
	switch (c) {
	case OPT_LEAVE:
		f->leave = true;
		st->src.leave = "--leave";
		break;
	case OPT_MASS_ERASE:
		f->mass_erase = true;
		st->src.mass_erase = "--mass-erase";
		break;
	case OPT_UNPROTECT:
		f->unprotect = true;
		st->src.unprotect = "--unprotect";
		break;
	case OPT_WILL_RESET:
		f->will_reset = true;
		st->src.will_reset = "--will-reset";
		break;
	case OPT_FORCE:
		f->force = true;
		st->src.force = "--force";
		break;
	case OPT_VERIFY:
		f->verify = true;
		st->src.verify = "--verify";
		break;
	case OPT_FULL:
		f->full = true;
		st->src.full = "--full";
		break;
	}
}

/* --poll=auto|announced|MS: how a busy device is polled. */
static int poll_option(struct parse_state *st, const char *arg, struct tool_options *o)
{
	st->src.poll = "--poll";
	if (!strcmp(arg, "auto")) {
		o->poll = DFU_POLL_AUTO;
		return 0;
	}
	if (!strcmp(arg, "announced")) {
		o->poll = DFU_POLL_ANNOUNCED;
		return 0;
	}
	if (!*arg || !isdigit((unsigned char)*arg)) {
		tool_err("%s '%s': unknown polling", st->label, arg);
		tool_hint("--poll=auto (as the device allows), announced (bwPollTimeout) or a "
			  "number of ms between polls");
		return TOOL_EXIT_USAGE;
	}
	if (!number_u32(st, arg, 1, TOOL_SECONDS_MAX * 1000u, &o->poll_ms))
		return TOOL_EXIT_USAGE;
	o->poll = DFU_POLL_INTERVAL;
	return 0;
}

/* --json --progress --format --trace --otp --poll: the CLI's own settings. */
static int native_tool_option(struct parse_state *st, int c, const char *arg,
			      struct tool_options *o)
{
	switch (c) {
	case OPT_JSON:
		o->json = true;
		break;
	case OPT_PROGRESS:
		if (!strcmp(arg, "bar"))
			o->progress = TOOL_PROGRESS_BAR;
		else if (!strcmp(arg, "plain"))
			o->progress = TOOL_PROGRESS_PLAIN;
		else if (!strcmp(arg, "none"))
			o->progress = TOOL_PROGRESS_NONE;
		else if (!strcmp(arg, "auto"))
			o->progress = TOOL_PROGRESS_AUTO;
		else {
			tool_err("%s '%s': unknown progress style", st->label, arg);
			tool_hint(
			    "--progress=bar|plain|none (default: a bar when stderr is a terminal)");
			return TOOL_EXIT_USAGE;
		}
		break;
	case OPT_FORMAT:
		if (dfu_format_from_name(arg, &o->format) < 0) {
			tool_err("%s '%s': unknown format", st->label, arg);
			tool_hint("formats: bin, dfu, dfuse, hex, srec, elf");
			return TOOL_EXIT_USAGE;
		}
		st->src.format = "--format";
		break;
	case OPT_TRACE:
		if (!*arg) {
			tool_err("%s '': empty file name", st->label);
			return TOOL_EXIT_USAGE;
		}
		o->trace_path = arg;
		break;
	case OPT_OTP:
		o->otp = true;
		o->flash.otp = true;
		st->src.otp = "--otp";
		break;
	case OPT_POLL:
		return poll_option(st, arg, o);
	default:
		tool_err("internal error: option %d not handled", c);
		return TOOL_EXIT_SOFTWARE;
	}
	return 0;
}

/* --all --dry-run --count --record: several boards, or none written. */
static int many_option(struct parse_state *st, int c, const char *arg, struct tool_options *o)
{
	switch (c) {
	case OPT_ALL:
		o->all = true;
		st->src.all = "--all";
		return 0;
	case OPT_DRY_RUN:
		o->dry_run = true;
		st->src.dry_run = "--dry-run";
		return 0;
	case OPT_STATION_COUNT:
		st->src.count = "--count";
		return number_u32(st, arg, 1, UINT32_MAX, &o->station_count) ? 0 : TOOL_EXIT_USAGE;
	default:
		if (!*arg) {
			tool_err("%s '': empty file name", st->label);
			return TOOL_EXIT_USAGE;
		}
		st->src.record = "--record";
		o->record_path = arg;
		return 0;
	}
}

/* Returns 0, an exit code, or -1 for "stop: -h". */
static int option(struct parse_state *st, int c, char *arg, struct tool_options *o, char **argv)
{
	if (c == 1)
		return word(st, arg) ? 0 : TOOL_EXIT_USAGE;
	if (c == '?' || c == ':') {
		bad_option(c, argv);
		return TOOL_EXIT_USAGE;
	}
	if (arg && !once(st, c, arg))
		return TOOL_EXIT_USAGE;
	switch (c) {
	case 'h':
		o->mode = TOOL_MODE_HELP;
		return -1;
	case 'V':
		st->version = true;
		return 0;
	case 'v':
		o->verbose++;
		return 0;
	case 'q':
		o->quiet = true;
		return 0;
	case 'd':
	case 'p':
	case 'n':
	case 'c':
	case 'i':
	case 'a':
	case 'S':
		return selection_option(st, c, arg, o);
	case OPT_ADDRESS:
	case OPT_LENGTH:
	case OPT_JUMP:
	case OPT_WAIT_APP:
	case OPT_TIMEOUT:
		return native_value_option(st, c, arg, &o->flash);
	case OPT_LEAVE:
	case OPT_MASS_ERASE:
	case OPT_UNPROTECT:
	case OPT_WILL_RESET:
	case OPT_FORCE:
	case OPT_VERIFY:
	case OPT_FULL:
		native_flag_option(st, c, &o->flash);
		return 0;
	case OPT_JSON:
	case OPT_PROGRESS:
	case OPT_FORMAT:
	case OPT_TRACE:
	case OPT_OTP:
	case OPT_POLL:
		return native_tool_option(st, c, arg, o);
	case OPT_ALL:
	case OPT_DRY_RUN:
	case OPT_STATION_COUNT:
	case OPT_RECORD:
		return many_option(st, c, arg, o);
	default:
		return dfu_util_option(st, c, arg, o);
	}
}

/* --- the whole line ---------------------------------------------------------- */

/* @src (when set) must not be used in @mode unless @mask has it. */
static bool applies(const char *src, enum tool_mode mode, unsigned mask, const char *hint)
{
	if (!src || (mask & MODE_BIT(mode)))
		return true;
	tool_err("%s does not apply to %s", src, mode_phrase(mode));
	if (hint)
		tool_hint("%s", hint);
	return false;
}

static bool native_mode(struct parse_state *st, struct tool_options *o)
{
	const struct native_cmd *cmd = st->cmd;
	const char *clash = st->opt_l	? "-l"
			    : st->opt_D ? "-D"
			    : st->opt_U ? "-U"
			    : st->opt_e ? "-e"
					: NULL;

	if (clash) {
		tool_err("%s cannot be combined with the `%s` command", clash, cmd->name);
		tool_hint("use dfu-util's options (-l, -D FILE, -U FILE, -e) or a command word, "
			  "not both");
		return false;
	}
	if (cmd->arg && !st->cmd_arg) {
		tool_err("%s: missing %s", cmd->name, cmd->arg);
		tool_hint("dfuflash %s %s [options]", cmd->name, cmd->arg);
		return false;
	}
	o->mode = cmd->mode;
	switch (cmd->mode) {
	case TOOL_MODE_LIST:
		o->list = true;
		break;
	case TOOL_MODE_DOWNLOAD:
	case TOOL_MODE_VERIFY:
	case TOOL_MODE_STATION:
		o->download_path = st->cmd_arg;
		break;
	case TOOL_MODE_UPLOAD:
		o->upload_path = st->cmd_arg;
		break;
	case TOOL_MODE_ERASE:
		/* unprotect erases everything by itself (read-out protection regression) */
		if (!o->flash.unprotect) {
			o->flash.mass_erase = true;
			st->src.mass_erase = st->src.mass_erase ? st->src.mass_erase : "erase";
		}
		break;
	case TOOL_MODE_LEAVE:
		o->flash.leave = true;
		st->src.leave = st->src.leave ? st->src.leave : "leave";
		break;
	case TOOL_MODE_DETACH:
		o->detach = true;
		break;
	default:
		break;
	}
	return true;
}

/* dfu-util's mode rules, with an error where dfu-util let the last one win. */
static bool compat_mode(struct parse_state *st, struct tool_options *o)
{
	const struct dfu_flash_opts *f = &o->flash;

	o->compat = true;
	if (st->opt_l) {
		const char *clash = st->opt_D	? "-D"
				    : st->opt_U ? "-U"
				    : st->opt_e ? "-e"
				    : st->opt_s ? "-s"
						: NULL;

		if (clash) {
			tool_err("-l lists devices; it cannot be combined with %s", clash);
			tool_hint("list first, then run again with %s", clash);
			return false;
		}
		o->mode = TOOL_MODE_LIST;
		return true;
	}
	if (st->opt_D && st->opt_U) {
		tool_err("-D '%s' and -U '%s': download and upload cannot be combined",
			 o->download_path, o->upload_path);
		tool_hint("run dfuflash twice, or use --verify to read back what -D wrote");
		return false;
	}
	if (st->opt_D && (f->mass_erase || f->unprotect) &&
	    strcmp(o->download_path, "/dev/null") == 0) {
		/* recovery notes pair a command with "-D /dev/null" (an empty
		 * download) to get past dfu-util's "need -D or -U": the command alone */
		o->download_path = NULL;
		st->opt_D = false;
		o->mode = TOOL_MODE_ERASE;
	} else if (st->opt_D)
		o->mode = TOOL_MODE_DOWNLOAD;
	else if (st->opt_U)
		o->mode = TOOL_MODE_UPLOAD;
	else if (f->mass_erase || f->unprotect)
		o->mode = TOOL_MODE_ERASE; /* DfuSe command mode */
	else if (f->leave)
		o->mode = TOOL_MODE_LEAVE;
	else if (st->opt_s) {
		tool_err("-s '%s' alone does nothing", o->dfuse_arg);
		tool_hint(
		    "add -D FILE or -U FILE, or a command such as :leave, :mass-erase:force or "
		    ":unprotect:force");
		return false;
	} else if (o->detach)
		o->mode = TOOL_MODE_DETACH;
	else if (o->reset)
		o->mode = TOOL_MODE_RESET;
	else {
		tool_err(
		    "nothing to do: give -l, -D FILE, -U FILE, -e, -R or -s ADDRESS:leave, or a "
		    "command");
		tool_hint(COMMANDS_HINT "; see `dfuflash --help`");
		return false;
	}
	return true;
}

/* --all, station, --dry-run, --count, --record: where they apply. */
static bool many_check(const struct parse_state *st, const struct tool_options *o)
{
	const struct source *s = &st->src;
	enum tool_mode m = o->mode;
	bool many = o->all || m == TOOL_MODE_STATION;

	if (!applies(s->all, m, MODE_BIT(TOOL_MODE_DOWNLOAD),
		     "--all flashes every matching board: `flash FILE --all`") ||
	    !applies(s->dry_run, m,
		     MODE_BIT(TOOL_MODE_DOWNLOAD) | MODE_BIT(TOOL_MODE_ERASE) |
			 MODE_BIT(TOOL_MODE_LEAVE),
		     "--dry-run shows what flash, erase or leave would do") ||
	    !applies(s->count, m, MODE_BIT(TOOL_MODE_STATION),
		     "--count is the number of boards a station flashes") ||
	    !applies(s->record, m, MODE_BIT(TOOL_MODE_DOWNLOAD) | MODE_BIT(TOOL_MODE_STATION),
		     "--record logs the boards of `station` and `flash --all`"))
		return false;
	if (o->dry_run && o->flash.unprotect) {
		tool_err("--dry-run cannot be combined with unprotect: Read Unprotect erases the "
			 "flash as soon as it is sent");
		return false;
	}
	if (s->record && !many) {
		tool_err("--record needs several boards: `flash --all` or `station`");
		return false;
	}
	if (!many)
		return true;
	if (o->download_path && strcmp(o->download_path, "-") == 0) {
		tool_err("%s: standard input cannot feed several boards",
			 m == TOOL_MODE_STATION ? "station" : "--all");
		tool_hint("save the firmware to a file and name it");
		return false;
	}
	if (o->flash.unprotect || o->reset || o->compat) {
		tool_err("%s cannot be combined with %s",
			 m == TOOL_MODE_STATION ? "station" : "--all",
			 o->compat  ? "dfu-util's -D"
			 : o->reset ? "-R"
				    : "unprotect");
		tool_hint("write `dfuflash flash FILE --all` or `dfuflash station FILE`; unprotect "
			  "and reset each board on its own");
		return false;
	}
	if (m == TOOL_MODE_STATION && o->dry_run) {
		tool_err("--dry-run does not apply to a station");
		tool_hint("plan on one board with `flash FILE --dry-run`, or on all of them with "
			  "`flash FILE --all --dry-run`");
		return false;
	}
	return true;
}

/* What only makes sense in some modes, and what needs what. */
static bool cross_check(struct parse_state *st, struct tool_options *o)
{
	struct dfu_flash_opts *f = &o->flash;
	const struct source *s = &st->src;
	/* a station flashes as `flash` does: the same options apply */
	enum tool_mode m = o->mode == TOOL_MODE_STATION ? TOOL_MODE_DOWNLOAD : o->mode;
	const unsigned dl_erase = MODE_BIT(TOOL_MODE_DOWNLOAD) | MODE_BIT(TOOL_MODE_ERASE);

	/* dfu-util reads -Z on an upload only and ignores it elsewhere; scripts
	 * pass it on downloads too, so the dfu-util spelling warns, not fails. */
	if (o->compat && s->upload_size && m == TOOL_MODE_DOWNLOAD) {
		tool_warn("-Z %" PRIu32 " is ignored on a download (it is the expected size of "
			  "an -U upload)",
			  o->upload_size);
		o->upload_size = 0;
		st->src.upload_size = NULL;
	}
	if (!applies(s->address, m, XFER_MODES, NULL) ||
	    !applies(s->length, m, MODE_BIT(TOOL_MODE_UPLOAD),
		     "the length is how many bytes -U / read reads") ||
	    !applies(s->leave, m, XFER_MODES, NULL) || !applies(s->jump, m, XFER_MODES, NULL) ||
	    !applies(s->mass_erase, m, dl_erase,
		     "mass-erase runs before a download or alone (erase)") ||
	    !applies(s->unprotect, m, dl_erase,
		     "unprotect runs before a download or alone (erase)") ||
	    !applies(s->will_reset, m, dl_erase,
		     "will-reset is for downloads that reset the device") ||
	    !applies(s->force, m, XFER_MODES, NULL) ||
	    !applies(
		s->verify, m, MODE_BIT(TOOL_MODE_DOWNLOAD),
		"--verify reads back after a download; `verify FILE` compares without writing") ||
	    !applies(s->full, m, MODE_BIT(TOOL_MODE_DOWNLOAD),
		     "--full turns off the comparing before a download") ||
	    !applies(s->timeout, m, DEVICE_MODES, NULL) ||
	    !applies(s->poll, m, DEVICE_MODES | MODE_BIT(TOOL_MODE_QUIRKS), NULL) ||
	    !applies(s->format, m, MODE_BIT(TOOL_MODE_DOWNLOAD) | MODE_BIT(TOOL_MODE_VERIFY),
		     "--format names the format of the file to write or verify") ||
	    !applies(s->upload_size, m, MODE_BIT(TOOL_MODE_UPLOAD),
		     "-Z is the expected size of an -U upload") ||
	    !applies(s->otp, m,
		     MODE_BIT(TOOL_MODE_DOWNLOAD) | MODE_BIT(TOOL_MODE_UPLOAD) |
			 MODE_BIT(TOOL_MODE_VERIFY),
		     NULL) ||
	    !applies(s->reset, m, DEVICE_MODES, NULL) || !many_check(st, o))
		return false;
	/* dfu-util refuses these without :force: they erase the whole flash */
	if ((st->s_mass_erase || st->s_unprotect) && !f->force) {
		tool_err("-s '%s': %s needs :force", o->dfuse_arg,
			 st->s_mass_erase ? "mass-erase" : "unprotect");
		tool_hint("it erases the whole flash; write -s %s:force (as dfu-util), or use "
			  "`dfuflash erase`",
			  o->dfuse_arg);
		return false;
	}
	if (f->wait_app &&
	    !(f->leave || o->reset || m == TOOL_MODE_DOWNLOAD || m == TOOL_MODE_RESET)) {
		tool_err("--wait-app: the application starts only after leaving DFU mode");
		tool_hint("add --leave (-s :leave) or -R");
		return false;
	}
	if (o->quiet && o->verbose) {
		tool_err("-q and -v contradict each other");
		return false;
	}
	/* Without data, dfu-util's ADDRESS in "-s ADDRESS:leave" is where to jump. */
	if ((m == TOOL_MODE_LEAVE || m == TOOL_MODE_ERASE) && f->leave && f->have_address &&
	    !f->have_jump) {
		f->have_jump = true;
		f->jump = f->address;
	}
	return true;
}

int tool_options_parse(int argc, char **argv, struct tool_options *o)
{
	struct parse_state st;
	int c, r;

	memset(o, 0, sizeof(*o));
	memset(&st, 0, sizeof(st));
	o->match.devnum = o->match.config = o->match.interface = o->match.alt = -1;
	o->detach_delay_s = TOOL_DETACH_DELAY_DEFAULT_S;

	optind = 0; /* glibc: full re-initialisation, also between test runs */
	opterr = 0;
	for (;;) {
		int longindex = -1;

		c = getopt_long(argc, argv, short_opts, long_opts, &longindex);
		if (c == -1)
			break;
		set_label(&st, c, longindex);
		r = option(&st, c, optarg, o, argv);
		if (r == -1)
			return 0; /* -h: nothing else matters, as dfu-util */
		if (r)
			goto fail;
	}
	for (; optind < argc; optind++) { /* the words after "--" */
		if (!word(&st, argv[optind])) {
			r = TOOL_EXIT_USAGE;
			goto fail;
		}
	}
	if (st.version) {
		o->mode = TOOL_MODE_VERSION;
		o->compat = !st.cmd;
		return 0;
	}
	if (o->flash.have_jump && !o->flash.leave) {
		o->flash.leave = true; /* --jump says where to leave to */
		st.src.leave = st.src.jump;
	}
	if (!(st.cmd ? native_mode(&st, o) : compat_mode(&st, o)) || !cross_check(&st, o)) {
		r = TOOL_EXIT_USAGE;
		goto fail;
	}
	return 0;
fail:
	tool_options_release(o);
	return r;
}
