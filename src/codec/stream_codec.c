/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Stream framings: `message` and `msgappv2`, encoder and incremental decoder.
 *
 * The decoder walks a frame as a sequence of pieces: small headers (a type
 * byte, big-endian u64 lengths/counts/commit) whose values say what comes
 * next, and bodies it only steps over. Headers are copied into a 9-byte
 * scratch; bodies are not touched until the frame is complete. A frame that
 * completes inside the caller's input is then parsed in place; one that does
 * not is copied into the gather buffer as it arrives, and parsed from there.
 *
 * Every length is checked against max_frame before the decoder waits for the
 * bytes it announces, and the gather buffer grows to at most twice the bytes
 * that did arrive plus 1 MiB, so a hostile header costs little but an error.
 * A large body may also be read straight into the gather buffer
 * (rh_stream_decoder_reserve/commit) and the buffer handed to the message's
 * new owner (rh_stream_decoder_take_buffer).
 *
 * msgappv2 state (term, index) follows etcd exactly: a full MsgApp frame sets
 * term = msg.term and index = its last entry's index (or msg.index when it
 * has none); an AppEntries frame advances index by its entry count and
 * leaves term alone.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/msg_internal.h"
#include "codec/pb_wire.h"
#include "codec/stream_internal.h"
#include "rafthttp/stream_codec.h"

const char *rh_stream_kind_name(int kind)
{
    switch (kind) {
    case RH_STREAM_MESSAGE: return "message";
    case RH_STREAM_MSGAPPV2: return "msgappv2";
    default: return NULL;
    }
}

/* ---- encoder ------------------------------------------------------------ */

void rh_stream_encoder_init(rh_stream_encoder *e, int kind)
{
    e->kind = kind;
    e->term = 0;
    e->index = 0;
}

enum rh_stream_frame rh_stream_frame_pick(const rh_stream_encoder *e, const rh_msg *m)
{
    if (e->kind == RH_STREAM_MESSAGE)
        return RH_FRAME_MESSAGE;
    if (rh_msg_is_link_heartbeat(m))
        return RH_FRAME_V2_HEARTBEAT;
    if (e->index == m->index && e->term == m->log_term && m->log_term == m->term)
        return RH_FRAME_V2_APP_ENTRIES;
    return RH_FRAME_V2_MSG_APP;
}

void rh_stream_encoder_advance(rh_stream_encoder *e, const rh_msg *m,
                               enum rh_stream_frame f)
{
    if (f == RH_FRAME_V2_APP_ENTRIES) {
        e->index += m->n_entries;
    } else if (f == RH_FRAME_V2_MSG_APP) {
        e->term = m->term;
        e->index = m->n_entries ? m->entries[m->n_entries - 1].index : m->index;
    }
}

/* msg_size: rh_msg_size(m) when known, else SIZE_MAX (worked out here if
 * the frame needs it) */
static size_t frame_size(const rh_stream_encoder *e, const rh_msg *m, size_t msg_size)
{
    switch (rh_stream_frame_pick(e, m)) {
    case RH_FRAME_MESSAGE:
        return 8 + (msg_size != SIZE_MAX ? msg_size : rh_msg_size(m));
    case RH_FRAME_V2_HEARTBEAT:
        return 1;
    case RH_FRAME_V2_APP_ENTRIES: {
        size_t n = 1 + 8 + 8;
        for (size_t i = 0; i < m->n_entries; i++)
            n += 8 + rh_entry_size(&m->entries[i]);
        return n;
    }
    case RH_FRAME_V2_MSG_APP:
    default:
        return 1 + 8 + (msg_size != SIZE_MAX ? msg_size : rh_msg_size(m));
    }
}

size_t rh_stream_frame_size(const rh_stream_encoder *e, const rh_msg *m)
{
    return frame_size(e, m, SIZE_MAX);
}

size_t rhi_stream_frame_size_known(const rh_stream_encoder *e, const rh_msg *m,
                                   size_t msg_size)
{
    return frame_size(e, m, msg_size);
}

