#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Messages between `rafthttp node` processes, black-box
(docs/node-cli.md "Messages (JSON)", "Standard input", recv and sent
events, --reply, --trace-sent; docs/json.md for the exact printed form).

usage: test_messages.py RAFTHTTP_BIN

- every message type, by name and by number (0-23, and unknown numbers),
  IDs as numbers and as hex strings, reaches the peer and is printed there
  exactly (docs/json.md, key order included), on the channel etcd picks:
  MsgApp on streamMsgAppV2, MsgSnap on the pipeline, the rest on streamMsg;
- bytes fields: "", null and absent are all absent, base64 passes through;
  entries, snapshot metadata, vote, responses, 2^64-1;
- msgappv2: a full MsgApp frame then an AppEntries frame, both rebuilt;
- --trace-sent: one sent event per message written (via, to, type); none
  without the flag;
- --reply echo-resp: every answer the spec lists, nothing else; --reply none
  (default): no answers.
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bb import (TYPES, Failed, Node, b64, canon, check, conf_state, free_port, full_msg,  # noqa
                hexid, main, node_args, ok)

A, B, E, CID = 0x8e9e05c52164694d, 0xfedcba9876543210, 0x3e, 0x5eed
MAX = (1 << 64) - 1


def start_pair(a_extra=(), b_extra=(), b_id=B):
    pa, pb = free_port(), free_port()
    a = Node("a", node_args(A, CID, pa, [(b_id, pb)], a_extra))
    b = Node("b", node_args(b_id, CID, pb, [(A, pa)], b_extra))
    a.wait(lambda e: e.get("event") == "peerActive" and e.get("id") == b_id, "peerActive", 5, 0)
    b.wait(lambda e: e.get("event") == "peerActive" and e.get("id") == A, "peerActive", 5, 0)
    warm_up(a, b, b_id)
    return a, b


def warm_up(a, b, b_id):
    """Until b gets a MsgApp over streamMsgAppV2 and a heartbeat over
    streamMsg: both streams of a -> b are up."""
    end = time.monotonic() + 5
    k = 0
    ma = a.mark()
    while True:
        k += 1
        m = b.mark()
        a.send({"type": "MsgApp", "to": b_id, "from": A, "term": 90000 + k, "logTerm": 1, "index": 1})
        a.send({"type": "MsgHeartbeat", "to": b_id, "from": A, "term": 90000 + k})
        app = b.wait(lambda e: e.get("event") == "recv" and e["msg"]["type"] == "MsgApp"
                     and e["msg"]["term"] == 90000 + k, "warm-up MsgApp", 5, m)
        hb = b.wait(lambda e: e.get("event") == "recv" and e["msg"]["type"] == "MsgHeartbeat"
                    and e["msg"]["term"] == 90000 + k, "warm-up heartbeat", 5, m)
        if app.get("via") == "streamMsgAppV2" and hb.get("via") == "streamMsg":
            if "--trace-sent" in a.argv:
                # the sender's sent events may come after the receiver's recv
                a.wait(lambda e: len(a.events(ma, "sent")) >= 2 * k, "sent events of the warm-up", 5, ma)
            return
        if time.monotonic() > end:
            raise Failed("streams a->b not both up after 5s: MsgApp via %r, heartbeat via %r"
                         % (app.get("via"), hb.get("via")))
        time.sleep(0.1)


def expect_recv(node, since, pred, what, timeout=5):
    return node.wait(lambda e: e.get("event") == "recv" and pred(e["msg"]), what, timeout, since)


def same(ev, want, what):
    got = ev["msg"]
    if canon(got) != canon(want):
        raise Failed("%s: printed\n      %s\n    want (docs/json.md, key order included)\n      %s"
                     % (what, canon(got), canon(want)))


def via_of(name):
    return {"MsgApp": "streamMsgAppV2", "MsgSnap": "pipeline"}.get(name, "streamMsg")


# ---------------------------------------------------------------- checks

