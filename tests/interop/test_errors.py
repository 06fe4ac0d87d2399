#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Every stream error status of rafthttp's stream handler, from raw HTTP,
against a C `rafthttp node` and against etcd 3.4's Go rafthttp (gopeer) for
comparison; then the dialer's side of 410 and of 412 cluster ID mismatch,
C dialing Go and Go dialing C.

usage: test_errors.py RAFTHTTP_BIN GOPEER_BIN

Each request of the table goes, on a new connection, to both members (same
IDs, same peers); the Go answer is the reference: status, body (Go's
http.Error: the text and "\\n"), Content-Type, Allow, X-Server-Version and
X-Etcd-Cluster-ID must match. Every C response must carry X-Etcd-Cluster-ID.
A valid request gets 200, chunked, with X-Server-Version and
X-Etcd-Cluster-ID, and then a link heartbeat within 2 s (message stream: an
8-byte length and a MsgHeartbeat with from = to = 0, byte-identical to Go's;
msgappv2: one 0x00 byte).

With GOPEER_BIN given twice (test_errors.py GOPEER GOPEER) the table runs
Go against Go, to check the test itself.
"""
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Failed, Proc, free_port, main, need_binary, ok  # noqa

RAFTHTTP = sys.argv[1] if len(sys.argv) > 1 else ""
GOPEER = sys.argv[2] if len(sys.argv) > 2 else ""

LOCAL, PEER, REMOVED, UNKNOWN, CID = 0x11, 0x22, 0x33, 0x99, 0xc1d
WRONG_CID = 0xbad

# IDs and cluster for the dialer tests (C dials Go, Go dials C)
D_C, D_G, D_CID = 0x55, 0x44, 0xd1a1


def is_gopeer(path):
    return os.path.basename(path).startswith("gopeer")


def member_argv(binary, ident, cid, port, peers, extra=()):
    argv = [binary] if is_gopeer(binary) else [binary, "node"]
    argv += ["--id", "%x" % ident, "--cluster-id", "%x" % cid,
             "--listen", "http://127.0.0.1:%d" % port]
    for pid, purl in peers:
        argv += ["--peer", "%x=%s" % (pid, purl)]
    return argv + list(extra)


def stop0(p):
    """SIGTERM; the member must exit 0 (an ASan report makes it non-zero)."""
    rc = p.stop()
    if rc != 0:
        raise Failed("%s exited with status %s on SIGTERM, want 0" % (p.name, rc))


# ---------------------------------------------------------------- raw HTTP

class Resp:
    def __init__(self, status, reason, headers, body, sock=None, rest=b""):
        self.status, self.reason, self.headers, self.body = status, reason, headers, body
        self.sock, self.rest = sock, rest

    def h(self, name):
        """The value of header name (any case), None when absent."""
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def show(self):
        return "%d %s %s body=%r" % (self.status, self.reason,
                                     ["%s: %s" % kv for kv in self.headers], self.body)


def _recv_until(sock, buf, pred, what):
    while not pred(buf):
        try:
            b = sock.recv(65536)
        except socket.timeout:
            raise Failed("timed out reading %s (have %r)" % (what, buf[:200]))
        except ConnectionResetError:
            raise Failed("connection reset while reading %s (have %r)" % (what, buf[:200]))
        if not b:
            raise Failed("connection closed while reading %s (have %r)" % (what, buf[:200]))
        buf += b
    return buf


def request(port, method, path, headers, body=b"", stream=False, timeout=3):
    """One request on a new connection. headers: list of (name, value), sent
    exactly as given (case kept). With stream=True a 200 response's socket
    is kept open for reading the chunked body (Resp.sock, Resp.rest)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    lines = ["%s %s HTTP/1.1" % (method, path), "Host: 127.0.0.1:%d" % port,
             "User-Agent: interop-test"]
    lines += ["%s: %s" % kv for kv in headers]
    if method in ("POST", "PUT") or body:
        lines.append("Content-Length: %d" % len(body))
    s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
    buf = _recv_until(s, b"", lambda b: b"\r\n\r\n" in b, "%s %s response head" % (method, path))
    head, rest = buf.split(b"\r\n\r\n", 1)
    hl = head.decode("latin-1").split("\r\n")
    parts = hl[0].split(" ", 2)
    status, reason = int(parts[1]), parts[2] if len(parts) > 2 else ""
    hdrs = [tuple(x.strip() for x in l.split(":", 1)) for l in hl[1:] if ":" in l]
    r = Resp(status, reason, hdrs, b"")
    if stream and status == 200:
        r.sock, r.rest = s, rest
        return r
    cl = r.h("Content-Length")
    if cl is not None:
        rest = _recv_until(s, rest, lambda b: len(b) >= int(cl), "response body")
        r.body = rest[:int(cl)]
    elif (r.h("Transfer-Encoding") or "").lower() == "chunked":
        if status == 200:  # a stream we did not expect: do not read it forever
            s.close()
            return r
        r.body = Dechunker(s, rest).read_all()
    else:
        end = time.time() + timeout
        while time.time() < end:
            try:
                b = s.recv(65536)
            except (socket.timeout, ConnectionResetError):
                break
            if not b:
                break
            rest += b
        r.body = rest
    s.close()
    return r


