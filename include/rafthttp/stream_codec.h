/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The two framings etcd's stream channel carries.
 *
 *  message   : 8-byte big-endian length, then a protobuf raftpb.Message.
 *  msgappv2  : a type byte, then
 *              0 link heartbeat (nothing more),
 *              1 AppEntries: u64 count, count x (u64 size, Entry), u64 commit,
 *                a MsgApp whose term/logTerm/index the decoder infers from
 *                the previous frames,
 *              2 MsgApp: u64 size, then a protobuf raftpb.Message;
 *              all integers big-endian.
 *
 * Encoders write a whole frame into a caller buffer sized by *_size(). The
 * msgappv2 encoder and decoder track (term, index) exactly as etcd's
 * msgAppV2Encoder/Decoder do, so both sides agree on what AppEntries means.
 *
 * The decoder is an incremental state machine: feed it bytes split anywhere.
 * A frame that arrives whole inside one feed is decoded in place (entry data
 * points into the caller's input); a frame split across feeds is gathered in
 * the decoder's own buffer, which grows only as bytes actually arrive and
 * never past max_frame. The decoder owns that buffer and its arena; the
 * caller owns the decoder.
 */
#ifndef RAFTHTTP_STREAM_CODEC_H
#define RAFTHTTP_STREAM_CODEC_H

#include "rafthttp/api.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rafthttp/error.h"
#include "rafthttp/raftpb.h"

#ifdef __cplusplus
extern "C" {
#endif

enum rh_stream_kind {
    RH_STREAM_MESSAGE = 0,  /* /raft/stream/message */
    RH_STREAM_MSGAPPV2 = 1, /* /raft/stream/msgapp  */
};

/* etcd's readBytesLimit: the largest frame a message decoder accepts. */
#define RH_STREAM_DEFAULT_MAX_FRAME (512u * 1024u * 1024u)

/* msgappv2 frame type bytes. */
enum {
    RH_APPV2_LINK_HEARTBEAT = 0,
    RH_APPV2_APP_ENTRIES = 1,
    RH_APPV2_MSG_APP = 2,
};

/* "message" or "msgappv2" (the names etcd logs), NULL if out of range. */
RH_API const char *rh_stream_kind_name(int kind);

/* ---- encoders --------------------------------------------------------- */

typedef struct rh_stream_encoder {
    int kind;       /* rh_stream_kind */
    uint64_t term;  /* msgappv2: term of the last full MsgApp frame */
    uint64_t index; /* msgappv2: index of the last entry sent */
} rh_stream_encoder;

RH_API void rh_stream_encoder_init(rh_stream_encoder *e, int kind);
/* Bytes the frame for m will take given the encoder's current state. */
RH_API size_t rh_stream_frame_size(const rh_stream_encoder *e, const rh_msg *m);
/* Writes the frame (exactly rh_stream_frame_size bytes) and advances the
 * encoder state. Returns the bytes written. */
RH_API size_t rh_stream_encode(rh_stream_encoder *e, const rh_msg *m, uint8_t *out);

/* ---- decoder ---------------------------------------------------------- */

typedef struct rh_stream_decoder_opts {
    int kind;           /* rh_stream_kind */
    uint64_t local;     /* msgappv2: To of inferred MsgApps (our ID) */
    uint64_t remote;    /* msgappv2: From of inferred MsgApps (peer's ID) */
    uint64_t max_frame; /* 0: RH_STREAM_DEFAULT_MAX_FRAME */
    size_t arena_limit; /* 0: RH_ARENA_DEFAULT_LIMIT */
} rh_stream_decoder_opts;

typedef struct rh_stream_decoder rh_stream_decoder;

RH_API rh_stream_decoder *rh_stream_decoder_new(const rh_stream_decoder_opts *o);
RH_API void rh_stream_decoder_free(rh_stream_decoder *d);

/*
 * Feeds in[0..len). Returns
 *   1  a frame completed: *consumed bytes of in were used, *out holds its
 *      message (a link heartbeat is reported as one: rh_msg_is_link_heartbeat),
 *      valid until the next call on this decoder and while in is unchanged;
 *   0  all len bytes consumed (*consumed == len), no frame completed yet;
 *  <0  an error; *err gets err->offset = the stream offset of the first byte
 *      of the frame that failed. The decoder stays failed afterwards.
 */
RH_API int rh_stream_decoder_feed(rh_stream_decoder *d, const uint8_t *in, size_t len,
                           size_t *consumed, rh_msg *out, rh_err *err);

/* Total bytes consumed so far (the stream offset of the next byte). */
RH_API uint64_t rh_stream_decoder_offset(const rh_stream_decoder *d);
/* Stream offset where the frame in progress (or the next one) starts. */
RH_API uint64_t rh_stream_decoder_frame_offset(const rh_stream_decoder *d);
/* Bytes the frame in progress certainly still needs before it can complete
 * (the rest of the piece being read: a length, an entry or a message body);
 * 0 at a frame boundary. A reader may wait for that much before feeding. */
RH_API uint64_t rh_stream_decoder_missing(const rh_stream_decoder *d);
/* True at a frame boundary: an end of input here is a clean end. */
RH_API bool rh_stream_decoder_at_boundary(const rh_stream_decoder *d);

/*
 * Zero-copy input for large frames. Inside the body of a frame that spans
 * feeds, rh_stream_decoder_reserve returns where the next body bytes go
 * (*dst) and how many may go there, at most max (0: nothing to reserve,
 * use feed). The caller writes n of them there (a recv straight into the
 * decoder's buffer) and calls rh_stream_decoder_commit(d, n, ...), which
 * returns as feed does: 1 with *out when the frame is complete. The buffer
 * (here and in feed) grows at most to twice what has arrived plus 1 MiB,
 * so an announced length costs little until its bytes come.
 */
/* The protobuf size of the message the last 1 returned, as the frame
 * carried it (rh_msg_size of it, for a canonical encoder such as etcd's,
 * without walking it again); for a msgappv2 AppEntries frame, the size of
 * the MsgApp it stands for, with its entries as the frame carried them; 0
 * for a msgappv2 link heartbeat. */
RH_API uint64_t rh_stream_decoder_msg_size(const rh_stream_decoder *d);
RH_API size_t rh_stream_decoder_reserve(rh_stream_decoder *d, size_t max, uint8_t **dst);
RH_API int rh_stream_decoder_commit(rh_stream_decoder *d, size_t n, rh_msg *out, rh_err *err);
/* After a 1 from feed or commit whose frame was gathered (it spanned
 * feeds): hands over the buffer its bytes fields point into, a malloc'd
 * block the caller frees with free(); the decoder starts a new one. NULL
 * when the last message was parsed in the caller's input. */
RH_API void *rh_stream_decoder_take_buffer(rh_stream_decoder *d);

#ifdef __cplusplus
}
#endif
#endif
