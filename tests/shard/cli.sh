#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# tests/shard/cli.sh RADPIPE CORPUS - --shard I/N and --shard auto (the Kubernetes Indexed
# Job environment set by hand), --shard-by study, the rerun skip and its usage errors.
set -u
rp=$1
src=$2/ct/wg04
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
count() { find "$1" -type f -not -path '*/.*' | wc -l; }

"$rp" compress -q -c jpegls -o "$T/plain" "$src" || fail "plain compress"
for i in 0 1 2; do
	JOB_COMPLETION_INDEX=$i "$rp" compress -q -c jpegls --shard auto --shard-count 3 \
		-o "$T/k8s" "$src" || fail "k8s index $i"
done
diff -r -x '.*' "$T/plain" "$T/k8s" || fail "3 Indexed Job shards differ from one run"
[ -s "$T/plain/.radpipe/journal-0-of-1.log" ] || fail "an unsharded run kept no restart journal"
[ "$(count "$T/k8s")" -eq "$(count "$T/plain")" ] || fail "file count"
"$rp" report --expect "$src" "$T/k8s" >/dev/null || fail "report --expect on k8s shards"
n0=$(grep -c '"file"' "$T/k8s/.radpipe/report-0-of-3.json")
[ "$n0" -gt 0 ] && [ "$n0" -lt "$(count "$T/plain")" ] || fail "shard 0 took $n0 files"
# A rerun skips everything; a deleted output is made again.
rm "$T/k8s/CT1_UNC.dcm"
out=$("$rp" compress -q --json -c jpegls --shard 0/1 -o "$T/k8s" "$src" | tail -1)
echo "$out" | grep -q "\"skipped\":$(($(count "$T/plain") - 1))," || fail "rerun: $out"
cmp "$T/plain/CT1_UNC.dcm" "$T/k8s/CT1_UNC.dcm" || fail "remade output differs"
# A plain rerun is restartable too; another codec, or an input that changed, is made again.
out=$("$rp" compress -q --json -c jpegls -o "$T/plain" "$src" | tail -1)
echo "$out" | grep -q "\"skipped\":$(count "$T/plain")," || fail "plain rerun skipped: $out"
out=$("$rp" compress -q --json -c rle -o "$T/plain" "$src" | tail -1)
echo "$out" | grep -q '"skipped":0,' || fail "a rerun with another codec kept outputs: $out"
"$rp" compress -q -c jpegls -o "$T/plain" "$src" || fail "back to jpegls"
cp -r "$src" "$T/src2"
"$rp" compress -q -c jpegls -o "$T/p2" "$T/src2" || fail "compress of the copy"
touch "$T/src2/CT1_UNC.dcm"
out=$("$rp" compress -q --json -c jpegls -o "$T/p2" "$T/src2" | tail -1)
echo "$out" | grep -q "\"skipped\":$(($(count "$T/p2") - 1))," ||
	fail "a changed input was not made again: $out"
# The one-shard rerun reports every file a second time: duplicates.
"$rp" report --expect "$src" "$T/k8s" 2>"$T/err" >/dev/null && fail "duplicates not found"
grep -q 'done 2 times' "$T/err" || fail "no duplicate list"
# Study sharding: every file of one study in one shard (wg04 CT is one study per file
# pair at most; the union must still be the whole tree).
for i in 0 1; do
	"$rp" compress -q -c jpegls --shard $i/2 --shard-by study -o "$T/st" "$src" || fail "study $i"
done
diff -r -x '.*' "$T/plain" "$T/st" || fail "study shards differ"
# Usage errors
for args in "--shard 2/2" "--shard auto" "--shard x" "--shard-count 2" "--shard-by x"; do
	# shellcheck disable=SC2086
	env -u SLURM_ARRAY_TASK_ID -u JOB_COMPLETION_INDEX "$rp" compress -c jpegls $args \
		-o "$T/u" "$src" 2>/dev/null
	[ $? -eq 2 ] || fail "'$args' is not a usage error"
done
JOB_COMPLETION_INDEX=0 "$rp" compress -c jpegls --shard auto -o "$T/u" "$src" 2>"$T/err"
[ $? -eq 2 ] && grep -q -- '--shard-count' "$T/err" || fail "k8s without --shard-count"
echo PASS
