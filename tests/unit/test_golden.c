/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Golden test against etcd's own Go code (files from tests/golden/golden.sh).
 *
 * usage: test_golden GOLDEN_DIR
 *
 *  1. message.stream: C encodes every message of message.jsonl to exactly
 *     Go's frame bytes; C decodes Go's bytes to the message of the JSON line;
 *     decode(Go bytes) re-encodes to Go's bytes.
 *  2. msgappv2: C's encoder over msgappv2.in.jsonl writes exactly Go's
 *     stream; C's decoder reads Go's stream as Go's decoder did
 *     (msgappv2.jsonl).
 *  3. Both streams decode identically fed whole and split at random byte
 *     boundaries (fixed seeds).
 *  4. other.bin: every Entry, Snapshot, ConfState, HardState, ConfChange,
 *     ConfChangeSingle, ConfChangeV2 encodes to Go's bytes and decodes back.
 *  5. Writes c_message.stream, c_msgappv2.stream, c_other.bin for
 *     `golden.sh verify` (Go decodes C's output).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "json/json.h"
#include "json/msg_json.h"
#include "rafthttp/stream_codec.h"

static const char *dir;

typedef struct blob {
    uint8_t *data;
    size_t len;
} blob;

static blob read_file(const char *name)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    blob b = {0};
    if (!f) {
        fprintf(stderr, "cannot open %s\n", path);
        exit(1);
    }
    fseek(f, 0, SEEK_END);
    b.len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    b.data = malloc(b.len + 1);
    if (fread(b.data, 1, b.len, f) != b.len) {
        fprintf(stderr, "short read %s\n", path);
        exit(1);
    }
    b.data[b.len] = 0;
    fclose(f);
    return b;
}

static void write_file(const char *name, const uint8_t *p, size_t n)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, n, f) != n || fclose(f) != 0) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(1);
    }
}

/* Messages of a JSON Lines file, as owned clones. Lines are MSG objects,
 * recv events (their "msg"), or linkHeartbeat events. */
typedef struct msg_list {
    rh_msg **m;
    size_t n;
} msg_list;

static msg_list read_msgs(const char *name)
{
    blob b = read_file(name);
    msg_list l = {malloc(sizeof(rh_msg *) * (b.len / 8 + 1)), 0};
    rh_json_parser p;
    rh_json_parser_init(&p, 0, 0);
    rh_arena a;
    rh_arena_init(&a, 0);
    char *line = (char *)b.data;
    size_t lineno = 0;
    while (*line) {
        char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        lineno++;
        const rh_json *root;
        rh_err err;
        if (rh_json_parse(&p, line, len, &root, &err) != 0) {
            fprintf(stderr, "%s:%zu: %s\n", name, lineno, err.msg);
            exit(1);
        }
        rh_msg m;
        memset(&m, 0, sizeof(m));
        const rh_json *ev = rh_json_get(root, "event");
        if (ev && rh_json_str_eq(ev, "linkHeartbeat")) {
            m.type = RH_MSG_HEARTBEAT;
            m.has_snapshot = true;
        } else {
            const rh_json *mv = ev ? rh_json_get(root, "msg") : root;
            rh_arena_reset(&a);
            if (!mv || rh_json_to_msg(mv, RH_MSGJSON_STRICT, &a, &m, &err) != 0) {
                fprintf(stderr, "%s:%zu: %s\n", name, lineno, mv ? err.msg : "no msg");
                exit(1);
            }
        }
        l.m[l.n++] = rh_msg_clone(&m);
        if (!nl)
            break;
        line = nl + 1;
    }
    rh_arena_free(&a);
    rh_json_parser_free(&p);
    free(b.data);
    return l;
}

static void free_msgs(msg_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        rh_msg_free(l->m[i]);
    free(l->m);
}

/* Encodes msgs as a stream of the given kind. */
static blob encode_stream(int kind, const msg_list *l)
{
    rh_stream_encoder e;
    rh_stream_encoder_init(&e, kind);
    size_t total = 0;
    rh_stream_encoder sizing = e;
    for (size_t i = 0; i < l->n; i++) {
        total += rh_stream_frame_size(&sizing, l->m[i]);
        /* advance a sizing copy exactly as the real encoder will */
        uint8_t *tmp = malloc(rh_stream_frame_size(&sizing, l->m[i]));
        rh_stream_encode(&sizing, l->m[i], tmp);
        free(tmp);
    }
    blob b = {malloc(total ? total : 1), 0};
    for (size_t i = 0; i < l->n; i++)
        b.len += rh_stream_encode(&e, l->m[i], b.data + b.len);
    CHECK_EQ_U64(b.len, total);
    return b;
}

