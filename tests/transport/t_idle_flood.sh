#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# tests/transport/t_idle_flood.sh - 1,500 idle TCP connections to a TLS receiver (nobody
# authenticates; from 50 loopback addresses) do not keep a real sender out: peers that
# have not authenticated have a bounded pool of their own, the idlest are dropped when it
# is full, and the server's threads stay bounded.
. "$(dirname "$0")/lib.sh"
make_pki
INPUTS="$STUDY/S1000"
mkdir "$WORK/rx"
ulimit -n 4096 2>/dev/null || true
start_server "$WORK/rx" $SERVER_TLS
SRV_PID=$(pgrep -P "$SRV_TPID")
timeout -s KILL 200 python3 "$HERE/idle_flood.py" 127.0.0.1 "$SRV_PORT" 1500 50 \
	"$WORK/flood.ready" 120 &
FLOOD_TPID=$!
PIDS="$PIDS $FLOOD_TPID"
for _ in $(seq 600); do
	[ -s "$WORK/flood.ready" ] && break
	sleep 0.1
done
[ -s "$WORK/flood.ready" ] || fail "the flood client did not open its connections"
echo "idle connections opened: $(cat "$WORK/flood.ready")"
threads=$(awk '/^Threads:/ {print $2}' "/proc/$SRV_PID/status")
echo "server threads with the flood open: $threads"
[ "$threads" -le $((256 + 2 * 64 + 2)) ] || fail "server threads unbounded: $threads"
start=$(date +%s.%N)
send "$SRV_PORT" $CLIENT_TLS
[ "$RC" = 0 ] || fail "a real send failed beside 1,500 idle connections: $(cat "$WORK/send.err")"
check_identical "$WORK/rx"
echo "PASS: send completed in $(echo "$(date +%s.%N) - $start" | bc) s with 1,500 idle connections open"