class Dechunker:
    """Reads a chunked body as a byte stream."""

    def __init__(self, sock, rest):
        self.sock, self.raw, self.data, self.done = sock, rest, b"", False

    def _more(self, what):
        self.raw = _recv_until(self.sock, self.raw, lambda b, n=len(self.raw): len(b) > n, what)

    def _step(self, what):
        while b"\r\n" not in self.raw:
            self._more(what)
        size_line, after = self.raw.split(b"\r\n", 1)
        size = int(size_line.split(b";")[0], 16)
        while len(after) < size + 2:
            self._more(what)
            size_line, after = self.raw.split(b"\r\n", 1)
        if after[size:size + 2] != b"\r\n":
            raise Failed("bad chunk framing: %r" % self.raw[:100])
        self.data += after[:size]
        self.raw = after[size + 2:]
        if size == 0:
            self.done = True

    def read(self, n, what):
        while len(self.data) < n and not self.done:
            self._step(what)
        if len(self.data) < n:
            raise Failed("body ended after %d bytes reading %s" % (len(self.data), what))
        out, self.data = self.data[:n], self.data[n:]
        return out

    def read_all(self):
        while not self.done:
            self._step("chunked body")
        return self.data


def varints(b):
    """Protobuf fields of b as {field: value} (varints and length-delimited)."""
    out, i = {}, 0
    while i < len(b):
        key, i = _uvarint(b, i)
        f, wt = key >> 3, key & 7
        if wt == 0:
            v, i = _uvarint(b, i)
        elif wt == 2:
            n, i = _uvarint(b, i)
            v, i = b[i:i + n], i + n
        else:
            raise Failed("unexpected wire type %d in %r" % (wt, b))
        out[f] = v
    return out


def _uvarint(b, i):
    v = s = 0
    while True:
        c = b[i]
        i += 1
        v |= (c & 0x7f) << s
        s += 7
        if not c & 0x80:
            return v, i


# ---------------------------------------------------------------- the table

def std_headers(**over):
    """Headers of a valid stream request from PEER to LOCAL."""
    h = {"X-Server-From": "%x" % PEER, "X-Server-Version": "3.4.23",
         "X-Min-Cluster-Version": "3.0.0", "X-Etcd-Cluster-ID": "%x" % CID,
         "X-Raft-To": "%x" % LOCAL, "X-PeerURLs": "http://127.0.0.1:1"}
    for k, v in over.items():
        k = k.replace("_", "-")
        if v is None:
            h.pop(k, None)
        else:
            h[k] = v
    return list(h.items())


MSG = "/raft/stream/message/%x"
V2 = "/raft/stream/msgapp/%x"  # the msgappv2 stream's path (etcd: endpoint())

