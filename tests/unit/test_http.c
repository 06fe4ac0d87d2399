/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The HTTP/1.1 framing layer: heads, body framing, chunked, serializers,
 * paths and IDs.
 *
 * Every head is parsed whole and again byte by byte (growing prefixes, each
 * in a fresh buffer of exactly its size, so a parser that keeps pointers
 * across calls or reads past len fails under ASan); small heads are also
 * parsed by a fresh parser at every prefix. All runs must agree on the
 * result, the error and its offset. Every chunked body is decoded whole,
 * byte by byte and split in two at every boundary, with the same payload,
 * end and error. The "real" samples were captured from Go 1.19 net/http
 * (etcd's handlers' calls, reproduced) with the Host port and Date fixed.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "http/http.h"

#define S(lit) lit, (sizeof(lit) - 1)

/* ---- heads: whole vs byte by byte ------------------------------------- */

typedef struct head_out {
    int rc;
    int code;
    uint64_t off;
    char dump[8192]; /* the parse result with offsets relative to the input */
} head_out;

static size_t off_of(const char *base, const char *p) { return p ? (size_t)(p - base) : 0; }

static void dump_fields(const char *base, const rh_http_header *h, size_t n, char *o, size_t cap)
{
    size_t used = strlen(o);
    for (size_t i = 0; i < n && used < cap; i++)
        used += (size_t)snprintf(o + used, cap - used, " [%zu+%zu:%zu+%zu]",
                                 off_of(base, h[i].name.ptr), h[i].name.len,
                                 off_of(base, h[i].value.ptr), h[i].value.len);
}

/* One parse of in[0..len) as request (is_req) or response. step 0: whole;
 * step 1: growing prefixes. fresh: also a new parser at every prefix. */
static head_out head_parse(bool is_req, const char *in, size_t len, size_t max_headers,
                           size_t max_head, int step, bool fresh)
{
    head_out r = {0};
    size_t nh = max_headers ? max_headers : RH_HTTP_DEFAULT_MAX_HEADERS;
    rh_http_header *hdrs = malloc(nh * sizeof(*hdrs));
    rh_http_parser p;
    rh_http_parser_init(&p, hdrs, max_headers, max_head);
    bool exact = len <= 4096; /* exact-size copies cost O(n^2) */
    char *big = exact ? NULL : malloc(len);
    if (big)
        memcpy(big, in, len);
    for (size_t k = step ? (len ? 1 : 0) : len;; k++) {
        char *buf = exact ? malloc(k ? k : 1) : big;
        if (exact)
            memcpy(buf, in, k);
        rh_http_request req;
        rh_http_response res;
        rh_err err;
        int rc = is_req ? rh_http_parse_request(&p, buf, k, &req, &err)
                        : rh_http_parse_response(&p, buf, k, &res, &err);
        if (fresh) {
            rh_http_header *h2 = malloc(nh * sizeof(*h2));
            rh_http_parser p2;
            rh_http_parser_init(&p2, h2, max_headers, max_head);
            rh_http_request req2;
            rh_http_response res2;
            rh_err err2;
            int rc2 = is_req ? rh_http_parse_request(&p2, buf, k, &req2, &err2)
                             : rh_http_parse_response(&p2, buf, k, &res2, &err2);
            CHECK(rc2 == rc && (rc >= 0 || err2.offset == err.offset));
            free(h2);
        }
        if (rc != 0 || k >= len) {
            r.rc = rc;
            if (rc < 0) {
                r.code = err.code;
                r.off = err.offset;
                CHECK(err.code == rc && err.msg[0] != 0);
            } else if (rc > 0 && is_req) {
                snprintf(r.dump, sizeof(r.dump), "m=%zu+%zu t=%zu+%zu v=%d n=%zu",
                         off_of(buf, req.method.ptr), req.method.len,
                         off_of(buf, req.target.ptr), req.target.len, req.minor_version,
                         req.num_headers);
                dump_fields(buf, req.headers, req.num_headers, r.dump, sizeof(r.dump));
            } else if (rc > 0) {
                snprintf(r.dump, sizeof(r.dump), "v=%d s=%d r=%zu+%zu n=%zu", res.minor_version,
                         res.status, off_of(buf, res.reason.ptr), res.reason.len,
                         res.num_headers);
                dump_fields(buf, res.headers, res.num_headers, r.dump, sizeof(r.dump));
            }
            if (exact)
                free(buf);
            break;
        }
        if (exact)
            free(buf);
    }
    /* a failed parser repeats its error */
    if (r.rc < 0) {
        rh_err err;
        rh_http_request req;
        rh_http_response res;
        int again = is_req ? rh_http_parse_request(&p, in, len, &req, &err)
                           : rh_http_parse_response(&p, in, len, &res, &err);
        CHECK(again == r.rc && err.offset == r.off);
    }
    free(big);
    free(hdrs);
    return r;
}

/* Parses whole and byte by byte, checks they agree, returns the whole run. */
static head_out head_both(bool is_req, const char *in, size_t len, size_t max_headers,
                          size_t max_head)
{
    head_out w = head_parse(is_req, in, len, max_headers, max_head, 0, false);
    head_out b = head_parse(is_req, in, len, max_headers, max_head, 1, len <= 2048);
    bool same = w.rc == b.rc && w.code == b.code && w.off == b.off && !strcmp(w.dump, b.dump);
    CHECK(same);
    if (!same)
        fprintf(stderr, "  whole rc=%d off=%llu %s\n  bytes rc=%d off=%llu %s\n  input: %.*s\n",
                w.rc, (unsigned long long)w.off, w.dump, b.rc, (unsigned long long)b.off,
                b.dump, (int)(len < 200 ? len : 200), in);
    return w;
}

/* Checks whole == byte by byte, then parses in place into *req. */
static int parse_req(const char *in, size_t len, rh_http_request *req, rh_http_header *hdrs,
                     rh_err *err)
{
    head_both(true, in, len, 0, 0);
    rh_http_parser p;
    rh_http_parser_init(&p, hdrs, 0, 0);
    return rh_http_parse_request(&p, in, len, req, err);
}

static int parse_res(const char *in, size_t len, rh_http_response *res, rh_http_header *hdrs,
                     rh_err *err)
{
    head_both(false, in, len, 0, 0);
    rh_http_parser p;
    rh_http_parser_init(&p, hdrs, 0, 0);
    return rh_http_parse_response(&p, in, len, res, err);
}

/* Expects the request head to fail with code at offset (whole and split). */
static void req_fails(const char *in, size_t len, int code, uint64_t off)
{
    head_out o = head_both(true, in, len, 0, 0);
    CHECK_EQ_U64((int64_t)o.rc, (int64_t)code);
    CHECK_EQ_U64(o.off, off);
}

static void res_fails(const char *in, size_t len, int code, uint64_t off)
{
    head_out o = head_both(false, in, len, 0, 0);
    CHECK_EQ_U64((int64_t)o.rc, (int64_t)code);
    CHECK_EQ_U64(o.off, off);
}

static bool span_is(rh_http_span s, const char *str)
{
    return s.len == strlen(str) && memcmp(s.ptr, str, s.len) == 0;
}

static const char *get(const rh_http_header *h, size_t n, const char *name, size_t *len)
{
    const rh_http_header *f = rh_http_header_find(h, n, name);
    *len = f ? f->value.len : 0;
    return f ? f->value.ptr : NULL;
}

#define CHECK_FIELD(h, n, name, want)                                                    \
    do {                                                                                 \
        size_t l_;                                                                       \
        const char *v_ = get((h), (n), (name), &l_);                                     \
        CHECK(v_ != NULL);                                                               \
        if (v_)                                                                          \
            CHECK_MEM(v_, l_, (want), strlen(want));                                     \
    } while (0)

/* ---- chunked: whole vs split ------------------------------------------ */

typedef struct chunk_out {
    int rc;           /* DONE, MORE or an error */
    int code;         /* err.code */
    uint64_t off;     /* err.offset */
    size_t consumed;  /* at DONE: bytes of the body */
    uint8_t *payload; /* concatenated DATA spans (malloc) */
    size_t plen;
} chunk_out;

/* Decodes in[0..len) fed as pieces: piece 0 is [0, split) unless split is 0
 * (whole) or SIZE_MAX (byte by byte). Each piece is a fresh exact-size copy. */
static chunk_out chunk_run(const uint8_t *in, size_t len, uint64_t max_chunk, size_t max_trailer,
                           size_t split)
{
    chunk_out r = {0};
    rh_http_chunked c;
    rh_http_chunked_init(&c, max_chunk, max_trailer);
    size_t pos = 0, cap = 0;
    r.rc = RH_HTTP_CHUNK_MORE;
    while (pos < len && r.rc == RH_HTTP_CHUNK_MORE) {
        size_t plen = split == SIZE_MAX ? 1 : split && pos == 0 && split < len ? split : len - pos;
        uint8_t *piece = malloc(plen);
        memcpy(piece, in + pos, plen);
        size_t off = 0;
        while (off < plen) {
            size_t used;
            const uint8_t *d;
            size_t dl;
            rh_err err;
            int rc = rh_http_chunked_feed(&c, piece + off, plen - off, &used, &d, &dl, &err);
            CHECK(used <= plen - off);
            if (rc == RH_HTTP_CHUNK_DATA) {
                /* in place: the span is the tail of what this call used */
                CHECK(dl > 0 && d == piece + off + used - dl);
                if (r.plen + dl > cap) {
                    cap = (r.plen + dl) * 2;
                    r.payload = realloc(r.payload, cap);
                }
                memcpy(r.payload + r.plen, d, dl);
                r.plen += dl;
                off += used;
                continue;
            }
            off += used;
            r.rc = rc;
            if (rc < 0) {
                r.code = err.code;
                r.off = err.offset;
                CHECK(err.code == rc && err.msg[0] != 0 && err.offset == pos + off);
            } else if (rc == RH_HTTP_CHUNK_DONE) {
                r.consumed = pos + off;
                CHECK(rh_http_chunked_done(&c));
            } else {
                CHECK(off == plen);
            }
            break;
        }
        free(piece);
        pos += plen;
    }
    if (r.rc < 0) { /* sticky */
        size_t used;
        const uint8_t *d;
        size_t dl;
        rh_err err;
        CHECK(rh_http_chunked_feed(&c, in, len, &used, &d, &dl, &err) == r.rc);
        CHECK(err.offset == r.off);
    }
    return r;
}

