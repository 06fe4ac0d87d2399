#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Commands and events of `rafthttp node`, black-box
(docs/node-cli.md "Standard input", "Standard output: events").

usage: test_peers.py RAFTHTTP_BIN

- peerActive / status (id, active, activeSince, urls) / peerInactive (with a
  reason) / unreachable as a peer comes and goes;
- addPeer, updatePeer, removePeer, addRemote, cutPeer, mendPeer, pause,
  resume, each observed on the wire (what arrives, what does not);
- dropped: to an unknown member, to 0, to a peer whose stream is stalled
  (writer queue full);
- critical "member removed": a peer answering 410 (markRemoved, the node's
  extra command for tests), and back after unmarkRemoved;
- peers are added before the port serves (no unknown-peer 404 at first);
- bad input lines (also invalid UTF-8): one error event each, the node
  keeps running;
- end of input: the node keeps serving until SIGTERM / SIGINT / stop, then
  exits 0.
"""
import json
import os
import re
import signal
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bb import (TIME_RE, Failed, Node, b64, check, free_port, hexid, http, main,  # noqa
                node_args, ok, url)

A, B, C, CID = 0xa, 0xbbbbbbbbbbbbbbbb, 0xc, 0xc1d
UNKNOWN = 0x99


def hb(to, frm, term):
    return {"type": "MsgHeartbeat", "to": to, "from": frm, "term": term}


def delivered(src, dst, to, frm, term, timeout=5, what=None):
    """src sends a heartbeat; dst must report it."""
    m = dst.mark()
    src.send(hb(to, frm, term))
    return dst.wait(lambda e: e.get("event") == "recv" and e["msg"].get("term") == term,
                    what or "heartbeat term %d" % term, timeout, m)


def not_delivered(src, dst, to, frm, term, wait=0.7, what=""):
    m = dst.mark()
    src.send(hb(to, frm, term))
    time.sleep(wait)
    got = [e for e in dst.events(m, "recv") if e["msg"].get("term") == term]
    check(not got, "%s: heartbeat term %d arrived: %s" % (what, term, got[:1]))


def active(node, pid, timeout=5, since=0):
    return node.wait(lambda e: e.get("event") == "peerActive" and e.get("id") == pid,
                     "peerActive %x" % pid, timeout, since)


def is_time(s):
    return isinstance(s, str) and TIME_RE.match(s) is not None


# ---------------------------------------------------------------- checks

def peer_lifecycle():
    pa, pb = free_port(), free_port()
    a = Node("a", node_args(A, CID, pa, [(B, pb)]))
    st = a.peer_status(B)
    check(st is not None and st.get("active") is False and st.get("urls") == [url(pb)],
          "status before b runs: %r; want b with active false and its URL" % st)
    check("activeSince" not in st or st["activeSince"] in (None, "", "0001-01-01T00:00:00Z"),
          "an inactive peer has activeSince %r" % st.get("activeSince"))
    ok("status before b runs: b listed with active false, urls [%s]" % url(pb))

    t_before = time.time()
    b = Node("b", node_args(B, CID, pb, [(A, pa)]))
    ea = active(a, B)
    eb = active(b, A)
    st = a.status()
    check(isinstance(st.get("peers"), list) and len(st["peers"]) == 1, "status %r" % st)
    p = st["peers"][0]
    check(p.get("id") == B and p.get("active") is True and p.get("urls") == [url(pb)] and is_time(p.get("activeSince")),
          "status with b up: %r; want id %d, active true, activeSince RFC 3339, urls [%s]" % (p, B, url(pb)))
    since = p["activeSince"]
    check(since[:19] >= time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t_before - 2)),
          "activeSince %s is before b started" % since)
    ok("peerActive on both sides (a: %x, b: %x); status: active true, activeSince %s, urls" % (ea["id"], eb["id"], since))

    delivered(a, b, B, A, 11)
    ok("a -> b delivered while active")

    b.stop(signal.SIGKILL)
    ev = a.wait(lambda e: e.get("event") == "peerInactive" and e.get("id") == B, "peerInactive b", 8, 0)
    check(isinstance(ev.get("reason"), str) and ev["reason"].strip(),
          "peerInactive without a reason: %s" % ev["_raw"])
    st = a.peer_status(B)
    check(st and st.get("active") is False, "status after b died: %r" % st)
    ok("b killed: a reports peerInactive %x, reason %r; status active false" % (B, ev["reason"]))

    m = a.mark()
    for k in range(3):
        a.send(hb(B, A, 20 + k))
        time.sleep(0.1)
    a.wait(lambda e: e.get("event") == "unreachable" and e.get("id") == B, "unreachable b", 5, m)
    ok("sending to the dead b: unreachable %x" % B)

    # b back: active again
    m = a.mark()
    b = Node("b", node_args(B, CID, pb, [(A, pa)]))
    active(a, B, 8, m)
    delivered(a, b, B, A, 30)
    ok("b restarted: peerActive again and a -> b delivered")
    a.stop0()
    b.stop0()


def add_update_remove():
    pa, pb = free_port(), free_port()
    a = Node("a", node_args(A, CID, pa))
    b = Node("b", node_args(B, CID, pb, [(A, pa)]))
    st = a.status()
    check(st.get("peers") == [], "a started without peers: status %r" % st)

    m = a.mark()
    a.send({"cmd": "addPeer", "id": B, "urls": [url(pb)]})
    active(a, B, 5, m)
    active(b, A, 5)
    st = a.peer_status(B)
    check(st and st.get("urls") == [url(pb)], "status after addPeer: %r" % st)
    delivered(a, b, B, A, 40)
    ok("addPeer (id as number): peerActive, status lists it, a -> b delivered")

    # updatePeer: c (which does not know a, so never dials it) first added
    # at a dead URL, then moved to where it runs
    pc, pc2, dead = free_port(), free_port(), free_port()
    c = Node("c", node_args(C, CID, pc, [], ["--listen", url(pc2)]))
    m = a.mark()
    a.send({"cmd": "addPeer", "id": hexid(C), "urls": [url(dead)]})
    a.send(hb(C, A, 50))
    a.wait(lambda e: e.get("event") == "unreachable" and e.get("id") == C, "unreachable c (dead URL)", 5, m)
    st = a.peer_status(C)
    check(st and st.get("urls") == [url(dead)] and st.get("active") is False, "c at a dead URL: %r" % st)
    check(not c.events(0, "recv"), "c received something while a had it at a dead URL")
    m = a.mark()
    a.send({"cmd": "updatePeer", "id": C, "urls": [url(pc), url(pc2)]})
    time.sleep(0.2)
    ev = delivered(a, c, C, A, 51)
    active(a, C, 5, m)
    st = a.peer_status(C)
    # (not "active": c answers a's stream dials 404, which marks it inactive
    # again until the next pipeline success, as in etcd)
    check(st and st.get("urls") == [url(pc), url(pc2)], "status after updatePeer: %r" % st)
    ok("addPeer (id as hex string) at a dead URL: unreachable, inactive; updatePeer to its two real URLs"
       ": delivered (via %s), peerActive, status urls updated" % ev.get("via"))

    # removePeer: gone from status, b notices a's streams go. (A message to
    # b may still arrive afterwards: b redials, a learns b as a remote from
    # that request, as etcd's stream handler does, and sends there.)
    mb = b.mark()
    a.send({"cmd": "removePeer", "id": B})
    st = a.status()
    check([p["id"] for p in st.get("peers", [])] == [C], "status after removePeer b: %r" % st)
    b.wait(lambda e: e.get("event") == "peerInactive" and e.get("id") == A, "b: peerInactive a after removePeer", 8, mb)
    ok("removePeer b: gone from a's status; b sees a's streams go (peerInactive)")

    # removePeer of a member that never contacts a (so a learns no remote):
    # sends to it are dropped
    pr, R = free_port(), 0xee
    r = Node("r", node_args(R, CID, pr))
    a.send({"cmd": "addPeer", "id": R, "urls": [url(pr)]})
    ev = delivered(a, r, R, A, 61)
    a.send({"cmd": "removePeer", "id": hexid(R)})
    st = a.status()
    check(R not in [p["id"] for p in st.get("peers", [])], "status after removePeer r: %r" % st)
    m2 = a.mark()
    not_delivered(a, r, R, A, 62, wait=0.5, what="a -> r after removePeer r")
    ev = a.wait("dropped", "dropped for the removed peer", 5, m2)
    check(ev.get("id") == R and ev.get("type") == "MsgHeartbeat" and ev.get("reason"),
          "dropped %s; want id %d type MsgHeartbeat and a reason" % (ev["_raw"], R))
    r.stop0()
    ok("removePeer r (hex id; r never dials a): gone from status, a message to it is dropped (reason %r), "
       "not delivered" % ev["reason"])

    # addRemote: pipeline only, to a member a does not otherwise know
    pd = free_port()
    d_id = 0xdd
    d = Node("d", node_args(d_id, CID, pd))
    a.send({"cmd": "addRemote", "id": d_id, "urls": [url(pd)]})
    time.sleep(0.2)
    ev = delivered(a, d, d_id, A, 70)
    check(ev.get("via") == "pipeline", "to a remote: via %r, want pipeline" % ev.get("via"))
    ev = delivered(a, d, d_id, A, 71)
    check(ev.get("via") == "pipeline", "to a remote (again): via %r, want pipeline" % ev.get("via"))
    ok("addRemote: messages to the remote arrive via pipeline")

    # command errors: an error event each, state unchanged
    bad = [({"cmd": "addPeer", "id": C, "urls": [url(pc)]}, "addPeer of a known peer"),
           ({"cmd": "addPeer", "id": A, "urls": [url(pa)]}, "addPeer of the local member"),
           ({"cmd": "addPeer", "id": 0x77}, "addPeer without urls"),
           ({"cmd": "addPeer", "urls": [url(pc)]}, "addPeer without id"),
           ({"cmd": "addPeer", "id": 0, "urls": [url(pc)]}, "addPeer id 0"),
           ({"cmd": "addPeer", "id": "xyz", "urls": [url(pc)]}, "addPeer id xyz"),
           ({"cmd": "addPeer", "id": 0x77, "urls": []}, "addPeer with no URLs"),
           ({"cmd": "addPeer", "id": 0x77, "urls": ["ftp://127.0.0.1:1"]}, "addPeer with a bad URL"),
           ({"cmd": "updatePeer", "id": 0x77, "urls": [url(pc)]}, "updatePeer of an unknown peer"),
           ({"cmd": "removePeer", "id": 0x77}, "removePeer of an unknown peer"),
           ({"cmd": "addRemote", "id": 0x78, "urls": ["nope"]}, "addRemote with a bad URL"),
           ({"cmd": "cutPeer"}, "cutPeer without id")]
    for line, what in bad:
        m = a.mark()
        a.send(line)
        ev = a.wait(lambda e: e.get("event") in ("error", "status"), "error event for %s" % what, 5, m)
        check(ev.get("event") == "error" and isinstance(ev.get("error"), str) and ev["error"],
              "%s: %s, want an error event" % (what, ev["_raw"]))
    st = a.status()
    check(sorted(p["id"] for p in st.get("peers", [])) == [C], "status after the bad commands: %r" % st)
    delivered(a, c, C, A, 80)
    ok("%d bad commands (known/local/unknown peer, missing or bad id, urls, URL): an error event each, "
       "peers unchanged, still delivering" % len(bad))
    for n in (a, b, c, d):
        n.stop0()


def cut_mend_pause_resume():
    pa, pb, pc = free_port(), free_port(), free_port()
    a = Node("a", node_args(A, CID, pa, [(B, pb), (C, pc)]))
    b = Node("b", node_args(B, CID, pb, [(A, pa)]))
    c = Node("c", node_args(C, CID, pc, [(A, pa)]))
    for pid in (B, C):
        active(a, pid)
    active(b, A)
    active(c, A)
    delivered(a, b, B, A, 1)
    delivered(a, c, C, A, 2)

    a.send({"cmd": "cutPeer", "id": 0x77})  # not a peer: cuts no one
    time.sleep(0.1)
    delivered(a, b, B, A, 101, what="a -> b after cutPeer of an unknown ID")
    delivered(a, c, C, A, 102, what="a -> c after cutPeer of an unknown ID")
    ok("cutPeer of an ID that is not a peer: b and c unaffected")

    a.send({"cmd": "cutPeer", "id": B})
    time.sleep(0.1)
    not_delivered(a, b, B, A, 3, what="a -> b after cutPeer b")
    not_delivered(b, a, A, B, 4, wait=0.3, what="b -> a after cutPeer b on a")
    delivered(a, c, C, A, 5, what="a -> c while b is cut")
    ok("cutPeer b: a's messages to b and b's to a are not delivered; c unaffected")
    a.send({"cmd": "mendPeer", "id": hexid(B)})
    time.sleep(0.2)
    delivered(a, b, B, A, 6, what="a -> b after mendPeer")
    delivered(b, a, A, B, 7, what="b -> a after mendPeer")
    ok("mendPeer b (hex id): both directions delivered again")

    a.send({"cmd": "pause"})
    time.sleep(0.1)
    not_delivered(a, b, B, A, 8, wait=0.3, what="a -> b after pause")
    not_delivered(a, c, C, A, 9, wait=0.3, what="a -> c after pause")
    not_delivered(c, a, A, C, 10, wait=0.4, what="c -> a after pause")
    ok("pause: nothing to or from b and c is delivered")
    a.send({"cmd": "resume"})
    time.sleep(0.2)
    delivered(a, b, B, A, 11, what="a -> b after resume")
    delivered(a, c, C, A, 12, what="a -> c after resume")
    delivered(c, a, A, C, 13, what="c -> a after resume")
    ok("resume: both peers delivered again, both directions")
    for n in (a, b, c):
        n.stop0()


def peers_before_serving():
    """Spec: "The node adds its peers before it starts serving, so a peer's
    first dial never meets an unknown-peer 404." A dialer hammers the port
    before the node starts; its first answered stream dial must be 200."""
    pa, F = free_port(), 0xf0
    res = {}

    def hammer():
        end = time.monotonic() + 10
        while time.monotonic() < end:
            try:
                s = socket.create_connection(("127.0.0.1", pa), timeout=2)
            except OSError:
                time.sleep(0.001)
                continue
            try:
                s.sendall(("GET /raft/stream/message/%x HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Etcd-Cluster-ID: %x\r\n"
                           "X-Server-From: %x\r\nX-Server-Version: 3.4.23\r\nX-Raft-To: %x\r\n\r\n"
                           % (F, CID, F, A)).encode())
                res["first"] = s.recv(200)
            except OSError as e:
                res["first"] = repr(e).encode()
            s.close()
            return

    t = threading.Thread(target=hammer, daemon=True)
    t.start()
    time.sleep(0.05)
    a = Node("a", node_args(A, CID, pa, [(F, free_port())]))
    t.join(10)
    first = res.get("first", b"")
    check(first.startswith(b"HTTP/1.1 200"), "the first stream dial answered: %r; want 200 (peers are added "
          "before serving)" % first[:100])
    a.stop0()
    ok("a stream dial made the moment the port opens: 200, never an unknown-peer 404")


def dropped():
    pa, pb = free_port(), free_port()
    a = Node("a", node_args(A, CID, pa, [(B, pb)]))
    for to, typ in ((UNKNOWN, "MsgApp"), (hexid(UNKNOWN + 1), "MsgVote"), (0, "MsgHeartbeat")):
        m = a.mark()
        a.send({"type": typ, "to": to, "from": A, "term": 1})
        ev = a.wait("dropped", "dropped for to=%r" % to, 5, m)
        want_id = to if isinstance(to, int) else int(to, 16)
        check(ev.get("id") == want_id and ev.get("type") == typ and isinstance(ev.get("reason"), str) and ev["reason"],
              "dropped %s; want id %d, type %s, a reason" % (ev["_raw"], want_id, typ))
    a.stop0()
    ok("dropped: to an unknown member (number and hex) and to 0, with id, type and reason")


def dropped_queue_full():
    """A member that opens a's message stream and then never reads it: a's
    writer queue fills (etcd bounds it; the README: 4096 messages or
    64 MiB) and the rest is reported dropped, as etcd's peer.send reports
    unreachable for a full buffer; the node stays responsive."""
    F = 0xf
    pa = free_port()
    a = Node("a", node_args(A, CID, pa, [(F, free_port())]))
    s = socket.create_connection(("127.0.0.1", pa), timeout=5)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.sendall(("GET /raft/stream/message/%x HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Etcd-Cluster-ID: %x\r\n"
               "X-Server-From: %x\r\nX-Server-Version: 3.4.23\r\nX-Raft-To: %x\r\n\r\n" % (F, CID, F, A)).encode())
    head = s.recv(4096)
    check(head.startswith(b"HTTP/1.1 200"), "stream dial as f: %r" % head[:200])
    m = a.mark()
    line = json.dumps({"type": "MsgProp", "to": F, "from": A, "term": 1,
                       "entries": [{"term": 1, "index": 1, "data": b64(os.urandom(1 << 20))}]}).encode() + b"\n"
    for _ in range(100):
        a.p.stdin.write(line)
    a.p.stdin.flush()
    a.wait("dropped", "dropped for the stalled peer", 30, m)
    st = a.status(10)
    check(st.get("event") == "status", "status while stalled")
    time.sleep(0.5)
    drops = a.events(m, "dropped")
    check(all(e.get("id") == F and e.get("type") == "MsgProp" and e.get("reason") for e in drops),
          "dropped events: %s" % [e["_raw"] for e in drops][:3])
    # How many are dropped depends on the node's parsing speed against a's
    # 5 s write timeout (after it, the rest go by pipeline and fail as
    # unreachable): under ASan on a loaded machine, from 7 to 34. The bound
    # itself is what the drop reasons report: the queue at 64 MiB at most.
    check(1 <= len(drops) <= 100, "%d of 100 1-MiB messages dropped" % len(drops))
    for e in drops:
        q = re.search(r"send queue full \((\d+) messages, ([\d.]+) MiB; limits 4096 messages, 64.0 MiB\)",
                      e.get("reason", ""))
        check(q is not None and float(q.group(2)) <= 64.0 and int(q.group(1)) <= 64,
              "drop reason %r: want the queue at most 64 MiB" % e.get("reason"))
    check(a.events(m, "unreachable"), "no unreachable for the full send buffer")
    r = http(pa, "GET", "/version")
    check(r.status == 200, "GET /version while a's writer is stalled: %s" % r.show())
    s.close()
    a.stop0()
    ok("a peer that stops reading a's stream: %d of 100 1-MiB messages dropped (id, type, reason %r), "
       "unreachable reported, status and /version still answer" % (len(drops), drops[0]["reason"]))


def critical_member_removed():
    pa, pb = free_port(), free_port()
    b = Node("b", node_args(B, CID, pb, [(A, pa)]))
    b.send({"cmd": "markRemoved", "id": A})
    b.status()
    a = Node("a", node_args(A, CID, pa, [(B, pb)]))
    ev = a.wait("critical", "critical after b answers 410", 5, 0)
    check(ev.get("error") == "member removed", "critical %s; want error \"member removed\" (etcd's ErrorC)" % ev["_raw"])
    r = http(pb, "GET", "/raft/stream/message/%x" % A,
             [("X-Etcd-Cluster-ID", hexid(CID)), ("X-Server-From", hexid(A)), ("X-Server-Version", "3.4.23"),
              ("X-Raft-To", hexid(B))])
    check(r.status == 410, "b's stream handler for the removed a: %s; want 410" % r.show())
    ok("b marks a removed: b answers a's stream dial 410, a reports critical \"member removed\"")
    m = a.mark()
    b.send({"cmd": "unmarkRemoved", "id": A})
    active(a, B, 5, m)
    delivered(a, b, B, A, 5)
    ok("unmarkRemoved: a's redial succeeds, peerActive, delivered")
    a.stop0()
    b.stop0()


def bad_lines():
    pa, pb = free_port(), free_port()
    a = Node("a", node_args(A, CID, pa, [(B, pb)]))
    b = Node("b", node_args(B, CID, pb, [(A, pa)]))
    active(a, B)
    lines = ['{"type":', "not json", "[1,2]", "42", '"str"', "null", '{"cmd":"frobnicate"}', '{"cmd":5}',
             '{"cmd":""}', '{"type":"MsgNope","to":%d}' % B, '{"type":"MsgHeartbeat","to":"xyz"}',
             '{"type":"MsgHeartbeat","to":%d,"term":-1}' % B, '{"type":"MsgHeartbeat","to":%d,"term":18446744073709551616}' % B,
             '{"type":"MsgHeartbeat","to":%d,"context":"***"}' % B, '{"type":"MsgHeartbeat","to":%d,"entries":5}' % B,
             '{"type":true,"to":%d}' % B,
             # bytes that are not UTF-8, and a name that needs escaping: the error event is still JSON
             b'{"cmd":"\xff\xfe"}', b'not json \xff', b'{"type":"MsgHeartbeat","to":2,"context":"\xff"}',
             b'{"cmd":"a\\"b\\\\c\\u0001d\xc3\xa9"}']
    for ln in lines:
        m = a.mark()
        a.send(ln)
        a.send({"cmd": "status"})
        evs = []
        a.wait("status", "status after %r" % ln, 5, m)
        evs = [e for e in a.events(m) if e.get("event") != "status"]
        check(len(evs) == 1 and evs[0].get("event") == "error" and isinstance(evs[0].get("error"), str) and evs[0]["error"],
              "input line %r: events %s; want exactly one error event" % (ln, [e["_raw"] for e in evs]))
    check(a.p.poll() is None, "a exited")
    delivered(a, b, B, A, 9)
    ok("%d bad input lines (bad JSON, not an object, unknown or bad cmd, bad type/id/number/base64/entries, "
       "invalid UTF-8, a cmd name needing escapes): "
       "one error event each, the node keeps running and delivering" % len(lines))
    a.stop0()
    b.stop0()


def end_of_input_and_stop():
    pa, pb = free_port(), free_port()
    # EOF, then SIGTERM
    a = Node("a", node_args(A, CID, pa, [(B, pb)]))
    b = Node("b", node_args(B, CID, pb, [(A, pa)]))
    active(a, B)
    a.send(hb(B, A, 1))
    a.close_stdin()
    time.sleep(0.5)
    check(a.p.poll() is None, "a exited at end of input (status %s); the spec: it keeps serving" % a.p.poll())
    r = http(pa, "GET", "/version")
    check(r.status == 200, "GET /version after a's end of input: %s" % r.show())
    delivered(b, a, A, B, 2, what="b -> a after a's end of input")
    m = b.mark()
    rc = a.stop(signal.SIGTERM)
    check(rc == 0, "a: exit status %s on SIGTERM after end of input, want 0" % rc)
    b.wait(lambda e: e.get("event") == "peerInactive" and e.get("id") == A, "b: peerInactive a", 8, m)
    ok("end of input: a keeps serving (GET /version, receives from b); SIGTERM: exit 0, b sees it go")

    # stdin at EOF from the start, SIGINT
    a = Node("a", node_args(A, CID, pa, [(B, pb)]), stdin=False)
    active(a, B, 8)
    delivered(b, a, A, B, 3, what="b -> a (a's stdin is /dev/null)")
    rc = a.stop(signal.SIGINT)
    check(rc == 0, "a: exit status %s on SIGINT, want 0" % rc)
    ok("stdin empty from the start: serves and receives; SIGINT: exit 0")

    # {"cmd":"stop"} with streams up and a line after it
    a = Node("a", node_args(A, CID, pa, [(B, pb)]))
    active(a, B, 8)
    a.send({"cmd": "stop"})
    a.send(hb(B, A, 4))
    rc = a.wait_exit(10)
    check(rc == 0, "a: exit status %s after stop, want 0" % rc)
    ok("{\"cmd\":\"stop\"}: exit 0")
    b.stop0()


if __name__ == "__main__":
    main([peer_lifecycle, add_update_remove, cut_mend_pause_resume, peers_before_serving, dropped,
          dropped_queue_full,
          critical_member_removed,
          bad_lines, end_of_input_and_stop])
