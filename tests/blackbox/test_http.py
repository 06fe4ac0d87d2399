#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The listen URL's own HTTP surface, black-box (docs/node-cli.md):
GET /version, GET /members, GET /metrics (--metrics), and the server
limits: --read-header-timeout (default 10 s: a head not complete in time
closes the connection), --max-header-bytes (default 64 KiB: 431),
--max-body-bytes (default 512 MiB: POST /raft over it gets 413); N takes an
integer or a KiB/MiB/GiB suffix.

usage: test_http.py RAFTHTTP_BIN
"""
import json
import os
import re
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bb import (Failed, Node, b64, check, cluster_id, free_port, get_metrics, hexid, http,  # noqa
                main, member_id, node_args, ok, pb_encode_msg, peer_headers, read_response, rss_kib,
                sample, url)

CID = 0xc1d


# ---------------------------------------------------------------- helpers

class SlowHead(threading.Thread):
    """Opens a connection and sends part of a request head (then, with
    trickle, one more byte of a header every `trickle` seconds, never the end);
    .closed_after: seconds from the first byte until the server closed."""

    def __init__(self, port, trickle=None):
        super().__init__(daemon=True)
        self.port, self.trickle = port, trickle
        self.closed_after = None
        self.data = b""
        self.s = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.t0 = time.monotonic()
        self.s.sendall(b"GET /version HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")

    def run(self):
        s = self.s
        s.settimeout(self.trickle or 30)
        while time.monotonic() - self.t0 < 30:
            try:
                b = s.recv(4096)
            except socket.timeout:
                try:
                    s.sendall(b"a")
                except OSError:
                    break
                continue
            except OSError:
                break
            if not b:
                break
            self.data += b
        self.closed_after = time.monotonic() - self.t0
        s.close()


def head_of_size(port, path, total):
    """A GET head of about `total` bytes (one big X-Pad header)."""
    base = "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nX-Pad: \r\nConnection: close\r\n\r\n" % (path, port)
    pad = max(0, total - len(base))
    return ("GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nX-Pad: %s\r\nConnection: close\r\n\r\n"
            % (path, port, "p" * pad)).encode()


def send_raw(port, data, timeout=5, what="response"):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may answer and close before reading it all
        try:
            return read_response(s, timeout, what)
        except Failed as e:
            raise Failed("%s (%d bytes sent)" % (e, len(data)))
    finally:
        s.close()


def post_raft_head(port, to, frm, content_length, cid=CID):
    lines = ["POST /raft HTTP/1.1", "Host: 127.0.0.1:%d" % port, "Content-Type: application/protobuf",
             "Content-Length: %d" % content_length]
    lines += ["%s: %s" % kv for kv in peer_headers(frm, cid, [url(1)])]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def expect_no_answer(port, data, wait, what):
    """The server reads the head and waits for the body: no answer within
    `wait` seconds."""
    s = socket.create_connection(("127.0.0.1", port), timeout=wait)
    try:
        s.sendall(data)
        try:
            b = s.recv(4096)
        except socket.timeout:
            return
        raise Failed("%s: the server answered %r before the body came (want it to wait for "
                     "the body)" % (what, b[:200]))
    finally:
        s.close()


# ---------------------------------------------------------------- checks

def cluster_endpoints():
    """Two members made with --name/--initial-cluster; meanwhile a
    connection that never completes its head measures the default
    read-header timeout (10 s)."""
    pa, pb = free_port(), free_port()
    ua, ub = url(pa), url(pb)
    token = "http-%d" % pa
    ida, idb = member_id([ua], token), member_id([ub], token)
    cid = cluster_id([ida, idb])
    ic = "a=%s,b=%s" % (ua, ub)
    a = Node("a", ["--name", "a", "--initial-cluster", ic, "--initial-cluster-token", token])
    slow = SlowHead(pa)
    slow.start()
    trickle = SlowHead(pa, trickle=0.5)
    trickle.start()
    b = Node("b", ["--name", "b", "--initial-cluster", ic, "--initial-cluster-token", token])
    a.wait(lambda e: e.get("event") == "peerActive" and e.get("id") == idb, "peerActive b", 5, 0)

    # /version
    r = http(pa, "GET", "/version")
    check(r.status == 200, "GET /version: %s" % r.show())
    check((r.h("Content-Type") or "").startswith("application/json"), "/version Content-Type %r" % r.h("Content-Type"))
    v = json.loads(r.body)
    check(set(v) == {"etcdserver", "etcdcluster"} and v["etcdserver"] == "3.4.23",
          "/version %r, want {\"etcdserver\":\"3.4.23\",\"etcdcluster\":...}" % r.body)
    check(re.match(r"^3\.\d+\.0$", v["etcdcluster"] or "") is not None,
          "/version etcdcluster %r: want a cluster version MAJOR.MINOR.0" % v["etcdcluster"])
    ok("GET /version: %s (application/json)" % r.body.decode().strip())

    # /members
    want = sorted([{"id": ida, "peerURLs": [ua], "name": "a"}, {"id": idb, "peerURLs": [ub], "name": "b"}],
                  key=lambda m: m["id"])
    for port, who in ((pa, "a"), (pb, "b")):
        r = http(port, "GET", "/members")
        check(r.status == 200, "%s: GET /members: %s" % (who, r.show()))
        check((r.h("Content-Type") or "").startswith("application/json"),
              "%s: /members Content-Type %r, want application/json" % (who, r.h("Content-Type")))
        check(r.h("X-Etcd-Cluster-ID") == hexid(cid),
              "%s: /members X-Etcd-Cluster-ID %r, want %x" % (who, r.h("X-Etcd-Cluster-ID"), cid))
        try:
            got = json.loads(r.body)
        except ValueError:
            raise Failed("%s: /members body is not JSON: %r" % (who, r.body[:300]))
        check(got == want, "%s: /members %r, want %r (etcd's member list, sorted by id)" % (who, got, want))
        check(all(isinstance(m["id"], int) for m in got) and re.search(rb'"id":\s*%d' % want[0]["id"], r.body),
              "%s: /members ids must be decimal JSON numbers: %r" % (who, r.body))
    ok("GET /members on both: %s (sorted by id, decimal ids, application/json, X-Etcd-Cluster-ID %x)"
       % (r.body.decode().strip(), cid))
    for method in ("POST", "PUT", "DELETE"):
        r = http(pa, method, "/members")
        check(r.status == 405 and r.h("Allow") == "GET",
              "%s /members: %s; want 405 with Allow: GET" % (method, r.show()))
    ok("POST, PUT, DELETE /members: 405 with Allow: GET")

    # /metrics, after some traffic both ways
    for i in range(3):
        a.send({"type": "MsgHeartbeat", "to": idb, "from": ida, "term": 1})
        b.send({"type": "MsgHeartbeat", "to": ida, "from": idb, "term": 1})
    a.wait(lambda e: e.get("event") == "recv", "a heartbeat from b", 5, 0)
    b.wait(lambda e: e.get("event") == "recv", "a heartbeat from a", 5, 0)
    types, samples = get_metrics(pa)
    names = {n for n, _, _ in samples}
    check(names and all(n.startswith("etcd_network_") or n.startswith("process_") or n.startswith("go_")
                        for n in names), "metric names %r" % sorted(names))
    check(sample(samples, "etcd_network_active_peers", Local=hexid(ida), Remote=hexid(idb)) == 1,
          "etcd_network_active_peers{Local=%x,Remote=%x} = %r, want 1" % (
              ida, idb, sample(samples, "etcd_network_active_peers")))
    sent = sample(samples, "etcd_network_peer_sent_bytes_total", To=hexid(idb))
    rcvd = sample(samples, "etcd_network_peer_received_bytes_total", From=hexid(idb))
    check(sent and sent > 0 and rcvd and rcvd > 0,
          "peer_sent_bytes_total{To=%x} %r, peer_received_bytes_total{From=%x} %r: want > 0"
          % (idb, sent, idb, rcvd))
    for fam, kind in (("etcd_network_peer_sent_bytes_total", "counter"),
                      ("etcd_network_peer_received_bytes_total", "counter"),
                      ("etcd_network_active_peers", "gauge"),
                      ("etcd_network_disconnected_peers_total", "counter")):
        check(types.get(fam) == kind, "# TYPE %s %s missing (got %r)" % (fam, kind, types.get(fam)))
    ok("GET /metrics: Prometheus text, %d samples, etcd_network_* names; active_peers 1, "
       "sent %d / received %d bytes with peer %x" % (len(samples), sent, rcvd, idb))

    # default header and body limits on a
    r = send_raw(pa, head_of_size(pa, "/version", 60000), what="60000-byte head")
    check(r.status == 200, "a 60000-byte head (under the 64 KiB default): %s" % r.show())
    r = send_raw(pa, head_of_size(pa, "/version", 70000), what="70000-byte head")
    check(r.status == 431, "a 70000-byte head (over the 64 KiB default): %s; want 431" % r.show())
    ok("default --max-header-bytes 64 KiB: a 60000-byte head gets 200, a 70000-byte head 431")
    big = 512 << 20
    r = send_raw(pa, post_raft_head(pa, ida, idb, big + 1, cid), what="POST /raft 512 MiB + 1")
    check(r.status == 413, "POST /raft with Content-Length 512 MiB + 1: %s; want 413" % r.show())
    expect_no_answer(pa, post_raft_head(pa, ida, idb, big, cid), 0.7, "POST /raft with Content-Length 512 MiB")
    ok("default --max-body-bytes 512 MiB: POST /raft with Content-Length 512 MiB + 1 gets 413; "
       "exactly 512 MiB is waited for")

    slow.join(15)
    trickle.join(15)
    check(slow.closed_after is not None and 9.0 <= slow.closed_after <= 12.5,
          "default --read-header-timeout 10s: a head never completed was closed after %s s, want "
          "about 10 s" % (None if slow.closed_after is None else "%.1f" % slow.closed_after))
    check(trickle.closed_after is not None and 9.0 <= trickle.closed_after <= 12.5,
          "default --read-header-timeout 10s: a head trickled a byte every 0.5 s, never complete, "
          "was closed after %s s; want about 10 s (spec: \"request headers must be complete within "
          "10 s or the connection is closed\")"
          % (None if trickle.closed_after is None else "%.1f" % trickle.closed_after))
    ok("default --read-header-timeout 10s: an incomplete head closed after %.1fs, one trickled a byte "
       "every 0.5s after %.1fs" % (slow.closed_after, trickle.closed_after))
    # RTT: etcd probes an active peer and feeds the smoothed RTT to the
    # histogram 5 s after the peer was added (monitorProbingStatus)
    types, samples = get_metrics(pa)
    check(types.get("etcd_network_peer_round_trip_time_seconds") == "histogram",
          "# TYPE etcd_network_peer_round_trip_time_seconds histogram missing (got %r)"
          % types.get("etcd_network_peer_round_trip_time_seconds"))
    cnt = sample(samples, "etcd_network_peer_round_trip_time_seconds_count", To=hexid(idb))
    check(cnt is not None and cnt >= 1,
          "etcd_network_peer_round_trip_time_seconds_count{To=%x} = %r 10 s after the peer was added; "
          "want >= 1 (etcd observes the probed RTT 5 s after adding a peer)" % (idb, cnt))
    buckets = [(lb.get("le"), v) for n, lb, v in samples
               if n == "etcd_network_peer_round_trip_time_seconds_bucket" and lb.get("To") == hexid(idb)]
    check(buckets and buckets[-1] == ("+Inf", cnt), "RTT buckets %r: want a +Inf bucket equal to _count" % buckets)
    ok("/metrics: etcd_network_peer_round_trip_time_seconds{To=%x} histogram, %d observations, %d buckets"
       % (idb, cnt, len(buckets)))
    a.stop0()
    b.stop0()


def members_without_initial_cluster():
    n = Node("plain", node_args(0x1d, CID, 0))
    r = http(n.port, "GET", "/members")
    check(r.status == 404, "GET /members without --initial-cluster: %s; want 404 (spec: \"when known, "
          "else 404\")" % r.show())
    n.stop0()
    ok("GET /members without --initial-cluster: 404")


def metrics_flag():
    for flag, want in ((["--metrics=false"], 404), (["--metrics=true"], 200), (["--metrics"], 200), ([], 200)):
        n = Node("metrics", node_args(0x1d, CID, 0, [], flag))
        r = http(n.port, "GET", "/metrics")
        check(r.status == want, "%s: GET /metrics %s; want %d" % (" ".join(flag) or "default", r.show(), want))
        if want == 200:
            check(b"etcd_network_" in r.body, "%s: /metrics without etcd_network_ names" % flag)
        r = http(n.port, "GET", "/version")
        check(r.status == 200, "%s: GET /version: %s" % (flag, r.show()))
        n.stop0()
        ok("%s: GET /metrics %d" % (" ".join(flag) or "--metrics default (on)", want))


def read_header_timeout_flag():
    n = Node("rht", node_args(0x1d, CID, 0, [], ["--read-header-timeout", "1s"]))
    slow = SlowHead(n.port)
    slow.start()
    trickle = SlowHead(n.port, trickle=0.3)
    trickle.start()
    # a head completed in two parts within the timeout is served
    s = socket.create_connection(("127.0.0.1", n.port), timeout=5)
    s.sendall(b"GET /version HTTP/1.1\r\n")
    time.sleep(0.4)
    s.sendall(b"Host: 127.0.0.1\r\nConnection: close\r\n\r\n")
    r = read_response(s, 5, "two-part head")
    s.close()
    check(r.status == 200, "a head sent in two parts 0.4s apart (timeout 1s): %s" % r.show())
    slow.join(10)
    trickle.join(10)
    check(slow.closed_after is not None and 0.8 <= slow.closed_after <= 2.5,
          "--read-header-timeout 1s: an incomplete head was closed after %s s, want about 1 s"
          % (None if slow.closed_after is None else "%.1f" % slow.closed_after))
    check(trickle.closed_after is not None and 0.8 <= trickle.closed_after <= 2.5,
          "--read-header-timeout 1s: a head trickled a byte every 0.3 s was closed after %s s, want "
          "about 1 s (the head must be complete within the timeout)"
          % (None if trickle.closed_after is None else "%.1f" % trickle.closed_after))
    ok("--read-header-timeout 1s: a head in two parts within 1s served; incomplete closed after %.1fs, "
       "trickled after %.1fs" % (slow.closed_after, trickle.closed_after))

    # only the head is timed: a body sent slowly, and streams that carry
    # nothing for longer than the timeout, are not cut
    frm = 0x2e
    body = pb_encode_msg(8, 0x1d, frm, term=5, context=b"slow")
    m = n.mark()
    s = socket.create_connection(("127.0.0.1", n.port), timeout=10)
    head = ["POST /raft HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/protobuf",
            "Content-Length: %d" % len(body)] + ["%s: %s" % kv for kv in peer_headers(frm, CID)]
    s.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
    for i in range(0, len(body), 4):
        s.sendall(body[i:i + 4])
        time.sleep(1.8 / (len(body) / 4))
    r = read_response(s, 5, "slow POST /raft")
    s.close()
    check(r.status == 204, "--read-header-timeout 1s: a POST /raft body sent over 1.8s: %s; want 204" % r.show())
    n.wait(lambda e: e.get("event") == "recv" and e["msg"].get("term") == 5, "recv of the slow POST", 5, m)
    n.stop0()
    pa, pb = free_port(), free_port()
    a = Node("a", node_args(0xa, CID, pa, [(0xb, pb)], ["--read-header-timeout", "1s"]))
    b = Node("b", node_args(0xb, CID, pb, [(0xa, pa)], ["--read-header-timeout", "1s"]))
    a.wait(lambda e: e.get("event") == "peerActive", "peerActive", 5, 0)
    b.wait(lambda e: e.get("event") == "peerActive", "peerActive", 5, 0)
    time.sleep(2.5)
    m = b.mark()
    a.send({"type": "MsgHeartbeat", "to": 0xb, "from": 0xa, "term": 6})
    ev = b.wait(lambda e: e.get("event") == "recv" and e["msg"].get("term") == 6, "heartbeat after 2.5s", 5, m)
    lost = a.events(0, "peerInactive") + b.events(0, "peerInactive")
    check(not lost and ev.get("via") == "streamMsg",
          "--read-header-timeout 1s on both: streams cut after the head (%s), heartbeat via %r"
          % ([e["_raw"] for e in lost][:2], ev.get("via")))
    a.stop0()
    b.stop0()
    ok("--read-header-timeout 1s: a POST /raft body trickled over 1.8s is served (204, recv); streams stay "
       "up 2.5s (no peerInactive, heartbeat via streamMsg)")


def pipelining_client_that_never_reads():
    # keep-alive answers pile up only so far: a client that pipelines GETs
    # and never reads stops being read (then its head deadline closes it);
    # the node's memory stays flat however much it writes
    n = Node("flood", node_args(0x1d, CID, 0, [], ["--read-header-timeout", "2s"]))
    s = socket.create_connection(("127.0.0.1", n.port), timeout=5)
    s.setblocking(False)
    req = b"GET /version HTTP/1.1\r\nHost: x\r\n\r\n" * 2000
    base = rss_kib(n.p.pid)
    sent, stuck_since, t0 = 0, None, time.monotonic()
    while time.monotonic() - t0 < 4:
        try:
            sent += s.send(req)
            stuck_since = None
        except BlockingIOError:
            if stuck_since is None:
                stuck_since = time.monotonic()
            elif time.monotonic() - stuck_since > 0.5:
                break  # the node stopped reading
            time.sleep(0.01)
        except OSError:
            break  # closed by the head deadline
    grown = rss_kib(n.p.pid) - base
    s.close()
    nreq = sent // 38
    check(stuck_since is not None or sent < 64 << 20,
          "the node kept reading %d MiB of pipelined requests from a client that reads nothing"
          % (sent >> 20))
    check(grown < 32 * 1024, "RSS grew by %d KiB while a client pipelined %d KiB of requests "
          "without reading (want < 32 MiB)" % (grown, sent >> 10))
    # still serving others
    r = http(n.port, "GET", "/version")
    check(r.status == 200, "GET /version after the flood: %s" % r.show())
    n.stop0()
    ok("a client pipelining GETs without reading: the node stopped reading after %d KiB (%d "
       "requests, most left unread in socket buffers), RSS grew %d KiB, and it still serves "
       "others" % (sent >> 10, nreq, grown))


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def out_of_file_descriptors():
    # a node that runs out of fds (EMFILE) neither spins on its listener nor
    # stops serving: it retries accepting and serves once fds are free
    import resource
    n = Node("emfile", node_args(0x1d, CID, 0, [], []))
    resource.prlimit(n.p.pid, resource.RLIMIT_NOFILE, (48, 48))
    conns = []
    for _ in range(80):
        try:
            conns.append(socket.create_connection(("127.0.0.1", n.port), timeout=2))
        except OSError:
            break
    time.sleep(0.3)
    c0 = cpu_seconds(n.p.pid)
    time.sleep(1.0)
    busy = cpu_seconds(n.p.pid) - c0
    for c in conns:
        c.close()
    check(busy < 0.5, "the node used %.2f s of CPU in 1 s while out of fds (spinning on accept?)"
          % busy)
    r = None
    end = time.monotonic() + 5
    while time.monotonic() < end:
        try:
            r = http(n.port, "GET", "/version", timeout=2)
            break
        except (OSError, Failed):
            time.sleep(0.1)
    check(r is not None and r.status == 200, "GET /version once fds were free again: %s"
          % (r.show() if r else "no answer"))
    logged = "accepting peer connections" in n.stderr_text()
    n.stop0()
    ok("out of fds (RLIMIT_NOFILE 48, %d connections): %.2f s CPU in 1 s (no spin)%s; served "
       "again once they closed" % (len(conns), busy, ", logged" if logged else ""))


def max_header_bytes_flag():
    for flag, small, large in ((["--max-header-bytes", "2KiB"], 1500, 3000),
                               (["--max-header-bytes", "4096"], 3500, 5000),
                               (["--max-header-bytes", "1MiB"], 70000, 1100000)):
        n = Node("mhb", node_args(0x1d, CID, 0, [], flag))
        r = send_raw(n.port, head_of_size(n.port, "/version", small), what="%d-byte head" % small)
        check(r.status == 200, "%s: a %d-byte head: %s; want 200" % (" ".join(flag), small, r.show()))
        r = send_raw(n.port, head_of_size(n.port, "/version", large), what="%d-byte head" % large)
        check(r.status == 431, "%s: a %d-byte head: %s; want 431" % (" ".join(flag), large, r.show()))
        n.stop0()
        ok("%s: a %d-byte head 200, a %d-byte head 431" % (" ".join(flag), small, large))


def max_body_bytes_flag():
    me, frm = 0x1d, 0x2e
    n = Node("mbb", node_args(me, CID, 0, [], ["--max-body-bytes", "1KiB"]))
    body_ok = pb_encode_msg(8, me, frm, term=2, context=b"k" * 900)
    body_big = pb_encode_msg(8, me, frm, term=3, context=b"k" * 1100)
    check(len(body_ok) <= 1024 < len(body_big), "test bodies %d %d" % (len(body_ok), len(body_big)))
    m = n.mark()
    r = http(n.port, "POST", "/raft", peer_headers(frm, CID) + [("Content-Type", "application/protobuf")], body_ok)
    check(r.status == 204, "--max-body-bytes 1KiB: POST /raft of %d bytes: %s; want 204" % (len(body_ok), r.show()))
    ev = n.wait(lambda e: e.get("event") == "recv", "recv of the posted message", 5, m)
    check(ev.get("via") == "pipeline" and ev["msg"].get("term") == 2 and ev["msg"].get("context") == b64(b"k" * 900),
          "recv %r" % ev["_raw"][:300])
    r = http(n.port, "POST", "/raft", peer_headers(frm, CID) + [("Content-Type", "application/protobuf")], body_big)
    check(r.status == 413, "--max-body-bytes 1KiB: POST /raft of %d bytes: %s; want 413" % (len(body_big), r.show()))
    time.sleep(0.3)
    check(not [e for e in n.events(m, "recv") if e["msg"].get("term") == 3], "the 413 message was delivered")
    n.stop0()
    ok("--max-body-bytes 1KiB: POST /raft of %d bytes 204 (recv via pipeline), of %d bytes 413 (not delivered)"
       % (len(body_ok), len(body_big)))

    n = Node("mbb", node_args(me, CID, 0, [], ["--max-body-bytes", "2048"]))
    r = send_raw(n.port, post_raft_head(n.port, me, frm, 2049), what="POST /raft 2049")
    check(r.status == 413, "--max-body-bytes 2048: Content-Length 2049: %s; want 413" % r.show())
    expect_no_answer(n.port, post_raft_head(n.port, me, frm, 2048), 0.5, "--max-body-bytes 2048: Content-Length 2048")
    n.stop0()
    ok("--max-body-bytes 2048: Content-Length 2049 gets 413, 2048 is waited for")

    n = Node("mbb", node_args(me, CID, 0, [], ["--max-body-bytes", "1GiB"]))
    r = send_raw(n.port, post_raft_head(n.port, me, frm, (1 << 30) + 1), what="POST /raft 1 GiB + 1")
    check(r.status == 413, "--max-body-bytes 1GiB: Content-Length 1 GiB + 1: %s; want 413" % r.show())
    expect_no_answer(n.port, post_raft_head(n.port, me, frm, 600 << 20), 0.5,
                     "--max-body-bytes 1GiB: Content-Length 600 MiB (over the default)")
    n.stop0()
    ok("--max-body-bytes 1GiB: Content-Length 1 GiB + 1 gets 413, 600 MiB (over the default) is waited for")


if __name__ == "__main__":
    main([cluster_endpoints, members_without_initial_cluster, metrics_flag, read_header_timeout_flag,
          max_header_bytes_flag, max_body_bytes_flag, pipelining_client_that_never_reads,
          out_of_file_descriptors])
