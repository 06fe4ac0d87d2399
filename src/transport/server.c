/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The peer-facing HTTP server: accepts connections, reads one request head
 * (bounded in size and in time), and routes it.
 *
 * Stream requests are checked exactly in etcd's order (method, version,
 * cluster ID, path, sender ID, removed, known peer, X-Raft-To); on success
 * the 200 head goes out at once and the connection is handed to the peer's
 * writer of that type, which owns it from then on. Everything else gets a
 * small response and the connection is closed (etcd's peers open a new
 * connection per stream; keep-alive for the pipeline comes with it).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "transport/peer.h"

#define RH_SERVER_OUT_HIGH (64u * 1024u) /* unread answers before we stop reading */

/* Limits (config, defaults from our spec): the request head must be
 * complete within head_timeout_ms (a deadline, not an idle timeout: a head
 * trickled a byte at a time is cut too), at most max_head bytes (431); a
 * POST /raft body at most max_body bytes (413; etcd reads without a total
 * bound, in 64 KiB reads). */
/* the MsgSnap message before a snapshot body (metadata only; the data
 * is the body): anything larger is not a snapshot message */
#define RH_SNAPSHOT_MAX_MSG ((uint64_t)64 * 1024 * 1024)

struct server_conn {
    rh_transport *t;
    struct bufferevent *bev;
    rh_http_parser hp;
    rh_http_header hdrs[RH_HTTP_DEFAULT_MAX_HEADERS];
    server_conn *next, *prev;
    bool closing;            /* response queued; free once written */
    bool in_body;            /* reading a POST /raft body */
    rh_http_body body;       /* its framing */
    rh_http_chunked chunked; /* when chunked */
    uint64_t left;           /* Content-Length bytes still expected */
    uint8_t *buf;            /* the body so far, owned */
    size_t len, cap;
    bool snapshot;           /* POST /raft/snapshot: body goes to a file */
    bool snap_done;          /* its message was decoded (failures are counted) */
    rh_msg *snap_msg;        /* its message, once read; owned */
    snap_store *store;       /* writes the body to disk off the loop; owned */
    struct event *store_ev;  /* the store's notifications */
    bool store_paused;       /* reading stopped until the store has room */
    bool finishing;          /* body complete: the store fsyncs and renames */
    uint64_t snap_bytes;     /* body bytes handed to the store */
    int64_t snap_start_ms;   /* when the request head was read */
    peer_stats *snap_st;     /* metrics row of the sender while in flight */
    struct event *head_timer; /* request head deadline (before it, the TLS
                               * handshake's); pending while one is awaited */
    bool handshaking;        /* a TLS handshake not complete (t->n_handshaking) */
    bool keep_alive;         /* the request allows another on this connection */
    size_t head_left;        /* bytes of the request head still in the input */
    bool read_paused;        /* answers pile up unread: no more requests read */
    bool lingering;          /* answer sent, write side shut: discarding the rest */
    int64_t linger_end_ms;   /* then freed, read or not */
    char snap_path[600];     /* the final name */
};

static void on_conn_read(struct bufferevent *bev, void *arg);
static void on_conn_event(struct bufferevent *bev, short what, void *arg);
static void on_head_deadline(evutil_socket_t fd, short what, void *arg);

/* Arms the deadline for the next request head (also the idle limit of a
 * kept-alive connection), or of the TLS handshake while it runs. */
static bool arm_head_deadline(server_conn *c)
{
    int ms = c->handshaking ? c->t->cfg.handshake_timeout_ms : c->t->cfg.head_timeout_ms;
    struct timeval ht = {ms / 1000, (ms % 1000) * 1000};
    if (!c->head_timer && !(c->head_timer = evtimer_new(c->t->base, on_head_deadline, c)))
        return false;
    evtimer_add(c->head_timer, &ht);
    bufferevent_set_timeouts(c->bev, &ht, &ht);
    return true;
}

/* Accepting stops at max_conns or max_handshakes (new peers wait in the
 * listen backlog) and for a moment when the process runs out of fds (else
 * the listener, still readable, would spin); it resumes when a connection
 * goes or a handshake completes. */
static void set_accepting(rh_transport *t, bool on)
{
    if (t->accept_paused == !on)
        return;
    t->accept_paused = !on;
    for (size_t i = 0; t->listeners && i < t->n_listen; i++)
        if (t->listeners[i]) {
            if (on)
                evconnlistener_enable(t->listeners[i]);
            else
                evconnlistener_disable(t->listeners[i]);
        }
}

static bool below_limits(const rh_transport *t)
{
    return t->n_conns < t->cfg.max_conns && t->n_handshaking < t->cfg.max_handshakes;
}

/* Accepting again once below the limits, unless waiting out an fd shortage. */
static void maybe_resume_accepting(rh_transport *t)
{
    if (t->accept_paused && below_limits(t) && !(t->relisten && evtimer_pending(t->relisten, NULL)))
        set_accepting(t, true);
}

static void on_relisten(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    rh_transport *t = arg;
    if (below_limits(t))
        set_accepting(t, true);
}

static void on_accept_error(struct evconnlistener *l, void *arg)
{
    (void)l;
    rh_transport *t = arg;
    int e = EVUTIL_SOCKET_ERROR();
    if (!t->accept_failing) /* once, not at every retry */
        rh_logf(RH_LOG_ERROR, "accepting peer connections: %s; retrying every 100 ms",
                evutil_socket_error_to_string(e));
    t->accept_failing = true;
    set_accepting(t, false);
    if (!t->relisten)
        t->relisten = evtimer_new(t->base, on_relisten, t);
    struct timeval tv = {0, 100000};
    if (t->relisten)
        evtimer_add(t->relisten, &tv);
}

