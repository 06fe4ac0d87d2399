/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Request and response heads, header lookup, body framing, the error table.
 *
 * Happy path: the caller calls rh_http_parse_request with the bytes buffered
 * so far. head_scan resumes where the last call stopped, checks each new
 * byte (no controls but HTAB; CR only before LF), and each line once its
 * CRLF arrives: the start line, then field lines, counted against
 * max_headers. The blank line ends the head; fill_request then walks the
 * (now known good) lines once more to point the outputs into this call's
 * buffer. Only offsets survive between calls, so the buffer may move.
 *
 * Failure modes: any check fails at a byte offset that does not depend on
 * how the input was split; the parser remembers the error and repeats it.
 * A head that has not ended within max_head bytes is EHEADTOOBIG however
 * well-formed its lines are.
 */
#include "http/http.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "http/http_internal.h"

/* ---- errors ------------------------------------------------------------ */

const char *rh_http_strerror(int code)
{
    switch (code) {
    case RH_HTTP_EMALFORMED: return "malformed HTTP head";
    case RH_HTTP_EHEADTOOBIG: return "HTTP head too large";
    case RH_HTTP_ETOOMANYHEADERS: return "too many HTTP header fields";
    case RH_HTTP_EVERSION: return "unsupported HTTP version";
    case RH_HTTP_EMETHOD: return "invalid HTTP method";
    case RH_HTTP_EFRAMING: return "invalid HTTP body framing";
    case RH_HTTP_ECODING: return "unsupported transfer encoding";
    case RH_HTTP_ECHUNK: return "malformed chunked encoding";
    case RH_HTTP_ECHUNKSIZE: return "chunk size too large";
    case RH_HTTP_ETRAILER: return "chunked trailer too large";
    case RH_HTTP_EPATH: return "invalid request path";
    default: return rh_strerror(code);
    }
}

int rh_http_error_status(int code)
{
    switch (code) {
    case RH_HTTP_EHEADTOOBIG:
    case RH_HTTP_ETOOMANYHEADERS: return 431;
    case RH_HTTP_EVERSION: return 505;
    case RH_HTTP_ECODING: return 501;
    case RH_HTTP_EMALFORMED:
    case RH_HTTP_EMETHOD:
    case RH_HTTP_EFRAMING:
    case RH_HTTP_ECHUNK:
    case RH_HTTP_ECHUNKSIZE:
    case RH_HTTP_ETRAILER:
    case RH_HTTP_EPATH: return 400;
    default: return 0;
    }
}

void rh_http_set_err(rh_err *err, int code, uint64_t offset, const char *fmt, ...)
{
    if (!err)
        return;
    err->code = code;
    err->offset = offset;
    int n = snprintf(err->msg, sizeof(err->msg), "%s at byte %llu", rh_http_strerror(code),
                     (unsigned long long)offset);
    if (fmt && n > 0 && (size_t)n + 2 < sizeof(err->msg)) {
        err->msg[n++] = ':';
        err->msg[n++] = ' ';
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg + n, sizeof(err->msg) - (size_t)n, fmt, ap);
        va_end(ap);
    }
}

static void clear_err(rh_err *err)
{
    if (err) {
        err->code = 0;
        err->offset = 0;
        err->msg[0] = 0;
    }
}

/* ---- the head scanner -------------------------------------------------- */

void rh_http_parser_init(rh_http_parser *p, rh_http_header *headers, size_t max_headers,
                         size_t max_head)
{
    memset(p, 0, sizeof(*p));
    p->headers = headers;
    p->max_headers = max_headers ? max_headers : RH_HTTP_DEFAULT_MAX_HEADERS;
    p->max_head = max_head ? max_head : RH_HTTP_DEFAULT_MAX_HEAD;
    if (p->max_head > INT_MAX) /* the length must fit the int we return */
        p->max_head = INT_MAX;
}

void rh_http_parser_reset(rh_http_parser *p)
{
    rh_http_parser_init(p, p->headers, p->max_headers, p->max_head);
}

static int head_fail(rh_http_parser *p, rh_err *err, int code, size_t at, const char *detail)
{
    p->failed = code;
    p->err_offset = at;
    rh_http_set_err(err, code, at, "%s", detail);
    return code;
}

