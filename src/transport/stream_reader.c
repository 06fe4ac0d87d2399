/* SPDX-License-Identifier: Apache-2.0 */
/*
 * streamReader: the dialing side of a stream.
 *
 * Happy path: connect to the peer's current URL (dial timeout), send
 * `GET /raft/stream/<type>/<our id>` with etcd's headers, read a 200 head,
 * then decode the body (chunked from Go's server, or identity) frame by frame
 * and route each message: link heartbeats dropped, MsgProp to the proposal
 * queue, the rest to the receive queue. A 5 s read timeout catches a silent
 * peer (the writer sends a link heartbeat every 1.67 s).
 *
 * Failure: a failed dial rotates to the next URL and marks the peer inactive;
 * 410 is etcd's "member removed" critical error; 404 and 412 are logged with
 * their reason; a broken body marks the peer inactive. Every way out goes
 * back to R_WAIT, and the next dial starts no sooner than dial_retry after
 * the previous one (etcd's rate limiter), with jitter after repeated
 * failures.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/ioctl.h>
#include <sys/socket.h>

#include <event2/buffer.h>

#include "rafthttp/scatter.h"
#include "transport/peer.h"

#define ERRBODY_MAX 4096 /* bytes of a 412 body we read */

static const char *via_name(int kind)
{
    return kind == RH_STREAM_MSGAPPV2 ? "streamMsgAppV2" : "streamMsg";
}

static const char *path_of(int kind)
{
    return kind == RH_STREAM_MSGAPPV2 ? RH_HTTP_PATH_STREAM_MSGAPP
                                      : RH_HTTP_PATH_STREAM_MESSAGE;
}

static const char *source_of(int kind)
{
    return kind == RH_STREAM_MSGAPPV2 ? "stream MsgApp v2 reader"
                                      : "stream Message reader";
}

static void schedule(stream_reader *r);
static void read_errbody(stream_reader *r, bool eof);

static void drop_conn(stream_reader *r)
{
    if (r->raw) {
        event_free(r->raw);
        r->raw = NULL;
    }
    if (r->bev) {
        bufferevent_free(r->bev);
        r->bev = NULL;
    }
    if (r->dec) {
        rh_stream_decoder_free(r->dec);
        r->dec = NULL;
    }
}

/* Ends this connection attempt; the peer becomes inactive unless quiet. */
static void finish(stream_reader *r, const char *action, const char *why, bool rotate)
{
    peer *p = r->p;
    drop_conn(r);
    if (r->state != R_BODY)
        r->failures++;
    else
        rhi_peer_streams_changed(p);
    if (rotate && p->n_urls > 1 && r->url == p->pick) {
        p->pick = (p->pick + 1) % p->n_urls;
        rh_logp(RH_LOG_INFO, p->id, "peer %llx: switching to URL %s",
                (unsigned long long)p->id, p->urls[p->pick]);
    }
    if (action) {
        /* one line per distinct reason: a dead peer redials ten times a
         * second and must not flood the log */
        if (why && strncmp(r->last_why, why, sizeof(r->last_why) - 1) != 0) {
            rh_logp(RH_LOG_WARN, p->id, "stream %s to peer %llx: %s failed: %s",
                    rh_stream_kind_name(r->kind), (unsigned long long)p->id, action, why);
            snprintf(r->last_why, sizeof(r->last_why), "%s", why);
        }
        rhi_peer_deactivate(p, source_of(r->kind), action, why);
    }
    schedule(r);
}

static void send_request(stream_reader *r)
{
    peer *p = r->p;
    rh_transport *t = p->t;
    char target[64], to[17];
    snprintf(target, sizeof(target), "%s/%s", path_of(r->kind), t->id_str);
    rh_id_str(p->id, to);
    rh_http_header h[] = {rh_http_header_make("X-Raft-To", to)};
    char buf[2048];
    size_t n =
        rhi_client_request_head(t, buf, sizeof(buf), "GET", target, p->urls[r->url], h, 1);
    if (n == 0 || n > sizeof(buf)) {
        finish(r, "dial", "cannot build request (URL too long?)", true);
        return;
    }
    bufferevent_write(r->bev, buf, n);
}