/* Decodes whole, byte by byte and split at every boundary; all must agree.
 * Returns the whole run (caller frees payload). */
static chunk_out chunk_all(const void *in_, size_t len, uint64_t max_chunk, size_t max_trailer)
{
    const uint8_t *in = in_;
    chunk_out w = chunk_run(in, len, max_chunk, max_trailer, 0);
    size_t stride = len <= 2048 ? 1 : 97;
    for (size_t s = 1; s <= len + stride; s += stride) {
        size_t split = s < len ? s : SIZE_MAX; /* the last run: byte by byte */
        chunk_out o = chunk_run(in, len, max_chunk, max_trailer, split);
        bool same = o.rc == w.rc && o.code == w.code && o.off == w.off &&
                    o.consumed == w.consumed && o.plen == w.plen &&
                    (w.plen == 0 || memcmp(o.payload, w.payload, w.plen) == 0);
        CHECK(same);
        if (!same)
            fprintf(stderr, "  split %zu: rc %d/%d off %llu/%llu plen %zu/%zu\n", split, o.rc,
                    w.rc, (unsigned long long)o.off, (unsigned long long)w.off, o.plen, w.plen);
        free(o.payload);
        if (!same || split == SIZE_MAX)
            break;
    }
    return w;
}

static void chunk_ok(const char *in, size_t len, const char *payload, size_t plen, int rc,
                     size_t consumed)
{
    chunk_out o = chunk_all(in, len, 0, 0);
    CHECK_EQ_U64(o.rc, rc);
    CHECK_MEM(o.payload ? (const char *)o.payload : "", o.plen, payload, plen);
    if (rc == RH_HTTP_CHUNK_DONE)
        CHECK_EQ_U64(o.consumed, consumed);
    free(o.payload);
}

static void chunk_fails(const char *in, size_t len, uint64_t max_chunk, int code, uint64_t off)
{
    chunk_out o = chunk_all(in, len, max_chunk, 0);
    CHECK_EQ_U64((int64_t)o.rc, (int64_t)code);
    CHECK_EQ_U64(o.off, off);
    free(o.payload);
}

/* ---- real samples (Go 1.19 net/http) ---------------------------------- */

/* streamReader.dial: etcd's headers, canonicalised by Go. */
static const char go_stream_get[] =
    "GET /raft/stream/message/8e9e05c52164694d HTTP/1.1\r\n"
    "Host: 10.0.0.2:2380\r\n"
    "User-Agent: Go-http-client/1.1\r\n"
    "X-Etcd-Cluster-Id: cdf818194e3a8c32\r\n"
    "X-Min-Cluster-Version: 3.0.0\r\n"
    "X-Peerurls: http://10.0.0.1:2380,http://10.0.0.2:2380\r\n"
    "X-Raft-To: 91bc3c398fb3c146\r\n"
    "X-Server-From: 8e9e05c52164694d\r\n"
    "X-Server-Version: 3.4.23\r\n"
    "Accept-Encoding: gzip\r\n"
    "\r\n";

/* pipeline.post: a known length. */
static const char go_pipeline_post[] = "POST /raft HTTP/1.1\r\n"
                                       "Host: 10.0.0.2:2380\r\n"
                                       "User-Agent: Go-http-client/1.1\r\n"
                                       "Content-Length: 4\r\n"
                                       "Content-Type: application/protobuf\r\n"
                                       "X-Etcd-Cluster-Id: cdf818194e3a8c32\r\n"
                                       "X-Server-From: 8e9e05c52164694d\r\n"
                                       "Accept-Encoding: gzip\r\n"
                                       "\r\n"
                                       "\x08\x03\x10\x02";

/* snapshotSender: a pipe body of unknown length, so Go sends it chunked. */
static const char go_snapshot_post[] = "POST /raft/snapshot HTTP/1.1\r\n"
                                       "Host: 10.0.0.2:2380\r\n"
                                       "User-Agent: Go-http-client/1.1\r\n"
                                       "Transfer-Encoding: chunked\r\n"
                                       "Content-Type: application/octet-stream\r\n"
                                       "X-Etcd-Cluster-Id: cdf818194e3a8c32\r\n"
                                       "Accept-Encoding: gzip\r\n"
                                       "\r\n"
                                       "e\r\nsnapshot-bytes\r\n4\r\nmore\r\n0\r\n\r\n";

/* streamHandler after WriteHeader(200) and Flush, then one message frame. */
static const char go_stream_200[] = "HTTP/1.1 200 OK\r\n"
                                    "X-Etcd-Cluster-Id: cdf818194e3a8c32\r\n"
                                    "X-Server-Version: 3.4.23\r\n"
                                    "Date: Mon, 13 Jan 2025 09:30:00 GMT\r\n"
                                    "Transfer-Encoding: chunked\r\n"
                                    "\r\n"
                                    "a\r\n\x00\x00\x00\x00\x00\x00\x00\x02\x08\x01\r\n";

/* http.Error(w, "cluster ID mismatch", 412) with etcd's headers set. */
static const char go_412[] = "HTTP/1.1 412 Precondition Failed\r\n"
                             "Content-Type: text/plain; charset=utf-8\r\n"
                             "X-Content-Type-Options: nosniff\r\n"
                             "X-Etcd-Cluster-Id: cdf818194e3a8c32\r\n"
                             "X-Server-Version: 3.4.23\r\n"
                             "Date: Mon, 13 Jan 2025 09:30:00 GMT\r\n"
                             "Content-Length: 20\r\n"
                             "\r\n"
                             "cluster ID mismatch\n";

/* Go's own 400 for a request without Host: no length, closes. */
static const char go_400[] = "HTTP/1.1 400 Bad Request: missing required Host header\r\n"
                             "Content-Type: text/plain; charset=utf-8\r\n"
                             "Connection: close\r\n"
                             "\r\n"
                             "400 Bad Request: missing required Host header";

/* ---- tests: requests --------------------------------------------------- */

static void test_go_stream_get_parses(void)
{
    rh_http_header h[RH_HTTP_DEFAULT_MAX_HEADERS];
    rh_http_request req;
    rh_err err;
    int rc = parse_req(S(go_stream_get), &req, h, &err);
    CHECK_EQ_U64(rc, sizeof(go_stream_get) - 1);
    CHECK(span_is(req.method, "GET"));
    CHECK(span_is(req.target, "/raft/stream/message/8e9e05c52164694d"));
    CHECK_EQ_U64(req.minor_version, 1);
    CHECK_EQ_U64(req.num_headers, 9);
    CHECK(span_is(req.headers[0].name, "Host"));
    /* etcd's spelling and Go's canonical one find the same field */
    CHECK_FIELD(h, req.num_headers, "X-Etcd-Cluster-ID", "cdf818194e3a8c32");
    CHECK_FIELD(h, req.num_headers, "X-Etcd-Cluster-Id", "cdf818194e3a8c32");
    CHECK_FIELD(h, req.num_headers, "x-etcd-cluster-id", "cdf818194e3a8c32");
    CHECK_FIELD(h, req.num_headers, "X-PeerURLs", "http://10.0.0.1:2380,http://10.0.0.2:2380");
    CHECK_FIELD(h, req.num_headers, "X-SERVER-FROM", "8e9e05c52164694d");
    CHECK_FIELD(h, req.num_headers, "X-Server-Version", "3.4.23");
    CHECK_FIELD(h, req.num_headers, "X-Min-Cluster-Version", "3.0.0");
    CHECK_FIELD(h, req.num_headers, "X-Raft-To", "91bc3c398fb3c146");
    CHECK(rh_http_header_find(h, req.num_headers, "X-Etcd-Cluster") == NULL);
    rh_http_body b;
    CHECK_EQ_U64(rh_http_request_body(&req, &b, &err), 0);
    CHECK_EQ_U64(b.kind, RH_HTTP_BODY_NONE);
    CHECK(rh_http_keep_alive(req.minor_version, h, req.num_headers));
}

static void test_go_pipeline_post_has_content_length(void)
{
    rh_http_header h[RH_HTTP_DEFAULT_MAX_HEADERS];
    rh_http_request req;
    rh_err err;
    size_t len = sizeof(go_pipeline_post) - 1;
    int rc = parse_req(go_pipeline_post, len, &req, h, &err);
    CHECK_EQ_U64(rc, len - 4);
    CHECK(span_is(req.method, "POST") && span_is(req.target, "/raft"));
    rh_http_body b;
    CHECK_EQ_U64(rh_http_request_body(&req, &b, &err), 0);
    CHECK_EQ_U64(b.kind, RH_HTTP_BODY_LENGTH);
    CHECK_EQ_U64(b.length, 4);
    CHECK_MEM(go_pipeline_post + rc, 4, "\x08\x03\x10\x02", 4);
}

