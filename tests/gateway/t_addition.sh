#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# tests/gateway/t_addition.sh - an instance that arrives after its study was delivered is
# sent as an addition: a second send holding only the new instances, under the same
# <Study>/ directory name.  The reading site's PACS import takes the first delivery away
# (moved out of serve's directory) before the late instances come, so this checks the
# gateway's side alone.  --study-quiet 2.
. "$(dirname "$0")/lib.sh"
FIRST="$(ls "$CT"/* | head -5)"
LATE="$(ls "$CT"/* | sed -n 6,7p)"
start_server
DICOM_PORT=$(free_port)
start_gateway --dicom "GW@*:$DICOM_PORT" --study-quiet 2
storescu -R -aet CT01 127.0.0.1 "$DICOM_PORT" $FIRST 2>"$WORK/scu1.err" || fail "storescu: $(cat "$WORK/scu1.err")"
snapshot_spool
wait_delivered 5 30
sleep 0.5
check_delivered $FIRST
mkdir -p "$WORK/imported"
mv "$WORK/rx/"[0-9]* "$WORK/imported/"
rm -rf "$WORK/seen"
storescu -R -aet CT01 127.0.0.1 "$DICOM_PORT" $LATE 2>"$WORK/scu2.err" || fail "storescu: $(cat "$WORK/scu2.err")"
snapshot_spool
wait_delivered 2 30
sleep 0.5
check_delivered $LATE          # only the two late instances in the second delivery
grep '"event":"send_start"' "$WORK/spool/gateway.log" | tail -1 | grep -q '"instances":"2"' ||
	fail "the addition did not carry exactly the 2 new instances"
status_until 5 "len(st['studies']) == 1 and st['studies'][0]['sends'] == 2 and st['studies'][0]['delivered'] == 7 and st['studies'][0]['instances'] == 7 and st['studies'][0]['queued'] == 0 and st['studies'][0]['state'] == 'delivered'"
stop_gateway
echo "PASS: 5 instances delivered, then 2 late ones as an addition of the same study"
