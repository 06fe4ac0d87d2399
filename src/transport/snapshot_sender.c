/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Snapshot sender: `POST /raft/snapshot` with a chunked body made of the
 * MsgSnap as a `message` frame, then the database streamed from a file.
 *
 * The body is read 64 KiB at a time, only while the connection's output
 * buffer is below SNAP_HIGH, so a body of any size passes in constant
 * memory at the pace the peer reads. The loop reads only a pipe or socket,
 * when readable, never blocking: the application may stream the body into
 * one as it goes (SNAP_SOURCE_IDLE_S without data fails the send), and a
 * regular file is fed into a pipe by a feeder thread, so that disk reads
 * stay off the loop too. After the last chunk the response must
 * come within etcd's snapResponseReadTimeout (5 s): 204 reports the snapshot
 * finished and the peer active; anything else reports it failed and the
 * peer unreachable, as etcd's snapshotSender does.
 */
#define _GNU_SOURCE /* pipe2, F_SETPIPE_SZ */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "transport/peer.h"

#define SNAP_HIGH (512u * 1024u) /* output bytes buffered before reading more */
#define SNAP_READ (64u * 1024u)  /* one read of the file, one chunk */
#define SNAP_RESPONSE_TIMEOUT_S 5 /* etcd's snapResponseReadTimeout */
#define SNAP_SOURCE_IDLE_S 30     /* a pipe body with no data this long fails */

enum { SS_CONNECTING, SS_BODY, SS_WAIT };

struct snap_send {
    rh_transport *t;
    rh_msg *m;               /* the MsgSnap, owned */
    int fd;                  /* the body's file, owned */
    struct event *src_ev;    /* fd readable (always a pipe or socket) */
    bool feeding;            /* feeder runs: copies the file into fd's pipe */
    pthread_t feeder;
    int file;                /* the feeder's file, owned by it */
    int feed_w;              /* the pipe's write end, owned by the feeder */
    uint64_t size, sent;     /* body bytes in all, and streamed so far */
    int state;
    char url[256];           /* the URL dialed */
    struct bufferevent *bev; /* owned */
    rh_http_parser hp;
    rh_http_header hdrs[32];
    rh_http_response resp;
    peer_stats *st;          /* metrics row of the receiver, once under way */
    int64_t start_ms;        /* when the send started */
    snap_send *next;
};

static void snap_free(snap_send *s)
{
    rh_transport *t = s->t;
    for (snap_send **pp = &t->snaps; *pp; pp = &(*pp)->next)
        if (*pp == s) {
            *pp = s->next;
            break;
        }
    if (s->bev)
        bufferevent_free(s->bev);
    if (s->src_ev)
        event_free(s->src_ev);
    if (s->fd >= 0)
        close(s->fd); /* a feeder still writing gets EPIPE and ends */
    if (s->feeding)
        pthread_join(s->feeder, NULL);
    rhi_tmsg_free(s->m);
    free(s);
}

static void snap_done(snap_send *s, bool okay, const char *why)
{
    rh_transport *t = s->t;
    uint64_t to = s->m->to;
    peer *p = rhi_peers_find(t, to);
    if (!p)
        p = rhi_remotes_find(t, to);
    if (s->st) {
        s->st->snap_send_inflight--;
        if (okay) {
            s->st->snap_send_ok++;
            rhi_hist_observe(&s->st->snap_send_sec, RH_HIST_SNAPSHOT,
                         (double)(rh_now_ms() - s->start_ms) / 1000.0);
        } else {
            s->st->snap_send_fail++;
        }
    }
    if (okay) {
        rh_logp(RH_LOG_INFO, to, "sent snapshot [index %llu, %llu bytes] to %llx",
                (unsigned long long)s->m->snapshot.metadata.index,
                (unsigned long long)s->size, (unsigned long long)to);
        if (p) {
            p->st->sent_bytes += s->size;
            rhi_peer_activate(p);
        }
        rhi_transport_emit(t, RH_EV_SENT, to, s->m->type, "snapshot", NULL);
    } else {
        rh_logp(RH_LOG_WARN, to, "sending snapshot to %llx failed: %s", (unsigned long long)to,
                why);
        if (p) {
            p->st->sent_failures++;
            rhi_peer_deactivate(p, "snapshot sender", "post", why);
        }
        rhi_report_unreachable(t, to);
    }
    rhi_report_snapshot(t, to, okay);
    snap_free(s);
}

