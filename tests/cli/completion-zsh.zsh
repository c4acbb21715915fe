# SPDX-License-Identifier: GPL-2.0-or-later
# zsh -f completion-zsh.zsh FPATH_DIR BIN_DIR HAVE_SIM: type command lines into an
# interactive zsh (zpty) with _dfuflash on its fpath, press TAB and look for
# the expected words in what the shell draws.  Exit 0 when all are found.
zmodload zsh/zpty || exit 77
zpty z zsh -f -i
fails=0
# wait_for WORDS...: read the terminal until every word was drawn (10 s at most)
wait_for() {
  local l got= deadline=$(( SECONDS + 10 )) w missing
  while (( SECONDS < deadline )); do
    while zpty -rt z l; do got+=$l; done
    missing=
    for w in "$@"; do [[ $got == *$w* ]] || missing+=" $w"; done
    [[ -z $missing ]] && return 0
    sleep 0.2
  done
  print -r -- "missing:$missing"
  return 1
}
zpty -w z "PS1='%% '; fpath=($1 \$fpath); path=($2 \$path); autoload -Uz compinit; compinit -u -D; bindkey '^I' complete-word; zstyle ':completion:*' menu no; print ready-for-tests"
wait_for ready-for-tests || exit 1
# expect LINE WORDS...
expect() {
  local line=$1; shift
  zpty -w -n z "$line"$'\t'
  if wait_for "$@"; then print -r -- "ok   zsh [$line] offers $*"
  else print -r -- "FAIL zsh [$line] does not offer $*"; fails=1; fi
  zpty -w -n z $'\C-u'
}
expect 'dfuflash -s 0x08000000:' leave mass-erase unprotect will-reset force
expect 'dfuflash --progress=' bar none plain
expect 'dfuflash fla' 'dfuflash flash'
expect 'dfuflash image suffix ' add check delete
expect 'dfuflash image ' info convert suffix prefix layout
expect 'dfuflash --wai' 'dfuflash --wait'
[[ $3 == yes ]] || { zpty -d z; exit $fails }
expect 'dfuflash-sim --profile stm32h7' stm32h743 stm32h753
expect 'dfuflash-sim -p stm32f405 -- dfuflash -s 0:le' ':leave'
zpty -d z
exit $fails
