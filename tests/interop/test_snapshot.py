#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Snapshots between etcd's Go rafthttp and the C node (POST /raft/snapshot),
both directions.

usage: test_snapshot.py RAFTHTTP_BIN GOPEER_BIN [SIZES_MIB...]

For each size (default 0, 1 and 256 MiB; add 1024 for the 1 GiB run): Go's
snapshot sender streams the body; C saves it as %016x.snap.db of the
snapshot index in --snap-dir (temp name, fsync, rename), reports a recv
event via "snapshot" with snapshotFile and snapshotBytes; the file must be
byte-identical (sha256), Go must report snapshotStatus finish, and the C
process's peak RSS (VmHWM) must stay bounded while it passes. An upload cut
halfway leaves no file under the final name.
"""
import hashlib
import os
import socket
import ssl
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import WORKDIR, Failed, Proc, free_port, main, need_binary, ok, tls_flags  # noqa

RAFTHTTP = sys.argv[1] if len(sys.argv) > 1 else ""
GOPEER = sys.argv[2] if len(sys.argv) > 2 else ""
SIZES = [int(x) for x in sys.argv[3:]] or [0, 1, 256]
C_ID, G_ID, CID = 0x1c, 0x2d, 0x5eed
# the bound; under ASan run with a small quarantine
# (ASAN_OPTIONS=quarantine_size_mb=8) or freed chains count too
RSS_LIMIT_MIB = int(os.environ.get("SNAP_RSS_LIMIT_MIB", "64"))
TLS_CERTS = None  # a make_certs() directory: both on https:// (test_go_tls.py)


def vm_hwm_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def make_file(path, mib):
    h = hashlib.sha256()
    block = hashlib.sha256(b"seed").digest() * (1 << 15)  # 1 MiB
    with open(path, "wb") as f:
        for i in range(mib):
            chunk = bytes([i & 0xFF]) + block[1:]
            f.write(chunk)
            h.update(chunk)
    return h.hexdigest()


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            b = f.read(1 << 20)
            if not b:
                break
            h.update(b)
    return h.hexdigest()


def test():
    need_binary(RAFTHTTP, "rafthttp")
    need_binary(GOPEER, "gopeer")
    cport, gport = free_port(), free_port()
    snap_dir = os.path.join(WORKDIR, "c-snap")
    sch = "https" if TLS_CERTS else "http"
    c = Proc("c-node", [RAFTHTTP, "node", "--id", "%x" % C_ID, "--cluster-id", "%x" % CID,
                        "--listen", "%s://127.0.0.1:%d" % (sch, cport), "--snap-dir", snap_dir,
                        "--peer", "%x=%s://127.0.0.1:%d" % (G_ID, sch, gport)] +
             (tls_flags(TLS_CERTS, "m1") if TLS_CERTS else []))
    c.wait_event(lambda e: e["event"] == "ready", 10, "C ready")
    g_snap_dir = os.path.join(WORKDIR, "go-snap")
    os.makedirs(g_snap_dir, exist_ok=True)
    g = Proc("go-peer", [GOPEER, "--id", "%x" % G_ID, "--cluster-id", "%x" % CID,
                         "--listen", "%s://127.0.0.1:%d" % (sch, gport), "--snap-dir", g_snap_dir,
                         "--peer", "%x=%s://127.0.0.1:%d" % (C_ID, sch, cport)] +
             (tls_flags(TLS_CERTS, "m2") if TLS_CERTS else []))
    c.wait_event(lambda e: e["event"] == "peerActive", 10, "C sees Go active")

    for k, mib in enumerate(SIZES):
        src = os.path.join(WORKDIR, "snap-%d.bin" % mib)
        digest = make_file(src, mib)
        index = 1000 + k
        t0 = time.time()
        g.send({"type": "MsgSnap", "from": G_ID, "to": C_ID, "term": 3,
                "snapshot": {"metadata": {"index": index, "term": 3,
                                          "confState": {"voters": [C_ID, G_ID]}}},
                "snapshotFile": src})
        ev = c.wait_event(lambda e: e["event"] == "recv" and e.get("via") == "snapshot"
                          and e["msg"]["snapshot"]["metadata"]["index"] == index,
                          60 + mib / 10, "snapshot %d MiB" % mib)
        dt = time.time() - t0
        want = os.path.join(snap_dir, "%016x.snap.db" % index)
        if ev.get("snapshotFile") != want or ev.get("snapshotBytes") != mib << 20:
            raise Failed("recv event: file %s bytes %s, want %s %d"
                         % (ev.get("snapshotFile"), ev.get("snapshotBytes"), want, mib << 20))
        if sha256_file(want) != digest:
            raise Failed("%s differs from what Go sent" % want)
        st = g.wait_event(lambda e: e["event"] == "snapshotStatus", 10, "Go snapshotStatus")
        if st.get("status") != "finish":
            raise Failed("Go reported snapshot %s" % st)
        hwm = vm_hwm_kib(c.p.pid) // 1024
        if hwm > RSS_LIMIT_MIB:
            raise Failed("C peak RSS %d MiB after a %d MiB snapshot (limit %d)"
                         % (hwm, mib, RSS_LIMIT_MIB))
        ok("Go -> C snapshot of %d MiB: %s byte-identical, Go saw finish, %.1fs, C peak RSS %d MiB"
           % (mib, os.path.basename(want), dt, hwm))
        os.unlink(src)
        os.unlink(want)

    # C -> Go: the node streams the file after the message (etcd's merged
    # snapshot); Go's receiver saves it and C reports snapshotStatus finish
    g.wait_event(lambda e: e["event"] == "peerActive", 10, "Go sees C active", past=True)
    for k, mib in enumerate(SIZES):
        src = os.path.join(WORKDIR, "csnap-%d.bin" % mib)
        digest = make_file(src, mib)
        index = 2000 + k
        t0 = time.time()
        c.send({"type": "MsgSnap", "from": C_ID, "to": G_ID, "term": 4,
                "snapshot": {"metadata": {"index": index, "term": 4,
                                          "confState": {"voters": [C_ID, G_ID]}}},
                "snapshotFile": src})
        ev = g.wait_event(lambda e: e["event"] == "recv"
                          and e["msg"]["snapshot"]["metadata"]["index"] == index,
                          60 + mib / 10, "snapshot %d MiB at Go" % mib)
        st = c.wait_event(lambda e: e["event"] == "snapshotStatus", 30, "C snapshotStatus")
        dt = time.time() - t0
        if st.get("status") != "finish" or st.get("id") != G_ID:
            raise Failed("C reported snapshot %s" % st)
        got = ev.get("snapshotFile")
        if not got or sha256_file(got) != digest or ev.get("snapshotBytes") != mib << 20:
            raise Failed("Go's file %s (%s bytes) differs from what C sent"
                         % (got, ev.get("snapshotBytes")))
        hwm = vm_hwm_kib(c.p.pid) // 1024
        if hwm > RSS_LIMIT_MIB:
            raise Failed("C peak RSS %d MiB after sending %d MiB (limit %d)"
                         % (hwm, mib, RSS_LIMIT_MIB))
        ok("C -> Go snapshot of %d MiB: Go's %s byte-identical, C saw finish, %.1fs, C peak RSS %d MiB"
           % (mib, os.path.basename(got), dt, hwm))
        os.unlink(src)
        os.unlink(got)

    # an upload cut halfway: no file under the final name, no temp file left
    s = socket.create_connection(("127.0.0.1", cport))
    if TLS_CERTS:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(os.path.join(TLS_CERTS, "ca.pem"))
        ctx.load_cert_chain(os.path.join(TLS_CERTS, "m3.pem"), os.path.join(TLS_CERTS, "m3-key.pem"))
        s = ctx.wrap_socket(s, server_hostname="127.0.0.1")
    msg = bytes.fromhex("0807101c182d2003")  # MsgSnap to 1c from 2d, term 3
    snap = bytes.fromhex("4a0b12090a02280010f90e1803")  # metadata index 1913, no data
    body_head = (len(msg + snap)).to_bytes(8, "big") + msg + snap
    s.sendall(("POST /raft/snapshot HTTP/1.1\r\nHost: x\r\nX-Server-From: 2d\r\n"
               "X-Server-Version: 3.4.23\r\nX-Etcd-Cluster-ID: %x\r\n"
               "Content-Length: 10000000\r\n\r\n" % CID).encode() + body_head + b"x" * 500000)
    time.sleep(0.5)
    s.close()
    time.sleep(0.5)
    left = os.listdir(snap_dir)
    if left:
        raise Failed("a cut upload left files behind: %s" % left)
    ok("an upload cut halfway leaves no file (neither %016x.snap.db nor a temp file)" % 1913)


if __name__ == "__main__":
    main(test)
