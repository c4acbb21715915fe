#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Differential re-flash end to end: dfuflash against dfuflash-sim's stm32f405
# (sectors 4 x 16, 64, 7 x 128 KiB).  What the device did is read from the
# sim's transaction log (erase commands, programmed blocks), what it holds
# from --flash-out: an identical image is neither erased nor written, one
# changed sector is the only one erased and written, a sector the image
# leaves blank is not erased when it reads blank, --full erases everything,
# a read-protected device gets a full flash with a message, and a write the
# flash does not take is caught by the read-back.
#
# Needs $DFUFLASH_BUILDDIR/dfuflash-sim; exits 77 (skip) without it.
set -u

. "$(dirname "$0")/testlib.sh"

sim() { "$SIM" --time-scale 0 "$@"; }

# 256 KiB at 0x08000000: sectors 0-3 (16 KiB), 4 (64 KiB), 5 (128 KiB)
python3 - "$tmp" <<'EOF' || exit 99
import sys
d = sys.argv[1]
a = bytearray((i * 7 + (i >> 8)) & 0xff for i in range(256 * 1024))
open(d + "/a.bin", "wb").write(a)
b = bytearray(a); b[0x10000 + 5] ^= 0xff                # sector 4 changed
open(d + "/b.bin", "wb").write(b)
c = bytearray(a); c[0x4000:0x8000] = b"\xff" * 0x4000   # sector 1 left blank
open(d + "/c.bin", "wb").write(c)
c2 = bytearray(c); c2[0x20000 + 9] ^= 0x55              # ... and sector 5 changed
open(d + "/c2.bin", "wb").write(c2)
x = bytes((i * 13 + 1) & 0xff for i in range(256 * 1024))  # all sectors differ
open(d + "/x.bin", "wb").write(x)
EOF