/* Decoded messages reach delivery in batches (one lock per batch, and a
 * wake-up when the delivery thread sleeps), copied into shared blocks
 * (tmsg.h); with RH_DELIVER_ON_LOOP they go to `process` straight from the
 * decoder, uncopied. A read of small messages holds thousands: 256 a batch
 * instead of 64 took a thread-mode heartbeat run from 20.6k to 16.6k futex
 * calls per million messages. A batch's copies are of one read's bytes. */
#define BATCH 256

/* Thread delivery: entries of at least this size that arrived whole in
 * the transport's read buffer stay there, referenced by the copies, and
 * the loop takes a fresh buffer for its next read (tmsg.h, read buffers);
 * smaller ones are copied, as a buffer's worth of small messages would
 * otherwise keep 256 KiB for a few hundred bytes. */
#define READ_REF_MIN (4u * 1024u)

typedef struct rbatch {
    rh_msg *m[BATCH];
    uint64_t size[BATCH]; /* rh_msg_size of each */
    size_t n;
    tmsg_batch tb; /* the block the copies share */
    uint8_t *rbuf;        /* the read buffer this read went into, or NULL */
    size_t rlen;          /* bytes of it read */
    tmsg_owner *rbuf_own; /* its owner once a copy references it (ours) */
} rbatch;

static void rbatch_init(rbatch *b, rh_transport *t, uint8_t *rbuf, size_t rlen)
{
    b->n = 0;
    tmsg_batch_init(&b->tb, &t->msg_cache);
    b->rbuf = t->cfg.delivery == RH_DELIVER_ON_LOOP ? NULL : rbuf;
    b->rlen = rlen;
    b->rbuf_own = NULL;
}

/* Whether m has entries worth referencing in the read buffer, all of them
 * inside it (they are: m was decoded in place; checked all the same). */
static bool refs_read_buf(const rbatch *b, const rh_msg *m)
{
    if (!b->rbuf)
        return false;
    bool any = false;
    for (size_t i = 0; i < m->n_entries; i++) {
        const rh_bytes *d = &m->entries[i].data;
        if (!d->data || d->len < READ_REF_MIN)
            continue;
        if (d->data < b->rbuf || d->len > b->rlen ||
            d->data - b->rbuf > (ptrdiff_t)(b->rlen - d->len))
            return false;
        any = true;
    }
    return any;
}

static void flush_batch(stream_reader *r, rbatch *b)
{
    const char *via[BATCH];
    for (size_t i = 0; i < b->n; i++)
        via[i] = via_name(r->kind);
    rhi_peer_route_received(r->p, b->m, b->size, via, b->n);
    b->n = 0;
}

/* The decoder refused the stream: log, count, end the connection. */
static void bad_frame(stream_reader *r, const rh_err *err, rbatch *b)
{
    char why[256];
    snprintf(why, sizeof(why), "bad %s frame at stream offset %llu: %s",
             rh_stream_kind_name(r->kind), (unsigned long long)err->offset, err->msg);
    rh_logp(RH_LOG_WARN, r->p->id, "peer %llx: %s", (unsigned long long)r->p->id, why);
    r->p->st->recv_failures++;
    flush_batch(r, b);
    finish(r, "read", why, false);
}

/* A decoded message: counted, then to `process` at once (on the loop) or
 * into the batch for the delivery thread. A message gathered across reads
 * keeps its bytes where the decoder put them: the copy references them and
 * frees the buffer with its last message. */
