#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# tests/gateway/t_preempt.sh - a STAT study preempts a routine send: the routine CT study
# is on its way through a link slowed to 1 MB/s (tests/transport/proxy.py) when an
# instance with C-STORE Priority HIGH arrives for another study; once that is due the
# routine send is cancelled, the STAT study is delivered, and the routine study resumes
# (the receiver continues its session instead of starting over).  --study-quiet 2.
. "$(dirname "$0")/lib.sh"
ROUTINE="$(ls "$CT"/*)"
STATF="$RADPIPE_CORPUS/ct/dcm_qa_ct_GE_HiSpeedDual/01.dcm"
start_server
timeout -s KILL 200 /usr/bin/python3 "$RADPIPE_SOURCE_DIR/tests/transport/proxy.py" \
	--target "127.0.0.1:$SRV_PORT" --port-file "$WORK/proxy.port" --rate 1000000 \
	--lifetime 190 2>>"$WORK/proxy.log" &
PIDS="$PIDS $!"
wait_file "$WORK/proxy.port"
RX_PORT=$SRV_PORT
SRV_PORT=$(cat "$WORK/proxy.port")     # the gateway sends through the slow link
DICOM_PORT=$(free_port)
start_gateway --dicom "GW@*:$DICOM_PORT" --study-quiet 2
storescu -R -aet CT01 127.0.0.1 "$DICOM_PORT" $ROUTINE 2>"$WORK/scu.err" || fail "storescu: $(cat "$WORK/scu.err")"
snapshot_spool
i=0
until grep -q '"event":"send_start".*"priority":"routine"' "$WORK/spool/gateway.log"; do
	i=$((i + 1))
	[ $i -lt 200 ] || fail "the routine send never started"
	sleep 0.1
done
sleep 1
/usr/bin/python3 "$RADPIPE_SOURCE_DIR/tests/net/raw_store.py" "$DICOM_PORT" "$STATF:high" >"$WORK/raw.out" ||
	fail "raw C-STORE failed"
grep -q "STATUS 0x0000" "$WORK/raw.out" || fail "HIGH-priority C-STORE: $(cat "$WORK/raw.out")"
(cd "$WORK/spool/incoming" && find . -name '*.dcm' -exec cp --parents {} "$WORK/seen/" \;)
wait_delivered 55 120
check_delivered $ROUTINE $STATF
seq=$(grep -E '"event":"(send_start|send_preempted|delivered)"' "$WORK/spool/gateway.log" |
	/usr/bin/python3 -c 'import json, sys
out = []
for l in sys.stdin:
    e = json.loads(l)
    out.append(e["event"] + ("/" + e["priority"] if "priority" in e else ""))
print(" ".join(out))')
echo "gateway: $seq"
case "$seq" in
"send_start/routine send_preempted send_start/stat delivered send_start/routine delivered") ;;
*) fail "unexpected order: $seq" ;;
esac
# The routine study's second send continued the first's session.
/usr/bin/python3 - "$WORK/rx.log" <<'PY' || fail "the routine send did not resume"
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1]) if '"session_start"' in l]
routine = [e for e in ev if e["objects"] == 54]
print("routine sessions:", [(e["session"][:8], e["state"]) for e in routine])
assert len(routine) == 2 and routine[0]["session"] == routine[1]["session"], routine
assert routine[1]["state"] != "new", routine
PY
stop_gateway
echo "PASS: STAT study preempted the routine send and was delivered first; routine resumed"