# (what, method, path, headers, status, body)
CASES = [
    ("POST to a stream path", "POST", MSG % PEER, std_headers(), 405, "Method Not Allowed"),
    ("PUT to a stream path", "PUT", V2 % PEER, std_headers(), 405, "Method Not Allowed"),
    ("POST with a bad version too (method is checked first)", "POST", MSG % PEER,
     std_headers(X_Server_Version="1.0.0"), 405, "Method Not Allowed"),
    ("X-Server-Version 1.0.0", "GET", MSG % PEER, std_headers(X_Server_Version="1.0.0"),
     412, "incompatible version"),
    ("X-Server-Version 1.0.0 on msgappv2", "GET", V2 % PEER,
     std_headers(X_Server_Version="1.0.0"), 412, "incompatible version"),
    ("no X-Server-Version (taken as 2.0.0)", "GET", MSG % PEER,
     std_headers(X_Server_Version=None), 412, "incompatible version"),
    ("X-Min-Cluster-Version 9.9.9 above ours", "GET", MSG % PEER,
     std_headers(X_Min_Cluster_Version="9.9.9"), 412, "incompatible version"),
    ("bad version and wrong cluster (version is checked first)", "GET", MSG % PEER,
     std_headers(X_Server_Version="1.0.0", X_Etcd_Cluster_ID="%x" % WRONG_CID),
     412, "incompatible version"),
    ("wrong X-Etcd-Cluster-ID", "GET", MSG % PEER, std_headers(X_Etcd_Cluster_ID="%x" % WRONG_CID),
     412, "cluster ID mismatch"),
    ("no X-Etcd-Cluster-ID", "GET", V2 % PEER, std_headers(X_Etcd_Cluster_ID=None),
     412, "cluster ID mismatch"),
    ("cluster ID as a zero-padded hex (not etcd's form)", "GET", MSG % PEER,
     std_headers(X_Etcd_Cluster_ID="%016x" % CID), 412, "cluster ID mismatch"),
    ("wrong cluster and bad path (cluster is checked first)", "GET", "/raft/stream/foo/%x" % PEER,
     std_headers(X_Etcd_Cluster_ID="%x" % WRONG_CID), 412, "cluster ID mismatch"),
    ("path /raft/stream/foo/ID", "GET", "/raft/stream/foo/%x" % PEER, std_headers(),
     404, "invalid path"),
    ("path /raft/stream/message (no ID)", "GET", "/raft/stream/message", std_headers(),
     404, "invalid path"),
    ("path /raft/stream/msgappv2/ID (the type's name, not its path)", "GET",
     "/raft/stream/msgappv2/%x" % PEER, std_headers(), 404, "invalid path"),
    ("non-hex from (zz)", "GET", "/raft/stream/message/zz", std_headers(), 404, "invalid from"),
    ("from over 64 bits", "GET", "/raft/stream/msgapp/1%016x" % PEER, std_headers(),
     404, "invalid from"),
    ("removed member (is_id_removed)", "GET", MSG % REMOVED, std_headers(), 410, "removed member"),
    ("removed member on msgappv2, wrong X-Raft-To too", "GET", V2 % REMOVED,
     std_headers(X_Raft_To="1"), 410, "removed member"),
    ("unknown sender", "GET", MSG % UNKNOWN, std_headers(), 404, "error sender not found"),
    ("unknown sender, no X-PeerURLs", "GET", V2 % UNKNOWN, std_headers(X_PeerURLs=None),
     404, "error sender not found"),
    ("wrong X-Raft-To", "GET", MSG % PEER, std_headers(X_Raft_To="%x" % (LOCAL + 1)),
     412, "to field mismatch"),
    ("no X-Raft-To", "GET", V2 % PEER, std_headers(X_Raft_To=None), 412, "to field mismatch"),
    ("X-Raft-To zero-padded", "GET", MSG % PEER, std_headers(X_Raft_To="%016x" % LOCAL),
     412, "to field mismatch"),
]


