#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# The corpus cases of the unit suites, as one test: each suite is run with
# CK_RUN_CASE=corpus (only its "corpus" test case).  Without the shared
# corpus no suite runs a case and this test is SKIPPED (77), so a corpus case
# is never counted as a pass; `make check` runs the suites themselves with
# DFUFLASH_CORPUS_CASES=skip (tests/testutil.h).
set -u
build=${DFUFLASH_BUILDDIR:?}
suites="check-dfuse-file check-elf check-ihex check-srec check-suffix"
n=0
ran=0
failed=0
for t in $suites; do
	n=$((n + 1))
	prog=$build/tests/$t
	[ -x "$prog" ] || { echo "SKIP: $prog not built (Check missing?)"; exit 77; }
	CK_RUN_CASE=corpus DFUFLASH_CORPUS_CASES=only "$prog"
	rc=$?
	case $rc in
	0) ran=$((ran + 1)) ;;
	77) echo "$t: no corpus case ran" ;;
	*) echo "FAIL: $t: corpus cases failed (exit $rc)"; failed=1 ;;
	esac
done
[ $failed -eq 0 ] || exit 1
[ $ran -gt 0 ] || { echo "SKIP: no corpus case ran (DFUFLASH_CORPUS=${DFUFLASH_CORPUS:-unset})"; exit 77; }
[ $ran -eq $n ] || { echo "FAIL: only $ran of $n suites ran their corpus cases"; exit 1; }
echo "corpus-cases: the corpus cases of $ran suites passed"
