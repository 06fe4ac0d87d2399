/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Logging to standard error, one line each: RFC 3339 UTC time with
 * microseconds, the level, who speaks ("rafthttp", "rafthttp node"), the
 * message. Shared by the library and the command; rh_log_level filters.
 */
#ifndef RH_TRANSPORT_LOG_H
#define RH_TRANSPORT_LOG_H

#include <stdarg.h>

enum { RH_LOG_DEBUG, RH_LOG_INFO, RH_LOG_WARN, RH_LOG_ERROR };
extern int rh_log_level; /* messages below it are not printed */

/* The library's lines ("rafthttp: ..."). */
void rh_logf(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A line on behalf of `who`. */
void rh_vlogf(const char *who, int level, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

#endif
