# SPDX-License-Identifier: Apache-2.0
"""Black-box harness: `rafthttp node` processes only, driven through the
contract of docs/node-cli.md (flags, JSON Lines on stdin, events on
stdout, exit statuses, the HTTP endpoints of the listen URL).

Every check prints `ok ...`. A failed check raises Failed; the file then
prints FAIL with the last events and the log tail of every node and exits 1
(logs stay in WORKDIR; after a PASS it is removed). Nodes run in their own
sessions and are killed at exit, also when the script gets SIGTERM (as from
timeout(1)).

Python 3 standard library only.
"""
import atexit
import base64
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

T0 = time.time()
PROCS = []
WORKDIR = tempfile.mkdtemp(prefix="rafthttp-blackbox-")
BIN = sys.argv[1] if len(sys.argv) > 1 else ""

# RFC 3339 with nanoseconds (nine fraction digits), Z or an offset
TIME_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}(Z|[+-]\d\d:\d\d)$")


class Failed(Exception):
    pass


def ok(what):
    print("ok   %5.1fs  %s" % (time.time() - T0, what), flush=True)


def check(cond, what):
    if not cond:
        raise Failed(what)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def url(port):
    return "http://127.0.0.1:%d" % port


def hexid(i):
    return "%x" % i


def rss_kib(pid):
    """VmRSS of a process in KiB (-1 when it has none)."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


def make_certs():
    """tests/tls/make-certs.sh into WORKDIR/certs (once); its path."""
    d = os.path.join(WORKDIR, "certs")
    if os.path.exists(os.path.join(d, "ca.pem")):
        return d
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tls", "make-certs.sh")
    p = subprocess.run(["bash", script, d], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True)
    check(p.returncode == 0, "tests/tls/make-certs.sh failed (%d): %s" % (p.returncode, p.stdout[-500:]))
    return d


# ------------------------------------------------------------------ etcd IDs

def member_id(urls, token="etcd-cluster"):
    """etcd's membership.NewMember: SHA-1 over the sorted peer URLs, then the
    cluster token; the first 8 bytes, big-endian."""
    b = "".join(sorted(urls)).encode() + token.encode()
    return struct.unpack(">Q", hashlib.sha1(b).digest()[:8])[0]


def cluster_id(ids):
    """etcd's RaftCluster.genID: SHA-1 over the sorted member IDs, each as 8
    big-endian bytes; the first 8 bytes, big-endian."""
    b = b"".join(struct.pack(">Q", i) for i in sorted(ids))
    return struct.unpack(">Q", hashlib.sha1(b).digest()[:8])[0]


# ------------------------------------------------------------------ processes

_NAMES = {}


def _unique(name):
    _NAMES[name] = _NAMES.get(name, 0) + 1
    return name if _NAMES[name] == 1 else "%s.%d" % (name, _NAMES[name])


class Proc:
    """A child process; every stdout line is kept raw and parsed as JSON
    (an event). stderr goes to WORKDIR/NAME.log."""

    def __init__(self, name, argv, stdin=True, env=None):
        self.name = _unique(name)
        self.argv = argv
        self.log_path = os.path.join(WORKDIR, self.name + ".log")
        self.raw = []     # every stdout line, as read
        self.seen = []    # parsed events (bad lines as {"event": "unparsable"})
        self.cond = threading.Condition()
        self.eof = False
        self.log = open(self.log_path, "a")
        self.p = subprocess.Popen(argv, stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
                                  stdout=subprocess.PIPE, stderr=self.log,
                                  start_new_session=True, env=env)
        PROCS.append(self)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.p.stdout:
            text = line.decode("utf-8", "replace").rstrip("\n")
            try:
                line.decode("utf-8")  # JSON text is UTF-8 (RFC 8259)
                ev = json.loads(text)
            except ValueError:
                ev = None
            if not isinstance(ev, dict):
                ev = {"event": "unparsable", "line": text}
            ev["_t"] = time.monotonic()
            ev["_raw"] = text
            with self.cond:
                self.raw.append(text)
                self.seen.append(ev)
                self.cond.notify_all()
        with self.cond:
            self.eof = True
            self.cond.notify_all()

    def mark(self):
        with self.cond:
            return len(self.seen)

    def wait(self, pred, what, timeout=5.0, since=None):
        """The first event at or after `since` (default: from now) matching
        pred (a callable, or an event name); Failed after timeout."""
        if isinstance(pred, str):
            kind = pred
            pred = lambda e: e.get("event") == kind  # noqa: E731
        end = time.monotonic() + timeout
        with self.cond:
            i = len(self.seen) if since is None else since
            while True:
                while i < len(self.seen):
                    ev = self.seen[i]
                    i += 1
                    if pred(ev):
                        return ev
                left = end - time.monotonic()
                if left <= 0 or self.eof:
                    raise Failed("%s: no %s within %.1fs%s" % (
                        self.name, what, timeout,
                        " (stdout closed, exit status %s)" % self.p.poll() if self.eof else ""))
                self.cond.wait(min(left, 0.1))

    def events(self, since=0, kind=None):
        with self.cond:
            return [e for e in self.seen[since:] if kind is None or e.get("event") == kind]

    def send(self, obj):
        if isinstance(obj, bytes):
            line = obj
        else:
            line = (obj if isinstance(obj, str) else json.dumps(obj, separators=(",", ":"))).encode()
        try:
            self.p.stdin.write(line + b"\n")
            self.p.stdin.flush()
        except (BrokenPipeError, ValueError, OSError):
            raise Failed("%s: cannot write to its stdin (exit status %s)" % (self.name, self.p.poll()))

    def close_stdin(self):
        try:
            self.p.stdin.close()
        except OSError:
            pass

    def send_signal(self, sig):
        try:
            os.killpg(self.p.pid, sig)
        except ProcessLookupError:
            pass

    def stop(self, sig=signal.SIGTERM, timeout=10):
        if self.p.poll() is None:
            self.send_signal(sig)
            try:
                self.p.wait(timeout)
            except subprocess.TimeoutExpired:
                self.send_signal(signal.SIGKILL)
                self.p.wait()
        return self.p.returncode

    def wait_exit(self, timeout):
        try:
            return self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            raise Failed("%s: still running %.1fs later" % (self.name, timeout))

    def last_events(self, n=15):
        with self.cond:
            evs = self.seen[-n:]
        return "".join("    %s\n" % e["_raw"][:300] for e in evs)

    def tail(self, n=25):
        try:
            with open(self.log_path, errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""

    def stderr_text(self):
        self.log.flush()
        with open(self.log_path, errors="replace") as f:
            return f.read()


class Node(Proc):
    """A `rafthttp node`. Waits for its ready event (the node's own line
    after it binds); .port is its first listen port."""

    def __init__(self, name, args, ready=True, stdin=True):
        if not BIN or not os.access(BIN, os.X_OK):
            raise Failed("rafthttp binary not found or not executable: %r" % BIN)
        # the default --snap-dir is a temp dir under $TMPDIR: keep it in WORKDIR
        env = dict(os.environ, TMPDIR=WORKDIR)
        super().__init__(name, [BIN, "node"] + list(args), stdin=stdin, env=env)
        self.ready = None
        self.port = None
        if ready:
            self.ready = self.wait("ready", "ready event", 15, since=0)
            lst = self.ready.get("listen") or []
            m = re.search(r":(\d+)$", lst[0]) if lst else None
            self.port = int(m.group(1)) if m else None

    def status(self, timeout=5.0):
        m = self.mark()
        self.send({"cmd": "status"})
        return self.wait("status", "status event", timeout, m)

    def peer_status(self, pid, timeout=5.0):
        st = self.status(timeout)
        for p in st.get("peers", []):
            if p.get("id") == pid:
                return p
        return None

    def stop0(self, sig=signal.SIGTERM):
        rc = self.stop(sig)
        if rc != 0:
            raise Failed("%s: exit status %s on %s, want 0" % (self.name, rc, signal.Signals(sig).name))


def node_args(ident, cid, port, peers=(), extra=()):
    a = ["--id", hexid(ident), "--cluster-id", hexid(cid), "--listen", url(port)]
    for pid, purls in peers:
        if isinstance(purls, int):
            purls = url(purls)
        if not isinstance(purls, str):
            purls = ",".join(purls)
        a += ["--peer", "%x=%s" % (pid, purls)]
    return a + list(extra)


def run_cli(args, timeout=10):
    """`rafthttp node ARGS` to completion: (status, stdout, stderr)."""
    if not BIN or not os.access(BIN, os.X_OK):
        raise Failed("rafthttp binary not found or not executable: %r" % BIN)
    try:
        r = subprocess.run([BIN, "node"] + list(args), stdin=subprocess.DEVNULL,
                           capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise Failed("rafthttp node %s: still running after %ds (expected it to exit)"
                     % (" ".join(args), timeout))
    return r.returncode, r.stdout.decode("utf-8", "replace"), r.stderr.decode("utf-8", "replace")


def check_event_lines(procs=None):
    """Every stdout line of every node is a JSON object with a string
    "event" and an RFC 3339 "time" with nanoseconds."""
    n = 0
    for pr in procs or PROCS:
        with pr.cond:
            evs = list(pr.seen)
        for e in evs:
            n += 1
            if e.get("event") == "unparsable":
                raise Failed("%s: stdout line is not a JSON object: %r" % (pr.name, e["_raw"][:300]))
            if not isinstance(e.get("event"), str):
                raise Failed("%s: line without a string \"event\": %r" % (pr.name, e["_raw"][:300]))
            t = e.get("time")
            if not isinstance(t, str) or not TIME_RE.match(t):
                raise Failed("%s: \"time\" is not RFC 3339 with nanoseconds: %r" % (pr.name, e["_raw"][:300]))
    return n


# ------------------------------------------------------------------ raw HTTP

class Resp:
    def __init__(self, status, reason, headers, body):
        self.status, self.reason, self.headers, self.body = status, reason, headers, body

    def h(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def show(self):
        return "%d %s %s body=%r" % (self.status, self.reason,
                                     ["%s: %s" % kv for kv in self.headers], self.body[:300])


def read_response(s, timeout=5, what="response"):
    """One response from socket s (Content-Length, chunked or until close)."""
    s.settimeout(timeout)
    buf = b""
    while b"\r\n\r\n" not in buf:
        try:
            b = s.recv(65536)
        except socket.timeout:
            raise Failed("timed out reading the %s head (have %r)" % (what, buf[:200]))
        except ConnectionResetError:
            raise Failed("connection reset while reading the %s head (have %r)" % (what, buf[:200]))
        if not b:
            raise Failed("connection closed before the %s head (have %r)" % (what, buf[:200]))
        buf += b
    head, rest = buf.split(b"\r\n\r\n", 1)
    hl = head.decode("latin-1").split("\r\n")
    parts = hl[0].split(" ", 2)
    status, reason = int(parts[1]), parts[2] if len(parts) > 2 else ""
    hdrs = [tuple(x.strip() for x in ln.split(":", 1)) for ln in hl[1:] if ":" in ln]
    r = Resp(status, reason, hdrs, b"")
    cl = r.h("Content-Length")

    def more():
        try:
            b = s.recv(65536)
        except (socket.timeout, ConnectionResetError):
            return None
        return b or None

    if cl is not None:
        while len(rest) < int(cl):
            b = more()
            if b is None:
                raise Failed("%s body ended after %d of %s bytes" % (what, len(rest), cl))
            rest += b
        r.body = rest[:int(cl)]
    elif (r.h("Transfer-Encoding") or "").lower() == "chunked":
        out = b""
        while True:
            while b"\r\n" not in rest:
                b = more()
                if b is None:
                    raise Failed("%s: chunked body cut" % what)
                rest += b
            line, rest = rest.split(b"\r\n", 1)
            size = int(line.split(b";")[0], 16)
            while len(rest) < size + 2:
                b = more()
                if b is None:
                    raise Failed("%s: chunked body cut" % what)
                rest += b
            out += rest[:size]
            rest = rest[size + 2:]
            if size == 0:
                break
        r.body = out
    elif status in (204, 304) or 100 <= status < 200:
        r.body = b""
    else:
        while True:
            b = more()
            if b is None:
                break
            rest += b
        r.body = rest
    return r


def http(port, method, path, headers=(), body=b"", timeout=5, content_length=True):
    """One request on a new connection; headers sent exactly as given."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        lines = ["%s %s HTTP/1.1" % (method, path), "Host: 127.0.0.1:%d" % port,
                 "User-Agent: blackbox-test"]
        lines += ["%s: %s" % kv for kv in headers]
        if content_length and (method in ("POST", "PUT") or body):
            lines.append("Content-Length: %d" % len(body))
        lines.append("Connection: close")
        s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        return read_response(s, timeout, "%s %s response" % (method, path))
    finally:
        s.close()


