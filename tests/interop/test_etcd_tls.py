#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""test_etcd.py over mutual TLS: two real etcd 3.4.23 members and one C
`rafthttp node`, each with --peer-cert-file, --peer-key-file,
--peer-trusted-ca-file and --peer-client-cert-auth, https:// peer URLs.

usage: test_etcd_tls.py RAFTHTTP_BIN [ETCD_BIN]
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_etcd  # noqa: E402
from harness import main  # noqa: E402

if __name__ == "__main__":
    main(lambda: test_etcd.test(tls=True))
