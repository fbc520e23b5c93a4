#!/usr/bin/env bash
# Part 7: the handover (docs/POLICY.md), on the e2e harness's cluster (n1
# primary, n2 standby, witness wt, repmgrd, HAProxy inter 500 fall 2
# rise 2, harepd everywhere with watchDog 1 s, connectionDeadline 1 s,
# leaseMs 3000). Each figure is the median of BENCH_RUNS runs (default 5).
#
#   promote (returned) to writes routed: n1's PostgreSQL crashed, its
#     harepd up; `repmgr standby promote` on n2 returns ->
#     HAProxy marks n2 UP in pg_rw (stats polled every 20 ms; an INSERT
#     then confirms it lands on n2). Fresh cluster per run.
#   restart of harepd on the primary (SIGTERM, start), kill -9 of each
#     worker: HAProxy samples (every 100 ms) with n1 not UP, and pg_hba.conf
#     rewrites (inode changes) per restart.
#   lease: n1's probe frozen (SIGSTOP), its hba worker killed 1.5 s later:
#     the fence's time after the last decision.
#   node loss: n1's harepd killed (kill -9) with its PostgreSQL (immediate
#     stop), `repmgr standby promote` on n2 at once -> HAProxy marks n2 UP,
#     counted from the loss. Fresh cluster per run.
#   split brain: n1 cut from n2 and the witness (HAProxy still reaches
#     it), n2 promoted at once -> n2 UP, from the cut; healed with n1 still
#     a primary; samples with two writers. Fresh cluster per run.
#   rolling timing: watchDog 1 -> 2, leaseMs 3000 -> 6000 one node at a
#     time with a failover in between: samples with two writers.
#   the seed's timing (watchDog 15, connectionDeadline 5, leaseMs 45000):
#     computed bounds, not run.
. "$(dirname "$0")/../tests/lib/tap.sh"
. "$(dirname "$0")/lib.sh"
RUNS=${BENCH_RUNS:-5}
LIB=$TOP/tests/e2e/lib/cluster.sh
CMD="bench/part_handover.sh (tests/e2e/lib/cluster.sh)"

not_measured() {
	bench_fig item=7 what="handover: promote returned to writes routed" \
	    value= unit=ms cmd="$CMD" note="not measured: $1"
	exit 0
}
[ "$(id -u)" -eq 0 ] || not_measured "needs root (network namespaces)"
. "$LIB"
command -v haproxy >/dev/null && command -v repmgr >/dev/null ||
	not_measured "haproxy or repmgr missing (make deps)"

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
trap 'cl_down' EXIT
E=$BENCH_OUT/handover
mkdir -p "$E"
: >"$E/promote"; : >"$E/restart"; : >"$E/lease"; : >"$E/loss"; : >"$E/split"
: >"$E/rolling"

cluster() {	# cluster N
	cl_down
	CL_DIR= CL_PFX=hh$$c$1
	cl_init n1 n2 || return 1
	cl_up || return 1
	cl_harepd_start_all || return 1
	wait_for 60 "cl_hba_allows n1 harw" && cl_wait_writer n1 60
}
inode() { stat -c %i "$CL_DIR/n1/pg_hba.conf"; }
wpid() { cl_ctl n1 status --json | python3 -c "import json,sys; print([w['pid'] for w in json.load(sys.stdin)['workers'] if w['name'] == '$1'][0])"; }

# samples of pg_rw without n1 UP, every 100 ms for $1 s; rewrites of the file
watch_n1() {
	local end=$(( $(now_ms) + $1 * 1000 )) down=0 ino changes=0 i
	ino=$(inode)
	while [ "$(now_ms)" -lt "$end" ]; do
		[ "$(cl_hap_up pg_rw)" = n1 ] || down=$((down + 1))
		i=$(inode); [ "$i" != "$ino" ] && { changes=$((changes + 1)); ino=$i; }
		sleep 0.1
	done
	echo "$down $changes"
}

restart_run() {	# restart_run KIND
	local r bg
	case $1 in
	sigterm) ( sleep 0.5; cl_harepd_stop n1; cl_harepd_start n1 ) & ;;
	stop-client) ( sleep 0.5; cl_ctl n1 stop-client >/dev/null; cl_harepd_stop n1; cl_harepd_start n1 ) & ;;
	*) ( sleep 0.5; kill -KILL "$(wpid "$1")" ) & ;;
	esac
	bg=$!
	r=$(watch_n1 10)
	# only the restarter: a bare wait would also wait for the daemons
	# it started
	wait "$bg"
	echo "$1 $r" >>"$E/restart"
	bench_say "restart $1: $r (samples with n1 not UP, pg_hba.conf rewrites)"
}

