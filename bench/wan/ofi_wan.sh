#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# bench/wan/ofi_wan.sh - the libfabric backend on the WAN test bed: the same
# study over the same emulated link with the TCP backend and with
# `--fabric 'tcp;ofi_rxm'`, 1 and N connections (N fabric endpoints), in one run.
#
#   sudo bench/wan/ofi_wan.sh [BUILD_DIR] [STUDY_DIR] [REPS] [N]
#
# BUILD_DIR holds radpipe and bench/wan/wanemu (default build/); STUDY_DIR defaults to the
# corpus CT series.  Profiles (rate Mbit/s, RTT ms, loss % per direction): 1000/10/0 and
# 1000/100/1, or PROFILES="RATE/RTT/LOSS ..." from the environment (CONFIGS: below).  Both ends run in
# the namespaces of netns.sh joined by wanemu; BBR in both (the host default here);
# --insecure on both backends (no TLS on either data path, so the comparison is of the
# data paths, not of encryption), -c native (no encoder in the way), send --timeout 60.
# Prints one JSON line per run and a median table (MB/s of original study bytes, wall
# seconds from connect to COMPLETE).  Needs root.  Removes its namespaces on exit.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${1:-$root/build}
study=${2:-${RADPIPE_CORPUS:-$root/../shared/corpus}/ct/dcm_qa_ct_Philips_Ingenuity_S21610/S2010}
reps=${3:-3}
nstreams=${4:-8}
profiles=${PROFILES:-"1000/10/0 1000/100/1"}
bin=$build/radpipe
emu=$build/bench/wan/wanemu
[ -x "$bin" ] && [ -x "$emu" ] || { echo "ofi_wan: need $bin and $emu" >&2; exit 2; }
[ -d "$study" ] || { echo "ofi_wan: no study $study" >&2; exit 2; }
tag=ofiw$$
read -r nsa nsb < <(sh "$here/netns.sh" names "$tag")
work=$(mktemp -d /tmp/radpipe-ofi-wan.XXXXXX)
emu_pid=
srv_pid=

