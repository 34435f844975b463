#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# tests/transport/t_cut_connection.sh - a proxy cuts one of four connections mid-transfer.
# With k=6, m=2 and four streams no stream carries more than m chunks of a group, so the
# receiver rebuilds every lost chunk from parity: repaired > 0 and nothing is resent.
. "$(dirname "$0")/lib.sh"
INPUTS="$CT"
mkdir "$WORK/rx"
start_server "$WORK/rx" --insecure
start_proxy --rate 30000000 --cut-conn 3 --cut-after 400000
send "$PROXY_PORT" --insecure -n 4 --chunk-size 64K -k 6 -m 2
[ "$RC" = 0 ] || fail "send exited $RC: $(cat "$WORK/send.err")"
grep -q "cut connection 3" "$WORK/proxy.log" || fail "the proxy never cut the connection"
check_identical "$WORK/rx"
[ "$(json streams_lost)" -ge 1 ] || fail "sender did not notice the cut"
[ "$(json chunks_repaired)" -gt 0 ] || fail "no chunk was rebuilt from parity"
[ "$(json resent_bytes)" = 0 ] || fail "$(json resent_bytes) bytes were resent"
echo "PASS: repaired $(json chunks_repaired) chunks from parity, resent 0"
