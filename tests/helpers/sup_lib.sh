# Shared by tests/integration/60-sup*.t: a throwaway harepd (the real
# binary, started as root so the privilege drop really happens) with its
# own config, pg_hba.conf, control socket and log file in a temporary
# directory. An EXIT trap stops it and kills whatever is left.
#
#   . tests/lib/tap.sh; . tests/helpers/sup_lib.sh
#   sup_init                      # SUP_DIR, SUP_CONF, SUP_SOCK, SUP_LOG, SUP_PORT
#   sup_config [yaml lines...]    # extra lines go under `harepd:` (2 spaces)
#       SUP_PGHOST SUP_PGPORT SUP_PGUSER SUP_PGDB SUP_NEIGHBOURS SUP_WATCHDOG
#       override the defaults when set; SUP_TLS_DIR (ca, server .pem/.key)
#       turns TLS on
#   sup_pg_cluster                # PostgreSQL (tests/lib/pg.sh) with a
#                                 # repmgr.nodes: node_1 127.0.0.1 primary,
#                                 # node_2 127.0.0.2 standby; config points at it
#   sup_start [--server-only|--client-only ...]   # sets SUP_PID
#   sup_ctl status --json         # harepdctl -s $SUP_SOCK ...
#   sup_status 'd["workers"][0]["pid"]'   # a Python expression over status --json
#   sup_worker_pid rpc            # from /proc, not from harepd's own status
#
# $SUP_DIR/stderr.log has harepd's stderr, each line prefixed with the
# microseconds since the epoch at which the test read it.

SUP_PID=
SUP_DIR=

. "$(dirname "${BASH_SOURCE[0]}")/../lib/port.sh"

# the next port up is free too: the default neighbour is SUP_PORT + 1
sup_free_port() {
	local p
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		p=$(free_port 28000 31998) || return 1
		[ -z "$(ss -Htan "( sport = :$((p + 1)) )" 2>/dev/null)" ] && { echo "$p"; return 0; }
	done
	return 1
}

sup_init() {
	[ -x "$HAREPD" ] || bail "$HAREPD missing: make tests-build"
	[ -x "$HAREPDCTL" ] || bail "$HAREPDCTL missing"
	SUP_DIR=$(mktemp -d /tmp/harepd-sup.XXXXXX)
	chmod 0755 "$SUP_DIR"		# workers (nobody, postgres) look inside
	SUP_CONF=$SUP_DIR/conf.yml
	SUP_SOCK=$SUP_DIR/run/harepd.sock
	SUP_LOG=$SUP_DIR/harepd.log
	SUP_HBA=$SUP_DIR/pg_hba.conf
	SUP_PORT=$(sup_free_port) || bail "no free port"
	printf 'local all all trust\n' >"$SUP_HBA"
	chown postgres: "$SUP_HBA"
	trap sup_cleanup EXIT
}

# The minimal valid config; the probe's database is a socket that does
# not exist, so no test ever touches a real PostgreSQL by accident.
sup_config() {
	{
		echo "harepd:"
		echo "  nodeName: node_1"
		echo "  primaryIP: 127.0.0.1"
		echo "  hbaConfig: $SUP_HBA"
		echo "  haproxy:"
		echo "    server: [127.0.0.5]"
		echo "    users:"
		echo "      readWrite: harw"
		echo "  repmgr:"
		echo "    user: ${SUP_PGUSER:-repmgr}"
		echo "    db: ${SUP_PGDB:-repmgr}"
		echo "    host: ${SUP_PGHOST:-$SUP_DIR}"
		echo "    port: ${SUP_PGPORT:-5432}"
		echo "  gRPC:"
		echo "    bindAddress: 127.0.0.1"
		echo "    bindPort: $SUP_PORT"
		echo "    neighbours: [${SUP_NEIGHBOURS:-127.0.0.1:$((SUP_PORT + 1))}]"
		if [ -n "${SUP_TLS_DIR:-}" ]; then
			echo "    tls:"
			echo "      enabled: true"
			echo "      ca: $SUP_TLS_DIR/ca.pem"
			echo "      cert: $SUP_TLS_DIR/server.pem"
			echo "      key: $SUP_TLS_DIR/server.key"
		fi
		echo "    connectionDeadline: 1"
		echo "  watchDog: ${SUP_WATCHDOG:-2}"
		echo "  logs:"
		echo "    filePath: $SUP_LOG"
		echo "  control:"
		echo "    socket: $SUP_SOCK"
		local line
		for line in "$@"; do echo "  $line"; done
	} >"$SUP_CONF"
}

