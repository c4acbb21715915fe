#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
# After Zephyr's scripts/west_commands/runners/dfu.py, rewritten minimally: find
# the alt by its name in `dfu-util -l` (", name=\"...\"," and ", alt=N,"), then
# download with the DfuSe address and :leave.  argv: firmware.bin
import re
import subprocess
import sys

dev, name = "0483:df11", "@Internal Flash  /0x08000000/04*016Kg,01*064Kg,07*128Kg"
out = subprocess.check_output(["dfu-util", "-l"], text=True)
alt = None
for line in out.splitlines():
    if ("Found DFU: [%s]" % dev) in line and (', name="%s",' % name) in line:
        alt = re.search(r", alt=(\d+),", line).group(1)
        break
if alt is None:
    sys.exit("no DFU device with an alt named %r" % name)
sys.exit(subprocess.call(["dfu-util", "-d", "," + dev, "-a", alt,
                          "-s", "0x08000000:leave", "-D", sys.argv[1]]))
