/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The socket BIO under TLS connections (sockbio.h): large reads handed to
 * OpenSSL a record at a time, records gathered into large writes.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sys/socket.h>
#include <unistd.h>

#include <event2/bufferevent_ssl.h>
#include <event2/bufferevent_struct.h>
#include <event2/event.h>
#include <openssl/ssl.h>

#include "transport/sockbio.h"
#include "transport/tmsg.h"

#define RBUF_CAP (256 * 1024)
#define WBUF_CAP (256 * 1024)
/* A buffer that held less than this at its fullest is freed once empty:
 * a connection with light traffic (heartbeats) keeps none between bursts,
 * one that moves large messages keeps its buffers. */
#define LIGHT (16 * 1024)
/* After its bufferevent is freed, how long unsent bytes may take to go. */
#define LINGER_MS 5000

typedef struct sockbio {
    struct event_base *base;
    evutil_socket_t fd;
    struct bufferevent *bev; /* the bufferevent_openssl over us; NULL after */
    uint8_t *rbuf;           /* [rpos, rlen): read, not yet taken */
    size_t rpos, rlen;
    uint8_t *wbuf;           /* [wpos, wlen): taken, not yet written */
    size_t wpos, wlen;
    size_t wpeak;            /* most bytes held since wbuf was allocated */
    struct event *wev;       /* flush: after the current callback, or when writable */
    struct event *kick;      /* re-arm bev's reading while rbuf holds bytes */
    int werr;                /* errno of a failed write: the next write reports it */
    bool eof;                /* the socket read 0 */
    bool shut_pending;       /* shut the write side once flushed */
    bool owns_fd;            /* the bufferevent left closing the fd to us */
    bool orphan;             /* BIO freed, unsent bytes still going out */
    struct sockbio *prev, *next; /* in g_orphans while orphan */
} sockbio;

/* Orphans of every transport, for rhi_sockbio_drop_orphans. */
static pthread_mutex_t g_orphans_mu = PTHREAD_MUTEX_INITIALIZER;
static sockbio *g_orphans;

static BIO_METHOD *g_method;
static int g_type;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static bool would_block(int e)
{
    return e == EAGAIN || e == EWOULDBLOCK || e == EINTR;
}

static void sb_free(sockbio *sb)
{
    if (sb->orphan) {
        pthread_mutex_lock(&g_orphans_mu);
        if (sb->prev)
            sb->prev->next = sb->next;
        else
            g_orphans = sb->next;
        if (sb->next)
            sb->next->prev = sb->prev;
        pthread_mutex_unlock(&g_orphans_mu);
    }
    if (sb->owns_fd)
        evutil_closesocket(sb->fd);
    if (sb->wev)
        event_free(sb->wev);
    if (sb->kick)
        event_free(sb->kick);
    free(sb->rbuf);
    free(sb->wbuf);
    free(sb);
}

/* Writes what is held; 1 when nothing is left, 0 when the socket is full
 * (wev then waits for it), -1 on a socket error (werr set, bytes dropped). */
static int flush(sockbio *sb)
{
    while (sb->wpos < sb->wlen) {
        ssize_t n = send(sb->fd, sb->wbuf + sb->wpos, sb->wlen - sb->wpos, MSG_NOSIGNAL);
        if (n > 0) {
            sb->wpos += (size_t)n;
            continue;
        }
        int e = errno;
        if (n < 0 && would_block(e)) {
            if (!event_pending(sb->wev, EV_WRITE, NULL)) {
                struct timeval tv = {LINGER_MS / 1000, (LINGER_MS % 1000) * 1000};
                event_add(sb->wev, sb->orphan ? &tv : NULL);
            }
            return 0;
        }
        sb->werr = n < 0 ? e : EPIPE;
        sb->wpos = sb->wlen = 0;
        return -1;
    }
    sb->wpos = sb->wlen = 0;
    if (sb->wpeak < LIGHT) { /* light traffic: an idle connection holds no buffer */
        free(sb->wbuf);
        sb->wbuf = NULL;
    }
    sb->wpeak = 0;
    if (sb->shut_pending) {
        sb->shut_pending = false;
        shutdown(sb->fd, SHUT_WR);
    }
    return 1;
}

static void on_wev(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    sockbio *sb = arg;
    int r = (what & EV_TIMEOUT) ? -1 : flush(sb);
    if (sb->orphan && r != 0)
        sb_free(sb); /* written, failed or out of time: close */
}

/* The kick runs after the current callback. The bufferevent may have been
 * freed meanwhile: bufferevent_free clears its callbacks at once and
 * finalizes it (its events, then its SSL and so this BIO, which cancels the
 * kick) later, so a bufferevent without a read callback is left alone. */
