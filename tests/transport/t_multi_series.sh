#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# tests/transport/t_multi_series.sh - a real multi-series study (the Philips CT study: axial
# series, localizer, RGB secondary captures) plus two MR sets (one native, one with every
# compressed syntax of WG-04) over 8 mutually authenticated TLS 1.3 streams: delivered byte
# for byte, logged, and a rerun of the same send is answered "already delivered"; then
# the same with -c auto (HTJ2K frames in flight).
. "$(dirname "$0")/lib.sh"
make_pki
mkdir "$WORK/rx"
start_server "$WORK/rx" $SERVER_TLS
INPUTS="$STUDY $MR $MR2"
send "$SRV_PORT" $CLIENT_TLS -n 8 --chunk-size 256K
[ "$RC" = 0 ] || fail "send exited $RC: $(cat "$WORK/send.err")"
check_identical "$WORK/rx"
[ "$(json objects_framed)" -gt 0 ] || fail "no object travelled compressed"
grep -q '"event":"session_complete"' "$WORK/rx.log" || fail "no session_complete in the log"
grep -q 'CN=sender' "$WORK/rx.log" || fail "the log does not name the client certificate"
send "$SRV_PORT" $CLIENT_TLS -n 8 --chunk-size 256K
[ "$RC" = 0 ] || fail "second send exited $RC"
[ "$(json already_delivered)" = true ] || fail "rerun was not recognised as delivered"
[ "$(json wire_bytes)" = 0 ] || fail "rerun sent $(json wire_bytes) bytes"
echo "PASS: $(cat "$WORK/report.json")"
# -c auto frames with our HTJ2K coder (always built): the same study, byte for byte.
stop_server
mkdir "$WORK/rx-auto"
start_server "$WORK/rx-auto" $SERVER_TLS
send "$SRV_PORT" $CLIENT_TLS -c auto
[ "$RC" = 0 ] || fail "send -c auto exited $RC: $(cat "$WORK/send.err")"
[ "$(json codec)" = htj2k ] || fail "-c auto sent with $(json codec), not htj2k"
[ "$(json objects_framed)" -gt 0 ] || fail "-c auto: no object travelled compressed"
check_identical "$WORK/rx-auto"
echo "PASS: -c auto: $(json objects_framed) of $(json objects) objects framed with htj2k, identical"
