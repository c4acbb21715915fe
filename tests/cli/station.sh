#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# End-to-end tests of the commands for several boards, with the built binary against
# dfuflash-sim --devices N: `flash FILE --all` (4 and 8 boards, one result each, every
# flash byte-exact), `station FILE` with boards arriving one after another (--arrive),
# --count, --record, SIGINT, the per-port lock shared with the auto-flash wrapper, and
# --dry-run (the sim's log proves that nothing was downloaded).
set -u
. "${DFUFLASH_SRCDIR:-$(dirname "$0")/../..}/tests/cli/testlib.sh"
cd "$tmp" || exit 99
if ! "$SIM" --time-scale 0 -- true >/dev/null 2>&1; then
	echo "SKIP: dfuflash-sim cannot set up a umockdev test bed here"
	exit 77
fi
DFUFLASH_LOCKDIR="$tmp/locks"
export DFUFLASH_LOCKDIR
mkdir -p "$DFUFLASH_LOCKDIR"

# run CMD...: exit status in $rc, stdout in $tmp/out, stderr in $tmp/err
run() {
	"$@" > "$tmp/out" 2> "$tmp/err"
	rc=$?
}
# sim N [sim options...] -- COMMAND...: N virtual F405s with serials SN1..SNN
sim() {
	n=$1; shift
	"$SIM" -p stm32f405 --devices "$n" --time-scale 0 -f zero-poll-timeout -f 'serial=SN#' "$@"
}
# same_flash N: every device's dump starts with fw.bin
same_flash() {
	size=$(wc -c < fw.bin)
	for i in $(seq 1 "$1"); do
		f=flash.bin; [ "$i" -gt 1 ] && f=flash.bin.$i
		cmp -s -n "$size" "$f" fw.bin || return 1
	done
}
# lines PATTERN: how many lines of stdout match
lines() { grep -Ec -- "$1" "$tmp/out"; }

python3 - fw.bin <<'EOF'
# a Cortex-M image for 0x08000000: SP in RAM, Thumb reset vector inside, then
# pseudo-random bytes across two 16 KiB sectors
import struct, sys
b = bytearray(struct.pack('<II', 0x20004000, 0x08000201))
x = 7
while len(b) < 20000:
    x = (x * 1103515245 + 12345) & 0x7fffffff
    b.append((x >> 16) & 0xff)
open(sys.argv[1], 'wb').write(b)
EOF
crc=$(python3 -c 'import sys, zlib; print("%08x" % zlib.crc32(open(sys.argv[1], "rb").read()))' fw.bin)

# --- flash --all -----------------------------------------------------------------------
for n in 4 8; do
	rm -f flash.bin*
	run sim "$n" --flash-out flash.bin -- "$DFU" flash fw.bin --all --address 0x08000000
	[ "$rc" -eq 0 ] && pass "--all, $n boards: exit 0" || fail "--all, $n boards: exit $rc: $(cat "$tmp/err")"
	[ "$(lines '^1-[0-9]+ SN[0-9]+: ok, 20000 bytes written')" -eq "$n" ] &&
		pass "--all, $n boards: one result line each" || fail "--all, $n boards: result lines"
	for i in $(seq 1 "$n"); do
		[ "$(lines "^1-$i SN$i: ")" -eq 1 ] || fail "--all, $n boards: no single line for 1-$i"
	done
	has "$n board(s): $n flashed, 0 failed" && pass "--all, $n boards: summary" ||
		fail "--all, $n boards: summary"
	same_flash "$n" && pass "--all, $n boards: every flash byte-exact" ||
		fail "--all, $n boards: a flash differs"
done

# --json: one "board" event per board and a closing result
run sim 4 -- "$DFU" flash fw.bin --all --address 0x08000000 --json
python3 - "$tmp/out" <<'EOF' && pass "--all --json: board events and result" || fail "--all --json: events"
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
boards = [e for e in ev if e.get("event") == "board"]
assert sorted(b["path"] for b in boards) == ["1-1", "1-2", "1-3", "1-4"], boards
for b in boards:
    assert b["schema"] == 1 and b["outcome"] == "ok" and b["exit_code"] == 0, b
    assert b["serial"] == "SN" + b["path"][2:] and b["bytes"] == 20000, b
    assert b["sectors_erased"] == 2 and b["sectors_skipped"] == 0, b
    assert isinstance(b["duration_ms"], int) and b["cause"] is None, b
    assert b["error"] is None, b