def every_type():
    a, b = start_pair(["--trace-sent"])
    ma, mb = a.mark(), b.mark()
    sent = []
    kinds = list(enumerate(TYPES)) + [(24, None), (1000, None), (-1, None)]
    for k, (num, name) in enumerate(kinds):
        term = 100 + k
        msg = {"type": name if (name and k % 2 == 0) else num,
               "to": B if k % 2 == 0 else hexid(B), "from": A if k % 3 else hexid(A),
               "term": term, "logTerm": 7, "index": 1000 + k, "commit": 3, "reject": k % 4 == 1,
               "rejectHint": k}
        a.send(msg)
        sent.append((num, name, term))
    for num, name, term in sent:
        printed = name if name else num
        ev = expect_recv(b, mb, lambda m, t=term: m.get("term") == t, "%s (term %d)" % (printed, term))
        k = term - 100
        want = full_msg(printed, B, A, term=term, logTerm=7, index=1000 + k, commit=3, reject=k % 4 == 1,
                        rejectHint=k)
        same(ev, want, "type %s sent as %r" % (printed, name if (name and k % 2 == 0) else num))
        check(ev.get("via") == via_of(name), "%s arrived via %r, want %s (etcd's channel)"
              % (printed, ev.get("via"), via_of(name)))
    ok("all 24 message types (0-23, by name and by number) and unknown numbers 24, 1000, -1, IDs as "
       "numbers and hex strings (to %x > 2^63): printed exactly on b; MsgApp via streamMsgAppV2, "
       "MsgSnap via pipeline, the rest via streamMsg" % B)

    # --trace-sent: one sent event per message, with via, to, type
    for num, name, term in sent:
        printed = name if name else num
        a.wait(lambda e, p=printed: e.get("event") == "sent" and e.get("type") == p, "sent event for %s"
               % printed, 5, ma)
    time.sleep(0.2)
    for num, name, term in sent:
        printed = name if name else num
        evs = [e for e in a.events(ma, "sent") if e.get("type") == printed and e.get("to") == B]
        check(len(evs) == 1, "a (--trace-sent): %d sent events for %s to %x, want 1: %s"
              % (len(evs), printed, B, [e["_raw"] for e in evs]))
        check(evs[0].get("via") == via_of(name), "sent event for %s: via %r, want %s"
              % (printed, evs[0].get("via"), via_of(name)))
    # b answers nothing (--reply none) but does send: a heartbeat to a
    m = a.mark()
    b.send({"type": "MsgHeartbeat", "to": A, "from": B, "term": 77})
    expect_recv(a, m, lambda x: x.get("term") == 77 and x.get("type") == "MsgHeartbeat", "b's heartbeat")
    check(not b.events(0, "sent"), "b (no --trace-sent) printed sent events: %s" % b.events(0, "sent")[:3])
    ok("--trace-sent: exactly one sent event per message (%d), with via/to/type; a node without the "
       "flag prints none" % len(sent))
    a.stop0()
    b.stop0()


