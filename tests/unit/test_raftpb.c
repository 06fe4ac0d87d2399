/* SPDX-License-Identifier: Apache-2.0 */
/* raftpb codec: exact bytes of etcd 3.4, decoding rules, hostile input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "rafthttp/raftpb.h"

/* Bytes printed by etcd 3.4's Go Marshal for the messages built below. */
static const char *GO_EMPTY =
    "08001000180020002800300040004a0a12080a0228001000180050005800";
static const char *GO_APP =
    "08031002180120052805300a3a0d08001005180b220568656c6c6f3a0608001005180c4009"
    "4a130a0173120e0a08080108021003280110071803500158ac026200";
static const char *GO_NEG =
    "08ffffffffffffffffff0110ffffffffffffffffff01180020002800300040004a0a12080a"
    "0228001000180050005800";

static const uint64_t voters[] = {1, 2};
static const uint64_t learners[] = {3};

static rh_msg app_msg(rh_entry *ents)
{
    static const uint8_t hello[] = "hello";
    static const uint8_t s[] = "s";
    ents[0] = (rh_entry){.term = 5, .index = 11, .data = {hello, 5}};
    ents[1] = (rh_entry){.term = 5, .index = 12};
    rh_msg m = {.type = RH_MSG_APP, .to = 2, .from = 1, .term = 5, .log_term = 5,
                .index = 10, .commit = 9, .entries = ents, .n_entries = 2,
                .reject = true, .reject_hint = 300, .context = {s, 0}};
    m.snapshot.data = (rh_bytes){s, 1};
    m.snapshot.metadata.index = 7;
    m.snapshot.metadata.term = 3;
    m.snapshot.metadata.conf_state = (rh_conf_state){
        .voters = voters, .n_voters = 2, .learners = learners, .n_learners = 1,
        .auto_leave = true};
    return m;
}

static void check_encodes_to(const rh_msg *m, const char *hex)
{
    unsigned char want[512], got[512];
    size_t n = unhex(hex, want);
    CHECK_EQ_U64(rh_msg_size(m), n);
    size_t w = rh_msg_encode(m, got);
    CHECK_MEM(got, w, want, n);
}

static void encodes_zero_message_as_go(void)
{
    rh_msg m = {0};
    check_encodes_to(&m, GO_EMPTY);
}

static void encodes_full_msgapp_as_go(void)
{
    rh_entry ents[2];
    rh_msg m = app_msg(ents);
    check_encodes_to(&m, GO_APP);
}

static void encodes_negative_enum_sign_extended_as_go(void)
{
    rh_msg m = {.type = -1, .to = UINT64_MAX};
    check_encodes_to(&m, GO_NEG);
}

static void decodes_go_bytes_to_equal_message(void)
{
    unsigned char buf[512];
    size_t n = unhex(GO_APP, buf);
    rh_arena a;
    rh_arena_init(&a, 0);
    rh_msg m;
    rh_err err;
    CHECK(rh_msg_decode(buf, n, &m, &a, &err) == 0);
    rh_entry ents[2];
    rh_msg want = app_msg(ents);
    CHECK(rh_msg_equal(&m, &want));
    CHECK(m.has_snapshot);
    CHECK(!m.has_vote);
    /* zero copy: entry data points into the input */
    CHECK(m.entries[0].data.data >= buf && m.entries[0].data.data < buf + n);
    /* present but empty context stays present */
    CHECK(m.context.data != NULL && m.context.len == 0);
    CHECK(m.entries[1].data.data == NULL);
    rh_arena_free(&a);
}

