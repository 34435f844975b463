#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# tests/net/t_forward_orthanc.sh - `serve --forward` into a real Orthanc: studies sent by
# `radpipe send` as <StudyInstanceUID>/<SOPInstanceUID>.dcm (real CT and MR files from the
# corpus) reach Orthanc once each, pixels and every non-meta attribute equal (pydicom):
#   1. the PACS down at first and started 20 s later: delivered after the retry;
#   2. serve killed (kill -9) with instances pending, restarted: delivered;
#   3. an addition session for a delivered study: merged in DIR, and in Orthanc the same
#      study with one more instance.
NAME=fwd
. "$(dirname "$0")/orthanc_lib.sh"
CT=( $(ls "$RADPIPE_CORPUS"/ct/dcm_qa_ct_GE_HiSpeedDual/*.dcm | head -12) )
MR=( $(find "$RADPIPE_CORPUS"/mr/dcm_qa_nih_Siemens -type f | sort) )
CT_LATE=${CT[11]}
CT_STUDY=$(lay_out "$W/a" "${CT[@]:0:11}")
MR_STUDY=$(lay_out "$W/b" "${MR[@]}")
lay_out "$W/c" "$CT_LATE" >/dev/null
[ -n "$CT_STUDY" ] && [ -n "$MR_STUDY" ] || fail "no study laid out"

mkdir "$W/dir"
start_serve() {
	rm -f "$W/port"
	"$RADPIPE_BIN" serve --dir "$W/dir" --listen 127.0.0.1:0 --insecure --port-file "$W/port" \
		--forward "ORTHANC@127.0.0.1:$DICOM" --forward-aet RPTEST --audit "$W/audit.log" \
		-q 2>>"$W/serve.err" &
	SERVE_PID=$!
	for _ in $(seq 100); do [ -s "$W/port" ] && break; sleep 0.1; done
	[ -s "$W/port" ] || fail "serve did not start"
	PORT=$(cat "$W/port")
}
start_orthanc() {
	ORTHANC_PID=$($PY "$ORTH" start "$W/orthanc" "$HTTP" "$DICOM") || fail "Orthanc did not start"
}
# Orthanc is no child of this shell (orthanc.py starts it in a session of its own): poll.
stop_orthanc() {
	kill "$ORTHANC_PID"
	for _ in $(seq 300); do kill -0 "$ORTHANC_PID" 2>/dev/null || break; sleep 0.1; done
	kill -0 "$ORTHANC_PID" 2>/dev/null && fail "Orthanc did not stop"
	ORTHANC_PID=
}
# Waits (up to 10 min: the backoff may be at 5 min) for Orthanc to hold exactly N instances.
wait_count() {
	local n=$1 have=
	for _ in $(seq 600); do
		have=$($PY "$ORTH" count "$HTTP" 2>/dev/null || echo -1)
		[ "$have" = "$n" ] && return 0
		[ "$have" -gt "$n" ] && fail "Orthanc holds $have instances, expected $n (duplicates)"
		sleep 1
	done
	fail "Orthanc holds $have instances after 10 min, expected $n"
}
send() { "$RADPIPE_BIN" send --insecure -q "127.0.0.1:$PORT" "$@" || fail "send $*"; }

# 1. PACS down at first, up 20 s later.
start_serve
send "$W/a/$CT_STUDY"
t0=$(date +%s)
sleep 20
$PY "$ORTH" count "$HTTP" >/dev/null 2>&1 && fail "something answers on Orthanc's port already"
start_orthanc
wait_count 11
$PY "$ORTH" check "$HTTP" "${CT[@]:0:11}" || fail "CT study differs in Orthanc"
grep -q '"event":"forward_retry"' "$W/dir/.radpipe/sessions.log" || fail "no retry was logged"
echo "PASS: PACS down 20 s: 11 CT instances delivered after retry, each once ($(( $(date +%s) - t0 )) s)"

# 2. serve killed with instances pending, restarted.
stop_orthanc
send "$W/b/$MR_STUDY"
pending=$(grep -l '^pending' "$W"/dir/.radpipe/forward/*.item | wc -l)
[ "$pending" = "${#MR[@]}" ] || fail "$pending instances pending before the kill, expected ${#MR[@]}"
kill -9 "$SERVE_PID"; wait "$SERVE_PID" 2>/dev/null || true; SERVE_PID=
start_orthanc
start_serve
wait_count $(( 11 + ${#MR[@]} ))
$PY "$ORTH" check "$HTTP" "${MR[@]}" "${CT[@]:0:11}" || fail "after the restart Orthanc differs"
echo "PASS: serve killed with ${#MR[@]} pending, restarted: all delivered, each once"

# 3. An addition to the delivered CT study.
send "$W/c/$CT_STUDY"
[ "$(ls "$W/dir/$CT_STUDY" | wc -l)" = 12 ] || fail "the addition was not merged in DIR"
cmp "$CT_LATE" "$W/dir/$CT_STUDY/$(ls "$W/c/$CT_STUDY")" || fail "merged file differs"
wait_count $(( 12 + ${#MR[@]} ))
$PY "$ORTH" check "$HTTP" "$CT_LATE" || fail "the late instance differs in Orthanc"
n=$($PY - "$HTTP" "$CT_STUDY" <<'PYEOF'
import json, sys, urllib.request
port, uid = int(sys.argv[1]), sys.argv[2]
get = lambda p, d=None: json.loads(urllib.request.urlopen(urllib.request.Request(
    "http://127.0.0.1:%d%s" % (port, p), data=d), timeout=30).read())
st = [x for x in get("/tools/lookup", uid.encode()) if x["Type"] == "Study"]
print(len(get("/studies/%s/instances" % st[0]["ID"])) if len(st) == 1 else -len(st))
PYEOF
)
[ "$n" = 12 ] || fail "Orthanc's CT study has $n instances, expected 12"
echo "PASS: addition merged in DIR, Orthanc's study grew to 12 instances"

# 4. An instance that can never be stored (not DICOM) is marked failed and logged, not
#    retried forever; the queue goes on with the next study.
mkdir -p "$W/d/9.9.9"
head -c 4096 /dev/urandom >"$W/d/9.9.9/junk.dcm"
send "$W/d/9.9.9"
for _ in $(seq 60); do grep -q '^failed' "$W"/dir/.radpipe/forward/*.item && break; sleep 1; done
grep -l '^failed' "$W"/dir/.radpipe/forward/*.item | xargs grep -q '^9.9.9/junk.dcm$' ||
	fail "the non-DICOM file was not marked failed"
grep -q '"event":"forward_failed".*9.9.9/junk.dcm' "$W/dir/.radpipe/sessions.log" ||
	fail "forward_failed not logged"
[ "$(grep -l '^pending' "$W"/dir/.radpipe/forward/*.item | wc -l)" = 0 ] || fail "items left pending"
[ "$($PY "$ORTH" count "$HTTP")" = $(( 12 + ${#MR[@]} )) ] || fail "Orthanc's count changed"
echo "PASS: a non-DICOM file is marked failed and logged, nothing left pending"
grep -c '"delivered"' "$W/audit.log" | { read -r a; [ "$a" -ge $(( 12 + ${#MR[@]} )) ] || fail "audit has $a delivered lines"; echo "PASS: audit: $a delivered lines"; }
