#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# bench/large_object_send.sh [RADPIPE] [DIR] - one large multi-frame CT object against the
# same frames as single-frame files, each sent over loopback into a tmpfs with every
# default but --insecure: wall and CPU time and max resident size (GNU time) of sender and
# receiver, and the delivery checked byte for byte.
#
# The object is FRAMES (default 3000) 512x512 16-bit frames, the slices of a real corpus
# CT series in turn (1.57 GB; tests/cli/multiframe_fixture.py make); the files are those
# slices copied FRAMES times.  Both inputs, the receiver's spool and its delivery live in
# DIR (default /dev/shm, so that the disk's fsync rate is not what is measured); about
# 7 GB of it at the peak.  A third run sends the object again to `serve --deliver
# compressed` (JPEG-LS DICOM built from the frames that crossed), checked by `radpipe
# verify` against the original's pixels.
set -eu
rp=$(realpath "${1:-build/radpipe}")
base=${2:-/dev/shm}
frames=${FRAMES:-3000}
here=$(cd "$(dirname "$0")" && pwd)
corpus=${RADPIPE_CORPUS:-$here/../corpus}
series=$corpus/ct/dcm_qa_ct_Philips_Ingenuity_S21610
py=/usr/bin/python3
[ -x "$py" ] || py=python3
for tool in "$py" /usr/bin/time cmp; do
	command -v "$tool" >/dev/null ||
		{ echo "large_object_send: $tool not installed (scripts/install-deps.sh)" >&2; exit 1; }
done
W=$(mktemp -d "$base/rp-large.XXXXXX")
SRV=
cleanup() {
	[ -z "$SRV" ] || kill "$SRV" 2>/dev/null || true
	rm -rf "$W"
}
trap cleanup EXIT INT TERM
fail=0
no() { echo "FAIL: $*" >&2; fail=$((fail + 1)); }

mkdir -p "$W/one" "$W/files"
"$py" "$here/../tests/cli/multiframe_fixture.py" make "$series" "$frames" "$W/one/ct.dcm"
mapfile -t slices < <("$py" - "$series" <<'EOF'
import glob, sys
import pydicom
for p in sorted(glob.glob(sys.argv[1] + "/**/*", recursive=True)):
    try:
        ds = pydicom.dcmread(p, stop_before_pixels=True)
    except Exception:
        continue
    if ds.get("Rows") == 512 and ds.get("Columns") == 512 and ds.get("BitsAllocated") == 16:
        print(p)
EOF
)
[ "${#slices[@]}" -gt 0 ] || { echo "no 512x512 slices in $series" >&2; exit 1; }
for i in $(seq 0 $((frames - 1))); do
	cp "${slices[$((i % ${#slices[@]}))]}" "$W/files/f$(printf %05d "$i").dcm"
done
echo "input: one object of $frames frames, $(stat -c %s "$W/one/ct.dcm") bytes;" \
	"$frames files, $(du -sb "$W/files" | cut -f1) bytes"

# One receiver per run, so that its max resident size is that run's.
run() {
	local name=$1 input=$2 deliver=${3:-original}
	rm -rf "$W/rx"
	mkdir -p "$W/rx"
	/usr/bin/time -f "%e %U %S %M" -o "$W/serve.time" \
		"$rp" serve --dir "$W/rx" --listen 127.0.0.1:0 --insecure --deliver "$deliver" \
		2>"$W/serve.err" &
	SRV=$!
	local port=
	for _ in $(seq 100); do
		port=$(sed -n 's/.*serving on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$W/serve.err")
		[ -z "$port" ] || break
		sleep 0.1
	done
	[ -n "$port" ] || { no "serve did not start: $(cat "$W/serve.err")"; return 1; }
	if ! /usr/bin/time -f "%e %U %S %M" -o "$W/send.time" \
		"$rp" send -q --insecure --json "127.0.0.1:$port" "$input" >"$W/$name.json" \
		2>"$W/send.err"; then
		no "$name: send failed: $(tail -3 "$W/send.err")"
	fi
	# SIGTERM to serve itself (GNU time's child), so that time writes its figures.
	pkill -TERM -P "$SRV" || true
	wait "$SRV" || true
	SRV=
	local leaf
	leaf=$(basename "$input")
	if [ "$deliver" = compressed ]; then
		"$rp" verify "$input" "$W/rx/$leaf" 2>&1 | grep -q " 0 differ" ||
			no "$name: the delivered pixels differ"
	elif [ -d "$input" ]; then
		diff -rq "$input" "$W/rx/$leaf" >/dev/null || no "$name: delivered files differ"
	else
		cmp -s "$input" "$W/rx/$leaf" || no "$name: the delivered object differs"
	fi
	read -r wall user sys rss <"$W/send.time"
	read -r _ ruser rsys rrss <"$W/serve.time"
	printf '%-14s send %7.1f s wall %7.1f s CPU %8d KB max RSS | serve %7.1f s CPU %8d KB max RSS\n' \
		"$name" "$wall" "$(echo "$user + $sys" | bc)" "$rss" "$(echo "$ruser + $rsys" | bc)" "$rrss"
	echo "{\"run\":\"$name\",\"frames\":$frames,\"send_wall_s\":$wall,\"send_cpu_s\":$(echo "$user + $sys" | bc),\"send_max_rss_kb\":$rss,\"serve_cpu_s\":$(echo "$ruser + $rsys" | bc),\"serve_max_rss_kb\":$rrss}" >>"$W/large.jsonl"
}
run one-object "$W/one/ct.dcm"
run files "$W/files"
run one-compressed "$W/one/ct.dcm" compressed
cat "$W/large.jsonl" >"${OUT_JSONL:-/dev/null}"
[ "$fail" -eq 0 ] && echo "PASS: delivered byte for byte (pixel for pixel compressed)" || exit 1