void rhi_server_conns_limit_changed(rh_transport *t)
{
    maybe_resume_accepting(t);
}

/* c's handshake is over (done, failed or the connection gone): its slot in
 * max_handshakes is free. */
static void handshake_slot_free(server_conn *c)
{
    if (c->handshaking) {
        c->handshaking = false;
        c->t->n_handshaking--;
    }
}

static void conn_unlink(server_conn *c)
{
    rh_transport *t = c->t;
    if (c->prev)
        c->prev->next = c->next;
    else
        t->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    t->n_conns--;
    handshake_slot_free(c);
    maybe_resume_accepting(t);
}

/* Drops the snapshot in progress: the store removes its file (a broken
 * upload leaves none behind; a saved one raft never heard of goes too). */
static void snap_discard(server_conn *c)
{
    if (c->store) {
        rhi_snap_store_close(c->store, false);
        c->store = NULL;
    }
    c->store_paused = c->finishing = false;
    if (c->snap_msg) {
        rhi_tmsg_free(c->snap_msg);
        c->snap_msg = NULL;
    }
}

/* A snapshot upload that will not complete: counted as a failure once,
 * when the connection is freed or starts lingering (linger). */
static void snap_count_failed(server_conn *c)
{
    if (c->snap_st) {
        c->snap_st->snap_recv_inflight--;
        c->snap_st->snap_recv_fail++;
        c->snap_st = NULL;
    } else if (c->snapshot && c->in_body && !c->snap_done) {
        c->t->snap_recv_fail_unknown++; /* failed before its sender was known */
        c->snap_done = true;
    }
}

static void conn_free(server_conn *c)
{
    conn_unlink(c);
    snap_count_failed(c);
    snap_discard(c); /* before store_ev: the store's thread may activate it */
    if (c->store_ev)
        event_free(c->store_ev);
    if (c->head_timer)
        event_free(c->head_timer);
    if (c->bev)
        bufferevent_free(c->bev);
    free(c->buf);
    free(c);
}

/* An error answered before the request body was in: closing now, with
 * the client's bytes unread, makes the kernel reset the connection, and a
 * reset loses the answer on its way to a client still writing (the
 * snapshot sender would see "connection reset" instead of our 500). So, as
 * Go's server does, the write side is shut (the client reads our answer and
 * EOF) and what still comes is read and dropped for up to LINGER_MS, after
 * which the connection goes whatever the client does. */
#define LINGER_MS 500

static void on_linger_read(struct bufferevent *bev, void *arg)
{
    server_conn *c = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    evbuffer_drain(in, evbuffer_get_length(in));
    if (rh_now_ms() >= c->linger_end_ms)
        conn_free(c);
}

static void on_linger_event(struct bufferevent *bev, short what, void *arg)
{
    (void)bev;
    (void)what; /* EOF: the client read the answer; timeout or error alike */
    conn_free(arg);
}

static void linger(server_conn *c)
{
    c->lingering = true;
    c->linger_end_ms = rh_now_ms() + LINGER_MS;
    snap_count_failed(c); /* now, not when the client is done */
    if (c->head_timer)
        evtimer_del(c->head_timer);
    rhi_conn_shutdown_write(c->bev);
    struct timeval lt = {LINGER_MS / 1000, (LINGER_MS % 1000) * 1000};
    bufferevent_set_timeouts(c->bev, &lt, NULL);
    bufferevent_setcb(c->bev, on_linger_read, NULL, on_linger_event, c);
    bufferevent_disable(c->bev, EV_WRITE);
    rhi_conn_enable(c->bev, EV_READ);
    on_linger_read(c->bev, c); /* what came meanwhile */
}

/* Output drained: free a closing connection (after a linger when its
 * request body was not all read), or resume reading requests from a
 * kept-alive one that was paused for not reading its answers. */
static void on_written(struct bufferevent *bev, void *arg)
{
    server_conn *c = arg;
    if (c->closing) {
        if (c->in_body && !c->lingering)
            linger(c);
        else
            conn_free(c);
        return;
    }
    if (c->read_paused) {
        c->read_paused = false;
        rhi_conn_enable(bev, EV_READ);
        bufferevent_trigger(bev, EV_READ, BEV_TRIG_IGNORE_WATERMARKS | BEV_TRIG_DEFER_CALLBACKS);
    }
}

