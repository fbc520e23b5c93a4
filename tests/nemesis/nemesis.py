#!/usr/bin/env python3
"""Nemesis: a seeded random fault schedule on the namespace e2e cluster.

Builds the cluster of tests/e2e/lib/cluster.sh (n1 n2 n3, witness,
HAProxy, harepd everywhere), runs a client writing through HAProxy's
write port, two double-writer monitors, and for NEMESIS_MIN minutes
rounds of one or two faults followed by a healing period in which the
nemesis does what the runbook says. At the end: every acknowledged write
must be on the final primary, no sample may show two writers, harepd must
not have crashed. Prints TAP, a table, and writes summary.json.
See tests/nemesis/README.md.
"""
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
BUILD = os.environ.get("HAREPD_BUILD", os.path.join(TOP, "build"))
HAREPDCTL = os.path.join(BUILD, "harepdctl")
CL = os.path.join(HERE, "cl")
PGBIN = "/usr/lib/postgresql/15/bin"
NET = "10.231.0"
NODES = ["n1", "n2", "n3"]
HAREPD_HOSTS = NODES + ["wt"]
APP_PASSWORD = "app-secret"
LEASE_MS = 3000		# 3 x watchDog (1 s), harepd's default
DEADLINE_MS = 1000	# connectionDeadline
BOUND_MS = LEASE_MS + DEADLINE_MS + 1500
WORKERS = ["probe", "hba", "rpc"]


def now_ms():
    return int(time.time() * 1000)


def ip_of(h):
    if h == "hap":
        return NET + ".10"
    if h == "wt":
        return NET + ".20"
    return "%s.%d" % (NET, 10 + int(h[1:]))


def node_of_ip(ip):
    for h in HAREPD_HOSTS + ["hap"]:
        if ip_of(h) == ip:
            return h
    return "?" + ip


class Log:
    """nemesis.log, and stdout as TAP diagnostics."""

    def __init__(self, t0):
        self.t0 = t0
        self.lock = threading.Lock()
        self.f = None

    def open(self, path):
        self.f = open(path, "a", buffering=1)

    def __call__(self, msg):
        t = now_ms()
        line = "%s T+%7.1f %s" % (time.strftime("%H:%M:%S", time.gmtime(t / 1000)) +
                                   ".%03d" % (t % 1000), (t - self.t0) / 1000.0, msg)
        with self.lock:
            print("# " + line, flush=True)
            if self.f:
                self.f.write(line + "\n")


class Cluster:
    def __init__(self, log):
        self.log = log
        self.dir = None
        self.pfx = None
        self.routes = {}	# (host, dest) -> refcount of blackhole routes
        self.links = {}	# host -> refcount of link-down
        self.lock = threading.Lock()
        self.our_stops = {}	# host -> supervisor pids we ended on purpose

    # ---- plumbing
    def env(self):
        e = dict(os.environ)
        e["HAREPD_BUILD"] = BUILD
        if self.dir:
            e["CL_DIR"] = self.dir
        return e

    def cl(self, *args, timeout=180):
        try:
            r = subprocess.run([CL] + list(args), env=self.env(), stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               timeout=timeout, text=True)
            return r.returncode, r.stdout
        except subprocess.TimeoutExpired:
            self.log("cl %s: timed out after %d s" % (" ".join(args), timeout))
            return 124, ""

    def ns(self, h):
        return "%s-%s" % (self.pfx, h)

    def run(self, argv, timeout=30):
        try:
            r = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, timeout=timeout, text=True)
            return r.returncode, r.stdout, r.stderr
        except subprocess.TimeoutExpired:
            return 124, "", "timeout"

    def psql(self, h, sql, db="postgres", timeout=10):
        d = os.path.join(self.dir, h)
        rc, out, _ = self.run(["ip", "netns", "exec", self.ns(h), "runuser", "-u", "postgres",
                               "--", PGBIN + "/psql", "-X", "-q", "-At", "-h", d, "-p", "5432",
                               "-U", "postgres", "-d", db, "-v", "ON_ERROR_STOP=1",
                               "-c", sql], timeout=timeout)
        return out.strip() if rc == 0 else None

    def repmgr(self, h, *args, timeout=120):
        rc, out = self.cl("cl_repmgr", h, *args, timeout=timeout)
        with open(os.path.join(self.dir, h, "repmgr.out"), "a") as f:
            f.write("== nemesis: repmgr %s (rc %d)\n%s" % (" ".join(args), rc, out))
        return rc, out

    # ---- PostgreSQL
    def pg_pid(self, h):
        try:
            with open(os.path.join(self.dir, h, "data", "postmaster.pid")) as f:
                pid = int(f.readline())
            return pid if os.path.isdir("/proc/%d" % pid) else None
        except (OSError, ValueError):
            return None

    def in_recovery(self, h):
        return self.psql(h, "SELECT pg_is_in_recovery()")

    def timeline(self, h):
        v = self.psql(h, "SELECT substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8)")
        try:
            return int(v, 16)
        except (TypeError, ValueError):
            return 0

    def streaming_to(self, primary):
        v = self.psql(primary, "SELECT host(client_addr) FROM pg_stat_replication "
                      "WHERE state = 'streaming'")
        return set(node_of_ip(x) for x in (v or "").split("\n") if x)

    # ---- harepd
    def status(self, h):
        rc, out, _ = self.run([HAREPDCTL, "-s", os.path.join(self.dir, h, "harepd", "harepd.sock"),
                               "status", "--json"], timeout=5)
        try:
            return json.loads(out) if rc == 0 else None
        except ValueError:
            return None

    def worker_pid(self, h, role):
        d = self.status(h)
        if not d:
            return None
        for w in d.get("workers", []):
            if w.get("name") == role and w.get("pid"):
                return int(w["pid"])
        return None

    def sup_pid(self, h):
        try:
            with open(os.path.join(self.dir, h, "harepd.pid")) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            return None

    def sup_alive(self, h):
        pid = self.sup_pid(h)
        if not pid:
            return False
        try:
            with open("/proc/%d/stat" % pid) as f:
                return f.read().split(")")[-1].split()[0] != "Z"
        except OSError:
            return False

    def harepd_start(self, h):
        args = ["cl_harepd_start", h] + (["--server-only"] if h == "wt" else [])
        rc, out = self.cl(*args, timeout=30)
        if rc != 0:
            self.log("harepd %s did not start: %s" % (h, out.strip()[-300:]))
        return rc == 0

    def harepd_stop(self, h):
        pid = self.sup_pid(h)
        if pid:
            self.our_stops.setdefault(h, set()).add(pid)
        return self.cl("cl_harepd_stop", h, timeout=30)[0] == 0

    def harepd_kill(self, h):
        """kill -9 of the supervisor and its workers at once."""
        pid = self.sup_pid(h)
        if not pid:
            return False
        self.our_stops.setdefault(h, set()).add(pid)
        kids = self.run(["pgrep", "-P", str(pid)])[1].split()
        for p in [pid] + [int(k) for k in kids]:
            try:
                os.kill(p, signal.SIGKILL)
            except OSError:
                pass
        return True

    # ---- network: blackhole routes and links, reference counted so two
    # faults may cut the same path
    def route(self, a, b, add):
        with self.lock:
            k = (a, b)
            n = self.routes.get(k, 0)
            self.routes[k] = n + 1 if add else max(n - 1, 0)
            if (add and n == 0) or (not add and n == 1):
                self.run(["ip", "-n", self.ns(a), "route", "add" if add else "del",
                          "blackhole", ip_of(b) + "/32"])

    def link(self, h, down):
        with self.lock:
            n = self.links.get(h, 0)
            self.links[h] = n + 1 if down else max(n - 1, 0)
            if (down and n == 0) or (not down and n == 1):
                self.run(["ip", "-n", self.ns("sw"), "link", "set", "p-" + h,
                          "down" if down else "up"])

    def heal_all(self):
        with self.lock:
            for (a, b), n in self.routes.items():
                if n:
                    self.run(["ip", "-n", self.ns(a), "route", "del", "blackhole",
                              ip_of(b) + "/32"])
            for h, n in self.links.items():
                if n:
                    self.run(["ip", "-n", self.ns("sw"), "link", "set", "p-" + h, "up"])
            self.routes.clear()
            self.links.clear()

    # ---- HAProxy
    def hap_up(self):
        rc, out, _ = self.stat()
        up = []
        for line in out.split("\n"):
            f = line.split(",")
            if len(f) > 17 and f[0] == "pg_rw" and f[1] not in ("FRONTEND", "BACKEND") \
                    and f[17].startswith("UP"):
                up.append(f[1])
        return sorted(up)

    def stat(self):
        try:
            r = subprocess.run(["socat", "-t", "2", "-", "UNIX-CONNECT:" +
                                os.path.join(self.dir, "hap", "stats.sock")],
                               input="show stat\n", stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, timeout=5, text=True)
            return r.returncode, r.stdout, ""
        except subprocess.TimeoutExpired:
            return 124, "", ""