def peer_headers(frm, cid, peer_urls=None, version="3.4.23", min_version="3.0.0"):
    h = [("X-Etcd-Cluster-ID", hexid(cid)), ("X-Server-From", hexid(frm)),
         ("X-Server-Version", version), ("X-Min-Cluster-Version", min_version)]
    if peer_urls:
        h.append(("X-PeerURLs", ",".join(peer_urls)))
    return h


# ------------------------------------------------------------------ Prometheus text

SAMPLE_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$')


def parse_metrics(text):
    """Prometheus text format 0.0.4: {family: type}, [(name, labels, value)].
    Every line must be a comment or a well-formed sample."""
    types, samples = {}, []
    for ln in text.splitlines():
        if not ln:
            continue
        if ln.startswith("# TYPE "):
            parts = ln.split()
            check(len(parts) == 4, "bad TYPE line %r" % ln)
            types[parts[2]] = parts[3]
            continue
        if ln.startswith("#"):
            continue
        m = SAMPLE_RE.match(ln)
        check(m is not None, "not a Prometheus sample line: %r" % ln)
        try:
            v = float(m.group(3))
        except ValueError:
            raise Failed("sample value not a number: %r" % ln)
        labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2) or ""))
        samples.append((m.group(1), labels, v))
    return types, samples


