#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
# bench/jsonl2tsv.py - the columns bench/plot.sh charts, from the benches' JSON lines:
#   codec:   codec  modality  ratio  encode_mbps_median   (single-thread lines)
#   scaling: threads  mbps_median  speedup               (verified pipeline lines)
#   peers:   tool  ratio  mbps
import json
import sys

path, kind = sys.argv[1], sys.argv[2]
rows = [json.loads(line) for line in open(path) if line.strip()]
if kind == "codec":
    for r in rows:
        if r.get("bench") == "codec" and r["threads"] == 1:
            print(f"{r['codec']}\t{r['modality']}\t{r['ratio']}\t{r['encode_mbps']['median']}")
elif kind == "scaling":
    pts = [r for r in rows if r.get("bench") == "pipeline" and r.get("verify")]
    base = next((r["mbps"]["median"] for r in pts if r["threads"] == 1), None)
    for r in sorted(pts, key=lambda r: r["threads"]):
        sp = r["mbps"]["median"] / base if base else r["speedup_vs_first"]
        print(f"{r['threads']}\t{r['mbps']['median']}\t{sp:.3f}")
elif kind == "peers":
    for r in rows:
        if r.get("bench") == "peers":
            print(f"{r['tool']}\t{r['ratio']}\t{r['mbps']}")
else:
    sys.exit("jsonl2tsv: kind is codec, scaling or peers")