# ------------------------------------------------------------------ faults
#
# A fault is planned from five random draws (so the schedule of kinds,
# durations and role-relative targets depends on the seed alone), then
# runs in its own thread: start, hold for its duration, end. Targets are
# named by role ("the primary", "standby k") and resolved when the fault
# starts. Resources keep two faults from fighting over one thing:
#   hw:N  a harepd worker of N     hd:N  N's whole harepd (implies hw:N)
#   pg:N  N's PostgreSQL           promote  a promotion in flight

# kind: (weight, description)
KINDS = {
    "kill_worker": (3, "kill -9 of one harepd worker"),
    "kill_daemon": (2, "kill -9 of the whole harepd (supervisor + workers), started again after the hold"),
    "stop_worker": (3, "SIGSTOP of one worker for up to 2 x lease, then SIGCONT"),
    "pg_crash": (2, "PostgreSQL immediate stop, started again after the hold"),
    "failover": (2, "primary's PostgreSQL crashes, a standby is promoted 1-3 s later; the old primary starts again as it was"),
    "split_promote": (1, "primary cut from the other data nodes and the witness (HAProxy reaches it), a standby promoted 1-3 s later"),
    "isolate": (2, "a data node cut from the other data nodes and the witness (HAProxy still reaches it)"),
    "cut_pair": (2, "blackhole routes both ways between two hosts"),
    "oneway": (2, "blackhole route one way between two hosts (asymmetric)"),
    "link_down": (1, "a host's bridge port down (nobody reaches it)"),
    "slow_rpc": (2, "the rpc worker stopped 300 ms / running 100 ms in turn (a slow, lossy peer)"),
    "witness_down": (2, "the witness's harepd, PostgreSQL or link down, then up"),
    "harepd_restart": (2, "harepdctl stop-client, stop, start after the hold"),
    "standby_rejoin": (1, "a standby stopped and rejoined (repmgr node rejoin --force-rewind)"),
    "standby_follow": (1, "repmgr standby follow on a standby"),
}


class Fault:
    def __init__(self, n, kind, draws):
        self.n = n
        self.kind = kind
        self.d = draws	# five floats in [0, 1)
        self.dur = 1 + draws[3] * 19
        self.targets = []
        self.res = set()
        self.t_start = self.t_end = self.t_promoted = None
        self.promoted = None
        self.note = ""
        self.thread = None

    def label(self):
        return "#%d %s %s %.1fs%s" % (self.n, self.kind, ",".join(self.targets), self.dur,
                                     (" " + self.note) if self.note else "")

    def to_json(self):
        return {"n": self.n, "kind": self.kind, "targets": self.targets,
                "duration_s": round(self.dur, 1), "start_ms": self.t_start,
                "end_ms": self.t_end, "promoted": self.promoted,
                "promoted_ms": self.t_promoted, "note": self.note}


def pick(seq, x):
    return seq[int(x * len(seq)) % len(seq)]


