#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Fidelity of dfuflash-sim: the stock dfu-util (Debian 0.11) against the virtual devices,
# served through umockdev.  Checks that `dfu-util -l` prints what captures of the real
# devices show (public dfu-util -l output and lsusb dumps), that download then upload is
# byte-exact on every DfuSe profile and matches --flash-out, and that the failures users
# report come out the same way (RDP, vanish-during-status, STM32U5), plus run-time detach.
#
# Needs $DFUFLASH_BUILDDIR/dfuflash-sim (built when configure finds umockdev) and
# dfu-util; exits 77 (skip) without them.  Under ASan (--enable-sanitizers)
# dfuflash-sim adds verify_asan_link_order=0 to ASAN_OPTIONS itself when it re-executes
# under the umockdev preload; dfu-util is not instrumented.
set -u

SIM=${DFUFLASH_SIM:-${DFUFLASH_BUILDDIR:-.}/dfuflash-sim}
DFU_UTIL=${DFU_UTIL:-dfu-util}

[ -x "$SIM" ] || { echo "SKIP: $SIM not built (umockdev missing?)"; exit 77; }
command -v "$DFU_UTIL" >/dev/null 2>&1 || { echo "SKIP: $DFU_UTIL not installed"; exit 77; }
if ! "$DFU_UTIL" -V 2>/dev/null | grep -q '^dfu-util 0\.11'; then
	echo "SKIP: the expected messages are those of dfu-util 0.11"
	exit 77
fi

tmp=$(mktemp -d) || exit 99
trap 'rm -rf "$tmp"' EXIT HUP INT TERM
fails=0
checks=0

pass() { checks=$((checks + 1)); echo "ok   $1"; }
fail() {
	checks=$((checks + 1)); fails=$((fails + 1)); echo "FAIL $1"
	[ -f "$tmp/out" ] && sed 's/^/     | /' "$tmp/out" | tail -n 15
}
# fast, deterministic runs: instantaneous flash, no announced poll waits
fast="--time-scale 0 --fault zero-poll-timeout"

