/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Two transports in one process over loopback TCP: streams come up both
 * ways, messages of every type arrive in order on the right channel, a
 * restarted peer is seen inactive then active, and connect/disconnect churn
 * leaks nothing (run under ASan).
 *
 * usage: test_transport [CHURN_CYCLES]   (default 1000)
 */
#define _GNU_SOURCE /* memmem */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "check.h"
#include "rafthttp/transport.h"

#define A_ID 0xa1
#define B_ID 0xb2
#define CID 0xc1d

typedef struct inbox {
    pthread_mutex_t mu;
    rh_msg *msgs[8192];
    const char *via[8192];
    size_t n;
    int active, inactive; /* peer events */
} inbox;

static int process(void *ctx, const rh_msg *m, const char *via)
{
    inbox *in = ctx;
    pthread_mutex_lock(&in->mu);
    if (in->n < 8192) {
        in->msgs[in->n] = rh_msg_clone(m);
        in->via[in->n] = via;
        in->n++;
    }
    pthread_mutex_unlock(&in->mu);
    return 0;
}

static void on_event(void *ctx, const rh_event *ev)
{
    inbox *in = ctx;
    pthread_mutex_lock(&in->mu);
    if (ev->kind == RH_EV_PEER_ACTIVE)
        in->active++;
    if (ev->kind == RH_EV_PEER_INACTIVE)
        in->inactive++;
    pthread_mutex_unlock(&in->mu);
}

static void inbox_clear(inbox *in)
{
    pthread_mutex_lock(&in->mu);
    for (size_t i = 0; i < in->n; i++)
        rh_msg_free(in->msgs[i]);
    in->n = 0;
    pthread_mutex_unlock(&in->mu);
}

static size_t inbox_count(inbox *in)
{
    pthread_mutex_lock(&in->mu);
    size_t n = in->n;
    pthread_mutex_unlock(&in->mu);
    return n;
}

