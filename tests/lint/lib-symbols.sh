#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# The library never prints, never exits and keeps no globals: check the
# undefined and defined symbols of libdfuflash's objects (house style rule 13).
set -u
build=${DFUFLASH_BUILDDIR:?}
objs=$(find "$build/src/lib" -name '*.o' 2>/dev/null)
[ -n "$objs" ] || { echo "SKIP: no library objects in $build/src/lib"; exit 77; }
command -v nm >/dev/null || { echo "SKIP: nm not found"; exit 77; }

forbidden='^(printf|fprintf|vfprintf|puts|fputs|putchar|fputc|perror|exit|_exit|abort|err|errx|warn|warnx|syslog|stdout|stderr|__printf_chk|__fprintf_chk|__vfprintf_chk)$'
bad=0
for o in $objs; do
	u=$(nm -u "$o" | awk '{print $2}' | sed 's/@.*//' | grep -E "$forbidden")
	if [ -n "$u" ]; then
		echo "FAIL: $(basename "$o") uses: $(echo $u)"
		bad=1
	fi
	# writable state at file scope, static or not: data objects in .data or
	# .bss (const tables live in .rodata or .data.rel.ro); sanitizer
	# instrumentation symbols start with "__" or "."
	g=$(objdump -t "$o" | awk '{ for (i = 2; i < NF; i++) if ($i == "O") {
			sec = $(i + 1)
			if (sec ~ /^\.(data|bss)/ && sec !~ /^\.data\.rel\.ro/) print $NF
		} }' | grep -v '^__\|^\.')
	if [ -n "$g" ]; then
		echo "FAIL: $(basename "$o") has writable file-scope variables: $(echo $g)"
		bad=1
	fi
done
[ $bad -eq 0 ] && echo "lib-symbols: $(echo $objs | wc -w) objects clean"
exit $bad
