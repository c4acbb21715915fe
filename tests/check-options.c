// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests for the device command line (src/tool/options.c): dfu-util
 * command lines from real scripts, dfu-util's parsing bugs kept out, errors
 * that name the option and value, and native commands equal to their
 * dfu-util spelling.
 */
#include "config.h"

#include <unistd.h>

#include "macro.h"
#include "options.h"
#include "testutil.h"
#include "tool.h"

#define MAX_ARGS 24

/* Run the parser on @args (NULL-terminated, without argv[0]); stderr is
 * captured into @err. */
static int parse(const char *const *args, struct tool_options *o, char *err, size_t errlen)
{
	char *argv[MAX_ARGS + 2];
	int argc = 0, saved, rc;
	FILE *tmp = tmpfile();
	size_t n;

	ck_assert_ptr_nonnull(tmp);
	argv[argc++] = (char *)"dfuflash";
	while (args[argc - 1]) {
		ck_assert_int_lt(argc, MAX_ARGS);
		argv[argc] = (char *)args[argc - 1];
		argc++;
	}
	argv[argc] = NULL;

	fflush(stderr);
	saved = dup(STDERR_FILENO);
	ck_assert_int_ge(saved, 0);
	ck_assert_int_ge(dup2(fileno(tmp), STDERR_FILENO), 0);
	rc = tool_options_parse(argc, argv, o);
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);

	rewind(tmp);
	n = fread(err, 1, errlen - 1, tmp);
	err[n] = '\0';
	fclose(tmp);
	return rc;
}

/* Parse a line that must be accepted. */
#define PARSE_OK(o, ...)                                                                           \
	do {                                                                                       \
		static const char *const args_[] = { __VA_ARGS__, NULL };                          \
		char err_[4096];                                                                   \
		int rc_ = parse(args_, (o), err_, sizeof(err_));                                   \
		ck_assert_msg(rc_ == 0, "rc %d, stderr: %s", rc_, err_);                           \
	} while (0)

/* "unset", "none", or "vvvv:pppp" with '*' for any. */
static const char *ids(const struct dfu_id_match *h, char buf[16])
{
	char v[8], p[8];

	if (!h->set)
		return "unset";
	if (h->none)
		return "none";
	snprintf(v, sizeof(v), h->any_vid ? "*" : "%04x", h->vid);
	snprintf(p, sizeof(p), h->any_pid ? "*" : "%04x", h->pid);
	snprintf(buf, 16, "%s:%s", v, p);
	return buf;
}

static void assert_str_or_null(const char *got, const char *want, const char *what)
{
	if (!want || !got)
		ck_assert_msg(got == want, "%s: got %s, want %s", what, got ? got : "NULL",
			      want ? want : "NULL");
	else
		ck_assert_msg(strcmp(got, want) == 0, "%s: got '%s', want '%s'", what, got, want);
}

/* --- dfu-util command lines from public flashing scripts and READMEs ----- */

struct compat_case {
	const char *argv[16];
	enum tool_mode mode;
	int alt;	      /* -1 = any */
	const char *alt_name; /* NULL = none */
	const char *rt, *dfu; /* ids(); NULL = "unset" */
	bool have_address;
	uint32_t address;
	uint32_t length; /* 0 = none */
	bool leave, mass_erase, unprotect, will_reset, force;
	const char *download, *upload;
	bool reset, detach, wait;
	const char *path, *serial;
};

