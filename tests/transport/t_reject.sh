#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# tests/transport/t_reject.sh - hostile and unauthorised peers are rejected with a logged
# reason while the server keeps serving: a TLS client without a certificate, one from
# another CA, a plain-TCP client on the TLS port; on a plain-TCP server, a manifest with
# path traversal, an oversized object (absolute and against --max-object-size), garbage
# bytes, an absurd frame length, a join for an unknown session; and a fingerprint
# allowlist (no CA) that admits only the listed client.  After each, a real send
# still succeeds.
. "$(dirname "$0")/lib.sh"
make_pki
"$RADPIPE_BIN" keygen --ca "$WORK/evil" >/dev/null 2>&1
"$RADPIPE_BIN" keygen --ca "$WORK/evil" sender >/dev/null 2>&1
INPUTS="$STUDY/S1000"
mkdir "$WORK/rx" "$WORK/rx2"

start_server "$WORK/rx" $SERVER_TLS
TLS_PORT=$SRV_PORT
# No client certificate.
timeout 10 openssl s_client -connect "127.0.0.1:$TLS_PORT" -tls1_3 </dev/null >/dev/null 2>&1 || true
# A certificate from another CA.
send "$TLS_PORT" --cert "$WORK/evil/sender.pem" --key "$WORK/evil/sender.key" --ca "$WORK/pki/ca.pem"
[ "$RC" != 0 ] || fail "a client from another CA was accepted"
# The server's own certificate checked against the wrong CA by the client.
send "$TLS_PORT" $CLIENT_TLS --ca "$WORK/evil/ca.pem"
[ "$RC" != 0 ] || fail "the client accepted a server from another CA"
grep -qi "certificate" "$WORK/send.err" || fail "unclear client error: $(cat "$WORK/send.err")"
# Plain TCP on the TLS port.
send "$TLS_PORT" --insecure
[ "$RC" != 0 ] || fail "a plain-TCP client was accepted on the TLS port"
sleep 0.3
grep -q 'did not return a certificate' "$WORK/rx.log" || fail "no-certificate client not logged"
grep -Eq 'certificate verify failed|unknown ca|certificate rejected' "$WORK/rx.log" ||
	fail "wrong-CA client not logged"
[ "$(grep -c '"event":"reject"' "$WORK/rx.log")" -ge 3 ] || fail "fewer than 3 rejections logged"
send "$TLS_PORT" $CLIENT_TLS
[ "$RC" = 0 ] || fail "a legitimate client failed after the rejections: $(cat "$WORK/send.err")"
check_identical "$WORK/rx"
stop_server

# Fingerprint allowlists instead of a CA: the listed client gets in, another does not.
fp() { openssl x509 -in "$1" -noout -fingerprint -sha256 | cut -d= -f2; }
mkdir "$WORK/rx3"
mv "$WORK/rx.log" "$WORK/tls-ca.log"
start_server "$WORK/rx3" --cert "$WORK/pki/receiver.pem" --key "$WORK/pki/receiver.key" \
	--allow "$(fp "$WORK/pki/sender.pem")"
send "$SRV_PORT" --cert "$WORK/evil/sender.pem" --key "$WORK/evil/sender.key" \
	--allow "$(fp "$WORK/pki/receiver.pem")"
[ "$RC" != 0 ] || fail "a client missing from the allowlist was accepted"
send "$SRV_PORT" --cert "$WORK/pki/sender.pem" --key "$WORK/pki/sender.key" \
	--allow "$(fp "$WORK/pki/receiver.pem")"
[ "$RC" = 0 ] || fail "an allowlisted client failed: $(cat "$WORK/send.err")"
check_identical "$WORK/rx3"
grep -q '"event":"reject"' "$WORK/rx.log" || fail "the allowlist rejection was not logged"
stop_server
cat "$WORK/rx.log" >>"$WORK/tls-ca.log"
mv "$WORK/tls-ca.log" "$WORK/rx.log"

mv "$WORK/rx.log" "$WORK/tls.log"
start_server "$WORK/rx2" --insecure --max-object-size 400K
out=$(timeout 10 python3 "$HERE/rogue.py" "$SRV_PORT" traversal)
echo "traversal: $out"
case "$out" in *"'..'"*) ;; *) fail "traversal not refused: $out" ;; esac
out=$(timeout 10 python3 "$HERE/rogue.py" "$SRV_PORT" oversize)
echo "oversize: $out"
case "$out" in *exceeds*) ;; *) fail "oversized object not refused: $out" ;; esac
out=$(timeout 10 python3 "$HERE/rogue.py" "$SRV_PORT" garbage)
echo "garbage: $out"
out=$(timeout 10 python3 "$HERE/rogue.py" "$SRV_PORT" hugelen)
echo "hugelen: $out"
out=$(timeout 10 python3 "$HERE/rogue.py" "$SRV_PORT" unknown-join)
echo "unknown-join: $out"
case "$out" in *"unknown session"*) ;; *) fail "join for an unknown session not refused: $out" ;; esac
# A real file over this server's --max-object-size.
INPUTS="$CT"
send "$SRV_PORT" --insecure
[ "$RC" != 0 ] || fail "a 500 KB object passed --max-object-size 400K"
grep -q "exceeds the limit" "$WORK/send.err" || fail "unclear error: $(cat "$WORK/send.err")"
sleep 0.3
for why in "'..' component" "exceeds" "bad frame magic" "exceeds 67108928" "unknown session"; do
	grep -q "$why" "$WORK/rx.log" || fail "no logged rejection saying: $why"
done
check_nothing_visible "$WORK/rx2"
[ -z "$(ls "$WORK/rx2/.radpipe" | grep -v sessions.log || true)" ] ||
	fail "a rejected manifest left a session behind: $(ls "$WORK/rx2/.radpipe")"
INPUTS="$STUDY/S1000"
send "$SRV_PORT" --insecure
[ "$RC" = 0 ] || fail "a legitimate client failed after the rejections: $(cat "$WORK/send.err")"
check_identical "$WORK/rx2"
echo "PASS: $(grep -c '"event":"reject"' "$WORK/rx.log") + $(grep -c '"event":"reject"' "$WORK/tls.log") rejections logged, server kept serving"