last = ev[-1]
assert last["event"] == "result" and last["operation"] == "flash-all", last
assert (last["boards"], last["flashed"], last["failed"], last["exit_code"]) == (4, 4, 0, 0), last
EOF

# boards that already hold the image: every sector compared and skipped, none erased
run sim 2 --flash-in fw.bin@0x08000000 -- "$DFU" flash fw.bin --all --address 0x08000000 --json
python3 - "$tmp/out" <<'EOF' && pass "--all --json: sectors skipped per board" ||
import json, sys
boards = [e for e in map(json.loads, filter(str.strip, open(sys.argv[1])))
          if e.get("event") == "board"]
assert len(boards) == 2, boards
for b in boards:
    assert (b["outcome"], b["sectors_erased"], b["sectors_skipped"]) == ("ok", 0, 2), b
EOF
	fail "--all --json: sectors skipped ($(cat "$tmp/out"))"

# the filters choose the boards
run sim 4 -- "$DFU" flash fw.bin --all --address 0x08000000 -S SN3
[ "$rc" -eq 0 ] && [ "$(lines '^1-')" -eq 1 ] && has "1-3 SN3: ok" && pass "--all -S: one board" ||
	fail "--all -S SN3: rc $rc"

# a port held by another flasher (the auto-flash wrapper's lock): that board is busy (75),
# the others are flashed, the exit status is the failed board's
(flock 9; sleep 4) 9> "$DFUFLASH_LOCKDIR/dfuflash-1-2.lock" &
sleep 0.5
rm -f flash.bin*
run sim 3 --flash-out flash.bin -- "$DFU" flash fw.bin --all --address 0x08000000
[ "$rc" -eq 75 ] && pass "--all, one port locked: exit 75" || fail "--all, port locked: exit $rc"
has "1-2 SN2: busy (exit 75): 1-2: another flash of this port is running" &&
	pass "--all, port locked: the busy board says why" || fail "--all, port locked: busy line"
has "3 board(s): 2 flashed, 1 failed" && pass "--all, port locked: summary" || fail "--all, locked: summary"
cmp -s -n 20000 flash.bin fw.bin && cmp -s -n 20000 flash.bin.3 fw.bin &&
	pass "--all, port locked: the other boards flashed" || fail "--all, locked: others not flashed"
cmp -s -n 20000 flash.bin.2 fw.bin && fail "--all, port locked: the locked board was written" ||
	pass "--all, port locked: the locked board untouched"
wait
# ... and in JSON: the busy board's cause code and error
(flock 9; sleep 4) 9> "$DFUFLASH_LOCKDIR/dfuflash-1-2.lock" &
sleep 0.5
run sim 2 -- "$DFU" flash fw.bin --all --address 0x08000000 --json
python3 - "$tmp/out" <<'EOF' && pass "--all --json, port locked: cause and error" ||
import json, sys
b = [e for e in map(json.loads, filter(str.strip, open(sys.argv[1])))
     if e.get("event") == "board" and e["path"] == "1-2"][0]
assert (b["outcome"], b["exit_code"], b["cause"]) == ("busy", 75, "tool.busy"), b
assert "another flash of this port is running" in b["error"]["message"], b
assert b["error"]["cause"] == "tool.busy", b
EOF
	fail "--all --json, port locked: $(cat "$tmp/out")"
wait

# boards running an application with a DFU run-time interface: each is detached into
# DFU mode by its own thread, then flashed (as `flash` does for one board)
head -c 3000 fw.bin > rt.bin
rm -f flash.bin*
run "$SIM" -p generic --devices 2 --time-scale 0 -f 'serial=SN#' --flash-out flash.bin -- \
	"$DFU" flash rt.bin --all
[ "$rc" -eq 0 ] && [ "$(lines '^1-[12] SN[12]: ok, 3000 bytes written')" -eq 2 ] &&
	[ "$(grep -c 'cafe:4001 at 1-[12]: run-time mode: detaching to DFU mode' "$tmp/err")" -eq 2 ] &&
	cmp -s -n 3000 flash.bin rt.bin && cmp -s -n 3000 flash.bin.2 rt.bin &&
	pass "--all: run-time boards detached, then flashed byte-exact" ||
	fail "--all, run-time boards: exit $rc: $(cat "$tmp/out" "$tmp/err")"

