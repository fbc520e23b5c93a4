#!/usr/bin/env bash
# The other direction: a gRPC C core client set up as a harepd node sets
# it up (tests/helpers/rpc_call: insecure, TLS, mutual TLS,
# serverHostOverride, a deadline) against an independent server,
# python3-grpcio (tests/interop/rpc_server.py). It reads an answer
# without field 7 as a Go harepd sends it, ends at its deadline when
# the server is slow, and reads the server's status.
. "$(dirname "$0")/../lib/tap.sh"
. "$TOP/tests/helpers/rpc_lib.sh"

rpc_setup
RPC_CALL=$HAREPD_BUILD/tests/helpers/rpc_call
[ -x "$RPC_CALL" ] || bail "$RPC_CALL not built"
rpc_pki "$RPC_TMP/pki"
P=$RPC_TMP/pki
SRV_PID=

srv_stop() {
	[ -n "$SRV_PID" ] || return 0
	exec {SRV_IN}>&-
	wait_for 3 '! kill -0 $SRV_PID 2>/dev/null' || kill -9 "$SRV_PID"
	wait "$SRV_PID" 2>/dev/null
	SRV_PID=
}
trap 'srv_stop; rpc_cleanup' EXIT

srv_start() {	# srv_start [rpc_server.py args]: sets SRV_PORT
	srv_stop
	rm -f "$RPC_TMP/srv.in"
	mkfifo "$RPC_TMP/srv.in"
	"$RPC_PY" "$TOP/tests/interop/rpc_server.py" --pb "$RPC_TMP" "$@" \
	    <"$RPC_TMP/srv.in" >"$RPC_TMP/srv.out" 2>&1 &
	SRV_PID=$!
	exec {SRV_IN}>"$RPC_TMP/srv.in"
	wait_for 10 'grep -q "^port=" "$RPC_TMP/srv.out"' ||
		{ sed 's/^/# /' "$RPC_TMP/srv.out"; bail "python server did not start"; }
	SRV_PORT=$(sed -n 's/^port=//p' "$RPC_TMP/srv.out")
}
call() { "$RPC_CALL" "$@" "127.0.0.1:$SRV_PORT" 2>&1; }

go_answer='{"ip": "10.0.0.12", "nodeId": 2, "nodeName": "node_2", "witness": "10.0.0.9", "master": ["10.0.0.11"], "slaves": ["10.0.0.12", "10.0.0.13"]}'
c_answer='{"ip": "10.0.0.11", "nodeId": 1, "nodeName": "node_1", "master": ["10.0.0.11"], "observation": {"inRecovery": false, "timeline": 4}}'

# --- insecure ---
srv_start --answer "$go_answer"
out=$(call)
like "$out" "^status=OK " "C client, python server: OK"
like "$out" "answer ip=10.0.0.12 nodeId=2 nodeName=node_2 witness=10.0.0.9 master=10.0.0.11 slaves=10.0.0.12,10.0.0.13 observation=none" \
    "an answer without field 7 (a Go peer's) reads as no observation"
like "$(cat "$RPC_TMP/srv.out")" "request ip=127.0.0.1 nodeId=1 nodeName=node_1 peer=ipv4:127.0.0.1:" \
    "the server decoded our WhatYouKnow"
srv_start --answer "$c_answer"
like "$(call)" "witness= master=10.0.0.11 slaves= observation=inRecovery=0,timeline=4" \
    "field 7 present: not in recovery, timeline 4"
srv_start --status UNAVAILABLE
like "$(call)" "^status=UNAVAILABLE .*details=told to answer UNAVAILABLE" \
    "the server's status and message reach the client"

# --- deadlines ---
srv_start --answer "$go_answer" --sleep 3
out=$(call -d 300)
ms=$(echo "$out" | sed -n 's/.*elapsed_ms=\([0-9]*\).*/\1/p')
like "$out" "^status=DEADLINE_EXCEEDED" "a server slower than the deadline: DEADLINE_EXCEEDED"
ok "[ $ms -ge 290 ] && [ $ms -lt 1300 ]" "at the 300 ms deadline ($ms ms), not at the server's 3 s"
srv_stop
out=$(call -d 2000)
ms=$(echo "$out" | sed -n 's/.*elapsed_ms=\([0-9]*\).*/\1/p')
like "$out" "^status=UNAVAILABLE" "a closed port: UNAVAILABLE"
ok "[ $ms -lt 1000 ]" "at once, not at the 2 s deadline ($ms ms)"

# --- TLS ---
srv_start --answer "$go_answer" --cert "$P/server.pem" --key "$P/server.key"
like "$(call -a "$P/ca.pem")" "^status=OK " "TLS: the server's certificate checks (SAN IP)"
like "$(call -a "$P/ca.pem" -o node1.harepd.test)" "^status=OK " \
    "TLS with serverHostOverride naming the certificate's DNS name"
like "$(call -a "$P/ca.pem" -o node9.harepd.test)" "^status=UNAVAILABLE" \
    "serverHostOverride with a name the certificate lacks: refused"
like "$(call -a "$P/rogue-ca.pem")" "^status=UNAVAILABLE" \
    "a server certificate from another CA: refused"

# --- mutual TLS ---
srv_start --answer "$go_answer" --cert "$P/server.pem" --key "$P/server.key" \
    --ca "$P/ca.pem"
like "$(call -a "$P/ca.pem" -c "$P/client.pem" -k "$P/client.key")" "^status=OK " \
    "mutual TLS: our client certificate is accepted"
like "$(call -a "$P/ca.pem")" "^status=UNAVAILABLE" \
    "mutual TLS without a client certificate: refused by the server"
like "$(call -a "$P/ca.pem" -c "$P/rogue.pem" -k "$P/rogue.key")" "^status=UNAVAILABLE" \
    "mutual TLS with a certificate from another CA: refused"
srv_stop
done_testing
