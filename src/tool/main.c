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
#include "tool.h"

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