static void vote_and_responses_round_trip(void)
{
    rh_entry ents[2];
    rh_msg inner[2] = {app_msg(ents), {.type = RH_MSG_STORAGE_APPEND_RESP, .to = 9}};
    rh_msg m = {.type = RH_MSG_STORAGE_APPEND, .has_vote = true, .vote = 0,
                .responses = inner, .n_responses = 2};
    size_t n = rh_msg_size(&m);
    uint8_t *buf = malloc(n);
    CHECK_EQ_U64(rh_msg_encode(&m, buf), n);
    rh_arena a;
    rh_arena_init(&a, 0);
    rh_msg d;
    CHECK(rh_msg_decode(buf, n, &d, &a, NULL) == 0);
    CHECK(rh_msg_equal(&m, &d));
    CHECK(d.has_vote && d.vote == 0);
    CHECK_EQ_U64(d.n_responses, 2);
    CHECK_EQ_U64(d.responses[0].entries[0].index, 11);
    rh_msg *c = rh_msg_clone(&d);
    rh_arena_free(&a);
    memset(buf, 0, n);
    free(buf);
    CHECK(rh_msg_equal(c, &m)); /* the clone owns everything */
    rh_msg_free(c);
}

static int decode_hex(const char *hex, rh_msg *m, rh_arena *a, rh_err *err)
{
    static unsigned char buf[1024];
    size_t n = unhex(hex, buf);
    return rh_msg_decode(buf, n, m, a, err);
}

static void accepts_any_field_order_and_skips_unknown_fields(void)
{
    rh_arena a;
    rh_arena_init(&a, 0);
    rh_msg m;
    /* commit=9, unknown varint 100, fixed64 101, fixed32 102, bytes 103,
     * group 104 { varint 1 }, then to=2, type=MsgApp */
    const char *hex = "4009"
                      "a00601"
                      "a9060102030405060708"
                      "b50601020304"
                      "ba0602aabb"
                      "c306" "0801" "c406"
                      "1002" "0803";
    CHECK(decode_hex(hex, &m, &a, NULL) == 0);
    CHECK_EQ_U64(m.commit, 9);
    CHECK_EQ_U64(m.to, 2);
    CHECK_EQ_U64(m.type, RH_MSG_APP);
    CHECK(!m.has_snapshot);
    /* a message without field 9 (raft 3.6) still encodes one (3.4 form) */
    CHECK(rh_msg_size(&m) > 16);
    rh_arena_free(&a);
}

static void merges_repeated_snapshot_and_packed_ids(void)
{
    rh_arena a;
    rh_arena_init(&a, 0);
    rh_msg m;
    /* snapshot{metadata{confstate{voters: 1 (unpacked)}}},
     * snapshot{metadata{confstate{voters: packed [2,300]}, index 5}} */
    const char *hex = "4a06" "1204" "0a02" "0801"
                      "4a0b" "1209" "0a05" "0a0302ac02" "1005";
    CHECK(decode_hex(hex, &m, &a, NULL) == 0);
    const rh_conf_state *cs = &m.snapshot.metadata.conf_state;
    CHECK_EQ_U64(cs->n_voters, 3);
    if (cs->n_voters == 3) {
        CHECK_EQ_U64(cs->voters[0], 1);
        CHECK_EQ_U64(cs->voters[1], 2);
        CHECK_EQ_U64(cs->voters[2], 300);
    }
    CHECK_EQ_U64(m.snapshot.metadata.index, 5);
    rh_arena_free(&a);
}

static void entries_interleaved_with_other_fields_keep_their_order(void)
{
    rh_arena a;
    rh_arena_init(&a, 0);
    rh_msg m;
    /* entry{index 1}, commit, entry{index 2}, entry{index 3}, commit, entry{4} */
    const char *hex = "3a021801" "4001" "3a021802" "3a021803" "4002" "3a021804";
    CHECK(decode_hex(hex, &m, &a, NULL) == 0);
    CHECK_EQ_U64(m.n_entries, 4);
    for (size_t i = 0; i < m.n_entries && i < 4; i++)
        CHECK_EQ_U64(m.entries[i].index, i + 1);
    CHECK_EQ_U64(m.commit, 2);
    rh_arena_free(&a);
}

static void ten_byte_varint_keeps_low_64_bits_as_go(void)
{
    rh_arena a;
    rh_arena_init(&a, 0);
    rh_msg m;
    /* to = 10-byte varint whose last byte carries extra bits (0x7f) */
    CHECK(decode_hex("10ffffffffffffffffff7f", &m, &a, NULL) == 0);
    CHECK(m.to == UINT64_MAX);
    rh_arena_free(&a);
}

