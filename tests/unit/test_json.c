/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The JSON module: the parser on valid, invalid and hostile input, the
 * writer helpers and base64, and raftpb <-> JSON as docs/json.md pins it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json/json.h"
#include "json/msg_json.h"
#include "rafthttp/raftpb.h"

static int failures, checks;

#define CHECK(cond)                                                            \
    do {                                                                       \
        checks++;                                                              \
        if (!(cond)) {                                                         \
            failures++;                                                        \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__,   \
                    #cond);                                                    \
        }                                                                      \
    } while (0)

/* Compares a buffer with an expected C string, printing both on mismatch. */
#define CHECK_TEXT(buf, len, want)                                             \
    do {                                                                       \
        checks++;                                                              \
        size_t wl_ = strlen(want);                                             \
        if ((len) != wl_ || memcmp((buf), (want), wl_) != 0) {                 \
            failures++;                                                        \
            fprintf(stderr, "%s:%d: text differs\n  got:  %.*s\n  want: %s\n", \
                    __FILE__, __LINE__, (int)(len), (const char *)(buf),       \
                    (want));                                                   \
        }                                                                      \
    } while (0)

#define RUN(fn)                                                                \
    do {                                                                       \
        int before_ = failures;                                                \
        fn();                                                                  \
        fprintf(stderr, "%s %s\n", failures == before_ ? "ok  " : "FAIL", #fn); \
    } while (0)

/* ---- helpers ------------------------------------------------------------ */

static bool contains(const char *buf, size_t len, const char *needle)
{
    size_t n = strlen(needle);
    for (size_t i = 0; i + n <= len; i++)
        if (memcmp(buf + i, needle, n) == 0)
            return true;
    return false;
}

static rh_json_parser P;

/* Parses s with the shared parser; the root, or NULL with *err filled. */
static const rh_json *parse(const char *s, rh_err *err)
{
    const rh_json *root = NULL;
    rh_err e;
    if (rh_json_parse(&P, s, strlen(s), &root, err ? err : &e))
        return NULL;
    return root;
}

static int parse_code(const char *s)
{
    rh_err e;
    const rh_json *root;
    return rh_json_parse(&P, s, strlen(s), &root, &e);
}

/* ---- parser: valid input ------------------------------------------------ */

static void test_parse_values_of_every_type(void)
{
    const rh_json *r = parse(" {\"a\":[1,-2,true,false,null,\"s\",1.5e3,{}],\"b\":{}}\n", NULL);
    CHECK(r && r->type == RH_JSON_OBJECT && r->n == 2);
    if (!r)
        return;
    const rh_json *a = rh_json_get(r, "a");
    CHECK(a && a->type == RH_JSON_ARRAY && a->n == 8);
    if (!a || a->n != 8)
        return;
    CHECK(a->items[0].type == RH_JSON_INT && a->items[0].u == 1 && !a->items[0].neg);
    CHECK(a->items[1].type == RH_JSON_INT && a->items[1].u == 2 && a->items[1].neg);
    CHECK(a->items[2].type == RH_JSON_TRUE);
    CHECK(a->items[3].type == RH_JSON_FALSE);
    CHECK(a->items[4].type == RH_JSON_NULL);
    CHECK(rh_json_str_eq(&a->items[5], "s"));
    CHECK(a->items[6].type == RH_JSON_REAL && a->items[6].n == 5 &&
          memcmp(a->items[6].s, "1.5e3", 5) == 0);
    CHECK(a->items[7].type == RH_JSON_OBJECT && a->items[7].n == 0);
    CHECK(a->items[2].pos == 12); /* positions point at the value */
    CHECK(rh_json_get(r, "b") && rh_json_get(r, "b")->type == RH_JSON_OBJECT);
    CHECK(rh_json_get(r, "c") == NULL);
}

static void test_parse_integers_exact_to_64_bits(void)
{
    uint64_t u;
    int64_t i;
    const rh_json *r = parse("18446744073709551615", NULL);
    CHECK(r && rh_json_as_u64(r, &u) && u == UINT64_MAX);
    CHECK(r && !rh_json_as_i64(r, &i));
    r = parse("-9223372036854775808", NULL);
    CHECK(r && rh_json_as_i64(r, &i) && i == INT64_MIN);
    CHECK(r && !rh_json_as_u64(r, &u));
    r = parse("9223372036854775807", NULL);
    CHECK(r && rh_json_as_i64(r, &i) && i == INT64_MAX);
    r = parse("-0", NULL);
    CHECK(r && r->type == RH_JSON_INT && !r->neg && r->u == 0);
    r = parse("0", NULL);
    CHECK(r && rh_json_as_u64(r, &u) && u == 0);
}

static void test_parse_rejects_integers_out_of_range(void)
{
    rh_err e;
    CHECK(parse("18446744073709551616", &e) == NULL);
    CHECK(e.code == RH_ETOOBIG && e.offset == 0);
    CHECK(strstr(e.msg, "18446744073709551616") != NULL);
    CHECK(parse("[1, 99999999999999999999999999999999999999999999999999]", &e) == NULL);
    CHECK(e.code == RH_ETOOBIG && e.offset == 4);
    CHECK(parse("-9223372036854775809", &e) == NULL && e.code == RH_ETOOBIG);
    /* with a fraction it is a real number, not an integer: kept as text */
    const rh_json *r = parse("18446744073709551616.0", NULL);
    CHECK(r && r->type == RH_JSON_REAL);
}

static void test_parse_string_escapes(void)
{
    const rh_json *r = parse("\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\\u00e9\\u20ac\"", NULL);
    CHECK(r && r->type == RH_JSON_STRING);
    if (r)
        CHECK_TEXT(r->s, r->n, "a\"b\\c/d\b\f\n\r\t\xc3\xa9\xe2\x82\xac");
    r = parse("\"\\ud83d\\ude00\"", NULL); /* surrogate pair: U+1F600 */
    if (r)
        CHECK_TEXT(r->s, r->n, "\xf0\x9f\x98\x80");
    CHECK(r != NULL);
    r = parse("\"x\\ud83dy\"", NULL); /* lone surrogate: U+FFFD, as Go */
    if (r)
        CHECK_TEXT(r->s, r->n, "x\xef\xbf\xbdy");
    CHECK(r != NULL);
    r = parse("\"\\u0000\"", NULL);
    CHECK(r && r->n == 1 && r->s[0] == 0);
    r = parse("\"h\xc3\xa9llo\"", NULL); /* raw UTF-8 passes */
    CHECK(r && r->n == 6);
    r = parse("\"plain\"", NULL); /* no escapes: points into the text */
    CHECK(r && r->n == 5);
}

static void test_parse_last_duplicate_key_wins(void)
{
    const rh_json *r = parse("{\"k\":1,\"k\":2}", NULL);
    uint64_t u = 0;
    CHECK(r && rh_json_as_u64(rh_json_get(r, "k"), &u) && u == 2);
}

static void test_parse_depth_limit(void)
{
    char buf[2 * RH_JSON_MAX_DEPTH + 8];
    size_t n = 0;
    for (int i = 0; i < RH_JSON_MAX_DEPTH; i++)
        buf[n++] = '[';
    for (int i = 0; i < RH_JSON_MAX_DEPTH; i++)
        buf[n++] = ']';
    buf[n] = 0;
    CHECK(parse(buf, NULL) != NULL);

    n = 0;
    for (int i = 0; i <= RH_JSON_MAX_DEPTH; i++)
        buf[n++] = '[';
    for (int i = 0; i <= RH_JSON_MAX_DEPTH; i++)
        buf[n++] = ']';
    buf[n] = 0;
    rh_err e;
    CHECK(parse(buf, &e) == NULL && e.code == RH_EDEPTH &&
          e.offset == RH_JSON_MAX_DEPTH);

    /* a million opening brackets: an error, not a stack overflow */
    size_t big = 1000000;
    char *deep = malloc(big + 1);
    memset(deep, '[', big);
    deep[big] = 0;
    CHECK(parse(deep, &e) == NULL && e.code == RH_EDEPTH);
    memset(deep, '{', big);
    CHECK(parse(deep, &e) == NULL);
    free(deep);
}

/* ---- parser: invalid and hostile input ---------------------------------- */

static void test_parse_rejects_malformed_input(void)
{
    static const char *const bad[] = {
        "", " ", "{", "}", "[", "]", "[1,]", "[,1]", "[1 2]", "{\"a\"}", "{\"a\":}",
        "{\"a\":1,}", "{a:1}", "{\"a\" 1}", "{1:1}", "01", "-", "-a", "1.", ".5",
        "1e", "1e+", "+1", "tru", "nul", "falsey", "True", "\"abc", "\"\\x\"",
        "\"\\u12\"", "\"\\u12G4\"", "\"\\", "\"a\nb\"", "\"\x01\"", "\"\xff\"",
        "\"\xc0\xaf\"", "\"\xed\xa0\x80\"", "\"\xf4\x90\x80\x80\"", "\"\xe2\x82\"",
        "\"\\\xc3\xa9\"", "1 2", "{}x", "[]]", "nan", "Infinity", "'a'", "\xef\xbb\xbf{}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        rh_err e;
        int rc = parse_code(bad[i]);
        CHECK(rc < 0);
        if (rc >= 0)
            fprintf(stderr, "  accepted: %s\n", bad[i]);
        CHECK(parse(bad[i], &e) == NULL && e.msg[0] != 0 &&
              strncmp(e.msg, "invalid JSON at byte ", 21) == 0);
    }
}

static void test_parse_error_says_where(void)
{
    rh_err e;
    CHECK(parse("[1,2,x]", &e) == NULL);
    CHECK(e.code == RH_EINVAL && e.offset == 5);
    CHECK(strcmp(e.msg, "invalid JSON at byte 5: expected a value, found 'x'") == 0);
    CHECK(parse("{\"a\":1 \"b\":2}", &e) == NULL && e.offset == 7);
    CHECK(strstr(e.msg, "expected ',' or '}' in object") != NULL);
    CHECK(parse("\"ab\\qc\"", &e) == NULL && e.offset == 3);
    CHECK(strstr(e.msg, "invalid escape '\\q'") != NULL);
    CHECK(parse("  \"abc", &e) == NULL && e.offset == 2);
    CHECK(strstr(e.msg, "unterminated string") != NULL);
}

/* Every proper prefix of a valid document is an error (no crash, no read
 * past the end: ASan watches), and the whole document parses. */
static void test_parse_every_truncation_fails(void)
{
    const char *doc = "{\"type\":\"MsgApp\",\"to\":\"8e9e05c52164694d\",\"entries\":"
                      "[{\"term\":5,\"data\":\"aGVsbG8=\"}],\"x\":[-1.5e-3,true,null,"
                      "\"\\u00e9\\ud83d\\ude00\"],\"n\":18446744073709551615}";
    size_t n = strlen(doc);
    for (size_t cut = 0; cut < n; cut++) {
        char *copy = malloc(cut ? cut : 1); /* exact size: ASan sees overreads */
        memcpy(copy, doc, cut);
        const rh_json *root;
        rh_err e;
        CHECK(rh_json_parse(&P, copy, cut, &root, &e) < 0);
        free(copy);
    }
    CHECK(parse(doc, NULL) != NULL);
}

static void test_parse_limits_input_and_tree_size(void)
{
    rh_json_parser small;
    const rh_json *root;
    rh_err e;
    rh_json_parser_init(&small, 16, 0);
    CHECK(rh_json_parse(&small, "[1,2,3,4,5,6,7,8]", 17, &root, &e) == RH_ETOOBIG);
    CHECK(rh_json_parse(&small, "[1,2,3,4,5,6,7]", 15, &root, &e) == 0);
    rh_json_parser_free(&small);

    /* 100k elements need ~3 MB of tree: refused under a 1 MB limit */
    size_t count = 100000;
    char *arr = malloc(count * 2 + 2);
    size_t n = 0;
    arr[n++] = '[';
    for (size_t i = 0; i < count; i++) {
        arr[n++] = '0';
        arr[n++] = ',';
    }
    arr[n - 1] = ']';
    rh_json_parser_init(&small, 0, 1u << 20);
    CHECK(rh_json_parse(&small, arr, n, &root, &e) == RH_ECOMPLEX);
    CHECK(strstr(e.msg, "more than") != NULL);
    rh_json_parser_free(&small);
    rh_json_parser_init(&small, 0, 0);
    CHECK(rh_json_parse(&small, arr, n, &root, &e) == 0 && root->n == count);
    rh_json_parser_free(&small);
    free(arr);
}

static void test_parser_is_reusable(void)
{
    for (int i = 0; i < 1000; i++) {
        const rh_json *r = parse("{\"a\":[1,2,{\"b\":\"c\\n\"}],\"d\":\"e\"}", NULL);
        CHECK(r && r->n == 2);
        CHECK(parse("[1,", NULL) == NULL);
    }
}

/* ---- writer and base64 -------------------------------------------------- */

static void test_put_string_escapes(void)
{
    rh_buf b;
    rh_buf_init(&b);
    rh_json_put_string(&b, "a\"b\\c\n\t\x01\x7f/", 10);
    CHECK_TEXT(b.data, b.len, "\"a\\\"b\\\\c\\n\\t\\u0001\x7f/\"");
    rh_buf_reset(&b);
    rh_json_put_string(&b, "h\xc3\xa9 \xff\xc3 \xed\xa0\x80 ok", 13);
    CHECK_TEXT(b.data, b.len, "\"h\xc3\xa9 \\ufffd\\ufffd \\ufffd\\ufffd\\ufffd ok\"");
    rh_buf_reset(&b);
    rh_json_put_string(&b, "", 0);
    CHECK_TEXT(b.data, b.len, "\"\"");
    CHECK(!b.failed);
    rh_buf_free(&b);
}

static void test_put_numbers(void)
{
    rh_buf b;
    rh_buf_init(&b);
    rh_json_put_u64(&b, 0);
    rh_buf_putc(&b, ' ');
    rh_json_put_u64(&b, UINT64_MAX);
    rh_buf_putc(&b, ' ');
    rh_json_put_i64(&b, INT64_MIN);
    rh_buf_putc(&b, ' ');
    rh_json_put_i64(&b, -1);
    rh_buf_putc(&b, ' ');
    rh_json_put_i64(&b, INT64_MAX);
    rh_buf_putc(&b, ' ');
    rh_json_put_bool(&b, true);
    rh_json_put_bool(&b, false);
    CHECK_TEXT(b.data, b.len,
               "0 18446744073709551615 -9223372036854775808 -1 9223372036854775807 "
               "truefalse");
    rh_buf_free(&b);
}

static void test_base64_rfc4648_vectors(void)
{
    static const char *const plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *const enc[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=",
                                      "Zm9vYmFy"};
    for (int i = 0; i < 7; i++) {
        char out[16];
        uint8_t dec[16];
        size_t pl = strlen(plain[i]), n, bad;
        CHECK(rh_base64_encoded_len(pl) == strlen(enc[i]));
        n = rh_base64_encode((const uint8_t *)plain[i], pl, out);
        CHECK_TEXT(out, n, enc[i]);
        CHECK(rh_base64_decode(enc[i], strlen(enc[i]), dec, &n, &bad) == 0);
        CHECK(n == pl && memcmp(dec, plain[i], pl) == 0);
    }
    /* all byte values survive */
    uint8_t all[256], back[260];
    char text[400];
    for (int i = 0; i < 256; i++)
        all[i] = (uint8_t)i;
    size_t tl = rh_base64_encode(all, 256, text), bl, bad;
    CHECK(rh_base64_decode(text, tl, back, &bl, &bad) == 0 && bl == 256 &&
          memcmp(all, back, 256) == 0);
    rh_buf b;
    rh_buf_init(&b);
    rh_json_put_base64(&b, (const uint8_t *)"hello", 5);
    CHECK_TEXT(b.data, b.len, "\"aGVsbG8=\"");
    rh_buf_free(&b);
}

static void test_base64_decode_rejects_bad_input(void)
{
    uint8_t out[32];
    size_t n, bad = 99;
    CHECK(rh_base64_decode("Zm8", 3, out, &n, &bad) == 0 && n == 2); /* unpadded */
    CHECK(rh_base64_decode("Zg", 2, out, &n, &bad) == 0 && n == 1);
    CHECK(rh_base64_decode("Zg=", 3, out, &n, &bad) == RH_EINVAL);
    CHECK(rh_base64_decode("Z", 1, out, &n, &bad) == RH_EINVAL && bad == 0);
    CHECK(rh_base64_decode("Zm9v!A==", 8, out, &n, &bad) == RH_EINVAL && bad == 4);
    CHECK(rh_base64_decode("Zg==Zg==", 8, out, &n, &bad) == RH_EINVAL && bad == 2);
    CHECK(rh_base64_decode("Zm9vY===", 8, out, &n, &bad) == RH_EINVAL);
    CHECK(rh_base64_decode("Zm9v-_==", 8, out, &n, &bad) == RH_EINVAL && bad == 4);
    CHECK(rh_base64_decode("====", 4, out, &n, &bad) == RH_EINVAL);
}

/* ---- raftpb -> JSON ------------------------------------------------------ */

static const uint64_t voters[] = {1, 2, 3};
static const uint64_t learners[] = {4};
static const uint8_t hello[] = "hello";
static const uint8_t nothing[1];

/* A message touching every rule of the MSG form. */
static void build_message(rh_msg *m, rh_entry *ents, rh_msg *resp)
{
    memset(m, 0, sizeof(*m));
    memset(resp, 0, sizeof(*resp));
    ents[0] = (rh_entry){.term = 5, .index = 11, .type = RH_ENTRY_NORMAL,
                         .data = {hello, 5}};
    ents[1] = (rh_entry){.term = 5, .index = 12, .type = RH_ENTRY_CONF_CHANGE_V2,
                         .data = {nothing, 0}};
    ents[2] = (rh_entry){.term = 6, .index = 13, .type = 7};
    m->type = RH_MSG_APP;
    m->to = 0x8e9e05c52164694dull;
    m->from = 1;
    m->term = 6;
    m->log_term = 5;
    m->index = 10;
    m->entries = ents;
    m->n_entries = 3;
    m->commit = UINT64_MAX;
    m->has_snapshot = true;
    m->snapshot.data = (rh_bytes){hello, 2};
    m->snapshot.metadata.index = 9;
    m->snapshot.metadata.term = 4;
    m->snapshot.metadata.conf_state.voters = voters;
    m->snapshot.metadata.conf_state.n_voters = 3;
    m->snapshot.metadata.conf_state.learners = learners;
    m->snapshot.metadata.conf_state.n_learners = 1;
    m->snapshot.metadata.conf_state.auto_leave = true;
    m->reject = true;
    m->reject_hint = 7;
    m->context = (rh_bytes){nothing, 0};
    m->has_vote = true;
    m->vote = 3;
    resp->type = -1;
    resp->to = 2;
    m->responses = resp;
    m->n_responses = 1;
}

static const char message_json[] =
    "{\"type\":\"MsgApp\",\"to\":10276657743932975437,\"from\":1,\"term\":6,"
    "\"logTerm\":5,\"index\":10,\"commit\":18446744073709551615,\"entries\":["
    "{\"term\":5,\"index\":11,\"type\":\"EntryNormal\",\"data\":\"aGVsbG8=\"},"
    "{\"term\":5,\"index\":12,\"type\":\"EntryConfChangeV2\",\"data\":\"\"},"
    "{\"term\":6,\"index\":13,\"type\":7}],\"reject\":true,\"rejectHint\":7,"
    "\"context\":\"\",\"snapshot\":{\"data\":\"aGU=\",\"metadata\":{\"index\":9,"
    "\"term\":4,\"confState\":{\"voters\":[1,2,3],\"learners\":[4],"
    "\"votersOutgoing\":[],\"learnersNext\":[],\"autoLeave\":true}}},\"vote\":3,"
    "\"responses\":[{\"type\":-1,\"to\":2,\"from\":0,\"term\":0,\"logTerm\":0,"
    "\"index\":0,\"commit\":0,\"entries\":[],\"reject\":false,\"rejectHint\":0}]}";

static void test_msg_to_json_exact_text(void)
{
    rh_msg m, resp;
    rh_entry ents[3];
    build_message(&m, ents, &resp);
    rh_buf b;
    rh_buf_init(&b);
    rh_json_put_msg(&b, &m);
    CHECK_TEXT(b.data, b.len, message_json);
    rh_buf_free(&b);
}

static void test_msg_to_json_minimal_message(void)
{
    rh_msg m;
    memset(&m, 0, sizeof(m));
    m.type = RH_MSG_HEARTBEAT;
    m.has_snapshot = true; /* etcd 3.4 always sends one */
    rh_buf b;
    rh_buf_init(&b);
    rh_json_put_msg(&b, &m);
    CHECK_TEXT(b.data, b.len,
               "{\"type\":\"MsgHeartbeat\",\"to\":0,\"from\":0,\"term\":0,\"logTerm\":0,"
               "\"index\":0,\"commit\":0,\"entries\":[],\"reject\":false,"
               "\"rejectHint\":0,\"snapshot\":{\"metadata\":{\"index\":0,\"term\":0,"
               "\"confState\":{\"voters\":[],\"learners\":[],\"votersOutgoing\":[],"
               "\"learnersNext\":[],\"autoLeave\":false}}}}");
    rh_buf_reset(&b);
    m.type = RH_MSG_FORGET_LEADER;
    m.has_snapshot = false;
    rh_json_put_msg(&b, &m);
    CHECK(b.len > 30 && memcmp(b.data, "{\"type\":\"MsgForgetLeader\"", 25) == 0);
    CHECK(!contains(b.data, b.len, "snapshot"));
    m.type = 24;
    rh_buf_reset(&b);
    rh_json_put_msg(&b, &m);
    CHECK(memcmp(b.data, "{\"type\":24,", 11) == 0);
    rh_buf_free(&b);
}

/* ---- JSON -> raftpb ------------------------------------------------------ */

/* Parses s and reads it as a message into arena A. */
static rh_arena A;
static int read_msg(const char *s, unsigned flags, rh_msg *m, rh_err *e)
{
    const rh_json *root;
    memset(m, 0, sizeof(*m)); /* a failed CHECK must not leave garbage behind */
    int rc = rh_json_parse(&P, s, strlen(s), &root, e);
    if (rc)
        return rc;
    rh_arena_reset(&A);
    return rh_json_to_msg(root, flags, &A, m, e);
}

static void test_json_to_msg_round_trip(void)
{
    rh_msg m, resp, back;
    rh_entry ents[3];
    rh_err e;
    build_message(&m, ents, &resp);
    CHECK(read_msg(message_json, RH_MSGJSON_STRICT, &back, &e) == 0);
    CHECK(rh_msg_equal(&m, &back));
    CHECK(back.has_snapshot && back.has_vote);
    rh_buf b;
    rh_buf_init(&b);
    rh_json_put_msg(&b, &back);
    CHECK_TEXT(b.data, b.len, message_json);
    rh_buf_free(&b);

    /* the same through the owning helper */
    rh_msg *owned = rh_msg_from_json_text(message_json, strlen(message_json),
                                          RH_MSGJSON_STRICT, &e);
    CHECK(owned && rh_msg_equal(&m, owned));
    rh_msg_free(owned);
}

static void test_json_to_msg_loose_vs_strict_bytes(void)
{
    rh_msg m;
    rh_err e;
    const char *s = "{\"context\":\"\",\"entries\":[{\"data\":\"\"},{\"data\":null},{}],"
                    "\"snapshot\":{\"data\":\"\"}}";
    CHECK(read_msg(s, 0, &m, &e) == 0);
    CHECK(m.context.data == NULL && m.n_entries == 3);
    CHECK(m.n_entries == 3 && m.entries[0].data.data == NULL &&
          m.entries[1].data.data == NULL);
    CHECK(m.snapshot.data.data == NULL);
    CHECK(read_msg(s, RH_MSGJSON_STRICT, &m, &e) == 0);
    CHECK(m.context.data != NULL && m.context.len == 0);
    CHECK(m.n_entries == 3 && m.entries[0].data.data != NULL && m.entries[0].data.len == 0);
    CHECK(m.n_entries == 3 && m.entries[1].data.data == NULL &&
          m.entries[2].data.data == NULL);
    CHECK(m.snapshot.data.data != NULL && m.snapshot.data.len == 0);
    CHECK(read_msg("{\"context\":null}", RH_MSGJSON_STRICT, &m, &e) == 0 &&
          m.context.data == NULL);
    CHECK(read_msg("{\"context\":\"AAE=\"}", 0, &m, &e) == 0 && m.context.len == 2 &&
          m.context.data[0] == 0 && m.context.data[1] == 1);
}

static void test_json_to_msg_missing_keys_are_zero_extra_ignored(void)
{
    rh_msg m, zero;
    rh_err e;
    memset(&zero, 0, sizeof(zero));
    CHECK(read_msg("{}", 0, &m, &e) == 0 && rh_msg_equal(&m, &zero));
    CHECK(!m.has_snapshot && !m.has_vote && m.entries == NULL);
    CHECK(read_msg("{\"commit\":9,\"bogus\":[1,{\"x\":null}],\"type\":\"MsgHeartbeat\","
                   "\"term\":null,\"time\":\"now\",\"from\":2}",
                   0, &m, &e) == 0);
    CHECK(m.type == RH_MSG_HEARTBEAT && m.commit == 9 && m.from == 2 && m.term == 0);
    CHECK(read_msg("{\"vote\":0}", 0, &m, &e) == 0 && m.has_vote && m.vote == 0);
    CHECK(read_msg("{\"vote\":null}", 0, &m, &e) == 0 && !m.has_vote);
    CHECK(read_msg("{\"snapshot\":{}}", 0, &m, &e) == 0 && m.has_snapshot);
}

static void test_json_to_msg_ids_as_numbers_or_hex(void)
{
    rh_msg m;
    rh_err e;
    CHECK(read_msg("{\"to\":\"8e9e05c52164694d\",\"from\":\"0x1F\",\"vote\":\"FFFFFFFFFFFFFFFF\"}",
                   0, &m, &e) == 0);
    CHECK(m.to == 0x8e9e05c52164694dull && m.from == 31 && m.vote == UINT64_MAX);
    CHECK(read_msg("{\"to\":18446744073709551615}", 0, &m, &e) == 0 && m.to == UINT64_MAX);
    CHECK(read_msg("{\"to\":\"10\"}", 0, &m, &e) == 0 && m.to == 16); /* strings are hex */
    CHECK(read_msg("{\"snapshot\":{\"metadata\":{\"confState\":{\"voters\":[\"a\",2]}}}}",
                   0, &m, &e) == 0);
    CHECK(m.snapshot.metadata.conf_state.n_voters == 2 &&
          m.snapshot.metadata.conf_state.voters[0] == 10);
    static const char *const bad[] = {
        "{\"to\":\"\"}", "{\"to\":\"0x\"}", "{\"to\":\"12345678901234567\"}",
        "{\"to\":\"8e9e05c52164694g\"}", "{\"to\":-1}", "{\"to\":1.0}", "{\"from\":true}",
        "{\"vote\":\" 1\"}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        CHECK(read_msg(bad[i], 0, &m, &e) == RH_EINVAL);
    CHECK(read_msg("{\"to\":\"xyz\"}", 0, &m, &e) == RH_EINVAL && e.offset == 6);
    CHECK(strncmp(e.msg, "to: invalid member ID \"xyz\"", 27) == 0);
}

static void test_json_to_msg_types_by_name_or_number(void)
{
    rh_msg m;
    rh_err e;
    CHECK(read_msg("{\"type\":\"MsgApp\"}", 0, &m, &e) == 0 && m.type == RH_MSG_APP);
    CHECK(read_msg("{\"type\":3}", 0, &m, &e) == 0 && m.type == RH_MSG_APP);
    CHECK(read_msg("{\"type\":\"MsgForgetLeader\"}", 0, &m, &e) == 0 && m.type == 23);
    CHECK(read_msg("{\"type\":24}", 0, &m, &e) == 0 && m.type == 24);
    CHECK(read_msg("{\"type\":-1}", 0, &m, &e) == 0 && m.type == -1);
    CHECK(read_msg("{\"type\":-2147483648}", 0, &m, &e) == 0 && m.type == INT32_MIN);
    CHECK(read_msg("{\"type\":2147483648}", 0, &m, &e) == RH_EINVAL);
    CHECK(read_msg("{\"type\":\"msgapp\"}", 0, &m, &e) == RH_EINVAL);
    CHECK(strcmp(e.msg, "type: unknown message type \"msgapp\"") == 0);
    CHECK(read_msg("{\"entries\":[{\"type\":\"EntryConfChange\"},{\"type\":9}]}", 0, &m,
                   &e) == 0);
    CHECK(m.n_entries == 2 && m.entries[0].type == RH_ENTRY_CONF_CHANGE &&
          m.entries[1].type == 9);
    CHECK(read_msg("{\"entries\":[{\"type\":\"MsgApp\"}]}", 0, &m, &e) == RH_EINVAL);
}

static void test_json_to_msg_errors_name_the_path(void)
{
    rh_msg m;
    rh_err e;
    const char *s = "{\"entries\":[{},{\"index\":\"5\"}]}";
    CHECK(read_msg(s, 0, &m, &e) == RH_EINVAL);
    CHECK(strcmp(e.msg, "entries[1].index: expected an unsigned integer, got string") == 0);
    CHECK(e.offset == strlen("{\"entries\":[{},{\"index\":"));
    CHECK(read_msg("{\"snapshot\":{\"metadata\":{\"confState\":{\"learners\":[1,-2]}}}}",
                   0, &m, &e) == RH_EINVAL);
    CHECK(strncmp(e.msg, "snapshot.metadata.confState.learners[1]: ", 41) == 0);
    CHECK(read_msg("{\"entries\":[{\"data\":\"!!\"}]}", 0, &m, &e) == RH_EINVAL);
    CHECK(strcmp(e.msg, "entries[0].data: invalid base64 at character 0") == 0);
    CHECK(read_msg("[]", 0, &m, &e) == RH_EINVAL);
    CHECK(strcmp(e.msg, "message: expected an object, got array") == 0);
    CHECK(read_msg("{\"entries\":{}}", 0, &m, &e) == RH_EINVAL);
    CHECK(read_msg("{\"entries\":[1]}", 0, &m, &e) == RH_EINVAL);
    CHECK(strcmp(e.msg, "entries[0]: expected an object, got integer") == 0);
    CHECK(read_msg("{\"reject\":1}", 0, &m, &e) == RH_EINVAL);
    CHECK(read_msg("{\"responses\":[{\"term\":-3}]}", 0, &m, &e) == RH_EINVAL);
    CHECK(strcmp(e.msg, "responses[0].term: expected an unsigned integer, got -3") == 0);
}

static void test_json_to_msg_limits_response_nesting(void)
{
    /* RH_PB_MAX_DEPTH levels of messages are fine, one more is not */
    char buf[2048];
    for (int levels = RH_PB_MAX_DEPTH; levels <= RH_PB_MAX_DEPTH + 1; levels++) {
        size_t n = 0;
        for (int i = 1; i < levels; i++)
            n += (size_t)snprintf(buf + n, sizeof(buf) - n, "{\"term\":%d,\"responses\":[", i);
        n += (size_t)snprintf(buf + n, sizeof(buf) - n, "{\"term\":99}");
        for (int i = 1; i < levels; i++)
            n += (size_t)snprintf(buf + n, sizeof(buf) - n, "]}");
        rh_msg m;
        rh_err e;
        int rc = read_msg(buf, 0, &m, &e);
        CHECK(levels == RH_PB_MAX_DEPTH ? rc == 0 : rc == RH_EDEPTH);
        if (rc == 0) {
            /* and the protobuf decoder takes what the encoder makes of it */
            size_t sz = rh_msg_size(&m);
            uint8_t *wire = malloc(sz);
            rh_msg_encode(&m, wire);
            rh_arena ar;
            rh_msg d;
            rh_arena_init(&ar, 0);
            CHECK(rh_msg_decode(wire, sz, &d, &ar, &e) == 0 && rh_msg_equal(&m, &d));
            rh_arena_free(&ar);
            free(wire);
        }
    }
}

static void test_json_to_msg_survives_arena_limit(void)
{
    rh_arena tiny;
    rh_msg m;
    rh_err e;
    const rh_json *root;
    const char *s = "{\"entries\":[{},{},{},{},{},{},{},{},{},{}]}";
    rh_arena_init(&tiny, 64);
    CHECK(rh_json_parse(&P, s, strlen(s), &root, &e) == 0);
    CHECK(rh_json_to_msg(root, 0, &tiny, &m, &e) == RH_ECOMPLEX);
    rh_arena_free(&tiny);
}

/* ---- other raft.proto types --------------------------------------------- */

static const rh_json *parse_ok(const char *s)
{
    rh_err e;
    const rh_json *r = parse(s, &e);
    if (!r)
        fprintf(stderr, "  parse failed: %s\n", e.msg);
    return r;
}

static void test_records_round_trip(void)
{
    rh_buf b;
    rh_err e;
    rh_buf_init(&b);

    const char *entry = "{\"kind\":\"Entry\",\"term\":1,\"index\":2,\"type\":-5,\"data\":\"\"}";
    rh_entry en;
    CHECK(rh_json_to_entry(parse_ok(entry), RH_MSGJSON_STRICT, &A, &en, &e) == 0);
    CHECK(en.term == 1 && en.index == 2 && en.type == -5 && en.data.data && !en.data.len);
    rh_json_put_entry_record(&b, &en);
    CHECK_TEXT(b.data, b.len, entry);

    const char *snap = "{\"kind\":\"Snapshot\",\"data\":\"AA==\",\"metadata\":{\"index\":3,"
                       "\"term\":4,\"confState\":{\"voters\":[1],\"learners\":[],"
                       "\"votersOutgoing\":[2,3],\"learnersNext\":[5],\"autoLeave\":true}}}";
    rh_snapshot sn;
    CHECK(rh_json_to_snapshot(parse_ok(snap), RH_MSGJSON_STRICT, &A, &sn, &e) == 0);
    CHECK(sn.data.len == 1 && sn.metadata.conf_state.n_voters_outgoing == 2 &&
          sn.metadata.conf_state.learners_next[0] == 5 && sn.metadata.conf_state.auto_leave);
    rh_buf_reset(&b);
    rh_json_put_snapshot_record(&b, &sn);
    CHECK_TEXT(b.data, b.len, snap);

    const char *cs = "{\"kind\":\"ConfState\",\"voters\":[],\"learners\":[7],"
                     "\"votersOutgoing\":[],\"learnersNext\":[],\"autoLeave\":false}";
    rh_conf_state c;
    CHECK(rh_json_to_conf_state(parse_ok(cs), RH_MSGJSON_STRICT, &A, &c, &e) == 0);
    rh_buf_reset(&b);
    rh_json_put_conf_state_record(&b, &c);
    CHECK_TEXT(b.data, b.len, cs);

    const char *hs = "{\"kind\":\"HardState\",\"term\":18446744073709551615,\"vote\":2,"
                     "\"commit\":3}";
    rh_hard_state h;
    CHECK(rh_json_to_hard_state(parse_ok(hs), RH_MSGJSON_STRICT, &h, &e) == 0);
    CHECK(h.term == UINT64_MAX && h.vote == 2 && h.commit == 3);
    rh_buf_reset(&b);
    rh_json_put_hard_state_record(&b, &h);
    CHECK_TEXT(b.data, b.len, hs);

    const char *cc = "{\"kind\":\"ConfChange\",\"id\":9,\"type\":3,\"nodeId\":4,"
                     "\"context\":\"aGk=\"}";
    rh_conf_change ch;
    CHECK(rh_json_to_conf_change(parse_ok(cc), RH_MSGJSON_STRICT, &A, &ch, &e) == 0);
    CHECK(ch.type == RH_CC_ADD_LEARNER_NODE && ch.context.len == 2);
    rh_buf_reset(&b);
    rh_json_put_conf_change_record(&b, &ch);
    CHECK_TEXT(b.data, b.len, cc);
    CHECK(rh_json_to_conf_change(parse_ok("{\"type\":\"ConfChangeRemoveNode\"}"), 0, &A,
                                 &ch, &e) == 0 &&
          ch.type == RH_CC_REMOVE_NODE && ch.context.data == NULL);

    const char *ccs = "{\"kind\":\"ConfChangeSingle\",\"type\":1,\"nodeId\":2}";
    rh_conf_change_single s1;
    CHECK(rh_json_to_conf_change_single(parse_ok(ccs), RH_MSGJSON_STRICT, &s1, &e) == 0);
    rh_buf_reset(&b);
    rh_json_put_conf_change_single_record(&b, &s1);
    CHECK_TEXT(b.data, b.len, ccs);

    const char *v2 = "{\"kind\":\"ConfChangeV2\",\"transition\":2,\"changes\":[{\"type\":0,"
                     "\"nodeId\":1},{\"type\":3,\"nodeId\":5}]}";
    rh_conf_change_v2 c2;
    CHECK(rh_json_to_conf_change_v2(parse_ok(v2), RH_MSGJSON_STRICT, &A, &c2, &e) == 0);
    CHECK(c2.n_changes == 2 && c2.changes[1].node_id == 5 && c2.context.data == NULL);
    rh_buf_reset(&b);
    rh_json_put_conf_change_v2_record(&b, &c2);
    CHECK_TEXT(b.data, b.len, v2);
    CHECK(rh_json_to_conf_change_v2(parse_ok("{\"changes\":[{\"nodeId\":\"x\"}]}"), 0, &A,
                                    &c2, &e) == RH_EINVAL);
    CHECK(strncmp(e.msg, "changes[0].nodeId: ", 19) == 0);
    CHECK(!b.failed);
    rh_buf_free(&b);
}

static void test_hex_id_parsing(void)
{
    uint64_t v;
    CHECK(rh_id_parse_hex("8e9e05c52164694d", 16, &v) && v == 0x8e9e05c52164694dull);
    CHECK(rh_id_parse_hex("0X1", 3, &v) && v == 1);
    CHECK(rh_id_parse_hex("0", 1, &v) && v == 0);
    CHECK(!rh_id_parse_hex("", 0, &v));
    CHECK(!rh_id_parse_hex("0x", 2, &v));
    CHECK(!rh_id_parse_hex("10000000000000000", 17, &v));
    CHECK(!rh_id_parse_hex("-1", 2, &v));
}

int main(void)
{
    rh_json_parser_init(&P, 0, 0);
    rh_arena_init(&A, 0);
    RUN(test_parse_values_of_every_type);
    RUN(test_parse_integers_exact_to_64_bits);
    RUN(test_parse_rejects_integers_out_of_range);
    RUN(test_parse_string_escapes);
    RUN(test_parse_last_duplicate_key_wins);
    RUN(test_parse_depth_limit);
    RUN(test_parse_rejects_malformed_input);
    RUN(test_parse_error_says_where);
    RUN(test_parse_every_truncation_fails);
    RUN(test_parse_limits_input_and_tree_size);
    RUN(test_parser_is_reusable);
    RUN(test_put_string_escapes);
    RUN(test_put_numbers);
    RUN(test_base64_rfc4648_vectors);
    RUN(test_base64_decode_rejects_bad_input);
    RUN(test_msg_to_json_exact_text);
    RUN(test_msg_to_json_minimal_message);
    RUN(test_json_to_msg_round_trip);
    RUN(test_json_to_msg_loose_vs_strict_bytes);
    RUN(test_json_to_msg_missing_keys_are_zero_extra_ignored);
    RUN(test_json_to_msg_ids_as_numbers_or_hex);
    RUN(test_json_to_msg_types_by_name_or_number);
    RUN(test_json_to_msg_errors_name_the_path);
    RUN(test_json_to_msg_limits_response_nesting);
    RUN(test_json_to_msg_survives_arena_limit);
    RUN(test_records_round_trip);
    RUN(test_hex_id_parsing);
    rh_arena_free(&A);
    rh_json_parser_free(&P);
    fprintf(stderr, "%d checks, %d failed\n", checks, failures);
    return failures ? 1 : 0;
}
