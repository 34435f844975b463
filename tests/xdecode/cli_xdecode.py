#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
# tests/xdecode/cli_xdecode.py - end to end through the CLI: `radpipe compress -c CODEC`
# over real corpus images, then every output decoded by other people's tools must give
# the original pixels: gdcmconv --raw (j2k, rle, jpeg-lossless), dcmdjpeg / dcmdrle
# (jpeg-lossless, rle), opj_decompress on the extracted codestreams (j2k, htj2k,
# htj2k-ojph), ojph_expand (htj2k, htj2k-ojph; its raw writer clamps negatives) and djxl
# (jpegxl, from libjxl-tools, on the extracted codestreams).  The
# ",rct" variants code RGB through the reversible colour transform and must say YBR_RCT.  GDCM 3.0.21
# does not know the HTJ2K UIDs, so HTJ2K DICOM files are checked through the codestreams.
#
# Usage: cli_xdecode.py RADPIPE CORPUS.  Runs with Debian's python3 (python3-pydicom,
# python3-numpy from scripts/install-deps.sh); exits non-zero with the reason on any
# mismatch or missing tool.
import os
import shutil
import subprocess
import sys
import tempfile

try:
    import numpy as np
    import pydicom
    from pydicom.encaps import generate_pixel_data_frame
except ImportError as e:
    sys.exit(f"cli_xdecode: {e}: run scripts/install-deps.sh (python3-pydicom python3-numpy)"
             " and use /usr/bin/python3")

FILES = [
    "ct/dcm_qa_ct_GE_HiSpeedDual/01.dcm",     # signed 16-bit CT
    "ct/dcm_qa_ct_Philips_Ingenuity_S21610/S2010/I10",   # unsigned 12-bit CT
    "mr/wg04/MR2_UNC.dcm",                    # 12-bit MR, 1024x1024
    "mr/dcm_qa_ts_Siemens_Trio/1.dcm",        # 12-bit MR
    "us/wg04/US1_UNC.dcm",                    # RGB
    "pt/tcia_ACRIN-FLT-Breast/2.dcm",         # PET (base names must differ: see below)
]
CODECS = {
    "j2k": ["gdcmconv", "opj_decompress"],
    "j2k,rct": ["gdcmconv", "opj_decompress"],      # RGB -> YBR_RCT
    "htj2k": ["opj_decompress", "ojph_expand"],     # radpipe's own HTJ2K codec
    "htj2k,rct": ["opj_decompress", "ojph_expand"],
    "htj2k,levels=1": ["opj_decompress", "ojph_expand"],   # too few levels for .202
    "htj2k-ojph": ["opj_decompress", "ojph_expand"],
    "rle": ["gdcmconv", "dcmdrle"],
    "jpeg-lossless": ["gdcmconv", "dcmdjpeg"],
    "jpegxl": ["djxl"],
}


