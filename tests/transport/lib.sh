# SPDX-License-Identifier: BSD-3-Clause
# tests/transport/lib.sh - shared helpers of the loopback transfer tests: every process
# they start is bounded by `timeout`, recorded, and killed (by its own pid) on exit;
# everything lives under one temporary directory that is removed at the end.
set -eu
: "${RADPIPE_BIN:?RADPIPE_BIN must name the radpipe binary}"
: "${RADPIPE_CORPUS:?RADPIPE_CORPUS must name the corpus directory}"
HERE=$(cd "$(dirname "$0")" && pwd)
STUDY="$RADPIPE_CORPUS/ct/dcm_qa_ct_Philips_Ingenuity_S21610"
CT="$STUDY/S2010"
MR="$RADPIPE_CORPUS/mr/dcm_qa_nih_GE_mr_0004"
MR2="$RADPIPE_CORPUS/mr/wg04"
for d in "$CT" "$MR" "$MR2"; do
	if [ ! -d "$d" ]; then
		echo "FAIL: corpus directory $d is missing (RADPIPE_CORPUS=$RADPIPE_CORPUS)" >&2
		exit 1
	fi
done
WORK=$(mktemp -d /tmp/rp-transport.XXXXXX)
PIDS=""
MOUNTS=""

cleanup() {
	for p in $PIDS; do
		for c in $(pgrep -P "$p" 2>/dev/null || true); do
			kill -9 "$c" 2>/dev/null || true
		done
		kill -9 "$p" 2>/dev/null || true
	done
	{ wait; } 2>/dev/null || true
	# A killed grandchild (radpipe under timeout) is not waited for above and may still
	# hold files on a test mount for a moment (longer under ASan): retry the unmount
	# rather than leave a busy mount that makes rm fail and the test with it.
	for m in $MOUNTS; do
		for _ in $(seq 100); do
			umount "$m" 2>/dev/null && break
			mountpoint -q "$m" || break
			sleep 0.1
		done
	done
	rm -rf "$WORK"
}
trap cleanup EXIT

fail() {
	echo "FAIL: $*" >&2
	if [ -f "$WORK/rx.log" ]; then
		echo "--- receiver log (last 15 lines)" >&2
		tail -n 15 "$WORK/rx.log" >&2
	fi
	exit 1
}

wait_file() {
	i=0
	while [ ! -s "$1" ]; do
		i=$((i + 1))
		[ $i -lt 200 ] || fail "timed out waiting for $1"
		sleep 0.05
	done
}

# start_server DIR [serve options...]: sets SRV_TPID (the timeout wrapper) and SRV_PORT.
# Both sides run with their defaults (timeouts included), as users run them.  The server
# lives at most SRV_LIFETIME seconds (default 300; long soaks raise it).
start_server() {
	dir=$1
	shift
	rm -f "$WORK/srv.port"
	timeout -s KILL "${SRV_LIFETIME:-300}" "$RADPIPE_BIN" serve --dir "$dir" \
		--listen 127.0.0.1:0 --port-file "$WORK/srv.port" --log "$WORK/rx.log" -q "$@" &
	SRV_TPID=$!
	PIDS="$PIDS $SRV_TPID"
	wait_file "$WORK/srv.port"
	SRV_PORT=$(cat "$WORK/srv.port")
}

# kill -9 the receiver itself (the child of its timeout wrapper).
kill_server() {
	for c in $(pgrep -P "$SRV_TPID" 2>/dev/null || true); do
		kill -9 "$c" 2>/dev/null || true
	done
	{ wait "$SRV_TPID"; } 2>/dev/null || true
}

stop_server() {
	for c in $(pgrep -P "$SRV_TPID" 2>/dev/null || true); do
		kill -TERM "$c" 2>/dev/null || true
	done
	{ wait "$SRV_TPID"; } 2>/dev/null || true
}

# start_proxy [proxy options...]: sets PROXY_PORT.
start_proxy() {
	rm -f "$WORK/proxy.port"
	timeout -s KILL 300 python3 "$HERE/proxy.py" --target "127.0.0.1:$SRV_PORT" \
		--port-file "$WORK/proxy.port" --lifetime 280 "$@" 2>>"$WORK/proxy.log" &
	PROXY_TPID=$!
	PIDS="$PIDS $PROXY_TPID"
	wait_file "$WORK/proxy.port"
	PROXY_PORT=$(cat "$WORK/proxy.port")
}

stop_proxy() {
	for c in $(pgrep -P "$PROXY_TPID" 2>/dev/null || true); do
		kill -9 "$c" 2>/dev/null || true
	done
	kill -9 "$PROXY_TPID" 2>/dev/null || true
	{ wait "$PROXY_TPID"; } 2>/dev/null || true
}

