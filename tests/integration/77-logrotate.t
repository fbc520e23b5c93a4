#!/usr/bin/env bash
# contrib/logrotate/harepd, run by logrotate itself against a running
# harepd: the file is renamed, postrotate's `harepdctl reopen-logs`
# makes harepd create it again, and new lines go there. With harepd not
# running, the postrotate script still succeeds (harepdctl exit 3).
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../helpers/sup_lib.sh"
[ "$(id -u)" -eq 0 ] || skip_all "needs root to drop privileges"
command -v logrotate >/dev/null || skip_all "no logrotate"

sup_init
sup_config
mkdir -p "$SUP_DIR/bin"
# harepdctl without -f finds the socket through the default config: give
# it ours, as the installed one would
cat >"$SUP_DIR/bin/harepdctl" <<SH
#!/bin/sh
exec "$HAREPDCTL" -s "$SUP_SOCK" "\$@"
SH
chmod +x "$SUP_DIR/bin/harepdctl"
sed "s|@BINDIR@|$SUP_DIR/bin|g; s|^/var/log/harepd/harepd.log {|$SUP_LOG {|" \
    "$TOP/contrib/logrotate/harepd" >"$SUP_DIR/logrotate.conf"
like "$(cat "$SUP_DIR/logrotate.conf")" "^$SUP_LOG \\{" "the snippet names one log file"
out=$(logrotate -d -s "$SUP_DIR/state" "$SUP_DIR/logrotate.conf" 2>&1); rc=$?
is "$rc" 0 "logrotate -d accepts the snippet"
[ "$rc" -eq 0 ] || diag "$out"

sup_start
wait_for 5 'sup_running rpc && sup_running hba'
out=$(logrotate -f -s "$SUP_DIR/state" "$SUP_DIR/logrotate.conf" 2>&1); rc=$?
is "$rc" 0 "logrotate -f rotates harepd's log"
[ "$rc" -eq 0 ] || diag "$out"
ok '[ -f "$SUP_LOG.1" ]' "the old file is $SUP_LOG.1 (delaycompress)"
like "$(cat "$SUP_LOG.1")" 'started worker rpc' "with the lines from before"
ok '[ -f "$SUP_LOG" ]' "postrotate's reopen-logs created the file again"
sup_ctl reload >/dev/null
wait_for 5 'grep -q "configuration reloaded" "$SUP_LOG"'
like "$(cat "$SUP_LOG")" '"msg":"configuration reloaded' "new lines go to the new file"
ok '! grep -q "configuration reloaded" "$SUP_LOG.1"' "none to the rotated one"

sup_ctl stop >/dev/null
sup_no_sanitizer_reports
echo '{"level":"info","msg":"x","time":"x"}' >>"$SUP_LOG"
out=$(logrotate -f -s "$SUP_DIR/state" "$SUP_DIR/logrotate.conf" 2>&1); rc=$?
is "$rc" 0 "with harepd stopped, logrotate still succeeds"
[ "$rc" -eq 0 ] || diag "$out"
done_testing
