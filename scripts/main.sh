#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The main job, from a fresh Debian 12 machine: install, build (Release),
# then run a three-member session on one machine with `rafthttp node`:
# n1, n2, n3 on 127.0.0.1 (IDs derived from --initial-cluster as etcd does;
# n2 and n3 answer with --reply echo-resp), n1 sends a MsgHeartbeat to each
# and a MsgApp carrying "hello" to n2, the receivers report what arrived, n1
# reports the answers and its status, and all three stop and exit 0.
# Fails (exit 1, saying why) when an expected event does not come within
# DEMO_TIMEOUT seconds (default 10). Everything shown is also kept under
# build/demo/: transcript.txt, nN.events.jsonl, nN.stderr.log.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh --build   # the library's build dependencies only, not the test toolchain
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DRH_GOLDEN=OFF >/dev/null
cmake --build build -j"$(nproc)" --target rafthttp
rm -rf build/demo && mkdir -p build/demo
exec python3 - <<'PY'
import atexit, base64, json, os, signal, socket, subprocess, sys, threading, time

BIN = "build/bin/rafthttp"
DEMO = "build/demo"
TIMEOUT = float(os.environ.get("DEMO_TIMEOUT", "10"))
NAMES = ["n1", "n2", "n3"]
REPLY = {"n1": None, "n2": "echo-resp", "n3": "echo-resp"}

transcript = open(os.path.join(DEMO, "transcript.txt"), "w")
out_lock = threading.RLock()
cond = threading.Condition(out_lock)

def say(line):
    """Print a transcript line (and keep it in build/demo/transcript.txt)."""
    with out_lock:
        print(line, flush=True)
        transcript.write(line + "\n")
        transcript.flush()

class Node:
    def __init__(self, name, argv):
        self.name, self.argv = name, argv
        self.events = []          # parsed events, in order of arrival
        self.id = None
        self.log = open(os.path.join(DEMO, name + ".events.jsonl"), "w")
        self.err = open(os.path.join(DEMO, name + ".stderr.log"), "w")
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.err, text=True, bufsize=1)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for raw in self.proc.stdout:
            line = raw.rstrip("\n")
            self.log.write(line + "\n"); self.log.flush()
            try:
                ev = json.loads(line)
            except ValueError:
                ev = {"event": "<not JSON>", "line": line}
            with cond:
                # the real line, as the node wrote it
                print(f"{self.name} > {line}", flush=True)
                transcript.write(f"{self.name} > {line}\n"); transcript.flush()
                self.events.append(ev)
                cond.notify_all()
        with cond:
            self.events.append({"event": "<end of output>"})
            cond.notify_all()

    def send(self, obj):
        line = json.dumps(obj, separators=(",", ":"))
        say(f"{self.name} < {line}")
        try:
            self.proc.stdin.write(line + "\n")
            self.proc.stdin.flush()
        except OSError as e:
            fail(f"{self.name}: cannot write to its standard input ({e}); "
                 f"exit status {self.proc.poll()}")

    def stderr_tail(self, n=10):
        self.err.flush()
        try:
            with open(os.path.join(DEMO, self.name + ".stderr.log")) as f:
                return f.read().splitlines()[-n:]
        except OSError:
            return []

nodes = {}

def fail(why):
    say(f"FAIL: {why}")
    for n in nodes.values():
        tail = n.stderr_tail()
        if tail:
            say(f"--- last lines of {DEMO}/{n.name}.stderr.log")
            for l in tail:
                say("    " + l)
    cleanup()
    sys.exit(1)

def cleanup():
    for n in list(nodes.values()):
        if n.proc.poll() is None:
            n.proc.kill()
            n.proc.wait()

# whatever happens (a failure, an exception, ^C, SIGTERM), no member outlives us
atexit.register(cleanup)
signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

def expect(node, what, pred, since=0):
    """Wait until `node` has reported an event matching pred (among its
    events from number `since` on); return it."""
    deadline = time.monotonic() + TIMEOUT
    with cond:
        while True:
            for ev in node.events[since:]:
                if pred(ev):
                    return ev
            if node.events and node.events[-1].get("event") == "<end of output>":
                rc = node.proc.wait()
                fail(f"{node.name} exited (status {rc}) before {what}")
            left = deadline - time.monotonic()
            if left <= 0:
                fail(f"{node.name}: no {what} within {TIMEOUT:g} s")
            cond.wait(left)

def is_recv(typ, frm, **fields):
    def pred(ev):
        m = ev.get("msg", {})
        return (ev.get("event") == "recv" and m.get("type") == typ and m.get("from") == frm
                and all(m.get(k) == v for k, v in fields.items()))
    return pred

def free_ports(k):
    socks = []
    for _ in range(k):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports

def hexid(i):
    return format(i, "x")

