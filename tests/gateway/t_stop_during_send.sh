#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# tests/gateway/t_stop_during_send.sh - SIGTERM while a study is on its way (the send
# capped with --max-rate 8, 1 MB/s: uncapped, loopback would deliver it in a second or
# two, before the stop): the gateway cancels the send and exits 0 within a few seconds,
# the study stays in the spool, and the next start resumes the receiver's session and
# delivers it.  --study-quiet 2.
. "$(dirname "$0")/lib.sh"
FILES="$(ls "$CT"/*)"
start_server
DICOM_PORT=$(free_port)
start_gateway --dicom "GW@*:$DICOM_PORT" --study-quiet 2 --max-rate 8
storescu -R -aet CT01 127.0.0.1 "$DICOM_PORT" $FILES 2>"$WORK/scu.err" || fail "storescu: $(cat "$WORK/scu.err")"
snapshot_spool
i=0
until grep -q '"event":"send_start"' "$WORK/spool/gateway.log"; do
	i=$((i + 1))
	[ $i -lt 200 ] || fail "the send never started"
	sleep 0.1
done
sleep 1.5
# Meanwhile `radpipe status` shows the send with its progress, rate and ETA (estimates
# from the bytes written to the connections: socket buffers take them early, so only
# their presence and bounds are checked).
"$RADPIPE_BIN" status --spool "$WORK/spool" --json >"$WORK/status.json" || fail "status --json"
/usr/bin/python3 - "$WORK/status.json" <<'PY' || fail "no progress in status.json: $(cat "$WORK/status.json")"
import json, sys
s = json.load(open(sys.argv[1]))["studies"]
assert len(s) == 1 and s[0]["state"] == "sending", s
x = s[0]
assert 0 < x["sent_bytes"] <= x["queued_bytes"] and x["rate_Bps"] > 0, x
assert x["eta_s"] is not None and x["eta_s"] >= 0, x
print("sending: %.1f of %.1f MB, %.2f MB/s, ETA %.1f s" % (x["sent_bytes"] / 1e6,
      x["queued_bytes"] / 1e6, x["rate_Bps"] / 1e6, x["eta_s"]))
PY
"$RADPIPE_BIN" status --spool "$WORK/spool" | grep -q ' sending ' || fail "status table"
t0=$(date +%s.%N)
stop_gateway
t1=$(date +%s.%N)
[ "$GW_RC" -eq 0 ] || fail "gateway exit $GW_RC after SIGTERM"
/usr/bin/python3 -c "import sys; d = $t1 - $t0; print('stopped in %.2f s' % d); sys.exit(d > 5)" ||
	fail "the gateway took too long to stop"
grep -q '"event":"send_stopped"' "$WORK/spool/gateway.log" || fail "no send_stopped line"
[ "$(delivered)" -eq 0 ] || { grep -E "send_|deliver" "$WORK/spool/gateway.log" >&2; cat "$WORK/rx.log" >&2; fail "delivered although stopped mid-send"; }
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
