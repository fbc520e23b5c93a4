#!/usr/bin/env bash
# The probe worker against a real PostgreSQL 15 with the repmgr extension
# (n1 registered by `repmgr primary register`, the other rows as repmgr
# writes them) and real gRPC peers answering prepared IKnow replies, one
# of them blackholed. Checks the view, the verdicts of the majority and
# seed policies, reload, pause/resume, server-only mode, a database that
# goes away and comes back, and how long a tick takes with dead peers.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/pg.sh"
. "$(dirname "$0")/../helpers/probe_lib.sh"
[ "$(id -u)" -eq 0 ] || skip_all "needs root to run PostgreSQL as postgres"

pg_start "shared_preload_libraries = 'repmgr'"
probe_setup
trap probe_cleanup EXIT
probe_repmgr_db || bail "repmgr primary register failed"
probe_node 2 n2 standby 127.0.0.2
probe_node 3 n3 standby 127.0.0.3
probe_node 4 w witness 127.0.0.4
probe_node 5 n5 standby 127.0.0.5 false	# inactive: not in the view

SAME="masters=127.0.0.1 slaves=127.0.0.2,127.0.0.3 witness=127.0.0.4"
probe_peer n2 127.0.0.2 answer ip=127.0.0.2 id=2 name=n2 $SAME obs=1/1
probe_peer n3 127.0.0.3 answer ip=127.0.0.3 id=3 name=n3 $SAME obs=1/1
probe_peer w 127.0.0.4 answer ip=127.0.0.4 id=4 name=w $SAME obs=0/1
for i in 1 2 3 4; do probe_blackhole bh$i 127.0.0.$((4 + i)); done
N2=$(probe_target n2 127.0.0.2) N3=$(probe_target n3 127.0.0.3)
W=$(probe_target w 127.0.0.4)
conf=$PROBE_TMP/conf.yml

# ---- steady state, majority ----
probe_conf "$conf" n1 127.0.0.1 "\"$N2\", \"$N3\"" "$W"
fs_start probe "$conf" || bail "probe did not say hello"
ok "grep -q '^hello .*role=probe' '$FS_OUT'" "worker says hello"
view=$(fs_line 5 '^view ')
is "$view" "view id=1 name=n1 ip=127.0.0.1 primaries=127.0.0.1 standbys=127.0.0.2,127.0.0.3 witness=127.0.0.4 recovery=0 timeline=1 db_error=" \
    "view from repmgr.nodes: own id and IP, active nodes only, timeline"
stamp=$(fs_line 5 '^view_stamp ')
age=$(fs_field "$stamp" boot_age_ms)
ok "[ $age -ge 0 ] && [ $age -lt 1000 ]" \
    "the view carries its boot-clock stamp (collected_boot_ms, $age ms old on arrival)"
# a fresh probe holds rw down for leaseMs + connectionDeadline + 250 ms
v0=$(fs_line 5 '^verdict ')
is "$(fs_field "$v0" rw)/$(fs_field "$v0" ro)" "0/0" \
    "all agree, but a fresh probe denies rw first"
like "$(fs_field "$v0" reason)" "^hold-down: majority held for 0 of 4250 ms before rw; 4 of 4 members agree" \
    "hold-down: default lease 3000 + deadline 1000 + 250 ms"
v=$(fs_line 8 '^verdict .*rw=1')
is "$(fs_field "$v" rw)/$(fs_field "$v" ro)" "1/0" \
    "all agree for the hold-down: rw allowed, ro not (allowRO off)"
held=$(( $(fs_field "$v" decided_boot_ms) - $(fs_field "$v0" decided_boot_ms) ))
ok "[ $held -ge 4250 ] && [ $held -lt 6500 ]" \
    "rw allowed once the majority held for the hold-down ($held ms)"
