/* SPDX-License-Identifier: Apache-2.0 */
/*
 * msgq, the bounded per-peer queue of writers and the pipeline: no memory
 * until a message comes, the ring grows as messages come and never past the
 * count bound, the count and byte bounds hold as before (one message always
 * fits an empty queue), order survives growth with the ring wrapped, and an
 * empty queue gives its ring back on rhi_msgq_trim (a queue holding messages
 * keeps it).
 */
#include <stdint.h>
#include <stdlib.h>

#include "check.h"
#include "transport/internal.h"

static rh_msg *msg(uint64_t index)
{
    rh_msg m = {.type = RH_MSG_APP, .index = index};
    return rhi_tmsg_clone(&m);
}

static void no_memory_until_used(void)
{
    msgq q;
    CHECK(rhi_msgq_init(&q, RH_STREAM_BUF_SIZE, RH_DEFAULT_QUEUE_BYTES) == 0);
    CHECK(q.items == NULL);
    CHECK_EQ_U64(q.alloc, 0);
    CHECK(rhi_msgq_pop(&q) == NULL);
    rhi_msgq_trim(&q); /* empty and never used: nothing to give back, no crash */
    CHECK(q.items == NULL);
    rhi_msgq_free(&q);
}

static void count_bound_holds(void)
{
    msgq q;
    rhi_msgq_init(&q, RH_STREAM_BUF_SIZE, RH_DEFAULT_QUEUE_BYTES);
    for (uint64_t i = 0; i < RH_STREAM_BUF_SIZE; i++) {
        rh_msg *m = msg(i);
        bool ok = rhi_msgq_push(&q, m, 10);
        CHECK(ok);
        if (!ok)
            rhi_tmsg_free(m);
        CHECK(q.alloc <= q.cap);
    }
    CHECK_EQ_U64(q.len, RH_STREAM_BUF_SIZE);
    CHECK_EQ_U64(q.alloc, RH_STREAM_BUF_SIZE);
    rh_msg *extra = msg(99999);
    CHECK(!rhi_msgq_push(&q, extra, 10)); /* full by count */
    rhi_tmsg_free(extra);
    CHECK_EQ_U64(q.bytes, 10u * RH_STREAM_BUF_SIZE);
    for (uint64_t i = 0; i < RH_STREAM_BUF_SIZE; i++) {
        rh_msg *m = rhi_msgq_pop(&q);
        CHECK(m && m->index == i);
        rhi_tmsg_free(m);
    }
    CHECK_EQ_U64(q.bytes, 0);
    rhi_msgq_free(&q);
}

static void byte_bound_holds(void)
{
    msgq q;
    rhi_msgq_init(&q, RH_STREAM_BUF_SIZE, 1000);
    rh_msg *a = msg(1), *b = msg(2), *c = msg(3);
    CHECK(rhi_msgq_push(&q, a, 400));
    CHECK(rhi_msgq_push(&q, b, 600)); /* exactly at the bound */
    CHECK(!rhi_msgq_push(&q, c, 1));  /* one byte over */
    CHECK_EQ_U64(q.bytes, 1000);
    rhi_tmsg_free(rhi_msgq_pop(&q));
    rhi_tmsg_free(rhi_msgq_pop(&q));
    /* one message always fits an empty queue, however large */
    CHECK(rhi_msgq_push(&q, c, 5000));
    rh_msg *d = msg(4);
    CHECK(!rhi_msgq_push(&q, d, 1));
    rhi_tmsg_free(d);
    rhi_msgq_free(&q); /* frees the queued c too (ASan: no leak) */
}

/* Growth while the ring is wrapped (head in the middle) keeps FIFO order. */
static void order_survives_growth(void)
{
    msgq q;
    rhi_msgq_init(&q, 256, RH_DEFAULT_QUEUE_BYTES);
    uint64_t in = 0, out = 0;
    for (int round = 0; round < 200; round++) {
        for (int k = 0; k < 3; k++) {
            rh_msg *m = msg(in);
            if (rhi_msgq_push(&q, m, 1))
                in++;
            else
                rhi_tmsg_free(m);
        }
        rh_msg *m = rhi_msgq_pop(&q);
        CHECK(m && m->index == out);
        if (m)
            out++;
        rhi_tmsg_free(m);
        CHECK(q.len <= q.cap && q.alloc <= q.cap);
    }
    CHECK_EQ_U64(q.alloc, 256);
    while (q.len) {
        rh_msg *m = rhi_msgq_pop(&q);
        CHECK(m && m->index == out);
        out++;
        rhi_tmsg_free(m);
    }
    CHECK_EQ_U64(out, in);
    rhi_msgq_free(&q);
}

static void memory_returned_when_empty(void)
{
    msgq q;
    rhi_msgq_init(&q, RH_STREAM_BUF_SIZE, RH_DEFAULT_QUEUE_BYTES);
    for (uint64_t i = 0; i < 1000; i++)
        CHECK(rhi_msgq_push(&q, msg(i), 1));
    CHECK(q.items != NULL);
    CHECK(q.alloc >= 1000 && q.alloc <= q.cap);
    rhi_msgq_trim(&q); /* not empty: the ring stays, messages intact */
    CHECK(q.items != NULL);
    CHECK_EQ_U64(q.len, 1000);
    for (uint64_t i = 0; i < 1000; i++) {
        rh_msg *m = rhi_msgq_pop(&q);
        CHECK(m && m->index == i);
        rhi_tmsg_free(m);
    }
    CHECK(q.items != NULL); /* popping alone keeps it (reused by the next burst) */
    rhi_msgq_trim(&q);
    CHECK(q.items == NULL);
    CHECK_EQ_U64(q.alloc, 0);
    CHECK_EQ_U64(q.len, 0);
    CHECK_EQ_U64(q.bytes, 0);
    /* and the queue works again after giving its ring back */
    CHECK(rhi_msgq_push(&q, msg(7), 1));
    rh_msg *m = rhi_msgq_pop(&q);
    CHECK(m && m->index == 7);
    rhi_tmsg_free(m);
    rhi_msgq_free(&q);
    CHECK(q.items == NULL);
}

int main(void)
{
    TEST(no_memory_until_used);
    TEST(count_bound_holds);
    TEST(byte_bound_holds);
    TEST(order_survives_growth);
    TEST(memory_returned_when_empty);
    return CHECK_DONE();
}
