#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# dfuflash-sim survives clients that come and go while it sends uevents.
#
# libumockdev 0.17 ends the process that sends a uevent when a client's event socket
# vanishes or closes under it (src/sim/sim-uevent-guard.c).  In make check that killed
# the simulator now and then right after a `:leave`, when the next command started while
# the device re-enumerated: the flash dump was lost and the device was gone.  Here one
# client opens and closes uevent sockets as fast as it can while the simulator sends a
# "change" uevent every millisecond; without the guard the simulator died within three
# seconds in every try.  Afterwards the device must still list and the simulator exit 0.
#
# Needs $DFUFLASH_BUILDDIR/dfuflash-sim; exits 77 (skip) without it.
set -u

SIM=${DFUFLASH_SIM:-${DFUFLASH_BUILDDIR:-.}/dfuflash-sim}
BIN=${DFUFLASH_BIN:-${DFUFLASH_BUILDDIR:-.}/dfuflash}
HERE=$(cd "$(dirname "$0")" && pwd)

[ -x "$SIM" ] || { echo "SKIP: $SIM not built (umockdev missing?)"; exit 77; }
if ! "$SIM" --time-scale 0 -- true >/dev/null 2>&1; then
	echo "SKIP: dfuflash-sim cannot set up a umockdev test bed here"
	exit 77
fi

tmp=$(mktemp -d) || exit 99
trap 'rm -rf "$tmp"' EXIT HUP INT TERM

"$SIM" --time-scale 0 --change-events=1 --flash-out "$tmp/flash" -- \
	sh -c 'python3 "$1/uevent-churn.py" 6 && "$2" list' sh "$HERE" "$BIN" \
	>"$tmp/out" 2>&1
rc=$?
sed 's/^/     | /' "$tmp/out"
fails=0
if [ "$rc" -ne 0 ]; then
	echo "FAIL the simulator or its command ended with $rc (expected 0)"
	fails=1
fi
if ! grep -q '^uevent sockets opened: [1-9]' "$tmp/out"; then
	echo "FAIL the churning client did not run"
	fails=1
fi
if ! grep -q 'Found DFU: \[0483:df11\]' "$tmp/out"; then
	echo "FAIL the device is not listed after the churn"
	fails=1
fi
# the simulator reached its end: it wrote the flash dump (1 MiB on the STM32F405)
size=$(stat -c %s "$tmp/flash" 2>/dev/null || echo 0)
if [ "$size" -ne 1048576 ]; then
	echo "FAIL the flash dump has $size bytes, not 1048576: the simulator did not end normally"
	fails=1
fi
[ "$fails" -eq 0 ] && echo "ok   dfuflash-sim kept serving while clients came and went"
exit "$fails"
