#!/bin/bash
# e2e: a rolling change of timing, one node at a time (watchDog 1 -> 2 s,
# leaseMs 3000 -> 6000, by `harepdctl reload`), with a failover while the
# nodes disagree about it: the new primary waits out the longest lease any
# member reports (IKnow.gate), never two writers.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/lib/cluster.sh"

CL_ALLOWRO=true
cl_suite_up n1 n2
cl_monitor_start

retime() {	# retime HOST: watchDog 2, leaseMs 6000, reloaded
	local f=$CL_DIR/$1/harepd.yml
	sed -i -e 's/^  watchDog: .*/  watchDog: 2\n  leaseMs: 6000/' "$f"
	cl_ctl "$1" reload >/dev/null
}

# ---- first the witness and the standby
ok 'retime wt' "witness: watchDog 2, leaseMs 6000"
ok 'retime n2' "n2: watchDog 2, leaseMs 6000"
dev=$(cl_hold 6 n1)
is "$dev" "" "mixed timing: writes stay on n1"
like "$(cl_status n2 'd["verdict"]["lease_ms"]')" "^6000$" "n2's verdicts carry its new lease"

# ---- failover while n1 still runs the old timing
cl_pg_stop n1 immediate
ok 'wait_for 10 "cl_hba_denies n1 harw"' "n1 crashed: its harepd writes reject"
ok 'cl_promote n2' "repmgr standby promote on n2"
ok 'cl_wait_writer n2 40' "writes reach n2"
diag "n2 verdict: $(cl_status n2 'd["verdict"]["reason"]')"

# ---- the old primary comes back, then takes the new timing too
ok 'cl_pg_start n1' "n1 restarted (not rejoined)"
ok 'retime n1' "n1: watchDog 2, leaseMs 6000"
dev=$(cl_hold 8 n2)
is "$dev" "" "all on the new timing: writes stay on n2"

cl_monitor_stop "70-rolling-timing"
[ "$TAP_FAILED" -eq 0 ] || cl_dump
done_testing
