#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# tests/net/t_e2e_gateway.sh - the whole path: storescu (a modality) -> radpipe gateway ->
# transport -> radpipe serve --forward -> a real Orthanc.  140 CT and 160 MR slices (real
# corpus files; where the corpus has fewer, real slices copied by pydicom with new SOP
# Instance UIDs), every instance in Orthanc once, pixels and every non-meta attribute
# equal.  Then the same into a fresh site with serve stopped for 30 s in the middle:
# nothing lost, nothing duplicated; and a late instance of a delivered study reaches
# Orthanc in that study.  The gateway's default 10 s study quiet time is waited for.
set -euo pipefail
: "${RADPIPE_BIN:?}" "${RADPIPE_SOURCE_DIR:?}" "${RADPIPE_CORPUS:?}"
PY=/usr/bin/python3
ORTH="$RADPIPE_SOURCE_DIR/tests/net/orthanc.py"
W=$(mktemp -d /tmp/radpipe-e2e-XXXXXX)
SERVE_PID= GW_PID= ORTHANC_PID=
cleanup() {
	for p in $GW_PID $SERVE_PID; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null || true; done
	[ -n "$ORTHANC_PID" ] && kill "$ORTHANC_PID" 2>/dev/null || true
	for _ in $(seq 100); do [ -n "$ORTHANC_PID" ] && kill -0 "$ORTHANC_PID" 2>/dev/null && sleep 0.1; done
	rm -rf "$W"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; tail -5 "$W"/*.err 2>/dev/null || true; exit 1; }
free_port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# make OUT N SRC...: N Part 10 files in OUT, the SRC files first, then copies of them
# (cycling) with new SOP Instance UIDs in the same study and series.
make_set() {
	$PY - "$@" <<'PYEOF'
import os, shutil, sys, pydicom
from pydicom.uid import generate_uid
out, n, srcs = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
os.makedirs(out, exist_ok=True)
for i in range(n):
    f = srcs[i % len(srcs)]
    if i < len(srcs):
        shutil.copyfile(f, "%s/%04d.dcm" % (out, i))
        continue
    ds = pydicom.dcmread(f)
    ds.SOPInstanceUID = generate_uid(prefix="1.2.826.0.1.3680043.8.498.")
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.InstanceNumber = 1000 + i
    ds.save_as("%s/%04d.dcm" % (out, i), write_like_original=True)
PYEOF
}
make_set "$W/ct" 140 $(ls "$RADPIPE_CORPUS"/ct/dcm_qa_ct_GE_HiSpeedDual/*.dcm)
make_set "$W/mr" 160 $(find "$RADPIPE_CORPUS"/mr/dcm_qa_nih_GE_mr_0004 -type f | sort)
make_set "$W/late" 141 $(ls "$RADPIPE_CORPUS"/ct/dcm_qa_ct_GE_HiSpeedDual/*.dcm)
LATE="$W/late/0140.dcm"
N=300

start_site() {   # start_site NAME: Orthanc, serve --forward into it, the gateway
	local s=$W/$1
	mkdir -p "$s/dir" "$s/spool"
	HTTP=$(free_port); DICOM=$(free_port); GWPORT=$(free_port)
	ORTHANC_PID=$($PY "$ORTH" start "$s/orthanc" "$HTTP" "$DICOM") || fail "Orthanc did not start"
	SPORT=$(free_port)
	start_serve "$1"
	"$RADPIPE_BIN" gateway --dicom "GW@127.0.0.1:$GWPORT" --to "127.0.0.1:$SPORT" \
		--spool "$s/spool" --insecure -q 2>>"$W/gateway.err" &
	GW_PID=$!
	for _ in $(seq 100); do
		echoscu -aec GW 127.0.0.1 "$GWPORT" 2>/dev/null && break; sleep 0.1
	done
}
start_serve() {
	"$RADPIPE_BIN" serve --dir "$W/$1/dir" --listen "127.0.0.1:$SPORT" --insecure \
		--forward "ORTHANC@127.0.0.1:$DICOM" -q 2>>"$W/serve.err" &
	SERVE_PID=$!
	for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$SPORT") 2>/dev/null && break; sleep 0.1; done
}
stop_site() {
	kill "$GW_PID" "$SERVE_PID"; wait "$GW_PID" "$SERVE_PID" 2>/dev/null || true
	GW_PID= SERVE_PID=
	kill "$ORTHANC_PID"
	for _ in $(seq 300); do kill -0 "$ORTHANC_PID" 2>/dev/null || break; sleep 0.1; done
	ORTHANC_PID=
}
push() { storescu -aet MODALITY -aec GW 127.0.0.1 "$GWPORT" "$@" >/dev/null 2>&1 || fail "storescu"; }
wait_count() {   # up to 15 min for exactly $1 instances
	local have=
	for _ in $(seq 900); do
		have=$($PY "$ORTH" count "$HTTP" 2>/dev/null || echo -1)
		[ "$have" = "$1" ] && return 0
		[ "$have" -gt "$1" ] && fail "Orthanc holds $have instances, expected $1 (duplicates)"
		sleep 1
	done
	fail "Orthanc holds $have instances, expected $1"
}

# 1. Everything up.
t0=$(date +%s)
start_site one
push "$W"/ct/*.dcm
push "$W"/mr/*.dcm
wait_count $N
$PY "$ORTH" check "$HTTP" "$W"/ct/*.dcm "$W"/mr/*.dcm || fail "an instance differs in Orthanc"
echo "PASS: 140 CT + 160 MR via gateway -> serve --forward -> Orthanc: $N instances, each once, equal ($(( $(date +%s) - t0 )) s)"

# 3. A late CT instance of the delivered study: same study in Orthanc, 141 instances.
push "$LATE"
wait_count $(( N + 1 ))
$PY "$ORTH" check "$HTTP" "$LATE" || fail "the late instance differs"
n=$($PY - "$HTTP" "$LATE" <<'PYEOF'
import json, sys, urllib.request, pydicom
port, f = int(sys.argv[1]), sys.argv[2]
uid = pydicom.dcmread(f, stop_before_pixels=True).StudyInstanceUID
get = lambda p, d=None: json.loads(urllib.request.urlopen(urllib.request.Request(
    "http://127.0.0.1:%d%s" % (port, p), data=d), timeout=30).read())
st = [x for x in get("/tools/lookup", uid.encode()) if x["Type"] == "Study"]
print(len(get("/studies/%s/instances" % st[0]["ID"])) if len(st) == 1 else -len(st))
PYEOF
)
[ "$n" = 141 ] || fail "the CT study in Orthanc has $n instances, expected 141"
echo "PASS: a late instance reached Orthanc in the same study (141 instances)"
stop_site

# 2. A fresh site, serve stopped for 30 s in the middle.
t0=$(date +%s)
start_site two
push "$W"/ct/*.dcm
kill "$SERVE_PID"; wait "$SERVE_PID" 2>/dev/null || true; SERVE_PID=
push "$W"/mr/*.dcm
sleep 30
start_serve two
wait_count $N
sleep 15   # anything sent twice would show by now
[ "$($PY "$ORTH" count "$HTTP")" = $N ] || fail "duplicates after the outage"
$PY "$ORTH" check "$HTTP" "$W"/ct/*.dcm "$W"/mr/*.dcm || fail "an instance differs after the outage"
echo "PASS: serve stopped 30 s mid-way: $N instances, nothing lost or duplicated ($(( $(date +%s) - t0 )) s)"
