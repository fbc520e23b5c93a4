#!/usr/bin/env bash
# contrib/harepd.service.in under a booted systemd (tests/systemd/
# nspawn.sh: this machine's root, copy-on-write, in systemd-nspawn):
# Type=notify readiness, the log lines' journal priority, the seccomp
# filter and MemoryDenyWriteExecute holding with the gRPC server
# answering, the pg_hba.conf rename in /etc/postgresql under
# ProtectSystem=strict, reload (and a failed reload), logrotate's
# reopen-logs, the watchdog, stop (stop-client first), the witness
# through /etc/default/harepd, and a broken config not restarted.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/nspawn.sh"
ns_require
ns_boot

PORT=7654
HBA=$(cd "$NS_ROOT" && ls etc/postgresql/*/main/pg_hba.conf 2>/dev/null | head -1)
if [ -z "$HBA" ]; then	# no PostgreSQL here: a Debian-shaped stand-in
	HBA=etc/postgresql/15/main/pg_hba.conf
	mkdir -p "$NS_ROOT/${HBA%/*}"
	printf 'local all postgres peer\n' >"$NS_ROOT/$HBA"
	ns chown -R postgres:postgres "/${HBA%/*}"
fi
HBA=/$HBA
conf() {	# the probe's database is a socket that does not exist
	cat <<YML
harepd:
  nodeName: node_1
  primaryIP: 127.0.0.1
  hbaConfig: $HBA
  haproxy:
    server: [127.0.0.5]
    users:
      readWrite: harw
  repmgr:
    user: repmgr
    db: repmgr
    host: /run/harepd-test-no-postgresql
    port: 5432
  gRPC:
    bindAddress: 127.0.0.1
    bindPort: $PORT
    neighbours: [127.0.0.1:$((PORT + 1))]
    connectionDeadline: 1
  watchDog: 2
  logs:
    filePath: /var/log/harepd/harepd.log
    rotationTime: 0
YML
}
conf >"$NS_ROOT/etc/harepd/conf.yml"
json() {	# json PYTHON-EXPR on `harepdctl status --json` as s
	ns harepdctl status --json 2>/dev/null |
	    python3 -c "import json,sys; s=json.load(sys.stdin); print($1)" 2>/dev/null
}
journal() { ns journalctl -q -u harepd -o cat "$@"; }
ino_before=$(ns stat -c %i "$HBA")

# ---- start: Type=notify, ExecStartPre ----
t0=$(date +%s%N)
ns systemctl start harepd; rc=$?
is "$rc" 0 "systemctl start harepd"
diag "start took $(( ($(date +%s%N) - t0) / 1000000 )) ms"
is "$(ns_unit_prop ActiveState)/$(ns_unit_prop SubState)" active/running \
    "active (running) when systemctl start returns"
is "$(json '" ".join(w["state"] for w in s["workers"])')" "running running running" \
    "READY=1 came after every worker started: all running at once"
like "$(ns_unit_prop StatusText)" '.' "the supervisor's STATUS= is shown: $(ns_unit_prop StatusText)"
like "$(journal)" 'configuration OK' "ExecStartPre ran harepd -t first"
MAIN=$(ns_unit_prop MainPID)
is "$(json 's["daemon"]["pid"]')" "$MAIN" "MainPID is the supervisor"
is "$(json 's["daemon"]["ready"]')" True "which says it is ready"

# ---- the journal's priorities ----
jprio() {	# jprio MSG-REGEX: PRIORITY of the first line matching
	ns journalctl -q -u harepd -o json | python3 -c '
import json, re, sys
for l in sys.stdin:
    e = json.loads(l)
    m = e.get("MESSAGE")
    if isinstance(m, str) and re.search(sys.argv[1], m):
        print(e.get("PRIORITY"), m[:1]); break' "$1"
}
is "$(jprio '"msg":"all workers ready')" "6 {" "an info line: priority 6, the <6> prefix taken off"

# ---- sandbox with the gRPC core running ----
RPC=$(json '[w["pid"] for w in s["workers"] if w["name"] == "rpc"][0]')
for p in "$MAIN" "$RPC"; do
	like "$(ns grep '^Seccomp:' /proc/$p/status)" '2$' "pid $p runs under a seccomp filter (SystemCallFilter, MemoryDenyWriteExecute)"
done
is "$(ns_unit_prop MemoryDenyWriteExecute)" yes "MemoryDenyWriteExecute=yes in force"
mkdir -p "$NS_ROOT/root/pb"
protoc --python_out="$NS_ROOT/root/pb" -I "$TOP/proto" "$TOP/proto/messaging.proto"
# into the container's own root: a tree under /tmp is not visible inside
cp "$TOP/tests/interop/rpc_client.py" "$NS_ROOT/root/pb/"
# asked again until it answers: on a loaded machine the first call may
# meet a server still starting, which says nothing about the filter
rpc_answers() {
	out=$(ns /usr/bin/python3 /root/pb/rpc_client.py 127.0.0.1:$PORT --pb /root/pb 2>&1)
	[[ $out =~ ^code=(OK|UNAVAILABLE)\ n=1\ (answer=|details=(no\ local\ view|local\ database)) ]]
}
ok 'wait_for 30 rpc_answers' "the rpc worker's gRPC server answers under the filter"
diag "gRPC: $out"
ok 'ns kill -0 $RPC' "and is still the same process (not killed by seccomp)"
wx='import mmap; mmap.mmap(-1, 4096, prot=mmap.PROT_WRITE | mmap.PROT_EXEC)'
ns systemd-run -q --wait --pipe -p MemoryDenyWriteExecute=yes python3 -c "$wx" >/dev/null 2>&1
isnt_rc=$?
ok '[ "$isnt_rc" -ne 0 ]' "this systemd enforces MemoryDenyWriteExecute (a W+X mmap fails)"
ns systemd-run -q --wait --pipe python3 -c "$wx" >/dev/null 2>&1
is "$?" 0 "(the same mmap without it succeeds)"

# ---- pg_hba.conf, rewritten in /etc/postgresql ----
wait_for 20 'ns grep -q "BEGIN harepd managed block" "$HBA"'
ok 'ns grep -q "BEGIN harepd managed block" "$HBA"' "the hba worker wrote its block into $HBA"
isnt() { [ "$1" != "$2" ]; }
ok 'isnt "$(ns stat -c %i "$HBA")" "$ino_before"' "by renaming a new file over it (new inode)"
is "$(ns find "${HBA%/*}" -newer /etc/harepd/conf.yml -name '*.tmp*' | wc -l)" 0 "no temporary file left"
ok 'ns test -s /var/log/harepd/harepd.log' "logs.filePath written in LogsDirectory /var/log/harepd"
is "$(ns stat -c %a /var/log/harepd)" 750 "the log directory is 0750"

# ---- reload ----
ns systemctl reload harepd; is "$?" 0 "systemctl reload"
like "$(journal)" 'configuration reloaded' "reloaded through harepdctl"
cp "$NS_ROOT/etc/harepd/conf.yml" "$NS_DIR/good.yml"
echo '  watchDog: "soon"' >>"$NS_ROOT/etc/harepd/conf.yml"
out=$(ns systemctl reload harepd 2>&1); rc=$?
ok '[ "$rc" -ne 0 ]' "a reload of a broken config fails systemctl reload (rc $rc)"
is "$(ns_unit_prop ActiveState)" active "and harepd runs on with the old one"
like "$(ns journalctl -q -u harepd -p err -o cat)" 'reload failed' "journalctl -p err shows the failed reload"
ok '! ns journalctl -q -u harepd -p err -o cat | grep -q "all workers ready"' "and no info line"
cp "$NS_DIR/good.yml" "$NS_ROOT/etc/harepd/conf.yml"

# ---- logrotate, as installed ----
out=$(ns logrotate -f /etc/logrotate.d/harepd 2>&1); rc=$?
is "$rc" 0 "logrotate -f /etc/logrotate.d/harepd"
[ "$rc" -eq 0 ] || diag "$out"
ok 'ns test -s /var/log/harepd/harepd.log.1' "the old file renamed"
ns systemctl reload harepd
like "$(ns cat /var/log/harepd/harepd.log)" 'configuration reloaded' "new lines in the new file (reopen-logs)"

# ---- the watchdog ----
mkdir -p "$NS_ROOT/etc/systemd/system/harepd.service.d"
printf '[Service]\nWatchdogSec=3\nTimeoutAbortSec=2\n' \
    >"$NS_ROOT/etc/systemd/system/harepd.service.d/test.conf"
ns systemctl daemon-reload
ns systemctl restart harepd
n0=$(ns_unit_prop NRestarts)
sleep 7
is "$(ns_unit_prop ActiveState)/$(ns_unit_prop NRestarts)" "active/$n0" \
    "WatchdogSec=3: 7 s on, WATCHDOG=1 keeps it alive"
MAIN=$(ns_unit_prop MainPID)
ns kill -STOP "$MAIN"
wait_for 30 '[ "$(ns_unit_prop NRestarts)" -gt "$n0" ] && [ "$(ns_unit_prop ActiveState)" = active ]'
is "$(ns_unit_prop NRestarts)" "$((n0 + 1))" "a hung supervisor is killed by the watchdog and restarted"
like "$(ns journalctl -q -u harepd -o cat)" 'Watchdog timeout' "the journal says why"
ok 'isnt "$(ns_unit_prop MainPID)" "$MAIN"' "a new supervisor"
rm -r "$NS_ROOT/etc/systemd/system/harepd.service.d"
ns systemctl daemon-reload

# ---- stop: stop-client, then SIGTERM ----
ns journalctl -q --rotate >/dev/null 2>&1
since=$(ns date '+%Y-%m-%d %H:%M:%S')
sleep 1
ns systemctl stop harepd; is "$?" 0 "systemctl stop harepd"
is "$(ns_unit_prop ActiveState)/$(ns_unit_prop Result)" inactive/success "stopped cleanly"
log=$(ns journalctl -q -u harepd -o cat --since "$since")
pause=$(grep -n 'stop-client: ' <<<"$log" | head -1 | cut -d: -f1)
term=$(grep -n '"msg":"stopping (' <<<"$log" | head -1 | cut -d: -f1)
ok '[ -n "$pause" ] && [ -n "$term" ] && [ "$pause" -lt "$term" ]' \
    "stop-client (line ${pause:-none}) before SIGTERM's stop (line ${term:-none})"
like "$(grep '"msg":"stopping (' <<<"$log")" 'probe.*hba.*rpc' "which stops probe, hba, rpc in order"

# ---- the witness, from the same unit ----
echo 'HAREPD_OPTS="--server-only"' >"$NS_ROOT/etc/default/harepd"
ns systemctl start harepd; is "$?" 0 "start with HAREPD_OPTS=--server-only"
is "$(json 's["daemon"]["mode"]')" server-only "the witness's mode"
is "$(json '" ".join(w["name"] for w in s["workers"] if w["state"] == "running")')" "rpc probe" \
    "gRPC server and probe, no pg_hba worker"
ns systemctl stop harepd
echo 'HAREPD_OPTS=""' >"$NS_ROOT/etc/default/harepd"

# ---- a broken config: exit 78, not restarted ----
echo 'harepd: [' >"$NS_ROOT/etc/harepd/conf.yml"
n0=$(ns_unit_prop NRestarts)
ns systemctl start harepd 2>/dev/null; rc=$?
ok '[ "$rc" -ne 0 ]' "start on a broken config fails (rc $rc)"
sleep 4	# RestartSec=1s: a restart would have come
is "$(ns_unit_prop ActiveState)/$(ns_unit_prop NRestarts)" "failed/$n0" \
    "and is not restarted (RestartPreventExitStatus=78)"
is "$(ns_unit_prop ExecMainStatus)" 78 "the daemon exited 78 (EX_CONFIG)"
like "$(journal -n 30)" 'conf.yml' "harepd -t's report of the config is in the journal"
done_testing
