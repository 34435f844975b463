#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
# tests/net/same_instance.py - pydicom as the independent reader: A and B are the same
# instance if every data element outside the file meta group is equal (value bytes,
# nested sequences included; group lengths and trailing padding aside) and the pixel data
# bytes are identical, or, when B was decoded on its way (--decoded), its pixels are
# the ones A's decode to.  Prints the first difference and exits 1 otherwise.
# Usage: same_instance.py [--decoded] A B
import sys

import pydicom


def elements(ds, prefix=""):
    for el in ds:
        if el.tag.group == 0x0002 or el.tag.element == 0x0000 or el.tag == 0xFFFCFFFC:
            continue
        if el.VR == "SQ":
            yield prefix + str(el.tag), len(el.value)
            for i, item in enumerate(el.value):
                yield from elements(item, "%s%s[%d]." % (prefix, el.tag, i))
        else:
            yield prefix + str(el.tag), el.value


def pixels(ds):
    """Decoded sample bytes: native data as stored, encapsulated data through pydicom's
    decoders (or, when pydicom has none for the syntax, None)."""
    ts = ds.file_meta.TransferSyntaxUID
    if not ts.is_compressed:
        if not ts.is_little_endian:
            # Big endian (retired): the same samples in little endian byte order, as a
            # PACS that takes no big endian stores them.
            a = ds.pixel_array
            return a.astype(a.dtype.newbyteorder("<")).tobytes()
        return bytes(ds.PixelData)
    try:
        return ds.pixel_array.tobytes()
    except Exception:
        return None


def compare(path_a, path_b, keep_syntax=True):
    a = pydicom.dcmread(path_a)
    b = pydicom.dcmread(path_b)
    same_syntax = a.file_meta.TransferSyntaxUID == b.file_meta.TransferSyntaxUID
    if keep_syntax and not same_syntax:
        print("transfer syntax %s became %s" % (a.file_meta.TransferSyntaxUID,
                                                b.file_meta.TransferSyntaxUID))
        return 1
    # Pixel Data in another syntax is compared decoded, below.
    skip = set() if same_syntax else {str(pydicom.tag.Tag(0x7FE00010))}
    ea, eb = dict(elements(a)), dict(elements(b))
    for tag in sorted(set(ea) | set(eb)):
        if tag in skip:
            continue
        if ea.get(tag) != eb.get(tag):
            print("element %s differs: %.80r vs %.80r" % (tag, ea.get(tag), eb.get(tag)))
            return 1
    if "PixelData" in a:
        if same_syntax:
            if a.PixelData != b.PixelData:
                print("pixel data differs")
                return 1
        else:
            pa, pb = pixels(a), pixels(b)
            if pa is None or pb is None:
                print("cannot decode %s to compare pixels" % (path_a if pa is None else path_b))
                return 1
            if pa != pb:
                print("decoded pixels differ")
                return 1
    return 0


def main():
    args = sys.argv[1:]
    decoded = args and args[0] == "--decoded"
    if decoded:
        args = args[1:]
    return compare(args[0], args[1], keep_syntax=not decoded)


if __name__ == "__main__":
    sys.exit(main())
