#!/usr/bin/env bash
# pg_hba.conf checked again on every apply, not only at start (issue 13
# item 6): a catch-all an operator inserts above harepd's block, or the
# symlink hbaConfig and hba_file name retargeted while harepd runs, shows
# as a warning in `harepdctl status` (text and JSON) within a few verdicts,
# and goes away when undone. Real harepd and workers, real PostgreSQL 15.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../helpers/sup_lib.sh"
. "$(dirname "$0")/../lib/pg.sh"
[ "$(id -u)" -eq 0 ] || skip_all "needs root to run PostgreSQL and drop privileges"

sup_init
sup_pg_cluster
# PostgreSQL and harepd both name the file through a symlink
LINKDIR=$PG_TMP/hba
mkdir "$LINKDIR"; chown postgres: "$LINKDIR"
ln -s "$PGDATA/pg_hba.conf" "$LINKDIR/pg_hba.conf"
echo "hba_file = '$LINKDIR/pg_hba.conf'" >>"$PGDATA/postgresql.conf"
(cd "$PG_TMP" && pg_as "$PGBIN/pg_ctl" -D "$PGDATA" -w -t 60 restart \
    -l "$PG_TMP/server.log" >/dev/null 2>&1 </dev/null) || bail "restart failed"
is "$(pg_psql -c 'show hba_file')" "$LINKDIR/pg_hba.conf" "PostgreSQL reads the symlink"
SUP_HBA=$LINKDIR/pg_hba.conf
SUP_WATCHDOG=1 sup_config "leaseMs: 3000"
sup_start
sup_require_running probe hba

warnings() { sup_status '(d["pg_hba"] or {}).get("warnings")'; }
has_warning() { warnings | grep -Eq -- "$1" && sup_ctl status | grep -Eq -- "WARNING .*$1"; }
ok 'wait_for 15 "[ \"\$(warnings)\" = \"[]\" ]"' "applied, no warning at first"

# 1. a catch-all above the block
sed -i '1i host all all 127.0.0.1/32 trust' "$PGDATA/pg_hba.conf"
chown postgres: "$PGDATA/pg_hba.conf"
ok 'wait_for 10 "has_warning \"line 1, above harepd.s block, may match the check users first\""' \
    "rule inserted above the block: warned in status JSON and text"
like "$(sup_ctl status)" "WARNING $PGDATA/pg_hba.conf: line 1, above" "text names the file and line"
ok 'grep -q "line 1, above harepd.s block" "$SUP_LOG"' "and the log says it"
sed -i '1d' "$PGDATA/pg_hba.conf"
ok 'wait_for 10 "[ \"\$(warnings)\" = \"[]\" ]"' "rule removed: the warning goes"

# 2. the symlink retargeted: PostgreSQL now reads another file
cp -p "$PGDATA/pg_hba.conf" "$PG_TMP/other_hba.conf"
ln -sfn "$PG_TMP/other_hba.conf" "$LINKDIR/pg_hba.conf"
ok 'wait_for 10 "has_warning \"PostgreSQL reads $LINKDIR/pg_hba.conf but harepd edits $PGDATA/pg_hba.conf\""' \
    "symlink retargeted: hba_file warning in status JSON and text"
ok 'has_warning "hbaConfig $LINKDIR/pg_hba.conf now leads to $PG_TMP/other_hba.conf"' \
    "and hbaConfig's new target is named"
ln -sfn "$PGDATA/pg_hba.conf" "$LINKDIR/pg_hba.conf"
ok 'wait_for 10 "[ \"\$(warnings)\" = \"[]\" ]"' "symlink back: no warning"
ok 'grep -q "resolved: PostgreSQL reads" "$SUP_LOG"' "the log says it is resolved"
sup_no_sanitizer_reports
done_testing
