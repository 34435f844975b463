#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# tests/cli/errors.sh - damaged and hostile inputs through the CLI: each gets one clear
# line on stderr ("radpipe: FILE: ... (RP_E_...)"), a non-zero exit, no crash, and no
# output file; bad command lines exit 2.
# Usage: errors.sh RADPIPE CORPUS
set -u
rp=$1
corpus=$2
[ -f "$corpus/ct/wg04/CT1_UNC.dcm" ] || { echo "FAIL: the test corpus is missing: $corpus" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM
fail=0
pass=0
check() { # name, expected exit, command...
	name=$1; want=$2; shift 2
	"$@" >"$work/stdout" 2>"$work/stderr"
	got=$?
	if [ "$got" -ne "$want" ]; then
		echo "FAIL: $name: exit $got, expected $want; stderr: $(head -c 300 "$work/stderr")"
		fail=$((fail + 1))
	else
		pass=$((pass + 1))
	fi
}

src=$corpus/ct/wg04/CT1_UNC.dcm
size=$(stat -c %s "$src")
mkdir -p "$work/bad"
for cut in 0 100 131 132 200 700 $((size / 2)) $((size - 1)); do
	head -c "$cut" "$src" >"$work/bad/cut_$cut.dcm"
done
# Cut at 1500 the file ends between two elements, before Pixel Data: it reads as a CT
# image without pixels, which compress copies with a warning (as DCMTK does) and
# --strict refuses, leaving no output.
mkdir -p "$work/cut_between"
head -c 1500 "$src" >"$work/cut_between/cut_1500.dcm"
check "compress cut between elements" 0 "$rp" compress -q -c jpegls -o "$work/cb" "$work/cut_between"
grep -q "warning: .*truncated" "$work/stderr" ||
	{ echo "FAIL: no truncation warning: $(cat "$work/stderr")"; fail=$((fail + 1)); }
check "compress --strict cut between elements" 1 "$rp" compress -q --strict -c jpegls -o "$work/cbs" "$work/cut_between"
[ -e "$work/cbs/cut_1500.dcm" ] && { echo "FAIL: --strict left an output"; fail=$((fail + 1)); }
# a length field blown up: the first element after the meta group gets 0xFFFFFFF0
python3 - "$src" "$work/bad/biglen.dcm" <<'PY'
import sys
d = bytearray(open(sys.argv[1], "rb").read())
i = d.find(b"\x08\x00\x05\x00")  # (0008,0005) Specific Character Set, explicit VR
d[i+6:i+8] = b"\xf0\xff"
open(sys.argv[2], "wb").write(d)
PY
printf 'garbage that is not DICOM at all\n' >"$work/bad/garbage.dcm"

for f in "$work"/bad/*.dcm; do
	check "info $(basename "$f")" 1 "$rp" info "$f"
	lines=$(wc -l <"$work/stderr")
	if [ "$lines" -ne 1 ] || ! grep -q "^radpipe: .*(RP_E_[A-Z_]*)$" "$work/stderr"; then
		echo "FAIL: info $(basename "$f"): expected one error line, got: $(cat "$work/stderr")"
		fail=$((fail + 1))
	fi
done
check "compress damaged tree" 1 "$rp" compress -q -c jpegls -o "$work/out" "$work/bad"
made=$(find "$work/out" -path "$work/out/.radpipe" -prune -o -type f -print 2>/dev/null | wc -l)
[ "$made" -eq 0 ] || { echo "FAIL: compress left $made output files for damaged inputs"; fail=$((fail + 1)); }
errs=$(grep -c "^radpipe: " "$work/stderr")
n=$(ls "$work/bad" | wc -l)
[ "$errs" -eq "$n" ] || { echo "FAIL: $n damaged inputs but $errs error lines"; fail=$((fail + 1)); }

# every edge/ file is read or rejected with a message, never a crash (exit < 128)
for f in "$corpus"/edge/*/*.dcm; do
	"$rp" info "$f" >/dev/null 2>"$work/stderr"
	got=$?
	if [ $got -ge 2 ] && [ $got -ne 3 ]; then
		echo "FAIL: info $(basename "$f") exited $got: $(cat "$work/stderr")"; fail=$((fail + 1))
	elif [ $got -ne 0 ] && [ ! -s "$work/stderr" ]; then
		echo "FAIL: info $(basename "$f") failed without a message"; fail=$((fail + 1))
	else
		pass=$((pass + 1))
	fi
done

check "usage: no args" 2 "$rp"
check "usage: unknown command" 2 "$rp" frobnicate
check "usage: compress without -o" 2 "$rp" compress -c jpegls "$src"
check "usage: unknown codec" 2 "$rp" compress -c nosuch -o "$work/o" "$src"
check "usage: verify one arg" 2 "$rp" verify "$src"
check "help" 0 "$rp" compress --help
check "verify mismatch" 1 "$rp" verify "$corpus/ct/wg04/CT1_UNC.dcm" "$corpus/ct/wg04/CT2_UNC.dcm"
check "missing input" 3 "$rp" info "$work/does-not-exist.dcm"

echo "cli_errors: $pass passed, $fail failed"
[ $fail -eq 0 ]
