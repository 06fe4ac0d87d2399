/* SPDX-License-Identifier: Apache-2.0 */
/*
 * HTTP/1.1 framing for rafthttp's peer traffic: request and response heads,
 * body framing, the chunked transfer coding, serializers, and the path and
 * ID helpers etcd's handlers need. Pure: no I/O, no clocks, no allocation.
 *
 * The parsers work like picohttpparser: the caller keeps the bytes buffered
 * so far and calls again with more; the answer is "complete, the head is N
 * bytes", "need more" (0) or an error. Results point into the caller's
 * buffer. A head parser keeps only offsets between calls (so the buffer may
 * move, say when an evbuffer is pulled up again) and resumes scanning where
 * the previous call stopped; a head is examined about twice in all, however
 * it is split. Every error is reported at the same byte offset whether the
 * input arrives whole or byte by byte: lines are checked in order, each one
 * as soon as it is complete, and the bytes of an incomplete line as they
 * arrive (so binary garbage, such as a TLS ClientHello sent to a plain port,
 * fails at once instead of after max_head bytes).
 *
 * Strictness (RFC 9112, and Go's net/http where it is stricter): lines end
 * in CRLF only (bare CR, bare LF, NUL and other controls are rejected); no
 * obs-fold; no whitespace between a field name and its colon or before the
 * first field; one Transfer-Encoding field whose value is "chunked" and
 * nothing else; Content-Length and Transfer-Encoding never together. An
 * HTTP/1.1 request needs exactly one Host field.
 *
 * Ownership. The caller owns every buffer and every struct here. Spans in
 * a parsed head or reported by the chunked decoder point into the caller's
 * input and are valid while that input is unchanged; nothing here frees or
 * keeps them. A head parser writes its headers into a caller-provided array.
 *
 * Errors are negative codes from enum rh_http_errcode (a range of their own,
 * disjoint from rafthttp/error.h's) or RH_EINVAL; rh_http_strerror() names
 * any of them and rh_http_error_status() says which status a server answers
 * with. Functions that take an rh_err * (may be NULL) also fill it with the
 * byte offset and a message saying what was wrong where.
 */
#ifndef RH_HTTP_HTTP_H
#define RH_HTTP_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rafthttp/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- limits ------------------------------------------------------------ */

/* Largest head (start line, fields and the blank line) a parser accepts: our
 * spec's 64 KiB. Go's DefaultMaxHeaderBytes is 1 MiB, but a rafthttp head is
 * well under 1 KiB. Past it: RH_HTTP_EHEADTOOBIG (431). */
#define RH_HTTP_DEFAULT_MAX_HEAD (64u * 1024u)
/* Most header fields a head may carry. A Go rafthttp request has 10. */
#define RH_HTTP_DEFAULT_MAX_HEADERS 100u
/* Longest chunk-size line (size, extensions, CRLF): Go's maxLineLength. */
#define RH_HTTP_MAX_CHUNK_LINE 4096u
/* Trailer section a chunked body may end with; we skip it. Go never sends
 * trailers on rafthttp bodies. */
#define RH_HTTP_DEFAULT_MAX_TRAILER (16u * 1024u)
/* Largest chunk size accepted: Go's lengths are int64, so no Go peer writes
 * more; ffffffffffffffff is refused by default (Go itself would accept any
 * 16 hex digits, picohttpparser any size_t). */
#define RH_HTTP_DEFAULT_MAX_CHUNK ((uint64_t)INT64_MAX)

/* ---- errors ------------------------------------------------------------ */

enum rh_http_errcode {
    RH_HTTP_EMALFORMED = -100,    /* syntax error in a head: 400 */
    RH_HTTP_EHEADTOOBIG = -101,   /* head longer than max_head: 431 */
    RH_HTTP_ETOOMANYHEADERS = -102, /* more than max_headers fields: 431 */
    RH_HTTP_EVERSION = -103,      /* HTTP major version other than 1: 505 */
    RH_HTTP_EMETHOD = -104,       /* method is not a token: 400 */
    RH_HTTP_EFRAMING = -105,      /* bad/conflicting Content-Length, TE: 400 */
    RH_HTTP_ECODING = -106,       /* transfer coding other than chunked: 501 */
    RH_HTTP_ECHUNK = -107,        /* chunked syntax error: 400 */
    RH_HTTP_ECHUNKSIZE = -108,    /* chunk size over 16 digits or the max: 400 */
    RH_HTTP_ETRAILER = -109,      /* trailer section over max_trailer: 400 */
    RH_HTTP_EPATH = -110,         /* bad target, path escape or member ID: 400 */
};