/* Peer events counted so far (active or inactive), read under the lock. */
static int inbox_events(inbox *in, bool active)
{
    pthread_mutex_lock(&in->mu);
    int n = active ? in->active : in->inactive;
    pthread_mutex_unlock(&in->mu);
    return n;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int probe_ms = 40; /* probe interval: short, so probes are in flight everywhere */
static const char *snap_dir; /* where make()'s transports save snapshots; NULL: none */
static int busy_poll_us;     /* make()'s config.busy_poll_us */

static rh_transport *make(uint64_t id, int port, inbox *in, int dial_retry_ms)
{
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", port);
    const char *listen[] = {url};
    rh_transport_config cfg = {
        .id = id, .cluster_id = CID, .listen = listen, .n_listen = 1,
        .dial_retry_ms = dial_retry_ms,
        .probe_interval_ms = probe_ms,
        .snap_dir = snap_dir,
        .raft = {.ctx = in, .process = process},
        .on_event = on_event, .event_ctx = in,
        .busy_poll_us = busy_poll_us,
    };
    cfg.struct_size = sizeof(cfg);
    char err[256];
    rh_transport *t = rh_transport_new(&cfg, err, sizeof(err));
    if (!t)
        fprintf(stderr, "transport: %s\n", err);
    return t;
}

static void add_peer(rh_transport *t, uint64_t id, int port)
{
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", port);
    const char *urls[] = {url};
    rh_transport_add_peer(t, id, urls, 1);
}

/* Two new transports made peers of each other and started; false (both
 * freed) when either is missing or they do not come up in 3 s. */
static bool start_pair(rh_transport *a, uint64_t a_id, rh_transport *b, uint64_t b_id);

/* Both writers attached on both sides: each side sees the peer active. */
static bool wait_active(rh_transport *a, rh_transport *b, int ms)
{
    for (int i = 0; i < ms / 5; i++) {
        if (rh_transport_active_peers(a) == 1 && (!b || rh_transport_active_peers(b) == 1))
            return true;
        sleep_ms(5);
    }
    return false;
}

static bool start_pair(rh_transport *a, uint64_t a_id, rh_transport *b, uint64_t b_id)
{
    if (!a || !b) {
        rh_transport_free(a);
        rh_transport_free(b);
        return false;
    }
    add_peer(a, b_id, rh_transport_listen_port(b, 0));
    add_peer(b, a_id, rh_transport_listen_port(a, 0));
    rh_transport_start(a);
    rh_transport_start(b);
    if (wait_active(a, b, 3000))
        return true;
    rh_transport_free(a);
    rh_transport_free(b);
    return false;
}

static bool wait_count(inbox *in, size_t n, int ms)
{
    for (int i = 0; i < ms / 5; i++) {
        if (inbox_count(in) >= n)
            return true;
        sleep_ms(5);
    }
    return inbox_count(in) >= n;
}

static inbox ia = {.mu = PTHREAD_MUTEX_INITIALIZER}, ib = {.mu = PTHREAD_MUTEX_INITIALIZER};
static rh_transport *ta, *tb;
static int pa, pb;

static void streams_come_up_both_ways(void)
{
    ta = make(A_ID, 0, &ia, 20);
    tb = make(B_ID, 0, &ib, 20);
    CHECK(ta && tb);
    pa = rh_transport_listen_port(ta, 0);
    pb = rh_transport_listen_port(tb, 0);
    add_peer(ta, B_ID, pb);
    add_peer(tb, A_ID, pa);
    CHECK(rh_transport_start(ta) == 0 && rh_transport_start(tb) == 0);
    CHECK(wait_active(ta, tb, 3000));
    CHECK(rh_transport_active_since(ta, B_ID) > 0);
    rh_peer_status st[4];
    CHECK_EQ_U64(rh_transport_status(ta, st, 4), 1);
    CHECK(st[0].active && st[0].id == B_ID);
    /* metrics from this (non-loop) thread, under etcd's names */
    char *text = malloc(1 << 16);
    size_t n = rh_transport_metrics(ta, text, 1 << 16);
    CHECK(n > 0 && n < (1 << 16));
    CHECK(strstr(text, "etcd_network_active_peers{Local=\"a1\",Remote=\"b2\"} 1") != NULL);
    CHECK(strstr(text, "etcd_network_peer_sent_bytes_total{To=\"b2\"}") != NULL);
    CHECK(strstr(text, "etcd_network_disconnected_peers_total{Local=\"a1\",Remote=\"b2\"} 0") != NULL);
    free(text);
    sleep_ms(300); /* let all four streams attach */
}

static void every_type_arrives_in_order(void)
{
    rh_msg msgs[RH_MSG_TYPE_COUNT];
    static const uint8_t ctx[] = "ctx";
    for (int t = 0; t < RH_MSG_TYPE_COUNT; t++) {
        msgs[t] = (rh_msg){.type = t, .to = B_ID, .from = A_ID, .term = 7,
                           .index = (uint64_t)t, .context = {ctx, 3}};
    }
    CHECK(rh_transport_send(ta, msgs, RH_MSG_TYPE_COUNT) == 0);
    CHECK(wait_count(&ib, RH_MSG_TYPE_COUNT, 3000));
    /* MsgApp travels on the other stream, so order holds per stream only:
     * match each arrival by its index (unique here) */
    for (size_t i = 0; i < inbox_count(&ib) && i < RH_MSG_TYPE_COUNT; i++) {
        const rh_msg *want = &msgs[ib.msgs[i]->index % RH_MSG_TYPE_COUNT];
        CHECK(rh_msg_equal(ib.msgs[i], want));
        const char *via = want->type == RH_MSG_APP    ? "streamMsgAppV2"
                          : want->type == RH_MSG_SNAP ? "pipeline"
                                                      : "streamMsg";
        CHECK(strcmp(ib.via[i], via) == 0);
    }
    inbox_clear(&ib);
}

static void msgapp_run_goes_over_msgappv2_in_order(void)
{
    enum { N = 2000 };
    static rh_entry ents[N];
    static const uint8_t data[] = "entry-payload";
    static uint8_t big[4096 + 7];
    for (size_t i = 0; i < sizeof(big); i++)
        big[i] = (uint8_t)(i * 31 + 7);
    rh_msg *msgs = calloc(N, sizeof(rh_msg));
    for (int i = 0; i < N; i++) {
        /* every tenth entry is large: the writer references it, not copies */
        rh_bytes d = i % 10 ? (rh_bytes){data, sizeof(data)} : (rh_bytes){big, sizeof(big)};
        ents[i] = (rh_entry){.term = 3, .index = (uint64_t)i + 1, .data = d};
        msgs[i] = (rh_msg){.type = RH_MSG_APP, .to = A_ID, .from = B_ID, .term = 3,
                           .log_term = 3, .index = (uint64_t)i, .entries = &ents[i],
                           .n_entries = 1, .commit = (uint64_t)i};
    }
    /* in several batches from "raft" on this thread */
    for (int i = 0; i < N; i += 100)
        CHECK(rh_transport_send(tb, msgs + i, 100) == 0);
    CHECK(wait_count(&ia, N, 5000));
    size_t bad = 0;
    for (size_t i = 0; i < inbox_count(&ia) && i < N; i++)
        bad += !rh_msg_equal(ia.msgs[i], &msgs[i]) || strcmp(ia.via[i], "streamMsgAppV2");
    CHECK_EQ_U64(bad, 0);
    inbox_clear(&ia);
    free(msgs);
}

static _Atomic int ref_dones;

static void count_done(void *arg)
{
    (void)arg;
    atomic_fetch_add(&ref_dones, 1);
}

/* rh_transport_send_ref: large entry data written from the caller's
 * memory, small copied; done runs once per call, also for messages that
 * go nowhere; entries of KiBs that the delivery thread gets in the read
 * buffer they arrived in, and frames of MiBs read straight into the
 * decoder's buffer and handed to delivery, arrive whole. */
static void sent_by_reference_until_done(void)
{
    static const size_t sizes[] = {100, 300, 5000, 20000, 65536, 300000, 2u << 20};
    enum { NS = sizeof(sizes) / sizeof(sizes[0]), ROUNDS = 3 };
    uint8_t *data[NS];
    rh_entry ents[NS];
    rh_msg msgs[NS];
    for (size_t i = 0; i < NS; i++) {
        data[i] = malloc(sizes[i]);
        for (size_t j = 0; j < sizes[i]; j++)
            data[i][j] = (uint8_t)(j * 13 + i);
    }
    atomic_store(&ref_dones, 0);
    uint64_t idx = 100000;
    size_t calls = 0;
    for (int r = 0; r < ROUNDS; r++) {
        for (size_t i = 0; i < NS; i++) {
            ents[i] = (rh_entry){.term = 4, .index = idx + 1, .data = {data[i], sizes[i]}};
            msgs[i] = (rh_msg){.type = RH_MSG_APP, .to = A_ID, .from = B_ID, .term = 4,
                               .log_term = 4, .index = idx, .entries = &ents[i],
                               .n_entries = 1, .commit = idx};
            idx++;
        }
        CHECK(rh_transport_send_ref(tb, msgs, NS, count_done, NULL) == 0);
        calls++;
        CHECK(wait_count(&ia, (size_t)(r + 1) * NS, 5000));
    }
    size_t bad = 0;
    for (size_t i = 0; i < inbox_count(&ia); i++) {
        const rh_msg *m = ia.msgs[i];
        size_t k = i % NS;
        bad += m->n_entries != 1 || m->entries[0].data.len != sizes[k] ||
               memcmp(m->entries[0].data.data, data[k], sizes[k]) != 0 ||
               strcmp(ia.via[i], "streamMsgAppV2") != 0;
    }
    CHECK_EQ_U64(inbox_count(&ia), ROUNDS * NS);
    CHECK_EQ_U64(bad, 0);
    /* to 0 (ignored) and to a stranger (dropped): done all the same */
    rh_msg nowhere[2] = {{.type = RH_MSG_APP, .to = 0, .entries = ents, .n_entries = 1},
                         {.type = RH_MSG_APP, .to = 0x77, .entries = ents, .n_entries = 1}};
    CHECK(rh_transport_send_ref(tb, nowhere, 2, count_done, NULL) == 0);
    calls++;
    for (int i = 0; i < 400 && (size_t)atomic_load(&ref_dones) < calls; i++)
        sleep_ms(5);
    CHECK_EQ_U64(atomic_load(&ref_dones), calls);
    inbox_clear(&ia);
    for (size_t i = 0; i < NS; i++)
        free(data[i]);
}

/* A message with several large entries, small ones between them, sent by
 * reference: the writer interleaves referenced and copied pieces of one
 * frame (a shared reference count, the copied bytes after a reference in
 * a chain of their own); every byte arrives, in order, over both streams'
 * framings (a full MsgApp, then AppEntries that continue it). */
static void many_referenced_entries_in_one_frame(void)
{
    static const size_t sizes[] = {20000, 100, 70000, 0, 5000, 300000, 7};
    enum { NE = sizeof(sizes) / sizeof(sizes[0]), NM = 3 };
    uint8_t *data[NE];
    for (size_t i = 0; i < NE; i++) {
        data[i] = malloc(sizes[i] ? sizes[i] : 1);
        for (size_t j = 0; j < sizes[i]; j++)
            data[i][j] = (uint8_t)(j * 7 + i * 31);
    }
    atomic_store(&ref_dones, 0);
    rh_entry ents[NM][NE];
    rh_msg msgs[NM];
    uint64_t idx = 200000;
    for (size_t k = 0; k < NM; k++) {
        for (size_t i = 0; i < NE; i++)
            ents[k][i] = (rh_entry){.term = 5, .index = idx + 1 + i,
                                    .data = {data[i], sizes[i]}};
        msgs[k] = (rh_msg){.type = RH_MSG_APP, .to = A_ID, .from = B_ID, .term = 5,
                           .log_term = k ? 5 : 4, .index = idx, .entries = ents[k],
                           .n_entries = NE, .commit = idx};
        idx += NE;
    }
    CHECK(rh_transport_send_ref(tb, msgs, NM, count_done, NULL) == 0);
    CHECK(wait_count(&ia, NM, 5000));
    CHECK_EQ_U64(inbox_count(&ia), NM);
    size_t bad = 0;
    for (size_t k = 0; k < inbox_count(&ia) && k < NM; k++) {
        const rh_msg *m = ia.msgs[k];
        bad += m->n_entries != NE;
        for (size_t i = 0; i < NE && i < m->n_entries; i++)
            bad += m->entries[i].data.len != sizes[i] ||
                   (sizes[i] && memcmp(m->entries[i].data.data, data[i], sizes[i]) != 0) ||
                   m->entries[i].index != msgs[k].entries[i].index;
    }
    CHECK_EQ_U64(bad, 0);
    for (int i = 0; i < 400 && atomic_load(&ref_dones) < 1; i++)
        sleep_ms(5);
    CHECK_EQ_U64(atomic_load(&ref_dones), 1);
    inbox_clear(&ia);
    for (size_t i = 0; i < NE; i++)
        free(data[i]);
}

static void restarted_peer_goes_inactive_then_active(void)
{
    int inactive0 = inbox_events(&ia, false), active0 = inbox_events(&ia, true);
    rh_transport_free(tb);
    for (int i = 0; i < 200 && rh_transport_active_peers(ta) != 0; i++)
        sleep_ms(10);
    CHECK_EQ_U64(rh_transport_active_peers(ta), 0);
    CHECK(inbox_events(&ia, false) > inactive0);
    tb = make(B_ID, pb, &ib, 20);
    CHECK(tb != NULL);
    add_peer(tb, A_ID, pa);
    rh_transport_start(tb);
    CHECK(wait_active(ta, tb, 1000)); /* within a second */
    CHECK(inbox_events(&ia, true) > active0);
}

/* One raw HTTP exchange with 127.0.0.1:port; returns the status code and
 * copies the response into resp. */
/* Bytes of `want` complete responses at the start of buf[0..n), or 0 while
 * one is still partial (Content-Length bodies; 204 has none). */
static size_t responses_end(const char *buf, size_t n, int want)
{
    size_t at = 0;
    for (int k = 0; k < want; k++) {
        const char *end = memmem(buf + at, n - at, "\r\n\r\n", 4);
        if (!end)
            return 0;
        size_t head = (size_t)(end - (buf + at)) + 4, body = 0;
        for (size_t i = at; i + 16 < at + head; i++)
            if (!strncasecmp(buf + i, "\r\ncontent-length:", 17)) {
                body = strtoul(buf + i + 17, NULL, 10);
                break;
            }
        if (n - at < head + body)
            return 0;
        at += head + body;
    }
    return at;
}

/* Reads until `want` responses are in (or EOF); the connection is left
 * open for the caller when fdp is given. */
static int raw_http_n(int port, const void *req, size_t len, char *resp, size_t cap, int want,
                      int *fdp)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        close(fd);
        return -1;
    }
    if (write(fd, req, len) != (ssize_t)len) {
        close(fd);
        return -1;
    }
    size_t n = 0;
    ssize_t r;
    while (n + 1 < cap && !responses_end(resp, n, want) &&
           (r = read(fd, resp + n, cap - 1 - n)) > 0)
        n += (size_t)r;
    resp[n] = 0;
    if (fdp)
        *fdp = fd;
    else
        close(fd);
    int status = 0;
    sscanf(resp, "HTTP/1.1 %d", &status);
    return status;
}