# ---- 1. dfu-util -l against the captures --------------------------------------------
# Expected "Found" lines, alt 0 first (dfu-util prints them last to first).  ids, ver=
# (bcdDevice), alt names and serials as public dfu-util -l output quotes them; the STM32G0B1
# reports the same string on every alt (its ROM bug).
cat > "$tmp/expected-list" <<'EOF'
stm32f405 [0483:df11] ver=2200 alt=0 name="@Internal Flash  /0x08000000/04*016Kg,01*064Kg,07*128Kg" serial="3574364C3034"
stm32f405 [0483:df11] ver=2200 alt=1 name="@Option Bytes  /0x1FFFC000/01*016 e" serial="3574364C3034"
stm32f405 [0483:df11] ver=2200 alt=2 name="@OTP Memory /0x1FFF7800/01*512 e,01*016 e" serial="3574364C3034"
stm32f405 [0483:df11] ver=2200 alt=3 name="@Device Feature/0xFFFF0000/01*004 e" serial="3574364C3034"
stm32f407 [0483:df11] ver=2200 alt=0 name="@Internal Flash  /0x08000000/04*016Kg,01*064Kg,07*128Kg" serial="3574364C3034"
stm32f407 [0483:df11] ver=2200 alt=1 name="@Option Bytes  /0x1FFFC000/01*016 e" serial="3574364C3034"
stm32f407 [0483:df11] ver=2200 alt=2 name="@OTP Memory /0x1FFF7800/01*512 e,01*016 e" serial="3574364C3034"
stm32f407 [0483:df11] ver=2200 alt=3 name="@Device Feature/0xFFFF0000/01*004 e" serial="3574364C3034"
stm32f407-oldrom [0483:df11] ver=2100 alt=0 name="@Internal Flash  /0x08000000/04*016Kg,01*064Kg,07*128Kg" serial="3574364C3034"
stm32f407-oldrom [0483:df11] ver=2100 alt=1 name="@Option Bytes  /0x1FFFC000/01*016 g" serial="3574364C3034"
stm32f407-oldrom [0483:df11] ver=2100 alt=2 name="@OTP Memory /0x1FFF7800/01*512 g,01*016 g" serial="3574364C3034"
stm32f407-oldrom [0483:df11] ver=2100 alt=3 name="@Device Feature/0xFFFF0000/01*004 g" serial="3574364C3034"
stm32h743 [0483:df11] ver=0200 alt=0 name="@Internal Flash   /0x08000000/16*128Kg" serial="200364500000"
stm32h743 [0483:df11] ver=0200 alt=1 name="@Option Bytes   /0x5200201C/01*128 e" serial="200364500000"
stm32l476 [0483:df11] ver=2200 alt=0 name="@Internal Flash  /0x08000000/0256*0002Kg" serial="206B39763233"
stm32l476 [0483:df11] ver=2200 alt=1 name="@Option Bytes  /0x1FFF7800/01*040 e" serial="206B39763233"
stm32l476 [0483:df11] ver=2200 alt=2 name="@OTP Memory /0x1FFF7000/01*0001Ke" serial="206B39763233"
stm32l476 [0483:df11] ver=2200 alt=3 name="@Device Feature/0xFFFF0000/01*004 e" serial="206B39763233"
stm32g474 [0483:df11] ver=0200 alt=0 name="@Internal Flash   /0x08000000/256*02Kg" serial="2059346B5744"
stm32g474 [0483:df11] ver=0200 alt=1 name="@Option Bytes   /0x1FFF7800/01*048 e/0x1FFFF800/01*048 e" serial="2059346B5744"
stm32g474 [0483:df11] ver=0200 alt=2 name="@OTP Memory   /0x1FFF7000/01*1024 e" serial="2059346B5744"
stm32g0b1 [0483:df11] ver=0200 alt=0 name="@Internal Flash /0x08000000/256*02Kg" serial="206A32865841"
stm32g0b1 [0483:df11] ver=0200 alt=1 name="@Internal Flash /0x08000000/256*02Kg" serial="206A32865841"
stm32g0b1 [0483:df11] ver=0200 alt=2 name="@Internal Flash /0x08000000/256*02Kg" serial="206A32865841"
particle-photon [2b04:d006] ver=0200 alt=0 name="@Internal Flash   /0x08000000/03*016Ka,01*016Kg,01*064Kg,07*128Kg" serial="00000000050C"
particle-photon [2b04:d006] ver=0200 alt=1 name="@DCT Flash   /0x00000000/01*016Kg" serial="00000000050C"
gd32vf103 [28e9:0189] ver=1000 alt=0 name="@Internal Flash  /0x08000000/512*002Kg" serial="3CBJ"
gd32vf103 [28e9:0189] ver=1000 alt=1 name="@Option Bytes  /0x1FFFF800/01*016 g" serial="3CBJ"
generic [cafe:4001] ver=0100 alt=0 name="DFU Runtime" serial="123456"
maple [1eaf:0003] ver=0201 alt=0 name="STM32duino bootloader v1.0  ERROR. Upload to RAM not supported." serial="LLM 003"
maple [1eaf:0003] ver=0201 alt=1 name="STM32duino bootloader v1.0  Upload to Flash 0x8005000" serial="LLM 003"
maple [1eaf:0003] ver=0201 alt=2 name="STM32duino bootloader v1.0  Upload to Flash 0x8002000" serial="LLM 003"
EOF

for p in $(cut -d' ' -f1 "$tmp/expected-list" | uniq); do
	"$SIM" --profile "$p" -- "$DFU_UTIL" -l > "$tmp/out" 2>&1
	# "Found DFU: [vid:pid] ver=V, devnum=2, cfg=1, intf=0, path="1-1", alt=N, name=..., serial=..."
	sed -n 's/^Found [A-Za-z-]*: \(\[[0-9a-f:]*\]\) \(ver=[0-9a-f]*\), devnum=2, cfg=1, intf=0, path="1-1", \(alt=[0-9]*\), \(name=".*"\), \(serial=".*"\)$/'"$p"' \1 \2 \3 \4 \5/p' \
		"$tmp/out" | sort > "$tmp/got"
	grep "^$p " "$tmp/expected-list" | sort > "$tmp/want"
	if [ -s "$tmp/got" ] && cmp -s "$tmp/got" "$tmp/want"; then
		pass "dfu-util -l: $p"
	else
		diff "$tmp/want" "$tmp/got" > "$tmp/out"
		fail "dfu-util -l: $p"
	fi
