#!/usr/bin/env bash
# SHUTDOWN while calls are arriving, repeated at varied moments: calls
# in every state (requested, answering, just arrived after the server's
# shutdown tag) must be drained without tripping the core's assertions,
# and the worker must exit 0 in well under a second each time. SIGTERM
# likewise.
. "$(dirname "$0")/../lib/tap.sh"
. "$TOP/tests/helpers/rpc_lib.sh"

rpc_setup
RPC_CALL=$HAREPD_BUILD/tests/helpers/rpc_call
[ -x "$RPC_CALL" ] || bail "$RPC_CALL not built"
rpc_conf "$RPC_TMP/conf.yml" "$RPC_PORT"
ROUNDS=12
for i in $(seq $ROUNDS); do
	fs_start rpc "$RPC_TMP/conf.yml" || { ok false "round $i: worker started"; continue; }
	rpc_view
	# C core clients, 32 calls in flight: thousands of calls a second
	loads=()
	for c in 1 2; do
		"$RPC_CALL" -n 200000 -C 32 -d 2000 "127.0.0.1:$RPC_PORT" \
		    >"$RPC_TMP/load.$c" 2>&1 &
		loads+=($!)
	done
	wait_for 3 'fs_logs | grep -q "inquiry from"'
	sleep "0.$(( i * 37 % 10 ))"
	fs_stop
	like "$FS_EXIT" "^exit status=0 signal=0 " "round $i: exit status 0 under load"
	ms=${FS_EXIT##*shutdown_ms=}
	ok "[ $ms -lt 1000 ]" "round $i: stopped in $ms ms"
	wait "${loads[@]}"
	like "$(cat "$RPC_TMP/load.1")" "^status=OK count=[1-9]" "round $i: calls were answered before"
done
# SIGTERM (an operator, or PDEATHSIG when the supervisor dies) does the same
fs_start rpc "$RPC_TMP/conf.yml" || bail "worker did not start"
rpc_view
"$RPC_CALL" -n 200000 -C 32 -d 2000 "127.0.0.1:$RPC_PORT" >/dev/null 2>&1 &
load=$!
wait_for 3 'fs_logs | grep -q "inquiry from"'
t0=$(date +%s%N)
kill -TERM "$FS_WORKER"
wait_for 5 'grep -q "^exit " "$FS_OUT"'
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
like "$(grep '^exit ' "$FS_OUT")" "^exit status=0 signal=0 " \
    "SIGTERM under load: a clean exit, status 0"
ok "[ $ms -lt 1000 ]" "within a second ($ms ms)"
like "$(fs_logs | grep SIGTERM)" "shutting down" "and it says why it stopped"
wait $load
fs_stop
done_testing
