#!/bin/bash
# e2e: the handover (docs/POLICY.md). Restarting harepd on a healthy
# primary, or killing any of its workers, costs no writes: HAProxy never
# marks the primary DOWN and pg_hba.conf is not rewritten. A frozen probe
# whose hba worker is killed still fences within the lease. After the old
# primary's PostgreSQL crashes, writes reach the promoted standby within
# 3 s of the promote.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/lib/cluster.sh"

CL_ALLOWRO=true
cl_suite_up n1 n2
cl_monitor_start
# writes must first be held by n1 through its own decision
ok 'wait_for 20 "[ \"\$(cl_status n1 \"d[\\\"pg_hba\\\"][\\\"rw\\\"]\")\" = allow ]"' "n1's pg_hba allows rw"

hba_stamp() { stat -c '%i %Y.%y' "$CL_DIR/n1/pg_hba.conf"; }
worker_pid() { cl_status n1 "[w['pid'] for w in d['workers'] if w['name'] == '$1'][0]"; }
# cl_watch_writer SECONDS: n1 is the only write server UP at every
# sample; prints the first deviation
watch_n1() { cl_hold "$1" n1; }

# ---- restart of the whole daemon: SIGTERM, start again
stamp=$(hba_stamp)
( watch_n1 12 >"$CL_DIR/watch.out" ) & w=$!
cl_harepd_stop n1
cl_harepd_start n1
wait "$w"; dev=$(cat "$CL_DIR/watch.out")
is "$dev" "" "SIGTERM + start of harepd on n1: HAProxy never marks n1 DOWN"
is "$(hba_stamp)" "$stamp" "SIGTERM + start: pg_hba.conf not rewritten"
is "$(cl_status n1 'd["verdict"]["rw"]')" "allow" "after the restart n1's verdict allows rw"
diag "n1 verdict: $(cl_status n1 'd["verdict"]["reason"]')"
# the new supervisor handed its first hba worker the recorded allow with
# its decision time: the restart did not give it a fresh lease
rec=$(grep -a 'last verdict before this start' "$CL_DIR/n1/harepd/stderr.log" | tail -1)
like "$rec" 'rw allow, decided [0-9]+ ms ago' "the restarted harepd took the last verdict from its record"
diag "$(printf '%s' "$rec" | sed 's/.*"msg":"\([^"]*\)".*/\1/')"

# ---- down for longer than the lease: the recorded allow has run out, so
# the first hba worker fences at once (no fresh lease for what is on
# disk), and the probe's first allow lifts the fence
lease=$(cl_status n1 'd["verdict"]["lease_ms"]' 2>/dev/null || echo 3000)
case $lease in ''|*[!0-9]*) lease=3000 ;; esac
cl_harepd_stop n1
sleep $(( lease / 1000 + 2 ))
log=$CL_DIR/n1/harepd/stderr.log
nexp=$(grep -ac 'arrived after its lease ran out' "$log")
nfence=$(grep -ac 'pg_hba.conf fenced' "$log")
cl_harepd_start n1
ok 'wait_for 10 "[ \$(grep -ac \"arrived after its lease ran out\" $log) -gt $nexp ]"' \
    "started after more than a lease: the recorded allow counts as run out"
ok 'wait_for 10 "[ \$(grep -ac \"pg_hba.conf fenced\" $log) -gt $nfence ]"' \
    "... and n1's pg_hba.conf is fenced at once"
ok 'cl_wait_writer n1 30' "... until n1's probe allows rw again: writes on n1"

# ---- stop-client, stop, start (the documented shutdown order)
stamp=$(hba_stamp)
( watch_n1 12 >"$CL_DIR/watch.out" ) & w=$!
ok 'cl_ctl n1 stop-client' "harepdctl stop-client on n1"
cl_harepd_stop n1
cl_harepd_start n1
wait "$w"; dev=$(cat "$CL_DIR/watch.out")
is "$dev" "" "stop-client + stop + start: HAProxy never marks n1 DOWN"
is "$(hba_stamp)" "$stamp" "stop-client + stop + start: pg_hba.conf not rewritten"

# ---- kill -9 of each worker
for role in probe hba rpc; do
	stamp=$(hba_stamp)
	pid=$(worker_pid "$role")
	( watch_n1 8 >"$CL_DIR/watch.out" ) & w=$!
	ok "kill -KILL $pid" "kill -9 of n1's $role worker (pid $pid)"
	wait "$w"; dev=$(cat "$CL_DIR/watch.out")
	is "$dev" "" "kill -9 $role: HAProxy never marks n1 DOWN"
	is "$(hba_stamp)" "$stamp" "kill -9 $role: pg_hba.conf not rewritten"
	ok 'wait_for 10 "[ \"\$(worker_pid '"$role"')\" != null ]"' "the $role worker was restarted"
done

# ---- lease: probe frozen, then hba killed: the fence comes no later
# than leaseMs + 0.5 s after the last decision
lease=$(cl_status n1 'd["verdict"]["lease_ms"]')
probe=$(worker_pid probe)
hba=$(worker_pid hba)
kill -STOP "$probe"
t_stop=$(cl_now_ms)
# the first moment the file denies, watched from the freeze on
( while ! cl_hba_denies n1 harw; do sleep 0.02; done; cl_now_ms >"$CL_DIR/fenced.at" ) &
watcher=$!
sleep 1.5
kill -KILL "$hba"
t_kill=$(cl_now_ms)
# the supervisor's last verdict is the last decision of the frozen probe
last=$(cl_status n1 'd["verdict"]["decided_at_ms"]')
wait_for 20 "[ -s '$CL_DIR/fenced.at' ]"
kill "$watcher" 2>/dev/null
fenced=$(cat "$CL_DIR/fenced.at" 2>/dev/null)
diag "probe frozen $(( t_stop - last )) ms after the last decision, hba killed $(( t_kill - last )) ms after it"
kill -CONT "$probe"
ok '[ -n "$fenced" ]' "frozen probe, hba killed: n1 fences"
late=$(( ${fenced:-$(cl_now_ms)} - last ))
cl_time lease_last_decision_to_fence_ms "$late"
ok '[ "$late" -le $(( lease + 500 )) ]' "fence ${late} ms after the last decision (lease ${lease} ms + 0.5 s)"
ok 'cl_wait_writer n1 30' "probe thawed: writes on n1 again"

# ---- crash of the primary's PostgreSQL (its harepd stays up), promote
cl_pg_stop n1 immediate
ok 'wait_for 10 "[ -z \"\$(cl_hap_up pg_rw)\" ]"' "n1 crashed: no server UP for writes"
ok 'wait_for 10 "cl_hba_denies n1 harw"' "n1 crashed: its harepd writes reject"
t0=$(cl_now_ms)
ok 'cl_promote n2' "repmgr standby promote on n2"
t_promoted=$(cl_now_ms)
t_routed=$(cl_routed_at n2 60)
ok '[ -n "$t_routed" ]' "after promote: HAProxy routes writes to n2"
got=
while [ "$(( $(cl_now_ms) - t_promoted ))" -lt 60000 ]; do
	got=$(cl_insert after-promote) && [ "$got" = n2 ] && break
	got=
	sleep 0.05
done
is "$got" "n2" "after promote: an INSERT through HAProxy lands on n2"
cl_time promote_cmd_ms $(( t_promoted - t0 ))
cl_time handover_promote_to_routed_ms $(( t_routed - t_promoted ))
ok '[ $(( t_routed - t_promoted )) -le 3000 ]' "writes routed $(( t_routed - t_promoted )) ms after the promote returned (<= 3000)"
diag "n2 verdict: $(cl_status n2 'd["verdict"]["reason"]')"

cl_monitor_stop "50-handover"
[ "$TAP_FAILED" -eq 0 ] || cl_dump
done_testing
