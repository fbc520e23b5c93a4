# A TCP port on loopback that nothing uses, for a server a test starts.
# Drawn from below the kernel's ephemeral range (ip_local_port_range), so
# the local port of an outgoing connection cannot take it between this
# check and the server's bind; and "unused" means no socket in any state
# has it as ss sees it (a connect test misses a bound socket that does not
# listen). Callers take disjoint ranges, so two servers of one test never
# draw the same port.
#   free_port LO HI
free_port() {
	local lo=$1 hi=$2 eph p
	read -r eph _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || eph=32768
	[ "$hi" -lt "$eph" ] || hi=$((eph - 1))
	for p in $(shuf -i "$lo-$hi" -n 50); do
		[ -z "$(ss -Htan "( sport = :$p )" 2>/dev/null)" ] || continue
		(exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null && continue
		echo "$p"
		return 0
	done
	return 1
}
