/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The chunked transfer coding (RFC 9112 7.1), decoded incrementally.
 *
 *   chunked-body = *chunk last-chunk trailer-section CRLF
 *   chunk        = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
 *
 * Happy path: framing bytes are consumed one at a time through a small state
 * machine; payload is never copied: each call that reaches chunk data
 * returns the span of it that is in the input, and the caller hands that on
 * (to the stream decoder, or a snapshot file) before feeding the rest. A
 * stream body never ends; a pipeline or snapshot body ends with "0\r\n\r\n".
 *
 * Failure modes, each at the offending byte's body offset: a size that is
 * not hex, longer than 16 digits or over max_chunk (a hostile size cannot
 * make us wait for 2^64 bytes); data not followed by CRLF; a size line over
 * RH_HTTP_MAX_CHUNK_LINE; a bare CR or LF or a control byte in framing; a
 * trailer section over max_trailer. Like Go, whitespace may follow the size
 * and anything printable may follow a ';' (extensions are ignored).
 */
#include <string.h>

#include "http/http.h"
#include "http/http_internal.h"

enum {
    S_SIZE,          /* hex digits of the size */
    S_SIZE_WS,       /* after the digits: SP/HTAB, ';' or CR */
    S_EXT,           /* after ';': extension bytes until CR */
    S_SIZE_LF,       /* the LF ending the size line */
    S_DATA,          /* remaining payload bytes */
    S_DATA_CR,       /* the CR after the data */
    S_DATA_LF,       /* the LF after the data */
    S_TRAILER_START, /* start of a trailer line, or the final CRLF */
    S_TRAILER_LINE,  /* inside a trailer field line */
    S_TRAILER_LF,    /* the LF ending a trailer field line */
    S_END_LF,        /* the LF of the final CRLF */
    S_DONE,          /* the body is over */
};

void rh_http_chunked_init(rh_http_chunked *c, uint64_t max_chunk, size_t max_trailer)
{
    memset(c, 0, sizeof(*c));
    c->max_chunk = max_chunk ? max_chunk : RH_HTTP_DEFAULT_MAX_CHUNK;
    c->max_trailer = max_trailer ? max_trailer : RH_HTTP_DEFAULT_MAX_TRAILER;
    c->state = S_SIZE;
}

uint64_t rh_http_chunked_offset(const rh_http_chunked *c) { return c->offset; }

bool rh_http_chunked_done(const rh_http_chunked *c) { return c->state == S_DONE; }

/* b: the offending byte, or -1 when no single byte is to blame. */
static int chunk_fail(rh_http_chunked *c, rh_err *err, int code, const char *why, int b)
{
    c->failed = code;
    if (b < 0)
        rh_http_set_err(err, code, c->offset, "%s", why);
    else
        rh_http_set_err(err, code, c->offset, "%s (byte 0x%02x)", why, b);
    return code;
}

