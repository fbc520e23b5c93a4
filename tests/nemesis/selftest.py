#!/usr/bin/env python3
"""The nemesis's verdicts on made-up logs, without a cluster: a missing
acknowledged write is lost unless the only writer was rewound later; two
writers in a sample count; a worker killed by a signal other than SIGKILL
is a crash. TAP; run by make nemesis-short before the cluster run."""
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nemesis  # noqa: E402

N1, N2 = nemesis.ip_of("n1"), nemesis.ip_of("n2")
T = 1_800_000_000_000
tap = nemesis.Tap()


def run(acks, samples, rewinds, final, violations=0):
    d = tempfile.mkdtemp(prefix="nemesis-selftest.")
    try:
        n = nemesis.Nemesis(1, 1)
        n.t0 = T
        n.c.dir = d
        n.ack_log = os.path.join(d, "acks.log")
        n.pgcheck_log = os.path.join(d, "pgcheck.log")
        with open(n.ack_log, "w") as f:
            for i, t, ip in acks:
                f.write("ack %d %d %s\n" % (i, t, ip))
        with open(n.pgcheck_log, "w") as f:
            for t, kind, up in samples:
                f.write("%d %s %s\n" % (t, kind, up))
        with open(os.path.join(d, "monitor.count"), "w") as f:
            f.write("10 %d\n" % violations)
        n.rewinds = rewinds
        n.rounds = []
        return n.analyse(set(final))
    finally:
        shutil.rmtree(d)


# n1 writes ids 1-3 alone, then n2 (promoted) writes 4-5; 3 is missing
acks = [(1, T, N1), (2, T + 20, N1), (3, T + 40, N1), (4, T + 5000, N2), (5, T + 5020, N2)]
quiet = [(T + k * 100, "p", N1) for k in range(10)] + [(T + 100, "h", "n1")]
a = run(acks, quiet, [], [1, 2, 4, 5])
tap.ok([r["id"] for r in a["lost"]] == [3] and not a["rewound"],
       "a missing write whose node was never rewound is lost")
a = run(acks, quiet, [(T + 9000, "n1", "rejoin")], [1, 2, 4, 5])
tap.ok([r["id"] for r in a["rewound"]] == [3] and not a["lost"],
       "... and rewound (explained) when its node, the only writer, was rejoined later")
a = run(acks, quiet, [(T + 10, "n1", "rejoin")], [1, 2, 4, 5])
tap.ok([r["id"] for r in a["lost"]] == [3], "a rewind before the ack explains nothing")
two = quiet + [(T + 30, "p", N1 + "," + N2)]
a = run(acks, two, [(T + 9000, "n1", "rejoin")], [1, 2, 4, 5])
tap.ok([r["id"] for r in a["lost"]] == [3] and a["pgcheck"] == (11, 1),
       "a double-writer sample next to it: lost, and the sample counted")
a = run(acks, quiet + [(T + 200, "h", "n1,n2")], [], [1, 2, 3, 4, 5])
tap.ok(a["hapview"] == (2, 1) and not a["lost"], "two servers UP in HAProxy's view counted")
inter = [(1, T, N1), (2, T + 20, N2), (3, T + 40, N1)]
a = run(inter, quiet, [(T + 9000, "n1", "rejoin")], [1, 2])
tap.ok([r["id"] for r in a["lost"]] == [3], "another node acknowledging just before: lost")
a = run(acks, quiet, [], [1, 2, 3, 4, 5], violations=2)
tap.ok(a["monitor"] == (10, 2), "the e2e monitor's violations counted")

d = tempfile.mkdtemp(prefix="nemesis-selftest.")
try:
    os.makedirs(os.path.join(d, "n2", "harepd"))
    with open(os.path.join(d, "n2", "harepd", "harepd.log"), "w") as f:
        f.write('{"msg":"worker hba (pid 7) crashed: killed by signal 9 (Killed) after 5 ms; '
                'restarting in 100 ms","time":"t1"}\n')
        f.write('{"msg":"worker probe (pid 8) crashed: killed by signal 6 (Aborted) after 5 ms; '
                'restarting in 100 ms","time":"t2"}\n')
    n = nemesis.Nemesis(1, 1)
    n.c.dir = d
    n.scan_crashes(d)
    tap.ok(len(n.crashes) == 1 and "signal 6" in n.crashes[0][2],
           "SIGABRT of a worker is a crash, SIGKILL is not")
finally:
    shutil.rmtree(d)
sys.exit(tap.done())