/* rh_msg_size is what rh_msg_encode writes, with every varint field at every
 * width from 1 to 10 bytes (sizes are worked out without a loop). */
static void size_is_encoded_length_at_every_varint_width(void)
{
    static uint8_t buf[4096];
    static const uint8_t data[300];
    for (int b = 0; b < 64; b++) {
        const uint64_t vs[3] = {((uint64_t)1 << b) - 1, (uint64_t)1 << b,
                                ((uint64_t)1 << b) | (((uint64_t)1 << b) - 1)};
        for (int k = 0; k < 3; k++) {
            uint64_t v = vs[k];
            rh_entry e = {.term = v, .index = ~v, .data = {data, (size_t)(v % 300)}};
            rh_msg m = {.type = RH_MSG_APP, .to = v, .from = ~v, .term = v >> 1,
                        .log_term = v, .index = v, .entries = &e, .n_entries = 1,
                        .commit = v, .reject_hint = ~v >> 1};
            size_t n = rh_msg_size(&m);
            CHECK(n <= sizeof(buf));
            if (n <= sizeof(buf))
                CHECK_EQ_U64(rh_msg_encode(&m, buf), n);
            CHECK_EQ_U64(rh_entry_size(&e), rh_entry_encode(&e, buf));
        }
    }
}

static void expect_error(const char *name, const char *hex, int code, uint64_t off)
{
    rh_arena a;
    rh_arena_init(&a, 0);
    rh_msg m;
    rh_err err;
    int rc = decode_hex(hex, &m, &a, &err);
    if (rc != code || err.offset != off)
        fprintf(stderr, "  %s: rc %d (want %d) offset %llu (want %llu): %s\n", name,
                rc, code, (unsigned long long)err.offset, (unsigned long long)off,
                err.msg);
    CHECK(rc == code);
    CHECK_EQ_U64(err.offset, off);
    CHECK(err.msg[0] != 0);
    rh_arena_free(&a);
}

static void rejects_malformed_input_with_offsets(void)
{
    expect_error("truncated varint", "0803" "10ff", RH_ETRUNC, 2);
    expect_error("11-byte varint", "10ffffffffffffffffffff01", RH_EVARINT, 0);
    expect_error("length past end", "0803" "62ff01aa", RH_ETRUNC, 2);
    expect_error("wrong wire type", "0803" "12", RH_EWIRETYPE, 2);
    expect_error("entries as varint", "3805", RH_EWIRETYPE, 0);
    expect_error("wire type 6", "0e", RH_EWIRETYPE, 0);
    expect_error("wire type 7", "0803" "a70601", RH_EWIRETYPE, 2);
    expect_error("end group at top", "0c", RH_ETAG, 0);
    expect_error("field zero", "0001", RH_ETAG, 0);
    expect_error("unterminated group", "c306" "0801", RH_ETRUNC, 4);
    expect_error("truncated fixed64", "a906010203", RH_ETRUNC, 0);
    /* a bad entry inside: offset is the entry's own field, in outer terms */
    expect_error("bad entry", "3a03" "0803" "22", RH_ETRUNC, 4);
}

static void bounds_nesting_depth(void)
{
    /* groups nested 40 deep in an unknown field */
    char hex[1024] = "";
    for (int i = 0; i < 40; i++)
        strcat(hex, "c306");
    expect_error("deep groups", hex, RH_EDEPTH, 2 * (RH_PB_MAX_DEPTH));

    /* responses nested deeper than the limit */
    uint8_t buf[256];
    size_t n = 0;
    for (int depth = 0; depth < RH_PB_MAX_DEPTH + 2; depth++) {
        /* wrap the current buf as field 14 of a new message */
        uint8_t tmp[256];
        tmp[0] = 0x72;
        tmp[1] = (uint8_t)n;
        memcpy(tmp + 2, buf, n);
        n += 2;
        memcpy(buf, tmp, n);
    }
    rh_arena a;
    rh_arena_init(&a, 0);
    rh_msg m;
    rh_err err;
    CHECK(rh_msg_decode(buf, n, &m, &a, &err) == RH_EDEPTH);
    rh_arena_free(&a);
}