static void schedule_kick(sockbio *sb)
{
    if (sb->bev)
        event_active(sb->kick, EV_READ, 1);
}

static void on_kick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    sockbio *sb = arg;
    struct bufferevent *bev = sb->bev;
    bufferevent_data_cb readcb = NULL;
    if (!bev || sb->rpos == sb->rlen)
        return;
    bufferevent_getcb(bev, &readcb, NULL, NULL, NULL);
    if (readcb && (bufferevent_get_enabled(bev) & EV_READ))
        event_active(&bev->ev_read, EV_READ, 1);
}

static int sb_read(BIO *b, char *out, int outl)
{
    sockbio *sb = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    if (!sb || outl <= 0)
        return 0;
    if (sb->rpos == sb->rlen) {
        if (!sb->rbuf && !(sb->rbuf = rhi_read_buf_alloc(RBUF_CAP))) {
            errno = ENOMEM;
            return -1;
        }
        ssize_t n = recv(sb->fd, sb->rbuf, RBUF_CAP, 0);
        if (n <= 0) {
            int e = errno;
            if (n < 0 && would_block(e))
                BIO_set_retry_read(b);
            else if (n == 0)
                sb->eof = true;
            free(sb->rbuf); /* nothing held: nothing kept */
            sb->rbuf = NULL;
            errno = e;
            return n < 0 ? -1 : 0;
        }
        sb->rpos = 0;
        sb->rlen = (size_t)n;
    }
    size_t k = sb->rlen - sb->rpos;
    if (k > (size_t)outl)
        k = (size_t)outl;
    memcpy(out, sb->rbuf + sb->rpos, k);
    sb->rpos += k;
    if (sb->rpos == sb->rlen) {
        bool light = sb->rlen < LIGHT;
        sb->rpos = sb->rlen = 0;
        if (light) {
            free(sb->rbuf);
            sb->rbuf = NULL;
        }
    } else {
        /* libevent asks OpenSSL again only while the record it decrypted
         * has bytes left, or when the socket is readable: the next record
         * is here already */
        schedule_kick(sb);
    }
    return (int)k;
}

static int sb_write(BIO *b, const char *in, int inl)
{
    sockbio *sb = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    if (!sb || inl <= 0)
        return 0;
    if (sb->werr) {
        errno = sb->werr;
        return -1;
    }
    size_t n = (size_t)inl;
    if (sb->wlen - sb->wpos + n > WBUF_CAP && sb->wlen > sb->wpos) {
        if (flush(sb) < 0) {
            errno = sb->werr;
            return -1;
        }
        if (sb->wlen > sb->wpos) { /* the socket is full */
            BIO_set_retry_write(b);
            return -1;
        }
    }
    if (n > WBUF_CAP) { /* larger than the buffer (and it is empty): as a socket BIO */
        ssize_t w = send(sb->fd, in, n, MSG_NOSIGNAL);
        if (w < 0 && would_block(errno))
            BIO_set_retry_write(b);
        return w < 0 ? -1 : (int)w;
    }
    if (!sb->wbuf && !(sb->wbuf = malloc(WBUF_CAP))) {
        errno = ENOMEM;
        return -1;
    }
    if (sb->wpos && sb->wlen + n > WBUF_CAP) {
        memmove(sb->wbuf, sb->wbuf + sb->wpos, sb->wlen - sb->wpos);
        sb->wlen -= sb->wpos;
        sb->wpos = 0;
    }
    bool was_empty = sb->wlen == sb->wpos;
    memcpy(sb->wbuf + sb->wlen, in, n);
    sb->wlen += n;
    if (sb->wlen - sb->wpos > sb->wpeak)
        sb->wpeak = sb->wlen - sb->wpos;
    /* written once the callback that is writing returns, with whatever
     * else it writes */
    if (was_empty && !event_pending(sb->wev, EV_WRITE, NULL))
        event_active(sb->wev, EV_WRITE, 1);
    return inl;
}

static long sb_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    sockbio *sb = BIO_get_data(b);
    if (!sb)
        return 0;
    switch (cmd) {
    case BIO_C_GET_FD:
        /* libevent asks this to close the socket when the bufferevent is
         * freed: with bytes still to send, the BIO closes it after them */
        if (sb->wlen > sb->wpos && !sb->werr) {
            sb->owns_fd = true;
            return -1;
        }
        if (ptr)
            *(int *)ptr = (int)sb->fd;
        return (long)sb->fd;
    case BIO_CTRL_GET_CLOSE:
        return BIO_get_shutdown(b);
    case BIO_CTRL_SET_CLOSE:
        BIO_set_shutdown(b, (int)num);
        return 1;
    case BIO_CTRL_FLUSH:
        if (sb->wlen == sb->wpos)
            return 1;
        BIO_clear_retry_flags(b);
        switch (flush(sb)) {
        case 1:
            return 1;
        case 0:
            BIO_set_retry_write(b);
            return 0;
        default:
            return -1;
        }
    case BIO_CTRL_PENDING:
        return (long)(sb->rlen - sb->rpos);
    case BIO_CTRL_WPENDING:
        return (long)(sb->wlen - sb->wpos);
    case BIO_CTRL_EOF:
        return sb->eof && sb->rpos == sb->rlen;
    case BIO_CTRL_DUP:
        return 1;
    default:
        return 0;
    }
}

