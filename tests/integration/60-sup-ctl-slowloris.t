#!/usr/bin/env bash
# The control socket is 0666: no local user may stall the supervisor
# through it (issue 13 item 1). As user nobody, 24 connections dribble one
# byte every 0.9 s and never send a newline, and 20 new connections every
# 0.2 s ask for status and never read the reply. Meanwhile verdicts keep
# flowing (the probe's seq advances, the hba worker never fences, nothing
# is restarted), `harepdctl status` answers within 1 s, the supervisor
# holds at most 16 connections, and the refusals are logged at a limited
# rate. Before the fix each dribbling connection held the supervisor for
# as long as it kept dribbling.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../helpers/sup_lib.sh"
. "$(dirname "$0")/../lib/pg.sh"
[ "$(id -u)" -eq 0 ] || skip_all "needs root to run PostgreSQL and drop privileges"
command -v protoc >/dev/null || skip_all "protoc missing (make deps)"
/usr/bin/python3 -c "import grpc" 2>/dev/null || skip_all "python3-grpcio missing (make deps)"

ATTACK_S=8
sup_init
sup_pg_cluster
PEER= DRIBBLE= NOREAD=
trap 'kill $PEER $DRIBBLE $NOREAD 2>/dev/null; sup_cleanup' EXIT

sup_fake_peer

# a lease of 3 s: a stall of that long fences the primary
SUP_NEIGHBOURS=127.0.0.1:$PEER_PORT SUP_WATCHDOG=1 \
	sup_config "policy: seed" "leaseMs: 3000"
sup_start
sup_require_running rpc probe hba
ok 'wait_for 15 "[ \"\$(sup_status \"(d[\\\"pg_hba\\\"] or {}).get(\\\"rw\\\")\")\" = allow ]"' \
	"before: hba applied rw allow"
fds_before=$(ls /proc/$SUP_PID/fd | wc -l)
log0=$(wc -l <"$SUP_LOG")	# what the attack's time wrote comes after
seq0=$(sup_status 'd["verdict"]["seq"]')

slowloris() { runuser -u nobody -- /usr/bin/python3 "$TOP/tests/helpers/ctl_slowloris.py" "$@"; }
slowloris dribble "$SUP_SOCK" 24 "$ATTACK_S" >"$SUP_DIR/dribble.out" 2>&1 &
DRIBBLE=$!
slowloris noread "$SUP_SOCK" 20 "$ATTACK_S" >"$SUP_DIR/noread.out" 2>&1 &
NOREAD=$!
sleep 1		# the attack is in full swing

# once a second: status with a 1 s limit, the hba report, the open fds
slow=0 fenced=0 maxfds=0 samples=0
end=$((SECONDS + ATTACK_S - 2))
while [ $SECONDS -lt $end ]; do
	t0=$EPOCHREALTIME
	if ! timeout 1 "$HAREPDCTL" -s "$SUP_SOCK" status --json >"$SUP_DIR/st.json" 2>/dev/null; then
		slow=$((slow + 1))
		diag "status did not answer within 1 s"
	else
		ms=$(( (${EPOCHREALTIME/./} - ${t0/./}) / 1000 ))
		[ "$ms" -lt 1000 ] || slow=$((slow + 1))
		python3 -c 'import json,sys; h=json.load(open(sys.argv[1]))["pg_hba"]; sys.exit(h["fenced"] or h["rw"] != "allow")' \
			"$SUP_DIR/st.json" || fenced=$((fenced + 1))
	fi
	n=$(ls /proc/$SUP_PID/fd | wc -l)
	[ "$n" -gt "$maxfds" ] && maxfds=$n
	samples=$((samples + 1))
	sleep 0.5
done
seq1=$(timeout 2 "$HAREPDCTL" -s "$SUP_SOCK" status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["verdict"]["seq"])')
wait $DRIBBLE $NOREAD 2>/dev/null
DRIBBLE= NOREAD=

is "$slow" 0 "during the attack, harepdctl status answered within 1 s ($samples tries)"
ok '[ "${seq1:-0}" -ge $((seq0 + ATTACK_S - 4)) ]' \
	"verdicts kept flowing (seq $seq0 -> ${seq1:-none} in about $((ATTACK_S - 1)) s, watchDog 1 s)"
is "$fenced" 0 "status never showed a fence: pg_hba.conf kept rw allow"
ok '! tail -n +$((log0 + 1)) "$SUP_LOG" | grep -q "no fresh verdict within the lease"' \
	"the hba worker never ran out of its lease during the attack"
is "$(sup_status '[w[r]["restarts"] for r in ("rpc", "probe", "hba")]')" "[0, 0, 0]" \
	"no worker was restarted"
ok '[ "$maxfds" -le $((fds_before + 16)) ]' \
	"the supervisor held at most 16 control connections (fds $fds_before before, at most $maxfds)"
like "$(cat "$SUP_DIR/dribble.out")" 'closed by harepd [1-9]' \
	"dribbling connections were closed by harepd ($(cat "$SUP_DIR/dribble.out"))"
like "$(grep -m1 '"control: uid' "$SUP_LOG")" '"control: uid 65534: closed.* request line' \
	"a dropped connection is logged with its uid and why"
like "$(grep -m1 'control: suppressed' "$SUP_LOG")" 'suppressed [0-9]+ more' \
	"the rest are counted, not logged one by one"
logged=$(grep -c '"control: uid' "$SUP_LOG")
ok '[ "$logged" -le $(( (ATTACK_S / 10 + 2) * 5 )) ]' \
	"refusals logged at a limited rate ($logged lines)"
ok 'sup_alive $SUP_PID && sup_ctl status >/dev/null' "harepd still answers after the attack"
sup_no_sanitizer_reports
done_testing
