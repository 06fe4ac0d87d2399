/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Messages the transport owns: copies of what the application sends and of
 * what the stream readers decode, made without an allocation per message.
 *
 * A batch of messages (one rh_transport_send call, one read's worth of
 * decoded frames) is copied into one block; each message in it carries a
 * pointer back to the block, which is freed when its last message is. A
 * message too large to share a block (over TMSG_SHARE_MAX) gets its own
 * allocation. Freed blocks of the standard size are kept in a few per-
 * transport slots and reused, so steady traffic allocates nothing.
 *
 * Threads: any thread may clone and free (the block count is atomic, the
 * cache slots are atomic pointers); a message is used by one thread at a
 * time, handed over through the locked queues that already exist.
 */
#ifndef RH_TRANSPORT_TMSG_H
#define RH_TRANSPORT_TMSG_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "rafthttp/raftpb.h"

/* Messages up to this copy size share blocks; larger ones are copied alone. */
#define TMSG_SHARE_MAX (16u * 1024u)
/* The standard block: cached when freed. Larger blocks are freed. */
#define TMSG_BLOCK_SIZE (64u * 1024u)
/* Blocks kept (2 MiB at most, held only after traffic needed them): a
 * window of 1,024 messages of 1 KiB in flight to the delivery thread is
 * about 21 blocks, and with 8 slots every 50th message malloc'd one. */
#define TMSG_CACHE_SLOTS 32

typedef struct tmsg_block tmsg_block;

/* A transport's cache of free standard blocks. */
typedef struct tmsg_cache {
    _Atomic(tmsg_block *) slot[TMSG_CACHE_SLOTS];
} tmsg_cache;

void rhi_tmsg_cache_free(tmsg_cache *c); /* frees the cached blocks */

/* A block being filled by one thread. */
typedef struct tmsg_batch {
    tmsg_cache *cache;
    tmsg_block *blk;  /* current block, NULL before the first message */
    size_t used;      /* bytes of it handed out */
    size_t handed;    /* messages handed out of it, counted in at the end */
} tmsg_batch;

static inline void tmsg_batch_init(tmsg_batch *b, tmsg_cache *cache)
{
    b->cache = cache;
    b->blk = NULL;
    b->used = 0;
    b->handed = 0;
}
/* A copy of src, owned by the caller (free with rhi_tmsg_free); NULL when out of
 * memory. Small messages share the batch's block. */
rh_msg *rhi_tmsg_copy(tmsg_batch *b, const rh_msg *src);
/* n bytes (16-byte aligned) from the batch's block, or alone when larger
 * than TMSG_SHARE_MAX; free with rhi_tmsg_release. NULL when out of memory. */
void *rhi_tmsg_alloc(tmsg_batch *b, size_t n);
void rhi_tmsg_release(void *p);
/* Drops the batch's hold on its block (copies made stay valid). */
void rhi_tmsg_batch_end(tmsg_batch *b);

/* Data that copies reference instead of copying (rh_transport_send_ref):
 * done(arg) runs, on whichever thread frees the last of them, once no
 * message refers to it. The owner lives in the batch's block. */
typedef struct tmsg_owner tmsg_owner;
/* A new owner with one reference, the caller's; NULL when out of memory. */
tmsg_owner *rhi_tmsg_owner_new(tmsg_batch *b, void (*done)(void *arg), void *arg);
void rhi_tmsg_owner_put(tmsg_owner *o); /* drops a reference */
/* rhi_tmsg_copy, but entry data of at least ref_min bytes stay where they are
 * and the copy holds a reference on o until it is freed. */
rh_msg *rhi_tmsg_copy_ref(tmsg_batch *b, const rh_msg *src, tmsg_owner *o, size_t ref_min);

/* A buffer that socket reads go into again and again, at its start (n a
 * multiple of 4096; free with free()). Page-aligned: the kernel's copy into
 * a buffer 16 bytes into a page (where malloc puts a large block) ran at a
 * third of its speed on this project's machines, read after read (perf: a
 * 16 KiB MsgApp run spent 30% of its time in _copy_to_iter, raw TCP reading
 * into an aligned buffer 7%; `raw_tcp --read-offset 16` shows it). */
static inline void *rhi_read_buf_alloc(size_t n)
{
    return aligned_alloc(4096, n);
}

/* Read buffers whose bytes messages reference (thread delivery): a stream
 * reader reads into one, the messages it decodes there keep their large
 * entries where they are instead of copying them, and the buffer goes back
 * to the pool when the last of them is freed. At most TMSG_READ_HELD_MAX
 * buffers are held by messages at once (past that, the reader copies), so
 * they add at most that many buffers to what the delivery queue bounds. */
#define TMSG_READ_POOL_SLOTS 8
#define TMSG_READ_HELD_MAX 8

typedef struct tmsg_read_pool {
    size_t size;                                     /* bytes a buffer */
    _Atomic(uint8_t *) slot[TMSG_READ_POOL_SLOTS];   /* free buffers */
    _Atomic unsigned held;                           /* buffers messages hold */
} tmsg_read_pool;

static inline void tmsg_read_pool_init(tmsg_read_pool *p, size_t size)
{
    p->size = size;
    for (size_t i = 0; i < TMSG_READ_POOL_SLOTS; i++)
        atomic_init(&p->slot[i], NULL);
    atomic_init(&p->held, 0);
}
/* A buffer of p->size bytes from rhi_read_buf_alloc (free with free() or
 * give back with rhi_tmsg_read_buf_put); NULL when out of memory. */
uint8_t *rhi_tmsg_read_buf_get(tmsg_read_pool *p);
void rhi_tmsg_read_buf_put(tmsg_read_pool *p, uint8_t *buf);
/* An owner (one reference, the caller's) that gives buf back to p once no
 * message refers to it; NULL when TMSG_READ_HELD_MAX are held already or
 * out of memory. */
tmsg_owner *rhi_tmsg_read_buf_owner(tmsg_batch *b, tmsg_read_pool *p, uint8_t *buf);
void rhi_tmsg_read_pool_free(tmsg_read_pool *p); /* frees the free buffers */

/* A copy of src in its own allocation. */
rh_msg *rhi_tmsg_clone(const rh_msg *src);
/* Frees a message made by rhi_tmsg_copy or rhi_tmsg_clone; NULL is ignored. */
void rhi_tmsg_free(rh_msg *m);

#endif
