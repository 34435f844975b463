# SPDX-License-Identifier: BSD-3-Clause
# tests/gateway/lib.sh - shared helpers of the gateway tests: DCMTK's storescu as the
# modality, `radpipe gateway` in the middle and `radpipe serve --insecure` as the reading
# site, all on 127.0.0.1.  Every process is bounded by `timeout`, recorded and killed by
# its own pid on exit; everything lives under one temporary directory.
set -eu
: "${RADPIPE_BIN:?RADPIPE_BIN must name the radpipe binary}"
: "${RADPIPE_CORPUS:?RADPIPE_CORPUS must name the corpus directory}"
HERE=$(cd "$(dirname "$0")" && pwd)
CT="$RADPIPE_CORPUS/ct/dcm_qa_ct_Philips_Ingenuity_S21610/S2010"
MRW="$RADPIPE_CORPUS/mr/wg04"
for d in "$CT" "$MRW"; do
	[ -d "$d" ] || { echo "FAIL: corpus directory $d is missing" >&2; exit 1; }
done
command -v storescu >/dev/null || { echo "SKIP: no storescu (dcmtk)"; exit 77; }
WORK=$(mktemp -d /tmp/rp-gateway.XXXXXX)
PIDS=""

cleanup() {
	for p in $PIDS; do
		for c in $(pgrep -P "$p" 2>/dev/null || true); do
			kill -9 "$c" 2>/dev/null || true
		done
		kill -9 "$p" 2>/dev/null || true
	done
	{ wait; } 2>/dev/null || true
	rm -rf "$WORK"
}
trap cleanup EXIT

fail() {
	echo "FAIL: $*" >&2
	for f in "$WORK/spool/gateway.log" "$WORK/rx.log"; do
		[ -f "$f" ] && { echo "--- $f (last 15 lines)" >&2; tail -n 15 "$f" >&2; }
	done
	exit 1
}

free_port() {
	/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_file() {
	i=0
	while [ ! -s "$1" ]; do
		i=$((i + 1))
		[ $i -lt 200 ] || fail "timed out waiting for $1"
		sleep 0.05
	done
}

# start_server [PORT]: the reading site into $WORK/rx; sets SRV_TPID and SRV_PORT.
# SRV_TLS (and GW_TLS for start_gateway) replace --insecure with TLS flags.
start_server() {
	mkdir -p "$WORK/rx"
	rm -f "$WORK/srv.port"
	timeout -s KILL 300 "$RADPIPE_BIN" serve --dir "$WORK/rx" ${SRV_TLS:---insecure} \
		--listen "127.0.0.1:${1:-0}" --port-file "$WORK/srv.port" --log "$WORK/rx.log" -q &
	SRV_TPID=$!
	PIDS="$PIDS $SRV_TPID"
	wait_file "$WORK/srv.port"
	SRV_PORT=$(cat "$WORK/srv.port")
}

# start_gateway [options...]: a gateway on spool $WORK/spool, DICOM port $DICOM_PORT,
# sending to $SRV_PORT; sets GW_TPID.  Waits until the SCP answers C-ECHO (or, with no
# --dicom, until status.json appears).
start_gateway() {
	timeout -s KILL 280 "$RADPIPE_BIN" gateway --spool "$WORK/spool" \
		--to "127.0.0.1:$SRV_PORT" ${GW_TLS:---insecure} -q "$@" 2>>"$WORK/gw.err" &
	GW_TPID=$!
	PIDS="$PIDS $GW_TPID"
	i=0
	until echoscu -aet PROBE 127.0.0.1 "$DICOM_PORT" 2>/dev/null; do
		i=$((i + 1))
		[ $i -lt 100 ] || fail "the gateway's SCP never answered C-ECHO"
		sleep 0.1
	done
}

gw_pid() {
	pgrep -P "$GW_TPID" 2>/dev/null || true
}

kill9_gateway() {
	for c in $(gw_pid); do kill -9 "$c"; done
	{ wait "$GW_TPID"; } 2>/dev/null || true
}

stop_gateway() {
	for c in $(gw_pid); do kill -TERM "$c"; done
	set +e
	wait "$GW_TPID"
	GW_RC=$?
	set -e
}

# delivered: the number of instances in the receiver's directory (its spool under
# .radpipe/, which stages sessions still in progress, left out).
delivered() {
	find "$WORK/rx" -path "$WORK/rx/.radpipe" -prune -o -name '*.dcm' -print 2>/dev/null | wc -l
}

# wait_delivered N SECONDS: until the receiver holds N instances.
wait_delivered() {
	i=0
	while [ "$(delivered)" -lt "$1" ]; do
		i=$((i + 1))
		[ $i -lt $(($2 * 10)) ] || fail "only $(delivered) of $1 instances delivered after $2 s"
		sleep 0.1
	done
}

# snapshot_spool: copies what the SCP wrote (spool/incoming/<Study>/<SOP>.dcm) to
# $WORK/seen, the reference check_delivered compares the delivered bytes with.
snapshot_spool() {
	mkdir -p "$WORK/seen"
	(cd "$WORK/spool/incoming" && find . -name '*.dcm' -exec cp --parents {} "$WORK/seen/" \;)
}

# check_delivered FILE...: every file arrived as rx/<Study>/<SOP>.dcm (check_delivered.py)
# and nothing else arrived.
check_delivered() {
	/usr/bin/python3 "$HERE/check_delivered.py" "$WORK/rx" "$WORK/seen" "$@" ||
		fail "delivered files differ"
}

# status_until SECONDS PYTHON: polls `radpipe status --json` (status.json is rewritten
# about once a second, so it lags the receiver) until the Python expression, over `st`
# (the parsed file), holds; fails with the last status otherwise.
status_until() {
	i=0
	until "$RADPIPE_BIN" status --spool "$WORK/spool" --json 2>/dev/null >"$WORK/status.json" &&
		/usr/bin/python3 -c "import json, sys
st = json.load(open(sys.argv[1]))
sys.exit(0 if ($2) else 1)" "$WORK/status.json"; do
		i=$((i + 1))
		[ $i -lt $(($1 * 10)) ] || fail "status never showed $2: $(cat "$WORK/status.json")"
		sleep 0.1
	done
}
