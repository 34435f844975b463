#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
# tests/net/raw_store.py - a hostile modality: C-STOREs whose dataset bytes we choose,
# sent over one association (stdlib only: the DICOM upper layer of PS3.8 written out), to
# show what the SCP answers to a dataset that a real storescu would never send.
# Usage: raw_store.py PORT FILE:MODE [FILE:MODE...]
#   MODE: whole | truncated (first half of the dataset) | garbage (random bytes) |
#         high (whole, with C-STORE Priority HIGH)
# Prints one line "STATUS 0xNNNN" per C-STORE; exits 1 if the association fails.
import os
import socket
import struct
import sys

EXPLICIT_LE = b"1.2.840.10008.1.2.1"
IMPLICIT_LE = b"1.2.840.10008.1.2"


def pad(uid):
    return uid + (b"\0" if len(uid) % 2 else b"")


def item(t, body):
    return struct.pack(">BBH", t, 0, len(body)) + body


def associate_rq(sop_classes):
    ctx = b""
    for i, uid in enumerate(sop_classes):
        body = struct.pack(">BBBB", 2 * i + 1, 0, 0, 0) + item(0x30, uid) + item(0x40, EXPLICIT_LE)
        ctx += item(0x20, body)
    user = item(0x50, item(0x51, struct.pack(">I", 16384)) + item(0x52, b"1.2.3.4"))
    body = (struct.pack(">HH", 1, 0) + b"RADPIPE".ljust(16) + b"RAWSCU".ljust(16) + b"\0" * 32
            + item(0x10, b"1.2.840.10008.3.1.1.1") + ctx + user)
    return struct.pack(">BBI", 1, 0, len(body)) + body


def recv_exact(s, n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            raise EOFError("connection closed")
        b += c
    return b


def recv_pdu(s):
    t, _, n = struct.unpack(">BBI", recv_exact(s, 6))
    return t, recv_exact(s, n)


def el(group, elem, value):
    return struct.pack("<HHI", group, elem, len(value)) + value


def command(sop_class, sop_inst, msg_id, priority=0):
    body = (el(0, 2, pad(sop_class)) + el(0, 0x100, struct.pack("<H", 1))
            + el(0, 0x110, struct.pack("<H", msg_id)) + el(0, 0x700, struct.pack("<H", priority))
            + el(0, 0x800, struct.pack("<H", 0)) + el(0, 0x1000, pad(sop_inst)))
    return el(0, 0, struct.pack("<I", len(body))) + body


def pdata(ctx_id, flags, data):
    pdv = struct.pack(">IBB", len(data) + 2, ctx_id, flags) + data
    return struct.pack(">BBI", 4, 0, len(pdv)) + pdv


def dataset_and_uids(path):
    """The dataset bytes after the meta group, and its SOP Class / Instance UIDs."""
    b = open(path, "rb").read()
    assert b[128:132] == b"DICM"
    glen = struct.unpack("<I", b[140:144])[0]
    meta, ds = b[144:144 + glen], b[144 + glen:]
    uids, i = {}, 0
    while i < len(meta):
        g, e, vr = struct.unpack("<HH2s", meta[i:i + 6])
        if vr in (b"OB", b"OW", b"UN", b"SQ", b"UT"):
            n = struct.unpack("<I", meta[i + 8:i + 12])[0]
            v, i = meta[i + 12:i + 12 + n], i + 12 + n
        else:
            n = struct.unpack("<H", meta[i + 6:i + 8])[0]
            v, i = meta[i + 8:i + 8 + n], i + 8 + n
        uids[(g, e)] = v.rstrip(b"\0 ")
    return ds, uids[(2, 2)], uids[(2, 3)], uids[(2, 0x10)]


def main():
    port = int(sys.argv[1])
    jobs = []
    for arg in sys.argv[2:]:
        path, mode = arg.rsplit(":", 1)
        ds, cls, inst, ts = dataset_and_uids(path)
        assert ts == EXPLICIT_LE, "%s: the raw client sends explicit VR little endian only" % path
        if mode == "truncated":
            ds = ds[:(len(ds) // 2) & ~1]
        elif mode == "garbage":
            ds = os.urandom((len(ds) // 4) & ~1)
        jobs.append((cls, inst, ds, 1 if mode == "high" else 0))
    classes = sorted({j[0] for j in jobs})
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    s.sendall(associate_rq(classes))
    t, body = recv_pdu(s)
    if t != 2:
        print("association rejected (PDU type %d)" % t)
        return 1
    for n, (cls, inst, ds, prio) in enumerate(jobs, 1):
        ctx = 2 * classes.index(cls) + 1
        s.sendall(pdata(ctx, 0x03, command(cls, inst, n, prio)))
        for off in range(0, max(len(ds), 1), 16000):
            chunk = ds[off:off + 16000]
            s.sendall(pdata(ctx, 0x02 if off + 16000 >= len(ds) else 0x00, chunk))
        t, body = recv_pdu(s)
        if t != 4:
            print("no response (PDU type %d)" % t)
            return 1
        cmd = body[6:]
        status = None
        i = 0
        while i + 8 <= len(cmd):
            g, e, n = struct.unpack("<HHI", cmd[i:i + 8])
            if (g, e) == (0, 0x900):
                status = struct.unpack("<H", cmd[i + 8:i + 10])[0]
            i += 8 + n
        print("STATUS 0x%04X" % status)
    s.sendall(struct.pack(">BBI", 5, 0, 4) + b"\0" * 4)   # A-RELEASE-RQ
    recv_pdu(s)
    s.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
