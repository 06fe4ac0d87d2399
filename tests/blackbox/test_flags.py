#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""`rafthttp node` flags, black-box (docs/node-cli.md, "Flags").

usage: test_flags.py RAFTHTTP_BIN

- every bad flag, malformed ID or URL, port already bound, missing required
  flag, TLS flag: exit 2, nothing on stdout, exactly one line on stderr
  naming the problem;
- good values of every flag are accepted (the node serves, stops with 0);
- --name/--initial-cluster/--initial-cluster-token derive the member ID,
  cluster ID, peers and URLs exactly as etcd does (SHA-1 computed here),
  seen in the ready event, in X-Etcd-Cluster-ID, in the requests the node
  sends a fake peer (X-Server-From, X-Etcd-Cluster-ID, X-PeerURLs) and in
  its status; explicit --id/--cluster-id/--peer/--listen/--advertise win;
- --advertise is what X-PeerURLs carries, and what a receiver that learns
  the sender from a request dials back;
- --server-version / --min-cluster-version in /version and in every
  request header, and what the peer handlers check (412 for an
  incompatible peer, as etcd's checkVersionCompatibility);
- --dial-timeout bounds a dial that hangs; --dial-retry spaces stream
  redials.
"""
import json
import os
import re
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bb import (WORKDIR, FakePeer, Failed, Node, check, cluster_id, free_port, hexid,  # noqa
                http, main, member_id, node_args, ok, pb_encode_msg, pb_msg, run_cli, url)

ID, CID = 0x1d, 0xc1d


def base(port=None, drop=()):
    a = {"--id": "1d", "--cluster-id": "c1d", "--listen": url(port or free_port())}
    out = []
    for k, v in a.items():
        if k not in drop:
            out += [k, v]
    return out


def expect_usage(args, words, what):
    """Exit 2, empty stdout, exactly one stderr line containing one of
    words (case-insensitive)."""
    rc, out, err = run_cli(args)
    lines = err.splitlines()
    if rc != 2 or out or len(lines) != 1 or not any(w.lower() in lines[0].lower() for w in words):
        raise Failed("%s: `rafthttp node %s`: exit %s, stdout %r, stderr %r; want exit 2, "
                     "no stdout, one stderr line naming %s (spec: \"exits with status 2 and "
                     "one line on standard error saying what is wrong\")"
                     % (what, " ".join(args), rc, out[:200], err[:600], " or ".join(map(repr, words))))
    return lines[0]


def usage_errors():
    snap_file = os.path.join(WORKDIR, "a-file")
    open(snap_file, "w").close()
    p = free_port()
    cases = [
        # bad flags
        (base() + ["--bogus"], ["--bogus"], "unknown flag"),
        (base() + ["--no-such-flag=1"], ["no-such-flag"], "unknown flag with =value"),
        (base() + ["--peer"], ["peer"], "flag without its value"),
        (base() + ["--reply", "always"], ["reply", "always"], "--reply not none|echo-resp"),
        (base() + ["--metrics=maybe"], ["metrics", "maybe"], "--metrics=maybe"),
        (base() + ["--trace-sent=2"], ["trace-sent"], "--trace-sent=2"),
        (base() + ["--server-version", "abc"], ["server-version", "abc"], "--server-version abc"),
        (base() + ["--server-version", "3.4"], ["server-version"], "--server-version 3.4"),
        (base() + ["--min-cluster-version", "x.y.z"], ["min-cluster-version"], "--min-cluster-version x.y.z"),
        (base() + ["--dial-timeout", "abc"], ["dial-timeout", "abc"], "--dial-timeout abc"),
        (base() + ["--dial-timeout", "10"], ["dial-timeout"], "--dial-timeout without a unit"),
        (base() + ["--dial-timeout", "-1s"], ["dial-timeout"], "--dial-timeout -1s"),
        (base() + ["--dial-retry", "soon"], ["dial-retry", "soon"], "--dial-retry soon"),
        (base() + ["--dial-retry", "0"], ["dial-retry"], "--dial-retry 0"),
        (base() + ["--snap-dir", snap_file], ["snap-dir"], "--snap-dir naming a regular file"),
        # malformed IDs
        (base(drop=["--id"]) + ["--id", "xyz"], ["xyz", "--id"], "--id xyz"),
        (base(drop=["--id"]) + ["--id", "12345678901234567"], ["12345678901234567", "--id"], "--id of 17 hex digits"),
        (base(drop=["--id"]) + ["--id", ""], ["--id", "id"], "--id ''"),
        (base(drop=["--id"]) + ["--id", "0"], ["--id"], "--id 0"),
        (base(drop=["--cluster-id"]) + ["--cluster-id", "g00d"], ["g00d", "cluster-id"], "--cluster-id g00d"),
        (base() + ["--peer", "zz=http://127.0.0.1:9"], ["zz", "peer"], "--peer with a bad ID"),
        (base() + ["--peer", "2"], ["peer"], "--peer without =URL"),
        # malformed URLs
        (base(drop=["--listen"]) + ["--listen", "127.0.0.1:%d" % p], ["127.0.0.1:%d" % p, "listen"], "--listen without a scheme"),
        (base(drop=["--listen"]) + ["--listen", "http://127.0.0.1:99999"], ["99999", "port"], "--listen with port 99999"),
        (base(drop=["--listen"]) + ["--listen", "http://127.0.0.1"], ["127.0.0.1", "port"], "--listen without a port"),
        (base(drop=["--listen"]) + ["--listen", "http://127.0.0.1:%d/raft" % p], ["/raft", "path"], "--listen with a path"),
        (base() + ["--advertise", "not-a-url"], ["not-a-url", "advertise"], "--advertise not-a-url"),
        (base() + ["--peer", "2=ftp://127.0.0.1:9"], ["ftp://", "peer"], "--peer with an ftp URL"),
        (base() + ["--peer", "2=http://127.0.0.1"], ["peer", "port"], "--peer URL without a port"),
        (base() + ["--peer", "2=http://127.0.0.1:9,"], ["peer"], "--peer with an empty URL in the list"),
        # missing required flags
        (base(drop=["--id"]), ["--id"], "no --id"),
        (base(drop=["--cluster-id"]), ["--cluster-id"], "no --cluster-id"),
        (base(drop=["--listen"]), ["--listen"], "no --listen"),
        ([], ["--id", "required"], "no flags at all"),
        # --name / --initial-cluster
        (["--name", "x", "--initial-cluster", "a=http://127.0.0.1:%d" % p], ["x", "name"], "--name not in --initial-cluster"),
        (["--name", "a", "--initial-cluster", "a"], ["initial-cluster"], "--initial-cluster without =URL"),
        (["--name", "a", "--initial-cluster", "a=localhost:%d" % p], ["initial-cluster", "localhost"], "--initial-cluster with a bad URL"),
        (["--name", "a", "--initial-cluster", "a=http://127.0.0.1:%d,b=http://127.0.0.1:%d" % (p, p)],
         ["initial-cluster", "same"], "--initial-cluster: two members with the same URLs (same ID)"),
        # TLS: incomplete or contradictory settings
        (base() + ["--cert-file", snap_file], ["key-file"], "--cert-file without --key-file"),
        (base() + ["--key-file", snap_file], ["cert-file"], "--key-file without --cert-file"),
        (base() + ["--trusted-ca-file", snap_file], ["cert-file"], "--trusted-ca-file without a certificate"),
        (base() + ["--client-cert-auth"], ["cert-file"], "--client-cert-auth without a certificate"),
        (base() + ["--allowed-cn", "etcd"], ["cert-file"], "--allowed-cn without a certificate"),
        (base() + ["--allowed-hostname", "etcd.local"], ["cert-file"], "--allowed-hostname without a certificate"),
        (base() + ["--cert-file", snap_file, "--key-file", snap_file], ["certificate", snap_file], "--cert-file that is no certificate"),
        (base(drop=["--listen"]) + ["--listen", "https://127.0.0.1:%d" % p], ["https", "cert-file"], "--listen https:// without TLS files"),
        (base() + ["--peer", "2=https://127.0.0.1:%d" % p], ["https", "cert-file"], "--peer https:// without TLS files"),
    ]
    for args, words, what in cases:
        line = expect_usage(args, words, what)
        ok("%s: exit 2, one stderr line: %s" % (what, line))


def usage_errors_new_limits():
    """The server-limit flags (spec: "Default server limits (each
    configurable)"): bad values exit 2 with one line naming the flag."""
    cases = [
        (["--read-header-timeout", "soon"], "read-header-timeout"),
        (["--read-header-timeout", "-1s"], "read-header-timeout"),
        (["--handshake-timeout", "0s"], "handshake-timeout"),
        (["--handshake-timeout", "later"], "handshake-timeout"),
        (["--max-handshakes", "0"], "max-handshakes"),
        (["--max-handshakes", "-3"], "max-handshakes"),
        (["--max-handshakes", "16k"], "max-handshakes"),
        (["--max-header-bytes", "lots"], "max-header-bytes"),
        (["--max-header-bytes", "-1"], "max-header-bytes"),
        (["--max-header-bytes", "64KB"], "max-header-bytes"),
        (["--max-body-bytes", "1.5GiB"], "max-body-bytes"),
        (["--max-body-bytes", "12XiB"], "max-body-bytes"),
        (["--max-body-bytes", ""], "max-body-bytes"),
    ]
    for extra, word in cases:
        line = expect_usage(base() + extra, [word], " ".join(extra))
        check("unknown flag" not in line, "%s: %r: the flag must be known and its value refused"
              % (" ".join(extra), line))
        ok("%s: exit 2, one stderr line: %s" % (" ".join(extra), line))


def port_already_bound():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    p = s.getsockname()[1]
    try:
        line = expect_usage(base(p), [str(p), "in use", "listen", "bind"], "port already bound")
    finally:
        s.close()
    ok("--listen on a port already bound (%d): exit 2, one stderr line: %s" % (p, line))
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    p = s.getsockname()[1]
    try:
        line = expect_usage(base() + ["--listen", url(p)], [str(p), "in use", "listen", "bind"],
                            "second --listen on a port already bound")
    finally:
        s.close()
    ok("the second of two --listen URLs on a port already bound (%d): exit 2, one stderr line: %s" % (p, line))


def accepted_values():
    """Good values of every flag: the node serves and stops with 0."""
    snap = os.path.join(WORKDIR, "snap", "nested")
    adv = url(free_port())
    n = Node("all-flags", ["--id", "8e9e05c52164694d", "--cluster-id", "cdf818194e3a8c32",
                           "--listen", url(free_port()), "--listen", url(free_port()),
                           "--advertise", adv, "--peer", "2=%s,%s" % (url(free_port()), url(free_port())),
                           "--peer", "3=%s" % url(free_port()),
                           "--snap-dir", snap, "--server-version", "3.5.0-rc.1+build.7",
                           "--min-cluster-version", "3.1.0", "--dial-timeout", "1m30s",
                           "--dial-retry", "250ms", "--metrics=true", "--trace-sent=false",
                           "--reply", "none"])
    check(n.ready.get("id") == 0x8e9e05c52164694d and n.ready.get("clusterId") == 0xcdf818194e3a8c32,
          "ready event: IDs %r, want the hex of --id/--cluster-id" % n.ready)
    check(len(n.ready.get("listen", [])) == 2, "ready: two listen URLs expected: %r" % n.ready)
    for u in n.ready["listen"]:
        port = int(u.rsplit(":", 1)[1])
        r = http(port, "GET", "/version")
        check(r.status == 200, "GET /version on %s: %s" % (u, r.show()))
    check(os.path.isdir(snap), "--snap-dir %s: not created" % snap)
    st = n.status()
    ids = sorted(p["id"] for p in st.get("peers", []))
    check(ids == [2, 3], "status peers %r, want the two --peer members 2 and 3" % st)
    n.stop0()
    ok("every value flag with good values (two --listen, --advertise, --peer with two URLs, "
       "nested --snap-dir created, semver with pre-release and build, 1m30s, 250ms, "
       "--metrics=true, --trace-sent=false, --reply none): serves on both ports, exit 0")

    n = Node("alt-forms", ["-id=1d", "-cluster-id=c1d", "-listen=" + url(0), "--metrics",
                           "--trace-sent", "--reply=echo-resp", "--dial-timeout=1.5s",
                           "--dial-retry=100ms", "--metrics=false", "--trace-sent=true"])
    check(n.port and n.port > 0, "--listen port 0: the ready event names the bound port: %r" % n.ready)
    r = http(n.port, "GET", "/version")
    check(r.status == 200, "GET /version: %s" % r.show())
    n.stop0()
    ok("-flag=value and --flag=value forms, bare booleans, --flag=false: accepted; port 0 binds a "
       "free port (%d)" % n.port)


def accepted_limits():
    for extra in (["--read-header-timeout", "2s", "--max-header-bytes", "64KiB",
                   "--max-body-bytes", "1GiB"],
                  ["--read-header-timeout=500ms", "--max-header-bytes=4096",
                   "--max-body-bytes=16MiB"],
                  ["--max-header-bytes", "1MiB", "--max-body-bytes", "1024KiB"],
                  ["--handshake-timeout", "3s", "--max-handshakes=8"]):
        n = Node("limits", base(0) + extra)
        r = http(n.port, "GET", "/version")
        check(r.status == 200, "%s: GET /version: %s" % (" ".join(extra), r.show()))
        n.stop0()
        ok("%s: accepted (integer and KiB/MiB/GiB forms), serves, exit 0" % " ".join(extra))


def derive_etcd_default():
    """etcd's own defaults: --name default --initial-cluster
    default=http://localhost:2380 makes member 8e9e05c52164694d of cluster
    cdf818194e3a8c32 (what every fresh etcd prints)."""
    mid = member_id(["http://localhost:2380"])
    cid = cluster_id([mid])
    check(mid == 0x8e9e05c52164694d and cid == 0xcdf818194e3a8c32,
          "the test's SHA-1 derivation is wrong: %x %x" % (mid, cid))
    n = Node("default", ["--name", "default", "--initial-cluster", "default=http://localhost:2380",
                         "--listen", url(0)])
    check(n.ready.get("id") == mid and n.ready.get("clusterId") == cid,
          "ready %r: want id %d (8e9e05c52164694d), clusterId %d (cdf818194e3a8c32)"
          % (n.ready, mid, cid))
    r = http(n.port, "GET", "/no-such-path")
    check(r.h("X-Etcd-Cluster-ID") == "cdf818194e3a8c32",
          "X-Etcd-Cluster-ID %r, want cdf818194e3a8c32: %s" % (r.h("X-Etcd-Cluster-ID"), r.show()))
    n.stop0()
    ok("--name default --initial-cluster default=http://localhost:2380 (token etcd-cluster): "
       "member 8e9e05c52164694d, cluster cdf818194e3a8c32 (ready event, X-Etcd-Cluster-ID), as etcd")


def derive_cluster():
    """Three members, token T; b has two URLs given unsorted; c is a fake
    peer that records what a derives."""
    fake = FakePeer()
    pa, pb1, pb2 = free_port(), free_port(), free_port()
    ua, ub1, ub2 = url(pa), url(pb1), url(pb2)
    ub_sorted = sorted([ub1, ub2])
    token = "bb-token-%d" % pa
    ic = "a=%s,b=%s,b=%s,c=%s" % (ua, ub_sorted[1], ub_sorted[0], fake.url)
    ida, idb, idc = member_id([ua], token), member_id([ub1, ub2], token), member_id([fake.url], token)
    cid = cluster_id([ida, idb, idc])
    n = Node("derived-a", ["--name", "a", "--initial-cluster", ic, "--initial-cluster-token", token])
    check(n.ready.get("id") == ida, "ready id %r, want %x (SHA-1 of %s + token)" % (n.ready.get("id"), ida, ua))
    check(n.ready.get("clusterId") == cid, "ready clusterId %r, want %x" % (n.ready.get("clusterId"), cid))
    check(n.port == pa, "listen port %r, want a's URL from --initial-cluster (%d)" % (n.port, pa))
    r = http(pa, "GET", "/no-such-path")
    check(r.h("X-Etcd-Cluster-ID") == hexid(cid), "X-Etcd-Cluster-ID %r, want %x" % (r.h("X-Etcd-Cluster-ID"), cid))
    ok("--name a --initial-cluster (3 members, b with 2 URLs unsorted) --initial-cluster-token: "
       "member %x, cluster %x as etcd derives them; serves on a's URL" % (ida, cid))
    req = fake.wait(lambda q: q["path"].startswith("/raft/stream/"), "stream dial from a", 5)
    h = req["headers"]
    check(req["path"] in ("/raft/stream/message/%x" % ida, "/raft/stream/msgapp/%x" % ida),
          "stream dial path %r, want /raft/stream/{message,msgapp}/%x" % (req["path"], ida))
    check(h.get("x-server-from") == hexid(ida), "X-Server-From %r, want %x" % (h.get("x-server-from"), ida))
    check(h.get("x-etcd-cluster-id") == hexid(cid), "X-Etcd-Cluster-ID %r, want %x" % (h.get("x-etcd-cluster-id"), cid))
    check(h.get("x-peerurls") == ua, "X-PeerURLs %r, want a's URL %s" % (h.get("x-peerurls"), ua))
    check(h.get("x-raft-to") == hexid(idc), "X-Raft-To %r, want %x" % (h.get("x-raft-to"), idc))
    ok("c (a fake peer at c's URL) is dialed by a: %s with X-Server-From %x, X-Etcd-Cluster-ID %x, "
       "X-PeerURLs %s, X-Raft-To %x" % (req["path"], ida, cid, ua, idc))
    st = n.status()
    got = sorted((p["id"], sorted(p.get("urls", []))) for p in st.get("peers", []))
    want = sorted([(idb, ub_sorted), (idc, [fake.url])])
    check(got == want, "status peers %r, want %r (the other members of --initial-cluster)" % (got, want))
    ok("status lists b (%x, both URLs) and c (%x) as peers, derived from --initial-cluster" % (idb, idc))
    n.stop0()

    # the same cluster seen from b: same cluster ID, b's own ID from its two URLs
    nb = Node("derived-b", ["--name", "b", "--initial-cluster", ic, "--initial-cluster-token", token])
    check(nb.ready.get("id") == idb and nb.ready.get("clusterId") == cid,
          "b: ready %r, want id %x cluster %x" % (nb.ready, idb, cid))
    check(sorted(nb.ready.get("listen", [])) == ub_sorted, "b listens on %r, want %r" % (nb.ready.get("listen"), ub_sorted))
    nb.stop0()
    # the spec's form N=URL[,URL],...: a bare URL is another URL of the member before it
    ic_bare = "a=%s,b=%s,%s,c=%s" % (ua, ub_sorted[1], ub_sorted[0], fake.url)
    nb = Node("derived-b", ["--name", "b", "--initial-cluster", ic_bare, "--initial-cluster-token", token])
    check(nb.ready.get("id") == idb and nb.ready.get("clusterId") == cid,
          "b with --initial-cluster %s: ready %r, want id %x cluster %x" % (ic_bare, nb.ready, idb, cid))
    nb.stop0()
    ok("b of the same --initial-cluster: member %x (SHA-1 of its sorted URLs + token), same cluster %x, "
       "listens on both its URLs; the same with b's URLs written b=URL,URL" % (idb, cid))

    # explicit flags win
    fake2 = FakePeer()
    pl, px = free_port(), free_port()
    adv = url(free_port())
    ic2 = "a=%s,b=%s,c=%s" % (ua, ub1, fake2.url)
    idb2, idc2 = member_id([ub1], token), member_id([fake2.url], token)
    n = Node("explicit", ["--name", "a", "--initial-cluster", ic2, "--initial-cluster-token", token,
                          "--id", "77", "--cluster-id", "88", "--listen", url(pl), "--advertise", adv,
                          "--peer", "%x=%s" % (idb2, url(px))])
    check(n.ready.get("id") == 0x77 and n.ready.get("clusterId") == 0x88,
          "explicit --id 77 --cluster-id 88 must win: ready %r" % n.ready)
    check(n.port == pl, "explicit --listen must win: ready %r" % n.ready)
    req = fake2.wait(lambda q: q["path"].startswith("/raft/stream/"), "stream dial from a", 5)
    h = req["headers"]
    check(req["path"].endswith("/77") and h.get("x-server-from") == "77" and
          h.get("x-etcd-cluster-id") == "88" and h.get("x-peerurls") == adv,
          "dial from the explicit member: %s %r; want .../77, X-Server-From 77, "
          "X-Etcd-Cluster-ID 88, X-PeerURLs %s" % (req["path"], h, adv))
    st = n.status()
    got = sorted((p["id"], p.get("urls")) for p in st.get("peers", []))
    want = sorted([(idb2, [url(px)]), (idc2, [fake2.url])])
    check(got == want, "status peers %r, want %r (explicit --peer for b's derived ID wins)" % (got, want))
    n.stop0()
    fake.close()
    fake2.close()
    ok("explicit --id, --cluster-id, --listen, --advertise and --peer (for b's derived ID) win "
       "over --initial-cluster; c still derived")


def advertise_and_versions():
    # defaults: X-PeerURLs = the listen URL, 3.4.23 / 3.0.0
    fake = FakePeer()
    pa = free_port()
    n = Node("defaults", node_args(ID, CID, pa, [(0x2, fake.url)]))
    req = fake.wait(lambda q: q["path"].startswith("/raft/stream/"), "stream dial", 5)
    h = req["headers"]
    check(h.get("x-peerurls") == url(pa), "X-PeerURLs %r, want the listen URL %s (default)" % (h.get("x-peerurls"), url(pa)))
    check(h.get("x-server-version") == "3.4.23" and h.get("x-min-cluster-version") == "3.0.0",
          "default versions in the dial: %r, want X-Server-Version 3.4.23, X-Min-Cluster-Version 3.0.0" % h)
    r = http(pa, "GET", "/version")
    v = r.body.decode()
    check(r.status == 200 and '"etcdserver":"3.4.23"' in v, "/version: %s" % r.show())
    n.stop0()
    ok("defaults: X-PeerURLs is the listen URL, X-Server-Version 3.4.23, X-Min-Cluster-Version 3.0.0, "
       "/version etcdserver 3.4.23")

    # explicit: two --advertise URLs, other versions; seen on stream dials and pipeline posts
    fake.close()
    fake = FakePeer()
    adv1, adv2 = url(free_port()), url(free_port())
    pa = free_port()
    n = Node("advertise", node_args(ID, CID, pa, [(0x2, fake.url)],
                                    ["--advertise", adv1, "--advertise", adv2,
                                     "--server-version", "3.5.2", "--min-cluster-version", "3.1.0"]))
    req = fake.wait(lambda q: q["path"].startswith("/raft/stream/"), "stream dial", 5)
    m = fake.mark()
    n.send({"type": "MsgHeartbeat", "to": 2, "from": ID, "term": 3})
    post = fake.wait(lambda q: q["method"] == "POST" and q["path"] == "/raft", "POST /raft", 5, m)
    for what, q in (("stream dial", req), ("pipeline POST /raft", post)):
        h = q["headers"]
        check(h.get("x-peerurls") == "%s,%s" % (adv1, adv2),
              "%s: X-PeerURLs %r, want %s,%s (--advertise)" % (what, h.get("x-peerurls"), adv1, adv2))
        check(h.get("x-server-version") == "3.5.2" and h.get("x-min-cluster-version") == "3.1.0",
              "%s: versions %r, want 3.5.2 / 3.1.0" % (what, h))
        check(h.get("x-server-from") == hexid(ID) and h.get("x-etcd-cluster-id") == hexid(CID),
              "%s: X-Server-From/X-Etcd-Cluster-ID %r" % (what, h))
    pm = pb_msg(post["body"])
    check(pm.get("type") == 8 and pm.get("to") == 2 and pm.get("from") == ID and pm.get("term") == 3,
          "pipeline body decodes to %r, want MsgHeartbeat 1d->2 term 3" % pm)
    check(post["headers"].get("content-type") == "application/protobuf",
          "pipeline Content-Type %r, want application/protobuf" % post["headers"].get("content-type"))
    r = http(pa, "GET", "/version")
    check(r.status == 200 and '"etcdserver":"3.5.2"' in r.body.decode(), "/version: %s" % r.show())
    n.stop0()
    fake.close()
    ok("--advertise x2 and --server-version 3.5.2 --min-cluster-version 3.1.0: X-PeerURLs %s,%s and "
       "the versions on stream dials and pipeline posts (protobuf body decoded), /version etcdserver 3.5.2"
       % (adv1, adv2))


def versions_enforced():
    """--server-version / --min-cluster-version are what the node's peer
    handlers check (etcd's checkVersionCompatibility: a peer older than our
    minimum cluster version, or whose minimum is newer than us, gets 412)."""
    me, frm = 0x1d, 0x2e
    n = Node("v35", node_args(me, CID, 0, [], ["--server-version", "3.5.0", "--min-cluster-version", "3.5.0"]))
    body = pb_encode_msg(8, me, frm, term=1)
    for sv, mv, want in (("3.4.23", "3.0.0", 412), ("3.5.1", "3.0.0", 204), ("3.5.1", "3.6.0", 412),
                         ("3.6.0", "3.5.0", 204)):
        r = http(n.port, "POST", "/raft", [("X-Etcd-Cluster-ID", hexid(CID)), ("X-Server-From", hexid(frm)),
                                           ("X-Server-Version", sv), ("X-Min-Cluster-Version", mv),
                                           ("Content-Type", "application/protobuf")], body)
        check(r.status == want, "--server-version 3.5.0 --min-cluster-version 3.5.0: POST /raft from a "
              "peer at %s (min %s): %s; want %d" % (sv, mv, r.show(), want))
    n.stop0()
    ok("--server-version 3.5.0 --min-cluster-version 3.5.0: a POST /raft from 3.4.23 gets 412, from 3.5.1 204, "
       "from one whose minimum is 3.6.0 412, from 3.6.0 (min 3.5.0) 204")

    pa, pb = free_port(), free_port()
    a = Node("a", node_args(0xa, CID, pa, [(0xb, pb)], ["--server-version", "3.5.0", "--min-cluster-version", "3.5.0"]))
    b = Node("b", node_args(0xb, CID, pb, [(0xa, pa)]))
    m = a.mark()
    a.send({"type": "MsgHeartbeat", "to": 0xb, "from": 0xa, "term": 1})
    a.wait(lambda e: e.get("event") == "unreachable" and e.get("id") == 0xb, "unreachable b", 5, m)
    time.sleep(1.0)
    act = a.events(0, "peerActive") + b.events(0, "peerActive")
    check(not act and not b.events(0, "recv"), "a (min cluster 3.5.0) and b (3.4.23): %s"
          % [e["_raw"] for e in act + b.events(0, "recv")][:3])
    a.stop0()
    b.stop0()
    ok("a at 3.5.0 with minimum 3.5.0 and b at 3.4.23: no stream, nothing delivered, a reports b unreachable")


def advertise_learned_by_receiver():
    """a advertises the URL of a fake; r does not know a, so it learns a as
    a remote from a's requests (X-PeerURLs) and answers there."""
    A, R = 0xa1, 0xb2
    fake = FakePeer()
    pr = free_port()
    r = Node("r", node_args(R, CID, pr, [], ["--reply", "echo-resp"]))
    a = Node("a", node_args(A, CID, free_port(), [(R, pr)], ["--advertise", fake.url]))
    m = r.mark()
    a.send({"type": "MsgHeartbeat", "to": R, "from": A, "term": 4, "context": "YWR2"})
    ev = r.wait(lambda e: e.get("event") == "recv" and (e.get("msg") or {}).get("type") == "MsgHeartbeat",
                "heartbeat from a", 5, m)
    check(ev.get("via") == "pipeline", "r got a's heartbeat via %r, want pipeline (r has no stream to "
          "an unknown member)" % ev.get("via"))
    resp = fake.wait(lambda q: q["method"] == "POST" and q["path"] == "/raft", "r's answer at a's "
                     "advertised URL", 5)
    pm = pb_msg(resp["body"])
    check(pm.get("type") == 9 and pm.get("to") == A and pm.get("from") == R and pm.get("term") == 4
          and pm.get("context") == b"adv",
          "r's answer at the advertised URL decodes to %r, want MsgHeartbeatResp %x->%x term 4" % (pm, R, A))
    check(resp["headers"].get("x-server-from") == hexid(R), "answer X-Server-From %r" % resp["headers"])
    a.stop0()
    r.stop0()
    fake.close()
    ok("--advertise: a receiver that learns the sender from its request (X-PeerURLs) posts its answer "
       "(MsgHeartbeatResp, context echoed) to the advertised URL, not the listen URL")


def dial_timeout():
    """A listener whose accept queue is full: connect hangs (SYN dropped),
    so a pipeline post fails after the dial timeout."""
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(0)
    lp = ls.getsockname()[1]
    fill = []
    for _ in range(3):
        s = socket.socket()
        s.setblocking(False)
        try:
            s.connect(("127.0.0.1", lp))
        except (BlockingIOError, OSError):
            pass
        fill.append(s)
    time.sleep(0.2)
    try:
        for flag, lo, hi in ((["--dial-timeout", "300ms"], 0.2, 0.85), ([], 0.85, 2.5)):
            n = Node("dial-timeout", node_args(ID, CID, free_port(), [(2, lp)], flag))
            time.sleep(0.2)
            m = n.mark()
            t = time.monotonic()
            n.send({"type": "MsgSnap", "to": 2, "from": ID, "term": 1})
            ev = n.wait("unreachable", "unreachable for a hanging dial", 5, m)
            dt = ev["_t"] - t
            check(ev.get("id") == 2, "unreachable %r" % ev)
            fail = n.wait(lambda e: e.get("event") == "snapshotStatus", "snapshotStatus", 3, m)
            check(fail.get("status") == "failure" and fail.get("id") == 2, "snapshotStatus %r, want failure" % fail)
            check(lo <= dt <= hi, "%s: the pipeline post to a hanging peer failed after %.2fs, want %.2f..%.2fs"
                  % (" ".join(flag) or "default (1s)", dt, lo, hi))
            n.stop0()
            ok("%s: a dial that hangs fails after %.2fs (unreachable, snapshotStatus failure)"
               % (" ".join(flag) or "--dial-timeout default 1s", dt))
    finally:
        for s in fill:
            s.close()
        ls.close()


def dial_retry():
    """A fake peer answering 404 (as etcd does to a member it does not
    know) to every stream dial: the node redials each stream type, no sooner
    than --dial-retry after the previous dial."""
    for flag, gap_min, first_gap_max, count_min, count_max in (
            (["--dial-retry", "500ms"], 0.42, 0.8, 3, 6),
            ([], 0.08, 0.35, 5, 40)):
        fake = FakePeer()
        n = Node("dial-retry", node_args(ID, CID, free_port(), [(2, fake.url)], flag))
        time.sleep(2.0)
        n.stop0()
        fake.close()
        seen = []
        what = " ".join(flag) or "--dial-retry default 100ms"
        for kind in ("message", "msgapp"):
            ts = [q["t"] for q in fake.reqs if q["path"] == "/raft/stream/%s/%x" % (kind, ID)]
            gaps = [b - a for a, b in zip(ts, ts[1:])]
            check(count_min <= len(ts) <= count_max,
                  "%s: %d %s stream dials in 2s, want %d..%d" % (what, len(ts), kind, count_min, count_max))
            check(min(gaps) >= gap_min,
                  "%s: %s redials %.3fs apart, want >= %.2fs" % (what, kind, min(gaps), gap_min))
            check(gaps[0] <= first_gap_max,
                  "%s: the first %s redial came %.3fs after the first dial, want <= %.2fs"
                  % (what, kind, gaps[0], first_gap_max))
            seen.append("%d %s (gaps %s)" % (len(ts), kind, " ".join("%.2f" % g for g in gaps[:4])))
        ok("%s: stream dials in 2s against a peer answering 404: %s" % (what, ", ".join(seen)))


def json_log_lines(node):
    """Every stderr line of node as a JSON object (Failed on one that is not)."""
    out = []
    for ln in node.stderr_text().splitlines():
        try:
            obj = json.loads(ln)
        except ValueError:
            raise Failed("%s: --log-format json: stderr line is not JSON: %r" % (node.name, ln[:200]))
        check(isinstance(obj, dict), "%s: log line is not an object: %r" % (node.name, ln[:200]))
        out.append(obj)
    return out


def log_format_json():
    """--log-format json: each stderr line one JSON object with zap's fields
    (level, ts, msg, local-member-id and, where a line is about a peer,
    remote-peer-id, IDs in etcd's unpadded hex); --log-level filters it."""
    a_id, b_id = 0xa, 0x8e9e05c52164694d
    pa, pb = free_port(), free_port()
    a = Node("a", node_args(a_id, CID, pa, [(b_id, pb)], ["--log-format", "json", "--log-level", "debug"]))
    b = Node("b", node_args(b_id, CID, pb, [(a_id, pa)], ["--log-format=json", "--log-level", "warn"]))
    a.wait(lambda e: e.get("event") == "peerActive", "peerActive", 5, 0)
    b.wait(lambda e: e.get("event") == "peerActive", "peerActive", 5, 0)
    m = b.mark()
    a.send({"type": "MsgHeartbeat", "to": b_id, "from": a_id, "term": 3})
    b.wait(lambda e: e.get("event") == "recv", "recv", 5, m)
    b.stop0()  # a logs losing b's streams (warn, about peer b)
    time.sleep(0.5)
    a.stop0()
    ts_re = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
    lines = json_log_lines(a)
    check(len(lines) >= 5, "a wrote %d JSON log lines" % len(lines))
    for o in lines:
        check(o.get("level") in ("debug", "info", "warn", "error"), "bad level: %r" % o)
        check(isinstance(o.get("ts"), str) and ts_re.match(o["ts"]), "bad ts: %r" % o)
        check(isinstance(o.get("msg"), str) and o["msg"], "bad msg: %r" % o)
        check(o.get("local-member-id") == "a", "local-member-id %r, want \"a\": %r"
              % (o.get("local-member-id"), o))
        check(set(o) <= {"level", "ts", "msg", "local-member-id", "remote-peer-id"},
              "unexpected fields: %r" % o)
    about_b = [o for o in lines if o.get("remote-peer-id") == "8e9e05c52164694d"]
    check(any("became active" in o["msg"] for o in about_b),
          "no line about peer b becoming active with remote-peer-id: %r" % lines[:8])
    check(any(o["level"] == "warn" for o in about_b), "no warn line about b after it stopped")
    check(any("8e9e05c52164694d" in o["msg"] for o in about_b), "b's ID not unpadded hex in msg")
    levels = {o["level"] for o in lines}
    check("debug" in levels or "info" in levels, "a (--log-level debug): levels %s" % levels)
    blines = json_log_lines(b)
    check(all(o["level"] in ("warn", "error") for o in blines),
          "b (--log-level warn) wrote lower levels: %r" % [o for o in blines if o["level"] not in ("warn", "error")][:3])
    ok("--log-format json: %d lines of a parsed, all with level, ts, msg, local-member-id; "
       "%d about b with remote-peer-id; b at --log-level warn wrote %d lines, none below warn"
       % (len(lines), len(about_b), len(blines)))
    code, _, err = run_cli(["--id", "1", "--cluster-id", "2", "--listen", url(free_port()),
                            "--log-format", "yaml"])
    check(code == 2 and "--log-format" in err, "--log-format yaml: exit %d, %r" % (code, err))
    ok("--log-format yaml: exit 2 naming the flag")


def id_format_hex():
    """--id-format hex: every ID in the events as etcd's hex string (the
    default stays the spec's JSON numbers); input takes either form."""
    a_id, b_id = 0x8e9e05c52164694d, 0xfedcba9876543210
    pa, pb = free_port(), free_port()
    a = Node("a", node_args(a_id, CID, pa, [(b_id, pb)], ["--id-format", "hex"]))
    b = Node("b", node_args(b_id, CID, pb, [(a_id, pa)], ["--id-format=hex"]))
    check(a.ready.get("id") == "8e9e05c52164694d" and a.ready.get("clusterId") == "%x" % CID,
          "ready event: %r" % a.ready.get("_raw"))
    act = a.wait(lambda e: e.get("event") == "peerActive", "peerActive", 5, 0)
    check(act.get("id") == "fedcba9876543210", "peerActive id %r" % act.get("id"))
    b.wait(lambda e: e.get("event") == "peerActive", "peerActive", 5, 0)
    m = b.mark()
    a.send({"type": "MsgHeartbeat", "to": "fedcba9876543210", "from": a_id, "term": 7})
    ev = b.wait(lambda e: e.get("event") == "recv", "recv", 5, m)
    check(ev["msg"].get("to") == "fedcba9876543210" and ev["msg"].get("from") == "8e9e05c52164694d",
          "recv: %r" % ev.get("_raw"))
    st = a.status()
    check([p.get("id") for p in st.get("peers", [])] == ["fedcba9876543210"] and
          st.get("id") == "8e9e05c52164694d", "status: %r" % st.get("_raw"))
    a.stop0()
    b.stop0()
    ok("--id-format hex: ready, peerActive, recv (to, from) and status carry IDs as hex "
       "strings; input in both forms")
    code, _, err = run_cli(["--id", "1", "--cluster-id", "2", "--listen", url(free_port()),
                            "--id-format", "octal"])
    check(code == 2 and "--id-format" in err, "--id-format octal: exit %d, %r" % (code, err))
    ok("--id-format octal: exit 2 naming the flag")


if __name__ == "__main__":
    main([id_format_hex, log_format_json, usage_errors, port_already_bound, accepted_values, derive_etcd_default, derive_cluster,
          advertise_and_versions, versions_enforced, advertise_learned_by_receiver, dial_timeout, dial_retry,
          usage_errors_new_limits, accepted_limits])
