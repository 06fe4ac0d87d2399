/* SPDX-License-Identifier: Apache-2.0 */
/*
 * raftpb codec: etcd's raft.proto, hand-written.
 *
 * Encoding walks each struct in field-number order and writes what etcd
 * 3.4's gogoproto marshaller writes: every non-nullable field, bytes fields
 * when present, repeated fields element by element (ConfState unpacked).
 *
 * Decoding is one pass per message level, preceded by a cheap scan of that
 * level that counts its repeated fields, so every array is allocated once,
 * at its exact size, from the caller's arena. Bytes point into the input.
 * The rules mirror gogoproto's generated Unmarshal: a known field with the
 * wrong wire type is an error, unknown fields are skipped (groups included),
 * a non-repeated sub-message seen twice is merged into the first. What Go
 * would answer with a panic or a giant allocation (lengths past the buffer,
 * overflowing varints, endless nesting) is an error here.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/msg_internal.h"
#include "codec/pb_wire.h"
#include "rafthttp/raftpb.h"

/* ---- names ------------------------------------------------------------ */

static const char *const msg_type_names[RH_MSG_TYPE_COUNT] = {
    "MsgHup",          "MsgBeat",           "MsgProp",
    "MsgApp",          "MsgAppResp",        "MsgVote",
    "MsgVoteResp",     "MsgSnap",           "MsgHeartbeat",
    "MsgHeartbeatResp", "MsgUnreachable",   "MsgSnapStatus",
    "MsgCheckQuorum",  "MsgTransferLeader", "MsgTimeoutNow",
    "MsgReadIndex",    "MsgReadIndexResp",  "MsgPreVote",
    "MsgPreVoteResp",  "MsgStorageAppend",  "MsgStorageAppendResp",
    "MsgStorageApply", "MsgStorageApplyResp", "MsgForgetLeader",
};

static const char *const entry_type_names[] = {
    "EntryNormal",
    "EntryConfChange",
    "EntryConfChangeV2",
};

const char *rh_msg_type_name(int32_t type)
{
    if (type < 0 || type >= RH_MSG_TYPE_COUNT)
        return NULL;
    return msg_type_names[type];
}

static int name_lookup(const char *const *names, int n, const char *name,
                       size_t len)
{
    for (int i = 0; i < n; i++)
        if (strlen(names[i]) == len && memcmp(names[i], name, len) == 0)
            return i;
    return -1;
}

int rh_msg_type_from_name(const char *name, size_t len)
{
    return name_lookup(msg_type_names, RH_MSG_TYPE_COUNT, name, len);
}

const char *rh_entry_type_name(int32_t type)
{
    if (type < 0 || type > RH_ENTRY_CONF_CHANGE_V2)
        return NULL;
    return entry_type_names[type];
}

int rh_entry_type_from_name(const char *name, size_t len)
{
    return name_lookup(entry_type_names, 3, name, len);
}

/* ---- encoding ----------------------------------------------------------- */

/* Go widens an int32 enum to uint64 with sign extension. */
static inline uint64_t enum_wire(int32_t v)
{
    return (uint64_t)(int64_t)v;
}

static inline size_t varint_field_size(uint64_t v)
{
    return 1 + pb_varint_size(v);
}

static inline size_t bytes_field_size(const rh_bytes *b)
{
    return b->data ? 1 + pb_varint_size(b->len) + b->len : 0;
}

static inline uint8_t *put_varint_field(uint8_t *p, uint8_t tag, uint64_t v)
{
    *p++ = tag;
    return pb_put_varint(p, v);
}

static inline uint8_t *put_bytes_field(uint8_t *p, uint8_t tag, const rh_bytes *b)
{
    if (!b->data)
        return p;
    *p++ = tag;
    p = pb_put_varint(p, b->len);
    if (b->len)
        memcpy(p, b->data, b->len);
    return p + b->len;
}

static inline uint8_t *put_bool_field(uint8_t *p, uint8_t tag, bool v)
{
    *p++ = tag;
    *p++ = v ? 1 : 0;
    return p;
}

static inline __attribute__((always_inline)) size_t entry_size(const rh_entry *e)
{
    return varint_field_size(enum_wire(e->type)) + varint_field_size(e->term) +
           varint_field_size(e->index) + bytes_field_size(&e->data);
}

size_t rh_entry_size(const rh_entry *e)
{
    return entry_size(e);
}

static inline __attribute__((always_inline)) size_t entry_encode(const rh_entry *e, uint8_t *out)
{
    uint8_t *p = out;
    p = put_varint_field(p, 0x08, enum_wire(e->type));
    p = put_varint_field(p, 0x10, e->term);
    p = put_varint_field(p, 0x18, e->index);
    p = put_bytes_field(p, 0x22, &e->data);
    return (size_t)(p - out);
}

size_t rh_entry_encode(const rh_entry *e, uint8_t *out)
{
    return entry_encode(e, out);
}

static size_t id_list_size(const uint64_t *ids, size_t n)
{
    size_t s = 0;
    for (size_t i = 0; i < n; i++)
        s += varint_field_size(ids[i]);
    return s;
}

static uint8_t *put_id_list(uint8_t *p, uint8_t tag, const uint64_t *ids, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p = put_varint_field(p, tag, ids[i]);
    return p;
}

size_t rh_conf_state_size(const rh_conf_state *c)
{
    return id_list_size(c->voters, c->n_voters) +
           id_list_size(c->learners, c->n_learners) +
           id_list_size(c->voters_outgoing, c->n_voters_outgoing) +
           id_list_size(c->learners_next, c->n_learners_next) + 2;
}

size_t rh_conf_state_encode(const rh_conf_state *c, uint8_t *out)
{
    uint8_t *p = out;
    p = put_id_list(p, 0x08, c->voters, c->n_voters);
    p = put_id_list(p, 0x10, c->learners, c->n_learners);
    p = put_id_list(p, 0x18, c->voters_outgoing, c->n_voters_outgoing);
    p = put_id_list(p, 0x20, c->learners_next, c->n_learners_next);
    p = put_bool_field(p, 0x28, c->auto_leave);
    return (size_t)(p - out);
}

static size_t metadata_size(const rh_snapshot_metadata *md)
{
    return pb_sub_field_size(rh_conf_state_size(&md->conf_state)) +
           varint_field_size(md->index) + varint_field_size(md->term);
}