def check_error_response(r, who, case):
    what, method, path, headers, status, body = case
    errs = []
    if r.status != status:
        errs.append("status %d, want %d" % (r.status, status))
    if r.body != (body + "\n").encode():
        errs.append("body %r, want %r" % (r.body, body + "\n"))
    ct = r.h("Content-Type")
    if ct != "text/plain; charset=utf-8":
        errs.append("Content-Type %r, want 'text/plain; charset=utf-8'" % ct)
    if status == 405 and r.h("Allow") != "GET":
        errs.append("Allow %r, want 'GET'" % r.h("Allow"))
    if status != 405:
        # Go sets both before its first check but after the method check
        if r.h("X-Server-Version") != "3.4.23":
            errs.append("X-Server-Version %r, want '3.4.23'" % r.h("X-Server-Version"))
        if r.h("X-Etcd-Cluster-ID") != "%x" % CID:
            errs.append("X-Etcd-Cluster-ID %r, want %r" % (r.h("X-Etcd-Cluster-ID"), "%x" % CID))
    return errs


def run_table(targets):
    """targets: [(name, port, is_go)]"""
    go_405_cid = None
    for case in CASES:
        what, method, path, headers, status, body = case
        results = []
        for name, port, is_go in targets:
            r = request(port, method, path, headers)
            errs = check_error_response(r, name, case)
            if not is_go:
                if r.h("X-Etcd-Cluster-ID") != "%x" % CID:
                    errs.append("no X-Etcd-Cluster-ID %r (every response must carry it)" % "%x" % CID)
            elif status == 405:
                go_405_cid = r.h("X-Etcd-Cluster-ID")
            if errs:
                raise Failed("%s: %s %s [%s]: %s\n  request headers: %s\n  response: %s"
                             % (name, method, path, what, "; ".join(errs), headers, r.show()))
            results.append(r)
        ok("%-4d %-22s %s %s: %s (%s)" % (status, repr(body), method, path, what,
                                           " and ".join(t[0] for t in targets)))
    return go_405_cid


# garbage X-Server-Version: Go's serverVersion() uses semver.Must and panics,
# so the Go handler dies (net/http recovers, closes the connection without a
# response). The C node must answer 412 "incompatible version".
def garbage_version(name, port, is_go):
    hdrs = std_headers(X_Server_Version="vgarbage")
    try:
        r = request(port, "GET", MSG % PEER, hdrs)
    except Failed as e:
        if is_go:
            return "Go: no response (%s): its semver.Must panics, net/http drops the connection" % e
        raise Failed("%s: X-Server-Version vgarbage: %s" % (name, e))
    errs = check_error_response(r, name, ("", "GET", MSG % PEER, hdrs, 412, "incompatible version"))
    if is_go:
        return "Go: %d %r" % (r.status, r.body)
    if errs:
        raise Failed("%s: GET %s with X-Server-Version vgarbage: %s\n  response: %s"
                     % (name, MSG % PEER, "; ".join(errs), r.show()))
    return None


HEARTBEAT_WITHIN = 2.0


def open_stream(name, port, kind, headers):
    path = (MSG if kind == "message" else V2) % PEER
    r = request(port, "GET", path, headers, stream=True)
    errs = []
    if r.status != 200:
        errs.append("status %d, want 200 (body %r)" % (r.status, r.body))
    if (r.h("Transfer-Encoding") or "").lower() != "chunked":
        errs.append("Transfer-Encoding %r, want chunked" % r.h("Transfer-Encoding"))
    if r.h("X-Server-Version") != "3.4.23":
        errs.append("X-Server-Version %r, want 3.4.23" % r.h("X-Server-Version"))
    if r.h("X-Etcd-Cluster-ID") != "%x" % CID:
        errs.append("X-Etcd-Cluster-ID %r, want %x" % (r.h("X-Etcd-Cluster-ID"), CID))
    if errs:
        raise Failed("%s: GET %s (valid, headers %s): %s\n  response: %s"
                     % (name, path, headers, "; ".join(errs), r.show()))
    return r


