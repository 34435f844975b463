#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# tests/gateway/t_permanent_failure.sh - the receiver refuses a study (one of its files
# already exists there with other content): that study is marked failed, logged, kept in
# the spool, and not retried, while another study is delivered.  --study-quiet 2.
. "$(dirname "$0")/lib.sh"
BAD="$RADPIPE_CORPUS/ct/wg04/CT1_JLSL.dcm"
GOOD="$(ls "$CT"/* | head -4)"
read -r BAD_STUDY BAD_SOP < <(/usr/bin/python3 -c 'import pydicom, sys
d = pydicom.dcmread(sys.argv[1], stop_before_pixels=True)
print(d.StudyInstanceUID, d.SOPInstanceUID)' "$BAD")
start_server
mkdir -p "$WORK/rx/$BAD_STUDY"
echo "someone else's file" >"$WORK/rx/$BAD_STUDY/$BAD_SOP.dcm"
DICOM_PORT=$(free_port)
start_gateway --dicom "GW@*:$DICOM_PORT" --study-quiet 2
storescu -R -xt -aet CT01 127.0.0.1 "$DICOM_PORT" $BAD 2>"$WORK/scu1.err" || fail "storescu: $(cat "$WORK/scu1.err")"
storescu -R -aet CT01 127.0.0.1 "$DICOM_PORT" $GOOD 2>"$WORK/scu2.err" || fail "storescu: $(cat "$WORK/scu2.err")"
snapshot_spool
i=0
until grep -q '"event":"study_failed"' "$WORK/spool/gateway.log"; do
	i=$((i + 1))
	[ $i -lt 300 ] || fail "the refused study was not marked failed within 30 s"
	sleep 0.1
done
wait_delivered 5 30    # the 4 good ones and the stranger's file
sleep 5                # long enough for two retries, were there any
[ "$(grep -c '"event":"send_start".*'"$BAD_STUDY" "$WORK/spool/gateway.log")" -eq 1 ] ||
	fail "the failed study was sent again"
[ "$(cat "$WORK/rx/$BAD_STUDY/$BAD_SOP.dcm")" = "someone else's file" ] || fail "conflict overwritten"
[ -f "$WORK/spool/studies/$BAD_STUDY.failed" ] || fail "no .failed record"
[ "$(find "$WORK/spool/outbox/$BAD_STUDY" -name '*.dcm' | wc -l)" -eq 1 ] || fail "failed study not kept"
"$RADPIPE_BIN" status --spool "$WORK/spool" >"$WORK/status.txt" || true
grep -q "$BAD_STUDY .* failed " "$WORK/status.txt" || fail "status: $(cat "$WORK/status.txt")"
rm -rf "$WORK/rx/$BAD_STUDY"
check_delivered $GOOD
stop_gateway
echo "PASS: refused study failed once and kept in the spool; the other study delivered"
