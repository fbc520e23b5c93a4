#!/usr/bin/env bash
# The role harepd connects as is no superuser and has no
# pg_read_all_settings (issue 13 item 2): pg_hba_file_rules, SHOW hba_file
# and pg_reload_conf() are all refused. A deny must still take effect
# (reloaded unvalidated, by SIGHUP to the postmaster), and what the role
# lacks must be said at start, in the log and in every HbaApplied.
. "$(dirname "$0")/../lib/tap.sh"
. "$TOP/tests/helpers/hba_lib.sh"
[ "$(id -u)" -eq 0 ] || skip_all "needs root to run PostgreSQL as postgres"

hba_pg_setup 60000 md5
pg_psql -c "CREATE ROLE hbacheck LOGIN" || bail "cannot create the role"
sed -i 's/repmgr: {user: postgres,/repmgr: {user: hbacheck,/' "$HBA_CONF"
grep -q 'user: hbacheck' "$HBA_CONF" || bail "config not rewritten"

# An allow in effect, put there by an operator with the same tool.
"$HAREPD" -f "$HBA_CONF" --print-hba rw=allow >"$PG_TMP/allow.conf" ||
	bail "--print-hba failed"
cat "$PG_TMP/allow.conf" >"$HBA"
pg_psql -c "select pg_reload_conf()" >/dev/null
ok 'wait_for 5 "pgcheck 127.0.0.5 harw | grep -q ^auth"' "before: harw UP (allow loaded)"

# harepd -t asks the local database as the worker would (as postgres)
rc=0; "$HAREPD" -t -f "$HBA_CONF" >"$PG_TMP/t.out" 2>"$PG_TMP/t.err" || rc=$?
is "$rc" 0 "harepd -t: missing privileges are warnings, exit 0"
like "$(cat "$PG_TMP/t.err")" '^warning: repmgr.user: role "hbacheck" lacks SELECT on pg_hba_file_rules and EXECUTE on function pg_hba_file_rules\(\) .* pg_read_all_settings .* pg_reload_conf\(\)' \
    "harepd -t names the role and each missing privilege"

fs_start hba "$HBA_CONF"; like "$FS_REPLY" "^hello" "worker up"
ok 'fs_wait 3 "^log .*role \\\\\"hbacheck\\\\\" lacks SELECT on pg_hba_file_rules"' \
    "start: the log names the role and the missing privilege"
ok 'fs_wait 1 "^log .*SHOW hba_file refused .*lacks pg_read_all_settings"' \
    "start: SHOW hba_file refused is logged, not ignored"

# the lines of one apply: its warnings come before its applied line
since() { tail -n +"$(($1 + 1))" "$FS_OUT"; }
fs_mark; m=$FS_MARK
fs send verdict seq=1 rw=0 ro=0 lease_ms=60000; fs_next 5 '^applied '
like "$FS_REPLY" "^applied seq=1 changed=1 reloaded=1 .*rw=0 ro=0 .*error=.*permission denied for view pg_hba_file_rules.*a deny: reloaded without validation" \
    "deny: validation refused, reloaded all the same"
ok 'wait_for 5 "pgcheck 127.0.0.5 harw | grep -q ^error"' \
    "after the deny: harw refused (the deny is in effect)"
warn=$(since "$m" | grep '^hba_warning seq=1 ')
like "$warn" 'role "hbacheck" lacks SELECT on pg_hba_file_rules and EXECUTE on function pg_hba_file_rules\(\)' \
    "HbaApplied warns: pg_hba_file_rules"
like "$warn" 'pg_read_all_settings' "HbaApplied warns: pg_read_all_settings"
like "$warn" 'EXECUTE on function pg_reload_conf\(\)' "HbaApplied warns: pg_reload_conf()"
like "$warn" 'SHOW hba_file refused \(role "hbacheck" lacks pg_read_all_settings\): harepd cannot tell whether PostgreSQL reads' \
    "HbaApplied warns: hba_file not compared"

# an allow is not loaded unvalidated: the deny stays in effect
fs send verdict seq=2 rw=1 ro=1 lease_ms=60000; fs_next 5 '^applied '
like "$FS_REPLY" "^applied seq=2 changed=1 reloaded=0 .*permission denied" \
    "allow: not validated, not reloaded"
like "$(pgcheck 127.0.0.5 harw)" "^error" "allow unvalidated: harw still refused"

