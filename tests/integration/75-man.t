#!/usr/bin/env bash
# The man pages (docs/man): mandoc -Tlint is clean, harepd.yml(5) has one
# entry for every key of the schema (conf_parse.c's tables, printed by the
# conf_keys helper) and none that is not there, each with its default and
# whether the Go harepd had it (the NEW keys of conf/conf.h); harepd(8) and
# harepdctl(8) describe every option and command their usage lists.
. "$(dirname "$0")/../lib/tap.sh"
MAN=$TOP/docs/man
TMP=$(mktemp -d); trap 'rm -rf "$TMP"' EXIT

ok 'command -v mandoc >/dev/null' "mandoc is installed (make deps)"
# The pages cross-reference each other: lint them from a man path that
# has them (and the system's, for haproxy(1)). -W style: every message but
# the OpenBSD base-system ones. "outdated mandoc.db" is mandoc's search
# noting that Debian keeps no mandoc.db, not a finding.
mkdir -p "$TMP/man/man5" "$TMP/man/man8"
ln -s "$MAN"/*.5 "$TMP/man/man5/"; ln -s "$MAN"/*.8 "$TMP/man/man8/"
for page in harepd.8 harepdctl.8 harepd.yml.5; do
	ok '[ -f "$MAN/$page" ]' "docs/man/$page exists"
	out=$(MANPATH=$TMP/man:/usr/share/man mandoc -Tlint -W style \
	    "$MAN/$page" 2>&1 | grep -v 'outdated mandoc.db')
	is "$out" "" "mandoc -Tlint -W style: $page is clean"
done

# harepd.yml(5): ".It Ic harepd.x.y" items, each up to the next .It/.El
Y=$MAN/harepd.yml.5
"$HAREPD_BUILD/tests/helpers/conf_keys" | sort >"$TMP/schema"
ok '[ -s "$TMP/schema" ]' "conf_keys lists the schema"
awk '/^\.It Ic harepd\./ { print $3 }' "$Y" | sort >"$TMP/man-keys"
missing=$(comm -23 "$TMP/schema" "$TMP/man-keys" | tr '\n' ' ')
stale=$(comm -13 "$TMP/schema" "$TMP/man-keys" | tr '\n' ' ')
is "$missing" "" "every key of the schema is in harepd.yml(5)"
is "$stale" "" "harepd.yml(5) documents no key the schema lacks"
is "$(sort -u "$TMP/man-keys" | wc -l)" "$(wc -l <"$TMP/man-keys")" \
    "each key documented once"
entries() {	# key<TAB>body, one line per item
	awk '/^\.It Ic harepd\./ { if (k) print k "\t" b; k = $3; b = ""; next }
	     /^\.(It|El)/ { if (k) print k "\t" b; k = ""; next }
	     k { b = b " " $0 }
	     END { if (k) print k "\t" b }' "$Y"
}
entries >"$TMP/entries"
nodefault=$(awk -F'\t' '$2 !~ /Default|Required; no default/ { print $1 }' \
    "$TMP/entries" | tr '\n' ' ')
is "$nodefault" "" "every key says its default"
nogo=$(awk -F'\t' '$2 !~ /Go harepd: (yes|no)\./ { print $1 }' \
    "$TMP/entries" | tr '\n' ' ')
is "$nogo" "" "every key says whether the Go harepd had it"
grep -oE 'NEW [A-Za-z.]*[A-Za-z]' "$TOP/conf/conf.h" | sed 's/^NEW //; s/^harepd\.//; s/^/harepd./' |
    sort -u >"$TMP/new"
ok '[ -s "$TMP/new" ]' "conf/conf.h marks the NEW keys"
awk -F'\t' '$2 ~ /Go harepd: no\./ { print $1 }' "$TMP/entries" | sort >"$TMP/man-new"
is "$(comm -3 "$TMP/new" "$TMP/man-new" | tr -s '\t\n' '  ')" "" \
    "\"Go harepd: no\" exactly for the keys conf/conf.h marks NEW"

# harepd(8): every option of the usage message is an .It Fl item
opts_man() {	# .It Fl Fl x -> --x, .It Fl x -> -x, .It Fl h , Fl Fl help: both
	grep -E '^\.It Fl' "$1" | grep -oE 'Fl (Fl )?[a-z][a-z-]*' |
	    sed -E 's/^Fl Fl /--/; s/^Fl /-/' | sort -u
}
"$HAREPD" -h 2>&1 | grep -oE -- '(^|[ [|])--?[a-z][a-z-]*' |
    sed 's/^[ [|]//' | sort -u >"$TMP/opts"
ok '[ -s "$TMP/opts" ]' "harepd -h lists options"
is "$(comm -23 "$TMP/opts" <(opts_man "$MAN/harepd.8") | tr '\n' ' ')" "" \
    "harepd(8) describes every option of harepd's usage"
"$HAREPDCTL" -h 2>&1 | awk '/^commands:/ { c = 1; next } /^[a-z]/ { c = 0 }
    c && /^  [a-z]/ { print $1 }' | sort -u >"$TMP/cmds"
ok '[ -s "$TMP/cmds" ]' "harepdctl -h lists commands"
sed -nE 's/^\.It Cm ([a-z-]+).*/\1/p' "$MAN/harepdctl.8" | sort -u >"$TMP/man-cmds"
is "$(comm -23 "$TMP/cmds" "$TMP/man-cmds" | tr '\n' ' ')" "" \
    "harepdctl(8) describes every command of harepdctl's usage"
done_testing
