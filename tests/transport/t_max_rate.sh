#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# tests/transport/t_max_rate.sh - `radpipe send --max-rate 40` (Mbit/s) of the Philips CT
# series over 8 loopback TLS connections: delivered exact, and not sooner than the cap
# allows for what went on the wire (wall >= (wire - one 64 KiB slice) / cap; unpaced, this
# loopback send takes a small fraction of that).  An out-of-range cap exits 2.
. "$(dirname "$0")/lib.sh"
make_pki
mkdir "$WORK/rx"
start_server "$WORK/rx" $SERVER_TLS
INPUTS="$CT"
send "$SRV_PORT" $CLIENT_TLS --max-rate 40
[ "$RC" = 0 ] || fail "send exited $RC: $(cat "$WORK/send.err")"
check_identical "$WORK/rx"
[ "$(json max_rate_mbps)" = 40 ] || fail "report has max_rate_mbps $(json max_rate_mbps)"
python3 - "$WORK/report.json" <<'PY' || fail "the send was faster than its cap"
import json, sys
r = json.load(open(sys.argv[1]))
rate = 40e6 / 8
bound = (r["wire_bytes"] - 65536 - 64) / rate
print("# --max-rate 40: %.1f MB of chunks in %.2f s = %.1f Mbit/s, lower bound %.2f s"
      % (r["wire_bytes"] / 1e6, r["wall_s"], r["wire_bytes"] * 8 / 1e6 / r["wall_s"], bound))
assert r["wire_bytes"] > 5e6, "too little data for the bound to mean anything"
sys.exit(0 if r["wall_s"] >= bound else 1)
PY
set +e
"$RADPIPE_BIN" send --max-rate 0.5 $CLIENT_TLS "127.0.0.1:$SRV_PORT" "$CT" 2>"$WORK/bad.err"
rc=$?
set -e
[ "$rc" = 2 ] || fail "--max-rate 0.5 exited $rc"
grep -q -- "--max-rate '0.5'" "$WORK/bad.err" || fail "no clear error: $(cat "$WORK/bad.err")"
echo "PASS: $(cat "$WORK/report.json")"
