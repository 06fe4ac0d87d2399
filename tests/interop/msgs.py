# SPDX-License-Identifier: Apache-2.0
"""Raft messages as docs/json.md prints them (key order included), for
comparing what a member reports in a recv event with what was sent."""
import base64
import json

TYPES = ["MsgHup", "MsgBeat", "MsgProp", "MsgApp", "MsgAppResp", "MsgVote", "MsgVoteResp",
         "MsgSnap", "MsgHeartbeat", "MsgHeartbeatResp", "MsgUnreachable", "MsgSnapStatus",
         "MsgCheckQuorum", "MsgTransferLeader", "MsgTimeoutNow", "MsgReadIndex",
         "MsgReadIndexResp", "MsgPreVote", "MsgPreVoteResp"]


def zero_cs():
    return {"voters": [], "learners": [], "votersOutgoing": [], "learnersNext": [],
            "autoLeave": False}


def entry(term, index, typ="EntryNormal", data=None):
    e = {"term": term, "index": index, "type": typ}
    if data is not None:
        e["data"] = data
    return e


def full_msg(t, frm, to, term=0, logTerm=0, index=0, commit=0, entries=(), reject=False,
             rejectHint=0, context=None, snapdata=None, sidx=0, sterm=0, cs=None):
    """A MSG exactly as docs/json.md prints it for an etcd 3.4 message."""
    m = {"type": t, "to": to, "from": frm, "term": term, "logTerm": logTerm, "index": index,
         "commit": commit, "entries": list(entries), "reject": reject, "rejectHint": rejectHint}
    if context is not None:
        m["context"] = context
    snap = {}
    if snapdata is not None:
        snap["data"] = snapdata
    snap["metadata"] = {"index": sidx, "term": sterm, "confState": cs or zero_cs()}
    m["snapshot"] = snap
    return m


def canon(m):
    """The received msg without harness additions, as one compact line."""
    return json.dumps(m, separators=(",", ":"))


def b64(s):
    return base64.b64encode(s if isinstance(s, bytes) else s.encode()).decode()


def every_type(frm, to, base=100):
    """One message of each type 0..18 with every field it can carry set (IDs
    sent as hex strings, as etcd prints them). Returns [(name, input,
    expected)]. MsgApp has logTerm != term so it always travels as a full
    msgappv2 frame (which keeps every field)."""
    out = []
    for t, name in enumerate(TYPES):
        ents = []
        if name in ("MsgProp", "MsgApp"):
            ents = [entry(base + t, 1001 + t, "EntryNormal", b64("e1-%d" % t)),
                    entry(base + t, 1002 + t, "EntryConfChange", b64("e2-%d" % t)),
                    entry(base + t, 1003 + t, "EntryConfChangeV2"),
                    entry(base + t, 1004 + t, "EntryNormal", b64(bytes(range(256)) * 4))]
        kw = dict(term=base + t, logTerm=base - 10 + t, index=1000 + t, commit=900 + t,
                  entries=ents, reject=(t % 2 == 1), rejectHint=t * 7 + (1 << 40),
                  context=b64("ctx-%d" % t))
        if name == "MsgSnap":
            kw.update(snapdata=b64("snapdata"), sidx=777, sterm=77,
                      cs={"voters": [frm, to], "learners": [5], "votersOutgoing": [9],
                          "learnersNext": [11], "autoLeave": True})
        exp = full_msg(name, frm, to, **kw)
        inp = dict(exp, to="%x" % to, **{"from": "%x" % frm})
        out.append((name, inp, exp))
    return out
