#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
# bench/wan/stat_preempt.py - STAT preemption across the emulated hospital link: a
# `radpipe gateway` at site A is busy sending a ~1 GB routine CT study to `radpipe serve`
# at site B over 200 Mbit/s / 100 ms (wanemu, bench/wan/README.md) when a 20-slice STAT
# study arrives from the modality (DCMTK storescu).  The gateway must stop the routine
# send, send the STAT study, and resume the routine one.  Measured: the time from the
# STAT study's last C-STORE to the moment the whole study appears at site B (radpipe
# serve delivers a study atomically, so its directory appearing is its arrival).
#
#   sudo bench/wan/stat_preempt.py --radpipe build/radpipe --wanemu build/bench/wan/wanemu
#
# Passes when that time <= 5 s + the STAT study's own transfer time (its bytes / the
# link's TCP payload ceiling), with the routine send under way when the STAT study came,
# preempted (gateway log `send_preempted`) and, unless --no-wait-routine, later resumed
# (receiver log `"state":"resumed"`) and delivered whole.  Both studies are checked at
# site B data set for data set (C-STORE rewrites the file meta group, never the data set).
#
# The STAT study is marked by its StudyDescription and the gateway's `--stat` rule: this
# DCMTK's storescu cannot set the C-STORE priority.  The gateway runs with its defaults:
# a routine study is sent after 10 s without a new instance, a STAT study after 2 s
# (`--stat-quiet`), which is part of what is measured here (the figures show it apart).  Frames travel native by default (`--codec`): on a 2-core
# machine the JPEG-LS encoder, not the link, limits a 1 GB send (README), and the point
# here is a link busy with the routine study.
#
# Exit 0 pass, 1 fail, 77 skipped: this machine cannot create network namespaces (not
# root, no /dev/net/tun, no iproute2) or has no storescu.  Everything runs in two
# namespaces this script creates and removes, also on SIGINT/SIGTERM.
import argparse
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(os.path.dirname(HERE))
ADDR_B = "198.18.0.2"
RADPIPE_PORT = 7600
DICOM_PORT = 11112
MSS_FRACTION = 1448.0 / 1500.0          # TCP payload per IP byte at MTU 1500
STAT_DESCRIPTION = "STAT CODE STROKE HEAD"
STAT_SOURCE = "ct/dcm_qa_ct_GE_HiSpeedDual"

LIVE = []
CLEANUPS = []


def log(msg):
    print(msg, flush=True)


def skip(msg):
    log("SKIP: stat_preempt: " + msg)
    sys.exit(77)


def sh(cmd, check=True, **kw):
    return subprocess.run(cmd, check=check, capture_output=True, text=True, **kw)


def start(cmd, out):
    f = open(out, "ab")
    p = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT, start_new_session=True)
    f.close()
    LIVE.append(p)
    return p