/* Canonical one-line message for an rh_http_errcode, or rh_strerror(code). */
const char *rh_http_strerror(int code);
/* The status a server answers a request that failed with code: 400, 431,
 * 501 or 505; 0 if code is not an rh_http_errcode. */
int rh_http_error_status(int code);

/* ---- heads ------------------------------------------------------------- */

/* A byte range in the caller's buffer; not NUL-terminated. */
typedef struct rh_http_span {
    const char *ptr; /* first byte (NULL only when len == 0) */
    size_t len;      /* bytes */
} rh_http_span;

typedef struct rh_http_header {
    rh_http_span name;  /* a token, as received (any case) */
    rh_http_span value; /* leading and trailing SP/HTAB trimmed; may be empty */
} rh_http_header;

typedef struct rh_http_request {
    rh_http_span method;     /* a token, case-sensitive ("GET", "POST") */
    rh_http_span target;     /* request-target as received ("/raft?x=1") */
    int minor_version;       /* the x of HTTP/1.x */
    rh_http_header *headers; /* the parser's array, num_headers used */
    size_t num_headers;      /* fields in order of arrival */
} rh_http_request;

typedef struct rh_http_response {
    int minor_version;       /* the x of HTTP/1.x */
    int status;              /* 100..599 */
    rh_http_span reason;     /* reason phrase, may be empty */
    rh_http_header *headers; /* the parser's array, num_headers used */
    size_t num_headers;      /* fields in order of arrival */
} rh_http_response;

/* Incremental state for one head. Fill it with rh_http_parser_init, then
 * call rh_http_parse_request or _response (one kind per head) with the same
 * head start and ever longer lengths; rh_http_parser_reset before the next
 * head on the connection. The caller owns the struct and the headers array
 * (which must outlive the parsed head). Fields below "private" are state. */
typedef struct rh_http_parser {
    rh_http_header *headers; /* caller's array of max_headers entries */
    size_t max_headers;      /* fields allowed: more is ETOOMANYHEADERS */
    size_t max_head;         /* head bytes allowed: more is EHEADTOOBIG */
    /* private */
    size_t scanned;    /* bytes of the head examined so far */
    size_t line_start; /* offset of the line being scanned */
    size_t head_start; /* offset of the start line (after skipped CRLFs) */
    size_t nfields;    /* complete field lines seen */
    bool have_start;   /* the start line is complete and valid */
    size_t head_len;   /* once complete: the head's length, returned again */
    int failed;        /* the error returned, repeated on later calls */
    uint64_t err_offset; /* its offset */
} rh_http_parser;

/* headers: max_headers entries, caller-owned. max_headers == 0 or max_head
 * == 0 select the defaults. */
void rh_http_parser_init(rh_http_parser *p, rh_http_header *headers,
                         size_t max_headers, size_t max_head);
/* Forgets the head parsed so far (keeps the settings and the array). */
void rh_http_parser_reset(rh_http_parser *p);

/*
 * Parses the request head at buf[0..len). Returns the head length (> 0, up
 * to and including the blank line; the body starts there) with *req filled,
 * 0 if more bytes are needed, or a negative rh_http_errcode (err->offset:
 * the offending byte's offset in buf). Empty lines before the request line
 * are skipped (RFC 9112 2.2) and count in the head length. Once complete or
 * failed, a parser gives the same answer until reset (a complete one fills
 * *req again from buf, which must still start with the same head).
 */
int rh_http_parse_request(rh_http_parser *p, const char *buf, size_t len,
                          rh_http_request *req, rh_err *err);
/* The same for a response head ("HTTP/1.1 200 OK"). A 1xx response is
 * interim: the caller skips it, resets and parses the next head. */
int rh_http_parse_response(rh_http_parser *p, const char *buf, size_t len,
                           rh_http_response *res, rh_err *err);

/* ---- header lookup ----------------------------------------------------- */

/* ASCII case-insensitive comparison of a span with a C string: Go sends
 * "X-Etcd-Cluster-Id" where etcd writes "X-Etcd-Cluster-ID". */
bool rh_http_span_eq_nocase(rh_http_span s, const char *str);
/* Index of the first field at or after from named name (any case), or n. */
size_t rh_http_header_index(const rh_http_header *h, size_t n, size_t from,
                            const char *name);
/* The first field named name (any case), or NULL: Go's Header.Get. */
const rh_http_header *rh_http_header_find(const rh_http_header *h, size_t n,
                                          const char *name);
/* Whether any field named name lists token (comma-separated, any case):
 * "Connection: keep-alive, close" has "close". */
