#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""test_tls_refusals.py against a real etcd 3.4.23 member instead of gopeer:
refused TLS handshakes between the C node and etcd, both ways, with the
refusing side's log line and, for C, its counter.

usage: test_etcd_tls_refusals.py RAFTHTTP_BIN [ETCD_BIN]

Each case runs one etcd member `a` and one C node `c` of a two-member
cluster (--name/--initial-cluster on both, so each dials the other as soon
as it starts); one side presents a certificate from tests/tls/make-certs.sh
that the other must refuse:
  - C refusing etcd and etcd refusing C: a certificate from another CA, an
    expired one, a CN not allowed (--allowed-cn / --peer-cert-allowed-cn),
    a hostname not allowed (--allowed-hostname /
    --peer-cert-allowed-hostname);
  - no client certificate with client-cert-auth: a Python client to etcd's
    peer port (C's side of this is in test_tls_refusals.py);
  - plain HTTP to a TLS port: etcd dialing http:// to C's https:// port (C
    logs and counts plain_http_to_tls_port), C dialing http:// to etcd's
    https:// port (etcd refuses; C's peer never becomes active);
  - TLS to a plain port: etcd dialing https:// to C's http:// port (C counts
    tls_to_plain_port), C dialing https:// to etcd's http:// port (C's
    dialer says the peer did not answer in TLS).
