#!/usr/bin/env bash
# harepdctl and the control socket (docs/CONTROL.md): exit codes, who may
# do what (SO_PEERCRED: root and the PostgreSQL OS user change things,
# anyone reads status), stop-client/start-client reach the workers (also
# a worker restarted while paused), reload and SIGHUP keep the running
# config when the new one is broken.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../helpers/sup_lib.sh"
[ "$(id -u)" -eq 0 ] || skip_all "needs root to drop privileges"

sup_init
sup_config

# before harepd runs
"$HAREPDCTL" -s "$SUP_SOCK" status >/dev/null 2>"$SUP_DIR/err"; rc=$?
is "$rc" 3 "no harepd: exit 3"
like "$(cat "$SUP_DIR/err")" 'harepd is not running' "no harepd: says so"
"$HAREPDCTL" -s "$SUP_SOCK" frobnicate >/dev/null 2>"$SUP_DIR/err"; rc=$?
is "$rc" 64 "unknown command: exit 64"
like "$(cat "$SUP_DIR/err")" 'unknown command "frobnicate"' "unknown command: named"
"$HAREPDCTL" -s "$SUP_SOCK" stop-client --json >/dev/null 2>&1; rc=$?
is "$rc" 64 "--json only for status: exit 64"
"$HAREPDCTL" >/dev/null 2>&1; rc=$?
is "$rc" 64 "no command: exit 64"
ver=$(cat "$(dirname "$0")/../../VERSION")
like "$("$HAREPD" --version)" "^harepd $ver \\(git ([0-9a-f]{12}|unknown)\\)\$" \
	"harepd --version: the VERSION file and the git hash"
like "$("$HAREPDCTL" --version)" "^harepdctl $ver \\(git " "harepdctl --version"
"$HAREPDCTL" -f "$SUP_DIR/missing.yml" status >/dev/null 2>&1; rc=$?
is "$rc" 78 "-f with a config that does not load: exit 78"

sup_start
is "$(stat -c %a "$SUP_SOCK")" 666 "socket is 0666 (access is decided per caller)"
is "$(stat -c %a "$(dirname "$SUP_SOCK")")" 755 "socket directory is 0755"
"$HAREPDCTL" -f "$SUP_CONF" status >"$SUP_DIR/out"; rc=$?
is "$rc" 0 "-f FILE finds the socket from the config"
like "$(head -1 "$SUP_DIR/out")" "^harepd +pid $SUP_PID, mode dual" "status text names pid and mode"
like "$(cat "$SUP_DIR/out")" 'workers +NAME +PID' "status text has the worker table"
like "$(cat "$SUP_DIR/out")" "version +$ver \\(git " "status text names the version"
is "$("$HAREPDCTL" -s "$SUP_SOCK" status --json | python3 -c \
	'import json,sys; print(json.load(sys.stdin)["daemon"]["version"])')" \
	"$ver" "status JSON: daemon.version"

# the server's own answer to a request harepdctl would never send
reply=$(python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
s.sendall(b"rm -rf /\n"); s.shutdown(socket.SHUT_WR)
print(s.recv(4096).decode().strip())' "$SUP_SOCK")
like "$reply" '^error unknown: unknown command' "server rejects an unknown request"
raw() {	# raw DELAY BYTES: connect, wait, send, read the reply
	python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
time.sleep(float(sys.argv[2]))
try:
    s.sendall(sys.argv[3].encode())
    s.shutdown(socket.SHUT_WR)
except OSError:
    pass		# the supervisor gave up on us already
print(s.recv(4096).decode().strip())' "$SUP_SOCK" "$@" 2>&1
}
like "$(raw 1.5 '')" '^error bad-request: no request line in time' "a client silent past its 200 ms is dropped"
like "$(raw 0 "$(printf 'x%.0s' $(seq 300))")" '^error bad-request' "a request line over 255 bytes is refused"
like "$(raw 0 'status')" '^error bad-request' "a request without its newline is refused"
like "$(raw 0 $'status\n')" '^ok' "and with it, answered (the daemon is still responsive)"

# permissions
as() { runuser -u "$1" -- "$HAREPDCTL" -s "$SUP_SOCK" "${@:2}"; }
as nobody status >/dev/null; is "$?" 0 "nobody may read status"
as nobody status --json | python3 -c 'import json,sys; json.load(sys.stdin)'
is "$?" 0 "nobody gets valid JSON"
for cmd in stop-client start-client reload stop; do
	as nobody "$cmd" >/dev/null 2>"$SUP_DIR/err"; rc=$?
	is "$rc" 4 "nobody may not $cmd: exit 4"
done
like "$(cat "$SUP_DIR/err")" 'may only read status' "denial says why"
ok 'sup_alive $SUP_PID' "harepd still runs after nobody's stop"

# stop-client / start-client by the PostgreSQL OS user
wait_for 5 'sup_running hba'
is "$(as postgres stop-client)" "client paused: no more verdicts or pg_hba.conf edits" \
	"postgres may stop-client"
is "$(sup_status 'd["daemon"]["client_paused"]')" true "status: client paused"
like "$(sup_ctl status | head -1)" 'client PAUSED' "status text: client PAUSED"
ok 'wait_for 3 "grep -q \"proc.:.hba.*paused (stop-client)\\|paused.*proc.:.hba\" \"$SUP_LOG\""' \
	"hba worker got PAUSE"
old=$(sup_worker_pid hba)
kill -KILL "$old"
wait_for 3 "p=\$(sup_worker_pid hba) && [ \"\$p\" != $old ] && sup_running hba"
ok 'wait_for 3 "[ \$(grep -c \"paused (stop-client)\" \"$SUP_LOG\") -ge 2 ]"' \
	"a worker restarted while paused is paused too"
is "$(as postgres start-client)" "client resumed" "postgres may start-client"
is "$(sup_status 'd["daemon"]["client_paused"]')" false "status: client running"

# reload: broken config kept out, good config taken
cp "$SUP_CONF" "$SUP_DIR/good.yml"
echo "  watchDog: soon" >>"$SUP_CONF"
sup_ctl reload >/dev/null 2>"$SUP_DIR/err"; rc=$?
is "$rc" 1 "reload of a broken config: exit 1"
like "$(cat "$SUP_DIR/err")" 'conf.yml:[0-9]+' "reload error names file and line"
ok 'sup_alive $SUP_PID && sup_ctl status >/dev/null' "harepd runs on with the old config"
kill -HUP "$SUP_PID"
ok 'wait_for 3 "grep -q \"reload failed, keeping the running configuration\" \"$SUP_LOG\""' \
	"SIGHUP with a broken config: logged, kept"
sed "s/bindPort: $SUP_PORT/bindPort: $((SUP_PORT + 2))/" "$SUP_DIR/good.yml" >"$SUP_CONF"
is "$(sup_ctl reload)" "configuration reloaded" "reload of a good config"
like "$(grep -m1 'bindAddress/bindPort changed' "$SUP_LOG")" 'restart' \
	"a changed bind port is logged as needing a restart"
worker_logged() { grep "\"proc\":\"$1\"" "$SUP_LOG" | grep -qi "$2"; }
for r in rpc hba; do
	ok "wait_for 3 'worker_logged $r reload'" \
		"the $r worker got the new config (it logged the reload)"
done
ok 'sup_alive $SUP_PID' "harepd survived"
sup_no_sanitizer_reports
done_testing
