/* SPDX-License-Identifier: Apache-2.0 */
/* Stream framings: etcd's msgappv2 term/index rules, input split anywhere,
 * hostile headers. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "rafthttp/stream_codec.h"

#define LOCAL 0x2222
#define REMOTE 0x1111

/* A buffer of encoded frames plus the messages they came from. */
typedef struct stream {
    uint8_t *buf;
    size_t len;
} stream;

static void append(stream *s, rh_stream_encoder *e, const rh_msg *m)
{
    size_t n = rh_stream_frame_size(e, m);
    s->buf = realloc(s->buf, s->len + n);
    size_t w = rh_stream_encode(e, m, s->buf + s->len);
    CHECK_EQ_U64(w, n);
    s->len += w;
}

static rh_msg msgapp(uint64_t term, uint64_t log_term, uint64_t index, rh_entry *ents,
                     size_t n, uint64_t first_index, uint64_t commit)
{
    static const uint8_t payload[] = "payload-bytes";
    for (size_t i = 0; i < n; i++)
        ents[i] = (rh_entry){.term = term, .index = first_index + i,
                             .data = {payload, i % sizeof(payload)}};
    return (rh_msg){.type = RH_MSG_APP, .to = LOCAL, .from = REMOTE, .term = term,
                    .log_term = log_term, .index = index, .entries = ents,
                    .n_entries = n, .commit = commit};
}

/* Decodes s fed in pieces of `step` bytes (0: whole), returns messages as
 * clones in out (caller frees), count in *n; rc of the last feed. */
static int decode_all(int kind, const uint8_t *buf, size_t len, size_t step,
                      rh_msg **out, size_t *n, rh_err *err)
{
    rh_stream_decoder_opts o = {.kind = kind, .local = LOCAL, .remote = REMOTE};
    rh_stream_decoder *d = rh_stream_decoder_new(&o);
    size_t pos = 0;
    int rc = 0;
    *n = 0;
    while (pos < len) {
        size_t chunk = step ? step : len;
        if (chunk > len - pos)
            chunk = len - pos;
        /* a private copy per feed so ASan catches reads outside it */
        uint8_t *piece = malloc(chunk);
        memcpy(piece, buf + pos, chunk);
        size_t off = 0;
        while (off < chunk) {
            size_t used;
            rh_msg m;
            rc = rh_stream_decoder_feed(d, piece + off, chunk - off, &used, &m, err);
            off += used;
            if (rc < 0)
                break;
            if (rc == 1)
                out[(*n)++] = rh_msg_clone(&m);
        }
        free(piece);
        if (rc < 0)
            break;
        pos += chunk;
    }
    if (rc >= 0 && !rh_stream_decoder_at_boundary(d))
        rc = 2; /* ended inside a frame */
    rh_stream_decoder_free(d);
    return rc;
}

static void free_all(rh_msg **m, size_t n)
{
    for (size_t i = 0; i < n; i++)
        rh_msg_free(m[i]);
}

static void message_frame_is_be64_length_then_protobuf(void)
{
    rh_stream_encoder e;
    rh_stream_encoder_init(&e, RH_STREAM_MESSAGE);
    rh_msg m = {.type = RH_MSG_HEARTBEAT, .to = 2, .from = 1};
    uint8_t buf[128];
    size_t n = rh_stream_encode(&e, &m, buf);
    size_t body = rh_msg_size(&m);
    CHECK_EQ_U64(n, 8 + body);
    uint8_t want_len[8] = {0, 0, 0, 0, 0, 0, 0, (uint8_t)body};
    CHECK_MEM(buf, (size_t)8, want_len, (size_t)8);
}

/* etcd's encoder: a full MsgApp sets (term, index); one that continues it
 * (index == last index, logTerm == term == encoder term) goes as AppEntries. */
