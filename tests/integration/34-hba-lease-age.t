#!/usr/bin/env bash
# A verdict older than its lease is ignored, however old: measured on
# CLOCK_BOOTTIME (decided_boot_ms) when the probe stamps it, else on the
# wall clock (decided_at_ms). The old worker took an age over 10 leases
# for a clock step and the verdict for fresh (fail open).
. "$(dirname "$0")/../lib/tap.sh"
. "$TOP/tests/helpers/hba_lib.sh"
[ "$(id -u)" -eq 0 ] || skip_all "needs root to run PostgreSQL as postgres"

hba_pg_setup 60000 md5
sup_start
sup start; like "$SUP_REPLY" "^hello" "worker up"
sup verdict 1 0 0 60000; sup applied 3000
like "$SUP_REPLY" "^applied seq=1 .*rw=0" "fresh deny applied"

# verdict SEQ RW RO LEASE_MS REAL_AGE BOOT_AGE (-1: field unset)
sup verdict 2 1 1 5000 60000 -1; sup applied 1500
is "$SUP_REPLY" timeout "allow 12 leases old by the wall clock (no boot stamp): ignored"
sup verdict 3 1 1 5000 0 6000; sup applied 1500
is "$SUP_REPLY" timeout "allow 1.2 leases old by the boot clock, fresh by the wall clock: ignored"
like "$(pgcheck 127.0.0.5 harw)" "^error" "harw still DOWN"

sup verdict 4 1 1 5000 -3600000 100; sup applied 3000
like "$SUP_REPLY" "^applied seq=4 .*rw=1" "fresh by the boot clock, wall clock stepped: applied"
sup verdict 5 0 0 60000 -1 -1; sup applied 3000
like "$SUP_REPLY" "^applied seq=5 .*rw=0" "no stamp at all: taken as just decided"
ok "grep -q 'verdict 2 arrived after its lease ran out' '$SUP_LOG'" "the stale verdict is logged"
ok "! grep -Eq 'Sanitizer|runtime error:' '$SUP_LOG'" "no sanitizer report"
done_testing
