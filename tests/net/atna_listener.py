#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
# tests/net/atna_listener.py - an audit record repository for the tests: listens on
# 127.0.0.1:PORT (UDP, TCP with RFC 6587 octet counting, or TLS with the same framing and
# a client certificate required: RFC 5425), prints "ready", takes COUNT
# messages (30 s at most), and checks each against the expectation at the same index of
# the JSON list in EXPECT: the RFC 5424 header (PRI 85, version 1, timestamp, HOSTNAME,
# APP-NAME radpipe, PROCID, MSGID IHE+RFC-3881, no structured data) and the DICOM audit
# message parsed by xml.etree (EventID 110104, action, outcome, the participants' AE
# titles, roles and requestor flags, the Study Instance UID, SOP class and instance).
# An expectation with "file" takes its study, sop and sop_class from that DICOM file
# (pydicom: run this with /usr/bin/python3 then).
# Prints the first difference and exits 1, or "ok N" and 0.
# Usage: atna_listener.py udp|tcp PORT COUNT EXPECT.json
#        atna_listener.py tls PORT COUNT EXPECT.json CERT KEY CA
#        atna_listener.py tcp-close PORT COUNT EXPECT.json  (closes after each message)
import json
import re
import socket
import sys
import time
import xml.etree.ElementTree as ET

HEADER = re.compile(
    rb"^<(\d+)>1 (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) (\S+) (\S+) (\d+) (\S+) - ")


def receive(kind, port, count, tls=None):
    deadline = time.time() + 30
    one_per_conn = kind == "tcp-close"
    kind = "tcp" if one_per_conn else kind
    msgs = []
    if kind == "udp":
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", port))
        print("ready", flush=True)
        while len(msgs) < count and time.time() < deadline:
            s.settimeout(max(0.1, deadline - time.time()))
            try:
                msgs.append(s.recv(65536))
            except socket.timeout:
                break
        return msgs
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", port))
    ls.listen(4)
    print("ready", flush=True)
    ls.settimeout(30)
    conn, _ = ls.accept()
    if tls:
        import ssl
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(tls[0], tls[1])
        ctx.load_verify_locations(tls[2])
        ctx.verify_mode = ssl.CERT_REQUIRED
        conn.settimeout(30)
        try:
            conn = ctx.wrap_socket(conn, server_side=True)
        except (ssl.SSLError, OSError) as e:
            print("handshake failed: %s" % e, flush=True)
            raise SystemExit(2)
    buf = b""
    while len(msgs) < count and time.time() < deadline:
        # Octet counting: "LEN SP MSG", LEN in decimal without leading zeros.
        m = re.match(rb"^([1-9][0-9]*) ", buf)
        if m and len(buf) >= m.end() + int(m.group(1)):
            n = int(m.group(1))
            msgs.append(buf[m.end():m.end() + n])
            buf = buf[m.end() + n:]
            continue
        if len(buf) > 12 and not m:
            raise SystemExit("not octet-counted framing: %r" % buf[:40])
        conn.settimeout(max(0.1, deadline - time.time()))
        try:
            d = conn.recv(65536)
        except socket.timeout:
            break
        if not d:
            break
        buf += d
        if one_per_conn and re.match(rb"^([1-9][0-9]*) ", buf):
            m = re.match(rb"^([1-9][0-9]*) ", buf)
            if len(buf) >= m.end() + int(m.group(1)):
                # A repository that closes the connection after each message, as
                # an idle timeout does: the next message must come on a new one.
                msgs.append(buf[m.end():m.end() + int(m.group(1))])
                buf = b""
                conn.close()
                if len(msgs) < count:
                    conn, _ = ls.accept()
    return msgs


def check(msg, want):
    h = HEADER.match(msg)
    assert h, "not an RFC 5424 header: %r" % msg[:80]
    pri, ts, host, app, procid, msgid = h.groups()
    assert int(pri) == 10 * 8 + 5, "PRI %s, not authpriv.notice (85)" % pri
    assert host.decode() == want["host"], "HOSTNAME %s" % host
    assert app == b"radpipe", "APP-NAME %s" % app
    assert msgid == b"IHE+RFC-3881", "MSGID %s" % msgid
    root = ET.fromstring(msg[h.end():])
    assert root.tag == "AuditMessage", root.tag
    ei = root.find("EventIdentification")
    assert ei.get("EventActionCode") == want["action"], ei.attrib
    assert ei.get("EventOutcomeIndicator") == want["outcome"], ei.attrib
    assert ei.get("EventDateTime") == ts.decode(), "EventDateTime differs from the header"
    eid = ei.find("EventID")
    assert (eid.get("csd-code"), eid.get("codeSystemName")) == ("110104", "DCM"), eid.attrib
    if "detail" in want:
        assert ei.findtext("EventOutcomeDescription") == want["detail"], \
            ei.findtext("EventOutcomeDescription")
    parts = root.findall("ActiveParticipant")
    got = [(p.get("UserID"), p.get("UserIsRequestor"),
            p.find("RoleIDCode").get("csd-code"), p.get("NetworkAccessPointID"))
           for p in parts]
    assert got == [tuple(x) for x in want["participants"]], "participants %r" % got
    src = root.find("AuditSourceIdentification")
    assert src.get("AuditSourceID") == want["host"], src.attrib
    po = root.find("ParticipantObjectIdentification")
    assert po.get("ParticipantObjectID") == want["study"], po.attrib
    assert po.find("ParticipantObjectIDTypeCode").get("csd-code") == "110180"
    sc = po.find("SOPClass")
    assert sc.get("UID") == want["sop_class"], sc.attrib
    assert sc.get("NumberOfInstances") == "1"
    assert sc.find("Instance").get("UID") == want["sop"], sc.find("Instance").attrib
    if "sha256" in want:
        assert po.findtext("ParticipantObjectDescription") == "SHA-256 " + want["sha256"]


def main():
    kind, port, count, expect = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    with open(expect) as f:
        text = f.read()
    wants = json.loads(text) if text.strip() else []
    for w in wants:
        if "file" in w:
            import pydicom
            ds = pydicom.dcmread(w["file"], stop_before_pixels=True)
            w.update(study=ds.StudyInstanceUID, sop=ds.SOPInstanceUID,
                     sop_class=ds.SOPClassUID)
    msgs = receive(kind, port, count, sys.argv[5:8] if kind == "tls" else None)
    if len(msgs) != count:
        print("got %d message(s), expected %d" % (len(msgs), count))
        return 1
    for i, (m, w) in enumerate(zip(msgs, wants)):
        try:
            check(m, w)
        except (AssertionError, ET.ParseError, AttributeError) as e:
            print("message %d: %s\n%s" % (i, e, m.decode(errors="replace")))
            return 1
    print("ok %d" % count)
    return 0


if __name__ == "__main__":
    sys.exit(main())