static int sb_create(BIO *b)
{
    BIO_set_init(b, 1);
    BIO_set_data(b, NULL);
    return 1;
}

static int sb_destroy(BIO *b)
{
    sockbio *sb = BIO_get_data(b);
    BIO_set_data(b, NULL);
    if (!sb)
        return 1;
    sb->bev = NULL;
    if (BIO_get_shutdown(b)) /* BIO_CLOSE: the socket was given to us */
        sb->owns_fd = true;
    if (sb->owns_fd && sb->wlen > sb->wpos && !sb->werr) {
        sb->orphan = true; /* the rest goes out first, then the socket closes */
        pthread_mutex_lock(&g_orphans_mu);
        sb->prev = NULL;
        sb->next = g_orphans;
        if (g_orphans)
            g_orphans->prev = sb;
        g_orphans = sb;
        pthread_mutex_unlock(&g_orphans_mu);
        event_del(sb->kick);
        int r = flush(sb);
        if (r != 0)
            sb_free(sb);
        else if (event_pending(sb->wev, EV_WRITE, NULL)) {
            struct timeval tv = {LINGER_MS / 1000, (LINGER_MS % 1000) * 1000};
            event_add(sb->wev, &tv); /* now with the deadline */
        }
        return 1;
    }
    sb_free(sb);
    return 1;
}

static void make_method(void)
{
    int type = BIO_get_new_index();
    if (type < 0)
        return;
    type |= BIO_TYPE_SOURCE_SINK | BIO_TYPE_DESCRIPTOR;
    BIO_METHOD *m = BIO_meth_new(type, "rafthttp socket");
    if (!m)
        return;
    if (!BIO_meth_set_write(m, sb_write) || !BIO_meth_set_read(m, sb_read) ||
        !BIO_meth_set_ctrl(m, sb_ctrl) || !BIO_meth_set_create(m, sb_create) ||
        !BIO_meth_set_destroy(m, sb_destroy)) {
        BIO_meth_free(m);
        return;
    }
    g_type = type;
    g_method = m;
}

BIO *rhi_sockbio_new(struct event_base *base, evutil_socket_t fd)
{
    pthread_once(&g_once, make_method);
    if (!g_method)
        return NULL;
    sockbio *sb = calloc(1, sizeof(*sb));
    if (!sb)
        return NULL;
    sb->base = base;
    sb->fd = fd;
    sb->wev = event_new(base, fd, EV_WRITE, on_wev, sb);
    sb->kick = event_new(base, -1, 0, on_kick, sb);
    BIO *b = sb->wev && sb->kick ? BIO_new(g_method) : NULL;
    if (!b) {
        sb_free(sb);
        return NULL;
    }
    BIO_set_data(b, sb);
    BIO_set_shutdown(b, BIO_NOCLOSE);
    return b;
}

static sockbio *ours(BIO *b)
{
    return b && g_method && BIO_method_type(b) == g_type ? BIO_get_data(b) : NULL;
}

void rhi_sockbio_attach(BIO *b, struct bufferevent *bev)
{
    sockbio *sb = ours(b);
    if (sb)
        sb->bev = bev;
}

void rhi_sockbio_enable(BIO *b)
{
    sockbio *sb = ours(b);
    if (sb && sb->rpos < sb->rlen)
        schedule_kick(sb);
}

size_t rhi_sockbio_unsent(BIO *b)
{
    sockbio *sb = ours(b);
    return sb ? sb->wlen - sb->wpos : 0;
}

void rhi_sockbio_shutdown_write(BIO *b)
{
    sockbio *sb = ours(b);
    if (!sb)
        return;
    if (sb->wlen > sb->wpos)
        sb->shut_pending = true;
    else
        shutdown(sb->fd, SHUT_WR);
}

void rhi_sockbio_drop_orphans(struct event_base *base)
{
    for (;;) {
        pthread_mutex_lock(&g_orphans_mu);
        sockbio *sb = g_orphans;
        while (sb && sb->base != base)
            sb = sb->next;
        pthread_mutex_unlock(&g_orphans_mu);
        if (!sb)
            return;
        sb_free(sb); /* unlinks it */
    }
}
