#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# bench/plot.sh - PNG charts (gnuplot) from the JSON lines the benches write:
#   codec_ratio_speed.png  ratio vs single-thread encode MB/s, one point per codec x
#                          modality (from `radpipe bench codec --json`)
#   scaling.png            pixel MB/s and speed-up vs threads (bench/scaling.sh)
#   peers.png              ratio vs MB/s of radpipe and each peer tool (bench/peers.sh)
# Any input may be left out; each given one must yield its chart.
#
#   bench/plot.sh --codec codec.jsonl --scaling scaling.jsonl --peers peers.jsonl --out plots/
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
codec="" scaling="" peers="" out=plots
while [ $# -gt 0 ]; do
	case $1 in
	--codec) codec=$2; shift ;;
	--scaling) scaling=$2; shift ;;
	--peers) peers=$2; shift ;;
	--out) out=$2; shift ;;
	-h|--help) sed -n '2,11p' "$0"; exit 0 ;;
	*) echo "plot.sh: unknown argument $1" >&2; exit 2 ;;
	esac
	shift
done
command -v gnuplot >/dev/null || { echo "plot.sh: gnuplot missing: run scripts/install-deps.sh" >&2; exit 2; }
mkdir -p "$out"
tsv() { python3 "$here/jsonl2tsv.py" "$@"; }

if [ -n "$codec" ]; then
	tsv "$codec" codec > "$out/codec.tsv"
	[ -s "$out/codec.tsv" ] || { echo "plot.sh: no single-thread codec lines in $codec" >&2; exit 1; }
	gnuplot <<-EOF
	set terminal png size 1000,700 noenhanced
	set output "$out/codec_ratio_speed.png"
	set title "Lossless ratio vs encode speed (1 thread), per codec and modality"
	set xlabel "encode MB/s (decoded pixels, median)"
	set ylabel "compression ratio"
	set logscale x
	set grid
	set key outside right
	set datafile separator "\t"
	plot for [c in system("cut -f1 $out/codec.tsv | sort -u | tr '\n' ' '")] \
	     "$out/codec.tsv" using (strcol(1) eq c ? \$4 : NaN):3 with points pt 7 ps 1.5 title c, \
	     "$out/codec.tsv" using 4:3:2 with labels offset 1,0.5 font ",8" notitle
	EOF
fi
if [ -n "$scaling" ]; then
	tsv "$scaling" scaling > "$out/scaling.tsv"
	[ -s "$out/scaling.tsv" ] || { echo "plot.sh: no pipeline lines in $scaling" >&2; exit 1; }
	gnuplot <<-EOF
	set terminal png size 900,600 noenhanced
	set output "$out/scaling.png"
	set title "Whole-study compression vs threads (radpipe bench pipeline)"
	set xlabel "threads"
	set ylabel "pixel MB/s (median)"
	set y2label "speed-up over 1 thread"
	set y2tics
	set grid
	set datafile separator "\t"
	set key left top
	plot "$out/scaling.tsv" using 1:2 with linespoints lw 2 pt 7 title "MB/s", \
	     "$out/scaling.tsv" using 1:3 axes x1y2 with linespoints dt 2 pt 5 title "speed-up", \
	     "$out/scaling.tsv" using 1:1 axes x1y2 with lines dt 3 title "ideal speed-up"
	EOF
fi
if [ -n "$peers" ]; then
	tsv "$peers" peers > "$out/peers.tsv"
	[ -s "$out/peers.tsv" ] || { echo "plot.sh: no peer lines in $peers" >&2; exit 1; }
	gnuplot <<-EOF
	set terminal png size 1000,700 noenhanced
	set output "$out/peers.png"
	set title "radpipe and peers, file by file, whole-process time (hyperfine)"
	set xlabel "pixel MB/s (median)"
	set ylabel "ratio (pixel bytes / output bytes)"
	set logscale x
	set grid
	set datafile separator "\t"
	plot "$out/peers.tsv" using 3:2 with points pt 7 ps 1.5 notitle, \
	     "$out/peers.tsv" using 3:2:1 with labels offset 0,1 font ",8" notitle
	EOF
fi
ls "$out"/*.png
