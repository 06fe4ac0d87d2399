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
them), certificates from tests/tls/make-certs.sh.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_go_streams  # noqa: E402
import test_snapshot  # noqa: E402
from harness import main, make_certs, ok  # noqa: E402


def test():
    certs = make_certs()
    test_go_streams.TLS_CERTS = certs
    test_snapshot.TLS_CERTS = certs
    test_go_streams.test()
    ok("streams over TLS: done; snapshots over TLS next")
    test_snapshot.test()


if __name__ == "__main__":
    main(test)