C's lines are checked for the reason tag and the words naming the problem,
its counter must have grown; etcd's side must log its refusal ("rejected
connection" from its TLS listener, or Go's "TLS handshake error"), and in
no case does either side see the other become active.
"""
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_tls_refusals as R  # noqa: E402
from harness import WORKDIR, Failed, Proc, free_port, main, make_certs, need_binary, ok  # noqa: E402

RAFTHTTP = sys.argv[1] if len(sys.argv) > 1 else ""
ETCD = sys.argv[2] if len(sys.argv) > 2 else "/usr/bin/etcd"
TOKEN = "tls-refusals"


def cluster(pa, pc, a_scheme, c_scheme):
    return "a=%s://127.0.0.1:%d,c=%s://127.0.0.1:%d" % (a_scheme, pa, c_scheme, pc)


def etcd(pa, pc, tls, a_scheme="https", c_scheme="https"):
    """Member a; it lists c at c_scheme (its own URL at a_scheme)."""
    client = free_port()
    d = os.path.join(WORKDIR, "a-%d.etcd" % pa)
    return Proc("etcd-a", [
        ETCD, "--name", "a", "--data-dir", d,
        "--listen-peer-urls", "%s://127.0.0.1:%d" % (a_scheme, pa),
        "--initial-advertise-peer-urls", "%s://127.0.0.1:%d" % (a_scheme, pa),
        "--listen-client-urls", "http://127.0.0.1:%d" % client,
        "--advertise-client-urls", "http://127.0.0.1:%d" % client,
        "--initial-cluster", cluster(pa, pc, a_scheme, c_scheme),
        "--initial-cluster-token", TOKEN, "--initial-cluster-state", "new",
        "--logger", "zap", "--log-outputs", "stderr",
        "--heartbeat-interval", "100", "--election-timeout", "1000"] + tls,
        json_events=False, stdin=False)


def c_node(pa, pc, tls, a_scheme="https", c_scheme="https"):
    """Member c; it lists a at a_scheme and serves at c_scheme."""
    p = Proc("c-node", [RAFTHTTP, "node", "--name", "c",
                        "--initial-cluster", cluster(pa, pc, a_scheme, c_scheme),
                        "--initial-cluster-token", TOKEN] + tls)
    p.wait_event(lambda e: e["event"] == "ready", 10, "C ready")
    return p


def etcd_refusal(g, what):
    return R.wait_log(g, r"rejected connection|TLS handshake error", "etcd refusing C (%s)" % what, 10)


def none_active(c, g, seconds=1.5):
    time.sleep(seconds)
    act = c.events_since(0, "peerActive")
    if act:
        raise Failed("C reported the refused etcd member active: %s" % act)
    if re.search(r"peer became active", R.log_text(g)):
        raise Failed("etcd reported the refused C node active:\n%s" % g.tail(8))


def stop(*ps):
    for p in ps:
        p.stop()


def c_refuses(what, etcd_cert, c_extra, reason, words):
    pa, pc = free_port(), free_port()
    c = c_node(pa, pc, R.peer_flags("m1", prefix="--", extra=c_extra))
    g = etcd(pa, pc, R.peer_flags(etcd_cert))
    line = R.wait_log(c, r"refused TLS handshake from .*\[%s\]" % reason,
                      "C refusing etcd (%s)" % what, 10)
    for w in words:
        if w not in line:
            raise Failed("C refusing etcd (%s): the line lacks %r: %s" % (what, w, line))
    n = R.c_counter(pc, reason, cert="m2")  # m2 passes every c_extra here
    if n < 1:
        raise Failed("C refusing etcd (%s): counter %s is %d" % (what, reason, n))
    none_active(c, g)
    ok("C refuses etcd's %s: %s; counter %s = %d; neither side active"
       % (what, line.split("rafthttp: ", 1)[-1][:200], reason, n))
    stop(g, c)


def etcd_refuses(what, c_cert, etcd_extra, words):
    pa, pc = free_port(), free_port()
    g = etcd(pa, pc, R.peer_flags("m2", extra=etcd_extra))
    c = c_node(pa, pc, R.peer_flags(c_cert, prefix="--"))
    gline = etcd_refusal(g, what)
    for w in words:
        if w not in gline:
            raise Failed("etcd refusing C (%s): etcd's line lacks %r: %s" % (what, w, gline))
    cline = R.wait_log(c, r"refused TLS handshake to |dial https://127.0.0.1:%d: " % pa,
                       "C refused by etcd (%s)" % what, 10)
    none_active(c, g)
    ok("etcd refuses C's %s: etcd says %s; C says %r"
       % (what, gline.strip()[-170:], cline.split("rafthttp: ", 1)[-1][:160]))
    stop(c, g)


def test():
    need_binary(RAFTHTTP, "rafthttp")
    need_binary(ETCD, "etcd 3.4 (apt-get install etcd-server)")
    R.CERTS = make_certs()

    for case in R.C_REFUSES:  # the same cases as against gopeer
        c_refuses(*case)
    for case in R.PEER_REFUSES:
        etcd_refuses(*case)

    # no client certificate to etcd's peer port
    pa, pc = free_port(), free_port()
    g = etcd(pa, pc, R.peer_flags("m2"))
    c = c_node(pa, pc, R.peer_flags("m1", prefix="--"))
    R.wait_log(g, r"peer became active", "etcd and C connected", 10)
    mark = len(R.log_text(g))
    deadline = time.monotonic() + 10
    while True:
        try:
            err = R.no_client_cert(pa, "etcd")
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    end = time.monotonic() + 8
    while not re.search(r"rejected connection|TLS handshake error", R.log_text(g)[mark:]):
        if time.monotonic() > end:
            raise Failed("etcd: no log line for a client without a certificate:\n%s" % g.tail(8))
        time.sleep(0.1)
    gline = [ln for ln in R.log_text(g)[mark:].splitlines()
             if re.search(r"rejected connection|TLS handshake error", ln)][0]
    ok("etcd refuses a client without a certificate: %s (client saw %r)"
       % (gline.strip()[-150:], err[:80]))
    stop(c, g)

    # etcd dialing http:// to C's https:// port
    pa, pc = free_port(), free_port()
    c = c_node(pa, pc, R.peer_flags("m1", prefix="--"), c_scheme="https")
    g = etcd(pa, pc, R.peer_flags("m2"), c_scheme="http")
    R.wait_log(c, r"\[plain_http_to_tls_port\]", "C: etcd's plain HTTP to the TLS port", 10)
    n = R.c_counter(pc, "plain_http_to_tls_port")
    if n < 1:
        raise Failed("C: plain_http_to_tls_port counter %d" % n)
    ok("etcd dialing http:// to C's TLS port: C logs and counts plain_http_to_tls_port (%d)" % n)
    stop(g, c)

    # C dialing http:// to etcd's https:// port
    pa, pc = free_port(), free_port()
    g = etcd(pa, pc, R.peer_flags("m2"), a_scheme="https", c_scheme="https")
    c = c_node(pa, pc, R.peer_flags("m1", prefix="--"), a_scheme="http")
    cline = R.wait_log(c, r"dial http://127.0.0.1:%d|peer [0-9a-f]+ became inactive|"
                       r"stream .* (reader|writer) .*127.0.0.1:%d" % (pa, pa),
                       "C dialing http:// to etcd's TLS port", 10)
    time.sleep(1.5)
    if c.events_since(0, "peerActive"):
        raise Failed("C dialing http:// to etcd's TLS port became active")
    ok("C dialing http:// to etcd's TLS port: refused, never active (C says %r)"
       % cline.split("rafthttp: ", 1)[-1][:160])
    stop(c, g)

    # etcd dialing https:// to C's http:// port
    pa, pc = free_port(), free_port()
    c = c_node(pa, pc, [], a_scheme="http", c_scheme="http")
    g = etcd(pa, pc, [], a_scheme="http", c_scheme="https")
    line = R.wait_log(c, r"\[tls_to_plain_port\]", "C: etcd's TLS to the plain port", 10)
    n = R.c_counter(pc, "tls_to_plain_port")
    if n < 1:
        raise Failed("C: tls_to_plain_port counter %d" % n)
    ok("etcd dialing https:// to C's plain port: C says %r, counter %d"
       % (line.split("rafthttp: ", 1)[-1][:140], n))
    stop(g, c)

    # C dialing https:// to etcd's http:// port
    pa, pc = free_port(), free_port()
    g = etcd(pa, pc, [], a_scheme="http", c_scheme="http")
    c = c_node(pa, pc, R.peer_flags("m1", prefix="--"), a_scheme="https", c_scheme="https")
    line = R.wait_log(c, r"\[tls_to_plain_port\]", "C dialing TLS to etcd's plain port", 10)
    if "is its URL http://" not in line:
        raise Failed("C dialing TLS to a plain port: the line does not say so: %s" % line)
    time.sleep(1.5)
    if c.events_since(0, "peerActive"):
        raise Failed("C dialing https:// to etcd's plain port became active")
    ok("C dialing https:// to etcd's plain port: %s" % line.split("rafthttp: ", 1)[-1][:200])
    stop(c, g)


if __name__ == "__main__":
    main(test)