lease_run() {
	local probe hba t_stop last fenced
	cl_wait_writer n1 30 || return 1
	probe=$(wpid probe); hba=$(wpid hba)
	kill -STOP "$probe"; t_stop=$(now_ms)
	( while ! cl_hba_denies n1 harw; do sleep 0.02; done; now_ms >"$E/fenced.at" ) &
	sleep 1.5
	kill -KILL "$hba"
	last=$(cl_ctl n1 status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["verdict"]["decided_at_ms"])')
	wait_for 20 "[ -s '$E/fenced.at' ]"
	fenced=$(cat "$E/fenced.at"); rm -f "$E/fenced.at"
	kill -CONT "$probe"
	echo $((fenced - last)) >>"$E/lease"
	bench_say "lease run: fence $((fenced - last)) ms after the last decision (probe frozen $((t_stop - last)) ms after it)"
}

promote_run() {	# promote_run I
	local tp t1
	cl_pg_stop n1 immediate
	wait_for 10 "cl_hba_denies n1 harw" || return 1
	cl_promote n2 || return 1
	tp=$(now_ms)
	t1=$(cl_routed_at n2 60) || return 1
	cl_wait_writer n2 10 || return 1
	echo $((t1 - tp)) >>"$E/promote"
	bench_say "promote run $1: writes on n2 $((t1 - tp)) ms after the promote returned"
}

loss_run() {	# loss_run I
	local pids tl t1
	pids="$(cl_harepd_pid n1) $(pgrep -P "$(cl_harepd_pid n1)" | tr '\n' ' ')"
	tl=$(now_ms)
	kill -KILL $pids
	cl_pg_stop n1 immediate
	cl_promote n2 || return 1
	t1=$(cl_routed_at n2 60) || return 1
	cl_wait_writer n2 10 || return 1
	echo $((t1 - tl)) >>"$E/loss"
	bench_say "loss run $1: writes on n2 $((t1 - tl)) ms after n1 was lost"
}

# the asymmetric split brain of tests/e2e/60-split-brain.t: n1 cut from
# n2 and the witness (HAProxy still reaches it), n2 promoted at once; the
# cut to HAProxy marking n2 UP; then healed with n1 still a primary, 10 s
# of HAProxy samples with two servers UP (the monitor's count)
split_run() {	# split_run I
	local tl tr bad n
	cl_monitor_start
	tl=$(now_ms)
	cl_cut n1 n2 && cl_cut n1 wt || return 1
	cl_promote n2 || return 1
	tr=$(cl_routed_at n2 60) || return 1
	cl_heal n1 n2; cl_heal n1 wt
	sleep 10
	cl_monitor_halt
	read -r n bad <"$CL_DIR/monitor.count" || return 1
	echo "$((tr - tl)) $bad $n" >>"$E/split"
	bench_say "split run $1: n2 routed $((tr - tl)) ms after the cut; $bad of $n samples with two writers"
}

# tests/e2e/70-rolling-timing.t as a figure: watchDog 1 -> 2, leaseMs
# 3000 -> 6000 by reload, one node at a time, a failover in between;
# HAProxy samples with two writers over the whole change
rolling_run() {
	local h n bad
	cl_monitor_start
	for h in wt n2; do
		sed -i -e 's/^  watchDog: .*/  watchDog: 2\n  leaseMs: 6000/' "$CL_DIR/$h/harepd.yml"
		cl_ctl "$h" reload >/dev/null || return 1
		sleep 3
	done
	cl_pg_stop n1 immediate
	cl_promote n2 || return 1
	cl_wait_writer n2 40 || return 1
	cl_pg_start n1
	sed -i -e 's/^  watchDog: .*/  watchDog: 2\n  leaseMs: 6000/' "$CL_DIR/n1/harepd.yml"
	cl_ctl n1 reload >/dev/null || return 1
	sleep 8
	cl_monitor_halt
	read -r n bad <"$CL_DIR/monitor.count" || return 1
	echo "$bad $n" >>"$E/rolling"
	bench_say "rolling timing change: $bad of $n samples with two writers"
}

cluster 1 || not_measured "the cluster did not come up"
for k in sigterm stop-client probe hba rpc; do restart_run "$k"; done
for i in $(seq "$RUNS"); do lease_run || break; sleep 2; done
for i in $(seq "$RUNS"); do
	[ "$i" -gt 1 ] && { cluster "p$i" || break; }
	promote_run "$i" || break
