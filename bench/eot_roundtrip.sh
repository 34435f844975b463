#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# bench/eot_roundtrip.sh [RADPIPE] [DIR] - one object past 2^32 bytes of pixel data
# through compress, decompress and send, each output checked by DCMTK, with the wall time
# and max resident size (GNU time) of every step.
#
# The input is FRAMES (default 8190) native 512x512 frames of 16-bit noise: 4.29 GB, as
# large as one native Pixel Data element can be.  Noise does not compress, so its RLE
# form is larger than 2^32 bytes: its fragments cannot be addressed by the 32-bit Basic
# Offset Table and the Extended Offset Table is needed.  Steps:
#   compress -c rle    the EOT object; dcmdump finds (7FE0,0001) with one offset per frame,
#                      DCMTK's dcmdrle decodes it to exactly the input's pixel bytes
#   decompress         back to native: the same pixel bytes as the input and as dcmdrle's
#   send -> serve      the native object and the EOT object over loopback, each delivered
#                      byte for byte
# Needs about 18 GB free in DIR at its peak (default: a new directory under /var/tmp).
set -eu
rp=$(realpath "${1:-build/radpipe}")
base=${2:-/var/tmp}
frames=${FRAMES:-8190}
here=$(cd "$(dirname "$0")" && pwd)
py=/usr/bin/python3
[ -x "$py" ] || py=python3
for tool in "$py" /usr/bin/time dcmdrle dcmdump cmp; do
	command -v "$tool" >/dev/null ||
		{ echo "eot_roundtrip: $tool not installed (scripts/install-deps.sh)" >&2; exit 1; }
done
W=$(mktemp -d "$base/rp-eot.XXXXXX")
SRV=
cleanup() {
	[ -z "$SRV" ] || kill "$SRV" 2>/dev/null || true
	rm -rf "$W"
}
trap cleanup EXIT INT TERM
fail=0
no() { echo "FAIL: $*" >&2; fail=$((fail + 1)); }

# Runs a step under GNU time; prints "step wall_s max_rss_kb" and keeps its stderr.
step() {
	local name=$1
	shift
	if ! /usr/bin/time -f "%e %M" -o "$W/time" "$@" 2>"$W/$name.err"; then
		no "$name failed: $(tail -3 "$W/$name.err")"
		return 1
	fi
	read -r wall rss <"$W/time"
	printf '%-22s %8.1f s %10d KB max resident\n' "$name" "$wall" "$rss"
	echo "{\"step\":\"$name\",\"frames\":$frames,\"wall_s\":$wall,\"max_rss_kb\":$rss}" >>"$W/eot.jsonl"
}
pix=$((frames * 512 * 512 * 2))
# The pixel bytes of a native file: its Pixel Data value, the last element of each file
# this script compares.
same_pixels() { cmp -s <(tail -c "$pix" "$1") <(tail -c "$pix" "$2"); }

"$py" "$here/../tests/cli/multiframe_fixture.py" noise "$frames" "$W/noise.dcm"
echo "input: $frames frames, $(stat -c %s "$W/noise.dcm") bytes ($pix of pixels)"

step compress-rle "$rp" compress -q -c rle -o "$W/rle" "$W/noise.dcm"
enc=$(stat -c %s "$W/rle/noise.dcm")
echo "  RLE object: $enc bytes"
[ "$enc" -gt 4294967296 ] || no "the RLE object is not past 2^32 bytes ($enc)"
eot=$(dcmdump -M +P 7fe0,0001 "$W/rle/noise.dcm" 2>&1 | head -1)
case $eot in
*"(7fe0,0001)"*"$((frames * 8))"*) echo "  Extended Offset Table: $eot" ;;
*) no "no Extended Offset Table of $frames offsets: $eot" ;;
esac
step dcmdrle dcmdrle "$W/rle/noise.dcm" "$W/dcmtk.dcm"
same_pixels "$W/dcmtk.dcm" "$W/noise.dcm" && echo "  dcmdrle: pixel bytes equal the input's" ||
	no "DCMTK decodes other pixels from the RLE object"
rm -f "$W/dcmtk.dcm"

step decompress "$rp" decompress -q -o "$W/back" "$W/rle/noise.dcm"
same_pixels "$W/back/noise.dcm" "$W/noise.dcm" &&
	echo "  decompress: pixel bytes equal the input's" ||
	no "decompress gives other pixels than the input's"
rm -rf "$W/back"

mkdir -p "$W/rx"
/usr/bin/time -f "%e %M" -o "$W/serve.time" \
	"$rp" serve --dir "$W/rx" --listen 127.0.0.1:0 --insecure 2>"$W/serve.err" &
SRV=$!
port=
for _ in $(seq 100); do
	port=$(sed -n 's/.*serving on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$W/serve.err")
	[ -z "$port" ] || break
	sleep 0.1
done
[ -n "$port" ] || { no "serve did not start: $(cat "$W/serve.err")"; exit 1; }
mkdir -p "$W/tx-native" "$W/tx-rle"
ln "$W/noise.dcm" "$W/tx-native/noise.dcm"
ln "$W/rle/noise.dcm" "$W/tx-rle/noise-rle.dcm"
step send-native "$rp" send -q --insecure "127.0.0.1:$port" "$W/tx-native/noise.dcm" &&
	{ cmp -s "$W/rx/noise.dcm" "$W/noise.dcm" && echo "  delivered byte for byte" ||
		no "the delivered native object differs from the one sent"; }
rm -f "$W/rx/noise.dcm"
step send-eot "$rp" send -q --insecure "127.0.0.1:$port" "$W/tx-rle/noise-rle.dcm" &&
	{ cmp -s "$W/rx/noise-rle.dcm" "$W/rle/noise.dcm" && echo "  delivered byte for byte" ||
		no "the delivered EOT object differs from the one sent"; }
# SIGTERM to serve itself (GNU time's child), so that time writes its figures.
pkill -TERM -P "$SRV" || true
wait "$SRV" || true
SRV=
read -r _ srss <"$W/serve.time"
printf '%-22s %10s %10d KB max resident (both sends)\n' serve "" "$srss"
echo "{\"step\":\"serve\",\"frames\":$frames,\"max_rss_kb\":$srss}" >>"$W/eot.jsonl"
cat "$W/eot.jsonl" >"${OUT_JSONL:-/dev/null}"
[ "$fail" -eq 0 ] && echo "PASS: $frames frames past 2^32 bytes round-trip" || exit 1
