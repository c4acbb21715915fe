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
# standard input is read, but never from a terminal (nobody types firmware)
if command -v script >/dev/null 2>&1; then
	expect 64 'standard input is a terminal' -- timeout 20 script -qec "'$bin' image info -" /dev/null
else
	skips=$((skips + 1)); echo "skip: script(1) missing"
fi
# standard input is read, but never past the limit
expect 65 'larger than .*stopped reading' -- timeout 60 sh -c "'$bin' image info --max-size 4096 - < /dev/zero"

# ---- output files -------------------------------------------------------------------

"$bin" image convert "$ex" app.bin 2>/dev/null || bad "convert to bin"
printf 'secret' > target.bin
ln -s target.bin link.bin
ln -s missing.bin dangling.bin
# a symbolic link is an existing name; --force does not write through it
expect 73 'link.bin: file exists' -- "$bin" image convert "$ex" link.bin
expect 73 'dangling.bin: file exists' -- "$bin" image convert "$ex" dangling.bin
check "no file created through a dangling link" test ! -e missing.bin
expect 73 'link.bin: is a symbolic link' -- "$bin" image convert --force "$ex" link.bin
check "the link's target is untouched" test "$(cat target.bin)" = secret
check "the link stays a link" test -L link.bin
# writing fails half way (a file size limit: EFBIG): an I/O error, 74
head -c 8192 /dev/zero | tr '\0' '\125' > big.bin
printf 'precious' > keep.hex
expect 74 'keep.hex: cannot write: ' -- sh -c "ulimit -f 4; trap '' XFSZ; exec '$bin' image convert --force --address 0x08000000 big.bin keep.hex"
check "the file replaced is unchanged after a failed write" test "$(cat keep.hex)" = precious
expect 74 'new.hex: cannot write: ' -- sh -c "ulimit -f 4; trap '' XFSZ; exec '$bin' image convert --address 0x08000000 big.bin new.hex"
check "no half-written file is left" test ! -e new.hex
check "no temporary file is left" test -z "$(ls -A | grep '^\.')"
# a full file system (ENOSPC) is the same I/O error, where a private mount is allowed
mkdir full
if unshare -rm true 2>/dev/null; then
	expect 74 'No space left' -- unshare -rm sh -c "mount -t tmpfs -o size=16k tmpfs full &&
		head -c 12000 /dev/zero > full/filler; exec '$bin' image convert --address 0x08000000 big.bin full/o.hex"
else
	skips=$((skips + 1)); echo "skip: ENOSPC (no private mount namespace here)"
fi
# an image without data converts to nothing: refused as flash refuses it
printf ':00000001FF\n' > empty.hex
expect 65 'empty.hex: the file holds no data' -- "$bin" image convert empty.hex empty.bin
check "no empty output" test ! -e empty.bin

# ---- names with control characters, names that are not UTF-8 ------------------------

evil=$(printf 'evil\n[ok] flashed\033[2J.hex')
latin=$(printf 'lat\351n.hex')
cp "$ex" "$evil" && cp "$ex" "$latin"
"$bin" image info "$evil" > info.txt 2>&1
check "a newline in a name does not start a line" \
	test "$(head -n 1 info.txt)" = 'evil\n[ok] flashed\x1b[2J.hex: Intel HEX'
check "no raw escape character in text output" test -z "$(tr -d '\n' < info.txt | tr -d '[:print:]')"
printf 'garbage\n' > "$evil.srec"
"$bin" image info "$evil.srec" > err.txt 2>&1
check "an error naming such a file is one line and a hint" test "$(wc -l < err.txt)" -eq 2
check "the error line names the file escaped" grep -qF 'evil\n[ok] flashed\x1b[2J.hex.srec: line 1' err.txt
"$bin" image info --json "$latin" "$evil" > names.json 2>/dev/null
check "JSON output is valid UTF-8 and keeps the names" python3 - names.json "$src" <<'PY'
import json, sys
raw = open(sys.argv[1], 'rb').read()
d = json.loads(raw.decode('utf-8'))  # strict: raises on a raw Latin-1 byte
names = [f.get('file', f.get('path')) for f in d['files']]
assert names == ['lat\ufffdn.hex', 'evil\n[ok] flashed\x1b[2J.hex'], names
assert b'\x1b' not in raw and b'\xe9' not in raw
PY

# ---- against the virtual device -----------------------------------------------------

if ! [ -x "$simbin" ] || ! "$simbin" --time-scale 0 -- true >/dev/null 2>&1; then
	skips=$((skips + 1)); echo "skip: the device checks (dfuflash-sim cannot run here)"
	echo "safety.sh: $pass passed, $fail failed, $skips skipped"
	[ "$fail" -eq 0 ]
	exit
