/* SPDX-License-Identifier: Apache-2.0 */
/*
 * streamWriter: the answering side of a stream. The server hands it a
 * connection whose 200 head went out; from then on it writes frames of its
 * kind as chunks of a never-ending chunked body.
 *
 * Happy path: rhi_writer_send queues an owned message (bounded by count and
 * bytes); the pump encodes queued messages into the connection's output
 * buffer while it holds less than WRITER_HIGH bytes, and libevent writes as
 * the socket allows. Backpressure is the output buffer: when the peer reads
 * slowly the pump stops and the queue fills, and a full queue drops.
 *
 * Failure: an error, EOF or the 5 s write timeout closes the connection,
 * marks the peer inactive, reports it unreachable if messages were queued
 * and drops the queue, as etcd does.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/buffer.h>

#include "codec/stream_internal.h"
#include "rafthttp/scatter.h"

#include "transport/peer.h"

/* Keep at most this much encoded in the output buffer; refill below LOW.
 * Large enough for a socket's worth of batching, small enough that the
 * queue (not the buffer) holds the backlog and its bounds apply. */
#define WRITER_HIGH (256u * 1024u)
#define WRITER_LOW (64u * 1024u)

static const char *via_name(int kind)
{
    return kind == RH_STREAM_MSGAPPV2 ? "streamMsgAppV2" : "streamMsg";
}

/* A message whose large bytes fields the output buffer references: freed
 * when libevent has written the last of them. */
typedef struct msg_ref {
    rh_msg *m;
    size_t refs;
} msg_ref;

static void msg_unref(const void *data, size_t len, void *arg)
{
    (void)data;
    (void)len;
    msg_ref *r = arg;
    if (--r->refs == 0) {
        rhi_tmsg_free(r->m);
        free(r);
    }
}

/* The same for a message referenced once (most: one large entry): no
 * msg_ref, the message itself is the cleanup's argument. */
static void msg_unref_once(const void *data, size_t len, void *arg)
{
    (void)data;
    (void)len;
    rhi_tmsg_free(arg);
}

/* Appends copied bytes that follow a reference. libevent sizes a chain it
 * adds after a full one from that chain's length, and a reference chain is
 * full: "\r\n" after a 1 MiB entry took a new 2 MiB chain (alloc_count:
 * 2 MB allocated per 1 MiB message). Added to an empty buffer they get a
 * small chain, which moves over whole (and the next frame's head fits in
 * it). `tail` is the loop's, empty between calls. */
static int add_after_ref(struct evbuffer *out, struct evbuffer *tail, const void *p, size_t n)
{
    if (evbuffer_add(tail, p, n) != 0)
        return -1;
    return evbuffer_add_buffer(out, tail);
}

/* Whether an iov piece of rh_stream_scatter is in its scratch (copied), not
 * in the message (referenced). */
static inline bool in_scratch(const rh_iov *v, const uint8_t *scratch, size_t scratch_size)
{
    return v->base >= scratch && v->base < scratch + scratch_size;
}

/* Encodes m as one chunk into the output buffer. Small frames are encoded
 * in place into reserved buffer space; frames with bytes fields of at least
 * RH_SCATTER_REF_MIN reference those fields instead of copying them, and
 * then own m (*taken = true) until the buffer lets go of it. */