static const struct compat_case compat_cases[] = {
	{ .argv = { "-a", "0", "-s", "0x08000000:leave", "-D", "firmware.bin" },
	  .mode = TOOL_MODE_DOWNLOAD,
	  .alt = 0,
	  .have_address = true,
	  .address = 0x08000000,
	  .leave = true,
	  .download = "firmware.bin" },
	{ .argv = { "-d", "0483:df11", "-a", "0", "-s", "0x08000000:leave", "-D", "fw.bin" },
	  .mode = TOOL_MODE_DOWNLOAD,
	  .alt = 0,
	  .rt = "0483:df11",
	  .have_address = true,
	  .address = 0x08000000,
	  .leave = true,
	  .download = "fw.bin" },
	{ .argv = { "-d", "0483:DF11", "-a", "0", "-s", "0x08000000:leave", "-D", "fw.bin" },
	  .mode = TOOL_MODE_DOWNLOAD,
	  .alt = 0,
	  .rt = "0483:df11",
	  .have_address = true,
	  .address = 0x08000000,
	  .leave = true,
	  .download = "fw.bin" },
	{ .argv = { "-d", "0x0483:0xdf11", "-a", "0", "-s", "0x08000000:leave", "-D", "fw.bin" },
	  .mode = TOOL_MODE_DOWNLOAD,
	  .alt = 0,
	  .rt = "0483:df11",
	  .have_address = true,
	  .address = 0x08000000,
	  .leave = true,
	  .download = "fw.bin" },
	{ .argv = { "-l" }, .mode = TOOL_MODE_LIST, .alt = -1 },
	{ .argv = { "-a", "0", "-D", "klipper.bin", "-s", "0x08000000:mass-erase:force:leave" },
	  .mode = TOOL_MODE_DOWNLOAD,
	  .alt = 0,
	  .have_address = true,
	  .address = 0x08000000,
	  .leave = true,
	  .mass_erase = true,
	  .force = true,
	  .download = "klipper.bin" },
	{ .argv = { "-a", "0", "-D", "klipper.bin", "--dfuse-address",
		    "0x08000000:force:mass-erase:leave", "-d", "0483:df11" },
	  .mode = TOOL_MODE_DOWNLOAD,
	  .alt = 0,
	  .rt = "0483:df11",
	  .have_address = true,
	  .address = 0x08000000,
	  .leave = true,
	  .mass_erase = true,
	  .force = true,
	  .download = "klipper.bin" },
	{ .argv = { "--dfuse-address", "0x08000000:force:mass-erase:leave", "-d", "0483:df11" },
	  .mode = TOOL_MODE_ERASE,
	  .alt = -1,
	  .rt = "0483:df11",
	  .have_address = true,
	  .address = 0x08000000,
	  .leave = true,
	  .mass_erase = true,
	  .force = true },
	{ .argv = { "-a", "0", "-d", "0483:df11", "--dfuse-address", "0x08000000", "-D",
		    "klipper.bin" },
	  .mode = TOOL_MODE_DOWNLOAD,
	  .alt = 0,
	  .rt = "0483:df11",
	  .have_address = true,
	  .address = 0x08000000,
	  .download = "klipper.bin" },
	{ .argv = { "-a", "0", "-d", "0483:df11", "-s", "0x08000000:mass-erase:force", "-D",
		    "fw.bin" },
	  .mode = TOOL_MODE_DOWNLOAD,
	  .alt = 0,
	  .rt = "0483:df11",
	  .have_address = true,
	  .address = 0x08000000,
	  .mass_erase = true,
	  .force = true,
	  .download = "fw.bin" },
	{ .argv = { "-d", "28e9:0189", "-s", "0x8000000:mass-erase:force" },
	  .mode = TOOL_MODE_ERASE,
	  .alt = -1,
	  .rt = "28e9:0189",
	  .have_address = true,
	  .address = 0x08000000,
	  .mass_erase = true,
	  .force = true },
	{ .argv = { "-d", "28e9:0189", "-a", "0", "-s", "0x8000000:mass-erase:force", "-D",
		    "fw.bin" },
	  .mode = TOOL_MODE_DOWNLOAD,
	  .alt = 0,
	  .rt = "28e9:0189",
	  .have_address = true,
	  .address = 0x08000000,
	  .mass_erase = true,
	  .force = true,
	  .download = "fw.bin" },
	{ .argv = { "-p", "1-2", "-R", "-a", "0", "-s", "0x8000000:leave", "-D", "klipper.bin" },
	  .mode = TOOL_MODE_DOWNLOAD,
	  .alt = 0,
	  .have_address = true,
	  .address = 0x08000000,
	  .leave = true,
	  .download = "klipper.bin",
	  .reset = true,
	  .path = "1-2" },
	{ .argv = { "-p", "3-1.4.2", "-R", "-a", "0", "-s", "0x8000000:leave", "-D",
		    "klipper.bin" },
	  .mode = TOOL_MODE_DOWNLOAD,
	  .alt = 0,
	  .have_address = true,
	  .address = 0x08000000,
	  .leave = true,
	  .download = "klipper.bin",
	  .reset = true,
	  .path = "3-1.4.2" },
	{ .argv = { "-d", ",0483:df11", "-R", "-a", "0", "-s", "0x8000000:leave", "-D",
		    "klipper.bin" },
	  .mode = TOOL_MODE_DOWNLOAD,
	  .alt = 0,
	  .rt = "none",
	  .dfu = "0483:df11",
	  .have_address = true,
	  .address = 0x08000000,
	  .leave = true,
	  .download = "klipper.bin",
	  .reset = true },
	{ .argv = { "-d,0483:df11", "-l" },
	  .mode = TOOL_MODE_LIST,
	  .alt = -1,
	  .rt = "none",
	  .dfu = "0483:df11" },
	{ .argv = { "-a", "2", "-d", "1EAF:0003", "-D", "fw.bin" },
	  .mode = TOOL_MODE_DOWNLOAD,
	  .alt = 2,
	  .rt = "1eaf:0003",
	  .download = "fw.bin" },
	{ .argv = { "-a", "2", "-d", "1EAF:0003", "-D", "fw.bin", "-R" },
	  .mode = TOOL_MODE_DOWNLOAD,
	  .alt = 2,
	  .rt = "1eaf:0003",
	  .download = "fw.bin",
	  .reset = true },
	{ .argv = { "-d", "1d50:6018,:6017", "-s", "0x08002000:leave", "-D", "blackmagic.bin" },
	  .mode = TOOL_MODE_DOWNLOAD,
	  .alt = -1,
	  .rt = "1d50:6018",
	  .dfu = "1d50:6017",
	  .have_address = true,
	  .address = 0x08002000,
	  .leave = true,
	  .download = "blackmagic.bin" },
	{ .argv = { "-e", "-d", "1d50:6018" },
	  .mode = TOOL_MODE_DETACH,
	  .alt = -1,
	  .rt = "1d50:6018",
	  .detach = true },
	{ .argv = { "-D", "firmware.dfu" },
	  .mode = TOOL_MODE_DOWNLOAD,
	  .alt = -1,
	  .download = "firmware.dfu" },
	{ .argv = { "-a", "0", "-d", "0483:df11", "-D", "fw.dfu" },
	  .mode = TOOL_MODE_DOWNLOAD,
	  .alt = 0,
	  .rt = "0483:df11",
	  .download = "fw.dfu" },
	{ .argv = { "-d", "28e9:0189", "-a", "0", "-D", "Pinecil.dfu" },
	  .mode = TOOL_MODE_DOWNLOAD,
	  .alt = 0,
	  .rt = "28e9:0189",
	  .download = "Pinecil.dfu" },
	{ .argv = { "-w", "-D", "fomu.dfu" },
	  .mode = TOOL_MODE_DOWNLOAD,
	  .alt = -1,
	  .download = "fomu.dfu",
	  .wait = true },
	{ .argv = { "-S", "3677375B3233", "-a", "0", "-s", "0x08000000:leave", "-D", "fw.bin" },
	  .mode = TOOL_MODE_DOWNLOAD,
	  .alt = 0,
	  .have_address = true,
	  .address = 0x08000000,
	  .leave = true,
	  .download = "fw.bin",
	  .serial = "3677375B3233" },
	{ .argv = { "-w", "-d", "0483:df11", "-a", "0", "-s", "0x08000000:leave", "-D", "fw.bin" },
	  .mode = TOOL_MODE_DOWNLOAD,
	  .alt = 0,
	  .rt = "0483:df11",
	  .have_address = true,
	  .address = 0x08000000,
	  .leave = true,
	  .download = "fw.bin",
	  .wait = true },
	{ .argv = { "-a", "0", "-s", ":mass-erase:force" },
	  .mode = TOOL_MODE_ERASE,
	  .alt = 0,
	  .mass_erase = true,
	  .force = true },
	{ .argv = { "-a", "0", "-s", ":unprotect:force" },
	  .mode = TOOL_MODE_ERASE,
	  .alt = 0,
	  .unprotect = true,
	  .force = true },
	{ .argv = { "-s", "0x08000000:force:unprotect:will-reset", "-D", "dummy.bin" },
	  .mode = TOOL_MODE_DOWNLOAD,
	  .alt = -1,
	  .have_address = true,
	  .address = 0x08000000,
	  .unprotect = true,
	  .will_reset = true,
	  .force = true,
	  .download = "dummy.bin" },
	/* the empty download only gets past dfu-util's "need -D or -U": the command alone */
	{ .argv = { "-s", ":unprotect:force:will-reset", "-D", "/dev/null" },
	  .mode = TOOL_MODE_ERASE,
	  .alt = -1,
	  .unprotect = true,
	  .will_reset = true,
	  .force = true },
	{ .argv = { "-a", "1", "-s", "0x1FFFF800:will-reset", "-D", "option.bin" },
	  .mode = TOOL_MODE_DOWNLOAD,
	  .alt = 1,
	  .have_address = true,
	  .address = 0x1ffff800,
	  .will_reset = true,
	  .download = "option.bin" },
	{ .argv = { "-a", "1", "-s", "0x5200201C:will-reset", "-D", "option.bin" },
	  .mode = TOOL_MODE_DOWNLOAD,
	  .alt = 1,
	  .have_address = true,
	  .address = 0x5200201c,
	  .will_reset = true,
	  .download = "option.bin" },
	{ .argv = { "-a", "0", "-s", "0x08000000:1024", "-U", "backup.bin" },
	  .mode = TOOL_MODE_UPLOAD,
	  .alt = 0,
	  .have_address = true,
	  .address = 0x08000000,
	  .length = 1024,
	  .upload = "backup.bin" },
	{ .argv = { "-a", "0", "-s", "0x08000000:4", "-U", "probe" },
	  .mode = TOOL_MODE_UPLOAD,
	  .alt = 0,
	  .have_address = true,
	  .address = 0x08000000,
	  .length = 4,
	  .upload = "probe" },
	{ .argv = { "-e", "-d", ",20b1:4001", "-a", "0", "-U", "out.bin" },
	  .mode = TOOL_MODE_UPLOAD,
	  .alt = 0,
	  .rt = "none",
	  .dfu = "20b1:4001",
	  .upload = "out.bin",
	  .detach = true },
	{ .argv = { "-D", "upgrade.bin", "--reset" },
	  .mode = TOOL_MODE_DOWNLOAD,
	  .alt = -1,
	  .download = "upgrade.bin",
	  .reset = true },
	{ .argv = { "-d", "2b04:d006", "-a", "0", "-s", "0x80A0000:leave", "-D", "tinker.bin" },
	  .mode = TOOL_MODE_DOWNLOAD,
	  .alt = 0,
	  .rt = "2b04:d006",
	  .have_address = true,
	  .address = 0x080a0000,
	  .leave = true,
	  .download = "tinker.bin" },
	{ .argv = { "-a", "0", "-s", "0x08000000:leave", "-D", "-" },
	  .mode = TOOL_MODE_DOWNLOAD,
	  .alt = 0,
	  .have_address = true,
	  .address = 0x08000000,
	  .leave = true,
	  .download = "-" },
	{ .argv = { "-a", "Internal Flash", "-s", "0x08000000", "-D", "fw.bin" },
	  .mode = TOOL_MODE_DOWNLOAD,
	  .alt = -1,
	  .alt_name = "Internal Flash",
	  .have_address = true,
	  .address = 0x08000000,
	  .download = "fw.bin" },
	{ .argv = { "-a", "@Internal Flash  /0x08000000/04*016Kg,01*064Kg,07*128Kg", "-D",
		    "fw.dfu" },
	  .mode = TOOL_MODE_DOWNLOAD,
	  .alt = -1,
	  .alt_name = "@Internal Flash  /0x08000000/04*016Kg,01*064Kg,07*128Kg",
	  .download = "fw.dfu" },
	{ .argv = { "--alt", "0", "--device", "0483:df11", "--dfuse-address", "0x08000000:leave",
		    "--download", "fw.bin" },
	  .mode = TOOL_MODE_DOWNLOAD,
	  .alt = 0,
	  .rt = "0483:df11",
	  .have_address = true,
	  .address = 0x08000000,
	  .leave = true,
	  .download = "fw.bin" },
	{ .argv = { "-s", "0x08000000:leave" },
	  .mode = TOOL_MODE_LEAVE,
	  .alt = -1,
	  .have_address = true,
	  .address = 0x08000000,
	  .leave = true },
	{ .argv = { "-s", ":leave" }, .mode = TOOL_MODE_LEAVE, .alt = -1, .leave = true },
	{ .argv = { "-R" }, .mode = TOOL_MODE_RESET, .alt = -1, .reset = true },
};

