#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# tests/transport/t_deliver_compressed.sh - `serve --deliver compressed`: the CT study
# arrives as JPEG-LS DICOM built from the codestreams that crossed the link; every file
# decodes to the pixels of its original (radpipe verify), and the RGB/other objects the
# sender kept verbatim arrive as they were.
. "$(dirname "$0")/lib.sh"
INPUTS="$STUDY"
mkdir "$WORK/rx"
start_server "$WORK/rx" --insecure --deliver compressed
send "$SRV_PORT" --insecure -n 4 -c jpegls
[ "$RC" = 0 ] || fail "send exited $RC: $(cat "$WORK/send.err")"
name=$(basename "$STUDY")
out=$("$RADPIPE_BIN" verify "$STUDY" "$WORK/rx/$name" 2>&1) || fail "verify: $out"
case "$out" in *" 0 differ"*) ;; *) fail "pixels differ: $out" ;; esac
"$RADPIPE_BIN" info "$WORK/rx/$name/S2010/I10" | grep -q "1.2.840.10008.1.2.4.80" ||
	fail "S2010/I10 was not delivered as JPEG-LS"
orig=$(du -sb "$STUDY" | cut -f1)
got=$(du -sb "$WORK/rx/$name" | cut -f1)
[ "$got" -lt "$orig" ] || fail "compressed delivery ($got bytes) is not smaller than $orig"
echo "PASS: $out; $orig -> $got bytes on disk"