# the privileges granted: the warnings go away at the next apply
pg_psql -c "GRANT pg_read_all_settings TO hbacheck;
GRANT SELECT ON pg_hba_file_rules TO hbacheck;
GRANT EXECUTE ON FUNCTION pg_hba_file_rules() TO hbacheck;
GRANT EXECUTE ON FUNCTION pg_reload_conf() TO hbacheck;" >/dev/null
fs_mark; m=$FS_MARK
fs send verdict seq=3 rw=1 ro=1 lease_ms=60000; fs_next 5 '^applied '
like "$FS_REPLY" "^applied seq=3 .*reloaded=1 .*rw=1 .*error=$" "granted: allow validated and reloaded"
is "$(since "$m" | grep -c '^hba_warning')" 0 "granted: no warning"
like "$(since "$m" | grep '^log .*resolved')" 'lacks SELECT on pg_hba_file_rules' \
    "granted: the log says the privilege warning is resolved"
ok 'wait_for 5 "pgcheck 127.0.0.5 harw | grep -q ^auth"' "granted: harw UP"
rc=0; "$HAREPD" -t -f "$HBA_CONF" >"$PG_TMP/t.out" 2>"$PG_TMP/t.err" || rc=$?
ok "[ $rc = 0 ] && ! grep -q 'lacks' '$PG_TMP/t.err'" "granted: harepd -t does not warn"

# harepd -t: hbaConfig that is not the file PostgreSQL reads (superuser)
cp -p "$HBA" "$PG_TMP/copy_hba.conf"
HBA_CONF=$PG_TMP/copy.yml hba_write_conf 60000 md5 "$PG_TMP/copy_hba.conf"
rc=0; "$HAREPD" -t -f "$PG_TMP/copy.yml" >"$PG_TMP/t.out" 2>"$PG_TMP/t.err" || rc=$?
like "$(cat "$PG_TMP/t.err")" "warning: harepd.hbaConfig: PostgreSQL reads $HBA, not $PG_TMP/copy_hba.conf" \
    "harepd -t: hba_file is not hbaConfig"
ok "! grep -q lacks '$PG_TMP/t.err'" "harepd -t: a superuser lacks nothing"

# harepd -t: the server refuses the connection itself. Debian's default
# rules are "peer": OS user postgres may not log in as another role.
HBA_CONF=$PG_TMP/nosuch.yml hba_write_conf 60000 md5
sed -i 's/repmgr: {user: postgres, db: postgres,/repmgr: {user: nosuchrole, db: postgres,/' "$PG_TMP/nosuch.yml"
rc=0; "$HAREPD" -t -f "$PG_TMP/nosuch.yml" >"$PG_TMP/t.out" 2>"$PG_TMP/t.err" || rc=$?
is "$rc" 0 "harepd -t: a refused connection is a warning, exit 0"
like "$(cat "$PG_TMP/t.err")" 'warning: repmgr.user: OS user postgres cannot connect to database postgres as nosuchrole: .*FATAL: +role "nosuchrole" does not exist; .*docs/HBA.md' \
    "harepd -t: a role that does not exist is named, with the server's words"
pg_psql -c "CREATE ROLE peeronly LOGIN SUPERUSER" >/dev/null || bail "cannot create peeronly"
{ echo "local all peeronly peer"; cat "$HBA"; } >"$PG_TMP/hba.new" && cat "$PG_TMP/hba.new" >"$HBA"
pg_psql -c "select pg_reload_conf()" >/dev/null
sed 's/nosuchrole/peeronly/' "$PG_TMP/nosuch.yml" >"$PG_TMP/peer.yml"
rc=0; "$HAREPD" -t -f "$PG_TMP/peer.yml" >"$PG_TMP/t.out" 2>"$PG_TMP/t.err" || rc=$?
like "$(cat "$PG_TMP/t.err")" 'warning: repmgr.user: OS user postgres cannot connect to database postgres as peeronly: .*Peer authentication failed for user "peeronly"' \
    "harepd -t: a peer rule that refuses postgres as another role is reported"
(cd / && pg_as "$PGBIN/pg_ctl" -D "$PGDATA" -m immediate -w stop >/dev/null 2>&1)
rc=0; "$HAREPD" -t -f "$PG_TMP/peer.yml" >"$PG_TMP/t.out" 2>"$PG_TMP/t.err" || rc=$?
ok "[ $rc = 0 ] && ! grep -q 'cannot connect' '$PG_TMP/t.err'" \
    "harepd -t: PostgreSQL not running is not a setup mistake: no warning"
ok "! grep -Eq 'Sanitizer|runtime error:' '$FS_ERR'" "no sanitizer report"
done_testing
