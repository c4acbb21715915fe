#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
# After Klipper's scripts/flash_usb.py (flash_dfuutil), rewritten minimally:
# one dfu-util call with -d ,VID:PID -R -a 0 -s ADDR:leave -D, and the exit
# status decides ("Error running dfu-util").  argv: firmware.bin
import subprocess
import sys

args = ["dfu-util", "-d", ",0483:df11", "-R", "-a", "0",
        "-s", "0x08000000:leave", "-D", sys.argv[1]]
res = subprocess.call(args)
if res != 0:
    sys.exit("Error running dfu-util")
print("Flashed")
