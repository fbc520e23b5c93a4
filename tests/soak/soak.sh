#!/usr/bin/env bash
# `make soak` (SOAK_KILLS, default 10000) and `make soak-short` (300, in
# `make check`): the real harepd supervisor and its three workers against
# a real PostgreSQL 15 and a fake gRPC neighbour, while
#   - tests/soak/soak.py kills a random running worker with SIGKILL,
#     SOAK_KILLS times, flipping the neighbour's answer (rw allow / rw
#     deny) every 8 s and checking after every kill (see soak.py);
#   - bench/rpc_load keeps 16 GetClusterInfo calls in flight on the rpc
#     worker (each call waits for the channel to be ready: the worker
#     keeps dying).
# The binary is built with -DHAREPD_SOAK (build-soak/): restart backoff
# at most 200 ms, reset after 1 s up, instead of 30 s and 1 min, or ten
# thousand kills would take days. Everything else is the production code.
# Prints the counts; TAP, one line per invariant.
. "$(dirname "$0")/../lib/tap.sh"
. "$TOP/tests/helpers/sup_lib.sh"
. "$TOP/tests/lib/pg.sh"
[ "$(id -u)" -eq 0 ] || skip_all "needs root to run PostgreSQL and drop privileges"
command -v protoc >/dev/null || skip_all "protoc missing (make deps)"
/usr/bin/python3 -c "import grpc" 2>/dev/null || skip_all "python3-grpcio missing (make deps)"
KILLS=${SOAK_KILLS:-10000}
LEASE_MS=3000
RPC_LOAD=$HAREPD_BUILD/bench/rpc_load
[ -x "$RPC_LOAD" ] || bail "$RPC_LOAD missing (make soak builds it)"

sup_init
sup_pg_cluster
PEER= LOAD=
trap 'kill $PEER 2>/dev/null; [ -n "$LOAD" ] && kill -- -$LOAD 2>/dev/null; sup_cleanup' EXIT

protoc --python_out="$SUP_DIR" -I "$TOP/proto" "$TOP/proto/messaging.proto" ||
	bail "protoc --python_out failed"
PEER_PORT=$(sup_free_port)
echo '{"ip": "127.0.0.2", "nodeId": 2, "nodeName": "node_2", "master": ["127.0.0.1"], "slaves": ["127.0.0.2"]}' \
	>"$SUP_DIR/agree.json"
echo '{"ip": "127.0.0.2", "nodeId": 2, "nodeName": "node_2", "master": ["127.0.0.2"], "slaves": ["127.0.0.1"]}' \
	>"$SUP_DIR/disagree.json"
cp "$SUP_DIR/agree.json" "$SUP_DIR/answer.json"
/usr/bin/python3 "$TOP/tests/helpers/sup_peer.py" serve "$SUP_DIR" "$PEER_PORT" \
    "$SUP_DIR/answer.json" >"$SUP_DIR/peer.log" 2>&1 &
PEER=$!
wait_for 10 'grep -q listening "$SUP_DIR/peer.log"' || bail "fake peer did not start"

SUP_NEIGHBOURS=127.0.0.1:$PEER_PORT SUP_WATCHDOG=1 \
	sup_config "policy: seed" "leaseMs: $LEASE_MS"
# the only two complete files: what harepd writes for each verdict
"$HAREPD" -f "$SUP_CONF" --print-hba rw=allow >"$SUP_DIR/allow.conf" 2>/dev/null &&
"$HAREPD" -f "$SUP_CONF" --print-hba rw=deny >"$SUP_DIR/deny.conf" 2>/dev/null ||
	bail "--print-hba failed"
ok '! cmp -s "$SUP_DIR/allow.conf" "$SUP_DIR/deny.conf"' "the allow and deny files differ"

sup_start
sup_require_running rpc probe hba
ok 'wait_for 15 "cmp -s \"$SUP_HBA\" \"$SUP_DIR/allow.conf\""' "before: pg_hba.conf is the allow file"

# gRPC load, c=16, in 10 s rounds (rpc_load reports when a round ends)
setsid bash -c 'while :; do "$0" -r -d 10 -c 16 -t 4 "$1"; done' \
	"$RPC_LOAD" "127.0.0.1:$SUP_PORT" >"$SUP_DIR/load.out" 2>&1 &
LOAD=$!

