#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# tests/gateway/t_dicom_tls_atna.sh - a site that requires DICOM TLS and an audit record
# repository: the gateway's SCP runs TLS (--dicom-cert/--dicom-key/--dicom-ca), so a
# plain storescu is refused and logged while storescu +tls with a certificate of the
# site's CA gets its instance delivered; every audit line also reaches a repository
# (tests/net/atna_listener.py) as an IHE ATNA message (--atna udp://).  --study-quiet 2.
. "$(dirname "$0")/lib.sh"
P=$WORK/pki
"$RADPIPE_BIN" keygen --ca "$P" >/dev/null 2>&1
"$RADPIPE_BIN" keygen --ca "$P" gateway >/dev/null 2>&1
"$RADPIPE_BIN" keygen --ca "$P" modality >/dev/null 2>&1
FILE=$(ls "$CT"/* | head -1)
HOST=$(hostname)
start_server
DICOM_PORT=$(free_port)
ATNA_PORT=$(free_port)
# The first message is the SCP's "received" line (C: the modality created it here);
# the second, the "delivered" line once the study is at the reading site.
cat >"$WORK/expect.json" <<JSON
[{"host": "$HOST", "action": "C", "outcome": "0", "file": "$FILE",
  "participants": [["MODALITY", "true", "110153", "127.0.0.1"], ["GW", "false", "110152", "$HOST"]]}]
JSON
/usr/bin/python3 "$RADPIPE_SOURCE_DIR/tests/net/atna_listener.py" udp "$ATNA_PORT" 2 \
	"$WORK/expect.json" >"$WORK/atna.out" 2>&1 &
ATNA_PID=$!
PIDS="$PIDS $ATNA_PID"
wait_file "$WORK/atna.out"
TLS_SCU="+tls $P/modality.key $P/modality.pem +cf $P/ca.pem"
timeout -s KILL 280 "$RADPIPE_BIN" gateway --spool "$WORK/spool" --insecure \
	--to "127.0.0.1:$SRV_PORT" --dicom "GW@*:$DICOM_PORT" --study-quiet 2 -q \
	--dicom-cert "$P/gateway.pem" --dicom-key "$P/gateway.key" --dicom-ca "$P/ca.pem" \
	--audit "$WORK/audit.log" --atna "udp://127.0.0.1:$ATNA_PORT" 2>>"$WORK/gw.err" &
GW_TPID=$!
PIDS="$PIDS $GW_TPID"
i=0
until echoscu $TLS_SCU -aet PROBE 127.0.0.1 "$DICOM_PORT" 2>/dev/null; do
	i=$((i + 1))
	[ $i -lt 100 ] || fail "the gateway's TLS SCP never answered C-ECHO: $(cat "$WORK/gw.err")"
	sleep 0.1
done
if storescu -aet MODALITY 127.0.0.1 "$DICOM_PORT" "$FILE" 2>/dev/null; then
	fail "a plain storescu was accepted by the TLS SCP"
fi
grep -q '"event":"tls_refused"' "$WORK/spool/gateway.log" ||
	fail "the plain caller was not logged as refused"
storescu -aet MODALITY $TLS_SCU 127.0.0.1 "$DICOM_PORT" "$FILE" 2>"$WORK/scu.err" ||
	fail "storescu over TLS: $(cat "$WORK/scu.err")"
snapshot_spool
wait_delivered 1 30
check_delivered "$FILE"
wait "$ATNA_PID" || fail "ATNA repository: $(cat "$WORK/atna.out")"
grep -q '^ok 2$' "$WORK/atna.out" || fail "ATNA repository: $(cat "$WORK/atna.out")"
"$RADPIPE_BIN" audit verify "$WORK/audit.log" >/dev/null || fail "the audit chain does not verify"
stop_gateway
echo "PASS: plain caller refused by the TLS SCP; instance over DICOM TLS delivered; its received and delivered lines reached the ATNA repository"
