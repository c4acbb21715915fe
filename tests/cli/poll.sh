#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Adaptive polling and quirk files, end to end: dfuflash against dfuflash-sim.
#   - every busy behaviour (NAK: stm32f405, stm32h743; STALL: stm32l476,
#     stm32f072; strict: generic and an F4 with busy=strict; REPEAT: an F4 with
#     busy=repeat) flashed with --poll=auto, announced and 3 (ms), in native and
#     dfu-util spelling: exit 0 and flash == image, and -v naming the mode;
#   - a device announcing bwPollTimeout 0xffffff ms is polled every 100 ms;
#     one announcing 50 s, more than the deadline: every wait ends at the
#     deadline (the option-byte write and Read Unprotect paths included);
#   - quirk files: a good entry changes the polling, a bad line and an
#     unreadable file are warnings naming file (and line), and `quirks` shows
#     where each quirk came from;
#   - bad --poll values exit 64 naming the option.
# The devices run at a twentieth of the datasheet timing; bwPollTimeout is
# announced as the profile does (not scaled), so announced polling stays slow.
# Needs $DFUFLASH_BUILDDIR/dfuflash-sim (umockdev); exits 77 (skip) without it.
set -u

. "$(dirname "$0")/testlib.sh"

sim() { "$SIM" --time-scale 0.05 "$@"; }
run() { "$@" >"$tmp/out" 2>&1; rc=$?; }

# a quirk directory of our own: none of the user's files
export XDG_CONFIG_HOME="$tmp/config"
mkdir -p "$XDG_CONFIG_HOME/dfuflash/quirks.d"

python3 - "$tmp" <<'EOF' || exit 99
import random, struct, sys
d = sys.argv[1]
random.seed(12)
app = struct.pack('<II', 0x20010000, 0x08000101) + bytes(random.randrange(256) for _ in range(9000))
open(d + '/app.bin', 'wb').write(app)
open(d + '/plain.bin', 'wb').write(bytes(random.randrange(256) for _ in range(3000)))
ob = bytes([0xEF, 0xAA, 0x10, 0x55, 0xFF, 0xFF, 0xFF, 0xFF, 0xDF, 0x0F, 0x20, 0xF0, 0xFF, 0xFF, 0xFF, 0xFF])
open(d + '/ob-wrp5.bin', 'wb').write(ob)
EOF
app_len=$(wc -c <"$tmp/app.bin")

# flashed PROFILE_AND_FAULTS MODE EXPECT: the last run exited 0, the flash holds
# the image, and -v said EXPECT about the polling
flashed() {
	[ "$rc" -eq 0 ] && cmp -s -n "$2" "$tmp/flash.bin" "$1" && has "$3"
}

# ---- 1. every busy behaviour, every mode: byte-exact ----------------------------------
for spec in stm32f405:at_once stm32h743:at_once stm32l476:stall stm32f072:stall \
	stm32f405,busy=repeat:at_once stm32f405,busy=strict:at_once; do
	profile=${spec%%:*}
	faults=
	case $profile in *,*) faults="--fault ${profile#*,}"; profile=${profile%%,*} ;; esac
	case ${spec##*:} in
	at_once) auto_says="poll at once after the first busy reply: busy=nak (built-in)" ;;
	stall) auto_says="bwPollTimeout as announced: busy=stall (built-in)" ;;
	esac
	for mode in auto announced 3; do
		case $mode in
		auto) says=$auto_says ;;
		announced) says="bwPollTimeout as announced: --poll=announced" ;;
		*) says="poll every 3 ms: --poll=3" ;;
		esac
		rm -f "$tmp/flash.bin"
		run sim -p "$profile" $faults --flash-out="$tmp/flash.bin" -- \
			"$DFU" flash "$tmp/app.bin" --address 0x08000000 --poll=$mode -v
		if flashed "$tmp/app.bin" "$app_len" "$says"; then
			pass "$profile $faults --poll=$mode: exit 0, flash == image, -v names the mode"
		else
			fail "$profile $faults --poll=$mode (rc=$rc)"
		fi
	done
done

# the dfu-util spelling takes --poll too
rm -f "$tmp/flash.bin"
run sim -p stm32l476 --flash-out="$tmp/flash.bin" -- \
	"$DFU" -a 0 -s 0x08000000 -D "$tmp/app.bin" --poll=5 -v
if flashed "$tmp/app.bin" "$app_len" "poll every 5 ms: --poll=5"; then
	pass "dfu-util style -D with --poll=5 on a STALL ROM: exit 0, flash == image"
else
	fail "dfu-util style -D --poll=5 (rc=$rc)"
fi

