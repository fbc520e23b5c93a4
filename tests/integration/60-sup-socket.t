#!/usr/bin/env bash
# The control socket at start: a second harepd on the same socket refuses
# and leaves the first alone; a stale socket (harepd killed with -9) is
# replaced; a file that is not a socket is never deleted.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../helpers/sup_lib.sh"
[ "$(id -u)" -eq 0 ] || skip_all "needs root to drop privileges"

sup_init
sup_config
sup_start
first=$SUP_PID
# (timeout: a harepd that wrongly starts must not hang the suite)
timeout 10 "$HAREPD" -f "$SUP_CONF" </dev/null >/dev/null 2>"$SUP_DIR/second.err"; rc=$?
ok '[ "$rc" -ne 0 ]' "a second harepd on the same socket exits with an error ($rc)"
like "$(cat "$SUP_DIR/second.err")" 'another harepd is running' "and says why"
ok 'sup_alive $first && sup_ctl status >/dev/null' "the first one still answers"
# (pgrep -P also finds the test's stderr stamper, forked by bash as harepd's child)
is "$(pgrep -P "$first" -f -- '--role' | wc -l)" "$(sup_status 'len([x for x in d["workers"] if x["pid"]])')" \
	"the first one still has all its workers"

# killed without a chance to clean up: the socket stays, stale
kids=$(pgrep -P "$first")
kill -KILL "$first"
wait "$first" 2>/dev/null	# reaped quietly (no "Killed" from bash)
kids=$(echo $kids)
ok 'wait_for 5 "sup_none_alive \"$kids\""' \
	"workers die with the supervisor (parent-death signal)"
ok '[ -S "$SUP_SOCK" ]' "a stale socket is left behind"
sup_start
ok 'sup_alive $SUP_PID && sup_ctl status >/dev/null' "a new harepd replaces the stale socket"
kill -TERM "$SUP_PID"; wait_for 10 '! sup_alive $SUP_PID'
ok '[ ! -e "$SUP_SOCK" ]' "and removes it when it stops"

# a regular file where the socket should be
rm -f "$SUP_SOCK"
echo precious >"$SUP_SOCK"
timeout 10 "$HAREPD" -f "$SUP_CONF" </dev/null >/dev/null 2>"$SUP_DIR/file.err"; rc=$?
ok '[ "$rc" -ne 0 ]' "harepd refuses to start over a regular file ($rc)"
like "$(cat "$SUP_DIR/file.err")" 'not a socket' "and says why"
is "$(cat "$SUP_SOCK")" precious "the file is untouched"
done_testing
