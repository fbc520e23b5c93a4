#!/bin/sh
# tests/fuzz/run.sh DIR SECONDS: runs every libFuzzer harness in DIR
# (built by `make fuzz-build`) for SECONDS each, starting from its seed
# corpus in tests/fuzz/corpus/<harness>/. TAP output, one test per
# harness, so it runs under prove too; the last line is
# "N passed, N failed". Exit status 0 only when no harness crashed.
#
# New inputs libFuzzer finds go to a scratch corpus (the committed seeds
# are only read). A crash, leak, timeout or out-of-memory leaves its
# input in build-fuzz/artifacts/<harness>/; reproduce it with
#   build-fuzz/fuzz/<harness> build-fuzz/artifacts/<harness>/crash-...
#
#   FUZZ_KEEP   keep the scratch corpora (in build-fuzz/corpus/)
#   FUZZ_JOBS   harnesses run at once (default: the number of CPUs)
set -u
dir=${1:?usage: run.sh DIR SECONDS}
secs=${2:?usage: run.sh DIR SECONDS}
here=$(cd "$(dirname "$0")" && pwd)
out=$(cd "$dir/.." && pwd)
passed=0
failed=0

harnesses=$(cd "$dir" && ls fuzz_* 2>/dev/null | grep -v '\.' | sort)
[ -n "$harnesses" ] || { echo "Bail out! no harness in $dir"; exit 1; }
jobs=${FUZZ_JOBS:-$(nproc 2>/dev/null || echo 1)}

# fuzz_one N HARNESS: runs it, leaves its TAP line(s) in $out/logs/NAME.tap
fuzz_one() {
	n=$1 h=$2
	name=${h#fuzz_}
	seeds=$here/corpus/$name
	scratch=$out/corpus/$name
	art=$out/artifacts/$name
	log=$out/logs/$name.log
	tap=$out/logs/$name.tap
	mkdir -p "$scratch" "$art" "$(dirname "$log")"
	[ -d "$seeds" ] || seeds=
	dict=
	[ -f "$here/$name.dict" ] && dict=-dict=$here/$name.dict
	before=$(ls "$art" | wc -l)
	start=$(date +%s)
	# -timeout: an input that takes 10 s is a hang; -rss_limit_mb: the
	# default, spelt out; -print_final_stats: the exec count below
	"$dir/$h" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
	    -print_final_stats=1 -artifact_prefix="$art/" $dict \
	    "$scratch" $seeds >"$log" 2>&1
	rc=$?
	took=$(($(date +%s) - start))
	execs=$(awk -F: '/^stat::number_of_executed_units/ { gsub(/ /, "", $NF); print $NF }' "$log")
	crashes=$(($(ls "$art" | wc -l) - before))
	if [ "$rc" -eq 0 ] && [ "$crashes" -eq 0 ]; then
		echo "ok $n - $h: ${execs:-?} execs, 0 crashes (${took}s)" >"$tap"
	else
		[ "$crashes" -gt 0 ] || crashes=1
		{
		echo "not ok $n - $h: ${execs:-?} execs, $crashes crash(es), exit $rc (${took}s; log $log)"
		grep -E '^(==[0-9]+==ERROR|SUMMARY|.*property failed|.*runtime error)' "$log" |
		    head -5 | sed 's/^/#   /'
		ls -t "$art" | head -3 | sed "s|^|#   input: $art/|"
		} >"$tap"
	fi
	[ -n "${FUZZ_KEEP:-}" ] || rm -rf "$scratch"
}

# FUZZ_JOBS harnesses at a time (default: one per CPU); each is one
# process, so SECONDS each costs SECONDS x harnesses / jobs in all
set -- $harnesses
echo "1..$#"
i=0
for h in "$@"; do
	i=$((i + 1))
	rm -f "$out/logs/${h#fuzz_}.tap"
	fuzz_one "$i" "$h" &
	[ $((i % jobs)) -ne 0 ] || wait
done
wait
for h in "$@"; do
	tap=$out/logs/${h#fuzz_}.tap
	[ -f "$tap" ] || echo "not ok - $h: no result" >"$tap"
	cat "$tap"
	if grep -q '^ok ' "$tap"; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
