#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# bench/peers.sh - radpipe and the peer tools side by side, in one run, on the same files,
# timed as whole processes by hyperfine, file by file as users run them:
#   gdcmconv --jpegls / --j2k (GDCM), dcmcjpls (DCMTK), opj_compress (OpenJPEG),
#   ojph_compress (OpenJPH), zstd -1,  vs  radpipe compress (one call for the whole set)
# Writes OUT/peers.jsonl (one line per tool: ratio, seconds median/min/max, MB/s) and
# prints a table with each peer's time over radpipe's for the same codec.
#
#   bench/peers.sh                         # 82 real CT slices (~43 MB), 5 runs each
#   bench/peers.sh --set /tmp/study --runs 3
#   bench/peers.sh --smoke                 # 3 files, 1 run (CTest)
#
# MB = 10^6 bytes of decoded pixels.  ratio = pixel bytes / output bytes (DICOM outputs
# include their headers, raw codestreams do not; ~1 KB per file).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
corpus=${RADPIPE_CORPUS:-$here/../../shared/corpus}
radpipe=${RADPIPE_BIN:-$here/../build/radpipe}
out=/tmp/radpipe-peers
set_dir=""
runs=5
smoke=0
while [ $# -gt 0 ]; do
	case $1 in
	--smoke) smoke=1; runs=1 ;;
	--out) out=$2; shift ;;
	--set) set_dir=$2; shift ;;
	--runs) runs=$2; shift ;;
	--radpipe) radpipe=$2; shift ;;
	-h|--help) sed -n '2,16p' "$0"; exit 0 ;;
	*) echo "peers.sh: unknown argument $1" >&2; exit 2 ;;
	esac
	shift
done
[ -x "$radpipe" ] || { echo "peers.sh: no radpipe binary at $radpipe (set RADPIPE_BIN)" >&2; exit 2; }
for t in hyperfine gdcmconv dcmcjpls opj_compress ojph_compress zstd /usr/bin/python3; do
	command -v "$t" >/dev/null || { echo "peers.sh: $t missing: run scripts/install-deps.sh" >&2; exit 2; }
done

rm -rf "$out"
mkdir -p "$out/in" "$out/raw"
# The input set: native single-frame CT slices.
if [ -n "$set_dir" ]; then
	find "$set_dir" -type f | sort > "$out/list.txt"
else
	[ -d "$corpus/ct" ] || { echo "peers.sh: corpus not found at $corpus (set RADPIPE_CORPUS)" >&2; exit 2; }
	{ find "$corpus/ct/dcm_qa_ct_GE_HiSpeedDual" -type f -name '*.dcm' | sort
	  find "$corpus/ct/dcm_qa_ct_Philips_Ingenuity_S21610/S2010" -type f | sort; } > "$out/list.txt"
