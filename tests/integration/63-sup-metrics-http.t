#!/usr/bin/env bash
# metrics.listen (docs/METRICS.md): the real supervisor starts a "metrics"
# worker that serves `harepdctl metrics` on GET /metrics, which Debian's
# python3-prometheus-client parses. It runs as nobody, without
# capabilities, not dumpable, with a clean environment; its values follow
# the verdict; other paths get 404, other methods 405, a request that
# never ends 408, a huge head 431; 20 clients that send half a request and
# stall keep neither scrapes nor verdicts waiting; a killed worker comes
# back on the same port. Real workers, a real PostgreSQL 15.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../helpers/sup_lib.sh"
. "$(dirname "$0")/../lib/pg.sh"
[ "$(id -u)" -eq 0 ] || skip_all "needs root to run PostgreSQL and drop privileges"
command -v protoc >/dev/null || skip_all "protoc missing (make deps)"
/usr/bin/python3 -c "import grpc" 2>/dev/null || skip_all "python3-grpcio missing (make deps)"
/usr/bin/python3 -c "import prometheus_client" 2>/dev/null ||
	skip_all "python3-prometheus-client missing (make deps)"

STALL_S=8
sup_init
sup_pg_cluster
PEER= STALL=
trap 'kill $PEER $STALL 2>/dev/null; sup_cleanup' EXIT

protoc --python_out="$SUP_DIR" -I "$TOP/proto" "$TOP/proto/messaging.proto" ||
	bail "protoc --python_out failed"
PEER_PORT=$(sup_free_port)
agree='{"ip": "127.0.0.2", "nodeId": 2, "nodeName": "node_2", "master": ["127.0.0.1"], "slaves": ["127.0.0.2"]}'
disagree='{"ip": "127.0.0.2", "nodeId": 2, "nodeName": "node_2", "master": ["127.0.0.2"], "slaves": ["127.0.0.1"]}'
echo "$agree" >"$SUP_DIR/answer.json"
/usr/bin/python3 "$TOP/tests/helpers/sup_peer.py" serve "$SUP_DIR" "$PEER_PORT" \
    "$SUP_DIR/answer.json" >"$SUP_DIR/peer.log" 2>&1 &
PEER=$!
wait_for 10 'grep -q listening "$SUP_DIR/peer.log"' || bail "fake peer did not start"

MPORT=$(sup_free_port) || bail "no free port"
URL=http://127.0.0.1:$MPORT/metrics
SUP_NEIGHBOURS=127.0.0.1:$PEER_PORT SUP_WATCHDOG=1 \
	sup_config "policy: seed" "leaseMs: 3000" "metrics:" "  listen: \"127.0.0.1:$MPORT\""
HAREPD_TEST_SECRET=s3cret sup_start
sup_require_running rpc probe hba metrics

scrape() { /usr/bin/python3 "$TOP/tests/helpers/http_scrape.py" "$@"; }
metric() { scrape metric "$URL" "$@" 2>&1; }
hba_rw() { metric harepd_hba_allow "{'access': 'rw'}"; }
restarts() { metric harepd_worker_restarts_total "{'worker': 'metrics'}"; }
raw() { scrape raw 127.0.0.1 "$MPORT" "$1"; }

# ---- the worker: who it is ----
pid=$(sup_worker_pid metrics)
ok '[ -n "$pid" ]' "a metrics worker runs (pid ${pid:-none})"
is "$(proc_field "$pid" Uid | tr -s '\t ' ' ')" "65534 65534 65534 65534" "it runs as nobody (real, effective, saved, fs uid)"
is "$(proc_field "$pid" CapEff)" "0000000000000000" "without capabilities"
is "$(proc_field "$pid" NoNewPrivs)" 1 "with no_new_privs"
is "$(stat -c %U "/proc/$pid/environ")" root "not dumpable (its /proc files belong to root)"
ok '! tr "\0" "\n" <"/proc/$pid/environ" | grep -q HAREPD_TEST_SECRET' \
	"its environment is built from nothing (no variable of the supervisor's)"
