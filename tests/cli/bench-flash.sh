#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# The flash benchmark (bench/flash, `make bench-flash`) in miniature, so that it
# cannot rot: tiny images on two profiles, at 1/100 of the datasheet timings,
# every case with dfu-util and dfuflash.  The benchmark itself fails on a flash
# that does not hold the image; the ratios it prints are not asserted here.
#
# Needs dfuflash-sim, dfu-util and python3; exits 77 (skip) without them.
set -u

. "$(dirname "$0")/testlib.sh"

command -v dfu-util >/dev/null 2>&1 || { echo "SKIP: dfu-util not installed"; exit 77; }
SRC=${DFUFLASH_SRCDIR:-$(dirname "$0")/../..}

DFUFLASH_BIN=$DFU DFUFLASH_SIM=$SIM python3 "$SRC/bench/flash" --smoke --time-scale 0.01 \
	> "$tmp/out" 2>&1
rc=$?
cat "$tmp/out"
if [ $rc -eq 0 ] && has 'stm32f405-32k:' && has 'generic-4k:' && has 'targets (ratios of this run):' &&
	[ "$(grep -c '^  \(full\|same\|one\|read\) ' "$tmp/out")" -eq 15 ]; then
	pass "bench/flash --smoke: every case of both profiles ran and flashed the image"
else
	fail "bench/flash --smoke (rc $rc)"
fi

echo "$checks checks, $fails failed, $skips skipped"
[ $fails -eq 0 ] || exit 1
exit 0