def bytes_and_fields():
    a, b = start_pair()
    mb = b.mark()
    # context: "", null, absent, base64
    a.send({"type": "MsgHeartbeat", "to": B, "from": A, "term": 201, "context": ""})
    a.send({"type": "MsgHeartbeat", "to": B, "from": A, "term": 202, "context": None})
    a.send({"type": "MsgHeartbeat", "to": B, "from": A, "term": 203})
    a.send({"type": "MsgHeartbeat", "to": B, "from": A, "term": 204, "context": b64(b"\x00\xffhi")})
    for term, ctx in ((201, None), (202, None), (203, None), (204, b64(b"\x00\xffhi"))):
        ev = expect_recv(b, mb, lambda m, t=term: m.get("term") == t, "heartbeat term %d" % term)
        same(ev, full_msg("MsgHeartbeat", B, A, term=term, context=ctx), "context form %d" % term)
    ok("context \"\", null and absent all arrive absent (no \"context\" key); base64 bytes pass through")

    # entries: data forms, entry types by name and number
    ents_in = [{"term": 1, "index": 5, "type": "EntryNormal", "data": ""},
               {"term": 1, "index": 6, "data": None},
               {"term": 1, "index": 7},
               {"term": 2, "index": 8, "type": "EntryConfChange", "data": b64("cc")},
               {"term": 2, "index": 9, "type": 2, "data": b64(b"v2")},
               {"term": MAX, "index": MAX, "type": 7}]
    ents_out = [{"term": 1, "index": 5, "type": "EntryNormal"},
                {"term": 1, "index": 6, "type": "EntryNormal"},
                {"term": 1, "index": 7, "type": "EntryNormal"},
                {"term": 2, "index": 8, "type": "EntryConfChange", "data": b64("cc")},
                {"term": 2, "index": 9, "type": "EntryConfChangeV2", "data": b64(b"v2")},
                {"term": MAX, "index": MAX, "type": 7}]
    a.send({"type": "MsgProp", "to": B, "from": A, "term": 205, "entries": ents_in})
    ev = expect_recv(b, mb, lambda m: m.get("term") == 205, "MsgProp with entries")
    same(ev, full_msg("MsgProp", B, A, term=205, entries=ents_out), "entries")
    ok("entries: data \"\"/null/absent absent, base64 kept, types by name and number (unknown 7 printed "
       "as 7), term/index 2^64-1")

    # snapshot with data and full metadata (pipeline), and with data ""
    snap_in = {"data": b64("snapshot-data"), "metadata": {"index": MAX, "term": 42, "confState": {
        "voters": [1, 2, MAX], "learners": [4], "votersOutgoing": [1], "learnersNext": [5],
        "autoLeave": True}}}
    a.send({"type": "MsgSnap", "to": B, "from": A, "term": 206, "snapshot": snap_in})
    ev = expect_recv(b, mb, lambda m: m.get("term") == 206, "MsgSnap with snapshot data")
    same(ev, full_msg("MsgSnap", B, A, term=206, snapshot=snap_in), "snapshot")
    a.send({"type": "MsgSnap", "to": B, "from": A, "term": 207,
            "snapshot": {"data": "", "metadata": {"index": 3, "term": 1}}})
    ev = expect_recv(b, mb, lambda m: m.get("term") == 207, "MsgSnap with snapshot data \"\"")
    same(ev, full_msg("MsgSnap", B, A, term=207,
                      snapshot={"metadata": {"index": 3, "term": 1, "confState": conf_state()}}),
         "snapshot data \"\"")
    ok("snapshot: data, index 2^64-1, confState (voters, learners, votersOutgoing, learnersNext, "
       "autoLeave) exact; data \"\" absent; missing confState lists print as []")

    # every scalar at 2^64-1; vote (hex string) and responses (newer raft)
    a.send({"type": "MsgHeartbeat", "to": hexid(B), "from": hexid(A), "term": MAX, "logTerm": MAX,
            "index": MAX, "commit": MAX, "rejectHint": MAX, "reject": True})
    ev = expect_recv(b, mb, lambda m: m.get("term") == MAX and m.get("type") == "MsgHeartbeat", "2^64-1 fields")
    same(ev, full_msg("MsgHeartbeat", B, A, term=MAX, logTerm=MAX, index=MAX, commit=MAX, reject=True,
                      rejectHint=MAX), "2^64-1 fields")
    a.send({"type": "MsgVote", "to": B, "from": A, "term": 208, "vote": hexid(0x2a)})
    ev = expect_recv(b, mb, lambda m: m.get("term") == 208, "MsgVote with vote")
    check(ev["msg"].get("vote") == 0x2a and list(ev["msg"])[-1] == "vote",
          "vote given as hex string \"2a\": printed %s" % canon(ev["msg"]))
    a.send({"type": "MsgStorageAppend", "to": B, "from": A, "term": 209,
            "responses": [{"type": "MsgAppResp", "to": 7, "from": 8, "term": 9, "index": 10}]})
    ev = expect_recv(b, mb, lambda m: m.get("term") == 209, "MsgStorageAppend with responses")
    rs = ev["msg"].get("responses")
    check(isinstance(rs, list) and len(rs) == 1 and
          {k: rs[0].get(k) for k in ("type", "to", "from", "term", "index")} ==
          {"type": "MsgAppResp", "to": 7, "from": 8, "term": 9, "index": 10},
          "responses: printed %s" % canon(ev["msg"]))
    check("vote" not in ev["msg"], "vote printed although absent: %s" % canon(ev["msg"]))
    ok("every integer field at 2^64-1; vote (given as hex) and responses printed when present, only then")

    # extra keys are ignored; a line may end in CRLF (\r is JSON whitespace)
    a.send({"type": "MsgHeartbeat", "to": B, "from": A, "term": 210, "foo": {"bar": [1, 2]}, "cmdx": 1})
    a.send(b'{"type":"MsgHeartbeat","to":%d,"from":%d,"term":211}\r' % (B, A))
    for term in (210, 211):
        ev = expect_recv(b, mb, lambda m, t=term: m.get("term") == t, "heartbeat term %d" % term)
        same(ev, full_msg("MsgHeartbeat", B, A, term=term), "term %d" % term)
    check(not a.events(0, "error"), "a reported errors: %s" % [e["_raw"] for e in a.events(0, "error")])
    ok("extra keys in a message are ignored; a line ending in CRLF is accepted")
    a.stop0()
    b.stop0()


