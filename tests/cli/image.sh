#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# End-to-end tests of `dfuflash image ...` with the built binary: exit codes,
# messages naming file and place, no clobbering, atomic rewrites, round trips.
set -u
bin=${DFUFLASH_BIN:?}
src=${DFUFLASH_SRCDIR:?}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0
fail=0

ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }

# expect CODE PATTERN -- CMD...: exit status CODE, stderr+stdout matching PATTERN
expect() {
	code=$1; pat=$2; shift 3
	out=$("$@" 2>&1); rc=$?
	if [ "$rc" != "$code" ]; then bad "$* -> exit $rc, expected $code; output: $out"; return; fi
	if [ -n "$pat" ] && ! printf '%s' "$out" | grep -Eq -- "$pat"; then
		bad "$* -> output does not match /$pat/: $out"; return
	fi
	ok
}

ex="$src/tests/data/example-f4.hex"

# info
expect 0 'plausible' -- "$bin" image info "$ex"
expect 0 '0x08000000\.\.0x080001a3' -- "$bin" image info "$ex"
"$bin" image info --json "$ex" > "$tmp/info.json" 2>/dev/null && python3 -c '
import json,sys
d=json.load(open(sys.argv[1])); f=d["files"][0]
assert d["schema"]==1 and f["format"]=="ihex" and f["valid"]
assert f["segments"][0]["address"]==0x08000000 and f["segments"][0]["length"]==420
assert f["start_address"]["linear"]==0x08000199 and f["vector_table"]["plausible"]
' "$tmp/info.json" && ok || bad "info --json"
expect 66 "$tmp/nope.hex: cannot open" -- "$bin" image info "$tmp/nope.hex"
expect 64 'no FILE' -- "$bin" image info

# limits and the vector-table base are options
expect 65 'spans .* more than the limit of 256' -- "$bin" image info --max-span 256 "$ex"
expect 65 'more than 100 bytes of data' -- "$bin" image info --max-size 100 "$ex"
expect 0 'at 0x08000008: .*SP 0x080001' -- "$bin" image info --vector-base 0x08000008 "$ex"
expect 64 "--vector-base 'x'" -- "$bin" image info --vector-base x "$ex"

# a malformed file: exit 65, file and line named
sed '3s/.$/0/' "$ex" > "$tmp/badsum.hex"
expect 65 "badsum.hex: line 3: .*checksum" -- "$bin" image info "$tmp/badsum.hex"
# several files: all shown, first failure's exit code
expect 65 'Intel HEX' -- "$bin" image info "$ex" "$tmp/badsum.hex"
"$bin" image info --json "$ex" "$tmp/badsum.hex" > "$tmp/two.json" 2>/dev/null
python3 -c '
import json,sys
d=json.load(open(sys.argv[1]))
assert d["files"][0]["valid"] and not d["files"][1]["valid"]
assert d["files"][1]["error"]["code"]=="ihex.checksum" and d["files"][1]["error"]["where"]=="line 3"
' "$tmp/two.json" && ok || bad "info --json with a bad file"

# convert hex -> bin -> hex round trip
expect 0 '' -- "$bin" image convert "$ex" "$tmp/a.bin"
[ "$(wc -c < "$tmp/a.bin")" -eq 420 ] && ok || bad "bin size"
if command -v objcopy >/dev/null; then
	objcopy -I ihex -O binary "$ex" "$tmp/objcopy.bin" && cmp -s "$tmp/a.bin" "$tmp/objcopy.bin" && ok || bad "bin differs from objcopy"
fi
expect 64 'carries no address.*' -- "$bin" image convert "$tmp/a.bin" "$tmp/b.hex"
expect 64 'address' -- "$bin" image convert "$tmp/a.bin" "$tmp/b.hex"
expect 0 '' -- "$bin" image convert --address 0x08000000 "$tmp/a.bin" "$tmp/b.hex"
"$bin" image convert "$tmp/b.hex" "$tmp/c.bin" 2>/dev/null && cmp -s "$tmp/a.bin" "$tmp/c.bin" && ok || bad "hex round trip"
for to in srec dfuse hex; do
	"$bin" image convert --to $to "$ex" "$tmp/rt.$to" 2>/dev/null &&
	"$bin" image convert --to bin "$tmp/rt.$to" "$tmp/rt-$to.bin" 2>/dev/null &&
	cmp -s "$tmp/a.bin" "$tmp/rt-$to.bin" && ok || bad "round trip through $to"
done
# the start address survives hex -> srec -> hex
"$bin" image info "$tmp/rt.srec" 2>&1 | grep -q 'start address: 0x08000199' && ok || bad "srec start address"