static void got_message(stream_reader *r, const rh_msg *m, rbatch *b)
{
    uint64_t size = rh_stream_decoder_msg_size(r->dec);
    if (!size)
        size = rh_msg_size(m);
    r->p->st->recv_bytes += size; /* etcd counts m.Size() */
    if (rh_msg_is_link_heartbeat(m) || r->p->paused)
        return;
    if (r->p->t->cfg.delivery == RH_DELIVER_ON_LOOP) {
        rhi_delivery_on_loop(r->p->t, r->p->id, m, via_name(r->kind));
        return;
    }
    rh_msg *c = NULL;
    void *gathered = rh_stream_decoder_take_buffer(r->dec);
    if (gathered) {
        tmsg_owner *o = rhi_tmsg_owner_new(&b->tb, free, gathered);
        if (!o) {
            free(gathered);
            return;
        }
        c = rhi_tmsg_copy_ref(&b->tb, m, o, RH_SCATTER_REF_MIN);
        rhi_tmsg_owner_put(o);
    } else if (refs_read_buf(b, m) &&
               (b->rbuf_own ||
                (b->rbuf_own = rhi_tmsg_read_buf_owner(&b->tb, &r->p->t->read_pool, b->rbuf)))) {
        c = rhi_tmsg_copy_ref(&b->tb, m, b->rbuf_own, READ_REF_MIN);
    } else {
        c = rhi_tmsg_copy(&b->tb, m);
    }
    if (!c)
        return;
    b->size[b->n] = size;
    b->m[b->n++] = c;
    if (b->n == BATCH)
        flush_batch(r, b);
}

/* Feeds body payload to the stream decoder. Returns 0, or -1 after finish(). */
static int feed_payload(stream_reader *r, const uint8_t *data, size_t len, rbatch *b)
{
    while (len) {
        size_t used;
        rh_msg m;
        rh_err err;
        int rc = rh_stream_decoder_feed(r->dec, data, len, &used, &m, &err);
        data += used;
        len -= used;
        if (rc < 0) {
            bad_frame(r, &err, b);
            return -1;
        }
        if (rc == 1)
            got_message(r, &m, b);
    }
    return 0;
}

static void read_body_batch(stream_reader *r, rbatch *b);
static int body_bytes(stream_reader *r, const uint8_t *seg, size_t seglen, rbatch *b);

/* A large frame arrives in many small reads (loopback wakes the reader for
 * each few KiB): while one is missing more than LOWAT_MIN bytes, the socket
 * is asked to wake us only once that much (up to RH_IO_MAX) is there
 * (SO_RCVLOWAT). Chunk framing only adds bytes, so we never wait for more
 * than will come. A read timeout with bytes waiting below the mark is not a
 * silent peer: on_event lowers the mark and goes on (etcd's deadline is per
 * read, and a trickle keeps it alive). */
#define LOWAT_MIN (64u * 1024u)

static void set_lowat(stream_reader *r, int lowat)
{
    if (lowat == r->lowat)
        return;
    evutil_socket_t fd = bufferevent_getfd(r->bev);
    if (fd >= 0 && setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &lowat, sizeof(lowat)) == 0)
        r->lowat = lowat;
}

static void update_lowat(stream_reader *r)
{
    if (r->state != R_BODY || !r->bev || !r->dec || rhi_conn_is_tls(r->bev))
        return;
    uint64_t missing = rh_stream_decoder_missing(r->dec);
    set_lowat(r, missing < LOWAT_MIN ? 1 : missing > RH_IO_MAX ? (int)RH_IO_MAX : (int)missing);
}

static void read_body(stream_reader *r)
{
    rbatch b;
    rbatch_init(&b, r->p->t, NULL, 0); /* bytes in the bufferevent's buffer: copied */
    read_body_batch(r, &b);
    rhi_tmsg_batch_end(&b.tb);
    update_lowat(r);
}

/* The body of a large frame is read from the socket straight into the
 * decoder's buffer (rh_stream_decoder_reserve), up to the end of the chunk
 * or body it is in: no copy from the read buffer. Below DIRECT_MIN missing
 * bytes it is not worth the extra read a frame's end then costs. */
#define DIRECT_MIN (64u * 1024u)
#define DIRECT_MAX (4u << 20) /* bytes a direct read asks for, at most */

static size_t direct_room(stream_reader *r, uint8_t **dst)
{
    uint64_t lim = DIRECT_MAX;
    if (r->body.kind == RH_HTTP_BODY_CHUNKED)
        lim = rh_http_chunked_data_left(&r->chunked);
    else if (r->body.kind == RH_HTTP_BODY_LENGTH)
        lim = r->body_left;
    if (lim < DIRECT_MIN || rh_stream_decoder_missing(r->dec) < DIRECT_MIN)
        return 0;
    return rh_stream_decoder_reserve(r->dec, lim < DIRECT_MAX ? (size_t)lim : DIRECT_MAX, dst);
}