is "$(fs_field "$v" agrees)" "111" "every peer agrees"
is "$(fs_field "$v" policy)" "majority" "default policy is majority"
is "$(fs_field "$v" lease_ms)" "3000" "lease is 3 x watchDog"
boot_now=$(awk '{ printf "%d", $1 * 1000 }' /proc/uptime)	# CLOCK_BOOTTIME
boot_v=$(fs_field "$v" decided_boot_ms)
ok "[ \"\${boot_v:-0}\" -gt $((boot_now - 10000)) ] && [ \"\${boot_v:-0}\" -le $((boot_now + 1000)) ]" \
    "decided_boot_ms is CLOCK_BOOTTIME when decided ($boot_v, now $boot_now)"
like "$(fs_field "$v" reason)" "^4 of 4 members agree" "reason says who agreed"
ok "grep -q '^asked ip=127.0.0.1 nodeId=1 nodeName=n1$' '$PROBE_TMP/n2.out'" \
    "WhatYouKnow carries our ip, nodeId, nodeName"
ok "fs_wait 3 '^log .*\"msg\":\"verdict [0-9]+: rw allow, ro deny: 4 of 4.*\"evidence\":\"neighbour $N2 agrees'" \
    "verdict logged with reason and evidence"
fs_mark
v2=$(fs_line 3 '^verdict ')
ok "[ $(fs_field "$v2" seq) -gt $(fs_field "$v" seq) ]" "sequence numbers increase"

# ---- a peer saw a higher timeline: the old primary fences ----
probe_spec n2 answer ip=127.0.0.2 masters=127.0.0.2 slaves=127.0.0.3 obs=0/2
fs_mark
v=$(fs_line 4 '^verdict .*rw=0')
like "$(fs_field "$v" reason)" "neighbour $N2 saw timeline 2, ours is 1" \
    "higher timeline of a peer denies rw"

# ---- garbage and errors count as no answer ----
probe_spec n2 garbage
fs_mark
v=$(fs_line 4 '^verdict .*answered=011')
like "$(fs_field "$v" rw) $(fs_field "$v" reason)" "^0 hold-down: majority held for 0 of 4250 ms before rw( \\(no silence cover: [^)]*\\))?; 3 of 4" \
    "the majority holds again after a denial: the hold-down starts over"
v=$(fs_line 8 '^verdict .*rw=1 .*answered=011')
is "$(fs_field "$v" rw)" "1" "garbage from one peer: 3 of 4 still agree"
ok "fs_since | grep -q '^peer .*target=$N2 .*answered=0 .*error=unreadable answer'" \
    "garbage reported as an unreadable answer"
probe_spec n2 raw 1a02c328
fs_mark
p=$(fs_line 4 "^peer .*target=$N2 .*answered=0")
like "$p" "error=unreadable answer" "an answer whose strings are not UTF-8 is unreadable"
probe_spec n2 big 20000
fs_mark
p=$(fs_line 4 "^peer .*target=$N2 .*answered=0")
like "$p" "error=RESOURCE_EXHAUSTED" "an oversized answer is refused by the client"
probe_spec n2 status 14 harepd: local database unreachable
fs_mark
p=$(fs_line 4 "^peer .*target=$N2 .*error=UNAVAILABLE")
like "$p" "error=UNAVAILABLE: harepd: local database unreachable" \
    "peer's gRPC status and details in the evidence"
probe_spec n3 status 14 down
fs_mark
v=$(fs_line 4 '^verdict .*answered=001')
is "$(fs_field "$v" rw)" "0" "two neighbours down: 2 of 4 is no majority"
probe_spec n2 answer ip=127.0.0.2 $SAME obs=1/1
probe_spec n3 answer ip=127.0.0.3 $SAME obs=1/1

# ---- pause / resume ----
fs_mark
fs_line 8 '^verdict .*rw=1' >/dev/null
fs send control pause
sleep 0.5
fs_mark
sleep 2.5
ok "[ \$(fs_since | grep -c '^view ') -ge 2 ]" "paused: views go on"
is "$(fs_since | grep -c '^verdict ')" "0" "paused: no verdicts"
fs send control resume
fs_mark
ok "fs_wait 2 '^verdict .*rw=1'" \
    "resumed: verdicts again at once, rw kept (it was allowed before the pause)"

