#!/usr/bin/env bash
# The peer contract (proto/messaging.proto) against protoc, Google's own
# codec: what protobuf-c packs, protoc decodes to the same fields, and
# what protoc encodes, protobuf-c unpacks to the same fields. This is the
# byte-level half of "a C node and a Go node answer each other" (issue 2).
. "$(dirname "$0")/../lib/tap.sh"
command -v protoc >/dev/null || bail "protoc missing: make deps (protobuf-compiler)"
CODEC=$HAREPD_BUILD/tests/helpers/wire_codec
[ -x "$CODEC" ] || bail "$CODEC missing: make tests-build"
cd "$TOP" || bail "no $TOP"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

pdecode() { protoc --decode "models.$1" -I. proto/messaging.proto; }
pencode() { protoc --encode "models.$1" -I. proto/messaging.proto; }
# protoc's text format escapes non-ASCII bytes (octal) and quotes; undo
# that byte for byte so the comparison is on the decoded bytes.
unescape() {
	perl -pe 's/\\(?:([0-7]{1,3})|x([0-9a-fA-F]{1,2})|(.))/
	    defined $1 ? chr(oct $1) : defined $2 ? chr(hex $2) :
	    $3 eq "n" ? "\n" : $3 eq "t" ? "\t" : $3/gex'
}

# 1. protobuf-c -> protoc
"$CODEC" pack-iknow >"$TMP/iknow.c.bin"
ok '[ -s "$TMP/iknow.c.bin" ]' "protobuf-c packed an IKnow"
got=$(pdecode IKnow <"$TMP/iknow.c.bin" 2>&1 | unescape)
want='ip: "10.0.0.12"
nodeId: -42
nodeName: "nœud-ß-東京"
witness: "10.0.0.99"
slaves: "10.0.0.12"
slaves: "fd00::13"
slaves: "10.0.0.14"
master: "10.0.0.11"
master: "10.0.0.10"
observation {
  inRecovery: true
  timeline: 4000000001
}'
is "$got" "$want" "protoc --decode reads protobuf-c's IKnow field for field"
like "$(pdecode IKnow <"$TMP/iknow.c.bin" | grep nodeName)" '\\[0-7]{3}' \
	"protoc escaped the non-ASCII name (so the unescaping above mattered)"

"$CODEC" pack-wyk >"$TMP/wyk.c.bin"
got=$(pdecode WhatYouKnow <"$TMP/wyk.c.bin" 2>&1 | unescape)
want='ip: "10.0.0.11"
nodeId: -2147483648
nodeName: "nœud-ß-東京"'
is "$got" "$want" "protoc --decode reads protobuf-c's WhatYouKnow"

# 2. protoc -> protobuf-c. The name once as raw UTF-8, once as octal.
cat >"$TMP/iknow.txt" <<'EOF'
ip: "10.0.0.12"
nodeId: -42
nodeName: "nœud-ß-東京"
witness: "10.0.0.99"
slaves: "10.0.0.12"
slaves: "fd00::13"
slaves: "10.0.0.14"
master: "10.0.0.11"
master: "10.0.0.10"
observation { inRecovery: true timeline: 4000000001 }
EOF
pencode IKnow <"$TMP/iknow.txt" >"$TMP/iknow.protoc.bin" ||
	bail "protoc --encode failed"
want_iknow='ip: 10.0.0.12
nodeId: -42
nodeName: nœud-ß-東京
witness: 10.0.0.99
slaves: 10.0.0.12
slaves: fd00::13
slaves: 10.0.0.14
master: 10.0.0.11
master: 10.0.0.10
observation.inRecovery: true
observation.timeline: 4000000001'
is "$("$CODEC" unpack-iknow <"$TMP/iknow.protoc.bin")" "$want_iknow" \
	"protobuf-c unpacks protoc's IKnow field for field"
ok 'cmp -s "$TMP/iknow.c.bin" "$TMP/iknow.protoc.bin"' \
	"protobuf-c and protoc encode the same IKnow to the same bytes"

sed 's/"nœud-ß-東京"/"n\\305\\223ud-\\303\\237-\\346\\235\\261\\344\\272\\254"/' \
	"$TMP/iknow.txt" >"$TMP/iknow-octal.txt"
ok '! grep -q œ "$TMP/iknow-octal.txt"' "octal variant has no raw UTF-8"
is "$(pencode IKnow <"$TMP/iknow-octal.txt" | "$CODEC" unpack-iknow)" \
	"$want_iknow" "octal-escaped name decodes to the same UTF-8 bytes"

