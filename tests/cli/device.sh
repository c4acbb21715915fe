#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# End-to-end tests of the device commands with the built binary against the virtual
# devices of dfuflash-sim (umockdev): every DfuSe profile flashed, read back, verified
# and left; every input format; the plain DFU 1.1 run-time detach path; `-l` against
# dfu-util's own output; the dfu-util command lines of public READMEs and flashing
# scripts (QMK, Klipper, Black Magic Probe, MicroPython, ...); dfu-util 0.11's known bugs
# shown absent; one golden case per error message class; --json.
#
# Every check looks at the exit code, the messages and, after a write, the virtual
# flash (--flash-out).  Images are generated here (a Cortex-M vector table at the load
# address, then pseudo-random bytes); the shared corpus is used when DFUFLASH_CORPUS
# exists.  Needs dfuflash-sim and python3, else exits 77; stock dfu-util is optional
# (side-by-side and `-l` golden cases).
set -u
bin=${DFUFLASH_BIN:?}
builddir=${DFUFLASH_BUILDDIR:-$(dirname "$bin")}
sim=${DFUFLASH_SIM:-$builddir/dfuflash-sim}
corpus=${DFUFLASH_CORPUS:-}
dfu_util=${DFU_UTIL:-dfu-util}

[ -x "$sim" ] || { echo "device.sh: SKIP: $sim not built (umockdev missing?)"; exit 77; }
command -v python3 >/dev/null 2>&1 || { echo "device.sh: SKIP: python3 missing"; exit 77; }
have_dfu_util=false
"$dfu_util" -V 2>/dev/null | grep -q '^dfu-util 0\.11' && have_dfu_util=true
[ -n "$corpus" ] && [ -d "$corpus" ] || corpus=

tmp=$(mktemp -d) || exit 99
trap 'rm -rf "$tmp"' EXIT HUP INT TERM
cd "$tmp" || exit 99

if ! "$sim" --time-scale 0 -- true >/dev/null 2>&1; then
	echo "device.sh: SKIP: dfuflash-sim cannot set up a umockdev test bed here"
	exit 77
fi

pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }
note() { echo "note: $*"; }
# check NAME COMMAND...: a shell check that succeeds or fails
check() {
	name=$1; shift
	if "$@"; then ok; else bad "$name"; fi
}

# Fast, deterministic device runs: no erase time, no announced poll waits.
# sim PROFILE [dfuflash-sim options...] -- COMMAND...
sim() {
	p=$1; shift
	"$sim" -p "$p" --time-scale 0 -f zero-poll-timeout "$@"
}

# expect CODE PATTERN -- CMD...: exit status CODE, stderr+stdout matching PATTERN
# (extended regex; empty = anything).  The output stays in $out and "$tmp/out".
expect() {
	code=$1; pat=$2; shift 3
	out=$("$@" 2>&1); rc=$?
	printf '%s\n' "$out" > "$tmp/out"
	if [ "$rc" != "$code" ]; then bad "$* -> exit $rc, expected $code; output: $(tail -n 6 "$tmp/out")"; return 1; fi
	if [ -n "$pat" ] && ! grep -Eq -- "$pat" "$tmp/out"; then
		bad "$* -> output does not match /$pat/: $(tail -n 6 "$tmp/out")"; return 1
	fi
	ok
}

# ---- helpers (python3) ------------------------------------------------------------
cat > gen.py <<'EOF'
# gen.py BASE SIZE OUT [SEED]: a Cortex-M image: SP in RAM, Thumb reset handler inside
# the image, 14 more vectors, then pseudo-random bytes
import struct, sys
base, size, out = int(sys.argv[1], 0), int(sys.argv[2], 0), sys.argv[3]
x = int(sys.argv[4], 0) if len(sys.argv) > 4 else 1
b = bytearray(struct.pack('<II', 0x20004000, base + 0x201))
b += b''.join(struct.pack('<I', base + 0x201) for _ in range(14))
while len(b) < size:
    x = (x * 1103515245 + 12345) & 0x7fffffff
    b.append((x >> 16) & 0xff)
open(out, 'wb').write(bytes(b[:size]))
EOF
cat > rand.py <<'EOF'
# rand.py SIZE OUT SEED: pseudo-random bytes without a vector table
import random, sys
random.seed(int(sys.argv[3]))
open(sys.argv[2], 'wb').write(bytes(random.randrange(256) for _ in range(int(sys.argv[1], 0))))
EOF
cat > mkdfuse.py <<'EOF'
# mkdfuse.py OUT VID PID TARGET...  TARGET = ALT:NAME:ADDR=FILE[+ADDR=FILE...]
# a DfuSe file (UM0391) with one target per argument and a DFU suffix
import struct, sys, zlib
out, vid, pid = sys.argv[1], int(sys.argv[2], 16), int(sys.argv[3], 16)
targets = b''
for spec in sys.argv[4:]:
    alt, name, elems = spec.split(':', 2)
    body, n = b'', 0
    for e in elems.split('+'):
        addr, fn = e.split('=')
        data = open(fn, 'rb').read()
        body += struct.pack('<II', int(addr, 0), len(data)) + data
        n += 1
    nm = name.encode()
    targets += (b'Target' + struct.pack('<BI', int(alt), 1 if nm else 0) + nm.ljust(255, b'\0')
                + struct.pack('<II', len(body), n) + body)
img = b'DfuSe' + struct.pack('<BIB', 1, 11 + len(targets), len(sys.argv) - 4) + targets
img += struct.pack('<HHHH', 0xffff, pid, vid, 0x011a) + b'UFD' + bytes([16])
open(out, 'wb').write(img + struct.pack('<I', zlib.crc32(img) ^ 0xffffffff))
EOF
cat > mkelf.py <<'EOF'
# mkelf.py IN.bin ADDR OUT.elf: an ARM ELF32 executable, one PT_LOAD, entry = reset vector
import struct, sys
data, addr = open(sys.argv[1], 'rb').read(), int(sys.argv[2], 0)
entry = struct.unpack('<I', data[4:8])[0]
off = 0x100
eh = b'\x7fELF' + bytes([1, 1, 1, 0]) + bytes(8)
eh += struct.pack('<HHIIIIIHHHHHH', 2, 40, 1, entry, 52, 0, 0x05000200, 52, 32, 1, 40, 0, 0)
ph = struct.pack('<IIIIIIII', 1, off, addr, addr, len(data), len(data), 5, 4)
img = eh + ph
open(sys.argv[3], 'wb').write(img + bytes(off - len(img)) + data)
EOF
cat > flashis.py <<'EOF'
# flashis.py DUMP [strict|only] OFFSET=FILE...: the dump holds each FILE at OFFSET;
# strict: every other byte is erased (0xff); padding up to 32 bytes after a file may be
# 0xff only.  Prints the first difference.
import sys
dump = open(sys.argv[1], 'rb').read()
mode = sys.argv[2]
want = {}
for spec in sys.argv[3:]:
    off, fn = spec.split('=', 1)
    off = int(off, 0)
    for i, v in enumerate(open(fn, 'rb').read()):
        want[off + i] = v