static int raw_http(int port, const void *req, size_t len, char *resp, size_t cap)
{
    return raw_http_n(port, req, len, resp, cap, 1, NULL);
}

static void pipeline_post_is_processed_with_204(void)
{
    rh_msg m = {.type = RH_MSG_SNAP, .to = B_ID, .from = A_ID, .term = 9};
    m.snapshot.metadata.index = 42;
    uint8_t body[256];
    size_t bl = rh_msg_encode(&m, body);
    char req[1024], resp[2048];
    int hl = snprintf(req, sizeof(req),
                      "POST /raft HTTP/1.1\r\nHost: x\r\nX-Server-From: a1\r\n"
                      "X-Server-Version: 3.4.23\r\nX-Min-Cluster-Version: 3.0.0\r\n"
                      "x-etcd-cluster-id: c1d\r\nContent-Length: %zu\r\n\r\n", bl);
    memcpy(req + hl, body, bl);
    CHECK_EQ_U64(raw_http(pb, req, (size_t)hl + bl, resp, sizeof(resp)), 204);
    CHECK(strstr(resp, "X-Etcd-Cluster-ID: c1d") != NULL);
    CHECK(wait_count(&ib, 1, 2000));
    if (inbox_count(&ib) == 1) {
        CHECK(rh_msg_equal(ib.msgs[0], &m));
        CHECK(strcmp(ib.via[0], "pipeline") == 0);
    }
    inbox_clear(&ib);

    /* chunked body, as a client streaming it */
    hl = snprintf(req, sizeof(req),
                  "POST /raft HTTP/1.1\r\nHost: x\r\nX-Server-Version: 3.4.23\r\n"
                  "X-Etcd-Cluster-ID: c1d\r\nTransfer-Encoding: chunked\r\n\r\n%zx\r\n",
                  bl);
    memcpy(req + hl, body, bl);
    memcpy(req + hl + bl, "\r\n0\r\n\r\n", 7);
    CHECK_EQ_U64(raw_http(pb, req, (size_t)hl + bl + 7, resp, sizeof(resp)), 204);
    CHECK(wait_count(&ib, 1, 2000));
    inbox_clear(&ib);

    /* keep-alive: three requests written at once, answered in order on one
     * connection; the last asks to close, and the server does */
    hl = snprintf(req, sizeof(req),
                  "POST /raft HTTP/1.1\r\nHost: x\r\nX-Server-Version: 3.4.23\r\n"
                  "X-Etcd-Cluster-ID: c1d\r\nContent-Length: %zu\r\n\r\n", bl);
    memcpy(req + hl, body, bl);
    size_t one = (size_t)hl + bl;
    memcpy(req + one, req, one);
    const char *last = "GET /raft/probing HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    memcpy(req + 2 * one, last, strlen(last));
    int fd = -1;
    CHECK_EQ_U64(raw_http_n(pb, req, 2 * one + strlen(last), resp, sizeof(resp), 3, &fd), 204);
    const char *second = strstr(resp + 4, "HTTP/1.1 ");
    CHECK(second && !strncmp(second, "HTTP/1.1 204 ", 13));
    const char *third = second ? strstr(second + 4, "HTTP/1.1 ") : NULL;
    CHECK(third && !strncmp(third, "HTTP/1.1 200 ", 13) && strstr(third, "\"OK\":true"));
    /* only the third says it closes */
    CHECK(third && strstr(resp, "Connection: close") == strstr(third, "Connection: close") &&
          strstr(third, "Connection: close") != NULL);
    char extra;
    CHECK(fd >= 0 && read(fd, &extra, 1) == 0); /* closed after the third */
    if (fd >= 0)
        close(fd);
    CHECK(wait_count(&ib, 2, 2000));
    inbox_clear(&ib);
}

static void pipeline_errors_match_etcd(void)
{
    char resp[2048];
    const char *get = "GET /raft HTTP/1.1\r\nHost: x\r\n\r\n";
    CHECK_EQ_U64(raw_http(pb, get, strlen(get), resp, sizeof(resp)), 405);
    CHECK(strstr(resp, "Allow: POST") != NULL);
    const char *badcid = "POST /raft HTTP/1.1\r\nHost: x\r\nX-Server-Version: 3.4.23\r\n"
                         "X-Etcd-Cluster-ID: 99\r\nContent-Length: 0\r\n\r\n";
    CHECK_EQ_U64(raw_http(pb, badcid, strlen(badcid), resp, sizeof(resp)), 412);
    CHECK(strstr(resp, "\r\n\r\ncluster ID mismatch\n") != NULL);
    const char *oldver = "POST /raft HTTP/1.1\r\nHost: x\r\nX-Server-Version: vgarbage\r\n"
                         "X-Etcd-Cluster-ID: c1d\r\nContent-Length: 0\r\n\r\n";
    CHECK_EQ_U64(raw_http(pb, oldver, strlen(oldver), resp, sizeof(resp)), 412);
    CHECK(strstr(resp, "incompatible version\n") != NULL);
    const char *huge = "POST /raft HTTP/1.1\r\nHost: x\r\nX-Server-Version: 3.4.23\r\n"
                       "X-Etcd-Cluster-ID: c1d\r\nContent-Length: 999999999999\r\n\r\n";
    CHECK_EQ_U64(raw_http(pb, huge, strlen(huge), resp, sizeof(resp)), 413);
    const char *garbage = "POST /raft HTTP/1.1\r\nHost: x\r\nX-Server-Version: 3.4.23\r\n"
                          "X-Etcd-Cluster-ID: c1d\r\nContent-Length: 2\r\n\r\n\x0e\x00";
    CHECK_EQ_U64(raw_http(pb, garbage, strlen(garbage) + 1, resp, sizeof(resp)), 400);
    CHECK(strstr(resp, "error unmarshalling raft message") != NULL);
    const char *nothttp = "\x16\x03\x01 hello\r\n\r\n";
    CHECK_EQ_U64(raw_http(pb, nothttp, strlen(nothttp), resp, sizeof(resp)), 400);
}

