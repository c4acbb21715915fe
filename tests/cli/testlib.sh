# SPDX-License-Identifier: GPL-2.0-or-later
# Shared prologue of the end-to-end shell tests that run dfuflash against
# dfuflash-sim: where the binaries are, when to skip (exit 77), a temporary
# directory removed at exit, and pass/fail/skip counters.  Sourced, not run.
BUILD=${DFUFLASH_BUILDDIR:-.}
SIM=${DFUFLASH_SIM:-$BUILD/dfuflash-sim}
DFU=${DFUFLASH_BIN:-$BUILD/dfuflash}

[ -x "$SIM" ] || { echo "SKIP: $SIM not built (umockdev missing?)"; exit 77; }
[ -x "$DFU" ] || { echo "SKIP: $DFU not built"; exit 77; }
command -v python3 >/dev/null 2>&1 || { echo "SKIP: python3 needed to make test images"; exit 77; }

tmp=$(mktemp -d) || exit 99
trap 'rm -rf "$tmp"' EXIT HUP INT TERM
fails=0
checks=0
skips=0

pass() { checks=$((checks + 1)); echo "ok   $1"; }
fail() {
	checks=$((checks + 1)); fails=$((fails + 1)); echo "FAIL $1"
	[ -f "$tmp/out" ] && sed 's/^/     | /' "$tmp/out" | tail -n 20
}
skip() { skips=$((skips + 1)); echo "skip $1"; }
# the last run's output ($tmp/out) contains the fixed string $1
has() { grep -qF -- "$1" "$tmp/out"; }
