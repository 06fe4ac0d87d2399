#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""C `rafthttp node` against etcd 3.4's Go rafthttp (tests/interop/gopeer).

usage: test_go_streams.py RAFTHTTP_BIN GOPEER_BIN

  - streams established in both directions, with C started first and with Go
    started first: peerActive and status active (activeSince) on both sides,
    and all four streams attached: a heartbeat each way arrives via
    streamMsg and a MsgApp each way via streamMsgAppV2;
  - every message type 0..18 both ways, the received MSG compared with what
    was sent, byte for byte in docs/json.md form (MsgApp via streamMsgAppV2,
    MsgSnap via pipeline, the rest via streamMsg). C -> Go MsgSnap needs
    C's pipeline *sender*: checked when C has one (Go reports it via
    pipeline), else C must report it dropped, and the line says EXCLUDED;
  - 2,000 consecutive MsgApps (term == logTerm, index = the previous last
    entry index, consecutive entry indexes: msgappv2 AppEntries frames)
    each way, in order, identical, all via streamMsgAppV2, nothing dropped;
  - idle 16 s: link heartbeats keep both streams alive (no peerInactive,
    activeSince unchanged), and both stream types still carry traffic;
  - killing (SIGKILL) and restarting either side: the survivor reports the
    peer inactive, then active again, and all four streams carry traffic
    again within a second of the restarted member's ready event;
  - both exit 0 on SIGTERM; no unparsable stdout line.