START_TEST(test_real_dfu_util_command_lines_parse_as_dfu_util_reads_them)
{
	const struct compat_case *c = &compat_cases[_i];
	struct tool_options o;
	char err[4096], rb[16], db[16];
	int rc = parse(c->argv, &o, err, sizeof(err));

	ck_assert_msg(rc == 0, "case %d: rc %d, stderr: %s", _i, rc, err);
	ck_assert_str_eq(err, "");
	ck_assert(o.compat);
	ck_assert_int_eq(o.mode, c->mode);
	ck_assert_int_eq(o.match.alt, c->alt);
	assert_str_or_null(o.match.alt_name, c->alt_name, "alt_name");
	ck_assert_str_eq(ids(&o.match.runtime, rb), c->rt ? c->rt : "unset");
	ck_assert_str_eq(ids(&o.match.dfu, db), c->dfu ? c->dfu : "unset");
	ck_assert_int_eq(o.flash.have_address, c->have_address);
	if (c->have_address)
		ck_assert_uint_eq(o.flash.address, c->address);
	ck_assert_int_eq(o.flash.have_length, c->length != 0);
	if (c->length)
		ck_assert_uint_eq(o.flash.length, c->length);
	ck_assert_int_eq(o.flash.leave, c->leave);
	ck_assert_int_eq(o.flash.mass_erase, c->mass_erase);
	ck_assert_int_eq(o.flash.unprotect, c->unprotect);
	ck_assert_int_eq(o.flash.will_reset, c->will_reset);
	ck_assert_int_eq(o.flash.force, c->force);
	assert_str_or_null(o.download_path, c->download, "download");
	assert_str_or_null(o.upload_path, c->upload, "upload");
	ck_assert_int_eq(o.reset, c->reset);
	ck_assert_int_eq(o.detach, c->detach);
	ck_assert_int_eq(o.wait, c->wait);
	ck_assert_uint_eq(o.wait_s, 0);
	assert_str_or_null(o.match.path, c->path, "path");
	assert_str_or_null(o.match.serial_runtime, c->serial, "serial_runtime");
	assert_str_or_null(o.match.serial_dfu, c->serial, "serial_dfu");
	ck_assert_int_eq(o.match.devnum, -1);
	ck_assert_int_eq(o.match.config, -1);
	ck_assert_int_eq(o.match.interface, -1);
	ck_assert_uint_eq(o.detach_delay_s, TOOL_DETACH_DELAY_DEFAULT_S);
	tool_options_release(&o);
}
END_TEST

