/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target: a stream decoder (FUZZ_KIND). The input is fed three times:
 * whole; in pieces whose sizes come from the input itself; and in such
 * pieces written straight into the decoder's buffer whenever it offers room
 * (reserve/commit), taking the buffer of every gathered message. All runs
 * must give the same messages and the same error at the same offset.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rafthttp/stream_codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_MSGS 64

typedef struct run {
    rh_msg *msgs[MAX_MSGS];
    size_t n;
    int rc;
    uint64_t err_offset;
} run;

/* Feeds what the decoder will take by reserve/commit from piece[*off..n);
 * returns feed's kind of result, or 2 when it took nothing. */
static int direct(rh_stream_decoder *d, const uint8_t *piece, size_t n, size_t *off,
                  rh_msg *m, rh_err *err)
{
    uint8_t *dst;
    size_t room = rh_stream_decoder_reserve(d, n - *off, &dst);
    if (!room)
        return 2;
    if (room > n - *off)
        abort();
    memcpy(dst, piece + *off, room);
    *off += room;
    return rh_stream_decoder_commit(d, room, m, err);
}

static void decode(const uint8_t *data, size_t size, uint32_t seed, bool use_direct, run *r)
{
    rh_stream_decoder_opts o = {.kind = FUZZ_KIND, .local = 2, .remote = 1,
                                .max_frame = 1u << 20, .arena_limit = 4u << 20};
    rh_stream_decoder *d = rh_stream_decoder_new(&o);
    size_t pos = 0;
    r->n = 0;
    r->rc = 0;
    r->err_offset = 0;
    while (pos < size && r->rc >= 0) {
        size_t chunk = size - pos;
        if (seed) {
            seed = seed * 1103515245u + 12345u;
            size_t c = 1 + (seed >> 16) % 17;
            if (c < chunk)
                chunk = c;
        }
        uint8_t *piece = malloc(chunk); /* exact size: ASan sees overreads */
        memcpy(piece, data + pos, chunk);
        size_t off = 0;
        while (off < chunk) {
            size_t used = 0;
            rh_msg m;
            rh_err err;
            int rc = use_direct ? direct(d, piece, chunk, &off, &m, &err) : 2;
            if (rc == 2) {
                rc = rh_stream_decoder_feed(d, piece + off, chunk - off, &used, &m, &err);
                off += used;
            }
            if (rc < 0) {
                r->rc = rc;
                r->err_offset = err.offset;
                if (err.offset > pos + off || err.msg[0] == 0)
                    abort();
                break;
            }
            if (rc == 1 && r->n < MAX_MSGS)
                r->msgs[r->n++] = rh_msg_clone(&m);
            if (rc == 1 && use_direct)
                free(rh_stream_decoder_take_buffer(d));
        }
        free(piece);
        pos += chunk;
    }
    rh_stream_decoder_free(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    uint32_t seed = (uint32_t)data[0] << 8 | data[1] | 1u;
    run whole, split, dir;
    decode(data + 2, size - 2, 0, false, &whole);
    decode(data + 2, size - 2, seed, false, &split);
    decode(data + 2, size - 2, seed, true, &dir);
    if (whole.rc != split.rc || whole.n != split.n ||
        (whole.rc < 0 && whole.err_offset != split.err_offset))
        abort();
    if (whole.rc != dir.rc || whole.n != dir.n ||
        (whole.rc < 0 && whole.err_offset != dir.err_offset))
        abort();
    for (size_t i = 0; i < whole.n; i++) {
        if (!rh_msg_equal(whole.msgs[i], split.msgs[i]) ||
            !rh_msg_equal(whole.msgs[i], dir.msgs[i]))
            abort();
        rh_msg_free(whole.msgs[i]);
        rh_msg_free(split.msgs[i]);
        rh_msg_free(dir.msgs[i]);
    }
    return 0;
}
