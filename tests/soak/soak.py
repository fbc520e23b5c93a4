#!/usr/bin/python3
"""The soak's kill loop (tests/soak/soak.sh sets the stage and reads the
summary). Against a running harepd supervisor:

  - every PHASE_S seconds the fake neighbour's answer flips between
    "this node is the primary" (verdict rw allow) and "node_2 is" (rw
    deny), by an atomic rename of the file it reads on every call;
  - KILLS times: a random worker (rpc, probe or hba) that is running
    gets SIGKILL after a random 0-60 ms;
  - after every kill: the supervisor still runs and answers status;
    pg_hba.conf is byte for byte the allow file or the deny file
    (harepd --print-hba's, made before the start: anything else is torn);
    a temp file beside it is never older than TEMP_MAX_S (a killed
    worker's leftover must be removed by the next one); and once the
    neighbour has said "deny" for longer than LEASE + GRACE, the file
    says deny (never allow on disk after a deny whose lease ran out),
    whenever an hba worker has been up for HBA_SETTLE_S (one killed
    every few hundred ms never gets to write anything: nothing can fence
    then). So that this is tested often, hba is spared from
    LEASE + GRACE - HBA_SETTLE_S into each deny phase to its end; the
    other workers are killed meanwhile;
  - every PARSE_EVERY kills, PostgreSQL parses the file
    (pg_hba_file_rules has no error).

Prints the counts as one JSON object on stdout; the details of every
failure on stderr.
"""
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time

ROLES = ("rpc", "probe", "hba")
PHASE_S = 8.0
GRACE_S = 2.5		# the probe's tick, a restart and the reload
TEMP_MAX_S = 3.0
HBA_SETTLE_S = 1.0
PARSE_EVERY = 100