# the firmware is checked before any board is looked for; nothing found is 69
run sim 2 -- "$DFU" flash missing.bin --all
[ "$rc" -eq 66 ] && grep -q 'missing.bin: cannot open' "$tmp/err" && pass "--all, missing file: 66" ||
	fail "--all, missing file: exit $rc"
# the file is read as `flash` reads it: a ".hex" name sets the format
cp fw.bin notreally.hex
run sim 2 -- "$DFU" flash notreally.hex --all --address 0x08000000
[ "$rc" -eq 65 ] && grep -q "the file's name sets its format" "$tmp/err" &&
	pass "--all: the file's name sets its format, as for flash" || fail "--all, .hex name: exit $rc"
run sim 2 -- "$DFU" flash fw.bin --all --address 0x08000000 -S nosuchserial
[ "$rc" -eq 69 ] && pass "--all, no board: 69" || fail "--all, no board: exit $rc"

# --- station ----------------------------------------------------------------------------
# 4 boards plugged in 0.4 s apart: each flashed once, recorded, byte-exact
rm -f flash.bin* record.jsonl
run sim 4 --arrive 400 --flash-out flash.bin -- "$DFU" station fw.bin --count 4 \
	--address 0x08000000 --leave --record record.jsonl
[ "$rc" -eq 0 ] && pass "station --count 4: exit 0" || fail "station --count 4: exit $rc: $(cat "$tmp/err")"
[ "$(lines '^1-[0-9] SN[0-9]: ok, 20000 bytes written')" -eq 4 ] && pass "station: 4 results" ||
	fail "station: results"
same_flash 4 && pass "station: every flash byte-exact" || fail "station: a flash differs"
grep -c 'arrived' "$tmp/err" | grep -qx 4 && pass "station: 4 arrivals" || fail "station: arrivals"
# umockdev delivers udev events, so the station waits for libusb's hotplug events here
grep -q 'no USB hotplug events' "$tmp/err" && fail "station: fell back to polling under umockdev" ||
	pass "station: libusb hotplug events used"
python3 - record.jsonl "$crc" <<'EOF' && pass "station --record: one line per board" || fail "station --record"
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
assert sorted(r["path"] for r in recs) == ["1-1", "1-2", "1-3", "1-4"], recs
for r in recs:
    assert r["serial"] == "SN" + r["path"][2:] and r["image"] == "fw.bin", r
    assert r["image_crc32"] == sys.argv[2], r
    assert (r["outcome"], r["exit_code"], r["cause"]) == ("ok", 0, None), r
    assert r["time"].endswith("Z") and len(r["time"]) == 20, r
EOF
# "change" uevents reach every hotplug listener too: they are no arrivals
rm -f flash.bin*
run sim 2 --arrive 300 --change-events=2 --flash-out flash.bin -- "$DFU" station fw.bin \
	--count 2 --address 0x08000000
[ "$rc" -eq 0 ] && [ "$(lines ': ok, 20000 bytes written')" -eq 2 ] &&
	[ "$(grep -c 'arrived' "$tmp/err")" -eq 2 ] && same_flash 2 &&
	pass "station: change uevents every 2 ms are no arrivals" ||
	fail "station with change uevents: exit $rc, $(lines ': ok') flashed, $(grep -c 'arrived' "$tmp/err") arrivals"

# no board twice while it stays: two boards left in DFU mode, many looks, then SIGINT
# to dfuflash itself: the flashes end, two results, the summary, exit 0.  The bus is
# held by a background sim (--hold prints its environment).
"$SIM" -p stm32f405 --devices 2 --time-scale 0 -f zero-poll-timeout -f 'serial=SN#' --hold \
	> hold.env 2> hold.err &
holdpid=$!
for _ in $(seq 50); do grep -q LD_PRELOAD hold.env 2>/dev/null && break; sleep 0.1; done
(
	. ./hold.env
	exec "$DFU" station fw.bin --address 0x08000000
) > "$tmp/out" 2> "$tmp/err" &
stpid=$!
sleep 3
kill -INT "$stpid"
wait "$stpid"
rc=$?
kill -TERM "$holdpid"
wait "$holdpid"
[ "$rc" -eq 0 ] && pass "station, SIGINT: exit 0" || fail "station, SIGINT: exit $rc: $(cat "$tmp/err")"
[ "$(lines ': ok, 20000 bytes written')" -eq 2 ] && pass "station: each board flashed once" ||
	fail "station: boards flashed $(lines ': ok') times"
