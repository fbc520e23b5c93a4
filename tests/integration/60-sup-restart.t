#!/usr/bin/env bash
# kill -9 of each worker: the supervisor reaps it (no zombie), starts a
# new one within a second (first restart: 100 ms backoff), counts the
# restart in `harepdctl status`, and the new worker is privilege-dropped
# like the first.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../helpers/sup_lib.sh"
[ "$(id -u)" -eq 0 ] || skip_all "needs root to drop privileges"

sup_init
sup_config
sup_start

zombies() { ps -o stat=,ppid= -e | awk -v p="$SUP_PID" '$1 ~ /^Z/ && $2 == p' | wc -l; }

for role in rpc probe hba; do
	sup_expect_running "$role" 5 || continue
	old=$(sup_worker_pid "$role")
	before=$(sup_status "w[\"$role\"][\"restarts\"]")
	t0=$(date +%s%N)
	kill -KILL "$old"
	wait_for 1 "p=\$(sup_worker_pid $role) && [ \"\$p\" != $old ]"
	new=$(sup_worker_pid "$role")
	t1=$(date +%s%N)
	ok '[ -n "$new" ] && [ "$new" != "$old" ]' "$role: a new worker after kill -9 (pid $old -> ${new:-none})"
	ok '[ $(( (t1 - t0) / 1000000 )) -lt 1000 ]' \
		"$role: restarted within 1 s ($(( (t1 - t0) / 1000000 )) ms)"
	ok '! sup_alive "$old"' "$role: the killed worker was reaped"
	wait_for 5 "sup_running $role"
	is "$(sup_status "w[\"$role\"][\"restarts\"]")" "$((before + 1))" \
		"$role: status counts the restart"
	like "$(sup_status "w[\"$role\"][\"last_exit\"]")" 'killed by signal 9' \
		"$role: status says how it ended"
	is "$(sup_status "w[\"$role\"][\"pid\"]")" "$new" "$role: status shows the new pid"
	is "$(proc_field "$new" CapEff)" 0000000000000000 "$role: the new worker has no capabilities either"
	is "$(proc_field "$new" NoNewPrivs)" 1 "$role: and NoNewPrivs 1"
done
is "$(zombies)" 0 "no zombie children"
ok 'sup_alive $SUP_PID' "the supervisor survived it all"
done_testing
