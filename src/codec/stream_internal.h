/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Stream encoder internals shared by stream_codec.c and scatter.c.
 *
 * rh_stream_encode and rh_stream_scatter must pick the same msgappv2 frame
 * for a message and advance (term, index) the same way afterwards, or the
 * peer's decoder infers the wrong MsgApp from an AppEntries frame. Both go
 * through these two functions, so the rule lives in one place.
 *
 * The transport's stream writer also uses the *_known pair below: it works a
 * message's size out once, when the message is queued, and hands it in
 * rather than have every call walk the message again.
 */
#ifndef RH_STREAM_INTERNAL_H
#define RH_STREAM_INTERNAL_H

#include "rafthttp/stream_codec.h"

/* The frame rh_stream_encode writes for a message. */
enum rh_stream_frame {
    RH_FRAME_MESSAGE,         /* message stream: be64 length + Message */
    RH_FRAME_V2_HEARTBEAT,    /* msgappv2: type byte 0 */
    RH_FRAME_V2_APP_ENTRIES,  /* msgappv2: type 1, count, entries, commit */
    RH_FRAME_V2_MSG_APP,      /* msgappv2: type 2, be64 length + Message */
};

/* Which frame m gets in e's current state (etcd's msgAppV2Encoder rule). */
enum rh_stream_frame rh_stream_frame_pick(const rh_stream_encoder *e, const rh_msg *m);
/* The state change after writing frame f for m. */
void rh_stream_encoder_advance(rh_stream_encoder *e, const rh_msg *m,
                               enum rh_stream_frame f);

/* rh_stream_frame_size and rh_stream_encode for a message whose encoded size
 * the caller knows: msg_size must equal rh_msg_size(m). */
size_t rhi_stream_frame_size_known(const rh_stream_encoder *e, const rh_msg *m,
                                   size_t msg_size);
size_t rhi_stream_encode_known(rh_stream_encoder *e, const rh_msg *m, size_t msg_size,
                               uint8_t *out);

#endif