# Prefix each line with the time it was read (EPOCHREALTIME: no fork).
sup_stamp() {
	local l
	while IFS= read -r l; do
		printf '%s %s\n' "${EPOCHREALTIME/./}" "$l"
	done
}

sup_start() {
	"$HAREPD" -f "$SUP_CONF" "$@" </dev/null >/dev/null \
	    2> >(sup_stamp >>"$SUP_DIR/stderr.log") &
	SUP_PID=$!
	# the socket answering, not merely there: a stale one may be
	wait_for 10 'sup_ctl status >/dev/null 2>&1 || ! sup_alive $SUP_PID'
	sup_ctl status >/dev/null 2>&1 ||
		{ cat "$SUP_DIR/stderr.log" >&2; bail "harepd did not start"; }
}

sup_ctl() { "$HAREPDCTL" -s "$SUP_SOCK" "$@"; }

sup_status() {
	sup_ctl status --json | python3 -c '
import json, sys
d = json.load(sys.stdin)
w = {x["name"]: x for x in d["workers"]}
v = eval(sys.argv[1])
print(json.dumps(v) if isinstance(v, (bool, type(None), list, dict)) else v)' "$1"
}

# Pid of the worker ROLE among the supervisor's children, per /proc.
sup_worker_pid() {
	local p
	for p in $(pgrep -P "$SUP_PID"); do
		if tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null |
		    grep -Eq -- "--role $1( |$)"; then
			echo "$p"; return 0
		fi
	done
	return 1
}

