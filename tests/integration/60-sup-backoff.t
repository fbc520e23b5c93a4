#!/usr/bin/env bash
# A crash loop backs off as specified: 100 ms, doubling, (to 30 s). The
# rpc worker is made to crash for real: its gRPC port is already taken,
# so it cannot bind and exits. Intervals are measured from the time each
# log line reached the test, not from what harepd claims: the gap between
# a worker's exit and the next start must match the announced backoff.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../helpers/sup_lib.sh"
[ "$(id -u)" -eq 0 ] || skip_all "needs root to drop privileges"

sup_init
sup_config
# hold the port: a plain listener without SO_REUSEPORT
python3 -c '
import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen()
time.sleep(60)' "$SUP_PORT" &
HOLDER=$!
trap 'kill $HOLDER 2>/dev/null; sup_cleanup' EXIT
wait_for 5 "(exec 3<>/dev/tcp/127.0.0.1/$SUP_PORT) 2>/dev/null" || bail "port holder did not start"

sup_start --server-only
sleep 6.5	# 100+200+400+800+1600 ms of backoff, and room for slow starts
restarts=$(sup_status 'w["rpc"]["restarts"]')
kill -TERM "$SUP_PID"
wait_for 10 '! sup_alive $SUP_PID'

# starts and exits of rpc, in order, with the test's receive time (us)
python3 - "$SUP_DIR/stderr.log" >"$SUP_DIR/events" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    ts, _, rest = line.partition(" ")
    try:
        j = json.loads(rest)
    except ValueError:
        continue
    if j.get("role") != "rpc":
        continue
    if j["msg"].startswith("started worker rpc"):
        print("start", ts, j["restarts"])
    elif "restarting in" in j["msg"]:
        print("exit", ts, j["backoff_ms"])
PY
starts=$(grep -c ^start "$SUP_DIR/events")
diag "rpc started $starts times in 6.5 s (status said $restarts restarts)"
ok '[ "$starts" -ge 6 ] && [ "$starts" -le 8 ]' \
	"6 to 8 starts in 6.5 s (the 7th needs 3.1 s + 3.2 s of backoff), not a tight loop"
is "$(awk '$1 == "exit" { printf "%s ", $3 }' "$SUP_DIR/events" | cut -d' ' -f1-5)" \
	"100 200 400 800 1600" "announced backoffs double from 100 ms"
# each gap exit -> next start, against the backoff announced at the exit
gaps=$(awk '$1 == "exit" { t = $2; b = $3 } $1 == "start" && t { printf "%d:%d ", ($2 - t) / 1000, b; t = 0 }' "$SUP_DIR/events")
diag "measured gap:announced backoff (ms): $gaps"
n=0; bad=0
for g in $gaps; do
	got=${g%:*}; want=${g#*:}; n=$((n + 1))
	# never early (a few ms of pipe slack), at most 500 ms late (load)
	if [ "$got" -lt $((want - 20)) ] || [ "$got" -gt $((want + 500)) ]; then
		bad=$((bad + 1)); diag "gap $got ms for a backoff of $want ms"
	fi
done
ok '[ "$n" -ge 4 ] && [ "$bad" -eq 0 ]' "every restart waited its backoff ($n gaps measured)"
ok '[ "$restarts" -ge 4 ]' "status counted the restarts ($restarts)"
like "$(grep 'worker rpc' "$SUP_DIR/stderr.log" | grep -m1 'exited with status')" \
	'exited with status 1' "the log says how the worker ended"
done_testing
