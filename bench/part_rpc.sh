#!/usr/bin/env bash
# Part 1: GetClusterInfo served by the rpc worker against a minimal gRPC C
# core server (bench/minimal_server.c, constant IKnow, the same number of
# completion-queue threads) on the same machine, in the same run.
#
# The rpc worker side is the rpc engineer's bench/rpc.bench.sh (the real
# `harepd --role rpc` under its fake supervisor, loaded by bench/rpc_load),
# run once per concurrency; the minimal side is the same bench/rpc_load
# binary with the same options. The two alternate level by level, for
# BENCH_ROUNDS rounds; each figure is the median over the rounds, so a
# burst of load from elsewhere on the machine hits both sides alike.
. "$(dirname "$0")/../tests/lib/tap.sh"
. "$(dirname "$0")/lib.sh"
SECS=${BENCH_RPC_SECS:-3}
ROUNDS=${BENCH_ROUNDS:-5}
LEVELS=${BENCH_RPC_LEVELS:-1 8 32}
LOAD=$HAREPD_BUILD/bench/rpc_load
MIN=$HAREPD_BUILD/bench/minimal_server
R=$BENCH_OUT/rpc
mkdir -p "$R"
# RPC_BENCH_LEAN=1 (rpc.bench.sh: rpc_load -l, a leaner client) applies to
# both sides, so that they are loaded by the same client
LEAN=()
[ -n "${RPC_BENCH_LEAN:-}" ] && LEAN=(-l)

# A fresh minimal server for each run, as rpc.bench.sh starts a fresh rpc
# worker for each: a server that has just taken c=32 is slower at c=1 for
# a while, on both sides alike.
MSPID=
trap '[ -n "$MSPID" ] && kill "$MSPID" 2>/dev/null; wait 2>/dev/null' EXIT
minimal_start() {
	rm -f "$R/minimal.out"	# the child truncates it only after the fork
	"$MIN" 127.0.0.1:0 >"$R/minimal.out" 2>&1 &
	MSPID=$!
	wait_for 5 'grep -q "^port " "$R/minimal.out"' || { cat "$R/minimal.out" >&2; exit 1; }
	MPORT=$(awk '/^port /{print $2}' "$R/minimal.out")
}
minimal_stop() { kill "$MSPID"; wait "$MSPID" 2>/dev/null; MSPID=; }

# the data line of an rpc_load table for concurrency $2 in file $1:
# concurrency requests req/s p50_us p99_us max_us errors srv_us/rq cli_us/rq
row() { awk -v c="$2" '$1 == c && NF == 9' "$1"; }

for r in $(seq "$ROUNDS"); do
	for c in $LEVELS; do
		RPC_BENCH_SECS=$SECS RPC_BENCH_LEVELS=$c HAREPD_BUILD=$HAREPD_BUILD \
		    bash "$TOP/bench/rpc.bench.sh" >"$R/harepd.$c.$r" 2>&1
		bench_say "round $r c=$c harepd:  $(row "$R/harepd.$c.$r" "$c")"
		minimal_start
		"$LOAD" "${LEAN[@]}" -d "$SECS" -c "$c" -p "$MSPID" "127.0.0.1:$MPORT" \
		    >"$R/minimal.$c.$r" 2>&1
		minimal_stop
		bench_say "round $r c=$c minimal: $(row "$R/minimal.$c.$r" "$c")"
	done
done

# median over the rounds of column $3 for side $1, concurrency $2
med() {
	local f
	for f in "$R/$1.$2".*; do row "$f" "$2"; done |
	    awk -v k="$3" '{ print $k }' | bench_median
}
errs() {
	local f
	for f in "$R/$1.$2".*; do row "$f" "$2"; done | awk '{ s += $7 } END { print s + 0 }'
}

for c in $LEVELS; do
	hcmd="${LEAN:+RPC_BENCH_LEAN=1 }RPC_BENCH_SECS=$SECS RPC_BENCH_LEVELS=$c bench/rpc.bench.sh, i.e. harepd --role rpc + rpc_load ${LEAN:+-l }-d $SECS -c $c -p <worker pid> 127.0.0.1:<port>; median of $ROUNDS runs"
	mcmd="bench/minimal_server 127.0.0.1:0 + rpc_load ${LEAN:+-l }-d $SECS -c $c -p <server pid> 127.0.0.1:<port>; median of $ROUNDS runs, a fresh server each, alternating with the harepd runs"
	note=
	he=$(errs harepd "$c") me=$(errs minimal "$c")
	[ "$he$me" != 00 ] && note="errors: harepd $he, minimal $me"
	nh=$(for f in "$R/harepd.$c".*; do row "$f" "$c"; done | wc -l)
	nm=$(for f in "$R/minimal.$c".*; do row "$f" "$c"; done | wc -l)
	if [ "$nh" -lt "$ROUNDS" ] || [ "$nm" -lt "$ROUNDS" ]; then
		note="${note:+$note; }only $nh harepd and $nm minimal runs of $ROUNDS gave a figure"
		[ "$nh" -eq 0 ] && note="not measured: bench/rpc.bench.sh gave no figure: $(tail -1 "$R/harepd.$c.1")"
	fi
	bench_fig item=1 what="GetClusterInfo c=$c: requests/s" unit=req/s \
	    value="$(med harepd "$c" 3)" cmd="$hcmd" \
	    ref="$(med minimal "$c" 3)" ref_what="minimal server" ref_cmd="$mcmd" note="$note"
	bench_fig item=1 what="GetClusterInfo c=$c: p50 latency" unit=us \
	    value="$(med harepd "$c" 4)" cmd="$hcmd" \
	    ref="$(med minimal "$c" 4)" ref_what="minimal server" ref_cmd="$mcmd"
	bench_fig item=1 what="GetClusterInfo c=$c: p99 latency" unit=us \
	    value="$(med harepd "$c" 5)" cmd="$hcmd" \
	    ref="$(med minimal "$c" 5)" ref_what="minimal server" ref_cmd="$mcmd"
	bench_fig item=1 what="GetClusterInfo c=$c: server CPU per request" unit=us \
	    value="$(med harepd "$c" 8)" cmd="$hcmd" \
	    ref="$(med minimal "$c" 8)" ref_what="minimal server" ref_cmd="$mcmd"
done