class Soak:
    def __init__(self, a):
        self.a = a
        self.allow = open(a["allow"], "rb").read()
        self.deny = open(a["deny"], "rb").read()
        self.hba_dir = os.path.dirname(a["hba"])
        self.temps = {}		# name -> first seen (monotonic s)
        self.c = {"kills": {r: 0 for r in ROLES}, "phases": 0,
                  "verdicts_seen": 0, "verdict_allow": 0,
                  "verdict_deny": 0, "file_allow": 0, "file_deny": 0,
                  "checks": 0, "pg_parses": 0, "status_calls": 0,
                  "lease_checks": 0,
                  "no_worker_running": 0, "failures": 0,
                  "fail": {"torn": 0, "missing": 0, "temp_left": 0,
                           "allow_after_deny": 0, "supervisor_dead": 0,
                           "status_failed": 0, "unparsed": 0}}
        self.last_seq = None
        self.hba_up_s = 0.0	# the hba worker's uptime, per status
        self.set_phase(True)

    def fail(self, kind, msg):
        self.c["fail"][kind] += 1
        self.c["failures"] += 1
        print("FAIL %s: %s" % (kind, msg), file=sys.stderr, flush=True)

    # ---- the neighbour's answer ----

    def set_phase(self, allow):
        src = self.a["agree"] if allow else self.a["disagree"]
        tmp = self.a["answer"] + ".new"
        with open(src) as f, open(tmp, "w") as g:
            g.write(f.read())
        os.rename(tmp, self.a["answer"])
        self.phase_allow = allow
        self.phase_start = time.monotonic()
        self.c["phases"] += 1

    # ---- the workers ----

    def worker_pid(self, role):
        sup = self.a["sup_pid"]
        try:
            kids = open("/proc/%d/task/%d/children" % (sup, sup)).read()
        except OSError:
            return None
        for pid in kids.split():
            try:
                cmd = open("/proc/%s/cmdline" % pid, "rb").read().split(b"\0")
            except OSError:
                continue
            if b"--role" in cmd and cmd.index(b"--role") + 1 < len(cmd) \
                    and cmd[cmd.index(b"--role") + 1] == role.encode():
                return int(pid)
        return None

    def deny_due(self, now, before=0.0):
        return not self.phase_allow and \
            now - self.phase_start > self.a["lease_s"] + GRACE_S - before

    def kill_one(self):
        roles = ROLES
        if self.deny_due(time.monotonic(), HBA_SETTLE_S):
            roles = ("rpc", "probe")	# hba gets to fence: checked
        for _ in range(200):
            role = random.choice(roles)
            pid = self.worker_pid(role)
            if pid is not None:
                time.sleep(random.uniform(0, 0.06))
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    continue
                self.c["kills"][role] += 1
                return
            self.c["no_worker_running"] += 1
            time.sleep(0.01)

    # ---- the checks ----

    def sup_alive(self):
        try:
            st = open("/proc/%d/stat" % self.a["sup_pid"]).read()
        except OSError:
            return False
        return st.rsplit(")", 1)[1].split()[0] not in ("Z", "X")

    def status(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(2)
        try:
            s.connect(self.a["sock"])
            s.sendall(b"status json\n")
            buf = b""
            while True:
                d = s.recv(65536)
                if not d:
                    break
                buf += d
        finally:
            s.close()
        head, _, body = buf.partition(b"\n")
        if head != b"ok":
            raise ValueError(buf[:200])
        return json.loads(body)

    def check_status(self):
        self.c["status_calls"] += 1
        try:
            d = self.status()
        except (OSError, ValueError) as e:
            self.fail("status_failed", repr(e))
            return
        hba = [w for w in d["workers"] if w["name"] == "hba"]
        self.hba_up_s = hba[0]["uptime_ms"] / 1000 \
            if hba and hba[0]["state"] == "running" else 0.0
        v = d.get("verdict")
        if v and v["seq"] != self.last_seq:
            self.last_seq = v["seq"]
            self.c["verdicts_seen"] += 1
            self.c["verdict_" + v["rw"]] += 1

    def check_file(self):
        now = time.monotonic()
        try:
            data = open(self.a["hba"], "rb").read()
        except OSError as e:
            self.fail("missing", repr(e))
            return
        due = self.deny_due(now) and self.hba_up_s >= HBA_SETTLE_S
        self.c["lease_checks"] += due
        if data == self.allow:
            self.c["file_allow"] += 1
            if due:
                self.fail("allow_after_deny", "rw allow on disk %.1f s "
                          "after the neighbour said deny (lease %.1f s), "
                          "hba up %.1f s" % (now - self.phase_start,
                                             self.a["lease_s"],
                                             self.hba_up_s))
        elif data == self.deny:
            self.c["file_deny"] += 1
        else:
            n = sum(self.c["fail"].values())
            keep = "%s.torn.%d" % (self.a["hba"], n)
            open(keep, "wb").write(data)
            self.fail("torn", "pg_hba.conf is neither file (kept as %s)" %
                      keep)

    def check_temps(self):
        now = time.monotonic()
        names = [n for n in os.listdir(self.hba_dir) if "harepd-tmp" in n]
        self.temps = {n: self.temps.get(n, now) for n in names}
        for n, first in self.temps.items():
            if now - first > TEMP_MAX_S:
                self.fail("temp_left", "%s there for %.1f s" %
                          (n, now - first))
                self.temps[n] = now	# count it once per TEMP_MAX_S

    def check_parse(self):
        self.c["pg_parses"] += 1
        r = subprocess.run(self.a["psql"] + ["-Atc", "SELECT count(*) FROM "
                           "pg_hba_file_rules WHERE error IS NOT NULL"],
                           capture_output=True, text=True)
        if r.returncode != 0 or r.stdout.strip() != "0":
            self.fail("unparsed", "%s %s" % (r.stdout.strip(),
                                             r.stderr.strip()))

    def check(self, i):
        self.c["checks"] += 1
        if not self.sup_alive():
            self.fail("supervisor_dead", "pid %d" % self.a["sup_pid"])
            return False
        self.check_status()
        self.check_file()
        self.check_temps()
        if i % PARSE_EVERY == 0:
            self.check_parse()
        return True

    def run(self):
        t0 = time.monotonic()
        for i in range(1, self.a["kills"] + 1):
            if time.monotonic() - self.phase_start >= PHASE_S:
                self.set_phase(not self.phase_allow)
            self.kill_one()
            if not self.check(i):
                break
            if i % 1000 == 0:
                print("soak: %d kills, %.0f s, %d failures" %
                      (i, time.monotonic() - t0, self.c["failures"]),
                      file=sys.stderr, flush=True)
        # the last kill's leftovers: gone once the workers are back
        time.sleep(TEMP_MAX_S + 1)
        self.check_temps()
        self.check_file()
        self.check_parse()
        self.c["seconds"] = round(time.monotonic() - t0, 1)
        self.c["supervisor_alive"] = self.sup_alive()
        if not self.c["supervisor_alive"]:
            self.fail("supervisor_dead", "at the end")


def main():
    a = json.loads(sys.argv[1])
    s = Soak(a)
    s.run()
    print(json.dumps(s.c))


if __name__ == "__main__":
    main()