/* Sends a response with headers + Go's http.Error body form, then closes. */
static void respond(server_conn *c, int status, const rh_http_header *extra, size_t n_extra,
                    const char *content_type, const char *body, size_t body_len)
{
    rh_transport *t = c->t;
    rh_http_header h[16];
    size_t n = 0;
    char len[32];
    snprintf(len, sizeof(len), "%zu", body_len);
    for (size_t i = 0; i < n_extra && n < 10; i++)
        h[n++] = extra[i];
    if (content_type) {
        h[n++] = rh_http_header_make("Content-Type", content_type);
        if (!strncmp(content_type, "text/plain", 10))
            h[n++] = rh_http_header_make("X-Content-Type-Options", "nosniff");
    }
    h[n++] = rh_http_header_make("X-Etcd-Cluster-ID", t->cid_str);
    if (status != 204) /* RFC 9110 8.6: never on a 204 */
        h[n++] = rh_http_header_make("Content-Length", len);
    /* success keeps the connection when the client allows (etcd's pipeline
     * and probers reuse theirs); errors close it */
    bool keep = c->keep_alive && status < 300;
    if (!keep)
        h[n++] = rh_http_header_make("Connection", "close");
    char head[1024];
    size_t hl = rh_http_write_response_head(head, sizeof(head), status, h, n);
    if (hl == 0 || hl > sizeof(head)) {
        conn_free(c);
        return;
    }
    if (keep && body_len <= sizeof(head) - hl) {
        /* at once when the socket takes it (probes: 500 a second at 1,000
         * peers), head and a small body in one send: one segment, one
         * wake-up of the reader instead of two */
        if (body_len)
            memcpy(head + hl, body, body_len);
        rh_bev_send(c->bev, head, hl + body_len, NULL);
    } else if (keep) {
        rh_bev_send(c->bev, head, hl, NULL);
        if (body_len)
            rh_bev_send(c->bev, body, body_len, NULL);
    } else { /* closing waits for the write callback: through the buffer */
        bufferevent_write(c->bev, head, hl);
        if (body_len)
            bufferevent_write(c->bev, body, body_len);
    }
    if (keep) {
        /* ready for the next request; bytes of it already read are handled
         * from the loop, not from here (no recursion per pipelined request) */
        evbuffer_drain(bufferevent_get_input(c->bev), c->head_left);
        c->head_left = 0;
        snap_discard(c);
        c->in_body = c->snapshot = c->snap_done = false;
        c->snap_st = NULL;
        c->snap_bytes = 0;
        c->len = 0;
        if (c->cap > 65536) { /* do not hold a large body's buffer while idle */
            free(c->buf);
            c->buf = NULL;
            c->cap = 0;
        }
        rh_http_parser_reset(&c->hp);
        if (!arm_head_deadline(c)) {
            conn_free(c);
            return;
        }
        if (evbuffer_get_length(bufferevent_get_input(c->bev)))
            bufferevent_trigger(c->bev, EV_READ,
                                BEV_TRIG_IGNORE_WATERMARKS | BEV_TRIG_DEFER_CALLBACKS);
        return;
    }
    c->closing = true;
    bufferevent_disable(c->bev, EV_READ);
    bufferevent_setcb(c->bev, NULL, on_written, NULL, c);
    bufferevent_enable(c->bev, EV_WRITE);
}

/* Go's http.Error: text/plain, the message and a newline. */
static void http_error(server_conn *c, int status, const char *msg,
                       const rh_http_header *extra, size_t n_extra)
{
    char body[256];
    int n = snprintf(body, sizeof(body), "%s\n", msg);
    respond(c, status, extra, n_extra, "text/plain; charset=utf-8", body, (size_t)n);
}

static bool header_eq(const rh_http_request *req, const char *name, const char *want)
{
    const rh_http_header *h = rh_http_header_find(req->headers, req->num_headers, name);
    size_t wl = strlen(want);
    return h && h->value.len == wl && memcmp(h->value.ptr, want, wl) == 0;
}

/* etcd's checkVersionCompatibility with lenient parsing. */
static bool version_compatible(rh_transport *t, const rh_http_request *req)
{
    int rmaj = 2, rmin = 0, cmaj = 2, cmin = 0, lmaj, lmin, mmaj, mmin;
    const rh_http_header *sv = rh_http_header_find(req->headers, req->num_headers,
                                                   "X-Server-Version");
    const rh_http_header *mv = rh_http_header_find(req->headers, req->num_headers,
                                                   "X-Min-Cluster-Version");
    if (sv && sv->value.len && !rh_version_parse(sv->value.ptr, sv->value.len, &rmaj, &rmin))
        return false;
    if (mv && mv->value.len && !rh_version_parse(mv->value.ptr, mv->value.len, &cmaj, &cmin))
        return false;
    if (!rh_version_parse(t->server_version, strlen(t->server_version), &lmaj, &lmin) ||
        !rh_version_parse(t->min_cluster_version, strlen(t->min_cluster_version), &mmaj,
                          &mmin))
        return true;
    /* remote server older than our minimum cluster version */
    if (rmaj < mmaj || (rmaj == mmaj && rmin < mmin))
        return false;
    /* remote requires a cluster newer than us */
    if (cmaj > lmaj || (cmaj == lmaj && cmin > lmin))
        return false;
    return true;
}

