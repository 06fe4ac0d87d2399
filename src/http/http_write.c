/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Serializers: request and response heads, chunk headers, reason phrases.
 *
 * A head is measured first, then written only if it fits, so a caller can
 * size its buffer with one failed call (or write straight into the spare
 * room of an output buffer). Every token and value is checked before a byte
 * is written: a CR or LF in a value would let a peer-supplied string (a URL,
 * a version) inject fields or split the message.
 */
#include <stdio.h>
#include <string.h>

#include "http/http.h"
#include "http/http_internal.h"

const char *rh_http_reason(int status)
{
    switch (status) { /* Go's net/http StatusText */
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 102: return "Processing";
    case 103: return "Early Hints";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 203: return "Non-Authoritative Information";
    case 204: return "No Content";
    case 205: return "Reset Content";
    case 206: return "Partial Content";
    case 207: return "Multi-Status";
    case 208: return "Already Reported";
    case 226: return "IM Used";
    case 300: return "Multiple Choices";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 305: return "Use Proxy";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 402: return "Payment Required";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 407: return "Proxy Authentication Required";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 412: return "Precondition Failed";
    case 413: return "Request Entity Too Large";
    case 414: return "Request URI Too Long";
    case 415: return "Unsupported Media Type";
    case 416: return "Requested Range Not Satisfiable";
    case 417: return "Expectation Failed";
    case 418: return "I'm a teapot";
    case 421: return "Misdirected Request";
    case 422: return "Unprocessable Entity";
    case 423: return "Locked";
    case 424: return "Failed Dependency";
    case 425: return "Too Early";
    case 426: return "Upgrade Required";
    case 428: return "Precondition Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 451: return "Unavailable For Legal Reasons";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    case 506: return "Variant Also Negotiates";
    case 507: return "Insufficient Storage";
    case 508: return "Loop Detected";
    case 510: return "Not Extended";
    case 511: return "Network Authentication Required";
    default: return "";
    }
}

rh_http_header rh_http_header_make(const char *name, const char *value)
{
    rh_http_header h = {{name, strlen(name)}, {value, strlen(value)}};
    return h;
}

static bool is_token(rh_http_span s)
{
    if (s.len == 0)
        return false;
    for (size_t i = 0; i < s.len; i++)
        if (!rh_http_is_tchar(s.ptr[i]))
            return false;
    return true;
}

static bool is_field_value(rh_http_span s)
{
    for (size_t i = 0; i < s.len; i++)
        if (!rh_http_is_field_byte((unsigned char)s.ptr[i]))
            return false;
    return true;
}

/* Bytes of the field lines and the blank line, or 0 if a field is bad. */
static size_t fields_len(const rh_http_header *h, size_t n)
{
    size_t total = 2;
    for (size_t i = 0; i < n; i++) {
        if (!is_token(h[i].name) || !is_field_value(h[i].value))
            return 0;
        total += h[i].name.len + 2 + h[i].value.len + 2;
    }
    return total;
}

static char *put(char *o, const char *s, size_t n)
{
    memcpy(o, s, n);
    return o + n;
}

static void write_fields(char *o, const rh_http_header *h, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        o = put(o, h[i].name.ptr, h[i].name.len);
        o = put(o, ": ", 2);
        o = put(o, h[i].value.ptr, h[i].value.len);
        o = put(o, "\r\n", 2);
    }
    put(o, "\r\n", 2);
}

size_t rh_http_write_request_head(char *out, size_t cap, const char *method, const char *target,
                                  const rh_http_header *headers, size_t n)
{
    rh_http_span m = {method, strlen(method)}, t = {target, strlen(target)};
    if (!is_token(m) || t.len == 0)
        return 0;
    for (size_t i = 0; i < t.len; i++)
        if (!rh_http_is_vchar(t.ptr[i]))
            return 0;
    size_t f = fields_len(headers, n);
    if (f == 0)
        return 0;
    size_t total = m.len + 1 + t.len + sizeof(" HTTP/1.1\r\n") - 1 + f;
    if (total > cap)
        return total;
    char *o = put(out, m.ptr, m.len);
    *o++ = ' ';
    o = put(o, t.ptr, t.len);
    o = put(o, " HTTP/1.1\r\n", sizeof(" HTTP/1.1\r\n") - 1);
    write_fields(o, headers, n);
    return total;
}

size_t rh_http_write_response_head(char *out, size_t cap, int status,
                                   const rh_http_header *headers, size_t n)
{
    if (status < 100 || status > 599)
        return 0;
    char line[64];
    const char *reason = rh_http_reason(status);
    /* Go writes "status code N" where it knows no reason phrase */
    int ll = reason[0] ? snprintf(line, sizeof(line), "HTTP/1.1 %03d %s\r\n", status, reason)
                       : snprintf(line, sizeof(line), "HTTP/1.1 %03d status code %d\r\n", status,
                                  status);
    size_t f = fields_len(headers, n);
    if (f == 0 || ll <= 0)
        return 0;
    size_t total = (size_t)ll + f;
    if (total > cap)
        return total;
    write_fields(put(out, line, (size_t)ll), headers, n);
    return total;
}

size_t rh_http_write_chunk_header(char *out, uint64_t size)
{
    static const char hex[] = "0123456789abcdef";
    if (size == 0)
        return 0;
    char tmp[16];
    size_t n = 0;
    for (; size; size >>= 4)
        tmp[n++] = hex[size & 15];
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    out[n] = '\r';
    out[n + 1] = '\n';
    return n + 2;
}
