#!/bin/bash
# e2e: a standby that has not yet followed the new primary. Three data
# nodes (n1 primary, n2 and n3 standbys) and the witness. n1 crashes, n2
# is promoted, n3 is left following n1 (failover=manual: nothing makes it
# follow), so n3's repmgr.nodes still names n1. Then n1 comes back as it
# was: n1 and n3 tell the same (old) story. The seed's rules let a node
# agreeing with one stale peer take writes; harepd's default policy must
# never give writes to n1 (nor to n3), and never to two nodes at once.
# Once n3 is attached to n2, writes go to n2.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/lib/cluster.sh"

CL_ALLOWRO=true
cl_suite_up n1 n2 n3
cl_monitor_start

is "$(cl_hap_up pg_rw)" "n1" "before: only n1 UP for writes (of n1 n2 n3)"
is "$(cl_insert before)" "n1" "before: writes on n1"

# count, over SECS, samples where NODE passes the write check (HAProxy UP
# or pg_hba allow), and INSERTs landing on NODE
never_writer() {	# never_writer SECS NODE...  -> prints "hits inserts"
	local end=$(( $(cl_now_ms) + $1 * 1000 )) hits=0 ins='' n up w; shift
	while [ "$(cl_now_ms)" -lt "$end" ]; do
		up=" $(cl_hap_up pg_rw) "
		w=$(cl_insert stale || echo -)
		ins="$ins $w"
		for n in "$@"; do
			case $up in *" $n "*) hits=$((hits + 1)) ;; esac
			cl_hba_allows "$n" harw && hits=$((hits + 1))
			[ "$w" = "$n" ] && hits=$((hits + 1))
		done
		sleep 0.2
	done
	echo "$hits $(tr ' ' '\n' <<<"$ins" | grep . | uniq -c | tr '\n' ' ' | tr -s ' ')"
}

# ---- n1 crashes, n2 promoted, n3 stale
cl_pg_stop n1 immediate
ok 'wait_for 5 "[ -z \"\$(cl_hap_up pg_rw)\" ]"' "n1 crashed: no writer"
t0=$(cl_now_ms)
ok 'cl_promote n2' "repmgr standby promote on n2"
like "$(cl_nodes_view n3)" "n1:primary:active" "n3 has not followed: its repmgr.nodes names n1 the active primary"
is "$(cl_in_recovery n3)" "t" "n3 is still a standby (of n1)"
read -r hits rest <<<"$(never_writer 10 n3)"
is "$hits" "0" "n3 stale, n1 down: for 10 s n3 never passes the write check"
diag "writes after promote with n3 stale (every 0.2 s, - = refused): $rest"
diag "n2 verdict: $(cl_status n2 'd["verdict"]["reason"]')"

# ---- n1 comes back as it was: n1 and n3 agree on the old story
ok 'cl_pg_start n1' "n1 restarted as it was"
is "$(cl_in_recovery n1)" "f" "n1 believes it is the primary"
read -r hits rest <<<"$(never_writer 12 n1 n3)"
is "$hits" "0" "old primary back, n3 stale: for 12 s neither n1 nor n3 passes the write check"
diag "writes with n1 back and n3 stale (every 0.2 s, - = refused): $rest"
diag "n1 verdict: $(cl_status n1 'd["verdict"]["reason"]')"
diag "n3 view: $(cl_nodes_view n3)"
is "$(cl_status n1 'd["verdict"]["rw"]')" "deny" "n1's harepd denies rw"

# ---- the operator puts things right: n1 stopped, n3 attached to n2
# (n3 may have streamed from the restarted n1: rejoin with pg_rewind)
cl_pg_stop n1 fast
cl_pg_stop n3 fast
t1=$(cl_now_ms)
ok 'cl_repmgr n3 node rejoin -d "host=$(cl_ip n2) port=$CL_PORT user=repmgr dbname=repmgr" --force-rewind >>"$CL_DIR/n3/repmgr.out" 2>&1' \
    "repmgr node rejoin --force-rewind on n3 (now following n2)"
is "$(cl_in_recovery n3)" "t" "n3 is a standby of n2"
ok 'wait_for 40 "cl_wait_writer n2 1"' "n3 following n2: writes on n2"
cl_time n3_rejoin_to_routed_ms $(( $(cl_now_ms) - t1 ))
diag "promote_to_routed_ms=$(( $(cl_now_ms) - t0 )) (includes the stale-standby phases above)"
dev=$(cl_hold 3 n2)
is "$dev" "" "writes stay on n2"
ok 'wait_for 20 "[ \"\$(cl_hap_up pg_ro)\" = \"n2 n3\" ]"' "n2 and n3 UP for reads, n1 (stopped) not"

cl_monitor_stop "40-stale-standby"
[ "$TAP_FAILED" -eq 0 ] || cl_dump
done_testing
