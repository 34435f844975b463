#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# tests/transport_ofi/t_ofi_transfer.sh PROVIDER - a multi-series study (CT + MR) over the
# libfabric backend with PROVIDER ("tcp;ofi_rxm", "shm") on loopback, 4 streams (4
# fabric endpoints), small chunks so many messages are in flight: byte-identical.
# Also: --fabric without --trusted-fabric is refused on both sides, and a plain TCP
# sender is refused by a fabric receiver (no silent fallback to another data path).
. "$(dirname "$0")/../transport/lib.sh"
# Provider names hold ";" (CTest splits arguments there): "+" stands for it.
PROV=${1:?provider}
PROV=${PROV//+/;}
INPUTS="$CT $MR"
FAB=(--fabric "$PROV" --trusted-fabric)

mkdir "$WORK/rx"
set +e
"$RADPIPE_BIN" serve --dir "$WORK/rx" --listen 127.0.0.1:0 --insecure --fabric "$PROV" -q \
	2>"$WORK/untrusted.err"
rc=$?
set -e
[ "$rc" != 0 ] || fail "serve --fabric without --trusted-fabric started"
grep -q "trusted-fabric" "$WORK/untrusted.err" || fail "no reason given: $(cat "$WORK/untrusted.err")"

start_server "$WORK/rx" --insecure "${FAB[@]}"
send "$SRV_PORT" --insecure --fabric "$PROV" -n 2
[ "$RC" != 0 ] || fail "send --fabric without --trusted-fabric succeeded"
grep -q "trusted-fabric" "$WORK/send.err" || fail "no reason given: $(cat "$WORK/send.err")"
send "$SRV_PORT" --insecure -n 2
[ "$RC" != 0 ] || fail "a plain TCP sender was served by a fabric receiver"
check_nothing_visible "$WORK/rx"

send "$SRV_PORT" --insecure "${FAB[@]}" -n 4 --chunk-size 64K -k 8 -m 2
[ "$RC" = 0 ] || fail "send exited $RC: $(cat "$WORK/send.err")"
check_identical "$WORK/rx"
[ "$(json streams_lost)" = 0 ] || fail "streams lost: $(json streams_lost)"
grep -q "fabric=$PROV" "$WORK/rx.log" || fail "receiver log does not name the fabric"
# The data path: RMA writes wherever the provider offers FI_RMA (fi_info says), else
# tagged sends.  No fi_info binary: the path is only reported.
if command -v fi_info >/dev/null; then
	if fi_info -p "$PROV" -t FI_EP_RDM -c FI_RMA >/dev/null 2>&1; then want=rma; else want=tagged; fi
	grep -q "fabric=$PROV path=$want" "$WORK/rx.log" ||
		fail "expected the $want path: $(grep -o 'path=[a-z]*' "$WORK/rx.log" | sort | uniq -c)"
fi
path=$(grep -o 'path=[a-z]*' "$WORK/rx.log" | sort -u | tr '\n' ' ')
echo "PASS: $PROV ($path): $(json original_bytes) original bytes, $(json wire_bytes) on the fabric in $(json wall_s) s"

# Forced fallback: a sender refusing RMA gets tagged sends on every connection, here with
# small messages and a short window (more messages than slots, frames split across them)
# and a receiver whose window and message size differ from the sender's.
stop_server
mv "$WORK/rx.log" "$WORK/rx1.log"
mkdir "$WORK/rx2"
start_server "$WORK/rx2" --insecure "${FAB[@]}" --ofi-window 8 --ofi-seg 32K
send "$SRV_PORT" --insecure "${FAB[@]}" --ofi-no-rma --ofi-window 3 --ofi-seg 16K -n 3 \
	--chunk-size 64K -k 8 -m 2
[ "$RC" = 0 ] || fail "tagged-path send exited $RC: $(cat "$WORK/send.err")"
check_identical "$WORK/rx2"
grep -q "fabric=$PROV path=tagged" "$WORK/rx.log" || fail "--ofi-no-rma did not give the tagged path"
! grep -q "path=rma" "$WORK/rx.log" || fail "a connection used RMA despite --ofi-no-rma"
# A sender that closes its connections after COMPLETE is the normal end: no error logged.
sleep 0.5
! grep -q '"event":"connection_error"' "$WORK/rx.log" ||
	fail "a normal close was logged as an error: $(grep -m1 connection_error "$WORK/rx.log")"
echo "PASS: $PROV forced tagged path: $(json wire_bytes) bytes in $(json wall_s) s"

# Out-of-range tuning is refused with the reason.
send "$SRV_PORT" --insecure "${FAB[@]}" --ofi-window 1000 -n 1
[ "$RC" != 0 ] || fail "--ofi-window 1000 accepted"
grep -q "window" "$WORK/send.err" || fail "no reason given: $(cat "$WORK/send.err")"
