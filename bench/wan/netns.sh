#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# bench/wan/netns.sh - create and remove the two network namespaces of the WAN test bed.
#
#   netns.sh up TAG [MTU]     namespaces rpwan-TAG-a (site A, sender) and rpwan-TAG-b
#                             (site B, receiver), each with a persistent TUN "wan0":
#                             A = 198.18.0.1, B = 198.18.0.2 (RFC 2544 benchmark range,
#                             reachable only inside these namespaces; nothing routes out)
#   netns.sh down TAG         end the processes left inside them, delete both namespaces
#   netns.sh names TAG        print the two namespace names
#
# The TUN devices stay without carrier until wanemu attaches to both; the link emulator
# is the only path between the namespaces.  Needs root (CAP_NET_ADMIN) and iproute2.
set -eu

cmd=${1:-}
tag=${2:-}
mtu=${3:-1500}
case "$tag" in
'' | *[!A-Za-z0-9_-]*) echo "usage: netns.sh up|down|names TAG [MTU]" >&2; exit 2 ;;
esac
nsa="rpwan-$tag-a"
nsb="rpwan-$tag-b"

down() {
	for ns in "$nsa" "$nsb"; do
		[ -e "/run/netns/$ns" ] || continue
		# Only processes inside our own namespaces: the bench started all of them.
		pids=$(ip netns pids "$ns" 2>/dev/null || true)
		if [ -n "$pids" ]; then
			# shellcheck disable=SC2086
			kill -TERM $pids 2>/dev/null || true
			sleep 0.3
			pids=$(ip netns pids "$ns" 2>/dev/null || true)
			# shellcheck disable=SC2086
			[ -z "$pids" ] || kill -KILL $pids 2>/dev/null || true
		fi
		ip netns del "$ns" 2>/dev/null || true
	done
}

up() {
	down
	ip netns add "$nsa"
	ip netns add "$nsb"
	for side in a b; do
		if [ "$side" = a ]; then ns=$nsa; me=198.18.0.1; peer=198.18.0.2
		else ns=$nsb; me=198.18.0.2; peer=198.18.0.1; fi
		# IPv4 only: no IPv6 router/neighbour chatter crossing the emulated link.
		ip netns exec "$ns" sysctl -q -w net.ipv6.conf.all.disable_ipv6=1 \
			net.ipv6.conf.default.disable_ipv6=1 2>/dev/null || true
		ip -n "$ns" link set lo up
		ip -n "$ns" tuntap add dev wan0 mode tun
		# A long tx queue so the host side never drops before the emulator reads: the
		# only losses on this path must be the ones the profile asks for.
		ip -n "$ns" link set wan0 mtu "$mtu" txqueuelen 10000
		ip -n "$ns" addr add "$me" peer "$peer/32" dev wan0
		ip -n "$ns" link set wan0 up
		# Socket buffers large enough for a 2 x BDP window at 500 Mbit/s x 50 ms and
		# 100 Mbit/s x 300 ms, so windows, not buffers, are what the peers meet.
		ip netns exec "$ns" sysctl -q -w net.ipv4.tcp_rmem="4096 131072 33554432" \
			net.ipv4.tcp_wmem="4096 65536 33554432" net.ipv4.tcp_no_metrics_save=1
	done
}

case "$cmd" in
up) up ;;
down) down ;;
names) echo "$nsa $nsb" ;;
*) echo "usage: netns.sh up|down|names TAG [MTU]" >&2; exit 2 ;;
esac
