#!/usr/bin/env bash
# A hung probe (here: SIGSTOP) sends no LocalView; after
# max(10 x watchDog + 3 x connectionDeadline, 10 s) of silence the
# supervisor kills and restarts it, and says why. A quiet but healthy
# worker (hba with nothing to do) is left alone.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../helpers/sup_lib.sh"
[ "$(id -u)" -eq 0 ] || skip_all "needs root to drop privileges"

sup_init
SUP_WATCHDOG=1 sup_config	# silence limit: 10 x 1 + 3 x 1 = 13 s
sup_start
sup_require_running probe hba
hba=$(sup_worker_pid hba)
old=$(sup_worker_pid probe)
kill -STOP "$old"
t0=$(date +%s)
ok 'wait_for 25 "p=\$(sup_worker_pid probe) && [ \"\$p\" != $old ]"' "the stopped probe is replaced"
t1=$(date +%s)
ok '[ $((t1 - t0)) -ge 12 ] && [ $((t1 - t0)) -le 16 ]' "after about 13 s of silence ($((t1 - t0)) s)"
like "$(grep -m1 "killing worker probe (pid $old)" "$SUP_LOG")" 'no LocalView for 1[3-5] s' \
	"the log says why"
ok '! sup_alive $old' "the hung probe is gone"
ok 'wait_for 5 "sup_running probe"' "the new probe runs"
is "$(sup_worker_pid hba)" "$hba" "hba, quiet all along, was not touched"
sup_no_sanitizer_reports
done_testing