static int encode_chunk(stream_writer *w, rh_msg *m, bool *taken)
{
    struct evbuffer *out = bufferevent_get_output(w->bev);
    size_t scratch_size, max_iov;
    size_t fs = rh_stream_scatter_size(&w->enc, m, &scratch_size, &max_iov);
    char hdr[RH_HTTP_CHUNK_HEADER_MAX];
    size_t hl = rh_http_write_chunk_header(hdr, fs);
    *taken = false;
    if (max_iov <= 1) {
        struct evbuffer_iovec v;
        if (evbuffer_reserve_space(out, (ev_ssize_t)(hl + fs + 2), &v, 1) < 1)
            return -1;
        uint8_t *p = v.iov_base;
        memcpy(p, hdr, hl);
        rh_stream_encode(&w->enc, m, p + hl);
        memcpy(p + hl + fs, RH_HTTP_CHUNK_END, RH_HTTP_CHUNK_END_LEN);
        v.iov_len = hl + fs + 2;
        if (evbuffer_commit_space(out, &v, 1) != 0)
            return -1;
    } else {
        rh_transport *t = w->p->t;
        rh_iov stack_iov[32];
        uint8_t stack_scratch[1024]; /* a MsgApp's fields and entry heads */
        rh_iov *iov = max_iov <= 32 ? stack_iov : malloc(max_iov * sizeof(*iov));
        uint8_t *scratch = scratch_size <= sizeof(stack_scratch) ? stack_scratch
                                                                 : malloc(scratch_size);
        if (!t->tail_buf)
            t->tail_buf = evbuffer_new();
        if (!iov || !scratch || !t->tail_buf) {
            if (iov != stack_iov)
                free(iov);
            if (scratch != stack_scratch)
                free(scratch);
            return -1;
        }
        size_t n = 0, n_refs = 0;
        rh_stream_scatter(&w->enc, m, scratch, iov, &n);
        for (size_t i = 0; i < n; i++)
            n_refs += !in_scratch(&iov[i], scratch, scratch_size);
        msg_ref *ref = NULL;
        if (n_refs > 1 && (ref = malloc(sizeof(*ref))) != NULL)
            *ref = (msg_ref){.m = m, .refs = 1}; /* ours, dropped below */
        int rc = n_refs > 1 && !ref ? -1 : evbuffer_add(out, hdr, hl);
        bool after_ref = false;
        for (size_t i = 0; i < n && rc == 0; i++) {
            if (in_scratch(&iov[i], scratch, scratch_size)) {
                rc = after_ref ? add_after_ref(out, t->tail_buf, iov[i].base, iov[i].len)
                               : evbuffer_add(out, iov[i].base, iov[i].len);
            } else if (ref) {
                ref->refs++;
                rc = evbuffer_add_reference(out, iov[i].base, iov[i].len, msg_unref, ref);
                if (rc != 0)
                    ref->refs--;
                after_ref = true;
            } else {
                rc = evbuffer_add_reference(out, iov[i].base, iov[i].len, msg_unref_once, m);
                after_ref = true;
                *taken = rc == 0;
            }
        }
        if (rc == 0)
            rc = after_ref ? add_after_ref(out, t->tail_buf, RH_HTTP_CHUNK_END,
                                           RH_HTTP_CHUNK_END_LEN)
                           : evbuffer_add(out, RH_HTTP_CHUNK_END, RH_HTTP_CHUNK_END_LEN);
        if (ref) {
            *taken = true;
            msg_unref(NULL, 0, ref);
        }
        if (scratch != stack_scratch)
            free(scratch);
        if (iov != stack_iov)
            free(iov);
        if (rc != 0)
            return -1;
    }
    w->p->st->sent_bytes += fs;
    w->wrote_since_tick = true;
    return 0;
}

/* Remembers a frame ending at stream byte `end` for its `sent` event. */
static void sent_track(stream_writer *w, int32_t type, uint64_t end)
{
    w->appended = end;
    if (!w->p->t->cfg.trace_sent)
        return;
    if (w->sent_len == w->sent_cap) {
        size_t cap = w->sent_cap ? w->sent_cap * 2 : 64;
        sent_rec *n = malloc(cap * sizeof(*n));
        if (!n)
            return;
        for (size_t i = 0; i < w->sent_len; i++)
            n[i] = w->sent[(w->sent_head + i) % w->sent_cap];
        free(w->sent);
        w->sent = n;
        w->sent_cap = cap;
        w->sent_head = 0;
    }
    w->sent[(w->sent_head + w->sent_len++) % w->sent_cap] =
        (sent_rec){.end = end, .type = type};
}

/* `sent` for the frames now wholly written. */
static void sent_report(stream_writer *w)
{
    while (w->sent_len && w->sent[w->sent_head].end <= w->written) {
        sent_rec r = w->sent[w->sent_head];
        w->sent_head = (w->sent_head + 1) % w->sent_cap;
        w->sent_len--;
        rhi_peer_emit(w->p, RH_EV_SENT, r.type, via_name(w->kind), NULL);
    }
}