def get_metrics(port):
    r = http(port, "GET", "/metrics")
    check(r.status == 200, "GET /metrics: %s" % r.show())
    check((r.h("Content-Type") or "").startswith("text/plain"),
          "/metrics Content-Type %r, want text/plain (Prometheus text)" % r.h("Content-Type"))
    return parse_metrics(r.body.decode())


def sample(samples, name, **labels):
    for n, lb, v in samples:
        if n == name and all(lb.get(k) == x for k, x in labels.items()):
            return v
    return None


def family_present(types, samples, name, kind):
    if types.get(name) == kind:
        return True
    suffixes = ("_bucket", "_sum", "_count") if kind == "histogram" else ("",)
    return any(n == name + s for n, _, _ in samples for s in suffixes)


# ------------------------------------------------------------------ protobuf (raftpb.Message)

def _uvarint(b, i):
    v = sh = 0
    while True:
        c = b[i]
        i += 1
        v |= (c & 0x7F) << sh
        sh += 7
        if not c & 0x80:
            return v, i


def _varint(v):
    out = bytearray()
    while True:
        c = v & 0x7F
        v >>= 7
        if v:
            out.append(c | 0x80)
        else:
            out.append(c)
            return bytes(out)


def pb_fields(b):
    """[(field, value)] of a protobuf message (varint and length-delimited)."""
    out, i = [], 0
    while i < len(b):
        key, i = _uvarint(b, i)
        f, wt = key >> 3, key & 7
        if wt == 0:
            v, i = _uvarint(b, i)
        elif wt == 2:
            n, i = _uvarint(b, i)
            v, i = b[i:i + n], i + n
        else:
            raise Failed("unexpected protobuf wire type %d" % wt)
        out.append((f, v))
    return out


