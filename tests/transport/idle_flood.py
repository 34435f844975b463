#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
# tests/transport/idle_flood.py HOST PORT COUNT SOURCES READY_FILE LIFETIME - opens COUNT
# TCP connections to HOST:PORT from SOURCES loopback addresses (127.0.0.2 ...), sends
# nothing, and holds them open for LIFETIME seconds: what anyone who can reach a
# receiver's port can do.  Writes READY_FILE once all are open.
import resource
import socket
import sys
import time

host, port, count, sources, ready, lifetime = sys.argv[1], int(sys.argv[2]), \
    int(sys.argv[3]), int(sys.argv[4]), sys.argv[5], float(sys.argv[6])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
want = count + 64
if soft < want:
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))
socks = []
opened = 0
for i in range(count):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.%d" % (2 + i % sources), 0))
    s.settimeout(5)
    try:
        s.connect((host, port))
        opened += 1
    except OSError:
        pass
    socks.append(s)
with open(ready + ".tmp", "w") as f:
    f.write("%d\n" % opened)
import os
os.rename(ready + ".tmp", ready)
time.sleep(lifetime)