/* The output buffer lost bytes to the socket. */
static void on_drained(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
    (void)buf;
    stream_writer *w = arg;
    w->written += info->n_deleted;
    sent_report(w);
}

/* Small frames queued together share one chunk of at most BATCH_CHUNK
 * bytes, as Go's server writes one chunk per flush: one chunk header to
 * write and parse per batch, not per message. Its size is written with a
 * fixed width of 8 hex digits (leading zeros are valid chunk-size syntax,
 * and Go's and our readers take them), so the frames can be encoded in
 * place before their total is known. */
#define BATCH_CHUNK (64u * 1024u)
/* Frames up to this size are copied into the batch even when their data
 * could be referenced: a copy of a few KiB costs less than the reference's
 * bookkeeping (three allocations and a callback). Larger ones are sent by
 * reference, each as its own chunk. */
#define BATCH_COPY_MAX (16u * 1024u)
#define BATCH_HDR 10u /* "%08x\r\n" */
#define FRAME_OVERHEAD 32u /* framing bytes beyond the protobuf message, at most 25 */

/* The frame size of the next queued message, from the size it was queued
 * with (not worked out again). */
static size_t next_frame_size(const stream_writer *w)
{
    return rhi_stream_frame_size_known(&w->enc, msgq_peek(&w->q), msgq_peek_size(&w->q));
}

/* Sends p[0..n) at once when nothing is buffered before it (no buffer
 * chain, no write event to arm and disarm); what the socket does not take,
 * or all of it behind buffered bytes, goes into the output buffer. */
static int send_now(stream_writer *w, const void *p, size_t n)
{
    size_t k = 0;
    int rc = rh_bev_send(w->bev, p, n, &k);
    w->written += k;
    if (rc != 0)
        return -1;
    sent_report(w);
    return 0;
}

/* Encodes queued small frames into one chunk; stops at a frame that
 * references its data (sent by encode_chunk) or when the chunk is full.
 * Returns -1 when out of memory. */
static int encode_batch(stream_writer *w, size_t first_size)
{
    struct evbuffer *out = bufferevent_get_output(w->bev);
    /* room for what is queued (a frame is at most its message's size plus
     * FRAME_OVERHEAD), up to BATCH_CHUNK: reserving a whole batch for one
     * heartbeat made libevent allocate (and free) a 128 KiB chain for it */
    size_t cap = BATCH_HDR + w->q.bytes + w->q.len * FRAME_OVERHEAD + RH_HTTP_CHUNK_END_LEN;
    if (cap > BATCH_CHUNK)
        cap = BATCH_CHUNK;
    if (cap < BATCH_HDR + first_size + RH_HTTP_CHUNK_END_LEN)
        cap = BATCH_HDR + first_size + RH_HTTP_CHUNK_END_LEN;
    /* Nothing buffered: encode into the loop's scratch and send at once;
     * only what the socket does not take is copied into the buffer. A
     * quiet link's message then costs no buffer chain (an allocation). */
    bool direct = evbuffer_get_length(out) == 0 && bufferevent_getfd(w->bev) >= 0 &&
                  !rhi_conn_is_tls(w->bev); /* TLS: the bufferevent encrypts from its buffer */
    rh_transport *t = w->p->t;
    if (direct && !t->write_buf && !(t->write_buf = malloc(BATCH_CHUNK)))
        direct = false;
    struct evbuffer_iovec v;
    if (direct) {
        v.iov_base = t->write_buf;
        v.iov_len = BATCH_CHUNK;
        if (cap > BATCH_CHUNK)
            direct = false;
    }
    if (!direct && evbuffer_reserve_space(out, (ev_ssize_t)cap, &v, 1) < 1)
        return -1;
    uint64_t base = w->written + evbuffer_get_length(out) + BATCH_HDR;
    uint8_t *p = (uint8_t *)v.iov_base + BATCH_HDR;
    size_t used = 0, fs = first_size;
    for (;;) {
        size_t msg_size = msgq_peek_size(&w->q);
        rh_msg *m = rhi_msgq_pop(&w->q);
        rhi_stream_encode_known(&w->enc, m, msg_size, p + used);
        used += fs;
        sent_track(w, m->type, base + used);
        rhi_tmsg_free(m);
        if (!w->q.len)
            break;
        fs = next_frame_size(w);
        if (fs > BATCH_COPY_MAX || BATCH_HDR + used + fs + RH_HTTP_CHUNK_END_LEN > cap)
            break;
    }
    static const char hex[] = "0123456789abcdef";
    uint8_t *h = v.iov_base;
    for (int i = 0; i < 8; i++)
        h[i] = (uint8_t)hex[(used >> (28 - 4 * i)) & 0xf];
    h[8] = '\r';
    h[9] = '\n';
    memcpy(p + used, RH_HTTP_CHUNK_END, RH_HTTP_CHUNK_END_LEN);
    v.iov_len = BATCH_HDR + used + RH_HTTP_CHUNK_END_LEN;
    w->p->st->sent_bytes += used;
    w->wrote_since_tick = true;
    if (!direct)
        return evbuffer_commit_space(out, &v, 1) != 0 ? -1 : 0;
    return send_now(w, v.iov_base, v.iov_len);
}

