#!/bin/bash
# e2e: the old primary's whole node is lost, and the standby is promoted
# at once. Writes must reach the new primary within leaseMs +
# connectionDeadline + 1.5 s of the loss: the members report whom they
# last gave their lists to (docs/POLICY.md, "silence cover"), so the new
# primary waits one lease after the old one fell silent, not a hold-down
# after its own majority formed. Here harepd is killed (kill -9, all its
# processes) with its PostgreSQL (immediate stop); the link-cut variant is
# 60-split-brain.t, where HAProxy still reaches the old primary.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/lib/cluster.sh"

cl_suite_up n1 n2
cl_monitor_start
is "$(cl_insert before)" "n1" "before: writes on n1"
lease=$(cl_status n1 'd["verdict"]["lease_ms"]')
case $lease in ''|*[!0-9]*) lease=$(( 3 * CL_WATCHDOG * 1000 )) ;; esac
bound=$(( lease + CL_DEADLINE * 1000 + 1500 ))

# cl_lost_to_routed WHAT NODE: after the loss (just done), promote NODE at
# once and measure until writes are routed to it
cl_lost_to_routed() {
	local what=$1 node=$2 t_promoted t_routed t_allow
	ok "cl_promote $node" "$what: repmgr standby promote on $node"
	t_promoted=$(cl_now_ms)
	t_routed=$(cl_routed_at "$node" 30)
	ok '[ -n "$t_routed" ]' "$what: HAProxy routes writes to $node"
	ok "cl_wait_writer $node 10" "$what: writes reach $node"
	cl_time "${what}_promote_ms" $(( t_promoted - t_loss ))
	cl_time "${what}_loss_to_routed_ms" $(( t_routed - t_loss ))
	t_allow=$(cl_allow_at "$node")
	cl_time "${what}_loss_to_allow_ms" $(( t_allow - t_loss ))
	# harepd's part and HAProxy's rise, each on its own (60-split-brain.t)
	ok "[ $(( t_allow - t_loss )) -le $(( lease + CL_DEADLINE * 1000 + 1000 )) ]" \
	    "$what: $node's pg_hba.conf allows rw $(( t_allow - t_loss )) ms after the loss (<= lease $lease + deadline + 1000)"
	ok "[ $(( t_routed - t_allow )) -le 1500 ]" \
	    "$what: HAProxy routes to $node $(( t_routed - t_allow )) ms after its allow (<= 1500)"
	diag "$what: loss to writes routed $(( t_routed - t_loss )) ms (issue bound $bound)"
	diag "$node verdict: $(grep -a '"msg":"verdict' "$CL_DIR/$node/harepd/harepd.log" |
	    grep -a 'silence cover' | head -1 | sed 's/.*"reason":"\([^"]*\)".*/\1/')"
}

# ---- 1. n1's harepd killed with its PostgreSQL; n2 promoted right away
pids="$(cl_harepd_pid n1) $(pgrep -P "$(cl_harepd_pid n1)" | tr '\n' ' ')"
cl_allow_watch n2
t_loss=$(cl_now_ms)
kill -KILL $pids
cl_pg_stop n1 immediate
cl_lost_to_routed killed n2
ok "grep -aq '; silence cover: no member' '$CL_DIR/n2/harepd/harepd.log'" \
    "killed: n2 took rw by the silence cover, not after a hold-down"
dev=$(cl_hold 10 n2)
is "$dev" "" "killed: for 10 s writes stay on n2 and only n2"

cl_monitor_stop "55-node-loss"
[ "$TAP_FAILED" -eq 0 ] || cl_dump
done_testing
