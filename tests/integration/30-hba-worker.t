#!/usr/bin/env bash
# The hba worker against a real PostgreSQL 15, driven by a fake supervisor:
# verdicts change who can log in from the HAProxy address, a rule
# PostgreSQL rejects is never reloaded and the old file comes back, the
# lease fences, PAUSE/RESUME/SHUTDOWN, a database that is down.
. "$(dirname "$0")/../lib/tap.sh"
. "$TOP/tests/helpers/hba_lib.sh"
[ "$(id -u)" -eq 0 ] || skip_all "needs root to run PostgreSQL as postgres"

hba_pg_setup 2500 md5
touch "$(dirname "$HBA")/.pg_hba.conf.harepd-tmp.1.0"
chown postgres: "$(dirname "$HBA")/.pg_hba.conf.harepd-tmp.1.0"

fs_start hba "$HBA_CONF"
like "$FS_REPLY" "^hello pid=[0-9]+ role=hba$" "worker starts, loads the config, says hello"
WORKER=$FS_WORKER
is "$(ps -o user= -p "$WORKER" | tr -d ' ')" "postgres" "worker runs as the owner of pg_hba.conf"
is "$(temp_files)" 0 "a stale temp file of ours is removed at start"
ok "grep -q 'removed 1 temp file' '$FS_OUT'" "and the removal is logged"
ok "cmp -s '$HBA' '$HBA_ORIG'" "nothing written before a verdict"

# allow: the check users reach authentication
fs send verdict seq=1 rw=1 ro=1 lease_ms=5000
fs_next 3 '^applied '
like "$FS_REPLY" "^applied seq=1 changed=1 reloaded=1 fenced=0 rw=1 ro=1 .* error=$" "allow: written and reloaded"
is "$(blocks_in "$HBA")" 1 "one block"
is "$(outside_block "$HBA" | cmp - "$HBA_ORIG" && echo same)" same "every byte outside the block is the operator's"
is "$(stat -c '%U %a' "$HBA")" "postgres 600" "owner and mode kept"
like "$(psql_login harw)" "password authentication failed for user \"harw\"" "allow: psql as harw from 127.0.0.1 reaches authentication"
like "$(pgcheck 127.0.0.5 harw)" "^auth (5|10)$" "allow: pgsql-check as harw from 127.0.0.5 gets a password request (UP)"
like "$(pgcheck 127.0.0.5 haro)" "^auth (5|10)$" "allow: same for haro"

# deny: rejected by pg_hba.conf, before any catch-all (initdb's trust lines)
fs send verdict seq=2 rw=0 ro=1 lease_ms=5000
fs_next 3 '^applied '
like "$FS_REPLY" "^applied seq=2 changed=1 reloaded=1 fenced=0 rw=0 ro=1 " "rw deny, ro allow: written and reloaded"
like "$(psql_login harw)" "pg_hba.conf rejects connection for host \"127.0.0.1\", user \"harw\"" "deny: psql as harw from 127.0.0.1 is rejected by pg_hba.conf"
like "$(pgcheck 127.0.0.5 harw)" "^error pg_hba.conf rejects connection for host \"127.0.0.5\", user \"harw\"" "deny: pgsql-check as harw from 127.0.0.5 gets an error (DOWN)"
like "$(pgcheck 127.0.0.5 haro)" "^auth (5|10)$" "ro allow: haro still UP"
like "$(pgcheck 127.0.0.1 postgres)" "^auth 0$" "other users from the same address are not affected (initdb's trust line)"

# the same verdict again: no write, no reload
ino=$(stat -c %i "$HBA")
fs send verdict seq=3 rw=0 ro=1 lease_ms=5000
fs_next 3 '^applied '
like "$FS_REPLY" "^applied seq=3 changed=0 reloaded=0 fenced=0 rw=0 ro=1 " "same verdict: nothing changed, no reload"
is "$(stat -c %i "$HBA")" "$ino" "the file was not replaced"

