#!/usr/bin/env bash
# The seed's sample config, unchanged, passes `harepd -t` once the file it
# names exists: /etc/postgresql/12/main/pg_hba.conf is made on a tmpfs over
# /etc/postgresql in a private mount namespace (unshare --mount), so the
# real /etc is never touched. Also: the message when it is absent,
# `harepd -n` as a fixed point that harepd -t accepts, a TLS config with
# its files present, and a missing config file.
. "$(dirname "$0")/../lib/tap.sh"
[ -x "$HAREPD" ] || bail "no $HAREPD: build first"
[ "$(id -u)" -eq 0 ] || skip_all "needs root for unshare --mount"
unshare --mount --propagation private true 2>/dev/null ||
	skip_all "unshare --mount is not permitted here"
cd "$TOP/tests/conf" || bail "no tests/conf"

tmp=$(mktemp -d /tmp/harepd-conf.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

# in_ns HBA_FILE CMD...: run CMD with /etc/postgresql replaced by a tmpfs
# holding HBA_FILE (empty: nothing created).
in_ns() {
	local hba=$1; shift
	unshare --mount --propagation private bash -c '
		mount -t tmpfs harepd-test /etc/postgresql || exit 99
		if [ -n "$0" ]; then mkdir -p "$(dirname "$0")" && : >"$0"; fi
		exec "$@"' "$hba" "$@"
}

SEED_HBA=/etc/postgresql/12/main/pg_hba.conf
before=$(find /etc/postgresql -printf '%p %s %T@\n' 2>/dev/null | sort)
seed_warnings() {	# the 5 warnings every seed sample gives
	local f=$1
	cat <<W
warning: $f:20:17: harepd.gRPC.enabled: TLS setting outside tls:, read as harepd.gRPC.tls.enabled; move it under tls:
warning: $f:21:17: harepd.gRPC.ca: TLS setting outside tls:, read as harepd.gRPC.tls.ca; move it under tls:
warning: $f:22:17: harepd.gRPC.cert: TLS setting outside tls:, read as harepd.gRPC.tls.cert; move it under tls:
warning: $f:23:17: harepd.gRPC.key: TLS setting outside tls:, read as harepd.gRPC.tls.key; move it under tls:
warning: $f:28:19: harepd.gRPC.neighbours[0]: 10.21.57.61:10000 is this node itself (primaryIP:bindPort): asking it adds no opinion
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

# TLS on, with files present and readable: accepted; ca removed: refused.
for n in ca cert key; do echo "PEM" >"$tmp/$n.pem"; done
: >"$tmp/pg_hba.conf"
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
      ca: $tmp/ca.pem
      cert: $tmp/cert.pem
      key: $tmp/key.pem
    bindPort: 10000
    neighbours: [10.0.0.12, 10.0.0.13]
  watchDog: 15
Y
rc=0
got=$("$HAREPD" -t -f "$tmp/tls.yml" 2>&1) || rc=$?
is "$rc:$got" "0:configuration OK" "TLS config with its files present is accepted"
rm "$tmp/ca.pem"
rc=0
got=$("$HAREPD" -t -f "$tmp/tls.yml" 2>&1) || rc=$?
is "$rc:$got" "78:$tmp/tls.yml:12:11: harepd.gRPC.tls.ca: $tmp/ca.pem: No such file or directory" \
    "a missing TLS file is named with its position"

rc=0
got=$("$HAREPD" -t -f "$tmp/none.yml" 2>&1) || rc=$?
is "$rc:$got" "78:$tmp/none.yml: cannot read: No such file or directory" \
    "a missing config file: its name and strerror, exit 78"
done_testing
