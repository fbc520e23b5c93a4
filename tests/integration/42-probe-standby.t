#!/usr/bin/env bash
# The probe on a real streaming standby (pg_basebackup of a primary with
# the repmgr extension): recovery state and the received timeline in the
# view, ro for a healthy standby; then the standby is promoted and the
# view shows the new timeline at once (not at the next checkpoint), and
# once repmgr.nodes names it primary (as `repmgr standby promote` writes
# it) and a majority agrees, it gets rw.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/pg.sh"
. "$(dirname "$0")/../helpers/probe_lib.sh"
[ "$(id -u)" -eq 0 ] || skip_all "needs root to run PostgreSQL as postgres"

pg_start "shared_preload_libraries = 'repmgr'" "wal_keep_size = 64MB"
probe_setup
trap probe_cleanup EXIT
probe_repmgr_db || bail "repmgr primary register failed"
probe_node 2 n2 standby 127.0.0.2
probe_node 3 w witness 127.0.0.4

# ---- the standby ----
P_HOST=$PGHOST P_PORT=$PGPORT
SB_TMP=$(mktemp -d /tmp/harepd-pg.XXXXXX)
chmod 0755 "$SB_TMP"; chown postgres: "$SB_TMP"
SB_DATA=$SB_TMP/data
SB_PORT=$(pg_free_port) || bail "no free port"
(cd "$SB_TMP" && pg_as "$PGBIN/pg_basebackup" -h "$P_HOST" -p "$P_PORT" \
    -U postgres -D "$SB_DATA" -R -X stream -c fast >"$SB_TMP/basebackup.log" 2>&1) ||
	{ sed 's/^/# /' "$SB_TMP/basebackup.log"; bail "pg_basebackup failed"; }
printf "port = %s\nunix_socket_directories = '%s'\n" "$SB_PORT" "$SB_TMP" \
    >>"$SB_DATA/postgresql.conf"
PG_INSTANCES+=("$SB_DATA")
(cd "$SB_TMP" && pg_as env HOME="$SB_TMP" "$PGBIN/pg_ctl" -D "$SB_DATA" \
    -l "$SB_TMP/server.log" -w -t 60 start >/dev/null 2>&1 </dev/null) ||
	{ sed 's/^/# /' "$SB_TMP/server.log"; bail "standby did not start"; }
sb_psql() {
	(cd "$SB_TMP" && pg_as "$PGBIN/psql" -X -q -At -h "$SB_TMP" \
	    -p "$SB_PORT" -U postgres -d repmgr -v ON_ERROR_STOP=1 "$@")
}
wait_for 10 '[ "$(sb_psql -c "select count(*) from pg_stat_wal_receiver where status = '"'streaming'"'")" = 1 ]' ||
	bail "standby does not stream"

# ---- peers: n1 and the witness see what the standby sees ----
OLD="masters=127.0.0.1 slaves=127.0.0.2 witness=127.0.0.4"
probe_peer n1 127.0.0.1 answer ip=127.0.0.1 $OLD obs=0/1
probe_peer w 127.0.0.4 answer ip=127.0.0.4 $OLD obs=0/1
conf=$PROBE_TMP/conf.yml
# the probe of n2 reads the standby's copy of repmgr.nodes
PGHOST=$SB_TMP PGPORT=$SB_PORT probe_conf "$conf" n2 127.0.0.2 \
    "\"$(probe_target n1 127.0.0.1)\"" "$(probe_target w 127.0.0.4)" \
    "allowRO: true" "leaseMs: 1500"
fs_start probe "$conf" || bail "probe did not say hello"
view=$(fs_line 5 '^view ')
is "$view" "view id=2 name=n2 ip=127.0.0.2 primaries=127.0.0.1 standbys=127.0.0.2 witness=127.0.0.4 recovery=1 timeline=1 db_error=" \
    "standby's view: replicated repmgr.nodes, in recovery, received timeline 1"
v=$(fs_line 5 '^verdict ')
is "$(fs_field "$v" rw)/$(fs_field "$v" ro)" "0/1" "healthy standby: ro only"
like "$(fs_field "$v" reason)" "3 of 3 members agree; primaryIP 127.0.0.2 is a healthy standby" \
    "reason names the standby"

# ---- promotion ----
(cd / && pg_as "$PGBIN/pg_ctl" -D "$SB_DATA" -w promote >/dev/null 2>&1) ||
	bail "promote failed"
t0=$(date +%s%N)
fs_mark
view=$(fs_line 5 '^view .*recovery=0')
like "$view" "recovery=0 timeline=2 " \
    "promoted: out of recovery, on timeline 2 at once ($(( ($(date +%s%N) - t0) / 1000000 )) ms)"
v=$(fs_line 5 '^verdict ')
is "$(fs_field "$v" rw)/$(fs_field "$v" ro)" "0/0" \
    "promoted but repmgr.nodes still names n1: no rw, no ro"
# what `repmgr standby promote` writes on the new primary
sb_psql -c "update repmgr.nodes set active = false where node_id = 1" \
    -c "update repmgr.nodes set type = 'primary', upstream_node_id = null where node_id = 2"
fs_mark
v=$(fs_line 5 '^verdict .*reason=only')
like "$(fs_field "$v" reason)" "only 1 of 3 members agree" \
    "new primary while n1 and the witness still tell the old story: no rw"
NEW="masters=127.0.0.2 slaves= witness=127.0.0.4"
probe_spec w answer ip=127.0.0.4 $NEW obs=0/1
fs_mark
v=$(fs_line 5 '^verdict .*reason=hold-down')
like "$(fs_field "$v" rw) $(fs_field "$v" reason)" "^0 hold-down: majority held for 0 of 2750 ms before rw; 2 of 3" \
    "the witness followed: rw held down for leaseMs 1500 + deadline 1000 + 250 ms"
v=$(fs_line 5 '^verdict .*rw=1')
like "$(fs_field "$v" reason)" "2 of 3 members agree; primaryIP 127.0.0.2 is the only active primary, not in recovery, timeline 2" \
    "once the witness followed: rw on the new primary"
probe_spec n1 answer ip=127.0.0.1 $OLD obs=0/2
fs_mark
v=$(fs_line 5 '^verdict ')
like "$(fs_field "$v" reason)" "neighbour .* is out of recovery on timeline 2, ours is 2" \
    "a second writer on our timeline denies rw"
fs_stop
like "$FS_EXIT" "^exit status=0 signal=0 " "shutdown: exit 0"
is "$(probe_sanitizer_reports)" "" "no sanitizer report"
done_testing