has "2 board(s): 2 flashed, 0 failed" && pass "station, SIGINT: summary" || fail "station, SIGINT: summary"
grep -q 'station: stopping' "$tmp/err" && pass "station, SIGINT: says it stops" || fail "station: stop msg"

# --- --dry-run ----------------------------------------------------------------------------
# writes_nothing LOG: the only DNLOADs in the sim's log are DfuSe Set Address
# commands (the compare of the differential re-flash reads): no erase, no block
writes_nothing() {
	python3 - "$1" <<'EOF'
import json, sys
reqs = [json.loads(l) for l in open(sys.argv[1]) if '"setup"' in l]
assert any(r["setup"][:2] == [161, 3] for r in reqs), "no GET_STATUS logged"
for r in reqs:
    if r["setup"][:2] == [33, 1]:
        assert r["setup"][2] == 0 and r["data"].startswith("21") and len(r["data"]) == 10, r
EOF
}
rm -f flash.bin*
run sim 1 --log sim.log --flash-out flash.bin -- "$DFU" flash fw.bin --address 0x08000000 --leave --dry-run
[ "$rc" -eq 0 ] && pass "--dry-run: exit 0" || fail "--dry-run: exit $rc: $(cat "$tmp/err")"
has "erase       0x08000000-0x08003fff  16 KiB" && has "erase       0x08004000-0x08007fff  16 KiB" &&
	has "write       0x08004000-0x08004e1f  3616 bytes" &&
	has "write       0x08000000-0x08003fff  16384 bytes, vector-table sector: written last" &&
	has "leave       jump to 0x08000000" &&
	has "total       2 sector(s) to erase, 0 skipped, 20000 bytes to write" &&
	pass "--dry-run: the plan" || fail "--dry-run: plan"
writes_nothing sim.log && pass "--dry-run: no erase and no block in the sim's log" ||
	fail "--dry-run: the device got an erase or a block"
python3 -c 'import sys; d = open(sys.argv[1], "rb").read(20000); sys.exit(d != b"\xff" * 20000)' flash.bin &&
	pass "--dry-run: the flash is still erased" || fail "--dry-run: the flash changed"
# a board holding the image but for one byte of the second sector: the plan
# compares as the download does, skips the first sector and writes the second
python3 -c 'import sys; d = bytearray(open("fw.bin", "rb").read()); d[18000] ^= 0xff
open("fw2.bin", "wb").write(d)'
run sim 1 --log sim.log --flash-in fw.bin@0x08000000 -- "$DFU" flash fw2.bin --address 0x08000000 --dry-run
[ "$rc" -eq 0 ] && has "skip        0x08000000-0x08003fff  16 KiB" &&
	has "erase       0x08004000-0x08007fff  16 KiB" &&
	has "total       1 sector(s) to erase, 1 skipped, 3616 bytes to write" &&
	writes_nothing sim.log && pass "--dry-run: the sectors the chip holds are skipped" ||
	fail "--dry-run, skipped sectors: rc $rc: $(cat "$tmp/out" "$tmp/err")"
run sim 1 --flash-in fw.bin@0x08000000 -- "$DFU" flash fw2.bin --address 0x08000000 --dry-run --full
[ "$rc" -eq 0 ] && has "total       2 sector(s) to erase, 0 skipped, 20000 bytes to write" &&
	pass "--dry-run --full: no compare, every sector" || fail "--dry-run --full: $(cat "$tmp/out")"
run sim 2 --log sim.log -- "$DFU" flash fw.bin --all --address 0x08000000 --dry-run
[ "$rc" -eq 0 ] && has "2 board(s): 2 planned, 0 failed" && writes_nothing sim.log &&
	pass "--all --dry-run: planned, nothing downloaded" || fail "--all --dry-run: rc $rc"
