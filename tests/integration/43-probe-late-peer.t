#!/usr/bin/env bash
# Peers that refused the first connection (their harepd starts later, as
# the data nodes do after the witness, or they restart) are heard within
# a watchDog of coming up. With no channel of the process busy, gRPC core
# alone took 10 s here, whatever the channel's max backoff says; the
# probe opens such a channel again (peers.c, reopen_refused()).
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/pg.sh"
. "$(dirname "$0")/../helpers/probe_lib.sh"
[ "$(id -u)" -eq 0 ] || skip_all "needs root to run PostgreSQL as postgres"

pg_start "shared_preload_libraries = 'repmgr'"
probe_setup
trap probe_cleanup EXIT
probe_repmgr_db || bail "repmgr primary register failed"
probe_node 2 n2 standby 127.0.0.2
probe_node 4 w witness 127.0.0.4

SAME="masters=127.0.0.1 slaves=127.0.0.2 witness=127.0.0.4"
p2=$(pg_free_port) || bail "no free port"
p4=$(pg_free_port) || bail "no free port"
conf=$PROBE_TMP/conf.yml
probe_conf "$conf" n1 127.0.0.1 "\"127.0.0.2:$p2\"" "127.0.0.4:$p4"

fs_start probe "$conf" || bail "probe did not say hello"
v=$(fs_line 5 '^verdict ')
is "$(fs_field "$v" answered)" "00" "the peers' harepd not up yet: no answer"
sleep 3	# past gRPC's first backoffs
probe_spec n2 answer ip=127.0.0.2 id=2 name=n2 $SAME obs=1/1
probe_spec w answer ip=127.0.0.4 id=4 name=w $SAME obs=0/1
fs_mark
t0=$(date +%s%N)
"$PROBE_FAKEPEER" "127.0.0.2:$p2" "$PROBE_TMP/n2.spec" \
    >"$PROBE_TMP/n2.out" 2>"$PROBE_TMP/n2.err" &
PEER_PID[n2]=$!
"$PROBE_FAKEPEER" "127.0.0.4:$p4" "$PROBE_TMP/w.spec" \
    >"$PROBE_TMP/w.out" 2>"$PROBE_TMP/w.err" &
PEER_PID[w]=$!
v=$(fs_line 12 '^verdict .*answered=11')
t=$(( ($(date +%s%N) - t0) / 1000000 ))
is "$(fs_field "$v" answered)" "11" "they come up: both are heard"
ok "[ $t -le 2500 ]" "within a watchDog and a tick of coming up ($t ms)"
fs_stop
done_testing
