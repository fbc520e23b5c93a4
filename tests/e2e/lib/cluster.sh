# A real repmgr cluster on one machine, for the e2e scenarios and the demo.
#
# Network: one namespace per host plus a "switch" namespace holding the
# bridge; every host has a veth (eth0) whose other end is a bridge port in
# the switch namespace. Nothing is created in the root namespace and no
# namespace has a default route, so traffic never leaves the machine and
# two clusters (an e2e run and the demo) can exist side by side: only the
# namespace names (prefix CL_PFX) must differ.
#
#   hosts (CL_NET.x)  hap .10 (HAProxy)  n1 .11  n2 .12  [n3 .13]  wt .20 (witness)
#
# Every data node and the witness run PostgreSQL 15 (as postgres, own data
# directory, own unix socket directory, pg_hba.conf outside the data
# directory) and repmgrd; n1 is registered primary, the others are cloned
# from it. HAProxy (ns hap) has a write listener on :5000 (pgsql-check user
# harw) and a read-only one on :5001 (haro), stats socket in CL_DIR.
# harepd runs on every node (witness: --server-only), as root in the node's
# namespace, from $HAREPD_BUILD.
#
#   . tests/lib/tap.sh; . tests/e2e/lib/cluster.sh
#   cl_suite_up [data nodes...]  # all of the below, until writes reach n1
#     cl_init [data nodes...]    # default "n1 n2"; sets CL_DIR, traps cl_down
#     cl_up                      # network, PostgreSQL+repmgr, repmgrd, HAProxy
#     cl_harepd_start_all        # harepd everywhere (witness --server-only)
#   ...scenario...               # see the helpers below and docs/E2E.md
#   cl_down                      # idempotent; also run by the EXIT trap
#
# All state (pids, logs, configs) is under CL_DIR, so cl_down works from a
# fresh shell given CL_DIR and CL_PFX (the demo's "down").

CL_PGBIN=${CL_PGBIN:-/usr/lib/postgresql/15/bin}
CL_NET=${CL_NET:-10.231.0}
CL_PORT=5432
CL_RW_PORT=5000
CL_RO_PORT=5001
CL_GRPC_PORT=10000
CL_WATCHDOG=${CL_WATCHDOG:-1}
CL_DEADLINE=${CL_DEADLINE:-1}
CL_ALLOWRO=${CL_ALLOWRO:-true}
CL_POLICY=${CL_POLICY:-}	# harepd.policy; empty: harepd's default
CL_TLS=${CL_TLS:-}		# 1: mutual TLS between the harepds (cl_tls_pki)
CL_METRICS=${CL_METRICS:-}	# a port: metrics.listen on each node's address
CL_APP_PASSWORD=app-secret
CL_DIR=${CL_DIR:-}
CL_PFX=${CL_PFX:-}
CL_NODES=${CL_NODES:-}
CL_MON_PID=

cl_log() { printf '%s %s\n' "$(date +%T.%3N)" "$*" >>"$CL_DIR/cluster.log"; }
cl_die() { cl_log "FATAL: $*"; echo "cluster: $*" >&2; return 1; }
cl_now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

cl_ip() {	# cl_ip HOST
	case $1 in
	hap) echo "$CL_NET.10" ;;
	wt) echo "$CL_NET.20" ;;
	n[0-9]) echo "$CL_NET.$((10 + ${1#n}))" ;;
	*) return 1 ;;
	esac
}
cl_node_of_ip() {	# cl_node_of_ip IP -> node name
	local h
	for h in $CL_NODES wt hap; do
		[ "$(cl_ip "$h")" = "$1" ] && { echo "$h"; return 0; }
	done
	echo "?$1"
}
cl_ns() { echo "$CL_PFX-$1"; }
cl_hosts() { echo "$CL_NODES wt hap"; }
cl_pg_hosts() { echo "$CL_NODES wt"; }