static size_t first_diff(const blob *a, const blob *b)
{
    size_t n = a->len < b->len ? a->len : b->len;
    for (size_t i = 0; i < n; i++)
        if (a->data[i] != b->data[i])
            return i;
    return n;
}

/* Decodes a stream fed in random-sized pieces (seed 0: whole) and checks
 * every message against want. */
static void check_decode(int kind, const blob *s, const msg_list *want, uint64_t local,
                         uint64_t remote, unsigned seed, const char *what)
{
    rh_stream_decoder_opts o = {.kind = kind, .local = local, .remote = remote};
    rh_stream_decoder *d = rh_stream_decoder_new(&o);
    size_t pos = 0, got = 0, bad = 0;
    unsigned r = seed;
    int rc = 0;
    while (pos < s->len && rc >= 0) {
        size_t chunk = s->len - pos;
        if (seed) {
            r = r * 1103515245u + 12345u;
            size_t c = 1 + (r >> 8) % (r & 1 ? 13 : 70000);
            if (c < chunk)
                chunk = c;
        }
        size_t off = 0;
        while (off < chunk) {
            size_t used;
            rh_msg m;
            rh_err err;
            rc = rh_stream_decoder_feed(d, s->data + pos + off, chunk - off, &used, &m,
                                        &err);
            off += used;
            if (rc < 0) {
                fprintf(stderr, "%s: decode error at %llu: %s\n", what,
                        (unsigned long long)err.offset, err.msg);
                break;
            }
            if (rc == 1) {
                if (got >= want->n || !rh_msg_equal(&m, want->m[got])) {
                    if (bad++ < 3)
                        fprintf(stderr, "%s: message %zu differs from the golden one\n",
                                what, got);
                }
                got++;
            }
        }
        pos += chunk;
    }
    CHECK(rc >= 0);
    CHECK(rh_stream_decoder_at_boundary(d));
    CHECK_EQ_U64(got, want->n);
    CHECK_EQ_U64(bad, 0);
    rh_stream_decoder_free(d);
}

static void message_stream_matches_go(void)
{
    blob go = read_file("message.stream");
    msg_list l = read_msgs("message.jsonl");
    CHECK(l.n >= 10000);
    blob c = encode_stream(RH_STREAM_MESSAGE, &l);
    if (c.len != go.len || memcmp(c.data, go.data, c.len) != 0)
        fprintf(stderr, "message.stream: C differs from Go at byte %zu\n",
                first_diff(&c, &go));
    CHECK_MEM(c.data, c.len, go.data, go.len);
    write_file("c_message.stream", c.data, c.len);

    /* decode(Go bytes) -> encode == Go bytes, frame by frame */
    rh_arena a;
    rh_arena_init(&a, 0);
    size_t pos = 0, frames = 0, mismatched = 0;
    uint8_t *buf = NULL;
    size_t cap = 0;
    while (pos + 8 <= go.len) {
        size_t n = 0;
        for (int i = 0; i < 8; i++)
            n = n << 8 | go.data[pos + i];
        rh_msg m;
        rh_arena_reset(&a);
        if (rh_msg_decode(go.data + pos + 8, n, &m, &a, NULL) != 0) {
            mismatched++;
        } else {
            size_t sz = rh_msg_size(&m);
            if (sz > cap)
                buf = realloc(buf, cap = sz);
            if (sz != n || rh_msg_encode(&m, buf) != n ||
                memcmp(buf, go.data + pos + 8, n) != 0)
                mismatched++;
        }
        frames++;
        pos += 8 + n;
    }
    CHECK_EQ_U64(frames, l.n);
    CHECK_EQ_U64(mismatched, 0);
    free(buf);
    rh_arena_free(&a);

    check_decode(RH_STREAM_MESSAGE, &go, &l, 0, 0, 0, "message whole");
    check_decode(RH_STREAM_MESSAGE, &go, &l, 0, 0, 7, "message split 7");
    check_decode(RH_STREAM_MESSAGE, &go, &l, 0, 0, 12345, "message split 12345");
    free(c.data);
    free(go.data);
    free_msgs(&l);
}