bad = None
for a, v in sorted(want.items()):
    if a >= len(dump) or dump[a] != v:
        bad = (a, v, dump[a] if a < len(dump) else None)
        break
if bad is None and mode == 'strict':
    for a, v in enumerate(dump):
        if a not in want and v != 0xff:
            bad = (a, 0xff, v)
            break
if bad:
    print('flash dump %s: offset 0x%x holds %s, expected 0x%02x' % (sys.argv[1], bad[0],
          'nothing' if bad[2] is None else '0x%02x' % bad[2], bad[1]))
    sys.exit(1)
EOF
cat > logcheck.py <<'EOF'
# logcheck.py LOG KIND...: questions about a dfuflash-sim --log
#   setaddr-before-leave ADDR: the last DNLOAD before the zero-length leave DNLOAD is a
#                              Set Address Pointer (0x21) to ADDR
#   no-requests: no control transfer reached the device
#   no-dnload: no DNLOAD reached the device
#   has-state S: some transfer left the device in state S
#   has-event E: a bus event or note whose kind or detail contains E
import json, struct, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
kind = sys.argv[2]
dn = [l for l in lines if l.get('req') == 'DNLOAD']
if kind == 'setaddr-before-leave':
    want = int(sys.argv[3], 0)
    zl = [i for i, l in enumerate(dn) if l['setup'][4] == 0 and l['setup'][2] in (0, 2)]
    if not zl:
        sys.exit('no zero-length DNLOAD')
    i = zl[-1]
    if i == 0:
        sys.exit('nothing before the zero-length DNLOAD')
    prev = bytes.fromhex(dn[i - 1].get('data', ''))
    if len(prev) != 5 or prev[0] != 0x21:
        sys.exit('the DNLOAD before the leave is %s, not a Set Address' % prev.hex())
    got = struct.unpack('<I', prev[1:])[0]
    if got != want:
        sys.exit('Set Address 0x%08x, expected 0x%08x' % (got, want))
elif kind == 'no-requests':
    if any('setup' in l for l in lines):
        sys.exit('a control transfer reached the device')
elif kind == 'no-dnload':
    if dn:
        sys.exit('a DNLOAD reached the device')
elif kind == 'has-state':
    if not any(l.get('state_after') == sys.argv[3] for l in lines):
        sys.exit('never in state ' + sys.argv[3])
elif kind == 'has-event':
    if not any(sys.argv[3] in (l.get('event', '') + ' ' + l.get('detail', '')) for l in lines if 'event' in l):
        sys.exit('no event ' + sys.argv[3])
else:
    sys.exit('unknown check ' + kind)
EOF
cat > jsoncheck.py <<'EOF'
# jsoncheck.py OUT CODE [KEY=VALUE...]: stdout is NDJSON only, the last line is the
# result event with exit_code CODE and the given members
import json, sys
lines = [l for l in open(sys.argv[1]).read().splitlines() if l.strip()]
if not lines:
    sys.exit('no JSON output')
evs = [json.loads(l) for l in lines]
last = evs[-1]
assert last.get('event') == 'result', last
assert last.get('exit_code') == int(sys.argv[2]), last
assert last.get('status') == ('ok' if int(sys.argv[2]) == 0 else 'error'), last
assert last.get('schema') == 1, last
# an error result says what went wrong, what to do about it and a stable cause code
if last['exit_code'] == 0:
    assert last.get('error') is None, last
else:
    err = last.get('error')
    assert isinstance(err, dict) and set(err) == {'message', 'hint', 'cause'}, last
    assert isinstance(err['message'], str) and err['message'], err
    assert err['hint'] is None or (isinstance(err['hint'], str) and err['hint']), err
    assert isinstance(err['cause'], str) and '.' in err['cause'], err
for kv in sys.argv[3:]:
    k, v = kv.split('=', 1)
    got = last
    for part in k.split('.'):  # error.cause: a member of a member
        got = got.get(part) if isinstance(got, dict) else None
    assert json.dumps(got) == v, (k, got, v)
assert all('event' in e for e in evs), 'a line without "event"'
assert all(e.get('schema') == 1 for e in evs), 'a line without "schema"'
EOF
cat > listjson.py <<'EOF'
# listjson.py OUT MODE NALTS: `list --json` is one JSON object with the schema number
# and "interfaces", one object per alt with the ids, bus position, strings, mode, DFU
# attributes, transfer size and DfuSe layout
import json, sys
top = json.load(open(sys.argv[1]))
assert isinstance(top, dict) and top.get('schema') == 1, top
d = top['interfaces']
assert isinstance(d, list) and len(d) == int(sys.argv[3]), d
for e in d:
    for k in ('vid', 'pid', 'bcdDevice', 'busnum', 'devnum', 'path', 'serial', 'manufacturer',
              'product', 'mode', 'configuration', 'interface', 'alt', 'alt_name', 'dfu_version',
              'attributes', 'detach_timeout_ms', 'transfer_size', 'dfuse_layout', 'error'):
        assert k in e, k
    assert e['mode'] == sys.argv[2], e['mode']
    for k in ('can_download', 'can_upload', 'manifestation_tolerant', 'will_detach'):
        assert isinstance(e['attributes'][k], bool), k
assert [e['alt'] for e in d] == list(range(len(d)))
if sys.argv[2] == 'dfu' and d[0]['vid'] == 0x0483:
    lay = d[0]['dfuse_layout']
    assert lay['name'] == 'Internal Flash', lay
    s = lay['segments'][0]
    assert s['start'] == 0x08000000 and s['readable'] and s['erasable'] and s['writable'], s
EOF

# flash_is DUMP OFFSET FILE [OFFSET FILE]...: FILE at OFFSET, all else erased
flash_is() {
	d=$1; shift
	specs=
	while [ $# -ge 2 ]; do specs="$specs $1=$2"; shift 2; done
	# shellcheck disable=SC2086
	python3 flashis.py "$d" strict $specs
}
# flash_has DUMP OFFSET FILE: FILE at OFFSET (other bytes not checked)
flash_has() { python3 flashis.py "$1" only "$2=$3"; }

# ---- 1. every DfuSe profile: flash, read, verify, reflash + leave + verify ------------
# Each image is 6244 bytes (three 2 KiB blocks and a short one) at the application base
# of the profile, written as Intel HEX.  The reflash starts from a flash that holds
# another image, so the erase must cover everything the image touches.
dfuse_profiles="stm32f405 stm32f407 stm32f407-oldrom stm32f107 stm32f072 stm32l476
stm32g474 stm32g0b1 stm32h743 stm32h753 stm32u5 gd32vf103 particle-photon"
have=$("$sim" --list-profiles 2>/dev/null | awk '{print $1}')
size=6244
for p in $dfuse_profiles; do
	if ! printf '%s\n' "$have" | grep -qx "$p"; then
		bad "profile $p is not in dfuflash-sim --list-profiles"
		continue
	fi
	case $p in
	particle-photon) base=0x08020000 ;; # the system part; 0x08000000 holds the bootloader
	*) base=0x08000000 ;;
	esac
	off=$((base - 0x08000000))
	python3 gen.py $base $size $p.bin 7
	python3 gen.py $base $size $p-old.bin 8
	"$bin" image convert --address $base $p.bin $p.hex >/dev/null 2>&1 || bad "$p: image convert"

	expect 0 "bytes written" -- sim $p --flash-out $p.out -- "$bin" flash $p.hex &&
		check "$p: flash equals the image" flash_is $p.out $off $p.bin

	expect 0 "$size bytes read into" -- sim $p --flash-in $p.bin@$base -- \
		"$bin" read $p.up --address $base --length $size &&
		check "$p: read back equals the image" cmp -s $p.up $p.bin

	expect 0 "verified" -- sim $p --flash-in $p.bin@$base -- "$bin" verify $p.hex
	expect 80 "differ, the first at $base" -- sim $p -- "$bin" verify $p.hex

	expect 0 "written, verified, application started" -- \
		sim $p --flash-in $p-old.bin@$base --flash-out $p.out2 --log $p.log -- \
		"$bin" flash --leave --verify $p.hex &&
		check "$p: reflash: flash equals the image" flash_is $p.out2 $off $p.bin &&
		check "$p: the model started the application" python3 logcheck.py $p.log has-event "application starts"
