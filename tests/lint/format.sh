#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Every C source and header of the project follows .clang-format.  Output of
# clang-format differs between its major versions, so the check runs with the
# version the tree is formatted with (FORMAT_VERSION) and is skipped with any
# other; `clang-format -i FILE` with that version fixes a failure.
set -u
FORMAT_VERSION=14
srcdir=${DFUFLASH_SRCDIR:?}
cf=
for c in "clang-format-$FORMAT_VERSION" clang-format; do
	if command -v "$c" >/dev/null 2>&1 &&
		"$c" --version | grep -q "version $FORMAT_VERSION\."; then
		cf=$c
		break
	fi
done
[ -n "$cf" ] || { echo "SKIP: clang-format $FORMAT_VERSION not found"; exit 77; }
cd "$srcdir" || exit 99
bad=0
n=0
for f in $(find src tests fuzz bench -name '*.[ch]' | sort); do
	n=$((n + 1))
	if ! "$cf" --style=file "$f" | cmp -s - "$f"; then
		echo "FAIL: $f is not formatted as .clang-format says; the difference:"
		"$cf" --style=file "$f" | diff -u "$f" - | head -20
		bad=1
	fi
done
[ $bad -eq 0 ] && echo "format: $n files follow .clang-format ($cf)"
exit $bad
