/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Transport-owned message copies in shared, reusable blocks (tmsg.h).
 *
 * Layout: a block is a tmsg_block header followed by messages, each one a
 * tmsg_hdr then the rh_msg and its arrays and bytes (rh_msg_clone_to). A
 * lone message is a tmsg_hdr with blk == NULL, then the copy. The block's
 * count is one per live message. While a batch fills the block it holds
 * FILL_BIAS on it instead of a count per message handed out (messages may
 * be freed, on other threads, before the batch is done); at the end it
 * trades the bias for the number it handed out, in one atomic operation:
 * one per block, not one per message, on the filling side.
 */
#include <stdint.h>
#include <stdlib.h>

#include "transport/tmsg.h"

struct tmsg_block {
    _Atomic size_t refs;
    tmsg_cache *cache; /* where it goes back when free (standard size only) */
    size_t cap;        /* bytes after the header */
};

typedef struct tmsg_hdr {
    tmsg_block *blk;   /* NULL: a lone allocation */
    tmsg_owner *owner; /* whose data the message references, or NULL; also
                        * keeps the message 16-byte aligned */
} tmsg_hdr;

struct tmsg_owner {
    _Atomic size_t refs;
    void (*done)(void *arg);
    void *arg;
};

#define HDR_ALIGN(n) (((n) + 15u) & ~(size_t)15u)
#define FILL_BIAS (SIZE_MAX / 2) /* more than a block can ever hand out */
#define BLOCK_HDR HDR_ALIGN(sizeof(tmsg_block))

/* Drops n from blk's count; the one that takes it to 0 frees it. */
static void block_put(tmsg_block *blk, size_t n)
{
    if (atomic_fetch_sub_explicit(&blk->refs, n, memory_order_acq_rel) != n)
        return;
    if (blk->cache && blk->cap == TMSG_BLOCK_SIZE - BLOCK_HDR) {
        for (size_t i = 0; i < TMSG_CACHE_SLOTS; i++) {
            tmsg_block *expect = NULL;
            if (atomic_compare_exchange_strong_explicit(&blk->cache->slot[i], &expect, blk,
                                                        memory_order_release,
                                                        memory_order_relaxed))
                return;
        }
    }
    free(blk);
}

static tmsg_block *block_get(tmsg_cache *cache)
{
    for (size_t i = 0; cache && i < TMSG_CACHE_SLOTS; i++) {
        if (!atomic_load_explicit(&cache->slot[i], memory_order_relaxed))
            continue;
        tmsg_block *blk = atomic_exchange_explicit(&cache->slot[i], NULL, memory_order_acquire);
        if (blk) {
            atomic_store_explicit(&blk->refs, FILL_BIAS, memory_order_relaxed);
            return blk;
        }
    }
    tmsg_block *blk = malloc(TMSG_BLOCK_SIZE);
    if (!blk)
        return NULL;
    atomic_init(&blk->refs, FILL_BIAS);
    blk->cache = cache;
    blk->cap = TMSG_BLOCK_SIZE - BLOCK_HDR;
    return blk;
}

void rhi_tmsg_cache_free(tmsg_cache *c)
{
    for (size_t i = 0; i < TMSG_CACHE_SLOTS; i++)
        free(atomic_exchange(&c->slot[i], NULL));
}

static void *alloc_alone(size_t n)
{
    tmsg_hdr *h = malloc(sizeof(tmsg_hdr) + n);
    if (!h)
        return NULL;
    h->blk = NULL;
    h->owner = NULL;
    return h + 1;
}

void *rhi_tmsg_alloc(tmsg_batch *b, size_t n)
{
    size_t need = sizeof(tmsg_hdr) + HDR_ALIGN(n);
    if (need > TMSG_SHARE_MAX)
        return alloc_alone(n);
    if (b->blk && b->used + need > b->blk->cap)
        rhi_tmsg_batch_end(b);
    if (!b->blk) {
        if (!(b->blk = block_get(b->cache)))
            return alloc_alone(n);
        b->used = 0;
        b->handed = 0;
    }
    tmsg_hdr *h = (tmsg_hdr *)(void *)((char *)b->blk + BLOCK_HDR + b->used);
    b->used += need;
    b->handed++;
    h->blk = b->blk;
    h->owner = NULL;
    return h + 1;
}

rh_msg *rhi_tmsg_clone(const rh_msg *src)
{
    void *mem = alloc_alone(rh_msg_clone_size(src));
    return mem ? rh_msg_clone_to(src, mem) : NULL;
}

