/* SPDX-License-Identifier: Apache-2.0 */
/*
 * RH_API marks what the shared library exports: the library is built with
 * -fvisibility=hidden, so only functions declared RH_API in these headers
 * are visible to applications (tests/unit/symbols.sh checks that each one
 * is an rh_ name).
 */
#ifndef RAFTHTTP_API_H
#define RAFTHTTP_API_H

#if defined(__GNUC__) || defined(__clang__)
#define RH_API __attribute__((visibility("default")))
#else
#define RH_API
#endif

#endif
