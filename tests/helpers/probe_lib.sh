# Shell side of the probe worker's tests: a PostgreSQL with the repmgr
# extension and fake gRPC peers (probe_fakepeer); the supervisor is
# tests/helpers/fakesup (fakesup.sh: fs_start probe CONF, fs_wait, ...).
#
#   . tests/lib/tap.sh; . tests/lib/pg.sh; . tests/helpers/probe_lib.sh
#   probe_setup                        # PROBE_TMP (= FS_DIR)
#   probe_repmgr_db                    # repmgr user/db/extension in $PGDATA's server
#   probe_peer NAME ADDR [SPEC...]     # fake peer; PEER_PORT[NAME], spec in PEER_SPEC[NAME]
#   probe_blackhole NAME ADDR          # silent TCP listener; PEER_PORT[NAME]
#   probe_spec NAME SPEC...            # change a peer's answer (atomic)
#   probe_conf FILE NODE IP "neighbours" "witness" [lines under harepd:]
#   probe_sanitizer_reports            # of the worker, fakesup or the peers
. "$(dirname "${BASH_SOURCE[0]}")/fakesup.sh"
PROBE_FAKEPEER=$HAREPD_BUILD/tests/helpers/probe_fakepeer
declare -A PEER_PORT PEER_PID PEER_SPEC

probe_cleanup() {
	local n
	fs_close
	for n in "${!PEER_PID[@]}"; do
		kill "${PEER_PID[$n]}" 2>/dev/null
	done
	for n in "${!PEER_PID[@]}"; do
		wait "${PEER_PID[$n]}" 2>/dev/null
	done
	pg_stop_all 2>/dev/null
	[ -n "${PROBE_TMP:-}" ] && [ -z "${PROBE_KEEP:-}" ] && rm -rf "$PROBE_TMP"
}

probe_setup() {
	[ -x "$PROBE_FAKEPEER" ] && [ -x "$FAKESUP" ] ||
		bail "probe helpers not built in $HAREPD_BUILD"
	PROBE_TMP=$(mktemp -d /tmp/harepd-probe.XXXXXX)
	fs_init "$PROBE_TMP"
	chmod 0755 "$PROBE_TMP"
	: >"$PROBE_TMP/pg_hba.conf"
}

# After pg_start "shared_preload_libraries = 'repmgr'": repmgr's own
# objects, and this server registered as primary n1 by repmgr itself.
probe_repmgr_db() {
	pg_psql -c "create user repmgr superuser" \
	    -c "create database repmgr owner repmgr" || return 1
	pg_psql -d repmgr -c "create extension repmgr" || return 1
	cat >"$PG_TMP/repmgr.conf" <<-EOF
	node_id=1
	node_name='n1'
	conninfo='host=127.0.0.1 port=$PGPORT user=repmgr dbname=repmgr connect_timeout=2'
	data_directory='$PGDATA'
	pg_bindir='$PGBIN'
	EOF
	chmod 0644 "$PG_TMP/repmgr.conf"
	(cd "$PG_TMP" && pg_as env HOME="$PG_TMP" repmgr -f "$PG_TMP/repmgr.conf" \
	    primary register >"$PG_TMP/register.log" 2>&1) ||
		{ sed 's/^/# /' "$PG_TMP/register.log"; return 1; }
}

probe_sql() { pg_psql -d repmgr -c "$@"; }

# A row as `repmgr standby register` / `witness register` would write it.
probe_node() {	# probe_node ID NAME TYPE HOST [active]
	probe_sql "insert into repmgr.nodes (node_id, upstream_node_id, active,
	    node_name, type, conninfo, repluser, config_file)
	    values ($1, case when '$3' = 'standby' then 1 end, ${5:-true},
	    '$2', '$3', 'host=$4 user=repmgr dbname=repmgr', 'repmgr',
	    '/etc/repmgr.conf')"
}

probe_spec() {	# probe_spec NAME SPEC...
	printf '%s\n' "${*:2}" >"$PROBE_TMP/$1.spec.tmp"
	mv "$PROBE_TMP/$1.spec.tmp" "$PROBE_TMP/$1.spec"
}

_probe_port() {	# _probe_port NAME: wait for the "port N" line
	PROBE_OUT=$PROBE_TMP/$1.out	# wait_for's own $1 is its timeout
	wait_for 5 'grep -q "^port " "$PROBE_OUT"' || return 1
	PEER_PORT[$1]=$(awk '/^port /{print $2; exit}' "$PROBE_TMP/$1.out")
}