fi
[ "$smoke" = 1 ] && { head -n 3 "$out/list.txt" > "$out/l3"; mv "$out/l3" "$out/list.txt"; }
n=$(wc -l < "$out/list.txt")
[ "$n" -gt 0 ] || { echo "peers.sh: no input files" >&2; exit 2; }
# Copies with flat names, so every tool reads the same bytes from the same place.
i=0
while read -r f; do cp "$f" "$out/in/$(printf '%06d' $i).dcm"; i=$((i + 1)); done < "$out/list.txt"
/usr/bin/python3 "$here/dcm2raw.py" "$out/raw" "$out/raw.tsv" "$out"/in/*.dcm
for r in "$out"/raw/*.raw; do ln -f "$r" "${r%.raw}.rawl"; ln -f "$r" "${r%.raw}.yuv"; done

# One shell script per tool: the loop users would write.
mk() { # name, body (uses $f for each input, $o for its output stem)
	local name=$1 body=$2
	mkdir -p "$out/o/$name"
	cat > "$out/run_$name.sh" <<-EOF
	set -e
	rm -f "$out/o/$name"/*
	for f in "$out"/in/*.dcm; do o="$out/o/$name/\$(basename "\$f" .dcm)"; $body; done
	EOF
}
mk gdcmconv_jpegls 'gdcmconv --jpegls "$f" "$o.dcm"'
mk gdcmconv_j2k 'gdcmconv --j2k "$f" "$o.dcm"'
mk dcmcjpls 'dcmcjpls "$f" "$o.dcm"'
mk zstd1 'zstd -q -1 -f "$f" -o "$o.zst"'
# Raw-image coders: geometry from raw.tsv (prepared above, untimed).
mkdir -p "$out/o/opj_compress" "$out/o/ojph_compress"
{
	echo 'set -e'
	echo "rm -f \"$out/o/opj_compress\"/*"
	while IFS=$'\t' read -r raw w h bits signed bps px; do
		s=u; [ "$signed" = 1 ] && s=s
		echo "opj_compress -quiet -i ${raw%.raw}.rawl -o $out/o/opj_compress/$(basename "${raw%.raw}").j2k -F $w,$h,1,$bits,$s >/dev/null"
	done < "$out/raw.tsv"
} > "$out/run_opj_compress.sh"
{
	echo 'set -e'
	echo "rm -f \"$out/o/ojph_compress\"/*"
	while IFS=$'\t' read -r raw w h bits signed bps px; do
		sg=false; [ "$signed" = 1 ] && sg=true
		echo "ojph_compress -i ${raw%.raw}.yuv -o $out/o/ojph_compress/$(basename "${raw%.raw}").j2c -reversible true -dims {$w,$h} -num_comps 1 -signed $sg -bit_depth $bits -downsamp {1,1} >/dev/null"
	done < "$out/raw.tsv"
} > "$out/run_ojph_compress.sh"
# radpipe: one call for the whole set, as users run it (verify on, the default).
threads=$(nproc)
rp_codecs=$("$radpipe" compress --help 2>&1 | awk '/^Codecs:/{c=1;next} c && /^  [a-z]/{print $1} /^$/{if(c)exit}')
radpipe_tools=""
for c in jpegls j2k htj2k-ojph htj2k; do
	echo "$rp_codecs" | grep -qx "$c" || continue
	for t in 1 "$threads"; do
		name="radpipe_${c}_T$t"
		mkdir -p "$out/o/$name"
		printf 'set -e\nrm -rf "%s"/*\n"%s" compress -q -c %s -T %s -o "%s" "%s"/in\n' \
			"$out/o/$name" "$radpipe" "$c" "$t" "$out/o/$name" "$out" > "$out/run_$name.sh"
		radpipe_tools="$radpipe_tools $name"
		[ "$t" = 1 ] && [ "$threads" = 1 ] && break
	done
done

# One untimed pass of every tool: a peer that fails is a broken setup (stop); a radpipe
# codec that fails here (e.g. one whose decoder this build lacks, so verify cannot run) is
# left out of the timing, and said so, rather than timed while failing.
tools=""
for t in $radpipe_tools gdcmconv_jpegls dcmcjpls gdcmconv_j2k opj_compress ojph_compress zstd1; do
	if sh "$out/run_$t.sh" > "$out/check_$t.log" 2>&1; then
		tools="$tools $t"
	elif [ "${t#radpipe_}" != "$t" ]; then
		echo "peers.sh: left out $t: $(head -n 1 "$out/check_$t.log")" >&2
		echo "$t" >> "$out/left_out.txt"
	else
		echo "peers.sh: $t failed:" >&2; cat "$out/check_$t.log" >&2; exit 1
	fi
done
cmds=()
for t in $tools; do cmds+=(-n "$t" "sh $out/run_$t.sh"); done
warm=1; [ "$smoke" = 1 ] && warm=0
hyperfine -N --style basic --warmup "$warm" --runs "$runs" --export-json "$out/hyperfine.json" \
	"${cmds[@]}" > "$out/hyperfine.txt"

/usr/bin/python3 "$here/peers_report.py" --out "$out" --radpipe "$radpipe" --tools $tools