static void arena_limit_stops_amplification(void)
{
    /* 4096 empty entries: 8 KiB of input, 4096 * sizeof(rh_entry) decoded */
    size_t n = 4096 * 2;
    uint8_t *buf = malloc(n);
    for (size_t i = 0; i < n; i += 2) {
        buf[i] = 0x3a;
        buf[i + 1] = 0;
    }
    rh_arena a;
    rh_arena_init(&a, 64 * 1024);
    rh_msg m;
    rh_err err;
    CHECK(rh_msg_decode(buf, n, &m, &a, &err) == RH_ECOMPLEX);
    rh_arena_free(&a);
    rh_arena_init(&a, 0);
    CHECK(rh_msg_decode(buf, n, &m, &a, &err) == 0);
    CHECK_EQ_U64(m.n_entries, 4096);
    rh_arena_free(&a);
    free(buf);
}

static void every_prefix_decodes_or_fails_cleanly(void)
{
    unsigned char buf[512];
    size_t n = unhex(GO_APP, buf);
    rh_arena a;
    rh_arena_init(&a, 0);
    int ok = 0;
    for (size_t len = 0; len <= n; len++) {
        unsigned char *copy = malloc(len ? len : 1); /* ASan sees overreads */
        memcpy(copy, buf, len);
        rh_msg m;
        rh_err err;
        ok += rh_msg_decode(copy, len, &m, &a, &err) == 0;
        rh_arena_reset(&a);
        free(copy);
    }
    CHECK(ok > 1); /* field boundaries decode; the whole message does */
    rh_arena_free(&a);
}

/* The decoder's in-order fast path changes nothing: the same bytes behind an
 * unknown field (which the fast path does not expect, so the general loop
 * decodes all of it) give an equal message, or the same error 3 bytes on. */
static void fast_path_agrees_with_general_path(const unsigned char *buf, size_t n)
{
    static const unsigned char unknown[3] = {0xf8, 0x07, 0x00}; /* field 127 = 0 */
    unsigned char *p = malloc(n + sizeof(unknown));
    memcpy(p, unknown, sizeof(unknown));
    memcpy(p + sizeof(unknown), buf, n);
    rh_arena a, ga;
    rh_arena_init(&a, 0);
    rh_arena_init(&ga, 0);
    rh_msg m, g;
    rh_err em, eg;
    int rm = rh_msg_decode(buf, n, &m, &a, &em);
    int rg = rh_msg_decode(p, n + sizeof(unknown), &g, &ga, &eg);
    CHECK_EQ_U64(rm, rg);
    if (rm == 0 && rg == 0)
        CHECK(rh_msg_equal(&m, &g));
    if (rm != 0 && rg != 0) {
        CHECK_EQ_U64(em.offset + sizeof(unknown), eg.offset);
        CHECK(strcmp(em.msg, eg.msg) == 0);
    }
    rh_arena_free(&a);
    rh_arena_free(&ga);
    free(p);
}