# ---- reload: policy seed, from the same file ----
probe_conf "$conf" n1 127.0.0.1 "\"$N2\", \"$N3\"" "$W" "policy: seed"
probe_spec n2 answer ip=127.0.0.2 masters=127.0.0.2 slaves=127.0.0.3
fs push-config
fs_mark
v=$(fs_line 4 '^verdict .*policy=seed')
is "$(fs_field "$v" rw)/$(fs_field "$v" agrees)" "1/011" \
    "seed: first neighbour not synced, the witness decides"
like "$(fs_field "$v" reason)" "neighbour $N2 is not synced.*synced with witness $W" \
    "seed reason names both steps"
probe_spec n2 answer ip=127.0.0.2 $SAME
fs_mark
v=$(fs_line 4 "^verdict .*reason=synced with neighbour $N2")
is "$(fs_field "$v" rw)" "1" "seed: Go peer (no observation) synced: rw"

# ---- a query that hangs (repmgr.nodes locked) ends at the deadline ----
fs_mark
fs_line 4 '^verdict .*rw=1' >/dev/null
pg_psql -d repmgr -c "begin" -c "lock table repmgr.nodes in access exclusive mode" \
    -c "select pg_sleep(3)" -c "commit" &
locker=$!
fs_mark
view=$(fs_line 5 '^view .*db_error=.+')
like "$(fs_field "$view" db_error)" "query timed out after 1000 ms|statement timeout" \
    "a blocked query ends at connectionDeadline: the view says so"
v=$(fs_line 4 '^verdict .*reason=local database unreachable')
is "$(fs_field "$v" rw)" "0" "blocked query: rw denied"
ok "[ $(fs_field "$v" tick_us) -lt 1500000 ]" \
    "blocked query: the tick still ends within the deadline ($(fs_field "$v" tick_us) us)"
wait "$locker"
fs_mark
ok "fs_wait 10 '^verdict .*rw=1'" "lock released: rw again"

# ---- the database goes away and comes back ----
probe_conf "$conf" n1 127.0.0.1 "\"$N2\", \"$N3\"" "$W"
fs push-config
(cd / && pg_as "$PGBIN/pg_ctl" -D "$PGDATA" -m fast -w stop >/dev/null 2>&1)
fs_mark
view=$(fs_line 5 '^view .*db_error=.+')
like "$view" "db_error=.+" "database stopped: the view says why"
v=$(fs_line 5 '^verdict .*reason=local database unreachable')
is "$(fs_field "$v" rw)/$(fs_field "$v" ro)" "0/0" "database down: deny rw and ro"
ok "[ $(fs_field "$v" tick_us) -lt 500000 ]" \
    "database down: fenced without waiting for peers ($(fs_field "$v" tick_us) us)"
# down long enough for a doubling backoff to reach 16 s (it used to: the
# view stayed "unreachable" up to 30 s after a restart, a repmgr rejoin)
sleep 16
(cd "$PG_TMP" && pg_as env HOME="$PG_TMP" "$PGBIN/pg_ctl" -D "$PGDATA" \
    -l "$PG_TMP/server.log" -w start >/dev/null 2>&1 </dev/null)
fs_mark
if fs_wait 2.5 '^view .*db_error=$'; then ok true "database back after 16 s: reconnected within a watchDog"
else ok false "database back after 16 s: reconnected within a watchDog"
	diag "$(fs_since | grep -E '^(view|log)' | cut -c1-220)"; fi
# these peers report no gate (as the Go harepd's): rw after the hold-down
if fs_wait 7 '^verdict .*rw=1'; then ok true "then rw again after the hold-down (4250 ms)"
else ok false "then rw again after the hold-down (4250 ms)"
	diag "$(fs_since | grep -E '^(verdict|log)' | cut -c1-220)"; fi
ok "fs_since | grep -q 'local database reachable again'" "recovery logged"
fs_stop
like "$FS_EXIT" "^exit status=0 signal=0 " "shutdown: exit 0"

