#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# bench/bench_ofi.sh - libfabric figures for docs/LIBFABRIC.md:
#  1. raw fi_ bandwidth (bench_ofi.c: 1 MiB tagged messages or RMA writes with CQ data,
#     16 in flight) over the tcp;ofi_rxm and shm providers;
#  2. `radpipe send` of the demo study (corpus/files.tsv rows tagged demo-study) over
#     loopback with the TCP backend and the libfabric backend (tcp;ofi_rxm, shm), each
#     REPS times, codec jpegls (the default) and native (transport-bound).
# One JSON line per measurement on stdout.  Usage:
#   bench/bench_ofi.sh [RADPIPE_BIN] [CORPUS] [REPS]
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-${RADPIPE_BIN:-$root/build/radpipe}}
corpus=${2:-${RADPIPE_CORPUS:-$root/../shared/corpus}}
reps=${3:-3}
work=$(mktemp -d /tmp/rp-bench-ofi.XXXXXX)
srv=""
cleanup() {
	[ -z "$srv" ] || kill "$srv" 2>/dev/null || true
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
cc -O2 -std=gnu11 -o "$work/bench_ofi" "$root/bench/bench_ofi.c" \
	$(pkg-config --cflags --libs libfabric)
for prov in "tcp;ofi_rxm" shm; do
	for mode in tagged rma; do
		timeout 60 "$work/bench_ofi" "$prov" 1048576 16 5 "$mode"
	done
done

study=$(grep -v '^#' "$root/corpus/files.tsv" | awk -F'\t' '$3 ~ /demo-study/ {print $1}' |
	head -n 1 | xargs dirname)
[ -d "$corpus/$study" ] || { echo "bench_ofi: corpus missing: $corpus/$study" >&2; exit 1; }
for codec in jpegls native; do
	for backend in tcp "tcp;ofi_rxm" shm; do
		fab=()
		[ "$backend" = tcp ] || fab=(--fabric "$backend" --trusted-fabric)
		for r in $(seq "$reps"); do
			rm -rf "$work/rx" "$work/port"
			mkdir "$work/rx"
			timeout 120 "$bin" serve --dir "$work/rx" --listen 127.0.0.1:0 --insecure \
				"${fab[@]}" --port-file "$work/port" --log "$work/rx.log" -q &
			srv=$!
			while [ ! -s "$work/port" ]; do sleep 0.05; done
			timeout 120 "$bin" send --json -q --insecure "${fab[@]}" -c "$codec" -n 4 \
				"127.0.0.1:$(cat "$work/port")" "$corpus/$study" >"$work/rep.json"
			diff -r "$corpus/$study" "$work/rx/$(basename "$study")" >/dev/null ||
				{ echo "bench_ofi: delivery differs" >&2; exit 1; }
			kill "$srv"
			wait "$srv" 2>/dev/null || true
			srv=""
			python3 -c 'import json,sys; d=json.load(open(sys.argv[1]));
print(json.dumps({"bench":"ofi_send","backend":sys.argv[2],"codec":sys.argv[3],"rep":int(sys.argv[4]),
 "original_bytes":d["original_bytes"],"wire_bytes":d["wire_bytes"],"wall_s":d["wall_s"],
 "goodput_MBps":d["goodput_MBps"]}))' "$work/rep.json" "$backend" "$codec" "$r"
		done
	done
done
