// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * dfuflash: the command dispatcher.  `image ...` goes to cmd-image.c;
 * everything else, dfu-util's options included, to cmd-device.c.  This file
 * is the only place that exits.
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

int main(int argc, char **argv)
{
	struct tool_ctx ctx = { .prog = "dfuflash" };
	const char *base = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];

	ctx.as_dfu_util = strcmp(base, "dfu-util") == 0;

	if (argc >= 2 && strcmp(argv[1], "image") == 0)
		return cmd_image(&ctx, argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "help") == 0) {
		tool_usage(stdout);
		return 0;
	}
	if (argc >= 2 && strcmp(argv[1], "version") == 0) {
		printf("dfuflash %s\n", DFUFLASH_VERSION);
		return 0;
	}
	if (argc < 2) {
		tool_usage(stderr);
		return TOOL_EXIT_USAGE;
	}
	return cmd_device(&ctx, argc, argv);
}
