#!/usr/bin/env bash
# A PostgreSQL backend that stops answering (SIGSTOP: statement_timeout
# never fires) must not block the hba worker: each query has a client-side
# deadline (3.5 s), after which the connection is dropped, the verdict is
# answered with the error, and the next verdict works on a new connection.
# A deny is loaded all the same (SIGHUP to the postmaster, which still runs).
. "$(dirname "$0")/../lib/tap.sh"
. "$TOP/tests/helpers/hba_lib.sh"
[ "$(id -u)" -eq 0 ] || skip_all "needs root to run PostgreSQL as postgres"

hba_pg_setup 60000 md5
BPID=
trap '[ -n "$BPID" ] && kill -CONT "$BPID" 2>/dev/null; pg_stop_all' EXIT
fs_start hba "$HBA_CONF"; like "$FS_REPLY" "^hello" "worker up"
fs send verdict seq=1 rw=1 ro=1 lease_ms=60000; fs_next 3 '^applied '
like "$FS_REPLY" "reloaded=1" "allow reloaded"
like "$(pgcheck 127.0.0.5 harw)" "^auth" "allow: harw UP"

BPID=$(pg_psql -c "select pid from pg_stat_activity where application_name = 'harepd-hba'")
like "$BPID" '^[0-9]+$' "the worker's backend: $BPID"
kill -STOP "$BPID"

fs send verdict seq=2 rw=0 ro=0 lease_ms=60000; fs_next 10 '^applied '
like "$FS_REPLY" "^applied seq=2 " "deny verdict answered although the backend is stopped"
like "$FS_REPLY" "reloaded=1 .*no answer from PostgreSQL within 3500 ms.*a deny: reloaded without validation" \
    "reported as a timeout; the deny reloaded unvalidated"
us=$(fs_field "$FS_REPLY" us)
ok "[ '${us:-99999999}' -lt 6000000 ]" "answered within the deadline (${us:-?} us)"
ok "grep -q '^host *harw harw 127.0.0.5/32 *reject' '$HBA'" "the deny is on disk (a fence must not wait)"

ok 'wait_for 5 "pgcheck 127.0.0.5 harw | grep -q ^error"' "deny in effect: harw DOWN"

fs send verdict seq=3 rw=1 ro=1 lease_ms=60000; fs_next 10 '^applied '
like "$FS_REPLY" "^applied seq=3 .*reloaded=1 .*error=$" "next verdict: new connection, validated, reloaded"
like "$(pgcheck 127.0.0.5 harw)" "^auth" "allow: harw UP"
kill -CONT "$BPID"; BPID=
ok "! grep -Eq 'Sanitizer|runtime error:' '$FS_ERR'" "no sanitizer report"
done_testing
