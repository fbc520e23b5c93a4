#!/usr/bin/env bash
# A worker killed between rename() and pg_reload_conf() leaves a file that
# already says deny while PostgreSQL still has the allow loaded. The next
# worker must not take "the bytes are unchanged" for "PostgreSQL has them":
# its first verdict, or its first fence, checks and reloads anyway.
. "$(dirname "$0")/../lib/tap.sh"
. "$TOP/tests/helpers/hba_lib.sh"
[ "$(id -u)" -eq 0 ] || skip_all "needs root to run PostgreSQL as postgres"

hba_pg_setup 60000 md5
sup_start
sup start; like "$SUP_REPLY" "^hello" "worker up"
sup verdict 1 0 0 60000; sup applied 3000
cp -p "$HBA" "$PG_TMP/deny.conf"
like "$(pgcheck 127.0.0.5 harw)" "^error" "deny: harw DOWN"

allow_then_kill_mid_write() {
	sup verdict "$1" 1 1 60000; sup applied 3000
	like "$SUP_REPLY" "reloaded=1" "allow written and reloaded"
	like "$(pgcheck 127.0.0.5 harw)" "^auth" "allow: harw UP"
	sup kill 0
	# what a worker killed between rename() and pg_reload_conf() leaves
	cp -p "$PG_TMP/deny.conf" "$HBA"
	like "$(pgcheck 127.0.0.5 harw)" "^auth" "deny on disk, allow still loaded"
}

# 1. the first verdict after the restart is deny: the bytes do not change
allow_then_kill_mid_write 2
sup start; like "$SUP_REPLY" "^hello" "restarted"
sup verdict 3 0 0 60000; sup applied 3000
like "$SUP_REPLY" "changed=0 reloaded=1" "deny verdict, same bytes: reloaded anyway"
like "$(pgcheck 127.0.0.5 harw)" "^error" "deny verdict: harw DOWN"
sup verdict 4 0 0 60000; sup applied 3000
like "$SUP_REPLY" "changed=0 reloaded=0" "the next same verdict: no reload"

# 2. no verdict after the restart: the lease fence finds the deny on disk
allow_then_kill_mid_write 5
hba_write_conf 1500 md5
sup start; like "$SUP_REPLY" "^hello" "restarted with a 1.5 s lease"
sup applied 5000
like "$SUP_REPLY" "fenced=1" "lease ran out: fenced"
like "$SUP_REPLY" "reloaded=1" "fence, same bytes: reloaded anyway"
like "$(pgcheck 127.0.0.5 harw)" "^error" "fence: harw DOWN"
ok "! grep -Eq 'Sanitizer|runtime error:' '$SUP_LOG'" "no sanitizer report"
done_testing