static size_t encode(rh_stream_encoder *e, const rh_msg *m, size_t msg_size, uint8_t *out)
{
    uint8_t *p = out;
    enum rh_stream_frame f = rh_stream_frame_pick(e, m);
    switch (f) {
    case RH_FRAME_MESSAGE: {
        size_t n = msg_size != SIZE_MAX ? msg_size : rh_msg_size(m);
        pb_put_be64(p, n);
        return 8 + rh_msg_encode(m, p + 8);
    }
    case RH_FRAME_V2_HEARTBEAT:
        *p = RH_APPV2_LINK_HEARTBEAT;
        return 1;
    case RH_FRAME_V2_APP_ENTRIES:
        *p++ = RH_APPV2_APP_ENTRIES;
        pb_put_be64(p, m->n_entries);
        p += 8;
        for (size_t i = 0; i < m->n_entries; i++) {
            pb_put_be64(p, rh_entry_size(&m->entries[i]));
            p += 8;
            p += rh_entry_encode(&m->entries[i], p);
        }
        pb_put_be64(p, m->commit);
        p += 8;
        break;
    case RH_FRAME_V2_MSG_APP:
    default: {
        *p++ = RH_APPV2_MSG_APP;
        size_t n = msg_size != SIZE_MAX ? msg_size : rh_msg_size(m);
        pb_put_be64(p, n);
        p += 8;
        p += rh_msg_encode(m, p);
        break;
    }
    }
    rh_stream_encoder_advance(e, m, f);
    return (size_t)(p - out);
}

size_t rh_stream_encode(rh_stream_encoder *e, const rh_msg *m, uint8_t *out)
{
    return encode(e, m, SIZE_MAX, out);
}

size_t rhi_stream_encode_known(rh_stream_encoder *e, const rh_msg *m, size_t msg_size,
                               uint8_t *out)
{
    return encode(e, m, msg_size, out);
}

/* ---- decoder ------------------------------------------------------------ */

/* What the piece being read is. */
enum piece {
    P_NONE,        /* at a frame boundary */
    P_MSG_LEN,     /* message: u64 length */
    P_MSG_BODY,    /* message: protobuf */
    P_V2_TYPE,     /* msgappv2: type byte */
    P_V2_COUNT,    /* AppEntries: u64 entry count */
    P_V2_ELEN,     /* AppEntries: u64 entry size */
    P_V2_EBODY,    /* AppEntries: entry protobuf */
    P_V2_COMMIT,   /* AppEntries: u64 commit */
    P_V2_APP_LEN,  /* MsgApp: u64 length */
    P_V2_APP_BODY, /* MsgApp: protobuf */
};

struct rh_stream_decoder {
    int kind;           /* rh_stream_kind */
    uint64_t local;     /* msgappv2: our ID, To of AppEntries */
    uint64_t remote;    /* msgappv2: peer's ID, From of AppEntries */
    uint64_t max_frame; /* largest frame accepted, in bytes */
    uint64_t term;      /* msgappv2 inference state, as etcd's decoder */
    uint64_t index;

    rh_arena arena;     /* arrays of the last decoded message */

    enum piece piece;   /* what is being read */
    uint64_t need;      /* bytes still missing from the current piece */
    uint8_t hdr[8];     /* the current header piece */
    size_t hdr_have;    /* bytes of it read */
    uint64_t frame_len; /* payload bytes the frame's headers announced */
    uint64_t ae_left;   /* AppEntries: entries not yet stepped over */

    uint64_t offset;       /* stream offset of the next byte */
    uint64_t frame_offset; /* stream offset where the current frame starts */

    bool gathering; /* current frame spans feeds: bytes go to gbuf */
    bool out_in_gbuf; /* the last message returned points into gbuf */
    uint64_t out_size; /* its protobuf size (rh_stream_decoder_msg_size) */
    uint8_t *gbuf;  /* gather buffer, owned */
    size_t glen;    /* bytes in gbuf */
    size_t gcap;    /* its capacity */

    int failed; /* sticky error code, 0 while healthy */
    rh_err failed_err;
};

