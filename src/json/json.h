/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A small JSON reader and writer for the CLI's JSON Lines.
 *
 * Reader: rh_json_parse() turns one document (a line) into a read-only tree.
 * Integers stay exact: an integer is kept as a sign and a 64-bit magnitude,
 * never as a double, so every uint64 and every int64 survives; an integer
 * outside [-2^63, 2^64-1] is rejected. Numbers with a fraction or exponent
 * are kept as their source text (RH_JSON_REAL); nothing here needs them.
 * Strings must be valid UTF-8; escapes are decoded (a lone surrogate becomes
 * U+FFFD, as Go's encoding/json does).
 *
 * Limits, so that a hostile line costs a bounded amount of memory: the input
 * size (max_input), nesting (RH_JSON_MAX_DEPTH) and the bytes the tree and the
 * parser's scratch stack may take (tree_limit). Past one, the parse fails
 * with an rh_err saying which, and where.
 *
 * Ownership. The parser owns the tree; a tree is valid until the next parse
 * on the same parser or rh_json_parser_free(), and only while the parsed text
 * is unchanged: strings without escapes point into the text.
 *
 * Writer: rh_buf is a growable byte buffer with a sticky failure flag, so a
 * caller appends freely and checks once (rh_buf.failed) before using it. The
 * rh_json_put_* helpers append JSON tokens to it.
 */
#ifndef RH_JSON_JSON_H
#define RH_JSON_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rafthttp/error.h"
#include "rafthttp/raftpb.h"

/* Deeper than any document we read (a message nests two levels per
 * responses level, and raftpb allows 16) and shallow enough that the
 * recursive descent cannot exhaust the C stack. */
#define RH_JSON_MAX_DEPTH 64
/* Default input cap: well above a MsgApp of etcd's default 1 MiB
 * MaxSizePerMsg once base64-encoded. Callers reading snapshots raise it. */
#define RH_JSON_DEFAULT_MAX_INPUT ((size_t)64 * 1024 * 1024)
/* Default cap on tree + scratch bytes. A node takes 32 bytes for as little
 * as 2 bytes of input ("0,"), so this is what bounds "[0,0,0,...]". */
#define RH_JSON_DEFAULT_TREE_LIMIT ((size_t)256 * 1024 * 1024)

enum rh_json_type {
    RH_JSON_NULL,
    RH_JSON_FALSE,
    RH_JSON_TRUE,
    RH_JSON_INT,    /* exact integer: neg, u */
    RH_JSON_REAL,   /* fraction or exponent: source text in s, n */
    RH_JSON_STRING, /* s, n */
    RH_JSON_ARRAY,  /* items, n */
    RH_JSON_OBJECT, /* members, n */
};

typedef struct rh_json rh_json;
typedef struct rh_json_member rh_json_member;

struct rh_json {
    int type;  /* rh_json_type */
    bool neg;  /* INT: the value is -u (never set for 0) */
    size_t pos; /* byte offset in the parsed text where the value starts */
    size_t n;   /* STRING/REAL: bytes of s; ARRAY/OBJECT: element count */
    union {
        uint64_t u;                    /* INT: magnitude */
        const char *s;                 /* STRING: UTF-8, not NUL-terminated */
        const rh_json *items;          /* ARRAY */
        const rh_json_member *members; /* OBJECT, in input order */
    };
};

struct rh_json_member {
    const char *key; /* decoded, not NUL-terminated */
    size_t key_len;
    rh_json value;
};

typedef struct rh_json_parser {
    rh_arena tree;          /* nodes and unescaped strings of the last parse */
    rh_json_member *stack;  /* scratch: elements of the open containers, owned */
    size_t stack_len;       /* elements on it */
    size_t stack_cap;       /* its capacity in elements */
    size_t max_input;       /* longest text accepted, bytes */
    size_t tree_limit;      /* cap on tree bytes, and separately on stack bytes */
    /* the parse in progress */
    const char *text;       /* input, not owned */
    size_t len;             /* its length */
    size_t pos;             /* next byte to read */
    int depth;              /* containers open */
    rh_err *err;            /* caller's, may be NULL */
} rh_json_parser;

/* max_input, tree_limit: 0 for the defaults above. */
void rh_json_parser_init(rh_json_parser *p, size_t max_input, size_t tree_limit);
void rh_json_parser_free(rh_json_parser *p);

/*
 * Parses text[0..len) as exactly one JSON value, with optional whitespace
 * around it. Returns 0 and sets *root, or a negative code with *err (if not
 * NULL) filled: err->offset is the byte where the problem was found and
 * err->msg reads "invalid JSON at byte N: ...". Codes: RH_EINVAL (syntax),
 * RH_ETOOBIG (input or an integer too large), RH_EDEPTH, RH_ECOMPLEX (tree
 * limit), RH_ENOMEM.
 */
int rh_json_parse(rh_json_parser *p, const char *text, size_t len,
                  const rh_json **root, rh_err *err);

/* The last member named key (Go's encoding/json also lets the last
 * duplicate win), or NULL when absent or obj is not an object. */
const rh_json *rh_json_get(const rh_json *obj, const char *key);
/* True when v is a string equal to s. */
bool rh_json_str_eq(const rh_json *v, const char *s);
/* "null", "boolean", "integer", "number", "string", "array", "object". */
const char *rh_json_type_name(int type);
/* Exact conversions: false when v is not an integer in range. */
bool rh_json_as_u64(const rh_json *v, uint64_t *out);
bool rh_json_as_i64(const rh_json *v, int64_t *out);

/* ---- writer ------------------------------------------------------------ */

typedef struct rh_buf {
    char *data;  /* owned; not NUL-terminated */
    size_t len;  /* bytes used */
    size_t cap;  /* bytes allocated */
    bool failed; /* an allocation failed: contents are incomplete */
} rh_buf;

void rh_buf_init(rh_buf *b);
void rh_buf_free(rh_buf *b);
/* Empties the buffer, keeps its memory, clears failed. */
void rh_buf_reset(rh_buf *b);
/* Makes room for n more bytes: afterwards data[len .. len+n) is writable.
 * False (and failed set) when that cannot be had. */
bool rh_buf_reserve(rh_buf *b, size_t n);
void rh_buf_append(rh_buf *b, const void *p, size_t n);
void rh_buf_putc(rh_buf *b, char c);
/* Appends a NUL-terminated string verbatim (for literal JSON text). */
void rh_buf_puts(rh_buf *b, const char *s);

/* A JSON string: quoted, with ", \ and control characters escaped; bytes
 * that are not valid UTF-8 become \ufffd, so the output is always valid. */
void rh_json_put_string(rh_buf *b, const char *s, size_t n);
void rh_json_put_u64(rh_buf *b, uint64_t v);
void rh_json_put_i64(rh_buf *b, int64_t v);
void rh_json_put_bool(rh_buf *b, bool v);
/* A JSON string holding standard base64 (RFC 4648 section 4, padded). */
void rh_json_put_base64(rh_buf *b, const uint8_t *p, size_t n);

/* ---- base64 (standard alphabet) ----------------------------------------- */

/* Bytes rh_base64_encode writes for n input bytes. */
size_t rh_base64_encoded_len(size_t n);
/* Writes rh_base64_encoded_len(n) characters (padded, no NUL). */
size_t rh_base64_encode(const uint8_t *p, size_t n, char *out);
/* Upper bound on the bytes s[0..n) decodes to. */
size_t rh_base64_decoded_max(size_t n);
/* Decodes s[0..n) into out (rh_base64_decoded_max(n) bytes). Padding is
 * optional, but where present must be right; returns 0 and sets *out_len,
 * or RH_EINVAL with *bad_at = index of the offending character. */
int rh_base64_decode(const char *s, size_t n, uint8_t *out, size_t *out_len,
                     size_t *bad_at);

#endif
