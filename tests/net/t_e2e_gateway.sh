#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# tests/net/t_gateway_e2e.sh - from the modality's C-STORE to the reading PACS, with the
# real parts a hospital runs: DCMTK's storescu pushes 140 CT and 160 MR slices (real
# corpus images in the transfer syntaxes they come in, two modalities' associations at
# once) into `radpipe gateway`; the gateway groups them into studies and sends each over
# radpipe's TLS transport to `radpipe serve --forward`, which stores them into a real
# Orthanc by C-STORE.  Checked through Orthanc's REST API: every instance there once,
# its pixels and every non-meta attribute equal to what storescu sent (pydicom).
#   1. the whole set, every option at its default;
#   2. a late instance of a study already delivered reaches Orthanc in the same study;
#   3. the whole set again into a fresh PACS with the far side stopped for 30 s in the
#      middle: nothing lost, nothing twice.
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../transport/lib.sh"
PY=/usr/bin/python3
ORTHANC_PY="$HERE/orthanc.py"
for tool in storescu echoscu Orthanc; do
	command -v $tool >/dev/null || fail "$tool is not installed (scripts/install-deps.sh)"
done

free_port() {
	$PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# start_orthanc DIR: a fresh Orthanc on its own ports; sets OR_HTTP, OR_DICOM.
start_orthanc() {
	OR_HTTP=$(free_port)
	OR_DICOM=$(free_port)
	pid=$($PY "$ORTHANC_PY" start "$1" "$OR_HTTP" "$OR_DICOM") || fail "Orthanc did not start"
	PIDS="$PIDS $pid"
	OR_PID=$pid
}

stop_orthanc() {
	kill -9 "$OR_PID" 2>/dev/null || true
}

count() {
	$PY "$ORTHANC_PY" count "$OR_HTTP"
}

# wait_count N SECONDS: until Orthanc holds N instances.
wait_count() {
	i=0
	while [ "$(count)" -lt "$1" ]; do
		i=$((i + 1))
		[ $i -le $(($2 * 2)) ] || fail "Orthanc holds $(count) of $1 instances after $2 s; gateway: $(tail -n 3 "$WORK/gw.log")"
		sleep 0.5
	done
	[ "$(count)" -eq "$1" ] || fail "Orthanc holds $(count) instances, expected $1"
}

# start_gateway SPOOL: the sending site's gateway at its defaults; sets GW_PORT.
start_gateway() {
	GW_PORT=$(free_port)
	timeout -s KILL 900 "$RADPIPE_BIN" gateway --dicom "RPGW@127.0.0.1:$GW_PORT" \
		--to "127.0.0.1:$FAR_PORT" --spool "$1" $CLIENT_TLS -q \
		--log "$WORK/gw.log" 2>>"$WORK/gw.err" &
	GW_TPID=$!
	PIDS="$PIDS $GW_TPID"
	i=0
	until echoscu -aec RPGW 127.0.0.1 "$GW_PORT" >/dev/null 2>&1; do
		i=$((i + 1))
		[ $i -lt 100 ] || fail "the gateway does not answer C-ECHO: $(tail -n 5 "$WORK/gw.err")"
		sleep 0.1
	done
}

stop_gateway() {
	for c in $(pgrep -P "$GW_TPID" 2>/dev/null || true); do
		kill -TERM "$c" 2>/dev/null || true
	done
	{ wait "$GW_TPID"; } 2>/dev/null || true
}

# start_far DIR: `radpipe serve --forward` into the Orthanc, on FAR_PORT.
start_far() {
	mkdir -p "$1"
	timeout -s KILL 900 "$RADPIPE_BIN" serve --dir "$1" --listen "127.0.0.1:$FAR_PORT" \
		$SERVER_TLS --forward "ORTHANC@127.0.0.1:$OR_DICOM" --log "$WORK/rx.log" -q \
		2>>"$WORK/rx.err" &
	FAR_TPID=$!
	PIDS="$PIDS $FAR_TPID"
	i=0
	until (exec 3<>"/dev/tcp/127.0.0.1/$FAR_PORT") 2>/dev/null; do
		i=$((i + 1))
		[ $i -lt 100 ] || fail "serve does not listen: $(tail -n 5 "$WORK/rx.err")"
		sleep 0.1
	done
}

stop_far() {
	for c in $(pgrep -P "$FAR_TPID" 2>/dev/null || true); do
		kill -TERM "$c" 2>/dev/null || true
	done
	{ wait "$FAR_TPID"; } 2>/dev/null || true
}

# push DIR...: every file below the DIRs, one storescu per transfer syntax directory
# (make_studies.py), all at once: several associations, each proposing its files' own
# syntax as a modality does, so compressed instances arrive as they are.
push() {
	pids=""
	for d in $(find "$@" -name '*.dcm' -exec dirname {} \; | sort -u); do
		case $(basename "$d") in
		1.2.840.10008.1.2.4.80) x=-xt ;;
		1.2.840.10008.1.2.4.81) x=-xu ;;
		1.2.840.10008.1.2.4.90) x=-xv ;;
		1.2.840.10008.1.2.4.91) x=-xw ;;
		1.2.840.10008.1.2.4.70) x=-xs ;;
		1.2.840.10008.1.2.4.50) x=-xy ;;
		1.2.840.10008.1.2.4.51) x=-xx ;;
		1.2.840.10008.1.2.5) x=-xr ;;
		1.2.840.10008.1.2.2) x=-xb ;;
		*) x=-x= ;;
		esac
		storescu -aet MODALITY -aec RPGW $x +sd 127.0.0.1 "$GW_PORT" "$d" \
			>>"$WORK/storescu.log" 2>&1 &
		pids="$pids $!"
	done
	for p in $pids; do
		wait "$p" || fail "storescu failed: $(grep -E "^(E|F):" "$WORK/storescu.log" | head -n 8)"
	done
}

