#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Operations on a live transport, C `rafthttp node` against real peers:
etcd 3.4's Go rafthttp (gopeer) and a real etcd 3.4.23 cluster.

usage: test_ops.py RAFTHTTP_BIN GOPEER_BIN [ETCD_BIN]   (ETCD_BIN default /usr/bin/etcd)

Links are cut with harness.Proxy, a TCP proxy put in front of a member's
URL that knows each connection's first request line (stream, pipeline,
probing), so a test can refuse stream dials while POST /raft still passes,
close open connections, or stop listening. Sections, each on fresh members
(a failing section is reported and the next one still runs):

 1 pipeline before streams, both directions: a member that does not know the
   other never dials its streams, so the other's stream writers are never
   attached: all 19 message types go by POST /raft (receiver: via
   "pipeline", identical to what was sent; C's sent events: via pipeline),
   the unknown sender is learned as a remote (X-PeerURLs) and answered by
   pipeline; after addPeer, both stream types carry traffic both ways.
 2 pipeline before any stream exists with a real etcd cluster (stream dials
   refused at proxies from the start: the cluster forms with C reachable by
   pipeline only, every message both ways by pipeline; then streams come up),
   and after the streams are cut: with Go (stream dials refused at
   proxies on both sides, open streams closed: messages both ways go by
   pipeline, identical; restored: streams again), and with a real etcd
   cluster (etcd's heartbeats and a put's MsgApp reach C via pipeline, C's
   answers go via pipeline and the leader's received-bytes counter for C
   grows, a message typed into C reaches the follower by pipeline; restored:
   streamMsg and streamMsgAppV2 again).
 3 URL failover: C with two URLs for Go whose first dies (proxy killed):
   streams come back through the second, messages flow both ways, and a
   MsgSnap (always by pipeline) goes through the second too; the same for Go
   with two URLs for C; C's updatePeer [url2] then [url2, url3] at runtime,
   url2 killed: C fails over to url3. URL order: etcd sorts a peer's URLs
   (types.NewURLs) and dials the first: given [b, a], both must dial a.
 4 removePeer and addPeer: both remove each other: C's messages to Go are
   reported dropped (unknown peer) and never arrive; both re-add: streams both
   ways, traffic flows. Only C removes Go while Go still dials it: Go reports
   C inactive, C lists no peer but learns Go back as a remote from the
   dials' X-PeerURLs (as etcd's streamHandler): pipeline only; C re-adds Go:
   streams. Then both remove each other again: C follows the issue's rule (a
   remote stops when its member becomes a peer), so its sends are reported
   dropped and none arrives; etcd 3.4 keeps a remote until Stop, so with Go
   in C's place they still arrive by pipeline (checked in self-check mode).
 5 probing: GET /raft/probing on C answers 200 {"OK":true,"Now":RFC 3339}
   as Go's does (same keys, types, fresh time); C probes a live peer at its
   URL (seen at a proxy) and its /metrics has
   etcd_network_peer_round_trip_time_seconds{To=<peer>} with etcd's 16
   buckets and a nonzero count (etcd observes 5 s after AddPeer).
 6 remotes: addRemote in C: messages to it go by pipeline only; a message
   from an unknown sender with X-PeerURLs makes C learn a remote and answer
   it (before it, sends to it are dropped as unknown peer); addPeer on both
   sides afterwards gives streams both ways.
 7 cutPeer/mendPeer and pause/resume: while cut or paused, C reports every
   message to the peer dropped, none arrives, and the peer's messages by
   stream are not delivered; status says paused; after mend/resume traffic
   flows again both ways and nothing sent meanwhile shows up. As in etcd, a
   message from a cut peer by pipeline (MsgSnap) is still delivered: etcd's
   pause stops sending and the two stream readers, not POST /raft.
Every C member must exit 0 on SIGTERM at the end of its section (ASan).
Wall time about 15 s (20-25 s on a loaded 2-core machine); sections 2-etcd
and 5's metric need etcd's and the prober's own timers.