# A worker that stays up and said Hello ("running" in status).
sup_running() { [ "$(sup_status "w[\"$1\"][\"state\"]" 2>/dev/null)" = running ]; }

# One TAP line: the worker ROLE is running within TIMEOUT seconds. A
# worker that is not (it crashed at start, keeps restarting, never said
# Hello) is a failure, never a skip: every check made of a running
# worker would otherwise pass by default. The diagnostic says what the
# supervisor knows of it and what harepd last wrote on stderr.
sup_expect_running() {	# sup_expect_running ROLE [TIMEOUT]
	local q="w[\"$1\"]"
	if wait_for "${2:-10}" "sup_running $1"; then
		tap_result 0 "$1 worker is running"
		return 0
	fi
	tap_result 1 "$1 worker is running"
	diag "$1: state $(sup_status "$q[\"state\"]" 2>&1)," \
	    "restarts $(sup_status "$q[\"restarts\"]" 2>&1)," \
	    "last exit: $(sup_status "$q[\"last_exit\"]" 2>&1)"
	diag "last lines of harepd's stderr:"
	tail -n 5 "$SUP_DIR/stderr.log" 2>/dev/null | sed 's/^/#   /'
	return 1
}

# Every ROLE running, or the test ends here (failed): what follows
# needs them.
sup_require_running() {	# sup_require_running ROLE...
	local r missing=0
	for r in "$@"; do
		sup_expect_running "$r" 10 || missing=1
	done
	[ "$missing" -eq 0 ] && return 0
	done_testing
	exit 1
}

# None of the pids (a space or newline separated list) is running.
sup_none_alive() {
	local p
	for p in $1; do
		sup_alive "$p" && { diag "still alive: $(ps -o pid=,stat=,args= -p "$p")"; return 1; }
	done
	return 0
}

proc_field() { awk -v k="$2:" '$1 == k { $1 = ""; sub(/^ /, ""); print }' "/proc/$1/status"; }

# Running (a zombie waiting for the test shell to reap it does not count).
sup_alive() {
	local st
	st=$(ps -o stat= -p "$1" 2>/dev/null) && [ "${st:0:1}" != Z ]
}

sup_cleanup() {
	local kids p
	if [ -n "$SUP_PID" ] && kill -0 "$SUP_PID" 2>/dev/null; then
		kids=$(pgrep -P "$SUP_PID")
		kill -TERM "$SUP_PID" 2>/dev/null
		wait_for 10 '! kill -0 $SUP_PID 2>/dev/null'
		for p in $SUP_PID $kids; do kill -KILL "$p" 2>/dev/null; done
	fi
	[ -n "$SUP_DIR" ] && rm -rf "$SUP_DIR"
	if declare -F pg_stop_all >/dev/null; then pg_stop_all; fi
}

# Under ASan/UBSan (make asan) a report from harepd or a worker lands on
# stderr: a test that went through a whole life cycle checks there is none.
sup_no_sanitizer_reports() {
	ok '! grep -E "ERROR: (Address|Leak)Sanitizer|runtime error:" "$SUP_DIR"/stderr*.log' \
		"no sanitizer report on harepd's stderr"
}

# A real PostgreSQL whose repmgr.nodes says: this node (node_1,
# 127.0.0.1) is the primary, node_2 (127.0.0.2) its standby. Needs
# tests/lib/pg.sh sourced. The config of sup_config then points at it and
# hbaConfig is PostgreSQL's own pg_hba.conf.
sup_pg_cluster() {
	pg_start
	trap 'sup_cleanup' EXIT		# pg_start set its own; ours stops both
	pg_psql -c "
CREATE SCHEMA repmgr;
CREATE TABLE repmgr.nodes (node_id int PRIMARY KEY, upstream_node_id int,
    active bool NOT NULL, node_name text NOT NULL, type text NOT NULL,
    location text DEFAULT 'default', priority int DEFAULT 100,
    conninfo text NOT NULL);
INSERT INTO repmgr.nodes VALUES
    (1, NULL, true, 'node_1', 'primary', 'default', 100, 'host=127.0.0.1 dbname=repmgr'),
    (2, 1, true, 'node_2', 'standby', 'default', 100, 'host=127.0.0.2 dbname=repmgr');
" >/dev/null || bail "cannot create repmgr.nodes"
	SUP_HBA=$PGDATA/pg_hba.conf
	SUP_PGHOST=$PG_TMP SUP_PGPORT=$PGPORT SUP_PGUSER=postgres SUP_PGDB=postgres
}

# A fake peer (tests/helpers/sup_peer.py) answering GetClusterInfo with
# $SUP_DIR/answer.json, by default node_2, a standby that names node_1
# the primary. Sets PEER_PORT and PEER (its pid: the caller's trap kills
# it). Needs protoc and python3-grpcio.
SUP_AGREE='{"ip": "127.0.0.2", "nodeId": 2, "nodeName": "node_2", "master": ["127.0.0.1"], "slaves": ["127.0.0.2"]}'
sup_fake_peer() {
	protoc --python_out="$SUP_DIR" -I "$TOP/proto" "$TOP/proto/messaging.proto" ||
		bail "protoc --python_out failed"
	PEER_PORT=$SUP_PORT
	while [ "$PEER_PORT" = "$SUP_PORT" ] || [ "$PEER_PORT" = $((SUP_PORT + 1)) ]; do
		PEER_PORT=$(sup_free_port) || bail "no free port"
	done
	[ -s "$SUP_DIR/answer.json" ] || echo "$SUP_AGREE" >"$SUP_DIR/answer.json"
	/usr/bin/python3 "$TOP/tests/helpers/sup_peer.py" serve "$SUP_DIR" "$PEER_PORT" \
	    "$SUP_DIR/answer.json" >"$SUP_DIR/peer.log" 2>&1 &
	PEER=$!
	wait_for 10 'grep -q listening "$SUP_DIR/peer.log"' || bail "fake peer did not start"
}
