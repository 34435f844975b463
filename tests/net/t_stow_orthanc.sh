#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# tests/net/t_stow_orthanc.sh - `serve --stow` into a real Orthanc's DICOMweb plugin: a CT
# and an MR study (real corpus files, named <StudyInstanceUID>/<SOPInstanceUID>.dcm) sent
# by `radpipe send` are POSTed by STOW-RS and each is in Orthanc once, pixels and every
# non-meta attribute equal (pydicom); the audit log has a "delivered" line for each.
NAME=stow
. "$(dirname "$0")/orthanc_lib.sh"
CT=( $(ls "$RADPIPE_CORPUS"/ct/dcm_qa_ct_GE_HiSpeedDual/*.dcm | head -10) )
MR=( $(find "$RADPIPE_CORPUS"/mr/dcm_qa_nih_Siemens -type f | sort) )
CT_STUDY=$(lay_out "$W/s" "${CT[@]}")
MR_STUDY=$(lay_out "$W/s" "${MR[@]}")
N=$(( ${#CT[@]} + ${#MR[@]} ))

ORTHANC_PID=$($PY "$ORTH" start "$W/orthanc" "$HTTP" "$DICOM") || fail "Orthanc did not start"
mkdir "$W/dir"
"$RADPIPE_BIN" serve --dir "$W/dir" --listen 127.0.0.1:0 --insecure --port-file "$W/port" \
	--stow "http://127.0.0.1:$HTTP/dicom-web" --audit "$W/audit.log" -q 2>>"$W/serve.err" &
SERVE_PID=$!
for _ in $(seq 100); do [ -s "$W/port" ] && break; sleep 0.1; done
[ -s "$W/port" ] || fail "serve did not start"
"$RADPIPE_BIN" send --insecure -q "127.0.0.1:$(cat "$W/port")" "$W/s/$CT_STUDY" "$W/s/$MR_STUDY" ||
	fail "send"
have=
for _ in $(seq 120); do
	have=$($PY "$ORTH" count "$HTTP")
	[ "$have" -ge "$N" ] && break
	sleep 1
done
[ "$have" = "$N" ] || fail "Orthanc holds $have instances, expected $N"
$PY "$ORTH" check "$HTTP" "${CT[@]}" "${MR[@]}" || fail "an instance differs in Orthanc"
d=$(grep -c '"event":"delivered"' "$W/audit.log" || true)
[ "$d" = "$N" ] || fail "audit log has $d delivered lines, expected $N"
echo "PASS: STOW-RS: $N instances (CT + MR) in Orthanc once each, equal; $d audit lines"
