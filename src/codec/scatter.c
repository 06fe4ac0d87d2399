/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Scatter encoding of stream frames (see rafthttp/scatter.h).
 *
 * The walk mirrors rh_msg_encode field for field (etcd 3.4 gogoproto order),
 * but writes through a cursor that can break the output: a bytes field of
 * RH_SCATTER_REF_MIN bytes or more ends the scratch piece in progress right
 * after its tag and length, becomes a piece of its own pointing at the
 * field's data, and the next scratch piece starts where the last one ended.
 * Scratch therefore holds exactly the frame minus the referenced bytes, in
 * order, which is what rh_stream_scatter_size reports.
 *
 * The frame choice and the msgappv2 state change come from stream_codec.c
 * (rh_stream_frame_pick, rh_stream_encoder_advance), so this file cannot
 * disagree with rh_stream_encode about AppEntries. Lengths come from the
 * raftpb size functions, and sub-messages that hold no bytes fields
 * (snapshot metadata) are written by the raftpb encoder itself; only the
 * field order of Message, Entry and Snapshot is restated here.
 */
#include <string.h>

#include "codec/pb_wire.h"
#include "codec/stream_internal.h"
#include "rafthttp/scatter.h"

_Static_assert(RH_SCATTER_REF_MIN > 0, "a referenced piece must not be empty");

/* The piece list. The scratch write position is not kept here but passed
 * around as a local pointer, as rh_msg_encode does: stores through a
 * uint8_t * may alias anything, so a cursor kept in memory would be
 * reloaded after every byte written. */
typedef struct scatter_out {
    uint8_t *start;   /* first byte of the scratch piece in progress */
    rh_iov *iov;      /* pieces so far */
    size_t n;         /* their count */
    size_t ref_bytes; /* bytes in referenced pieces */
} scatter_out;

static inline bool is_ref(const rh_bytes *b)
{
    return b->data && b->len >= RH_SCATTER_REF_MIN;
}

static inline uint8_t *put_varint_field(uint8_t *p, uint8_t tag, uint64_t v)
{
    *p++ = tag;
    return pb_put_varint(p, v);
}

/* Go widens an int32 enum to uint64 with sign extension. */
static inline uint64_t enum_wire(int32_t v)
{
    return (uint64_t)(int64_t)v;
}

/* Closes the scratch piece in progress at p (never empty here: it ends with
 * the field's tag and length) and adds data as a referenced piece; the next
 * scratch piece starts at p. */
static void add_ref(scatter_out *w, uint8_t *p, const uint8_t *data, size_t len)
{
    w->iov[w->n++] = (rh_iov){w->start, (size_t)(p - w->start)};
    w->iov[w->n++] = (rh_iov){data, len};
    w->ref_bytes += len;
    w->start = p;
}

/* A bytes field: omitted when absent, referenced when large, else copied. */
static inline uint8_t *put_bytes_field(scatter_out *w, uint8_t *p, uint8_t tag,
                                       const rh_bytes *b)
{
    if (!b->data)
        return p;
    *p++ = tag;
    p = pb_put_varint(p, b->len);
    if (b->len >= RH_SCATTER_REF_MIN) {
        add_ref(w, p, b->data, b->len);
        return p;
    }
    if (b->len)
        memcpy(p, b->data, b->len);
    return p + b->len;
}

static inline __attribute__((always_inline)) uint8_t *put_entry(scatter_out *w, uint8_t *p,
                                                                const rh_entry *e)
{
    p = put_varint_field(p, 0x08, enum_wire(e->type));
    p = put_varint_field(p, 0x10, e->term);
    p = put_varint_field(p, 0x18, e->index);
    return put_bytes_field(w, p, 0x22, &e->data); /* field 4, the last one */
}

/* The 12 bytes etcd 3.4 writes for an empty Snapshot (field 9). Only a
 * shortcut: the general path below writes the same bytes for it. */
static const uint8_t empty_snap_field[12] = {0x4a, 0x0a, 0x12, 0x08, 0x0a, 0x02,
                                             0x28, 0x00, 0x10, 0x00, 0x18, 0x00};

static inline bool snapshot_is_empty(const rh_snapshot *s)
{
    const rh_conf_state *c = &s->metadata.conf_state;
    return !s->data.data && !s->metadata.index && !s->metadata.term &&
           !(c->n_voters | c->n_learners | c->n_voters_outgoing | c->n_learners_next) &&
           !c->auto_leave;
}

static uint8_t *put_snapshot_field(scatter_out *w, uint8_t *p, const rh_snapshot *s)
{
    p = put_varint_field(p, 0x4a, rh_snapshot_size(s));
    if (!is_ref(&s->data))
        return p + rh_snapshot_encode(s, p);
    p = put_bytes_field(w, p, 0x0a, &s->data); /* field 1 */
    /* field 2, metadata: what the raftpb encoder writes without the data */
    rh_snapshot meta_only = *s;
    meta_only.data.data = NULL;
    meta_only.data.len = 0;
    return p + rh_snapshot_encode(&meta_only, p);
}

