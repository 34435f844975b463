#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
# tests/gateway/check_delivered.py RXDIR SEEN FILE... - every FILE a modality sent is
# at RXDIR/<StudyInstanceUID>/<SOPInstanceUID>.dcm, byte for byte the file the gateway's
# SCP wrote when it received it (SEEN holds copies taken from the spool), the same
# instance as FILE (tests/net/same_instance.py: every element and the pixel data bytes;
# storescu may re-encode a dataset on the way, so FILE's bytes are not the reference),
# and RXDIR holds no other instance.
import os
import sys

import pydicom

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "net"))
from same_instance import compare  # noqa: E402


def main():
    rx, seen, files = sys.argv[1], sys.argv[2], sys.argv[3:]
    expected = {}
    for f in files:
        ds = pydicom.dcmread(f, stop_before_pixels=True)
        rel = os.path.join(str(ds.StudyInstanceUID), str(ds.SOPInstanceUID) + ".dcm")
        expected[rel] = f
    got = set()
    for root, _, names in os.walk(rx):
        if os.path.relpath(root, rx).startswith(".radpipe"):
            continue
        for n in names:
            got.add(os.path.relpath(os.path.join(root, n), rx))
    bad = 0
    for rel, f in sorted(expected.items()):
        if rel not in got:
            print("FAIL: %s (%s) not delivered" % (rel, f))
            bad += 1
        elif not os.path.exists(os.path.join(seen, rel)):
            print("FAIL: %s was never seen in the spool" % rel)
            bad += 1
        elif open(os.path.join(rx, rel), "rb").read() != open(os.path.join(seen, rel), "rb").read():
            print("FAIL: %s differs from what the gateway received" % rel)
            bad += 1
        elif compare(f, os.path.join(rx, rel)):
            print("FAIL: %s is not the instance %s" % (rel, f))
            bad += 1
    for rel in sorted(got - set(expected)):
        print("FAIL: unexpected %s delivered" % rel)
        bad += 1
    if bad:
        sys.exit(1)
    print("PASS: %d instances delivered, byte-equal to what the gateway received, "
          "same instances as sent" % len(expected))


main()
