# SPDX-License-Identifier: GPL-2.0-or-later
# bash completion for dfuflash and dfuflash-sim.  Commands and options are
# read from the program's own --help, so a new option completes without an
# edit here; dfuflash-sim's profiles from --list-profiles.  Installed as
# "dfuflash" and "dfuflash-sim" in bash-completion's completions directory.

# _dfuflash_help PROG [COMMAND]: PROG [COMMAND] --help, once per shell.
_dfuflash_help()
{
	local all="$*"
	local var="_dfuflash_help_${all//[^a-zA-Z0-9]/_}"
	if [[ -z ${!var-} ]]; then
		printf -v "$var" '%s' "$("$@" --help 2>/dev/null)"
	fi
	printf '%s\n' "${!var}"
}

# _dfuflash_options PROG [COMMAND]: every --long and -s short option of its --help.
_dfuflash_options()
{
	_dfuflash_help "$@" | grep -oE -- '(^|[ ,\[(])--?[a-zA-Z][a-zA-Z-]*' | sed 's/^[ ,[(]//' |
		sort -u
}

# _dfuflash_commands PROG: the words of the "Commands:" section.
_dfuflash_commands()
{
	_dfuflash_help "$1" | sed -n '/^Commands:/,/^$/s/^  \([a-z][a-z-]*\).*/\1/p'
	echo help
	echo version
}

# _dfuflash_reply CUR WORDS...: the WORDS starting with CUR.
_dfuflash_reply()
{
	local cur=$1
	shift
	local IFS=$'\n'
	COMPREPLY=($(compgen -W "$*" -- "$cur"))
}

# Sets opt (the option a value is being typed for, or "") and val (the
# value so far), from the words of the line up to the cursor: bash breaks
# words at ':' and '=', so the line is split at blanks here instead.
_dfuflash_split()
{
	local line=${COMP_LINE:0:COMP_POINT} last before prevtok
	last=${line##*[[:blank:]]}
	before=${line%"$last"}
	before=${before%"${before##*[![:blank:]]}"}
	prevtok=${before##*[[:blank:]]}
	opt= val=$last
	if [[ $last == --*=* ]]; then
		opt=${last%%=*} val=${last#*=}
	elif [[ $prevtok == -* ]]; then
		opt=$prevtok
	fi
}

_dfuflash()
{
	local prog=${COMP_WORDS[0]} cur=${COMP_WORDS[COMP_CWORD]} opt val word i sub=
	_dfuflash_split
	[[ $cur == [=:] ]] && cur=

	for ((i = 1; i < COMP_CWORD; i++)); do
		word=${COMP_WORDS[i]}
		[[ $word == -* || -n $sub ]] && continue
		[[ $word == image ]] && sub=image
	done
	case $opt in
	-s | --dfuse-address)
		# ADDRESS:modifier:modifier...: complete the part after the last ':'
		if [[ $val == *:* ]]; then
			local mods="leave mass-erase unprotect will-reset force" pre=
			[[ $COMP_WORDBREAKS == *:* ]] || pre=${val%:*}:
			_dfuflash_reply "${val##*:}" $mods
			[[ -n $pre ]] && COMPREPLY=("${COMPREPLY[@]/#/$pre}")
		fi
		return
		;;
	--progress)
		_dfuflash_reply "$val" bar plain none
		return
		;;
	--format | --to)
		_dfuflash_reply "$val" bin dfu dfuse hex srec elf
		return
		;;
	-p | --path)
		if [[ $prog == *dfuflash-sim ]]; then
			_dfuflash_reply "$val" $("$prog" --list-profiles 2>/dev/null | cut -d' ' -f1)
		else
			_dfuflash_reply "$val" $(ls /sys/bus/usb/devices 2>/dev/null | grep -E '^[0-9]+-[0-9.]+$')
		fi
		return
		;;
	--profile)
		_dfuflash_reply "$val" $("$prog" --list-profiles 2>/dev/null | cut -d' ' -f1)
		return
		;;
	-D | --download | -U | --upload | --trace | --flash-out | --log | --record)
		COMPREPLY=($(compgen -f -- "$val"))
		return
		;;
	-d | --device | -S | --serial | -n | --devnum | -c | --cfg | -i | --intf | -a | --alt | \
		-t | --transfer-size | -Z | --upload-size | -E | --detach-delay | --address | \
		--length | --jump | --timeout | -f | --fault | --time-scale | --devices)
		return
		;;
	esac
	if [[ $prog == *dfuflash-sim ]]; then
		# after "--" the command line of another program
		for ((i = 1; i < COMP_CWORD; i++)); do
			if [[ ${COMP_WORDS[i]} == -- ]]; then
				COMP_WORDS=("${COMP_WORDS[@]:i+1}")
				COMP_CWORD=$((COMP_CWORD - i - 1))
				[[ $COMP_CWORD -eq 0 ]] &&
					COMPREPLY=($(compgen -c -- "$cur")) && return
				_dfuflash
				return
			fi
		done
	fi
	if [[ $cur == -* ]]; then
		_dfuflash_reply "$cur" $(_dfuflash_options "$prog" $sub)
	elif [[ $sub == image ]]; then
		case ${COMP_WORDS[COMP_CWORD - 1]} in
		image)
			_dfuflash_reply "$cur" $(_dfuflash_help "$prog" image |
				sed -n 's/^  dfuflash image \([a-z][a-z-]*\).*/\1/p')
			;;
		suffix | prefix) _dfuflash_reply "$cur" add check delete ;;
		*) COMPREPLY=($(compgen -f -- "$cur")) ;;
		esac
	elif [[ $COMP_CWORD -eq 1 && $prog != *dfuflash-sim ]]; then
		_dfuflash_reply "$cur" $(_dfuflash_commands "$prog")
	else
		COMPREPLY=($(compgen -f -- "$cur"))
	fi
}
complete -o filenames -F _dfuflash dfuflash dfuflash-sim
