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
set -u
dir=${1:?usage: run.sh DIR SECONDS}
secs=${2:?usage: run.sh DIR SECONDS}
here=$(cd "$(dirname "$0")" && pwd)
out=$(cd "$dir/.." && pwd)
n=0
passed=0
failed=0

harnesses=$(cd "$dir" && ls fuzz_* 2>/dev/null | grep -v '\.' | sort)
[ -n "$harnesses" ] || { echo "Bail out! no harness in $dir"; exit 1; }
set -- $harnesses
echo "1..$#"
for h in "$@"; do
	n=$((n + 1))
	name=${h#fuzz_}
	seeds=$here/corpus/$name
	scratch=$out/corpus/$name
	art=$out/artifacts/$name
	log=$out/logs/$name.log
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
		passed=$((passed + 1))
		echo "ok $n - $h: ${execs:-?} execs, 0 crashes (${took}s)"
	else
		failed=$((failed + 1))
		[ "$crashes" -gt 0 ] || crashes=1
		echo "not ok $n - $h: ${execs:-?} execs, $crashes crash(es), exit $rc (${took}s; log $log)"
		grep -E '^(==[0-9]+==ERROR|SUMMARY|.*property failed|.*runtime error)' "$log" |
		    head -5 | sed 's/^/#   /'
		ls -t "$art" | head -3 | sed "s|^|#   input: $art/|"
	fi
	[ -n "${FUZZ_KEEP:-}" ] || rm -rf "$scratch"
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
