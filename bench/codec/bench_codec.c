/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Codec benchmark, C side: rh_msg_size/rh_msg_encode and rh_msg_decode on
 * three MsgApp messages (one 64 B entry, one 4 KiB entry, 64 entries of
 * 128 B), the same messages go/main.go runs through etcd 3.4's gogoproto
 * raftpb. bench/codec/run.sh runs both and prints the C/Go table.
 *
 *   bench_codec [--seconds S] [--ops LIST] [--case NAME] [--expect DIR]
 *
 * --seconds  measured wall time per (case, op), default 1 (env BENCH_SECONDS)
 * --ops      comma-separated ops to run (default all): encode, decode,
 *            encode-alloc, stream-encode, stream-decode, encode-scatter,
 *            msgappv2-scatter
 * --case     run only this case: 1x64B, 1x4KiB, 64x128B (for profiling)
 * --expect   DIR holds <case>.bin written by the Go side (-dump): check that
 *            our encoding is byte-identical and that decoding Go's bytes
 *            gives back the message; exit 1 on any difference
 *
 * One JSON line per (case, op) on stdout; a {"verify":...} line per case
 * with --expect. Timing: CLOCK_MONOTONIC, a warmup of min(S/5, 0.2 s), then
 * batches (~1 ms each) until S seconds have passed. MB = 1e6 bytes of the
 * encoded message (the protobuf, without any frame header).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rafthttp/raftpb.h"
#include "rafthttp/scatter.h"
#include "rafthttp/stream_codec.h"

/* ---- the messages (keep in step with go/main.go) ------------------------- */

typedef struct bench_case {
    const char *name;
    size_t n_ent;
    size_t ent_size;
    uint64_t seed;
} bench_case;

static const bench_case cases[] = {
    {"1x64B", 1, 64, 1},
    {"1x4KiB", 1, 4096, 2},
    {"64x128B", 64, 128, 3},
};
#define N_CASES (sizeof(cases) / sizeof(cases[0]))

/* splitmix64; byte k of a case's data stream is the top byte of the k-th
 * output, entries take consecutive slices of that stream. */
static uint64_t splitmix_next(uint64_t *s)
{
    *s += 0x9e3779b97f4a7c15u;
    uint64_t z = *s;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

typedef struct built_msg {
    rh_msg msg;
    rh_entry *entries; /* owned */
    uint8_t *data;     /* owned, n_ent * ent_size bytes */
} built_msg;

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "bench_codec: out of memory\n");
        exit(2);
    }
    return p;
}

static void build_msg(const bench_case *c, built_msg *b)
{
    uint64_t s = c->seed;
    b->entries = xmalloc(c->n_ent * sizeof(rh_entry));
    b->data = xmalloc(c->n_ent * c->ent_size);
    for (size_t k = 0; k < c->n_ent * c->ent_size; k++)
        b->data[k] = (uint8_t)(splitmix_next(&s) >> 56);
    for (size_t i = 0; i < c->n_ent; i++) {
        rh_entry *e = &b->entries[i];
        memset(e, 0, sizeof(*e));
        e->type = RH_ENTRY_NORMAL;
        e->term = 5;
        e->index = 1001 + i;
        e->data.data = b->data + i * c->ent_size;
        e->data.len = c->ent_size;
    }
    rh_msg *m = &b->msg;
    memset(m, 0, sizeof(*m));
    m->type = RH_MSG_APP;
    m->to = 2;
    m->from = 1;
    m->term = 5;
    m->log_term = 5;
    m->index = 1000;
    m->commit = 999;
    m->entries = b->entries;
    m->n_entries = c->n_ent;
}

static void free_msg(built_msg *b)
{
    free(b->entries);
    free(b->data);
}

static uint64_t fnv64(const uint8_t *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325u;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3u;
    }
    return h;
}

/* ---- timing ----------------------------------------------------------------- */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Checksum of everything the loops produce; printed at the end so the
 * compiler cannot drop the work. */
static volatile uint64_t sink;

/* One benchmark op: runs n iterations, returns a checksum. */
typedef uint64_t (*op_fn)(void *ctx, long n);

typedef struct run_result {
    long long iters;
    double secs;
} run_result;

