#!/usr/bin/env bash
# The rpc worker, started as the supervisor starts it (fd 3, ConfigPush),
# answering an independent gRPC implementation (python3-grpcio) without
# TLS: the answer is the pushed view, UNAVAILABLE when there is none, it
# is stale or the database is down; hostile requests get their status
# and the server keeps serving; inquiries are logged, rate-limited;
# SHUTDOWN ends it at once.
. "$(dirname "$0")/../lib/tap.sh"
. "$TOP/tests/helpers/rpc_lib.sh"

rpc_setup
RPC_WATCHDOG=2 rpc_conf "$RPC_TMP/conf.yml" "$RPC_PORT"
fs_start rpc "$RPC_TMP/conf.yml" || bail "rpc worker did not say hello"
like "$(fs_logs | grep serving)" "port $RPC_PORT \\(insecure\\).*up to 7000 ms" \
    "serves on the configured port; a view lives 3 watchDog + 1 deadline"

# --- answers from the view ---
like "$(rpc_call)" "^code=UNAVAILABLE n=1 details=no local view yet" \
    "no view yet: UNAVAILABLE, saying why"

rpc_view
want='{"ip": "127.0.0.1", "master": ["127.0.0.1"], "nodeId": 1, "nodeName": "node_1", "observation": {"inRecovery": false, "timeline": 3}, "slaves": ["127.0.0.2", "127.0.0.3"], "witness": "127.0.0.4"}'
is "$(rpc_call)" "code=OK n=1 answer=$want" \
    "answers the view: master = primaries, slaves = standbys, observation"

fs send view "id=2 name=node_2 ip=127.0.0.2 primaries=127.0.0.1" \
    "standbys=127.0.0.2 recovery=1 timeline=7"
like "$(rpc_call)" '"nodeId": 2, "nodeName": "node_2", "observation": \{"inRecovery": true, "timeline": 7\}.*"witness": ""' \
    "a newer view replaces the old one at once (standby, no witness)"

rpc_view "db_error=could not connect to server: Connection refused"
is "$(rpc_call)" "code=UNAVAILABLE n=1 details=local database unreachable: could not connect to server: Connection refused" \
    "database down in the view: UNAVAILABLE with the database's error"
like "$(fs_logs | grep 'database unreachable')" '"level":"warning"' \
    "the worker logs that peers now get UNAVAILABLE"
rpc_view
like "$(rpc_call)" "^code=OK" "database back: answers again"
like "$(fs_logs | grep 'reachable again')" 'answering peers' \
    "and logs it"

rpc_view age_ms=7500
like "$(rpc_call)" "^code=UNAVAILABLE n=1 details=local view is stale: collected [0-9]+ ms ago, answered only up to 7000 ms" \
    "a view collected too long ago: UNAVAILABLE"
# freshness is judged per request, not when the view arrives
rpc_view age_ms=3000
like "$(rpc_call)" "^code=OK" "a view 3 s old is still answered"
ok "wait_for 6 'rpc_call | grep -q \"^code=UNAVAILABLE.*stale\"'" \
    "the same view turns stale while nobody refreshes it"
rpc_view
fs refresh 200

# --- hostile or mistaken callers ---
like "$(rpc_call --raw ffffffff)" "^code=INVALID_ARGUMENT n=1 details=request of 4 bytes is not a models.WhatYouKnow" \
    "garbage bytes: INVALID_ARGUMENT"
like "$(rpc_call --raw 0a02c328)" "^code=INVALID_ARGUMENT n=1 details=models.WhatYouKnow.ip is not valid UTF-8" \
    "a string that is not UTF-8: INVALID_ARGUMENT"
like "$(rpc_call --size 5000)" "^code=RESOURCE_EXHAUSTED n=1 details=.*larger than max \\(50[0-9][0-9] vs. 4096\\)" \
    "a 5 kB request: RESOURCE_EXHAUSTED"
like "$(rpc_call --size 1000000)" "^code=RESOURCE_EXHAUSTED" \
    "a 1 MB request: RESOURCE_EXHAUSTED"
is "$(rpc_call --method /models.ClusterInfo/GetSecrets)" \
    "code=UNIMPLEMENTED n=1 details=harepd serves only /models.ClusterInfo/GetClusterInfo" \
    "another method: UNIMPLEMENTED"
like "$(rpc_call --method /grpc.health.v1.Health/Check --raw '')" "^code=UNIMPLEMENTED" \
    "another service: UNIMPLEMENTED"
like "$(rpc_call --raw '')" '^code=OK n=1 bytes=0a093132372e302e302e31' \
    "an empty WhatYouKnow (all defaults) is a valid question"
like "$(rpc_call --timeout 0.000001)" "^code=DEADLINE_EXCEEDED" \
    "a deadline already past: DEADLINE_EXCEEDED"
like "$(rpc_call --timeout 0.5 --count 20)" "^code=OK n=20 " \
    "answers well within a 500 ms deadline"

# a peer that opens TCP and never speaks holds nothing up
exec {silent}<>/dev/tcp/127.0.0.1/$RPC_PORT
like "$(rpc_call --timeout 1)" "^code=OK" "a silent TCP client blocks nobody"
exec {silent}>&-

