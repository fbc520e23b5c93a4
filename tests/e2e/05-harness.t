#!/bin/bash
# e2e: the harness checks itself before the scenarios trust it. The
# two-writers monitor must fail on two UP servers in HAProxy's write
# backend and on two pg_hba.conf files allowing harw (fake stats socket and
# files); the network must join the hosts, a cut link must cut, there
# must be no default route, and cl_down must remove everything, twice.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/lib/cluster.sh"

[ "$(id -u)" = 0 ] || bail "e2e needs root"
command -v socat >/dev/null || bail "socat missing: make deps"
cl_init n1 n2

# ---- a fake HAProxy stats socket serving $CL_DIR/stat.csv
mkdir -p "$CL_DIR/hap" "$CL_DIR/n1" "$CL_DIR/n2"
stat_csv() {	# stat_csv RW_N1 RW_N2
	{
		echo "# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,weight,act,bck,chkfail,chkdown,lastchg,downtime,qlimit,pid,iid,sid,throttle,lbtot,tracked,type,rate,rate_lim,rate_max,check_status,"
		echo "pg_rw,FRONTEND,,,0,0,2000,0,0,0,0,0,0,,,,,OPEN,,,,,,,,,1,2,0,,,,0,0,0,0,,"
		echo "pg_rw,n1,0,0,0,0,,0,0,0,,0,,0,0,0,0,$1,1,1,0,0,0,1,0,,1,2,1,,0,,2,0,,0,L7OK,"
		echo "pg_rw,n2,0,0,0,0,,0,0,0,,0,,0,0,0,0,$2,1,1,0,0,0,1,0,,1,2,2,,0,,2,0,,0,L7RSP,"
		echo "pg_rw,BACKEND,0,0,0,0,200,0,0,0,0,0,,0,0,0,0,UP,1,1,0,,0,1,0,,1,2,0,,0,,1,0,,0,,"
		echo "pg_ro,n2,0,0,0,0,,0,0,0,,0,,0,0,0,0,UP,1,1,0,0,0,1,0,,1,3,2,,0,,2,0,,0,L7OK,"
	} >"$CL_DIR/stat.csv.tmp"
	mv "$CL_DIR/stat.csv.tmp" "$CL_DIR/stat.csv"
}
hba() {	# hba NODE allow|deny
	local m=md5; [ "$2" = deny ] && m=reject
	printf '# x\nhost    harw harw %s/32 %s\nlocal all all trust\n' "$(cl_ip hap)" "$m" >"$CL_DIR/$1/pg_hba.conf"
}
stat_csv UP DOWN
hba n1 allow; hba n2 deny
socat "UNIX-LISTEN:$CL_DIR/hap/stats.sock,fork" "SYSTEM:cat $CL_DIR/stat.csv" </dev/null >/dev/null 2>&1 &
fake=$!
wait_for 5 "[ -S '$CL_DIR/hap/stats.sock' ]"

is "$(cl_hap_up pg_rw)" "n1" "cl_hap_up reads the UP servers of pg_rw"
is "$(cl_hap_up pg_ro)" "n2" "cl_hap_up reads another backend"
is "$(cl_hba_writers)" "n1" "cl_hba_writers reads harepd's allow line"
ok 'cl_hba_denies n2 harw && ! cl_hba_allows n2 harw' "cl_hba_denies / cl_hba_allows"

cl_monitor_start
sleep 1
cl_monitor_halt
out=$(cl_monitor_report one-writer)
like "$out" "^ok .*never two writers" "monitor passes with one writer ($out)"
read -r n _ <"$CL_DIR/monitor.count"
ok '[ "$n" -ge 7 ]' "monitor samples about every 100 ms ($n samples in 1 s)"

cl_monitor_start
sleep 0.5
stat_csv UP "UP 1/2"
sleep 0.3
stat_csv UP DOWN
sleep 0.3
cl_monitor_halt
out=$(cl_monitor_report haproxy-two)
like "$out" "^not ok .*violations" "monitor fails on two servers UP in HAProxy for 0.3 s"

cl_monitor_start
sleep 0.3
hba n2 allow
sleep 0.3
hba n2 deny
sleep 0.3
cl_monitor_halt
out=$(cl_monitor_report hba-two)
like "$out" "^not ok .*violations" "monitor fails on two pg_hba.conf allowing harw for 0.3 s"

# a node whose PostgreSQL is stopped enforces nothing: its allow on disk
# is not a second writer (a lost node); a running one is
hba n1 allow
mkdir -p "$CL_DIR/n2/data"
sh -c 'exit 0' & dead=$!; wait $dead
echo "$dead" >"$CL_DIR/n2/data/postmaster.pid"
cl_monitor_start
sleep 0.3
hba n2 allow
sleep 0.3
cl_monitor_halt
out=$(cl_monitor_report hba-stopped)
like "$out" "^ok " "monitor: an allow on a node whose postmaster is not running is no writer"
echo "$$" >"$CL_DIR/n2/data/postmaster.pid"
cl_monitor_start
sleep 0.3
cl_monitor_halt
out=$(cl_monitor_report hba-running)
like "$out" "^not ok .*violations" "monitor: ... and one whose postmaster runs is"
hba n1 deny; hba n2 deny
rm -rf "$CL_DIR/n2/data"
kill "$fake" 2>/dev/null; wait "$fake" 2>/dev/null
rm -f "$CL_DIR/hap/stats.sock"

# ---- network
ok 'cl_net_up' "namespaces, bridge and veths up"
for h in sw n1 n2 wt hap; do
	ok '[ -e /run/netns/$(cl_ns $h) ]' "namespace $(cl_ns "$h") exists"
done
ok '! ip -n "$(cl_ns n1)" route show default | grep -q .' "n1 has no default route"
listen() {	# listen HOST PORT: one TCP answer "hi"
	cl_in "$1" socat -T 5 "TCP-LISTEN:$2,bind=$(cl_ip "$1"),reuseaddr" SYSTEM:'echo hi' </dev/null >/dev/null 2>&1 &
	sleep 0.3
}
reach() {	# reach FROM TO PORT
	[ "$(cl_in "$1" socat -T 2 - "TCP:$(cl_ip "$2"):$3,connect-timeout=1" </dev/null 2>/dev/null)" = hi ]
}
listen n2 7000
ok 'reach n1 n2 7000' "n1 reaches n2 over the bridge"
listen n2 7001
cl_link_down n2
ok '! reach n1 n2 7001' "n2's link cut: n1 does not reach it"
cl_link_up n2
ok 'wait_for 5 "reach n1 n2 7001"' "n2's link back: n1 reaches it"

pfx=$CL_PFX dir=$CL_DIR
cl_down
ok '! ls /run/netns | grep -q "^$pfx-"' "cl_down removed every namespace"
ok '[ ! -e "$dir" ]' "cl_down removed the directory"
ok 'cl_down' "cl_down again is harmless"
done_testing