# a rule PostgreSQL cannot load (cert on a host line) is never reloaded
cp "$HBA" "$PG_TMP/before-cert"
hba_write_conf 2500 cert
fs push-config
fs_next 3 '^applied '
like "$FS_REPLY" "^applied seq=3 changed=0 reloaded=0 " "config reload re-applies the current verdict (deny: no change)"
reloads_before=$(grep -c 'received SIGHUP' "$PG_TMP/server.log")
fs send verdict seq=4 rw=1 ro=1 lease_ms=5000
fs_next 3 '^applied '
like "$FS_REPLY" "^applied seq=4 changed=0 reloaded=0 fenced=0 rw=0 ro=1 .*error=PostgreSQL rejects the new pg_hba.conf: line [0-9]+: .*cert.*previous file restored, not reloaded" \
    "allow with method cert: rejected by pg_hba_file_rules, reported, restored"
ok "cmp -s '$HBA' '$PG_TMP/before-cert'" "the previous bytes are back"
is "$(grep -c 'received SIGHUP' "$PG_TMP/server.log")" "$reloads_before" "PostgreSQL was not reloaded"
ok "! grep -q 'pg_hba.conf was not reloaded' '$PG_TMP/server.log'" "PostgreSQL never tried to load the broken file"
like "$(pgcheck 127.0.0.5 harw)" "^error pg_hba.conf rejects" "harw still denied"
is "$(temp_files)" 0 "no temp file left"
ino=$(stat -c %i "$HBA")
fs send verdict seq=41 rw=1 ro=1 lease_ms=5000
fs_next 3 '^applied '
like "$FS_REPLY" "^applied seq=41 changed=0 reloaded=0 .*error=PostgreSQL rejects .*the same file again: not written" "the same refused file is not written again"
is "$(stat -c %i "$HBA")" "$ino" "the file was not touched"
hba_write_conf 2500 md5
fs push-config
fs_next 3 '^applied '
like "$FS_REPLY" "^applied seq=41 changed=1 reloaded=1 fenced=0 rw=1 ro=1 .* error=$" "config fixed: the verdict that failed is applied"

# lease of a verdict: no fresh one in time -> fence
fs send verdict seq=5 rw=1 ro=1 lease_ms=1000
fs_next 3 '^applied '
like "$FS_REPLY" "^applied seq=5 changed=0 reloaded=0 fenced=0 rw=1 ro=1 " "allow with a 1 s lease (already allowed)"
fs_next 0.6 '^applied '
is "$FS_REPLY" "timeout" "no fence while the lease holds"
fs_next 2 '^applied '
like "$FS_REPLY" "^applied seq=0 changed=1 reloaded=1 fenced=1 rw=0 ro=0 " "lease ran out: fenced (rw deny, ro deny)"
us=$(fs_field "$FS_REPLY" us)
ok "[ $us -ge 950000 ] && [ $us -le 1500000 ]" "fenced about one lease after the verdict ($us us)"
like "$(pgcheck 127.0.0.5 harw)$(pgcheck 127.0.0.5 haro)" "^error .*error " "fenced: both check users DOWN"
fs_next 3 '^applied '
is "$FS_REPLY" "timeout" "fenced once, not again and again"

# PAUSE: verdicts ignored, never fenced; RESUME: one lease, then fence
fs send verdict seq=6 rw=1 ro=1 lease_ms=1000
fs_next 3 '^applied '
fs send control pause
cp "$HBA" "$PG_TMP/paused"
fs send verdict seq=7 rw=0 ro=0 lease_ms=5000
fs_next 2.5 '^applied '
is "$FS_REPLY" "timeout" "paused: the verdict is ignored and the lease never fences"
ok "cmp -s '$HBA' '$PG_TMP/paused'" "paused: pg_hba.conf left as it is"
fs send control resume
fs_next 2 '^applied '
is "$FS_REPLY" "timeout" "resumed: waits one lease (2.5 s) for a verdict"
fs_next 2 '^applied '
like "$FS_REPLY" "^applied seq=0 changed=1 reloaded=1 fenced=1 " "resumed without verdicts: fenced after the lease"

