#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# tests/cli/large_object.sh - a multi-frame CT object far larger than what compress and
# decompress may hold: both stay under a fixed resident size with the default options
# (frames are read, coded and written one after another, never the object whole), and
# what they write is the input's frames, read back by pydicom and by DCMTK's dcmdjpls.
# Usage: large_object.sh RADPIPE CORPUS plain|sanitized
# (a sanitizer's own allocator holds freed memory: the memory bound is checked on plain
# builds only, every content check on both).
set -u
rp=$1
corpus=$2
build=${3:-plain}
here=$(dirname "$0")
# pydicom comes from Debian's python3-pydicom: the system interpreter, whatever python3
# comes first on PATH.
py=/usr/bin/python3
[ -x "$py" ] || py=python3
for tool in "$py" dcmdjpls; do
	command -v $tool >/dev/null || { echo "FAIL: $tool not installed (scripts/install-deps.sh)" >&2; exit 1; }
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM
fail=0
no() { echo "FAIL: $*"; fail=$((fail + 1)); }

# 300 frames of 512 x 512 x 16 bits: 157 MB of pixels.
"$py" "$here/multiframe_fixture.py" make \
	"$corpus/ct/dcm_qa_ct_Philips_Ingenuity_S21610" 300 "$work/mf.dcm" || exit 1
want=$("$rp" info "$work/mf.dcm" | awk '/pixel sha256/ { print $3 }')
[ -n "$want" ] || no "info gives no pixel hash for the fixture"

# Max resident KB of a command (its children's, by the kernel's count).
maxrss() {
	"$py" -c 'import resource, subprocess, sys
r = subprocess.run(sys.argv[1:])
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss if r.returncode == 0 else -1)' "$@"
}
limit_kb=102400
check_rss() {
	if [ "$2" -lt 0 ]; then
		no "$1 failed"
	elif [ "$build" = plain ] && [ "$2" -gt $limit_kb ]; then
		no "$1 held $2 KB resident for a 157 MB object (limit $limit_kb KB)"
	else
		echo "ok: $1: $2 KB max resident"
	fi
}

rss=$(maxrss "$rp" compress -q -c htj2k -o "$work/ht" "$work/mf.dcm")
check_rss "compress -c htj2k" "$rss"
rss=$(maxrss "$rp" decompress -q -o "$work/back" "$work/ht/mf.dcm")
check_rss "decompress" "$rss"
got=$("$rp" info "$work/back/mf.dcm" | awk '/pixel sha256/ { print $3 }')
[ "$got" = "$want" ] || no "decompressed frames differ from the input's ($got vs $want)"
"$py" "$here/multiframe_fixture.py" same "$work/back/mf.dcm" "$work/mf.dcm" ||
	no "pydicom reads other frames from the decompressed object"

# JPEG-LS: DCMTK decodes every frame of the frame-by-frame written file.
rss=$(maxrss "$rp" compress -q -c jpegls -o "$work/jls" "$work/mf.dcm")
check_rss "compress -c jpegls" "$rss"
if dcmdjpls "$work/jls/mf.dcm" "$work/dcmtk.dcm" 2>"$work/err"; then
	"$py" "$here/multiframe_fixture.py" same "$work/dcmtk.dcm" "$work/mf.dcm" ||
		no "DCMTK's decode of our JPEG-LS object differs from the input"
else
	no "dcmdjpls refused our JPEG-LS object: $(cat "$work/err")"
fi

[ $fail -eq 0 ] && echo "large_object: all checks passed"
exit $((fail > 0))
