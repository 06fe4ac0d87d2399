#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Snapshots between `rafthttp node` processes, black-box
(docs/node-cli.md: a MsgSnap with "snapshotFile" is etcd's merged
snapshot on /raft/snapshot; the receiver saves the body in --snap-dir as
%016x.snap.db of the snapshot index and reports recv via "snapshot" with
snapshotFile and snapshotBytes; the sender reports snapshotStatus).

usage: test_snapshot.py RAFTHTTP_BIN

- 3 MiB and 0-byte snapshots: byte-identical files under etcd's name in
  --snap-dir, exact recv event, snapshotStatus finish, the sent event, the
  echo-resp answer (MsgAppResp at the snapshot index);
- without --snap-dir: saved in a temp dir, same name;
- a dead peer: snapshotStatus failure and unreachable; a bad snapshotFile
  or one on another type: error event, the node goes on;
- a truncated upload: no recv, no file under the final name;
- the snapshot metric families on both sides (etcd_network_snapshot_*).
"""
import hashlib
import os
import signal
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bb import (WORKDIR, Node, _varint, canon, check, conf_state, free_port, full_msg,  # noqa
                get_metrics, hexid, main, node_args, ok, peer_headers, sample, url)

A, B, C, D, X, CID = 0xa1, 0xb2, 0xc3, 0xd4, 0xe5, 0x5aa9


def make_file(name, size):
    path = os.path.join(WORKDIR, name)
    with open(path, "wb") as f:
        f.write(os.urandom(size))
    return path


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def snap_msg(to, index, term=3, path=None):
    m = {"type": "MsgSnap", "to": to, "from": A, "term": term,
         "snapshot": {"metadata": {"index": index, "term": term - 1, "confState": {"voters": [A, to]}}}}
    if path is not None:
        m["snapshotFile"] = path
    return m


def expect_snapshot(a, b, to, path, index, snap_dir=None):
    """a sends path as the snapshot at index to b; checks both sides."""
    ma, mb = a.mark(), b.mark()
    a.send(snap_msg(to, index, path=path))
    ev = b.wait(lambda e: e.get("event") == "recv" and e["msg"].get("type") == "MsgSnap", "recv of the snapshot", 30, mb)
    want = full_msg("MsgSnap", to, A, term=3, snapshot={
        "metadata": {"index": index, "term": 2, "confState": conf_state([A, to])}})
    check(ev.get("via") == "snapshot", "snapshot recv via %r, want \"snapshot\"" % ev.get("via"))
    check(canon(ev["msg"]) == canon(want), "snapshot recv msg %s, want %s" % (canon(ev["msg"]), canon(want)))
    name = "%016x.snap.db" % index
    f = ev.get("snapshotFile")
    check(isinstance(f, str) and os.path.basename(f) == name,
          "snapshotFile %r, want a file named %s (etcd's %%016x.snap.db)" % (f, name))
    if snap_dir:
        check(os.path.realpath(os.path.dirname(f)) == os.path.realpath(snap_dir),
              "snapshotFile %r not in --snap-dir %s" % (f, snap_dir))
    size = os.path.getsize(path)
    check(ev.get("snapshotBytes") == size, "snapshotBytes %r, want %d" % (ev.get("snapshotBytes"), size))
    check(os.path.isfile(f) and os.path.getsize(f) == size and sha(f) == sha(path),
          "%s is not byte-identical to the %d bytes sent" % (f, size))
    st = a.wait(lambda e: e.get("event") == "snapshotStatus", "snapshotStatus", 30, ma)
    check(st.get("id") == to and st.get("status") == "finish", "snapshotStatus %r, want finish for %x" % (st, to))
    return ev, ma


def snapshots():
    pa, pb = free_port(), free_port()
    snap_dir = os.path.join(WORKDIR, "b-snaps")
    a = Node("a", node_args(A, CID, pa, [(B, pb), (D, free_port())], ["--trace-sent"]))
    b = Node("b", node_args(B, CID, pb, [(A, pa)], ["--snap-dir", snap_dir, "--reply", "echo-resp"]))
    a.wait(lambda e: e.get("event") == "peerActive" and e.get("id") == B, "peerActive b", 5, 0)

    big = make_file("snap-3m.bin", 3 << 20)
    ev, ma = expect_snapshot(a, b, B, big, 0x1234abcd, snap_dir)
    sent = a.wait(lambda e: e.get("event") == "sent" and e.get("type") == "MsgSnap", "sent event for the snapshot", 5, ma)
    check(sent.get("to") == B and sent.get("via"), "sent event %r" % sent)
    resp = a.wait(lambda e: e.get("event") == "recv" and e["msg"].get("type") == "MsgAppResp", "echo-resp answer", 5, ma)
    check(resp["msg"].get("index") == 0x1234abcd and resp["msg"].get("from") == B and not resp["msg"].get("reject"),
          "answer to the snapshot: %s; want an accepting MsgAppResp at index %d" % (canon(resp["msg"]), 0x1234abcd))
    ok("3 MiB snapshot a -> b: recv via snapshot, msg exact, %s in --snap-dir, snapshotBytes %d, "
       "byte-identical; a: sent (via %s), snapshotStatus finish; b's echo-resp MsgAppResp at index 0x1234abcd"
       % (os.path.basename(ev["snapshotFile"]), 3 << 20, sent.get("via")))

    empty = make_file("snap-0.bin", 0)
    ev, _ = expect_snapshot(a, b, B, empty, 7, snap_dir)
    ok("0-byte snapshot: %s, snapshotBytes 0, snapshotStatus finish" % os.path.basename(ev["snapshotFile"]))

    # a dead peer
    m = a.mark()
    a.send(snap_msg(D, 99, path=big))
    st = a.wait(lambda e: e.get("event") == "snapshotStatus", "snapshotStatus for a dead peer", 10, m)
    check(st.get("id") == D and st.get("status") == "failure", "snapshotStatus %r, want failure for %x" % (st, D))
    a.wait(lambda e: e.get("event") == "unreachable" and e.get("id") == D, "unreachable for the dead peer", 5, m)
    ok("snapshot to a dead peer: snapshotStatus failure and unreachable for %x" % D)

    # bad snapshotFile: error events, the node goes on
    for bad, what in ((snap_msg(B, 5, path=os.path.join(WORKDIR, "no-such-file")), "a missing file"),
                      (snap_msg(B, 5, path=WORKDIR), "a directory"),
                      (dict(snap_msg(B, 5, path=big), type="MsgApp"), "snapshotFile on a MsgApp")):
        m, mb = a.mark(), b.mark()
        a.send(bad)
        err = a.wait("error", "error event for %s" % what, 5, m)
        check(isinstance(err.get("error"), str) and err["error"], "error event %r" % err)
        time.sleep(0.2)
        check(not b.events(mb, "recv"), "%s: b received something: %s" % (what, b.events(mb, "recv")[:1]))
    expect_snapshot(a, b, B, empty, 8, snap_dir)
    ok("snapshotFile naming a missing file, a directory, or on a MsgApp: error event, nothing sent; "
       "the next snapshot goes through")

    # a truncated upload (raw POST /raft/snapshot): no recv, no file
    msg = (_varint(1 << 3) + _varint(7) + _varint(2 << 3) + _varint(B) + _varint(3 << 3) + _varint(X) +
           _varint(4 << 3) + _varint(3))
    meta = _varint(2 << 3) + _varint(4242) + _varint(3 << 3) + _varint(2)
    snap = _varint((2 << 3) | 2) + _varint(len(meta)) + meta
    msg += _varint((9 << 3) | 2) + _varint(len(snap)) + snap
    frame = struct.pack(">Q", len(msg)) + msg
    mb = b.mark()
    s = socket.create_connection(("127.0.0.1", pb), timeout=5)
    head = ["POST /raft/snapshot HTTP/1.1", "Host: 127.0.0.1:%d" % pb, "Content-Type: application/octet-stream",
            "Content-Length: %d" % (len(frame) + 100000)]
    head += ["%s: %s" % kv for kv in peer_headers(X, CID, [url(1)])]
    s.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + frame + b"z" * 1000)
    time.sleep(0.3)
    s.close()
    time.sleep(0.5)
    check(not b.events(mb, "recv"), "a truncated snapshot upload was delivered: %s" % b.events(mb, "recv")[:1])
    check(not os.path.exists(os.path.join(snap_dir, "%016x.snap.db" % 4242)),
          "a truncated upload left %016x.snap.db in --snap-dir" % 4242)
    ok("a snapshot upload cut short: no recv, no %016x.snap.db" % 4242)

    # metrics, both sides
    types, smp = get_metrics(pa)
    fams = [("etcd_network_snapshot_send_success", "counter"), ("etcd_network_snapshot_send_failures", "counter"),
            ("etcd_network_snapshot_send_total_duration_seconds", "histogram"),
            ("etcd_network_snapshot_send_inflights_total", "gauge")]
    for fam, kind in fams:
        check(types.get(fam) == kind, "a: # TYPE %s %s missing (got %r)" % (fam, kind, types.get(fam)))
    v = sample(smp, "etcd_network_snapshot_send_success", To=hexid(B))
    check(v == 3, "a: snapshot_send_success{To=%x} = %r, want 3" % (B, v))
    v = sample(smp, "etcd_network_snapshot_send_failures", To=hexid(D))
    check(v is not None and v >= 1, "a: snapshot_send_failures{To=%x} = %r, want >= 1" % (D, v))
    v = sample(smp, "etcd_network_snapshot_send_total_duration_seconds_count", To=hexid(B))
    check(v == 3, "a: snapshot_send_total_duration_seconds_count{To=%x} = %r, want 3" % (B, v))
    v = sample(smp, "etcd_network_snapshot_send_inflights_total", To=hexid(B))
    check(v in (None, 0), "a: snapshot_send_inflights_total{To=%x} = %r, want 0 with nothing in flight" % (B, v))
    ok("a's /metrics: %s; send_success{To=%x} 3, send_failures{To=%x} >= 1, duration count 3, inflights 0"
       % (", ".join(f for f, _ in fams), B, D))

    types, smp = get_metrics(pb)
    fams = [("etcd_network_snapshot_receive_success", "counter"),
            ("etcd_network_snapshot_receive_failures", "counter"),
            ("etcd_network_snapshot_receive_total_duration_seconds", "histogram"),
            ("etcd_network_snapshot_receive_inflights_total", "gauge")]
    for fam, kind in fams:
        check(types.get(fam) == kind, "b: # TYPE %s %s missing (got %r)" % (fam, kind, types.get(fam)))
    v = sample(smp, "etcd_network_snapshot_receive_success", From=hexid(A))
    check(v == 3, "b: snapshot_receive_success{From=%x} = %r, want 3" % (A, v))
    v = sample(smp, "etcd_network_snapshot_receive_total_duration_seconds_count", From=hexid(A))
    check(v == 3, "b: snapshot_receive_total_duration_seconds_count{From=%x} = %r, want 3" % (A, v))
    v = sample(smp, "etcd_network_snapshot_receive_failures", From=hexid(X))
    check(v is not None and v >= 1, "b: snapshot_receive_failures{From=%x} = %r after a cut upload, want >= 1" % (X, v))
    v = sample(smp, "etcd_network_snapshot_receive_inflights_total", From=hexid(A))
    check(v in (None, 0), "b: snapshot_receive_inflights_total{From=%x} = %r, want 0" % (A, v))
    ok("b's /metrics: %s; receive_success{From=%x} 3, duration count 3, receive_failures{From=%x} >= 1, "
       "inflights 0" % (", ".join(f for f, _ in fams), A, X))
    a.stop0()
    b.stop0()


def default_snap_dir():
    pa, pc = free_port(), free_port()
    a = Node("a", node_args(A, CID, pa, [(C, pc)]))
    c = Node("c", node_args(C, CID, pc, [(A, pa)]))
    a.wait(lambda e: e.get("event") == "peerActive" and e.get("id") == C, "peerActive c", 5, 0)
    path = make_file("snap-64k.bin", 65536)
    ev, _ = expect_snapshot(a, c, C, path, 0xffffffffffffffff)
    f = ev["snapshotFile"]
    check(os.path.basename(f) == "ffffffffffffffff.snap.db", "name %r" % f)
    check(os.path.realpath(f).startswith(os.path.realpath(WORKDIR) + os.sep),
          "without --snap-dir the snapshot went to %s, not under $TMPDIR (%s)" % (f, WORKDIR))
    ok("without --snap-dir: saved as %s (a temp dir under $TMPDIR), byte-identical" % f)
    a.stop0()
    c.stop0()


def stop_mid_snapshot():
    """A 48 MiB snapshot in flight: killing the receiver fails it
    (snapshotStatus failure, no file under the final name); SIGTERM on the
    sender mid-upload exits 0 (no sanitizer report), as does the receiver."""
    pa, pb = free_port(), free_port()
    snap_dir = os.path.join(WORKDIR, "mid-snaps")
    a = Node("a", node_args(A, CID, pa, [(B, pb)]))
    b = Node("b", node_args(B, CID, pb, [(A, pa)], ["--snap-dir", snap_dir]))
    a.wait(lambda e: e.get("event") == "peerActive" and e.get("id") == B, "peerActive b", 5, 0)
    big = make_file("snap-48m.bin", 48 << 20)

    m = a.mark()
    a.send(snap_msg(B, 0x48, path=big))
    time.sleep(0.15)
    b.stop(signal.SIGKILL)
    st = a.wait("snapshotStatus", "snapshotStatus after the receiver died", 15, m)
    check(st.get("id") == B and st.get("status") == "failure", "snapshotStatus %r, want failure" % st)
    check(not os.path.exists(os.path.join(snap_dir, "%016x.snap.db" % 0x48)),
          "a snapshot cut by the receiver's death left its final file")
    ok("receiver killed mid-snapshot: snapshotStatus failure, no %016x.snap.db" % 0x48)

    b = Node("b", node_args(B, CID, pb, [(A, pa)], ["--snap-dir", snap_dir]))
    a.wait(lambda e: e.get("event") == "peerActive" and e.get("id") == B, "peerActive b again", 8, m)
    mb = b.mark()
    a.send(snap_msg(B, 0x49, path=big))
    time.sleep(0.15)
    rc = a.stop(signal.SIGTERM)
    check(rc == 0, "sender: exit status %s on SIGTERM mid-snapshot, want 0" % rc)
    time.sleep(0.3)
    got = b.events(mb, "recv")
    if got:
        f = got[0].get("snapshotFile")
        check(got[0].get("snapshotBytes") == 48 << 20 and f and sha(f) == sha(big),
              "the receiver reported a snapshot that is not the whole file: %s" % got[0]["_raw"][:300])
    else:
        check(not os.path.exists(os.path.join(snap_dir, "%016x.snap.db" % 0x49)),
              "an upload cut by the sender's exit left its final file")
    b.stop0()
    ok("SIGTERM on the sender mid-snapshot: exit 0; the receiver has the whole file or none, exits 0")


def refused_snapshot():
    """The receiver cannot save (its --snap-dir removed under it) and answers
    500 before the body is in: the sender, still writing, must read that 500
    (the receiver discards the rest of the body for a moment, as Go's server
    does, instead of closing on unread bytes, which resets the connection
    and loses the answer)."""
    pa, pb = free_port(), free_port()
    snap_dir = os.path.join(WORKDIR, "gone-snaps")
    a = Node("a", node_args(A, CID, pa, [(B, pb)]))
    b = Node("b", node_args(B, CID, pb, [(A, pa)], ["--snap-dir", snap_dir]))
    a.wait(lambda e: e.get("event") == "peerActive" and e.get("id") == B, "peerActive b", 5, 0)
    os.rmdir(snap_dir)
    big = make_file("snap-32m.bin", 32 << 20)
    for i in range(3):
        m = a.mark()
        a.send(snap_msg(B, 0x60 + i, path=big))
        st = a.wait("snapshotStatus", "snapshotStatus of a refused snapshot", 15, m)
        check(st.get("id") == B and st.get("status") == "failure", "snapshotStatus %r, want failure" % st)
    time.sleep(0.2)
    err = a.stderr_text()
    n500 = err.count("sending snapshot to %x failed: unexpected http status 500" % B)
    check(n500 == 3 and "reset" not in err, "the sender logged %d of 3 refusals as the receiver's 500; its log:\n%s"
          % (n500, err[-1500:]))
    # raw: the answer reaches a client that goes on writing
    msg = (_varint(1 << 3) + _varint(7) + _varint(2 << 3) + _varint(B) + _varint(3 << 3) + _varint(A) +
           _varint(4 << 3) + _varint(3))
    meta = _varint(2 << 3) + _varint(4243) + _varint(3 << 3) + _varint(2)
    snap = _varint((2 << 3) | 2) + _varint(len(meta)) + meta
    msg += _varint((9 << 3) | 2) + _varint(len(snap)) + snap
    frame = struct.pack(">Q", len(msg)) + msg
    total = 64 << 20
    s = socket.create_connection(("127.0.0.1", pb), timeout=5)
    head = ["POST /raft/snapshot HTTP/1.1", "Host: 127.0.0.1:%d" % pb, "Content-Type: application/octet-stream",
            "Content-Length: %d" % (len(frame) + total)]
    head += ["%s: %s" % kv for kv in peer_headers(A, CID, [url(pa)])]
    s.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + frame)
    s.setblocking(False)
    chunk, sent, got, t0 = b"z" * 65536, 0, b"", time.time()
    while b"\r\n\r\n" not in got and time.time() - t0 < 10:
        try:
            if sent < total:
                sent += s.send(chunk)
        except BlockingIOError:
            time.sleep(0.001)
        except OSError as e:
            check(False, "raw client: %s after %d body bytes, before any answer" % (e, sent))
        try:
            d = s.recv(4096)
            check(d, "raw client: EOF after %d body bytes, before any answer" % sent)
            got += d
        except BlockingIOError:
            pass
        except OSError as e:
            check(False, "raw client: %s after %d body bytes, before any answer (got %r)" % (e, sent, got))
    s.close()
    check(got.startswith(b"HTTP/1.1 500"), "raw client: answer %r, want HTTP/1.1 500" % got[:80])
    ok("receiver without its --snap-dir: 3 snapshots of 32 MiB fail with the receiver's 500 in the sender's log "
       "(no reset); a raw client still writing reads %r" % got.split(b"\r\n")[0].decode())
    a.stop0()
    b.stop0()


if __name__ == "__main__":
    main([snapshots, default_snap_dir, stop_mid_snapshot, refused_snapshot])
