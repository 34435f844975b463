#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# bench/run-all.sh - every figure of bench/README.md in one go, one after the other (never
# two benches at once: they would share the cores), into OUT (default bench-results/):
# codec.jsonl, micro.json, htj2k.jsonl, peers/, scaling/, plots/*.png, and summary.txt.
#
#   bench/run-all.sh [--out DIR] [--size-mb 200] [--quick]
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
build=${RADPIPE_BUILD:-$here/../build}
export RADPIPE_BIN=${RADPIPE_BIN:-$build/radpipe}
export RADPIPE_CORPUS=${RADPIPE_CORPUS:-$here/../../shared/corpus}
out=bench-results
size_mb=200
iter=5 runs=5 max_mb=32
while [ $# -gt 0 ]; do
	case $1 in
	--out) out=$2; shift ;;
	--size-mb) size_mb=$2; shift ;;
	--quick) iter=2; runs=2; max_mb=8 ;;
	-h|--help) sed -n '2,8p' "$0"; exit 0 ;;
	*) echo "run-all.sh: unknown argument $1" >&2; exit 2 ;;
	esac
	shift
done
mkdir -p "$out"
out=$(cd "$out" && pwd)
rm -f "$out/codec.jsonl"
{
	echo "== radpipe bench codec"
	"$RADPIPE_BIN" bench codec -n "$iter" --max-mb "$max_mb" --json "$out/codec.jsonl"
	echo "== bench_micro"
	"$build/bench/bench_micro" --benchmark_repetitions="$iter" \
		--benchmark_report_aggregates_only=true --benchmark_min_time=0.2 \
		--benchmark_out="$out/micro.json" --benchmark_out_format=json
	echo "== own HTJ2K vs OpenJPH (bench_htj2k; one large frame on 1 and 2 threads)"
	ct=$RADPIPE_CORPUS/ct/dcm_qa_ct_Philips_Ingenuity_S21610/S2010
	"$build/bench/bench_htj2k" -n $((iter * 3)) -T 2 -clock cpu \
		-big "$RADPIPE_CORPUS/mg/wg04/MG1_J2KI.dcm" "$ct"/I1* >"$out/htj2k.jsonl"
	echo "== peers (hyperfine)"
	"$here/peers.sh" --runs "$runs" --out "$out/peers"
	echo "== scaling"
	"$here/scaling.sh" --size-mb "$size_mb" --iterations "$iter" --out "$out/scaling"
	echo "== plots"
	"$here/plot.sh" --codec "$out/codec.jsonl" --scaling "$out/scaling/scaling.jsonl" \
		--peers "$out/peers/peers.jsonl" --out "$out/plots"
} 2>&1 | tee "$out/summary.txt"
