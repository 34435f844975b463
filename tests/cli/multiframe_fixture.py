# SPDX-License-Identifier: BSD-3-Clause
# tests/cli/multiframe_fixture.py - the large multi-frame object of
# tests/cli/large_object.sh, made and checked with pydicom, an independent reader.
#
#   make DIR N OUT   one native multi-frame CT of N 512x512 frames (explicit VR little
#                    endian), the frames the CT slices of DIR in turn
#   noise N OUT      one native multi-frame CT of N 512x512 frames of 16-bit noise,
#                    written frame by frame (never held whole: N = 8190 is 4.29 GB, and
#                    its RLE form passes 2^32 bytes, so it needs the Extended Offset Table)
#   same OUT A       OUT (native, any syntax pydicom reads without a plugin) holds
#                    exactly A's frames, in A's order
import glob
import os
import struct
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


def noise(n, out_path):
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import generate_uid
    total = n * 512 * 512 * 2
    if total > 0xFFFFFFFE:
        sys.exit(f"FAIL: {n} frames do not fit one native Pixel Data element")
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
    ds.Modality, ds.PatientID, ds.PatientName = "CT", "NOISE", "Noise^Frames"
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.Rows = ds.Columns = 512
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated = ds.BitsStored = 16
    ds.HighBit, ds.PixelRepresentation, ds.NumberOfFrames = 15, 0, n
    ds.is_little_endian, ds.is_implicit_VR = True, False
    ds.PixelData = b"\0\0"        # a stand-in element, replaced by the real one below
    ds["PixelData"].VR = "OW"
    ds.save_as(out_path + ".hdr", write_like_original=False)
    with open(out_path + ".hdr", "rb") as f:
        hdr = f.read()
    os.remove(out_path + ".hdr")
    if hdr[-14:-10] != b"\xe0\x7f\x10\x00":
        sys.exit("FAIL: the stand-in Pixel Data is not the last element")
    rng = np.random.default_rng(4)
    with open(out_path, "wb") as f:
        f.write(hdr[:-14])
        f.write(b"\xe0\x7f\x10\x00OW\0\0" + struct.pack("<I", total))
        for _ in range(n):
            f.write(rng.integers(0, 65536, 512 * 512, dtype=np.uint16).tobytes())


def same(out_path, ref_path):
    a = pydicom.dcmread(out_path).pixel_array
    b = pydicom.dcmread(ref_path).pixel_array
    if a.shape != b.shape or not np.array_equal(a, b):
        sys.exit(f"FAIL: {out_path}: frames differ from {ref_path} ({a.shape} vs {b.shape})")


if __name__ == "__main__":
    if sys.argv[1] == "make":
        make(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    elif sys.argv[1] == "noise":
        noise(int(sys.argv[2]), sys.argv[3])
    elif sys.argv[1] == "same":
        same(sys.argv[2], sys.argv[3])
    else:
        sys.exit("usage: multiframe_fixture.py make DIR N OUT | noise N OUT | same OUT REF")
