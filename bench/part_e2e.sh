#!/usr/bin/env bash
# Part 5: from the e2e harness (tests/e2e/lib/cluster.sh): a real cluster
# in network namespaces (n1 primary, n2 standby, witness wt, repmgrd on
# each, HAProxy with pgsql-check, harepd on every node; watchDog and
# connectionDeadline 1 s as the e2e suite runs them).
#
#   isolation to fence: n1's link cut (cl_link_down n1) -> n1's
#     pg_hba.conf rejects harw from HAProxy. Link restored and n1 back to
#     rw between runs, so all runs share one cluster.
#   promote to writes routed: n1's PostgreSQL crashed (immediate stop),
#     then `repmgr standby promote` on n2 -> the first INSERT through
#     HAProxy's write port that lands on n2. A fresh cluster per run.
#
# Each figure is the median of BENCH_RUNS runs (default 5).
. "$(dirname "$0")/../tests/lib/tap.sh"
. "$(dirname "$0")/lib.sh"
RUNS=${BENCH_RUNS:-5}
LIB=$TOP/tests/e2e/lib/cluster.sh

not_measured() {
	local why=$1
	bench_fig item=5 what="promote to writes routed (median of $RUNS)" value= unit=ms \
	    cmd="bench/part_e2e.sh (tests/e2e/lib/cluster.sh)" note="not measured: $why"
	bench_fig item=5 what="isolation to fence (median of $RUNS)" value= unit=ms \
	    cmd="bench/part_e2e.sh (tests/e2e/lib/cluster.sh)" note="not measured: $why"
	exit 0
}
[ "$(id -u)" -eq 0 ] || not_measured "needs root (network namespaces)"
[ -f "$LIB" ] || not_measured "the e2e harness ($LIB) is not in the tree"
. "$LIB"
for f in cl_init cl_up cl_harepd_start_all cl_down cl_link_down cl_link_up \
    cl_hba_denies cl_hba_allows cl_insert cl_promote cl_pg_stop cl_hap_up cl_ctl; do
	declare -F "$f" >/dev/null || not_measured "the e2e harness has no $f"
done
command -v haproxy >/dev/null && command -v repmgr >/dev/null ||
	not_measured "haproxy or repmgr missing (make deps)"

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
CL_NO_TRAP=1
trap 'cl_down' EXIT
E=$BENCH_OUT/e2e
mkdir -p "$E"
: >"$E/isolation" ; : >"$E/promote"

cluster() {	# cluster N: a fresh cluster, harepd everywhere, n1 takes writes
	cl_down
	CL_DIR= CL_PFX=hb$$c$1
	cl_init n1 n2 || return 1
	cl_up || return 1
	cl_harepd_start_all || return 1
	steady n1 60
}
steady() {	# steady NODE TIMEOUT: NODE allows writes and takes an INSERT
	if declare -F cl_wait_writer >/dev/null; then
		wait_for "$2" "cl_hba_allows $1 harw" && cl_wait_writer "$1" "$2"
	else
		wait_for "$2" "cl_hba_allows $1 harw && [ \"\$(cl_hap_up pg_rw)\" = $1 ] && [ \"\$(cl_insert bench)\" = $1 ]"
	fi
}

isolation_run() {	# isolation_run I
	local t0 t1 lc
	steady n1 60 || { echo "part e2e: n1 not the writer before isolation $1" >&2; return 1; }
	t0=$(now_ms)
	cl_link_down n1
	wait_for 30 'cl_hba_denies n1 harw' || { cl_link_up n1; echo "part e2e: n1 never fenced" >&2; return 1; }
	t1=$(now_ms)
	# exact: when n1's harepd changed the file (its control socket is a
	# unix socket, reachable with the link down); the polled time otherwise
	lc=$(cl_ctl n1 status --json 2>/dev/null | python3 -c 'import json,sys; print((json.load(sys.stdin)["pg_hba"] or {}).get("last_changed_at_ms") or "")' 2>/dev/null)
	cl_link_up n1
	if [ -n "$lc" ] && [ "$lc" -ge "$t0" ] && [ "$lc" -le "$t1" ]; then
		echo $((lc - t0)) >>"$E/isolation"
	else
		echo $((t1 - t0)) >>"$E/isolation"
	fi
	bench_say "isolation run $1: n1's harepd rejected harw $((${lc:-$t1} - t0)) ms after its link went down (seen by polling at $((t1 - t0)) ms)"
}