done

# ---- 2. download then upload, byte-exact; --flash-out matches -------------------------
# 6000 bytes: a short last block at every wTransferSize (1024, 2048, 4096), and several
# pages on the 1-2 KiB page parts.  Photon and the HAL IAP example keep their first
# three 16 KiB sectors read-only (type a), so they are written behind them.
dd if=/dev/urandom of="$tmp/in.bin" bs=6000 count=1 2>/dev/null
size=6000
for p in stm32f405 stm32f407 stm32f407-oldrom stm32f107 stm32f072 stm32l476 stm32g474 stm32g0b1 \
	stm32h743 stm32h753 gd32vf103 particle-photon stm32-hal-iap; do
	addr=0x08000000
	off=0
	case $p in particle-photon | stm32-hal-iap) addr=0x0800C000 off=49152 ;; esac
	rm -f "$tmp/up.bin" "$tmp/flash.bin"
	# shellcheck disable=SC2086
	"$SIM" --profile "$p" $fast --flash-out "$tmp/flash.bin" -- sh -c \
		"'$DFU_UTIL' -a 0 -s $addr -D '$tmp/in.bin' && '$DFU_UTIL' -a 0 -s $addr:$size -U '$tmp/up.bin'" \
		> "$tmp/out" 2>&1
	rc=$?
	if [ $rc -eq 0 ] && cmp -s "$tmp/in.bin" "$tmp/up.bin"; then
		pass "download + upload byte-exact: $p"
	else
		fail "download + upload byte-exact: $p (exit $rc)"
	fi
	tail -c +$((off + 1)) "$tmp/flash.bin" 2>/dev/null | head -c $size > "$tmp/flash-part.bin"
	if cmp -s "$tmp/in.bin" "$tmp/flash-part.bin"; then
		pass "--flash-out matches: $p"
	else
		fail "--flash-out matches: $p"
	fi
done

# generic DFU 1.1: detach into DFU mode, download, upload (upload ends on a short frame)
rm -f "$tmp/up.bin" "$tmp/flash.bin"
"$SIM" --profile generic --time-scale 0.01 --flash-out "$tmp/flash.bin" -- sh -c \
	"'$DFU_UTIL' -e && sleep 0.3 && '$DFU_UTIL' -D '$tmp/in.bin' && '$DFU_UTIL' -U '$tmp/up.bin'" \
	> "$tmp/out" 2>&1
rc=$?
head -c $size "$tmp/flash.bin" > "$tmp/flash-part.bin" 2>/dev/null
if [ $rc -eq 0 ] && cmp -s "$tmp/in.bin" "$tmp/up.bin" && cmp -s "$tmp/in.bin" "$tmp/flash-part.bin"; then
	pass "generic: detach, download, upload byte-exact, --flash-out matches"
else
	fail "generic: detach, download, upload byte-exact, --flash-out matches (exit $rc)"
fi

# --flash-in is what an upload reads back
rm -f "$tmp/up.bin"
# shellcheck disable=SC2086
"$SIM" --profile stm32l476 $fast --flash-in "$tmp/in.bin@0x08001000" -- \
	"$DFU_UTIL" -a 0 -s 0x08001000:$size -U "$tmp/up.bin" > "$tmp/out" 2>&1
rc=$?
if [ $rc -eq 0 ] && cmp -s "$tmp/in.bin" "$tmp/up.bin"; then
	pass "--flash-in then upload: stm32l476"
else
	fail "--flash-in then upload: stm32l476 (exit $rc)"
fi

# ---- 3. the failures users report ----------------------------------------------------
# RDP level 1, a previous refused command left errVENDOR: dfu-util clears it at start
# ("status(11)"), then the erase fails again (a dfu-util log of a 0483:df11 flash attempt
# posted on answeroverflow.com).
# Realistic timing here (announced poll timeouts, datasheet durations).
"$SIM" --profile stm32f405 --fault rdp=1 --fault start-in-error=11 -- \
	"$DFU_UTIL" -a 0 -s 0x08000000 -D "$tmp/in.bin" > "$tmp/out" 2>&1
rc=$?
if [ $rc -eq 74 ] && grep -q 'dfuERROR, status(11)' "$tmp/out" &&
	grep -q 'dfu-util: ERASE_PAGE not correctly executed' "$tmp/out"; then
	pass "RDP1 + start-in-error=11: status(11), then ERASE_PAGE not correctly executed (74)"
