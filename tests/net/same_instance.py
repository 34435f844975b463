#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
# tests/net/same_instance.py - pydicom as the independent reader: A and B are the same
# instance if every data element outside the file meta group is equal (value bytes,
# nested sequences included; group lengths and trailing padding aside) and the pixel data
# bytes are identical.  Prints the first difference and exits 1 otherwise.
# Usage: same_instance.py A B
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


def main():
    a = pydicom.dcmread(sys.argv[1])
    b = pydicom.dcmread(sys.argv[2])
    if a.file_meta.TransferSyntaxUID != b.file_meta.TransferSyntaxUID:
        print("transfer syntax %s became %s" % (a.file_meta.TransferSyntaxUID,
                                                b.file_meta.TransferSyntaxUID))
        return 1
    ea, eb = dict(elements(a)), dict(elements(b))
    for tag in sorted(set(ea) | set(eb)):
        if ea.get(tag) != eb.get(tag):
            print("element %s differs: %.80r vs %.80r" % (tag, ea.get(tag), eb.get(tag)))
            return 1
    if "PixelData" in a and a.PixelData != b.PixelData:
        print("pixel data differs")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