static void in_order_fast_path_decodes_as_the_general_loop(void)
{
    unsigned char buf[512];
    const char *cases[] = {
        GO_EMPTY, GO_APP, GO_NEG,
        /* heartbeat between 8-byte IDs, as etcd sends it */
        "0808108d9291a3c9cd9b9f8e0118c681d9a6c7f4e1de9101200740d2094a0a12080a02280010"
        "00180050005800",
        /* fields out of order, repeated, and an entry behind the commit */
        "10021001080340093a0608001005180b4a0a12080a0228001000180050005800",
        /* an entry whose fields come out of order */
        "080310021801200528053009"
        "3a0a18071005080022026869400a",
        /* a snapshot that is not the empty one, then vote and context */
        "08071002180120052805300a40094a130a0173120e0a08080108021003280110071803"
        "5000580068046201ff",
        /* a length past the end, in the fast path's entries */
        "08031002180120052805300a3a7f",
        /* a varint that never ends, where the fast path reads the term */
        "0803100218012080808080808080808080",
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        fast_path_agrees_with_general_path(buf, unhex(cases[i], buf));
    size_t n = unhex(GO_APP, buf);
    for (size_t len = 0; len <= n; len++)
        fast_path_agrees_with_general_path(buf, len);
}

static void other_types_match_go_layout(void)
{
    uint8_t buf[64];
    rh_hard_state hs = {.term = 1, .vote = 2, .commit = 3};
    size_t n = rh_hard_state_encode(&hs, buf);
    CHECK_MEM(buf, n, "\x08\x01\x10\x02\x18\x03", (size_t)6);
    rh_hard_state hs2;
    CHECK(rh_hard_state_decode(buf, n, &hs2, NULL) == 0 && hs2.commit == 3);

    rh_conf_change cc = {.id = 7, .type = RH_CC_REMOVE_NODE, .node_id = 4,
                         .context = {(const uint8_t *)"x", 1}};
    n = rh_conf_change_encode(&cc, buf);
    CHECK_MEM(buf, n, "\x08\x07\x10\x01\x18\x04\x22\x01x", (size_t)9);

    rh_conf_change_single ch[2] = {{RH_CC_ADD_LEARNER_NODE, 5}, {RH_CC_ADD_NODE, 6}};
    rh_conf_change_v2 v2 = {.transition = RH_CCT_JOINT_EXPLICIT, .changes = ch,
                            .n_changes = 2};
    n = rh_conf_change_v2_encode(&v2, buf);
    CHECK_MEM(buf, n, "\x08\x02\x12\x04\x08\x03\x10\x05\x12\x04\x08\x00\x10\x06",
              (size_t)14);
    rh_arena a;
    rh_arena_init(&a, 0);
    rh_conf_change_v2 d;
    CHECK(rh_conf_change_v2_decode(buf, n, &d, &a, NULL) == 0);
    CHECK(d.n_changes == 2 && d.changes[1].node_id == 6 && d.context.data == NULL);
    rh_arena_free(&a);
}

static void names_cover_every_type(void)
{
    CHECK(strcmp(rh_msg_type_name(RH_MSG_FORGET_LEADER), "MsgForgetLeader") == 0);
    CHECK(rh_msg_type_name(24) == NULL);
    CHECK(rh_msg_type_name(-1) == NULL);
    for (int t = 0; t < RH_MSG_TYPE_COUNT; t++) {
        const char *nm = rh_msg_type_name(t);
        CHECK(rh_msg_type_from_name(nm, strlen(nm)) == t);
    }
    CHECK(rh_entry_type_from_name("EntryConfChangeV2", 17) == 2);
    CHECK(rh_msg_type_from_name("MsgAp", 5) == -1);
}

int main(void)
{
    TEST(encodes_zero_message_as_go);
    TEST(encodes_full_msgapp_as_go);
    TEST(encodes_negative_enum_sign_extended_as_go);
    TEST(decodes_go_bytes_to_equal_message);
    TEST(vote_and_responses_round_trip);
    TEST(accepts_any_field_order_and_skips_unknown_fields);
    TEST(merges_repeated_snapshot_and_packed_ids);
    TEST(entries_interleaved_with_other_fields_keep_their_order);
    TEST(ten_byte_varint_keeps_low_64_bits_as_go);
    TEST(size_is_encoded_length_at_every_varint_width);
    TEST(rejects_malformed_input_with_offsets);
    TEST(bounds_nesting_depth);
    TEST(arena_limit_stops_amplification);
    TEST(every_prefix_decodes_or_fails_cleanly);
    TEST(in_order_fast_path_decodes_as_the_general_loop);
    TEST(other_types_match_go_layout);
    TEST(names_cover_every_type);
    return CHECK_DONE();
}
