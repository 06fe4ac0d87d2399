/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Message helpers the codec's decoders share (internal to src/codec).
 *
 * raftpb.c decodes a Message; stream_codec.c builds one from a msgappv2
 * AppEntries frame or a link heartbeat. Both start from a zeroed message,
 * and the AppEntries path knows its size without walking it.
 */
#ifndef RH_MSG_INTERNAL_H
#define RH_MSG_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "rafthttp/raftpb.h"

/* Zeroes a message with plain vector stores: memset of its 240 bytes compiles
 * to `rep stos`, whose start-up cost was a quarter of decoding a heartbeat
 * and half of building a message from an AppEntries frame. */
static inline void rhi_msg_zero(rh_msg *m)
{
    typedef struct {
        uint64_t w[4];
    } zero32;
    char *p = (char *)m;
    size_t i = 0;
    for (; i + sizeof(zero32) <= sizeof(*m); i += sizeof(zero32)) {
        zero32 z = {{0}};
        memcpy(p + i, &z, sizeof(z));
    }
    memset(p + i, 0, sizeof(*m) - i);
}

/* rh_msg_size(m) for a message with an empty snapshot and no context, vote
 * or responses, whose entries take entries_bytes encoded (each one's tag,
 * length and body), without walking them again. */
size_t rhi_msg_size_bare(const rh_msg *m, size_t entries_bytes);

#endif
