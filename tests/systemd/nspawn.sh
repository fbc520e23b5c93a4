# A booted systemd for the unit's tests (docs/SYSTEMD.md): this machine's
# own root, copy-on-write (an overlay over /, changes in a temporary
# directory), booted by systemd-nspawn with a private network (only its
# own loopback), no machined and no host systemd needed (--register=no
# --keep-unit). harepd is installed into it with `make install`.
#
#   . tests/lib/tap.sh; . tests/systemd/nspawn.sh
#   ns_boot                 # NS_ROOT (the container's /), NS_PID (its PID 1)
#   ns CMD...               # run CMD inside (all of its namespaces)
#   ns_unit_prop PROP       # systemctl show -P PROP harepd
#   ns_cleanup              # (trap) power off, unmount, remove

ns_require() {
	[ "$(id -u)" -eq 0 ] || skip_all "needs root"
	[ -x /lib/systemd/systemd ] || skip_all "no systemd"
	command -v systemd-nspawn >/dev/null ||
		skip_all "no systemd-nspawn (apt-get install systemd-container)"
	grep -qw overlay /proc/filesystems || modprobe overlay 2>/dev/null ||
		skip_all "no overlayfs"
}

ns_cleanup() {
	if [ -n "${NS_PID:-}" ] && kill -0 "$NS_PID" 2>/dev/null; then
		timeout 20 nsenter -t "$NS_PID" -a systemctl poweroff \
		    >/dev/null 2>&1
		for _ in $(seq 100); do
			kill -0 "$NS_NSPAWN" 2>/dev/null || break
			sleep 0.2
		done
		kill "$NS_NSPAWN" 2>/dev/null
	fi
	if [ -n "${NS_DIR:-}" ]; then
		umount "$NS_ROOT" 2>/dev/null || umount -l "$NS_ROOT" 2>/dev/null
		rm -rf "$NS_DIR"
	fi
	# --keep-unit without a host systemd: nspawn made its cgroups at
	# the hierarchies' roots; remove them once empty
	local h
	for h in /sys/fs/cgroup/systemd /sys/fs/cgroup/unified; do
		rmdir "$h/payload/init.scope" "$h/payload" "$h/supervisor" \
		    2>/dev/null
	done
}

ns() { nsenter -t "$NS_PID" -a -- "$@"; }
ns_unit_prop() { ns systemctl show -P "$1" harepd; }

ns_boot() {
	NS_DIR=$(mktemp -d /tmp/harepd-nspawn.XXXXXX)
	NS_ROOT=$NS_DIR/root
	mkdir -p "$NS_DIR/upper" "$NS_DIR/work" "$NS_ROOT"
	trap ns_cleanup EXIT
	mount -t overlay overlay -o "lowerdir=/,upperdir=$NS_DIR/upper,workdir=$NS_DIR/work" \
	    "$NS_ROOT" || bail "cannot mount an overlay over /"
	# nspawn refuses a container with the host's machine id
	systemd-id128 new >"$NS_ROOT/etc/machine-id"
	# only what the tests need: no HAProxy, repmgrd or PostgreSQL
	# listening inside, no timers, a console nobody reads
	local u
	for u in haproxy.service repmgrd.service postgresql.service \
	    postgresql@.service console-getty.service apt-daily.timer \
	    apt-daily-upgrade.timer man-db.timer e2scrub_all.timer \
	    dpkg-db-backup.timer systemd-tmpfiles-clean.timer; do
		ln -sf /dev/null "$NS_ROOT/etc/systemd/system/$u"
	done
	make -s -C "$TOP" install DESTDIR="$NS_ROOT" PREFIX=/usr \
	    SYSCONFDIR=/etc UNITDIR=/lib/systemd/system \
	    BUILD="$HAREPD_BUILD" >"$NS_DIR/install.log" 2>&1 ||
		{ cat "$NS_DIR/install.log" >&2; bail "make install failed"; }
	systemd-nspawn -D "$NS_ROOT" -b --register=no --keep-unit \
	    --private-network -M harepd-test --console=read-only \
	    --link-journal=no >"$NS_DIR/console.log" 2>&1 &
	NS_NSPAWN=$!
	wait_for 30 'NS_PID=$(pgrep -P "$NS_NSPAWN" -x systemd); [ -n "$NS_PID" ]' ||
		{ cat "$NS_DIR/console.log" >&2; bail "the container did not start"; }
	local state
	wait_for 60 'state=$(ns systemctl is-system-running 2>/dev/null);
	    [ "$state" = running ] || [ "$state" = degraded ]' ||
		{ tail -20 "$NS_DIR/console.log" >&2; bail "systemd did not boot: $state"; }
	[ "$state" = running ] || diag "booted $state: $(ns systemctl --failed --no-legend --plain | tr '\n' ' ')"
}