/* --- -d as dfu-util's parse_vendprod() ------------------------------------ */

struct device_case {
	const char *arg;
	const char *rt, *dfu;
};

static const struct device_case device_cases[] = {
	{ "0483:df11", "0483:df11", "unset" },
	{ "0483", "0483:*", "unset" }, /* pid missing: vendor only */
	{ ":df11", "*:df11", "unset" },
	{ "*:df11", "*:df11", "unset" },
	{ "0483:*", "0483:*", "unset" },
	{ "-:df11", "none", "unset" },
	{ ",0483:df11", "none", "0483:df11" },
	{ ",", "none", "*:*" },
	{ "1d50:6018,:6017", "1d50:6018", "1d50:6017" },
	{ "1d50:6018,", "1d50:6018", "1d50:6018" },
	{ "1d50:6018,1d50", "1d50:6018", "1d50:6018" },
	{ "1d50:6018,*:6017", "1d50:6018", "*:6017" },
	{ "1d50:6018,-", "1d50:6018", "none" },
	{ "0X0483:0XDF11", "0483:df11", "unset" },
	{ "ffff:0", "ffff:0000", "unset" },
};

START_TEST(test_device_ids_follow_dfu_util_semantics)
{
	const struct device_case *c = &device_cases[_i];
	const char *args[] = { "-l", "-d", c->arg, NULL };
	struct tool_options o;
	char err[4096], rb[16], db[16];

	ck_assert_msg(parse(args, &o, err, sizeof(err)) == 0, "-d '%s': %s", c->arg, err);
	ck_assert_str_eq(ids(&o.match.runtime, rb), c->rt);
	ck_assert_str_eq(ids(&o.match.dfu, db), c->dfu);
	tool_options_release(&o);
}
END_TEST

/* --- dfu-util's parsing bugs are absent ------------------------------------ */

START_TEST(test_wait_does_not_swallow_the_next_option)
{
	struct tool_options o;

	PARSE_OK(&o, "--wait", "-l");
	ck_assert_int_eq(o.mode, TOOL_MODE_LIST);
	ck_assert(o.wait);
	ck_assert_uint_eq(o.wait_s, 0);
}
END_TEST

START_TEST(test_wait_takes_seconds_only_after_an_equals_sign)
{
	struct tool_options o;

	PARSE_OK(&o, "--wait=7", "-D", "fw.bin");
	ck_assert(o.wait);
	ck_assert_uint_eq(o.wait_s, 7);
	ck_assert_int_eq(o.mode, TOOL_MODE_DOWNLOAD);
}
END_TEST

START_TEST(test_address_with_a_leading_zero_is_decimal_not_octal)
{
	struct tool_options o;

	PARSE_OK(&o, "-s", "010", "-U", "out.bin");
	ck_assert(o.flash.have_address);
	ck_assert_uint_eq(o.flash.address, 10);
}
END_TEST

START_TEST(test_upload_length_with_a_leading_zero_is_decimal)
{
	struct tool_options o;

	PARSE_OK(&o, "-s", "0x08000000:0100", "-U", "out.bin");
	ck_assert_uint_eq(o.flash.length, 100);
}
END_TEST

START_TEST(test_empty_modifiers_are_skipped)
{
	struct tool_options o;

	PARSE_OK(&o, "-s", "0x08000000::leave:", "-D", "fw.bin");
	ck_assert(o.flash.leave);
	ck_assert_uint_eq(o.flash.address, 0x08000000);
}
END_TEST

START_TEST(test_alt_hex_number_is_an_alt_not_a_name)
{
	struct tool_options o;

	PARSE_OK(&o, "-a", "0x1", "-D", "fw.bin");
	ck_assert_int_eq(o.match.alt, 1);
	ck_assert_ptr_null(o.match.alt_name);
}
END_TEST

START_TEST(test_cfg_zero_means_any_configuration)
{
	struct tool_options o;

	PARSE_OK(&o, "-c", "0", "-i", "1", "-n", "12", "-l");
	ck_assert_int_eq(o.match.config, -1);
	ck_assert_int_eq(o.match.interface, 1);
	ck_assert_int_eq(o.match.devnum, 12);
}
END_TEST

START_TEST(test_serial_splits_into_runtime_and_dfu_halves)
{
	struct tool_options o;

	PARSE_OK(&o, "-S", "RT123,DFU456", "-l");
	ck_assert_str_eq(o.match.serial_runtime, "RT123");
	ck_assert_str_eq(o.match.serial_dfu, "DFU456");
	tool_options_release(&o);
	ck_assert_ptr_null(o.owned_serial);

	PARSE_OK(&o, "-S", ",DFU456", "-l");
	ck_assert_ptr_null(o.match.serial_runtime);
	ck_assert_str_eq(o.match.serial_dfu, "DFU456");
	tool_options_release(&o);
}
END_TEST

