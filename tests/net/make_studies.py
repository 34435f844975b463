#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
# tests/net/make_studies.py - a modality's worth of real instances for the end-to-end
# tests: the first N distinct CT and M distinct MR image instances of the corpus (by SOP
# Instance UID, ct/ and mr/ trees only, every transfer syntax they come in, with the
# UIDs a modality sends), copied as
# they are.  When the corpus holds fewer, the rest are copies of its uncompressed slices
# with new SOP and Series Instance UIDs in the same study (pixels and every other
# attribute as scanned), so the set is real images, each instance unique.
#   make_studies.py CORPUS OUT --ct 140 --mr 160 [--hold 1]
# writes OUT/ct/<transfer syntax UID>/*.dcm and OUT/mr/<...>/*.dcm, and with --hold K
# writes K more instances of studies already in OUT into OUT/late/ (instances a modality
# sends after the study went out).
import argparse
import csv
import os
import shutil
import sys

import pydicom
from pydicom.uid import generate_uid


# storescu has a -x option for every syntax of the corpus but JPEG lossless process 14
# with its selection values other than 1; it would have to decode those, which it cannot.
UNPROPOSABLE = {"1.2.840.10008.1.2.4.57"}


def images(corpus, modality, tree):
    seen = set()
    with open(os.path.join(corpus, "MANIFEST.tsv")) as f:
        rows = sorted(csv.DictReader(f, delimiter="\t"), key=lambda r: r["path"])
    for row in rows:
        if row["modality"] != modality or not row["path"].startswith(tree + "/"):
            continue
        path = os.path.join(corpus, row["path"])
        try:
            ds = pydicom.dcmread(path)
            meta = ds.file_meta
            # What a modality sends: an image with the UIDs storescu needs.
            if "PixelData" not in ds or "SOPClassUID" not in ds or \
                    meta.TransferSyntaxUID in UNPROPOSABLE or \
                    "MediaStorageSOPClassUID" not in meta or \
                    "MediaStorageSOPInstanceUID" not in meta or \
                    not all(pydicom.uid.UID(str(u)).is_valid for u in (
                        ds.SOPInstanceUID, ds.StudyInstanceUID, meta.MediaStorageSOPInstanceUID)) or \
                    any(ds.get_item(t).VR != "UI" for t in (0x00080016, 0x00080018)):
                continue
        except Exception:
            continue
        if ds.SOPInstanceUID in seen:
            continue
        seen.add(ds.SOPInstanceUID)
        yield path, ds


def uid(*parts):
    return generate_uid(entropy_srcs=["radpipe-e2e"] + [str(p) for p in parts])


def collect(corpus, modality, tree, count, out):
    os.makedirs(out, exist_ok=True)
    natives = []
    n = 0
    for path, ds in images(corpus, modality, tree):
        if n == count:
            break
        # One directory per transfer syntax: storescu proposes one syntax per run.
        sub = os.path.join(out, str(ds.file_meta.TransferSyntaxUID))
        os.makedirs(sub, exist_ok=True)
        shutil.copyfile(path, os.path.join(sub, "%s%04d.dcm" % (tree, n)))
        if ds.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.1":
            natives.append(path)
        n += 1
    copy = 0
    while n < count:
        if not natives:
            sys.exit("make_studies: no uncompressed %s slice to copy" % modality)
        src = natives[copy % len(natives)]
        ds = pydicom.dcmread(src)
        ds.SeriesInstanceUID = uid("series", ds.SeriesInstanceUID, copy // len(natives))
        ds.SOPInstanceUID = uid("sop", src, copy)
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        sub = os.path.join(out, str(ds.file_meta.TransferSyntaxUID))
        os.makedirs(sub, exist_ok=True)
        ds.save_as(os.path.join(sub, "%s%04d.dcm" % (tree, n)), write_like_original=True)
        n += 1
        copy += 1
    return natives


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("corpus")
    ap.add_argument("out")
    ap.add_argument("--ct", type=int, default=140)
    ap.add_argument("--mr", type=int, default=160)
    ap.add_argument("--hold", type=int, default=0)
    a = ap.parse_args()
    ct = collect(a.corpus, "CT", "ct", a.ct, os.path.join(a.out, "ct"))
    collect(a.corpus, "MR", "mr", a.mr, os.path.join(a.out, "mr"))
    if a.hold:
        late = os.path.join(a.out, "late")
        os.makedirs(late, exist_ok=True)
        for i in range(a.hold):
            ds = pydicom.dcmread(ct[i % len(ct)])
            ds.SOPInstanceUID = uid("late", i)
            ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
            ds.save_as(os.path.join(late, "late%04d.dcm" % i), write_like_original=True)
    print("make_studies: %d CT + %d MR instances (+%d late) in %s" % (a.ct, a.mr, a.hold,
                                                                    a.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
