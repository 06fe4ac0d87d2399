#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Runs the benchmark rows interleaved and prints the Markdown table
(bench/run.sh builds the binaries and calls this)."""
import argparse, json, os, platform, statistics, subprocess, sys, time

ROWS = [  # (label, case, size); a label ending in ", TLS" runs with --tls
    ("MsgApp 64 B, msgappv2", "msgappv2", 64),
    ("MsgApp 1 KiB, msgappv2", "msgappv2", 1024),
    ("MsgApp 16 KiB, msgappv2", "msgappv2", 16384),
    ("MsgApp 256 KiB, msgappv2", "msgappv2", 262144),
    ("MsgApp 1 MiB, msgappv2", "msgappv2", 1048576),
    ("MsgProp 64 B, message", "message", 64),
    ("MsgHeartbeat, message", "heartbeat", 0),
    ("heartbeat round trip", "rtt", 0),
    ("MsgApp 256 KiB, msgappv2, TLS", "msgappv2", 262144),
]
PLAIN_OF = {"MsgApp 256 KiB, msgappv2, TLS": "MsgApp 256 KiB, msgappv2"}


def is_tls(label):
    return label.endswith(", TLS")
SIDES = ["c-thread", "c-loop", "go"]
BUSY_POLL_US = 400  # the round trip's extra C side: loop delivery with busy polling
RTT_SIDES = SIDES + ["c-loop-bp"]


def run(cmd, env=None):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       env=env, timeout=300)
    if p.returncode != 0:
        sys.exit("bench: %s exited %d: %s" % (" ".join(cmd), p.returncode, p.stderr.strip()[-500:]))
    try:
        return json.loads(p.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        sys.exit("bench: %s printed no JSON: %r" % (" ".join(cmd), p.stdout[-300:]))


def side_cmd(a, side, case, size, seconds, tls=False):
    """The command of one run; a.send picks the C side's send call, tls
    runs both members on https:// with a.tls_dir's certificates."""
    if side == "go":
        return [a.go_bin, "-case", case, "-size", str(size), "-seconds", str(seconds), "-json"] + (
            ["-tls", a.tls_dir] if tls else [])
    bp = side.endswith("-bp")
    return [a.c_bin, "bench", "--case", case, "--size", str(size), "--seconds", str(seconds),
            "--deliver", side[2:-3] if bp else side[2:], "--send", a.send, "--json"] + (
            ["--tls", a.tls_dir] if tls else []) + (["--busy-poll-us", str(BUSY_POLL_US)] if bp else [])


def med(v):
    return statistics.median(v) if v else float("nan")


def fmt_rate(v):
    m = med(v)
    if m != m:
        return "—"
    def f(x):
        return "%.2fM" % (x / 1e6) if x >= 1e6 else "%.1fk" % (x / 1e3) if x >= 1e4 else "%.0f" % x
    return "%s (%s–%s)" % (f(m), f(min(v)), f(max(v)))


