#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# tests/transport/t_kill_receiver.sh - kill -9 the receiver at three random points of a
# rate-limited transfer (CT + MR; each point a random spool size past the previous one),
# restart it, rerun the same send: it resumes from the
# journal, the last run sends less than the whole stream, the result is byte-identical,
# and at no moment does a partial study appear in the delivery directory.
. "$(dirname "$0")/lib.sh"
INPUTS="$CT $MR"
mkdir "$WORK/rx"
start_watch "$WORK/rx"
for round in 1 2 3; do
	start_server "$WORK/rx" --insecure
	start_proxy --rate 2000000
	send_bg "$PROXY_PORT" --insecure -n 4 --chunk-size 64K -k 8 -m 2
	# Kill once the spool holds a random amount more than the last round left: a point
	# in the middle of the transfer however slow this machine is right now.
	# A restart resumes from what the journal holds (written every 64 chunks or
	# 0.5 s), so the kill also waits until this run has added to it.
	want=$(( round * 1500 + RANDOM % 700 ))
	jwant=$(( ${jb:-0} + 1 ))
	for i in $(seq 600); do
		kb=$(du -kc "$WORK"/rx/.radpipe/*/stream 2>/dev/null | tail -n 1 | cut -f1)
		jb=$(cat "$WORK"/rx/.radpipe/*/journal 2>/dev/null | wc -c)
		[ "${kb:-0}" -lt "$want" ] || [ "$jb" -lt "$jwant" ] || break
		kill -0 "$SEND_TPID" 2>/dev/null || break
		sleep 0.05
	done
	kill_server
	{ wait "$SEND_TPID"; } 2>/dev/null || true
	stop_proxy
	echo "round $round: receiver killed at ${kb:-0} KB of spool; sender said: $(tail -c 200 "$WORK/send.err")"
done
start_server "$WORK/rx" --insecure
send "$SRV_PORT" --insecure -n 4 --chunk-size 64K -k 8 -m 2
[ "$RC" = 0 ] || fail "final send exited $RC: $(cat "$WORK/send.err")"
stop_watch
check_identical "$WORK/rx"
[ "$(json resumed)" = true ] || fail "final run did not resume"
[ "$(grep -c '"state":"resumed"' "$WORK/rx.log")" -ge 3 ] || fail "not every restart resumed"
wire=$(json wire_bytes)
stream=$(json stream_bytes)
[ "$(json skipped_bytes)" -gt 0 ] || fail "nothing was skipped on resume"
[ "$wire" -lt "$stream" ] || fail "resumed run sent $wire bytes, the whole stream is $stream"
echo "PASS: last run sent $wire of $stream stream bytes, skipped $(json skipped_bytes)"
