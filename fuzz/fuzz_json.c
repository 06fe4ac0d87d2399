/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target: JSON text in, as `rafthttp node` and `encode` read it (and as
 * the prober reads a peer's /raft/probing answer): the parser must accept or
 * refuse with an offset inside the input; what reads as a message, written
 * back in the docs/json.md form, must read again to the same message (strict
 * mode keeps present-but-empty bytes apart from absent ones), and its
 * protobuf encoding must decode to it too.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json/json.h"
#include "json/msg_json.h"
#include "rafthttp/raftpb.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static rh_json_parser jp, jp2;
    static int ready;
    if (!ready) {
        rh_json_parser_init(&jp, 0, 0);
        rh_json_parser_init(&jp2, 0, 0);
        ready = 1;
    }
    const rh_json *root;
    rh_err err;
    if (rh_json_parse(&jp, (const char *)data, size, &root, &err) != 0) {
        if (err.offset > size)
            abort();
        return 0;
    }
    rh_arena a, a2, a3;
    rh_arena_init(&a, 0);
    rh_arena_init(&a2, 0);
    rh_arena_init(&a3, 0);
    rh_msg m, back, pb;
    for (unsigned flags = 0; flags <= RH_MSGJSON_STRICT; flags++) {
        rh_arena_reset(&a);
        rh_arena_reset(&a2);
        rh_arena_reset(&a3);
        if (rh_json_to_msg(root, flags, &a, &m, &err) != 0)
            continue;
        rh_buf b;
        rh_buf_init(&b);
        rh_json_put_msg(&b, &m);
        if (b.failed) {
            rh_buf_free(&b);
            continue;
        }
        const rh_json *again;
        if (rh_json_parse(&jp2, b.data, b.len, &again, &err) != 0 ||
            rh_json_to_msg(again, RH_MSGJSON_STRICT, &a2, &back, &err) != 0)
            abort(); /* our own output must read back */
        rh_buf_free(&b);
        if (flags == RH_MSGJSON_STRICT && !rh_msg_equal(&m, &back))
            abort();
        size_t n = rh_msg_size(&m);
        uint8_t *buf = malloc(n ? n : 1);
        if (!buf)
            abort();
        rh_msg_encode(&m, buf);
        if (rh_msg_decode(buf, n, &pb, &a3, &err) != 0 || !rh_msg_equal(&m, &pb))
            abort();
        free(buf);
    }
    rh_arena_free(&a);
    rh_arena_free(&a2);
    rh_arena_free(&a3);
    return 0;
}