done

# ---- 2. inputs: hex (above), srec, elf, DfuSe multi-element and multi-target, raw --------
f4=stm32f405
python3 gen.py 0x08000000 10000 fw.bin 21
"$bin" image convert --address 0x08000000 fw.bin fw.hex >/dev/null 2>&1
"$bin" image convert --to srec fw.hex fw.srec >/dev/null 2>&1
python3 mkelf.py fw.bin 0x08000000 fw.elf
expect 0 "bytes written" -- sim $f4 --flash-out srec.out -- "$bin" flash fw.srec &&
	check "srec: flash equals the image" flash_is srec.out 0 fw.bin
expect 0 "bytes written" -- sim $f4 --flash-out elf.out -- "$bin" flash fw.elf &&
	check "elf: flash equals the image" flash_is elf.out 0 fw.bin
expect 0 "application started" -- sim $f4 --flash-out elfl.out -- "$bin" -a 0 -s :leave -D fw.elf &&
	check "elf + :leave: flash equals the image" flash_is elfl.out 0 fw.bin

# two segments in two sectors -> one DfuSe target with two elements
python3 gen.py 0x08000000 4096 seg1.bin 22
python3 rand.py 3000 seg2.bin 23
"$bin" image convert --address 0x08000000 seg1.bin seg1.hex >/dev/null 2>&1
"$bin" image convert --address 0x08010000 seg2.bin seg2.hex >/dev/null 2>&1
{ grep -v '^:00000001FF' seg1.hex; cat seg2.hex; } > twoseg.hex
"$bin" image convert --to dfuse twoseg.hex twoseg.dfu >/dev/null 2>&1 || bad "convert --to dfuse"
expect 0 "bytes written" -- sim $f4 --flash-out twoseg.out -- "$bin" flash twoseg.dfu &&
	check "DfuSe, 2 elements: flash" flash_is twoseg.out 0 seg1.bin 0x10000 seg2.bin
expect 0 "bytes written" -- sim $f4 --flash-out twoseg2.out -- "$bin" -a 0 -D twoseg.dfu &&
	check "DfuSe, 2 elements, -D: flash" flash_is twoseg2.out 0 seg1.bin 0x10000 seg2.bin
expect 0 "verified" -- sim $f4 --flash-in fw.bin@0x08000000 -- "$bin" verify fw.srec
# two targets
python3 mkdfuse.py twotgt.dfu 0483 df11 "0:Internal Flash:0x08000000=seg1.bin" "0:Second:0x08010000=seg2.bin"
expect 0 "bytes written" -- sim $f4 --flash-out twotgt.out -- "$bin" -D twotgt.dfu &&
	check "DfuSe, 2 targets: flash" flash_is twotgt.out 0 seg1.bin 0x10000 seg2.bin
# dfuse-pack's convention: DFUImageSize counts the 16-byte suffix (CRC made again)
python3 - <<'PY'
import struct, zlib
d = bytearray(open('twotgt.dfu', 'rb').read()[:-4])
struct.pack_into('<I', d, 6, struct.unpack_from('<I', d, 6)[0] + 16)
open('packed.dfu', 'wb').write(d + struct.pack('<I', zlib.crc32(bytes(d)) ^ 0xffffffff))
PY
expect 0 "image size [0-9]+ \(counts the suffix, as dfuse-pack\)" -- "$bin" image info packed.dfu
expect 0 "bytes written" -- sim $f4 --flash-out packed.out -- "$bin" -D packed.dfu &&
	check "DfuSe, DFUImageSize with the suffix: flash" flash_is packed.out 0 seg1.bin 0x10000 seg2.bin
# two targets for two alts: Photon system part (alt 0) and DCT (alt 1), read back both
python3 gen.py 0x08020000 5000 photon-sys.bin 24
python3 rand.py 1000 photon-dct.bin 25
python3 mkdfuse.py photon.dfu 2b04 d006 "0:Internal Flash:0x08020000=photon-sys.bin" "1:DCT Flash:0x00000000=photon-dct.bin"
expect 0 "bytes read into dct.up" -- sim particle-photon --flash-out photon.out -- sh -c \
	"'$bin' -D photon.dfu && '$bin' read -a 1 --address 0 --length 1000 dct.up" &&
	check "DfuSe, alts 0 and 1: main flash" flash_is photon.out 0x20000 photon-sys.bin &&
	check "DfuSe, alts 0 and 1: alt 1 read back" cmp -s dct.up photon-dct.bin
# raw binaries: -s ADDR, and none (the start of the first writable segment, said so)
python3 gen.py 0x08004000 4096 at4000.bin 26
expect 0 "bytes written" -- sim $f4 --flash-out raw.out -- "$bin" -a 0 -s 0x08004000 -D at4000.bin &&
	check "raw -s 0x08004000: flash" flash_is raw.out 0x4000 at4000.bin
expect 0 "bytes written" -- sim $f4 --flash-out raw2.out -- "$bin" flash --address 0x08004000 at4000.bin &&
	check "raw --address: flash" flash_is raw2.out 0x4000 at4000.bin
expect 0 "no address given.*0x08000000" -- sim $f4 --flash-out raw3.out -- "$bin" -a 0 -D fw.bin &&
	check "raw without -s: flash at the flash base" flash_is raw3.out 0 fw.bin
expect 0 "no address given.*0x08000000" -- sim $f4 --flash-out raw4.out -- "$bin" flash fw.bin &&
	check "raw without --address: flash at the flash base" flash_is raw4.out 0 fw.bin
python3 rand.py 2000 raw-photon.bin 27
expect 0 "no address given.*0x0800c000" -- sim particle-photon --flash-out raw5.out -- "$bin" flash raw-photon.bin &&
	check "raw on the Photon: the first writable sector" flash_is raw5.out 0xc000 raw-photon.bin
if [ -n "$corpus" ] && [ -f "$corpus/f4_app_0x08000000.elf" ]; then
	"$bin" image convert --to bin "$corpus/f4_app_0x08000000.elf" c-f4.bin >/dev/null 2>&1
	expect 0 "application started" -- sim $f4 --flash-out c-elf.out -- \
		"$bin" -a 0 -s :leave -D "$corpus/f4_app_0x08000000.elf" &&
		check "corpus ELF: flash" flash_is c-elf.out 0 c-f4.bin
