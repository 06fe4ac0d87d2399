/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target: the HTTP framing layer. The input (after two seed bytes) is
 * parsed as a request head, as a response head and as a chunked body, each
 * whole and again in pieces whose sizes come from the seed; both runs must
 * agree on the result, the error and its offset, the fields and the
 * payload. What parses is written back with the serializers and must parse
 * again to the same fields.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Small limits, so that short inputs reach them. */
#define MAX_HEAD 2048u
#define MAX_HEADERS 16u
#define MAX_TRAILER 256u

static uint32_t next_piece(uint32_t *seed)
{
    *seed = *seed * 1103515245u + 12345u;
    return 1 + (*seed >> 16) % 17;
}

/* ---- heads -------------------------------------------------------------- */

typedef struct head_run {
    int rc;
    uint64_t off;
    size_t nfields;
    size_t spans[2 + 2 * MAX_HEADERS][2]; /* (offset, len) of each output span */
    int minor, status;
} head_run;

static void record(head_run *r, size_t i, const char *base, rh_http_span s)
{
    r->spans[i][0] = s.ptr ? (size_t)(s.ptr - base) : 0;
    r->spans[i][1] = s.len;
}

static void parse_head(bool req, const uint8_t *in, size_t len, uint32_t seed, head_run *r)
{
    rh_http_header h[MAX_HEADERS];
    rh_http_parser p;
    rh_http_parser_init(&p, h, MAX_HEADERS, MAX_HEAD);
    memset(r, 0, sizeof(*r));
    size_t k = seed ? 0 : len;
    for (;;) {
        if (seed) {
            k += next_piece(&seed);
            if (k > len)
                k = len;
        }
        char *buf = malloc(k ? k : 1); /* a fresh, exact copy: the buffer moves */
        memcpy(buf, in, k);
        rh_http_request q;
        rh_http_response s;
        rh_err err;
        int rc = req ? rh_http_parse_request(&p, buf, k, &q, &err)
                     : rh_http_parse_response(&p, buf, k, &s, &err);
        if (rc < 0 && (err.code != rc || err.offset > k || !err.msg[0]))
            abort();
        if (rc > 0) {
            if ((size_t)rc > k || (size_t)rc > MAX_HEAD)
                abort();
            const rh_http_header *hs = req ? q.headers : s.headers;
            r->nfields = req ? q.num_headers : s.num_headers;
            if (r->nfields > MAX_HEADERS)
                abort();
            if (req) {
                record(r, 0, buf, q.method);
                record(r, 1, buf, q.target);
                r->minor = q.minor_version;
            } else {
                record(r, 0, buf, s.reason);
                r->minor = s.minor_version;
                r->status = s.status;
            }
            for (size_t i = 0; i < r->nfields; i++) {
                record(r, 2 + 2 * i, buf, hs[i].name);
                record(r, 3 + 2 * i, buf, hs[i].value);
            }
        }
        free(buf);
        if (rc != 0 || k >= len) {
            r->rc = rc;
            r->off = rc < 0 ? err.offset : 0;
            return;
        }
    }
}

/* A parsed head, written back and parsed again, has the same fields. */
static void roundtrip_request(const char *buf, size_t len)
{
    rh_http_header h[MAX_HEADERS], h2[MAX_HEADERS];
    rh_http_parser p;
    rh_http_parser_init(&p, h, MAX_HEADERS, MAX_HEAD);
    rh_http_request q, q2;
    if (rh_http_parse_request(&p, buf, len, &q, NULL) <= 0)
        return;
    rh_http_body b;
    rh_http_request_body(&q, &b, NULL);
    rh_http_span path, query, dir, base;
    uint64_t id;
    if (rh_http_target_split(q.target, &path, &query) == 0) {
        char *dec = malloc(path.len);
        size_t dlen;
        if (rh_http_path_unescape(path, dec, &dlen) == 0 && dlen > path.len)
            abort();
        free(dec);
        if (rh_http_path_split_last(path, &dir, &base) == 0 &&
            rh_http_parse_id(base.ptr, base.len, &id) == 0) {
            /* types.ID.String() then IDFromString: the same ID */
            char s[RH_HTTP_ID_MAX + 1];
            uint64_t id2;
            size_t n = rh_http_format_id(id, s);
            if (rh_http_parse_id(s, n, &id2) != 0 || id2 != id)
                abort();
        }
    }
    if (!rh_http_header_find(q.headers, q.num_headers, "Host"))
        return; /* HTTP/1.0 without Host: we always write 1.1 */
    char method[64], target[MAX_HEAD + 1];
    if (q.method.len >= sizeof(method))
        return;
    memcpy(method, q.method.ptr, q.method.len);
    method[q.method.len] = 0;
    memcpy(target, q.target.ptr, q.target.len);
    target[q.target.len] = 0;
    size_t need = rh_http_write_request_head(NULL, 0, method, target, q.headers, q.num_headers);
    if (need == 0)
        abort();
    char *out = malloc(need);
    if (rh_http_write_request_head(out, need, method, target, q.headers, q.num_headers) != need)
        abort();
    rh_http_parser_init(&p, h2, MAX_HEADERS, 0);
    if (rh_http_parse_request(&p, out, need, &q2, NULL) != (int)need ||
        q2.num_headers != q.num_headers || q2.method.len != q.method.len ||
        q2.target.len != q.target.len || memcmp(q2.target.ptr, target, q.target.len) != 0)
        abort();
    for (size_t i = 0; i < q.num_headers; i++)
        if (h[i].name.len != h2[i].name.len || h[i].value.len != h2[i].value.len ||
            memcmp(h[i].name.ptr, h2[i].name.ptr, h[i].name.len) != 0 ||
            memcmp(h[i].value.ptr, h2[i].value.ptr, h[i].value.len) != 0)
            abort();
    free(out);
}