class Nemesis:
    def __init__(self, seed, minutes):
        self.seed = seed
        self.minutes = minutes
        self.t0 = now_ms()
        self.log = Log(self.t0)
        self.c = Cluster(self.log)
        self.rng = random.Random(seed)
        self.primary = "n1"
        self.faults = []
        self.rounds = []	# {start_ms, faults, converge_ms, converged, actions}
        self.rewinds = []	# (t_ms, node, how)
        self.crashes = []	# (t_ms, host, what)
        self.runbook = []	# (t_ms, line)
        self.abort = threading.Event()
        self.procs = {}

    # ---- helpers
    def sleep(self, s):
        self.abort.wait(max(s, 0))

    def standbys(self):
        return [n for n in NODES if n != self.primary]

    def act(self, line):
        self.runbook.append((now_ms(), line))
        self.log("runbook: " + line)

    # ---- planning
    def plan(self, n):
        r = self.rng
        names = sorted(KINDS)
        total = sum(KINDS[k][0] for k in names)
        x = r.random() * total
        for kind in names:
            x -= KINDS[kind][0]
            if x < 0:
                break
        return Fault(n, kind, [r.random() for _ in range(5)])

    def resolve(self, f):
        """Targets and resources for the cluster as it is now."""
        d = f.d
        P = self.primary
        S = self.standbys()
        # where a fault on one node lands: the primary 60 %, else a standby
        node = P if d[0] < 0.6 else pick(S, d[1])
        host = node if d[0] < 0.85 else "wt"
        k = f.kind
        if k in ("kill_worker", "stop_worker", "slow_rpc"):
            role = "rpc" if k == "slow_rpc" else pick(WORKERS, d[2])
            if host == "wt" and role == "hba":
                role = "probe"
            f.targets = [host, role]
            f.res = {"hw:" + host}
            if k == "stop_worker":
                f.dur = 1 + d[3] * (2 * LEASE_MS / 1000.0 - 1)
            elif k == "kill_worker":
                f.dur = 1
        elif k in ("kill_daemon", "harepd_restart"):
            f.targets = [host]
            f.res = {"hd:" + host, "hw:" + host}
        elif k == "pg_crash":
            f.targets = [node]
            f.res = {"pg:" + node}
        elif k in ("failover", "split_promote"):
            new = pick(S, d[1])
            f.targets = [P, new]
            f.res = {"promote", "pg:" + P, "pg:" + new, "hd:" + P}
        elif k == "isolate":
            f.targets = [node]
        elif k in ("cut_pair", "oneway"):
            hosts = NODES + ["wt"]
            a = node
            b = pick([h for h in hosts if h != a], d[2])
            f.targets = [a, b] if d[4] < 0.5 or k == "cut_pair" else [b, a]
        elif k == "link_down":
            f.targets = [host]
        elif k == "witness_down":
            what = pick(["harepd", "pg", "link"], d[2])
            f.targets = ["wt", what]
            f.res = {"hd:wt", "hw:wt"} if what == "harepd" else \
                {"pg:wt"} if what == "pg" else set()
        elif k in ("standby_rejoin", "standby_follow"):
            s = pick(S, d[1])
            f.targets = [s]
            f.res = {"pg:" + s, "promote"}
            f.dur = 1
        return f

    def conflicts(self, f, active):
        held = set()
        for a in active:
            held |= a.res
        if f.res & held:
            return True
        # a promotion while the old primary's harepd is down or about to
        # be: nothing can fence a node whose harepd does not run (see
        # README: excluded by design)
        for a in active:
            if a.kind in ("failover", "split_promote") and f.kind in ("kill_daemon", "harepd_restart") \
                    and f.targets[0] == a.targets[0]:
                return True
        return False

    # ---- running a fault
    def run_fault(self, f):
        f.t_start = now_ms()
        self.log("fault start " + f.label())
        try:
            getattr(self, "f_" + f.kind)(f)
        except Exception as e:	# a bug of ours: say so, keep going
            f.note += " (nemesis error: %r)" % e
            self.log("fault %d: nemesis error %r" % (f.n, e))
        f.t_end = now_ms()
        self.log("fault end   " + f.label())

    def _signal(self, pid, sig):
        try:
            os.kill(pid, sig)
            return True
        except OSError:
            return False

    def f_kill_worker(self, f):
        h, role = f.targets
        pid = self.c.worker_pid(h, role)
        if pid is None or not self._signal(pid, signal.SIGKILL):
            f.note = "(no %s worker to kill)" % role
        else:
            f.note = "pid %d" % pid
        self.sleep(f.dur)

    def _is_child(self, pid, h):
        try:
            with open("/proc/%d/stat" % pid) as fp:
                return int(fp.read().split(")")[-1].split()[1]) == self.c.sup_pid(h)
        except (OSError, ValueError, IndexError):
            return False

    def f_stop_worker(self, f):
        h, role = f.targets
        pid = self.c.worker_pid(h, role)
        if pid is None or not self._signal(pid, signal.SIGSTOP):
            f.note = "(no %s worker)" % role
            return self.sleep(f.dur)
        f.note = "pid %d" % pid
        self.sleep(f.dur)
        if self._is_child(pid, h):
            self._signal(pid, signal.SIGCONT)
        else:
            f.note += " (gone before SIGCONT)"

    def f_slow_rpc(self, f):
        h = f.targets[0]
        pid = self.c.worker_pid(h, "rpc")
        if pid is None:
            f.note = "(no rpc worker)"
            return self.sleep(f.dur)
        f.note = "pid %d" % pid
        end = time.monotonic() + f.dur
        while time.monotonic() < end and not self.abort.is_set():
            if not self._is_child(pid, h):
                f.note += " (restarted)"
                break
            self._signal(pid, signal.SIGSTOP)
            self.sleep(0.3)
            self._signal(pid, signal.SIGCONT)
            self.sleep(0.1)
        if self._is_child(pid, h):
            self._signal(pid, signal.SIGCONT)
        self.sleep(end - time.monotonic())

    def f_kill_daemon(self, f):
        h = f.targets[0]
        self.c.harepd_kill(h)
        self.sleep(f.dur)
        self.c.harepd_start(h)

    def f_harepd_restart(self, f):
        h = f.targets[0]
        rc, _, err = self.c.run([HAREPDCTL, "-s", os.path.join(self.c.dir, h, "harepd", "harepd.sock"),
                                 "stop-client"], timeout=10)
        if rc != 0:
            f.note = "(stop-client failed: %s)" % err.strip()[:80]
        self.c.harepd_stop(h)
        self.sleep(f.dur)
        self.c.harepd_start(h)

    def f_pg_crash(self, f):
        h = f.targets[0]
        self.c.cl("cl_pg_stop", h, "immediate", timeout=60)
        self.sleep(f.dur)
        self.c.cl("cl_pg_start", h, timeout=90)

    def promote(self, f, new):
        t = now_ms()
        rc, out = self.c.repmgr(new, "standby", "promote", timeout=90)
        f.t_promoted = now_ms()
        if rc == 0:
            f.promoted = new
            self.primary = new
            f.note = "promoted %s in %d ms" % (new, f.t_promoted - t)
        else:
            f.note = "promote of %s failed: %s" % (new, out.strip().split("\n")[-1][:100])
        self.log("fault %d: %s" % (f.n, f.note))
        if rc != 0:
            return
        # what repmgr's documentation says after a manual promote: the
        # other standbys follow the new primary (harepd's majority needs
        # them: a standby still naming the old primary disagrees)
        for s in NODES:
            if s not in f.targets and self.c.in_recovery(s) == "t":
                self.act("after the promote of %s: repmgr standby follow on %s" % (new, s))
                rc, _ = self.c.repmgr(s, "standby", "follow", "--upstream-node-id=%s" % new[1:],
                                      timeout=120)
                if rc != 0:	# it replayed past the fork: pg_rewind
                    self.rejoin(s, new, "standby follow refused")

    def f_failover(self, f):
        old, new = f.targets
        self.c.cl("cl_pg_stop", old, "immediate", timeout=60)
        wait = 1 + f.d[2] * 2
        self.sleep(wait)
        self.promote(f, new)
        self.sleep(f.dur - wait)
        # the old primary comes back as it was: a second primary until the
        # runbook rejoins it
        self.c.cl("cl_pg_start", old, timeout=90)

    def _isolate(self, h, cut):
        for o in NODES + ["wt"]:
            if o != h:
                self.c.route(h, o, cut)
                self.c.route(o, h, cut)

    def f_split_promote(self, f):
        old, new = f.targets
        self._isolate(old, True)
        wait = 1 + f.d[2] * 2
        self.sleep(wait)
        self.promote(f, new)
        self.sleep(f.dur - wait)
        self._isolate(old, False)

    def f_isolate(self, f):
        h = f.targets[0]
        self._isolate(h, True)
        self.sleep(f.dur)
        self._isolate(h, False)

    def f_cut_pair(self, f):
        a, b = f.targets
        self.c.route(a, b, True)
        self.c.route(b, a, True)
        self.sleep(f.dur)
        self.c.route(a, b, False)
        self.c.route(b, a, False)

    def f_oneway(self, f):
        a, b = f.targets
        self.c.route(a, b, True)
        self.sleep(f.dur)
        self.c.route(a, b, False)

    def f_link_down(self, f):
        h = f.targets[0]
        self.c.link(h, True)
        self.sleep(f.dur)
        self.c.link(h, False)

    def f_witness_down(self, f):
        what = f.targets[1]
        if what == "harepd":
            self.c.harepd_stop("wt")
            self.sleep(f.dur)
            self.c.harepd_start("wt")
        elif what == "pg":
            self.c.cl("cl_pg_stop", "wt", "immediate", timeout=60)
            self.sleep(f.dur)
            self.c.cl("cl_pg_start", "wt", timeout=90)
        else:
            self.c.link("wt", True)
            self.sleep(f.dur)
            self.c.link("wt", False)

    def rejoin(self, h, to, why):
        """The runbook's answer to a node that is not a standby of `to`:
        stop it, repmgr node rejoin --force-rewind (pg_rewind); if that
        fails, a fresh standby clone."""
        self.act("rejoin %s to %s (%s): pg_ctl stop -m fast; repmgr node rejoin --force-rewind" %
                 (h, to, why))
        self.c.cl("cl_pg_stop", h, "fast", timeout=90)
        if not self.c.pg_pid(h) is None:
            self.c.cl("cl_pg_stop", h, "immediate", timeout=60)
        conn = "host=%s port=5432 user=repmgr dbname=repmgr connect_timeout=2" % ip_of(to)
        rc, out = self.c.repmgr(h, "node", "rejoin", "-d", conn, "--force-rewind", timeout=180)
        self.rewinds.append((now_ms(), h, "rejoin" if rc == 0 else "rejoin failed"))
        if rc == 0:
            return True
        self.act("rejoin of %s failed (%s): standby clone --force from %s" %
                 (h, out.strip().split("\n")[-1][:120], to))
        self.c.cl("cl_pg_stop", h, "immediate", timeout=60)
        rc, out = self.c.repmgr(h, "-h", ip_of(to), "-p", "5432", "-U", "repmgr", "-d", "repmgr",
                                "standby", "clone", "--force", "--fast-checkpoint", timeout=300)
        self.rewinds.append((now_ms(), h, "clone" if rc == 0 else "clone failed"))
        if rc != 0:
            self.act("standby clone of %s failed: %s" % (h, out.strip()[-200:]))
            return False
        self.c.cl("cl_pg_start", h, timeout=90)
        self.c.repmgr(h, "standby", "register", "--force", timeout=60)
        return True

    def f_standby_rejoin(self, f):
        h = f.targets[0]
        if self.c.in_recovery(h) != "t":
            f.note = "(not a standby now)"
            return
        self.rejoin(h, self.primary, "nemesis fault")

    def f_standby_follow(self, f):
        h = f.targets[0]
        rc, out = self.c.repmgr(h, "standby", "follow",
                                "--upstream-node-id=%s" % self.primary[1:], timeout=120)
        f.note = "rc %d" % rc

    # ------------------------------------------------------------ healing
    def check_daemons(self):
        """harepd must run everywhere unless we stopped it: a supervisor
        gone that we did not end is a crash. Started again either way."""
        for h in HAREPD_HOSTS:
            if self.c.sup_alive(h):
                continue
            pid = self.c.sup_pid(h)
            if pid and pid not in self.c.our_stops.get(h, set()):
                self.crashes.append((now_ms(), h, "supervisor pid %d gone" % pid))
                self.log("CRASH: harepd on %s (pid %d) is gone and the nemesis did not stop it" %
                         (h, pid))
            self.act("harepd on %s not running: start it" % h)
            self.c.harepd_start(h)

    def check_repmgrd(self):
        for h in NODES + ["wt"]:
            try:
                pid = int(open(os.path.join(self.c.dir, h, "repmgrd.pid")).read())
                if os.path.isdir("/proc/%d" % pid):
                    continue
            except (OSError, ValueError):
                pass
            self.act("repmgrd on %s not running: start it" % h)
            self.c.cl("cl_repmgrd_start", h, timeout=30)

    def converge(self, timeout=150):
        """What an operator following the runbook does once the faults
        are over; True when writes reach the one primary again."""
        end = time.monotonic() + timeout
        self.check_daemons()
        self.check_repmgrd()
        for h in NODES + ["wt"]:
            if self.c.pg_pid(h) is None:
                self.act("PostgreSQL on %s not running: start it" % h)
                self.c.cl("cl_pg_start", h, timeout=90)
        prim = [n for n in NODES if self.c.in_recovery(n) == "f"]
        if len(prim) > 1:
            tl = {n: self.c.timeline(n) for n in prim}
            keep = max(prim, key=lambda n: (tl[n], n == self.primary))
            for n in prim:
                if n != keep:
                    self.rejoin(n, keep, "old primary: timeline %d, %s is on %d" %
                                (tl[n], keep, tl[keep]))
            self.primary = keep
        elif len(prim) == 1:
            self.primary = prim[0]
        else:
            lsn = {}
            for n in NODES:
                v = self.c.psql(n, "SELECT pg_last_wal_replay_lsn() - '0/0'::pg_lsn")
                try:
                    lsn[n] = float(v)
                except (TypeError, ValueError):
                    pass
            if lsn:
                best = max(lsn, key=lambda n: lsn[n])
                self.act("no primary: repmgr standby promote on %s (most WAL replayed)" % best)
                rc, _ = self.c.repmgr(best, "standby", "promote", timeout=90)
                if rc == 0:
                    self.primary = best
        # every standby streams from the primary: else follow, else rejoin
        for s in self.standbys():
            if not self.wait(lambda: s in self.c.streaming_to(self.primary), 8):
                if self.c.in_recovery(s) == "t":
                    self.act("%s does not stream from %s: repmgr standby follow" % (s, self.primary))
                    self.c.repmgr(s, "standby", "follow",
                                  "--upstream-node-id=%s" % self.primary[1:], timeout=120)
                    if self.wait(lambda: s in self.c.streaming_to(self.primary), 10):
                        continue
                self.rejoin(s, self.primary, "not streaming from %s" % self.primary)
                self.wait(lambda: s in self.c.streaming_to(self.primary), 15)
        ok = self.wait(lambda: self.c.hap_up() == [self.primary] and self.last_ack_on(self.primary),
                       max(end - time.monotonic(), 5))
        if not ok:
            self.log("not converged: pg_rw UP %s, primary %s, last ack %s" %
                     (self.c.hap_up(), self.primary, self.last_ack))
        return ok

    def wait(self, cond, secs):
        end = time.monotonic() + secs
        while True:
            try:
                if cond():
                    return True
            except Exception:
                pass
            if time.monotonic() >= end or self.abort.is_set():
                return False
            time.sleep(0.25)

    # the writer's last acknowledged commit, read from its log as it grows
    last_ack = None

    def last_ack_on(self, h, within_ms=1500):
        self.read_acks()
        return self.last_ack is not None and self.last_ack[1] == h and \
            now_ms() - self.last_ack[0] <= within_ms

    _ack_pos = 0

    def read_acks(self):
        try:
            with open(self.ack_log) as f:
                f.seek(self._ack_pos)
                data = f.read()
        except OSError:
            return
        cut = data.rfind("\n") + 1
        self._ack_pos += len(data[:cut].encode())
        for line in data[:cut].split("\n"):
            p = line.split(" ")
            if len(p) >= 4 and p[0] == "ack":
                self.last_ack = (int(p[2]), node_of_ip(p[3]))

    # ------------------------------------------------------------ the run
    def setup(self, out):
        rc, o = self.c.cl("init", *NODES, timeout=30)
        if rc != 0:
            return "cl init: " + o
        self.c.dir = o.strip().split("\n")[-1]
        with open(os.path.join(self.c.dir, "cluster.env")) as f:
            self.c.pfx = re.search(r"CL_PFX=(\S+)", f.read()).group(1)
        self.log("cluster directory %s, namespaces %s-*" % (self.c.dir, self.c.pfx))
        for step, args, t in (("cluster", ["cl_up"], 400),
                              ("harepd", ["cl_harepd_start_all"], 90),
                              ("writes on n1", ["cl_wait_writer", "n1", "60"], 90)):
            rc, o = self.c.cl(*args, timeout=t)
            if rc != 0:
                return "%s: %s" % (step, o.strip()[-500:])
        if self.c.psql("n1", "CREATE TABLE nem (id bigint PRIMARY KEY, "
                       "node inet DEFAULT inet_server_addr(), at timestamptz DEFAULT "
                       "clock_timestamp()); ALTER TABLE nem OWNER TO app", db="app") is None:
            return "CREATE TABLE nem failed"
        self.ack_log = os.path.join(out, "acks.log")
        self.pgcheck_log = os.path.join(out, "pgcheck.log")
        self.stopfile = os.path.join(out, "clients.stop")
        for p in (self.ack_log, self.pgcheck_log, self.stopfile):
            if os.path.exists(p):
                os.unlink(p)
        client = os.path.join(HERE, "nsclient.py")
        hap = ["ip", "netns", "exec", self.c.ns("hap"), "/usr/bin/python3", client]
        self.procs["writer"] = subprocess.Popen(
            hap + ["writer", ip_of("hap"), "5000", APP_PASSWORD, self.ack_log, self.stopfile, "50"],
            stdin=subprocess.DEVNULL)
        self.procs["pgcheck"] = subprocess.Popen(
            hap + ["pgcheck", self.pgcheck_log, self.stopfile,
                   os.path.join(self.c.dir, "hap", "stats.sock")] + [ip_of(n) for n in NODES],
            stdin=subprocess.DEVNULL)
        self.procs["monitor"] = subprocess.Popen([CL, "cl_monitor_loop"], env=self.c.env(),
                                                 stdin=subprocess.DEVNULL,
                                                 stdout=subprocess.DEVNULL,
                                                 stderr=subprocess.DEVNULL)
        if not self.wait(lambda: self.last_ack_on("n1"), 20):
            return "the writer's INSERTs do not reach n1"
        return None

    def schedule(self):
        end = now_ms() + self.minutes * 60000
        n = 0
        while now_ms() < end and not self.abort.is_set():
            r = self.rng
            f1 = self.plan(n + 1)
            second = r.random() < 0.5
            offset = r.random() * min(f1.dur, 10)
            f2 = self.plan(n + 2)
            pause = 3 + r.random() * 7
            n += 2
            rnd = {"start_ms": now_ms(), "faults": [], "actions_from": len(self.runbook)}
            active = []
            self.resolve(f1)
            f1.thread = threading.Thread(target=self.run_fault, args=(f1,))
            f1.thread.start()
            active.append(f1)
            if second:
                self.sleep(offset)
                self.resolve(f2)
                live = [f1] if f1.thread.is_alive() else []
                if not self.conflicts(f2, live):
                    f2.thread = threading.Thread(target=self.run_fault, args=(f2,))
                    f2.thread.start()
                    active.append(f2)
                else:
                    self.log("fault %s skipped (conflicts with #%d)" % (f2.label(), f1.n))
            for f in active:
                f.thread.join()
                self.faults.append(f)
                rnd["faults"].append(f.n)
            rnd["healed_ms"] = now_ms()
            self.c.heal_all()	# nothing left cut, whatever happened
            rnd["converged"] = self.converge()
            rnd["converged_ms"] = now_ms()
            rnd["actions"] = [l for _, l in self.runbook[rnd.pop("actions_from"):]]
            self.rounds.append(rnd)
            self.log("round %d: converged=%s in %.1f s, writes on %s; pause %.1f s" %
                     (len(self.rounds), rnd["converged"],
                      (rnd["converged_ms"] - rnd["healed_ms"]) / 1000.0, self.primary, pause))
            self.sleep(pause)

    def stop_clients(self):
        with open(self.stopfile, "w"):
            pass
        open(os.path.join(self.c.dir, "monitor.stop"), "w").close()
        for name, p in self.procs.items():
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()

    def keep_logs(self, out):
        dst = os.path.join(out, "cluster")
        for root, dirs, files in os.walk(self.c.dir):
            if "data" in dirs:
                dirs.remove("data")
            for fn in files:
                if fn.endswith((".log", ".out", ".yml", ".conf", ".cfg")) or fn.startswith("monitor."):
                    src = os.path.join(root, fn)
                    d = os.path.join(dst, os.path.relpath(root, self.c.dir))
                    os.makedirs(d, exist_ok=True)
                    try:
                        shutil.copy(src, d)
                    except OSError:
                        pass

    def teardown(self):
        if self.c.dir:
            self.c.cl("cl_down", timeout=120)

    # ------------------------------------------------------------ analysis
    def analyse(self, final_ids):
        acks, errs = [], 0
        with open(self.ack_log) as f:
            for line in f:
                p = line.split(" ", 3)
                if p[0] == "ack" and len(p) == 4:
                    acks.append((int(p[2]), int(p[1]), node_of_ip(p[3].strip())))
                elif p[0] == "err":
                    errs += 1
        acks.sort()
        # double writers, as each monitor saw them
        pg_bad, pg_n, pg_times = 0, 0, []
        hp_bad, hp_n = 0, 0
        with open(self.pgcheck_log) as f:
            for line in f:
                p = line.split()
                if len(p) != 3:
                    continue
                two = p[2] != "-" and len(p[2].split(",")) > 1
                if p[1] == "p":
                    pg_n += 1
                    pg_bad += two
                elif p[1] == "h":
                    hp_n += 1
                    hp_bad += two
                if two:
                    pg_times.append(int(p[0]))
        mon_n, mon_bad = 0, 0
        try:
            mon_n, mon_bad = map(int, open(os.path.join(self.c.dir, "monitor.count")).read().split())
        except (OSError, ValueError):
            pass
        mon_times = []
        day = time.strftime("%Y-%m-%d", time.gmtime(self.t0 / 1000))
        try:
            for line in open(os.path.join(self.c.dir, "monitor.violations")):
                t = time.strptime(day + " " + line.split()[0], "%Y-%m-%d %H:%M:%S")
                mon_times.append(int(time.mktime(t) * 1000))
        except (OSError, ValueError):
            pass
        # every acknowledged id on the final primary, or explained
        lost, rewound = [], []
        for t, i, h in acks:
            if i in final_ids:
                continue
            later = [r for r in self.rewinds if r[1] == h and r[0] > t]
            others = [a for a in acks if t - 2000 <= a[0] <= t and a[2] != h]
            dw = [x for x in pg_times if t - 2000 <= x <= t + 1000] + \
                [x for x in mon_times if t - 3000 <= x <= t + 2000]
            rec = {"id": i, "acked_ms": t, "acked_at": iso(t), "node": h,
                   "rewound_at": iso(later[0][0]) if later else None,
                   "rewound_by": later[0][2] if later else None}
            if later and not others and not dw:
                rewound.append(rec)
            else:
                rec["why_not_explained"] = ("never rewound" if not later else
                                            "another node acked within 2 s before" if others else
                                            "a double-writer sample around it")
                lost.append(rec)
        # unavailability: the client's longest stretch without an ack
        times = [a[0] for a in acks]
        import bisect

        def first_ack_after(t):
            k = bisect.bisect_left(times, t)
            return times[k] if k < len(times) else None

        def longest_gap(a, b):
            k = max(bisect.bisect_left(times, a) - 1, 0)
            g = 0
            while k + 1 < len(times) and times[k] < b:
                g = max(g, times[k + 1] - times[k])
                k += 1
            return g
        per_kind = {}
        over = []
        rounds = self.rounds
        for ri, rnd in enumerate(rounds):
            nxt = rounds[ri + 1]["start_ms"] if ri + 1 < len(rounds) else rnd["converged_ms"]
            fs = [f for f in self.faults if f.n in rnd["faults"]]
            heal = rnd["healed_ms"]
            k = bisect.bisect_left(times, heal) - 1
            recovered = first_ack_after(heal)
            rec_ms = 0 if k >= 0 and heal - times[k] <= 500 else \
                (recovered - heal if recovered else None)
            rnd["recovery_ms"] = rec_ms
            rnd["longest_gap_ms"] = longest_gap(rnd["start_ms"], nxt)
            for f in fs:
                e = per_kind.setdefault(f.kind, {"count": 0, "longest_gap_ms": 0,
                                                 "longest_recovery_ms": 0,
                                                 "promote_to_write_ms": None,
                                                 "over_bound": 0})
                e["count"] += 1
                e["longest_gap_ms"] = max(e["longest_gap_ms"], rnd["longest_gap_ms"])
                if rec_ms is not None:
                    e["longest_recovery_ms"] = max(e["longest_recovery_ms"], rec_ms)
                # after a promote the bound is counted from the promote
                if f.promoted:
                    after = [a[0] for a in acks if a[0] >= f.t_promoted and a[2] == f.promoted]
                    p2w = after[0] - f.t_promoted if after else None
                    e["promote_to_write_ms"] = max(e["promote_to_write_ms"] or 0, p2w or 0)
                    f.note += " promote->write %s ms" % p2w
                    if p2w is None or p2w > BOUND_MS:
                        e["over_bound"] += 1
                        over.append({"fault": f.label(), "promote_to_write_ms": p2w})
                elif not rnd["actions"] and (rec_ms is None or rec_ms > BOUND_MS):
                    e["over_bound"] += 1
                    over.append({"fault": f.label(), "heal_to_write_ms": rec_ms,
                                 "round": ri + 1})
        return {
            "acks": acks, "errs": errs, "lost": lost, "rewound": rewound,
            "pgcheck": (pg_n, pg_bad), "monitor": (mon_n, mon_bad), "hapview": (hp_n, hp_bad),
            "per_kind": per_kind, "over_bound": over,
        }

    def scan_crashes(self, out):
        """Worker exits harepd itself calls a crash, other than SIGKILL
        (ours, or the supervisor's for a frozen worker)."""
        seen = set()
        for h in HAREPD_HOSTS:
            for fn in ("harepd.log", "stderr.log"):
                p = os.path.join(self.c.dir, h, "harepd", fn)
                try:
                    lines = open(p, errors="replace").read().split("\n")
                except OSError:
                    continue
                for line in lines:
                    m = re.search(r"worker (\w+) \(pid (\d+)\) crashed: ([^;\"]*)", line)
                    bad = None
                    if m and "signal 9 " not in m.group(3):
                        key = (h, m.group(1), m.group(2))
                        if key not in seen:
                            seen.add(key)
                            bad = "worker %s pid %s %s" % m.group(1, 2, 3)
                    elif re.search(r"AddressSanitizer|runtime error:|Assertion .* failed", line):
                        bad = line[:200]
                    if bad:
                        t = re.search(r'"(?:ts|time)":"([^"]+)"', line)
                        self.crashes.append((t.group(1) if t else "?", h, bad))


