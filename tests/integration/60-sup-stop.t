#!/usr/bin/env bash
# Stopping: SIGTERM stops the workers in the safe order (probe, then hba,
# then rpc: stop deciding before stopping answering), exits 0, removes
# the control socket and leaves no process behind; a worker that does not
# obey SHUTDOWN is killed after a few seconds; `harepdctl stop` returns
# only when harepd is gone.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../helpers/sup_lib.sh"
[ "$(id -u)" -eq 0 ] || skip_all "needs root to drop privileges"

sup_init
sup_config

all_pids() { echo "$SUP_PID $(pgrep -P "$SUP_PID" | tr '\n' ' ')"; }
none_alive() { sup_none_alive "$@"; }
stop_order() {
	grep -o '"msg":"worker [a-z]* (pid [0-9]*) stopped' "$SUP_DIR/stderr.log" |
	    awk '{ printf "%s ", $2 }'
}

# 1. SIGTERM
sup_start
sup_require_running probe hba rpc
pids=$(all_pids)
kill -TERM "$SUP_PID"
wait_for 10 '! sup_alive $SUP_PID'
wait "$SUP_PID"; rc=$?
is "$rc" 0 "SIGTERM: harepd exits 0"
ok 'wait_for 2 "none_alive \"$pids\""' "SIGTERM: no process left ($pids)"
ok '[ ! -e "$SUP_SOCK" ]' "SIGTERM: control socket removed"
is "$(stop_order)" "probe hba rpc " "SIGTERM: workers stopped in the order probe, hba, rpc"
ok '! grep -q "did not stop in time" "$SUP_DIR/stderr.log"' "SIGTERM: every worker obeyed SHUTDOWN"

# 2. a worker that does not answer SHUTDOWN (stopped) is killed
mv "$SUP_DIR/stderr.log" "$SUP_DIR/stderr.$((++phase)).log"
sup_start
sup_require_running rpc hba
pids=$(all_pids)
kill -STOP "$(sup_worker_pid hba)"
t0=$(date +%s)
kill -TERM "$SUP_PID"
wait_for 10 '! sup_alive $SUP_PID'
t1=$(date +%s)
ok 'none_alive "$pids"' "a frozen worker: nothing left behind"
ok '[ $((t1 - t0)) -le 6 ]' "a frozen worker delays the stop by a few seconds only ($((t1 - t0)) s)"
like "$(grep -m1 'killing worker hba' "$SUP_DIR/stderr.log")" 'did not stop in time' \
	"the log says why hba was killed"

# 3. harepdctl stop waits for the end
mv "$SUP_DIR/stderr.log" "$SUP_DIR/stderr.$((++phase)).log"
sup_start
sup_require_running rpc
pids=$(all_pids)
out=$(sup_ctl stop); rc=$?
is "$rc" 0 "harepdctl stop exits 0"
is "$out" "stopping" "harepdctl stop says so"
ok 'none_alive "$pids"' "when harepdctl stop returns, harepd and its workers are gone"
sup_ctl status >/dev/null 2>&1; rc=$?
is "$rc" 3 "afterwards harepdctl status says: not running (3)"
sup_no_sanitizer_reports
done_testing