t0 = time.monotonic()
say("# nN < LINE: written to nN's standard input; nN > LINE: printed by nN on standard output")
say("# 1. three members on 127.0.0.1; IDs derived from --initial-cluster as etcd does")
for attempt in range(3):
    ports = free_ports(3)
    cluster = ",".join(f"{nm}=http://127.0.0.1:{p}" for nm, p in zip(NAMES, ports))
    nodes, taken = {}, False
    for nm in NAMES:
        argv = [BIN, "node", "--name", nm, "--initial-cluster", cluster]
        if REPLY[nm]:
            argv += ["--reply", REPLY[nm]]
        say("$ " + " ".join(argv))
        n = nodes[nm] = Node(nm, argv)
        with cond:
            cond.wait_for(lambda: n.events, TIMEOUT)
        if (n.events and n.events[0].get("event") == "<end of output>"
                and n.proc.wait() == 2 and attempt < 2):
            taken = True    # a port taken since we probed it (exit 2): other ports
            break
        n.id = expect(n, "ready event", lambda ev: ev.get("event") == "ready")["id"]
    if not taken:
        break
    say("# a port was taken meanwhile; again with other ports")
    cleanup()
n1, n2, n3 = nodes["n1"], nodes["n2"], nodes["n3"]
say("# IDs (hex as etcd prints them; events carry them as JSON numbers): "
    + ", ".join(f"{n.name}={hexid(n.id)} ({n.id})" for n in (n1, n2, n3)))

say("# 2. waiting until n1 reports both peers active (then n2 and n3 too)")
for n in (n1, n2, n3):
    for p in (n2, n3, n1):
        if p is not n:
            expect(n, f"peerActive for {p.name} ({hexid(p.id)})",
                   lambda ev, i=p.id: ev.get("event") == "peerActive" and ev.get("id") == i)

say("# 3. n1 sends a MsgHeartbeat to n2 and to n3, and a MsgApp with one entry (\"hello\") "
    "to n2;\n#    n2 and n3 report them (recv), and n1 receives their echo-resp answers")
term = 2
hello = base64.b64encode(b"hello").decode()
n1.send({"type": "MsgHeartbeat", "to": hexid(n2.id), "from": hexid(n1.id), "term": term})
n1.send({"type": "MsgHeartbeat", "to": hexid(n3.id), "from": hexid(n1.id), "term": term})
n1.send({"type": "MsgApp", "to": hexid(n2.id), "from": hexid(n1.id), "term": term,
         "logTerm": term, "index": 6, "commit": 6,
         "entries": [{"term": term, "index": 7, "type": "EntryNormal", "data": hello}]})

expect(n2, "recv MsgHeartbeat from n1", is_recv("MsgHeartbeat", n1.id, term=term))
expect(n3, "recv MsgHeartbeat from n1", is_recv("MsgHeartbeat", n1.id, term=term))
app = expect(n2, "recv MsgApp from n1", is_recv("MsgApp", n1.id, term=term))
ents = app["msg"].get("entries", [])
if len(ents) != 1 or base64.b64decode(ents[0].get("data", "")) != b"hello":
    fail(f"n2 received the MsgApp with entries {ents}, not one entry \"hello\"")
expect(n1, "recv MsgHeartbeatResp from n2", is_recv("MsgHeartbeatResp", n2.id, term=term))
expect(n1, "recv MsgHeartbeatResp from n3", is_recv("MsgHeartbeatResp", n3.id, term=term))
resp = expect(n1, "recv MsgAppResp from n2", is_recv("MsgAppResp", n2.id, term=term))
if resp["msg"].get("index") != 7 or resp["msg"].get("reject"):
    fail(f"n2's MsgAppResp does not accept index 7: {resp['msg']}")

say("# 4. n1's status")
seen = len(n1.events)
n1.send({"cmd": "status"})
st = expect(n1, "status event", lambda ev: ev.get("event") == "status", since=seen)
active = {p.get("id"): p.get("active") for p in st.get("peers", [])}
if active != {n2.id: True, n3.id: True}:
    fail(f"n1's status does not show n2 and n3 active: {st.get('peers')}")

say("# 5. stopping all three")
for n in (n1, n2, n3):
    n.send({"cmd": "stop"})
    try:
        n.proc.stdin.close()
    except OSError:
        pass
for n in (n1, n2, n3):
    try:
        rc = n.proc.wait(TIMEOUT)
    except subprocess.TimeoutExpired:
        fail(f"{n.name} did not exit within {TIMEOUT:g} s of the stop command")
    n.reader.join(TIMEOUT)
    say(f"# {n.name} exited with status {rc}")
    if rc != 0:
        fail(f"{n.name} exited with status {rc}, not 0")
say(f"# OK: three members, messages delivered and answered, clean stop "
    f"({time.monotonic() - t0:.2f} s; logs in {DEMO}/)")
PY
