#!/bin/bash
# e2e: asymmetric split brain that heals. The primary n1 is cut off from
# the standby and the witness but HAProxy still reaches it; n2 is
# promoted; then the links come back with n1 still running as a primary
# on the old timeline (not rejoined). Never two writers; n2 gets writes
# and keeps them after the heal (the witness follows timelines, n1 sees
# n2's higher timeline and stays denied).
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/lib/cluster.sh"

CL_ALLOWRO=true
cl_suite_up n1 n2
cl_monitor_start
is "$(cl_insert before)" "n1" "before: writes on n1"

lease=$(cl_status n1 'd["verdict"]["lease_ms"]')
case $lease in ''|*[!0-9]*) lease=$(( 3 * CL_WATCHDOG * 1000 )) ;; esac
bound=$(( lease + CL_DEADLINE * 1000 + 1500 ))

# ---- cut n1 from n2 and the witness (HAProxy still reaches n1), and
# promote n2 at once, as an operator or a failover script would
cl_allow_watch n2
t_loss=$(cl_now_ms)
ok 'cl_cut n1 n2 && cl_cut n1 wt' "n1 cut off from n2 and the witness"
ok 'cl_promote n2' "repmgr standby promote on n2 (it cannot reach n1)"
t_promoted=$(cl_now_ms)
cl_time split_loss_to_promoted_ms $(( t_promoted - t_loss ))
t_routed=$(cl_routed_at n2 30)
ok '[ -n "$t_routed" ]' "HAProxy routes writes to n2"
ok 'cl_wait_writer n2 10' "writes reach n2"
cl_time split_promote_to_routed_ms $(( t_routed - t_promoted ))
cl_time split_loss_to_routed_ms $(( t_routed - t_loss ))
t_allow=$(cl_allow_at n2)
cl_time split_loss_to_allow_ms $(( t_allow - t_loss ))
# harepd's part: the silence cover (lease + deadline + 250 ms after n1
# was last answered, at most the cut) and a tick; HAProxy's part: its
# rise, 2 checks of inter 500 ms. Their sum is the issue's bound (lease +
# deadline + 1.5 s), met by the median in make bench but not by every
# run (docs/POLICY.md, "Timing"): each part is asserted on its own.
ok "[ $(( t_allow - t_loss )) -le $(( lease + CL_DEADLINE * 1000 + 1000 )) ]" \
    "n2's pg_hba.conf allows rw $(( t_allow - t_loss )) ms after the cut (<= lease $lease + deadline + 1000)"
ok "[ $(( t_routed - t_allow )) -le 1500 ]" \
    "HAProxy routes to n2 $(( t_routed - t_allow )) ms after its allow (<= rise 2 x inter 500 + 500)"
diag "cut to writes routed: $(( t_routed - t_loss )) ms (issue bound $bound)"
diag "n2 verdict: $(cl_status n2 'd["verdict"]["reason"]')"
ok 'cl_hba_denies n1 harw' "n1 has fenced itself (alone, no majority)"
ok 'wait_for 5 "[ \"\$(cl_hap_up pg_rw)\" = n2 ]"' "HAProxy: n2 is the only server UP for writes"
is "$(cl_in_recovery n1)" "f" "n1's PostgreSQL still runs as a primary"

# ---- heal: n1 runs on as a primary (timeline 1), not rejoined
cl_heal n1 n2
cl_heal n1 wt
t_heal=$(cl_now_ms)
dev=$(cl_hold 20 n2)
is "$dev" "" "healed: for 20 s writes stay on n2 and only n2"
is "$(cl_insert healed)" "n2" "healed: an INSERT lands on n2"
is "$(cl_status n1 'd["verdict"]["rw"]')" "deny" "healed: n1's harepd denies rw"
ok 'cl_hba_denies n1 harw' "healed: n1's pg_hba.conf rejects harw"
diag "n1 verdict after heal: $(cl_status n1 'd["verdict"]["reason"]')"
diag "n2 verdict after heal: $(cl_status n2 'd["verdict"]["reason"]')"
diag "witness repmgr.nodes after heal: $(cl_nodes_view wt)"

cl_monitor_stop "60-split-brain"
[ "$TAP_FAILED" -eq 0 ] || cl_dump
done_testing
