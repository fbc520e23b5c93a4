#!/usr/bin/env bash
# contrib/harepd.service.in as `make install` writes it: systemd accepts
# it (systemd-analyze verify), paths are substituted, it is Type=notify
# with the watchdog, stops the client before SIGTERM reaches the
# supervisor alone (KillMode=mixed), and keeps what the privilege drop
# needs (CAP_SETUID/CAP_SETGID in the bounding set, @setuid allowed);
# checks -t first, reloads through harepdctl, does not restart a broken
# config, writes only its log, run dirs and /etc/postgresql. What the
# directives do is tested under a booted systemd in tests/systemd.
. "$(dirname "$0")/../lib/tap.sh"
command -v systemd-analyze >/dev/null || skip_all "no systemd-analyze"
TMP=$(mktemp -d); trap 'rm -rf "$TMP"' EXIT
mkdir -p "$TMP/sbin" "$TMP/bin"
ln -s "$HAREPD" "$TMP/sbin/harepd"
ln -s "$HAREPDCTL" "$TMP/bin/harepdctl"
# the substitution of the Makefile's install target
sub=$(sed -n 's/^\t\(sed .s|@SBINDIR@.*\) \\$/\1/p' "$TOP/Makefile")
like "$sub" '@SBINDIR@' "the Makefile's install target substitutes the unit"
sed "s|@SBINDIR@|$TMP/sbin|g; s|@BINDIR@|$TMP/bin|g" \
    "$TOP/contrib/harepd.service.in" >"$TMP/harepd.service"
U=$TMP/harepd.service
ok '! grep -q @ "$U" || ! grep -q "@[A-Z]*@" "$U"' "no placeholder left"
out=$(systemd-analyze verify "$U" 2>&1); rc=$?
is "$rc" 0 "systemd-analyze verify accepts the unit"
[ -z "$out" ] || diag "$out"
get() { grep -E "^$1=" "$U" | tail -1 | cut -d= -f2-; }
is "$(get Type)" notify "Type=notify"
is "$(get NotifyAccess)" main "NotifyAccess=main: only the supervisor"
is "$(get WatchdogSec)" 30 "WatchdogSec=30"
is "$(get ExecStart)" "$TMP/sbin/harepd -f /etc/harepd/conf.yml \$HAREPD_OPTS" "ExecStart runs harepd on the default config"
like "$(get ExecStop)" "^-$TMP/bin/harepdctl .*stop-client$" "ExecStop: harepdctl stop-client first"
is "$(get ExecStartPre)" "-$TMP/sbin/harepd -t -f /etc/harepd/conf.yml \$HAREPD_OPTS" \
    "ExecStartPre: harepd -t on the same config and options (its exit ignored: the daemon's 78 is what stops restarts)"
is "$(get ExecReload)" "$TMP/bin/harepdctl -f /etc/harepd/conf.yml reload" \
    "ExecReload: harepdctl reload, whose failure fails the reload"
is "$(get RestartPreventExitStatus)" 78 "a broken config (exit 78) is not restarted"
is "$(get EnvironmentFile)" "-/etc/default/harepd" "HAREPD_OPTS from /etc/default/harepd"
like "$(get ExecStart)" 'HAREPD_OPTS' "ExecStart takes HAREPD_OPTS (--server-only on the witness)"
is "$(get ProtectSystem)" strict "ProtectSystem=strict: nothing writable but what is listed"
is "$(get ReadWritePaths)" "-/etc/postgresql" "ReadWritePaths: only PostgreSQL's configuration"
is "$(get LogsDirectory)" harepd "LogsDirectory: /var/log/harepd"
is "$(get RuntimeDirectoryPreserve)" restart "the last verdict outlives a restart"
like "$(sed -n 's/^    #\{0,1\}filePath: "\(.*\)"$/\1/p' "$TOP/conf/harepd.sample.yml")" '^/var/log/harepd/' \
    "the sample config logs into the unit's LogsDirectory"
like "$(cat "$TOP/contrib/logrotate/harepd")" "$(sed -n 's/^    #\{0,1\}filePath: "\(.*\)"$/\1/p' "$TOP/conf/harepd.sample.yml") {" \
    "the logrotate snippet rotates the sample config's log"
is "$(get KillMode)" mixed "KillMode=mixed: SIGTERM to the supervisor, which orders the workers"
like "$(get CapabilityBoundingSet)" 'CAP_SETUID' "bounding set keeps CAP_SETUID"
like "$(get CapabilityBoundingSet)" 'CAP_SETGID' "bounding set keeps CAP_SETGID"
like "$(get CapabilityBoundingSet)" 'CAP_KILL' "bounding set keeps CAP_KILL (workers are other users)"
ok '! grep -q "^User=" "$U"' "starts as root (the workers drop)"
expand() {	# a syscall group, with its nested groups, one name a line
	local x
	systemd-analyze syscall-filter "$1" 2>/dev/null | tail -n +2 |
	    while read -r x; do
		case $x in @*) expand "$x" ;; ""|"#"*) ;; *) echo "$x" ;; esac
	    done
}
filter=$(expand "$(get SystemCallFilter)")
for sc in setresuid setresgid setgroups capset prctl execveat close_range; do
	ok 'grep -qw "$sc" <<<"$filter"' "SystemCallFilter allows $sc"
done
exposure=$(systemd-analyze security --offline=yes "$U" 2>/dev/null | tail -1)
like "$exposure" 'OK|SAFE' "systemd rates the exposure OK or better: ${exposure##*: }"
done_testing
