#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# tests/gateway/t_deliver.sh - storescu (five associations at once, explicit and
# implicit little endian, big endian, JPEG-LS, JPEG lossless, RLE: real CT and MR files)
# -> radpipe gateway with its default quiet time -> radpipe serve: nothing is sent until
# 10 s after the last instance of a study, `radpipe status` shows the queue meanwhile,
# then every instance arrives as <Study>/<SOP>.dcm, byte-equal to the file the SCP
# wrote on receiving it and the same instance as the file storescu sent.
. "$(dirname "$0")/lib.sh"
C=$RADPIPE_CORPUS
IMPL="$C/mr/dcm_qa_ts_Siemens_Trio/2.dcm"     # implicit VR little endian
CT_A="$(ls "$CT"/* | head -27) $C/mr/dcm_qa_ts_Siemens_Trio/3.dcm"   # + big endian
CT_B="$(ls "$CT"/* | tail -n +28) $C/ct/wg04/CT1_JLSL.dcm"
RLE="$C/ct/wg04/CT2_RLE.dcm"
JPLL="$C/ct/wg04/CT2_JPLL.dcm"
ALL="$CT_A $CT_B $RLE $JPLL $IMPL"
N=$(echo $ALL | wc -w)

start_server
DICOM_PORT=$(free_port)
start_gateway --dicom "GW@*:$DICOM_PORT"          # --study-quiet left at its default

# Each association proposes the files' own syntaxes (-R; -xt JPEG-LS, -xr RLE, -xs
# JPEG lossless, -xi implicit only); the SCP keeps each instance in the syntax it came in.
storescu -R -aet CT01 127.0.0.1 "$DICOM_PORT" $CT_A 2>"$WORK/scu1.err" &
S1=$!
storescu -R -xt -aet CT02 127.0.0.1 "$DICOM_PORT" $CT_B 2>"$WORK/scu2.err" &
S2=$!
storescu -R -xr -aet US01 127.0.0.1 "$DICOM_PORT" $RLE 2>"$WORK/scu3.err" &
S3=$!
storescu -R -xs -aet PACS 127.0.0.1 "$DICOM_PORT" $JPLL 2>"$WORK/scu4.err" &
S4=$!
storescu -R -xi -aet MR01 127.0.0.1 "$DICOM_PORT" $IMPL 2>"$WORK/scu5.err" &
S5=$!
for i in 1 2 3 4 5; do
	eval "wait \$S$i" || fail "storescu $i failed: $(cat "$WORK/scu$i.err")"
done
stored=$(grep -c '"event":"stored"' "$WORK/spool/gateway.log" || true)
[ "$stored" -eq "$N" ] || fail "the gateway stored $stored of $N instances"

# While the studies wait out their quiet time the queue is visible and nothing is sent.
snapshot_spool
sleep 2      # status.json is rewritten about once a second
"$RADPIPE_BIN" status --spool "$WORK/spool" >"$WORK/status.txt" || fail "status: exit $?"
grep -q "running" "$WORK/status.txt" || fail "status does not say the gateway runs"
rows=$(grep -c ' collecting ' "$WORK/status.txt" || true)
[ "$rows" -ge 4 ] || fail "status shows $rows collecting studies: $(cat "$WORK/status.txt")"
grep -q ' 54 ' "$WORK/status.txt" || fail "status does not show the 54-slice CT study"
wait_delivered "$N" 60
# Each study's send began no sooner than 10 s after its own last instance was stored.
/usr/bin/python3 - "$WORK/spool/gateway.log" $ALL <<'PY' || fail "quiet time not respected"
import json, sys
import pydicom
study_of = {}
for f in sys.argv[2:]:
    ds = pydicom.dcmread(f, stop_before_pixels=True)
    study_of[str(ds.SOPInstanceUID)] = str(ds.StudyInstanceUID)
ev = [json.loads(l) for l in open(sys.argv[1]) if l.startswith('{"ts"')]
last = {}
for e in ev:
    if e["event"] == "stored" and e.get("peer", "").split("@")[0] != "PROBE":
        st = study_of[e["sop"]]
        last[st] = max(last.get(st, 0), e["ts"])
starts = {}
for e in ev:
    if e["event"] == "send_start":
        starts.setdefault(e["study"], e["ts"])
assert set(starts) == set(last), (starts, last)
gaps = [starts[s] - last[s] for s in last]
print("quiet time: each study sent %.2f..%.2f s after its last instance" % (min(gaps), max(gaps)))
# The log has millisecond timestamps and the "stored" line follows the arrival by a
# moment: 2 ms of slack, no more.
sys.exit(0 if min(gaps) >= 10.0 - 0.002 else 1)
PY
check_delivered $ALL
status_until 5 "st['running'] is True and all(x['state'] == 'delivered' and x['queued'] == 0 for x in st['studies']) and sum(x['delivered'] for x in st['studies']) == $N"
# Delivered instances leave the spool; only the small per-study records stay.
left=$(find "$WORK/spool/incoming" "$WORK/spool/outbox" -name '*.dcm' | wc -l)
[ "$left" -eq 0 ] || fail "$left delivered instances still in the spool"
stop_gateway
[ "$GW_RC" -eq 0 ] || fail "gateway exit $GW_RC after SIGTERM"
set +e
"$RADPIPE_BIN" status --spool "$WORK/spool" >"$WORK/status2.txt"
rc=$?
set -e
[ $rc -eq 1 ] && grep -q "No gateway is running" "$WORK/status2.txt" ||
	fail "status after stop: exit $rc, $(cat "$WORK/status2.txt")"
echo "PASS: $N instances, 5 associations, 6 transfer syntaxes delivered after the default quiet time"
