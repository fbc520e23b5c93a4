#!/usr/bin/env bash
# conf/harepd.sample.yml (installed as /etc/harepd/conf.yml.sample) loads,
# and what it sets agrees with what its comments call the default where
# the default is "none": logs.filePath is left out (stderr, the journal).
. "$(dirname "$0")/../lib/tap.sh"
[ -x "$HAREPD" ] || bail "no $HAREPD: build first"
SAMPLE=$TOP/conf/harepd.sample.yml

out=$("$HAREPD" -n -f "$SAMPLE" 2>/dev/null)
is "$?" 0 "harepd -n loads the sample"
like "$out" $'\n    filePath: null\n' "the sample logs to stderr only (filePath: null)"
ok "grep -q '# Optional, default none (stderr only' '$SAMPLE'" \
    "its comment says the default is none"
# Every key left set under a 'default none' comment is one a working
# config needs (peers), never an optional setting shown as if default.
set_none=$(awk '/^ *#/ { if ($0 ~ /Optional/) none = ($0 ~ /default none/); next }
    /^ *[A-Za-z]+:/ { if (none) { sub(/^ */, ""); sub(/:.*/, ""); print } none = 0 }' "$SAMPLE" |
    sort -u | tr '\n' ' ')
is "$set_none" "neighbours witness " "only the peers are set under a 'default none' comment"
done_testing
