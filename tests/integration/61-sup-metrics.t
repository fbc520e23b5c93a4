#!/usr/bin/env bash
# `harepdctl metrics` (docs/METRICS.md): OpenMetrics 1.0 text that
# Debian's python3-prometheus-client parses, readable by anyone, and whose
# values follow the cluster: the verdict's rw goes 1 -> 0 when the fake
# neighbour stops agreeing, counters only grow. Real workers, a real
# PostgreSQL 15 with a repmgr.nodes table.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../helpers/sup_lib.sh"
. "$(dirname "$0")/../lib/pg.sh"
[ "$(id -u)" -eq 0 ] || skip_all "needs root to run PostgreSQL and drop privileges"
command -v protoc >/dev/null || skip_all "protoc missing (make deps)"
/usr/bin/python3 -c "import grpc" 2>/dev/null || skip_all "python3-grpcio missing (make deps)"
/usr/bin/python3 -c "import prometheus_client" 2>/dev/null ||
	skip_all "python3-prometheus-client missing (make deps)"

sup_init
sup_pg_cluster
PEER=
trap 'kill $PEER 2>/dev/null; sup_cleanup' EXIT

agree=$SUP_AGREE
disagree='{"ip": "127.0.0.2", "nodeId": 2, "nodeName": "node_2", "master": ["127.0.0.2"], "slaves": ["127.0.0.1"]}'
sup_fake_peer

SUP_NEIGHBOURS=127.0.0.1:$PEER_PORT SUP_WATCHDOG=1 \
	sup_config "policy: seed" "leaseMs: 3000"
sup_start
sup_require_running rpc probe hba
is "$(sup_status 'w.get("metrics")')" null "no metrics.listen: no metrics worker (docs/METRICS.md)"
ok '! sup_worker_pid metrics >/dev/null' "... none among harepd's children"

# metric NAME [LABELS-AS-PYTHON-DICT]: one sample's value, as parsed by
# the OpenMetrics parser (which rejects anything not OpenMetrics 1.0)
PARSE='
import sys
from prometheus_client.openmetrics.parser import text_string_to_metric_families
want, labels = sys.argv[1], eval(sys.argv[2])
for fam in text_string_to_metric_families(sys.stdin.read()):
    for s in fam.samples:
        if s.name == want and all(s.labels.get(k) == v for k, v in labels.items()):
            print("%g" % s.value); sys.exit(0)
print("absent")'
metric() { sup_ctl metrics | /usr/bin/python3 -c "$PARSE" "$1" "${2:-{\}}" 2>&1; }
hba_rw() { metric harepd_hba_allow "{'access': 'rw'}"; }
rpc_restarts() { metric harepd_worker_restarts_total "{'worker': 'rpc'}"; }

sup_ctl metrics >"$SUP_DIR/m1" 2>"$SUP_DIR/err"
is "$?" 0 "harepdctl metrics: exit 0"
is "$(tail -1 "$SUP_DIR/m1")" "# EOF" "ends with # EOF"
/usr/bin/python3 -c '
import sys
from prometheus_client.openmetrics.parser import text_string_to_metric_families
print(len(list(text_string_to_metric_families(open(sys.argv[1]).read()))))' \
    "$SUP_DIR/m1" >"$SUP_DIR/nfam" 2>&1
ok '[ "$(cat "$SUP_DIR/nfam")" -gt 20 ]' "the OpenMetrics parser reads it ($(cat "$SUP_DIR/nfam") families)"
runuser -u nobody -- "$HAREPDCTL" -s "$SUP_SOCK" metrics >/dev/null
is "$?" 0 "nobody may read metrics"
ok '! grep -q "control: metrics" "$SUP_LOG"' "a scrape is not logged as a change"

is "$(metric harepd_up)" 1 "harepd_up 1"
is "$(metric harepd_build_info "{'version': '$(cat "$TOP/VERSION")'}")" 1 \
	"harepd_build_info carries the VERSION file"