else
	note "no corpus: corpus ELF case skipped"
fi
if [ -n "$corpus" ] && [ -f "$corpus/h7_app_far_reset_dfuse_unnamed.dfu" ]; then
	"$bin" image convert --to bin "$corpus/h7_app_far_reset_dfuse_unnamed.dfu" c-h7.bin >/dev/null 2>&1
	expect 0 "application started" -- sim stm32h743 --flash-out c-h7.out --log c-h7.log -- \
		"$bin" -a 0 -s :leave -D "$corpus/h7_app_far_reset_dfuse_unnamed.dfu" &&
		check "corpus H7 .dfu: flash" flash_is c-h7.out 0 c-h7.bin &&
		check "corpus H7 .dfu: the H7 ROM got the entry point" \
			python3 logcheck.py c-h7.log setaddr-before-leave 0x0800b8e1
else
	note "no corpus: corpus H7 .dfu case skipped"
fi

# ---- 3. generic DFU 1.1: run-time -> detach -> DFU -> download -> manifestation --------
python3 rand.py 3000 g.bin 31
for p in generic generic-intolerant; do
	expect 0 "3000 bytes written" -- \
		sim $p --flash-out $p.out --log $p.log -- "$bin" -d cafe:4001 -D g.bin &&
		check "$p: flash" flash_has $p.out 0 g.bin &&
		check "$p: detached" python3 logcheck.py $p.log has-event detach &&
		check "$p: manifestation" python3 logcheck.py $p.log has-state dfuMANIFEST
	grep -q "detaching to DFU mode" "$tmp/out" && ok || bad "$p: the detach is not reported"
	expect 0 "3000 bytes written" -- sim $p --flash-out $p.out2 -- "$bin" flash g.bin &&
		check "$p: native flash" flash_has $p.out2 0 g.bin
	expect 0 "3000 bytes read into" -- sim $p --flash-in g.bin@0 -- "$bin" -d cafe:4001 -U $p.up &&
		check "$p: upload equals the image" cmp -s $p.up g.bin
	expect 0 "verified" -- sim $p --flash-in g.bin@0 -- "$bin" verify g.bin
done
check "generic-intolerant: the host reset the device after DETACH" \
	python3 logcheck.py generic-intolerant.log has-event usb-reset
check "generic-intolerant: dfuMANIFEST-WAIT-RESET reached" \
	python3 logcheck.py generic-intolerant.log has-state dfuMANIFEST-WAIT-RESET
# not manifestation tolerant: the host's reset starts the new firmware (as dfu-util)
expect 0 "3000 bytes written, application started" -- sim generic-intolerant -- sh -c \
	"'$bin' -d cafe:4001,cafe:4000 -D g.bin && '$bin' list" &&
	check "generic-intolerant: run-time mode after the download" \
		grep -q '^Found Runtime: \[cafe:4001\]' "$tmp/out"
expect 0 "3000 bytes read into" -- sim generic --flash-in g.bin@0 -- "$bin" read g.up2 --length 3000 &&
	check "generic: read --length" cmp -s g.up2 g.bin
# -Z is what the user expects: a shorter read says so (exit 0: it is what the device holds)
expect 0 "after 3000 bytes, fewer than the 4096 expected \(-Z\)" -- \
	sim generic --flash-in g.bin@0 -- "$bin" -U g.up3 -Z 4096 &&
	check "generic: -U -Z 4096 reads the 3000 bytes there are" cmp -s g.up3 g.bin
expect 0 "3000 bytes read into" -- sim generic --flash-in g.bin@0 -- "$bin" -U g.up4 -Z 3000 &&
	{ grep -q "fewer than" "$tmp/out" && bad "-Z 3000: warned although 3000 bytes came" || ok; }
expect 0 "written, verified" -- sim generic --flash-out gv.out -- "$bin" flash --verify g.bin
# -R after a download: the application starts
expect 0 "" -- sim generic --flash-out gr.out --log gr.log -- "$bin" -D g.bin -R &&
	check "generic -D -R: flash" flash_has gr.out 0 g.bin &&
	check "generic -D -R: the application started" python3 logcheck.py gr.log has-event "application starts"
# dfu-util style two calls: -e, then the DFU-mode ids
expect 0 "3000 bytes written" -- sim generic --flash-out ge.out -- sh -c \
	"'$bin' -e -d cafe:4001 && sleep 0.5 && '$bin' -d cafe:4000 -D g.bin" &&
	check "generic -e then -D: flash" flash_has ge.out 0 g.bin
# a .dfu with a DFU 1.1 suffix, waiting for the device (Fomu)
cp g.bin fomu.dfu && "$bin" image suffix add --vid cafe --pid 4000 fomu.dfu >/dev/null 2>&1
expect 0 "3000 bytes written" -- sim generic --flash-out gw.out -- "$bin" -w -D fomu.dfu &&
	check "generic -w -D x.dfu: flash" flash_has gw.out 0 g.bin
# after the detach the *same* device is used: two boards, the first already in DFU mode
sim generic --devices 2 --flash-out base.out -- true >/dev/null 2>&1
expect 0 "at 1-2: 3000 bytes written" -- sim generic --devices 2 --flash-out two.out -- sh -c \
	"'$bin' -e -p 1-1 && sleep 0.5 && '$bin' -p 1-2 -d cafe:4001 -D g.bin" &&
	check "2 boards: board 1 untouched" cmp -s two.out base.out &&
	check "2 boards: board 2 flashed" flash_has two.out.2 0 g.bin
# ... also when chosen by -n, whose devnum changes when the device re-enumerates
expect 0 "3000 bytes written" -- sim generic --flash-out gn.out -- "$bin" -E 2 -n 2 -d cafe:4001 -D g.bin &&
	check "generic -n: flash" flash_has gn.out 0 g.bin
# the DfuSe run-time path: the application's run-time interface detaches into the ROM
python3 gen.py 0x08000000 4096 app2.bin 32
expect 0 "detaching to DFU mode" -- sim $f4 --flash-out rt.out -- sh -c \
	"'$bin' -q -a 0 -s 0x08000000:leave -D seg1.bin && '$bin' -d 0483:5740,0483:df11 -a 0 -s 0x08000000:leave -D app2.bin" &&
	check "DfuSe run-time -> DFU: flash" flash_is rt.out 0 app2.bin

# ---- 3b. STM32duino (Maple) bootloader: plain DFU, alts that write different places ----
python3 gen.py 0x08002000 5000 maple.bin 47
expect 0 "5000 bytes written, left DFU mode" -- sim maple --flash-out m2.out -- "$bin" flash -a 2 maple.bin &&
	check "maple -a 2: the sketch is at 0x08002000" flash_is m2.out 0x2000 maple.bin
# without -a nothing tells the alts apart (alt 0 refuses, 1 and 2 write different places):
# refused before anything is written, the alts named (dfu-util refuses too)
expect 64 "-a 2  .*Upload to Flash 0x8002000" -- sim maple --log m0.log -- "$bin" flash maple.bin &&
	{ grep -q "hint: .*-a" "$tmp/out" && ok || bad "maple without -a: no hint to give -a"; } &&
	check "maple without -a: nothing sent" sh -c '! grep -q DNLOAD m0.log'