START_TEST(test_verbose_counts_repeats)
{
	struct tool_options o;

	PARSE_OK(&o, "-vvv", "-l");
	ck_assert_int_eq(o.verbose, 3);
	PARSE_OK(&o, "-v", "--verbose", "-l");
	ck_assert_int_eq(o.verbose, 2);
}
END_TEST

START_TEST(test_help_stops_parsing_and_version_wins)
{
	struct tool_options o;

	PARSE_OK(&o, "-h", "--no-such-option");
	ck_assert_int_eq(o.mode, TOOL_MODE_HELP);
	PARSE_OK(&o, "-V", "-D", "fw.bin", "-U", "x");
	ck_assert_int_eq(o.mode, TOOL_MODE_VERSION);
	ck_assert(o.compat);
}
END_TEST

START_TEST(test_options_after_the_command_word_work_even_with_posixly_correct)
{
	struct tool_options o;

	setenv("POSIXLY_CORRECT", "1", 1);
	PARSE_OK(&o, "flash", "fw.bin", "--leave", "-a", "0");
	unsetenv("POSIXLY_CORRECT");
	ck_assert_int_eq(o.mode, TOOL_MODE_DOWNLOAD);
	ck_assert_str_eq(o.download_path, "fw.bin");
	ck_assert(o.flash.leave);
	ck_assert_int_eq(o.match.alt, 0);
}
END_TEST

START_TEST(test_double_dash_ends_options)
{
	struct tool_options o;

	PARSE_OK(&o, "flash", "--", "-odd.bin");
	ck_assert_str_eq(o.download_path, "-odd.bin");
	PARSE_OK(&o, "flash", "-");
	ck_assert_str_eq(o.download_path, "-");
}
END_TEST

START_TEST(test_native_only_options_are_stored)
{
	struct tool_options o;

	PARSE_OK(&o, "flash", "fw.hex", "--verify", "--leave", "--jump", "0x08004000",
		 "--wait-app=3", "--timeout", "2500", "--json", "--progress=plain", "-q",
		 "--format", "hex", "--trace", "t.log", "--otp", "-t", "2048", "-E", "2");
	ck_assert(!o.compat);
	ck_assert(o.flash.verify);
	ck_assert(o.flash.have_jump);
	ck_assert_uint_eq(o.flash.jump, 0x08004000);
	ck_assert(o.flash.wait_app);
	ck_assert_uint_eq(o.flash.wait_app_ms, 3000);
	ck_assert_uint_eq(o.flash.timeout_ms, 2500);
	ck_assert(o.json);
	ck_assert_int_eq(o.progress, TOOL_PROGRESS_PLAIN);
	ck_assert(o.quiet);
	ck_assert_int_eq(o.format, DFU_FORMAT_IHEX);
	ck_assert_str_eq(o.trace_path, "t.log");
	ck_assert(o.otp);
	ck_assert_uint_eq(o.flash.transfer_size, 2048);
	ck_assert_uint_eq(o.detach_delay_s, 2);
}
END_TEST

START_TEST(test_poll_modes_are_stored_in_both_spellings)
{
	struct tool_options o;

	PARSE_OK(&o, "flash", "fw.hex");
	ck_assert_int_eq(o.poll, DFU_POLL_AUTO);
	PARSE_OK(&o, "flash", "fw.hex", "--poll=announced");
	ck_assert_int_eq(o.poll, DFU_POLL_ANNOUNCED);
	PARSE_OK(&o, "flash", "fw.hex", "--poll", "auto");
	ck_assert_int_eq(o.poll, DFU_POLL_AUTO);
	PARSE_OK(&o, "-a", "0", "-D", "fw.bin", "--poll=250");
	ck_assert(o.compat);
	ck_assert_int_eq(o.poll, DFU_POLL_INTERVAL);
	ck_assert_uint_eq(o.poll_ms, 250);
	PARSE_OK(&o, "quirks", "--poll=0x10");
	ck_assert_int_eq(o.mode, TOOL_MODE_QUIRKS);
	ck_assert_uint_eq(o.poll_ms, 16);
}
END_TEST

START_TEST(test_jump_implies_leave)
{
	struct tool_options o;

	PARSE_OK(&o, "flash", "fw.bin", "--address", "0x08000000", "--jump", "0x08000000");
	ck_assert(o.flash.leave);
	ck_assert(o.flash.have_jump);
}
END_TEST

START_TEST(test_dfu_util_style_accepts_native_extras)
{
	struct tool_options o;

	PARSE_OK(&o, "-a", "0", "-s", "0x08000000:leave", "-D", "fw.bin", "--verify", "--json");
	ck_assert(o.compat);
	ck_assert(o.flash.verify);
	ck_assert(o.json);
}
END_TEST

START_TEST(test_fast_modifier_of_newer_dfu_util_is_accepted)
{
	struct tool_options o;

	PARSE_OK(&o, "-s", "0x08000000:fast:leave", "-D", "fw.bin");
	ck_assert(o.flash.leave);
}
END_TEST

/* dfu-util reads -Z only on an upload: with -D it is ignored, so are we (loudly). */
START_TEST(test_upload_size_on_a_dfu_util_download_is_ignored_with_a_warning)
{
	static const char *const args[] = { "-a", "0",	  "-s", "0x08000000:leave", "-D", "fw.bin",
					    "-Z", "1000", NULL };
	struct tool_options o;
	char err[4096];

	ck_assert_int_eq(parse(args, &o, err, sizeof(err)), 0);
	ck_assert_int_eq(o.mode, TOOL_MODE_DOWNLOAD);
	ck_assert_uint_eq(o.upload_size, 0);
	ck_assert_msg(strstr(err, "warning: -Z 1000 is ignored on a download"), "stderr: %s", err);
	tool_options_release(&o);
}
END_TEST