# cl_init [data nodes...]: choose names and the temporary directory.
cl_init() {
	[ $# -gt 0 ] && CL_NODES="$*"
	CL_NODES=${CL_NODES:-n1 n2}
	CL_PFX=${CL_PFX:-he$$}
	if [ -z "$CL_DIR" ]; then
		CL_DIR=$(mktemp -d /tmp/harepd-e2e.XXXXXX) || return 1
	else
		mkdir -p "$CL_DIR" || return 1
	fi
	chmod 0755 "$CL_DIR"
	{
		echo "CL_PFX=$CL_PFX"
		echo "CL_NODES='$CL_NODES'"
		echo "CL_NET=$CL_NET"
	} >"$CL_DIR/cluster.env"
	: >"$CL_DIR/cluster.log"
	if [ -z "${CL_NO_TRAP:-}" ]; then
		# a signal ends the script through exit, so the EXIT trap cleans up
		trap cl_down EXIT
		trap 'exit 129' HUP
		trap 'exit 130' INT
		trap 'exit 143' TERM
	fi
}

# Run in a host's namespace.
cl_in() { local h=$1; shift; ip netns exec "$(cl_ns "$h")" "$@"; }
# Run as postgres in a host's namespace, from its directory.
cl_pg_in() {
	local h=$1; shift
	(cd "$CL_DIR/$h" && ip netns exec "$(cl_ns "$h")" runuser -u postgres -- \
	    env HOME="$CL_DIR/$h" PATH="$CL_PGBIN:/usr/bin:/bin" "$@")
}
# psql as postgres on a host's own unix socket.
cl_psql() {	# cl_psql HOST [psql args]
	local h=$1; shift
	cl_pg_in "$h" psql -X -q -At -h "$CL_DIR/$h" -p $CL_PORT -U postgres \
	    -d postgres -v ON_ERROR_STOP=1 "$@"
}
cl_repmgr() {	# cl_repmgr HOST [repmgr args]
	local h=$1; shift
	cl_pg_in "$h" repmgr -f "$CL_DIR/$h/repmgr.conf" "$@"
}

# ---------------------------------------------------------------- network

cl_net_up() {
	local sw h ns
	sw=$(cl_ns sw)
	ip netns add "$sw" || return 1
	ip -n "$sw" link set lo up
	ip -n "$sw" link add br0 type bridge
	ip -n "$sw" link set br0 up
	for h in $(cl_hosts); do
		ns=$(cl_ns "$h")
		ip netns add "$ns" || return 1
		ip -n "$ns" link set lo up
		ip -n "$sw" link add "p-$h" type veth peer name eth0 netns "$ns" || return 1
		ip -n "$sw" link set "p-$h" master br0
		ip -n "$sw" link set "p-$h" up
		ip -n "$ns" addr add "$(cl_ip "$h")/24" dev eth0
		ip -n "$ns" link set eth0 up
	done
	# no default route anywhere: check it
	for h in sw $(cl_hosts); do
		if ip -n "$(cl_ns "$h")" route show default | grep -q .; then
			cl_die "default route in $h"; return 1
		fi
	done
	cl_log "network up: $(cl_hosts) on $CL_NET.0/24"
}

# Cut / restore a host's link (its bridge port): nobody reaches it, it
# reaches nobody; its own processes keep running.
cl_link_down() { ip -n "$(cl_ns sw)" link set "p-$1" down; cl_log "link $1 down"; }
# Cut / restore the path between two hosts only (blackhole routes both
# ways): each still reaches everyone else, HAProxy included.
cl_cut() {	# cl_cut A B
	ip -n "$(cl_ns "$1")" route add blackhole "$(cl_ip "$2")/32" &&
	    ip -n "$(cl_ns "$2")" route add blackhole "$(cl_ip "$1")/32" &&
	    cl_log "cut $1 <-> $2"
}
cl_heal() {	# cl_heal A B
	ip -n "$(cl_ns "$1")" route del blackhole "$(cl_ip "$2")/32" 2>/dev/null
	ip -n "$(cl_ns "$2")" route del blackhole "$(cl_ip "$1")/32" 2>/dev/null
	cl_log "healed $1 <-> $2"
}
cl_link_up() { ip -n "$(cl_ns sw)" link set "p-$1" up; cl_log "link $1 up"; }

# ---------------------------------------------------------------- PostgreSQL

# Settings shared by every node live in postgresql.conf (copied by
# standby clone); what is node specific lives in ../node.conf, included by
# a path relative to the data directory, so a clone finds its own.
cl_pg_prepare_dir() {	# cl_pg_prepare_dir HOST
	local h=$1 d=$CL_DIR/$1
	mkdir -p "$d"
	{
		echo "listen_addresses = '$(cl_ip "$h"),127.0.0.1'"
		echo "port = $CL_PORT"
		echo "unix_socket_directories = '$d'"
		echo "hba_file = '$d/pg_hba.conf'"
		echo "cluster_name = '$h'"
	} >"$d/node.conf"
	# The operator's pg_hba.conf: harepd adds its block above the first
	# rule. The catch-all last line would let pgsql-check pass (a password
	# request is UP): only harepd's explicit reject fences a node.
	cat >"$d/pg_hba.conf" <<EOF
# pg_hba.conf of $h (outside the data directory: hba_file)
local   all             all                                     trust
host    all             all             127.0.0.1/32            trust
host    replication     repmgr          $CL_NET.0/24            trust
host    repmgr          repmgr          $CL_NET.0/24            trust
host    all             all             $CL_NET.0/24            scram-sha-256
EOF
	cat >"$d/repmgr.conf" <<EOF
node_id=$(cl_node_id "$h")
node_name='$h'
conninfo='host=$(cl_ip "$h") port=$CL_PORT user=repmgr dbname=repmgr connect_timeout=1'
data_directory='$d/data'
pg_bindir='$CL_PGBIN'
use_replication_slots=yes
log_file='$d/repmgrd.log'
log_level=INFO
repmgrd_pid_file='$d/repmgrd.pid'
failover=manual
reconnect_attempts=2
reconnect_interval=1
primary_notification_timeout=5
monitor_interval_secs=1
service_start_command='$CL_PGBIN/pg_ctl -D $d/data -l $d/postgresql.log -w -t 60 start'
service_stop_command='$CL_PGBIN/pg_ctl -D $d/data -m fast -w -t 60 stop'
service_restart_command='$CL_PGBIN/pg_ctl -D $d/data -l $d/postgresql.log -w -t 60 restart'
service_reload_command='$CL_PGBIN/pg_ctl -D $d/data reload'
EOF
	chown -R postgres: "$d"
	chmod 0755 "$d"
}

cl_node_id() {
	case $1 in
	wt) echo 99 ;;
	n[0-9]) echo "${1#n}" ;;
	esac
}

