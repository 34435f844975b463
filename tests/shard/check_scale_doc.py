#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
# tests/shard/check_scale_doc.py docs/SCALE.md - the Kubernetes manifest in the doc parses
# as YAML, is an Indexed Job, and runs compress --shard auto with --shard-count equal to
# its completions; the Slurm script runs the same compress command.
import re
import sys

import yaml

text = open(sys.argv[1]).read()
blocks = re.findall(r"```yaml\n(.*?)```", text, re.S)
assert len(blocks) == 1, f"expected one yaml block, found {len(blocks)}"
job = yaml.safe_load(blocks[0])
assert job["kind"] == "Job" and job["apiVersion"] == "batch/v1", job
spec = job["spec"]
assert spec["completionMode"] == "Indexed", spec
cmd = spec["template"]["spec"]["containers"][0]["command"]
assert cmd[:2] == ["radpipe", "compress"], cmd
assert cmd[cmd.index("--shard") + 1] == "auto", cmd
assert int(cmd[cmd.index("--shard-count") + 1]) == spec["completions"], cmd
sh = re.findall(r"```sh\n(.*?)```", text, re.S)
assert len(sh) == 1, "expected one sh block"
assert "--shard auto" in sh[0] and "radpipe compress" in sh[0], sh[0]
slurm_args = re.search(r"--shard auto --shard-count (\d+)", sh[0])
array = re.search(r"--array=0-(\d+)", sh[0])
assert slurm_args and array and int(slurm_args.group(1)) == int(array.group(1)) + 1
print("PASS")