rh_stream_decoder *rh_stream_decoder_new(const rh_stream_decoder_opts *o)
{
    if (o->kind != RH_STREAM_MESSAGE && o->kind != RH_STREAM_MSGAPPV2)
        return NULL;
    rh_stream_decoder *d = calloc(1, sizeof(*d));
    if (!d)
        return NULL;
    d->kind = o->kind;
    d->local = o->local;
    d->remote = o->remote;
    d->max_frame = o->max_frame ? o->max_frame : RH_STREAM_DEFAULT_MAX_FRAME;
    rh_arena_init(&d->arena, o->arena_limit);
    d->piece = P_NONE;
    return d;
}

void rh_stream_decoder_free(rh_stream_decoder *d)
{
    if (!d)
        return;
    rh_arena_free(&d->arena);
    free(d->gbuf);
    free(d);
}

uint64_t rh_stream_decoder_offset(const rh_stream_decoder *d)
{
    return d->offset;
}

uint64_t rh_stream_decoder_frame_offset(const rh_stream_decoder *d)
{
    return d->piece == P_NONE ? d->offset : d->frame_offset;
}

uint64_t rh_stream_decoder_missing(const rh_stream_decoder *d)
{
    return d->piece == P_NONE || d->failed ? 0 : d->need;
}

bool rh_stream_decoder_at_boundary(const rh_stream_decoder *d)
{
    return d->piece == P_NONE;
}

