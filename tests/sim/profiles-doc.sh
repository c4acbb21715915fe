#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Keeps man/dfuflash-sim.1 in sync with the simulator: every profile that
# `dfuflash-sim --list-profiles` prints and every fault token documented in
# src/sim/sim-api.h must have its entry (".B name" or ".BI name=" / ".BR name...").
set -u

SIM=${DFUFLASH_BUILDDIR:-.}/dfuflash-sim
SRC=${DFUFLASH_SRCDIR:-.}
MAN=$SRC/man/dfuflash-sim.1
API=$SRC/src/sim/sim-api.h

[ -x "$SIM" ] || { echo "SKIP: $SIM not built"; exit 77; }
[ -f "$MAN" ] && [ -f "$API" ] || { echo "SKIP: sources not found in $SRC"; exit 77; }

fails=0
entry() {
	grep -Eq "^\.(B|BI|BR) $1(\$|[ =\[])" "$MAN"
}

for p in $("$SIM" --list-profiles | awk '{ print $1 }'); do
	entry "$p" || { echo "FAIL profile '$p' is missing from $MAN"; fails=$((fails + 1)); }
done

# tokens: "<tab> *   name=..." lines of the sim_options.faults comment, plus the
# second token of "manifest-tolerant=0|1, will-detach=0|1"
tokens=$(sed -n '/Tokens:/,/\*\//p' "$API" |
	sed -n 's/^[[:space:]]*\*   \([a-z][a-z0-9-]*\).*/\1/p; s/.*, \(will-detach\)=.*/\1/p' | sort -u)
[ -n "$tokens" ] || { echo "FAIL no fault tokens found in $API"; exit 1; }
for t in $tokens; do
	grep -Eq "^\.(B|BI|BR) \\\\?\[?$t" "$MAN" || grep -q "\.BR .*, \" $t" "$MAN" ||
		grep -q "\" $t=" "$MAN" ||
		{ echo "FAIL fault token '$t' is missing from $MAN"; fails=$((fails + 1)); }
done

[ $fails -eq 0 ] && echo "ok   man page lists every profile and fault token"
[ $fails -eq 0 ]
