# Shared by the parts of `make bench` (bench/part_*.sh), sourced after
# tests/lib/tap.sh (for wait_for, HAREPD, HAREPD_BUILD, TOP).
#
#   bench_fig item=N what="..." value=V unit=U cmd="..." \
#             [ref=V ref_what="..." ref_cmd="..."] [note="..."]
#
# appends one figure to $BENCH_OUT/figures.jsonl; bench/report.py turns
# them all into the one table and bench/results.json. `cmd` is the command
# that produced the figure, as it was run; `ref` is what the figure is
# measured against in the same run (the minimal server, the deadline), and
# the ratio value/ref is computed by the report. A value that could not be
# measured is written value= with note="not measured: why".
# A part run on its own (not from bench/run) writes to one fixed place.
BENCH_OUT=${BENCH_OUT:-${TMPDIR:-/tmp}/harepd-bench-standalone}
mkdir -p "$BENCH_OUT"
export BENCH_OUT

bench_fig() {
	python3 - "$@" >>"$BENCH_OUT/figures.jsonl" <<-'EOF'
	import json, sys
	rec = {"part": None}
	for a in sys.argv[1:]:
	    k, _, v = a.partition("=")
	    if k in ("value", "ref"):
	        try:
	            v = float(v) if v != "" else None
	            if v is not None and v == int(v) and abs(v) < 1e15:
	                v = int(v)
	        except ValueError:
	            pass
	    rec[k] = v
	rec["part"] = rec.pop("item", None)
	print(json.dumps(rec))
	EOF
}

# A line for the log of the run (stderr: the table is on stdout).
bench_say() { printf '   %s\n' "$*" >&2; }

# utime+stime of a process (all its threads, dead ones included), in
# microseconds, from /proc/PID/stat.
bench_cpu_us() {
	local tck
	tck=$(getconf CLK_TCK)
	awk -v t="$tck" '{ sub(/.*\) /, ""); print ($12 + $13) * 1000000 / t }' \
	    "/proc/$1/stat" 2>/dev/null
}

# CPU time of a process's live threads in ns, from
# /proc/PID/task/*/schedstat (exact, where /proc/PID/stat counts 10 ms
# clock ticks; a thread that ended meanwhile is missing from it).
bench_sched_ns() {
	cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{ s += $1 } END { print s + 0 }'
}

# PSS and RSS of a process in kB, from /proc/PID/smaps_rollup: "PSS RSS".
bench_pss_rss() {
	awk '/^Pss:/ { p = $2 } /^Rss:/ { r = $2 } END { print p + 0, r + 0 }' \
	    "/proc/$1/smaps_rollup" 2>/dev/null
}

. "$(dirname "${BASH_SOURCE[0]}")/../tests/lib/port.sh"

bench_free_port() {
	free_port 20000 32000
}

# median of the numbers on stdin (one a line; anything else is skipped)
bench_median() {
	grep -E '^-?[0-9]+([.][0-9]+)?$' | sort -n | awk '{ a[NR] = $1 } END {
		if (NR == 0) exit
		if (NR % 2) print a[(NR + 1) / 2]
		else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}