like "$(ss -ltnpH "sport = :$MPORT")" "pid=$pid," "the worker itself holds the listening socket"

# ---- what it serves ----
IFS='|' read -r code ctype _ <<<"$(scrape get "$URL" 2>"$SUP_DIR/body")"
is "$code" 200 "GET /metrics: 200"
is "$ctype" "application/openmetrics-text; version=1.0.0; charset=utf-8" \
	"Content-Type is OpenMetrics 1.0"
is "$(tail -1 "$SUP_DIR/body")" "# EOF" "the body ends with # EOF"
scrape families "$URL" >"$SUP_DIR/fam.http" 2>&1
sup_ctl metrics | /usr/bin/python3 -c '
import sys
from prometheus_client.openmetrics.parser import text_string_to_metric_families
for n in sorted(f.name for f in text_string_to_metric_families(sys.stdin.read())): print(n)' \
	>"$SUP_DIR/fam.ctl" 2>&1
ok '[ "$(wc -l <"$SUP_DIR/fam.http")" -gt 20 ]' \
	"the OpenMetrics parser reads it ($(wc -l <"$SUP_DIR/fam.http") families)"
ok 'diff "$SUP_DIR/fam.ctl" "$SUP_DIR/fam.http" >&2' "the same families as harepdctl metrics"
is "$(metric harepd_up)" 1 "harepd_up 1"
is "$(metric harepd_worker_up "{'worker': 'metrics'}")" 1 "harepd_worker_up{worker=metrics} 1"
like "$(scrape get "$URL" HEAD 2>&1)" "^200\|application/openmetrics-text.*\|0\|" "HEAD /metrics: 200 without a body"

ok 'wait_for 15 "[ \"\$(metric harepd_verdict_rw_allow)\" = 1 ]"' "agreeing neighbour: verdict rw 1 over HTTP"
ok 'wait_for 10 "[ \"\$(hba_rw)\" = 1 ]"' "pg_hba rw allow 1 over HTTP"
s1=$(metric harepd_verdict_sequence); v1=$(metric harepd_verdicts_total)
echo "$disagree" >"$SUP_DIR/answer.json"
ok 'wait_for 15 "[ \"\$(metric harepd_verdict_rw_allow)\" = 0 ]"' "neighbour disagrees: verdict rw 1 -> 0 over HTTP"
ok 'wait_for 10 "[ \"\$(hba_rw)\" = 0 ]"' "pg_hba rw allow 1 -> 0 over HTTP"
ok '[ "$(metric harepd_verdict_sequence)" -gt "$s1" ]' "verdict sequence grew ($s1 -> $(metric harepd_verdict_sequence))"
ok '[ "$(metric harepd_verdicts_total)" -gt "$v1" ]' "verdicts_total grew"
u1=$(metric harepd_uptime_seconds); sleep 1.5
ok '/usr/bin/python3 -c "import sys; sys.exit(not float(sys.argv[2]) > float(sys.argv[1]))" "$u1" "$(metric harepd_uptime_seconds)"' \
	"the page is rendered again as time passes (uptime $u1 -> $(metric harepd_uptime_seconds))"

# ---- what it refuses ----
like "$(scrape get "http://127.0.0.1:$MPORT/" 2>&1)" "^404\\|" "GET /: 404"
like "$(scrape get "http://127.0.0.1:$MPORT/metricsx" 2>&1)" "^404\\|" "GET /metricsx: 404"
like "$(scrape get "$URL?x=1" 2>&1)" "^200\\|" "GET /metrics?x=1: 200 (the query is ignored)"
like "$(scrape get "$URL" POST 2>&1)" "^405\\|" "POST /metrics: 405"
like "$(scrape get "$URL" DELETE 2>&1)" "^405\\|" "DELETE /metrics: 405"
like "$(raw 'b"GET /metrics HTTP/1.1\r\nX: " + b"a" * 9000 + b"\r\n\r\n"')" "^HTTP/1.1 431 " \
	"a head over 8 KiB: 431"