static void unknown_sender_becomes_a_pipeline_remote(void)
{
    /* a stream request from unknown 0xee whose X-PeerURLs is A's URL */
    char req[512], resp[2048];
    int n = snprintf(req, sizeof(req),
                     "GET /raft/stream/message/ee HTTP/1.1\r\nHost: x\r\n"
                     "X-Server-Version: 3.4.23\r\nX-Etcd-Cluster-ID: c1d\r\n"
                     "X-Raft-To: b2\r\nX-PeerURLs: http://127.0.0.1:%d\r\n\r\n", pa);
    CHECK_EQ_U64(raw_http(pb, req, (size_t)n, resp, sizeof(resp)), 404);
    CHECK(strstr(resp, "error sender not found\n") != NULL);
    /* B now knows 0xee as a remote: a message to it goes by pipeline to
     * that URL (A's server, which accepts POST /raft from anyone) */
    rh_msg m = {.type = RH_MSG_HEARTBEAT, .to = 0xee, .from = B_ID, .term = 77};
    for (int i = 0; i < 100 && inbox_count(&ia) == 0; i++) {
        if (i % 20 == 0)
            rh_transport_send(tb, &m, 1);
        sleep_ms(10);
    }
    CHECK(wait_count(&ia, 1, 2000));
    if (inbox_count(&ia) >= 1) {
        CHECK(ia.msgs[0]->term == 77 && ia.msgs[0]->to == 0xee);
        CHECK(strcmp(ia.via[0], "pipeline") == 0);
    }
    inbox_clear(&ia);
    /* a remote is not a peer: status lists only A */
    rh_peer_status st[4];
    CHECK_EQ_U64(rh_transport_status(tb, st, 4), 1);
}

typedef struct drop_count {
    pthread_mutex_t mu;
    int dropped, inactive;
    char reason[160];
} drop_count;

static char metrics_text[1 << 17];

static bool metrics_has(rh_transport *t, const char *line)
{
    size_t n = rh_transport_metrics(t, metrics_text, sizeof(metrics_text));
    return n < sizeof(metrics_text) && strstr(metrics_text, line) != NULL;
}

/* metrics_has, waiting up to ms for the line to show (a sender counts its
 * success when the answer comes back, which may be after the receiver has
 * delivered the message). */
static bool metrics_soon(rh_transport *t, const char *line, int ms)
{
    for (int waited = 0;; waited += 10) {
        if (metrics_has(t, line))
            return true;
        if (waited >= ms)
            return false;
        sleep_ms(10);
    }
}

/* The value of a sample ("name{labels}") in the last metrics_has text; -1
 * when absent. */
static double metrics_value(const char *sample)
{
    const char *at = strstr(metrics_text, sample);
    return at ? strtod(at + strlen(sample), NULL) : -1;
}

/* Probes, the RTT histogram, the snapshot families, /members, /raft/probing
 * and the server's limits. */