/* "HTTP/" DIGIT "." DIGIT at b[0..n): its minor version, or an error. */
static int parse_version(const char *b, size_t n, int *minor)
{
    if (n != 8 || memcmp(b, "HTTP/", 5) != 0 || !rh_http_is_digit(b[5]) || b[6] != '.' ||
        !rh_http_is_digit(b[7]))
        return RH_HTTP_EMALFORMED;
    if (b[5] != '1')
        return RH_HTTP_EVERSION;
    *minor = b[7] - '0';
    return 0;
}

/* method SP request-target SP HTTP-version, at b[s..e). Sets the outputs
 * (when non-NULL) or returns an error with *at its offset. */
static int parse_request_line(const char *b, size_t s, size_t e, rh_http_request *req,
                              size_t *at, const char **why)
{
    size_t i = s;
    while (i < e && rh_http_is_tchar(b[i]))
        i++;
    if (i == s || (i < e && b[i] != ' ')) {
        *at = i;
        *why = "method is not a token";
        return RH_HTTP_EMETHOD;
    }
    if (i == e) {
        *at = i;
        *why = "request line has no target";
        return RH_HTTP_EMALFORMED;
    }
    size_t t = i + 1, j = t;
    while (j < e && rh_http_is_vchar(b[j]))
        j++;
    if (j == t || j == e || b[j] != ' ') {
        *at = j;
        *why = j == t ? "empty request target" :
               j == e ? "request line has no HTTP version" :
                        "invalid character in request target";
        return RH_HTTP_EMALFORMED;
    }
    int minor = 0;
    int rc = parse_version(b + j + 1, e - j - 1, &minor);
    if (rc < 0) {
        *at = j + 1;
        *why = rc == RH_HTTP_EVERSION ? "HTTP major version is not 1" : "malformed HTTP version";
        return rc;
    }
    if (req) {
        req->method = (rh_http_span){b + s, i - s};
        req->target = (rh_http_span){b + t, j - t};
        req->minor_version = minor;
    }
    return 0;
}

/* HTTP-version SP 3DIGIT [SP reason-phrase], at b[s..e). A missing SP
 * before an empty reason is accepted, as Go and most clients do. */
static int parse_status_line(const char *b, size_t s, size_t e, rh_http_response *res,
                             size_t *at, const char **why)
{
    int minor = 0;
    int rc = e - s >= 8 ? parse_version(b + s, 8, &minor) : RH_HTTP_EMALFORMED;
    if (rc < 0) {
        *at = s;
        *why = rc == RH_HTTP_EVERSION ? "HTTP major version is not 1" : "malformed HTTP version";
        return rc;
    }
    size_t d = s + 9;
    if (e - s < 12 || b[s + 8] != ' ' || !rh_http_is_digit(b[d]) ||
        !rh_http_is_digit(b[d + 1]) || !rh_http_is_digit(b[d + 2]) ||
        (e - s > 12 && b[s + 12] != ' ')) {
        *at = s + 8;
        *why = "malformed status code";
        return RH_HTTP_EMALFORMED;
    }
    int status = (b[d] - '0') * 100 + (b[d + 1] - '0') * 10 + (b[d + 2] - '0');
    if (status < 100 || status > 599) {
        *at = d;
        *why = "status code outside 100..599";
        return RH_HTTP_EMALFORMED;
    }
    if (res) {
        res->minor_version = minor;
        res->status = status;
        size_t r = e - s > 12 ? s + 13 : e;
        res->reason = (rh_http_span){b + r, e - r};
    }
    return 0;
}

/* field-name ":" OWS field-value OWS, at b[s..e), s < e. The scanner has
 * already refused every byte a value may not hold. */
static int check_field_line(const char *b, size_t s, size_t e, size_t *at, const char **why)
{
    size_t i = s;
    while (i < e && rh_http_is_tchar(b[i]))
        i++;
    *at = i;
    if (i < e && b[i] == ':' && i > s)
        return 0;
    if (i == s && (b[s] == ' ' || b[s] == '\t'))
        *why = "line starts with whitespace (obs-fold)";
    else if (i == s && b[s] == ':')
        *why = "empty field name";
    else if (i == e)
        *why = "field line has no colon";
    else if (b[i] == ' ' || b[i] == '\t')
        *why = "whitespace between field name and colon";
    else
        *why = "invalid character in field name";
    return RH_HTTP_EMALFORMED;
}