# the database down: a fence is still written, the reload comes later
fs send verdict seq=8 rw=1 ro=1 lease_ms=60000
fs_next 3 '^applied '
like "$FS_REPLY" "^applied seq=8 changed=1 reloaded=1 " "allow again"
(cd / && pg_as "$PGBIN/pg_ctl" -D "$PGDATA" -m fast -w stop >/dev/null 2>&1)
fs send verdict seq=9 rw=0 ro=0 lease_ms=60000
fs_next 5 '^applied '
like "$FS_REPLY" "^applied seq=9 changed=1 reloaded=0 fenced=0 rw=0 ro=0 .*error=cannot connect to PostgreSQL" "database down: written, not reloaded, says why"
ok "grep -q 'harw harw 127.0.0.5/32 reject' '$HBA'" "the deny is in the file for the next start"
(cd "$PG_TMP" && pg_as "$PGBIN/pg_ctl" -D "$PGDATA" -l "$PG_TMP/server.log" -w start >/dev/null 2>&1)
fs_next 5 '^applied '
like "$FS_REPLY" "^applied seq=9 changed=0 reloaded=1 fenced=0 rw=0 ro=0 .* error=$" "database back: the pending reload is retried"
like "$(pgcheck 127.0.0.5 harw)" "^error pg_hba.conf rejects" "and harw is denied"

# verdict -> reload latency over 100 verdicts
lat=()
for i in $(seq 100); do
	fs send verdict seq=$((100 + i)) rw=$((i % 2)) ro=$((i % 2)) lease_ms=60000
	fs_next 3 '^applied '
	case "$FS_REPLY" in *reloaded=1*) lat+=("$(fs_field "$FS_REPLY" us)") ;; esac
done
is "${#lat[@]}" 100 "100 alternating verdicts, 100 reloads"
sorted=$(printf '%s\n' "${lat[@]}" | sort -n)
p50=$(sed -n 50p <<<"$sorted"); p99=$(sed -n 99p <<<"$sorted")
diag "verdict -> HbaApplied(reloaded) over 100 verdicts: median ${p50} us, p99 ${p99} us, max $(sed -n 100p <<<"$sorted") us"
ok "[ ${p99:-999999999} -lt 500000 ]" "p99 verdict -> reload under 0.5 s"

# verdict -> what HAProxy's check sees from 127.0.0.5 (the postmaster
# reloads asynchronously after pg_reload_conf())
eff=()
for i in $(seq 20); do
	rw=$((i % 2)); want='^error'; [ $rw = 1 ] && want='^auth'
	t0=$(date +%s%N); end=$((t0 + 5000000000))
	fs send verdict seq=$((300 + i)) rw=$rw ro=$rw lease_ms=60000
	until pgcheck 127.0.0.5 harw | grep -Eq "$want"; do
		[ "$(date +%s%N)" -lt $end ] || break
	done
	eff+=($(( ($(date +%s%N) - t0) / 1000 )))
	fs_next 3 '^applied '
done
sorted=$(printf '%s\n' "${eff[@]}" | sort -n)
diag "verdict -> pgsql-check from 127.0.0.5 flips, 20 verdicts: median $(sed -n 10p <<<"$sorted") us, max $(sed -n 20p <<<"$sorted") us"
ok "[ $(sed -n 20p <<<"$sorted") -lt 1000000 ]" "every verdict visible to the check within 1 s"

# SHOW hba_file differs from hbaConfig: said loudly
fs send control shutdown
fs_next 3 '^exit '
like "$FS_REPLY" "^exit status=0 signal=0 " "SHUTDOWN: exit 0"
cp "$HBA" "$PG_TMP/other_hba.conf"
chown postgres: "$PG_TMP/other_hba.conf"
hba_write_conf 2500 md5 "$PG_TMP/other_hba.conf"
fs_start hba "$HBA_CONF"
like "$FS_REPLY" "^hello " "worker on a file PostgreSQL does not read"
ok "wait_for 5 \"grep -q 'PostgreSQL reads .* but harepd edits .*other_hba.conf' '$FS_OUT'\"" "the mismatch with SHOW hba_file is logged"
fs send control shutdown
fs_next 3 '^exit '
ok "! grep -Eq 'Sanitizer|runtime error:' '$FS_ERR'" "no sanitizer report from the worker or the helper"
done_testing