static void probes_metrics_and_limits(void)
{
    /* two probers a peer, a look every 50 ms (40 * 5/4) at first: the
     * histogram fills, every RTT on loopback under 100 ms */
    double count = 0;
    for (int i = 0; i < 200 && count < 2; i++) {
        sleep_ms(10);
        metrics_has(ta, "");
        count = metrics_value("etcd_network_peer_round_trip_time_seconds_count{To=\"b2\"} ");
    }
    CHECK(count >= 2);
    CHECK(metrics_value("etcd_network_peer_round_trip_time_seconds_bucket{To=\"b2\","
                        "le=\"0.1024\"} ") == count);
    CHECK(metrics_value("etcd_network_peer_round_trip_time_seconds_bucket{To=\"b2\","
                        "le=\"+Inf\"} ") == count);
    CHECK(metrics_has(ta, "# TYPE etcd_network_peer_round_trip_time_seconds histogram\n"));
    static const char *const families[] = {
        "etcd_network_snapshot_send_success{To=\"b2\"} 0",
        "etcd_network_snapshot_send_inflights_total{To=\"b2\"} 0",
        "etcd_network_snapshot_send_failures{To=\"b2\"} 0",
        "etcd_network_snapshot_send_total_duration_seconds_count{To=\"b2\"} 0",
        "etcd_network_snapshot_receive_success{From=\"b2\"} 0",
        "etcd_network_snapshot_receive_inflights_total{From=\"b2\"} 0",
        "etcd_network_snapshot_receive_failures{From=\"b2\"} 0",
        "etcd_network_snapshot_receive_total_duration_seconds_bucket{From=\"b2\",le=\"51.2\"} 0",
    };
    for (size_t i = 0; i < sizeof(families) / sizeof(families[0]); i++)
        if (!metrics_has(ta, families[i])) {
            fprintf(stderr, "missing metric: %s\n", families[i]);
            CHECK(0);
        }

    /* a snapshot B cannot store (no snap_dir): a failure on both sides */
    FILE *f = tmpfile();
    CHECK(f && fwrite("0123456789", 1, 10, f) == 10 && fflush(f) == 0);
    rewind(f);
    rh_msg snap = {.type = RH_MSG_SNAP, .to = B_ID, .from = A_ID, .term = 1};
    snap.snapshot.metadata.index = 7;
    CHECK(rh_transport_send_snapshot(ta, &snap, dup(fileno(f)), 10) == 0);
    fclose(f);
    int got = 0;
    for (int i = 0; i < 300 && !got; i++) {
        sleep_ms(10);
        got = metrics_has(ta, "etcd_network_snapshot_send_failures{To=\"b2\"} 1\n") &&
              metrics_has(tb, "etcd_network_snapshot_receive_failures{From=\"a1\"} 1\n");
    }
    CHECK(got);
    CHECK(metrics_has(ta, "etcd_network_snapshot_send_inflights_total{To=\"b2\"} 0\n"));
    CHECK(metrics_has(tb, "etcd_network_snapshot_receive_inflights_total{From=\"a1\"} 0\n"));
    /* a snapshot upload whose message does not decode: etcd's unknown sender */
    char resp[4096];
    const char *junk = "POST /raft/snapshot HTTP/1.1\r\nHost: x\r\nX-Server-Version: 3.4.23\r\n"
                       "X-Etcd-Cluster-ID: c1d\r\nContent-Length: 12\r\n\r\n"
                       "\0\0\0\0\0\0\0\4abcd";
    CHECK_EQ_U64(raw_http(pb, junk, strlen(junk) + 12, resp, sizeof(resp)), 400);
    CHECK(metrics_has(tb, "etcd_network_snapshot_receive_failures"
                          "{From=\"UNKNOWN_SNAPSHOT_SENDER\"} 1\n"));

    /* /raft/probing as etcd answers it */
    const char *probe = "GET /raft/probing HTTP/1.1\r\nHost: x\r\n\r\n";
    CHECK_EQ_U64(raw_http(pa, probe, strlen(probe), resp, sizeof(resp)), 200);
    CHECK(strstr(resp, "\r\n\r\n{\"OK\":true,\"Now\":\"20") != NULL);
    /* no member list configured: 404 */
    const char *members = "GET /members HTTP/1.1\r\nHost: x\r\n\r\n";
    CHECK_EQ_U64(raw_http(pa, members, strlen(members), resp, sizeof(resp)), 404);

    /* a transport with tight limits and a member list */
    static inbox ic = {.mu = PTHREAD_MUTEX_INITIALIZER};
    const char *listen[] = {"http://127.0.0.1:0"};
    rh_transport_config cfg = {
        .id = 0xc3, .cluster_id = CID, .listen = listen, .n_listen = 1,
        .raft = {.ctx = &ic, .process = process},
        .head_timeout_ms = 300, .max_head = 2048, .max_body = 100, .no_metrics = true,
        .members_json = "[{\"id\":195,\"peerURLs\":[\"http://127.0.0.1:1\"],\"name\":\"c\"}]\n",
    };
    rh_transport *tc = rh_transport_new(&cfg, NULL, 0);
    CHECK(tc && rh_transport_start(tc) == 0);
    if (!tc)
        return;
    int pc = rh_transport_listen_port(tc, 0);
    CHECK_EQ_U64(raw_http(pc, members, strlen(members), resp, sizeof(resp)), 200);
    CHECK(strstr(resp, "\r\n\r\n[{\"id\":195,") != NULL);
    CHECK(strstr(resp, "Content-Type: application/json\r\n") != NULL);
    const char *pmembers = "POST /members HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n";
    CHECK_EQ_U64(raw_http(pc, pmembers, strlen(pmembers), resp, sizeof(resp)), 405);
    CHECK(strstr(resp, "Allow: GET\r\n") != NULL);
    const char *metrics = "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";
    CHECK_EQ_U64(raw_http(pc, metrics, strlen(metrics), resp, sizeof(resp)), 404);
    char big[3000];
    int bl = snprintf(big, sizeof(big), "GET /version HTTP/1.1\r\nHost: x\r\nX-Pad: %2500d\r\n\r\n", 1);
    CHECK_EQ_U64(raw_http(pc, big, (size_t)bl, resp, sizeof(resp)), 431);
    const char *body = "POST /raft HTTP/1.1\r\nHost: x\r\nX-Server-Version: 3.4.23\r\n"
                       "X-Etcd-Cluster-ID: c1d\r\nContent-Length: 101\r\n\r\n";
    CHECK_EQ_U64(raw_http(pc, body, strlen(body), resp, sizeof(resp)), 413);
    /* a head trickled byte by byte is cut at the deadline, not kept alive */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)pc)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
    int sent = 0;
    for (int i = 0; i < 40; i++, sent++) {
        if (send(fd, "G", 1, MSG_NOSIGNAL) != 1)
            break;
        sleep_ms(50);
    }
    CHECK(sent >= 4 && sent < 20); /* closed after ~300 ms of 50 ms bytes */
    close(fd);
    rh_transport_free(tc);
    inbox_clear(&ic);

    /* max_conns: three idle connections take every place; a fourth waits
     * in the backlog, unanswered, until one of them goes */
    cfg.max_conns = 3;
    cfg.head_timeout_ms = 5000;
    cfg.members_json = NULL;
    rh_transport *td = rh_transport_new(&cfg, NULL, 0);
    CHECK(td && rh_transport_start(td) == 0);
    if (!td)
        return;
    int pd = rh_transport_listen_port(td, 0);
    sa.sin_port = htons((uint16_t)pd);
    int idle[3];
    for (int i = 0; i < 3; i++) {
        idle[i] = socket(AF_INET, SOCK_STREAM, 0);
        CHECK(connect(idle[i], (struct sockaddr *)&sa, sizeof(sa)) == 0);
    }
    sleep_ms(100);
    int w = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(connect(w, (struct sockaddr *)&sa, sizeof(sa)) == 0); /* the kernel's backlog */
    const char *ver = "GET /version HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    CHECK(write(w, ver, strlen(ver)) == (ssize_t)strlen(ver));
    struct timeval tv = {0, 300000};
    setsockopt(w, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    char buf[512];
    CHECK(read(w, buf, sizeof(buf)) < 0); /* not accepted: no answer in 300 ms */
    close(idle[0]);
    tv.tv_sec = 3;
    setsockopt(w, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    ssize_t rn = read(w, buf, sizeof(buf) - 1);
    CHECK(rn > 12 && !strncmp(buf, "HTTP/1.1 200 ", 13)); /* a place freed: served */
    close(w);
    close(idle[1]);
    close(idle[2]);
    rh_transport_free(td);
}

/* Senders inventing member IDs: each POST names a new one with X-PeerURLs;
 * the remotes learned (and their metrics rows) stop at the limit. */
static void learned_remotes_are_bounded(void)
{
    char req[1024], resp[1024];
    for (int i = 0; i < 200; i++) {
        rh_msg m = {.type = RH_MSG_HEARTBEAT, .to = B_ID, .from = 0x10000 + (uint64_t)i};
        uint8_t body[64];
        size_t bl = rh_msg_encode(&m, body);
        int hl = snprintf(req, sizeof(req),
                          "POST /raft HTTP/1.1\r\nHost: x\r\nX-Server-From: %x\r\n"
                          "X-PeerURLs: http://127.0.0.1:1\r\nX-Server-Version: 3.4.23\r\n"
                          "X-Etcd-Cluster-ID: c1d\r\nConnection: close\r\n"
                          "Content-Length: %zu\r\n\r\n", 0x10000 + i, bl);
        memcpy(req + hl, body, bl);
        if (raw_http(pb, req, (size_t)hl + bl, resp, sizeof(resp)) != 204) {
            CHECK(0);
            break;
        }
    }
    metrics_has(tb, "");
    size_t rows = 0;
    for (const char *p = metrics_text; (p = strstr(p, "etcd_network_active_peers{")); p++)
        rows++;
    CHECK(rows <= 1 + 128 + 1); /* the peer, the limit, the remote learned earlier */
    CHECK(rows >= 100);
    CHECK(!metrics_has(tb, "Remote=\"100c7\"")); /* the 200th sender was not learned */
    inbox_clear(&ib);
}

typedef struct slow_writer {
    int fd;
    size_t chunks, chunk;
    _Atomic int done;
} slow_writer;

static void *slow_writer_main(void *arg)
{
    slow_writer *w = arg;
    static uint8_t buf[100000];
    for (size_t i = 0; i < sizeof(buf); i++)
        buf[i] = (uint8_t)(i * 7);
    for (size_t k = 0; k < w->chunks; k++) {
        sleep_ms(30); /* the loop must not wait on us meanwhile */
        size_t off = 0;
        while (off < w->chunk) {
            ssize_t n = write(w->fd, buf + off, w->chunk - off);
            if (n <= 0)
                return NULL;
            off += (size_t)n;
        }
    }
    close(w->fd);
    w->done = 1;
    return NULL;
}

/* A snapshot body streamed by the application through a pipe as it is
 * produced: it arrives whole, and the loop keeps serving meanwhile (a
 * heartbeat goes through while the body trickles in). */
static void snapshot_body_from_a_pipe(void)
{
    static inbox x = {.mu = PTHREAD_MUTEX_INITIALIZER}, y = {.mu = PTHREAD_MUTEX_INITIALIZER};
    char dir[] = "/tmp/rafthttp-test-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    snap_dir = dir;
    rh_transport *a = make(0x81, 0, &x, 20), *b = make(0x82, 0, &y, 20);
    snap_dir = NULL;
    if (!start_pair(a, 0x81, b, 0x82)) {
        CHECK(0);
        return;
    }
    int pfd[2];
    CHECK(pipe(pfd) == 0);
    slow_writer w = {pfd[1], 5, 100000, 0};
    pthread_t th;
    CHECK(pthread_create(&th, NULL, slow_writer_main, &w) == 0);
    rh_msg snap = {.type = RH_MSG_SNAP, .to = 0x82, .from = 0x81, .term = 3};
    snap.snapshot.metadata.index = 0x51;
    CHECK(rh_transport_send_snapshot(a, &snap, pfd[0], 500000) == 0);
    sleep_ms(40);
    rh_msg hb = {.type = RH_MSG_HEARTBEAT, .to = 0x82, .from = 0x81, .term = 3};
    rh_transport_send(a, &hb, 1);
    CHECK(wait_count(&y, 1, 2000));
    CHECK(!w.done); /* the heartbeat went while the body was still coming */
    CHECK(wait_count(&y, 2, 5000));
    pthread_join(th, NULL);
    if (inbox_count(&y) == 2) {
        CHECK(y.msgs[0]->type == RH_MSG_HEARTBEAT); /* not held up by the trickle */
        CHECK(y.msgs[1]->type == RH_MSG_SNAP);
    }
    char path[128];
    snprintf(path, sizeof(path), "%s/0000000000000051.snap.db", dir);
    FILE *f = fopen(path, "rb");
    CHECK(f != NULL);
    size_t total = 0, bad = 0;
    for (int c; f && (c = fgetc(f)) != EOF; total++)
        bad += (uint8_t)c != (uint8_t)((total % 100000) * 7);
    if (f)
        fclose(f);
    CHECK_EQ_U64(total, 500000);
    CHECK_EQ_U64(bad, 0);
    CHECK(metrics_soon(a, "etcd_network_snapshot_send_success{To=\"82\"} 1\n", 2000));
    CHECK(metrics_has(b, "etcd_network_snapshot_receive_success{From=\"81\"} 1\n"));
    rh_transport_free(a);
    rh_transport_free(b);
    inbox_clear(&x);
    inbox_clear(&y);
    unlink(path);
    rmdir(dir);
}

static void on_drop_event(void *ctx, const rh_event *ev)
{
    drop_count *d = ctx;
    pthread_mutex_lock(&d->mu);
    if (ev->kind == RH_EV_DROPPED) {
        d->dropped++;
        snprintf(d->reason, sizeof(d->reason), "%s", ev->text ? ev->text : "");
    }
    if (ev->kind == RH_EV_PEER_INACTIVE)
        d->inactive++;
    pthread_mutex_unlock(&d->mu);
}

/* An application that does not keep up: a gate holds its process. */
typedef struct gated {
    pthread_mutex_t mu;
    pthread_cond_t cond;
    bool open;
    size_t got;
} gated;

static int gated_process(void *ctx, const rh_msg *m, const char *via)
{
    (void)m;
    (void)via;
    gated *g = ctx;
    pthread_mutex_lock(&g->mu);
    while (!g->open)
        pthread_cond_wait(&g->cond, &g->mu);
    g->got++;
    pthread_mutex_unlock(&g->mu);
    return 0;
}

/* Receive queues are bounded by bytes too: with the application stuck,
 * 64 KiB messages queue up to the 1 MiB bound, the rest are dropped and
 * reported; once it moves on, what was queued arrives. */
static void receive_queue_is_bounded_by_bytes(void)
{
    static gated g = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false, 0};
    static drop_count dc = {.mu = PTHREAD_MUTEX_INITIALIZER};
    static inbox x = {.mu = PTHREAD_MUTEX_INITIALIZER};
    const char *listen[] = {"http://127.0.0.1:0"};
    rh_transport_config cfg = {
        .id = 0x92, .cluster_id = CID, .listen = listen, .n_listen = 1,
        .queue_bytes = 1 << 20, .probe_interval_ms = -1,
        .raft = {.ctx = &g, .process = gated_process},
        .on_event = on_drop_event, .event_ctx = &dc,
    };
    rh_transport *r = rh_transport_new(&cfg, NULL, 0);
    /* the sender's drops count too (a MsgApp sent before its stream is up
     * goes by pipeline, whose queue may drop) */
    rh_transport_config scfg = cfg;
    scfg.id = 0x91;
    scfg.queue_bytes = 0;
    scfg.raft = (rh_raft){.ctx = &x, .process = process};
    rh_transport *s = rh_transport_new(&scfg, NULL, 0);
    if (!start_pair(r, 0x92, s, 0x91)) {
        CHECK(0);
        return;
    }
    sleep_ms(200); /* all four streams */
    static uint8_t data[64 << 10];
    rh_entry e = {.term = 1, .index = 1, .data = {data, sizeof(data)}};
    rh_msg m = {.type = RH_MSG_APP, .to = 0x92, .from = 0x91, .term = 1,
                .entries = &e, .n_entries = 1};
    for (int i = 0; i < 100; i++)
        rh_transport_send(s, &m, 1);
    int dropped = 0;
    for (int i = 0; i < 400 && dropped < 60; i++) {
        sleep_ms(10);
        pthread_mutex_lock(&dc.mu);
        dropped = dc.dropped;
        pthread_mutex_unlock(&dc.mu);
    }
    /* 1 MiB holds 15 of them (plus the one process holds): the rest go */
    CHECK(dropped >= 60 && dropped <= 90);
    pthread_mutex_lock(&dc.mu);
    CHECK(strstr(dc.reason, "receive queue full") != NULL);
    pthread_mutex_unlock(&dc.mu);
    pthread_mutex_lock(&g.mu);
    g.open = true;
    pthread_cond_broadcast(&g.cond);
    pthread_mutex_unlock(&g.mu);
    size_t got = 0;
    for (int i = 0; i < 500 && got + (size_t)dropped < 100; i++) {
        sleep_ms(10);
        pthread_mutex_lock(&g.mu);
        got = g.got;
        pthread_mutex_unlock(&g.mu);
        pthread_mutex_lock(&dc.mu);
        dropped = dc.dropped; /* late drops (the pipeline's) count too */
        pthread_mutex_unlock(&dc.mu);
    }
    CHECK_EQ_U64(got + (size_t)dropped, 100); /* each delivered or reported */
    rh_transport_free(s);
    rh_transport_free(r);
    inbox_clear(&x);
}