static void msgappv2_tracks_term_and_index_as_etcd(void)
{
    rh_stream_encoder e;
    rh_stream_encoder_init(&e, RH_STREAM_MSGAPPV2);
    stream s = {0};
    rh_entry e1[3], e2[2], e3[1], e4[1];
    rh_msg m1 = msgapp(5, 4, 10, e1, 3, 11, 9);  /* type 2: sets term 5, index 13 */
    rh_msg m2 = msgapp(5, 5, 13, e2, 2, 14, 12); /* type 1 */
    rh_msg hb = {.type = RH_MSG_HEARTBEAT};      /* type 0 */
    rh_msg m3 = msgapp(5, 5, 15, e3, 1, 16, 15); /* type 1 */
    rh_msg m4 = msgapp(6, 5, 16, e4, 1, 17, 16); /* term changed: type 2 */
    rh_msg m5 = msgapp(6, 6, 17, NULL, 0, 0, 17); /* type 1 with no entries */

    size_t at[6];
    const rh_msg *seq[6] = {&m1, &m2, &hb, &m3, &m4, &m5};
    for (int i = 0; i < 6; i++) {
        at[i] = s.len;
        append(&s, &e, seq[i]);
    }
    CHECK_EQ_U64(s.buf[at[0]], RH_APPV2_MSG_APP);
    CHECK_EQ_U64(s.buf[at[1]], RH_APPV2_APP_ENTRIES);
    CHECK_EQ_U64(s.buf[at[2]], RH_APPV2_LINK_HEARTBEAT);
    CHECK_EQ_U64(s.buf[at[3]], RH_APPV2_APP_ENTRIES);
    CHECK_EQ_U64(s.buf[at[4]], RH_APPV2_MSG_APP);
    CHECK_EQ_U64(s.buf[at[5]], RH_APPV2_APP_ENTRIES);
    CHECK_EQ_U64(at[3] - at[2], 1);
    CHECK_EQ_U64(s.len - at[5], 17); /* type, count 0, commit */

    rh_msg *out[8];
    size_t n;
    rh_err err;
    CHECK(decode_all(RH_STREAM_MSGAPPV2, s.buf, s.len, 0, out, &n, &err) == 1);
    CHECK_EQ_U64(n, 6);
    if (n == 6) {
        for (int i = 0; i < 6; i++) {
            if (i == 2)
                CHECK(rh_msg_is_link_heartbeat(out[i]));
            else
                CHECK(rh_msg_equal(out[i], seq[i]));
        }
    }
    free_all(out, n);
    free(s.buf);
}

/* AppEntries carries only entries and commit: the rest is inferred, so a
 * MsgApp that continues the run loses fields etcd also loses. */
static void app_entries_infers_from_to_and_drops_extras_as_etcd(void)
{
    rh_stream_encoder e;
    rh_stream_encoder_init(&e, RH_STREAM_MSGAPPV2);
    stream s = {0};
    rh_entry ents[1];
    rh_msg m = msgapp(0, 0, 0, ents, 1, 1, 0); /* continues the zero state */
    m.from = 77;
    m.to = 88;
    m.reject_hint = 5;
    m.context = (rh_bytes){(const uint8_t *)"ctx", 3};
    append(&s, &e, &m);
    CHECK_EQ_U64(s.buf[0], RH_APPV2_APP_ENTRIES);
    rh_msg *out[2];
    size_t n;
    CHECK(decode_all(RH_STREAM_MSGAPPV2, s.buf, s.len, 0, out, &n, NULL) == 1);
    CHECK_EQ_U64(n, 1);
    if (n == 1) {
        CHECK_EQ_U64(out[0]->from, REMOTE);
        CHECK_EQ_U64(out[0]->to, LOCAL);
        CHECK(out[0]->context.data == NULL);
        CHECK_EQ_U64(out[0]->reject_hint, 0);
        CHECK_EQ_U64(out[0]->entries[0].index, 1);
    }
    free_all(out, n);
    free(s.buf);
}

static stream build_mixed_stream(int kind, size_t count)
{
    rh_stream_encoder e;
    rh_stream_encoder_init(&e, kind);
    stream s = {0};
    uint64_t term = 1, index = 0;
    rh_entry ents[8];
    for (size_t i = 0; i < count; i++) {
        rh_msg m;
        size_t ne = i % 5;
        if (i % 7 == 3) {
            m = (rh_msg){.type = RH_MSG_HEARTBEAT}; /* link heartbeat */
        } else if (i % 11 == 5) {
            term++;
            m = msgapp(term, term - 1, index, ents, ne, index + 1, index);
        } else {
            m = msgapp(term, term, index, ents, ne, index + 1, index);
        }
        if (!rh_msg_is_link_heartbeat(&m))
            index += ne;
        append(&s, &e, &m);
    }
    return s;
}

/* The same frames, fed whole, byte by byte, and at every split point of the
 * first frames, decode to the same messages. */