else
	fail "RDP1 + start-in-error=11: status(11), then ERASE_PAGE not correctly executed (exit $rc)"
fi

# The ROM leaves during the status stage of the final GET_STATUS: dfu-util reports an
# error and exits 74 although the flash is correct (Klipper PR 5596, monome crow issue 128).
rm -f "$tmp/flash.bin"
"$SIM" --profile stm32f405 --time-scale 0.01 --fault leave=vanish-during-status --flash-out "$tmp/flash.bin" -- \
	"$DFU_UTIL" -a 0 -s 0x08000000:leave -D "$tmp/in.bin" > "$tmp/out" 2>&1
rc=$?
head -c $size "$tmp/flash.bin" > "$tmp/flash-part.bin" 2>/dev/null
if [ $rc -eq 74 ] && grep -q 'File downloaded successfully' "$tmp/out" &&
	grep -q 'dfu-util: Error during download get_status' "$tmp/out" &&
	cmp -s "$tmp/in.bin" "$tmp/flash-part.bin"; then
	pass "leave=vanish-during-status: Error during download get_status (74), flash correct"
else
	fail "leave=vanish-during-status: Error during download get_status (74), flash correct (exit $rc)"
fi

# The same leave on a healthy ROM: it leaves, finds no application and comes back into
# the ROM at the next address.
"$SIM" --profile stm32f405 $fast -- sh -c \
	"'$DFU_UTIL' -a 0 -s 0x08000000:leave -D '$tmp/in.bin' && sleep 0.3 && '$DFU_UTIL' -l" > "$tmp/out" 2>&1
rc=$?
if [ $rc -eq 0 ] && grep -q 'Transitioning to dfuMANIFEST state' "$tmp/out" &&
	grep -q 'Found DFU: \[0483:df11\] ver=2200, devnum=3,' "$tmp/out"; then
	pass ":leave: the device re-enumerates (devnum 3)"
else
	fail ":leave: the device re-enumerates (devnum 3) (exit $rc)"
fi

# STM32U5 ROMs answer dfuDNLOAD-IDLE without dfuDNBUSY; dfu-util 0.11 refuses that.
# shellcheck disable=SC2086
"$SIM" --profile stm32u5 $fast -- "$DFU_UTIL" -a 0 -s 0x08000000 -D "$tmp/in.bin" > "$tmp/out" 2>&1
rc=$?
if [ $rc -eq 76 ] && grep -q 'Wrong state after command "ERASE_PAGE" download' "$tmp/out"; then
	pass "stm32u5: dfu-util 0.11 says Wrong state after command \"ERASE_PAGE\" download (76)"
else
	fail "stm32u5: dfu-util 0.11 says Wrong state after command \"ERASE_PAGE\" download (exit $rc)"
fi

# STM32duino (Maple) bootloader 2.0: alt 2 writes from 0x08002000; the download ends in
# dfuMANIFEST-WAIT-RESET, dfu-util resets the device, which starts the sketch and leaves
# the DFU listing (dfu-util 0.11 then exits 74); a log quoted on stm32duino.com (viewtopic
# p=2990) shows the same state(8) and reset.  The sketch: SP in SRAM, then 5992 bytes.
{ printf '\000\120\000\040\001\041\000\010'; head -c 5992 "$tmp/in.bin"; } > "$tmp/sketch.bin"
rm -f "$tmp/flash.bin"
# shellcheck disable=SC2086
"$SIM" --profile maple $fast --flash-out "$tmp/flash.bin" -- sh -c \
	"'$DFU_UTIL' -a 2 -d 1EAF:0003 -D '$tmp/sketch.bin'; echo rc=\$?; sleep 0.3; '$DFU_UTIL' -l" > "$tmp/out" 2>&1
tail -c +$((0x2000 + 1)) "$tmp/flash.bin" 2>/dev/null | head -c $size > "$tmp/flash-part.bin"
if grep -q '^rc=74$' "$tmp/out" && cmp -s "$tmp/sketch.bin" "$tmp/flash-part.bin" &&
	grep -q 'state(8) = dfuMANIFEST-WAIT-RESET, status(0)' "$tmp/out" &&
	grep -q 'Resetting USB to switch back to runtime mode' "$tmp/out" &&
	! grep -q 'Found DFU' "$tmp/out"; then
	pass "maple: -a 2 writes 0x08002000, MANIFEST-WAIT-RESET, reset starts the sketch (74)"
