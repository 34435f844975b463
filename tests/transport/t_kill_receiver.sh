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
	# Kill once the spool holds a random amount more than the last round left (a point
	# in the middle of the transfer however slow this machine is right now) and this
	# run has added to the journal.
	wait_spool_grown "$WORK/rx" $(( round * 1500 + RANDOM % 700 )) 600 0.05
	kill_server
	{ wait "$SEND_TPID"; } 2>/dev/null || true
	stop_proxy
	echo "round $round: receiver killed at $SPOOL_KB KB of spool, $JOURNAL_B B of journal; sender said: $(tail -c 200 "$WORK/send.err")"
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
