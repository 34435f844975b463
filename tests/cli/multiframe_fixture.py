# SPDX-License-Identifier: BSD-3-Clause
# tests/cli/multiframe_fixture.py - the large multi-frame object of
# tests/cli/large_object.sh, made and checked with pydicom, an independent reader.
#
#   make DIR N OUT   one native multi-frame CT of N 512x512 frames (explicit VR little
#                    endian), the frames the CT slices of DIR in turn
#   same OUT A       OUT (native, any syntax pydicom reads without a plugin) holds
#                    exactly A's frames, in A's order
import glob
import sys

import numpy as np
import pydicom
from pydicom.uid import ExplicitVRLittleEndian


def slices(directory):
    out, header = [], None
    for path in sorted(glob.glob(directory + "/**/*", recursive=True)):
        try:
            ds = pydicom.dcmread(path)
        except Exception:
            continue
        if "PixelData" not in ds or ds.get("Rows") != 512 or ds.get("Columns") != 512 \
                or ds.BitsAllocated != 16 or ds.SamplesPerPixel != 1:
            continue
        out.append(ds.pixel_array.astype(np.uint16 if ds.PixelRepresentation == 0
                                         else np.int16))
        header = ds
    if not out:
        sys.exit(f"FAIL: no 512x512 16-bit CT slices under {directory}")
    return out, header


def make(directory, n, out_path):
    frames, ds = slices(directory)
    if ds.file_meta.TransferSyntaxUID.is_compressed:
        ds.decompress()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.is_little_endian, ds.is_implicit_VR = True, False
    ds.NumberOfFrames = n
    ds.PixelData = b"".join(frames[i % len(frames)].tobytes() for i in range(n))
    ds["PixelData"].VR = "OW"
    ds.save_as(out_path, write_like_original=False)


def same(out_path, ref_path):
    a = pydicom.dcmread(out_path).pixel_array
    b = pydicom.dcmread(ref_path).pixel_array
    if a.shape != b.shape or not np.array_equal(a, b):
        sys.exit(f"FAIL: {out_path}: frames differ from {ref_path} ({a.shape} vs {b.shape})")


if __name__ == "__main__":
    if sys.argv[1] == "make":
        make(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    elif sys.argv[1] == "same":
        same(sys.argv[2], sys.argv[3])
    else:
        sys.exit("usage: multiframe_fixture.py make DIR N OUT | same OUT REF")
