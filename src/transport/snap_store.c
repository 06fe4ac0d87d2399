/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Snapshot store: writes a received snapshot body to disk on a thread of
 * its own, so that no disk I/O (write, fsync, rename) ever runs on the loop,
 * where it would hold up every stream of every peer.
 *
 * The loop pushes body bytes into a 1 MiB ring; the writer thread drains it
 * into a temp file in the snapshot directory. The loop checks
 * snap_store_room() before taking more from a connection and stops reading
 * it when the ring is nearly full: the peer is slowed to the disk's pace,
 * and memory stays at the ring's size whatever the snapshot's. At the end
 * the thread fsyncs, closes and renames the file to its final name. It
 * activates the owner's event whenever room frees up after the owner asked
 * (rhi_snap_store_want_room) and when it has finished or failed.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "transport/internal.h"

#define RING (1u << 20)

struct snap_store {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cond;    /* data or an order for the writer */
    pthread_cond_t room;    /* room for a pusher that did not check first */
    struct event *notify;   /* the owner's, activated on the loop's base */
    uint8_t *ring;          /* RING bytes */
    size_t head, count;     /* [mu] oldest unwritten byte, bytes unwritten */
    bool finishing;         /* [mu] no more data: fsync and rename */
    bool cancel;            /* [mu] stop now, remove the file */
    bool want_room;         /* [mu] the owner waits for room */
    bool ended;             /* [mu] the thread is done (finished or failed) */
    int err;                /* [mu] errno of the first failure, 0 if none */
    int fd;
    char tmp[512];          /* the temp file */
    char final[600];        /* its name once complete */
    bool renamed;           /* [mu] final exists */
};

static void *writer_main(void *arg)
{
    snap_store *s = arg;
    rhi_thread_name("rh-snap-store");
    pthread_mutex_lock(&s->mu);
    for (;;) {
        while (!s->count && !s->finishing && !s->cancel)
            pthread_cond_wait(&s->cond, &s->mu);
        if (s->cancel || (!s->count && s->finishing))
            break;
        size_t tail = s->head;
        size_t span = s->count < RING - tail ? s->count : RING - tail;
        pthread_mutex_unlock(&s->mu);
        /* the loop only fills the free part of the ring: this span is ours */
        ssize_t w = write(s->fd, s->ring + tail, span);
        int e = w < 0 ? errno : 0;
        pthread_mutex_lock(&s->mu);
        if (w < 0 && e == EINTR)
            continue;
        if (w <= 0) {
            s->err = w < 0 ? e : EIO;
            break;
        }
        s->head = (s->head + (size_t)w) % RING;
        s->count -= (size_t)w;
        pthread_cond_signal(&s->room);
        if (s->want_room && RING - s->count >= RING / 2) {
            s->want_room = false;
            event_active(s->notify, EV_READ, 0);
        }
    }
    bool finish = s->finishing && !s->cancel && !s->err;
    pthread_mutex_unlock(&s->mu);

    int e = 0;
    if (finish && fsync(s->fd) != 0)
        e = errno;
    if (close(s->fd) != 0 && finish && !e)
        e = errno;
    s->fd = -1;
    if (finish && !e && rename(s->tmp, s->final) != 0)
        e = errno;
    bool renamed = finish && !e;
    if (!renamed)
        unlink(s->tmp); /* a broken upload leaves no file behind */

    pthread_mutex_lock(&s->mu);
    if (!s->err)
        s->err = e;
    s->renamed = renamed;
    s->ended = true;
    pthread_cond_signal(&s->room);
    if (!s->cancel)
        event_active(s->notify, EV_READ, 0);
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

snap_store *rhi_snap_store_open(const char *dir, struct event *notify, int *err)
{
    snap_store *s = calloc(1, sizeof(*s));
    if (!s || !(s->ring = malloc(RING))) {
        free(s);
        *err = ENOMEM;
        return NULL;
    }
    s->notify = notify;
    snprintf(s->tmp, sizeof(s->tmp), "%s/tmpXXXXXX", dir);
    s->fd = mkstemp(s->tmp);
    if (s->fd < 0) {
        *err = errno;
        free(s->ring);
        free(s);
        return NULL;
    }
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cond, NULL);
    pthread_cond_init(&s->room, NULL);
    int rc = pthread_create(&s->thread, NULL, writer_main, s);
    if (rc) {
        close(s->fd);
        unlink(s->tmp);
        pthread_mutex_destroy(&s->mu);
        pthread_cond_destroy(&s->cond);
        pthread_cond_destroy(&s->room);
        free(s->ring);
        free(s);
        *err = rc;
        return NULL;
    }
    return s;
}

const char *rhi_snap_store_temp_path(const snap_store *s)
{
    return s->tmp;
}

bool rhi_snap_store_want_room(snap_store *s, size_t want)
{
    pthread_mutex_lock(&s->mu);
    bool waiting = !s->ended && RING - s->count < want;
    if (waiting)
        s->want_room = true;
    pthread_mutex_unlock(&s->mu);
    return waiting;
}

int rhi_snap_store_push(snap_store *s, const void *p, size_t n)
{
    const uint8_t *b = p;
    pthread_mutex_lock(&s->mu);
    while (n && !s->ended) {
        size_t room = RING - s->count;
        if (!room) { /* callers check the room first; a safety net */
            pthread_cond_wait(&s->room, &s->mu);
            continue;
        }
        size_t at = (s->head + s->count) % RING;
        size_t k = n < room ? n : room;
        if (k > RING - at)
            k = RING - at;
        pthread_mutex_unlock(&s->mu);
        memcpy(s->ring + at, b, k); /* the free part: the writer does not read it */
        pthread_mutex_lock(&s->mu);
        s->count += k;
        b += k;
        n -= k;
        pthread_cond_signal(&s->cond);
    }
    int err = s->ended ? (s->err ? s->err : EIO) : 0;
    pthread_mutex_unlock(&s->mu);
    return err;
}

void rhi_snap_store_finish(snap_store *s, const char *final_path)
{
    snprintf(s->final, sizeof(s->final), "%s", final_path);
    pthread_mutex_lock(&s->mu);
    s->finishing = true;
    pthread_cond_signal(&s->cond);
    pthread_mutex_unlock(&s->mu);
}

bool rhi_snap_store_ended(snap_store *s, int *err)
{
    pthread_mutex_lock(&s->mu);
    bool ended = s->ended;
    *err = s->err;
    pthread_mutex_unlock(&s->mu);
    return ended;
}

void rhi_snap_store_close(snap_store *s, bool keep)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->mu);
    if (!s->ended && !s->finishing)
        s->cancel = true;
    pthread_cond_signal(&s->cond);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->thread, NULL); /* at most a write, or an fsync when finishing */
    if (s->renamed && !keep)
        unlink(s->final); /* complete, but raft never heard of it */
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cond);
    pthread_cond_destroy(&s->room);
    free(s->ring);
    free(s);
}
