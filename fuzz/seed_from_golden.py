#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Seeds a fuzz corpus from the Go golden files: usage TARGET GOLDEN_DIR OUT."""
import os
import struct
import sys

target, golden, out = sys.argv[1:4]


def write(name, data):
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)


if target == "raftpb":
    data = open(os.path.join(golden, "message.stream"), "rb").read()
    pos, i = 0, 0
    while pos + 8 <= len(data) and i < 300:
        (n,) = struct.unpack(">Q", data[pos:pos + 8])
        if n <= 8192:
            write("golden-%d" % i, data[pos + 8:pos + 8 + n])
            i += 1
        pos += 8 + n
else:
    name = "message.stream" if target == "message" else "msgappv2.stream"
    data = open(os.path.join(golden, name), "rb").read()
    for i in range(0, min(len(data), 64 * 4096), 4096):
        write("golden-%d" % i, bytes([i % 251, 7]) + data[i:i + 4096])