/* "-s :unprotect:force:will-reset -D /dev/null" (recovery notes): the command alone */
START_TEST(test_dev_null_download_with_a_command_is_the_command_alone)
{
	struct tool_options o;

	PARSE_OK(&o, "-a", "0", "-s", ":unprotect:force:will-reset", "-D", "/dev/null");
	ck_assert_int_eq(o.mode, TOOL_MODE_ERASE);
	ck_assert(o.flash.unprotect);
	ck_assert_ptr_null(o.download_path);
	PARSE_OK(&o, "-a", "0", "-s", ":mass-erase:force", "-D", "/dev/null");
	ck_assert_int_eq(o.mode, TOOL_MODE_ERASE);
	ck_assert(o.flash.mass_erase);
	/* without a command it stays a download (and fails on opening the file) */
	PARSE_OK(&o, "-a", "0", "-s", "0x08000000", "-D", "/dev/null");
	ck_assert_int_eq(o.mode, TOOL_MODE_DOWNLOAD);
}
END_TEST

/* --- errors: exit 64, one message naming option and value ------------------- */

struct error_case {
	const char *argv[12];
	const char *message; /* must appear in stderr */
};

static const struct error_case error_cases[] = {
	{ { "-s", "0x0800000g:leave", "-D", "fw.bin" },
	  "-s '0x0800000g:leave': address '0x0800000g' is not a number" },
	{ { "-s", "0x08000000:l", "-D", "fw.bin" }, "unknown modifier 'l'" },
	{ { "-s", "0x08000000:l" }, "did you mean ':leave'" },
	{ { "-s", ":leave:garbage" }, "-s ':leave:garbage': unknown modifier 'garbage'" },
	{ { "-s", "0x08000000::leave:fats", "-D", "x" }, "unknown modifier 'fats'" },
	{ { "-s", "0x08000000:mass-erase", "-D", "x" }, "mass-erase needs :force" },
	{ { "-a", "0", "-s", ":unprotect" }, "unprotect needs :force" },
	{ { "-s", "0x100000000", "-U", "x" }, "address '0x100000000' is above 0xffffffff" },
	{ { "-s", "0x08000000:0", "-U", "x" }, "length '0' is zero" },
	{ { "-s", "0x08000000:12k", "-U", "x" }, "length '12k' is not a number" },
	{ { "-s", "0x08000000:4:8", "-U", "x" }, "length given twice" },
	{ { "-s", "0x08000000:1024", "-D", "x" }, "the -s length does not apply to a download" },
	{ { "-s", "0x08000000" }, "-s '0x08000000' alone does nothing" },
	{ { "-s", ":" }, "alone does nothing" },
	{ { "-n", "3x", "-l" }, "-n '3x': not a number" },
	{ { "--devnum", "0", "-l" }, "--devnum '0': out of range (1..127)" },
	{ { "-t", "65536", "-D", "x" }, "-t '65536': out of range (0..65535)" },
	{ { "-c", "-1", "-l" }, "-c '-1': not a number" },
	{ { "-i", "1 ", "-l" }, "-i '1 ': not a number" },
	{ { "-E", "5s", "-e" }, "-E '5s': not a number" },
	{ { "-a", "300", "-D", "x" }, "-a '300': alternate setting out of range" },
	{ { "-a", "", "-D", "x" }, "empty alternate setting name" },
	{ { "-d", "0483:df1g", "-l" }, "-d '0483:df1g': product id 'df1g' is not a hexadecimal" },
	{ { "-d", "10483:df11", "-l" }, "vendor id '10483'" },
	{ { "-d", "0483:df11,xyz:1", "-l" }, "DFU-mode vendor id 'xyz'" },
	{ { "-d", "0483:df11:1", "-l" }, "more than one ':'" },
	{ { "-d", "1:2,3:4,5:6", "-l" }, "more than one ','" },
	{ { "-d", "", "-l" }, "empty device id" },
	{ { "-p", "1-0", "-l" }, "-p '1-0': not a USB port path" },
	{ { "-p", "1", "-l" }, "expected '-' after the bus number" },
	{ { "-p", "1-2.", "-l" }, "-p '1-2.'" },
	{ { "-p", "1-2.3.4.5.6.7.8.9", "-l" }, "more than 7 port numbers" },
	{ { "-D", "a.bin", "-D", "b.bin" }, "-D given twice ('a.bin' and 'b.bin')" },
	{ { "--dfuse-address", "1", "-s", "2", "-D", "x" }, "the same option twice" },
	{ { "--address", "1", "-s", "2", "-D", "x" }, "address given twice (also by --address)" },
	{ { "-S", "a", "-S", "b", "-l" }, "-S given twice" },
	{ { "-D", "a.bin", "-U", "b.bin" }, "download and upload cannot be combined" },
	{ { "-l", "-D", "a.bin" }, "-l lists devices; it cannot be combined with -D" },
	{ { "-l", "-s", ":leave" }, "cannot be combined with -s" },
	{ { "-v" }, "nothing to do" },
	{ { "-D", "fw.bin", "extra" }, "unexpected argument 'extra'" },
	{ { "frobnicate" }, "unknown command 'frobnicate'" },
	{ { "image", "info", "x" }, "'image' must be the first word" },
	{ { "flash" }, "flash: missing FILE" },
	{ { "read" }, "read: missing OUT" },
	{ { "flash", "a.bin", "b.bin" }, "flash: unexpected argument 'b.bin'" },
	{ { "erase", "now" }, "erase: unexpected argument 'now'" },
	{ { "flash", "x", "-D", "y" }, "-D cannot be combined with the `flash` command" },
	{ { "list", "-l" }, "-l cannot be combined with the `list` command" },
	{ { "--bogus", "-l" }, "unknown or ambiguous option '--bogus'" },
	{ { "-x", "-l" }, "unknown option '-x'" },
	{ { "-D" }, "option '-D' needs a value" },
	{ { "--download" }, "option '--download' needs a value" },
	{ { "flash", "x", "--leave=1" }, "option '--leave' takes no value" },
	{ { "--wait=abc", "-l" }, "--wait 'abc': not a number" },
	{ { "--progress=fancy", "list" }, "--progress 'fancy': unknown progress style" },
	{ { "--format", "zip", "flash", "x" }, "--format 'zip': unknown format" },
	{ { "--format", "hex", "read", "x" }, "--format does not apply to an upload" },
	{ { "--timeout", "0", "flash", "x" }, "--timeout '0': out of range" },
	{ { "--poll=fast", "flash", "x" }, "--poll 'fast': unknown polling" },
	{ { "--poll=", "flash", "x" }, "--poll '': unknown polling" },
	{ { "--poll=0", "flash", "x" }, "--poll '0': out of range" },
	{ { "--poll=99999999999", "flash", "x" }, "--poll '99999999999': out of range" },
	{ { "--poll=10ms", "flash", "x" }, "--poll '10ms'" },
	{ { "--poll=5", "--poll=6", "flash", "x" }, "--poll" },
	{ { "list", "--poll=5" }, "--poll does not apply to listing" },
	{ { "-q", "-v", "list" }, "-q and -v contradict" },
	{ { "list", "--leave" }, "--leave does not apply to listing" },
	{ { "list", "--jump", "0x08000000" }, "--jump does not apply to listing" },
	{ { "read", "x", "--mass-erase" }, "--mass-erase does not apply to an upload" },
	{ { "read", "x", "--verify" }, "--verify does not apply to an upload" },
	{ { "read", "x", "--wait-app" }, "--wait-app: the application starts only after leaving" },
	{ { "flash", "x", "--length", "4" }, "--length does not apply to a download" },
	{ { "flash", "x", "-Z", "100" }, "-Z does not apply to a download" },
	{ { "detach", "--address", "0x08000000" }, "--address does not apply to a detach" },
	{ { "detach", "--leave" }, "--leave does not apply to a detach" },
};

