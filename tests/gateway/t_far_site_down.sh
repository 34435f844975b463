#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# tests/gateway/t_far_site_down.sh - the reading site is down when a study is ready: the
# gateway retries with growing delays (2 s, 4 s, ...; `radpipe status` shows "retrying"
# and the attempts), nothing is dropped, and once `radpipe serve` starts the study is
# delivered, each instance once.  --study-quiet 2 (the default is t_deliver's).
. "$(dirname "$0")/lib.sh"
FILES="$(ls "$CT"/* | head -10)"
N=$(echo $FILES | wc -w)
SRV_PORT=$(free_port)       # nobody listens there yet
DICOM_PORT=$(free_port)
start_gateway --dicom "GW@*:$DICOM_PORT" --study-quiet 2
storescu -R -aet CT01 127.0.0.1 "$DICOM_PORT" $FILES 2>"$WORK/scu.err" || fail "storescu: $(cat "$WORK/scu.err")"
snapshot_spool
i=0
until [ "$(grep -c '"event":"send_failed"' "$WORK/spool/gateway.log" || true)" -ge 2 ]; do
	i=$((i + 1))
	[ $i -lt 300 ] || fail "no second failed attempt within 30 s"
	sleep 0.1
done
sleep 1.2
"$RADPIPE_BIN" status --spool "$WORK/spool" >"$WORK/status.txt" || fail "status exit $?"
grep -E ' retrying +[0-9]+ +[0-9]+ .* [2-9] +[0-9.]+$' "$WORK/status.txt" >/dev/null ||
	fail "status does not show a retrying study with its attempts: $(cat "$WORK/status.txt")"
/usr/bin/python3 - "$WORK/spool/gateway.log" <<'PY' || fail "retry delays do not double"
import json, sys
d = [float(json.loads(l)["retry_in_s"]) for l in open(sys.argv[1]) if '"send_failed"' in l]
print("retry delays:", d)
assert d[:2] == [2.0, 4.0], d
PY
start_server "$SRV_PORT"
wait_delivered "$N" 60
check_delivered $FILES
sessions=$(grep -c '"event":"session_complete"' "$WORK/rx.log" || true)
[ "$sessions" -eq 1 ] || fail "$sessions sessions delivered, expected 1"
stop_gateway
echo "PASS: far site down for $(grep -c '"send_failed"' "$WORK/spool/gateway.log") attempts, then $N instances delivered once"