static run_result run(op_fn f, void *ctx, double dur, double warm)
{
    long batch = 1;
    uint64_t acc = 0;
    double t0 = now_s();
    while (now_s() - t0 < warm) {
        acc += f(ctx, batch);
        if (now_s() - t0 < warm / 50)
            batch *= 2;
    }
    for (;;) { /* aim for ~1 ms batches */
        double s = now_s();
        acc += f(ctx, batch);
        if (now_s() - s >= 1e-3 || batch >= (1L << 30))
            break;
        batch *= 2;
    }
    run_result r = {0, 0};
    double start = now_s();
    for (;;) {
        acc += f(ctx, batch);
        r.iters += batch;
        r.secs = now_s() - start;
        if (r.secs >= dur)
            break;
    }
    sink += acc;
    return r;
}

static void emit(const char *cname, const char *op, size_t msg_bytes, uint64_t h,
                 run_result r)
{
    double mps = (double)r.iters / r.secs;
    printf("{\"impl\":\"c\",\"case\":\"%s\",\"op\":\"%s\",\"msg_bytes\":%zu,"
           "\"fnv64\":\"%016llx\",\"iters\":%lld,\"seconds\":%.6f,"
           "\"msgs_per_s\":%.1f,\"mb_per_s\":%.2f}\n",
           cname, op, msg_bytes, (unsigned long long)h, r.iters, r.secs, mps,
           mps * (double)msg_bytes / 1e6);
    fflush(stdout);
}

/* ---- the ops ------------------------------------------------------------------ */

typedef struct bench_ctx {
    const rh_msg *msg;
    uint8_t *buf;         /* reused output buffer */
    const uint8_t *enc;   /* the encoded message */
    size_t enc_len;
    const uint8_t *frame; /* 8-byte length + enc (message stream frame) */
    size_t frame_len;
    rh_arena arena;
    rh_stream_decoder *sdec;
    uint8_t *scratch;     /* scatter: reused header scratch */
    size_t scratch_cap;
    rh_iov *iov;          /* scatter: reused piece list */
    size_t iov_cap;
} bench_ctx;

/* Size + encode into a reused buffer (what an encoder does per message). */
static uint64_t op_encode(void *vctx, long n)
{
    bench_ctx *c = vctx;
    uint64_t acc = 0;
    for (long i = 0; i < n; i++) {
        size_t sz = rh_msg_size(c->msg);
        size_t k = rh_msg_encode(c->msg, c->buf);
        acc += sz + k + c->buf[k - 1];
    }
    return acc;
}

/* Size + malloc + encode + free: the counterpart of Go's allocating
 * Marshal(). */
static uint64_t op_encode_alloc(void *vctx, long n)
{
    bench_ctx *c = vctx;
    uint64_t acc = 0;
    for (long i = 0; i < n; i++) {
        size_t sz = rh_msg_size(c->msg);
        uint8_t *b = malloc(sz);
        if (!b)
            abort();
        size_t k = rh_msg_encode(c->msg, b);
        acc += k + b[k - 1];
        free(b);
    }
    return acc;
}

/* Arena reset + decode into a reused message (the steady-state use). */
static uint64_t op_decode(void *vctx, long n)
{
    bench_ctx *c = vctx;
    uint64_t acc = 0;
    rh_msg m;
    for (long i = 0; i < n; i++) {
        rh_arena_reset(&c->arena);
        if (rh_msg_decode(c->enc, c->enc_len, &m, &c->arena, NULL) != 0)
            abort();
        acc += m.commit + m.n_entries + m.entries[m.n_entries - 1].data.len;
    }
    return acc;
}

/* rh_stream_encode, message framing, into a reused buffer. */
static uint64_t op_stream_encode(void *vctx, long n)
{
    bench_ctx *c = vctx;
    uint64_t acc = 0;
    rh_stream_encoder e;
    rh_stream_encoder_init(&e, RH_STREAM_MESSAGE);
    for (long i = 0; i < n; i++) {
        size_t sz = rh_stream_frame_size(&e, c->msg);
        size_t k = rh_stream_encode(&e, c->msg, c->buf);
        acc += sz + k + c->buf[k - 1];
    }
    return acc;
}

/* rh_stream_decoder_feed with one whole message frame per call. */
static uint64_t op_stream_decode(void *vctx, long n)
{
    bench_ctx *c = vctx;
    uint64_t acc = 0;
    rh_msg m;
    for (long i = 0; i < n; i++) {
        size_t used;
        if (rh_stream_decoder_feed(c->sdec, c->frame, c->frame_len, &used, &m,
                                   NULL) != 1)
            abort();
        acc += used + m.commit + m.n_entries;
    }
    return acc;
}