# 8 boards planned at once: every stdout line is a whole JSON event (no interleaving)
run sim 8 -- "$DFU" flash fw.bin --all --address 0x08000000 --dry-run --json
python3 - "$tmp/out" <<'EOF' && pass "--all --dry-run --json: whole events" || fail "--all --dry-run --json"
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
assert sorted(e["path"] for e in ev if e["event"] == "plan") == ["1-%d" % i for i in range(1, 9)]
assert [e["outcome"] for e in ev if e["event"] == "board"] == ["planned"] * 8, ev
assert ev[-1]["event"] == "result" and ev[-1]["boards"] == 8, ev[-1]
EOF
run sim 1 --log sim.log -- "$DFU" erase --dry-run
[ "$rc" -eq 0 ] && has "mass-erase  the whole flash" && ! grep -q '"setup":\[33,1,' sim.log &&
	pass "erase --dry-run" || fail "erase --dry-run: rc $rc"
run sim 1 --log sim.log -- "$DFU" leave --jump 0x08000000 --dry-run
[ "$rc" -eq 0 ] && has "leave       jump to 0x08000000" && ! grep -q '"setup":\[33,1,' sim.log &&
	pass "leave --dry-run" || fail "leave --dry-run: rc $rc"
run sim 1 -- "$DFU" flash fw.bin --address 0x08000000 --dry-run --json
python3 - "$tmp/out" <<'EOF' && pass "--dry-run --json: plan event" || fail "--dry-run --json"
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
plan = [e for e in ev if e["event"] == "plan"][0]
assert [s["start"] for s in plan["sectors"]] == [0x08000000, 0x08004000], plan
assert all(s["action"] == "erase" for s in plan["sectors"]), plan
assert [(w["address"], w["length"], w["vector_table"]) for w in plan["writes"]] == \
    [(0x08004000, 3616, False), (0x08000000, 16384, True)], plan
assert plan["bytes"] == 20000 and plan["leave"] is False, plan
assert ev[-1]["event"] == "result" and ev[-1]["dry_run"] is True and ev[-1]["bytes_written"] == 0
EOF

# --- image info --map -----------------------------------------------------------------------
F405='@Internal Flash  /0x08000000/04*016Kg,01*064Kg,07*128Kg'
run "$DFU" image info fw.bin --address 0x08000000 --map="$F405"
[ "$rc" -eq 0 ] && has '* 0x08000000-0x08003fff    16 KiB  [################################] 16384 bytes' &&
	has '* 0x08004000-0x08007fff    16 KiB  [########........................] 3616 bytes' &&
	has '  0x08008000-0x0800ffff     2 x 16 KiB    untouched' &&
	has '  0x08020000-0x080fffff     7 x 128 KiB   untouched' && has '2 sector(s) touched' &&
	pass "image info --map=LAYOUT: touched sectors marked" || fail "image info --map=LAYOUT: rc $rc"
run "$DFU" image info fw.bin --address 0x0800c000 --map='@Flash /0x08000000/04*016Kg'
[ "$rc" -eq 0 ] && has 'outside the memory map:' &&
	has '! 0x0800c000-0x08010e1f  20000 bytes, 3616 of them in no segment' &&
	pass "image info --map: data outside the layout listed" || fail "image info --map outside: rc $rc"
run sim 1 -- "$DFU" image info fw.bin --map
[ "$rc" -eq 0 ] && has '(raw binary drawn at 0x08000000' && has '2 sector(s) touched' &&
	grep -q 'the layout of 0483:df11 at 1-1, alt 0' "$tmp/err" &&
	pass "image info --map: the device's layout" || fail "image info --map from the device: rc $rc"
run sim 2 -- "$DFU" image info fw.bin --map
[ "$rc" -eq 64 ] && grep -q 'more than one DFU device' "$tmp/err" &&
	pass "image info --map: two devices need the layout given" || fail "--map, two devices: rc $rc"
run "$DFU" image info fw.bin --map='no layout'
[ "$rc" -eq 65 ] && grep -q "not a DfuSe memory layout" "$tmp/err" &&
	pass "image info --map: a bad layout string" || fail "--map bad layout: rc $rc"

# --- usage ----------------------------------------------------------------------------------
for args in "flash fw.bin --count 2" "station -" "flash fw.bin --record r.jsonl" \
	"station fw.bin --dry-run" "read out.bin --all" "station fw.bin --unprotect"; do
	# shellcheck disable=SC2086 # word splitting wanted
	run "$DFU" $args
	[ "$rc" -eq 64 ] && grep -q '^dfuflash: error: ' "$tmp/err" && pass "usage: $args" ||
		fail "usage: $args: exit $rc"
done

echo "station.sh: $checks checks, $fails failed, $skips skipped"
[ "$fails" -eq 0 ]
