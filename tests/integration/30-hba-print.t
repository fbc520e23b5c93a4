#!/usr/bin/env bash
# `harepd -f CONF --print-hba SPEC` as a black box over the core's fixtures
# (tests/hba/NN-name.{case,in,out}): stdout is the expected file, errors go
# to stderr with a nonzero exit, and the file itself is never touched.
. "$(dirname "$0")/../lib/tap.sh"
FIX=$TOP/tests/hba
T=$(mktemp -d /tmp/harepd-hba-print.XXXXXX)
trap 'rm -rf "$T"' EXIT

case_get() {	# case_get FILE KEY -> value (rest of the line) or ""
	sed -n "s/^$2 //p" "$1" | head -1
}

yaml_list() {	# "a b c" -> "a", "b", "c"
	local out="" s
	for s in $1; do out="$out${out:+, }\"$s\""; done
	echo "$out"
}

# A seed-style config for one case; the .case keys override the defaults.
write_conf() {	# write_conf CASEFILE HBAPATH > yml
	local servers users auth rw ro allow deny ro_on
	servers=$(case_get "$1" servers); servers=${servers:-10.0.0.5}
	users=$(case_get "$1" users); users=${users:-harw haro}
	auth=$(case_get "$1" auth); auth=${auth:-md5 reject}
	rw=${users%% *}; ro=${users#* }
	allow=${auth%% *}; deny=${auth#* }
	ro_on=false; [ "$(case_get "$1" allow_ro)" = 1 ] && ro_on=true
	cat <<EOF
harepd:
  nodeName: "n1"
  primaryIP: "10.0.0.11"
  allowRO: $ro_on
  hbaConfig: "$2"
  haproxy:
    server: [$(yaml_list "$servers")]
    users: {readOnly: "$ro", readWrite: "$rw"}
  authModes: {allow: "$allow", deny: "$deny"}
  gRPC: {bindPort: 10000, bindAddress: 127.0.0.1, neighbours: ["127.0.0.2:10000"], connectionDeadline: 1}
  watchDog: 2
EOF
}

n=0
for c in "$FIX"/*.case; do
	name=$(basename "$c" .case)
	hba=$T/$name.conf
	cp "$FIX/$name.in" "$hba"
	chmod 0640 "$hba"
	write_conf "$c" "$hba" >"$T/$name.yml"
	before=$(stat -c '%i %Y %s %a' "$hba")
	spec=$(case_get "$c" verdict)
	want_err=$(case_get "$c" error)
	"$HAREPD" -f "$T/$name.yml" --print-hba "$spec" >"$T/out" 2>"$T/err"
	rc=$?
	if [ $rc -eq 78 ]; then
		# the config loader refuses what the core must still handle
		# (hostnames, role names with blanks, odd methods)
		tap_result 0 "$name: # SKIP config loader refuses it: $(head -1 "$T/err")"
		continue
	fi
	n=$((n + 1))
	if [ -n "$want_err" ]; then
		ok "[ $rc -ne 0 ] && [ ! -s '$T/out' ]" "$name: refused, nothing printed"
		like "$(cat "$T/err")" "^harepd: --print-hba: .*$(printf '%s' "$want_err" | sed 's/[][\.*^$()"|+?{}]/\\&/g')" "$name: says why"
	else
		is "$rc" 0 "$name: exit 0"
		ok "cmp -s '$T/out' '$FIX/$name.out'" "$name: prints the expected file"
		above=$(case_get "$c" above)
		if [ -n "$above" ]; then
			like "$(cat "$T/err")" "warning: line $above, above harepd's block, may match the check users first" "$name: warns about the rule above the block"
		else
			ok "! grep -q 'above harepd' '$T/err'" "$name: no warning about rules above the block"
		fi
	fi
	is "$(stat -c '%i %Y %s %a' "$hba")" "$before" "$name: file untouched"
	ok "cmp -s '$hba' '$FIX/$name.in'" "$name: same bytes as before"
done
ok "[ $n -ge 25 ]" "at least 25 fixtures went through harepd --print-hba ($n)"

# the spec itself
hba=$T/spec.conf
cp "$FIX/01-stock-pg15.in" "$hba"
write_conf "$FIX/24-ro-allow-rw-deny.case" "$hba" >"$T/spec.yml"
for bad in "rw=maybe" "ro=allow" "rw=allow,rw=deny" ""; do
	"$HAREPD" -f "$T/spec.yml" --print-hba "$bad" >"$T/out" 2>"$T/err"
	is "$?" 64 "bad spec '$bad': usage exit"
	like "$(cat "$T/err")" "expected rw=allow\|deny" "bad spec '$bad': says what is expected"
done
"$HAREPD" -f "$T/spec.yml" --print-hba rw=allow >"$T/out" 2>/dev/null
like "$(grep -c 'md5$' "$T/out")" "^2$" "rw=allow alone: ro follows rw (both md5)"
"$HAREPD" -f "$T/spec.yml" --print-hba rw=deny >"$T/out" 2>/dev/null
like "$(grep -c 'reject$' "$T/out")" "^2$" "rw=deny alone: ro follows rw (both reject)"

rm -f "$hba"
"$HAREPD" -f "$T/spec.yml" --print-hba rw=allow >"$T/out" 2>"$T/err"
ok "[ $? -eq 1 ]" "missing pg_hba.conf: exit 1"
like "$(cat "$T/err")" "cannot open $hba: No such file" "missing pg_hba.conf: names the file and why"
done_testing
