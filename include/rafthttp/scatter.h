/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Scatter encoding of stream frames: the frame rh_stream_encode would write,
 * as a list of pieces instead of one buffer, with large bytes fields (entry
 * data, Message.context, snapshot data) referenced where they are instead of
 * copied. This is what the stream writer hands to the connection's output
 * buffer: scratch pieces with evbuffer_add, referenced pieces with
 * evbuffer_add_reference (or the whole list to writev).
 *
 *   rh_iov iov[...]; uint8_t scratch[...];       sized by the two *_size calls
 *   size_t n, len = rh_stream_scatter(&enc, m, scratch, iov, &n);
 *   concatenating iov[0..n) gives exactly the bytes rh_stream_encode writes,
 *   and enc has advanced exactly as rh_stream_encode advances it.
 *
 * Pieces are of two kinds:
 *  - scratch pieces: everything that is not a referenced bytes field (tags,
 *    varints, frame headers, small bytes fields), written contiguously into
 *    the caller's scratch buffer; consecutive header bytes make one piece;
 *  - referenced pieces: a bytes field of at least RH_SCATTER_REF_MIN bytes,
 *    base pointing into the message's own memory (field.data), never copied.
 * A referenced piece always follows a scratch piece (its tag and length), so
 * a frame with r referenced fields has at most 2r + 1 pieces.
 *
 * Pieces are valid while the scratch buffer and the message's bytes are
 * unchanged: the caller keeps the message's memory alive until the
 * referenced pieces have been written (evbuffer_add_reference's cleanup
 * callback is the natural place to release it).
 *
 * Nothing here allocates.
 */
#ifndef RAFTHTTP_SCATTER_H
#define RAFTHTTP_SCATTER_H

#include "rafthttp/api.h"

#include <stddef.h>
#include <stdint.h>

#include "rafthttp/raftpb.h"
#include "rafthttp/stream_codec.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Bytes fields of at least this many bytes are referenced, shorter ones are
 * copied into scratch. Below a few hundred bytes a reference costs more than
 * the copy it saves: copying 256 B is a handful of cache-resident vector
 * moves (~10 ns), while each extra piece costs an iovec slot (writev takes at
 * most IOV_MAX = 1024, and the kernel walks each segment) and, with
 * libevent, an evbuffer chain allocated per evbuffer_add_reference. Small
 * fields also sit between varints that have to be written to scratch
 * anyway, so copying them keeps the headers in one piece.
 */
#define RH_SCATTER_REF_MIN 256u

/*
 * One piece of a frame. Not struct iovec on purpose: iov_base is a mutable
 * void *, and these pieces point into const message memory, so using iovec
 * would mean casting const away in the codec; the codec headers also stay
 * free of POSIX <sys/uio.h>. libevent takes a piece at a time
 * (evbuffer_add / evbuffer_add_reference take pointer + length), and a
 * writev caller fills its iovec array in one loop.
 */
typedef struct rh_iov {
    const uint8_t *base;
    size_t len;
} rh_iov;

/* Scratch bytes rh_stream_scatter will write for m in e's current state
 * (the frame size minus the referenced bytes). */
RH_API size_t rh_stream_scatter_scratch_size(const rh_stream_encoder *e, const rh_msg *m);
/* Most pieces rh_stream_scatter will produce for m in e's current state
 * (2 x referenced fields + 1; the actual count is returned by it). */
RH_API size_t rh_stream_scatter_max_iov(const rh_stream_encoder *e, const rh_msg *m);
/* Both in one walk of the message; returns the frame size
 * (rh_stream_frame_size). Either out pointer may be NULL. */
RH_API size_t rh_stream_scatter_size(const rh_stream_encoder *e, const rh_msg *m,
                              size_t *scratch_size, size_t *max_iov);

/*
 * Encodes m's frame as pieces: writes header bytes into scratch (at least
 * rh_stream_scatter_scratch_size bytes), the pieces into iov (room for at
 * least rh_stream_scatter_max_iov), their count into *n_iov, and advances e
 * as rh_stream_encode does. Returns the frame size (the sum of the piece
 * lengths, == rh_stream_frame_size before the call). Both sizes must be
 * taken in the encoder state this call starts from.
 */
RH_API size_t rh_stream_scatter(rh_stream_encoder *e, const rh_msg *m, uint8_t *scratch,
                         rh_iov *iov, size_t *n_iov);

#ifdef __cplusplus
}
#endif
#endif
