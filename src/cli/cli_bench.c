/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rafthttp bench: two transports in one process over loopback TCP, through
 * the public API only (rh_transport_send out, or rh_transport_send_ref with
 * --send ref; the `process` callback in).
 *
 * Throughput cases (msgappv2, message, heartbeat): member 1 sends to member
 * 2, paced by an in-flight window: a sender thread keeps sent - delivered
 * within the window and refills once a quarter of it is free, in Send
 * calls of at most SEND_BATCH messages. Delivered messages are counted in
 * member 2's `process`; drops come from the transports' events.
 *
 * rtt: member 2's `process` answers each MsgHeartbeat with a
 * MsgHeartbeatResp; member 1's `process` records the round trip and sends
 * the next MsgHeartbeat, so one is in flight at a time.
 *
 * Before measuring, the bench waits until a message of the case arrives by
 * the case's stream (`via`), then warms up; the window's CPU is getrusage of
 * the whole process. With bench/alloc's counting library preloaded, the
 * allocations made during the window are reported per delivered message.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#if defined(__has_include)
#if __has_include(<valgrind/callgrind.h>)
#include <valgrind/callgrind.h> /* no-ops unless run under callgrind */
#define BENCH_CALLGRIND 1
#endif
#endif
#ifndef BENCH_CALLGRIND
#define CALLGRIND_ZERO_STATS
#define CALLGRIND_DUMP_STATS_AT(s) (void)(s)
#endif

#include "cli/cli.h"
#include "rafthttp/transport.h"
#include "transport/log.h"

#define CMD "bench"
#define SEND_BATCH 256            /* messages per rh_transport_send call, at most */
#define WINDOW_MAX 1024           /* default window: min(1024, 64 MiB / size) */
#define WINDOW_BYTES (64u << 20)
#define WARMUP_SECONDS 0.5
#define ATTACH_TIMEOUT_S 10.0     /* the case's stream must carry a message by then */

enum bench_case { B_MSGAPPV2, B_MESSAGE, B_HEARTBEAT, B_RTT };
static const char *const case_names[] = {"msgappv2", "message", "heartbeat", "rtt"};

