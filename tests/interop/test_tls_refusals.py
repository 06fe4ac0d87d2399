#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Refused TLS handshakes between the C node and etcd's Go rafthttp
(gopeer), both ways: each side refusing the other, with the refusing
side's log line and, for C, its counter.

usage: test_tls_refusals.py RAFTHTTP_BIN GOPEER_BIN

For each case one member serves https:// and the other dials it with a
certificate (tests/tls/make-certs.sh) that the server must refuse:
  - wrong CA (signed by another CA), expired, CN not allowed
    (--peer-cert-allowed-cn / --allowed-cn), hostname not allowed
    (--peer-cert-allowed-hostname / --allowed-hostname): C refusing Go and
    Go refusing C;
  - no client certificate with client-cert-auth: a Python client without a
    certificate, to C and to Go;
  - plain HTTP to a TLS port: Go dialing http:// to C's https:// port (C
    logs it and counts plain_http_to_tls_port), and Python's request, which
    C answers with net/http's 400 (etcd's TLS listener just closes);
  - TLS to a plain port: Go dialing https:// to C's http:// port (C counts
    tls_to_plain_port) and C dialing https:// to Go's http:// port (C's
    dialer explains that the peer did not answer in TLS).
In every case but one the dialer's peer never becomes active (Go dialing
http:// to C's TLS port while C's own dials to Go succeed). C's lines are
checked for the reason tag and the words that name the problem
(issuer, date, CN, SANs); C's counter
rafthttp_tls_handshake_failures_total{reason=...} must have grown; Go's
side must log its refusal ("rejected connection" / "TLS handshake error").
When C's dialer refuses Go's server certificate, Go logs "local error: tls:
bad record MAC" for it: Go cannot read the alert OpenSSL sends at that point
(openssl s_client -verify_return_error gets the same from gopeer), so the
test does not ask Go for a reason there.
"""
import os
import re
import socket
import ssl
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Failed, Proc, free_port, main, make_certs, need_binary, ok  # noqa

RAFTHTTP = sys.argv[1] if len(sys.argv) > 1 else ""
GOPEER = sys.argv[2] if len(sys.argv) > 2 else ""
C_ID, G_ID, CID = 0xc1, 0x60, 0x5eed
CERTS = None


def f(name):
    return os.path.join(CERTS, name)


def peer_flags(cert, ca="ca.pem", prefix="--peer-", extra=()):
    return [prefix + "cert-file", f(cert + ".pem"), prefix + "key-file", f(cert + "-key.pem"),
            prefix + "trusted-ca-file", f(ca), prefix + "client-cert-auth"] + list(extra)


def c_node(port, peer_port, tls_flags, scheme="https", peer_scheme="https"):
    return Proc("c-node", [RAFTHTTP, "node", "--id", "%x" % C_ID, "--cluster-id", "%x" % CID,
                           "--listen", "%s://127.0.0.1:%d" % (scheme, port),
                           "--peer", "%x=%s://127.0.0.1:%d" % (G_ID, peer_scheme, peer_port)]
                + tls_flags)


def go_peer(port, peer_port, tls_flags, scheme="https", peer_scheme="https"):
    return Proc("go-peer", [GOPEER, "--id", "%x" % G_ID, "--cluster-id", "%x" % CID,
                            "--listen", "%s://127.0.0.1:%d" % (scheme, port),
                            "--peer", "%x=%s://127.0.0.1:%d" % (C_ID, peer_scheme, peer_port)]
                + tls_flags)


def log_text(p):
    with open(p.log_path, errors="replace") as fh:
        return fh.read()


def wait_log(p, pattern, what, timeout=8.0):
    """The first line of p's log matching the regex pattern."""
    end = time.monotonic() + timeout
    rx = re.compile(pattern)
    while True:
        for line in log_text(p).splitlines():
            if rx.search(line):
                return line
        if time.monotonic() > end:
            raise Failed("%s: no log line matching %r within %.0fs; log tail:\n%s"
                         % (what, pattern, timeout, p.tail(12)))
        time.sleep(0.1)


