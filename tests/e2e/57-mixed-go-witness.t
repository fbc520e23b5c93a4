#!/bin/bash
# e2e: a mixed cluster during a rolling migration. The witness answers
# as the Go harepd does (tests/interop/rpc_server.py --repmgr: the lists
# of its repmgr.nodes, fields 1-6 only, no observation, no gate), the data
# nodes run this harepd. Nothing the new protocol adds may be assumed of
# the Go peer: it cannot vouch for a silent node, has no stable-view age,
# and does not follow timelines, so after the primary's PostgreSQL
# crashes and the standby is promoted, the new primary gets writes only
# after the old one reports DENIED, and never two writers.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/lib/cluster.sh"

PY=/usr/bin/python3
"$PY" -c "import grpc" 2>/dev/null || bail "python3-grpc missing: make deps"
cl_suite_up n1 n2
PB=$CL_DIR/pb
mkdir -p "$PB"
protoc --python_out="$PB" -I "$TOP/proto" "$TOP/proto/messaging.proto" ||
	bail "protoc --python_out failed"

# ---- replace the witness's harepd by a Go-like server
cl_harepd_stop wt
mkfifo "$CL_DIR/go.in"
lists="runuser -u postgres -- $CL_PGBIN/psql -X -At -h $CL_DIR/wt -p $CL_PORT -U postgres -d repmgr -c \"SELECT type, active, split_part(split_part(conninfo, 'host=', 2), ' ', 1) FROM repmgr.nodes\""
( cd "$CL_DIR/wt" && exec ip netns exec "$(cl_ns wt)" "$PY" "$TOP/tests/interop/rpc_server.py" \
    --pb "$PB" --bind "$(cl_ip wt)" --port "$CL_GRPC_PORT" \
    --answer "{\"ip\": \"$(cl_ip wt)\", \"nodeId\": 99, \"nodeName\": \"wt\"}" \
    --repmgr "$lists" <"$CL_DIR/go.in" >"$CL_DIR/wt/harepd/go-server.out" 2>&1 ) &
# it runs until its stdin closes: this script holds the other end
exec {GO_IN}>"$CL_DIR/go.in"
ok 'wait_for 10 "grep -q ^port= $CL_DIR/wt/harepd/go-server.out"' "the Go-like witness server listens"
ok 'wait_for 15 "grep -q \"^request .*nodeName=n1\" $CL_DIR/wt/harepd/go-server.out"' "n1 asks it"
cl_monitor_start
dev=$(cl_hold 5 n1)
is "$dev" "" "with a Go witness: writes stay on n1"
like "$(cl_status n1 'd["verdict"]["reason"]')" '3 of 3 members agree' "n1 counts the Go witness's vote"

# ---- the primary's PostgreSQL crashes; promote n2
cl_pg_stop n1 immediate
ok 'wait_for 10 "cl_hba_denies n1 harw"' "n1 crashed: its harepd writes reject"
ok 'cl_promote n2' "repmgr standby promote on n2"
t_promoted=$(cl_now_ms)
ok 'cl_wait_writer n2 60' "writes reach n2"
cl_time mixed_go_promote_to_routed_ms $(( $(cl_now_ms) - t_promoted ))
reason=$(cl_status n2 'd["verdict"]["reason"]')
diag "n2 verdict: $reason"
dev=$(cl_hold 5 n2)
is "$dev" "" "writes stay on n2"

cl_monitor_stop "57-mixed-go-witness"
[ "$TAP_FAILED" -eq 0 ] || cl_dump
done_testing
