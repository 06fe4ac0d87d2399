/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_scale: one transport (the hub, member 1) with N peers on loopback,
 * every peer's four streams attached and link heartbeats flowing, then an
 * idle period measured on the hub alone: its RSS per peer, its CPU (all its
 * threads) as a share of one core, and how many times a peer went inactive
 * (a read timeout would show there).
 *
 *   bench_scale [--peers N] [--idle S] [--procs P] [--probe-ms MS] [--json]
 *
 * --probe-ms sets every member's probe_interval_ms (default: the library's,
 * 4000; -1: no prober), to see what the probes cost beside the heartbeats.
 *
 * Prints a Markdown table, then the same figures as one JSON line (with
 * --json, the JSON line only).
 *
 * The peers are rh_transports too, N/P of them in each of P child
 * processes (each transport has two threads; splitting keeps every process
 * under the fd limit), listening on 127.0.0.2 and up, through the public
 * API only. Exit 1 when the streams do not all come up within 120 s.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "rafthttp/transport.h"

static int process(void *ctx, const rh_msg *m, const char *via)
{
    (void)ctx;
    (void)m;
    (void)via;
    return 0;
}

/* Counted during the idle window only, by the hub and by every child (in
 * memory shared across the fork): a peer going inactive, and those of them
 * whose reason is a stream reader's read timeout ("i/o timeout"). */
typedef struct counters {
    _Atomic int window;               /* the idle window is open */
    _Atomic unsigned hub_inactive, hub_timeouts;
    _Atomic unsigned peers_inactive, peers_timeouts;
} counters;
static counters *shm;

static void on_event(void *ctx, const rh_event *ev)
{
    bool hub = ctx != NULL;
    if (ev->kind != RH_EV_PEER_INACTIVE || !atomic_load(&shm->window))
        return;
    bool timeout = ev->text && strstr(ev->text, "i/o timeout");
    atomic_fetch_add(hub ? &shm->hub_inactive : &shm->peers_inactive, 1);
    if (timeout)
        atomic_fetch_add(hub ? &shm->hub_timeouts : &shm->peers_timeouts, 1);
}

static int probe_ms; /* 0: the library's default */

static rh_transport *make(uint64_t id, const char *host, bool hub)
{
    char url[64];
    snprintf(url, sizeof(url), "http://%s:0", host);
    const char *listen[] = {url};
    rh_transport_config cfg = {
        .id = id,
        .cluster_id = 0x5ca1e,
        .listen = listen,
        .n_listen = 1,
        .raft = {.process = process},
        .probe_interval_ms = probe_ms,
        .on_event = on_event,
        .event_ctx = hub ? (void *)1 : NULL,
    };
    char err[256];
    rh_transport *t = rh_transport_new(&cfg, err, sizeof(err));
    if (!t)
        fprintf(stderr, "bench_scale: member %llu: %s\n", (unsigned long long)id, err);
    return t;
}

static long rss_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;
    while (f && fgets(line, sizeof(line), f))
        if (sscanf(line, "VmRSS: %ld kB", &v) == 1)
            break;
    if (f)
        fclose(f);
    return v;
}

static double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A child: peers first..first+n-1, each with the hub as its peer; writes
 * "ID URL\n" per peer to out, then waits for its stdin to close. */
static void child(int first, int n, const char *hub_url, int out, int in)
{
    const char *hub[] = {hub_url};
    rh_transport **ts = calloc((size_t)n, sizeof(*ts));
    FILE *o = fdopen(out, "w");
    for (int i = 0; i < n; i++) {
        int id = first + i; /* 2.. */
        char host[32];
        snprintf(host, sizeof(host), "127.0.%d.%d", 0 + (id / 250), 2 + id % 250);
        if (!(ts[i] = make((uint64_t)id, host, false)) || rh_transport_start(ts[i]) != 0 ||
            rh_transport_add_peer(ts[i], 1, hub, 1) != 0)
            _exit(1);
        fprintf(o, "%d http://%s:%d\n", id, host, rh_transport_listen_port(ts[i], 0));
    }
    fclose(o);
    char c;
    while (read(in, &c, 1) > 0) {
    }
    for (int i = 0; i < n; i++)
        rh_transport_free(ts[i]);
    free(ts);
    _exit(0);
}