/* A line b[s..e) (CRLF excluded) is complete. Returns 0 to go on, 1 at the
 * blank line ending the head, or an error. */
static int line_done(rh_http_parser *p, const char *b, size_t s, size_t e, bool request,
                     rh_err *err)
{
    size_t at = s;
    const char *why = "";
    int rc;
    if (s == e) {
        if (p->have_start)
            return 1;
        if (request) { /* RFC 9112 2.2: ignore empty lines before a request */
            p->head_start = e + 2;
            return 0;
        }
        return head_fail(p, err, RH_HTTP_EMALFORMED, s, "empty status line");
    }
    if (!p->have_start) {
        rc = request ? parse_request_line(b, s, e, NULL, &at, &why)
                     : parse_status_line(b, s, e, NULL, &at, &why);
        if (rc < 0)
            return head_fail(p, err, rc, at, why);
        p->have_start = true;
        return 0;
    }
    rc = check_field_line(b, s, e, &at, &why);
    if (rc < 0)
        return head_fail(p, err, rc, at, why);
    if (++p->nfields > p->max_headers) {
        char m[64];
        snprintf(m, sizeof(m), "more than %zu fields", p->max_headers);
        return head_fail(p, err, RH_HTTP_ETOOMANYHEADERS, s, m);
    }
    return 0;
}

/* Scans buf[p->scanned..len). Returns the head length, 0 or an error. */
static int head_scan(rh_http_parser *p, const char *buf, size_t len, bool request, rh_err *err)
{
    if (p->failed) {
        rh_http_set_err(err, p->failed, p->err_offset, NULL);
        return p->failed;
    }
    if (p->head_len) /* complete already: the same answer again */
        return len >= p->head_len ? (int)p->head_len : RH_EINVAL;
    /* The head's last byte must sit below max_head; never look further, so
     * the outcome does not depend on how much more the caller has. */
    size_t end = len < p->max_head ? len : p->max_head;
    size_t i = p->scanned;
    while (i < end) {
        unsigned char c = (unsigned char)buf[i];
        if (rh_http_is_field_byte(c)) {
            i++;
            continue;
        }
        if (c == '\r') {
            if (i + 1 >= end)
                break; /* the LF is not here yet */
            if (buf[i + 1] != '\n')
                return head_fail(p, err, RH_HTTP_EMALFORMED, i, "CR not followed by LF");
            int rc = line_done(p, buf, p->line_start, i, request, err);
            i += 2;
            p->line_start = i;
            p->scanned = i;
            if (rc < 0)
                return rc;
            if (rc == 1) {
                p->head_len = i;
                return (int)i; /* <= max_head <= INT_MAX */
            }
            continue;
        }
        if (c == '\n')
            return head_fail(p, err, RH_HTTP_EMALFORMED, i, "LF not preceded by CR");
        char m[48];
        snprintf(m, sizeof(m), "control byte 0x%02x", c);
        return head_fail(p, err, RH_HTTP_EMALFORMED, i, m);
    }
    p->scanned = i;
    if (len >= p->max_head) {
        char m[64];
        snprintf(m, sizeof(m), "no end of head within %zu bytes", p->max_head);
        return head_fail(p, err, RH_HTTP_EHEADTOOBIG, p->max_head, m);
    }
    return 0;
}

/* Offset of the CR ending the (checked) line that starts at s. */
static size_t line_end(const char *b, size_t s, size_t hlen)
{
    return (size_t)((const char *)memchr(b + s, '\r', hlen - s) - b);
}

/* Points headers[] at the field lines of a complete, checked head: the start
 * line begins at s, the blank line ends at hlen. Returns the field count. */
