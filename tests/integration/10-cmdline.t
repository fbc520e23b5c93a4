#!/usr/bin/env bash
# harepd's command line: -h is asked for (stdout, exit 0), a mistake is
# not (stderr, exit 64); options that cannot go together are refused
# rather than one of them silently winning.
. "$(dirname "$0")/../lib/tap.sh"
[ -x "$HAREPD" ] || bail "no $HAREPD: build first"
out=$(mktemp -d /tmp/harepd-cmdline.XXXXXX)
trap 'rm -rf "$out"' EXIT

run() {	# run ARGS...: sets rc; stdout and stderr in $out
	rc=0
	"$HAREPD" "$@" >"$out/stdout" 2>"$out/stderr" </dev/null || rc=$?
}

for h in -h --help; do
	run "$h"
	is "$rc" 0 "$h: exit 0"
	like "$(cat "$out/stdout")" '^usage: harepd ' "$h: usage on stdout"
	is "$(cat "$out/stderr")" "" "$h: nothing on stderr"
done
run -x
is "$rc" 64 "an unknown option: exit 64"
like "$(cat "$out/stderr")" 'usage: harepd ' "an unknown option: usage on stderr"
is "$(cat "$out/stdout")" "" "an unknown option: nothing on stdout"

conflict() {	# conflict "WHAT" ARGS...
	local what=$1; shift
	run -f /nonexistent/harepd-test.yml "$@"
	is "$rc" 64 "$*: exit 64"
	like "$(head -n 1 "$out/stderr")" "^harepd: $what cannot go together$" \
	    "$*: says which options conflict"
}
conflict "-t and -n" -t -n
conflict "-n and -t" -n -t
conflict "--server-only and --client-only" --server-only --client-only
conflict "--client-only and --server-only" --client-only --server-only
conflict "-t and --print-hba" -t --print-hba rw=allow
conflict "-n and --print-hba" -n --print-hba rw=deny
conflict "-n and --server-only" -n --server-only
conflict "--print-hba and --client-only" --print-hba rw=allow --client-only
conflict "--role and -t" --role rpc -t

# not conflicts: a mode with -t (a unit's ExecStartPre= may pass the
# options of its ExecStart=), the same mode twice
run -f /nonexistent/harepd-test.yml -t --server-only
is "$rc" 78 "-t --server-only checks the config (exit 78: no such file)"
run -f /nonexistent/harepd-test.yml -t --client-only --client-only
is "$rc" 78 "the same mode twice is no conflict"
done_testing
