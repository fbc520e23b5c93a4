# Minimal TAP producer for bash test scripts run by prove.
# Usage: . tests/lib/tap.sh; ok COND "name"; is GOT WANT "name"; done_testing
TAP_N=0
TAP_FAILED=0
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HAREPD_BUILD=${HAREPD_BUILD:-$TOP/build}
HAREPD=$HAREPD_BUILD/harepd
HAREPDCTL=$HAREPD_BUILD/harepdctl

tap_result() {	# tap_result STATUS NAME
	TAP_N=$((TAP_N + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $TAP_N - $2"
	else
		echo "not ok $TAP_N - $2"
		TAP_FAILED=$((TAP_FAILED + 1))
	fi
}
ok() {		# ok "shell condition" "name"
	if eval "$1"; then tap_result 0 "$2"; else tap_result 1 "$2"; diag "condition: $1"; fi
}
is() {		# is GOT WANT NAME
	if [ "$1" = "$2" ]; then tap_result 0 "$3"; else
		tap_result 1 "$3"; diag "got:  '$1'"; diag "want: '$2'"; fi
}
like() {	# like GOT REGEX NAME
	if printf '%s' "$1" | grep -Eq -- "$2"; then tap_result 0 "$3"; else
		tap_result 1 "$3"; diag "got:  '$1'"; diag "want match: /$2/"; fi
}
diag() { printf '# %s\n' "$*"; }
skip_all() { echo "1..0 # SKIP $*"; exit 0; }
bail() { echo "Bail out! $*"; exit 255; }
done_testing() { echo "1..$TAP_N"; [ "$TAP_FAILED" -eq 0 ]; }
# Poll a condition until it holds or timeout (seconds, fractions allowed).
wait_for() {	# wait_for TIMEOUT "condition"
	local end=$(( $(date +%s%N) + ${1%.*} * 1000000000 ))
	while ! eval "$2"; do
		[ "$(date +%s%N)" -lt "$end" ] || return 1
		sleep 0.05
	done
}
