/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Bump arena for decoded arrays.
 *
 * Blocks form a list; reset frees all but coalesces their capacity into one
 * block, so after the first few messages a decoder's arena is one block that
 * is reused without touching malloc.
 */
#include <stdlib.h>
#include <string.h>

#include "rafthttp/raftpb.h"

struct rh_arena_block {
    rh_arena_block *prev; /* older block, owned */
    size_t cap;           /* usable bytes in data */
    size_t used;          /* bytes handed out from data */
    uint64_t data[];      /* 8-byte aligned storage */
};

#define ARENA_MIN_BLOCK 4096u
#define ARENA_KEEP (8u << 20) /* most a reset keeps for reuse */

static rh_arena_block *block_new(size_t cap, rh_arena_block *prev)
{
    rh_arena_block *b = malloc(sizeof(*b) + cap);
    if (!b)
        return NULL;
    b->prev = prev;
    b->cap = cap;
    b->used = 0;
    return b;
}

void rh_arena_init(rh_arena *a, size_t limit)
{
    a->head = NULL;
    a->used_total = 0;
    a->limit = limit ? limit : RH_ARENA_DEFAULT_LIMIT;
}

void *rh_arena_alloc(rh_arena *a, size_t n)
{
    if (n == 0)
        n = 1;
    if (n > a->limit - a->used_total) /* used_total <= limit always */
        return NULL;
    size_t need = (n + 7u) & ~(size_t)7u;
    rh_arena_block *b = a->head;
    if (!b || b->cap - b->used < need) {
        size_t cap = b ? b->cap * 2 : ARENA_MIN_BLOCK;
        if (cap < need)
            cap = need;
        rh_arena_block *nb = block_new(cap, b);
        if (!nb)
            return NULL;
        a->head = nb;
        b = nb;
    }
    void *p = (uint8_t *)b->data + b->used;
    b->used += need;
    a->used_total += n;
    memset(p, 0, n);
    return p;
}

void rh_arena_reset(rh_arena *a)
{
    rh_arena_block *b = a->head;
    a->used_total = 0;
    if (!b)
        return;
    if (!b->prev && b->cap <= ARENA_KEEP) {
        b->used = 0;
        return;
    }
    size_t total = 0;
    while (b) {
        rh_arena_block *prev = b->prev;
        total += b->cap;
        free(b);
        b = prev;
    }
    /* keep one block of the combined size, unless a freak message made it
     * huge: then start small again */
    a->head = total <= ARENA_KEEP ? block_new(total, NULL) : NULL;
}

void rh_arena_free(rh_arena *a)
{
    rh_arena_block *b = a->head;
    while (b) {
        rh_arena_block *prev = b->prev;
        free(b);
        b = prev;
    }
    a->head = NULL;
    a->used_total = 0;
}