static void serve_stream(server_conn *c, const rh_http_request *req, rh_http_span path)
{
    rh_transport *t = c->t;
    rh_http_header vh[] = {rh_http_header_make("X-Server-Version", t->server_version)};
    if (!rh_http_span_eq_nocase(req->method, "GET") || req->method.len != 3 ||
        memcmp(req->method.ptr, "GET", 3) != 0) {
        rh_http_header allow[] = {rh_http_header_make("Allow", "GET"), vh[0]};
        http_error(c, 405, "Method Not Allowed", allow, 2);
        return;
    }
    if (!version_compatible(t, req)) {
        rh_logf(RH_LOG_WARN, "refused stream request: incompatible version");
        http_error(c, 412, "incompatible version", vh, 1);
        return;
    }
    if (!header_eq(req, "X-Etcd-Cluster-ID", t->cid_str)) {
        rh_logf(RH_LOG_WARN, "refused stream request: cluster ID mismatch");
        http_error(c, 412, "cluster ID mismatch", vh, 1);
        return;
    }
    rh_http_span dir, base;
    int kind;
    if (rh_http_path_split_last(path, &dir, &base) != 0) {
        http_error(c, 404, "invalid path", vh, 1);
        return;
    }
    if (dir.len == strlen(RH_HTTP_PATH_STREAM_MSGAPP) &&
        !memcmp(dir.ptr, RH_HTTP_PATH_STREAM_MSGAPP, dir.len))
        kind = RH_STREAM_MSGAPPV2;
    else if (dir.len == strlen(RH_HTTP_PATH_STREAM_MESSAGE) &&
             !memcmp(dir.ptr, RH_HTTP_PATH_STREAM_MESSAGE, dir.len))
        kind = RH_STREAM_MESSAGE;
    else {
        http_error(c, 404, "invalid path", vh, 1);
        return;
    }
    uint64_t from;
    if (rh_http_parse_id(base.ptr, base.len, &from) != 0) {
        rh_logf(RH_LOG_WARN, "refused stream request: bad sender ID in %.*s",
                (int)path.len, path.ptr);
        http_error(c, 404, "invalid from", vh, 1);
        return;
    }
    if (t->cfg.raft.is_id_removed && t->cfg.raft.is_id_removed(t->cfg.raft.ctx, from)) {
        rh_logp(RH_LOG_WARN, from, "refused stream from %llx: member was removed",
                (unsigned long long)from);
        http_error(c, 410, "removed member", vh, 1);
        return;
    }
    peer *p = rhi_peers_find(t, from);
    if (!p) {
        const rh_http_header *pu = rh_http_header_find(req->headers, req->num_headers,
                                                       "X-PeerURLs");
        if (pu)
            rhi_transport_add_remote_from_header(t, from, pu->value.ptr, pu->value.len);
        rh_logp(RH_LOG_WARN, from, "refused stream from %llx: not a peer of cluster %s",
                (unsigned long long)from, t->cid_str);
        http_error(c, 404, "error sender not found", vh, 1);
        return;
    }
    if (!header_eq(req, "X-Raft-To", t->id_str)) {
        rh_logp(RH_LOG_WARN, from, "refused stream from %llx: X-Raft-To is not %s",
                (unsigned long long)from, t->id_str);
        http_error(c, 412, "to field mismatch", vh, 1);
        return;
    }
    rh_http_header h[] = {
        rh_http_header_make("X-Server-Version", t->server_version),
        rh_http_header_make("X-Etcd-Cluster-ID", t->cid_str),
        rh_http_header_make("Transfer-Encoding", "chunked"),
    };
    char head[512];
    size_t hl = rh_http_write_response_head(head, sizeof(head), 200, h, 3);
    struct bufferevent *bev = c->bev;
    c->bev = NULL;
    conn_free(c);
    bufferevent_set_timeouts(bev, NULL, NULL);
    bufferevent_write(bev, head, hl);
    rhi_writer_attach(&p->w[kind], bev);
}

/* Appends body bytes, bounded by the pipeline body limit. */
static int body_append(server_conn *c, const uint8_t *p, size_t n)
{
    if (n > c->t->cfg.max_body - c->len)
        return -1;
    if (n > c->cap - c->len) {
        size_t cap = c->cap ? c->cap : 4096;
        while (cap - c->len < n)
            cap *= 2;
        uint8_t *nb = realloc(c->buf, cap);
        if (!nb)
            return -1;
        c->buf = nb;
        c->cap = cap;
    }
    memcpy(c->buf + c->len, p, n);
    c->len += n;
    return 0;
}

static void pipeline_complete(server_conn *c)
{
    rh_transport *t = c->t;
    rh_arena a;
    rh_arena_init(&a, 0);
    rh_msg m;
    rh_err err;
    if (rh_msg_decode(c->buf, c->len, &m, &a, &err) != 0) {
        rh_arena_free(&a);
        rh_logf(RH_LOG_WARN, "pipeline: bad message: %s", err.msg);
        http_error(c, 400, "error unmarshalling raft message", NULL, 0);
        return;
    }
    peer *p = rhi_peers_find(t, m.from);
    if (p)
        p->st->recv_bytes += c->len;
    rh_msg *owned = rhi_tmsg_clone(&m);
    rh_arena_free(&a);
    if (!owned) {
        http_error(c, 500, "error processing raft message", NULL, 0);
        return;
    }
    /* delivered also while the sender is paused: as etcd, pause stops our
     * sending and our stream readers, not the pipeline handler */
    const char *via = "pipeline";
    bool accepted = false;
    rhi_delivery_push(t, m.from, &owned, NULL, &via, 1, &accepted);
    if (!accepted) {
        rhi_transport_emit(t, RH_EV_DROPPED, m.from, owned->type, via, "receive queue full");
        rhi_tmsg_free(owned);
        http_error(c, 500, "error processing raft message", NULL, 0);
        return;
    }
    respond(c, 204, NULL, 0, NULL, NULL, 0);
}

/* Consumes body bytes from the input; completes or fails the request. */
static int snap_sink(server_conn *c, const uint8_t *p, size_t n);
static void snapshot_complete(server_conn *c);
static void on_store(evutil_socket_t fd, short what, void *arg);

/* Stop reading a snapshot body while the store has less room than this
 * (more than any one input segment). */
#define SNAP_ROOM_MIN (256u * 1024u)

/* Body bytes go to the pipeline buffer or the snapshot sink. */
static int body_sink(server_conn *c, const uint8_t *p, size_t n)
{
    return c->snapshot ? snap_sink(c, p, n) : body_append(c, p, n);
}