expect 74 "More than one DFU capable USB device found" -- sim maple -- "$bin" -d 1eaf:0003 -D maple.bin
expect 64 "-a 1  .*Upload to Flash 0x8005000" -- sim maple -- "$bin" read m.up
expect 0 "57344 bytes read into" -- sim maple --flash-in maple.bin@0x08002000 -- "$bin" read -a 2 m.up &&
	check "maple read -a 2: from 0x08002000" cmp -s -n 5000 m.up maple.bin

# ---- 4. -l against dfu-util; list --json -----------------------------------------------
list_golden() { # PROFILE [SIM OPTIONS]
	p=$1; shift
	"$bin" -V > l-$p.v
	sim "$p" "$@" -- sh -c "'$bin' -l > l-$p.a 2>/dev/null; echo \$? > l-$p.rc; '$dfu_util' -l 2>/dev/null | grep '^Found' > l-$p.b"
	[ "$(cat l-$p.rc)" = 0 ] || { bad "-l on $p: exit $(cat l-$p.rc)"; return; }
	[ -s l-$p.a ] || { bad "-l on $p: nothing listed"; return; }
	# The same lines in the same order, byte for byte: dfu-util 0.11 lists a
	# device's alts last first, and so does -l (`list` keeps ascending order).
	if [ "$(grep '^Found' l-$p.a)" = "$(cat l-$p.b)" ]; then ok; else
		bad "-l on $p differs from dfu-util -l:$(diff l-$p.a l-$p.b | sed 's/^/    /')"
	fi
	sim "$p" "$@" -- "$bin" list > l-$p.n 2>/dev/null
	if sed 's/.*path="\([^"]*\)", alt=\([0-9]*\),.*/\1 \2/' l-$p.n | sort -c -k1,1 -k2,2n 2>/dev/null; then ok; else
		bad "list on $p: not in enumeration order (path, then alt): $(cat l-$p.n)"
	fi
	if [ "$(head -n 1 l-$p.a)" = "dfuflash $(sed -n 's/^dfuflash //p' l-$p.v) (dfu-util 0.11 command line)" ] &&
		[ "$(sed -n 7p l-$p.a)" = "" ] && [ "$(sed -n 8p l-$p.a | cut -c1-6)" = "Found " ] &&
		[ "$(head -n 1 l-$p.n | cut -c1-6)" = "Found " ]; then ok; else
		bad "-l on $p: not the seven-line banner before the list (or one in list): $(head -n 8 l-$p.a)"
	fi
}
if $have_dfu_util; then
	for p in stm32f405 stm32f407-oldrom stm32g0b1 stm32h743 gd32vf103 particle-photon generic; do
		list_golden $p
	done
	list_golden stm32f405 --devices 2
	# a run-time interface
	list_golden generic-intolerant
else
	note "dfu-util 0.11 not installed: -l golden cases skipped"
fi
expect 0 '^Found DFU: \[0483:df11\] ver=2200, devnum=[0-9]+, cfg=1, intf=0, path="1-1", alt=0, name="@Internal Flash  /0x08000000/04\*016Kg,01\*064Kg,07\*128Kg", serial="3574364C3034"$' -- \
	sim stm32f405 -- "$bin" -l
expect 0 '^Found Runtime: \[cafe:4001\] ver=0100, devnum=[0-9]+, cfg=1, intf=0, path="1-1", alt=0, name="DFU Runtime", serial="123456"$' -- \
	sim generic -- "$bin" -l
expect 0 '0x08020000\.\.0x080fffff +7 x +131072 bytes rew' -- sim stm32f405 -- "$bin" -l -v
expect 0 '' -- sim stm32f405 -- "$bin" list -S nosuch && { [ -z "$out" ] && ok || bad "list of nothing printed: $out"; }
sim stm32f405 -- "$bin" list --json > lj.json 2>/dev/null && python3 listjson.py lj.json dfu 4 && ok || bad "list --json (stm32f405)"
sim generic -- "$bin" list --json > lj2.json 2>/dev/null && python3 listjson.py lj2.json runtime 1 && ok || bad "list --json (generic)"

# ---- 5. dfu-util command lines of public READMEs and scripts, with dfuflash ----------
# PROFILE | dfuflash-sim options | expected flash: OFFSET=FILE ..., empty = all erased,
# - = not checked | arguments
python3 gen.py 0x08000000 6000 firmware.bin 41
python3 gen.py 0x08002000 4096 blackmagic.bin 42
python3 gen.py 0x080A0000 5000 tinker.bin 43
python3 gen.py 0x08000000 8192 gd.bin 44
python3 rand.py 8192 junk.bin 45
cp firmware.bin klipper.bin
"$bin" image convert --address 0x08000000 --to dfuse firmware.bin firmware.dfu >/dev/null 2>&1
"$bin" image convert --address 0x08000000 --to dfuse gd.bin pinecil.dfu >/dev/null 2>&1
row=0
while IFS='|' read -r p opts flash args; do
	case $p in '' | '#'*) continue ;; esac
	row=$((row + 1))
	rm -f row.out backup.bin probe
	# shellcheck disable=SC2086
	eval "set -- $args"
	# shellcheck disable=SC2086
	if expect 0 "" -- sim $p $opts --flash-out row.out -- "$bin" "$@" < /dev/null; then
		if [ "$flash" != - ]; then
			# shellcheck disable=SC2086
			python3 flashis.py row.out strict $flash && ok || bad "script row $row ($p: $args): flash"
		fi
	fi