cl_initdb() {	# cl_initdb HOST
	local h=$1 d=$CL_DIR/$1
	cl_pg_in "$h" initdb -D "$d/data" -U postgres --auth=trust --no-sync \
	    >"$d/initdb.log" 2>&1 || { cat "$d/initdb.log" >&2; cl_die "initdb $h"; return 1; }
	cat >>"$d/data/postgresql.conf" <<EOF

# harepd e2e: shared by every node (standby clone copies this file)
include = '../node.conf'
shared_preload_libraries = 'repmgr'
wal_level = replica
wal_log_hints = on
max_wal_senders = 10
max_replication_slots = 10
hot_standby = on
wal_keep_size = 64MB
fsync = off
full_page_writes = on
shared_buffers = 16MB
max_connections = 40
logging_collector = off
log_line_prefix = '%m [%p] %h %u@%d '
password_encryption = 'scram-sha-256'
EOF
}

cl_pg_start() {	# cl_pg_start HOST
	local d=$CL_DIR/$1
	cl_pg_in "$1" pg_ctl -D "$d/data" -l "$d/postgresql.log" -w -t 60 start \
	    </dev/null >/dev/null 2>&1 || { tail -20 "$d/postgresql.log" >&2; cl_die "start pg $1"; return 1; }
	cl_log "pg $1 started"
}
cl_pg_stop() {	# cl_pg_stop HOST [mode]
	local d=$CL_DIR/$1
	cl_pg_in "$1" pg_ctl -D "$d/data" -m "${2:-immediate}" -w -t 60 stop \
	    </dev/null >/dev/null 2>&1
	cl_log "pg $1 stopped (${2:-immediate})"
}
cl_pg_running() { [ -f "$CL_DIR/$1/data/postmaster.pid" ] && cl_pg_in "$1" pg_ctl -D "$CL_DIR/$1/data" status >/dev/null 2>&1; }

cl_pg_up() {
	local first=${CL_NODES%% *} h p
	p=$first
	for h in $(cl_pg_hosts); do cl_pg_prepare_dir "$h" || return 1; done
	# primary
	cl_initdb "$p" || return 1
	cl_pg_start "$p" || return 1
	cl_psql "$p" <<EOF || { cl_die "primary setup"; return 1; }
CREATE ROLE repmgr SUPERUSER LOGIN;
CREATE DATABASE repmgr OWNER repmgr;
SET password_encryption = 'md5';
CREATE ROLE harw LOGIN PASSWORD 'harw-secret';
CREATE ROLE haro LOGIN PASSWORD 'haro-secret';
RESET password_encryption;
CREATE ROLE app LOGIN PASSWORD '$CL_APP_PASSWORD';
CREATE DATABASE app OWNER app;
EOF
	cl_pg_in "$p" psql -X -q -h "$CL_DIR/$p" -p $CL_PORT -U app -d app -v ON_ERROR_STOP=1 \
	    -c "CREATE TABLE writes (id bigserial PRIMARY KEY, tag text, node inet DEFAULT inet_server_addr(), at timestamptz DEFAULT now())" \
	    >/dev/null || { cl_die "app table"; return 1; }
	cl_repmgr "$p" primary register >>"$CL_DIR/$p/repmgr.out" 2>&1 \
	    || { cat "$CL_DIR/$p/repmgr.out" >&2; cl_die "primary register"; return 1; }
	# standbys
	for h in $CL_NODES; do
		[ "$h" = "$p" ] && continue
		cl_repmgr "$h" -h "$(cl_ip "$p")" -p $CL_PORT -U repmgr -d repmgr \
		    standby clone --fast-checkpoint >>"$CL_DIR/$h/repmgr.out" 2>&1 \
		    || { cat "$CL_DIR/$h/repmgr.out" >&2; cl_die "standby clone $h"; return 1; }
		cl_pg_start "$h" || return 1
		cl_repmgr "$h" standby register --wait-sync=30 >>"$CL_DIR/$h/repmgr.out" 2>&1 \
		    || { cat "$CL_DIR/$h/repmgr.out" >&2; cl_die "standby register $h"; return 1; }
	done
	# witness: its own initdb (repmgr checks the system identifier differs)
	cl_initdb wt || return 1
	cl_pg_start wt || return 1
	cl_psql wt -c "CREATE ROLE repmgr SUPERUSER LOGIN" -c "CREATE DATABASE repmgr OWNER repmgr" \
	    || { cl_die "witness setup"; return 1; }
	cl_repmgr wt -h "$(cl_ip "$p")" -p $CL_PORT -U repmgr -d repmgr witness register \
	    >>"$CL_DIR/wt/repmgr.out" 2>&1 \
	    || { cat "$CL_DIR/wt/repmgr.out" >&2; cl_die "witness register"; return 1; }
	cl_log "repmgr cluster registered: primary $p"
}

cl_repmgrd_start() {	# cl_repmgrd_start HOST
	local d=$CL_DIR/$1
	rm -f "$d/repmgrd.pid"
	cl_pg_in "$1" repmgrd -f "$d/repmgr.conf" --daemonize </dev/null >>"$d/repmgrd.out" 2>&1 \
	    || { cl_die "repmgrd $1"; return 1; }
	wait_for 10 "[ -s '$d/repmgrd.pid' ]" || { cl_die "repmgrd $1 no pid"; return 1; }
	cl_log "repmgrd $1 started (pid $(cat "$d/repmgrd.pid"))"
}
cl_repmgrd_stop() {
	local f=$CL_DIR/$1/repmgrd.pid pid
	[ -s "$f" ] || return 0
	pid=$(cat "$f")
	kill -TERM "$pid" 2>/dev/null
	wait_for 5 "! kill -0 $pid 2>/dev/null" || kill -KILL "$pid" 2>/dev/null
	rm -f "$f"
}

