#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# tests/gateway/t_allow_aet.sh - --allow-aet: a calling AE title not in the list is
# refused at association and nothing of it is queued or sent; a listed one is delivered.
# The settings come from a --config file, as docs/radpipe-gateway.conf gives them.
# study-quiet 2 (the default is t_deliver's).
. "$(dirname "$0")/lib.sh"
EVIL="$RADPIPE_CORPUS/ct/wg04/CT1_JLSL.dcm"
GOOD="$(ls "$CT"/* | head -3)"
start_server
DICOM_PORT=$(free_port)
cat >"$WORK/gateway.conf" <<CONF
# allow-aet as an operator writes it, spaces after the commas
dicom = GW@*:$DICOM_PORT
allow-aet = CT01, PROBE
study-quiet = 2
insecure = true
CONF
start_gateway --config "$WORK/gateway.conf"
if storescu -R -xt -aet EVIL 127.0.0.1 "$DICOM_PORT" $EVIL 2>"$WORK/evil.err"; then
	fail "an unknown calling AE title was admitted"
fi
grep -qi "reject" "$WORK/evil.err" || fail "storescu did not see a rejection: $(cat "$WORK/evil.err")"
grep -q '"event":"reject".*EVIL' "$WORK/spool/gateway.log" || fail "no reject line for EVIL"
storescu -R -aet CT01 127.0.0.1 "$DICOM_PORT" $GOOD 2>"$WORK/scu.err" || fail "storescu CT01: $(cat "$WORK/scu.err")"
snapshot_spool
wait_delivered 3 30
sleep 3
check_delivered $GOOD        # nothing of EVIL's among them
stop_gateway
echo "PASS: EVIL refused, nothing of it queued or sent; CT01's 3 instances delivered"
