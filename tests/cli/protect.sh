#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Read-out protection, write protection, option bytes and OTP, end to end: the
# dfuflash binary against dfuflash-sim's STM32F405 ROM through umockdev.
#   - the ODrive report: RDP level 1 and status 11 at the start; a plain flash
#     exits 76 saying the chip is read-protected; with --unprotect (or
#     -s :unprotect:force) the same command ends with flash == image, exit 0;
#   - a failing Read Unprotect is reported;
#   - WRP: a write that does not take exits 80 naming the sector;
#   - OTP: the lock byte of a block written after the block (two runs);
#     refusals without --otp and for 0 -> 1 bits;
#   - read-options and an option-byte write confirmed after the reset.
# Needs $DFUFLASH_BUILDDIR/dfuflash-sim (umockdev); exits 77 (skip) without it.
set -u

. "$(dirname "$0")/testlib.sh"

# instantaneous flash, no announced poll waits
sim() { "$SIM" --time-scale 0 --fault zero-poll-timeout "$@"; }

# run: sim args -- dfuflash args; output in $tmp/out, exit code in $rc
run() { "$@" >"$tmp/out" 2>&1; rc=$?; }


python3 - "$tmp" <<'EOF' || exit 99
import random, struct, sys
d = sys.argv[1]
random.seed(5)
app = struct.pack('<II', 0x20010000, 0x08000101) + bytes(random.randrange(256) for _ in range(6000))
open(d + '/app.bin', 'wb').write(app)
open(d + '/data.bin', 'wb').write(bytes(random.randrange(256) for _ in range(3000)))
open(d + '/block3.bin', 'wb').write(bytes(range(0x40, 0x60)))
open(d + '/lock3.bin', 'wb').write(b'\x00')
open(d + '/ones.bin', 'wb').write(b'\xff' * 32)
ob = bytes([0xEF, 0xAA, 0x10, 0x55, 0xFF, 0xFF, 0xFF, 0xFF, 0xDF, 0x0F, 0x20, 0xF0, 0xFF, 0xFF, 0xFF, 0xFF])
open(d + '/ob-wrp5.bin', 'wb').write(ob)
EOF
app_len=$(wc -c <"$tmp/app.bin")

# ---- 1. read-out protection: the ODrive report ------------------------------------------
rdp="--fault rdp=1 --fault start-in-error=11"
run sim $rdp -- "$DFU" -a 0 -s 0x08000000 -D "$tmp/app.bin"
if [ "$rc" -eq 76 ] && has "read-out protection is active" &&
   has "the chip is read-protected (RDP level 1); \`--unprotect\` removes the protection by mass-erasing the whole flash"; then
	pass "RDP1 + status 11: plain flash exits 76, says read-protected and how to unprotect"
else
	fail "RDP1 + status 11: plain flash (rc=$rc)"
fi

rm -f "$tmp/flash.bin"
run sim $rdp --flash-out="$tmp/flash.bin" -- "$DFU" -a 0 -s 0x08000000:unprotect:force -D "$tmp/app.bin"
if [ "$rc" -eq 0 ] && has "read protection removed" && [ -f "$tmp/flash.bin" ] &&
   cmp -s -n "$app_len" "$tmp/flash.bin" "$tmp/app.bin"; then
	pass "RDP1: -s 0x08000000:unprotect:force -D unprotects, then flashes: flash == image"
else
	fail "RDP1: -s :unprotect:force -D (rc=$rc)"
fi

rm -f "$tmp/flash.bin"
run sim $rdp --flash-out="$tmp/flash.bin" -- "$DFU" flash "$tmp/app.bin" --address 0x08000000 --unprotect --verify
if [ "$rc" -eq 0 ] && [ -f "$tmp/flash.bin" ] && cmp -s -n "$app_len" "$tmp/flash.bin" "$tmp/app.bin"; then
	pass "RDP1: flash --unprotect --verify: flash == image"
else
	fail "RDP1: flash --unprotect --verify (rc=$rc)"
fi

run sim --fault rdp=1 -- sh -c "'$DFU' erase --unprotect && '$DFU' read-options"
if [ "$rc" -eq 0 ] && has "read protection removed" && has "level 0"; then
	pass "erase --unprotect alone: RDP back to level 0"
else
	fail "erase --unprotect alone (rc=$rc)"
fi

run sim --fault rdp=1 --fault unprotect-fails -- "$DFU" erase --unprotect
if [ "$rc" -eq 76 ] && has "Read Unprotect failed" && has "still active"; then
	pass "a failing Read Unprotect exits 76 and says the protection is still active"
else
	fail "failing Read Unprotect (rc=$rc)"
fi