static void test_go_snapshot_post_is_chunked(void)
{
    rh_http_header h[RH_HTTP_DEFAULT_MAX_HEADERS];
    rh_http_request req;
    rh_err err;
    size_t len = sizeof(go_snapshot_post) - 1;
    int rc = parse_req(go_snapshot_post, len, &req, h, &err);
    CHECK(rc > 0);
    rh_http_body b;
    CHECK_EQ_U64(rh_http_request_body(&req, &b, &err), 0);
    CHECK_EQ_U64(b.kind, RH_HTTP_BODY_CHUNKED);
    chunk_ok(go_snapshot_post + rc, len - (size_t)rc, S("snapshot-bytesmore"),
             RH_HTTP_CHUNK_DONE, len - (size_t)rc);
}

static void test_request_needs_more_until_blank_line(void)
{
    static const char in[] = "GET /raft/probing HTTP/1.1\r\nHost: a\r\n\r\n";
    rh_http_header h[4];
    for (size_t k = 0; k < sizeof(in) - 1; k++) {
        rh_http_parser p;
        rh_http_parser_init(&p, h, 4, 0);
        rh_http_request req;
        rh_err err;
        CHECK_EQ_U64(rh_http_parse_request(&p, in, k, &req, &err), 0);
    }
    head_out o = head_both(true, S(in), 4, 0);
    CHECK_EQ_U64(o.rc, sizeof(in) - 1);
}

static void test_request_leading_empty_lines_are_skipped(void)
{
    rh_http_header h[8];
    rh_http_request req;
    rh_err err;
    static const char in[] = "\r\n\r\nGET /version HTTP/1.1\r\nHost: a\r\n\r\n";
    CHECK_EQ_U64(parse_req(S(in), &req, h, &err), sizeof(in) - 1);
    CHECK(span_is(req.method, "GET") && span_is(req.target, "/version"));
}

static void test_request_http10_without_host(void)
{
    rh_http_header h[8];
    rh_http_request req;
    rh_err err;
    CHECK_EQ_U64(parse_req(S("GET /metrics HTTP/1.0\r\n\r\n"), &req, h, &err), 25);
    CHECK_EQ_U64(req.minor_version, 0);
    CHECK_EQ_U64(req.num_headers, 0);
    CHECK(!rh_http_keep_alive(0, h, 0));
    CHECK(parse_req(S("GET /metrics HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"), &req, h,
                    &err) > 0);
    CHECK(rh_http_keep_alive(0, h, req.num_headers));
}

static void test_request_values_trimmed_and_obs_text_kept(void)
{
    rh_http_header h[8];
    rh_http_request req;
    rh_err err;
    static const char in[] = "POST /raft HTTP/1.1\r\nHost:a\r\nX-A: \t v w \t \r\nX-Empty:\r\n"
                             "X-Utf8: caf\xc3\xa9\r\n\r\n";
    CHECK(parse_req(S(in), &req, h, &err) > 0);
    CHECK_EQ_U64(req.num_headers, 4);
    CHECK_FIELD(h, 4, "host", "a");
    CHECK_FIELD(h, 4, "x-a", "v w");
    CHECK_FIELD(h, 4, "X-EMPTY", "");
    CHECK_FIELD(h, 4, "x-utf8", "caf\xc3\xa9");
}

static void test_request_all_tchars_in_names_and_methods(void)
{
    rh_http_header h[8];
    rh_http_request req;
    rh_err err;
    static const char in[] = "M-!#$%&'*+.^_`|~9 * HTTP/1.1\r\nHost: a\r\n"
                             "!#$%&'*+-.^_`|~0aZ: x\r\n\r\n";
    CHECK(parse_req(S(in), &req, h, &err) > 0);
    CHECK(span_is(req.method, "M-!#$%&'*+.^_`|~9") && span_is(req.target, "*"));
    CHECK(span_is(h[1].name, "!#$%&'*+-.^_`|~0aZ"));
}

