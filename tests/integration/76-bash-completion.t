#!/usr/bin/env bash
# contrib/bash-completion/harepdctl completes harepdctl's commands (read
# from its usage), options, and --json after status.
. "$(dirname "$0")/../lib/tap.sh"
BC=/usr/share/bash-completion/bash_completion
[ -r "$BC" ] || skip_all "no bash-completion (make deps)"
complete_line() {	# complete_line WORD... (the last one is completed)
	(
		. "$BC"
		. "$TOP/contrib/bash-completion/harepdctl"
		COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
		COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
		_harepdctl
		printf '%s\n' "${COMPREPLY[@]}" | sort | tr '\n' ' '
	)
}
cmds=$("$HAREPDCTL" -h 2>&1 | awk '/^commands:/ { c = 1; next } /^[a-z]/ { c = 0 }
    c && /^  [a-z]/ { print $1 }' | sort)
like "$cmds" 'stop-client' "harepdctl -h lists its commands"
is "$(complete_line "$HAREPDCTL" "")" "$(tr '\n' ' ' <<<"$cmds")" \
    "every command of the usage"
is "$(complete_line "$HAREPDCTL" st)" "$(grep '^st' <<<"$cmds" | tr '\n' ' ')" \
    "commands starting with st"
is "$(complete_line "$HAREPDCTL" -s /run/x.sock sta)" \
    "$(grep '^sta' <<<"$cmds" | tr '\n' ' ')" "after -s SOCKET"
is "$(complete_line "$HAREPDCTL" status --)" "--json " "status --json"
is "$(complete_line "$HAREPDCTL" -)" "--version -f -s " "options"
done_testing
