#!/usr/bin/env bash
# harepd -t on every tests/golden/bad-*.yml: stderr is exactly bad-*.err,
# stdout is empty, exit 78 (EX_CONFIG). warn-*.yml: warnings exactly as in
# warn-*.err, "configuration OK", exit 0. Run from the golden directory so
# the messages name the files as given on the command line.
. "$(dirname "$0")/../lib/tap.sh"
[ -x "$HAREPD" ] || bail "no $HAREPD: build first"
cd "$TOP/tests/golden" || bail "no tests/golden"

out=$(mktemp -d /tmp/harepd-golden.XXXXXX)
trap 'rm -rf "$out"' EXIT

# The hbaConfig the goldens name, in a directory postgresUser (root) or
# the caller may write, as harepd -t requires; shared by concurrent runs.
hba_owner=$(id -un)
[ "$(id -u)" -eq 0 ] && hba_owner=postgres
mkdir -p /tmp/harepd-golden && touch /tmp/harepd-golden/pg_hba.conf &&
	chown "$hba_owner" /tmp/harepd-golden /tmp/harepd-golden/pg_hba.conf &&
	chmod 0755 /tmp/harepd-golden || bail "cannot make /tmp/harepd-golden"

golden() {	# golden NAME WANT_RC WANT_STDOUT
	local name=$1 rc=0
	"$HAREPD" -t -f "$name.yml" >"$out/stdout" 2>"$out/stderr" || rc=$?
	is "$rc" "$2" "$name: exit $2"
	is "$(cat "$out/stdout")" "$3" "$name: stdout"
	if diff -u "$name.err" "$out/stderr" >"$out/diff"; then
		tap_result 0 "$name: messages as in $name.err"
	else
		tap_result 1 "$name: messages as in $name.err"
		sed 's/^/# /' "$out/diff"
	fi
}

n=0
for f in bad-*.yml; do
	# privsep users are checked only by root (an ordinary user drops nothing)
	if [ "$f" = bad-no-such-user.yml ] && [ "$(id -u)" -ne 0 ]; then
		tap_result 1 "$f: needs root"
		continue
	fi
	golden "${f%.yml}" 78 ""
	n=$((n + 1))
done
ok "[ $n -ge 20 ]" "at least 20 bad configurations ($n)"
for f in warn-*.yml; do
	golden "${f%.yml}" 0 "configuration OK"
done

# Every .err has its .yml and every .yml its .err: no silent orphan.
for f in *.err; do
	ok "[ -f '${f%.err}.yml' ]" "$f has its configuration"
done
for f in *.yml; do
	ok "[ -f '${f%.yml}.err' ]" "$f has its expected messages"
done
done_testing
