# SPDX-License-Identifier: Apache-2.0
"""Process harness for interop tests: start members, read their JSON Lines
events with timeouts, send commands, and kill everything at exit.

Every check prints `ok ...`; a failure raises Failed, whose message is
printed with the last events and the log tail of each member, and the script
exits 1 (the logs stay in WORKDIR, which is removed after a PASS). A missing
binary is a failure, never a skip. Children run in their own sessions and are
killed at exit, also when the script itself gets SIGTERM/SIGINT/SIGHUP (as
from timeout(1)).

Events: every stdout line of a member is parsed as JSON and gets "_t", the
time.monotonic() at which the harness read it. Proc.mark() / Proc.wait(pred,
what, timeout, since=mark) look through everything seen since a mark, so no
event is lost to an earlier wait; wait_event() is the older queue form.
"""
import atexit
import json
import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

T0 = time.time()
PROCS = []
WORKDIR = tempfile.mkdtemp(prefix="rafthttp-interop-")


class Failed(Exception):
    pass


def make_certs():
    """tests/tls/make-certs.sh into the work dir (once); its path."""
    d = os.path.join(WORKDIR, "certs")
    if os.path.exists(os.path.join(d, "ca.pem")):
        return d
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tls", "make-certs.sh")
    p = subprocess.run(["bash", script, d], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True)
    if p.returncode != 0:
        raise Failed("tests/tls/make-certs.sh failed (%d): %s" % (p.returncode, p.stdout[-500:]))
    return d


def tls_flags(certs, member, prefix="--peer-"):
    """Mutual peer TLS flags for a member's certificate (make_certs' mN), as
    etcd names them (prefix "--peer-"; gopeer and the C node take these) or
    the node spec does ("--")."""
    return [prefix + "cert-file", os.path.join(certs, member + ".pem"),
            prefix + "key-file", os.path.join(certs, member + "-key.pem"),
            prefix + "trusted-ca-file", os.path.join(certs, "ca.pem"),
            prefix + "client-cert-auth"]


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def ok(what):
    print("ok   %5.1fs  %s" % (time.time() - T0, what), flush=True)


def need_binary(path, what):
    if not path or not os.access(path, os.X_OK):
        raise Failed("%s not found or not executable: %r" % (what, path))


_NAMES = {}


def _unique(name):
    _NAMES[name] = _NAMES.get(name, 0) + 1
    return name if _NAMES[name] == 1 else "%s.%d" % (name, _NAMES[name])


class Proc:
    """A child process; JSON lines on stdout become events. Each Proc gets a
    log file of its own (WORKDIR/NAME.log, NAME.2.log, ... when a name is
    used again, e.g. for a restarted member)."""

    def __init__(self, name, argv, json_events=True, stdin=True):
        self.name = _unique(name)
        self.argv = argv
        self.log_path = os.path.join(WORKDIR, self.name + ".log")
        self.events = queue.Queue()
        self.seen = []
        self.lock = threading.Lock()
        self.cond = threading.Condition(self.lock)
        self.eof = False
        self.started = time.monotonic()
        self.log = open(self.log_path, "a")
        self.p = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            stdout=subprocess.PIPE if json_events else self.log,
            stderr=self.log,
            text=True,
            start_new_session=True,
        )
        PROCS.append(self)
        if json_events:
            threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.p.stdout:
            line = line.strip()
            if not line:
                continue
            try:
                ev = json.loads(line)
            except ValueError:
                ev = {"event": "unparsable", "line": line}
            if not isinstance(ev, dict):
                ev = {"event": "unparsable", "line": line}
            ev["_t"] = time.monotonic()
            with self.lock:
                self.seen.append(ev)
                self.cond.notify_all()
            self.events.put(ev)
        with self.lock:
            self.eof = True
            self.cond.notify_all()

    def mark(self):
        """A position in the event list, for wait(since=...)."""
        with self.lock:
            return len(self.seen)

    def wait(self, pred, what, timeout=5.0, since=None):
        """The first event at or after `since` (default: the latest mark is
        not kept, so: from now) matching pred; Failed after timeout."""
        end = time.monotonic() + timeout
        with self.lock:
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
                self.cond.wait(min(left, 0.2))

    def events_since(self, since=0, kind=None):
        with self.lock:
            return [e for e in self.seen[since:] if kind is None or e.get("event") == kind]

    def status(self, timeout=5.0):
        """Sends {"cmd":"status"} and returns the status event."""
        m = self.mark()
        self.send({"cmd": "status"})
        return self.wait(lambda e: e.get("event") == "status", "status event", timeout, m)

    def kill(self):
        """SIGKILL, wait."""
        return self.stop(signal.SIGKILL, 5)

    def last_events(self, n=12):
        with self.lock:
            evs = self.seen[-n:]
        return "".join("    %s\n" % json.dumps({k: v for k, v in e.items() if k != "_t"})[:400]
                       for e in evs)

    def send(self, obj):
        line = obj if isinstance(obj, str) else json.dumps(obj, separators=(",", ":"))
        try:
            self.p.stdin.write(line + "\n")
            self.p.stdin.flush()
        except (BrokenPipeError, ValueError):
            raise Failed("%s: cannot write to its stdin (exit status %s)" % (self.name, self.p.poll()))

    def wait_event(self, pred, timeout, what, past=False):
        """Next event matching pred; with past=True also one seen earlier."""
        if past:
            for ev in self.all_events():
                if pred(ev):
                    return ev
        end = time.time() + timeout
        while True:
            left = end - time.time()
            if left <= 0:
                raise Failed("%s: timed out after %.1fs waiting for %s" % (self.name, timeout, what))
            try:
                ev = self.events.get(timeout=min(left, 0.2))
            except queue.Empty:
                if self.p.poll() is not None:
                    raise Failed("%s exited (status %s) while waiting for %s"
                                 % (self.name, self.p.returncode, what))
                continue
            if pred(ev):
                return ev

    def all_events(self):
        with self.lock:
            return list(self.seen)

    def stop(self, sig=signal.SIGTERM, timeout=10):
        if self.p.poll() is None:
            try:
                os.killpg(self.p.pid, sig)
            except ProcessLookupError:
                pass
            try:
                self.p.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.p.pid, signal.SIGKILL)
                self.p.wait()
        return self.p.returncode

    def tail(self, n=25):
        try:
            with open(self.log_path) as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""


