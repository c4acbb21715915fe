#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# The auto-flash wrapper (scripts/dfuflash-autoflash, run by the systemd
# template) against a virtual F405: it flashes the configured firmware on the
# named port, refuses a second run on the same port while one holds the lock,
# and says what is missing.
set -u
build=${DFUFLASH_BUILDDIR:?}
src=${DFUFLASH_SRCDIR:?}
bin="$build/dfuflash"
sim="$build/dfuflash-sim"
wrapper="$build/scripts/dfuflash-autoflash"
[ -x "$sim" ] || { echo "SKIP: dfuflash-sim not built"; exit 77; }
[ -x "$wrapper" ] || { echo "SKIP: $wrapper not built"; exit 77; }
command -v flock >/dev/null || { echo "SKIP: flock not found"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }

"$bin" image convert "$src/tests/data/example-f4.hex" "$tmp/fw.bin" >/dev/null 2>&1

# a good run: the firmware lands on the port given as the instance
out=$(DFUFLASH="$bin" DFUFLASH_FIRMWARE="$src/tests/data/example-f4.hex" DFUFLASH_LOCKDIR="$tmp" \
	"$sim" --profile stm32f405 --time-scale 0 --flash-out "$tmp/out.bin" -- "$wrapper" 1-1 2>&1)
rc=$?
[ $rc -eq 0 ] && ok || bad "wrapper exit $rc: $out"
cmp -s -n "$(wc -c < "$tmp/fw.bin")" "$tmp/out.bin" "$tmp/fw.bin" && ok || bad "flash differs after the wrapper"
printf '%s' "$out" | grep -q 'application started' && ok || bad "no 'application started': $out"
printf '%s' "$out" | grep -q 'dfuflash-autoflash: 1-1: exit status 0' && ok || bad "no closing status line: $out"
printf '%s' "$out" | grep -q "$(printf '\r')" && bad "progress uses carriage returns in a service log" || ok

# one flasher per port: a held lock gives 75 at once
(flock 9; sleep 3) 9>"$tmp/dfuflash-1-1.lock" &
sleep 0.5
out=$(DFUFLASH="$bin" DFUFLASH_FIRMWARE="$tmp/fw.bin" DFUFLASH_LOCKDIR="$tmp" "$wrapper" 1-1 2>&1)
rc=$?
[ $rc -eq 75 ] && ok || bad "held lock: exit $rc, expected 75: $out"
printf '%s' "$out" | grep -q 'another flash of this port is running' && ok || bad "held lock message: $out"
wait

# the lock file is never truncated, and a link planted in its place is
# refused without writing to what it names
printf 'precious' > "$tmp/victim"
ln -s "$tmp/victim" "$tmp/dfuflash-2-1.lock"
out=$(DFUFLASH="$bin" DFUFLASH_FIRMWARE="$tmp/fw.bin" DFUFLASH_LOCKDIR="$tmp" "$wrapper" 2-1 2>&1)
rc=$?
[ $rc -eq 73 ] && ok || bad "lock link: exit $rc, expected 73: $out"
[ "$(cat "$tmp/victim")" = precious ] && ok || bad "the lock link's target was written"
printf '%s' "$out" | grep -q 'not a regular file' && ok || bad "lock link message: $out"
ln -s "$tmp/none" "$tmp/dfuflash-2-2.lock"
DFUFLASH="$bin" DFUFLASH_FIRMWARE="$tmp/fw.bin" DFUFLASH_LOCKDIR="$tmp" "$wrapper" 2-2 >/dev/null 2>&1
[ ! -e "$tmp/none" ] && ok || bad "a dangling lock link created its target"
# DFUFLASH_ARGS: split into words, never globbed (a fake dfuflash shows the words)
printf '#!/bin/sh\nprintf "[%%s]" "$@"\n' > "$tmp/fake"
chmod +x "$tmp/fake"
printf 'kept' > "$tmp/dfuflash-3-1.lock"
mkdir "$tmp/cwd" && : > "$tmp/cwd/abc"
out=$(cd "$tmp/cwd" && DFUFLASH="$tmp/fake" DFUFLASH_FIRMWARE=fw.bin DFUFLASH_LOCKDIR="$tmp" \
	DFUFLASH_ARGS='--verify  [a]*' "$wrapper" 3-1 2>&1)
printf '%s' "$out" | grep -qF '[--verify][[a]*][fw.bin]' && ok || bad "DFUFLASH_ARGS globbed or not split: $out"
[ "$(cat "$tmp/dfuflash-3-1.lock")" = kept ] && ok || bad "the lock file was truncated"

# what is missing is said
out=$(DFUFLASH="$bin" DFUFLASH_LOCKDIR="$tmp" DFUFLASH_FIRMWARE= "$wrapper" 1-1 2>&1); rc=$?
[ $rc -eq 64 ] && printf '%s' "$out" | grep -q 'DFUFLASH_FIRMWARE is not set' && ok || bad "no firmware: $rc $out"
out=$(DFUFLASH="$bin" DFUFLASH_FIRMWARE="$tmp/fw.bin" "$wrapper" 'x;y' 2>&1); rc=$?
[ $rc -eq 64 ] && printf '%s' "$out" | grep -q 'not a USB path' && ok || bad "bad path: $rc $out"

# the unit and the rule are well formed
unit="$build/scripts/dfuflash-autoflash@.service"
grep -q "^ExecStart=.*/dfuflash-autoflash %I$" "$unit" && ok || bad "unit ExecStart: $(grep ExecStart "$unit")"
grep -q '@bindir@\|@sysconfdir@' "$unit" "$wrapper" && bad "unsubstituted @...@ left" || ok
if command -v systemd-analyze >/dev/null 2>&1; then
	cp "$unit" "$tmp/dfuflash-autoflash@.service"
	systemd-analyze verify "$tmp/dfuflash-autoflash@.service" >/dev/null 2>"$tmp/verify.err"
	grep -v 'dfuflash-autoflash.*No such file\|Command .* is not executable\|not found' "$tmp/verify.err" |
		grep -qi 'error\|invalid' && bad "systemd-analyze: $(cat "$tmp/verify.err")" || ok
fi
if command -v udevadm >/dev/null 2>&1; then
	udevadm verify "$src/scripts/60-dfuflash.rules" >/dev/null 2>&1
	rc=$?
	# rc 0 = valid; 1 with "Unknown command" on udev older than 254: not checkable
	[ $rc -eq 0 ] && ok || { udevadm verify --help >/dev/null 2>&1 && bad "udevadm verify rejects the rule"; }
fi

echo "autoflash.sh: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