static void pipeline_read(server_conn *c)
{
    struct evbuffer *in = bufferevent_get_input(c->bev);
    while (!c->closing && evbuffer_get_length(in) > 0) {
        if (c->store && rhi_snap_store_want_room(c->store, SNAP_ROOM_MIN)) {
            /* the disk is behind: the peer waits (TCP), memory stays put */
            if (!c->store_paused)
                rh_logf(RH_LOG_DEBUG, "snapshot: the disk is behind, reading paused");
            c->store_paused = true;
            bufferevent_disable(c->bev, EV_READ);
            return;
        }
        struct evbuffer_iovec v;
        if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
            return;
        const uint8_t *seg = v.iov_base;
        size_t n = v.iov_len, used = 0;
        bool done = false;
        if (c->body.kind == RH_HTTP_BODY_LENGTH) {
            used = n < c->left ? n : (size_t)c->left;
            if (body_sink(c, seg, used) != 0) {
                if (!c->closing)
                    http_error(c, 413, "request body too large", NULL, 0);
                return;
            }
            c->left -= used;
            done = c->left == 0;
        } else {
            while (used < n && !done) {
                size_t k, dlen;
                const uint8_t *data;
                rh_err err;
                int rc = rh_http_chunked_feed(&c->chunked, seg + used, n - used, &k, &data,
                                              &dlen, &err);
                used += k;
                if (rc < 0) {
                    http_error(c, 400, "error reading raft message", NULL, 0);
                    return;
                }
                if (rc == RH_HTTP_CHUNK_DATA && body_sink(c, data, dlen) != 0) {
                    if (!c->closing)
                        http_error(c, 413, "request body too large", NULL, 0);
                    return;
                }
                done = rc == RH_HTTP_CHUNK_DONE;
            }
        }
        evbuffer_drain(in, used);
        if (done) {
            if (c->snapshot)
                snapshot_complete(c);
            else
                pipeline_complete(c);
            return;
        }
    }
}

/* The snapshot body: a `message` frame (8-byte length, MsgSnap), then the
 * database, streamed to a temp file in the snapshot directory as it arrives
 * (constant memory whatever its size). Returns -1 after answering. */
static int snap_sink(server_conn *c, const uint8_t *p, size_t n)
{
    rh_transport *t = c->t;
    if (!c->snap_msg) {
        /* still reading the message frame */
        size_t want = 8;
        if (c->len >= 8) {
            uint64_t l = 0;
            for (int i = 0; i < 8; i++)
                l = l << 8 | c->buf[i];
            if (l > RH_SNAPSHOT_MAX_MSG) {
                http_error(c, 400, "error reading raft message", NULL, 0);
                return -1;
            }
            want = 8 + (size_t)l;
        }
        size_t take = want - c->len < n ? want - c->len : n;
        if (body_append(c, p, take) != 0) {
            http_error(c, 500, "out of memory", NULL, 0);
            return -1;
        }
        p += take;
        n -= take;
        if (c->len < want || want == 8)
            return n ? snap_sink(c, p, n) : 0;
        rh_arena a;
        rh_arena_init(&a, 0);
        rh_msg m;
        rh_err err;
        if (rh_msg_decode(c->buf + 8, c->len - 8, &m, &a, &err) != 0) {
            rh_arena_free(&a);
            http_error(c, 400, "error reading raft message", NULL, 0);
            return -1;
        }
        if (m.type != RH_MSG_SNAP) {
            rh_arena_free(&a);
            http_error(c, 400, "wrong raft message type", NULL, 0);
            return -1;
        }
        c->snap_msg = rhi_tmsg_clone(&m);
        rh_arena_free(&a);
        c->snap_done = true;
        /* rows exist for peers and remotes only: an unknown sender is not
         * given one (the wire must not grow the metrics) */
        if ((c->snap_st = rhi_transport_stats_find(t, m.from)) != NULL)
            c->snap_st->snap_recv_inflight++;
        if (!t->cfg.snap_dir) {
            http_error(c, 500, "no snapshot directory configured", NULL, 0);
            return -1;
        }
        int e = ENOMEM;
        if (!c->store_ev)
            c->store_ev = event_new(t->base, -1, 0, on_store, c);
        if (!c->snap_msg || !c->store_ev ||
            !(c->store = rhi_snap_store_open(t->cfg.snap_dir, c->store_ev, &e))) {
            rh_logf(RH_LOG_ERROR, "snapshot: cannot create a file in %s: %s", t->cfg.snap_dir,
                    strerror(e));
            http_error(c, 500, "error saving raft snapshot", NULL, 0);
            return -1;
        }
        rh_logp(RH_LOG_INFO, c->snap_msg->from, "receiving snapshot [index %llu] from %llx",
                (unsigned long long)c->snap_msg->snapshot.metadata.index,
                (unsigned long long)c->snap_msg->from);
    }
    int e = n ? rhi_snap_store_push(c->store, p, n) : 0;
    if (e) {
        rh_logf(RH_LOG_ERROR, "snapshot: writing %s: %s", rhi_snap_store_temp_path(c->store),
                strerror(e));
        snap_discard(c);
        http_error(c, 500, "error saving raft snapshot", NULL, 0);
        return -1;
    }
    c->snap_bytes += n;
    return 0;
}

/* Body complete: fsync, rename to etcd's name, hand the message to raft. */
static void snapshot_complete(server_conn *c)
{
    rh_transport *t = c->t;
    if (!c->snap_msg) {
        http_error(c, 400, "error reading raft message", NULL, 0);
        return;
    }
    snprintf(c->snap_path, sizeof(c->snap_path), "%s/%016llx.snap.db", t->cfg.snap_dir,
             (unsigned long long)c->snap_msg->snapshot.metadata.index);
    /* quiet while the store fsyncs and renames: no reads, no timeouts */
    bufferevent_disable(c->bev, EV_READ | EV_WRITE);
    bufferevent_set_timeouts(c->bev, NULL, NULL);
    c->finishing = true;
    rhi_snap_store_finish(c->store, c->snap_path);
}