def large_messages():
    a, b = start_pair()
    mb = b.mark()
    big = os.urandom(4 << 20)
    a.send({"type": "MsgApp", "to": B, "from": A, "term": 600, "logTerm": 1, "index": 1, "commit": 1,
            "entries": [{"term": 600, "index": 2, "data": b64(big)}, {"term": 600, "index": 3, "data": b64("s")}]})
    a.send({"type": "MsgHeartbeat", "to": B, "from": A, "term": 601, "context": b64(big[:2 << 20])})
    a.send({"type": "MsgSnap", "to": B, "from": A, "term": 602,
            "snapshot": {"data": b64(big[:3 << 20]), "metadata": {"index": 5, "term": 4}}})
    ev = expect_recv(b, mb, lambda m: m.get("term") == 600, "4 MiB MsgApp", 20)
    check(ev.get("via") == "streamMsgAppV2" and [e.get("data") for e in ev["msg"]["entries"]] == [b64(big), b64("s")],
          "4 MiB entry via %r: data differs" % ev.get("via"))
    ev = expect_recv(b, mb, lambda m: m.get("term") == 601, "2 MiB heartbeat context", 20)
    check(ev.get("via") == "streamMsg" and ev["msg"].get("context") == b64(big[:2 << 20]), "2 MiB context differs")
    ev = expect_recv(b, mb, lambda m: m.get("term") == 602, "3 MiB snapshot data", 20)
    check(ev.get("via") == "pipeline" and ev["msg"]["snapshot"].get("data") == b64(big[:3 << 20]),
          "3 MiB snapshot data differs")
    ok("large messages: a 4 MiB entry via streamMsgAppV2, a 2 MiB context via streamMsg, 3 MiB of snapshot "
       "data via pipeline, all byte-exact")
    a.stop0()
    b.stop0()


