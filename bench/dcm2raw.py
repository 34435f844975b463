#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
# bench/dcm2raw.py - untimed preparation for the raw-image peers (opj_compress,
# ojph_compress), which read pixels, not DICOM: writes frame 0 of each DICOM file as
# little-endian raw samples plus one line per file to a TSV:
#   raw_path  width  height  bits_stored  signed(0/1)  bytes_per_sample  pixel_bytes
# Runs under Debian's /usr/bin/python3 (python3-pydicom, python3-numpy).
import os
import sys

import numpy as np
import pydicom


def main():
    if len(sys.argv) < 4:
        sys.exit("usage: dcm2raw.py OUTDIR LIST.tsv DICOM...")
    outdir, tsv = sys.argv[1], sys.argv[2]
    os.makedirs(outdir, exist_ok=True)
    with open(tsv, "w") as out:
        for i, path in enumerate(sys.argv[3:]):
            ds = pydicom.dcmread(path)
            arr = ds.pixel_array
            if arr.ndim != 2:
                sys.exit(f"dcm2raw: {path}: only single-frame greyscale images are used here")
            signed = int(ds.PixelRepresentation) == 1
            bits = int(ds.BitsStored)
            bps = 1 if int(ds.BitsAllocated) == 8 else 2
            dtype = {(1, False): "<u1", (1, True): "<i1", (2, False): "<u2",
                     (2, True): "<i2"}[(bps, signed)]
            raw = os.path.join(outdir, f"{i:06d}.raw")
            data = np.ascontiguousarray(arr.astype(dtype)).tobytes()
            with open(raw, "wb") as f:
                f.write(data)
            out.write(f"{raw}\t{arr.shape[1]}\t{arr.shape[0]}\t{bits}\t{int(signed)}\t"
                      f"{bps}\t{len(data)}\n")


if __name__ == "__main__":
    main()
