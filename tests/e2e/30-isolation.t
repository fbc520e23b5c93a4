#!/bin/bash
# e2e: the primary is isolated (its link cut) while its PostgreSQL keeps
# running. Its harepd must fence it (reject for harw in pg_hba.conf)
# within watchDog + connectionDeadline + 1 s, without any peer. Routing
# follows once n2 is promoted. Then the link heals: n1 is a running
# primary that still believes it is the primary, and must never get writes
# back while n2 holds them.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/lib/cluster.sh"

CL_ALLOWRO=true
cl_suite_up n1 n2
cl_monitor_start

is "$(cl_insert before)" "n1" "before: writes on n1"
bound_ms=$(( (CL_WATCHDOG + CL_DEADLINE + 1) * 1000 ))

# ---- isolate n1
t0=$(cl_now_ms)
cl_link_down n1
fenced=
while [ "$(( $(cl_now_ms) - t0 ))" -lt 15000 ]; do
	if cl_hba_denies n1 harw; then fenced=$(cl_now_ms); break; fi
	sleep 0.02
done
ok '[ -n "$fenced" ]' "isolated n1 fences itself (pg_hba.conf rejects harw)"
fence_ms=$(( ${fenced:-$(cl_now_ms)} - t0 ))
cl_time isolation_to_fence_ms "$fence_ms"
ok '[ "$fence_ms" -le "$bound_ms" ]' "fenced within watchDog + connectionDeadline + 1 s (${fence_ms} ms <= ${bound_ms} ms)"
n1_deny_applied() {
	[ "$(cl_status n1 'd["pg_hba"]["rw"]')" = deny ] &&
	    [ -z "$(cl_status n1 'd["pg_hba"]["error"]')" ]
}
ok 'wait_for 5 n1_deny_applied' \
    "n1's harepd reports rw deny applied"
# What PostgreSQL on n1 now has loaded for harw from HAProxy's address.
is "$(cl_psql n1 -c "SELECT auth_method FROM pg_hba_file_rules WHERE 'harw' = ANY(user_name) AND address = '$(cl_ip hap)' ORDER BY line_number LIMIT 1")" \
    "reject" "n1's PostgreSQL sees reject for harw from HAProxy"
diag "n1 verdict: $(cl_status n1 'd["verdict"]["reason"]')"
ok 'wait_for 5 "[ -z \"\$(cl_hap_up pg_rw)\" ]"' "HAProxy: no server UP for writes"
is "$(cl_status n2 'd["verdict"]["rw"]')" "deny" "n2 (a standby) does not take writes on its own"

# ---- promote n2 (n1 unreachable: repmgr allows it)
t1=$(cl_now_ms)
ok 'cl_promote n2' "repmgr standby promote on n2"
t_promoted=$(cl_now_ms)
got=
while [ "$(( $(cl_now_ms) - t1 ))" -lt 60000 ]; do
	got=$(cl_insert after-promote) && [ "$got" = n2 ] && break
	got=
	sleep 0.05
done
t_routed=$(cl_now_ms)
is "$got" "n2" "after promote: an INSERT through HAProxy lands on n2"
cl_time promote_cmd_ms $(( t_promoted - t1 ))
cl_time promote_to_routed_ms $(( t_routed - t1 ))

# ---- heal: two running primaries, each with its own story. repmgr
# does not resolve this (failover=manual): the witness's repmgrd may even
# copy the old primary's metadata again. Whatever the others say, n1 must
# never get writes back: its timeline is behind n2's.
cl_link_up n1
t_heal=$(cl_now_ms)
is "$(cl_in_recovery n1)" "f" "healed: n1 is still a primary (not in recovery)"
like "$(cl_nodes_view n1)" "n1:primary:active" "healed: n1's repmgr.nodes names n1 the active primary"
# from the heal on: n1 must never pass the write check, whether or not it
# hears from n2 yet (without n2's answer n1 + a stale witness would agree)
n1_up=0 inserts= heard=
while [ "$(( $(cl_now_ms) - t_heal ))" -lt 15000 ] ||
    { [ -z "$heard" ] && [ "$(( $(cl_now_ms) - t_heal ))" -lt 40000 ]; }; do
	case " $(cl_hap_up pg_rw) " in *" n1 "*) n1_up=$((n1_up + 1)) ;; esac
	cl_hba_allows n1 harw && n1_up=$((n1_up + 1))
	inserts="$inserts $(cl_insert healed || echo -)"
	[ -z "$heard" ] && cl_peer_answered n1 neighbour && heard=$(cl_now_ms)
	sleep 0.2
done
ok '[ -n "$heard" ]' "healed: n1's harepd hears from n2 again"
[ -n "$heard" ] && cl_time heal_to_n1_hears_n2_ms $(( heard - t_heal ))
is "$n1_up" "0" "healed: for $(( ($(cl_now_ms) - t_heal) / 1000 )) s n1 never passes the write check"
unlike() { if printf '%s' "$1" | grep -Eq -- "$2"; then tap_result 1 "$3"; diag "got: '$1'"; else tap_result 0 "$3"; fi; }
unlike "$inserts" "n1" "healed: no INSERT through HAProxy lands on n1"
is "$(cl_status n1 'd["verdict"]["rw"]')" "deny" "healed: n1's harepd still denies rw"
ok 'cl_hba_denies n1 harw' "healed: n1's pg_hba.conf still rejects harw"
diag "n1 verdict after heal: $(cl_status n1 'd["verdict"]["reason"]')"
diag "n2 verdict after heal: $(cl_status n2 'd["verdict"]["reason"]')"
diag "witness repmgr.nodes after heal: $(cl_nodes_view wt)"
diag "writes after heal (every 0.2 s, - = refused): $(tr ' ' '\n' <<<"$inserts" | grep . | uniq -c | tr '\n' ' ' | tr -s ' ')"

# ---- the operator ends the split brain: n1 stops, then rejoins as a
# standby of n2. Writes go to n2 again.
t2=$(cl_now_ms)
cl_pg_stop n1 fast
ok 'wait_for 40 "cl_wait_writer n2 1"' "n1 stopped: writes on n2"
cl_time old_primary_stop_to_routed_ms $(( $(cl_now_ms) - t2 ))
ok 'cl_repmgr n1 node rejoin -d "host=$(cl_ip n2) port=$CL_PORT user=repmgr dbname=repmgr" --force-rewind >>"$CL_DIR/n1/repmgr.out" 2>&1' \
    "repmgr node rejoin --force-rewind on n1"
# n2 may lose its majority for a while after the rejoin: the witness's copy
# of repmgr.nodes can go back to n1's story (docs/E2E.md). Wait until writes
# have stayed on n2 for 4 s in a row.
t3=$(cl_now_ms)
ok 'cl_wait_stable n2 4 40' "n1 rejoined as a standby: writes on n2, stable for 4 s"
cl_time rejoin_to_stable_writer_ms $(( $(cl_now_ms) - t3 ))
diag "witness repmgr.nodes meanwhile: $CL_WT_VIEWS"
ok 'wait_for 20 "[ \"\$(cl_hap_up pg_ro)\" = \"n1 n2\" ]"' "n1 rejoined: UP for reads"

cl_monitor_stop "30-isolation"
[ "$TAP_FAILED" -eq 0 ] || cl_dump
done_testing
