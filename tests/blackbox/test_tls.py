#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Peer TLS of `rafthttp node`, black-box: C nodes over https:// and raw
TLS clients written with Python's ssl module, certificates from
tests/tls/make-certs.sh.

usage: test_tls.py RAFTHTTP_BIN

- two nodes over mutual TLS: both stream types carry messages; GET /version
  over TLS with a client certificate; a plain HTTP request to the TLS port
  gets Go's 400 ("Client sent an HTTP request to an HTTPS server."); a client
  without a certificate is refused; each refusal is logged and counted in
  rafthttp_tls_handshake_failures_total by reason;
- hostile handshakes against a node with --handshake-timeout 1s and
  --max-handshakes 16 while a good peer streams 600 messages to it: garbage
  before the handshake, a ClientHello followed by garbage, a client that
  stops mid-handshake (closed after the deadline, counted), and a burst of
  500 handshakes (200 that stall after the ClientHello, 300 full ones that
  each GET /version). Every full handshake is answered, every message is
  delivered, nothing is dropped, the node stays up, its RSS stays bounded
  and the handshake gauge returns to 0;
- rotation: the certificate, key and CA files of a running node are
  replaced (a new certificate from a second CA, and a CA bundle with both);
  a peer with a certificate from the second CA, refused before, is accepted
  after, the node presents its new certificate, and the stream of a peer
  that trusts only the first CA (it could not reconnect) keeps delivering.