# ---- server-only (the witness): views, no verdict; it asks the data
# nodes, whose timelines it follows (docs/POLICY.md) ----
: >"$PROBE_TMP/n2.out.before"
cp "$PROBE_TMP/n2.out" "$PROBE_TMP/n2.out.before"
fs_start probe "$conf" server_only=1 || bail "probe did not start"
sleep 2.5
ok "[ \$(grep -c '^view ' '$FS_OUT') -ge 2 ]" "server-only: views"
is "$(grep -c '^verdict ' "$FS_OUT")" "0" "server-only: no verdicts"
ok "! cmp -s '$PROBE_TMP/n2.out' '$PROBE_TMP/n2.out.before'" \
    "server-only: the data nodes are asked (their timelines)"
fs_stop

# ---- tick duration with 0, 1 and 4 blackholed peers (deadline 1 s) ----
tick_median() {	# tick_median CONF: median tick_us of 5 verdicts
	fs_start probe "$1" || return 1
	fs_wait 15 '^verdict seq=6 '
	fs_stop
	grep '^verdict ' "$FS_OUT" | sed -n '2,6p' |
	    sed 's/.* tick_us=\([0-9]*\).*/\1/' | sort -n | sed -n 3p
}
BH=() ; for i in 1 2 3 4; do BH+=("\"$(probe_target bh$i 127.0.0.$((4 + i)))\""); done
probe_conf "$conf" n1 127.0.0.1 "\"$N2\", \"$N3\"" "$W"
t0=$(tick_median "$conf")
probe_conf "$conf" n1 127.0.0.1 "\"$N2\", \"$N3\", ${BH[0]}" "$W"
t1=$(tick_median "$conf")
probe_conf "$conf" n1 127.0.0.1 "\"$N2\", \"$N3\", ${BH[0]}, ${BH[1]}, ${BH[2]}, ${BH[3]}" "$W"
t4=$(tick_median "$conf")
diag "tick duration (median of 5, deadline 1 s): 0 blackholed ${t0} us, 1 blackholed ${t1} us, 4 blackholed ${t4} us"
ok "[ '$t0' -lt 200000 ]" "no dead peer: a tick takes milliseconds ($t0 us)"
# a peer that did not answer last time gets 250 ms (the full deadline at
# every 4th ask in a row): the first tick waits one deadline, the next ones
# about 250 ms, however many peers are dead
ok "[ '$t1' -ge 250000 ] && [ '$t1' -lt 600000 ]" "1 blackholed peer: 250 ms after its first miss ($t1 us)"
ok "[ '$t4' -ge 250000 ] && [ '$t4' -lt 600000 ]" "4 blackholed peers: still 250 ms ($t4 us)"
first=$(grep '^verdict ' "$FS_OUT" | head -1 | sed 's/.* tick_us=\([0-9]*\).*/\1/')
ok "[ '$first' -ge 1000000 ] && [ '$first' -lt 1500000 ]" "4 blackholed peers: the first tick waits one deadline ($first us)"
full=$(grep '^verdict ' "$FS_OUT" | sed -n '2,6p' | sed 's/.* tick_us=\([0-9]*\).*/\1/' | sort -n | tail -1)
ok "[ '$full' -ge 1000000 ]" "... and every 4th ask in a row gets the full deadline again ($full us)"
v=$(grep '^verdict ' "$FS_OUT" | tail -1)
is "$(fs_field "$v" answered)/$(fs_field "$v" rw)" "1100001/0" \
    "4 blackholed of 8 members: 4 agree, 5 needed, rw denied"

# ---- shutdown while a tick waits for a dead peer (deadline 5 s) ----
PROBE_DEADLINE=5 probe_conf "$conf" n1 127.0.0.1 "\"$N2\", ${BH[0]}" "$W"
fs_start probe "$conf" || bail "probe did not start"
fs_wait 5 '^view '
sleep 0.5
t0=$(date +%s%N)
fs_stop
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
like "$FS_EXIT" "^exit status=0 signal=0 " "shutdown during a tick: clean exit"
ok "[ $ms -lt 1000 ]" "shutdown during a tick: the dead peer is not waited for ($ms ms)"
is "$(grep -c '^verdict ' "$FS_OUT")" "0" "shutdown during a tick: no verdict from cancelled calls"

for n in n2 n3 w; do probe_peer_stop $n; done
is "$(probe_sanitizer_reports)" "" "no sanitizer report from the worker or the peers"
done_testing
