#!/usr/bin/env bash
# A restarted hba worker is handed the last verdict first. When that
# allow's lease has run out, so has the allow on disk: the worker fences
# before it takes anything else, even an allow that reaches it in the same
# read. It used to set its lease to "now" and fence on its next timer, so
# a fresh allow read in the same round cancelled the fence: whether the
# stale allow was ever withdrawn depended on the timing of the restart.
. "$(dirname "$0")/../lib/tap.sh"
. "$TOP/tests/helpers/hba_lib.sh"
[ "$(id -u)" -eq 0 ] || skip_all "needs root to run PostgreSQL as postgres"

hba_pg_setup 5000 md5
fs_start hba "$HBA_CONF"; like "$FS_REPLY" "^hello" "worker up"
fs send verdict seq=1 rw=1 ro=1 lease_ms=5000; fs_next 3 '^applied '
like "$FS_REPLY" "^applied seq=1 .*rw=1" "fresh allow applied"
fs_stop

fs_start hba "$HBA_CONF"; like "$FS_REPLY" "^hello" "worker restarted"
# the handed verdict (its lease ran out 1 s ago) and a fresh allow, in one write
{ echo "send verdict seq=1 rw=1 ro=1 lease_ms=5000 boot_age_ms=6000"
  echo "send verdict seq=2 rw=1 ro=1 lease_ms=5000"; } >&"$FS_FD"
fs_next 3 '^applied '
like "$FS_REPLY" "^applied .*fenced=1" "the run-out handed allow is fenced first"
fs_next 3 '^applied '
like "$FS_REPLY" "^applied seq=2 .*rw=1" "then the fresh allow is applied"
ok "grep -q 'verdict 1 arrived after its lease ran out' '$FS_OUT'" "the log says why"
ok "! grep -Eq 'Sanitizer|runtime error:' '$FS_ERR'" "no sanitizer report"
done_testing
