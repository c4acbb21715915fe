// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * dfuflash: the command dispatcher.  `image ...` goes to cmd-image.c;
 * everything else, dfu-util's options included, to device-run.c, which
 * dispatches the device commands (cmd-*.c) by mode.  This file is the only
 * place that exits.
 */
#include "config.h"

#include <string.h>

#include "macro.h"
#include "options.h"
#include "tool.h"

void tool_usage(FILE *f)
{
	fputs("Usage: dfuflash COMMAND [OPTIONS...]\n"
	      "       dfuflash [dfu-util options]\n"
	      "\n"
	      "dfuflash flashes and reads USB DFU 1.1 and ST DfuSe devices and works on\n"
	      "their firmware files (raw binary, DFU suffix, DfuSe .dfu, Intel HEX,\n"
	      "S-record, ELF).  It accepts dfu-util's command line: replace `dfu-util`\n"
	      "by `dfuflash` in a script.\n"
	      "\n"
	      "Commands:\n"
	      "  list                 list DFU devices (dfu-util -l)\n"
	      "  flash FILE           write FILE to the device (dfu-util -D)\n"
	      "  read OUT             read the device into OUT (dfu-util -U)\n"
	      "  verify FILE          compare the device with FILE\n"
	      "  erase                mass-erase the device\n"
	      "  leave                leave DFU mode and start the application\n"
	      "  detach               send DFU_DETACH to a run-time device\n"
	      "  read-options         show the option bytes: read/write protection,\n"
	      "                       brown-out level, boot configuration\n"
	      "  image ...            work on firmware files: info, convert, suffix,\n"
	      "                       layout (`dfuflash image --help`)\n"
	      "\n",
	      f);
	tool_options_usage(f);
	fputc('\n', f);
	tool_print_exit_codes(f);
	fputs("\nSee dfuflash(1).\n", f);
}

static int cmd_help(struct tool_ctx *ctx, int argc, char **argv)
{
	(void)ctx;
	(void)argc;
	(void)argv;
	tool_usage(stdout);
	return 0;
}

static int cmd_version(struct tool_ctx *ctx, int argc, char **argv)
{
	(void)ctx;
	(void)argc;
	(void)argv;
	printf("dfuflash %s\n", DFUFLASH_VERSION);
	return 0;
}

/* The words that must come first; anything else is a device command line
 * (cmd_device), in dfuflash's words or dfu-util's options. */
static const struct tool_cmd commands[] = {
	{ "image", cmd_image, "work on firmware files: info, convert, suffix, layout" },
	{ "help", cmd_help, "the whole help text" },
	{ "version", cmd_version, "the version of dfuflash" },
};

int main(int argc, char **argv)
{
	struct tool_ctx ctx = { .prog = "dfuflash" };
	const char *base = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];

	ctx.as_dfu_util = strcmp(base, "dfu-util") == 0;

	for (size_t i = 0; argc >= 2 && i < ARRAY_SIZE(commands); i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].run(&ctx, argc - 1, argv + 1);
	if (argc < 2) {
		tool_usage(stderr);
		return TOOL_EXIT_USAGE;
	}
	return cmd_device(&ctx, argc, argv);
}