/* What the stream writer does per message with the scatter encoder: size
 * the scratch and piece list, then rh_stream_scatter (message framing);
 * entry data of RH_SCATTER_REF_MIN bytes or more is referenced, not copied.
 * The pieces would go to evbuffer_add / evbuffer_add_reference or writev. */
static uint64_t op_encode_scatter(void *vctx, long n)
{
    bench_ctx *c = vctx;
    uint64_t acc = 0;
    rh_stream_encoder e;
    rh_stream_encoder_init(&e, RH_STREAM_MESSAGE);
    for (long i = 0; i < n; i++) {
        size_t ss, ni, k;
        rh_stream_scatter_size(&e, c->msg, &ss, &ni);
        if (ss > c->scratch_cap || ni > c->iov_cap)
            abort(); /* a writer would reserve more here */
        size_t len = rh_stream_scatter(&e, c->msg, c->scratch, c->iov, &k);
        const rh_iov *last = &c->iov[k - 1];
        acc += len + k + last->base[last->len - 1];
    }
    return acc;
}

/* The same on the msgappv2 stream, as an AppEntries frame (the encoder
 * state is reset each time so the MsgApp continues the previous one). */
static uint64_t op_msgappv2_scatter(void *vctx, long n)
{
    bench_ctx *c = vctx;
    uint64_t acc = 0;
    rh_stream_encoder e;
    rh_stream_encoder_init(&e, RH_STREAM_MSGAPPV2);
    for (long i = 0; i < n; i++) {
        e.term = c->msg->term;
        e.index = c->msg->index;
        size_t ss, ni, k;
        rh_stream_scatter_size(&e, c->msg, &ss, &ni);
        if (ss > c->scratch_cap || ni > c->iov_cap)
            abort();
        size_t len = rh_stream_scatter(&e, c->msg, c->scratch, c->iov, &k);
        const rh_iov *last = &c->iov[k - 1];
        acc += len + k + last->base[last->len - 1];
    }
    return acc;
}

static const struct {
    const char *name;
    op_fn fn;
} ops[] = {
    {"encode", op_encode},
    {"decode", op_decode},
    {"encode-alloc", op_encode_alloc},
    {"stream-encode", op_stream_encode},
    {"stream-decode", op_stream_decode},
    {"encode-scatter", op_encode_scatter},
    {"msgappv2-scatter", op_msgappv2_scatter},
};
#define N_OPS (sizeof(ops) / sizeof(ops[0]))

/* True when name is one of the comma-separated items of list. */
static bool in_list(const char *list, const char *name)
{
    size_t len = strlen(name);
    for (const char *p = list; *p;) {
        size_t n = strcspn(p, ",");
        if (n == len && memcmp(p, name, n) == 0)
            return true;
        p += n + (p[n] == ',');
    }
    return false;
}

/* ---- verification against Go's bytes ------------------------------------------- */

static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "bench_codec: %s: %s\n", path, strerror(errno));
        return NULL;
    }
    size_t cap = 1 << 16, n = 0;
    uint8_t *b = xmalloc(cap);
    for (;;) {
        if (n == cap) {
            cap *= 2;
            uint8_t *nb = realloc(b, cap);
            if (!nb) {
                free(b);
                fclose(f);
                return NULL;
            }
            b = nb;
        }
        size_t got = fread(b + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    fclose(f);
    *len = n;
    return b;
}

/* 0 when C's encoding equals Go's bytes and decoding Go's bytes gives the
 * message back. */
static int verify(const char *dir, const bench_case *c, const rh_msg *m,
                  const uint8_t *enc, size_t enc_len)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s.bin", dir, c->name);
    size_t glen = 0;
    uint8_t *g = read_file(path, &glen);
    if (!g)
        return 1;
    bool same = glen == enc_len && memcmp(g, enc, enc_len) == 0;
    size_t first_diff = 0;
    while (first_diff < glen && first_diff < enc_len && g[first_diff] == enc[first_diff])
        first_diff++;
    rh_arena a;
    rh_arena_init(&a, 0);
    rh_msg back;
    rh_err err;
    int rc = rh_msg_decode(g, glen, &back, &a, &err);
    bool dec_ok = rc == 0 && rh_msg_equal(&back, m);
    rh_arena_free(&a);
    printf("{\"impl\":\"c\",\"case\":\"%s\",\"verify\":\"%s\",\"c_bytes\":%zu,"
           "\"go_bytes\":%zu,\"bytes_equal\":%s,\"decode_go_equal\":%s}\n",
           c->name, same && dec_ok ? "ok" : "FAIL", enc_len, glen,
           same ? "true" : "false", dec_ok ? "true" : "false");
    if (!same)
        fprintf(stderr, "bench_codec: %s: C encoding (%zu bytes) differs from Go's "
                        "(%zu bytes) at offset %zu\n",
                c->name, enc_len, glen, first_diff);
    if (rc)
        fprintf(stderr, "bench_codec: %s: decoding Go's bytes: %s\n", c->name,
                err.msg);
    else if (!dec_ok)
        fprintf(stderr, "bench_codec: %s: Go's bytes decode to a different message\n",
                c->name);
    free(g);
    return same && dec_ok ? 0 : 1;
}

