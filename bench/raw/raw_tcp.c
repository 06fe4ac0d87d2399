/* SPDX-License-Identifier: Apache-2.0 */
/*
 * raw_tcp: what loopback TCP itself does on this machine, the ceiling
 * bench/run.sh puts beside both transports. One process, two threads, one
 * connection:
 *   stream    64 KiB writes, the reader reads 256 KiB at a time (MB/s)
 *   small     64-byte messages (8-byte big-endian length + 56 bytes),
 *             1024 to a 64 KiB write; the reader walks the lengths (msgs/s)
 *   pingpong  8 bytes each way, TCP_NODELAY (round trip percentiles)
 *
 *   raw_tcp --case stream|small|pingpong [--seconds S] [--read-offset N] [--json]
 *
 * --read-offset N: the reader reads into a page-aligned buffer N bytes in
 * (default 0). `--case stream --read-offset 16` shows what a buffer from
 * malloc (16 bytes into a page) costs the kernel's copy on this machine.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { C_STREAM, C_SMALL, C_PINGPONG };

static int kase = -1;
static double seconds = 3;
static size_t read_offset; /* --read-offset */
static _Atomic int stop;
static _Atomic uint64_t bytes_read, msgs_read;

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

static void pair(int *a, int *b)
{
    int l = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof(sa);
    if (l < 0 || bind(l, (struct sockaddr *)&sa, sizeof(sa)) || listen(l, 1) ||
        getsockname(l, (struct sockaddr *)&sa, &sl)) {
        perror("raw_tcp: listen");
        exit(1);
    }
    *a = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(*a, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        perror("raw_tcp: connect");
        exit(1);
    }
    *b = accept(l, NULL, NULL);
    close(l);
    int on = 1;
    setsockopt(*a, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
    setsockopt(*b, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
}

static int wfd, rfd;

static void *writer_main(void *arg)
{
    (void)arg;
    static uint8_t buf[65536];
    if (kase == C_SMALL) {
        for (size_t i = 0; i < sizeof(buf); i += 64) {
            memset(buf + i, 0, 8);
            buf[i + 7] = 56;
            memset(buf + i + 8, 0x5a, 56);
        }
    }
    while (!atomic_load(&stop)) {
        size_t off = 0;
        while (off < sizeof(buf)) {
            ssize_t n = write(wfd, buf + off, sizeof(buf) - off);
            if (n <= 0)
                return NULL;
            off += (size_t)n;
        }
    }
    return NULL;
}

static void *reader_main(void *arg)
{
    (void)arg;
    static uint8_t page_buf[262144 + 4096] __attribute__((aligned(4096)));
    uint8_t *buf = page_buf + read_offset;
    size_t skip = 0; /* bytes left of the current small message */
    for (;;) {
        ssize_t n = read(rfd, buf, 262144);
        if (n <= 0)
            return NULL;
        atomic_fetch_add_explicit(&bytes_read, (uint64_t)n, memory_order_relaxed);
        if (kase != C_SMALL)
            continue;
        size_t pos = skip < (size_t)n ? skip : (size_t)n;
        skip -= pos;
        uint64_t k = 0;
        while (pos < (size_t)n) {
            /* a length split across reads: messages are 64 bytes here, so
             * the length is known; still walk as a reader would */
            size_t len = 8 + (pos + 8 <= (size_t)n ? (size_t)buf[pos + 7] : 56);
            k++;
            if (pos + len > (size_t)n) {
                skip = pos + len - (size_t)n;
                break;
            }
            pos += len;
        }
        atomic_fetch_add_explicit(&msgs_read, k, memory_order_relaxed);
    }
}

static int cmp(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static void *echo_main(void *arg)
{
    (void)arg;
    uint8_t b[8];
    for (;;) {
        size_t got = 0;
        while (got < 8) {
            ssize_t n = read(rfd, b + got, 8 - got);
            if (n <= 0)
                return NULL;
            got += (size_t)n;
        }
        if (write(rfd, b, 8) != 8)
            return NULL;
    }
}

static double pct(const int64_t *v, size_t n, unsigned p)
{
    size_t k = (p * n + 99) / 100;
    if (k < 1)
        k = 1;
    if (k > n)
        k = n;
    return n ? (double)v[k - 1] / 1000.0 : 0;
}

int main(int argc, char **argv)
{
    bool json = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] == '-' && a[1] == '-')
            a++;
        if (!strcmp(a, "-case") && i + 1 < argc) {
            const char *c = argv[++i];
            kase = !strcmp(c, "stream") ? C_STREAM : !strcmp(c, "small") ? C_SMALL
                   : !strcmp(c, "pingpong") ? C_PINGPONG : -1;
        } else if (!strcmp(a, "-seconds") && i + 1 < argc) {
            seconds = atof(argv[++i]);
        } else if (!strcmp(a, "-read-offset") && i + 1 < argc) {
            long v = atol(argv[++i]);
            read_offset = v >= 0 && v <= 4096 ? (size_t)v : 4097;
        } else if (!strcmp(a, "-json")) {
            json = true;
        } else {
            kase = -2;
        }
    }
    if (kase < 0 || !(seconds > 0) || read_offset > 4096) {
        fprintf(stderr, "usage: raw_tcp --case stream|small|pingpong [--seconds S] "
                        "[--read-offset 0..4096] [--json]\n");
        return 2;
    }
    static const char *names[] = {"stream", "small", "pingpong"};
    signal(SIGPIPE, SIG_IGN); /* the writer may write once more after the reader shuts down */
    pair(&wfd, &rfd);
    pthread_t a, b;
    if (kase == C_PINGPONG) {
        pthread_create(&b, NULL, echo_main, NULL);
        size_t cap = 1 << 20, n = 0;
        int64_t *s = malloc(cap * sizeof(*s));
        uint8_t m[8] = {0};
        double cpu0 = cpu_seconds();
        int64_t t0 = now_ns(), end = t0 + (int64_t)(seconds * 1e9);
        while (now_ns() < end) {
            int64_t t = now_ns();
            if (write(wfd, m, 8) != 8)
                break;
            size_t got = 0;
            while (got < 8) {
                ssize_t k = read(wfd, m + got, 8 - got);
                if (k <= 0)
                    return 1;
                got += (size_t)k;
            }
            if (n == cap)
                s = realloc(s, (cap *= 2) * sizeof(*s));
            s[n++] = now_ns() - t;
        }
        double secs = (double)(now_ns() - t0) / 1e9, cpu = cpu_seconds() - cpu0;
        qsort(s, n, sizeof(*s), cmp);
        if (json)
            printf("{\"impl\":\"raw\",\"case\":\"pingpong\",\"size\":8,\"seconds\":%.3f,\"msgs\":%zu,"
                   "\"msgs_per_sec\":%.0f,\"mb_per_sec\":0,\"dropped\":0,\"cpu_sec\":%.3f,"
                   "\"cpu_sec_per_million\":%.3f,\"p50_us\":%.1f,\"p90_us\":%.1f,\"p99_us\":%.1f,"
                   "\"max_us\":%.1f,\"samples\":%zu}\n",
                   secs, n, (double)n / secs, cpu, cpu / (double)n * 1e6, pct(s, n, 50),
                   pct(s, n, 90), pct(s, n, 99), pct(s, n, 100), n);
        else
            printf("pingpong: p50 %.1f us, p99 %.1f us (%zu)\n", pct(s, n, 50), pct(s, n, 99), n);
        shutdown(wfd, SHUT_RDWR);
        pthread_join(b, NULL);
        free(s);
        return 0;
    }
    pthread_create(&b, NULL, reader_main, NULL);
    pthread_create(&a, NULL, writer_main, NULL);
    struct timespec warm = {0, 300 * 1000 * 1000};
    nanosleep(&warm, NULL);
    uint64_t b0 = atomic_load(&bytes_read), m0 = atomic_load(&msgs_read);
    double cpu0 = cpu_seconds();
    int64_t t0 = now_ns();
    struct timespec ts = {(time_t)seconds, (long)((seconds - (double)(time_t)seconds) * 1e9)};
    nanosleep(&ts, NULL);
    double secs = (double)(now_ns() - t0) / 1e9, cpu = cpu_seconds() - cpu0;
    uint64_t by = atomic_load(&bytes_read) - b0, ms = atomic_load(&msgs_read) - m0;
    atomic_store(&stop, 1);
    shutdown(wfd, SHUT_RDWR);
    shutdown(rfd, SHUT_RDWR);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    uint64_t msgs = kase == C_SMALL ? ms : by / 65536;
    if (json)
        printf("{\"impl\":\"raw\",\"case\":\"%s\",\"size\":%d,\"seconds\":%.3f,\"msgs\":%llu,"
               "\"msgs_per_sec\":%.0f,\"mb_per_sec\":%.2f,\"dropped\":0,\"cpu_sec\":%.3f,"
               "\"cpu_sec_per_million\":%.3f}\n",
               names[kase], kase == C_SMALL ? 64 : 65536, secs, (unsigned long long)msgs,
               (double)msgs / secs, (double)by / secs / 1e6, cpu,
               msgs ? cpu / (double)msgs * 1e6 : 0);
    else
        printf("%s: %.1f MB/s, %.0f msgs/s\n", names[kase], (double)by / secs / 1e6,
               (double)msgs / secs);
    return 0;
}