/* Streams more of the file while the output buffer has room. */
static void pump(snap_send *s)
{
    struct evbuffer *out = bufferevent_get_output(s->bev);
    while (s->state == SS_BODY && evbuffer_get_length(out) < SNAP_HIGH) {
        if (s->sent == s->size) {
            evbuffer_add(out, RH_HTTP_LAST_CHUNK, RH_HTTP_LAST_CHUNK_LEN);
            s->state = SS_WAIT;
            struct timeval rt = {SNAP_RESPONSE_TIMEOUT_S, 0};
            bufferevent_set_timeouts(s->bev, &rt, NULL);
            return;
        }
        uint8_t buf[SNAP_READ];
        size_t want = s->size - s->sent < SNAP_READ ? (size_t)(s->size - s->sent) : SNAP_READ;
        ssize_t n = read(s->fd, buf, want);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && s->src_ev) {
            struct timeval idle = {SNAP_SOURCE_IDLE_S, 0};
            event_add(s->src_ev, &idle); /* back when the application wrote more */
            return;
        }
        if (n <= 0) {
            char why[128];
            snprintf(why, sizeof(why), "reading the snapshot body: %s",
                     n == 0 ? "it ended before the announced size" : strerror(errno));
            snap_done(s, false, why);
            return;
        }
        char hdr[RH_HTTP_CHUNK_HEADER_MAX];
        size_t hl = rh_http_write_chunk_header(hdr, (uint64_t)n);
        evbuffer_add(out, hdr, hl);
        evbuffer_add(out, buf, (size_t)n);
        evbuffer_add(out, RH_HTTP_CHUNK_END, RH_HTTP_CHUNK_END_LEN);
        s->sent += (uint64_t)n;
    }
}

static void start_body(snap_send *s)
{
    rh_transport *t = s->t;
    rh_http_header h[] = {
        rh_http_header_make("Content-Type", "application/octet-stream"),
        rh_http_header_make("Transfer-Encoding", "chunked"),
    };
    char head[2048];
    size_t hl = rhi_client_request_head(t, head, sizeof(head), "POST", RH_HTTP_PATH_SNAPSHOT,
                                       s->url, h, 2);
    if (hl == 0 || hl > sizeof(head)) {
        snap_done(s, false, "cannot build the request");
        return;
    }
    struct evbuffer *out = bufferevent_get_output(s->bev);
    evbuffer_add(out, head, hl);
    /* the message frame, as the first chunk */
    rh_stream_encoder enc;
    rh_stream_encoder_init(&enc, RH_STREAM_MESSAGE);
    size_t fs = rh_stream_frame_size(&enc, s->m);
    uint8_t *frame = malloc(fs);
    if (!frame) {
        snap_done(s, false, "out of memory");
        return;
    }
    rh_stream_encode(&enc, s->m, frame);
    char ch[RH_HTTP_CHUNK_HEADER_MAX];
    size_t cl = rh_http_write_chunk_header(ch, fs);
    evbuffer_add(out, ch, cl);
    evbuffer_add(out, frame, fs);
    evbuffer_add(out, RH_HTTP_CHUNK_END, RH_HTTP_CHUNK_END_LEN);
    free(frame);
    s->state = SS_BODY;
    bufferevent_set_timeouts(s->bev, NULL, NULL);
    struct timeval wt = {RH_CONN_WRITE_TIMEOUT_MS / 1000, 0};
    bufferevent_set_timeouts(s->bev, NULL, &wt);
    pump(s);
}

static void on_source(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    snap_send *s = arg;
    if (what & EV_TIMEOUT) {
        char why[96];
        snprintf(why, sizeof(why), "reading the snapshot body: no data for %d s",
                 SNAP_SOURCE_IDLE_S);
        snap_done(s, false, why);
        return;
    }
    pump(s);
}

static void on_write(struct bufferevent *bev, void *arg)
{
    (void)bev;
    pump(arg);
}

static void on_read(struct bufferevent *bev, void *arg)
{
    snap_send *s = arg;
    rh_err err;
    int rc = rhi_client_response_head(bev, &s->hp, &s->resp, &err);
    if (rc < 0) {
        snap_done(s, false, err.msg);
        return;
    }
    if (rc == 0)
        return;
    /* an early answer (an error before the body is done) ends it too */
    if (s->resp.status == 204) {
        snap_done(s, s->state == SS_WAIT, s->state == SS_WAIT ? NULL : "204 before the body ended");
        return;
    }
    char why[64];
    snprintf(why, sizeof(why), "unexpected http status %d", s->resp.status);
    snap_done(s, false, why);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
    snap_send *s = arg;
    if (what & BEV_EVENT_CONNECTED) {
        rh_socket_tune(bufferevent_getfd(bev));
        start_body(s);
        return;
    }
    char why[700], text[600];
    snprintf(why, sizeof(why), "%s: %s", s->url,
             rhi_conn_event_text(s->t, bev, what, 0, text, sizeof(text)));
    snap_done(s, false, why);
}

