#!/usr/bin/env bash
# contrib/prometheus/harepd-alerts.yml: Debian's promtool comes with the
# whole prometheus package (~96 MB installed), so the rules are checked
# here with python3-yaml instead: the file parses, every rule has a
# name, an expression and a severity, and every harepd_* series an
# expression uses is one harepd prints and docs/METRICS.md documents.
. "$(dirname "$0")/../lib/tap.sh"
/usr/bin/python3 -c "import yaml" 2>/dev/null || skip_all "python3-yaml missing (make deps)"

out=$(/usr/bin/python3 - "$TOP" <<'PY' 2>&1
import re, sys, yaml
top = sys.argv[1]
rules = yaml.safe_load(open(top + "/contrib/prometheus/harepd-alerts.yml"))
src = open(top + "/supervisor/metrics.c").read()
doc = open(top + "/docs/METRICS.md").read()
names = []
for g in rules["groups"]:
    for r in g["rules"]:
        assert r.get("alert") and r.get("expr"), r
        assert r.get("labels", {}).get("severity") in ("warning", "critical"), r
        names.append(r["alert"])
        for m in re.findall(r"harepd_[a-z_]+", r["expr"]):
            base = re.sub(r"_total$", "", m)
            if base + "\"" not in src and base + " " not in src:
                print("not printed by supervisor/metrics.c: " + m)
            if m not in doc:
                print("not in docs/METRICS.md: " + m)
print(" ".join(names))
PY
)
is "$(echo "$out" | tail -1)" \
	"HarepdNoVerdict HarepdTwoWriters HarepdLeaseExpiring HarepdWorkerRestarting" \
	"the four example alerts parse"
is "$(echo "$out" | head -n -1)" "" "every series they use is printed and documented"
done_testing