static uint8_t *put_metadata(uint8_t *p, const rh_snapshot_metadata *md)
{
    *p++ = 0x0a;
    p = pb_put_varint(p, rh_conf_state_size(&md->conf_state));
    p += rh_conf_state_encode(&md->conf_state, p);
    p = put_varint_field(p, 0x10, md->index);
    p = put_varint_field(p, 0x18, md->term);
    return p;
}

size_t rh_snapshot_size(const rh_snapshot *s)
{
    return bytes_field_size(&s->data) + pb_sub_field_size(metadata_size(&s->metadata));
}

size_t rh_snapshot_encode(const rh_snapshot *s, uint8_t *out)
{
    uint8_t *p = out;
    p = put_bytes_field(p, 0x0a, &s->data);
    *p++ = 0x12;
    p = pb_put_varint(p, metadata_size(&s->metadata));
    p = put_metadata(p, &s->metadata);
    return (size_t)(p - out);
}

/* etcd 3.4 writes field 9 even for an empty Snapshot: these 12 bytes. */
static const uint8_t empty_snap_field[12] = {0x4a, 0x0a, 0x12, 0x08, 0x0a, 0x02,
                                             0x28, 0x00, 0x10, 0x00, 0x18, 0x00};

static inline bool snapshot_is_empty(const rh_snapshot *s)
{
    const rh_conf_state *c = &s->metadata.conf_state;
    return !s->data.data && !s->metadata.index && !s->metadata.term &&
           !(c->n_voters | c->n_learners | c->n_voters_outgoing | c->n_learners_next) &&
           !c->auto_leave;
}

/* The fields every message writes, whatever they hold. */
static inline size_t msg_scalars_size(const rh_msg *m)
{
    return varint_field_size(enum_wire(m->type)) + varint_field_size(m->to) +
           varint_field_size(m->from) + varint_field_size(m->term) +
           varint_field_size(m->log_term) + varint_field_size(m->index) +
           varint_field_size(m->commit) + 2 /* reject */ + varint_field_size(m->reject_hint);
}

size_t rhi_msg_size_bare(const rh_msg *m, size_t entries_bytes)
{
    return msg_scalars_size(m) + entries_bytes + sizeof(empty_snap_field);
}

size_t rh_msg_size(const rh_msg *m)
{
    size_t n = msg_scalars_size(m);
    for (size_t i = 0; i < m->n_entries; i++)
        n += pb_sub_field_size(entry_size(&m->entries[i]));
    n += snapshot_is_empty(&m->snapshot) ? sizeof(empty_snap_field)
                                         : pb_sub_field_size(rh_snapshot_size(&m->snapshot));
    n += bytes_field_size(&m->context);
    if (m->has_vote)
        n += varint_field_size(m->vote);
    for (size_t i = 0; i < m->n_responses; i++)
        n += pb_sub_field_size(rh_msg_size(&m->responses[i]));
    return n;
}

size_t rh_msg_encode(const rh_msg *m, uint8_t *out)
{
    uint8_t *p = out;
    p = put_varint_field(p, 0x08, enum_wire(m->type));
    p = put_varint_field(p, 0x10, m->to);
    p = put_varint_field(p, 0x18, m->from);
    p = put_varint_field(p, 0x20, m->term);
    p = put_varint_field(p, 0x28, m->log_term);
    p = put_varint_field(p, 0x30, m->index);
    for (size_t i = 0; i < m->n_entries; i++) {
        *p++ = 0x3a;
        p = pb_put_varint(p, entry_size(&m->entries[i]));
        p += entry_encode(&m->entries[i], p);
    }
    p = put_varint_field(p, 0x40, m->commit);
    if (snapshot_is_empty(&m->snapshot)) {
        memcpy(p, empty_snap_field, sizeof(empty_snap_field));
        p += sizeof(empty_snap_field);
    } else {
        *p++ = 0x4a;
        p = pb_put_varint(p, rh_snapshot_size(&m->snapshot));
        p += rh_snapshot_encode(&m->snapshot, p);
    }
    p = put_bool_field(p, 0x50, m->reject);
    p = put_varint_field(p, 0x58, m->reject_hint);
    p = put_bytes_field(p, 0x62, &m->context);
    if (m->has_vote)
        p = put_varint_field(p, 0x68, m->vote);
    for (size_t i = 0; i < m->n_responses; i++) {
        *p++ = 0x72;
        p = pb_put_varint(p, rh_msg_size(&m->responses[i]));
        p += rh_msg_encode(&m->responses[i], p);
    }
    return (size_t)(p - out);
}

size_t rh_hard_state_size(const rh_hard_state *h)
{
    return varint_field_size(h->term) + varint_field_size(h->vote) +
           varint_field_size(h->commit);
}

size_t rh_hard_state_encode(const rh_hard_state *h, uint8_t *out)
{
    uint8_t *p = out;
    p = put_varint_field(p, 0x08, h->term);
    p = put_varint_field(p, 0x10, h->vote);
    p = put_varint_field(p, 0x18, h->commit);
    return (size_t)(p - out);
}

size_t rh_conf_change_size(const rh_conf_change *c)
{
    return varint_field_size(c->id) + varint_field_size(enum_wire(c->type)) +
           varint_field_size(c->node_id) + bytes_field_size(&c->context);
}

size_t rh_conf_change_encode(const rh_conf_change *c, uint8_t *out)
{
    uint8_t *p = out;
    p = put_varint_field(p, 0x08, c->id);
    p = put_varint_field(p, 0x10, enum_wire(c->type));
    p = put_varint_field(p, 0x18, c->node_id);
    p = put_bytes_field(p, 0x22, &c->context);
    return (size_t)(p - out);
}

size_t rh_conf_change_single_size(const rh_conf_change_single *c)
{
    return varint_field_size(enum_wire(c->type)) + varint_field_size(c->node_id);
}

size_t rh_conf_change_single_encode(const rh_conf_change_single *c, uint8_t *out)
{
    uint8_t *p = out;
    p = put_varint_field(p, 0x08, enum_wire(c->type));
    p = put_varint_field(p, 0x10, c->node_id);
    return (size_t)(p - out);
}

size_t rh_conf_change_v2_size(const rh_conf_change_v2 *c)
{
    size_t n = varint_field_size(enum_wire(c->transition));
    for (size_t i = 0; i < c->n_changes; i++)
        n += pb_sub_field_size(rh_conf_change_single_size(&c->changes[i]));
    return n + bytes_field_size(&c->context);
}

