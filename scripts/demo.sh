#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# scripts/demo.sh - the main job on the bundled default study: the real Philips CT series
# listed in corpus/files.tsv (use "demo-study") is compressed losslessly with JPEG-LS,
# decompressed again, and verified bit-exact against the originals; ratio and speed are
# printed.  Usage: scripts/demo.sh [RADPIPE] [CORPUS]
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
rp=${1:-$here/build/radpipe}
corpus=${2:-${RADPIPE_CORPUS:-$here/../shared/corpus}}
"$here/corpus/check.sh" "$corpus" >/dev/null
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM

mkdir -p "$work/study"
grep -v '^#' "$here/corpus/files.tsv" | awk -F'\t' '$3 ~ /demo-study/ {print $1}' | while read -r f; do
	ln -s "$corpus/$f" "$work/study/$(basename "$f")"
done
n=$(ls "$work/study" | wc -l)
echo "radpipe demo: $n-slice CT series ($corpus/ct/dcm_qa_ct_Philips_Ingenuity_S21610/S2010)"

"$rp" compress -c jpegls --json -o "$work/jls" "$work/study" >"$work/compress.json"
"$rp" decompress --json -o "$work/raw" "$work/jls" >"$work/decompress.json"
"$rp" verify -q "$work/study" "$work/raw"
"$rp" verify -q "$work/study" "$work/jls"

python3 - "$work/compress.json" "$work/decompress.json" <<'PY'
import json, sys
c = [json.loads(l) for l in open(sys.argv[1])][-1]
d = [json.loads(l) for l in open(sys.argv[2])][-1]
print(f"  files          {c['files']} ({c['failed']} failed)")
print(f"  original       {c['in_bytes']/1e6:8.2f} MB  ({c['pixel_bytes']/1e6:.2f} MB of pixels)")
print(f"  JPEG-LS        {c['out_bytes']/1e6:8.2f} MB  ratio {c['ratio']:.2f}:1")
print(f"  compress       {c['pixel_mb_per_s']:8.1f} MB/s of pixels, {c['threads']} threads, "
      f"{c['seconds']:.2f} s (each output read back and checked)")
print(f"  decompress     {d['pixel_mb_per_s']:8.1f} MB/s of pixels, {d['seconds']:.2f} s")
print("  verified       bit-exact: every pixel of every slice, original vs decoded")
PY
