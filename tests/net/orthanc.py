#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
# tests/net/orthanc.py - a real Orthanc (Debian's) as the reading site's PACS, on loopback
# ports with its own configuration and storage directory, checked through its REST API.
#   orthanc.py start DIR HTTP_PORT DICOM_PORT   config in DIR, prints Orthanc's pid once
#                                               its REST API answers
#   orthanc.py check HTTP_PORT FILE...          each FILE's instance is in Orthanc (by
#                                               SOP Instance UID), once, and pydicom finds
#                                               every attribute and the pixels equal
#   orthanc.py count HTTP_PORT                  number of instances stored
# With ORTHANC_USERS=user:password in the environment, start turns HTTP authentication on
# with that one user, and every command authenticates as it.
import base64
import json
import os
import subprocess
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def get(port, path, data=None):
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path), data=data)
    if os.environ.get("ORTHANC_USERS"):
        req.add_header("Authorization", "Basic " +
                       base64.b64encode(os.environ["ORTHANC_USERS"].encode()).decode())
    with urllib.request.urlopen(req, timeout=30) as r:
        return r.read()


def start(d, http, dicom):
    os.makedirs(d + "/db", exist_ok=True)
    cfg = {
        "Name": "radpipe-test", "StorageDirectory": d + "/db", "IndexDirectory": d + "/db",
        "HttpPort": http, "DicomPort": dicom, "DicomAet": "ORTHANC",
        "RemoteAccessAllowed": False, "AuthenticationEnabled": False,
        "DicomAlwaysAllowStore": True, "DicomCheckCalledAet": False,
        "Plugins": ["/usr/share/orthanc/plugins/libOrthancDicomWeb.so"],
        "DicomWeb": {"Enable": True, "Root": "/dicom-web/"},
        "StableAge": 1, "LogExportedResources": False,
    }
    if os.environ.get("ORTHANC_USERS"):
        user, password = os.environ["ORTHANC_USERS"].split(":", 1)
        cfg["AuthenticationEnabled"] = True
        cfg["RegisteredUsers"] = {user: password}
    with open(d + "/orthanc.json", "w") as f:
        json.dump(cfg, f)
    log = open(d + "/orthanc.log", "w")
    p = subprocess.Popen(["Orthanc", d + "/orthanc.json"], stdout=log, stderr=log,
                         start_new_session=True)
    for _ in range(300):
        try:
            get(http, "/system")
            print(p.pid)
            return 0
        except Exception:
            if p.poll() is not None:
                sys.stderr.write(open(d + "/orthanc.log").read()[-2000:])
                return 1
            time.sleep(0.1)
    return 1


def check(http, files):
    import pydicom
    import same_instance
    for f in files:
        sop = pydicom.dcmread(f, stop_before_pixels=True).SOPInstanceUID
        found = json.loads(get(http, "/tools/lookup", sop.encode()))
        inst = [x for x in found if x["Type"] == "Instance"]
        if len(inst) != 1:
            print("%s: %d instances with SOP Instance UID %s in Orthanc" % (f, len(inst), sop))
            return 1
        stored = "/tmp/orthanc-%d-%s.dcm" % (os.getpid(), inst[0]["ID"])
        with open(stored, "wb") as out:
            out.write(get(http, "/instances/%s/file" % inst[0]["ID"]))
        rc = same_instance.compare(f, stored, keep_syntax=False)
        os.unlink(stored)
        if rc:
            print("%s: differs from what Orthanc stored" % f)
            return 1
    return 0


def main():
    cmd = sys.argv[1]
    if cmd == "start":
        return start(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    if cmd == "check":
        return check(int(sys.argv[2]), sys.argv[3:])
    if cmd == "count":
        print(len(json.loads(get(int(sys.argv[2]), "/instances"))))
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