# ---------------------------------------------------------------- HAProxy

cl_haproxy_up() {
	local d=$CL_DIR/hap h
	mkdir -p "$d"
	{
		cat <<EOF
global
    stats socket $d/stats.sock mode 600 level admin
    pidfile $d/haproxy.pid
    log stderr format short local0 info

defaults
    mode tcp
    log global
    option tcplog
    timeout connect 1s
    timeout client 1m
    timeout server 1m
    timeout check 1s

listen pg_rw
    bind $(cl_ip hap):$CL_RW_PORT
    option pgsql-check user harw
    default-server inter 500 fall 2 rise 2 on-marked-down shutdown-sessions
EOF
		for h in $CL_NODES; do echo "    server $h $(cl_ip "$h"):$CL_PORT check"; done
		cat <<EOF

listen pg_ro
    bind $(cl_ip hap):$CL_RO_PORT
    balance roundrobin
    option pgsql-check user haro
    default-server inter 500 fall 2 rise 2 on-marked-down shutdown-sessions
EOF
		for h in $CL_NODES; do echo "    server $h $(cl_ip "$h"):$CL_PORT check"; done
	} >"$d/haproxy.cfg"
	haproxy -c -q -f "$d/haproxy.cfg" || { cl_die "haproxy config"; return 1; }
	cl_in hap haproxy -f "$d/haproxy.cfg" -D </dev/null >>"$d/haproxy.log" 2>&1 \
	    || { cl_die "haproxy start"; return 1; }
	wait_for 5 "[ -S '$d/stats.sock' ]" || { cl_die "no stats socket"; return 1; }
	cl_log "haproxy up"
}
cl_haproxy_stop() {
	local f=$CL_DIR/hap/haproxy.pid pid
	[ -s "$f" ] || return 0
	for pid in $(cat "$f"); do kill -TERM "$pid" 2>/dev/null; done
	rm -f "$f"
}

# show stat as CSV
cl_hap_stat() { echo "show stat" | socat -t 2 - "UNIX-CONNECT:$CL_DIR/hap/stats.sock" 2>/dev/null; }
# cl_hap_up BACKEND -> sorted names of the UP servers, space separated
cl_hap_up() {
	cl_hap_stat | awk -F, -v b="$1" '$1 == b && $2 != "FRONTEND" && $2 != "BACKEND" && $18 ~ /^UP/ { print $2 }' |
	    sort | tr '\n' ' ' | sed 's/ $//'
}
# cl_hap_view: one line per server: backend server status check_status
cl_hap_view() {
	cl_hap_stat | awk -F, '$1 ~ /^pg_r[wo]$/ && $2 != "FRONTEND" && $2 != "BACKEND" { printf "%-6s %-3s %-5s %s\n", $1, $2, $18, $37 }'
}
cl_hap_status() { cl_hap_stat | awk -F, -v b="$1" -v s="$2" '$1 == b && $2 == s { print $18 }'; }

# One INSERT through HAProxy's write port; prints the node that took it
# (by inet_server_addr()), fails if the write did not go through.
cl_insert() {	# cl_insert [tag]
	local ip
	ip=$(cl_in hap env PGPASSWORD=$CL_APP_PASSWORD PGCONNECT_TIMEOUT=2 \
	    "$CL_PGBIN/psql" -X -q -At -h "$(cl_ip hap)" -p $CL_RW_PORT -U app -d app \
	    -v ON_ERROR_STOP=1 -c "INSERT INTO writes (tag) VALUES ('${1:-probe}') RETURNING host(inet_server_addr())" \
	    2>/dev/null </dev/null) || return 1
	[ -n "$ip" ] || return 1
	cl_node_of_ip "$ip"
}
# A read through the read-only port: prints the node that answered.
cl_read() {
	local ip
	ip=$(cl_in hap env PGPASSWORD=$CL_APP_PASSWORD PGCONNECT_TIMEOUT=2 \
	    "$CL_PGBIN/psql" -X -q -At -h "$(cl_ip hap)" -p $CL_RO_PORT -U app -d app \
	    -c "SELECT host(inet_server_addr())" 2>/dev/null </dev/null) || return 1
	[ -n "$ip" ] || return 1
	cl_node_of_ip "$ip"
}

# ---------------------------------------------------------------- harepd