done
for i in $(seq "$RUNS"); do
	cluster "l$i" || break
	loss_run "$i" || break
done
for i in $(seq "$RUNS"); do
	cluster "s$i" || break
	split_run "$i" || break
done
cluster r && rolling_run

n=$(wc -l <"$E/promote")
bench_fig item=7 what="handover: promote returned to writes routed (median of $n)" \
    unit=ms value="$(bench_median <"$E/promote")" ref=3000 ref_what="issue 12 bound" \
    cmd="cl_pg_stop n1 immediate; cl_promote n2; HAProxy stats polled every 20 ms, then an INSERT; $CMD" \
    note="runs: $(tr '\n' ' ' <"$E/promote")ms"
while read -r kind down rew; do
	bench_fig item=7 what="handover: restart ($kind) on the primary" unit=samples \
	    value="$down" ref=0 ref_what="HAProxy samples with n1 not UP (10 s, every 100 ms)" \
	    cmd="$CMD" note="pg_hba.conf rewritten $rew times"
done <"$E/restart"
n=$(wc -l <"$E/loss")
bench_fig item=7 what="handover: node lost (harepd + PostgreSQL killed), promote at once: loss to writes routed (median of $n)" \
    unit=ms value="$(bench_median <"$E/loss")" ref=5500 ref_what="leaseMs + connectionDeadline + 1.5 s" \
    cmd="kill -9 n1's harepd; cl_pg_stop n1 immediate; cl_promote n2; HAProxy stats polled every 20 ms, then an INSERT; $CMD" \
    note="runs: $(tr '\n' ' ' <"$E/loss")ms"
n=$(wc -l <"$E/split")
bench_fig item=7 what="handover: asymmetric split brain, promote at once: cut to writes routed (median of $n)" \
    unit=ms value="$(cut -d' ' -f1 "$E/split" | bench_median)" ref=5500 ref_what="leaseMs + connectionDeadline + 1.5 s" \
    cmd="cl_cut n1 n2; cl_cut n1 wt; cl_promote n2; HAProxy stats polled every 20 ms; $CMD" \
    note="runs: $(cut -d' ' -f1 "$E/split" | tr '\n' ' ')ms"
bench_fig item=7 what="handover: asymmetric split brain, samples with two writers (all runs, heal included)" \
    unit=samples value="$(awk '{ s += $2 } END { print s + 0 }' "$E/split")" ref=0 ref_what="never two writers" \
    cmd="$CMD" note="of $(awk '{ s += $3 } END { print s + 0 }' "$E/split") samples (every 100 ms)"
bench_fig item=7 what="handover: rolling change of watchDog/leaseMs with a failover, samples with two writers" \
    unit=samples value="$(cut -d' ' -f1 "$E/rolling")" ref=0 ref_what="never two writers" \
    cmd="$CMD" note="of $(cut -d' ' -f2 "$E/rolling") samples"
n=$(wc -l <"$E/lease")
bench_fig item=7 what="handover: lease, probe frozen + hba killed (median of $n)" unit=ms \
    value="$(bench_median <"$E/lease")" ref=3500 ref_what="leaseMs + 0.5 s" \
    cmd="kill -STOP probe; 1.5 s; kill -KILL hba; $CMD" note="runs: $(tr '\n' ' ' <"$E/lease")ms"
# the seed's timing, computed: a promote needs at most one tick of the new
# primary, one of the witness (both every 250 ms while eager), the INTENT
# round and HAProxy's rise; a silent old primary is covered after
# leaseMs + connectionDeadline + 0.25 s
bench_fig item=7 what="handover, seed timing (watchDog 15): promote to rw, all peers answering (computed)" \
    unit=ms value=$(( 15000 + 250 + 250 + 1300 )) cmd="computed" \
    note="one watchDog for the new primary to see its promote, 250 ms for the witness and the candidate each, HAProxy rise 2 x inter 500 (1.3 s worst)"
bench_fig item=7 what="handover, seed timing (watchDog 15): old primary silent, silence cover (computed)" \
    unit=ms value=$(( 45000 + 5000 + 250 )) cmd="computed" \
    note="leaseMs 45000 + connectionDeadline 5 s + 250 ms after the old primary was last answered by any member"
bench_fig item=7 what="handover, seed timing (watchDog 15): old primary silent, hold-down when the silence cover cannot apply (computed)" \
    unit=ms value=$(( 45000 + 5000 + 250 )) cmd="computed" \
    note="leaseMs 45000 + connectionDeadline 5 s + 250 ms, from the new majority (a Go member, or a member that did not answer)"
