#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# bench/shard.sh [RADPIPE] [TREE...] - throughput of 2 shards of -T 1 run side by side
# against one -T 2 run over the same tree, in the same run (median of RUNS, default 3).
# Prints one JSON line: seconds of each, and the ratio (2 shards / one run, >= 0.9 wanted).
set -eu
rp=${1:-build/radpipe}
shift || true
corpus=${RADPIPE_CORPUS:-$(dirname "$0")/../../shared/corpus}
[ $# -gt 0 ] || set -- "$corpus/ct" "$corpus/mr"
runs=${RUNS:-3}
codec=${CODEC:-jpegls}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
now() { date +%s.%N; }
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
bytes=$(du -cbL "$@" | tail -1 | cut -f1)
one=() two=()
for _ in $(seq "$runs"); do
	rm -rf "$T/a" "$T/b"
	t0=$(now)
	"$rp" compress -q -c "$codec" -T 2 -o "$T/a" "$@" 2>/dev/null || true
	t1=$(now)
	"$rp" compress -q -c "$codec" -T 1 --shard 0/2 -o "$T/b" "$@" 2>/dev/null &
	p=$!
	"$rp" compress -q -c "$codec" -T 1 --shard 1/2 -o "$T/b" "$@" 2>/dev/null || true
	wait $p || true
	t2=$(now)
	one+=("$(echo "$t1 - $t0" | bc -l)")
	two+=("$(echo "$t2 - $t1" | bc -l)")
done
s1=$(printf '%s\n' "${one[@]}" | median)
s2=$(printf '%s\n' "${two[@]}" | median)
printf '{"bench":"shard","codec":"%s","input_bytes":%s,"runs":%s,"one_T2_s":%.3f,"two_shards_T1_s":%.3f,"one_T2_mb_s":%.1f,"two_shards_mb_s":%.1f,"ratio":%.3f,"cpu":"%s","git":"%s"}\n' \
	"$codec" "$bytes" "$runs" "$s1" "$s2" "$(echo "$bytes / 1000000 / $s1" | bc -l)" \
	"$(echo "$bytes / 1000000 / $s2" | bc -l)" "$(echo "$s1 / $s2" | bc -l)" \
	"$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')" \
	"$(git -C "$(dirname "$0")" rev-parse --short HEAD 2>/dev/null || echo unknown)"