def expected_ts(codec, ds):
    """The transfer syntax the output must carry, or None where the test has no view.
    Our HTJ2K streams are RPCL with a TLM and one tile-part per resolution, so they are
    .202 (PS3.5 8.2.15) when the lowest resolution is 64 or less each way: always with
    the default levels; with levels=N only when the image is small enough.  OpenJPH 0.9
    writes no TLM, so its streams stay .201."""
    if codec in ("htj2k", "htj2k,rct"):
        return "1.2.840.10008.1.2.4.202"
    if codec.startswith("htj2k,levels="):
        n = int(codec.split("=")[1])
        low = max(-(-ds.Rows // (1 << n)), -(-ds.Columns // (1 << n)))
        return "1.2.840.10008.1.2.4.202" if low <= 64 else "1.2.840.10008.1.2.4.201"
    if codec == "htj2k-ojph":
        return "1.2.840.10008.1.2.4.201"
    return None


def values(ds, data):
    """Pixel values as DICOM means them: low BitsStored bits, sign-extended."""
    bs, signed = ds.BitsStored, ds.PixelRepresentation == 1
    a = np.frombuffer(data, dtype="<u1" if ds.BitsAllocated == 8 else "<u2").astype(np.int64)
    a &= (1 << bs) - 1
    if signed:
        a = np.where(a >> (bs - 1), a - (1 << bs), a)
    if ds.SamplesPerPixel == 3 and getattr(ds, "PlanarConfiguration", 0) == 1:
        a = a.reshape(-1, 3, ds.Rows * ds.Columns).transpose(0, 2, 1).reshape(-1)
    return a


def native(path, tmp):
    out = os.path.join(tmp, "native.dcm")
    subprocess.run(["gdcmconv", "--raw", path, out], check=True, capture_output=True)
    ds = pydicom.dcmread(out)
    return ds, values(ds, ds.PixelData)


def by_dicom_tool(tool, path, tmp):
    out = os.path.join(tmp, "tool.dcm")
    cmd = ["gdcmconv", "--raw", path, out] if tool == "gdcmconv" else [tool, path, out]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode:
        raise RuntimeError(f"{tool} failed on {path}: {p.stderr.strip()}")
    ds = pydicom.dcmread(out)
    return values(ds, ds.PixelData)


def by_codestream_tool(tool, path, ref_ds, tmp, signed):
    ds = pydicom.dcmread(path)
    frames = list(generate_pixel_data_frame(ds.PixelData, int(getattr(ds, "NumberOfFrames", 1) or 1)))
    out_all = []
    for f in frames:
        cs = os.path.join(tmp, "f.jxl" if tool == "djxl" else "f.j2c")
        with open(cs, "wb") as fh:
            fh.write(f)
        # ojph_expand writes colour that needs the inverse colour transform only as PPM.
        ppm = tool == "ojph_expand" and ds.SamplesPerPixel == 3
        pnm = ppm or tool == "djxl"
        out = os.path.join(tmp, "f.rawl" if tool == "opj_decompress" else
                           ("f.ppm" if ds.SamplesPerPixel == 3 else "f.pgm") if pnm else "f.raw")
        args = [tool, cs, out] if tool == "djxl" else [tool, "-i", cs, "-o", out]
        p = subprocess.run(args, capture_output=True, text=True)
        if p.returncode:
            raise RuntimeError(f"{tool} failed on {path}: {p.stderr.strip()[-300:]}")
        n = ds.Rows * ds.Columns
        if pnm:
            with open(out, "rb") as fh:
                data = fh.read()
            fields, pos = [], 0
            while len(fields) < 4:      # P6, width, height, maxval; then one whitespace
                while data[pos:pos + 1].isspace():
                    pos += 1
                start = pos
                while not data[pos:pos + 1].isspace():
                    pos += 1
                fields.append(data[start:pos])
            body = data[pos + 1:]
            dt = ">u2" if int(fields[3]) > 255 else "u1"
            raw = np.frombuffer(body, dtype=dt).astype(np.int64)   # interleaved already
            if tool == "djxl":
                # libjxl 0.7's PNM writer keeps maxval 2^BitsStored - 1 but writes the
                # samples scaled to 8 or 16 bits; the nearest BitsStored-bit value is exact.
                bmax, tmax = (1 << ds.BitsStored) - 1, 255 if int(fields[3]) <= 255 else 65535
                if int(fields[3]) != bmax:
                    raise RuntimeError(f"djxl wrote maxval {int(fields[3])}, not {bmax}")
                raw = (raw * bmax + tmax // 2) // tmax
        else:
            raw = np.fromfile(out, dtype="<u1" if ds.BitsStored <= 8 else "<u2").astype(np.int64)
            raw = raw.reshape(ds.SamplesPerPixel, n).T.reshape(-1)   # planar -> interleaved
        bs = ds.BitsStored
        raw &= (1 << bs) - 1
        if signed and tool in ("opj_decompress", "djxl"):
            raw = np.where(raw >> (bs - 1), raw - (1 << bs), raw)
        out_all.append(raw)
    return np.concatenate(out_all)


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: cli_xdecode.py RADPIPE CORPUS")
    radpipe, corpus = sys.argv[1], sys.argv[2]
    for t in ("gdcmconv", "opj_decompress", "ojph_expand", "dcmdrle", "dcmdjpeg", "djxl"):
        if not shutil.which(t):
            sys.exit(f"cli_xdecode: {t} missing: run scripts/install-deps.sh")
    for f in FILES:
        if not os.path.exists(os.path.join(corpus, f)):
            sys.exit(f"cli_xdecode: corpus file {f} missing under {corpus} (RADPIPE_CORPUS)")
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        for codec, tools in CODECS.items():
            outdir = os.path.join(tmp, codec)
            p = subprocess.run([radpipe, "compress", "-c", codec, "-q", "--no-verify",
                                "-o", outdir] + [os.path.join(corpus, f) for f in FILES],
                               capture_output=True, text=True)
            if p.returncode:
                print(f"FAIL radpipe compress -c {codec}: {p.stderr.strip()}")
                failures += 1
                continue
            for f in FILES:
                src = os.path.join(corpus, f)
                out = os.path.join(outdir, os.path.basename(f))
                if not os.path.exists(out):
                    # compress keeps paths relative to each input; a file input lands
                    # under its base name.
                    print(f"FAIL {codec} {f}: no output at {out}")
                    failures += 1
                    continue
                ref_ds, ref = native(src, tmp)
                signed = ref_ds.PixelRepresentation == 1
                want_ts = expected_ts(codec, ref_ds)
                ts = pydicom.dcmread(out, stop_before_pixels=True).file_meta.TransferSyntaxUID
                if want_ts and ts != want_ts:
                    print(f"FAIL {codec} {f}: transfer syntax {ts}, want {want_ts}")
                    failures += 1
                elif want_ts:
                    print(f"ok {codec} {f}: labelled {ts}")
                if ref_ds.SamplesPerPixel == 3:
                    # The colour transform must be declared, and only when applied.
                    pi = pydicom.dcmread(out, stop_before_pixels=True).PhotometricInterpretation
                    want_pi = "YBR_RCT" if codec.endswith(",rct") else ref_ds.PhotometricInterpretation
                    if pi != want_pi:
                        print(f"FAIL {codec} {f}: Photometric Interpretation {pi}, want {want_pi}")
                        failures += 1
                for tool in tools:
                    try:
                        if tool in ("opj_decompress", "ojph_expand", "djxl"):
                            got = by_codestream_tool(tool, out, ref_ds, tmp, signed)
                            # ojph_expand 0.9 writes negatives as 0.
                            want = np.maximum(ref, 0) if (tool == "ojph_expand" and signed) else ref
                        else:
                            got, want = by_dicom_tool(tool, out, tmp), ref
                    except RuntimeError as e:
                        print(f"FAIL {codec} {f}: {e}")
                        failures += 1
                        continue
                    if got.shape != want.shape or not np.array_equal(got, want):
                        d = np.abs(got - want).max() if got.shape == want.shape else "shape"
                        print(f"FAIL {codec} {f}: {tool} gives other pixels (max diff {d})")
                        failures += 1
                    else:
                        print(f"ok {codec} {f}: {tool} bit-exact")
    if failures:
        sys.exit(f"cli_xdecode: {failures} failure(s)")


if __name__ == "__main__":
    main()