static void decodes_identically_however_input_is_split(void)
{
    for (int kind = 0; kind < 2; kind++) {
        stream s = build_mixed_stream(kind, 60);
        rh_msg *whole[64], *piece[64];
        size_t nw, np;
        CHECK(decode_all(kind, s.buf, s.len, 0, whole, &nw, NULL) == 1);
        CHECK_EQ_U64(nw, 60);
        size_t steps[] = {1, 2, 3, 7, 8, 9, 13, 64, 1000};
        for (size_t k = 0; k < sizeof(steps) / sizeof(steps[0]); k++) {
            CHECK(decode_all(kind, s.buf, s.len, steps[k], piece, &np, NULL) == 1);
            CHECK_EQ_U64(np, nw);
            for (size_t i = 0; i < np && i < nw; i++)
                CHECK(rh_msg_equal(piece[i], whole[i]));
            free_all(piece, np);
        }
        /* split into two feeds at every byte boundary of the first 200 bytes */
        for (size_t cut = 1; cut < 200 && cut < s.len; cut++) {
            rh_stream_decoder_opts o = {.kind = kind, .local = LOCAL, .remote = REMOTE};
            rh_stream_decoder *d = rh_stream_decoder_new(&o);
            size_t got = 0;
            const uint8_t *parts[2] = {s.buf, s.buf + cut};
            size_t lens[2] = {cut, s.len - cut};
            for (int p = 0; p < 2; p++) {
                size_t off = 0;
                while (off < lens[p]) {
                    size_t used;
                    rh_msg m;
                    int rc = rh_stream_decoder_feed(d, parts[p] + off, lens[p] - off,
                                                    &used, &m, NULL);
                    off += used;
                    if (rc == 1 && got < nw && !rh_msg_equal(&m, whole[got]))
                        CHECK(!"split decode differs");
                    got += rc == 1;
                }
            }
            CHECK_EQ_U64(got, nw);
            rh_stream_decoder_free(d);
        }
        free_all(whole, nw);
        free(s.buf);
    }
}

static void whole_frame_is_decoded_in_place(void)
{
    stream s = build_mixed_stream(RH_STREAM_MESSAGE, 3);
    rh_stream_decoder_opts o = {.kind = RH_STREAM_MESSAGE};
    rh_stream_decoder *d = rh_stream_decoder_new(&o);
    size_t used;
    rh_msg m;
    CHECK(rh_stream_decoder_feed(d, s.buf, s.len, &used, &m, NULL) == 1);
    CHECK_EQ_U64(m.n_entries, 0);
    size_t first = used;
    CHECK(rh_stream_decoder_feed(d, s.buf + first, s.len - first, &used, &m, NULL) == 1);
    used += first;
    CHECK_EQ_U64(m.n_entries, 1);
    size_t off = used;
    for (size_t i = 0; i < 1; i++) {
        CHECK(rh_stream_decoder_feed(d, s.buf + off, s.len - off, &used, &m, NULL) == 1);
        off += used;
    }
    CHECK_EQ_U64(m.n_entries, 2); /* the second entry has one byte of data */
    if (m.n_entries == 2)
        CHECK(m.entries[1].data.data > s.buf && m.entries[1].data.data < s.buf + s.len);
    rh_stream_decoder_free(d);
    free(s.buf);
}

static int feed_once(int kind, const char *hex, uint64_t max_frame, rh_err *err,
                     uint64_t *frame_off)
{
    uint8_t buf[256];
    size_t n = unhex(hex, buf);
    rh_stream_decoder_opts o = {.kind = kind, .max_frame = max_frame};
    rh_stream_decoder *d = rh_stream_decoder_new(&o);
    size_t pos = 0, used;
    int rc = 0;
    rh_msg m;
    while (pos < n) {
        rc = rh_stream_decoder_feed(d, buf + pos, n - pos, &used, &m, err);
        pos += used;
        if (rc < 0)
            break;
    }
    if (rc < 0) {
        /* the error is sticky */
        rh_err again;
        CHECK(rh_stream_decoder_feed(d, buf, 1, &used, &m, &again) == rc);
        CHECK_EQ_U64(again.offset, err->offset);
    }
    *frame_off = rh_stream_decoder_frame_offset(d);
    if (rc >= 0 && !rh_stream_decoder_at_boundary(d))
        rc = 2;
    rh_stream_decoder_free(d);
    return rc;
}