MSG_FIELDS = {1: "type", 2: "to", 3: "from", 4: "term", 5: "logTerm", 6: "index", 8: "commit",
              10: "reject", 11: "rejectHint", 12: "context"}


def pb_msg(b):
    """The scalar fields of a raftpb.Message, by JSON name."""
    d = {}
    for f, v in pb_fields(b):
        if f in MSG_FIELDS:
            d[MSG_FIELDS[f]] = v
    return d


def pb_encode_msg(typ, to, frm, term=0, index=0, context=None):
    b = _varint(1 << 3) + _varint(typ) + _varint(2 << 3) + _varint(to) + \
        _varint(3 << 3) + _varint(frm) + _varint(4 << 3) + _varint(term) + \
        _varint(6 << 3) + _varint(index)
    if context is not None:
        b += _varint((12 << 3) | 2) + _varint(len(context)) + context
    return b


# ------------------------------------------------------------------ a fake peer (plain HTTP)

class FakePeer:
    """A loopback HTTP server that records every request head (and body, by
    Content-Length) and answers with handler(req) -> (status, headers, body)
    (body None: a chunked response head, then nothing, and the connection
    is never read again: a stalled stream);
    the default answers 404 to stream GETs and 204 to POSTs. Requests are
    dicts: method, path, headers (lowercase names), body, t."""

    def __init__(self, handler=None, port=None):
        self.handler = handler or self.default
        self.reqs = []
        self.cond = threading.Condition()
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port or 0))
        self.port = self.sock.getsockname()[1]
        self.url = url(self.port)
        self.sock.listen(64)
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    @staticmethod
    def default(req):
        """As etcd 3.4 answers: 204 to a POST, 404 to a stream dial from a
        member it does not know; X-Server-Version on both."""
        h = [("X-Server-Version", "3.4.23")]
        if "x-etcd-cluster-id" in req["headers"]:
            h.append(("X-Etcd-Cluster-ID", req["headers"]["x-etcd-cluster-id"]))
        if req["method"] == "POST":
            return 204, h, b""
        return 404, h + [("Content-Type", "text/plain; charset=utf-8")], b"404 page not found\n"

    def _accept(self):
        while not self.closed:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c):
        c.settimeout(10)
        buf = b""
        try:
            while True:
                while b"\r\n\r\n" not in buf:
                    b = c.recv(65536)
                    if not b:
                        return
                    buf += b
                head, buf = buf.split(b"\r\n\r\n", 1)
                lines = head.decode("latin-1").split("\r\n")
                method, path = lines[0].split(" ")[:2]
                hdrs = {}
                for ln in lines[1:]:
                    if ":" in ln:
                        k, v = ln.split(":", 1)
                        hdrs[k.strip().lower()] = v.strip()
                body = b""
                if "content-length" in hdrs:
                    n = int(hdrs["content-length"])
                    while len(buf) < n:
                        b = c.recv(65536)
                        if not b:
                            return
                        buf += b
                    body, buf = buf[:n], buf[n:]
                elif hdrs.get("transfer-encoding", "").lower() == "chunked":
                    while True:
                        while b"\r\n" not in buf:
                            b = c.recv(65536)
                            if not b:
                                return
                            buf += b
                        line, buf = buf.split(b"\r\n", 1)
                        size = int(line.split(b";")[0], 16)
                        while len(buf) < size + 2:
                            b = c.recv(65536)
                            if not b:
                                return
                            buf += b
                        body += buf[:size]
                        buf = buf[size + 2:]
                        if size == 0:
                            break
                req = {"method": method, "path": path, "headers": hdrs, "body": body,
                       "t": time.monotonic()}
                with self.cond:
                    self.reqs.append(req)
                    self.cond.notify_all()
                status, rh, rb = self.handler(req)
                if rb is None:
                    # a stream that never ends and is never read from again
                    out = ["HTTP/1.1 %d OK" % status, "Transfer-Encoding: chunked"] + \
                        ["%s: %s" % kv for kv in rh]
                    c.sendall(("\r\n".join(out) + "\r\n\r\n").encode())
                    while not self.closed:
                        time.sleep(0.1)
                    return
                out = ["HTTP/1.1 %d X" % status, "Content-Length: %d" % len(rb),
                       "Connection: close"] + ["%s: %s" % kv for kv in rh]
                c.sendall(("\r\n".join(out) + "\r\n\r\n").encode() + rb)
                return
        except OSError:
            return
        finally:
            c.close()

    def wait(self, pred, what, timeout=5.0, since=0):
        end = time.monotonic() + timeout
        with self.cond:
            i = since
            while True:
                while i < len(self.reqs):
                    r = self.reqs[i]
                    i += 1
                    if pred(r):
                        return r
                left = end - time.monotonic()
                if left <= 0:
                    raise Failed("fake peer :%d: no %s within %.1fs (got %s)" % (
                        self.port, what, timeout,
                        [(r["method"], r["path"]) for r in self.reqs][-8:]))
                self.cond.wait(min(left, 0.1))

    def mark(self):
        with self.cond:
            return len(self.reqs)

    def close(self):
        self.closed = True
        try:
            self.sock.close()
        except OSError:
            pass