# ---- 2. write protection --------------------------------------------------------------------
run sim --fault wrp=0x08000000 -- "$DFU" -a 0 -s 0x08000000 -D "$tmp/app.bin"
if [ "$rc" -eq 80 ] && has "sector 0x08000000" && has "write-protected (WRP)" && has "read-options"; then
	pass "WRP on the vector-table sector: found without --verify, exit 80 naming the sector"
else
	fail "WRP on the vector-table sector (rc=$rc)"
fi

run sim --fault wrp=0x08020000 -- "$DFU" -a 0 -s 0x08020000 -D "$tmp/data.bin" --verify
if [ "$rc" -eq 80 ] && has "sector 0x08020000 (128 KiB)" && has "write-protected (WRP)"; then
	pass "WRP with --verify: exit 80 naming sector 0x08020000"
else
	fail "WRP with --verify (rc=$rc)"
fi

# ---- 3. OTP ----------------------------------------------------------------------------------
run sim -- "$DFU" -a 2 -s 0x1FFF7860 -D "$tmp/block3.bin"
if [ "$rc" -eq 65 ] && has "one-time programmable" && has "block 3 (0x1fff7860..0x1fff787f)" && has "--otp"; then
	pass "OTP without --otp: refused (65), naming the block"
else
	fail "OTP without --otp (rc=$rc)"
fi

rm -f "$tmp/otp.bin"
run sim -- sh -c "'$DFU' -a 2 -s 0x1FFF7860 -D '$tmp/block3.bin' --otp || exit 11
	'$DFU' -a 2 -s 0x1FFF7A03 -D '$tmp/lock3.bin' --otp || exit 12
	'$DFU' -a 2 -s 0x1FFF7800:528 -U '$tmp/otp.bin' || exit 13"
if [ "$rc" -eq 0 ] && has "lock byte 3 (0x1fff7a03: locks block 3 for good)" &&
   has "locked (lock byte 0x00): lock byte written now" &&
   python3 - "$tmp/otp.bin" <<'EOF'
import sys
d = open(sys.argv[1], 'rb').read()
ok = (len(d) == 528 and d[0x60:0x80] == bytes(range(0x40, 0x60)) and d[0x203] == 0
      and d[0x200:0x203] == b'\xff' * 3 and d[0x204:] == b'\xff' * 12 and d[:0x60] == b'\xff' * 0x60)
sys.exit(0 if ok else 1)
EOF
then
	pass "OTP seed case: block 3, then its lock byte alone in a second run: both read back"
else
	fail "OTP seed case (rc=$rc)"
fi

run sim -- sh -c "'$DFU' -a 2 -s 0x1FFF7860 -D '$tmp/block3.bin' --otp >/dev/null 2>&1 || exit 11
	exec '$DFU' -a 2 -s 0x1FFF7860 -D '$tmp/ones.bin' --otp"
if [ "$rc" -eq 65 ] && has "from 0 to 1" && has "nothing written"; then
	pass "OTP 0 -> 1 bit: refused before writing (65)"
else
	fail "OTP 0 -> 1 refusal (rc=$rc)"
fi

# ---- 4. option bytes ---------------------------------------------------------------------------
run sim -- "$DFU" read-options
if [ "$rc" -eq 0 ] && has "option bytes at 0x1fffc000 (16 bytes, STM32F2/F4)" &&
   has "read protection:  level 0 (RDP byte 0xaa)" && has "write protection: none" &&
   has "brown-out reset:" && has "boot:" && ! has "upload"; then
	pass "read-options: RDP, WRP, BOR and boot of the F405 (no progress line for 16 bytes)"
else
	fail "read-options (rc=$rc)"
fi

run sim -- "$DFU" read-options --json
if [ "$rc" -eq 0 ] && has '"event":"option_bytes"' && has '"rdp_level":0' && has '"wrp_sectors":[]' &&
   ! has '"event":"upload"'; then
	pass "read-options --json"
else
	fail "read-options --json (rc=$rc)"
fi

run sim -- sh -c "'$DFU' -a 1 -s 0x1FFFC000:force -D '$tmp/ob-wrp5.bin' || exit 11
	'$DFU' read-options || exit 12
	exec '$DFU' -a 0 -s 0x08020000 -D '$tmp/data.bin' --verify"
if [ "$rc" -eq 80 ] && has "option bytes hold what was written" &&
   has "write protection: sector 5 (0x08020000)" && has "sector 0x08020000 (128 KiB)"; then
	pass "option bytes: write, reset, confirm; the new WRP shows and is detected (80)"
else
	fail "option-byte write and WRP (rc=$rc)"
fi

run sim --fault rdp=1 -- "$DFU" read-options
if [ "$rc" -eq 76 ] && has "read-protected"; then
	pass "read-options on a read-protected chip says so"
else
	fail "read-options under RDP1 (rc=$rc)"
fi

echo "protect: $checks checks, $fails failed, $skips skipped"
[ "$fails" -eq 0 ] || exit 1
[ "$checks" -gt 0 ] || exit 77
exit 0