# a STALL ROM polled early (1 ms into a 2 KiB page erase at datasheet
# timing) is demoted after one stall, without an error
rm -f "$tmp/flash.bin"
run "$SIM" -p stm32l476 --flash-out="$tmp/flash.bin" -- \
	"$DFU" flash "$tmp/app.bin" --address 0x08000000 --poll=1 -v
if flashed "$tmp/app.bin" "$app_len" "poll every 1 ms: --poll=1" &&
   has "GET_STATUS sent before bwPollTimeout stalled: polling 0483:df11 as announced from now on" &&
   [ "$(grep -c "stalled: polling" "$tmp/out")" -eq 1 ]; then
	pass "STALL ROM under --poll=1: one stall, demoted to announced timing, flash == image"
else
	fail "STALL ROM under --poll=1 (rc=$rc)"
fi

# plain DFU 1.1 (strict: early polls stall and end in dfuERROR), run-time detach first
for mode in auto announced 3; do
	rm -f "$tmp/flash.bin"
	run sim -p generic --flash-out="$tmp/flash.bin" -- "$DFU" flash "$tmp/plain.bin" \
		--poll=$mode -v
	if [ "$rc" -eq 0 ] && cmp -s -n 3000 "$tmp/flash.bin" "$tmp/plain.bin"; then
		pass "generic (strict DFU 1.1) --poll=$mode: exit 0, flash == image"
	else
		fail "generic --poll=$mode (rc=$rc)"
	fi
done
run sim -p generic -- "$DFU" quirks -v
if [ "$rc" -eq 0 ] && has "busy behaviour unknown (no quirk entry)"; then
	pass "generic: no quirk entry, bwPollTimeout as announced"
else
	fail "generic quirks (rc=$rc)"
fi

# ---- 2. a bwPollTimeout of 0xffffff ms or 50 s never holds the host ----------------------
absurd="--fault poll-timeout=16777215"
huge="--fault poll-timeout=50000"
rm -f "$tmp/flash.bin"
start=$(date +%s)
run sim -p stm32l476 $absurd --flash-out="$tmp/flash.bin" -- \
	"$DFU" flash "$tmp/app.bin" --address 0x08000000 --timeout 300 -v
took=$(($(date +%s) - start))
if flashed "$tmp/app.bin" "$app_len" "bwPollTimeout as announced" &&
	has "bwPollTimeout 16777215 ms (4.7 hours), longer than any flash operation takes: polling it every 100 ms instead" &&
	[ "$took" -lt 60 ]; then
	pass "STALL ROM announcing 0xffffff ms, --timeout 300: exit 0, flash == image in ${took} s"
else
	fail "0xffffff ms on stm32l476 (rc=$rc, ${took} s)"
fi

start=$(date +%s)
run sim -p stm32f405 $huge -- "$DFU" -a 1 -s 0x1FFFC000:will-reset:force -D "$tmp/ob-wrp5.bin" \
	--timeout 500 -v
took=$(($(date +%s) - start))
if [ "$rc" -eq 0 ] && has "device announced bwPollTimeout 50000 ms; waiting" && [ "$took" -lt 60 ]; then
	pass "option-byte write announcing 50 s: the wait is cut to the deadline (${took} s)"
else
	fail "option-byte write with 50 s (rc=$rc, ${took} s)"
fi

start=$(date +%s)
run sim -p stm32f405 $huge --fault rdp=1 -- "$DFU" erase --unprotect --force -v
took=$(($(date +%s) - start))
if [ "$rc" -eq 0 ] && has "device announced bwPollTimeout 50000 ms; waiting" && [ "$took" -lt 90 ]; then
	pass "Read Unprotect announcing 50 s: the wait is cut to the deadline (${took} s)"
else
	fail "Read Unprotect with 50 s (rc=$rc, ${took} s)"
fi

# ---- 3. quirk files -------------------------------------------------------------------------
qd="$XDG_CONFIG_HOME/dfuflash/quirks.d"
cat >"$qd/50-site.conf" <<'EOF'
# our F4 boards stall early polls after a ROM update
0483:df11:2200 layout=f4-sectors busy=stall # ROM update 2026
0483:df11 busy=sometimes
EOF
printf 'not a quirk file\n' >"$qd/README"
run sim -p stm32f405 -- "$DFU" quirks -a 0
if [ "$rc" -eq 0 ] && grep -Eq "^  busy=stall +$qd/50-site.conf:2: ROM update 2026\$" "$tmp/out" &&
   grep -Eq "^  busy=nak +built-in: F2/F4/F7 ROM holds GET_STATUS" "$tmp/out" &&
   has "poll: bwPollTimeout as announced: busy=stall ($qd/50-site.conf:2)" &&
   has "warning: quirk file $qd/50-site.conf:3: busy='sometimes': expected nak, stall, repeat or strict; line ignored" &&
   ! has "README"; then
	pass "quirks: a file entry overrides the built-in one, named by file:line; a bad line is a warning"
