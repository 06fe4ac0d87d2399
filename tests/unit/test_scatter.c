/* SPDX-License-Identifier: Apache-2.0 */
/* Scatter encoding: the pieces concatenate to rh_stream_encode's bytes, the
 * encoder state follows it, large bytes fields are referenced in place. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "rafthttp/scatter.h"
#include "rafthttp/stream_codec.h"

/* ---- random messages ---------------------------------------------------- */

static uint64_t rng_state = 0x5ca77e2u;

static uint64_t rnd(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static uint64_t below(uint64_t n)
{
    return rnd() % n;
}

/* Values of every varint width, zero included. */
static uint64_t rnd_u64(void)
{
    switch (below(4)) {
    case 0: return 0;
    case 1: return below(128);
    case 2: {
        uint64_t shift = below(64); /* sequenced: same stream on every build */
        return rnd() >> shift;
    }
    default: return rnd();
    }
}

/* All bytes fields point into this pool (at odd offsets too). */
#define POOL_SIZE (1u << 17)
static uint8_t pool[POOL_SIZE];

static rh_bytes rnd_bytes(void)
{
    size_t len;
    switch (below(10)) {
    case 0: return (rh_bytes){NULL, 0}; /* absent */
    case 1: len = 0; break;             /* present, empty */
    case 2: case 3: len = (size_t)below(64) + 1; break;
    case 4: case 5: case 6: /* around the threshold */
        len = RH_SCATTER_REF_MIN - 3 + (size_t)below(7);
        break;
    case 7: case 8: len = (size_t)below(4000) + 1; break;
    default: len = below(8) ? (size_t)below(1024) : 16384 + (size_t)below(60000); break;
    }
    size_t off = (size_t)below(POOL_SIZE - len + 1);
    return (rh_bytes){pool + off, len};
}

/* Storage for one message under test; reset per message. */
#define MAX_ENTS 256
#define MAX_RESP 4
#define MAX_IDS 32
static rh_entry ents[MAX_ENTS];
static size_t n_ents_used;
static rh_msg resps[MAX_RESP];
static uint64_t ids[MAX_IDS];

static rh_entry *rnd_entries(size_t n, uint64_t term, uint64_t first_index)
{
    rh_entry *e = &ents[n_ents_used];
    n_ents_used += n;
    for (size_t i = 0; i < n; i++) {
        e[i].type = (int32_t)below(3);
        if (!below(20))
            e[i].type = -(int32_t)below(5); /* negative enums widen to 10 bytes */
        e[i].term = term;
        e[i].index = first_index + i;
        e[i].data = rnd_bytes();
    }
    return e;
}

static void rnd_snapshot(rh_snapshot *s)
{
    memset(s, 0, sizeof(*s));
    if (below(2))
        return; /* etcd's empty snapshot, the common case */
    s->data = rnd_bytes();
    s->metadata.index = rnd_u64();
    s->metadata.term = rnd_u64();
    rh_conf_state *c = &s->metadata.conf_state;
    for (size_t i = 0; i < MAX_IDS; i++)
        ids[i] = rnd_u64();
    c->voters = ids;
    c->n_voters = (size_t)below(6);
    c->learners = ids + 8;
    c->n_learners = (size_t)below(3);
    c->voters_outgoing = ids + 16;
    c->n_voters_outgoing = (size_t)below(3);
    c->learners_next = ids + 24;
    c->n_learners_next = (size_t)below(2);
    c->auto_leave = below(2);
}

/* Fields of a message other than entries; terms/index are the caller's. */
static void rnd_extras(rh_msg *m, int depth)
{
    m->to = below(4) ? rnd_u64() : 0;
    m->from = below(4) ? rnd_u64() : 0;
    m->commit = rnd_u64();
    m->reject = below(2);
    m->reject_hint = rnd_u64();
    m->context = below(3) ? (rh_bytes){NULL, 0} : rnd_bytes();
    m->has_vote = !below(4);
    m->vote = m->has_vote ? rnd_u64() : 0;
    if (depth == 0 && !below(6)) {
        size_t n = (size_t)below(MAX_RESP) + 1;
        for (size_t i = 0; i < n; i++) {
            rh_msg *r = &resps[i];
            memset(r, 0, sizeof(*r));
            r->type = (int32_t)below(RH_MSG_TYPE_COUNT);
            r->term = rnd_u64();
            r->log_term = rnd_u64();
            r->index = rnd_u64();
            size_t ne = (size_t)below(4);
            r->entries = ne ? rnd_entries(ne, r->term, r->index + 1) : NULL;
            r->n_entries = ne;
            if (!below(3))
                rnd_snapshot(&r->snapshot);
            rnd_extras(r, depth + 1);
        }
        m->responses = resps;
        m->n_responses = n;
    }
}

/* A message of any type, fields anywhere. */
static void rnd_any(rh_msg *m)
{
    memset(m, 0, sizeof(*m));
    n_ents_used = 0;
    m->type = (int32_t)below(RH_MSG_TYPE_COUNT + 2) - 1; /* -1 and 24 too */
    m->term = rnd_u64();
    m->log_term = rnd_u64();
    m->index = rnd_u64();
    size_t ne = below(3) ? (size_t)below(8) : (size_t)below(MAX_ENTS - 4 * MAX_RESP);
    m->entries = ne ? rnd_entries(ne, m->term, m->index + 1) : NULL;
    m->n_entries = ne;
    rnd_snapshot(&m->snapshot);
    rnd_extras(m, 0);
    if (!below(10)) { /* link heartbeat */
        m->type = RH_MSG_HEARTBEAT;
        m->from = m->to = 0;
    }
}

/* The next message a leader sends on a msgappv2 stream in state e: mostly
 * MsgApps that continue the last one (AppEntries frames), sometimes a new
 * term or an index jump (full MsgApp frames), link heartbeats, and the odd
 * other message. */
static void rnd_stream_msg(const rh_stream_encoder *e, rh_msg *m)
{
    uint64_t r = below(10);
    if (r == 0) {
        rnd_any(m);
        return;
    }
    memset(m, 0, sizeof(*m));
    n_ents_used = 0;
    m->type = RH_MSG_APP;
    m->term = e->term;
    m->log_term = e->term;
    m->index = e->index;
    if (r == 1) {
        m->type = RH_MSG_HEARTBEAT; /* link heartbeat */
        return;
    }
    if (r == 2)
        m->term = e->term + 1 + below(3); /* new term: full frame */
    else if (r == 3)
        m->index = e->index + 1 + below(5); /* gap: full frame */
    else if (r == 4)
        m->log_term = e->term ? e->term - 1 : 1; /* logTerm != term */
    size_t ne = below(5) ? (size_t)below(6) : (size_t)below(64);
    m->entries = ne ? rnd_entries(ne, m->term, m->index + 1) : NULL;
    m->n_entries = ne;
    rnd_snapshot(&m->snapshot);
    rnd_extras(m, 0);
    m->to = 2;
    m->from = 1;
}

/* ---- the check ----------------------------------------------------------- */

/* The bytes fields the frame carries, in encoding order. */
typedef struct field_list {
    const rh_bytes *f[2 * MAX_ENTS + 16];
    size_t n;
} field_list;

static void fields_of_msg(field_list *l, const rh_msg *m)
{
    for (size_t i = 0; i < m->n_entries; i++)
        l->f[l->n++] = &m->entries[i].data;
    l->f[l->n++] = &m->snapshot.data;
    l->f[l->n++] = &m->context;
    for (size_t i = 0; i < m->n_responses; i++)
        fields_of_msg(l, &m->responses[i]);
}

static bool is_app_entries_frame(const rh_stream_encoder *e, const rh_msg *m)
{
    return e->kind == RH_STREAM_MSGAPPV2 && !rh_msg_is_link_heartbeat(m) &&
           e->index == m->index && e->term == m->log_term && m->log_term == m->term;
}

static size_t frames_checked, app_entries_frames, ref_pieces_seen;

/* Encodes m both ways from identical encoders and compares everything. */
static void check_scatter(rh_stream_encoder *ea, rh_stream_encoder *eb, const rh_msg *m)
{
    CHECK(ea->kind == eb->kind && ea->term == eb->term && ea->index == eb->index);
    bool app_entries = is_app_entries_frame(ea, m);
    bool heartbeat = ea->kind == RH_STREAM_MSGAPPV2 && rh_msg_is_link_heartbeat(m);

    /* what the frame should reference */
    field_list want;
    want.n = 0;
    if (app_entries) {
        for (size_t i = 0; i < m->n_entries; i++)
            want.f[want.n++] = &m->entries[i].data;
    } else if (!heartbeat) {
        fields_of_msg(&want, m);
    }
    size_t want_refs = 0, want_ref_bytes = 0;
    for (size_t i = 0; i < want.n; i++)
        if (want.f[i]->data && want.f[i]->len >= RH_SCATTER_REF_MIN) {
            want_refs++;
            want_ref_bytes += want.f[i]->len;
        }

    size_t flen = rh_stream_frame_size(ea, m);
    uint8_t *flat = malloc(flen);
    CHECK_EQ_U64(rh_stream_encode(ea, m, flat), flen);

    size_t scratch_size = 0, max_iov = 0;
    CHECK_EQ_U64(rh_stream_scatter_size(eb, m, &scratch_size, &max_iov), flen);
    CHECK_EQ_U64(rh_stream_scatter_scratch_size(eb, m), scratch_size);
    CHECK_EQ_U64(rh_stream_scatter_max_iov(eb, m), max_iov);
    CHECK_EQ_U64(scratch_size, flen - want_ref_bytes);
    CHECK_EQ_U64(max_iov, 2 * want_refs + 1);
    /* exact sizes, so ASan sees any write past them */
    uint8_t *scratch = malloc(scratch_size ? scratch_size : 1);
    rh_iov *iov = malloc(max_iov * sizeof(rh_iov));
    size_t n_iov = 0;
    size_t total = rh_stream_scatter(eb, m, scratch, iov, &n_iov);
    CHECK_EQ_U64(total, flen);
    CHECK(n_iov >= 1 && n_iov <= max_iov);

    /* concatenation == rh_stream_encode, piece by piece */
    uint8_t *cat = malloc(flen);
    size_t pos = 0, scratch_used = 0, refs = 0, n_ref_pieces = 0;
    bool pieces_ok = true, zero_copy_ok = true, last_in_scratch = false;
    uintptr_t s_lo = (uintptr_t)scratch, s_hi = s_lo + scratch_size;
    for (size_t i = 0; i < n_iov && pieces_ok; i++) {
        const rh_iov *v = &iov[i];
        if (v->len == 0 || v->len > flen - pos) {
            pieces_ok = false;
            break;
        }
        memcpy(cat + pos, v->base, v->len);
        pos += v->len;
        uintptr_t b = (uintptr_t)v->base;
        last_in_scratch = b >= s_lo && b + v->len <= s_hi;
        if (last_in_scratch) {
            /* scratch pieces are consecutive, in order */
            zero_copy_ok &= v->base == scratch + scratch_used;
            scratch_used += v->len;
            continue;
        }
        /* a referenced piece: the next large field, by address, preceded by a
         * scratch piece holding its tag and length */
        zero_copy_ok &= i > 0 && (uintptr_t)iov[i - 1].base >= s_lo &&
                        (uintptr_t)iov[i - 1].base < s_hi;
        while (refs < want.n &&
               !(want.f[refs]->data && want.f[refs]->len >= RH_SCATTER_REF_MIN))
            refs++;
        if (refs == want.n) {
            zero_copy_ok = false;
            break;
        }
        zero_copy_ok &= v->base == want.f[refs]->data && v->len == want.f[refs]->len;
        refs++;
        n_ref_pieces++;
    }
    CHECK(pieces_ok);
    CHECK(zero_copy_ok);
    CHECK_EQ_U64(scratch_used, scratch_size);
    CHECK_MEM(cat, pos, flat, flen);
    CHECK_EQ_U64(n_ref_pieces, want_refs);
    /* scratch, ref, scratch, ref, ... and a trailing scratch piece if any */
    CHECK_EQ_U64(n_iov, 2 * n_ref_pieces + (last_in_scratch ? 1 : 0));
    ref_pieces_seen += n_ref_pieces;
    CHECK(ea->kind == eb->kind && ea->term == eb->term && ea->index == eb->index);
    frames_checked++;
    app_entries_frames += app_entries;
    free(cat);
    free(iov);
    free(scratch);
    free(flat);
}

/* ---- tests ---------------------------------------------------------------- */

static void random_messages_on_a_message_stream(void)
{
    rh_stream_encoder ea, eb;
    rh_stream_encoder_init(&ea, RH_STREAM_MESSAGE);
    rh_stream_encoder_init(&eb, RH_STREAM_MESSAGE);
    for (int i = 0; i < 20000; i++) {
        rh_msg m;
        rnd_any(&m);
        check_scatter(&ea, &eb, &m);
    }
}

static void random_sequences_on_a_msgappv2_stream(void)
{
    for (int s = 0; s < 200; s++) {
        rh_stream_encoder ea, eb;
        rh_stream_encoder_init(&ea, RH_STREAM_MSGAPPV2);
        rh_stream_encoder_init(&eb, RH_STREAM_MSGAPPV2);
        if (s % 2) { /* start mid-log, as a stream reconnecting does */
            ea.term = eb.term = rnd_u64();
            ea.index = eb.index = rnd_u64();
        }
        size_t before = app_entries_frames;
        for (int i = 0; i < 100; i++) {
            rh_msg m;
            rnd_stream_msg(&ea, &m);
            check_scatter(&ea, &eb, &m);
        }
        CHECK(app_entries_frames > before); /* the sequences do exercise it */
    }
}

/* Exactly at the threshold: 255 bytes are copied, 256 referenced. */
static void threshold_is_inclusive(void)
{
    rh_stream_encoder e;
    rh_stream_encoder_init(&e, RH_STREAM_MESSAGE);
    rh_entry ent = {.term = 5, .index = 11};
    rh_msg m = {.type = RH_MSG_APP, .to = 2, .from = 1, .term = 5, .log_term = 5,
                .index = 10, .commit = 9, .entries = &ent, .n_entries = 1};
    uint8_t scratch[RH_SCATTER_REF_MIN + 128];
    rh_iov iov[3];
    size_t n;

    ent.data = (rh_bytes){pool + 1, RH_SCATTER_REF_MIN - 1};
    CHECK_EQ_U64(rh_stream_scatter_max_iov(&e, &m), 1);
    size_t total = rh_stream_scatter(&e, &m, scratch, iov, &n);
    CHECK_EQ_U64(n, 1);
    CHECK(iov[0].base == scratch && iov[0].len == total);

    ent.data = (rh_bytes){pool + 1, RH_SCATTER_REF_MIN};
    CHECK_EQ_U64(rh_stream_scatter_max_iov(&e, &m), 3);
    CHECK_EQ_U64(rh_stream_scatter_scratch_size(&e, &m),
                 rh_stream_frame_size(&e, &m) - RH_SCATTER_REF_MIN);
    rh_stream_scatter(&e, &m, scratch, iov, &n);
    CHECK_EQ_U64(n, 3);
    CHECK(iov[1].base == pool + 1 && iov[1].len == RH_SCATTER_REF_MIN);
    CHECK(iov[0].base == scratch && iov[2].base == scratch + iov[0].len);
}

/* A frame that ends with a referenced field has no empty trailing piece. */
static void frame_may_end_with_a_reference(void)
{
    rh_stream_encoder e;
    rh_stream_encoder_init(&e, RH_STREAM_MESSAGE);
    rh_msg m = {.type = RH_MSG_HEARTBEAT, .to = 2, .from = 1,
                .context = {pool, 1000}};
    uint8_t scratch[64];
    rh_iov iov[3];
    size_t n;
    CHECK_EQ_U64(rh_stream_scatter_max_iov(&e, &m), 3);
    rh_stream_scatter(&e, &m, scratch, iov, &n);
    CHECK_EQ_U64(n, 2);
    CHECK(iov[1].base == pool && iov[1].len == 1000);
}

/* msgappv2 AppEntries carries entries and commit only: a large context or
 * snapshot on the message is not in the frame, so not referenced either. */
static void app_entries_references_entry_data_only(void)
{
    rh_stream_encoder e;
    rh_stream_encoder_init(&e, RH_STREAM_MSGAPPV2);
    e.term = 5;
    e.index = 10;
    rh_entry ent[2] = {{.term = 5, .index = 11, .data = {pool, 300}},
                       {.term = 5, .index = 12, .data = {pool + 300, 10}}};
    rh_msg m = {.type = RH_MSG_APP, .to = 2, .from = 1, .term = 5, .log_term = 5,
                .index = 10, .commit = 9, .entries = ent, .n_entries = 2,
                .context = {pool + 1000, 5000}};
    m.snapshot.data = (rh_bytes){pool + 9000, 7000};
    CHECK_EQ_U64(rh_stream_scatter_max_iov(&e, &m), 3);
    uint8_t scratch[128];
    rh_iov iov[3];
    size_t n;
    rh_stream_scatter(&e, &m, scratch, iov, &n);
    CHECK_EQ_U64(n, 3);
    /* type, count, entry size, entry fields 1-3, data tag + 2-byte length */
    CHECK(iov[0].len == 1 + 8 + 8 + 6 + 3 && iov[0].base[0] == RH_APPV2_APP_ENTRIES);
    CHECK(iov[1].base == pool && iov[1].len == 300);
    CHECK_EQ_U64(e.index, 12);
    CHECK_EQ_U64(e.term, 5);
}

int main(void)
{
    for (size_t i = 0; i < POOL_SIZE; i++)
        pool[i] = (uint8_t)(rnd() >> 56);
    TEST(threshold_is_inclusive);
    TEST(frame_may_end_with_a_reference);
    TEST(app_entries_references_entry_data_only);
    TEST(random_messages_on_a_message_stream);
    TEST(random_sequences_on_a_msgappv2_stream);
    fprintf(stderr, "%zu frames (%zu AppEntries), %zu referenced pieces\n",
            frames_checked, app_entries_frames, ref_pieces_seen);
    return CHECK_DONE();
}