static void test_request_version_errors(void)
{
    req_fails(S("GET / HTTP/2.0\r\nHost: a\r\n\r\n"), RH_HTTP_EVERSION, 6);
    req_fails(S("GET / HTTP/0.9\r\n\r\n"), RH_HTTP_EVERSION, 6);
    req_fails(S("GET / HTTP/1.1x\r\n\r\n"), RH_HTTP_EMALFORMED, 6);
    req_fails(S("GET / HTTP/11\r\n\r\n"), RH_HTTP_EMALFORMED, 6);
    req_fails(S("GET / http/1.1\r\n\r\n"), RH_HTTP_EMALFORMED, 6);
    req_fails(S("GET / HTTP/2\r\n\r\n"), RH_HTTP_EMALFORMED, 6);
    req_fails(S("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), RH_HTTP_EVERSION, 6);
    CHECK_EQ_U64(rh_http_error_status(RH_HTTP_EVERSION), 505);
    /* a later 1.x is 1.1's sibling (RFC 9110 2.5) */
    head_out o = head_both(true, S("GET / HTTP/1.2\r\nHost: a\r\n\r\n"), 0, 0);
    CHECK(o.rc > 0);
}

static void test_request_line_errors(void)
{
    req_fails(S("G(T / HTTP/1.1\r\n\r\n"), RH_HTTP_EMETHOD, 1);
    req_fails(S(" GET / HTTP/1.1\r\n\r\n"), RH_HTTP_EMETHOD, 0);
    req_fails(S("{\"json\": 1}\r\n\r\n"), RH_HTTP_EMETHOD, 0);
    req_fails(S("GET\r\n\r\n"), RH_HTTP_EMALFORMED, 3);
    req_fails(S("GET  / HTTP/1.1\r\n\r\n"), RH_HTTP_EMALFORMED, 4);
    req_fails(S("GET /\r\n\r\n"), RH_HTTP_EMALFORMED, 5);
    req_fails(S("GET /a\tb HTTP/1.1\r\n\r\n"), RH_HTTP_EMALFORMED, 6);
    req_fails(S("GET /caf\xc3\xa9 HTTP/1.1\r\n\r\n"), RH_HTTP_EMALFORMED, 8);
    req_fails(S("GET / HTTP/1.1 \r\n\r\n"), RH_HTTP_EMALFORMED, 6);
    CHECK_EQ_U64(rh_http_error_status(RH_HTTP_EMETHOD), 400);
}

static void test_binary_garbage_fails_at_its_first_byte(void)
{
    /* a TLS ClientHello at a plain-HTTP port: no waiting for 64 KiB */
    static const char hello[] = "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03";
    req_fails(S(hello), RH_HTTP_EMALFORMED, 0);
    rh_http_header h[4];
    rh_http_parser p;
    rh_http_parser_init(&p, h, 4, 0);
    rh_http_request req;
    CHECK_EQ_U64((int64_t)rh_http_parse_request(&p, hello, 1, &req, NULL),
                 (int64_t)RH_HTTP_EMALFORMED);
}

static void test_request_bad_bytes(void)
{
    req_fails(S("GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n"), RH_HTTP_EMALFORMED, 23);
    req_fails(S("GET / HTTP/1.1\nHost: a\r\n\r\n"), RH_HTTP_EMALFORMED, 14);
    req_fails(S("GET / HTTP/1.1\r\nHost: a\n\r\n"), RH_HTTP_EMALFORMED, 23);
    req_fails(S("GET / HTTP/1.1\r\nHost: a\x00z\r\n\r\n"), RH_HTTP_EMALFORMED, 23);
    req_fails(S("GET /\x00 HTTP/1.1\r\n\r\n"), RH_HTTP_EMALFORMED, 5);
    req_fails(S("GET / HTTP/1.1\r\nHost: a\x7f\r\n\r\n"), RH_HTTP_EMALFORMED, 23);
    req_fails(S("GET / HTTP/1.1\r\nHost: a\x1b[0m\r\n\r\n"), RH_HTTP_EMALFORMED, 23);
}

static void test_request_field_line_errors(void)
{
    /* obs-fold (RFC 9112 5.2: reject) */
    req_fails(S("GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n c\r\n\r\n"), RH_HTTP_EMALFORMED, 33);
    req_fails(S("GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n\tc\r\n\r\n"), RH_HTTP_EMALFORMED, 33);
    /* whitespace before the first field */
    req_fails(S("GET / HTTP/1.1\r\n Host: a\r\n\r\n"), RH_HTTP_EMALFORMED, 16);
    /* whitespace between name and colon (smuggling) */
    req_fails(S("GET / HTTP/1.1\r\nHost : a\r\n\r\n"), RH_HTTP_EMALFORMED, 20);
    req_fails(S("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding\t: chunked\r\n\r\n"),
              RH_HTTP_EMALFORMED, 43);
    req_fails(S("GET / HTTP/1.1\r\n: a\r\n\r\n"), RH_HTTP_EMALFORMED, 16);
    req_fails(S("GET / HTTP/1.1\r\nHost a\r\n\r\n"), RH_HTTP_EMALFORMED, 20);
    req_fails(S("GET / HTTP/1.1\r\nHost\r\n\r\n"), RH_HTTP_EMALFORMED, 20);
    req_fails(S("GET / HTTP/1.1\r\nHo(st: a\r\n\r\n"), RH_HTTP_EMALFORMED, 18);
}

static void test_request_host_rules(void)
{
    req_fails(S("GET / HTTP/1.1\r\n\r\n"), RH_HTTP_EMALFORMED, 0);
    req_fails(S("GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n"), RH_HTTP_EMALFORMED, 0);
    req_fails(S("GET / HTTP/1.0\r\nHost: a\r\nHOST: a\r\n\r\n"), RH_HTTP_EMALFORMED, 0);
    req_fails(S("\r\nGET / HTTP/1.1\r\n\r\n"), RH_HTTP_EMALFORMED, 2);
}

static void test_head_too_big(void)
{
    /* exactly max_head bytes is fine, one more is 431 */
    static const char in[] = "GET / HTTP/1.1\r\nHost: abcdefgh\r\n\r\n"; /* 34 bytes */
    size_t len = sizeof(in) - 1;
    head_out o = head_both(true, in, len, 0, len);
    CHECK_EQ_U64(o.rc, len);
    o = head_both(true, in, len, 0, len - 1);
    CHECK_EQ_U64((int64_t)o.rc, (int64_t)RH_HTTP_EHEADTOOBIG);
    CHECK_EQ_U64(o.off, len - 1);
    /* a head not ended within max_head is 431 as soon as max_head bytes are in,
     * even when the CR of the blank line is the last of them */
    o = head_both(true, in, len - 1, 0, len - 1);
    CHECK_EQ_U64((int64_t)o.rc, (int64_t)RH_HTTP_EHEADTOOBIG);
    /* a 70 KB field against the default 64 KiB */
    size_t big = 70000;
    char *b = malloc(big + 64);
    size_t n = (size_t)sprintf(b, "GET / HTTP/1.1\r\nHost: a\r\nX-Big: ");
    memset(b + n, 'x', big);
    n += big;
    memcpy(b + n, "\r\n\r\n", 4);
    n += 4;
    o = head_both(true, b, n, 0, 0);
    CHECK_EQ_U64((int64_t)o.rc, (int64_t)RH_HTTP_EHEADTOOBIG);
    CHECK_EQ_U64(o.off, RH_HTTP_DEFAULT_MAX_HEAD);
    CHECK_EQ_U64(rh_http_error_status(o.rc), 431);
    /* the same head passes with a larger limit */
    o = head_both(true, b, n, 0, 128 * 1024);
    CHECK_EQ_U64(o.rc, n);
    free(b);
}

static void test_too_many_headers(void)
{
    char buf[4096];
    size_t n = (size_t)sprintf(buf, "GET / HTTP/1.1\r\nHost: a\r\n");
    for (int i = 1; i < 100; i++)
        n += (size_t)sprintf(buf + n, "X-%d: v\r\n", i);
    memcpy(buf + n, "\r\n", 2);
    head_out o = head_both(true, buf, n + 2, 0, 0); /* 100 fields: the default */
    CHECK_EQ_U64(o.rc, n + 2);
    size_t line101 = n;
    n += (size_t)sprintf(buf + n, "X-100: v\r\n\r\n");
    o = head_both(true, buf, n, 0, 0);
    CHECK_EQ_U64((int64_t)o.rc, (int64_t)RH_HTTP_ETOOMANYHEADERS);
    CHECK_EQ_U64(o.off, line101);
    CHECK_EQ_U64(rh_http_error_status(o.rc), 431);
    o = head_both(true, buf, n, 3, 0); /* a configured limit */
    CHECK_EQ_U64((int64_t)o.rc, (int64_t)RH_HTTP_ETOOMANYHEADERS);
    o = head_both(false, S("HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n"), 2, 0);
    CHECK_EQ_U64((int64_t)o.rc, (int64_t)RH_HTTP_ETOOMANYHEADERS);
}

static void test_parser_reset_and_buffer_move(void)
{
    /* two requests back to back on one connection, the buffer moving */
    static const char two[] = "GET /version HTTP/1.1\r\nHost: a\r\n\r\n"
                              "GET /members HTTP/1.1\r\nHost: a\r\n\r\n";
    rh_http_header h[4];
    rh_http_parser p;
    rh_http_parser_init(&p, h, 4, 0);
    rh_http_request req;
    char *copy = malloc(10);
    memcpy(copy, two, 10);
    CHECK_EQ_U64(rh_http_parse_request(&p, copy, 10, &req, NULL), 0);
    free(copy);
    copy = malloc(sizeof(two));
    memcpy(copy, two, sizeof(two));
    int rc = rh_http_parse_request(&p, copy, sizeof(two) - 1, &req, NULL);
    CHECK_EQ_U64(rc, 34);
    CHECK(span_is(req.target, "/version"));
    /* asking again (more bytes in) gives the same head, not the next one */
    memset(&req, 0, sizeof(req));
    CHECK_EQ_U64(rh_http_parse_request(&p, copy, sizeof(two) - 1, &req, NULL), 34);
    CHECK(span_is(req.target, "/version") && req.num_headers == 1);
    rh_http_parser_reset(&p);
    int rc2 = rh_http_parse_request(&p, copy + rc, sizeof(two) - 1 - (size_t)rc, &req, NULL);
    CHECK_EQ_U64(rc2, 34);
    CHECK(span_is(req.target, "/members"));
    free(copy);
}

/* ---- tests: responses -------------------------------------------------- */

static void test_go_stream_response_is_chunked_and_endless(void)
{
    rh_http_header h[RH_HTTP_DEFAULT_MAX_HEADERS];
    rh_http_response res;
    rh_err err;
    size_t len = sizeof(go_stream_200) - 1;
    int rc = parse_res(go_stream_200, len, &res, h, &err);
    CHECK(rc > 0);
    CHECK_EQ_U64(res.status, 200);
    CHECK(span_is(res.reason, "OK"));
    CHECK_EQ_U64(res.minor_version, 1);
    CHECK_EQ_U64(res.num_headers, 4);
    CHECK_FIELD(h, res.num_headers, "X-Etcd-Cluster-ID", "cdf818194e3a8c32");
    CHECK_FIELD(h, res.num_headers, "X-Server-Version", "3.4.23");
    CHECK_FIELD(h, res.num_headers, "date", "Mon, 13 Jan 2025 09:30:00 GMT");
    rh_http_body b;
    CHECK_EQ_U64(rh_http_response_body(&res, false, &b, &err), 0);
    CHECK_EQ_U64(b.kind, RH_HTTP_BODY_CHUNKED);
    /* one message frame (8-byte length 2, then 08 01), no end in sight */
    chunk_ok(go_stream_200 + rc, len - (size_t)rc, S("\x00\x00\x00\x00\x00\x00\x00\x02\x08\x01"),
             RH_HTTP_CHUNK_MORE, 0);
}

/* Go's http.Error, as etcd's handlers answer a refused stream. */
static void check_go_error(int status, const char *reason, const char *body)
{
    char buf[1024];
    size_t blen = strlen(body) + 1;
    int n = snprintf(buf, sizeof(buf),
                     "HTTP/1.1 %d %s\r\n"
                     "Content-Type: text/plain; charset=utf-8\r\n"
                     "X-Content-Type-Options: nosniff\r\n"
                     "X-Etcd-Cluster-Id: cdf818194e3a8c32\r\n"
                     "X-Server-Version: 3.4.23\r\n"
                     "Date: Mon, 13 Jan 2025 09:30:00 GMT\r\n"
                     "Content-Length: %zu\r\n"
                     "\r\n"
                     "%s\n",
                     status, reason, blen, body);
    rh_http_header h[RH_HTTP_DEFAULT_MAX_HEADERS];
    rh_http_response res;
    rh_err err;
    int rc = parse_res(buf, (size_t)n, &res, h, &err);
    CHECK_EQ_U64(rc, (size_t)n - blen);
    CHECK_EQ_U64(res.status, status);
    CHECK(span_is(res.reason, reason));
    CHECK_FIELD(h, res.num_headers, "Content-Type", "text/plain; charset=utf-8");
    CHECK_FIELD(h, res.num_headers, "X-Content-Type-Options", "nosniff");
    rh_http_body b;
    CHECK_EQ_U64(rh_http_response_body(&res, false, &b, &err), 0);
    CHECK_EQ_U64(b.kind, RH_HTTP_BODY_LENGTH);
    CHECK_EQ_U64(b.length, blen);
    CHECK_MEM(buf + rc, b.length - 1, body, blen - 1);
}

static void test_etcd_error_responses(void)
{
    /* the captured one, verbatim */
    rh_http_header h[RH_HTTP_DEFAULT_MAX_HEADERS];
    rh_http_response res;
    rh_err err;
    int rc = parse_res(S(go_412), &res, h, &err);
    CHECK_EQ_U64(rc, sizeof(go_412) - 1 - 20);
    rh_http_body b;
    CHECK_EQ_U64(rh_http_response_body(&res, false, &b, &err), 0);
    CHECK_EQ_U64(b.length, 20);
    CHECK_MEM(go_412 + rc, 20, "cluster ID mismatch\n", 20);
    /* what streamReader.dial switches on */
    check_go_error(412, "Precondition Failed", "incompatible version");
    check_go_error(412, "Precondition Failed", "cluster ID mismatch");
    check_go_error(410, "Gone", "removed member");
    check_go_error(404, "Not Found", "error sender not found");
    check_go_error(412, "Precondition Failed", "to field mismatch");
    check_go_error(405, "Method Not Allowed", "Method Not Allowed");
}

static void test_go_400_reads_until_close(void)
{
    rh_http_header h[8];
    rh_http_response res;
    rh_err err;
    int rc = parse_res(S(go_400), &res, h, &err);
    CHECK(rc > 0);
    CHECK_EQ_U64(res.status, 400);
    CHECK(span_is(res.reason, "Bad Request: missing required Host header"));
    CHECK(!rh_http_keep_alive(res.minor_version, h, res.num_headers));
    rh_http_body b;
    CHECK_EQ_U64(rh_http_response_body(&res, false, &b, &err), 0);
    CHECK_EQ_U64(b.kind, RH_HTTP_BODY_UNTIL_CLOSE);
}

static void test_response_status_lines(void)
{
    rh_http_header h[8];
    rh_http_response res;
    rh_err err;
    CHECK(parse_res(S("HTTP/1.1 204 No Content\r\n\r\n"), &res, h, &err) > 0);
    CHECK_EQ_U64(res.status, 204);
    CHECK(parse_res(S("HTTP/1.1 200\r\n\r\n"), &res, h, &err) > 0);
    CHECK(res.status == 200 && res.reason.len == 0);
    CHECK(parse_res(S("HTTP/1.1 200 \r\n\r\n"), &res, h, &err) > 0);
    CHECK(res.status == 200 && res.reason.len == 0);
    CHECK(parse_res(S("HTTP/1.0 599 Whatever  it\tsays\r\n\r\n"), &res, h, &err) > 0);
    CHECK(res.minor_version == 0 && span_is(res.reason, "Whatever  it\tsays"));
    res_fails(S("HTTP/1.1 99 Low\r\n\r\n"), RH_HTTP_EMALFORMED, 8);
    res_fails(S("HTTP/1.1 099 Low\r\n\r\n"), RH_HTTP_EMALFORMED, 9);
    res_fails(S("HTTP/1.1 600 High\r\n\r\n"), RH_HTTP_EMALFORMED, 9);
    res_fails(S("HTTP/1.1 2000\r\n\r\n"), RH_HTTP_EMALFORMED, 8);
    res_fails(S("HTTP/1.1 20x OK\r\n\r\n"), RH_HTTP_EMALFORMED, 8);
    res_fails(S("HTTP/1.1  200 OK\r\n\r\n"), RH_HTTP_EMALFORMED, 8);
    res_fails(S("HTTP/2.0 200 OK\r\n\r\n"), RH_HTTP_EVERSION, 0);
    res_fails(S("HTTP/2 200 OK\r\n\r\n"), RH_HTTP_EMALFORMED, 0);
    res_fails(S("ICY 200 OK\r\n\r\n"), RH_HTTP_EMALFORMED, 0);
    res_fails(S("\r\nHTTP/1.1 200 OK\r\n\r\n"), RH_HTTP_EMALFORMED, 0);
    res_fails(S("HTTP/1.1 200 OK\r\nA: b\r\n c\r\n\r\n"), RH_HTTP_EMALFORMED, 23);
    res_fails(S("HTTP/1.1 200 O\x01K\r\n\r\n"), RH_HTTP_EMALFORMED, 14);
}

static void test_interim_response_then_final(void)
{
    static const char in[] = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n";
    rh_http_header h[4];
    rh_http_parser p;
    rh_http_parser_init(&p, h, 4, 0);
    rh_http_response res;
    rh_http_body b;
    int rc = rh_http_parse_response(&p, in, sizeof(in) - 1, &res, NULL);
    CHECK_EQ_U64(rc, 25);
    CHECK_EQ_U64(res.status, 100);
    CHECK_EQ_U64(rh_http_response_body(&res, false, &b, NULL), 0);
    CHECK_EQ_U64(b.kind, RH_HTTP_BODY_NONE);
    rh_http_parser_reset(&p);
    CHECK(rh_http_parse_response(&p, in + rc, sizeof(in) - 1 - (size_t)rc, &res, NULL) > 0);
    CHECK_EQ_U64(res.status, 204);
}

/* ---- tests: body framing ----------------------------------------------- */

/* Parses "<start line>\r\nHost: a\r\n<fields>\r\n" and returns the framing. */
static int framing(bool is_req, const char *start, const char *fields, bool head_req,
                   rh_http_body *b)
{
    char buf[1024];
    int n = snprintf(buf, sizeof(buf), "%s\r\n%s%s\r\n", start, is_req ? "Host: a\r\n" : "",
                     fields);
    rh_http_header h[16];
    rh_err err;
    int rc;
    if (is_req) {
        rh_http_request req;
        CHECK(parse_req(buf, (size_t)n, &req, h, &err) == n);
        rc = rh_http_request_body(&req, b, &err);
    } else {
        rh_http_response res;
        CHECK(parse_res(buf, (size_t)n, &res, h, &err) == n);
        rc = rh_http_response_body(&res, head_req, b, &err);
    }
    CHECK(rc == 0 || (err.code == rc && err.msg[0]));
    return rc;
}

static void expect_framing(bool is_req, const char *start, const char *fields, int want_rc,
                           int kind, uint64_t length)
{
    rh_http_body b;
    int rc = framing(is_req, start, fields, false, &b);
    CHECK_EQ_U64((int64_t)rc, (int64_t)want_rc);
    CHECK_EQ_U64(b.kind, kind);
    CHECK_EQ_U64(b.length, length);
    if (rc != want_rc)
        fprintf(stderr, "  fields: %s\n", fields);
}

static void test_request_framing(void)
{
    const char *post = "POST /raft HTTP/1.1";
    expect_framing(true, post, "", 0, RH_HTTP_BODY_NONE, 0);
    expect_framing(true, post, "Content-Length: 0\r\n", 0, RH_HTTP_BODY_LENGTH, 0);
    expect_framing(true, post, "content-length: 007\r\n", 0, RH_HTTP_BODY_LENGTH, 7);
    expect_framing(true, post, "Content-Length: 9223372036854775807\r\n", 0,
                   RH_HTTP_BODY_LENGTH, INT64_MAX);
    expect_framing(true, post, "Transfer-Encoding: chunked\r\n", 0, RH_HTTP_BODY_CHUNKED, 0);
    expect_framing(true, post, "TRANSFER-ENCODING: Chunked\r\n", 0, RH_HTTP_BODY_CHUNKED, 0);
    /* duplicates that agree are one (as Go) */
    expect_framing(true, post, "Content-Length: 5\r\nContent-Length: 5\r\n", 0,
                   RH_HTTP_BODY_LENGTH, 5);
    /* smuggling shapes */
    expect_framing(true, post, "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n",
                   RH_HTTP_EFRAMING, RH_HTTP_BODY_NONE, 0);
    expect_framing(true, post, "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n",
                   RH_HTTP_EFRAMING, RH_HTTP_BODY_NONE, 0);
    expect_framing(true, post, "Content-Length: 5\r\nContent-Length: 6\r\n", RH_HTTP_EFRAMING,
                   RH_HTTP_BODY_NONE, 0);
    expect_framing(true, post, "Content-Length: 5\r\ncontent-length: 05\r\n", RH_HTTP_EFRAMING,
                   RH_HTTP_BODY_NONE, 0);
    expect_framing(true, post, "Content-Length: 5, 5\r\n", RH_HTTP_EFRAMING, RH_HTTP_BODY_NONE, 0);
    expect_framing(true, post, "Content-Length: -1\r\n", RH_HTTP_EFRAMING, RH_HTTP_BODY_NONE, 0);
    expect_framing(true, post, "Content-Length: +5\r\n", RH_HTTP_EFRAMING, RH_HTTP_BODY_NONE, 0);
    expect_framing(true, post, "Content-Length: 0x10\r\n", RH_HTTP_EFRAMING, RH_HTTP_BODY_NONE, 0);
    expect_framing(true, post, "Content-Length: 1 2\r\n", RH_HTTP_EFRAMING, RH_HTTP_BODY_NONE, 0);
    expect_framing(true, post, "Content-Length:\r\n", RH_HTTP_EFRAMING, RH_HTTP_BODY_NONE, 0);
    expect_framing(true, post, "Content-Length: 9223372036854775808\r\n", RH_HTTP_EFRAMING,
                   RH_HTTP_BODY_NONE, 0);
    expect_framing(true, post, "Content-Length: 18446744073709551616\r\n", RH_HTTP_EFRAMING,
                   RH_HTTP_BODY_NONE, 0);
    expect_framing(true, post, "Content-Length: 99999999999999999999999999999\r\n",
                   RH_HTTP_EFRAMING, RH_HTTP_BODY_NONE, 0);
    /* codings we do not implement: 501, as Go */
    expect_framing(true, post, "Transfer-Encoding: gzip\r\n", RH_HTTP_ECODING, RH_HTTP_BODY_NONE,
                   0);
    expect_framing(true, post, "Transfer-Encoding: gzip, chunked\r\n", RH_HTTP_ECODING,
                   RH_HTTP_BODY_NONE, 0);
    expect_framing(true, post, "Transfer-Encoding: chunked, chunked\r\n", RH_HTTP_ECODING,
                   RH_HTTP_BODY_NONE, 0);
    expect_framing(true, post, "Transfer-Encoding: identity\r\n", RH_HTTP_ECODING,
                   RH_HTTP_BODY_NONE, 0);
    expect_framing(true, post, "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
                   RH_HTTP_ECODING, RH_HTTP_BODY_NONE, 0);
    expect_framing(true, post, "Transfer-Encoding:\r\n", RH_HTTP_ECODING, RH_HTTP_BODY_NONE, 0);
    CHECK_EQ_U64(rh_http_error_status(RH_HTTP_ECODING), 501);
    CHECK_EQ_U64(rh_http_error_status(RH_HTTP_EFRAMING), 400);
    /* RFC 9112 6.1: TE in HTTP/1.0 means the framing is faulty */
    expect_framing(true, "POST /raft HTTP/1.0", "Transfer-Encoding: chunked\r\n",
                   RH_HTTP_EFRAMING, RH_HTTP_BODY_NONE, 0);
}

static void test_response_framing(void)
{
    const char *ok = "HTTP/1.1 200 OK";
    expect_framing(false, ok, "", 0, RH_HTTP_BODY_UNTIL_CLOSE, 0);
    expect_framing(false, ok, "Content-Length: 20\r\n", 0, RH_HTTP_BODY_LENGTH, 20);
    expect_framing(false, ok, "Transfer-Encoding: chunked\r\n", 0, RH_HTTP_BODY_CHUNKED, 0);
    expect_framing(false, ok, "Transfer-Encoding: chunked\r\nContent-Length: 2\r\n",
                   RH_HTTP_EFRAMING, RH_HTTP_BODY_NONE, 0);
    expect_framing(false, ok, "Content-Length: 2\r\nContent-Length: 3\r\n", RH_HTTP_EFRAMING,
                   RH_HTTP_BODY_NONE, 0);
    expect_framing(false, ok, "Transfer-Encoding: gzip\r\n", RH_HTTP_ECODING, RH_HTTP_BODY_NONE,
                   0);
    expect_framing(false, "HTTP/1.0 200 OK", "Transfer-Encoding: chunked\r\n", RH_HTTP_EFRAMING,
                   RH_HTTP_BODY_NONE, 0);
    /* no body whatever the fields say */
    expect_framing(false, "HTTP/1.1 204 No Content", "Content-Length: 5\r\n", 0,
                   RH_HTTP_BODY_NONE, 0);
    expect_framing(false, "HTTP/1.1 304 Not Modified", "Transfer-Encoding: chunked\r\n", 0,
                   RH_HTTP_BODY_NONE, 0);
    expect_framing(false, "HTTP/1.1 101 Switching Protocols", "", 0, RH_HTTP_BODY_NONE, 0);
    rh_http_body b;
    CHECK_EQ_U64(framing(false, ok, "Content-Length: 20\r\n", true, &b), 0);
    CHECK_EQ_U64(b.kind, RH_HTTP_BODY_NONE);
}

static void test_connection_tokens(void)
{
    rh_http_header h[3] = {rh_http_header_make("Connection", "keep-alive, Close"),
                           rh_http_header_make("X", "close"),
                           rh_http_header_make("connection", " upgrade ,foo")};
    CHECK(rh_http_header_has_token(h, 3, "connection", "close"));
    CHECK(rh_http_header_has_token(h, 3, "Connection", "UPGRADE"));
    CHECK(rh_http_header_has_token(h, 3, "Connection", "foo"));
    CHECK(!rh_http_header_has_token(h, 3, "Connection", "clos"));
    CHECK(!rh_http_keep_alive(1, h, 3));
    CHECK(rh_http_keep_alive(1, h + 1, 1));
    CHECK_EQ_U64(rh_http_header_index(h, 3, 0, "CONNECTION"), 0);
    CHECK_EQ_U64(rh_http_header_index(h, 3, 1, "CONNECTION"), 2);
    CHECK_EQ_U64(rh_http_header_index(h, 3, 3, "CONNECTION"), 3);
}

/* ---- tests: chunked ---------------------------------------------------- */

static void test_chunked_basic(void)
{
    chunk_ok(S("5\r\nhello\r\n0\r\n\r\n"), S("hello"), RH_HTTP_CHUNK_DONE, 15);
    chunk_ok(S("5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"), S("hello world"), RH_HTTP_CHUNK_DONE,
             26);
    chunk_ok(S("0\r\n\r\n"), S(""), RH_HTTP_CHUNK_DONE, 5);
    chunk_ok(S("A\r\n0123456789\r\n0\r\n\r\n"), S("0123456789"), RH_HTTP_CHUNK_DONE, 20);
    chunk_ok(S("000005\r\nhello\r\n0000\r\n\r\n"), S("hello"), RH_HTTP_CHUNK_DONE, 23);
    /* the next message starts right after the body */
    chunk_ok(S("5\r\nhello\r\n0\r\n\r\nPOST /raft HTTP/1.1\r\n"), S("hello"),
             RH_HTTP_CHUNK_DONE, 15);
    /* no end yet */
    chunk_ok(S("5\r\nhel"), S("hel"), RH_HTTP_CHUNK_MORE, 0);
    chunk_ok(S("5\r\nhello\r\n0\r\n"), S("hello"), RH_HTTP_CHUNK_MORE, 0);
    chunk_ok(S(""), S(""), RH_HTTP_CHUNK_MORE, 0);
}

static void test_chunked_extensions_and_whitespace(void)
{
    chunk_ok(S("5;name=value\r\nhello\r\n0;last\r\n\r\n"), S("hello"), RH_HTTP_CHUNK_DONE, 31);
    chunk_ok(S("5 ;a=\"q;s\"\r\nhello\r\n0\r\n\r\n"), S("hello"), RH_HTTP_CHUNK_DONE, 24);
    chunk_ok(S("5 \t\r\nhello\r\n0\r\n\r\n"), S("hello"), RH_HTTP_CHUNK_DONE, 17);
    chunk_ok(S("5;\xff\r\nhello\r\n0\r\n\r\n"), S("hello"), RH_HTTP_CHUNK_DONE, 17);
}

static void test_chunked_trailers(void)
{
    chunk_ok(S("5\r\nhello\r\n0\r\nX-Checksum: abc\r\nY: z\r\n\r\nnext"), S("hello"),
             RH_HTTP_CHUNK_DONE, 38);
    chunk_fails(S("0\r\nA: b\r\n c\r\n\r\n"), 0, RH_HTTP_ECHUNK, 9);
    chunk_fails(S("0\r\nA: b\rc\r\n\r\n"), 0, RH_HTTP_ECHUNK, 8);
    chunk_fails(S("0\r\nA: \x01\r\n\r\n"), 0, RH_HTTP_ECHUNK, 6);
    chunk_fails(S("0\r\n\n"), 0, RH_HTTP_ECHUNK, 3);
    chunk_fails(S("0\r\n\rx"), 0, RH_HTTP_ECHUNK, 4);
    /* bounded: a trailer section one byte over the limit */
    size_t n = 20000;
    char *b = malloc(n + 16);
    memcpy(b, "0\r\nX: ", 6);
    memset(b + 6, 'a', n);
    memcpy(b + 6 + n, "\r\n\r\n", 4);
    chunk_fails(b, n + 10, 0, RH_HTTP_ETRAILER, 3 + RH_HTTP_DEFAULT_MAX_TRAILER);
    chunk_out o = chunk_run((const uint8_t *)b, n + 10, 0, n + 7, 0); /* exactly fits */
    CHECK_EQ_U64(o.rc, RH_HTTP_CHUNK_DONE);
    free(o.payload);
    o = chunk_run((const uint8_t *)b, n + 10, 0, n + 6, 0);
    CHECK_EQ_U64((int64_t)o.rc, (int64_t)RH_HTTP_ETRAILER);
    free(o.payload);
    free(b);
}

static void test_chunked_hostile_sizes(void)
{
    /* 2^64-1 is refused by default, before any data is awaited */
    chunk_fails(S("ffffffffffffffff\r\nabc"), 0, RH_HTTP_ECHUNKSIZE, 15);
    chunk_fails(S("8000000000000000\r\n"), 0, RH_HTTP_ECHUNKSIZE, 15);
    /* 17 digits: over 64 bits, and Go refuses it too even with leading zeros */
    chunk_fails(S("fffffffffffffffff\r\n"), UINT64_MAX, RH_HTTP_ECHUNKSIZE, 16);
    chunk_fails(S("10000000000000000\r\n"), UINT64_MAX, RH_HTTP_ECHUNKSIZE, 16);
    chunk_fails(S("00000000000000005\r\nhello\r\n"), 0, RH_HTTP_ECHUNKSIZE, 16);
    chunk_fails(S("6\r\nhello \r\nffffffffffffffff\r\nabcdefg"), 0, RH_HTTP_ECHUNKSIZE, 26);
    /* the largest allowed size just streams */
    chunk_ok(S("7fffffffffffffff\r\nabcdefg"), S("abcdefg"), RH_HTTP_CHUNK_MORE, 0);
    /* with no limit, 16 f's is a (very long) chunk, as in Go */
    chunk_out o = chunk_all(S("ffffffffffffffff\r\nabc"), UINT64_MAX, 0);
    CHECK_EQ_U64(o.rc, RH_HTTP_CHUNK_MORE);
    CHECK_MEM(o.payload, o.plen, "abc", 3);
    free(o.payload);
    /* a configured limit */
    chunk_fails(S("101\r\n"), 0x100, RH_HTTP_ECHUNKSIZE, 2);
    chunk_ok(S("100\r\n"), S(""), RH_HTTP_CHUNK_MORE, 0);
    CHECK_EQ_U64(rh_http_error_status(RH_HTTP_ECHUNKSIZE), 400);
}

static void test_chunked_syntax_errors(void)
{
    chunk_fails(S("5\r\nhelloX\r\n0\r\n\r\n"), 0, RH_HTTP_ECHUNK, 8);
    chunk_fails(S("5\r\nhello\rX"), 0, RH_HTTP_ECHUNK, 9);
    chunk_fails(S("5\r\nhello\n0\r\n\r\n"), 0, RH_HTTP_ECHUNK, 8);
    chunk_fails(S("5\r\nhello0\r\n\r\n"), 0, RH_HTTP_ECHUNK, 8);
    chunk_fails(S("5\nhello\r\n"), 0, RH_HTTP_ECHUNK, 1);
    chunk_fails(S("5\rhello\r\n"), 0, RH_HTTP_ECHUNK, 2);
    chunk_fails(S("\r\n"), 0, RH_HTTP_ECHUNK, 0);
    chunk_fails(S(" 5\r\nhello\r\n"), 0, RH_HTTP_ECHUNK, 0);
    chunk_fails(S("-5\r\n"), 0, RH_HTTP_ECHUNK, 0);
    chunk_fails(S("+5\r\n"), 0, RH_HTTP_ECHUNK, 0);
    chunk_fails(S("x\r\n"), 0, RH_HTTP_ECHUNK, 0);
    chunk_fails(S("0x5\r\n"), 0, RH_HTTP_ECHUNK, 1);
    chunk_fails(S("5 5\r\n"), 0, RH_HTTP_ECHUNK, 2);
    chunk_fails(S("5;a\x00\r\n"), 0, RH_HTTP_ECHUNK, 3);
    chunk_fails(S("5;a\nb\r\n"), 0, RH_HTTP_ECHUNK, 3);
    /* a size line longer than Go's 4096 */
    char *b = malloc(5000);
    memcpy(b, "5;", 2);
    memset(b + 2, 'e', 4998);
    chunk_fails(b, 5000, 0, RH_HTTP_ECHUNK, RH_HTTP_MAX_CHUNK_LINE);
    free(b);
}

static void test_chunked_large_random_body(void)
{
    /* chunks of many sizes, their encoding written by our serializer */
    size_t cap = 1 << 16, n = 0, plen = 0;
    char *enc = malloc(cap);
    uint8_t *payload = malloc(cap);
    uint32_t seed = 12345;
    size_t sizes[] = {1, 2, 15, 16, 17, 255, 256, 1000, 4095, 4096, 4097, 3, 0};
    for (size_t i = 0; sizes[i]; i++) {
        n += rh_http_write_chunk_header(enc + n, sizes[i]);
        for (size_t k = 0; k < sizes[i]; k++) {
            seed = seed * 1103515245u + 12345u;
            payload[plen + k] = (uint8_t)(seed >> 16);
        }
        memcpy(enc + n, payload + plen, sizes[i]);
        n += sizes[i];
        plen += sizes[i];
        memcpy(enc + n, RH_HTTP_CHUNK_END, RH_HTTP_CHUNK_END_LEN);
        n += RH_HTTP_CHUNK_END_LEN;
    }
    memcpy(enc + n, RH_HTTP_LAST_CHUNK, RH_HTTP_LAST_CHUNK_LEN);
    n += RH_HTTP_LAST_CHUNK_LEN;
    chunk_ok(enc, n, (const char *)payload, plen, RH_HTTP_CHUNK_DONE, n);
    free(enc);
    free(payload);
}

static void test_chunked_errors_are_sticky_and_done_stays_done(void)
{
    rh_http_chunked c;
    rh_http_chunked_init(&c, 0, 0);
    size_t used, dl;
    const uint8_t *d;
    rh_err err;
    CHECK_EQ_U64(rh_http_chunked_feed(&c, (const uint8_t *)"0\r\n\r\nrest", 9, &used, &d, &dl,
                                      &err),
                 RH_HTTP_CHUNK_DONE);
    CHECK_EQ_U64(used, 5);
    CHECK_EQ_U64(rh_http_chunked_offset(&c), 5);
    CHECK_EQ_U64(rh_http_chunked_feed(&c, (const uint8_t *)"rest", 4, &used, &d, &dl, &err),
                 RH_HTTP_CHUNK_DONE);
    CHECK_EQ_U64(used, 0);
    rh_http_chunked_init(&c, 0, 0);
    CHECK_EQ_U64((int64_t)rh_http_chunked_feed(&c, (const uint8_t *)"zz", 2, &used, &d, &dl, &err),
                 (int64_t)RH_HTTP_ECHUNK);
    CHECK_EQ_U64(used, 0);
    CHECK_EQ_U64((int64_t)rh_http_chunked_feed(&c, (const uint8_t *)"5\r\n", 3, &used, &d, &dl,
                                               &err),
                 (int64_t)RH_HTTP_ECHUNK);
}

/* ---- tests: serializers ------------------------------------------------ */

static void test_write_stream_request_parses_back(void)
{
    char id[RH_HTTP_ID_MAX + 1], target[64];
    rh_http_format_id(0x8e9e05c52164694dULL, id);
    snprintf(target, sizeof(target), "%s/%s", RH_HTTP_PATH_STREAM_MESSAGE, id);
    rh_http_header h[] = {
        rh_http_header_make("Host", "10.0.0.2:2380"),
        rh_http_header_make("X-Server-From", id),
        rh_http_header_make("X-Server-Version", "3.4.23"),
        rh_http_header_make("X-Min-Cluster-Version", "3.0.0"),
        rh_http_header_make("X-Etcd-Cluster-ID", "cdf818194e3a8c32"),
        rh_http_header_make("X-Raft-To", "91bc3c398fb3c146"),
        rh_http_header_make("X-PeerURLs", "http://10.0.0.1:2380"),
    };
    static const char want[] = "GET /raft/stream/message/8e9e05c52164694d HTTP/1.1\r\n"
                               "Host: 10.0.0.2:2380\r\n"
                               "X-Server-From: 8e9e05c52164694d\r\n"
                               "X-Server-Version: 3.4.23\r\n"
                               "X-Min-Cluster-Version: 3.0.0\r\n"
                               "X-Etcd-Cluster-ID: cdf818194e3a8c32\r\n"
                               "X-Raft-To: 91bc3c398fb3c146\r\n"
                               "X-PeerURLs: http://10.0.0.1:2380\r\n"
                               "\r\n";
    char out[512];
    size_t n = rh_http_write_request_head(out, sizeof(out), "GET", target, h, 7);
    CHECK_MEM(out, n, want, sizeof(want) - 1);
    rh_http_header ph[16];
    rh_http_request req;
    rh_err err;
    CHECK_EQ_U64(parse_req(out, n, &req, ph, &err), n);
    CHECK_EQ_U64(req.num_headers, 7);
    for (size_t i = 0; i < 7; i++)
        CHECK_FIELD(ph, req.num_headers, h[i].name.ptr, h[i].value.ptr);
}

static void test_write_response_heads(void)
{
    rh_http_header h[] = {
        rh_http_header_make("X-Server-Version", "3.4.23"),
        rh_http_header_make("X-Etcd-Cluster-ID", "cdf818194e3a8c32"),
        rh_http_header_make("Transfer-Encoding", "chunked"),
    };
    char out[256];
    size_t n = rh_http_write_response_head(out, sizeof(out), 200, h, 3);
    static const char want[] = "HTTP/1.1 200 OK\r\nX-Server-Version: 3.4.23\r\n"
                               "X-Etcd-Cluster-ID: cdf818194e3a8c32\r\n"
                               "Transfer-Encoding: chunked\r\n\r\n";
    CHECK_MEM(out, n, want, sizeof(want) - 1);
    rh_http_header ph[8];
    rh_http_response res;
    rh_http_body b;
    rh_err err;
    CHECK_EQ_U64(parse_res(out, n, &res, ph, &err), n);
    CHECK_EQ_U64(rh_http_response_body(&res, false, &b, &err), 0);
    CHECK_EQ_U64(b.kind, RH_HTTP_BODY_CHUNKED);
    n = rh_http_write_response_head(out, sizeof(out), 412, NULL, 0);
    CHECK_MEM(out, n, "HTTP/1.1 412 Precondition Failed\r\n\r\n", 36);
    n = rh_http_write_response_head(out, sizeof(out), 599, NULL, 0);
    CHECK_MEM(out, n, "HTTP/1.1 599 status code 599\r\n\r\n", 32);
    CHECK_EQ_U64(rh_http_write_response_head(out, sizeof(out), 99, NULL, 0), 0);
    CHECK_EQ_U64(rh_http_write_response_head(out, sizeof(out), 600, NULL, 0), 0);
    CHECK(!strcmp(rh_http_reason(410), "Gone"));
    CHECK(!strcmp(rh_http_reason(404), "Not Found"));
    CHECK(!strcmp(rh_http_reason(431), "Request Header Fields Too Large"));
    CHECK(!strcmp(rh_http_reason(505), "HTTP Version Not Supported"));
    CHECK(!strcmp(rh_http_reason(204), "No Content"));
    CHECK(!strcmp(rh_http_reason(299), ""));
}

static void test_write_reports_size_and_refuses_injection(void)
{
    rh_http_header h[] = {rh_http_header_make("Host", "a")};
    char out[64];
    memset(out, '#', sizeof(out));
    size_t need = rh_http_write_request_head(out, 10, "GET", "/", h, 1);
    CHECK_EQ_U64(need, 27);
    CHECK(out[0] == '#'); /* nothing written when it does not fit */
    CHECK_EQ_U64(rh_http_write_request_head(out, need, "GET", "/", h, 1), need);
    CHECK_MEM(out, need, "GET / HTTP/1.1\r\nHost: a\r\n\r\n", 27);
    CHECK(out[need] == '#');
    CHECK_EQ_U64(rh_http_write_response_head(out, 5, 200, h, 1), 28);
    rh_http_header bad[] = {rh_http_header_make("X", "a\r\nInjected: 1")};
    CHECK_EQ_U64(rh_http_write_request_head(out, sizeof(out), "GET", "/", bad, 1), 0);
    CHECK_EQ_U64(rh_http_write_response_head(out, sizeof(out), 200, bad, 1), 0);
    rh_http_header bad2[] = {rh_http_header_make("X Y", "a")};
    CHECK_EQ_U64(rh_http_write_request_head(out, sizeof(out), "GET", "/", bad2, 1), 0);
    rh_http_header bad3[] = {rh_http_header_make("", "a")};
    CHECK_EQ_U64(rh_http_write_request_head(out, sizeof(out), "GET", "/", bad3, 1), 0);
    rh_http_header bad4[] = {rh_http_header_make("X", "a\x00")};
    bad4[0].value.len = 2;
    CHECK_EQ_U64(rh_http_write_request_head(out, sizeof(out), "GET", "/", bad4, 1), 0);
    CHECK_EQ_U64(rh_http_write_request_head(out, sizeof(out), "G ET", "/", h, 1), 0);
    CHECK_EQ_U64(rh_http_write_request_head(out, sizeof(out), "", "/", h, 1), 0);
    CHECK_EQ_U64(rh_http_write_request_head(out, sizeof(out), "GET", "/a b", h, 1), 0);
    CHECK_EQ_U64(rh_http_write_request_head(out, sizeof(out), "GET", "", h, 1), 0);
}

static void test_write_chunk_framing(void)
{
    char out[RH_HTTP_CHUNK_HEADER_MAX];
    size_t n = rh_http_write_chunk_header(out, 1);
    CHECK_MEM(out, n, "1\r\n", 3);
    n = rh_http_write_chunk_header(out, 10);
    CHECK_MEM(out, n, "a\r\n", 3);
    n = rh_http_write_chunk_header(out, 4096);
    CHECK_MEM(out, n, "1000\r\n", 6);
    n = rh_http_write_chunk_header(out, UINT64_MAX);
    CHECK_MEM(out, n, "ffffffffffffffff\r\n", 18);
    CHECK_EQ_U64(rh_http_write_chunk_header(out, 0), 0);
    CHECK_MEM(RH_HTTP_LAST_CHUNK, RH_HTTP_LAST_CHUNK_LEN, "0\r\n\r\n", 5);
    CHECK_MEM(RH_HTTP_CHUNK_END, RH_HTTP_CHUNK_END_LEN, "\r\n", 2);
}

/* ---- tests: paths and IDs ---------------------------------------------- */

static rh_http_span sp(const char *s) { return (rh_http_span){s, strlen(s)}; }

static void test_stream_path_split(void)
{
    rh_http_span path, query, dir, base;
    uint64_t id = 0;
    CHECK_EQ_U64(rh_http_target_split(sp("/raft/stream/message/8e9e05c52164694d"), &path, &query),
                 0);
    CHECK_EQ_U64(query.len, 0);
    CHECK_EQ_U64(rh_http_path_split_last(path, &dir, &base), 0);
    CHECK(span_is(dir, RH_HTTP_PATH_STREAM_MESSAGE));
    CHECK_EQ_U64(rh_http_parse_id(base.ptr, base.len, &id), 0);
    CHECK_EQ_U64(id, 0x8e9e05c52164694dULL);
    CHECK_EQ_U64(rh_http_target_split(sp("/raft/stream/msgapp/1?x=1&y"), &path, &query), 0);
    CHECK(span_is(path, "/raft/stream/msgapp/1") && span_is(query, "x=1&y"));
    CHECK_EQ_U64(rh_http_path_split_last(path, &dir, &base), 0);
    CHECK(span_is(dir, RH_HTTP_PATH_STREAM_MSGAPP) && span_is(base, "1"));
    CHECK_EQ_U64(rh_http_path_split_last(sp("/raft"), &dir, &base), 0);
    CHECK(span_is(dir, "/") && span_is(base, "raft"));
    CHECK_EQ_U64((int64_t)rh_http_path_split_last(sp("/raft/stream/message/"), &dir, &base),
                 (int64_t)RH_HTTP_EPATH);
    CHECK_EQ_U64((int64_t)rh_http_path_split_last(sp("raft"), &dir, &base),
                 (int64_t)RH_HTTP_EPATH);
    CHECK_EQ_U64((int64_t)rh_http_target_split(sp("*"), &path, &query), (int64_t)RH_HTTP_EPATH);
    CHECK_EQ_U64((int64_t)rh_http_target_split(sp("http://a/raft"), &path, &query),
                 (int64_t)RH_HTTP_EPATH);
    CHECK_EQ_U64((int64_t)rh_http_target_split(sp(""), &path, &query), (int64_t)RH_HTTP_EPATH);
}

static void test_path_unescape(void)
{
    char out[64], inplace[] = "/raft/stream/message/%38e9e";
    size_t n;
    CHECK_EQ_U64(rh_http_path_unescape(sp("/a%2Fb%7e"), out, &n), 0);
    CHECK_MEM(out, n, "/a/b~", 5);
    CHECK_EQ_U64(rh_http_path_unescape(sp(inplace), inplace, &n), 0);
    CHECK_MEM(inplace, n, "/raft/stream/message/8e9e", 25);
    CHECK_EQ_U64((int64_t)rh_http_path_unescape(sp("/a%zz"), out, &n), (int64_t)RH_HTTP_EPATH);
    CHECK_EQ_U64((int64_t)rh_http_path_unescape(sp("/a%2"), out, &n), (int64_t)RH_HTTP_EPATH);
    CHECK_EQ_U64((int64_t)rh_http_path_unescape(sp("/a%"), out, &n), (int64_t)RH_HTTP_EPATH);
    CHECK_EQ_U64((int64_t)rh_http_path_unescape(sp("/a%00"), out, &n), (int64_t)RH_HTTP_EPATH);
}

static void test_parse_id_like_go(void)
{
    uint64_t id = 7;
    CHECK_EQ_U64(rh_http_parse_id(S("8E9E05C52164694D"), &id), 0);
    CHECK_EQ_U64(id, 0x8e9e05c52164694dULL);
    CHECK_EQ_U64(rh_http_parse_id(S("0"), &id), 0);
    CHECK_EQ_U64(id, 0);
    CHECK_EQ_U64(rh_http_parse_id(S("ffffffffffffffff"), &id), 0);
    CHECK_EQ_U64(id, UINT64_MAX);
    /* strconv.ParseUint takes any number of leading zeros */
    CHECK_EQ_U64(rh_http_parse_id(S("000000000000000000001"), &id), 0);
    CHECK_EQ_U64(id, 1);
    static const char *bad[] = {"",   "10000000000000000", "0x1", "+1", "-1", " 1",
                                "1 ", "g",                "1_0", "1.0", "\xff"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        id = 7;
        CHECK_EQ_U64((int64_t)rh_http_parse_id(bad[i], strlen(bad[i]), &id),
                     (int64_t)RH_HTTP_EPATH);
        CHECK_EQ_U64(id, 7);
    }
    char out[RH_HTTP_ID_MAX + 1];
    CHECK_EQ_U64(rh_http_format_id(0, out), 1);
    CHECK(!strcmp(out, "0"));
    CHECK_EQ_U64(rh_http_format_id(0x8e9e05c52164694dULL, out), 16);
    CHECK(!strcmp(out, "8e9e05c52164694d"));
    CHECK_EQ_U64(rh_http_format_id(0x1a, out), 2);
    CHECK(!strcmp(out, "1a"));
}

static void test_error_table(void)
{
    for (int c = RH_HTTP_EPATH; c <= RH_HTTP_EMALFORMED; c++) {
        CHECK(strcmp(rh_http_strerror(c), "unknown error") != 0);
        CHECK(rh_http_error_status(c) >= 400);
    }
    CHECK(!strcmp(rh_http_strerror(RH_EINVAL), rh_strerror(RH_EINVAL)));
    CHECK_EQ_U64(rh_http_error_status(RH_EINVAL), 0);
    rh_err err;
    rh_http_header h[4];
    rh_http_parser p;
    rh_http_parser_init(&p, h, 4, 0);
    rh_http_request req;
    rh_http_parse_request(&p, S("GET / HTTP/1.1\r\nHost : a\r\n\r\n"), &req, &err);
    CHECK(!strcmp(err.msg, "malformed HTTP head at byte 20: "
                           "whitespace between field name and colon"));
}

int main(void)
{
    TEST(test_go_stream_get_parses);
    TEST(test_go_pipeline_post_has_content_length);
    TEST(test_go_snapshot_post_is_chunked);
    TEST(test_request_needs_more_until_blank_line);
    TEST(test_request_leading_empty_lines_are_skipped);
    TEST(test_request_http10_without_host);
    TEST(test_request_values_trimmed_and_obs_text_kept);
    TEST(test_request_all_tchars_in_names_and_methods);
    TEST(test_request_version_errors);
    TEST(test_request_line_errors);
    TEST(test_binary_garbage_fails_at_its_first_byte);
    TEST(test_request_bad_bytes);
    TEST(test_request_field_line_errors);
    TEST(test_request_host_rules);
    TEST(test_head_too_big);
    TEST(test_too_many_headers);
    TEST(test_parser_reset_and_buffer_move);
    TEST(test_go_stream_response_is_chunked_and_endless);
    TEST(test_etcd_error_responses);
    TEST(test_go_400_reads_until_close);
    TEST(test_response_status_lines);
    TEST(test_interim_response_then_final);
    TEST(test_request_framing);
    TEST(test_response_framing);
    TEST(test_connection_tokens);
    TEST(test_chunked_basic);
    TEST(test_chunked_extensions_and_whitespace);
    TEST(test_chunked_trailers);
    TEST(test_chunked_hostile_sizes);
    TEST(test_chunked_syntax_errors);
    TEST(test_chunked_large_random_body);
    TEST(test_chunked_errors_are_sticky_and_done_stays_done);
    TEST(test_write_stream_request_parses_back);
    TEST(test_write_response_heads);
    TEST(test_write_reports_size_and_refuses_injection);
    TEST(test_write_chunk_framing);
    TEST(test_stream_path_split);
    TEST(test_path_unescape);
    TEST(test_parse_id_like_go);
    TEST(test_error_table);
    return CHECK_DONE();
}
