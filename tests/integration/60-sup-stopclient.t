#!/usr/bin/env bash
# `harepdctl stop-client` (issue 6 item 8): from then on pg_hba.conf is
# left exactly as it is, whatever the cluster says and however long the
# lease, while GetClusterInfo keeps answering peers; `start-client` makes
# the held-back change. Real workers, a real PostgreSQL 15 with a
# repmgr.nodes table, and a fake neighbour whose answer the test changes.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../helpers/sup_lib.sh"
. "$(dirname "$0")/../lib/pg.sh"
[ "$(id -u)" -eq 0 ] || skip_all "needs root to run PostgreSQL and drop privileges"
command -v protoc >/dev/null || skip_all "protoc missing (make deps)"
/usr/bin/python3 -c "import grpc" 2>/dev/null || skip_all "python3-grpcio missing (make deps)"

sup_init
sup_pg_cluster
PEER=
trap 'kill $PEER 2>/dev/null; sup_cleanup' EXIT

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

SUP_NEIGHBOURS=127.0.0.1:$PEER_PORT SUP_WATCHDOG=1 \
	sup_config "policy: seed" "leaseMs: 3000"
"$HAREPD" -t -f "$SUP_CONF" >"$SUP_DIR/check.out" 2>&1 ||
	{ cat "$SUP_DIR/check.out" >&2; bail "config does not load"; }

# a root shell's libpq settings must not reach the workers (issue 13
# item 5): with PGSERVICE=evil the probe's libpq would fail to connect
PGHOST=/nonexistent PGSERVICE=evil PGSSLMODE=require HOME=/root sup_start
sup_require_running rpc probe hba
call() { /usr/bin/python3 "$TOP/tests/helpers/sup_peer.py" call "$SUP_DIR" "127.0.0.1:$SUP_PORT"; }
hba_rw() { sup_status '(d["pg_hba"] or {}).get("rw")'; }
file_id() { stat -c '%i %Y %s' "$SUP_HBA"; sha256sum <"$SUP_HBA"; }

# 1. deciding: the neighbour agrees, this node is the primary -> allow
ok 'wait_for 15 "[ \"\$(hba_rw)\" = allow ]"' "running: hba applied rw allow"
like "$(grep harw "$SUP_HBA")" 'harw.*127\.0\.0\.5/32.*md5' "pg_hba.conf allows harw from HAProxy"
like "$(call)" '^OK .*"master": \["127.0.0.1"\]' "GetClusterInfo answers with the view"

# 2. stop-client, then the cluster changes its mind
is "$(sup_ctl stop-client)" "client paused: no more verdicts or pg_hba.conf edits" "stop-client"
seq_paused=$(sup_status 'd["verdict"]["seq"]')
before=$(file_id)
echo "$disagree" >"$SUP_DIR/answer.json"
sleep 7		# two leases and then some: unpaused, hba would have fenced
is "$(file_id)" "$before" "paused: pg_hba.conf untouched (inode, mtime, bytes) through two leases"
is "$(sup_status 'd["verdict"]["seq"]')" "$seq_paused" "paused: no new verdict was taken"
like "$(call)" '^OK ' "paused: GetClusterInfo still answers"
ok 'sup_running rpc && sup_running probe && sup_running hba' "paused: every worker still runs"
is "$(sup_status 'd["daemon"]["client_paused"]')" true "status says paused"

# 3. start-client: the held-back change is made
is "$(sup_ctl start-client)" "client resumed" "start-client"
ok 'wait_for 15 "grep harw \"$SUP_HBA\" | grep -q reject"' "resumed: pg_hba.conf now rejects harw"
ok 'wait_for 5 "[ \"\$(hba_rw)\" = deny ]"' "status: pg_hba rw deny"
like "$(sup_status 'd["verdict"]["reason"]')" '.' "status: the verdict says why"
sup_no_sanitizer_reports
done_testing