promote_run() {	# promote_run I
	local t0 tp t1 who
	cl_pg_stop n1 immediate
	t0=$(now_ms)
	cl_promote n2 || { echo "part e2e: repmgr standby promote failed" >&2; return 1; }
	tp=$(now_ms)
	# the steps on the way: n2's harepd changes its pg_hba.conf to allow
	# (exact: status pg_hba.last_changed_at_ms, same clock as t0), HAProxy
	# shows n2 UP (polled: unknown when the INSERT got there first)
	local th= tu= reasons= r lc
	t1=
	while [ $(( $(now_ms) - t0 )) -lt 120000 ]; do
		r=$(cl_ctl n2 status --json 2>/dev/null | python3 -c 'import json,sys; v=json.load(sys.stdin)["verdict"] or {}; print(v.get("rw"), v.get("reason"))' 2>/dev/null)
		case $reasons in *"$r"*) ;; *) reasons+="$(( $(now_ms) - t0 )) ms: $r; " ;; esac
		[ -z "$tu" ] && [ "$(cl_hap_up pg_rw)" = n2 ] && tu=$(( $(now_ms) - t0 ))
		if [ "$(cl_insert bench)" = n2 ]; then t1=$(now_ms); break; fi
		sleep 0.05
	done
	[ -n "$t1" ] || { echo "part e2e: writes never reached n2" >&2; return 1; }
	lc=$(cl_ctl n2 status --json 2>/dev/null | python3 -c 'import json,sys; print((json.load(sys.stdin)["pg_hba"] or {}).get("last_changed_at_ms") or "")' 2>/dev/null)
	[ -n "$lc" ] && [ "$lc" -ge "$t0" ] && th=$((lc - t0))
	echo "$((t1 - t0)) $((tp - t0)) ${th:--} ${tu:--}" >>"$E/promote"
	bench_say "promote run $1: promote took $((tp - t0)) ms; n2's pg_hba.conf allows at ${th:-?} ms, HAProxy UP at ${tu:-?} ms, INSERT on n2 at $((t1 - t0)) ms"
	bench_say "  n2's verdicts meanwhile (polled): $reasons"
}

t=$SECONDS
cluster 1 || not_measured "the cluster did not come up (cl_up / harepd / n1 never took writes)"
bench_say "cluster up and steady in $((SECONDS - t)) s"
for i in $(seq "$RUNS"); do isolation_run "$i" || break; done
for i in $(seq "$RUNS"); do
	if [ "$i" -gt 1 ]; then
		t=$SECONDS
		cluster "$i" || { echo "part e2e: cluster $i did not come up" >&2; break; }
		bench_say "cluster $i up and steady in $((SECONDS - t)) s"
	fi
	promote_run "$i" || break
done

ISOCMD="cl_link_down n1 (tests/e2e/lib/cluster.sh; n1 n2 wt, watchDog $CL_WATCHDOG, connectionDeadline $CL_DEADLINE) until cl_hba_denies n1 harw (polled every 50 ms); the time is n1's harepdctl status pg_hba.last_changed_at_ms"
PROCMD="cl_pg_stop n1 immediate; cl_promote n2 (repmgr standby promote) until cl_insert through HAProxy :$CL_RW_PORT lands on n2, polled (tests/e2e/lib/cluster.sh; watchDog $CL_WATCHDOG, connectionDeadline $CL_DEADLINE); fresh cluster per run"
n=$(wc -l <"$E/promote")
bench_fig item=5 what="promote to writes routed (median of $n)" unit=ms \
    value="$(cut -d' ' -f1 "$E/promote" | bench_median)" cmd="$PROCMD" \
    note="$( [ "$n" -lt "$RUNS" ] && echo "only $n of $RUNS runs; ")runs: $(cut -d' ' -f1 "$E/promote" | tr '\n' ' ')ms; medians from the promote's start: repmgr standby promote returns $(cut -d' ' -f2 "$E/promote" | bench_median) ms, n2's harepd allows in pg_hba.conf $(cut -d' ' -f3 "$E/promote" | bench_median) ms, HAProxy has n2 UP $(cut -d' ' -f4 "$E/promote" | bench_median) ms (where seen before the INSERT)"
n=$(wc -l <"$E/isolation")
bench_fig item=5 what="isolation to fence (median of $n)" unit=ms \
    value="$(bench_median <"$E/isolation")" cmd="$ISOCMD" \
    ref=$(( (CL_WATCHDOG + CL_DEADLINE + 1) * 1000 )) ref_what="watchDog + deadline + 1 s" \
    note="$( [ "$n" -lt "$RUNS" ] && echo "only $n of $RUNS runs; ")runs: $(tr '\n' ' ' <"$E/isolation")ms"