# ------------------------------------------------------------------ messages (JSON)

TYPES = ["MsgHup", "MsgBeat", "MsgProp", "MsgApp", "MsgAppResp", "MsgVote", "MsgVoteResp",
         "MsgSnap", "MsgHeartbeat", "MsgHeartbeatResp", "MsgUnreachable", "MsgSnapStatus",
         "MsgCheckQuorum", "MsgTransferLeader", "MsgTimeoutNow", "MsgReadIndex",
         "MsgReadIndexResp", "MsgPreVote", "MsgPreVoteResp", "MsgStorageAppend",
         "MsgStorageAppendResp", "MsgStorageApply", "MsgStorageApplyResp", "MsgForgetLeader"]


def conf_state(voters=()):
    return {"voters": list(voters), "learners": [], "votersOutgoing": [], "learnersNext": [],
            "autoLeave": False}


def full_msg(typ, to, frm, term=0, logTerm=0, index=0, commit=0, entries=(), reject=False,
             rejectHint=0, context=None, snapshot=None, vote=None, responses=None):
    """A message exactly as docs/json.md prints it (key order included)."""
    m = {"type": typ, "to": to, "from": frm, "term": term, "logTerm": logTerm, "index": index,
         "commit": commit, "entries": list(entries), "reject": reject, "rejectHint": rejectHint}
    if context is not None:
        m["context"] = context
    m["snapshot"] = snapshot or {"metadata": {"index": 0, "term": 0, "confState": conf_state()}}
    if vote is not None:
        m["vote"] = vote
    if responses:
        m["responses"] = responses
    return m