def _cleanup():
    for pr in PROCS:
        try:
            pr.stop(signal.SIGKILL, 2)
        except Exception:
            pass


atexit.register(_cleanup)


def _on_signal(signum, frame):
    # SystemExit unwinds main(); atexit then kills the children
    print("FAIL interrupted by signal %d; logs in %s" % (signum, WORKDIR), flush=True)
    sys.exit(128 + signum)


for _sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
    signal.signal(_sig, _on_signal)


def _report(msg):
    print("FAIL %s" % msg, flush=True)
    for pr in PROCS:
        evs = pr.last_events() if pr.seen else ""
        print("---- %s: %s\n  argv: %s\n  last events:\n%s  log tail (%s):\n%s" % (
            pr.name, "running" if pr.p.poll() is None else "exit status %s" % pr.p.returncode,
            " ".join(pr.argv), evs or "    (none)\n", pr.log_path, pr.tail()), flush=True)
    print("logs kept in %s" % WORKDIR, flush=True)


def main(fn):
    try:
        fn()
    except Failed as e:
        _report(e)
        _cleanup()
        sys.exit(1)
    except Exception as e:  # a bug in the test, or something unexpected
        import traceback
        traceback.print_exc()
        _report("unexpected %s: %s" % (type(e).__name__, e))
        _cleanup()
        sys.exit(1)
    _cleanup()
    for pr in PROCS:
        pr.log.close()
    shutil.rmtree(WORKDIR, ignore_errors=True)
    print("PASS (%.1fs)" % (time.time() - T0))


def http_get(port, path, timeout=5):
    import http.client
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    c.request("GET", path)
    r = c.getresponse()
    body = r.read()
    c.close()
    return r.status, body.decode("utf-8", "replace")


