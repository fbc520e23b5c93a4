#!/usr/bin/env bash
# systemd notifications (Type=notify, WatchdogSec): READY=1 once every
# worker of the mode said Hello (never before), WATCHDOG=1 every half
# WATCHDOG_USEC, STOPPING=1 on SIGTERM; all from the supervisor's pid.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../helpers/sup_lib.sh"
[ "$(id -u)" -eq 0 ] || skip_all "needs root to drop privileges"

sup_init
sup_config
NSOCK=$SUP_DIR/notify
# receive datagrams, print "<ms since start> <sender pid> <payload>"
python3 -u - "$NSOCK" >"$SUP_DIR/notes" <<'PY' &
import socket, sys, time, struct
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
t0 = time.monotonic()
while True:
    msg, anc, _, _ = s.recvmsg(4096, socket.CMSG_SPACE(12))
    pid = struct.unpack("iII", anc[0][2])[0] if anc else 0
    for line in msg.decode().split("\n"):
        print(int((time.monotonic() - t0) * 1000), pid, line)
PY
LISTENER=$!
trap 'kill $LISTENER 2>/dev/null; sup_cleanup' EXIT
wait_for 5 '[ -S "$NSOCK" ]' || bail "no notify listener"

NOTIFY_SOCKET=$NSOCK WATCHDOG_USEC=400000 sup_start
sleep 2.2
n=$(grep -c ' WATCHDOG=1$' "$SUP_DIR/notes")
# the median gap between pings, robust to a loaded machine's hiccups
median=$(awk '$3 == "WATCHDOG=1" { if (t != "") print $1 - t; t = $1 }' "$SUP_DIR/notes" |
	sort -n | awk '{ a[NR] = $1 } END { print (NR ? a[int((NR + 1) / 2)] : -1) }')
ok '[ "$n" -ge 5 ]' "WATCHDOG=1 keeps coming ($n in 2.2 s)"
ok '[ "$median" -ge 150 ] && [ "$median" -le 260 ]' \
	"every half WATCHDOG_USEC=400000: median gap $median ms"
senders=$(awk '{ print $2 }' "$SUP_DIR/notes" | sort -u | tr '\n' ' ')
is "$senders" "$SUP_PID " "every notification comes from the supervisor's pid"

ready_workers=0
for r in rpc probe hba; do sup_running "$r" && ready_workers=$((ready_workers + 1)); done
if [ "$ready_workers" -eq 3 ]; then
	is "$(grep -c ' READY=1$' "$SUP_DIR/notes")" 1 "READY=1 once, all workers ready"
	ready_at=$(awk '$3 == "READY=1" { print $1 }' "$SUP_DIR/notes")
	ok '[ -n "$ready_at" ]' "READY=1 arrived"
else
	is "$(grep -c ' READY=1$' "$SUP_DIR/notes")" 0 \
		"no READY=1 while a worker never said Hello ($ready_workers of 3 ready)"
	is "$(sup_status 'd["daemon"]["ready"]')" false "status: not ready either"
fi
sup_ctl stop-client >/dev/null
ok 'wait_for 2 "grep -q \" STATUS=client paused\" \"$SUP_DIR/notes\""' \
	"STATUS= tells systemctl status that the client is paused"
kill -TERM "$SUP_PID"
wait_for 10 '! sup_alive $SUP_PID'
ok 'wait_for 2 "grep -q \" STOPPING=1$\" \"$SUP_DIR/notes\""' "STOPPING=1 on SIGTERM"
done_testing
