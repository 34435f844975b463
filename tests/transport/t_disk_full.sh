#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# tests/transport/t_disk_full.sh - the receiver's directory is a small tmpfs: first too
# small for the spool, then too small for delivery.  Each run fails with a clear "no space"
# error, nothing partial appears under a final name, and once space exists the same send
# resumes and delivers byte-identical files.  Needs root for mount (skips with 77 otherwise).
. "$(dirname "$0")/lib.sh"
mkdir "$WORK/rx"
if [ "$(id -u)" != 0 ] || ! mount -t tmpfs -o size=2m radpipe-test "$WORK/rx"; then
	echo "SKIP: cannot mount a small tmpfs here (needs root with mount permission)" >&2
	exit 77
fi
MOUNTS="$WORK/rx"
INPUTS="$CT"
start_server "$WORK/rx" --insecure
# 1: 2 MiB cannot hold the spool (about 6 MB of JPEG-LS).
send "$SRV_PORT" --insecure -n 4 --chunk-size 64K -k 8 -m 2
[ "$RC" != 0 ] || fail "send succeeded into a full disk"
grep -qi "no space left" "$WORK/send.err" || fail "unclear error: $(cat "$WORK/send.err")"
check_nothing_visible "$WORK/rx"
grep -q 'RP_E_NOSPACE' "$WORK/rx.log" || fail "the receiver did not log RP_E_NOSPACE"
echo "run 1: $(cat "$WORK/send.err")"
# 2: 12 MiB holds the spool but not the 28 MB of delivered originals.
mount -o remount,size=12m "$WORK/rx"
send "$SRV_PORT" --insecure -n 4 --chunk-size 64K -k 8 -m 2
[ "$RC" != 0 ] || fail "send succeeded into a full disk"
grep -qi "no space left" "$WORK/send.err" || fail "unclear error: $(cat "$WORK/send.err")"
check_nothing_visible "$WORK/rx"
# Temporary files may wait in the spool area for the next run; never under a final name.
[ -z "$(find "$WORK/rx" -path "$WORK/rx/.radpipe" -prune -o -name '*.rp-tmp-*' -print)" ] ||
	fail "temporary files outside the spool area"
echo "run 2: $(cat "$WORK/send.err")"
# 3: room for everything: resumes.
mount -o remount,size=100m "$WORK/rx"
send "$SRV_PORT" --insecure -n 4 --chunk-size 64K -k 8 -m 2
[ "$RC" = 0 ] || fail "send after freeing space exited $RC: $(cat "$WORK/send.err")"
check_identical "$WORK/rx"
[ "$(json resumed)" = true ] || fail "run 3 did not resume"
[ "$(json skipped_bytes)" -gt 0 ] || fail "run 3 skipped nothing"
echo "PASS: resumed after ENOSPC, skipped $(json skipped_bytes) bytes"
