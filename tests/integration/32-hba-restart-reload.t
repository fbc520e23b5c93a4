#!/usr/bin/env bash
# A worker killed between rename() and pg_reload_conf() leaves a file that
# already says deny while PostgreSQL still has the allow loaded. The next
# worker must not take "the bytes are unchanged" for "PostgreSQL has them":
# its first verdict, or its first fence, checks and reloads anyway.
. "$(dirname "$0")/../lib/tap.sh"
. "$TOP/tests/helpers/hba_lib.sh"
[ "$(id -u)" -eq 0 ] || skip_all "needs root to run PostgreSQL as postgres"

hba_pg_setup 60000 md5
fs_start hba "$HBA_CONF"; like "$FS_REPLY" "^hello" "worker up"
fs send verdict seq=1 rw=0 ro=0 lease_ms=60000; fs_next 3 '^applied '
cp -p "$HBA" "$PG_TMP/deny.conf"
like "$(pgcheck 127.0.0.5 harw)" "^error" "deny: harw DOWN"

allow_then_kill_mid_write() {
	fs send verdict seq="$1" rw=1 ro=1 lease_ms=60000; fs_next 3 '^applied '
	like "$FS_REPLY" "reloaded=1" "allow written and reloaded"
	like "$(pgcheck 127.0.0.5 harw)" "^auth" "allow: harw UP"
	fs kill 0; fs_next 5 '^exit '
	# what a worker killed between rename() and pg_reload_conf() leaves
	cp -p "$PG_TMP/deny.conf" "$HBA"
	like "$(pgcheck 127.0.0.5 harw)" "^auth" "deny on disk, allow still loaded"
}

# 1. the first verdict after the restart is deny: the bytes do not change
allow_then_kill_mid_write 2
fs_start hba "$HBA_CONF"; like "$FS_REPLY" "^hello" "restarted"
fs send verdict seq=3 rw=0 ro=0 lease_ms=60000; fs_next 3 '^applied '
like "$FS_REPLY" "changed=0 reloaded=1" "deny verdict, same bytes: reloaded anyway"
like "$(pgcheck 127.0.0.5 harw)" "^error" "deny verdict: harw DOWN"
fs send verdict seq=4 rw=0 ro=0 lease_ms=60000; fs_next 3 '^applied '
like "$FS_REPLY" "changed=0 reloaded=0" "the next same verdict: no reload"

# 2. no verdict after the restart: the lease fence finds the deny on disk
allow_then_kill_mid_write 5
hba_write_conf 1500 md5
fs_start hba "$HBA_CONF"; like "$FS_REPLY" "^hello" "restarted with a 1.5 s lease"
fs_next 5 '^applied '
like "$FS_REPLY" "fenced=1" "lease ran out: fenced"
like "$FS_REPLY" "reloaded=1" "fence, same bytes: reloaded anyway"
like "$(pgcheck 127.0.0.5 harw)" "^error" "fence: harw DOWN"
ok "! grep -Eq 'Sanitizer|runtime error:' '$FS_ERR'" "no sanitizer report"
done_testing
