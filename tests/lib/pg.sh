# A throwaway PostgreSQL 15 for tests: initdb in a temporary directory,
# started as the postgres OS user (PostgreSQL refuses root) on a free port
# with its own socket directory, listening on loopback only. pg_stop runs
# from an EXIT trap, so the server is stopped even when a test fails.
#
#   . tests/lib/pg.sh
#   pg_start [postgresql.conf lines...]   # sets PGBIN PGDATA PGPORT PGHOST PG_TMP
#   pg_psql -c 'select 1'                 # psql as superuser postgres
#   pg_stop                               # optional, the trap does it
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
PG_INSTANCES=()

. "$(dirname "${BASH_SOURCE[0]}")/port.sh"

pg_free_port() {
	free_port 20000 24999
}

pg_as() { runuser -u postgres -- "$@"; }

pg_start() {
	PG_TMP=$(mktemp -d /tmp/harepd-pg.XXXXXX)
	chmod 0755 "$PG_TMP"
	chown postgres: "$PG_TMP"
	PGDATA=$PG_TMP/data
	PGHOST=$PG_TMP
	PGPORT=$(pg_free_port) || bail "no free port"
	export PGDATA PGHOST PGPORT PG_TMP
	(cd "$PG_TMP" && pg_as env HOME="$PG_TMP" "$PGBIN/initdb" -D "$PGDATA" \
	    -U postgres --auth=trust --no-sync >"$PG_TMP/initdb.log" 2>&1) \
	    || { cat "$PG_TMP/initdb.log" >&2; bail "initdb failed"; }
	{
		echo "port = $PGPORT"
		echo "listen_addresses = '127.0.0.1'"
		echo "unix_socket_directories = '$PG_TMP'"
		echo "fsync = off"
		echo "logging_collector = off"
		local line
		for line in "$@"; do echo "$line"; done
	} >>"$PGDATA/postgresql.conf"
	PG_INSTANCES+=("$PGDATA")
	trap pg_stop_all EXIT
	(cd "$PG_TMP" && pg_as env HOME="$PG_TMP" "$PGBIN/pg_ctl" -D "$PGDATA" \
	    -l "$PG_TMP/server.log" -w -t 60 start >/dev/null 2>&1 </dev/null) \
	    || { cat "$PG_TMP/server.log" >&2; bail "PostgreSQL did not start"; }
}

pg_psql() {
	(cd "$PG_TMP" && pg_as env HOME="$PG_TMP" "$PGBIN/psql" -X -q -At \
	    -h "$PGHOST" -p "$PGPORT" -U postgres -d postgres -v ON_ERROR_STOP=1 "$@")
}

pg_stop_one() {	# pg_stop_one DATADIR
	[ -d "$1" ] || return 0
	(cd / && pg_as "$PGBIN/pg_ctl" -D "$1" -m immediate -w stop \
	    >/dev/null 2>&1 </dev/null)
	rm -rf "$(dirname "$1")"
}

pg_stop_all() {
	local d
	for d in "${PG_INSTANCES[@]}"; do pg_stop_one "$d"; done
	PG_INSTANCES=()
}

pg_stop() { pg_stop_all; }
