#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Self-test of the Go interop peer: two gopeers (etcd 3.4's real rafthttp)
# talking to each other over loopback, driven through their JSON Lines
# interface exactly as interop tests drive them.
#
#   selftest.sh BUILD_DIR     (builds BUILD_DIR/bin/gopeer first)
#
# Exits non-zero, with a message saying what failed, on any failure.
# The TLS part needs openssl (a throwaway CA and peer cert, made here).
set -euo pipefail

[ $# -eq 1 ] || {
	echo "usage: selftest.sh BUILD_DIR" >&2
	exit 2
}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
command -v python3 >/dev/null 2>&1 || {
	echo "gopeer/selftest.sh: python3 not found" >&2
	exit 1
}
command -v openssl >/dev/null 2>&1 || {
	echo "gopeer/selftest.sh: openssl not found (needed for the TLS part)" >&2
	exit 1
}
"$here/build.sh" "$1"
bin=$(cd "$1" && pwd)/bin/gopeer

tmp=$(mktemp -d "${TMPDIR:-/tmp}/gopeer-selftest.XXXXXX")
driver=
cleanup() {
	if [ -n "$driver" ]; then
		kill -TERM "$driver" 2>/dev/null || true
	fi
	# The driver records every gopeer it starts; kill whatever is left.
	if [ -f "$tmp/pids" ]; then
		while read -r pid; do
			kill -KILL "$pid" 2>/dev/null || true
		done <"$tmp/pids"
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A throwaway CA and one peer cert (both gopeers use it, as server and as
# client): EC P-256, SAN IP:127.0.0.1, serverAuth+clientAuth.
pki=$tmp/pki
mkdir "$pki"
printf '%s\n' basicConstraints=critical,CA:FALSE keyUsage=critical,digitalSignature \
	extendedKeyUsage=serverAuth,clientAuth subjectAltName=IP:127.0.0.1 >"$pki/peer.ext"
if ! {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$pki/ca.key" -out "$pki/ca.crt" -days 2 -subj /CN=gopeer-selftest-ca \
		-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign &&
		openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
			-keyout "$pki/peer.key" -out "$pki/peer.csr" -subj /CN=gopeer-selftest-peer &&
		openssl x509 -req -in "$pki/peer.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" \
			-set_serial 2 -days 2 -extfile "$pki/peer.ext" -out "$pki/peer.crt"
} >"$pki/openssl.log" 2>&1; then
	echo "gopeer/selftest.sh: FAIL: openssl could not make the test CA/cert:" >&2
	cat "$pki/openssl.log" >&2
	exit 1
fi

# The driver runs in the background so that a signal to this script is
# handled at once (bash runs traps only between foreground commands).
timeout --kill-after=5 90 python3 - "$bin" "$tmp" "$pki" <<'PY' &
import base64, hashlib, json, os, socket, ssl, subprocess, sys, threading, time, urllib.request

BIN, TMP, PKI = sys.argv[1], sys.argv[2], sys.argv[3]
T0 = time.time()
A_ID, B_ID, CID = 0x8e9e05c52164694d, 0x91bc3c398fb3c146, 0xcdf818194e3a8c32
children = []


class Fail(Exception):
    pass


def ok(what):
    print("ok   %5.1fs  %s" % (time.time() - T0, what), flush=True)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class Peer:
    def __init__(self, name, args):
        self.name, self.args = name, args
        self.events, self.bad = [], []
        self.cond = threading.Condition()
        self.err_path = os.path.join(TMP, name + ".stderr")
        self.reader = None
        self.start()

    def start(self):
        if self.reader:  # let the previous process's reader see its EOF first
            self.reader.join(5)
        with self.cond:
            self.events, self.eof = [], False
        self.err = open(self.err_path, "a")
        self.proc = subprocess.Popen([BIN] + self.args, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self.err)
        children.append(self.proc)
        with open(os.path.join(TMP, "pids"), "a") as f:
            f.write("%d\n" % self.proc.pid)
        self.reader = threading.Thread(target=self._read, args=(self.proc,), daemon=True)
        self.reader.start()

    def _read(self, proc):
        for raw in proc.stdout:
            try:
                ev = json.loads(raw)
                assert isinstance(ev, dict) and "event" in ev and "time" in ev
            except Exception:
                self.bad.append(raw)
                continue
            with self.cond:
                if proc is self.proc:
                    self.events.append(ev)
                    self.cond.notify_all()
        with self.cond:
            if proc is self.proc:
                self.eof = True
                self.cond.notify_all()

    def send(self, obj):
        line = obj if isinstance(obj, str) else json.dumps(obj, separators=(",", ":"))
        self.proc.stdin.write(line.encode() + b"\n")
        self.proc.stdin.flush()

    def mark(self):
        with self.cond:
            return len(self.events)

    def wait(self, pred, what, timeout=5.0, since=0):
        deadline = time.time() + timeout
        with self.cond:
            while True:
                for ev in self.events[since:]:
                    if pred(ev):
                        return ev
                left = deadline - time.time()
                if left <= 0 or self.eof:
                    raise Fail("%s: no event for: %s (within %.1fs%s)\n  last events of %s:\n    %s" % (
                        self.name, what, timeout, ", stdout closed" if self.eof else "", self.name,
                        "\n    ".join(json.dumps(e)[:300] for e in self.events[-8:])))
                self.cond.wait(left)

    def status(self):
        m = self.mark()
        self.send({"cmd": "status"})
        return self.wait(lambda e: e["event"] == "status", "status", since=m)

    def stderr_text(self):
        with open(self.err_path) as f:
            return f.read()


def zero_cs():
    return {"voters": [], "learners": [], "votersOutgoing": [], "learnersNext": [], "autoLeave": False}


def full_msg(t, frm, to, term=0, logTerm=0, index=0, commit=0, entries=(), reject=False,
             rejectHint=0, context=None, snapdata=None, sidx=0, sterm=0, cs=None, vote=None, responses=None):
    """A MSG exactly as docs/json.md prints it (key order included)."""
    m = {"type": t, "to": to, "from": frm, "term": term, "logTerm": logTerm, "index": index,
         "commit": commit, "entries": list(entries), "reject": reject, "rejectHint": rejectHint}
    if context is not None:
        m["context"] = context
    snap = {}
    if snapdata is not None:
        snap["data"] = snapdata
    snap["metadata"] = {"index": sidx, "term": sterm, "confState": cs or zero_cs()}
    m["snapshot"] = snap
    if vote is not None:
        m["vote"] = vote
    if responses:
        m["responses"] = responses
    return m


def canon(m):
    return json.dumps(m, separators=(",", ":"))


def b64(s):
    return base64.b64encode(s.encode()).decode()


TYPES = ["MsgHup", "MsgBeat", "MsgProp", "MsgApp", "MsgAppResp", "MsgVote", "MsgVoteResp",
         "MsgSnap", "MsgHeartbeat", "MsgHeartbeatResp", "MsgUnreachable", "MsgSnapStatus",
         "MsgCheckQuorum", "MsgTransferLeader", "MsgTimeoutNow", "MsgReadIndex",
         "MsgReadIndexResp", "MsgPreVote", "MsgPreVoteResp"]


def main():
    pa, pb = free_port(), free_port()
    ua, ub = "http://127.0.0.1:%d" % pa, "http://127.0.0.1:%d" % pb
    snapA, snapB = os.path.join(TMP, "snapA"), os.path.join(TMP, "snapB")
    a = Peer("A", ["--id", "%x" % A_ID, "--cluster-id", "%x" % CID, "--listen", ua,
                   "--peer", "%x=%s" % (B_ID, ub), "--snap-dir", snapA])
    b_args = ["--id", "%x" % B_ID, "--cluster-id", "%x" % CID, "--listen", ub,
              "--peer", "%x=%s" % (A_ID, ua), "--snap-dir", snapB, "--reply", "echo-resp"]
    b = Peer("B", b_args)
    for p, u in ((a, ua), (b, ub)):
        ev = p.wait(lambda e: e["event"] == "ready", "ready")
        if ev.get("listen") != u:
            raise Fail("%s: ready says listen %r, want %r" % (p.name, ev.get("listen"), u))
    ok("both peers ready (A %s, B %s)" % (ua, ub))

    # Streams: peer active on both sides, and both of A's stream writers
    # (msgappv2 and message) attached, so A->B messages take the streams.
    a.wait(lambda e: e["event"] == "peerActive" and e["id"] == B_ID, "peerActive B")
    b.wait(lambda e: e["event"] == "peerActive" and e["id"] == A_ID, "peerActive A")
    deadline = time.time() + 5
    while True:
        log = a.stderr_text()
        if all('"stream-writer-type":"%s"' % t in log and "established TCP streaming connection" in log
               for t in ("stream MsgApp v2", "stream Message")):
            break
        if time.time() > deadline:
            raise Fail("A: its msgappv2 and message stream writers were not both attached within 5s")
        time.sleep(0.05)
    for p, other, ou in ((a, B_ID, ub), (b, A_ID, ua)):
        st = p.status()
        peers = {x["id"]: x for x in st["peers"]}
        x = peers.get(other)
        if not x or x.get("active") is not True or not x.get("activeSince") or x.get("urls") != [ou]:
            raise Fail("%s: status does not show peer %x active: %s" % (p.name, other, json.dumps(st)))
    ok("streams active both ways (status: active, activeSince set)")

    # Every message type 0..18, A -> B, all fields set, IDs given as hex.
    m0b, m0a = b.mark(), a.mark()
    want = {}
    for t, name in enumerate(TYPES):
        ents = []
        if t in (2, 3):
            ents = [{"term": 100 + t, "index": 1001 + t, "type": "EntryNormal", "data": b64("e1-%d" % t)},
                    {"term": 100 + t, "index": 1002 + t, "type": "EntryConfChange", "data": b64("e2-%d" % t)}]
        kw = dict(term=100 + t, logTerm=90 + t, index=1000 + t, commit=900 + t, entries=ents,
                  reject=(t % 2 == 1), rejectHint=t * 7, context=b64("ctx-%d" % t))
        if t == 7:
            kw.update(snapdata=b64("snapdata"), sidx=777, sterm=77,
                      cs={"voters": [A_ID, B_ID], "learners": [5], "votersOutgoing": [],
                          "learnersNext": [], "autoLeave": False})
        exp = full_msg(name, A_ID, B_ID, **kw)
        inp = dict(exp, to="%x" % B_ID, **{"from": "%x" % A_ID})
        want[name] = exp
        a.send(inp)
    for name, exp in want.items():
        ev = b.wait(lambda e: e["event"] == "recv" and e["msg"]["type"] == name, "recv " + name, since=m0b)
        if canon(ev["msg"]) != canon(exp):
            raise Fail("B: recv %s differs:\n  got  %s\n  want %s" % (name, canon(ev["msg"]), canon(exp)))
        via = {"MsgApp": "streamMsgAppV2", "MsgSnap": "pipeline"}.get(name, "streamMsg")
        if ev.get("via") != via:
            raise Fail("B: recv %s came via %r, want %r" % (name, ev.get("via"), via))
    ok("B received all 19 message types 0..18 byte-exact (MSG format), via streamMsg/streamMsgAppV2/pipeline")

    # echo-resp answers from B.
    resp = {
        "MsgHeartbeatResp": full_msg("MsgHeartbeatResp", B_ID, A_ID, term=108, context=b64("ctx-8")),
        "MsgAppResp": full_msg("MsgAppResp", B_ID, A_ID, term=103, index=1005),
        "MsgVoteResp": full_msg("MsgVoteResp", B_ID, A_ID, term=105),
        "MsgPreVoteResp": full_msg("MsgPreVoteResp", B_ID, A_ID, term=117),
    }
    for name, exp in resp.items():
        ev = a.wait(lambda e: e["event"] == "recv" and canon(e["msg"]) == canon(exp),
                    "echo-resp " + canon(exp), since=m0a)
    a.wait(lambda e: e["event"] == "recv" and e["msg"]["type"] == "MsgAppResp" and e["msg"]["index"] == 777,
           "echo-resp MsgAppResp at snapshot index 777", since=m0a)
    a.wait(lambda e: e["event"] == "snapshotStatus" and e["id"] == B_ID and e["status"] == "finish",
           "snapshotStatus finish for the pipelined MsgSnap", since=m0a)
    ok("B's echo-resp answers reached A (heartbeat context echoed, MsgAppResp at last index / snapshot index)")

    # msgappv2 AppEntries frames (the follow-up MsgApp whose index and term
    # the encoder can predict) and fields of newer raft (vote, responses).
    m1 = b.mark()
    fake = full_msg("MsgApp", A_ID, B_ID, term=200, logTerm=200, index=2000, commit=1)
    a.send(fake)       # full frame: sets the encoder's term/index
    # predictable: goes as an AppEntries frame, which carries no context/reject
    a.send(dict(fake, index=2000, commit=2, context=b64("dropped-by-msgappv2"), reject=True,
                entries=[{"term": 200, "index": 2001, "type": "EntryNormal"}]))
    for exp in (fake, full_msg("MsgApp", A_ID, B_ID, term=200, logTerm=200, index=2000, commit=2,
                               entries=[{"term": 200, "index": 2001, "type": "EntryNormal"}])):
        ev = b.wait(lambda e: e["event"] == "recv" and canon(e["msg"]) == canon(exp), "recv " + canon(exp), since=m1)
        if ev["via"] != "streamMsgAppV2":
            raise Fail("B: MsgApp came via %r, want streamMsgAppV2" % ev["via"])
    newer = full_msg("MsgHeartbeat", A_ID, B_ID, term=9, vote=B_ID,
                     responses=[full_msg("MsgAppResp", A_ID, B_ID, term=9, index=3)])
    a.send(newer)
    b.wait(lambda e: e["event"] == "recv" and canon(e["msg"]) == canon(newer), "recv with vote/responses", since=m1)
    ok("msgappv2 AppEntries frame decoded (inferred from/to/term/index); vote/responses pass through")

    # A 1 MiB snapshot on /raft/snapshot.
    data = os.urandom(1 << 20)
    path = os.path.join(TMP, "snap.bin")
    with open(path, "wb") as f:
        f.write(data)
    m2a, m2b = a.mark(), b.mark()
    smsg = full_msg("MsgSnap", A_ID, B_ID, term=7, sidx=4242, sterm=7,
                    cs={"voters": [A_ID, B_ID], "learners": [], "votersOutgoing": [], "learnersNext": [], "autoLeave": False})
    a.send(dict(smsg, snapshotFile=path))
    ev = b.wait(lambda e: e["event"] == "recv" and e["msg"]["type"] == "MsgSnap", "recv MsgSnap (snapshot)", 15, m2b)
    if canon(ev["msg"]) != canon(smsg) or ev.get("via") != "snapshot":
        raise Fail("B: snapshot message differs or wrong via:\n  got  %s\n  want via snapshot, %s" % (json.dumps(ev), canon(smsg)))
    wantf = os.path.join(snapB, "%016x.snap.db" % 4242)
    if ev.get("snapshotFile") != wantf or ev.get("snapshotBytes") != len(data):
        raise Fail("B: snapshotFile/snapshotBytes = %r/%r, want %r/%d" % (ev.get("snapshotFile"), ev.get("snapshotBytes"), wantf, len(data)))
    with open(wantf, "rb") as f:
        got = f.read()
    if hashlib.sha256(got).hexdigest() != hashlib.sha256(data).hexdigest():
        raise Fail("B: %s is not byte-identical to the snapshot sent (%d bytes, want %d)" % (wantf, len(got), len(data)))
    a.wait(lambda e: e["event"] == "snapshotStatus" and e["id"] == B_ID and e["status"] == "finish",
           "snapshotStatus finish", 15, m2a)
    a.wait(lambda e: e["event"] == "recv" and e["msg"]["type"] == "MsgAppResp" and e["msg"]["index"] == 4242,
           "MsgAppResp at 4242", 5, m2a)
    ok("1 MiB snapshot arrived byte-identical (sha256 %s...), snapshotStatus finish" % hashlib.sha256(data).hexdigest()[:16])

    # cutPeer / mendPeer: Go drops the sends silently; gopeer says "dropped".
    a.send({"cmd": "cutPeer", "id": "%x" % B_ID})
    st = a.status()
    if not any(x["id"] == B_ID and x.get("paused") is True for x in st["peers"]):
        raise Fail("A: status after cutPeer does not show B paused: %s" % json.dumps(st))
    m3a, m3b = a.mark(), b.mark()
    cut = full_msg("MsgHeartbeat", A_ID, B_ID, term=31, commit=31)
    a.send(cut)
    a.wait(lambda e: e["event"] == "dropped" and e["id"] == B_ID and "paused" in e["reason"], "dropped (paused)", since=m3a)
    time.sleep(0.3)
    with b.cond:
        if any(e["event"] == "recv" and e["msg"]["term"] == 31 for e in b.events[m3b:]):
            raise Fail("B: received a heartbeat A sent while B was cut")
    a.send({"cmd": "mendPeer", "id": B_ID})
    mended = full_msg("MsgHeartbeat", A_ID, B_ID, term=32, commit=32)
    a.send(mended)
    b.wait(lambda e: e["event"] == "recv" and canon(e["msg"]) == canon(mended), "heartbeat after mendPeer", since=m3b)
    ok("cutPeer drops A's sends to B (dropped event, nothing received), mendPeer restores them")

    # Bad input keeps the node running.
    m3 = a.mark()
    a.send("not json")
    a.wait(lambda e: e["event"] == "error", "error for a bad line", since=m3)
    m3 = a.mark()
    a.send({"cmd": "removePeer", "id": 12345})
    a.wait(lambda e: e["event"] == "error", "error for removePeer of an unknown peer", since=m3)
    m3 = a.mark()
    a.send({"type": "MsgHeartbeat", "to": 12345, "from": "%x" % A_ID})
    a.wait(lambda e: e["event"] == "dropped" and e["id"] == 12345, "dropped (unknown peer)", since=m3)
    ok("bad lines give error events; a message to an unknown peer gives dropped")

    # Kill B, restart it, and see messages flow again both ways.
    m4 = a.mark()
    b.proc.kill()
    b.proc.wait()
    a.wait(lambda e: e["event"] == "peerInactive" and e["id"] == B_ID, "peerInactive B after kill", 5, m4)
    b.start()
    b.wait(lambda e: e["event"] == "ready", "ready after restart", 5)
    deadline, n = time.time() + 10, 0
    while True:
        n += 1
        a.send({"type": "MsgHeartbeat", "to": B_ID, "from": A_ID, "term": 50, "commit": n})
        try:
            b.wait(lambda e: e["event"] == "recv" and e["msg"]["type"] == "MsgHeartbeat", "heartbeat", 0.2)
            break
        except Fail:
            if time.time() > deadline:
                raise Fail("B: no heartbeat from A within 10s of the restart")
    a.wait(lambda e: e["event"] == "recv" and e["msg"]["type"] == "MsgHeartbeatResp" and e["msg"]["term"] == 50,
           "MsgHeartbeatResp from the restarted B", 5, m4)
    deadline = time.time() + 5
    while not any(x["id"] == B_ID and x["active"] for x in a.status()["peers"]):
        if time.time() > deadline:
            raise Fail("A: B not active again within 5s of the restart")
        time.sleep(0.1)
    m5 = b.mark()
    app = full_msg("MsgApp", A_ID, B_ID, term=51, logTerm=50, index=10, commit=10,
                   entries=[{"term": 51, "index": 11, "type": "EntryNormal", "data": b64("again")}])
    deadline = time.time() + 5
    while True:
        a.send(app)
        try:
            b.wait(lambda e: e["event"] == "recv" and canon(e["msg"]) == canon(app), "MsgApp", 0.3, m5)
            break
        except Fail:
            if time.time() > deadline:
                raise Fail("B: no MsgApp from A within 5s after the restart")
    ok("B killed (A saw peerInactive) and restarted: heartbeats, responses and MsgApp flow again (%d heartbeat tries)" % n)

    # Shutdown: B keeps serving after stdin EOF, stops on SIGTERM; A on "stop".
    b.proc.stdin.close()
    time.sleep(0.3)
    if b.proc.poll() is not None:
        raise Fail("B exited (status %s) at stdin EOF; it must keep serving" % b.proc.returncode)
    b.proc.terminate()
    a.send({"cmd": "stop"})
    for p in (a, b):
        try:
            rc = p.proc.wait(5)
        except subprocess.TimeoutExpired:
            raise Fail("%s did not exit within 5s of stop/SIGTERM" % p.name)
        if rc != 0:
            raise Fail("%s exited with status %d, want 0" % (p.name, rc))
    for p in (a, b):
        if p.bad:
            raise Fail("%s printed non-JSON or event-less stdout lines: %r" % (p.name, p.bad[:3]))
    ok("B kept serving after stdin EOF and exited 0 on SIGTERM; A exited 0 on {\"cmd\":\"stop\"}")


def wait_stream_writers(p, timeout=5):
    """Both of p's stream writers (msgappv2 and message) attached."""
    deadline = time.time() + timeout
    while True:
        log = p.stderr_text()
        if all('"stream-writer-type":"%s"' % t in log and "established TCP streaming connection" in log
               for t in ("stream MsgApp v2", "stream Message")):
            return
        if time.time() > deadline:
            raise Fail("%s: its msgappv2 and message stream writers were not both attached within %ds" % (p.name, timeout))
        time.sleep(0.05)


def tls_main():
    """Peer TLS as an etcd member has it: https listeners, client cert auth."""
    ca, crt, key = (os.path.join(PKI, f) for f in ("ca.crt", "peer.crt", "peer.key"))
    tls_flags = ["--peer-cert-file", crt, "--peer-key-file", key, "--peer-trusted-ca-file", ca,
                 "--peer-client-cert-auth"]
    pa, pa2, pb = free_port(), free_port(), free_port()
    ua, ua2, ub = "https://127.0.0.1:%d" % pa, "http://127.0.0.1:%d" % pa2, "https://127.0.0.1:%d" % pb
    # A also listens on plain http (mixed URLs, as etcd allows); B adds the CN check.
    a = Peer("TA", ["--id", "%x" % A_ID, "--cluster-id", "%x" % CID, "--listen", ua, "--listen", ua2,
                    "--peer", "%x=%s" % (B_ID, ub), "--snap-dir", os.path.join(TMP, "snapTA")] + tls_flags)
    b = Peer("TB", ["--id", "%x" % B_ID, "--cluster-id", "%x" % CID, "--listen", ub,
                    "--peer", "%x=%s" % (A_ID, ua), "--snap-dir", os.path.join(TMP, "snapTB"),
                    "--reply", "echo-resp", "--peer-cert-allowed-cn", "gopeer-selftest-peer"] + tls_flags)
    ev = a.wait(lambda e: e["event"] == "ready", "ready")
    if ev.get("listen") != ua or ev.get("urls") != [ua, ua2]:
        raise Fail("TA: ready says %s, want listen %r and urls %r" % (json.dumps(ev), ua, [ua, ua2]))
    ev = b.wait(lambda e: e["event"] == "ready", "ready")
    if ev.get("listen") != ub:
        raise Fail("TB: ready says listen %r, want %r" % (ev.get("listen"), ub))
    ok("TLS: both peers ready (TA %s + %s, TB %s; client cert auth, TB with allowed CN)" % (ua, ua2, ub))

    a.wait(lambda e: e["event"] == "peerActive" and e["id"] == B_ID, "peerActive TB")
    b.wait(lambda e: e["event"] == "peerActive" and e["id"] == A_ID, "peerActive TA")
    wait_stream_writers(a)
    m0a, m0b = a.mark(), b.mark()
    hb = full_msg("MsgHeartbeat", A_ID, B_ID, term=61, commit=61, context=b64("tls"))
    app = full_msg("MsgApp", A_ID, B_ID, term=61, logTerm=60, index=20, commit=20,
                   entries=[{"term": 61, "index": 21, "type": "EntryNormal", "data": b64("over tls")}])
    snp = full_msg("MsgSnap", A_ID, B_ID, term=61, snapdata=b64("tls-snap"), sidx=99, sterm=61)
    for m, via in ((hb, "streamMsg"), (app, "streamMsgAppV2"), (snp, "pipeline")):
        a.send(m)
        ev = b.wait(lambda e: e["event"] == "recv" and canon(e["msg"]) == canon(m), "recv " + m["type"], since=m0b)
        if ev.get("via") != via:
            raise Fail("TB: recv %s came via %r, want %r" % (m["type"], ev.get("via"), via))
    a.wait(lambda e: e["event"] == "recv" and canon(e["msg"]) == canon(
        full_msg("MsgHeartbeatResp", B_ID, A_ID, term=61, context=b64("tls"))), "echo-resp MsgHeartbeatResp", since=m0a)
    a.wait(lambda e: e["event"] == "recv" and e["msg"]["type"] == "MsgAppResp" and e["msg"]["index"] == 21,
           "echo-resp MsgAppResp at 21", since=m0a)
    a.wait(lambda e: e["event"] == "recv" and e["msg"]["type"] == "MsgAppResp" and e["msg"]["index"] == 99,
           "echo-resp MsgAppResp at 99", since=m0a)
    a.wait(lambda e: e["event"] == "snapshotStatus" and e["id"] == B_ID and e["status"] == "finish",
           "snapshotStatus finish", since=m0a)
    ok("TLS: streams active both ways; MsgHeartbeat/MsgApp/MsgSnap arrived via streamMsg/streamMsgAppV2/pipeline, echo-resp answers came back")

    # /version over https with the client cert, and over TA's plain http URL.
    ctx = ssl.create_default_context(cafile=ca)
    ctx.load_cert_chain(crt, key)
    for u, c in ((ua, ctx), (ua2, None)):
        with urllib.request.urlopen(u + "/version", timeout=5, context=c) as r:
            v = json.loads(r.read())
        if v != {"etcdserver": "3.4.23", "etcdcluster": "3.4.0"}:
            raise Fail("TA: GET %s/version gave %r" % (u, v))

    # A client without a certificate is refused; TB says so on stderr.
    ctx = ssl.create_default_context(cafile=ca)
    s = socket.create_connection(("127.0.0.1", pb), timeout=5)
    cport = s.getsockname()[1]
    try:
        with ctx.wrap_socket(s, server_hostname="127.0.0.1") as t:
            t.sendall(b"GET /version HTTP/1.1\r\nHost: x\r\n\r\n")
            got = t.recv(100)
        raise Fail("TB: a client without a certificate was answered: %r" % got)
    except (ssl.SSLError, ConnectionError, OSError) as e:
        if isinstance(e, Fail):
            raise
    want = "gopeer: http: TLS handshake error from 127.0.0.1:%d: tls: client didn't provide a certificate\n" % cport
    deadline = time.time() + 5
    while want not in b.stderr_text():
        if time.time() > deadline:
            raise Fail("TB: stderr has no line %r" % want.strip())
        time.sleep(0.05)
    ok("TLS: /version over https (client cert) and over http on TA; a cert-less client refused, TB's stderr: %s" % want.strip())

    a.send({"cmd": "stop"})
    b.send({"cmd": "stop"})
    for p in (a, b):
        try:
            rc = p.proc.wait(5)
        except subprocess.TimeoutExpired:
            raise Fail("%s did not exit within 5s of stop" % p.name)
        if rc != 0:
            raise Fail("%s exited with status %d, want 0" % (p.name, rc))
        if p.bad:
            raise Fail("%s printed non-JSON or event-less stdout lines: %r" % (p.name, p.bad[:3]))
    ok("TLS: both exited 0 on {\"cmd\":\"stop\"}")


try:
    main()
    tls_main()
    print("selftest: PASS (%.1fs)" % (time.time() - T0))
    rc = 0
except Fail as e:
    print("selftest: FAIL: %s" % e, file=sys.stderr)
    print("selftest: gopeer logs (stderr) are in %s/*.stderr (removed on exit): tail of each:" % TMP, file=sys.stderr)
    for n in ("A", "B", "TA", "TB"):
        p = os.path.join(TMP, n + ".stderr")
        if os.path.exists(p):
            with open(p) as f:
                for l in f.readlines()[-5:]:
                    print("  %s: %s" % (n, l.rstrip()[:300]), file=sys.stderr)
    rc = 1
finally:
    for c in children:
        if c.poll() is None:
            c.kill()
            try:
                c.wait(5)
            except subprocess.TimeoutExpired:
                pass
sys.exit(rc)
PY
driver=$!
rc=0
wait "$driver" || rc=$?
driver=
[ "$rc" -ne 124 ] || echo "gopeer/selftest.sh: FAIL: timed out after 90 s" >&2
exit "$rc"