/* Loop thread: the store has room again, or has ended. */
static void on_store(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    server_conn *c = arg;
    rh_transport *t = c->t;
    if (!c->store)
        return;
    int e;
    if (!rhi_snap_store_ended(c->store, &e)) {
        if (c->store_paused) { /* room again: read on */
            c->store_paused = false;
            rhi_conn_enable(c->bev, EV_READ);
            bufferevent_trigger(c->bev, EV_READ,
                                BEV_TRIG_IGNORE_WATERMARKS | BEV_TRIG_DEFER_CALLBACKS);
        }
        return;
    }
    if (e || !c->finishing) {
        rh_logf(RH_LOG_ERROR, "snapshot: saving %s: %s", rhi_snap_store_temp_path(c->store),
                strerror(e ? e : EIO));
        snap_discard(c);
        bufferevent_enable(c->bev, EV_WRITE);
        http_error(c, 500, "error saving raft snapshot", NULL, 0);
        return;
    }
    /* saved under its final name: the file is the application's now */
    rhi_snap_store_close(c->store, true);
    c->store = NULL;
    c->finishing = false;
    const char *path = c->snap_path;
    rhi_conn_enable(c->bev, EV_READ | EV_WRITE);
    if (c->snap_st) {
        c->snap_st->snap_recv_inflight--;
        c->snap_st->snap_recv_ok++;
        rhi_hist_observe(&c->snap_st->snap_recv_sec, RH_HIST_SNAPSHOT,
                     (double)(rh_now_ms() - c->snap_start_ms) / 1000.0);
        c->snap_st = NULL;
    }
    rh_logp(RH_LOG_INFO, c->snap_msg->from,
            "saved snapshot [index %llu] from %llx: %s (%llu bytes)",
            (unsigned long long)c->snap_msg->snapshot.metadata.index,
            (unsigned long long)c->snap_msg->from, path, (unsigned long long)c->snap_bytes);
    peer *p = rhi_peers_find(t, c->snap_msg->from);
    if (p)
        p->st->recv_bytes += c->snap_bytes + c->len;
    rh_msg *m = c->snap_msg;
    c->snap_msg = NULL;
    if (!rhi_delivery_push_snapshot(t, m->from, m, path, c->snap_bytes)) {
        rhi_transport_emit(t, RH_EV_DROPPED, m->from, m->type, "snapshot", "receive queue full");
        rhi_tmsg_free(m);
        http_error(c, 500, "error processing raft message", NULL, 0);
        return;
    }
    respond(c, 204, NULL, 0, NULL, NULL, 0);
}

/* POST /raft and POST /raft/snapshot, checked as etcd's pipelineHandler
 * and snapshotHandler. */
static void serve_post(server_conn *c, const rh_http_request *req, size_t head_len,
                       bool snapshot)
{
    c->snapshot = snapshot;
    c->snap_start_ms = rh_now_ms();
    rh_transport *t = c->t;
    if (req->method.len != 4 || memcmp(req->method.ptr, "POST", 4) != 0) {
        rh_http_header allow[] = {rh_http_header_make("Allow", "POST")};
        http_error(c, 405, "Method Not Allowed", allow, 1);
        return;
    }
    if (!version_compatible(t, req)) {
        http_error(c, 412, "incompatible version", NULL, 0);
        return;
    }
    if (!header_eq(req, "X-Etcd-Cluster-ID", t->cid_str)) {
        http_error(c, 412, "cluster ID mismatch", NULL, 0);
        return;
    }
    /* etcd's addRemoteFromRequest: X-Server-From + X-PeerURLs */
    const rh_http_header *sf = rh_http_header_find(req->headers, req->num_headers,
                                                   "X-Server-From");
    const rh_http_header *pu = rh_http_header_find(req->headers, req->num_headers,
                                                   "X-PeerURLs");
    uint64_t sender;
    if (sf && pu && rh_http_parse_id(sf->value.ptr, sf->value.len, &sender) == 0)
        rhi_transport_add_remote_from_header(t, sender, pu->value.ptr, pu->value.len);
    rh_err err;
    if (rh_http_request_body(req, &c->body, &err) != 0) {
        int st = rh_http_error_status(err.code);
        http_error(c, st ? st : 400, err.msg, NULL, 0);
        return;
    }
    if (!snapshot && c->body.kind == RH_HTTP_BODY_LENGTH &&
        c->body.length > t->cfg.max_body) {
        http_error(c, 413, "request body too large", NULL, 0);
        return;
    }
    evbuffer_drain(bufferevent_get_input(c->bev), head_len);
    c->head_left = 0;
    c->in_body = true;
    c->left = c->body.length;
    rh_http_chunked_init(&c->chunked, 0, 0);
    if (c->body.kind == RH_HTTP_BODY_NONE) {
        if (snapshot)
            snapshot_complete(c);
        else
            pipeline_complete(c);
        return;
    }
    pipeline_read(c);
}