/* The stream ops work on what they claim: rh_stream_encode writes our
 * frame, and feeding that frame decodes to the message. */
static bool stream_sane(bench_ctx *c)
{
    rh_stream_encoder e;
    rh_stream_encoder_init(&e, RH_STREAM_MESSAGE);
    if (rh_stream_frame_size(&e, c->msg) != c->frame_len ||
        rh_stream_encode(&e, c->msg, c->buf) != c->frame_len ||
        memcmp(c->buf, c->frame, c->frame_len) != 0)
        return false;
    size_t used = 0;
    rh_msg m;
    return rh_stream_decoder_feed(c->sdec, c->frame, c->frame_len, &used, &m, NULL) ==
               1 &&
           used == c->frame_len && rh_msg_equal(&m, c->msg);
}

/* Concatenated pieces of rh_stream_scatter == rh_stream_encode, for both
 * framings the scatter ops time, and the entry data is referenced. */
static bool scatter_sane(bench_ctx *c)
{
    for (int kind = RH_STREAM_MESSAGE; kind <= RH_STREAM_MSGAPPV2; kind++) {
        rh_stream_encoder ea, eb;
        rh_stream_encoder_init(&ea, kind);
        if (kind == RH_STREAM_MSGAPPV2) {
            ea.term = c->msg->term;
            ea.index = c->msg->index;
        }
        eb = ea;
        size_t flen = rh_stream_frame_size(&ea, c->msg), ss, ni, k;
        if (rh_stream_scatter_size(&eb, c->msg, &ss, &ni) != flen ||
            ss > c->scratch_cap || ni > c->iov_cap)
            return false;
        uint8_t *flat = xmalloc(flen), *cat = xmalloc(flen);
        rh_stream_encode(&ea, c->msg, flat);
        size_t len = rh_stream_scatter(&eb, c->msg, c->scratch, c->iov, &k), pos = 0;
        bool ok = len == flen && ea.term == eb.term && ea.index == eb.index;
        for (size_t i = 0; ok && i < k; i++) {
            ok = c->iov[i].len <= flen - pos;
            if (ok)
                memcpy(cat + pos, c->iov[i].base, c->iov[i].len);
            pos += c->iov[i].len;
        }
        ok = ok && pos == flen && memcmp(cat, flat, flen) == 0;
        /* entries of RH_SCATTER_REF_MIN bytes or more went by reference */
        for (size_t i = 0; ok && i < c->msg->n_entries; i++) {
            const rh_bytes *d = &c->msg->entries[i].data;
            bool found = false;
            for (size_t j = 0; j < k; j++)
                found |= c->iov[j].base == d->data && c->iov[j].len == d->len;
            ok = found == (d->len >= RH_SCATTER_REF_MIN);
        }
        free(flat);
        free(cat);
        if (!ok)
            return false;
    }
    return true;
}

/* ---- main --------------------------------------------------------------------- */

