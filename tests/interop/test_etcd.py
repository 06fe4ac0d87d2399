#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Two real etcd 3.4.23 members plus one C `rafthttp node` in one cluster.

usage: test_etcd.py RAFTHTTP_BIN [ETCD_BIN]      (ETCD_BIN default /usr/bin/etcd)

The C node derives its ID and the cluster ID from the same --initial-cluster
and token as the etcd members (etcd's SHA-1 rules), and answers as a passive
follower (--reply echo-resp). Checks:
  - the IDs: C's ready event, this script's own SHA-1 computation (the spec's
    rule) and etcd's member list agree;
  - C's streams to both members become active (status), and each etcd member
    logs all four streams with C established (its reader and writer, message
    and msgappv2);
  - the leader's MsgHeartbeat (via streamMsg) and MsgApp (via
    streamMsgAppV2) arrive decoded in C, from the leader's ID;
  - what C sends is accepted: the leader counts bytes received from C
    (etcd_network_peer_received_bytes_total{From="<C id>"}) from C's
    echo-resp answers, and a message typed into C's stdin raises the other
    member's count from 0;
  - a put through etcd's client API commits with C in the cluster and its
    entry reaches C; neither member exits or believes itself removed.
The node never answers 410 (that would make a real member shut down).

test_etcd_tls.py runs the same over mutual TLS: every member (etcd and C)
with --peer-cert-file/--peer-key-file/--peer-trusted-ca-file and
--peer-client-cert-auth, https:// peer URLs, certificates from
tests/tls/make-certs.sh.
"""
import base64
import hashlib
import http.client
import json
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (Failed, Proc, WORKDIR, free_port, http_get, main, make_certs,  # noqa
                     need_binary, ok, tls_flags)

RAFTHTTP = sys.argv[1] if len(sys.argv) > 1 else ""
ETCD = sys.argv[2] if len(sys.argv) > 2 else "/usr/bin/etcd"
TOKEN = "rafthttp-interop"


def hexid(n):
    return "%x" % n


def member_id(urls, token):
    """etcd: SHA-1 over the sorted peer URLs concatenated, then the token;
    the first 8 bytes, big-endian."""
    h = hashlib.sha1(("".join(sorted(urls)) + token).encode()).digest()
    return int.from_bytes(h[:8], "big")


def cluster_id(ids):
    h = hashlib.sha1(b"".join(i.to_bytes(8, "big") for i in sorted(ids))).digest()
    return int.from_bytes(h[:8], "big")


def post_json(port, path, obj, timeout=10):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    c.request("POST", path, json.dumps(obj), {"Content-Type": "application/json"})
    r = c.getresponse()
    body = r.read().decode()
    c.close()
    return r.status, body


def received_from(port, cid):
    status, body = http_get(port, "/metrics")
    if status != 200:
        raise Failed("etcd /metrics on port %d: HTTP %d" % (port, status))
    m = re.search(r'^etcd_network_peer_received_bytes_total\{From="%s"\} (\S+)$' % hexid(cid), body, re.M)
    return float(m.group(1)) if m else 0.0


def is_leader(port):
    status, body = http_get(port, "/metrics")
    return status == 200 and re.search(r"^etcd_server_is_leader 1$", body, re.M) is not None


def test(tls=False):
    need_binary(RAFTHTTP, "rafthttp")
    need_binary(ETCD, "etcd 3.4 (apt-get install etcd-server)")
    certs = make_certs() if tls else None
    cert_of = {"a": "m1", "b": "m2", "c": "m3"}
    peer = {n: free_port() for n in "abc"}
    client = {n: free_port() for n in "ab"}
    scheme = "https" if tls else "http"
    purl = {n: "%s://127.0.0.1:%d" % (scheme, peer[n]) for n in "abc"}
    cluster = ",".join("%s=%s" % (n, purl[n]) for n in "abc")
    want_ids = {n: member_id([purl[n]], TOKEN) for n in "abc"}
    want_cid = cluster_id(want_ids.values())

    node = Proc("c-node", [RAFTHTTP, "node", "--name", "c", "--initial-cluster", cluster,
                           "--initial-cluster-token", TOKEN, "--reply", "echo-resp"] +
                (tls_flags(certs, cert_of["c"], "--peer-") if tls else []))
    ready = node.wait(lambda e: e["event"] == "ready", "ready event", 10, 0)
    cid_c = ready.get("id")
    if (cid_c, ready.get("clusterId")) != (want_ids["c"], want_cid):
        raise Failed("C node derived member %s of cluster %s; etcd's rule gives %x of %x"
                     % (cid_c, ready.get("clusterId"), want_ids["c"], want_cid))
    if ready.get("listen") != [purl["c"]]:
        raise Failed("C node listens on %r, want [%r] from --initial-cluster"
                     % (ready.get("listen"), purl["c"]))
    ok("C node serving on %s as member %x of cluster %x (the IDs etcd's SHA-1 rule gives)"
       % (purl["c"], cid_c, want_cid))

    etcds = {}
    for n in "ab":
        etcds[n] = Proc("etcd-" + n, [
            ETCD, "--name", n, "--data-dir", os.path.join(WORKDIR, n + ".etcd"),
            "--listen-peer-urls", purl[n], "--initial-advertise-peer-urls", purl[n],
            "--listen-client-urls", "http://127.0.0.1:%d" % client[n],
            "--advertise-client-urls", "http://127.0.0.1:%d" % client[n],
            "--initial-cluster", cluster, "--initial-cluster-token", TOKEN,
            "--initial-cluster-state", "new", "--logger", "zap", "--log-outputs", "stderr",
            "--heartbeat-interval", "100", "--election-timeout", "1000",
        ] + (tls_flags(certs, cert_of[n], "--peer-") if tls else []),
            json_events=False, stdin=False)

    # C's streams to both members: status shows both active
    deadline = time.monotonic() + 20
    while True:
        st = node.status()
        if len([p for p in st["peers"] if p.get("active")]) == 2:
            break
        for n, e in etcds.items():
            if e.p.poll() is not None:
                raise Failed("etcd %s exited (status %s) while C waited for its streams" % (n, e.p.returncode))
        if time.monotonic() > deadline:
            raise Failed("C node's peers did not both become active within 20s: %s" % st)
        time.sleep(0.2)
    ids = {p["id"] for p in st["peers"]}
    if ids != {want_ids["a"], want_ids["b"]}:
        raise Failed("C node's peers are %s, want the etcd members %x, %x"
                     % (sorted(map(hexid, ids)), want_ids["a"], want_ids["b"]))
    ok("C node's streams to both etcd members are active (status: %s)"
       % ", ".join(hexid(i) for i in sorted(ids)))

    # etcd's own view of the membership
    status, body = post_json(client["a"], "/v3/cluster/member/list", {})
    if status != 200:
        raise Failed("etcd a: member list: HTTP %d %s" % (status, body))
    listed = {m["name"] or "c": int(m["ID"]) for m in json.loads(body)["members"]}
    hdr = int(json.loads(body)["header"]["cluster_id"])
    if listed != want_ids or hdr != want_cid:
        raise Failed("etcd's member list %s (cluster %x) differs from the IDs the rule gives %s (cluster %x)"
                     % ({k: hexid(v) for k, v in listed.items()}, hdr,
                        {k: hexid(v) for k, v in want_ids.items()}, want_cid))
    ok("etcd's member list agrees: %s, cluster %x"
       % (", ".join("%s=%x" % kv for kv in sorted(listed.items())), hdr))

    hb = node.wait(lambda e: e["event"] == "recv" and e["msg"]["type"] == "MsgHeartbeat",
                   "a MsgHeartbeat from the leader", 20, 0)
    leader = hb["msg"]["from"]
    lname = [n for n in "ab" if want_ids[n] == leader]
    if not lname or hb["msg"]["to"] != cid_c or hb.get("via") != "streamMsg":
        raise Failed("heartbeat from %x to %x via %s: want from an etcd member, to C, via streamMsg"
                     % (leader, hb["msg"]["to"], hb.get("via")))
    lname, fname = lname[0], [n for n in "ab" if want_ids[n] != leader][0]
    ok("leader %s (%x)'s MsgHeartbeat arrived decoded in C (term %d, via streamMsg)"
       % (lname, leader, hb["msg"]["term"]))
    app = node.wait(lambda e: e["event"] == "recv" and e["msg"]["type"] == "MsgApp"
                    and e["msg"]["from"] == leader, "a MsgApp from the leader", 20, 0)
    if app.get("via") != "streamMsgAppV2":
        raise Failed("leader's MsgApp came via %s, want streamMsgAppV2" % app.get("via"))
    ok("leader's MsgApp arrived decoded in C (index %d, %d entries, via streamMsgAppV2)"
       % (app["msg"]["index"], len(app["msg"]["entries"])))

    # what C sent (heartbeat and append responses) was read by the leader
    deadline = time.monotonic() + 5
    while received_from(client[lname], cid_c) <= 0:
        if time.monotonic() > deadline:
            raise Failed("leader %s counts no bytes received from C after 5s" % lname)
        time.sleep(0.2)
    ok("leader %s counts %d bytes received from C (its echo-resp answers)"
       % (lname, received_from(client[lname], cid_c)))

    # a message typed into C reaches the follower (which gets nothing else from C):
    # a MsgHeartbeatResp at the current term, which a follower's raft ignores
    before = received_from(client[fname], cid_c)
    node.send({"type": "MsgHeartbeatResp", "from": hexid(cid_c), "to": hexid(want_ids[fname]),
               "term": hb["msg"]["term"]})
    deadline = time.monotonic() + 5
    while received_from(client[fname], cid_c) <= before:
        if time.monotonic() > deadline:
            raise Failed("follower %s: bytes received from C stayed at %d after C sent it a message"
                         % (fname, before))
        time.sleep(0.1)
    ok("follower %s accepted a message typed into C (received bytes from C: %d -> %d)"
       % (fname, before, received_from(client[fname], cid_c)))

    # each etcd member logs its reader and writer of both types with C
    deadline = time.monotonic() + 5
    while True:
        missing = []
        for n, e in etcds.items():
            with open(e.log_path, errors="replace") as f:
                lines = [json.loads(l) for l in f if l.startswith("{") and
                         "established TCP streaming connection with remote peer" in l]
            have = {(k, l.get(k)) for l in lines if l.get("remote-peer-id") == hexid(cid_c)
                    for k in ("stream-reader-type", "stream-writer-type") if k in l}
            for k in ("stream-reader-type", "stream-writer-type"):
                for t in ("stream Message", "stream MsgApp v2"):
                    if (k, t) not in have:
                        missing.append("%s %s %s" % (n, k.split("-")[1], t))
        if not missing or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    if missing:
        raise Failed("etcd logs do not show these streams with C established: %s" % missing)
    ok("etcd logs: both members established all four streams with C "
       "(reader and writer, stream Message and stream MsgApp v2)")

    # the cluster works with C in it: a write through etcd's client API commits
    leader_port = client[lname] if is_leader(client[lname]) else client[fname]
    status, body = post_json(leader_port, "/v3/kv/put",
                             {"key": base64.b64encode(b"rafthttp").decode(),
                              "value": base64.b64encode(b"c-member").decode()})
    if status != 200:
        raise Failed("put through etcd failed: %d %s" % (status, body))
    ok("a put through etcd commits with C in the cluster")
    put_app = node.wait(
        lambda e: e["event"] == "recv" and e["msg"]["type"] == "MsgApp"
        and any(base64.b64decode(en.get("data") or "").find(b"c-member") >= 0
                for en in e["msg"]["entries"]), "the put's MsgApp entry", 10, 0)
    ok("C received the put's log entry (index %d) via %s"
       % (put_app["msg"]["entries"][-1]["index"], put_app["via"]))

    for n, e in etcds.items():
        if e.p.poll() is not None:
            raise Failed("etcd %s exited (status %s) during the test" % (n, e.p.returncode))
        with open(e.log_path, errors="replace") as f:
            log = f.read()
        if "the member has been permanently removed" in log:
            raise Failed("etcd %s thinks it was removed" % n)
    crit = node.events_since(0, "critical")
    if crit:
        raise Failed("C node reported critical errors: %s" % crit)
    ok("both etcd members still running, none removed; C reported nothing critical")
    rc = node.stop()
    if rc != 0:
        raise Failed("C node exited with status %s on SIGTERM, want 0" % rc)
    ok("C node exits 0 on SIGTERM")


if __name__ == "__main__":
    main(test)