static void serve_other(server_conn *c, const rh_http_request *req, rh_http_span path)
{
    rh_transport *t = c->t;
    bool get = req->method.len == 3 && !memcmp(req->method.ptr, "GET", 3);
    if (get && path.len == strlen(RH_HTTP_PATH_VERSION) &&
        !memcmp(path.ptr, RH_HTTP_PATH_VERSION, path.len)) {
        char body[128];
        int maj = 3, min = 0;
        rh_version_parse(t->server_version, strlen(t->server_version), &maj, &min);
        int n = snprintf(body, sizeof(body),
                         "{\"etcdserver\":\"%s\",\"etcdcluster\":\"%d.%d.0\"}",
                         t->server_version, maj, min);
        respond(c, 200, NULL, 0, "application/json", body, (size_t)n);
        return;
    }
    if (get && path.len == strlen(RH_HTTP_PATH_PROBING) &&
        !memcmp(path.ptr, RH_HTTP_PATH_PROBING, path.len)) {
        /* etcd's probing handler: {"OK":true,"Now":<Go time.Time JSON>} */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        struct tm tm;
        gmtime_r(&ts.tv_sec, &tm);
        char body[128];
        int n = snprintf(body, sizeof(body),
                         "{\"OK\":true,\"Now\":\"%04d-%02d-%02dT%02d:%02d:%02d.%09ldZ\"}\n",
                         tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                         tm.tm_sec, ts.tv_nsec);
        respond(c, 200, NULL, 0, "application/json", body, (size_t)n);
        return;
    }
    if (t->members_json && path.len == strlen(RH_HTTP_PATH_MEMBERS) &&
        !memcmp(path.ptr, RH_HTTP_PATH_MEMBERS, path.len)) {
        /* etcd's peerMembersHandler: GET only, the member list as JSON */
        if (!get) {
            rh_http_header allow[] = {rh_http_header_make("Allow", "GET")};
            http_error(c, 405, "Method Not Allowed", allow, 1);
            return;
        }
        respond(c, 200, NULL, 0, "application/json", t->members_json,
                strlen(t->members_json));
        return;
    }
    if (get && !t->cfg.no_metrics && path.len == strlen(RH_HTTP_PATH_METRICS) &&
        !memcmp(path.ptr, RH_HTTP_PATH_METRICS, path.len)) {
        size_t need = rhi_transport_metrics_text(t, NULL, 0);
        char *body = malloc(need + 1);
        if (!body) {
            http_error(c, 500, "out of memory", NULL, 0);
            return;
        }
        rhi_transport_metrics_text(t, body, need + 1);
        respond(c, 200, NULL, 0, "text/plain; version=0.0.4", body, need);
        free(body);
        return;
    }
    http_error(c, 404, "404 page not found", NULL, 0);
}

static void on_conn_read(struct bufferevent *bev, void *arg)
{
    server_conn *c = arg;
    rh_transport *t = c->t;
    struct evbuffer *in = bufferevent_get_input(bev);
    if (c->in_body) {
        pipeline_read(c);
        return;
    }
    /* a client that sends requests but does not read the answers stops
     * being read (its head deadline then closes it): our output stays
     * bounded whatever it pipelines */
    if (evbuffer_get_length(bufferevent_get_output(bev)) > RH_SERVER_OUT_HIGH) {
        c->read_paused = true;
        bufferevent_disable(bev, EV_READ);
        return;
    }
    size_t len = evbuffer_get_length(in);
    size_t max = t->cfg.max_head + 1;
    if (len > max)
        len = max;
    const char *buf = (const char *)evbuffer_pullup(in, (ev_ssize_t)len);
    rh_http_request req;
    rh_err err;
    int rc = rh_http_parse_request(&c->hp, buf, len, &req, &err);
    if (rc == 0)
        return;
    if (c->head_timer) /* the head is in: its deadline is over */
        evtimer_del(c->head_timer);
    if (rc < 0) {
        int status = rh_http_error_status(rc);
        if (len && (uint8_t)buf[0] == 0x16 && !rhi_conn_is_tls(bev)) {
            /* a TLS ClientHello's record type: the peer dials https:// */
            c->t->plain_got_tls++;
            rh_logf(RH_LOG_WARN, "refused a TLS handshake on the plain http:// port (the peer "
                    "has https:// for this member's URL; serve https:// with TLS files, or "
                    "give it http://) [tls_to_plain_port]");
            http_error(c, 400, "client sent a TLS handshake to an HTTP server", NULL, 0);
            return;
        }
        rh_logf(RH_LOG_WARN, "bad request from a peer connection: %s", err.msg);
        http_error(c, status ? status : 400, rh_http_strerror(rc), NULL, 0);
        return;
    }
    c->keep_alive = rh_http_keep_alive(req.minor_version, req.headers, req.num_headers);
    c->head_left = (size_t)rc; /* drained once answered (req points into it) */
    rh_http_span path, query;
    if (rh_http_target_split(req.target, &path, &query) != 0) {
        http_error(c, 400, "bad request target", NULL, 0);
        return;
    }
    /* the head is consumed; whatever follows is ignored (GET has no body) */
    static const char prefix[] = RH_HTTP_PATH_STREAM "/";
    if (path.len >= sizeof(prefix) - 1 && !memcmp(path.ptr, prefix, sizeof(prefix) - 1)) {
        serve_stream(c, &req, path);
        return;
    }
    if (path.len == strlen(RH_HTTP_PATH_RAFT) && !memcmp(path.ptr, RH_HTTP_PATH_RAFT, path.len)) {
        serve_post(c, &req, (size_t)rc, false);
        return;
    }
    if (path.len == strlen(RH_HTTP_PATH_SNAPSHOT) &&
        !memcmp(path.ptr, RH_HTTP_PATH_SNAPSHOT, path.len)) {
        serve_post(c, &req, (size_t)rc, true);
        return;
    }
    serve_other(c, &req, path);
}