START_TEST(test_bad_command_lines_exit_64_naming_option_and_value)
{
	const struct error_case *c = &error_cases[_i];
	struct tool_options o;
	char err[4096];
	int rc = parse(c->argv, &o, err, sizeof(err));

	ck_assert_msg(rc == TOOL_EXIT_USAGE, "case %d (%s): rc %d", _i, c->message, rc);
	ck_assert_msg(strncmp(err, "dfuflash: error: ", 17) == 0, "stderr: %s", err);
	ck_assert_msg(strstr(err, c->message), "want '%s' in stderr: %s", c->message, err);
	/* one error line, optionally one hint */
	ck_assert_msg(!strstr(err + 1, "dfuflash: error: "), "two errors: %s", err);
	ck_assert_ptr_null(o.owned_serial);
}
END_TEST

/* --- native commands equal their dfu-util spelling -------------------------- */

struct twin_case {
	const char *native[16];
	const char *compat[16];
};

static const struct twin_case twin_cases[] = {
	{ { "flash", "fw.hex", "--leave" }, { "-D", "fw.hex", "-s", ":leave" } },
	{ { "flash", "fw.bin", "--address", "0x08000000", "--leave", "-a", "0", "-d", "0483:df11" },
	  { "-a", "0", "-d", "0483:df11", "-s", "0x08000000:leave", "-D", "fw.bin" } },
	{ { "flash", "fw.bin", "--address", "0x08000000", "--mass-erase", "--force", "--leave" },
	  { "-s", "0x08000000:mass-erase:force:leave", "-D", "fw.bin" } },
	{ { "-a", "1", "flash", "option.bin", "--address", "0x1FFFF800", "--will-reset" },
	  { "-a", "1", "-s", "0x1FFFF800:will-reset", "-D", "option.bin" } },
	{ { "read", "backup.bin", "--address", "0x08000000", "--length", "1024", "-a", "0" },
	  { "-a", "0", "-s", "0x08000000:1024", "-U", "backup.bin" } },
	{ { "list", "-d", "0483:df11" }, { "-l", "-d", "0483:df11" } },
	{ { "detach", "-d", "1d50:6018" }, { "-e", "-d", "1d50:6018" } },
	{ { "erase", "-a", "0", "--force" }, { "-a", "0", "-s", ":mass-erase:force" } },
	{ { "erase", "--unprotect", "--force", "-a", "0" },
	  { "-a", "0", "-s", ":unprotect:force" } },
	{ { "leave", "--address", "0x08000000" }, { "-s", "0x08000000:leave" } },
	{ { "leave" }, { "-s", ":leave" } },
	{ { "flash", "-", "-p", "1-2", "-S", "ABC", "-R", "-w" },
	  { "-p", "1-2", "-S", "ABC", "-R", "-w", "-D", "-" } },
};

START_TEST(test_native_commands_parse_like_their_dfu_util_spelling)
{
	const struct twin_case *c = &twin_cases[_i];
	struct tool_options n, d;
	char err[4096], b1[16], b2[16];

	ck_assert_msg(parse(c->native, &n, err, sizeof(err)) == 0, "native: %s", err);
	ck_assert_msg(parse(c->compat, &d, err, sizeof(err)) == 0, "compat: %s", err);
	ck_assert(!n.compat);
	ck_assert(d.compat);
	ck_assert_int_eq(n.mode, d.mode);

	ck_assert_str_eq(ids(&n.match.runtime, b1), ids(&d.match.runtime, b2));
	ck_assert_str_eq(ids(&n.match.dfu, b1), ids(&d.match.dfu, b2));
	assert_str_or_null(n.match.serial_runtime, d.match.serial_runtime, "serial_runtime");
	assert_str_or_null(n.match.serial_dfu, d.match.serial_dfu, "serial_dfu");
	assert_str_or_null(n.match.path, d.match.path, "path");
	assert_str_or_null(n.match.alt_name, d.match.alt_name, "alt_name");
	ck_assert_int_eq(n.match.devnum, d.match.devnum);
	ck_assert_int_eq(n.match.config, d.match.config);
	ck_assert_int_eq(n.match.interface, d.match.interface);
	ck_assert_int_eq(n.match.alt, d.match.alt);

	ck_assert_int_eq(n.flash.have_address, d.flash.have_address);
	ck_assert_uint_eq(n.flash.address, d.flash.address);
	ck_assert_int_eq(n.flash.have_length, d.flash.have_length);
	ck_assert_uint_eq(n.flash.length, d.flash.length);
	ck_assert_int_eq(n.flash.leave, d.flash.leave);
	ck_assert_int_eq(n.flash.have_jump, d.flash.have_jump);
	ck_assert_uint_eq(n.flash.jump, d.flash.jump);
	ck_assert_int_eq(n.flash.mass_erase, d.flash.mass_erase);
	ck_assert_int_eq(n.flash.unprotect, d.flash.unprotect);
	ck_assert_int_eq(n.flash.will_reset, d.flash.will_reset);
	ck_assert_int_eq(n.flash.force, d.flash.force);
	ck_assert_int_eq(n.flash.verify, d.flash.verify);

	assert_str_or_null(n.download_path, d.download_path, "download");
	assert_str_or_null(n.upload_path, d.upload_path, "upload");
	ck_assert_int_eq(n.list, d.list);
	ck_assert_int_eq(n.detach, d.detach);
	ck_assert_int_eq(n.reset, d.reset);
	ck_assert_int_eq(n.wait, d.wait);
	tool_options_release(&n);
	tool_options_release(&d);
}
END_TEST

