#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# tests/transport/t_kill_sender.sh - kill -9 the sender mid-transfer; nothing partial is
# visible; rerunning the same send resumes (skips what the receiver journaled) and
# delivers byte-identical files.
. "$(dirname "$0")/lib.sh"
INPUTS="$CT $MR"
mkdir "$WORK/rx"
start_server "$WORK/rx" --insecure
start_watch "$WORK/rx"
start_proxy --rate 4000000
send_bg "$PROXY_PORT" --insecure -n 4 --chunk-size 64K -k 8 -m 2
sleep 1.5
kill_sender
stop_proxy
check_nothing_visible "$WORK/rx"
send "$SRV_PORT" --insecure -n 4 --chunk-size 64K -k 8 -m 2
[ "$RC" = 0 ] || fail "rerun exited $RC: $(cat "$WORK/send.err")"
stop_watch
check_identical "$WORK/rx"
[ "$(json resumed)" = true ] || fail "rerun did not resume"
[ "$(json skipped_bytes)" -gt 0 ] || fail "rerun skipped nothing"
echo "PASS: resumed, skipped $(json skipped_bytes) bytes, sent $(json wire_bytes)"