def msgappv2_frames():
    """etcd's msgappv2 encoder sends a MsgApp that continues the previous
    one (index = last index sent, logTerm = term = the previous term) as a
    short AppEntries frame; the receiver rebuilds the whole message."""
    a, b = start_pair()
    mb = b.mark()
    e1 = [{"term": 500, "index": 11, "type": "EntryNormal", "data": b64("one")},
          {"term": 500, "index": 12, "type": "EntryNormal"}]
    e2 = [{"term": 500, "index": 13, "type": "EntryConfChange", "data": b64("two")}]
    a.send({"type": "MsgApp", "to": B, "from": A, "term": 500, "logTerm": 499, "index": 10, "commit": 9,
            "entries": e1, "context": b64("ctx")})
    a.send({"type": "MsgApp", "to": B, "from": A, "term": 500, "logTerm": 500, "index": 12, "commit": 12,
            "entries": e2})
    a.send({"type": "MsgApp", "to": B, "from": A, "term": 500, "logTerm": 500, "index": 13, "commit": 13})
    a.send({"type": "MsgApp", "to": B, "from": A, "term": 501, "logTerm": 500, "index": 13, "commit": 13})
    wants = [full_msg("MsgApp", B, A, term=500, logTerm=499, index=10, commit=9, entries=e1, context=b64("ctx")),
             full_msg("MsgApp", B, A, term=500, logTerm=500, index=12, commit=12, entries=e2),
             full_msg("MsgApp", B, A, term=500, logTerm=500, index=13, commit=13),
             full_msg("MsgApp", B, A, term=501, logTerm=500, index=13, commit=13)]
    b.wait(lambda e: len([x for x in b.events(mb, "recv") if x["msg"].get("term") in (500, 501)]) >= 4,
           "the four MsgApps", 5, mb)
    got = [x for x in b.events(mb, "recv") if x["msg"].get("term") in (500, 501)]
    check(len(got) == 4, "%d MsgApps arrived, want 4" % len(got))
    for k, (ev, want) in enumerate(zip(got, wants)):
        same(ev, want, "MsgApp %d of the msgappv2 sequence (in order)" % (k + 1))
        check(ev.get("via") == "streamMsgAppV2", "MsgApp %d via %r" % (k + 1, ev.get("via")))
    ok("msgappv2: a full MsgApp frame, two AppEntries frames (with and without entries) and a new term "
       "arrive in order, rebuilt exactly, via streamMsgAppV2")
    a.stop0()
    b.stop0()


def echo_resp():
    a, e = start_pair(b_extra=["--reply", "echo-resp"], b_id=E)
    ma = a.mark()
    sends = [
        ({"type": "MsgHeartbeat", "to": E, "from": A, "term": 7, "commit": 5, "context": b64("hb-ctx")},
         {"type": "MsgHeartbeatResp", "term": 7, "context": b64("hb-ctx")}),
        ({"type": "MsgApp", "to": E, "from": A, "term": 8, "logTerm": 8, "index": 19, "commit": 19,
          "entries": [{"term": 8, "index": 20}, {"term": 8, "index": 21}]},
         {"type": "MsgAppResp", "term": 8, "index": 21, "reject": False}),
        ({"type": "MsgApp", "to": E, "from": A, "term": 9, "logTerm": 8, "index": 30, "commit": 21},
         {"type": "MsgAppResp", "term": 9, "index": 30, "reject": False}),
        ({"type": "MsgVote", "to": E, "from": A, "term": 10, "logTerm": 9, "index": 30},
         {"type": "MsgVoteResp", "term": 10, "reject": False}),
        ({"type": "MsgPreVote", "to": E, "from": A, "term": 11, "logTerm": 9, "index": 30},
         {"type": "MsgPreVoteResp", "term": 11, "reject": False}),
        ({"type": "MsgSnap", "to": E, "from": A, "term": 12,
          "snapshot": {"metadata": {"index": 100, "term": 11, "confState": {"voters": [A, E]}}}},
         {"type": "MsgAppResp", "term": 12, "index": 100, "reject": False}),
    ]
    for msg, _ in sends:
        a.send(msg)
    for msg, want in sends:
        ev = expect_recv(a, ma, lambda m, w=want: m.get("type") == w["type"] and m.get("term") == w["term"],
                         "%s answering %s term %d" % (want["type"], msg["type"], msg["term"]))
        got = ev["msg"]
        for k, v in want.items():
            check(got.get(k) == v, "answer to %s: %s = %r, want %r: %s" % (msg["type"], k, got.get(k), v, canon(got)))
        check(got.get("to") == A and got.get("from") == E,
              "answer to %s: to/from %r/%r, want %x/%x" % (msg["type"], got.get("to"), got.get("from"), A, E))
        if want["type"] != "MsgHeartbeatResp":
            check("context" not in got, "answer to %s has a context: %s" % (msg["type"], canon(got)))
    ok("--reply echo-resp: MsgHeartbeat -> MsgHeartbeatResp (term, context echoed); MsgApp -> accepting "
       "MsgAppResp at its last entry's index (21) or its index without entries (30); MsgVote/MsgPreVote -> "
       "granting responses of the same term; MsgSnap -> MsgAppResp at the snapshot's index (100)")

    # nothing else is answered: the other types, then a heartbeat as a barrier
    mark = a.mark()
    for k, t in enumerate(["MsgProp", "MsgHeartbeatResp", "MsgAppResp", "MsgVoteResp", "MsgReadIndex",
                           "MsgTimeoutNow", "MsgTransferLeader", "MsgPreVoteResp", "MsgSnapStatus",
                           "MsgForgetLeader"]):
        a.send({"type": t, "to": E, "from": A, "term": 300 + k})
    a.send({"type": "MsgHeartbeat", "to": E, "from": A, "term": 399})
    expect_recv(a, mark, lambda m: m.get("type") == "MsgHeartbeatResp" and m.get("term") == 399, "barrier answer")
    time.sleep(0.3)
    extra = [x["_raw"] for x in a.events(mark, "recv") if x["msg"].get("term") != 399]
    check(not extra, "echo-resp answered types the spec does not list: %s" % extra[:3])
    ok("--reply echo-resp answers nothing else (MsgProp, responses, MsgReadIndex, MsgTimeoutNow, ...)")
    a.stop0()
    e.stop0()


