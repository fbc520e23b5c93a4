#!/usr/bin/env bash
# Part 2: one decision tick of the probe worker with k blackholed peers
# (k = 0, 1, 4, 8), against connectionDeadline. The real
# `harepd --role probe` under the probe's fake supervisor
# (tests/helpers/probe_fakesup), a real PostgreSQL 15 with the repmgr
# extension (n1 registered by repmgr), two neighbours and a witness that
# are real gRPC servers answering in agreement (tests/helpers/probe_fakepeer),
# and k more neighbours that accept TCP and never answer. The tick's
# duration is the verdict's tick_us (Verdict.tick_us); each figure is the
# median of BENCH_TICKS verdicts (the first one, which also connects, is
# left out). The goal is one deadline whatever k.
. "$(dirname "$0")/../tests/lib/tap.sh"
. "$(dirname "$0")/../tests/lib/pg.sh"
. "$(dirname "$0")/../tests/helpers/probe_lib.sh"
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" -eq 0 ] || { echo "part tick: needs root (PostgreSQL runs as postgres)" >&2; exit 1; }
TICKS=${BENCH_TICKS_PROBE:-5}
DEADLINE=${BENCH_DEADLINE:-1}

pg_start "shared_preload_libraries = 'repmgr'"
probe_setup
trap probe_cleanup EXIT
probe_repmgr_db || { echo "part tick: repmgr primary register failed" >&2; exit 1; }
probe_node 2 n2 standby 127.0.0.2
probe_node 3 n3 standby 127.0.0.3
probe_node 4 w witness 127.0.0.4

SAME="masters=127.0.0.1 slaves=127.0.0.2,127.0.0.3 witness=127.0.0.4"
probe_peer n2 127.0.0.2 answer ip=127.0.0.2 id=2 name=n2 $SAME obs=1/1 || exit 1
probe_peer n3 127.0.0.3 answer ip=127.0.0.3 id=3 name=n3 $SAME obs=1/1 || exit 1
probe_peer w 127.0.0.4 answer ip=127.0.0.4 id=4 name=w $SAME obs=0/1 || exit 1
BH=()
for i in $(seq 8); do
	probe_blackhole "bh$i" "127.0.0.$((10 + i))" || exit 1
	BH+=("\"$(probe_target "bh$i" "127.0.0.$((10 + i))")\"")
done
N2=$(probe_target n2 127.0.0.2) N3=$(probe_target n3 127.0.0.3)
W=$(probe_target w 127.0.0.4)
conf=$PROBE_TMP/conf.yml

run() {	# run K DEADLINE_S
	local k=$1 d=$2 neigh="\"$N2\", \"$N3\"" i last=$((TICKS + 1)) ticks med max
	for ((i = 0; i < k; i++)); do neigh+=", ${BH[$i]}"; done
	PROBE_DEADLINE=$d PROBE_WATCHDOG=1 probe_conf "$conf" n1 127.0.0.1 "$neigh" "$W"
	probe_start "$conf" >&2 || { echo "part tick: the probe worker did not start" >&2; return 1; }
	probe_wait $(( (TICKS + 2) * (d + 2) )) "^verdict seq=$last " ||
		{ echo "part tick: no verdict $last" >&2; probe_stop; return 1; }
	probe_stop
	ticks=$(grep '^verdict ' "$PROBE_TMP/sup.out" | sed -n "2,${last}p" |
	    sed 's/.* tick_us=\([0-9]*\).*/\1/')
	med=$(printf '%s\n' "$ticks" | bench_median)
	max=$(printf '%s\n' "$ticks" | sort -n | tail -1)
	v=$(grep '^verdict ' "$PROBE_TMP/sup.out" | tail -1)
	bench_say "k=$k deadline=${d}s: tick_us $(echo $ticks); last verdict rw=$(probe_field "$v" rw) answered=$(probe_field "$v" answered)"
	bench_fig item=2 what="decision tick, $k of $((k + 3)) peers blackholed, deadline ${d} s (median)" \
	    unit=ms value="$(awk -v u="$med" 'BEGIN { printf "%.1f", u / 1000 }')" \
	    ref=$((d * 1000)) ref_what="connectionDeadline" \
	    cmd="tests/helpers/probe_fakesup harepd CONF (harepd --role probe; watchDog 1, connectionDeadline $d, neighbours: 2 agreeing probe_fakepeer + $k probe_fakepeer --blackhole, witness: 1 agreeing; PostgreSQL 15 + repmgr); Verdict.tick_us of verdicts 2..$last" \
	    note="max $(awk -v u="$max" 'BEGIN { printf "%.1f", u / 1000 }') ms; rw=$(probe_field "$v" rw)"
}

for k in 0 1 4 8; do run "$k" "$DEADLINE" || exit 1; done
# the tick follows the deadline, not the number of dead peers
run 8 $((DEADLINE * 2)) || exit 1