probe_peer() {	# probe_peer [--tls CA CERT KEY [--client-auth]] NAME ADDR SPEC...
	local tls=()
	if [ "$1" = --tls ]; then tls=("$1" "$2" "$3" "$4"); shift 4; fi
	if [ "$1" = --client-auth ]; then tls+=("$1"); shift; fi
	local name=$1 addr=$2
	shift 2
	probe_spec "$name" "$@"
	"$PROBE_FAKEPEER" "${tls[@]}" "$addr:0" "$PROBE_TMP/$name.spec" \
	    >"$PROBE_TMP/$name.out" 2>"$PROBE_TMP/$name.err" &
	PEER_PID[$name]=$!
	_probe_port "$name"
}

probe_blackhole() {	# probe_blackhole NAME ADDR
	"$PROBE_FAKEPEER" --blackhole "$2:0" >"$PROBE_TMP/$1.out" 2>&1 &
	PEER_PID[$1]=$!
	_probe_port "$1"
}

probe_peer_stop() {
	kill "${PEER_PID[$1]}" 2>/dev/null
	wait "${PEER_PID[$1]}" 2>/dev/null
	unset "PEER_PID[$1]"
}

# "127.0.0.2:PORT" of a started peer
probe_target() { echo "${2:-127.0.0.1}:${PEER_PORT[$1]}"; }

probe_conf() {	# probe_conf FILE NODE IP "NEIGHBOURS" "WITNESS" [lines...]
	local file=$1 node=$2 ip=$3 neigh=$4 witness=$5 line
	shift 5
	{
		echo "harepd:"
		echo "  nodeName: $node"
		echo "  primaryIP: $ip"
		echo "  hbaConfig: $PROBE_TMP/pg_hba.conf"
		echo "  haproxy:"
		echo "    server: [127.0.0.9]"
		echo "    users: { readWrite: harw, readOnly: haro }"
		echo "  watchDog: ${PROBE_WATCHDOG:-1}"
		echo "  repmgr: { host: \"$PGHOST\", port: $PGPORT }"
		for line in "$@"; do echo "  $line"; done
		echo "  gRPC:"
		echo "    bindPort: 10000"
		echo "    connectionDeadline: ${PROBE_DEADLINE:-1}"
		echo "    neighbours: [$neigh]"
		[ -n "$witness" ] && echo "    witness: \"$witness\""
		[ -n "${PROBE_GRPC_EXTRA:-}" ] && echo "$PROBE_GRPC_EXTRA"
	} >"$file"
}

# Sanitizer reports of the worker (ASan build), fakesup or the fake peers.
probe_sanitizer_reports() {
	cat "$PROBE_TMP"/*.err 2>/dev/null |
	    grep -E 'ERROR: (Address|Leak)Sanitizer|runtime error:' | head -5
}

# A throwaway PKI: ca, a peer certificate for the DNS name
# peer.harepd.test only (so dialling 127.0.0.x needs serverHostOverride),
# a client certificate signed by ca, and a rogue CA with its own client.
probe_pki() {	# probe_pki DIR
	local d=$1 n
	mkdir -p "$d"
	_cert() {	# _cert NAME CA SAN
		openssl req -new -newkey rsa:2048 -nodes -subj "/CN=$1" \
		    -keyout "$d/$1.key" -out "$d/$1.csr" 2>/dev/null &&
		printf 'subjectAltName=%s\n' "$3" >"$d/$1.ext" &&
		openssl x509 -req -in "$d/$1.csr" -CA "$d/$2.pem" \
		    -CAkey "$d/$2.key" -CAcreateserial -days 2 \
		    -extfile "$d/$1.ext" -out "$d/$1.pem" 2>/dev/null
	}
	for n in ca rogue-ca; do
		openssl req -x509 -newkey rsa:2048 -nodes -days 2 \
		    -subj "/CN=harepd test $n" -keyout "$d/$n.key" \
		    -out "$d/$n.pem" 2>/dev/null || return 1
	done
	_cert peer ca "DNS:peer.harepd.test" &&
	_cert client ca "DNS:client.harepd.test" &&
	_cert rogue rogue-ca "DNS:client.harepd.test"
}