class Proxy:
    """A TCP proxy in front of a member's URL, for tests that cut links
    (additive helper; nothing above uses it).

    Each accepted connection is classified by its first request line:
    "stream" (GET /raft/stream/...), "pipeline" (POST /raft), "snapshot"
    (POST /raft/snapshot), "probing" (GET /raft/probing) or "other", and then
    forwarded byte for byte to 127.0.0.1:TARGET_PORT (while the member is not
    listening yet, the proxy keeps trying for `patience` seconds, so a member
    started after its peer does not make that peer's first dial fail; a real
    network would hold the SYN). block(kind...) makes
    new connections of those kinds close right after their first line is
    read (the dialer sees the connection closed before any response);
    cut(kind...) closes the open ones (both sides see EOF); kill() closes the
    listener too, so dials get "connection refused". accepted[kind] and
    refused[kind] count connections, up[kind]/down[kind] bytes forwarded
    (client -> member / member -> client), and probes counts
    "GET /raft/probing" requests seen in any client -> member byte stream
    (keep-alive connections included)."""

    KINDS = ("stream", "pipeline", "snapshot", "probing", "other")
    PROBE = b"GET /raft/probing "

    def __init__(self, target_port, name="proxy", patience=3.0):
        self.target = ("127.0.0.1", target_port)
        self.name = name
        self.patience = patience
        self.lock = threading.Lock()
        self.blocked = set()
        self.conns = []  # [kind, client socket, member socket]
        self.accepted = {k: 0 for k in self.KINDS}
        self.refused = {k: 0 for k in self.KINDS}
        self.up = {k: 0 for k in self.KINDS}
        self.down = {k: 0 for k in self.KINDS}
        self.probes = 0
        self.dead = False
        self.closed = threading.Event()
        self.ls = socket.socket()
        self.ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.ls.bind(("127.0.0.1", 0))
        self.ls.listen(128)
        self.ls.settimeout(0.1)
        self.port = self.ls.getsockname()[1]
        self.url = "http://127.0.0.1:%d" % self.port
        threading.Thread(target=self._accept, daemon=True).start()

    def __repr__(self):
        return "%s(:%d -> :%d)" % (self.name, self.port, self.target[1])

    @staticmethod
    def _shut(s):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _accept(self):
        while not self.dead:
            try:
                c, _ = self.ls.accept()
            except socket.timeout:
                continue
            except OSError:
                break
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()
        self.ls.close()
        self.closed.set()

    @staticmethod
    def classify(buf):
        line = buf.split(b"\r\n", 1)[0]
        if line.startswith(b"GET /raft/stream/"):
            return "stream"
        if line.startswith(b"POST /raft/snapshot"):
            return "snapshot"
        if line.startswith(b"POST /raft "):
            return "pipeline"
        if line.startswith(b"GET /raft/probing"):
            return "probing"
        return "other"

    def _serve(self, c):
        c.settimeout(10)
        buf = b""
        try:
            while b"\r\n" not in buf and len(buf) < 65536:
                d = c.recv(65536)
                if not d:
                    break
                buf += d
        except OSError:
            pass
        if b"\r\n" not in buf:
            self._shut(c)
            c.close()
            return
        kind = self.classify(buf)
        with self.lock:
            refuse = self.dead or kind in self.blocked
            if refuse:
                self.refused[kind] += 1
        if refuse:
            self._shut(c)
            c.close()
            return
        u = None
        end = time.monotonic() + self.patience
        while u is None:
            try:
                u = socket.create_connection(self.target, timeout=2)
            except OSError:
                if self.dead or time.monotonic() > end:
                    self._shut(c)
                    c.close()
                    return
                time.sleep(0.02)
        c.settimeout(None)
        u.settimeout(None)
        ent = [kind, c, u]
        with self.lock:
            if self.dead:
                ent = None
            else:
                self.conns.append(ent)
                self.accepted[kind] += 1
        if ent is None:
            for s in (c, u):
                self._shut(s)
                s.close()
            return
        t = threading.Thread(target=self._pump, args=(u, c, kind, False), daemon=True)
        t.start()
        try:
            u.sendall(buf)
            with self.lock:
                self.up[kind] += len(buf)
                self.probes += buf.count(self.PROBE)
            self._pump(c, u, kind, True, buf[-len(self.PROBE):])
        except OSError:
            self._shut(c)
            self._shut(u)
        t.join()
        with self.lock:
            if ent in self.conns:
                self.conns.remove(ent)
        c.close()
        u.close()

    def _pump(self, src, dst, kind, upward, tail=b""):
        try:
            while True:
                d = src.recv(65536)
                if not d:
                    break
                dst.sendall(d)
                with self.lock:
                    if upward:
                        self.up[kind] += len(d)
                        both = tail + d
                        # count each request once: only matches ending in d
                        self.probes += both.count(self.PROBE) - tail.count(self.PROBE)
                        tail = both[-len(self.PROBE):]
                    else:
                        self.down[kind] += len(d)
        except OSError:
            pass
        self._shut(src)
        self._shut(dst)

    def block(self, *kinds):
        with self.lock:
            self.blocked |= set(kinds)

    def unblock(self, *kinds):
        with self.lock:
            self.blocked -= set(kinds)

    def cut(self, *kinds):
        """Closes the open connections of these kinds (all when none given)."""
        with self.lock:
            victims = [e for e in self.conns if not kinds or e[0] in kinds]
        for _, c, u in victims:
            self._shut(c)
            self._shut(u)
        return len(victims)

    def open(self, kind):
        with self.lock:
            return len([e for e in self.conns if e[0] == kind])

    def kill(self):
        """Stops listening (dials are refused) and closes every connection."""
        with self.lock:
            self.dead = True
        self.closed.wait(5)
        self.cut()

    def stats(self):
        with self.lock:
            return {"accepted": {k: v for k, v in self.accepted.items() if v},
                    "refused": {k: v for k, v in self.refused.items() if v},
                    "open": {k: n for k, n in ((k, len([e for e in self.conns if e[0] == k]))
                                               for k in self.KINDS) if n}}