def canon(obj):
    return json.dumps(obj, separators=(",", ":"))


def msg_of(ev):
    """The msg object of a recv event as printed (key order kept)."""
    return ev.get("msg") or {}


def is_recv(typ=None, **fields):
    def pred(e):
        if e.get("event") != "recv":
            return False
        m = e.get("msg") or {}
        if typ is not None and m.get("type") != typ:
            return False
        return all(m.get(k) == v for k, v in fields.items())
    return pred


def b64(s):
    return base64.b64encode(s if isinstance(s, bytes) else s.encode()).decode()


# ------------------------------------------------------------------ running a file

def _cleanup():
    for pr in PROCS:
        try:
            pr.stop(signal.SIGKILL, 2)
        except Exception:
            pass


atexit.register(_cleanup)


def _on_signal(signum, frame):
    print("FAIL interrupted by signal %d; logs in %s" % (signum, WORKDIR), flush=True)
    sys.exit(128 + signum)


for _sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
    signal.signal(_sig, _on_signal)


def _report(msg, procs=None):
    print("FAIL %s" % msg, flush=True)
    for pr in (PROCS if procs is None else procs)[-6:]:
        print("---- %s: %s\n  argv: %s\n  last events:\n%s  log tail (%s):\n%s" % (
            pr.name, "running" if pr.p.poll() is None else "exit status %s" % pr.p.returncode,
            " ".join(pr.argv), pr.last_events() or "    (none)\n", pr.log_path, pr.tail(12)),
            flush=True)
    print("logs kept in %s" % WORKDIR, flush=True)


def main(checks):
    """Runs each check function in order (only those named in BB_ONLY, a
    comma-separated list, when set). A failing check is reported and
    the next one still runs (each starts its own nodes); exit 1 if any
    failed."""
    failed = []
    only = os.environ.get("BB_ONLY")  # e.g. BB_ONLY=cluster_endpoints,metrics_flag
    if only:
        checks = [fn for fn in checks if fn.__name__ in only.split(",")]
    for fn in checks:
        first = len(PROCS)
        try:
            fn()
        except Failed as e:
            _report("%s: %s" % (fn.__name__, e), PROCS[first:])
            failed.append(fn.__name__)
        except Exception as e:  # a bug in the test, or something unexpected
            import traceback
            traceback.print_exc()
            _report("%s: unexpected %s: %s" % (fn.__name__, type(e).__name__, e), PROCS[first:])
            failed.append(fn.__name__)
        # nodes of one check never leak into the next; every node still
        # running must stop cleanly on SIGTERM (exit 0: no sanitizer report)
        bad = []
        for pr in PROCS[first:]:
            if pr.p.poll() is None:
                rc = pr.stop(signal.SIGTERM, 10)
                if rc != 0:
                    bad.append("%s exit status %s on SIGTERM, want 0; log %s:\n%s"
                               % (pr.name, rc, pr.log_path, pr.tail(30)))
        if bad and fn.__name__ not in failed:
            print("FAIL %s: %s" % (fn.__name__, "\n".join(bad)), flush=True)
            failed.append(fn.__name__)
    try:
        n = check_event_lines()
        logs = sum(len(pr.stderr_text().splitlines()) for pr in PROCS)
        check(not PROCS or logs > 0, "no node wrote a log line to stderr")
        ok("all %d stdout lines of %d nodes: JSON objects with \"event\" and an RFC 3339 "
           "nanosecond \"time\"; the logs (%d lines) went to stderr" % (n, len(PROCS), logs))
    except Failed as e:
        _report(str(e), [])
        failed.append("stdout lines")
    _cleanup()
    if failed:
        print("FAIL %s (%.1fs): %s" % (os.path.basename(sys.argv[0]), time.time() - T0,
                                       ", ".join(failed)), flush=True)
        sys.exit(1)
    for pr in PROCS:
        pr.log.close()
    shutil.rmtree(WORKDIR, ignore_errors=True)
    print("PASS %s (%.1fs)" % (os.path.basename(sys.argv[0]), time.time() - T0), flush=True)
