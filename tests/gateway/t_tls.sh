#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# tests/gateway/t_tls.sh - the gateway sends over mutual TLS with the flags `radpipe
# send` has (--cert --key --ca, then --allow pinning the receiver's certificate): a
# study is delivered; a gateway pinned to another certificate is refused and retries,
# delivering nothing.  --study-quiet 2.
. "$(dirname "$0")/lib.sh"
"$RADPIPE_BIN" keygen --ca "$WORK/pki" >/dev/null 2>&1
"$RADPIPE_BIN" keygen --ca "$WORK/pki" gateway >/dev/null 2>&1
"$RADPIPE_BIN" keygen --ca "$WORK/pki" reader >/dev/null 2>&1
P=$WORK/pki
SRV_TLS="--cert $P/reader.pem --key $P/reader.key --ca $P/ca.pem"
fp() { openssl x509 -in "$1" -noout -fingerprint -sha256 | sed 's/.*=//'; }
FILES="$(ls "$CT"/* | head -4)"
start_server
DICOM_PORT=$(free_port)
# Pinned to the gateway's own certificate instead of the reader's: refused.
GW_TLS="--cert $P/gateway.pem --key $P/gateway.key --ca $P/ca.pem --allow $(fp "$P/gateway.pem")"
start_gateway --dicom "GW@*:$DICOM_PORT" --study-quiet 2
storescu -R -aet CT01 127.0.0.1 "$DICOM_PORT" $FILES 2>"$WORK/scu.err" || fail "storescu: $(cat "$WORK/scu.err")"
snapshot_spool
i=0
until grep -q '"event":"send_failed"' "$WORK/spool/gateway.log"; do
	i=$((i + 1))
	[ $i -lt 200 ] || fail "the wrongly pinned send did not fail within 20 s"
	sleep 0.1
done
grep '"event":"send_failed"' "$WORK/spool/gateway.log" | head -1 | grep -q 'RP_E_AUTH' ||
	fail "not an authentication failure: $(grep send_failed "$WORK/spool/gateway.log" | head -1)"
stop_gateway
[ "$(delivered)" -eq 0 ] || fail "delivered to an unpinned receiver"
# The right pin: delivered (the batch kept from the failed attempts).
GW_TLS="--cert $P/gateway.pem --key $P/gateway.key --ca $P/ca.pem --allow $(fp "$P/reader.pem")"
start_gateway --dicom "GW@*:$DICOM_PORT" --study-quiet 2
wait_delivered 4 30
check_delivered $FILES
grep -q '"tls":true' "$WORK/rx.log" || fail "the receiver did not run TLS"
stop_gateway
echo "PASS: wrong pin refused (RP_E_AUTH, retried, nothing delivered); right pin delivered over mutual TLS"
