#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# tests/gateway/t_watch.sh - --watch DIR: Part 10 files dropped into DIR (and its
# subdirectories) are taken once unchanged for 3 s, queued and delivered; a non-DICOM
# file goes to DIR/.rejected with a log line; a dotfile (a copy in progress) is left
# alone.  --study-quiet 2 (the default is t_deliver's).
. "$(dirname "$0")/lib.sh"
FILES="$(ls "$CT"/* | head -6)"
start_server
DICOM_PORT=$(free_port)
mkdir -p "$WORK/drop/sub"
start_gateway --dicom "GW@*:$DICOM_PORT" --study-quiet 2 --watch "$WORK/drop"
mkdir -p "$WORK/seen"
for f in $FILES; do cp "$f" "$WORK/drop/sub/"; done
echo "not an image" >"$WORK/drop/notes.txt"
cp "$RADPIPE_CORPUS/ct/wg04/CT1_JLSL.dcm" "$WORK/drop/.in-progress.dcm"
sleep 1.5
[ "$(ls "$WORK/drop/sub" | wc -l)" -eq 6 ] || fail "files taken before they settled"
i=0
until [ -z "$(ls "$WORK/drop/sub")" ] && [ -f "$WORK/drop/.rejected/notes.txt" ]; do
	i=$((i + 1))
	[ $i -lt 100 ] || fail "the watcher did not take the files within 10 s"
	sleep 0.1
done
# Taken files are in the queue before the quiet time lets them go: the reference copy.
snapshot_spool
wait_delivered 6 30
sleep 3
check_delivered $FILES
# A dropped file is a Part 10 file already: it arrives byte for byte as it was dropped.
/usr/bin/python3 - "$WORK/rx" $FILES <<'PY' || fail "a dropped file changed on its way"
import os, sys
import pydicom
for f in sys.argv[2:]:
    ds = pydicom.dcmread(f, stop_before_pixels=True)
    got = os.path.join(sys.argv[1], str(ds.StudyInstanceUID), str(ds.SOPInstanceUID) + ".dcm")
    assert open(got, "rb").read() == open(f, "rb").read(), f
PY
[ -f "$WORK/drop/.in-progress.dcm" ] || fail "a dotfile was taken"
grep -q '"event":"watch_rejected".*notes.txt' "$WORK/spool/gateway.log" || fail "no watch_rejected line"
[ "$(grep -c '"event":"watch_taken"' "$WORK/spool/gateway.log")" -eq 6 ] || fail "watch_taken count"
stop_gateway
echo "PASS: 6 dropped files delivered, notes.txt rejected to .rejected, dotfile left alone"
