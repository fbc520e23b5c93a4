#!/usr/bin/env bash
# kill -9 of the hba worker at random moments while verdicts alternate,
# HBA_KILL_LOOPS times (default 200). After every kill pg_hba.conf must be
# there, be exactly the allow file or the deny file (so: one block, the
# operator's bytes intact, never torn), keep its owner and mode, and parse
# in PostgreSQL; the next worker must remove any temp file the killed one
# left beside it. Every 5th kill, a new worker given the verdict on disk
# must leave PostgreSQL with it loaded (HAProxy-style check).
. "$(dirname "$0")/../lib/tap.sh"
. "$TOP/tests/helpers/hba_lib.sh"
[ "$(id -u)" -eq 0 ] || skip_all "needs root to run PostgreSQL as postgres"
LOOPS=${HBA_KILL_LOOPS:-200}

hba_pg_setup 60000 md5
fs_start hba "$HBA_CONF"
like "$FS_REPLY" "^hello " "worker up"
fs send verdict seq=1 rw=1 ro=1 lease_ms=60000; fs_next 3 '^applied '
cp "$HBA" "$PG_TMP/allow.conf"
fs send verdict seq=2 rw=0 ro=0 lease_ms=60000; fs_next 3 '^applied '
cp "$HBA" "$PG_TMP/deny.conf"
fs kill 0; fs_next 5 '^exit '	# the loop starts its own workers
ok "! cmp -s '$PG_TMP/allow.conf' '$PG_TMP/deny.conf'" "the allow and deny files differ"
is "$(outside_block "$PG_TMP/allow.conf" | cmp - "$HBA_ORIG" && echo same)" same "allow file: operator's bytes intact"
is "$(outside_block "$PG_TMP/deny.conf" | cmp - "$HBA_ORIG" && echo same)" same "deny file: operator's bytes intact"

loaded=0 checks=0 missing=0 torn=0 perms=0 unparsed=0 nohello=0 stale=0 midwrite=0 kills=0
allow_seen=0 deny_seen=0
for i in $(seq "$LOOPS"); do
	fs_start hba "$HBA_CONF"
	case "$FS_REPLY" in hello*) ;; *) nohello=$((nohello + 1)); diag "start $i: $FS_REPLY" ;; esac
	[ "$(temp_files)" -eq 0 ] || stale=$((stale + 1))
	fs send verdict seq=$((i + 10)) rw=$((i % 2)) ro=$((i % 2)) lease_ms=60000
	# the write takes a few ms after the verdict: land before, in, after
	fs kill $((RANDOM % 8000)); fs_next 5 '^exit '
	kills=$((kills + 1))
	[ "$(temp_files)" -eq 0 ] || midwrite=$((midwrite + 1))
	if [ ! -f "$HBA" ]; then
		missing=$((missing + 1)); diag "kill $i: pg_hba.conf missing"
		continue
	fi
	ondisk=
	if cmp -s "$HBA" "$PG_TMP/allow.conf"; then
		allow_seen=$((allow_seen + 1)); ondisk=1
	elif cmp -s "$HBA" "$PG_TMP/deny.conf"; then
		deny_seen=$((deny_seen + 1)); ondisk=0
	else
		torn=$((torn + 1)); diag "kill $i: pg_hba.conf is neither file"
		cp "$HBA" "$HBA.torn.$i"
	fi
	[ "$(stat -c '%U %a' "$HBA")" = "postgres 600" ] || perms=$((perms + 1))
	hba_parses || unparsed=$((unparsed + 1))
	# every 5th kill: a new worker given the verdict already on disk
	# (same bytes) must still leave PostgreSQL with it loaded, even if
	# the kill fell between rename() and pg_reload_conf()
	if [ -n "$ondisk" ] && [ $((i % 5)) -eq 0 ]; then
		fs_start hba "$HBA_CONF"
		fs send verdict seq=$((i + 100000)) rw=$ondisk ro=$ondisk lease_ms=60000
		# skip what the killed worker answered before it died
		for _ in 1 2 3 4 5; do
			fs_next 3 '^(applied|exit) '
			case "$FS_REPLY" in "applied seq=$((i + 100000)) "*|timeout|exit*) break ;; esac
		done
		got=$(pgcheck 127.0.0.5 harw)
		checks=$((checks + 1))
		case "$ondisk:$got" in
		1:auth*|0:error*) ;;
		*) loaded=$((loaded + 1)); diag "kill $i: file says $ondisk, pgsql-check got '$got'" ;;
		esac
		fs kill 0; fs_next 5 '^exit '
	fi
done
fs_start hba "$HBA_CONF"
[ "$(temp_files)" -eq 0 ] || stale=$((stale + 1))

is "$kills" "$LOOPS" "killed the worker $LOOPS times"
is "$nohello" 0 "every restarted worker said hello"
is "$missing" 0 "pg_hba.conf never missing"
is "$torn" 0 "pg_hba.conf always exactly the allow or the deny file (one block, operator's bytes intact)"
is "$perms" 0 "owner and mode always kept"
is "$unparsed" 0 "PostgreSQL always parses it (pg_hba_file_rules)"
is "$loaded" 0 "after a restart, PostgreSQL always has the file's verdict loaded ($checks checks)"
is "$stale" 0 "no temp file left once the next worker started"
ok "[ $allow_seen -gt 0 ] && [ $deny_seen -gt 0 ]" "verdicts did alternate on disk (allow $allow_seen, deny $deny_seen)"
diag "$kills kills: $midwrite left a temp file (killed mid-write), allow $allow_seen, deny $deny_seen"
ok "[ $midwrite -gt 0 ]" "some kills landed in the middle of a write ($midwrite)"
ok "! grep -Eq 'Sanitizer|runtime error:' '$FS_ERR'" "no sanitizer report from the worker or the helper"
done_testing