/* A peer that dials our stream and then never reads: the writer's queue
 * fills to its byte bound and drops with a reason, memory stays bounded,
 * and the 5 s write timeout ends the connection. */
static void slow_peer_is_bounded_by_bytes_then_timed_out(void)
{
    static inbox in = {.mu = PTHREAD_MUTEX_INITIALIZER};
    static drop_count dc = {.mu = PTHREAD_MUTEX_INITIALIZER};
    const char *listen[] = {"http://127.0.0.1:0"};
    rh_transport_config cfg = {
        .id = 0x5, .cluster_id = CID, .listen = listen, .n_listen = 1,
        .queue_bytes = 1u << 20, /* 1 MiB */
        .raft = {.ctx = &in, .process = process},
        .on_event = on_drop_event, .event_ctx = &dc,
    };
    rh_transport *t = rh_transport_new(&cfg, NULL, 0);
    CHECK(t != NULL);
    if (!t)
        return;
    int port = rh_transport_listen_port(t, 0);
    const char *purl[] = {"http://127.0.0.1:1"}; /* its own dials fail */
    rh_transport_add_peer(t, 0x6, purl, 1);
    rh_transport_start(t);
    sleep_ms(100);
    /* dial its message stream as peer 6, read the head, then stop reading */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int small = 4096;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
    const char *req = "GET /raft/stream/message/6 HTTP/1.1\r\nHost: x\r\n"
                      "X-Server-Version: 3.4.23\r\nX-Etcd-Cluster-ID: c1d\r\n"
                      "X-Raft-To: 5\r\n\r\n";
    CHECK(write(fd, req, strlen(req)) == (ssize_t)strlen(req));
    char head[512];
    CHECK(read(fd, head, sizeof(head)) > 0);
    CHECK(strncmp(head, "HTTP/1.1 200", 12) == 0);
    /* 64 KiB messages: 1 MiB of queue holds 16 of them */
    static uint8_t big[64 * 1024];
    rh_entry e = {.term = 1, .index = 1, .data = {big, sizeof(big)}};
    rh_msg m = {.type = RH_MSG_PROP, .to = 0x6, .from = 0x5, .entries = &e, .n_entries = 1};
    for (int i = 0; i < 400; i++)
        rh_transport_send(t, &m, 1);
    /* wait until the drop count settles */
    int last = -1;
    for (int i = 0; i < 100; i++) {
        sleep_ms(50);
        pthread_mutex_lock(&dc.mu);
        int d = dc.dropped;
        pthread_mutex_unlock(&dc.mu);
        if (d == last && d > 0)
            break;
        last = d;
    }
    pthread_mutex_lock(&dc.mu);
    /* 400 x 64 KiB = 25 MiB offered; what can be absorbed is the 1 MiB queue,
     * the 256 KiB output buffer and the kernel's socket buffers (loopback
     * autotuning: a few MiB), so well over half must be dropped */
    CHECK(dc.dropped >= 200);
    CHECK(strstr(dc.reason, "send queue full") != NULL && strstr(dc.reason, "1.0 MiB)") != NULL);
    fprintf(stderr, "  slow peer: %d of 400 dropped (%s)\n", dc.dropped, dc.reason);
    pthread_mutex_unlock(&dc.mu);
    /* no progress for 5 s: the write timeout closes the stream */
    int inactive = 0;
    for (int i = 0; i < 800 && !inactive; i++) {
        pthread_mutex_lock(&dc.mu);
        inactive = dc.inactive;
        pthread_mutex_unlock(&dc.mu);
        sleep_ms(10);
    }
    CHECK(inactive > 0);
    close(fd);
    rh_transport_free(t);
    inbox_clear(&in);
}

/* Two transports with traffic in flight in both directions (streams,
 * pipeline, a snapshot) are stopped mid-way, over and over: no crash, no
 * hang, no leak (ASan/LSan judge). */