fi
sim() {
	p=$1; shift
	"$simbin" -p "$p" --time-scale 0 -f zero-poll-timeout "$@"
}
# tty CMD...: run CMD with a terminal as standard output
tty() {
	python3 -c '
import os, pty, sys
pid, fd = pty.fork()
if pid == 0:
    os.execvp(sys.argv[1], sys.argv[1:])
out = b""
while True:
    try:
        d = os.read(fd, 4096)
    except OSError:
        break
    if not d:
        break
    out += d
sys.stdout.write(out.decode(errors="replace"))
sys.exit(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))' "$@"
}

# --trace: an existing file needs --force; a link is not written through
printf 'old trace' > old.json
expect 73 'old.json: file exists' -- sim stm32f405 -- "$bin" --trace old.json read --address 0x08000000 --length 64 r1.bin
check "the old trace is kept" test "$(cat old.json)" = 'old trace'
check "nothing was read after the refusal" test ! -e r1.bin
expect 0 '' -- sim stm32f405 -- "$bin" --trace old.json --force read --address 0x08000000 --length 64 r2.bin
check "--force replaced the trace" grep -q '"request":"DFU_UPLOAD"' old.json
ln -s target.bin trace-link.json
expect 73 'trace-link.json: file exists' -- sim stm32f405 -- "$bin" --trace trace-link.json read --address 0x08000000 --length 64 r3.bin
expect 73 'trace-link.json: is a symbolic link' -- sim stm32f405 -- "$bin" --trace trace-link.json --force read --address 0x08000000 --length 64 r4.bin
check "the trace link's target is untouched" test "$(cat target.bin)" = secret
# read into an existing name or a link: refused before the device is used
expect 73 'link.bin: file exists' -- sim stm32f405 -- "$bin" read --address 0x08000000 --length 64 link.bin

# read -: the bytes on standard output, never on a terminal
sim stm32f405 --flash-in app.bin@0x08000000 -- "$bin" read --address 0x08000000 --length 420 - > up.bin 2> up.err
rc=$?
check "read - exits 0 (got $rc)" test "$rc" -eq 0
check "read - writes the flash to standard output" cmp -s app.bin up.bin
check "read - says where the bytes went" grep -q 'read into standard output' up.err
expect 64 'standard output is a terminal' -- tty "$simbin" -p stm32f405 --time-scale 0 -- "$bin" read --address 0x08000000 --length 64 -
expect 64 'json' -- sim stm32f405 -- "$bin" read --json --address 0x08000000 --length 64 -

# the range of a read wraps past 4 GiB: the command line's mistake, 64
expect 64 '0xfffffff0 \+ 256 passes the end of the 32-bit address space' -- sim stm32f405 -- "$bin" read --address 0xFFFFFFF0 --length 0x100 wrap.bin
check "no file from a refused read" test ! -e wrap.bin

# a DfuSe device too small for a 5-byte command: its fault (76), nothing erased
for n in 1 4; do
	expect 76 "wTransferSize $n, too small for a 5-byte DfuSe command" -- sim stm32f405 -f transfer-size=$n -- "$bin" flash "$ex"
	check "no device reset after the refusal (wTransferSize $n)" test -z "$(grep -i 'reset' "$tmp/out")"
done

# two devices with one serial number: -S cannot pick one, only -p can
for sel in "" "-S 3574364C3034"; do
	# shellcheck disable=SC2086
	expect 64 'more than one DFU device' -- sim stm32f405 --devices 2 -- "$bin" flash $sel "$ex"
	check "the hint names -p PATH ($sel)" grep -q '^hint: .*-p PATH' "$tmp/out"
	grep -q '^hint: .*-S SERIAL' "$tmp/out" && bad "the hint offers -S for devices sharing a serial ($sel)" || ok
done
expect 0 '' -- sim stm32f405 --devices 2 -- "$bin" flash -p 1-1 "$ex"

# a name that says the format, on the device: the BOM file is flashed as hex,
# a file that is not what its name says never reaches the device
expect 0 '' -- sim stm32f405 --flash-out bomflash.bin -- "$bin" flash bom.hex
check "the BOM hex lands at its own address" cmp -s -n "$(wc -c < app.bin)" app.bin bomflash.bin
expect 65 'notelf.elf: offset 0 .*ELF' -- sim stm32f405 -- "$bin" flash notelf.elf
grep -q 'raw binary\|0x08000000' "$tmp/out" && bad "notelf.elf taken for raw bytes" || ok

echo "safety.sh: $pass passed, $fail failed, $skips skipped"
[ "$fail" -eq 0 ]
