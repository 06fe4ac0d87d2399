/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shared by the http/ files only: character classes (RFC 9110 5.6.2 tokens,
 * 5.5 field values) and the error filler.
 */
#ifndef RH_HTTP_INTERNAL_H
#define RH_HTTP_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "rafthttp/error.h"

/* tchar: "!#$%&'*+-.^_`|~", DIGIT, ALPHA. */
static inline bool rh_http_is_tchar(char ch)
{
    unsigned char c = (unsigned char)ch;
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
        return true;
    switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+':
    case '-': case '.': case '^': case '_': case '`': case '|': case '~': return true;
    default: return false;
    }
}

static inline bool rh_http_is_digit(char c) { return c >= '0' && c <= '9'; }

/* VCHAR: visible US-ASCII, no space. */
static inline bool rh_http_is_vchar(char c) { return c > 0x20 && c < 0x7f; }

/* A byte a head line (or a chunk extension, or a trailer) may hold: HTAB, SP,
 * VCHAR, obs-text. CR and LF are structure; every other control, NUL and DEL
 * is refused. */
static inline bool rh_http_is_field_byte(unsigned char c)
{
    return c == '\t' || (c >= 0x20 && c != 0x7f);
}

static inline char rh_http_lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Hex digit value, or -1. */
static inline int rh_http_hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Fills err (if not NULL): "<rh_http_strerror(code)> at byte <offset>", then
 * ": " and the formatted detail unless fmt is NULL. */
void rh_http_set_err(rh_err *err, int code, uint64_t offset, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

#endif