static size_t fill_fields(const rh_http_parser *p, const char *b, size_t s, size_t hlen)
{
    size_t i = line_end(b, s, hlen) + 2, n = 0;
    while (i < hlen - 2) {
        size_t e = line_end(b, i, hlen);
        const char *colon = memchr(b + i, ':', e - i);
        size_t vs = (size_t)(colon - b) + 1, ve = e;
        while (vs < ve && (b[vs] == ' ' || b[vs] == '\t'))
            vs++;
        while (ve > vs && (b[ve - 1] == ' ' || b[ve - 1] == '\t'))
            ve--;
        p->headers[n].name = (rh_http_span){b + i, (size_t)(colon - b) - i};
        p->headers[n].value = (rh_http_span){b + vs, ve - vs};
        n++;
        i = e + 2;
    }
    return n;
}

int rh_http_parse_request(rh_http_parser *p, const char *buf, size_t len, rh_http_request *req,
                          rh_err *err)
{
    clear_err(err);
    int rc = head_scan(p, buf, len, true, err);
    if (rc <= 0)
        return rc;
    size_t s = p->head_start, e = line_end(buf, s, (size_t)rc);
    size_t at;
    const char *why;
    parse_request_line(buf, s, e, req, &at, &why);
    req->headers = p->headers;
    req->num_headers = fill_fields(p, buf, s, (size_t)rc);
    /* RFC 9112 3.2: HTTP/1.1 needs exactly one Host; none may have two. */
    size_t first = rh_http_header_index(req->headers, req->num_headers, 0, "Host");
    if (first < req->num_headers &&
        rh_http_header_index(req->headers, req->num_headers, first + 1, "Host") <
            req->num_headers)
        return head_fail(p, err, RH_HTTP_EMALFORMED, s, "more than one Host field");
    if (first == req->num_headers && req->minor_version >= 1)
        return head_fail(p, err, RH_HTTP_EMALFORMED, s, "HTTP/1.1 request without Host");
    return rc;
}

int rh_http_parse_response(rh_http_parser *p, const char *buf, size_t len,
                           rh_http_response *res, rh_err *err)
{
    clear_err(err);
    int rc = head_scan(p, buf, len, false, err);
    if (rc <= 0)
        return rc;
    size_t s = p->head_start, e = line_end(buf, s, (size_t)rc);
    size_t at;
    const char *why;
    parse_status_line(buf, s, e, res, &at, &why);
    res->headers = p->headers;
    res->num_headers = fill_fields(p, buf, s, (size_t)rc);
    return rc;
}

/* ---- header lookup ----------------------------------------------------- */

static bool eq_nocase(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (rh_http_lower(a[i]) != rh_http_lower(b[i]))
            return false;
    return true;
}

bool rh_http_span_eq_nocase(rh_http_span s, const char *str)
{
    size_t n = strlen(str);
    return s.len == n && eq_nocase(s.ptr, str, n);
}

size_t rh_http_header_index(const rh_http_header *h, size_t n, size_t from, const char *name)
{
    for (size_t i = from; i < n; i++)
        if (rh_http_span_eq_nocase(h[i].name, name))
            return i;
    return n;
}

const rh_http_header *rh_http_header_find(const rh_http_header *h, size_t n, const char *name)
{
    size_t i = rh_http_header_index(h, n, 0, name);
    return i < n ? &h[i] : NULL;
}

bool rh_http_header_has_token(const rh_http_header *h, size_t n, const char *name,
                              const char *token)
{
    for (size_t i = rh_http_header_index(h, n, 0, name); i < n;
         i = rh_http_header_index(h, n, i + 1, name)) {
        const char *v = h[i].value.ptr;
        size_t len = h[i].value.len, k = 0;
        while (k < len) {
            size_t s = k;
            while (k < len && v[k] != ',')
                k++;
            size_t e = k;
            while (s < e && (v[s] == ' ' || v[s] == '\t'))
                s++;
            while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t'))
                e--;
            if (rh_http_span_eq_nocase((rh_http_span){v + s, e - s}, token))
                return true;
            k++;
        }
    }
    return false;
}

bool rh_http_keep_alive(int minor_version, const rh_http_header *h, size_t n)
{
    if (minor_version >= 1)
        return !rh_http_header_has_token(h, n, "Connection", "close");
    return rh_http_header_has_token(h, n, "Connection", "keep-alive");
}

/* ---- body framing ------------------------------------------------------ */

/* Content-Length fields: none (*have = false), or all the same 1*DIGIT
 * value <= INT64_MAX. */