"""
import os
import re
import shutil
import socket
import ssl
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bb import (WORKDIR, Failed, Node, check, free_port, hexid, main, make_certs, ok,  # noqa
                parse_metrics, read_response, rss_kib, sample)

A, B, C, CID = 0xa1, 0xb2, 0xc3, 0x7e57


def https(port):
    return "https://127.0.0.1:%d" % port


def tls_node(name, ident, port, peers, cert, key, ca, extra=()):
    a = ["--id", hexid(ident), "--cluster-id", hexid(CID), "--listen", https(port),
         "--cert-file", cert, "--key-file", key, "--trusted-ca-file", ca, "--client-cert-auth"]
    for pid, pport in peers:
        a += ["--peer", "%x=%s" % (pid, https(pport))]
    return Node(name, a + list(extra))


def member(name, ident, port, peers, m, extra=()):
    d = make_certs()
    return tls_node(name, ident, port, peers, os.path.join(d, m + ".pem"),
                    os.path.join(d, m + "-key.pem"), os.path.join(d, "ca.pem"), extra)


def client_ctx(cert="m3", ca="ca.pem"):
    d = make_certs()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(os.path.join(d, ca))
    if cert:
        ctx.load_cert_chain(os.path.join(d, cert + ".pem"), os.path.join(d, cert + "-key.pem"))
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx


def tls_get(port, path, ctx=None, timeout=10):
    """GET path over TLS on a new connection: (Resp, peer certificate dict)."""
    raw = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s = (ctx or client_ctx()).wrap_socket(raw, server_hostname="127.0.0.1")
    try:
        s.sendall(("GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n\r\n"
                   % (path, port)).encode())
        return read_response(s, timeout, "GET %s over TLS" % path), s.getpeercert()
    finally:
        s.close()


def tls_metrics(port):
    r, _ = tls_get(port, "/metrics")
    check(r.status == 200, "GET /metrics over TLS: %s" % r.show())
    return parse_metrics(r.body.decode())[1]


def refusals(samples, reason):
    return sample(samples, "rafthttp_tls_handshake_failures_total", reason=reason) or 0


def client_hello():
    """The bytes of a real TLS ClientHello (TLS 1.2-1.3, ALPN http/1.1)."""
    ctx = client_ctx()
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_hostname="127.0.0.1")
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    hello = out.read()
    check(len(hello) > 100 and hello[0] == 0x16, "no ClientHello made: %r" % hello[:20])
    return hello


def closed_within(s, seconds):
    """Seconds until the server closed s (EOF or reset), reading whatever it
    sends; Failed if still open after `seconds`."""
    t0 = time.monotonic()
    s.settimeout(0.2)
    while time.monotonic() - t0 < seconds:
        try:
            b = s.recv(65536)
        except socket.timeout:
            continue
        except (ConnectionResetError, BrokenPipeError):
            return time.monotonic() - t0
        if not b:
            return time.monotonic() - t0
    raise Failed("connection still open after %.1fs" % seconds)


def wait_active(node, pid, since=0, timeout=10):
    return node.wait(lambda e: e.get("event") == "peerActive" and e.get("id") == pid,
                     "peerActive %x" % pid, timeout, since)


def warm_up(frm, to, frm_id, to_id, term0):
    """Until `to` gets a MsgApp over streamMsgAppV2 and a heartbeat over
    streamMsg from `frm`: both streams are up."""
    end = time.monotonic() + 10
    k = term0
    while True:
        k += 1
        m = to.mark()
        frm.send({"type": "MsgApp", "to": to_id, "from": frm_id, "term": k, "logTerm": 1, "index": 1})
        frm.send({"type": "MsgHeartbeat", "to": to_id, "from": frm_id, "term": k})
        app = to.wait(lambda e: e.get("event") == "recv" and e["msg"]["type"] == "MsgApp"
                      and e["msg"]["term"] == k, "MsgApp term %d" % k, 5, m)
        hb = to.wait(lambda e: e.get("event") == "recv" and e["msg"]["type"] == "MsgHeartbeat"
                     and e["msg"]["term"] == k, "MsgHeartbeat term %d" % k, 5, m)
        if app.get("via") == "streamMsgAppV2" and hb.get("via") == "streamMsg":
            return k
        if time.monotonic() > end:
            raise Failed("streams not both up after 10s: MsgApp via %r, heartbeat via %r"
                         % (app.get("via"), hb.get("via")))
        time.sleep(0.1)


def log_has(node, pattern, timeout=5):
    end = time.monotonic() + timeout
    while True:
        m = re.search(pattern, node.stderr_text())
        if m:
            return m.group(0)
        if time.monotonic() > end:
            raise Failed("%s: no log line matching %r within %ds" % (node.name, pattern, timeout))
        time.sleep(0.1)


# ------------------------------------------------------------------ checks

def mutual_tls_pair():
    pa, pb = free_port(), free_port()
    a = member("a", A, pa, [(B, pb)], "m1")
    b = member("b", B, pb, [(A, pa)], "m2")
    wait_active(a, B, 0)
    wait_active(b, A, 0)
    warm_up(b, a, B, A, 100)
    warm_up(a, b, A, B, 200)
    ok("mutual TLS: both stream types carry messages both ways")

    r, cert = tls_get(pa, "/version")
    check(r.status == 200 and b"etcdserver" in r.body, "GET /version over TLS: %s" % r.show())
    subject = dict(x[0] for x in cert.get("subject", ()))
    check(subject.get("commonName") == "m1", "the node presents %r, want CN m1" % (cert,))
    ok("GET /version over TLS with a client certificate: 200; the node presents CN m1")

    before = tls_metrics(pa)
    s = socket.create_connection(("127.0.0.1", pa), timeout=5)
    s.sendall(b"GET /version HTTP/1.1\r\nHost: x\r\n\r\n")
    got = b""
    s.settimeout(5)
    try:
        while True:
            x = s.recv(4096)
            if not x:
                break
            got += x
    except (socket.timeout, ConnectionResetError):
        pass
    s.close()
    check(got.startswith(b"HTTP/1.0 400 Bad Request\r\n") and
          b"Client sent an HTTP request to an HTTPS server.\n" in got,
          "plain HTTP to the TLS port: got %r, want Go's 400" % got[:200])
    log_has(a, r"refused TLS handshake from 127\.0\.0\.1:\d+ .*plain_http_to_tls_port")
    ok("plain HTTP to the TLS port: Go's 400 \"Client sent an HTTP request to an HTTPS "
       "server.\", and a log line")

    try:
        tls_get(pa, "/version", client_ctx(cert=None))
        refused = False
    except (ssl.SSLError, ConnectionResetError, BrokenPipeError, Failed):
        refused = True
    check(refused, "a client without a certificate was answered")
    log_has(a, r"refused TLS handshake from 127\.0\.0\.1:\d+ .*no_client_certificate")
    after = tls_metrics(pa)
    for reason in ("plain_http_to_tls_port", "no_client_certificate"):
        check(refusals(after, reason) == refusals(before, reason) + 1,
              "rafthttp_tls_handshake_failures_total{reason=%s}: %s -> %s, want +1"
              % (reason, refusals(before, reason), refusals(after, reason)))
    ok("a client without a certificate is refused; both refusals counted by reason")
    a.stop0()
    b.stop0()


class Sender(threading.Thread):
    """b sends n MsgApp messages to a, paced, terms term0+1..term0+n."""

    def __init__(self, b, n, term0):
        super().__init__(daemon=True)
        self.b, self.n, self.term0 = b, n, term0
        self.error = None

    def run(self):
        try:
            for i in range(1, self.n + 1):
                self.b.send({"type": "MsgApp", "to": A, "from": B, "term": self.term0 + i,
                             "logTerm": 1, "index": i,
                             "entries": [{"term": 1, "index": i, "data": "eA=="}]})
                if i % 20 == 0:
                    time.sleep(0.05)
        except Failed as e:
            self.error = str(e)


def hostile_handshakes():
    pa, pb = free_port(), free_port()
    # under ASan freed memory waits in a 256 MiB quarantine, which would be
    # counted as RSS here: keep it small for the node under attack
    asan = os.environ.get("ASAN_OPTIONS", "")
    os.environ["ASAN_OPTIONS"] = (asan + ":" if asan else "") + "quarantine_size_mb=8"
    try:
        a = member("a", A, pa, [(B, pb)], "m1",
                   ["--handshake-timeout", "1s", "--max-handshakes", "16"])
    finally:
        os.environ["ASAN_OPTIONS"] = asan
    b = member("b", B, pb, [(A, pa)], "m2")
    wait_active(a, B, 0)
    t0 = warm_up(b, a, B, A, 100)
    rss0 = rss_kib(a.p.pid)
    hello = client_hello()
    before = tls_metrics(pa)
    n_msgs, term0 = 600, 10000
    since = a.mark()
    sender = Sender(b, n_msgs, term0)
    sender.start()

    # garbage where the handshake should be, and garbage after a real ClientHello
    for i, data in enumerate([os.urandom(300), b"\x16\x03\x01\xff\xff" + os.urandom(200),
                              b"\x16\x03\x03\x00\x05hello", b"\x00" * 64]):
        s = socket.create_connection(("127.0.0.1", pa), timeout=5)
        try:
            s.sendall(data)
        except OSError:
            pass
        closed_within(s, 3)
        s.close()
    s = socket.create_connection(("127.0.0.1", pa), timeout=5)
    s.sendall(hello)
    time.sleep(0.1)
    try:
        s.sendall(b"\x17\x03\x03\x00\x20" + os.urandom(32) + os.urandom(500))
    except OSError:
        pass
    closed_within(s, 3)
    s.close()
    ok("garbage before the handshake and after a ClientHello: connections closed at once")

    # a client that stops mid-handshake is closed after the deadline
    s = socket.create_connection(("127.0.0.1", pa), timeout=5)
    s.sendall(hello[:len(hello) // 2])
    took = closed_within(s, 6)
    s.close()
    check(0.7 <= took <= 4, "a stalled handshake closed after %.2fs, want about 1s "
          "(--handshake-timeout)" % took)
    log_has(a, r"refused TLS handshake from 127\.0\.0\.1:\d+ .*TLS handshake not complete in time")
    ok("a client that stops mid-handshake: closed after %.2fs (--handshake-timeout 1s), "
       "logged" % took)

    # the burst: 200 stall after their ClientHello, 300 complete and GET /version
    stalled = []
    for _ in range(200):
        s = socket.create_connection(("127.0.0.1", pa), timeout=30)
        stalled.append(s)
    for s in stalled:
        try:
            s.sendall(hello)
        except OSError:
            pass
    results = []
    lock = threading.Lock()

    def full(k):
        for _ in range(k):
            try:
                r, _c = tls_get(pa, "/version", timeout=60)
                res = r.status
            except Exception as e:  # noqa: BLE001 (reported below)
                res = "%s: %s" % (type(e).__name__, e)
            with lock:
                results.append(res)

    workers = [threading.Thread(target=full, args=(10,), daemon=True) for _ in range(30)]
    tb = time.monotonic()
    for w in workers:
        w.start()
    peak = rss_kib(a.p.pid)
    for w in workers:
        while w.is_alive():
            w.join(0.2)
            peak = max(peak, rss_kib(a.p.pid))
            check(a.p.poll() is None, "the node exited during the burst")
    took = time.monotonic() - tb
    bad = [r for r in results if r != 200]
    check(len(results) == 300 and not bad,
          "%d of 300 full handshakes answered 200; others: %s" % (len(results) - len(bad), bad[:5]))
    # every stalled one is refused when its deadline passes (16 at a time:
    # accepting waits at the limit); one closed by us before its turn would
    # end in a reset, which is no handshake timeout
    end = time.monotonic() + 30
    while refusals(tls_metrics(pa), "handshake") - refusals(before, "handshake") < 200:
        check(time.monotonic() < end, "the stalled handshakes were not all refused in 30 s")
        time.sleep(0.3)
    for s in stalled:
        s.close()
    ok("a burst of 500 handshakes (200 stalled after the ClientHello, 300 full): all 300 "
       "answered 200 in %.1fs; RSS %d -> peak %d KiB" % (took, rss0, peak))

    sender.join(60)
    check(sender.error is None, "sender: %s" % sender.error)
    end = time.monotonic() + 20
    while True:
        got = {e["msg"]["term"] for e in a.events(since, "recv")
               if e["msg"].get("type") == "MsgApp" and term0 < e["msg"]["term"] <= term0 + n_msgs}
        if len(got) == n_msgs or time.monotonic() > end:
            break
        time.sleep(0.2)
    check(len(got) == n_msgs, "the good peer's messages: %d of %d delivered" % (len(got), n_msgs))
    drops = a.events(since, "dropped") + b.events(since, "dropped")
    check(not drops, "messages dropped: %s" % [d["_raw"] for d in drops[:3]])
    inactive = [e for e in a.events(since, "peerInactive") + b.events(since, "peerInactive")]
    check(not inactive, "the good peer's link was cut: %s" % [e["_raw"] for e in inactive[:3]])
    ok("the good peer's %d messages all delivered during the attack, none dropped, its "
       "link never cut" % n_msgs)

    end = time.monotonic() + 10
    while True:
        m = tls_metrics(pa)
        inflight = sample(m, "rafthttp_tls_handshakes_in_flight")
        if inflight == 0 or time.monotonic() > end:
            break
        time.sleep(0.3)
    check(inflight == 0, "rafthttp_tls_handshakes_in_flight %s after the burst, want 0" % inflight)
    limit = sample(m, "rafthttp_tls_handshake_limit_reached_total") or 0
    check(limit >= 1, "rafthttp_tls_handshake_limit_reached_total %s, want >= 1" % limit)
    timed_out = refusals(m, "handshake") - refusals(before, "handshake")
    check(timed_out >= 200, "refusals{reason=handshake} +%d, want >= 201 (the stalled ones)"
          % timed_out)
    log_has(a, r"16 TLS handshakes in flight \(the limit\)")
    rss1 = rss_kib(a.p.pid)
    check(peak - rss0 < 64 * 1024, "RSS grew %d KiB during the burst, want < 64 MiB" % (peak - rss0))
    st = a.status()
    check(any(p.get("id") == B and p.get("active") for p in st.get("peers", [])),
          "status after the burst: %s" % st.get("peers"))
    ok("after the burst: handshakes in flight 0, the limit reached %d times and logged, "
       "%d handshake refusals counted, RSS %d KiB, the node and its peer active"
       % (limit, timed_out, rss1))
    warm_up(b, a, B, A, t0 + 100000)
    a.stop0()
    b.stop0()


def rotation():
    d = make_certs()
    rot = os.path.join(WORKDIR, "rotation")
    os.makedirs(rot, exist_ok=True)
    cert, key, ca = (os.path.join(rot, n) for n in ("cert.pem", "key.pem", "ca.pem"))
    shutil.copy(os.path.join(d, "m1.pem"), cert)
    shutil.copy(os.path.join(d, "m1-key.pem"), key)
    shutil.copy(os.path.join(d, "ca.pem"), ca)
    bundle = os.path.join(rot, "bundle.pem")
    with open(bundle, "w") as f:
        for n in ("ca.pem", "other-ca.pem"):
            with open(os.path.join(d, n)) as g:
                f.write(g.read())

    pa, pb, pc = free_port(), free_port(), free_port()
    a = tls_node("a", A, pa, [(B, pb), (C, pc)], cert, key, ca)
    b = member("b", B, pb, [(A, pa)], "m2")  # trusts ca.pem only
    # c: a certificate from the other CA; trusts both
    c = tls_node("c", C, pc, [(A, pa)], os.path.join(d, "wrong-ca.pem"),
                 os.path.join(d, "wrong-ca-key.pem"), bundle)
    wait_active(a, B, 0)
    wait_active(b, A, 0)
    k = warm_up(b, a, B, A, 100)
    log_has(a, r"refused TLS handshake from 127\.0\.0\.1:\d+ .*\[unknown_ca\]", 10)
    check(not [e for e in a.events(0, "peerActive") if e.get("id") == C],
          "c became active before the rotation")
    ok("before the rotation: b streams to a; c (a certificate from another CA) is refused")

    since_a, since_b = a.mark(), b.mark()
    time.sleep(1.1)  # the node looks at the files once a second at most
    for src, dst in (("wrong-ca.pem", cert), ("wrong-ca-key.pem", key)):
        shutil.copy(os.path.join(d, src), dst + ".new")
        os.replace(dst + ".new", dst)
    shutil.copy(bundle, ca + ".new")
    os.replace(ca + ".new", ca)
    wait_active(a, C, since_a, 15)
    wait_active(c, A, 0, 15)
    warm_up(c, a, C, A, 500)
    log_has(a, r"peer TLS files changed: reloaded")
    _, pc_cert = tls_get(pa, "/version", client_ctx("m3", "other-ca.pem"))
    issuer = dict(x[0] for x in pc_cert.get("issuer", ()))
    check(issuer.get("commonName") == "other test CA",
          "after the rotation the node presents a certificate from %r" % issuer)
    ok("after the files were replaced: c is accepted, streams to a, and a presents its "
       "new certificate (issuer %r)" % issuer.get("commonName"))

    time.sleep(6)  # longer than the 5 s read timeout: link heartbeats kept it
    warm_up(b, a, B, A, k + 1000)
    cut = [e["_raw"] for e in a.events(since_a, "peerInactive") if e.get("id") == B] + \
          [e["_raw"] for e in b.events(since_b, "peerInactive") if e.get("id") == A]
    check(not cut, "b's link to a was cut by the rotation: %s" % cut[:3])
    ok("b's streams (b trusts only the old CA, so it could not reconnect) kept delivering "
       "6 s after the rotation, never cut")
    for n in (a, b, c):
        n.stop0()


if __name__ == "__main__":
    main([mutual_tls_pair, hostile_handshakes, rotation])