/* n bytes a direct read put in the decoder's buffer. Returns as body_bytes. */
static int direct_bytes(stream_reader *r, size_t n, rbatch *b)
{
    if (r->body.kind == RH_HTTP_BODY_CHUNKED)
        rh_http_chunked_skip_data(&r->chunked, n);
    else if (r->body.kind == RH_HTTP_BODY_LENGTH)
        r->body_left -= n;
    rh_msg m;
    rh_err err;
    int rc = rh_stream_decoder_commit(r->dec, n, &m, &err);
    if (rc < 0) {
        bad_frame(r, &err, b);
        return -1;
    }
    if (rc == 1)
        got_message(r, &m, b);
    if (r->body.kind == RH_HTTP_BODY_LENGTH && !r->body_left) {
        flush_batch(r, b);
        finish(r, NULL, NULL, false);
        return -1;
    }
    return 0;
}

/* libevent 2.1 reads at most 4 KiB per callback into a bufferevent, so a
 * stream body read that way costs an epoll round, an ioctl and a readv
 * per 4 KiB. Once the body starts, a plain TCP stream is read here
 * instead: up to RH_IO_MAX bytes a read into the transport's read buffer
 * (the loop thread's, shared by every reader: a callback uses it and is
 * done), decoded in place. The bufferevent keeps the writing side. */
static void on_raw_event(evutil_socket_t fd, short what, void *arg)
{
    stream_reader *r = arg;
    if (what & EV_TIMEOUT) {
        int pending = 0;
        if (r->lowat > 1 && ioctl(fd, FIONREAD, &pending) == 0 && pending > 0) {
            set_lowat(r, 1); /* bytes came, fewer than we waited for */
            return;
        }
        r->p->st->recv_failures++;
        finish(r, "read", "i/o timeout", false);
        return;
    }
    uint8_t *dst;
    size_t room = direct_room(r, &dst);
    rh_transport *t = r->p->t;
    if (!room && !t->read_buf && !(t->read_buf = rhi_tmsg_read_buf_get(&t->read_pool))) {
        r->p->st->recv_failures++;
        finish(r, "read", "out of memory for a read buffer", false);
        return;
    }
    uint8_t *buf = room ? dst : t->read_buf;
    ssize_t n = recv(fd, buf, room ? room : RH_IO_MAX, 0);
    if (n < 0) {
        int e = errno;
        if (e == EAGAIN || e == EWOULDBLOCK || e == EINTR)
            return;
        r->p->st->recv_failures++;
        finish(r, "read", evutil_socket_error_to_string(e), false);
        return;
    }
    if (n == 0) {
        if (r->body.kind == RH_HTTP_BODY_UNTIL_CLOSE && rh_stream_decoder_at_boundary(r->dec)) {
            finish(r, NULL, NULL, false); /* clean EOF: not a failure in etcd */
        } else {
            r->p->st->recv_failures++;
            finish(r, "read", "EOF", false);
        }
        return;
    }
    rbatch b;
    rbatch_init(&b, t, room ? NULL : buf, (size_t)n);
    int rc = room ? direct_bytes(r, (size_t)n, &b) : body_bytes(r, buf, (size_t)n, &b);
    if (rc == 0)
        flush_batch(r, &b);
    if (b.rbuf_own) { /* messages hold the buffer now: the next read takes another */
        rhi_tmsg_owner_put(b.rbuf_own);
        t->read_buf = NULL;
    }
    rhi_tmsg_batch_end(&b.tb);
    if (rc == 0)
        update_lowat(r);
}

/* Moves reading of the body from the bufferevent to on_raw_event (plain
 * TCP). Stays on the bufferevent when no buffer or event can be had. */
