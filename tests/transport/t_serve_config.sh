#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# tests/transport/t_serve_config.sh - `serve --config FILE`: a TLS receiver configured
# only by its file (as the systemd unit runs it) takes a real send; an option on the
# command line wins over the file; every setting of docs/radpipe-serve.conf is a real
# option; a mistyped name, a switch with a non-boolean value and a missing file exit 2
# naming the file and line, and start nothing.
. "$(dirname "$0")/lib.sh"
make_pki
INPUTS="$STUDY/S1000"
mkdir "$WORK/rx"
cat >"$WORK/serve.conf" <<CONF
# a receiver configured by its file alone
dir = $WORK/rx
listen = 127.0.0.1:0
cert = $WORK/pki/receiver.pem
key = $WORK/pki/receiver.key
ca = $WORK/pki/ca.pem
port-file = $WORK/srv.port
log = $WORK/rx.log
file-mode = 0600
insecure = false
quiet = true
CONF
rm -f "$WORK/srv.port"
timeout -s KILL 300 "$RADPIPE_BIN" serve --config "$WORK/serve.conf" --file-mode 0660 &
SRV_TPID=$!
PIDS="$PIDS $SRV_TPID"
wait_file "$WORK/srv.port"
SRV_PORT=$(cat "$WORK/srv.port")
send "$SRV_PORT" $CLIENT_TLS
[ "$RC" = 0 ] || fail "send to a configured receiver failed: $(cat "$WORK/send.err")"
check_identical "$WORK/rx"
f=$(find "$WORK/rx/S1000" -type f | head -n 1)
mode=$(stat -c %a "$f")
[ "$mode" = 660 ] || fail "delivered mode $mode: the command line's --file-mode 0660 should win over the file's 0600"
# TLS came from the file: a plain-TCP client is refused ("insecure = false" is off).
send "$SRV_PORT" --insecure
[ "$RC" != 0 ] || fail "a plain-TCP client was accepted by a receiver configured for TLS"
stop_server

# The shipped example names only real settings (--help exits 0 after reading it).
"$RADPIPE_BIN" serve --config "$RADPIPE_SOURCE_DIR/docs/radpipe-serve.conf" --help >/dev/null 2>"$WORK/err" ||
	fail "docs/radpipe-serve.conf is not a valid config: $(cat "$WORK/err")"

expect_usage() { # name, expected stderr pattern, config text
	printf '%s\n' "$3" >"$WORK/bad.conf"
	set +e
	timeout 10 "$RADPIPE_BIN" serve --config "$WORK/bad.conf" >/dev/null 2>"$WORK/err"
	rc=$?
	set -e
	[ "$rc" = 2 ] || fail "$1: exit $rc, expected 2 ($(cat "$WORK/err"))"
	grep -q -- "$2" "$WORK/err" || fail "$1: unclear message: $(cat "$WORK/err")"
}
expect_usage "mistyped name" "bad.conf:3: unknown setting 'lsiten'" "# x
dir = $WORK/rx
lsiten = 127.0.0.1:0"
expect_usage "switch value" "bad.conf:1: 'insecure' is a switch" "insecure = maybe"
expect_usage "missing value" "bad.conf:1: 'dir' needs a value" "dir"
set +e
"$RADPIPE_BIN" serve --config "$WORK/absent.conf" 2>"$WORK/err"
rc=$?
set -e
[ "$rc" = 2 ] && grep -q "absent.conf: No such file" "$WORK/err" ||
	fail "missing config: exit $rc, $(cat "$WORK/err")"
echo "PASS: serve --config"
