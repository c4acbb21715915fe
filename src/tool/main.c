// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * dfuflash: the command dispatcher.  Each command lives in its own cmd-*.c
 * file and returns an exit code; this file is the only place that exits.
 */
#include "config.h"

#include <string.h>

#include "macro.h"
#include "tool.h"

static int cmd_help(struct tool_ctx *ctx, int argc, char **argv);
static int cmd_version(struct tool_ctx *ctx, int argc, char **argv);

static const struct tool_cmd commands[] = {
	{ "image", cmd_image, "work on firmware files: info, convert, suffix, layout" },
	{ "help", cmd_help, "show this help" },
	{ "version", cmd_version, "show the version" },
};

static void usage(FILE *f)
{
	fputs("Usage: dfuflash COMMAND [ARGS...]\n"
	      "\n"
	      "dfuflash flashes and reads USB DFU 1.1 and ST DfuSe devices and works on\n"
	      "their firmware files (raw binary, DFU suffix, DfuSe .dfu, Intel HEX,\n"
	      "S-record, ELF).\n"
	      "\n"
	      "Commands:\n",
	      f);
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].help);
	fputs("\n"
	      "Options:\n"
	      "  -h, --help     show this help\n"
	      "  -V, --version  show the version\n"
	      "  -q, --quiet    print errors only\n"
	      "\n"
	      "`dfuflash image --help` shows the image commands.\n\n",
	      f);
	tool_print_exit_codes(f);
	fputs("\nSee dfuflash(1).\n", f);
}

static int cmd_help(struct tool_ctx *ctx, int argc, char **argv)
{
	usage(stdout);
	return 0;
}

static int cmd_version(struct tool_ctx *ctx, int argc, char **argv)
{
	printf("dfuflash %s\n", DFUFLASH_VERSION);
	return 0;
}

int main(int argc, char **argv)
{
	struct tool_ctx ctx = { .prog = "dfuflash" };
	int i = 1;

	for (; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		}
		if (!strcmp(argv[i], "-V") || !strcmp(argv[i], "--version"))
			return cmd_version(&ctx, 0, NULL);
		if (!strcmp(argv[i], "-q") || !strcmp(argv[i], "--quiet")) {
			ctx.quiet = true;
			continue;
		}
		if (!strcmp(argv[i], "-v") || !strcmp(argv[i], "--verbose")) {
			ctx.verbose++;
			continue;
		}
		tool_err("unknown option '%s'", argv[i]);
		usage(stderr);
		return TOOL_EXIT_USAGE;
	}
	if (i >= argc) {
		usage(stderr);
		return TOOL_EXIT_USAGE;
	}
	for (size_t k = 0; k < ARRAY_SIZE(commands); k++)
		if (strcmp(argv[i], commands[k].name) == 0)
			return commands[k].run(&ctx, argc - i, argv + i);
	tool_err("unknown command '%s'", argv[i]);
	tool_hint("commands: image, help, version; see `dfuflash --help`");
	return TOOL_EXIT_USAGE;
}
