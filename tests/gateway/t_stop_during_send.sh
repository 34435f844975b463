#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# tests/gateway/t_stop_during_send.sh - SIGTERM while a study is on its way (a link
# slowed to 1 MB/s): the gateway cancels the send and exits 0 within a few seconds,
# the study stays in the spool, and the next start resumes the receiver's session and
# delivers it.  --study-quiet 2.
. "$(dirname "$0")/lib.sh"
FILES="$(ls "$CT"/*)"
start_server
timeout -s KILL 200 /usr/bin/python3 "$RADPIPE_SOURCE_DIR/tests/transport/proxy.py" \
	--target "127.0.0.1:$SRV_PORT" --port-file "$WORK/proxy.port" --rate 1000000 \
	--lifetime 190 2>>"$WORK/proxy.log" &
PIDS="$PIDS $!"
wait_file "$WORK/proxy.port"
SRV_PORT=$(cat "$WORK/proxy.port")
DICOM_PORT=$(free_port)
start_gateway --dicom "GW@*:$DICOM_PORT" --study-quiet 2
storescu -R -aet CT01 127.0.0.1 "$DICOM_PORT" $FILES 2>"$WORK/scu.err" || fail "storescu: $(cat "$WORK/scu.err")"
snapshot_spool
i=0
until grep -q '"event":"send_start"' "$WORK/spool/gateway.log"; do
	i=$((i + 1))
	[ $i -lt 200 ] || fail "the send never started"
	sleep 0.1
done
sleep 1.5
t0=$(date +%s.%N)
stop_gateway
t1=$(date +%s.%N)
[ "$GW_RC" -eq 0 ] || fail "gateway exit $GW_RC after SIGTERM"
/usr/bin/python3 -c "import sys; d = $t1 - $t0; print('stopped in %.2f s' % d); sys.exit(d > 5)" ||
	fail "the gateway took too long to stop"
grep -q '"event":"send_stopped"' "$WORK/spool/gateway.log" || fail "no send_stopped line"
[ -z "$(find "$WORK/rx" -name '*.dcm')" ] || fail "delivered although stopped mid-send"
[ "$(find "$WORK/spool/outbox" -name '*.dcm' | wc -l)" -eq 54 ] || fail "the batch left the spool"
start_gateway --dicom "GW@*:$DICOM_PORT" --study-quiet 2
wait_delivered 54 120
check_delivered $FILES
/usr/bin/python3 - "$WORK/rx.log" <<'PY' || fail "the send after the restart did not resume"
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1]) if '"session_start"' in l]
print("sessions:", [(e["session"][:8], e["state"]) for e in ev])
assert len(ev) == 2 and ev[0]["session"] == ev[1]["session"] and ev[1]["state"] == "resumed"
PY
stop_gateway
echo "PASS: SIGTERM mid-send stopped the gateway cleanly; the restart resumed and delivered"
