/* SPDX-License-Identifier: Apache-2.0 */
/*
 * alloc_count.so: counts heap allocations, for bench/run.sh's allocs/msg
 * column. Preloaded (LD_PRELOAD), it wraps malloc, calloc, realloc,
 * posix_memalign, aligned_alloc and memalign, counting calls and bytes
 * asked with relaxed atomics; `rafthttp bench` finds rh_alloc_stats with
 * dlsym and reports the allocations of its measured window per message.
 * dlsym may itself call calloc before the real one is known: those early
 * calls get a small static arena, never handed to the real free.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

static _Atomic uint64_t n_allocs, n_bytes;
static void *(*real_malloc)(size_t);
static void *(*real_calloc)(size_t, size_t);
static void *(*real_realloc)(void *, size_t);
static void (*real_free)(void *);
static int (*real_posix_memalign)(void **, size_t, size_t);
static void *(*real_aligned_alloc)(size_t, size_t);
static void *(*real_memalign)(size_t, size_t);

static _Alignas(16) unsigned char early[16384];
static size_t early_used;
static int resolving;

void rh_alloc_stats(uint64_t *allocs, uint64_t *bytes);
void rh_alloc_stats(uint64_t *allocs, uint64_t *bytes)
{
    *allocs = atomic_load_explicit(&n_allocs, memory_order_relaxed);
    *bytes = atomic_load_explicit(&n_bytes, memory_order_relaxed);
}

static void resolve(void)
{
    if (real_malloc || resolving)
        return;
    resolving = 1;
    real_calloc = (void *(*)(size_t, size_t))dlsym(RTLD_NEXT, "calloc");
    real_malloc = (void *(*)(size_t))dlsym(RTLD_NEXT, "malloc");
    real_realloc = (void *(*)(void *, size_t))dlsym(RTLD_NEXT, "realloc");
    real_free = (void (*)(void *))dlsym(RTLD_NEXT, "free");
    real_posix_memalign = (int (*)(void **, size_t, size_t))dlsym(RTLD_NEXT, "posix_memalign");
    real_aligned_alloc = (void *(*)(size_t, size_t))dlsym(RTLD_NEXT, "aligned_alloc");
    real_memalign = (void *(*)(size_t, size_t))dlsym(RTLD_NEXT, "memalign");
    resolving = 0;
}

static void count(size_t n)
{
    atomic_fetch_add_explicit(&n_allocs, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&n_bytes, n, memory_order_relaxed);
}

static int is_early(const void *p)
{
    return (const unsigned char *)p >= early && (const unsigned char *)p < early + sizeof(early);
}

static void *early_alloc(size_t n)
{
    size_t a = (n + 15) & ~(size_t)15;
    if (early_used + a > sizeof(early))
        return NULL;
    void *p = early + early_used;
    early_used += a;
    memset(p, 0, n);
    return p;
}

void *malloc(size_t n)
{
    resolve();
    if (!real_malloc)
        return early_alloc(n);
    count(n);
    return real_malloc(n);
}

void *calloc(size_t k, size_t n)
{
    resolve();
    if (!real_calloc)
        return early_alloc(k * n);
    count(k * n);
    return real_calloc(k, n);
}

void *realloc(void *p, size_t n)
{
    resolve();
    if (is_early(p)) {
        void *q = malloc(n);
        size_t have = (size_t)(early + sizeof(early) - (unsigned char *)p);
        if (q)
            memcpy(q, p, n < have ? n : have);
        return q;
    }
    count(n);
    return real_realloc(p, n);
}

void free(void *p)
{
    if (!p || is_early(p))
        return;
    resolve();
    real_free(p);
}

int posix_memalign(void **out, size_t al, size_t n)
{
    resolve();
    count(n);
    return real_posix_memalign(out, al, n);
}

void *aligned_alloc(size_t al, size_t n)
{
    resolve();
    count(n);
    return real_aligned_alloc(al, n);
}

void *memalign(size_t al, size_t n)
{
    resolve();
    count(n);
    return real_memalign(al, n);
}