# no clobbering; --force replaces; the old file stays on failure
printf 'precious' > "$tmp/keep.bin"
expect 73 'keep.bin: file exists.*' -- "$bin" image convert "$ex" "$tmp/keep.bin"
[ "$(cat "$tmp/keep.bin")" = precious ] && ok || bad "output clobbered"
expect 0 '' -- "$bin" image convert --force "$ex" "$tmp/keep.bin"
cmp -s "$tmp/a.bin" "$tmp/keep.bin" && ok || bad "--force did not replace"
expect 65 'badsum.hex: line 3' -- "$bin" image convert --force "$tmp/badsum.hex" "$tmp/keep.bin"
cmp -s "$tmp/a.bin" "$tmp/keep.bin" && ok || bad "failed convert touched the output"
ls -a "$tmp" | grep -q '^\.keep' && bad "temporary file left behind" || ok
expect 64 'cannot tell the output format' -- "$bin" image convert "$ex" "$tmp/out.xyz"
expect 64 "unknown format" -- "$bin" image convert --format zip "$ex" "$tmp/x.bin"

# suffix add / check / delete
cp "$tmp/a.bin" "$tmp/s.dfu"
expect 0 'added' -- "$bin" image suffix add --vid 0483 --pid 0xdf11 --did 2200 "$tmp/s.dfu"
expect 0 'vendor 0483, product df11, device 2200' -- "$bin" image suffix check "$tmp/s.dfu"
[ "$(wc -c < "$tmp/s.dfu")" -eq 436 ] && ok || bad "suffix size"
expect 65 'already has a DFU suffix' -- "$bin" image suffix add "$tmp/s.dfu"
if command -v dfu-suffix >/dev/null; then
	cp "$tmp/a.bin" "$tmp/theirs.dfu"
	dfu-suffix -v 0483 -p df11 -d 2200 -a "$tmp/theirs.dfu" >/dev/null 2>&1
	cmp -s "$tmp/s.dfu" "$tmp/theirs.dfu" && ok || bad "suffix differs from dfu-suffix's"
fi
expect 0 'DFU 1.1' -- "$bin" image info "$tmp/s.dfu"
# a flipped payload byte: the CRC no longer matches, and check says so
cp "$tmp/s.dfu" "$tmp/crc.dfu"
printf 'X' | dd of="$tmp/crc.dfu" bs=1 seek=100 conv=notrunc 2>/dev/null
expect 65 'crc.dfu: .*CRC' -- "$bin" image suffix check "$tmp/crc.dfu"
expect 65 'crc.dfu: .*CRC' -- "$bin" image info "$tmp/crc.dfu"
expect 1 'no DFU suffix' -- "$bin" image suffix check "$tmp/a.bin"
expect 0 'removed' -- "$bin" image suffix delete "$tmp/s.dfu"
cmp -s "$tmp/a.bin" "$tmp/s.dfu" && ok || bad "delete did not restore the payload"
expect 65 'no DFU suffix to delete' -- "$bin" image suffix delete "$tmp/s.dfu"
expect 64 "--vid 'xyz'" -- "$bin" image suffix add --vid xyz "$tmp/s.dfu"
expect 64 'unknown operation' -- "$bin" image suffix frob "$tmp/s.dfu"
# a .dfu name without a suffix is an error, not a raw binary
cp "$tmp/a.bin" "$tmp/nosuffix.dfu"
expect 65 'nosuffix.dfu: .*no DFU suffix' -- "$bin" image info "$tmp/nosuffix.dfu"
expect 0 'raw binary' -- "$bin" image info --format bin "$tmp/nosuffix.dfu"

# layout
expect 0 '0x08010000\.\.0x0801ffff +1 x +65536 bytes +rew' -- "$bin" image layout '@Internal Flash  /0x08000000/04*016Kg,01*064Kg,07*128Kg'
expect 0 '"name":"OTP Memory"' -- "$bin" image layout --json '@OTP Memory /0x1FFF7800/01*512 e,01*016 e'
expect 65 'layout: offset' -- "$bin" image layout '@Internal Flash  /0x08000000/04*016Qg'

# top level
expect 64 "unknown command 'frob'" -- "$bin" frob
expect 64 "option '--frob'" -- "$bin" --frob
expect 0 'Exit status' -- "$bin" --help
expect 0 'dfuflash [0-9]' -- "$bin" --version

# device command lines are checked before any device is looked for
expect 64 "unknown modifier 'l'" -- "$bin" -a 0 -s 0x08000000:l -D "$ex"
expect 64 "address '0x0800000g' is not a number" -- "$bin" -s 0x0800000g:leave -D "$ex"
expect 64 "'garbage'" -- "$bin" -s :leave:garbage
expect 64 "unknown command 'frob'" -- "$bin" frob

echo "image.sh: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