done <<'EOF'
stm32f405||0=firmware.bin|-a 0 -s 0x08000000:leave -D firmware.bin
stm32f405||0=firmware.bin|-d 0483:df11 -a 0 -s 0x08000000:leave -D firmware.bin
stm32f405||0=firmware.bin|-d 0483:DF11 -a 0 -s 0x08000000:leave -D firmware.bin
stm32f405||0=firmware.bin|-d 0x0483:0xdf11 -a 0 -s 0x08000000:leave -D firmware.bin
stm32f405|--flash-in junk.bin@0x08010000|0=firmware.bin|-a 0 -D klipper.bin -s 0x08000000:mass-erase:force:leave
stm32f405|--flash-in junk.bin@0x08010000|0=firmware.bin|--dfuse-address 0x08000000:force:mass-erase:leave -d 0483:df11 -D klipper.bin
stm32f405||0=firmware.bin|-a 0 -d 0483:df11 --dfuse-address 0x08000000 -D klipper.bin
stm32f405|--flash-in junk.bin@0x08010000|0=firmware.bin|-a 0 -d 0483:df11 -s 0x08000000:mass-erase:force -D firmware.bin
gd32vf103|--flash-in junk.bin@0x08004000|0=gd.bin|-d 28e9:0189 -s 0x8000000:mass-erase:force -D gd.bin
stm32f405||0=firmware.bin|-p 1-1 -R -a 0 -s 0x8000000:leave -D klipper.bin
stm32f405||0=firmware.bin|-d ,0483:df11 -R -a 0 -s 0x8000000:leave -D klipper.bin
stm32f405||0=firmware.bin|-d,0483:df11 -R -a 0 -s 0x8000000:leave -D klipper.bin
stm32f405||0x2000=blackmagic.bin|-d 0483:5740,:df11 -s 0x08002000:leave -D blackmagic.bin
stm32f405||0=firmware.bin|-D firmware.dfu
stm32f405||0=firmware.bin|-a 0 -d 0483:df11 -D firmware.dfu
gd32vf103||0=gd.bin|-d 28e9:0189 -a 0 -D pinecil.dfu
stm32f405||0=firmware.bin|-w -D firmware.dfu
stm32f405||0=firmware.bin|-S 3574364C3034 -a 0 -s 0x08000000:leave -D firmware.bin
stm32f405||0=firmware.bin|-p 1-1 -a 0 -s 0x08000000 -D firmware.bin
stm32f405||0=firmware.bin|-d ,0483:df11 -a 0 -s 0x08000000 -D firmware.bin
stm32f405||0=firmware.bin|-w -d 0483:df11 -a 0 -s 0x08000000 -D firmware.bin
stm32f405|--flash-in junk.bin@0x08000000||-a 0 -s :mass-erase:force
stm32f405|--flash-in firmware.bin@0x08000000|0=firmware.bin|-a 0 -s 0x08000000:1024 -U backup.bin
particle-photon|--flash-in photon-sys.bin@0x08020000|0x20000=photon-sys.bin 0xa0000=tinker.bin|-d 2b04:d006 -a 0 -s 0x80A0000:leave -D tinker.bin
stm32f405||0=firmware.bin|-a "Internal Flash" -s 0x08000000:leave -D firmware.bin
stm32f405||0=firmware.bin|-a "@Internal Flash  /0x08000000/04*016Kg,01*064Kg,07*128Kg" -s 0x08000000 -D firmware.bin
maple||0x2000=maple.bin|-a 2 -d 1EAF:0003 -D maple.bin
maple||0x2000=maple.bin|-a 2 -d 1EAF:0003 -D maple.bin -R
maple||0x2000=maple.bin|-d 1eaf:0003 -a 2 -R -D maple.bin
EOF
# the mass erase alone (the table's `-s :mass-erase:force`): everything erased
expect 0 "" -- sim stm32f405 --flash-in junk.bin@0x08000000 --flash-out me2.out -- "$bin" erase &&
	check "erase: flash erased" flash_is me2.out
# uploads of a range, and the presence probe
head -c 1024 firmware.bin > fw1k.bin
head -c 16 firmware.bin > fw16.bin
rm -f backup.bin probe
expect 0 "" -- sim stm32f405 --flash-in firmware.bin@0x08000000 -- "$bin" -a 0 -s 0x08000000:1024 -U backup.bin &&
	check "-s ADDR:1024 -U: 1024 bytes" cmp -s backup.bin fw1k.bin
expect 0 "" -- sim stm32f405 --flash-in firmware.bin@0x08000000 -- "$bin" -a 0 -s 0x08000000:4 -U probe &&
	check "-s ADDR:4 -U probe: 4 bytes" [ "$(wc -c < probe)" -eq 4 ]
# -s ADDR:LEN:leave -U: the file, then the application runs (dfu-util leaves too)
expect 0 "^Submitting leave request\.\.\.$" -- sim stm32f405 --flash-in firmware.bin@0x08000000 -- sh -c \
	"'$bin' -a 0 -s 0x08000000:1024:leave -U backup2.bin && '$bin' list" &&
	check "-U with :leave: 1024 bytes" cmp -s backup2.bin fw1k.bin &&
	check "-U with :leave: the application runs" grep -q "^Found Runtime: \[0483:5740\]" "$tmp/out"
# -U - in dfu-util's spelling: stdout holds the bytes only (no banner, no lines)
sim stm32f405 --flash-in firmware.bin@0x08000000 -- "$bin" -a 0 -s 0x08000000:1024 -U - > up-stdout.bin 2>/dev/null &&
	check "-U -: stdout is the 1024 bytes" cmp -s up-stdout.bin fw1k.bin || bad "-U -: failed"
# one pipe for stdout and stderr: dfu-util's lines come before the summary
sim stm32f405 -- sh -c "'$bin' -a 0 -s 0x08000000:leave -D firmware.bin 2>&1 | cat" > order.out 2>&1
if [ "$(grep -n 'Submitting leave request' order.out | cut -d: -f1)" -lt \
	"$(grep -n 'bytes written' order.out | cut -d: -f1)" ] 2>/dev/null; then ok; else
	bad "piped: 'Submitting leave request...' not before the summary: $(tail -n 4 order.out)"
fi
# -D - (stdin)
expect 0 "" -- sim stm32f405 --flash-out stdin.out -- sh -c "'$bin' -a 0 -s 0x08000000:leave -D - < firmware.bin" &&
	check "-D -: flash" flash_is stdin.out 0 firmware.bin
# what scripts grep in -l
sim stm32f405 -- sh -c "'$bin' -l | grep -q 'Found DFU'" && ok || bad "dfuflash -l | grep -q 'Found DFU'"
sim stm32f405 -- sh -c "'$bin' -l | grep -q ', alt=0,'" && ok || bad "dfuflash -l | grep -q ', alt=0,'"
sim generic -- sh -c "'$bin' -l | grep -q 'Found Runtime'" && ok || bad "dfuflash -l | grep -q 'Found Runtime'"
note "script rows not run: unprotect (issue 5); option bytes only with :force (section 7)"

# -a that matches no alt: the device's alts, by number and name (exit as "no device")
expect 74 '^  -a 1  \(or -a "Option Bytes"\)  0483:df11 at 1-1$' -- \
	sim stm32f405 -- "$bin" -a Flash -s 0x08000000:leave -D firmware.bin &&
	check "-a NAME unmatched: dfu-util's line kept" grep -q "^No DFU capable USB device available$" "$tmp/out"
expect 69 '^dfuflash: error: no alt setting 7; the device has:$' -- sim stm32f405 -- "$bin" flash -a 7 firmware.bin

# ---- 6. dfu-util 0.11's known bugs (its source), each shown absent --------------------
# --wait swallowing -l
expect 0 '^Found DFU: \[0483:df11\]' -- sim stm32f405 -- "$bin" --wait -l
expect 0 '^Found DFU: \[0483:df11\]' -- sim stm32f405 -- "$bin" -l --wait
# modifier prefixes: rejected before any device access
expect 64 "unknown modifier 'l'" -- sim stm32f405 --log mod.log -- "$bin" -a 0 -s 0x08000000:l -D firmware.bin &&
	check "-s :l: no control transfer" python3 logcheck.py mod.log no-requests
expect 64 "unknown modifier 'mass'" -- sim stm32f405 --log mod2.log -- "$bin" -a 0 -s 0x08000000:mass:force -D firmware.bin &&
	check "-s :mass: no control transfer" python3 logcheck.py mod2.log no-requests