static void on_conn_event(struct bufferevent *bev, short what, void *arg)
{
    server_conn *c = arg;
    if (what & BEV_EVENT_CONNECTED) { /* a TLS handshake completed: the request comes next */
        handshake_slot_free(c);
        maybe_resume_accepting(c->t);
        if (!arm_head_deadline(c))
            conn_free(c);
        return;
    }
    if (rhi_conn_handshaking(bev) || (rhi_conn_is_tls(bev) && (what & BEV_EVENT_ERROR))) {
        char text[600];
        rhi_conn_event_text(c->t, bev, what, 0, text, sizeof(text)); /* logs and counts */
    } else if (what & BEV_EVENT_TIMEOUT) {
        rh_logf(RH_LOG_INFO, "closed a peer connection: nothing read for %d ms",
                c->t->cfg.head_timeout_ms);
    }
    conn_free(c);
}

static void on_head_deadline(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    server_conn *c = arg;
    if (rhi_conn_handshaking(c->bev)) {
        char text[600];
        rhi_conn_event_text(c->t, c->bev, BEV_EVENT_TIMEOUT, 0, text, sizeof(text));
        conn_free(c);
        return;
    }
    if (evbuffer_get_length(bufferevent_get_input(c->bev)))
        rh_logf(RH_LOG_INFO, "closed a peer connection: request head not complete in %d ms",
                c->t->cfg.head_timeout_ms);
    else /* a kept-alive connection left idle */
        rh_logf(RH_LOG_DEBUG, "closed an idle peer connection after %d ms",
                c->t->cfg.head_timeout_ms);
    conn_free(c);
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
                      int socklen, void *arg)
{
    (void)sa;
    (void)socklen;
    rh_transport *t = arg;
    if (t->accept_failing) {
        rh_logf(RH_LOG_INFO, "accepting peer connections again");
        t->accept_failing = false;
    }
    server_conn *c = calloc(1, sizeof(*c));
    if (!c) {
        evutil_closesocket(fd);
        return;
    }
    bool tls = false;
    for (size_t i = 0; i < t->n_listen; i++)
        if (t->listeners[i] == l)
            tls = t->listen_tls[i];
    c->t = t;
    c->bev = rhi_conn_accept(t, fd, tls);
    if (!c->bev) {
        free(c);
        return;
    }
    c->next = t->conns;
    if (t->conns)
        t->conns->prev = c;
    t->conns = c;
    if (rhi_conn_handshaking(c->bev)) {
        c->handshaking = true;
        t->n_handshaking++;
    }
    if (++t->n_conns >= t->cfg.max_conns) {
        rh_logf(RH_LOG_WARN, "%zu peer connections open (the limit): accepting waits until "
                "one closes", t->n_conns);
        set_accepting(t, false);
    } else if (t->n_handshaking >= t->cfg.max_handshakes && !t->accept_paused) {
        int64_t now = rh_now_ms();
        if (now - t->handshakes_full_logged_ms >= 1000) { /* once a second at most */
            t->handshakes_full_logged_ms = now;
            rh_logf(RH_LOG_WARN, "%zu TLS handshakes in flight (the limit): accepting waits "
                    "until one completes or fails", t->n_handshaking);
        }
        t->handshakes_full++;
        set_accepting(t, false);
    }
    if (!arm_head_deadline(c)) {
        conn_free(c);
        return;
    }
    rh_http_parser_init(&c->hp, c->hdrs, RH_HTTP_DEFAULT_MAX_HEADERS, t->cfg.max_head);
    bufferevent_setcb(c->bev, on_conn_read, on_written, on_conn_event, c);
    rhi_conn_enable(c->bev, EV_READ | EV_WRITE);
}

int rhi_server_listen(rh_transport *t, char *err, size_t errlen)
{
    t->listeners = calloc(t->n_listen, sizeof(*t->listeners));
    t->ports = calloc(t->n_listen, sizeof(*t->ports));
    t->listen_tls = calloc(t->n_listen, sizeof(*t->listen_tls));
    if (!t->listeners || !t->ports || !t->listen_tls) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < t->n_listen; i++) {
        rh_url u;
        if (rh_url_parse(t->listen[i], &u, err, errlen) != 0)
            return -1;
        if (u.tls && !t->tls) {
            snprintf(err, errlen, "%s: https:// needs peer TLS (--peer-cert-file and "
                     "--peer-key-file)", t->listen[i]);
            return -1;
        }
        t->listen_tls[i] = u.tls;
        struct evutil_addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                                        .ai_flags = EVUTIL_AI_PASSIVE},
                               *ai = NULL;
        if (evutil_getaddrinfo(u.host, u.port, &hints, &ai) != 0 || !ai) {
            snprintf(err, errlen, "%s: cannot resolve %s", t->listen[i], u.host);
            return -1;
        }
        t->listeners[i] = evconnlistener_new_bind(
            t->base, on_accept, t, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 128,
            ai->ai_addr, (int)ai->ai_addrlen);
        evutil_freeaddrinfo(ai);
        if (!t->listeners[i]) {
            snprintf(err, errlen, "%s: cannot listen: %s", t->listen[i],
                     evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
            return -1;
        }
        evconnlistener_set_error_cb(t->listeners[i], on_accept_error);
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        if (getsockname(evconnlistener_get_fd(t->listeners[i]), (struct sockaddr *)&ss,
                        &sl) == 0)
            t->ports[i] = ntohs(ss.ss_family == AF_INET6
                                    ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                    : ((struct sockaddr_in *)&ss)->sin_port);
    }
    return 0;
}

void rhi_server_close_all(rh_transport *t)
{
    for (size_t i = 0; t->listeners && i < t->n_listen; i++)
        if (t->listeners[i])
            evconnlistener_free(t->listeners[i]);
    free(t->listeners);
    t->listeners = NULL;
    free(t->listen_tls);
    t->listen_tls = NULL;
    if (t->relisten) {
        event_free(t->relisten);
        t->relisten = NULL;
    }
    while (t->conns)
        conn_free(t->conns);
}
