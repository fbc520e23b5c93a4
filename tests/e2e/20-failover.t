#!/bin/bash
# e2e: the primary crashes, the standby is promoted (repmgr standby
# promote): writes reach the new primary (time measured). The old primary
# restarts as it was, still believing it is the primary: it never gets
# writes back. Then it rejoins as a standby of the new primary.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/lib/cluster.sh"

CL_ALLOWRO=true
cl_suite_up n1 n2
cl_monitor_start

is "$(cl_insert before)" "n1" "before: writes on n1"

# ---- crash of the primary
cl_pg_stop n1 immediate
t_crash=$(cl_now_ms)
ok 'wait_for 5 "[ -z \"\$(cl_hap_up pg_rw)\" ]"' "n1 crashed: no server UP for writes"
cl_time crash_to_no_writer_ms $(( $(cl_now_ms) - t_crash ))
ok '! cl_insert crashed >/dev/null' "n1 crashed: an INSERT through HAProxy fails"
ok 'wait_for 5 "cl_hba_denies n1 harw"' "n1 crashed: its harepd writes reject for harw"

# ---- promote n2
t0=$(cl_now_ms)
ok 'cl_promote n2' "repmgr standby promote on n2"
t_promoted=$(cl_now_ms)
is "$(cl_in_recovery n2)" "f" "n2 is out of recovery"
got=
while [ "$(( $(cl_now_ms) - t0 ))" -lt 60000 ]; do
	got=$(cl_insert after-promote) && [ "$got" = n2 ] && break
	got=
	sleep 0.05
done
t_routed=$(cl_now_ms)
is "$got" "n2" "after promote: an INSERT through HAProxy lands on n2"
cl_time promote_cmd_ms $(( t_promoted - t0 ))
cl_time promote_to_routed_ms $(( t_routed - t0 ))
cl_time crash_to_routed_ms $(( t_routed - t_crash ))
is "$(cl_hap_up pg_rw)" "n2" "after promote: only n2 UP for writes"
diag "n2 verdict: $(cl_status n2 'd["verdict"]["reason"]')"

# ---- the old primary comes back as it was: a second primary
ok 'cl_pg_start n1' "n1 restarted (not rejoined)"
is "$(cl_in_recovery n1)" "f" "n1 is not in recovery: it believes it is the primary"
like "$(cl_nodes_view n1)" "n1:primary:active" "n1's repmgr.nodes still names n1 the active primary"
dev=$(cl_hold 10 n2)
is "$dev" "" "old primary back: for 10 s writes stay on n2 only"
is "$(cl_insert two-primaries)" "n2" "old primary back: INSERT lands on n2"
is "$(cl_status n1 'd["verdict"]["rw"]')" "deny" "old primary back: n1's harepd denies rw"
diag "n1 verdict: $(cl_status n1 'd["verdict"]["reason"]')"
ok 'cl_hba_denies n1 harw' "old primary back: n1's pg_hba.conf rejects harw"

# ---- n1 rejoins as a standby of n2 (pg_rewind)
cl_pg_stop n1 fast
ok 'cl_repmgr n1 node rejoin -d "host=$(cl_ip n2) port=$CL_PORT user=repmgr dbname=repmgr" --force-rewind >>"$CL_DIR/n1/repmgr.out" 2>&1' \
    "repmgr node rejoin --force-rewind on n1"
is "$(cl_in_recovery n1)" "t" "n1 is a standby now"
ok 'wait_for 20 "[ \"\$(cl_hap_up pg_ro)\" = \"n1 n2\" ]"' "rejoined: n1 UP for reads again"
# n2 may lose its majority while n1 restarts (the witness's copy of
# repmgr.nodes can still tell n1's story), then waits out the hold-down
t_rejoin=$(cl_now_ms)
ok 'cl_wait_stable n2 3 30' "rejoined: writes on n2, stable for 3 s"
cl_time rejoin_to_stable_writer_ms $(( $(cl_now_ms) - t_rejoin ))
is "$(cl_insert rejoined)" "n2" "rejoined: INSERT lands on n2"
n=$(cl_psql n2 -d app -c "SELECT count(*) FROM writes WHERE tag = 'before'")
is "$n" "1" "the write made before the failover is on the new primary"

cl_monitor_stop "20-failover"
[ "$TAP_FAILED" -eq 0 ] || cl_dump
done_testing
