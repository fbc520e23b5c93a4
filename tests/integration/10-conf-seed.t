#!/usr/bin/env bash
# The seed's sample config, unchanged, passes `harepd -t` once the file it
# names exists: /etc/postgresql/12/main/pg_hba.conf is made on a tmpfs over
# /etc/postgresql in a private mount namespace (unshare --mount), so the
# real /etc is never touched. Also: the message when it is absent,
# `harepd -n` as a fixed point that harepd -t accepts, a TLS config with
# its files present, and a missing config file.
. "$(dirname "$0")/../lib/tap.sh"
[ -x "$HAREPD" ] || bail "no $HAREPD: build first"
[ "$(id -u)" -eq 0 ] || bail "needs root for unshare --mount"
unshare --mount --propagation private true 2>/dev/null ||
	skip_all "unshare --mount is not permitted here"
cd "$TOP/tests/conf" || bail "no tests/conf"

tmp=$(mktemp -d /tmp/harepd-conf.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

# in_ns HBA_FILE CMD...: run CMD with /etc/postgresql replaced by a tmpfs
# holding HBA_FILE (empty: nothing created) in a directory owned by
# postgres, as Debian's postgresql-common makes it.
in_ns() {
	local hba=$1; shift
	unshare --mount --propagation private bash -c '
		mount -t tmpfs harepd-test /etc/postgresql || exit 99
		if [ -n "$0" ]; then mkdir -p "$(dirname "$0")" && : >"$0" &&
			chown postgres "$(dirname "$0")"; fi
		exec "$@"' "$hba" "$@"
}

SEED_HBA=/etc/postgresql/12/main/pg_hba.conf
before=$(find /etc/postgresql -printf '%p %s %T@\n' 2>/dev/null | sort)
seed_warnings() {	# the 6 warnings every seed sample gives
	local f=$1
	cat <<W
warning: $f:20:17: harepd.gRPC.enabled: TLS setting outside tls:, read as harepd.gRPC.tls.enabled; move it under tls:
warning: $f:21:17: harepd.gRPC.ca: TLS setting outside tls:, read as harepd.gRPC.tls.ca; move it under tls:
warning: $f:22:17: harepd.gRPC.cert: TLS setting outside tls:, read as harepd.gRPC.tls.cert; move it under tls:
warning: $f:23:17: harepd.gRPC.key: TLS setting outside tls:, read as harepd.gRPC.tls.key; move it under tls:
warning: $f:28:19: harepd.gRPC.neighbours[0]: 10.21.57.61:10000 is this node itself (primaryIP:bindPort): asking it adds no opinion
warning: $f:28:19: harepd.gRPC.neighbours[0]: 10.21.57.61:10000 (and other peers) is not this host and TLS is off (gRPC.tls): anyone on the path can answer as a peer, and one lying voter during a partition can give two writers; use mutual TLS (tls.enabled, tls.clientAuth) in production, docs/TLS.md
W
}

for f in seed-sample.yml seed-sample-witness-noport.yml; do
	rc=0
	got=$(in_ns "$SEED_HBA" "$HAREPD" -t -f "$f" 2>"$tmp/err") || rc=$?
	is "$rc" 0 "$f: harepd -t exits 0 with $SEED_HBA present"
	is "$got" "configuration OK" "$f: configuration OK"
	is "$(cat "$tmp/err")" "$(seed_warnings "$f")" "$f: the seed's TLS indentation and the self-neighbour are warned about"

	rc=0
	got=$(in_ns "" "$HAREPD" -t -f "$f" 2>&1 >/dev/null) || rc=$?
	is "$rc" 78 "$f: harepd -t exits 78 without $SEED_HBA"
	is "$(printf '%s\n' "$got" | grep -v '^warning: ')" \
	    "$f:5:24: harepd.hbaConfig: $SEED_HBA: No such file or directory" \
	    "$f: names the missing pg_hba.conf with file:line:col"
done
is "$(find /etc/postgresql -printf '%p %s %T@\n' 2>/dev/null | sort)" \
    "$before" "the real /etc/postgresql was not touched"

# harepd -n: normalised output loads again, to the same output, and passes -t.
"$HAREPD" -n -f seed-sample-witness-noport.yml >"$tmp/n1.yml" 2>/dev/null
is "$?" 0 "harepd -n exits 0"
"$HAREPD" -n -f "$tmp/n1.yml" >"$tmp/n2.yml" 2>"$tmp/n2.err"
ok "cmp -s '$tmp/n1.yml' '$tmp/n2.yml'" "harepd -n of harepd -n's output is identical"
like "$(cat "$tmp/n1.yml")" 'witness: "10.21.57.63:10000"' "the witness without port gets bindPort"
like "$(tr '\n' '|' <"$tmp/n1.yml")" '\|    tls:\|      enabled: false\|' "TLS settings printed under tls:"
is "$(grep -c 'TLS setting outside tls' "$tmp/n2.err")" 0 "the printed config has TLS where it belongs"
rc=0
got=$(in_ns "$SEED_HBA" "$HAREPD" -t -f "$tmp/n1.yml" 2>/dev/null) || rc=$?
is "$rc:$got" "0:configuration OK" "harepd -t accepts the printed config"

# TLS on: harepd -t checks the files hold a CA, a certificate signed by
# it and that certificate's key (openssl makes them; nothing is dialled).
ec() { openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
	-subj "/CN=$1" "${@:2}" 2>/dev/null; }
(cd "$tmp" &&
	ec harepd-test-ca -x509 -days 2 -keyout ca.key -out ca.pem &&
	ec pg1 -keyout node.key -out node.csr &&
	openssl x509 -req -in node.csr -CA ca.pem -CAkey ca.key \
	    -CAcreateserial -days 2 -out node.pem 2>/dev/null &&
	ec intruder -x509 -days 2 -keyout other.key -out other.pem &&
	echo "not a certificate" >garbage.pem &&
	chmod 0600 ca.key node.key other.key) || bail "openssl failed"
: >"$tmp/pg_hba.conf"
chown postgres "$tmp"	# harepd -t: postgresUser must write hbaConfig's directory
tls_config() {	# tls_config CA CERT KEY
	cat >"$tmp/tls.yml" <<Y
harepd:
  nodeName: pg1
  primaryIP: 10.0.0.11
  hbaConfig: $tmp/pg_hba.conf
  haproxy:
    server: [10.0.0.5]
    users: { readWrite: harw }
  gRPC:
    tls:
      enabled: true
      clientAuth: true
      ca: $tmp/$1
      cert: $tmp/$2
      key: $tmp/$3
    bindPort: 10000
    neighbours: [10.0.0.12, 10.0.0.13]
  watchDog: 15
Y
}
tls_check() {	# tls_check WANT_RC WANT_OUTPUT NAME
	local rc=0 got
	got=$("$HAREPD" -t -f "$tmp/tls.yml" 2>&1) || rc=$?
	is "$rc:$got" "$1:$2" "$3"
}
T=$tmp/tls.yml
tls_config ca.pem node.pem node.key
tls_check 0 "configuration OK" "TLS: CA, certificate it signed and its key: accepted"
chmod 0644 "$tmp/node.key"
tls_check 0 "warning: $T:14:12: harepd.gRPC.tls.key: $tmp/node.key: mode 0644: readable by other users, make it 0600 or 0640
configuration OK" "TLS: a key readable by others is warned about"
chmod 0600 "$tmp/node.key"
tls_config ca.pem node.pem other.key
tls_check 78 "$T:14:12: harepd.gRPC.tls.key: $tmp/other.key: not the key of the certificate $tmp/node.pem" \
    "TLS: a key that is not the certificate's is refused"
tls_config ca.pem other.pem other.key
tls_check 78 "$T:13:13: harepd.gRPC.tls.cert: $tmp/other.pem: does not verify against ca $tmp/ca.pem: self-signed certificate" \
    "TLS: a certificate the CA did not sign is refused"
tls_config garbage.pem node.pem garbage.pem
tls_check 78 "$T:12:11: harepd.gRPC.tls.ca: $tmp/garbage.pem: no PEM certificate in it
$T:14:12: harepd.gRPC.tls.key: $tmp/garbage.pem: no unencrypted PEM private key in it" \
    "TLS: files without PEM content are named"
# a chain: root (ca) -> intermediate -> leaf; the cert file carries the
# intermediate after the leaf, as gRPC sends it
(cd "$tmp" &&
	printf 'basicConstraints=critical,CA:TRUE\nkeyUsage=keyCertSign,cRLSign\n' >ca.ext &&
	ec harepd-test-int -keyout int.key -out int.csr &&
	openssl x509 -req -in int.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
	    -days 2 -extfile ca.ext -out int.pem 2>/dev/null &&
	ec pg1-leaf -keyout leaf.key -out leaf.csr &&
	openssl x509 -req -in leaf.csr -CA int.pem -CAkey int.key \
	    -CAcreateserial -days 2 -out leaf.pem 2>/dev/null &&
	cat leaf.pem int.pem >chain.pem && chmod 0600 leaf.key) ||
	bail "openssl failed"
tls_config ca.pem chain.pem leaf.key
tls_check 0 "configuration OK" "TLS: leaf + intermediate in cert, root in ca: accepted"
tls_config ca.pem leaf.pem leaf.key
tls_check 78 "$T:13:13: harepd.gRPC.tls.cert: $tmp/leaf.pem: does not verify against ca $tmp/ca.pem: unable to get local issuer certificate" \
    "TLS: a leaf without its intermediate is refused"
tls_config missing-ca.pem node.pem node.key
tls_check 78 "$T:12:11: harepd.gRPC.tls.ca: $tmp/missing-ca.pem: No such file or directory" \
    "TLS: a missing file is named with its position"

rc=0
got=$("$HAREPD" -t -f "$tmp/none.yml" 2>&1) || rc=$?
is "$rc:$got" "78:$tmp/none.yml: cannot read: No such file or directory" \
    "a missing config file: its name and strerror, exit 78"
done_testing
