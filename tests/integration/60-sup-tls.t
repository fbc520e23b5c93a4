#!/usr/bin/env bash
# TLS under privilege separation: the key file is root's alone (0600), the
# rpc worker (nobody) could never open it, yet it serves TLS, because the
# supervisor reads ca/cert/key and pushes the PEM bytes (ConfigPush). A
# plaintext client is refused; a client that trusts the CA gets an answer.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../helpers/sup_lib.sh"
. "$(dirname "$0")/../lib/pg.sh"
. "$(dirname "$0")/../helpers/rpc_lib.sh"	# rpc_pki
[ "$(id -u)" -eq 0 ] || skip_all "needs root to run PostgreSQL and drop privileges"
command -v protoc >/dev/null || skip_all "protoc missing (make deps)"
/usr/bin/python3 -c "import grpc" 2>/dev/null || skip_all "python3-grpcio missing (make deps)"

sup_init
sup_pg_cluster
SUP_TLS_DIR=$SUP_DIR/tls
rpc_pki "$SUP_TLS_DIR"
chmod 0700 "$SUP_TLS_DIR"
chmod 0600 "$SUP_TLS_DIR"/*.key
protoc --python_out="$SUP_DIR" -I "$TOP/proto" "$TOP/proto/messaging.proto" ||
	bail "protoc --python_out failed"
SUP_TLS_DIR=$SUP_TLS_DIR sup_config
sup_start
sup_require_running rpc probe

ok '! runuser -u nobody -- cat "$SUP_TLS_DIR/server.key" >/dev/null 2>&1' \
	"nobody cannot read the key file"
rpc=$(sup_worker_pid rpc)
is "$(proc_field "$rpc" Uid | cut -d' ' -f1)" "$(id -u nobody)" "the rpc worker runs as nobody"
ok '! ls -l /proc/$rpc/fd | grep -q "$SUP_TLS_DIR"' "it holds no descriptor of the TLS files"

client() { /usr/bin/python3 "$TOP/tests/interop/rpc_client.py" "127.0.0.1:$SUP_PORT" \
	--pb "$SUP_DIR" --timeout 3 "$@"; }
ok 'wait_for 15 "client --ca \"$SUP_TLS_DIR/ca.pem\" | grep -q ^code=OK"' \
	"a client trusting the CA gets an answer over TLS"
like "$(client --ca "$SUP_TLS_DIR/ca.pem")" '"master": \["127.0.0.1"\]' "the answer is the node's view"
unlike() { if printf '%s' "$1" | grep -Eq -- "$2"; then tap_result 1 "$3"; diag "got: $1"; else tap_result 0 "$3"; fi; }
unlike "$(client 2>/dev/null)" '^code=OK' "a plaintext client gets nothing"
unlike "$(client --ca "$SUP_TLS_DIR/rogue-ca.pem" 2>/dev/null)" '^code=OK' "a client trusting another CA gets nothing"
sup_no_sanitizer_reports
done_testing