static void pump(stream_writer *w)
{
    if (!w->bev)
        return;
    struct evbuffer *out = bufferevent_get_output(w->bev);
    while (w->q.len && evbuffer_get_length(out) < WRITER_HIGH) {
        size_t fs = next_frame_size(w);
        if (fs <= BATCH_COPY_MAX) {
            if (encode_batch(w, fs) != 0) {
                rhi_writer_close(w, "out of memory encoding a frame");
                return;
            }
            continue;
        }
        rh_msg *m = rhi_msgq_pop(&w->q);
        int32_t type = m->type;
        bool taken;
        int rc = encode_chunk(w, m, &taken);
        if (!taken)
            rhi_tmsg_free(m);
        if (rc) {
            rhi_writer_close(w, "out of memory encoding a frame");
            return;
        }
        sent_track(w, type, w->written + evbuffer_get_length(out));
    }
}

static void fail(stream_writer *w, const char *action, const char *why)
{
    peer *p = w->p;
    bool had_queue = w->q.len > 0;
    rh_logp(RH_LOG_WARN, p->id, "lost stream %s to peer %llx: %s failed: %s",
            rh_stream_kind_name(w->kind), (unsigned long long)p->id, action, why);
    rhi_peer_deactivate(p, w->kind == RH_STREAM_MSGAPPV2 ? "stream MsgApp v2 writer"
                                                     : "stream Message writer",
                    action, why);
    p->st->sent_failures++;
    rhi_writer_close(w, NULL);
    if (had_queue)
        rhi_report_unreachable(p->t, p->id);
    rhi_msgq_clear(&w->q);
}

/* Sends queued by one wakeup are encoded together, after it. */
static void on_kick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    pump(arg);
}

static void on_write(struct bufferevent *bev, void *arg)
{
    (void)bev;
    pump(arg);
}

static void on_read(struct bufferevent *bev, void *arg)
{
    (void)arg;
    /* the dialer sends nothing after its request: discard */
    evbuffer_drain(bufferevent_get_input(bev), evbuffer_get_length(bufferevent_get_input(bev)));
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
    (void)bev;
    stream_writer *w = arg;
    if (what & BEV_EVENT_TIMEOUT)
        fail(w, "write", "write timeout (5s)");
    else if (what & BEV_EVENT_EOF)
        fail(w, "write", "connection closed by peer");
    else if (what & BEV_EVENT_ERROR) {
        char text[600];
        fail(w, "write", rhi_conn_event_text(w->p->t, bev, what, w->p->id, text, sizeof(text)));
    }
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    stream_writer *w = arg;
    rhi_msgq_trim(&w->q); /* an empty queue holds no memory between bursts */
    if (!w->bev)
        return;
    if (!w->wrote_since_tick) {
        /* a link heartbeat: a few bytes, sent at once on an idle link */
        rh_msg hb = {.type = RH_MSG_HEARTBEAT};
        uint8_t buf[RH_HTTP_CHUNK_HEADER_MAX + 64];
        size_t fs = rh_stream_frame_size(&w->enc, &hb);
        size_t hl = rh_http_write_chunk_header((char *)buf, fs);
        if (fs > 64 - RH_HTTP_CHUNK_END_LEN) { /* cannot happen: 8 + a few bytes */
            rhi_writer_close(w, "link heartbeat frame too large");
            return;
        }
        rh_stream_encode(&w->enc, &hb, buf + hl);
        memcpy(buf + hl + fs, RH_HTTP_CHUNK_END, RH_HTTP_CHUNK_END_LEN);
        w->p->st->sent_bytes += fs;
        if (send_now(w, buf, hl + fs + RH_HTTP_CHUNK_END_LEN) != 0)
            rhi_writer_close(w, "out of memory");
    }
    w->wrote_since_tick = false;
}