# A throwaway PKI for mutual TLS (CL_TLS=1), made with openssl in
# $CL_DIR/tls: ca.pem/ca.key, and for each host running harepd HOST.pem
# and HOST.key (EC P-256, 2 days), subjectAltName its address (peers dial
# addresses), for server and client use: each harepd both serves and asks.
cl_tls_pki() {
	local d=$CL_DIR/tls h
	[ -f "$d/ca.pem" ] && return 0
	mkdir -p "$d"; chmod 0700 "$d"
	_cl_ssl() { openssl "$@" >>"$d/openssl.log" 2>&1 ||
		{ cl_die "openssl $1 failed: $(tail -3 "$d/openssl.log")"; return 1; }; }
	_cl_ssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
	    -nodes -days 2 -subj "/CN=harepd throwaway CA" -keyout "$d/ca.key" \
	    -out "$d/ca.pem" || return 1
	for h in $CL_NODES wt; do
		_cl_ssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
		    -nodes -subj "/CN=$h" -keyout "$d/$h.key" -out "$d/$h.csr" ||
		    return 1
		printf 'subjectAltName=IP:%s\nextendedKeyUsage=serverAuth,clientAuth\n' \
		    "$(cl_ip "$h")" >"$d/$h.ext"
		_cl_ssl x509 -req -in "$d/$h.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" \
		    -CAcreateserial -days 2 -extfile "$d/$h.ext" -out "$d/$h.pem" ||
		    return 1
	done
	chmod 0600 "$d"/*.key
	cl_log "TLS: throwaway CA and certificates in $d"
}

cl_harepd_config() {	# cl_harepd_config HOST  -> $CL_DIR/HOST/harepd.yml
	local h=$1 d=$CL_DIR/$1 n nb= wline
	if [ "$CL_TLS" = 1 ]; then cl_tls_pki || return 1; fi
	# the other data nodes, last first: in 40-stale-standby n1 asks the
	# stale n3 before n2 (what trips the seed's first-answer rule)
	for n in $CL_NODES; do
		[ "$n" = "$h" ] && continue
		nb="\"$(cl_ip "$n"):$CL_GRPC_PORT\"${nb:+, }$nb"
	done
	# the witness only serves (--server-only); it lists the data nodes
	wline="    witness: \"$(cl_ip wt):$CL_GRPC_PORT\""
	[ "$h" = wt ] && wline=
	mkdir -p "$d/harepd"
	{
		cat <<EOF
# generated by tests/e2e/lib/cluster.sh for $h
harepd:
  nodeName: "$h"
  primaryIP: "$(cl_ip "$h")"
  allowRO: $CL_ALLOWRO
  hbaConfig: "$d/pg_hba.conf"
  haproxy:
    server:
      - "$(cl_ip hap)"
    users:
      readOnly: "haro"
      readWrite: "harw"
  authModes:
    allow: "md5"
    deny: "reject"
  repmgr:
    user: "repmgr"
    db: "repmgr"
    host: "$d"
    port: $CL_PORT
  gRPC:
    bindPort: $CL_GRPC_PORT
    bindAddress: "$(cl_ip "$h")"
    neighbours: [$nb]
EOF
		[ -n "$wline" ] && echo "$wline"
		if [ "$CL_TLS" = 1 ]; then cat <<EOF
    tls:
      enabled: true
      clientAuth: true
      ca: "$CL_DIR/tls/ca.pem"
      cert: "$CL_DIR/tls/$h.pem"
      key: "$CL_DIR/tls/$h.key"
EOF
		fi
		cat <<EOF
    connectionDeadline: $CL_DEADLINE
  watchDog: $CL_WATCHDOG
${CL_POLICY:+  policy: $CL_POLICY}
  logs:
    filePath: "$d/harepd/harepd.log"
  control:
    socket: "$d/harepd/harepd.sock"
EOF
		if [ -n "$CL_METRICS" ]; then cat <<EOF
  metrics:
    listen: "$(cl_ip "$h"):$CL_METRICS"
EOF
		fi
	} >"$d/harepd.yml"
}

cl_harepd_sock() { echo "$CL_DIR/$1/harepd/harepd.sock"; }
cl_ctl() { local h=$1; shift; "$HAREPDCTL" -s "$(cl_harepd_sock "$h")" "$@"; }

cl_harepd_start() {	# cl_harepd_start HOST [harepd args]
	local h=$1 d=$CL_DIR/$1 pid; shift
	[ -x "$HAREPD" ] || { cl_die "$HAREPD missing"; return 1; }
	[ -f "$d/harepd.yml" ] || cl_harepd_config "$h"
	rm -f "$d/harepd.pid"
	# in its own session, no descriptor of ours but the log
	(cd / && exec setsid ip netns exec "$(cl_ns "$h")" "$HAREPD" -f "$d/harepd.yml" "$@" \
	    </dev/null >>"$d/harepd/stderr.log" 2>&1) &
	pid=$!
	echo "$pid" >"$d/harepd.pid"
	wait_for 10 "[ -S '$(cl_harepd_sock "$h")' ] || ! kill -0 $pid 2>/dev/null"
	if ! [ -S "$(cl_harepd_sock "$h")" ]; then
		tail -20 "$d/harepd/stderr.log" >&2
		cl_die "harepd on $h did not start"; return 1
	fi
	cl_log "harepd $h started (pid $pid) $*"
}
cl_harepd_pid() { [ -s "$CL_DIR/$1/harepd.pid" ] && cat "$CL_DIR/$1/harepd.pid"; }
cl_harepd_stop() {	# cl_harepd_stop HOST: SIGTERM, then SIGKILL on it and its children
	local pid kids p
	pid=$(cl_harepd_pid "$1") || return 0
	if kill -0 "$pid" 2>/dev/null; then
		kids=$(pgrep -P "$pid")
		kill -TERM "$pid" 2>/dev/null
		wait_for 10 "! kill -0 $pid 2>/dev/null"
		for p in $pid $kids; do kill -KILL "$p" 2>/dev/null; done
	fi
	rm -f "$CL_DIR/$1/harepd.pid"
	cl_log "harepd $1 stopped"
}
cl_harepd_start_all() {
	local h
	cl_harepd_start wt --server-only || return 1
	for h in $CL_NODES; do cl_harepd_start "$h" || return 1; done
}

# Does harepd's block of HOST's pg_hba.conf allow USER (harw/haro)?
cl_hba_allows() {	# cl_hba_allows HOST USER
	grep -Eq "^host[[:space:]]+$2[[:space:]]+$2[[:space:]]+$(cl_ip hap | sed 's/\./\\./g')/32[[:space:]]+md5" \
	    "$CL_DIR/$1/pg_hba.conf" 2>/dev/null
}
cl_hba_denies() {
	grep -Eq "^host[[:space:]]+$2[[:space:]]+$2[[:space:]]+$(cl_ip hap | sed 's/\./\\./g')/32[[:space:]]+reject" \
	    "$CL_DIR/$1/pg_hba.conf" 2>/dev/null
}
# Nodes whose pg_hba.conf allows the write check, space separated.
cl_hba_writers() {
	local h out=
	for h in $CL_NODES; do cl_hba_allows "$h" harw && out="$out${out:+ }$h"; done
	echo "$out"
}

# ---------------------------------------------------------------- repmgr ops

cl_promote() {	# cl_promote HOST: repmgr standby promote
	cl_repmgr "$1" standby promote >>"$CL_DIR/$1/repmgr.out" 2>&1
}
cl_in_recovery() { cl_psql "$1" -c "SELECT pg_is_in_recovery()" 2>/dev/null; }
cl_nodes_view() {	# repmgr.nodes as HOST sees it
	cl_psql "$1" -d repmgr -c "SELECT node_name||':'||type||':'||CASE WHEN active THEN 'active' ELSE 'inactive' END FROM repmgr.nodes ORDER BY node_id" 2>/dev/null | tr '\n' ' '
}

# ---------------------------------------------------------------- monitor

# Every 100 ms: the UP servers of pg_rw (HAProxy's view) and the nodes whose
# pg_hba.conf allows harw. A sample with two of either is a violation.
# Written to fork little (one socat per sample): a sample takes a few ms.
cl_monitor_loop() {
	local n=0 bad=0 line h hba up nup nhba next now re f pm
	local -a fields lines
	re="^host[[:space:]]+harw[[:space:]]+harw[[:space:]]+$(cl_ip hap)/32[[:space:]]+md5"
	next=${EPOCHREALTIME/./}
	while [ ! -e "$CL_DIR/monitor.stop" ]; do
		up= nup=0
		while IFS=, read -r -a fields; do
			[ "${fields[0]}" = pg_rw ] || continue
			case ${fields[1]} in FRONTEND|BACKEND) continue ;; esac
			case ${fields[17]} in UP*) up="$up${up:+ }${fields[1]}"; nup=$((nup + 1)) ;; esac
		done < <(echo "show stat" | socat -t 2 - "UNIX-CONNECT:$CL_DIR/hap/stats.sock" 2>/dev/null)
		hba= nhba=0
		for h in $CL_NODES; do
			f=$CL_DIR/$h/pg_hba.conf
			[ -r "$f" ] || continue
			# a stopped PostgreSQL enforces nothing (the allow on
			# disk of a lost node is not a writer until it starts)
			if [ -d "$CL_DIR/$h/data" ]; then
				pm=
				read -r pm <"$CL_DIR/$h/data/postmaster.pid" 2>/dev/null
				[ -n "$pm" ] && [ -d "/proc/$pm" ] || continue
			fi
			mapfile -t lines <"$f"
			for line in "${lines[@]}"; do
				if [[ $line =~ $re ]]; then hba="$hba${hba:+ }$h"; nhba=$((nhba + 1)); break; fi
			done
		done
		n=$((n + 1))
		printf -v now '%(%T)T' -1
		if [ "$nup" -gt 1 ] || [ "$nhba" -gt 1 ]; then
			bad=$((bad + 1))
			echo "$now VIOLATION haproxy_up=[$up] hba_allow=[$hba]" >>"$CL_DIR/monitor.violations"
		fi
		echo "$now up=[$up] hba=[$hba]" >>"$CL_DIR/monitor.log"
		echo "$n $bad" >"$CL_DIR/monitor.count"
		next=$((next + 100000))
		now=${EPOCHREALTIME/./}
		if [ "$now" -lt "$next" ]; then
			sleep "0.$(printf '%06d' $((next - now)))"
		else
			next=$now
		fi
	done
}
cl_monitor_start() {
	rm -f "$CL_DIR/monitor.stop" "$CL_DIR/monitor.violations" "$CL_DIR/monitor.count"
	: >"$CL_DIR/monitor.log"
	cl_monitor_loop </dev/null >/dev/null 2>&1 &
	CL_MON_PID=$!
	echo "$CL_MON_PID" >"$CL_DIR/monitor.pid"
}
# cl_monitor_halt: stop the sampling (waits for the last sample)
cl_monitor_halt() {
	[ -n "$CL_MON_PID" ] || return 0
	touch "$CL_DIR/monitor.stop"
	wait "$CL_MON_PID" 2>/dev/null
	CL_MON_PID=
	rm -f "$CL_DIR/monitor.pid"
}
# cl_monitor_report NAME: the monitor's result as one TAP test
cl_monitor_report() {
	local n bad
	read -r n bad <"$CL_DIR/monitor.count" 2>/dev/null || { n=0; bad=0; }
	if [ "$n" -gt 0 ] && [ "$bad" -eq 0 ]; then
		tap_result 0 "monitor: never two writers (${1:-scenario}, $n samples)"
	else
		tap_result 1 "monitor: never two writers (${1:-scenario}, $n samples, $bad violations)"
		head -20 "$CL_DIR/monitor.violations" 2>/dev/null | sed 's/^/# /'
	fi
}
# cl_monitor_stop NAME: stop it and report as one TAP test
cl_monitor_stop() { cl_monitor_halt; cl_monitor_report "$@"; }

# ---------------------------------------------------------------- up / down

cl_up() {
	local t0 h
	t0=$(cl_now_ms)
	cl_net_up || return 1
	cl_pg_up || return 1
	for h in $(cl_pg_hosts); do cl_repmgrd_start "$h" || return 1; done
	cl_haproxy_up || return 1
	cl_log "cluster up in $(( $(cl_now_ms) - t0 )) ms"
	CL_UP_MS=$(( $(cl_now_ms) - t0 ))
}

# Print the logs worth reading after a failure (to stderr, for prove -v).
cl_dump() {
	local h
	for h in $(cl_pg_hosts); do
		echo "== $h: harepdctl status"; cl_ctl "$h" status 2>&1 | head -30
		echo "== $h: harepd log, last warnings"
		grep -hv '"level":"info"' "$CL_DIR/$h/harepd/stderr.log" 2>/dev/null | tail -8
		echo "== $h: repmgr.nodes: $(cl_nodes_view "$h")"
		echo "== $h: pg_hba.conf"; grep -v '^#' "$CL_DIR/$h/pg_hba.conf" 2>/dev/null | grep . | head -4
	done | sed 's/^/# /'
	echo "# == haproxy"; cl_hap_view | sed 's/^/# /'
}

# Idempotent: stops whatever is still running, removes namespaces and
# CL_DIR (unless CL_KEEP is set). Safe to call twice or on nothing.
cl_down() {
	local t_down=$(cl_now_ms)
	local h ns p d pids=
	[ -n "$CL_DIR" ] && [ -d "$CL_DIR" ] || return 0
	if [ -z "$CL_PFX" ] && [ -f "$CL_DIR/cluster.env" ]; then
		. "$CL_DIR/cluster.env"
	fi
	[ -n "$CL_PFX" ] || return 0
	touch "$CL_DIR/monitor.stop"
	if [ -s "$CL_DIR/monitor.pid" ]; then kill "$(cat "$CL_DIR/monitor.pid")" 2>/dev/null; rm -f "$CL_DIR/monitor.pid"; fi
	CL_MON_PID=
	for h in $CL_NODES wt; do cl_harepd_stop "$h" 2>/dev/null; done
	cl_log "down: harepd stopped after $(( $(cl_now_ms) - t_down )) ms"
	cl_haproxy_stop
	# repmgrd: SIGTERM to all at once; PostgreSQL: immediate stop, in
	# parallel; whatever is left is killed with the namespaces below
	for h in $CL_NODES wt; do
		[ -s "$CL_DIR/$h/repmgrd.pid" ] && kill -TERM "$(cat "$CL_DIR/$h/repmgrd.pid")" 2>/dev/null
	done
	for h in $CL_NODES wt; do
		d=$CL_DIR/$h/data
		[ -f "$d/postmaster.pid" ] || continue
		(cd / && runuser -u postgres -- "$CL_PGBIN/pg_ctl" -D "$d" -m immediate -w -t 20 stop \
		    </dev/null >/dev/null 2>&1) &
		pids="$pids $!"
	done
	for p in $pids; do wait "$p"; done
	cl_log "down: PostgreSQL stopped after $(( $(cl_now_ms) - t_down )) ms"
	# whatever we started that is still in our namespaces, by pid
	for h in $CL_NODES wt hap sw; do
		ns=$(cl_ns "$h")
		[ -e "/run/netns/$ns" ] || continue
		for p in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
		ip netns del "$ns" 2>/dev/null
	done
	cl_log "down: namespaces deleted after $(( $(cl_now_ms) - t_down )) ms"
	# after a failed test, keep the logs (not the data directories)
	if [ "${TAP_FAILED:-0}" -gt 0 ] && [ -z "${CL_KEEP:-}" ]; then
		local keep=$CL_DIR.logs
		mkdir -p "$keep"
		(cd "$CL_DIR" && find . -path '*/data' -prune -o -type f \
		    \( -name '*.log' -o -name '*.out' -o -name '*.yml' -o -name '*.conf' \
		    -o -name 'monitor.*' -o -name '*.cfg' \) -print0 |
		    xargs -0 -r cp --parents -t "$keep" 2>/dev/null)
		echo "# logs kept in $keep"
	fi
	if [ -z "${CL_KEEP:-}" ]; then
		rm -rf "$CL_DIR"
	fi
}

