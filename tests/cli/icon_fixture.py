# SPDX-License-Identifier: BSD-3-Clause
# tests/cli/icon_fixture.py - makes and reads the Icon Image Sequence (0088,0200) files
# of tests/cli/icon.sh with pydicom, an independent reader.  Everything it writes is
# made in the test's scratch directory from corpus files or from the gradient below.
#
#   mkicon OUT                      a native 64x64 8-bit MONOCHROME2 image (the icon)
#   addicon MAIN ICON MODE OUT      MAIN with an Icon Image Sequence holding ICON's image:
#                                   MODE enc (ICON's encapsulated Pixel Data as is),
#                                   native (ICON's native Pixel Data), garbage (an
#                                   encapsulated fragment no decoder accepts)
#   native-icon FILE ICON           FILE's icon is native, of ICON's attributes and pixels
#   same-icon A B                   the icon items of A and B hold the same elements
#   no-icon FILE                    FILE has no Icon Image Sequence
import sys

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

# pydicom 2.3 predates the HTJ2K syntaxes (PS3.6 A, 2023): name them so that it writes
# and reads HTJ2K files as the encapsulated files they are.
for _uid, _name in (("1.2.840.10008.1.2.4.201", "HTJ2K Lossless"),
                    ("1.2.840.10008.1.2.4.202", "HTJ2K with RPCL Options Lossless"),
                    ("1.2.840.10008.1.2.4.203", "HTJ2K")):
    pydicom.uid.UID_dictionary.setdefault(_uid, (_name, "Transfer Syntax", "", "", ""))

ICON_ATTRS = ("SamplesPerPixel", "PhotometricInterpretation", "Rows", "Columns",
              "BitsAllocated", "BitsStored", "HighBit", "PixelRepresentation")


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def mkicon(out):
    ds = Dataset()
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    ds.SOPInstanceUID = generate_uid()
    ds.StudyInstanceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.Modality = "OT"
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows = ds.Columns = 64
    ds.BitsAllocated = ds.BitsStored = 8
    ds.HighBit = 7
    ds.PixelRepresentation = 0
    y, x = np.mgrid[0:64, 0:64]
    ds.PixelData = ((x * 3 + y * 2 + (x * y) % 7) % 256).astype(np.uint8).tobytes()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.is_little_endian = True
    ds.is_implicit_VR = False
    ds.save_as(out, write_like_original=False)


def addicon(main, icon_path, mode, out):
    ds = pydicom.dcmread(main)
    icon = pydicom.dcmread(icon_path)
    item = Dataset()
    for kw in ICON_ATTRS:
        setattr(item, kw, getattr(icon, kw))
    if mode == "enc":
        if not icon["PixelData"].is_undefined_length:
            fail(icon_path + " does not hold encapsulated pixel data")
        item.PixelData = icon.PixelData
        item["PixelData"].VR = "OB"
        item["PixelData"].is_undefined_length = True
    elif mode == "garbage":
        item.PixelData = encapsulate([b"\xff\xd8\xff\xf7" + b"\x5a" * 60])
        item["PixelData"].VR = "OB"
        item["PixelData"].is_undefined_length = True
    else:
        item.PixelData = icon.PixelData
        item["PixelData"].VR = "OB"
    ds.IconImageSequence = Sequence([item])
    ds.save_as(out, write_like_original=True)


def the_icon(path):
    ds = pydicom.dcmread(path)
    if "IconImageSequence" not in ds or len(ds.IconImageSequence) != 1:
        fail(path + ": no Icon Image Sequence with one item")
    return ds, ds.IconImageSequence[0]


def native_icon(path, icon_path):
    ds, item = the_icon(path)
    icon = pydicom.dcmread(icon_path)
    for kw in ICON_ATTRS:
        if getattr(item, kw) != getattr(icon, kw):
            fail("%s: icon %s is %r, expected %r" % (path, kw, getattr(item, kw),
                                                     getattr(icon, kw)))
    px = item["PixelData"]
    if px.is_undefined_length:
        fail("%s (%s): the icon's pixel data is still encapsulated; a reader applies the "
             "file's transfer syntax to it" % (path, ds.file_meta.TransferSyntaxUID))
    if px.value != icon.PixelData:
        fail("%s: the icon's native pixels (%d bytes) differ from the original icon" %
             (path, len(px.value)))


def same_icon(a, b):
    _, ia = the_icon(a)
    _, ib = the_icon(b)
    ka = sorted(e.tag for e in ia)
    kb = sorted(e.tag for e in ib)
    if ka != kb:
        fail("%s and %s: icon items hold different elements" % (a, b))
    for tag in ka:
        ea, eb = ia[tag], ib[tag]
        if ea.value != eb.value or ea.is_undefined_length != eb.is_undefined_length:
            fail("%s and %s: icon element %s differs" % (a, b, ia[tag].keyword))


def no_icon(path):
    if "IconImageSequence" in pydicom.dcmread(path):
        fail(path + ": the Icon Image Sequence is still there")


def main(argv):
    cmds = {"mkicon": mkicon, "addicon": addicon, "native-icon": native_icon,
            "same-icon": same_icon, "no-icon": no_icon}
    if len(argv) < 2 or argv[1] not in cmds:
        fail("usage: icon_fixture.py " + "|".join(cmds) + " ARGS")
    cmds[argv[1]](*argv[2:])


if __name__ == "__main__":
    main(sys.argv)