# erases=N programs=M erased=ADDR,... written=LOW-HIGH: from the sim's log, DNLOAD
# commands 0x41 (erase) and data blocks (wBlockNum >= 2) placed by the last Set Address
logstat() { python3 - "$1" <<'EOF'
import json, sys
ptr, erased, progs = 0, [], []
for line in open(sys.argv[1]):
    o = json.loads(line)
    if o.get("req") != "DNLOAD" or o.get("result") != "ok" or "data" not in o:
        continue
    block, data = o["setup"][2], bytes.fromhex(o["data"])
    if block == 0 and data[0] == 0x21:
        ptr = int.from_bytes(data[1:5], "little")
    elif block == 0 and data[0] == 0x41 and len(data) == 5:
        erased.append("0x%08x" % int.from_bytes(data[1:5], "little"))
    elif block >= 2:
        progs.append(ptr + (block - 2) * 2048)
span = "0x%08x-0x%08x" % (min(progs), max(progs) + 2047) if progs else "none"
print("erases=%d programs=%d erased=%s written=%s" % (len(erased), len(progs), ",".join(erased), span))
EOF
}
json_field() { python3 -c '
import json, sys
for line in open(sys.argv[1]):
    if line.startswith("{"):
        o = json.loads(line)
        if o.get("event") == "result":
            print(o.get(sys.argv[2]))' "$@"; }
same() { cmp -s -n 262144 "$1" "$2"; }

FLASH="flash -s 0x08000000 --progress=none"

# reflash OLD NEW [ARG...]: the chip holds $tmp/OLD, dfuflash flashes $tmp/NEW; sets
# rc and st (logstat), leaves the output in $tmp/out and the flash in $tmp/flash
reflash() {
	old=$1 new=$2
	shift 2
	sim --flash-in "$tmp/$old@0x08000000" --log "$tmp/log" --flash-out "$tmp/flash" -- \
		"$DFU" $FLASH "$tmp/$new" "$@" > "$tmp/out" 2>&1
	rc=$?
	st=$(logstat "$tmp/log")
}

# ---- 1. the same image again: nothing erased, nothing written ----------------------
reflash a.bin a.bin
if [ $rc -eq 0 ] && [ "$st" = "erases=0 programs=0 erased= written=none" ] &&
	same "$tmp/flash" "$tmp/a.bin" && has '6 of 6 sectors unchanged, skipped' &&
	has '0 bytes written'; then
	pass "identical image: 0 erases, 0 programs, \"6 of 6 sectors unchanged, skipped\""
else
	fail "identical image (rc $rc, $st)"
fi

# ---- 2. the JSON result counts the sectors --------------------------------------------
sim --flash-in "$tmp/a.bin@0x08000000" -- "$DFU" $FLASH "$tmp/a.bin" --json > "$tmp/out" 2>&1
rc=$?
if [ $rc -eq 0 ] && [ "$(json_field "$tmp/out" sectors_skipped)" = 6 ] &&
	[ "$(json_field "$tmp/out" sectors_total)" = 6 ] &&
	[ "$(json_field "$tmp/out" sectors_erased)" = 0 ] &&
	[ "$(json_field "$tmp/out" bytes_written)" = 0 ]; then
	pass "--json: \"sectors_skipped\":6, \"sectors_total\":6, nothing erased or written"
else
	fail "--json sector counts (rc $rc)"
fi

# ---- 3. one sector changed: only it is erased and written, then read back -----------
reflash a.bin b.bin --json
if [ $rc -eq 0 ] && [ "$st" = "erases=1 programs=32 erased=0x08010000 written=0x08010000-0x0801ffff" ] &&
	same "$tmp/flash" "$tmp/b.bin" && [ "$(json_field "$tmp/out" sectors_skipped)" = 5 ] &&
	[ "$(json_field "$tmp/out" verified)" = True ]; then
	pass "one sector changed: only 0x08010000 erased and written (32 blocks), read back"
else
	fail "one sector changed (rc $rc, $st)"
fi

# ---- 4. a different image: every sector erased and written, byte-exact --------------
reflash a.bin x.bin
if [ $rc -eq 0 ] && [ "${st%% erased=*}" = "erases=6 programs=128" ] &&
	same "$tmp/flash" "$tmp/x.bin" && has '0 of 6 sectors unchanged, skipped'; then
	pass "different image: 6 erases, 128 programs, flash holds the new image"
else
	fail "different image (rc $rc, $st)"
fi

# ---- 5. blank in the image and on the chip: not erased; blank in the image only: erased, not written
reflash c.bin c2.bin
if [ $rc -eq 0 ] && [ "$st" = "erases=1 programs=64 erased=0x08020000 written=0x08020000-0x0803ffff" ] &&
	same "$tmp/flash" "$tmp/c2.bin" && has '5 of 6 sectors unchanged, skipped'; then
	pass "a sector blank in the image that reads blank is neither erased nor written"
else
	fail "blank sector skipped (rc $rc, $st)"
fi
reflash a.bin c.bin
if [ $rc -eq 0 ] && [ "$st" = "erases=1 programs=0 erased=0x08004000 written=none" ] &&
	same "$tmp/flash" "$tmp/c.bin" && has '5 of 6 sectors unchanged, skipped'; then
	pass "a sector the image leaves blank is erased, not written"
else
	fail "erase-only sector (rc $rc, $st)"
fi

# ---- 6. --full: the classic erase and write of every sector --------------------------
reflash a.bin a.bin --full --json
if [ $rc -eq 0 ] && [ "${st%% erased=*}" = "erases=6 programs=128" ] &&
	same "$tmp/flash" "$tmp/a.bin" && [ "$(json_field "$tmp/out" sectors_skipped)" = 0 ] &&
	[ "$(grep -c '"req":"UPLOAD"' "$tmp/log")" = 0 ] && ! has 'sectors unchanged'; then
	pass "--full: every sector erased and written, nothing read (no compare)"
else
	fail "--full (rc $rc, $st)"
fi
sim -- "$DFU" read out.bin --full > "$tmp/out" 2>&1
rc=$?
if [ $rc -eq 64 ] && has '--full'; then
	pass "--full with read: usage error (exit 64)"
else
	fail "--full with read (rc $rc)"
fi

# ---- 7. read-protected: no compare possible, a full flash is tried and says so ------
for sa in fail ok; do
	sim -f rdp=1,set-address-rdp=$sa --log "$tmp/log" -- "$DFU" $FLASH "$tmp/a.bin" --json \
		> "$tmp/out" 2>&1
	rc=$?
	st=$(logstat "$tmp/log")
	if has 'cannot compare the flash with the image: the device refused to read' &&
		has 'read-protected' && has 'erasing and writing all 6 sectors' &&
		has '"full_flash_reason":"the device refused to read' &&
		grep -q '"data":"41' "$tmp/log" && has '--unprotect' && [ $rc -ne 0 ]; then
		pass "rdp=1 (set-address-rdp=$sa): full flash tried after saying why, RDP reported (rc $rc)"
	else
		fail "rdp=1 set-address-rdp=$sa (rc $rc, $st)"
	fi
done

# ---- 8. a write the flash does not take is caught by the read-back -------------------
sim --flash-in "$tmp/a.bin@0x08000000" -f wrp=0x08010000 --flash-out "$tmp/flash" -- \
	"$DFU" $FLASH "$tmp/b.bin" > "$tmp/out" 2>&1
rc=$?
if [ $rc -eq 80 ] && has 'sector 0x08010000 (64 KiB) did not take the write' &&
	same "$tmp/flash" "$tmp/a.bin"; then
	pass "wrp on the changed sector: the read-back names it (rc $rc)"
else
	fail "wrp on the changed sector (rc $rc)"
fi

# ... and an erase the flash does not take, in a sector the image leaves blank
sim --flash-in "$tmp/a.bin@0x08000000" -f wrp=0x08004000 -- "$DFU" $FLASH "$tmp/c.bin" \
	> "$tmp/out" 2>&1
rc=$?
if [ $rc -eq 80 ] && has 'sector 0x08004000 (16 KiB) did not take the write'; then
	pass "wrp on a sector the image leaves blank: the erase is read back (rc $rc)"
else
	fail "wrp on an erase-only sector (rc $rc)"
fi

# ---- 9. an image that covers and changes the whole flash: one mass erase, checked ----
python3 - "$tmp" <<'EOF2' || exit 99
import sys
d = sys.argv[1]
old = bytes((i * 7 + (i >> 8)) & 0xff for i in range(1 << 20))
new = bytes((i * 13 + 1 + (i >> 9)) & 0xff for i in range(1 << 20))
open(d + "/old1m.bin", "wb").write(old)
open(d + "/new1m.bin", "wb").write(new)
half = bytearray(new); half[0x40000:0x60000] = old[0x40000:0x60000]  # sector 6 unchanged
open(d + "/half1m.bin", "wb").write(half)
EOF2
# mass=N sectors=M blank_reads=K: mass erases (a one-byte 0x41) and sector erases the
# device took in, and the UPLOADs after the last mass erase before the next command
massstat() { python3 - "$1" <<'EOF2'
import json, sys
mass = sectors = reads = 0
after = False
for line in open(sys.argv[1]):
    o = json.loads(line)
    if o.get("result") != "ok":
        continue
    if o.get("req") == "DNLOAD" and "data" in o:
        data = bytes.fromhex(o["data"])
        if o["setup"][2] == 0 and data[:1] == b"\x41":
            if len(data) == 1:
                mass, after, reads = mass + 1, True, 0
            else:
                sectors += 1
                after = False
        elif o["setup"][2] >= 2:
            after = False
    elif o.get("req") == "UPLOAD" and after:
        reads += 1
print("mass=%d sectors=%d blank_reads=%d" % (mass, sectors, reads))
EOF2
}
# reflash1m OLD NEW [ARG...]: as reflash, 1 MiB, the sim's options before "--" in $SIMF
SIMF=
reflash1m() {
	old=$1 new=$2
	shift 2
	sim $SIMF --flash-in "$tmp/$old@0x08000000" --log "$tmp/log" --flash-out "$tmp/flash" -- \
		"$DFU" $FLASH "$tmp/$new" "$@" > "$tmp/out" 2>&1
	rc=$?
	st=$(massstat "$tmp/log")
	setups=$(grep -c '"setup"' "$tmp/log")
}
reflash1m old1m.bin new1m.bin --json
mass_setups=$setups
if [ $rc -eq 0 ] && [ "$st" = "mass=1 sectors=0 blank_reads=12" ] &&
	cmp -s "$tmp/flash" "$tmp/new1m.bin" && [ "$(json_field "$tmp/out" mass_erased)" = True ] &&
	[ "$(json_field "$tmp/out" sectors_erased)" = 12 ]; then
	pass "1 MiB, every sector changed: one mass erase, then 12 blank reads, byte-exact"
else
	fail "1 MiB mass erase (rc $rc, $st)"
fi
reflash1m old1m.bin new1m.bin --full --json
if [ $rc -eq 0 ] && [ "$st" = "mass=0 sectors=12 blank_reads=0" ] &&
	cmp -s "$tmp/flash" "$tmp/new1m.bin" && [ "$(json_field "$tmp/out" mass_erased)" = False ] &&
	[ "$mass_setups" -lt "$setups" ]; then
	pass "--full keeps the 12 sector erases ($setups control transfers, $mass_setups with the mass erase)"
else
	fail "--full on 1 MiB (rc $rc, $st, $setups vs $mass_setups transfers)"
fi
reflash1m old1m.bin half1m.bin
if [ $rc -eq 0 ] && [ "$st" = "mass=0 sectors=11 blank_reads=0" ] &&
	cmp -s "$tmp/flash" "$tmp/half1m.bin" && has '1 of 12 sectors unchanged, skipped'; then
	pass "1 MiB with one sector unchanged: no mass erase, 11 sector erases"
else
	fail "1 MiB, one sector unchanged (rc $rc, $st)"
fi
sim --flash-in "$tmp/old1m.bin@0x08000000" -- "$DFU" $FLASH "$tmp/new1m.bin" --dry-run \
	> "$tmp/out" 2>&1
rc=$?
if [ $rc -eq 0 ] && has 'mass-erase  the whole flash, for the 12 sector erases below' &&
	has 'total       12 sector(s) to erase, 0 skipped'; then
	pass "--dry-run names the mass erase and the sectors it stands for"
else
	fail "--dry-run with a mass erase (rc $rc)"
fi

# a write-protected sector: the chip refuses the mass erase, and says nothing
SIMF="-f wrp=0x08040000"
reflash1m old1m.bin new1m.bin
if [ $rc -eq 80 ] && [ "$st" = "mass=1 sectors=12 blank_reads=1" ] &&
	has 'a sector still holds data after the mass erase' &&
	has 'sector 0x08040000 (128 KiB) did not take the write' && has 'write-protected (WRP)' &&
	cmp -s -n 262144 "$tmp/flash" "$tmp/new1m.bin"; then
	pass "wrp: the refused mass erase is seen, sectors erased one by one, the read-back names 0x08040000"
else
	fail "wrp with a mass erase (rc $rc, $st)"
fi
# the device answers the mass erase with an error: erased sector by sector instead
SIMF="-f status-on-request=DNLOAD:2=3"
reflash1m old1m.bin new1m.bin
if [ $rc -eq 0 ] && [ "$st" = "mass=1 sectors=12 blank_reads=0" ] &&
	has 'the mass erase failed' && has 'erasing the 12 sectors one by one' &&
	cmp -s "$tmp/flash" "$tmp/new1m.bin"; then
	pass "mass erase answered errWRITE: the 12 sectors erased one by one, byte-exact"
else
	fail "failed mass erase (rc $rc, $st)"
fi
# the device leaves the bus during the mass erase: the state of the flash is said
SIMF="-f disconnect-on-erase=1"
reflash1m old1m.bin new1m.bin
if [ $rc -eq 74 ] && has 'the whole flash (a mass erase) was being erased' &&
	has 'running the same command again erases and writes all of it'; then
	pass "device gone during the mass erase: exit 74, the flash state is described"
else
	fail "disconnect during the mass erase (rc $rc)"
fi
SIMF=

# a ROM that stalls early polls (STM32F072: 64 pages of 2 KiB)
python3 -c 'import sys; open(sys.argv[1], "wb").write(bytes((i * 5 + 3) & 0xff for i in range(128 * 1024)))' \
	"$tmp/f072.bin" || exit 99
sim -p stm32f072 --log "$tmp/log" --flash-out "$tmp/flash" -- "$DFU" $FLASH "$tmp/f072.bin" \
	> "$tmp/out" 2>&1
rc=$?
st=$(massstat "$tmp/log")
if [ $rc -eq 0 ] && [ "$st" = "mass=1 sectors=0 blank_reads=64" ] &&
	cmp -s -n 131072 "$tmp/flash" "$tmp/f072.bin"; then
	pass "stm32f072, 128 KiB: one mass erase for 64 pages, byte-exact"
else
	fail "stm32f072 mass erase (rc $rc, $st)"
fi

echo "$checks checks, $fails failed, $skips skipped"
[ $fails -eq 0 ] || exit 1
[ $checks -gt 0 ] || exit 77
exit 0
