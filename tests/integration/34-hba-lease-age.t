#!/usr/bin/env bash
# A verdict older than its lease is ignored, however old, measured on
# CLOCK_BOOTTIME (decided_boot_ms) only. The old worker took an age over
# 10 leases for a clock step and the verdict for fresh (fail open), and
# fell back on the wall clock (decided_at_ms) for a verdict without a
# boot stamp: an allow without one is now ignored, a deny applied.
. "$(dirname "$0")/../lib/tap.sh"
. "$TOP/tests/helpers/hba_lib.sh"
[ "$(id -u)" -eq 0 ] || skip_all "needs root to run PostgreSQL as postgres"

hba_pg_setup 60000 md5
fs_start hba "$HBA_CONF"; like "$FS_REPLY" "^hello" "worker up"
fs send verdict seq=1 rw=0 ro=0 lease_ms=60000; fs_next 3 '^applied '
like "$FS_REPLY" "^applied seq=1 .*rw=0" "fresh deny applied"

# verdict SEQ RW RO LEASE_MS REAL_AGE BOOT_AGE (-1: field unset)
fs send verdict seq=2 rw=1 ro=1 lease_ms=5000 at_age_ms=60000 decided_boot_ms=0; fs_next 1.5 '^applied '
is "$FS_REPLY" timeout "allow 12 leases old by the wall clock, no boot stamp: ignored"
fs send verdict seq=3 rw=1 ro=1 lease_ms=5000 boot_age_ms=6000; fs_next 1.5 '^applied '
is "$FS_REPLY" timeout "allow 1.2 leases old by the boot clock, fresh by the wall clock: ignored"
like "$(pgcheck 127.0.0.5 harw)" "^error" "harw still DOWN"

fs send verdict seq=4 rw=1 ro=1 lease_ms=5000 at_age_ms=-3600000 boot_age_ms=100; fs_next 3 '^applied '
like "$FS_REPLY" "^applied seq=4 .*rw=1" "fresh by the boot clock, wall clock stepped: applied"
fs send verdict seq=5 rw=0 ro=0 lease_ms=60000 decided_at_ms=0 decided_boot_ms=0; fs_next 3 '^applied '
like "$FS_REPLY" "^applied seq=5 .*rw=0" "a deny without any stamp: applied (a deny needs no lease)"
fs send verdict seq=6 rw=1 ro=1 lease_ms=60000 at_age_ms=100 decided_boot_ms=0; fs_next 1.5 '^applied '
is "$FS_REPLY" timeout "an allow fresh by the wall clock but without a boot stamp: ignored (its age is unknown)"
ok "grep -q 'verdict 6 has no usable boot-clock stamp' '$FS_OUT'" "and the log says why"
like "$(pgcheck 127.0.0.5 harw)" "^error" "harw DOWN"
ok "grep -q 'verdict 3 arrived after its lease ran out' '$FS_OUT'" "the stale verdict is logged"
ok "! grep -Eq 'Sanitizer|runtime error:' '$FS_ERR'" "no sanitizer report"
done_testing
