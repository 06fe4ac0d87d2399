#!/usr/bin/env python3
"""Two real etcd 3.4.23 members plus one C `rafthttp node` in one cluster.

usage: test_etcd.py RAFTHTTP_BIN [ETCD_BIN]

The C node derives its ID and the cluster ID from the same --initial-cluster
and token as the etcd members (etcd's SHA-1 rules), and answers as a passive
follower (--reply echo-resp). Checks:
  - its streams to both members become active (status) and etcd logs the
    streams to it as established;
  - the leader's MsgHeartbeat and MsgApp arrive decoded in C;
  - what C sends is accepted by etcd: the members' metrics count bytes
    received from C, and the leader's /metrics shows it is still leader
    with C's responses flowing (no errors, no member shutdown).
The node never answers 410 (that would make a real member shut down).
"""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Failed, Proc, WORKDIR, free_port, http_get, main, need_binary, ok  # noqa

RAFTHTTP = sys.argv[1] if len(sys.argv) > 1 else ""
ETCD = sys.argv[2] if len(sys.argv) > 2 else "/usr/bin/etcd"
TOKEN = "rafthttp-interop"


def hexid(n):
    return "%x" % n


def test():
    need_binary(RAFTHTTP, "rafthttp")
    need_binary(ETCD, "etcd (apt-get install etcd-server)")
    peer = {n: free_port() for n in "abc"}
    client = {n: free_port() for n in "ab"}
    cluster = ",".join("%s=http://127.0.0.1:%d" % (n, peer[n]) for n in "abc")

    node = Proc("c-node", [RAFTHTTP, "node", "--name", "c", "--initial-cluster", cluster,
                           "--initial-cluster-token", TOKEN, "--reply", "echo-resp"])
    ready = node.wait_event(lambda e: e["event"] == "ready", 10, "ready")
    cid = ready["id"]
    ok("C node serving as member %s of cluster %s (IDs derived as etcd does)"
       % (hexid(cid), hexid(ready["clusterId"])))

    etcds = {}
    for n in "ab":
        etcds[n] = Proc("etcd-" + n, [
            ETCD, "--name", n, "--data-dir", os.path.join(WORKDIR, n + ".etcd"),
            "--listen-peer-urls", "http://127.0.0.1:%d" % peer[n],
            "--initial-advertise-peer-urls", "http://127.0.0.1:%d" % peer[n],
            "--listen-client-urls", "http://127.0.0.1:%d" % client[n],
            "--advertise-client-urls", "http://127.0.0.1:%d" % client[n],
            "--initial-cluster", cluster, "--initial-cluster-token", TOKEN,
            "--initial-cluster-state", "new", "--logger", "zap",
            "--heartbeat-interval", "100", "--election-timeout", "1000",
        ], json_events=False, stdin=False)

    # C's streams to both members: status shows both active
    ids = {}
    for _ in range(100):
        node.send({"cmd": "status"})
        st = node.wait_event(lambda e: e["event"] == "status", 5, "status")
        act = [p for p in st["peers"] if p.get("active")]
        if len(act) == 2:
            ids = {p["id"] for p in st["peers"]}
            break
        import time
        time.sleep(0.2)
    else:
        raise Failed("C node's peers never both became active: %s" % st)
    ok("C node's streams to both etcd members are active (status: %s)"
       % ", ".join(hexid(i) for i in sorted(ids)))

    hb = node.wait_event(lambda e: e["event"] == "recv" and e["msg"]["type"] == "MsgHeartbeat",
                         20, "a MsgHeartbeat from the leader", past=True)
    leader = hb["msg"]["from"]
    ok("leader %s's MsgHeartbeat arrived decoded in C (term %d, via %s)"
       % (hexid(leader), hb["msg"]["term"], hb["via"]))
    app = node.wait_event(lambda e: e["event"] == "recv" and e["msg"]["type"] == "MsgApp"
                          and e["msg"]["from"] == leader, 20, "a MsgApp from the leader", past=True)
    ok("leader's MsgApp arrived decoded in C (index %d, %d entries, via %s)"
       % (app["msg"]["index"], len(app["msg"]["entries"]), app["via"]))

    # what C sent (heartbeat and append responses) was read by etcd
    got = {}
    for n in "ab":
        status, body = http_get(client[n], "/metrics")
        if status != 200:
            raise Failed("etcd %s /metrics: HTTP %d" % (n, status))
        m = re.search(r'etcd_network_peer_received_bytes_total\{From="%s"\} (\S+)' % hexid(cid), body)
        got[n] = float(m.group(1)) if m else 0.0
    if max(got.values()) <= 0:
        raise Failed("no etcd member counts bytes received from C: %s" % got)
    ok("etcd members count bytes received from C: %s" % got)

    # etcd logged the stream to C as established, in both stream types
    import time
    deadline = time.time() + 5
    while True:
        logs = "".join(open(e.log_path).read() for e in etcds.values())
        est = [l for l in logs.splitlines()
               if "established TCP streaming connection with remote peer" in l and hexid(cid) in l]
        types = {t for t in ("stream Message", "stream MsgApp v2") if any(t in l for l in est)}
        if len(types) == 2 or time.time() > deadline:
            break
        time.sleep(0.2)
    if len(types) != 2:
        raise Failed("etcd logs do not show both stream types to C established: %s" % est[:4])
    ok("etcd logs: streams to C established (%d lines, types: %s)" % (len(est), sorted(types)))

    # the cluster works with C in it: a write through etcd's client API commits
    import http.client
    import json
    import base64
    leader_name = None
    for n in "ab":
        status, body = http_get(client[n], "/metrics")
        if re.search(r"^etcd_server_is_leader 1", body, re.M):
            leader_name = n
    if not leader_name:
        raise Failed("no etcd member reports itself leader")
    c = http.client.HTTPConnection("127.0.0.1", client[leader_name], timeout=10)
    req = json.dumps({"key": base64.b64encode(b"rafthttp").decode(),
                      "value": base64.b64encode(b"c-member").decode()})
    c.request("POST", "/v3/kv/put", req, {"Content-Type": "application/json"})
    r = c.getresponse()
    body = r.read().decode()
    if r.status != 200:
        raise Failed("put through etcd failed: %d %s" % (r.status, body))
    ok("a put through the etcd leader commits with C in the cluster")
    put_app = node.wait_event(
        lambda e: e["event"] == "recv" and e["msg"]["type"] == "MsgApp"
        and any(b"rafthttp" in base64.b64decode(en.get("data", "")) for en in e["msg"]["entries"]),
        10, "the put's MsgApp entry", past=True)
    ok("C received the put's log entry (index %d) over %s"
       % (put_app["msg"]["entries"][-1]["index"], put_app["via"]))

    for n, e in etcds.items():
        if e.p.poll() is not None:
            raise Failed("etcd %s exited during the test" % n)
        log = open(e.log_path).read()
        if "the member has been permanently removed" in log:
            raise Failed("etcd %s thinks it was removed" % n)
    ok("both etcd members still running, none removed")


if __name__ == "__main__":
    main(test)
