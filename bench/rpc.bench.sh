#!/usr/bin/env bash
# The rpc worker under load: started by the fake supervisor on 127.0.0.1
# with a fresh view, hammered by bench/rpc_load (gRPC C core client) at
# concurrency 1, 8 and 32 for RPC_BENCH_SECS seconds each (default 5).
# Server and client share this machine's cores. RPC_BENCH_LEAN=1 runs
# rpc_load -l (no retries, minimal client stack: more CPU left to the
# server; not how a harepd node calls).
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd)
B=${HAREPD_BUILD:-$TOP/build}
SECS=${RPC_BENCH_SECS:-5}
LEVELS=${RPC_BENCH_LEVELS:-1,8,32}

# the fake supervisor is a test helper: `make bench` does not build it
[ -x "$B/tests/helpers/rpc_fakesup" ] ||
	make -s -C "$TOP" BUILD="$B" "$B/tests/helpers/rpc_fakesup" >&2 || exit 1
for f in "$B/harepd" "$B/bench/rpc_load"; do
	[ -x "$f" ] || { echo "rpc bench: $f not built" >&2; exit 1; }
done

T=$(mktemp -d /tmp/harepd-rpcbench.XXXXXX)
SUP=
cleanup() {
	[ -n "${CMD:-}" ] && exec {CMD}>&-
	[ -n "$SUP" ] && { sleep 1; kill "$SUP" 2>/dev/null; wait "$SUP" 2>/dev/null; }
	rm -rf "$T"
}
trap cleanup EXIT

. "$(dirname "${BASH_SOURCE[0]}")/../tests/lib/port.sh"
port=$(free_port 20000 32000)
[ -n "$port" ] || { echo "rpc bench: no free port" >&2; exit 1; }
cat >"$T/conf.yml" <<YAML
harepd:
  nodeName: node_1
  primaryIP: 127.0.0.1
  hbaConfig: $T/pg_hba.conf
  haproxy: { server: [127.0.0.9], users: { readWrite: harw } }
  watchDog: 15
  gRPC: { bindPort: $port, bindAddress: 127.0.0.1, connectionDeadline: 5 }
YAML
mkfifo "$T/cmd"
"$B/tests/helpers/rpc_fakesup" "$B/harepd" "$T/conf.yml" <"$T/cmd" \
    >"$T/sup.out" 2>&1 &
SUP=$!
exec {CMD}>"$T/cmd"
echo "view id=1 name=node_1 ip=127.0.0.1 primaries=127.0.0.1" \
    "standbys=127.0.0.2,127.0.0.3 witness=127.0.0.4 timeline=3" >&$CMD
echo "refresh 1000" >&$CMD
for i in $(seq 100); do
	grep -q '^hello ' "$T/sup.out" && break
	sleep 0.1
done
pid=$(sed -n 's/^hello pid=\([0-9]*\).*/\1/p' "$T/sup.out")
[ -n "$pid" ] || { cat "$T/sup.out" >&2; echo "rpc bench: worker did not start" >&2; exit 1; }

echo "rpc worker pid $pid on 127.0.0.1:$port, $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
lean=()
[ -n "${RPC_BENCH_LEAN:-}" ] && { lean=(-l); echo "lean client (rpc_load -l)"; }
"$B/bench/rpc_load" "${lean[@]}" -d "$SECS" -c "$LEVELS" -p "$pid" "127.0.0.1:$port"
rc=$?
echo "control shutdown" >&$CMD
for i in $(seq 50); do grep -q '^exit ' "$T/sup.out" && break; sleep 0.1; done
sed -n 's/^exit /rpc worker exit: /p' "$T/sup.out"
suppressed=$(sed -n 's/.*suppressed \([0-9]*\) inquiry.*/\1/p' "$T/sup.out" |
	awk '{s += $1} END {print s + 0}')
echo "inquiry log: $(grep -c '"msg":"inquiry from' "$T/sup.out") lines written, $suppressed suppressed"
exit $rc
