#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# tests/gateway/t_stat_order.sh - STAT first: a routine CT study, then one instance with
# C-STORE Priority HIGH for another study and an MR instance that a --stat rule
# (Modality=MR) makes STAT.  The gateway is stopped while they collect and started again
# once all are past their quiet time, so all are due at once: both STAT studies (their
# priority recorded in the spool across the restart) go before the routine one.  A
# malformed rule is a usage error.
. "$(dirname "$0")/lib.sh"
ROUTINE="$(ls "$CT"/*)"
STATF="$RADPIPE_CORPUS/ct/dcm_qa_ct_GE_HiSpeedDual/01.dcm"
MRF="$RADPIPE_CORPUS/mr/dcm_qa_ts_Siemens_Trio/3.dcm"
start_server
set +e
"$RADPIPE_BIN" gateway --spool "$WORK/bad" --to 127.0.0.1:1 --dicom GW@*:1 --stat "Modality" \
	2>"$WORK/bad.err"
rc=$?
set -e
[ $rc -eq 2 ] && grep -q "Modality" "$WORK/bad.err" || fail "bad --stat rule: exit $rc, $(cat "$WORK/bad.err")"
DICOM_PORT=$(free_port)
start_gateway --dicom "GW@*:$DICOM_PORT" --study-quiet 3 --stat "Modality=MR"
storescu -R -aet CT01 127.0.0.1 "$DICOM_PORT" $ROUTINE 2>"$WORK/scu.err" || fail "storescu: $(cat "$WORK/scu.err")"
/usr/bin/python3 "$RADPIPE_SOURCE_DIR/tests/net/raw_store.py" "$DICOM_PORT" "$STATF:high" >"$WORK/raw.out" ||
	fail "raw C-STORE failed"
grep -q "STATUS 0x0000" "$WORK/raw.out" || fail "HIGH-priority C-STORE: $(cat "$WORK/raw.out")"
storescu -R -aet MR01 127.0.0.1 "$DICOM_PORT" $MRF 2>"$WORK/scu2.err" || fail "storescu: $(cat "$WORK/scu2.err")"
snapshot_spool
stop_gateway
grep -q '"event":"send_start"' "$WORK/spool/gateway.log" && fail "sent before the stop"
sleep 4
start_gateway --dicom "GW@*:$DICOM_PORT" --study-quiet 3 --stat "Modality=MR"
wait_delivered 56 60
check_delivered $ROUTINE $STATF $MRF
order=$(grep '"event":"send_start"' "$WORK/spool/gateway.log" | sed 's/.*"priority":"\([a-z]*\)".*/\1/' | tr '\n' ' ')
[ "$order" = "stat stat routine " ] || fail "send order: $order"
stop_gateway
echo "PASS: STAT studies (priority HIGH, rule Modality=MR) sent before the routine one queued ahead of them ($order)"