like "$(raw 'b"GET /metrics HTTP/2.0\r\n\r\n"')" "^HTTP/1.1 505 " "HTTP/2.0 in a request line: 505"
like "$(raw 'b"GET\x00 /metrics HTTP/1.1\r\n\r\n"')" "^HTTP/1.1 400 " "a NUL byte: 400"
out=$(raw 'b"GET /metrics HTTP/1.1\r\nHost: x\r\n"')
like "$out" "^HTTP/1.1 408 " "a request that never ends: 408 ($out s)"
ok '[ "${out##* }" \< 3.5 ]' "... within the 2 s request deadline (${out##* } s)"

# ---- clients that stall ----
fds0=$(ls "/proc/$pid/fd" | wc -l)
seq0=$(sup_status 'd["verdict"]["seq"]')
runuser -u nobody -- /usr/bin/python3 "$TOP/tests/helpers/http_scrape.py" stall \
	127.0.0.1 "$MPORT" 20 "$STALL_S" >"$SUP_DIR/stall.out" 2>&1 &
STALL=$!
sleep 1
slow=0 failed=0 samples=0 maxfds=0
end=$((SECONDS + STALL_S - 2))
while [ $SECONDS -lt $end ]; do
	IFS='|' read -r code _ _ ms <<<"$(scrape get "$URL" 2>/dev/null)"
	[ "${code:-0}" = 200 ] || failed=$((failed + 1))
	[ "${ms:-9999}" -lt 1000 ] || slow=$((slow + 1))
	n=$(ls "/proc/$pid/fd" | wc -l)
	[ "$n" -gt "$maxfds" ] && maxfds=$n
	samples=$((samples + 1))
	sleep 0.3
done
seq1=$(sup_status 'd["verdict"]["seq"]')
wait $STALL 2>/dev/null
STALL=
is "$failed" 0 "while 20 clients stalled half-way, every scrape got 200 ($samples scrapes)"
is "$slow" 0 "... each within 1 s"
ok '[ "${seq1:-0}" -ge $((seq0 + STALL_S - 4)) ]' \
	"verdicts kept flowing (seq $seq0 -> $seq1, watchDog 1 s)"
ok '[ "${seq1:-0}" -le $((seq0 + 3 * STALL_S)) ]' \
	"... at the watchDog's pace, not faster (seq $seq0 -> $seq1)"
ok '[ "$maxfds" -le $((fds0 + 16)) ]' \
	"the worker held at most 16 connections (fds $fds0 before, at most $maxfds)"
like "$(cat "$SUP_DIR/stall.out")" 'closed by harepd [1-9]' \
	"stalled connections were closed by the worker ($(cat "$SUP_DIR/stall.out"))"
like "$(grep -m1 '"http: ' "$SUP_LOG")" '"proc":"metrics"' "refusals are logged by the metrics worker"
logged=$(grep -c '"http: ' "$SUP_LOG")
ok '[ "$logged" -le $((5 + STALL_S + 20)) ]' "at a limited rate ($logged lines)"
is "$(sup_status '[w[r]["restarts"] for r in ("rpc", "probe", "hba", "metrics")]')" "[0, 0, 0, 0]" \
	"no worker was restarted"

# ---- restart and reload ----
kill -KILL "$pid"
ok 'wait_for 10 "sup_running metrics && [ \"\$(sup_worker_pid metrics)\" != $pid ]"' \
	"a killed metrics worker is started again"
ok 'wait_for 5 "[ \"\$(restarts)\" = 1 ]"' \
	"and serves again on the same port (restarts_total{worker=metrics} 1)"
sed -i "s/127.0.0.1:$MPORT/127.0.0.1:$((MPORT + 1))/" "$SUP_CONF"
sup_ctl reload >/dev/null
like "$(grep 'metrics.listen changed' "$SUP_LOG")" "restarted" "a reload that moves metrics.listen says a restart is needed"
is "$(metric harepd_up)" 1 "and the listener stays where it was"
ok 'sup_alive $SUP_PID' "harepd still runs"
sup_no_sanitizer_reports
done_testing
