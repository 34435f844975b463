#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
# bench/peers_report.py - turns bench/peers.sh's hyperfine run into OUT/peers.jsonl (one
# line per tool, with the machine and tool versions) and a table giving, for each peer,
# how many times longer it took than radpipe with the same codec (all threads, and one
# thread).  Only the standard library: runs under any python3.
import argparse
import json
import os
import re
import subprocess
import sys

# Which radpipe codec a peer is compared with (same codec family; zstd has none, so it is
# set against radpipe's default, JPEG-LS).
REFERENCE = {
    "gdcmconv_jpegls": "jpegls", "dcmcjpls": "jpegls", "gdcmconv_j2k": "j2k",
    "opj_compress": "j2k", "ojph_compress": "htj2k-ojph", "zstd1": "jpegls",
}


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def version(cmd):
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
        text = (p.stdout + p.stderr).strip().splitlines()
        for line in text:
            if re.search(r"\d+\.\d+", line):
                return line.strip()[:120]
    except (OSError, subprocess.SubprocessError):
        pass
    return "unknown"


def dir_bytes(d):
    return sum(os.path.getsize(os.path.join(d, n)) for n in os.listdir(d)) if os.path.isdir(d) else 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--radpipe", required=True)
    ap.add_argument("--tools", nargs="+", required=True)
    a = ap.parse_args()

    with open(os.path.join(a.out, "hyperfine.json")) as f:
        results = {r["command"]: r for r in json.load(f)["results"]}
    pixel_bytes = 0
    files = 0
    with open(os.path.join(a.out, "raw.tsv")) as f:
        for line in f:
            pixel_bytes += int(line.rstrip("\n").split("\t")[6])
            files += 1
    env = {
        "cpu": cpu_model(), "cpus": os.cpu_count(),
        "versions": {
            "radpipe": version([a.radpipe, "--version"]),
            "gdcmconv": version(["gdcmconv", "--version"]),
            "dcmcjpls": version(["dcmcjpls", "--version"]),
            "opj_compress": version(["opj_compress", "-h"]),
            "ojph_compress": version(["ojph_compress", "-v"]),
            "zstd": version(["zstd", "--version"]),
            "hyperfine": version(["hyperfine", "--version"]),
        },
    }
    rows = {}
    with open(os.path.join(a.out, "peers.jsonl"), "w") as jf:
        for tool in a.tools:
            r = results.get(tool)
            if r is None:
                sys.exit(f"peers_report: no hyperfine result for {tool}")
            times = sorted(r["times"])
            med = r["median"]
            outb = dir_bytes(os.path.join(a.out, "o", tool))
            if outb == 0:
                sys.exit(f"peers_report: {tool} wrote nothing")
            row = {
                "bench": "peers", "tool": tool, "files": files, "pixel_bytes": pixel_bytes,
                "output_bytes": outb, "ratio": round(pixel_bytes / outb, 4),
                "runs": len(times), "seconds": {"median": med, "min": times[0],
                                                "max": times[-1]},
                "mbps": round(pixel_bytes / 1e6 / med, 3),
                # hyperfine's user + system means: CPU the tool used, which neighbours on
                # a shared machine disturb far less than wall time.
                "cpu_seconds_mean": round(r.get("user", 0) + r.get("system", 0), 4),
            }
            row.update(env)
            jf.write(json.dumps(row) + "\n")
            rows[tool] = row

    def rp(codec, single):
        cands = [t for t in rows if t.startswith(f"radpipe_{codec}_T")]
        if not cands:
            return None
        key = (lambda t: int(t.rsplit("T", 1)[1]))
        return min(cands, key=key) if single else max(cands, key=key)

    print(f"{files} files, {pixel_bytes / 1e6:.1f} MB of pixels; {env['cpu']}, "
          f"{env['cpus']} CPUs; median of {rows[a.tools[0]]['runs']} run(s)")
    print(f"{'tool':24s} {'ratio':>6s} {'seconds':>9s} {'CPU s':>7s} {'MB/s':>8s}  "
          f"{'wall time vs radpipe (all thr / 1 thr); CPU time vs radpipe 1 thr'}")
    for tool, row in rows.items():
        line = (f"{tool:24s} {row['ratio']:6.2f} {row['seconds']['median']:9.3f} "
                f"{row['cpu_seconds_mean']:7.2f} {row['mbps']:8.1f}")
        ref = REFERENCE.get(tool)
        if ref:
            ra, r1 = rp(ref, False), rp(ref, True)
            if ra:
                line += (f"  {row['seconds']['median'] / rows[ra]['seconds']['median']:5.2f}x "
                         f"slower than {ra}")
            if r1 and r1 != ra:
                line += f", {row['seconds']['median'] / rows[r1]['seconds']['median']:5.2f}x vs {r1}"
            if r1 and rows[r1]["cpu_seconds_mean"] > 0:
                line += f"; CPU {row['cpu_seconds_mean'] / rows[r1]['cpu_seconds_mean']:5.2f}x"
        print(line)


if __name__ == "__main__":
    main()