static void roundtrip_response(const char *buf, size_t len)
{
    rh_http_header h[MAX_HEADERS], h2[MAX_HEADERS];
    rh_http_parser p;
    rh_http_parser_init(&p, h, MAX_HEADERS, MAX_HEAD);
    rh_http_response s, s2;
    if (rh_http_parse_response(&p, buf, len, &s, NULL) <= 0)
        return;
    rh_http_body b;
    rh_http_response_body(&s, false, &b, NULL);
    rh_http_keep_alive(s.minor_version, s.headers, s.num_headers);
    size_t need = rh_http_write_response_head(NULL, 0, s.status, s.headers, s.num_headers);
    if (need == 0)
        abort();
    char *out = malloc(need);
    if (rh_http_write_response_head(out, need, s.status, s.headers, s.num_headers) != need)
        abort();
    rh_http_parser_init(&p, h2, MAX_HEADERS, 0);
    if (rh_http_parse_response(&p, out, need, &s2, NULL) != (int)need || s2.status != s.status ||
        s2.num_headers != s.num_headers)
        abort();
    for (size_t i = 0; i < s.num_headers; i++)
        if (h[i].value.len != h2[i].value.len ||
            memcmp(h[i].value.ptr, h2[i].value.ptr, h[i].value.len) != 0)
            abort();
    free(out);
}

static void check_head(bool req, const uint8_t *in, size_t len, uint32_t seed)
{
    static head_run whole, split; /* large: keep them off the stack */
    parse_head(req, in, len, 0, &whole);
    parse_head(req, in, len, seed, &split);
    if (whole.rc != split.rc || whole.off != split.off || whole.nfields != split.nfields ||
        whole.minor != split.minor || whole.status != split.status ||
        memcmp(whole.spans, split.spans, sizeof(whole.spans)) != 0)
        abort();
    if (whole.rc > 0) {
        char *buf = malloc(len);
        memcpy(buf, in, len);
        if (req)
            roundtrip_request(buf, len);
        else
            roundtrip_response(buf, len);
        free(buf);
    }
}

/* ---- chunked ------------------------------------------------------------ */

typedef struct chunk_run {
    int rc;
    uint64_t off;
    size_t consumed;
    uint8_t *payload;
    size_t plen;
} chunk_run;

static void decode_chunked(const uint8_t *in, size_t len, uint64_t max_chunk, uint32_t seed,
                           chunk_run *r)
{
    rh_http_chunked c;
    rh_http_chunked_init(&c, max_chunk, MAX_TRAILER);
    memset(r, 0, sizeof(*r));
    r->payload = malloc(len ? len : 1); /* payload never exceeds the input */
    size_t pos = 0;
    while (pos < len && r->rc == RH_HTTP_CHUNK_MORE) {
        size_t n = len - pos;
        if (seed) {
            size_t p = next_piece(&seed);
            if (p < n)
                n = p;
        }
        uint8_t *piece = malloc(n);
        memcpy(piece, in + pos, n);
        size_t off = 0;
        while (off < n) {
            size_t used, dl;
            const uint8_t *d;
            rh_err err;
            int rc = rh_http_chunked_feed(&c, piece + off, n - off, &used, &d, &dl, &err);
            if (used > n - off)
                abort();
            off += used;
            if (rc == RH_HTTP_CHUNK_DATA) {
                if (dl == 0 || d != piece + off - dl || r->plen + dl > len)
                    abort();
                memcpy(r->payload + r->plen, d, dl);
                r->plen += dl;
                continue;
            }
            r->rc = rc;
            if (rc < 0) {
                r->off = err.offset;
                if (err.code != rc || err.offset != pos + off)
                    abort();
            } else if (rc == RH_HTTP_CHUNK_DONE) {
                r->consumed = pos + off;
            } else if (off != n) {
                abort();
            }
            break;
        }
        free(piece);
        pos += n;
    }
}

static void check_chunked(const uint8_t *in, size_t len, uint64_t max_chunk, uint32_t seed)
{
    chunk_run whole, split;
    decode_chunked(in, len, max_chunk, 0, &whole);
    decode_chunked(in, len, max_chunk, seed, &split);
    if (whole.rc != split.rc || whole.off != split.off || whole.consumed != split.consumed ||
        whole.plen != split.plen || memcmp(whole.payload, split.payload, whole.plen) != 0)
        abort();
    if (whole.rc == RH_HTTP_CHUNK_DONE && whole.plen > 0) {
        /* re-encode as one chunk: the same payload comes out */
        size_t n = 0;
        uint8_t *enc = malloc(whole.plen + RH_HTTP_CHUNK_HEADER_MAX + 8);
        n += rh_http_write_chunk_header((char *)enc, whole.plen);
        memcpy(enc + n, whole.payload, whole.plen);
        n += whole.plen;
        memcpy(enc + n, RH_HTTP_CHUNK_END RH_HTTP_LAST_CHUNK, 7);
        n += 7;
        chunk_run again;
        decode_chunked(enc, n, 0, 0, &again);
        if (again.rc != RH_HTTP_CHUNK_DONE || again.consumed != n || again.plen != whole.plen ||
            memcmp(again.payload, whole.payload, whole.plen) != 0)
            abort();
        free(again.payload);
        free(enc);
    }
    free(whole.payload);
    free(split.payload);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    uint32_t seed = (uint32_t)data[0] << 8 | data[1] | 1u;
    const uint8_t *in = data + 2;
    size_t len = size - 2;
    check_head(true, in, len, seed);
    check_head(false, in, len, seed);
    check_chunked(in, len, data[0] & 1 ? UINT64_MAX : 0, seed);
    return 0;
}