# ---------------------------------------------------------------- for .t scripts

# cl_suite_up [data nodes...]: the whole cluster with harepd everywhere,
# writes routed to the first node; bails out (after cleanup) otherwise.
cl_suite_up() {
	local t0 first
	[ "$(id -u)" = 0 ] || bail "e2e needs root (network namespaces, PostgreSQL as postgres)"
	[ -x "$HAREPD" ] && [ -x "$HAREPDCTL" ] || bail "$HAREPD or $HAREPDCTL missing: make all"
	local c
	for c in haproxy socat repmgr ip runuser "$CL_PGBIN/repmgrd" "$CL_PGBIN/initdb"; do
		command -v "$c" >/dev/null || bail "$c missing: make deps"
	done
	cl_init "$@" || bail "cl_init"
	first=${CL_NODES%% *}
	t0=$(cl_now_ms)
	cl_up || { cl_dump; bail "cluster did not come up (see $CL_DIR/cluster.log)"; }
	cl_time cluster_up_ms "$CL_UP_MS"
	cl_harepd_start_all || { cl_dump; bail "harepd did not start"; }
	if ! cl_wait_writer "$first" 30; then
		cl_dump; bail "writes never reached $first with harepd running"
	fi
	cl_time harepd_to_first_writer_ms $(( $(cl_now_ms) - t0 - CL_UP_MS ))
}

