#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# tests/cli/icon.sh - images with an Icon Image Sequence (0088,0200) through compress and
# decompress, read back by independent readers (pydicom, DCMTK dcmdjpls): an icon held
# in the source's codec is written native when the transfer syntax changes, so that
# nothing in the output is coded in a syntax other than the file's; a native icon passes
# through unchanged; an icon that cannot be decoded is left out with a warning.
# The inputs are made here from a corpus CT and a self-made 64x64 icon, plus one corpus
# PET file with the native icon its scanner wrote.
# Usage: icon.sh RADPIPE CORPUS
set -u
rp=$1
corpus=$2
here=$(dirname "$0")
ct="$corpus/ct/wg04/CT1_JLSL.dcm"
for f in "$ct" "$corpus/pt/tcia_ACRIN-FLT-Breast/1.dcm"; do
	[ -f "$f" ] || { echo "FAIL: the test corpus is missing: $f" >&2; exit 1; }
done
# pydicom comes from Debian's python3-pydicom (scripts/install-deps.sh): the system
# interpreter, whatever python3 comes first on PATH.
py=/usr/bin/python3
[ -x "$py" ] || py=python3
"$py" -c "import pydicom, numpy" 2>/dev/null ||
	{ echo "FAIL: pydicom/numpy not installed (scripts/install-deps.sh)" >&2; exit 1; }
command -v dcmcjpls >/dev/null && command -v dcmdjpls >/dev/null ||
	{ echo "FAIL: DCMTK not installed (scripts/install-deps.sh)" >&2; exit 1; }
fx() { "$py" "$here/icon_fixture.py" "$@"; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM
fail=0
no() { echo "FAIL: $*"; fail=$((fail + 1)); }

# The icon, native; JPEG-LS by DCMTK's encoder; HTJ2K by ours.  The main images: the
# corpus JPEG-LS CT, and the same CT in HTJ2K.
fx mkicon "$work/icon.dcm" || exit 1
dcmcjpls "$work/icon.dcm" "$work/icon_jls.dcm" || { echo "FAIL: dcmcjpls" >&2; exit 1; }
"$rp" compress -q -c htj2k -o "$work/icon_ht" "$work/icon.dcm" &&
	"$rp" compress -q -c htj2k -o "$work/main_ht" "$ct" || { echo "FAIL: setup" >&2; exit 1; }
mkdir "$work/in"
fx addicon "$ct" "$work/icon_jls.dcm" enc "$work/in/jls_jls.dcm" &&
	fx addicon "$work/main_ht/CT1_JLSL.dcm" "$work/icon_ht/icon.dcm" enc "$work/in/ht_ht.dcm" &&
	fx addicon "$ct" "$work/icon.dcm" native "$work/in/jls_native.dcm" &&
	fx addicon "$ct" "$work/icon.dcm" garbage "$work/in/jls_garbage.dcm" ||
	{ echo "FAIL: cannot make the inputs" >&2; exit 1; }

# A JPEG-LS icon in a JPEG-LS file, compressed to HTJ2K and decompressed: the icon is
# native in both outputs, with the original pixels, and the main image is bit-exact.
for op in "compress -c htj2k" "decompress"; do
	out="$work/out_$(echo "$op" | tr -c 'a-z0-9\n' _)"
	if ! "$rp" $op -q -o "$out" "$work/in/jls_jls.dcm" 2>"$work/err"; then
		no "$op of a file with a JPEG-LS icon failed: $(cat "$work/err")"
		continue
	fi
	fx native-icon "$out/jls_jls.dcm" "$work/icon.dcm" || no "$op kept the JPEG-LS icon"
	"$rp" verify -q "$work/in/jls_jls.dcm" "$out/jls_jls.dcm" || no "$op: main image differs"
done

# An HTJ2K icon in an HTJ2K file, compressed to JPEG-LS: DCMTK decodes the whole output
# (it reads the icon too) and the icon is native.
if "$rp" compress -q -c jpegls -o "$work/out_ls" "$work/in/ht_ht.dcm" 2>"$work/err"; then
	dcmdjpls "$work/out_ls/ht_ht.dcm" "$work/out_ls_dec.dcm" 2>"$work/err" ||
		no "dcmdjpls rejects the JPEG-LS output of a file with an HTJ2K icon: $(cat "$work/err")"
	fx native-icon "$work/out_ls/ht_ht.dcm" "$work/icon.dcm" || no "compress -c jpegls kept the HTJ2K icon"
else
	no "compress -c jpegls of a file with an HTJ2K icon failed: $(cat "$work/err")"
fi

# Same transfer syntax in and out: the JPEG-LS icon is kept as it is, and DCMTK reads it.
"$rp" compress -q -c jpegls -o "$work/out_same" "$work/in/jls_jls.dcm" &&
	fx same-icon "$work/in/jls_jls.dcm" "$work/out_same/jls_jls.dcm" &&
	dcmdjpls "$work/out_same/jls_jls.dcm" "$work/out_same_dec.dcm" ||
	no "JPEG-LS to JPEG-LS did not keep a readable JPEG-LS icon"

# A native icon passes through unchanged, whatever the target.
for op in "compress -c htj2k" "compress -c jpegls" "decompress"; do
	out="$work/nat_$(echo "$op" | tr -c 'a-z0-9\n' _)"
	"$rp" $op -q -o "$out" "$work/in/jls_native.dcm" &&
		fx same-icon "$work/in/jls_native.dcm" "$out/jls_native.dcm" ||
		no "$op changed a native icon"
done

# A scanner's own native icon (PALETTE COLOR, with its LUTs, in a sequence of undefined
# length) is carried over as it is too.
pt="$corpus/pt/tcia_ACRIN-FLT-Breast/1.dcm"
for op in "compress -c htj2k" "decompress"; do
	out="$work/pt_$(echo "$op" | tr -c 'a-z0-9\n' _)"
	"$rp" $op -q -o "$out" "$pt" && fx same-icon "$pt" "$out/1.dcm" ||
		no "$op changed the native icon of $pt"
done

# An icon no decoder accepts: left out with a warning; the image itself is written.
if "$rp" compress -c htj2k -o "$work/out_bad" "$work/in/jls_garbage.dcm" 2>"$work/err"; then
	grep -q "warning: .*Icon Image Sequence" "$work/err" ||
		no "no warning for the dropped icon: $(cat "$work/err")"
	fx no-icon "$work/out_bad/jls_garbage.dcm" || no "an undecodable icon was kept"
	"$rp" verify -q "$work/in/jls_garbage.dcm" "$work/out_bad/jls_garbage.dcm" ||
		no "the image with a dropped icon differs"
else
	no "compress refused a file whose icon cannot be decoded: $(cat "$work/err")"
fi

echo "icon: $fail failure(s)"
[ $fail -eq 0 ]