static void start_raw_reads(stream_reader *r)
{
    rh_transport *t = r->p->t;
    if (!t->read_buf && !(t->read_buf = rhi_tmsg_read_buf_get(&t->read_pool)))
        return;
    evutil_socket_t fd = bufferevent_getfd(r->bev);
    struct event *ev = event_new(t->base, fd, EV_READ | EV_PERSIST, on_raw_event, r);
    if (!ev)
        return;
    struct timeval rt = {RH_CONN_READ_TIMEOUT_MS / 1000, 0};
    if (event_add(ev, &rt) != 0) {
        event_free(ev);
        return;
    }
    bufferevent_disable(r->bev, EV_READ);
    r->raw = ev;
}

/* Body bytes seg[0..seglen): chunk framing off, payload to the decoder.
 * Returns 0, or -1 once the connection is finished (do not touch it). */
static int body_bytes(stream_reader *r, const uint8_t *seg, size_t seglen, rbatch *b)
{
    size_t off = 0;
    while (off < seglen) {
        if (r->body.kind == RH_HTTP_BODY_CHUNKED) {
            size_t used, dlen = 0;
            const uint8_t *data = NULL;
            rh_err err;
            int rc = rh_http_chunked_feed(&r->chunked, seg + off, seglen - off, &used, &data,
                                          &dlen, &err);
            off += used;
            if (rc < 0) {
                flush_batch(r, b);
                finish(r, "read", err.msg, false);
                return -1;
            }
            if (rc == RH_HTTP_CHUNK_DONE) {
                flush_batch(r, b);
                finish(r, NULL, NULL, false); /* EOF: etcd does not deactivate */
                return -1;
            }
            if (rc == RH_HTTP_CHUNK_DATA && feed_payload(r, data, dlen, b) < 0)
                return -1;
        } else {
            size_t take = seglen - off;
            if (r->body.kind == RH_HTTP_BODY_LENGTH && take > r->body_left)
                take = (size_t)r->body_left;
            if (feed_payload(r, seg + off, take, b) < 0)
                return -1;
            off += take;
            if (r->body.kind == RH_HTTP_BODY_LENGTH) {
                r->body_left -= take;
                if (!r->body_left) {
                    flush_batch(r, b);
                    finish(r, NULL, NULL, false);
                    return -1;
                }
            }
        }
    }
    return 0;
}

/* What the bufferevent holds (the bytes read with the head, or all of the
 * body when reads go through it). */
static void read_body_batch(stream_reader *r, rbatch *b)
{
    struct evbuffer *in = bufferevent_get_input(r->bev);
    while (evbuffer_get_length(in) > 0) {
        struct evbuffer_iovec v;
        if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
            break;
        if (body_bytes(r, v.iov_base, v.iov_len, b) < 0)
            return;
        evbuffer_drain(in, v.iov_len);
    }
    flush_batch(r, b);
}

/* Is the remote's X-Server-Version one that has this stream type? As etcd:
 * missing means 2.0.0, which has no streams; older than us and below 2.1 has
 * none either. */
static bool stream_supported(const rh_http_response *res)
{
    const rh_http_header *h = rh_http_header_find(res->headers, res->num_headers,
                                                  "X-Server-Version");
    int maj = 2, min = 0;
    if (h && !rh_version_parse(h->value.ptr, h->value.len, &maj, &min))
        return true; /* unreadable: let the body tell */
    return maj > 2 || (maj == 2 && min >= 1);
}

