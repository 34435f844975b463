#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# scripts/demo-send.sh - the end-to-end demo: a receiver on loopback, the bundled real CT
# series (the "demo-study" rows of corpus/files.tsv) sent over 8 mutually authenticated
# TLS 1.3 streams with JPEG-LS in flight, byte-identical delivery checked against the
# listed SHA-256s, and the report printed.
# Usage: scripts/demo-send.sh [RADPIPE] [CORPUS]   (`make demo` runs it)
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-${RADPIPE_BIN:-$root/build/radpipe}}
corpus=${2:-${RADPIPE_CORPUS:-$root/../shared/corpus}}
"$root/corpus/check.sh" "$corpus" >/dev/null
if [ ! -x "$bin" ]; then
	echo "demo: $bin is not built (run make, or pass the radpipe binary)" >&2
	exit 1
fi
list=$(grep -v '^#' "$root/corpus/files.tsv" | awk -F'\t' '$3 ~ /demo-study/ {print $1 "\t" $2}')
if [ -z "$list" ]; then
	echo "demo: corpus/files.tsv lists no demo-study files" >&2
	exit 1
fi
study=$(printf '%s\n' "$list" | head -n 1 | cut -f1 | xargs dirname)
if [ ! -d "$corpus/$study" ]; then
	echo "demo: the corpus is missing: $corpus/$study (see corpus/README.md)" >&2
	exit 1
fi
name=$(basename "$study")
work=$(mktemp -d /tmp/radpipe-demo.XXXXXX)
srv=""
cleanup() {
	if [ -n "$srv" ]; then
		for c in $(pgrep -P "$srv" 2>/dev/null || true); do
			kill -TERM "$c" 2>/dev/null || true
		done
		wait "$srv" 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT INT TERM

echo "== test PKI: one CA, a certificate per site (radpipe keygen)"
"$bin" keygen --ca "$work/pki" >/dev/null 2>&1
"$bin" keygen --ca "$work/pki" site-a >/dev/null 2>&1
"$bin" keygen --ca "$work/pki" site-b >/dev/null 2>&1
mkdir "$work/received"

echo "== receiver (site B) on 127.0.0.1, TLS 1.3 with client certificates"
timeout 300 "$bin" serve --dir "$work/received" --listen 127.0.0.1:0 -q \
	--port-file "$work/port" --log "$work/sessions.log" \
	--cert "$work/pki/site-b.pem" --key "$work/pki/site-b.key" --ca "$work/pki/ca.pem" &
srv=$!
i=0
while [ ! -s "$work/port" ]; do
	i=$((i + 1))
	if [ $i -gt 200 ]; then
		echo "demo: the receiver did not start" >&2
		exit 1
	fi
	sleep 0.05
done
port=$(cat "$work/port")

files=$(printf '%s\n' "$list" | wc -l)
echo "== sender (site A): $files files of $study, JPEG-LS in flight, 8 streams"
echo "   $bin send -c jpegls -n 8 --cert site-a.pem --key site-a.key --ca ca.pem 127.0.0.1:$port $corpus/$study"
timeout 300 "$bin" send -c jpegls -n 8 --json \
	--cert "$work/pki/site-a.pem" --key "$work/pki/site-a.key" --ca "$work/pki/ca.pem" \
	"127.0.0.1:$port" "$corpus/$study" >"$work/report.json"

echo "== verifying the delivered files against corpus/files.tsv"
printf '%s\n' "$list" | while IFS="$(printf '\t')" read -r path sum; do
	printf '%s  %s\n' "$sum" "$work/received/$name/$(basename "$path")"
done >"$work/sums"
sha256sum --quiet -c "$work/sums"
diff -r "$corpus/$study" "$work/received/$name" >/dev/null
echo "   $files files byte-identical"

echo "== report"
python3 - "$work/report.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
mb = 1e6
print("   original  %8.1f MB" % (r["original_bytes"] / mb))
print("   on wire   %8.1f MB (%.1f MB parity, k=%d m=%d)" % (r["wire_bytes"] / mb,
      r["parity_bytes"] / mb, r["fec_k"], r["fec_m"]))
print("   ratio     %8.2f   (original / wire, parity included; %.2f:1 in flight)" % (
      r["ratio"], r["original_bytes"] / r["stream_bytes"]))
print("   time      %8.2f s" % r["wall_s"])
print("   goodput   %8.1f MB/s original, %.1f MB/s on the wire" % (r["goodput_MBps"],
      r["link_MBps"]))
print("   objects   %8d (%d with frames in flight)" % (r["objects"], r["objects_framed"]))
PY
echo "   JSON: $(cat "$work/report.json")"
echo "   receiver log: $(grep -c session_complete "$work/sessions.log") session(s) complete"