static uint64_t meta_u64(const char *key)
{
    blob b = read_file("meta.json");
    rh_json_parser p;
    rh_json_parser_init(&p, 0, 0);
    const rh_json *root;
    uint64_t v = 0;
    if (rh_json_parse(&p, (const char *)b.data, b.len, &root, NULL) != 0 ||
        !rh_json_get(root, key) || !rh_json_as_u64(rh_json_get(root, key), &v)) {
        fprintf(stderr, "meta.json: no %s\n", key);
        exit(1);
    }
    rh_json_parser_free(&p);
    free(b.data);
    return v;
}

static void msgappv2_stream_matches_go(void)
{
    blob go = read_file("msgappv2.stream");
    msg_list in = read_msgs("msgappv2.in.jsonl");
    msg_list out = read_msgs("msgappv2.jsonl");
    uint64_t local = meta_u64("local"), remote = meta_u64("remote");
    CHECK_EQ_U64(in.n, out.n);
    blob c = encode_stream(RH_STREAM_MSGAPPV2, &in);
    if (c.len != go.len || memcmp(c.data, go.data, c.len) != 0)
        fprintf(stderr, "msgappv2.stream: C differs from Go at byte %zu\n",
                first_diff(&c, &go));
    CHECK_MEM(c.data, c.len, go.data, go.len);
    write_file("c_msgappv2.stream", c.data, c.len);

    /* AppEntries frames must be present, or the test proves little */
    size_t app_entries = 0;
    rh_stream_encoder e;
    rh_stream_encoder_init(&e, RH_STREAM_MSGAPPV2);
    for (size_t i = 0; i < in.n; i++) {
        uint8_t *tmp = malloc(rh_stream_frame_size(&e, in.m[i]));
        rh_stream_encode(&e, in.m[i], tmp);
        app_entries += tmp[0] == RH_APPV2_APP_ENTRIES;
        free(tmp);
    }
    CHECK(app_entries > in.n / 2);

    check_decode(RH_STREAM_MSGAPPV2, &go, &out, local, remote, 0, "msgappv2 whole");
    check_decode(RH_STREAM_MSGAPPV2, &go, &out, local, remote, 3, "msgappv2 split 3");
    check_decode(RH_STREAM_MSGAPPV2, &go, &out, local, remote, 999, "msgappv2 split 999");
    free(c.data);
    free(go.data);
    free_msgs(&in);
    free_msgs(&out);
}