def read_heartbeat(name, r, kind):
    t0 = time.time()
    r.sock.settimeout(HEARTBEAT_WITHIN + 0.5)
    d = Dechunker(r.sock, r.rest)
    if kind == "msgappv2":
        b = d.read(1, "%s: msgappv2 link heartbeat" % name)
        frame = b
        if b != b"\x00":
            raise Failed("%s: first msgappv2 byte %r, want 0x00 (link heartbeat)" % (name, b))
    else:
        ln = d.read(8, "%s: message stream frame length" % name)
        n = int.from_bytes(ln, "big")
        if n > 1 << 16:
            raise Failed("%s: message stream frame length %d, want a small heartbeat" % (name, n))
        pb = d.read(n, "%s: message stream frame" % name)
        frame = ln + pb
        f = varints(pb)
        if f.get(1) != 8 or f.get(2, 0) != 0 or f.get(3, 0) != 0:
            raise Failed("%s: first message frame is not a link heartbeat (MsgHeartbeat, "
                         "to = from = 0): fields %s, bytes %s" % (name, f, frame.hex()))
    dt = time.time() - t0
    if dt > HEARTBEAT_WITHIN:
        raise Failed("%s: link heartbeat after %.2fs, want within %.1fs" % (name, dt, HEARTBEAT_WITHIN))
    return frame, dt


def valid_streams(targets):
    lower = [(k.lower(), v) for k, v in std_headers()]
    mixed = [(k.upper() if i % 2 else k.lower(), v) for i, (k, v) in enumerate(std_headers())]
    frames = {}
    for kind, hdrs, label in (("message", lower, "lowercase header names"),
                              ("msgappv2", mixed, "upper/lowercase header names")):
        for name, port, is_go in targets:
            r = open_stream(name, port, kind, hdrs)
            frame, dt = read_heartbeat(name, r, kind)
            frames[(kind, name)] = frame
            r.sock.close()
            ok("200 GET %s (%s) on %s: chunked, X-Server-Version, X-Etcd-Cluster-ID; "
               "link heartbeat %s after %.2fs" % ((MSG if kind == "message" else V2) % PEER,
                                                   label, name, frame.hex(), dt))
    names = [t[0] for t in targets]
    if len(names) == 2:
        a, b = names
        for kind in ("message", "msgappv2"):
            if frames[(kind, a)] != frames[(kind, b)]:
                raise Failed("%s link heartbeat differs: %s sends %s, %s sends %s"
                             % (kind, a, frames[(kind, a)].hex(), b, frames[(kind, b)].hex()))
        ok("link heartbeats byte-identical on %s and %s (message: %s)"
           % (a, b, frames[("message", a)].hex()))


# ---------------------------------------------------------------- dialers

def dial_410(dialer_bin, server_bin, dialer_name, server_name):
    """server marks dialer removed before dialer starts: dialer's stream dial
    gets 410 and it reports critical."""
    dport, sport = free_port(), free_port()
    dialer_is_go = is_gopeer(dialer_bin)
    dial_id, srv_id = (D_G, D_C) if dialer_is_go else (D_C, D_G)
    # the server has no peers: it never dials the dialer, so whatever the
    # dialer reports comes from its own stream dials
    srv = Proc(server_name, member_argv(server_bin, srv_id, D_CID, sport, []))
    srv.wait_event(lambda e: e["event"] == "ready", 10, "ready")
    srv.send({"cmd": "markRemoved", "id": "%x" % dial_id})
    srv.send({"cmd": "status"})
    srv.wait_event(lambda e: e["event"] == "status", 5, "status after markRemoved")
    errs = [e for e in srv.all_events() if e["event"] == "error"]
    if errs:
        raise Failed("%s: markRemoved rejected: %s" % (server_name, errs))
    dialer = Proc(dialer_name, member_argv(dialer_bin, dial_id, D_CID, dport,
                                           [(srv_id, "http://127.0.0.1:%d" % sport)]))
    ev = dialer.wait_event(lambda e: e["event"] == "critical", 5, "critical after a 410 from " + server_name)
    if not dialer_is_go and ev.get("error") != "member removed":
        raise Failed("%s: critical error %r, want 'member removed' (spec)" % (dialer_name, ev.get("error")))
    act = [e for e in dialer.all_events() if e["event"] == "peerActive"]
    if act:
        raise Failed("%s: peer became active although every stream dial got 410: %s" % (dialer_name, act))
    ok("%s dialing %s, which has it marked removed: 410, %s reports critical %r"
       % (dialer_name, server_name, dialer_name, ev.get("error")))
    stop0(dialer)
    stop0(srv)


