/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Protobuf wire primitives shared by the raftpb codec (internal).
 *
 * Varints follow Go's gogoproto reader exactly: at most 10 bytes, bits past
 * the 64th silently dropped, an 11th byte is an overflow error.
 */
#ifndef RH_PB_WIRE_H
#define RH_PB_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "rafthttp/error.h"

enum {
    PB_WT_VARINT = 0,
    PB_WT_FIXED64 = 1,
    PB_WT_BYTES = 2,
    PB_WT_SGROUP = 3,
    PB_WT_EGROUP = 4,
    PB_WT_FIXED32 = 5,
};

/* Bytes of v as a varint: 7 bits a byte, from its highest set bit, without
 * a loop (sizes are worked out for every message sent and received). */
static inline size_t pb_varint_size(uint64_t v)
{
    unsigned bits = 64u - (unsigned)__builtin_clzll(v | 1); /* 1..64 */
    return (bits * 9u + 64u) / 64u;
}

/* Bytes of a length-delimited field (tag, length, body) whose body is n
 * bytes. */
static inline size_t pb_sub_field_size(size_t n)
{
    return 1 + pb_varint_size(n) + n;
}

static inline uint8_t *pb_put_varint(uint8_t *p, uint64_t v)
{
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    return p;
}

/* Reads a varint at buf[*pos]; advances *pos. 0, RH_ETRUNC or RH_EVARINT.
 * Always inlined: the decoder's fast path keeps its cursor in registers only
 * when this is part of it. */
static inline __attribute__((always_inline)) int pb_get_varint(const uint8_t *buf, size_t len,
                                                               size_t *pos, uint64_t *out)
{
    uint64_t v = 0;
    size_t p = *pos;
    if (p < len && buf[p] < 0x80) { /* one-byte fast path */
        *out = buf[p];
        *pos = p + 1;
        return 0;
    }
    for (unsigned shift = 0;; shift += 7) {
        if (shift >= 64)
            return RH_EVARINT;
        if (p >= len)
            return RH_ETRUNC;
        uint8_t b = buf[p++];
        v |= (uint64_t)(b & 0x7f) << shift;
        if (b < 0x80)
            break;
    }
    *pos = p;
    *out = v;
    return 0;
}

static inline void pb_put_be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

static inline uint64_t pb_get_be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

#endif
