#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# `dfuflash image prefix add|check|delete` against dfu-util's dfu-prefix -L:
# the same bytes for plain and suffixed files of several sizes (when dfu-prefix
# 0.11 is installed; else the known bytes of one case), and the refusals.
set -u
bin=${DFUFLASH_BIN:?}
command -v python3 >/dev/null 2>&1 || { echo "SKIP: python3 missing"; exit 77; }
tmp=$(mktemp -d) || exit 99
trap 'rm -rf "$tmp"' EXIT HUP INT TERM
cd "$tmp" || exit 99
fails=0
ok() { echo "ok   $1"; }
bad() { echo "FAIL $1"; fails=$((fails + 1)); }
mk() { python3 -c "import sys; open(sys.argv[1],'wb').write(bytes((i*31+7)&255 for i in range(int(sys.argv[2]))))" "$1" "$2"; }

# known bytes: what dfu-prefix -a -L writes before 5000 bytes
mk p.bin 5000
"$bin" image prefix add p.bin 2>/dev/null
[ "$(head -c 16 p.bin | od -An -tx1 | tr -d ' \n')" = 1a3f0a000000000000000000ffffffff ] &&
	[ "$(wc -c < p.bin)" -eq 5016 ] && ok "add: dfu-prefix's 16 bytes" || bad "add: wrong prefix bytes"
"$bin" image prefix check p.bin > out 2>&1 && grep -q "10 blocks of 512 bytes" out &&
	ok "check: 10 blocks" || bad "check: $(cat out)"
"$bin" image prefix add p.bin > out 2>&1; rc=$?
[ $rc = 65 ] && grep -q "already starts with" out && ok "add twice: exit 65" || bad "add twice: exit $rc"
"$bin" image prefix delete p.bin 2>/dev/null && mk p0.bin 5000 && cmp -s p.bin p0.bin &&
	ok "delete: the original bytes" || bad "delete: not the original"
"$bin" image prefix check p.bin > out 2>&1; rc=$?
[ $rc = 1 ] && grep -q "no NXP LPC DFU prefix" out && ok "check without: exit 1" || bad "check without: exit $rc"
"$bin" image prefix delete p.bin > out 2>&1; rc=$?
[ $rc = 65 ] && ok "delete without: exit 65" || bad "delete without: exit $rc"
"$bin" image prefix frob p.bin > out 2>&1; rc=$?
[ $rc = 64 ] && ok "unknown operation: exit 64" || bad "unknown operation: exit $rc"
"$bin" image prefix check nonexistent.bin > out 2>&1; rc=$?
[ $rc = 66 ] && grep -q nonexistent.bin out && ok "missing file: exit 66" || bad "missing file: exit $rc"

# side by side with dfu-prefix and dfu-suffix 0.11, when installed
if command -v dfu-prefix >/dev/null 2>&1 && dfu-prefix -V 2>/dev/null | grep -q '^dfu-prefix (dfu-util) 0\.11'; then
	for n in 1 511 512 1025 300000; do
		for suffixed in no yes; do
			mk a.bin $n
			[ $suffixed = yes ] && dfu-suffix -a a.bin -v 0483 -p df11 >/dev/null 2>&1
			cp a.bin b.bin
			dfu-prefix -a a.bin -L >/dev/null 2>&1
			"$bin" image prefix add b.bin 2>/dev/null
			cmp -s a.bin b.bin && ok "add $n bytes (suffix: $suffixed) = dfu-prefix" ||
				bad "add $n bytes (suffix: $suffixed) differs from dfu-prefix"
			dfu-prefix -D a.bin >/dev/null 2>&1
			"$bin" image prefix delete b.bin 2>/dev/null
			cmp -s a.bin b.bin && ok "delete $n bytes (suffix: $suffixed) = dfu-prefix" ||
				bad "delete $n bytes (suffix: $suffixed) differs from dfu-prefix"
		done
	done
else
	echo "note: dfu-prefix 0.11 not installed: side-by-side cases not run"
fi
[ "$fails" = 0 ]
