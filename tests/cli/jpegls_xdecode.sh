#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# tests/cli/jpegls_xdecode.sh - `radpipe compress -c jpegls` over the corpus's ct/ and mr/
# trees, then every output decoded by two independent decoders, GDCM (gdcmconv --raw) and
# DCMTK (dcmdjpls), and their pixels compared with the originals by `radpipe verify`.
# Usage: jpegls_xdecode.sh RADPIPE CORPUS
set -u
rp=$1
corpus=$2
[ -d "$corpus/ct" ] || { echo "FAIL: the test corpus is missing: $corpus/ct" >&2; exit 1; }
for tool in gdcmconv dcmdjpls; do
	command -v $tool >/dev/null || { echo "FAIL: $tool not installed (scripts/install-deps.sh)" >&2; exit 1; }
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM

# Inputs: the native and JPEG-LS files of ct/ and mr/ (tests/codecs.cmake covers the
# other syntaxes), less WG-04's MR1_JLSL, which CharLS refuses (test_corpus_parse checks
# that it fails with a message).
mkdir -p "$work/in"
grep -v '^#' "$(dirname "$0")/../../corpus/files.tsv" | awk -F'\t' '$1 ~ /^(ct|mr)\// && ($3 ~ /native/ || $3 ~ /jpegls/) && $1 !~ /MR1_JLSL/ {print $1}' |
while read -r f; do
	mkdir -p "$work/in/$(dirname "$f")"
	ln -s "$corpus/$f" "$work/in/$f"
done
count=$(find "$work/in" -type l | wc -l)

"$rp" compress -q -c jpegls -o "$work/jls" "$work/in"
rc=$?
if [ $rc -ne 0 ]; then
	echo "FAIL: radpipe compress exited $rc" >&2
	exit 1
fi
out=$(find "$work/jls" -path "$work/jls/.radpipe" -prune -o -type f -print | wc -l)
[ "$out" -eq "$count" ] || { echo "FAIL: $count inputs but $out outputs" >&2; exit 1; }

pass=0
fail=0
for f in $(cd "$work/jls" && find . -path ./.radpipe -prune -o -type f -print | sort); do
	orig="$work/in/$f"
	mkdir -p "$work/gdcm/$(dirname "$f")" "$work/dcmtk/$(dirname "$f")"
	if ! gdcmconv --raw "$work/jls/$f" "$work/gdcm/$f" 2>"$work/err"; then
		echo "FAIL: gdcmconv cannot decode our $f: $(head -c 300 "$work/err")"; fail=$((fail + 1)); continue
	fi
	if ! "$rp" verify -q "$orig" "$work/gdcm/$f"; then
		echo "FAIL: GDCM's decode of our $f differs from the original"; fail=$((fail + 1)); continue
	fi
	if ! dcmdjpls "$work/jls/$f" "$work/dcmtk/$f" 2>"$work/err"; then
		echo "FAIL: dcmdjpls cannot decode our $f: $(head -c 300 "$work/err")"; fail=$((fail + 1)); continue
	fi
	if ! "$rp" verify -q "$orig" "$work/dcmtk/$f"; then
		echo "FAIL: DCMTK's decode of our $f differs from the original"; fail=$((fail + 1)); continue
	fi
	pass=$((pass + 1))
done
echo "jpegls_xdecode: $pass passed, $fail failed"
[ $fail -eq 0 ] && [ $pass -eq "$count" ]
