#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# The shell completions: bash's run on typed command lines (commands,
# options taken from --help, -s modifiers, --progress values, image
# subcommands, dfuflash-sim's profiles and the command after its "--");
# zsh's parsed by zsh.  Each shell that is missing is skipped (77 if both).
set -u
bin=${DFUFLASH_BIN:?}
src=${DFUFLASH_SRCDIR:?}
builddir=${DFUFLASH_BUILDDIR:-$(dirname "$bin")}
fail=0
ran=0
# the dfuflash-sim cases need it built (configure --without-sim does not)
have_sim=no
[ -x "$builddir/dfuflash-sim" ] && have_sim=yes

if command -v zsh >/dev/null 2>&1; then
	ran=1
	if zsh -n "$src/scripts/completion/_dfuflash"; then
		echo "ok   zsh parses _dfuflash"
	else
		echo "FAIL zsh cannot parse _dfuflash"; fail=1
	fi
	# the function must define completions for both programs
	head -n 1 "$src/scripts/completion/_dfuflash" | grep -q '^#compdef dfuflash dfuflash-sim$' ||
		{ echo "FAIL _dfuflash: first line is not '#compdef dfuflash dfuflash-sim'"; fail=1; }
	if zsh -fc 'zmodload zsh/zpty' 2>/dev/null; then
		zsh -f "$src/tests/cli/completion-zsh.zsh" "$src/scripts/completion" "$builddir" \
			"$have_sim" || fail=1
	else
		echo "skip zsh completion run: no zsh/zpty module"
	fi
fi

if command -v bash >/dev/null 2>&1; then
	ran=1
	PATH="$builddir:$PATH" bash -s "$src/scripts/completion/dfuflash.bash" "$have_sim" <<'EOS' || fail=1
set -u
. "$1"
bad=0
# complete LINE: COMP_* as bash fills them for LINE typed with the cursor at
# its end (':' and '=' are words of their own), then _dfuflash's answer
complete_line() {
	COMP_LINE=$1
	COMP_POINT=${#1}
	COMP_WORDBREAKS=$' \t\n"\'><=;|&(:'
	read -ra COMP_WORDS <<< "$(printf '%s\n' "$1" | sed 's/\([:=]\)/ \1 /g')"
	case $1 in *" ") COMP_WORDS+=("") ;; esac
	COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
	COMPREPLY=()
	_dfuflash
	reply=" ${COMPREPLY[*]} "
}
offered() { case $reply in *" $1 "*) return 0 ;; esac; return 1; }
# expect LINE WORD...: each WORD is offered
expect() {
	line=$1; shift
	complete_line "$line"
	for w in "$@"; do
		offered "$w" || { echo "FAIL [$line] does not offer '$w': got$reply"; bad=1; return; }
	done
	echo "ok   [$line] offers $*"
}
# refuse LINE WORD...: no WORD is offered
refuse() {
	line=$1; shift
	complete_line "$line"
	for w in "$@"; do
		offered "$w" && { echo "FAIL [$line] offers '$w': got$reply"; bad=1; return; }
	done
	echo "ok   [$line] does not offer $*"
}
expect "dfuflash " list flash read verify erase leave detach image help version
expect "dfuflash fl" flash
expect "dfuflash st" station
expect "dfuflash flash fw.hex --" --all --dry-run --record --count
refuse "dfuflash fl" list
expect "dfuflash flash fw.hex --ve" --verify --verbose
expect "dfuflash --" --json --wait --dfuse-address --download --leave --progress --serial
expect "dfuflash -" -D -U -s -a -d -S -p -w
expect "dfuflash -s 0x08000000:" leave mass-erase unprotect will-reset force
expect "dfuflash -s 0x08000000:le" leave
expect "dfuflash -a 0 -s 0x08000000:leave:f" force
expect "dfuflash --dfuse-address 0:mass-erase:" force
expect "dfuflash --progress=" bar plain none
expect "dfuflash --progress p" plain
expect "dfuflash image " info convert suffix prefix layout
expect "dfuflash image suffix " add check delete
expect "dfuflash image prefix " add check delete
expect "dfuflash image convert a.hex b.dfu --to " bin hex srec dfu dfuse
[ "$2" = yes ] || { echo "skip dfuflash-sim cases: not built"; exit $bad; }
expect "dfuflash-sim --" --profile --fault --devices --list-profiles
expect "dfuflash-sim --profile " stm32f405 stm32h743
expect "dfuflash-sim -p stm32h7" stm32h743 stm32h753
refuse "dfuflash-sim -p stm32h7" stm32f405
expect "dfuflash-sim -p stm32f405 -- dfuflash fl" flash
expect "dfuflash-sim -p stm32f405 -- dfuflash -s 0:" leave will-reset
exit $bad
EOS
fi

[ "$ran" = 1 ] || { echo "completion.sh: SKIP: neither bash nor zsh"; exit 77; }
exit $fail