def no_link_heartbeats():
    """Link heartbeats (etcd's writers send one every ~1.7 s on an idle
    stream) are not raft messages and are not reported."""
    a, b = start_pair()
    ma, mb = a.mark(), b.mark()
    time.sleep(2.5)
    got = a.events(ma) + b.events(mb)
    check(not got, "idle streams for 2.5s printed events: %s" % [e["_raw"] for e in got][:3])
    m = b.mark()
    a.send({"type": "MsgHeartbeat", "to": B, "from": A, "term": 1})
    expect_recv(b, m, lambda x: x.get("term") == 1, "heartbeat after idling")
    ok("idle streams for 2.5s (link heartbeats flowing): no events on either side; then delivered")
    a.stop0()
    b.stop0()


def reply_none():
    for flag in (["--reply", "none"], []):
        a, b = start_pair(b_extra=flag)
        ma, mb = a.mark(), b.mark()
        msgs = [{"type": "MsgHeartbeat", "to": B, "from": A, "term": 1, "context": b64("x")},
                {"type": "MsgApp", "to": B, "from": A, "term": 2, "index": 3, "entries": [{"term": 2, "index": 4}]},
                {"type": "MsgVote", "to": B, "from": A, "term": 3},
                {"type": "MsgPreVote", "to": B, "from": A, "term": 4},
                {"type": "MsgSnap", "to": B, "from": A, "term": 5, "snapshot": {"metadata": {"index": 9}}}]
        for msg in msgs:
            a.send(msg)
        for msg in msgs:
            expect_recv(b, mb, lambda m, x=msg: m.get("type") == x["type"] and m.get("term") == x["term"],
                        "%s on b" % msg["type"])
        time.sleep(0.5)
        got = a.events(ma, "recv")
        check(not got, "%s: b answered: %s" % (" ".join(flag) or "default", [x["_raw"] for x in got][:3]))
        ok("%s: b receives MsgHeartbeat, MsgApp, MsgVote, MsgPreVote, MsgSnap and answers none"
           % (" ".join(flag) or "--reply default (none)"))
        a.stop0()
        b.stop0()


if __name__ == "__main__":
    main([every_type, bytes_and_fields, large_messages, msgappv2_frames, echo_resp, reply_none,
          no_link_heartbeats])
