#!/usr/bin/env bash
# contrib/haproxy.cfg.example: HAProxy accepts it, and it has what the gate
# relies on (docs/HAPROXY.md), with the check timing the e2e cluster runs.
. "$(dirname "$0")/../lib/tap.sh"
command -v haproxy >/dev/null || skip_all "no haproxy (make deps)"
EX=$TOP/contrib/haproxy.cfg.example
out=$(haproxy -c -f "$EX" 2>&1); rc=$?
is "$rc" 0 "haproxy -c accepts contrib/haproxy.cfg.example"
[ "$rc" -eq 0 ] || diag "$out"
# the sections, as name -> their lines
section() { awk -v s="$1" '/^[a-z]/ { on = ($0 ~ "^listen " s "$") } on' "$EX"; }
rw=$(section pg_rw); ro=$(section pg_ro)
like "$rw" 'option pgsql-check user harw' "pg_rw checks with user harw"
like "$ro" 'option pgsql-check user haro' "pg_ro checks with user haro"
ds() { grep -E '^ *default-server ' | sed 's/^ *//'; }
e2e=$(grep -E '^ *default-server ' "$TOP/tests/e2e/lib/cluster.sh" | sed 's/^ *//' | sort -u)
is "$(ds <<<"$rw")" "$e2e" "pg_rw: the e2e cluster's check timing"
is "$(ds <<<"$ro")" "$e2e" "pg_ro: the e2e cluster's check timing"
for s in "$rw" "$ro"; do
	like "$(ds <<<"$s")" 'on-marked-down shutdown-sessions' \
	    "sessions on a node marked DOWN are cut"
done
like "$(grep -E '^ *stats socket' "$EX")" 'level admin' "an admin stats socket"
like "$(grep -E '^ *timeout check' "$EX")" 'timeout check 1s' "timeout check as in the e2e cluster"
# a check on every server, else HAProxy routes to a fenced node
n_srv=$(grep -cE '^ *server ' "$EX"); n_chk=$(grep -cE '^ *server .* check$' "$EX")
is "$n_chk" "$n_srv" "every server is checked"
done_testing
