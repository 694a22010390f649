#!/bin/bash
# MPTCP two-path lab with a NAME, so several labs can run at once (tests run in parallel).
#
#   <name>-cli                                  <name>-srv
#   c1 10.<n>.1.1/24  <== veth path 1 ==>  s1 10.<n>.1.2/24
#   c2 10.<n>.2.1/24  <== veth path 2 ==>  s2 10.<n>.2.2/24
#
# Every veth end gets a root tbf qdisc (unless RATE=none), so each path is rate-limited both ways.
# Derived from shared/netlab/lab.sh (same shaping and path-manager setup), parameterised by name.
#
# usage: lab.sh NAME up [RATE] [signal|subflow|both|none|bare]
#        lab.sh NAME rate RATE [1|2|both]     (RATE=none removes shaping)
#        lab.sh NAME link 1|2 up|down         (take a path down / bring it back, client side)
#        lab.sh NAME env                      (print LAB_* variables for scripts: eval "$(lab.sh NAME env)")
#        lab.sh NAME down                     (idempotent; kills the namespaces' processes)
#        lab.sh NAME status
# NAME: [a-z0-9]{1,8}. The subnet octet <n> is derived from the name (1..250). Two names that hash
# to the same octet still work side by side: each lab's veths join only its own two namespaces.
set -u
NAME=${1:-}
[[ "$NAME" =~ ^[a-z0-9]{1,8}$ ]] || { echo "usage: $0 NAME up|down|rate|link|env|status" >&2; exit 2; }
shift
C=${NAME}-cli
S=${NAME}-srv
N=$(( ( $(printf '%s' "$NAME" | cksum | cut -d' ' -f1) % 250 ) + 1 ))

die() { echo "lab.sh $NAME: $*" >&2; exit 1; }

burst_for() {  # tbf burst: >= one GSO skb (64k) and ~2 ms at rate
	local r=$1 bps
	bps=$(awk -v r="$r" 'BEGIN{
		r=tolower(r); m=1
		if (r ~ /bps$/) { sub(/bps$/,"",r); m=8 } else sub(/bit$/,"",r)
		u=substr(r,length(r),1); if (u=="k") { m*=1e3; r=substr(r,1,length(r)-1) }
		else if (u=="m") { m*=1e6; r=substr(r,1,length(r)-1) } else if (u=="g") { m*=1e9; r=substr(r,1,length(r)-1) }
		printf "%d", r*m }')
	local b=$(( bps / 8 / 500 ))
	[ "$b" -lt 65536 ] && b=65536
	echo "$b"
}

set_rate() {
	local rate=$1 which=${2:-both} burst ns dev
	for p in 1 2; do
		[ "$which" = both ] || [ "$which" = "$p" ] || continue
		for pair in "$C:c$p" "$S:s$p"; do
			ns=${pair%%:*}; dev=${pair##*:}
			if [ "$rate" = none ]; then
				tc -n "$ns" qdisc del dev "$dev" root 2>/dev/null
			else
				burst=$(burst_for "$rate")
				tc -n "$ns" qdisc replace dev "$dev" root tbf rate "$rate" burst "$burst" latency 50ms || return 1
			fi
		done
	done
	return 0
}

down() {
	for ns in $C $S; do
		if ip netns list | grep -qw "$ns"; then
			for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$pid" 2>/dev/null; done
			ip netns del "$ns" 2>/dev/null
		fi
	done
	return 0
}

up() {
	local rate=${1:-20mbit} mode=${2:-signal}
	down
	ip netns add "$C" || die "netns add $C"
	ip netns add "$S" || { down; die "netns add $S"; }
	for p in 1 2; do
		ip link add "c$p" netns "$C" type veth peer name "s$p" netns "$S" || { down; die "veth $p"; }
		ip -n "$C" addr add "10.$N.$p.1/24" dev "c$p"
		ip -n "$S" addr add "10.$N.$p.2/24" dev "s$p"
		ip -n "$C" link set "c$p" up
		ip -n "$S" link set "s$p" up
	done
	for ns in $C $S; do
		ip -n "$ns" link set lo up
		ip netns exec "$ns" sysctl -qw net.mptcp.enabled=1
		ip netns exec "$ns" sysctl -qw net.ipv4.tcp_congestion_control="${CC:-reno}" || { down; die "CC ${CC:-reno} not allowed"; }
		ip -n "$ns" mptcp endpoint flush
		[ "$mode" = bare ] || ip -n "$ns" mptcp limits set subflows 2 add_addr_accepted 2
	done
	set_rate "$rate" both || { down; die "tc"; }
	case $mode in
	signal) ip -n "$S" mptcp endpoint add "10.$N.2.2" dev s2 signal ;;
	subflow) ip -n "$C" mptcp endpoint add "10.$N.2.1" dev c2 subflow ;;
	both) ip -n "$S" mptcp endpoint add "10.$N.2.2" dev s2 signal
		ip -n "$C" mptcp endpoint add "10.$N.2.1" dev c2 subflow
		for ns in $C $S; do ip -n "$ns" mptcp limits set subflows 4 add_addr_accepted 4; done ;;
	none|bare) ;;
	*) down; die "unknown PM mode $mode" ;;
	esac
	# wait until both paths answer: a SYN to a closed port must come back as RST
	for p in 1 2; do
		ip netns exec "$C" python3 -c '
import socket,sys,time
for i in range(50):
    s=socket.socket(); s.settimeout(1)
    try: s.connect((sys.argv[1],9)); sys.exit(1)
    except ConnectionRefusedError: sys.exit(0)
    except OSError: time.sleep(0.05)
sys.exit(1)' "10.$N.$p.2" || { down; die "path $p not reachable"; }
	done
}

link() {
	local p=$1 state=$2
	ip -n "$C" link set "c$p" "$state"
}

env_vars() {
	cat <<VARS
LAB_NAME=$NAME
LAB_CLI_NS=$C
LAB_SRV_NS=$S
LAB_CLI1=10.$N.1.1
LAB_CLI2=10.$N.2.1
LAB_SRV1=10.$N.1.2
LAB_SRV2=10.$N.2.2
VARS
}

status() {
	for ns in $C $S; do
		echo "== $ns"
		ip -n "$ns" -br addr
		ip -n "$ns" mptcp limits show
		ip -n "$ns" mptcp endpoint show
		tc -n "$ns" qdisc show | grep tbf
	done
}

case ${1:-} in
up) shift; up "$@" ;;
down) down ;;
rate) shift; set_rate "$@" ;;
link) shift; link "$@" ;;
env) env_vars ;;
status) status ;;
*) echo "usage: $0 NAME up [RATE] [MODE] | rate RATE [1|2|both] | link 1|2 up|down | env | down | status" >&2; exit 2 ;;
esac