static void stop_with_traffic_in_flight(int cycles)
{
    static inbox x = {.mu = PTHREAD_MUTEX_INITIALIZER}, y = {.mu = PTHREAD_MUTEX_INITIALIZER};
    static uint8_t data[8192];
    rh_entry e = {.term = 1, .index = 1, .data = {data, sizeof(data)}};
    int ok = 0;
    probe_ms = 1; /* probes on the wire at every stop */
    char dir[] = "/tmp/rafthttp-test-XXXXXX"; /* snapshots being saved at some stops */
    CHECK(mkdtemp(dir) != NULL);
    snap_dir = dir;
    int body = open("/dev/zero", O_RDONLY);
    CHECK(body >= 0);
    for (int i = 0; i < cycles; i++) {
        rh_transport *a = make(0x71, 0, &x, 5), *b = make(0x72, 0, &y, 5);
        if (!a || !b) {
            rh_transport_free(a);
            rh_transport_free(b);
            break;
        }
        add_peer(a, 0x72, rh_transport_listen_port(b, 0));
        add_peer(b, 0x71, rh_transport_listen_port(a, 0));
        rh_transport_start(a);
        rh_transport_start(b);
        rh_msg m[16];
        for (int k = 0; k < 16; k++)
            m[k] = (rh_msg){.type = k % 2 ? RH_MSG_APP : RH_MSG_SNAP, .to = 0x72, .from = 0x71,
                            .entries = &e, .n_entries = 1, .index = (uint64_t)k};
        rh_msg snap = {.type = RH_MSG_SNAP, .to = 0x72, .from = 0x71};
        snap.snapshot.metadata.index = (uint64_t)i;
        rh_transport_send_snapshot(a, &snap, dup(body), (uint64_t)(i % 3) << 16);
        for (int r = 0; r < 1 + i % 7; r++) {
            rh_transport_send(a, m, 16);
            for (int k = 0; k < 16; k++)
                m[k].to = 0x71;
            rh_transport_send(b, m, 16);
            for (int k = 0; k < 16; k++)
                m[k].to = 0x72;
            if (i % 5 == 0)
                sleep_ms(1);
        }
        /* stop mid-flight, in either order */
        if (i % 2) {
            rh_transport_free(a);
            rh_transport_free(b);
        } else {
            rh_transport_free(b);
            rh_transport_free(a);
        }
        ok++;
    }
    inbox_clear(&x);
    inbox_clear(&y);
    CHECK_EQ_U64(ok, cycles);
    close(body);
    snap_dir = NULL;
    /* snapshots that completed are the application's: clear them */
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    CHECK(system(cmd) == 0);
}

static void churn_leaks_nothing(int cycles)
{
    int ok = 0;
    for (int i = 0; i < cycles; i++) {
        rh_transport_free(tb);
        tb = make(B_ID, pb, &ib, 20);
        if (!tb)
            break;
        add_peer(tb, A_ID, pa);
        rh_transport_start(tb);
        /* traffic in flight while it comes up and goes down */
        rh_msg hb = {.type = RH_MSG_HEARTBEAT, .to = B_ID, .from = A_ID};
        rh_transport_send(ta, &hb, 1);
        ok += wait_active(ta, tb, 2000);
    }
    CHECK_EQ_U64(ok, cycles);
}


/* A fake peer that answers our stream dials itself: the message stream
 * gets one 128 KiB MsgApp trickled in 4 KiB pieces 200 ms apart (6.4 s in
 * all, longer than the 5 s read timeout but never 5 s without a byte); the
 * msgappv2 stream gets link heartbeats. The frame must arrive whole and the
 * peer never be seen inactive: waiting for a large frame (SO_RCVLOWAT) must
 * not turn a slow but live link into a read timeout. */
typedef struct trickle_peer {
    int lfd;
    uint8_t *frame;
    size_t frame_len;
    _Atomic int stop;
} trickle_peer;

static void *trickle_conn_main(void *arg)
{
    trickle_peer *tp = ((void **)arg)[0];
    int fd = (int)(intptr_t)((void **)arg)[1];
    free(arg);
    char req[4096];
    size_t n = 0;
    while (n < sizeof(req) - 1 && !memmem(req, n, "\r\n\r\n", 4)) {
        ssize_t k = read(fd, req + n, sizeof(req) - 1 - n);
        if (k <= 0) {
            close(fd);
            return NULL;
        }
        n += (size_t)k;
    }
    req[n] = 0;
    static const char head[] = "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                               "X-Server-Version: 3.4.23\r\nConnection: close\r\n\r\n";
    if (write(fd, head, sizeof(head) - 1) < 0) {
        close(fd);
        return NULL;
    }
    if (strstr(req, "/raft/stream/message/")) {
        for (size_t off = 0; off < tp->frame_len && !atomic_load(&tp->stop); off += 4096) {
            size_t k = tp->frame_len - off < 4096 ? tp->frame_len - off : 4096;
            if (write(fd, tp->frame + off, k) < 0)
                break;
            sleep_ms(200);
        }
    }
    while (!atomic_load(&tp->stop)) { /* msgappv2 link heartbeats; the message stream idles */
        if (!strstr(req, "/raft/stream/message/") && write(fd, "", 1) < 0)
            break;
        sleep_ms(500);
    }
    close(fd);
    return NULL;
}

static void *trickle_accept_main(void *arg)
{
    trickle_peer *tp = arg;
    pthread_t th[8];
    int n = 0;
    while (n < 8) {
        int fd = accept(tp->lfd, NULL, NULL);
        if (fd < 0)
            break;
        void **a = malloc(2 * sizeof(void *));
        a[0] = tp;
        a[1] = (void *)(intptr_t)fd;
        if (pthread_create(&th[n], NULL, trickle_conn_main, a) == 0)
            n++;
    }
    for (int i = 0; i < n; i++)
        pthread_join(th[i], NULL);
    return NULL;
}

static void slow_large_frame_is_not_a_read_timeout(void)
{
    trickle_peer tp = {.lfd = -1};
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof(sa);
    tp.lfd = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(bind(tp.lfd, (struct sockaddr *)&sa, sizeof(sa)) == 0 && listen(tp.lfd, 8) == 0);
    getsockname(tp.lfd, (struct sockaddr *)&sa, &sl);
    int port = ntohs(sa.sin_port);

    static uint8_t data[128 * 1024];
    memset(data, 0x5a, sizeof(data));
    rh_entry e = {.term = 1, .index = 8, .data = {data, sizeof(data)}};
    rh_msg m = {.type = RH_MSG_APP, .to = 0xd1, .from = 0xd2, .term = 1, .log_term = 1,
                .index = 7, .commit = 7, .entries = &e, .n_entries = 1};
    size_t ms = rh_msg_size(&m);
    tp.frame_len = 8 + ms;
    tp.frame = malloc(tp.frame_len);
    for (int i = 0; i < 8; i++)
        tp.frame[i] = (uint8_t)((uint64_t)ms >> (56 - 8 * i));
    rh_msg_encode(&m, tp.frame + 8);
    pthread_t acc;
    pthread_create(&acc, NULL, trickle_accept_main, &tp);

    inbox in = {.mu = PTHREAD_MUTEX_INITIALIZER};
    int saved_probe = probe_ms;
    probe_ms = -1; /* the fake peer serves streams only */
    rh_transport *t = make(0xd1, 0, &in, 20);
    probe_ms = saved_probe;
    CHECK(t != NULL && rh_transport_start(t) == 0);
    add_peer(t, 0xd2, port);
    CHECK(wait_count(&in, 1, 10000));
    CHECK_EQ_U64(inbox_events(&in, false), 0);
    pthread_mutex_lock(&in.mu);
    if (in.n == 1) {
        CHECK(rh_msg_equal(in.msgs[0], &m));
        CHECK(strcmp(in.via[0], "streamMsg") == 0);
    }
    pthread_mutex_unlock(&in.mu);
    atomic_store(&tp.stop, 1);
    rh_transport_free(t);
    shutdown(tp.lfd, SHUT_RDWR);
    close(tp.lfd);
    pthread_join(acc, NULL);
    inbox_clear(&in);
    free(tp.frame);
}

/* ---- the application's log callback ---- */