rh_msg *rhi_tmsg_copy(tmsg_batch *b, const rh_msg *src)
{
    void *mem = rhi_tmsg_alloc(b, rh_msg_clone_size(src));
    return mem ? rh_msg_clone_to(src, mem) : NULL;
}

tmsg_owner *rhi_tmsg_owner_new(tmsg_batch *b, void (*done)(void *arg), void *arg)
{
    tmsg_owner *o = rhi_tmsg_alloc(b, sizeof(*o));
    if (!o)
        return NULL;
    atomic_init(&o->refs, 1);
    o->done = done;
    o->arg = arg;
    return o;
}

void rhi_tmsg_owner_put(tmsg_owner *o)
{
    if (atomic_fetch_sub_explicit(&o->refs, 1, memory_order_acq_rel) != 1)
        return;
    if (o->done)
        o->done(o->arg);
    rhi_tmsg_release(o);
}

rh_msg *rhi_tmsg_copy_ref(tmsg_batch *b, const rh_msg *src, tmsg_owner *o, size_t ref_min)
{
    void *mem = rhi_tmsg_alloc(b, rh_msg_clone_size_ref(src, ref_min));
    if (!mem)
        return NULL;
    ((tmsg_hdr *)mem - 1)->owner = o;
    atomic_fetch_add_explicit(&o->refs, 1, memory_order_relaxed);
    return rh_msg_clone_to_ref(src, mem, ref_min);
}

void rhi_tmsg_batch_end(tmsg_batch *b)
{
    if (b->blk)
        block_put(b->blk, FILL_BIAS - b->handed);
    b->blk = NULL;
    b->used = 0;
    b->handed = 0;
}

void rhi_tmsg_release(void *p)
{
    if (!p)
        return;
    tmsg_hdr *h = (tmsg_hdr *)p - 1;
    tmsg_owner *o = h->owner;
    if (h->blk)
        block_put(h->blk, 1);
    else
        free(h);
    if (o)
        rhi_tmsg_owner_put(o);
}

void rhi_tmsg_free(rh_msg *m)
{
    rhi_tmsg_release(m);
}

/* ---- read buffers -------------------------------------------------------- */

uint8_t *rhi_tmsg_read_buf_get(tmsg_read_pool *p)
{
    for (size_t i = 0; i < TMSG_READ_POOL_SLOTS; i++) {
        if (!atomic_load_explicit(&p->slot[i], memory_order_relaxed))
            continue;
        uint8_t *buf = atomic_exchange_explicit(&p->slot[i], NULL, memory_order_acquire);
        if (buf)
            return buf;
    }
    return rhi_read_buf_alloc(p->size);
}

void rhi_tmsg_read_buf_put(tmsg_read_pool *p, uint8_t *buf)
{
    for (size_t i = 0; buf && i < TMSG_READ_POOL_SLOTS; i++) {
        uint8_t *expect = NULL;
        if (atomic_compare_exchange_strong_explicit(&p->slot[i], &expect, buf,
                                                    memory_order_release,
                                                    memory_order_relaxed))
            return;
    }
    free(buf);
}

typedef struct read_hold {
    tmsg_read_pool *pool;
    uint8_t *buf;
} read_hold;

static void read_hold_done(void *arg)
{
    read_hold *h = arg;
    rhi_tmsg_read_buf_put(h->pool, h->buf);
    atomic_fetch_sub_explicit(&h->pool->held, 1, memory_order_relaxed);
    rhi_tmsg_release(h);
}

tmsg_owner *rhi_tmsg_read_buf_owner(tmsg_batch *b, tmsg_read_pool *p, uint8_t *buf)
{
    if (atomic_fetch_add_explicit(&p->held, 1, memory_order_relaxed) >= TMSG_READ_HELD_MAX) {
        atomic_fetch_sub_explicit(&p->held, 1, memory_order_relaxed);
        return NULL;
    }
    read_hold *h = rhi_tmsg_alloc(b, sizeof(*h));
    tmsg_owner *o = h ? rhi_tmsg_owner_new(b, read_hold_done, h) : NULL;
    if (!o) {
        rhi_tmsg_release(h);
        atomic_fetch_sub_explicit(&p->held, 1, memory_order_relaxed);
        return NULL;
    }
    h->pool = p;
    h->buf = buf;
    return o;
}

void rhi_tmsg_read_pool_free(tmsg_read_pool *p)
{
    for (size_t i = 0; i < TMSG_READ_POOL_SLOTS; i++)
        free(atomic_exchange(&p->slot[i], NULL));
}