# send PORT [send options and inputs...]: JSON report in $WORK/report.json, exit code in RC.
send() {
	port=$1
	shift
	set +e
	timeout -s KILL 120 "$RADPIPE_BIN" send --json -q "$@" "127.0.0.1:$port" \
		$INPUTS >"$WORK/report.json" 2>"$WORK/send.err"
	RC=$?
	set -e
}

# json KEY: a number or boolean from the last report.
json() {
	python3 -c 'import json,sys; v=json.load(open(sys.argv[1]))[sys.argv[2]]; print(str(v).lower() if isinstance(v,bool) else v)' "$WORK/report.json" "$1"
}

# The delivery directory holds nothing but .radpipe and complete, verified studies.
check_identical() {
	rx=$1
	for src in $INPUTS; do
		name=$(basename "$src")
		[ -d "$rx/$name" ] || fail "$rx/$name was not delivered"
		diff -r "$src" "$rx/$name" >/dev/null || fail "$rx/$name differs from $src"
	done
}

check_nothing_visible() {
	rx=$1
	extra=$(ls -A "$rx" | grep -v '^\.radpipe$' || true)
	[ -z "$extra" ] || fail "partial delivery visible in $rx: $extra"
}

make_pki() {
	"$RADPIPE_BIN" keygen --ca "$WORK/pki" >/dev/null 2>&1
	"$RADPIPE_BIN" keygen --ca "$WORK/pki" sender >/dev/null 2>&1
	"$RADPIPE_BIN" keygen --ca "$WORK/pki" receiver >/dev/null 2>&1
	SERVER_TLS="--cert $WORK/pki/receiver.pem --key $WORK/pki/receiver.key --ca $WORK/pki/ca.pem"
	CLIENT_TLS="--cert $WORK/pki/sender.pem --key $WORK/pki/sender.key --ca $WORK/pki/ca.pem"
}

# wait_spool_grown RX WANT_KB TRIES PAUSE: waits (at most TRIES x PAUSE s) until the
# receiver's spool under RX holds WANT_KB and its journal has grown since the last call
# (a restart resumes only from what the journal holds, written every 64 chunks or
# 0.5 s), or the sender is gone.  Leaves SPOOL_KB and JOURNAL_B for the next call.
wait_spool_grown() {
	jwant=$(( ${JOURNAL_B:-0} + 1 ))
	for _ in $(seq "$3"); do
		SPOOL_KB=$(du -kc "$1"/.radpipe/*/stream 2>/dev/null | tail -n 1 | cut -f1)
		SPOOL_KB=${SPOOL_KB:-0}
		JOURNAL_B=$(cat "$1"/.radpipe/*/journal 2>/dev/null | wc -c)
		[ "$SPOOL_KB" -lt "$2" ] || [ "$JOURNAL_B" -lt "$jwant" ] || return 0
		kill -0 "$SEND_TPID" 2>/dev/null || return 0
		sleep "$4"
	done
}

# send_bg PORT [send options...]: like send, in the background; sets SEND_TPID.
send_bg() {
	port=$1
	shift
	timeout -s KILL 120 "$RADPIPE_BIN" send --json -q "$@" "127.0.0.1:$port" \
		$INPUTS >"$WORK/report.json" 2>"$WORK/send.err" &
	SEND_TPID=$!
	PIDS="$PIDS $SEND_TPID"
}

kill_sender() {
	for c in $(pgrep -P "$SEND_TPID" 2>/dev/null || true); do
		kill -9 "$c" 2>/dev/null || true
	done
	{ wait "$SEND_TPID"; } 2>/dev/null || true
}

# Watches the delivery directory every 20 ms: any entry other than .radpipe must already
# hold every file of its source (studies appear by one rename, complete).
start_watch() {
	rx=$1
	(
		while :; do
			for d in "$rx"/*; do
				[ -e "$d" ] || continue
				name=$(basename "$d")
				want=0
				for src in $INPUTS; do
					[ "$(basename "$src")" = "$name" ] && want=$(find "$src" -type f | wc -l)
				done
				have=$(find "$d" -type f | wc -l)
				[ "$have" = "$want" ] || echo "partial: $name has $have of $want files" >>"$WORK/watch.log"
			done
			sleep 0.02
		done
	) &
	WATCH_PID=$!
	PIDS="$PIDS $WATCH_PID"
}

stop_watch() {
	kill -9 "$WATCH_PID" 2>/dev/null || true
	{ wait "$WATCH_PID"; } 2>/dev/null || true
	if [ -s "$WORK/watch.log" ]; then
		fail "$(head -n 3 "$WORK/watch.log")"
	fi
}
