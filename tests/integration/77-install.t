#!/usr/bin/env bash
# make install into a DESTDIR with PREFIX and SYSCONFDIR of its own, the
# installed harepd's default config under that SYSCONFDIR, and make
# uninstall removing every file install wrote (the operator's conf.yml
# stays). Built in a copy of the build directory, so only util/version.o
# is rebuilt and the tree's own build keeps SYSCONFDIR=/etc.
. "$(dirname "$0")/../lib/tap.sh"
[ -x "$HAREPD" ] || bail "no $HAREPD: build first"
command -v make >/dev/null || skip_all "no make"
tmp=$(mktemp -d /tmp/harepd-install.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
cp -a "$HAREPD_BUILD" "$tmp/build" || bail "cannot copy the build directory"
dest=$tmp/root
# the sanitizer build (make asan sets HAREPD_SAN) links only with its flags
vars=(BUILD="$tmp/build" DESTDIR="$dest" PREFIX=/usr SYSCONFDIR=/opt/harepd-test/etc
    UNITDIR=/lib/systemd/system SAN="${HAREPD_SAN:-}")

make -C "$TOP" -s "${vars[@]}" install >"$tmp/install.log" 2>&1
is "$?" 0 "make install with SYSCONFDIR=/opt/harepd-test/etc"
(cd "$dest" && find . -type f | sort) >"$tmp/files"
is "$(tr '\n' ' ' <"$tmp/files")" "./lib/systemd/system/harepd.service ./opt/harepd-test/etc/default/harepd ./opt/harepd-test/etc/harepd/conf.yml.sample ./opt/harepd-test/etc/logrotate.d/harepd ./usr/bin/harepdctl ./usr/sbin/harepd ./usr/share/bash-completion/completions/harepdctl ./usr/share/man/man5/harepd.yml.5 ./usr/share/man/man8/harepd.8 ./usr/share/man/man8/harepdctl.8 " \
    "the files install writes"
rc=0; err=$("$dest/usr/sbin/harepd" -t 2>&1) || rc=$?
is "$rc:$err" "78:/opt/harepd-test/etc/harepd/conf.yml: cannot read: No such file or directory" \
    "the installed harepd's default config is under SYSCONFDIR"
rc=0; err=$("$dest/usr/bin/harepdctl" -f /dev/null check 2>/dev/null) || rc=$?
ok '[ "$rc" = 3 ]' "the installed harepdctl runs (check without harepd: 3)"
rc=0; err=$("$HAREPD" -t 2>&1) || rc=$?
like "$err" '^/etc/harepd/conf.yml: ' "the tree's own build still defaults to /etc"

: >"$dest/opt/harepd-test/etc/harepd/conf.yml"	# the operator's
make -C "$TOP" -s "${vars[@]}" uninstall >"$tmp/uninstall.log" 2>&1
is "$?" 0 "make uninstall"
is "$(cd "$dest" && find . -type f | sort | tr '\n' ' ')" \
    "./opt/harepd-test/etc/harepd/conf.yml " "uninstall leaves only the operator's conf.yml"
rm "$dest/opt/harepd-test/etc/harepd/conf.yml"
make -C "$TOP" -s "${vars[@]}" uninstall >"$tmp/uninstall.log" 2>&1
is "$?" 0 "make uninstall again (nothing left): still exit 0"
ok '[ ! -e "$dest/opt/harepd-test/etc/harepd" ]' "and the empty harepd config directory is gone"
done_testing
