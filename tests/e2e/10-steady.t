#!/bin/bash
# e2e: steady state, witness down, then the seed's safe stop order.
# One cluster (n1 primary, n2 standby, wt witness, HAProxy), harepd on all
# three; a monitor samples HAProxy and the pg_hba files every 100 ms and
# fails the script if two nodes ever pass the write check at once.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/lib/cluster.sh"

CL_ALLOWRO=true
cl_suite_up n1 n2
cl_monitor_start

# ---- steady state
is "$(cl_hap_up pg_rw)" "n1" "steady: only the primary n1 is UP for writes"
is "$(cl_hap_status pg_rw n2)" "DOWN" "steady: the standby n2 is DOWN for writes"
ok 'wait_for 10 "[ \"\$(cl_hap_up pg_ro)\" = \"n1 n2\" ]"' "steady: allowRO: both n1 and n2 UP for reads"
is "$(cl_insert steady)" "n1" "steady: an INSERT through HAProxy's write port lands on n1"
reads=$(for i in 1 2 3 4; do cl_read; done | sort -u | tr '\n' ' ')
like "$reads" "n2" "steady: reads through the read-only port reach the standby n2 ($reads)"
ok 'cl_hba_allows n1 harw && cl_hba_denies n2 harw' "steady: pg_hba: n1 allows harw, n2 rejects it"
ok 'cl_hba_allows n1 haro && cl_hba_allows n2 haro' "steady: pg_hba: haro allowed on both"
is "$(cl_status n1 'd["verdict"]["rw"]')" "allow" "steady: harepdctl status on n1: rw allow"
is "$(cl_status n2 'd["verdict"]["rw"]')" "deny" "steady: harepdctl status on n2: rw deny"
dev=$(cl_hold 3 n1)
is "$dev" "" "steady: writes stay on n1 for 3 s"

# ---- witness down: PostgreSQL of the witness stops (its harepd answers
# UNAVAILABLE), then its harepd stops, then its link is cut: the two data
# nodes still agree, writes stay on n1.
cl_pg_stop wt fast
dev=$(cl_hold 4 n1)
is "$dev" "" "witness PostgreSQL down: writes stay on n1 for 4 s"
is "$(cl_insert wt-pg-down)" "n1" "witness PostgreSQL down: INSERT lands on n1"
cl_harepd_stop wt
dev=$(cl_hold 3 n1)
is "$dev" "" "witness harepd down too: writes stay on n1 for 3 s"
cl_link_down wt
dev=$(cl_hold 4 n1)
is "$dev" "" "witness unreachable (link cut): writes stay on n1 for 4 s"
is "$(cl_insert wt-cut)" "n1" "witness unreachable: INSERT lands on n1"
is "$(cl_status n2 'd["verdict"]["rw"]')" "deny" "witness unreachable: n2 still denies rw"
cl_link_up wt
cl_pg_start wt
cl_harepd_start wt --server-only
ok 'wait_for 15 "cl_peer_answered n1 witness"' \
    "witness back: n1's harepd gets its answer again"
is "$(cl_hap_up pg_rw)" "n1" "witness back: writes on n1"

# ---- the seed's safe stop order: stop the clients (standby first), then
# the daemons; pg_hba.conf stays as it was, so routing does not move, even
# long after the verdict lease would have run out.
ok 'cl_ctl n2 stop-client >/dev/null' "harepdctl stop-client on n2"
ok 'cl_ctl n1 stop-client >/dev/null' "harepdctl stop-client on n1"
dev=$(cl_hold 4 n1)
is "$dev" "" "clients stopped: writes stay on n1 for 4 s (> lease)"
ok 'cl_ctl n2 stop >/dev/null' "harepdctl stop on n2"
ok 'cl_ctl n1 stop >/dev/null' "harepdctl stop on n1"
ok 'cl_ctl wt stop >/dev/null' "harepdctl stop on the witness"
ok '! kill -0 $(cl_harepd_pid n1) 2>/dev/null && ! kill -0 $(cl_harepd_pid n2) 2>/dev/null' \
    "harepd gone on n1 and n2"
dev=$(cl_hold 4 n1)
is "$dev" "" "harepd stopped everywhere: writes stay on n1 for 4 s"
is "$(cl_insert stopped)" "n1" "harepd stopped everywhere: INSERT lands on n1"
ok 'cl_hba_allows n1 harw && cl_hba_denies n2 harw' "harepd stopped: pg_hba.conf left as it was"

# ---- start again in the seed's order (witness, standby, primary)
for h in wt n2 n1; do rm -f "$(cl_harepd_sock "$h")"; done
t_restart=$(cl_now_ms)
cl_harepd_start wt --server-only && cl_harepd_start n2 && cl_harepd_start n1
# harepd's majority hold-down may fence n1 for about leaseMs + deadline
# after a start (nothing remembers the verdict of the previous run)
ok 'cl_wait_stable n1 3 20' "harepd restarted everywhere: writes back on n1, stable for 3 s"
cl_time restart_to_stable_writer_ms $(( $(cl_now_ms) - t_restart ))
is "$(cl_status n1 'd["verdict"]["rw"]')" "allow" "restarted: n1 decides rw allow again"

cl_monitor_stop "10-steady"
[ "$TAP_FAILED" -eq 0 ] || cl_dump
done_testing