cleanup() {
	[ -z "$srv_pid" ] || kill "$srv_pid" 2>/dev/null || true
	[ -z "$emu_pid" ] || kill "$emu_pid" 2>/dev/null || true
	wait 2>/dev/null || true
	sh "$here/netns.sh" down "$tag" || true
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# The configurations compared: label and the flags both sides get.
configs=(
	"tcp-1|-n 1|"
	"tcp-$nstreams|-n $nstreams|"
	"ofi-rxm-1|-n 1|--fabric tcp;ofi_rxm --trusted-fabric"
	"ofi-rxm-$nstreams|-n $nstreams|--fabric tcp;ofi_rxm --trusted-fabric"
	"ofi-rxm-$nstreams-tagged|-n $nstreams --ofi-no-rma|--fabric tcp;ofi_rxm --trusted-fabric"
	"ofi-rxm-1-w64|-n 1|--fabric tcp;ofi_rxm --trusted-fabric --ofi-window 64"
)
# CONFIGS="label ..." from the environment runs only those (default: all but the last,
# a 64-message window on one endpoint, which covers a 100 ms x 1 Gbit/s BDP).
only=${CONFIGS:-"tcp-1 tcp-$nstreams ofi-rxm-1 ofi-rxm-$nstreams ofi-rxm-$nstreams-tagged"}

echo "# $(date -u +%FT%TZ) load: $(cut -d' ' -f1-3 /proc/loadavg) study: $study ($(du -sm "$study" | cut -f1) MB) reps: $reps"
results=$work/results.jsonl
: >"$results"
for prof in $profiles; do
	IFS=/ read -r rate rtt loss <<<"$prof"
	sh "$here/netns.sh" up "$tag"
	for ns in "$nsa" "$nsb"; do
		ip netns exec "$ns" sysctl -q -w net.ipv4.tcp_congestion_control=bbr 2>/dev/null || true
	done
	"$emu" --ns-a "$nsa" --dev-a wan0 --ns-b "$nsb" --dev-b wan0 --rate "$rate" --rtt "$rtt" \
		--loss "$loss" --duration 3600 >"$work/wanemu.log" 2>&1 &
	emu_pid=$!
	sleep 0.5
	ip netns exec "$nsa" ping -c 3 -i 0.2 -q 198.18.0.2 | tail -n 1 | sed "s|^|# $prof ping: |"
	for cfg in "${configs[@]}"; do
		IFS='|' read -r label sflags fflags <<<"$cfg"
		case " $only " in *" $label "*) ;; *) continue ;; esac
		# shellcheck disable=SC2206
		fab=($fflags)  # no spaces inside the words: a plain split is enough
		for rep in $(seq "$reps"); do
			rm -rf "$work/rx" "$work/port"
			mkdir "$work/rx"
			ip netns exec "$nsb" env FI_TCP_IFACE=wan0 "$bin" serve --dir "$work/rx" \
				--listen 198.18.0.2:0 --port-file "$work/port" --insecure "${fab[@]}" -q \
				--log "$work/rx.log" &
			srv_pid=$!
			for _ in $(seq 200); do [ -s "$work/port" ] && break; sleep 0.05; done
			# shellcheck disable=SC2086
			if ip netns exec "$nsa" env FI_TCP_IFACE=wan0 "$bin" send --insecure "${fab[@]}" \
				$sflags -c native --timeout 60 --json -q "198.18.0.2:$(cat "$work/port")" \
				"$study" >"$work/report.json" 2>"$work/send.err"; then
				ok=true
				diff -r "$study" "$work/rx/$(basename "$study")" >/dev/null || ok=false
			else
				ok=false
			fi
			kill "$srv_pid" 2>/dev/null || true
			wait "$srv_pid" 2>/dev/null || true
			srv_pid=
			python3 - "$work/report.json" "$prof" "$label" "$rep" "$ok" "$(cat /proc/loadavg)" \
				"$(tail -c 300 "$work/send.err")" <<'EOF' | tee -a "$results"
import json, sys
path, prof, label, rep, ok, load, err = sys.argv[1:]
try:
    r = json.load(open(path))
except Exception:
    r = {}
wall = r.get("wall_s")
out = {"profile": prof, "config": label, "rep": int(rep), "identical": ok == "true",
       "wall_s": wall, "original_bytes": r.get("original_bytes"),
       "wire_bytes": r.get("wire_bytes"), "streams_lost": r.get("streams_lost"),
       "MBps": round(r["original_bytes"] / wall / 1e6, 2) if wall else None,
       "load": load.split()[:3]}
if ok != "true":
    out["error"] = err
print(json.dumps(out))
EOF
		done
	done
	kill "$emu_pid" 2>/dev/null || true
	wait "$emu_pid" 2>/dev/null || true
	emu_pid=
	sh "$here/netns.sh" down "$tag"
done

python3 - "$results" <<'EOF'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
profs = list(dict.fromkeys(r["profile"] for r in rows))
cfgs = list(dict.fromkeys(r["config"] for r in rows))
print("\n| MB/s (median; wall s) | " + " | ".join(p + " (Mbit/RTT ms/loss %)" for p in profs) + " |")
print("|---|" + "---|" * len(profs))
for c in cfgs:
    cells = []
    for p in profs:
        rs = [r for r in rows if r["profile"] == p and r["config"] == c]
        good = [r for r in rs if r["identical"] and r["MBps"]]
        if not good:
            cells.append("failed")
            continue
        mb = statistics.median(r["MBps"] for r in good)
        wall = statistics.median(r["wall_s"] for r in good)
        bad = len(rs) - len(good)
        cells.append("%.1f (%.2f s)%s" % (mb, wall, " [%d failed]" % bad if bad else ""))
    print("| %s | %s |" % (c, " | ".join(cells)))
EOF