printf 'ip: "10.0.0.11"\nnodeId: -2147483648\nnodeName: "nœud-ß-東京"\n' \
	>"$TMP/wyk.txt"
pencode WhatYouKnow <"$TMP/wyk.txt" >"$TMP/wyk.protoc.bin"
is "$("$CODEC" unpack-wyk <"$TMP/wyk.protoc.bin")" \
	"$(printf 'ip: 10.0.0.11\nnodeId: -2147483648\nnodeName: nœud-ß-東京')" \
	"protobuf-c unpacks protoc's WhatYouKnow"
ok 'cmp -s "$TMP/wyk.c.bin" "$TMP/wyk.protoc.bin"' \
	"same WhatYouKnow bytes from both encoders"

# 3. A Go peer's answer: fields 1-6 only, no observation.
printf 'ip: "10.0.0.13"\nnodeId: 3\nnodeName: "n3"\nmaster: "10.0.0.11"\n' |
	pencode IKnow >"$TMP/go.bin"
got=$("$CODEC" unpack-iknow <"$TMP/go.bin")
like "$got" 'observation: absent' "an answer without observation reads as absent"
like "$got" 'witness: $' "unset witness is the empty string"

# 4. A newer peer's answer with a field we do not know (number 111): proto3
# readers skip it, and so must we, or an upgrade breaks old nodes.
{ cat "$TMP/iknow.protoc.bin"; printf '\370\006\001'; } >"$TMP/future.bin"
is "$("$CODEC" unpack-iknow <"$TMP/future.bin")" "$want_iknow" \
	"unknown field numbers are skipped"

# 5. Garbage is refused, not half-read.
printf '\012\377' | "$CODEC" unpack-iknow >/dev/null 2>&1
is "$?" 1 "a truncated IKnow is rejected"

# 6. Against the Go harepd's own contract (its README's messaging.proto,
# copied verbatim): same names and numbers, and our field 7 is an unknown
# field a Go peer skips.
mkdir -p "$TMP/go"
cat >"$TMP/go/messaging.proto" <<'EOF'
    syntax = "proto3";
    package models;
    service ClusterInfo {
        rpc GetClusterInfo(WhatYouKnow) returns (IKnow){}
    }

    message WhatYouKnow{
        string ip = 1;
        int32 nodeId = 2;
        string nodeName = 3;
    }

    message IKnow{
        string ip = 1;
        int32 nodeId = 2;
        string nodeName = 3;
        string witness = 4;
        repeated string slaves = 5;
        repeated string master = 6;
}
EOF
godecode() { protoc --decode "models.$1" -I"$TMP/go" "$TMP/go/messaging.proto"; }
goencode() { protoc --encode "models.$1" -I"$TMP/go" "$TMP/go/messaging.proto"; }
got=$(godecode IKnow <"$TMP/iknow.c.bin" 2>&1 | unescape)
want='ip: "10.0.0.12"
nodeId: -42
nodeName: "nœud-ß-東京"
witness: "10.0.0.99"
slaves: "10.0.0.12"
slaves: "fd00::13"
slaves: "10.0.0.14"
master: "10.0.0.11"
master: "10.0.0.10"
7 {
  1: 1
  2: 4000000001
}'
is "$got" "$want" "the Go contract reads our IKnow; observation is an unknown field 7"
is "$(godecode WhatYouKnow <"$TMP/wyk.c.bin" 2>&1 | unescape)" \
	"$(printf 'ip: "10.0.0.11"\nnodeId: -2147483648\nnodeName: "nœud-ß-東京"')" \
	"the Go contract reads our WhatYouKnow"
grep -v observation "$TMP/iknow.txt" | goencode IKnow >"$TMP/go-iknow.bin"
is "$("$CODEC" unpack-iknow <"$TMP/go-iknow.bin")" \
	"$(printf '%s\n' "$want_iknow" | grep -v '^observation')
observation: absent" "an IKnow encoded with the Go contract unpacks here"
ok 'goencode WhatYouKnow <"$TMP/wyk.txt" | cmp -s - "$TMP/wyk.c.bin"' \
	"WhatYouKnow: Go contract and protobuf-c give the same bytes"

# 7. The contract itself: names and numbers the Go peers use.
grep -Eq '^package models;' proto/messaging.proto
is "$?" 0 "package models"
like "$(tr -d ' \n' <proto/messaging.proto)" \
	'rpcGetClusterInfo\(WhatYouKnow\)returns\(IKnow\)' \
	"service method GetClusterInfo(WhatYouKnow) returns (IKnow)"
done_testing
