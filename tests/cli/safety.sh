#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Input and output safety of the dfuflash binary, end to end: a file's name
# sets its format (never raw bytes by accident), inputs that never end or
# never open, output files that exist or are symlinks, names with control
# characters in text and JSON, and the exit codes of the man page's table.
# The device checks run against dfuflash-sim (umockdev) and are skipped,
# and counted as skipped, when it cannot run here.
set -u
bin=${DFUFLASH_BIN:?}
src=${DFUFLASH_SRCDIR:?}
builddir=${DFUFLASH_BUILDDIR:-$(dirname "$bin")}
simbin=${DFUFLASH_SIM:-$builddir/dfuflash-sim}
tmp=$(mktemp -d) || exit 99
trap 'rm -rf "$tmp"' EXIT HUP INT TERM
pass=0
fail=0
skips=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }
# check NAME COMMAND...: a shell check that succeeds or fails
check() {
	name=$1; shift
	if "$@"; then ok; else bad "$name"; fi
}

# expect CODE PATTERN -- CMD...: exit status CODE, stderr+stdout matching PATTERN
expect() {
	code=$1; pat=$2; shift 3
	out=$("$@" 2>&1); rc=$?
	printf '%s\n' "$out" > "$tmp/out"
	if [ "$rc" != "$code" ]; then bad "$* -> exit $rc, expected $code; output: $out"; return; fi
	if [ -n "$pat" ] && ! printf '%s' "$out" | grep -Eq -- "$pat"; then
		bad "$* -> output does not match /$pat/: $out"; return
	fi
	ok
}

ex="$src/tests/data/example-f4.hex"
cd "$tmp" || exit 99

# ---- a name that says the format ------------------------------------------------------

# a UTF-8 byte-order mark (Windows editors) before Intel HEX and S-records
printf '\357\273\277' > bom.hex && cat "$ex" >> bom.hex
expect 0 'bom.hex: Intel HEX' -- "$bin" image info bom.hex
expect 0 '0x08000000\.\.0x080001a3' -- "$bin" image info bom.hex
"$bin" image convert "$ex" plain.srec 2>/dev/null || bad "convert to srec"
printf '\357\273\277' > bom.s19 && cat plain.srec >> bom.s19
expect 0 'bom.s19: Motorola S-record' -- "$bin" image info bom.s19
# a garbled or mislabelled file is refused naming file, place and reason
printf 'this is not a hex file\n' > garbled.hex
expect 65 'garbled.hex: line 1: ' -- "$bin" image info garbled.hex
grep -q 'raw binary' "$tmp/out" && bad "garbled.hex read as raw bytes" || ok
expect 65 '--format' -- "$bin" image info garbled.hex
printf 'S1garbage\n' > garbled.mot
expect 65 'garbled.mot: line 1: ' -- "$bin" image info garbled.mot
for ext in ihx s19 s28 s37 srec; do
	printf 'not a record\n' > "bad.$ext"
	expect 65 "bad.$ext: line 1: " -- "$bin" image info "bad.$ext"
done
printf 'not an ELF file at all\n' > notelf.elf
expect 65 'notelf.elf: offset 0 .*ELF' -- "$bin" image info notelf.elf
cp "$ex" hexdata.elf
expect 65 'hexdata.elf: .*ELF' -- "$bin" image info hexdata.elf
# --format bin is the way to take such a file as raw bytes
expect 0 'raw binary' -- "$bin" image info --format bin notelf.elf
# other names are still told apart by their content
cp "$ex" example.txt
expect 0 'example.txt: Intel HEX' -- "$bin" image info example.txt

# ---- inputs that never end or never open ----------------------------------------------

for dev in /dev/zero /dev/null; do
	expect 66 "$dev: is a character device" -- timeout 20 "$bin" image info "$dev"
done
mkdir adir.hex
expect 66 'adir.hex: is a directory' -- "$bin" image info adir.hex
if mkfifo fifo.bin 2>/dev/null; then
	# no writer: the open must not block (timeout's 124 would show it)
	expect 66 'fifo.bin: is a FIFO' -- timeout 20 "$bin" image info fifo.bin
else
	skips=$((skips + 1)); echo "skip: mkfifo"
fi
# standard input is read, but never past the limit
expect 65 'larger than .*stopped reading' -- timeout 60 sh -c "'$bin' image info --max-size 4096 - < /dev/zero"

echo "safety.sh: $pass passed, $fail failed, $skips skipped"
[ "$fail" -eq 0 ]
