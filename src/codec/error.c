/* SPDX-License-Identifier: Apache-2.0 */
/* The one table of error codes and their canonical messages. */
#include "rafthttp/error.h"

const char *rh_strerror(int code)
{
    switch (code) {
    case RH_OK: return "success";
    case RH_ENOMEM: return "out of memory";
    case RH_ETRUNC: return "unexpected end of data";
    case RH_EVARINT: return "varint overflows 64 bits";
    case RH_EWIRETYPE: return "wrong or illegal wire type";
    case RH_ETAG: return "illegal tag";
    case RH_EDEPTH: return "nesting too deep";
    case RH_ETOOBIG: return "length over the limit";
    case RH_EFRAMETYPE: return "unknown frame type";
    case RH_ELENGTH: return "declared length disagrees with the data";
    case RH_EINVAL: return "invalid argument";
    case RH_ECOMPLEX: return "decoded message too large for the arena limit";
    default: return "unknown error";
    }
}
