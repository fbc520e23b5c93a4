#!/usr/bin/env bash
# `harepdctl reopen-logs`, for logrotate (contrib/logrotate/harepd): the
# log file is renamed away, reopen-logs creates logs.filePath again and
# the next lines go there, none to the renamed file. Only root and
# postgresUser may ask; a path that cannot be opened fails the command
# and the old file stays in use.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../helpers/sup_lib.sh"
[ "$(id -u)" -eq 0 ] || skip_all "needs root to drop privileges"

sup_init
sup_config
sup_start
wait_for 5 'sup_running rpc && sup_running hba'

mv "$SUP_LOG" "$SUP_LOG.1"		# what logrotate does first
out=$(sup_ctl reopen-logs); is "$?" 0 "reopen-logs after a rename exits 0"
like "$out" "log file $SUP_LOG reopened" "and says which file"
ok '[ -f "$SUP_LOG" ]' "logs.filePath exists again"
sup_ctl reload >/dev/null
wait_for 5 'grep -q "configuration reloaded" "$SUP_LOG"'
like "$(cat "$SUP_LOG")" '"msg":"configuration reloaded' "new lines go to the new file"
like "$(cat "$SUP_LOG")" '"msg":"log file [^"]* reopened"' "the reopen is logged in it"
ok '! grep -q "reloading" "$SUP_LOG.1"' "none to the renamed file"
like "$(cat "$SUP_LOG.1")" 'started worker rpc' "which keeps the lines from before"

runuser -u nobody -- "$HAREPDCTL" -s "$SUP_SOCK" reopen-logs >/dev/null 2>&1
is "$?" 4 "nobody may not reopen the log"
runuser -u postgres -- "$HAREPDCTL" -s "$SUP_SOCK" reopen-logs >/dev/null 2>&1
is "$?" 0 "postgresUser may"

# a directory where the file was: the open fails, the old file goes on
mv "$SUP_LOG" "$SUP_LOG.2"; mkdir "$SUP_LOG"
out=$(sup_ctl reopen-logs 2>&1); is "$?" 1 "reopen-logs that cannot open the file exits 1"
like "$out" "reopen-logs: log file $SUP_LOG: " "and says why"
like "$(cat "$SUP_LOG.2")" 'reopen-logs: log file .*still writing' \
	"the error is logged, in the file still in use"
n=$(grep -c 'configuration reloaded' "$SUP_LOG.2")
sup_ctl reload >/dev/null
wait_for 5 '[ "$(grep -c "configuration reloaded" "$SUP_LOG.2")" -gt "$n" ]'
ok '[ "$(grep -c "configuration reloaded" "$SUP_LOG.2")" -gt "$n" ]' \
	"which still gets new lines"
sup_ctl stop >/dev/null
sup_no_sanitizer_reports
done_testing
