#!/usr/bin/env bash
# Logs cannot fill the disk nor stall the supervisor (issue 13 item 4):
# a worker flooding Log messages gets its burst and then 20 a second, an
# error still passes, the rest is counted in one "suppressed N messages
# from <role>" line, and the supervisor keeps answering meanwhile. A log
# path that is a FIFO or a symlink (a log directory others can write to)
# neither hangs nor redirects the root supervisor, which says why.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../helpers/sup_lib.sh"
[ "$(id -u)" -eq 0 ] || skip_all "needs root to drop privileges"
FLOOD=$HAREPD_BUILD/tests/helpers/log_flood
[ -x "$FLOOD" ] || bail "$FLOOD missing: make tests-build"

sup_stop() {
	kill -TERM "$SUP_PID" 2>/dev/null
	wait_for 10 '! kill -0 $SUP_PID 2>/dev/null'
}

sup_init
sup_config
sup_start
sup_require_running hba
hba=$(sup_worker_pid hba)

# 1. 20000 info lines as fast as the channel takes them
"$FLOOD" "$hba" 20000 info one >"$SUP_DIR/flood.out" 2>&1 &
flood=$!
t0=${EPOCHREALTIME/./}
slowest=0
while kill -0 "$flood" 2>/dev/null; do
	s=${EPOCHREALTIME/./}
	sup_ctl status >/dev/null || break
	e=$(( (${EPOCHREALTIME/./} - s) / 1000 ))
	[ "$e" -gt "$slowest" ] && slowest=$e
done
wait "$flood"; rc=$?
secs=$(( (${EPOCHREALTIME/./} - t0) / 1000000 + 1 ))
is "$rc" 0 "the flood was sent (20000 lines in about $secs s)"
ok '[ "$slowest" -lt 500 ]' "harepdctl status answered within 500 ms during the flood (slowest $slowest ms)"
ok 'wait_for 5 "grep -q canary.one \"\$SUP_LOG\""' "the error after the flood is written"
n=$(grep -c '"msg":"flood one' "$SUP_LOG")
ok '[ "$n" -ge 100 ] && [ "$n" -le $((100 + 20 * secs + 20)) ]' \
	"at most the burst of 100 and 20 a second were written ($n in $secs s)"
like "$(grep -m1 '"msg":"suppressed' "$SUP_LOG")" \
	'"level":"warning","msg":"suppressed [0-9]+ messages from hba .*"proc":"harepd","worker":"hba","suppressed":"[0-9]+"' \
	"the left-out lines are counted, naming the worker"
said() { grep -o '"suppressed":"[0-9]*"' "$SUP_LOG" | tr -dc '0-9\n' | paste -sd+ | bc; }
# the last count is said within a second or two, with no further line
wait_for 3 "[ \$(said) -eq $((20000 - n)) ]"
is "$(said)" $((20000 - n)) "the counts add up ($n written, the rest of 20000 counted as suppressed)"
sup_running hba && is "$(sup_worker_pid hba)" "$hba" "the worker was not killed for it"
sup_stop

# 2. logs.filePath is a FIFO nobody reads: open(2) would block for ever
SUP_LOG=$SUP_DIR/fifo.log
mkfifo "$SUP_LOG"
sup_config
sup_start	# bails if harepd does not answer within 10 s
ok 'sup_running hba || wait_for 5 sup_running\ hba' "with a FIFO at filePath, harepd runs"
like "$(cat "$SUP_DIR/stderr.log")" "log file $SUP_LOG: is a FIFO or a device, not a regular file; logging to stderr only" \
	"and says why it writes to stderr only"
sup_stop

# 3. a symlink to a file root would not write: it is not followed
target=$SUP_DIR/shadow
echo 'root:*:1::::::' >"$target"
before=$(sha256sum <"$target")
SUP_LOG=$SUP_DIR/link.log
ln -s "$target" "$SUP_LOG"
: >"$SUP_DIR/stderr.log"
sup_config
sup_start
is "$(sha256sum <"$target")" "$before" "with a symlink at filePath, its target is untouched"
like "$(cat "$SUP_DIR/stderr.log")" "log file $SUP_LOG: is a symbolic link: refusing to follow it; logging to stderr only" \
	"and harepd says why"
sup_no_sanitizer_reports
done_testing
