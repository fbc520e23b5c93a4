# Shared by tests/integration/3x-hba*.t: a throwaway PostgreSQL whose
# pg_hba.conf the hba worker edits, a config for it; the supervisor is
# tests/helpers/fakesup (fakesup.sh), the worker runs as postgres with -v.
#
#   hba_pg_setup [LEASE_MS] [ALLOW_METHOD]   # pg_start + $HBA_CONF
#   fs_start hba "$HBA_CONF"
#   fs send verdict seq=1 rw=1 ro=1 lease_ms=5000
#   fs_next 3 '^applied '                    # $FS_REPLY: the line or timeout
. "$(dirname "${BASH_SOURCE[0]}")/../lib/pg.sh"
. "$(dirname "${BASH_SOURCE[0]}")/fakesup.sh"

FS_START_OPTS="-v user=postgres"
HBA_PGCHECK=$HAREPD_BUILD/tests/helpers/hba_pgcheck

hba_write_conf() {	# hba_write_conf LEASE_MS ALLOW_METHOD [HBA_PATH]
	cat >"$HBA_CONF" <<EOF
harepd:
  nodeName: "n1"
  primaryIP: "127.0.0.1"
  allowRO: true
  hbaConfig: "${3:-$PGDATA/pg_hba.conf}"
  haproxy:
    server: ["127.0.0.5", "127.0.0.1"]
    users: {readOnly: haro, readWrite: harw}
  authModes: {allow: "$2", deny: reject}
  repmgr: {user: postgres, db: postgres, host: "$PG_TMP", port: $PGPORT}
  gRPC:
    bindPort: 10000
    bindAddress: 127.0.0.1
    neighbours: ["127.0.0.2:10000"]
    connectionDeadline: 1
  watchDog: 1
  leaseMs: $1
EOF
}

hba_pg_setup() {
	pg_start
	HBA=$PGDATA/pg_hba.conf
	HBA_CONF=$PG_TMP/harepd.yml
	HBA_ORIG=$PG_TMP/pg_hba.conf.orig
	cp "$HBA" "$HBA_ORIG"
	hba_write_conf "${1:-2500}" "${2:-md5}"
	fs_init "$PG_TMP"
	trap '' PIPE
}

# The file with harepd's block (and the blank line adoption adds after it)
# cut out: what the operator wrote.
outside_block() {
	awk '/^# BEGIN harepd managed block/ { skip = 1; next }
	     skip && /^# END harepd managed block/ { skip = 0; after = 1; next }
	     skip { next }
	     after && /^$/ { after = 0; next }
	     { after = 0; print }' "$1"
}

# PostgreSQL parses it: no row of pg_hba_file_rules has an error.
hba_parses() {
	[ "$(pg_psql -c 'select count(*) from pg_hba_file_rules where error is not null')" = 0 ]
}

blocks_in() { grep -c '^# BEGIN harepd managed block' "$1"; }

# What HAProxy's pgsql-check from the HAProxy address gets.
pgcheck() {	# pgcheck SRC USER
	"$HBA_PGCHECK" "$1" 127.0.0.1 "$PGPORT" "$2" 2>/dev/null
}

psql_login() {	# psql_login USER: a login as USER over TCP from 127.0.0.1
	PGPASSWORD=wrong PGCONNECT_TIMEOUT=5 psql -X -h 127.0.0.1 \
	    -p "$PGPORT" -U "$1" -d "$1" -c 'select 1' 2>&1
}

temp_files() { ls -A "$(dirname "$HBA")" | grep -c 'harepd-tmp'; }