bool rh_http_header_has_token(const rh_http_header *h, size_t n,
                              const char *name, const char *token);
/* Whether the connection may carry another message after this one: HTTP/1.1
 * unless "Connection: close"; HTTP/1.0 only with "Connection: keep-alive". */
bool rh_http_keep_alive(int minor_version, const rh_http_header *h, size_t n);

/* ---- body framing (RFC 9112 6.3) -------------------------------------- */

enum rh_http_body_kind {
    RH_HTTP_BODY_NONE = 0,        /* no body (length 0) */
    RH_HTTP_BODY_LENGTH = 1,      /* exactly length bytes (Content-Length) */
    RH_HTTP_BODY_CHUNKED = 2,     /* chunked: rh_http_chunked */
    RH_HTTP_BODY_UNTIL_CLOSE = 3, /* responses only: until the peer closes */
};

typedef struct rh_http_body {
    int kind;        /* rh_http_body_kind */
    uint64_t length; /* RH_HTTP_BODY_LENGTH: the byte count (<= INT64_MAX) */
} rh_http_body;

/*
 * How the request's body is framed. Transfer-Encoding must be one field
 * whose value is "chunked" (RH_HTTP_ECODING otherwise, as Go answers 501);
 * with Content-Length too, or in an HTTP/1.0 request, it is RH_HTTP_EFRAMING.
 * Content-Length: 1*DIGIT up to INT64_MAX; repeated fields must agree (Go
 * drops identical duplicates); lists ("5, 5") are refused. Neither: none.
 * Returns 0 or a negative rh_http_errcode (err->offset: 0).
 */
int rh_http_request_body(const rh_http_request *req, rh_http_body *out,
                         rh_err *err);
/* The same for a response to a request whose method was head_request ? HEAD
 * : something else. 1xx, 204, 304 and HEAD responses have none whatever the
 * fields say; without Content-Length or chunked the body runs until close. */
int rh_http_response_body(const rh_http_response *res, bool head_request,
                          rh_http_body *out, rh_err *err);

/* ---- chunked decoder --------------------------------------------------- */

/* Incremental decoder of one chunked body, caller-owned, no allocation. */
typedef struct rh_http_chunked {
    uint64_t max_chunk;  /* largest chunk size accepted */
    size_t max_trailer;  /* trailer section bytes allowed */
    /* private */
    int state;           /* where in the grammar the next byte falls */
    uint64_t remaining;  /* size being read, then data bytes left */
    unsigned digits;     /* hex digits of the size so far */
    size_t line_len;     /* bytes of the current size line so far */
    size_t trailer_len;  /* bytes of the trailer section so far */
    uint64_t offset;     /* body bytes consumed (for err->offset) */
    int failed;          /* the error returned, repeated on later calls */
} rh_http_chunked;

/* max_chunk == 0: RH_HTTP_DEFAULT_MAX_CHUNK; max_trailer == 0: default. */
void rh_http_chunked_init(rh_http_chunked *c, uint64_t max_chunk,
                          size_t max_trailer);

enum {
    RH_HTTP_CHUNK_MORE = 0, /* all input consumed, body not finished */
    RH_HTTP_CHUNK_DATA = 1, /* *data, *data_len: payload bytes, in place */
    RH_HTTP_CHUNK_DONE = 2, /* last chunk and trailers read: body over */
};

/*
 * Feeds in[0..len) (the body, from its first byte on, split anywhere).
 * Returns RH_HTTP_CHUNK_DATA with *data pointing into in at *data_len > 0
 * payload bytes (the span ends at in + *consumed); RH_HTTP_CHUNK_DONE with
 * *consumed the bytes up to the body's end (what follows is the next
 * message); RH_HTTP_CHUNK_MORE with *consumed == len; or a negative
 * rh_http_errcode with err->offset the body offset of the offending byte,
 * and the decoder stays failed. Call again with in + *consumed until the
 * input is used up. Chunk extensions are ignored, trailers skipped.
 */
int rh_http_chunked_feed(rh_http_chunked *c, const uint8_t *in, size_t len,
                         size_t *consumed, const uint8_t **data,
                         size_t *data_len, rh_err *err);
/* Body bytes consumed so far (framing and payload). */
uint64_t rh_http_chunked_offset(const rh_http_chunked *c);
/* Payload bytes left in the chunk being read (0 outside chunk data): a
 * caller may put up to that many elsewhere (a recv straight into its
 * destination) and report them with rh_http_chunked_skip_data. */
uint64_t rh_http_chunked_data_left(const rh_http_chunked *c);
/* Counts n <= rh_http_chunked_data_left() payload bytes as read. */
void rh_http_chunked_skip_data(rh_http_chunked *c, uint64_t n);
/* True once the last chunk and the trailers have been read. */
bool rh_http_chunked_done(const rh_http_chunked *c);