static uint8_t *put_msg(scatter_out *w, uint8_t *p, const rh_msg *m)
{
    p = put_varint_field(p, 0x08, enum_wire(m->type));
    p = put_varint_field(p, 0x10, m->to);
    p = put_varint_field(p, 0x18, m->from);
    p = put_varint_field(p, 0x20, m->term);
    p = put_varint_field(p, 0x28, m->log_term);
    p = put_varint_field(p, 0x30, m->index);
    for (size_t i = 0; i < m->n_entries; i++) {
        const rh_entry *e = &m->entries[i];
        p = put_varint_field(p, 0x3a, rh_entry_size(e));
        p = put_entry(w, p, e);
    }
    p = put_varint_field(p, 0x40, m->commit);
    if (snapshot_is_empty(&m->snapshot)) {
        memcpy(p, empty_snap_field, sizeof(empty_snap_field));
        p += sizeof(empty_snap_field);
    } else {
        p = put_snapshot_field(w, p, &m->snapshot);
    }
    *p++ = 0x50;
    *p++ = m->reject ? 1 : 0;
    p = put_varint_field(p, 0x58, m->reject_hint);
    p = put_bytes_field(w, p, 0x62, &m->context);
    if (m->has_vote)
        p = put_varint_field(p, 0x68, m->vote);
    for (size_t i = 0; i < m->n_responses; i++) {
        p = put_varint_field(p, 0x72, rh_msg_size(&m->responses[i]));
        p = put_msg(w, p, &m->responses[i]);
    }
    return p;
}

/* ---- sizes ---------------------------------------------------------------- */

typedef struct ref_count {
    size_t bytes; /* referenced bytes */
    size_t n;     /* referenced fields */
} ref_count;

static inline void count_bytes(ref_count *r, const rh_bytes *b)
{
    if (is_ref(b)) {
        r->bytes += b->len;
        r->n++;
    }
}

static void count_entries(ref_count *r, const rh_entry *ents, size_t n)
{
    for (size_t i = 0; i < n; i++)
        count_bytes(r, &ents[i].data);
}

static void count_msg(ref_count *r, const rh_msg *m)
{
    count_entries(r, m->entries, m->n_entries);
    count_bytes(r, &m->snapshot.data);
    count_bytes(r, &m->context);
    for (size_t i = 0; i < m->n_responses; i++)
        count_msg(r, &m->responses[i]);
}

size_t rh_stream_scatter_size(const rh_stream_encoder *e, const rh_msg *m,
                              size_t *scratch_size, size_t *max_iov)
{
    ref_count r = {0, 0};
    switch (rh_stream_frame_pick(e, m)) {
    case RH_FRAME_MESSAGE:
    case RH_FRAME_V2_MSG_APP:
        count_msg(&r, m);
        break;
    case RH_FRAME_V2_APP_ENTRIES: /* entries and commit only */
        count_entries(&r, m->entries, m->n_entries);
        break;
    case RH_FRAME_V2_HEARTBEAT:
        break;
    }
    size_t frame = rh_stream_frame_size(e, m);
    if (scratch_size)
        *scratch_size = frame - r.bytes;
    if (max_iov)
        *max_iov = 2 * r.n + 1;
    return frame;
}

size_t rh_stream_scatter_scratch_size(const rh_stream_encoder *e, const rh_msg *m)
{
    size_t s;
    rh_stream_scatter_size(e, m, &s, NULL);
    return s;
}

size_t rh_stream_scatter_max_iov(const rh_stream_encoder *e, const rh_msg *m)
{
    size_t n;
    rh_stream_scatter_size(e, m, NULL, &n);
    return n;
}

/* ---- frames ----------------------------------------------------------------- */

size_t rh_stream_scatter(rh_stream_encoder *e, const rh_msg *m, uint8_t *scratch,
                         rh_iov *iov, size_t *n_iov)
{
    scatter_out w = {scratch, iov, 0, 0};
    uint8_t *p = scratch;
    enum rh_stream_frame f = rh_stream_frame_pick(e, m);
    switch (f) {
    case RH_FRAME_MESSAGE:
        pb_put_be64(p, rh_msg_size(m));
        p = put_msg(&w, p + 8, m);
        break;
    case RH_FRAME_V2_HEARTBEAT:
        *p++ = RH_APPV2_LINK_HEARTBEAT;
        break;
    case RH_FRAME_V2_APP_ENTRIES:
        *p++ = RH_APPV2_APP_ENTRIES;
        pb_put_be64(p, m->n_entries);
        p += 8;
        for (size_t i = 0; i < m->n_entries; i++) {
            pb_put_be64(p, rh_entry_size(&m->entries[i]));
            p = put_entry(&w, p + 8, &m->entries[i]);
        }
        pb_put_be64(p, m->commit);
        p += 8;
        break;
    case RH_FRAME_V2_MSG_APP:
        *p++ = RH_APPV2_MSG_APP;
        pb_put_be64(p, rh_msg_size(m));
        p = put_msg(&w, p + 8, m);
        break;
    }
    if (p != w.start)
        w.iov[w.n++] = (rh_iov){w.start, (size_t)(p - w.start)};
    rh_stream_encoder_advance(e, m, f);
    *n_iov = w.n;
    return (size_t)(p - scratch) + w.ref_bytes;
}
