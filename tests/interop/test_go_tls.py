#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""C `rafthttp node` against etcd 3.4's Go rafthttp over mutual TLS.

usage: test_go_tls.py RAFTHTTP_BIN GOPEER_BIN [SIZES_MIB...]

Runs test_go_streams.py (streams both ways and both types, every message
type, MsgApp runs, idle link heartbeats, kill and restart) and then
test_snapshot.py (snapshots both ways, default 0, 1 and 256 MiB,
byte-identical) with every member on https:// and mutual TLS: the C node
and gopeer with --peer-cert-file, --peer-key-file, --peer-trusted-ca-file
and --peer-client-cert-auth (gopeer builds etcd's transport.TLSInfo from
them), certificates from tests/tls/make-certs.sh. Then probing over TLS:
C's probers reach Go (etcd_network_peer_round_trip_time_seconds for Go in
C's /metrics) and GET /raft/probing over TLS gets etcd's answer from both.
"""
import json
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_go_streams  # noqa: E402
import test_snapshot  # noqa: E402
import test_tls_refusals as R  # noqa: E402
from harness import Failed, free_port, main, make_certs, ok  # noqa: E402


def probing(certs):
    R.CERTS = certs
    cport, gport = free_port(), free_port()
    c = R.c_node(cport, gport, R.peer_flags("m1", prefix="--"))
    g = R.go_peer(gport, cport, R.peer_flags("m2"))
    c.wait_event(lambda e: e["event"] == "peerActive", 10, "C sees Go active")
    for port, who in ((cport, "C"), (gport, "Go")):
        head, _, body = R.tls_get(port, "/raft/probing").partition(b"\r\n\r\n")
        head = head.decode("latin-1")
        if " 200 " not in head.split("\r\n")[0] or json.loads(body.split(b"\n")[0] or b"{}").get("OK") is not True:
            raise Failed("GET /raft/probing over TLS to %s: %r %r" % (who, head[:80], body[:120]))
    end = time.monotonic() + 12  # the first probes go out 4 s after the peer is added
    while True:
        body = R.tls_get(cport, "/metrics")
        m = re.search(r'etcd_network_peer_round_trip_time_seconds_count\{To="60"\} (\d+)',
                      body.decode("utf-8", "replace"))
        if m and int(m.group(1)) > 0:
            break
        if time.monotonic() > end:
            raise Failed("C's probers never reached Go over TLS (no RTT samples for 60)")
        time.sleep(0.5)
    ok("probing over TLS: GET /raft/probing answered by C and Go; C's probers measured Go's "
       "round trip %s times" % m.group(1))
    for p in (g, c):
        p.stop()


def test():
    certs = make_certs()
    test_go_streams.TLS_CERTS = certs
    test_snapshot.TLS_CERTS = certs
    test_go_streams.test()
    ok("streams over TLS: done; snapshots over TLS next")
    test_snapshot.test()
    probing(certs)


if __name__ == "__main__":
    main(test)