static void hostile_headers_fail_with_frame_offset(void)
{
    rh_err err;
    uint64_t fo;
    /* heartbeat frame (1 byte) then an unknown type 3 at offset 1 */
    CHECK(feed_once(RH_STREAM_MSGAPPV2, "0003", 0, &err, &fo) == RH_EFRAMETYPE);
    CHECK_EQ_U64(err.offset, 1);
    CHECK(strstr(err.msg, "type 3") != NULL);
    /* message length 2^64-1: refused at once, nothing allocated */
    CHECK(feed_once(RH_STREAM_MESSAGE, "ffffffffffffffff", 0, &err, &fo) == RH_ETOOBIG);
    CHECK_EQ_U64(err.offset, 0);
    /* etcd's limit is inclusive: length == limit is fine, limit+1 is not */
    CHECK(feed_once(RH_STREAM_MESSAGE, "0000000000000004", 4, &err, &fo) == 2);
    CHECK(feed_once(RH_STREAM_MESSAGE, "0000000000000005", 4, &err, &fo) == RH_ETOOBIG);
    /* AppEntries with 2^61 entries */
    CHECK(feed_once(RH_STREAM_MSGAPPV2, "012000000000000000", 0, &err, &fo) == RH_ETOOBIG);
    /* AppEntries entry of 2^63 bytes */
    CHECK(feed_once(RH_STREAM_MSGAPPV2, "0100000000000000018000000000000000", 0,
                    &err, &fo) == RH_ETOOBIG);
    /* MsgApp frame with a bad protobuf inside, after one good empty frame */
    CHECK(feed_once(RH_STREAM_MESSAGE, "0000000000000000" "0000000000000002" "0e00",
                    0, &err, &fo) == RH_EWIRETYPE);
    CHECK_EQ_U64(err.offset, 8);
    /* AppEntries entry with a bad protobuf */
    CHECK(feed_once(RH_STREAM_MSGAPPV2,
                    "01" "0000000000000001" "0000000000000002" "0eff" "0000000000000000",
                    0, &err, &fo) == RH_EWIRETYPE);
    CHECK_EQ_U64(err.offset, 0);
    /* a complete frame ends at a boundary; one cut inside it does not */
    CHECK(feed_once(RH_STREAM_MESSAGE, "00000000000000020801", 0, &err, &fo) == 1);
    CHECK(feed_once(RH_STREAM_MESSAGE, "0000000000000000" "00000000000000", 0, &err,
                    &fo) == 2);
    CHECK_EQ_U64(fo, 8);
}

/* A large AppEntries body read straight into the decoder's buffer: the
 * same message as fed, entry data pointing into the buffer handed over. */
static void large_body_read_into_decoder_buffer(void)
{
    enum { BIG = 300000 };
    uint8_t *data = malloc(BIG);
    for (size_t i = 0; i < BIG; i++)
        data[i] = (uint8_t)(i * 7);
    rh_stream_encoder e;
    rh_stream_encoder_init(&e, RH_STREAM_MSGAPPV2);
    rh_entry ent[2];
    rh_msg first = msgapp(3, 2, 9, ent, 1, 10, 9);
    stream s = {0};
    append(&s, &e, &first); /* a full MsgApp: sets term and index */
    size_t head = s.len;
    ent[0] = (rh_entry){.term = 3, .index = 11, .data = {data, BIG}};
    rh_msg big = {.type = RH_MSG_APP, .to = LOCAL, .from = REMOTE, .term = 3,
                  .log_term = 3, .index = 10, .entries = ent, .n_entries = 1, .commit = 10};
    append(&s, &e, &big);

    rh_stream_decoder_opts o = {.kind = RH_STREAM_MSGAPPV2, .local = LOCAL, .remote = REMOTE};
    rh_stream_decoder *d = rh_stream_decoder_new(&o);
    size_t used;
    rh_msg m;
    uint8_t *dst;
    CHECK(rh_stream_decoder_feed(d, s.buf, head, &used, &m, NULL) == 1);
    CHECK(rh_stream_decoder_take_buffer(d) == NULL); /* parsed in place */
    CHECK_EQ_U64(rh_stream_decoder_reserve(d, 1 << 20, &dst), 0); /* at a boundary */
    /* the frame's headers and 1000 body bytes by feed, the rest direct */
    size_t pos = head;
    CHECK(rh_stream_decoder_feed(d, s.buf + pos, 9 + 8 + 1000, &used, &m, NULL) == 0);
    pos += used;
    int rc = 0;
    size_t rounds = 0;
    while (rc == 0 && pos < s.len) {
        size_t room = rh_stream_decoder_reserve(d, 65536, &dst);
        if (!room) {
            rc = rh_stream_decoder_feed(d, s.buf + pos, s.len - pos, &used, &m, NULL);
            pos += used;
            continue;
        }
        CHECK(room <= 65536);
        memcpy(dst, s.buf + pos, room);
        pos += room;
        rc = rh_stream_decoder_commit(d, room, &m, NULL);
        rounds++;
    }
    CHECK(rounds >= 4);
    CHECK_EQ_U64(rc, 1);
    CHECK_EQ_U64(pos, s.len);
    CHECK(rh_msg_equal(&m, &big));
    uint8_t *owned = rh_stream_decoder_take_buffer(d);
    CHECK(owned != NULL);
    if (m.n_entries == 1)
        CHECK(m.entries[0].data.data > owned && m.entries[0].data.data < owned + s.len);
    CHECK(rh_stream_decoder_take_buffer(d) == NULL);
    /* a commit nobody reserved is refused, and the error sticks */
    rh_err err;
    CHECK(rh_stream_decoder_commit(d, 1, &m, &err) == RH_EINVAL);
    free(owned);
    rh_stream_decoder_free(d);

    /* a header announcing 100 MiB with nothing behind it: the buffer
     * offered stays near what arrived, not the announced size */
    o.kind = RH_STREAM_MESSAGE;
    o.max_frame = 512u << 20;
    d = rh_stream_decoder_new(&o);
    uint8_t hdr[12] = {0, 0, 0, 0, 0x06, 0x40, 0, 0, 1, 2, 3, 4};
    CHECK(rh_stream_decoder_feed(d, hdr, sizeof(hdr), &used, &m, NULL) == 0);
    size_t room = rh_stream_decoder_reserve(d, (size_t)1 << 30, &dst);
    CHECK(room > 0 && room <= (2u << 20));
    rh_stream_decoder_free(d);
    free(s.buf);
    free(data);
}