size_t rh_conf_change_v2_encode(const rh_conf_change_v2 *c, uint8_t *out)
{
    uint8_t *p = out;
    p = put_varint_field(p, 0x08, enum_wire(c->transition));
    for (size_t i = 0; i < c->n_changes; i++) {
        *p++ = 0x12;
        p = pb_put_varint(p, rh_conf_change_single_size(&c->changes[i]));
        p += rh_conf_change_single_encode(&c->changes[i], p);
    }
    p = put_bytes_field(p, 0x1a, &c->context);
    return (size_t)(p - out);
}

/* ---- decoding ----------------------------------------------------------- */

/* One level of decoding: a sub-buffer of the outermost input. */
typedef struct pb_dec {
    const uint8_t *buf; /* this level's bytes */
    size_t len;         /* their count */
    size_t pos;         /* next byte to read */
    size_t base;        /* offset of buf[0] in the outermost input */
    rh_arena *arena;    /* where arrays go; NULL for array-free types */
    rh_err *err;        /* caller's, may be NULL */
    int depth;          /* nesting level of this buffer */
    const char *what;   /* message name, for error text */
} pb_dec;

static const uint8_t empty_bytes[1];

static int dec_fail_(pb_dec *d, int code, size_t at, const char *fmt, ...)
    __attribute__((cold, noinline, format(printf, 4, 5)));
/* Evaluates to code itself, visibly, so the compiler knows failures are
 * nonzero (GCC 12 -O3 -Werror=maybe-uninitialized otherwise). */