def stop(p, grace=5.0):
    if p is None or p.poll() is not None:
        return
    try:
        os.killpg(p.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        p.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        p.wait()


def cleanup():
    while CLEANUPS:
        try:
            CLEANUPS.pop()()
        except Exception as e:  # cleanup goes on whatever one step does
            log("stat_preempt: cleanup: %s" % e)


def dataset_offset(path):
    """Offset of the data set after a Part-10 file meta group (PS3.10 7.1), or 0."""
    with open(path, "rb") as f:
        head = f.read(132 + 8192)
    if len(head) < 132 + 12 or head[128:132] != b"DICM":
        return 0
    p = 132
    while p + 8 <= len(head):
        if int.from_bytes(head[p:p + 2], "little") != 0x0002:
            return p
        vr = head[p + 4:p + 6]
        if vr in (b"OB", b"OW", b"OF", b"SQ", b"UT", b"UN", b"UC", b"UR", b"OD", b"OL", b"OV"):
            p += 12 + int.from_bytes(head[p + 8:p + 12], "little")
        else:
            p += 8 + int.from_bytes(head[p + 6:p + 8], "little")
    return 0


def dataset_sha(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        f.seek(dataset_offset(path))
        for b in iter(lambda: f.read(1 << 20), b""):
            h.update(b)
    return h.hexdigest()


def study_index(d):
    """{data set SHA-256: count} and total bytes of the Part 10 files in d."""
    want, total = {}, 0
    for n in sorted(os.listdir(d)):
        p = os.path.join(d, n)
        h = dataset_sha(p)
        want[h] = want.get(h, 0) + 1
        total += os.path.getsize(p)
    return want, total


def check_delivered(want, got_dir):
    """Missing and stray counts of got_dir's files against want ({sha: count})."""
    left = dict(want)
    stray = 0
    for root, dirs, names in os.walk(got_dir):
        dirs[:] = [x for x in dirs if not x.startswith(".")]
        for n in names:
            h = dataset_sha(os.path.join(root, n))
            if left.get(h):
                left[h] -= 1
            else:
                stray += 1
    return sum(left.values()), stray


def make_stat_study(corpus, out, slices):
    """`slices` real CT slices with new Study/Series/SOP Instance UIDs and a STAT
    StudyDescription; returns the Study Instance UID."""
    import pydicom
    from pydicom.uid import generate_uid
    src = os.path.join(corpus, STAT_SOURCE)
    names = sorted(os.listdir(src))[:slices]
    if len(names) < slices:
        raise SystemExit("stat_preempt: %s has fewer than %d slices" % (src, slices))
    study = generate_uid(entropy_srcs=["radpipe-stat-preempt", "study"])
    series = generate_uid(entropy_srcs=["radpipe-stat-preempt", "series"])
    os.makedirs(out)
    for i, n in enumerate(names):
        ds = pydicom.dcmread(os.path.join(src, n))
        sop = generate_uid(entropy_srcs=["radpipe-stat-preempt", "sop", str(i)])
        ds.SOPInstanceUID = sop
        ds.file_meta.MediaStorageSOPInstanceUID = sop
        ds.StudyInstanceUID = study
        ds.SeriesInstanceUID = series
        ds.StudyDescription = STAT_DESCRIPTION
        ds.save_as(os.path.join(out, "STAT%03d.dcm" % (i + 1)), write_like_original=True)
    return study


def study_uid_of(path):
    import pydicom
    return str(pydicom.dcmread(path, stop_before_pixels=True).StudyInstanceUID)


def wanemu_stats(ctl):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect(ctl)
    s.sendall(b"stats\n")
    data = b""
    while True:
        c = s.recv(65536)
        if not c:
            break
        data += c
    s.close()
    return json.loads(data)


def log_events(path):
    out = []
    try:
        with open(path) as f:
            for line in f:
                line = line.strip()
                if line.startswith("{"):
                    try:
                        out.append(json.loads(line))
                    except ValueError:
                        pass
    except OSError:
        pass
    return out


def first_event(path, event, **match):
    for e in log_events(path):
        if e.get("event") == event and all(str(e.get(k)) == str(v) for k, v in match.items()):
            return e
    return None


def wait_for(cond, limit, what, step=0.05):
    t = time.monotonic() + limit
    while time.monotonic() < t:
        r = cond()
        if r:
            return r
        time.sleep(step)
    raise RuntimeError("timed out after %.0f s waiting for %s" % (limit, what))


def main():
    ap = argparse.ArgumentParser(description="STAT preemption through radpipe gateway "
                                 "across the emulated WAN link (see the header)")
    ap.add_argument("--radpipe", required=True)
    ap.add_argument("--wanemu", required=True)
    ap.add_argument("--netns", default=os.path.join(HERE, "netns.sh"))
    ap.add_argument("--corpus", default=os.environ.get("RADPIPE_CORPUS",
                                                       os.path.join(SRC, "corpus")))
    ap.add_argument("--rate", type=float, default=200.0, help="Mbit/s")
    ap.add_argument("--rtt", type=float, default=100.0, help="ms")
    ap.add_argument("--loss", type=float, default=0.0, help="%% per direction")
    ap.add_argument("--synth-mb", type=float, default=1000.0, help="routine study size")
    ap.add_argument("--stat-slices", type=int, default=20)
    ap.add_argument("--codec", default="native")
    ap.add_argument("--study-quiet", type=float, default=None,
                    help="routine quiet time (default: the gateway's, 10 s)")
    ap.add_argument("--stat-quiet", type=float, default=None,
                    help="STAT quiet time (default: the gateway's, 2 s)")
    ap.add_argument("--routine-busy-mb", type=float, default=100.0,
                    help="push the STAT study once the routine send put this much on the link")
    ap.add_argument("--budget-s", type=float, default=5.0)
    ap.add_argument("--no-wait-routine", action="store_true",
                    help="do not wait for the routine study to be resumed and delivered")
    ap.add_argument("--keep", metavar="DIR", help="work in DIR and keep it (logs, studies)")
    args = ap.parse_args()

    for b in (args.radpipe, args.wanemu):
        if not os.access(b, os.X_OK):
            log("FAIL: stat_preempt: %s is not an executable" % b)
            return 1
    if os.geteuid() != 0:
        skip("not running as root")
    if not os.path.exists("/dev/net/tun"):
        skip("/dev/net/tun is missing")
    if not shutil.which("storescu"):
        skip("no storescu (dcmtk)")
    tag = "sp%d" % os.getpid()
    try:
        p = sh(["ip", "netns", "add", "rpwan-probe-" + tag], check=False)
    except FileNotFoundError:
        skip("the `ip` command (iproute2) is not installed")
    if p.returncode != 0:
        skip("`ip netns add` failed: " + p.stderr.strip())
    sh(["ip", "netns", "del", "rpwan-probe-" + tag], check=False)
    if sh([args.radpipe, "gateway", "--help"], check=False).returncode != 0:
        log("FAIL: stat_preempt: `%s gateway --help` fails: no gateway in this build"
            % args.radpipe)
        return 1

    work = args.keep or "/tmp/rpwan-%s" % tag
    if args.keep:
        shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    if not args.keep:
        CLEANUPS.append(lambda: shutil.rmtree(work, ignore_errors=True))

    def on_signal(signum, frame):
        log("stat_preempt: interrupted (signal %d); cleaning up" % signum)
        cleanup()
        os._exit(1)
    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, on_signal)
    try:
        return run(args, tag, work)
    except (RuntimeError, subprocess.CalledProcessError) as e:
        detail = getattr(e, "stderr", None)
        log("FAIL: stat_preempt: %s%s" % (e, (": " + detail.strip()) if detail else ""))
        for f in ("gateway.log", "serve.log", "gateway.out", "serve.out"):
            p = os.path.join(work, f)
            if os.path.exists(p):
                with open(p, errors="replace") as fh:
                    tail = fh.read().splitlines()[-12:]
                log("--- %s (last lines)\n%s" % (f, "\n".join(tail)))
        return 1
    finally:
        cleanup()


def run(args, tag, work):
    nsa, nsb = "rpwan-%s-a" % tag, "rpwan-%s-b" % tag
    ns_a = ["ip", "netns", "exec", nsa]
    ns_b = ["ip", "netns", "exec", nsb]

    # ---- the studies
    t = time.monotonic()
    routine = os.path.join(work, "routine")
    sh(["/usr/bin/python3", os.path.join(SRC, "scripts", "synth-study.py"), "--out", routine,
        "--size-mb", str(args.synth_mb), "--corpus", args.corpus,
        "--seed", "radpipe-stat-preempt-routine"])
    stat = os.path.join(work, "stat")
    stat_uid = make_stat_study(args.corpus, stat, args.stat_slices)
    routine_uid = study_uid_of(os.path.join(routine, sorted(os.listdir(routine))[0]))
    routine_want, routine_bytes = study_index(routine)
    stat_want, stat_bytes = study_index(stat)
    log("# studies: routine %d files, %.1f MB; STAT %d files, %.1f MB (made in %.0f s)"
        % (sum(routine_want.values()), routine_bytes / 1e6, sum(stat_want.values()),
           stat_bytes / 1e6, time.monotonic() - t))

    # ---- the link
    sh(["sh", args.netns, "up", tag])
    CLEANUPS.append(lambda: sh(["sh", args.netns, "down", tag], check=False))
    avail = open("/proc/sys/net/ipv4/tcp_available_congestion_control").read().split()
    if "bbr" not in avail:
        sh(["modprobe", "tcp_bbr"], check=False)
        avail = open("/proc/sys/net/ipv4/tcp_available_congestion_control").read().split()
    cc = "bbr" if "bbr" in avail else "cubic"
    # A namespace may only pick an algorithm on the host's allowed list: widen it for the
    # run, restore it after (as bench/wan/run does).
    allowed_path = "/proc/sys/net/ipv4/tcp_allowed_congestion_control"
    allowed = open(allowed_path).read().split()
    if cc not in allowed:
        with open(allowed_path, "w") as f:
            f.write(" ".join(allowed + [cc]))

        def restore(orig=" ".join(allowed)):
            with open(allowed_path, "w") as f:
                f.write(orig)
        CLEANUPS.append(restore)
    for ns in (nsa, nsb):
        sh(["ip", "netns", "exec", ns, "sysctl", "-q", "-w",
            "net.ipv4.tcp_congestion_control=" + cc])
    ctl = os.path.join(work, "wanemu.sock")
    emu = start([args.wanemu, "--ns-a", nsa, "--dev-a", "wan0", "--ns-b", nsb, "--dev-b",
                 "wan0", "--rate", str(args.rate), "--rtt", str(args.rtt), "--loss",
                 str(args.loss), "--ctl", ctl, "--duration", "3600"],
                os.path.join(work, "wanemu.log"))
    CLEANUPS.append(lambda: stop(emu))
    wait_for(lambda: os.path.exists(ctl), 10, "wanemu's control socket")
    ceiling = args.rate * 1e6 / 8 * MSS_FRACTION      # TCP payload bytes per second

    # ---- PKI, the far site, the gateway
    pki = os.path.join(work, "pki")
    os.makedirs(pki)
    sh([args.radpipe, "keygen", "--ca", pki])
    sh([args.radpipe, "keygen", "--ca", pki, "siteA", pki])
    # Site B's certificate names its address (198.18.0.2) so the gateway verifies it
    # against the CA like a site would; keygen's certificates name hosts and loopback.
    kb, cb = os.path.join(pki, "siteB.key"), os.path.join(pki, "siteB.pem")
    sh(["openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
        "-nodes", "-keyout", kb, "-subj", "/CN=siteB", "-out", os.path.join(pki, "b.csr")])
    with open(os.path.join(pki, "b.ext"), "w") as f:
        f.write("subjectAltName=IP:%s\nextendedKeyUsage=serverAuth,clientAuth\n" % ADDR_B)
    sh(["openssl", "x509", "-req", "-in", os.path.join(pki, "b.csr"), "-CA",
        os.path.join(pki, "ca.pem"), "-CAkey", os.path.join(pki, "ca.key"),
        "-CAcreateserial", "-days", "2", "-extfile", os.path.join(pki, "b.ext"), "-out", cb])
    rx = os.path.join(work, "rx")
    os.makedirs(rx)
    serve_log = os.path.join(work, "serve.log")
    srv = start(ns_b + [args.radpipe, "serve", "--dir", rx, "--listen",
                        "%s:%d" % (ADDR_B, RADPIPE_PORT), "--log", serve_log, "-q",
                        "--cert", os.path.join(pki, "siteB.pem"),
                        "--key", os.path.join(pki, "siteB.key"),
                        "--ca", os.path.join(pki, "ca.pem")],
                os.path.join(work, "serve.out"))
    CLEANUPS.append(lambda: stop(srv))
    wait_for(lambda: "LISTEN" in sh(ns_b + ["ss", "-ltn", "sport = :%d" % RADPIPE_PORT],
                                    check=False).stdout, 20, "radpipe serve to listen")
    spool = os.path.join(work, "spool")
    gw_log = os.path.join(work, "gateway.log")
    gw_cmd = ns_a + [args.radpipe, "gateway", "--dicom", "GW@127.0.0.1:%d" % DICOM_PORT,
                     "--to", "%s:%d" % (ADDR_B, RADPIPE_PORT), "--spool", spool,
                     "--log", gw_log, "-q", "-c", args.codec,
                     "--stat", "StudyDescription=STAT*",
                     "--cert", os.path.join(pki, "siteA.pem"),
                     "--key", os.path.join(pki, "siteA.key"),
                     "--ca", os.path.join(pki, "ca.pem")]
    if args.study_quiet is not None:
        gw_cmd += ["--study-quiet", "%g" % args.study_quiet]
    if args.stat_quiet is not None:
        gw_cmd += ["--stat-quiet", "%g" % args.stat_quiet]
    gw = start(gw_cmd, os.path.join(work, "gateway.out"))
    CLEANUPS.append(lambda: stop(gw))
    wait_for(lambda: gw.poll() is not None or sh(
        ns_a + ["echoscu", "-aet", "PROBE", "127.0.0.1", str(DICOM_PORT)],
        check=False).returncode == 0, 30, "the gateway's SCP to answer C-ECHO", step=0.2)
    if gw.poll() is not None:
        raise RuntimeError("the gateway exited (%s); see gateway.out" % gw.returncode)

    # ---- the routine study, then the STAT one while the routine send is busy
    t = time.monotonic()
    sh(ns_a + ["storescu", "-aet", "CT_ROUTINE", "+sd", "127.0.0.1", str(DICOM_PORT),
               routine], timeout=1800)
    log("# routine study stored at the gateway by storescu in %.1f s" % (time.monotonic() - t))
    start_ev = wait_for(lambda: first_event(gw_log, "send_start", study=routine_uid),
                        (args.study_quiet if args.study_quiet is not None else 10) + 60,
                        "the routine send to start")
    base = wanemu_stats(ctl)["ab"]["out_bytes"]
    busy = args.routine_busy_mb * 1e6

    def routine_busy():
        bad = first_event(gw_log, "send_failed", study=routine_uid)
        if bad:
            raise RuntimeError("the routine send failed: %s" % bad.get("reason"))
        return wanemu_stats(ctl)["ab"]["out_bytes"] - base >= busy
    wait_for(routine_busy,
             busy / ceiling * 4 + 60, "the routine send to put %.0f MB on the link"
             % args.routine_busy_mb, step=0.2)
    if first_event(gw_log, "delivered", study=routine_uid):
        raise RuntimeError("the routine study was delivered before the STAT one came: "
                           "nothing to preempt (make --synth-mb larger)")
    t_push = time.time()
    sh(ns_a + ["storescu", "-aet", "CT_STAT", "+sd", "127.0.0.1", str(DICOM_PORT), stat],
       timeout=300)
    t_last = time.time()          # storescu returns after the last C-STORE response
    stat_dir = os.path.join(rx, stat_uid)
    wait_for(lambda: os.path.isdir(stat_dir), 300, "the STAT study at site B", step=0.01)
    t_arrive = time.time()
    routine_done_early = first_event(gw_log, "delivered", study=routine_uid)
    latency = t_arrive - t_last
    own = stat_bytes / ceiling
    limit = args.budget_s + own
    pre = first_event(gw_log, "send_preempted", study=routine_uid)
    st_start = first_event(gw_log, "send_start", study=stat_uid)
    log("# STAT: %d C-STOREs in %.2f s; from the last one to arrival at site B: %.2f s "
        "(limit %.2f s = %.1f + %.2f s for %.1f MB at the %.1f MB/s TCP payload ceiling)"
        % (args.stat_slices, t_last - t_push, latency, limit, args.budget_s, own,
           stat_bytes / 1e6, ceiling / 1e6))
    if pre and st_start:
        log("#   of which: quiet time %.1f s (--stat-quiet), routine send preempted %.2f s "
            "after the last C-STORE, STAT send started at %.2f s, transfer + delivery %.2f s"
            % (args.stat_quiet if args.stat_quiet is not None else 2.0,
               pre["ts"] - t_last, st_start["ts"] - t_last,
               t_arrive - st_start["ts"]))
    missing, stray = check_delivered(stat_want, stat_dir)
    fails = []
    if missing or stray:
        fails.append("STAT study at site B: %d files missing, %d not from the study"
                     % (missing, stray))
    if latency > limit:
        fails.append("STAT study took %.2f s from its last C-STORE (limit %.2f s)"
                     % (latency, limit))
    if not pre:
        fails.append("the gateway logged no send_preempted for the routine study")
    if routine_done_early:
        fails.append("the routine study was delivered before the STAT one arrived: "
                     "nothing was preempted")
    if st_start and start_ev and st_start["ts"] < start_ev["ts"]:
        fails.append("the STAT send started before the routine one")

    # ---- the routine study resumes and arrives whole
    if not args.no_wait_routine:
        remaining = routine_bytes / ceiling * 3 + 120
        wait_for(lambda: first_event(gw_log, "delivered", study=routine_uid) or
                 first_event(gw_log, "study_failed", study=routine_uid),
                 remaining, "the routine study to be delivered", step=0.5)
        t_r = time.time()
        if first_event(gw_log, "study_failed", study=routine_uid):
            fails.append("the routine study failed: %s"
                         % first_event(gw_log, "study_failed", study=routine_uid))
        else:
            missing, stray = check_delivered(routine_want, os.path.join(rx, routine_uid))
            resumed = [e for e in log_events(serve_log) if e.get("event") == "session_start"
                       and e.get("state") == "resumed"]
            log("# routine: delivered %.1f s after the STAT study; %d files missing, %d "
                "stray; receiver sessions resumed: %d" % (t_r - t_arrive, missing, stray,
                                                         len(resumed)))
            if missing or stray:
                fails.append("routine study at site B: %d files missing, %d stray"
                             % (missing, stray))
            if not resumed:
                fails.append("the routine send was not resumed (no session_start with "
                             "state resumed at the receiver)")
    emu_s = wanemu_stats(ctl)
    log("# link: %.0f Mbit/s, %.0f ms RTT, %.2f%% loss, %s; emulator drops: loss %d, queue %d"
        % (args.rate, args.rtt, args.loss, cc, emu_s["ab"]["drop_loss"],
           emu_s["ab"]["drop_queue"]))
    result = {"latency_s": round(latency, 3), "limit_s": round(limit, 3),
              "stat_bytes": stat_bytes, "stat_own_s": round(own, 3),
              "stat_quiet_s": args.stat_quiet if args.stat_quiet is not None else 2.0, "rate_mbps": args.rate, "rtt_ms": args.rtt,
              "loss_pct": args.loss, "codec": args.codec, "routine_bytes": routine_bytes,
              "preempted_after_s": round(pre["ts"] - t_last, 3) if pre else None,
              "pass": not fails}
    log("RESULT " + json.dumps(result))
    for f in fails:
        log("FAIL: stat_preempt: " + f)
    if not fails:
        log("PASS: STAT study at site B %.2f s after its last C-STORE (limit %.2f s)"
            % (latency, limit))
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