def iso(t_ms):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t_ms / 1000)) + ".%03dZ" % (t_ms % 1000)


class Tap:
    def __init__(self):
        self.n = 0
        self.failed = 0

    def ok(self, cond, name, diag=()):
        self.n += 1
        print("%s %d - %s" % ("ok" if cond else "not ok", self.n, name), flush=True)
        if not cond:
            self.failed += 1
            for d in diag:
                print("# " + d)

    def done(self):
        print("1..%d" % self.n, flush=True)
        return 0 if self.failed == 0 else 1


def table(s):
    rows = ["%-16s %5s %11s %13s %11s %5s" % ("fault kind", "count", "longest gap",
                                               "after heal", "promote->w", ">bnd")]
    for k in sorted(s["faults_by_kind"]):
        e = s["unavailability_by_kind"].get(k, {})
        rows.append("%-16s %5d %9s s %11s s %9s s %5d" % (
            k, s["faults_by_kind"][k],
            "%.1f" % (e.get("longest_gap_ms", 0) / 1000.0),
            "%.1f" % (e.get("longest_recovery_ms", 0) / 1000.0),
            "-" if e.get("promote_to_write_ms") is None else "%.1f" % (e["promote_to_write_ms"] / 1000.0),
            e.get("over_bound", 0)))
    rows += [
        "",
        "seed %s, %s min, %d rounds, %d faults" % (s["seed"], s["minutes"], s["rounds"],
                                                   sum(s["faults_by_kind"].values())),
        "double-writer samples: e2e monitor (HAProxy + pg_hba) %d of %d, HAProxy stats %d of %d, "
        "pgsql-check probe %d of %d" % (
            s["double_writer_samples"]["haproxy_hba_monitor"], s["samples"]["haproxy_hba_monitor"],
            s["double_writer_samples"]["haproxy_stats"], s["samples"]["haproxy_stats"],
            s["double_writer_samples"]["pgsql_check_probe"], s["samples"]["pgsql_check_probe"]),
        "writes: %d acknowledged, %d lost, %d rewound by rejoin (explained), %d not acknowledged" % (
            s["writes"]["acknowledged"], s["writes"]["lost"], s["writes"]["rewound"],
            s["writes"]["not_acknowledged"]),
        "harepd crashes: %d; runbook actions: %d; rounds not converged: %d" % (
            s["harepd_crashes"], len(s["runbook"]), s["rounds_not_converged"]),
        "bound for the time without a writer: lease %d + deadline %d + 1500 = %d ms" % (
            LEASE_MS, DEADLINE_MS, BOUND_MS),
    ]
    return "\n".join(rows)


