# Shell side of tests/helpers/fakesup.c, the stand-in supervisor of every
# worker's tests: fakesup runs in the background, reads its commands from
# a FIFO and writes one line per envelope to $FS_OUT; these functions
# send commands and wait for lines. The role's library calls fs_init
# (and may set FS_START_OPTS, options of `start`: "-v user=postgres").
#
#   . tests/lib/tap.sh; . tests/helpers/fakesup.sh
#   fs_init DIR                                # FS_OUT, FS_ERR in DIR
#   fs_start ROLE CONF [push-config options]   # FS_REPLY: hello line or why not
#   fs send control pause                      # any fakesup command
#   fs_mark; fs_wait T REGEX; fs_line T REGEX  # lines written after the mark
#   fs_next T REGEX                            # the next line after the mark
#                                              # matching, into FS_REPLY; the
#                                              # mark moves past it
#   fs_field LINE KEY
#   fs_stop                                    # SHUTDOWN; FS_EXIT: the exit line
#   fs_close                                   # end fakesup (cleanup traps)
# Timeouts T are seconds; fractions count.
FAKESUP=$HAREPD_BUILD/tests/helpers/fakesup
FS_FD=
FS_PID=
FS_MARK=0
FS_START=0

# wait_for, with fractions of a second honoured
fs_until() {	# fs_until SECONDS CONDITION
	local end
	end=$(( $(date +%s%N) + $(awk -v s="$1" 'BEGIN { printf "%.0f", s * 1e9 }') ))
	while ! eval "$2"; do
		[ "$(date +%s%N)" -lt "$end" ] || return 1
		sleep 0.02
	done
}

fs_init() {	# fs_init DIR
	[ -x "$FAKESUP" ] || bail "$FAKESUP not built"
	FS_DIR=$1
	FS_OUT=$FS_DIR/sup.out
	FS_ERR=$FS_DIR/sup.err
}

# A fresh fakesup: $FS_OUT starts empty, $FS_ERR (its and the worker's
# stderr) accumulates.
fs_open() {
	rm -f "$FS_DIR/cmd"
	mkfifo "$FS_DIR/cmd"
	: >"$FS_OUT"
	"$FAKESUP" "$HAREPD" <"$FS_DIR/cmd" >"$FS_OUT" 2>>"$FS_ERR" &
	FS_PID=$!
	exec {FS_FD}>"$FS_DIR/cmd"
	FS_MARK=0
}

# One command. A write to a fakesup that is gone fails instead of
# killing the test (the role libraries ignore SIGPIPE).
fs() { { echo "$*" >&"$FS_FD"; } 2>/dev/null; }

fs_mark() { FS_MARK=$(wc -l <"$FS_OUT"); }
fs_since() { tail -n +"$((FS_MARK + 1))" "$FS_OUT"; }
fs_wait() {	# fs_wait TIMEOUT REGEX: a line after the mark matches
	FS_RE=$2
	fs_until "$1" 'fs_since | grep -Eq -- "$FS_RE"'
}
# the first line after the mark matching REGEX (after waiting for it)
fs_line() {	# fs_line TIMEOUT REGEX
	fs_wait "$1" "$2"
	fs_since | grep -E -- "$2" | head -1
}
fs_next() {	# fs_next TIMEOUT REGEX: FS_REPLY is the line, or "timeout"
	local n
	FS_REPLY=timeout
	fs_wait "$1" "$2" || return 1
	n=$(fs_since | grep -En -- "$2" | head -1 | cut -d: -f1)
	FS_REPLY=$(fs_since | sed -n "${n}p")
	FS_MARK=$((FS_MARK + n))
}
# value of key= in a line (values without blanks; the free-text keys
# reason=, error= and db_error= take the rest)
fs_field() {	# fs_field LINE KEY
	case $2 in
	reason|error|db_error) printf '%s\n' "$1" | sed -n "s/.* $2=//p" ;;
	*) printf '%s\n' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p" | head -1 ;;
	esac
}

# Starts fakesup if it is not running, then the worker; waits for its
# hello. The mark is set to just before the start. FS_WORKER: its pid.
fs_start() {	# fs_start ROLE CONF [push-config options...]
	local role=$1
	shift
	[ -n "$FS_PID" ] && kill -0 "$FS_PID" 2>/dev/null || fs_open
	fs_mark
	FS_START=$FS_MARK
	fs start "$role" ${FS_START_OPTS:-}
	fs push-config "$@"
	FS_WORKER=
	fs_wait 10 '^(hello|exit|error) '
	FS_REPLY=$(fs_since | grep -E '^(hello|exit|error) ' | head -1)
	FS_REPLY=${FS_REPLY:-timeout}
	case $FS_REPLY in hello*)
		FS_WORKER=$(fs_field "$FS_REPLY" pid)
		return 0 ;;
	esac
	fs_since | sed 's/^/# /'
	sed 's/^/# /' "$FS_ERR"
	return 1
}

# lines since the last fs_start
fs_run_log() { tail -n +"$((FS_START + 1))" "$FS_OUT"; }

fs_stop() {	# SHUTDOWN, wait for the exit; sets FS_EXIT
	fs_run_log | grep -q '^exit ' || fs send control shutdown
	fs_until 5 'fs_run_log | grep -q "^exit "'
	FS_EXIT=$(fs_run_log | grep '^exit ' | head -1)
	fs_close
}

# End of input: fakesup shuts the worker down (SIGKILL after 5 s) and
# exits.
fs_close() {
	[ -n "$FS_FD" ] && exec {FS_FD}>&-
	FS_FD=
	if [ -n "$FS_PID" ]; then
		fs_until 7 '! kill -0 $FS_PID 2>/dev/null' ||
			kill -9 "$FS_PID" 2>/dev/null
		wait "$FS_PID" 2>/dev/null
	fi
	FS_PID=
}

# Log lines the worker sent, as JSON (one per line).
fs_logs() { sed -n 's/^log //p' "$FS_OUT"; }
