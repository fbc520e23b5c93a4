#!/usr/bin/env bash
# pg_hba_file_rules finds an error (an operator's broken line) when a deny
# is written: harepd must not put the allow file back itself. The deny stays
# on disk, the error is reported, and once the operator fixes the line the
# retry (every 2 s) checks and reloads the deny.
. "$(dirname "$0")/../lib/tap.sh"
. "$TOP/tests/helpers/hba_lib.sh"
[ "$(id -u)" -eq 0 ] || skip_all "needs root to run PostgreSQL as postgres"

hba_pg_setup 60000 md5
fs_start hba "$HBA_CONF"; like "$FS_REPLY" "^hello" "worker up"
fs send verdict seq=1 rw=1 ro=1 lease_ms=60000; fs_next 3 '^applied '
like "$FS_REPLY" "reloaded=1 .*rw=1" "allow reloaded"
like "$(pgcheck 127.0.0.5 harw)" "^auth" "allow: harw UP"

# the operator adds a line PostgreSQL cannot load
echo "host all all 10.9.9.0/24 nosuchmethod" >>"$HBA"

fs send verdict seq=2 rw=0 ro=0 lease_ms=60000; fs_next 3 '^applied '
like "$FS_REPLY" "^applied seq=2 changed=1 reloaded=0 fenced=0 rw=0 ro=0 .*error=PostgreSQL rejects the new pg_hba.conf: line [0-9]+: .*deny stays on disk" \
    "deny with a broken operator line: reported, not reloaded"
ok "grep -q '^host *harw harw 127.0.0.5/32 *reject' '$HBA'" "the deny is on disk"
ok "! grep -q '^host *harw harw 127.0.0.5/32 *md5' '$HBA'" "no allow put back"
is "$(temp_files)" 0 "no temp file left"

# the operator fixes the line: the retry reloads the deny
sed -i '/nosuchmethod/d' "$HBA"
fs_next 5 '^applied '
like "$FS_REPLY" "^applied seq=2 changed=0 reloaded=1 .*rw=0 ro=0 .*error=$" "file fixed: the retry reloads the deny"
like "$(pgcheck 127.0.0.5 harw)" "^error" "deny: harw DOWN"

# an allow that PostgreSQL refuses still gets the deny back (that narrows)
echo "host all all 10.9.9.0/24 nosuchmethod" >>"$HBA"
fs send verdict seq=3 rw=1 ro=1 lease_ms=60000; fs_next 3 '^applied '
like "$FS_REPLY" "^applied seq=3 changed=0 reloaded=0 .*rw=0 ro=0 .*previous file restored" "allow refused: the deny file is restored"
ok "grep -q '^host *harw harw 127.0.0.5/32 *reject' '$HBA'" "the deny is on disk"
sed -i '/nosuchmethod/d' "$HBA"
ok "! grep -Eq 'Sanitizer|runtime error:' '$FS_ERR'" "no sanitizer report"
done_testing