typedef struct bench {
    int kase;
    size_t size;
    double seconds;
    size_t window;
    int deliver; /* rh_delivery_mode */
    int busy_poll_us; /* --busy-poll-us: rh_transport_config.busy_poll_us */
    bool send_ref; /* --send ref: rh_transport_send_ref */
    const char *tls_dir; /* --tls DIR: https with DIR's tests/tls/make-certs.sh files */
    _Atomic uint64_t ref_calls, ref_done; /* send_ref calls and their done callbacks */
    rh_transport *t1, *t2;
    const char *want_via;  /* the stream the case must use */
    uint8_t *payload;      /* size bytes of entry data */

    _Atomic uint64_t sent;      /* by the sender thread (or rtt pings) */
    _Atomic uint64_t delivered; /* in member 2's process, case messages only */
    _Atomic uint64_t dropped;   /* RH_EV_DROPPED events, both transports */
    _Atomic bool via_ok;        /* a case message arrived by want_via */
    _Atomic bool stop;

    pthread_mutex_t mu;
    pthread_cond_t cond;
    _Atomic bool sender_waiting;

    /* rtt (member 1's process thread only, read after stop) */
    _Atomic bool measuring;
    _Atomic int64_t ping_ns; /* atomic: the hand-over is through sockets, which TSan cannot see */
    _Atomic uint64_t seq;    /* the ping in flight carries it as commit, the pong echoes it;
                              * 0 until the chain starts (warm-up probes carry 0) */
    uint64_t *samples; /* ns */
    size_t n_samples, cap_samples;
    _Atomic uint64_t pongs;
} bench;

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static long peak_rss_kib(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

/* bench/alloc's preloadable counter, when present. */
typedef void (*alloc_stats_fn)(uint64_t *allocs, uint64_t *bytes);
static alloc_stats_fn find_alloc_stats(void)
{
    alloc_stats_fn f;
    void *sym = dlsym(RTLD_DEFAULT, "rh_alloc_stats");
    memcpy(&f, &sym, sizeof(f));
    return f;
}

static void sleep_s(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* ---- messages ------------------------------------------------------------ */

static rh_msg case_msg(const bench *b, uint64_t i, rh_entry *e)
{
    rh_msg m = {.to = 2, .from = 1};
    *e = (rh_entry){.data = {b->payload, b->size}};
    switch (b->kase) {
    case B_MSGAPPV2: /* consecutive indexes: msgappv2 AppEntries frames */
        e->term = 1;
        e->index = i;
        m.type = RH_MSG_APP;
        m.term = m.log_term = 1;
        m.index = m.commit = i - 1;
        m.entries = e;
        m.n_entries = 1;
        break;
    case B_MESSAGE:
        m.type = RH_MSG_PROP;
        m.entries = e;
        m.n_entries = 1;
        break;
    default:
        m.type = RH_MSG_HEARTBEAT;
        m.term = 1;
        break;
    }
    return m;
}

/* Makes *m (built by case_msg) message i of the case: only msgappv2's
 * indexes change. The sender reuses its messages rather than build 240-byte
 * structs anew (that cost the bench 10% of a small-message run's CPU). */
static void case_msg_renumber(const bench *b, rh_msg *m, rh_entry *e, uint64_t i)
{
    if (b->kase == B_MSGAPPV2) {
        e->index = i;
        m->index = m->commit = i - 1;
    }
}

static int32_t case_type(int kase)
{
    return kase == B_MSGAPPV2 ? RH_MSG_APP : kase == B_MESSAGE ? RH_MSG_PROP : RH_MSG_HEARTBEAT;
}

/* The next ping of the one chain: only the pong of the ping in flight
 * (same sequence) sends another, so stray pongs (warm-up probes) never
 * start a second chain. */
static void send_ping(bench *b)
{
    uint64_t seq = atomic_fetch_add_explicit(&b->seq, 1, memory_order_relaxed) + 1;
    rh_msg m = {.type = RH_MSG_HEARTBEAT, .to = 2, .from = 1, .term = 1, .commit = seq};
    atomic_store_explicit(&b->ping_ns, mono_ns(), memory_order_relaxed);
    atomic_fetch_add_explicit(&b->sent, 1, memory_order_relaxed);
    rh_transport_send(b->t1, &m, 1);
}

/* ---- callbacks ----------------------------------------------------------- */

static int process1(void *ctx, const rh_msg *m, const char *via)
{
    (void)via;
    bench *b = ctx;
    if (b->kase != B_RTT || m->type != RH_MSG_HEARTBEAT_RESP)
        return 0;
    uint64_t seq = atomic_load_explicit(&b->seq, memory_order_relaxed);
    if (seq == 0 || m->commit != seq)
        return 0; /* a warm-up probe's pong, not the chain's */
    int64_t now = mono_ns();
    if (atomic_load_explicit(&b->measuring, memory_order_acquire)) {
        if (b->n_samples == b->cap_samples) {
            size_t cap = b->cap_samples ? b->cap_samples * 2 : 65536;
            uint64_t *n = realloc(b->samples, cap * sizeof(*n));
            if (!n)
                return 0;
            b->samples = n;
            b->cap_samples = cap;
        }
        b->samples[b->n_samples++] =
            (uint64_t)(now - atomic_load_explicit(&b->ping_ns, memory_order_relaxed));
    }
    atomic_fetch_add_explicit(&b->pongs, 1, memory_order_release);
    if (!atomic_load_explicit(&b->stop, memory_order_acquire))
        send_ping(b);
    return 0;
}

static int process2(void *ctx, const rh_msg *m, const char *via)
{
    bench *b = ctx;
    if (m->type != case_type(b->kase))
        return 0;
    if (b->kase == B_RTT) {
        rh_msg r = {.type = RH_MSG_HEARTBEAT_RESP, .to = 1, .from = 2, .term = 1,
                    .commit = m->commit};
        rh_transport_send(b->t2, &r, 1);
    }
    if (!atomic_load_explicit(&b->via_ok, memory_order_relaxed) && strcmp(via, b->want_via) == 0)
        atomic_store_explicit(&b->via_ok, true, memory_order_release);
    uint64_t d = atomic_fetch_add_explicit(&b->delivered, 1, memory_order_acq_rel) + 1;
    if (atomic_load_explicit(&b->sender_waiting, memory_order_acquire)) {
        uint64_t s = atomic_load_explicit(&b->sent, memory_order_acquire);
        if (s - d <= b->window - b->window / 4) {
            pthread_mutex_lock(&b->mu);
            atomic_store_explicit(&b->sender_waiting, false, memory_order_release);
            pthread_cond_signal(&b->cond);
            pthread_mutex_unlock(&b->mu);
        }
    }
    return 0;
}

static void on_event(void *ctx, const rh_event *ev)
{
    bench *b = ctx;
    if (ev->kind == RH_EV_DROPPED)
        atomic_fetch_add_explicit(&b->dropped, 1, memory_order_relaxed);
}

/* ---- the sender -------------------------------------------------------- */

/* The payload never changes, so there is nothing to give back: count. */
static void ref_done(void *arg)
{
    bench *b = arg;
    atomic_fetch_add_explicit(&b->ref_done, 1, memory_order_relaxed);
}

static void *sender_main(void *arg)
{
    bench *b = arg;
    pthread_setname_np(pthread_self(), "bench-send");
    rh_msg *msgs = calloc(SEND_BATCH, sizeof(*msgs));
    rh_entry *ents = calloc(SEND_BATCH, sizeof(*ents));
    if (!msgs || !ents) {
        free(msgs);
        free(ents);
        return NULL;
    }
    uint64_t next = atomic_load(&b->sent) + 1; /* msgappv2 index of the next entry */
    for (size_t i = 0; i < SEND_BATCH; i++)
        msgs[i] = case_msg(b, next, &ents[i]);
    while (!atomic_load_explicit(&b->stop, memory_order_acquire)) {
        uint64_t s = atomic_load_explicit(&b->sent, memory_order_relaxed);
        uint64_t d = atomic_load_explicit(&b->delivered, memory_order_acquire);
        size_t free_slots = s - d >= b->window ? 0 : b->window - (size_t)(s - d);
        if (free_slots < (b->window + 3) / 4) {
            pthread_mutex_lock(&b->mu);
            atomic_store_explicit(&b->sender_waiting, true, memory_order_release);
            /* re-check: process may have run between the load and the flag */
            d = atomic_load_explicit(&b->delivered, memory_order_acquire);
            if (s - d > b->window - b->window / 4 && !atomic_load(&b->stop)) {
                struct timespec until;
                clock_gettime(CLOCK_REALTIME, &until);
                until.tv_nsec += 20 * 1000 * 1000; /* a lost wakeup costs 20 ms, not a hang */
                if (until.tv_nsec >= 1000000000) {
                    until.tv_sec++;
                    until.tv_nsec -= 1000000000;
                }
                pthread_cond_timedwait(&b->cond, &b->mu, &until);
            }
            atomic_store_explicit(&b->sender_waiting, false, memory_order_release);
            pthread_mutex_unlock(&b->mu);
            continue;
        }
        while (free_slots) {
            size_t n = free_slots < SEND_BATCH ? free_slots : SEND_BATCH;
            for (size_t i = 0; i < n; i++)
                case_msg_renumber(b, &msgs[i], &ents[i], next++);
            /* counted before the call: process may run before it returns */
            atomic_fetch_add_explicit(&b->sent, n, memory_order_release);
            if (b->send_ref) {
                atomic_fetch_add_explicit(&b->ref_calls, 1, memory_order_relaxed);
                rh_transport_send_ref(b->t1, msgs, n, ref_done, b);
            } else {
                rh_transport_send(b->t1, msgs, n);
            }
            free_slots -= n;
        }
    }
    free(msgs);
    free(ents);
    return NULL;
}

/* ---- setup --------------------------------------------------------------- */

static rh_transport *make_transport(bench *b, uint64_t id, int (*process)(void *, const rh_msg *,
                                                                          const char *))
{
    const char *listen[] = {b->tls_dir ? "https://127.0.0.1:0" : "http://127.0.0.1:0"};
    char cert[4096], key[4096], ca[4096];
    snprintf(cert, sizeof(cert), "%s/m%llu.pem", b->tls_dir ? b->tls_dir : "",
             (unsigned long long)id);
    snprintf(key, sizeof(key), "%s/m%llu-key.pem", b->tls_dir ? b->tls_dir : "",
             (unsigned long long)id);
    snprintf(ca, sizeof(ca), "%s/ca.pem", b->tls_dir ? b->tls_dir : "");
    rh_transport_config cfg = {
        .id = id,
        .cluster_id = 0x1000,
        .listen = listen,
        .n_listen = 1,
        .raft = {.ctx = b, .process = process},
        .on_event = on_event,
        .event_ctx = b,
        .log_level = rh_log_level, /* errors only unless RAFTHTTP_BENCH_LOG */
        .delivery = b->deliver,
        .busy_poll_us = b->busy_poll_us,
    };
    cfg.struct_size = sizeof(cfg);
    rh_tls_config tls = {.cert_file = cert, .key_file = key, .trusted_ca_file = ca,
                         .client_cert_auth = true}; /* copied by rh_transport_new */
    if (b->tls_dir)
        cfg.tls = &tls;
    char err[512] = "";
    rh_transport *t = rh_transport_new(&cfg, err, sizeof(err));
    if (!t)
        fprintf(stderr, "rafthttp bench: transport %llu: %s\n", (unsigned long long)id, err);
    return t;
}

static int connect_pair(bench *b)
{
    char u1[64], u2[64];
    const char *scheme = b->tls_dir ? "https" : "http";
    snprintf(u1, sizeof(u1), "%s://127.0.0.1:%d", scheme, rh_transport_listen_port(b->t1, 0));
    snprintf(u2, sizeof(u2), "%s://127.0.0.1:%d", scheme, rh_transport_listen_port(b->t2, 0));
    const char *p1[] = {u1}, *p2[] = {u2};
    if (rh_transport_start(b->t1) || rh_transport_start(b->t2) ||
        rh_transport_add_peer(b->t1, 2, p2, 1) || rh_transport_add_peer(b->t2, 1, p1, 1))
        return -1;
    return 0;
}

/* Sends single case messages until one arrives by the case's stream. */
static int wait_for_stream(bench *b)
{
    int64_t deadline = mono_ns() + (int64_t)(ATTACH_TIMEOUT_S * 1e9);
    uint64_t i = 1;
    while (!atomic_load_explicit(&b->via_ok, memory_order_acquire)) {
        if (mono_ns() > deadline) {
            fprintf(stderr, "rafthttp bench: no %s message arrived by %s within %.0f s\n",
                    case_names[b->kase], b->want_via, ATTACH_TIMEOUT_S);
            return -1;
        }
        rh_entry e;
        rh_msg m = case_msg(b, i++, &e);
        atomic_fetch_add(&b->sent, 1);
        rh_transport_send(b->t1, &m, 1);
        sleep_s(0.01);
    }
    /* let the probe messages land before pacing starts */
    int64_t until = mono_ns() + 2000000000LL;
    while (atomic_load(&b->delivered) < atomic_load(&b->sent) && mono_ns() < until)
        sleep_s(0.001);
    return 0;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* The p-th percentile (nearest rank) of sorted v, in microseconds. */
static double pct_us(const uint64_t *v, size_t n, unsigned p)
{
    if (!n)
        return 0;
    size_t k = (p * n + 99) / 100;
    if (k < 1)
        k = 1;
    if (k > n)
        k = n;
    return (double)v[k - 1] / 1000.0;
}

/* ---- the command ---------------------------------------------------------- */

const char cli_bench_help[] =
    "NAME\n"
    "    rafthttp bench - two transports in one process over loopback TCP\n"
    "\n"
    "SYNOPSIS\n"
    "    rafthttp bench --case msgappv2|message|heartbeat|rtt [--size BYTES]\n"
    "                   [--seconds S] [--window N] [--deliver thread|loop]\n"
    "                   [--send copy|ref] [--tls DIR] [--busy-poll-us US] [--json]\n"
    "\n"
    "DESCRIPTION\n"
    "    Member 1 sends to member 2 through rh_transport_send; member 2's\n"
    "    process callback counts what arrives. Real TCP on 127.0.0.1, real\n"
    "    HTTP streams, the public API only.\n"
    "\n"
    "    msgappv2   MsgApp with one entry of BYTES, consecutive indexes\n"
    "               (msgappv2 AppEntries frames)\n"
    "    message    MsgProp with one entry of BYTES (message stream)\n"
    "    heartbeat  MsgHeartbeat (message stream; --size ignored)\n"
    "    rtt        MsgHeartbeat to 2, answered from 2's process with a\n"
    "               MsgHeartbeatResp; 1's process sends the next one\n"
    "\n"
    "    Throughput cases keep at most N messages in flight (default\n"
    "    min(1024, 64 MiB / BYTES)) and refill when a quarter is free.\n"
    "\n"
    "OPTIONS\n"
    "    --case C        the case (required)\n"
    "    --size BYTES    entry data size (default 64)\n"
    "    --seconds S     measured wall time after warm-up (default 3)\n"
    "    --window N      in-flight window of the throughput cases\n"
    "    --deliver M     thread (default): process on the delivery thread;\n"
    "                    loop: process on the loop thread (RH_DELIVER_ON_LOOP)\n"
    "    --send S        copy (default): rh_transport_send; ref:\n"
    "                    rh_transport_send_ref (entry data referenced)\n"
    "    --tls DIR       peer TLS (https://, mutual): DIR holds\n"
    "                    tests/tls/make-certs.sh's ca.pem, m1.pem, m2.pem and keys\n"
    "    --busy-poll-us US  each transport's loop polls US microseconds without\n"
    "                    sleeping after a wake-up that came soon\n"
    "                    (rh_transport_config.busy_poll_us; default 0: off)\n"
    "    --json          one JSON object on standard output\n"
    "\n"
    "OUTPUT\n"
    "    {\"impl\":\"c\",\"case\":..,\"size\":..,\"window\":..,\"seconds\":..,\"msgs\":..,\n"
    "     \"msgs_per_sec\":..,\"mb_per_sec\":..,\"dropped\":..,\"cpu_sec\":..,\n"
    "     \"cpu_sec_per_million\":..,\"peak_rss_kib\":..} (rtt adds p50_us, p90_us,\n"
    "    p99_us, max_us, samples; with bench/alloc's library preloaded,\n"
    "    allocs_per_msg and alloc_bytes_per_msg)\n"
    "\n"
    "EXIT STATUS\n"
    "    0 measured; 1 the transports failed or messages did not arrive; 2 usage.\n";

static int parse_args(int argc, char **argv, bench *b, bool *json)
{
    bool have_case = false, have_window = false;
    for (int i = 1; i < argc; i++) {
        const char *v;
        int r;
        if (cli_is_help(argv[i])) {
            fputs(cli_bench_help, stdout);
            exit(CLI_EXIT_OK);
        }
        if (strcmp(argv[i], "--json") == 0 || strcmp(argv[i], "-json") == 0) {
            *json = true;
            continue;
        }
        char *end;
        if ((r = cli_flag(argc, argv, &i, CMD, "case", &v)) != 0) {
            if (r < 0)
                return CLI_EXIT_USAGE;
            int k = -1;
            for (int j = 0; j < 4; j++)
                if (strcmp(v, case_names[j]) == 0)
                    k = j;
            if (k < 0)
                return cli_usage_error(CMD, "unknown case \"%s\"", v);
            b->kase = k;
            have_case = true;
        } else if ((r = cli_flag(argc, argv, &i, CMD, "size", &v)) != 0) {
            if (r < 0)
                return CLI_EXIT_USAGE;
            errno = 0;
            unsigned long long n = strtoull(v, &end, 10);
            if (errno || *end || end == v || n > (256ull << 20))
                return cli_usage_error(CMD, "bad --size \"%s\" (0 to 268435456)", v);
            b->size = (size_t)n;
        } else if ((r = cli_flag(argc, argv, &i, CMD, "seconds", &v)) != 0) {
            if (r < 0)
                return CLI_EXIT_USAGE;
            double s = strtod(v, &end);
            if (*end || end == v || !(s > 0 && s <= 3600))
                return cli_usage_error(CMD, "bad --seconds \"%s\"", v);
            b->seconds = s;
        } else if ((r = cli_flag(argc, argv, &i, CMD, "window", &v)) != 0) {
            if (r < 0)
                return CLI_EXIT_USAGE;
            errno = 0;
            unsigned long long n = strtoull(v, &end, 10);
            if (errno || *end || end == v || n < 1 || n > 1000000)
                return cli_usage_error(CMD, "bad --window \"%s\" (1 to 1000000)", v);
            b->window = (size_t)n;
            have_window = true;
        } else if ((r = cli_flag(argc, argv, &i, CMD, "deliver", &v)) != 0) {
            if (r < 0)
                return CLI_EXIT_USAGE;
            if (strcmp(v, "thread") == 0)
                b->deliver = RH_DELIVER_ON_THREAD;
            else if (strcmp(v, "loop") == 0)
                b->deliver = RH_DELIVER_ON_LOOP;
            else
                return cli_usage_error(CMD, "bad --deliver \"%s\" (thread or loop)", v);
        } else if ((r = cli_flag(argc, argv, &i, CMD, "busy-poll-us", &v)) != 0) {
            if (r < 0)
                return CLI_EXIT_USAGE;
            char *stop;
            errno = 0;
            long n = strtol(v, &stop, 10);
            if (errno || *stop || stop == v || n < 0 || n > 1000000)
                return cli_usage_error(CMD, "bad --busy-poll-us \"%s\" (0 to 1000000)", v);
            b->busy_poll_us = (int)n;
        } else if ((r = cli_flag(argc, argv, &i, CMD, "tls", &v)) != 0) {
            if (r < 0)
                return CLI_EXIT_USAGE;
            b->tls_dir = v;
        } else if ((r = cli_flag(argc, argv, &i, CMD, "send", &v)) != 0) {
            if (r < 0)
                return CLI_EXIT_USAGE;
            if (strcmp(v, "copy") == 0)
                b->send_ref = false;
            else if (strcmp(v, "ref") == 0)
                b->send_ref = true;
            else
                return cli_usage_error(CMD, "bad --send \"%s\" (copy or ref)", v);
        } else if (argv[i][0] == '-') {
            return cli_usage_error(CMD, "unknown flag %s", argv[i]);
        } else {
            return cli_usage_error(CMD, "unexpected argument \"%s\"", argv[i]);
        }
    }
    if (!have_case)
        return cli_usage_error(CMD, "--case is required");
    if (b->kase == B_HEARTBEAT || b->kase == B_RTT)
        b->size = 0;
    if (!have_window) {
        size_t w = b->size ? WINDOW_BYTES / b->size : WINDOW_MAX;
        b->window = w < 1 ? 1 : w > WINDOW_MAX ? WINDOW_MAX : w;
    }
    if (b->kase == B_RTT)
        b->window = 1;
    return 0;
}

int cli_bench_main(int argc, char **argv)
{
    bench b = {.size = 64, .seconds = 3, .deliver = RH_DELIVER_ON_THREAD};
    bool json = false;
    int rc = parse_args(argc, argv, &b, &json);
    if (rc)
        return rc;
    if (getenv("RAFTHTTP_BENCH_LOG") == NULL)
        rh_log_level = RH_LOG_ERROR;
    b.want_via = b.kase == B_MSGAPPV2 ? "streamMsgAppV2" : "streamMsg";
    b.payload = malloc(b.size ? b.size : 1);
    if (!b.payload)
        return CLI_EXIT_FAIL;
    for (size_t i = 0; i < b.size; i++)
        b.payload[i] = (uint8_t)(i * 131 + 7);
    pthread_mutex_init(&b.mu, NULL);
    pthread_cond_init(&b.cond, NULL);
    rc = CLI_EXIT_FAIL;
    b.t1 = make_transport(&b, 1, process1);
    b.t2 = make_transport(&b, 2, process2);
    if (!b.t1 || !b.t2 || connect_pair(&b) != 0) {
        fprintf(stderr, "rafthttp bench: cannot start the transports\n");
        goto out;
    }
    if (wait_for_stream(&b) != 0)
        goto out;

    pthread_t sender;
    bool have_sender = false;
    if (b.kase == B_RTT) {
        send_ping(&b);
    } else {
        if (pthread_create(&sender, NULL, sender_main, &b) != 0)
            goto out;
        have_sender = true;
    }
    sleep_s(WARMUP_SECONDS);

    alloc_stats_fn stats = find_alloc_stats();
    uint64_t a0 = 0, ab0 = 0, a1 = 0, ab1 = 0;
    uint64_t drop0 = atomic_load(&b.dropped);
    uint64_t d0 = b.kase == B_RTT ? atomic_load(&b.pongs) : atomic_load(&b.delivered);
    double cpu0 = cpu_seconds();
    if (stats)
        stats(&a0, &ab0);
    int64_t t0 = mono_ns();
    CALLGRIND_ZERO_STATS; /* a profile of the window alone */
    atomic_store_explicit(&b.measuring, true, memory_order_release);

    /* an rtt chain broken by a lost message is reported, not waited on */
    uint64_t last_pongs = atomic_load(&b.pongs);
    int64_t end = t0 + (int64_t)(b.seconds * 1e9);
    while (mono_ns() < end) {
        sleep_s(b.kase == B_RTT ? 0.5 : 0.05);
        if (b.kase == B_RTT) {
            uint64_t p = atomic_load(&b.pongs);
            if (p == last_pongs)
                fprintf(stderr, "rafthttp bench: rtt chain stalled for 0.5 s\n");
            last_pongs = p;
        }
    }
    atomic_store_explicit(&b.measuring, false, memory_order_release);
    CALLGRIND_DUMP_STATS_AT("measured window");
    int64_t t1 = mono_ns();
    if (stats)
        stats(&a1, &ab1);
    double cpu1 = cpu_seconds();
    uint64_t d1 = b.kase == B_RTT ? atomic_load(&b.pongs) : atomic_load(&b.delivered);
    uint64_t drops = atomic_load(&b.dropped) - drop0;

    atomic_store(&b.stop, true);
    pthread_mutex_lock(&b.mu);
    pthread_cond_signal(&b.cond);
    pthread_mutex_unlock(&b.mu);
    if (have_sender)
        pthread_join(sender, NULL);
    /* let what is in flight land, so stopping measures nothing odd */
    int64_t until = mono_ns() + 3000000000LL;
    while (b.kase != B_RTT && atomic_load(&b.delivered) < atomic_load(&b.sent) &&
           mono_ns() < until)
        sleep_s(0.005);

    if (getenv("RAFTHTTP_BENCH_TOTAL")) /* for whole-run profiles (callgrind) */
        fprintf(stderr, "rafthttp bench: %llu messages delivered in all\n",
                (unsigned long long)(b.kase == B_RTT ? atomic_load(&b.pongs)
                                                     : atomic_load(&b.delivered)));
    double secs = (double)(t1 - t0) / 1e9;
    uint64_t msgs = d1 - d0;
    double rate = (double)msgs / secs;
    double cpu = cpu1 - cpu0;
    double cpu_pm = msgs ? cpu / (double)msgs * 1e6 : 0;
    if (msgs == 0) {
        fprintf(stderr, "rafthttp bench: no message delivered in the measured window\n");
        goto out;
    }
    /* the transports go first: member 1's process appends rtt samples */
    rh_transport_free(b.t1);
    rh_transport_free(b.t2);
    b.t1 = b.t2 = NULL;
    if (atomic_load(&b.ref_done) != atomic_load(&b.ref_calls)) {
        fprintf(stderr, "rafthttp bench: %llu rh_transport_send_ref calls, %llu done callbacks\n",
                (unsigned long long)atomic_load(&b.ref_calls),
                (unsigned long long)atomic_load(&b.ref_done));
        rc = 1;
        goto out;
    }
    if (json) {
        printf("{\"impl\":\"c\",\"case\":\"%s\",\"size\":%zu,\"window\":%zu,\"deliver\":\"%s\","
               "\"send\":\"%s\",\"tls\":%s,\"busy_poll_us\":%d,"
               "\"seconds\":%.3f,\"msgs\":%llu,\"msgs_per_sec\":%.0f,\"mb_per_sec\":%.2f,"
               "\"dropped\":%llu,\"cpu_sec\":%.3f,\"cpu_sec_per_million\":%.3f,"
               "\"peak_rss_kib\":%ld",
               case_names[b.kase], b.size, b.window,
               b.deliver == RH_DELIVER_ON_LOOP ? "loop" : "thread",
               b.send_ref ? "ref" : "copy", b.tls_dir ? "true" : "false", b.busy_poll_us, secs,
               (unsigned long long)msgs, rate, rate * (double)b.size / 1e6,
               (unsigned long long)drops, cpu, cpu_pm, peak_rss_kib());
        if (stats)
            printf(",\"allocs_per_msg\":%.2f,\"alloc_bytes_per_msg\":%.0f",
                   (double)(a1 - a0) / (double)msgs, (double)(ab1 - ab0) / (double)msgs);
    } else {
        printf("case %s, size %zu, window %zu, deliver %s: %llu msgs in %.2f s: %.0f msgs/s, "
               "%.1f MB/s, %.3f CPU s per 1M msgs, %llu dropped, peak RSS %ld KiB\n",
               case_names[b.kase], b.size, b.window,
               b.deliver == RH_DELIVER_ON_LOOP ? "loop" : "thread", (unsigned long long)msgs,
               secs, rate, rate * (double)b.size / 1e6, cpu_pm, (unsigned long long)drops,
               peak_rss_kib());
        if (stats)
            printf("allocations: %.2f per msg, %.0f bytes per msg\n",
                   (double)(a1 - a0) / (double)msgs, (double)(ab1 - ab0) / (double)msgs);
    }
    if (b.kase == B_RTT) {
        qsort(b.samples, b.n_samples, sizeof(uint64_t), cmp_u64);
        double p50 = pct_us(b.samples, b.n_samples, 50), p90 = pct_us(b.samples, b.n_samples, 90),
               p99 = pct_us(b.samples, b.n_samples, 99),
               mx = pct_us(b.samples, b.n_samples, 100);
        if (json)
            printf(",\"p50_us\":%.1f,\"p90_us\":%.1f,\"p99_us\":%.1f,\"max_us\":%.1f,"
                   "\"samples\":%zu",
                   p50, p90, p99, mx, b.n_samples);
        else
            printf("round trip: p50 %.1f us, p90 %.1f us, p99 %.1f us, max %.1f us (%zu)\n", p50,
                   p90, p99, mx, b.n_samples);
    }
    if (json)
        printf("}\n");
    fflush(stdout);
    rc = CLI_EXIT_OK;
out:
    atomic_store(&b.stop, true);
    if (b.t1)
        rh_transport_free(b.t1);
    if (b.t2)
        rh_transport_free(b.t2);
    pthread_cond_destroy(&b.cond);
    pthread_mutex_destroy(&b.mu);
    free(b.samples);
    free(b.payload);
    return rc;
}
