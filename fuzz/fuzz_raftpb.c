/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target: the protobuf decoder.
 * Whatever decodes must re-encode, decode again to an equal message and
 * re-encode to the same bytes (the encoding is canonical). And the decoder's
 * in-order fast path must change nothing: the input behind an unknown field,
 * which sends the whole decode down the general path, decodes to an equal
 * message or fails with the same error, 3 bytes later (Message and Entry).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rafthttp/raftpb.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Field 127, varint 0: skipped by both decoders. */
static const uint8_t UNKNOWN[3] = {0xf8, 0x07, 0x00};

static uint8_t *behind_unknown(const uint8_t *data, size_t size)
{
    uint8_t *p = malloc(size + sizeof(UNKNOWN));
    if (!p)
        abort();
    memcpy(p, UNKNOWN, sizeof(UNKNOWN));
    if (size)
        memcpy(p + sizeof(UNKNOWN), data, size);
    return p;
}

static void same_error(const rh_err *a, const rh_err *b)
{
    if (a->code != b->code || a->offset + sizeof(UNKNOWN) != b->offset ||
        strcmp(a->msg, b->msg) != 0)
        abort();
}

static void general_path_agrees(const uint8_t *data, size_t size, rh_arena *a)
{
    uint8_t *p = behind_unknown(data, size);
    rh_msg m, g;
    rh_err em, eg;
    rh_arena_reset(a);
    int rm = rh_msg_decode(data, size, &m, a, &em);
    rh_arena ga;
    rh_arena_init(&ga, 16u << 20);
    int rg = rh_msg_decode(p, size + sizeof(UNKNOWN), &g, &ga, &eg);
    if ((rm == 0) != (rg == 0) || (rm == 0 && !rh_msg_equal(&m, &g)))
        abort();
    if (rm != 0)
        same_error(&em, &eg);
    rh_arena_free(&ga);
    rh_entry e, ge;
    rm = rh_entry_decode(data, size, &e, &em);
    rg = rh_entry_decode(p, size + sizeof(UNKNOWN), &ge, &eg);
    if ((rm == 0) != (rg == 0))
        abort();
    if (rm == 0 && (e.type != ge.type || e.term != ge.term || e.index != ge.index ||
                    (e.data.data == NULL) != (ge.data.data == NULL) ||
                    e.data.len != ge.data.len ||
                    (e.data.len && memcmp(e.data.data, ge.data.data, e.data.len) != 0)))
        abort();
    if (rm != 0)
        same_error(&em, &eg);
    free(p);
}

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
        general_path_agrees(data, size, &a1);
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
    general_path_agrees(data, size, &a1);
    return 0;
}
