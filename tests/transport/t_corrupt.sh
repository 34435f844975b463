#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# tests/transport/t_corrupt.sh - a proxy flips one byte inside a chunk on the wire (plain
# TCP: under TLS the record MAC would drop the whole connection instead).  The receiver's
# CRC32C catches it, drops the chunk, rebuilds it, and the files are still exact.
. "$(dirname "$0")/lib.sh"
INPUTS="$CT"
mkdir "$WORK/rx"
start_server "$WORK/rx" --insecure
# Connection 2 carries a 40-byte HELLO, then 48 bytes of frame and chunk header: byte
# 5000 is chunk data.
start_proxy --flip-conn 2 --flip-at 5000
send "$PROXY_PORT" --insecure -n 4 --chunk-size 64K -k 6 -m 2
[ "$RC" = 0 ] || fail "send exited $RC: $(cat "$WORK/send.err")"
grep -q "flipped byte" "$WORK/proxy.log" || fail "the proxy flipped nothing"
check_identical "$WORK/rx"
[ "$(json crc_errors)" -ge 1 ] || fail "the receiver reported no CRC error"
grep -q '"event":"crc_error"' "$WORK/rx.log" || fail "the CRC error was not logged"
echo "PASS: $(json crc_errors) CRC error(s) caught, $(json chunks_repaired) chunk(s) rebuilt"
