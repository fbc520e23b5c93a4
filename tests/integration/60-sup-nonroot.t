#!/usr/bin/env bash
# harepd started by an ordinary user (a developer, a test): no privilege
# to drop, so it says so and runs the workers as itself, still with no
# capabilities and NoNewPrivs; that user may control it.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../helpers/sup_lib.sh"
[ "$(id -u)" -eq 0 ] || skip_all "needs root to become another user"

sup_init
sup_config
chown -R postgres: "$SUP_DIR"
setpriv --reuid=postgres --regid=postgres --init-groups \
	"$HAREPD" -f "$SUP_CONF" </dev/null >/dev/null \
	2> >(sup_stamp >>"$SUP_DIR/stderr.log") &
SUP_PID=$!
wait_for 10 '[ -S "$SUP_SOCK" ]' || { cat "$SUP_DIR/stderr.log" >&2; bail "harepd did not start"; }
pg_uid=$(id -u postgres)

like "$(grep -m1 'not running as root' "$SUP_DIR/stderr.log")" "workers keep uid $pg_uid" \
	"warns that there is no privilege separation"
for role in rpc hba; do
	wait_for 5 "sup_running $role"
	pid=$(sup_worker_pid "$role")
	ok '[ -n "$pid" ]' "$role runs"
	is "$(proc_field "$pid" Uid)" "$pg_uid $pg_uid $pg_uid $pg_uid" "$role: runs as the starting user"
	is "$(proc_field "$pid" CapEff)" 0000000000000000 "$role: no capabilities"
	is "$(proc_field "$pid" NoNewPrivs)" 1 "$role: NoNewPrivs 1"
done
is "$(runuser -u postgres -- "$HAREPDCTL" -s "$SUP_SOCK" stop-client)" \
	"client paused: no more verdicts or pg_hba.conf edits" "its user may stop-client"
runuser -u nobody -- "$HAREPDCTL" -s "$SUP_SOCK" reload >/dev/null 2>&1
is "$?" 4 "another user may not reload"
runuser -u postgres -- "$HAREPDCTL" -s "$SUP_SOCK" stop >/dev/null
ok '! sup_alive $SUP_PID' "its user may stop it"
sup_no_sanitizer_reports
done_testing