# cl_wait_writer NODE TIMEOUT: HAProxy's write backend has exactly NODE UP
# and an INSERT through it lands on NODE.
cl_wait_writer() {
	wait_for "$2" "[ \"\$(cl_hap_up pg_rw)\" = '$1' ] && [ \"\$(cl_insert wait)\" = '$1' ]"
}

# cl_routed_at NODE SECONDS: polls HAProxy's write backend every 20 ms
# until NODE alone is UP; prints when (cl_now_ms). Measuring by INSERTs
# adds their round trips, up to a few hundred ms on a loaded machine.
cl_routed_at() {
	local end=$(( $(cl_now_ms) + $2 * 1000 ))
	while [ "$(cl_now_ms)" -lt "$end" ]; do
		[ "$(cl_hap_up pg_rw)" = "$1" ] && { cl_now_ms; return 0; }
		sleep 0.02
	done
	return 1
}

# cl_allow_watch NODE: in the background, notes when NODE's pg_hba.conf
# first allows harw (polled every 20 ms); cl_allow_at NODE prints it.
# Splits a handover's time into harepd's part (to the allow) and
# HAProxy's (its rise checks).
cl_allow_watch() {
	rm -f "$CL_DIR/$1.allow.at"
	( end=$(( $(cl_now_ms) + 60000 ))
	  while ! cl_hba_allows "$1" harw && [ "$(cl_now_ms)" -lt "$end" ]; do
		sleep 0.02
	  done
	  cl_now_ms >"$CL_DIR/$1.allow.at" ) </dev/null >/dev/null 2>&1 &
}
cl_allow_at() { wait_for 60 "[ -s '$CL_DIR/$1.allow.at' ]" && cat "$CL_DIR/$1.allow.at"; }

