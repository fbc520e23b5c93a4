#!/usr/bin/env bash
# Logs: JSON lines in the Go harepd's shape ({"level","msg","time",...})
# in logs.filePath and on stderr, the workers' lines written by the
# supervisor with "proc" naming the worker; the seed's rotation settings:
# a file from an earlier period is rotated to filePath.YYYYmmddHHMM, and
# rotated files older than maxAge are deleted.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../helpers/sup_lib.sh"
[ "$(id -u)" -eq 0 ] || skip_all "needs root to drop privileges"

sup_init
sup_config "logs:" "  filePath: $SUP_LOG" "  rotationTime: 86400" "  maxAge: 172800"
# drop the default logs: block sup_config wrote, keep ours (the last)
python3 - "$SUP_CONF" <<'PY'
import sys
lines = open(sys.argv[1]).read().split("\n")
i = lines.index("  logs:")
del lines[i:i + 2]
open(sys.argv[1], "w").write("\n".join(lines))
PY

# yesterday's file (as the Go harepd or a previous run left it) and two
# rotated files: one 3 days old (beyond maxAge), one 1 day old
echo '{"level":"info","msg":"from yesterday","time":"x"}' >"$SUP_LOG"
touch -d '1 day ago' "$SUP_LOG"
yday=$(date -d "@$(( ($(date +%s) - 86400) / 86400 * 86400 ))" +%Y%m%d%H%M)
old=$SUP_LOG.$(date -d '3 days ago' +%Y%m%d)0000
young=$SUP_LOG.$(date -d '2 days ago' +%Y%m%d)0000
echo old >"$old"; touch -d '3 days ago' "$old"
echo young >"$young"; touch -d '1 day ago' "$young"
foreign=$SUP_LOG.keep-me; echo x >"$foreign"; touch -d '30 days ago' "$foreign"

sup_start
wait_for 5 'sup_running rpc && sup_running hba'
sup_ctl status >/dev/null

ok '[ -f "$SUP_LOG.$yday" ]' "yesterday's file rotated to filePath.$yday"
like "$(cat "$SUP_LOG.$yday" 2>/dev/null)" 'from yesterday' "with yesterday's lines"
ok '! grep -q "from yesterday" "$SUP_LOG"' "and not mixed into today's file"
ok '[ ! -e "$old" ]' "a rotated file older than maxAge is deleted"
ok '[ -e "$young" ]' "a younger rotated file is kept"
ok '[ -e "$foreign" ]' "a file that is not ours is never deleted"

check_json_lines() {	# FILE: every line a JSON object with level, msg, time
	python3 - "$1" <<'PY'
import json, sys
n = 0
for line in open(sys.argv[1]):
    d = json.loads(line)
    assert isinstance(d, dict), line
    assert d["level"] in ("debug", "info", "warning", "error"), line
    assert isinstance(d["msg"], str) and d["time"], line
    assert list(d)[:3] == ["level", "msg", "time"], line
    n += 1
assert n > 3, n
PY
}
ok 'check_json_lines "$SUP_LOG"' "log file: every line is {level, msg, time, ...}"
cut -d' ' -f2- "$SUP_DIR/stderr.log" | grep '^{' >"$SUP_DIR/stderr.json"
ok 'check_json_lines "$SUP_DIR/stderr.json"' "stderr: the same JSON lines"
like "$(grep -m1 '"msg":"harepd [^ ]* (git [0-9a-f]*) started' "$SUP_LOG")" '"proc":"harepd"' \
	"supervisor lines carry proc=harepd"
for role in rpc hba; do
	like "$(grep -m1 "\"proc\":\"$role\"" "$SUP_LOG")" '"level":' \
		"lines of the $role worker are in the log file with proc=$role"
done
like "$(grep -m1 'started worker rpc' "$SUP_LOG")" '"role":"rpc","pid":"[0-9]+","user":"nobody"' \
	"worker starts are logged with role, pid and user"
ok '[ "$(stat -c %a "$SUP_LOG")" = 640 ] || [ "$(stat -c %a "$SUP_LOG")" = 644 ]' \
	"log file is not world-writable"
done_testing
