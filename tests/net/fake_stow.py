#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
# tests/net/fake_stow.py - a STOW-RS server on loopback that gives the answers a real PACS
# seldom does, chosen by the first path segment of the request (POST /MODE/studies):
#   record   keeps the request (DIR/request.hdr, DIR/request.bin) and answers 200 with
#            every instance in ReferencedSOPSequence
#   partial  202: the first instance in FailedSOPSequence (FailureReason 0xA700), the
#            second stored with WarningReason 0xB000, the others not named
#   xml      200 in DICOM XML: all stored but the last, failed with FailureReason 0x0110
#   junk     200, a DICOM JSON content type, a body that is not JSON
#   deep     200, JSON nested a million levels deep
#   huge     200, a 20 MiB JSON body
#   bare     "HTTP/1.1 200" with no header at all, junk until the connection closes
#   cut      200 with Content-Length 5000, 10 bytes of it, then the connection closed
#   busy     503
#   stall    reads the request and says nothing for 120 s (its own thread)
# Usage: fake_stow.py DIR; prints the port it listens on; exits by itself after 600 s.
import http.server
import io
import os
import re
import sys
import threading
import time

import pydicom

D = sys.argv[1]


def uids(body, ctype):
    m = re.search(r'boundary="?([^";]+)"?', ctype)
    out = []
    for part in body.split(b"--" + m.group(1).encode())[1:-1]:
        data = part.split(b"\r\n\r\n", 1)[1][:-2]
        ds = pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True)
        out.append((ds.SOPClassUID, ds.SOPInstanceUID))
    return out


def item(cls, uid, extra=""):
    return ('{"00081150":{"vr":"UI","Value":["%s"]},"00081155":{"vr":"UI","Value":["%s"]}%s}'
            % (cls, uid, extra))


def xml_item(uid, extra=""):
    return ('<Item number="1"><DicomAttribute tag="00081155" vr="UI" keyword="Referenced'
            'SOPInstanceUID"><Value number="1">%s</Value></DicomAttribute>%s</Item>'
            % (uid, extra))


class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def raw(self, data):
        self.wfile.write(data)
        self.wfile.flush()
        self.close_connection = True

    def answer(self, code, ctype, body):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        mode = self.path.split("/")[1]
        ctype = self.headers.get("Content-Type", "")
        if mode == "record":
            with open(D + "/request.hdr", "w") as f:
                f.write(str(self.headers))
            with open(D + "/request.bin", "wb") as f:
                f.write(body)
        js = "application/dicom+json"
        if mode in ("record", "partial", "xml"):
            got = uids(body, ctype)
        if mode == "record":
            items = ",".join(item(c, u) for c, u in got)
            self.answer(200, js, ('{"00081199":{"vr":"SQ","Value":[%s]}}' % items).encode())
        elif mode == "partial":
            failed = item(*got[0], ',"00081197":{"vr":"US","Value":[42752]}')
            stored = item(*got[1], ',"00081196":{"vr":"US","Value":[45056]}')
            self.answer(202, js, ('{"00081198":{"vr":"SQ","Value":[%s]},'
                                  '"00081199":{"vr":"SQ","Value":[%s]}}'
                                  % (failed, stored)).encode())
        elif mode == "xml":
            ok = "".join(xml_item(u) for _, u in got[:-1])
            bad = xml_item(got[-1][1], '<DicomAttribute tag="00081197" vr="US"><Value '
                           'number="1">272</Value></DicomAttribute>')
            self.answer(200, "application/dicom+xml; charset=utf-8",
                        ('<?xml version="1.0" encoding="UTF-8"?>\n<NativeDicomModel>'
                         '<DicomAttribute tag="00081199" vr="SQ">%s</DicomAttribute>'
                         '<DicomAttribute tag="00081198" vr="SQ">%s</DicomAttribute>'
                         '</NativeDicomModel>' % (ok, bad)).encode())
        elif mode == "junk":
            self.answer(200, js, b"\x00\xff<<not json {[\"00081199\":")
        elif mode == "deep":
            self.answer(200, js, b"[" * 1000000)
        elif mode == "huge":
            self.answer(200, js, b"{" + b" " * (20 << 20) + b"}")
        elif mode == "bare":
            self.raw(b"HTTP/1.1 200\r\n\r\n\x01\x02junk junk")
        elif mode == "stall":
            time.sleep(120)
        elif mode == "cut":
            self.raw(b"HTTP/1.1 200 OK\r\nContent-Type: application/dicom+json\r\n"
                     b"Content-Length: 5000\r\n\r\n{\"0008119")
        else:
            self.answer(503, "text/plain", b"busy")


srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
srv.daemon_threads = True
srv.handle_error = lambda *a: None   # a client that hangs up mid-answer is what some modes test
threading.Timer(600, lambda: os._exit(0)).start()
print(srv.server_address[1], flush=True)
srv.serve_forever()
