#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# The flashing logic of public projects' scripts (tests/compat/scripts/: a
# QMK-style `dfu-util -l | grep` wait loop, a Zephyr-style alt lookup parsing
# -l, a Klipper-style -d ,0483:df11 -R -a 0 -s 0x08000000:leave -D call), run
# against dfuflash-sim with `dfu-util` resolved to dfuflash through PATH.  Each
# must succeed, leave the image in the flash and the application running.
# Stock dfu-util is not needed.  Exit 77 without dfuflash-sim or python3.
set -u
bin=${DFUFLASH_BIN:?}
sim=${DFUFLASH_SIM:-$(dirname "$bin")/dfuflash-sim}
here=$(cd "$(dirname "$0")" && pwd)

[ -x "$sim" ] || { echo "SKIP: $sim not built (umockdev missing?)"; exit 77; }
command -v python3 >/dev/null 2>&1 || { echo "SKIP: python3 missing"; exit 77; }
tmp=$(mktemp -d) || exit 99
trap 'rm -rf "$tmp"' EXIT HUP INT TERM
cd "$tmp" || exit 99
"$sim" --time-scale 0 -- true >/dev/null 2>&1 || { echo "SKIP: no umockdev test bed"; exit 77; }

mkdir bin
ln -s "$bin" bin/dfu-util
PATH=$tmp/bin:$PATH
export PATH
[ "$(command -v dfu-util)" = "$tmp/bin/dfu-util" ] || { echo "FAIL: dfu-util not ours"; exit 1; }

# a Cortex-M image for 0x08000000: SP in RAM, reset handler inside, then data
python3 - <<'PY'
import struct
b = bytearray(struct.pack('<II', 0x20004000, 0x08000201)) + bytes(56)
b += bytes((i * 7 + 3) & 0xff for i in range(6000))
open('firmware.bin', 'wb').write(b)
PY

fails=0
for script in qmk-flash.sh zephyr-dfu.py klipper-flash.py; do
	rm -f flash.out
	# shellcheck disable=SC2016
	"$sim" -p stm32f405 --time-scale 0 -f zero-poll-timeout --flash-out flash.out -- \
		sh -c '"$1" firmware.bin > out 2>&1; echo $? > rc; for i in $(seq 30); do
			dfu-util -l > after; grep -q "^Found Runtime" after && break; sleep 0.1; done' \
		sh "$here/scripts/$script" > sim.log 2>&1
	rc=$(cat rc 2>/dev/null)
	if [ "$rc" != 0 ]; then
		echo "FAIL $script: exit ${rc:-none}"; sed 's/^/     | /' out sim.log | tail -n 15
		fails=$((fails + 1))
	elif ! cmp -s -n "$(wc -c < firmware.bin)" flash.out firmware.bin; then
		echo "FAIL $script: the flash does not hold the image"; fails=$((fails + 1))
	elif ! grep -q '^Found Runtime: \[0483:5740\]' after; then
		echo "FAIL $script: the application is not running afterwards"
		sed 's/^/     | /' after; fails=$((fails + 1))
	else
		echo "ok   $script"
	fi
done
[ "$fails" = 0 ] && echo "all scripts flashed" || echo "$fails script(s) failed"
[ "$fails" = 0 ]
