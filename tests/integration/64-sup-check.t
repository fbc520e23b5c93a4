#!/usr/bin/env bash
# `harepdctl check` against the real supervisor, workers and PostgreSQL,
# with a fake neighbour (tests/helpers/sup_peer.py) whose answer the test
# changes: each Nagios level is reached the way it happens in a cluster.
#   WARNING  hold-down (policy majority, a second neighbour silent and the
#            answering one's lists never stable long enough), peer
#            unreachable
#   OK       the neighbour agrees, its lists stable, rw allowed
#   CRITICAL the neighbour's gate allows rw too (policy seed, reloaded:
#            majority's handover would deny rw here instead); the lease
#            running out (probe stopped); a worker crash-looping (kill -9 x5)
#   UNKNOWN  harepd not running
# Exit status and the one line on stdout are checked each time.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../helpers/sup_lib.sh"
. "$(dirname "$0")/../lib/pg.sh"
[ "$(id -u)" -eq 0 ] || skip_all "needs root to run PostgreSQL and drop privileges"
command -v protoc >/dev/null || skip_all "protoc missing (make deps)"
/usr/bin/python3 -c "import grpc" 2>/dev/null || skip_all "python3-grpcio missing (make deps)"

sup_init
sup_pg_cluster
PEER=
PROBE_STOPPED=
trap '[ -n "$PROBE_STOPPED" ] && kill -CONT "$PROBE_STOPPED"; kill $PEER 2>/dev/null; sup_cleanup' EXIT

protoc --python_out="$SUP_DIR" -I "$TOP/proto" "$TOP/proto/messaging.proto" ||
	bail "protoc --python_out failed"
PEER_PORT=$(sup_free_port)
answer() {	# answer GATE_STATE VIEW_STABLE_MS: agreeing lists, that gate
	printf '{"ip": "127.0.0.2", "nodeId": 2, "nodeName": "node_2", "master": ["127.0.0.1"], "slaves": ["127.0.0.2"], "gate": {"state": "%s", "leaseMs": 3000, "deadlineMs": 1000, "members": 2, "viewStableMs": %s}}\n' \
	    "$1" "$2" >"$SUP_DIR/answer.json"
}
start_peer() {
	/usr/bin/python3 "$TOP/tests/helpers/sup_peer.py" serve "$SUP_DIR" "$PEER_PORT" \
	    "$SUP_DIR/answer.json" >"$SUP_DIR/peer.log" 2>&1 &
	PEER=$!
	wait_for 30 'grep -q listening "$SUP_DIR/peer.log"' ||
		{ cat "$SUP_DIR/peer.log" >&2; bail "fake peer did not start"; }
}
answer DENIED 0
start_peer

SILENT_PORT=$(sup_free_port)	# nobody listens: a silent data node
SUP_NEIGHBOURS=127.0.0.1:$PEER_PORT,127.0.0.1:$SILENT_PORT
SUP_WATCHDOG=1
sup_config "leaseMs: 3000"
sup_start
sup_require_running rpc probe hba

# check: exit status in $rc, the line in $line (as nobody: read-only)
check() {
	rc=0
	line=$(runuser -u nobody -- "$HAREPDCTL" -s "$SUP_SOCK" check 2>/dev/null) || rc=$?
}
# until_check RC REGEX TIMEOUT: check until both match
until_check() {
	local end=$((SECONDS + $3))
	while :; do
		check
		[ "$rc" = "$1" ] && [[ "$line" =~ $2 ]] && return 0
		[ $SECONDS -ge $end ] && { diag "last: $rc $line"
			diag "reason: $(sup_status 'd["verdict"]["reason"]' 2>&1)"
			return 1; }
		sleep 0.1
	done
}
one_line() { ok '[ "$(printf "%s\n" "$line" | wc -l)" -eq 1 ]' "$1: one line"; }

ok 'until_check 1 "^HAREPD WARNING - .*in hold-down \(hold-down: " 10' \
	"policy majority, a neighbour silent: WARNING, in hold-down"
one_line "hold-down"
answer DENIED 600000
SUP_NEIGHBOURS=127.0.0.1:$PEER_PORT
sup_config "leaseMs: 3000"
sup_ctl reload >/dev/null || bail "reload failed"
ok 'until_check 0 "^HAREPD OK - pg_hba rw allow, verdict #[0-9]+ rw allow ro deny, 1 of 1 peers answered \| peers_answered=1;;;0;1 lease_remaining=" 15' \
	"the neighbour agrees, rw allowed: OK with perfdata"
one_line "OK"

sup_config "leaseMs: 3000" "policy: seed"
sup_ctl reload >/dev/null || bail "reload failed"
answer ALLOWED 600000
ok 'until_check 2 "^HAREPD CRITICAL - this node allows rw but peer 127.0.0.1:'"$PEER_PORT"' reports another writer: its gate allows rw" 10' \
	"the neighbour's gate allows rw too: CRITICAL"
one_line "two writers"
answer DENIED 600000
ok 'until_check 0 "^HAREPD OK - pg_hba rw allow" 15' "the neighbour denies again: OK"

kill "$PEER"; wait "$PEER" 2>/dev/null; PEER=
ok 'until_check 1 "^HAREPD WARNING - peer 127.0.0.1:'"$PEER_PORT"' unreachable \(" 10' \
	"the neighbour gone: WARNING, peer unreachable"
one_line "unreachable"
start_peer
ok 'until_check 0 "^HAREPD OK - pg_hba rw allow" 20' "the neighbour back: OK"

# The probe stopped: no fresh verdict, the lease (3 s) runs down while
# rw is allowed; with less than one watchDog (1 s) left: CRITICAL.
PROBE_STOPPED=$(sup_worker_pid probe)
kill -STOP "$PROBE_STOPPED"
ok 'until_check 2 "^HAREPD CRITICAL - lease expiring: rw allowed for [0-9]+ ms more" 5' \
	"probe stopped: CRITICAL, lease expiring"
ok 'until_check 2 "pg_hba fenced" 5' "then the lease ran out: CRITICAL, fenced"
kill -CONT "$PROBE_STOPPED"; PROBE_STOPPED=
ok 'until_check 0 "^HAREPD OK - pg_hba rw allow" 20' "probe running again: OK"

# Five exits within the restart window (harepd.h): a crash loop.
for i in 1 2 3 4 5; do
	pid=
	wait_for 10 'pid=$(sup_worker_pid rpc)' || break
	kill -KILL "$pid"
	wait_for 10 '[ "$(sup_worker_pid rpc)" != "$pid" ]'
done
ok 'until_check 2 "^HAREPD CRITICAL - .*worker rpc crash-looping: [0-9]+ restarts, last: .*killed by signal 9" 10' \
	"rpc killed 5 times: CRITICAL, crash-looping"
one_line "crash loop"

sup_ctl stop >/dev/null
check
is "$rc" 3 "harepd stopped: exit 3"
like "$line" '^HAREPD UNKNOWN - harepd is not running \(' "harepd stopped: UNKNOWN on stdout"
rc=0; line=$("$HAREPDCTL" -s /nonexistent/harepd.sock check 2>/dev/null) || rc=$?
is "$rc:$(printf '%s\n' "$line" | wc -l)" "3:1" "no socket: UNKNOWN, one line"
sup_no_sanitizer_reports
done_testing