#define dec_fail(d, code, ...) (dec_fail_((d), (code), __VA_ARGS__), (code))
static int dec_fail_(pb_dec *d, int code, size_t at, const char *fmt, ...)
{
    if (d->err) {
        d->err->code = code;
        d->err->offset = d->base + at;
        int n = snprintf(d->err->msg, sizeof(d->err->msg), "%s: ", d->what);
        if (n < 0 || (size_t)n >= sizeof(d->err->msg))
            n = 0;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(d->err->msg + n, sizeof(d->err->msg) - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return code;
}

static pb_dec sub_dec(const pb_dec *d, size_t start, size_t len, const char *what)
{
    pb_dec s = *d;
    s.buf = d->buf + start;
    s.len = len;
    s.pos = 0;
    s.base = d->base + start;
    s.depth = d->depth + 1;
    s.what = what;
    return s;
}

/* Reads a tag. Go's order of checks: varint, end-group, field number. */
static inline __attribute__((always_inline)) int dec_tag(pb_dec *d, int32_t *field, int *wt)
{
    if (d->pos < d->len && d->buf[d->pos] < 0x80 && d->buf[d->pos] >= 8 &&
        (d->buf[d->pos] & 7) != PB_WT_EGROUP) {
        uint8_t k = d->buf[d->pos++];
        *wt = k & 7;
        *field = k >> 3;
        return 0;
    }
    size_t start = d->pos;
    uint64_t key;
    int rc = pb_get_varint(d->buf, d->len, &d->pos, &key);
    if (rc)
        return dec_fail(d, rc, start, "bad tag varint");
    *wt = (int)(key & 7);
    *field = (int32_t)(uint32_t)(key >> 3);
    if (*wt == PB_WT_EGROUP)
        return dec_fail(d, RH_ETAG, start, "end-group tag outside a group");
    if (*field <= 0)
        return dec_fail(d, RH_ETAG, start, "illegal field number %d", (int)*field);
    return 0;
}

static inline __attribute__((always_inline)) int dec_varint(pb_dec *d, size_t field_start, int32_t field, uint64_t *v)
{
    int rc = pb_get_varint(d->buf, d->len, &d->pos, v);
    if (rc)
        return dec_fail(d, rc, field_start, "field %d: %s", (int)field,
                        rh_strerror(rc));
    return 0;
}

/* Reads a length prefix and checks the payload fits; *start gets its offset. */
static inline __attribute__((always_inline)) int dec_len(pb_dec *d, size_t field_start, int32_t field, size_t *start,
                   size_t *n)
{
    uint64_t l;
    int rc = dec_varint(d, field_start, field, &l);
    if (rc)
        return rc;
    if (l > d->len - d->pos)
        return dec_fail(d, RH_ETRUNC, field_start,
                        "field %d: length %llu exceeds the %zu bytes left", (int)field,
                        (unsigned long long)l, d->len - d->pos);
    *start = d->pos;
    *n = (size_t)l;
    d->pos += (size_t)l;
    return 0;
}

static int wrong_wt(pb_dec *d, size_t field_start, int32_t field, int wt)
{
    return dec_fail(d, RH_EWIRETYPE, field_start, "wrong wire type %d for field %d",
                    wt, (int)field);
}

/* Skips the value of an unknown field whose tag was just read. Groups are
 * skipped recursively up to RH_PB_MAX_DEPTH, as gogoproto's skip does
 * without a bound. */
static int dec_skip(pb_dec *d, size_t field_start, int32_t field, int wt, int depth)
{
    uint64_t v;
    size_t s, n;
    switch (wt) {
    case PB_WT_VARINT:
        return dec_varint(d, field_start, field, &v);
    case PB_WT_FIXED64:
    case PB_WT_FIXED32: {
        size_t w = wt == PB_WT_FIXED64 ? 8 : 4;
        if (w > d->len - d->pos)
            return dec_fail(d, RH_ETRUNC, field_start, "field %d: truncated fixed%zu",
                            (int)field, w * 8);
        d->pos += w;
        return 0;
    }
    case PB_WT_BYTES:
        return dec_len(d, field_start, field, &s, &n);
    case PB_WT_SGROUP:
        if (depth >= RH_PB_MAX_DEPTH)
            return dec_fail(d, RH_EDEPTH, field_start, "groups nested deeper than %d",
                            RH_PB_MAX_DEPTH);
        for (;;) {
            size_t inner = d->pos;
            uint64_t key;
            int rc = pb_get_varint(d->buf, d->len, &d->pos, &key);
            if (rc)
                return dec_fail(d, rc, inner, "group of field %d: %s", (int)field,
                                rh_strerror(rc));
            int iwt = (int)(key & 7);
            if (iwt == PB_WT_EGROUP)
                return 0;
            rc = dec_skip(d, inner, (int32_t)(uint32_t)(key >> 3), iwt, depth + 1);
            if (rc)
                return rc;
        }
    default:
        return dec_fail(d, RH_EWIRETYPE, field_start, "illegal wire type %d", wt);
    }
}

/* Counts, at this level, the length-delimited occurrences of field f1 and
 * f2. Stops quietly at malformed input: the decoding pass reports it. */
static void count_fields(const uint8_t *buf, size_t len, int32_t f1, size_t *n1,
                         int32_t f2, size_t *n2)
{
    pb_dec d = {.buf = buf, .len = len, .what = ""};
    *n1 = 0;
    if (n2)
        *n2 = 0;
    while (d.pos < d.len) {
        int32_t field;
        int wt;
        size_t start = d.pos;
        if (dec_tag(&d, &field, &wt))
            return;
        if (wt == PB_WT_BYTES && field == f1)
            (*n1)++;
        else if (n2 && wt == PB_WT_BYTES && field == f2)
            (*n2)++;
        if (dec_skip(&d, start, field, wt, 0))
            return;
    }
}

static void *arena_array(pb_dec *d, size_t n, size_t elem)
{
    if (n > d->arena->limit / elem)
        return NULL;
    return rh_arena_alloc(d->arena, n * elem);
}

static int arena_fail(pb_dec *d, size_t at, size_t n, const char *what)
{
    return dec_fail(d, RH_ECOMPLEX, at, "%zu %s exceed the arena limit of %zu bytes",
                    n, what, d->arena->limit);
}

static inline rh_bytes bytes_at(const pb_dec *d, size_t start, size_t n)
{
    rh_bytes b = {n ? d->buf + start : empty_bytes, n};
    return b;
}

/* The in-order fast path. etcd writes a message's fields once each, in
 * field order, so the next tag is nearly always the one after the last. The
 * fast path takes fields while the next byte is the tag it expects and a
 * well-formed value follows, with branches that go the same way message after
 * message (the general loop's switch on the field is an indirect jump that
 * mispredicts at every field). At the first surprise it stops, and the general
 * loop goes on from that field: what the fast path took it would have decoded
 * the same way, so the result, errors included, is the loop's. */
#define FAST_INLINE static inline __attribute__((always_inline))

/* The fast path's cursor: a local copy of a pb_dec's position, so that it
 * lives in registers (stores into the message would otherwise make the
 * compiler reload d->pos and d->len after every field). */
typedef struct fast_cur {
    const uint8_t *p, *end;
} fast_cur;

/* A varint field with tag `tag` (a one-byte tag) and a well-formed value. */
FAST_INLINE bool fast_varint(fast_cur *c, uint8_t tag, uint64_t *v)
{
    size_t k = 1;
    if (c->p >= c->end || *c->p != tag ||
        pb_get_varint(c->p, (size_t)(c->end - c->p), &k, v))
        return false;
    c->p += k;
    return true;
}

/* A length-delimited field with tag `tag` whose payload fits: its offset in
 * d's buffer and its length. */
FAST_INLINE bool fast_len(fast_cur *c, const pb_dec *d, uint8_t tag, size_t *start, size_t *n)
{
    fast_cur t = *c;
    uint64_t l;
    if (!fast_varint(&t, tag, &l) || l > (uint64_t)(t.end - t.p))
        return false;
    *start = (size_t)(t.p - d->buf);
    *n = (size_t)l;
    c->p = t.p + l;
    return true;
}

FAST_INLINE fast_cur fast_begin(const pb_dec *d)
{
    return (fast_cur){d->buf + d->pos, d->buf + d->len};
}

FAST_INLINE void fast_end(pb_dec *d, const fast_cur *c)
{
    d->pos = (size_t)(c->p - d->buf);
}

/* Takes field `tag` into `store` (which reads v), or ends the fast path:
 * goto out, where the caller hands over to its general loop. */
#define FAST_VARINT(tag, store)          \
    do {                                 \
        if (!fast_varint(&c, (tag), &v)) \
            goto out;                    \
        store;                           \
    } while (0)

static int decode_entry(pb_dec *d, rh_entry *e)
{
    fast_cur c = fast_begin(d);
    uint64_t v;
    size_t s, n;
    FAST_VARINT(0x08, e->type = (int32_t)(uint32_t)v);
    FAST_VARINT(0x10, e->term = v);
    FAST_VARINT(0x18, e->index = v);
    if (fast_len(&c, d, 0x22, &s, &n))
        e->data = bytes_at(d, s, n);
out:
    fast_end(d, &c);
    while (d->pos < d->len) {
        size_t fs = d->pos;
        int32_t f;
        int wt, rc;
        if ((rc = dec_tag(d, &f, &wt)))
            return rc;
        switch (f) {
        case 1:
        case 2:
        case 3:
            if (wt != PB_WT_VARINT)
                return wrong_wt(d, fs, f, wt);
            if ((rc = dec_varint(d, fs, f, &v)))
                return rc;
            if (f == 1)
                e->type = (int32_t)(uint32_t)v;
            else if (f == 2)
                e->term = v;
            else
                e->index = v;
            break;
        case 4:
            if (wt != PB_WT_BYTES)
                return wrong_wt(d, fs, f, wt);
            if ((rc = dec_len(d, fs, f, &s, &n)))
                return rc;
            e->data = bytes_at(d, s, n);
            break;
        default:
            if ((rc = dec_skip(d, fs, f, wt, d->depth)))
                return rc;
        }
    }
    return 0;
}

/* Number of varints in a packed payload: bytes without the continuation bit. */
static size_t packed_count(const uint8_t *p, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        c += p[i] < 0x80;
    return c;
}

static void count_id_lists(const uint8_t *buf, size_t len, size_t cnt[4])
{
    pb_dec d = {.buf = buf, .len = len, .what = ""};
    memset(cnt, 0, 4 * sizeof(cnt[0]));
    while (d.pos < d.len) {
        int32_t f;
        int wt;
        size_t fs = d.pos;
        if (dec_tag(&d, &f, &wt))
            return;
        size_t before = d.pos;
        if (dec_skip(&d, fs, f, wt, 0))
            return;
        if (f < 1 || f > 4)
            continue;
        if (wt == PB_WT_VARINT) {
            cnt[f - 1]++;
        } else if (wt == PB_WT_BYTES) {
            size_t p = before;
            uint64_t l;
            if (pb_get_varint(buf, len, &p, &l) == 0)
                cnt[f - 1] += packed_count(buf + p, (size_t)l);
        }
    }
}

/* Decodes one ConfState occurrence, appending to lists already present
 * (gogoproto merges a repeated occurrence of a non-repeated message). */
static int decode_conf_state(pb_dec *d, rh_conf_state *c)
{
    size_t cnt[4];
    count_id_lists(d->buf, d->len, cnt);
    const uint64_t **lists[4] = {&c->voters, &c->learners, &c->voters_outgoing,
                                 &c->learners_next};
    size_t *ns[4] = {&c->n_voters, &c->n_learners, &c->n_voters_outgoing,
                     &c->n_learners_next};
    uint64_t *fill[4] = {0};
    for (int i = 0; i < 4; i++) {
        if (!cnt[i])
            continue;
        size_t total = *ns[i] + cnt[i];
        uint64_t *arr = arena_array(d, total, sizeof(uint64_t));
        if (!arr)
            return arena_fail(d, 0, total, "ids");
        if (*ns[i])
            memcpy(arr, *lists[i], *ns[i] * sizeof(uint64_t));
        *lists[i] = arr;
        fill[i] = arr;
    }
    while (d->pos < d->len) {
        size_t fs = d->pos, s, n;
        int32_t f;
        int wt, rc;
        uint64_t v;
        if ((rc = dec_tag(d, &f, &wt)))
            return rc;
        if (f >= 1 && f <= 4) {
            int i = f - 1;
            if (wt == PB_WT_VARINT) {
                if ((rc = dec_varint(d, fs, f, &v)))
                    return rc;
                fill[i][(*ns[i])++] = v;
            } else if (wt == PB_WT_BYTES) {
                if ((rc = dec_len(d, fs, f, &s, &n)))
                    return rc;
                size_t p = s;
                while (p < s + n) {
                    int vrc = pb_get_varint(d->buf, s + n, &p, &v);
                    if (vrc)
                        return dec_fail(d, vrc, fs, "packed field %d: %s", (int)f,
                                        rh_strerror(vrc));
                    fill[i][(*ns[i])++] = v;
                }
            } else {
                return wrong_wt(d, fs, f, wt);
            }
        } else if (f == 5) {
            if (wt != PB_WT_VARINT)
                return wrong_wt(d, fs, f, wt);
            if ((rc = dec_varint(d, fs, f, &v)))
                return rc;
            c->auto_leave = v != 0;
        } else if ((rc = dec_skip(d, fs, f, wt, d->depth))) {
            return rc;
        }
    }
    return 0;
}

static int decode_metadata(pb_dec *d, rh_snapshot_metadata *md)
{
    while (d->pos < d->len) {
        size_t fs = d->pos, s, n;
        int32_t f;
        int wt, rc;
        uint64_t v;
        if ((rc = dec_tag(d, &f, &wt)))
            return rc;
        if (f == 1) {
            if (wt != PB_WT_BYTES)
                return wrong_wt(d, fs, f, wt);
            if ((rc = dec_len(d, fs, f, &s, &n)))
                return rc;
            pb_dec sd = sub_dec(d, s, n, "ConfState");
            if ((rc = decode_conf_state(&sd, &md->conf_state)))
                return rc;
        } else if (f == 2 || f == 3) {
            if (wt != PB_WT_VARINT)
                return wrong_wt(d, fs, f, wt);
            if ((rc = dec_varint(d, fs, f, &v)))
                return rc;
            if (f == 2)
                md->index = v;
            else
                md->term = v;
        } else if ((rc = dec_skip(d, fs, f, wt, d->depth))) {
            return rc;
        }
    }
    return 0;
}

static int decode_snapshot(pb_dec *d, rh_snapshot *sn)
{
    while (d->pos < d->len) {
        size_t fs = d->pos, s, n;
        int32_t f;
        int wt, rc;
        if ((rc = dec_tag(d, &f, &wt)))
            return rc;
        if (f == 1 || f == 2) {
            if (wt != PB_WT_BYTES)
                return wrong_wt(d, fs, f, wt);
            if ((rc = dec_len(d, fs, f, &s, &n)))
                return rc;
            if (f == 1) {
                sn->data = bytes_at(d, s, n);
            } else {
                pb_dec sd = sub_dec(d, s, n, "SnapshotMetadata");
                if ((rc = decode_metadata(&sd, &sn->metadata)))
                    return rc;
            }
        } else if ((rc = dec_skip(d, fs, f, wt, d->depth))) {
            return rc;
        }
    }
    return 0;
}

/* Number of well-formed length-delimited fields with one-byte tag `tag`
 * that follow d->pos back to back. */
static size_t count_run(const pb_dec *d, uint8_t tag)
{
    size_t run = 0, q = d->pos;
    while (q < d->len && d->buf[q] == tag) {
        size_t q2 = q + 1;
        uint64_t l;
        if (pb_get_varint(d->buf, d->len, &q2, &l) || l > d->len - q2)
            break;
        q = q2 + (size_t)l;
        run++;
    }
    return run;
}

/* New capacity for an array that is full: room for this element and the
 * run behind it, and at least double, so inputs that interleave other fields
 * between elements cost amortised linear space, not quadratic. */
static size_t grow_cap(size_t cap, size_t run)
{
    size_t want = cap + 1 + run;
    return want < cap * 2 ? cap * 2 : want;
}

/* Arrays of a message being decoded: sized when their field first shows up,
 * by counting the run of same-tag fields that starts there (etcd writes
 * repeated fields contiguously); a later, separate run grows the array by
 * copying. */
typedef struct msg_arrays {
    rh_entry *entries;
    size_t cap_entries;
    rh_msg *responses;
    size_t cap_responses;
} msg_arrays;

static int decode_message(pb_dec *d, rh_msg *m);

/* Room in *arr (n elements of elem bytes, *cap of room) for one more: a
 * full array is regrown for the run of `tag` fields that starts at d->pos. */
static int array_room(pb_dec *d, void **arr, size_t n, size_t *cap, size_t elem, uint8_t tag,
                      const char *what)
{
    if (n < *cap)
        return 0;
    size_t total = grow_cap(*cap, count_run(d, tag));
    void *na = arena_array(d, total, elem);
    if (!na)
        return arena_fail(d, 0, total, what);
    if (n)
        memcpy(na, *arr, n * elem);
    *arr = na;
    *cap = total;
    return 0;
}

/* Field 7: one Entry at d->buf[s..s+n), appended. */
static int take_entry(pb_dec *d, rh_msg *m, msg_arrays *a, size_t s, size_t n)
{
    void *arr = a->entries;
    int rc = array_room(d, &arr, m->n_entries, &a->cap_entries, sizeof(rh_entry), 0x3a,
                        "entries");
    if (rc)
        return rc;
    m->entries = a->entries = arr;
    pb_dec sd = sub_dec(d, s, n, "Entry");
    return decode_entry(&sd, &a->entries[m->n_entries++]);
}

/* Field 9: the Snapshot at d->buf[s..s+n), merged. */
static int take_snapshot(pb_dec *d, rh_msg *m, size_t s, size_t n)
{
    m->has_snapshot = true;
    /* etcd 3.4 writes an empty Snapshot on every message */
    static const uint8_t empty_snap[10] = {0x12, 0x08, 0x0a, 0x02, 0x28,
                                           0x00, 0x10, 0x00, 0x18, 0x00};
    if (n == sizeof(empty_snap) && memcmp(d->buf + s, empty_snap, sizeof(empty_snap)) == 0) {
        /* what decoding it would do, merge included */
        m->snapshot.metadata.index = 0;
        m->snapshot.metadata.term = 0;
        m->snapshot.metadata.conf_state.auto_leave = false;
        return 0;
    }
    pb_dec sd = sub_dec(d, s, n, "Snapshot");
    return decode_snapshot(&sd, &m->snapshot);
}

/* Field 14: one response at d->buf[s..s+n), appended. */
static int take_response(pb_dec *d, rh_msg *m, msg_arrays *a, size_t s, size_t n)
{
    if (d->depth + 1 >= RH_PB_MAX_DEPTH)
        return dec_fail(d, RH_EDEPTH, 0, "responses nested deeper than %d", RH_PB_MAX_DEPTH);
    void *arr = a->responses;
    int rc = array_room(d, &arr, m->n_responses, &a->cap_responses, sizeof(rh_msg), 0x72,
                        "responses");
    if (rc)
        return rc;
    m->responses = a->responses = arr;
    pb_dec sd = sub_dec(d, s, n, "Message.responses");
    return decode_message(&sd, &a->responses[m->n_responses++]);
}

/* The fast path (see above) over etcd's order: 1-6, 7 repeated, 8, 9, 10,
 * 11. Returns 0, or an error of a field it handed to take_*. */
FAST_INLINE int decode_message_fast(pb_dec *d, rh_msg *m, msg_arrays *a)
{
    fast_cur c = fast_begin(d);
    uint64_t v;
    size_t s, n;
    int rc = 0;
    FAST_VARINT(0x08, m->type = (int32_t)(uint32_t)v);
    FAST_VARINT(0x10, m->to = v);
    FAST_VARINT(0x18, m->from = v);
    FAST_VARINT(0x20, m->term = v);
    FAST_VARINT(0x28, m->log_term = v);
    FAST_VARINT(0x30, m->index = v);
    while (fast_len(&c, d, 0x3a, &s, &n)) {
        fast_end(d, &c);
        if ((rc = take_entry(d, m, a, s, n)))
            return rc;
    }
    FAST_VARINT(0x40, m->commit = v);
    if (!fast_len(&c, d, 0x4a, &s, &n))
        goto out;
    if ((rc = take_snapshot(d, m, s, n)))
        return rc;
    FAST_VARINT(0x50, m->reject = v != 0);
    FAST_VARINT(0x58, m->reject_hint = v);
out:
    fast_end(d, &c);
    return 0;
}

static int decode_message(pb_dec *d, rh_msg *m)
{
    msg_arrays a = {0};
    m->entries = NULL;
    m->responses = NULL;
    int rc = decode_message_fast(d, m, &a);
    if (rc)
        return rc;
    while (d->pos < d->len) {
        size_t fs = d->pos, s, n;
        int32_t f;
        int wt;
        uint64_t v;
        if ((rc = dec_tag(d, &f, &wt)))
            return rc;
        switch (f) {
        case 1: case 2: case 3: case 4: case 5: case 6: case 8: case 10: case 11:
        case 13:
            if (wt != PB_WT_VARINT)
                return wrong_wt(d, fs, f, wt);
            if ((rc = dec_varint(d, fs, f, &v)))
                return rc;
            switch (f) {
            case 1: m->type = (int32_t)(uint32_t)v; break;
            case 2: m->to = v; break;
            case 3: m->from = v; break;
            case 4: m->term = v; break;
            case 5: m->log_term = v; break;
            case 6: m->index = v; break;
            case 8: m->commit = v; break;
            case 10: m->reject = v != 0; break;
            case 11: m->reject_hint = v; break;
            default: m->vote = v; m->has_vote = true; break;
            }
            break;
        case 7: case 9: case 12: case 14:
            if (wt != PB_WT_BYTES)
                return wrong_wt(d, fs, f, wt);
            if ((rc = dec_len(d, fs, f, &s, &n)))
                return rc;
            if (f == 7)
                rc = take_entry(d, m, &a, s, n);
            else if (f == 9)
                rc = take_snapshot(d, m, s, n);
            else if (f == 12)
                m->context = bytes_at(d, s, n);
            else
                rc = take_response(d, m, &a, s, n);
            if (rc)
                return rc;
            break;
        default:
            if ((rc = dec_skip(d, fs, f, wt, d->depth)))
                return rc;
        }
    }
    return 0;
}

static pb_dec top_dec(const uint8_t *buf, size_t len, rh_arena *arena, rh_err *err,
                      const char *what)
{
    pb_dec d = {.buf = buf, .len = len, .arena = arena, .err = err, .what = what};
    if (err) {
        err->code = 0;
        err->offset = 0;
        err->msg[0] = 0;
    }
    return d;
}

int rh_msg_decode(const uint8_t *buf, size_t len, rh_msg *out, rh_arena *arena,
                  rh_err *err)
{
    rhi_msg_zero(out);
    pb_dec d = top_dec(buf, len, arena, err, "Message");
    return decode_message(&d, out);
}

int rh_entry_decode(const uint8_t *buf, size_t len, rh_entry *out, rh_err *err)
{
    memset(out, 0, sizeof(*out));
    pb_dec d = top_dec(buf, len, NULL, err, "Entry");
    return decode_entry(&d, out);
}

int rh_snapshot_decode(const uint8_t *buf, size_t len, rh_snapshot *out,
                       rh_arena *arena, rh_err *err)
{
    memset(out, 0, sizeof(*out));
    pb_dec d = top_dec(buf, len, arena, err, "Snapshot");
    return decode_snapshot(&d, out);
}

int rh_conf_state_decode(const uint8_t *buf, size_t len, rh_conf_state *out,
                         rh_arena *arena, rh_err *err)
{
    memset(out, 0, sizeof(*out));
    pb_dec d = top_dec(buf, len, arena, err, "ConfState");
    return decode_conf_state(&d, out);
}

/* The flat messages: a field number -> (varint target | bytes target) map. */
typedef struct flat_field {
    int32_t num;
    uint64_t *u64;   /* varint into a uint64 */
    int32_t *i32;    /* varint into an enum */
    rh_bytes *bytes; /* length-delimited into bytes */
} flat_field;

static int decode_flat(pb_dec *d, const flat_field *fields, size_t nfields)
{
    while (d->pos < d->len) {
        size_t fs = d->pos, s, n;
        int32_t f;
        int wt, rc;
        uint64_t v;
        if ((rc = dec_tag(d, &f, &wt)))
            return rc;
        const flat_field *ff = NULL;
        for (size_t i = 0; i < nfields; i++)
            if (fields[i].num == f)
                ff = &fields[i];
        if (!ff) {
            if ((rc = dec_skip(d, fs, f, wt, d->depth)))
                return rc;
        } else if (ff->bytes) {
            if (wt != PB_WT_BYTES)
                return wrong_wt(d, fs, f, wt);
            if ((rc = dec_len(d, fs, f, &s, &n)))
                return rc;
            *ff->bytes = bytes_at(d, s, n);
        } else {
            if (wt != PB_WT_VARINT)
                return wrong_wt(d, fs, f, wt);
            if ((rc = dec_varint(d, fs, f, &v)))
                return rc;
            if (ff->u64)
                *ff->u64 = v;
            else
                *ff->i32 = (int32_t)(uint32_t)v;
        }
    }
    return 0;
}

int rh_hard_state_decode(const uint8_t *buf, size_t len, rh_hard_state *out,
                         rh_err *err)
{
    memset(out, 0, sizeof(*out));
    pb_dec d = top_dec(buf, len, NULL, err, "HardState");
    flat_field ff[] = {{1, &out->term, NULL, NULL},
                       {2, &out->vote, NULL, NULL},
                       {3, &out->commit, NULL, NULL}};
    return decode_flat(&d, ff, 3);
}

int rh_conf_change_decode(const uint8_t *buf, size_t len, rh_conf_change *out,
                          rh_err *err)
{
    memset(out, 0, sizeof(*out));
    pb_dec d = top_dec(buf, len, NULL, err, "ConfChange");
    flat_field ff[] = {{1, &out->id, NULL, NULL},
                       {2, NULL, &out->type, NULL},
                       {3, &out->node_id, NULL, NULL},
                       {4, NULL, NULL, &out->context}};
    return decode_flat(&d, ff, 4);
}

static int decode_change_single(pb_dec *d, rh_conf_change_single *out)
{
    flat_field ff[] = {{1, NULL, &out->type, NULL}, {2, &out->node_id, NULL, NULL}};
    return decode_flat(d, ff, 2);
}

int rh_conf_change_single_decode(const uint8_t *buf, size_t len,
                                 rh_conf_change_single *out, rh_err *err)
{
    memset(out, 0, sizeof(*out));
    pb_dec d = top_dec(buf, len, NULL, err, "ConfChangeSingle");
    return decode_change_single(&d, out);
}

int rh_conf_change_v2_decode(const uint8_t *buf, size_t len,
                             rh_conf_change_v2 *out, rh_arena *arena, rh_err *err)
{
    memset(out, 0, sizeof(*out));
    pb_dec d = top_dec(buf, len, arena, err, "ConfChangeV2");
    size_t n_changes;
    count_fields(buf, len, 2, &n_changes, 0, NULL);
    rh_conf_change_single *changes = NULL;
    if (n_changes) {
        changes = arena_array(&d, n_changes, sizeof(*changes));
        if (!changes)
            return arena_fail(&d, 0, n_changes, "changes");
    }
    out->changes = changes;
    while (d.pos < d.len) {
        size_t fs = d.pos, s, n;
        int32_t f;
        int wt, rc;
        uint64_t v;
        if ((rc = dec_tag(&d, &f, &wt)))
            return rc;
        if (f == 1) {
            if (wt != PB_WT_VARINT)
                return wrong_wt(&d, fs, f, wt);
            if ((rc = dec_varint(&d, fs, f, &v)))
                return rc;
            out->transition = (int32_t)(uint32_t)v;
        } else if (f == 2 || f == 3) {
            if (wt != PB_WT_BYTES)
                return wrong_wt(&d, fs, f, wt);
            if ((rc = dec_len(&d, fs, f, &s, &n)))
                return rc;
            if (f == 3) {
                out->context = bytes_at(&d, s, n);
            } else {
                pb_dec sd = sub_dec(&d, s, n, "ConfChangeSingle");
                if ((rc = decode_change_single(&sd, &changes[out->n_changes++])))
                    return rc;
            }
        } else if ((rc = dec_skip(&d, fs, f, wt, d.depth))) {
            return rc;
        }
    }
    return 0;
}

/* ---- clone, free, equal ------------------------------------------------- */

#define ALIGN8(n) (((n) + 7u) & ~(size_t)7u)

static size_t conf_state_extra(const rh_conf_state *c)
{
    return ALIGN8((c->n_voters + c->n_learners + c->n_voters_outgoing +
                   c->n_learners_next) * sizeof(uint64_t));
}

/* Is this entry's data left where it is (ref_min > 0 and it is that big)? */
static bool keeps_data(const rh_entry *e, size_t ref_min)
{
    return ref_min && e->data.data && e->data.len >= ref_min;
}

/* Bytes a message's out-of-line parts need (not counting the rh_msg). */
static size_t msg_extra(const rh_msg *m, size_t ref_min)
{
    size_t n = ALIGN8(m->n_entries * sizeof(rh_entry));
    for (size_t i = 0; i < m->n_entries; i++)
        if (!keeps_data(&m->entries[i], ref_min))
            n += ALIGN8(m->entries[i].data.len);
    n += ALIGN8(m->context.len) + ALIGN8(m->snapshot.data.len);
    n += conf_state_extra(&m->snapshot.metadata.conf_state);
    n += ALIGN8(m->n_responses * sizeof(rh_msg));
    for (size_t i = 0; i < m->n_responses; i++)
        n += msg_extra(&m->responses[i], ref_min);
    return n;
}

static rh_bytes copy_bytes(rh_bytes b, uint8_t **cur)
{
    if (!b.data)
        return b;
    rh_bytes out = {empty_bytes, b.len};
    if (b.len) {
        memcpy(*cur, b.data, b.len);
        out.data = *cur;
        *cur += ALIGN8(b.len);
    }
    return out;
}

static const uint64_t *copy_ids(const uint64_t *ids, size_t n, uint8_t **cur)
{
    if (!n)
        return NULL;
    uint64_t *dst = (uint64_t *)(void *)*cur;
    memcpy(dst, ids, n * sizeof(uint64_t));
    *cur += n * sizeof(uint64_t);
    return dst;
}

static void clone_into(rh_msg *dst, const rh_msg *src, uint8_t **cur, size_t ref_min)
{
    *dst = *src;
    if (src->n_entries) {
        rh_entry *e = (rh_entry *)(void *)*cur;
        *cur += ALIGN8(src->n_entries * sizeof(rh_entry));
        for (size_t i = 0; i < src->n_entries; i++) {
            e[i] = src->entries[i];
            if (!keeps_data(&src->entries[i], ref_min))
                e[i].data = copy_bytes(src->entries[i].data, cur);
        }
        dst->entries = e;
    } else {
        dst->entries = NULL;
    }
    dst->context = copy_bytes(src->context, cur);
    dst->snapshot.data = copy_bytes(src->snapshot.data, cur);
    const rh_conf_state *sc = &src->snapshot.metadata.conf_state;
    rh_conf_state *dc = &dst->snapshot.metadata.conf_state;
    uint8_t *ids_start = *cur;
    dc->voters = copy_ids(sc->voters, sc->n_voters, cur);
    dc->learners = copy_ids(sc->learners, sc->n_learners, cur);
    dc->voters_outgoing = copy_ids(sc->voters_outgoing, sc->n_voters_outgoing, cur);
    dc->learners_next = copy_ids(sc->learners_next, sc->n_learners_next, cur);
    *cur = ids_start + conf_state_extra(sc);
    if (src->n_responses) {
        rh_msg *r = (rh_msg *)(void *)*cur;
        *cur += ALIGN8(src->n_responses * sizeof(rh_msg));
        for (size_t i = 0; i < src->n_responses; i++)
            clone_into(&r[i], &src->responses[i], cur, ref_min);
        dst->responses = r;
    } else {
        dst->responses = NULL;
    }
}

size_t rh_msg_clone_size(const rh_msg *src)
{
    return rh_msg_clone_size_ref(src, 0);
}

rh_msg *rh_msg_clone_to(const rh_msg *src, void *mem)
{
    return rh_msg_clone_to_ref(src, mem, 0);
}

size_t rh_msg_clone_size_ref(const rh_msg *src, size_t ref_min)
{
    return ALIGN8(sizeof(rh_msg)) + msg_extra(src, ref_min);
}

rh_msg *rh_msg_clone_to_ref(const rh_msg *src, void *mem, size_t ref_min)
{
    rh_msg *m = mem;
    uint8_t *cur = (uint8_t *)mem + ALIGN8(sizeof(rh_msg));
    clone_into(m, src, &cur, ref_min);
    return m;
}

rh_msg *rh_msg_clone(const rh_msg *src)
{
    void *mem = malloc(rh_msg_clone_size(src));
    return mem ? rh_msg_clone_to(src, mem) : NULL;
}

void rh_msg_free(rh_msg *m)
{
    free(m);
}

static bool bytes_equal(rh_bytes a, rh_bytes b)
{
    if (!a.data || !b.data)
        return !a.data && !b.data;
    return a.len == b.len && (a.len == 0 || memcmp(a.data, b.data, a.len) == 0);
}

static bool ids_equal(const uint64_t *a, size_t na, const uint64_t *b, size_t nb)
{
    return na == nb && (na == 0 || memcmp(a, b, na * sizeof(uint64_t)) == 0);
}

static bool conf_state_equal(const rh_conf_state *a, const rh_conf_state *b)
{
    return ids_equal(a->voters, a->n_voters, b->voters, b->n_voters) &&
           ids_equal(a->learners, a->n_learners, b->learners, b->n_learners) &&
           ids_equal(a->voters_outgoing, a->n_voters_outgoing, b->voters_outgoing,
                     b->n_voters_outgoing) &&
           ids_equal(a->learners_next, a->n_learners_next, b->learners_next,
                     b->n_learners_next) &&
           a->auto_leave == b->auto_leave;
}

bool rh_msg_equal(const rh_msg *a, const rh_msg *b)
{
    if (a->type != b->type || a->to != b->to || a->from != b->from ||
        a->term != b->term || a->log_term != b->log_term || a->index != b->index ||
        a->commit != b->commit || a->reject != b->reject ||
        a->reject_hint != b->reject_hint || a->has_vote != b->has_vote ||
        a->vote != b->vote || a->n_entries != b->n_entries ||
        a->n_responses != b->n_responses)
        return false;
    if (!bytes_equal(a->context, b->context))
        return false;
    const rh_snapshot *sa = &a->snapshot, *sb = &b->snapshot;
    if (!bytes_equal(sa->data, sb->data) || sa->metadata.index != sb->metadata.index ||
        sa->metadata.term != sb->metadata.term ||
        !conf_state_equal(&sa->metadata.conf_state, &sb->metadata.conf_state))
        return false;
    for (size_t i = 0; i < a->n_entries; i++) {
        const rh_entry *ea = &a->entries[i], *eb = &b->entries[i];
        if (ea->term != eb->term || ea->index != eb->index || ea->type != eb->type ||
            !bytes_equal(ea->data, eb->data))
            return false;
    }
    for (size_t i = 0; i < a->n_responses; i++)
        if (!rh_msg_equal(&a->responses[i], &b->responses[i]))
            return false;
    return true;
}