START_TEST(test_leave_alone_jumps_to_the_given_address)
{
	struct tool_options o;

	PARSE_OK(&o, "-s", "0x08004000:leave");
	ck_assert_int_eq(o.mode, TOOL_MODE_LEAVE);
	ck_assert(o.flash.have_jump);
	ck_assert_uint_eq(o.flash.jump, 0x08004000);
}
END_TEST

/* What @print writes, as a string in @buf (which it must fit). */
static void usage_text(void (*print)(FILE *f), char *buf, size_t cap)
{
	FILE *f = tmpfile();
	size_t n;

	ck_assert_ptr_nonnull(f);
	print(f);
	rewind(f);
	n = fread(buf, 1, cap - 1, f);
	ck_assert_uint_lt(n, cap - 1);
	buf[n] = '\0';
	fclose(f);
}

START_TEST(test_usage_names_both_spellings)
{
	char buf[8192];

	usage_text(tool_options_usage, buf, sizeof(buf));
	ck_assert_ptr_nonnull(strstr(buf, "--dfuse-address"));
	ck_assert_ptr_nonnull(strstr(buf, "--wait[=SECONDS]"));
	ck_assert_ptr_nonnull(strstr(buf, "leading 0 is not octal"));
}
END_TEST

/* How often @needle occurs in @hay. */
static int count_of(const char *hay, const char *needle)
{
	int n = 0;

	for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
		n++;
	return n;
}

START_TEST(test_help_lists_each_command_once)
{
	static const char *const lines[] = { "\n  list ",	 "\n  flash FILE ",
					     "\n  read OUT ",	 "\n  verify FILE ",
					     "\n  erase ",	 "\n  leave ",
					     "\n  detach ",	 "\n  read-options ",
					     "\n  station FILE " };
	char buf[16384];

	usage_text(tool_usage, buf, sizeof(buf));
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
		ck_assert_msg(count_of(buf, lines[i]) == 1, "'%s' listed %d times", lines[i] + 1,
			      count_of(buf, lines[i]));
	ck_assert_int_eq(count_of(buf, "dfuflash flash FILE"), 0);
	ck_assert_int_eq(count_of(buf, "Exit status:"), 1);
}
END_TEST

START_TEST(test_mode_names_cover_every_mode)
{
	for (int m = TOOL_MODE_NONE; m <= TOOL_MODE_RESET; m++)
		ck_assert_str_ne(tool_mode_name((enum tool_mode)m), "unknown");
	ck_assert_str_eq(tool_mode_name(TOOL_MODE_DOWNLOAD), "download");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("options");
	TCase *tc;

	tc = tcase_create("dfu-util command lines");
	tcase_add_loop_test(tc, test_real_dfu_util_command_lines_parse_as_dfu_util_reads_them, 0,
			    (int)ARRAY_SIZE(compat_cases));
	tcase_add_loop_test(tc, test_device_ids_follow_dfu_util_semantics, 0,
			    (int)ARRAY_SIZE(device_cases));
	tcase_add_test(tc, test_cfg_zero_means_any_configuration);
	tcase_add_test(tc, test_serial_splits_into_runtime_and_dfu_halves);
	tcase_add_test(tc, test_alt_hex_number_is_an_alt_not_a_name);
	tcase_add_test(tc, test_verbose_counts_repeats);
	tcase_add_test(tc, test_help_stops_parsing_and_version_wins);
	tcase_add_test(tc, test_leave_alone_jumps_to_the_given_address);
	tcase_add_test(tc, test_fast_modifier_of_newer_dfu_util_is_accepted);
	tcase_add_test(tc, test_upload_size_on_a_dfu_util_download_is_ignored_with_a_warning);
	tcase_add_test(tc, test_dev_null_download_with_a_command_is_the_command_alone);
	suite_add_tcase(s, tc);

	tc = tcase_create("dfu-util bugs absent");
	tcase_add_test(tc, test_wait_does_not_swallow_the_next_option);
	tcase_add_test(tc, test_wait_takes_seconds_only_after_an_equals_sign);
	tcase_add_test(tc, test_address_with_a_leading_zero_is_decimal_not_octal);
	tcase_add_test(tc, test_upload_length_with_a_leading_zero_is_decimal);
	tcase_add_test(tc, test_empty_modifiers_are_skipped);
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_add_loop_test(tc, test_bad_command_lines_exit_64_naming_option_and_value, 0,
			    (int)ARRAY_SIZE(error_cases));
	suite_add_tcase(s, tc);

	tc = tcase_create("native commands");
	tcase_add_loop_test(tc, test_native_commands_parse_like_their_dfu_util_spelling, 0,
			    (int)ARRAY_SIZE(twin_cases));
	tcase_add_test(tc, test_options_after_the_command_word_work_even_with_posixly_correct);
	tcase_add_test(tc, test_double_dash_ends_options);
	tcase_add_test(tc, test_native_only_options_are_stored);
	tcase_add_test(tc, test_poll_modes_are_stored_in_both_spellings);
	tcase_add_test(tc, test_jump_implies_leave);
	tcase_add_test(tc, test_dfu_util_style_accepts_native_extras);
	tcase_add_test(tc, test_usage_names_both_spellings);
	tcase_add_test(tc, test_help_lists_each_command_once);
	tcase_add_test(tc, test_mode_names_cover_every_mode);
	suite_add_tcase(s, tc);

	return test_run_suite(s);
}