With GOPEER_BIN as RAFTHTTP_BIN (test_go_streams.py GOPEER GOPEER) it runs
Go against Go, to check the test itself. test_go_tls.py runs all of it over
mutual TLS (https://, gopeer configured by etcd's transport.TLSInfo).
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Failed, Proc, free_port, main, need_binary, ok, tls_flags  # noqa
from msgs import b64, canon, entry, every_type, full_msg  # noqa

RAFTHTTP = sys.argv[1] if len(sys.argv) > 1 else ""
GOPEER = sys.argv[2] if len(sys.argv) > 2 else ""
C_ID, G_ID, CID = 0x1c0ffee, 0x2beef, 0x5eed
RESTART_WITHIN = 1.0
RUN = 2000
TLS_CERTS = None  # a make_certs() directory: every member on https:// (test_go_tls.py)
CERT_OF = {C_ID: "m1", G_ID: "m2"}


def scheme():
    return "https" if TLS_CERTS else "http"


def is_gopeer(path):
    return os.path.basename(path).startswith("gopeer")


class Member:
    """One side: its binary, ID and port stay the same across restarts."""

    def __init__(self, label, binary, ident, port, peer_id, peer_port):
        self.label, self.binary, self.id, self.port = label, binary, ident, port
        self.peer_id, self.peer_port = peer_id, peer_port
        self.proc = None
        self.ready_t = None

    def start(self):
        argv = [self.binary] if is_gopeer(self.binary) else [self.binary, "node"]
        argv += ["--id", "%x" % self.id, "--cluster-id", "%x" % CID,
                 "--listen", "%s://127.0.0.1:%d" % (scheme(), self.port),
                 "--peer", "%x=%s://127.0.0.1:%d" % (self.peer_id, scheme(), self.peer_port)]
        if TLS_CERTS:
            argv += tls_flags(TLS_CERTS, CERT_OF[self.id])
        self.proc = Proc(self.label, argv)
        ev = self.proc.wait(lambda e: e["event"] == "ready", "ready event", 10, 0)
        listen = ev.get("listen")
        urls = listen if isinstance(listen, list) else [listen]
        want = "%s://127.0.0.1:%d" % (scheme(), self.port)
        if want not in urls:
            raise Failed("%s: ready event lists %r, want %s" % (self.proc.name, listen, want))
        self.ready_t = ev["_t"]
        return self

    def send(self, m):
        self.proc.send(m)


def recv_pred(pred):
    return lambda e: e["event"] == "recv" and pred(e["msg"])


def ping_both_streams(a, b, tag, timeout):
    """Sends a heartbeat and a MsgApp a -> b every 50 ms until b has one of
    each via its stream (streamMsg, streamMsgAppV2). Messages that fall back
    to another channel (before a stream attaches) do not count. Returns the
    time of the last arrival (monotonic)."""
    want = {"MsgHeartbeat": "streamMsg", "MsgApp": "streamMsgAppV2"}
    got = {}
    m0 = b.proc.mark()
    end = time.monotonic() + timeout
    n = 0
    while len(got) < 2:
        if time.monotonic() > end:
            seen = ["%s via %s" % (e["msg"]["type"], e.get("via"))
                    for e in b.proc.events_since(m0, "recv") if e["msg"].get("term") == tag]
            raise Failed("%s -> %s: within %.1fs no %s arrived via its stream (arrived: %s)"
                         % (a.label, b.label, timeout,
                            " and ".join("%s via %s" % kv for kv in want.items() if kv[0] not in got),
                            seen or "nothing"))
        n += 1
        # logTerm != term: always a full msgappv2 frame
        a.send(full_msg("MsgHeartbeat", a.id, b.id, term=tag, commit=n))
        a.send(full_msg("MsgApp", a.id, b.id, term=tag, logTerm=tag - 1, index=n, commit=n))
        time.sleep(0.05)
        for e in b.proc.events_since(m0, "recv"):
            m = e["msg"]
            if m.get("term") == tag and m["from"] == a.id and want.get(m["type"]) == e.get("via"):
                got.setdefault(m["type"], e["_t"])
    return max(got.values())


def check_status(x, peer_id, what):
    st = x.proc.status()
    p = [q for q in st["peers"] if q["id"] == peer_id]
    if not p or p[0].get("active") is not True or not p[0].get("activeSince"):
        raise Failed("%s: status does not show peer %x active with activeSince (%s): %s"
                     % (x.proc.name, peer_id, what, st))
    return p[0]


def bring_up(first, second, what):
    first.start()
    second.start()
    for x, y in ((first, second), (second, first)):
        x.proc.wait(lambda e: e["event"] == "peerActive" and e["id"] == y.id,
                    "peerActive %x" % y.id, 5, 0)
    ping_both_streams(first, second, 50, 5)
    ping_both_streams(second, first, 51, 5)
    for x, y in ((first, second), (second, first)):
        check_status(x, y.id, what)
    ok("%s: streams up both ways (%s started first): peerActive and status active with "
       "activeSince on both; heartbeats via streamMsg and MsgApps via streamMsgAppV2 each way"
       % (what, first.label))


def stop_clean(*members):
    for x in members:
        rc = x.proc.stop()
        if rc != 0:
            raise Failed("%s exited with status %s on SIGTERM, want 0" % (x.proc.name, rc))


def check_types(src, dst, c_sends):
    cases = every_type(src.id, dst.id)
    m0 = dst.proc.mark()
    ms = src.proc.mark()
    for name, inp, exp in cases:
        src.send(inp)
    checked, excluded = [], None
    for name, inp, exp in cases:
        via = {"MsgApp": "streamMsgAppV2", "MsgSnap": "pipeline"}.get(name, "streamMsg")
        if name == "MsgSnap" and c_sends:
            # C's pipeline sender may not exist yet: then C must say it dropped it
            end = time.monotonic() + 5
            while True:
                got = [e for e in dst.proc.events_since(m0, "recv") if e["msg"]["type"] == name]
                drop = [e for e in src.proc.events_since(ms, "dropped") if e.get("type") == name]
                if got or drop or time.monotonic() > end:
                    break
                time.sleep(0.05)
            if drop and not got:
                excluded = ("EXCLUDED: %s -> %s MsgSnap (goes by the pipeline; C has no pipeline "
                            "sender: it reports dropped, reason %r)"
                            % (src.label, dst.label, drop[0].get("reason")))
                continue
            if not got:
                raise Failed("%s -> %s: MsgSnap neither arrived nor was reported dropped within 5s"
                             % (src.label, dst.label))
        ev = dst.proc.wait(recv_pred(lambda m, n=name: m["type"] == n), "recv " + name, 10, m0)
        if canon(ev["msg"]) != canon(exp):
            raise Failed("%s -> %s: %s differs:\n  sent %s\n  got  %s\n  want %s"
                         % (src.label, dst.label, name, canon(inp), canon(ev["msg"]), canon(exp)))
        if ev.get("via") != via:
            raise Failed("%s -> %s: %s came via %r, want %r"
                         % (src.label, dst.label, name, ev.get("via"), via))
        checked.append(name)
    ok("%s -> %s: %d message types (0..18%s) arrived identical to what was sent "
       "(MsgApp via streamMsgAppV2, MsgSnap via pipeline, the rest via streamMsg)"
       % (src.label, dst.label, len(checked), " but MsgSnap" if excluded else ""))
    if excluded:
        print(excluded, flush=True)


def msgapp_run(src, dst, term):
    """RUN MsgApps continuing each other: AppEntries frames after the first."""
    sent = []
    index = 5000
    for i in range(RUN):
        k = 1 + i % 3
        ents = []
        for j in range(k):
            data = None if (i + j) % 5 == 0 else b64(("%d/%d:" % (i, j)).encode() + b"x" * ((i * 7 + j) % 300))
            ents.append(entry(term, index + 1 + j, "EntryConfChange" if (i + j) % 11 == 0 else "EntryNormal", data))
        sent.append(full_msg("MsgApp", src.id, dst.id, term=term, logTerm=term, index=index,
                             commit=index - 3, entries=ents))
        index += k
    md, ms = dst.proc.mark(), src.proc.mark()
    t0 = time.monotonic()
    for m in sent:
        src.send(m)
    dst.proc.wait(recv_pred(lambda m: m["type"] == "MsgApp" and m["term"] == term
                            and m["index"] == sent[-1]["index"]),
                  "the last MsgApp of the run (%d of them)" % RUN, 30, md)
    dt = time.monotonic() - t0
    got = [e for e in dst.proc.events_since(md, "recv")
           if e["msg"]["type"] == "MsgApp" and e["msg"]["term"] == term]
    drops = src.proc.events_since(ms, "dropped") + dst.proc.events_since(md, "dropped")
    if drops:
        raise Failed("%s -> %s: messages dropped during the MsgApp run: %s"
                     % (src.label, dst.label, drops[:5]))
    if len(got) != RUN:
        raise Failed("%s -> %s: %d MsgApps of the run arrived, want %d"
                     % (src.label, dst.label, len(got), RUN))
    for i, (e, want) in enumerate(zip(got, sent)):
        if canon(e["msg"]) != canon(want):
            raise Failed("%s -> %s: MsgApp %d of the run differs (or out of order):\n  got  %s\n  want %s"
                         % (src.label, dst.label, i, canon(e["msg"])[:600], canon(want)[:600]))
        if e.get("via") != "streamMsgAppV2":
            raise Failed("%s -> %s: MsgApp %d of the run came via %r, want streamMsgAppV2"
                         % (src.label, dst.label, i, e.get("via")))
    nent = sum(len(m["entries"]) for m in sent)
    ok("%s -> %s: %d consecutive MsgApps (%d entries, indexes %d..%d) in order, identical, "
       "all via streamMsgAppV2, none dropped (%.2fs)"
       % (src.label, dst.label, RUN, nent, sent[0]["index"] + 1, index, dt))


def idle(c, g, seconds=16.0):
    before = {x.label: check_status(x, y.id, "before idling")["activeSince"]
              for x, y in ((c, g), (g, c))}
    mc, mg = c.proc.mark(), g.proc.mark()
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        time.sleep(0.25)
        flaps = [(x.proc.name, e) for x, m in ((c, mc), (g, mg))
                 for e in x.proc.events_since(m) if e["event"] in ("peerInactive", "peerActive")]
        if flaps:
            raise Failed("idle link: %s after %.1fs of silence"
                         % (flaps, seconds - (end - time.monotonic())))
    after = {x.label: check_status(x, y.id, "after idling")["activeSince"]
             for x, y in ((c, g), (g, c))}
    if after != before:
        raise Failed("idle link: activeSince changed (the peer flapped): before %s, after %s"
                     % (before, after))
    ping_both_streams(c, g, 60, 1)
    ping_both_streams(g, c, 61, 1)
    ok("idle %.0f s: no peerInactive on either side, activeSince unchanged (%s), and both "
       "stream types still carry traffic each way" % (seconds, before[c.label]))


def kill_restart(victim, survivor, tag):
    ms = survivor.proc.mark()
    victim.proc.kill()
    inact = survivor.proc.wait(lambda e: e["event"] == "peerInactive" and e["id"] == victim.id,
                               "peerInactive %x after %s was killed" % (victim.id, victim.label), 5, ms)
    time.sleep(1.0)
    spawn = time.monotonic()
    victim.start()
    act = survivor.proc.wait(lambda e: e["event"] == "peerActive" and e["id"] == victim.id,
                             "peerActive %x after %s restarted" % (victim.id, victim.label), 5, ms)
    last = max(ping_both_streams(survivor, victim, tag, 5), ping_both_streams(victim, survivor, tag + 1, 5))
    victim.proc.wait(lambda e: e["event"] == "peerActive" and e["id"] == survivor.id,
                     "peerActive %x in the restarted %s" % (survivor.id, victim.label), 1, 0)
    dt = last - victim.ready_t
    if dt > RESTART_WITHIN:
        raise Failed("%s restarted: the four streams carried traffic again only %.2fs after its "
                     "ready event (%.2fs after spawn), want within %.1fs"
                     % (victim.label, dt, last - spawn, RESTART_WITHIN))
    ok("%s killed: %s reported it inactive (%r), then active again %.0f ms after the restarted "
       "%s was ready; all four streams carry traffic %.0f ms after ready (%.0f ms after spawn)"
       % (victim.label, survivor.label, inact.get("reason", "")[:80], (act["_t"] - victim.ready_t) * 1000,
          victim.label, dt * 1000, (last - spawn) * 1000))


def test():
    need_binary(RAFTHTTP, "rafthttp (C node; or a gopeer, to check the test)")
    need_binary(GOPEER, "gopeer (tests/interop/gopeer/build.sh BUILD_DIR)")
    cl = "Go2" if is_gopeer(RAFTHTTP) else "C"
    cport, gport = free_port(), free_port()
    mk = lambda: (Member(cl, RAFTHTTP, C_ID, cport, G_ID, gport),
                  Member("Go", GOPEER, G_ID, gport, C_ID, cport))

    c, g = mk()
    bring_up(g, c, "setup 1")
    stop_clean(c, g)
    c, g = mk()
    bring_up(c, g, "setup 2")

    check_types(c, g, c_sends=not is_gopeer(RAFTHTTP))
    check_types(g, c, c_sends=False)

    msgapp_run(c, g, 300)
    msgapp_run(g, c, 301)

    idle(c, g)

    kill_restart(g, c, 70)
    kill_restart(c, g, 80)

    stop_clean(c, g)
    for x in (c, g):
        bad = x.proc.events_since(0, "unparsable")
        if bad:
            raise Failed("%s printed non-JSON stdout lines: %s" % (x.proc.name, bad[:3]))
    ok("both exit 0 on SIGTERM; every stdout line was a JSON event")


if __name__ == "__main__":
    main(test)
