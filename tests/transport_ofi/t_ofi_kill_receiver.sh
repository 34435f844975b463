#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# tests/transport_ofi/t_ofi_kill_receiver.sh PROVIDER - kill -9 the receiver twice in the
# middle of a libfabric transfer (at random spool sizes), restart it, rerun the same send:
# the session resumes from the journal, the last run sends less than the whole stream,
# delivery is byte-identical and no partial study is ever visible.  No rate-limiting
# proxy can sit in a fabric data path, so the sender is slowed instead: one encoder
# thread, 32 KiB chunks and a fabric window of 2 messages.
. "$(dirname "$0")/../transport/lib.sh"
# Provider names hold ";" (CTest splits arguments there): "+" stands for it.
PROV=${1:?provider}
PROV=${PROV//+/;}
INPUTS="$CT $MR"
FAB=(--fabric "$PROV" --trusted-fabric --ofi-window 2)
mkdir "$WORK/rx"
start_watch "$WORK/rx"
for round in 1 2; do
	start_server "$WORK/rx" --insecure "${FAB[@]}"
	send_bg "$SRV_PORT" --insecure "${FAB[@]}" -T 1 -n 2 --chunk-size 32K -k 8 -m 2
	# Kill once this run has started (its session_start is logged) and the spool holds
	# a random amount more than the last round left.
	for i in $(seq 500); do
		[ "$(grep -c session_start "$WORK/rx.log")" -lt "$round" ] || break
		kill -0 "$SEND_TPID" 2>/dev/null || break
		sleep 0.02
	done
	# Without a journal entry of this run the next one rightly starts afresh and
	# proves nothing, so the kill waits for that too.
	wait_spool_grown "$WORK/rx" $(( ${SPOOL_KB:-0} + 1500 + RANDOM % 700 )) 1200 0.02
	kill_server
	{ wait "$SEND_TPID"; } 2>/dev/null || true
	echo "round $round: receiver killed at $SPOOL_KB KB of spool, $JOURNAL_B B of journal; sender said: $(tail -c 200 "$WORK/send.err")"
done
start_server "$WORK/rx" --insecure "${FAB[@]}"
send "$SRV_PORT" --insecure "${FAB[@]}" -n 2 --chunk-size 32K -k 8 -m 2
[ "$RC" = 0 ] || fail "final send exited $RC: $(cat "$WORK/send.err")"
stop_watch
check_identical "$WORK/rx"
[ "$(json resumed)" = true ] || fail "final run did not resume"
[ "$(grep -c '"state":"resumed"' "$WORK/rx.log")" -ge 2 ] || fail "not every restart resumed"
wire=$(json wire_bytes)
stream=$(json stream_bytes)
[ "$(json skipped_bytes)" -gt 0 ] || fail "nothing was skipped on resume"
[ "$wire" -lt "$stream" ] || fail "resumed run sent $wire bytes, the whole stream is $stream"
echo "PASS: $PROV: last run sent $wire of $stream stream bytes, skipped $(json skipped_bytes)"