def main():
    seed = os.environ.get("NEMESIS_SEED") or str(random.SystemRandom().randrange(1, 10 ** 9))
    minutes = float(os.environ.get("NEMESIS_MIN", "30"))
    out = os.path.join(BUILD, "nemesis", time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) +
                       "-seed" + seed)
    os.makedirs(out, exist_ok=True)
    nem = Nemesis(int(seed), minutes)
    nem.log.open(os.path.join(out, "nemesis.log"))
    tap = Tap()
    print("# nemesis seed %s, %s min (replay: make nemesis NEMESIS_SEED=%s NEMESIS_MIN=%s)" %
          (seed, minutes, seed, os.environ.get("NEMESIS_MIN", "30")), flush=True)
    print("# output in %s" % out, flush=True)
    if os.geteuid() != 0:
        print("1..0 # SKIP the nemesis needs root (network namespaces)")
        return 0

    def stop(signum, frame):
        nem.abort.set()
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGHUP, stop)
    try:
        err = nem.setup(out)
        tap.ok(err is None, "cluster up (n1 n2 n3, witness, HAProxy, harepd), writer on n1",
               [err or ""])
        if err:
            nem.keep_logs(out)
            return tap.done()
        nem.schedule()
        nem.log("schedule over: final healing")
        nem.c.heal_all()
        final_ok = nem.converge()
        nem.sleep(2)
        nem.stop_clients()
        nem.check_daemons()
        nem.scan_crashes(out)
        ids = nem.c.psql(nem.primary, "SELECT id FROM nem", db="app", timeout=60)
        final_ids = set(int(x) for x in (ids or "").split("\n") if x)
        a = nem.analyse(final_ids)
        nem.keep_logs(out)
        kinds = {}
        for f in nem.faults:
            kinds[f.kind] = kinds.get(f.kind, 0) + 1
        not_conv = [i + 1 for i, r in enumerate(nem.rounds) if not r["converged"]]
        s = {
            "seed": int(seed), "minutes": minutes, "rounds": len(nem.rounds),
            "final_primary": nem.primary,
            "faults_by_kind": kinds,
            "double_writer_samples": {"haproxy_hba_monitor": a["monitor"][1],
                                      "pgsql_check_probe": a["pgcheck"][1],
                                      "haproxy_stats": a["hapview"][1]},
            "samples": {"haproxy_hba_monitor": a["monitor"][0], "pgsql_check_probe": a["pgcheck"][0],
                        "haproxy_stats": a["hapview"][0]},
            "writes": {"acknowledged": len(a["acks"]), "lost": len(a["lost"]),
                       "rewound": len(a["rewound"]), "not_acknowledged": a["errs"],
                       "on_final_primary": len(final_ids)},
            "lost_writes": a["lost"][:50],
            "rewound_writes": a["rewound"][:200],
            "unavailability_by_kind": a["per_kind"],
            "bound_ms": BOUND_MS,
            "over_bound": a["over_bound"],
            "harepd_crashes": len(nem.crashes),
            "crashes": [list(c) for c in nem.crashes],
            "rounds_not_converged": len(not_conv),
            "runbook": [[iso(t), l] for t, l in nem.runbook],
            "faults": [f.to_json() for f in nem.faults],
            "rounds_detail": nem.rounds,
            "output": out,
        }
        with open(os.path.join(out, "summary.json"), "w") as f:
            json.dump(s, f, indent=1)
        txt = table(s)
        with open(os.path.join(out, "summary.txt"), "w") as f:
            f.write(txt + "\n")
        for line in txt.split("\n"):
            print("# " + line)
        if a["rewound"]:
            print("# rewound (acknowledged by the only writer, then rewound by a rejoin: "
                  "repmgr's asynchronous replication permits these):")
            for r in a["rewound"][:20]:
                print("#   id %d acked %s by %s, rewound %s" % (r["id"], r["acked_at"], r["node"],
                                                              r["rewound_at"]))
        tap.ok(a["monitor"][0] > 0 and a["monitor"][1] == 0,
               "HAProxy/pg_hba monitor: no double writer (%d samples, %d with two)" % a["monitor"],
               ["see %s/cluster/monitor.violations" % out])
        tap.ok(a["hapview"][0] > 0 and a["hapview"][1] == 0,
               "HAProxy stats: never two servers UP in pg_rw (%d samples, %d with two)" % a["hapview"])
        tap.ok(a["pgcheck"][0] > 0 and a["pgcheck"][1] == 0,
               "pgsql-check probe: no double writer (%d samples, %d with two)" % a["pgcheck"])
        secs = minutes * 60
        tap.ok(len(a["acks"]) >= 50 * secs * 0.25,
               "the writer ran: %d commits acknowledged in %.0f s" % (len(a["acks"]), secs))
        tap.ok(not a["lost"], "every acknowledged write is on the final primary %s (%d acked, "
               "%d rewound by rejoin and explained, %d lost)" % (
                   nem.primary, len(a["acks"]), len(a["rewound"]), len(a["lost"])),
               ["lost id %(id)d acked %(acked_at)s by %(node)s: %(why_not_explained)s" % r
                for r in a["lost"][:20]])
        tap.ok(not nem.crashes, "no harepd crash (%d)" % len(nem.crashes),
               ["%s %s %s" % c for c in nem.crashes[:20]])
        tap.ok(not not_conv and final_ok, "the cluster converged after every round "
               "(not: %s)" % (not_conv or "-"))
        print("# summary: %s/summary.json" % out)
    except KeyboardInterrupt:
        nem.abort.set()
        tap.ok(False, "interrupted")
    finally:
        nem.abort.set()
        try:
            if nem.c.dir and os.path.isdir(nem.c.dir):
                if nem.procs:
                    nem.stop_clients()
                nem.keep_logs(out)
        except Exception:
            pass
        nem.c.heal_all() if nem.c.pfx else None
        nem.teardown()
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
