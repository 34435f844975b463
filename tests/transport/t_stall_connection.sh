#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# tests/transport/t_stall_connection.sh - one of four connections goes silent mid-transfer
# (a black hole: no RST, no FIN, as when a route or a NAT drops the flow).  The sender must
# give up on it after its stall timeout, not after the 60 s idle timeout, and the study
# must still arrive byte-identical: with k=20, m=2 over four streams parity cannot cover a
# lost stream's share, so the receiver asks again (NEED) for what it lacks.  Frames go
# native and the proxy's receive buffers are small, so the stalled stream's writes block
# in the sender, as they do on a long WAN path.
. "$(dirname "$0")/lib.sh"
INPUTS="$CT"
mkdir "$WORK/rx"
start_server "$WORK/rx" --insecure
start_proxy --rate 30000000 --rcvbuf 65536 --stall-conn 3 --stall-after 400000
t0=$(date +%s)
send "$PROXY_PORT" --insecure -c native -n 4 --chunk-size 64K -k 20 -m 2
t1=$(date +%s)
[ "$RC" = 0 ] || fail "send exited $RC: $(cat "$WORK/send.err")"
grep -q "stalled connection 3" "$WORK/proxy.log" || fail "the proxy never stalled the connection"
check_identical "$WORK/rx"
[ "$(json streams_lost)" -ge 1 ] || fail "sender did not notice the stall"
# A correctness bound, not a speed one: with the 60 s idle timeout as the only way to
# notice the black hole the send takes over 60 s.
[ $((t1 - t0)) -lt 30 ] || fail "send took $((t1 - t0)) s: the stalled connection held it up"
echo "PASS: stalled connection dropped, study identical, $((t1 - t0)) s"

# The same with every default (8 streams, JPEG-LS in flight, k and m, chunk size): one of
# the 8 connections black-holed after 300 KB (of about 700 KB each carries).
stop_proxy
stop_server
mkdir "$WORK/rx2"
mv "$WORK/proxy.log" "$WORK/proxy1.log"
start_server "$WORK/rx2" --insecure
start_proxy --rcvbuf 65536 --stall-conn 5 --stall-after 300000
t0=$(date +%s)
send "$PROXY_PORT" --insecure
t1=$(date +%s)
[ "$RC" = 0 ] || fail "send with defaults exited $RC: $(cat "$WORK/send.err")"
grep -q "stalled connection 5" "$WORK/proxy.log" || fail "the proxy never stalled connection 5"
check_identical "$WORK/rx2"
[ $((t1 - t0)) -lt 30 ] || fail "send with defaults took $((t1 - t0)) s beside a black hole"
echo "PASS: defaults, one of 8 connections black-holed after 300 KB: $((t1 - t0)) s, $(json streams_lost) stream(s) lost, $(json resent_bytes) bytes resent"
