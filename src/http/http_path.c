/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Request targets, paths and member IDs, as etcd's handlers see them.
 *
 * etcd routes on r.URL.Path (percent-decoded) and, for streams, switches on
 * path.Dir and parses path.Base with types.IDFromString. Go's ServeMux has
 * already redirected unclean paths ("//", "/./", "/../") by then; we do not
 * clean, so such a path simply matches no route.
 */
#include <string.h>

#include "http/http.h"
#include "http/http_internal.h"

int rh_http_target_split(rh_http_span target, rh_http_span *path, rh_http_span *query)
{
    if (target.len == 0 || target.ptr[0] != '/')
        return RH_HTTP_EPATH;
    const char *q = memchr(target.ptr, '?', target.len);
    size_t plen = q ? (size_t)(q - target.ptr) : target.len;
    *path = (rh_http_span){target.ptr, plen};
    size_t qs = q ? plen + 1 : plen;
    *query = (rh_http_span){target.ptr + qs, target.len - qs};
    return 0;
}

int rh_http_path_unescape(rh_http_span path, char *out, size_t *out_len)
{
    size_t o = 0;
    for (size_t i = 0; i < path.len; i++) {
        char c = path.ptr[i];
        if (c == '%') {
            int hi = i + 2 < path.len ? rh_http_hexval((unsigned char)path.ptr[i + 1]) : -1;
            int lo = hi >= 0 ? rh_http_hexval((unsigned char)path.ptr[i + 2]) : -1;
            if (lo < 0 || (hi | lo) == 0)
                return RH_HTTP_EPATH;
            c = (char)(hi << 4 | lo);
            i += 2;
        }
        out[o++] = c; /* o <= i: decoding in place is safe */
    }
    *out_len = o;
    return 0;
}

int rh_http_path_split_last(rh_http_span path, rh_http_span *dir, rh_http_span *base)
{
    size_t i = path.len;
    while (i > 0 && path.ptr[i - 1] != '/')
        i--;
    if (i == 0 || i == path.len)
        return RH_HTTP_EPATH;
    *dir = (rh_http_span){path.ptr, i > 1 ? i - 1 : 1}; /* path.Dir("/x") is "/" */
    *base = (rh_http_span){path.ptr + i, path.len - i};
    return 0;
}

int rh_http_parse_id(const char *s, size_t len, uint64_t *id)
{
    uint64_t x = 0;
    if (len == 0)
        return RH_HTTP_EPATH;
    for (size_t i = 0; i < len; i++) {
        int v = rh_http_hexval((unsigned char)s[i]);
        if (v < 0 || x >> 60)
            return RH_HTTP_EPATH;
        x = x << 4 | (uint64_t)v;
    }
    *id = x;
    return 0;
}

size_t rh_http_format_id(uint64_t id, char *out)
{
    static const char hex[] = "0123456789abcdef";
    char tmp[16];
    size_t n = 0;
    do {
        tmp[n++] = hex[id & 15];
        id >>= 4;
    } while (id);
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    out[n] = 0;
    return n;
}
