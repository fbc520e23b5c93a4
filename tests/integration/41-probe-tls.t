#!/usr/bin/env bash
# The probe's gRPC client over TLS and mutual TLS against real gRPC peers,
# with PEM bytes from the (fake) supervisor: the peer's certificate is
# checked against gRPC.tls.ca under the name serverHostOverride, and our
# certificate is shown to a peer that requires one (clientAuth).
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/pg.sh"
. "$(dirname "$0")/../helpers/probe_lib.sh"
[ "$(id -u)" -eq 0 ] || skip_all "needs root to run PostgreSQL as postgres"
command -v openssl >/dev/null || skip_all "openssl missing"

pg_start "shared_preload_libraries = 'repmgr'"
probe_setup
trap probe_cleanup EXIT
probe_repmgr_db || bail "repmgr primary register failed"
probe_node 2 n2 standby 127.0.0.2
P=$PROBE_TMP/pki
probe_pki "$P" || bail "openssl could not make the test PKI"

SAME="masters=127.0.0.1 slaves=127.0.0.2"
probe_peer --tls "$P/ca.pem" "$P/peer.pem" "$P/peer.key" \
    tls 127.0.0.2 answer ip=127.0.0.2 $SAME obs=1/1
probe_peer --tls "$P/ca.pem" "$P/peer.pem" "$P/peer.key" --client-auth \
    mtls 127.0.0.3 answer ip=127.0.0.3 $SAME obs=1/1
probe_peer plain 127.0.0.4 answer ip=127.0.0.4 $SAME obs=1/1
NEIGH="\"$(probe_target tls 127.0.0.2)\", \"$(probe_target mtls 127.0.0.3)\", \"$(probe_target plain 127.0.0.4)\""
conf=$PROBE_TMP/conf.yml

answered() {	# answered OVERRIDE CERT [tls enabled]: answered= of a verdict
	PROBE_GRPC_EXTRA="    serverHostOverride: \"$1\"
    tls: { enabled: ${3:-true}, ca: $P/ca.pem, cert: $P/$2.pem, key: $P/$2.key }"
	probe_conf "$conf" n1 127.0.0.1 "$NEIGH" ""
	fs_start probe "$conf" ca="$P/ca.pem" cert="$P/$2.pem" key="$P/$2.key" || return 1
	fs_field "$(fs_line 5 '^verdict ')" answered
	fs_stop
}

is "$(answered peer.harepd.test client)" "110" \
    "TLS with serverHostOverride: TLS and mutual TLS peers answer, a plaintext one does not"
ok "grep -q '^peer .*target=$(probe_target plain 127.0.0.4) .*error=UNAVAILABLE' '$FS_OUT'" \
    "plaintext peer: UNAVAILABLE"
is "$(answered "" client)" "000" \
    "no serverHostOverride: the certificate's name does not match 127.0.0.x"
is "$(answered wrong.harepd.test client)" "000" \
    "an override the certificate does not carry is refused"
is "$(answered peer.harepd.test rogue)" "100" \
    "a client certificate from another CA: only the peer that does not ask for one answers"
is "$(answered peer.harepd.test client false)" "001" \
    "TLS off: only the plaintext peer answers"
is "$(probe_sanitizer_reports)" "" "no sanitizer report"
done_testing