static int content_length(const rh_http_header *h, size_t n, bool *have, uint64_t *out,
                          rh_err *err)
{
    size_t first = rh_http_header_index(h, n, 0, "Content-Length");
    *have = first < n;
    if (!*have)
        return 0;
    rh_http_span v = h[first].value;
    for (size_t i = rh_http_header_index(h, n, first + 1, "Content-Length"); i < n;
         i = rh_http_header_index(h, n, i + 1, "Content-Length")) {
        if (h[i].value.len != v.len || memcmp(h[i].value.ptr, v.ptr, v.len) != 0) {
            rh_http_set_err(err, RH_HTTP_EFRAMING, 0, "Content-Length fields differ");
            return RH_HTTP_EFRAMING;
        }
    }
    uint64_t x = 0;
    bool ok = v.len > 0;
    for (size_t i = 0; ok && i < v.len; i++) {
        uint64_t d = (uint64_t)(v.ptr[i] - '0');
        ok = rh_http_is_digit(v.ptr[i]) && x <= ((uint64_t)INT64_MAX - d) / 10;
        x = x * 10 + d;
    }
    if (!ok) {
        rh_http_set_err(err, RH_HTTP_EFRAMING, 0, "bad Content-Length \"%.*s\"",
                        (int)(v.len < 40 ? v.len : 40), v.ptr);
        return RH_HTTP_EFRAMING;
    }
    *out = x;
    return 0;
}

/* Transfer-Encoding, Content-Length, or neither (*kind left alone). */
static int body_framing(int minor, const rh_http_header *h, size_t n, rh_http_body *out,
                        rh_err *err)
{
    size_t te = rh_http_header_index(h, n, 0, "Transfer-Encoding");
    bool have_cl;
    uint64_t cl = 0;
    if (te < n) {
        if (minor == 0) {
            rh_http_set_err(err, RH_HTTP_EFRAMING, 0, "Transfer-Encoding in HTTP/1.0");
            return RH_HTTP_EFRAMING;
        }
        if (rh_http_header_index(h, n, te + 1, "Transfer-Encoding") < n) {
            rh_http_set_err(err, RH_HTTP_ECODING, 0, "more than one Transfer-Encoding field");
            return RH_HTTP_ECODING;
        }
        if (!rh_http_span_eq_nocase(h[te].value, "chunked")) {
            rh_http_set_err(err, RH_HTTP_ECODING, 0, "\"%.*s\"",
                            (int)(h[te].value.len < 40 ? h[te].value.len : 40),
                            h[te].value.ptr);
            return RH_HTTP_ECODING;
        }
        if (rh_http_header_index(h, n, 0, "Content-Length") < n) {
            rh_http_set_err(err, RH_HTTP_EFRAMING, 0,
                            "both Content-Length and Transfer-Encoding");
            return RH_HTTP_EFRAMING;
        }
        out->kind = RH_HTTP_BODY_CHUNKED;
        return 0;
    }
    int rc = content_length(h, n, &have_cl, &cl, err);
    if (rc < 0)
        return rc;
    if (have_cl) {
        out->kind = RH_HTTP_BODY_LENGTH;
        out->length = cl;
    }
    return 0;
}

int rh_http_request_body(const rh_http_request *req, rh_http_body *out, rh_err *err)
{
    clear_err(err);
    out->kind = RH_HTTP_BODY_NONE;
    out->length = 0;
    int rc = body_framing(req->minor_version, req->headers, req->num_headers, out, err);
    if (rc < 0)
        *out = (rh_http_body){RH_HTTP_BODY_NONE, 0};
    return rc;
}

int rh_http_response_body(const rh_http_response *res, bool head_request, rh_http_body *out,
                          rh_err *err)
{
    clear_err(err);
    out->kind = RH_HTTP_BODY_NONE;
    out->length = 0;
    if (head_request || res->status / 100 == 1 || res->status == 204 || res->status == 304)
        return 0;
    out->kind = RH_HTTP_BODY_UNTIL_CLOSE;
    int rc = body_framing(res->minor_version, res->headers, res->num_headers, out, err);
    if (rc < 0)
        *out = (rh_http_body){RH_HTTP_BODY_NONE, 0};
    return rc;
}