/* Loop thread: starts sending m (owned) with the body in fd (owned). */
/* Feeder thread: the file's first `size` bytes into the pipe, then EOF. */
static void *feeder_main(void *arg)
{
    snap_send *s = arg;
    rhi_thread_name("rh-snap-feed");
    sigset_t pipe_sig;
    sigemptyset(&pipe_sig);
    sigaddset(&pipe_sig, SIGPIPE); /* the loop closing the pipe gives EPIPE */
    pthread_sigmask(SIG_BLOCK, &pipe_sig, NULL);
    uint8_t *buf = malloc(SNAP_READ);
    uint64_t left = buf ? s->size : 0; /* no buffer: EOF at once, reported */
    while (left) {
        ssize_t n = read(s->file, buf, left < SNAP_READ ? (size_t)left : SNAP_READ);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break; /* the loop sees the pipe end early and reports it */
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(s->feed_w, buf + off, (size_t)(n - off));
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0)
                goto out;
            off += w;
        }
        left -= (uint64_t)n;
    }
out:
    free(buf);
    close(s->file);
    close(s->feed_w);
    return NULL;
}

/* A regular file goes through a pipe filled by a feeder thread; false when
 * that cannot be set up (the file is then read on the loop). */
static bool start_feeder(snap_send *s)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0)
        return false;
    fcntl(p[0], F_SETPIPE_SZ, 1 << 20); /* best effort: fewer wakeups */
    s->file = s->fd;
    s->feed_w = p[1];
    if (pthread_create(&s->feeder, NULL, feeder_main, s) != 0) {
        close(p[0]);
        close(p[1]);
        return false;
    }
    s->feeding = true;
    s->fd = p[0];
    return true;
}

void rhi_snapshot_send_start(rh_transport *t, rh_msg *m, int fd, uint64_t size)
{
    snap_send *s = calloc(1, sizeof(*s));
    if (!s) {
        close(fd);
        rhi_report_snapshot(t, m->to, false);
        rhi_tmsg_free(m);
        return;
    }
    s->t = t;
    s->m = m;
    s->fd = fd;
    s->size = size;
    struct stat sb;
    if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) && size)
        start_feeder(s);
    if (fstat(s->fd, &sb) == 0 && !S_ISREG(sb.st_mode)) {
        /* a pipe or socket: read it when readable, never block the loop */
        int fl = fcntl(s->fd, F_GETFL);
        if (fl >= 0)
            fcntl(s->fd, F_SETFL, fl | O_NONBLOCK);
        s->src_ev = event_new(t->base, s->fd, EV_READ, on_source, s);
    }
    s->next = t->snaps;
    t->snaps = s;
    peer *p = rhi_peers_find(t, m->to);
    if (!p)
        p = rhi_remotes_find(t, m->to);
    if (!p || !p->n_urls || p->paused) {
        rhi_transport_emit(t, RH_EV_DROPPED, m->to, m->type, "snapshot",
                       !p ? "unknown peer" : p->paused ? "peer paused" : "no URL");
        snap_done(s, false, !p ? "unknown peer" : p->paused ? "peer paused" : "no URL");
        return;
    }
    s->st = p->st;
    s->st->snap_send_inflight++;
    s->start_ms = rh_now_ms();
    snprintf(s->url, sizeof(s->url), "%s", p->urls[p->pick % p->n_urls]);
    rh_http_parser_init(&s->hp, s->hdrs, sizeof(s->hdrs) / sizeof(s->hdrs[0]), 0);
    s->state = SS_CONNECTING;
    char err[300];
    s->bev = rhi_conn_dial(t, s->url, on_read, on_write, on_event, s, err, sizeof(err));
    if (!s->bev) {
        snap_done(s, false, err);
        return;
    }
    bufferevent_setwatermark(s->bev, EV_WRITE, SNAP_HIGH / 2, 0);
}

void rhi_snapshot_send_free_all(rh_transport *t)
{
    while (t->snaps)
        snap_free(t->snaps);
}