static void handle_head(stream_reader *r, size_t head_len)
{
    peer *p = r->p;
    int status = r->resp.status;
    /* the head's fields point into the input buffer: use them, then drain */
    bool supported = stream_supported(&r->resp);
    rh_err err;
    int body_rc = rh_http_response_body(&r->resp, false, &r->body, &err);
    evbuffer_drain(bufferevent_get_input(r->bev), head_len);
    if (!supported) {
        rh_logp(RH_LOG_WARN, p->id, "peer %llx does not support stream %s",
                (unsigned long long)p->id, rh_stream_kind_name(r->kind));
        finish(r, NULL, NULL, true);
        return;
    }
    switch (status) {
    case 200:
        if (body_rc != 0) {
            finish(r, "dial", err.msg, true);
            return;
        }
        r->body_left = r->body.length;
        rh_http_chunked_init(&r->chunked, 0, 0);
        {
            rh_stream_decoder_opts o = {.kind = r->kind, .local = p->t->cfg.id,
                                        .remote = p->id, .max_frame = p->t->cfg.max_frame};
            r->dec = rh_stream_decoder_new(&o);
            r->lowat = 1; /* the kernel's default on a new socket */
        }
        r->state = R_BODY;
        rhi_peer_streams_changed(p);
        r->failures = 0;
        r->last_why[0] = 0;
        rh_logp(RH_LOG_INFO, p->id, "established stream %s reader from peer %llx",
                rh_stream_kind_name(r->kind), (unsigned long long)p->id);
        rhi_peer_activate(p);
        read_body(r);
        if (r->state == R_BODY && r->bev && !rhi_conn_is_tls(r->bev))
            start_raw_reads(r); /* TLS stays on the bufferevent, which decrypts */
        return;
    case 410:
        rh_logp(RH_LOG_ERROR, p->id, "peer %llx says this member was removed from the cluster",
                (unsigned long long)p->id);
        rhi_peer_emit(p, RH_EV_CRITICAL, 0, NULL, "member removed");
        finish(r, "dial", "member removed", true);
        return;
    case 404: {
        char why[128];
        snprintf(why, sizeof(why), "peer %llx failed to find local node %s",
                 (unsigned long long)p->id, p->t->id_str);
        finish(r, "dial", why, true);
        return;
    }
    case 412:
        if (body_rc != 0 || r->body.kind == RH_HTTP_BODY_CHUNKED) {
            /* a chunked 412 body is legal but etcd never sends one */
            finish(r, "dial", "412 Precondition Failed", true);
            return;
        }
        r->state = R_ERRBODY;
        read_errbody(r, false); /* the body may have come with the head */
        return;
    default: {
        char why[64];
        snprintf(why, sizeof(why), "unhandled http status %d", status);
        finish(r, "dial", why, true);
        return;
    }
    }
}

static void read_errbody(stream_reader *r, bool eof)
{
    struct evbuffer *in = bufferevent_get_input(r->bev);
    size_t have = evbuffer_get_length(in);
    size_t want = r->body.kind == RH_HTTP_BODY_LENGTH && r->body.length < ERRBODY_MAX
                      ? (size_t)r->body.length
                      : ERRBODY_MAX;
    if (have < want && !eof)
        return;
    if (have > want)
        have = want;
    char body[ERRBODY_MAX + 1];
    evbuffer_remove(in, body, have);
    body[have] = 0;
    if (have && body[have - 1] == '\n')
        body[--have] = 0;
    char why[ERRBODY_MAX + 64];
    if (!strcmp(body, "incompatible version") || !strcmp(body, "cluster ID mismatch"))
        snprintf(why, sizeof(why), "%s", body);
    else
        snprintf(why, sizeof(why), "unhandled error \"%s\" when precondition failed", body);
    rh_logp(RH_LOG_WARN, r->p->id, "peer %llx refused stream %s: %s", (unsigned long long)r->p->id,
            rh_stream_kind_name(r->kind), why);
    finish(r, "dial", why, true);
}

