/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Logging, one line each. A thread bound to a transport's sink (its loop
 * and delivery threads, and rh_transport_new/free while they run) sends its
 * lines to that transport's log callback, or to standard error at its
 * level; any other thread writes to standard error at rh_log_level. On
 * standard error: RFC 3339 UTC time with microseconds, the level, who
 * speaks ("rafthttp", "rafthttp node"), the message.
 */
#ifndef RH_TRANSPORT_LOG_H
#define RH_TRANSPORT_LOG_H

#include <stdarg.h>
#include <stdint.h>

#include "rafthttp/log.h"

extern int rh_log_level; /* unbound threads: lines below it are not printed */

/* Where a transport's lines go (the transport owns it). */
typedef struct rhi_log_sink {
    rh_log_fn fn; /* NULL: standard error */
    void *ctx;
    int level;
    uint64_t local_id;
} rhi_log_sink;

/* Binds the calling thread to sink (NULL: unbound); returns the previous. */
const rhi_log_sink *rhi_log_bind(const rhi_log_sink *sink);

/* The library's lines ("rafthttp: ..."); rh_logp names the peer concerned. */
void rh_logf(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void rh_logp(int level, uint64_t peer_id, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* A line on behalf of `who`. */
void rh_vlogf(const char *who, int level, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));
void rh_vlogp(const char *who, int level, uint64_t peer_id, const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));

#endif