typedef struct log_seen {
    pthread_mutex_t mu;
    int n, n_below_warn, added; /* records; of them below RH_LOG_WARN; "added peer" */
    uint64_t added_local, added_peer;
    int added_level;
    int64_t added_time_ns;
} log_seen;

static void on_log(void *ctx, const rh_log_record *r)
{
    log_seen *s = ctx;
    pthread_mutex_lock(&s->mu);
    s->n++;
    if (r->level < RH_LOG_WARN)
        s->n_below_warn++;
    if (strstr(r->msg, "added peer 4d (http://127.0.0.1:1)") /* 77 in hex */) {
        s->added++;
        s->added_local = r->local_id;
        s->added_peer = r->peer_id;
        s->added_level = r->level;
        s->added_time_ns = r->time_ns;
    }
    pthread_mutex_unlock(&s->mu);
}

static rh_transport *logging_transport(log_seen *seen, int level)
{
    static const char *listen[] = {"http://127.0.0.1:0"};
    rh_transport_config cfg = {.id = 0x5e, .cluster_id = CID, .listen = listen, .n_listen = 1,
                               .raft = {.process = process}, .probe_interval_ms = -1,
                               .log = on_log, .log_ctx = seen, .log_level = level};
    rh_transport *t = rh_transport_new(&cfg, NULL, 0);
    CHECK(t && rh_transport_start(t) == 0);
    const char *urls[] = {"http://127.0.0.1:1"}; /* nothing listens: dials fail, logged */
    rh_transport_add_peer(t, 77, urls, 1);
    return t;
}

static void log_callback_gets_the_lines(void)
{
    static log_seen seen = {.mu = PTHREAD_MUTEX_INITIALIZER};
    rh_transport *t = logging_transport(&seen, RH_LOG_DEBUG);
    for (int i = 0; i < 300; i++) {
        pthread_mutex_lock(&seen.mu);
        int done = seen.added && seen.n >= 3;
        pthread_mutex_unlock(&seen.mu);
        if (done)
            break;
        usleep(10000);
    }
    rh_transport_free(t);
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    int64_t now_ns = (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
    CHECK(seen.added == 1);
    CHECK(seen.n >= 3); /* the peer added, its failed dials, ... */
    CHECK(seen.added_level == RH_LOG_INFO);
    CHECK_EQ_U64(seen.added_local, 0x5e);
    CHECK_EQ_U64(seen.added_peer, 77);
    CHECK(seen.added_time_ns > now_ns - 60 * (int64_t)1000000000 && seen.added_time_ns <= now_ns);
    CHECK(strcmp(rh_log_level_name(RH_LOG_WARN), "warn") == 0);

    /* at RH_LOG_WARN, info and debug lines are not made */
    static log_seen warn = {.mu = PTHREAD_MUTEX_INITIALIZER};
    t = logging_transport(&warn, RH_LOG_WARN);
    for (int i = 0; i < 300; i++) {
        pthread_mutex_lock(&warn.mu);
        int n = warn.n;
        pthread_mutex_unlock(&warn.mu);
        if (n >= 1) /* a failed dial of a stream: WARN */
            break;
        usleep(10000);
    }
    rh_transport_free(t);
    CHECK(warn.n >= 1);
    CHECK(warn.n_below_warn == 0 && warn.added == 0);
}

/* struct_size: 0 and sizeof work, a caller's larger struct (a newer
 * header) is read up to what this library knows, an impossible size is
 * refused with a message. */
static void config_struct_size(void)
{
    static const char *listen[] = {"http://127.0.0.1:0"};
    union {
        rh_transport_config cfg;
        unsigned char bytes[sizeof(rh_transport_config) + 64];
    } u;
    memset(u.bytes, 0xab, sizeof(u.bytes)); /* fields of a "newer" header: ignored */
    memset(&u.cfg, 0, sizeof(u.cfg));
    u.cfg = (rh_transport_config){.struct_size = sizeof(u.bytes), .id = 0x51, .cluster_id = CID,
                                  .listen = listen, .n_listen = 1, .raft = {.process = process}};
    char err[256] = "";
    rh_transport *t = rh_transport_new(&u.cfg, err, sizeof(err));
    CHECK(t != NULL);
    rh_transport_free(t);
    u.cfg.struct_size = 0; /* the 0.1 layout */
    CHECK((t = rh_transport_new(&u.cfg, err, sizeof(err))) != NULL);
    rh_transport_free(t);
    rh_tls_config tls = {.struct_size = 4};
    u.cfg.tls = &tls;
    CHECK(rh_transport_new(&u.cfg, err, sizeof(err)) == NULL);
    CHECK(strstr(err, "rh_tls_config.struct_size is 4") != NULL);
    u.cfg.tls = NULL;
    u.cfg.struct_size = 8;
    CHECK(rh_transport_new(&u.cfg, err, sizeof(err)) == NULL);
    CHECK(strstr(err, "rh_transport_config.struct_size is 8, smaller than any") != NULL);
}

/* config.busy_poll_us: the loops poll without sleeping after a wake-up;
 * messages still arrive in order and both transports stop. */
static void busy_polling_delivers_and_stops(void)
{
    static inbox ja = {.mu = PTHREAD_MUTEX_INITIALIZER}, jb = {.mu = PTHREAD_MUTEX_INITIALIZER};
    busy_poll_us = 100;
    rh_transport *a = make(0x1a, 0, &ja, 20), *b = make(0x1b, 0, &jb, 20);
    busy_poll_us = 0;
    CHECK(start_pair(a, 0x1a, b, 0x1b));
    if (check_failures)
        return;
    enum { N = 3000 };
    static rh_msg hb[100];
    for (int i = 0; i < N; i += 100) {
        for (int k = 0; k < 100; k++)
            hb[k] = (rh_msg){.type = RH_MSG_HEARTBEAT, .to = 0x1b, .from = 0x1a, .term = 1,
                             .commit = (uint64_t)(i + k)};
        CHECK(rh_transport_send(a, hb, 100) == 0);
        sleep_ms(1); /* wake-ups close together: the loops poll */
    }
    CHECK(wait_count(&jb, N, 5000));
    size_t bad = 0;
    for (size_t i = 0; i < inbox_count(&jb) && i < N; i++)
        bad += jb.msgs[i]->commit != i;
    CHECK_EQ_U64(bad, 0);
    rh_transport_free(a);
    rh_transport_free(b);
    inbox_clear(&ja);
    inbox_clear(&jb);
}

int main(int argc, char **argv)
{
    int cycles = argc > 1 ? atoi(argv[1]) : 1000;
    TEST(streams_come_up_both_ways);
    TEST(every_type_arrives_in_order);
    TEST(msgapp_run_goes_over_msgappv2_in_order);
    TEST(sent_by_reference_until_done);
    TEST(many_referenced_entries_in_one_frame);
    TEST(restarted_peer_goes_inactive_then_active);
    TEST(pipeline_post_is_processed_with_204);
    TEST(pipeline_errors_match_etcd);
    TEST(unknown_sender_becomes_a_pipeline_remote);
    TEST(probes_metrics_and_limits);
    TEST(learned_remotes_are_bounded);
    TEST(snapshot_body_from_a_pipe);
    TEST(slow_peer_is_bounded_by_bytes_then_timed_out);
    TEST(receive_queue_is_bounded_by_bytes);
    TEST(slow_large_frame_is_not_a_read_timeout);
    TEST(log_callback_gets_the_lines);
    TEST(config_struct_size);
    TEST(busy_polling_delivers_and_stops);
    stop_with_traffic_in_flight(cycles);
    fprintf(stderr, "%s stop_with_traffic_in_flight (%d cycles)\n",
            check_failures ? "?" : "ok  ", cycles);
    churn_leaks_nothing(cycles);
    fprintf(stderr, "%s churn_leaks_nothing (%d cycles)\n", check_failures ? "?" : "ok  ",
            cycles);
    rh_transport_free(ta);
    rh_transport_free(tb);
    inbox_clear(&ia);
    inbox_clear(&ib);
    return CHECK_DONE();
}
