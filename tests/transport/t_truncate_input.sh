#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# tests/transport/t_truncate_input.sh - an input file is truncated while `send` is running
# (a scanner still writing, a cleanup job).  The sender must stop with a clear error that
# names the file and exit 3, never die of a signal (inputs used to be mmapped: SIGBUS),
# and nothing may be delivered.  The proxy's rate keeps the send going for several
# seconds; the last of twenty files is cut at 1 s, long before the sender reads it (64 KiB
# chunks keep its read-ahead to a few MB).
. "$(dirname "$0")/lib.sh"
mkdir -p "$WORK/in/study" "$WORK/rx"
for i in $(seq -w 1 20); do
	head -c 4000000 /dev/urandom >"$WORK/in/study/f$i.bin"
done
INPUTS="$WORK/in/study"
start_server "$WORK/rx" --insecure
start_proxy --rate 10000000
send_bg "$PROXY_PORT" --insecure -c native --chunk-size 64K
sleep 1
truncate -s 100000 "$WORK/in/study/f20.bin"
{ wait "$SEND_TPID"; RC=$?; } || true
echo "send exited $RC: $(cat "$WORK/send.err")"
! grep -q "signal" "$WORK/send.err" || fail "send died of a signal"
[ "$RC" = 3 ] || fail "send exited $RC, not 3 (I/O error): $(cat "$WORK/send.err")"
grep -q "f20.bin" "$WORK/send.err" || fail "the error does not name the file"
grep -q "shrank\|changed" "$WORK/send.err" || fail "the error does not say the file changed"
check_nothing_visible "$WORK/rx"
echo "PASS: truncated input refused by name with exit 3, nothing delivered"
