/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target: the protobuf decoder.
 * Whatever decodes must re-encode, decode again to an equal message and
 * re-encode to the same bytes (the encoding is canonical).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rafthttp/raftpb.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static rh_arena a1, a2;
    static int init;
    if (!init) {
        rh_arena_init(&a1, 16u << 20);
        rh_arena_init(&a2, 16u << 20);
        init = 1;
    }
    rh_arena_reset(&a1);
    rh_arena_reset(&a2);
    rh_msg m, m2;
    rh_err err;
    if (rh_msg_decode(data, size, &m, &a1, &err) != 0) {
        if (err.code == 0 || err.msg[0] == 0 || err.offset > size)
            abort(); /* every error says what and where */
        return 0;
    }
    size_t n = rh_msg_size(&m);
    uint8_t *buf = malloc(n ? n : 1);
    if (rh_msg_encode(&m, buf) != n)
        abort();
    if (rh_msg_decode(buf, n, &m2, &a2, &err) != 0 || !rh_msg_equal(&m, &m2))
        abort();
    uint8_t *buf2 = malloc(n ? n : 1);
    if (rh_msg_size(&m2) != n || rh_msg_encode(&m2, buf2) != n ||
        memcmp(buf, buf2, n) != 0)
        abort();
    rh_msg *c = rh_msg_clone(&m);
    if (!c || !rh_msg_equal(c, &m))
        abort();
    rh_msg_free(c);
    free(buf);
    free(buf2);
    return 0;
}