def dial_412(dialer_bin, server_bin, dialer_name, server_name, kind):
    """The server answers the dialer's stream requests with 412: kind
    "cluster" (server of another cluster) or "version" (server whose minimum
    cluster version is above the dialer's version). The dialer must report it
    (peerInactive reason or a log line) within 2 s of starting (it dials at
    once), stay inactive, and not report anything critical."""
    dport, sport = free_port(), free_port()
    dialer_is_go = is_gopeer(dialer_bin)
    dial_id, srv_id = (D_G, D_C) if dialer_is_go else (D_C, D_G)
    if kind == "cluster":
        srv_cid, extra, want = WRONG_CID, [], ("cluster ID mismatch",)
        what = "of another cluster (%x, the dialer's %x)" % (WRONG_CID, D_CID)
    else:
        srv_cid, extra = D_CID, ["--min-cluster-version", "9.9.0"]
        want = ("incompatible version", "version incompatibility")  # C's and Go's words
        what = "with minimum cluster version 9.9.0"
    srv = Proc(server_name, member_argv(server_bin, srv_id, srv_cid, sport, [], extra))
    srv.wait_event(lambda e: e["event"] == "ready", 10, "ready")
    dialer = Proc(dialer_name, member_argv(dialer_bin, dial_id, D_CID, dport,
                                           [(srv_id, "http://127.0.0.1:%d" % sport)]))
    dialer.wait_event(lambda e: e["event"] == "ready", 10, "ready")
    t0 = time.time()
    deadline = t0 + 2
    where = None
    while where is None and time.time() < deadline:
        for e in dialer.all_events():
            if e["event"] == "peerInactive" and any(w in e.get("reason", "") for w in want):
                where = "peerInactive event, reason %r" % e["reason"]
        if where is None:
            with open(dialer.log_path, errors="replace") as f:
                for l in f:
                    if any(w in l for w in want):
                        where = "log: " + l.strip()[:200]
                        break
        time.sleep(0.05)
    if where is None:
        raise Failed("%s dialing %s %s: neither a peerInactive event nor a log line mentions "
                     "%s within 2s of its ready event" % (dialer_name, server_name, what,
                                                          " or ".join(map(repr, want))))
    act = [e for e in dialer.all_events() if e["event"] == "peerActive"]
    if act:
        raise Failed("%s: peer became active across a 412 (%s): %s" % (dialer_name, kind, act))
    crit = [e for e in dialer.all_events() if e["event"] == "critical"]
    if crit:
        raise Failed("%s: a 412 (%s) must not be critical: %s" % (dialer_name, kind, crit))
    ok("%s dialing %s %s: 412 reported after %.2fs (%s)"
       % (dialer_name, server_name, what, time.time() - t0, where))
    stop0(dialer)
    stop0(srv)


def dial_unknown(dialer_bin, server_bin, dialer_name, server_name):
    """server does not know the dialer: 404 "error sender not found"; the
    dialer logs it (etcd: "peer X failed to find local node Y") and stays
    inactive; nothing critical."""
    dport, sport = free_port(), free_port()
    dial_id, srv_id = (D_G, D_C) if is_gopeer(dialer_bin) else (D_C, D_G)
    srv = Proc(server_name, member_argv(server_bin, srv_id, D_CID, sport, []))
    srv.wait_event(lambda e: e["event"] == "ready", 10, "ready")
    # Go logs a failed dial of a never-active peer only at debug level
    # ("peer deactivated again")
    extra = ["--log-level", "debug"] if is_gopeer(dialer_bin) else []
    dialer = Proc(dialer_name, member_argv(dialer_bin, dial_id, D_CID, dport,
                                                 [(srv_id, "http://127.0.0.1:%d" % sport)], extra))
    want = "failed to find local node"
    deadline, line = time.time() + 5, None
    while line is None and time.time() < deadline:
        time.sleep(0.1)
        with open(dialer.log_path, errors="replace") as f:
            line = next((l.strip() for l in f if want in l), None)
    if line is None:
        raise Failed("%s dialing %s, which does not know it: no %r in its log within 5s"
                     % (dialer_name, server_name, want))
    bad = [e for e in dialer.all_events() if e["event"] in ("peerActive", "critical")]
    if bad:
        raise Failed("%s: after 404 sender not found: %s" % (dialer_name, bad))
    ok("%s dialing %s, which does not know it: 404 logged (%s), stays inactive"
       % (dialer_name, server_name, line[:160]))
    stop0(dialer)
    stop0(srv)


