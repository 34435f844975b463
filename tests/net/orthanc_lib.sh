# SPDX-License-Identifier: BSD-3-Clause
# tests/net/orthanc_lib.sh - shared by the shell tests of `serve --forward/--stow` into a
# real Orthanc: a work directory W removed on exit with the serve and Orthanc it started
# (SERVE_PID, ORTHANC_PID), fail, free_port, the Orthanc ports HTTP and DICOM, and
# lay_out OUTDIR FILE... (copies as <StudyInstanceUID>/<SOPInstanceUID>.dcm, prints the
# study UID).  Source it after setting NAME (the work directory's prefix).
set -euo pipefail
: "${RADPIPE_BIN:?}" "${RADPIPE_SOURCE_DIR:?}" "${RADPIPE_CORPUS:?}"
PY=/usr/bin/python3
ORTH="$RADPIPE_SOURCE_DIR/tests/net/orthanc.py"
W=$(mktemp -d "/tmp/radpipe-$NAME-XXXXXX")
SERVE_PID= ORTHANC_PID=
cleanup() {
	[ -n "$SERVE_PID" ] && kill "$SERVE_PID" 2>/dev/null && wait "$SERVE_PID" 2>/dev/null || true
	[ -n "$ORTHANC_PID" ] && kill "$ORTHANC_PID" 2>/dev/null || true
	for _ in $(seq 100); do [ -n "$ORTHANC_PID" ] && kill -0 "$ORTHANC_PID" 2>/dev/null && sleep 0.1; done
	rm -rf "$W"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; [ -f "$W/serve.err" ] && tail -20 "$W/serve.err"; exit 1; }
free_port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
HTTP=$(free_port); DICOM=$(free_port)

lay_out() {
	$PY - "$@" <<'PYEOF'
import os, shutil, sys, pydicom
out = sys.argv[1]
for f in sys.argv[2:]:
    ds = pydicom.dcmread(f, stop_before_pixels=True)
    d = os.path.join(out, ds.StudyInstanceUID)
    os.makedirs(d, exist_ok=True)
    shutil.copyfile(f, os.path.join(d, ds.SOPInstanceUID + ".dcm"))
print(ds.StudyInstanceUID)
PYEOF
}
