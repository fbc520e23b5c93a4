#!/usr/bin/env bash
# Privilege separation, read from /proc of every running worker (issue 6
# item 8, STYLE "prove it"): the intended Uid and Gid, no capability in
# any set, NoNewPrivs 1; the re-exec'd image and the descriptors it holds
# (fd 3 is its channel; nothing of the supervisor's or of the shell that
# started harepd leaks into it); no NOTIFY_SOCKET in its environment.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../helpers/sup_lib.sh"
[ "$(id -u)" -eq 0 ] || skip_all "needs root to drop privileges"

sup_init
sup_config
# a descriptor the test shell holds open: no worker may inherit it
exec 7>"$SUP_DIR/leak-canary"
# what a root shell may carry: libpq would follow PGHOST/PGSERVICE to
# another cluster, and HOME=/root would pick root's .pgpass and service file
NOTIFY_SOCKET=@harepd-test-$$ PGHOST=/nonexistent PGSERVICE=evil \
	PGSSLMODE=disable PGPASSFILE=/root/.pgpass HOME=/root \
	GRPC_TRACE=all sup_start
exec 7>&-

want_user() { [ "$1" = rpc ] && echo nobody || echo postgres; }

for role in rpc probe hba; do
	# not running: "not ok" (a worker that dies at start must not turn
	# the checks below into passes), and nothing of it to inspect
	sup_expect_running "$role" 5 || continue
	pid=$(sup_worker_pid "$role")
	ok '[ -n "$pid" ]' "$role: running as a child of the supervisor"
	user=$(want_user "$role")
	uid=$(id -u "$user"); gid=$(id -g "$user")
	is "$(proc_field "$pid" Uid)" "$uid $uid $uid $uid" \
		"$role: real, effective, saved and fs uid are $user"
	is "$(proc_field "$pid" Gid)" "$gid $gid $gid $gid" \
		"$role: every gid is $user's primary group"
	is "$(proc_field "$pid" Groups)" "$gid" "$role: no supplementary groups but its own"
	for cap in CapInh CapPrm CapEff CapBnd CapAmb; do
		is "$(proc_field "$pid" $cap)" 0000000000000000 "$role: $cap is empty"
	done
	is "$(proc_field "$pid" NoNewPrivs)" 1 "$role: NoNewPrivs 1"
	is "$(tr '\0' ' ' <"/proc/$pid/cmdline")" "harepd --role $role " \
		"$role: re-exec'd as harepd --role $role"
	is "$(stat -L -c %i "/proc/$pid/exe")" "$(stat -L -c %i "$HAREPD")" \
		"$role: runs the harepd binary itself"
	fds=$(ls -l "/proc/$pid/fd" 2>/dev/null)
	ok '! grep -q leak-canary <<<"$fds"' "$role: does not hold the shell's descriptor"
	ok '! grep -q "$SUP_LOG" <<<"$fds"' "$role: does not hold the log file"
	ok '! grep -q "$SUP_CONF" <<<"$fds"' "$role: does not hold the config file"
	like "$(readlink "/proc/$pid/fd/3")" '^socket:' "$role: fd 3 is its channel"
	ok '! tr "\0" "\n" <"/proc/$pid/environ" | grep -q ^NOTIFY_SOCKET=' \
		"$role: no NOTIFY_SOCKET (only the supervisor talks to systemd)"
	is "$(readlink "/proc/$pid/cwd")" / "$role: works in /"
	env=$(tr "\0" "\n" <"/proc/$pid/environ")
	ok '! grep -Eq "^(PG[A-Z]*|GRPC_[A-Z]*)=" <<<"$env"' \
		"$role: no PG* or GRPC_* variable of the supervisor's"
	is "$(sed -n "s/^HOME=//p" <<<"$env")" "$(getent passwd "$user" | cut -d: -f6)" \
		"$role: HOME is $user's"
	is "$(sed -n "s/^USER=//p" <<<"$env")" "$user" "$role: USER is $user"
	is "$(sed -n "s/^PATH=//p" <<<"$env")" /usr/sbin:/usr/bin:/sbin:/bin \
		"$role: a fixed PATH"
	# not dumpable: /proc/PID/ belongs to root, and a process of the
	# worker's own uid can neither read its environment nor attach
	is "$(stat -c %u "/proc/$pid/environ")" 0 "$role: /proc/PID/environ is root's (not dumpable)"
	ok '! setpriv --reuid="$uid" --regid="$gid" --clear-groups cat "/proc/$pid/environ" >/dev/null 2>&1' \
		"$role: its own uid cannot read /proc/PID/environ"
	ok '! setpriv --reuid="$uid" --regid="$gid" --clear-groups ls "/proc/$pid/fd" >/dev/null 2>&1' \
		"$role: its own uid cannot list its descriptors"
done

# the supervisor itself: root, and it did not keep the shell's descriptor
sup_fds=$(ls -l "/proc/$SUP_PID/fd")
ok 'grep -q harepd.sock <<<"$(ls -l /proc/$SUP_PID/fd; cat /proc/net/unix)"' \
	"supervisor's descriptors are readable"
ok '! grep -q leak-canary <<<"$sup_fds"' "supervisor closed inherited descriptors"
is "$(proc_field "$SUP_PID" Uid | cut -d" " -f1)" 0 "supervisor stays root"
done_testing