static int fail(rh_stream_decoder *d, rh_err *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(rh_stream_decoder *d, rh_err *err, int code, const char *fmt, ...)
{
    rh_err *e = &d->failed_err;
    e->code = code;
    e->offset = d->frame_offset;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
    va_end(ap);
    d->failed = code;
    if (err)
        *err = *e;
    return code;
}

/* How far the gather buffer may grow past twice the bytes that arrived. */
#define RESERVE_AHEAD (1u << 20)

/* Room for n more bytes in gbuf. The frame certainly needs `more` bytes
 * after them (the rest of the piece being read), so the buffer grows to
 * hold those too, but to no more than twice what has arrived plus
 * RESERVE_AHEAD: a large frame is allocated once, not doubled into, and a
 * length that announces much and sends nothing costs little. */
static int grow(rh_stream_decoder *d, size_t n, uint64_t more)
{
    if (n <= d->gcap - d->glen)
        return 0;
    size_t want = d->glen + n;
    size_t lim = 2 * want + RESERVE_AHEAD;
    size_t cap = more < lim - want ? want + (size_t)more : lim;
    if (cap < 4096)
        cap = 4096;
    uint8_t *nb = realloc(d->gbuf, cap);
    if (!nb)
        return RH_ENOMEM;
    d->gbuf = nb;
    d->gcap = cap;
    return 0;
}

static int gather(rh_stream_decoder *d, const uint8_t *p, size_t n)
{
    if (grow(d, n, d->piece == P_NONE ? 0 : d->need))
        return RH_ENOMEM;
    memcpy(d->gbuf + d->glen, p, n);
    d->glen += n;
    return 0;
}

static void start_piece(rh_stream_decoder *d, enum piece p, uint64_t need)
{
    d->piece = p;
    d->need = need;
    d->hdr_have = 0;
}

/* Gather buffers above this are released once their frame is done: etcd's
 * largest usual frame (a 1 MiB MsgApp, a 1.5 MiB request) keeps its buffer. */
#define GATHER_KEEP (2u << 20)


static bool is_header(enum piece p)
{
    return p != P_MSG_BODY && p != P_V2_EBODY && p != P_V2_APP_BODY;
}

/* Accounts n more payload bytes announced by a header; false when the
 * frame's payload would pass max_frame. */
static bool frame_reserve(rh_stream_decoder *d, uint64_t n)
{
    if (n > d->max_frame - d->frame_len) /* frame_len <= max_frame */
        return false;
    d->frame_len += n;
    return true;
}

/* After an AppEntries size field or entry body: the next size, or commit. */
static void next_entry_piece(rh_stream_decoder *d)
{
    start_piece(d, d->ae_left ? P_V2_ELEN : P_V2_COMMIT, 8);
}

/* A header piece is complete: decide what follows. Returns 1 when the frame
 * is complete, 0 to continue, <0 on error. */
static int header_done(rh_stream_decoder *d, rh_err *err)
{
    uint64_t v = d->hdr_have == 8 ? pb_get_be64(d->hdr) : d->hdr[0];
    switch (d->piece) {
    case P_MSG_LEN:
    case P_V2_APP_LEN:
        if (!frame_reserve(d, v))
            return fail(d, err, RH_ETOOBIG,
                        "frame length %llu exceeds the limit of %llu bytes",
                        (unsigned long long)v, (unsigned long long)d->max_frame);
        if (v == 0)
            return 1;
        start_piece(d, d->piece == P_MSG_LEN ? P_MSG_BODY : P_V2_APP_BODY, v);
        return 0;
    case P_V2_TYPE:
        if (v == RH_APPV2_LINK_HEARTBEAT)
            return 1;
        if (v == RH_APPV2_APP_ENTRIES || v == RH_APPV2_MSG_APP) {
            start_piece(d, v == RH_APPV2_APP_ENTRIES ? P_V2_COUNT : P_V2_APP_LEN, 8);
            return 0;
        }
        return fail(d, err, RH_EFRAMETYPE,
                    "failed to parse type %u in msgappv2 stream", (unsigned)v);
    case P_V2_COUNT:
        /* each entry brings at least its 8-byte size; commit follows */
        if (v > d->max_frame / 8 || !frame_reserve(d, v * 8 + 8))
            return fail(d, err, RH_ETOOBIG,
                        "AppEntries count %llu exceeds the frame limit of %llu bytes",
                        (unsigned long long)v, (unsigned long long)d->max_frame);
        d->ae_left = v;
        next_entry_piece(d);
        return 0;
    case P_V2_ELEN:
        if (!frame_reserve(d, v))
            return fail(d, err, RH_ETOOBIG,
                        "AppEntries entry of %llu bytes exceeds the frame limit of %llu",
                        (unsigned long long)v, (unsigned long long)d->max_frame);
        d->ae_left--;
        if (v == 0)
            next_entry_piece(d);
        else
            start_piece(d, P_V2_EBODY, v);
        return 0;
    case P_V2_COMMIT:
        return 1;
    default:
        return fail(d, err, RH_EINVAL, "decoder in a bad state");
    }
}

/* A body piece is complete: 1 when it ends the frame. */
static int body_done(rh_stream_decoder *d)
{
    if (d->piece == P_V2_EBODY) {
        next_entry_piece(d);
        return 0;
    }
    return 1;
}

static int parse_message(rh_stream_decoder *d, const uint8_t *p, size_t n,
                         rh_msg *out, rh_err *err)
{
    rh_err perr;
    int rc = rh_msg_decode(p, n, out, &d->arena, &perr);
    if (rc)
        return fail(d, err, rc, "bad message at frame byte %llu: %s",
                    (unsigned long long)(perr.offset + (d->kind == RH_STREAM_MESSAGE ? 8 : 9)),
                    perr.msg);
    return 0;
}

/* The whole frame is in f[0..n): turn it into *out. */
static int parse_frame(rh_stream_decoder *d, const uint8_t *f, size_t n, rh_msg *out,
                       rh_err *err)
{
    rh_arena_reset(&d->arena);
    d->out_size = 0;
    if (d->kind == RH_STREAM_MESSAGE) {
        d->out_size = n - 8;
        return parse_message(d, f + 8, n - 8, out, err);
    }

    if (f[0] == RH_APPV2_LINK_HEARTBEAT) {
        rhi_msg_zero(out);
        out->type = RH_MSG_HEARTBEAT;
        return 0;
    }
    if (f[0] == RH_APPV2_MSG_APP) {
        d->out_size = n - 9;
        int rc = parse_message(d, f + 9, n - 9, out, err);
        if (rc)
            return rc;
        d->term = out->term;
        d->index = out->n_entries ? out->entries[out->n_entries - 1].index : out->index;
        return 0;
    }
    /* AppEntries: the frame was walked already, so sizes are in bounds */
    uint64_t count = pb_get_be64(f + 1);
    rhi_msg_zero(out);
    out->type = RH_MSG_APP;
    out->from = d->remote;
    out->to = d->local;
    out->term = d->term;
    out->log_term = d->term;
    out->index = d->index;
    out->has_snapshot = true; /* Go's decoder yields its zero Snapshot */
    rh_entry *entries = NULL;
    if (count) {
        if (count > d->arena.limit / sizeof(rh_entry) ||
            !(entries = rh_arena_alloc(&d->arena, count * sizeof(rh_entry))))
            return fail(d, err, RH_ECOMPLEX,
                        "AppEntries of %llu entries exceeds the arena limit",
                        (unsigned long long)count);
    }
    size_t pos = 9;
    size_t entries_bytes = 0; /* as Message field 5, from the sizes on the wire */
    for (uint64_t i = 0; i < count; i++) {
        size_t sz = (size_t)pb_get_be64(f + pos);
        pos += 8;
        entries_bytes += pb_sub_field_size(sz);
        rh_err eerr;
        int rc = rh_entry_decode(f + pos, sz, &entries[i], &eerr);
        if (rc)
            return fail(d, err, rc, "bad entry %llu at frame byte %llu: %s",
                        (unsigned long long)i, (unsigned long long)(pos + eerr.offset),
                        eerr.msg);
        pos += sz;
        d->index++;
    }
    out->entries = entries;
    out->n_entries = (size_t)count;
    out->commit = pb_get_be64(f + pos);
    /* the size the message stream would count: its frame's length */
    d->out_size = rhi_msg_size_bare(out, entries_bytes);
    return 0;
}

/* The length of the frame at in[0..len) when all of it is there and
 * within the limits, else 0 (the piece-by-piece path then reads it, and
 * reports any error exactly as it would have). */
static size_t whole_frame(const rh_stream_decoder *d, const uint8_t *in, size_t len)
{
    if (d->kind == RH_STREAM_MESSAGE) {
        if (len < 8)
            return 0;
        uint64_t n = pb_get_be64(in);
        return n <= d->max_frame && n <= len - 8 ? (size_t)n + 8 : 0;
    }
    if (len < 1)
        return 0;
    if (in[0] == RH_APPV2_LINK_HEARTBEAT)
        return 1;
    if (len < 9 || (in[0] != RH_APPV2_MSG_APP && in[0] != RH_APPV2_APP_ENTRIES))
        return 0;
    uint64_t v = pb_get_be64(in + 1);
    if (in[0] == RH_APPV2_MSG_APP)
        return v <= d->max_frame && v <= len - 9 ? (size_t)v + 9 : 0;
    /* AppEntries: count, then count x (size, entry), then commit */
    if (v > d->max_frame / 8)
        return 0;
    uint64_t payload = v * 8 + 8; /* as frame_reserve counts it */
    if (payload > d->max_frame)
        return 0;
    size_t pos = 9;
    for (uint64_t i = 0; i < v; i++) {
        if (len - pos < 8)
            return 0;
        uint64_t sz = pb_get_be64(in + pos);
        if (sz > d->max_frame - payload)
            return 0;
        payload += sz;
        pos += 8;
        if (sz > len - pos)
            return 0;
        pos += (size_t)sz;
    }
    return len - pos >= 8 ? pos + 8 : 0;
}

int rh_stream_decoder_feed(rh_stream_decoder *d, const uint8_t *in, size_t len,
                           size_t *consumed, rh_msg *out, rh_err *err)
{
    size_t pos = 0;
    *consumed = 0;
    if (d->failed) {
        if (err)
            *err = d->failed_err;
        return d->failed;
    }
    /* One frame per call, so a frame not gathered starts at in[0]. */
    if (d->piece == P_NONE) {
        if (len == 0)
            return 0;
        if (d->gcap > GATHER_KEEP) {
            /* a big frame passed: do not hold its memory for the stream's life */
            free(d->gbuf);
            d->gbuf = NULL;
            d->gcap = 0;
        }
        d->frame_offset = d->offset;
        d->frame_len = 0;
        d->gathering = false;
        d->out_in_gbuf = false;
        d->glen = 0;
        /* the usual case: the whole frame is in this input, parse it in place */
        size_t whole = whole_frame(d, in, len);
        if (whole) {
            d->offset += whole;
            *consumed = whole;
            int rc = parse_frame(d, in, whole, out, err);
            return rc ? rc : 1;
        }
        if (d->kind == RH_STREAM_MESSAGE)
            start_piece(d, P_MSG_LEN, 8);
        else
            start_piece(d, P_V2_TYPE, 1);
    }
    for (;;) {
        if (pos == len) {
            /* out of input inside a frame: keep what we have of it */
            if (gather(d, in, len))
                return fail(d, err, RH_ENOMEM, "out of memory gathering a frame");
            d->gathering = true;
            d->offset += len;
            *consumed = len;
            return 0;
        }
        size_t take = len - pos;
        if (take > d->need)
            take = (size_t)d->need;
        if (is_header(d->piece)) {
            memcpy(d->hdr + d->hdr_have, in + pos, take);
            d->hdr_have += take;
        }
        pos += take;
        d->need -= take;
        if (d->need)
            continue;
        int rc = is_header(d->piece) ? header_done(d, err) : body_done(d);
        if (rc < 0) {
            d->offset += pos;
            *consumed = pos;
            return rc;
        }
        if (rc == 1)
            break;
    }
    d->offset += pos;
    *consumed = pos;
    d->piece = P_NONE;
    const uint8_t *frame = in;
    size_t flen = pos;
    if (d->gathering) {
        if (gather(d, in, pos))
            return fail(d, err, RH_ENOMEM, "out of memory gathering a frame");
        frame = d->gbuf;
        flen = d->glen;
        d->out_in_gbuf = true;
    }
    int rc = parse_frame(d, frame, flen, out, err);
    return rc ? rc : 1;
}

size_t rh_stream_decoder_reserve(rh_stream_decoder *d, size_t max, uint8_t **dst)
{
    *dst = NULL;
    if (d->failed || d->piece == P_NONE || !d->gathering || is_header(d->piece) || !max)
        return 0;
    size_t room = d->need < max ? (size_t)d->need : max;
    if (room > d->glen + RESERVE_AHEAD)
        room = d->glen + RESERVE_AHEAD;
    if (grow(d, room, d->need - room))
        return 0; /* feed reports it */
    *dst = d->gbuf + d->glen;
    return room;
}

int rh_stream_decoder_commit(rh_stream_decoder *d, size_t n, rh_msg *out, rh_err *err)
{
    if (d->failed) {
        if (err)
            *err = d->failed_err;
        return d->failed;
    }
    if (n == 0)
        return 0;
    if (d->piece == P_NONE || !d->gathering || is_header(d->piece) || n > d->need ||
        n > d->gcap - d->glen)
        return fail(d, err, RH_EINVAL, "commit of %zu bytes not reserved", n);
    d->glen += n;
    d->offset += n;
    d->need -= n;
    if (d->need || !body_done(d))
        return 0;
    d->piece = P_NONE;
    d->out_in_gbuf = true;
    int rc = parse_frame(d, d->gbuf, d->glen, out, err);
    return rc ? rc : 1;
}

void *rh_stream_decoder_take_buffer(rh_stream_decoder *d)
{
    if (!d->out_in_gbuf || d->piece != P_NONE)
        return NULL;
    void *b = d->gbuf;
    d->gbuf = NULL;
    d->glen = d->gcap = 0;
    d->out_in_gbuf = false;
    return b;
}

uint64_t rh_stream_decoder_msg_size(const rh_stream_decoder *d)
{
    return d->out_size;
}