# cl_hold SECONDS NODE: for that long, every 0.25 s, the write backend
# has exactly NODE UP ("" = none). Prints the first deviation.
cl_hold() {
	local end=$(( $(cl_now_ms) + $1 * 1000 )) up
	while [ "$(cl_now_ms)" -lt "$end" ]; do
		up=$(cl_hap_up pg_rw)
		if [ "$up" != "$2" ]; then echo "pg_rw UP [$up] at $(date +%T.%3N), want [$2]"; return 1; fi
		sleep 0.25
	done
	return 0
}

# A field of `harepdctl status --json`, as a Python expression over d.
cl_status() {	# cl_status HOST EXPR
	cl_ctl "$1" status --json 2>/dev/null | python3 -c '
import json, sys
d = json.load(sys.stdin)
v = eval(sys.argv[1])
print(json.dumps(v) if isinstance(v, (bool, type(None), list, dict)) else v)' "$2" 2>/dev/null
}
# cl_peer_answered HOST ROLE: in HOST's last verdict, a peer of ROLE
# (neighbour/witness) answered.
cl_peer_answered() {
	[ "$(cl_status "$1" "any(p['answered'] for p in d['verdict']['peers'] if p['role'] == '$2')")" = true ]
}

# cl_wait_stable NODE SECS TIMEOUT: wait until exactly NODE has been UP for
# writes for SECS in a row (an INSERT lands on it at the end). Meanwhile
# records the witness's repmgr.nodes as it changes in CL_WT_VIEWS.
cl_wait_stable() {
	local end=$(( $(cl_now_ms) + $3 * 1000 )) since= up v last=
	CL_WT_VIEWS=
	while [ "$(cl_now_ms)" -lt "$end" ]; do
		up=$(cl_hap_up pg_rw)
		v=$(cl_nodes_view wt)
		if [ "$v" != "$last" ]; then CL_WT_VIEWS="$CL_WT_VIEWS [$(date +%T) $v]"; last=$v; fi
		if [ "$up" = "$1" ]; then
			since=${since:-$(cl_now_ms)}
			if [ $(( $(cl_now_ms) - since )) -ge $(( $2 * 1000 )) ]; then
				[ "$(cl_insert stable)" = "$1" ] && return 0
			fi
		else
			since=
		fi
		sleep 0.25
	done
	return 1
}

# cl_time KEY VALUE: a measurement, as a TAP diagnostic (prove -v shows
# it) and appended to $HAREPD_BUILD/e2e-timings.txt (make e2e hides
# diagnostics of passing scripts).
cl_time() {
	diag "$1=$2"
	printf '%s %s %s=%s\n' "$(date +%FT%T)" "$(basename "$0" .t)" "$1" "$2" \
	    >>"$HAREPD_BUILD/e2e-timings.txt" 2>/dev/null
}
