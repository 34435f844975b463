#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
# tests/transport/proxy.py - a test-only TCP proxy on 127.0.0.1 for fault injection:
# rate limiting (so a loopback transfer lasts long enough to be interrupted), cutting the
# Nth connection after some bytes, flipping one byte of the Nth connection's client->server
# flow, or stalling the Nth connection after some bytes: it stops forwarding either way
# but keeps the sockets open, as a dead route or a NAT that forgot the flow does.
# Connections are numbered from 1 in accept order.  Exits after --lifetime seconds.
import argparse
import os
import socket
import sys
import threading
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--target", required=True, help="HOST:PORT of the server")
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--rate", type=float, default=0, help="bytes/s over all connections")
    ap.add_argument("--cut-conn", type=int, default=0)
    ap.add_argument("--cut-after", type=int, default=0)
    ap.add_argument("--stall-conn", type=int, default=0)
    ap.add_argument("--stall-after", type=int, default=0)
    ap.add_argument("--flip-conn", type=int, default=0)
    ap.add_argument("--flip-at", type=int, default=0)
    ap.add_argument("--rcvbuf", type=int, default=0, help="small receive buffers, so a "
                    "stalled connection backs up into the sender quickly")
    ap.add_argument("--lifetime", type=float, default=120)
    a = ap.parse_args()
    host, port = a.target.rsplit(":", 1)
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if a.rcvbuf:
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, a.rcvbuf)
    ls.bind(("127.0.0.1", 0))
    ls.listen(64)
    tmp = a.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % ls.getsockname()[1])
    os.rename(tmp, a.port_file)

    lock = threading.Lock()
    budget = {"t": time.monotonic(), "tokens": 0.0}

    def throttle(n):
        if a.rate <= 0:
            return
        while True:
            with lock:
                now = time.monotonic()
                budget["tokens"] = min(a.rate * 0.1, budget["tokens"] + (now - budget["t"]) * a.rate)
                budget["t"] = now
                if budget["tokens"] >= n or budget["tokens"] >= a.rate * 0.05:
                    budget["tokens"] -= n
                    return
            time.sleep(0.005)

    stalled = set()

    def pump(src, dst, num, upstream, pair):
        seen = 0
        try:
            while True:
                if num in stalled:
                    time.sleep(a.lifetime)   # a black hole: nothing moves, nothing closes
                data = src.recv(65536)
                if not data:
                    break
                if upstream and num == a.stall_conn and seen + len(data) >= a.stall_after:
                    stalled.add(num)
                    print("proxy: stalled connection %d after %d bytes" % (num, seen),
                          file=sys.stderr, flush=True)
                    continue
                if upstream:
                    throttle(len(data))
                    if num == a.flip_conn and seen <= a.flip_at < seen + len(data):
                        b = bytearray(data)
                        b[a.flip_at - seen] ^= 0x5A
                        data = bytes(b)
                        print("proxy: flipped byte %d of connection %d" % (a.flip_at, num),
                              file=sys.stderr, flush=True)
                    if num == a.cut_conn and seen + len(data) >= a.cut_after:
                        keep = max(0, a.cut_after - seen)
                        dst.sendall(data[:keep])
                        print("proxy: cut connection %d after %d bytes" % (num, a.cut_after),
                              file=sys.stderr, flush=True)
                        break
                seen += len(data)
                dst.sendall(data)
        except OSError:
            pass
        for s in pair:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def serve():
        n = 0
        while True:
            c, _ = ls.accept()
            n += 1
            try:
                u = socket.create_connection((host, int(port)))
            except OSError:
                c.close()
                continue
            pair = (c, u)
            threading.Thread(target=pump, args=(c, u, n, True, pair), daemon=True).start()
            threading.Thread(target=pump, args=(u, c, n, False, pair), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    time.sleep(a.lifetime)


if __name__ == "__main__":
    main()
