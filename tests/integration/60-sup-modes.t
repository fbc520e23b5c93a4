#!/usr/bin/env bash
# The three modes (ARCHITECTURE §7): default runs rpc, probe and hba;
# --server-only runs rpc and probe, and the probe (told server_only) never
# sends a verdict (the supervisor would restart it if it did);
# --client-only runs probe and hba and nothing listens for peers.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../helpers/sup_lib.sh"
. "$(dirname "$0")/../lib/pg.sh"
[ "$(id -u)" -eq 0 ] || skip_all "needs root to run PostgreSQL and drop privileges"

sup_init
sup_pg_cluster
SUP_WATCHDOG=1 sup_config
roles() { local r out=; for r in rpc probe hba; do sup_worker_pid "$r" >/dev/null && out="$out$r "; done; echo "$out"; }
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$SUP_PORT") 2>/dev/null; }
stop() { kill -TERM "$SUP_PID"; wait_for 10 '! sup_alive $SUP_PID'; }

sup_start
wait_for 10 'sup_running rpc && sup_running probe && sup_running hba'
is "$(roles)" "rpc probe hba " "default: rpc, probe, hba"
is "$(sup_status 'd["daemon"]["mode"]')" dual "status: mode dual"
stop

sup_start --server-only
wait_for 10 'sup_running rpc && sup_running probe'
is "$(roles)" "rpc probe " "--server-only: rpc and probe, no hba"
is "$(sup_status '[x["name"] for x in d["workers"]]')" '["rpc", "probe"]' "status lists rpc and probe"
ok 'listening' "--server-only: the gRPC port answers"
ok 'wait_for 10 "[ \"\$(sup_status \"d[\\\"view\\\"] is not None\")\" = true ]"' \
	"--server-only: the probe sends its view"
sleep 3		# three ticks
is "$(sup_status 'd["verdict"]')" null "--server-only: no verdict in three ticks"
is "$(sup_status 'w["probe"]["restarts"]')" 0 "--server-only: the probe was never restarted"
stop

sup_start --client-only
wait_for 10 'sup_running probe && sup_running hba'
is "$(roles)" "probe hba " "--client-only: probe and hba, no rpc"
ok '! listening' "--client-only: nothing listens on the gRPC port"
is "$(sup_status 'd["daemon"]["mode"]')" client-only "status: mode client-only"
stop
sup_no_sanitizer_reports
done_testing
