/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rafthttp error codes.
 *
 * One table, one canonical message per code (rh_strerror). Functions return
 * 0 or a positive "progress" value on success and a negative RH_E* code on
 * failure; where the cause needs context (a byte offset, a field number) the
 * function also fills a caller-provided rh_err.
 */
#ifndef RAFTHTTP_ERROR_H
#define RAFTHTTP_ERROR_H

#include "rafthttp/api.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum rh_errcode {
    RH_OK = 0,
    RH_ENOMEM = -1,     /* allocation failed */
    RH_ETRUNC = -2,     /* input ends inside a field */
    RH_EVARINT = -3,    /* varint longer than 10 bytes */
    RH_EWIRETYPE = -4,  /* wire type not valid for the field, or illegal */
    RH_ETAG = -5,       /* field number 0 or end-group outside a group */
    RH_EDEPTH = -6,     /* nesting deeper than the decoder allows */
    RH_ETOOBIG = -7,    /* a length or count over the configured limit */
    RH_EFRAMETYPE = -8, /* unknown msgappv2 frame type byte */
    RH_ELENGTH = -9,    /* a declared length disagrees with the data */
    RH_EINVAL = -10,    /* invalid argument */
    RH_ECOMPLEX = -11,  /* decoded structure would exceed the arena limit */
};

/* Context for an error: the code, the byte offset where the failing unit
 * starts (its meaning is documented by the function that fills it) and a
 * human-readable message built where the cause was known. */
typedef struct rh_err {
    int code;         /* an rh_errcode */
    uint64_t offset;  /* byte offset, see the filling function */
    char msg[160];    /* NUL-terminated, never empty when code != 0 */
} rh_err;

/* The canonical one-line description of an error code (static storage). */
RH_API const char *rh_strerror(int code);

#ifdef __cplusplus
}
#endif
#endif