def ratio(x, y):
    return "%.2f" % (x / y) if y and x == x and y == y else "—"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--c-bin", required=True)
    ap.add_argument("--go-bin", required=True)
    ap.add_argument("--raw-bin", required=True)
    ap.add_argument("--shim", required=True)
    ap.add_argument("--results", required=True)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--cases", default="")
    ap.add_argument("--write", action="store_true")
    ap.add_argument("--send", choices=("ref", "copy"), default="ref")
    ap.add_argument("--tls-dir", required=True, help="tests/tls/make-certs.sh's output")
    a = ap.parse_args()
    rows = [r for r in ROWS if not a.cases or r[1] in a.cases.split(",")]
    # a TLS row needs its plain row beside it
    rows = [r for r in rows if not is_tls(r[0]) or any(p[0] == PLAIN_OF[r[0]] for p in rows)]
    res = {}  # (label, side) -> [json]
    raw = {}  # case -> [json]
    started = time.time()
    for rnd in range(a.rounds):
        print("round %d/%d" % (rnd + 1, a.rounds), file=sys.stderr)
        for label, case, size in rows:
            for side in RTT_SIDES if case == "rtt" else SIDES:
                r = run(side_cmd(a, side, case, size, a.seconds, is_tls(label)))
                res.setdefault((label, side), []).append(r)
                print("  %-26s %-8s %10.0f msgs/s  %s dropped" % (label, side, r["msgs_per_sec"],
                      r["dropped"]), file=sys.stderr)
        for rc in ("stream", "small", "pingpong"):
            raw.setdefault(rc, []).append(run([a.raw_bin, "--case", rc, "--seconds", str(a.seconds), "--json"]))
    allocs = {}
    if os.path.exists(a.shim):
        env = dict(os.environ, LD_PRELOAD=os.path.abspath(a.shim))
        for label, case, size in rows:
            for side in ("c-thread", "c-loop") + (("c-loop-bp",) if case == "rtt" else ()):
                allocs[(label, side)] = run(side_cmd(a, side, case, size, min(a.seconds, 1.0),
                                                     is_tls(label)), env)
    elapsed = time.time() - started

    def col(label, side, key):
        return [r[key] for r in res.get((label, side), [])]

    out = []
    cmd = "bench/run.sh --rounds %d --seconds %g%s%s%s" % (
        a.rounds, a.seconds, " --cases " + a.cases if a.cases else "",
        " --send copy" if a.send == "copy" else "", " --write" if a.write else "")
    out.append("# Transport benchmark\n")
    out.append("`%s`: %d interleaved rounds of %g s runs, medians (min–max). "
               "C thread: `process` on the delivery thread (the default); C loop: "
               "`--deliver loop` (RH_DELIVER_ON_LOOP). C sends with %s. Go: etcd 3.4.23's rafthttp "
               "(bench/gorafthttp). raw: one loopback TCP connection (bench/raw).\n" %
               (cmd, a.rounds, a.seconds,
                "`rh_transport_send_ref` (`--send ref`: entry data of 256 B or more "
                "referenced until written, as a Raft log's entries can be; smaller "
                "data copied)" if a.send == "ref" else "`rh_transport_send` (every message copied)"))
    out.append("| case | C thread msgs/s | C loop msgs/s | Go msgs/s | C/Go thread | C/Go loop "
               "| C MB/s thread / loop | raw MB/s | C/raw thread / loop "
               "| CPU s per 1M msgs: C thread / C loop / Go | CPU C/Go thread / loop "
               "| C allocs/msg thread / loop | C bytes/msg thread / loop | Go allocs/msg | drops C / Go |")
    out.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    raw_mb = med([r["mb_per_sec"] for r in raw["stream"]])
    for label, case, size in rows:
        if case == "rtt" or is_tls(label):
            continue
        ct, cl, g = (col(label, s, "msgs_per_sec") for s in SIDES)
        mbt, mbl = med(col(label, "c-thread", "mb_per_sec")), med(col(label, "c-loop", "mb_per_sec"))
        cpt, cpl, cpg = (med(col(label, s, "cpu_sec_per_million")) for s in SIDES)
        big = size >= 16384
        at, al = allocs.get((label, "c-thread")), allocs.get((label, "c-loop"))
        drops_c = sum(col(label, "c-thread", "dropped")) + sum(col(label, "c-loop", "dropped"))
        out.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %d / %d |" % (
            label, fmt_rate(ct), fmt_rate(cl), fmt_rate(g), ratio(med(ct), med(g)),
            ratio(med(cl), med(g)),
            "%.0f / %.0f" % (mbt, mbl) if size else "—",
            "%.0f" % raw_mb if big else "—",
            "%s / %s" % (ratio(mbt, raw_mb), ratio(mbl, raw_mb)) if big else "—",
            "%.3g / %.3g / %.3g" % (cpt, cpl, cpg), "%s / %s" % (ratio(cpt, cpg), ratio(cpl, cpg)),
            "%.2f / %.2f" % (at["allocs_per_msg"], al["allocs_per_msg"]) if at and al else "—",
            "%.0f / %.0f" % (at["alloc_bytes_per_msg"], al["alloc_bytes_per_msg"]) if at and al else "—",
            "%.1f" % med(col(label, "go", "allocs_per_msg")),
            drops_c, sum(col(label, "go", "dropped"))))
    small = raw["small"]
    out.append("\nraw loopback TCP: %s MB/s in 64 KiB writes (min–max %.0f–%.0f); %s 64 B messages/s "
               "batched 1024 to a write.\n" % (
                   "%.0f" % raw_mb, min(r["mb_per_sec"] for r in raw["stream"]),
                   max(r["mb_per_sec"] for r in raw["stream"]), fmt_rate([r["msgs_per_sec"] for r in small])))
    rtt = [r for r in rows if r[1] == "rtt"]
    if rtt:
        label = rtt[0][0]
        out.append("| round trip (MsgHeartbeat → MsgHeartbeatResp) | p50 µs | p99 µs | p50 / Go | p99 / Go "
                   "| allocs/msg |")
        out.append("|---|---:|---:|---:|---:|---:|")
        gp50, gp99 = med(col(label, "go", "p50_us")), med(col(label, "go", "p99_us"))
        for side, name in (("c-thread", "C thread"), ("c-loop", "C loop"),
                           ("c-loop-bp", "C loop, busy poll %d µs" % BUSY_POLL_US),
                           ("go", "Go rafthttp")):
            p50, p99 = col(label, side, "p50_us"), col(label, side, "p99_us")
            al = allocs.get((label, side))
            alv = "%.2f" % al["allocs_per_msg"] if al else "%.1f" % med(col(label, side, "allocs_per_msg"))
            out.append("| %s | %.1f (%.1f–%.1f) | %.1f (%.1f–%.1f) | %s | %s | %s |" % (
                name, med(p50), min(p50), max(p50), med(p99), min(p99), max(p99),
                ratio(med(p50), gp50), ratio(med(p99), gp99), alv))
        pp = raw["pingpong"]
        p50, p99 = [r["p50_us"] for r in pp], [r["p99_us"] for r in pp]
        out.append("| raw TCP 8-byte ping-pong | %.1f (%.1f–%.1f) | %.1f (%.1f–%.1f) | %s | %s | — |" % (
            med(p50), min(p50), max(p50), med(p99), min(p99), max(p99),
            ratio(med(p50), gp50), ratio(med(p99), gp99)))
    tls_rows = [r for r in rows if is_tls(r[0])]
    if tls_rows:
        out.append("\nOver TLS (both members on https://, mutual TLS, tests/tls/make-certs.sh's "
                   "EC P-256 certificates; TLS 1.3 as each side negotiates), beside the plain row "
                   "of the same run:\n")
        out.append("| case | C thread MB/s | C loop MB/s | Go MB/s | C/Go thread / loop "
                   "| TLS/plain C thread / loop | TLS/plain Go "
                   "| CPU s per 1M msgs: C thread / C loop / Go | drops C / Go |")
        out.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        for label, case, size in tls_rows:
            plain = PLAIN_OF[label]
            mb = {s_: col(label, s_, "mb_per_sec") for s_ in SIDES}
            pm = {s_: med(col(plain, s_, "mb_per_sec")) for s_ in SIDES}
            cp = [med(col(label, s_, "cpu_sec_per_million")) for s_ in SIDES]
            drops_c = sum(col(label, "c-thread", "dropped")) + sum(col(label, "c-loop", "dropped"))
            out.append("| %s | %s | %s | %s | %s / %s | %s / %s | %s | %.3g / %.3g / %.3g | %d / %d |" % (
                label, fmt_rate(mb["c-thread"]), fmt_rate(mb["c-loop"]), fmt_rate(mb["go"]),
                ratio(med(mb["c-thread"]), med(mb["go"])), ratio(med(mb["c-loop"]), med(mb["go"])),
                ratio(med(mb["c-thread"]), pm["c-thread"]), ratio(med(mb["c-loop"]), pm["c-loop"]),
                ratio(med(mb["go"]), pm["go"]), cp[0], cp[1], cp[2],
                drops_c, sum(col(label, "go", "dropped"))))
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    out.append("\nMachine: %s, %d cores, Linux %s; %s; the run took %.0f s.\n" % (
        cpu, os.cpu_count(), platform.release(), time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), elapsed))
    text = "\n".join(out) + "\n"
    sys.stdout.write(text)
    if a.write:
        with open(a.results, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
