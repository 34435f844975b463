#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# tests/gateway/t_stat_order.sh - STAT first: a routine CT study, then one instance with
# C-STORE Priority HIGH for another study.  The gateway is stopped while both collect and
# started again once both are past their quiet time, so both are due at once: the STAT
# study (its priority recorded in the spool across the restart) is sent first.
. "$(dirname "$0")/lib.sh"
ROUTINE="$(ls "$CT"/*)"
STATF="$RADPIPE_CORPUS/ct/dcm_qa_ct_GE_HiSpeedDual/01.dcm"
start_server
DICOM_PORT=$(free_port)
start_gateway --dicom "GW@*:$DICOM_PORT" --study-quiet 3
storescu -R -aet CT01 127.0.0.1 "$DICOM_PORT" $ROUTINE 2>"$WORK/scu.err" || fail "storescu: $(cat "$WORK/scu.err")"
/usr/bin/python3 "$RADPIPE_SOURCE_DIR/tests/net/raw_store.py" "$DICOM_PORT" "$STATF:high" >"$WORK/raw.out" ||
	fail "raw C-STORE failed"
grep -q "STATUS 0x0000" "$WORK/raw.out" || fail "HIGH-priority C-STORE: $(cat "$WORK/raw.out")"
snapshot_spool
stop_gateway
grep -q '"event":"send_start"' "$WORK/spool/gateway.log" && fail "sent before the stop"
sleep 4
start_gateway --dicom "GW@*:$DICOM_PORT" --study-quiet 3
wait_delivered 55 60
check_delivered $ROUTINE $STATF
order=$(grep '"event":"send_start"' "$WORK/spool/gateway.log" | sed 's/.*"priority":"\([a-z]*\)".*/\1/' | tr '\n' ' ')
[ "$order" = "stat routine " ] || fail "send order: $order"
stop_gateway
echo "PASS: STAT study sent before the routine one queued ahead of it ($order)"
