#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# After QMK's platforms/chibios/flash.mk (dfu-util target), rewritten minimally:
# wait until `dfu-util -l` lists a DFU device (a grep loop, not the exit status),
# then flash with :leave.  $1 = firmware.bin
n=0
until dfu-util -l | grep -q "Found DFU"; do
	n=$((n + 1))
	[ "$n" -gt 50 ] && { echo "no DFU device after $n tries" >&2; exit 1; }
	printf "." >&2
	sleep 0.1
done
dfu-util -d 0483:df11 -a 0 -s 0x08000000:leave -D "$1"