# a stopped server: the caller's deadline, not the core's 20 s, ends it
kill -STOP "$FS_WORKER"
out=$(rpc_call --timeout 0.5 --time)
kill -CONT "$FS_WORKER"
like "$out" "^code=DEADLINE_EXCEEDED" "stopped worker: DEADLINE_EXCEEDED"
ms=$(echo "$out" | sed -n 's/^elapsed_ms=//p')
# the core's own connect timeout is 20 s: the caller's deadline must win
ok "[ $ms -ge 490 ] && [ $ms -lt 1500 ]" "at the 500 ms deadline ($ms ms)"
like "$(rpc_call)" "^code=OK" "after all of that the server still answers"

# --- the inquiry log ---
sleep 1.1	# a fresh one-second window of the log limiter
rpc_call --node-name node_7 --node-id 7 --ip 127.0.0.7 >/dev/null
wait_for 3 'fs_logs | grep -q node_7'
line=$(fs_logs | grep '"nodeName":"node_7"' | head -1)
like "$line" '"msg":"inquiry from ipv4:127\.0\.0\.1:[0-9]+: ip 127\.0\.0\.7, nodeId 7, nodeName node_7".*"peer":"ipv4:127\.0\.0\.1:[0-9]+","ip":"127\.0\.0\.7","nodeId":"7","nodeName":"node_7","status":"OK"' \
    "an inquiry is logged with the peer's address and the WhatYouKnow fields"
like "$(rpc_call --size 3000)" "^code=OK" "a 3000-byte nodeName is a valid question"
wait_for 3 'fs_logs | grep -q nnnnnnnnnn'
name=$(fs_logs | grep -m1 nnnnnnnnnn | sed 's/.*"nodeName":"\(n*\)".*/\1/')
is "${#name}" 79 "but the log line carries only its first 79 bytes"
like "$(fs_logs | grep 'GetSecrets')" '"method":"/models.ClusterInfo/GetSecrets","status":"UNIMPLEMENTED"' \
    "a call of another method is logged"

sleep 1.1	# a fresh one-second window
mark=$(fs_logs | wc -l)
flood_logs() { fs_logs | tail -n +$((mark + 1)); }
like "$(rpc_call --count 500)" "^code=OK n=500 " "500 inquiries in a row are answered"
logged=$(flood_logs | grep -c '"msg":"inquiry from')
suppressed() { flood_logs | sed -n 's/.*suppressed \([0-9]*\) inquiry.*/\1/p' |
	awk '{s += $1} END {print s + 0}'; }
# the last window's summary comes from the worker's timer
wait_for 3 '[ $((logged + $(suppressed))) -ge 500 ]'
ok "[ $((logged + $(suppressed))) -ge 500 ]" \
    "every inquiry is counted: $logged logged + $(suppressed) suppressed"
secs=$(flood_logs | grep -c 'suppressed [0-9]* inquiry')
ok "[ $logged -le $(( (secs + 1) * 10 )) ]" \
    "at most 10 lines a second: $logged logged line by line, $secs summaries"
# --- control and reload ---
fs send control pause
like "$(rpc_call)" "^code=OK" "stop-client (PAUSE) leaves the server answering"
fs send control resume
RPC_WATCHDOG=5 rpc_conf "$RPC_TMP/conf.yml" "$((RPC_PORT + 1))"
fs push-config
ok "wait_for 3 'fs_logs | grep -q \"bindPort or TLS changed\"'" \
    "reload with another port: logged as needing a restart"
like "$(fs_logs | grep 'configuration reloaded')" "up to 16000 ms old" \
    "the view's age limit follows the new watchDog at once"
like "$(rpc_call)" "^code=OK" "and the server still answers on the old port"
echo "harepd: { gRPC: { bindPort: not-a-port" >"$RPC_TMP/conf.yml"
fs push-config
ok "wait_for 3 'fs_logs | grep -q \"does not load: keeping the running one\"'" \
    "a reloaded configuration that does not load is refused, and logged"
like "$(rpc_call)" "^code=OK" "the worker goes on with the running one"

# --- no file of its own ---
files=$(for fd in /proc/$FS_WORKER/fd/*; do
	n=${fd##*/}; [ "$n" -le 2 ] && continue
	t=$(readlink "$fd"); case $t in socket:*|pipe:*|anon_inode:*|/dev/null) ;; *) echo "$n=$t";; esac
done)
is "$files" "" "beyond stdio the worker holds only sockets, pipes, event fds, /dev/null"

# --- shutdown, under load ---
rpc_call --count 3000 --timeout 2 >"$RPC_TMP/load.out" &
load=$!
sleep 0.5
fs_stop
like "$FS_EXIT" "^exit status=0 signal=0 shutdown_ms=[0-9]+$" "SHUTDOWN under load: exit status 0"
ms=$(echo "$FS_EXIT" | sed 's/.*shutdown_ms=//')
ok "[ $ms -lt 1000 ]" "and in less than a second ($ms ms)"
wait $load
like "$(fs_logs | tail -1)" '"msg":"stopped"' "its last words reach the supervisor"

# --- IPv6 ---
if (exec 3<>/dev/tcp/::1/1) 2>&1 | grep -q "refused"; then
	RPC_BIND=::1 rpc_conf "$RPC_TMP/conf6.yml" "$RPC_PORT"
	if fs_start rpc "$RPC_TMP/conf6.yml"; then
		rpc_view
		like "$(rpc_call --target "[::1]:$RPC_PORT")" "^code=OK" \
		    "bindAddress ::1 serves on [::1]"
		fs_stop
	else
		ok false "bindAddress ::1 serves on [::1]"
	fi
else
	diag "no IPv6 loopback here"
fi
done_testing
