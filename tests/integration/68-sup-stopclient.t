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
python3 -c 'import grpc' 2>/dev/null || skip_all "python3-grpcio missing (make deps)"

sup_init
pg_start
trap 'kill $PEER 2>/dev/null; sup_cleanup' EXIT
pg_psql <<'SQL'
CREATE SCHEMA repmgr;
CREATE TABLE repmgr.nodes (node_id int PRIMARY KEY, upstream_node_id int,
    active bool NOT NULL, node_name text NOT NULL, type text NOT NULL,
    location text DEFAULT 'default', priority int DEFAULT 100,
    conninfo text NOT NULL);
INSERT INTO repmgr.nodes VALUES
    (1, NULL, true, 'node_1', 'primary', 'default', 100, 'host=127.0.0.1 dbname=repmgr'),
    (2, 1, true, 'node_2', 'standby', 'default', 100, 'host=127.0.0.2 dbname=repmgr');
SQL

protoc --python_out="$SUP_DIR" -I "$TOP/proto" "$TOP/proto/messaging.proto" ||
	bail "protoc --python_out failed"
PEER_PORT=$(sup_free_port)
agree='{"ip": "127.0.0.2", "nodeId": 2, "nodeName": "node_2", "master": ["127.0.0.1"], "slaves": ["127.0.0.2"]}'
disagree='{"ip": "127.0.0.2", "nodeId": 2, "nodeName": "node_2", "master": ["127.0.0.2"], "slaves": ["127.0.0.1"]}'
echo "$agree" >"$SUP_DIR/answer.json"
python3 "$TOP/tests/helpers/sup_peer.py" serve "$SUP_DIR" "$PEER_PORT" \
    "$SUP_DIR/answer.json" >"$SUP_DIR/peer.log" 2>&1 &
PEER=$!
wait_for 10 'grep -q listening "$SUP_DIR/peer.log"' || bail "fake peer did not start"

SUP_HBA=$PGDATA/pg_hba.conf
SUP_PGHOST=$PG_TMP SUP_PGPORT=$PGPORT sup_config \
	"policy: seed" "leaseMs: 3000"
sed -i "s/^    neighbours: .*/    neighbours: [127.0.0.1:$PEER_PORT]/; s/^  watchDog: .*/  watchDog: 1/" "$SUP_CONF"
cat >>"$SUP_CONF" <<EOF
  privsep:
    postgresUser: postgres