else
	fail "maple: -a 2 writes 0x08002000, MANIFEST-WAIT-RESET, reset starts the sketch"
fi
# alt 0 takes no download: the first block is stalled
# shellcheck disable=SC2086
"$SIM" --profile maple $fast -- "$DFU_UTIL" -a 0 -D "$tmp/sketch.bin" > "$tmp/out" 2>&1
rc=$?
if [ $rc -eq 74 ] && grep -q 'Error during download (LIBUSB_ERROR_PIPE)' "$tmp/out"; then
	pass "maple: alt 0 stalls the download (74)"
else
	fail "maple: alt 0 stalls the download (exit $rc)"
fi
# an upload of alt 2 reads to the end of the 64 KiB flash, programmed or not
rm -f "$tmp/up.bin"
# shellcheck disable=SC2086
"$SIM" --profile maple $fast --flash-in "$tmp/sketch.bin@0x08002000" -- \
	"$DFU_UTIL" -a 2 -U "$tmp/up.bin" > "$tmp/out" 2>&1
rc=$?
if [ $rc -eq 0 ] && [ "$(wc -c < "$tmp/up.bin")" -eq 57344 ] &&
	head -c $size "$tmp/up.bin" | cmp -s - "$tmp/sketch.bin"; then
	pass "maple: alt 2 upload reads 0x08002000 to the end of flash"
else
	fail "maple: alt 2 upload reads 0x08002000 to the end of flash (exit $rc)"
fi

# ---- 4. run-time mode: detach and re-enumeration ---------------------------------------
# bitWillDetach: the device detaches itself; without it dfu-util resets it.
for p in generic generic-intolerant; do
	"$SIM" --profile "$p" --time-scale 0.01 -- sh -c \
		"'$DFU_UTIL' -e && sleep 0.3 && '$DFU_UTIL' -l" > "$tmp/out" 2>&1
	rc=$?
	if [ $rc -eq 0 ] && grep -q 'Device really in Run-Time Mode, send DFU detach request' "$tmp/out" &&
		grep -q 'Found DFU: \[cafe:4000\] ver=0100, devnum=3, cfg=1, intf=0, path="1-1", alt=0, name="Firmware"' "$tmp/out"; then
		pass "$p: dfu-util -e detaches, the device comes back in DFU mode"
	else
		fail "$p: dfu-util -e detaches, the device comes back in DFU mode (exit $rc)"
	fi
done

# ---- 5. the command line itself ---------------------------------------------------------
"$SIM" --profile no-such-chip -- true > "$tmp/out" 2>&1
rc=$?
if [ $rc -eq 64 ] && grep -q "unknown profile 'no-such-chip'" "$tmp/out"; then
	pass "unknown profile: exit 64"
else
	fail "unknown profile: exit 64 (exit $rc)"
fi
"$SIM" --fault no-such-fault=1 -- true > "$tmp/out" 2>&1
rc=$?
if [ $rc -eq 64 ] && grep -q 'no-such-fault' "$tmp/out"; then
	pass "bad fault token: exit 64, token named"
else
	fail "bad fault token: exit 64, token named (exit $rc)"
fi
"$SIM" -- sh -c 'exit 3' > "$tmp/out" 2>&1
rc=$?
if [ $rc -eq 3 ]; then pass "COMMAND's exit status is returned"; else fail "COMMAND's exit status is returned ($rc)"; fi
"$SIM" --devices 2 -- "$DFU_UTIL" -l > "$tmp/out" 2>&1
rc=$?
if [ $rc -eq 0 ] && grep -q 'devnum=2, cfg=1, intf=0, path="1-1", alt=0' "$tmp/out" &&
	grep -q 'devnum=3, cfg=1, intf=0, path="1-2", alt=0' "$tmp/out"; then
	pass "--devices 2: two devices, own paths and addresses"
else
	fail "--devices 2: two devices, own paths and addresses (exit $rc)"
fi

echo "$checks checks, $fails failed"
[ $fails -eq 0 ]
