#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
# scripts/synth-study.py - builds a large, realistic CT study for scale runs from the real
# corpus slices: N files, each a valid DICOM Part 10 object with its own SOP Instance UID
# (meta group's MediaStorageSOPInstanceUID too), one new Study and Series Instance UID,
# consecutive InstanceNumber, ImagePositionPatient / SliceLocation stepping along z.
# Pixel data are the real slices, cycled, so ratio and speed see real CT statistics.
#
# Runs under Debian's /usr/bin/python3, where python3-pydicom installs.
# UIDs are derived from --seed (pydicom's generate_uid with entropy sources), so two runs
# with the same arguments give byte-identical studies.
#
#   scripts/synth-study.py --out /tmp/study --slices 4000          # ~2.1 GB
#   scripts/synth-study.py --out /tmp/study --size-mb 200
import argparse
import os
import sys

try:
    import pydicom
    from pydicom.uid import generate_uid
except ImportError:  # pragma: no cover - install-deps.sh installs python3-pydicom
    sys.exit("synth-study: needs pydicom (Debian python3-pydicom)")

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_CORPUS = os.environ.get("RADPIPE_CORPUS",
                                os.path.join(HERE, "..", "..", "shared", "corpus"))
# 512x512 16-bit axial series of real patients/phantoms (see corpus/README.md).
DEFAULT_SOURCES = ["ct/dcm_qa_ct_Philips_Ingenuity_S21610/S2010",
                   "ct/dcm_qa_ct_GE_HiSpeedDual"]


def source_slices(corpus, sources):
    paths = []
    for s in sources:
        d = s if os.path.isabs(s) else os.path.join(corpus, s)
        if not os.path.isdir(d):
            sys.exit(f"synth-study: no such directory {d} (set RADPIPE_CORPUS or --corpus)")
        for name in sorted(os.listdir(d)):
            p = os.path.join(d, name)
            if os.path.isfile(p):
                paths.append(p)
    slices = []
    for p in paths:
        ds = pydicom.dcmread(p)
        if "PixelData" not in ds or ds.get("Rows") != 512 or ds.get("Columns") != 512:
            continue
        slices.append((p, ds))
    if not slices:
        sys.exit("synth-study: no 512x512 CT slices found in the sources")
    # Order each source along z so the synthesized study reads as contiguous anatomy.
    def z(item):
        ipp = item[1].get("ImagePositionPatient")
        return (os.path.dirname(item[0]), float(ipp[2]) if ipp else 0.0)
    slices.sort(key=z)
    return slices


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", required=True, help="output directory (created)")
    g = ap.add_mutually_exclusive_group()
    g.add_argument("--slices", type=int, help="number of files to write")
    g.add_argument("--size-mb", type=float, help="stop once this many MB (10^6) are written")
    ap.add_argument("--corpus", default=DEFAULT_CORPUS)
    ap.add_argument("--source", action="append",
                    help="directory of 512x512 CT slices, relative to the corpus "
                         "(repeatable; default: the Philips and GE axial series)")
    ap.add_argument("--seed", default="radpipe-synth-1", help="UID entropy seed")
    ap.add_argument("--spacing", type=float, default=1.25, help="slice spacing in mm")
    args = ap.parse_args()

    slices = source_slices(args.corpus, args.source or DEFAULT_SOURCES)
    per_file = os.path.getsize(slices[0][0])
    if args.slices:
        count = args.slices
    elif args.size_mb:
        count = max(1, int(args.size_mb * 1e6 // per_file))
    else:
        count = 4000
    os.makedirs(args.out, exist_ok=True)

    study = generate_uid(entropy_srcs=[args.seed, "study"])
    series = generate_uid(entropy_srcs=[args.seed, "series"])
    frame_of_ref = generate_uid(entropy_srcs=[args.seed, "frame-of-reference"])
    total = 0
    for i in range(count):
        path, ds = slices[i % len(slices)]
        sop = generate_uid(entropy_srcs=[args.seed, "sop", str(i)])
        ds.SOPInstanceUID = sop
        ds.file_meta.MediaStorageSOPInstanceUID = sop
        ds.StudyInstanceUID = study
        ds.SeriesInstanceUID = series
        if "FrameOfReferenceUID" in ds:
            ds.FrameOfReferenceUID = frame_of_ref
        ds.InstanceNumber = i + 1
        ds.SeriesDescription = "radpipe synthesized CT"
        z = -args.spacing * i
        ipp = ds.get("ImagePositionPatient")
        if ipp is not None:
            ds.ImagePositionPatient = [ipp[0], ipp[1], round(z, 3)]
        if "SliceLocation" in ds:
            ds.SliceLocation = round(z, 3)
        out = os.path.join(args.out, f"CT{i + 1:06d}.dcm")
        # write_like_original keeps each source file's encoding (explicit/implicit VR,
        # group lengths) so the objects stay as the scanner made them.
        ds.save_as(out, write_like_original=True)
        total += os.path.getsize(out)
    print(f"synth-study: {count} files, {total / 1e6:.1f} MB in {args.out} "
          f"(from {len(slices)} real slices)")


if __name__ == "__main__":
    main()
