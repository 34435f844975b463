#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# tests/transport/t_admission.sh - who may write studies, and who may read them once
# delivered: --allow together with --ca admits only the listed certificates (another
# site of the same CA is refused); --allow without --ca pins (the listed certificate gets
# in whatever chain comes with it, nothing else does); --insecure is refused on a non-loopback address;
# delivered files are 0640 and directories 0750 by default whatever the umask, and
# --file-mode changes that; two names that share their first 200 bytes in one
# directory are both delivered (temporary names never derive from the final name).
. "$(dirname "$0")/lib.sh"
make_pki
"$RADPIPE_BIN" keygen --ca "$WORK/pki" other-site >/dev/null 2>&1
fp() { openssl x509 -in "$1" -noout -fingerprint -sha256 | cut -d= -f2; }
# refused RX WHO [send options...]: that send fails and nothing appears in RX.
refused() {
	local dir=$1 who=$2
	shift 2
	send "$SRV_PORT" "$@"
	[ "$RC" != 0 ] || fail "$who was admitted"
	check_nothing_visible "$dir"
}
# admitted RX WHO [send options...]: that send succeeds and RX holds the inputs.
admitted() {
	local dir=$1 who=$2
	shift 2
	send "$SRV_PORT" "$@"
	[ "$RC" = 0 ] || fail "$who was refused: $(cat "$WORK/send.err")"
	check_identical "$dir"
}
OTHER_SITE="--cert $WORK/pki/other-site.pem --key $WORK/pki/other-site.key --ca $WORK/pki/ca.pem"
SENDER_ONLY="--cert $WORK/pki/sender.pem --key $WORK/pki/sender.key"

# A study of two files whose 250-byte names differ only after byte 200.
long=$(printf 'n%.0s' $(seq 200))
mkdir -p "$WORK/study/long"
cp "$CT/$(ls "$CT" | head -n 1)" "$WORK/study/long/${long}$(printf 'a%.0s' $(seq 50))"
cp "$CT/$(ls "$CT" | sed -n 2p)" "$WORK/study/long/${long}$(printf 'b%.0s' $(seq 50))"
INPUTS="$WORK/study/long"

# --insecure on an address other hosts can reach: refused before listening.
set +e
timeout 20 "$RADPIPE_BIN" serve --dir "$WORK" --listen 0.0.0.0:0 --insecure -q \
	2>"$WORK/insecure.err"
rc=$?
set -e
[ "$rc" = 2 ] || fail "serve --insecure on 0.0.0.0 exited $rc, want 2"
grep -q "loopback" "$WORK/insecure.err" || fail "unclear message: $(cat "$WORK/insecure.err")"

# --ca with --allow: only the listed site of that CA gets in.
mkdir "$WORK/rx"
umask 022
start_server "$WORK/rx" $SERVER_TLS --allow "$(fp "$WORK/pki/sender.pem")"
refused "$WORK/rx" "a certificate of the same CA that is not on --allow" $OTHER_SITE
admitted "$WORK/rx" "the listed site" $CLIENT_TLS
[ "$(find "$WORK/rx/long" -type f | wc -l)" = 2 ] || fail "not both long names delivered"
mode() { stat -c %a "$1"; }
for f in "$WORK/rx/long"/*; do
	[ "$(mode "$f")" = 640 ] || fail "delivered file mode $(mode "$f"), want 640"
done
[ "$(mode "$WORK/rx/long")" = 750 ] || fail "delivered directory mode $(mode "$WORK/rx/long"), want 750"
stop_server

# --file-mode, under a umask that would otherwise narrow it.
mkdir "$WORK/rx2"
umask 077
start_server "$WORK/rx2" $SERVER_TLS --file-mode 0644
send "$SRV_PORT" $CLIENT_TLS
[ "$RC" = 0 ] || fail "send with --file-mode failed: $(cat "$WORK/send.err")"
for f in "$WORK/rx2/long"/*; do
	[ "$(mode "$f")" = 644 ] || fail "--file-mode 0644 gave $(mode "$f")"
done
[ "$(mode "$WORK/rx2/long")" = 755 ] || fail "--file-mode 0644 gave directory $(mode "$WORK/rx2/long")"
stop_server
set +e
"$RADPIPE_BIN" serve --dir "$WORK/rx2" --file-mode 0044 -q 2>/dev/null
rc=$?
set -e
[ "$rc" = 2 ] || fail "--file-mode 0044 exited $rc, want 2"

# Pinning without a CA: the listed certificate gets in although the peer sends its chain
# with a CA this side does not hold (a side that loads --ca sends its CA along), and an
# unlisted one is refused, both ways round.
umask 022
mkdir "$WORK/rx3" "$WORK/rx4"
start_server "$WORK/rx3" $SERVER_TLS
refused "$WORK/rx3" "a receiver the sender did not pin" $SENDER_ONLY \
	--allow "$(fp "$WORK/pki/other-site.pem")"
grep -q "rejected" "$WORK/send.err" || fail "unclear refusal: $(cat "$WORK/send.err")"
admitted "$WORK/rx3" "the receiver the sender pinned" $SENDER_ONLY \
	--allow "$(fp "$WORK/pki/receiver.pem")"
stop_server
start_server "$WORK/rx4" --cert "$WORK/pki/receiver.pem" --key "$WORK/pki/receiver.key" \
	--allow "$(fp "$WORK/pki/sender.pem")"
refused "$WORK/rx4" "a sender the receiver did not pin" $OTHER_SITE
admitted "$WORK/rx4" "the sender the receiver pinned" $CLIENT_TLS
stop_server
echo "PASS: admission, pinning without a CA, insecure refusal, file modes, long names"