void rhi_writer_init(stream_writer *w, peer *p, int kind)
{
    memset(w, 0, sizeof(*w));
    w->p = p;
    w->kind = kind;
    rhi_msgq_init(&w->q, RH_STREAM_BUF_SIZE, p->t->cfg.queue_bytes);
    w->kick = event_new(p->t->base, -1, 0, on_kick, w);
    w->tick = event_new(p->t->base, -1, EV_PERSIST, on_tick, w);
    struct timeval tv = {RH_CONN_READ_TIMEOUT_MS / 3 / 1000,
                         (RH_CONN_READ_TIMEOUT_MS / 3 % 1000) * 1000};
    event_add(w->tick, &tv);
}

void rhi_writer_attach(stream_writer *w, struct bufferevent *bev)
{
    bool replaced = w->bev != NULL;
    if (replaced)
        rhi_writer_close(w, "replaced by a new connection");
    w->bev = bev;
    rh_stream_encoder_init(&w->enc, w->kind);
    w->wrote_since_tick = false;
    bufferevent_setcb(bev, on_read, on_write, on_event, w);
    w->sent_len = 0;
    w->written = w->appended = 0;
    evbuffer_add_cb(bufferevent_get_output(bev), on_drained, w);
    bufferevent_setwatermark(bev, EV_WRITE, WRITER_LOW, 0);
    struct timeval wt = {RH_CONN_WRITE_TIMEOUT_MS / 1000, 0};
    bufferevent_set_timeouts(bev, NULL, &wt);
    rhi_conn_enable(bev, EV_READ | EV_WRITE);
    rh_logp(RH_LOG_INFO, w->p->id, "established stream %s writer to peer %llx",
            rh_stream_kind_name(w->kind), (unsigned long long)w->p->id);
    rhi_peer_activate(w->p);
    rhi_peer_streams_changed(w->p);
    pump(w);
}

void rhi_writer_send(stream_writer *w, rh_msg *m, size_t size)
{
    if (!rhi_msgq_push(&w->q, m, size)) {
        peer *p = w->p;
        char why[128];
        snprintf(why, sizeof(why),
                 "send queue full (%zu messages, %.1f MiB; limits %zu messages, %.1f MiB)",
                 w->q.len, (double)w->q.bytes / (1 << 20), w->q.cap,
                 (double)w->q.max_bytes / (1 << 20));
        rhi_peer_msg_failed(p, m, via_name(w->kind), why);
        rhi_tmsg_free(m);
        return;
    }
    /* encoded once the caller's whole batch is queued (one chunk, one write) */
    if (w->bev && w->q.len == 1)
        event_active(w->kick, 0, 0);
}

void rhi_writer_close(stream_writer *w, const char *why)
{
    if (!w->bev)
        return;
    if (why)
        rh_logp(RH_LOG_INFO, w->p->id, "closed stream %s writer to peer %llx: %s",
                rh_stream_kind_name(w->kind), (unsigned long long)w->p->id, why);
    /* frames still buffered were never written: no `sent` for them */
    evbuffer_remove_cb(bufferevent_get_output(w->bev), on_drained, w);
    w->sent_len = 0;
    bufferevent_free(w->bev);
    w->bev = NULL;
    rhi_peer_streams_changed(w->p);
}

void rhi_writer_free(stream_writer *w)
{
    rhi_writer_close(w, NULL);
    free(w->sent);
    w->sent = NULL;
    if (w->tick)
        event_free(w->tick);
    w->tick = NULL;
    if (w->kick)
        event_free(w->kick);
    w->kick = NULL;
    rhi_msgq_free(&w->q);
}