/* One framing byte. Returns 0, or an error (c->offset is still b's). */
static int step(rh_http_chunked *c, unsigned char b, rh_err *err)
{
    int v;
    switch (c->state) {
    case S_SIZE:
        v = rh_http_hexval(b);
        if (v >= 0) {
            if (++c->digits > 16)
                return chunk_fail(c, err, RH_HTTP_ECHUNKSIZE, "more than 16 hex digits", b);
            c->remaining = c->remaining << 4 | (uint64_t)v;
            if (c->remaining > c->max_chunk)
                return chunk_fail(c, err, RH_HTTP_ECHUNKSIZE, "chunk size over the limit", b);
            break;
        }
        if (c->digits == 0)
            return chunk_fail(c, err, RH_HTTP_ECHUNK, "chunk size is not hex", b);
        c->state = S_SIZE_WS;
        return step(c, b, err);
    case S_SIZE_WS:
        if (b == ' ' || b == '\t')
            break;
        if (b == ';')
            c->state = S_EXT;
        else if (b == '\r')
            c->state = S_SIZE_LF;
        else
            return chunk_fail(c, err, RH_HTTP_ECHUNK, "bad byte after chunk size", b);
        break;
    case S_EXT:
        if (b == '\r')
            c->state = S_SIZE_LF;
        else if (!rh_http_is_field_byte(b))
            return chunk_fail(c, err, RH_HTTP_ECHUNK, "bad byte in chunk extension", b);
        break;
    case S_SIZE_LF:
        if (b != '\n')
            return chunk_fail(c, err, RH_HTTP_ECHUNK, "CR not followed by LF", b);
        c->state = c->remaining ? S_DATA : S_TRAILER_START;
        c->line_len = 0;
        c->digits = 0;
        return 0;
    case S_DATA_CR:
        if (b != '\r')
            return chunk_fail(c, err, RH_HTTP_ECHUNK, "chunk data not followed by CRLF", b);
        c->state = S_DATA_LF;
        return 0;
    case S_DATA_LF:
        if (b != '\n')
            return chunk_fail(c, err, RH_HTTP_ECHUNK, "chunk data not followed by CRLF", b);
        c->state = S_SIZE;
        return 0;
    case S_TRAILER_START:
    case S_TRAILER_LINE:
    case S_TRAILER_LF:
    case S_END_LF:
        if (++c->trailer_len > c->max_trailer)
            return chunk_fail(c, err, RH_HTTP_ETRAILER, "trailer section too large", -1);
        if (c->state == S_TRAILER_LF || c->state == S_END_LF) {
            if (b != '\n')
                return chunk_fail(c, err, RH_HTTP_ECHUNK, "CR not followed by LF", b);
            c->state = c->state == S_END_LF ? S_DONE : S_TRAILER_START;
        } else if (b == '\r') {
            c->state = c->state == S_TRAILER_START ? S_END_LF : S_TRAILER_LF;
        } else if (c->state == S_TRAILER_START && (b == ' ' || b == '\t')) {
            return chunk_fail(c, err, RH_HTTP_ECHUNK, "trailer line starts with whitespace", b);
        } else if (!rh_http_is_field_byte(b)) {
            return chunk_fail(c, err, RH_HTTP_ECHUNK, "bad byte in trailer", b);
        } else {
            c->state = S_TRAILER_LINE;
        }
        return 0;
    default:
        return chunk_fail(c, err, RH_EINVAL, "decoder state corrupt", -1);
    }
    /* still on the size line */
    if (++c->line_len > RH_HTTP_MAX_CHUNK_LINE)
        return chunk_fail(c, err, RH_HTTP_ECHUNK, "chunk size line too long", -1);
    return 0;
}

int rh_http_chunked_feed(rh_http_chunked *c, const uint8_t *in, size_t len, size_t *consumed,
                         const uint8_t **data, size_t *data_len, rh_err *err)
{
    *consumed = 0;
    *data = NULL;
    *data_len = 0;
    if (err) {
        err->code = 0;
        err->offset = 0;
        err->msg[0] = 0;
    }
    if (c->failed) {
        rh_http_set_err(err, c->failed, c->offset, NULL);
        return c->failed;
    }
    size_t i = 0;
    while (i < len && c->state != S_DONE) {
        if (c->state == S_DATA) {
            size_t n = len - i;
            if ((uint64_t)n > c->remaining)
                n = (size_t)c->remaining;
            *data = in + i;
            *data_len = n;
            c->remaining -= n;
            c->offset += n;
            if (c->remaining == 0)
                c->state = S_DATA_CR;
            *consumed = i + n;
            return RH_HTTP_CHUNK_DATA;
        }
        int rc = step(c, in[i], err);
        if (rc < 0) {
            *consumed = i;
            return rc;
        }
        i++;
        c->offset++;
    }
    *consumed = i;
    return c->state == S_DONE ? RH_HTTP_CHUNK_DONE : RH_HTTP_CHUNK_MORE;
}

uint64_t rh_http_chunked_data_left(const rh_http_chunked *c)
{
    return !c->failed && c->state == S_DATA ? c->remaining : 0;
}

void rh_http_chunked_skip_data(rh_http_chunked *c, uint64_t n)
{
    if (n > rh_http_chunked_data_left(c))
        return;
    c->remaining -= n;
    c->offset += n;
    if (n && c->remaining == 0)
        c->state = S_DATA_CR;
}
