/* SPDX-License-Identifier: Apache-2.0 */
/*
 * idle_floor: what etcd's idle traffic costs a hub with N peers when
 * nothing but the bytes is done: no HTTP parsing, no protobuf, no
 * bufferevents, no per-connection timers. The floor under bench_scale's
 * "hub CPU at idle".
 *
 * Per peer, 8 loopback TCP connections (TCP_NODELAY, as the transport's),
 * carrying what bench_scale's pair of members carries at idle:
 *   0, 1  the hub's two stream writers: a link heartbeat every 1667 ms
 *         (6 and 13 bytes: the chunked msgappv2 and message heartbeats)
 *   2, 3  the peer's two stream writers to the hub: the same, read by it
 *   4, 5  the hub's two probers: a 100-byte request every 4000 ms, a
 *         150-byte answer read back
 *   6, 7  the peer's two probers: the hub reads the request and answers
 * Every sender has its own random phase. One thread a process, one epoll
 * set; due sends are made on a tick (--tick-ms, default 10: a cheaper
 * schedule than a timer each), reads as epoll reports them, one recv() a
 * readable socket.
 *
 * The peers are in --procs child processes. Only the hub is measured:
 * getrusage over --idle seconds after a 3 s settle, as a share of a core,
 * and its send and recv calls a second.
 *
 *   idle_floor --peers 1000 --procs 4 --idle 30
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define ROLES 8

typedef struct conn {
    int fd;
    int period_ms; /* sends `size` bytes this often; 0: never on its own */
    int size;
    int answer;    /* bytes sent back for each read; 0: none */
    int64_t due;   /* ms */
} conn;

static uint64_t n_send, n_recv;

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

static void die(const char *what)
{
    perror(what);
    exit(1);
}

/* What role r does on the hub's side (hub) or the peer's. */
static void set_role(conn *c, int role, bool hub)
{
    static const int hb_size[2] = {6, 13};
    c->period_ms = c->size = c->answer = 0;
    bool mine = (role < 2 || (role >= 4 && role < 6)) == hub; /* this side starts */
    if (role < 4) {
        if (mine) {
            c->period_ms = 1667;
            c->size = hb_size[role & 1];
        }
    } else if (mine) {
        c->period_ms = 4000;
        c->size = 100;
    } else {
        c->answer = 150;
    }
    c->due = now_ms() + (c->period_ms ? rand() % c->period_ms : 0);
}

/* Runs the side's loop until `until` (ms; 0: for ever). */
static void run(conn *cs, size_t n, int tick_ms, int64_t until)
{
    int ep = epoll_create1(0);
    if (ep < 0)
        die("epoll_create1");
    for (size_t i = 0; i < n; i++) {
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &cs[i]};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, cs[i].fd, &ev) != 0)
            die("epoll_ctl");
    }
    static char buf[4096], out[256];
    memset(out, 'x', sizeof(out));
    struct epoll_event evs[256];
    int64_t next_tick = now_ms() + tick_ms;
    for (;;) {
        int64_t t = now_ms();
        if (until && t >= until)
            break;
        int wait_ms = next_tick > t ? (int)(next_tick - t) : 0;
        int k = epoll_wait(ep, evs, 256, wait_ms);
        for (int i = 0; i < k; i++) {
            conn *c = evs[i].data.ptr;
            ssize_t r = recv(c->fd, buf, sizeof(buf), 0);
            n_recv++;
            if (r == 0)
                exit(0); /* the other side is gone */
            if (r > 0 && c->answer) {
                send(c->fd, out, (size_t)c->answer, MSG_NOSIGNAL | MSG_DONTWAIT);
                n_send++;
            }
        }
        t = now_ms();
        if (t >= next_tick) {
            for (size_t i = 0; i < n; i++) {
                if (cs[i].period_ms && cs[i].due <= t) {
                    send(cs[i].fd, out, (size_t)cs[i].size, MSG_NOSIGNAL | MSG_DONTWAIT);
                    n_send++;
                    cs[i].due += cs[i].period_ms;
                }
            }
            next_tick = t + tick_ms;
        }
    }
    close(ep);
}

static void nodelay(int fd)
{
    int on = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
}

int main(int argc, char **argv)
{
    int peers = 1000, procs = 4, idle = 30, tick_ms = 10;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--peers"))
            peers = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--procs"))
            procs = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--idle"))
            idle = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--tick-ms"))
            tick_ms = atoi(argv[i + 1]);
        else {
            fprintf(stderr, "usage: idle_floor [--peers N] [--procs P] [--idle S] [--tick-ms MS]\n");
            return 2;
        }
    }
    if (peers < 1 || procs < 1 || idle < 1 || tick_ms < 1) {
        fprintf(stderr, "idle_floor: every value must be at least 1\n");
        return 2;
    }
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof(a);
    if (ls < 0 || bind(ls, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(ls, 4096) != 0 ||
        getsockname(ls, (struct sockaddr *)&a, &al) != 0)
        die("listen");
    size_t n = (size_t)peers * ROLES;
    for (int p = 0; p < procs; p++) {
        pid_t pid = fork();
        if (pid < 0)
            die("fork");
        if (pid)
            continue;
        close(ls);
        srand((unsigned)getpid());
        size_t mine = 0;
        conn *cs = calloc(n, sizeof(*cs));
        for (int peer = p; peer < peers; peer += procs) {
            for (int role = 0; role < ROLES; role++) {
                int fd = socket(AF_INET, SOCK_STREAM, 0);
                if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0)
                    die("connect");
                nodelay(fd);
                char r = (char)role;
                if (write(fd, &r, 1) != 1)
                    die("write");
                cs[mine].fd = fd;
                set_role(&cs[mine++], role, false);
            }
        }
        run(cs, mine, tick_ms, 0);
        return 0;
    }
    conn *cs = calloc(n, sizeof(*cs));
    if (!cs)
        die("calloc");
    srand(1);
    for (size_t i = 0; i < n; i++) {
        int fd = accept(ls, NULL, NULL);
        if (fd < 0)
            die("accept (ulimit -n must exceed 8 x peers)");
        nodelay(fd);
        char r;
        if (read(fd, &r, 1) != 1 || r < 0 || r >= ROLES)
            die("read role");
        cs[i].fd = fd;
        set_role(&cs[i], r, true);
    }
    run(cs, n, tick_ms, now_ms() + 3000); /* settle */
    n_send = n_recv = 0;
    double c0 = cpu_s();
    int64_t t0 = now_ms();
    run(cs, n, tick_ms, t0 + (int64_t)idle * 1000);
    double secs = (double)(now_ms() - t0) / 1000.0;
    double cpu = cpu_s() - c0;
    printf("{\"peers\":%d,\"procs\":%d,\"tick_ms\":%d,\"idle_s\":%.1f,\"hub_cpu_pct_of_core\":%.2f,"
           "\"hub_sends_per_s\":%.0f,\"hub_recvs_per_s\":%.0f,\"us_per_call\":%.2f}\n",
           peers, procs, tick_ms, secs, 100.0 * cpu / secs, (double)n_send / secs,
           (double)n_recv / secs, 1e6 * cpu / (double)(n_send + n_recv));
    for (size_t i = 0; i < n; i++)
        close(cs[i].fd);
    while (wait(NULL) > 0)
        ;
    return 0;
}