def test():
    need_binary(RAFTHTTP, "rafthttp (C node; or a gopeer, to check the test)")
    need_binary(GOPEER, "gopeer (tests/interop/gopeer/build.sh BUILD_DIR)")
    c_is_go = is_gopeer(RAFTHTTP)
    cname = "go-peer-2" if c_is_go else "c-node"
    dead = "http://127.0.0.1:%d" % free_port()  # the peer never answers: no stream to it
    targets = []
    procs = {}
    for name, binary in ((cname, RAFTHTTP), ("go-peer", GOPEER)):
        port = free_port()
        p = Proc(name, member_argv(binary, LOCAL, CID, port, [(PEER, dead)]))
        p.wait_event(lambda e: e["event"] == "ready", 10, "ready")
        p.send({"cmd": "markRemoved", "id": "%x" % REMOVED})
        p.send({"cmd": "status"})
        p.wait_event(lambda e: e["event"] == "status", 5, "status after markRemoved")
        errs = [e for e in p.all_events() if e["event"] == "error"]
        if errs:
            raise Failed("%s: markRemoved rejected: %s" % (name, errs))
        procs[name] = p
        targets.append((name, port, is_gopeer(binary)))
    targets.sort(key=lambda t: t[2])  # C first, Go second
    ok("both members serving: member %x of cluster %x, peer %x (unreachable), %x marked removed"
       % (LOCAL, CID, PEER, REMOVED))

    go_405_cid = run_table(targets)
    if not c_is_go:
        ok("every C response carried X-Etcd-Cluster-ID (Go's 405 has it: %s)"
           % ("yes" if go_405_cid else "no, Go sets it after the method check"))

    notes = []
    for name, port, is_go in targets:
        n = garbage_version(name, port, is_go)
        if n:
            notes.append(n)
    if not c_is_go:
        ok("412 'incompatible version' for X-Server-Version vgarbage on C (%s)" % "; ".join(notes))
    else:
        ok("X-Server-Version vgarbage: %s" % "; ".join(notes))

    valid_streams(targets)

    if not c_is_go:
        # a leading "v" is accepted by the C node (our choice; Go's semver.Must
        # panics on it as on any unparsable version)
        cport = [t[1] for t in targets if not t[2]][0]
        r = request(cport, "GET", MSG % PEER, std_headers(X_Server_Version="v3.4.23"), stream=True)
        if r.status != 200:
            raise Failed("%s: X-Server-Version v3.4.23 should be accepted: %s" % (cname, r.show()))
        r.sock.close()
        ok("X-Server-Version 'v3.4.23' accepted by C (200)")

    for p in procs.values():
        if p.p.poll() is not None:
            raise Failed("%s exited (status %s) during the requests" % (p.name, p.p.returncode))
        stop0(p)

    other = "go-peer-2" if c_is_go else "c-node"
    dial_410(RAFTHTTP, GOPEER, other, "go-peer")
    dial_410(GOPEER, RAFTHTTP, "go-peer", other)
    for kind in ("cluster", "version"):
        dial_412(RAFTHTTP, GOPEER, other, "go-peer", kind)
        dial_412(GOPEER, RAFTHTTP, "go-peer", other, kind)
    dial_unknown(RAFTHTTP, GOPEER, other, "go-peer")
    dial_unknown(GOPEER, RAFTHTTP, "go-peer", other)


if __name__ == "__main__":
    main(test)
