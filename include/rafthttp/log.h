/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The transport's log lines, for an application that wants them: set
 * rh_transport_config.log (and log_level) and every line the transport
 * writes about itself comes to that callback instead of standard error, as
 * a record with the fields etcd's zap logger gives its lines (level, time,
 * message, local member, remote peer). Without a callback the lines go to
 * standard error as text, from log_level up.
 */
#ifndef RAFTHTTP_LOG_H
#define RAFTHTTP_LOG_H

#include "rafthttp/api.h"

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* 0 in a config means the default, RH_LOG_INFO. */
enum rh_log_level { RH_LOG_DEBUG = 1, RH_LOG_INFO = 2, RH_LOG_WARN = 3, RH_LOG_ERROR = 4 };

typedef struct rh_log_record {
    int level;           /* rh_log_level */
    int64_t time_ns;     /* CLOCK_REALTIME */
    const char *msg;     /* the line, without a newline; valid during the call */
    uint64_t local_id;   /* this transport's member ID */
    uint64_t peer_id;    /* the remote member the line is about, 0 when none */
} rh_log_record;

/* Called on the thread that logs (the transport's loop or delivery thread,
 * or the caller of rh_transport_new/free); it must not call back into the
 * transport. Lines of one transport come one at a time per thread. */
typedef void (*rh_log_fn)(void *ctx, const rh_log_record *rec);

/* "debug", "info", "warn", "error" ("?" otherwise). */
RH_API const char *rh_log_level_name(int level);

#ifdef __cplusplus
}
#endif
#endif
