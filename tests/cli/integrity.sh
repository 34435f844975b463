#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# tests/cli/integrity.sh - what a new user meets on real files: lossy coding of PALETTE
# COLOR refused (lossless still fine); an image SOP class without Pixel Data copied
# unchanged with a warning (refused under --strict); our HTJ2K .202 output read back by
# `info` and `decompress` bit-exact.
# Usage: integrity.sh RADPIPE CORPUS
set -u
rp=$1
corpus=$2
pal="$corpus/us/pydicom/OBXXXX1A.dcm"
mr="$corpus/mr/wg04/MR1_UNC.dcm"
for f in "$pal" "$mr"; do
	[ -f "$f" ] || { echo "FAIL: the test corpus is missing: $f" >&2; exit 1; }
done
command -v dcmodify >/dev/null || { echo "FAIL: dcmodify not installed (scripts/install-deps.sh)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM
fail=0
no() { echo "FAIL: $*"; fail=$((fail + 1)); }

# Palette indices: lossy codecs refuse with a message, lossless ones keep the indices.
for c in jpeg jpegls,near=2 j2k,ratio=10; do
	if "$rp" compress -q -c "$c" -o "$work/pal_$c" "$pal" 2>"$work/err"; then
		no "compress -c $c coded PALETTE COLOR lossily"
	elif ! grep -q "PALETTE COLOR" "$work/err"; then
		no "compress -c $c refused palette data without saying why: $(cat "$work/err")"
	fi
done
for c in jpegls htj2k rle; do
	"$rp" compress -q -c "$c" -o "$work/pal_$c" "$pal" &&
		"$rp" verify -q "$pal" "$work/pal_$c/OBXXXX1A.dcm" ||
		no "lossless $c of palette data failed"
done

# An MR image without Pixel Data: copied unchanged with a warning; --strict refuses.
mkdir -p "$work/nopx"
cp "$mr" "$work/nopx/nopx.dcm"
dcmodify -nb -e "(7fe0,0010)" "$work/nopx/nopx.dcm" || no "dcmodify failed"
if "$rp" compress -c jpegls -o "$work/nopx_out" "$work/nopx" 2>"$work/err"; then
	cmp -s "$work/nopx/nopx.dcm" "$work/nopx_out/nopx.dcm" || no "no-pixel image not copied unchanged"
	grep -q "warning: .*without Pixel Data" "$work/err" || no "no warning for the no-pixel image: $(cat "$work/err")"
else
	no "compress refused an image SOP class without pixel data: $(cat "$work/err")"
fi
if "$rp" compress -q --strict -c jpegls -o "$work/nopx_strict" "$work/nopx" 2>"$work/err"; then
	no "--strict copied an image SOP class without pixel data"
fi
[ -e "$work/nopx_strict/nopx.dcm" ] && no "--strict left an output"

# HTJ2K .202: info names it, decompress gives the original pixels.
"$rp" compress -q -c htj2k -o "$work/ht" "$mr" || no "compress -c htj2k failed"
"$rp" info "$work/ht/MR1_UNC.dcm" | grep -q "1.2.840.10008.1.2.4.202" || no "info does not show .202"
"$rp" decompress -q -o "$work/ht_back" "$work/ht/MR1_UNC.dcm" &&
	"$rp" verify -q "$mr" "$work/ht_back/MR1_UNC.dcm" || no ".202 decompress is not bit-exact"

echo "integrity: $fail failure(s)"
[ $fail -eq 0 ]
