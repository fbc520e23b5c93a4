#!/usr/bin/env bash
# Proves the throwaway-PostgreSQL helper: it starts a real server as the
# postgres OS user, answers queries, and is gone after pg_stop.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/pg.sh"
[ "$(id -u)" -eq 0 ] || bail "needs root to run PostgreSQL as postgres"

pg_start "shared_buffers = 16MB"
is "$(pg_psql -c 'select version() ~ $$PostgreSQL 15$$')" "t" "server is PostgreSQL 15"
is "$(pg_psql -c 'show shared_buffers')" "16MB" "extra settings are applied"
owner=$(stat -c %U "$PGDATA")
is "$owner" "postgres" "data directory belongs to postgres"
pid=$(head -1 "$PGDATA/postmaster.pid")
is "$(ps -o user= -p "$pid" | tr -d ' ')" "postgres" "postmaster runs as postgres"
data=$PGDATA
pg_stop
gone() { ! kill -0 "$1" 2>/dev/null || [ "$(ps -o stat= -p "$1")" = Z ]; }
ok "wait_for 5 'gone $pid'" "postmaster is stopped"
ok "[ ! -e '$data' ]" "temporary directory is removed"
done_testing
