#!/bin/bash
# e2e: the old primary's whole node is lost (its link goes down: HAProxy,
# the standby and the witness all lose it), and the standby is promoted
# at once. Writes must reach the new primary within leaseMs +
# connectionDeadline + 1.5 s of the loss: the members report whom they
# last gave their lists to (docs/POLICY.md, "silence cover"), so the new
# primary waits one lease after the old one fell silent, not a hold-down
# after its own majority formed. Never two writers, also after the link
# comes back with the old primary still running on the old timeline.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/lib/cluster.sh"

cl_suite_up n1 n2
cl_monitor_start
is "$(cl_insert before)" "n1" "before: writes on n1"
lease=$(cl_status n1 'd["verdict"]["lease_ms"]')
case $lease in ''|*[!0-9]*) lease=$(( 3 * CL_WATCHDOG * 1000 )) ;; esac
bound=$(( lease + CL_DEADLINE * 1000 + 1500 ))

# ---- n1's node is lost, n2 is promoted right away
t_loss=$(cl_now_ms)
cl_link_down n1
ok 'cl_promote n2' "repmgr standby promote on n2"
t_promoted=$(cl_now_ms)
ok 'cl_wait_writer n2 30' "writes reach n2"
t_routed=$(cl_now_ms)
cl_time loss_promote_ms $(( t_promoted - t_loss ))
cl_time loss_to_routed_ms $(( t_routed - t_loss ))
ok "[ $(( t_routed - t_loss )) -le $bound ]" \
    "writes routed $(( t_routed - t_loss )) ms after the loss (<= lease $lease + deadline + 1500 = $bound)"
reason=$(cl_status n2 'd["verdict"]["reason"]')
like "$reason" 'silence cover|[0-9]+ of [0-9]+ members agree' "n2's verdict allows rw"
diag "n2 verdict: $reason"

# ---- the link comes back; n1 still runs as a primary on timeline 1
cl_link_up n1
dev=$(cl_hold 15 n2)
is "$dev" "" "link back: for 15 s writes stay on n2 and only n2"
is "$(cl_status n1 'd["verdict"]["rw"]')" "deny" "link back: n1's harepd denies rw"
diag "n1 verdict: $(cl_status n1 'd["verdict"]["reason"]')"

cl_monitor_stop "55-node-loss"
[ "$TAP_FAILED" -eq 0 ] || cl_dump
done_testing