check_all() {
	$PY "$ORTHANC_PY" check "$OR_HTTP" "$@" || fail "an instance in Orthanc differs from what storescu sent"
}

make_pki
$PY "$HERE/make_studies.py" "$RADPIPE_CORPUS" "$WORK/st" --ct 140 --mr 160 --hold 1 \
	2>/dev/null || fail "make_studies.py failed"
FILES=$(find "$WORK/st/ct" "$WORK/st/mr" -type f | sort)
FAR_PORT=$(free_port)

# 1. Everything at its defaults.
start_orthanc "$WORK/orthanc1"
start_far "$WORK/rx1"
start_gateway "$WORK/spool1"
t0=$(date +%s)
push "$WORK/st/ct" "$WORK/st/mr"
wait_count 300 600
check_all $FILES
echo "PASS: 140 CT + 160 MR slices via storescu -> gateway -> TLS transport -> serve --forward -> Orthanc in $(($(date +%s) - t0)) s, each once, pixels and attributes equal"

# 2. A late instance of a delivered study joins that study in Orthanc.
late=$(find "$WORK/st/late" -type f)
study=$($PY -c 'import pydicom,sys; print(pydicom.dcmread(sys.argv[1]).StudyInstanceUID)' "$late")
before=$($PY - "$OR_HTTP" "$study" <<'EOF'
import json, sys, urllib.request
port, study = int(sys.argv[1]), sys.argv[2]
get = lambda p, d=None: urllib.request.urlopen(urllib.request.Request("http://127.0.0.1:%d%s" % (port, p), data=d), timeout=30).read()
ids = [x["ID"] for x in json.loads(get("/tools/lookup", study.encode())) if x["Type"] == "Study"]
print(len(json.loads(get("/studies/%s/instances" % ids[0]))) if len(ids) == 1 else -1)
EOF
)
[ "$before" -ge 1 ] || fail "the late instance's study $study is not in Orthanc"
push "$WORK/st/late"
wait_count 301 120
check_all "$late"
after=$($PY - "$OR_HTTP" "$study" <<'EOF'
import json, sys, urllib.request
port, study = int(sys.argv[1]), sys.argv[2]
get = lambda p, d=None: urllib.request.urlopen(urllib.request.Request("http://127.0.0.1:%d%s" % (port, p), data=d), timeout=30).read()
ids = [x["ID"] for x in json.loads(get("/tools/lookup", study.encode())) if x["Type"] == "Study"]
print(len(json.loads(get("/studies/%s/instances" % ids[0]))) if len(ids) == 1 else -1)
EOF
)
[ "$after" -eq $((before + 1)) ] || fail "study $study holds $after instances after the late one, expected $((before + 1))"
echo "PASS: a late instance of a delivered study reached Orthanc in that study ($before -> $after instances)"
stop_gateway
stop_far
stop_orthanc

# 3. The far side stopped for 30 s in the middle.
start_orthanc "$WORK/orthanc2"
start_far "$WORK/rx2"
start_gateway "$WORK/spool2"
push "$WORK/st/ct" "$WORK/st/mr"
i=0
while [ "$(count)" -eq 0 ]; do
	i=$((i + 1))
	[ $i -lt 1200 ] || fail "nothing reached Orthanc before the stop"
	sleep 0.1
done
stop_far
mid=$(count)
[ "$mid" -lt 300 ] || fail "every instance was delivered before the far side stopped: nothing tested"
sleep 30
start_far "$WORK/rx2"
wait_count 300 600
check_all $FILES
sleep 5
[ "$(count)" -eq 300 ] || fail "Orthanc holds $(count) instances: some arrived twice"
echo "PASS: far side stopped for 30 s with $mid of 300 instances in Orthanc; after its restart all 300 arrived, each once, equal"
stop_gateway
stop_far
stop_orthanc
