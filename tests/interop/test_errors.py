#!/usr/bin/env python3
"""Every stream error status, on the C node and on etcd's Go rafthttp side by
side (raw HTTP requests), and the C dialer's reaction to each from Go.

usage: test_errors.py RAFTHTTP_BIN GOPEER_BIN
"""
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Failed, Proc, free_port, main, need_binary, ok  # noqa

RAFTHTTP = sys.argv[1] if len(sys.argv) > 1 else ""
GOPEER = sys.argv[2] if len(sys.argv) > 2 else ""
SELF, KNOWN, CID = 0xa, 0xb, 0xc1
UNKNOWN, REMOVED = 0xdead, 0xbad


def raw(port, method, path, headers, body=b"", read_body_timeout=0.0):
    """Sends one request; returns (status, {lower-name: value}, body bytes)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    lines = ["%s %s HTTP/1.1" % (method, path), "Host: 127.0.0.1:%d" % port]
    lines += ["%s: %s" % kv for kv in headers.items()]
    if body or method == "POST":
        lines.append("Content-Length: %d" % len(body))
    s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    if b"\r\n\r\n" not in data:
        s.close()
        return None, {}, data
    head, rest = data.split(b"\r\n\r\n", 1)
    hl = head.decode().split("\r\n")
    status = int(hl[0].split()[1])
    hdrs = {}
    for l in hl[1:]:
        k, v = l.split(":", 1)
        hdrs[k.strip().lower()] = v.strip()
    if read_body_timeout:
        s.settimeout(read_body_timeout)
        end = time.time() + read_body_timeout
        try:
            while time.time() < end and len(rest) < 64:
                chunk = s.recv(4096)
                if not chunk:
                    break
                rest += chunk
        except socket.timeout:
            pass
    elif "content-length" in hdrs:
        n = int(hdrs["content-length"])
        while len(rest) < n:
            chunk = s.recv(4096)
            if not chunk:
                break
            rest += chunk
    s.close()
    return status, hdrs, rest


def stream_headers(**over):
    h = {"X-Server-From": "%x" % KNOWN, "X-Server-Version": "3.4.23",
         "X-Min-Cluster-Version": "3.0.0", "x-etcd-cluster-id": "%x" % CID,
         "X-Raft-To": "%x" % SELF, "X-PeerURLs": "http://127.0.0.1:1"}
    for k, v in over.items():
        k = k.replace("_", "-")
        h = {kk: vv for kk, vv in h.items() if kk.lower() != k.lower()}
        if v is not None:
            h[k] = v
    return h


CASES = [
    # name, method, path, headers, status, body
    ("405 for POST", "POST", "/raft/stream/message/%x" % KNOWN, stream_headers(), 405,
     b"Method Not Allowed\n"),
    ("412 old server version", "GET", "/raft/stream/message/%x" % KNOWN,
     stream_headers(X_Server_Version="1.0.0"), 412, b"incompatible version\n"),
    ("412 missing server version (2.0.0)", "GET", "/raft/stream/message/%x" % KNOWN,
     stream_headers(X_Server_Version=None), 412, b"incompatible version\n"),
    ("412 min cluster version above ours", "GET", "/raft/stream/msgapp/%x" % KNOWN,
     stream_headers(X_Min_Cluster_Version="9.9.0"), 412, b"incompatible version\n"),
    ("412 cluster ID mismatch", "GET", "/raft/stream/message/%x" % KNOWN,
     stream_headers(x_etcd_cluster_id="ffff"), 412, b"cluster ID mismatch\n"),
    ("404 invalid path", "GET", "/raft/stream/foo/%x" % KNOWN, stream_headers(), 404,
     b"invalid path\n"),
    ("404 invalid from", "GET", "/raft/stream/message/xyz", stream_headers(), 404,
     b"invalid from\n"),
    ("410 removed member", "GET", "/raft/stream/message/%x" % REMOVED,
     stream_headers(X_Server_From="%x" % REMOVED), 410, b"removed member\n"),
    ("404 unknown sender", "GET", "/raft/stream/msgapp/%x" % UNKNOWN,
     stream_headers(X_Server_From="%x" % UNKNOWN), 404, b"error sender not found\n"),
    ("412 to field mismatch", "GET", "/raft/stream/message/%x" % KNOWN,
     stream_headers(X_Raft_To="%x" % (SELF + 1)), 412, b"to field mismatch\n"),
]


def check_server(name, port):
    for case, method, path, hdrs, want_status, want_body in CASES:
        status, h, body = raw(port, method, path, hdrs)
        if status != want_status or body != want_body:
            raise Failed("%s: %s: got %s %r, want %d %r" % (name, case, status, body,
                                                             want_status, want_body))
        if h.get("x-etcd-cluster-id") is None and case != "405 for POST":
            raise Failed("%s: %s: no X-Etcd-Cluster-ID" % (name, case))
        if name == "C" and (h.get("x-etcd-cluster-id") != "%x" % CID or "x-server-version" not in h):
            raise Failed("C: %s: missing X-Etcd-Cluster-ID / X-Server-Version: %s" % (case, h))
    ok("%s server: %s" % (name, "; ".join("%s %d" % (c[0], c[4]) for c in CASES)))
    for kind, hb in (("message", None), ("msgapp", b"\x00")):
        status, h, body = raw(port, "GET", "/raft/stream/%s/%x" % (kind, KNOWN), stream_headers(),
                              read_body_timeout=2.2)
        if status != 200 or h.get("transfer-encoding") != "chunked" \
                or h.get("x-server-version") != "3.4.23" or h.get("x-etcd-cluster-id") != "%x" % CID:
            raise Failed("%s: stream %s: %s %s" % (name, kind, status, h))
        # a link heartbeat arrives within ConnReadTimeout/3
        size_line, _, rest = body.partition(b"\r\n")
        if not size_line:
            raise Failed("%s: stream %s: no link heartbeat within 2.2 s" % (name, kind))
        payload = rest[:int(size_line, 16)]
        if hb is not None and payload != hb:
            raise Failed("%s: msgappv2 heartbeat %r" % (name, payload))
        if hb is None and (len(payload) < 9 or payload[8:10] != b"\x08\x08"):
            raise Failed("%s: message-stream heartbeat %r" % (name, payload))
    ok("%s server: 200 chunked with X-Server-Version and X-Etcd-Cluster-ID; link heartbeat "
       "within 2.2 s on both stream types" % name)


def test():
    need_binary(RAFTHTTP, "rafthttp")
    need_binary(GOPEER, "gopeer")
    cport, gport = free_port(), free_port()
    common = ["--id", "%x" % SELF, "--cluster-id", "%x" % CID,
              "--peer", "%x=http://127.0.0.1:1" % KNOWN]
    c = Proc("c-node", [RAFTHTTP, "node", "--listen", "http://127.0.0.1:%d" % cport] + common)
    g = Proc("go-peer", [GOPEER, "--listen", "http://127.0.0.1:%d" % gport] + common)
    for p in (c, g):
        p.wait_event(lambda e: e["event"] == "ready", 10, "ready")
        p.send({"cmd": "markRemoved", "id": REMOVED})
    time.sleep(0.3)
    check_server("Go", gport)
    check_server("C", cport)

    # C only: garbage versions are refused, not a crash (Go's semver.Must
    # panics in the handler and net/http drops the connection)
    status, _, body = raw(cport, "GET", "/raft/stream/message/%x" % KNOWN,
                          stream_headers(X_Server_Version="vgarbage"))
    if status != 412 or body != b"incompatible version\n":
        raise Failed("C: garbage version: %s %r" % (status, body))
    status, _, _ = raw(cport, "GET", "/raft/stream/message/%x" % KNOWN,
                       stream_headers(X_Server_Version="v3.4.23"))
    if status != 200:
        raise Failed("C: 'v3.4.23' should be accepted, got %s" % status)
    ok("C server: version 'vgarbage' -> 412, 'v3.4.23' accepted")

    # cluster ID mismatch: C logs it and never becomes active
    gp2, cp2 = free_port(), free_port()
    go = Proc("go-cid", [GOPEER, "--listen", "http://127.0.0.1:%d" % gp2, "--id", "2",
                         "--cluster-id", "77", "--peer", "1=http://127.0.0.1:%d" % cp2])
    go.wait_event(lambda e: e["event"] == "ready", 10, "ready")
    cn = Proc("c-cid", [RAFTHTTP, "node", "--listen", "http://127.0.0.1:%d" % cp2, "--id", "1",
                        "--cluster-id", "78", "--peer", "2=http://127.0.0.1:%d" % gp2])
    time.sleep(1.5)
    log = open(cn.log_path).read()
    if "cluster ID mismatch" not in log:
        raise Failed("C dialer: no 'cluster ID mismatch' in its log:\n%s" % log[-2000:])
    if any(e["event"] == "peerActive" for e in cn.all_events()):
        raise Failed("C became active with a peer of another cluster")
    go.stop()
    cn.stop()
    ok("C dialer: Go's 412 cluster ID mismatch is logged, the peer never turns active")

    # removed: Go answers 410, C reports etcd's critical error
    gp2, cp2 = free_port(), free_port()
    go = Proc("go-rm", [GOPEER, "--listen", "http://127.0.0.1:%d" % gp2, "--id", "2",
                        "--cluster-id", "77", "--peer", "1=http://127.0.0.1:%d" % cp2])
    go.wait_event(lambda e: e["event"] == "ready", 10, "ready")
    go.send({"cmd": "markRemoved", "id": 1})
    time.sleep(0.2)
    cn = Proc("c-rm", [RAFTHTTP, "node", "--listen", "http://127.0.0.1:%d" % cp2, "--id", "1",
                       "--cluster-id", "77", "--peer", "2=http://127.0.0.1:%d" % gp2])
    ev = cn.wait_event(lambda e: e["event"] == "critical", 10, "critical after 410")
    if ev.get("error") != "member removed":
        raise Failed("C critical event: %s" % ev)
    go.stop()
    cn.stop()
    ok("C dialer: Go's 410 -> {\"event\":\"critical\",\"error\":\"member removed\"}")

    # unknown: Go answers 404 to a dialer it does not know; C logs it, stays inactive
    gp2, cp2 = free_port(), free_port()
    go = Proc("go-unk", [GOPEER, "--listen", "http://127.0.0.1:%d" % gp2, "--id", "2",
                         "--cluster-id", "77"])
    go.wait_event(lambda e: e["event"] == "ready", 10, "ready")
    cn = Proc("c-unk", [RAFTHTTP, "node", "--listen", "http://127.0.0.1:%d" % cp2, "--id", "1",
                        "--cluster-id", "77", "--peer", "2=http://127.0.0.1:%d" % gp2])
    time.sleep(1.0)
    log = open(cn.log_path).read()
    if "failed to find local node" not in log:
        raise Failed("C dialer: no 404 reason in its log:\n%s" % log[-2000:])
    go.stop()
    cn.stop()
    ok("C dialer: Go's 404 (sender not found) is logged as 'peer 2 failed to find local node 1'")


if __name__ == "__main__":
    main(test)
