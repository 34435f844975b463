#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# tests/gateway/t_restart.sh - the queue survives kill -9: a CT study is received, the
# gateway is killed before its quiet time is over (nothing sent), restarted on the same
# spool, and the study is delivered whole, each instance once, in one session.  The
# audit log (--audit) continues its chain across the kill: 54 "received" and 54
# "delivered" lines, and `radpipe audit verify` finds it intact.
# --study-quiet 3: the default (10 s) is covered by t_deliver; here only the order of
# kill and send matters.
. "$(dirname "$0")/lib.sh"
FILES=$(ls "$CT"/*)
N=$(echo $FILES | wc -w)
start_server
DICOM_PORT=$(free_port)
start_gateway --dicom "GW@*:$DICOM_PORT" --study-quiet 3 --audit "$WORK/audit.log"
storescu -R -aet CT01 127.0.0.1 "$DICOM_PORT" $FILES 2>"$WORK/scu.err" || fail "storescu: $(cat "$WORK/scu.err")"
snapshot_spool
kill9_gateway
grep -q '"event":"send_start"' "$WORK/spool/gateway.log" && fail "sent before the kill"
have=$(find "$WORK/spool/incoming" -name '*.dcm' | wc -l)
[ "$have" -eq "$N" ] || fail "$have of $N instances in the spool after kill -9"
sleep 4   # past the quiet time while no gateway runs
[ "$(delivered)" -eq 0 ] || fail "delivered although the gateway was killed"
start_gateway --dicom "GW@*:$DICOM_PORT" --study-quiet 3 --audit "$WORK/audit.log"
wait_delivered "$N" 60
check_delivered $FILES
sessions=$(grep -c '"event":"session_complete"' "$WORK/rx.log" || true)
[ "$sessions" -eq 1 ] || fail "$sessions sessions delivered, expected 1"
stop_gateway
[ "$GW_RC" -eq 0 ] || fail "gateway exit $GW_RC"
"$RADPIPE_BIN" audit verify "$WORK/audit.log" >"$WORK/audit.out" 2>&1 || fail "audit verify: $(cat "$WORK/audit.out")"
rcv=$(grep -c '"event":"received"' "$WORK/audit.log" || true)
dlv=$(grep -c '"event":"delivered"' "$WORK/audit.log" || true)
[ "$rcv" -eq "$N" ] && [ "$dlv" -eq "$N" ] || fail "audit: $rcv received, $dlv delivered of $N"
echo "PASS: $N instances received, gateway killed (-9) and restarted, delivered once"
