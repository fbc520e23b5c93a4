#!/usr/bin/env python3
"""The one table of `make bench`, and bench/results.json.

usage: report.py FIGURES.jsonl RESULTS.json

Each line of FIGURES.jsonl is one figure written by bench/lib.sh's
bench_fig: part, what, value, unit, cmd and optionally ref, ref_what,
ref_cmd, note. The table gives each figure its value, what it is measured
against in the same run and the ratio, and names the command that produced
it by number; the commands are listed in full under the table and carried
in full in the JSON.
"""
import json
import os
import platform
import sys
import time


def fmt(v):
    if v is None:
        return "-"
    if isinstance(v, str):
        return v
    if isinstance(v, int):
        return str(v)
    if abs(v) >= 100:
        return "%.0f" % v
    if abs(v) >= 10:
        return "%.1f" % v
    return "%.2f" % v


def num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def main():
    src, dst = sys.argv[1], sys.argv[2]
    figs = []
    with open(src) as f:
        for line in f:
            line = line.strip()
            if line:
                figs.append(json.loads(line))

    # in the order of the items; within one, as the parts wrote them
    def item_key(g):
        p = str(g.get("part") or "")
        head = p.split(",")[0]
        return int(head) if head.isdigit() else 99
    figs.sort(key=item_key)

    commands = []

    def cmd_no(c):
        if not c:
            return None
        if c not in commands:
            commands.append(c)
        return commands.index(c) + 1

    rows = []
    for g in figs:
        v, r = g.get("value"), g.get("ref")
        if num(v) and num(r) and r != 0:
            g["ratio"] = round(v / r, 3)
        else:
            g["ratio"] = None
        n, rn = cmd_no(g.get("cmd")), cmd_no(g.get("ref_cmd"))
        cmds = "[%d]" % n if n else "-"
        if rn and rn != n:
            cmds += " vs [%d]" % rn
        ref = "-"
        if g.get("ref") is not None or g.get("ref_what"):
            ref = fmt(g.get("ref"))
            if g.get("ref_what"):
                ref += " (%s)" % g["ref_what"]
        value = fmt(v)
        if v is None and g.get("note"):
            value = "-"
        rows.append([str(g.get("part") or "-"), g.get("what", ""), value,
                     g.get("unit") or "", ref, fmt(g["ratio"]), cmds,
                     g.get("note") or ""])

    head = ["#", "figure", "harepd", "unit", "measured against (same run)",
            "ratio", "command", "note"]
    width = [max(len(r[i]) for r in rows + [head]) for i in range(len(head))]
    right = {2, 5}

    def line(r):
        out = []
        for i, c in enumerate(r):
            if i == len(r) - 1:
                out.append(c)
            elif i in right:
                out.append(c.rjust(width[i]))
            else:
                out.append(c.ljust(width[i]))
        return "  ".join(out).rstrip()

    host = {
        "hostname": platform.node(),
        "kernel": platform.release(),
        "cpus": os.cpu_count(),
        "loadavg_at_end": open("/proc/loadavg").read().split()[:3],
    }
    print("harepd bench: %s, %d CPUs, load average at the end %s" % (
        time.strftime("%Y-%m-%d %H:%M:%S %Z"), host["cpus"],
        " ".join(host["loadavg_at_end"])))
    print(line(head))
    print(line(["-" * w for w in width[:-1]] + ["----"]))
    last = None
    for r in rows:
        if last is not None and r[0] != last:
            print()
        last = r[0]
        print(line(r))
    print()
    print("commands (run from the top of the tree; build directory %s):" %
          os.environ.get("HAREPD_BUILD", "build"))
    for i, c in enumerate(commands, 1):
        print("  [%d] %s" % (i, c))

    with open(dst, "w") as f:
        json.dump({"version": 1,
                   "generated_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                   "host": host,
                   "commands": commands,
                   "figures": figs}, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main()