/* Each decoded message's size comes with it, equal to rh_msg_size of it:
 * from the frame length (message stream, full MsgApp) or worked out from
 * the entries' lengths (AppEntries), at every varint width of the fields. */
static void decoder_reports_each_message_size(void)
{
    static uint8_t data[20000];
    const size_t lens[] = {0, 1, 127, 128, 16383, 16384, 19999};
    for (int kind = RH_STREAM_MESSAGE; kind <= RH_STREAM_MSGAPPV2; kind++) {
        rh_stream_encoder e;
        rh_stream_encoder_init(&e, kind);
        stream s = {0};
        rh_msg sent[64];
        rh_entry ents[64][3];
        size_t n = 0;
        uint64_t index = 0;
        for (int b = 0; b < 64 && n < 64; b += 3) {
            uint64_t term = (uint64_t)1 << b;
            for (int k = 0; k < 2 && n < 64; k++) { /* a full MsgApp, then AppEntries */
                size_t ne = (size_t)((n % 3) + (k ? 0 : 1));
                for (size_t i = 0; i < ne; i++)
                    ents[n][i] = (rh_entry){.term = term, .index = index + 1 + i,
                                            .data = {data, lens[(n + i) % 7]}};
                sent[n] = msgapp(term, k ? term : term - 1, index, ents[n], ne, index + 1,
                                 (index + ne) | ((uint64_t)1 << (63 - b)));
                index += ne;
                append(&s, &e, &sent[n++]);
            }
        }
        rh_stream_decoder_opts o = {.kind = kind, .local = LOCAL, .remote = REMOTE};
        rh_stream_decoder *d = rh_stream_decoder_new(&o);
        size_t off = 0, got = 0, v2_entries = 0;
        while (off < s.len) {
            size_t used;
            rh_msg m;
            rh_err err;
            int rc = rh_stream_decoder_feed(d, s.buf + off, s.len - off, &used, &m, &err);
            CHECK(rc >= 0);
            if (rc < 0)
                break;
            off += used;
            if (rc == 1) {
                CHECK_EQ_U64(rh_stream_decoder_msg_size(d), rh_msg_size(&m));
                CHECK(got < n && rh_msg_equal(&m, &sent[got]));
                v2_entries += s.buf[off - used] == RH_APPV2_APP_ENTRIES;
                got++;
            }
        }
        CHECK_EQ_U64(got, n);
        if (kind == RH_STREAM_MSGAPPV2)
            CHECK(v2_entries > 0); /* the AppEntries path was taken */
        rh_stream_decoder_free(d);
        free(s.buf);
    }
}

int main(void)
{
    TEST(message_frame_is_be64_length_then_protobuf);
    TEST(msgappv2_tracks_term_and_index_as_etcd);
    TEST(app_entries_infers_from_to_and_drops_extras_as_etcd);
    TEST(decodes_identically_however_input_is_split);
    TEST(whole_frame_is_decoded_in_place);
    TEST(hostile_headers_fail_with_frame_offset);
    TEST(large_body_read_into_decoder_buffer);
    TEST(decoder_reports_each_message_size);
    return CHECK_DONE();
}
