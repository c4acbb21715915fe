// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * `dfuflash help` (and -h, --help): the whole help text, with the commands
 * once, the options in both spellings and the exit codes; and `dfuflash
 * version`.
 */
#include "config.h"

#include <stdio.h>

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
	      "  flash FILE           write FILE (bin, dfu, dfuse, hex, srec, elf) to the\n"
	      "                       device (dfu-util -D)\n"
	      "  read OUT             read the device into OUT, - for stdout (dfu-util -U)\n"
	      "  verify FILE          compare the device with FILE\n"
	      "  erase                mass-erase the device\n"
	      "  leave                leave DFU mode and start the application\n"
	      "  detach               send DFU_DETACH to a run-time device\n"
	      "  read-options         show the option bytes: read/write protection,\n"
	      "                       brown-out level, boot configuration\n"
	      "  station FILE         flash each matching board as it arrives\n"
	      "  quirks               the quirks and the polling each device gets, and\n"
	      "                       where they come from (built-in, quirk file:line)\n"
	      "  image ...            work on firmware files: info, convert, suffix,\n"
	      "                       layout (`dfuflash image --help`)\n"
	      "\n",
	      f);
	tool_options_usage(f);
	fputc('\n', f);
	tool_print_exit_codes(f);
	fputs("\nSee dfuflash(1).\n", f);
}

int cmd_help(struct tool_ctx *ctx, int argc, char **argv)
{
	(void)ctx;
	(void)argc;
	(void)argv;
	tool_usage(stdout);
	return 0;
}

int cmd_version(struct tool_ctx *ctx, int argc, char **argv)
{
	(void)ctx;
	(void)argc;
	(void)argv;
	printf("dfuflash %s\n", DFUFLASH_VERSION);
	return 0;
}

/*
 * dfu-util prints a banner of seven lines to stdout before anything else,
 * and scripts skip it by line count or grep past it: the same shape here.
 * Line 1 names the dfu-util level accepted, as dfu-util or as dfuflash.
 */
void tool_print_banner(const struct tool_ctx *ctx, FILE *f)
{
	if (ctx->as_dfu_util)
		fprintf(f, "dfu-util 0.11 (dfuflash %s)\n", DFUFLASH_VERSION);
	else
		fprintf(f, "dfuflash %s (dfu-util 0.11 command line)\n", DFUFLASH_VERSION);
	fputs("\n"
	      "dfuflash: USB DFU 1.1 and ST DfuSe flashing, a drop-in for dfu-util 0.11\n"
	      "Differences from dfu-util: see the dfuflash(1) manual page\n"
	      "This program is Free Software and has ABSOLUTELY NO WARRANTY\n"
	      "License: GPL-2.0-or-later\n"
	      "\n",
	      f);
}

void tool_options_usage(FILE *f)
{
	fputs("dfu-util 0.11 spelling (every option and long alias is accepted):\n"
	      "  -l --list   -D --download FILE|-   -U --upload FILE   -e --detach   -R --reset\n"
	      "  -s --dfuse-address [ADDRESS][:leave][:mass-erase][:unprotect][:will-reset]\n"
	      "                                     [:force][:LENGTH]  (mass-erase and unprotect\n"
	      "                                     need :force; -s alone with a command modifier\n"
	      "                                     runs it without a file)\n"
	      "  -Z --upload-size N   -t --transfer-size N (0 = the device's)\n"
	      "  -E --detach-delay SECONDS (default 5)   -w, --wait[=SECONDS] (default: forever)\n"
	      "  -h --help   -V --version   -v --verbose (repeat for more)\n"
	      "\n"
	      "Device selection (both spellings):\n"
	      "  -d --device VID:PID[,VID:PID]      run-time[,DFU-mode] ids, hexadecimal; * any,\n"
	      "                                     - none; ',VID:PID' = DFU mode only\n"
	      "  -S --serial SERIAL[,SERIAL_DFU]    -p --path BUS-PORT[.PORT...]\n"
	      "  -n --devnum N   -c --cfg N   -i --intf N   -a --alt NUMBER|NAME\n"
	      "\n"
	      "Native options:\n"
	      "  --address A          where a raw binary goes / reading starts (= -s A)\n"
	      "  --length N           bytes to read (read)\n"
	      "  --leave              start the application afterwards (= :leave)\n"
	      "  --jump A             jump to the vector table at A on leave (implies --leave)\n"
	      "  --mass-erase --unprotect --will-reset --force   as the -s modifiers\n"
	      "  --verify             read back and compare after writing\n"
	      "  --full               erase and write every sector; by default a DfuSe flash\n"
	      "                       skips the sectors that already hold the image\n"
	      "  --wait-app[=SECONDS] wait for the application's USB device after leaving\n"
	      "  --timeout MS         per-operation deadline in milliseconds\n"
	      "  --poll=auto|announced|MS   how often a busy device is asked for its status\n"
	      "  --format F           input format instead of detecting it\n"
	      "  --json               machine-readable output on stdout\n"
	      "  --progress=bar|plain|none   -q, --quiet (errors only)\n"
	      "  --trace FILE         every USB control request as a JSON line to FILE\n"
	      "  --otp                allow writing OTP memory and its lock bytes (irreversible)\n"
	      "  --dry-run            flash/erase/leave: print the plan, write nothing\n"
	      "  --all                flash: every matching board, in parallel\n"
	      "  --count N            station: stop after N boards\n"
	      "  --record LOG         --all, station: append a JSON line per board to LOG\n"
	      "\n"
	      "Numbers are decimal, or hexadecimal with 0x; a leading 0 is not octal.\n",
	      f);
}
