#!/usr/bin/env bash
# Parts 3, 4 and 6: the whole daemon as it runs in production, in steady
# state. The real harepd (supervisor as root, rpc as nobody, probe and hba
# as postgres) against a real PostgreSQL 15 with the repmgr extension (n1
# registered by `repmgr primary register`, n2 and the witness rows as
# repmgr writes them) and pg_stat_statements, its pg_hba.conf the one that
# PostgreSQL loads; the neighbour n2 and the witness are real gRPC servers
# (tests/helpers/probe_fakepeer) answering in agreement, so n1 holds rw.
#
#   3. PSS (/proc/PID/smaps_rollup) of the supervisor and each worker, and
#      their sum.
#   4. CPU time (utime+stime, /proc/PID/stat) per tick of each process over
#      BENCH_TICKS ticks; SQL statements per tick (pg_stat_statements, and
#      per worker from log_statement=all by application_name); SQL
#      statements per GetClusterInfo request under bench/rpc_load.
#   6. kill -9 of each worker: time to the new one's Hello (the
#      supervisor's "worker X (pid N) is ready", stamped as harepd writes
#      it to stderr), and whether pg_hba.conf changed meanwhile (its
#      checksum sampled every 20 ms until 3 ticks after the restart).
. "$(dirname "$0")/../tests/lib/tap.sh"
. "$(dirname "$0")/../tests/lib/pg.sh"
. "$(dirname "$0")/../tests/helpers/probe_lib.sh"
. "$(dirname "$0")/../tests/helpers/sup_lib.sh"
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" -eq 0 ] || { echo "part daemon: needs root (privilege drop, PostgreSQL as postgres)" >&2; exit 1; }
TICKS=${BENCH_TICKS:-30}
WATCHDOG=1
LOADSECS=${BENCH_RPC_SECS:-4}
fail() { echo "part daemon: $*" >&2; exit 1; }

pg_start "shared_preload_libraries = 'pg_stat_statements,repmgr'" \
    "pg_stat_statements.track = all" "log_statement = all" \
    "log_line_prefix = '%m [%a] '"
probe_setup
sup_init
trap 'sup_cleanup; probe_cleanup' EXIT
probe_repmgr_db || fail "repmgr primary register failed"
probe_node 2 n2 standby 127.0.0.2
probe_node 3 w witness 127.0.0.3
pg_psql -d repmgr -c "create extension pg_stat_statements" || fail "pg_stat_statements"

SAME="masters=127.0.0.1 slaves=127.0.0.2 witness=127.0.0.3"
probe_peer n2 127.0.0.2 answer ip=127.0.0.2 id=2 name=n2 $SAME obs=1/1 || fail "peer n2"
probe_peer w 127.0.0.3 answer ip=127.0.0.3 id=3 name=w $SAME obs=0/1 || fail "peer w"
HBA=$PGDATA/pg_hba.conf
cat >"$SUP_CONF" <<EOF
harepd:
  nodeName: n1
  primaryIP: 127.0.0.1
  hbaConfig: $HBA
  haproxy:
    server: [127.0.0.9]
    users: { readWrite: harw }
  repmgr: { user: repmgr, db: repmgr, host: "$PGHOST", port: $PGPORT }
  gRPC:
    bindAddress: 127.0.0.1
    bindPort: $SUP_PORT
    neighbours: ["$(probe_target n2 127.0.0.2)"]
    witness: "$(probe_target w 127.0.0.3)"
    connectionDeadline: 1
  watchDog: $WATCHDOG
  logs: { filePath: $SUP_LOG }
  control: { socket: $SUP_SOCK }
EOF
"$HAREPD" -t -f "$SUP_CONF" >&2 || fail "the config does not load"
CONFDESC="harepd -f CONF (dual mode, watchDog $WATCHDOG, connectionDeadline 1, 1 neighbour + witness answering in agreement, PostgreSQL 15 + repmgr + pg_stat_statements)"

sup_start
wait_for 20 '[ "$(sup_status "(d[\"pg_hba\"] or {}).get(\"rw\")" 2>/dev/null)" = allow ]' ||
	{ sup_ctl status >&2; fail "harepd never allowed rw"; }
