#!/usr/bin/env bash
# The Debian package built by `make deb` (HAREPD_DEB): installs with
# dpkg -i on this machine, puts every file where Debian expects it, its
# harepd checks the sample config, systemd accepts its unit, man finds the
# pages; dpkg --purge removes all of it. Needs root; refuses to touch a
# machine where harepd is already installed.
. "$(dirname "$0")/../lib/tap.sh"
DEB=${HAREPD_DEB:-}
VERSION=$(cat "$TOP/VERSION")

# Always: the package's version is VERSION's (debian/rules checks it too).
chv=$(cd "$TOP" && dpkg-parsechangelog -SVersion 2>/dev/null)
is "$chv" "$VERSION" "debian/changelog is at VERSION ($VERSION)"

[ -n "$DEB" ] || { diag "HAREPD_DEB unset: run \`make deb-test\`"; done_testing; exit; }
[ "$(id -u)" -eq 0 ] || { diag "not root: install skipped"; done_testing; exit; }
if dpkg-query -W -f='${Status}' harepd 2>/dev/null | grep -q installed ||
    [ -e /usr/sbin/harepd ] || [ -e /usr/bin/harepdctl ] || [ -e /etc/harepd ]; then
	bail "harepd is already installed here: not touching it"
fi
ok '[ -f "$DEB" ]' "the .deb exists: $DEB"
like "$(basename "$DEB")" "^harepd_${VERSION}_[a-z0-9]+\.deb$" "named harepd_VERSION_ARCH.deb"
like "$(dpkg-deb -f "$DEB" Depends)" 'libgrpc' "Depends computed by shlibs (libgrpc)"

installed=0
cleanup() { [ "$installed" -eq 0 ] || dpkg --purge harepd >/dev/null 2>&1; }
trap cleanup EXIT
out=$(dpkg -i "$DEB" 2>&1); rc=$?
is "$rc" 0 "dpkg -i installs it"
[ "$rc" -eq 0 ] && installed=1 || diag "$out"

for f in /usr/sbin/harepd /usr/bin/harepdctl /lib/systemd/system/harepd.service \
    /etc/harepd/conf.yml.sample /usr/share/man/man8/harepd.8.gz \
    /usr/share/man/man8/harepdctl.8.gz /usr/share/man/man5/harepd.yml.5.gz \
    /usr/share/bash-completion/completions/harepdctl /usr/share/doc/harepd/copyright \
    /etc/default/harepd /etc/logrotate.d/harepd; do
	ok '[ -f "$f" ]' "installs $f"
done
ok '[ -x /usr/sbin/harepd ] && [ -x /usr/bin/harepdctl ]' "the programs are executable"
like "$(dpkg-query -W -f='${Conffiles}' harepd)" '/etc/harepd/conf.yml.sample' \
    "the sample config is a conffile"
for f in /etc/default/harepd /etc/logrotate.d/harepd; do
	like "$(dpkg-query -W -f='${Conffiles}' harepd)" "$f" "$f is a conffile"
done
like "$(grep harepdctl /etc/logrotate.d/harepd)" '[[:space:]]/usr/bin/harepdctl reopen-logs' \
    "logrotate tells /usr/bin/harepdctl to reopen the log"
like "$(/usr/sbin/harepd --version)" "^harepd $VERSION " "harepd --version: $VERSION"
like "$(/usr/bin/harepdctl --version)" "^harepdctl $VERSION " "harepdctl --version: $VERSION"

# -t dials nothing; in a network namespace of its own nothing could leave.
netns=; command -v unshare >/dev/null && unshare -n true 2>/dev/null && netns="unshare -n"
out=$($netns /usr/sbin/harepd -t -f /etc/harepd/conf.yml.sample 2>&1); rc=$?
if [ -f /etc/postgresql/15/main/pg_hba.conf ]; then
	is "$rc" 0 "harepd -t accepts the sample config"
	[ "$rc" -eq 0 ] || diag "$out"
else	# a machine without PostgreSQL: only the missing pg_hba.conf
	is "$(grep -vc hbaConfig <<<"$out")" 0 "harepd -t: only hbaConfig is missing here"
fi

U=/lib/systemd/system/harepd.service
if command -v systemd-analyze >/dev/null; then
	out=$(systemd-analyze verify "$U" 2>&1); rc=$?
	is "$rc" 0 "systemd-analyze verify accepts the installed unit"
	[ -z "$out" ] || diag "$out"
fi
is "$(sed -n 's/^ExecStart=//p' "$U")" "/usr/sbin/harepd -f /etc/harepd/conf.yml \$HAREPD_OPTS" \
    "ExecStart: /usr/sbin/harepd on /etc/harepd/conf.yml"
is "$(sed -n 's/^ConditionPathExists=//p' "$U")" /etc/harepd/conf.yml \
    "starts only once /etc/harepd/conf.yml exists"
like "$(/usr/sbin/harepd --help)" 'config file is /etc/harepd/conf\.yml unless' \
    "the installed daemon's default config is the unit's"
ok '[ -L /etc/systemd/system/multi-user.target.wants/harepd.service ]' \
    "the unit is enabled"
if command -v man >/dev/null; then
	for p in 8:harepd 8:harepdctl 5:harepd.yml; do
		is "$(man -w "${p%%:*}" "${p#*:}" 2>/dev/null)" \
		    "/usr/share/man/man${p%%:*}/${p#*:}.${p%%:*}.gz" "man -w finds ${p#*:}(${p%%:*})"
	done
fi

out=$(dpkg --purge harepd 2>&1); rc=$?
is "$rc" 0 "dpkg --purge removes it"
[ "$rc" -eq 0 ] && installed=0 || diag "$out"
ok '! dpkg-query -W -f="\${Status}" harepd 2>/dev/null | grep -q installed' "not installed any more"
for f in /usr/sbin/harepd /usr/bin/harepdctl "$U" /etc/harepd \
    /usr/share/man/man8/harepd.8.gz /usr/share/bash-completion/completions/harepdctl \
    /etc/systemd/system/multi-user.target.wants/harepd.service; do
	ok '[ ! -e "$f" ]' "gone: $f"
done
done_testing
