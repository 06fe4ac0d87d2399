"""Process harness for interop tests: start members, read their JSON Lines
events with timeouts, send commands, and kill everything at exit.

Every check prints `ok ...`; a failure raises Failed, whose message is
printed with the tail of each member's log, and the script exits 1. A missing
binary is a failure, never a skip.
"""
import atexit
import json
import os
import queue
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


class Proc:
    """A child process; JSON lines on stdout become events."""

    def __init__(self, name, argv, json_events=True, stdin=True):
        self.name = name
        self.argv = argv
        self.log_path = os.path.join(WORKDIR, name + ".log")
        self.events = queue.Queue()
        self.seen = []
        self.lock = threading.Lock()
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
            with self.lock:
                self.seen.append(ev)
            self.events.put(ev)

    def send(self, obj):
        self.p.stdin.write((obj if isinstance(obj, str) else json.dumps(obj)) + "\n")
        self.p.stdin.flush()

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


def main(fn):
    try:
        fn()
    except Failed as e:
        print("FAIL %s" % e, flush=True)
        for pr in PROCS:
            print("---- %s (%s) log tail:\n%s" % (pr.name, pr.log_path, pr.tail()), flush=True)
        _cleanup()
        sys.exit(1)
    _cleanup()
    print("PASS (%.1fs)" % (time.time() - T0))


def http_get(port, path, timeout=5):
    import http.client
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    c.request("GET", path)
    r = c.getresponse()
    body = r.read()
    c.close()
    return r.status, body.decode("utf-8", "replace")
