#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Recovery end to end: dfuflash against the faults of dfuflash-sim (through
# umockdev).  Every run ends in a verified flash or in a message that names
# the cause: retried GET_STATUS stalls and timeouts, a device failing every
# second run (reset and re-open), a disconnect in the middle of a download
# (what the flash holds, how to resume; the resumed run completes), a
# dfuDNBUSY that never ends (exit 76 with the cause), a device without LANGID.
#
# Needs $DFUFLASH_BUILDDIR/dfuflash-sim; exits 77 (skip) without it.
set -u

. "$(dirname "$0")/testlib.sh"
BUILDDIR=$BUILD
DFUFLASH=$DFU

# instantaneous flash operations; the announced poll timeouts are kept
sim() { "$SIM" --time-scale 0 "$@"; }

# 40000 deterministic bytes at 0x08000000: three 16 KiB F4 sectors
python3 -c 'import sys; sys.stdout.buffer.write(bytes((i * 7 + (i >> 8)) & 0xff for i in range(40000)))' \
	> "$tmp/fw.bin" || exit 99
flash_is_image() { cmp -s -n 40000 "$1" "$tmp/fw.bin"; }
json_field() { python3 -c '
import json, sys
for line in open(sys.argv[1]):
    line = line.strip()
    if line.startswith("{"):
        o = json.loads(line)
        if o.get("event") == "result":
            v = o.get(sys.argv[2])
            print(json.dumps(v) if not isinstance(v, (int, str)) or isinstance(v, bool) else v)
' "$@"; }

FLASH="flash -s 0x08000000 $tmp/fw.bin --progress=none"


# ---- 1. a stalled GET_STATUS is retried; the JSON result counts it -------------------
sim --fault stall-on-request=GETSTATUS:4 --flash-out "$tmp/flash" -- \
	"$DFUFLASH" $FLASH --json -v > "$tmp/out" 2>&1
rc=$?
if [ $rc -eq 0 ] && flash_is_image "$tmp/flash" && [ "$(json_field "$tmp/out" retries)" = 1 ] &&
	has 'DFU_GETSTATUS failed (LIBUSB_ERROR_PIPE): retry 1 of 3'; then
	pass "stall-on-request=GETSTATUS:4: retried, flash correct, \"retries\":1"
else
	fail "stall-on-request=GETSTATUS:4 (rc $rc)"
fi

# ---- 2. a GET_STATUS that is never answered (5 s libusb timeout) is retried -----------
sim --fault timeout-on=7 --flash-out "$tmp/flash" -- "$DFUFLASH" $FLASH --json > "$tmp/out" 2>&1
rc=$?
if [ $rc -eq 0 ] && flash_is_image "$tmp/flash" && [ "$(json_field "$tmp/out" retries)" -ge 1 ]; then
	pass "timeout-on=7: retried within the deadline, flash correct"
else
	fail "timeout-on=7 (rc $rc)"
fi

# ---- 3. a Set Address stalled: sent again ----------------------------------------------
sim --fault stall-on-request=DNLOAD:4 --flash-out "$tmp/flash" -- "$DFUFLASH" $FLASH --json > "$tmp/out" 2>&1
rc=$?
if [ $rc -eq 0 ] && flash_is_image "$tmp/flash" && [ "$(json_field "$tmp/out" retries)" = 1 ]; then
	pass "stall-on-request=DNLOAD:4: Set Address sent again, flash correct"
else
	fail "stall-on-request=DNLOAD:4 (rc $rc)"
fi

# ---- 4. fail every second run: two runs in a row both succeed ------------------------
sim --fault fail-every-second-run --flash-out "$tmp/flash" -- \
	sh -c "'$DFUFLASH' $FLASH; echo \"run1=\$?\"; '$DFUFLASH' $FLASH --json; echo \"run2=\$?\"" \
	> "$tmp/out" 2>&1
if has 'run1=0' && has 'run2=0' && has 'resetting the device and trying once more' &&
	has 'recovered: the device was reset' && has '"recovered_by_reset":true' &&
	flash_is_image "$tmp/flash"; then
	pass "fail-every-second-run: both runs succeed, the second says it reset the device"
else
	fail "fail-every-second-run"
fi

# ---- 5. a disconnect in the middle of a download ------------------------------------
sim --fault disconnect-at-byte=20000 --flash-out "$tmp/half" -- "$DFUFLASH" $FLASH > "$tmp/out" 2>&1
rc=$?
if [ $rc -eq 74 ] && has 'LIBUSB_ERROR_NO_DEVICE' && has 'left the bus in the middle of the download'; then
	pass "disconnect-at-byte=20000: exit 74, the cause named"
else
	fail "disconnect-at-byte=20000 (rc $rc)"
fi
if has '3 sectors erased (0x08000000, 0x08004000, 0x08008000)' &&
	has 'written: 0x08004000..0x080087ff' &&
	has 'vector-table sector 0x08000000 is erased and not yet written' &&
	has 'stays in the bootloader' &&
	has "this completes the flash: dfuflash $FLASH"; then
	pass "disconnect-at-byte: names the erased sectors, the written range, the vector table, the command"
else
	fail "disconnect-at-byte: the state of the flash and the resume command"
fi
# the replug: a power-cycled device with the half-written flash; the same command completes it
sim --flash-in "$tmp/half@0x08000000" --flash-out "$tmp/flash" -- "$DFUFLASH" $FLASH > "$tmp/out" 2>&1
rc=$?
if [ $rc -eq 0 ] && flash_is_image "$tmp/flash"; then
	pass "disconnect-at-byte: running the same command again completes the flash"
else
	fail "disconnect-at-byte: resumed run (rc $rc)"
fi

# ---- 6. dfuDNBUSY forever: exit 76, operation and cause --------------------------------
sim --fault stuck-dnbusy -- "$DFUFLASH" $FLASH > "$tmp/out" 2>&1
rc=$?
if [ $rc -eq 76 ] && has 'DfuSe erase page 0x08000000 did not finish within' &&
	has 'after announcing 100 ms' && has 'hint: ' && has 'power'; then
	pass "stuck-dnbusy: exit 76, the operation and the likely cause"
else
	fail "stuck-dnbusy (rc $rc)"
fi

# ---- 7. no LANGID, broken strings: listed and flashed --------------------------------
for f in no-langid no-langid=stall bad-strings; do
	sim --fault "$f" --flash-out "$tmp/flash" -- sh -c "'$DFUFLASH' list; '$DFUFLASH' $FLASH" > "$tmp/out" 2>&1
	rc=$?
	if [ $rc -eq 0 ] && has 'Found DFU: [0483:df11]' && flash_is_image "$tmp/flash"; then
		pass "$f: listed and flashed"
	else
		fail "$f (rc $rc)"
	fi
done

# ---- 8. --trace: one JSON object per control request ----------------------------------
sim --fault stall-on-request=GETSTATUS:4 -- "$DFUFLASH" $FLASH --trace "$tmp/trace" > "$tmp/out" 2>&1
rc=$?
if [ $rc -eq 0 ] && python3 - "$tmp/trace" <<'EOF'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
assert recs, "empty trace"
for r in recs:
    for k in ("time_us", "duration_us", "op", "request", "wValue", "wLength", "result", "data"):
        assert k in r, (k, r)
assert any(r["request"] == "DFU_GETSTATUS" and r.get("state") for r in recs)
assert any(r["error"] == "LIBUSB_ERROR_PIPE" for r in recs)
assert any(r["attempt"] >= 1 for r in recs)
assert any(r["request"] == "GET_DESCRIPTOR" for r in recs)
EOF
then
	pass "--trace: JSON lines with setup, data, result, error, state and retries"
else
	fail "--trace (rc $rc)"
fi

echo "# $checks checks, $fails failed, $skips skipped"
[ $fails -eq 0 ]
