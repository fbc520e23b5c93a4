#!/usr/bin/env bash
# The rpc worker with TLS and mutual TLS against python3-grpcio, with a
# throwaway CA made here by openssl: the server's name is checked (SAN
# IP:127.0.0.1 and a DNS name for serverHostOverride), and under mutual
# TLS a client without a certificate signed by the configured CA is
# refused while the others keep being served. The PEM bytes come from
# the (fake) supervisor; the worker opens no file.
. "$(dirname "$0")/../lib/tap.sh"
. "$TOP/tests/helpers/rpc_lib.sh"

rpc_setup
rpc_pki "$RPC_TMP/pki"
P=$RPC_TMP/pki

tls_conf() {	# tls_conf CLIENT_AUTH
	rpc_conf "$RPC_TMP/conf.yml" "$RPC_PORT" "tls:" "  enabled: true" \
	    "  clientAuth: $1" "  ca: $P/ca.pem" "  cert: $P/server.pem" \
	    "  key: $P/server.key"
}
pems=(ca="$P/ca.pem" cert="$P/server.pem" key="$P/server.key")

# --- TLS, server authenticated only ---
tls_conf false
fs_start rpc "$RPC_TMP/conf.yml" "${pems[@]}" || bail "TLS worker did not start"
rpc_view
like "$(fs_logs | grep serving)" "\\(TLS\\)" "serving with TLS"
like "$(rpc_call --ca "$P/ca.pem")" '^code=OK n=1 answer=\{"ip": "127.0.0.1"' \
    "python client checks the server's certificate (SAN IP:127.0.0.1)"
like "$(rpc_call --ca "$P/ca.pem" --override node1.harepd.test)" "^code=OK" \
    "serverHostOverride: the DNS name in the certificate is accepted"
like "$(rpc_call --ca "$P/ca.pem" --override node9.harepd.test)" "^code=UNAVAILABLE" \
    "a name the certificate does not carry: refused by the client"
like "$(rpc_call --ca "$P/rogue-ca.pem")" "^code=UNAVAILABLE" \
    "a client trusting another CA refuses the server"
like "$(rpc_call --timeout 2)" "^code=UNAVAILABLE" \
    "a plaintext client gets no answer from a TLS server"
like "$(rpc_call --ca "$P/ca.pem" --cert "$P/rogue.pem" --key "$P/rogue.key")" "^code=OK" \
    "without clientAuth any client certificate is ignored"
like "$(rpc_call --ca "$P/ca.pem" --raw ffff)" "^code=INVALID_ARGUMENT" \
    "garbage over TLS: INVALID_ARGUMENT"
like "$(rpc_call --ca "$P/ca.pem" --size 5000)" "^code=RESOURCE_EXHAUSTED" \
    "oversized over TLS: RESOURCE_EXHAUSTED"
fs_stop
like "$FS_EXIT" "^exit status=0 " "TLS worker stops cleanly"

# --- mutual TLS ---
tls_conf true
fs_start rpc "$RPC_TMP/conf.yml" "${pems[@]}" || bail "mTLS worker did not start"
rpc_view
fs refresh 200
like "$(fs_logs | grep serving)" "\\(mutual TLS\\)" "serving with mutual TLS"
client=(--ca "$P/ca.pem" --cert "$P/client.pem" --key "$P/client.key")
like "$(rpc_call "${client[@]}")" '^code=OK n=1 answer=\{"ip": "127.0.0.1"' \
    "a client with a certificate signed by ca is answered"
like "$(rpc_call --ca "$P/ca.pem")" "^code=UNAVAILABLE" \
    "a client without a certificate is refused"
like "$(rpc_call --ca "$P/ca.pem" --cert "$P/rogue.pem" --key "$P/rogue.key")" "^code=UNAVAILABLE" \
    "a client certificate from another CA is refused"
like "$(rpc_call --timeout 2)" "^code=UNAVAILABLE" "a plaintext client is refused"
like "$(rpc_call "${client[@]}" --count 50)" "^code=OK n=50 " \
    "the server goes on answering members after the refusals"
# every refused handshake makes the core log an error line: a flood of
# them must not fill the disk
mark=$(fs_logs | wc -l)
t0=$(date +%s)
# four at a time, so that even a slow machine makes more than 5 a second
flood=()
for j in 1 2 3 4; do
	for i in $(seq 15); do
		openssl s_client -connect 127.0.0.1:$RPC_PORT -alpn h2 \
		    </dev/null >/dev/null 2>&1
	done &
	flood+=($!)
done
wait "${flood[@]}"
secs=$(( $(date +%s) - t0 + 1 ))
wait_for 3 'fs_logs | tail -n +$((mark + 1)) | grep -q "suppressed [0-9]* gRPC core log lines"'
core=$(fs_logs | tail -n +$((mark + 1)) | grep -c '"msg":"gRPC: ')
like "$(fs_logs | tail -n +$((mark + 1)) | grep '"msg":"gRPC: ' | head -1)" \
    'Handshake failed.*did not return a certificate' \
    "a refused handshake is logged: the peer gave no certificate"
sup=$(fs_logs | tail -n +$((mark + 1)) | sed -n 's/.*suppressed \([0-9]*\) gRPC core.*/\1/p' |
	awk '{s += $1} END {print s + 0}')
ok "[ $sup -gt 0 ] && [ $core -le $((5 * secs + 5)) ]" \
    "60 refused handshakes in $secs s: $core core lines logged, $sup suppressed"
like "$(rpc_call "${client[@]}")" "^code=OK" "and members are still answered"
like "$(fs_logs | grep '"msg":"inquiry from' | tail -1)" '"peer":"ipv4:127\.0\.0\.1:[0-9]+"' \
    "inquiries over mutual TLS are logged with the peer"
fs_stop
like "$FS_EXIT" "^exit status=0 " "mTLS worker stops cleanly"

# --- TLS on, but the supervisor sent no key material ---
fs_start rpc "$RPC_TMP/conf.yml" ca="$P/ca.pem" cert="$P/server.pem" >/dev/null
wait_for 5 'grep -q "^exit " "$FS_OUT"'
like "$(grep '^exit ' "$FS_OUT")" "^exit status=[1-9]" \
    "TLS without the key's PEM: the worker refuses to start"
like "$(fs_logs | grep -i 'PEM')" "key PEM is missing" "and says what is missing"
done_testing
