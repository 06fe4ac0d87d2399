/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Sending a snapshot from a file: member 1 writes 1 MiB to a temporary
 * file and sends it to member 2 as a MsgSnap (POST /raft/snapshot, the
 * body streamed from the file); member 2 saves it in its snap_dir and gets
 * process_snapshot with the saved file, member 1 gets report_snapshot. The
 * program compares the two files. Exits 0 when they are equal.
 *
 *   cc send_snapshot.c $(pkg-config --cflags --libs rafthttp) -o send_snapshot
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <rafthttp/transport.h>

#define SIZE (1024 * 1024)

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static char saved[4096]; /* member 2: the file the snapshot went to */
static int reported;     /* member 1: 1 finished, -1 failed */

static int process(void *ctx, const rh_msg *m, const char *via)
{
    (void)ctx;
    printf("got %s via %s\n", rh_msg_type_name(m->type), via);
    return 0;
}

/* Member 2: the body is in `path` now, and the file is ours. */
static int process_snapshot(void *ctx, const rh_msg *m, const char *path, uint64_t bytes)
{
    (void)ctx;
    printf("member 2: snapshot at index %llu, %llu bytes, saved as %s\n",
           (unsigned long long)m->snapshot.metadata.index, (unsigned long long)bytes, path);
    pthread_mutex_lock(&mu);
    snprintf(saved, sizeof(saved), "%s", path);
    pthread_cond_broadcast(&cond);
    pthread_mutex_unlock(&mu);
    return 0;
}

/* Member 1: how the send ended. */
static void report_snapshot(void *ctx, uint64_t id, bool finished)
{
    (void)ctx;
    printf("member 1: snapshot to %llx %s\n", (unsigned long long)id,
           finished ? "finished" : "failed");
    pthread_mutex_lock(&mu);
    reported = finished ? 1 : -1;
    pthread_cond_broadcast(&cond);
    pthread_mutex_unlock(&mu);
}

static rh_transport *member(uint64_t id, const char *snap_dir)
{
    static const char *listen[] = {"http://127.0.0.1:0"};
    char err[256];
    rh_transport_config cfg = {
        .id = id, .cluster_id = 0x2000, .listen = listen, .n_listen = 1, .snap_dir = snap_dir,
        .raft = {.process = process, .process_snapshot = process_snapshot,
                 .report_snapshot = report_snapshot}};
    rh_transport *t = rh_transport_new(&cfg, err, sizeof(err));
    if (!t || rh_transport_start(t) != 0) {
        fprintf(stderr, "member %llx: %s\n", (unsigned long long)id, t ? "cannot start" : err);
        exit(1);
    }
    return t;
}

static void add_peer(rh_transport *t, uint64_t id, rh_transport *other)
{
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", rh_transport_listen_port(other, 0));
    const char *urls[] = {url};
    rh_transport_add_peer(t, id, urls, 1);
}

static int same_file(const char *a, const char *b)
{
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    int same = fa && fb;
    while (same) {
        int ca = getc(fa), cb = getc(fb);
        same = ca == cb;
        if (ca == EOF)
            break;
    }
    if (fa)
        fclose(fa);
    if (fb)
        fclose(fb);
    return same;
}

int main(void)
{
    char dir[] = "/tmp/send_snapshot.XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    char src[64], snaps[64];
    snprintf(src, sizeof(src), "%s/db", dir);
    snprintf(snaps, sizeof(snaps), "%s/snap", dir);
    if (mkdir(snaps, 0700) != 0) /* snap_dir must exist */
        return 1;
    FILE *f = fopen(src, "wb");
    for (int i = 0; f && i < SIZE; i++)
        putc((i * 7 + i / 4096) & 0xff, f);
    if (!f || fclose(f) != 0)
        return 1;

    rh_transport *a = member(1, NULL), *b = member(2, snaps);
    add_peer(a, 2, b);
    add_peer(b, 1, a);

    uint64_t voters[] = {1, 2};
    rh_msg m = {.type = RH_MSG_SNAP, .to = 2, .from = 1, .term = 3,
                .snapshot = {.metadata = {.index = 42, .term = 3,
                                          .conf_state = {.voters = voters, .n_voters = 2}}}};
    int fd = open(src, O_RDONLY);
    if (fd < 0 || rh_transport_send_snapshot(a, &m, fd, SIZE) != 0) /* fd is the transport's */
        return 1;

    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 20;
    int timed_out = 0;
    pthread_mutex_lock(&mu);
    while ((!saved[0] || !reported) && !timed_out)
        timed_out = pthread_cond_timedwait(&cond, &mu, &until) != 0;
    pthread_mutex_unlock(&mu);
    rh_transport_free(a);
    rh_transport_free(b);

    int ok = !timed_out && reported == 1 && same_file(src, saved);
    if (saved[0])
        unlink(saved);
    unlink(src);
    rmdir(snaps);
    rmdir(dir);
    printf("send_snapshot: %s\n", ok ? "ok, the saved file equals the one sent"
                                     : "FAILED");
    return ok ? 0 : 1;
}