# a leading 0 is decimal, not octal
expect 0 "" -- sim stm32f405 --flash-out dec.out -- "$bin" -a 0 -s 0134234112 -D at4000.bin &&
	check "-s 0134234112 = 0x08004000" flash_is dec.out 0x4000 at4000.bin
expect 65 "0x0000000a" -- sim stm32f405 -- "$bin" -a 0 -s 010 -D at4000.bin
# .dfu + :leave sends a Set Address to the vector table, and the application starts
expect 0 "application started" -- sim stm32f405 --log dl.log --flash-out dl.out -- "$bin" -a 0 -s :leave -D twotgt.dfu &&
	check ".dfu + :leave: Set Address 0x08000000 before the leave" python3 logcheck.py dl.log setaddr-before-leave 0x08000000 &&
	check ".dfu + :leave: the model started the application" python3 logcheck.py dl.log has-event "application starts"
if $have_dfu_util; then
	sim stm32f405 --log dl-du.log -- "$dfu_util" -a 0 -s :leave -D twotgt.dfu >/dev/null 2>&1
	python3 logcheck.py dl-du.log setaddr-before-leave 0x08000000 >/dev/null 2>&1 &&
		note "dfu-util 0.11 now sends the Set Address?" ||
		note "side by side: dfu-util 0.11 sends no Set Address before its leave (.dfu + :leave)"
fi
# unprotect + -D (dfu-util drops the download): tests/cli/protect.sh checks it
# -R with the device gone after the leave: 0, not 251
expect 0 "application started" -- sim stm32f405 -- "$bin" -a 0 -s 0x08000000:leave -R -D firmware.bin
if $have_dfu_util; then
	sim stm32f405 -- "$dfu_util" -a 0 -s 0x08000000:leave -R -D firmware.bin >/dev/null 2>&1
	note "side by side: dfu-util -s :leave -R -D exits $? (dfuflash 0)"
fi
# -e on a device already in DFU mode is not an error
expect 0 "" -- sim stm32f405 -- "$bin" -e
expect 0 "" -- sim stm32f405 -- "$bin" detach
# the ROM leaves during the status request (or before it): success
for l in vanish-during-status vanish-before-status; do
	expect 0 "written, application started" -- sim stm32f405 -f leave=$l --flash-out lv.out -- \
		"$bin" -a 0 -s 0x08000000:leave -D firmware.bin &&
		check "leave=$l: flash" flash_is lv.out 0 firmware.bin
	if $have_dfu_util; then
		sim stm32f405 -f leave=$l -- "$dfu_util" -a 0 -s 0x08000000:leave -D firmware.bin >/dev/null 2>&1
		note "side by side, leave=$l: dfu-util exits $?, dfuflash 0"
	fi
done
# found in dfuERROR / errVENDOR (without read protection): cleared, said so, flashed
expect 0 "dfuERROR, status 11 \(errVENDOR\): cleared" -- sim stm32f405 -f start-in-error=11 --flash-out err.out -- \
	"$bin" -a 0 -s 0x08000000 -D firmware.bin &&
	check "start-in-error=11: flash" flash_is err.out 0 firmware.bin
expect 0 "errFIRMWARE.*cleared" -- sim gd32vf103 --flash-out gderr.out -- "$bin" -v flash gd.bin --address 0x08000000
# one device with several alts, no -a: one device, not "more than one"
expect 0 "bytes written" -- sim stm32f405 --flash-out alt.out -- "$bin" -s 0x08000000 -D firmware.bin &&
	check "no -a: flash" flash_is alt.out 0 firmware.bin
grep -qi "more than one" "$tmp/out" && bad "no -a: 'more than one' printed" || ok
# -a by region name
expect 0 "" -- sim stm32f405 --flash-out name.out -- "$bin" -a "Internal Flash" -s 0x08000000 -D firmware.bin &&
	check "-a NAME: flash" flash_is name.out 0 firmware.bin
printf '\357\252\020\125\377\377\377\377\377\017\000\360\377\377\377\377' > ob-default.bin
expect 0 "16 bytes read" -- sim stm32f405 -- "$bin" read -a "Option Bytes" --address 0x1FFFC000 --length 16 ob.up &&
	check "-a 'Option Bytes': the F4's default option bytes" cmp -s ob.up ob-default.bin
# an existing output file is neither overwritten nor touched
printf precious > keep.bin
expect 73 "keep.bin: file exists" -- sim stm32f405 -- "$bin" -a 0 -s 0x08000000:16 -U keep.bin
check "-U: the existing file is unchanged" [ "$(cat keep.bin)" = precious ]
expect 73 "keep.bin: file exists" -- sim stm32f405 -- "$bin" read keep.bin --address 0x08000000 --length 16
check "read: the existing file is unchanged" [ "$(cat keep.bin)" = precious ]
expect 0 "16 bytes read" -- sim stm32f405 --flash-in firmware.bin@0x08000000 -- "$bin" read --force keep.bin --address 0x08000000 --length 16 &&
	check "read --force replaces the file" cmp -s keep.bin fw16.bin
# -n is a number, not atoi
expect 64 "-n '2x'" -- sim stm32f405 -- "$bin" -n 2x -l
# -E is the longest wait, not a fixed sleep
t0=$(date +%s)
expect 0 "3000 bytes written" -- sim generic -- "$bin" -E 20 -d cafe:4001 -D g.bin
t1=$(date +%s)
check "-E 20 is a deadline, not a 20 s sleep (took $((t1 - t0)) s)" [ $((t1 - t0)) -lt 10 ]

# ---- 7. error message classes -----------------------------------------------------------
# no device: 69 native, 74 with dfu-util's spelling, 69 after --wait=SECONDS
expect 69 "no DFU device found" -- sim stm32f405 -- "$bin" flash -S nosuch --address 0x08000000 firmware.bin
expect 74 "no DFU device found" -- sim stm32f405 -- "$bin" -S nosuch -a 0 -s 0x08000000 -D firmware.bin
expect 69 "no DFU device found" -- sim stm32f405 -- "$bin" flash -d 1234:5678,1234:5679 --address 0x08000000 firmware.bin
expect 69 "before the --wait timeout" -- sim stm32f405 -- "$bin" flash --wait=1 -S nosuch --address 0x08000000 firmware.bin
# two identical boards: both listed, -p suggested; -p picks one
expect 64 'more than one DFU device' -- sim stm32f405 --devices 2 -- "$bin" flash --address 0x08000000 firmware.bin &&
	{ grep -q 'path="1-1"' "$tmp/out" && grep -q 'path="1-2"' "$tmp/out" && grep -q -- '-p' "$tmp/out" && ok ||
		bad "ambiguous: both devices and -p not named: $out"; }
# dfu-util's spelling keeps its exit code for this, 74 (64 with the command words)
expect 74 'more than one DFU device' -- sim stm32f405 --devices 2 -- "$bin" -a 0 -s 0x08000000 -D firmware.bin &&
	check "ambiguous, dfu-util spelling: its line" grep -q "^More than one DFU capable USB device found!" "$tmp/out"
expect 0 "at 1-2" -- sim stm32f405 --devices 2 --flash-out pp.out -- "$bin" flash -p 1-2 --address 0x08000000 firmware.bin &&
	check "-p 1-2: board 2 flashed" flash_is pp.out.2 0 firmware.bin &&
	check "-p 1-2: board 1 untouched" flash_is pp.out
