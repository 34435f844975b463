#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
# tests/transport/rogue.py - a hostile client for the rejection tests: speaks just enough of
# docs/FORMAT.md (plain TCP) to send a crafted manifest, or sends garbage, then reports the
# server's answer.  Usage: rogue.py PORT traversal|garbage|oversize|unknown-join|hugelen
import hashlib
import os
import socket
import struct
import sys


def crc32c(data, crc=0):
    crc ^= 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def frame(ftype, payload):
    head = struct.pack("<IBBHI", 0x31465052, 1, ftype, 0, len(payload))
    return head + struct.pack("<I", crc32c(head + payload)) + payload


def manifest(paths_sizes):
    body = b""
    total = 0
    for p, size in paths_sizes:
        pb = p.encode()
        body += struct.pack("<H", len(pb)) + pb + struct.pack("<Q", size) + b"\x11" * 32
        body += b"\x00" * 4
        total += size
    return struct.pack("<IIIBBHQ", 0x314D5052, len(paths_sizes), 65536, 4, 1, 0, total) + body


def hello(session, index=0, count=1):
    return session + struct.pack("<IHH", 3, index, count)


def recv_frame(s):
    s.settimeout(10)
    head = b""
    while len(head) < 16:
        d = s.recv(16 - len(head))
        if not d:
            return None, b""
        head += d
    _, _, ftype, _, n, _ = struct.unpack("<IBBHII", head)
    body = b""
    while len(body) < n:
        d = s.recv(n - len(body))
        if not d:
            break
        body += d
    return ftype, body


def main():
    port, mode = int(sys.argv[1]), sys.argv[2]
    s = socket.create_connection(("127.0.0.1", port))
    if mode == "garbage":
        s.sendall(os.urandom(4096))
    elif mode == "hugelen":
        head = struct.pack("<IBBHI", 0x31465052, 1, 1, 0, 0xFFFFFFF0)
        s.sendall(head + struct.pack("<I", 0))
    elif mode == "unknown-join":
        s.sendall(frame(1, hello(b"\x42" * 16, 1, 2)))
    else:
        if mode == "traversal":
            m = manifest([("study/../../etc/passwd", 10)])
        elif mode == "oversize":
            m = manifest([("study/a.dcm", 1 << 50)])
        else:
            raise SystemExit("unknown mode " + mode)
        sid = hashlib.sha256(m).digest()[:16]
        s.sendall(frame(1, hello(sid)) + frame(3, m))
    try:
        ftype, body = recv_frame(s)
    except OSError as e:
        print("closed: %s" % e)
        return
    if ftype == 10:
        status, n = struct.unpack("<iH", body[:6])
        print("ERROR %d %s" % (status, body[6:6 + n].decode(errors="replace")))
    else:
        print("frame %s" % ftype)


if __name__ == "__main__":
    main()