def tls_get(port, path, cert="m3"):
    """GET path with a client certificate over https (or plain http when
    the handshake fails: a plain port); the raw response bytes."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(f("ca.pem"))
    ctx.load_cert_chain(f(cert + ".pem"), f(cert + "-key.pem"))
    ctx.set_alpn_protocols(["http/1.1"])
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        s = ctx.wrap_socket(s, server_hostname="127.0.0.1")
    except (ssl.SSLError, OSError):
        s = socket.create_connection(("127.0.0.1", port), timeout=5)  # a plain port
    s.sendall(("GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % path).encode())
    data = b""
    while True:
        try:
            b = s.recv(65536)
        except (ssl.SSLError, OSError):
            break
        if not b:
            break
        data += b
    s.close()
    return data


def c_counter(port, reason, cert="m3"):
    """C's rafthttp_tls_handshake_failures_total{reason=...} over https (or
    http when port serves plain)."""
    data = tls_get(port, "/metrics", cert)
    m = re.search(r'rafthttp_tls_handshake_failures_total\{reason="%s"\} (\d+)' % reason,
                  data.decode("utf-8", "replace"))
    if not m:
        raise Failed("C /metrics has no rafthttp_tls_handshake_failures_total{reason=%r}:\n%s"
                     % (reason, data[-800:]))
    return int(m.group(1))


def never_active(p, peer, seconds=1.5):
    time.sleep(seconds)
    act = [e for e in p.events_since(0, "peerActive") if e.get("id") == peer]
    if act:
        raise Failed("%s reported the refused peer %x active: %s" % (p.name, peer, act))


def c_refuses(what, go_cert, c_extra, reason, words, go_ca="ca.pem"):
    cport, gport = free_port(), free_port()
    c = c_node(cport, gport, peer_flags("m1", prefix="--", extra=c_extra))
    c.wait_event(lambda e: e["event"] == "ready", 10, "C ready")
    g = go_peer(gport, cport, peer_flags(go_cert, ca=go_ca))
    line = wait_log(c, r"refused TLS handshake from .*\[%s\]" % reason, "C refusing Go (%s)" % what)
    for w in words:
        if w not in line:
            raise Failed("C refusing Go (%s): the line lacks %r: %s" % (what, w, line))
    n = c_counter(cport, reason, cert="m2")  # m2 passes every c_extra here
    if n < 1:
        raise Failed("C refusing Go (%s): counter %s is %d" % (what, reason, n))
    never_active(g, C_ID)
    ok("C refuses Go's %s: %s; counter %s = %d; Go never sees C active"
       % (what, line.split("rafthttp: ", 1)[-1][:230], reason, n))
    for p in (g, c):
        p.stop()


def go_refuses(what, c_cert, go_extra, words, c_ca="ca.pem"):
    cport, gport = free_port(), free_port()
    g = go_peer(gport, cport, peer_flags("m2", extra=go_extra))
    g.wait_event(lambda e: e["event"] == "ready", 10, "Go ready")
    c = c_node(cport, gport, peer_flags(c_cert, ca=c_ca, prefix="--"))
    gline = wait_log(g, r"rejected connection|TLS handshake error", "Go refusing C (%s)" % what)
    for w in words:
        if w not in gline:
            raise Failed("Go refusing C (%s): Go's line lacks %r: %s" % (what, w, gline))
    # C's dialer explains what it was told
    cline = wait_log(c, r"refused TLS handshake to .*member 60|dial https://127.0.0.1:%d: .*(refused|certificate|EOF)"
                     % gport, "C refused by Go (%s)" % what)
    never_active(c, G_ID)
    ok("Go refuses C's %s: Go says %r; C says %r"
       % (what, gline[-160:], cline.split("rafthttp: ", 1)[-1][:200]))
    for p in (c, g):
        p.stop()


def no_client_cert(port, what):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(f("ca.pem"))
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        s = ctx.wrap_socket(s, server_hostname="127.0.0.1")
        s.sendall(b"GET /version HTTP/1.1\r\nHost: x\r\n\r\n")
        got = s.recv(100)  # TLS 1.3: the refusal arrives as the first read fails
    except (ssl.SSLError, OSError) as e:
        return str(e)
    finally:
        s.close()
    raise Failed("%s: a client without a certificate got an answer: %r" % (what, got))


# C refusing a peer: (what, the peer's certificate, C's flags, C's reason
# tag, words C's line must hold); test_etcd_tls_refusals.py runs them too.
C_REFUSES = [
    ("certificate from another CA", "wrong-ca", [], "unknown_ca",
     ['issued by "other test CA"', "not in the trusted CA file"]),
    ("expired certificate", "expired", [], "expired",
     ['CN "expired" expired on 2020-01-02 00:00:00 UTC']),
    ("CN not allowed", "wrong-cn", ["--allowed-cn", "m2"], "cn_not_allowed",
     ['CN "intruder" is not the allowed CN "m2"']),
    ("hostname not allowed", "dns-only", ["--allowed-hostname", "m2.example.test"],
     "hostname_not_allowed",
     ['not valid for the allowed hostname "m2.example.test"', "DNS:peer.example.test"]),
]
# A Go peer (gopeer or etcd) refusing C: (what, C's certificate, the peer's
# flags, words the peer's line must hold).
PEER_REFUSES = [
    ("certificate from another CA", "wrong-ca", [], ["certificate"]),
    ("expired certificate", "expired", [], ["expired"]),
    ("CN not allowed", "wrong-cn", ["--peer-cert-allowed-cn", "m1"],
     ["client certificate authentication failed"]),
    ("hostname not allowed", "dns-only", ["--peer-cert-allowed-hostname", "m1.example.test"],
     ["client certificate authentication failed"]),
]


def test():
    global CERTS
    need_binary(RAFTHTTP, "rafthttp")
    need_binary(GOPEER, "gopeer (tests/interop/gopeer/build.sh BUILD_DIR)")
    CERTS = make_certs()

    for case in C_REFUSES:
        c_refuses(*case)
    for case in PEER_REFUSES:
        go_refuses(*case)

    # no client certificate, to either side
    cport, gport = free_port(), free_port()
    c = c_node(cport, gport, peer_flags("m1", prefix="--"))
    g = go_peer(gport, cport, peer_flags("m2"))
    c.wait_event(lambda e: e["event"] == "ready", 10, "C ready")
    g.wait_event(lambda e: e["event"] == "ready", 10, "Go ready")
    before = c_counter(cport, "no_client_certificate")
    err = no_client_cert(cport, "C")
    line = wait_log(c, r"refused TLS handshake from .*\[no_client_certificate\]", "C: no client cert")
    if c_counter(cport, "no_client_certificate") != before + 1:
        raise Failed("C: no_client_certificate counter did not grow by one")
    ok("C refuses a client without a certificate: %s (client saw %r)"
       % (line.split("rafthttp: ", 1)[-1][:160], err[:80]))
    err = no_client_cert(gport, "Go")
    gline = wait_log(g, r"TLS handshake error|rejected connection", "Go: no client cert")
    ok("Go refuses a client without a certificate: %r (client saw %r)" % (gline[-120:], err[:80]))
    # plain HTTP to Go's TLS port: Go's 400 (what C answers too)
    s = socket.create_connection(("127.0.0.1", gport), timeout=5)
    s.sendall(b"GET /version HTTP/1.1\r\nHost: x\r\n\r\n")
    go_400 = s.recv(4096)
    s.close()
    s = socket.create_connection(("127.0.0.1", cport), timeout=5)
    s.sendall(b"GET /version HTTP/1.1\r\nHost: x\r\n\r\n")
    c_400 = s.recv(4096)
    s.close()
    # etcd's TLS listener handshakes before net/http sees the connection, so
    # Go just closes; C answers with net/http's words for it
    want = b"HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n"
    if c_400 != want:
        raise Failed("plain HTTP to C's TLS port: answered %r, want %r" % (c_400, want))
    wait_log(c, r"\[plain_http_to_tls_port\]", "C: plain HTTP to its TLS port")
    ok("plain HTTP to the TLS port: C answers %r (net/http's words) and logs "
       "plain_http_to_tls_port; Go (etcd's TLS listener) closes with %r"
       % (c_400.decode(errors="replace").replace("\r\n", " ")[:90], go_400[:60]))
    for p in (g, c):
        p.stop()

    # Go dialing http:// to C's https:// port, and https:// to C's http:// port
    cport, gport = free_port(), free_port()
    c = c_node(cport, gport, peer_flags("m1", prefix="--"))
    c.wait_event(lambda e: e["event"] == "ready", 10, "C ready")
    g = go_peer(gport, cport, peer_flags("m2"), peer_scheme="http")
    wait_log(c, r"\[plain_http_to_tls_port\]", "C: Go's plain HTTP to the TLS port")
    n = c_counter(cport, "plain_http_to_tls_port")
    # (C's own dials to Go's https:// port work: both report each other
    # active through C's streams; only Go's direction is refused)
    ok("Go dialing http:// to C's TLS port: C logs and counts plain_http_to_tls_port (%d)" % n)
    for p in (g, c):
        p.stop()
    cport, gport = free_port(), free_port()
    c = c_node(cport, gport, peer_flags("m1", prefix="--"), scheme="http", peer_scheme="http")
    c.wait_event(lambda e: e["event"] == "ready", 10, "C ready")
    g = go_peer(gport, cport, peer_flags("m2"), peer_scheme="https")
    line = wait_log(c, r"\[tls_to_plain_port\]", "C: Go's TLS to the plain port")
    n = c_counter(cport, "tls_to_plain_port")
    if n < 1:
        raise Failed("C: tls_to_plain_port counter %d" % n)
    never_active(g, C_ID)
    ok("Go dialing https:// to C's plain port: C says %r, counter %d"
       % (line.split("rafthttp: ", 1)[-1][:120], n))
    for p in (g, c):
        p.stop()

    # C dialing https:// to Go's plain port
    cport, gport = free_port(), free_port()
    g = go_peer(gport, cport, [], scheme="http", peer_scheme="http")
    g.wait_event(lambda e: e["event"] == "ready", 10, "Go ready")
    c = c_node(cport, gport, peer_flags("m1", prefix="--"), peer_scheme="https")
    line = wait_log(c, r"\[tls_to_plain_port\]", "C dialing TLS to Go's plain port")
    if "is its URL http://" not in line:
        raise Failed("C dialing TLS to a plain port: the line does not say so: %s" % line)
    never_active(c, G_ID)
    ok("C dialing https:// to Go's plain port: %s" % line.split("rafthttp: ", 1)[-1][:200])
    for p in (c, g):
        p.stop()


if __name__ == "__main__":
    main(test)