int main(int argc, char **argv)
{
    int n = 1000, procs = 4;
    double idle = 30;
    bool json = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--peers") && i + 1 < argc)
            n = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--idle") && i + 1 < argc)
            idle = atof(argv[++i]);
        else if (!strcmp(argv[i], "--procs") && i + 1 < argc)
            procs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--probe-ms") && i + 1 < argc)
            probe_ms = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--json"))
            json = true;
        else {
            fprintf(stderr, "usage: bench_scale [--peers N] [--idle S] [--procs P] "
                            "[--probe-ms MS] "
                            "[--json]\n");
            return 2;
        }
    }
    if (n < 1 || procs < 1 || procs > n || !(idle > 0)) {
        fprintf(stderr, "bench_scale: bad arguments\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    shm = mmap(NULL, sizeof(*shm), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (shm == MAP_FAILED)
        return 1;
    rh_transport *hub = make(1, "127.0.0.1", true);
    if (!hub || rh_transport_start(hub) != 0)
        return 1;
    char hub_url[64];
    snprintf(hub_url, sizeof(hub_url), "http://127.0.0.1:%d", rh_transport_listen_port(hub, 0));
    struct timespec settle = {0, 200 * 1000 * 1000};
    nanosleep(&settle, NULL);
    long rss0 = rss_kib();

    int hold[2];
    if (pipe(hold) != 0)
        return 1;
    pid_t *kids = calloc((size_t)procs, sizeof(*kids));
    FILE **outs = calloc((size_t)procs, sizeof(*outs));
    int per = (n + procs - 1) / procs, next = 2;
    for (int k = 0; k < procs; k++) {
        int cnt = next - 2 + per > n ? n - (next - 2) : per;
        int p[2];
        if (pipe(p) != 0)
            return 1;
        kids[k] = fork();
        if (kids[k] == 0) {
            close(p[0]);
            close(hold[1]);
            child(next, cnt, hub_url, p[1], hold[0]);
        }
        close(p[1]);
        outs[k] = fdopen(p[0], "r");
        next += cnt;
    }
    close(hold[0]);
    int added = 0;
    for (int k = 0; k < procs; k++) {
        int id;
        char url[64];
        while (fscanf(outs[k], "%d %63s", &id, url) == 2) {
            const char *u[] = {url};
            rh_transport_add_peer(hub, (uint64_t)id, u, 1);
            added++;
        }
        fclose(outs[k]);
    }
    if (added != n) {
        fprintf(stderr, "bench_scale: only %d of %d peers started\n", added, n);
        return 1;
    }

    rh_peer_status *st = calloc((size_t)n + 1, sizeof(*st));
    double t0 = now_s(), up_s = -1;
    size_t all = 0;
    while (now_s() - t0 < 120) {
        size_t got = rh_transport_status(hub, st, (size_t)n + 1);
        all = 0;
        for (size_t i = 0; i < got && i < (size_t)n; i++)
            all += st[i].active && st[i].streams == 4;
        if (all == (size_t)n) {
            up_s = now_s() - t0;
            break;
        }
        nanosleep(&settle, NULL);
    }
    int rc = 0;
    if (up_s < 0) {
        fprintf(stderr, "bench_scale: %zu of %d peers have all four streams after 120 s\n", all, n);
        rc = 1;
    } else {
        /* let the start-up settle (first probes, buffers) before the idle window */
        struct timespec s5 = {5, 0};
        nanosleep(&s5, NULL);
        long rss1 = rss_kib();
        atomic_store(&shm->window, 1);
        double c0 = cpu_seconds(), w0 = now_s();
        struct timespec ts = {(time_t)idle, (long)((idle - (double)(time_t)idle) * 1e9)};
        nanosleep(&ts, NULL);
        double cpu = cpu_seconds() - c0, wall = now_s() - w0;
        atomic_store(&shm->window, 0);
        unsigned inact = atomic_load(&shm->hub_inactive), tmo = atomic_load(&shm->hub_timeouts);
        unsigned pinact = atomic_load(&shm->peers_inactive);
        unsigned ptmo = atomic_load(&shm->peers_timeouts);
        size_t got = rh_transport_status(hub, st, (size_t)n + 1);
        size_t still = 0;
        for (size_t i = 0; i < got && i < (size_t)n; i++)
            still += st[i].active && st[i].streams == 4;
        double per_peer = (double)(rss1 - rss0) / n;
        double pct = cpu / wall * 100;
        if (!json)
            printf("| bench_scale | %d peers, %d child processes |\n"
                   "| --- | ---: |\n"
                   "| all four streams of every peer up after | %.1f s |\n"
                   "| idle window | %.1f s |\n"
                   "| hub RSS before peers / after | %ld / %ld KiB |\n"
                   "| hub RSS per idle peer | %.1f KiB |\n"
                   "| hub CPU at idle (all its threads) | %.2f%% of a core |\n"
                   "| peerInactive on the hub / on the peers | %u / %u |\n"
                   "| of them read timeouts (hub / peers) | %u / %u |\n"
                   "| peers with four streams at the end | %zu |\n\n",
                   n, procs, up_s, wall, rss0, rss1, per_peer, pct, inact, pinact, tmo, ptmo,
                   still);
        printf("{\"peers\":%d,\"procs\":%d,\"all_streams_up_s\":%.1f,\"idle_s\":%.1f,"
               "\"hub_rss_kib_before\":%ld,\"hub_rss_kib_after\":%ld,"
               "\"rss_kib_per_peer\":%.1f,\"idle_cpu_pct_of_core\":%.2f,"
               "\"peer_inactive_events\":%u,\"read_timeouts\":%u,"
               "\"peer_side_inactive_events\":%u,\"peer_side_read_timeouts\":%u,"
               "\"peers_with_4_streams_after\":%zu,\"probe_ms\":%d}\n",
               n, procs, up_s, wall, rss0, rss1, per_peer, pct, inact, tmo, pinact, ptmo, still,
               probe_ms ? probe_ms : RH_PROBE_INTERVAL_MS);
        if (inact || pinact || still != (size_t)n)
            rc = 1;
    }
    close(hold[1]); /* children stop */
    for (int k = 0; k < procs; k++)
        waitpid(kids[k], NULL, 0);
    rh_transport_free(hub);
    free(st);
    free(kids);
    free(outs);
    return rc;
}