/* ---- serializers ------------------------------------------------------- */

/*
 * Each writes a head into out[0..cap) and returns its length. If the length
 * is over cap nothing is written: grow and call again (out may be NULL when
 * cap is 0, to measure). 0 means the input
 * was invalid (method or field name not a token, a target or value with a
 * control character such as CR or LF, a status outside 100..599): nothing
 * is written. The caller supplies every field, Host and the body framing
 * (Content-Length or "Transfer-Encoding: chunked") included.
 */
size_t rh_http_write_request_head(char *out, size_t cap, const char *method,
                                  const char *target,
                                  const rh_http_header *headers, size_t n);
/* "HTTP/1.1 <status> <standard reason>\r\n", the fields, "\r\n". */
size_t rh_http_write_response_head(char *out, size_t cap, int status,
                                   const rh_http_header *headers, size_t n);
/* A header array entry from two C strings (for the serializers). */
rh_http_header rh_http_header_make(const char *name, const char *value);
/* Go's StatusText: "OK", "Precondition Failed"...; "" if not standard. */
const char *rh_http_reason(int status);

/* Longest chunk header: 16 hex digits and CRLF. */
#define RH_HTTP_CHUNK_HEADER_MAX 18u
/* Writes "%x\r\n" (lowercase, as Go) for size > 0 into out (at least
 * RH_HTTP_CHUNK_HEADER_MAX bytes); returns its length, 0 if size == 0 (a
 * zero size ends the body: write RH_HTTP_LAST_CHUNK instead). */
size_t rh_http_write_chunk_header(char *out, uint64_t size);
/* What follows a chunk's data. */
#define RH_HTTP_CHUNK_END "\r\n"
#define RH_HTTP_CHUNK_END_LEN 2u
/* The last chunk with an empty trailer section: the end of a chunked body. */
#define RH_HTTP_LAST_CHUNK "0\r\n\r\n"
#define RH_HTTP_LAST_CHUNK_LEN 5u

/* ---- targets, paths and member IDs ------------------------------------ */

/* etcd's rafthttp routes (etcdserver/api/rafthttp/http.go, stream.go). */
#define RH_HTTP_PATH_RAFT "/raft"
#define RH_HTTP_PATH_PROBING "/raft/probing"
#define RH_HTTP_PATH_STREAM "/raft/stream"
#define RH_HTTP_PATH_STREAM_MESSAGE "/raft/stream/message"
#define RH_HTTP_PATH_STREAM_MSGAPP "/raft/stream/msgapp"
#define RH_HTTP_PATH_SNAPSHOT "/raft/snapshot"
#define RH_HTTP_PATH_VERSION "/version"
#define RH_HTTP_PATH_METRICS "/metrics"
#define RH_HTTP_PATH_MEMBERS "/members"

/* Splits an origin-form target ("/raft/snapshot?x") into its path and query
 * (without the '?'; empty if none). RH_HTTP_EPATH unless it starts with '/'. */
int rh_http_target_split(rh_http_span target, rh_http_span *path,
                         rh_http_span *query);
/* Percent-decodes path into out (path.len bytes always suffice; out may be
 * path.ptr itself) and sets *out_len. RH_HTTP_EPATH on a bad escape or an
 * escaped NUL, as Go's url.Parse refuses them. */
int rh_http_path_unescape(rh_http_span path, char *out, size_t *out_len);
/* Splits a path at its last '/' as etcd's path.Dir/path.Base do for clean
 * paths: "/raft/stream/message/8e9e" -> dir "/raft/stream/message", base
 * "8e9e". RH_HTTP_EPATH if path has no '/' or ends with one. */
int rh_http_path_split_last(rh_http_span path, rh_http_span *dir,
                            rh_http_span *base);
/* Parses a member ID as etcd's types.IDFromString does
 * (strconv.ParseUint(s, 16, 64)): hex digits of either case, no sign, no
 * "0x", not empty, no overflow (leading zeros are allowed, as in Go).
 * RH_HTTP_EPATH otherwise. */
int rh_http_parse_id(const char *s, size_t len, uint64_t *id);
/* Formats id as types.ID.String() does: lowercase hex, no padding. out must
 * hold RH_HTTP_ID_MAX + 1 bytes; it is NUL-terminated. Returns the length. */
#define RH_HTTP_ID_MAX 16u
size_t rh_http_format_id(uint64_t id, char *out);

#ifdef __cplusplus
}
#endif
#endif
