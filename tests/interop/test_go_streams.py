#!/usr/bin/env python3
"""C `rafthttp node` against etcd 3.4's Go rafthttp (tests/interop/gopeer).

usage: test_go_streams.py RAFTHTTP_BIN GOPEER_BIN

  - streams established in both directions (C dials Go, Go dials C)
  - every message type 0..18 delivered both ways with identical contents
    (MsgSnap travels by the pipeline, POST /raft, as etcd sends it)
  - 2,000 consecutive MsgApps over msgappv2 each way, in order, identical
  - link heartbeats keep an idle link alive past 15 s
  - killing and restarting either side: the survivor reports the peer
    inactive, then active again within a second of the restart
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Failed, Proc, free_port, main, need_binary, ok  # noqa

RAFTHTTP = sys.argv[1] if len(sys.argv) > 1 else ""
GOPEER = sys.argv[2] if len(sys.argv) > 2 else ""
C_ID, G_ID, CID = 0x1c, 0x2d, 0x5eed

MSG_TYPES = ["MsgHup", "MsgBeat", "MsgProp", "MsgApp", "MsgAppResp", "MsgVote", "MsgVoteResp",
             "MsgSnap", "MsgHeartbeat", "MsgHeartbeatResp", "MsgUnreachable", "MsgSnapStatus",
             "MsgCheckQuorum", "MsgTransferLeader", "MsgTimeoutNow", "MsgReadIndex",
             "MsgReadIndexResp", "MsgPreVote", "MsgPreVoteResp"]


def start_c(port, gport):
    return Proc("c-node", [RAFTHTTP, "node", "--id", "%x" % C_ID, "--cluster-id", "%x" % CID,
                           "--listen", "http://127.0.0.1:%d" % port,
                           "--peer", "%x=http://127.0.0.1:%d" % (G_ID, gport)])


def start_go(port, cport):
    return Proc("go-peer", [GOPEER, "--id", "%x" % G_ID, "--cluster-id", "%x" % CID,
                            "--listen", "http://127.0.0.1:%d" % port,
                            "--peer", "%x=http://127.0.0.1:%d" % (C_ID, cport)])


def wait_active(p, peer_id, timeout, what):
    return p.wait_event(lambda e: e["event"] == "peerActive" and e["id"] == peer_id,
                        timeout, what)


def sample(t, frm, to):
    """A message of type t with every field it can carry set."""
    m = {"type": t, "from": frm, "to": to, "term": 7, "logTerm": 6, "index": 40 + len(t),
         "commit": 39, "reject": t.endswith("Resp"), "rejectHint": 3 if t.endswith("Resp") else 0,
         "context": "Y3R4LQ==",
         "entries": [{"term": 6, "index": 41, "type": "EntryNormal", "data": "aGVsbG8="},
                     {"term": 7, "index": 42, "type": "EntryConfChange", "data": "Y2M="}]}
    if t == "MsgSnap":
        m["snapshot"] = {"data": "c25hcA==", "metadata": {"index": 41, "term": 6, "confState": {
            "voters": [C_ID, G_ID], "learners": [9], "votersOutgoing": [], "learnersNext": [],
            "autoLeave": False}}}
    return m


def same(sent, got):
    """Does a received MSG carry what was sent (absent keys are zero)?"""
    for k, v in sent.items():
        if k == "snapshot":
            g = got.get("snapshot", {})
            if g.get("data") != v["data"] or g["metadata"] != v["metadata"]:
                return "snapshot %s != %s" % (g, v)
            continue
        if k == "entries":
            ge = [{kk: e[kk] for kk in ("term", "index", "type", "data") if kk in e}
                  for e in got.get("entries", [])]
            if ge != v:
                return "entries %s != %s" % (ge, v)
            continue
        if got.get(k) != v:
            return "%s: got %r, sent %r" % (k, got.get(k), v)
    return None


def check_types(src, dst, frm, to, types, via_of):
    for t in types:
        src.send(sample(t, frm, to))
    for t in types:
        ev = dst.wait_event(lambda e: e["event"] == "recv" and e["msg"]["type"] == t, 10,
                            "%s from %s" % (t, src.name), past=True)
        diff = same(sample(t, frm, to), ev["msg"])
        if diff:
            raise Failed("%s -> %s: %s differs: %s" % (src.name, dst.name, t, diff))
        want = via_of(t)
        if want and ev.get("via") != want:
            raise Failed("%s -> %s: %s came via %s, want %s"
                         % (src.name, dst.name, t, ev.get("via"), want))


def msgapp_run(src, dst, frm, to, n, term):
    for i in range(n):
        src.send({"type": "MsgApp", "from": frm, "to": to, "term": term, "logTerm": term,
                  "index": i, "commit": i,
                  "entries": [{"term": term, "index": i + 1, "data": "ZW50cnkt%s" % ("A" * (i % 7 * 4))}]})
    got = []
    end = time.time() + 30
    while len(got) < n:
        ev = dst.wait_event(lambda e: e["event"] == "recv" and e["msg"]["type"] == "MsgApp"
                            and e["msg"]["term"] == term, max(0.1, end - time.time()),
                            "MsgApp run %d/%d" % (len(got), n))
        got.append(ev)
    for i, ev in enumerate(got):
        m = ev["msg"]
        e = m["entries"]
        want_data = "ZW50cnkt%s" % ("A" * (i % 7 * 4))
        if (m["index"] != i or m["logTerm"] != term or m["commit"] != i or len(e) != 1
                or e[0]["index"] != i + 1 or e[0].get("data") != want_data
                or m["from"] != frm or m["to"] != to):
            raise Failed("MsgApp %d of the run from %s arrived wrong: %s" % (i, src.name, m))
        if ev.get("via") not in ("streamMsgAppV2", None):
            raise Failed("MsgApp %d from %s came via %s" % (i, src.name, ev.get("via")))


def test():
    need_binary(RAFTHTTP, "rafthttp")
    need_binary(GOPEER, "gopeer (tests/interop/gopeer/build.sh)")
    cport, gport = free_port(), free_port()

    c = start_c(cport, gport)
    c.wait_event(lambda e: e["event"] == "ready", 10, "C ready")
    g = start_go(gport, cport)
    wait_active(c, G_ID, 10, "C sees Go active")
    wait_active(g, C_ID, 10, "Go sees C active")
    time.sleep(0.5)  # all four streams attach
    for p, peer in ((c, G_ID), (g, C_ID)):
        p.send({"cmd": "status"})
        st = p.wait_event(lambda e: e["event"] == "status", 5, "status")
        if not all(x["active"] and x.get("activeSince") for x in st["peers"] if x["id"] == peer):
            raise Failed("%s status not active: %s" % (p.name, st))
    ok("streams up both ways (C dialed Go, Go dialed C); status active with activeSince")

    check_types(c, g, C_ID, G_ID, MSG_TYPES,
                lambda t: {"MsgApp": "streamMsgAppV2", "MsgSnap": "pipeline"}.get(t, "streamMsg"))
    ok("C -> Go: all 19 message types delivered with identical contents (MsgSnap via POST /raft)")
    check_types(g, c, G_ID, C_ID, MSG_TYPES,
                lambda t: {"MsgApp": "streamMsgAppV2", "MsgSnap": "pipeline"}.get(t, "streamMsg"))
    ok("Go -> C: all 19 message types delivered with identical contents (MsgSnap via POST /raft)")

    msgapp_run(c, g, C_ID, G_ID, 2000, 11)
    ok("C -> Go: 2,000 consecutive MsgApps over msgappv2, in order, identical")
    msgapp_run(g, c, G_ID, C_ID, 2000, 12)
    ok("Go -> C: 2,000 consecutive MsgApps over msgappv2, in order, identical")

    n_inactive = lambda p: sum(1 for e in p.all_events() if e["event"] == "peerInactive")
    before = (n_inactive(c), n_inactive(g))
    time.sleep(16)
    if (n_inactive(c), n_inactive(g)) != before:
        raise Failed("a peer went inactive on an idle link: %s" %
                     [e for e in c.all_events() + g.all_events() if e["event"] == "peerInactive"])
    c.send({"type": "MsgHeartbeat", "from": C_ID, "to": G_ID, "term": 99})
    g.wait_event(lambda e: e["event"] == "recv" and e["msg"]["term"] == 99, 5, "post-idle heartbeat")
    ok("idle 16 s: link heartbeats kept both streams alive (no peerInactive), traffic flows after")

    # kill Go, restart it: C sees inactive, then active within a second
    g.stop()
    c.wait_event(lambda e: e["event"] == "peerInactive" and e["id"] == G_ID, 10,
                 "C sees Go inactive")
    time.sleep(1)
    g = start_go(gport, cport)
    t0 = time.time()
    wait_active(c, G_ID, 5, "C sees restarted Go active")
    dt = time.time() - t0
    if dt > 1.0:
        raise Failed("C took %.2fs to re-establish streams to the restarted Go peer" % dt)
    ok("Go killed: C reported it inactive; restarted: active again after %.0f ms" % (dt * 1000))

    # kill C, restart it: Go sees inactive, then active
    c.stop()
    g.wait_event(lambda e: e["event"] == "peerInactive" and e["id"] == C_ID, 10,
                 "Go sees C inactive")
    time.sleep(1)
    c = start_c(cport, gport)
    t0 = time.time()
    wait_active(g, C_ID, 5, "Go sees restarted C active")
    dt = time.time() - t0
    if dt > 1.0:
        raise Failed("Go took %.2fs to re-establish streams to the restarted C node" % dt)
    wait_active(c, G_ID, 5, "restarted C sees Go active")
    # C's peer turns active with its first stream; until its writer is
    # attached a send has no channel (no pipeline sender yet): retry
    for attempt in range(20):
        c.send({"type": "MsgHeartbeat", "from": C_ID, "to": G_ID, "term": 100})
        try:
            g.wait_event(lambda e: e["event"] == "recv" and e["msg"]["term"] == 100, 0.25,
                         "heartbeat after C's restart", past=True)
            break
        except Failed:
            pass
    else:
        raise Failed("no heartbeat from the restarted C reached Go in 5 s")
    ok("C killed: Go reported it inactive; restarted: active again after %.0f ms, traffic flows"
       % (dt * 1000))
    for p in (c, g):
        if p.stop() not in (0, -15):
            raise Failed("%s exited with %s" % (p.name, p.p.returncode))
    ok("both exit cleanly on SIGTERM")


if __name__ == "__main__":
    main(test)
