# Shell side of the rpc worker's tests: the python3-grpcio client of
# tests/interop; the supervisor is tests/helpers/fakesup (fakesup.sh:
# fs_start rpc CONF [ca=F cert=F key=F], fs send view ..., fs_stop).
#
#   . tests/lib/tap.sh; . tests/helpers/rpc_lib.sh
#   rpc_setup                      # RPC_TMP (= FS_DIR), RPC_PORT, python stubs
#   rpc_conf FILE PORT [yaml lines under gRPC:...]
#   rpc_view [KEY=VALUE...]        # send the view of a healthy primary
#   rpc_call [client args]         # prints the client's outcome lines
#   rpc_pki DIR                    # throwaway CA and certificates
. "$(dirname "${BASH_SOURCE[0]}")/fakesup.sh"
RPC_PY=/usr/bin/python3		# Debian's, where python3-grpcio lives
RPC_CLIENT=$TOP/tests/interop/rpc_client.py

. "$(dirname "${BASH_SOURCE[0]}")/../lib/port.sh"

rpc_free_port() {
	free_port 25000 27999
}

rpc_cleanup() {
	fs_close
	[ -n "${RPC_TMP:-}" ] && rm -rf "$RPC_TMP"
}

rpc_setup() {
	"$RPC_PY" -c 'import grpc, google.protobuf' 2>/dev/null ||
		bail "python3-grpcio or python3-protobuf missing (make deps)"
	RPC_TMP=$(mktemp -d /tmp/harepd-rpc.XXXXXX)
	fs_init "$RPC_TMP"
	trap rpc_cleanup EXIT
	trap '' PIPE
	# Debian has no grpc_tools: the message classes from protoc suffice
	protoc --python_out="$RPC_TMP" -I "$TOP/proto" \
	    "$TOP/proto/messaging.proto" || bail "protoc --python_out failed"
	RPC_PORT=$(rpc_free_port) || bail "no free port"
}

rpc_conf() {	# rpc_conf FILE PORT [extra lines, indented under gRPC:]
	local file=$1 port=$2 line
	shift 2
	{
		echo "harepd:"
		echo "  nodeName: node_1"
		echo "  primaryIP: 127.0.0.1"
		echo "  hbaConfig: $RPC_TMP/pg_hba.conf"
		echo "  haproxy:"
		echo "    server: [127.0.0.9]"
		echo "    users: { readWrite: harw }"
		echo "  watchDog: ${RPC_WATCHDOG:-1}"
		echo "  gRPC:"
		echo "    bindPort: $port"
		echo "    bindAddress: \"${RPC_BIND:-127.0.0.1}\""
		echo "    connectionDeadline: 1"
		for line in "$@"; do echo "    $line"; done
	} >"$file"
}

# A view as the probe would send it: this node a primary, two standbys.
rpc_view() { fs send view "id=1 name=node_1 ip=127.0.0.1" \
    "primaries=127.0.0.1 standbys=127.0.0.2,127.0.0.3 witness=127.0.0.4" \
    "recovery=0 timeline=3 $*"; }

rpc_call() {	# rpc_call [args...]: target 127.0.0.1:$RPC_PORT unless --target
	local target=127.0.0.1:$RPC_PORT
	if [ "${1:-}" = --target ]; then target=$2; shift 2; fi
	"$RPC_PY" "$RPC_CLIENT" "$target" --pb "$RPC_TMP" "$@" 2>&1
}

# A throwaway PKI made with openssl (EC P-256, valid 2 days) in DIR:
#   ca          the cluster's CA
#   server      signed by ca: SAN IP:127.0.0.1, DNS:node1.harepd.test
#   client      signed by ca: clientAuth, DNS:node2.harepd.test
#   rogue-ca    another CA, and rogue, a client certificate it signed
# each as NAME.pem and NAME.key.
rpc_pki() {
	local d=$1
	command -v openssl >/dev/null || bail "openssl missing (make deps)"
	mkdir -p "$d"
	_rpc_ssl() { openssl "$@" >>"$d/openssl.log" 2>&1 ||
		bail "openssl $1 failed: $(tail -3 "$d/openssl.log")"; }
	_rpc_ca() {
		_rpc_ssl req -x509 -newkey ec -pkeyopt \
		    ec_paramgen_curve:prime256v1 -nodes -days 2 -subj "/CN=$1" \
		    -keyout "$d/$1.key" -out "$d/$1.pem"
	}
	_rpc_cert() {	# NAME CA EXTENSIONS
		_rpc_ssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
		    -nodes -subj "/CN=$1" -keyout "$d/$1.key" -out "$d/$1.csr"
		printf '%s\n' "$3" >"$d/$1.ext"
		_rpc_ssl x509 -req -in "$d/$1.csr" -CA "$d/$2.pem" \
		    -CAkey "$d/$2.key" -CAcreateserial -days 2 \
		    -extfile "$d/$1.ext" -out "$d/$1.pem"
	}
	_rpc_ca ca
	_rpc_ca rogue-ca
	_rpc_cert server ca "subjectAltName=IP:127.0.0.1,DNS:node1.harepd.test
extendedKeyUsage=serverAuth"
	_rpc_cert client ca "subjectAltName=DNS:node2.harepd.test
extendedKeyUsage=clientAuth"
	_rpc_cert rogue rogue-ca "subjectAltName=DNS:node2.harepd.test
extendedKeyUsage=clientAuth"
}