else
	fail "quirks with a site file (rc=$rc)"
fi

rm -f "$tmp/flash.bin"
run sim -p stm32f405 --flash-out="$tmp/flash.bin" -- \
	"$DFU" flash "$tmp/app.bin" --address 0x08000000 -v
if flashed "$tmp/app.bin" "$app_len" "poll bwPollTimeout as announced: busy=stall ($qd/50-site.conf:2)" &&
   has "line ignored"; then
	pass "flash follows the quirk file (announced polling), warns about the bad line, exit 0"
else
	fail "flash with a quirk file (rc=$rc)"
fi

run sim -p stm32f405 -- "$DFU" quirks -a 0 --json
if [ "$rc" -eq 0 ] && python3 -c '
import json, sys
top = json.loads([l for l in open(sys.argv[1]) if l.startswith("{\"schema\"")][0])
d = top["interfaces"]
q = d[0]["quirks"]
assert d[0]["id"] == "0483:df11" and d[0]["alt"] == 0
assert {"quirk": "busy=stall", "source": sys.argv[2] + ":2", "reason": "ROM update 2026"} in q
assert d[0]["poll"].startswith("bwPollTimeout as announced")
' "$tmp/out" "$qd/50-site.conf"; then
	pass "quirks --json: the entries with their sources"
else
	fail "quirks --json (rc=$rc)"
fi

# unreadable whoever runs the test: a link to nowhere, and a directory
ln -s "$tmp/nowhere.conf" "$qd/60-gone.conf"
mkdir "$qd/70-dir.conf"
run sim -p stm32f405 -- "$DFU" quirks -a 0
if [ "$rc" -eq 0 ] &&
   has "warning: quirk file $qd/60-gone.conf: cannot read: No such file or directory; ignored" &&
   has "warning: quirk file $qd/70-dir.conf: not a regular file; ignored" &&
   has "busy=stall"; then
	pass "unreadable quirk files are named in warnings and ignored; the others still apply"
else
	fail "unreadable quirk files (rc=$rc)"
fi
rm -rf "$qd/60-gone.conf" "$qd/70-dir.conf"
rm -f "$qd/50-site.conf" "$qd/README"

# sequential-blocks: an F405 ROM writes sectors 1-2 and then the vector-table
# sector from one Set Address; with the quirk every run gets its own, as with
# dfu-util (set_addresses LOG: the Set Address commands the sim saw)
set_addresses() {
	python3 -c '
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
print(sum(1 for o in ev if o.get("req") == "DNLOAD" and o["setup"][2] == 0
          and o.get("data", "").startswith("21")))' "$1"
}
python3 -c 'import random, sys
random.seed(40)
a = open(sys.argv[1], "rb").read()
open(sys.argv[2], "wb").write(a + bytes(random.randrange(256) for _ in range(40960 - len(a))))' \
	"$tmp/app.bin" "$tmp/app40k.bin"
for q in "" sequential-blocks; do
	[ -n "$q" ] && printf '0483:df11 %s # a clone ROM\n' "$q" >"$qd/80-clone.conf"
	rm -f "$tmp/flash.bin" "$tmp/sim.log"
	run sim -p stm32f405 --log "$tmp/sim.log" --flash-out="$tmp/flash.bin" -- \
		"$DFU" flash "$tmp/app40k.bin" --address 0x08000000 --full -v
	n=$(set_addresses "$tmp/sim.log")
	if [ -z "$q" ] && flashed "$tmp/app40k.bin" 40960 "poll" && [ "$n" -eq 1 ]; then
		pass "F405 ROM: one Set Address for three sectors, vector table last"
	elif [ -n "$q" ] && flashed "$tmp/app40k.bin" 40960 "poll" && [ "$n" -eq 3 ] &&
		has "sequential-blocks"; then
		pass "quirk sequential-blocks: a Set Address per run (3), flash == image"
	else
		fail "Set Addresses with quirk '${q:-none}': $n (rc=$rc)"
	fi
done
rm -f "$qd/80-clone.conf"

# ---- 4. bad --poll values ----------------------------------------------------------------------
for v in fast -1 0 0x; do
	run "$DFU" flash "$tmp/app.bin" --poll=$v
	if [ "$rc" -eq 64 ] && has "--poll '$v'"; then
		pass "--poll=$v: exit 64 naming the option"
	else
		fail "--poll=$v (rc=$rc)"
	fi
done
run "$DFU" image info "$tmp/app.bin" --poll=auto
[ "$rc" -ne 0 ] && pass "--poll is not an image option" || fail "image info --poll (rc=$rc)"

echo "poll: $checks checks, $fails failed, $skips skipped"
[ "$fails" -eq 0 ] || exit 1
[ "$checks" -gt 0 ] || exit 77
exit 0