static void usage(void)
{
    fprintf(stderr, "usage: bench_codec [--seconds S] [--ops LIST] [--case NAME] "
                    "[--expect DIR]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    double dur = 1.0;
    const char *only = NULL, *only_case = NULL, *expect = NULL;
    const char *env = getenv("BENCH_SECONDS");
    if (env && *env)
        dur = strtod(env, NULL);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) {
            char *end;
            dur = strtod(argv[++i], &end);
            if (*end || dur <= 0)
                usage();
        } else if (strcmp(argv[i], "--ops") == 0 && i + 1 < argc) {
            only = argv[++i];
        } else if (strcmp(argv[i], "--case") == 0 && i + 1 < argc) {
            only_case = argv[++i];
        } else if (strcmp(argv[i], "--expect") == 0 && i + 1 < argc) {
            expect = argv[++i];
        } else {
            usage();
        }
    }
    if (only) {
        for (const char *p = only; *p;) {
            size_t n = strcspn(p, ",");
            bool known = false;
            for (size_t o = 0; o < N_OPS; o++)
                known |= strlen(ops[o].name) == n && memcmp(ops[o].name, p, n) == 0;
            if (!known) {
                fprintf(stderr, "bench_codec: unknown op '%.*s'\n", (int)n, p);
                usage();
            }
            p += n + (p[n] == ',');
        }
    }
    if (only_case) {
        bool known = false;
        for (size_t ci = 0; ci < N_CASES; ci++)
            known |= strcmp(cases[ci].name, only_case) == 0;
        if (!known)
            usage();
    }
    double warm = dur / 5 < 0.2 ? dur / 5 : 0.2;

    int failed = 0;
    for (size_t ci = 0; ci < N_CASES; ci++) {
        const bench_case *bc = &cases[ci];
        if (only_case && strcmp(only_case, bc->name) != 0)
            continue;
        built_msg b;
        build_msg(bc, &b);

        bench_ctx ctx;
        memset(&ctx, 0, sizeof(ctx));
        ctx.msg = &b.msg;
        size_t size = rh_msg_size(&b.msg);
        uint8_t *enc = xmalloc(size);
        if (rh_msg_encode(&b.msg, enc) != size) {
            fprintf(stderr, "bench_codec: %s: encode length != size\n", bc->name);
            return 1;
        }
        ctx.enc = enc;
        ctx.enc_len = size;
        ctx.buf = xmalloc(size + 64);
        uint8_t *frame = xmalloc(size + 8);
        for (int k = 0; k < 8; k++)
            frame[k] = (uint8_t)((uint64_t)size >> (56 - 8 * k));
        memcpy(frame + 8, enc, size);
        ctx.frame = frame;
        ctx.frame_len = size + 8;
        rh_arena_init(&ctx.arena, 0);
        rh_stream_decoder_opts so = {.kind = RH_STREAM_MESSAGE};
        ctx.sdec = rh_stream_decoder_new(&so);
        if (!ctx.sdec) {
            fprintf(stderr, "bench_codec: out of memory\n");
            return 2;
        }

        if (expect && verify(expect, bc, &b.msg, enc, size))
            failed = 1; /* no point timing a codec that disagrees with Go */
        if (!stream_sane(&ctx)) {
            fprintf(stderr, "bench_codec: %s: stream framing round trip failed\n",
                    bc->name);
            failed = 1;
        }
        /* sized once, for the larger of the two framings the ops use */
        for (int kind = RH_STREAM_MESSAGE; kind <= RH_STREAM_MSGAPPV2; kind++) {
            rh_stream_encoder se;
            rh_stream_encoder_init(&se, kind);
            se.term = b.msg.term; /* msgappv2: an AppEntries frame */
            se.index = b.msg.index;
            size_t ss, ni;
            rh_stream_scatter_size(&se, &b.msg, &ss, &ni);
            ctx.scratch_cap = ss > ctx.scratch_cap ? ss : ctx.scratch_cap;
            ctx.iov_cap = ni > ctx.iov_cap ? ni : ctx.iov_cap;
        }
        ctx.scratch = xmalloc(ctx.scratch_cap);
        ctx.iov = xmalloc(ctx.iov_cap * sizeof(rh_iov));
        if (!scatter_sane(&ctx)) {
            fprintf(stderr, "bench_codec: %s: scatter pieces differ from "
                            "rh_stream_encode\n", bc->name);
            failed = 1;
        }

        uint64_t h = fnv64(enc, size);
        for (size_t o = 0; o < N_OPS; o++) {
            if (failed || (only && !in_list(only, ops[o].name)))
                continue;
            run_result r = run(ops[o].fn, &ctx, dur, warm);
            emit(bc->name, ops[o].name, size, h, r);
        }

        rh_stream_decoder_free(ctx.sdec);
        rh_arena_free(&ctx.arena);
        free(frame);
        free(ctx.buf);
        free(ctx.scratch);
        free(ctx.iov);
        free(enc);
        free_msg(&b);
    }
    fprintf(stderr, "c checksum %llu\n", (unsigned long long)sink);
    return failed;
}