args=$(python3 -c 'import json,sys; a=sys.argv; print(json.dumps({
	"sup_pid": int(a[1]), "sock": a[2], "hba": a[3], "allow": a[4],
	"deny": a[5], "answer": a[6], "agree": a[7], "disagree": a[8],
	"kills": int(a[9]), "lease_s": int(a[10]) / 1000,
	"psql": ["runuser", "-u", "postgres", "--", "psql", "-h", a[11],
		 "-p", a[12], "-d", "postgres", "-X"]}))' \
	"$SUP_PID" "$SUP_SOCK" "$SUP_HBA" "$SUP_DIR/allow.conf" \
	"$SUP_DIR/deny.conf" "$SUP_DIR/answer.json" "$SUP_DIR/agree.json" \
	"$SUP_DIR/disagree.json" "$KILLS" "$LEASE_MS" "$PG_TMP" "$PGPORT")
start=$SECONDS
/usr/bin/python3 "$TOP/tests/soak/soak.py" "$args" >"$SUP_DIR/summary.json" \
	2> >(tee "$SUP_DIR/soak.err" | sed 's/^/# /' >&2)
wall=$((SECONDS - start))
kill -- -"$LOAD" 2>/dev/null; LOAD=

sum() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' \
	"$SUP_DIR/summary.json" "$1"; }
[ -s "$SUP_DIR/summary.json" ] || bail "soak.py gave no summary"
grpc_ok=$(awk '$1 == 16 { n += $2 } END { print n + 0 }' "$SUP_DIR/load.out")
grpc_err=$(awk '$1 == 16 { n += $7 } END { print n + 0 }' "$SUP_DIR/load.out")
diag "soak: $(sum 'sum(d["kills"].values())') kills in ${wall} s" \
	"(rpc $(sum 'd["kills"]["rpc"]'), probe $(sum 'd["kills"]["probe"]')," \
	"hba $(sum 'd["kills"]["hba"]'))"
v_allow=$(grep -c '"msg":"verdict [0-9]*: rw allow' "$SUP_LOG")
v_deny=$(grep -c '"msg":"verdict [0-9]*: rw deny' "$SUP_LOG")
fences=$(grep -c 'no fresh verdict within the lease' "$SUP_LOG")
diag "  neighbour flips $(sum 'd["phases"]'); verdicts decided (harepd's log): rw allow $v_allow," \
	"rw deny $v_deny; hba fences on lease expiry $fences"
diag "  verdicts seen in status after a kill $(sum 'd["verdicts_seen"]')" \
	"(rw allow $(sum 'd["verdict_allow"]'), deny $(sum 'd["verdict_deny"]'))"
diag "  pg_hba.conf after a kill: allow $(sum 'd["file_allow"]'), deny $(sum 'd["file_deny"]')"
diag "  gRPC requests answered $grpc_ok, failed $grpc_err (c=16, in 10 s rounds)"
diag "  checks $(sum 'd["checks"]'), status calls $(sum 'd["status_calls"]')," \
	"PostgreSQL parses $(sum 'd["pg_parses"]'), lease checks $(sum 'd["lease_checks"]')," \
	"failures $(sum 'd["failures"]')"
diag "  supervisor restarts seen in status: $(sup_status '[w[r]["restarts"] for r in ("rpc", "probe", "hba")]')"

is "$(sum 'sum(d["kills"].values())')" "$KILLS" "$KILLS workers killed with SIGKILL"
ok '[ "$(sum "min(d[\"kills\"].values())")" -gt 0 ]' "every role was killed"
is "$(sum 'd["fail"]["supervisor_dead"]')" 0 "the supervisor never died"
is "$(sum 'd["fail"]["status_failed"]')" 0 "it answered status after every kill"
is "$(sum 'd["fail"]["torn"] + d["fail"]["missing"]')" 0 \
	"pg_hba.conf was always the whole allow or the whole deny file"
is "$(sum 'd["fail"]["unparsed"]')" 0 "PostgreSQL always parsed it"
is "$(sum 'd["fail"]["temp_left"]')" 0 "no temp file was left behind"
is "$(sum 'd["fail"]["allow_after_deny"]')" 0 \
	"never rw allow on disk once a deny had been due for a lease ($(sum 'd["lease_checks"]') checks with hba up)"
ok '[ "$(sum "d[\"lease_checks\"]")" -gt 0 ]' "that was checked with an hba worker up"
ok '[ "$v_allow" -gt 0 ] && [ "$v_deny" -gt 0 ]' \
	"verdicts alternated (both allow and deny were decided)"
ok '[ "$(sum "d[\"file_allow\"]")" -gt 0 ] && [ "$(sum "d[\"file_deny\"]")" -gt 0 ]' \
	"pg_hba.conf alternated too"
ok '[ "$grpc_ok" -gt 0 ]' "the rpc worker answered gRPC load meanwhile ($grpc_ok)"
ok 'sup_alive $SUP_PID && sup_ctl status >/dev/null' "harepd runs and answers at the end"
sup_no_sanitizer_reports
done_testing