sleep $((3 * WATCHDOG))	# steady state: connections open, nothing left to write
pids() { sup_status '" ".join(["sup=%d" % d["daemon"]["pid"]] + ["%s=%s" % (x["name"], x["pid"]) for x in d["workers"]])'; }
declare -A PID
for kv in $(pids); do PID[${kv%%=*}]=${kv#*=}; done
bench_say "harepd: supervisor ${PID[sup]}, rpc ${PID[rpc]}, probe ${PID[probe]}, hba ${PID[hba]}"
ROLES="sup rpc probe hba"
name() { [ "$1" = sup ] && echo supervisor || echo "$1 worker"; }

# ---- 3. memory ----
total=0 total_rss=0
for r in $ROLES; do
	read -r pss rss <<<"$(bench_pss_rss "${PID[$r]}")"
	[ -n "$pss" ] || fail "no smaps_rollup for $r (${PID[$r]})"
	total=$((total + pss)) total_rss=$((total_rss + rss))
	bench_fig item=3 what="PSS, $(name "$r") (steady state)" unit=kB value="$pss" \
	    cmd="awk '/^Pss:/' /proc/<pid>/smaps_rollup of $CONFDESC" note="RSS $rss kB"
done
bench_fig item=3 what="PSS, sum of the 4 harepd processes" unit=kB value="$total" \
    cmd="awk '/^Pss:/' /proc/<pid>/smaps_rollup of $CONFDESC" note="RSS sum $total_rss kB"

# ---- 4. CPU and SQL per tick ----
seq_now() { sup_status 'd["verdict"]["seq"]'; }
logpos() { stat -c %s "$PG_TMP/server.log"; }
# statements logged since byte $1 of the server log, per application
sql_by_app() {
	tail -c +"$(($1 + 1))" "$PG_TMP/server.log" |
	    grep -E '\] LOG:  (statement|execute [^:]*):' |
	    sed -n 's/^[^[]*\[\([^]]*\)\] LOG: .*/\1/p' | sort | uniq -c
}
stmts_total() {	# calls in pg_stat_statements by harepd's user (repmgr)
	pg_psql -d repmgr -c "select coalesce(sum(calls), 0) from pg_stat_statements s
	    join pg_roles r on r.oid = s.userid where r.rolname = 'repmgr'"
}
declare -A C0 C1 S0 S1
pg_psql -d repmgr -c "select pg_stat_statements_reset()" >/dev/null
lp0=$(logpos)
s0=$(seq_now)
for r in $ROLES; do C0[$r]=$(bench_cpu_us "${PID[$r]}") S0[$r]=$(bench_sched_ns "${PID[$r]}"); done
sleep $((TICKS * WATCHDOG))
for r in $ROLES; do C1[$r]=$(bench_cpu_us "${PID[$r]}") S1[$r]=$(bench_sched_ns "${PID[$r]}"); done
s1=$(seq_now)
n=$((s1 - s0))
byapp=$(sql_by_app "$lp0")
calls=$(stmts_total)
bench_say "$n ticks (verdicts $s0 -> $s1); statements by application: $(echo $byapp)"
pg_psql -d repmgr -c "select s.calls, left(regexp_replace(s.query, '\s+', ' ', 'g'), 100)
    from pg_stat_statements s join pg_roles r on r.oid = s.userid
    where r.rolname = 'repmgr' order by calls desc" | sed 's/^/   sql: /' >&2
[ "$n" -gt 0 ] || fail "no tick in $((TICKS * WATCHDOG)) s"
cpucmd="(utime+stime of /proc/<pid>/stat, after - before) / ticks, over $n ticks (verdict seq $s0 -> $s1) of $CONFDESC"
for r in $ROLES; do
	bench_fig item=4 what="CPU time per tick, $(name "$r")" unit=us \
	    value="$(awk -v a="${C0[$r]}" -v b="${C1[$r]}" -v n="$n" 'BEGIN { printf "%.0f", (b - a) / n }')" \
	    cmd="$cpucmd" note="$(awk -v a="${C0[$r]}" -v b="${C1[$r]}" -v x="${S0[$r]}" -v y="${S1[$r]}" -v n="$n" 'BEGIN { printf "%.0f ms in all (10 ms clock ticks); by schedstat (ns, live threads) %.0f us/tick", (b - a) / 1000, (y - x) / n / 1000 }')"
done
bench_fig item=4 what="SQL statements per tick (all of harepd)" unit=stmts \
    value="$(awk -v c="$calls" -v n="$n" 'BEGIN { printf "%.2f", c / n }')" \
    cmd="select sum(calls) from pg_stat_statements (user repmgr), after pg_stat_statements_reset(), over $n ticks of $CONFDESC" \
    note="$calls statements in $n ticks"
for app in harepd-probe harepd-hba; do
	c=$(awk -v a="$app" '$2 == a { print $1 }' <<<"$byapp")
	bench_fig item=4 what="SQL statements per tick, ${app#harepd-} worker" unit=stmts \
	    value="$(awk -v c="${c:-0}" -v n="$n" 'BEGIN { printf "%.2f", c / n }')" \
	    cmd="grep -c 'LOG:  statement|execute' [$app] in the server log (log_statement = all, log_line_prefix '%m [%a] '), over $n ticks of $CONFDESC"
done

# ---- 4. SQL per gRPC request ----
pg_psql -d repmgr -c "select pg_stat_statements_reset()" >/dev/null
lp0=$(logpos)
s0=$(seq_now)
"$HAREPD_BUILD/bench/rpc_load" -d "$LOADSECS" -c 8 -p "${PID[rpc]}" "127.0.0.1:$SUP_PORT" >"$SUP_DIR/load.out" 2>&1
s1=$(seq_now)
byapp=$(sql_by_app "$lp0")
calls=$(stmts_total)
read -r reqs errs srvus <<<"$(awk '$1 == 8 && NF == 9 { print $2, $7, $8 }' "$SUP_DIR/load.out")"
bench_say "under load: $reqs requests ($errs errors), $((s1 - s0)) ticks, $calls statements; by application: $(echo $byapp)"
[ -n "$reqs" ] && [ "$reqs" -gt 0 ] || { cat "$SUP_DIR/load.out" >&2; fail "rpc_load made no request"; }
# what the ticks during the load account for, at the rate measured above
tickrate=$(awk -v c="$(awk '{ s += $1 } END { print s + 0 }' <<<"$byapp")" 'BEGIN { print c }')
other=$(awk '$2 !~ /^(harepd-(probe|hba)|psql)$/ { s += $1 } END { print s + 0 }' <<<"$byapp")
bench_fig item=4 what="SQL statements per GetClusterInfo request" unit=stmts \
    value="$(awk -v o="$other" -v r="$reqs" 'BEGIN { printf "%.4f", o / r }')" \
    cmd="rpc_load -d $LOADSECS -c 8 127.0.0.1:<rpc port> against $CONFDESC; statements in the server log (log_statement = all) by any application but harepd-probe/harepd-hba (and this script's psql), / requests" \
    note="$reqs requests; meanwhile $calls statements in pg_stat_statements, all from $((s1 - s0)) probe/hba ticks ($tickrate logged by probe+hba)"
bench_fig item=4 what="rpc worker CPU per GetClusterInfo request (c=8, full daemon)" unit=us \
    value="$srvus" cmd="rpc_load -d $LOADSECS -c 8 -p <rpc pid> 127.0.0.1:<rpc port> against $CONFDESC" \
    note="$reqs requests, $errs errors"

# ---- 6. a worker restart ----
hba_sum() { sha256sum "$HBA" | cut -c1-16; }
ready_stamp() {	# ready_stamp ROLE OLDPID: stamp of the new worker's Hello
	grep -E "worker $1 \(pid [0-9]+\) is ready" "$SUP_DIR/stderr.log" |
	    grep -v "(pid $2)" | tail -1 | cut -d' ' -f1
}
for r in rpc probe hba; do
	old=$(sup_worker_pid "$r") || fail "no $r worker"
	before=$(hba_sum)
	lc0=$(sup_status '(d["pg_hba"] or {}).get("last_changed_at_ms")')
	# sample the file's checksum until told to stop
	( while [ ! -e "$SUP_DIR/stop-watch" ]; do hba_sum; sleep 0.02; done ) \
	    >"$SUP_DIR/watch.$r" 2>/dev/null &
	watcher=$!
	sleep 0.2
	t0=${EPOCHREALTIME/./}
	kill -KILL "$old"
	# the first OK answer after the kill, for the rpc worker
	if [ "$r" = rpc ]; then
		( while :; do
			out=$("$HAREPD_BUILD/tests/helpers/rpc_call" -d 200 "127.0.0.1:$SUP_PORT" 2>/dev/null)
			case $out in status=OK*) echo "${EPOCHREALTIME/./}"; break ;; esac
		done ) >"$SUP_DIR/rpc-ok" &
		caller=$!
	fi
	wait_for 10 '[ -n "$(ready_stamp $r $old)" ]' || fail "$r: no new worker ready after kill -9"
	t1=$(ready_stamp "$r" "$old")
	[ "$r" = rpc ] && { wait_for 10 '[ -s "$SUP_DIR/rpc-ok" ]'; kill "$caller" 2>/dev/null; wait "$caller" 2>/dev/null; }
	sleep $((3 * WATCHDOG))
	touch "$SUP_DIR/stop-watch"
	wait "$watcher"
	rm -f "$SUP_DIR/stop-watch"
	after=$(hba_sum)
	lc1=$(sup_status '(d["pg_hba"] or {}).get("last_changed_at_ms")')
	restarts=$(sup_status "w[\"$r\"][\"restarts\"]")
	versions=$(sort -u "$SUP_DIR/watch.$r" | wc -l)
	backoff=$(grep -E "worker $r \(pid $old\) .*restarting in" "$SUP_DIR/stderr.log" |
	    sed -n 's/.*restarting in \([0-9]*\) ms.*/\1/p' | tail -1)
	if [ "$versions" -le 1 ] && [ "$before" = "$after" ]; then
		changed=no
	else
		changed="yes ($versions versions)"
	fi
	bench_say "$r: killed $old at $t0, new worker ready at $t1 (backoff ${backoff:-?} ms); pg_hba.conf $before -> $after, $versions version(s) seen in $(wc -l <"$SUP_DIR/watch.$r") samples; last_changed_at_ms $lc0 -> $lc1"
	bench_fig item=6 what="restart of the $r worker: kill -9 to new worker's Hello" unit=ms \
	    value="$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", (b - a) / 1000 }')" \
	    cmd="kill -9 <$r pid> under $CONFDESC; time of the supervisor's stderr line \"worker $r (pid N) is ready\" as read" \
	    note="includes the supervisor's restart backoff of ${backoff:-?} ms; harepdctl status: restarts $restarts, pid $old -> $(sup_worker_pid "$r")"
	if [ "$r" = rpc ]; then
		ok_at=$(cat "$SUP_DIR/rpc-ok")
		bench_fig item=6 what="restart of the rpc worker: kill -9 to first OK GetClusterInfo" unit=ms \
		    value="$(awk -v a="$t0" -v b="$ok_at" 'BEGIN { if (b > 0) printf "%.1f", (b - a) / 1000 }')" \
		    cmd="tests/helpers/rpc_call -d 200 127.0.0.1:<rpc port> in a loop from the kill on, under $CONFDESC" \
		    note="polling: each call is a new process (a few ms)"
	fi
	bench_fig item=6 what="restart of the $r worker: pg_hba.conf changed meanwhile" unit= \
	    value="$changed" \
	    cmd="sha256sum pg_hba.conf every 20 ms from 0.2 s before the kill to 3 ticks after the new Hello, under $CONFDESC" \
	    note="$before -> $after; status last_changed_at_ms $lc0 -> $lc1"
	wait_for 10 "sup_running $r" || fail "$r not running again"
done