With GOPEER_BIN as RAFTHTTP_BIN (test_ops.py GOPEER GOPEER [ETCD]) it runs Go
in C's place, to check the test itself (all pass with Go there); C-only
output is then not checked: sent events are skipped and the RTT metric
check says EXCLUDED.
"""
import base64
import datetime
import hashlib
import http.client
import json
import os
import re
import sys
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa
from harness import Failed, Proc, Proxy, WORKDIR, free_port, http_get, need_binary, ok  # noqa
from msgs import b64, canon, entry, every_type, full_msg  # noqa

RAFTHTTP = sys.argv[1] if len(sys.argv) > 1 else ""
GOPEER = sys.argv[2] if len(sys.argv) > 2 else ""
ETCD = sys.argv[3] if len(sys.argv) > 3 else "/usr/bin/etcd"
C_ID, G_ID, G2_ID, CID = 0xc0de1, 0x90e2, 0x90e3, 0x0b5
STREAMS = {"MsgHeartbeat": "streamMsg", "MsgApp": "streamMsgAppV2"}
PIPE = {"MsgHeartbeat": "pipeline", "MsgApp": "pipeline"}
# etcd's rttSec: prometheus.ExponentialBuckets(0.0001, 2, 16)
RTT_BUCKETS = [0.0001 * 2 ** i for i in range(16)]


def is_gopeer(path):
    return os.path.basename(path).startswith("gopeer")


C_IS_GO = is_gopeer(RAFTHTTP)
CL = "Go2" if C_IS_GO else "C"


class Member:
    """A running member: C (RAFTHTTP; --trace-sent) or Go (GOPEER)."""

    def __init__(self, label, binary, ident, peers=(), extra=(), port=None, advertise=None,
                 cid=CID):
        self.label, self.id = label, ident
        self.is_c = binary == RAFTHTTP and not C_IS_GO
        self.port = port or free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        argv = [binary] if is_gopeer(binary) else [binary, "node", "--trace-sent"]
        argv += ["--id", "%x" % ident, "--cluster-id", "%x" % cid, "--listen", self.url]
        if advertise:
            argv += ["--advertise", advertise]
        for pid, urls in peers:
            argv += ["--peer", "%x=%s" % (pid, ",".join(urls if isinstance(urls, list) else [urls]))]
        self.proc = Proc(label, argv + list(extra))
        self.proc.wait(lambda e: e.get("event") == "ready", "ready event", 10, 0)

    def send(self, m):
        self.proc.send(m)

    def mark(self):
        return self.proc.mark()

    def cmd(self, cmd, **kw):
        """Sends a command; Failed if the member answers with an error event."""
        m = self.mark()
        o = {"cmd": cmd}
        o.update(kw)
        self.proc.send(o)
        st = self.proc.status()  # commands are handled in order: errors come first
        errs = self.proc.events_since(m, "error")
        if errs:
            raise Failed("%s: %s answered %s" % (self.proc.name, json.dumps(o), errs[0].get("error")))
        return st


# ------------------------------------------------------------------ messages

def hb(src, dst, tag, n):
    return full_msg("MsgHeartbeat", src.id, dst.id, term=tag, commit=n)


def app(src, dst, tag, n):
    # logTerm != term: a full msgappv2 frame when it goes by stream
    return full_msg("MsgApp", src.id, dst.id, term=tag, logTerm=tag - 1, index=n, commit=n,
                    entries=[entry(tag, n + 1, "EntryNormal", b64("op-%d-%d" % (tag, n)))])


def batch(src, dst, tag, n):
    """n heartbeats and n MsgApps, each distinct."""
    out = []
    for i in range(1, n + 1):
        out += [hb(src, dst, tag, i), app(src, dst, tag, i)]
    return out


def until(cond, what, timeout):
    """Polls cond() (which may read events; Proc.wait's predicate must not)
    until it is true; Failed after timeout."""
    end = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > end:
            raise Failed("no %s within %.1fs" % (what, timeout))
        time.sleep(0.05)


def tagged(dst, since, tag):
    return [e for e in dst.proc.events_since(since, "recv") if e["msg"].get("term") == tag]


def via_ok(want, e):
    w = want.get(e["msg"]["type"]) if isinstance(want, dict) else want
    return e.get("via") == w


def deliver(src, dst, msgs, want, what, timeout=10.0):
    """Sends msgs src -> dst; every one must arrive identical (any order),
    each via want (a name, or type -> name). For a C sender, its sent events
    to dst must also name the channel (when want is one name)."""
    m0, s0 = dst.mark(), src.mark()
    pending = {canon(m): m for m in msgs}
    if len(pending) != len(msgs):
        raise Failed("test bug: duplicate messages in %s" % what)
    got = []

    def pred(e):
        if e.get("event") == "recv":
            k = canon(e["msg"])
            if k in pending:
                got.append(e)
                del pending[k]
        return not pending

    for m in msgs:
        src.send(m)
    try:
        dst.proc.wait(pred, "", timeout, m0)
    except Failed:
        tags = {m["term"] for m in msgs}
        seen = [(e["msg"]["type"], e.get("via")) for e in dst.proc.events_since(m0, "recv")
                if e["msg"].get("term") in tags]
        drops = src.proc.events_since(s0, "dropped")
        raise Failed("%s: %s -> %s: %d of %d messages did not arrive within %.0fs (first missing: "
                     "%s); arrived with those terms: %s; %s dropped: %s"
                     % (what, src.label, dst.label, len(pending), len(msgs), timeout,
                        next(iter(pending.values()))["type"], seen[:10] or "none",
                        src.label, drops[:3] or "none"))
    bad = [e for e in got if not via_ok(want, e)]
    if bad:
        raise Failed("%s: %s -> %s: %d of %d messages came by the wrong channel, want %s: e.g. "
                     "%s via %r" % (what, src.label, dst.label, len(bad), len(msgs), want,
                                    bad[0]["msg"]["type"], bad[0].get("via")))
    if src.is_c and isinstance(want, str):
        # C's own account: a sent event naming the channel for each message
        # (counted by type; sent events carry no term)
        need = {}
        for m in msgs:
            need[m["type"]] = need.get(m["type"], 0) + 1

        def short():
            have = {}
            for x in src.proc.events_since(s0, "sent"):
                if x.get("to") == dst.id and x.get("via") == want:
                    have[x.get("type")] = have.get(x.get("type"), 0) + 1
            return {t: n - have.get(t, 0) for t, n in need.items() if have.get(t, 0) < n}
        try:
            until(lambda: not short(), "", 5)
        except Failed:
            raise Failed("%s: C's sent events to %x lack %s via %r (C reported: %s)"
                         % (what, dst.id, short(), want,
                            sorted({(x.get("type"), x.get("via")) for x in
                                    src.proc.events_since(s0, "sent") if x.get("to") == dst.id})))
    return got


def until_via(src, dst, tag, want, timeout=10.0):
    """Sends a heartbeat and a MsgApp src -> dst every 50 ms until dst has
    had one of each (of this tag) via want[type]. Messages that came another
    way meanwhile do not count. Returns the mark on dst at the start."""
    m0 = dst.mark()
    end = time.monotonic() + timeout
    n = 0
    while True:
        n += 1
        src.send(hb(src, dst, tag, n))
        src.send(app(src, dst, tag, n))
        time.sleep(0.05)
        arrived = tagged(dst, m0, tag)
        have = {t for t in want if any(e["msg"]["type"] == t and e.get("via") == want[t]
                                       for e in arrived)}
        if len(have) == len(want):
            return m0
        if time.monotonic() > end:
            raise Failed("%s -> %s: within %.0fs no %s arrived (arrived: %s)"
                         % (src.label, dst.label, timeout,
                            " and ".join("%s via %s" % (t, v) for t, v in want.items() if t not in have),
                            sorted({"%s via %s" % (e["msg"]["type"], e.get("via")) for e in arrived})
                            or "nothing"))


def streams_both(a, b, tag, timeout=10.0):
    until_via(a, b, tag, STREAMS, timeout)
    until_via(b, a, tag + 1, STREAMS, timeout)


def absent(dst, since, tags, what):
    got = [e for e in dst.proc.events_since(since, "recv") if e["msg"].get("term") in tags]
    if got:
        raise Failed("%s: %s received %d message(s) that should never arrive, e.g. %s via %s"
                     % (what, dst.label, len(got), got[0]["msg"]["type"], got[0].get("via")))


def wait_dropped(x, since, peer, n, reason_re, what, timeout=5.0):
    """x reports at least n dropped events for peer, each reason matching."""
    def enough(_e):
        return len([d for d in x.proc.events_since(since, "dropped") if d.get("id") == peer]) >= n
    until(lambda: enough(None), "%d dropped events for %x from %s (%s)" % (n, peer, x.proc.name, what),
          timeout)
    ds = [d for d in x.proc.events_since(since, "dropped") if d.get("id") == peer]
    bad = [d for d in ds if not re.search(reason_re, d.get("reason", ""))]
    if bad:
        raise Failed("%s: %s: dropped with reason %r, want /%s/" % (what, x.proc.name,
                                                                    bad[0].get("reason"), reason_re))
    return ds


def peer_entry(x, pid):
    st = x.proc.status()
    p = [q for q in st["peers"] if q["id"] == pid]
    return p[0] if p else None


def stop0(*members):
    for x in members:
        rc = x.proc.stop()
        if rc != 0:
            raise Failed("%s exited with status %s on SIGTERM, want 0" % (x.proc.name, rc))


# ------------------------------------------------------------------ sections

def s1_pipeline_before_streams():
    # (a) C knows Go; Go does not know C
    g = Member("1a-Go", GOPEER, G_ID)
    c = Member("1a-" + CL, RAFTHTTP, C_ID, peers=[(G_ID, g.url)])
    for src, dst in ((c, g), (g, c)):
        cases = every_type(src.id, dst.id, base=110 if src is c else 130)
        m0 = dst.mark()
        ms = src.mark()
        for _, inp, _ in cases:
            src.send(inp)
        for name, inp, exp in cases:
            ev = dst.proc.wait(lambda e, n=name: e.get("event") == "recv" and e["msg"]["type"] == n
                               and e["msg"]["term"] == exp["term"], "recv " + name, 10, m0)
            if canon(ev["msg"]) != canon(exp):
                raise Failed("%s -> %s %s differs:\n  got  %s\n  want %s"
                             % (src.label, dst.label, name, canon(ev["msg"]), canon(exp)))
            if ev.get("via") != "pipeline":
                raise Failed("%s -> %s: %s came via %r before %s knew %s: want pipeline"
                             % (src.label, dst.label, name, ev.get("via"), g.label, c.label))
        if src.is_c:
            until(lambda: len([x for x in src.proc.events_since(ms, "sent")
                               if x.get("to") == dst.id]) >= len(cases), "19 sent events", 5)
            vias = {x.get("via") for x in src.proc.events_since(ms, "sent") if x.get("to") == dst.id}
            if vias != {"pipeline"}:
                raise Failed("C's sent events to Go name %s, want only pipeline" % vias)
        if src is c:
            ok("[1] %s knows Go, Go does not know %s: all 19 message types %s -> Go arrived "
               "identical via pipeline (Go never dials %s's streams)%s"
               % (CL, CL, CL, CL, "; C's sent events say pipeline" if c.is_c else ""))
        else:
            ok("[1] Go learned %s as a remote from X-PeerURLs: all 19 types Go -> %s arrived "
               "identical via pipeline" % (CL, CL))
    g.cmd("addPeer", id=c.id, urls=[c.url])
    streams_both(c, g, 150)
    ok("[1] after Go's addPeer: heartbeat via streamMsg and MsgApp via streamMsgAppV2 both ways")
    stop0(c, g)

    # (b) Go knows C; C does not know Go
    c = Member("1b-" + CL, RAFTHTTP, C_ID)
    g = Member("1b-Go", GOPEER, G_ID, peers=[(C_ID, c.url)])
    deliver(g, c, batch(g, c, 160, 5), "pipeline", "[1] Go -> %s before %s knows Go" % (CL, CL))
    deliver(c, g, batch(c, g, 161, 5), "pipeline", "[1] %s answers the unknown Go" % CL)
    if peer_entry(c, g.id) is not None:
        raise Failed("%s's status lists Go as a peer, but Go is only a remote" % CL)
    ok("[1] Go knows %s, %s does not know Go: 10 messages Go -> %s via pipeline; %s learned Go "
       "as a remote (not in status) and its 10 answers went via pipeline, all identical"
       % (CL, CL, CL, CL))
    c.cmd("addPeer", id=g.id, urls=[g.url])
    streams_both(c, g, 170)
    ok("[1] after %s's addPeer: both stream types carry traffic both ways" % CL)
    stop0(c, g)


def s2_pipeline_after_cut_go():
    gp, cp = free_port(), free_port()
    pg, pc = Proxy(gp, "proxy->Go"), Proxy(cp, "proxy->" + CL)  # C dials Go via pg, Go dials C via pc
    SECTION_PROXIES.extend([pg, pc])
    c = Member("2-" + CL, RAFTHTTP, C_ID, peers=[(G_ID, pg.url)], port=cp)
    g = Member("2-Go", GOPEER, G_ID, peers=[(C_ID, pc.url)], port=gp)
    streams_both(c, g, 200)
    if pg.open("stream") < 2 or pc.open("stream") < 2:
        raise Failed("streams are up but the proxies hold %s / %s" % (pg.stats(), pc.stats()))
    ok("[2] Go: four streams up through the proxies (%s dials Go via %s, Go dials %s via %s)"
       % (CL, pg, CL, pc))
    for p in (pg, pc):
        p.block("stream")
        p.cut("stream")
    until_via(c, g, 210, PIPE, 10)
    until_via(g, c, 211, PIPE, 10)
    deliver(c, g, batch(c, g, 212, 10), "pipeline", "[2] streams cut, %s -> Go" % CL)
    deliver(g, c, batch(g, c, 213, 10), "pipeline", "[2] streams cut, Go -> %s" % CL)
    ok("[2] Go: stream dials refused and open streams closed at both proxies (%s, %s): 20 "
       "messages each way arrived identical via pipeline%s"
       % (pg.stats()["refused"], pc.stats()["refused"],
          "; C's sent events say pipeline" if c.is_c else ""))
    for p in (pg, pc):
        p.unblock("stream")
    streams_both(c, g, 220)
    deliver(c, g, [app(c, g, 222, i) for i in range(1, 11)], "streamMsgAppV2",
            "[2] streams back, %s -> Go" % CL)
    ok("[2] Go: stream dials let through again: streams back both ways, 10 MsgApps %s -> Go "
       "via streamMsgAppV2%s" % (CL, " (C's sent events agree)" if c.is_c else ""))
    stop0(c, g)


def snap_msg(src, dst, tag):
    return full_msg("MsgSnap", src.id, dst.id, term=tag, snapdata=b64("snap-%d" % tag),
                    sidx=tag, sterm=tag, cs={"voters": [src.id, dst.id], "learners": [],
                                             "votersOutgoing": [], "learnersNext": [],
                                             "autoLeave": False})


def failover(x, y, dead, spare, tag, what):
    """dead (x's URL for y in use) is killed: x's streams must come back
    through spare and messages flow both ways; a MsgSnap (always by
    pipeline) x -> y must go through spare too."""
    t0 = time.monotonic()
    dead.kill()
    # y's writers attach when x's readers dial through spare
    until_via(y, x, tag, STREAMS, 10)
    until_via(x, y, tag + 1, STREAMS, 10)
    dt = time.monotonic() - t0
    if spare.open("stream") < 2:
        raise Failed("%s: streams came back but not through %s: %s" % (what, spare, spare.stats()))
    pl0 = spare.accepted["pipeline"] + spare.up["pipeline"]
    deliver(x, y, [snap_msg(x, y, tag + 2)], "pipeline", what + ", MsgSnap")
    if spare.accepted["pipeline"] + spare.up["pipeline"] <= pl0:
        raise Failed("%s: the MsgSnap did not go through %s: %s" % (what, spare, spare.stats()))
    return dt


def sorted_proxies(port, prefix, n, suffix):
    ps = sorted((Proxy(port) for _ in range(n)), key=lambda p: p.url)
    for i, p in enumerate(ps):
        p.name = "%s%d%s" % (prefix, i + 1, suffix)
    SECTION_PROXIES.extend(ps)
    return ps


def s3_url_order():
    """etcd's AddPeer sorts the URLs (types.NewURLs) before its picker takes
    the first: given [b, a], both sides dial a first."""
    cp, gp = free_port(), free_port()
    qa, qb = sorted_proxies(cp, "q", 2, "->" + CL)
    pa, pb = sorted_proxies(gp, "p", 2, "->Go")
    c = Member("3o-" + CL, RAFTHTTP, C_ID, peers=[(G_ID, [pb.url, pa.url])], port=cp)
    g = Member("3o-Go", GOPEER, G_ID, peers=[(C_ID, [qb.url, qa.url])], port=gp)
    streams_both(c, g, 350)
    if qa.open("stream") < 2 or qb.accepted["stream"]:
        raise Failed("test bug? Go given [%s, %s] dialed: smaller %s, larger %s"
                     % (qb.url, qa.url, qa.stats(), qb.stats()))
    if pa.open("stream") < 2 or pb.accepted["stream"]:
        raise Failed("%s given --peer %x=%s,%s dialed %s (streams: %s; %s: %s); Go, given its "
                     "URLs for %s in the same unsorted order, sorts them (types.NewURLs) and "
                     "dials %s first"
                     % (CL, G_ID, pb.url, pa.url, pb.url if pb.accepted["stream"] else pa.url,
                        pb.stats(), pa.url, pa.stats(), CL, qa.url))
    ok("[3] URL order: given [b, a], Go and %s both dial a (the lexicographically first, as "
       "etcd's types.NewURLs sorts them)" % CL)
    stop0(c, g)


def s3_failover():
    cp, gp = free_port(), free_port()
    # etcd sorts a peer's URLs (types.NewURLs) and dials the first; name the
    # proxies in that order so "first" means the same to both (checked in "3 URL order")
    q1, q2 = sorted_proxies(cp, "q", 2, "->" + CL)  # Go's two URLs for C
    p1, p2, p3 = sorted_proxies(gp, "p", 3, "->Go")  # C's URLs for Go
    c = Member("3-" + CL, RAFTHTTP, C_ID, peers=[(G_ID, [p1.url, p2.url])], port=cp)
    g = Member("3-Go", GOPEER, G_ID, peers=[(C_ID, [q1.url, q2.url])], port=gp)
    streams_both(c, g, 300)
    if q1.open("stream") < 2 or p1.open("stream") < 2 or q2.accepted["stream"] or p2.accepted["stream"]:
        raise Failed("streams should use each side's first URL: q1 %s q2 %s p1 %s p2 %s"
                     % (q1.stats(), q2.stats(), p1.stats(), p2.stats()))
    ok("[3] streams up on each side's first URL (%s -> Go via p1 of [p1,p2], Go -> %s via q1 "
       "of [q1,q2])" % (CL, CL))
    dt = failover(c, g, p1, p2, 310, "[3] %s's first URL for Go killed" % CL)
    ok("[3] p1 killed: %s failed over to p2: streams carry traffic both ways again after %.1fs, "
       "a MsgSnap by pipeline through p2 arrived identical" % (CL, dt))
    dt = failover(g, c, q1, q2, 320, "[3] Go's first URL for %s killed" % CL)
    ok("[3] q1 killed: Go failed over to q2: streams both ways again after %.1fs, a MsgSnap "
       "Go -> %s by pipeline through q2 arrived identical" % (dt, CL))

    # updatePeer at runtime: [p1,p2] -> [p2] -> [p2,p3]
    for urls in ([p2.url], [p2.url, p3.url]):
        c.cmd("updatePeer", id=g.id, urls=urls)
        st = peer_entry(c, g.id)
        if st is None or st.get("urls") != urls:
            raise Failed("%s's status after updatePeer %s: %s" % (CL, urls, st))
    streams_both(c, g, 330, 5)
    if p3.accepted["stream"]:
        raise Failed("updatePeer [p2,p3]: streams moved to p3 while p2 was up (%s)" % p3.stats())
    ok("[3] %s: updatePeer [p2] then [p2,p3] at runtime (status lists them), streams stay on p2"
       % CL)
    dt = failover(c, g, p2, p3, 340, "[3] p2 killed after updatePeer [p2,p3]")
    ok("[3] p2 killed: %s failed over to p3 (added by updatePeer) in %.1fs: streams both ways, "
       "a MsgSnap by pipeline through p3 arrived identical" % (CL, dt))
    stop0(c, g)


def s4_remove_readd():
    gp = free_port()
    c = Member("4-" + CL, RAFTHTTP, C_ID, peers=[(G_ID, "http://127.0.0.1:%d" % gp)])
    g = Member("4-Go", GOPEER, G_ID, peers=[(C_ID, c.url)], port=gp)
    streams_both(c, g, 400)

    # (a) both remove each other (as a membership change does); neither has
    # ever learned the other as a remote, so nothing is left to reach it
    g.cmd("removePeer", id=c.id)
    c.cmd("removePeer", id=g.id)
    mg, mc = g.mark(), c.mark()
    msgs = batch(c, g, 410, 5)
    for m in msgs:
        c.send(m)
    ds = wait_dropped(c, mc, g.id, len(msgs), "unknown peer", "[4] sends after removePeer")
    if [d.get("type") for d in ds[:len(msgs)]] != [m["type"] for m in msgs]:
        raise Failed("dropped events name %s, want %s" % ([d.get("type") for d in ds],
                                                          [m["type"] for m in msgs]))
    if peer_entry(c, g.id) is not None or peer_entry(g, c.id) is not None:
        raise Failed("a status still lists the removed peer")
    g.cmd("addPeer", id=c.id, urls=[c.url])
    c.cmd("addPeer", id=g.id, urls=[g.url])
    streams_both(c, g, 420)
    deliver(c, g, batch(c, g, 421, 5), STREAMS, "[4] after re-adding both")
    deliver(g, c, batch(g, c, 422, 5), STREAMS, "[4] after re-adding both")
    absent(g, mg, {410}, "[4] messages sent while removed")
    ok("[4] both removed each other: %s reported all %d messages to Go dropped (%r), none "
       "arrived, status lists no peer; both re-added: streams both ways, 10 messages each way "
       "delivered" % (CL, len(msgs), ds[0].get("reason")))

    # (b) only C removes Go; Go still has C and keeps dialing it
    mg = g.mark()
    c.cmd("removePeer", id=g.id)
    inact = g.proc.wait(lambda e: e.get("event") == "peerInactive" and e.get("id") == c.id,
                        "peerInactive %x after %s removed Go" % (c.id, CL), 10, mg)
    if peer_entry(c, g.id) is not None:
        raise Failed("%s's status still lists Go after removePeer" % CL)
    # Go's stream dials carry X-PeerURLs: C answers 404 and adds Go as a
    # remote (etcd's streamHandler does the same): reachable by pipeline only.
    # (Go's reader may report the closed stream before it redials: until then
    # C knows no Go and drops, so wait for the first pipeline arrival.)
    until_via(c, g, 429, PIPE, 10)
    deliver(c, g, batch(c, g, 430, 3), "pipeline", "[4] after removePeer (Go still dials)")
    ok("[4] only %s removed Go: Go reports %s inactive (%r); %s's status has no Go; Go's "
       "stream dials (X-PeerURLs) make it a remote of %s, so messages to it go by pipeline "
       "only, as etcd's" % (CL, CL, inact.get("reason", "")[:70], CL, CL))
    c.cmd("addPeer", id=g.id, urls=[g.url])
    streams_both(c, g, 440)
    ok("[4] %s re-added Go: streams both ways again" % CL)

    # (c) the rule, where C parts from etcd 3.4 on purpose: a remote
    # stops when its member becomes a peer. etcd keeps it until Stop
    # (unused while the peer exists), so after both remove each other again
    # Go still reaches the member through the remote learned in (b), while
    # C has nothing left and reports the sends dropped.
    g.cmd("removePeer", id=c.id)
    c.cmd("removePeer", id=g.id)
    mc, mg = c.mark(), g.mark()
    msgs = batch(c, g, 450, 2)
    if c.is_c is False:  # gopeer in C's place: etcd's behaviour
        got = deliver(c, g, msgs, "pipeline",
                      "[4] etcd: the remote survives AddPeer and RemovePeer", timeout=5)
        ok("[4] (etcd in C's place) the remote learned in (b) outlived addPeer and "
           "removePeer: %d messages still went by pipeline" % len(got))
    else:
        for m in msgs:
            c.send(m)
        ds = wait_dropped(c, mc, g.id, len(msgs), "unknown peer",
                          "[4] sends after removePeer, the remote having stopped at addPeer")
        absent(g, mg, {450}, "[4] messages sent after the remote stopped")
        ok("[4] %s stopped the remote learned in (b) when Go became a peer again (the "
           "issue's rule; etcd 3.4 keeps it): after both removed each other, %d sends "
           "were reported dropped (%r) and none arrived" % (CL, len(ds), ds[0].get("reason")))
    stop0(c, g)


def s5_probing_start():
    gp = free_port()
    pr = Proxy(gp, "proxy->Go(probing)")
    LONG_PROXIES.append(pr)
    g = Member("5-Go", GOPEER, G_ID, port=gp)
    c = Member("5-" + CL, RAFTHTTP, C_ID, peers=[(G_ID, pr.url)])
    added = time.monotonic()
    g.cmd("addPeer", id=c.id, urls=[c.url])
    return {"c": c, "g": g, "proxy": pr, "added": added}


def s5_probing_endpoint(st):
    c, g = st["c"], st["g"]

    def probe(port, who):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        t0 = datetime.datetime.now(datetime.timezone.utc)
        conn.request("GET", "/raft/probing")
        r = conn.getresponse()
        body = r.read().decode()
        conn.close()
        if r.status != 200:
            raise Failed("%s: GET /raft/probing: HTTP %d %r" % (who, r.status, body))
        try:
            o = json.loads(body)
        except ValueError:
            raise Failed("%s: GET /raft/probing: not JSON: %r" % (who, body))
        if not isinstance(o, dict):
            raise Failed("%s: /raft/probing answered %r" % (who, body))
        now = o.get("Now")
        mt = re.match(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d{1,9})?(Z|[+-]\d\d:\d\d)$", now or "")
        if not mt:
            raise Failed("%s: /raft/probing Now %r is not RFC 3339" % (who, now))
        ts = datetime.datetime.fromisoformat(mt.group(1) + (mt.group(3).replace("Z", "+00:00")))
        if abs((ts - t0).total_seconds()) > 5:
            raise Failed("%s: /raft/probing Now %r is far from now (%s)" % (who, now, t0))
        return o, body
    go, gbody = probe(g.port, "Go")
    co, cbody = probe(c.port, CL)
    shape = lambda o: sorted((k, type(v).__name__) for k, v in o.items())
    if shape(co) != shape(go) or co.get("OK") is not True:
        raise Failed("/raft/probing: %s answered %r, Go answered %r" % (CL, cbody, gbody))
    if not cbody.endswith("\n"):
        raise Failed("/raft/probing: %s's body %r lacks the newline Go's json.Encoder writes" % (CL, cbody))
    ok("[5] GET /raft/probing on %s: 200 %s, the shape of Go's %s"
       % (CL, cbody.strip(), gbody.strip()))


def s5_probing_metrics(st):
    c, g, pr = st["c"], st["g"], st["proxy"]
    if c.is_c is False:
        print("EXCLUDED [5] RTT metric (gopeer has no /metrics)", flush=True)
        stop0(c, g)
        return
    pat = re.compile(r'^etcd_network_peer_round_trip_time_seconds_(bucket|count|sum)\{([^}]*)\} (\S+)$', re.M)
    end = st["added"] + 15
    while True:
        status, body = http_get(c.port, "/metrics")
        if status != 200:
            raise Failed("%s /metrics: HTTP %d" % (CL, status))
        rows = [(k, lab, float(v)) for k, lab, v in pat.findall(body)
                if re.search(r'(^|,)To="%x"' % g.id, lab)]
        count = [v for k, lab, v in rows if k == "count"]
        if count and count[0] > 0:
            break
        if time.monotonic() > end:
            raise Failed("%s's /metrics has no etcd_network_peer_round_trip_time_seconds_count"
                         "{To=\"%x\"} above 0 %.0fs after the peer was added (etcd observes the "
                         "first probe 5 s after AddPeer); rtt lines: %s; GET /raft/probing seen "
                         "at Go's proxy: %d"
                         % (CL, g.id, time.monotonic() - st["added"],
                            [l for l in body.splitlines() if "round_trip" in l][:6] or "none",
                            pr.probes))
        time.sleep(0.5)
    les = []
    for k, lab, v in rows:
        if k == "bucket":
            m = re.search(r'le="([^"]+)"', lab)
            les.append(m.group(1) if m else None)
    fin = sorted(float(x) for x in les if x not in (None, "+Inf"))
    if len(fin) != len(RTT_BUCKETS) or any(abs(a - b) > 1e-12 for a, b in zip(fin, RTT_BUCKETS)) \
            or "+Inf" not in les:
        raise Failed("%s's RTT histogram buckets for %x are %s; etcd's are %s and +Inf"
                     % (CL, g.id, les, RTT_BUCKETS))
    inf = [v for k, lab, v in rows if k == "bucket" and 'le="+Inf"' in lab]
    if not inf or inf[0] != count[0] or not [v for k, lab, v in rows if k == "sum"]:
        raise Failed("%s's RTT histogram: +Inf bucket %s, _count %s, _sum missing?" % (CL, inf, count))
    if pr.probes < 1:
        raise Failed("%s reports RTT for %x but no GET /raft/probing went to the peer's URL "
                     "(proxy: %s)" % (CL, g.id, pr.stats()))
    ok("[5] %s probes Go at its URL (%d GET /raft/probing seen at the proxy) and /metrics has "
       "etcd_network_peer_round_trip_time_seconds{To=\"%x\"}: %d observation(s), etcd's 16 "
       "buckets + Inf" % (CL, pr.probes, g.id, count[0]))
    stop0(c, g)


def s6_remotes():
    c = Member("6-" + CL, RAFTHTTP, C_ID, extra=["--reply", "echo-resp"])
    g = Member("6-Go", GOPEER, G_ID)
    g2 = Member("6-Go2", GOPEER, G2_ID)
    # (a) addRemote in C: pipeline only
    c.cmd("addRemote", id=g2.id, urls=[g2.url])
    deliver(c, g2, batch(c, g2, 600, 5), "pipeline", "[6] %s -> addRemote'd member" % CL)
    if c.proc.status()["peers"]:
        raise Failed("%s's status lists peers after addRemote only" % CL)
    ok("[6] %s addRemote of a second Go member (not a peer): 10 messages (MsgApps too) arrived identical via pipeline only; "
       "status lists no peer" % CL)

    # (b) unknown sender with X-PeerURLs: C learns it as a remote and answers it
    mc = c.mark()
    c.send(hb(c, g, 610, 1))
    wait_dropped(c, mc, g.id, 1, "unknown peer", "[6] before Go made itself known")
    mg = g.mark()
    g.cmd("addRemote", id=c.id, urls=[c.url])  # Go: pipeline only, no stream dials
    deliver(g, c, [hb(g, c, 611, 1)], "pipeline", "[6] Go (unknown to %s) -> %s" % (CL, CL))
    resp = g.proc.wait(lambda e: e.get("event") == "recv" and e["msg"]["type"] == "MsgHeartbeatResp"
                       and e["msg"]["term"] == 611, "%s's echo MsgHeartbeatResp" % CL, 10, mg)
    if resp.get("via") != "pipeline" or resp["msg"]["from"] != c.id:
        raise Failed("%s's answer: %s" % (CL, resp))
    deliver(c, g, batch(c, g, 612, 3), "pipeline", "[6] %s -> learned remote" % CL)
    ok("[6] before Go's message %s dropped a send to it (unknown peer); Go's POST /raft "
       "(X-PeerURLs) made %s learn it: %s's echo answer and 6 more messages reached Go via "
       "pipeline" % (CL, CL, CL))

    # (c) addPeer on both sides: streams
    c.cmd("addPeer", id=g.id, urls=[g.url])
    g.cmd("addPeer", id=c.id, urls=[c.url])
    streams_both(c, g, 620)
    ok("[6] addPeer of the learned remote (and Go's addPeer): both stream types carry traffic "
       "both ways")
    stop0(c, g, g2)


def s7_cut_pause():
    g = Member("7-Go", GOPEER, G_ID)
    c = Member("7-" + CL, RAFTHTTP, C_ID, peers=[(G_ID, g.url)])
    g.cmd("addPeer", id=c.id, urls=[c.url])
    streams_both(c, g, 700)
    for off, (stop_cmd, go_cmd, kw) in enumerate((("cutPeer", "mendPeer", {"id": g.id}),
                                                  ("pause", "resume", {}))):
        t = 710 + 20 * off
        c.cmd(stop_cmd, **kw)
        st = peer_entry(c, g.id)
        if st is None or st.get("paused") is not True:
            raise Failed("%s status after %s: %s, want paused true" % (CL, stop_cmd, st))
        mc, mg = c.mark(), g.mark()
        out, inc = batch(c, g, t, 5), batch(g, c, t + 1, 5)
        for m in out:
            c.send(m)
        for m in inc:
            g.send(m)
        ds = wait_dropped(c, mc, g.id, len(out), r"paus", "[7] %s" % stop_cmd)
        # Go's messages are read (and discarded) by the paused stream readers;
        # anything still unread at mend/resume would be delivered (Go's reader
        # checks the pause per message), so give them time to be read
        time.sleep(1.0)
        c.cmd(go_cmd, **kw)
        st = peer_entry(c, g.id)
        if st is None or st.get("paused") is not False:
            raise Failed("%s status after %s: %s, want paused false" % (CL, go_cmd, st))
        # streams keep order: once these arrive, anything sent before would have
        deliver(c, g, batch(c, g, t + 2, 5), STREAMS, "[7] after %s" % go_cmd)
        deliver(g, c, batch(g, c, t + 3, 5), STREAMS, "[7] after %s" % go_cmd)
        absent(g, mg, {t}, "[7] %s -> Go while %s" % (CL, stop_cmd))
        absent(c, mc, {t + 1}, "[7] Go -> %s while %s" % (CL, stop_cmd))
        ok("[7] %s: status paused; %s reported all %d messages to Go dropped (%r), none arrived, "
           "and none of Go's %d messages were delivered; after %s: paused false and 10 messages "
           "each way by stream" % (stop_cmd, CL, len(out), ds[0].get("reason"), len(inc), go_cmd))
    # etcd's Pause stops the peer's sending and its two stream readers only;
    # its pipelineHandler hands every POST /raft to raft, paused or not
    c.cmd("cutPeer", id=g.id)
    deliver(g, c, [snap_msg(g, c, 760)], "pipeline",
            "[7] Go's MsgSnap (pipeline) while %s has Go cut: etcd 3.4 delivers it (pause stops "
            "only stream readers and sending)" % CL, timeout=5)
    c.cmd("mendPeer", id=g.id)
    ok("[7] while cut, a message from Go by pipeline (MsgSnap) is still delivered, as in etcd")
    stop0(c, g)


# ------------------------------------------------------------------ etcd

TOKEN = "rafthttp-ops"


def member_id(urls, token):
    h = hashlib.sha1(("".join(sorted(urls)) + token).encode()).digest()
    return int.from_bytes(h[:8], "big")


def cluster_id(ids):
    h = hashlib.sha1(b"".join(i.to_bytes(8, "big") for i in sorted(ids))).digest()
    return int.from_bytes(h[:8], "big")


def etcd_metric(port, name, label, ident):
    status, body = http_get(port, "/metrics")
    if status != 200:
        raise Failed("etcd /metrics on port %d: HTTP %d" % (port, status))
    m = re.search(r'^%s\{%s="%x"\} (\S+)$' % (name, label, ident), body, re.M)
    return float(m.group(1)) if m else 0.0


def put(port, key, value):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request("POST", "/v3/kv/put", json.dumps({"key": base64.b64encode(key).decode(),
                                                 "value": base64.b64encode(value).decode()}),
              {"Content-Type": "application/json"})
    r = c.getresponse()
    body = r.read().decode()
    c.close()
    if r.status != 200:
        raise Failed("put through etcd: HTTP %d %s" % (r.status, body))


def s2_etcd(before=False):
    """before: stream dials are refused from the start, so the cluster forms
    with C reachable by pipeline only (no stream ever existed) until the
    restore; otherwise streams come up first and are cut."""
    peer = {n: free_port() for n in "ab"}
    client = {n: free_port() for n in "ab"}
    cport = free_port()
    prox = {n: Proxy(peer[n], "proxy->etcd-" + n) for n in "ab"}
    prox["c"] = Proxy(cport, "proxy->" + CL)
    SECTION_PROXIES.extend(prox.values())
    if before:
        for p in prox.values():
            p.block("stream")
    purl = {"a": "http://127.0.0.1:%d" % peer["a"], "b": "http://127.0.0.1:%d" % peer["b"],
            "c": prox["c"].url}
    ids = {n: member_id([purl[n]], TOKEN) for n in "abc"}
    cid = cluster_id(ids.values())
    cluster = ",".join("%s=%s" % (n, purl[n]) for n in "abc")
    extra = ["--reply", "echo-resp"]
    c = Member("2e-" + CL, RAFTHTTP, ids["c"], cid=cid, advertise=prox["c"].url, port=cport,
               peers=[(ids[n], prox[n].url) for n in "ab"], extra=extra)
    etcds = {}
    for n in "ab":
        etcds[n] = Proc("etcd-" + n, [
            ETCD, "--name", n,
            "--data-dir", os.path.join(WORKDIR, ("before-" if before else "") + n + ".etcd"),
            "--listen-peer-urls", purl[n], "--initial-advertise-peer-urls", purl[n],
            "--listen-client-urls", "http://127.0.0.1:%d" % client[n],
            "--advertise-client-urls", "http://127.0.0.1:%d" % client[n],
            "--initial-cluster", cluster, "--initial-cluster-token", TOKEN,
            "--initial-cluster-state", "new", "--logger", "zap", "--log-outputs", "stderr",
            "--heartbeat-interval", "100", "--election-timeout", "1000",
        ], json_events=False, stdin=False)
    via0 = "pipeline" if before else "streamMsg"
    hbev = c.proc.wait(lambda e: e.get("event") == "recv" and e["msg"]["type"] == "MsgHeartbeat"
                       and e.get("via") == via0, "the leader's MsgHeartbeat via " + via0, 30, 0)
    leader = hbev["msg"]["from"]
    lname = [n for n in "ab" if ids[n] == leader][0]
    fname = "b" if lname == "a" else "a"
    if c.is_c:
        c.proc.wait(lambda e: e.get("event") == "sent" and e.get("to") == leader
                    and e.get("via") == via0, "C's answer to the leader via " + via0, 10, 0)
    if before:
        early = [e.get("via") for e in c.proc.events_since(0, "recv")]
        if any(v != "pipeline" for v in early):
            raise Failed("etcd: with stream dials refused from the start, C received via %s"
                         % sorted(set(early)))
        ok("[2] etcd, before any stream exists (stream dials refused from the start): the "
           "leader %s's %d messages so far reached %s via pipeline only%s"
           % (lname, len(early), CL, " and C answers via pipeline" if c.is_c else ""))
    else:
        ok("[2] etcd: leader %s's heartbeats reach %s via streamMsg%s (all links through "
           "proxies)" % (lname, CL, " and C answers via streamMsg" if c.is_c else ""))

    # cut: no stream can be dialed either way; open ones closed
    t_cut = time.monotonic()
    for p in prox.values():
        p.block("stream")
        p.cut("stream")
    m_cut = c.mark()
    first = c.proc.wait(lambda e: e.get("event") == "recv" and e["msg"]["from"] == leader
                        and e.get("via") == "pipeline", "a message from the leader via pipeline", 15, m_cut)
    if c.is_c:
        # a writer learns that its stream is gone when it reads EOF or a write
        # fails: from C's first answer by pipeline on, all go by pipeline
        c.proc.wait(lambda e: e.get("event") == "sent" and e.get("to") == leader
                    and e.get("via") == "pipeline", "C's first answer to the leader via pipeline",
                    15, m_cut)
    m1 = c.mark()
    rx0 = etcd_metric(client[lname], "etcd_network_peer_received_bytes_total", "From", ids["c"])
    pl0 = prox[lname].up["pipeline"]
    # a put while C is on the pipeline: its entry reaches C by pipeline
    put(client[lname], b"ops-cut", b"by-pipeline")
    app_ev = c.proc.wait(lambda e: e.get("event") == "recv" and e["msg"]["type"] == "MsgApp"
                         and any(b"by-pipeline" in base64.b64decode(x.get("data") or "")
                                 for x in e["msg"]["entries"]), "the put's MsgApp", 15, m1)
    # five more heartbeats, every message from the leader meanwhile by pipeline
    until(lambda: len([x for x in c.proc.events_since(m1, "recv")
                       if x["msg"]["type"] == "MsgHeartbeat"]) >= 5,
          "5 more heartbeats from the leader", 10)
    recvd = [e for e in c.proc.events_since(m1, "recv") if e["msg"]["from"] == leader]
    if any(e.get("via") != "pipeline" for e in recvd + [app_ev]):
        raise Failed("etcd: with stream dials refused, the leader's messages came via %s"
                     % sorted({e.get("via") for e in recvd}))
    end = time.monotonic() + 10
    while etcd_metric(client[lname], "etcd_network_peer_received_bytes_total", "From", ids["c"]) <= rx0:
        if time.monotonic() > end:
            raise Failed("etcd leader's received bytes from %s stayed at %d with streams cut" % (CL, rx0))
        time.sleep(0.2)
    rx1 = etcd_metric(client[lname], "etcd_network_peer_received_bytes_total", "From", ids["c"])
    if prox[lname].up["pipeline"] <= pl0:
        raise Failed("no POST /raft bytes from %s went through the leader's proxy" % CL)
    sent_note = ""
    if c.is_c:
        sent = [e for e in c.proc.events_since(m1, "sent") if e.get("to") == leader]
        if len(sent) < 3 or any(e.get("via") != "pipeline" for e in sent):
            raise Failed("etcd: C's sent events to the leader with streams cut: %s, want >= 3, "
                         "all via pipeline" % sorted({(e.get("type"), e.get("via")) for e in sent}))
        sent_note = "; C's %d answers sent via pipeline" % len(sent)
    # messages typed into C reach the follower (which gets nothing else from
    # C) by pipeline: sent until its counter moves, since a stream writer
    # only learns that its connection is gone when a write fails (Go's does)
    f0 = etcd_metric(client[fname], "etcd_network_peer_received_bytes_total", "From", ids["c"])
    ms = c.mark()
    end = time.monotonic() + 10
    nf = 0
    while etcd_metric(client[fname], "etcd_network_peer_received_bytes_total", "From", ids["c"]) <= f0:
        if time.monotonic() > end:
            raise Failed("etcd follower %s: received bytes from %s stayed at %d after %d messages"
                         % (fname, CL, f0, nf))
        c.send({"type": "MsgHeartbeatResp", "from": "%x" % ids["c"], "to": "%x" % ids[fname],
                "term": hbev["msg"]["term"]})
        nf += 1
        time.sleep(0.2)
    if c.is_c:
        sf = until(lambda: [e for e in c.proc.events_since(ms, "sent") if e.get("to") == ids[fname]],
                  "C's sent events to the follower", 5)
        if sf[-1].get("via") != "pipeline":
            raise Failed("C sent the follower's message via %s, want pipeline"
                         % [e.get("via") for e in sf])
    ok("[2] etcd: stream dials refused and streams closed at all three proxies: the leader's "
       "heartbeats and the put's MsgApp (index %d) reached %s via pipeline (%d messages, %.1fs "
       "after the cut); leader's received bytes from %s %d -> %d%s; %d message(s) typed "
       "into %s raised follower %s's count from %d"
       % (app_ev["msg"]["entries"][-1]["index"], CL, len(recvd), first["_t"] - t_cut,
          CL, rx0, rx1, sent_note, nf, CL, fname, f0))

    for p in prox.values():
        p.unblock("stream")
    m2 = c.mark()
    c.proc.wait(lambda e: e.get("event") == "recv" and e["msg"]["from"] == leader
                and e["msg"]["type"] == "MsgHeartbeat" and e.get("via") == "streamMsg",
                "the leader's heartbeat via streamMsg after the restore", 15, m2)
    if c.is_c:
        c.proc.wait(lambda e: e.get("event") == "sent" and e.get("to") == leader
                    and e.get("via") == "streamMsg", "C's answer via streamMsg after the restore", 10, m2)
    # the leader's MsgApp goes by its msgappv2 writer once C's msgappv2 reader
    # has dialed it again (by the message stream until then, as etcd picks):
    # one put after another until one's MsgApp comes via streamMsgAppV2
    end = time.monotonic() + 15
    vias = []
    while True:
        m3 = c.mark()
        val = b"<by-stream-%d>" % len(vias)
        put(client[lname], b"ops-restored", val)
        ev = c.proc.wait(lambda e: e.get("event") == "recv" and e["msg"]["type"] == "MsgApp"
                         and any(val in base64.b64decode(x.get("data") or "")
                                 for x in e["msg"]["entries"]), "the put's MsgApp", 15, m3)
        vias.append(ev.get("via"))
        if ev.get("via") == "streamMsgAppV2":
            break
        if ev.get("via") not in ("streamMsg",) or time.monotonic() > end:
            raise Failed("etcd: after the restore the puts' MsgApps came via %s, want "
                         "streamMsgAppV2 (or streamMsg until that stream is back)" % vias)
        time.sleep(0.2)
    for n, e in etcds.items():
        if e.p.poll() is not None:
            raise Failed("etcd %s exited (status %s)" % (n, e.p.returncode))
    crit = c.proc.events_since(0, "critical")
    if crit:
        raise Failed("%s reported critical errors: %s" % (CL, crit))
    ok("[2] etcd: streams let through again: heartbeats via streamMsg%s, a put's MsgApp via "
       "streamMsgAppV2 (puts' MsgApps came via %s); both etcd members running, nothing critical"
       % (" and C's answers via streamMsg" if c.is_c else "", vias))
    stop0(c)
    for e in etcds.values():
        e.stop()


# ------------------------------------------------------------------ runner

SECTION_PROXIES = []
LONG_PROXIES = []


def report(name, msg, procs):
    print("FAIL %s: %s" % (name, msg), flush=True)
    for pr in procs:
        print("---- %s: %s\n  argv: %s\n  last events:\n%s  log tail (%s):\n%s" % (
            pr.name, "running" if pr.p.poll() is None else "exit status %s" % pr.p.returncode,
            " ".join(pr.argv), pr.last_events() or "    (none)\n", pr.log_path, pr.tail(15)),
            flush=True)


def main():
    failed = []
    try:
        need_binary(RAFTHTTP, "rafthttp (C node; or a gopeer, to check the test)")
        need_binary(GOPEER, "gopeer (tests/interop/gopeer/build.sh BUILD_DIR)")
        need_binary(ETCD, "etcd 3.4 (apt-get install etcd-server)")
    except Failed as e:
        print("FAIL %s" % e, flush=True)
        sys.exit(1)

    def run(name, fn, *args, keep=False, procs=None):
        """One section; keep: leave its members and proxies running."""
        n0 = len(harness.PROCS)
        try:
            return fn(*args)
        except Exception as e:
            if not isinstance(e, Failed):
                traceback.print_exc()
            report(name, e, (procs or []) + harness.PROCS[n0:])
            failed.append(name)
        finally:
            if not keep:
                for pr in (procs or []) + harness.PROCS[n0:]:
                    if pr.p.poll() is None:
                        pr.stop(timeout=5)
                for p in SECTION_PROXIES:
                    p.kill()
                del SECTION_PROXIES[:]

    probing = run("5 probing (start)", s5_probing_start, keep=True)
    if probing:
        run("5 probing (endpoint)", s5_probing_endpoint, probing, keep=True,
            procs=[probing["c"].proc, probing["g"].proc])
    run("1 pipeline before streams", s1_pipeline_before_streams)
    run("2 pipeline after a cut (Go)", s2_pipeline_after_cut_go)
    run("3 URL failover", s3_failover)
    run("3 URL order", s3_url_order)
    run("4 removePeer / addPeer", s4_remove_readd)
    run("6 remotes", s6_remotes)
    run("7 cutPeer / pause", s7_cut_pause)
    run("2 pipeline before streams (etcd)", s2_etcd, True)
    run("2 pipeline after a cut (etcd)", s2_etcd)
    if probing:
        run("5 probing (RTT metric)", s5_probing_metrics, probing,
            procs=[probing["c"].proc, probing["g"].proc])
    for p in LONG_PROXIES:
        p.kill()
    harness._cleanup()
    if failed:
        print("FAIL test_ops: %d section(s) failed: %s; logs kept in %s (%.1fs)"
              % (len(failed), "; ".join(failed), WORKDIR, time.time() - harness.T0), flush=True)
        sys.exit(1)
    for pr in harness.PROCS:
        pr.log.close()
    import shutil
    shutil.rmtree(WORKDIR, ignore_errors=True)
    print("PASS (%.1fs)" % (time.time() - harness.T0))


if __name__ == "__main__":
    main()
