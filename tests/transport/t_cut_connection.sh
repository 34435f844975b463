#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# tests/transport/t_cut_connection.sh - a proxy cuts one of four connections mid-transfer.
# With k=6, m=2 and four streams no stream carries more than m chunks of a group, so the
# receiver rebuilds every lost chunk from parity: repaired > 0 and nothing is resent.
. "$(dirname "$0")/lib.sh"
INPUTS="$CT"
mkdir "$WORK/rx"
# Streams pull chunks as they go, so a cut loses only what was inside the proxy at that
# moment; on a loaded machine that is sometimes nothing (the transfer then proves
# nothing about parity).  Such a run, with nothing rebuilt, asked for or resent, is
# repeated on a fresh receiver; any other outcome is judged.
for attempt in 1 2 3 4 5; do
	start_server "$WORK/rx" --insecure
	start_proxy --rate 30000000 --cut-conn 3 --cut-after 400000
	send "$PROXY_PORT" --insecure -n 4 --chunk-size 64K -k 6 -m 2
	[ "$RC" = 0 ] || fail "send exited $RC: $(cat "$WORK/send.err")"
	grep -q "cut connection 3" "$WORK/proxy.log" || fail "the proxy never cut the connection"
	check_identical "$WORK/rx"
	if [ "$(json chunks_repaired)" != 0 ] || [ "$(json resent_bytes)" != 0 ] ||
		grep -q '"event":"need"' "$WORK/rx.log"; then
		break
	fi
	echo "attempt $attempt: the cut caught no chunk in flight; again"
	stop_proxy
	stop_server
	rm -rf "$WORK/rx" "$WORK/rx.log" "$WORK/proxy.log"
	mkdir "$WORK/rx"
done
[ "$(json streams_lost)" -ge 1 ] || fail "sender did not notice the cut"
[ "$(json chunks_repaired)" -gt 0 ] || fail "no chunk was rebuilt from parity"
[ "$(json resent_bytes)" = 0 ] || fail "$(json resent_bytes) bytes were resent"
repaired=$(json chunks_repaired)
stop_proxy
stop_server
# Without parity (m=0) the same cut can only be healed by asking again: the receiver
# sends NEED, the sender encodes the objects behind those chunks again and resends them.
mv "$WORK/rx" "$WORK/rx1"
mkdir "$WORK/rx"
for attempt in 1 2 3 4 5; do
	start_server "$WORK/rx" --insecure
	start_proxy --rate 30000000 --cut-conn 3 --cut-after 400000
	send "$PROXY_PORT" --insecure -n 4 --chunk-size 64K -k 6 -m 0
	[ "$RC" = 0 ] || fail "send without parity exited $RC: $(cat "$WORK/send.err")"
	check_identical "$WORK/rx"
	if [ "$(json resent_bytes)" != 0 ] || grep -q '"event":"need"' "$WORK/rx.log"; then
		break
	fi
	echo "attempt $attempt without parity: the cut caught no chunk in flight; again"
	stop_proxy
	stop_server
	rm -rf "$WORK/rx" "$WORK/rx.log" "$WORK/proxy.log"
	mkdir "$WORK/rx"
done
[ "$(json resent_bytes)" -gt 0 ] || fail "nothing was resent without parity"
grep -q '"event":"need"' "$WORK/rx.log" || fail "the receiver logged no NEED"
echo "PASS: repaired $repaired chunks from parity with resent 0; without parity resent $(json resent_bytes) bytes on NEED"
