/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Delivery of received messages to the application's `process`.
 *
 * The loop thread pushes batches (one lock per batch); a delivery thread
 * pops batches and calls `process` outside the lock, so a slow application
 * delays only this thread. Per peer, at most RH_RECV_BUF_SIZE messages and
 * RH_MAX_PENDING_PROPOSALS proposals wait (etcd's recvc and propc), and at
 * most queue_bytes of them (ours: etcd bounds only the count, and a frame
 * may be 512 MiB); past that the loop drops, counts and reports, as etcd's
 * streamReader does. A sender's counts go when its queue empties, so senders
 * named on the wire cannot grow them.
 *
 * Waiting: out of work, the delivery thread watches `queued` without the
 * lock for a while (a lock taken and dropped in a spin was the loop's main
 * contention), and only then sleeps on the condition, saying so in
 * `sleeping`; the loop signals only a sleeping thread. It watches only when
 * work came in trickles (a reply is awaited: the next message is near);
 * after a large batch it sleeps at once, since the spin then cost more
 * than the wake-ups it saved (a quarter of all CPU in a heartbeat run).
 */
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "transport/internal.h"

#define POP_BATCH 256              /* messages taken per lock, at most */
#define POP_BATCH_BYTES (1u << 20) /* and bytes (after the first message) */
#define SPIN_US 100                /* awake this long for more work, at most */
#define SPIN_IF_US 500             /* when the previous wait was shorter */
#define SPIN_IF_N 8                /* and the previous pop took at most this many */

_Static_assert(sizeof(delivery_item) <= 32, "a delivery item is half a cache line");

static delivery_count *count_for(delivery *d, uint64_t id)
{
    for (size_t i = 0; i < d->n_counts; i++)
        if (d->counts[i].id == id)
            return &d->counts[i];
    if (d->n_counts == d->cap_counts) {
        size_t cap = d->cap_counts ? d->cap_counts * 2 : 8;
        delivery_count *nc = realloc(d->counts, cap * sizeof(*nc));
        if (!nc)
            return NULL;
        d->counts = nc;
        d->cap_counts = cap;
    }
    delivery_count *c = &d->counts[d->n_counts++];
    memset(c, 0, sizeof(*c));
    c->id = id;
    return c;
}

/* Forgets c once nothing of its sender is queued. */
static void count_release(delivery *d, delivery_count *c)
{
    if (c->recv || c->prop)
        return;
    *c = d->counts[--d->n_counts];
}

/* A sender's counts, held in registers while a batch is pushed or popped
 * (the loop's stores to c, read back for the next message, waited on the
 * ring's stores: 95% of rhi_delivery_push's samples in a 64 B run). */
typedef struct count_regs {
    uint32_t recv, prop;
    uint64_t bytes;
} count_regs;

/* Whether one more message of size fits the queues counted in r. */
static bool count_fits(const rh_transport *t, const count_regs *r, bool prop, uint64_t size)
{
    if (prop ? r->prop >= RH_MAX_PENDING_PROPOSALS : r->recv >= RH_RECV_BUF_SIZE)
        return false;
    /* one message always fits an empty queue, however large */
    return (r->recv | r->prop) == 0 || r->bytes + size <= t->cfg.queue_bytes;
}

/* An item's size: a frame may be larger than 4 GiB only by config, and
 * then counts as 4 GiB (pushed and popped alike). */
static inline uint32_t item_size(uint64_t size)
{
    return size > UINT32_MAX ? UINT32_MAX : (uint32_t)size;
}

static void item_free_snap(delivery_item *it)
{
    if (it->is_snap) {
        free(it->u.snap->file);
        free(it->u.snap);
    }
}

/* Takes r's messages of sender id out of its counts (popped). */
static void count_out(delivery *d, uint64_t id, const count_regs *r)
{
    delivery_count *c = count_for(d, id);
    if (!c)
        return;
    c->recv -= r->recv;
    c->prop -= r->prop;
    c->bytes -= r->bytes;
    count_release(d, c);
}

/* The ring's capacity is a power of two: positions are masked, not divided. */
static bool ring_grow(delivery *d)
{
    size_t cap = d->cap ? d->cap * 2 : 1024;
    delivery_item *ni = malloc(cap * sizeof(*ni));
    if (!ni)
        return false;
    for (size_t i = 0; i < d->len; i++)
        ni[i] = d->items[(d->head + i) & (d->cap - 1)];
    free(d->items);
    d->items = ni;
    d->cap = cap;
    d->head = 0;
    return true;
}

static void process_logged(rh_transport *t, const rh_msg *m, const char *via, uint64_t from)
{
    if (t->cfg.raft.process(t->cfg.raft.ctx, m, via) != 0)
        rh_logp(RH_LOG_WARN, from, "process of %s from %llx failed",
                rh_msg_type_name(m->type) ? rh_msg_type_name(m->type) : "message",
                (unsigned long long)from);
}

void rhi_delivery_on_loop(rh_transport *t, uint64_t from, const rh_msg *m, const char *via)
{
    process_logged(t, m, via, from);
}

size_t rhi_delivery_push(rh_transport *t, uint64_t from, rh_msg **msgs, const uint64_t *sizes,
                     const char **via, size_t n, bool *accepted)
{
    delivery *d = &t->dq;
    if (t->cfg.delivery == RH_DELIVER_ON_LOOP) {
        for (size_t i = 0; i < n; i++) {
            process_logged(t, msgs[i], via[i], from);
            rhi_tmsg_free(msgs[i]);
            accepted[i] = true;
        }
        return n;
    }
    size_t ok = 0;
    pthread_mutex_lock(&d->mu);
    delivery_count *c = count_for(d, from);
    if (!c || d->stopping) {
        memset(accepted, 0, n * sizeof(*accepted));
        n = 0;
    }
    count_regs r = c ? (count_regs){c->recv, c->prop, c->bytes} : (count_regs){0, 0, 0};
    size_t len = d->len; /* stored once at the end: the consumer reads its line */
    for (size_t i = 0; i < n; i++) {
        bool prop = msgs[i]->type == RH_MSG_PROP;
        uint32_t size = item_size(sizes ? sizes[i] : rh_msg_size(msgs[i]));
        accepted[i] = false;
        if (!count_fits(t, &r, prop, size))
            continue;
        if (len == d->cap) {
            d->len = len;
            if (!ring_grow(d))
                continue;
        }
        d->items[(d->head + len) & (d->cap - 1)] = (delivery_item){
            .m = msgs[i], .from = from, .u.via = via[i], .size = size, .prop = prop};
        len++;
        if (prop)
            r.prop++;
        else
            r.recv++;
        r.bytes += size;
        accepted[i] = true;
        ok++;
    }
    d->len = len;
    if (c) {
        c->recv = r.recv;
        c->prop = r.prop;
        c->bytes = r.bytes;
        count_release(d, c);
    }
    atomic_store_explicit(&d->queued, d->len, memory_order_release);
    bool wake = ok && d->sleeping;
    pthread_mutex_unlock(&d->mu);
    if (wake) /* after the unlock: woken, it does not wait for our lock */
        pthread_cond_signal(&d->cond);
    return ok;
}

bool rhi_delivery_push_snapshot(rh_transport *t, uint64_t from, rh_msg *m, const char *path,
                            uint64_t bytes)
{
    delivery *d = &t->dq;
    delivery_snap *snap = malloc(sizeof(*snap));
    char *file = strdup(path);
    bool ok = false;
    pthread_mutex_lock(&d->mu);
    delivery_count *c = count_for(d, from);
    uint32_t size = item_size(rh_msg_size(m)); /* the body is in the file, not queued */
    if (snap && file && c && !d->stopping &&
        count_fits(t, &(count_regs){c->recv, c->prop, c->bytes}, false, size) &&
        (d->len < d->cap || ring_grow(d))) {
        d->items[(d->head + d->len) & (d->cap - 1)] =
            (delivery_item){.m = m, .from = from, .u.snap = snap, .size = size, .is_snap = true};
        *snap = (delivery_snap){.file = file, .bytes = bytes};
        d->len++;
        atomic_store_explicit(&d->queued, d->len, memory_order_release);
        c->recv++;
        c->bytes += size;
        ok = true;
    }
    bool wake = ok && d->sleeping;
    if (c)
        count_release(d, c);
    pthread_mutex_unlock(&d->mu);
    if (wake)
        pthread_cond_signal(&d->cond);
    if (!ok) {
        free(file);
        free(snap);
    }
    return ok;
}

static void *delivery_main(void *arg)
{
    rh_transport *t = arg;
    delivery *d = &t->dq;
    delivery_item batch[POP_BATCH];
    rhi_thread_name("rh-deliver");
    rhi_log_bind(&t->log_sink);
    int64_t last_wait_us = SPIN_IF_US; /* the previous wait for work */
    size_t last_n = 0;                 /* messages the previous pop took */
    for (;;) {
        if (!atomic_load_explicit(&d->queued, memory_order_acquire)) {
            int64_t t0 = rh_now_us();
            bool spin = last_wait_us < SPIN_IF_US && last_n <= SPIN_IF_N;
            /* yield once (whoever is runnable goes first), then, after a short
             * wait, look again for up to SPIN_US; then sleep */
            sched_yield();
            while (spin && !atomic_load_explicit(&d->queued, memory_order_acquire) &&
                   !atomic_load_explicit(&d->stopping, memory_order_relaxed) &&
                   rh_now_us() - t0 < SPIN_US)
                sched_yield();
            pthread_mutex_lock(&d->mu);
            if (d->len == 0 && !d->stopping) {
                d->sleeping = true;
                while (d->len == 0 && !d->stopping)
                    pthread_cond_wait(&d->cond, &d->mu);
                d->sleeping = false;
            }
            last_wait_us = rh_now_us() - t0;
        } else {
            pthread_mutex_lock(&d->mu);
        }
        if (d->stopping && d->len == 0) {
            pthread_mutex_unlock(&d->mu);
            return NULL;
        }
        size_t n = 0;
        uint64_t bytes = 0; /* popped messages leave the byte bound: keep few */
        uint64_t run_from = 0; /* a run of one sender's messages, counted out at once */
        count_regs run = {0, 0, 0};
        while (d->len && n < POP_BATCH && bytes < POP_BATCH_BYTES) {
            const delivery_item *it = &d->items[d->head];
            if ((run.recv | run.prop) && it->from != run_from) {
                count_out(d, run_from, &run);
                run = (count_regs){0, 0, 0};
            }
            run_from = it->from;
            if (it->prop)
                run.prop++;
            else
                run.recv++;
            run.bytes += it->size;
            bytes += it->size;
            batch[n++] = *it;
            d->head = (d->head + 1) & (d->cap - 1);
            d->len--;
        }
        if (run.recv | run.prop)
            count_out(d, run_from, &run);
        atomic_store_explicit(&d->queued, d->len, memory_order_relaxed);
        last_n = n;
        bool stopping = d->stopping;
        pthread_mutex_unlock(&d->mu);
        for (size_t i = 0; i < n; i++) {
            /* after stop was asked, remaining messages are released unseen */
            int rc = 0;
            if (stopping) {
                /* released unseen */
            } else if (batch[i].is_snap && t->cfg.raft.process_snapshot) {
                rc = t->cfg.raft.process_snapshot(t->cfg.raft.ctx, batch[i].m,
                                                  batch[i].u.snap->file, batch[i].u.snap->bytes);
            } else {
                process_logged(t, batch[i].m, batch[i].is_snap ? "snapshot" : batch[i].u.via,
                               batch[i].from);
            }
            item_free_snap(&batch[i]);
            if (rc != 0)
                rh_logp(RH_LOG_WARN, batch[i].from, "process_snapshot of %s from %llx failed",
                        rh_msg_type_name(batch[i].m->type) ? rh_msg_type_name(batch[i].m->type)
                                                           : "message",
                        (unsigned long long)batch[i].from);
            rhi_tmsg_free(batch[i].m);
        }
    }
}

int rhi_delivery_start(rh_transport *t)
{
    delivery *d = &t->dq;
    int rc = pthread_create(&d->thread, NULL, delivery_main, t);
    if (rc == 0)
        d->started = true;
    return -rc;
}

void rhi_delivery_stop(rh_transport *t)
{
    delivery *d = &t->dq;
    pthread_mutex_lock(&d->mu);
    d->stopping = true;
    pthread_cond_signal(&d->cond);
    pthread_mutex_unlock(&d->mu);
    if (d->started)
        pthread_join(d->thread, NULL);
    d->started = false;
    while (d->len) {
        item_free_snap(&d->items[d->head]);
        rhi_tmsg_free(d->items[d->head].m);
        d->head = (d->head + 1) & (d->cap - 1);
        d->len--;
    }
    free(d->items);
    free(d->counts);
    d->items = NULL;
    d->counts = NULL;
}