# boards with their own serials (serial=BOARD#): -S picks one
expect 0 "at 1-2" -- sim stm32f405 --devices 2 -f 'serial=BOARD#' --flash-out sn.out -- \
	"$bin" flash -S BOARD2 --address 0x08000000 firmware.bin &&
	check "-S BOARD2: board 2 flashed" flash_is sn.out.2 0 firmware.bin &&
	check "-S BOARD2: board 1 untouched" flash_is sn.out
expect 0 'serial="BOARD1"' -- sim stm32f405 --devices 2 -f 'serial=BOARD#' -- "$bin" -l &&
	{ grep -q 'serial="BOARD1"' "$tmp/out" && grep -q 'serial="BOARD2"' "$tmp/out" && ok ||
		bad "serial=BOARD#: -l does not show BOARD1 and BOARD2: $out"; }
# the memory map: refused before anything is written, the address named
python3 gen.py 0x080FF000 8192 far.bin 51
"$bin" image convert --address 0x080FF000 far.bin far.hex >/dev/null 2>&1
expect 65 "0x08100000 is outside the memory map" -- sim stm32f405 --log far.log -- "$bin" flash far.hex &&
	check "memory map: nothing sent" python3 logcheck.py far.log no-dnload
expect 65 "0x08000000 .*read-only" -- sim particle-photon --log ro.log -- "$bin" -a 0 -s 0x08000000 -D firmware.bin &&
	check "read-only: nothing sent" python3 logcheck.py ro.log no-dnload
# read protection
expect 76 "read-protected" -- sim stm32f405 -f rdp=1 -f start-in-error=11 -- "$bin" -a 0 -s 0x08000000 -D firmware.bin
# the H7 ROM jumps to the address as code: the vector table base brings it back
python3 gen.py 0x08000000 2048 h7.bin 52
"$bin" image convert --address 0x08000000 h7.bin h7.hex >/dev/null 2>&1
expect 81 "came back as the DFU bootloader" -- sim stm32h743 -- "$bin" flash --jump 0x08000000 h7.hex
expect 0 "application started" -- sim stm32h743 --log h7.log -- "$bin" flash --leave h7.hex &&
	check "H7: Set Address = reset vector" python3 logcheck.py h7.log setaddr-before-leave 0x08000201
# a suffix for another device: 65, --force and :force override
python3 mkdfuse.py other.dfu 1234 5678 "0:Internal Flash:0x08000000=seg1.bin"
expect 65 "1234:5678.*0483:df11" -- sim stm32f405 --log sfx.log -- "$bin" -a 0 -D other.dfu &&
	check "suffix mismatch: nothing sent" python3 logcheck.py sfx.log no-dnload
expect 0 "bytes written" -- sim stm32f405 --flash-out sfx.out -- "$bin" -a 0 -D other.dfu --force &&
	check "suffix mismatch --force: flash" flash_is sfx.out 0 seg1.bin
expect 0 "bytes written" -- sim stm32f405 --flash-out sfx2.out -- "$bin" -a 0 -s :force -D other.dfu &&
	check "suffix mismatch :force: flash" flash_is sfx2.out 0 seg1.bin
# write protection: the ROM ignores the writes, --verify names an address in the sector
python3 gen.py 0x08000000 24576 big.bin 53
"$bin" image convert --address 0x08000000 big.bin big.hex >/dev/null 2>&1
expect 80 "first at 0x0800[4-7][0-9a-f]{3}" -- sim stm32f405 -f wrp=0x08004000 -- "$bin" flash --verify big.hex
expect 80 "first at 0x0800[4-7][0-9a-f]{3}" -- sim stm32f405 -f wrp=0x08004000 -- "$bin" -a 0 -D big.hex --verify
# a stuck dfuDNBUSY: the erase, its address and the deadline named
expect 76 "erase.*0x08004000.*within 300 ms" -- sim stm32f405 -f stuck-dnbusy=0x08004000 -- "$bin" flash --timeout 300 big.hex
# :will-reset: the reset after an option-byte write is what was asked for, not a failure
# to start an application (the F4's nWRP byte for sector 11 changed, then read back)
printf '\357\252\020\125\377\377\377\377\377\007\000\360\377\377\377\377' > ob.bin
expect 0 "flash-exit=0" -- sim stm32f405 -- sh -c \
	"'$bin' -a 1 -s 0x1FFFC000:will-reset:force -D ob.bin; echo flash-exit=\$?; sleep 0.5; '$bin' -a 1 -s 0x1FFFC000:16 -U ob-back.up" &&
	check "option bytes read back" cmp -s ob-back.up ob.bin
# files
expect 66 "nope.hex" -- sim stm32f405 -- "$bin" flash nope.hex
expect 66 "nope.hex" -- sim stm32f405 -- "$bin" -a 0 -D nope.hex
# the file is checked first: before any device search, and without waiting for a board
expect 66 "nope.hex: cannot open" -- sim stm32f405 -- "$bin" flash -d 1234:5678 nope.hex
expect 66 "nope.hex: cannot open" -- sim stm32f405 -- "$bin" flash -d 1234:5678 --wait=30 nope.hex
expect 66 "nope.hex: cannot open" -- sim stm32f405 -- "$bin" verify -d 1234:5678 -w nope.hex

# ---- 8. --json ----------------------------------------------------------------------------
json_case() { # CODE NAME KEY=VALUE... -- CMD...
	jc=$1; jn=$2; shift 2
	keys=
	while [ "$1" != -- ]; do keys="$keys $1"; shift; done
	shift
	"$@" > j.out 2> j.err; jrc=$?
	[ "$jrc" = "$jc" ] || { bad "json $jn: exit $jrc, expected $jc: $(tail -n 3 j.err)"; return; }
	# shellcheck disable=SC2086
	python3 jsoncheck.py j.out "$jc" $keys 2> j.py || { bad "json $jn: $(tail -n 1 j.py)"; return; }
	ok
}
json_case 0 "flash --leave" left=true app_seen=true jump_address=134217728 -- \
	sim stm32f405 -- "$bin" flash --json --leave fw.hex
json_case 0 "compat -D" operation='"download"' -- \
	sim stm32f405 -- "$bin" --json -a 0 -s 0x08000000 -D firmware.bin
json_case 80 "verify mismatch" mismatch_address=134234112 verified=false -- \
	sim stm32f405 -f wrp=0x08004000 -- "$bin" flash --json --verify big.hex
json_case 69 "no device" error.cause='"tool.no_device"' -- \
	sim stm32f405 -- "$bin" flash --json -S nosuch fw.hex
json_case 66 "missing file" error.cause='"tool.no_input"' -- \
	sim stm32f405 -- "$bin" flash --json nope.hex
json_case 0 "read" bytes_read=1024 -- \
	sim stm32f405 -- "$bin" read --json --address 0x08000000 --length 1024 j.up
json_case 0 "verify" verified=true -- \
	sim stm32f405 --flash-in fw.bin@0x08000000 -- "$bin" verify --json fw.hex

echo "device.sh: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
