#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# bench/scaling.sh - whole-study compression at 1, 2, 4, ... threads on a synthesized CT
# study (scripts/synth-study.py: real corpus slices, a new SOP Instance UID per file),
# with peak resident memory against the pipeline's budget and the engine's overhead over
# the bare encoder calls on the same frames.  Writes OUT/scaling.jsonl.
#
#   bench/scaling.sh --size-mb 2000               # the 2 GB / ~3,800-slice study
#   bench/scaling.sh --size-mb 200 --threads 1,2  # what a 2-core machine runs quickly
#   bench/scaling.sh --smoke                      # 6 slices, 1 iteration (CTest)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
radpipe=${RADPIPE_BIN:-$here/../build/radpipe}
out=/tmp/radpipe-scaling
size_mb=200
threads=""
iterations=3
codec=jpegls
budget=512
study=""
smoke=0
while [ $# -gt 0 ]; do
	case $1 in
	--smoke) smoke=1; iterations=1 ;;
	--out) out=$2; shift ;;
	--size-mb) size_mb=$2; shift ;;
	--study) study=$2; shift ;;
	--threads) threads=$2; shift ;;
	--iterations) iterations=$2; shift ;;
	--codec) codec=$2; shift ;;
	--budget) budget=$2; shift ;;
	--radpipe) radpipe=$2; shift ;;
	-h|--help) sed -n '2,11p' "$0"; exit 0 ;;
	*) echo "scaling.sh: unknown argument $1" >&2; exit 2 ;;
	esac
	shift
done
[ -x "$radpipe" ] || { echo "scaling.sh: no radpipe binary at $radpipe (set RADPIPE_BIN)" >&2; exit 2; }
if [ -z "$threads" ]; then
	n=$(nproc); threads=1; t=2
	while [ "$t" -le "$n" ]; do threads="$threads,$t"; t=$((t * 2)); done
	case ",$threads," in *",$n,"*) ;; *) threads="$threads,$n" ;; esac
fi
mkdir -p "$out"
rm -f "$out/scaling.jsonl"
if [ -z "$study" ]; then
	study=$out/study
	rm -rf "$study"
	if [ "$smoke" = 1 ]; then
		"$here/../scripts/synth-study.py" --out "$study" --slices 6
	else
		"$here/../scripts/synth-study.py" --out "$study" --size-mb "$size_mb"
	fi
fi
# Output on the same file system as the input; the pipeline fsyncs every file.
"$radpipe" bench pipeline -c "$codec" -T "$threads" -n "$iterations" --budget "$budget" \
	--bare --json "$out/scaling.jsonl" -o "$out/out" "$study"
# And the same with verification off, the figure comparable to the bare codec calls.
"$radpipe" bench pipeline -c "$codec" -T 1 -n "$iterations" --budget "$budget" \
	--no-verify --bare --json "$out/scaling.jsonl" -o "$out/out" "$study"
rm -rf "$out/out"