/* Encodes one parsed other.jsonl record; returns bytes written to out. */
static size_t encode_record(const rh_json *v, int kind, rh_arena *a, uint8_t *out,
                            size_t cap, const uint8_t *gob, size_t gon)
{
    rh_err err;
    int rc = -1;
    size_t n = 0;
    union {
        rh_entry e;
        rh_snapshot s;
        rh_conf_state cs;
        rh_hard_state hs;
        rh_conf_change cc;
        rh_conf_change_single ccs;
        rh_conf_change_v2 v2;
    } x, y;
    memset(&x, 0, sizeof(x));
    memset(&y, 0, sizeof(y));
    int drc = -1;
#define SIZE_AND_ENCODE(to_json, size, encode, decode_call, field)                   \
    rc = to_json;                                                                    \
    if (rc == 0 && size(&x.field) <= cap) {                                          \
        n = encode(&x.field, out);                                                   \
        drc = decode_call;                                                           \
    }
    switch (kind) {
    case 1:
        SIZE_AND_ENCODE(rh_json_to_entry(v, RH_MSGJSON_STRICT, a, &x.e, &err),
                        rh_entry_size, rh_entry_encode,
                        rh_entry_decode(gob, gon, &y.e, NULL), e);
        break;
    case 2:
        SIZE_AND_ENCODE(rh_json_to_snapshot(v, RH_MSGJSON_STRICT, a, &x.s, &err),
                        rh_snapshot_size, rh_snapshot_encode,
                        rh_snapshot_decode(gob, gon, &y.s, a, NULL), s);
        break;
    case 3:
        SIZE_AND_ENCODE(rh_json_to_conf_state(v, RH_MSGJSON_STRICT, a, &x.cs, &err),
                        rh_conf_state_size, rh_conf_state_encode,
                        rh_conf_state_decode(gob, gon, &y.cs, a, NULL), cs);
        break;
    case 4:
        SIZE_AND_ENCODE(rh_json_to_hard_state(v, RH_MSGJSON_STRICT, &x.hs, &err),
                        rh_hard_state_size, rh_hard_state_encode,
                        rh_hard_state_decode(gob, gon, &y.hs, NULL), hs);
        break;
    case 5:
        SIZE_AND_ENCODE(rh_json_to_conf_change(v, RH_MSGJSON_STRICT, a, &x.cc, &err),
                        rh_conf_change_size, rh_conf_change_encode,
                        rh_conf_change_decode(gob, gon, &y.cc, NULL), cc);
        break;
    case 6:
        SIZE_AND_ENCODE(
            rh_json_to_conf_change_single(v, RH_MSGJSON_STRICT, &x.ccs, &err),
            rh_conf_change_single_size, rh_conf_change_single_encode,
            rh_conf_change_single_decode(gob, gon, &y.ccs, NULL), ccs);
        break;
    case 7:
        SIZE_AND_ENCODE(rh_json_to_conf_change_v2(v, RH_MSGJSON_STRICT, a, &x.v2, &err),
                        rh_conf_change_v2_size, rh_conf_change_v2_encode,
                        rh_conf_change_v2_decode(gob, gon, &y.v2, a, NULL), v2);
        break;
    }
#undef SIZE_AND_ENCODE
    CHECK(rc == 0);
    CHECK(drc == 0); /* Go's bytes decode */
    if (rc != 0)
        fprintf(stderr, "other.jsonl kind %d: %s\n", kind, err.msg);
    return n;
}

static void other_records_match_go(void)
{
    static const char *kinds[] = {"", "Entry", "Snapshot", "ConfState", "HardState",
                                  "ConfChange", "ConfChangeSingle", "ConfChangeV2"};
    blob bin = read_file("other.bin");
    blob js = read_file("other.jsonl");
    blob c = {malloc(bin.len + 1), 0};
    rh_json_parser p;
    rh_json_parser_init(&p, 0, 0);
    rh_arena a;
    rh_arena_init(&a, 0);
    size_t pos = 0, records = 0, differ = 0;
    int seen[8] = {0};
    char *line = (char *)js.data;
    while (pos + 9 <= bin.len && *line) {
        int kind = bin.data[pos];
        size_t n = 0;
        for (int i = 1; i <= 8; i++)
            n = n << 8 | bin.data[pos + i];
        const uint8_t *gob = bin.data + pos + 9;
        char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        const rh_json *root;
        CHECK(rh_json_parse(&p, line, len, &root, NULL) == 0);
        CHECK(kind >= 1 && kind <= 7 && rh_json_str_eq(rh_json_get(root, "kind"), kinds[kind]));
        rh_arena_reset(&a);
        uint8_t *out = c.data + c.len + 9;
        size_t w = encode_record(root, kind, &a, out, bin.len - c.len - 9, gob, n);
        differ += w != n || memcmp(out, gob, n) != 0;
        c.data[c.len] = (uint8_t)kind;
        for (int i = 0; i < 8; i++)
            c.data[c.len + 1 + i] = (uint8_t)(w >> (56 - 8 * i));
        c.len += 9 + w;
        seen[kind & 7]++;
        records++;
        pos += 9 + n;
        line = nl ? nl + 1 : line + len;
    }
    CHECK_EQ_U64(pos, bin.len);
    CHECK_EQ_U64(differ, 0);
    for (int k = 1; k <= 7; k++)
        CHECK(seen[k] > 0);
    CHECK(records >= 7);
    write_file("c_other.bin", c.data, c.len);
    rh_arena_free(&a);
    rh_json_parser_free(&p);
    free(c.data);
    free(bin.data);
    free(js.data);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: test_golden GOLDEN_DIR\n");
        return 2;
    }
    dir = argv[1];
    TEST(message_stream_matches_go);
    TEST(msgappv2_stream_matches_go);
    TEST(other_records_match_go);
    return CHECK_DONE();
}
