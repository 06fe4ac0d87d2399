/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A minimal test harness: CHECK records a failure and goes on, TEST runs a
 * function by name, main returns the failure count (ctest: nonzero = fail).
 */
#ifndef RH_TEST_CHECK_H
#define RH_TEST_CHECK_H

#include <stdio.h>
#include <string.h>

static int check_failures;
static int check_count;

#define CHECK(cond)                                                              \
    do {                                                                         \
        check_count++;                                                           \
        if (!(cond)) {                                                           \
            check_failures++;                                                    \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__,     \
                    #cond);                                                      \
        }                                                                        \
    } while (0)

#define CHECK_EQ_U64(a, b)                                                       \
    do {                                                                         \
        unsigned long long a_ = (unsigned long long)(a);                         \
        unsigned long long b_ = (unsigned long long)(b);                         \
        check_count++;                                                           \
        if (a_ != b_) {                                                          \
            check_failures++;                                                    \
            fprintf(stderr, "%s:%d: %s == %llu, expected %s == %llu\n", __FILE__, \
                    __LINE__, #a, a_, #b, b_);                                   \
        }                                                                        \
    } while (0)

#define CHECK_MEM(a, alen, b, blen)                                              \
    do {                                                                         \
        check_count++;                                                           \
        if ((alen) != (blen) || memcmp((a), (b), (alen)) != 0) {                 \
            check_failures++;                                                    \
            fprintf(stderr, "%s:%d: bytes differ: %s (%zu) vs %s (%zu)\n",       \
                    __FILE__, __LINE__, #a, (size_t)(alen), #b, (size_t)(blen)); \
        }                                                                        \
    } while (0)

#define TEST(fn)                                                                 \
    do {                                                                         \
        int before_ = check_failures;                                            \
        fn();                                                                    \
        fprintf(stderr, "%s %s\n", check_failures == before_ ? "ok  " : "FAIL",  \
                #fn);                                                            \
    } while (0)

#define CHECK_DONE()                                                             \
    (fprintf(stderr, "%d checks, %d failed\n", check_count, check_failures),     \
     check_failures ? 1 : 0)

/* Hex string -> bytes; returns the byte count. */
static inline size_t unhex(const char *hex, unsigned char *out)
{
    size_t n = 0;
    for (; hex[0] && hex[1]; hex += 2) {
        unsigned v;
        sscanf(hex, "%2x", &v);
        out[n++] = (unsigned char)v;
    }
    return n;
}

#endif