ok 'wait_for 15 "[ \"\$(metric harepd_verdict_rw_allow)\" = 1 ]"' "agreeing neighbour: verdict rw 1"
ok 'wait_for 10 "[ \"\$(hba_rw)\" = 1 ]"' "pg_hba rw allow 1"
is "$(metric harepd_peer_answered "{'target': '127.0.0.1:$PEER_PORT'}")" 1 "peer answered 1"
is "$(metric harepd_peer_agreed "{'target': '127.0.0.1:$PEER_PORT'}")" 1 "peer agreed 1"
is "$(metric harepd_node_role "{'harepd_node_role': 'primary'}")" 1 "node role primary"
is "$(metric harepd_in_recovery)" 0 "not in recovery"
is "$(metric harepd_client_paused)" 0 "client not paused"
ok '[ "$(metric harepd_peer_latency_seconds_count "{\"target\": \"127.0.0.1:$PEER_PORT\"}")" -ge 1 ]' \
	"peer latency histogram counts answers"
ok '[ "$(metric harepd_worker_up "{\"worker\": \"hba\"}")" = 1 ]' "worker hba up"
lease=$(metric harepd_lease_remaining_seconds)
ok '/usr/bin/python3 -c "import sys; sys.exit(not 0 < float(sys.argv[1]) <= 3)" "$lease"' \
	"lease remaining within (0, 3] s: $lease"
grpc_ok() { metric harepd_grpc_requests_total "{'code': 'OK'}"; }
g1=$(grpc_ok)
for i in 1 2 3; do
	/usr/bin/python3 "$TOP/tests/helpers/sup_peer.py" call "$SUP_DIR" "127.0.0.1:$SUP_PORT" >/dev/null
done
ok 'wait_for 5 "[ \"\$(grpc_ok)\" -ge \$((g1 + 3)) ]"' "three GetClusterInfo calls: grpc_requests_total{code=OK} $g1 -> $(grpc_ok)"
v1=$(metric harepd_verdicts_total); t1=$(metric harepd_tick_duration_seconds_count)
c1=$(metric harepd_hba_changes_total); s1=$(metric harepd_verdict_sequence)

echo "$disagree" >"$SUP_DIR/answer.json"
ok 'wait_for 15 "[ \"\$(metric harepd_verdict_rw_allow)\" = 0 ]"' "neighbour disagrees: verdict rw 1 -> 0"
ok 'wait_for 10 "[ \"\$(hba_rw)\" = 0 ]"' "pg_hba rw allow 1 -> 0"
is "$(metric harepd_peer_agreed "{'target': '127.0.0.1:$PEER_PORT'}")" 0 "peer agreed 1 -> 0"
ok '[ "$(metric harepd_verdicts_total)" -gt "$v1" ]' "verdicts_total grew ($v1 -> $(metric harepd_verdicts_total))"
ok '[ "$(metric harepd_tick_duration_seconds_count)" -gt "$t1" ]' "tick histogram count grew"
ok '[ "$(metric harepd_hba_changes_total)" -gt "$c1" ]' "hba changes_total grew ($c1 -> $(metric harepd_hba_changes_total))"
ok '[ "$(metric harepd_verdict_sequence)" -gt "$s1" ]' "verdict sequence grew"

# one verdict per watchDog (1 s), or per 250 ms for 10 s after a change
# (PROBE_EAGER_MS: the disagreement above is one), never one per poll:
# the seed policy once left the early-tick timer at 0 and decided every
# 2 ms, about 900 verdicts in these 4 s
va=$(metric harepd_verdicts_total); sleep 4; vb=$(metric harepd_verdicts_total)
ok '[ $(( vb - va )) -le 18 ]' "verdicts in 4 s at watchDog 1: $(( vb - va )) (<= 4 x 4 + 2)"

sup_ctl stop-client >/dev/null
is "$(metric harepd_client_paused)" 1 "stop-client: client_paused 1"
r1=$(rpc_restarts)
kill -KILL "$(sup_worker_pid rpc)"
ok 'wait_for 10 "[ \"\$(rpc_restarts)\" -gt $r1 ]"' \
	"a killed rpc worker: restarts_total grew"
sup_no_sanitizer_reports
done_testing