static void on_read(struct bufferevent *bev, void *arg)
{
    stream_reader *r = arg;
    if (r->state == R_HEAD) {
        rh_err err;
        int rc = rhi_client_response_head(bev, &r->hp, &r->resp, &err);
        if (rc < 0) {
            finish(r, "dial", err.msg, true);
            return;
        }
        if (rc == 0)
            return;
        handle_head(r, (size_t)rc);
        return;
    }
    if (r->state == R_ERRBODY) {
        read_errbody(r, false);
        return;
    }
    if (r->state == R_BODY)
        read_body(r);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
    stream_reader *r = arg;
    if (what & BEV_EVENT_CONNECTED) {
        rh_socket_tune(bufferevent_getfd(bev));
        struct timeval rt = {RH_CONN_READ_TIMEOUT_MS / 1000, 0};
        bufferevent_set_timeouts(bev, &rt, NULL);
        r->state = R_HEAD;
        send_request(r);
        return;
    }
    if (r->state == R_ERRBODY && (what & BEV_EVENT_EOF)) {
        read_errbody(r, true);
        return;
    }
    if ((what & BEV_EVENT_TIMEOUT) && r->state == R_BODY && r->lowat > 1) {
        int pending = 0;
        if (ioctl(bufferevent_getfd(bev), FIONREAD, &pending) == 0 && pending > 0) {
            set_lowat(r, 1); /* bytes came, fewer than we waited for */
            rhi_conn_enable(bev, EV_READ);
            return;
        }
    }
    char text[600];
    const char *why = rhi_conn_event_text(r->p->t, bev, what, r->p->id, text, sizeof(text));
    if (r->state == R_CONNECTING || r->state == R_HEAD) {
        char msg[700];
        snprintf(msg, sizeof(msg), "dial %s: %s", r->p->urls[r->url], why);
        finish(r, "dial", msg, true);
    } else if (r->state == R_BODY && (what & BEV_EVENT_EOF) &&
               r->body.kind == RH_HTTP_BODY_UNTIL_CLOSE &&
               rh_stream_decoder_at_boundary(r->dec)) {
        finish(r, NULL, NULL, false); /* clean EOF: not a failure in etcd */
    } else {
        r->p->st->recv_failures++;
        finish(r, "read", why, false);
    }
}

static void dial(stream_reader *r)
{
    peer *p = r->p;
    if (p->n_urls == 0) {
        schedule(r);
        return;
    }
    r->url = p->pick % p->n_urls;
    r->last_dial_ms = rh_now_ms();
    rh_http_parser_init(&r->hp, r->hdrs, sizeof(r->hdrs) / sizeof(r->hdrs[0]), 0);
    r->state = R_CONNECTING;
    char err[300];
    r->bev = rhi_conn_dial(p->t, p->urls[r->url], on_read, NULL, on_event, r, err, sizeof(err));
    if (!r->bev)
        finish(r, "dial", err, true);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    stream_reader *r = arg;
    if (r->state == R_WAIT)
        dial(r);
}

/* Most a redial waits after repeated failures: a restarted peer is found
 * within a second, while a dead one costs a few dials a second, not ten. */
#define REDIAL_MAX_MS 500

/* Next dial no sooner than dial_retry after the last one started (etcd's
 * rate limiter); after three failures in a row the gap doubles per failure
 * up to REDIAL_MAX_MS, with jitter so peers do not redial in step. */
static void schedule(stream_reader *r)
{
    if (r->state == R_STOPPED)
        return;
    r->state = R_WAIT;
    int64_t gap = r->p->t->cfg.dial_retry_ms;
    if (r->failures > 3) {
        unsigned shift = r->failures - 3 < 8 ? r->failures - 3 : 8;
        int64_t backoff = gap << shift;
        if (backoff > REDIAL_MAX_MS)
            backoff = gap > REDIAL_MAX_MS ? gap : REDIAL_MAX_MS;
        gap = backoff - rand() % (backoff / 5 + 1);
        if (gap < r->p->t->cfg.dial_retry_ms)
            gap = r->p->t->cfg.dial_retry_ms;
    }
    int64_t wait = r->last_dial_ms + gap - rh_now_ms();
    if (wait < 0)
        wait = 0;
    struct timeval tv = {wait / 1000, (wait % 1000) * 1000};
    evtimer_add(r->timer, &tv);
}

void rhi_reader_init(stream_reader *r, peer *p, int kind)
{
    memset(r, 0, sizeof(*r));
    r->p = p;
    r->kind = kind;
    r->state = R_STOPPED;
    r->timer = evtimer_new(p->t->base, on_timer, r);
}

void rhi_reader_start(stream_reader *r)
{
    r->state = R_WAIT;
    r->last_dial_ms = rh_now_ms() - r->p->t->cfg.dial_retry_ms;
    schedule(r);
}

void rhi_reader_stop(stream_reader *r)
{
    r->state = R_STOPPED;
    drop_conn(r);
    if (r->timer) {
        event_free(r->timer);
        r->timer = NULL;
    }
}
